//! close() that resets: `SO_LINGER` with a zero timeout, and unread data.

use net_core::Errno;

use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The third article's SO_LINGER note, run twice on one wire. First a sets
SO_LINGER {l_onoff = 1, l_linger = 0} and closes: tcp_close() skips the FIN
handshake, calls tcp_disconnect() and sends a RST|ACK at snd_nxt
(tcp_send_active_reset; TcpExtTCPAbortOnData, TcpEstabResets, TcpOutRsts).
No FIN_WAIT, no TIME_WAIT: the four-tuple is free at once, which is why
people reach for it — and why it is dangerous, since anything still in
flight is lost. b's next recv() reports ECONNRESET (tcp_reset from
ESTABLISHED) and b's socket leaves `ss` too.

Then a second connection: b sends 100 bytes that a never reads, and a
closes normally. RFC 2525 §2.17 / RFC 9293: data the application never
read is lost, so the peer must be told — tcp_close() finds the receive
queue non-empty and sends a RST instead of a FIN (TcpExtTCPAbortOnClose).

Book: net-tcp → the state machine (closing). Linux: tcp_close,
tcp_disconnect, tcp_send_active_reset, tcp_reset (net/ipv4/tcp.c,
tcp_output.c, tcp_input.c).";

/// The state `ss` would show, or "gone" for a socket in no table.
fn shown(net: &net_core::Net, sk: &net_tcp::sock::TcpSock) -> &'static str {
    match net_tcp::inet_timewait_sock::inet_sk_diag_state(net, sk) {
        net_tcp::tcp_states::TcpState::Close => "gone (CLOSE)",
        st => st.name(),
    }
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    let (client, server, listener) = lab.connect()?;
    client.send(&[b'q'; 64]).map_err(e("send"))?;
    lab.run_until_ms(20);
    let mut buf = [0u8; 256];
    let n = server.recv(&mut buf).map_err(e("recv on b"))?;
    lab.say(format!("b: recv() = {n}"));
    let mut linger = [0u8; 8];
    linger[..4].copy_from_slice(&1i32.to_ne_bytes());
    client
        .setsockopt(net_tcp::af_inet::SOL_SOCKET, net_tcp::af_inet::SO_LINGER, &linger)
        .map_err(e("setsockopt(SO_LINGER)"))?;
    lab.say("a: setsockopt(SO_LINGER, {l_onoff=1, l_linger=0}); close()");
    let csk = client.sock().clone();
    drop(client);
    lab.run_until_ms(30);
    let r = server.recv(&mut buf).map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string());
    lab.say(format!("b: recv() = {r}; a: {}, b: {}", shown(&lab.a, &csk), shown(&lab.b, server.sock())));
    lab.ss_diag(
        "after the RST: nothing left but the listener",
        &[("a", &csk), ("b", server.sock()), ("b", listener.sock())],
    );
    drop(server);

    // The second connection: unread data at close().
    let client = net_tcp::TcpSocket::new(&lab.a).map_err(e("socket"))?;
    client.set_nonblocking(true);
    lab.start_connect(&client)?;
    let (server, _) = lab.accept_within(&listener, 1_000)?;
    server.set_nonblocking(true);
    server.send(&[b'r'; 100]).map_err(e("send on b"))?;
    let t = lab.now_ms() + 10;
    lab.run_until_ms(t);
    lab.say("b: send(100); a never reads it; a: close()");
    let csk = client.sock().clone();
    drop(client);
    let t = lab.now_ms() + 10;
    lab.run_until_ms(t);
    let r = server.recv(&mut buf).map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string());
    lab.say(format!("b: recv() = {r}; a: {}, b: {}", shown(&lab.a, &csk), shown(&lab.b, server.sock())));
    lab.run_until_ms(1000);
    Ok(lab.finish(
        "SO_LINGER 0, or unread data: close() sends RST|ACK instead of FIN; no TIME_WAIT, and the peer gets ECONNRESET"
            .into(),
        None,
        Vec::new(),
    ))
}
