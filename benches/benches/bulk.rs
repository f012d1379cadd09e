//! Bulk transfer of 1 GiB per iteration between two in-process hosts
//! (issue #10's first figure): the sender's application copies from its
//! own 1 MiB buffer into the socket (`tcp_sendmsg()`), the receiver's
//! copies out into its own 64 KiB buffer (`tcp_recvmsg()`); in between,
//! the whole path — `tcp_write_xmit()`, `ip_queue_xmit()`,
//! `dev_queue_xmit()`, the hub, `netif_receive_skb()`, `ip_rcv()`,
//! `tcp_v4_rcv()`, `tcp_rcv_established()` and the ACKs back. Checksums
//! are computed and verified on both sides (the hub port offloads
//! nothing).
//!
//! - `bulk/1GiB/mtu1500`: an Ethernet MTU of 1500 (MSS 1460, 1448 with
//!   timestamps).
//! - `bulk/1GiB/mtu65536`: MTU 65536, Linux's `lo`. The route MTU is
//!   clamped to 65535 as Linux's `ipv4_mtu()` clamps it to `IP_MAX_MTU`
//!   (an IPv4 datagram's `tot_len` is 16 bits), so the MSS is 65495.
//!
//! Both hosts run GSO and GRO (`ethtool -K eth0 gso on gro on`, Linux's
//! defaults on a NIC; `net_core::gso`, `net_core::gro`): the sender's
//! bursts go through IP, the neighbour and the qdisc as one packet each,
//! the receiver's stack sees one packet per ~22 wire segments and ACKs it
//! once. The wire still carries 1500-byte frames, each checksummed by the
//! sender and validated by the receiver. `bulk/no-offloads/1GiB/mtu1500`
//! is the same transfer with both off, every frame through the whole
//! stack. (At MTU 65536 they have nothing to merge: two segments would
//! pass 64 KiB.)
//!
//! Peers in the same run, on the same kind of link where they can be:
//!
//! - `peer:smoltcp/...`: smoltcp 0.14 on an in-memory Ethernet cable (two
//!   `VecDeque`s), zero latency, virtual time, its device's
//!   `max_transmission_unit` set to the same IP MTU plus the Ethernet
//!   header (65535 + 14 at the large MTU: smoltcp would otherwise build
//!   datagrams longer than `tot_len` can say). Its sockets get the buffers
//!   linnet effectively uses, read from linnet's sockets after linnet's
//!   run and printed: a receive buffer as large as the largest window
//!   linnet's receiver advertised (smoltcp advertises its free receive
//!   buffer, scaled as needed) and a send buffer of the sender's
//!   `sk_sndbuf` after `tcp_sndbuf_expand()`. No congestion control (its
//!   default without the `socket-tcp-*` features; on a lossless
//!   zero-latency link it would not limit anything but slow start).
//! - `peer:linux/...`: Linux over 127.0.0.1 with `std::net`, a sender and
//!   a receiver thread, the same 1 MiB and 64 KiB application buffers, the
//!   kernel's own buffer autotuning; `lo`'s MTU is 65536 on this machine,
//!   whatever the bench's MTU, so the figure stands beside both.
//!
//! After each MTU's criterion group the bench runs linnet's transfer and
//! smoltcp's again, in turn, fifteen times each, and prints the median of
//! the fifteen per-pair ratios (`paired()`; `bench-summary` lists it too).
//! Criterion measures one side's samples a minute before the other's, and
//! on a shared machine the speed can change in between; a pair runs within
//! a second. `LINNET_BULK_PAIRS=N` runs N pairs, 0 none; `-- paired`
//! runs the pairs alone (criterion's filter is checked with
//! `benches::wanted()`, as the closing bench's plain loops check it).
//!
//! `LINNET_BULK_MIB=64 cargo bench -p benches --bench bulk` moves 64 MiB
//! per iteration instead (for a quick look); the figures are bytes per
//! second either way.

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

#[path = "common/linnet.rs"]
mod linnet;
#[path = "common/smol.rs"]
mod smol;
use linnet::{effective, linnet_connect, linnet_lab_mtu, linnet_listener, linnet_stream, set_offloads};

/// The application's send buffer.
const APP_SEND: usize = 1 << 20;
/// The application's receive buffer.
const APP_RECV: usize = 64 << 10;
/// A transfer long enough for linnet's buffers to reach their size.
const WARM: u64 = 64 << 20;

/// Bytes per iteration: 1 GiB unless `LINNET_BULK_MIB` says otherwise.
fn total() -> u64 {
    let mib = std::env::var("LINNET_BULK_MIB").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(1024);
    mib << 20
}

/// Linux over 127.0.0.1: `total` bytes from a sender thread to this one.
fn linux_stream(total: u64, data: &[u8], buf: &mut [u8]) -> Duration {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = l.local_addr().expect("local addr");
    let data = data.to_vec();
    let t = Instant::now();
    let sender = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).expect("connect");
        let mut sent = 0u64;
        while sent < total {
            let off = (sent % data.len() as u64) as usize;
            let want = ((total - sent) as usize).min(data.len() - off);
            c.write_all(&data[off..off + want]).expect("write");
            sent += want as u64;
        }
    });
    let (mut s, _) = l.accept().expect("accept");
    let mut got = 0u64;
    while got < total {
        let n = s.read(buf).expect("read");
        assert!(n > 0, "end of stream in the middle of a transfer");
        got += n as u64;
    }
    black_box(&buf);
    let d = t.elapsed();
    sender.join().expect("sender thread");
    d
}

// ANCHOR: bulk
fn bulk(c: &mut Criterion) {
    let total = total();
    let data: Vec<u8> = (0..APP_SEND as u32).map(|i| (i ^ (i >> 8)) as u8).collect();
    let mut buf = vec![0u8; APP_RECV];
    let name = if total == 1 << 30 { "1GiB".to_string() } else { format!("{}MiB", total >> 20) };
    for mtu in [1500u32, 65536] {
        let mut g = c.benchmark_group("bulk");
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Bytes(total));
        let id = format!("{name}/mtu{mtu}");

        let (nlab, _) = linnet_lab_mtu(mtu, 0);
        set_offloads(&nlab, true);
        let l = linnet_listener(&nlab);
        let (cs, ss) = linnet_connect(&nlab, &l, None);
        g.bench_function(&id, |b| b.iter(|| linnet_stream(&nlab, &cs, &ss, total, &data, &mut buf)));
        // smoltcp gets the buffers linnet's connection grew to, so that
        // connection must have carried a transfer when they are read, also
        // when criterion's filter skipped the samples above (`-- paired`):
        // read on a fresh connection they were the initial 64 KiB window
        // and 85 KiB send buffer, where a transfer grows them to about
        // 72 KiB and 1.2 MB, and smoltcp ran with the smaller ones.
        linnet_stream(&nlab, &cs, &ss, total.min(WARM), &data, &mut buf);
        let eff = effective(&cs, &ss);
        println!("bulk/{id}:\n  linnet: {}", eff.info);
        if mtu == 1500 {
            set_offloads(&nlab, false);
            g.bench_function(format!("no-offloads/{id}"), |b| {
                b.iter(|| linnet_stream(&nlab, &cs, &ss, total, &data, &mut buf))
            });
            set_offloads(&nlab, true);
        }

        // smoltcp: the same IP MTU (65535 at most: tot_len), linnet's buffers.
        let link = smol::LinkModel { mtu: (mtu as usize).min(65535), ..smol::LinkModel::default() };
        let mut lab = smol::Lab::with_link(link, 0);
        let srv = lab.listener(eff.window, eff.sndbuf);
        let cl = lab.connect(49152, eff.window, eff.sndbuf);
        println!("  smoltcp: rx buffer {} B, tx buffer {} B, IP MTU {}", eff.window, eff.sndbuf, link.mtu);
        g.bench_function(format!("peer:smoltcp/{id}"), |b| {
            b.iter(|| smol::stream(&mut lab, cl, srv, total, &data, &mut buf))
        });

        g.bench_function(format!("peer:linux/{id}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| linux_stream(total, &data, &mut buf)).sum())
        });
        g.finish();

        let timed = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            t.elapsed()
        };
        let mut buf2 = vec![0u8; APP_RECV];
        let p = paired(
            &format!("bulk/{id}"),
            "smoltcp",
            total,
            || timed(&mut || linnet_stream(&nlab, &cs, &ss, total, &data, &mut buf)),
            || timed(&mut || smol::stream(&mut lab, cl, srv, total, &data, &mut buf2)),
        );
        if let Some(p) = p {
            println!("{}", p.line());
            if let Err(e) = p.save(&benches::summary::criterion_dir()) {
                eprintln!("bulk: could not save the paired result: {e}");
            }
        }
    }
}
// ANCHOR_END: bulk

// ANCHOR: paired
/// Runs linnet's transfer and the peer's in turn, `LINNET_BULK_PAIRS`
/// times each (15 unless set; at most 50; 0 skips them), each timed alone,
/// and compares them pair by pair. They run when criterion's filter names
/// them (`bulk/1GiB/mtu1500/paired`, or any part of it) or there is none.
///
/// Criterion measures all of linnet's samples, then all of the peer's, a
/// minute or so apart. On a shared machine whose speed drifts in that
/// time (this one's did by 2× within minutes), the ratio of the two
/// estimates carries the drift. Alternating puts both transfers of a pair
/// in the same few hundred milliseconds, and the median of the per-pair
/// ratios ignores the pairs a burst of load hit.
fn paired(
    id: &str,
    peer: &str,
    total: u64,
    mut linnet: impl FnMut() -> Duration,
    mut other: impl FnMut() -> Duration,
) -> Option<benches::summary::Paired> {
    let pairs = std::env::var("LINNET_BULK_PAIRS").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(15);
    let pairs = pairs.min(50);
    if pairs == 0 || !benches::wanted(&format!("{id}/paired")) {
        return None;
    }
    let gib = |d: Duration| total as f64 / d.as_secs_f64() / (1u64 << 30) as f64;
    let mut runs = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let a = gib(linnet());
        let b = gib(other());
        runs.push((a, b));
    }
    Some(benches::summary::Paired::from_runs(id, peer, &runs))
}
// ANCHOR_END: paired

criterion_group!(benches, bulk);
criterion_main!(benches);
