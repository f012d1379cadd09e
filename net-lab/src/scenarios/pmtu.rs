//! Path MTU discovery: a router's smaller link, ICMP "fragmentation
//! needed", and TCP resending what was in flight in smaller pieces.

use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use net_core::snmp::{IcmpMsg, IpstatsMib, LinuxMib, TcpMib};
use net_core::{Clock, Net};
use net_ipv4::devinet::inet_addr_add;
use net_ipv4::fib::FibRoute;
use net_ipv4::testlink::{Hub, run_until_idle};
use net_tcp::TcpSocket;

use super::lab::LATENCY_NS;
use crate::trace::Trace;
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Host a (10.0.1.2) reaches host b (10.0.2.2) through router r, whose link
to b has MTU 1000; a and b are on MTU-1500 links and agree on an MSS of
1460 (1448 with timestamps). a sends 6000 bytes: every segment carries DF
(TCP's default, ip_queue_xmit), so r's ip_forward cannot fragment it and
answers with ICMP 'fragmentation needed', its MTU in the message (RFC
1191, icmp_send). a's tcp_v4_err records the path MTU (__ip_rt_update_pmtu:
an exception that expires in 600 s), tcp_v4_mtu_reduced lowers the MSS to
948 (tcp_sync_mss), and tcp_simple_retransmit resends at once everything in
flight that no longer fits, cut to the new size (tcp_fragment), without
waiting for a timeout and without touching the congestion window.

Book: net-tcp → retransmission. Linux: ip_forward (net/ipv4/ip_forward.c),
tcp_v4_err and tcp_v4_mtu_reduced (net/ipv4/tcp_ipv4.c),
tcp_simple_retransmit (net/ipv4/tcp_input.c).";

/// a, r and b.
const A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The MTU of r's link to b.
const NARROW_MTU: u32 = 1000;
/// Bytes a sends.
const SENT: usize = 6000;

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let clock = Clock::new_virtual();
    let (seg1, seg2) = (Hub::new(&clock, LATENCY_NS), Hub::new(&clock, LATENCY_NS));
    let host = |name: &str, n: u64| {
        crate::inet_host(name, clock.clone(), &RunOpts { seed: opts.seed.wrapping_add(n), ..opts.clone() })
    };
    let ((a, a4), (r, r4), (b, b4)) = (host("a", 0)?, host("r", 1)?, host("b", 2)?);
    let a_eth0 = seg1.attach(&a, "eth0", [2, 0, 0, 0, 1, 2]).ifindex;
    let r_eth0 = seg1.attach(&r, "eth0", [2, 0, 0, 0, 1, 1]).ifindex;
    let r_eth1 = seg2.attach(&r, "eth1", [2, 0, 0, 0, 2, 1]);
    let b_eth0 = seg2.attach(&b, "eth0", [2, 0, 0, 0, 2, 2]).ifindex;
    r.dev_set_mtu(&r_eth1, NARROW_MTU).map_err(|e| format!("ip link set eth1 mtu {NARROW_MTU}: {e}"))?;
    let addr = |net: &Net, ipv4: &net_ipv4::Ipv4, dev: u32, ip: [u8; 4]| {
        inet_addr_add(net, ipv4, dev, ip.into(), 24).map_err(|e| format!("ip addr add: {e}"))
    };
    addr(&a, &a4, a_eth0, [10, 0, 1, 2])?;
    addr(&r, &r4, r_eth0, [10, 0, 1, 1])?;
    addr(&r, &r4, r_eth1.ifindex, [10, 0, 2, 1])?;
    addr(&b, &b4, b_eth0, [10, 0, 2, 2])?;
    let via = |gw: [u8; 4], oif: u32| FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(gw.into()), oif);
    a4.fib.fib_table_insert(via([10, 0, 1, 1], a_eth0)).map_err(|e| format!("ip route add: {e}"))?;
    b4.fib.fib_table_insert(via([10, 0, 2, 1], b_eth0)).map_err(|e| format!("ip route add: {e}"))?;
    r.sysctl.set("net.ipv4.ip_forward", "1").map_err(|e| e.to_string())?;
    let hosts = [&a, &r, &b];
    let run_until_ms = |ms: u64| run_until_idle(&clock, &hosts, ms * 1_000_000);
    run_until_ms(1);

    let e = |what: &'static str| move |err: net_core::Errno| format!("{what}: {err}");
    let listener = TcpSocket::new(&b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).map_err(e("bind"))?;
    listener.listen(8).map_err(e("listen"))?;
    let client = TcpSocket::new(&a).map_err(e("socket"))?;
    client.set_nonblocking(true);
    let trace = Trace::attach(&a);
    let _ = client.connect(SocketAddrV4::new(B, 80));
    run_until_ms(10);
    let (server, _) = listener.accept().map_err(e("accept"))?;
    server.set_nonblocking(true);
    let mss_before = client.tcp_info().tcpi_snd_mss;
    let (a0, r0) = (a.mib.snapshot(), r.mib.snapshot());
    let data: Vec<u8> = (0..SENT as u32).map(|i| (i % 251) as u8).collect();
    let n = client.send(&data).map_err(e("send"))?;
    run_until_ms(100);
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(k @ 1..) = server.recv(&mut buf) {
        got.extend_from_slice(&buf[..k]);
    }

    let mut out = String::new();
    let _ = writeln!(out, "a — r — b; r's eth1 (towards b) has MTU {NARROW_MTU}");
    let _ = writeln!(out, "\ntcpdump -n -i eth0 (on a, {A})");
    out.push_str(&trace.text());
    let _ = writeln!(
        out,
        "\na: send({SENT} bytes) = {n}; b: recv() got {} bytes, identical: {}",
        got.len(),
        got == data[..n]
    );
    let route_mtu = net_ipv4::route::ip_route_output(&a, &a4, B, None, None).map(|rt| rt.mtu).unwrap_or(0);
    let _ = writeln!(
        out,
        "a: the route to {B} now says mtu {route_mtu}; the connection's MSS went from {mss_before} to {}",
        client.tcp_info().tcpi_snd_mss
    );
    let (a1, r1) = (a.mib.snapshot(), r.mib.snapshot());
    let _ = writeln!(
        out,
        "r: IpFragFails {}  IcmpOutType3 {}  IpForwDatagrams {}",
        r1.get(IpstatsMib::FragFails) - r0.get(IpstatsMib::FragFails),
        r1.get(IcmpMsg::Out(3)) - r0.get(IcmpMsg::Out(3)),
        r1.get(IpstatsMib::ForwDatagrams) - r0.get(IpstatsMib::ForwDatagrams),
    );
    let _ = writeln!(
        out,
        "a: IcmpInType3 {}  TcpRetransSegs {}  TcpExtTCPSlowStartRetrans {}  TcpExtTCPTimeouts {}",
        a1.get(IcmpMsg::In(3)) - a0.get(IcmpMsg::In(3)),
        a1.get(TcpMib::RetransSegs) - a0.get(TcpMib::RetransSegs),
        a1.get(LinuxMib::TCPSlowStartRetrans) - a0.get(LinuxMib::TCPSlowStartRetrans),
        a1.get(LinuxMib::TCPTimeouts) - a0.get(LinuxMib::TCPTimeouts),
    );
    Ok(Report {
        headline: format!(
            "r's {NARROW_MTU}-byte link drops a's 1500-byte segments; one ICMP later a resends them as {}-byte pieces",
            client.tcp_info().tcpi_snd_mss
        ),
        text: out,
        frames: trace.frames(),
        ..Default::default()
    })
}
