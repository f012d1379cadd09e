//! The peer vanishes mid-transfer: RTO backoff, then ETIMEDOUT.

use net_core::Errno;

use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
a sends a request and b answers; then b's link goes down and a sends a
second request. No ACK comes back. First a tail loss probe sends the
segment again, two RTTs plus TCP_RTO_MIN after it (one segment in flight;
tcp_send_loss_probe, TcpExtTCPLossProbes); one RTO later
tcp_retransmit_timer retransmits the head of the queue and doubles the RTO
each time (icsk_backoff; RTO starts from the measured RTT, at least
TCP_RTO_MIN = 200 ms), counting TcpExtTCPTimeouts and TcpRetransSegs.

How long a gives up after is tcp_retries2: not a count of retransmissions
but a time budget (retransmits_timed_out → tcp_model_timeout): the time the
retransmissions would take with RTOs doubling from TCP_RTO_MIN,
tcp_retries2 times (capped at TCP_RTO_MAX, 120 s). Linux's default, 15,
means about 924.6 s. This scenario lowers it to 5 for every host
(net.ipv4.tcp_retries2=5 unless you pass your own --sysctl): a budget of
200 ms × (2^6 - 1) = 12.6 s, counted from the first retransmission
(retrans_stamp). When the budget is spent, tcp_write_timeout
calls tcp_write_err: the socket is closed with ETIMEDOUT, without a RST
(TcpExtTCPAbortOnTimeout), and the application's next call reports it.

Book: net-tcp → retransmission. Linux: tcp_retransmit_timer,
tcp_write_timeout, retransmits_timed_out, tcp_model_timeout, tcp_write_err,
inet_csk_reset_xmit_timer (net/ipv4/tcp_timer.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut opts = opts.clone();
    if !opts.sysctls.iter().any(|(k, _)| k == "net.ipv4.tcp_retries2") {
        opts.sysctls.push(("net.ipv4.tcp_retries2".into(), "5".into()));
    }
    let mut lab = TcpLab::new(&opts)?;
    lab.say(format!(
        "net.ipv4.tcp_retries2 = {} (lowered from 15 so the story takes seconds)",
        lab.a.sysctl.lookup("net.ipv4.tcp_retries2").map_or("?".into(), |s| s.get().to_string())
    ));
    let (client, server, _listener) = lab.connect()?;
    client.send(&[b'q'; 100]).map_err(e("send"))?;
    lab.run_until_ms(20);
    let mut buf = [0u8; 256];
    let n = server.recv(&mut buf).map_err(e("recv on b"))?;
    server.send(&[b'r'; 100]).map_err(e("send on b"))?;
    lab.run_until_ms(40);
    let n2 = client.recv(&mut buf).map_err(e("recv on a"))?;
    lab.say(format!("b: recv() = {n}; a: recv() = {n2}; b's link goes down"));
    lab.db.close();
    client.send(&[b'q'; 100]).map_err(e("send"))?;
    lab.say("a: send(100) = 100");
    let mut last = (0u8, 0u32);
    let mut t = lab.now_ms();
    while t < 30_000 {
        t += 1;
        lab.run_until_ms(t);
        let info = client.tcp_info();
        if info.tcpi_state != 1 {
            break;
        }
        if (info.tcpi_backoff, info.tcpi_rto) != last {
            last = (info.tcpi_backoff, info.tcpi_rto);
            if info.tcpi_backoff > 0 {
                lab.say(format!(
                    "a: RTO fired: retransmits {}, backoff {}, next rto {} ms",
                    info.tcpi_retransmits,
                    info.tcpi_backoff,
                    info.tcpi_rto / 1000
                ));
            }
        }
    }
    let r = client.send(&[b'q'; 10]);
    lab.say(format!(
        "a: send() = {}; state {}",
        r.map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string()),
        client.state().name()
    ));
    Ok(lab.finish(
        "unanswered: the RTO doubles, and when tcp_retries2's time budget is spent the socket dies with ETIMEDOUT"
            .into(),
        None,
        Vec::new(),
    ))
}
