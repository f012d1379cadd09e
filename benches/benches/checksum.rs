//! Benches for net-core/src/checksum.rs: `csum_partial` over a full-size
//! frame (goal ≥ 20 GB/s on 1500 bytes) and a small one, `ip_fast_csum` over
//! a 20-byte IPv4 header, and `csum_tcpudp_magic` (the pseudo-header).
//!
//! Wall-clock figures swing on shared machines (see TRAPS.md): compare
//! `csum_partial/1500` against `csum_partial/64` from the same run rather
//! than against yesterday's number.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use net_core::checksum::{Wsum, csum_partial, csum_tcpudp_magic, ip_fast_csum};

/// A captured IPv4 header (UDP 10.0.0.1 → 10.0.0.2) whose checksum verifies.
const IPH: [u8; 20] =
    [0x45, 0x00, 0x00, 0x31, 0x92, 0x94, 0x40, 0x00, 0x40, 0x11, 0x94, 0x25, 10, 0, 0, 1, 10, 0, 0, 2];

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(7)).collect()
}

fn checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for len in [1500usize, 64] {
        let buf = payload(len);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("csum_partial/{len}"), |b| {
            b.iter(|| csum_partial(black_box(&buf), black_box(Wsum::ZERO)))
        });
    }

    g.throughput(Throughput::Bytes(IPH.len() as u64));
    g.bench_function("ip_fast_csum/20", |b| b.iter(|| ip_fast_csum(black_box(&IPH))));

    g.throughput(Throughput::Elements(1));
    g.bench_function("csum_tcpudp_magic", |b| {
        b.iter(|| {
            csum_tcpudp_magic(
                black_box([10, 0, 0, 1]),
                black_box([10, 0, 0, 2]),
                black_box(1480),
                black_box(6),
                black_box(Wsum(0x1234_5678)),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, checksum);
criterion_main!(benches);
