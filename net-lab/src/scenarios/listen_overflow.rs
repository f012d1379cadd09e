//! `listen(fd, 2)` and a server that never calls `accept()`: the accept
//! queue fills to three, a SYN is dropped, a final ACK is dropped; then the
//! same with `tcp_abort_on_overflow` = 1.

use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use net_core::Errno;
use net_tcp::TcpSocket;

use super::lab::B;
use super::tcplab::{PORT, TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The second article's accept-queue experiment, run twice. b listens with a
backlog of 2 and never calls accept(). Clients on a connect one after the
other, two of them in the same instant.

Run 1 (net.ipv4.tcp_abort_on_overflow = 0, the default): `ss -lnt` shows
the listener's Recv-Q (the accept queue, sk_ack_backlog) grow 0, 1, 2, 3
against a Send-Q (the backlog, sk_max_ack_backlog) of 2: sk_acceptq_is_full
is `sk_ack_backlog > sk_max_ack_backlog`, so a backlog of 2 holds three.
The two clients that connect together both get a SYN-ACK (the queue held
two when their SYNs came); the first final ACK fills the queue, the second
finds it full: tcp_check_req → tcp_v4_syn_recv_sock counts ListenOverflows
and ListenDrops and drops the ACK without a word, keeping the request sock
(marked acked). That client believes it is connected: its write goes
unanswered and is retransmitted; b's request timer (reqsk_timer_handler)
resends the SYN-ACK at 1, 3, 7, 15, 31 s and the client answers each with
an ACK, dropped again; at 63 s the request dies, and the client's next
retransmission finds only the listener, which answers with a RST: the
client learns at its first write, a minute and a half late (ECONNRESET).
A client that connects once the queue is full never gets a SYN-ACK:
tcp_conn_request drops its SYN (ListenOverflows, ListenDrops) and it
retransmits at 1, 3, 7, 15, 31, 63 s (tcp_syn_retries = 6) until connect()
fails with ETIMEDOUT at 127 s.

Run 2 (net.ipv4.tcp_abort_on_overflow = 1; the scenario sets each run's
value itself): the same story, but the final ACK that finds the queue full
is answered with a RST at once (tcp_check_req's embryonic_reset,
EmbryonicRsts), and the client's socket is reset before it writes. The SYN
that finds the queue full is still dropped silently: the sysctl is about
final ACKs only. Run 2's frames follow run 1's in --pcap/--json, 1000 s
later.

Book: listen and the two queues → the accept queue and its limits. Linux:
inet_listen, tcp_conn_request, sk_acceptq_is_full, tcp_check_req,
tcp_v4_syn_recv_sock, inet_csk_reqsk_queue_add, reqsk_timer_handler,
tcp_v4_send_reset (net/ipv4/af_inet.c, tcp_input.c, tcp_minisocks.c,
tcp_ipv4.c, inet_connection_sock.c); tcp_diag_get_info for ss's queues.";

/// Where run 2's frames start in the combined capture.
pub const RUN2_OFFSET_NS: u64 = 1_000_000_000_000;

/// The backlog both runs listen with.
pub const BACKLOG: i32 = 2;

/// A named client on a.
struct Client {
    name: String,
    sock: TcpSocket,
}

fn connect(lab: &mut TcpLab, name: &str) -> Result<Client, String> {
    let sock = TcpSocket::new(&lab.a).map_err(e("socket"))?;
    sock.set_nonblocking(true);
    let r = sock.connect(SocketAddrV4::new(B, PORT)).err().map_or("0".into(), |e| format!("-1 {e:?}"));
    let port = sock.local_addr().port();
    lab.say(format!("a: {name} (port {port}): connect({B}:{PORT}) = {r}"));
    Ok(Client { name: name.into(), sock })
}

fn errno_str(r: Result<usize, Errno>) -> String {
    r.map_or_else(|err| format!("-1 {err:?}"), |n| n.to_string())
}

fn run_once(opts: &RunOpts, abort: bool) -> Result<Report, String> {
    let mut opts = opts.clone();
    opts.sysctls.retain(|(k, _)| k != "net.ipv4.tcp_abort_on_overflow");
    opts.sysctls.push(("net.ipv4.tcp_abort_on_overflow".into(), if abort { "1" } else { "0" }.into()));
    let mut lab = TcpLab::new(&opts)?;
    lab.say(format!("net.ipv4.tcp_abort_on_overflow = {}", u8::from(abort)));
    let listener = TcpSocket::new(&lab.b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).map_err(e("bind"))?;
    listener.listen(BACKLOG).map_err(e("listen"))?;
    lab.say(format!("b: listen(fd, {BACKLOG}) on 0.0.0.0:{PORT}, and never accept()"));
    lab.ss_lnt(&[listener.sock()]);
    let step = |lab: &mut TcpLab, ms: u64| {
        let t = lab.now_ms() + ms;
        lab.run_until_ms(t);
    };
    let mut clients = Vec::new();
    for name in ["c1", "c2"] {
        let c = connect(&mut lab, name)?;
        step(&mut lab, 10);
        lab.say(format!("a: {name}: {}", c.sock.state().name()));
        lab.ss_lnt(&[listener.sock()]);
        clients.push(c);
    }
    // Two at once: both SYNs find two on the accept queue — not full.
    let c3 = connect(&mut lab, "c3")?;
    let c4 = connect(&mut lab, "c4")?;
    step(&mut lab, 10);
    lab.say(format!("a: c3: {}, c4: {}", c3.sock.state().name(), c4.sock.state().name()));
    lab.ss_lnt(&[listener.sock()]);
    let queued: Vec<u16> =
        listener.sock().lock.lock().accept_queue.iter().map(|child| child.inet_dport()).collect();
    let (reqs, over) = {
        let (_, _, reqs) = listener.listen_queues().unwrap_or_default();
        let over = [&c3, &c4].into_iter().find(|c| !queued.contains(&c.sock.local_addr().port()));
        (reqs, over)
    };
    let over = over.ok_or("both c3 and c4 reached the accept queue")?;
    lab.say(format!(
        "b: accept queue holds {}; request socks (SYN-RECV) {reqs}: {}'s final ACK was {}",
        queued.len(),
        over.name,
        if abort { "answered with a RST" } else { "dropped, its request kept" }
    ));
    let c5 = connect(&mut lab, "c5")?;
    step(&mut lab, 10);
    lab.say(format!("a: c5: {} (its SYN was dropped)", c5.sock.state().name()));
    if over.sock.state() == net_tcp::tcp_states::TcpState::Established {
        let r = over.sock.send(b"GET / HTTP/1.0\r\n\r\n");
        lab.say(format!("a: {}: send(18) = {}", over.name, errno_str(r)));
    } else {
        let mut buf = [0u8; 16];
        let r = over.sock.recv(&mut buf);
        lab.say(format!("a: {}: {}, recv() = {}", over.name, over.sock.state().name(), errno_str(r)));
    }
    let end_ms = if abort { 4_000 } else { 135_000 };
    let mut last = (over.sock.state(), c5.sock.state(), reqs);
    while lab.now_ms() < end_ms {
        step(&mut lab, 10);
        let reqs = listener.listen_queues().map_or(0, |q| q.2);
        let now = (over.sock.state(), c5.sock.state(), reqs);
        if now != last {
            lab.say(format!(
                "a: {}: {}, c5: {}; b: request socks {reqs}",
                over.name,
                now.0.name(),
                now.1.name()
            ));
            last = now;
        }
    }
    let mut buf = [0u8; 64];
    lab.say(format!("a: {}: recv() = {}", over.name, errno_str(over.sock.recv(&mut buf))));
    lab.say(format!("a: c5: recv() = {}", errno_str(c5.sock.recv(&mut buf))));
    lab.ss_lnt(&[listener.sock()]);
    let headline = if abort {
        "tcp_abort_on_overflow=1: the final ACK that finds the queue full is answered with a RST"
    } else {
        "backlog 2 holds 3; then SYNs are dropped, and a final ACK is dropped silently"
    };
    Ok(lab.finish(headline.into(), None, Vec::new()))
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let r1 = run_once(opts, false)?;
    let r2 = run_once(opts, true)?;
    Ok(combine(
        r1,
        r2,
        "net.ipv4.tcp_abort_on_overflow = 0",
        "net.ipv4.tcp_abort_on_overflow = 1",
        "backlog 2 holds 3; beyond it a SYN is dropped and a final ACK dropped silently — or, with \
         tcp_abort_on_overflow=1, answered with a RST",
    ))
}

/// Two runs as one report: the texts one after the other under a title
/// each; run 2's frames [`RUN2_OFFSET_NS`] later; its hosts, socket rows
/// and narrative marked "(run 2)".
pub(super) fn combine(r1: Report, r2: Report, title1: &str, title2: &str, headline: &str) -> Report {
    let mut text = format!("--- run 1: {title1}\n");
    text.push_str(&r1.text);
    let _ = write!(text, "\n--- run 2: {title2}\n");
    text.push_str(&r2.text);
    let mut frames = r1.frames;
    frames.extend(r2.frames.into_iter().map(|(t, f)| (t + RUN2_OFFSET_NS, f)));
    let mut counters = r1.counters;
    counters.extend(r2.counters.into_iter().map(|(h, c)| (format!("{h} (run 2)"), c)));
    let mut sockets = r1.sockets;
    sockets.extend(r2.sockets.into_iter().map(|mut s| {
        s.host = format!("{} (run 2)", s.host);
        s
    }));
    let mut narrative = r1.narrative;
    narrative.extend(r2.narrative.into_iter().map(|l| format!("(run 2) {l}")));
    Report { headline: headline.into(), text, frames, counters, sockets, narrative, cwnd: Vec::new() }
}
