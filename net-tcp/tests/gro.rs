//! GRO (net/core/gro.c, net/ipv4/af_inet.c, net/ipv4/tcp_offload.c):
//! crafted segments into one host, judged by what a tap sees after GRO
//! (where tcpdump sits in Linux); then a bulk stream between two hosts.
//!
//! The rules come from `tcp_gro_receive()` and `inet_gro_receive()`: a
//! segment joins its flow's packet only as the next in sequence with the
//! same ACK, window, flags (but CWR/FIN/PSH), options, TTL, TOS, the next
//! IP ID and no more payload than the first; PSH, FIN, URG, RST, SYN or a
//! short segment send the packet up after merging; a pure ACK, a bad
//! checksum or IP options go up alone; at most 8 flows are held; a packet
//! stays under 64 KiB.

mod common;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use net_core::snmp::{IpstatsMib, TcpMib};
use net_core::{Clock, Net, NetRx, PacketType};
use net_ipv4::ip::{IPPROTO_TCP, IpHdr};
use net_ipv4::testlink::{ETH_IPV4_L4_OFFSET, ScriptLinkRef, TwoHosts, eth_ipv4_frame};
use net_tcp::tcphdr::TcpHdr;
use net_tcp::{TcpSocket, inet_init};

const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const US_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

/// What the tap saw: the TCP sequence number, payload length, gso_size,
/// gso_segs, and whether the TCP checksum is right.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Seen {
    sport: u16,
    seq: u32,
    len: usize,
    gso_size: u16,
    gso_segs: u16,
    flags: u8,
    csum_ok: bool,
}

/// A host with GRO on its ScriptDev and a tap recording what goes up.
struct Rx {
    net: Arc<Net>,
    link: ScriptLinkRef,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn rx_host(gro: bool) -> Rx {
    let clock = Clock::new_virtual_at(1_000_000_000);
    let (net, _, link, ifindex) = common::host(&clock, "rx", 1, US_MAC, US, &[(PEER, PEER_MAC)]);
    net.dev_get_by_index(ifindex).expect("eth0").set_gro(gro);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    net.dev_add_pack(PacketType::tap("gro_tap", move |_, skb| {
        let Some(iph) = IpHdr::new_checked(skb.data()).filter(|h| h.protocol() == IPPROTO_TCP) else {
            return NetRx::Success;
        };
        if let Some(th) = TcpHdr::new_checked(iph.payload()) {
            s.lock().unwrap().push(Seen {
                sport: th.source(),
                seq: th.seq(),
                len: th.payload().len(),
                gso_size: skb.gso_size,
                gso_segs: skb.gso_segs,
                flags: th.flags(),
                csum_ok: th.verify_checksum(PEER, US),
            });
        }
        NetRx::Success
    }));
    // Settle the gratuitous ARP of the address.
    net.poll();
    Rx { net, link, seen }
}

/// A segment as the peer's stack would build it: timestamps option, DF,
/// IP ID `id`, payload of `len` bytes of `seq`'s low byte.
#[derive(Clone, Copy)]
struct Seg {
    sport: u16,
    seq: u32,
    ack: u32,
    len: usize,
    flags: u8,
    id: u16,
    win: u16,
    tsval: u32,
    ttl: u8,
    bad_csum: bool,
}

impl Seg {
    fn data(seq: u32, len: usize, id: u16) -> Seg {
        Seg { sport: 40000, seq, ack: 1, len, flags: ACK, id, win: 502, tsval: 7, ttl: 64, bad_csum: false }
    }

    fn frame(&self) -> Vec<u8> {
        let thlen = 32;
        let mut f = eth_ipv4_frame(US_MAC, PEER_MAC, PEER, US, 6, thlen + self.len);
        net_ipv4::ip::IpHdrBuilder {
            tot_len: (20 + thlen + self.len) as u16,
            id: self.id,
            frag_off: net_ipv4::ip::IP_DF,
            ttl: self.ttl,
            protocol: 6,
            saddr: PEER,
            daddr: US,
            ..net_ipv4::ip::IpHdrBuilder::TEMPLATE
        }
        .write(&mut f[14..34]);
        // The data offset first: new_checked() wants a header that fits.
        f[ETH_IPV4_L4_OFFSET + 12] = ((thlen / 4) as u8) << 4;
        let mut th = TcpHdr::new_checked(&mut f[ETH_IPV4_L4_OFFSET..]).expect("room for the header");
        th.set_source(self.sport);
        th.set_dest(5001);
        th.set_seq(self.seq);
        th.set_ack_seq(self.ack);
        th.set_flags(self.flags);
        th.set_window(self.win);
        let th = th.into_inner();
        // NOP NOP TS(tsval, 0)
        th[20..24].copy_from_slice(&[1, 1, 8, 10]);
        th[24..28].copy_from_slice(&self.tsval.to_be_bytes());
        for (i, b) in th[thlen..].iter_mut().enumerate() {
            *b = self.seq.wrapping_add(i as u32) as u8;
        }
        let mut th = TcpHdr::new_checked(th).expect("still a header");
        th.fill_checksum(PEER, US);
        if self.bad_csum {
            let c = th.check();
            th.set_check(net_core::checksum::Sum16(c.0 ^ 0x0101));
        }
        f
    }
}

impl Rx {
    /// Deliver `segs` in one poll; what went up, in order.
    fn receive(&self, segs: &[Seg]) -> Vec<Seen> {
        {
            let mut l = self.link.lock().unwrap();
            l.rx.extend(segs.iter().map(Seg::frame));
        }
        self.net.net_rx_action(300);
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// `n` full segments of 1000 bytes from `seq`, IP IDs from `id`.
fn run(seq: u32, n: usize, id: u16) -> Vec<Seg> {
    (0..n).map(|i| Seg::data(seq + (i * 1000) as u32, 1000, id + i as u16)).collect()
}

fn up(seq: u32, len: usize, segs: u16) -> (u32, usize, u16) {
    (seq, len, segs)
}

fn summary(seen: &[Seen]) -> Vec<(u32, usize, u16)> {
    seen.iter().map(|s| (s.seq, s.len, if s.gso_size == 0 { 1 } else { s.gso_segs })).collect()
}

#[test]
fn in_order_full_segments_go_up_as_one_packet_with_a_good_checksum() {
    let h = rx_host(true);
    let seen = h.receive(&run(1000, 4, 10));
    assert_eq!(summary(&seen), [up(1000, 4000, 4)]);
    assert_eq!((seen[0].gso_size, seen[0].csum_ok), (1000, true));
    // The same frames with GRO off: four packets, as they came.
    let h = rx_host(false);
    assert_eq!(
        summary(&h.receive(&run(1000, 4, 10))),
        [up(1000, 1000, 1), up(2000, 1000, 1), up(3000, 1000, 1), up(4000, 1000, 1)]
    );
}

#[test]
fn psh_fin_and_a_short_segment_end_the_packet_after_merging() {
    let h = rx_host(true);
    let mut s = run(1000, 5, 10);
    s[2].flags |= PSH;
    let seen = h.receive(&s);
    assert_eq!(summary(&seen), [up(1000, 3000, 3), up(4000, 2000, 2)]);
    assert_eq!(seen[0].flags & PSH, PSH, "the merged header carries PSH");
    let mut s = run(1000, 3, 10);
    s[2].len = 500;
    s[2].flags |= FIN;
    let mut after = Seg::data(3500, 1000, 13);
    after.flags |= PSH;
    s.push(after);
    let seen = h.receive(&s);
    assert_eq!(summary(&seen), [up(1000, 2500, 3), up(3500, 1000, 1)]);
    assert!(seen[0].flags & FIN != 0 && seen.iter().all(|s| s.csum_ok));
}

#[test]
fn a_gap_an_ack_change_a_window_change_or_a_new_timestamp_start_a_new_packet() {
    let h = rx_host(true);
    let mut s = run(1000, 6, 10);
    s[1].seq += 1; // a gap: out of sequence
    s[1].id = 11;
    let seen = h.receive(&s[..2]);
    assert_eq!(summary(&seen), [up(1000, 1000, 1), up(2001, 1000, 1)]);
    let mut s = run(1000, 4, 10);
    s[1].ack = 2;
    s[1].ack = 2;
    s[2].ack = 2;
    s[3].win = 600;
    assert_eq!(summary(&h.receive(&s)), [up(1000, 1000, 1), up(2000, 2000, 2), up(4000, 1000, 1)]);
    let mut s = run(1000, 3, 10);
    s[2].tsval = 8;
    assert_eq!(summary(&h.receive(&s)), [up(1000, 2000, 2), up(3000, 1000, 1)]);
}

#[test]
fn ip_id_ttl_and_a_longer_segment_break_the_flow() {
    let h = rx_host(true);
    let mut s = run(1000, 3, 10);
    s[2].id = 50;
    assert_eq!(summary(&h.receive(&s)), [up(1000, 2000, 2), up(3000, 1000, 1)]);
    // A DF flow that keeps one IP ID merges (ip_fixedid).
    let mut s = run(1000, 3, 10);
    for x in &mut s {
        x.id = 77;
    }
    assert_eq!(summary(&h.receive(&s)), [up(1000, 3000, 3)]);
    let mut s = run(1000, 3, 10);
    s[1].ttl = 63;
    assert_eq!(summary(&h.receive(&s)), [up(1000, 1000, 1), up(2000, 1000, 1), up(3000, 1000, 1)].map(|x| x));
    let mut s = run(1000, 2, 10);
    s[1].len = 1001;
    assert_eq!(summary(&h.receive(&s)), [up(1000, 1000, 1), up(2000, 1001, 1)]);
}

#[test]
fn a_bad_checksum_goes_up_alone_and_tcp_counts_it() {
    let h = rx_host(true);
    let mut s = run(1000, 4, 10);
    s[2].bad_csum = true;
    let seen = h.receive(&s);
    // As in Linux, the bad one goes up at once (tcp4_gro_receive() flushes
    // it without looking for its flow), ahead of the packet its flow
    // holds: harmless, since TCP drops it.
    assert_eq!(summary(&seen), [up(3000, 1000, 1), up(1000, 2000, 2), up(4000, 1000, 1)]);
    assert_eq!(seen.iter().map(|s| s.csum_ok).collect::<Vec<_>>(), [false, true, true]);
    assert_eq!(h.net.mib.get(TcpMib::InCsumErrors), 1, "tcp_v4_rcv() checked the one GRO left alone");
}

#[test]
fn pure_acks_pass_and_flows_do_not_mix() {
    let h = rx_host(true);
    let mut s = Vec::new();
    for i in 0..3u32 {
        for (f, base) in [(40000u16, 1000u32), (40001, 9000)] {
            let mut x = Seg::data(base + i * 1000, 1000, (f - 40000) * 100 + i as u16);
            x.sport = f;
            s.push(x);
        }
    }
    let mut ack = Seg::data(1, 0, 500);
    ack.sport = 40002;
    s.push(ack);
    let seen = h.receive(&s);
    let by_port = |p: u16| summary(&seen.iter().copied().filter(|s| s.sport == p).collect::<Vec<_>>());
    assert_eq!(by_port(40000), [up(1000, 3000, 3)]);
    assert_eq!(by_port(40001), [up(9000, 3000, 3)]);
    assert_eq!(by_port(40002), [up(1, 0, 1)], "a pure ACK is never held");
    assert_eq!(seen[0].sport, 40002, "it goes up at once, before the held packets");
}

#[test]
fn at_most_eight_flows_are_held_and_the_oldest_goes_first() {
    let h = rx_host(true);
    let two_rounds = |flows: u16| -> Vec<Seg> {
        let round = |k: u32| {
            (0..flows)
                .map(move |f| Seg { sport: 41000 + f, ..Seg::data(1000 + k * 1000, 1000, f * 10 + k as u16) })
        };
        round(0).chain(round(1)).collect()
    };
    // Eight flows interleaved: all held at once, each merges.
    let seen = h.receive(&two_rounds(8));
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|s| (s.len, s.gso_segs) == (2000, 2)), "{seen:?}");
    // Nine: each new flow pushes out the oldest (gro_flush_oldest()), which
    // is the very flow whose next segment comes next, so nothing merges;
    // every segment still goes up, each flow in order.
    let seen = h.receive(&two_rounds(9));
    assert_eq!(seen.len(), 18);
    assert_eq!((seen[0].sport, seen[0].seq), (41000, 1000), "the oldest went first");
    for f in 0..9 {
        let seqs: Vec<u32> = seen.iter().filter(|s| s.sport == 41000 + f).map(|s| s.seq).collect();
        assert_eq!(seqs, [1000, 2000]);
    }
}

#[test]
fn a_packet_stays_under_64_kib() {
    let h = rx_host(true);
    let s: Vec<Seg> = (0..50u32).map(|i| Seg::data(1000 + i * 1448, 1448, i as u16)).collect();
    let seen = h.receive(&s);
    // 20 + 32 + 45 * 1448 = 65,212 bytes; a 46th segment would pass 65,536.
    assert_eq!(summary(&seen), [up(1000, 45 * 1448, 45), up(1000 + 45 * 1448, 5 * 1448, 5)]);
    assert!(seen.iter().all(|s| s.csum_ok));
}

fn pump(lab: &TwoHosts, c: &TcpSocket, s: &TcpSocket, data: &[u8]) -> Vec<u8> {
    common::pump(&[&lab.a, &lab.b], &lab.clock, c, s, data)
}

/// Two hosts with TCP, a sending with GSO and b receiving with GRO (no
/// tap), and a connection from a to b.
fn offload_pair() -> (TwoHosts, TcpSocket, TcpSocket) {
    let lab = TwoHosts::new(0);
    inet_init(&lab.a);
    inet_init(&lab.b);
    lab.b.dev_get_by_name("eth0").unwrap().set_gro(true);
    lab.a.dev_get_by_name("eth0").unwrap().set_gso(true);
    let (c, s) = common::connected_pair(&lab, 80);
    (lab, c, s)
}

#[test]
fn gro_merges_a_bulk_stream_and_keeps_every_byte() {
    let (lab, c, s) = offload_pair();
    let data = common::Rng::bytes(7, 8 << 20);
    let (a0, b0) = (lab.a.mib.snapshot(), lab.b.mib.snapshot());
    let dev0 = lab.b.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets;
    let got = pump(&lab, &c, &s, &data);
    assert!(got == data, "bytes differ");
    let frames = lab.b.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets - dev0;
    let ip_in = lab.b.mib.get(IpstatsMib::InReceives) - b0.get(IpstatsMib::InReceives);
    let acks = lab.a.mib.get(IpstatsMib::InReceives) - a0.get(IpstatsMib::InReceives);
    let segs_in = lab.b.mib.get(TcpMib::InSegs) - b0.get(TcpMib::InSegs);
    let gso_out = lab.a.mib.get(IpstatsMib::OutRequests) - a0.get(IpstatsMib::OutRequests);
    let segs_out = lab.a.mib.get(TcpMib::OutSegs) - a0.get(TcpMib::OutSegs);
    println!("sender: TCP OutSegs {segs_out} in {gso_out} IP datagrams (GSO)");
    println!("frames {frames}, packets after GRO {ip_in} (TCP InSegs {segs_in}), ACKs back {acks}");
    assert!(ip_in * 10 < frames, "GRO merged about 20 frames per packet: {frames} frames, {ip_in} packets");
    assert_eq!(ip_in, segs_in);
    assert!(acks * 10 < frames, "one ACK per merged packet, not per two frames: {acks}");
    // tcp_measure_rcv_mss() read the wire's segment size from gso_size.
    assert_eq!(s.tcp_info().tcpi_rcv_mss, 1448);
}

/// Without a tap to read it whole, a merged packet goes up with its
/// payloads chained; a socket that is not ESTABLISHED (here FIN_WAIT2,
/// after `shutdown(SHUT_WR)`) takes it through `tcp_rcv_state_process()`
/// with the bytes copied into one buffer first (`skb_linearize()`). Both
/// read back whole, and IP counts every merged byte (`InOctets`).
#[test]
fn merged_payloads_stay_chained_and_a_closing_socket_reads_them_linearized() {
    let (lab, c, s) = offload_pair();
    let in_octets = |net: &Net| net.mib.get(net_core::snmp::IpExtMib::InOctets);
    let before = (lab.b.mib.get(IpstatsMib::InReceives), in_octets(&lab.b));
    let frames0 = lab.b.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets;
    let data = common::Rng::bytes(11, 1 << 20);
    assert!(pump(&lab, &c, &s, &data) == data, "ESTABLISHED: bytes differ");
    let est_frames = lab.b.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets - frames0;
    let packets = lab.b.mib.get(IpstatsMib::InReceives) - before.0;
    assert!(packets * 10 < est_frames, "merged: {est_frames} frames went up as {packets} packets");
    // Every payload byte, plus a 52-byte IP and TCP header per packet.
    assert_eq!(in_octets(&lab.b) - before.1, data.len() as u64 + 52 * packets);

    s.shutdown(net_tcp::af_inet::Shutdown::Write).expect("shutdown");
    lab.run_ms(10);
    assert_eq!(s.state(), net_tcp::tcp_states::TcpState::FinWait2);
    let segs0 = lab.b.mib.get(TcpMib::InSegs);
    let frames0 = lab.b.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets;
    let more = common::Rng::bytes(12, 1 << 20);
    assert!(pump(&lab, &c, &s, &more) == more, "FIN_WAIT2: bytes differ");
    let frames = lab.b.dev_get_by_name("eth0").unwrap().stats.snapshot().rx_packets - frames0;
    let segs = lab.b.mib.get(TcpMib::InSegs) - segs0;
    println!(
        "ESTABLISHED: {est_frames} frames as {packets} packets; FIN_WAIT2: {frames} frames as {segs} segments"
    );
    assert!(segs * 10 < frames, "still merged in FIN_WAIT2: {frames} frames, {segs} segments");
}
