//! ICMP and UDP between two hosts on an in-memory Ethernet hub, in virtual
//! time: ping and its RTTs, UDP echo, ICMP port unreachable turned into
//! `ECONNREFUSED`, rate limiting of ICMP errors (RFC 1812 §4.3.2.8), and a
//! 64 KiB datagram fragmented and reassembled.

use std::net::SocketAddrV4;
use std::sync::Arc;

use net_core::snmp::{IcmpMib, IcmpMsg, UdpMib};
use net_core::{Clock, Errno, Net};
use net_ipv4::icmp::{ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ping};
use net_ipv4::testlink::{Hub, TwoHosts as Lab, run_until_idle};
use net_ipv4::udp::UdpSocket;
use net_ipv4::{Ipv4, Ipv4Addr};

/// One-way latency of the hub: 100 µs.
const LATENCY_NS: u64 = 100_000;
const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn lab() -> Lab {
    Lab::new(LATENCY_NS)
}

fn udp(net: &Arc<Net>, bind: SocketAddrV4) -> UdpSocket {
    let s = UdpSocket::new(net).expect("socket");
    s.bind(bind).expect("bind");
    s
}

#[test]
fn ping_rtt_is_twice_the_hub_latency() {
    let lab = lab();
    for seq in 1..=3u16 {
        ping(&lab.a, &lab.a4, B, 0x1c2f, seq, &[0xa5; 56]).expect("ping");
        lab.run_ms(1000);
    }
    let replies = lab.a4.icmp.echo_replies(0x1c2f);
    assert_eq!(replies.len(), 3, "{replies:?}");
    for r in &replies {
        assert_eq!(r.from, B);
        assert_eq!(r.ttl, 64);
        assert_eq!(r.bytes, 64);
    }
    // The first may have waited for ARP; the rest take exactly one round trip.
    assert!(replies[0].rtt_ns >= 2 * LATENCY_NS);
    assert_eq!(replies[1].rtt_ns, 2 * LATENCY_NS);
    assert_eq!(replies[2].rtt_ns, 2 * LATENCY_NS);
    assert_eq!(lab.b.mib.get(IcmpMsg::In(ICMP_ECHO)), 3);
    assert_eq!(lab.b.mib.get(IcmpMsg::Out(ICMP_ECHOREPLY)), 3);
    assert_eq!(lab.a.mib.get(IcmpMsg::Out(ICMP_ECHO)), 3);
    assert_eq!(lab.a.mib.get(IcmpMsg::In(ICMP_ECHOREPLY)), 3);
    assert_eq!(lab.a.mib.get(IcmpMib::InErrors), 0);
}

#[test]
fn echo_ignore_all_silences_replies() {
    let lab = lab();
    lab.b4.sysctl.icmp_echo_ignore_all.set("1").unwrap();
    ping(&lab.a, &lab.a4, B, 9, 1, b"hello").unwrap();
    lab.run_ms(1000);
    assert!(lab.a4.icmp.echo_replies(9).is_empty());
    assert_eq!(lab.b.mib.get(IcmpMsg::In(ICMP_ECHO)), 1);
    assert_eq!(lab.b.mib.get(IcmpMsg::Out(ICMP_ECHOREPLY)), 0);
}

#[test]
fn udp_echo_both_ways() {
    let lab = lab();
    let server = udp(&lab.b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7));
    let client = UdpSocket::new(&lab.a).unwrap();
    assert_eq!(client.sendto(b"ping over udp", SocketAddrV4::new(B, 7)), Ok(13));
    let cport = client.local_addr().port();
    assert!((32768..=60999).contains(&cport), "ephemeral port {cport}");
    lab.run_ms(100);

    let mut buf = [0u8; 64];
    let (n, from) = server.recvfrom(&mut buf).expect("datagram at the server");
    assert_eq!(&buf[..n], b"ping over udp");
    assert_eq!(from, SocketAddrV4::new(A, cport));
    assert_eq!(server.sendto(&buf[..n], from), Ok(n));
    lab.run_ms(100);

    let (n, from) = client.recvfrom(&mut buf).expect("echo at the client");
    assert_eq!(&buf[..n], b"ping over udp");
    assert_eq!(from, SocketAddrV4::new(B, 7));
    assert_eq!(client.recv(&mut buf), Err(Errno::EAGAIN));

    // The other way, connected, with truncation.
    let a_srv = udp(&lab.a, SocketAddrV4::new(A, 5353));
    let b_cli = UdpSocket::new(&lab.b).unwrap();
    b_cli.connect(SocketAddrV4::new(A, 5353)).unwrap();
    assert_eq!(b_cli.local_addr().ip(), &B);
    assert_eq!(b_cli.send(b"0123456789"), Ok(10));
    lab.run_ms(100);
    let mut small = [0u8; 4];
    let m = a_srv.recvmsg(&mut small).unwrap();
    assert_eq!((m.copied, m.len, m.truncated), (4, 10, true));
    assert_eq!(&small, b"0123");

    assert_eq!(lab.a.mib.get(UdpMib::InDatagrams), 2);
    assert_eq!(lab.b.mib.get(UdpMib::InDatagrams), 1);
    assert_eq!(lab.a.mib.get(UdpMib::OutDatagrams), 1);
    assert_eq!(lab.b.mib.get(UdpMib::OutDatagrams), 2);
}

#[test]
fn closed_port_gives_econnrefused_to_a_connected_sender() {
    let lab = lab();
    let s = UdpSocket::new(&lab.a).unwrap();
    s.connect(SocketAddrV4::new(B, 9999)).unwrap();
    s.send(b"anyone?").unwrap();
    // An unconnected socket is not told (no IP_RECVERR).
    let u = UdpSocket::new(&lab.a).unwrap();
    u.sendto(b"anyone?", SocketAddrV4::new(B, 9998)).unwrap();
    lab.run_ms(100);

    assert_eq!(lab.b.mib.get(UdpMib::NoPorts), 2);
    assert_eq!(lab.b.mib.get(IcmpMsg::Out(ICMP_DEST_UNREACH)), 2);
    assert_eq!(lab.a.mib.get(IcmpMsg::In(ICMP_DEST_UNREACH)), 2);
    let mut buf = [0u8; 16];
    assert_eq!(s.recv(&mut buf), Err(Errno::ECONNREFUSED));
    assert_eq!(s.recv(&mut buf), Err(Errno::EAGAIN), "reported once");
    assert_eq!(u.recv(&mut buf), Err(Errno::EAGAIN));
    assert_eq!(u.take_error(), None);

    // The error also surfaces on the next send.
    s.send(b"again").unwrap();
    lab.run_ms(2000);
    assert_eq!(s.pending_error(), Some(Errno::ECONNREFUSED));
    assert_eq!(s.send(b"third"), Err(Errno::ECONNREFUSED));
}

#[test]
fn port_unreachable_bursts_are_rate_limited_per_host() {
    let lab = lab();
    ping(&lab.a, &lab.a4, B, 1, 1, b"arp").unwrap(); // resolve ARP both ways
    lab.run_ms(100);
    let u = UdpSocket::new(&lab.a).unwrap();
    for i in 0..100u16 {
        u.sendto(&i.to_be_bytes(), SocketAddrV4::new(B, 9)).unwrap();
    }
    lab.run_ms(100);
    // inet_peer_xrlim_allow: a burst of XRLIM_BURST_FACTOR = 6, then 1/s.
    assert_eq!(lab.b.mib.get(UdpMib::NoPorts), 100);
    assert_eq!(lab.b.mib.get(IcmpMsg::Out(ICMP_DEST_UNREACH)), 6);
    assert_eq!(lab.b.mib.get(IcmpMib::OutRateLimitHost), 94);
    assert_eq!(lab.b.mib.get(IcmpMib::OutRateLimitGlobal), 0);
    assert_eq!(lab.a.mib.get(IcmpMsg::In(ICMP_DEST_UNREACH)), 6);
    // A second later one more token has accrued.
    lab.run_ms(1000);
    u.sendto(b"x", SocketAddrV4::new(B, 9)).unwrap();
    u.sendto(b"y", SocketAddrV4::new(B, 9)).unwrap();
    lab.run_ms(100);
    assert_eq!(lab.b.mib.get(IcmpMsg::Out(ICMP_DEST_UNREACH)), 7);
    assert_eq!(lab.b.mib.get(IcmpMib::OutRateLimitHost), 95);
}

#[test]
fn port_unreachable_bursts_hit_the_global_limit() {
    let lab = lab();
    // No per-host limit: only icmp_msgs_per_sec / icmp_msgs_burst remain.
    lab.b4.sysctl.icmp_ratelimit.set("0").unwrap();
    ping(&lab.a, &lab.a4, B, 1, 1, b"arp").unwrap();
    lab.run_ms(100);
    let u = UdpSocket::new(&lab.a).unwrap();
    for i in 0..200u16 {
        u.sendto(&i.to_be_bytes(), SocketAddrV4::new(B, 9)).unwrap();
    }
    lab.run_ms(100);
    let sent = lab.b.mib.get(IcmpMsg::Out(ICMP_DEST_UNREACH));
    let global = lab.b.mib.get(IcmpMib::OutRateLimitGlobal);
    assert_eq!(sent + global, 200);
    // 50 credits spent 0–2 at a time (icmp_global_consume).
    assert!((25..200).contains(&sent), "sent {sent}");
    assert_eq!(lab.b.mib.get(IcmpMib::OutRateLimitHost), 0);
}

#[test]
fn bind_rules() {
    let lab = lab();
    let s1 = udp(&lab.a, SocketAddrV4::new(A, 4000));
    let s2 = UdpSocket::new(&lab.a).unwrap();
    assert_eq!(s2.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 4000)), Err(Errno::EADDRINUSE));
    assert_eq!(s2.bind(SocketAddrV4::new(B, 4001)), Err(Errno::EADDRNOTAVAIL));
    assert_eq!(s1.bind(SocketAddrV4::new(A, 4002)), Err(Errno::EINVAL));
    lab.a4.sysctl.ip_nonlocal_bind.set("1").unwrap();
    s2.bind(SocketAddrV4::new(B, 4001)).unwrap();
    // SO_REUSEADDR on both shares a port.
    let r1 = UdpSocket::new(&lab.a).unwrap();
    let r2 = UdpSocket::new(&lab.a).unwrap();
    r1.set_reuseaddr(true);
    r2.set_reuseaddr(true);
    r1.bind(SocketAddrV4::new(A, 4003)).unwrap();
    r2.bind(SocketAddrV4::new(A, 4003)).unwrap();
    // Closing frees the port.
    drop(s1);
    udp(&lab.a, SocketAddrV4::new(A, 4000));
    // Unconnected send without an address, oversized datagrams.
    let u = UdpSocket::new(&lab.a).unwrap();
    assert_eq!(u.send(b"x"), Err(Errno::EDESTADDRREQ));
    assert_eq!(u.sendto(&vec![0; 65508], SocketAddrV4::new(B, 9)), Err(Errno::EMSGSIZE));
    assert_eq!(u.peer_addr(), Err(Errno::ENOTCONN));
    assert_eq!(u.sendto(b"x", SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 9)), Err(Errno::ENETUNREACH));
}

#[test]
fn rcvbuf_bounds_the_queue() {
    let lab = lab();
    let srv = udp(&lab.b, SocketAddrV4::new(B, 6000));
    srv.set_rcvbuf(0);
    assert_eq!(srv.rcvbuf(), net_core::sysctl_net_core::SOCK_MIN_RCVBUF as usize);
    srv.set_rcvbuf(100_000);
    assert_eq!(srv.rcvbuf(), 200_000);
    srv.set_rcvbuf(1 << 40);
    assert_eq!(srv.rcvbuf(), 2 * lab.b.core.rmem_max.get() as usize);
    srv.set_rcvbuf(4000); // 8000 bytes: a few datagrams of truesize ~2 KiB
    let c = UdpSocket::new(&lab.a).unwrap();
    for _ in 0..50 {
        c.sendto(&[7; 1000], SocketAddrV4::new(B, 6000)).unwrap();
    }
    lab.run_ms(100);
    let queued = srv.rx_queue_len() as u64;
    assert!((1..50).contains(&queued), "{queued}");
    assert_eq!(lab.b.mib.get(UdpMib::RcvbufErrors), 50 - queued);
    assert_eq!(lab.b.mib.get(UdpMib::InErrors), 50 - queued);
}

#[test]
fn a_64k_datagram_is_fragmented_and_reassembled() {
    let lab = lab();
    let srv = udp(&lab.b, SocketAddrV4::new(B, 8000));
    let c = UdpSocket::new(&lab.a).unwrap();
    let big: Vec<u8> = (0..net_ipv4::udp::UDP_MAX_PAYLOAD).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.sendto(&big, SocketAddrV4::new(B, 8000)), Ok(big.len()));
    lab.run_ms(1000);
    let mut buf = vec![0u8; 70_000];
    let (n, from) = srv.recvfrom(&mut buf).expect("reassembled datagram");
    assert_eq!(n, big.len());
    assert_eq!(&buf[..n], &big[..]);
    assert_eq!(from.ip(), &A);
}

/// A — R — B: two segments joined by a forwarding router; the second
/// segment's MTU is `mtu2`.
struct Routed {
    clock: Clock,
    a: Arc<Net>,
    r: Arc<Net>,
    b: Arc<Net>,
    a4: Arc<Ipv4>,
    r4: Arc<Ipv4>,
}

const B2: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);

impl Routed {
    fn new(mtu2: u32) -> Routed {
        use net_ipv4::fib::{FibRoute, RtnType};
        let clock = Clock::new_virtual_at(1_000_000_000);
        let hub1 = Hub::new(&clock, LATENCY_NS);
        let hub2 = Hub::new(&clock, LATENCY_NS);
        let plug = |net: &Arc<Net>, hub: &Hub, name: &str, mac: u8, mtu: u32| {
            let port = hub.port(name, [0x02, 0, 0, 0, 1, mac]).with_mtu(mtu);
            let dev = net.register_netdev(Box::new(port)).unwrap();
            dev.open().unwrap();
            dev.ifindex
        };
        let default_via = |ipv4: &Ipv4, gw: Ipv4Addr, oif: u32| {
            let r = FibRoute {
                dst: Ipv4Addr::UNSPECIFIED,
                prefixlen: 0,
                gateway: Some(gw),
                oif,
                metric: 0,
                rtn_type: RtnType::Unicast,
                prefsrc: None,
            };
            ipv4.fib.fib_table_insert(r).unwrap();
        };
        let (a, r, b) = (
            Net::new("a", clock.clone(), 1),
            Net::new("r", clock.clone(), 2),
            Net::new("b", clock.clone(), 3),
        );
        let (a4, r4, b4) = (net_ipv4::ipv4_init(&a), net_ipv4::ipv4_init(&r), net_ipv4::ipv4_init(&b));
        let ai = plug(&a, &hub1, "eth0", 1, 1500);
        let r1 = plug(&r, &hub1, "eth0", 2, 1500);
        let r2 = plug(&r, &hub2, "eth1", 3, mtu2);
        let bi = plug(&b, &hub2, "eth0", 4, mtu2);
        net_ipv4::devinet::inet_addr_add(&a, &a4, ai, A, 24).unwrap();
        net_ipv4::devinet::inet_addr_add(&r, &r4, r1, Ipv4Addr::new(10, 0, 0, 254), 24).unwrap();
        net_ipv4::devinet::inet_addr_add(&r, &r4, r2, Ipv4Addr::new(10, 0, 1, 254), 24).unwrap();
        net_ipv4::devinet::inet_addr_add(&b, &b4, bi, B2, 24).unwrap();
        default_via(&a4, Ipv4Addr::new(10, 0, 0, 254), ai);
        default_via(&b4, Ipv4Addr::new(10, 0, 1, 254), bi);
        r4.sysctl.ip_forward.set("1").unwrap();
        let lab = Routed { clock, a, r, b, a4, r4 };
        lab.run_ms(10);
        lab
    }

    fn run_ms(&self, ms: u64) {
        let deadline = self.clock.now_ns() + ms * 1_000_000;
        run_until_idle(&self.clock, &[&self.a, &self.r, &self.b], deadline);
    }
}

#[test]
fn ping_through_a_router() {
    let lab = Routed::new(1500);
    for seq in 1..=2u16 {
        ping(&lab.a, &lab.a4, B2, 77, seq, &[0; 56]).unwrap();
        lab.run_ms(1000);
    }
    let r = lab.a4.icmp.echo_replies(77);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!((r[1].from, r[1].ttl, r[1].rtt_ns), (B2, 63, 4 * LATENCY_NS));
}

#[test]
fn ttl_expiry_is_a_soft_error_for_udp() {
    let lab = Routed::new(1500);
    lab.a4.sysctl.ip_default_ttl.set("1").unwrap();
    let s = UdpSocket::new(&lab.a).unwrap();
    s.connect(SocketAddrV4::new(B2, 33434)).unwrap();
    s.send(b"traceroute").unwrap();
    lab.run_ms(1000);
    assert_eq!(lab.r.mib.get(IcmpMsg::Out(net_ipv4::icmp::ICMP_TIME_EXCEEDED)), 1);
    assert_eq!(lab.a.mib.get(IcmpMsg::In(net_ipv4::icmp::ICMP_TIME_EXCEEDED)), 1);
    // EHOSTUNREACH is soft: a socket without IP_RECVERR is not told.
    assert_eq!(s.take_error(), None);
    assert_eq!(lab.b.mib.get(UdpMib::NoPorts), 0);
}

#[test]
fn fragmentation_needed_lowers_the_path_mtu() {
    let lab = Routed::new(1000);
    let srv = UdpSocket::new(&lab.b).unwrap();
    srv.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9000)).unwrap();
    let c = UdpSocket::new(&lab.a).unwrap();
    c.connect(SocketAddrV4::new(B2, 9000)).unwrap();
    let data = vec![0x5a; 1400];
    c.send(&data).unwrap(); // DF: fits 1500, not 1000
    lab.run_ms(1000);
    assert_eq!(lab.r.mib.get(IcmpMsg::Out(ICMP_DEST_UNREACH)), 1);
    assert_eq!(lab.r4.icmp.global_credit(), 0, "frag needed is never rate limited");
    let mut buf = [0u8; 2000];
    assert_eq!(srv.recv(&mut buf), Err(Errno::EAGAIN));
    // A connected socket hears EMSGSIZE; the route now carries MTU 1000.
    assert_eq!(c.recv(&mut buf), Err(Errno::EMSGSIZE));
    let rt = net_ipv4::route::ip_route_output(&lab.a, &lab.a4, B2, None, None).unwrap();
    assert_eq!(rt.mtu, 1000);
    c.send(&data).unwrap(); // now fragmented by A
    lab.run_ms(1000);
    assert_eq!(srv.recv(&mut buf), Ok(1400));
}

#[test]
fn port_unreachable_on_the_wire_quotes_the_datagram() {
    use net_core::skbuff::PktType;
    use net_core::{NetRx, PacketType};
    let lab = lab();
    let seen: Arc<spin::Mutex<Vec<Vec<u8>>>> = Arc::default();
    let s2 = seen.clone();
    // An AF_PACKET-style tap on A: incoming IPv4 frames, data at the IP header.
    lab.a.dev_add_pack(PacketType::tap("test_tap", move |net: &Net, skb| {
        if skb.pkt_type != PktType::Outgoing && skb.protocol == 0x0800 {
            s2.lock().push(skb.data().to_vec());
        }
        net.consume_skb(skb);
        NetRx::Success
    }));
    let s = UdpSocket::new(&lab.a).unwrap();
    s.bind(SocketAddrV4::new(A, 40000)).unwrap();
    s.sendto(b"odd!!", SocketAddrV4::new(B, 53)).unwrap();
    lab.run_ms(100);
    let frames = seen.lock().clone();
    let icmp: Vec<_> = frames.iter().filter(|p| p.len() > 20 && p[9] == 1).collect();
    assert_eq!(icmp.len(), 1, "{frames:02x?}");
    let p = icmp[0];
    assert_eq!(p[1], 0xc0, "TOS: IPTOS_PREC_INTERNETCONTROL");
    // Linux 6.18 sends this 61-byte error with DF clear (captured from this
    // kernel): ICMP leaves through ip_append_data on a PMTUDISC_DONT socket,
    // so ip_build_and_send_pkt's "DF for 68 bytes or less" does not apply.
    assert_eq!(p[6] & 0x40, 0, "DF must be clear on an ICMP error");
    assert_eq!(&p[12..16], &B.octets());
    assert_eq!(&p[16..20], &A.octets());
    let m = &p[20..];
    assert_eq!((m[0], m[1]), (3, 3));
    // The quote: A's IP header and the whole (short) UDP datagram, whose
    // checksum is the one Linux puts on the wire for these bytes.
    let quoted = &m[8..];
    assert_eq!(quoted.len(), 20 + 13);
    assert_eq!(&quoted[12..16], &A.octets());
    assert_eq!(&quoted[20..], &net_ipv4::udp::udp_build(A, 40000, B, 53, b"odd!!")[..]);
    let (h, _) = etherparse::Icmpv4Header::from_slice(m).unwrap();
    assert!(matches!(h.icmp_type, etherparse::Icmpv4Type::DestinationUnreachable(_)));
    assert_eq!(net_core::checksum::ip_compute_csum(m), net_core::checksum::Sum16::ZERO);
}

#[test]
fn traceroute_with_ping_ttls() {
    use net_ipv4::icmp::{ICMP_EXC_TTL, ICMP_TIME_EXCEEDED, ping_ttl};
    let lab = Routed::new(1500);
    ping_ttl(&lab.a, &lab.a4, B2, 0x7777, 1, Some(1), b"hop").unwrap();
    lab.run_ms(1000);
    ping_ttl(&lab.a, &lab.a4, B2, 0x7777, 2, Some(2), b"hop").unwrap();
    lab.run_ms(1000);
    let errs = lab.a4.icmp.echo_errors(0x7777);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        (errs[0].seq, errs[0].from, errs[0].type_, errs[0].code),
        (1, Ipv4Addr::new(10, 0, 0, 254), ICMP_TIME_EXCEEDED, ICMP_EXC_TTL)
    );
    let replies = lab.a4.icmp.echo_replies(0x7777);
    assert_eq!(replies.len(), 1);
    assert_eq!((replies[0].seq, replies[0].from), (2, B2));
}
