//! Benches for net-core/src/timer.rs, named after the kernel functions.
//!
//! `mod_timer+del_timer` arms and deletes one timer on a wheel that already
//! holds 1,000,000 pending timers (a busy host: RTO, delayed ACK, keepalive
//! and TIME_WAIT timers), beside the usual alternative measured in the same
//! run, a `BTreeMap` keyed by (expires, seq) of the same size. Goal: ≤ 40 ns,
//! and independent of how many timers are armed (the wheel is O(1), the
//! tree O(log n)).
//!
//! `run_timers/expire_1000000` drains a wheel of 1,000,000 timers spread over
//! 70 minutes of jiffies, cascades included; the throughput figure is the
//! cost per expired timer.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use net_core::jiffies::msecs_to_jiffies;
use net_core::timer::TimerBase;

const N: u64 = 1_000_000;
/// Timers expire within this many jiffies (2^22 ms, about 70 minutes), so
/// they are filed on tv1..tv4 and cascade on the way down.
const SPREAD: u64 = 1 << 22;

/// Expiry offset of the k-th timer: a multiplicative hash spreads them evenly.
fn spread(k: u64) -> u64 {
    k.wrapping_mul(2_654_435_761) % SPREAD
}

/// A wheel at jiffy 0 with `N` pending timers.
fn armed_base() -> TimerBase<u64> {
    let mut base = TimerBase::new(0);
    for k in 0..N {
        let t = base.timer_setup(k);
        base.mod_timer(t, spread(k));
    }
    base
}

fn timer(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer");

    g.bench_function("mod_timer+del_timer/1000000_armed", |b| {
        let mut base = armed_base();
        let t = base.timer_setup(N);
        let rto = msecs_to_jiffies(200);
        let mut i = 0u64;
        b.iter(|| {
            // Vary the expiry over 4 s so tv1 and tv2 slots are both used.
            i = i.wrapping_add(1);
            base.mod_timer(t, black_box(rto + (i & 4095)));
            black_box(base.del_timer(t));
        })
    });

    g.bench_function("peer:BTreeMap::insert+remove/1000000_armed", |b| {
        let mut q: BTreeMap<(u64, u64), u64> = (0..N).map(|k| ((spread(k), k), k)).collect();
        let rto = msecs_to_jiffies(200);
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            let key = (black_box(rto + (i & 4095)), N + i);
            q.insert(key, i);
            black_box(q.remove(&key));
        })
    });

    // Each sample drains a freshly armed wheel (about 50 ms, plus as long
    // again to build it), so keep the sample count low.
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(N));
    g.bench_function("run_timers/expire_1000000", |b| {
        b.iter_batched(
            || (armed_base(), Vec::with_capacity(N as usize)),
            |(mut base, mut out)| {
                base.run_timers(SPREAD, &mut out);
                assert_eq!(out.len() as u64, N);
                // Returned, so that freeing them is not measured.
                (base, out)
            },
            BatchSize::LargeInput,
        )
    });

    g.finish();
}

criterion_group!(benches, timer);
criterion_main!(benches);
