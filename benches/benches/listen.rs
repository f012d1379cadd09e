//! Benches for the listen path (issue 7's figures), named after the kernel
//! functions they measure (net-tcp's `tcp_ipv4.rs`, `tcp_input.rs`,
//! `tcp_minisocks.rs`; Linux: net/ipv4/tcp_ipv4.c, tcp_input.c,
//! tcp_minisocks.c):
//!
//! - `tcp_v4_rcv/syn_cookie`: one SYN from a new four-tuple to a listener
//!   whose request queue is full (`tcp_syncookies` = 1): `tcp_v4_rcv()`
//!   (header and checksum checks, the ehash miss, the listener lookup),
//!   `tcp_conn_request()` deciding on a cookie, the cookie, the SYN-ACK
//!   built and sent through IP, the neighbour and the qdisc into a device
//!   that drops it. Goal: ≥ 1,000,000 SYNs per second per core.
//! - `tcp_v4_rcv/syn_request_sock`: the same SYN to a listener with room:
//!   a request sock from the slab, hashed in ehash with its timer armed,
//!   and its SYN-ACK. Goal: ≥ 500,000 per second per core. Each run of
//!   1,024 SYNs gets a fresh host (not timed), so the request queue never
//!   fills and ehash stays as sparse as a real listener's.
//! - `tcp_v4_rcv+inet_csk_accept/final_ack`: the handshake's last ACK for
//!   a waiting request sock (`tcp_check_req()`, the child built by
//!   `tcp_v4_syn_recv_sock()`, queued on the listener) and the `accept()`
//!   that takes it: accepts per second. The SYNs are sent beforehand, not
//!   timed.
//!
//! Segments enter at `tcp_v4_rcv()` as skbs with the IP header already
//! parsed (what `ip_local_deliver()` hands TCP), built per SYN (the copy
//! a NIC's DMA would have made is in the figure). After criterion's
//! groups, plain loops print ns per SYN and SYNs per second, and the sizes
//! of `RequestSock` and `TcpSock`.

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use net_core::{Clock, Net, Skb};
use net_ipv4::fib::FibRoute;
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::rx_datagram;
use net_tcp::af_inet::TcpNet;
use net_tcp::inet_hashtables::EhashEntry;
use net_tcp::tcp_ipv4::tcp_v4_rcv;
use net_tcp::tcphdr::{TCPHDR_ACK, TCPHDR_SYN, TcpHdr, TcpOutOptions, tcp_options_size, tcp_options_write};
use net_tcp::{TcpSocket, inet_init};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
const PORT: u16 = 80;
/// SYNs (or handshakes) per fresh host.
const CHUNK: u64 = 1024;

use benches::fixtures::SinkDev;

/// A server with a listener on port 80 (backlog `backlog`), its SYN-ACKs
/// routed through a gateway into [`SinkDev`].
struct Server {
    net: Arc<Net>,
    tn: Arc<TcpNet>,
    listener: TcpSocket,
}

fn server(backlog: i32, syncookies: u8) -> Server {
    let net = Net::new("bench", Clock::new_virtual_at(1_000_000_000), 7);
    let tn = inet_init(&net);
    let dev = net.register_netdev(Box::new(SinkDev)).expect("eth0");
    dev.open().expect("up");
    net_ipv4::devinet::inet_addr_add(&net, &tn.ipv4, dev.ifindex, SERVER_IP, 24).expect("address");
    tn.ipv4
        .arp_tbl
        .neigh_add(&net, dev.ifindex, GATEWAY_IP, [2, 0, 0, 0, 0, 0xfe], NudState::Permanent)
        .expect("gw");
    tn.ipv4
        .fib
        .fib_table_insert(FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(GATEWAY_IP), dev.ifindex))
        .expect("default route");
    net.sysctl.set("net.ipv4.tcp_syncookies", &syncookies.to_string()).expect("sysctl");
    net.sysctl.set("net.core.somaxconn", "65535").expect("sysctl");
    while net.poll() > 0 {}
    let listener = TcpSocket::new(&net).expect("socket");
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
    listener.listen(backlog).expect("listen");
    Server { net, tn, listener }
}

/// A peer: a random unicast address outside 10/8, a random port.
fn peer(rng: &mut Rng) -> (Ipv4Addr, u16, u32) {
    loop {
        let r = rng.next();
        let a = Ipv4Addr::from((r >> 32) as u32);
        let o = a.octets()[0];
        if (1..=223).contains(&o) && o != 10 && o != 127 {
            return (a, 1024 + (r as u16) % 64000, (r >> 8) as u32);
        }
    }
}

/// A TCP segment as `ip_local_deliver()` hands it over.
fn segment(saddr: Ipv4Addr, sport: u16, seq: u32, ack: u32, flags: u8, opts: &TcpOutOptions) -> Skb {
    let thlen = 20 + tcp_options_size(opts);
    let mut l4 = [0u8; 60];
    l4[12] = ((thlen / 4) as u8) << 4;
    let mut th = TcpHdr::new_checked(&mut l4[..thlen]).expect("a TCP header");
    th.set_source(sport);
    th.set_dest(PORT);
    th.set_seq(seq);
    th.set_ack_seq(ack);
    th.set_flags(flags);
    th.set_window(64240);
    tcp_options_write(th.options_mut(), opts);
    th.fill_checksum(saddr, SERVER_IP);
    rx_datagram(saddr, SERVER_IP, 6, &l4[..thlen])
}

/// The SYN a Linux client sends: MSS, SACK_PERM, timestamps, window scale.
fn syn(rng: &mut Rng) -> (Skb, Ipv4Addr, u16, u32) {
    let (saddr, sport, isn) = peer(rng);
    let opts = TcpOutOptions::syn(1460, isn ^ 0x5a5a, 7);
    (segment(saddr, sport, isn, 0, TCPHDR_SYN, &opts), saddr, sport, isn)
}

/// A server whose request queue is full (backlog 128, 129 requests): every
/// further SYN is answered with a cookie.
fn full_server(rng: &mut Rng) -> Server {
    let s = server(128, 1);
    for _ in 0..129 {
        tcp_v4_rcv(&s.net, &s.tn, syn(rng).0);
    }
    assert_eq!(s.tn.reqsk_slab.active_objs(), 129);
    s
}

/// `iters` SYNs to fresh request-sock servers, timing only the SYNs.
fn time_request_socks(iters: u64, rng: &mut Rng) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let s = server(4096, 1);
        let n = (iters - done).min(CHUNK);
        let syns: Vec<Skb> = (0..n).map(|_| syn(rng).0).collect();
        let t = Instant::now();
        for skb in syns {
            black_box(tcp_v4_rcv(&s.net, &s.tn, skb));
        }
        total += t.elapsed();
        assert_eq!(s.tn.reqsk_slab.active_objs() as u64, n);
        done += n;
    }
    total
}

/// `iters` SYNs answered with cookies.
fn time_cookies(iters: u64, rng: &mut Rng) -> Duration {
    let s = full_server(rng);
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CHUNK);
        let syns: Vec<Skb> = (0..n).map(|_| syn(rng).0).collect();
        let t = Instant::now();
        for skb in syns {
            black_box(tcp_v4_rcv(&s.net, &s.tn, skb));
        }
        total += t.elapsed();
        done += n;
    }
    assert_eq!(s.tn.reqsk_slab.active_objs(), 129, "cookies keep nothing");
    total
}

/// `iters` final ACKs and accepts, the SYNs sent beforehand.
fn time_accepts(iters: u64, rng: &mut Rng) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let s = server(4096, 1);
        let n = (iters - done).min(CHUNK);
        let acks: Vec<Skb> = (0..n)
            .map(|_| {
                let (skb, saddr, sport, isn) = syn(rng);
                tcp_v4_rcv(&s.net, &s.tn, skb);
                let Some(EhashEntry::Req(req)) =
                    s.tn.hashinfo.__inet_lookup_established_any(saddr, sport, SERVER_IP, PORT, 0)
                else {
                    panic!("no request sock");
                };
                let ts = TcpOutOptions { ts: Some((isn ^ 0x5a5a, 0)), ..TcpOutOptions::default() };
                segment(saddr, sport, isn.wrapping_add(1), req.snt_isn.wrapping_add(1), TCPHDR_ACK, &ts)
            })
            .collect();
        let mut children = Vec::with_capacity(n as usize);
        let t = Instant::now();
        for skb in acks {
            tcp_v4_rcv(&s.net, &s.tn, skb);
            children.push(s.listener.accept().expect("accept"));
        }
        total += t.elapsed();
        done += n;
        drop(children);
    }
    total
}

fn bench_listen(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_v4_rcv");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    let mut rng = Rng(0x5eed);
    g.bench_function("syn_cookie", |b| b.iter_custom(|iters| time_cookies(iters, &mut rng)));
    g.bench_function("syn_request_sock", |b| b.iter_custom(|iters| time_request_socks(iters, &mut rng)));
    g.finish();
    let mut g = c.benchmark_group("tcp_v4_rcv+inet_csk_accept");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    g.bench_function("final_ack", |b| b.iter_custom(|iters| time_accepts(iters, &mut rng)));
    g.finish();

    // Plain loops for the report, on this core.
    let n = 1_000_000;
    let rate = |what: &str, goal: &str, d: Duration, n: u64| {
        let ns = d.as_nanos() as f64 / n as f64;
        println!("{what}: {ns:.0} ns each, {:.0} per second per core (goal {goal})", 1e9 / ns);
    };
    rate("SYN → cookie SYN-ACK (tcp_v4_rcv)", "≥ 1,000,000", time_cookies(n, &mut rng), n);
    rate("SYN → request sock + SYN-ACK (tcp_v4_rcv)", "≥ 500,000", time_request_socks(n, &mut rng), n);
    rate("final ACK → child → accept()", "—", time_accepts(200_000, &mut rng), 200_000);
    println!(
        "size_of::<RequestSock>() = {} bytes, size_of::<TcpSock>() = {} bytes (of which TcpSk {})",
        std::mem::size_of::<net_tcp::request_sock::RequestSock>(),
        std::mem::size_of::<net_tcp::sock::TcpSock>(),
        std::mem::size_of::<net_tcp::sock::TcpSk>()
    );
}

criterion_group!(benches, bench_listen);
criterion_main!(benches);
