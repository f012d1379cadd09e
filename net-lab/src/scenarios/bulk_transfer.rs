//! A bulk transfer through a bottleneck: slow start, a loss, recovery.

use std::fmt::Write;

use net_dev::LinkParams;

use super::tcplab::TcpLab;
use crate::trace::{TcpSeqState, clock_time, tcp_segment, tcpdump_line_rel};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
a sends 2 MiB to b over a link of 10 Mbit/s with 10 ms of delay each way
and a 24-frame tail-drop queue in front of the serialiser (a NIC ring; the
wire is net-dev's veth with a rate). The bandwidth-delay product is about 17
full segments, so the queue absorbs one window of overshoot and no more.

Slow start (tcp_slow_start) grows cwnd by one segment per segment ACKed,
doubling it every round trip from the initial 10 (TCP_INIT_CWND). The
congestion control is CUBIC, Linux's default: its HyStart watches the ACKs
of each round and, once cwnd is 16 or more, ends slow start early
(ssthresh = cwnd, TcpExtTCPHystartTrainDetect) when a train of closely
spaced ACKs lasts longer than half the minimum RTT (plus half a
millisecond, hystart_ack_delay) — the pipe is full before the queue
overflows. From there cwnd follows the cubic curve
(bictcp_update, at least as fast as Reno would) until the queue does
overflow and segments are dropped. The duplicate ACKs that follow (each
carrying SACK blocks) drive loss recovery: fast retransmit
(tcp_fastretrans_alert → tcp_enter_recovery, ssthresh = 717/1024 of cwnd
from cubictcp_recalc_ssthresh, PRR bringing cwnd down to it) or, failing
that, the retransmission timer (tcp_retransmit_timer → tcp_enter_loss: cwnd
back to 1). After recovery cwnd climbs back along the cubic curve towards
the window where the loss happened. With net.ipv4.tcp_congestion_control
set to reno, slow start runs on into the overflow and the cut is to half.
The scenario samples tcp_info's tcpi_snd_cwnd every 5 ms: `--plot` draws it
under the time-sequence graph, where retransmissions show in red.

The trace below is cut: the handshake, the first flight, the first
retransmission with what surrounds it, and the end; `--pcap` and `--json`
carry every segment.

Book: net-tcp → retransmission; data in and out. Linux: tcp_sendmsg,
tcp_write_xmit, tcp_ack, tcp_cong_avoid, tcp_slow_start, hystart_update,
bictcp_update, cubictcp_recalc_ssthresh, tcp_fastretrans_alert,
tcp_retransmit_timer (net/ipv4/tcp.c, tcp_output.c, tcp_input.c,
tcp_cong.c, tcp_cubic.c, tcp_timer.c).";

/// Bytes sent.
pub const TOTAL: usize = 2 << 20;

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let fwd =
        LinkParams { delay_ns: 10_000_000, rate_bps: 10_000_000, queue_limit: 24, ..LinkParams::default() };
    let back = LinkParams { delay_ns: 10_000_000, ..LinkParams::default() };
    let mut lab = TcpLab::with_link(opts, fwd, back)?;
    let (client, server, _listener) = lab.connect()?;
    lab.say(format!("a: send() {TOTAL} bytes as fast as the socket takes them; b: recv() everything"));
    let chunk = vec![b'x'; 64 * 1024];
    let mut buf = vec![0u8; 256 * 1024];
    let (mut sent, mut got) = (0usize, 0usize);
    let mut cwnd = Vec::new();
    let mut t = lab.now_ms();
    let mut done_at = None;
    while t < 20_000 {
        while sent < TOTAL {
            match client.send(&chunk[..chunk.len().min(TOTAL - sent)]) {
                Ok(n) => sent += n,
                Err(net_core::Errno::EAGAIN) => break,
                Err(err) => return Err(format!("send: {err}")),
            }
        }
        loop {
            match server.recv(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(net_core::Errno::EAGAIN) => break,
                Err(err) => return Err(format!("recv: {err}")),
            }
        }
        if t % 5 == 0 {
            cwnd.push((lab.sim.now_ns(), client.tcp_info().tcpi_snd_cwnd));
        }
        if got >= TOTAL && done_at.is_none() {
            done_at = Some(lab.sim.now_ns());
            break;
        }
        t += 1;
        lab.run_until_ms(t);
    }
    let info = client.tcp_info();
    let secs = done_at.map_or(0.0, |d| d as f64 / 1e9);
    lab.say(format!(
        "b: received {got} bytes, all by {}; {:.2} Mbit/s of goodput over the transfer",
        done_at.map_or("never".into(), clock_time),
        if secs > 0.0 { got as f64 * 8.0 / secs / 1e6 } else { 0.0 }
    ));
    lab.say(format!(
        "a: tcp_info: snd_cwnd {}, snd_ssthresh {}, total_retrans {}, rtt {} us, rto {} us",
        info.tcpi_snd_cwnd, info.tcpi_snd_ssthresh, info.tcpi_total_retrans, info.tcpi_rtt, info.tcpi_rto
    ));
    let max = cwnd.iter().map(|c| c.1).max().unwrap_or(0);
    let mut table = String::from("\ncwnd (tcpi_snd_cwnd, every 100 ms; --plot draws every 5 ms):\n");
    for (ts, c) in cwnd.iter().filter(|(ts, _)| (ts / 1_000_000) % 100 == 0) {
        let _ = writeln!(
            table,
            "{} {c:>4} {}",
            clock_time(*ts),
            "#".repeat((*c as usize * 50).div_ceil(max.max(1) as usize))
        );
    }
    let trace = excerpt(&lab.frames());
    drop(client);
    drop(server);
    let headline = format!(
        "cwnd doubles per RTT until HyStart ends slow start, CUBIC grows it to {max} segments, the queue overflows, the losses are repaired and cwnd restarts lower"
    );
    let mut r = lab.finish(headline, Some(trace), cwnd);
    if let Some(pos) = r.text.find("\nnstat (on a)") {
        r.text.insert_str(pos, &table);
    }
    Ok(r)
}

/// The handshake and first flight, the first retransmission with its
/// neighbours, and the last lines.
fn excerpt(frames: &crate::trace::Frames) -> String {
    let mut st = TcpSeqState::default();
    let mut st2 = TcpSeqState::default();
    let mut lines = Vec::new();
    let mut high = 0u32;
    let mut first_retrans = None;
    for (i, (t, f)) in frames.iter().enumerate() {
        lines.push(format!("{} {}", clock_time(*t), tcpdump_line_rel(f, &mut st)));
        if let Some(s) = tcp_segment(f, &mut st2) {
            if s.sport != super::tcplab::PORT && s.len > 0 {
                let end = s.seq.wrapping_add(s.len);
                if high != 0 && !net_tcp::sock::after(end, high) && first_retrans.is_none() {
                    first_retrans = Some(i);
                }
                if net_tcp::sock::after(end, high) {
                    high = end;
                }
            }
        }
    }
    let mut keep = vec![false; lines.len()];
    for k in keep.iter_mut().take(20) {
        *k = true;
    }
    if let Some(r) = first_retrans {
        for k in keep.iter_mut().take(r + 12).skip(r.saturating_sub(8)) {
            *k = true;
        }
    }
    let n = lines.len();
    for k in keep.iter_mut().skip(n.saturating_sub(6)) {
        *k = true;
    }
    let mut out = String::new();
    let mut skipped = 0;
    for (l, k) in lines.iter().zip(keep) {
        if k {
            if skipped > 0 {
                let _ = writeln!(out, "    ... {skipped} lines ...");
                skipped = 0;
            }
            let _ = writeln!(out, "{l}");
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        let _ = writeln!(out, "    ... {skipped} lines ...");
    }
    out
}
