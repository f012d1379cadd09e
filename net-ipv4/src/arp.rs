//! ARP: who has this IPv4 address on the link?
//!
//! Mirrors net/ipv4/arp.c (Linux 6.18): `arp_rcv()`, `arp_process()`,
//! `arp_create()`/`arp_send()`, `arp_solicit()`, `arp_error_report()` and
//! the `arp_tbl` parameters (kept in [`crate::neighbour`]). Read first:
//! RFC 826 (the protocol), RFC 1122 §2.3.2.1 (cache validation), RFC 5227
//! (gratuitous ARP and address conflict detection), RFC 2131 §4.4.1 (the
//! "sender 0.0.0.0" duplicate-address probe).
//!
//! A request arriving for one of our addresses creates or refreshes a
//! `STALE` entry for its sender and is answered with a unicast reply. A
//! reply (or a gratuitous announcement) only updates an entry that already
//! exists — unsolicited ARP creates nothing (`arp_accept` = 0) — as
//! `REACHABLE` when it was a unicast reply, `STALE` otherwise. Resolution
//! itself (retries, queueing, failure) is the neighbour layer's.
//!
//! Where we differ: `arp_ignore` and `arp_announce` are read from
//! `conf.all` only (Linux takes the max of `all` and the device's), with
//! `arp_ignore` 3 treated as 0; `arp_filter` is off, `arp_accept` is 0, no proxy ARP, no
//! `drop_gratuitous_arp`, no netfilter hook. Linux finds "is this address
//! ours" and "which source address" through `in_dev` and the FIB; we ask
//! through [`ArpOps`], which `Ipv4` implements with devinet, and which tests
//! can fake. There is no SNMP counter for ARP in Linux; drops are counted
//! by reason, probes in the neighbour statistics.

use crate::eth::eth_header;
use crate::neighbour::NeighStat;
use crate::neighbour::{
    NEIGH_UPDATE_F_OVERRIDE, NeighParms, NeighTable, Neighbour, NudState, neigh_event_ns, neigh_update,
};
use crate::{Ipv4, Ipv4Addr};
use net_core::dropreason::SkbDropReason;
use net_core::if_ether::{ETH_ALEN, ETH_P_ARP, ETH_P_IP};
use net_core::jiffies::time_after;
use net_core::netdevice::{ARPHRD_ETHER, IFF_NOARP, MacAddr, NetDev};
use net_core::skbuff::{PktType, alloc_skb};
use net_core::{Net, NetRx, PacketType, SkBuff, Skb};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

/// ARP request (`ARPOP_REQUEST`).
pub const ARPOP_REQUEST: u16 = 1;
/// ARP reply (`ARPOP_REPLY`).
pub const ARPOP_REPLY: u16 = 2;
/// IEEE 802.2 hardware type, accepted on Ethernet (`ARPHRD_IEEE802`).
pub const ARPHRD_IEEE802: u16 = 6;
/// Length of an Ethernet/IPv4 ARP packet: the fixed header plus two
/// hardware and two protocol addresses (`arp_hdr_len(dev)`).
pub const ARP_HDR_LEN: usize = 8 + 2 * (ETH_ALEN + 4);
/// Room reserved in front of an ARP packet for the Ethernet header
/// (`LL_RESERVED_SPACE(dev)`: 14 rounded up to 16).
const LL_RESERVED_SPACE: usize = 16;

// ANCHOR: arphdr
/// A read-only, zero-copy view of an Ethernet/IPv4 ARP packet: `struct
/// arphdr` (include/uapi/linux/if_arp.h) followed by the addresses
/// `arp_process()` walks with `arp_ptr`.
///
/// [`ArpHdr::new_checked`] requires [`ARP_HDR_LEN`] bytes; then no accessor
/// can panic. The address offsets assume `ar_hln == 6` and `ar_pln == 4`,
/// which `arp_rcv` checks before anything reads them.
#[derive(Clone, Copy, Debug)]
pub struct ArpHdr<'a> {
    buf: &'a [u8],
}

mod field {
    use std::ops::Range;
    pub const AR_HRD: usize = 0;
    pub const AR_PRO: usize = 2;
    pub const AR_HLN: usize = 4;
    pub const AR_PLN: usize = 5;
    pub const AR_OP: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SIP: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TIP: Range<usize> = 24..28;
}

impl<'a> ArpHdr<'a> {
    /// View `buf`; `None` when shorter than [`ARP_HDR_LEN`].
    pub fn new_checked(buf: &'a [u8]) -> Option<Self> {
        (buf.len() >= ARP_HDR_LEN).then_some(ArpHdr { buf })
    }
    fn be16(&self, at: usize) -> u16 {
        net_core::unaligned::get_unaligned_be16(self.buf, at)
    }
    fn mac(&self, r: std::ops::Range<usize>) -> MacAddr {
        let mut a = [0; ETH_ALEN];
        a.copy_from_slice(&self.buf[r]);
        a
    }
    fn ip(&self, r: std::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.buf[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    /// Hardware type (`ar_hrd`), host order.
    pub fn ar_hrd(&self) -> u16 {
        self.be16(field::AR_HRD)
    }
    /// Protocol type (`ar_pro`), host order.
    pub fn ar_pro(&self) -> u16 {
        self.be16(field::AR_PRO)
    }
    /// Hardware address length (`ar_hln`).
    pub fn ar_hln(&self) -> u8 {
        self.buf[field::AR_HLN]
    }
    /// Protocol address length (`ar_pln`).
    pub fn ar_pln(&self) -> u8 {
        self.buf[field::AR_PLN]
    }
    /// Opcode (`ar_op`), host order.
    pub fn ar_op(&self) -> u16 {
        self.be16(field::AR_OP)
    }
    /// Sender hardware address (`ar_sha`).
    pub fn sha(&self) -> MacAddr {
        self.mac(field::SHA)
    }
    /// Sender IP address (`ar_sip`).
    pub fn sip(&self) -> Ipv4Addr {
        self.ip(field::SIP)
    }
    /// Target hardware address (`ar_tha`).
    pub fn tha(&self) -> MacAddr {
        self.mac(field::THA)
    }
    /// Target IP address (`ar_tip`).
    pub fn tip(&self) -> Ipv4Addr {
        self.ip(field::TIP)
    }
}

/// Write an Ethernet/IPv4 ARP packet into the first [`ARP_HDR_LEN`] bytes
/// of `buf` (our own buffer, at least that long).
#[allow(clippy::too_many_arguments)]
pub fn write_arphdr(
    buf: &mut [u8],
    ar_hrd: u16,
    ar_op: u16,
    sha: &MacAddr,
    sip: Ipv4Addr,
    tha: &MacAddr,
    tip: Ipv4Addr,
) {
    buf[field::AR_HRD..field::AR_HRD + 2].copy_from_slice(&ar_hrd.to_be_bytes());
    buf[field::AR_PRO..field::AR_PRO + 2].copy_from_slice(&ETH_P_IP.to_be_bytes());
    buf[field::AR_HLN] = ETH_ALEN as u8;
    buf[field::AR_PLN] = 4;
    buf[field::AR_OP..field::AR_OP + 2].copy_from_slice(&ar_op.to_be_bytes());
    buf[field::SHA].copy_from_slice(sha);
    buf[field::SIP].copy_from_slice(&sip.octets());
    buf[field::THA].copy_from_slice(tha);
    buf[field::TIP].copy_from_slice(&tip.octets());
}
// ANCHOR_END: arphdr

/// What ARP and the neighbour layer ask of the rest of IPv4. Linux reaches
/// these through `in_dev`, the FIB (`inet_addr_type_dev_table()`) and
/// `dst_link_failure()`; `Ipv4` implements it with devinet and ICMP.
pub trait ArpOps: Send + Sync {
    /// `addr` is one of ours (`inet_addr_type() == RTN_LOCAL`).
    fn is_local(&self, addr: Ipv4Addr) -> bool;
    /// The source address to use towards `dst` out of `ifindex`
    /// (`inet_select_addr()`).
    fn inet_select_addr(&self, ifindex: u32, dst: Ipv4Addr) -> Option<Ipv4Addr>;
    /// `addr` is a subnet broadcast address on `ifindex` (`RTN_BROADCAST`).
    fn is_broadcast(&self, ifindex: u32, addr: Ipv4Addr) -> bool;
    /// A datagram could not be delivered to its next hop: tell its sender
    /// (`ipv4_link_failure()` → ICMP host unreachable). `skb`'s network
    /// header is the datagram's IPv4 header.
    fn link_failure(&self, net: &Net, skb: &SkBuff);
    /// The addresses configured on `ifindex`, with prefix lengths (the
    /// `in_device`'s `ifa_list`), for `arp_ignore` and `arp_announce`.
    fn dev_addrs(&self, _ifindex: u32) -> Vec<(Ipv4Addr, u8)> {
        Vec::new()
    }
    /// `net.ipv4.conf.all.arp_ignore` (`IN_DEV_ARP_IGNORE()`).
    fn arp_ignore(&self) -> i64 {
        0
    }
    /// `net.ipv4.conf.all.arp_announce` (`IN_DEV_ARP_ANNOUNCE()`).
    fn arp_announce(&self) -> i64 {
        0
    }
}

/// True when `a` and `b` share the first `prefixlen` bits (`inet_ifa_match()`).
fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefixlen: u8) -> bool {
    let mask = if prefixlen == 0 { 0 } else { u32::MAX << (32 - u32::from(prefixlen.min(32))) };
    (u32::from(a) ^ u32::from(b)) & mask == 0
}

/// Mirrors `arp_ignore()` (net/ipv4/arp.c): true when the request for
/// `tip` from `sip`, received on `ifindex`, must not be answered.
/// 0: answer for any local address; 1: only if `tip` is configured on the
/// receiving interface; 2: and `sip` is in its subnet; 8: never. 3 (no
/// reply for scope-host addresses) answers like 0 here, since our
/// addresses carry no scope; 4–7 are reserved and answer.
pub fn arp_ignore(ops: &dyn ArpOps, ifindex: u32, sip: Ipv4Addr, tip: Ipv4Addr) -> bool {
    match ops.arp_ignore() {
        1 => !ops.dev_addrs(ifindex).iter().any(|(local, _)| *local == tip),
        2 => {
            !ops.dev_addrs(ifindex).iter().any(|(local, plen)| *local == tip && same_subnet(sip, tip, *plen))
        }
        8 => true,
        _ => false,
    }
}

impl ArpOps for Ipv4 {
    fn is_local(&self, addr: Ipv4Addr) -> bool {
        self.devinet.is_local(addr)
    }
    fn inet_select_addr(&self, ifindex: u32, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        crate::devinet::inet_select_addr(self, ifindex, dst)
    }
    fn is_broadcast(&self, ifindex: u32, addr: Ipv4Addr) -> bool {
        self.devinet.addrs().iter().any(|a| a.ifindex == ifindex && a.broadcast == addr && a.local != addr)
    }
    fn link_failure(&self, net: &Net, skb: &SkBuff) {
        // ICMP_DEST_UNREACH, ICMP_HOST_UNREACH
        crate::icmp::icmp_send(net, self, skb, 3, 1, 0);
    }
    fn dev_addrs(&self, ifindex: u32) -> Vec<(Ipv4Addr, u8)> {
        self.devinet
            .addrs()
            .into_iter()
            .filter(|a| a.ifindex == ifindex)
            .map(|a| (a.local, a.prefixlen))
            .collect()
    }
    fn arp_ignore(&self) -> i64 {
        self.sysctl.arp_ignore.get()
    }
    fn arp_announce(&self) -> i64 {
        self.sysctl.arp_announce.get()
    }
}

/// Mirrors `arp_create()` (net/ipv4/arp.c): build an ARP packet in a fresh
/// skb with its Ethernet header. A missing `dest_hw` is the device's
/// broadcast address, a missing `src_hw` its own address, a missing
/// `target_hw` all zeroes (as in a request).
#[allow(clippy::too_many_arguments)]
pub fn arp_create(
    type_: u16,
    dest_ip: Ipv4Addr,
    dev: &NetDev,
    src_ip: Ipv4Addr,
    dest_hw: Option<MacAddr>,
    src_hw: Option<MacAddr>,
    target_hw: Option<MacAddr>,
) -> Skb {
    let mut skb = alloc_skb(LL_RESERVED_SPACE + ARP_HDR_LEN);
    skb.reserve(LL_RESERVED_SPACE);
    skb.reset_network_header();
    let src_hw = src_hw.unwrap_or_else(|| dev.dev_addr());
    let dest_hw = dest_hw.unwrap_or(dev.broadcast);
    let hrd = if dev.type_ == ARPHRD_ETHER { ARPHRD_ETHER } else { dev.type_ };
    write_arphdr(skb.put(ARP_HDR_LEN), hrd, type_, &src_hw, src_ip, &target_hw.unwrap_or([0; 6]), dest_ip);
    eth_header(&mut skb, src_hw, dest_hw, ETH_P_ARP);
    skb.protocol = ETH_P_ARP;
    skb.dev = dev.ifindex;
    skb
}

/// Mirrors `arp_send()` / `arp_send_dst()` (net/ipv4/arp.c): create an ARP
/// packet and `dev_queue_xmit` it; nothing on an `IFF_NOARP` device. A
/// transmit failure is counted by the device layer and otherwise ignored,
/// as in Linux.
#[allow(clippy::too_many_arguments)]
pub fn arp_send(
    net: &Net,
    type_: u16,
    dest_ip: Ipv4Addr,
    dev: &NetDev,
    src_ip: Ipv4Addr,
    dest_hw: Option<MacAddr>,
    src_hw: Option<MacAddr>,
    target_hw: Option<MacAddr>,
) {
    if dev.flags() & IFF_NOARP != 0 {
        return;
    }
    let skb = arp_create(type_, dest_ip, dev, src_ip, dest_hw, src_hw, target_hw);
    let _ = net.dev_queue_xmit(skb);
}

/// Mirrors `arp_solicit()` (net/ipv4/arp.c), the neighbour layer's
/// `solicit` op: send a request for `n`'s address.
///
/// The source address is the queued datagram's own source when it is local
/// (`arp_announce` = 0; with 1 only if the target is on a subnet holding
/// that source; with 2 never), else `inet_select_addr()`, else 0.0.0.0. The first
/// `ucast_probes` probes of a round (only possible from `PROBE`, where the
/// count starts at 0) are unicast to the address we doubt, `ha`; then
/// `app_probes` would go to a user-space daemon (none here: nothing is
/// sent); the rest are broadcast.
pub fn arp_solicit(
    net: &Net,
    ops: Option<&dyn ArpOps>,
    parms: &NeighParms,
    n: &Neighbour,
    probes: u32,
    ha: MacAddr,
    ip_saddr: Option<Ipv4Addr>,
) {
    let Some(dev) = net.dev_get_by_index(n.dev) else { return };
    let target = n.primary_key;
    let mut saddr = match ops.map_or(0, |o| o.arp_announce()) {
        // 1: the datagram's source only if the target is on a subnet of
        // ours that also holds that source (`inet_addr_onlink()`).
        1 => ip_saddr.filter(|s| {
            ops.is_some_and(|o| {
                o.is_local(*s)
                    && o.dev_addrs(n.dev)
                        .iter()
                        .any(|(l, p)| same_subnet(*l, target, *p) && same_subnet(*l, *s, *p))
            })
        }),
        // 2: always the primary address towards the target.
        2 => None,
        // 0 (and anything else): any local source.
        _ => ip_saddr.filter(|s| ops.is_none_or(|o| o.is_local(*s))),
    };
    if saddr.is_none() {
        saddr = ops.and_then(|o| o.inet_select_addr(n.dev, target));
    }
    let saddr = saddr.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let ucast = parms.ucast_probes.load(Ordering::Relaxed);
    let app = parms.app_probes.load(Ordering::Relaxed);
    let dst_ha = if probes < ucast {
        Some(ha)
    } else if probes < ucast + app {
        return; // neigh_app_ns(): a netlink message to arpd; we have none
    } else {
        None
    };
    arp_send(net, ARPOP_REQUEST, target, &dev, saddr, dst_ha, None, None);
}

/// Mirrors `arp_error_report()` (net/ipv4/arp.c): a datagram queued on an
/// entry that failed. `dst_link_failure()` sends its sender an ICMP host
/// unreachable, then the datagram is dropped (`NEIGH_FAILED`).
pub fn arp_error_report(net: &Net, ops: Option<&dyn ArpOps>, skb: Skb) {
    if let Some(ops) = ops {
        ops.link_failure(net, &skb);
    }
    net.kfree_skb_reason(skb, SkbDropReason::NeighFailed);
}

/// Approximates `inet_addr_type_dev_table(sip) == RTN_UNICAST`: not ours,
/// not broadcast, multicast, zero or loopback.
fn addr_is_unicast(ops: &dyn ArpOps, ifindex: u32, a: Ipv4Addr) -> bool {
    !(a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_loopback()
        || ops.is_local(a)
        || ops.is_broadcast(ifindex, a))
}

// ANCHOR: arp_process
/// Mirrors `arp_process()` (net/ipv4/arp.c): act on a received ARP packet
/// whose header and lengths `arp_rcv` checked.
///
/// Drops (counted, `NOT_SPECIFIED` as in Linux) a hardware type the device
/// does not speak (Ethernet accepts 1 and 6), a protocol other than IPv4,
/// an opcode other than request/reply, and a target that is multicast or
/// loopback. A duplicate-address probe (sender 0.0.0.0) for one of our
/// addresses is answered and nothing learnt. A request for one of our
/// addresses that `arp_ignore` lets through creates or refreshes the sender's entry (`neigh_event_ns`,
/// `STALE`) and is answered with a unicast reply from the receiving device;
/// when the table is full no reply goes out. Anything else updates an
/// existing entry for the sender: `REACHABLE` for a unicast reply, `STALE`
/// for requests and broadcast replies; a different address overrides only
/// after `locktime` since the last update, or for a gratuitous ARP.
pub fn arp_process(net: &Net, tbl: &NeighTable, ops: &dyn ArpOps, skb: Skb) -> NetRx {
    net_core::ftrace_graph!("arp_process");
    let Some(dev) = net.dev_get_by_index(skb.dev) else {
        net.kfree_skb_reason(skb, SkbDropReason::DevReady);
        return NetRx::Drop;
    };
    let Some(arp) = ArpHdr::new_checked(skb.data()) else {
        net.kfree_skb_reason(skb, SkbDropReason::PktTooSmall);
        return NetRx::Drop;
    };
    let hrd_ok = if dev.type_ == ARPHRD_ETHER {
        arp.ar_hrd() == ARPHRD_ETHER || arp.ar_hrd() == ARPHRD_IEEE802
    } else {
        arp.ar_hrd() == dev.type_
    };
    let op = arp.ar_op();
    if !hrd_ok || arp.ar_pro() != ETH_P_IP || (op != ARPOP_REQUEST && op != ARPOP_REPLY) {
        net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
        return NetRx::Drop;
    }
    let (sha, sip, tha, tip) = (arp.sha(), arp.sip(), arp.tha(), arp.tip());
    if tip.is_multicast() || tip.is_loopback() {
        net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
        return NetRx::Drop;
    }
    let ifindex = dev.ifindex;
    let pkt_type = skb.pkt_type;
    // RFC 2131 duplicate address detection: answer, learn nothing.
    if sip.is_unspecified() {
        if op == ARPOP_REQUEST && ops.is_local(tip) && !arp_ignore(ops, ifindex, sip, tip) {
            arp_send(net, ARPOP_REPLY, sip, &dev, tip, Some(sha), Some(dev.dev_addr()), Some(sha));
        }
        net.consume_skb(skb);
        return NetRx::Success;
    }
    // ip_route_input_noref(skb, tip, sip) must succeed with RTN_LOCAL: a
    // martian or local sender (someone announcing our own address) gets no
    // reply and teaches us nothing here.
    let sender_ok = !(sip.is_multicast() || sip.is_broadcast() || sip.is_loopback() || ops.is_local(sip));
    if op == ARPOP_REQUEST && sender_ok && ops.is_local(tip) {
        if arp_ignore(ops, ifindex, sip, tip) {
            net.consume_skb(skb);
            return NetRx::Success;
        }
        let stats = tbl.stats();
        if pkt_type == PktType::Host {
            stats.inc(NeighStat::RcvProbesUcast);
        } else {
            stats.inc(NeighStat::RcvProbesMcast);
        }
        if neigh_event_ns(net, tbl, Some(ops), sha, sip, ifindex).is_some() {
            arp_send(net, ARPOP_REPLY, sip, &dev, tip, Some(sha), Some(dev.dev_addr()), Some(sha));
        }
        net.consume_skb(skb);
        return NetRx::Success;
    }
    // Update our ARP tables: only entries that exist (arp_accept = 0).
    if let Some(n) = tbl.neigh_lookup(ifindex, sip) {
        let is_garp = sip == tip && (op != ARPOP_REPLY || tha == sha) && addr_is_unicast(ops, ifindex, sip);
        let (_, updated, _) = n.times();
        let locktime = tbl.parms().locktime.load(Ordering::Relaxed);
        let override_ = time_after(net.jiffies(), updated + locktime) || is_garp;
        let state = if op != ARPOP_REPLY || pkt_type != PktType::Host {
            NudState::Stale
        } else {
            NudState::Reachable
        };
        let flags = if override_ { NEIGH_UPDATE_F_OVERRIDE } else { 0 };
        net.consume_skb(skb);
        neigh_update(net, Some(ops), &n, Some(sha), state, flags);
        return NetRx::Success;
    }
    net.consume_skb(skb);
    NetRx::Success
}
// ANCHOR_END: arp_process

// ANCHOR: arp_rcv
/// Mirrors `arp_rcv()` (net/ipv4/arp.c), `arp_packet_type`'s handler.
///
/// Frames on an `IFF_NOARP` device, for another host or looped back are
/// consumed silently ("do not tweak dropwatch on an ARP we will ignore").
/// A packet shorter than `arp_hdr_len()` is dropped as `PKT_TOO_SMALL`, one
/// whose address lengths are not 6 and 4 as `NOT_SPECIFIED`; the rest goes
/// to [`arp_process`]. Never panics on any input.
pub fn arp_rcv(net: &Net, tbl: &NeighTable, ops: &dyn ArpOps, skb: Skb) -> NetRx {
    net_core::ftrace_graph!("arp_rcv");
    let noarp = net.dev_get_by_index(skb.dev).is_none_or(|d| d.flags() & IFF_NOARP != 0);
    if noarp || skb.pkt_type == PktType::OtherHost || skb.pkt_type == PktType::Loopback {
        net.consume_skb(skb);
        return NetRx::Success;
    }
    let Some(arp) = ArpHdr::new_checked(skb.data()) else {
        net.kfree_skb_reason(skb, SkbDropReason::PktTooSmall);
        return NetRx::Drop;
    };
    if usize::from(arp.ar_hln()) != ETH_ALEN || arp.ar_pln() != 4 {
        net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
        return NetRx::Drop;
    }
    arp_process(net, tbl, ops, skb)
}
// ANCHOR_END: arp_rcv

/// Register `arp_packet_type` (`arp_init()`): `ETH_P_ARP` → [`arp_rcv`],
/// capturing the namespace's `Ipv4`, and give `arp_tbl` a weak reference
/// to it for its timers.
pub fn arp_init(net: &Arc<Net>, ipv4: &Arc<Ipv4>) {
    let weak: Weak<dyn ArpOps> = Arc::downgrade(ipv4) as Weak<dyn ArpOps>;
    ipv4.arp_tbl.set_ops(weak);
    let ip = ipv4.clone();
    ipv4.arp_tbl.neigh_parms_sync(&ipv4.sysctl);
    net.dev_add_pack(PacketType::new(ETH_P_ARP, "arp_rcv", move |net, skb| {
        ip.arp_tbl.neigh_parms_sync(&ip.sysctl);
        arp_rcv(net, &ip.arp_tbl, &*ip, skb)
    }));
}

/// Announce `addr` on `ifindex` with a gratuitous ARP request: sender and
/// target address both `addr`, broadcast (Linux: `arp_send(ARPOP_REQUEST,
/// ETH_P_ARP, ifa->ifa_local, dev, ifa->ifa_local, NULL, dev->dev_addr,
/// NULL)` from `inetdev_event()`). Nothing when the device is unknown,
/// down or `IFF_NOARP`.
pub fn arp_gratuitous(net: &Net, _ipv4: &Ipv4, ifindex: u32, addr: Ipv4Addr) {
    let Some(dev) = net.dev_get_by_index(ifindex) else { return };
    if !dev.is_up() {
        return;
    }
    arp_send(net, ARPOP_REQUEST, addr, &dev, addr, None, None, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::eth_type_trans;
    use net_core::Clock;
    use net_core::skbuff::skb_from_frame;
    use proptest::prelude::*;

    /// A real ARP request as captured (Wireshark's sample captures):
    /// "Who has 24.166.173.159? Tell 24.166.172.1", from 00:07:0d:af:f4:54.
    const REAL_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x08, 0x06, // ethhdr
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // hrd pro hln pln op
        0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x18, 0xa6, 0xac, 0x01, // sha sip
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0xa6, 0xad, 0x9f, // tha tip
    ];

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const MAC_A: MacAddr = [2, 0, 0, 0, 0, 1];
    const MAC_B: MacAddr = [2, 0, 0, 0, 0, 2];

    use crate::testlink::{CaptureDev, CapturedFrames as Sent};

    struct FakeOps;
    /// FakeOps with `arp_ignore` set and A/24 on ifindex 1.
    struct Ignoring(i64);
    impl ArpOps for Ignoring {
        fn is_local(&self, addr: Ipv4Addr) -> bool {
            FakeOps.is_local(addr)
        }
        fn inet_select_addr(&self, i: u32, d: Ipv4Addr) -> Option<Ipv4Addr> {
            FakeOps.inet_select_addr(i, d)
        }
        fn is_broadcast(&self, i: u32, a: Ipv4Addr) -> bool {
            FakeOps.is_broadcast(i, a)
        }
        fn link_failure(&self, _: &Net, _: &SkBuff) {}
        fn dev_addrs(&self, ifindex: u32) -> Vec<(Ipv4Addr, u8)> {
            if ifindex == 1 { vec![(A, 24)] } else { Vec::new() }
        }
        fn arp_ignore(&self) -> i64 {
            self.0
        }
        fn arp_announce(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn arp_ignore_modes() {
        let c = Ipv4Addr::new(10, 0, 1, 7);
        assert!(!arp_ignore(&Ignoring(0), 2, B, A), "0: any interface");
        assert!(!arp_ignore(&Ignoring(1), 1, c, A));
        assert!(arp_ignore(&Ignoring(1), 2, B, A), "1: only the receiving interface");
        assert!(!arp_ignore(&Ignoring(2), 1, B, A));
        assert!(arp_ignore(&Ignoring(2), 1, c, A), "2: and the sender's subnet");
        assert!(arp_ignore(&Ignoring(8), 1, B, A), "8: never");
        let h = h();
        let mut skb = skb_from_frame(0, &frame([0xff; 6], ARPOP_REQUEST, MAC_B, B, [0; 6], A));
        skb.protocol = eth_type_trans(&mut skb, &h.dev).unwrap();
        arp_rcv(&h.net, &h.tbl, &Ignoring(8), skb);
        assert!(h.take().is_empty() && h.tbl.is_empty(), "ignored: no reply, nothing learnt");
    }

    #[test]
    fn arp_announce_modes() {
        let h = h();
        let n = h.tbl.neigh_lookup_create(&h.net, 1, B, true).unwrap();
        let other = Ipv4Addr::new(10, 0, 0, 1);
        // 1: A is local and on B's subnet: kept.
        arp_solicit(&h.net, Some(&Ignoring(1)), h.tbl.parms(), &n, 3, MAC_B, Some(other));
        // 2: never the datagram's source; inet_select_addr's (also A here).
        arp_solicit(&h.net, Some(&Ignoring(2)), h.tbl.parms(), &n, 3, MAC_B, Some(other));
        let f = h.take();
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|x| ArpHdr::new_checked(&x[14..]).unwrap().sip() == A));
        assert!(same_subnet(A, B, 24) && !same_subnet(A, Ipv4Addr::new(10, 0, 1, 1), 24));
        assert!(same_subnet(A, Ipv4Addr::new(192, 0, 0, 1), 0));
    }

    impl ArpOps for FakeOps {
        fn is_local(&self, addr: Ipv4Addr) -> bool {
            addr == A
        }
        fn inet_select_addr(&self, _: u32, _: Ipv4Addr) -> Option<Ipv4Addr> {
            Some(A)
        }
        fn is_broadcast(&self, _: u32, addr: Ipv4Addr) -> bool {
            addr == Ipv4Addr::new(10, 0, 0, 255)
        }
        fn link_failure(&self, _: &Net, _: &SkBuff) {}
    }

    struct H {
        clock: Clock,
        net: Arc<Net>,
        dev: Arc<NetDev>,
        tbl: NeighTable,
        sent: Sent,
    }

    fn h() -> H {
        let clock = Clock::new_virtual();
        let net = Net::new("a", clock.clone(), 1);
        let sent: Sent = Arc::default();
        let dev = net.register_netdev(Box::new(CaptureDev(sent.clone()))).unwrap();
        dev.open().unwrap();
        H { clock, net, dev, tbl: NeighTable::new(), sent }
    }

    impl H {
        fn rx(&self, frame: &[u8]) -> NetRx {
            let mut skb = skb_from_frame(0, frame);
            match eth_type_trans(&mut skb, &self.dev) {
                Some(p) => skb.protocol = p,
                None => return NetRx::Drop,
            }
            skb.reset_network_header();
            arp_rcv(&self.net, &self.tbl, &FakeOps, skb)
        }
        fn take(&self) -> Vec<Vec<u8>> {
            std::mem::take(&mut *self.sent.lock().unwrap())
        }
    }

    fn frame(dst: MacAddr, op: u16, sha: MacAddr, sip: Ipv4Addr, tha: MacAddr, tip: Ipv4Addr) -> Vec<u8> {
        let mut f = vec![0xa5; 14 + ARP_HDR_LEN];
        crate::eth::write_ethhdr(&mut f, &dst, &sha, ETH_P_ARP);
        write_arphdr(&mut f[14..], ARPHRD_ETHER, op, &sha, sip, &tha, tip);
        f
    }

    #[test]
    fn arphdr_view_reads_real_capture() {
        let a = ArpHdr::new_checked(&REAL_REQUEST[14..]).unwrap();
        assert_eq!(a.ar_hrd(), ARPHRD_ETHER);
        assert_eq!(a.ar_pro(), ETH_P_IP);
        assert_eq!((a.ar_hln(), a.ar_pln()), (6, 4));
        assert_eq!(a.ar_op(), ARPOP_REQUEST);
        assert_eq!(a.sha(), [0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54]);
        assert_eq!(a.sip(), Ipv4Addr::new(24, 166, 172, 1));
        assert_eq!(a.tha(), [0; 6]);
        assert_eq!(a.tip(), Ipv4Addr::new(24, 166, 173, 159));
        assert!(ArpHdr::new_checked(&REAL_REQUEST[14..41]).is_none());
    }

    #[test]
    fn write_arphdr_reproduces_the_capture_over_a5() {
        let mut buf = [0xa5u8; ARP_HDR_LEN];
        write_arphdr(
            &mut buf,
            ARPHRD_ETHER,
            ARPOP_REQUEST,
            &[0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54],
            Ipv4Addr::new(24, 166, 172, 1),
            &[0; 6],
            Ipv4Addr::new(24, 166, 173, 159),
        );
        assert_eq!(&buf[..], &REAL_REQUEST[14..]);
    }

    #[test]
    fn arp_create_request_and_gratuitous() {
        let h = h();
        let skb = arp_create(ARPOP_REQUEST, B, &h.dev, A, None, None, None);
        assert_eq!(skb.protocol, ETH_P_ARP);
        let want = frame([0xff; 6], ARPOP_REQUEST, MAC_A, A, [0; 6], B);
        assert_eq!(skb.data(), &want[..]);
        assert_eq!(skb.network_header().len(), ARP_HDR_LEN);
        arp_gratuitous(&h.net, &Ipv4Stub, h.dev.ifindex, A);
        let f = h.take();
        assert_eq!(f, vec![frame([0xff; 6], ARPOP_REQUEST, MAC_A, A, [0; 6], A)]);
    }

    /// arp_gratuitous takes `&Ipv4` only for its signature; building an
    /// `Ipv4` needs every module, so this test reaches the body directly.
    struct Ipv4Stub;
    fn arp_gratuitous(net: &Net, _: &Ipv4Stub, ifindex: u32, addr: Ipv4Addr) {
        let dev = net.dev_get_by_index(ifindex).unwrap();
        arp_send(net, ARPOP_REQUEST, addr, &dev, addr, None, None, None);
    }

    #[test]
    fn request_for_us_is_answered_and_learnt_stale() {
        let h = h();
        assert_eq!(h.rx(&frame([0xff; 6], ARPOP_REQUEST, MAC_B, B, [0; 6], A)), NetRx::Success);
        assert_eq!(h.take(), vec![frame(MAC_B, ARPOP_REPLY, MAC_A, A, MAC_B, B)]);
        let n = h.tbl.neigh_lookup(h.dev.ifindex, B).unwrap();
        assert_eq!((n.nud_state(), n.ha()), (NudState::Stale, MAC_B));
        assert_eq!(h.tbl.stats().get(NeighStat::RcvProbesMcast), 1);
    }

    #[test]
    fn request_for_someone_else_is_ignored() {
        let h = h();
        h.rx(&frame([0xff; 6], ARPOP_REQUEST, MAC_B, B, [0; 6], Ipv4Addr::new(10, 0, 0, 3)));
        assert!(h.take().is_empty());
        assert!(h.tbl.is_empty(), "unsolicited ARP creates nothing");
    }

    #[test]
    fn reply_completes_resolution() {
        let h = h();
        let n = h.tbl.neigh_lookup_create(&h.net, h.dev.ifindex, B, true).unwrap();
        let mut skb = alloc_skb(200);
        skb.reserve(100);
        skb.put(20).fill(0x45);
        crate::neighbour::neigh_resolve_output(&h.net, &h.tbl, Some(&FakeOps), &h.dev, B, skb).unwrap();
        assert_eq!(n.nud_state(), NudState::Incomplete);
        assert_eq!(h.take(), vec![frame([0xff; 6], ARPOP_REQUEST, MAC_A, A, [0; 6], B)]);
        h.rx(&frame(MAC_A, ARPOP_REPLY, MAC_B, B, MAC_A, A));
        assert_eq!((n.nud_state(), n.ha()), (NudState::Reachable, MAC_B));
        let f = h.take();
        assert_eq!(f.len(), 1);
        assert_eq!(&f[0][..14], &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    }

    #[test]
    fn broadcast_reply_only_stale_and_locktime_blocks_change() {
        let h = h();
        h.tbl.neigh_add(&h.net, 1, B, MAC_B, NudState::Stale).unwrap();
        // Within locktime (1 s) of the update a new address is refused.
        h.rx(&frame([0xff; 6], ARPOP_REPLY, [9; 6], B, [0; 6], A));
        assert_eq!(h.tbl.neigh_lookup(1, B).unwrap().ha(), MAC_B);
        h.clock.set_ns(2_000_000_000);
        h.rx(&frame([0xff; 6], ARPOP_REPLY, [9; 6], B, [0; 6], A));
        let n = h.tbl.neigh_lookup(1, B).unwrap();
        assert_eq!((n.ha(), n.nud_state()), ([9; 6], NudState::Stale), "broadcast reply: STALE");
    }

    #[test]
    fn gratuitous_arp_updates_existing_entry_at_once() {
        let h = h();
        h.tbl.neigh_add(&h.net, 1, B, MAC_B, NudState::Reachable).unwrap();
        h.rx(&frame([0xff; 6], ARPOP_REQUEST, [7; 6], B, [0; 6], B));
        let n = h.tbl.neigh_lookup(1, B).unwrap();
        assert_eq!((n.ha(), n.nud_state()), ([7; 6], NudState::Stale));
        // A gratuitous ARP for an unknown address creates nothing.
        h.rx(&frame(
            [0xff; 6],
            ARPOP_REQUEST,
            [7; 6],
            Ipv4Addr::new(10, 0, 0, 9),
            [0; 6],
            Ipv4Addr::new(10, 0, 0, 9),
        ));
        assert_eq!(h.tbl.len(), 1);
    }

    #[test]
    fn announcement_of_our_own_address_is_not_answered() {
        let h = h();
        h.rx(&frame([0xff; 6], ARPOP_REQUEST, MAC_B, A, [0; 6], A));
        h.rx(&frame([0xff; 6], ARPOP_REQUEST, MAC_B, Ipv4Addr::new(127, 0, 0, 1), [0; 6], A));
        assert!(h.take().is_empty());
        assert!(h.tbl.is_empty());
    }

    #[test]
    fn duplicate_address_probe_is_answered_without_learning() {
        let h = h();
        h.rx(&frame([0xff; 6], ARPOP_REQUEST, MAC_B, Ipv4Addr::UNSPECIFIED, [0; 6], A));
        assert_eq!(h.take(), vec![frame(MAC_B, ARPOP_REPLY, MAC_A, A, MAC_B, Ipv4Addr::UNSPECIFIED)]);
        assert!(h.tbl.is_empty());
    }

    #[test]
    fn bad_packets_are_dropped_and_counted() {
        let h = h();
        let mut f = frame([0xff; 6], ARPOP_REQUEST, MAC_B, B, [0; 6], A);
        assert_eq!(h.rx(&f[..14 + 27]), NetRx::Drop);
        assert_eq!(h.net.drops.get(SkbDropReason::PktTooSmall), 1);
        f[14 + 4] = 8; // ar_hln
        assert_eq!(h.rx(&f), NetRx::Drop);
        f[14 + 4] = 6;
        f[14 + 1] = 7; // ar_hrd = 7
        assert_eq!(h.rx(&f), NetRx::Drop);
        f[14 + 1] = 1;
        f[14 + 7] = 3; // ar_op = 3 (RARP request)
        assert_eq!(h.rx(&f), NetRx::Drop);
        f[14 + 7] = 1;
        f[14 + 24] = 224; // tip multicast
        assert_eq!(h.rx(&f), NetRx::Drop);
        assert_eq!(h.net.drops.get(SkbDropReason::NotSpecified), 4);
        // For another host: consumed silently.
        let other = frame([2, 0, 0, 0, 0, 0x77], ARPOP_REQUEST, MAC_B, B, [0; 6], A);
        assert_eq!(h.rx(&other), NetRx::Success);
        assert!(h.take().is_empty());
    }

    #[test]
    fn probe_sends_unicast_then_broadcast() {
        let h = h();
        let n = h.tbl.neigh_lookup_create(&h.net, 1, B, true).unwrap();
        arp_solicit(&h.net, Some(&FakeOps), h.tbl.parms(), &n, 0, MAC_B, Some(A));
        arp_solicit(&h.net, Some(&FakeOps), h.tbl.parms(), &n, 3, MAC_B, Some(Ipv4Addr::new(1, 2, 3, 4)));
        let f = h.take();
        assert_eq!(f[0], frame(MAC_B, ARPOP_REQUEST, MAC_A, A, [0; 6], B));
        assert_eq!(f[1], frame([0xff; 6], ARPOP_REQUEST, MAC_A, A, [0; 6], B), "non-local source replaced");
    }

    proptest! {
        #[test]
        fn arp_rcv_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
            mutate in proptest::collection::vec((0usize..42, any::<u8>()), 0..6),
        ) {
            let h = h();
            h.rx(&bytes);
            let mut f = frame([0xff; 6], ARPOP_REQUEST, MAC_B, B, [0; 6], A);
            for (i, v) in mutate {
                f[i] = v;
            }
            h.rx(&f);
            let mut r = frame(MAC_A, ARPOP_REPLY, MAC_B, B, MAC_A, A);
            r.truncate(14 + bytes.len().min(ARP_HDR_LEN));
            h.rx(&r);
            prop_assert!(h.tbl.len() <= 1);
        }
    }
}
