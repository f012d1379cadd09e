//! Benches for net-core/src/dev.rs: `netif_receive_skb` to one handler
//! (goal ≤ 20 ns per frame), with and without a tap on `ptype_all`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use net_core::if_ether::ETH_P_IP;
use net_core::skbuff::{SkBuffHead, alloc_skb};
use net_core::{Clock, Net, NetRx, PacketType, Skb};

const BATCH: usize = 1024;

/// Pre-built frames, so the loop measures dispatch, not allocation.
fn frames() -> SkBuffHead {
    let mut q = SkBuffHead::new();
    for _ in 0..BATCH {
        let mut skb = alloc_skb(256);
        skb.reserve(64);
        skb.put(60);
        skb.protocol = ETH_P_IP;
        skb.dev = 1;
        skb.tstamp = 1;
        q.queue_tail(skb);
    }
    q
}

thread_local! {
    /// Where the bench handler parks frames: a plain per-thread queue, so
    /// the handler costs an enqueue and no lock.
    static SINK: std::cell::RefCell<SkBuffHead> = std::cell::RefCell::new(SkBuffHead::new());
}

fn sink_handler(skb: Skb) -> NetRx {
    SINK.with(|s| s.borrow_mut().queue_tail(skb));
    NetRx::Success
}

/// Move the parked frames back into `q` for the next round.
fn refill(q: &mut SkBuffHead) {
    SINK.with(|s| q.splice_tail_init(&mut s.borrow_mut()));
}

fn netif_receive_skb(c: &mut Criterion) {
    let net = Net::new("bench", Clock::new_virtual(), 1);
    // The handler keeps the frame so that freeing is not measured: it parks
    // it on a queue the bench reuses.
    net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", |_, skb: Skb| sink_handler(skb)));
    let mut g = c.benchmark_group("dev");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut q = frames();
    // Peer in the same run: what the handler alone costs (the enqueue), so
    // dispatch = the figure below minus this one.
    g.bench_function("peer:handler_alone", |b| {
        b.iter(|| {
            while let Some(skb) = q.dequeue() {
                black_box(sink_handler(black_box(skb)));
            }
            refill(&mut q);
        })
    });
    g.bench_function("netif_receive_skb/one_handler", |b| {
        b.iter(|| {
            while let Some(skb) = q.dequeue() {
                black_box(net.netif_receive_skb(skb));
            }
            refill(&mut q);
        })
    });
    net.dev_add_pack(PacketType::tap("tap", |_, skb| {
        black_box(skb);
        NetRx::Success
    }));
    g.bench_function("netif_receive_skb/one_handler+tap", |b| {
        b.iter(|| {
            while let Some(skb) = q.dequeue() {
                black_box(net.netif_receive_skb(skb));
            }
            refill(&mut q);
        })
    });
    g.finish();
}

criterion_group!(benches, netif_receive_skb);
criterion_main!(benches);
