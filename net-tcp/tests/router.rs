//! A router in the path: merged packets forwarded (net/ipv4/ip_forward.c,
//! net/ipv4/ip_output.c's `ip_finish_output_gso()`, net/core/gso.c), and
//! the path MTU dropping under a connection (net/ipv4/tcp_ipv4.c's
//! `tcp_v4_mtu_reduced()`, net/ipv4/tcp_input.c's `tcp_simple_retransmit()`).
//!
//! Linux turns GRO on for every device, so a router merges a TCP flow's
//! segments on the way in and must hand the next hop the same segments
//! on the way out: `ip_forward()` judges the packet by its segments
//! (`ip_exceeds_mtu()` with `skb_gso_validate_network_len()`), and
//! `ip_finish_output_gso()` splits it before fragmenting when a segment is
//! larger than the outgoing MTU and DF is clear. The test is the byte
//! stream: every byte arrives, and no segment had to be sent twice.
//!
//! A 10.0.1.2 — (10.0.1.1) R (10.0.2.1) — B 10.0.2.2, R with GRO on the
//! device facing A.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::snmp::{IpExtMib, IpstatsMib, LinuxMib, TcpMib};
use net_core::{Clock, Net};
use net_ipv4::devinet::inet_addr_add;
use net_ipv4::fib::FibRoute;
use net_ipv4::testlink::{Hub, run_until_idle};
use net_tcp::af_inet::POLLOUT;
use net_tcp::{TcpSocket, inet_init};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

struct Lab {
    clock: Clock,
    a: Arc<Net>,
    r: Arc<Net>,
    b: Arc<Net>,
}

impl Lab {
    /// The three hosts, R forwarding with GRO on `eth0` (A's side), A and
    /// B with TCP; `r_eth1_mtu` is the MTU of R's device facing B; A
    /// sends with GSO when `a_gso`.
    fn new(r_eth1_mtu: u32, a_gso: bool) -> Lab {
        let clock = Clock::new_virtual_at(1_000_000_000);
        let (seg1, seg2) = (Hub::new(&clock, 0), Hub::new(&clock, 0));
        let a = Net::new("a", clock.clone(), 1);
        let r = Net::new("r", clock.clone(), 2);
        let b = Net::new("b", clock.clone(), 3);
        let (a4, r4, b4) = (net_ipv4::ipv4_init(&a), net_ipv4::ipv4_init(&r), net_ipv4::ipv4_init(&b));
        let a_eth0 = seg1.attach(&a, "eth0", [2, 0, 0, 0, 1, 2]);
        a_eth0.set_gso(a_gso);
        let a_eth0 = a_eth0.ifindex;
        let r_eth0 = seg1.attach(&r, "eth0", [2, 0, 0, 0, 1, 1]);
        let r_eth1 = seg2.attach(&r, "eth1", [2, 0, 0, 0, 2, 1]);
        let b_eth0 = seg2.attach(&b, "eth0", [2, 0, 0, 0, 2, 2]).ifindex;
        r_eth0.set_gro(true);
        r.dev_set_mtu(&r_eth1, r_eth1_mtu).expect("mtu");
        inet_addr_add(&a, &a4, a_eth0, A, 24).unwrap();
        inet_addr_add(&r, &r4, r_eth0.ifindex, Ipv4Addr::new(10, 0, 1, 1), 24).unwrap();
        inet_addr_add(&r, &r4, r_eth1.ifindex, Ipv4Addr::new(10, 0, 2, 1), 24).unwrap();
        inet_addr_add(&b, &b4, b_eth0, B, 24).unwrap();
        let via =
            |gw: &str, oif: u32| FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(gw.parse().unwrap()), oif);
        a4.fib.fib_table_insert(via("10.0.1.1", a_eth0)).unwrap();
        b4.fib.fib_table_insert(via("10.0.2.1", b_eth0)).unwrap();
        r.sysctl.set("net.ipv4.ip_forward", "1").unwrap();
        // A Linux router has TCP too, and with it `tcpv4_offload` (GRO).
        for h in [&a, &r, &b] {
            inet_init(h);
        }
        let lab = Lab { clock, a, r, b };
        lab.run_ms(10);
        lab
    }

    fn hosts(&self) -> [&Arc<Net>; 3] {
        [&self.a, &self.r, &self.b]
    }

    fn run_ms(&self, ms: u64) {
        run_until_idle(&self.clock, &self.hosts(), self.clock.now_ns() + ms * 1_000_000);
    }

    /// A connection from A to B port 80.
    fn connect(&self) -> (TcpSocket, TcpSocket) {
        let l = TcpSocket::new(&self.b).unwrap();
        l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).unwrap();
        l.listen(8).unwrap();
        let c = TcpSocket::new(&self.a).unwrap();
        c.set_nonblocking(true);
        let _ = c.connect(SocketAddrV4::new(B, 80));
        self.run_ms(100);
        assert!(c.poll() & POLLOUT != 0, "connected");
        let (s, _) = l.accept().expect("accepted");
        s.set_nonblocking(true);
        (c, s)
    }

    /// Send `data` from `c`, read it at `s`, in virtual time.
    fn pump(&self, c: &TcpSocket, s: &TcpSocket, data: &[u8]) -> Vec<u8> {
        common::pump(&self.hosts(), &self.clock, c, s, data)
    }
}

/// Bytes moved A → B; returns (R's forwarded datagrams, frames R took
/// in on eth0, A's retransmitted segments).
fn transfer(lab: &Lab, len: usize) -> (u64, u64, u64) {
    let (c, s) = lab.connect();
    let r_in = |lab: &Lab| lab.r.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets;
    let (forw0, in0, retrans0) =
        (lab.r.mib.get(IpstatsMib::ForwDatagrams), r_in(lab), lab.a.mib.get(TcpMib::RetransSegs));
    let data = common::Rng::bytes(21, len);
    assert!(lab.pump(&c, &s, &data) == data, "bytes differ");
    (
        lab.r.mib.get(IpstatsMib::ForwDatagrams) - forw0,
        r_in(lab) - in0,
        lab.a.mib.get(TcpMib::RetransSegs) - retrans0,
    )
}

#[test]
fn merged_packets_leave_the_router_as_the_segments_they_were() {
    let lab = Lab::new(1500, true);
    let (forwarded, frames_in, retrans) = transfer(&lab, 4 << 20);
    println!(
        "R took in {frames_in} frames and forwarded them as {forwarded} packets; A retransmitted {retrans}"
    );
    assert!(forwarded * 4 < frames_in, "GRO merged at R: {frames_in} frames, {forwarded} packets");
    assert_eq!(retrans, 0, "every segment reached B the first time");
    let b_eth0 = lab.b.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets;
    assert!(b_eth0 >= frames_in, "B's wire carried segments, not merged packets: {b_eth0} frames");
    assert_eq!(lab.b.mib.get(IpstatsMib::InHdrErrors) + lab.b.mib.get(IpExtMib::InTruncatedPkts), 0);
}

/// tcpdump on the router: the tap sees each merged packet whole, as
/// Linux's does on a GRO device, and the packet still leaves as its
/// segments.
#[test]
fn a_tap_on_the_router_sees_merged_packets_and_they_still_leave_as_segments() {
    let lab = Lab::new(1500, true);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    lab.r.dev_add_pack(net_core::PacketType::tap("router_tap", move |net, skb| {
        s2.lock().unwrap().push((skb.len(), skb.has_frag_list()));
        net.consume_skb(skb);
        net_core::NetRx::Success
    }));
    let (forwarded, frames_in, retrans) = transfer(&lab, 1 << 20);
    let seen = seen.lock().unwrap();
    let biggest = seen.iter().map(|s| s.0).max().unwrap_or(0);
    println!(
        "R forwarded {forwarded} packets of {frames_in} frames; its tap saw up to {biggest} bytes in one"
    );
    assert!(forwarded * 4 < frames_in, "GRO merged at R");
    assert!(biggest > 10_000, "the tap saw a merged packet whole");
    assert!(seen.iter().all(|s| !s.1), "the tap's copy is one buffer");
    assert_eq!(retrans, 0, "every segment reached B the first time");
    assert_eq!(lab.r.mib.get(IpstatsMib::FragFails), 0);
}

/// With `ip_no_pmtu_disc` = 1 A's TCP sends without DF, so R, whose link
/// to B has MTU 1000, splits each merged packet into its segments and
/// fragments every one (`ip_finish_output_gso()`); B reassembles them.
/// With A's GSO on and off: either way A's segments carry consecutive IP
/// IDs (the socket's `inet_id`), which is what lets R merge segments
/// without DF.
#[test]
fn a_merged_packet_without_df_is_split_then_fragmented_for_a_smaller_mtu() {
    no_df_case(true);
    no_df_case(false);
}

fn no_df_case(a_gso: bool) {
    let lab = Lab::new(1000, a_gso);
    lab.a.sysctl.set("net.ipv4.ip_no_pmtu_disc", "1").unwrap();
    let (forwarded, frames_in, retrans) = transfer(&lab, 2 << 20);
    let (frag_oks, frags) = (lab.r.mib.get(IpstatsMib::FragOKs), lab.r.mib.get(IpstatsMib::FragCreates));
    let reasm = lab.b.mib.get(IpstatsMib::ReasmOKs);
    println!(
        "GSO {a_gso}: R took in {frames_in} frames as {forwarded} packets, fragmented {frag_oks} segments \
         into {frags}; B reassembled {reasm}; A retransmitted {retrans}"
    );
    assert!(forwarded * 4 < frames_in, "GRO merged at R: {frames_in} frames, {forwarded} packets");
    assert_eq!(retrans, 0, "every segment reached B the first time");
    // Every segment went through ip_fragment(): each full-sized one
    // (1,500 bytes) became two fragments that B put back together; a
    // short last one left whole, one "fragment" (Linux counts it so).
    assert!(frag_oks >= 1448, "{frag_oks} segments through ip_fragment()");
    assert_eq!(frags, 2 * reasm + (frag_oks - reasm), "two per cut segment, one per whole one");
    assert!(reasm >= 1440, "B reassembled the full-sized ones: {reasm}");
    assert_eq!(lab.r.mib.get(IpstatsMib::FragFails), 0);
}

/// With DF (TCP's default) and a 1000-byte MTU beyond R, R drops each
/// merged packet whose segments would need fragmenting and tells A
/// (ICMP "fragmentation needed", judged by the segment, not the merged
/// length); A lowers its MSS and resends what was in flight in pieces
/// that fit (`tcp_simple_retransmit()`, `tcp_fragment()`), and the stream
/// gets through. Run with A's GSO on and off: the retransmit queue holds
/// 1,448-byte segments either way.
fn frag_needed_case(a_gso: bool) {
    let lab = Lab::new(1000, a_gso);
    let (c, s) = lab.connect();
    let data = common::Rng::bytes(22, 1 << 20);
    assert!(lab.pump(&c, &s, &data) == data, "bytes differ");
    let fails = lab.r.mib.get(IpstatsMib::FragFails);
    let mss = c.tcp_info().tcpi_snd_mss;
    let (retrans, timeouts) = (lab.a.mib.get(TcpMib::RetransSegs), lab.a.mib.get(LinuxMib::TCPTimeouts));
    println!(
        "GSO {a_gso}: R FragFails {fails}; A's MSS now {mss}; A retransmitted {retrans} ({} in Loss), RTOs {timeouts}",
        lab.a.mib.get(LinuxMib::TCPSlowStartRetrans)
    );
    // Linux 6.18, the same shape in three namespaces (veth, MTU 1000 on R's
    // side to B, 1 MiB from python): R FragFails 2, A TcpRetransSegs 16,
    // all TCPSlowStartRetrans, TCPTimeouts 0.
    assert_eq!(timeouts, 0, "resent at once, not after an RTO");
    assert_eq!(lab.a.mib.get(LinuxMib::TCPSlowStartRetrans), retrans, "every resend went in Loss");
    assert!(fails >= 1, "R refused at least one packet");
    assert!(lab.a.mib.get(net_core::snmp::IcmpMsg::In(3)) >= 1, "A heard fragmentation needed");
    assert_eq!(mss, 1000 - 40 - 12, "A sized its segments for R's egress MTU (less the timestamps)");
    assert_eq!(lab.r.mib.get(IpstatsMib::FragCreates), 0, "nothing was fragmented: DF");
    assert_eq!(lab.a.mib.get(IpstatsMib::FragFails), 0, "A never sent a segment its route could not take");
}

#[test]
fn a_merged_packet_with_df_draws_frag_needed_and_the_sender_resends_smaller() {
    frag_needed_case(true);
}

#[test]
fn a_path_mtu_drop_without_gso_resends_what_was_in_flight_smaller() {
    frag_needed_case(false);
}

/// A's own device shrinks to MTU 1000 in the middle of a transfer (`ip
/// link set eth0 mtu 1000`): `NETDEV_CHANGEMTU` makes the cached route
/// stale (`fib_netdev_event()`), the next send finds the new path MTU and
/// lowers the MSS (`tcp_current_mss()`'s `icsk_pmtu_cookie` test), and the
/// stream carries on at 948 bytes a segment without a timeout.
#[test]
fn the_senders_own_mtu_drop_mid_transfer_lowers_the_mss() {
    let lab = Lab::new(1500, true);
    let (c, s) = lab.connect();
    let data = common::Rng::bytes(23, 1 << 20);
    let half = data.len() / 2;
    assert!(lab.pump(&c, &s, &data[..half]) == data[..half], "first half");
    assert_eq!(c.tcp_info().tcpi_snd_mss, 1448);
    let dev = lab.a.dev_get_by_name("eth0").unwrap();
    lab.a.dev_set_mtu(&dev, 1000).unwrap();
    assert!(lab.pump(&c, &s, &data[half..]) == data[half..], "second half");
    assert_eq!(c.tcp_info().tcpi_snd_mss, 1000 - 40 - 12);
    assert_eq!(lab.a.mib.get(LinuxMib::TCPTimeouts), 0, "no RTO was needed");
    assert_eq!(lab.a.mib.get(IpstatsMib::FragFails), 0, "no segment was cut to the old MSS after the change");
}
