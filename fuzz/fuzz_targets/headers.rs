//! Every header parser and builder: parse arbitrary bytes as each header;
//! where the parse succeeds, build the header again from the parsed fields
//! and parse that: the fields (and, where the builder can express them, the
//! bytes) must come back equal. Then the other way: options built from
//! fuzzer-chosen values must parse back to those values. Nothing may panic.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;

use net_core::if_ether::{ETH_HLEN, ETH_P_IP};
use net_ipv4::arp::{ARP_HDR_LEN, ArpHdr, write_arphdr};
use net_ipv4::eth::{EthHdr, write_ethhdr};
use net_ipv4::icmp::{ICMP_HLEN, IcmpHdr, icmp_build};
use net_ipv4::ip::{IPHDR_LEN, IpHdr, IpHdrBuilder};
use net_ipv4::udp::{UDP_HLEN, UdpHdr, udp_build};
use net_tcp::tcphdr::{
    MAX_TCP_OPTION_SPACE, TCP_NUM_SACKS, TcpHdr, TcpOptions, TcpOutOptions, TcpSackBlock, tcp_options_size,
    tcp_options_write, tcp_parse_options, tcpdump_options, tcpdump_options_rel,
};

const SADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const DADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn ethernet(data: &[u8]) {
    let Some(h) = EthHdr::new_checked(data) else {
        assert!(data.len() < ETH_HLEN);
        return;
    };
    let mut b = data.to_vec();
    b[..ETH_HLEN].fill(0);
    write_ethhdr(&mut b, &h.h_dest(), &h.h_source(), h.h_proto());
    assert_eq!(b, data, "ethhdr round trip");
    let h2 = EthHdr::new_checked(&b[..]).expect("rebuilt ethhdr parses");
    assert_eq!(h2.payload(), h.payload());
}

fn arp(data: &[u8]) {
    let Some(h) = ArpHdr::new_checked(data) else {
        assert!(data.len() < ARP_HDR_LEN);
        return;
    };
    let mut b = vec![0u8; ARP_HDR_LEN];
    write_arphdr(&mut b, h.ar_hrd(), h.ar_op(), &h.sha(), h.sip(), &h.tha(), h.tip());
    let h2 = ArpHdr::new_checked(&b[..]).expect("rebuilt arphdr parses");
    assert_eq!(
        (h2.ar_hrd(), h2.ar_op(), h2.sha(), h2.sip(), h2.tha(), h2.tip()),
        (h.ar_hrd(), h.ar_op(), h.sha(), h.sip(), h.tha(), h.tip()),
        "arphdr round trip"
    );
    // write_arphdr only builds Ethernet/IPv4 ARP; for those the bytes match.
    if h.ar_pro() == ETH_P_IP && h.ar_hln() == 6 && h.ar_pln() == 4 {
        assert_eq!(b[..], data[..ARP_HDR_LEN], "Ethernet/IPv4 arphdr bytes");
    }
}

fn ipv4(data: &[u8]) {
    let Some(h) = IpHdr::new_checked(data) else { return };
    assert!(h.hdrlen() >= IPHDR_LEN && h.hdrlen() <= data.len());
    let _ = (h.frag_offset_bytes(), h.df(), h.mf(), h.is_fragment(), h.verify_checksum(), h.payload());
    // Build the header again field by field, options included.
    let hl = h.hdrlen();
    let mut b = vec![0u8; hl];
    b[0] = 0x45;
    {
        let mut w = IpHdr::new_checked(&mut b[..]).expect("20 bytes");
        w.set_version_ihl(h.version(), h.ihl());
        w.set_tos(h.tos());
        w.set_tot_len(h.tot_len());
        w.set_id(h.id());
        w.set_frag_off(h.frag_off());
        w.set_ttl(h.ttl());
        w.set_protocol(h.protocol());
        w.set_saddr(h.saddr());
        w.set_daddr(h.daddr());
        w.set_check(h.check());
    }
    b[IPHDR_LEN..hl].copy_from_slice(h.options());
    assert_eq!(b[..], data[..hl], "iphdr round trip");
    let mut w = IpHdr::new_checked(&mut b[..]).expect("rebuilt iphdr parses");
    w.fill_checksum();
    assert!(w.verify_checksum(), "ip_send_check() makes a header that verifies");
    // The builder writes option-less IPv4 headers: same fields, valid sum.
    let built = IpHdrBuilder {
        tos: h.tos(),
        tot_len: h.tot_len(),
        id: h.id(),
        frag_off: h.frag_off(),
        ttl: h.ttl(),
        protocol: h.protocol(),
        saddr: h.saddr(),
        daddr: h.daddr(),
    };
    let mut b = [0u8; IPHDR_LEN];
    built.write(&mut b);
    let h2 = IpHdr::new_checked(&b[..]).expect("built iphdr parses");
    assert!(h2.verify_checksum());
    assert_eq!(
        (h2.version(), h2.ihl(), h2.tos(), h2.tot_len(), h2.id(), h2.frag_off(), h2.ttl(), h2.protocol()),
        (4, 5, h.tos(), h.tot_len(), h.id(), h.frag_off(), h.ttl(), h.protocol())
    );
    assert_eq!((h2.saddr(), h2.daddr()), (h.saddr(), h.daddr()));
    if h.version() == 4 && h.ihl() == 5 && h.verify_checksum() {
        // Two checksums verify when the rest sums to 0xffff (0 and 0xffff).
        if b[10..12] == data[10..12] {
            assert_eq!(b[..], data[..IPHDR_LEN], "IpHdrBuilder bytes");
        }
    }
}

fn icmp(data: &[u8]) {
    let Some(h) = IcmpHdr::new_checked(data) else {
        assert!(data.len() < ICMP_HLEN);
        return;
    };
    let _ = (h.checksum(), h.id(), h.sequence(), h.gateway(), h.mtu(), h.csum_ok());
    let b = icmp_build(h.type_(), h.code(), h.un(), h.payload());
    assert_eq!(b.len(), data.len());
    let h2 = IcmpHdr::new_checked(&b[..]).expect("built icmphdr parses");
    assert!(h2.csum_ok(), "icmp_build() checksums");
    assert_eq!((h2.type_(), h2.code(), h2.un(), h2.payload()), (h.type_(), h.code(), h.un(), h.payload()));
    if h.csum_ok() && b[2..4] == data[2..4] {
        assert_eq!(b, data);
    }
}

fn udp(data: &[u8]) {
    let Some(h) = UdpHdr::new_checked(data) else {
        assert!(data.len() < UDP_HLEN);
        return;
    };
    let _ = (h.len(), h.is_empty(), h.check(), h.csum_ok(SADDR, DADDR));
    if data.len() > usize::from(u16::MAX) {
        return;
    }
    let b = udp_build(SADDR, h.source(), DADDR, h.dest(), h.payload());
    let h2 = UdpHdr::new_checked(&b[..]).expect("built udphdr parses");
    assert!(h2.csum_ok(SADDR, DADDR), "udp_build() checksums");
    assert_ne!(h2.check(), 0, "a computed zero is sent as CSUM_MANGLED_0");
    assert_eq!(usize::from(h2.len()), data.len());
    assert_eq!((h2.source(), h2.dest(), h2.payload()), (h.source(), h.dest(), h.payload()));
    if usize::from(h.len()) == data.len()
        && h.check() != 0
        && h.csum_ok(SADDR, DADDR)
        && b[6..8] == data[6..8]
    {
        assert_eq!(b, data);
    }
}

fn tcp(data: &[u8]) {
    let Some(h) = TcpHdr::new_checked(data) else { return };
    let _ = (h.ae(), h.fin(), h.syn(), h.rst(), h.psh(), h.ack(), h.urg(), h.ece(), h.cwr());
    let _ = (h.segment(), h.parse_options(), tcpdump_options(h.options()));
    let hl = h.hdrlen();
    let mut b = vec![0u8; data.len()];
    b[12] = 0x50;
    {
        let mut w = TcpHdr::new_checked(&mut b[..]).expect("20 bytes, doff 5");
        w.set_doff(h.doff());
        w.set_source(h.source());
        w.set_dest(h.dest());
        w.set_seq(h.seq());
        w.set_ack_seq(h.ack_seq());
        w.set_flags(h.flags());
        w.set_ae(h.ae());
        w.set_window(h.window());
        w.set_check(h.check());
        w.set_urg_ptr(h.urg_ptr());
        w.options_mut().copy_from_slice(h.options());
        w.payload_mut().copy_from_slice(h.payload());
    }
    // The three reserved bits (res1) have no setter: compare without them.
    let mut want = data.to_vec();
    want[12] &= 0xf1;
    assert_eq!(b, want, "tcphdr round trip");
    assert_eq!(TcpHdr::new_checked(&b[..]).expect("rebuilt parses").hdrlen(), hl);
    if data.len() <= usize::from(u16::MAX) {
        let mut w = TcpHdr::new_checked(&mut b[..]).expect("rebuilt parses");
        w.fill_checksum(SADDR, DADDR);
        assert!(w.verify_checksum(SADDR, DADDR), "tcp_v4_send_check() makes a segment that verifies");
    }
}

/// What [`tcp_options_write`] sends for what was received, and what the
/// receiver must parse back: Linux echoes nothing, but every option it
/// understands has one wire form, so received → sent → received is exact
/// up to the SACK blocks that fit.
fn out_options(rx: &TcpOptions) -> TcpOutOptions {
    TcpOutOptions {
        mss: rx.mss,
        ws: rx.wscale,
        sack_advertise: rx.sack_ok,
        ts: rx.timestamps,
        num_sack_blocks: rx.num_sacks,
        sack_blocks: rx.sack_blocks,
    }
}

fn check_written(out: &TcpOutOptions) {
    let size = tcp_options_size(out);
    assert!(size <= MAX_TCP_OPTION_SPACE && size.is_multiple_of(4), "option space {size}");
    let mut buf = [0u8; MAX_TCP_OPTION_SPACE];
    assert_eq!(tcp_options_write(&mut buf, out), size);
    let back = tcp_parse_options(&buf[..size], true);
    assert_eq!(back.mss, out.mss.filter(|&m| m != 0), "mss");
    assert_eq!(back.wscale, out.ws.map(|w| w.min(14)), "wscale");
    assert_eq!(back.wscale_clamped, out.ws.filter(|&w| w > 14), "wscale clamp");
    assert_eq!(back.sack_ok, out.sack_advertise, "sackOK");
    assert_eq!(back.timestamps, out.ts, "timestamps");
    assert!(!back.saw_unknown && !back.saw_accecn);
    // The blocks that fit in what is left of 40 bytes.
    let base = size_without_sacks(out);
    let remaining = MAX_TCP_OPTION_SPACE - base;
    let fit = if remaining < 12 { 0 } else { ((remaining - 4) / 8).min(usize::from(out.num_sack_blocks)) };
    let fit = fit.min(TCP_NUM_SACKS);
    assert_eq!(back.sacks(), &out.sack_blocks[..fit], "SACK blocks");
    let _ = tcpdump_options_rel(&buf[..size], Some(1));
}

fn size_without_sacks(o: &TcpOutOptions) -> usize {
    4 * usize::from(o.mss.is_some())
        + 12 * usize::from(o.ts.is_some())
        + 4 * usize::from(o.sack_advertise && o.ts.is_none())
        + 4 * usize::from(o.ws.is_some())
}

fn tcp_options(data: &[u8]) {
    let opts = &data[..data.len().min(MAX_TCP_OPTION_SPACE)];
    for syn in [false, true] {
        let rx = tcp_parse_options(opts, syn);
        assert!(usize::from(rx.num_sacks) <= TCP_NUM_SACKS);
        assert!(rx.wscale.is_none_or(|w| w <= 14));
        if !syn {
            assert!(rx.mss.is_none() && rx.wscale.is_none() && !rx.sack_ok, "SYN-only options on a non-SYN");
        }
        check_written(&out_options(&rx));
    }
    let _ = (tcpdump_options(opts), tcpdump_options_rel(opts, Some(0x1234_5678)));
}

/// A [`TcpOutOptions`] drawn by the fuzzer: the builder's side.
#[derive(Debug, Arbitrary)]
struct OutOpts {
    mss: Option<u16>,
    ws: Option<u8>,
    sack_advertise: bool,
    ts: Option<(u32, u32)>,
    num_sack_blocks: u8,
    sack_blocks: [(u32, u32); TCP_NUM_SACKS],
}

fn tcp_options_built(data: &[u8]) {
    let Ok(o) = OutOpts::arbitrary(&mut Unstructured::new(data)) else { return };
    let out = TcpOutOptions {
        mss: o.mss,
        ws: o.ws,
        sack_advertise: o.sack_advertise,
        ts: o.ts,
        num_sack_blocks: o.num_sack_blocks % (TCP_NUM_SACKS as u8 + 1),
        sack_blocks: o.sack_blocks.map(|(start_seq, end_seq)| TcpSackBlock { start_seq, end_seq }),
    };
    check_written(&out);
}

fuzz_target!(|data: &[u8]| {
    // Each parser sees the input from its first byte; the IPv4 and
    // transport parsers also see what follows an Ethernet header, as on
    // the wire.
    ethernet(data);
    arp(data);
    ipv4(data);
    icmp(data);
    udp(data);
    tcp(data);
    tcp_options(data);
    tcp_options_built(data);
    if data.len() > ETH_HLEN {
        let l3 = &data[ETH_HLEN..];
        arp(l3);
        ipv4(l3);
        if let Some(h) = IpHdr::new_checked(l3) {
            let l4 = h.payload();
            icmp(l4);
            udp(l4);
            tcp(l4);
        }
    }
});
