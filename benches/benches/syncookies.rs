//! Benches for SYN cookies (net-tcp's `syncookies.rs`; Linux:
//! net/ipv4/syncookies.c), named after the kernel functions they measure:
//!
//! - `__cookie_v4_init_sequence`: the cookie for one SYN (two SipHash-2-4
//!   of the four-tuple, the MSS-table search). This is the whole
//!   per-SYN cost of the stateless answer beyond building the SYN-ACK.
//! - `__cookie_v4_check`: validating the ACK that completes a cookie
//!   handshake (two SipHash-2-4 again).
//! - `cookie_init_timestamp`: the TSval carrying the SYN's options.
//!
//! Issue 7's goal is 1,000,000 SYNs per second per core with cookies, so
//! the cookie itself must take well under 1 µs. After criterion's groups,
//! a plain loop of 2,000,000 cookies prints ns/op and cookies per second
//! on this core. Four-tuples come from a seeded generator, a fresh one per
//! iteration, so nothing stays in a register.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use net_core::{Clock, Net};
use net_tcp::syncookies::{cookie_init_timestamp, cookie_v4_check, cookie_v4_init_sequence};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

fn bench_syncookies(c: &mut Criterion) {
    let net = Net::new("bench", Clock::new_virtual(), 7);
    let tn = net_tcp::inet_init(&net);
    let daddr = Ipv4Addr::new(10, 0, 0, 1);
    let now = 123_456_789u64;
    let mut g = c.benchmark_group("syncookies");
    g.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));

    let mut rng = Rng(0x5eed);
    g.bench_function("__cookie_v4_init_sequence", |b| {
        b.iter(|| {
            let r = rng.next();
            cookie_v4_init_sequence(
                &tn,
                Ipv4Addr::from(r as u32),
                daddr,
                (r >> 32) as u16,
                80,
                (r >> 16) as u32,
                1460,
                black_box(now),
            )
        })
    });

    // Valid cookies to check, made beforehand.
    let mut rng = Rng(0xcafe);
    let acks: Vec<(Ipv4Addr, u16, u32, u32)> = (0..4096)
        .map(|_| {
            let r = rng.next();
            let (saddr, sport, isn) = (Ipv4Addr::from(r as u32), (r >> 32) as u16, (r >> 16) as u32);
            let (cookie, _) = cookie_v4_init_sequence(&tn, saddr, daddr, sport, 80, isn, 1460, now);
            (saddr, sport, isn.wrapping_add(1), cookie.wrapping_add(1))
        })
        .collect();
    let mut i = 0;
    g.bench_function("__cookie_v4_check", |b| {
        b.iter(|| {
            let (saddr, sport, seq, ack) = acks[i & 4095];
            i += 1;
            let mss = cookie_v4_check(&tn, saddr, daddr, sport, 80, seq, ack, black_box(now));
            assert!(mss.is_some());
            mss
        })
    });

    let mut ts = 0u32;
    g.bench_function("cookie_init_timestamp", |b| {
        b.iter(|| {
            ts = ts.wrapping_add(7);
            cookie_init_timestamp(black_box(ts), true, 7, true)
        })
    });
    g.finish();

    // A plain timing for the report: cookies per second on this core.
    let n = 2_000_000u32;
    let mut rng = Rng(1);
    let t = std::time::Instant::now();
    let mut acc = 0u32;
    for _ in 0..n {
        let r = rng.next();
        acc ^= cookie_v4_init_sequence(
            &tn,
            Ipv4Addr::from(r as u32),
            daddr,
            (r >> 32) as u16,
            80,
            r as u32,
            1460,
            now,
        )
        .0;
    }
    let ns = t.elapsed().as_nanos() as f64 / f64::from(n);
    black_box(acc);
    println!("__cookie_v4_init_sequence: {ns:.1} ns/op, {:.1} M cookies/s per core", 1e3 / ns);
}

criterion_group!(benches, bench_syncookies);
criterion_main!(benches);
