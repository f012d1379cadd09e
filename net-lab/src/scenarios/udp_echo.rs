//! UDP echo, and a datagram to a closed port.

use std::fmt::Write;
use std::net::SocketAddrV4;

use net_ipv4::udp::UdpSocket;

use super::lab::{A, B, Lab};
use crate::trace::Trace;
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Host b runs a UDP echo service on port 7; host a sends it a datagram and
reads the echo. Then a connects a second socket to port 9 on b, where
nothing listens: b's __udp4_lib_rcv finds no socket, counts Udp NoPorts
and answers with ICMP port unreachable (icmp_send); on a, icmp_unreach
hands the error to UDP's err_handler (__udp4_lib_err), which marks the
connected socket, and the next recv() fails with ECONNREFUSED, as it does
on Linux.

Book: net-ipv4 → ICMP and UDP. Linux: udp_sendmsg, __udp4_lib_rcv,
__udp4_lib_err, __icmp_send (net/ipv4/udp.c, net/ipv4/icmp.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let lab = Lab::new(opts)?;
    let e = |what: &'static str| move |err: net_core::Errno| format!("{what}: {err}");
    let echo = UdpSocket::new(&lab.b).map_err(e("socket"))?;
    echo.bind(SocketAddrV4::new(B, 7)).map_err(e("bind"))?;
    let client = UdpSocket::new(&lab.a).map_err(e("socket"))?;
    client.bind(SocketAddrV4::new(A, 40000)).map_err(e("bind"))?;
    let trace = Trace::attach(&lab.a);
    let b_before = lab.b.mib.snapshot();

    let mut out = String::new();
    client.sendto(b"hello, linnet", SocketAddrV4::new(B, 7)).map_err(e("sendto"))?;
    lab.run_until_ms(10);
    let mut buf = [0u8; 1500];
    let (n, from) = echo.recvfrom(&mut buf).map_err(e("recvfrom on b"))?;
    let _ = writeln!(out, "b: recvfrom() = {n} bytes from {from}: {:?}", String::from_utf8_lossy(&buf[..n]));
    echo.sendto(&buf[..n], from).map_err(e("sendto on b"))?;
    lab.run_until_ms(20);
    let (n, from) = client.recvfrom(&mut buf).map_err(e("recvfrom on a"))?;
    let _ = writeln!(out, "a: recvfrom() = {n} bytes from {from}: {:?}", String::from_utf8_lossy(&buf[..n]));
    let again = client.recvfrom(&mut buf).err().map_or("data".to_string(), |e| format!("{e:?} ({e})"));
    let _ = writeln!(out, "a: recvfrom() again = {again}");

    let lonely = UdpSocket::new(&lab.a).map_err(e("socket"))?;
    lonely.bind(SocketAddrV4::new(A, 40001)).map_err(e("bind"))?;
    lonely.connect(SocketAddrV4::new(B, 9)).map_err(e("connect"))?;
    lonely.send(b"anyone?").map_err(e("send"))?;
    lab.run_until_ms(30);
    let r = lonely.recv(&mut buf).err().map_or("data".to_string(), |e| format!("{e:?} ({e})"));
    let _ = writeln!(out, "a: connected to {B}:9, recv() = {r}");

    let mut text = String::new();
    let _ = writeln!(text, "tcpdump -n -i eth0 (on a, {A})");
    text.push_str(&trace.text());
    text.push('\n');
    text.push_str(&out);
    let _ = writeln!(text, "\nnstat (on b):");
    text.push_str(&lab.b.mib.snapshot().nstat_diff(&b_before));
    Ok(Report {
        headline:
            "a datagram to a closed port comes back as ICMP port unreachable, and recv() says ECONNREFUSED"
                .into(),
        text,
        frames: trace.frames(),
        ..Default::default()
    })
}
