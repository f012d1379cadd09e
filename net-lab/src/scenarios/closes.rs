//! Closing: the three-segment close (FIN and ACK merged by the delayed
//! ACK) and the four-segment one (the application closes late).

use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN_THREE: &str = "\
The second article's experiment. After a request and a reply, a closes and
its FIN reaches b. tcp_fin moves b from ESTABLISHED to CLOSE_WAIT, wakes the
reader and schedules an ACK (inet_csk_schedule_ack) — but b is in pingpong
(interactive) mode, so __tcp_ack_snd_check does not ACK at once: it arms the
delayed-ACK timer (tcp_send_delayed_ack, at least TCP_DELACK_MIN = 40 ms).
b's application reads end-of-stream and closes 5 ms later, well inside that
time: tcp_close → tcp_send_fin sends a FIN, and every segment carries the
pending ACK, so the ACK of a's FIN rides on b's FIN. Three segments close
the connection, not four; a goes FIN_WAIT1 → TIME_WAIT without FIN_WAIT2's
pure ACK, and the delayed-ACK timer finds nothing left to do.

Book: net-tcp → closing; options, ACKs and timers. Linux: tcp_close,
tcp_send_fin, tcp_fin, __tcp_ack_snd_check, tcp_send_delayed_ack,
inet_csk_clear_xmit_timer, tcp_time_wait (net/ipv4/tcp.c, tcp_input.c,
tcp_output.c, tcp_minisocks.c).";

pub const EXPLAIN_FOUR: &str = "\
The same connection as three-way-close, but b's application is slow: it
closes 300 ms after a's FIN arrived. The delayed-ACK timer fires first
(tcp_delack_timer → tcp_send_ack; TcpExtDelayedACKs counts it), so b sends
a pure ACK for the FIN and a moves to FIN_WAIT2; b sits in CLOSE_WAIT until
its close(), which sends a separate FIN (b: LAST_ACK), ACKed by a from
TIME_WAIT. Four segments: the close textbooks draw.

Book: net-tcp → closing; options, ACKs and timers. Linux: tcp_fin,
tcp_delack_timer_handler, tcp_send_ack, tcp_close, tcp_send_fin,
tcp_rcv_state_process (FIN_WAIT1 → FIN_WAIT2, LAST_ACK → CLOSE),
tcp_time_wait.";

/// Both closes: connect, a request and a reply, a closes, and b closes
/// `app_delay_ms` after a's FIN reached it.
fn close_after(opts: &RunOpts, app_delay_ms: u64) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    let (client, server, _listener) = lab.connect()?;
    client.send(&[b'q'; 64]).map_err(e("send"))?;
    lab.run_until_ms(10);
    let mut buf = [0u8; 256];
    let n = server.recv(&mut buf).map_err(e("recv on b"))?;
    server.send(&[b'r'; 64]).map_err(e("send on b"))?;
    lab.say(format!("b: recv() = {n}; send(64)"));
    lab.run_until_ms(20);
    let n = client.recv(&mut buf).map_err(e("recv on a"))?;
    lab.say(format!("a: recv() = {n}; close()"));
    let csk = client.sock().clone();
    drop(client);
    // The FIN is on the wire for LATENCY_NS; b's application looks later.
    lab.run_until_ms(20 + app_delay_ms);
    let n = server.recv(&mut buf).map_err(e("recv on b"))?;
    lab.say(format!(
        "b: recv() = {n} (end of stream); b: {}, a: {}; close()",
        server.state().name(),
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk).name()
    ));
    let ssk = server.sock().clone();
    drop(server);
    lab.run_until_ms(20 + app_delay_ms + 10);
    lab.say(format!(
        "a: {}, b: {}",
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk).name(),
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.b, &ssk).name()
    ));
    lab.run_until_ms(1000);
    let headline = if app_delay_ms < 40 {
        "b closes inside the delayed-ACK time: its FIN carries the ACK, three segments close the connection"
    } else {
        "b closes after the delayed ACK fired: ACK, then FIN — four segments"
    };
    Ok(lab.finish(headline.into(), None, Vec::new()))
}

pub fn run_three(opts: &RunOpts) -> Result<Report, String> {
    close_after(opts, 5)
}

pub fn run_four(opts: &RunOpts) -> Result<Report, String> {
    close_after(opts, 300)
}
