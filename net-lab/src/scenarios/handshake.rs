//! The three-way handshake with Linux's options, and `ss -tan` at each step.

use super::tcplab::TcpLab;
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
b listens on port 80 with a backlog of 128; a connects. tcp_v4_connect
picks the ephemeral port and the ISN (secure_tcp_seq) and tcp_connect sends
the SYN with Linux's options in Linux's order: mss 1460, sackOK, TS val (the
clock plus a per-connection offset, secure_tcp_ts_off) ecr 0, nop, wscale
(tcp_select_initial_window, from tcp_rmem[2] and rmem_max). b's
tcp_conn_request answers SYN-ACK with its own options and echoes a's
timestamp; a's tcp_rcv_synsent_state_process ACKs, and the ACK carries only
the timestamp (nop,nop,TS). The window field of every segment after the SYNs
is scaled (RFC 7323 §2.2: never scaled on a SYN).

The socket tables are what `ss -tan` prints: a SYN-SENT socket with one
unacknowledged byte (the SYN) in Send-Q; a listener whose Recv-Q is its
accept queue (the established child waiting for accept()) and whose Send-Q is
the backlog; then both ends ESTAB with empty queues.

Book: net-tcp → the state machine; options, ACKs and timers. Linux:
tcp_v4_connect, tcp_connect, tcp_syn_options, tcp_conn_request,
tcp_synack_options, tcp_rcv_synsent_state_process, tcp_check_req,
inet_csk_accept (net/ipv4/tcp_ipv4.c, tcp_output.c, tcp_input.c,
tcp_minisocks.c, inet_connection_sock.c); tcp_diag_get_info for ss's queues.";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    use super::tcplab::e;
    use net_tcp::TcpSocket;
    use std::net::{Ipv4Addr, SocketAddrV4};

    let mut lab = TcpLab::new(opts)?;
    let listener = TcpSocket::new(&lab.b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, super::tcplab::PORT)).map_err(e("bind"))?;
    listener.listen(128).map_err(e("listen"))?;
    lab.say("b: listen(fd, 128) on 0.0.0.0:80");
    let client = TcpSocket::new(&lab.a).map_err(e("socket"))?;
    client.set_nonblocking(true);
    lab.start_connect(&client)?;
    lab.ss("the SYN is out", &[("a", client.sock()), ("b", listener.sock())]);
    lab.run_until_ms(5);
    let child = listener.sock().lock.lock().accept_queue.front().clone_pointer();
    let mut rows = vec![("a", client.sock()), ("b", listener.sock())];
    if let Some(c) = child.as_ref() {
        rows.push(("b", c));
    }
    lab.ss("handshake done, not yet accepted", &rows);
    let (server, peer) = listener.accept().map_err(e("accept"))?;
    lab.say(format!("b: accept() = {peer}"));
    let info = client.tcp_info();
    lab.say(format!(
        "a: tcp_info: state {}, snd_mss {}, rcv_mss {}, snd_cwnd {}, rtt {} us, snd_wnd {}",
        client.state().name(),
        info.tcpi_snd_mss,
        info.tcpi_rcv_mss,
        info.tcpi_snd_cwnd,
        info.tcpi_rtt,
        info.tcpi_snd_wnd
    ));
    lab.ss("after accept()", &[("a", client.sock()), ("b", listener.sock()), ("b", server.sock())]);
    Ok(lab.finish(
        "SYN, SYN-ACK, ACK: options on the SYNs only, timestamps on everything, windows scaled after".into(),
        None,
        Vec::new(),
    ))
}
