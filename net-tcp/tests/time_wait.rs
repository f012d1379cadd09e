//! TIME_WAIT as Linux 6.18 keeps it: a timewait sock from its own slab in
//! the full socket's place in ehash and on the bind bucket, its 60 s
//! timer, `tcp_max_tw_buckets`, and `tcp_tw_reuse` on `connect()`. Two
//! linnet hosts on an in-memory hub, in virtual time.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use net_core::snmp::LinuxMib;
use net_core::{Errno, Net};
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::{SO_REUSEADDR, SOL_SOCKET, TcpNet};
use net_tcp::inet_timewait_sock::{InetTimewaitSock, inet_sk_diag_state};
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

const PORT: u16 = 80;

struct Lab {
    lab: TwoHosts,
    ta: Arc<TcpNet>,
    tb: Arc<TcpNet>,
}

fn lab() -> Lab {
    let lab = TwoHosts::new(50_000);
    let ta = inet_init(&lab.a);
    let tb = inet_init(&lab.b);
    Lab { lab, ta, tb }
}

fn listener(net: &Arc<Net>, port: u16, reuse: bool) -> TcpSocket {
    let s = TcpSocket::new(net).unwrap();
    s.set_nonblocking(true);
    if reuse {
        s.setsockopt_int(SOL_SOCKET, SO_REUSEADDR, 1).unwrap();
    }
    s.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).unwrap();
    s.listen(16).unwrap();
    s
}

/// Connect a → b:PORT through `l`; (client, server child).
fn connect(l: &Lab, listener: &TcpSocket) -> (TcpSocket, TcpSocket) {
    let c = TcpSocket::new(&l.lab.a).unwrap();
    c.set_nonblocking(true);
    assert_eq!(c.connect(SocketAddrV4::new(TwoHosts::B, PORT)), Err(Errno::EINPROGRESS));
    l.lab.run_ms(5);
    let (s, _) = listener.accept().expect("a child");
    s.set_nonblocking(true);
    (c, s)
}

/// a closes first, then b: a holds the four-tuple in TIME_WAIT. Returns
/// a's local port.
fn close_from_a(l: &Lab, c: TcpSocket, s: TcpSocket) -> u16 {
    let port = c.local_addr().port();
    drop(c);
    l.lab.run_ms(5);
    drop(s);
    l.lab.run_ms(5);
    port
}

/// a's timewait sock for (a:port, b:PORT), as a segment from b finds it.
fn tw_of(l: &Lab, port: u16) -> Option<Arc<InetTimewaitSock>> {
    l.ta.hashinfo.inet_lookup_timewait(TwoHosts::B, PORT, TwoHosts::A, port, 0)
}

#[test]
fn the_timewait_sock_replaces_the_full_socket_in_ehash_and_bhash() {
    let l = lab();
    let lis = listener(&l.lab.b, PORT, false);
    let (c, s) = connect(&l, &lis);
    let csk = c.sock().clone();
    assert_eq!(l.ta.hashinfo.established_len(), 1);
    let port = close_from_a(&l, c, s);
    let tw = tw_of(&l, port).expect("a timewait sock holds the four-tuple");
    assert_eq!(tw.substate(), TcpState::TimeWait);
    assert_eq!(tw.sk_state(), TcpState::TimeWait);
    assert_eq!(
        (tw.tw_rcv_saddr(), tw.tw_num(), tw.tw_daddr(), tw.tw_dport()),
        (TwoHosts::A, port, TwoHosts::B, PORT)
    );
    // The full socket is CLOSE and out of ehash; `ss` shows TIME-WAIT.
    assert_eq!(csk.sk_state(), TcpState::Close);
    assert_eq!(inet_sk_diag_state(&l.lab.a, &csk), TcpState::TimeWait);
    assert!(l.ta.hashinfo.__inet_lookup_established(TwoHosts::B, PORT, TwoHosts::A, port, 0).is_none());
    assert_eq!(l.ta.hashinfo.established_len(), 0);
    // The port stays in use, owned by the timewait sock alone.
    let bb = l.ta.hashinfo.bind_bucket(port).expect("the port is still in use");
    assert_eq!((bb.owners, bb.tw_owners), (0, 1));
    // Another four-tuple misses it.
    assert!(tw_of(&l, port.wrapping_add(1)).is_none());
    assert_eq!(l.ta.twsk_slab.active_objs(), 1);
    // TW counts when the sock is scheduled (Linux's __inet_twsk_schedule;
    // on this machine's 6.18, TW read 1 while the sock was still alive).
    assert_eq!(l.lab.a.mib.get(LinuxMib::TW), 1);
    // b's side went through LAST_ACK: no timewait sock there.
    assert_eq!(l.tb.twsk_slab.active_objs(), 0);

    // 60 s: gone from ehash, bhash and the slab.
    l.lab.run_ms(59_900);
    assert!(tw_of(&l, port).is_some());
    l.lab.run_ms(200);
    assert!(tw_of(&l, port).is_none());
    assert!(!tw.hash_link.is_linked() && !tw.bind_link.is_linked());
    assert!(l.ta.hashinfo.bind_bucket(port).is_none());
    assert_eq!(l.ta.twsk_slab.active_objs(), 0);
    assert_eq!(inet_sk_diag_state(&l.lab.a, &csk), TcpState::Close);
}

#[test]
fn no_timewait_sock_leaks_after_every_timer_fired() {
    let l = lab();
    let lis = listener(&l.lab.b, PORT, false);
    let mut ports = Vec::new();
    for _ in 0..40 {
        let (c, s) = connect(&l, &lis);
        ports.push(close_from_a(&l, c, s));
    }
    assert_eq!(l.ta.twsk_slab.active_objs(), 40);
    assert_eq!(l.ta.twsk_slab.active_objs_peak(), 40);
    assert!(ports.iter().all(|&p| tw_of(&l, p).is_some()));
    l.lab.run_ms(61_000);
    assert_eq!(l.ta.twsk_slab.active_objs(), 0, "the slab is empty");
    assert!(ports.iter().all(|&p| tw_of(&l, p).is_none() && l.ta.hashinfo.bind_bucket(p).is_none()));
    assert_eq!(l.lab.a.mib.get(LinuxMib::TW), 40);
    assert_eq!(l.ta.hashinfo.established_len(), 0);
}

#[test]
fn tcp_max_tw_buckets_overflow_just_closes() {
    let l = lab();
    l.lab.a.sysctl.set("net.ipv4.tcp_max_tw_buckets", "2").unwrap();
    let lis = listener(&l.lab.b, PORT, false);
    let mut ports = Vec::new();
    for _ in 0..5 {
        let (c, s) = connect(&l, &lis);
        ports.push(close_from_a(&l, c, s));
    }
    assert_eq!(l.ta.twsk_slab.active_objs(), 2);
    assert_eq!(l.ta.twsk_slab.active_objs_peak(), 2);
    assert_eq!(l.lab.a.mib.get(LinuxMib::TCPTimeWaitOverflow), 3);
    assert_eq!(l.lab.a.mib.get(LinuxMib::TW), 2);
    // The first two hold their tuples; the others' ports are free.
    assert!(tw_of(&l, ports[0]).is_some() && tw_of(&l, ports[1]).is_some());
    for &p in &ports[2..] {
        assert!(tw_of(&l, p).is_none());
        assert!(l.ta.hashinfo.bind_bucket(p).is_none(), "port {p} was released");
    }
    // Linux 6.18 logs nothing for it (checked on this machine).
    assert!(!l.ta.dmesg.lock().iter().any(|m| m.contains("time wait bucket")));
}

/// a's client port range is one port, so a second connect() to b:PORT
/// needs the first one's four-tuple.
fn one_port_lab() -> Lab {
    let l = lab();
    l.lab.a.sysctl.set("net.ipv4.ip_local_port_range", "40000 40000").unwrap();
    l
}

fn reconnect(l: &Lab) -> (TcpSocket, Result<(), Errno>) {
    let c = TcpSocket::new(&l.lab.a).unwrap();
    c.set_nonblocking(true);
    let r = c.connect(SocketAddrV4::new(TwoHosts::B, PORT));
    (c, r)
}

#[test]
fn tcp_tw_reuse_takes_over_the_tuple_when_timestamps_make_it_safe() {
    let l = one_port_lab();
    l.lab.a.sysctl.set("net.ipv4.tcp_tw_reuse", "1").unwrap();
    let lis = listener(&l.lab.b, PORT, false);
    let (c, s) = connect(&l, &lis);
    let port = close_from_a(&l, c, s);
    assert_eq!(port, 40000);
    let tw = tw_of(&l, port).unwrap();
    assert!(tw.tw_tstamp_ok, "timestamps were agreed");
    let (snd_nxt, ts_recent) = (tw.tw_snd_nxt, tw.tw_ts_recent.load(Ordering::Relaxed));
    // More than tcp_tw_reuse_delay (1 s) later:
    l.lab.run_ms(1_100);
    let (c2, r) = reconnect(&l);
    assert_eq!(r, Err(Errno::EINPROGRESS));
    assert_eq!(c2.local_addr().port(), 40000);
    assert_eq!(l.lab.a.mib.get(LinuxMib::TWRecycled), 1);
    assert!(tw_of(&l, port).is_none(), "the timewait sock is gone");
    assert_eq!(l.ta.twsk_slab.active_objs(), 0);
    let bb = l.ta.hashinfo.bind_bucket(port).unwrap();
    assert_eq!((bb.owners, bb.tw_owners), (1, 0));
    {
        let tp = c2.sock().lock.lock();
        // The new ISN is above the old incarnation's sequence space.
        assert_eq!(tp.snd_una, snd_nxt.wrapping_add(65535 + 2));
        assert_eq!(tp.rx_opt.ts_recent, ts_recent);
    }
    l.lab.run_ms(5);
    assert!(lis.accept().is_ok(), "the new connection is established");
    assert_eq!(c2.state(), TcpState::Established);
}

#[test]
fn tcp_tw_reuse_refused() {
    // Too early: 0.5 s < tcp_tw_reuse_delay.
    let l = one_port_lab();
    l.lab.a.sysctl.set("net.ipv4.tcp_tw_reuse", "1").unwrap();
    let lis = listener(&l.lab.b, PORT, false);
    let (c, s) = connect(&l, &lis);
    let port = close_from_a(&l, c, s);
    l.lab.run_ms(500);
    assert_eq!(reconnect(&l).1, Err(Errno::EADDRNOTAVAIL));
    assert!(tw_of(&l, port).is_some());
    assert_eq!(l.lab.a.mib.get(LinuxMib::TWRecycled), 0);

    // The default, 2: loopback only; 10.0.0.1 <-> 10.0.0.2 is not.
    let l = one_port_lab();
    let lis = listener(&l.lab.b, PORT, false);
    let (c, s) = connect(&l, &lis);
    close_from_a(&l, c, s);
    l.lab.run_ms(5_000);
    assert_eq!(reconnect(&l).1, Err(Errno::EADDRNOTAVAIL));

    // Without timestamps there is no PAWS to make reuse safe.
    let l = one_port_lab();
    l.lab.a.sysctl.set("net.ipv4.tcp_tw_reuse", "1").unwrap();
    l.lab.a.sysctl.set("net.ipv4.tcp_timestamps", "0").unwrap();
    let lis = listener(&l.lab.b, PORT, false);
    let (c, s) = connect(&l, &lis);
    let port = close_from_a(&l, c, s);
    assert!(!tw_of(&l, port).unwrap().tw_tstamp_ok);
    l.lab.run_ms(5_000);
    assert_eq!(reconnect(&l).1, Err(Errno::EADDRNOTAVAIL));

    // Once the timewait sock has expired the port is simply free.
    l.lab.run_ms(56_000);
    assert_eq!(reconnect(&l).1, Err(Errno::EINPROGRESS));
    assert_eq!(l.lab.a.mib.get(LinuxMib::TWRecycled), 0);
}

#[test]
fn a_port_in_time_wait_needs_so_reuseaddr_to_be_bound_again() {
    // b (the server) closes first and holds port 80 in TIME_WAIT; its
    // children inherited SO_REUSEADDR from the listener.
    let l = lab();
    let lis = listener(&l.lab.b, PORT, true);
    let (c, s) = connect(&l, &lis);
    drop(lis);
    drop(s);
    l.lab.run_ms(5);
    drop(c);
    l.lab.run_ms(5);
    assert_eq!(l.tb.twsk_slab.active_objs(), 1);
    let bb = l.tb.hashinfo.bind_bucket(PORT).unwrap();
    assert_eq!((bb.owners, bb.tw_owners), (0, 1));
    let plain = TcpSocket::new(&l.lab.b).unwrap();
    assert_eq!(plain.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)), Err(Errno::EADDRINUSE));
    let reuse = TcpSocket::new(&l.lab.b).unwrap();
    reuse.setsockopt_int(SOL_SOCKET, SO_REUSEADDR, 1).unwrap();
    assert_eq!(reuse.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)), Ok(()));
}

#[test]
fn tcp_twsk_unique_rules() {
    use net_tcp::inet_timewait_sock::{TwInit, inet_twsk_alloc};
    use net_tcp::sock::TcpSock;
    use net_tcp::tcp_ipv4::tcp_twsk_unique;
    let net = Net::new("t", net_core::Clock::new_virtual(), 1);
    let tn = inet_init(&net);
    let tw = |laddr: Ipv4Addr, daddr: Ipv4Addr, substate: TcpState, tstamp_ok: bool| {
        let sk = TcpSock::new(&net, 1000, 1000);
        sk.set_skc_addrs(laddr, 40000, daddr, 80);
        let init = TwInit {
            substate,
            rcv_nxt: 1,
            snd_nxt: 1,
            rcv_wnd: 1000,
            rcv_wscale: 0,
            tstamp_ok,
            ts_recent: if tstamp_ok { 7 } else { 0 },
            ts_recent_stamp: 0,
            ts_offset: 0,
        };
        inet_twsk_alloc(&net, &tn, &sk, &init).unwrap()
    };
    let lo = Ipv4Addr::LOCALHOST;
    let (a, b) = (TwoHosts::A, TwoHosts::B);
    let tw_lo = tw(lo, lo, TcpState::TimeWait, true);
    let tw_net = tw(a, b, TcpState::TimeWait, true);
    let tw_fw2 = tw(lo, lo, TcpState::FinWait2, true);
    let tw_nots = tw(lo, lo, TcpState::TimeWait, false);
    // Within tcp_tw_reuse_delay (1000 ms) nothing is reused by connect().
    net.clock().advance_ns(999_000_000);
    assert!(!tcp_twsk_unique(&net, &tn, &tw_lo, true));
    net.clock().advance_ns(2_000_000);
    // tcp_tw_reuse = 2 (default): loopback only.
    assert!(tcp_twsk_unique(&net, &tn, &tw_lo, true));
    assert!(!tcp_twsk_unique(&net, &tn, &tw_net, true));
    // A FIN_WAIT2 timewait sock and one without timestamps never are.
    assert!(!tcp_twsk_unique(&net, &tn, &tw_fw2, true));
    assert!(!tcp_twsk_unique(&net, &tn, &tw_nots, true));
    // 1: any address.
    net.sysctl.set("net.ipv4.tcp_tw_reuse", "1").unwrap();
    assert!(tcp_twsk_unique(&net, &tn, &tw_net, true));
    // 0: none.
    net.sysctl.set("net.ipv4.tcp_tw_reuse", "0").unwrap();
    assert!(!tcp_twsk_unique(&net, &tn, &tw_lo, true));
    // A socket bound before connect() (Linux: twp == NULL) skips the
    // tcp_tw_reuse test: timestamps are enough.
    assert!(tcp_twsk_unique(&net, &tn, &tw_net, false));
    assert!(!tcp_twsk_unique(&net, &tn, &tw_nots, false));
}

#[test]
fn a_new_syn_reopens_the_servers_time_wait() {
    // b closes first and holds (b:80, a:41000) in TIME_WAIT; a connects
    // again from port 41000 a second later. Its ISN has moved on with
    // the clock (secure_tcp_seq), so the SYN is after tw_rcv_nxt:
    // TCP_TW_SYN — the timewait sock dies and the listener answers with
    // ISN tw_snd_nxt + 65535 + 2. Linux 6.18 here did the same, leaving
    // TWRecycled at 0.
    let l = lab();
    let lis = listener(&l.lab.b, PORT, true);
    let bound = |l: &Lab| {
        let c = TcpSocket::new(&l.lab.a).unwrap();
        c.set_nonblocking(true);
        c.setsockopt_int(SOL_SOCKET, SO_REUSEADDR, 1).unwrap();
        c.bind(SocketAddrV4::new(TwoHosts::A, 41000)).unwrap();
        c
    };
    let c = bound(&l);
    assert_eq!(c.connect(SocketAddrV4::new(TwoHosts::B, PORT)), Err(Errno::EINPROGRESS));
    l.lab.run_ms(5);
    let (s, _) = lis.accept().unwrap();
    drop(s);
    l.lab.run_ms(5);
    drop(c);
    l.lab.run_ms(5);
    let tw =
        l.tb.hashinfo.inet_lookup_timewait(TwoHosts::A, 41000, TwoHosts::B, PORT, 0).expect("b in TIME_WAIT");
    let isn = tw.tw_snd_nxt.wrapping_add(65535 + 2);
    l.lab.run_ms(1_000);
    let c = bound(&l);
    assert_eq!(c.connect(SocketAddrV4::new(TwoHosts::B, PORT)), Err(Errno::EINPROGRESS));
    l.lab.run_ms(5);
    let (s, _) = lis.accept().expect("the SYN reached the listener");
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(l.tb.twsk_slab.active_objs(), 0);
    assert!(!tw.hash_link.is_linked());
    assert_eq!(
        s.sock().lock.lock().snd_una,
        isn.wrapping_add(1),
        "the SYN-ACK took isn = tw_snd_nxt + 65537"
    );
    assert_eq!(l.lab.b.mib.get(LinuxMib::TWRecycled), 0);
}
