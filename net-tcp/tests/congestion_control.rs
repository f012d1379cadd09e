//! Pluggable congestion control: the `net.ipv4.tcp_congestion_control`
//! sysctl, `TCP_CONGESTION`, and the registry (`tcp_register_congestion_control`).
//!
//! Linux facts these follow (net/ipv4/tcp_cong.c, tcp.c, sysctl_net_ipv4.c of
//! 6.18), checked on this machine's 6.18 kernel in a namespace with Python
//! sockets and sysctl(8): an unknown name is refused with `ENOENT` by both
//! the sysctl ("No such file or directory") and the socket option;
//! `getsockopt(TCP_CONGESTION)` copies the name NUL-padded to
//! `TCP_CA_NAME_MAX` (16), truncated to the caller's length (2 bytes give
//! "re"); a NUL ends the name set; `tcp_available_congestion_control`
//! cannot be opened for writing (`EACCES`); a new socket takes the
//! namespace's default. From the source only: the algorithm's `init()`
//! runs when the connection is established.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};

use net_core::Errno;
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::{SOL_TCP, TCP_CONGESTION};
use net_tcp::sock::TcpSk;
use net_tcp::tcp_cong::{TCP_RENO, TcpCongestionOps, tcp_ca_find, tcp_register_congestion_control};
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

/// Reno under another name, counting `init()` calls.
struct Counted;
static INITS: AtomicU32 = AtomicU32::new(0);
static COUNTED: Counted = Counted;

impl TcpCongestionOps for Counted {
    fn name(&self) -> &'static str {
        "h1counted"
    }
    fn init(&self, _tp: &mut TcpSk) {
        INITS.fetch_add(1, Ordering::Relaxed);
    }
    fn ssthresh(&self, tp: &mut TcpSk) -> u32 {
        TCP_RENO.ssthresh(tp)
    }
    fn cong_avoid(&self, tp: &mut TcpSk, ack: u32, acked: u32) {
        TCP_RENO.cong_avoid(tp, ack, acked)
    }
    fn undo_cwnd(&self, tp: &TcpSk) -> u32 {
        TCP_RENO.undo_cwnd(tp)
    }
}

fn register_counted() {
    match tcp_register_congestion_control(&COUNTED) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => panic!("register: {e:?}"),
    }
}

fn ca_name(s: &TcpSocket) -> String {
    let mut buf = [0xffu8; 16];
    assert_eq!(s.getsockopt(SOL_TCP, TCP_CONGESTION, &mut buf), Ok(16));
    let end = buf.iter().position(|&b| b == 0).expect("NUL-terminated");
    assert!(buf[end..].iter().all(|&b| b == 0), "NUL-padded to TCP_CA_NAME_MAX: {buf:?}");
    String::from_utf8(buf[..end].to_vec()).unwrap()
}

#[test]
fn tcp_congestion_sets_and_gets_by_name() {
    register_counted();
    let lab = TwoHosts::new(50_000);
    inet_init(&lab.a);
    let s = TcpSocket::new(&lab.a).unwrap();
    assert_eq!(ca_name(&s), "cubic", "Linux 6.18's default");
    assert_eq!(s.setsockopt(SOL_TCP, TCP_CONGESTION, b"h1counted"), Ok(()));
    assert_eq!(ca_name(&s), "h1counted");
    assert_eq!(s.setsockopt(SOL_TCP, TCP_CONGESTION, b"nosuch"), Err(Errno::ENOENT));
    assert_eq!(ca_name(&s), "h1counted", "a refused name changes nothing");
    // A NUL ends the name, as strncpy_from_sockptr() does.
    assert_eq!(s.setsockopt(SOL_TCP, TCP_CONGESTION, b"reno\0junk"), Ok(()));
    assert_eq!(ca_name(&s), "reno");
    let mut short = [0u8; 2];
    assert_eq!(s.getsockopt(SOL_TCP, TCP_CONGESTION, &mut short), Ok(2));
    assert_eq!(&short, b"re");
}

#[test]
fn sysctl_picks_the_default_and_refuses_unknown_names() {
    register_counted();
    let lab = TwoHosts::new(50_000);
    inet_init(&lab.a);
    inet_init(&lab.b);
    let t = &lab.a.sysctl;
    assert_eq!(t.read("net.ipv4.tcp_congestion_control").unwrap(), "cubic");
    let avail = t.read("net.ipv4.tcp_available_congestion_control").unwrap();
    assert!(avail.starts_with("reno cubic") && avail.contains("h1counted"), "{avail}");
    let err = t.set("net.ipv4.tcp_congestion_control", "nosuch").unwrap_err();
    assert_eq!(err.errno(), Errno::ENOENT);
    assert_eq!(t.read("net.ipv4.tcp_congestion_control").unwrap(), "cubic");
    assert_eq!(
        t.set("net.ipv4.tcp_available_congestion_control", "reno").unwrap_err().errno(),
        Errno::EACCES
    );

    t.set("net.ipv4.tcp_congestion_control", "h1counted").unwrap();
    assert!(tcp_ca_find("h1counted").is_some());
    let before = INITS.load(Ordering::Relaxed);
    let l = TcpSocket::new(&lab.b).unwrap();
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).unwrap();
    l.listen(4).unwrap();
    let c = TcpSocket::new(&lab.a).unwrap();
    assert_eq!(ca_name(&c), "h1counted", "a new socket takes the namespace's default");
    c.set_nonblocking(true);
    assert_eq!(c.connect(SocketAddrV4::new(TwoHosts::B, 80)), Err(Errno::EINPROGRESS));
    lab.run_ms(5);
    assert_eq!(c.state(), TcpState::Established);
    let (s, _) = l.accept().unwrap();
    assert_eq!(ca_name(&s), "cubic", "the other namespace keeps its own default");
    assert!(INITS.load(Ordering::Relaxed) > before, "init() ran at ESTABLISHED");
}
