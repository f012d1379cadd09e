//! The IPv4 header and the IP control block.
//!
//! Mirrors `struct iphdr` (include/uapi/linux/ip.h), the helpers of
//! include/net/ip.h (`ip_hdr()`, `ip_is_fragment()`, `ip_send_check()`,
//! `struct inet_skb_parm` / `IPCB()`) and the `IPPROTO_*` numbers of
//! include/uapi/linux/in.h, Linux 6.18.
//!
//! Heads up: read RFC 791 (the header, fragmentation), RFC 815 (reassembly),
//! RFC 1122 §3.2.1 (what a host must check) and RFC 1191 (path MTU
//! discovery, the DF bit) first.
//!
//! Where we differ: [`IpHdr`] is a checked zero-copy view (smoltcp's
//! `wire/ipv4.rs` style) instead of a cast pointer: [`IpHdr::new_checked`]
//! verifies that the buffer holds at least 20 bytes and the `ihl * 4` bytes
//! the header claims, after which no accessor can panic. `IPCB()` has no
//! `struct ip_options` (we parse no options).

use net_core::SkBuff;
use net_core::checksum::{Sum16, ip_fast_csum};
use std::net::Ipv4Addr;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// IPv6-in-IPv4 and friends aside, the protocol numbers we know
/// (include/uapi/linux/in.h).
/// Dummy protocol for TCP (`IPPROTO_IP`).
pub const IPPROTO_IP: u8 = 0;
/// ICMP's protocol number.
pub const IPPROTO_ICMP: u8 = 1;
/// IGMP's protocol number.
pub const IPPROTO_IGMP: u8 = 2;
/// IP-in-IP tunnels (`IPPROTO_IPIP`).
pub const IPPROTO_IPIP: u8 = 4;
/// TCP's protocol number.
pub const IPPROTO_TCP: u8 = 6;
/// UDP's protocol number.
pub const IPPROTO_UDP: u8 = 17;
/// IPv6-in-IPv4 (`IPPROTO_IPV6`).
pub const IPPROTO_IPV6: u8 = 41;
/// GRE.
pub const IPPROTO_GRE: u8 = 47;
/// SCTP.
pub const IPPROTO_SCTP: u8 = 132;
/// UDP-Lite.
pub const IPPROTO_UDPLITE: u8 = 136;
/// Raw IP packets (`IPPROTO_RAW`).
pub const IPPROTO_RAW: u8 = 255;

/// Mask of the TOS byte without the ECN bits (`IPTOS_TOS_MASK`).
pub const IPTOS_TOS_MASK: u8 = 0x1E;
/// Minimize delay (`IPTOS_LOWDELAY`).
pub const IPTOS_LOWDELAY: u8 = 0x10;
/// Maximize throughput (`IPTOS_THROUGHPUT`).
pub const IPTOS_THROUGHPUT: u8 = 0x08;
/// Maximize reliability (`IPTOS_RELIABILITY`).
pub const IPTOS_RELIABILITY: u8 = 0x04;
/// Minimize cost (`IPTOS_MINCOST`).
pub const IPTOS_MINCOST: u8 = 0x02;
/// The precedence bits (`IPTOS_PREC_MASK`).
pub const IPTOS_PREC_MASK: u8 = 0xE0;
/// The ECN field of the TOS byte (`INET_ECN_MASK`).
pub const INET_ECN_MASK: u8 = 3;

/// "Congestion" flag, bit 15 of `frag_off` (`IP_CE`, the evil bit's slot).
pub const IP_CE: u16 = 0x8000;
/// Don't fragment (`IP_DF`).
pub const IP_DF: u16 = 0x4000;
/// More fragments follow (`IP_MF`).
pub const IP_MF: u16 = 0x2000;
/// The fragment offset, in 8-byte units (`IP_OFFSET`).
pub const IP_OFFSET: u16 = 0x1FFF;

/// Default TTL (`IPDEFTTL`, the default of `net.ipv4.ip_default_ttl`).
pub const IPDEFTTL: u8 = 64;
/// Largest datagram IPv4 can describe (`IP_MAX_MTU`).
pub const IP_MAX_MTU: u32 = 0xFFFF;
/// Smallest MTU every IPv4 link must carry (`IPV4_MIN_MTU`, RFC 791).
pub const IPV4_MIN_MTU: u32 = 68;
/// Length of a header without options (`sizeof(struct iphdr)`).
pub const IPHDR_LEN: usize = 20;
/// Largest header: `ihl` = 15.
pub const IPHDR_MAX_LEN: usize = 60;

/// Byte ranges of `struct iphdr` (smoltcp's `mod field`).
mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOT_LEN: core::ops::Range<usize> = 2..4;
    pub const ID: core::ops::Range<usize> = 4..6;
    pub const FRAG_OFF: core::ops::Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECK: core::ops::Range<usize> = 10..12;
    pub const SADDR: core::ops::Range<usize> = 12..16;
    pub const DADDR: core::ops::Range<usize> = 16..20;
}

// ANCHOR: iphdr
/// A zero-copy view of an IPv4 header (`struct iphdr`) over a byte buffer.
///
/// Built only by [`IpHdr::new_checked`], which guarantees the buffer holds
/// the fixed 20 bytes and the `ihl * 4` bytes the header claims; after
/// that no accessor can panic. The buffer may be longer than the header
/// (it usually holds the whole datagram); [`IpHdr::payload`] is the bytes
/// after the header up to the end of the buffer.
#[doc(alias = "iphdr")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHdr<T: AsRef<[u8]>> {
    buffer: T,
}
// ANCHOR_END: iphdr

impl<T: AsRef<[u8]>> IpHdr<T> {
    /// A view of `buffer` if it holds at least 20 bytes and `ihl >= 5` with
    /// `ihl * 4` bytes present; `None` otherwise. The version is *not*
    /// checked here (`ip_rcv_core()` counts a wrong version separately).
    pub fn new_checked(buffer: T) -> Option<IpHdr<T>> {
        let b = buffer.as_ref();
        if b.len() < IPHDR_LEN {
            return None;
        }
        let ihl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if ihl < IPHDR_LEN || b.len() < ihl {
            return None;
        }
        Some(IpHdr { buffer })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        net_core::unaligned::get_unaligned_be16(self.b(), r.start)
    }

    /// `version` (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.b()[field::VER_IHL] >> 4
    }
    /// `ihl`: header length in 32-bit words (5..=15).
    pub fn ihl(&self) -> u8 {
        self.b()[field::VER_IHL] & 0x0f
    }
    /// Header length in bytes (`ip_hdrlen()`).
    #[doc(alias = "ip_hdrlen")]
    pub fn hdrlen(&self) -> usize {
        usize::from(self.ihl()) * 4
    }
    /// `tos`: DSCP and ECN.
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }
    /// `tot_len`: header plus payload, in bytes.
    pub fn tot_len(&self) -> u16 {
        self.be16(field::TOT_LEN)
    }
    /// `id`: the identification shared by a datagram's fragments.
    pub fn id(&self) -> u16 {
        self.be16(field::ID)
    }
    /// `frag_off`: flags ([`IP_CE`], [`IP_DF`], [`IP_MF`]) and offset.
    pub fn frag_off(&self) -> u16 {
        self.be16(field::FRAG_OFF)
    }
    /// Fragment offset in bytes (`(frag_off & IP_OFFSET) << 3`).
    pub fn frag_offset_bytes(&self) -> usize {
        usize::from(self.frag_off() & IP_OFFSET) << 3
    }
    /// True for DF.
    pub fn df(&self) -> bool {
        self.frag_off() & IP_DF != 0
    }
    /// True for MF.
    pub fn mf(&self) -> bool {
        self.frag_off() & IP_MF != 0
    }
    /// True if this is a fragment: MF set or a non-zero offset
    /// (`ip_is_fragment()`).
    #[doc(alias = "ip_is_fragment")]
    pub fn is_fragment(&self) -> bool {
        self.frag_off() & (IP_MF | IP_OFFSET) != 0
    }
    /// `ttl`.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }
    /// `protocol`.
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }
    /// `check`, as it sits in the header.
    pub fn check(&self) -> Sum16 {
        let b = self.b();
        Sum16::from_ne_bytes([b[field::CHECK.start], b[field::CHECK.start + 1]])
    }
    /// `saddr`.
    pub fn saddr(&self) -> Ipv4Addr {
        let b = self.b();
        let r = field::SADDR;
        Ipv4Addr::new(b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3])
    }
    /// `daddr`.
    pub fn daddr(&self) -> Ipv4Addr {
        let b = self.b();
        let r = field::DADDR;
        Ipv4Addr::new(b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3])
    }
    /// The options: bytes 20 to `ihl * 4`.
    pub fn options(&self) -> &[u8] {
        self.b().get(IPHDR_LEN..self.hdrlen()).unwrap_or(&[])
    }
    /// The header bytes (`ihl * 4`).
    pub fn header(&self) -> &[u8] {
        self.b().get(..self.hdrlen()).unwrap_or(&[])
    }
    /// Everything after the header in the buffer.
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.hdrlen()..).unwrap_or(&[])
    }
    /// True if the header checksum verifies (`ip_fast_csum() == 0`).
    pub fn verify_checksum(&self) -> bool {
        ip_fast_csum(self.header()) == Sum16::ZERO
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IpHdr<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    fn set_be16(&mut self, r: core::ops::Range<usize>, v: u16) {
        net_core::unaligned::put_unaligned_be16(self.bm(), r.start, v);
    }
    /// Set `version` and `ihl`. Panics if `ihl * 4` exceeds the buffer the
    /// view was checked against — a bug in the writer, not input.
    pub fn set_version_ihl(&mut self, version: u8, ihl: u8) {
        assert!(usize::from(ihl) * 4 <= self.b().len() && ihl >= 5, "ihl {ihl} does not fit the buffer");
        self.bm()[field::VER_IHL] = (version << 4) | (ihl & 0x0f);
    }
    /// Set `tos`.
    pub fn set_tos(&mut self, v: u8) {
        self.bm()[field::TOS] = v;
    }
    /// Set `tot_len` (`iph_set_totlen()`).
    #[doc(alias = "iph_set_totlen")]
    pub fn set_tot_len(&mut self, v: u16) {
        self.set_be16(field::TOT_LEN, v);
    }
    /// Set `id`.
    pub fn set_id(&mut self, v: u16) {
        self.set_be16(field::ID, v);
    }
    /// Set `frag_off` (flags and offset in 8-byte units).
    pub fn set_frag_off(&mut self, v: u16) {
        self.set_be16(field::FRAG_OFF, v);
    }
    /// Set `ttl`.
    pub fn set_ttl(&mut self, v: u8) {
        self.bm()[field::TTL] = v;
    }
    /// Set `protocol`.
    pub fn set_protocol(&mut self, v: u8) {
        self.bm()[field::PROTOCOL] = v;
    }
    /// Set `check` to a raw value.
    pub fn set_check(&mut self, v: Sum16) {
        self.bm()[field::CHECK].copy_from_slice(&v.to_ne_bytes());
    }
    /// Set `saddr`.
    pub fn set_saddr(&mut self, a: Ipv4Addr) {
        self.bm()[field::SADDR].copy_from_slice(&a.octets());
    }
    /// Set `daddr`.
    pub fn set_daddr(&mut self, a: Ipv4Addr) {
        self.bm()[field::DADDR].copy_from_slice(&a.octets());
    }
    /// Compute and store the header checksum.
    ///
    /// Mirrors `ip_send_check()` (net/ipv4/ip_output.c): zero `check`, then
    /// `check = ip_fast_csum(iph, ihl)`.
    #[doc(alias = "ip_send_check")]
    pub fn fill_checksum(&mut self) {
        self.set_check(Sum16::ZERO);
        let c = ip_fast_csum(self.header());
        self.set_check(c);
    }
}

/// The fields of a header to write with [`IpHdrBuilder::write`]; a header
/// without options (`ihl` = 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHdrBuilder {
    /// `tos`.
    pub tos: u8,
    /// `tot_len`.
    pub tot_len: u16,
    /// `id`.
    pub id: u16,
    /// `frag_off`.
    pub frag_off: u16,
    /// `ttl`.
    pub ttl: u8,
    /// `protocol`.
    pub protocol: u8,
    /// `saddr`.
    pub saddr: Ipv4Addr,
    /// `daddr`.
    pub daddr: Ipv4Addr,
}

impl IpHdrBuilder {
    /// A template: TTL 64, everything else zero.
    pub const TEMPLATE: IpHdrBuilder = IpHdrBuilder {
        tos: 0,
        tot_len: IPHDR_LEN as u16,
        id: 0,
        frag_off: 0,
        ttl: IPDEFTTL,
        protocol: 0,
        saddr: Ipv4Addr::UNSPECIFIED,
        daddr: Ipv4Addr::UNSPECIFIED,
    };

    /// Write the 20-byte header with a correct checksum into `buf[..20]`.
    /// Panics if `buf` is shorter than 20 bytes (a bug in the caller).
    pub fn write(&self, buf: &mut [u8]) {
        // Assemble the header in registers, checksum it, then store it once.
        let mut h = [0u8; IPHDR_LEN];
        h[0] = 0x45;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&self.tot_len.to_be_bytes());
        h[4..6].copy_from_slice(&self.id.to_be_bytes());
        h[6..8].copy_from_slice(&self.frag_off.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[12..16].copy_from_slice(&self.saddr.octets());
        h[16..20].copy_from_slice(&self.daddr.octets());
        let c = ip_fast_csum(&h);
        h[10..12].copy_from_slice(&c.to_ne_bytes());
        buf[..IPHDR_LEN].copy_from_slice(&h);
    }

    /// A whole datagram: this header (with `tot_len` set from the payload)
    /// followed by `payload`, as bytes.
    pub fn datagram(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; IPHDR_LEN + payload.len()];
        let h = IpHdrBuilder { tot_len: (IPHDR_LEN + payload.len()).min(0xffff) as u16, ..*self };
        h.write(&mut v);
        v[IPHDR_LEN..].copy_from_slice(payload);
        v
    }
}

/// The IPv4 header of `skb` (at its network header mark), if the bytes
/// there hold one (`ip_hdr()`). `None` when the mark is unset or the
/// bytes are too short for the `ihl` they claim.
pub fn ip_hdr(skb: &SkBuff) -> Option<IpHdr<&[u8]>> {
    IpHdr::new_checked(skb.network_header())
}

/// Recompute the header checksum of the header at `skb`'s network header
/// (`ip_send_check()`). Does nothing if no valid header is there.
pub fn ip_send_check(skb: &mut SkBuff) {
    if let Some(mut h) = IpHdr::new_checked(skb.network_header_mut()) {
        h.fill_checksum();
    }
}

/// `IPSKB_FORWARDED`: the datagram is being forwarded.
pub const IPSKB_FORWARDED: u16 = 1 << 0;
/// `IPSKB_XFRM_TUNNEL_SIZE`.
pub const IPSKB_XFRM_TUNNEL_SIZE: u16 = 1 << 1;
/// `IPSKB_XFRM_TRANSFORMED`.
pub const IPSKB_XFRM_TRANSFORMED: u16 = 1 << 2;
/// `IPSKB_FRAG_COMPLETE`: reassembled here (do not defragment again).
pub const IPSKB_FRAG_COMPLETE: u16 = 1 << 3;
/// `IPSKB_REROUTED`.
pub const IPSKB_REROUTED: u16 = 1 << 4;
/// `IPSKB_DOREDIRECT`: forwarding should send a redirect.
pub const IPSKB_DOREDIRECT: u16 = 1 << 5;
/// `IPSKB_FRAG_PMTU`: fragments must not exceed `frag_max_size`.
pub const IPSKB_FRAG_PMTU: u16 = 1 << 6;

// ANCHOR: inet_skb_parm
/// IPv4's part of the skb control block (`struct inet_skb_parm`, `IPCB()`).
///
/// Filled by `ip_rcv_core()` and read by later receive stages and by the
/// output path. Linux also keeps the parsed `struct ip_options` here; we
/// process no options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
#[doc(alias = "inet_skb_parm")]
pub struct InetSkbParm {
    /// The ifindex the datagram arrived on (`iif`).
    pub iif: u32,
    /// `IPSKB_*` flags.
    pub flags: u16,
    /// Largest fragment received, for a reassembled datagram
    /// (`frag_max_size`); 0 otherwise.
    pub frag_max_size: u16,
    /// The routing generation ([`crate::fib::Fib::rt_genid`]) of the local
    /// input route `ip_rcv_finish()` found for this datagram, 0 for any
    /// other route. Linux's skb carries the route itself (`skb_dst()`, with
    /// its `rt_genid`), which `inet_sk_rx_dst_set()` caches in the
    /// socket; we carry the one word that cache needs
    /// ([`crate::route::SkRxDst`]).
    pub rt_genid: u32,
}
// ANCHOR_END: inet_skb_parm

/// `IPCB(skb)`.
#[allow(non_snake_case)]
pub fn IPCB(skb: &SkBuff) -> &InetSkbParm {
    skb.cb::<InetSkbParm>()
}

/// `IPCB(skb)`, writable.
#[allow(non_snake_case)]
pub fn IPCB_mut(skb: &mut SkBuff) -> &mut InetSkbParm {
    skb.cb_mut::<InetSkbParm>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real header, captured: 10.0.0.1 → 10.0.0.2, ICMP echo, id 0x1c46,
    /// DF, TTL 64, tot_len 84, check 0x0a61 (as `ping` sends it).
    const PINNED: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x61, 0x0a, 0x00, 0x00, 0x01, 0x0a,
        0x00, 0x00, 0x02,
    ];

    #[test]
    fn pinned_header_reads() {
        let h = IpHdr::new_checked(&PINNED[..]).unwrap();
        assert_eq!(h.version(), 4);
        assert_eq!(h.ihl(), 5);
        assert_eq!(h.tot_len(), 84);
        assert_eq!(h.id(), 0x1c46);
        assert!(h.df() && !h.mf() && !h.is_fragment());
        assert_eq!(h.ttl(), 64);
        assert_eq!(h.protocol(), IPPROTO_ICMP);
        assert_eq!(h.saddr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(h.daddr(), Ipv4Addr::new(10, 0, 0, 2));
        assert!(h.verify_checksum(), "pinned checksum {:?}", h.check());
        assert!(h.options().is_empty());
        // Oracle: etherparse reads the same fields and the same checksum.
        let (e, _) = etherparse::Ipv4Header::from_slice(&PINNED).unwrap();
        assert_eq!(e.header_checksum, h.check().wire());
        assert_eq!(e.calc_header_checksum(), h.check().wire());
        assert_eq!(e.identification, h.id());
        assert_eq!(e.time_to_live, h.ttl());
        assert_eq!(e.source, h.saddr().octets());
    }

    #[test]
    fn builder_round_trips_against_etherparse() {
        let mut buf = [0xa5u8; 20];
        let b = IpHdrBuilder {
            tos: 0xb8,
            tot_len: 1500,
            id: 0xbeef,
            frag_off: IP_MF | 185,
            ttl: 17,
            protocol: IPPROTO_UDP,
            saddr: Ipv4Addr::new(192, 0, 2, 1),
            daddr: Ipv4Addr::new(198, 51, 100, 7),
        };
        b.write(&mut buf);
        let (e, _) = etherparse::Ipv4Header::from_slice(&buf).unwrap();
        assert_eq!(e.header_checksum, e.calc_header_checksum());
        assert_eq!(e.total_len, 1500);
        assert_eq!(e.identification, 0xbeef);
        assert!(e.more_fragments && !e.dont_fragment);
        assert_eq!(u16::from(e.fragment_offset), 185);
        assert_eq!(e.time_to_live, 17);
        assert_eq!(e.protocol.0, IPPROTO_UDP);
        assert_eq!(e.dscp.value(), 0xb8 >> 2);
        assert_eq!(e.destination, [198, 51, 100, 7]);
        // and etherparse's own serialisation gives the same bytes
        assert_eq!(e.to_bytes().as_slice(), &buf);
        let h = IpHdr::new_checked(&buf[..]).unwrap();
        assert!(h.verify_checksum());
        assert_eq!(h.frag_offset_bytes(), 185 * 8);
    }

    #[test]
    fn short_or_lying_headers_are_refused() {
        assert!(IpHdr::new_checked(&PINNED[..19]).is_none());
        let mut b = PINNED;
        b[0] = 0x44; // ihl 4
        assert!(IpHdr::new_checked(&b[..]).is_none());
        b[0] = 0x46; // ihl 6 but only 20 bytes
        assert!(IpHdr::new_checked(&b[..]).is_none());
        let mut v = b.to_vec();
        v.extend_from_slice(&[1, 2, 3, 4]);
        let h = IpHdr::new_checked(&v[..]).unwrap();
        assert_eq!(h.options(), &[1, 2, 3, 4]);
    }

    #[test]
    fn ipcb_fits_the_cb() {
        let mut skb = net_core::skbuff::alloc_skb(64);
        IPCB_mut(&mut skb).iif = 7;
        IPCB_mut(&mut skb).frag_max_size = 1500;
        assert_eq!(IPCB(&skb).iif, 7);
        assert_eq!(IPCB(&skb).frag_max_size, 1500);
    }
}
