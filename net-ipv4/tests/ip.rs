//! IPv4 between two hosts on an in-memory Ethernet hub, in virtual time:
//! a raw transport registered with `inet_add_protocol` receives datagrams
//! sent with `ip_build_and_send_pkt`, a 64 KiB one fragmented to the
//! 1500-byte MTU and reassembled; an unknown protocol draws ICMP protocol
//! unreachable; a lone first fragment draws ICMP "fragment reassembly time
//! exceeded" after `ipfrag_time`; DF and too big is `EMSGSIZE` plus ICMP
//! "fragmentation needed" to ourselves; a datagram
//! to one of our own addresses loops back.

use std::sync::{Arc, Mutex};

use net_core::skbuff::alloc_skb;
use net_core::snmp::{IcmpMsg, IpExtMib, IpstatsMib};
use net_core::{Clock, Errno, Net, NetRx, Skb};
use net_ipv4::ip::{IP_MF, IPHDR_LEN, IpHdr, IpHdrBuilder};
use net_ipv4::ip_output::{IpSendOpts, ip_build_and_send_pkt, ip_local_out};
use net_ipv4::protocol::NetProtocol;
use net_ipv4::testlink::{Hub, TwoHosts as Lab, run_until_idle};
use net_ipv4::{Ipv4, Ipv4Addr, MAX_HEADER};

/// One-way latency of the hub: 100 µs.
const LATENCY_NS: u64 = 100_000;
const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Protocol numbers for experimentation (RFC 3692).
const RAW_PROTO: u8 = 253;
const UNKNOWN_PROTO: u8 = 254;

type Received = Arc<Mutex<Vec<(Ipv4Addr, Vec<u8>)>>>;

fn lab() -> Lab {
    Lab::new(LATENCY_NS)
}

/// Register a raw transport on `ipv4` as protocol `num` that records the
/// source address and payload of each datagram.
fn raw_protocol(ipv4: &Ipv4, num: u8) -> Received {
    let got: Received = Arc::default();
    let g = got.clone();
    let prot = NetProtocol {
        name: "raw_test_rcv",
        handler: Box::new(move |net: &Net, skb: Skb| {
            let saddr = IpHdr::new_checked(skb.network_header()).map(|h| h.saddr()).expect("network header");
            g.lock().unwrap().push((saddr, skb.data().to_vec()));
            net.consume_skb(skb);
            NetRx::Success
        }),
        err_handler: None,
        early_demux: None,
    };
    ipv4.protos.inet_add_protocol(Arc::new(prot), num).expect("free slot");
    got
}

/// An skb holding `payload` behind `MAX_HEADER` of headroom.
fn payload_skb(payload: &[u8]) -> Skb {
    let mut skb = alloc_skb(MAX_HEADER + payload.len());
    skb.reserve(MAX_HEADER);
    skb.put_data(payload);
    skb
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 256) as u8).collect()
}

const FRAGMENTABLE: IpSendOpts =
    IpSendOpts { ttl: None, tos: 0, df: Some(false), oif: None, append_data: false, id: None };

#[test]
fn raw_protocol_receives_small_and_64k_datagrams() {
    let lab = lab();
    let got = raw_protocol(&lab.b4, RAW_PROTO);

    ip_build_and_send_pkt(&lab.a, &lab.a4, payload_skb(b"hello"), A, B, RAW_PROTO, IpSendOpts::default())
        .expect("send");
    lab.run_ms(10);
    assert_eq!(*got.lock().unwrap(), vec![(A, b"hello".to_vec())]);
    assert_eq!(lab.a.mib.get(IpstatsMib::OutRequests), 1);
    assert!(lab.b.mib.get(IpstatsMib::InDelivers) >= 1);

    // The largest datagram IPv4 can carry: 65535 - 20 bytes of payload,
    // cut into 45 fragments for the 1500-byte MTU.
    let big = pattern(65515);
    let frags_before = lab.a.mib.get(IpstatsMib::FragCreates);
    ip_build_and_send_pkt(
        &lab.a,
        &lab.a4,
        payload_skb(&big),
        Ipv4Addr::UNSPECIFIED,
        B,
        RAW_PROTO,
        FRAGMENTABLE,
    )
    .expect("send 64 KiB");
    lab.run_ms(100);
    let g = got.lock().unwrap();
    assert_eq!(g.len(), 2, "the big datagram arrived once");
    assert_eq!(g[1].0, A, "the route chose our address as the source");
    assert!(g[1].1 == big, "reassembled bytes differ");
    assert_eq!(lab.a.mib.get(IpstatsMib::FragCreates) - frags_before, 45);
    assert_eq!(lab.a.mib.get(IpstatsMib::FragOKs), 1);
    assert_eq!(lab.b.mib.get(IpstatsMib::ReasmReqds), 45);
    assert_eq!(lab.b.mib.get(IpstatsMib::ReasmOKs), 1);
    assert_eq!(lab.b.mib.get(IpstatsMib::ReasmFails), 0);
    assert_eq!(lab.b4.frags.mem(), 0);
}

#[test]
fn df_and_too_big_is_emsgsize() {
    let lab = lab();
    let r = ip_build_and_send_pkt(
        &lab.a,
        &lab.a4,
        payload_skb(&pattern(3000)),
        A,
        B,
        RAW_PROTO,
        IpSendOpts::default(),
    );
    assert_eq!(r, Err(Errno::EMSGSIZE));
    assert_eq!(lab.a.mib.get(IpstatsMib::FragFails), 1);
    // As Linux's ip_fragment(): "fragmentation needed" (3/4) goes to the
    // datagram's source, here ourselves, and arrives back through icmp_rcv.
    lab.run_ms(10);
    use net_core::snmp::IcmpMsg;
    assert_eq!(lab.a.mib.get(IcmpMsg::Out(3)), 1, "ICMP frag needed sent");
    assert_eq!(lab.a.mib.get(IcmpMsg::In(3)), 1, "and received by a itself");
    assert_eq!(lab.b.mib.get(IcmpMsg::In(3)), 0, "nothing left the host");
}

#[test]
fn unknown_protocol_draws_protocol_unreachable() {
    let lab = lab();
    ip_build_and_send_pkt(
        &lab.a,
        &lab.a4,
        payload_skb(&[0u8; 32]),
        A,
        B,
        UNKNOWN_PROTO,
        IpSendOpts::default(),
    )
    .expect("send");
    lab.run_ms(10);
    assert_eq!(lab.b.mib.get(IpstatsMib::InUnknownProtos), 1);
    assert_eq!(lab.b.mib.get(IcmpMsg::Out(3)), 1, "B sent destination unreachable");
    assert_eq!(lab.a.mib.get(IcmpMsg::In(3)), 1, "A received it");
}

#[test]
fn lone_first_fragment_times_out_with_icmp() {
    let lab = lab();
    let _got = raw_protocol(&lab.b4, RAW_PROTO);
    // A first fragment (MF, offset 0) whose rest never comes.
    let rt = net_ipv4::route::ip_route_output(&lab.a, &lab.a4, B, None, None).expect("route");
    let payload = [7u8; 64];
    let mut skb = alloc_skb(MAX_HEADER + IPHDR_LEN + payload.len());
    skb.reserve(MAX_HEADER);
    let hdr = IpHdrBuilder {
        id: 4242,
        frag_off: IP_MF,
        protocol: RAW_PROTO,
        saddr: A,
        daddr: B,
        ..IpHdrBuilder::TEMPLATE
    };
    skb.put_data(&hdr.datagram(&payload));
    ip_local_out(&lab.a, &lab.a4, skb, &rt).expect("send fragment");
    lab.run_ms(1_000);
    assert_eq!(lab.b4.frags.queues(), 1);
    assert!(lab.b4.frags.mem() > 0);
    lab.run_ms(30_000);
    assert_eq!(lab.b4.frags.queues(), 0);
    assert_eq!(lab.b4.frags.mem(), 0);
    assert_eq!(lab.b.mib.get(IpstatsMib::ReasmTimeout), 1);
    assert_eq!(lab.b.mib.get(IpstatsMib::ReasmFails), 1);
    assert_eq!(lab.b.mib.get(IcmpMsg::Out(11)), 1, "B sent time exceeded");
    assert_eq!(lab.a.mib.get(IcmpMsg::In(11)), 1, "A received it");
}

#[test]
fn datagram_to_own_address_loops_back() {
    let lab = lab();
    let got = raw_protocol(&lab.a4, RAW_PROTO);
    let frames = lab.a.mib.get(IpstatsMib::OutTransmits);
    ip_build_and_send_pkt(&lab.a, &lab.a4, payload_skb(b"to myself"), A, A, RAW_PROTO, IpSendOpts::default())
        .expect("send");
    lab.run_ms(1);
    assert_eq!(*got.lock().unwrap(), vec![(A, b"to myself".to_vec())]);
    assert_eq!(lab.a.mib.get(IpstatsMib::OutTransmits) - frames, 1);
    assert!(lab.a.mib.get(IpExtMib::InOctets) > 0);
}

/// A 10.0.1.2/24 — (10.0.1.1) R (10.0.2.1, MTU 576) — C 10.0.2.2/24: a
/// 64 KiB datagram cut to 1500 by A is cut again to 576 by R (fragments of
/// fragments keep MF and their offsets), and C puts it back together.
#[test]
fn router_refragments_to_a_smaller_mtu() {
    use net_ipv4::devinet::inet_addr_add;
    use net_ipv4::fib::{FibRoute, RtnType};
    let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    let clock = Clock::new_virtual_at(1_000_000_000);
    let seg1 = Hub::new(&clock, LATENCY_NS);
    let seg2 = Hub::new(&clock, LATENCY_NS);
    let (a, r, c) =
        (Net::new("a", clock.clone(), 1), Net::new("r", clock.clone(), 2), Net::new("c", clock.clone(), 3));
    let (a4, r4, c4) = (net_ipv4::ipv4_init(&a), net_ipv4::ipv4_init(&r), net_ipv4::ipv4_init(&c));
    let a_eth0 = seg1.attach(&a, "eth0", [2, 0, 0, 0, 1, 2]).ifindex;
    let r_eth0 = seg1.attach(&r, "eth0", [2, 0, 0, 0, 1, 1]).ifindex;
    let r_eth1 = r.register_netdev(Box::new(seg2.port("eth1", [2, 0, 0, 0, 2, 1]).with_mtu(576))).unwrap();
    r_eth1.open().unwrap();
    let c_eth0 = seg2.attach(&c, "eth0", [2, 0, 0, 0, 2, 2]).ifindex;
    inet_addr_add(&a, &a4, a_eth0, ip("10.0.1.2"), 24).unwrap();
    inet_addr_add(&r, &r4, r_eth0, ip("10.0.1.1"), 24).unwrap();
    inet_addr_add(&r, &r4, r_eth1.ifindex, ip("10.0.2.1"), 24).unwrap();
    inet_addr_add(&c, &c4, c_eth0, ip("10.0.2.2"), 24).unwrap();
    let default_via = |ipv4: &Ipv4, gw: &str, oif: u32| {
        ipv4.fib
            .fib_table_insert(FibRoute {
                dst: Ipv4Addr::UNSPECIFIED,
                prefixlen: 0,
                gateway: Some(ip(gw)),
                oif,
                metric: 0,
                rtn_type: RtnType::Unicast,
                prefsrc: None,
            })
            .unwrap();
    };
    default_via(&a4, "10.0.1.1", a_eth0);
    default_via(&c4, "10.0.2.1", c_eth0);
    r.sysctl.set("net.ipv4.ip_forward", "1").unwrap();
    let got = raw_protocol(&c4, RAW_PROTO);
    let run = |ms: u64| run_until_idle(&clock, &[&a, &r, &c], clock.now_ns() + ms * 1_000_000);
    run(10);

    let big = pattern(65515);
    ip_build_and_send_pkt(
        &a,
        &a4,
        payload_skb(&big),
        Ipv4Addr::UNSPECIFIED,
        ip("10.0.2.2"),
        RAW_PROTO,
        FRAGMENTABLE,
    )
    .expect("send");
    run(200);
    let g = got.lock().unwrap();
    assert_eq!(g.len(), 1);
    assert!(g[0].1 == big, "reassembled bytes differ");
    assert_eq!(a.mib.get(IpstatsMib::FragCreates), 45);
    assert_eq!(r.mib.get(IpstatsMib::ForwDatagrams), 45);
    // Each 1500-byte fragment (1480 of payload) becomes 552 + 552 + 376;
    // the last one (395 bytes of payload) fits as it is.
    assert_eq!(r.mib.get(IpstatsMib::FragOKs), 44);
    assert_eq!(r.mib.get(IpstatsMib::FragCreates), 44 * 3);
    assert_eq!(c.mib.get(IpstatsMib::ReasmOKs), 1);
    assert_eq!(c.mib.get(IpstatsMib::ReasmReqds), 44 * 3 + 1);
    assert_eq!(c4.frags.mem(), 0);
}

/// What B's tap saw: (frag_off, id) of every IPv4 datagram.
fn tap_ip_headers(net: &Net) -> Arc<Mutex<Vec<(u16, u16)>>> {
    let seen: Arc<Mutex<Vec<(u16, u16)>>> = Arc::default();
    let s = seen.clone();
    net.dev_add_pack(net_core::PacketType::tap("test_tap", move |_net, skb| {
        if skb.protocol == net_core::if_ether::ETH_P_IP {
            if let Some(h) = IpHdr::new_checked(skb.data()) {
                s.lock().unwrap().push((h.frag_off(), h.id()));
            }
        }
        NetRx::Success
    }));
    seen
}

/// `ip_build_and_send_pkt()`'s ID rule: DF (the default) or at most 68
/// bytes → DF and ID 0; otherwise no DF and consecutive IDs from the
/// per-destination generator.
#[test]
fn df_and_ids_as_linux_sets_them() {
    use net_ipv4::ip::IP_DF;
    let lab = lab();
    let _got = raw_protocol(&lab.b4, RAW_PROTO);
    let seen = tap_ip_headers(&lab.b);
    let send = |n: usize, opts: IpSendOpts| {
        ip_build_and_send_pkt(&lab.a, &lab.a4, payload_skb(&pattern(n)), A, B, RAW_PROTO, opts).unwrap()
    };
    send(100, IpSendOpts::default());
    send(20, FRAGMENTABLE); // 40 bytes <= 68: DF anyway
    send(100, FRAGMENTABLE);
    send(100, FRAGMENTABLE);
    lab.run_ms(10);
    let s = seen.lock().unwrap().clone();
    assert_eq!(s.len(), 4);
    assert_eq!(s[0], (IP_DF, 0));
    assert_eq!(s[1], (IP_DF, 0));
    assert_eq!(s[2].0, 0);
    assert_eq!(s[3].0, 0);
    assert_eq!(s[3].1, s[2].1.wrapping_add(1), "same jiffy, same bucket: consecutive IDs");
}

/// A flood of first fragments that never complete: reassembly memory stops
/// growing at `net.ipv4.ipfrag_high_thresh` (set here to 256 KiB), the
/// rest are dropped as `ReasmFails`, and `ipfrag_time` later frees it all.
#[test]
fn fragment_flood_is_bounded_by_the_sysctl() {
    use net_core::skbuff::skb_from_frame;
    let lab = lab();
    let high = 256 * 1024;
    lab.b.sysctl.set("net.ipv4.ipfrag_high_thresh", &high.to_string()).unwrap();
    let dev = lab.b.dev_get_by_name("eth0").unwrap().ifindex;
    let mut biggest = 0;
    for id in 0..3000u16 {
        let hdr = IpHdrBuilder {
            id,
            frag_off: IP_MF,
            protocol: RAW_PROTO,
            saddr: A,
            daddr: B,
            ..IpHdrBuilder::TEMPLATE
        };
        let mut skb = skb_from_frame(dev, &hdr.datagram(&[0u8; 1000]));
        skb.skb_iif = dev;
        biggest = biggest.max(skb.truesize as usize);
        net_ipv4::ip_input::ip_rcv(&lab.b, &lab.b4, skb);
        let mem = lab.b4.frags.mem();
        assert!(mem <= high + biggest + net_ipv4::ip_fragment::IPQ_SIZE, "{mem} bytes after {id}");
    }
    assert!(lab.b.mib.get(IpstatsMib::ReasmFails) > 2000);
    lab.run_ms(31_000);
    assert_eq!(lab.b4.frags.mem(), 0);
    assert_eq!(lab.b4.frags.queues(), 0);
}

mod fuzz {
    use super::*;
    use net_core::skbuff::skb_from_frame;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        /// Random datagrams for B, mostly with good checksums, through the
        /// whole receive path (routing, reassembly, ICMP, UDP): nothing
        /// panics, every one is counted once, reassembly memory stays bounded.
        #[test]
        fn whole_receive_path_never_panics(
            dgrams in proptest::collection::vec(
                (any::<u8>(), any::<u16>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..200), any::<bool>(), 0usize..40),
                1..24,
            ),
        ) {
            let lab = lab();
            let before = lab.b.mib.get(IpstatsMib::InReceives);
            let dev = lab.b.dev_get_by_name("eth0").unwrap().ifindex;
            for (proto, frag_off, id, payload, corrupt, at) in &dgrams {
                let proto = [1u8, 6, 17, RAW_PROTO, *proto][usize::from(*proto) % 5];
                let hdr = IpHdrBuilder { id: *id, frag_off: *frag_off, protocol: proto, saddr: A, daddr: B, ..IpHdrBuilder::TEMPLATE };
                let mut d = hdr.datagram(payload);
                if *corrupt && *at < d.len() {
                    d[*at] = d[*at].wrapping_add(1);
                }
                let mut skb = skb_from_frame(dev, &d);
                skb.skb_iif = dev;
                skb.protocol = net_core::if_ether::ETH_P_IP;
                net_ipv4::ip_input::ip_rcv(&lab.b, &lab.b4, skb);
            }
            lab.run_ms(40_000);
            prop_assert_eq!(lab.b.mib.get(IpstatsMib::InReceives) - before, dgrams.len() as u64);
            prop_assert_eq!(lab.b4.frags.mem(), 0, "every queue timed out");
        }
    }
}
