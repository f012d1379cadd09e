//! Benches for net-core/src/skbuff.rs, named after the kernel functions.
//!
//! `alloc_skb+kfree_skb` is measured beside `Box::new` of the same 2 KiB in
//! the same run: the pool must beat the global allocator (goal ≤ 30 ns).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use net_core::skbuff::{SkBuff, Skb, alloc_skb};

fn skbuff(c: &mut Criterion) {
    eprintln!(
        "size_of::<SkBuff>() = {} bytes (Linux 6.18 struct sk_buff: 232); size_of::<Skb>() = {}",
        size_of::<SkBuff>(),
        size_of::<Skb>()
    );
    let mut g = c.benchmark_group("skbuff");
    g.bench_function("alloc_skb+kfree_skb/2048", |b| {
        b.iter(|| {
            let skb = alloc_skb(black_box(2048));
            drop(black_box(skb));
        })
    });
    g.bench_function("peer:Box::new/2048", |b| {
        b.iter(|| {
            let bx: Box<[u8; 2048]> = Box::new([0u8; 2048]);
            drop(black_box(bx));
        })
    });
    g.bench_function("skb_push+skb_pull/54", |b| {
        let mut skb = alloc_skb(2048);
        skb.reserve(128);
        skb.put(1460);
        b.iter(|| {
            skb.push(black_box(20));
            skb.push(black_box(20));
            skb.push(black_box(14));
            black_box(skb.pull(54));
        })
    });
    g.bench_function("skb_clone", |b| {
        let mut skb = alloc_skb(2048);
        skb.put(1500);
        b.iter(|| {
            let c = black_box(&skb).clone();
            drop(black_box(c));
        })
    });
    g.finish();
}

criterion_group!(benches, skbuff);
criterion_main!(benches);
