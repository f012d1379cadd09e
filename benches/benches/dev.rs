//! Benches for net-core/src/dev.rs: `netif_receive_skb` to one handler
//! (goal ≤ 20 ns per frame), with and without a tap on `ptype_all`.

use std::hint::black_box;
use std::sync::Arc;

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

fn netif_receive_skb(c: &mut Criterion) {
    let net = Net::new("bench", Clock::new_virtual(), 1);
    // The handler keeps the frame so that freeing is not measured: it puts
    // it back on a queue the bench reuses.
    let sink = Arc::new(spin::Mutex::new(SkBuffHead::new()));
    let s = sink.clone();
    net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", move |_, skb: Skb| {
        s.lock().queue_tail(skb);
        NetRx::Success
    }));
    let mut g = c.benchmark_group("dev");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut q = frames();
    // Peer in the same run: what the handler alone costs (the sink's lock
    // and enqueue), so dispatch = the figure below minus this one.
    let direct = {
        let s = sink.clone();
        move |skb: Skb| {
            s.lock().queue_tail(skb);
            NetRx::Success
        }
    };
    g.bench_function("peer:handler_alone", |b| {
        b.iter(|| {
            while let Some(skb) = q.dequeue() {
                black_box(direct(skb));
            }
            std::mem::swap(&mut q, &mut *sink.lock());
        })
    });
    g.bench_function("netif_receive_skb/one_handler", |b| {
        b.iter(|| {
            while let Some(skb) = q.dequeue() {
                black_box(net.netif_receive_skb(skb));
            }
            std::mem::swap(&mut q, &mut *sink.lock());
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
            std::mem::swap(&mut q, &mut *sink.lock());
        })
    });
    g.finish();
}

criterion_group!(benches, netif_receive_skb);
criterion_main!(benches);
