//! The floods of issue #11 that need no TCP: incomplete fragments and ARP.
//!
//! Two linnet hosts, A (10.0.0.1) and B (10.0.0.2), on an in-memory hub
//! in virtual time, and a third station C with no stack that only injects
//! frames: the attacker on the same segment. Each flood comes from a
//! seeded xorshift (the same every run), is injected in batches of
//! [`BATCH`] frames, is bounded in count (1,000,000 fragments, 500,000
//! ARP frames; `LINNET_FRAG_FLOOD` and `LINNET_ARP_FLOOD` override them) and in wall
//! time ([`WALL_LIMIT`], a hang guard only), prints its figures
//! (`--nocapture`) and asserts, as Linux 6.18 behaves:
//!
//! - [`fragment_flood_is_bounded_by_ipfrag_high_thresh`]: fragments of
//!   datagrams that never complete, with random sources and IDs, never
//!   take B's reassembly memory (`fqdir->mem`) past `ipfrag_high_thresh`
//!   by more than one fragment and one queue (`inet_frag_find()` refuses
//!   once it is over: `ReasmFails`); their queues die after
//!   `ipfrag_time` (`ReasmTimeout`, `ReasmFails`); once they have, a real
//!   fragmented UDP datagram from A is reassembled.
//! - [`arp_flood_is_bounded_by_gc_thresh3`]: ARP requests for A and
//!   unsolicited replies to A from random addresses and MACs of the
//!   subnet (a /16 here, so there are many) never grow A's neighbour table
//!   past `gc_thresh3` (`neigh_alloc()`: forced GC, else `table_fulls`);
//!   replies create nothing (`arp_accept` = 0); after the flood A still
//!   resolves B and talks to it.
//!
//! Each asserts that the process's peak RSS grows by less than a bound
//! derived next to its constant. The tests of this file run one at a time
//! for that.

use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use net_core::if_ether::ETH_P_ARP;
use net_core::skbuff::skb_from_frame;
use net_core::snmp::IpstatsMib;
use net_core::{Clock, Errno, Net, NetDev};
use net_ipv4::arp::{ARP_HDR_LEN, ARPOP_REPLY, ARPOP_REQUEST, write_arphdr};
use net_ipv4::eth::{ETH_BROADCAST, write_ethhdr};
use net_ipv4::ip::{IP_MF, IPPROTO_UDP, IpHdrBuilder};
use net_ipv4::ip_fragment::{IPFRAG_HIGH_THRESH, IPFRAG_TIME_SECS, IPQ_SIZE};
use net_ipv4::neighbour::{NEIGH_GC_THRESH3, NeighStat, NudState};
use net_ipv4::testlink::{Hub, run_until_idle};
use net_ipv4::udp::UdpSocket;
use net_ipv4::{Ipv4, Ipv4Addr};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
const MAC_C: [u8; 6] = [0x02, 0, 0, 0, 0, 3];
const LATENCY_NS: u64 = 10_000;
/// Frames injected per step.
const BATCH: usize = 1024;
/// Wall-clock limit on one flood, so a regression fails instead of hanging.
const WALL_LIMIT: Duration = Duration::from_secs(300);

/// A flood's size: the environment variable `var`, else `default`; at
/// least two batches.
fn flood_count(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{var}: a number of frames"))
            .max(2 * BATCH as u64),
        Err(_) => default,
    }
}

/// A seeded xorshift64* generator: the same flood every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    /// A locally administered unicast MAC.
    fn mac(&mut self) -> [u8; 6] {
        let r = self.next().to_be_bytes();
        [0x02, r[1], r[2], r[3], r[4], r[5]]
    }
}

// -- memory (as net-tcp/tests/common/mod.rs) ---------------------------------------------

/// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`), if there is one.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak-memory bookkeeping around a flood: `VmHWM` reset to the current
/// RSS (`echo 5 > /proc/self/clear_refs`) where that works, and sampled
/// `VmRSS` besides.
struct MemWatch {
    hwm_reset: bool,
    rss_before: u64,
    sampled: u64,
}

impl MemWatch {
    fn start() -> MemWatch {
        let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let rss_before = proc_status_bytes("VmRSS").unwrap_or(0);
        MemWatch { hwm_reset, rss_before, sampled: rss_before }
    }

    fn sample(&mut self) {
        self.sampled = self.sampled.max(proc_status_bytes("VmRSS").unwrap_or(0));
    }

    fn growth(mut self) -> u64 {
        self.sample();
        let hwm = if self.hwm_reset { proc_status_bytes("VmHWM").unwrap_or(0) } else { 0 };
        hwm.max(self.sampled).saturating_sub(self.rss_before)
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// One flood at a time: each reads the process's peak memory.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / 1048576.0)
}

fn build() -> &'static str {
    if cfg!(debug_assertions) { "debug" } else { "release" }
}

// -- the lab ------------------------------------------------------------------------------

struct Lab {
    clock: Clock,
    a: Arc<Net>,
    b: Arc<Net>,
    a4: Arc<Ipv4>,
    b4: Arc<Ipv4>,
    a_dev: Arc<NetDev>,
    c: Arc<Net>,
    c_dev: Arc<NetDev>,
}

impl Lab {
    /// A and B with `prefix_len`-bit prefixes, and C.
    fn new(prefix_len: u8) -> Lab {
        let clock = Clock::new_virtual_at(1_000_000_000);
        let hub = Hub::new(&clock, LATENCY_NS);
        let host = |name: &str, mac: [u8; 6], addr: Ipv4Addr, seed: u64| {
            let net = Net::new(name, clock.clone(), seed);
            let ipv4 = net_ipv4::ipv4_init(&net);
            let dev = hub.attach(&net, "eth0", mac);
            net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, addr, prefix_len).expect("address");
            (net, ipv4, dev)
        };
        let (a, a4, a_dev) = host("a", MAC_A, A, 1);
        let (b, b4, _) = host("b", MAC_B, B, 2);
        let c = Net::new("c", clock.clone(), 3);
        let c_dev = hub.attach(&c, "eth0", MAC_C);
        let lab = Lab { clock, a, b, a4, b4, a_dev, c, c_dev };
        lab.run_ns(10_000_000);
        lab
    }

    fn run_ns(&self, ns: u64) {
        let deadline = self.clock.now_ns() + ns;
        run_until_idle(&self.clock, &[&self.a, &self.b, &self.c], deadline);
    }

    /// C sends `frames`, then everyone runs for `ns`.
    fn inject(&self, frames: impl Iterator<Item = Vec<u8>>, ns: u64) {
        for f in frames {
            let _ = self.c.dev_queue_xmit(skb_from_frame(self.c_dev.ifindex, &f));
        }
        self.run_ns(ns);
    }

    /// A sends `len` pattern bytes to B:9000 over UDP; returns whether B
    /// received them unchanged within `ms`, and B's socket's count.
    fn udp_a_to_b(&self, rx: &UdpSocket, len: usize, ms: u64) -> bool {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let tx = UdpSocket::new(&self.a).expect("socket");
        assert_eq!(tx.sendto(&data, SocketAddrV4::new(B, 9000)), Ok(len));
        self.run_ns(ms * 1_000_000);
        let mut buf = vec![0u8; 70_000];
        let mut ok = false;
        loop {
            match rx.recvfrom(&mut buf) {
                Ok((n, from)) => ok |= *from.ip() == A && buf[..n] == data[..],
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("recvfrom: {e:?}"),
            }
        }
        ok
    }
}

// -- the fragment flood -------------------------------------------------------------------

/// Payload of each flood fragment (a multiple of 8, as a non-final
/// fragment's must be).
const FRAG_PAYLOAD: usize = 256;
/// Virtual time between two flood fragments: 10,000 a second, so a flood
/// of the default size lasts 100 s, longer than `ipfrag_time` (30 s): queues
/// time out while the flood goes on.
const FRAG_SPACING_NS: u64 = 100_000;

/// How much the process's peak resident set may grow during the
/// fragment flood.
///
/// - What the sysctl lets B keep: `ipfrag_high_thresh` (4 MiB) of
///   fragments, counted in `truesize` (the real allocations), and one
///   [`IPQ_SIZE`] per queue; add the queues' own `HashMap` slot, `Vec` of
///   runs, timer and inet_peer entry, well under 1 KiB each, for at most
///   4 MiB / 300 bytes ≈ 14,000 queues: 14 MiB would be the crude worst
///   case; with the flood's ≈ 700-byte fragments it is about 6,000
///   queues, 6 MiB;
/// - one batch in flight: [`BATCH`] frames of ≈ 300 bytes as a `Vec`, an
///   skb on the hub and again at B, under 4 KiB together: 4 MiB;
/// - the allocator's slack: 2 MiB.
///
/// 16 MiB in all, against 660 MiB for the skbs alone if B kept every
/// one of 1,000,000 fragments. (Measured: about 6.5 MiB.)
const FRAG_MEM_BOUND_BYTES: u64 = 16 << 20;

/// A non-final fragment from a random off-subnet source (B has no route
/// back, so its ICMP time-exceeded goes nowhere) with a random ID, at a
/// random offset below 8 KiB (every fourth at offset 0, the first
/// fragment, which `ip_expire()` answers); its datagram never completes.
fn junk_fragment(rng: &mut Rng) -> Vec<u8> {
    let saddr = loop {
        let a = Ipv4Addr::from(rng.u32());
        if (1..=223).contains(&a.octets()[0]) && a.octets()[0] != 10 && a.octets()[0] != 127 {
            break a;
        }
    };
    let r = rng.u32();
    let offset = if r % 4 == 0 { 0 } else { (r >> 8) as usize % 1024 * 8 };
    let payload = vec![0x5a; FRAG_PAYLOAD];
    let hdr = IpHdrBuilder {
        id: (r >> 16) as u16,
        frag_off: (offset / 8) as u16 | IP_MF,
        protocol: IPPROTO_UDP,
        saddr,
        daddr: B,
        ..IpHdrBuilder::TEMPLATE
    };
    let d = hdr.datagram(&payload);
    let mut f = vec![0u8; 14];
    write_ethhdr(&mut f, &MAC_B, &MAC_C, net_core::if_ether::ETH_P_IP);
    f.extend_from_slice(&d);
    f
}

#[test]
fn fragment_flood_is_bounded_by_ipfrag_high_thresh() {
    let _serial = serial();
    let count = flood_count("LINNET_FRAG_FLOOD", 1_000_000);
    let lab = Lab::new(24);
    let rx = UdpSocket::new(&lab.b).expect("socket");
    rx.bind(SocketAddrV4::new(B, 9000)).expect("bind");
    assert!(lab.udp_a_to_b(&rx, 4000, 10), "a fragmented datagram gets through before the flood");
    let high_thresh = lab.b4.sysctl.ipfrag_high_thresh.get() as usize;
    assert_eq!(high_thresh, IPFRAG_HIGH_THRESH);
    // inet_frag_find() refuses when mem > high_thresh, before adding: one
    // more fragment and one more queue may take it over.
    let one_frag = skb_from_frame(1, &junk_fragment(&mut Rng(1))).truesize as usize;
    let bound = high_thresh + one_frag + IPQ_SIZE;
    let m = |x| lab.b.mib.get(x);
    let before =
        [IpstatsMib::ReasmReqds, IpstatsMib::ReasmFails, IpstatsMib::ReasmTimeout, IpstatsMib::ReasmOKs]
            .map(|x| lab.b.mib.get(x));

    let mut rng = Rng(0xf4a9_f100d);
    let mut mem = MemWatch::start();
    let started = Instant::now();
    let (mut sent, mut frag_mem_peak, mut queues_peak) = (0u64, 0usize, 0usize);
    let mut mid_flood_legit = None;
    while sent < count {
        assert!(started.elapsed() < WALL_LIMIT, "the flood took longer than {WALL_LIMIT:?} ({sent} sent)");
        let n = (count - sent).min(BATCH as u64);
        lab.inject((0..n).map(|_| junk_fragment(&mut rng)), n * FRAG_SPACING_NS);
        sent += n;
        let f = &lab.b4.frags;
        assert!(f.mem() <= bound, "reassembly memory {} > {bound} after {sent} fragments", f.mem());
        frag_mem_peak = frag_mem_peak.max(f.mem());
        queues_peak = queues_peak.max(f.queues());
        if mid_flood_legit.is_none() && sent >= count / 2 {
            // Over the threshold every fragment is refused, the real ones
            // too (Linux has no exception): printed, not asserted.
            mid_flood_legit = Some(lab.udp_a_to_b(&rx, 4000, 10));
        }
        if sent % (32 * BATCH as u64) == 0 {
            mem.sample();
        }
    }
    let flood_wall = started.elapsed();
    let flood_virtual_s = (lab.clock.now_ns() - 1_010_000_000) as f64 / 1e9;
    let growth = mem.growth();
    // Every queue dies within ipfrag_time; then a real datagram goes through.
    lab.run_ns((IPFRAG_TIME_SECS + 1) * 1_000_000_000);
    let mem_after = lab.b4.frags.mem();
    let queues_after = lab.b4.frags.queues();
    let legit_after = lab.udp_a_to_b(&rx, 4000, 10);
    let d: Vec<u64> =
        [IpstatsMib::ReasmReqds, IpstatsMib::ReasmFails, IpstatsMib::ReasmTimeout, IpstatsMib::ReasmOKs]
            .iter()
            .zip(before)
            .map(|(&x, b)| m(x) - b)
            .collect();

    println!("fragment flood (incomplete datagrams, random sources and IDs), {} build:", build());
    println!(
        "  fragments sent            {sent} ({:.1} s wall, {flood_virtual_s:.1} s virtual)",
        flood_wall.as_secs_f64()
    );
    println!(
        "  counters at B             ReasmReqds +{}, ReasmFails +{}, ReasmTimeout +{}, ReasmOKs +{} (the real datagrams')",
        d[0], d[1], d[2], d[3]
    );
    println!(
        "  reassembly memory         peak {frag_mem_peak} bytes in at most {queues_peak} queues (bound ipfrag_high_thresh {high_thresh} + one fragment {one_frag} + one queue {IPQ_SIZE} = {bound}); {mem_after} in {queues_after} queues ipfrag_time after"
    );
    println!("  peak memory growth        {} (bound {})", mib(growth), mib(FRAG_MEM_BOUND_BYTES));
    println!(
        "  legitimate datagram       mid-flood {}, after the flood {}",
        if mid_flood_legit == Some(true) { "reassembled" } else { "refused (over high_thresh)" },
        if legit_after { "reassembled" } else { "LOST" }
    );
    println!("  drop reasons at B         {:?}", lab.b.drops.nonzero());

    assert!(d[0] >= sent, "every flood fragment asked for reassembly");
    assert!(frag_mem_peak > high_thresh / 2, "the flood filled reassembly memory");
    assert!(d[1] > sent / 2, "most fragments were refused or timed out: ReasmFails");
    assert!(d[2] > 0, "queues timed out during the flood: ReasmTimeout");
    assert!(d[1] >= d[2], "each timeout is a failure too");
    assert_eq!((mem_after, queues_after), (0, 0), "ipfrag_time freed everything");
    assert!(legit_after, "a real fragmented datagram is reassembled after the flood");
    assert!(growth < FRAG_MEM_BOUND_BYTES, "peak memory grew by {growth} bytes");
}

// -- the ARP flood ------------------------------------------------------------------------

/// Virtual time between two flood frames: 10,000 a second, so the
/// default flood lasts 50 s and forced GC finds entries older than its
/// 5 s to evict.
const ARP_SPACING_NS: u64 = 100_000;

/// How much the process's peak resident set may grow during the ARP flood.
///
/// - What the sysctl lets A keep: `gc_thresh3` (1024) entries, each a
///   `Neighbour` in an `Arc` with its timer, hash slot and (empty) queue,
///   under 1 KiB: 1 MiB;
/// - one batch in flight: [`BATCH`] frames from C (a `Vec`, an skb on the
///   hub and at A and B, under 4 KiB together) and A's replies to the
///   requests among them, as much again: 8 MiB;
/// - the allocator's slack: 3 MiB.
///
/// 12 MiB in all.
const ARP_MEM_BOUND_BYTES: u64 = 12 << 20;

/// A random address of 10.0.0.0/16 that is neither A, B, the network
/// nor the broadcast address.
fn subnet_addr(rng: &mut Rng) -> Ipv4Addr {
    loop {
        let host = rng.u32() & 0xffff;
        let a = Ipv4Addr::from(0x0a00_0000 | host);
        if host != 0 && host != 0xffff && a != A && a != B {
            return a;
        }
    }
}

/// Even `k`: a broadcast request for A from a random address and MAC of
/// the subnet. Odd `k`: an unsolicited reply to A, likewise.
fn arp_frame(rng: &mut Rng, k: u64) -> Vec<u8> {
    let (sip, sha) = (subnet_addr(rng), rng.mac());
    let mut f = vec![0u8; 14 + ARP_HDR_LEN];
    if k % 2 == 0 {
        write_ethhdr(&mut f, &ETH_BROADCAST, &sha, ETH_P_ARP);
        write_arphdr(&mut f[14..], 1, ARPOP_REQUEST, &sha, sip, &[0; 6], A);
    } else {
        write_ethhdr(&mut f, &MAC_A, &sha, ETH_P_ARP);
        write_arphdr(&mut f[14..], 1, ARPOP_REPLY, &sha, sip, &MAC_A, A);
    }
    f
}

#[test]
fn arp_flood_is_bounded_by_gc_thresh3() {
    let _serial = serial();
    let count = flood_count("LINNET_ARP_FLOOD", 500_000);
    let lab = Lab::new(16);
    let rx = UdpSocket::new(&lab.b).expect("socket");
    rx.bind(SocketAddrV4::new(B, 9000)).expect("bind");
    let tbl = &lab.a4.arp_tbl;
    let (_, t2, t3) = tbl.gc_thresh();
    assert_eq!(t3, NEIGH_GC_THRESH3);
    assert!(lab.udp_a_to_b(&rx, 100, 10), "A resolves B before the flood");
    let st = |s: NeighStat| tbl.stats().get(s);
    let before = [
        st(NeighStat::Allocs),
        st(NeighStat::Destroys),
        st(NeighStat::ForcedGcRuns),
        st(NeighStat::PeriodicGcRuns),
        st(NeighStat::TableFulls),
    ];

    let mut rng = Rng(0xa49_f100d);
    let mut mem = MemWatch::start();
    let started = Instant::now();
    let (mut sent, mut requests, mut len_peak) = (0u64, 0u64, 0usize);
    let mut mid_flood_legit = None;
    while sent < count {
        assert!(started.elapsed() < WALL_LIMIT, "the flood took longer than {WALL_LIMIT:?} ({sent} sent)");
        let n = (count - sent).min(BATCH as u64);
        let first = sent;
        lab.inject((0..n).map(|k| arp_frame(&mut rng, first + k)), n * ARP_SPACING_NS);
        requests += (first..first + n).filter(|k| k % 2 == 0).count() as u64;
        sent += n;
        let len = tbl.len();
        assert!(len <= t3, "{len} neighbours after {sent} frames: more than gc_thresh3 = {t3}");
        len_peak = len_peak.max(len);
        if mid_flood_legit.is_none() && sent >= count / 2 {
            // Printed, not asserted: with the table full of entries
            // younger than 5 s, neigh_alloc() cannot make room (Linux's
            // "neighbor table overflow!").
            mid_flood_legit = Some(lab.udp_a_to_b(&rx, 100, 10));
        }
        if sent % (32 * BATCH as u64) == 0 {
            mem.sample();
        }
    }
    let flood_wall = started.elapsed();
    let flood_virtual_s = (lab.clock.now_ns() - 1_010_000_000) as f64 / 1e9;
    let growth = mem.growth();
    let len_end = tbl.len();
    // After the flood: once its entries are 5 s old, forced GC makes room
    // and A resolves B again (its old entry was evicted, or is still there).
    lab.run_ns(6_000_000_000);
    let legit_after = lab.udp_a_to_b(&rx, 100, 10);
    let b_entry = tbl.neigh_lookup(lab.a_dev.ifindex, B).map(|n| (n.nud_state(), n.ha()));
    let after = [
        st(NeighStat::Allocs),
        st(NeighStat::Destroys),
        st(NeighStat::ForcedGcRuns),
        st(NeighStat::PeriodicGcRuns),
        st(NeighStat::TableFulls),
    ];
    let d: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();

    println!(
        "ARP flood (requests and unsolicited replies from random addresses of 10.0/16), {} build:",
        build()
    );
    println!(
        "  frames sent               {sent} ({requests} requests; {:.1} s wall, {flood_virtual_s:.1} s virtual)",
        flood_wall.as_secs_f64()
    );
    println!(
        "  arp_cache at A            allocs +{}, destroys +{}, forced_gc_runs +{}, periodic_gc_runs +{}, table_fulls +{}",
        d[0], d[1], d[2], d[3], d[4]
    );
    println!(
        "  neighbour table           peak {len_peak}, {len_end} at the end (gc_thresh2 {t2}, gc_thresh3 {t3})"
    );
    println!("  peak memory growth        {} (bound {})", mib(growth), mib(ARP_MEM_BOUND_BYTES));
    println!(
        "  legitimate neighbour      mid-flood {}, 6 s after {} (B's entry {b_entry:?})",
        if mid_flood_legit == Some(true) { "reached" } else { "not reached (table full of fresh entries)" },
        if legit_after { "resolved and reached" } else { "NOT REACHED" }
    );

    assert_eq!(len_peak, t3, "the flood filled the table to gc_thresh3, and no further");
    assert!(d[0] <= requests + 2, "only requests for A create entries (arp_accept = 0); +2 for B");
    assert!(d[2] > 0 && d[4] > 0, "forced GC ran, and the table was full at times");
    assert!(d[1] > 0, "forced GC evicted entries older than 5 s");
    assert!(legit_after, "A resolves and reaches B after the flood");
    assert!(matches!(b_entry, Some((NudState::Reachable, MAC_B))), "B's entry: {b_entry:?}");
    assert!(growth < ARP_MEM_BOUND_BYTES, "peak memory grew by {growth} bytes");
}
