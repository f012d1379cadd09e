//! Benches for closing (issue #8's figures), named after the kernel
//! functions they stand for (net-tcp's `tcp_minisocks.rs`,
//! `inet_timewait_sock.rs`, `inet_hashtables.rs`; Linux 6.18:
//! net/ipv4/tcp_minisocks.c, net/ipv4/inet_timewait_sock.c,
//! net/ipv4/inet_hashtables.c):
//!
//! - **sizes**, printed first: `InetTimewaitSock` against `TcpSock`, against
//!   the objsize of Linux's `tw_sock_TCP` and `TCP` slabs read from this
//!   machine's /proc/slabinfo, and against smoltcp's `tcp::Socket`. Goal:
//!   ours ≤ Linux's `tw_sock_TCP`.
//! - `closing/tcp_time_wait`: `tcp_time_wait()` on a real established
//!   socket (the connection made in the untimed setup): `inet_twsk_alloc()`,
//!   `inet_twsk_hashdance_schedule()` (bind bucket, ehash swap, the 60 s
//!   timer armed) and `tcp_done()`. Its peer in the same run,
//!   `closing/tcp_time_wait_overflow`, is the same call with
//!   `tcp_max_tw_buckets` = 0: `TCPTimeWaitOverflow` and `tcp_done()`
//!   only, what closing costs without a timewait sock.
//! - `__inet_lookup_established/*`: the lookup `tcp_v4_rcv()` runs
//!   (full sockets, request socks, timewait socks of one bucket) for a
//!   segment that hits a timewait sock, hits one of 1,000 established
//!   sockets, or misses, with 1,000,000 timewait socks in the table and
//!   with none. The table is the namespace's own (`TCP_EHASH_ENTRIES` =
//!   16,384 buckets, fixed) and, beside it, one of 262,144 buckets: what
//!   Linux 6.18 sized on this machine at boot ("TCP established hash
//!   table entries: 262144" in dmesg; `alloc_large_system_hash()` sizes it
//!   from memory unless `thash_entries=` says otherwise, and
//!   `tcp_max_tw_buckets` defaults to half of it, 131,072). The empty
//!   table is the peer: the figures are ratios to it.
//! - **churn**, plain loops after criterion's groups: [`CHURN_CONNS`]
//!   connections each — `connect()`, the handshake, `accept()` (linnet and
//!   Linux take the child from the accept queue; smoltcp has none: its
//!   listening socket becomes the connection), a 64-byte request, a
//!   64-byte reply, the client closes first (its TIME_WAIT), the server
//!   reads end of stream and closes — for linnet (two in-process hosts in
//!   virtual time, every timewait sock kept for its 60 s), smoltcp 0.14
//!   (the same sequence in the same kind of lab; smoltcp's socket reaches
//!   TimeWait and the application drops it, as tcp.rs does) and Linux
//!   over 127.0.0.1 with `std::net` (blocking sockets, one thread; its
//!   TIME_WAIT sockets stay on this machine's loopback for 60 s:
//!   `tcp_tw_reuse` = 2 lets a loopback `connect()` reuse them, and no
//!   host sysctl is changed). [`CHURN_ROUNDS`] rounds, interleaved, the
//!   median printed with ratios. linnet's 60 s of virtual time that ends
//!   the round's timewait socks is timed apart.
//!
//! `cargo bench -p benches --bench closing -- churn` (or `-- tcp_time_wait`,
//! `-- __inet_lookup`) runs one part alone, plain loops and tables
//! included (see [`benches::wanted`]): the churn alone is what a profiler wants
//! (`valgrind --tool=callgrind target/release/deps/closing-* --bench churn`).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use benches::summary::median;
use net_core::snmp::LinuxMib;
use net_core::{Clock, Net};
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::{SO_LINGER, SOL_SOCKET, TcpNet};
use net_tcp::inet_hashtables::{EhashEntry, InetHashinfo};
use net_tcp::inet_timewait_sock::{InetTimewaitSock, inet_twsk_alloc, inet_twsk_hashdance_schedule};
use net_tcp::sock::{TCP_TIMEWAIT_LEN, TcpSock};
use net_tcp::tcp_minisocks::tcp_time_wait;
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;
#[path = "common/linnet.rs"]
mod linnet;
#[path = "common/smol.rs"]
mod smol;
use linnet::{PORT, drive, linnet_connect, linnet_lab, linnet_listener};

const RR: usize = 64;
/// Timewait socks in the lookup tables.
const TW_SOCKS: usize = 1_000_000;
/// Established sockets beside them.
const ESTABLISHED: usize = 1_000;
/// What Linux 6.18 sized its ehash to on this machine (dmesg).
const LINUX_EHASH_HERE: usize = 262_144;
/// Connections per churn round, for each of the three.
const CHURN_CONNS: usize = 2_000;
/// Churn rounds (interleaved linnet, smoltcp, Linux).
const CHURN_ROUNDS: usize = 5;
/// Wall-clock limit on one churn round of one stack.
const CHURN_WALL_LIMIT: Duration = Duration::from_secs(30);
/// In `tcp_time_wait`'s setup: connections kept before the hosts run 61 s
/// of virtual time to expire them (the client's ports come back).
const REAP_AT: usize = 8_192;

// -- sizes ----------------------------------------------------------------------------------

/// `objsize` of a slab cache in /proc/slabinfo (readable on this
/// machine without root), if there is one.
fn slab_objsize(cache: &str) -> Option<usize> {
    let info = std::fs::read_to_string("/proc/slabinfo").ok()?;
    let line = info.lines().find(|l| l.split_whitespace().next() == Some(cache))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn print_sizes() {
    let tw = std::mem::size_of::<InetTimewaitSock>();
    let full = std::mem::size_of::<TcpSock>();
    let smol = std::mem::size_of::<smoltcp::socket::tcp::Socket<'static>>();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let linux_tw = slab_objsize("tw_sock_TCP");
    let linux_tcp = slab_objsize("TCP");
    let show = |v: Option<usize>| v.map_or("unreadable".to_string(), |v| format!("{v} B"));
    println!("sizes (goal: InetTimewaitSock ≤ Linux's tw_sock_TCP):");
    println!(
        "  size_of::<InetTimewaitSock>()                 {tw:>5} B  (+16 B of Arc counts per allocation)"
    );
    println!("  size_of::<TcpSock>() (full socket)            {full:>5} B  (its queues and buffers apart)");
    println!("  Linux {} tw_sock_TCP objsize (this machine)  {:>7}", release.trim(), show(linux_tw));
    println!("  Linux {} TCP objsize (this machine)          {:>7}", release.trim(), show(linux_tcp));
    println!(
        "  size_of::<smoltcp::socket::tcp::Socket>()     {smol:>5} B  (smoltcp keeps TimeWait in the full socket)"
    );
    if let Some(l) = linux_tw {
        println!(
            "  InetTimewaitSock / tw_sock_TCP = {:.2}; with its Arc: {:.2} — goal {}",
            tw as f64 / l as f64,
            (tw + 16) as f64 / l as f64,
            if tw + 16 <= l { "met" } else { "missed" }
        );
    }
    if let Some(l) = linux_tcp {
        println!(
            "  TcpSock / Linux TCP = {:.2}; TcpSock / InetTimewaitSock = {:.1}",
            full as f64 / l as f64,
            full as f64 / tw as f64
        );
    }
}

// -- linnet: two hosts ----------------------------------------------------------------------

/// Receive until `buf` is full.
fn recv_all(s: &TcpSocket, buf: &mut [u8], got: &mut usize) -> bool {
    while *got < buf.len() {
        match s.recv(&mut buf[*got..]) {
            Ok(0) => panic!("end of stream too early"),
            Ok(n) => *got += n,
            Err(_) => return false,
        }
    }
    true
}

/// One connection of the churn: the client (a) closes first and keeps the
/// four-tuple in TIME_WAIT.
fn linnet_churn_one(lab: &TwoHosts, l: &TcpSocket) {
    let (c, s) = linnet_connect(lab, l, None);
    assert_eq!(c.send(&[0x5a; RR]), Ok(RR));
    let (mut buf, mut got) = ([0u8; RR], 0);
    drive(lab, || recv_all(&s, &mut buf, &mut got));
    assert_eq!(s.send(&buf), Ok(RR));
    got = 0;
    drive(lab, || recv_all(&c, &mut buf, &mut got));
    black_box(&buf);
    let (csk, ssk) = (c.sock().clone(), s.sock().clone());
    drop(c); // FIN_WAIT1
    drive(lab, || s.recv(&mut buf) == Ok(0));
    drop(s); // LAST_ACK
    drive(lab, || csk.sk_state() == TcpState::Close && ssk.sk_state() == TcpState::Close);
}

// -- closing/tcp_time_wait --------------------------------------------------------------------

/// Established connections for `tcp_time_wait` to close, made in the
/// untimed setup; every [`REAP_AT`] the hosts run 61 s so the timewait
/// socks die and the client's ports come back.
struct Closer {
    lab: TwoHosts,
    ta: Arc<TcpNet>,
    listener: TcpSocket,
    kept: Vec<(TcpSocket, TcpSocket)>,
    next_port: u16,
}

impl Closer {
    fn new(max_tw: usize) -> Closer {
        let (lab, ta) = linnet_lab();
        lab.a.sysctl.set("net.ipv4.tcp_max_tw_buckets", &max_tw.to_string()).expect("sysctl");
        let listener = linnet_listener(&lab);
        Closer { lab, ta, listener, kept: Vec::new(), next_port: 1023 }
    }

    /// A client socket, ESTABLISHED.
    fn established(&mut self) -> Arc<TcpSock> {
        if self.kept.len() >= REAP_AT {
            // The server's children close with SO_LINGER 0: their RSTs end
            // the client's timewait socks (`tcp_rfc1337` = 0). A FIN would
            // not do: our forced TIME_WAIT never acknowledged it, so the
            // server would retransmit it and each copy would restart the
            // 60 s timer. Then 61 s for any left.
            for (_, s) in &self.kept {
                let linger = [1i32.to_ne_bytes(), 0i32.to_ne_bytes()].concat();
                s.setsockopt(SOL_SOCKET, SO_LINGER, &linger).expect("SO_LINGER");
            }
            self.kept.clear();
            self.lab.run_ms(61_000);
            assert_eq!(self.ta.twsk_slab.active_objs(), 0);
        }
        // Client ports in turn, 1024–65535: a port comes back only after
        // several reaps, never while the server's child of its last
        // connection is alive (without a timewait sock nothing else would
        // stop connect() from choosing it).
        self.next_port = if self.next_port == u16::MAX { 1024 } else { self.next_port + 1 };
        let (c, s) = linnet_connect(&self.lab, &self.listener, Some(self.next_port));
        let sk = c.sock().clone();
        assert_eq!(sk.sk_state(), TcpState::Established);
        self.kept.push((c, s));
        sk
    }

    /// Mirrors the call in `tcp_rcv_state_process()`/`tcp_fin()`:
    /// `tcp_time_wait(sk, TCP_TIME_WAIT, 0)` with the socket locked.
    fn close(&self, sk: Arc<TcpSock>) -> Arc<TcpSock> {
        {
            let mut tp = sk.lock.lock();
            tcp_time_wait(&self.lab.a, &self.ta, &sk, &mut tp, TcpState::TimeWait, 0);
        }
        sk
    }
}

fn bench_tcp_time_wait(c: &mut Criterion) {
    if !benches::wanted("closing/tcp_time_wait") {
        return;
    }
    let mut g = c.benchmark_group("closing");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for (name, max_tw) in [("tcp_time_wait", 1 << 20), ("tcp_time_wait_overflow", 0)] {
        let closer = std::cell::RefCell::new(Closer::new(max_tw));
        g.bench_function(name, |b| {
            b.iter_batched(
                || closer.borrow_mut().established(),
                |sk| closer.borrow().close(sk),
                BatchSize::SmallInput,
            )
        });
        let closer = closer.into_inner();
        let (tw, ovf) =
            (closer.lab.a.mib.get(LinuxMib::TW), closer.lab.a.mib.get(LinuxMib::TCPTimeWaitOverflow));
        println!("closing/{name}: TW {tw}, TCPTimeWaitOverflow {ovf}");
        assert!(if max_tw == 0 { tw == 0 && ovf > 0 } else { ovf == 0 && tw > 0 });
    }
    g.finish();
}

// -- __inet_lookup_established with 1,000,000 timewait socks ------------------------------------

/// A segment's four-tuple, as it arrives (source = the peer).
#[derive(Clone, Copy)]
struct Tuple {
    saddr: Ipv4Addr,
    sport: u16,
}

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn random_tuple(rng: &mut Rng) -> Tuple {
    let r = rng.next();
    Tuple { saddr: Ipv4Addr::from(r as u32), sport: (r >> 32) as u16 | 1024 }
}

/// A table's contents: its four-tuples in a random order, by kind.
struct Filled {
    tw: Vec<Tuple>,
    sk: Vec<Tuple>,
    miss: Vec<Tuple>,
    /// Keeps the sockets and timewait socks alive.
    _socks: Vec<Arc<TcpSock>>,
    _tws: Vec<Arc<InetTimewaitSock>>,
}

/// A server's table (`h`) with [`ESTABLISHED`] sockets and `n_tw`
/// timewait socks on 10.0.0.1:80, their tuples from `seed` (the same
/// tuples for every table of a seed). Timewait socks come from `tn`'s slab
/// and, when `schedule`, enter through `inet_twsk_hashdance_schedule()`
/// (bind bucket, ehash, the timer armed) as `tcp_time_wait()` puts them;
/// otherwise only into `h`'s ehash.
fn fill(net: &Net, tn: &TcpNet, h: &InetHashinfo, n_tw: usize, seed: u64, schedule: bool) -> Filled {
    let mut rng = Rng(seed);
    let mut socks = Vec::with_capacity(ESTABLISHED);
    let mut sk_tuples = Vec::with_capacity(ESTABLISHED);
    while sk_tuples.len() < ESTABLISHED {
        let t = random_tuple(&mut rng);
        let sk = TcpSock::new(net, 87380, 16384);
        sk.skc_state.store(TcpState::Established as u8, std::sync::atomic::Ordering::Release);
        sk.set_skc_addrs(SERVER, PORT, t.saddr, t.sport);
        if h.inet_ehash_nolisten(&sk) {
            sk_tuples.push(t);
            socks.push(sk);
        }
    }
    let proto = TcpSock::new(net, 1000, 1000);
    let init = benches::fixtures::tw_init();
    let mut tws = Vec::with_capacity(n_tw);
    let mut tw_tuples = Vec::with_capacity(n_tw);
    for _ in 0..n_tw {
        let t = random_tuple(&mut rng);
        proto.set_skc_addrs(SERVER, PORT, t.saddr, t.sport);
        let tw = inet_twsk_alloc(net, tn, &proto, &init).expect("tcp_max_tw_buckets is high enough");
        if schedule {
            inet_twsk_hashdance_schedule(net, tn, &tw, &proto, TCP_TIMEWAIT_LEN);
        } else {
            h.inet_ehash_swap_tw(&proto, &tw);
        }
        tws.push(tw);
        tw_tuples.push(t);
    }
    // As many misses as timewait socks (at least 4,096), visited in turn:
    // a small set would keep its buckets and chains in cache.
    let miss = (0..n_tw.max(4096)).map(|_| random_tuple(&mut rng)).collect();
    shuffle(&mut tw_tuples, &mut rng);
    shuffle(&mut sk_tuples, &mut rng);
    Filled { tw: tw_tuples, sk: sk_tuples, miss, _socks: socks, _tws: tws }
}

/// An `InetTimewaitSock` in its `Arc` as malloc hands it out (136 bytes
/// asked, a 144-byte chunk).
const TW_ALLOC_BYTES: usize = 144;

/// The peer of the lookups with 1,000,000 timewait socks: one dependent
/// read of a random cache line in a working set as large as theirs (a
/// pointer chase), ns per read, 2,000,000 reads. Every node a chain walk
/// visits costs about this much once the table is out of cache.
fn memory_floor_ns(rng: &mut Rng) -> f64 {
    let lines = TW_SOCKS * TW_ALLOC_BYTES / 64;
    let mut perm: Vec<u32> = (0..lines as u32).collect();
    shuffle(&mut perm, rng);
    let mut next = vec![[0u64; 8]; lines];
    for k in 0..lines {
        next[perm[k] as usize][0] = u64::from(perm[(k + 1) % lines]);
    }
    drop(perm);
    let (n, mut p) = (2_000_000, 0usize);
    let t = Instant::now();
    for _ in 0..n {
        p = next[p][0] as usize;
    }
    black_box(p);
    t.elapsed().as_nanos() as f64 / n as f64
}

fn shuffle<T>(v: &mut [T], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Which entry kind a lookup must find.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Tw,
    Sk,
    Miss,
}

fn lookup(h: &InetHashinfo, t: Tuple) -> Option<EhashEntry> {
    h.__inet_lookup_established_any(t.saddr, t.sport, SERVER, PORT, 0)
}

fn check(h: &InetHashinfo, t: Tuple, want: Want) {
    let got = lookup(h, t);
    let ok = match want {
        Want::Tw => matches!(got, Some(EhashEntry::Tw(_))),
        Want::Sk => matches!(got, Some(EhashEntry::Sk(_))),
        Want::Miss => got.is_none(),
    };
    assert!(ok, "a lookup found the wrong kind");
}

fn bench_lookup(c: &mut Criterion) {
    if !benches::wanted("__inet_lookup_established") {
        return;
    }
    // The namespace's own table (16,384 buckets), empty and with
    // 1,000,000 timewait socks scheduled as tcp_time_wait() does.
    let net_empty = Net::new("empty", Clock::new_virtual_at(1_000_000_000), 1);
    let tn_empty = inet_init(&net_empty);
    let empty = fill(&net_empty, &tn_empty, &tn_empty.hashinfo, 0, 0x5eed, false);
    let net_full = Net::new("full", Clock::new_virtual_at(1_000_000_000), 2);
    let tn_full = inet_init(&net_full);
    net_full.sysctl.set("net.ipv4.tcp_max_tw_buckets", &(2 * TW_SOCKS).to_string()).expect("sysctl");
    let t = Instant::now();
    let full = fill(&net_full, &tn_full, &tn_full.hashinfo, TW_SOCKS, 0x5eed, true);
    let fill_time = t.elapsed();
    // A table sized as Linux sized this machine's, with the same tuples.
    let big_empty_h = InetHashinfo::new(LINUX_EHASH_HERE, net_core::random::SipKey([3, 4]));
    let big_empty = fill(&net_empty, &tn_empty, &big_empty_h, 0, 0x5eed, false);
    let big_h = InetHashinfo::new(LINUX_EHASH_HERE, net_core::random::SipKey([3, 4]));
    let big = fill(&net_full, &tn_full, &big_h, TW_SOCKS, 0x5eed, false);
    println!(
        "__inet_lookup_established: {} timewait socks + {ESTABLISHED} established in each full table; \
         the namespace's ehash has {} buckets ({:.0} timewait socks a bucket), the other {} ({:.1}); \
         inet_twsk_alloc + inet_twsk_hashdance_schedule of the {} took {:.0} ns each; an ehash bucket is {} B",
        TW_SOCKS,
        tn_full.hashinfo.ehash_size(),
        TW_SOCKS as f64 / tn_full.hashinfo.ehash_size() as f64,
        big_h.ehash_size(),
        TW_SOCKS as f64 / big_h.ehash_size() as f64,
        TW_SOCKS,
        fill_time.as_nanos() as f64 / TW_SOCKS as f64,
        std::mem::size_of::<net_tcp::inet_hashtables::InetEhashBucket>()
    );
    assert_eq!(tn_full.twsk_slab.active_objs(), 2 * TW_SOCKS);

    let tables: [(&str, &InetHashinfo, &Filled, &Filled); 2] =
        [("ehash_16384", &tn_full.hashinfo, &full, &empty), ("ehash_262144", &big_h, &big, &big_empty)];
    let mut g = c.benchmark_group("__inet_lookup_established");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let mut results = Vec::new();
    for (size, h_full, f_full, f_empty) in tables {
        let h_empty = if size == "ehash_16384" { &tn_empty.hashinfo } else { &big_empty_h };
        let cases: [(&str, Want, &InetHashinfo, &[Tuple]); 5] = [
            ("hit_tw/1M_tw", Want::Tw, h_full, &f_full.tw),
            ("hit_sk/1M_tw", Want::Sk, h_full, &f_full.sk),
            ("hit_sk/empty", Want::Sk, h_empty, &f_empty.sk),
            ("miss/1M_tw", Want::Miss, h_full, &f_full.miss),
            ("miss/empty", Want::Miss, h_empty, &f_empty.miss),
        ];
        for (case, want, h, tuples) in cases {
            for &t in tuples.iter().step_by(97).take(10_000) {
                check(h, t, want);
            }
            let mut i = 0;
            g.bench_function(format!("{case}/{size}"), |b| {
                b.iter(|| {
                    let t = tuples[i % tuples.len()];
                    i += 1;
                    black_box(lookup(h, t))
                })
            });
            // The plain figure for the ratio table: 2,000,000 lookups.
            let n = 2_000_000;
            let t0 = Instant::now();
            for k in 0..n {
                black_box(lookup(h, tuples[k % tuples.len()]));
            }
            results.push((size, case, t0.elapsed().as_nanos() as f64 / n as f64));
        }
    }
    g.finish();
    let floor = memory_floor_ns(&mut Rng(0xf1002));
    println!("__inet_lookup_established_any (what tcp_v4_rcv runs), ns per lookup, 2,000,000 each:");
    for (size, case, ns) in &results {
        let peer = match *case {
            "hit_sk/1M_tw" => results.iter().find(|r| r.0 == *size && r.1 == "hit_sk/empty"),
            "miss/1M_tw" => results.iter().find(|r| r.0 == *size && r.1 == "miss/empty"),
            "hit_tw/1M_tw" => results.iter().find(|r| r.0 == *size && r.1 == "hit_sk/empty"),
            _ => None,
        };
        match peer {
            Some(p) => println!(
                "  {size:>13} {case:<13} {ns:>8.1} ns  ({:.2}× {} in the empty table; {:.1} dependent reads' worth)",
                ns / p.2,
                p.1,
                ns / floor
            ),
            None => println!("  {size:>13} {case:<13} {ns:>8.1} ns"),
        }
    }
    println!(
        "  memory floor: one dependent read of a random line among {:.0} MiB (1,000,000 timewait socks' worth): {floor:.1} ns",
        (TW_SOCKS * TW_ALLOC_BYTES) as f64 / (1u64 << 20) as f64
    );
    println!(
        "  (hit_sk visits 1,000 sockets, which stay in cache; hit_tw and miss visit 1,000,000 tuples each)"
    );
    // The tables are large: free them before the next group.
    drop(big);
    drop(full);
}

// -- churn ------------------------------------------------------------------------------------

/// `CHURN_CONNS` linnet connections; returns (the connections' time, the
/// 61 s of virtual time that ends their timewait socks).
fn churn_linnet() -> (Duration, Duration) {
    let (lab, ta) = linnet_lab();
    let l = linnet_listener(&lab);
    let t = Instant::now();
    for _ in 0..CHURN_CONNS {
        linnet_churn_one(&lab, &l);
        assert!(t.elapsed() < CHURN_WALL_LIMIT, "linnet churn too slow");
    }
    let conns = t.elapsed();
    assert_eq!(ta.twsk_slab.active_objs(), CHURN_CONNS, "every connection left its timewait sock");
    let t = Instant::now();
    lab.run_ms(61_000);
    let reap = t.elapsed();
    assert_eq!(ta.twsk_slab.active_objs(), 0);
    (conns, reap)
}

fn churn_smoltcp() -> Duration {
    let mut lab = smol::Lab::new();
    let srv = lab.listener(4096, 4096);
    let t = Instant::now();
    for n in 0..CHURN_CONNS {
        smol::conn_rr(&mut lab, srv, 49152 + (n % 16384) as u16);
        assert!(t.elapsed() < CHURN_WALL_LIMIT, "smoltcp churn too slow");
    }
    t.elapsed()
}

/// Linux over 127.0.0.1: the same sequence with blocking `std::net`
/// sockets in one thread (the handshake completes in the kernel before
/// `accept()`). `None` if loopback TCP is unavailable.
fn churn_linux() -> Option<Duration> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    let addr = l.local_addr().ok()?;
    let mut buf = [0u8; RR];
    let t = Instant::now();
    for _ in 0..CHURN_CONNS {
        let mut c = std::net::TcpStream::connect(addr).ok()?;
        c.set_nodelay(true).ok()?;
        c.write_all(&[0x5a; RR]).ok()?;
        let (mut s, _) = l.accept().ok()?;
        s.set_nodelay(true).ok()?;
        s.read_exact(&mut buf).ok()?;
        s.write_all(&buf).ok()?;
        c.read_exact(&mut buf).ok()?;
        black_box(&buf);
        drop(c); // the client closes first: its TIME_WAIT
        assert_eq!(s.read(&mut buf).ok()?, 0);
        drop(s);
        assert!(t.elapsed() < CHURN_WALL_LIMIT, "Linux churn too slow");
    }
    Some(t.elapsed())
}

fn bench_churn(_: &mut Criterion) {
    if !benches::wanted("churn") {
        return;
    }
    let (mut ln, mut reap, mut sm, mut lx) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..CHURN_ROUNDS {
        let (c, r) = churn_linnet();
        ln.push(c.as_nanos() as f64 / CHURN_CONNS as f64);
        reap.push(r.as_nanos() as f64 / CHURN_CONNS as f64);
        sm.push(churn_smoltcp().as_nanos() as f64 / CHURN_CONNS as f64);
        if let Some(d) = churn_linux() {
            lx.push(d.as_nanos() as f64 / CHURN_CONNS as f64);
        }
    }
    let (ln, reap, sm) = (median(ln), median(reap), median(sm));
    println!(
        "churn: {CHURN_CONNS} connections a round (connect, accept, 64 B request, 64 B reply, the client closes \
         first and holds TIME_WAIT, the server closes), median of {CHURN_ROUNDS} rounds:"
    );
    let row =
        |who: &str, ns: f64| println!("  {who:<46} {:>9.0} conn/s  {:>7.2} µs each", 1e9 / ns, ns / 1e3);
    row("linnet (two hosts, virtual time)", ln);
    println!(
        "  {:<46} {:>9} {:>13.2} µs per timewait sock",
        "  + its timewait socks' expiry (61 s virtual)",
        "",
        reap / 1e3
    );
    row("smoltcp 0.14 (same lab, no accept queue)", sm);
    if lx.is_empty() {
        println!("  Linux over 127.0.0.1: unavailable");
    } else {
        row("Linux over 127.0.0.1 (std::net, one thread)", median(lx.clone()));
    }
    println!("  ratio (conn/s): linnet / smoltcp = {:.2}", sm / ln);
    if !lx.is_empty() {
        println!("  ratio (conn/s): linnet / Linux   = {:.2}", median(lx) / ln);
    }
}

fn bench_sizes(_: &mut Criterion) {
    print_sizes();
}

criterion_group!(benches, bench_sizes, bench_tcp_time_wait, bench_lookup, bench_churn);
criterion_main!(benches);
