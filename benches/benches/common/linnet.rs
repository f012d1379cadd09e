//! linnet's side of the TCP benches that run two hosts: both on a
//! zero-latency hub ([`TwoHosts`]), in virtual time, driven the way the
//! smoltcp peer is ([`smol`](super::smol)): poll both hosts until neither
//! has work, check what the bench waits for, and only then jump the clock
//! to the earliest pending timer. Included with
//! `#[path = "common/linnet.rs"] mod linnet;`.

// Not every bench uses every helper.
#![allow(dead_code)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::Errno;
use net_core::net_namespace::next_wakeup_ns;
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::{POLLOUT, TcpNet};
use net_tcp::inet_timewait_sock::inet_sk_diag_state;
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

/// The server's port.
pub const PORT: u16 = 80;

/// Two linnet hosts with TCP on a zero-latency hub; and a's TCP state.
pub fn linnet_lab() -> (TwoHosts, Arc<TcpNet>) {
    let lab = TwoHosts::new(0);
    let ta = inet_init(&lab.a);
    inet_init(&lab.b);
    (lab, ta)
}

/// Poll both hosts until `done` holds, jumping the clock to the next event
/// whenever both are idle.
pub fn drive(lab: &TwoHosts, mut done: impl FnMut() -> bool) {
    for _ in 0..10_000_000u32 {
        while lab.a.poll() + lab.b.poll() > 0 {}
        if done() {
            return;
        }
        jump_to_next_event(lab, "waiting with nothing pending: linnet is stuck");
    }
    panic!("linnet never got there");
}

/// With both hosts idle, move the clock to the earliest pending event of
/// either; panics with `stuck` if there is none.
pub fn jump_to_next_event(lab: &TwoHosts, stuck: &str) {
    let next = [lab.a.next_event_ns(), lab.b.next_event_ns()].into_iter().flatten().min().expect(stuck);
    lab.clock.set_ns(next_wakeup_ns(lab.clock.now_ns(), next));
}

/// b listens on [`PORT`], non-blocking, backlog 128.
pub fn linnet_listener(lab: &TwoHosts) -> TcpSocket {
    let l = TcpSocket::new(&lab.b).expect("socket");
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
    l.listen(128).expect("listen");
    l
}

/// A connected pair (client on a, the child `accept()`ed on b), both
/// non-blocking; the client bound to `lport` first if one is given.
pub fn linnet_connect(lab: &TwoHosts, l: &TcpSocket, lport: Option<u16>) -> (TcpSocket, TcpSocket) {
    let c = TcpSocket::new(&lab.a).expect("socket");
    c.set_nonblocking(true);
    if let Some(p) = lport {
        c.bind(SocketAddrV4::new(TwoHosts::A, p)).expect("bind the client");
    }
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

/// Two linnet hosts with TCP, as [`linnet_lab`] builds them, but on a hub
/// whose ports have MTU `mtu` (1500 is [`linnet_lab`]'s; 65536 is Linux's
/// `lo`), with `latency_ns` one-way latency.
pub fn linnet_lab_mtu(mtu: u32, latency_ns: u64) -> (TwoHosts, Arc<TcpNet>) {
    let clock = net_core::Clock::new_virtual_at(1_000_000_000);
    let hub = net_ipv4::testlink::Hub::new(&clock, latency_ns);
    let host = |name: &str, mac: u8, addr: Ipv4Addr, seed: u64| {
        let net = net_core::Net::new(name, clock.clone(), seed);
        let ipv4 = net_ipv4::ipv4_init(&net);
        let port = hub.port("eth0", [0x02, 0, 0, 0, 0, mac]).with_mtu(mtu);
        let dev = net.register_netdev(Box::new(port)).expect("register the hub port");
        dev.open().expect("open the hub port");
        assert_eq!(dev.mtu(), mtu, "the device took the MTU asked for");
        net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, addr, 24).expect("address");
        (net, ipv4)
    };
    let (a, a4) = host("a", 1, TwoHosts::A, 1);
    let (b, b4) = host("b", 2, TwoHosts::B, 2);
    let lab = TwoHosts { clock, a, b, a4, b4 };
    lab.run_ms(10);
    let ta = inet_init(&lab.a);
    inet_init(&lab.b);
    (lab, ta)
}

/// Turn GRO and GSO on or off on both hosts' `eth0` (`ethtool -K eth0
/// gro on gso on`): see `net_core::gro` and `net_core::gso`. A socket
/// notices GSO when it next looks its route up (within a second).
pub fn set_offloads(lab: &TwoHosts, on: bool) {
    for net in [&lab.a, &lab.b] {
        let dev = net.dev_get_by_name("eth0").expect("eth0");
        dev.set_gro(on);
        dev.set_gso(on);
    }
}

/// Two linnet hosts with TCP on a net-dev [`Wire`](net_dev::veth::Wire)
/// (a veth pair) whose directions both behave as `params` (delay, netem
/// loss…), netem drawing from `seed`.
pub fn linnet_lab_wire(params: &net_dev::veth::LinkParams, seed: u64) -> (TwoHosts, Arc<TcpNet>) {
    let clock = net_core::Clock::new_virtual_at(1_000_000_000);
    let (ea, eb) = net_dev::veth::Wire::pair_with(
        clock.clone(),
        ("eth0", [0x02, 0, 0, 0, 0, 1]),
        ("eth0", [0x02, 0, 0, 0, 0, 2]),
        params,
        seed,
    );
    let host = |name: &str, end: net_dev::veth::WireEnd, addr: Ipv4Addr, seed: u64| {
        let net = net_core::Net::new(name, clock.clone(), seed);
        let ipv4 = net_ipv4::ipv4_init(&net);
        let dev = net.register_netdev(Box::new(end)).expect("register the wire end");
        dev.open().expect("open the wire end");
        net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, addr, 24).expect("address");
        (net, ipv4)
    };
    let (a, a4) = host("a", ea, TwoHosts::A, 1);
    let (b, b4) = host("b", eb, TwoHosts::B, 2);
    let lab = TwoHosts { clock, a, b, a4, b4 };
    lab.run_ms(1000);
    let ta = inet_init(&lab.a);
    inet_init(&lab.b);
    (lab, ta)
}

/// Move `total` bytes from `c` to `s`: the application sends from `data`
/// over and over and reads into `buf`, as a program copying in and out of
/// its own buffers does.
pub fn linnet_stream(lab: &TwoHosts, c: &TcpSocket, s: &TcpSocket, total: u64, data: &[u8], buf: &mut [u8]) {
    let (mut sent, mut got) = (0u64, 0u64);
    for _ in 0..1_000_000_000u64 {
        let mut progress = 0;
        while sent < total {
            let off = (sent % data.len() as u64) as usize;
            let want = ((total - sent) as usize).min(data.len() - off);
            match c.send(&data[off..off + want]) {
                Ok(n) if n > 0 => {
                    sent += n as u64;
                    progress += n;
                }
                _ => break,
            }
        }
        progress += lab.a.poll() + lab.b.poll();
        while let Ok(n) = s.recv(buf) {
            assert!(n > 0, "end of stream in the middle of a transfer");
            got += n as u64;
            progress += n;
        }
        if got == total {
            assert_eq!(sent, got);
            return;
        }
        if progress == 0 {
            jump_to_next_event(lab, "transfer stalled with nothing pending");
        }
    }
    panic!("linnet transfer never finished: sent {sent}, got {got}");
}

/// What a linnet connection effectively used, to give smoltcp the same.
pub struct Effective {
    /// The receive window the receiver grew to (`rcv_ssthresh`), bytes.
    pub window: usize,
    /// The sender's `sk_sndbuf` (after `tcp_sndbuf_expand()`).
    pub sndbuf: usize,
    /// Both ends' `TCP_INFO` figures that matter here, printable.
    pub info: String,
}

/// Read [`Effective`] from a sender `c` and a receiver `s`.
pub fn effective(c: &TcpSocket, s: &TcpSocket) -> Effective {
    use net_tcp::af_inet::{SO_RCVBUF, SO_SNDBUF, SOL_SOCKET};
    let (ci, si) = (c.tcp_info(), s.tcp_info());
    let sndbuf = c.getsockopt_int(SOL_SOCKET, SO_SNDBUF).expect("SO_SNDBUF") as usize;
    let rcvbuf = s.getsockopt_int(SOL_SOCKET, SO_RCVBUF).expect("SO_RCVBUF") as usize;
    let info = format!(
        "snd_mss {} advmss {} wscale {}/{} cwnd {} retrans {} | receiver SO_RCVBUF {rcvbuf} rcv_ssthresh {} \
         | sender SO_SNDBUF {sndbuf}",
        ci.tcpi_snd_mss,
        si.tcpi_advmss,
        ci.tcpi_snd_wscale,
        si.tcpi_rcv_wscale,
        ci.tcpi_snd_cwnd,
        ci.tcpi_total_retrans,
        si.tcpi_rcv_ssthresh,
    );
    Effective { window: si.tcpi_rcv_ssthresh as usize, sndbuf, info }
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

// ANCHOR: linnet_conn_rr
/// One connection of `tcp/conn_rr`: connect, 64 B request, 64 B reply, close both.
pub fn linnet_conn_rr(lab: &TwoHosts, l: &TcpSocket) {
    const RR: usize = 64;
    let (c, s) = linnet_connect(lab, l, None);
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
    // The client's full socket is CLOSE once its timewait sock holds the
    // four-tuple (tcp_time_wait()); `ss` shows TIME-WAIT for it.
    drive(lab, || {
        ssk.sk_state() == TcpState::Close && inet_sk_diag_state(&lab.a, &csk) == TcpState::TimeWait
    });
}
// ANCHOR_END: linnet_conn_rr
