//! The floods of issue #11 that aim at TCP past the SYN queue: bare ACKs
//! with forged cookies at a listener, RSTs and SYNs at guessed sequence
//! numbers against an established connection (RFC 5961), and a flood of
//! out-of-order segments into one. (The SYN flood is in syn_flood.rs, the
//! TIME_WAIT storm in time_wait_storm.rs, orphans in orphans.rs; the
//! fragment and ARP floods need no TCP and live in net-ipv4/tests/floods.rs.)
//!
//! The lab is syn_flood.rs's (tests/common/flood.rs): one linnet server
//! (10.0.0.1, a listener on port 80) and one linnet client (10.0.0.2) on
//! a zero-latency link the test drives itself, a default route through
//! 10.0.0.254 taking the server's answers to spoofed sources nowhere
//! (they are counted). Each flood comes from a seeded xorshift, so every
//! run is the same, injected
//! as Ethernet frames in batches of [`BATCH`], [`SPACING_NS`] of virtual
//! time apart (100,000 packets per second); it is bounded in count
//! (1,000,000 packets each; `LINNET_ACK_FLOOD`, `LINNET_RST_FLOOD`,
//! `LINNET_OFO_FLOOD` override that) and in wall time ([`WALL_LIMIT`], a hang guard only), prints
//! its figures (`--nocapture`) and asserts, as Linux 6.18 behaves:
//!
//! 1. [`ack_flood_with_forged_cookies_creates_nothing`]: once the SYN queue
//!    has overflowed (so `tcp_v4_cookie_check()` tries every bare ACK —
//!    it does not while `tcp_synq_no_recent_overflow()`), every forged
//!    ACK fails the cookie check (`SyncookiesFailed`), creates no request
//!    sock and no child, and is answered with a RST (the listener's
//!    `tcp_rcv_state_process()` returns 1 for an ACK: `tcp_v4_send_reset()`);
//!    a real client still connects through a cookie.
//! 2. [`rst_and_syn_at_guessed_sequence_numbers_do_not_kill`]: an RST in
//!    the window but not at `rcv_nxt`, and any SYN, earn a challenge ACK
//!    (`TCPSYNChallenge` and `Tcp: InErrs` for SYNs), limited to one per
//!    `tcp_invalid_ratelimit` per socket (`TCPACKSkippedChallenge`); an RST
//!    out of the window is dropped without an answer; the connection
//!    survives and carries identical bytes both ways; then one RST at
//!    `rcv_nxt` kills it.
//! 3. [`ofo_flood_is_bounded_by_the_receive_buffer`]: tiny segments at
//!    random places in the window never let `sk_rmem_alloc` pass
//!    `sk_rcvbuf` by more than one skb's overhead (`tcp_can_ingest()`
//!    admits on payload, not truesize); the pruning counters rise
//!    (`PruneCalled`, `OfoPruned`, `TCPOFODrop`, `RcvPruned`); the stream
//!    the client then sends arrives whole. (This flood found that our
//!    `tcp_collapse_ofo_queue()` copied lone tiny segments into page-sized
//!    skbs, raising `sk_rmem_alloc` instead of lowering it.)
//!
//! Each asserts that the process's peak RSS grows by less than a bound
//! derived next to its constant. The tests of this file run one at a time
//! ([`serial`]) for that.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use net_core::Errno;
use net_core::snmp::{LinuxMib, MibItem, TcpMib};
use net_ipv4::testlink::{ETH_IPV4_L4_OFFSET, eth_ipv4_frame};
use net_tcp::TcpSocket;
use net_tcp::tcp_states::TcpState;
use net_tcp::tcphdr::{
    TCPHDR_ACK, TCPHDR_RST, TCPHDR_SYN, TcpHdr, TcpOutOptions, tcp_options_size, tcp_options_write,
};

mod common;
use common::flood::{
    BATCH, CLIENT_IP, CLIENT_MAC, GATEWAY_MAC, Lab, PORT, Rng, SERVER_IP, SERVER_MAC, flood_count,
};
use common::{proc_status_bytes, reset_peak_rss, serial};

/// Virtual time between two flood packets: 100,000 per second.
const SPACING_NS: u64 = 10_000;
/// Wall-clock limit on one flood, so a regression fails instead of hanging.
const WALL_LIMIT: Duration = Duration::from_secs(300);

/// How much the process's peak resident set may grow during one flood.
///
/// Derived, generously, from what may legitimately be alive at once:
///
/// - what the sysctls let the victim keep: for the ACK flood,
///   `backlog + 1` request socks (under 1 KiB each: [`ACK_BACKLOG`] is 64,
///   so under 0.1 MiB); for the out-of-order flood, one receive buffer,
///   `sk_rcvbuf` = `tcp_rmem[1]` = 128 KiB (no autotuning happens: the
///   application reads nothing while it lasts), counted in `truesize`, so
///   the real allocations; for the RST/SYN flood, nothing (every segment
///   is dropped) — at most 1 MiB in all;
/// - one batch in flight: [`BATCH`] injected frames (≈ 100 bytes each, as
///   a `Vec` on the link and again as an skb) and as many answers captured
///   on the way out, each skb under 4 KiB with its headroom: 1024 × 3 ×
///   4 KiB = 12 MiB;
/// - the allocator's own slack (glibc arenas, fragmentation): 3 MiB.
///
/// 16 MiB in all, against hundreds of MiB if each of the flood's packets
/// left so much as one skb behind.
const MEM_BOUND_BYTES: u64 = 16 << 20;

// -- the lab ------------------------------------------------------------------------------

/// A segment to the server's port [`PORT`] from `saddr:sport` (through
/// the gateway's MAC, or the client's when `saddr` is the client),
/// carrying `payload` and `opts`.
#[allow(clippy::too_many_arguments)] // a TCP header's fields
fn segment(
    saddr: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack_seq: u32,
    flags: u8,
    opts: &TcpOutOptions,
    payload: &[u8],
) -> Vec<u8> {
    let thlen = 20 + tcp_options_size(opts);
    let src_mac = if saddr == CLIENT_IP { CLIENT_MAC } else { GATEWAY_MAC };
    let mut f = eth_ipv4_frame(SERVER_MAC, src_mac, saddr, SERVER_IP, 6, thlen + payload.len());
    f[ETH_IPV4_L4_OFFSET + 12] = ((thlen / 4) as u8) << 4;
    let mut th = TcpHdr::new_checked(&mut f[ETH_IPV4_L4_OFFSET..]).expect("a whole TCP header");
    th.set_source(sport);
    th.set_dest(dport);
    th.set_seq(seq);
    th.set_ack_seq(ack_seq);
    th.set_flags(flags);
    th.set_window(64240);
    tcp_options_write(th.options_mut(), opts);
    th.payload_mut().copy_from_slice(payload);
    th.fill_checksum(saddr, SERVER_IP);
    f
}

impl Lab {
    /// Hand `frames` to the server's link, then run for their spacing.
    fn inject(&mut self, frames: Vec<Vec<u8>>) {
        let n = frames.len() as u64;
        self.slink.lock().expect("server link").rx.extend(frames);
        self.run_for(n * SPACING_NS);
    }

    /// The server's counter `m`.
    fn mib(&self, m: impl MibItem) -> u64 {
        self.server.mib.get(m)
    }

    /// A connection from the client, accepted: (client, server's child).
    fn connect(&mut self) -> (TcpSocket, TcpSocket) {
        let c = TcpSocket::new(&self.client).expect("socket");
        c.set_nonblocking(true);
        assert_eq!(c.connect(SocketAddrV4::new(SERVER_IP, PORT)), Err(Errno::EINPROGRESS));
        self.run_for(10_000_000);
        assert_eq!(c.state(), TcpState::Established);
        let (child, _) = self.listener.accept().expect("accepted");
        child.set_nonblocking(true);
        (c, child)
    }
}

/// Peak-memory bookkeeping around a flood.
struct MemWatch {
    hwm_reset: bool,
    rss_before: u64,
    sampled: u64,
}

impl MemWatch {
    fn start() -> MemWatch {
        let hwm_reset = reset_peak_rss();
        let rss_before = proc_status_bytes("VmRSS").unwrap_or(0);
        MemWatch { hwm_reset, rss_before, sampled: rss_before }
    }

    fn sample(&mut self) {
        self.sampled = self.sampled.max(proc_status_bytes("VmRSS").unwrap_or(0));
    }

    /// How much the peak RSS grew since [`MemWatch::start`].
    fn growth(mut self) -> u64 {
        self.sample();
        let hwm = if self.hwm_reset { proc_status_bytes("VmHWM").unwrap_or(0) } else { 0 };
        hwm.max(self.sampled).saturating_sub(self.rss_before)
    }
}

fn build() -> &'static str {
    if cfg!(debug_assertions) { "debug" } else { "release" }
}

fn mib(n: f64) -> String {
    format!("{:.1} MiB", n / 1048576.0)
}

// -- 1. the ACK flood --------------------------------------------------------------------

/// The listener's backlog in the ACK flood: small, so a few SYNs overflow it.
const ACK_BACKLOG: i32 = 64;
const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nstill here";

/// Bare ACKs with random cookies (`ack_seq`), sequence numbers, sources
/// and ports; half carry a timestamp option, as a Linux client's would.
fn forged_ack(rng: &mut Rng) -> Vec<u8> {
    let (saddr, sport, seq, ack) = (rng.spoofed_addr(), rng.port(), rng.u32(), rng.u32());
    let opts = if seq & 1 == 0 {
        TcpOutOptions { ts: Some((rng.u32(), rng.u32())), ..TcpOutOptions::default() }
    } else {
        TcpOutOptions::default()
    };
    segment(saddr, sport, PORT, seq, ack, TCPHDR_ACK, &opts, &[])
}

#[test]
fn ack_flood_with_forged_cookies_creates_nothing() {
    let _serial = serial();
    let count = flood_count("LINNET_ACK_FLOOD", 1_000_000, "packets");
    let mut lab = Lab::new(1, ACK_BACKLOG);
    let mut rng = Rng(0xac4f_100d);
    // Before any overflow, tcp_synq_no_recent_overflow(): a bare ACK is
    // not even tried as a cookie — no SyncookiesFailed — and is reset.
    lab.inject((0..BATCH).map(|_| forged_ack(&mut rng)).collect());
    assert_eq!(lab.mib(LinuxMib::SyncookiesFailed), 0, "no cookie check without a recent overflow");
    assert_eq!(lab.wire.rsts, BATCH as u64, "each answered with a RST");
    // Overflow the SYN queue first: from then on (for two minutes) the
    // listener tries bare ACKs as cookies (tcp_synq_overflow()).
    let fill: Vec<Vec<u8>> = (0..2 * ACK_BACKLOG)
        .map(|_| {
            let (saddr, sport, seq) = (rng.spoofed_addr(), rng.port(), rng.u32());
            segment(saddr, sport, PORT, seq, 0, TCPHDR_SYN, &TcpOutOptions::syn(1460, 1, 7), &[])
        })
        .collect();
    lab.inject(fill);
    assert!(lab.mib(LinuxMib::TCPReqQFullDoCookies) > 0, "the SYN queue overflowed");
    let reqsk_after_fill = lab.stn.reqsk_slab.active_objs();
    assert_eq!(reqsk_after_fill, ACK_BACKLOG as usize + 1);
    let (failed0, recv0, rsts0) =
        (lab.mib(LinuxMib::SyncookiesFailed), lab.mib(LinuxMib::SyncookiesRecv), lab.wire.rsts);
    let in_segs0 = lab.mib(TcpMib::InSegs);

    let mut mem = MemWatch::start();
    let started = Instant::now();
    let (mut sent, mut reqsk_max) = (0u64, 0usize);
    let mut client: Option<TcpSocket> = None;
    let mut child: Option<TcpSocket> = None;
    let (mut server_got, mut client_got) = (Vec::new(), Vec::new());
    let mut connected_at = None;
    while sent < count {
        assert!(started.elapsed() < WALL_LIMIT, "the flood took longer than {WALL_LIMIT:?} ({sent} sent)");
        let n = (count - sent).min(BATCH as u64);
        lab.inject((0..n).map(|_| forged_ack(&mut rng)).collect());
        sent += n;
        reqsk_max = reqsk_max.max(lab.stn.reqsk_slab.active_objs());
        // Half-way, a real client connects (through a cookie: the queue
        // is full) and asks; the server answers, all during the flood.
        if client.is_none() && sent >= count / 2 {
            let c = TcpSocket::new(&lab.client).expect("socket");
            c.set_nonblocking(true);
            assert_eq!(c.connect(SocketAddrV4::new(SERVER_IP, PORT)), Err(Errno::EINPROGRESS));
            client = Some(c);
        }
        if let Some(c) = &client {
            if c.state() == TcpState::Established && connected_at.is_none() {
                connected_at = Some(sent);
                assert_eq!(c.send(REQUEST), Ok(REQUEST.len()));
            }
            if child.is_none() {
                match lab.listener.accept() {
                    Ok((s, peer)) => {
                        assert_eq!(*peer.ip(), CLIENT_IP, "only the client completes a handshake");
                        s.set_nonblocking(true);
                        child = Some(s);
                    }
                    Err(Errno::EAGAIN) => {}
                    Err(e) => panic!("accept: {e:?}"),
                }
            }
            let mut buf = [0u8; 256];
            if let Some(s) = &child {
                if let Ok(k) = s.recv(&mut buf) {
                    server_got.extend_from_slice(&buf[..k]);
                    if server_got == REQUEST {
                        assert_eq!(s.send(REPLY), Ok(REPLY.len()));
                    }
                }
            }
            if let Ok(k) = c.recv(&mut buf) {
                client_got.extend_from_slice(&buf[..k]);
            }
        }
        if sent % (32 * BATCH as u64) == 0 {
            mem.sample();
        }
    }
    let elapsed = started.elapsed();
    let growth = mem.growth();
    let failed = lab.mib(LinuxMib::SyncookiesFailed) - failed0;
    let recv = lab.mib(LinuxMib::SyncookiesRecv) - recv0;
    let rsts = lab.wire.rsts - rsts0;
    let handled = lab.mib(TcpMib::InSegs) - in_segs0;
    let legit = server_got == REQUEST && client_got == REPLY;
    println!("ack flood at a listener after a SYN-queue overflow, backlog {ACK_BACKLOG}, {} build:", build());
    println!("  ACKs sent                 {sent} ({:.1} s wall)", elapsed.as_secs_f64());
    println!("  segments handled (InSegs) {handled} (the client's included)");
    println!("  SyncookiesFailed          {failed} (SyncookiesRecv {recv})");
    println!("  RSTs to spoofed sources   {rsts}");
    println!(
        "  request socks             {} after the overflow, at most {reqsk_max} during the flood (backlog + 1 = {})",
        reqsk_after_fill,
        ACK_BACKLOG + 1
    );
    println!("  accept queue              {:?} (ack backlog, max, SYN queue)", lab.listener.listen_queues());
    println!("  peak memory growth        {} (bound {})", mib(growth as f64), mib(MEM_BOUND_BYTES as f64));
    println!(
        "  legitimate connection     {} (established after ACK {connected_at:?})",
        if legit { "survived" } else { "FAILED" }
    );
    println!("  drop reasons              {:?}", lab.server.drops.nonzero());

    assert_eq!(failed, sent, "every forged ACK was tried as a cookie, and failed");
    assert_eq!(recv, 1, "the one cookie that checked out was the client's");
    assert_eq!(rsts, sent, "every forged ACK was answered with a RST");
    assert!(reqsk_max <= ACK_BACKLOG as usize + 1, "no request sock from a forged ACK");
    // The fill's request socks only age out (faster with the queue more
    // than half full: reqsk_timer_handler()'s young/old rule).
    assert!(lab.stn.reqsk_slab.active_objs() <= reqsk_after_fill);
    assert!(legit, "the real client connected and talked during the flood");
    assert_eq!(lab.listener.accept().err(), Some(Errno::EAGAIN), "no other child");
    assert!(growth < MEM_BOUND_BYTES, "peak memory grew by {growth} bytes");
}

// -- 2. RSTs and SYNs at guessed sequence numbers ----------------------------------------

/// What one kind of injected segment is, for the bookkeeping.
#[derive(Default, Debug)]
struct Injected {
    rst_in_window: u64,
    rst_out_of_window: u64,
    syn_in_window: u64,
    syn_out_of_window: u64,
}

/// The server child's (rcv_nxt, what is left of its advertised window).
fn rcv_view(child: &TcpSocket) -> (u32, u32) {
    let tp = child.sock().lock.lock();
    (tp.rcv_nxt, net_tcp::tcp_output::tcp_receive_window(&tp))
}

/// Pattern byte `i` of a stream: what the test's endpoints send, so any
/// byte out of place shows.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(0x9e37_79b9) >> 13) as u8
}

/// One phase of the RST/SYN flood: `count` segments, a quarter each of
/// RSTs in the window (never at `rcv_nxt`), RSTs out of it, SYNs in it and
/// SYNs out of it, all with the client's four-tuple; between batches the
/// client sends [`CHUNK`] bytes and the server echoes what it read.
/// Returns what was injected.
#[allow(clippy::too_many_arguments)] // the connection and its two byte streams
fn guessed_seq_phase(
    lab: &mut Lab,
    rng: &mut Rng,
    count: u64,
    client: &TcpSocket,
    child: &TcpSocket,
    sent_bytes: &mut u64,
    server_got: &mut Vec<u8>,
    client_got: &mut Vec<u8>,
) -> Injected {
    const CHUNK: usize = 512;
    let sport = client.local_addr().port();
    let started = Instant::now();
    let mut inj = Injected::default();
    let mut sent = 0u64;
    while sent < count {
        assert!(started.elapsed() < WALL_LIMIT, "the flood took longer than {WALL_LIMIT:?} ({sent} sent)");
        let n = (count - sent).min(BATCH as u64);
        let (rcv_nxt, win) = rcv_view(child);
        assert!((2..1 << 20).contains(&win), "window {win}");
        let frames = (0..n)
            .map(|k| {
                let r = rng.u32();
                let in_window = rcv_nxt.wrapping_add(1 + r % (win - 1));
                let out_of_window = rcv_nxt.wrapping_add((1 << 20) + r % (u32::MAX - (2 << 20)));
                let (seq, flags) = match (sent + k) % 4 {
                    0 => (in_window, TCPHDR_RST),
                    1 => (out_of_window, TCPHDR_RST),
                    2 => (in_window, TCPHDR_SYN),
                    _ => (out_of_window, TCPHDR_SYN),
                };
                match (sent + k) % 4 {
                    0 => inj.rst_in_window += 1,
                    1 => inj.rst_out_of_window += 1,
                    2 => inj.syn_in_window += 1,
                    _ => inj.syn_out_of_window += 1,
                }
                segment(CLIENT_IP, sport, PORT, seq, 0, flags, &TcpOutOptions::default(), &[])
            })
            .collect();
        lab.inject(frames);
        sent += n;
        // The real conversation goes on between the batches.
        let chunk: Vec<u8> = (0..CHUNK as u64).map(|i| pattern(*sent_bytes + i)).collect();
        if let Ok(k) = client.send(&chunk) {
            *sent_bytes += k as u64;
        }
        lab.run_for(0);
        let mut buf = [0u8; 4096];
        while let Ok(k) = child.recv(&mut buf) {
            if k == 0 {
                break;
            }
            server_got.extend_from_slice(&buf[..k]);
            assert_eq!(child.send(&buf[..k]), Ok(k), "the echo fits");
        }
        lab.run_for(0);
        while let Ok(k) = client.recv(&mut buf) {
            if k == 0 {
                break;
            }
            client_got.extend_from_slice(&buf[..k]);
        }
    }
    inj
}

#[test]
fn rst_and_syn_at_guessed_sequence_numbers_do_not_kill() {
    let _serial = serial();
    let count = flood_count("LINNET_RST_FLOOD", 1_000_000, "packets");
    let mut lab = Lab::new(1, 128);
    let (client, child) = lab.connect();
    let mut rng = Rng(0x5e9_f100d);
    let (mut sent_bytes, mut server_got, mut client_got) = (0u64, Vec::new(), Vec::new());
    let counters = [
        LinuxMib::TCPChallengeACK,
        LinuxMib::TCPSYNChallenge,
        LinuxMib::TCPACKSkippedChallenge,
        LinuxMib::TCPACKSkippedSeq,
        LinuxMib::BeyondWindow,
    ];
    let in_errs0 = lab.mib(TcpMib::InErrs);
    let mut mem = MemWatch::start();
    let started = Instant::now();

    // Phase 1, the defaults: tcp_invalid_ratelimit = 500 ms per socket,
    // tcp_challenge_ack_limit = INT_MAX (no host budget, Linux ≥ 6.0).
    let before: Vec<u64> = counters.iter().map(|&m| lab.mib(m)).collect();
    let t0 = lab.clock.now_ns();
    let p1 = guessed_seq_phase(
        &mut lab,
        &mut rng,
        count / 2,
        &client,
        &child,
        &mut sent_bytes,
        &mut server_got,
        &mut client_got,
    );
    let p1_ns = lab.clock.now_ns() - t0;
    let d1: Vec<u64> = counters.iter().zip(&before).map(|(&m, b)| lab.mib(m) - b).collect();
    mem.sample();

    // Phase 2: no per-socket limit (tcp_invalid_ratelimit = 0), a host
    // budget of 1,000 a second (the pre-6.0 default is 1,000 too):
    // each second allows a random [500, 1500).
    lab.server.sysctl.set("net.ipv4.tcp_invalid_ratelimit", "0").expect("sysctl");
    lab.server.sysctl.set("net.ipv4.tcp_challenge_ack_limit", "1000").expect("sysctl");
    let before: Vec<u64> = counters.iter().map(|&m| lab.mib(m)).collect();
    let t0 = lab.clock.now_ns();
    let p2 = guessed_seq_phase(
        &mut lab,
        &mut rng,
        count - count / 2,
        &client,
        &child,
        &mut sent_bytes,
        &mut server_got,
        &mut client_got,
    );
    let p2_ns = lab.clock.now_ns() - t0;
    let d2: Vec<u64> = counters.iter().zip(&before).map(|(&m, b)| lab.mib(m) - b).collect();
    // Let the last echo arrive.
    lab.run_for(10_000_000);
    let mut buf = [0u8; 4096];
    while let Ok(k) = client.recv(&mut buf) {
        if k == 0 {
            break;
        }
        client_got.extend_from_slice(&buf[..k]);
    }
    let elapsed = started.elapsed();
    let growth = mem.growth();
    let in_errs = lab.mib(TcpMib::InErrs) - in_errs0;
    let state_after_flood = (client.state(), child.state());
    let expected: Vec<u8> = (0..sent_bytes).map(pattern).collect();

    println!("RST/SYN injection at guessed sequence numbers (RFC 5961), {} build:", build());
    for (name, inj, d, ns) in [("defaults", &p1, &d1, p1_ns), ("ratelimit 0, limit 1000", &p2, &d2, p2_ns)] {
        println!(
            "  phase {name}: {} segments in {:.2} s virtual: {inj:?}",
            inj.rst_in_window + inj.rst_out_of_window + inj.syn_in_window + inj.syn_out_of_window,
            ns as f64 / 1e9
        );
        let line: Vec<String> = counters.iter().zip(d.iter()).map(|(m, v)| format!("{m:?} +{v}")).collect();
        println!("    {}", line.join(", "));
    }
    println!("  Tcp: InErrs               +{in_errs} (a challenged SYN on an ESTABLISHED socket)");
    println!("  wall                      {:.1} s", elapsed.as_secs_f64());
    println!(
        "  bytes                     client sent {sent_bytes}, server read {}, client read back {}",
        server_got.len(),
        client_got.len()
    );
    println!("  states after the flood    {state_after_flood:?}");
    println!("  peak memory growth        {} (bound {})", mib(growth as f64), mib(MEM_BOUND_BYTES as f64));

    // The connection survived, and carried every byte unchanged.
    assert_eq!(state_after_flood, (TcpState::Established, TcpState::Established));
    assert!(sent_bytes > 0);
    assert!(server_got == expected, "the server read the client's bytes exactly");
    assert!(client_got == expected, "the client read its echo exactly");
    for (inj, d) in [(&p1, &d1), (&p2, &d2)] {
        let (ack, syn, skipped) = (d[0], d[1], d[2]);
        // Every SYN, in the window or not, is a SYN challenge.
        assert_eq!(syn, inj.syn_in_window + inj.syn_out_of_window);
        // An RST out of the window earns nothing; every other segment
        // asks for a challenge ACK, sent or skipped by the socket's limit.
        // (Skipped by the host budget counts nowhere, as in Linux.)
        let asked = inj.rst_in_window + syn;
        assert!(ack + skipped <= asked && ack > 0, "{ack} + {skipped} of {asked}");
        // The per-socket limit is not a dupack's (no TCPACKSkippedSeq):
        // challenges go through tcp_send_challenge_ack() only.
        assert_eq!(d[3], 0);
    }
    // tcp_rcv_established() → tcp_validate_incoming(.., syn_inerr = 1):
    // every challenged SYN is a Tcp: InErrs too, and nothing else was.
    let syns = p1.syn_in_window + p1.syn_out_of_window + p2.syn_in_window + p2.syn_out_of_window;
    assert_eq!(in_errs, syns);
    // Phase 1: the per-socket limit alone, one answer per 500 ms.
    assert_eq!(d1[0] + d1[2], p1.rst_in_window + d1[1]);
    assert!(d1[0] <= p1_ns / 500_000_000 + 1, "{} challenge ACKs in {p1_ns} ns", d1[0]);
    // Phase 2: no socket limit; the host budget: at least 500 in the
    // first second, at most 1,499 in each second the phase touched.
    let seconds = p2_ns / 1_000_000_000 + 2;
    assert_eq!(d2[2], 0, "no per-socket limit");
    assert!((500..=seconds * 1499).contains(&d2[0]), "{} challenge ACKs in {p2_ns} ns", d2[0]);
    assert!(growth < MEM_BOUND_BYTES, "peak memory grew by {growth} bytes");

    // Only an RST exactly at rcv_nxt resets.
    let (rcv_nxt, _) = rcv_view(&child);
    let sport = client.local_addr().port();
    lab.inject(vec![segment(CLIENT_IP, sport, PORT, rcv_nxt, 0, TCPHDR_RST, &TcpOutOptions::default(), &[])]);
    assert_eq!(child.state(), TcpState::Close);
    assert_eq!(child.recv(&mut buf), Err(Errno::ECONNRESET));
}

// -- 3. out-of-order segments ------------------------------------------------------------

/// The flood leaves the first 32 KiB of the window alone (see
/// [`ofo_flood_is_bounded_by_the_receive_buffer`] for why).
const OFO_HOLE: u32 = 32 * 1024;
/// The stream the client sends after the flood: short of [`OFO_HOLE`].
const OFO_STREAM: u64 = 24 * 1024;

thread_local! {
    /// How far past `sk_rcvbuf` one admitted segment can take
    /// `sk_rmem_alloc`: Linux 6.18 admits a segment when
    /// `sk_rmem_alloc + skb->len <= sk_rcvbuf` (`tcp_can_ingest()`, "tcp:
    /// stronger sk_rcvbuf checks") — the payload, not the truesize, so
    /// the last skb in may overshoot by its truesize less its payload:
    /// the headers, `NET_SKB_PAD` and `struct sk_buff`. Measured on the
    /// flood's own kind of frame (the overhead does not depend on the
    /// payload).
    static OFO_SKB_OVERHEAD: u32 = {
        let f = segment(CLIENT_IP, 1, PORT, 0, 0, TCPHDR_ACK, &TcpOutOptions::default(), &[0; 64]);
        net_core::skbuff::skb_from_frame(1, &f).truesize - 64
    };
}

/// Out-of-order segments with the client's four-tuple, a valid ACK and
/// tiny payloads at random places in the server's window, [`BATCH`] at a
/// time; the server's application reads nothing. Then the client sends
/// [`OFO_STREAM`] bytes in order, which must arrive whole although the
/// buffer is full of the flood's segments: in-order data displaces
/// out-of-order data (`tcp_prune_ofo_queue()`).
///
/// The flood keeps off the first [`OFO_HOLE`] bytes of the window, and
/// the client sends less than that: a blind attacker's data that becomes
/// contiguous *ahead* of what the real sender has sent makes the receiver
/// acknowledge bytes the sender never sent, and the sender discards every
/// such ACK (`tcp_ack()`: `TCP_ACK_UNSENT_DATA`) — the connection is
/// desynchronized for good, in Linux as here. That is RFC 5961 §5's blind
/// data injection, not a resource bound; the flood here is about memory.
///
/// Here the listener set `SO_RCVBUF` (64 KiB, stored doubled: the 128 KiB
/// of `tcp_rmem[1]`), which the child inherits and which keeps
/// autotuning away, so the flood fills the buffer and the pruning is what
/// bounds it. [`ofo_flood_grows_an_unlocked_buffer_only_by_the_window`]
/// floods a buffer autotuning may grow.
#[test]
fn ofo_flood_is_bounded_by_the_receive_buffer() {
    ofo_flood(true, flood_count("LINNET_OFO_FLOOD", 1_000_000, "packets"));
}

/// The same flood into a buffer without `SO_RCVBUF`: Linux 6.18's
/// `tcp_data_queue_ofo()` grows it (`tcp_rcvbuf_grow()`) by what the
/// out-of-order queue spans past `rcv_nxt`. The queue lies inside the
/// window we offered, which no in-order data opens further, so the buffer
/// grows by about one window and no more, and memory stays bounded.
#[test]
fn ofo_flood_grows_an_unlocked_buffer_only_by_the_window() {
    ofo_flood(false, flood_count("LINNET_OFO_FLOOD_UNLOCKED", 200_000, "packets"));
}

fn ofo_flood(locked: bool, count: u64) {
    let _serial = serial();
    let mut lab = Lab::new(1, 128);
    if locked {
        use net_tcp::af_inet::{SO_RCVBUF, SOL_SOCKET};
        lab.listener.setsockopt_int(SOL_SOCKET, SO_RCVBUF, 64 << 10).expect("SO_RCVBUF");
    }
    let (client, child) = lab.connect();
    let sport = client.local_addr().port();
    let mut rng = Rng(0x0f0_f100d);
    let (isn, ack) = {
        let tp = child.sock().lock.lock();
        (tp.rcv_nxt, tp.snd_nxt)
    };
    // The flood may grow the buffer (Linux 6.18's `tcp_data_queue_ofo()`
    // calls `tcp_rcvbuf_grow()` for an accepted socket), but only to hold
    // twice what the application read per RTT plus what the queue spans,
    // which the window we offered bounds. That window can only creep up
    // to `rcv_ssthresh` (in window-scale steps), since no in-order data
    // arrives to open it further.
    let (rcvbuf, rmem_limit) = {
        let tp = child.sock().lock.lock();
        (tp.sk_rcvbuf, lab.stn.sysctl.tcp_rmem.get_n(2))
    };
    let rcvbuf_bound = |tp: &net_tcp::sock::TcpSk, max_win: u32| -> u32 {
        let grown = 2 * i64::from(tp.rcvq_space.space) + i64::from(max_win);
        net_tcp::tcp_output::tcp_space_from_win(tp, grown).max(i64::from(rcvbuf)) as u32
    };
    let first_win = rcv_view(&child).1;
    let (mut max_win, mut rcvbuf_peak, mut rcvbuf_bound_peak) = (0u32, rcvbuf, rcvbuf);
    let overhead = OFO_SKB_OVERHEAD.with(|o| *o);
    let counters = [
        LinuxMib::TCPOFOQueue,
        LinuxMib::TCPOFOMerge,
        LinuxMib::TCPOFODrop,
        LinuxMib::PruneCalled,
        LinuxMib::OfoPruned,
        LinuxMib::RcvPruned,
        LinuxMib::TCPRcvCollapsed,
        LinuxMib::TCPZeroWindowDrop,
    ];
    let before: Vec<u64> = counters.iter().map(|&m| lab.mib(m)).collect();
    let mut mem = MemWatch::start();
    let started = Instant::now();
    let (mut sent, mut rmem_peak, mut ofo_peak) = (0u64, 0u32, 0usize);
    while sent < count {
        assert!(started.elapsed() < WALL_LIMIT, "the flood took longer than {WALL_LIMIT:?} ({sent} sent)");
        let n = (count - sent).min(BATCH as u64);
        let (rcv_nxt, win) = rcv_view(&child);
        assert_eq!(rcv_nxt, isn, "nothing fills the hole at rcv_nxt");
        // Tiny segments (1 to 64 bytes) anywhere in the window past
        // OFO_HOLE: the most truesize per byte of window. They carry the
        // bytes the client would send there, so any that were delivered
        // would be checked too.
        assert!(win > OFO_HOLE + 128, "window {win}");
        let frames = (0..n)
            .map(|_| {
                let len = 1 + rng.u32() % 64;
                let off = OFO_HOLE + rng.u32() % (win - OFO_HOLE - len);
                let payload: Vec<u8> = (off..off + len).map(|i| pattern(u64::from(i))).collect();
                segment(
                    CLIENT_IP,
                    sport,
                    PORT,
                    isn.wrapping_add(off),
                    ack,
                    TCPHDR_ACK,
                    &TcpOutOptions::default(),
                    &payload,
                )
            })
            .collect();
        lab.inject(frames);
        sent += n;
        let tp = child.sock().lock.lock();
        max_win = max_win.max(net_tcp::tcp_output::tcp_receive_window(&tp));
        let bound = rcvbuf_bound(&tp, max_win);
        assert!(
            tp.sk_rcvbuf <= bound,
            "sk_rcvbuf {} grew past {bound} (windows up to {max_win}) after {sent} segments",
            tp.sk_rcvbuf
        );
        rcvbuf_peak = rcvbuf_peak.max(tp.sk_rcvbuf);
        rcvbuf_bound_peak = rcvbuf_bound_peak.max(bound);
        assert!(
            tp.sk_rmem_alloc <= tp.sk_rcvbuf + overhead,
            "sk_rmem_alloc {} > sk_rcvbuf {} + one skb's overhead after {sent} segments",
            tp.sk_rmem_alloc,
            tp.sk_rcvbuf
        );
        rmem_peak = rmem_peak.max(tp.sk_rmem_alloc);
        ofo_peak = ofo_peak.max(tp.out_of_order_queue.iter().count());
        drop(tp);
        if sent % (32 * BATCH as u64) == 0 {
            mem.sample();
        }
    }
    let flood_wall = started.elapsed();
    let growth = mem.growth();
    let d: Vec<u64> = counters.iter().zip(&before).map(|(&m, b)| lab.mib(m) - b).collect();

    // Now the client sends its stream; the server reads it all.
    let stream: Vec<u8> = (0..OFO_STREAM).map(pattern).collect();
    let (mut off, mut got) = (0usize, Vec::new());
    let mut buf = vec![0u8; 65536];
    for _ in 0..20_000 {
        if got.len() as u64 == OFO_STREAM {
            break;
        }
        if off < stream.len() {
            if let Ok(k) = client.send(&stream[off..]) {
                off += k;
            }
        }
        lab.run_for(1_000_000);
        while let Ok(k) = child.recv(&mut buf) {
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
    }
    let virtual_ms = (lab.clock.now_ns() - 1_000_000_000) / 1_000_000;
    let d_after: Vec<u64> = counters.iter().zip(&before).map(|(&m, b)| lab.mib(m) - b).collect();

    println!(
        "out-of-order flood into an established connection, {} build, {}:",
        build(),
        if locked { "SO_RCVBUF set" } else { "buffer autotuned" }
    );
    println!("  segments sent             {sent} ({:.1} s wall), 1-64 bytes each", flood_wall.as_secs_f64());
    let line: Vec<String> = counters.iter().zip(d.iter()).map(|(m, v)| format!("{m:?} +{v}")).collect();
    println!("  counters                  {}", line.join(", "));
    let line: Vec<String> = counters.iter().zip(d_after.iter()).map(|(m, v)| format!("{m:?} +{v}")).collect();
    println!("  ... and after the stream  {}", line.join(", "));
    println!(
        "  receive memory            peak sk_rmem_alloc {rmem_peak} (bound: sk_rcvbuf + one skb's overhead {overhead}; sk_rcvbuf {rcvbuf} grew to {rcvbuf_peak}, bound {rcvbuf_bound_peak}; tcp_rmem[2] {rmem_limit}); OFO queue peak {ofo_peak} skbs; window {first_win} at first, at most {max_win}"
    );
    println!("  peak memory growth        {} (bound {})", mib(growth as f64), mib(MEM_BOUND_BYTES as f64));
    println!(
        "  afterwards                client sent {off} bytes, server read {} bytes{} (virtual clock at {virtual_ms} ms)",
        got.len(),
        if got == stream { ", identical" } else { ", DIFFERENT" }
    );
    println!("  drop reasons              {:?}", lab.server.drops.nonzero());

    assert!(d[0] > 0, "segments were queued out of order");
    if locked {
        assert!(d[2] > 0 && d[3] > 0, "the buffer filled: TCPOFODrop and PruneCalled rose");
        assert!(d[4] > 0, "tcp_prune_ofo_queue() dropped from the queue (OfoPruned)");
        assert_eq!(rcvbuf_peak, rcvbuf, "SO_RCVBUF keeps the buffer");
    } else {
        assert!(rcvbuf_peak > rcvbuf, "the out-of-order queue grew the buffer");
        assert!(rcvbuf_peak < 2 * rcvbuf, "by about one window, not without end");
    }
    assert!(rmem_peak <= rcvbuf_peak + overhead);
    assert!(growth < MEM_BOUND_BYTES, "peak memory grew by {growth} bytes");
    assert!(got == stream, "the stream arrived whole and unchanged after the flood");
    assert_eq!((client.state(), child.state()), (TcpState::Established, TcpState::Established));
}
