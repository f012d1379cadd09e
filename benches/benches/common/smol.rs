//! smoltcp 0.14, the peer the TCP benches measure in the same run: two
//! hosts on an in-memory Ethernet cable (two `VecDeque` queues behind a
//! small `Device`) with zero latency, in virtual time, and the sequences
//! the benches time. Included with `#[path = "common/smol.rs"] mod smol;`
//! (no Linux twin: this is the peer, not the stack).

// Not every bench uses every sequence.
#![allow(dead_code)]

/// The server's port.
pub const PORT: u16 = 80;
/// Request and reply size of [`conn_rr`].
pub const RR: usize = 64;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::rc::Rc;

use net_ipv4::testlink::TwoHosts;
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

/// Frames on their way, each with the time it arrives.
type Queue = Rc<RefCell<VecDeque<(Instant, Vec<u8>)>>>;

/// How a cable behaves, both directions alike. The default is what every
/// bench but the loss bench uses: IP MTU 1500, zero latency, no loss.
#[derive(Clone, Copy, Debug)]
pub struct LinkModel {
    /// IP MTU (smoltcp's `max_transmission_unit` is this plus the 14-byte
    /// Ethernet header).
    pub mtu: usize,
    /// One-way latency.
    pub latency: smoltcp::time::Duration,
    /// Probability that a frame is lost, 0.0 to 1.0 (independent, as
    /// netem's `loss random`).
    pub loss: f64,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel { mtu: 1500, latency: smoltcp::time::Duration::ZERO, loss: 0.0 }
    }
}

/// One end of an in-memory Ethernet cable: frames sent go to the
/// other end's receive queue after the link's latency, unless lost.
pub struct Port {
    rx: Queue,
    tx: Queue,
    link: LinkModel,
    /// The loss draw's state (xorshift64*), seeded per port.
    rng: Rc<RefCell<u64>>,
    /// Frames this port's sender lost.
    pub lost: Rc<RefCell<u64>>,
}

pub struct Rx(Vec<u8>);
pub struct Tx<'a> {
    q: &'a Queue,
    at: Instant,
    drop: bool,
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        if !self.drop {
            self.q.borrow_mut().push_back((self.at, frame));
        }
        r
    }
}

impl Port {
    fn tx_token(&self, now: Instant) -> Tx<'_> {
        let drop = self.link.loss > 0.0 && {
            let mut x = self.rng.borrow_mut();
            *x ^= *x >> 12;
            *x ^= *x << 25;
            *x ^= *x >> 27;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
            (r as f64 / (1u64 << 53) as f64) < self.link.loss
        };
        if drop {
            *self.lost.borrow_mut() += 1;
        }
        Tx { q: &self.tx, at: now + self.link.latency, drop }
    }

    /// When the first frame waiting for this port arrives.
    fn next_rx(&self) -> Option<Instant> {
        self.rx.borrow().front().map(|(at, _)| *at)
    }
}

impl Device for Port {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, now: Instant) -> Option<(Rx, Tx<'_>)> {
        let mut q = self.rx.borrow_mut();
        if q.front().is_none_or(|(at, _)| *at > now) {
            return None;
        }
        let (_, frame) = q.pop_front().expect("front checked");
        drop(q);
        Some((Rx(frame), self.tx_token(now)))
    }

    fn transmit(&mut self, now: Instant) -> Option<Tx<'_>> {
        Some(self.tx_token(now))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.link.mtu + 14;
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
    /// The congestion control new sockets get. `None` (smoltcp's default
    /// when built without `socket-tcp-reno`/`socket-tcp-cubic`) unless a
    /// bench says otherwise: what the TCP benches measured before the
    /// loss bench enabled those features.
    pub cc: tcp::CongestionControl,
    pub a: Host,
    pub b: Host,
}

impl Lab {
    pub fn new() -> Lab {
        Lab::with_link(LinkModel::default(), 0)
    }

    /// Two hosts on a cable that behaves as `link`, loss drawn from `seed`.
    pub fn with_link(link: LinkModel, seed: u64) -> Lab {
        let (q1, q2): (Queue, Queue) = (Rc::default(), Rc::default());
        let now = Instant::from_secs(1);
        let host = |mac: u8, addr: Ipv4Addr, rx: &Queue, tx: &Queue| {
            let rng = Rc::new(RefCell::new((seed ^ u64::from(mac)).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1));
            let mut dev = Port { rx: rx.clone(), tx: tx.clone(), link, rng, lost: Rc::default() };
            let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([2, 0, 0, 0, 0, mac])));
            cfg.random_seed = mac as u64;
            let mut iface = Interface::new(cfg, &mut dev, now);
            iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::Ipv4(addr), 24)).expect("addr"));
            Host { iface, dev, sockets: SocketSet::new(Vec::new()) }
        };
        let a = host(1, TwoHosts::A, &q1, &q2);
        let b = host(2, TwoHosts::B, &q2, &q1);
        Lab { now, cc: tcp::CongestionControl::None, a, b }
    }

    /// Poll both until no frame is due (with zero latency: until no frame
    /// is in flight).
    pub fn settle(&mut self) -> bool {
        let mut changed = false;
        loop {
            let ra = self.a.iface.poll(self.now, &mut self.a.dev, &mut self.a.sockets);
            let rb = self.b.iface.poll(self.now, &mut self.b.dev, &mut self.b.sockets);
            changed |= ra == PollResult::SocketStateChanged || rb == PollResult::SocketStateChanged;
            let due = |d: &Port| d.next_rx().is_some_and(|at| at <= self.now);
            if !due(&self.a.dev) && !due(&self.b.dev) {
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
            self.a.dev.next_rx(),
            self.b.dev.next_rx(),
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
        s.set_congestion_control(self.cc);
        s.listen(PORT).expect("listen");
        self.b.sockets.add(s)
    }

    pub fn connect(&mut self, lport: u16, rx: usize, tx: usize) -> SocketHandle {
        let mut s =
            tcp::Socket::new(tcp::SocketBuffer::new(vec![0; rx]), tcp::SocketBuffer::new(vec![0; tx]));
        s.set_congestion_control(self.cc);
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

/// Move `total` bytes from `c` (on a) to `s` (on b), as
/// `linnet_stream`: the application sends from `data` over and over and
/// reads into `buf`.
pub fn stream(lab: &mut Lab, c: SocketHandle, s: SocketHandle, total: u64, data: &[u8], buf: &mut [u8]) {
    let (mut sent, mut got) = (0u64, 0u64);
    for _ in 0..1_000_000_000u64 {
        let mut progress = 0;
        let cs = lab.a.sockets.get_mut::<tcp::Socket<'_>>(c);
        while sent < total {
            let off = (sent % data.len() as u64) as usize;
            let want = ((total - sent) as usize).min(data.len() - off);
            match cs.send_slice(&data[off..off + want]) {
                Ok(n @ 1..) => {
                    sent += n as u64;
                    progress += n;
                }
                _ => break,
            }
        }
        let changed = lab.settle();
        let sk = lab.b.sockets.get_mut::<tcp::Socket<'_>>(s);
        while let Ok(n @ 1..) = sk.recv_slice(buf) {
            got += n as u64;
            progress += n;
        }
        if got == total {
            return;
        }
        if progress == 0 && !changed {
            lab.advance();
        }
    }
    panic!("smoltcp transfer never finished: sent {sent}, got {got}");
}
