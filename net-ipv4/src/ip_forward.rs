//! Forwarding: the router's half of IPv4.
//!
//! Mirrors `net/ipv4/ip_forward.c` (`ip_forward()`, `ip_exceeds_mtu()`,
//! `ip_forward_finish()`) and `ip_decrease_ttl()` (include/net/ip.h) of
//! **Linux 6.18**.
//!
//! Read first: RFC 1812 §5.2 (forwarding: §5.2.1 the steps, §5.3.1 TTL
//! "MUST decrement … if the TTL is reduced to zero (or less), the packet
//! MUST be discarded, and … SHOULD send an ICMP Time Exceeded"), §5.2.4.3
//! (next hop) and RFC 1191 §4 (a router's "fragmentation needed" carries
//! the next-hop MTU); RFC 1624 for the incremental checksum update.
//!
//! # Where we differ
//!
//! - No ICMP redirects (`ip_rt_send_redirect`), no IP options
//!   (`ip_forward_options`), no router alert, no netfilter `FORWARD` hook,
//!   no xfrm policy check, no LRO/GSO cases.
//! - The datagram leaves through `ip_output()` (L3's `ip_output.rs`), the
//!   function Linux's `dst_output()` reaches for a forwarded route; it
//!   counts `OutTransmits`, never `OutRequests`.

use crate::Ipv4;
use crate::ip::{IP_DF, IpHdr};
use crate::route::Rtable;
use net_core::checksum::csum_replace2;
use net_core::dropreason::SkbDropReason;
use net_core::skbuff::PktType;
use net_core::snmp::IpstatsMib;
use net_core::{Net, NetRx, Skb};

/// `ICMP_TIME_EXCEEDED`.
const ICMP_TIME_EXCEEDED: u8 = 11;
/// `ICMP_EXC_TTL`.
const ICMP_EXC_TTL: u8 = 0;
/// `ICMP_DEST_UNREACH`.
const ICMP_DEST_UNREACH: u8 = 3;
/// `ICMP_FRAG_NEEDED`.
const ICMP_FRAG_NEEDED: u8 = 4;

/// Offset of `ttl` in `struct iphdr`; `protocol` follows it in the same
/// 16-bit checksum word.
const TTL_OFF: usize = 8;
/// Offset of `check`.
const CHECK_OFF: usize = 10;

/// Decrement the TTL and patch the header checksum for it.
///
/// Mirrors `ip_decrease_ttl()` (include/net/ip.h), which adds
/// `htons(0x0100)` with an end-around carry; here the same RFC 1624 update
/// is `csum_replace2` on the (ttl, protocol) word. Returns the new TTL.
/// The header must be at least 20 bytes (checked by the caller).
pub fn ip_decrease_ttl(iph: &mut [u8]) -> u8 {
    let old = [iph[TTL_OFF], iph[TTL_OFF + 1]];
    let new = [old[0].wrapping_sub(1), old[1]];
    let mut check = [iph[CHECK_OFF], iph[CHECK_OFF + 1]];
    csum_replace2(&mut check, old, new);
    iph[TTL_OFF] = new[0];
    iph[CHECK_OFF..CHECK_OFF + 2].copy_from_slice(&check);
    new[0]
}

/// Would `len` bytes with this `frag_off` need fragmenting that DF forbids
/// (`ip_exceeds_mtu()`)? A datagram we reassembled is judged by its
/// largest original fragment (`frag_max_size`).
fn ip_exceeds_mtu(len: usize, frag_off: u16, frag_max_size: u16, mtu: u32) -> bool {
    if len <= mtu as usize || frag_off & IP_DF == 0 {
        return false;
    }
    frag_max_size == 0 || u32::from(frag_max_size) > mtu
}

// ANCHOR: ip_forward
/// Forward a datagram (`ip_forward()`): TTL, checksum, time exceeded, MTU.
///
/// Mirrors `ip_forward()` → `ip_forward_finish()` (net/ipv4/ip_forward.c).
/// `skb.data` and the network header are at the IPv4 header; `rt` is the
/// unicast route `ip_route_input` chose. In order:
///
/// 1. a frame not addressed to our MAC (`pkt_type != PACKET_HOST`) is
///    dropped (`OTHERHOST`): a router forwards only what was sent to it;
///    so is one early demux gave a local socket (`skb->sk`,
///    `NOT_SPECIFIED`);
/// 2. TTL ≤ 1: ICMP time exceeded (type 11, code 0) to the source,
///    `InHdrErrors`, drop (`IP_INHDR`);
/// 3. longer than the path MTU with DF set (a packet GRO merged: a
///    segment longer), ICMP fragmentation needed
///    (type 3, code 4, the MTU in the second word), `FragFails`, drop
///    (`PKT_TOO_BIG`). Without DF it is fragmented on output;
/// 4. unshare the data (`skb_cow`), decrement the TTL with an incremental
///    checksum update, count `ForwDatagrams` (Linux:
///    `IPSTATS_MIB_OUTFORWDATAGRAMS`) and send through `ip_output()`.
///
/// Returns `NetRx::Drop` for a drop here or an output error (already
/// counted by the output path), `NetRx::Success` otherwise.
pub fn ip_forward(net: &Net, ipv4: &Ipv4, mut skb: Skb, rt: Rtable) -> NetRx {
    net_core::ftrace_graph!("ip_forward");
    if skb.pkt_type != PktType::Host {
        net.kfree_skb_reason(skb, SkbDropReason::Otherhost);
        return NetRx::Drop;
    }
    // `if (unlikely(skb->sk)) goto drop;`: early demux found a local
    // socket for it, yet the route says forward (its address went away).
    if skb.sk.is_some() {
        net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
        return NetRx::Drop;
    }
    let Some((ttl, frag_off)) = IpHdr::new_checked(skb.network_header()).map(|h| (h.ttl(), h.frag_off()))
    else {
        net.mib.inc(IpstatsMib::InHdrErrors);
        net.kfree_skb_reason(skb, SkbDropReason::IpInhdr);
        return NetRx::Drop;
    };
    if ttl <= 1 {
        // Tell the sender its packet died...
        net.mib.inc(IpstatsMib::InHdrErrors);
        crate::icmp::icmp_send(net, ipv4, &skb, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
        net.kfree_skb_reason(skb, SkbDropReason::IpInhdr);
        return NetRx::Drop;
    }
    let mtu = if rt.mtu != 0 { rt.mtu } else { net.dev_get_by_index(rt.dev).map_or(1500, |d| d.mtu()) };
    let frag_max_size = crate::ip::IPCB(&skb).frag_max_size;
    // A packet GRO merged is judged by its segments, as Linux's
    // `skb_gso_validate_network_len()` judges it: `skb.len()` is its first
    // segment's, the rest are payloads of that size or less.
    if ip_exceeds_mtu(skb.len(), frag_off, frag_max_size, mtu) {
        net.mib.inc(IpstatsMib::FragFails);
        crate::icmp::icmp_send(net, ipv4, &skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
        net.kfree_skb_reason(skb, SkbDropReason::PktTooBig);
        return NetRx::Drop;
    }
    // We are about to mangle the packet: copy it if shared.
    skb.skb_unshare();
    ip_decrease_ttl(skb.network_header_mut());
    // ip_forward_finish()
    net.mib.inc(IpstatsMib::ForwDatagrams);
    skb.tstamp = 0;
    match crate::ip_output::ip_output(net, ipv4, skb, &rt) {
        Ok(()) => NetRx::Success,
        Err(_) => NetRx::Drop,
    }
}
// ANCHOR_END: ip_forward

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::checksum::ip_fast_csum;

    #[test]
    fn decrease_ttl_keeps_the_checksum_valid() {
        // 10.0.0.1 → 10.0.0.2, ICMP, TTL 64, as `ping` sends it.
        let mut h: [u8; 20] = [
            0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x61, 0x0a, 0x00, 0x00, 0x01,
            0x0a, 0x00, 0x00, 0x02,
        ];
        for want in (1..64u8).rev() {
            assert_eq!(ip_decrease_ttl(&mut h), want);
            assert_eq!(h[8], want);
            let mut copy = h;
            copy[10] = 0;
            copy[11] = 0;
            assert_eq!([h[10], h[11]], ip_fast_csum(&copy).to_ne_bytes(), "ttl {want}");
        }
    }

    #[test]
    fn exceeds_mtu_only_with_df() {
        assert!(!ip_exceeds_mtu(1500, IP_DF, 0, 1500));
        assert!(ip_exceeds_mtu(1501, IP_DF, 0, 1500));
        assert!(!ip_exceeds_mtu(1501, 0, 0, 1500));
        // Reassembled from fragments that each fit: not too big.
        assert!(!ip_exceeds_mtu(3000, IP_DF, 1400, 1500));
        assert!(ip_exceeds_mtu(3000, IP_DF, 1600, 1500));
    }
}
