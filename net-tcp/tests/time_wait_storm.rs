//! A TIME_WAIT storm: a server that closes first, with `tcp_max_tw_buckets`
//! = [`CAP`], under [`storm_count()`] short connections (issue #8,
//! "closing": "must hold under load").
//!
//! Two linnet hosts on a zero-latency hub, in virtual time: the server
//! (10.0.0.1, a listener on port 80, backlog [`BATCH`]) and a client with
//! as many addresses (10.0.0.16 …) as it needs for every connection to have
//! its own four-tuple (client ports 1024–65535 on each address, bound
//! explicitly), so no SYN ever lands on a timewait sock of an earlier
//! connection. Every connection is real and goes the whole way, as an
//! HTTP/1.0 exchange does: `connect()`, the three-way handshake, the child
//! through the accept queue and `accept()`, a 64-byte request, a 64-byte
//! reply, then the server closes (FIN_WAIT1 → FIN_WAIT2), the client reads
//! end of stream and closes, and the server's `tcp_time_wait()` either
//! swaps in a timewait sock (`inet_twsk_hashdance_schedule()`) or, with
//! [`CAP`] already alive, counts `TCPTimeWaitOverflow` and just closes.
//! Connections run [`BATCH`] at a time; within a batch every packet is
//! processed as it would be, and the clock jumps only when both hosts are
//! idle (to the next timer: a delayed ACK, say), so a batch takes
//! well under a jiffy of virtual time. Batches start [`BATCH_SPACING_NS`]
//! apart, 8,192 connections a second: 1,000,000 connections take 122 s,
//! twice `TCP_TIMEWAIT_LEN`. The slab fills in the first 32 s; from 60 s
//! on, the first timewait socks die while the storm goes on and new ones
//! take their places — the cap under turnover, not only a full slab.
//! Between batches the clock is moved jiffy by jiffy through every expiry
//! due, so a batch starts with an exactly known slab and, as no expiry
//! falls inside it, the overflow count of each batch is exact:
//! `max(0, alive + batch − CAP)`.
//!
//! What must hold, as in Linux 6.18 (net/ipv4/tcp_minisocks.c
//! `tcp_time_wait()`, net/ipv4/inet_timewait_sock.c `inet_twsk_alloc()`,
//! `__inet_twsk_schedule()`, `inet_twsk_kill()`):
//!
//! - the timewait slab never holds more than [`CAP`] socks (checked after
//!   every batch), and the process's peak RSS grows by less than
//!   [`mem_bound_bytes()`], derived from the cap (memory is flat at the
//!   cap: from the batch that fills the slab to the end of the storm RSS
//!   grows by less than [`FLAT_SLACK_BYTES`] — what the connections past
//!   the cap cost is transient, and socks that die are replaced, not
//!   added);
//! - `TCPTimeWaitOverflow` counts exactly the connections past the cap
//!   (`max(0, alive + batch − CAP)` for each batch) and `TW` exactly the
//!   others: after every batch, a lookup of each of its
//!   four-tuples (`__inet_lookup_established()` as `tcp_v4_rcv()` runs it)
//!   finds a timewait sock for each `TW` and nothing for each overflow;
//! - lookups keep working: a long-lived connection opened before the storm
//!   is found in `ehash` after every batch and still carries data after it,
//!   and the storm's first timewait sock is found until it expires;
//! - every timewait sock expires on time: its timer is armed for exactly
//!   `TCP_TIMEWAIT_LEN` (60,000 jiffies) after `tw_entry_stamp`, and at each
//!   jiffy where socks are due (during the storm and after it) the slab
//!   holds exactly those not yet due — one jiffy before, they are all
//!   still there. (Our timer wheel is exact
//!   to the jiffy. Linux ≥ 4.8's wheel is not: a 60 s timer sits on a level
//!   whose slots span 4,096 jiffies at HZ = 1000, so Linux's timewait socks
//!   die up to about 4 s late, never early.)
//! - nothing leaks once the last timer has fired: the slab is empty, no
//!   four-tuple of the storm is in `ehash`, the server's port 80 is owned
//!   by the listener and the long-lived child only (no `tw_owners`), and
//!   the client has no bind bucket left on any port it used; after the
//!   long-lived connection and the listener close, nothing at all.
//!
//! The storm needs timewait socks to leave their bind bucket cheaply:
//! all 262,144 sit on port 80's `tw_owners`, and expire oldest-first.
//! With an unlink that walked that list from the front the expiry alone
//! took 6.3 s for 20,000 socks and 19.4 s for 40,000 — quadratic; walking
//! in from both ends made it 0.2 s for 262,144, and the unlink is now O(1)
//! wherever the sock sits (`HList::remove` in inet_hashtables.rs).
//!
//! Each run is 1,000,000 connections, in `cargo test` (the workspace's test
//! profile is `opt-level = 1`: about 40 s of CPU, a minute on a busy
//! two-core machine); `LINNET_TW_STORM=N` runs N instead. The figures are
//! printed (`--nocapture`).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use net_core::Errno;
use net_core::net_namespace::next_wakeup_ns;
use net_core::snmp::LinuxMib;
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::{TwoHosts, run_until_idle};
use net_tcp::af_inet::{POLLOUT, THASH_ENTRIES_LINUX_24G, TcpNet, inet_init_thash};
use net_tcp::inet_hashtables::EhashEntry;
use net_tcp::sock::{TCP_TIMEWAIT_LEN, TcpSock};
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

mod common;
use common::{proc_status_bytes, reset_peak_rss};

const SERVER_IP: Ipv4Addr = TwoHosts::A;
/// The client's own address (the long-lived connection's); the storm's
/// addresses follow from 10.0.0.[`FIRST_STORM_HOST`].
const CLIENT_IP: Ipv4Addr = TwoHosts::B;
const FIRST_STORM_HOST: u8 = 16;
/// The client's MAC ([`TwoHosts`]' b).
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const PORT: u16 = 80;
/// `net.ipv4.tcp_max_tw_buckets` for the storm (Linux's default is half
/// the ehash size: 131,072 on this machine, whose ehash has 262,144
/// buckets).
const CAP: usize = 262_144;
/// Client ports per address: 1024–65535.
const PORTS_PER_ADDR: u64 = 65536 - 1024;
/// Connections in flight at once; also the listener's backlog.
const BATCH: usize = 4096;
/// Virtual time from one batch's start to the next: 4,096 connections
/// per 500 ms, 8,192 a second, so the slab fills in 32 s and 1,000,000
/// connections take 122 s: twice `TCP_TIMEWAIT_LEN`, so timewait socks
/// die and are replaced during the storm.
const BATCH_SPACING_NS: u64 = 500_000_000;
/// Request and reply size.
const MSG: usize = 64;
/// The storm unless `LINNET_TW_STORM` says otherwise: the figure.
const DEFAULT_COUNT: u64 = 1_000_000;
/// Wall-clock limit on the storm, so a regression fails instead of
/// hanging.
const WALL_LIMIT: Duration = Duration::from_secs(900);

/// The storm's size: `LINNET_TW_STORM`, else [`DEFAULT_COUNT`].
fn storm_count() -> u64 {
    match std::env::var("LINNET_TW_STORM") {
        Ok(v) => v.trim().parse::<u64>().expect("LINNET_TW_STORM: a number of connections").max(1),
        Err(_) => DEFAULT_COUNT,
    }
}

/// What one timewait sock costs, generously, in bytes:
///
/// - the `InetTimewaitSock` itself (120 bytes) in an `Arc` (16 bytes of
///   counts): a 136-byte allocation, a 144-byte malloc chunk;
/// - its slot in the timewait slab (an `Arc` in a `slab::Slab` entry: 16
///   bytes), its node in the host's timer slab (`TimerNode`: 48 bytes, plus
///   a 4-byte generation) and the boxed closure the timer calls (a `Weak`:
///   a 32-byte chunk): 100 bytes, doubled because a `Vec` that grows by
///   doubling may hold twice what it uses: 200 bytes;
/// - its links (in the sock) cost nothing more; the ehash and bhash
///   buckets exist before the storm.
///
/// 344 bytes; rounded up to 384.
const TW_COST_BYTES: u64 = 384;

/// How much the process's peak RSS may grow during the storm: `min(N,
/// CAP)` timewait socks at [`TW_COST_BYTES`], plus one batch in flight —
/// [`BATCH`] connections on each host, each a `TcpSock` (≈ 2.7 KiB, the
/// size is printed) with a few small skbs queued (request, reply, FIN:
/// under 4 KiB with headroom each), call it 16 KiB a connection on both
/// hosts together: 64 MiB — plus 16 MiB for the allocator's slack and the
/// test's own tables (a `u64` per timewait sock for its expiry).
///
/// For 1,000,000 connections: 96 + 64 + 16 = 176 MiB, against 1,000,000 ×
/// 144 B = 137 MiB for the timewait socks *alone* if there were no cap,
/// or 938 MiB if each connection kept its full `TcpSock` (984 B, before
/// its buffers) for 60 s. Measured: 98 MiB at 1,000,000 connections and
/// 35 MiB at 20,000 (which never reach the cap), so about 277 B for each
/// of the 242,144 timewait socks between the two.
fn mem_bound_bytes(n: u64) -> u64 {
    n.min(CAP as u64) * TW_COST_BYTES + (64 << 20) + (16 << 20)
}

/// How much RSS may still grow once the slab is at the cap (allocator
/// slack as batches come and go; measured: 1.4 MiB over the 737,856
/// connections after the cap was reached, 282,624 of whose timewait socks
/// replaced ones that had died).
const FLAT_SLACK_BYTES: u64 = 16 << 20;

// -- memory ---------------------------------------------------------------------------------

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

// -- the lab --------------------------------------------------------------------------------

/// The `i`th connection's client address and port.
fn client_end(i: u64) -> (Ipv4Addr, u16) {
    let host = u64::from(FIRST_STORM_HOST) + i / PORTS_PER_ADDR;
    assert!(host < 255, "LINNET_TW_STORM is too large for one /24 of client addresses");
    (Ipv4Addr::new(10, 0, 0, host as u8), (1024 + i % PORTS_PER_ADDR) as u16)
}

struct Lab {
    lab: TwoHosts,
    /// The server's TCP.
    stn: Arc<TcpNet>,
    /// The client's TCP.
    ctn: Arc<TcpNet>,
    listener: TcpSocket,
}

impl Lab {
    fn new(n: u64) -> Lab {
        let lab = TwoHosts::new(0);
        // The server's ehash is Linux's size on this machine (262,144
        // buckets, twice the tcp_max_tw_buckets default), so at the cap
        // the chains average one timewait sock, as Linux's do; with the
        // lab default (16,384) they would average 16 and every miss would
        // walk them (see benches/benches/closing.rs).
        let stn = inet_init_thash(&lab.a, THASH_ENTRIES_LINUX_24G);
        let ctn = inet_init(&lab.b);
        lab.a.sysctl.set("net.ipv4.tcp_max_tw_buckets", &CAP.to_string()).expect("sysctl");
        let eth0 = lab.b.dev_get_by_name("eth0").expect("the client's eth0");
        let server_eth0 = lab.a.dev_get_by_name("eth0").expect("the server's eth0");
        for h in 0..n.div_ceil(PORTS_PER_ADDR) {
            let addr = Ipv4Addr::new(10, 0, 0, FIRST_STORM_HOST + h as u8);
            net_ipv4::devinet::inet_addr_add(&lab.b, &ctn.ipv4, eth0.ifindex, addr, 24).expect("address");
            // A permanent neighbour, as `ip neigh add … nud permanent`: the
            // first SYN-ACKs to a new address would otherwise wait for ARP
            // in a queue of a few packets (`unres_qlen`), the rest dropped
            // and retransmitted a second later.
            stn.ipv4
                .arp_tbl
                .neigh_add(&lab.a, server_eth0.ifindex, addr, CLIENT_MAC, NudState::Permanent)
                .expect("neighbour");
        }
        lab.run_ms(10);
        let listener = TcpSocket::new(&lab.a).expect("socket");
        listener.set_nonblocking(true);
        listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
        listener.listen(BATCH as i32).expect("listen");
        Lab { lab, stn, ctn, listener }
    }

    /// Poll both hosts until `step` (the applications) reports it is
    /// done, jumping the clock to the next event whenever neither host nor
    /// the applications have anything to do.
    fn drive(&self, mut step: impl FnMut() -> (bool, bool)) {
        let (a, b) = (&self.lab.a, &self.lab.b);
        for _ in 0..1_000_000u32 {
            while a.poll() + b.poll() > 0 {}
            let (done, progress) = step();
            if done {
                return;
            }
            if progress {
                continue;
            }
            let next = [a.next_event_ns(), b.next_event_ns()]
                .into_iter()
                .flatten()
                .min()
                .expect("waiting with nothing pending: the storm is stuck");
            self.lab.clock.set_ns(next_wakeup_ns(self.lab.clock.now_ns(), next));
        }
        panic!("a batch never finished");
    }

    /// What a segment from the client's `(addr, port)` finds on the
    /// server (`__inet_lookup_established()` as `tcp_v4_rcv()` runs it).
    fn server_lookup(&self, addr: Ipv4Addr, port: u16) -> Option<EhashEntry> {
        self.stn.hashinfo.__inet_lookup_established_any(addr, port, SERVER_IP, PORT, 0)
    }

    fn tw_count(&self) -> u64 {
        self.lab.a.mib.get(LinuxMib::TW)
    }

    fn overflow_count(&self) -> u64 {
        self.lab.a.mib.get(LinuxMib::TCPTimeWaitOverflow)
    }
}

/// One connection of the storm, client and server side.
struct Conn {
    client: Option<TcpSocket>,
    /// The client's socket, to see it reach CLOSE after `close()`.
    csk: Arc<TcpSock>,
    request_sent: bool,
    reply: [u8; MSG],
    reply_got: usize,
}

/// The server's side of one connection, from `accept()` to `close()`.
struct Child {
    sock: TcpSocket,
    request: [u8; MSG],
    got: usize,
}

/// Run connections `first..first + count` to the end (the client's socket
/// CLOSE, the server's either a timewait sock or gone).
fn run_batch(lab: &Lab, first: u64, count: usize) {
    let mut conns: Vec<Conn> = (first..first + count as u64)
        .map(|i| {
            let (addr, port) = client_end(i);
            let c = TcpSocket::new(&lab.lab.b).expect("socket");
            c.set_nonblocking(true);
            c.bind(SocketAddrV4::new(addr, port)).expect("bind the client's own four-tuple");
            assert_eq!(c.connect(SocketAddrV4::new(SERVER_IP, PORT)), Err(Errno::EINPROGRESS));
            let csk = c.sock().clone();
            Conn { client: Some(c), csk, request_sent: false, reply: [0; MSG], reply_got: 0 }
        })
        .collect();
    let mut children: Vec<Child> = Vec::with_capacity(count);
    let (mut accepted, mut server_closed, mut client_closed) = (0, 0, 0);
    lab.drive(|| {
        let mut progress = false;
        // The server: accept, read the request, reply, close first.
        while let Ok((sock, _)) = lab.listener.accept() {
            sock.set_nonblocking(true);
            children.push(Child { sock, request: [0; MSG], got: 0 });
            accepted += 1;
            progress = true;
        }
        children.retain_mut(|ch| {
            while ch.got < MSG {
                match ch.sock.recv(&mut ch.request[ch.got..]) {
                    Ok(0) => panic!("end of stream before the request"),
                    Ok(n) => ch.got += n,
                    Err(Errno::EAGAIN) => return true,
                    Err(e) => panic!("server recv: {e:?}"),
                }
            }
            assert_eq!(ch.request, [0x5a; MSG]);
            assert_eq!(ch.sock.send(&[0xa5; MSG]), Ok(MSG));
            progress = true;
            server_closed += 1;
            false // close(): FIN_WAIT1
        });
        // The client: send the request once connected, read the reply
        // and end of stream, close.
        for c in conns.iter_mut() {
            let Some(s) = &c.client else { continue };
            if !c.request_sent {
                if s.poll() & POLLOUT == 0 {
                    continue;
                }
                assert_eq!(s.send(&[0x5a; MSG]), Ok(MSG));
                c.request_sent = true;
                progress = true;
            }
            let mut scratch = [0u8; MSG + 1];
            loop {
                match s.recv(&mut scratch) {
                    Ok(0) => {
                        assert_eq!((c.reply_got, c.reply), (MSG, [0xa5; MSG]), "the whole reply, then EOF");
                        c.client = None; // close(): LAST_ACK
                        client_closed += 1;
                        progress = true;
                        break;
                    }
                    Ok(k) => {
                        assert!(c.reply_got + k <= MSG, "more than the reply");
                        c.reply[c.reply_got..c.reply_got + k].copy_from_slice(&scratch[..k]);
                        c.reply_got += k;
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("client recv: {e:?}"),
                }
            }
        }
        let done = client_closed == count && conns.iter().all(|c| c.csk.sk_state() == TcpState::Close);
        (done, progress)
    });
    assert_eq!((accepted, server_closed), (count, count));
}

/// The expiries still to come, by jiffy, and how many timewait socks
/// they hold.
struct Expiries {
    by_jiffy: BTreeMap<u64, u64>,
    pending: u64,
    /// Jiffies at which socks were due, checked so far.
    jiffies_checked: u64,
}

impl Expiries {
    fn add(&mut self, jiffy: u64) {
        *self.by_jiffy.entry(jiffy).or_default() += 1;
        self.pending += 1;
    }

    /// Run both hosts until `to_ns`, stopping one jiffy before and at each
    /// jiffy where timewait socks are due: before, all of them are alive;
    /// at it, exactly those not yet due.
    fn advance_to(&mut self, lab: &Lab, to_ns: u64) {
        let hosts = [&lab.lab.a, &lab.lab.b];
        while let Some((&j, &c)) = self.by_jiffy.first_key_value() {
            if j * 1_000_000 > to_ns {
                break;
            }
            run_until_idle(&lab.lab.clock, &hosts, (j - 1) * 1_000_000);
            assert_eq!(lab.stn.twsk_slab.active_objs() as u64, self.pending, "one jiffy before {j}");
            run_until_idle(&lab.lab.clock, &hosts, j * 1_000_000);
            self.pending -= c;
            assert_eq!(lab.stn.twsk_slab.active_objs() as u64, self.pending, "at jiffy {j}");
            self.by_jiffy.remove(&j);
            self.jiffies_checked += 1;
        }
        run_until_idle(&lab.lab.clock, &hosts, to_ns);
    }
}

// -- the storm ------------------------------------------------------------------------------

#[test]
fn time_wait_storm_holds_at_tcp_max_tw_buckets() {
    let n = storm_count();
    let wall = Instant::now();
    let lab = Lab::new(n);

    // The long-lived connection, from the client's own address.
    let long_c = TcpSocket::new(&lab.lab.b).expect("socket");
    long_c.set_nonblocking(true);
    assert_eq!(long_c.connect(SocketAddrV4::new(SERVER_IP, PORT)), Err(Errno::EINPROGRESS));
    let mut long_s = None;
    lab.drive(|| {
        if long_s.is_none() {
            long_s = lab.listener.accept().ok().map(|(s, _)| s);
        }
        (long_s.is_some() && long_c.poll() & POLLOUT != 0, false)
    });
    let long_s = long_s.expect("accepted");
    long_s.set_nonblocking(true);
    let long_port = long_c.local_addr().port();
    let long_is_established = || {
        matches!(lab.server_lookup(CLIENT_IP, long_port), Some(EhashEntry::Sk(sk))
            if sk.sk_state() == TcpState::Established)
    };
    assert!(long_is_established());

    let rss0 = proc_status_bytes("VmRSS").unwrap_or(0);
    let hwm_reset = reset_peak_rss();
    let mut rss_peak_sampled = rss0;
    let mut rss_at_cap = None;
    let start_ns = lab.lab.clock.now_ns();

    // Every timewait sock's expiry, by jiffy.
    let mut expiries = Expiries { by_jiffy: BTreeMap::new(), pending: 0, jiffies_checked: 0 };
    let mut first_tw: Option<(Ipv4Addr, u16, u64)> = None;
    let mut done = 0u64;
    while done < n {
        assert!(wall.elapsed() < WALL_LIMIT, "the storm ran past {WALL_LIMIT:?}");
        let count = (n - done).min(BATCH as u64) as usize;
        let (tw0, of0) = (lab.tw_count(), lab.overflow_count());
        let alive0 = lab.stn.twsk_slab.active_objs();
        assert_eq!(alive0 as u64, expiries.pending, "the slab holds exactly the socks not yet due");
        run_batch(&lab, done, count);
        let now_j = lab.lab.a.jiffies();

        // Every four-tuple of the batch: a timewait sock, or (past the cap)
        // nothing.
        let (mut tws, mut nones) = (0u64, 0u64);
        for i in done..done + count as u64 {
            let (addr, port) = client_end(i);
            match lab.server_lookup(addr, port) {
                Some(EhashEntry::Tw(tw)) => {
                    assert_eq!(tw.substate(), TcpState::TimeWait);
                    let entry = tw.tw_entry_stamp.load(std::sync::atomic::Ordering::Relaxed);
                    let expires = lab.lab.a.timer_expires(tw.tw_timer).expect("the timewait timer is armed");
                    assert_eq!(expires, entry + u64::from(TCP_TIMEWAIT_LEN), "armed for TCP_TIMEWAIT_LEN");
                    expiries.add(expires);
                    first_tw.get_or_insert((addr, port, expires));
                    tws += 1;
                }
                None => nones += 1,
                Some(_) => panic!("connection {i} left a full socket or a request sock behind"),
            }
        }
        let (dtw, dof) = (lab.tw_count() - tw0, lab.overflow_count() - of0);
        assert_eq!((dtw, dof), (tws, nones), "TW / TCPTimeWaitOverflow match what the lookups find");
        assert_eq!(dtw + dof, count as u64, "every server-side close was counted once");
        let alive = lab.stn.twsk_slab.active_objs();
        assert!(alive <= CAP, "{alive} timewait socks, past tcp_max_tw_buckets");
        // No timewait sock fell due during the batch (those due before it
        // were run out beforehand), so exactly the connections past the
        // cap overflowed.
        let due: u64 = expiries.by_jiffy.range(..=now_j).map(|(_, c)| c).sum();
        assert_eq!(due, 0, "a timewait sock fell due in the middle of a batch");
        assert_eq!(
            dof as usize,
            (alive0 + count).saturating_sub(CAP),
            "overflows = connections past the cap"
        );
        assert_eq!(alive, (alive0 + count).min(CAP));
        // Lookups keep working.
        assert!(long_is_established(), "the long-lived connection is still in ehash");
        if let Some((addr, port, e)) = first_tw {
            let found = matches!(lab.server_lookup(addr, port), Some(EhashEntry::Tw(_)));
            assert_eq!(found, e > now_j, "the first timewait sock, due at jiffy {e}, at {now_j}");
        }
        assert_eq!(lab.stn.hashinfo.established_len(), 1, "only the long-lived connection is established");
        assert_eq!(lab.ctn.hashinfo.established_len(), 1);

        let rss = proc_status_bytes("VmRSS").unwrap_or(0);
        rss_peak_sampled = rss_peak_sampled.max(rss);
        if alive == CAP && rss_at_cap.is_none() {
            rss_at_cap = Some(rss);
        }
        done += count as u64;
        let next_batch = start_ns + done / BATCH as u64 * BATCH_SPACING_NS;
        expiries.advance_to(&lab, next_batch);
    }
    let storm_wall = wall.elapsed();
    let storm_virtual_ns = lab.lab.clock.now_ns() - start_ns;
    let rss_end = proc_status_bytes("VmRSS").unwrap_or(0);
    let hwm = if hwm_reset { proc_status_bytes("VmHWM").unwrap_or(0) } else { 0 };
    let peak = hwm.max(rss_peak_sampled);
    let growth = peak.saturating_sub(rss0);
    let peak_tw = lab.stn.twsk_slab.active_objs_peak();
    let (tw_total, overflows) = (lab.tw_count(), lab.overflow_count());

    // The long-lived connection still carries data both ways.
    assert_eq!(long_c.send(b"ping"), Ok(4));
    let mut buf = [0u8; 4];
    lab.drive(|| (long_s.recv(&mut buf) == Ok(4), false));
    assert_eq!(&buf, b"ping");
    assert_eq!(long_s.send(b"pong"), Ok(4));
    lab.drive(|| (long_c.recv(&mut buf) == Ok(4), false));
    assert_eq!(&buf, b"pong");

    // The rest expire, each checked at its jiffy.
    let expiry_wall = Instant::now();
    let died_in_storm = tw_total - expiries.pending;
    let last = *expiries.by_jiffy.last_key_value().map(|(j, _)| j).unwrap_or(&0);
    expiries.advance_to(&lab, last * 1_000_000);
    assert_eq!(expiries.pending, 0);
    let expiry_wall = expiry_wall.elapsed();

    // Nothing leaks.
    assert_eq!(lab.stn.twsk_slab.active_objs(), 0, "the timewait slab is empty");
    assert_eq!(lab.lab.a.mib.get(LinuxMib::TWKilled), 0);
    for i in 0..n {
        let (addr, port) = client_end(i);
        assert!(lab.server_lookup(addr, port).is_none(), "connection {i} is still in the server's ehash");
    }
    let bb = lab.stn.hashinfo.bind_bucket(PORT).expect("port 80 is in use");
    assert_eq!((bb.owners, bb.tw_owners), (2, 0), "port 80: the listener and the long-lived child only");
    for port in (1024..=u16::MAX).filter(|&p| p != long_port) {
        assert!(lab.ctn.hashinfo.bind_bucket(port).is_none(), "the client still holds port {port}");
    }
    // The long-lived connection closes from the client (its TIME_WAIT is
    // the client's), then the listener: nothing is left on either host.
    drop(long_c);
    lab.lab.run_ms(5);
    drop(long_s);
    lab.lab.run_ms(61_000);
    drop(lab.listener);
    lab.lab.run_ms(5);
    for (host, tn) in [("server", &lab.stn), ("client", &lab.ctn)] {
        assert_eq!(tn.twsk_slab.active_objs(), 0, "{host}: timewait slab");
        assert_eq!(tn.hashinfo.established_len(), 0, "{host}: ehash");
        assert_eq!(tn.reqsk_slab.active_objs(), 0, "{host}: request socks");
    }
    assert!(lab.stn.hashinfo.bind_bucket(PORT).is_none(), "port 80 is free");
    assert_eq!(lab.ctn.hashinfo.bind_bucket(long_port).map(|b| b.owners), None);

    println!("TIME_WAIT storm: {n} connections closed by the server, tcp_max_tw_buckets = {CAP}");
    println!(
        "  timewait socks: peak {peak_tw}, TW {tw_total}, TCPTimeWaitOverflow {overflows} (= {n} − {tw_total})"
    );
    println!(
        "  virtual time: storm {:.3} s; {died_in_storm} timewait socks died during the storm and were replaced; \
         every one gone at +60 s to the jiffy ({} expiry jiffies checked)",
        storm_virtual_ns as f64 / 1e9,
        expiries.jiffies_checked
    );
    println!(
        "  RSS: before {:.1} MiB, at the cap {:.1} MiB, end of storm {:.1} MiB, peak {:.1} MiB: growth {:.1} MiB (bound {:.1} MiB{})",
        mib(rss0),
        mib(rss_at_cap.unwrap_or(0)),
        mib(rss_end),
        mib(peak),
        mib(growth),
        mib(mem_bound_bytes(n)),
        if hwm_reset { "" } else { "; VmHWM could not be reset, sampled per batch" }
    );
    println!(
        "  size_of::<InetTimewaitSock>() = {} B, size_of::<TcpSock>() = {} B",
        std::mem::size_of::<net_tcp::inet_timewait_sock::InetTimewaitSock>(),
        std::mem::size_of::<TcpSock>()
    );
    println!(
        "  wall: storm {:.1} s ({:.0} connections/s), expiry {:.1} s",
        storm_wall.as_secs_f64(),
        n as f64 / storm_wall.as_secs_f64(),
        expiry_wall.as_secs_f64()
    );
    assert_eq!(peak_tw, (n as usize).min(CAP));
    assert_eq!(tw_total + overflows, n, "every connection: a timewait sock or an overflow");
    if n > CAP as u64 {
        assert!(overflows > 0);
    }
    // Flat at the cap: the connections past it leave nothing behind.
    if let Some(at_cap) = rss_at_cap {
        assert!(
            rss_end.saturating_sub(at_cap) < FLAT_SLACK_BYTES,
            "RSS grew {:.1} MiB after the cap was reached",
            mib(rss_end.saturating_sub(at_cap))
        );
    }
    assert!(
        growth < mem_bound_bytes(n),
        "peak RSS grew {:.1} MiB, past the bound {:.1} MiB",
        mib(growth),
        mib(mem_bound_bytes(n))
    );
}
