//! Benches for net-tcp end to end, two in-process hosts on an in-memory
//! Ethernet link with zero latency, in virtual time:
//!
//! - `tcp/conn_rr`: sequential connections, one per iteration: `connect()`,
//!   the three-way handshake, a 64-byte request, a 64-byte reply, the client
//!   closes, the server reads end of stream and closes, until the server's
//!   socket is CLOSE and the client's four-tuple is held by its timewait
//!   sock (what is left of a connection in Linux after both `close()`s).
//!   Every 1024 connections the hosts run 61 s of virtual time so the
//!   timewait socks expire and
//!   release their ephemeral ports (32768–60999); that run is timed, spread
//!   over the 1024 connections.
//! - `tcp/bulk`: 16 MiB over one established connection, per iteration.
//!
//! Each beside smoltcp 0.14, the peer to beat, on the same kind of link (two
//! `VecDeque` queues behind a small `Device`), measured in the same run.
//! smoltcp's bulk sockets get linnet's effective buffers: a 16 KiB send
//! buffer and a 64 KiB window.
//!
//! Time is driven the same way for both: poll both hosts until neither has
//! work, check what the bench waits for, and only then jump the virtual
//! clock to the earliest pending timer. Wall-clock time is spent only on
//! processing; a delayed ACK or TIME_WAIT costs a clock jump, not a sleep.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use net_ipv4::testlink::TwoHosts;
use net_tcp::TcpSocket;

const BULK: usize = 16 << 20;
/// Connections between two 61 s runs that expire TIME_WAIT.
const REAP_EVERY: u64 = 1024;

// -- linnet ------------------------------------------------------------------

#[path = "common/linnet.rs"]
mod linnet;
use linnet::{jump_to_next_event, linnet_conn_rr, linnet_connect, linnet_lab, linnet_listener};

/// Move `data` from `c` to `s`, reading into `buf`.
fn linnet_bulk(lab: &TwoHosts, c: &TcpSocket, s: &TcpSocket, data: &[u8], buf: &mut [u8]) {
    let (mut sent, mut got) = (0, 0);
    for _ in 0..100_000_000u32 {
        let mut progress = 0;
        if sent < data.len() {
            if let Ok(n) = c.send(&data[sent..]) {
                sent += n;
                progress += n;
            }
        }
        progress += lab.a.poll() + lab.b.poll();
        while let Ok(n) = s.recv(buf) {
            assert!(n > 0, "end of stream in the middle of bulk");
            got += n;
            progress += n;
        }
        if got == data.len() {
            assert_eq!(sent, got);
            return;
        }
        if progress == 0 {
            jump_to_next_event(lab, "bulk stalled with nothing pending");
        }
    }
    panic!("linnet bulk never finished: sent {sent}, got {got}");
}

// -- smoltcp -----------------------------------------------------------------

#[path = "common/smol.rs"]
mod smol;

// -- the benches ---------------------------------------------------------------

fn conn_rr(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));

    let (lab, _) = linnet_lab();
    let l = linnet_listener(&lab);
    let mut n = 0u64;
    g.bench_function("conn_rr", |b| {
        b.iter(|| {
            linnet_conn_rr(&lab, &l);
            n += 1;
            if n % REAP_EVERY == 0 {
                lab.run_ms(61_000); // TIME_WAIT expires: ports come back
            }
        })
    });
    drop(l);
    println!("tcp/conn_rr: linnet ran {n} connections in {} s virtual", lab.clock.now_ns() / 1_000_000_000);

    let mut lab = smol::Lab::new();
    let srv = lab.listener(4096, 4096);
    let mut n = 0u32;
    g.bench_function("peer:smoltcp/conn_rr", |b| {
        b.iter(|| {
            smol::conn_rr(&mut lab, srv, 49152 + (n % 16384) as u16);
            n += 1;
        })
    });
    g.finish();
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(BULK as u64));
    let data: Vec<u8> = (0..BULK as u32).map(|i| (i ^ (i >> 8)) as u8).collect();
    let mut buf = vec![0u8; 65536];

    let (lab, _) = linnet_lab();
    let l = linnet_listener(&lab);
    let (cs, ss) = linnet_connect(&lab, &l, None);
    g.bench_function("bulk", |b| b.iter(|| linnet_bulk(&lab, &cs, &ss, &data, &mut buf)));
    let info = cs.tcp_info();
    println!("tcp/bulk: linnet sender {info:?}");

    let mut lab = smol::Lab::new();
    // A 64 KiB window and a 16 KiB send buffer, as this bench has always
    // given smoltcp; linnet's window ends near 84 KiB and its send buffer
    // grows. bulk.rs hands smoltcp the buffers linnet actually used.
    let srv = lab.listener(65535, 16384);
    let cl = lab.connect(49152, 65535, 16384);
    g.bench_function("peer:smoltcp/bulk", |b| b.iter(|| smol::bulk(&mut lab, cl, srv, &data, &mut buf)));
    g.finish();
}

criterion_group!(benches, conn_rr, bulk);
criterion_main!(benches);
