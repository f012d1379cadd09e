//! SO_REUSEPORT through the socket calls: two listeners on one port, in
//! virtual time on two linnet hosts. Checked against Linux 6.18 in a
//! network namespace (python sockets on lo): 40 connects to two
//! SO_REUSEPORT listeners were accepted 20 and 20; after one closed, the
//! other accepted all 40 that followed; a third listener bound to the
//! device (a better score) accepted none, because the group's pick is
//! returned at the first match (`inet_lhash2_lookup()`).

use std::net::{Ipv4Addr, SocketAddrV4};

use net_core::Errno;
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::{SO_REUSEPORT, SOL_SOCKET};
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

fn lab() -> TwoHosts {
    let lab = TwoHosts::new(50_000);
    inet_init(&lab.a);
    inet_init(&lab.b);
    lab
}

fn reuseport_listener(lab: &TwoHosts, port: u16) -> TcpSocket {
    let s = TcpSocket::new(&lab.b).unwrap();
    s.set_nonblocking(true);
    s.setsockopt_int(SOL_SOCKET, SO_REUSEPORT, 1).unwrap();
    s.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).unwrap();
    s.listen(128).unwrap();
    s
}

/// `n` clients connect to B:port; returns them once the handshakes are done.
fn connect_many(lab: &TwoHosts, port: u16, n: usize) -> Vec<TcpSocket> {
    let cs: Vec<_> = (0..n)
        .map(|_| {
            let c = TcpSocket::new(&lab.a).unwrap();
            c.set_nonblocking(true);
            assert_eq!(c.connect(SocketAddrV4::new(TwoHosts::B, port)), Err(Errno::EINPROGRESS));
            c
        })
        .collect();
    lab.run_ms(20);
    for c in &cs {
        assert_eq!(c.state(), TcpState::Established);
    }
    cs
}

/// Accept until EAGAIN; the children's peer ports.
fn accept_all(l: &TcpSocket) -> Vec<u16> {
    let mut ports = Vec::new();
    loop {
        match l.accept() {
            Ok((_child, peer)) => ports.push(peer.port()),
            Err(e) => {
                assert_eq!(e, Errno::EAGAIN);
                return ports;
            }
        }
    }
}

#[test]
fn two_listeners_share_a_port_and_both_accept() {
    let lab = lab();
    let (l1, l2) = (reuseport_listener(&lab, 8080), reuseport_listener(&lab, 8080));
    // Without SO_REUSEPORT the port is taken.
    let plain = TcpSocket::new(&lab.b).unwrap();
    assert_eq!(plain.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8080)), Err(Errno::EADDRINUSE));

    let _cs = connect_many(&lab, 8080, 64);
    let (a1, a2) = (accept_all(&l1), accept_all(&l2));
    assert_eq!(a1.len() + a2.len(), 64);
    // 32 each expected; standard deviation 4.
    assert!((16..=48).contains(&a1.len()), "l1 accepted {} of 64", a1.len());
    assert!(a1.iter().all(|p| !a2.contains(p)), "each connection once");
}

#[test]
fn closing_a_listener_leaves_the_other_serving() {
    let lab = lab();
    let (l1, l2) = (reuseport_listener(&lab, 8080), reuseport_listener(&lab, 8080));
    let _first = connect_many(&lab, 8080, 16);
    assert_eq!(accept_all(&l1).len() + accept_all(&l2).len(), 16);
    drop(l1); // close()
    let _more = connect_many(&lab, 8080, 32);
    assert_eq!(accept_all(&l2).len(), 32, "the survivor takes every new connection");
    // And the port can be listened on again by a new member.
    let l3 = reuseport_listener(&lab, 8080);
    let _last = connect_many(&lab, 8080, 32);
    let (a2, a3) = (accept_all(&l2).len(), accept_all(&l3).len());
    assert_eq!(a2 + a3, 32);
    assert!(a2 > 0 && a3 > 0, "both serve: {a2} and {a3}");
}
