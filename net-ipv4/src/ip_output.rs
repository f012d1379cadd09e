//! IPv4 output: header, IP ID, fragmentation, hand-off to the neighbour.
//!
//! Mirrors net/ipv4/ip_output.c (`ip_build_and_send_pkt()`,
//! `__ip_local_out()`, `ip_output()`, `__ip_finish_output()`,
//! `ip_finish_output2()`, `ip_fragment()`, `ip_do_fragment()`'s slow path)
//! and the IP ID generator of net/ipv4/route.c (`ip_idents_reserve()`,
//! `__ip_select_ident()`) with `ip_select_ident_segs()` of include/net/ip.h,
//! Linux 6.18.
//!
//! Heads up: read RFC 791 §2.3 and §3.2 (fragmentation), RFC 1191 (path MTU
//! discovery: why DF is set by default), RFC 6864 (the IP ID field: unique
//! only among fragmentable datagrams, hence ID 0 on DF datagrams) first.
//!
//! Counters, as Linux 6.18 keeps them: `OutRequests` once per datagram the
//! local stack sends (`__ip_local_out()`), `OutTransmits` and `OutOctets`
//! per packet handed to the neighbour layer (`ip_finish_output2()`),
//! `OutNoRoutes` when routing fails, `FragOKs` / `FragCreates` /
//! `FragFails` around fragmentation.
//!
//! Where we differ: no GSO and no fast path over `frag_list` — fragments
//! are always built by copying (`ip_do_fragment()`'s slow path); no
//! netfilter hooks; no sockets here, so the "connected socket" ID branch of
//! `ip_select_ident_segs()` is left to the transports. A datagram to one
//! of our own addresses (route type `RTN_LOCAL`) needs no loopback device:
//! we do what `loopback_xmit()` + `netif_rx()` amount to — the skb goes
//! straight back to `netif_receive_skb()` on the route's device, marked
//! `PACKET_LOOPBACK` with `CHECKSUM_UNNECESSARY`. A DF datagram too big
//! for the route fails with `EMSGSIZE` and, as Linux's `ip_fragment()`
//! does, ICMP "fragmentation needed" goes to its source: for a forwarded
//! datagram the sender, for a local one ourselves, so our own transport's
//! `err_handler` learns the path MTU.

use crate::fib::RtnType;
use crate::ip::{
    IP_DF, IP_MAX_MTU, IP_MF, IP_OFFSET, IPCB, IPCB_mut, IPHDR_LEN, IPPROTO_TCP, IPSKB_FRAG_COMPLETE,
    IPV4_MIN_MTU, IpHdr, IpHdrBuilder,
};
use crate::route::Rtable;
use crate::{Ipv4, Ipv4Addr};
use net_core::dropreason::SkbDropReason;
use net_core::gso::skb_gso_validate_network_len;
use net_core::if_ether::ETH_P_IP;
use net_core::random::SipKey;
use net_core::skbuff::{IpSummed, PktType, alloc_skb};
use net_core::snmp::{IpExtMib, IpstatsMib};
use net_core::{Errno, Net, SkBuff, Skb};
use std::sync::atomic::{AtomicU32, Ordering};

/// `ICMP_DEST_UNREACH`.
const ICMP_DEST_UNREACH: u8 = 3;
/// `ICMP_FRAG_NEEDED`.
const ICMP_FRAG_NEEDED: u8 = 4;

/// Headroom a link layer needs in front of the IPv4 header
/// (`LL_RESERVED_SPACE()` of an Ethernet device: 14 rounded up to 16).
pub const LL_RESERVED_SPACE: usize = 16;

/// Buckets of the IP ID generator. Linux sizes its global table between
/// 2048 and 256 K buckets by memory; ours is per namespace.
pub const IP_IDENTS_SZ: usize = 2048;

// ANCHOR: ip_idents
/// IP ID state (`ip_idents` / `ip_tstamps`, and `net->ipv4.ip_id_key`).
///
/// Datagrams that may be fragmented need an ID unique per (saddr, daddr,
/// protocol) for as long as their fragments live (RFC 791, RFC 6864).
/// Linux hashes that triple with a per-namespace siphash key into a table
/// of counters started at random values; each bucket also remembers the
/// jiffy it was last used, and on the first use in a new jiffy the counter
/// jumps by a random amount below the idle time, so an observer cannot
/// count another host's traffic from the IDs it sees.
#[doc(alias = "ip_idents")]
pub struct IpIdents {
    /// `ip_id_key`.
    key: SipKey,
    /// `ip_idents`: the counters.
    idents: Box<[AtomicU32]>,
    /// `ip_tstamps`: the jiffy of each bucket's last use.
    tstamps: Box<[AtomicU32]>,
}
// ANCHOR_END: ip_idents

impl IpIdents {
    /// Keyed from the namespace's secrets, counters at random values.
    pub fn new(net: &Net) -> Self {
        IpIdents {
            key: net.random.secret("ip_idents"),
            idents: (0..IP_IDENTS_SZ).map(|_| AtomicU32::new(net.random.get_random_u32())).collect(),
            tstamps: (0..IP_IDENTS_SZ).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Reserve `segs` consecutive IDs in bucket `hash` and return the first.
    ///
    /// Mirrors `ip_idents_reserve()` (net/ipv4/route.c).
    pub fn ip_idents_reserve(&self, net: &Net, hash: u32, segs: u32) -> u32 {
        let bucket = hash as usize & (IP_IDENTS_SZ - 1);
        let now = net.jiffies() as u32;
        let old = self.tstamps[bucket].load(Ordering::Relaxed);
        let mut delta = 0;
        if old != now
            && self.tstamps[bucket].compare_exchange(old, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            let idle = now.wrapping_sub(old);
            if idle > 0 {
                delta = net.random.get_random_u32_below(idle);
            }
        }
        self.idents[bucket].fetch_add(segs.wrapping_add(delta), Ordering::Relaxed).wrapping_add(delta)
    }

    /// An ID for a datagram from `saddr` to `daddr` of `protocol`, reserving
    /// `segs` of them.
    ///
    /// Mirrors `__ip_select_ident()` (net/ipv4/route.c):
    /// `siphash_3u32(daddr, saddr, protocol, &ip_id_key)` picks the bucket.
    #[doc(alias = "__ip_select_ident")]
    pub fn ip_select_ident(
        &self,
        net: &Net,
        daddr: Ipv4Addr,
        saddr: Ipv4Addr,
        protocol: u8,
        segs: u32,
    ) -> u16 {
        let hash = self.key.hash_3u32(
            u32::from_ne_bytes(daddr.octets()),
            u32::from_ne_bytes(saddr.octets()),
            u32::from(protocol),
        ) as u32;
        self.ip_idents_reserve(net, hash, segs) as u16
    }
}

/// Choose the ID of the datagram whose header is at `skb`'s network header,
/// reserving `segs` IDs (for a GSO train), and write it there.
///
/// Mirrors `ip_select_ident_segs()` (include/net/ip.h) for a datagram
/// without a connected socket (transports with one keep their own
/// `inet_id` counter): DF datagrams get ID 0 (RFC 6864: the ID only matters
/// for reassembly; Linux checks `!skb->ignore_df`, which we never set),
/// others one from [`IpIdents`]. The header checksum is *not* updated
/// (`ip_local_out()` does that). Does nothing without a valid header.
pub fn ip_select_ident_segs(net: &Net, ipv4: &Ipv4, skb: &mut SkBuff, segs: u32) {
    let Some(h) = IpHdr::new_checked(skb.network_header()) else {
        return;
    };
    let id =
        if h.df() { 0 } else { ipv4.ident.ip_select_ident(net, h.daddr(), h.saddr(), h.protocol(), segs) };
    if let Some(mut h) = IpHdr::new_checked(skb.network_header_mut()) {
        h.set_id(id);
    }
}

/// Per-call options for [`ip_build_and_send_pkt`].
#[derive(Clone, Copy, Debug, Default)]
pub struct IpSendOpts {
    /// TTL; `None` means `ip_default_ttl`.
    pub ttl: Option<u8>,
    /// Type of service byte.
    pub tos: u8,
    /// Don't-fragment: `None` means "as path-MTU discovery says" (set).
    pub df: Option<bool>,
    /// Bind to this output device.
    pub oif: Option<u32>,
    /// The datagram stands for one built by `ip_append_data()` /
    /// `ip_make_skb()` (ICMP replies and errors, UDP), not by
    /// `ip_build_and_send_pkt()`: DF follows `df` alone, with no special case
    /// for datagrams of 68 bytes or less.
    pub append_data: bool,
    /// The sending socket's own IP ID for this datagram (`inet_id`: Linux's
    /// `ip_select_ident_segs()` with a connected socket numbers its
    /// datagrams itself, DF or not); `None` leaves the choice to IP (0
    /// under DF, else [`IpIdents`]).
    pub id: Option<u16>,
}

/// `net.ipv4.ip_default_ttl` (Linux's default: [`IPDEFTTL`](crate::ip::IPDEFTTL), 64).
fn ip_default_ttl(ipv4: &Ipv4) -> u8 {
    ipv4.sysctl.ip_default_ttl.get().clamp(1, 255) as u8
}

/// `net.ipv4.ip_no_pmtu_disc` (default 0: path MTU discovery on, DF set).
fn ip_no_pmtu_disc(ipv4: &Ipv4) -> bool {
    ipv4.sysctl.ip_no_pmtu_disc.get() != 0
}

/// Route, push an IPv4 header in front of `skb` (whose data is the
/// transport header and payload, with at least `MAX_HEADER` of headroom) and
/// send it (`ip_build_and_send_pkt()` / `ip_queue_xmit()`). `saddr` of
/// `0.0.0.0` lets the route choose. Errors: `ENETUNREACH` (no route),
/// `EMSGSIZE` (DF and larger than the MTU), those of `neigh_output`.
///
/// Mirrors `ip_build_and_send_pkt()` (net/ipv4/ip_output.c): a 20-byte
/// header; datagrams no larger than 68 bytes (`IPV4_MIN_MTU`, unless
/// `append_data` says the caller stands for `ip_append_data()`) or with DF
/// (path MTU discovery on, the default unless `ip_no_pmtu_disc`) get DF and
/// ID 0; others get ID from [`IpIdents`] (TCP: a random one, as Linux does
/// for its SYN-ACKs). No route counts `OutNoRoutes` and drops the skb.
pub fn ip_build_and_send_pkt(
    net: &Net,
    ipv4: &Ipv4,
    skb: Skb,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    protocol: u8,
    opts: IpSendOpts,
) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_build_and_send_pkt");
    let want_saddr = (!saddr.is_unspecified()).then_some(saddr);
    let rt = match crate::route::ip_route_output(net, ipv4, daddr, want_saddr, opts.oif) {
        Ok(rt) => rt,
        Err(e) => {
            if e == Errno::ENETUNREACH || e == Errno::EHOSTUNREACH {
                net.mib.inc(IpstatsMib::OutNoRoutes);
            }
            net.kfree_skb_reason(skb, SkbDropReason::IpOutnoroutes);
            return Err(e);
        }
    };
    ip_queue_xmit(net, ipv4, skb, &rt, want_saddr.unwrap_or(rt.saddr), daddr, protocol, opts)
}

/// Push an IPv4 header in front of `skb` and send it along `rt`, a route
/// the caller already holds — a connected socket's cached one
/// (`ip_queue_xmit()` with `__sk_dst_check()` succeeding). The rules for DF
/// and the IP ID are those of [`ip_build_and_send_pkt`].
#[allow(clippy::too_many_arguments)]
pub fn ip_queue_xmit(
    net: &Net,
    ipv4: &Ipv4,
    mut skb: Skb,
    rt: &Rtable,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    protocol: u8,
    opts: IpSendOpts,
) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_queue_xmit");
    if skb.headroom() < IPHDR_LEN + LL_RESERVED_SPACE {
        skb.skb_cow_head(crate::MAX_HEADER);
    }
    let tot_len = skb.len() + IPHDR_LEN;
    // Only `ip_build_and_send_pkt()` proper sets DF on datagrams of 68 bytes
    // or less ("Do not bother generating IPID for small packets");
    // `ip_append_data()` (ICMP replies, UDP) decides DF from PMTU discovery
    // alone.
    let dont_fragment = opts.df.unwrap_or(!ip_no_pmtu_disc(ipv4));
    let small = tot_len <= IPV4_MIN_MTU as usize && !opts.append_data;
    let (frag_off, id) = if let Some(id) = opts.id {
        (if small || dont_fragment { IP_DF } else { 0 }, id)
    } else if small || dont_fragment {
        (IP_DF, 0)
    } else if protocol == IPPROTO_TCP {
        (0, net.random.get_random_u32() as u16)
    } else {
        (0, ipv4.ident.ip_select_ident(net, daddr, saddr, protocol, 1))
    };
    let hdr = IpHdrBuilder {
        tos: opts.tos,
        tot_len: tot_len.min(0xffff) as u16,
        id,
        frag_off,
        ttl: opts.ttl.unwrap_or_else(|| ip_default_ttl(ipv4)),
        protocol,
        saddr,
        daddr,
    };
    hdr.write(skb.push(IPHDR_LEN));
    skb.reset_network_header();
    skb.set_transport_header(IPHDR_LEN as isize);
    skb.cb_clear();
    ip_local_out(net, ipv4, skb, rt)
}

/// Send a datagram whose IPv4 header is complete at `skb.data`, along `rt`
/// (`ip_local_out()` → `ip_output()` → `ip_finish_output()`, which
/// fragments, → `ip_finish_output2()` → `neigh_output()`, or loops it back
/// to `ip_rcv` for a local route).
///
/// Mirrors `__ip_local_out()` (net/ipv4/ip_output.c): counts
/// `OutRequests`, sets `tot_len` from the skb's length and recomputes the
/// header checksum, then [`ip_output`]. A datagram over 65535 bytes (which
/// only GSO could carry) or without a valid header is dropped with
/// `EMSGSIZE` / `EINVAL` and counted `OutDiscards`.
pub fn ip_local_out(net: &Net, ipv4: &Ipv4, mut skb: Skb, rt: &Rtable) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_local_out");
    net.mib.inc(IpstatsMib::OutRequests);
    skb.reset_network_header();
    let len = skb.len();
    // Only the header is written: the payload may be shared with a
    // retransmit queue (a clone's private header area, Skb::skb_clone_xmit).
    let ihl = skb.data().first().map_or(0, |b| usize::from(b & 0x0f) * 4).min(len);
    let Some(mut h) = IpHdr::new_checked(skb.data_mut_head(ihl)) else {
        net.mib.inc(IpstatsMib::OutDiscards);
        net.kfree_skb_reason(skb, SkbDropReason::IpInhdr);
        return Err(Errno::EINVAL);
    };
    if len > IP_MAX_MTU as usize {
        net.mib.inc(IpstatsMib::OutDiscards);
        net.kfree_skb_reason(skb, SkbDropReason::PktTooBig);
        return Err(Errno::EMSGSIZE);
    }
    h.set_tot_len(len as u16);
    h.fill_checksum();
    let hl = h.hdrlen();
    skb.set_transport_header(hl as isize);
    ip_output(net, ipv4, skb, rt)
}

/// Output a datagram, local or forwarded, along `rt`.
///
/// Mirrors `ip_output()` (net/ipv4/ip_output.c): `skb->dev` becomes the
/// route's device, `skb->protocol` `ETH_P_IP`, then (Linux: through the
/// `POST_ROUTING` hook) [`ip_finish_output`]. `ip_forward()` calls this
/// after its own checks (Linux: `dst_output()`), so nothing here counts
/// `OutRequests`.
pub fn ip_output(net: &Net, ipv4: &Ipv4, mut skb: Skb, rt: &Rtable) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_output");
    skb.dev = rt.dev;
    skb.protocol = ETH_P_IP;
    ip_finish_output(net, ipv4, skb, rt)
}

// ANCHOR: ip_finish_output
/// Fragment if needed, then send.
///
/// Mirrors `ip_finish_output()` / `__ip_finish_output()`
/// (net/ipv4/ip_output.c): the MTU is the route's (`ip_skb_dst_mtu()`;
/// the device's when the route says 0); a datagram longer than that, or
/// one reassembled here whose fragments must be kept (`frag_max_size`), goes
/// through [`ip_fragment`], anything else straight to
/// [`ip_finish_output2`]. A GSO packet (TCP's burst, or one GRO merged on
/// a router) is judged by its segments ([`ip_finish_output_gso`]). A
/// local route loops the datagram back instead (see the module docs): it
/// never needs fragmenting, as Linux's `lo` has a 64 KiB MTU.
pub fn ip_finish_output(net: &Net, ipv4: &Ipv4, skb: Skb, rt: &Rtable) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_finish_output");
    if rt.rt_type == RtnType::Local {
        return ip_loopback_xmit(net, skb, rt);
    }
    let mtu = ip_skb_dst_mtu(net, rt);
    if skb.has_frag_list() {
        return ip_finish_output_gso(net, ipv4, skb, mtu, rt);
    }
    if skb.len() > mtu as usize || IPCB(&skb).frag_max_size != 0 {
        return ip_fragment(net, ipv4, skb, mtu, rt);
    }
    ip_finish_output2(net, ipv4, skb, rt)
}
// ANCHOR_END: ip_finish_output

// ANCHOR: ip_finish_output_gso
/// A GSO packet whose segments fit the MTU goes on whole; one whose
/// segments do not is split into them here (`skb_gso_segment()`) and each
/// goes through [`ip_fragment`]: fragmented without DF (a last segment
/// that fits leaves as one "fragment" at offset 0 without MF, a whole
/// datagram, counted in `FragOKs` and `FragCreates` as Linux counts it),
/// dropped with "fragmentation needed" with DF. The first error is
/// returned.
///
/// Mirrors `ip_finish_output_gso()` (net/ipv4/ip_output.c); the check is
/// `skb_gso_validate_network_len()`.
fn ip_finish_output_gso(net: &Net, ipv4: &Ipv4, skb: Skb, mtu: u32, rt: &Rtable) -> Result<(), Errno> {
    if skb_gso_validate_network_len(&skb, mtu as usize) {
        return ip_finish_output2(net, ipv4, skb, rt);
    }
    let mut segs = net.skb_gso_segment(skb);
    let mut ret = Ok(());
    while let Some(seg) = segs.dequeue() {
        let r = ip_fragment(net, ipv4, seg, mtu, rt);
        if ret.is_ok() {
            ret = r;
        }
    }
    ret
}
// ANCHOR_END: ip_finish_output_gso

/// The MTU to fragment to: the route's, else its device's, at least 68.
fn ip_skb_dst_mtu(net: &Net, rt: &Rtable) -> u32 {
    let mtu = if rt.mtu != 0 { rt.mtu } else { net.dev_get_by_index(rt.dev).map_or(1500, |d| d.mtu()) };
    mtu.clamp(IPV4_MIN_MTU, IP_MAX_MTU)
}

/// Loop a datagram for one of our own addresses back into the stack: what
/// `loopback_xmit()` + `netif_rx()` do on Linux's `lo`.
fn ip_loopback_xmit(net: &Net, mut skb: Skb, rt: &Rtable) -> Result<(), Errno> {
    net.mib.inc(IpstatsMib::OutTransmits);
    net.mib.add(IpExtMib::OutOctets, skb.len() as u64);
    skb.dev = rt.dev;
    skb.skb_iif = 0;
    skb.protocol = ETH_P_IP;
    skb.pkt_type = PktType::Loopback;
    skb.ip_summed = IpSummed::Unnecessary;
    skb.tstamp = 0;
    skb.cb_clear();
    skb.reset_network_header();
    net.netif_receive_skb(skb);
    Ok(())
}

/// Hand one packet to the neighbour layer for its next hop.
///
/// Mirrors `ip_finish_output2()` (net/ipv4/ip_output.c): counts
/// `OutTransmits` and `OutOctets` (plus `OutBcastPkts` for a broadcast
/// route), makes sure there is room for the link-layer header, and calls
/// `neigh_output()` for `rt_nexthop()`. A vanished device is `ENODEV`
/// (`OutDiscards`); errors of the neighbour layer are returned.
pub fn ip_finish_output2(net: &Net, ipv4: &Ipv4, mut skb: Skb, rt: &Rtable) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_finish_output2");
    let Some(dev) = net.dev_get_by_index_rcu(rt.dev) else {
        net.mib.inc(IpstatsMib::OutDiscards);
        net.kfree_skb_reason(skb, SkbDropReason::DevReady);
        return Err(Errno::ENODEV);
    };
    let Some(daddr) = IpHdr::new_checked(skb.network_header()).map(|h| h.daddr()) else {
        net.mib.inc(IpstatsMib::OutDiscards);
        net.kfree_skb_reason(skb, SkbDropReason::IpInhdr);
        return Err(Errno::EINVAL);
    };
    if rt.rt_type == RtnType::Broadcast {
        net.mib.inc(IpExtMib::OutBcastPkts);
        net.mib.add(IpExtMib::OutBcastOctets, skb.len() as u64);
    }
    net.mib.inc(IpstatsMib::OutTransmits);
    net.mib.add(IpExtMib::OutOctets, (skb.len() + skb.frag_list_len()) as u64);
    if skb.headroom() < LL_RESERVED_SPACE {
        skb.skb_cow_head(LL_RESERVED_SPACE);
    }
    crate::neighbour::neigh_output(net, ipv4, &dev, rt.nexthop(daddr), skb)
}

/// Fragment a datagram too big for `mtu`, unless DF forbids it.
///
/// Mirrors `ip_fragment()` (net/ipv4/ip_output.c): without DF, on to
/// [`ip_do_fragment`]. With DF, `FragFails` rises, the datagram is dropped
/// (`PKT_TOO_BIG`), the caller gets `EMSGSIZE`, and ICMP "fragmentation
/// needed" with the next-hop MTU goes back to its source (RFC 1191) —
/// ourselves, for a local datagram.
pub fn ip_fragment(net: &Net, ipv4: &Ipv4, skb: Skb, mtu: u32, rt: &Rtable) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_fragment");
    let df = IpHdr::new_checked(skb.network_header()).is_some_and(|h| h.df());
    if !df {
        return ip_do_fragment(net, ipv4, skb, mtu, rt);
    }
    // DF, and we never set `ignore_df`: refuse.
    net.mib.inc(IpstatsMib::FragFails);
    // As Linux: the ICMP goes to the datagram's source even when that is
    // us, so our own transport's err_handler learns the path MTU.
    crate::icmp::icmp_send(net, ipv4, &skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
    net.kfree_skb_reason(skb, SkbDropReason::PktTooBig);
    Err(Errno::EMSGSIZE)
}

/// Replace options that must not be copied into later fragments with
/// `IPOPT_NOOP` (`ip_options_fragment()`, net/ipv4/ip_options.c).
fn ip_options_fragment(opts: &mut [u8]) {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,  // IPOPT_END
            1 => i += 1, // IPOPT_NOOP
            opt => {
                let Some(&l) = opts.get(i + 1) else { break };
                let l = usize::from(l);
                if l < 2 || i + l > opts.len() {
                    break;
                }
                if opt & 0x80 == 0 {
                    // IPOPT_COPIED clear: not for later fragments.
                    opts[i..i + l].fill(1);
                }
                i += l;
            }
        }
    }
}

// ANCHOR: ip_do_fragment
/// Cut a datagram into fragments of at most `mtu` bytes and send each.
///
/// Mirrors the slow path of `ip_do_fragment()` (net/ipv4/ip_output.c,
/// `ip_fragment_init()` / `ip_frag_next()`): each fragment carries the
/// original header (options without the copy flag blanked after the
/// first), a payload that is a multiple of 8 bytes except for the last,
/// its offset and MF (kept on the last one when the original was itself a
/// non-final fragment), DF when the original had it (`ignore_df`), and a
/// fresh checksum. Each is counted `FragCreates` and passed to
/// [`ip_finish_output2`]; `FragOKs` when all went, `FragFails` on the first
/// error (returned). An MTU with no room for 8 bytes of payload is
/// `EMSGSIZE`.
#[doc(alias = "ip_frag_next")]
pub fn ip_do_fragment(net: &Net, ipv4: &Ipv4, skb: Skb, mtu: u32, rt: &Rtable) -> Result<(), Errno> {
    net_core::ftrace_graph!("ip_do_fragment");
    let mut cb = *IPCB(&skb);
    let mut mtu = mtu as usize;
    // A datagram reassembled here is cut no larger than its biggest
    // fragment was.
    if cb.frag_max_size != 0 {
        mtu = mtu.min(usize::from(cb.frag_max_size));
    }
    let Some(frags) = ip_fragment_to_vec(&skb, mtu) else {
        net.mib.inc(IpstatsMib::FragFails);
        net.kfree_skb_reason(skb, SkbDropReason::PktTooBig);
        return Err(Errno::EMSGSIZE);
    };
    cb.flags |= IPSKB_FRAG_COMPLETE;
    cb.frag_max_size = 0;
    for mut f in frags {
        // ip_copy_metadata()
        f.dev = skb.dev;
        f.protocol = skb.protocol;
        f.priority = skb.priority;
        f.mark = skb.mark;
        f.pkt_type = skb.pkt_type;
        f.skb_iif = skb.skb_iif;
        *IPCB_mut(&mut f) = cb;
        net.mib.inc(IpstatsMib::FragCreates);
        if let Err(e) = ip_finish_output2(net, ipv4, f, rt) {
            net.mib.inc(IpstatsMib::FragFails);
            net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
            return Err(e);
        }
    }
    net.consume_skb(skb);
    net.mib.inc(IpstatsMib::FragOKs);
    Ok(())
}
// ANCHOR_END: ip_do_fragment

/// Cut the datagram at `skb`'s network header into fragments of at most
/// `mtu` bytes, as [`ip_do_fragment`] does, returning them (data and
/// network header at each fragment's IPv4 header, transport header
/// marked) instead of sending them. `None` when the header is invalid or
/// `mtu` leaves no room for 8 bytes of payload.
///
/// Mirrors `ip_fragment_init()` + `ip_frag_next()` (net/ipv4/ip_output.c).
#[doc(alias = "ip_fragment_init")]
pub fn ip_fragment_to_vec(skb: &Skb, mtu: usize) -> Option<Vec<Skb>> {
    let h = IpHdr::new_checked(skb.network_header())?;
    let hlen = h.hdrlen();
    let room = mtu.checked_sub(hlen).filter(|r| *r >= 8)?;
    let payload = h.payload();
    let payload = &payload[..usize::from(h.tot_len()).saturating_sub(hlen).min(payload.len())];
    let orig_off = h.frag_off();
    let base_offset = usize::from(orig_off & IP_OFFSET) << 3;
    let mut header = h.header().to_vec();
    let mut out = Vec::with_capacity(payload.len().div_ceil(room));
    let mut pos = 0;
    while pos < payload.len() {
        let left = payload.len() - pos;
        let mut len = left.min(room);
        if len < left {
            len &= !7; // all but the last carry a multiple of 8 bytes
        }
        let mut f = alloc_skb(crate::LL_MAX_HEADER + hlen + len);
        f.reserve(crate::LL_MAX_HEADER);
        f.put_data(&header);
        f.put_data(&payload[pos..pos + len]);
        f.reset_network_header();
        f.set_transport_header(hlen as isize);
        let last = pos + len >= payload.len();
        let mut fo = (((base_offset + pos) >> 3) as u16 & IP_OFFSET) | (orig_off & IP_DF);
        // Fragmenting a fragment that is not the last: MF on every piece.
        if !last || orig_off & IP_MF != 0 {
            fo |= IP_MF;
        }
        if let Some(mut fh) = IpHdr::new_checked(f.data_mut()) {
            fh.set_tot_len((hlen + len) as u16);
            fh.set_frag_off(fo);
            fh.fill_checksum();
        }
        if pos == 0 {
            // Later fragments carry only the options marked "copied".
            ip_options_fragment(&mut header[IPHDR_LEN..]);
        }
        pos += len;
        out.push(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::IPPROTO_UDP;
    use crate::ip_fragment::{FragParams, IpFrags};
    use net_core::Clock;
    use net_core::skbuff::skb_from_frame;

    const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    #[test]
    fn idents_are_per_destination_and_consecutive() {
        let net = Net::new("id", Clock::new_virtual(), 9);
        let ids = IpIdents::new(&net);
        let a1 = ids.ip_select_ident(&net, B, A, IPPROTO_UDP, 1);
        let a2 = ids.ip_select_ident(&net, B, A, IPPROTO_UDP, 1);
        assert_eq!(a2, a1.wrapping_add(1), "same jiffy, same bucket: consecutive");
        let s = ids.ip_select_ident(&net, B, A, IPPROTO_UDP, 5);
        assert_eq!(ids.ip_select_ident(&net, B, A, IPPROTO_UDP, 1), s.wrapping_add(5));
        // Same seed, same sequence: runs replay.
        let net2 = Net::new("id", Clock::new_virtual(), 9);
        let ids2 = IpIdents::new(&net2);
        assert_eq!(ids2.ip_select_ident(&net2, B, A, IPPROTO_UDP, 1), a1);
    }

    #[test]
    fn fragments_of_64k_reassemble_in_any_order() {
        let net = Net::new("f", Clock::new_virtual(), 1);
        let data: Vec<u8> = (0..65515u32).map(|i| (i % 253) as u8).collect();
        let d = IpHdrBuilder { id: 5, protocol: IPPROTO_UDP, saddr: A, daddr: B, ..IpHdrBuilder::TEMPLATE }
            .datagram(&data);
        let mut skb = skb_from_frame(1, &d);
        skb.reset_network_header();
        let mut frags = ip_fragment_to_vec(&skb, 1500).unwrap();
        assert_eq!(frags.len(), 65515usize.div_ceil(1480));
        for f in &frags {
            let h = IpHdr::new_checked(f.data()).unwrap();
            assert!(f.len() <= 1500);
            assert!(h.verify_checksum());
            assert_eq!(usize::from(h.tot_len()), f.len());
            // etherparse agrees about every fragment.
            let (e, _) = etherparse::Ipv4Header::from_slice(f.data()).unwrap();
            assert_eq!(e.header_checksum, e.calc_header_checksum());
            assert_eq!(usize::from(u16::from(e.fragment_offset)) * 8, h.frag_offset_bytes());
        }
        frags.reverse();
        let fr = IpFrags::new();
        let mut out = None;
        for f in frags {
            let mut f = skb_from_frame(1, f.data());
            f.reset_network_header();
            if let Some(d) = fr.defrag(&net, &FragParams::DEFAULT, f) {
                out = Some(d);
            }
        }
        let out = out.expect("reassembled");
        assert_eq!(out.data(), &d[..]);
    }

    fn reassemble(net: &Net, frags: Vec<Skb>) -> Option<Skb> {
        let fr = IpFrags::new();
        let mut out = None;
        for f in frags {
            let mut f = skb_from_frame(1, f.data());
            f.reset_network_header();
            if let Some(d) = fr.defrag(net, &FragParams::DEFAULT, f) {
                out = Some(d);
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() })]
        /// Any size, any MTU: fragments fit, carry multiples of 8 but the
        /// last, and reassemble to the original bytes.
        #[test]
        fn fragment_then_reassemble_is_identity(len in 1usize..6000, mtu in 68usize..1600, id in proptest::prelude::any::<u16>()) {
            let net = Net::new("p", Clock::new_virtual(), 1);
            let data: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
            let d = IpHdrBuilder { id, protocol: IPPROTO_UDP, saddr: A, daddr: B, ..IpHdrBuilder::TEMPLATE }.datagram(&data);
            let mut skb = skb_from_frame(1, &d);
            skb.reset_network_header();
            let frags = ip_fragment_to_vec(&skb, mtu).unwrap();
            let n = frags.len();
            for (i, f) in frags.iter().enumerate() {
                proptest::prop_assert!(f.len() <= mtu);
                let h = IpHdr::new_checked(f.data()).unwrap();
                proptest::prop_assert!(h.verify_checksum());
                proptest::prop_assert_eq!(h.mf(), i + 1 < n);
                if i + 1 < n {
                    proptest::prop_assert_eq!(h.payload().len() % 8, 0);
                }
            }
            let out = if n == 1 { Some(frags.into_iter().next().unwrap()) } else { reassemble(&net, frags) };
            let out = out.unwrap();
            proptest::prop_assert_eq!(out.data(), &d[..]);
        }
    }

    #[test]
    fn options_are_copied_only_when_marked() {
        let net = Net::new("o", Clock::new_virtual(), 1);
        // ihl 8: RR (not copied, 7 bytes) + NOOP, then LSRR-like copied option (0x83, len 3) + END.
        let opts = [7u8, 7, 4, 0, 0, 0, 0, 1, 0x83, 3, 4, 0];
        let data = vec![0x5au8; 3000];
        let mut d = vec![0u8; 32 + data.len()];
        IpHdrBuilder { id: 9, protocol: IPPROTO_UDP, saddr: A, daddr: B, ..IpHdrBuilder::TEMPLATE }
            .write(&mut d);
        d[0] = 0x48;
        d[2..4].copy_from_slice(&((32 + data.len()) as u16).to_be_bytes());
        d[20..32].copy_from_slice(&opts);
        d[32..].copy_from_slice(&data);
        let mut skb = skb_from_frame(1, &d);
        skb.reset_network_header();
        if let Some(mut h) = IpHdr::new_checked(skb.data_mut()) {
            h.fill_checksum();
        }
        let frags = ip_fragment_to_vec(&skb, 1500).unwrap();
        assert_eq!(frags.len(), 3);
        let first = IpHdr::new_checked(frags[0].data()).unwrap();
        assert_eq!(first.options(), &opts);
        for f in &frags[1..] {
            let h = IpHdr::new_checked(f.data()).unwrap();
            assert_eq!(h.options(), &[1, 1, 1, 1, 1, 1, 1, 1, 0x83, 3, 4, 0]);
            assert!(h.verify_checksum());
        }
        let out = reassemble(&net, frags).unwrap();
        assert_eq!(IpHdr::new_checked(out.data()).unwrap().payload(), &data[..]);
    }

    #[test]
    fn options_fragment_blanks_uncopied_options() {
        // NOOP, RR (7, not copied) len 7, LSRR (0x83, copied) len 3 + pad, END
        let mut o = [1u8, 7, 7, 4, 0, 0, 0, 0, 0x83, 3, 4, 0];
        ip_options_fragment(&mut o);
        assert_eq!(o, [1, 1, 1, 1, 1, 1, 1, 1, 0x83, 3, 4, 0]);
    }
}
