//! Data integrity over a long run: many connections at once, both ways,
//! through a wire that loses, duplicates, reorders, delays and corrupts
//! frames, every byte checked.
//!
//! Two linnet hosts, `a` (10.0.0.1) and `b` (10.0.0.2), each listening on
//! [`PORT`], joined by one simulated wire ([`net_dev::Sim`], netem on both
//! directions); `b` receives through GRO, `a` sends through GSO, the
//! other way round neither. [`SLOTS`] connection slots run at once; each slot's
//! connection is opened by `a` or `b` (drawn), moves a drawn number of
//! bytes each way (0 – 1 MiB) in drawn send and receive sizes with drawn
//! socket options (`TCP_NODELAY`, `SO_SNDBUF`, `SO_RCVBUF`, `TCP_MAXSEG`,
//! `TCP_CONGESTION`, `SO_KEEPALIVE`, `TCP_QUICKACK`), half-closes each
//! way once its bytes are queued, is closed, and the slot opens the next
//! connection — until the run's time is up. Each direction of each
//! connection has its own generator ([`Gen`], seeded from the run's seed,
//! the slot and the connection's number), and the receiver checks every
//! byte it reads against it, and that end of stream comes exactly at the
//! end.
//!
//! What must hold:
//! - every byte read is the byte sent (the wire's corrupted frames are
//!   dropped by the IP and TCP checksums: `InCsumErrors` rises, never a
//!   wrong byte), no byte is missing or extra;
//! - every connection completes, or fails with a clean error
//!   (`ETIMEDOUT`, `ECONNRESET`) that its give-up timers produced — never
//!   a hang: the run is bounded in steps, virtual time and wall time;
//! - nothing leaks: once everything is closed and time has run past
//!   TIME_WAIT and FIN_WAIT2, both hosts' `ehash`, bind buckets,
//!   timewait and request-sock slabs and orphan counts are empty, and
//!   every socket has been freed.
//!
//! It prints its seed first and its figures at the end (`--nocapture`).
//! `LINNET_INTEGRITY_SEED` replays a run (wire faults, sizes, options and
//! the hosts' own randomness all come from it); `LINNET_INTEGRITY_SECS`
//! (default 10) is the wall time spent opening new connections, and
//! `LINNET_INTEGRITY_CONNS` stops opening them after that many instead.
//! The data phase also stops at [`VIRT_DATA_NS`] of virtual time. Only
//! when to stop opening connections depends on the wall clock: up to
//! there the run is the same every time, so a failure replays with its
//! seed, and `LINNET_INTEGRITY_CONNS` (printed at the end) replays a
//! whole run.

mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use common::Rng;
use net_core::snmp::{IpExtMib, IpstatsMib, TcpMib};
use net_core::{Errno, Net};
use net_dev::netem::{DelayDist, LossModel, NetemParams};
use net_dev::{LinkParams, Sim};
use net_ipv4::neighbour::NudState;
use net_tcp::af_inet::{
    SO_ERROR, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF, SOL_SOCKET, SOL_TCP, Shutdown, TCP_CONGESTION, TCP_MAXSEG,
    TCP_NODELAY, TCP_QUICKACK, TcpNet,
};
use net_tcp::sock::TcpSock;
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5001;
/// Connections open at once.
const SLOTS: usize = 8;
/// Largest transfer one way on one connection.
const MAX_LEN: u64 = 1 << 20;
/// Virtual time after which no new connection is opened: 10 minutes.
const VIRT_DATA_NS: u64 = 600 * 1_000_000_000;
/// Virtual time the connections still open then may take to finish or
/// give up: more than `tcp_retries2` (about 924 s) and `tcp_syn_retries`
/// (127 s) need.
const VIRT_DRAIN_NS: u64 = 3600 * 1_000_000_000;
/// Wall time the drain may take (the machine is shared: generous).
const WALL_DRAIN: Duration = Duration::from_secs(120);
/// Simulator steps the whole run may take.
const STEP_LIMIT: u64 = 50_000_000;

/// The byte stream of one direction of one connection: a generator the
/// sender draws from and the receiver checks against.
#[derive(Clone)]
struct Gen(Rng);

impl Gen {
    fn new(seed: u64, slot: usize, conn: u64, dir: u64) -> Gen {
        let mut x =
            seed ^ (slot as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ conn.rotate_left(17) ^ dir << 63;
        // SplitMix64 finaliser, so nearby seeds give unrelated streams.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Gen(Rng(x ^ (x >> 31) | 1))
    }

    fn byte(&mut self) -> u8 {
        self.0.byte()
    }
}

/// One direction of a connection.
struct Stream {
    /// "a→b" or "b→a", and the connection's name, for messages.
    name: String,
    total: u64,
    /// Bytes handed to `send()` and taken.
    sent: u64,
    /// Bytes read and checked.
    got: u64,
    tx: Gen,
    rx: Gen,
    /// Drawn from `tx` but not yet taken by `send()`.
    pending: Vec<u8>,
    shut: bool,
    eof: bool,
}

/// Why a socket call ended a connection.
type Ended = Errno;

impl Stream {
    fn new(name: String, total: u64, g: Gen) -> Stream {
        Stream {
            name,
            total,
            sent: 0,
            got: 0,
            tx: g.clone(),
            rx: g,
            pending: Vec::new(),
            shut: false,
            eof: false,
        }
    }

    /// Queue up to a drawn number of bytes; shut the write side once all
    /// are queued.
    fn send(&mut self, s: &TcpSocket, rng: &mut Rng) -> Result<(), Ended> {
        let mut budget = rng.range(1, 96 * 1024);
        while budget > 0 && self.sent < self.total {
            if self.pending.is_empty() {
                let n = rng.range(1, 64 * 1024).min(self.total - self.sent);
                self.pending = (0..n).map(|_| self.tx.byte()).collect();
            }
            let n = (self.pending.len() as u64).min(budget) as usize;
            match s.send(&self.pending[..n]) {
                Ok(k) => {
                    self.pending.drain(..k);
                    self.sent += k as u64;
                    budget -= k as u64;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.total && !self.shut {
            s.shutdown(Shutdown::Write)?;
            self.shut = true;
        }
        Ok(())
    }

    /// Read up to a drawn number of bytes in drawn sizes, each byte
    /// checked. A wrong byte, a byte past the end or an early end of
    /// stream panics: that is the failure this test exists for.
    fn recv(&mut self, s: &TcpSocket, rng: &mut Rng, buf: &mut [u8]) -> Result<(), Ended> {
        let mut reads = rng.range(1, 8);
        while !self.eof && reads > 0 {
            reads -= 1;
            let n = rng.range(1, buf.len() as u64) as usize;
            match s.recv(&mut buf[..n]) {
                Ok(0) => {
                    assert_eq!(
                        self.got, self.total,
                        "{}: end of stream after {} of {} bytes",
                        self.name, self.got, self.total
                    );
                    self.eof = true;
                }
                Ok(k) => {
                    assert!(
                        self.got + k as u64 <= self.total,
                        "{}: {} bytes read past the end ({} of {})",
                        self.name,
                        k,
                        self.got,
                        self.total
                    );
                    for (i, &b) in buf[..k].iter().enumerate() {
                        let want = self.rx.byte();
                        assert_eq!(
                            b,
                            want,
                            "{}: byte {} is {b:#04x}, sent {want:#04x}",
                            self.name,
                            self.got + i as u64
                        );
                    }
                    self.got += k as u64;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.eof && self.shut
    }
}

/// One connection: `active` opened it (on `a` when `from_a`), `passive`
/// is the accepted socket once there is one.
struct Conn {
    name: String,
    from_a: bool,
    active: TcpSocket,
    passive: Option<TcpSocket>,
    /// The active side's local port, by which the accepting host knows it.
    port: u16,
    /// active → passive, passive → active.
    up: Stream,
    down: Stream,
}

/// How each connection ended, and what moved.
#[derive(Default, Debug)]
struct Tally {
    opened: u64,
    completed: u64,
    failed: HashMap<&'static str, u64>,
    /// Bytes verified a→b and b→a.
    bytes_ab: u64,
    bytes_ba: u64,
}

fn errno_name(e: Errno) -> &'static str {
    match e {
        Errno::ETIMEDOUT => "ETIMEDOUT",
        Errno::ECONNRESET => "ECONNRESET",
        Errno::EPIPE => "EPIPE",
        _ => "other",
    }
}

/// The run's wire: drawn netem parameters, one draw per direction.
fn link(rng: &mut Rng) -> LinkParams {
    let reorder = rng.percent(1.0, 10.0);
    LinkParams {
        delay_ns: 200_000,
        rate_bps: 200_000_000,
        queue_limit: 1000,
        netem: Some(NetemParams {
            latency_ns: rng.range(1_000, 5_000) * 1000,
            jitter_ns: rng.range(0, 1_000) * 1000,
            dist: DelayDist::Uniform,
            loss: LossModel::Random { percent: rng.percent(0.5, 3.0) },
            duplicate: rng.percent(0.2, 2.0),
            corrupt: rng.percent(0.1, 1.0),
            reorder,
            gap: rng.range(2, 6) as u32,
            ..NetemParams::default()
        }),
        ..LinkParams::default()
    }
}

/// Drawn socket options for a new socket (before `connect()` or on the
/// accepted one).
fn options(s: &TcpSocket, rng: &mut Rng, before_connect: bool) {
    let _ = s.setsockopt_int(SOL_TCP, TCP_NODELAY, rng.chance(0.5) as i32);
    if rng.chance(0.5) {
        s.setsockopt_int(SOL_SOCKET, SO_SNDBUF, rng.range(4096, 256 * 1024) as i32).expect("SO_SNDBUF");
    }
    if rng.chance(0.5) {
        s.setsockopt_int(SOL_SOCKET, SO_RCVBUF, rng.range(4096, 256 * 1024) as i32).expect("SO_RCVBUF");
    }
    if before_connect && rng.chance(0.3) {
        s.setsockopt_int(SOL_TCP, TCP_MAXSEG, rng.range(536, 1460) as i32).expect("TCP_MAXSEG");
    }
    if rng.chance(0.3) {
        s.setsockopt(SOL_TCP, TCP_CONGESTION, b"reno").expect("TCP_CONGESTION");
    }
    if rng.chance(0.3) {
        s.setsockopt_int(SOL_SOCKET, SO_KEEPALIVE, 1).expect("SO_KEEPALIVE");
    }
    if rng.chance(0.2) {
        s.setsockopt_int(SOL_TCP, TCP_QUICKACK, 1).expect("TCP_QUICKACK");
    }
}

/// `SO_ERROR` of a socket: the error that ended it, `None` if none.
fn so_error(s: &TcpSocket) -> Option<Errno> {
    let e = s.getsockopt_int(SOL_SOCKET, SO_ERROR).unwrap_or(0);
    (e != 0).then(|| Errno::from_errno(e).unwrap_or(Errno::EIO))
}

struct Host {
    net: Arc<Net>,
    tn: Arc<TcpNet>,
    addr: Ipv4Addr,
    listener: TcpSocket,
}

struct Run {
    sim: Sim,
    rng: Rng,
    seed: u64,
    a: Host,
    b: Host,
    slots: Vec<Option<Conn>>,
    /// Connections opened per slot so far.
    generation: Vec<u64>,
    /// Accepted sockets not yet matched to a connection (their peer's
    /// port not yet known, or a connection already given up on).
    unmatched: Vec<(bool, TcpSocket, u16)>,
    tally: Tally,
    /// Every socket of the run, to check they are all freed at the end.
    weak: Vec<Weak<TcpSock>>,
    /// Every local port the active sides used.
    ports: Vec<(bool, u16)>,
    buf: Vec<u8>,
    wall: Instant,
    /// Steps in a row that found nothing pending.
    idle: u32,
}

impl Run {
    fn host(&self, on_a: bool) -> &Host {
        if on_a { &self.a } else { &self.b }
    }

    /// Open the next connection of `slot`.
    fn open(&mut self, slot: usize) {
        let number = self.generation[slot];
        self.generation[slot] += 1;
        let from_a = self.rng.chance(0.5);
        let (src, dst) = if from_a { (&self.a, &self.b) } else { (&self.b, &self.a) };
        let s = TcpSocket::new(&src.net).expect("socket");
        s.set_nonblocking(true);
        options(&s, &mut self.rng, true);
        match s.connect(SocketAddrV4::new(dst.addr, PORT)) {
            Err(Errno::EINPROGRESS) => {}
            other => panic!("connect: {other:?}"),
        }
        let port = s.local_addr().port();
        self.weak.push(Arc::downgrade(s.sock()));
        self.ports.push((from_a, port));
        let name = format!("slot {slot} conn {number} ({}:{port})", if from_a { "a" } else { "b" });
        let dir = |up: bool| if up == from_a { "a→b" } else { "b→a" };
        let size = |rng: &mut Rng| match rng.range(0, 9) {
            0 => 0,
            1..=3 => rng.range(1, 4096),
            _ => rng.range(1, MAX_LEN),
        };
        let (n_up, n_down) = (size(&mut self.rng), size(&mut self.rng));
        let up = Stream::new(format!("{name} {}", dir(true)), n_up, Gen::new(self.seed, slot, number, 0));
        let down =
            Stream::new(format!("{name} {}", dir(false)), n_down, Gen::new(self.seed, slot, number, 1));
        self.slots[slot] = Some(Conn { name, from_a, active: s, passive: None, port, up, down });
        self.tally.opened += 1;
    }

    /// Take what both listeners have and give each accepted socket to the
    /// connection whose active side's port it comes from.
    fn accept(&mut self) {
        for on_a in [true, false] {
            while let Ok((s, peer)) = self.host(on_a).listener.accept() {
                s.set_nonblocking(true);
                options(&s, &mut self.rng, false);
                self.weak.push(Arc::downgrade(s.sock()));
                self.unmatched.push((on_a, s, peer.port()));
            }
        }
        let mut i = 0;
        while i < self.unmatched.len() {
            let (on_a, _, port) = self.unmatched[i];
            let conn = self.slots.iter_mut().flatten().find(|c| c.from_a != on_a && c.port == port);
            match conn {
                Some(c) if c.passive.is_none() => {
                    c.passive = Some(self.unmatched.swap_remove(i).1);
                }
                _ => i += 1,
            }
        }
    }

    /// Both sides of `slot` send and read. Returns `Some(outcome)` when
    /// the connection is over: `None` inside for a completed one.
    fn work(&mut self, slot: usize) -> Option<Option<Errno>> {
        let c = self.slots[slot].as_mut().expect("a connection");
        let rng = &mut self.rng;
        let buf = &mut self.buf;
        let r = (|| {
            if c.active.state() != TcpState::SynSent {
                c.up.send(&c.active, rng)?;
                c.down.recv(&c.active, rng, buf)?;
            }
            if let Some(p) = &c.passive {
                c.down.send(p, rng)?;
                c.up.recv(p, rng, buf)?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            assert!(matches!(e, Errno::ETIMEDOUT | Errno::ECONNRESET | Errno::EPIPE), "{}: {e:?}", c.name);
            return Some(Some(e));
        }
        if c.up.done() && c.down.done() {
            return Some(None);
        }
        // A side that gave up or was reset while it had nothing to send
        // or read shows it in its state and SO_ERROR.
        for s in std::iter::once(&c.active).chain(&c.passive) {
            if s.state() == TcpState::Close {
                // Closed with no error: the last FIN exchange is over and
                // the next recv() reads the end of stream (or finds it
                // early, which fails the test there).
                let Some(e) = so_error(s) else { continue };
                assert!(matches!(e, Errno::ETIMEDOUT | Errno::ECONNRESET), "{}: {e:?}", c.name);
                return Some(Some(e));
            }
        }
        None
    }

    /// Count what a finished connection moved, and close it.
    fn finish(&mut self, slot: usize, outcome: Option<Errno>) {
        let c = self.slots[slot].take().expect("a connection");
        let (ab, ba) = if c.from_a { (&c.up, &c.down) } else { (&c.down, &c.up) };
        self.tally.bytes_ab += ab.got;
        self.tally.bytes_ba += ba.got;
        match outcome {
            None => self.tally.completed += 1,
            Some(e) => {
                eprintln!(
                    "{}: failed cleanly with {e:?} at {:.1} s virtual, {} of {} and {} of {} bytes",
                    c.name,
                    self.sim.now_ns() as f64 / 1e9,
                    c.up.got,
                    c.up.total,
                    c.down.got,
                    c.down.total
                );
                *self.tally.failed.entry(errno_name(e)).or_default() += 1;
            }
        }
        // close() both; the FIN exchange (or the RST of a failed one)
        // goes on without them.
        drop(c);
    }

    fn step(&mut self, what: &str) {
        let steps = self.sim.steps();
        assert!(steps < STEP_LIMIT, "seed {}: {what}: {steps} steps at {} ns", self.seed, self.sim.now_ns());
        if self.sim.step() {
            self.idle = 0;
        } else {
            // Nothing pending anywhere: the application still has the
            // end of a stream to read; many times over is a hang.
            self.idle += 1;
            assert!(self.idle < 100, "seed {}: {what}: idle with connections open", self.seed);
        }
    }
}

fn env_u64(var: &str) -> Option<u64> {
    std::env::var(var).ok().map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{var}: a number")))
}

fn add_host(sim: &mut Sim, name: &str) -> (Arc<Net>, Arc<TcpNet>) {
    let net = sim.add_host(name);
    let tn = inet_init(&net);
    (net, tn)
}

#[test]
fn many_connections_over_a_faulty_wire_deliver_every_byte() {
    let seed = env_u64("LINNET_INTEGRITY_SEED").unwrap_or(0x0001_11e6_2024);
    let secs = env_u64("LINNET_INTEGRITY_SECS").unwrap_or(10);
    let max_conns = env_u64("LINNET_INTEGRITY_CONNS");
    eprintln!("integrity: seed {seed} (LINNET_INTEGRITY_SEED={seed} replays this run)");
    let wall = Instant::now();
    let mut rng = Rng(seed | 1);
    let mut sim = Sim::new(seed);
    sim.set_step_limit(STEP_LIMIT);
    let (na, tna) = add_host(&mut sim, "a");
    let (nb, tnb) = add_host(&mut sim, "b");
    let (ab, ba) = (link(&mut rng), link(&mut rng));
    eprintln!("integrity: a→b {:?}\nintegrity: b→a {:?}", ab.netem, ba.netem);
    let (ea, eb) = sim.connect_asym(&na, &nb, ab, ba).expect("wire");
    // Permanent neighbours: ARP has no checksum, so a corrupted ARP reply
    // could poison a cache (see prop_transfer.rs); this test is about TCP.
    for (net, tn, dev, addr, peer, peer_dev) in [(&na, &tna, &ea, A, B, &eb), (&nb, &tnb, &eb, B, A, &ea)] {
        net_ipv4::devinet::inet_addr_add(net, &tn.ipv4, dev.ifindex, addr, 24).expect("ip addr add");
        tn.ipv4
            .arp_tbl
            .neigh_add(net, dev.ifindex, peer, peer_dev.dev_addr(), NudState::Permanent)
            .expect("neighbour");
    }
    // b receives through GRO and a sends through GSO (`ethtool -K eth0 gro
    // on` / `gso on`); the other direction goes frame by frame: both
    // paths of each under the same faults.
    eb.set_gro(true);
    ea.set_gso(true);
    let listener = |net: &Arc<Net>| {
        let l = TcpSocket::new(net).expect("socket");
        l.set_nonblocking(true);
        l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
        l.listen(64).expect("listen");
        l
    };
    let (la, lb) = (listener(&na), listener(&nb));
    let mut run = Run {
        sim,
        rng,
        seed,
        a: Host { net: na, tn: tna, addr: A, listener: la },
        b: Host { net: nb, tn: tnb, addr: B, listener: lb },
        slots: (0..SLOTS).map(|_| None).collect(),
        generation: vec![0; SLOTS],
        unmatched: Vec::new(),
        tally: Tally::default(),
        weak: Vec::new(),
        ports: Vec::new(),
        buf: vec![0; 64 * 1024],
        wall,
        idle: 0,
    };

    // The data phase: keep every slot busy until the time is up.
    let data_wall = Duration::from_secs(secs);
    let opening = |run: &Run| {
        run.wall.elapsed() < data_wall
            && run.sim.now_ns() < VIRT_DATA_NS
            && max_conns.is_none_or(|m| run.tally.opened < m)
    };
    let mut drain_start = None;
    loop {
        let open = opening(&run);
        for slot in 0..SLOTS {
            if run.slots[slot].is_none() && open {
                run.open(slot);
            }
        }
        run.accept();
        for slot in 0..SLOTS {
            if run.slots[slot].is_some() {
                if let Some(outcome) = run.work(slot) {
                    run.finish(slot, outcome);
                }
            }
        }
        if !open {
            let (t0, w0) = *drain_start.get_or_insert((run.sim.now_ns(), Instant::now()));
            if run.slots.iter().all(Option::is_none) {
                break;
            }
            assert!(
                run.sim.now_ns() - t0 < VIRT_DRAIN_NS,
                "seed {seed}: connections still open an hour after the last was opened"
            );
            assert!(
                w0.elapsed() < WALL_DRAIN,
                "seed {seed}: the drain took more than {WALL_DRAIN:?} of wall time"
            );
        }
        run.step(if open { "data phase" } else { "drain" });
    }
    let data_virt = run.sim.now_ns();

    // Every connection is closed. Unmatched accepted sockets (of
    // connections given up on before the accept) are closed too, then
    // the listeners; time runs until no timer is left: past FIN_WAIT2
    // and TIME_WAIT (60 s each) and the orphans' retries.
    run.unmatched.clear();
    let Run { mut sim, a, b, weak, ports, tally, .. } = run;
    let (ha, hb) = (a.net.clone(), b.net.clone());
    let (ta, tb) = (a.tn.clone(), b.tn.clone());
    drop(a.listener);
    drop(b.listener);
    let t_closed = sim.now_ns();
    while sim.step() {
        assert!(
            sim.now_ns() - t_closed < 3600 * 1_000_000_000,
            "seed {seed}: timers still re-arming an hour after everything closed"
        );
    }

    // Figures.
    let mut lost = 0;
    let mut duplicated = 0;
    let mut reordered = 0;
    let mut corrupted = 0;
    for l in sim.links() {
        for h in [&l.handle_a, &l.handle_b] {
            let n = h.stats().netem;
            lost += n.lost;
            duplicated += n.duplicated;
            reordered += n.reordered;
            corrupted += n.corrupted;
        }
    }
    let failed: u64 = tally.failed.values().sum();
    eprintln!(
        "integrity: {} connections ({} completed, {failed} failed cleanly {:?}), {} slots at once, both ways",
        tally.opened, tally.completed, tally.failed, SLOTS
    );
    eprintln!(
        "integrity: bytes moved and verified: a→b {}, b→a {} ({:.1} MiB in all)",
        tally.bytes_ab,
        tally.bytes_ba,
        (tally.bytes_ab + tally.bytes_ba) as f64 / (1 << 20) as f64
    );
    eprintln!(
        "integrity: the wire lost {lost}, duplicated {duplicated}, reordered {reordered}, corrupted {corrupted} frames"
    );
    let mut csum_errors = 0;
    for (net, name) in [(&ha, "a"), (&hb, "b")] {
        csum_errors += net.mib.get(TcpMib::InCsumErrors) + net.mib.get(IpExtMib::InCsumErrors);
        let mut out = format!("integrity: {name}: RetransSegs {}", net.mib.get(TcpMib::RetransSegs));
        for (prefix, field, value) in net.mib.snapshot().iter() {
            // Counters that rose (not the constants RtoMin and the like,
            // nor the byte counts).
            let constant =
                matches!(field.as_ref(), "RtoAlgorithm" | "RtoMin" | "RtoMax" | "MaxConn" | "RetransSegs");
            let bytes = field.ends_with("Octets") || field.ends_with("Pkts");
            if value != 0 && matches!(prefix, "Tcp" | "TcpExt" | "IpExt") && !constant && !bytes {
                out.push_str(&format!(" {prefix}:{field} {value}"));
            }
        }
        let ip_hdr = net.mib.get(IpstatsMib::InHdrErrors);
        if ip_hdr != 0 {
            out.push_str(&format!(" Ip:InHdrErrors {ip_hdr}"));
        }
        eprintln!("{out}");
    }
    eprintln!(
        "integrity: every connection over at {:.1} s virtual, no timer left at {:.1} s, {} steps, {:.1} s wall",
        data_virt as f64 / 1e9,
        sim.now_ns() as f64 / 1e9,
        sim.steps(),
        wall.elapsed().as_secs_f64()
    );

    eprintln!("integrity: replay with LINNET_INTEGRITY_SEED={seed} LINNET_INTEGRITY_CONNS={}", tally.opened);

    // What must hold (the bytes were checked as they arrived).
    assert!(tally.completed > 0, "seed {seed}: no connection completed");
    assert!(
        tally.completed * 10 >= tally.opened * 9,
        "seed {seed}: fewer than 90 % of connections completed on a wire losing at most 3 %: {tally:?}"
    );
    if corrupted >= 20 {
        assert!(csum_errors > 0, "seed {seed}: {corrupted} frames corrupted, no checksum error counted");
    }
    assert!(
        csum_errors <= corrupted,
        "seed {seed}: {csum_errors} checksum errors from {corrupted} corrupted frames"
    );
    for (tn, name) in [(&ta, "a"), (&tb, "b")] {
        let h = &tn.hashinfo;
        assert_eq!(h.established_len(), 0, "{name}: sockets left in ehash");
        assert_eq!(tn.twsk_slab.active_objs(), 0, "{name}: timewait socks left");
        assert_eq!(tn.reqsk_slab.active_objs(), 0, "{name}: request socks left");
        assert_eq!(h.bind_bucket(PORT), None, "{name}: the listeners' port still bound");
    }
    for &(on_a, port) in &ports {
        let h = if on_a { &ta.hashinfo } else { &tb.hashinfo };
        assert_eq!(h.bind_bucket(port), None, "port {port} still bound");
    }
    let alive = weak.iter().filter(|w| w.strong_count() > 0).count();
    assert_eq!(alive, 0, "seed {seed}: {alive} of {} sockets never freed", weak.len());
    assert_eq!(ta.tcp_orphan_count.tcp_orphan_count_sum(), 0, "a: orphans left");
    assert_eq!(tb.tcp_orphan_count.tcp_orphan_count_sum(), 0, "b: orphans left");
}
