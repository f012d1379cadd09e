//! Benches for net-dev: a frame through a wire (`veth_xmit` + poll), the
//! cost of netem's decision (`netem_enqueue`) with faults off and on, the
//! pcap writer's throughput (`pcap_write`) and one simulator step per event
//! (`sim_step`). Wall-clock figures swing on shared machines: compare the
//! "off"/"on" pairs measured in the same run.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use net_core::net_namespace::TimerFunc;
use net_core::netdevice::{ARPHRD_ETHER, HeaderOps, NetDev, NetDevice};
use net_core::skbuff::{SkBuffHead, skb_from_frame};
use net_core::{Clock, NetRx, PacketType, SkBuff};
use net_dev::{LinkParams, LossModel, Netem, NetemParams, PcapWriter, Sim, Wire};

const BATCH: usize = 256;

fn frame(len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    f
}

fn veth_xmit(c: &mut Criterion) {
    let clock = Clock::new_virtual();
    let (mut a, mut b) = Wire::pair_with(
        clock.clone(),
        ("a", [2, 0, 0, 0, 0, 1]),
        ("b", [2, 0, 0, 0, 0, 2]),
        &LinkParams::default(),
        1,
    );
    a.ndo_open().unwrap();
    b.ndo_open().unwrap();
    let f = frame(1514);
    let mut g = c.benchmark_group("veth_xmit");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("frames_per_sec", |bn| {
        let mut rx = SkBuffHead::new();
        bn.iter(|| {
            for _ in 0..BATCH {
                let _ = a.ndo_start_xmit(skb_from_frame(1, &f));
            }
            let n = b.poll(BATCH, &mut rx);
            black_box(n);
            rx.purge();
        })
    });
    g.finish();
}

fn netem_enqueue(c: &mut Criterion) {
    let f = frame(1514);
    let mut g = c.benchmark_group("netem_enqueue");
    g.throughput(Throughput::Elements(BATCH as u64));
    let on = NetemParams {
        latency_ns: 1_000_000,
        jitter_ns: 100_000,
        loss: LossModel::GilbertElliott { p: 1.0, r: 20.0, one_minus_h: 50.0, one_minus_k: 0.5 },
        duplicate: 1.0,
        corrupt: 1.0,
        reorder: 5.0,
        gap: 3,
        rate_bps: 1_000_000_000,
        limit: 100_000,
        ..NetemParams::default()
    };
    for (name, params) in [("overhead/off", NetemParams::default()), ("overhead/on", on)] {
        let mut n = Netem::new(params, 7);
        let mut now = 0u64;
        g.bench_function(name, |bn| {
            bn.iter(|| {
                for _ in 0..BATCH {
                    n.enqueue(skb_from_frame(1, &f), now);
                }
                now += 10_000_000;
                while let Some(s) = n.dequeue(now) {
                    black_box(s.len());
                }
            })
        });
    }
    g.finish();
}

fn pcap_write(c: &mut Criterion) {
    let f = frame(1514);
    let mut g = c.benchmark_group("pcap_write");
    g.throughput(Throughput::Bytes(((f.len() + 16) * BATCH) as u64));
    // Into std::io::sink: the writer's own cost (headers, bookkeeping).
    let mut w = PcapWriter::new(std::io::sink()).unwrap();
    let mut t = 0u64;
    g.bench_function("throughput", |bn| {
        bn.iter(|| {
            for _ in 0..BATCH {
                t += 1_000;
                w.write_record(t, black_box(&f)).unwrap();
            }
        })
    });
    // The same into a reused Vec, so the copy is measured too.
    let mut buf = Vec::with_capacity((f.len() + 16) * BATCH + 24);
    g.bench_function("throughput_vec", |bn| {
        bn.iter(|| {
            buf.clear();
            let mut w = PcapWriter::new(&mut buf).unwrap();
            for i in 0..BATCH {
                w.write_record(i as u64 * 1_000, black_box(&f)).unwrap();
            }
        })
    });
    g.finish();
}

/// `eth_type_trans()` reduced to what the bench needs (net-dev knows no
/// net-ipv4).
struct PullEth;

impl HeaderOps for PullEth {
    fn type_trans(&self, skb: &mut SkBuff, _dev: &NetDev) -> Option<u16> {
        let d = skb.data();
        let proto = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
        skb.reset_mac_header();
        skb.pull(14)?;
        Some(proto)
    }
    fn create(&self, _: &mut SkBuff, _: &NetDev, _: u16, _: Option<&[u8]>, _: Option<&[u8]>) {}
}

/// One step of a two-host sim where a timer sends a frame over a 1 ms wire
/// every millisecond and the far host consumes it: each step is one event.
fn sim_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim_step");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("per_event", |bn| {
        bn.iter_batched(
            || {
                let mut sim = Sim::new(1);
                let a = sim.add_host("a");
                let b = sim.add_host("b");
                let (da, _) = sim.connect(&a, &b, LinkParams::with_delay(1_000_000)).unwrap();
                b.register_header_ops(ARPHRD_ETHER, std::sync::Arc::new(PullEth));
                b.dev_add_pack(PacketType::new(0x88b5, "sink", |_, _| NetRx::Success));
                let id = std::sync::Arc::new(std::sync::OnceLock::new());
                let id2 = id.clone();
                let f = frame(100);
                let t = a.timer_setup(TimerFunc::closure(move |net| {
                    let _ = net.dev_queue_xmit(skb_from_frame(da.ifindex, &f));
                    net.mod_timer(*id2.get().unwrap(), net.jiffies() + 1);
                }));
                id.set(t).unwrap();
                a.mod_timer(t, 1);
                sim
            },
            |mut sim| {
                for _ in 0..BATCH {
                    black_box(sim.step());
                }
                sim
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, veth_xmit, netem_enqueue, pcap_write, sim_step);
criterion_main!(benches);
