//! netem's decisions: statistics, replay, reordering, duplication,
//! corruption, rate, and the device wrapper.

use net_core::netdevice::{NetDeviceSetup, NetdevTx};
use net_core::skbuff::{SkBuffHead, skb_from_frame};
use net_core::{Clock, NetDevice, Skb};
use net_dev::{DelayDist, LossModel, Netem, NetemDevice, NetemParams};

fn frame(i: u32, len: usize) -> Skb {
    // The id twice, so a test can tell a corrupted id.
    let mut v = vec![0u8; len.max(8)];
    v[..4].copy_from_slice(&i.to_be_bytes());
    v[4..8].copy_from_slice(&i.to_be_bytes());
    skb_from_frame(0, &v)
}

fn id(s: &Skb) -> u32 {
    u32::from_be_bytes([s.data()[0], s.data()[1], s.data()[2], s.data()[3]])
}

/// Push `n` frames at 1 µs intervals and drain everything: (release time, bytes).
fn run(netem: &mut Netem, n: u32) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..n {
        let now = i as u64 * 1_000;
        netem.enqueue(frame(i, 64), now);
        while let Some((t, s)) = netem.dequeue_timed(now) {
            out.push((t, s.data().to_vec()));
        }
    }
    while let Some(t) = netem.next_time() {
        while let Some((t2, s)) = netem.dequeue_timed(t) {
            out.push((t2, s.data().to_vec()));
        }
    }
    out
}

fn within(x: u64, n: u64, pct: f64, tol: f64) -> bool {
    let rate = x as f64 / n as f64 * 100.0;
    (rate - pct).abs() <= tol
}

#[test]
fn statistics_over_10000_frames_match_the_configuration() {
    let p = NetemParams {
        loss: LossModel::Random { percent: 10.0 },
        duplicate: 5.0,
        corrupt: 3.0,
        latency_ns: 1_000_000,
        jitter_ns: 200_000,
        limit: 100_000,
        ..Default::default()
    };
    let mut n = Netem::new(p, 2024);
    let out = run(&mut n, 10_000);
    let s = n.stats();
    assert_eq!(s.enqueued, 10_000 + s.duplicated);
    assert!(within(s.lost, s.enqueued, 10.0, 1.0), "loss {s:?}");
    assert!(within(s.duplicated, 10_000, 5.0, 0.7), "dup {s:?}");
    assert!(within(s.corrupted, s.enqueued - s.lost, 3.0, 0.6), "corrupt {s:?}");
    assert_eq!(out.len() as u64, s.enqueued - s.lost);
    assert_eq!(s.dequeued, out.len() as u64);
    // Delay within latency ± jitter of the enqueue time (frame i at i µs).
    for (t, bytes) in &out {
        // Corruption may have hit one copy of the id; skip those.
        if bytes[..4] == bytes[4..8] {
            let i = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as u64;
            let d = t - i * 1_000;
            assert!((800_000..1_200_000).contains(&d), "delay {d}");
        }
    }
}

#[test]
fn same_seed_same_outcome_other_seed_other_outcome() {
    let p = NetemParams {
        loss: LossModel::GilbertElliott { p: 5.0, r: 30.0, one_minus_h: 60.0, one_minus_k: 1.0 },
        duplicate: 3.0,
        corrupt: 3.0,
        reorder: 20.0,
        gap: 3,
        latency_ns: 500_000,
        jitter_ns: 100_000,
        dist: DelayDist::Normal,
        rate_bps: 100_000_000,
        ..Default::default()
    };
    let a = run(&mut Netem::new(p.clone(), 9), 3000);
    let b = run(&mut Netem::new(p.clone(), 9), 3000);
    let c = run(&mut Netem::new(p, 10), 3000);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn gilbert_elliott_long_run_loss_rate() {
    // Stationary P(bad) = p / (p + r) = 0.2; loss = 0.2 * 0.5 + 0.8 * 0.01.
    let p = NetemParams {
        loss: LossModel::GilbertElliott { p: 5.0, r: 20.0, one_minus_h: 50.0, one_minus_k: 1.0 },
        limit: 1_000_000,
        ..Default::default()
    };
    let mut n = Netem::new(p, 3);
    for i in 0..100_000 {
        n.enqueue(frame(i, 60), 0);
    }
    let s = n.stats();
    assert!(within(s.lost, 100_000, 10.8, 0.8), "{s:?}");
    // Bursty: count runs of consecutive losses longer than 1.
    let mut n = Netem::new(NetemParams { limit: 1_000_000, ..n.params().clone() }, 3);
    let mut lost_run = 0;
    let mut longest = 0;
    for i in 0..10_000 {
        if n.enqueue(frame(i, 60), 0) {
            lost_run = 0;
        } else {
            lost_run += 1;
            longest = longest.max(lost_run);
        }
    }
    assert!(longest >= 4, "GE losses come in bursts (longest run {longest})");
}

#[test]
fn four_state_model_loses_in_bursts() {
    let p = NetemParams {
        loss: LossModel::FourState { p13: 2.0, p31: 30.0, p32: 40.0, p23: 20.0, p14: 1.0 },
        limit: 1_000_000,
        ..Default::default()
    };
    let mut n = Netem::new(p, 5);
    for i in 0..50_000 {
        n.enqueue(frame(i, 60), 0);
    }
    let lost = n.stats().lost;
    assert!(lost > 500 && lost < 25_000, "{lost}");
}

#[test]
fn reorder_sends_one_in_gap_at_once() {
    // reorder 100% gap 5: frames 4 and 9 (0-based) jump the 10 ms delay.
    let p = NetemParams { latency_ns: 10_000_000, reorder: 100.0, gap: 5, ..Default::default() };
    let mut n = Netem::new(p, 1);
    for i in 0..10 {
        n.enqueue(frame(i, 60), 0);
    }
    let mut now_out = Vec::new();
    while let Some(s) = n.dequeue(0) {
        now_out.push(id(&s));
    }
    assert_eq!(now_out, vec![4, 9]);
    assert_eq!(n.next_time(), Some(10_000_000));
    let mut later = Vec::new();
    while let Some(s) = n.dequeue(10_000_000) {
        later.push(id(&s));
    }
    assert_eq!(later, vec![0, 1, 2, 3, 5, 6, 7, 8]);
    assert_eq!(n.stats().reordered, 2);
}

#[test]
fn reorder_probability_is_respected() {
    let p = NetemParams { latency_ns: 1_000, reorder: 25.0, gap: 1, limit: 100_000, ..Default::default() };
    let mut n = Netem::new(p, 77);
    for i in 0..10_000 {
        n.enqueue(frame(i, 60), 0);
    }
    assert!(within(n.stats().reordered, 10_000, 25.0, 1.5), "{:?}", n.stats());
}

#[test]
fn duplication_makes_identical_copies() {
    let p = NetemParams { duplicate: 100.0, ..Default::default() };
    let mut n = Netem::new(p, 1);
    for i in 0..5 {
        n.enqueue(frame(i, 60), 0);
    }
    let mut out = Vec::new();
    while let Some(s) = n.dequeue(0) {
        out.push(id(&s));
    }
    // The copy is enqueued first, as Linux sends it to the root qdisc
    // before queueing the original.
    assert_eq!(out, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    assert_eq!(n.stats().duplicated, 5);
}

#[test]
fn corruption_flips_exactly_one_bit() {
    let p = NetemParams { corrupt: 100.0, ..Default::default() };
    let mut n = Netem::new(p, 11);
    let orig: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
    for _ in 0..500 {
        n.enqueue(skb_from_frame(0, &orig), 0);
        let s = n.dequeue(0).unwrap();
        let flipped: u32 = s.data().iter().zip(&orig).map(|(a, b)| (a ^ b).count_ones()).sum();
        assert_eq!(flipped, 1);
    }
    assert_eq!(n.stats().corrupted, 500);
}

#[test]
fn rate_serialises_back_to_back() {
    // 1000 bytes at 8 Mbit/s: 1 ms each.
    let p = NetemParams { rate_bps: 8_000_000, ..Default::default() };
    let mut n = Netem::new(p, 1);
    for i in 0..3 {
        n.enqueue(frame(i, 1000), 0);
    }
    let mut times = Vec::new();
    while let Some(t) = n.next_time() {
        let (t2, _) = n.dequeue_timed(t).unwrap();
        times.push(t2);
    }
    assert_eq!(times, vec![1_000_000, 2_000_000, 3_000_000]);
}

#[test]
fn limit_drops_are_counted() {
    let p = NetemParams { latency_ns: 1_000, limit: 3, ..Default::default() };
    let mut n = Netem::new(p, 1);
    let ok: Vec<bool> = (0..5).map(|i| n.enqueue(frame(i, 60), 0)).collect();
    assert_eq!(ok, vec![true, true, true, false, false]);
    assert_eq!(n.stats().limit_drops, 2);
}

/// A driver that records what reaches it, with the time.
struct Sink(Clock, std::sync::Arc<std::sync::Mutex<Vec<(u64, u32)>>>);

impl NetDevice for Sink {
    fn setup(&self) -> NetDeviceSetup {
        NetDeviceSetup::ether("tap0", [2, 0, 0, 0, 0, 1])
    }
    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        self.1.lock().unwrap().push((self.0.now_ns(), id(&skb)));
        NetdevTx::Ok
    }
    fn poll(&mut self, _: usize, _: &mut SkBuffHead) -> usize {
        0
    }
}

#[test]
fn netem_device_delays_a_wrapped_driver() {
    let clock = Clock::new_virtual();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let p = NetemParams { latency_ns: 3_000_000, ..Default::default() };
    let mut d = NetemDevice::new(Sink(clock.clone(), seen.clone()), p, 1, clock.clone());
    let stats = d.stats_handle();
    assert!(matches!(d.ndo_start_xmit(frame(1, 60)), NetdevTx::Ok));
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(d.next_rx_time(), Some(3_000_000));
    clock.set_ns(3_000_000);
    d.poll(64, &mut SkBuffHead::new());
    assert_eq!(seen.lock().unwrap().as_slice(), &[(3_000_000, 1)]);
    assert_eq!(stats.lock().dequeued, 1);
    assert_eq!(d.next_rx_time(), None);
}
