//! Two hosts on one simulated wire, for the TCP scenarios: a link with a
//! delay (and, where a scenario needs it, a rate, a bounded queue or
//! loss), a tcpdump on a, counters snapshotted at the start, and a
//! narrative with virtual timestamps.

use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::netdevice::NetDev;
use net_core::snmp::MibSnapshot;
use net_core::{Errno, Net};
use net_dev::{LinkParams, Sim};
use net_ipv4::devinet::inet_addr_add;
use net_tcp::TcpSocket;
use net_tcp::sock::TcpSock;

use super::lab::{A, B, LATENCY_NS};
use crate::ss::{SsRow, ss_lnt_table, ss_row, ss_table};
use crate::trace::Trace;
use crate::{Report, RunOpts};

/// The server's port.
pub const PORT: u16 = 80;

/// Hosts a (10.0.0.1, the client, traced) and b (10.0.0.2, the server).
pub struct TcpLab {
    pub sim: Sim,
    pub a: Arc<Net>,
    pub b: Arc<Net>,
    /// a's end of the wire (frames a scenario crafts itself leave here).
    pub da: Arc<NetDev>,
    /// b's end of the wire (close it and b vanishes).
    pub db: Arc<NetDev>,
    trace: Trace,
    before: (MibSnapshot, MibSnapshot),
    narrative: Vec<String>,
    tables: String,
    sockets: Vec<SsRow>,
}

/// `errno` in a message.
pub fn e(what: &'static str) -> impl Fn(Errno) -> String {
    move |err| format!("{what}: {err}")
}

impl TcpLab {
    /// The default wire: `LATENCY_NS` each way, nothing else.
    pub fn new(opts: &RunOpts) -> Result<TcpLab, String> {
        TcpLab::with_link(opts, LinkParams::with_delay(LATENCY_NS), LinkParams::with_delay(LATENCY_NS))
    }

    /// A wire that behaves as `a_to_b` for a's frames and `b_to_a` for b's.
    pub fn with_link(opts: &RunOpts, a_to_b: LinkParams, b_to_a: LinkParams) -> Result<TcpLab, String> {
        let settle_ns = 1_000_000 + 2 * a_to_b.delay_ns.max(b_to_a.delay_ns);
        let mut sim = Sim::new(opts.seed);
        let a = sim.add_host("a");
        let b = sim.add_host("b");
        let a4 = net_tcp::inet_init(&a).ipv4.clone();
        let b4 = net_tcp::inet_init(&b).ipv4.clone();
        opts.apply(&a)?;
        opts.apply(&b)?;
        let (da, db) = sim.connect_asym(&a, &b, a_to_b, b_to_a).map_err(e("ip link add"))?;
        inet_addr_add(&a, &a4, da.ifindex, A, 24).map_err(|e| format!("ip addr add {A}/24: {e}"))?;
        inet_addr_add(&b, &b4, db.ifindex, B, 24).map_err(|e| format!("ip addr add {B}/24: {e}"))?;
        // Let the gratuitous ARPs of `ip addr add` cross the wire before the
        // story (and the trace) starts.
        sim.run_until(settle_ns);
        let trace = Trace::attach(&a);
        let before = (a.mib.snapshot(), b.mib.snapshot());
        Ok(TcpLab {
            sim,
            a,
            b,
            da,
            db,
            trace,
            before,
            narrative: Vec::new(),
            tables: String::new(),
            sockets: Vec::new(),
        })
    }

    /// Run until virtual time `ms`.
    pub fn run_until_ms(&mut self, ms: u64) {
        self.sim.run_until(ms * 1_000_000);
    }

    /// Virtual time now, ms.
    pub fn now_ms(&self) -> u64 {
        self.sim.now_ns() / 1_000_000
    }

    /// One narrative line, stamped with the virtual clock as the trace is.
    pub fn say(&mut self, line: impl AsRef<str>) {
        self.narrative.push(format!("{} {}", crate::trace::clock_time(self.sim.now_ns()), line.as_ref()));
    }

    /// b listens on port 80 and a connects; returns (client, server) once
    /// b has accepted, and keeps the listener for the caller.
    pub fn connect(&mut self) -> Result<(TcpSocket, TcpSocket, TcpSocket), String> {
        let listener = TcpSocket::new(&self.b).map_err(e("socket"))?;
        self.connect_with(listener)
    }

    /// As [`connect`](Self::connect), with a listener socket the caller
    /// has set options on.
    pub fn connect_with(&mut self, listener: TcpSocket) -> Result<(TcpSocket, TcpSocket, TcpSocket), String> {
        listener.set_nonblocking(true);
        listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).map_err(e("bind"))?;
        listener.listen(128).map_err(e("listen"))?;
        let client = TcpSocket::new(&self.a).map_err(e("socket"))?;
        client.set_nonblocking(true);
        self.start_connect(&client)?;
        let (server, peer) = self.accept_within(&listener, 5_000)?;
        server.set_nonblocking(true);
        self.say(format!("b: accept() = {peer}; a: {}", client.state().name()));
        Ok((client, server, listener))
    }

    /// b's server: poll `accept()` on `listener` every 5 ms of virtual
    /// time, as a non-blocking server would, running the lab in between;
    /// an error if nothing is accepted within `ms`.
    pub fn accept_within(
        &mut self,
        listener: &TcpSocket,
        ms: u64,
    ) -> Result<(TcpSocket, SocketAddrV4), String> {
        let deadline = self.now_ms() + ms;
        loop {
            let t = self.now_ms() + 5;
            self.run_until_ms(t);
            match listener.accept() {
                Ok(x) => return Ok(x),
                Err(Errno::EAGAIN) if t < deadline => {}
                Err(err) => return Err(format!("accept: {err}")),
            }
        }
    }

    /// a: `connect(10.0.0.2:80)` on a non-blocking socket.
    pub fn start_connect(&mut self, client: &TcpSocket) -> Result<(), String> {
        let r = client.connect(SocketAddrV4::new(B, PORT)).err().map_or("0".into(), |e| format!("-1 {e:?}"));
        self.say(format!("a: connect({B}:{PORT}) = {r}"));
        Ok(())
    }

    /// Print an `ss -tan` table of these sockets now (and keep its rows
    /// for `--json`).
    pub fn ss(&mut self, title: &str, socks: &[(&str, &Arc<TcpSock>)]) {
        let rows: Vec<SsRow> = socks.iter().map(|(h, s)| ss_row(h, s)).collect();
        let _ =
            writeln!(self.tables, "\nss -tan ({title}, at {}):", crate::trace::clock_time(self.sim.now_ns()));
        let by_host =
            |host: &str| -> Vec<SsRow> { rows.iter().filter(|r| r.host == host).cloned().collect() };
        for host in ["a", "b"] {
            let mine = by_host(host);
            if !mine.is_empty() {
                let _ = writeln!(self.tables, "on {host}:");
                self.tables.push_str(&ss_table(&mine));
            }
        }
        self.sockets.extend(rows);
    }

    /// Print an `ss -tan` table as `inet_diag` would dump these sockets
    /// now: a connection whose four-tuple a timewait sock holds shows that
    /// sock's state (TIME-WAIT, or an orphan's FIN-WAIT-2) with empty
    /// queues; a socket in no hash table (CLOSE: reset, or its timewait
    /// sock gone) is not listed at all, however long the application
    /// holds its descriptor; a four-tuple is listed once.
    pub fn ss_diag(&mut self, title: &str, socks: &[(&str, &Arc<TcpSock>)]) {
        let mut rows: Vec<SsRow> = Vec::new();
        for (host, sk) in socks {
            let net = if *host == "a" { &self.a } else { &self.b };
            let state = net_tcp::inet_timewait_sock::inet_sk_diag_state(net, sk);
            if state == net_tcp::tcp_states::TcpState::Close {
                continue;
            }
            let mut row = ss_row(host, sk);
            if row.state != state.name() {
                let lport = sk.lock.lock().inet_sport;
                row = SsRow {
                    state: state.name().to_string(),
                    recv_q: 0,
                    send_q: 0,
                    local: format!("{}:{lport}", sk.inet_rcv_saddr()),
                    ..row
                };
            }
            if !rows.iter().any(|r| r.host == row.host && r.local == row.local && r.peer == row.peer) {
                rows.push(row);
            }
        }
        self.ss_rows(title, rows);
    }

    fn ss_rows(&mut self, title: &str, rows: Vec<SsRow>) {
        let _ =
            writeln!(self.tables, "\nss -tan ({title}, at {}):", crate::trace::clock_time(self.sim.now_ns()));
        for host in ["a", "b"] {
            let mine: Vec<SsRow> = rows.iter().filter(|r| r.host == host).cloned().collect();
            if !mine.is_empty() {
                let _ = writeln!(self.tables, "on {host}:");
                self.tables.push_str(&ss_table(&mine));
            }
        }
        self.sockets.extend(rows);
    }

    /// Print an `ss -lnt` table of these listeners on b now, in the
    /// narrative where it happens (and keep its rows for `--json`).
    pub fn ss_lnt(&mut self, listeners: &[&Arc<TcpSock>]) {
        let rows: Vec<SsRow> = listeners.iter().map(|s| ss_row("b", s)).collect();
        let table: String = ss_lnt_table(&rows).lines().map(|l| format!("    {l}\n")).collect();
        self.say(format!("b: ss -lnt\n{}", table.trim_end()));
        self.sockets.extend(rows);
    }

    /// The trace so far as text (for scenarios that print only part of it).
    pub fn trace_text(&self) -> String {
        self.trace.text()
    }

    /// The frames traced so far (for a scenario's own checks).
    pub fn frames(&self) -> crate::trace::Frames {
        self.trace.frames()
    }

    /// The report: trace (or `trace_text` in its place, for long runs),
    /// narrative, socket tables, counter diffs on both hosts.
    pub fn finish(self, headline: String, trace_text: Option<String>, cwnd: Vec<(u64, u32)>) -> Report {
        let mut text = String::new();
        let _ = writeln!(text, "tcpdump -n -i eth0 (on a, {A})");
        text.push_str(&trace_text.unwrap_or_else(|| self.trace.text()));
        text.push('\n');
        for l in &self.narrative {
            let _ = writeln!(text, "{l}");
        }
        text.push_str(&self.tables);
        let ca = self.a.mib.snapshot().nstat_diff_entries(&self.before.0);
        let cb = self.b.mib.snapshot().nstat_diff_entries(&self.before.1);
        let _ = writeln!(text, "\nnstat (on a):");
        text.push_str(&self.a.mib.snapshot().nstat_diff(&self.before.0));
        let _ = writeln!(text, "\nnstat (on b):");
        text.push_str(&self.b.mib.snapshot().nstat_diff(&self.before.1));
        Report {
            headline,
            text,
            frames: self.trace.frames(),
            counters: vec![("a".into(), ca), ("b".into(), cb)],
            sockets: self.sockets,
            narrative: self.narrative,
            cwnd,
        }
    }
}
