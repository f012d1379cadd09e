//! Keepalive: an idle connection is probed; when the peer vanishes, the
//! probes go unanswered and the connection is reset.

use net_tcp::af_inet::{
    SO_ERROR, SO_KEEPALIVE, SOL_SOCKET, SOL_TCP, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL,
};

use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
a turns on SO_KEEPALIVE with TCP_KEEPIDLE 10 s, TCP_KEEPINTVL 2 s and
TCP_KEEPCNT 3 (the defaults, tcp_keepalive_time 7200 s, intvl 75 s and 9
probes, would take over two hours of virtual time; the mechanism is the
same). tcp_set_keepalive arms the keepalive timer. After 10 idle seconds
tcp_keepalive_timer sends a probe (tcp_write_wakeup → tcp_xmit_probe_skb: an
ACK with sequence number snd_una - 1, so the peer must answer with an ACK;
TcpExtTCPKeepAlive counts it), and b's ACK resets the idle clock.

Then b vanishes: its link goes down (a crashed host, a pulled cable) and
nothing it would send arrives. The next probe is unanswered, so the timer
re-arms every TCP_KEEPINTVL and counts icsk_probes_out; when it reaches
TCP_KEEPCNT, tcp_keepalive_timer sends a RST (tcp_send_active_reset), reports
ETIMEDOUT (tcp_write_err → tcp_done) and the socket is closed: the next
recv() fails with ETIMEDOUT. This is why applications that must notice a
dead peer quickly keep their own heartbeats: with the defaults it takes
7200 + 9 × 75 s.

Book: net-tcp → options, ACKs and timers. Linux: tcp_set_keepalive,
tcp_keepalive_timer, keepalive_time_elapsed, tcp_write_wakeup,
tcp_xmit_probe_skb, tcp_send_active_reset, tcp_write_err (net/ipv4/tcp.c,
tcp_timer.c, tcp_output.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    let (client, server, _listener) = lab.connect()?;
    client.setsockopt_int(SOL_SOCKET, SO_KEEPALIVE, 1).map_err(e("setsockopt(SO_KEEPALIVE)"))?;
    client.setsockopt_int(SOL_TCP, TCP_KEEPIDLE, 10).map_err(e("setsockopt(TCP_KEEPIDLE)"))?;
    client.setsockopt_int(SOL_TCP, TCP_KEEPINTVL, 2).map_err(e("setsockopt(TCP_KEEPINTVL)"))?;
    client.setsockopt_int(SOL_TCP, TCP_KEEPCNT, 3).map_err(e("setsockopt(TCP_KEEPCNT)"))?;
    lab.say("a: SO_KEEPALIVE on; TCP_KEEPIDLE 10, TCP_KEEPINTVL 2, TCP_KEEPCNT 3");
    lab.run_until_ms(15_000);
    lab.say(format!(
        "a: {}, tcp_info probes {}; b's link goes down",
        client.state().name(),
        client.tcp_info().tcpi_probes
    ));
    lab.db.close();
    lab.run_until_ms(40_000);
    let mut buf = [0u8; 16];
    let r = client.recv(&mut buf);
    lab.say(format!(
        "a: recv() = {}; state {}; SO_ERROR {}",
        r.map_or_else(|err| format!("-1 {err:?}"), |n| n.to_string()),
        client.state().name(),
        client.getsockopt_int(SOL_SOCKET, SO_ERROR).unwrap_or(-1)
    ));
    lab.say(format!("b: still {} (it never heard a thing)", server.state().name()));
    Ok(lab.finish(
        "one probe answered; then the peer vanishes: three probes 2 s apart, a RST, and ETIMEDOUT".into(),
        None,
        Vec::new(),
    ))
}
