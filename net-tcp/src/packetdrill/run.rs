//! The runner: one linnet host in virtual time against a script's remote
//! side. See the module documentation in [`super`] for the semantics.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::net_namespace::next_wakeup_ns;
use net_core::netdevice::MacAddr;
use net_core::{Clock, Errno, Net};
use net_ipv4::Ipv4;
use net_ipv4::fib::FibRoute;
use net_ipv4::ip::IpHdr;
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::{ScriptDev, ScriptLinkRef, eth_ipv4_frame};

use super::parse::{
    Direction, Event, EventKind, EventTime, Expr, PacketSpec, Script, SyscallSpec, SysctlWrite, TcpOpt,
};
use crate::af_inet::*;
use crate::tcphdr::{
    TCPHDR_ACK, TCPHDR_CWR, TCPHDR_ECE, TCPHDR_FIN, TCPHDR_PSH, TCPHDR_RST, TCPHDR_SYN, TCPHDR_URG, TcpHdr,
};

/// The host's address (packetdrill's `--local_ip` default).
pub const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
/// The script's remote side (packetdrill's `--remote_ip` default).
pub const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The gateway the host reaches [`REMOTE_IP`] through (`--gateway_ip`).
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 2);
/// The host's MAC.
pub const HOST_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x01];
/// The gateway's MAC, a permanent neighbour entry.
pub const GATEWAY_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x02];
/// `bind(fd, ..., ...)` binds this port, and `connect(fd, ..., ...)`
/// connects to it (packetdrill's `--bind_port` / `--connect_port`).
pub const SCRIPT_PORT: u16 = 8080;
/// The remote side's port when it opens the connection.
pub const REMOTE_PORT: u16 = 40000;
/// Script time 0 on the host's virtual clock (1 s, a whole jiffy).
pub const START_NS: u64 = 1_000_000_000;
/// How long `*` waits for a packet before giving up (virtual).
const ANY_TIME_LIMIT_NS: u64 = 3600 * 1_000_000_000;

const O_RDWR: i64 = 2;
const O_NONBLOCK: i64 = 0x800;
const F_GETFL: i64 = 3;
const F_SETFL: i64 = 4;
const POLLNVAL: u32 = 0x020;

fn symbol(name: &str) -> Option<i64> {
    let v = match name {
        "AF_INET" | "PF_INET" => 2,
        "SOCK_STREAM" => 1,
        "IPPROTO_TCP" => 6,
        "IPPROTO_IP" => 0,
        "SOL_SOCKET" => SOL_SOCKET.into(),
        "SOL_TCP" => SOL_TCP.into(),
        "SO_REUSEADDR" => SO_REUSEADDR.into(),
        "SO_ERROR" => SO_ERROR.into(),
        "SO_SNDBUF" => SO_SNDBUF.into(),
        "SO_RCVBUF" => SO_RCVBUF.into(),
        "SO_KEEPALIVE" => SO_KEEPALIVE.into(),
        "SO_LINGER" => SO_LINGER.into(),
        "SO_REUSEPORT" => SO_REUSEPORT.into(),
        "TCP_NODELAY" => TCP_NODELAY.into(),
        "TCP_CORK" => TCP_CORK.into(),
        "TCP_QUICKACK" => TCP_QUICKACK.into(),
        "TCP_MAXSEG" => TCP_MAXSEG.into(),
        "TCP_SYNCNT" => TCP_SYNCNT.into(),
        "TCP_USER_TIMEOUT" => TCP_USER_TIMEOUT.into(),
        "TCP_LINGER2" => TCP_LINGER2.into(),
        "TCP_KEEPIDLE" => TCP_KEEPIDLE.into(),
        "TCP_KEEPINTVL" => TCP_KEEPINTVL.into(),
        "TCP_KEEPCNT" => TCP_KEEPCNT.into(),
        "F_GETFL" => F_GETFL,
        "F_SETFL" => F_SETFL,
        "O_RDWR" => O_RDWR,
        "O_NONBLOCK" => O_NONBLOCK,
        "POLLIN" => POLLIN.into(),
        "POLLPRI" => POLLPRI.into(),
        "POLLOUT" => POLLOUT.into(),
        "POLLERR" => POLLERR.into(),
        "POLLHUP" => POLLHUP.into(),
        "POLLNVAL" => POLLNVAL.into(),
        "POLLRDNORM" => POLLRDNORM.into(),
        "POLLWRNORM" => POLLWRNORM.into(),
        "POLLRDHUP" => POLLRDHUP.into(),
        "MSG_PEEK" => MSG_PEEK.into(),
        "MSG_DONTWAIT" => MSG_DONTWAIT.into(),
        "MSG_WAITALL" => MSG_WAITALL.into(),
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        _ => return errno_by_name(name).map(|e| i64::from(e.errno())),
    };
    Some(v)
}

fn errno_by_name(name: &str) -> Option<Errno> {
    if name == "EWOULDBLOCK" {
        return Some(Errno::EAGAIN);
    }
    Errno::ALL.iter().copied().find(|e| e.name() == name)
}

fn eval_int(e: &Expr) -> Result<i64, String> {
    match e {
        Expr::Int(n) => Ok(*n),
        Expr::Word(w) => symbol(w).ok_or_else(|| format!("unknown symbol `{w}`")),
        Expr::Or(v) => v.iter().try_fold(0i64, |acc, x| Ok(acc | eval_int(x)?)),
        Expr::List(v) if v.len() == 1 => eval_int(&v[0]),
        other => Err(format!("expected an integer, found `{other}`")),
    }
}

// -- the device ----------------------------------------------------------------------

// (The device is net-ipv4's `ScriptDev`: captured sends, injected receives.)

// -- segments --------------------------------------------------------------------------

/// A TCP segment the host sent, decoded.
struct OutSeg {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
    urg: u16,
    opts: Vec<OptTok>,
    len: usize,
}

/// An option as found on the wire: a known one, or kind and length.
#[derive(Clone, Debug, PartialEq)]
enum OptTok {
    Known(TcpOpt),
    Other(u8, usize),
}

fn flags_str(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (TCPHDR_FIN, 'F'),
        (TCPHDR_SYN, 'S'),
        (TCPHDR_RST, 'R'),
        (TCPHDR_PSH, 'P'),
        (TCPHDR_URG, 'U'),
        (TCPHDR_ECE, 'E'),
        (TCPHDR_CWR, 'W'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    if flags & TCPHDR_ACK != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

fn opt_str(o: &TcpOpt) -> String {
    match o {
        TcpOpt::Nop => "nop".into(),
        TcpOpt::Eol => "eol".into(),
        TcpOpt::Mss(m) => format!("mss {m}"),
        TcpOpt::Wscale(w) => format!("wscale {w}"),
        TcpOpt::SackOk => "sackOK".into(),
        TcpOpt::Sack(b) => {
            let blocks: Vec<String> = b.iter().map(|(l, r)| format!("{l}:{r}")).collect();
            format!("sack {}", blocks.join(" "))
        }
        TcpOpt::Timestamp(v, e) => format!("TS val {v} ecr {e}"),
    }
}

fn opts_str(opts: &[OptTok]) -> String {
    if opts.is_empty() {
        return String::new();
    }
    let v: Vec<String> = opts
        .iter()
        .map(|o| match o {
            OptTok::Known(k) => opt_str(k),
            OptTok::Other(kind, len) => format!("opt{kind}/{len}"),
        })
        .collect();
    format!(" <{}>", v.join(","))
}

fn decode_opts(b: &[u8]) -> Vec<OptTok> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0 => {
                v.push(OptTok::Known(TcpOpt::Eol));
                break;
            }
            1 => {
                v.push(OptTok::Known(TcpOpt::Nop));
                i += 1;
                continue;
            }
            _ => {}
        }
        let kind = b[i];
        let Some(&len) = b.get(i + 1) else {
            v.push(OptTok::Other(kind, 1));
            break;
        };
        let len = len as usize;
        if len < 2 || i + len > b.len() {
            v.push(OptTok::Other(kind, len));
            break;
        }
        let d = &b[i + 2..i + len];
        let be32 = |x: &[u8]| u32::from_be_bytes([x[0], x[1], x[2], x[3]]);
        v.push(match (kind, len) {
            (2, 4) => OptTok::Known(TcpOpt::Mss(u16::from_be_bytes([d[0], d[1]]))),
            (3, 3) => OptTok::Known(TcpOpt::Wscale(d[0])),
            (4, 2) => OptTok::Known(TcpOpt::SackOk),
            (8, 10) => OptTok::Known(TcpOpt::Timestamp(be32(&d[0..4]), be32(&d[4..8]))),
            (5, l) if l >= 10 && (l - 2) % 8 == 0 => {
                OptTok::Known(TcpOpt::Sack(d.chunks(8).map(|c| (be32(&c[0..4]), be32(&c[4..8]))).collect()))
            }
            _ => OptTok::Other(kind, len),
        });
        i += len;
    }
    v
}

fn encode_opts(opts: &[TcpOpt], map_sack: impl Fn(u32) -> u32) -> Vec<u8> {
    let mut b = Vec::new();
    for o in opts {
        match o {
            TcpOpt::Nop => b.push(1),
            TcpOpt::Eol => b.push(0),
            TcpOpt::Mss(m) => {
                b.extend([2, 4]);
                b.extend(m.to_be_bytes());
            }
            TcpOpt::Wscale(w) => b.extend([3, 3, *w]),
            TcpOpt::SackOk => b.extend([4, 2]),
            TcpOpt::Sack(blocks) => {
                b.extend([5, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    b.extend(map_sack(*l).to_be_bytes());
                    b.extend(map_sack(*r).to_be_bytes());
                }
            }
            TcpOpt::Timestamp(v, e) => {
                b.extend([8, 10]);
                b.extend(v.to_be_bytes());
                b.extend(e.to_be_bytes());
            }
        }
    }
    while b.len() % 4 != 0 {
        b.push(0);
    }
    b
}

// -- syscalls in flight ------------------------------------------------------------------

/// A system call that may have to wait: retried after every step of the
/// host until it completes.
enum Op {
    Connect {
        fd: i64,
        addr: SocketAddrV4,
        started: bool,
    },
    Accept {
        fd: i64,
        want_fd: Option<i64>,
    },
    Read {
        fd: i64,
        len: usize,
        flags: i32,
    },
    Write {
        fd: i64,
        len: usize,
        flags: i32,
        done: usize,
    },
    Poll {
        fds: Vec<(i64, u32, Option<i64>)>,
        timeout_ms: i64,
        started_ns: u64,
    },
    /// A lingering `close()` (`SO_LINGER` with a positive time) waiting in
    /// `sk_stream_wait_close()` until the FIN is acked or `deadline_ns`.
    Close {
        closing: Option<TcpClosing>,
        deadline_ns: Option<u64>,
    },
}

struct Pending {
    line: usize,
    spec: SyscallSpec,
    op: Op,
    end_ns: u64,
}

struct FdEntry {
    sock: TcpSocket,
    /// What the script set with `fcntl(F_SETFL)`; the real socket is
    /// always non-blocking and the runner emulates blocking.
    nonblock: bool,
}

/// The ports and sequence offsets of the script's connection.
struct Conn {
    /// The host's port, once known (bind, or its first SYN).
    local_port: Option<u16>,
    /// The remote side's port.
    remote_port: u16,
    /// (script ISN, live ISN) of the host, from its first SYN or SYN-ACK.
    host_isn: Option<(u32, u32)>,
    /// The same for further connections, by the remote side's port (a
    /// script that names ports to run several connections, e.g. against
    /// one listener); each host ISN is learnt from that connection's
    /// first SYN-ACK.
    other_isns: Vec<(u16, (u32, u32))>,
    /// Remote ports on which the script injected a SYN without ACK after
    /// the host's ISN was known: the host's next SYN there (a SYN-ACK of a
    /// new incarnation of the 4-tuple) re-anchors its ISN, as packetdrill
    /// starts a new socket for each injected SYN.
    resync: Vec<u16>,
    /// The host's TSval minus the script's `TS val`, from the first host
    /// segment whose script line gives one: an injected segment's nonzero
    /// `ecr` is in the script's clock and has this added, so `ecr 100`
    /// echoes what the host sent 100 ms after the segment the script
    /// wrote as `TS val 0` (our host's timestamp clock ticks in ms).
    ts_offset: Option<u32>,
}

impl Conn {
    fn isn_for(&self, rport: u16) -> Option<(u32, u32)> {
        if rport == self.remote_port {
            return self.host_isn;
        }
        self.other_isns.iter().find(|(p, _)| *p == rport).map(|(_, i)| *i)
    }
    fn knows_isn(&self, rport: u16) -> bool {
        if rport == self.remote_port {
            self.host_isn.is_some()
        } else {
            self.other_isns.iter().any(|(p, _)| *p == rport)
        }
    }
    fn host_to_script_p(&self, live: u32, rport: u16) -> u32 {
        match self.isn_for(rport) {
            Some((s, l)) => live.wrapping_sub(l).wrapping_add(s),
            None => live,
        }
    }
    fn host_to_live_p(&self, script: u32, rport: u16) -> u32 {
        match self.isn_for(rport) {
            Some((s, l)) => script.wrapping_sub(s).wrapping_add(l),
            None => script,
        }
    }
    #[cfg(test)]
    fn host_to_script(&self, live: u32) -> u32 {
        match self.host_isn {
            Some((s, l)) => live.wrapping_sub(l).wrapping_add(s),
            None => live,
        }
    }
    #[cfg(test)]
    fn host_to_live(&self, script: u32) -> u32 {
        match self.host_isn {
            Some((s, l)) => script.wrapping_sub(s).wrapping_add(l),
            None => script,
        }
    }
}

// -- the runner ----------------------------------------------------------------------------

pub(super) struct Runner<'a> {
    path: &'a str,
    script: &'a Script,
    tol_ns: u64,
    clock: Clock,
    net: Arc<Net>,
    dev: ScriptLinkRef,
    /// Host frames not yet matched, with their times.
    outq: VecDeque<(u64, Vec<u8>)>,
    fds: BTreeMap<i64, FdEntry>,
    pending: Option<Pending>,
    conn: Conn,
    /// Everything that happened, for failure reports.
    trace: Vec<Trace>,
}

/// One line of a failure report's history: text, or a frame the host sent,
/// printed when the report is written (the host's ISN may be learnt after
/// the frame was captured).
enum Trace {
    Text(String),
    Frame(u64, Vec<u8>),
}

type Fail = String;

impl<'a> Runner<'a> {
    pub(super) fn new(path: &'a str, script: &'a Script) -> Result<Runner<'a>, Fail> {
        let clock = Clock::new_virtual_at(START_NS);
        let net = Net::new("packetdrill", clock.clone(), 0x5eed);
        crate::af_inet::inet_init(&net);
        let ipv4 = Ipv4::of(&net);
        let (script_dev, shared) = ScriptDev::new(&clock, HOST_MAC);
        let dev =
            net.register_netdev(Box::new(script_dev)).map_err(|e| format!("{path}: register eth0: {e}"))?;
        dev.open().map_err(|e| format!("{path}: open eth0: {e}"))?;
        net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, LOCAL_IP, 24)
            .map_err(|e| format!("{path}: ip addr add: {e}"))?;
        ipv4.arp_tbl
            .neigh_add(&net, dev.ifindex, GATEWAY_IP, GATEWAY_MAC, NudState::Permanent)
            .map_err(|e| format!("{path}: ip neigh add: {e}"))?;
        ipv4.fib
            .fib_table_insert(FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(GATEWAY_IP), dev.ifindex))
            .map_err(|e| format!("{path}: ip route add default: {e}"))?;
        while net.poll() > 0 {}
        // Gratuitous ARPs and the like from setup are not the script's business.
        shared.lock().unwrap_or_else(|e| e.into_inner()).tx.clear();
        Ok(Runner {
            path,
            script,
            tol_ns: script.tolerance_usecs * 1000,
            clock,
            net,
            dev: shared,
            outq: VecDeque::new(),
            fds: BTreeMap::new(),
            pending: None,
            conn: Conn {
                local_port: None,
                remote_port: REMOTE_PORT,
                host_isn: None,
                other_isns: Vec::new(),
                resync: Vec::new(),
                ts_offset: None,
            },
            trace: Vec::new(),
        })
    }

    fn now(&self) -> u64 {
        self.clock.now_ns()
    }

    fn ts(ns: u64) -> String {
        let us = ns.saturating_sub(START_NS) / 1000;
        format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
    }

    fn fail(&self, line: usize, msg: impl AsRef<str>) -> Fail {
        let tail: Vec<String> = self
            .trace
            .iter()
            .rev()
            .take(25)
            .map(|t| match t {
                Trace::Text(s) => s.clone(),
                Trace::Frame(at, f) => format!("{} {}", Self::ts(*at), self.describe_frame(f)),
            })
            .collect();
        let mut s = format!("{}:{}: {}", self.path, line, msg.as_ref());
        if !tail.is_empty() {
            s.push_str("\n  what happened (virtual time, script syntax):");
            for l in tail.into_iter().rev() {
                s.push_str("\n    ");
                s.push_str(&l);
            }
        }
        s
    }

    pub(super) fn run(mut self) -> Result<(), Fail> {
        let mut last_ns = START_NS;
        let script = self.script;
        for ev in &script.events {
            last_ns = self.event(ev, last_ns)?;
        }
        // The tail: packetdrill stops at the last event; we let the host run
        // one tolerance longer so an immediate answer to the last event
        // (an ACK, a RST) cannot slip by unchecked.
        let end = self.now() + self.tol_ns;
        let last_line = script.events.last().map_or(1, |e| e.line);
        self.run_host(end, false).map_err(|(l, m)| self.fail(l.unwrap_or(last_line), m))?;
        if let Some(p) = &self.pending {
            return Err(self.fail(p.line, format!("`{}` never returned", p.spec.name)));
        }
        if let Some((t, frame)) = self.outq.front() {
            let s = self.describe_frame(frame);
            return Err(
                self.fail(last_line, format!("unexpected packet after the last event: {} {s}", Self::ts(*t)))
            );
        }
        Ok(())
    }

    fn event(&mut self, ev: &Event, last_ns: u64) -> Result<u64, Fail> {
        let us = |u: u64| u * 1000;
        let (lo, hi) = match ev.time {
            EventTime::Absolute(t) => (START_NS + us(t), START_NS + us(t)),
            EventTime::Relative(t) => (last_ns + us(t), last_ns + us(t)),
            EventTime::Any => (0, u64::MAX),
            EventTime::AbsoluteRange(a, b) => (START_NS + us(a), START_NS + us(b)),
            EventTime::RelativeRange(a, b) => (last_ns + us(a), last_ns + us(b)),
        };
        match &ev.kind {
            EventKind::Packet(p) if p.dir == Direction::Outbound => self.outbound(ev, p, lo, hi),
            kind => {
                if lo + self.tol_ns < self.now() {
                    return Err(self.fail(
                        ev.line,
                        format!("event time {} is already past (now {})", Self::ts(lo), Self::ts(self.now())),
                    ));
                }
                self.run_host(lo, false).map_err(|(l, m)| self.fail(l.unwrap_or(ev.line), m))?;
                let at = self.now();
                match kind {
                    EventKind::Packet(p) => self.inbound(ev, p)?,
                    EventKind::Syscall(s) => {
                        let anchor = match ev.time {
                            EventTime::Absolute(_) => START_NS,
                            _ => last_ns,
                        };
                        self.syscall(ev, s, anchor)?
                    }
                    EventKind::Sysctl(writes) => self.sysctl(ev, writes)?,
                }
                self.run_host(at, false).map_err(|(l, m)| self.fail(l.unwrap_or(ev.line), m))?;
                Ok(at)
            }
        }
    }

    /// A backtick `sysctl -q name=value` command: write each value into the
    /// host namespace's table, as `sysctl(8)` writes `/proc/sys`. An
    /// unknown name or a refused value fails the script with sysctl's
    /// own words.
    fn sysctl(&mut self, ev: &Event, writes: &[SysctlWrite]) -> Result<(), Fail> {
        for w in writes {
            self.trace.push(Trace::Text(format!(
                "{} `sysctl -q {}={}`   (line {})",
                Self::ts(self.now()),
                w.name,
                w.value,
                ev.line
            )));
            self.net.sysctl.set(&w.name, &w.value).map_err(|e| self.fail(ev.line, e.to_string()))?;
        }
        Ok(())
    }

    /// Let the host run until `target` (virtual ns): poll, collect what it
    /// sends, retry a blocked call, jump the clock to the next timer.
    /// With `stop_on_frame`, return as soon as a frame is waiting.
    fn run_host(&mut self, target: u64, stop_on_frame: bool) -> Result<(), (Option<usize>, String)> {
        loop {
            self.settle()?;
            if stop_on_frame && !self.outq.is_empty() {
                return Ok(());
            }
            let now = self.now();
            if now >= target {
                return Ok(());
            }
            let mut next = self.net.next_event_ns();
            if let Some(Pending { op: Op::Poll { timeout_ms, started_ns, .. }, .. }) = &self.pending
                && *timeout_ms > 0
            {
                let d = started_ns + (*timeout_ms as u64) * 1_000_000;
                next = Some(next.map_or(d, |n| n.min(d)));
            }
            if let Some(Pending { op: Op::Close { deadline_ns: Some(d), .. }, .. }) = &self.pending {
                next = Some(next.map_or(*d, |n| n.min(*d)));
            }
            let wake = match next {
                Some(e) => next_wakeup_ns(now, e).min(target),
                None => target,
            };
            self.clock.set_ns(wake);
        }
    }

    /// Poll until the host is idle at this instant.
    fn settle(&mut self) -> Result<(), (Option<usize>, String)> {
        for _ in 0..100_000 {
            let work = self.net.poll();
            let sent = self.collect();
            let done = self.retry_pending()?;
            if work == 0 && sent == 0 && !done {
                return Ok(());
            }
        }
        Err((None, "the host never went idle".into()))
    }

    fn collect(&mut self) -> usize {
        let frames = std::mem::take(&mut self.dev.lock().unwrap_or_else(|e| e.into_inner()).tx);
        let mut n = 0;
        for (t, f) in frames {
            // ARP is the host's own business with the (silent) gateway.
            if f.len() >= 14 && f[12..14] == [0x08, 0x06] {
                continue;
            }
            self.trace.push(Trace::Frame(t, f.clone()));
            self.outq.push_back((t, f));
            n += 1;
        }
        n
    }

    // -- packets ---------------------------------------------------------------------------

    fn decode(&self, f: &[u8]) -> Result<OutSeg, String> {
        if f.len() < 14 || f[12..14] != [0x08, 0x00] {
            return Err(format!("a non-IPv4 frame ({} bytes)", f.len()));
        }
        let ip = IpHdr::new_checked(&f[14..]).ok_or("a malformed IPv4 packet")?;
        if !ip.verify_checksum() {
            return Err("an IPv4 packet with a bad header checksum".into());
        }
        if ip.protocol() == 1 && ip.payload().len() >= 2 {
            let (t, c) = (ip.payload()[0], ip.payload()[1]);
            return Err(format!("an ICMP message (type {t}, code {c}) to {}", ip.daddr()));
        }
        if ip.protocol() != 6 {
            return Err(format!("an IPv4 packet of protocol {} to {}", ip.protocol(), ip.daddr()));
        }
        if ip.saddr() != LOCAL_IP || ip.daddr() != REMOTE_IP {
            return Err(format!("a TCP segment {} > {}", ip.saddr(), ip.daddr()));
        }
        let th = TcpHdr::new_checked(ip.payload()).ok_or("a malformed TCP header")?;
        if !th.verify_checksum(ip.saddr(), ip.daddr()) {
            return Err("a TCP segment with a bad checksum".into());
        }
        Ok(OutSeg {
            sport: th.source(),
            dport: th.dest(),
            seq: th.seq(),
            ack: th.ack_seq(),
            flags: th.flags(),
            win: th.window(),
            urg: th.urg_ptr(),
            opts: decode_opts(th.options()),
            len: th.payload().len(),
        })
    }

    fn seg_str(&self, s: &OutSeg) -> String {
        let seq = self.conn.host_to_script_p(s.seq, s.dport);
        let mut out = format!(
            "> {}{} {}:{}({})",
            self.port_str(s.sport, s.dport),
            flags_str(s.flags),
            seq,
            seq.wrapping_add(s.len as u32),
            s.len
        );
        if s.flags & TCPHDR_ACK != 0 {
            out.push_str(&format!(" ack {}", s.ack));
        }
        out.push_str(&format!(" win {}", s.win));
        if s.urg != 0 {
            out.push_str(&format!(" urg {}", s.urg));
        }
        out.push_str(&opts_str(&s.opts));
        out
    }

    fn port_str(&self, sport: u16, dport: u16) -> String {
        let expected = (self.conn.local_port.unwrap_or(sport), self.conn.remote_port);
        if (sport, dport) == expected { String::new() } else { format!("{sport}>{dport} ") }
    }

    fn describe_frame(&self, f: &[u8]) -> String {
        match self.decode(f) {
            Ok(s) => self.seg_str(&s),
            Err(e) => format!("> {e}"),
        }
    }

    fn spec_str(p: &PacketSpec) -> String {
        let mut s = format!(
            "{} {}{} {}:{}({})",
            if p.dir == Direction::Inbound { '<' } else { '>' },
            p.ports.map_or(String::new(), |(a, b)| format!("{a}>{b} ")),
            flags_str(p.flags),
            p.seq,
            p.seq.wrapping_add(u32::from(p.len)),
            p.len
        );
        if let Some(a) = p.ack {
            s.push_str(&format!(" ack {a}"));
        }
        if let Some(w) = p.win {
            s.push_str(&format!(" win {w}"));
        }
        if let Some(u) = p.urg {
            s.push_str(&format!(" urg {u}"));
        }
        match &p.options {
            None => s.push_str(" <...>"),
            Some(o) if o.is_empty() => {}
            Some(o) => s.push_str(&format!(" <{}>", o.iter().map(opt_str).collect::<Vec<_>>().join(","))),
        }
        s
    }

    fn inbound(&mut self, ev: &Event, p: &PacketSpec) -> Result<(), Fail> {
        let (sport, dport) =
            p.ports.unwrap_or((self.conn.remote_port, self.conn.local_port.unwrap_or(SCRIPT_PORT)));
        let ack = match p.ack {
            Some(a) => self.conn.host_to_live_p(a, sport),
            None => 0,
        };
        let conn = &self.conn;
        let ts_offset = conn.ts_offset.unwrap_or(0);
        let live: Vec<TcpOpt> = p
            .options
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|o| match o {
                TcpOpt::Timestamp(v, e) if *e != 0 => TcpOpt::Timestamp(*v, e.wrapping_add(ts_offset)),
                o => o.clone(),
            })
            .collect();
        let opts = encode_opts(&live, |s| conn.host_to_live_p(s, sport));
        if opts.len() > 40 {
            return Err(self.fail(ev.line, "TCP options longer than 40 bytes"));
        }
        let thlen = 20 + opts.len();
        let mut frame =
            eth_ipv4_frame(HOST_MAC, GATEWAY_MAC, REMOTE_IP, LOCAL_IP, 6, thlen + usize::from(p.len));
        for (i, b) in frame[34 + thlen..].iter_mut().enumerate() {
            *b = b'a' + (i % 26) as u8;
        }
        // The view checks `doff` against the buffer: set it first.
        frame[34 + 12] = ((thlen / 4) as u8) << 4;
        let mut th = TcpHdr::new_checked(&mut frame[34..]).ok_or_else(|| self.fail(ev.line, "TCP header"))?;
        th.set_source(sport);
        th.set_dest(dport);
        th.set_seq(p.seq);
        th.set_ack_seq(ack);
        th.set_doff((thlen / 4) as u8);
        th.set_flags(p.flags);
        th.set_window(p.win.unwrap_or(0));
        th.set_urg_ptr(p.urg.unwrap_or(0));
        th.options_mut().copy_from_slice(&opts);
        th.fill_checksum(REMOTE_IP, LOCAL_IP);
        self.trace.push(Trace::Text(format!(
            "{} {}   (line {})",
            Self::ts(self.now()),
            Self::spec_str(p),
            ev.line
        )));
        self.dev.lock().unwrap_or_else(|e| e.into_inner()).rx.push_back(frame);
        if p.flags & (TCPHDR_SYN | TCPHDR_ACK) == TCPHDR_SYN
            && self.conn.knows_isn(sport)
            && !self.conn.resync.contains(&sport)
        {
            self.conn.resync.push(sport);
        }
        Ok(())
    }

    fn outbound(&mut self, ev: &Event, p: &PacketSpec, lo: u64, hi: u64) -> Result<u64, Fail> {
        let deadline =
            if hi == u64::MAX { self.now().saturating_add(ANY_TIME_LIMIT_NS) } else { hi + self.tol_ns };
        self.run_host(deadline, true).map_err(|(l, m)| self.fail(l.unwrap_or(ev.line), m))?;
        let want = Self::spec_str(p);
        let Some((t, frame)) = self.outq.pop_front() else {
            let when = if hi == u64::MAX {
                "at any time".to_string()
            } else if lo == hi {
                format!("at {} (±{} µs)", Self::ts(lo), self.script.tolerance_usecs)
            } else {
                format!("between {} and {} (±{} µs)", Self::ts(lo), Self::ts(hi), self.script.tolerance_usecs)
            };
            return Err(self.fail(
                ev.line,
                format!("expected `{want}` {when}, but the host sent nothing by {}", Self::ts(self.now())),
            ));
        };
        let seg = match self.decode(&frame) {
            Ok(s) => s,
            Err(e) => {
                return Err(self
                    .fail(ev.line, format!("expected `{want}`, but at {} the host sent {e}", Self::ts(t))));
            }
        };
        // The host's ISN: its first SYN (or its first after a new
        // incarnation's SYN was injected).
        if seg.flags & TCPHDR_SYN != 0 && self.conn.resync.contains(&seg.dport) {
            self.conn.resync.retain(|&x| x != seg.dport);
            if seg.dport == self.conn.remote_port {
                self.conn.host_isn = None;
            } else {
                self.conn.other_isns.retain(|(x, _)| *x != seg.dport);
            }
        }
        if seg.flags & TCPHDR_SYN != 0 && !self.conn.knows_isn(seg.dport) {
            if seg.dport == self.conn.remote_port {
                self.conn.host_isn = Some((p.seq, seg.seq));
            } else {
                self.conn.other_isns.push((seg.dport, (p.seq, seg.seq)));
            }
            if self.conn.local_port.is_none() {
                self.conn.local_port = Some(seg.sport);
            }
        }
        let mut diffs = Vec::new();
        let (want_sport, want_dport) = match p.ports {
            Some((a, b)) => (Some(a), b),
            None => (self.conn.local_port, self.conn.remote_port),
        };
        if want_sport.is_some_and(|s| s != seg.sport) || want_dport != seg.dport {
            diffs.push(format!(
                "ports {}>{} (expected {}>{})",
                seg.sport,
                seg.dport,
                want_sport.map_or("*".into(), |s| s.to_string()),
                want_dport
            ));
        }
        if seg.flags != p.flags {
            diffs.push(format!("flags {} (expected {})", flags_str(seg.flags), flags_str(p.flags)));
        }
        let seq = self.conn.host_to_script_p(seg.seq, seg.dport);
        if seq != p.seq {
            diffs.push(format!("seq {seq} (expected {})", p.seq));
        }
        if seg.len != usize::from(p.len) {
            diffs.push(format!("payload {} bytes (expected {})", seg.len, p.len));
        }
        if let Some(a) = p.ack
            && (seg.flags & TCPHDR_ACK == 0 || seg.ack != a)
        {
            diffs.push(format!("ack {} (expected {a})", seg.ack));
        }
        if let Some(w) = p.win
            && seg.win != w
        {
            diffs.push(format!("win {} (expected {w})", seg.win));
        }
        if let Some(u) = p.urg
            && seg.urg != u
        {
            diffs.push(format!("urg {} (expected {u})", seg.urg));
        }
        if let Some(opts) = &p.options {
            if self.conn.ts_offset.is_none() {
                let val = |o: &OptTok| match o {
                    OptTok::Known(TcpOpt::Timestamp(v, _)) => Some(*v),
                    _ => None,
                };
                let script_val = opts.iter().find_map(|o| match o {
                    TcpOpt::Timestamp(v, _) => Some(*v),
                    _ => None,
                });
                if let (Some(s), Some(a)) = (script_val, seg.opts.iter().find_map(val)) {
                    self.conn.ts_offset = Some(a.wrapping_sub(s));
                }
            }
            // TS val is the host's clock: any value matches, as in packetdrill.
            let norm = |o: &OptTok| match o {
                OptTok::Known(TcpOpt::Timestamp(_, e)) => OptTok::Known(TcpOpt::Timestamp(0, *e)),
                o => o.clone(),
            };
            let want: Vec<OptTok> = opts.iter().cloned().map(OptTok::Known).map(|o| norm(&o)).collect();
            let got: Vec<OptTok> = seg.opts.iter().map(norm).collect();
            if want != got {
                let w = opts_str(&opts.iter().cloned().map(OptTok::Known).collect::<Vec<_>>());
                diffs.push(format!(
                    "options{} (expected{})",
                    if seg.opts.is_empty() { " none".to_string() } else { opts_str(&seg.opts) },
                    if w.is_empty() { " none".to_string() } else { w }
                ));
            }
        }
        let actual = self.seg_str(&seg);
        if !diffs.is_empty() {
            return Err(self.fail(
                ev.line,
                format!(
                    "outbound packet mismatch: {}\n  expected: {want}\n  actual:   {} {actual}",
                    diffs.join("; "),
                    Self::ts(t)
                ),
            ));
        }
        if hi != u64::MAX && (t + self.tol_ns < lo || t > hi + self.tol_ns) {
            let when = if lo == hi {
                format!("at {}", Self::ts(lo))
            } else {
                format!("between {} and {}", Self::ts(lo), Self::ts(hi))
            };
            return Err(self.fail(
                ev.line,
                format!(
                    "`{actual}` left at {}, expected {when} (±{} µs): {} by {:.3} ms",
                    Self::ts(t),
                    self.script.tolerance_usecs,
                    if t < lo { "early" } else { "late" },
                    (if t < lo { lo - t } else { t - hi }) as f64 / 1e6
                ),
            ));
        }
        Ok(t)
    }

    // -- system calls ------------------------------------------------------------------------

    fn fd_arg(&self, line: usize, e: Option<&Expr>) -> Result<i64, Fail> {
        let fd = e
            .ok_or_else(|| self.fail(line, "missing fd argument"))
            .and_then(|e| eval_int(e).map_err(|m| self.fail(line, m)))?;
        if self.fds.contains_key(&fd) { Ok(fd) } else { Err(self.fail(line, format!("fd {fd} is not open"))) }
    }

    fn int_arg(&self, line: usize, s: &SyscallSpec, i: usize, what: &str) -> Result<i64, Fail> {
        let e = s.args.get(i).ok_or_else(|| self.fail(line, format!("`{}` needs {what}", s.name)))?;
        eval_int(e).map_err(|m| self.fail(line, format!("{what}: {m}")))
    }

    fn sockaddr_arg(
        &self,
        line: usize,
        e: Option<&Expr>,
        default: SocketAddrV4,
    ) -> Result<SocketAddrV4, Fail> {
        let bad = || {
            self.fail(
                line,
                "expected `...` or {sa_family=AF_INET, sin_port=htons(P), sin_addr=inet_addr(\"A\")}",
            )
        };
        match e {
            None | Some(Expr::Ellipsis) => Ok(default),
            Some(Expr::Brace(fields)) => {
                let mut port = None;
                let mut addr = None;
                for f in fields {
                    match f {
                        Expr::Assign(n, v) if n == "sa_family" => {
                            if **v != Expr::Word("AF_INET".into()) {
                                return Err(bad());
                            }
                        }
                        Expr::Assign(n, v) if n == "sin_port" => match &**v {
                            Expr::Call(h, a) if h == "htons" && a.len() == 1 => {
                                port = Some(eval_int(&a[0]).map_err(|_| bad())? as u16)
                            }
                            _ => return Err(bad()),
                        },
                        Expr::Assign(n, v) if n == "sin_addr" => match &**v {
                            Expr::Call(h, a) if h == "inet_addr" && a.len() == 1 => match &a[0] {
                                Expr::Str(s) => addr = Some(s.parse::<Ipv4Addr>().map_err(|_| bad())?),
                                _ => return Err(bad()),
                            },
                            _ => return Err(bad()),
                        },
                        _ => return Err(bad()),
                    }
                }
                Ok(SocketAddrV4::new(addr.ok_or_else(bad)?, port.ok_or_else(bad)?))
            }
            _ => Err(bad()),
        }
    }

    fn syscall(&mut self, ev: &Event, s: &SyscallSpec, anchor: u64) -> Result<(), Fail> {
        let line = ev.line;
        self.trace.push(Trace::Text(format!("{} {}(...)   (line {line})", Self::ts(self.now()), s.name)));
        if let Some(p) = &self.pending {
            return Err(self.fail(
                line,
                format!("`{}` cannot start: `{}` from line {} is still blocked", s.name, p.spec.name, p.line),
            ));
        }
        let end_ns = s.end_usecs.map(|e| anchor + e * 1000);
        let blocking_fd = |r: &Self, fd: i64| !r.fds[&fd].nonblock;
        let op = match s.name.as_str() {
            "socket" => {
                let ty = self.int_arg(line, s, 1, "a type")?;
                let proto = self.int_arg(line, s, 2, "a protocol")?;
                if !matches!(s.args.first(), Some(Expr::Ellipsis))
                    && self.int_arg(line, s, 0, "a domain")? != 2
                {
                    return Err(self.fail(line, "only AF_INET sockets are supported"));
                }
                if ty != 1 || (proto != 6 && proto != 0) {
                    return Err(self.fail(line, "only socket(..., SOCK_STREAM, IPPROTO_TCP) is supported"));
                }
                let r = TcpSocket::new(&self.net).inspect(|sock| sock.set_nonblocking(true));
                let r = match r {
                    Ok(sock) => {
                        let fd = self.want_fd(&s.result);
                        self.fds.insert(fd, FdEntry { sock, nonblock: false });
                        Ok(fd)
                    }
                    Err(e) => Err(e),
                };
                return self.check(line, s, r, None);
            }
            "bind" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let addr =
                    self.sockaddr_arg(line, s.args.get(1), SocketAddrV4::new(LOCAL_IP, SCRIPT_PORT))?;
                let r = self.fds[&fd].sock.bind(addr).map(|()| 0);
                if r.is_ok() {
                    self.conn.local_port = Some(addr.port());
                }
                return self.check(line, s, r, None);
            }
            "listen" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let backlog = self.int_arg(line, s, 1, "a backlog")?;
                let r = self.fds[&fd].sock.listen(backlog as i32).map(|()| 0);
                return self.check(line, s, r, None);
            }
            "connect" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let addr =
                    self.sockaddr_arg(line, s.args.get(1), SocketAddrV4::new(REMOTE_IP, SCRIPT_PORT))?;
                self.conn.remote_port = addr.port();
                Op::Connect { fd, addr, started: false }
            }
            "accept" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let want_fd = match &s.result {
                    Expr::Int(n) if *n >= 0 => Some(*n),
                    _ => None,
                };
                Op::Accept { fd, want_fd }
            }
            "read" | "recv" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let len = self.int_arg(line, s, 2, "a length")? as usize;
                let flags = if s.name == "recv" { self.int_arg(line, s, 3, "flags")? as i32 } else { 0 };
                Op::Read { fd, len, flags }
            }
            "write" | "send" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let len = self.int_arg(line, s, 2, "a length")? as usize;
                let flags = if s.name == "send" { self.int_arg(line, s, 3, "flags")? as i32 } else { 0 };
                Op::Write { fd, len, flags, done: 0 }
            }
            "poll" => {
                let Some(Expr::List(entries)) = s.args.first() else {
                    return Err(self.fail(line, "poll needs [{fd=N, events=..., revents=...}, ...]"));
                };
                let mut fds = Vec::new();
                for e in entries {
                    let Expr::Brace(fields) = e else {
                        return Err(self.fail(line, "poll entries are {fd=N, events=..., revents=...}"));
                    };
                    let (mut fd, mut events, mut revents) = (None, 0u32, None);
                    for f in fields {
                        match f {
                            Expr::Assign(n, v) if n == "fd" => {
                                fd = Some(eval_int(v).map_err(|m| self.fail(line, m))?)
                            }
                            Expr::Assign(n, v) if n == "events" => {
                                events = eval_int(v).map_err(|m| self.fail(line, m))? as u32
                            }
                            Expr::Assign(n, v) if n == "revents" => {
                                revents = Some(eval_int(v).map_err(|m| self.fail(line, m))?)
                            }
                            other => return Err(self.fail(line, format!("unexpected `{other}` in a pollfd"))),
                        }
                    }
                    let fd = fd.ok_or_else(|| self.fail(line, "pollfd without fd"))?;
                    fds.push((fd, events, revents));
                }
                let timeout_ms = self.int_arg(line, s, 2, "a timeout")?;
                Op::Poll { fds, timeout_ms, started_ns: self.now() }
            }
            "close" => {
                // Linux's close() lingers whatever O_NONBLOCK says
                // (inet_release() looks only at SOCK_LINGER).
                let fd = self.fd_arg(line, s.args.first())?;
                let e = self.fds.remove(&fd).expect("checked by fd_arg");
                let closing = e.sock.close_start();
                let deadline_ns = closing.linger_ns().map(|l| self.now().saturating_add(l));
                Op::Close { closing: Some(closing), deadline_ns }
            }
            "shutdown" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let how = match self.int_arg(line, s, 1, "how")? {
                    0 => Shutdown::Read,
                    1 => Shutdown::Write,
                    2 => Shutdown::Both,
                    n => return Err(self.fail(line, format!("bad shutdown how {n}"))),
                };
                let r = self.fds[&fd].sock.shutdown(how).map(|()| 0);
                return self.check(line, s, r, None);
            }
            "fcntl" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let cmd = self.int_arg(line, s, 1, "a command")?;
                let r = match cmd {
                    F_GETFL => Ok(O_RDWR | if self.fds[&fd].nonblock { O_NONBLOCK } else { 0 }),
                    F_SETFL => {
                        let fl = self.int_arg(line, s, 2, "flags")?;
                        self.fds.get_mut(&fd).expect("checked").nonblock = fl & O_NONBLOCK != 0;
                        Ok(0)
                    }
                    _ => return Err(self.fail(line, "only fcntl F_GETFL and F_SETFL are supported")),
                };
                return self.check(line, s, r, None);
            }
            "setsockopt" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let level = self.int_arg(line, s, 1, "a level")? as i32;
                let name = self.int_arg(line, s, 2, "an option name")? as i32;
                let sock = &self.fds[&fd].sock;
                let r = match s.args.get(3) {
                    Some(Expr::Brace(fields)) => {
                        let mut onoff = None;
                        let mut linger = None;
                        for f in fields {
                            match f {
                                Expr::Assign(n, v) if n == "onoff" => onoff = eval_int(v).ok(),
                                Expr::Assign(n, v) if n == "linger" => linger = eval_int(v).ok(),
                                _ => {}
                            }
                        }
                        let (Some(on), Some(l)) = (onoff, linger) else {
                            return Err(self.fail(line, "expected {onoff=N, linger=N}"));
                        };
                        let mut b = Vec::with_capacity(8);
                        b.extend((on as i32).to_ne_bytes());
                        b.extend((l as i32).to_ne_bytes());
                        sock.setsockopt(level, name, &b)
                    }
                    Some(e) => {
                        let v = eval_int(e).map_err(|m| self.fail(line, m))?;
                        sock.setsockopt_int(level, name, v as i32)
                    }
                    None => return Err(self.fail(line, "setsockopt needs a value")),
                };
                return self.check(line, s, r.map(|()| 0), None);
            }
            "getsockopt" => {
                let fd = self.fd_arg(line, s.args.first())?;
                let level = self.int_arg(line, s, 1, "a level")? as i32;
                let name = self.int_arg(line, s, 2, "an option name")? as i32;
                let r = self.fds[&fd].sock.getsockopt_int(level, name);
                if let (Ok(v), Some(e)) = (&r, s.args.get(3))
                    && !matches!(e, Expr::Ellipsis)
                {
                    let want = eval_int(e).map_err(|m| self.fail(line, m))?;
                    if i64::from(*v) != want {
                        return Err(self.fail(line, format!("getsockopt value {v}, expected {want} (`{e}`)")));
                    }
                }
                return self.check(line, s, r.map(|_| 0), None);
            }
            other => return Err(self.fail(line, format!("unsupported system call `{other}`"))),
        };
        let blocking = match &op {
            Op::Connect { fd, .. } | Op::Accept { fd, .. } | Op::Read { fd, .. } | Op::Write { fd, .. } => {
                blocking_fd(self, *fd)
            }
            Op::Poll { timeout_ms, .. } => *timeout_ms != 0,
            Op::Close { .. } => true,
        };
        let mut op = op;
        match self.try_op(&mut op, blocking) {
            Some((r, revents)) => {
                if let Some(end) = end_ns
                    && self.now() + self.tol_ns < end
                {
                    return Err(self.fail(
                        line,
                        format!(
                            "`{}` returned at once ({}), expected to block until {}",
                            s.name,
                            Self::ts(self.now()),
                            Self::ts(end)
                        ),
                    ));
                }
                self.check(line, s, r, revents)
            }
            None => {
                let Some(end_ns) = end_ns else {
                    return Err(self.fail(
                        line,
                        format!(
                            "`{}` would block: give a blocking call an end time (`+0...0.5 {}(...)`), or make the socket non-blocking",
                            s.name, s.name
                        ),
                    ));
                };
                self.pending = Some(Pending { line, spec: s.clone(), op, end_ns });
                Ok(())
            }
        }
    }

    fn want_fd(&self, result: &Expr) -> i64 {
        match result {
            Expr::Int(n) if *n >= 0 && !self.fds.contains_key(n) => *n,
            _ => (3..).find(|n| !self.fds.contains_key(n)).expect("a free fd"),
        }
    }

    /// Try `op` once. `None`: it would block (only when `blocking`).
    #[allow(clippy::type_complexity)]
    fn try_op(&mut self, op: &mut Op, blocking: bool) -> Option<(Result<i64, Errno>, Option<Vec<i64>>)> {
        let r = match op {
            Op::Connect { fd, addr, started } => {
                let r = self.fds[fd].sock.connect(*addr);
                if !*started {
                    match r {
                        Err(Errno::EINPROGRESS) if blocking => {
                            *started = true;
                            return None;
                        }
                        r => r.map(|()| 0),
                    }
                } else {
                    match r {
                        Err(Errno::EALREADY) | Err(Errno::EINPROGRESS) => return None,
                        Ok(()) | Err(Errno::EISCONN) => Ok(0),
                        Err(e) => Err(e),
                    }
                }
            }
            Op::Accept { fd, want_fd } => match self.fds[fd].sock.accept() {
                Ok((sock, _peer)) => {
                    sock.set_nonblocking(true);
                    let n = match want_fd {
                        Some(n) if !self.fds.contains_key(n) => *n,
                        _ => (3..).find(|n| !self.fds.contains_key(n)).expect("a free fd"),
                    };
                    self.fds.insert(n, FdEntry { sock, nonblock: false });
                    Ok(n)
                }
                Err(Errno::EAGAIN) if blocking => return None,
                Err(e) => Err(e),
            },
            Op::Read { fd, len, flags } => {
                let mut buf = vec![0u8; *len];
                match self.fds[fd].sock.recv_flags(&mut buf, *flags | MSG_DONTWAIT) {
                    Err(Errno::EAGAIN) if blocking && *flags & MSG_DONTWAIT == 0 => return None,
                    r => r.map(|n| n as i64),
                }
            }
            Op::Write { fd, len, flags, done } => {
                let buf = vec![b'x'; *len];
                loop {
                    match self.fds[fd].sock.send_flags(&buf[*done..], *flags | MSG_DONTWAIT) {
                        Ok(n) => {
                            *done += n;
                            if *done == *len {
                                break Ok(*len as i64);
                            }
                            if n == 0 {
                                if blocking {
                                    return None;
                                }
                                break Ok(*done as i64);
                            }
                        }
                        Err(Errno::EAGAIN) if blocking && *flags & MSG_DONTWAIT == 0 => return None,
                        Err(_) if *done > 0 => break Ok(*done as i64),
                        Err(e) => break Err(e),
                    }
                }
            }
            Op::Close { closing, deadline_ns } => {
                let waiting = closing.as_ref().is_some_and(|c| c.closing());
                if waiting && blocking && deadline_ns.is_none_or(|d| self.now() < d) {
                    return None;
                }
                drop(closing.take());
                Ok(0)
            }
            Op::Poll { fds, timeout_ms, started_ns } => {
                let mut revents = Vec::new();
                let mut n = 0;
                for (fd, events, _) in fds.iter() {
                    let re = match self.fds.get(fd) {
                        Some(e) => e.sock.poll() & (*events | POLLERR | POLLHUP),
                        None => POLLNVAL,
                    };
                    if re != 0 {
                        n += 1;
                    }
                    revents.push(i64::from(re));
                }
                let expired = *timeout_ms > 0 && self.now() >= *started_ns + (*timeout_ms as u64) * 1_000_000;
                if n == 0 && blocking && !expired {
                    return None;
                }
                return Some((Ok(n), Some(revents)));
            }
        };
        Some((r, None))
    }

    /// Retry a blocked call; true if it completed.
    fn retry_pending(&mut self) -> Result<bool, (Option<usize>, String)> {
        let Some(mut p) = self.pending.take() else { return Ok(false) };
        match self.try_op(&mut p.op, true) {
            None => {
                self.pending = Some(p);
                Ok(false)
            }
            Some((r, revents)) => {
                let now = self.now();
                self.trace.push(Trace::Text(format!(
                    "{} {}(...) returned   (line {})",
                    Self::ts(now),
                    p.spec.name,
                    p.line
                )));
                if now + self.tol_ns < p.end_ns || now > p.end_ns + self.tol_ns {
                    return Err((
                        Some(p.line),
                        format!(
                            "`{}` returned at {}, expected at {} (±{} µs)",
                            p.spec.name,
                            Self::ts(now),
                            Self::ts(p.end_ns),
                            self.script.tolerance_usecs
                        ),
                    ));
                }
                Self::check_msg(&p.spec, r, revents).map_err(|m| (Some(p.line), m))?;
                Ok(true)
            }
        }
    }

    fn check(
        &self,
        line: usize,
        s: &SyscallSpec,
        r: Result<i64, Errno>,
        revents: Option<Vec<i64>>,
    ) -> Result<(), Fail> {
        Self::check_msg(s, r, revents).map_err(|m| self.fail(line, m))
    }

    /// Compare a call's result (and poll's revents) with the script's.
    fn check_msg(s: &SyscallSpec, r: Result<i64, Errno>, revents: Option<Vec<i64>>) -> Result<(), String> {
        let got = match &r {
            Ok(v) => format!("{v}"),
            Err(e) => format!("-1 {}", e.name()),
        };
        let want = match &s.errno {
            Some(e) => format!("{} {e}", s.result),
            None => format!("{}", s.result),
        };
        let ok = match (&r, &s.result, &s.errno) {
            (_, Expr::Ellipsis, None) => true,
            (Err(e), Expr::Int(-1) | Expr::Ellipsis, Some(name)) => {
                errno_by_name(name).ok_or_else(|| format!("unknown errno `{name}`"))? == *e
            }
            (Ok(v), want, None) => eval_int(want)? == *v,
            _ => false,
        };
        if !ok {
            return Err(format!("`{}` returned {got}, expected {want}", s.name));
        }
        if let (Some(got), Some(Expr::List(entries))) = (revents, s.args.first()) {
            for (i, e) in entries.iter().enumerate() {
                let Expr::Brace(fields) = e else { continue };
                let want = fields.iter().find_map(|f| match f {
                    Expr::Assign(n, v) if n == "revents" => Some(v),
                    _ => None,
                });
                let want = match want {
                    Some(v) => eval_int(v)?,
                    None => 0,
                };
                if got[i] != want {
                    return Err(format!("poll revents {:#x} for entry {i}, expected {want:#x}", got[i]));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_in_script_order() {
        let opts = vec![
            TcpOpt::Mss(1460),
            TcpOpt::SackOk,
            TcpOpt::Timestamp(100, 7),
            TcpOpt::Nop,
            TcpOpt::Wscale(7),
            TcpOpt::Nop,
            TcpOpt::Nop,
            TcpOpt::Sack(vec![(10, 20), (30, 40)]),
        ];
        let bytes = encode_opts(&opts, |s| s + 1000);
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(&bytes[..4], &[2, 4, 0x05, 0xb4]);
        let back = decode_opts(&bytes);
        let mut want: Vec<OptTok> = opts.into_iter().map(OptTok::Known).collect();
        want[7] = OptTok::Known(TcpOpt::Sack(vec![(1010, 1020), (1030, 1040)]));
        assert_eq!(&back[..8], &want[..]);
        assert!(back[8..].iter().all(|o| *o == OptTok::Known(TcpOpt::Eol)));
        assert_eq!(opts_str(&back[..1]), " <mss 1460>");
        assert_eq!(decode_opts(&[30, 4, 0, 0]), vec![OptTok::Other(30, 4)]);
    }

    #[test]
    fn flags_print_as_packetdrill_writes_them() {
        assert_eq!(flags_str(TCPHDR_SYN), "S");
        assert_eq!(flags_str(TCPHDR_SYN | TCPHDR_ACK), "S.");
        assert_eq!(flags_str(TCPHDR_ACK), ".");
        assert_eq!(flags_str(TCPHDR_PSH | TCPHDR_ACK), "P.");
        assert_eq!(flags_str(TCPHDR_FIN | TCPHDR_ACK), "F.");
        assert_eq!(flags_str(TCPHDR_RST), "R");
        assert_eq!(flags_str(0), "-");
    }

    #[test]
    fn host_sequence_numbers_are_relative_to_its_first_syn() {
        let mut c = Conn {
            local_port: None,
            remote_port: REMOTE_PORT,
            host_isn: None,
            other_isns: Vec::new(),
            resync: Vec::new(),
            ts_offset: None,
        };
        assert_eq!((c.host_to_script(5000), c.host_to_live(5000)), (5000, 5000));
        c.host_isn = Some((0, 0xffff_fff0));
        assert_eq!(c.host_to_script(0xffff_fff1), 1);
        assert_eq!(c.host_to_live(1001), 1001u32.wrapping_add(0xffff_fff0));
    }

    #[test]
    fn backtick_sysctls_change_the_host() {
        // With timestamps, SACK and window scaling switched off, the SYN of
        // an active open carries the MSS alone.
        let script = "0 `sysctl -q net.ipv4.tcp_timestamps=0; sysctl -w net.ipv4.tcp_sack=0`\n\
                      +0 `sysctl -q net.ipv4.tcp_window_scaling=0`\n\
                      +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                      +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
                      +0 connect(3, ..., ...) = -1 EINPROGRESS\n\
                      +0 > S 0:0(0) win 64240 <mss 1460>\n";
        crate::packetdrill::run_script("t", script).unwrap();
        let e = crate::packetdrill::run_script("t", "0 `sysctl -q net.ipv4.tcp_no_such=1`").unwrap_err();
        assert!(e.starts_with("t:1: ") && e.contains("/proc/sys/net/ipv4/tcp_no_such"), "{e}");
        let e = crate::packetdrill::run_script("t", "0 `sysctl -q net.ipv4.tcp_timestamps=7`").unwrap_err();
        assert!(e.contains("Invalid argument"), "{e}");
    }

    #[test]
    fn symbols_and_or_expressions() {
        let e = Expr::Or(vec![Expr::Word("O_RDWR".into()), Expr::Word("O_NONBLOCK".into())]);
        assert_eq!(eval_int(&e), Ok(0x802));
        assert_eq!(eval_int(&Expr::List(vec![Expr::Word("ECONNREFUSED".into())])), Ok(111));
        assert!(eval_int(&Expr::Word("SO_BOGUS".into())).is_err());
        assert_eq!(errno_by_name("EWOULDBLOCK"), Some(Errno::EAGAIN));
    }
}
