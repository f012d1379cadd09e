//! A datagram larger than the MTU, fragmented and reassembled.

use std::fmt::Write;
use std::net::SocketAddrV4;

use net_core::snmp::IpstatsMib;
use net_ipv4::udp::UdpSocket;

use super::lab::{A, B, Lab};
use crate::trace::Trace;
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Host a sends one 4000-byte UDP datagram to host b over Ethernet (MTU 1500).
The socket leaves DF clear for a datagram that does not fit the path MTU,
so ip_finish_output sends it through ip_fragment: three fragments, each
with the same IP ID, offsets 0, 1480 and 2960 (multiples of 8) and the MF
bit on all but the last. b's ip_local_deliver queues them (ip_defrag,
ip_frag_queue) and hands UDP one datagram once the last hole is filled.

Book: net-ipv4 → fragments. Linux: ip_do_fragment (net/ipv4/ip_output.c),
ip_defrag (net/ipv4/ip_fragment.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let lab = Lab::new(opts)?;
    let e = |what: &'static str| move |err: net_core::Errno| format!("{what}: {err}");
    let rx = UdpSocket::new(&lab.b).map_err(e("socket"))?;
    rx.bind(SocketAddrV4::new(B, 7)).map_err(e("bind"))?;
    let tx = UdpSocket::new(&lab.a).map_err(e("socket"))?;
    tx.bind(SocketAddrV4::new(A, 40000)).map_err(e("bind"))?;
    // Resolve b first so the trace shows only the fragments.
    tx.sendto(b"warm-up", SocketAddrV4::new(B, 7)).map_err(e("sendto"))?;
    lab.run_until_ms(10);
    let mut buf = vec![0u8; 65536];
    rx.recvfrom(&mut buf).map_err(e("recvfrom"))?;

    let trace = Trace::attach(&lab.a);
    let (a0, b0) = (lab.a.mib.snapshot(), lab.b.mib.snapshot());
    let data: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    tx.sendto(&data, SocketAddrV4::new(B, 7)).map_err(e("sendto"))?;
    lab.run_until_ms(20);
    let (n, from) = rx.recvfrom(&mut buf).map_err(e("recvfrom"))?;

    let mut out = String::new();
    let _ = writeln!(out, "tcpdump -n -i eth0 (on a, {A})");
    out.push_str(&trace.text());
    let _ = writeln!(
        out,
        "\nb: recvfrom() = {n} bytes from {from}; identical to what a sent: {}",
        buf[..n] == data[..]
    );
    let (a1, b1) = (lab.a.mib.snapshot(), lab.b.mib.snapshot());
    for (host, s0, s1, items) in [
        ("a", &a0, &a1, [IpstatsMib::FragOKs, IpstatsMib::FragCreates, IpstatsMib::OutRequests]),
        ("b", &b0, &b1, [IpstatsMib::ReasmReqds, IpstatsMib::ReasmOKs, IpstatsMib::InDelivers]),
    ] {
        let row: Vec<String> =
            items.iter().map(|&m| format!("Ip{:?} {}", m, s1.get(m) - s0.get(m))).collect();
        let _ = writeln!(out, "{host}: {}", row.join("  "));
    }
    Ok(Report {
        headline:
            "one 4000-byte datagram leaves as three fragments (offsets 0, 1480, 2960) and arrives whole"
                .into(),
        text: out,
        frames: trace.frames(),
        ..Default::default()
    })
}
