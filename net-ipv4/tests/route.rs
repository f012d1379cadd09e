//! Routing, end to end.
//!
//! (a) The "route-lookup" scenario of the 003 article: one routing table
//! with several prefixes and a default, and which route each destination
//! takes — by longest prefix today (`fib_table_lookup`), and by 0.99's
//! first match over its list (`rt_route`), including where they disagree.
//!
//! (b) Three hosts in virtual time, A — R — B, on two in-memory Ethernet
//! segments: R forwards with `ip_forward = 1` and decrements the TTL; a
//! datagram sent with TTL 1 draws ICMP time exceeded back to A; DF and too
//! big for R's next link draws "fragmentation needed"; with
//! `ip_forward = 0` nothing crosses.

use std::sync::{Arc, Mutex};

use net_core::skbuff::alloc_skb;
use net_core::snmp::{IcmpMsg, IpstatsMib};
use net_core::{Clock, Net, NetRx, Skb};
use net_ipv4::devinet::inet_addr_add;
use net_ipv4::fib::{Device099, Fib, FibRoute, RTF_GATEWAY, RTF_HOST, RtList099, inet_make_mask};
use net_ipv4::ip::IpHdr;
use net_ipv4::ip_output::{IpSendOpts, ip_build_and_send_pkt};
use net_ipv4::protocol::NetProtocol;
use net_ipv4::testlink::{Hub, run_until_idle};
use net_ipv4::{Ipv4, Ipv4Addr, MAX_HEADER};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------
// (a) route-lookup
// ---------------------------------------------------------------------------

fn unicast(dst: &str, len: u8, gw: Option<&str>, oif: u32) -> FibRoute {
    FibRoute::unicast(ip(dst), len, gw.map(ip), oif)
}

#[test]
fn route_lookup_table_longest_prefix_vs_first_match() {
    let clock = Clock::new_virtual();
    let net = Net::new("rt", clock.clone(), 7);
    let hub = Hub::new(&clock, 1000);
    let eth0 = net.register_netdev(Box::new(hub.port("eth0", [2, 0, 0, 0, 0, 1]))).unwrap().ifindex;
    let eth1 = net.register_netdev(Box::new(hub.port("eth1", [2, 0, 0, 0, 0, 2]))).unwrap().ifindex;

    // Today's table, as `ip route` shows it.
    let fib = Fib::new();
    for r in [
        unicast("0.0.0.0", 0, Some("192.168.1.1"), eth0),
        unicast("192.168.1.0", 24, None, eth0),
        unicast("10.0.0.0", 8, Some("192.168.1.254"), eth0),
        unicast("10.1.0.0", 16, None, eth1),
        unicast("10.1.2.0", 24, Some("10.1.0.1"), eth1),
        unicast("10.1.2.3", 32, Some("192.168.1.253"), eth0),
    ] {
        fib.fib_table_insert(r).unwrap();
    }
    assert_eq!(
        fib.ip_route_show(&net),
        "default via 192.168.1.1 dev eth0\n\
         10.0.0.0/8 via 192.168.1.254 dev eth0\n\
         10.1.0.0/16 dev eth1 scope link\n\
         10.1.2.0/24 via 10.1.0.1 dev eth1\n\
         10.1.2.3 via 192.168.1.253 dev eth0\n\
         192.168.1.0/24 dev eth0 scope link\n"
    );

    // 0.99's list, built by rt_add from the same routes in the same order.
    let mut l = RtList099::new();
    l.dev_add(Device099 {
        ifindex: eth0,
        name: "eth0".into(),
        flags: net_core::netdevice::IFF_BROADCAST | net_core::netdevice::IFF_UP,
        pa_addr: ip("192.168.1.2"),
        pa_brdaddr: ip("192.168.1.255"),
        pa_mask: ip("255.255.255.0"),
    });
    l.dev_add(Device099 {
        ifindex: eth1,
        name: "eth1".into(),
        flags: net_core::netdevice::IFF_BROADCAST | net_core::netdevice::IFF_UP,
        pa_addr: ip("10.1.0.2"),
        pa_brdaddr: ip("10.1.255.255"),
        pa_mask: ip("255.255.0.0"),
    });
    let z = ip("0.0.0.0");
    let mask = |len: u8| Ipv4Addr::from(inet_make_mask(len));
    assert!(l.rt_add(0, ip("192.168.1.0"), mask(24), z, eth0));
    assert!(l.rt_add(0, ip("10.1.0.0"), mask(16), z, eth1));
    assert!(l.rt_add(RTF_GATEWAY, z, z, ip("192.168.1.1"), eth0));
    assert!(l.rt_add(RTF_GATEWAY, ip("10.0.0.0"), mask(8), ip("192.168.1.254"), eth0));
    assert!(l.rt_add(RTF_GATEWAY, ip("10.1.2.0"), mask(24), ip("10.1.0.1"), eth1));
    assert!(l.rt_add(RTF_GATEWAY | RTF_HOST, ip("10.1.2.3"), z, ip("192.168.1.253"), eth0));

    let show_fib = |d: &str| {
        let r = fib.fib_lookup(ip(d)).unwrap();
        format!("{}/{} via {}", r.dst, r.prefixlen, r.gateway.map_or("-".into(), |g| g.to_string()))
    };
    let mut show_099 = |d: &str| {
        let r = l.rt_route(ip(d)).unwrap();
        let len = u32::from(r.rt_mask).count_ones();
        let gw = if r.rt_flags & RTF_GATEWAY != 0 { r.rt_gateway.to_string() } else { "-".into() };
        format!("{}/{} via {}", r.rt_dst, len, gw)
    };
    let mut rows = vec!["destination    longest prefix (6.18)         first match (0.99)".to_string()];
    for d in ["10.1.2.3", "10.1.2.4", "10.1.7.7", "10.9.9.9", "192.168.1.77", "8.8.8.8"] {
        rows.push(format!("{d:<14} {:<30}{}", show_fib(d), show_099(d)));
    }
    // With rt_add's ordering (most specific mask first), first match is
    // longest match.
    assert_eq!(
        rows,
        [
            "destination    longest prefix (6.18)         first match (0.99)",
            "10.1.2.3       10.1.2.3/32 via 192.168.1.253 10.1.2.3/32 via 192.168.1.253",
            "10.1.2.4       10.1.2.0/24 via 10.1.0.1      10.1.2.0/24 via 10.1.0.1",
            "10.1.7.7       10.1.0.0/16 via -             10.1.0.0/16 via -",
            "10.9.9.9       10.0.0.0/8 via 192.168.1.254  10.0.0.0/8 via 192.168.1.254",
            "192.168.1.77   192.168.1.0/24 via -          192.168.1.0/24 via -",
            "8.8.8.8        0.0.0.0/0 via 192.168.1.1     0.0.0.0/0 via 192.168.1.1",
        ]
    );

    // Where they disagree: 0.99's rt_add removes every route with the same
    // rt_dst, whatever the mask. `route add -net 10.1.0.0 netmask
    // 255.255.255.0 gw 10.1.0.9` replaces the /16 in 0.99; today both stay
    // and 10.1.7.7 still takes the /16.
    assert!(l.rt_add(RTF_GATEWAY, ip("10.1.0.0"), mask(24), ip("10.1.0.9"), eth1));
    fib.fib_table_insert(unicast("10.1.0.0", 24, Some("10.1.0.9"), eth1)).unwrap();
    assert_eq!(show_fib("10.1.7.7"), "10.1.0.0/16 via -");
    let mut l2 = l.clone();
    let r = l2.rt_route(ip("10.1.7.7")).unwrap();
    assert_eq!((r.rt_dst, r.rt_mask), (ip("10.0.0.0"), mask(8)), "0.99 lost the /16: the /8 answers");
    // 10.1.0.0/16's hosts outside 10.1.0.0/24 now go to 192.168.1.254.
    assert_eq!(r.rt_gateway, ip("192.168.1.254"));
}

// ---------------------------------------------------------------------------
// (b) A — R — B
// ---------------------------------------------------------------------------

const LATENCY_NS: u64 = 100_000;
/// Protocol number for experimentation (RFC 3692).
const RAW_PROTO: u8 = 253;

type Received = Arc<Mutex<Vec<(u8, Ipv4Addr, Vec<u8>)>>>;

struct Lab {
    clock: Clock,
    a: Arc<Net>,
    r: Arc<Net>,
    b: Arc<Net>,
    a4: Arc<Ipv4>,
    r4: Arc<Ipv4>,
    got_b: Received,
    r_eth1: u32,
}

fn default_via(ipv4: &Ipv4, gw: &str, oif: u32) {
    ipv4.fib.fib_table_insert(unicast("0.0.0.0", 0, Some(gw), oif)).unwrap();
}

/// Record (ttl, saddr, payload) of each datagram of protocol `num`.
fn raw_protocol(ipv4: &Ipv4, num: u8) -> Received {
    let got: Received = Arc::default();
    let g = got.clone();
    let prot = NetProtocol {
        name: "raw_test_rcv",
        handler: Box::new(move |net: &Net, skb: Skb| {
            let (ttl, saddr) = IpHdr::new_checked(skb.network_header())
                .map(|h| (h.ttl(), h.saddr()))
                .expect("network header");
            g.lock().unwrap().push((ttl, saddr, skb.data().to_vec()));
            net.consume_skb(skb);
            NetRx::Success
        }),
        err_handler: None,
        early_demux: None,
    };
    ipv4.protos.inet_add_protocol(Arc::new(prot), num).expect("free slot");
    got
}

impl Lab {
    /// A 10.0.1.2/24 — (10.0.1.1/24) R (10.0.2.1/24) — B 10.0.2.2/24.
    fn new() -> Lab {
        let clock = Clock::new_virtual_at(1_000_000_000);
        let seg1 = Hub::new(&clock, LATENCY_NS);
        let seg2 = Hub::new(&clock, LATENCY_NS);
        let a = Net::new("a", clock.clone(), 1);
        let r = Net::new("r", clock.clone(), 2);
        let b = Net::new("b", clock.clone(), 3);
        let a4 = net_ipv4::ipv4_init(&a);
        let r4 = net_ipv4::ipv4_init(&r);
        let b4 = net_ipv4::ipv4_init(&b);
        let a_eth0 = seg1.attach(&a, "eth0", [2, 0, 0, 0, 1, 2]).ifindex;
        let r_eth0 = seg1.attach(&r, "eth0", [2, 0, 0, 0, 1, 1]).ifindex;
        let r_eth1 = seg2.attach(&r, "eth1", [2, 0, 0, 0, 2, 1]).ifindex;
        let b_eth0 = seg2.attach(&b, "eth0", [2, 0, 0, 0, 2, 2]).ifindex;
        inet_addr_add(&a, &a4, a_eth0, ip("10.0.1.2"), 24).unwrap();
        inet_addr_add(&r, &r4, r_eth0, ip("10.0.1.1"), 24).unwrap();
        inet_addr_add(&r, &r4, r_eth1, ip("10.0.2.1"), 24).unwrap();
        inet_addr_add(&b, &b4, b_eth0, ip("10.0.2.2"), 24).unwrap();
        default_via(&a4, "10.0.1.1", a_eth0);
        default_via(&b4, "10.0.2.1", b_eth0);
        r.sysctl.set("net.ipv4.ip_forward", "1").unwrap();
        let got_b = raw_protocol(&b4, RAW_PROTO);
        let lab = Lab { clock, a, r, b, a4, r4, got_b, r_eth1 };
        lab.run_ms(10);
        lab
    }

    fn run_ms(&self, ms: u64) {
        let deadline = self.clock.now_ns() + ms * 1_000_000;
        run_until_idle(&self.clock, &[&self.a, &self.r, &self.b], deadline);
    }

    fn send_a_to_b(&self, payload: &[u8], opts: IpSendOpts) {
        let mut skb = alloc_skb(MAX_HEADER + payload.len());
        skb.reserve(MAX_HEADER);
        skb.put_data(payload);
        ip_build_and_send_pkt(&self.a, &self.a4, skb, ip("0.0.0.0"), ip("10.0.2.2"), RAW_PROTO, opts)
            .unwrap();
    }
}

#[test]
fn a_reaches_b_through_r_with_ttl_decremented() {
    let lab = Lab::new();
    assert_eq!(
        lab.r4.fib.ip_route_show(&lab.r),
        "10.0.1.0/24 dev eth0 proto kernel scope link src 10.0.1.1\n\
         10.0.2.0/24 dev eth1 proto kernel scope link src 10.0.2.1\n"
    );
    lab.send_a_to_b(b"through the router", IpSendOpts::default());
    lab.run_ms(100);
    let got = lab.got_b.lock().unwrap().clone();
    assert_eq!(got, [(63, ip("10.0.1.2"), b"through the router".to_vec())]);
    assert_eq!(lab.r.mib.get(IpstatsMib::ForwDatagrams), 1);
    assert_eq!(lab.r.mib.get(IpstatsMib::OutRequests), 0, "forwarding is not a local send");
}

#[test]
fn ttl_1_draws_time_exceeded() {
    let lab = Lab::new();
    lab.send_a_to_b(b"dies at R", IpSendOpts { ttl: Some(1), ..Default::default() });
    lab.run_ms(100);
    assert!(lab.got_b.lock().unwrap().is_empty());
    assert_eq!(lab.r.mib.get(IpstatsMib::InHdrErrors), 1);
    assert_eq!(lab.r.mib.get(IpstatsMib::ForwDatagrams), 0);
    assert_eq!(lab.a.mib.get(IcmpMsg::In(11)), 1, "A hears ICMP time exceeded");
}

#[test]
fn df_and_too_big_draws_frag_needed() {
    let lab = Lab::new();
    lab.r.dev_set_mtu(&lab.r.dev_get_by_index(lab.r_eth1).unwrap(), 1000).unwrap();
    lab.send_a_to_b(&[0x5a; 1200], IpSendOpts { df: Some(true), ..Default::default() });
    lab.run_ms(100);
    assert!(lab.got_b.lock().unwrap().is_empty());
    assert_eq!(lab.r.mib.get(IpstatsMib::FragFails), 1);
    assert_eq!(lab.a.mib.get(IcmpMsg::In(3)), 1, "A hears fragmentation needed");
    // Without DF, R fragments and B reassembles.
    lab.send_a_to_b(&[0x5a; 1200], IpSendOpts { df: Some(false), ..Default::default() });
    lab.run_ms(100);
    let got = lab.got_b.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2.len(), 1200);
}

#[test]
fn no_forwarding_when_ip_forward_is_0() {
    let lab = Lab::new();
    lab.r.sysctl.set("net.ipv4.ip_forward", "0").unwrap();
    lab.send_a_to_b(b"stopped", IpSendOpts::default());
    lab.run_ms(100);
    assert!(lab.got_b.lock().unwrap().is_empty());
    assert_eq!(lab.r.mib.get(IpstatsMib::ForwDatagrams), 0);
    assert_eq!(lab.r.mib.get(IpstatsMib::InAddrErrors), 1);
}

#[test]
fn forwarding_without_a_route_draws_net_unreachable() {
    let lab = Lab::new();
    let mut skb = alloc_skb(MAX_HEADER + 4);
    skb.reserve(MAX_HEADER);
    skb.put_data(b"nope");
    // A's default route sends it to R, which has no route to 172.16.0.0/12.
    ip_build_and_send_pkt(
        &lab.a,
        &lab.a4,
        skb,
        ip("0.0.0.0"),
        ip("172.16.0.1"),
        RAW_PROTO,
        IpSendOpts::default(),
    )
    .unwrap();
    lab.run_ms(100);
    assert_eq!(lab.r.mib.get(net_core::snmp::IpExtMib::InNoRoutes), 1);
    assert_eq!(lab.r.mib.get(IpstatsMib::ForwDatagrams), 0);
    assert_eq!(lab.a.mib.get(IcmpMsg::In(3)), 1, "A hears network unreachable");
}

#[test]
fn address_on_an_up_device_is_announced_with_gratuitous_arp() {
    use std::sync::atomic::Ordering;
    let clock = Clock::new_virtual();
    let hub = Hub::new(&clock, LATENCY_NS);
    let net = Net::new("g", clock.clone(), 9);
    let ipv4 = net_ipv4::ipv4_init(&net);
    let dev = hub.attach(&net, "eth0", [2, 0, 0, 0, 9, 9]);
    let before = hub.frames.load(Ordering::Relaxed);
    inet_addr_add(&net, &ipv4, dev.ifindex, ip("192.0.2.1"), 24).unwrap();
    run_until_idle(&clock, &[&net], clock.now_ns() + 10_000_000);
    assert!(hub.frames.load(Ordering::Relaxed) > before, "a gratuitous ARP went out");
    let show = ipv4.devinet.ip_addr_show(&net);
    assert_eq!(
        show,
        format!(
            "{}: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP group default qlen 1000\n    \
             inet 192.0.2.1/24 brd 192.0.2.255 scope global eth0\n       valid_lft forever preferred_lft forever\n",
            dev.ifindex
        )
    );
}
