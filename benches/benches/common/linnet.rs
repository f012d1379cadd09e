//! linnet's side of the TCP benches that run two hosts: both on a
//! zero-latency hub ([`TwoHosts`]), in virtual time, driven the way the
//! smoltcp peer is ([`smol`](super::smol)): poll both hosts until neither
//! has work, check what the bench waits for, and only then jump the clock
//! to the earliest pending timer. Included with
//! `#[path = "common/linnet.rs"] mod linnet;`.

// Not every bench uses every helper.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::Errno;
use net_core::net_namespace::next_wakeup_ns;
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::{POLLOUT, TcpNet};
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
