//! The first article's experiment: a server that never closes, a client
//! with two ephemeral ports and `TCP_LINGER2`, and a SYN that meets a
//! CLOSE_WAIT socket.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::Errno;
use net_tcp::TcpSocket;
use net_tcp::af_inet::{SO_ERROR, SOL_SOCKET, SOL_TCP, TCP_LINGER2};
use net_tcp::sock::TcpSock;

use super::lab::B;
use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

/// The article's server port.
const PORT: u16 = 5555;

pub const EXPLAIN: &str = "\
The first article's experiment (Linux 2.6.32 there, 6.18 here). b's server
accepts and never closes. a's client sets TCP_LINGER2 to 1 s, connects and
closes at once; a's ephemeral range is two ports (ip_local_port_range
\"32768 32769\"). Each connection ends half-closed: a's FIN is ACKed, b's
socket sits in CLOSE_WAIT for as long as the application holds it (the
pile-up `ss -tan` shows), and a's orphan waits in FIN_WAIT2 only for
tcp_fin_time() = max(linger2, 3.5 RTO) = 1 s — as a timewait sock in
substate FIN_WAIT2 (tcp_time_wait, TcpExtTWKilled) — and then frees its port.

So the third connect() takes port 32768 again, a 4-tuple b still holds.
a's SYN (a new ISN) reaches b's CLOSE_WAIT socket, not the listener
(__inet_lookup_established comes first). A SYN in a synchronized state
earns a challenge ACK (RFC 5961 §4.2; tcp_validate_incoming →
tcp_send_challenge_ack, rate-limited per socket and per host; TcpExt
TCPSYNChallenge and TCPChallengeACK): a bare ACK carrying b's old snd_nxt
and rcv_nxt — what 2.6.32 sent as a plain duplicate ACK. a, in SYN-SENT,
finds that ACK does not acknowledge its SYN and answers with a RST whose
seq is the ACK's ack_seq (tcp_rcv_synsent_state_process → reset_and_undo;
tcp_v4_send_reset). That seq is exactly b's rcv_nxt, so b's socket is reset
(tcp_reset: EPIPE in CLOSE_WAIT, TcpEstabResets) and leaves the hash
tables; the application still holds the descriptor (lsof: \"can't identify
protocol\"), where recv() returns 0 and SO_ERROR says EPIPE.

Then a's SYN goes again and finds the listener: a normal handshake, a's
FIN, b's ACK, and b has a new CLOSE_WAIT socket. The article waited 3 s
for that SYN (2.6.32's TCP_TIMEOUT_INIT; RFC 6298 made it 1 s in Linux
3.1). Since Linux 5.5 a bad ACK in SYN-SENT also pulls the retransmit
timer in to TCP_TIMEOUT_MIN, 2 jiffies, while no SYN has been retransmitted
(\"Previous FIN/ACK or RST/ACK might be ignored\"): the SYN leaves 2 ms
after the RST here (HZ 1000); the Linux 6.18 kernel this was checked on
(HZ 250) sent it 8.7 and 11.6 ms after. It is still a retransmission
(TcpExtTCPSynRetrans, TcpRetransSegs).

Book: net-tcp → the state machine (RFC 5961 challenge ACKs); the lab →
closewait-port-reuse. Linux: tcp_validate_incoming, tcp_send_challenge_ack,
tcp_rcv_synsent_state_process, tcp_v4_send_reset, tcp_reset, tcp_fin_time,
tcp_time_wait, __inet_hash_connect (net/ipv4/tcp_input.c, tcp_ipv4.c,
tcp_minisocks.c, inet_hashtables.c).";

/// The client program: socket, `TCP_LINGER2` 1 s, connect, and close once
/// connected (the article's client returns from `main()`).
fn client(lab: &mut TcpLab, n: u32) -> Result<Arc<TcpSock>, String> {
    let c = TcpSocket::new(&lab.a).map_err(e("socket"))?;
    c.set_nonblocking(true);
    c.setsockopt_int(SOL_TCP, TCP_LINGER2, 1).map_err(e("setsockopt(TCP_LINGER2)"))?;
    let start = lab.now_ms();
    let r = c.connect(SocketAddrV4::new(B, PORT)).err();
    lab.say(format!(
        "a: client {n}: connect({B}:{PORT}) = {} from port {}",
        r.map_or("0".into(), |err| format!("-1 {err:?}")),
        c.local_addr().port()
    ));
    // Poll until connected, as a blocking connect() would wait.
    let deadline = start + 5_000;
    loop {
        let t = lab.now_ms() + 1;
        lab.run_until_ms(t);
        match c.connect(SocketAddrV4::new(B, PORT)) {
            Ok(()) | Err(Errno::EISCONN) => break,
            Err(Errno::EALREADY) if t < deadline => {}
            Err(err) => return Err(format!("connect: {err}")),
        }
    }
    lab.say(format!("a: client {n}: connected after {} ms; close()", lab.now_ms() - start));
    let sk = c.sock().clone();
    drop(c);
    Ok(sk)
}

/// b's server: accept whatever is queued, keep it forever.
fn accept_all(lab: &mut TcpLab, listener: &TcpSocket, kept: &mut Vec<TcpSocket>) -> Result<(), String> {
    loop {
        match listener.accept() {
            Ok((s, peer)) => {
                lab.say(format!("b: accept() = fd {} ({peer}); never closed", kept.len() + 4));
                kept.push(s);
            }
            Err(Errno::EAGAIN) => return Ok(()),
            Err(err) => return Err(format!("accept: {err}")),
        }
    }
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    lab.a
        .sysctl
        .set("net.ipv4.ip_local_port_range", "32768 32769")
        .map_err(|err| format!("sysctl: {err}"))?;
    lab.say("a: sysctl net.ipv4.ip_local_port_range=\"32768 32769\"");
    let listener = TcpSocket::new(&lab.b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).map_err(e("bind"))?;
    listener.listen(10).map_err(e("listen"))?;
    lab.say(format!("b: listen(0.0.0.0:{PORT}, 10)"));
    let mut kept: Vec<TcpSocket> = Vec::new();
    let mut clients: Vec<Arc<TcpSock>> = Vec::new();

    lab.run_until_ms(10);
    clients.push(client(&mut lab, 1)?);
    lab.run_until_ms(60);
    accept_all(&mut lab, &listener, &mut kept)?;
    clients.push(client(&mut lab, 2)?);
    lab.run_until_ms(110);
    accept_all(&mut lab, &listener, &mut kept)?;
    let table = |lab: &mut TcpLab, title: &str, kept: &[TcpSocket], clients: &[Arc<TcpSock>]| {
        let mut socks: Vec<(&str, &Arc<TcpSock>)> = vec![("b", listener.sock())];
        socks.extend(kept.iter().map(|s| ("b", s.sock())));
        socks.extend(clients.iter().map(|s| ("a", s)));
        lab.ss_diag(title, &socks);
    };
    table(&mut lab, "both ports used", &kept, &clients);

    lab.run_until_ms(1600);
    table(&mut lab, "a's FIN_WAIT2 orphans are gone, b's CLOSE_WAIT sockets stay", &kept, &clients);
    clients.push(client(&mut lab, 3)?);
    lab.run_until_ms(1700);
    accept_all(&mut lab, &listener, &mut kept)?;
    let first = &kept[0];
    let mut buf = [0u8; 16];
    let n = first.recv(&mut buf).map_or_else(|err| format!("-1 {err:?}"), |n| n.to_string());
    let err = first.getsockopt_int(SOL_SOCKET, SO_ERROR).map_err(e("getsockopt"))?;
    lab.say(format!(
        "b: fd 4: reset, CLOSE, in no hash table (lsof: \"can't identify protocol\"); recv() = {n}; SO_ERROR = {}",
        Errno::ALL.iter().find(|x| x.errno() == err).map_or(err.to_string(), |x| x.name().to_string())
    ));
    table(&mut lab, "the third connection", &kept, &clients);
    lab.run_until_ms(2000);
    Ok(lab.finish(
        "a SYN meets b's CLOSE_WAIT socket: challenge ACK, RST at its ack, b's socket reset; the SYN again 2 ms later opens a new connection"
            .into(),
        None,
        Vec::new(),
    ))
}
