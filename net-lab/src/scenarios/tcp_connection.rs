//! A TCP connection from first SYN to the end of TIME_WAIT.

use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use net_tcp::TcpSocket;
use net_tcp::tcp_states::TcpState;

use super::lab::{A, B, Lab};
use crate::trace::Trace;
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Host b listens on port 80 (inet_listen → inet_csk_listen_start: the socket
goes into the listening hash). Host a connects: tcp_v4_connect picks an
ephemeral port with __inet_hash_connect, an ISN with secure_tcp_seq, and
tcp_connect sends the SYN with the MSS option. b's tcp_v4_rcv finds the
listener by __inet_lookup_listener, makes a SYN_RECV child and answers
SYN-ACK; a's tcp_rcv_synsent_state_process completes the handshake and
ACKs. a writes a 64-byte request, b replies, and a closes first: FIN_WAIT1,
FIN_WAIT2 once b ACKs (a delayed ACK: tcp_fin puts b in interactive mode),
then b closes and a sits in TIME_WAIT for TCP_TIMEWAIT_LEN, 60 s of virtual
time, before the socket is gone.

Book: net-tcp → connections. Linux: tcp_v4_connect, tcp_conn_request,
tcp_rcv_state_process, tcp_fin, tcp_time_wait (net/ipv4/tcp_ipv4.c,
tcp_input.c, tcp_minisocks.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let lab = Lab::new(opts)?;
    let e = |what: &'static str| move |err: net_core::Errno| format!("{what}: {err}");
    let trace = Trace::attach(&lab.a);
    let (a_before, b_before) = (lab.a.mib.snapshot(), lab.b.mib.snapshot());
    let mut out = String::new();

    let listener = TcpSocket::new(&lab.b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).map_err(e("bind"))?;
    listener.listen(128).map_err(e("listen"))?;
    let client = TcpSocket::new(&lab.a).map_err(e("socket"))?;
    client.set_nonblocking(true);
    let r = client.connect(SocketAddrV4::new(B, 80)).err().map_or("0".into(), |e| format!("-1 {e:?}"));
    let _ = writeln!(out, "a: connect({B}:80) = {r}");
    lab.run_until_ms(10);
    let (server, peer) = listener.accept().map_err(e("accept"))?;
    server.set_nonblocking(true);
    let _ = writeln!(out, "b: accept() = {peer}");
    let r = client.connect(SocketAddrV4::new(B, 80)).err().map_or("0".into(), |e| format!("-1 {e:?}"));
    let _ = writeln!(out, "a: connect() again = {r}, state {}", client.state().name());

    let request = [b'q'; 64];
    client.send(&request).map_err(e("send"))?;
    lab.run_until_ms(20);
    let mut buf = [0u8; 256];
    let n = server.recv(&mut buf).map_err(e("recv on b"))?;
    let _ = writeln!(out, "b: recv() = {n}");
    server.send(&[b'r'; 64]).map_err(e("send on b"))?;
    lab.run_until_ms(30);
    let n = client.recv(&mut buf).map_err(e("recv on a"))?;
    let _ = writeln!(out, "a: recv() = {n}");

    let csk = client.sock().clone();
    drop(client);
    lab.run_until_ms(35);
    let _ = writeln!(
        out,
        "a: close(); state {}",
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk).name()
    );
    lab.run_until_ms(100);
    let _ = writeln!(
        out,
        "a: 100 ms: state {}; b: state {}",
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk).name(),
        server.state().name()
    );
    let n = server.recv(&mut buf).map_err(e("recv on b"))?;
    let _ = writeln!(out, "b: recv() = {n} (end of stream)");
    drop(server);
    lab.run_until_ms(120);
    let _ = writeln!(
        out,
        "b: close(); a: state {}",
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk).name()
    );
    lab.run_until_ms(60_000);
    let _ = writeln!(
        out,
        "60.000 s: a: state {}",
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk).name()
    );
    lab.run_until_ms(60_200);
    let gone = net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk) == TcpState::Close;
    let _ = writeln!(
        out,
        "60.200 s: a: state {}",
        net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &csk).name()
    );

    let mut text = String::new();
    let _ = writeln!(text, "tcpdump -n -i eth0 (on a, {A})");
    text.push_str(&trace.text());
    text.push('\n');
    text.push_str(&out);
    let _ = writeln!(text, "\nnstat (on a):");
    text.push_str(&lab.a.mib.snapshot().nstat_diff(&a_before));
    let _ = writeln!(text, "\nnstat (on b):");
    text.push_str(&lab.b.mib.snapshot().nstat_diff(&b_before));
    Ok(Report {
        headline: if gone {
            "three segments to open, four to close, and 60 s of TIME_WAIT on the side that closed first"
                .into()
        } else {
            "the TIME_WAIT socket did not go away after 60 s".into()
        },
        text,
        frames: trace.frames(),
        ..Default::default()
    })
}
