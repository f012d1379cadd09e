//! GSO (net/core/gso.c, `skb_segment_list()`, `inet_gso_segment()`): a
//! sender's bursts go down through IP, the neighbour and the qdisc as one
//! packet each, and leave as the very frames they would have been without
//! it.

mod common;

use std::sync::{Arc, Mutex};

use net_core::skbuff::PktType;
use net_core::snmp::{IpstatsMib, TcpMib};
use net_core::{NetRx, PacketType};
use net_ipv4::testlink::TwoHosts;
use net_tcp::inet_init;

/// Move `data` from a to b on a fresh lab, GSO on a's `eth0` or not; the
/// frames a sent (as its tap saw them, outgoing), and a's IP datagram and
/// TCP segment counts for the transfer.
fn transfer(data: &[u8], gso: bool) -> (Vec<Vec<u8>>, u64, u64) {
    let lab = TwoHosts::new(0);
    inet_init(&lab.a);
    inet_init(&lab.b);
    lab.a.dev_get_by_name("eth0").unwrap().set_gso(gso);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s2 = sent.clone();
    lab.a.dev_add_pack(PacketType::tap("gso_tap", move |_, skb| {
        if skb.pkt_type == PktType::Outgoing {
            s2.lock().unwrap().push(skb.data().to_vec());
        }
        NetRx::Success
    }));
    let (c, s) = common::connected_pair(&lab, 80);
    let (ip0, tcp0) = (lab.a.mib.get(IpstatsMib::OutRequests), lab.a.mib.get(TcpMib::OutSegs));
    let (mut off, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 65536];
    for _ in 0..100_000 {
        while off < data.len() {
            match c.send(&data[off..]) {
                Ok(n) if n > 0 => off += n,
                _ => break,
            }
        }
        let work = lab.a.poll() + lab.b.poll();
        while let Ok(n) = s.recv(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == data.len() {
            break;
        }
        if work == 0 {
            lab.run_ms(1);
        }
    }
    assert!(got == data, "every byte arrives, in order");
    let ip = lab.a.mib.get(IpstatsMib::OutRequests) - ip0;
    let tcp = lab.a.mib.get(TcpMib::OutSegs) - tcp0;
    let frames = std::mem::take(&mut *sent.lock().unwrap());
    (frames, ip, tcp)
}

#[test]
fn a_gso_burst_leaves_as_the_frames_it_would_have_been() {
    let data = common::Rng::bytes(11, 4 << 20);
    let (plain, ip_plain, tcp_plain) = transfer(&data, false);
    let (gso, ip_gso, tcp_gso) = transfer(&data, true);
    println!("without GSO: {tcp_plain} segments in {ip_plain} IP datagrams; with: {tcp_gso} in {ip_gso}");
    assert_eq!(tcp_gso, tcp_plain, "TCP sent the same segments");
    assert!(ip_gso * 5 < ip_plain, "IP saw bursts, not segments: {ip_gso} vs {ip_plain}");
    assert_eq!(gso.len(), plain.len(), "the same number of frames on the wire");
    assert!(gso.iter().all(|f| f.len() <= 1514), "no frame over the MTU");
    for (i, (a, b)) in gso.iter().zip(&plain).enumerate() {
        assert!(a == b, "frame {i} differs: {} vs {} bytes", a.len(), b.len());
    }
}

/// The IP IDs of a connection's datagrams, as Linux 6.18 numbers them
/// (`ip_select_ident_segs()` with a connected socket; seen on this machine
/// with `tcpdump -v` on a veth pair: SYN id 53311, the SYN-ACK id 0, then
/// 53312, 53313, …): each socket starts at a random `inet_id` and counts up
/// one per segment, DF or not, and a GSO burst's segments take consecutive
/// IDs; the SYN-ACK, sent by the request sock, carries 0.
#[test]
fn each_socket_numbers_its_datagrams_from_a_random_start() {
    let data = common::Rng::bytes(12, 256 << 10);
    for gso in [false, true] {
        let (frames, _, _) = transfer(&data, gso);
        let ids: Vec<u16> = frames
            .iter()
            .filter(|f| f.len() >= 34 && f[12..14] == [0x08, 0x00] && f[23] == 6)
            .map(|f| u16::from_be_bytes([f[18], f[19]]))
            .collect();
        assert!(ids.len() > 100, "a sent {} TCP datagrams", ids.len());
        assert_ne!(ids[0], 0, "the SYN carries the socket's random first ID");
        for (i, w) in ids.windows(2).enumerate() {
            assert_eq!(w[1], w[0].wrapping_add(1), "GSO {gso}: datagram {} follows {} by one", i + 1, i);
        }
    }
}
