//! The simulator: determinism and cheap idle time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use net_core::net_namespace::TimerFunc;
use net_core::{NetRx, PacketType};
use net_dev::{LinkParams, LossModel, NetemParams, Sim, SimEvent};

/// Three hosts in a line, a noisy link, a ping-pong of frames driven by
/// handlers and timers. Returns the event log.
fn scenario(seed: u64) -> Vec<SimEvent> {
    let mut sim = Sim::new(seed);
    let log = sim.enable_log();
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    let c = sim.add_host("c");
    for h in [&a, &b, &c] {
        register_eth(h);
    }
    let noisy = LinkParams {
        delay_ns: 2_000_000,
        rate_bps: 10_000_000,
        netem: Some(NetemParams {
            loss: LossModel::Random { percent: 10.0 },
            duplicate: 5.0,
            corrupt: 5.0,
            jitter_ns: 500_000,
            latency_ns: 1_000_000,
            reorder: 10.0,
            gap: 3,
            ..Default::default()
        }),
        ..LinkParams::default()
    };
    let (ab, ba) = sim.connect(&a, &b, noisy.clone()).unwrap();
    sim.connect(&b, &c, noisy).unwrap();
    // b echoes everything it gets from a back to a, and forwards it to c.
    let ba2 = ba.clone();
    let bc_idx = b.dev_get_by_name("eth1").unwrap().ifindex;
    b.dev_add_pack(PacketType::new(ETH_P_TEST, "echo", move |net, skb| {
        if skb.dev == ba2.ifindex {
            let payload = skb.data().to_vec();
            let back = eth_frame([2, 0, 0, 0, 0, 1], ba2.dev_addr(), ETH_P_TEST, &payload);
            let _ = net.dev_queue_xmit(net_core::skbuff::skb_from_frame(ba2.ifindex, &back));
            let fwd = eth_frame([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4], ETH_P_TEST, &payload);
            let _ = net.dev_queue_xmit(net_core::skbuff::skb_from_frame(bc_idx, &fwd));
        }
        NetRx::Success
    }));
    // a sends a frame every 10 ms from a timer, 50 times, with a random
    // payload length from its own NetRandom.
    let sent = Arc::new(AtomicU64::new(0));
    let s = sent.clone();
    let dev = ab.clone();
    let id = Arc::new(std::sync::OnceLock::new());
    let id2 = id.clone();
    let t = a.timer_setup(TimerFunc::closure(move |net| {
        let n = s.fetch_add(1, Ordering::Relaxed);
        let len = 20 + net.random.get_random_u32_below(200) as usize;
        let f = eth_frame(ba.dev_addr(), dev.dev_addr(), ETH_P_TEST, &vec![n as u8; len]);
        let _ = net.dev_queue_xmit(net_core::skbuff::skb_from_frame(dev.ifindex, &f));
        if n < 49 {
            net.mod_timer(*id2.get().unwrap(), net.jiffies() + 10);
        }
    }));
    id.set(t).unwrap();
    a.mod_timer(t, 10);
    assert!(sim.run_until_idle(10_000_000_000));
    assert_eq!(sent.load(Ordering::Relaxed), 50);
    log.lock().unwrap().clone()
}

#[test]
fn same_seed_same_event_log() {
    let one = scenario(1234);
    let two = scenario(1234);
    assert!(one.len() > 100, "{} events", one.len());
    assert_eq!(one, two);
    let other = scenario(4321);
    assert_ne!(one, other, "another seed takes other decisions");
}

#[test]
fn an_idle_hour_with_thousands_of_timers_is_cheap() {
    let mut sim = Sim::new(3);
    let hosts: Vec<_> = (0..4).map(|i| sim.add_host(&format!("h{i}"))).collect();
    let fired = Arc::new(AtomicU64::new(0));
    // 1000 keepalive-like timers per host, each firing every 75 s with a
    // per-timer phase, re-arming itself: 4000 timers, ~192k expiries/hour.
    for h in &hosts {
        for i in 0..1000u64 {
            let f = fired.clone();
            let id = Arc::new(std::sync::OnceLock::new());
            let id2 = id.clone();
            let t = h.timer_setup(TimerFunc::closure(move |net| {
                f.fetch_add(1, Ordering::Relaxed);
                net.mod_timer(*id2.get().unwrap(), net.jiffies() + 75_000);
            }));
            id.set(t).unwrap();
            h.mod_timer(t, 1 + i * 75);
        }
    }
    let start = std::time::Instant::now();
    sim.run_until(3_600_000_000_000);
    let elapsed = start.elapsed();
    let steps = sim.steps();
    println!(
        "1 h of virtual time, 4000 timers: {steps} steps, {} expiries, {elapsed:?}",
        fired.load(Ordering::Relaxed)
    );
    assert_eq!(sim.now_ns(), 3_600_000_000_000);
    // Each timer fires 48 times (phases 1..75 s, period 75 s).
    assert_eq!(fired.load(Ordering::Relaxed), 4 * 1000 * 48);
    // Steps track distinct expiry instants, not jiffies: 3.6 M jiffies passed.
    assert!(steps < 200_000, "{steps} steps");
}

#[test]
fn step_is_false_when_nothing_is_pending_and_run_until_moves_time() {
    let mut sim = Sim::new(1);
    let _a = sim.add_host("a");
    assert!(!sim.step());
    sim.run_until(5_000);
    assert_eq!(sim.now_ns(), 5_000);
    sim.run_for(1_000);
    assert_eq!(sim.now_ns(), 6_000);
    assert!(sim.run_until_idle(1_000));
}

/// Arm a timer on `net` that re-arms itself every jiffy, so the host is
/// never idle.
fn every_jiffy_forever(net: &Arc<net_core::Net>) {
    let id = Arc::new(std::sync::OnceLock::new());
    let id2 = id.clone();
    let t = net.timer_setup(TimerFunc::closure(move |net| {
        net.mod_timer(*id2.get().unwrap(), net.jiffies() + 1);
    }));
    id.set(t).unwrap();
    net.mod_timer(t, 1);
}

#[test]
fn run_until_idle_gives_up_at_the_limit_on_a_periodic_timer() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a");
    every_jiffy_forever(&a);
    assert!(!sim.run_until_idle(50_000_000));
    assert_eq!(sim.now_ns(), 50_000_000);
}

#[test]
#[should_panic(expected = "livelock")]
fn a_step_cap_fails_loudly() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a");
    every_jiffy_forever(&a);
    sim.set_step_limit(100);
    sim.run_until(1_000_000_000);
}
