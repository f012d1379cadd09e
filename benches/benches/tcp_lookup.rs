//! Benches for the socket hash tables, named after the kernel function they
//! measure (net-tcp's `inet_hashtables.rs`; Linux: net/ipv4/inet_hashtables.c):
//!
//! - `__inet_lookup_established/hit/N`: the socket of an existing
//!   four-tuple among N established sockets, visiting all N in a random
//!   order (N = 1,000, 100,000,
//!   1,000,000), the table sized to N as `tcp_child_ehash_entries` would
//!   be. Goal: ≤ 60 ns, flat from 1,000 to 1,000,000.
//! - `__inet_lookup_established/hit_same_flow/N`: the same four-tuple
//!   again and again, as the segments of one busy connection arrive: the
//!   bucket and the socket stay in cache, so what is left is the table's
//!   own cost at size N.
//! - `__inet_lookup_established/miss/N`: a random four-tuple that is not
//!   there (what every SYN to a listener pays first).
//! - `__inet_lookup_established/memory_floor_one_line/N`: the peer, one
//!   dependent read of a random cache line in a working set as large as N
//!   sockets: what the memory system charges for each of the (at least
//!   two) lines a hit must touch — the bucket, then the socket.
//! - `__inet_lookup_listener/100_listeners`: the best listener among 100
//!   (80 on specific addresses, 20 wildcard) for a segment to one of their
//!   ports.
//!
//! The tuples come from a seeded generator, so every run builds the same
//! tables. The sizes of `TcpSock` and of an ehash bucket are printed first.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use net_core::random::SipKey;
use net_core::{Clock, Net};
use net_tcp::inet_hashtables::{InetBindBucket, InetBindHashbucket, InetEhashBucket, InetHashinfo};
use net_tcp::sock::TcpSock;
use net_tcp::tcp_states::TcpState;

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// A four-tuple as a segment arriving for the socket carries it.
#[derive(Clone, Copy)]
struct Tuple {
    saddr: Ipv4Addr,
    sport: u16,
    daddr: Ipv4Addr,
    dport: u16,
}

fn random_tuple(rng: &mut Rng) -> Tuple {
    let r = rng.next();
    Tuple {
        saddr: Ipv4Addr::from(r as u32),
        sport: (r >> 32) as u16,
        daddr: Ipv4Addr::new(10, 0, (r >> 48) as u8 & 3, 1),
        dport: [80, 443, 8080, 22][(r >> 56) as usize & 3],
    }
}

/// `n` established sockets with random tuples in a table sized for `n`.
fn established(net: &Net, n: usize, rng: &mut Rng) -> (InetHashinfo, Vec<Tuple>, Vec<Arc<TcpSock>>) {
    let h = InetHashinfo::new(n, SipKey([0x5eed, 0xcafe]));
    let mut tuples = Vec::with_capacity(n);
    let mut socks = Vec::with_capacity(n);
    while tuples.len() < n {
        let t = random_tuple(rng);
        let sk = TcpSock::new(net, 87380, 16384);
        sk.skc_state.store(TcpState::Established as u8, Ordering::Release);
        sk.set_skc_addrs(t.daddr, t.dport, t.saddr, t.sport);
        if h.inet_ehash_nolisten(&sk) {
            tuples.push(t);
            socks.push(sk);
        }
    }
    (h, tuples, socks)
}

fn bench_established(c: &mut Criterion) {
    println!(
        "size_of::<TcpSock>() = {} bytes, size_of::<InetEhashBucket>() = {} bytes, \
         size_of::<InetBindHashbucket>() = {} bytes, size_of::<InetBindBucket>() = {} bytes",
        std::mem::size_of::<TcpSock>(),
        std::mem::size_of::<InetEhashBucket>(),
        std::mem::size_of::<InetBindHashbucket>(),
        std::mem::size_of::<InetBindBucket>()
    );
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut g = c.benchmark_group("__inet_lookup_established");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for n in [1_000usize, 100_000, 1_000_000] {
        let net = Net::new("bench", Clock::new_virtual(), 1);
        let (h, tuples, socks) = established(&net, n, &mut rng);
        assert_eq!(h.established_len(), n);
        // Visit every socket once per round, in an order unrelated to where
        // the sockets sit in memory; the tuples themselves are read in
        // sequence, as a segment brings its tuple in the skb.
        let mut order = tuples.clone();
        for k in (1..order.len()).rev() {
            order.swap(k, (rng.next() % (k as u64 + 1)) as usize);
        }
        let mut j = 0usize;
        g.bench_function(format!("hit/{n}"), |b| {
            b.iter(|| {
                j = if j + 1 == n { 0 } else { j + 1 };
                let t = order[j];
                black_box(h.__inet_lookup_established(t.saddr, t.sport, t.daddr, t.dport, 1))
            })
        });
        // One flow's segments in a row (a bulk transfer): the bucket and the
        // socket stay in cache, so this is the table's own cost at size N.
        let flow = order[n / 2];
        g.bench_function(format!("hit_same_flow/{n}"), |b| {
            b.iter(|| {
                let t = black_box(flow);
                black_box(h.__inet_lookup_established(t.saddr, t.sport, t.daddr, t.dport, 1))
            })
        });
        // Misses: the same local side, a peer no socket has.
        let misses: Vec<Tuple> = (0..4096)
            .map(|_| {
                let mut t = random_tuple(&mut rng);
                t.saddr = Ipv4Addr::new(172, 16, 0, 1);
                t
            })
            .collect();
        let mut i = 0usize;
        g.bench_function(format!("miss/{n}"), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                let t = misses[i];
                black_box(h.__inet_lookup_established(t.saddr, t.sport, t.daddr, t.dport, 1))
            })
        });
        for sk in &socks {
            h.inet_unhash(sk);
        }
        drop((h, socks));
        // The peer: one dependent read of a random cache line in a working
        // set the size of N sockets (a pointer chase). A hit needs at
        // least two such reads (bucket, then socket).
        let lines = n * std::mem::size_of::<TcpSock>().div_ceil(64);
        let mut perm: Vec<u32> = (0..lines as u32).collect();
        for k in (1..lines).rev() {
            perm.swap(k, (rng.next() % (k as u64 + 1)) as usize);
        }
        let mut next = vec![[0u64; 8]; lines];
        for k in 0..lines {
            next[perm[k] as usize][0] = u64::from(perm[(k + 1) % lines]);
        }
        drop(perm);
        let mut p = 0usize;
        g.bench_function(format!("memory_floor_one_line/{n}"), |b| {
            b.iter(|| {
                p = next[p][0] as usize;
                black_box(p)
            })
        });
    }
    g.finish();
}

fn bench_listener(c: &mut Criterion) {
    let mut rng = Rng(0xDEAD_BEEF_1234_5678);
    let net = Net::new("bench", Clock::new_virtual(), 1);
    let h = InetHashinfo::new(65536, SipKey([1, 2]));
    let mut targets = Vec::new();
    let mut listeners = Vec::new();
    for i in 0..100u16 {
        let sk = TcpSock::new(&net, 87380, 16384);
        sk.skc_state.store(TcpState::Listen as u8, Ordering::Release);
        let addr = if i < 80 {
            Ipv4Addr::from(0x0a00_0000 | (rng.next() as u32 & 0xffff))
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        let port = 1000 + (rng.next() % 20000) as u16;
        sk.set_skc_addrs(addr, port, Ipv4Addr::UNSPECIFIED, 0);
        h.inet_hash(&sk);
        // A wildcard listener is reached at any local address.
        let daddr = if addr.is_unspecified() { Ipv4Addr::new(10, 9, 9, 9) } else { addr };
        targets.push((daddr, port));
        listeners.push(sk);
    }
    let mut g = c.benchmark_group("__inet_lookup_listener");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let mut i = 0usize;
    g.bench_function("100_listeners", |b| {
        b.iter(|| {
            i = (i + 1) % targets.len();
            let (daddr, dport) = targets[i];
            black_box(h.__inet_lookup_listener(Ipv4Addr::new(192, 168, 1, 1), 40000, daddr, dport, 1))
        })
    });
    g.finish();
    assert!(listeners.iter().all(|sk| sk.hash_link.is_linked()));
}

criterion_group!(benches, bench_established, bench_listener);
criterion_main!(benches);
