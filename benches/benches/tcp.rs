//! Benches for net-tcp end to end, two in-process hosts on an in-memory
//! Ethernet link with zero latency, in virtual time:
//!
//! - `tcp/conn_rr`: sequential connections, one per iteration: `connect()`,
//!   the three-way handshake, a 64-byte request, a 64-byte reply, the client
//!   closes, the server reads end of stream and closes, until the server's
//!   socket is CLOSE and the client's is in TIME_WAIT (what is left of a
//!   connection in Linux after both `close()`s). Every 1024 connections the
//!   hosts run 61 s of virtual time so `tcp_time_wait` sockets expire and
//!   release their ephemeral ports (32768–60999); that run is timed, spread
//!   over the 1024 connections.
//! - `tcp/bulk`: 16 MiB over one established connection, per iteration.
//!
//! Each beside smoltcp 0.14, the peer to beat, on the same kind of link (two
//! `VecDeque` queues behind a small `Device`), measured in the same run.
//! smoltcp's bulk sockets get linnet's effective buffers: a 16 KiB send
//! buffer and a 64 KiB window.
//!
//! Time is driven the same way for both: poll both hosts until neither has
//! work, check what the bench waits for, and only then jump the virtual
//! clock to the earliest pending timer. Wall-clock time is spent only on
//! processing; a delayed ACK or TIME_WAIT costs a clock jump, not a sleep.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use net_core::Errno;
use net_core::net_namespace::next_wakeup_ns;
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::POLLOUT;
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

const PORT: u16 = 80;
const RR: usize = 64;
const BULK: usize = 16 << 20;
/// Connections between two 61 s runs that expire TIME_WAIT.
const REAP_EVERY: u64 = 1024;

// -- linnet ------------------------------------------------------------------

/// Two linnet hosts with TCP on a zero-latency hub.
fn linnet_lab() -> TwoHosts {
    let lab = TwoHosts::new(0);
    inet_init(&lab.a);
    inet_init(&lab.b);
    lab
}

/// Poll both hosts until `done` holds, jumping the clock to the next event
/// whenever both are idle.
fn drive(lab: &TwoHosts, mut done: impl FnMut() -> bool) {
    for _ in 0..10_000_000u32 {
        while lab.a.poll() + lab.b.poll() > 0 {}
        if done() {
            return;
        }
        let next = [lab.a.next_event_ns(), lab.b.next_event_ns()]
            .into_iter()
            .flatten()
            .min()
            .expect("waiting with nothing pending: linnet is stuck");
        lab.clock.set_ns(next_wakeup_ns(lab.clock.now_ns(), next));
    }
    panic!("linnet never got there");
}

/// Receive into `got` until it holds `want` bytes.
fn recv_into(s: &TcpSocket, buf: &mut [u8], got: &mut usize) -> Result<(), Errno> {
    loop {
        match s.recv(&mut buf[*got..]) {
            Ok(0) => return Err(Errno::ECONNRESET),
            Ok(n) => *got += n,
            Err(e) => return Err(e),
        }
        if *got == buf.len() {
            return Ok(());
        }
    }
}

fn linnet_listener(lab: &TwoHosts) -> TcpSocket {
    let l = TcpSocket::new(&lab.b).expect("socket");
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
    l.listen(128).expect("listen");
    l
}

/// One connection: connect, 64 B request, 64 B reply, close both.
fn linnet_conn_rr(lab: &TwoHosts, l: &TcpSocket) {
    let (c, s) = linnet_connect(lab, l);
    assert_eq!(c.send(&[0x5a; RR]), Ok(RR));
    let (mut buf, mut got) = ([0u8; RR], 0);
    drive(lab, || recv_into(&s, &mut buf, &mut got).is_ok());
    assert_eq!(s.send(&buf), Ok(RR));
    got = 0;
    drive(lab, || recv_into(&c, &mut buf, &mut got).is_ok());
    black_box(&buf);

    let (csk, ssk) = (c.sock().clone(), s.sock().clone());
    drop(c); // FIN_WAIT1
    drive(lab, || s.recv(&mut buf) == Ok(0));
    drop(s); // LAST_ACK
    drive(lab, || csk.sk_state() == TcpState::TimeWait && ssk.sk_state() == TcpState::Close);
}

/// A connected pair (client on a, accepted child on b), both non-blocking.
fn linnet_connect(lab: &TwoHosts, l: &TcpSocket) -> (TcpSocket, TcpSocket) {
    let c = TcpSocket::new(&lab.a).expect("socket");
    c.set_nonblocking(true);
    assert_eq!(c.connect(SocketAddrV4::new(TwoHosts::B, PORT)), Err(Errno::EINPROGRESS));
    let mut child = None;
    drive(lab, || {
        if child.is_none() {
            child = l.accept().ok();
        }
        child.is_some() && c.poll() & POLLOUT != 0
    });
    let (s, _) = child.expect("accepted");
    s.set_nonblocking(true);
    (c, s)
}

/// Move `data` from `c` to `s`, reading into `buf`.
fn linnet_bulk(lab: &TwoHosts, c: &TcpSocket, s: &TcpSocket, data: &[u8], buf: &mut [u8]) {
    let (mut sent, mut got) = (0, 0);
    for _ in 0..100_000_000u32 {
        let mut progress = 0;
        if sent < data.len() {
            if let Ok(n) = c.send(&data[sent..]) {
                sent += n;
                progress += n;
            }
        }
        progress += lab.a.poll() + lab.b.poll();
        while let Ok(n) = s.recv(buf) {
            assert!(n > 0, "end of stream in the middle of bulk");
            got += n;
            progress += n;
        }
        if got == data.len() {
            assert_eq!(sent, got);
            return;
        }
        if progress == 0 {
            let next = [lab.a.next_event_ns(), lab.b.next_event_ns()]
                .into_iter()
                .flatten()
                .min()
                .expect("bulk stalled with nothing pending");
            lab.clock.set_ns(next_wakeup_ns(lab.clock.now_ns(), next));
        }
    }
    panic!("linnet bulk never finished: sent {sent}, got {got}");
}

// -- smoltcp -----------------------------------------------------------------

mod smol {
    use super::*;
    use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
    use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant;
    use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

    type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

    /// One end of an in-memory Ethernet cable: frames sent go to the
    /// other end's receive queue, with zero latency.
    pub struct Port {
        rx: Queue,
        tx: Queue,
    }

    pub struct Rx(Vec<u8>);
    pub struct Tx<'a>(&'a Queue);

    impl phy::RxToken for Rx {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            f(&self.0)
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut frame = vec![0u8; len];
            let r = f(&mut frame);
            self.0.borrow_mut().push_back(frame);
            r
        }
    }

    impl Device for Port {
        type RxToken<'a> = Rx;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
            let frame = self.rx.borrow_mut().pop_front()?;
            Some((Rx(frame), Tx(&self.tx)))
        }

        fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
            Some(Tx(&self.tx))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ethernet;
            caps.max_transmission_unit = 1514;
            caps
        }
    }

    pub struct Host {
        pub iface: Interface,
        pub dev: Port,
        pub sockets: SocketSet<'static>,
    }

    /// Two smoltcp hosts, 10.0.0.1 and 10.0.0.2, and a virtual clock.
    pub struct Lab {
        pub now: Instant,
        pub a: Host,
        pub b: Host,
    }

    impl Lab {
        pub fn new() -> Lab {
            let (q1, q2): (Queue, Queue) = (Rc::default(), Rc::default());
            let now = Instant::from_secs(1);
            let host = |mac: u8, addr: Ipv4Addr, rx: &Queue, tx: &Queue| {
                let mut dev = Port { rx: rx.clone(), tx: tx.clone() };
                let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([2, 0, 0, 0, 0, mac])));
                cfg.random_seed = mac as u64;
                let mut iface = Interface::new(cfg, &mut dev, now);
                iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::Ipv4(addr), 24)).expect("addr"));
                Host { iface, dev, sockets: SocketSet::new(Vec::new()) }
            };
            let a = host(1, TwoHosts::A, &q1, &q2);
            let b = host(2, TwoHosts::B, &q2, &q1);
            Lab { now, a, b }
        }

        /// Poll both until no frame is in flight.
        pub fn settle(&mut self) -> bool {
            let mut changed = false;
            loop {
                let ra = self.a.iface.poll(self.now, &mut self.a.dev, &mut self.a.sockets);
                let rb = self.b.iface.poll(self.now, &mut self.b.dev, &mut self.b.sockets);
                changed |= ra == PollResult::SocketStateChanged || rb == PollResult::SocketStateChanged;
                if self.a.dev.rx.borrow().is_empty() && self.b.dev.rx.borrow().is_empty() {
                    return changed;
                }
            }
        }

        /// Jump the clock to the earliest time either host wants polling
        /// (at least 1 µs on).
        pub fn advance(&mut self) {
            let next = [
                self.a.iface.poll_at(self.now, &self.a.sockets),
                self.b.iface.poll_at(self.now, &self.b.sockets),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("waiting with nothing pending: smoltcp is stuck");
            self.now = next.max(self.now + smoltcp::time::Duration::from_micros(1));
        }

        pub fn drive(&mut self, mut done: impl FnMut(&mut Lab) -> bool) {
            for _ in 0..10_000_000u32 {
                self.settle();
                if done(self) {
                    return;
                }
                self.advance();
            }
            panic!("smoltcp never got there");
        }

        pub fn listener(&mut self, rx: usize, tx: usize) -> SocketHandle {
            let mut s =
                tcp::Socket::new(tcp::SocketBuffer::new(vec![0; rx]), tcp::SocketBuffer::new(vec![0; tx]));
            s.listen(PORT).expect("listen");
            self.b.sockets.add(s)
        }

        pub fn connect(&mut self, lport: u16, rx: usize, tx: usize) -> SocketHandle {
            let mut s =
                tcp::Socket::new(tcp::SocketBuffer::new(vec![0; rx]), tcp::SocketBuffer::new(vec![0; tx]));
            s.connect(self.a.iface.context(), (IpAddress::Ipv4(TwoHosts::B), PORT), lport).expect("connect");
            let h = self.a.sockets.add(s);
            self.drive(|l| {
                l.a.sockets.get::<tcp::Socket<'_>>(h).state() == tcp::State::Established
                    && l.b.sockets.get::<tcp::Socket<'_>>(h_srv(l)).state() == tcp::State::Established
            });
            h
        }
    }

    /// The one server socket on b (the first added).
    fn h_srv(l: &Lab) -> SocketHandle {
        l.b.sockets.iter().next().expect("a listener").0
    }

    fn recv_into(s: &mut tcp::Socket<'_>, buf: &mut [u8], got: &mut usize) -> bool {
        while *got < buf.len() {
            match s.recv_slice(&mut buf[*got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => *got += n,
            }
        }
        *got == buf.len()
    }

    /// One connection, as `linnet_conn_rr`. The listening socket is the
    /// connection in smoltcp (no accept queue): it listens again after.
    pub fn conn_rr(lab: &mut Lab, srv: SocketHandle, lport: u16) {
        let c = lab.connect(lport, 4096, 4096);
        assert_eq!(lab.a.sockets.get_mut::<tcp::Socket<'_>>(c).send_slice(&[0x5a; RR]), Ok(RR));
        let (mut buf, mut got) = ([0u8; RR], 0);
        lab.drive(|l| recv_into(l.b.sockets.get_mut(srv), &mut buf, &mut got));
        assert_eq!(lab.b.sockets.get_mut::<tcp::Socket<'_>>(srv).send_slice(&buf), Ok(RR));
        got = 0;
        lab.drive(|l| recv_into(l.a.sockets.get_mut(c), &mut buf, &mut got));
        black_box(&buf);

        lab.a.sockets.get_mut::<tcp::Socket<'_>>(c).close();
        lab.drive(|l| l.b.sockets.get::<tcp::Socket<'_>>(srv).state() == tcp::State::CloseWait);
        lab.b.sockets.get_mut::<tcp::Socket<'_>>(srv).close();
        lab.drive(|l| {
            l.a.sockets.get::<tcp::Socket<'_>>(c).state() == tcp::State::TimeWait
                && l.b.sockets.get::<tcp::Socket<'_>>(srv).state() == tcp::State::Closed
        });
        lab.a.sockets.remove(c);
        lab.b.sockets.get_mut::<tcp::Socket<'_>>(srv).listen(PORT).expect("listen again");
    }

    pub fn bulk(lab: &mut Lab, c: SocketHandle, s: SocketHandle, data: &[u8], buf: &mut [u8]) {
        let (mut sent, mut got) = (0, 0);
        for _ in 0..100_000_000u32 {
            let mut progress = 0;
            if sent < data.len() {
                let n = lab.a.sockets.get_mut::<tcp::Socket<'_>>(c).send_slice(&data[sent..]).expect("send");
                sent += n;
                progress += n;
            }
            let changed = lab.settle();
            let sk = lab.b.sockets.get_mut::<tcp::Socket<'_>>(s);
            while let Ok(n @ 1..) = sk.recv_slice(buf) {
                got += n;
                progress += n;
            }
            if got == data.len() {
                return;
            }
            if progress == 0 && !changed {
                lab.advance();
            }
        }
        panic!("smoltcp bulk never finished: sent {sent}, got {got}");
    }
}

// -- the benches ---------------------------------------------------------------

fn conn_rr(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));

    let lab = linnet_lab();
    let l = linnet_listener(&lab);
    let mut n = 0u64;
    g.bench_function("conn_rr", |b| {
        b.iter(|| {
            linnet_conn_rr(&lab, &l);
            n += 1;
            if n % REAP_EVERY == 0 {
                lab.run_ms(61_000); // TIME_WAIT expires: ports come back
            }
        })
    });
    drop(l);
    println!("tcp/conn_rr: linnet ran {n} connections in {} s virtual", lab.clock.now_ns() / 1_000_000_000);

    let mut lab = smol::Lab::new();
    let srv = lab.listener(4096, 4096);
    let mut n = 0u32;
    g.bench_function("peer:smoltcp/conn_rr", |b| {
        b.iter(|| {
            smol::conn_rr(&mut lab, srv, 49152 + (n % 16384) as u16);
            n += 1;
        })
    });
    g.finish();
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(BULK as u64));
    let data: Vec<u8> = (0..BULK as u32).map(|i| (i ^ (i >> 8)) as u8).collect();
    let mut buf = vec![0u8; 65536];

    let lab = linnet_lab();
    let l = linnet_listener(&lab);
    let (cs, ss) = linnet_connect(&lab, &l);
    g.bench_function("bulk", |b| b.iter(|| linnet_bulk(&lab, &cs, &ss, &data, &mut buf)));
    let info = cs.tcp_info();
    println!("tcp/bulk: linnet sender {info:?}");

    let mut lab = smol::Lab::new();
    // linnet's effective buffers: tcp_wmem[1] (no sndbuf autotuning yet)
    // and a 64 KiB window (no window scaling yet).
    let srv = lab.listener(65535, 16384);
    let cl = lab.connect(49152, 65535, 16384);
    g.bench_function("peer:smoltcp/bulk", |b| b.iter(|| smol::bulk(&mut lab, cl, srv, &data, &mut buf)));
    g.finish();
}

criterion_group!(benches, conn_rr, bulk);
criterion_main!(benches);
