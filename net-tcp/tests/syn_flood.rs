//! A SYN flood against a listener: the "must hold under load".
//!
//! One linnet server (10.0.0.1, a listener on port 80 with backlog
//! [`BACKLOG`]) and one linnet client (10.0.0.2) on a zero-latency link the
//! test drives itself; a default route through 10.0.0.254 takes the
//! SYN-ACKs to the spoofed sources, which never answer. The flood is
//! [`flood_count()`] SYNs from random addresses and ports (a seeded
//! xorshift, so every run is the same), injected as Ethernet frames in
//! batches of [`BATCH`] at [`SYN_SPACING_NS`] of virtual time apart (100,000
//! SYNs per second), so the request socks' SYN-ACK timers fire and the
//! requests die and are replaced as they would on a real host. Half-way
//! through, the client `connect()`s, and once the handshake completes it
//! and the server exchange a request and a reply while the flood goes on.
//!
//! What must hold, as Linux 6.18 holds it (net/ipv4/tcp_input.c
//! `tcp_conn_request()`, `tcp_syn_flood_action()`; syncookies.c):
//!
//! - `tcp_syncookies` = 1: at most `backlog + 1` request socks ever exist
//!   (`inet_csk_reqsk_queue_is_full()` is `qlen > backlog`); every other
//!   SYN is answered with a cookie SYN-ACK and leaves nothing behind
//!   (`TCPReqQFullDoCookies`, `SyncookiesSent`); the client gets through.
//! - `tcp_syncookies` = 0: the same bound; the SYNs that find the queue
//!   full are dropped and counted (`TCPReqQFullDrop`, `ListenDrops`). The
//!   client's SYNs are dropped like the flood's (a request frees a slot
//!   only when it times out, and the flood takes it at once), so it does
//!   not get through: what cookies are for. Printed, not asserted.
//! - Either way the process's peak memory grows by less than
//!   [`MEM_BOUND_BYTES`] (see there for how the bound is derived).
//!
//! Each flood is 1,000,000 SYNs, in `cargo test` (the workspace's test
//! profile is `opt-level = 1`: about 5 s a flood) as in `cargo test
//! --release`; `LINNET_SYN_FLOOD=N` floods N instead. Each run prints its
//! figures (`--nocapture`).

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use net_core::snmp::{LinuxMib, TcpMib};
use net_core::{Errno, Net};
use net_ipv4::testlink::{ETH_IPV4_L4_OFFSET, eth_ipv4_frame};
use net_tcp::TcpSocket;
use net_tcp::tcp_states::TcpState;
use net_tcp::tcphdr::{TCPHDR_SYN, TcpHdr, TcpOutOptions, tcp_options_size, tcp_options_write};

mod common;
use common::flood::{
    BATCH, CLIENT_IP, GATEWAY_MAC, Lab, PORT, Rng, SERVER_IP, SERVER_MAC, Wire, flood_count,
};
use common::{proc_status_bytes, reset_peak_rss, serial};

/// `listen(fd, 1024)`: below `tcp_max_syn_backlog` (2048) × 3/4, so with
/// cookies off it is the full request queue, not the "last quarter" rule
/// of `tcp_conn_request()`, that drops.
const BACKLOG: u32 = 1024;
/// Virtual time between two flood SYNs: 100,000 SYNs per second.
const SYN_SPACING_NS: u64 = 10_000;
/// The flood unless `LINNET_SYN_FLOOD` says otherwise: the figure.
const DEFAULT_COUNT: u64 = 1_000_000;
/// Wall-clock limit on one flood, so a regression fails instead of hanging.
const WALL_LIMIT: Duration = Duration::from_secs(600);

/// How much the process's peak resident set may grow during one flood.
///
/// Derived, generously, from what may legitimately be alive at once:
///
/// - `BACKLOG + 1` request socks, each a 128-byte `RequestSock` in an
///   `Arc`, a slab slot, a timer and an ehash link: under 1 KiB each, so
///   1 MiB;
/// - one batch in flight: [`BATCH`] injected frames (≈ 100 bytes each, as a
///   `Vec` on the link and again as an skb) and as many SYN-ACKs captured
///   on the way out, each skb under 4 KiB with its headroom: 1024 × 3 ×
///   4 KiB = 12 MiB;
/// - the client's socket and the server's child: their buffers are bounded
///   by `tcp_rmem`/`tcp_wmem` defaults and hold a few bytes here: 1 MiB;
/// - the allocator's own slack (glibc arenas, fragmentation): 2 MiB.
///
/// 16 MiB in all — against 122 MiB for the request socks *alone* if every
/// one of 1,000,000 SYNs kept its 128 bytes, before their timers, links and
/// SYN-ACK skbs. (Measured: about 0.6 MiB.)
const MEM_BOUND_BYTES: u64 = 16 << 20;

// -- the flood ----------------------------------------------------------------------------

/// A spoofed SYN: random source, port, ISN; every other one carries the
/// options a Linux client sends (so cookies encode them in TSval), the
/// rest only an MSS.
fn spoofed_syn(rng: &mut Rng, n: u64) -> Vec<u8> {
    let saddr = rng.spoofed_addr();
    let r = rng.next();
    let sport = 1024 + (r as u16) % (65535 - 1024);
    let seq = (r >> 32) as u32;
    let opts = if n % 2 == 0 {
        TcpOutOptions::syn(1460, (r >> 16) as u32, 7)
    } else {
        TcpOutOptions { mss: Some(1460), ..TcpOutOptions::default() }
    };
    let thlen = 20 + tcp_options_size(&opts);
    let mut f = eth_ipv4_frame(SERVER_MAC, GATEWAY_MAC, saddr, SERVER_IP, 6, thlen);
    f[ETH_IPV4_L4_OFFSET + 12] = ((thlen / 4) as u8) << 4;
    let mut th = TcpHdr::new_checked(&mut f[ETH_IPV4_L4_OFFSET..]).expect("a whole TCP header");
    th.set_source(sport);
    th.set_dest(PORT);
    th.set_seq(seq);
    th.set_flags(TCPHDR_SYN);
    th.set_window(64240);
    tcp_options_write(th.options_mut(), &opts);
    th.fill_checksum(saddr, SERVER_IP);
    f
}

// -- the legitimate client ----------------------------------------------------------------

/// The client's conversation, advanced one step after each batch.
struct Legit {
    sock: TcpSocket,
    started_at_syn: u64,
    established_at_syn: Option<u64>,
    child: Option<TcpSocket>,
    request_sent: bool,
    server_got: Vec<u8>,
    reply_sent: bool,
    client_got: Vec<u8>,
}

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nstill here";

impl Legit {
    fn start(lab: &Lab, at_syn: u64) -> Legit {
        let sock = TcpSocket::new(&lab.client).expect("socket");
        sock.set_nonblocking(true);
        assert_eq!(sock.connect(SocketAddrV4::new(SERVER_IP, PORT)), Err(Errno::EINPROGRESS));
        Legit {
            sock,
            started_at_syn: at_syn,
            established_at_syn: None,
            child: None,
            request_sent: false,
            server_got: Vec::new(),
            reply_sent: false,
            client_got: Vec::new(),
        }
    }

    fn step(&mut self, lab: &Lab, syn: u64) {
        if self.established_at_syn.is_none() && self.sock.state() == TcpState::Established {
            self.established_at_syn = Some(syn);
        }
        if self.established_at_syn.is_some() && !self.request_sent {
            assert_eq!(self.sock.send(REQUEST), Ok(REQUEST.len()));
            self.request_sent = true;
        }
        if self.child.is_none() {
            match lab.listener.accept() {
                Ok((child, peer)) => {
                    assert_eq!(*peer.ip(), CLIENT_IP, "only the client can complete a handshake");
                    child.set_nonblocking(true);
                    self.child = Some(child);
                }
                Err(Errno::EAGAIN) => {}
                Err(e) => panic!("accept: {e:?}"),
            }
        }
        let mut buf = [0u8; 256];
        if let Some(child) = &self.child {
            if let Ok(n) = child.recv(&mut buf) {
                self.server_got.extend_from_slice(&buf[..n]);
            }
            if self.server_got == REQUEST && !self.reply_sent {
                assert_eq!(child.send(REPLY), Ok(REPLY.len()));
                self.reply_sent = true;
            }
        }
        if let Ok(n) = self.sock.recv(&mut buf) {
            self.client_got.extend_from_slice(&buf[..n]);
        }
    }

    fn survived(&self) -> bool {
        self.server_got == REQUEST && self.client_got == REPLY
    }
}

/// The server's counters.
#[derive(Clone, Copy)]
struct Mib<'a>(&'a Net);

impl Mib<'_> {
    fn get(self, m: impl net_core::snmp::MibItem) -> u64 {
        self.0.mib.get(m)
    }
}

// -- the flood ----------------------------------------------------------------------------

struct Figures {
    sent: u64,
    handled: u64,
    cookies: u64,
    reqsk_peak: usize,
    rss_before: u64,
    peak_growth: u64,
    legit: bool,
}

fn flood(syncookies: u8) -> (Lab, Figures) {
    let _serial = serial(); // floods measure the process's memory: one at a time
    let count = flood_count("LINNET_SYN_FLOOD", DEFAULT_COUNT, "SYNs");
    let mut lab = Lab::new(syncookies, BACKLOG as i32);
    lab.wire = Wire::default();
    let in_segs_before = lab.server.mib.get(TcpMib::InSegs);
    let mut rng = Rng(0x5eed_f100d_u64 ^ u64::from(syncookies));
    let bound = BACKLOG as usize + 1;
    let mut legit: Option<Legit> = None;
    let mut reqsk_peak = 0;
    let mut rss_peak_sampled = 0;
    let hwm_reset = reset_peak_rss();
    let rss_before = proc_status_bytes("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < count {
        assert!(
            started.elapsed() < WALL_LIMIT,
            "the flood took longer than {WALL_LIMIT:?} ({sent} SYNs sent)"
        );
        let n = (count - sent).min(BATCH as u64);
        {
            let mut s = lab.slink.lock().expect("server link");
            for k in 0..n {
                s.rx.push_back(spoofed_syn(&mut rng, sent + k));
            }
        }
        sent += n;
        lab.run_for(n * SYN_SPACING_NS);
        let active = lab.stn.reqsk_slab.active_objs();
        reqsk_peak = reqsk_peak.max(lab.stn.reqsk_slab.active_objs_peak());
        assert!(active <= bound, "{active} request socks after {sent} SYNs: more than backlog + 1 = {bound}");
        if legit.is_none() && sent >= count / 2 {
            legit = Some(Legit::start(&lab, sent));
            lab.run_for(0);
        }
        if let Some(l) = legit.as_mut() {
            l.step(&lab, sent);
        }
        if sent % (64 * BATCH as u64) == 0 {
            rss_peak_sampled = rss_peak_sampled.max(proc_status_bytes("VmRSS").unwrap_or(0));
        }
    }
    // The flood is over; give the client's conversation a little longer
    // (its retransmissions run on real timers: at most 3 s of virtual time).
    let legit = legit.expect("the client started half-way");
    let mut legit = legit;
    for _ in 0..30 {
        if legit.survived() {
            break;
        }
        lab.run_for(100_000_000);
        legit.step(&lab, sent);
    }
    rss_peak_sampled = rss_peak_sampled.max(proc_status_bytes("VmRSS").unwrap_or(0));
    let hwm = if hwm_reset { proc_status_bytes("VmHWM").unwrap_or(0) } else { 0 };
    let peak = hwm.max(rss_peak_sampled);
    let elapsed = started.elapsed();

    let mib = Mib(&lab.server);
    // Every flood SYN reached tcp_v4_rcv; the client's own segments are
    // the rest of InSegs.
    let in_segs = mib.get(TcpMib::InSegs) - in_segs_before;
    let legit_segs = lab.client.mib.get(TcpMib::OutSegs) + lab.client.mib.get(TcpMib::RetransSegs);
    let handled = in_segs.saturating_sub(legit_segs);
    let cookies = mib.get(LinuxMib::SyncookiesSent);
    let figures = Figures {
        sent,
        handled,
        cookies,
        reqsk_peak,
        rss_before,
        peak_growth: peak.saturating_sub(rss_before),
        legit: legit.survived(),
    };
    println!(
        "syn flood, tcp_syncookies={syncookies}, listen backlog {BACKLOG}, {} build:",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "  SYNs sent                 {sent} ({:.1} s wall, {:.0} SYNs/s)",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );
    println!("  SYNs handled (InSegs)     {handled}");
    println!(
        "  SYN-ACKs on the wire      {} (RSTs {}, other {})",
        lab.wire.synacks, lab.wire.rsts, lab.wire.other
    );
    println!(
        "  cookies sent              {cookies} (TCPReqQFullDoCookies {})",
        mib.get(LinuxMib::TCPReqQFullDoCookies)
    );
    println!("  TCPReqQFullDrop           {}", mib.get(LinuxMib::TCPReqQFullDrop));
    println!("  ListenDrops               {}", mib.get(LinuxMib::ListenDrops));
    println!(
        "  SYN-ACK retransmits       {} (TCPTimeouts {})",
        mib.get(TcpMib::RetransSegs),
        mib.get(LinuxMib::TCPTimeouts)
    );
    println!(
        "  request socks peak        {reqsk_peak} (backlog + 1 = {bound} queued{}); {} at the end",
        if syncookies != 0 { ", + 1 while a cookie is built" } else { "" },
        lab.stn.reqsk_slab.active_objs()
    );
    println!(
        "  peak memory               {:.1} MiB RSS before, peak growth {:.1} MiB (bound {} MiB; VmHWM reset: {hwm_reset})",
        rss_before as f64 / 1048576.0,
        figures.peak_growth as f64 / 1048576.0,
        MEM_BOUND_BYTES >> 20
    );
    println!(
        "  legitimate connection     {} (SyncookiesRecv {}; connect at SYN {}, established at SYN {:?}, server read {} bytes, client read {} bytes)",
        if figures.legit { "survived" } else { "did not complete" },
        mib.get(LinuxMib::SyncookiesRecv),
        legit.started_at_syn,
        legit.established_at_syn,
        legit.server_got.len(),
        legit.client_got.len()
    );
    println!("  drop reasons              {:?}", lab.server.drops.nonzero());
    (lab, figures)
}

#[test]
fn syn_flood_with_cookies_stays_bounded_and_lets_a_client_through() {
    let (lab, f) = flood(1);
    let mib = Mib(&lab.server);
    assert_eq!(f.handled, f.sent, "every flood SYN reached tcp_v4_rcv");
    // backlog + 1 in the request queue, and for an instant one more:
    // tcp_conn_request() builds a cookie's SYN-ACK from a request sock too,
    // freed as soon as the SYN-ACK is sent (reqsk_free()).
    assert_eq!(f.reqsk_peak, BACKLOG as usize + 2, "the request queue filled, and no further");
    // Every SYN was answered: with a request sock's SYN-ACK or a cookie.
    assert!(f.cookies > f.sent / 2, "{} cookies for {} SYNs", f.cookies, f.sent);
    assert_eq!(mib.get(LinuxMib::TCPReqQFullDoCookies), f.cookies);
    assert_eq!(mib.get(LinuxMib::TCPReqQFullDrop), 0);
    assert_eq!(mib.get(LinuxMib::ListenDrops), 0);
    assert!(lab.wire.synacks >= f.sent, "{} SYN-ACKs for {} SYNs", lab.wire.synacks, f.sent);
    assert_eq!((lab.wire.rsts, lab.wire.other), (0, 0));
    assert_eq!(
        lab.stn.dmesg.lock().as_slice(),
        ["TCP: request_sock_TCP: Possible SYN flooding on port 0.0.0.0:80. Sending cookies."]
    );
    assert!(f.legit, "the legitimate client's request and reply went through");
    assert!(f.peak_growth < MEM_BOUND_BYTES, "peak memory grew by {} bytes", f.peak_growth);
    assert!(f.rss_before > 0 || !cfg!(target_os = "linux"), "/proc/self/status has VmRSS");
}

#[test]
fn syn_flood_without_cookies_drops_and_counts_and_stays_bounded() {
    let (lab, f) = flood(0);
    let mib = Mib(&lab.server);
    assert_eq!(f.handled, f.sent, "every flood SYN reached tcp_v4_rcv");
    assert_eq!(f.reqsk_peak, BACKLOG as usize + 1, "the request queue filled, and no further");
    assert_eq!(f.cookies, 0);
    let dropped = mib.get(LinuxMib::TCPReqQFullDrop);
    assert!(dropped > f.sent / 2, "{dropped} of {} SYNs dropped on a full queue", f.sent);
    // Each drop is a ListenDrops too (tcp_listendrop()); the client's SYNs
    // may add a few.
    assert!(mib.get(LinuxMib::ListenDrops) >= dropped);
    assert_eq!(mib.get(LinuxMib::TCPReqQFullDoCookies), 0);
    assert_eq!(
        lab.stn.dmesg.lock().as_slice(),
        ["TCP: request_sock_TCP: Possible SYN flooding on port 0.0.0.0:80. Dropping request."]
    );
    assert!(f.peak_growth < MEM_BOUND_BYTES, "peak memory grew by {} bytes", f.peak_growth);
}
