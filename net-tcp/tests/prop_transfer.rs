//! Property: whatever a faulty wire does — loss, duplication, reordering,
//! delay jitter, a flipped bit — a transfer between two linnet hosts in
//! virtual time either delivers exactly the bytes sent, in order, and
//! both sides close cleanly, or it fails with a clean error from the
//! give-up timers (`ETIMEDOUT` from `tcp_retries2` / `tcp_syn_retries`,
//! `ECONNRESET`). Never a corrupt byte, never a byte more or less, never a
//! hang.
//!
//! Each case is drawn by proptest: per-direction netem parameters (loss
//! 0–20 %, duplication 0–10 %, reordering 0–25 % with a gap, latency and
//! jitter, corruption 0–2 %), transfer sizes (1 B – 256 KiB; sometimes
//! both directions at once) and a seed, which seeds the simulator (every
//! netem decision, every host's randomness) and the payload. A case is
//! bounded three ways: virtual time (two hours: more than the give-up
//! timers need several times over), simulator steps and wall-clock time;
//! passing any bound fails the case as a hang.
//!
//! What a clean failure looks like, from the cases this has turned up
//! (each checked against what Linux 6.18 does in the same spot):
//! - `ETIMEDOUT` in the handshake: netem flipped a bit in a gratuitous ARP
//!   (ARP has no checksum), the client cached the wrong MAC, and as in
//!   Linux the entry stayed confirmed long enough for `tcp_syn_retries`
//!   to run out;
//! - `ECONNRESET` at the close: the RTO had backed off to `TCP_RTO_MAX`
//!   (120 s) and the RTT estimate had grown with it (timestamps echoed by
//!   duplicate ACKs after spurious retransmissions, RFC 7323's
//!   conservative rule), so a retransmission arrived after the peer's
//!   60 s TIME_WAIT had ended and drew a RST;
//! - `ECONNRESET` after a lost handshake ACK: the server's request sock
//!   gave up, and the listener answers the client's first data with a RST.
//!
//! A reset from a peer that still had the connection would also pass as
//! "clean": the one such bug found (PAWSActive, below) showed as failures
//! on links too good to fail, so the test prints every failed case.
//!
//! `PROPTEST_CASES` sets the number of cases (256 by default, about a
//! second); `PROP_TRANSFER_TRACE=1` prints every frame of every case.
//! Shrinking does not help here — any change to a case re-rolls every
//! netem decision — so a failure is kept below as the case it was found
//! with, in a plain `#[test]`, beside a step-by-step test of the bug.

use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use net_core::{Errno, Net};
use net_dev::netem::{DelayDist, LossModel, NetemParams};
use net_dev::sim::SimEvent;
use net_dev::{LinkParams, Sim};
use net_tcp::af_inet::{SO_ERROR, SOL_SOCKET, Shutdown};
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};
use proptest::prelude::*;

mod common;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5001;
/// Virtual time a case may take, ns: two hours, several times what
/// `tcp_syn_retries` (127 s) and `tcp_retries2` (about 924 s) allow.
const VIRT_LIMIT_NS: u64 = 2 * 3600 * 1_000_000_000;
/// Simulator steps a case may take.
const STEP_LIMIT: u64 = 5_000_000;
/// Wall-clock time a case may take (the machine is shared: generous).
const WALL_LIMIT: Duration = Duration::from_secs(60);
const MAX_LEN: usize = 256 * 1024;
/// Ethernet header length.
const ETH_HLEN: usize = 14;

/// How one direction of the wire misbehaves.
#[derive(Clone, Debug)]
struct Faults {
    loss: f64,
    duplicate: f64,
    reorder: f64,
    gap: u32,
    latency_us: u64,
    jitter_us: u64,
    corrupt: f64,
}

impl Faults {
    fn link(&self) -> LinkParams {
        LinkParams {
            delay_ns: 100_000,
            rate_bps: 100_000_000,
            queue_limit: 1000,
            netem: Some(NetemParams {
                latency_ns: self.latency_us * 1000,
                jitter_ns: self.jitter_us * 1000,
                dist: DelayDist::Uniform,
                loss: if self.loss > 0.0 {
                    LossModel::Random { percent: self.loss }
                } else {
                    LossModel::None
                },
                duplicate: self.duplicate,
                corrupt: self.corrupt,
                reorder: self.reorder,
                gap: self.gap,
                ..NetemParams::default()
            }),
            ..LinkParams::default()
        }
    }
}

/// One drawn case.
#[derive(Clone, Debug)]
struct Case {
    a_to_b: Faults,
    b_to_a: Faults,
    /// Bytes a sends to b.
    up: usize,
    /// Bytes b sends to a (0: one way only).
    down: usize,
    seed: u64,
}

/// A percentage in `0..=max`, zero a quarter of the time so clean
/// directions are common too.
fn percent(max: f64) -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 3 => 0.0..=max]
}

fn faults() -> impl Strategy<Value = Faults> {
    (percent(20.0), percent(10.0), percent(25.0), 1u32..=8, 0u64..=20_000, 0u64..=10_000, percent(2.0))
        .prop_map(|(loss, duplicate, reorder, gap, latency_us, jitter_us, corrupt)| Faults {
            loss,
            duplicate,
            reorder,
            // netem reorders only packets it would otherwise delay.
            gap,
            latency_us: if reorder > 0.0 { latency_us.max(1000) } else { latency_us },
            jitter_us,
            corrupt,
        })
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![1 => 1usize..=16, 1 => 1usize..=4096, 2 => 1usize..=MAX_LEN]
}

fn case() -> impl Strategy<Value = Case> {
    (faults(), faults(), size(), prop_oneof![2 => Just(0usize), 1 => size()], any::<u64>())
        .prop_map(|(a_to_b, b_to_a, up, down, seed)| Case { a_to_b, b_to_a, up, down, seed })
}

/// `len` pseudo-random bytes from `seed` (xorshift64*).
fn payload(seed: u64, len: usize) -> Vec<u8> {
    common::Rng::bytes(seed, len)
}

/// One direction of the transfer: what the sender has handed over and
/// what the receiver has read, checked byte for byte as it arrives.
struct Flow {
    name: &'static str,
    data: Vec<u8>,
    sent: usize,
    got: usize,
    shut: bool,
    eof: bool,
}

/// How a case ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Every byte arrived, both sides closed without an error.
    Completed,
    /// A give-up timer or a reset ended it, with this error.
    Failed(Errno),
}

/// What the wire did to a case, both directions together.
#[derive(Clone, Copy, Debug, Default)]
struct Done {
    lost: u64,
    duplicated: u64,
    reordered: u64,
    corrupted: u64,
    virt_ns: u64,
}

impl Done {
    fn of(sim: &Sim) -> Done {
        let mut d = Done { virt_ns: sim.now_ns(), ..Done::default() };
        for l in sim.links() {
            for h in [&l.handle_a, &l.handle_b] {
                let n = h.stats().netem;
                d.lost += n.lost;
                d.duplicated += n.duplicated;
                d.reordered += n.reordered;
                d.corrupted += n.corrupted;
            }
        }
        d
    }

    fn add(&mut self, o: Done) {
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.corrupted += o.corrupted;
        self.virt_ns += o.virt_ns;
    }
}

/// The errors a transfer may end with: the give-up timers' and a reset's.
fn clean_error(e: Errno) -> bool {
    matches!(e, Errno::ETIMEDOUT | Errno::ECONNRESET)
}

impl Flow {
    fn new(name: &'static str, data: Vec<u8>) -> Flow {
        Flow { name, data, sent: 0, got: 0, shut: false, eof: false }
    }

    /// Queue what `tx` takes, and shut its write side once everything is
    /// queued and `shut_ok` allows. An error other than `EAGAIN` ends the
    /// case (`Err(Ok(e))`).
    fn send(&mut self, tx: &TcpSocket, shut_ok: bool) -> Result<(), Result<Errno, TestCaseError>> {
        while self.sent < self.data.len() {
            match tx.send(&self.data[self.sent..]) {
                Ok(k) => self.sent += k,
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(Ok(e)),
            }
        }
        if self.sent == self.data.len() && shut_ok && !self.shut {
            tx.shutdown(Shutdown::Write).map_err(Ok)?;
            self.shut = true;
        }
        Ok(())
    }

    /// Read what `rx` has and check it against what was sent: the next
    /// bytes of the stream, never beyond its end, EOF only at its end.
    fn recv(&mut self, rx: &TcpSocket, buf: &mut [u8]) -> Result<(), Result<Errno, TestCaseError>> {
        while !self.eof {
            match rx.recv(buf) {
                Ok(0) => {
                    if self.got != self.data.len() {
                        return Err(Err(TestCaseError::fail(format!(
                            "{}: EOF after {} of {} bytes",
                            self.name,
                            self.got,
                            self.data.len()
                        ))));
                    }
                    self.eof = true;
                }
                Ok(n) => {
                    let end = self.got + n;
                    if end > self.data.len() {
                        return Err(Err(TestCaseError::fail(format!(
                            "{}: {end} bytes read, only {} sent",
                            self.name,
                            self.data.len()
                        ))));
                    }
                    if buf[..n] != self.data[self.got..end] {
                        let i = (0..n).find(|&i| buf[i] != self.data[self.got + i]).unwrap_or(0);
                        return Err(Err(TestCaseError::fail(format!(
                            "{}: stream corrupt at byte {} of {}",
                            self.name,
                            self.got + i,
                            self.data.len()
                        ))));
                    }
                    self.got = end;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(Ok(e)),
            }
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.shut && self.eof
    }
}

/// The simulator with its bounds.
struct Bounded {
    sim: Sim,
    wall: Instant,
    steps: u64,
    /// The last step found nothing pending.
    idle: bool,
}

impl Bounded {
    /// One event; fails the case if a bound is passed, or if the run is
    /// idle a second time in a row (the caller had its chance to see the
    /// work done by the first: a connection that just gave up).
    fn step(&mut self, what: &dyn Fn() -> String) -> Result<(), TestCaseError> {
        self.steps += 1;
        if self.sim.now_ns() > VIRT_LIMIT_NS {
            return Err(TestCaseError::fail(format!(
                "hang: {} s virtual: {}",
                VIRT_LIMIT_NS / 1_000_000_000,
                what()
            )));
        }
        if self.steps > STEP_LIMIT {
            return Err(TestCaseError::fail(format!("hang: {STEP_LIMIT} steps: {}", what())));
        }
        if self.wall.elapsed() > WALL_LIMIT {
            return Err(TestCaseError::fail(format!("hang: {WALL_LIMIT:?} wall clock: {}", what())));
        }
        let was_idle = std::mem::replace(&mut self.idle, !self.sim.step());
        if was_idle && self.idle {
            return Err(TestCaseError::fail(format!(
                "hang: nothing pending at {} ns: {}",
                self.sim.now_ns(),
                what()
            )));
        }
        Ok(())
    }
}

/// `SO_ERROR` of a socket whose state says it is closed: the error that
/// closed it, `None` if none.
fn so_error(s: &TcpSocket) -> Option<Errno> {
    let e = s.getsockopt_int(SOL_SOCKET, SO_ERROR).unwrap_or(0);
    (e != 0).then(|| Errno::from_errno(e).unwrap_or(Errno::EIO))
}

/// Run one case: connect a → b, move `up` bytes a → b and `down` bytes
/// b → a at once, half-close each way, close.
fn transfer(case: &Case) -> Result<(Outcome, Done), TestCaseError> {
    let mut sim = Sim::new(case.seed);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    let (ea, eb) = sim.connect_asym(&a, &b, case.a_to_b.link(), case.b_to_a.link()).expect("wire");
    for (net, dev, addr) in [(&a, &ea, A), (&b, &eb, B)] {
        let tn = inet_init(net);
        net_ipv4::devinet::inet_addr_add(net, &tn.ipv4, dev.ifindex, addr, 24).expect("ip addr add");
    }
    let log = std::env::var("PROP_TRANSFER_TRACE").is_ok().then(|| sim.enable_log());
    let mut sim = Bounded { sim, wall: Instant::now(), steps: 0, idle: false };
    let outcome = connect_and_move(case, &mut sim, &a, &b);
    if let Some(log) = log {
        trace(&log.lock().unwrap_or_else(|e| e.into_inner()), &[&a, &b]);
    }
    let outcome = outcome?;
    Ok((outcome, Done::of(&sim.sim)))
}

/// The case's sockets on hosts `a` and `b` of `sim`. The client sends as
/// soon as it is connected, as applications do, whether or not the
/// server has accepted yet: a server that lost the handshake's last ACK
/// and then its request sock answers the data with a reset.
fn connect_and_move(
    case: &Case,
    sim: &mut Bounded,
    a: &Arc<Net>,
    b: &Arc<Net>,
) -> Result<Outcome, TestCaseError> {
    let l = TcpSocket::new(b).unwrap();
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).unwrap();
    l.listen(4).unwrap();
    let c = TcpSocket::new(a).unwrap();
    c.set_nonblocking(true);
    match c.connect(SocketAddrV4::new(B, PORT)) {
        Err(Errno::EINPROGRESS) => {}
        other => return Err(TestCaseError::fail(format!("connect: {other:?}"))),
    }
    let mut up = Flow::new("a→b", payload(case.seed ^ 0xa, case.up));
    let mut down = Flow::new("b→a", payload(case.seed ^ 0xb, case.down));
    let mut buf = vec![0u8; 64 * 1024];
    let fail = |r: Result<Errno, TestCaseError>| -> Result<Outcome, TestCaseError> {
        let e = r?;
        prop_assert!(clean_error(e), "transfer failed with {e:?}");
        Ok(Outcome::Failed(e))
    };
    let mut server: Option<TcpSocket> = None;
    loop {
        if server.is_none() {
            if let Ok((s, _)) = l.accept() {
                s.set_nonblocking(true);
                server = Some(s);
            }
        }
        // A side with nothing to send half-closes once it has read the
        // other's EOF (a server answering a request); one with data, once
        // all of it is queued.
        let a_shut_ok = !up.data.is_empty() || down.eof;
        let b_shut_ok = !down.data.is_empty() || up.eof;
        if c.state() != TcpState::SynSent {
            let r = up.send(&c, a_shut_ok).and_then(|()| down.recv(&c, &mut buf));
            if let Err(r) = r {
                return fail(r);
            }
        }
        if let Some(s) = &server {
            let r = down.send(s, b_shut_ok).and_then(|()| up.recv(s, &mut buf));
            if let Err(r) = r {
                return fail(r);
            }
        }
        if up.done() && down.done() {
            break;
        }
        // A side that gave up (its SYNs or retransmissions timed out) or
        // was reset while it had nothing to send or read reports it here.
        for sock in std::iter::once(&c).chain(&server) {
            if sock.state() == TcpState::Close {
                let e =
                    so_error(sock).ok_or_else(|| TestCaseError::fail("closed with no error mid-transfer"))?;
                return fail(Ok(e));
            }
        }
        sim.step(&|| {
            format!(
                "a→b sent {} got {} of {}, b→a sent {} got {} of {}; a {:?} b {:?}",
                up.sent,
                up.got,
                up.data.len(),
                down.sent,
                down.got,
                down.data.len(),
                c.state(),
                server.as_ref().map(|s| s.state())
            )
        })?;
    }
    let s = server.expect("a server that read EOF");
    // Both FINs sent and read: the last ACKs settle (retransmitted FINs
    // included) until neither side holds the connection.
    let closed = |st: TcpState| matches!(st, TcpState::Close | TcpState::TimeWait);
    while !(closed(c.state()) && closed(s.state())) {
        sim.step(&|| format!("closing: a {:?} b {:?}", c.state(), s.state()))?;
    }
    for sock in [&c, &s] {
        if let Some(e) = so_error(sock) {
            prop_assert!(clean_error(e), "close failed with {e:?}");
            return Ok(Outcome::Failed(e));
        }
    }
    Ok(Outcome::Completed)
}

/// With `PROP_TRANSFER_TRACE` set, every frame of a case on stderr, one
/// line per TCP segment in tcpdump's spirit (other frames in hex), then
/// each host's non-zero TCP counters: what it takes to see why a case
/// failed.
fn trace(log: &[SimEvent], hosts: &[&Arc<Net>]) {
    for e in log {
        let (f, dir) = (&e.frame, if e.outgoing { ">" } else { "<" });
        if f.len() < ETH_HLEN + 40 || f[12..14] != [8, 0] || f[ETH_HLEN + 9] != 6 {
            eprintln!("{:>14} {} {dir} {f:02x?}", e.time_ns, e.host);
            continue;
        }
        let ihl = usize::from(f[ETH_HLEN] & 15) * 4;
        let tot = usize::from(u16::from_be_bytes([f[ETH_HLEN + 2], f[ETH_HLEN + 3]]));
        let t = &f[(ETH_HLEN + ihl).min(f.len())..];
        if t.len() < 20 {
            continue;
        }
        let doff = usize::from(t[12] >> 4) * 4;
        let word = |i: usize| u32::from_be_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
        let flags: String = [(0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P'), (0x10, '.')]
            .iter()
            .filter(|(bit, _)| t[13] & bit != 0)
            .map(|(_, c)| *c)
            .collect();
        eprintln!(
            "{:>14} {} {dir} {flags} seq {} ack {} len {} win {} opts {:02x?}",
            e.time_ns,
            e.host,
            word(4),
            word(8),
            tot.saturating_sub(ihl + doff),
            u16::from_be_bytes([t[14], t[15]]),
            t.get(20..doff.max(20)).unwrap_or_default()
        );
    }
    for net in hosts {
        let mut out = format!("{}:", net.name);
        for (prefix, field, value) in net.mib.snapshot().iter() {
            if value != 0 && matches!(prefix, "Tcp" | "TcpExt") {
                out.push_str(&format!(" {field} {value}"));
            }
        }
        eprintln!("{out}");
    }
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    Config { cases, failure_persistence: None, ..Config::default() }
}

#[test]
fn any_fault_schedule_delivers_exact_bytes_or_fails_cleanly() {
    let wall = Instant::now();
    let (completed, failed, bytes) = (Cell::new(0u32), Cell::new(0u32), Cell::new(0usize));
    let total = Cell::new(Done::default());
    let mut runner = TestRunner::new(config());
    let result = runner.run(&case(), |case| {
        let (outcome, done) = transfer(&case)?;
        let mut t = total.get();
        t.add(done);
        total.set(t);
        match outcome {
            Outcome::Completed => {
                completed.set(completed.get() + 1);
                bytes.set(bytes.get() + case.up + case.down);
            }
            Outcome::Failed(e) => {
                // Rare on links that lose at most a fifth of the frames,
                // so each is worth a look (replay it with a plain test and
                // PROP_TRANSFER_TRACE): a reset from a peer that should
                // still have had the connection is a bug this property
                // lets through.
                eprintln!(
                    "failed cleanly with {e:?} after {:.1} s virtual: {case:?}",
                    done.virt_ns as f64 / 1e9
                );
                failed.set(failed.get() + 1)
            }
        }
        Ok(())
    });
    let (completed, failed, bytes) = (completed.get(), failed.get(), bytes.get());
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = total.get();
    eprintln!(
        "{completed} transfers completed ({bytes} bytes), {failed} failed cleanly; the wire lost {}, \
         duplicated {}, reordered {}, corrupted {} frames; {:.1} s virtual, {:.1} s wall",
        t.lost,
        t.duplicated,
        t.reordered,
        t.corrupted,
        t.virt_ns as f64 / 1e9,
        wall.elapsed().as_secs_f64()
    );
    // Loss of at most 20 % cannot outlast the give-up timers in every case.
    assert!(completed > 0, "no transfer completed");
}

/// Regression, found by the property: a case that ended in ECONNRESET
/// half a second into the handshake. The client connected at virtual time
/// 0; the server's SYN-ACK was lost; the client's SYN retransmission
/// restamped `retrans_stamp` to 1 s, so the server's retransmitted SYN-ACK,
/// echoing the first SYN's TSval (0), failed the PAWSActive test and was
/// answered with a RST. Fixed in `tcp_retransmit_skb()`.
#[test]
fn regression_synack_echoing_the_first_syn_after_a_retransmitted_syn() {
    let case = Case {
        a_to_b: Faults {
            loss: 14.353772782563505,
            duplicate: 0.0,
            reorder: 0.0,
            gap: 6,
            latency_us: 1125,
            jitter_us: 5394,
            corrupt: 0.3601598603752487,
        },
        b_to_a: Faults {
            loss: 17.626297037075627,
            duplicate: 2.5731787361824794,
            reorder: 22.470594120049004,
            gap: 3,
            latency_us: 7461,
            jitter_us: 4132,
            corrupt: 0.2261963813133347,
        },
        up: 144141,
        down: 0,
        seed: 1067722559814404075,
    };
    let (outcome, _) = transfer(&case).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome, Outcome::Completed);
}

/// The script-link lab of the time-zero tests below: a virtual clock at
/// 0, the server on `B` and the client on `A`, each on its own
/// [`ScriptDev`](net_ipv4::testlink::ScriptDev) the test drives. Returns
/// (clock, server, server's link, client, client's link).
fn time_zero_hosts()
-> (net_core::Clock, Arc<Net>, net_ipv4::testlink::ScriptLinkRef, Arc<Net>, net_ipv4::testlink::ScriptLinkRef)
{
    use net_core::netdevice::MacAddr;

    const SERVER_MAC: MacAddr = [2, 0, 0, 0, 0, 1];
    const CLIENT_MAC: MacAddr = [2, 0, 0, 0, 0, 2];
    let clock = net_core::Clock::new_virtual();
    let hosts = [(B, SERVER_MAC), (A, CLIENT_MAC)];
    let (server, _, slink, _) = common::host(&clock, "server", 1, SERVER_MAC, B, &hosts);
    let (client, _, clink, _) = common::host(&clock, "client", 2, CLIENT_MAC, A, &hosts);
    (clock, server, slink, client, clink)
}

/// The same bug on a script link, step by step: the client's SYN leaves
/// at time 0, the server's first SYN-ACK is dropped, and after both
/// retransmit at 1 s the server's SYN-ACKs — whichever TSval they echo,
/// the first SYN's or the retransmission's — must complete the handshake
/// without a RST (RFC 7323 §5.3: any TSval sent since the first SYN is
/// acceptable).
#[test]
fn a_synack_echoing_a_syn_sent_at_time_zero_completes_the_handshake() {
    use net_core::snmp::{LinuxMib, TcpMib};
    use net_ipv4::testlink::{ETH_IPV4_L4_OFFSET, run_until_idle};

    let (clock, server, slink, client, clink) = time_zero_hosts();
    let l = TcpSocket::new(&server).unwrap();
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).unwrap();
    l.listen(4).unwrap();
    let c = TcpSocket::new(&client).unwrap();
    c.set_nonblocking(true);
    assert_eq!(clock.now_ns(), 0);
    assert_eq!(c.connect(SocketAddrV4::new(B, PORT)), Err(Errno::EINPROGRESS));
    let mut synacks = 0;
    for _ in 0..3000 {
        run_until_idle(&clock, &[&server, &client], clock.now_ns() + 1_000_000);
        common::shuttle(&slink, &clink, |f| {
            let flags = f[ETH_IPV4_L4_OFFSET + 13];
            let synack = flags & 0x12 == 0x12;
            synacks += usize::from(synack);
            !(synack && synacks == 1)
        });
    }
    assert!(synacks >= 2, "the server retransmitted its SYN-ACK");
    assert_eq!(client.mib.get(LinuxMib::PAWSActive), 0);
    assert_eq!(client.mib.get(TcpMib::OutRsts), 0);
    assert_eq!(c.state(), TcpState::Established);
    assert!(l.accept().is_ok(), "the server has the connection");
}

/// The give-up clock of a SYN sent at time 0: `retrans_stamp` is then 0,
/// a real time, which `retransmits_timed_out()` used to read as "not
/// retransmitting", so `TCP_USER_TIMEOUT` never ended the `connect()`.
/// With 2500 ms against a silent peer: SYNs at 0, 1 and 2 s (the linear
/// 1 s timeouts), the last RTO clamped to the 0.5 s left, ETIMEDOUT at
/// 2.5 s and no fourth SYN — what `handshake/syn-user-timeout.pkt` shows
/// from a clock that does not start at 0.
#[test]
fn tcp_user_timeout_ends_a_connect_whose_syn_left_at_time_zero() {
    use net_ipv4::testlink::{ETH_IPV4_L4_OFFSET, run_until_idle};
    use net_tcp::af_inet::{SOL_TCP, TCP_USER_TIMEOUT};

    let (clock, server, slink, client, clink) = time_zero_hosts();
    let c = TcpSocket::new(&client).unwrap();
    c.set_nonblocking(true);
    c.setsockopt_int(SOL_TCP, TCP_USER_TIMEOUT, 2500).unwrap();
    assert_eq!(clock.now_ns(), 0);
    assert_eq!(c.connect(SocketAddrV4::new(B, PORT)), Err(Errno::EINPROGRESS));
    let mut syns = Vec::new();
    for _ in 0..4000 {
        run_until_idle(&clock, &[&server, &client], clock.now_ns() + 1_000_000);
        // The server never hears anything: every client frame is noted
        // (its SYNs with their time) and dropped.
        slink.lock().expect("server link").tx.clear();
        for (at_ns, f) in clink.lock().expect("client link").tx.drain(..) {
            let is_ip = f.len() > ETH_IPV4_L4_OFFSET + 13 && f[12..14] == [0x08, 0x00];
            if is_ip && f[ETH_IPV4_L4_OFFSET + 13] & 0x02 != 0 {
                syns.push(at_ns / 1_000_000);
            }
        }
    }
    assert_eq!(c.state(), TcpState::Close, "the connect() gave up");
    assert_eq!(c.getsockopt_int(SOL_SOCKET, SO_ERROR), Ok(Errno::ETIMEDOUT.errno()));
    assert_eq!(syns, [0, 1000, 2000], "SYNs at 0, 1 and 2 s, none after the budget");
}
