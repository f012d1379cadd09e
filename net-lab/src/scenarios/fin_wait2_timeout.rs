//! An orphan in FIN_WAIT2 whose peer never closes: tcp_fin_timeout, and
//! TCP_LINGER2 per socket.

use std::sync::Arc;

use net_core::Errno;
use net_tcp::TcpSocket;
use net_tcp::af_inet::{SOL_TCP, TCP_LINGER2};
use net_tcp::sock::TcpSock;

use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The third article's FIN_WAIT2. a opens two connections to b and closes
both; b ACKs each FIN but its application never closes (CLOSE_WAIT). a's
sockets are orphans in FIN_WAIT2: nothing will ever come from b, so Linux
bounds the wait by tcp_fin_time() = TCP_LINGER2 if set, else
net.ipv4.tcp_fin_timeout (60 s), and at least 3.5 RTO. When that is not
above TCP_TIMEWAIT_LEN, the ACK of the FIN turns the orphan into a
timewait sock in substate FIN_WAIT2 at once (tcp_rcv_state_process →
tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)), which `ss` still lists as
FIN-WAIT-2 (TcpExtTW for 60 s, TcpExtTWKilled for one of 4 s or less); a
longer one keeps the full socket on the keepalive timer for the excess
(tcp_fin_timeout up to 120 s is allowed).

Connection 1 keeps the default: FIN-WAIT-2 for 60 s. Connection 2 sets
TCP_LINGER2 = 5: gone after 5 s. Connection 3 sets TCP_LINGER2 = -1: no
FIN_WAIT2 at all — when b's ACK of the FIN arrives, the orphan is done
(tcp_done, TcpExtTCPAbortOnData) and the ACK is answered with a RST, which
resets b's socket at once. Connection 4 sets TCP_LINGER2 = 90, above
TCP_TIMEWAIT_LEN: the full socket stays in FIN_WAIT2 on the keepalive
timer for tmo - TCP_TIMEWAIT_LEN = 30 s, and tcp_keepalive_timer then hands
it to tcp_time_wait(sk, TCP_FIN_WAIT2, tmo) with tmo = tcp_fin_time() -
TCP_TIMEWAIT_LEN — 30 s again. So it lasts 60 s, not 90: a Linux quirk
(the kernel on this machine: `ss -o` showed keepalive,30sec, then
timewait,29sec, and the row gone at 62 s). b's sockets stay in CLOSE_WAIT: b's
application learns nothing until it writes — then a, with no socket left,
answers with a RST (tcp_v4_send_reset), which resets b's CLOSE_WAIT
socket (tcp_reset: EPIPE in that state), so b's next send() fails.

Checked on Linux 6.18 (lo in a netns, tcp_fin_timeout lowered to 3 s):
the FIN-WAIT-2 row gone after 3 s (TcpExtTWKilled), b's write answered
with a RST and the next send() failing with EPIPE; TCP_LINGER2 = -1
answered the ACK of the FIN with `R seq <ISN+2>` (TcpExtTCPAbortOnData),
leaving b's socket reset.

Book: net-tcp → the state machine (closing). Linux: tcp_fin_time,
tcp_rcv_state_process (FIN_WAIT1 → FIN_WAIT2), tcp_time_wait,
tcp_timewait_state_process, tcp_keepalive_timer, do_tcp_setsockopt
(TCP_LINGER2) (net/ipv4/tcp_input.c, tcp_minisocks.c, tcp_timer.c, tcp.c).";

/// a connects (TCP_LINGER2 = `linger2` if given), b accepts; returns
/// (a's sock, b's socket).
fn open(
    lab: &mut TcpLab,
    listener: &TcpSocket,
    linger2: Option<i32>,
) -> Result<(Arc<TcpSock>, TcpSocket), String> {
    let client = TcpSocket::new(&lab.a).map_err(e("socket"))?;
    client.set_nonblocking(true);
    if let Some(v) = linger2 {
        client.setsockopt_int(SOL_TCP, TCP_LINGER2, v).map_err(e("setsockopt(TCP_LINGER2)"))?;
        lab.say(format!("a: setsockopt(TCP_LINGER2, {v})"));
    }
    lab.start_connect(&client)?;
    let (server, _) = lab.accept_within(listener, 1_000)?;
    server.set_nonblocking(true);
    lab.say(format!("a: close() port {}; b: never closes", client.local_addr().port()));
    let sk = client.sock().clone();
    drop(client);
    Ok((sk, server))
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    let listener = TcpSocket::new(&lab.b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener
        .bind(std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, super::tcplab::PORT))
        .map_err(e("bind"))?;
    listener.listen(10).map_err(e("listen"))?;
    let (a1, b1) = open(&mut lab, &listener, None)?;
    let (a2, b2) = open(&mut lab, &listener, Some(5))?;
    let (a3, b3) = open(&mut lab, &listener, Some(-1))?;
    let (a4, b4) = open(&mut lab, &listener, Some(90))?;
    let socks = |lab: &mut TcpLab, title: &str| {
        lab.ss_diag(
            title,
            &[
                ("a", &a1),
                ("a", &a2),
                ("a", &a3),
                ("a", &a4),
                ("b", b1.sock()),
                ("b", b2.sock()),
                ("b", b3.sock()),
                ("b", b4.sock()),
            ],
        );
    };
    lab.run_until_ms(1_000);
    let r3 = b3.send(&[b'x'; 10]).map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string());
    lab.say(format!(
        "b: send() = {r3} on the third: TCP_LINGER2 = -1 answered the ACK of its FIN with a RST"
    ));
    socks(&mut lab, "orphans in FIN_WAIT2; the third reset at once");
    lab.run_until_ms(6_000);
    socks(&mut lab, "TCP_LINGER2 = 5 has run out");
    lab.run_until_ms(59_000);
    socks(&mut lab, "just before tcp_fin_timeout");
    lab.run_until_ms(61_000);
    socks(&mut lab, "tcp_fin_timeout has run out; TCP_LINGER2 = 90 has too");
    let mut buf = [0u8; 16];
    let r = b1.recv(&mut buf).map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string());
    lab.say(format!("b: recv() = {r} (end of stream, long ago); send(10) on both"));
    b1.send(&[b'x'; 10]).map_err(e("send"))?;
    b2.send(&[b'x'; 10]).map_err(e("send"))?;
    lab.run_until_ms(61_100);
    let r1 = b1.send(&[b'x'; 10]).map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string());
    let r2 = b2.send(&[b'x'; 10]).map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string());
    lab.say(format!("b: send() = {r1}, {r2}: a had no socket left and answered with RSTs"));
    Ok(lab.finish(
        "orphans in FIN_WAIT2 die after tcp_fin_timeout (60 s) or TCP_LINGER2 (5 s); b's CLOSE_WAIT learns only when it writes"
            .into(),
        None,
        Vec::new(),
    ))
}
