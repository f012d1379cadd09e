//! Benches for net-ipv4, named after the kernel functions they measure:
//!
//! - `ip_rcv/local_deliver`: one IPv4 datagram from `netif_receive_skb`
//!   through `ip_rcv`, `ip_route_input`, `ip_local_deliver` and
//!   `inet_protos[]` to a transport handler, per packet;
//! - `ip_defrag/64KiB`: reassembly of a 65,000-byte datagram from 45
//!   fragments;
//! - `ip_build_header+csum`: writing an IPv4 header and its checksum, with
//!   smoltcp's `Ipv4Repr::emit` measured in the same run as the peer.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use net_core::checksum::ip_fast_csum;
use net_core::if_ether::ETH_P_IP;
use net_core::skbuff::{Skb, alloc_skb};
use net_core::{Clock, Net, NetRx};
use net_ipv4::ip::IpHdrBuilder;
use net_ipv4::protocol::NetProtocol;
use net_ipv4::{devinet, ipv4_init, testlink};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// An unassigned protocol number for the bench's sink transport.
const PROTO: u8 = 253;

/// Host B with one port on a hub and a sink transport on `PROTO`.
fn host() -> (Arc<Net>, u32, Arc<AtomicUsize>) {
    let clock = Clock::new_virtual();
    let net = Net::new("b", clock.clone(), 1);
    let ipv4 = ipv4_init(&net);
    let hub = testlink::Hub::new(&clock, 0);
    let dev = hub.attach(&net, "eth0", [2, 0, 0, 0, 0, 2]);
    devinet::inet_addr_add(&net, &ipv4, dev.ifindex, B, 24).expect("address");
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    ipv4.protos
        .inet_add_protocol(
            Arc::new(NetProtocol {
                name: "bench_sink",
                handler: Box::new(move |_, skb: Skb| {
                    g.fetch_add(skb.len(), Ordering::Relaxed);
                    NetRx::Success
                }),
                err_handler: None,
                early_demux: None,
            }),
            PROTO,
        )
        .expect("protocol slot");
    (net, dev.ifindex, got)
}

/// A datagram A → B as it sits after `eth_type_trans`: data at the IPv4
/// header, protocol set.
fn datagram(ifindex: u32, id: u16, frag_off: u16, payload: &[u8]) -> Skb {
    let mut skb = alloc_skb(payload.len() + 128);
    skb.reserve(64);
    let hdr = IpHdrBuilder {
        tot_len: (20 + payload.len()) as u16,
        id,
        frag_off,
        protocol: PROTO,
        saddr: A,
        daddr: B,
        ..IpHdrBuilder::TEMPLATE
    };
    hdr.write(skb.put(20));
    skb.put_data(payload);
    skb.protocol = ETH_P_IP;
    skb.dev = ifindex;
    skb.tstamp = 1;
    skb
}

/// Writing a 20-byte header with its checksum: ours beside smoltcp's
/// `Ipv4Repr::emit`, the peer to beat, in the same run.
/// linnet's IPv4 header for a 1500-byte UDP datagram, checksum included.
fn linnet_header(buf: &mut [u8]) {
    let h = IpHdrBuilder {
        tot_len: black_box(1500),
        id: black_box(7),
        frag_off: 0x4000,
        protocol: 17,
        saddr: A,
        daddr: B,
        ..IpHdrBuilder::TEMPLATE
    };
    h.write(black_box(buf));
}

/// smoltcp's `Ipv4Repr::emit` of the same header (its peer).
fn smoltcp_header(buf: &mut [u8]) {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{IpProtocol, Ipv4Packet, Ipv4Repr};
    let repr = Ipv4Repr {
        src_addr: A,
        dst_addr: B,
        next_header: IpProtocol::Udp,
        payload_len: black_box(1480),
        hop_limit: 64,
    };
    let mut p = Ipv4Packet::new_unchecked(black_box(buf));
    repr.emit(&mut p, &ChecksumCapabilities::default());
}

fn header_build(c: &mut Criterion) {
    // Both must write a valid header; checked once before measuring, so a
    // filter that skips either bench does not skip the check.
    let mut buf = [0xa5u8; 20];
    let mut sbuf = [0xa5u8; 20];
    linnet_header(&mut buf);
    smoltcp_header(&mut sbuf);
    assert_eq!(ip_fast_csum(&buf), net_core::checksum::Sum16::ZERO);
    assert_eq!(ip_fast_csum(&sbuf), net_core::checksum::Sum16::ZERO);
    let mut g = c.benchmark_group("ipv4");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ip_build_header+csum", |b| b.iter(|| linnet_header(&mut buf)));
    g.bench_function("peer:smoltcp/Ipv4Repr::emit", |b| b.iter(|| smoltcp_header(&mut sbuf)));
    g.finish();
}

fn ip_rcv(c: &mut Criterion) {
    let (net, ifindex, got) = host();
    let mut g = c.benchmark_group("ipv4");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ip_rcv/local_deliver", |b| {
        b.iter_batched(
            || datagram(ifindex, 1, 0x4000, &[0xa5; 64]),
            |skb| black_box(net.netif_receive_skb(skb)),
            BatchSize::SmallInput,
        )
    });
    assert!(got.load(Ordering::Relaxed) > 0, "the sink saw nothing: the bench measured drops");

    // 65,000 bytes of payload in 1480-byte fragments (MTU 1500).
    let payload: Vec<u8> = (0..65_000u32).map(|i| i as u8).collect();
    let frags = |id: u16| -> Vec<Skb> {
        payload
            .chunks(1480)
            .enumerate()
            .map(|(i, chunk)| {
                let off = (i * 1480 / 8) as u16;
                let mf = if (i + 1) * 1480 < payload.len() { 0x2000 } else { 0 };
                datagram(ifindex, id, mf | off, chunk)
            })
            .collect()
    };
    g.throughput(Throughput::Bytes(payload.len() as u64));
    let mut id = 0u16;
    g.bench_function("ip_defrag/64KiB", |b| {
        b.iter_batched(
            || {
                id = id.wrapping_add(1);
                frags(id)
            },
            |fs| {
                for f in fs {
                    black_box(net.netif_receive_skb(f));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, header_build, ip_rcv);
criterion_main!(benches);
