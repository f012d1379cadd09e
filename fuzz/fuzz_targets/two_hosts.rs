//! Two linnet hosts on an in-memory wire, driven by a fuzzer-chosen
//! sequence of socket calls, time steps and wire faults.
//!
//! Invariants: every byte any socket receives is the byte its peer sent
//! at that position of the stream (each direction of each connection has
//! its own [`pattern`]); a socket never reads more than its peer sent;
//! nothing panics; the run is bounded (at most [`MAX_OPS`] operations and
//! [`MAX_VIRTUAL_NS`] of virtual time). At the end, on every connection
//! still established at both ends with no shutdown or close, what was
//! sent arrives in full once the wire is quiet.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddrV4;

use net_core::Errno;
use net_tcp::TcpSocket;
use net_tcp::af_inet::{
    SO_KEEPALIVE, SO_LINGER, SO_RCVBUF, SO_SNDBUF, SOL_SOCKET, SOL_TCP, Shutdown, TCP_CORK, TCP_KEEPIDLE,
    TCP_LINGER2, TCP_MAXSEG, TCP_NODELAY, TCP_QUICKACK, TCP_USER_TIMEOUT,
};
use net_tcp::tcp_states::TcpState;

use linnet_fuzz::{Fault, Lab, PORT, SERVER_IP, pattern};

/// Operations per run.
const MAX_OPS: usize = 64;
/// Connections per run.
const MAX_CONNS: usize = 4;
/// Virtual time the operations may spend (the final drain comes on top).
const MAX_VIRTUAL_NS: u64 = 600 * 1_000_000_000;

#[derive(Debug, Arbitrary)]
enum Opt {
    NoDelay(bool),
    Cork(bool),
    QuickAck(bool),
    KeepAlive(bool),
    KeepIdle(u16),
    Linger { on: bool, secs: u8 },
    Linger2(i8),
    RcvBuf(u16),
    SndBuf(u16),
    MaxSeg(u16),
    UserTimeout(u16),
}

#[derive(Debug, Arbitrary)]
enum WireFault {
    Drop,
    Duplicate,
    Reorder,
    Delay(u8),
}

#[derive(Debug, Arbitrary)]
enum Op {
    Connect,
    Accept,
    Send { conn: u8, server: bool, len: u16 },
    Recv { conn: u8, server: bool, max: u16 },
    Shutdown { conn: u8, server: bool, how: u8 },
    Close { conn: u8, server: bool },
    SetOpt { conn: u8, server: bool, opt: Opt },
    Advance { ms: u16 },
    Fault(WireFault),
}

/// One end of a connection: its socket (until closed), what it has sent
/// and received of its streams, and whether it shut down or closed.
#[derive(Default)]
struct End {
    sock: Option<TcpSocket>,
    sent: u64,
    received: u64,
    eof: bool,
    /// `shutdown(SHUT_RD)` was called: `recv()` returns 0 while nothing
    /// is queued, yet data arriving later is still read (Linux's
    /// `tcp_recvmsg()` looks at the queue before `RCV_SHUTDOWN`), so a 0
    /// is no end of stream.
    shut_rd: bool,
    stopped: bool,
}

struct Conn {
    /// The client's local port: how an accepted child finds its client.
    port: u16,
    client: End,
    server: End,
}

impl Conn {
    fn received(&self, server: bool) -> u64 {
        if server { self.server.received } else { self.client.received }
    }

    /// Both ends established, neither shut down nor closed.
    fn intact(&self) -> bool {
        let ok = |e: &End| !e.stopped && e.sock.as_ref().is_some_and(|s| s.state() == TcpState::Established);
        ok(&self.client) && ok(&self.server)
    }

    fn complete(&self) -> bool {
        self.client.received == self.server.sent && self.server.received == self.client.sent
    }
}

struct Run {
    lab: Lab,
    conns: Vec<Conn>,
}

/// The stream from one end of connection `i`: 2i from the client, 2i+1 from the server.
fn stream(i: usize, server: bool) -> u64 {
    2 * i as u64 + u64::from(server)
}

impl Run {
    fn end(&mut self, conn: u8, server: bool) -> Option<(usize, &mut End)> {
        if self.conns.is_empty() {
            return None;
        }
        let i = usize::from(conn) % self.conns.len();
        let c = &mut self.conns[i];
        Some((i, if server { &mut c.server } else { &mut c.client }))
    }

    fn peer_sent(&self, i: usize, server: bool) -> u64 {
        let c = &self.conns[i];
        if server { c.client.sent } else { c.server.sent }
    }

    /// Read what `end` has, checking each byte against the peer's stream.
    fn recv(&mut self, i: usize, server: bool, max: usize) {
        let peer_sent = self.peer_sent(i, server);
        let c = &mut self.conns[i];
        let end = if server { &mut c.server } else { &mut c.client };
        let Some(s) = &end.sock else { return };
        let mut buf = vec![0u8; max.clamp(1, 65536)];
        match s.recv(&mut buf) {
            Ok(0) => end.eof |= !end.shut_rd,
            Ok(n) => {
                assert!(!end.eof, "data after EOF");
                let from = stream(i, !server);
                for (k, &b) in buf[..n].iter().enumerate() {
                    let at = end.received + k as u64;
                    assert!(at < peer_sent, "conn {i}: read byte {at}, the peer sent only {peer_sent}");
                    assert_eq!(b, pattern(from, at), "conn {i} stream {from}: byte {at} corrupted");
                }
                end.received += n as u64;
            }
            Err(_) => {}
        }
    }

    fn send(&mut self, i: usize, server: bool, len: usize) {
        let c = &mut self.conns[i];
        let end = if server { &mut c.server } else { &mut c.client };
        let Some(s) = &end.sock else { return };
        let data: Vec<u8> = (0..len as u64).map(|k| pattern(stream(i, server), end.sent + k)).collect();
        if let Ok(n) = s.send(&data) {
            end.sent += n as u64;
        }
    }

    /// Pair accepted children with their clients.
    fn accept(&mut self) {
        while let Ok((child, peer)) = self.lab.listener.accept() {
            child.set_nonblocking(true);
            match self.conns.iter_mut().find(|c| c.port == peer.port() && c.server.sock.is_none()) {
                Some(c) => c.server.sock = Some(child),
                None => panic!("accepted a connection from {peer} nobody made"),
            }
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Connect => {
                if self.conns.len() < MAX_CONNS {
                    let s = TcpSocket::new(&self.lab.client).expect("socket");
                    s.set_nonblocking(true);
                    if let Err(Errno::EINPROGRESS) = s.connect(SocketAddrV4::new(SERVER_IP, PORT)) {
                        let port = s.local_addr().port();
                        let client = End { sock: Some(s), ..End::default() };
                        self.conns.push(Conn { port, client, server: End::default() });
                    }
                }
            }
            Op::Accept => self.accept(),
            Op::Send { conn, server, len } => {
                if let Some((i, _)) = self.end(conn, server) {
                    self.send(i, server, usize::from(len));
                }
            }
            Op::Recv { conn, server, max } => {
                if let Some((i, _)) = self.end(conn, server) {
                    self.recv(i, server, usize::from(max));
                }
            }
            Op::Shutdown { conn, server, how } => {
                if let Some((_, end)) = self.end(conn, server)
                    && let Some(s) = &end.sock
                {
                    let how = [Shutdown::Read, Shutdown::Write, Shutdown::Both][usize::from(how % 3)];
                    let _ = s.shutdown(how);
                    end.shut_rd |= how != Shutdown::Write;
                    end.stopped = true;
                }
            }
            Op::Close { conn, server } => {
                if let Some((_, end)) = self.end(conn, server)
                    && let Some(s) = end.sock.take()
                {
                    // close_start(): a lingering close() would sleep.
                    drop(s.close_start());
                    end.stopped = true;
                }
            }
            Op::SetOpt { conn, server, opt } => {
                if let Some((_, end)) = self.end(conn, server)
                    && let Some(s) = &end.sock
                {
                    set_opt(s, opt);
                }
            }
            Op::Advance { ms } => {
                self.lab.run_for(u64::from(ms) * 1_000_000);
            }
            Op::Fault(f) => {
                let fault = match f {
                    WireFault::Drop => Fault::Drop,
                    WireFault::Duplicate => Fault::Duplicate,
                    WireFault::Reorder => Fault::Reorder,
                    WireFault::Delay(ms) => Fault::Delay(u64::from(ms) * 1_000_000),
                };
                self.lab.wire.faults.push_back(fault);
            }
        }
    }
}

fn set_opt(s: &TcpSocket, opt: Opt) {
    let int = |level, name, v: i32| {
        let _ = s.setsockopt_int(level, name, v);
    };
    match opt {
        Opt::NoDelay(on) => int(SOL_TCP, TCP_NODELAY, on.into()),
        Opt::Cork(on) => int(SOL_TCP, TCP_CORK, on.into()),
        Opt::QuickAck(on) => int(SOL_TCP, TCP_QUICKACK, on.into()),
        Opt::KeepAlive(on) => int(SOL_SOCKET, SO_KEEPALIVE, on.into()),
        Opt::KeepIdle(v) => int(SOL_TCP, TCP_KEEPIDLE, v.into()),
        Opt::Linger { on, secs } => {
            let mut v = [0u8; 8];
            v[..4].copy_from_slice(&i32::from(on).to_ne_bytes());
            v[4..].copy_from_slice(&i32::from(secs).to_ne_bytes());
            let _ = s.setsockopt(SOL_SOCKET, SO_LINGER, &v);
        }
        Opt::Linger2(v) => int(SOL_TCP, TCP_LINGER2, v.into()),
        Opt::RcvBuf(v) => int(SOL_SOCKET, SO_RCVBUF, v.into()),
        Opt::SndBuf(v) => int(SOL_SOCKET, SO_SNDBUF, v.into()),
        Opt::MaxSeg(v) => int(SOL_TCP, TCP_MAXSEG, v.into()),
        Opt::UserTimeout(v) => int(SOL_TCP, TCP_USER_TIMEOUT, v.into()),
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut run = Run { lab: Lab::new(), conns: Vec::new() };
    let start = run.lab.clock.now_ns();
    for op in ops.into_iter().take(MAX_OPS) {
        if run.lab.clock.now_ns() - start > MAX_VIRTUAL_NS {
            break;
        }
        run.apply(op);
    }
    drain(&mut run);
});

/// Quiet wire: the faults asked for and not used lapse. Then every
/// connection intact at both ends delivers what was sent, in order.
fn drain(run: &mut Run) {
    run.lab.wire.faults.clear();
    for _ in 0..600 {
        run.lab.run_for(1_000_000_000);
        run.accept();
        for i in 0..run.conns.len() {
            for server in [false, true] {
                for _ in 0..64 {
                    let before = run.conns[i].received(server);
                    run.recv(i, server, 65536);
                    if run.conns[i].received(server) == before {
                        break;
                    }
                }
            }
        }
        if run.conns.iter().filter(|c| c.intact()).all(Conn::complete) {
            return;
        }
    }
    for (i, c) in run.conns.iter().enumerate() {
        if c.intact() {
            assert_eq!(c.server.received, c.client.sent, "conn {i}: the client's bytes never all arrived");
            assert_eq!(c.client.received, c.server.sent, "conn {i}: the server's bytes never all arrived");
        }
    }
}

impl Drop for Run {
    /// Close what is still open without sleeping: a `close()` with
    /// `SO_LINGER` on would wait for a clock nobody drives.
    fn drop(&mut self) {
        for c in &mut self.conns {
            for end in [&mut c.client, &mut c.server] {
                if let Some(s) = end.sock.take() {
                    drop(s.close_start());
                }
            }
        }
    }
}
