//! Benches for the FIB, named after the kernel function they measure:
//!
//! - `fib_table_lookup/10000_routes`: one longest-prefix match in a main
//!   table of 10,000 random prefixes (/8–/32), for random destinations
//!   (net-ipv4's `fib.rs`; Linux: `fib_table_lookup()` in
//!   net/ipv4/fib_trie.c). Goal: ≤ 50 ns.
//! - `fib_lookup/10000_routes`: the same through `Fib::fib_lookup`, as the
//!   packet path calls it: the local table (our addresses) first, then
//!   main, each under its read lock, returning a copy of the route.
//! - `fib_table_lookup/linear_scan_1000`: the naive peer, a scan of 1,000
//!   routes for the longest match (what 0.99's list did, without its
//!   ordering), measured in the same run so the ratio is meaningful on a
//!   noisy machine.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group, criterion_main};
use net_ipv4::fib::{Fib, FibRoute, FibTable, RT_TABLE_MAIN, RtnType, inet_make_mask};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

fn routes(n: usize, rng: &mut Rng) -> Vec<FibRoute> {
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        let len = 8 + (rng.next() % 25) as u8;
        let dst = (rng.next() as u32) & inet_make_mask(len);
        v.push(FibRoute {
            dst: Ipv4Addr::from(dst),
            prefixlen: len,
            gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
            oif: 2,
            metric: (rng.next() % 4) as u32,
            rtn_type: RtnType::Unicast,
            prefsrc: None,
        });
    }
    v
}

fn bench_fib(c: &mut Criterion) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut table = FibTable::new(RT_TABLE_MAIN);
    let mut inserted = 0;
    for r in routes(12_000, &mut rng) {
        if inserted == 10_000 {
            break;
        }
        if table.fib_table_insert(r).is_ok() {
            inserted += 1;
        }
    }
    assert_eq!(table.len(), 10_000);
    let addrs: Vec<Ipv4Addr> = (0..4096).map(|_| Ipv4Addr::from(rng.next() as u32)).collect();

    let mut g = c.benchmark_group("fib_table_lookup");
    let mut i = 0usize;
    g.bench_function("10000_routes", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(table.fib_table_lookup(black_box(addrs[i])).map(|r| r.oif))
        })
    });

    let list = routes(1000, &mut rng);
    let mut j = 0usize;
    g.bench_function("linear_scan_1000", |b| {
        b.iter(|| {
            j = (j + 1) & 4095;
            let a = u32::from(black_box(addrs[j]));
            black_box(
                list.iter()
                    .filter(|r| (a ^ u32::from(r.dst)) & inet_make_mask(r.prefixlen) == 0)
                    .max_by_key(|r| r.prefixlen)
                    .map(|r| r.oif),
            )
        })
    });
    g.finish();

    let fib = Fib::new();
    for r in table.routes() {
        fib.fib_table_insert(r).unwrap();
    }
    for a in [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(192, 168, 1, 2)] {
        let local = FibRoute {
            dst: a,
            prefixlen: 32,
            gateway: None,
            oif: 2,
            metric: 0,
            rtn_type: RtnType::Local,
            prefsrc: Some(a),
        };
        fib.fib_table_insert(local).unwrap();
    }
    let mut g = c.benchmark_group("fib_lookup");
    let mut k = 0usize;
    g.bench_function("10000_routes", |b| {
        b.iter(|| {
            k = (k + 1) & 4095;
            black_box(fib.fib_lookup(black_box(addrs[k])).map(|r| r.oif))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_fib);
criterion_main!(benches);
