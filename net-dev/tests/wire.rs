//! The veth-like wire: delay, rate, drops, between two namespaces.

mod common;

use common::*;
use net_core::netdevice::NetdevTx;
use net_core::skbuff::{SkBuffHead, skb_from_frame};
use net_core::{Clock, Net, NetDevice};
use net_dev::{LinkParams, NetemParams, Sim, Wire};

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

#[test]
fn wire_delivers_after_exactly_the_delay() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    register_eth(&a);
    register_eth(&b);
    let (da, db) = sim.connect(&a, &b, LinkParams::with_delay(5_000_000)).unwrap();
    let got = collect(&b);
    sim.run_for(1_000);
    let t0 = sim.now_ns();
    send(&a, &da, &eth_frame(db.dev_addr(), da.dev_addr(), ETH_P_TEST, b"x"));
    assert!(sim.run_until_idle(1_000_000_000));
    let g = got.lock().unwrap().clone();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].0, t0 + 5_000_000, "arrives after exactly the one-way delay");
    assert_eq!(g[0].1, db.ifindex);
    let st = sim.wire(&da).unwrap().stats();
    assert_eq!((st.tx_frames, st.tx_bytes), (1, 15));
    assert_eq!(sim.wire(&db).unwrap().stats().rx_frames, 1);
}

#[test]
fn rate_limit_spaces_frames_by_size() {
    // 125-byte frames at 1 Mbit/s: 1 ms each, back to back, then 2 ms of delay.
    let clock = Clock::new_virtual();
    let p = LinkParams { delay_ns: 2_000_000, rate_bps: 1_000_000, ..LinkParams::default() };
    let (mut a, mut b) = Wire::pair_with(clock.clone(), ("a", MAC_A), ("b", MAC_B), &p, 1);
    a.ndo_open().unwrap();
    b.ndo_open().unwrap();
    for i in 0..4u8 {
        assert!(matches!(a.ndo_start_xmit(skb_from_frame(0, &[i; 125])), NetdevTx::Ok));
    }
    let mut arrivals = Vec::new();
    while let Some(t) = b.next_rx_time() {
        clock.set_ns(t);
        let mut rx = SkBuffHead::new();
        b.poll(64, &mut rx);
        while let Some(s) = rx.dequeue() {
            arrivals.push((clock.now_ns(), s.data()[0]));
        }
    }
    assert_eq!(arrivals, vec![(3_000_000, 0), (4_000_000, 1), (5_000_000, 2), (6_000_000, 3)]);
}

#[test]
fn queue_overflow_peer_down_and_oversize_are_counted() {
    let clock = Clock::new_virtual();
    let p = LinkParams { rate_bps: 8_000, queue_limit: 2, mtu: 100, ..LinkParams::default() };
    let (mut a, mut b) = Wire::pair_with(clock.clone(), ("a", MAC_A), ("b", MAC_B), &p, 1);
    let h = a.handle();
    a.ndo_open().unwrap();
    a.ndo_start_xmit(skb_from_frame(0, &[0; 60]));
    assert_eq!(h.stats().tx_drops.peer_down, 1, "b is not open yet");
    b.ndo_open().unwrap();
    a.ndo_start_xmit(skb_from_frame(0, &[0; 115]));
    assert_eq!(h.stats().tx_drops.oversize, 1, "longer than MTU + 14");
    // 1st serialises at once, 2 wait, the 4th finds the queue full.
    for _ in 0..4 {
        a.ndo_start_xmit(skb_from_frame(0, &[0; 60]));
    }
    assert_eq!(h.stats().tx_drops.queue_full, 1);
    assert_eq!(h.in_flight(), 3);
    b.ndo_stop();
    assert_eq!(h.stats().tx_drops.purged, 3);
}

#[test]
fn wire_with_netem_loses_frames_and_counts_them() {
    let mut sim = Sim::new(42);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    register_eth(&b);
    let params = LinkParams {
        delay_ns: 1_000_000,
        netem: Some(NetemParams { loss: net_dev::LossModel::Random { percent: 50.0 }, ..Default::default() }),
        ..LinkParams::default()
    };
    let (da, db) = sim.connect(&a, &b, params).unwrap();
    let got = collect(&b);
    for i in 0..1000u32 {
        send(&a, &da, &eth_frame(db.dev_addr(), da.dev_addr(), ETH_P_TEST, &i.to_be_bytes()));
    }
    assert!(sim.run_until_idle(10_000_000_000));
    let st = sim.wire(&da).unwrap().stats();
    let n = got.lock().unwrap().len() as u64;
    assert_eq!(n + st.netem.lost, 1000);
    assert_eq!(st.tx_drops.netem, st.netem.lost);
    assert!((400..600).contains(&n), "{n} of 1000 through a 50% loss");
}

#[test]
fn mtu_change_applies_to_the_peers_check() {
    let clock = Clock::new_virtual();
    let net = Net::new("a", clock.clone(), 1);
    let (a, mut b) = Wire::pair(clock, "a", MAC_A, "b", MAC_B);
    let h = a.handle();
    let da = net.register_netdev(Box::new(a)).unwrap();
    da.open().unwrap();
    b.ndo_open().unwrap();
    b.ndo_change_mtu(50).unwrap();
    send(&net, &da, &[0; 70]);
    assert_eq!(h.stats().tx_drops.oversize, 1);
}

#[test]
fn asymmetric_links_and_a_pcap_tee() {
    use std::sync::{Arc, Mutex};
    let mut sim = Sim::new(8);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    register_eth(&a);
    register_eth(&b);
    let down = LinkParams { delay_ns: 1_000_000, mtu: 9000, ..LinkParams::default() };
    let up = LinkParams { delay_ns: 7_000_000, ..LinkParams::default() };
    let (da, db) = sim.connect_asym(&a, &b, down, up).unwrap();
    assert_eq!(
        (da.mtu(), db.mtu()),
        (1500, 9000),
        "each end reports the MTU frames to it are checked against"
    );
    let ga = collect(&a);
    let gb = collect(&b);
    sim.run_for(1);
    send(&a, &da, &eth_frame(db.dev_addr(), da.dev_addr(), ETH_P_TEST, &[1; 5000]));
    send(&b, &db, &eth_frame(da.dev_addr(), db.dev_addr(), ETH_P_TEST, &[2; 100]));
    assert!(sim.run_until_idle(1_000_000_000));
    assert_eq!(gb.lock().unwrap()[0].0, 1_000_001);
    assert_eq!(ga.lock().unwrap()[0].0, 7_000_001);

    // A tee around a wire end records both directions as the device sees them.
    let clock = Clock::new_virtual();
    let w = Arc::new(Mutex::new(net_dev::PcapWriter::new(Vec::new()).unwrap()));
    let (x, y) = Wire::pair(clock.clone(), "x", MAC_A, "y", MAC_B);
    let mut x = net_dev::PcapTee::new(x, w.clone(), clock.clone());
    let mut y = y;
    x.ndo_open().unwrap();
    y.ndo_open().unwrap();
    let _ = x.ndo_start_xmit(skb_from_frame(0, &[3; 60]));
    let _ = y.ndo_start_xmit(skb_from_frame(0, &[4; 60]));
    x.poll(64, &mut SkBuffHead::new());
    assert_eq!(w.lock().unwrap().records(), 2);
}
