//! ARP and the neighbour table between hosts on an in-memory Ethernet hub,
//! in virtual time: a datagram handed to `neigh_output` waits while ARP
//! resolves, then arrives; both sides learn each other (`REACHABLE` on the
//! asker, `STALE` on the answerer, as Linux's `arp_process` does); an
//! address nobody owns fails after three broadcast requests, the queued
//! datagram dropped with an ICMP host unreachable; an ARP request flood
//! from thousands of senders leaves the table at `gc_thresh3`.

use std::sync::{Arc, Mutex};

use net_core::dropreason::SkbDropReason;
use net_core::if_ether::ETH_P_ARP;
use net_core::skbuff::{alloc_skb, skb_from_frame};
use net_core::snmp::IcmpMsg;
use net_core::{Clock, Net, NetDev, NetRx, Skb};
use net_ipv4::arp::{ARP_HDR_LEN, ARPOP_REQUEST, write_arphdr};
use net_ipv4::eth::{ETH_BROADCAST, write_ethhdr};
use net_ipv4::ip::{IPHDR_LEN, IpHdrBuilder};
use net_ipv4::neighbour::{NEIGH_GC_THRESH3, NeighStat, NudState, neigh_output};
use net_ipv4::protocol::NetProtocol;
use net_ipv4::testlink::{Hub, run_until_idle};
use net_ipv4::{Ipv4, Ipv4Addr, MAX_HEADER};

const LATENCY_NS: u64 = 100_000;
const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const NOBODY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
/// An experimental protocol number (RFC 3692).
const RAW_PROTO: u8 = 253;

struct Lab {
    clock: Clock,
    hub: Hub,
    a: Arc<Net>,
    b: Arc<Net>,
    a4: Arc<Ipv4>,
    b4: Arc<Ipv4>,
    a_dev: Arc<NetDev>,
}

impl Lab {
    /// 10.0.0.1/24 and 10.0.0.2/24 on one hub.
    fn new() -> Lab {
        let clock = Clock::new_virtual_at(1_000_000_000);
        let hub = Hub::new(&clock, LATENCY_NS);
        let host = |name: &str, mac: [u8; 6], addr: Ipv4Addr, seed: u64| {
            let net = Net::new(name, clock.clone(), seed);
            let ipv4 = net_ipv4::ipv4_init(&net);
            let dev = hub.attach(&net, "eth0", mac);
            net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, addr, 24).expect("address");
            (net, ipv4, dev)
        };
        let (a, a4, a_dev) = host("a", MAC_A, A, 1);
        let (b, b4, _) = host("b", MAC_B, B, 2);
        let lab = Lab { clock, hub, a, b, a4, b4, a_dev };
        lab.run_ms(10);
        lab
    }

    fn run_ms(&self, ms: u64) {
        let deadline = self.clock.now_ns() + ms * 1_000_000;
        run_until_idle(&self.clock, &[&self.a, &self.b], deadline);
    }

    /// A datagram from A to `daddr` with `payload`, data at the IP header.
    fn datagram(daddr: Ipv4Addr, payload: &[u8]) -> Skb {
        let hdr = IpHdrBuilder { protocol: RAW_PROTO, saddr: A, daddr, ..IpHdrBuilder::TEMPLATE };
        let bytes = hdr.datagram(payload);
        let mut skb = alloc_skb(MAX_HEADER + bytes.len());
        skb.reserve(MAX_HEADER);
        skb.put_data(&bytes);
        skb.reset_network_header();
        skb
    }
}

type Received = Arc<Mutex<Vec<Vec<u8>>>>;

fn raw_protocol(ipv4: &Ipv4) -> Received {
    let got: Received = Arc::default();
    let g = got.clone();
    let prot = NetProtocol {
        name: "raw_test_rcv",
        handler: Box::new(move |net: &Net, skb: Skb| {
            g.lock().unwrap().push(skb.data().to_vec());
            net.consume_skb(skb);
            NetRx::Success
        }),
        err_handler: None,
        early_demux: None,
    };
    ipv4.protos.inet_add_protocol(Arc::new(prot), RAW_PROTO).expect("free slot");
    got
}

#[test]
fn arp_resolves_then_datagram_arrives() {
    let lab = Lab::new();
    let got = raw_protocol(&lab.b4);
    // Gratuitous ARP on address add taught nobody anything (arp_accept = 0).
    assert!(lab.a4.arp_tbl.is_empty() && lab.b4.arp_tbl.is_empty());

    neigh_output(&lab.a, &lab.a4, &lab.a_dev, B, Lab::datagram(B, b"hello")).unwrap();
    let n = lab.a4.arp_tbl.neigh_lookup(lab.a_dev.ifindex, B).expect("entry created");
    assert_eq!(n.nud_state(), NudState::Incomplete);
    assert_eq!(n.arp_queue_len(), 1, "the datagram waits for the reply");
    assert!(got.lock().unwrap().is_empty());

    lab.run_ms(5);
    assert_eq!(got.lock().unwrap().as_slice(), &[b"hello".to_vec()]);
    assert_eq!((n.nud_state(), n.ha()), (NudState::Reachable, MAC_B));
    assert_eq!(n.arp_queue_len(), 0);
    // B learnt A from the request: STALE, as neigh_event_ns leaves it.
    let m = lab.b4.arp_tbl.neigh_lookup(1, A).expect("B learnt A");
    assert_eq!((m.nud_state(), m.ha()), (NudState::Stale, MAC_A));

    assert_eq!(
        lab.a4.arp_tbl.ip_neigh_show(&lab.a),
        "10.0.0.2 dev eth0 lladdr 02:00:00:00:00:02 REACHABLE\n"
    );
    assert_eq!(lab.b4.arp_tbl.ip_neigh_show(&lab.b), "10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 STALE\n");

    // Resolved: the next datagram goes straight out, no ARP.
    let frames = lab.hub.frames.load(std::sync::atomic::Ordering::Relaxed);
    neigh_output(&lab.a, &lab.a4, &lab.a_dev, B, Lab::datagram(B, b"again")).unwrap();
    lab.run_ms(5);
    assert_eq!(lab.hub.frames.load(std::sync::atomic::Ordering::Relaxed), frames + 1);
    assert_eq!(got.lock().unwrap().len(), 2);
}

#[test]
fn unresolvable_neighbour_fails_with_icmp_host_unreachable() {
    let lab = Lab::new();
    let before = lab.hub.frames.load(std::sync::atomic::Ordering::Relaxed);
    neigh_output(&lab.a, &lab.a4, &lab.a_dev, NOBODY, Lab::datagram(NOBODY, b"anyone?")).unwrap();
    lab.run_ms(2_500);
    let n = lab.a4.arp_tbl.neigh_lookup(1, NOBODY).unwrap();
    assert_eq!(n.nud_state(), NudState::Incomplete);
    lab.run_ms(1_000);
    assert_eq!(n.nud_state(), NudState::Failed);
    assert_eq!(
        lab.hub.frames.load(std::sync::atomic::Ordering::Relaxed) - before,
        3,
        "mcast_solicit = 3 broadcast requests"
    );
    assert_eq!(lab.a.drops.get(SkbDropReason::NeighFailed), 1);
    assert_eq!(lab.a4.arp_tbl.stats().get(NeighStat::ResFailed), 1);
    assert_eq!(lab.a.mib.get(IcmpMsg::Out(3)), 1, "arp_error_report sent host unreachable");
    assert_eq!(lab.a4.arp_tbl.ip_neigh_show(&lab.a), "10.0.0.9 dev eth0 FAILED\n");
}

#[test]
fn arp_request_flood_is_bounded_by_gc_thresh3() {
    let lab = Lab::new();
    // A third station on the hub with no stack: it only injects frames.
    let c = Net::new("c", lab.clock.clone(), 3);
    let c_dev = lab.hub.attach(&c, "eth0", [0x02, 0, 0, 0, 0, 3]);
    let flood = NEIGH_GC_THRESH3 + 500;
    for k in 0..flood as u32 {
        let sip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 16, 0)) + k);
        let sha = [0x02, 0xff, 0, (k >> 16) as u8, (k >> 8) as u8, k as u8];
        let mut f = vec![0u8; 14 + ARP_HDR_LEN];
        write_ethhdr(&mut f, &ETH_BROADCAST, &sha, ETH_P_ARP);
        write_arphdr(&mut f[14..], 1, ARPOP_REQUEST, &sha, sip, &[0; 6], A);
        let _ = c.dev_queue_xmit(skb_from_frame(c_dev.ifindex, &f));
        if k % 200 == 199 {
            run_until_idle(&lab.clock, &[&lab.a, &lab.b, &c], lab.clock.now_ns() + 1_000_000);
        }
    }
    run_until_idle(&lab.clock, &[&lab.a, &lab.b, &c], lab.clock.now_ns() + 10_000_000);
    let tbl = &lab.a4.arp_tbl;
    assert_eq!(tbl.len(), NEIGH_GC_THRESH3, "held at gc_thresh3");
    assert_eq!(tbl.stats().get(NeighStat::TableFulls), (flood - NEIGH_GC_THRESH3) as u64);
    assert!(tbl.stats().get(NeighStat::ForcedGcRuns) > 0);
    assert_eq!(tbl.ip_neigh_show(&lab.a).lines().count(), NEIGH_GC_THRESH3);
    // Sysctls bound it too: a smaller gc_thresh3 applies on the next packet.
    lab.a.sysctl.set("net.ipv4.neigh.default.gc_thresh3", "2000").unwrap();
    neigh_output(&lab.a, &lab.a4, &lab.a_dev, B, Lab::datagram(B, &[0; IPHDR_LEN])).unwrap();
    assert_eq!(tbl.gc_thresh().2, 2000);
}

#[test]
fn neigh_sysctls_shape_resolution() {
    let lab = Lab::new();
    lab.a.sysctl.set("net.ipv4.neigh.default.mcast_solicit", "1").unwrap();
    lab.a.sysctl.set("net.ipv4.neigh.default.retrans_time_ms", "200").unwrap();
    let before = lab.hub.frames.load(std::sync::atomic::Ordering::Relaxed);
    neigh_output(&lab.a, &lab.a4, &lab.a_dev, NOBODY, Lab::datagram(NOBODY, b"x")).unwrap();
    lab.run_ms(199);
    let n = lab.a4.arp_tbl.neigh_lookup(1, NOBODY).unwrap();
    assert_eq!(n.nud_state(), NudState::Incomplete);
    lab.run_ms(1);
    assert_eq!(n.nud_state(), NudState::Failed, "one request, one retrans_time");
    assert_eq!(lab.hub.frames.load(std::sync::atomic::Ordering::Relaxed) - before, 1);
}

/// `neigh_output()`'s fast path: a `NUD_CONNECTED` entry sends through its
/// header cache (`neigh_hh_output`) without `neigh_resolve_output`; the
/// entry still ages (`REACHABLE` → `STALE` unused), a `STALE` entry goes
/// back through `neigh_resolve_output` (→ `DELAY`, sent at once), and the
/// probe that follows brings it back to `REACHABLE` and the fast path.
#[test]
fn connected_entry_uses_the_header_cache_and_still_ages() {
    use net_core::ftrace::GraphTracer;
    let lab = Lab::new();
    let got = raw_protocol(&lab.b4);
    let send = |payload: &[u8]| -> Vec<&'static str> {
        let t = GraphTracer::start(1024);
        neigh_output(&lab.a, &lab.a4, &lab.a_dev, B, Lab::datagram(B, payload)).unwrap();
        let trace = t.finish();
        lab.run_ms(5);
        trace.entries().map(|(f, _)| f).filter(|f| f.starts_with("neigh_")).collect()
    };
    let state = || lab.a4.arp_tbl.neigh_lookup(lab.a_dev.ifindex, B).unwrap().nud_state();

    // Unresolved: the slow path queues and ARP resolves.
    assert_eq!(send(b"one"), ["neigh_output", "neigh_resolve_output"]);
    assert_eq!(state(), NudState::Reachable);
    // REACHABLE: the cached header.
    assert_eq!(send(b"two"), ["neigh_output", "neigh_hh_output"]);
    assert_eq!(got.lock().unwrap().len(), 2);
    // Unused past reachable_time (at most 1.5 × 30 s): STALE, no fast path.
    lab.run_ms(46_000);
    assert_eq!(state(), NudState::Stale);
    assert_eq!(send(b"three"), ["neigh_output", "neigh_resolve_output"]);
    assert_eq!(state(), NudState::Delay, "a STALE entry used goes DELAY");
    assert_eq!(got.lock().unwrap().len(), 3, "and sends at once");
    // DELAY → PROBE after 5 s; b answers the unicast probe: REACHABLE again.
    lab.run_ms(6_000);
    assert_eq!(state(), NudState::Reachable);
    assert_eq!(send(b"four"), ["neigh_output", "neigh_hh_output"]);
    assert_eq!(got.lock().unwrap().len(), 4);
}

/// An entry kept busy through the fast path still notes its use, so when
/// `reachable_time` runs out it goes `DELAY` (recently used), not `STALE`,
/// as before the fast path existed.
#[test]
fn busy_connected_entry_goes_delay() {
    let lab = Lab::new();
    let _got = raw_protocol(&lab.b4);
    neigh_output(&lab.a, &lab.a4, &lab.a_dev, B, Lab::datagram(B, b"x")).unwrap();
    lab.run_ms(5);
    let n = lab.a4.arp_tbl.neigh_lookup(lab.a_dev.ifindex, B).unwrap();
    assert_eq!(n.nud_state(), NudState::Reachable);
    let mut seen_delay = false;
    for _ in 0..50 {
        neigh_output(&lab.a, &lab.a4, &lab.a_dev, B, Lab::datagram(B, b"x")).unwrap();
        lab.run_ms(1_000);
        match n.nud_state() {
            NudState::Delay => seen_delay = true,
            NudState::Stale => panic!("a busy entry went STALE"),
            _ => {}
        }
    }
    assert!(seen_delay, "REACHABLE → DELAY once reachable_time ran out");
}
