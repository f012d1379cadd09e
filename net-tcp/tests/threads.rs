//! The lock-protected structures under threads: a stress test across
//! threads (the issue accepts one instead of a loom model), each bounded
//! in iterations and wall time, each checked against exact figures, not
//! only for the absence of a panic or a deadlock.
//!
//! - [`blocking_clients_and_servers_on_threads`]: [`CLIENTS`] threads each
//!   open [`CONNS_PER_CLIENT`] connections one after another with the
//!   blocking socket API (`connect()`, `send()`, `shutdown()`, `recv()`,
//!   `close()`) to one listening host, where [`SERVERS`] threads share the
//!   listener (`accept()` from one accept queue) and answer, while the
//!   test's own thread drives both hosts (the receive path, the timers)
//!   in virtual time. Everything TCP locks is used from several threads at
//!   once: the `ehash`/`bhash`/`lhash2` bucket locks (`connect()` hashes
//!   and binds on a client thread while the receive path looks up on the
//!   driver), the listener's accept queue, each socket's lock (the
//!   application on one thread, the softirq on another), the timer wheel
//!   (armed by both), the wait queues, the counters. Asserted: every
//!   byte, both ways, against per-connection generators; the exact
//!   counts of connections, bytes, `ActiveOpens`/`PassiveOpens`, no RST;
//!   and after TIME_WAIT, empty tables and every socket freed.
//! - [`timers_armed_and_deleted_on_threads_while_the_wheel_runs`]:
//!   [`TIMER_THREADS`] threads arm, re-arm and delete their own timers of
//!   one namespace's wheel (`mod_timer()`, `del_timer()`) while another
//!   thread runs it (`run_timers()`) and moves time on. Every timer fires
//!   exactly as often as the return values of `mod_timer()` (false: a new
//!   arming) and `del_timer()` (true: an arming cancelled) say it must.
//!
//! The hash tables alone, with threads racing insert, remove and lookup
//! on shared chains, are tested in net-tcp's `inet_hashtables.rs` (unit
//! tests, also run under Miri).
//!
//! Each prints its figures (`--nocapture`).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use net_core::net_namespace::TimerFunc;
use net_core::netdevice::MacAddr;
use net_core::snmp::TcpMib;
use net_core::{Clock, Errno, Net};
use net_ipv4::testlink::run_until_idle;
use net_tcp::TcpSocket;
use net_tcp::af_inet::{SO_RCVTIMEO, SOL_SOCKET, Shutdown};
use net_tcp::sock::TcpSock;

mod common;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const SERVER_MAC: MacAddr = [2, 0, 0, 0, 0, 1];
const CLIENT_MAC: MacAddr = [2, 0, 0, 0, 0, 2];
const PORT: u16 = 80;
/// Client threads.
const CLIENTS: usize = 4;
/// Connections each client thread opens, one after another.
const CONNS_PER_CLIENT: usize = 250;
/// Server threads sharing the listener.
const SERVERS: usize = 2;
/// Largest request and reply.
const MAX_MSG: u64 = 64 * 1024;
/// Wall time the whole test may take (the machine is shared: generous).
const WALL_LIMIT: Duration = Duration::from_secs(60);

/// xorshift64*: seeds, sizes and the bytes of each message.
fn next(x: &mut u64) -> u64 {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// The `len` bytes of message `id`.
fn message(id: u64, len: u64) -> Vec<u8> {
    let mut x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len).map(|_| (next(&mut x) >> 56) as u8).collect()
}

/// Read to end of stream.
fn read_all(s: &TcpSocket) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 7919]; // odd-sized reads
    loop {
        match s.recv(&mut buf)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// What the client and server threads counted.
#[derive(Default)]
struct Counts {
    /// Connections the clients completed (request sent, reply checked).
    done: AtomicUsize,
    /// Connections the servers answered.
    answered: AtomicUsize,
    /// Request bytes the servers checked.
    request_bytes: AtomicU64,
    /// Reply bytes the clients checked.
    reply_bytes: AtomicU64,
}

/// A request: its id (8 bytes), the reply length it asks for (8 bytes),
/// then `message(id, len)`; the reply is `message(!id, reply_len)`.
fn client(thread: usize, seed: u64, counts: &Counts, net: &Arc<Net>, weak: &Mutex<Vec<Weak<TcpSock>>>) {
    let mut x = seed ^ (thread as u64 + 1).wrapping_mul(0x5851_f42d_4c95_7f2d);
    for i in 0..CONNS_PER_CLIENT {
        let id = (thread as u64) << 32 | i as u64;
        let (len, reply_len) = (next(&mut x) % MAX_MSG, next(&mut x) % MAX_MSG);
        let s = TcpSocket::new(net).expect("socket");
        weak.lock().unwrap().push(Arc::downgrade(s.sock()));
        s.connect(SocketAddrV4::new(SERVER_IP, PORT)).unwrap_or_else(|e| panic!("{id:#x}: connect: {e:?}"));
        let mut req = id.to_be_bytes().to_vec();
        req.extend_from_slice(&reply_len.to_be_bytes());
        req.extend(message(id, len));
        // In pieces of drawn sizes, as an application writes.
        let (mut at, mut y) = (0, id | 1);
        while at < req.len() {
            let n = (1 + next(&mut y) as usize % 20_000).min(req.len() - at);
            assert_eq!(s.send(&req[at..at + n]), Ok(n), "{id:#x}: a blocking send takes it all");
            at += n;
        }
        s.shutdown(Shutdown::Write).expect("shutdown");
        let reply = read_all(&s).unwrap_or_else(|e| panic!("{id:#x}: recv: {e:?}"));
        assert_eq!(reply.len() as u64, reply_len, "{id:#x}: reply length");
        assert!(reply == message(!id, reply_len), "{id:#x}: reply bytes differ");
        counts.reply_bytes.fetch_add(reply_len, Ordering::Relaxed);
        counts.done.fetch_add(1, Ordering::Relaxed);
        drop(s); // close()
    }
}

/// Accept and answer until `total` connections have been answered by all
/// servers together. `accept()` times out after 100 ms of virtual time
/// (`SO_RCVTIMEO`) so a server notices the end.
fn server(listener: &TcpSocket, counts: &Counts, total: usize, weak: &Mutex<Vec<Weak<TcpSock>>>) {
    while counts.answered.load(Ordering::SeqCst) < total {
        let (s, _) = match listener.accept() {
            Ok(c) => c,
            Err(Errno::EAGAIN) => continue,
            Err(e) => panic!("accept: {e:?}"),
        };
        weak.lock().unwrap().push(Arc::downgrade(s.sock()));
        let req = read_all(&s).unwrap_or_else(|e| panic!("server recv: {e:?}"));
        assert!(req.len() >= 16, "a request has its header");
        let id = u64::from_be_bytes(req[..8].try_into().unwrap());
        let reply_len = u64::from_be_bytes(req[8..16].try_into().unwrap());
        let body = &req[16..];
        assert!(body == message(id, body.len() as u64), "{id:#x}: request bytes differ");
        counts.request_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        let reply = message(!id, reply_len);
        assert_eq!(s.send(&reply), Ok(reply.len()), "{id:#x}: reply queued");
        counts.answered.fetch_add(1, Ordering::SeqCst);
        drop(s); // close(): the server closes first, its side goes to TIME_WAIT
    }
}

#[test]
fn blocking_clients_and_servers_on_threads() {
    let _serial = common::serial();
    let wall = Instant::now();
    let seed = 0x7_4ead5;
    let clock = Clock::new_virtual_at(1_000_000_000);
    let hosts = [(SERVER_IP, SERVER_MAC), (CLIENT_IP, CLIENT_MAC)];
    let (server_net, stn, slink, _) = common::host(&clock, "server", 1, SERVER_MAC, SERVER_IP, &hosts);
    let (client_net, ctn, clink, _) = common::host(&clock, "client", 2, CLIENT_MAC, CLIENT_IP, &hosts);
    let listener = TcpSocket::new(&server_net).expect("socket");
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
    listener.listen(128).expect("listen");
    let mut tv = [0u8; 16];
    tv[8..].copy_from_slice(&100_000i64.to_ne_bytes()); // 100 ms
    listener.setsockopt(SOL_SOCKET, SO_RCVTIMEO, &tv).expect("SO_RCVTIMEO");
    let listener = Arc::new(listener);
    let counts = Arc::new(Counts::default());
    let weak = Arc::new(Mutex::new(Vec::new()));
    let total = CLIENTS * CONNS_PER_CLIENT;
    let finished = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for t in 0..CLIENTS {
        let (counts, net, weak, finished) =
            (counts.clone(), client_net.clone(), weak.clone(), finished.clone());
        threads.push(std::thread::spawn(move || {
            client(t, seed, &counts, &net, &weak);
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for _ in 0..SERVERS {
        let (counts, l, weak, finished) = (counts.clone(), listener.clone(), weak.clone(), finished.clone());
        threads.push(std::thread::spawn(move || {
            server(&l, &counts, total, &weak);
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // The driver: the softirq of both hosts, 1 ms of virtual time a
    // round, the wire carried after each. A thread that panicked ends the
    // run (its join below reports it).
    let mut rounds = 0u64;
    while finished.load(Ordering::SeqCst) < CLIENTS + SERVERS {
        if wall.elapsed() >= WALL_LIMIT {
            for w in weak.lock().unwrap().iter() {
                if let Some(sk) = w.upgrade() {
                    let tp = sk.lock.lock();
                    eprintln!(
                        "live: {:?} {}:{} -> {}:{} snd_una {} snd_nxt {} write_seq {} rcv_nxt {} copied_seq {} rcv_wnd {} snd_wnd {} pending timers {:?}",
                        tp.state,
                        sk.inet_rcv_saddr(),
                        sk.inet_num(),
                        sk.inet_daddr(),
                        sk.inet_dport(),
                        tp.snd_una,
                        tp.snd_nxt,
                        tp.write_seq,
                        tp.rcv_nxt,
                        tp.copied_seq,
                        tp.rcv_wnd,
                        tp.snd_wnd,
                        server_net.timers_pending()
                    );
                }
            }
        }
        assert!(
            wall.elapsed() < WALL_LIMIT,
            "stuck after {rounds} rounds: {} of {total} done, {} answered",
            counts.done.load(Ordering::SeqCst),
            counts.answered.load(Ordering::SeqCst)
        );
        if threads.iter().filter(|t| t.is_finished()).count() > finished.load(Ordering::SeqCst) {
            break; // a thread panicked: its join below reports it
        }
        run_until_idle(&clock, &[&server_net, &client_net], clock.now_ns() + 1_000_000);
        common::shuttle(&slink, &clink, |_| true);
        rounds += 1;
        std::thread::yield_now();
    }
    for t in threads {
        if let Err(e) = t.join() {
            std::panic::resume_unwind(e);
        }
    }
    let busy_virt = clock.now_ns() - 1_000_000_000;
    // Every connection is closed: run past TIME_WAIT (60 s).
    for _ in 0..200 {
        run_until_idle(&clock, &[&server_net, &client_net], clock.now_ns() + 1_000_000_000);
        common::shuttle(&slink, &clink, |_| true);
    }
    let (done, answered) = (counts.done.load(Ordering::SeqCst), counts.answered.load(Ordering::SeqCst));
    let (req, rep) = (counts.request_bytes.load(Ordering::SeqCst), counts.reply_bytes.load(Ordering::SeqCst));
    let m = |n: &Net, c| n.mib.get(c);
    eprintln!(
        "threads: {CLIENTS} client threads × {CONNS_PER_CLIENT} connections, {SERVERS} server threads on one \
         listener, 1 driver: {done} done, {answered} answered; {req} request bytes and {rep} reply bytes checked; \
         ActiveOpens {}, PassiveOpens {}, OutRsts {} + {}, RetransSegs {} + {}; {rounds} driver rounds, \
         {:.1} s virtual, {:.1} s wall",
        m(&client_net, TcpMib::ActiveOpens),
        m(&server_net, TcpMib::PassiveOpens),
        m(&client_net, TcpMib::OutRsts),
        m(&server_net, TcpMib::OutRsts),
        m(&client_net, TcpMib::RetransSegs),
        m(&server_net, TcpMib::RetransSegs),
        busy_virt as f64 / 1e9,
        wall.elapsed().as_secs_f64()
    );
    // The exact figures.
    assert_eq!(done, total);
    assert_eq!(answered, total);
    // The sizes the clients drew, drawn again.
    let (want_req, want_rep) = (0..CLIENTS).fold((0, 0), |(a, b), t| {
        let mut x = seed ^ (t as u64 + 1).wrapping_mul(0x5851_f42d_4c95_7f2d);
        (0..CONNS_PER_CLIENT)
            .fold((a, b), |(a, b), _| (a + next(&mut x) % MAX_MSG, b + next(&mut x) % MAX_MSG))
    });
    assert_eq!((req, rep), (want_req, want_rep), "request and reply bytes");
    assert_eq!(m(&client_net, TcpMib::ActiveOpens), total as u64);
    assert_eq!(m(&server_net, TcpMib::PassiveOpens), total as u64);
    assert_eq!(m(&client_net, TcpMib::OutRsts) + m(&server_net, TcpMib::OutRsts), 0, "no RST");
    assert_eq!(m(&client_net, TcpMib::AttemptFails) + m(&server_net, TcpMib::AttemptFails), 0);
    // Nothing left: only the listener, on its port.
    assert_eq!(Arc::strong_count(&listener), 1, "the servers dropped their handles");
    drop(listener);
    run_until_idle(&clock, &[&server_net, &client_net], clock.now_ns() + 1_000_000);
    for (tn, name) in [(&stn, "server"), (&ctn, "client")] {
        assert_eq!(tn.hashinfo.established_len(), 0, "{name}: ehash");
        assert_eq!(tn.twsk_slab.active_objs(), 0, "{name}: timewait socks");
        assert_eq!(tn.reqsk_slab.active_objs(), 0, "{name}: request socks");
        assert_eq!(tn.hashinfo.bind_bucket(PORT), None, "{name}: port {PORT}");
    }
    let weak = weak.lock().unwrap();
    assert_eq!(weak.len(), 2 * total);
    assert_eq!(weak.iter().filter(|w| w.strong_count() > 0).count(), 0, "every socket freed");
}

/// Threads arming timers of one wheel.
const TIMER_THREADS: usize = 4;
/// Timers each thread owns.
const TIMERS_PER_THREAD: usize = 16;
/// Operations each thread makes.
const TIMER_OPS: usize = 50_000;

#[test]
fn timers_armed_and_deleted_on_threads_while_the_wheel_runs() {
    let _serial = common::serial();
    let wall = Instant::now();
    let clock = Clock::new_virtual_at(1_000_000_000);
    let net = Net::new("timers", clock.clone(), 7);
    let n = TIMER_THREADS * TIMERS_PER_THREAD;
    let fired: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let ids: Vec<_> = (0..n)
        .map(|i| {
            let fired = fired.clone();
            net.timer_setup(TimerFunc::closure(move |_| {
                fired[i].fetch_add(1, Ordering::SeqCst);
            }))
        })
        .collect();
    let ids = Arc::new(ids);
    let stop = Arc::new(AtomicBool::new(false));
    // The wheel's runner: moves time on 1 ms at a time and runs what is due.
    let runner = {
        let (net, clock, stop) = (net.clone(), clock.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut runs = 0u64;
            while !stop.load(Ordering::SeqCst) {
                clock.advance_ns(1_000_000);
                runs += net.run_timers() as u64;
                std::thread::yield_now();
            }
            runs
        })
    };
    let workers: Vec<_> = (0..TIMER_THREADS)
        .map(|t| {
            let (net, ids) = (net.clone(), ids.clone());
            std::thread::spawn(move || {
                // Per timer: armings begun (mod_timer false) and cancelled
                // (del_timer true).
                let mut armed = vec![0u64; TIMERS_PER_THREAD];
                let mut cancelled = vec![0u64; TIMERS_PER_THREAD];
                let mut x = 0x1234_5678 ^ (t as u64 + 1) << 40;
                for _ in 0..TIMER_OPS {
                    let r = next(&mut x);
                    let k = (r % TIMERS_PER_THREAD as u64) as usize;
                    let id = ids[t * TIMERS_PER_THREAD + k];
                    match (r >> 8) % 4 {
                        0 => {
                            cancelled[k] += u64::from(net.del_timer(id));
                        }
                        _ => {
                            // 0–20 jiffies ahead: many fire while others are armed.
                            let expires = net.jiffies() + (r >> 16) % 21;
                            armed[k] += u64::from(!net.mod_timer(id, expires));
                        }
                    }
                    if r % 128 == 0 {
                        // Now and then wait for the runner to move time on,
                        // so timers fire between (and during) the ops
                        // rather than all at the end.
                        let j = net.jiffies();
                        let t0 = Instant::now();
                        while net.jiffies() == j && t0.elapsed() < Duration::from_millis(100) {
                            std::thread::yield_now();
                        }
                    }
                }
                (armed, cancelled)
            })
        })
        .collect();
    let mut want = vec![0u64; n];
    let (mut armed_total, mut cancelled_total) = (0, 0);
    for (t, w) in workers.into_iter().enumerate() {
        let (armed, cancelled) = w.join().expect("worker");
        for k in 0..TIMERS_PER_THREAD {
            want[t * TIMERS_PER_THREAD + k] = armed[k] - cancelled[k];
            armed_total += armed[k];
            cancelled_total += cancelled[k];
        }
    }
    // Let everything still armed fire (at most 20 jiffies ahead).
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.timers_pending() > 0 {
        assert!(Instant::now() < deadline, "timers never fired");
        std::thread::yield_now();
    }
    stop.store(true, Ordering::SeqCst);
    let runs = runner.join().expect("runner");
    net.run_timers();
    let got: Vec<u64> = fired.iter().map(|f| f.load(Ordering::SeqCst)).collect();
    let total: u64 = got.iter().sum();
    eprintln!(
        "threads: {TIMER_THREADS} threads × {TIMER_OPS} mod_timer/del_timer on {n} timers while 1 thread ran the \
         wheel: {armed_total} armings, {cancelled_total} cancelled, {total} fired (runner counted {runs}); \
         {:.1} s virtual, {:.1} s wall",
        (clock.now_ns() - 1_000_000_000) as f64 / 1e9,
        wall.elapsed().as_secs_f64()
    );
    assert_eq!(got, want, "each timer fired once per arming not cancelled");
    assert_eq!(total, runs, "the runner ran exactly the fired timers");
    assert_eq!(armed_total - cancelled_total, total);
    for id in ids.iter() {
        net.timer_shutdown(*id);
    }
}

/// Regression, found by [`blocking_clients_and_servers_on_threads`]: a
/// server answering with an empty reply hung in `send(&[])`.
/// `tcp_sendmsg_locked()` returned `EAGAIN` for an empty buffer, and the
/// blocking `send()` waited for buffer space it had and retried, forever.
/// Linux returns 0 (its copy loop is never entered), blocking or not.
#[test]
fn an_empty_send_returns_zero_blocking_or_not() {
    let _serial = common::serial();
    let clock = Clock::new_virtual_at(1_000_000_000);
    let hosts = [(SERVER_IP, SERVER_MAC), (CLIENT_IP, CLIENT_MAC)];
    let (server_net, _, slink, _) = common::host(&clock, "server", 1, SERVER_MAC, SERVER_IP, &hosts);
    let (client_net, _, clink, _) = common::host(&clock, "client", 2, CLIENT_MAC, CLIENT_IP, &hosts);
    let l = TcpSocket::new(&server_net).expect("socket");
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
    l.listen(1).expect("listen");
    let c = TcpSocket::new(&client_net).expect("socket");
    c.set_nonblocking(true);
    assert_eq!(c.connect(SocketAddrV4::new(SERVER_IP, PORT)), Err(Errno::EINPROGRESS));
    for _ in 0..10 {
        run_until_idle(&clock, &[&server_net, &client_net], clock.now_ns() + 1_000_000);
        common::shuttle(&slink, &clink, |_| true);
    }
    let (s, _) = l.accept().expect("accepted");
    assert_eq!(c.send(&[]), Ok(0), "non-blocking");
    // Blocking, on a thread of its own: it must return at once.
    s.set_nonblocking(false);
    let t = std::thread::spawn(move || (s.send(&[]), s));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.is_finished() {
        assert!(Instant::now() < deadline, "a blocking send(&[]) never returned");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (r, _s) = t.join().expect("the sender");
    assert_eq!(r, Ok(0), "blocking");
}
