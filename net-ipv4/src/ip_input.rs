//! IPv4 receive: from `ip_packet_type` to the transport's handler.
//!
//! Mirrors net/ipv4/ip_input.c, Linux 6.18: `ip_rcv()` → `ip_rcv_core()`
//! (header checks) → `ip_rcv_finish()` (route lookup) → `ip_local_deliver()`
//! (reassembly) → `ip_local_deliver_finish()` → `ip_protocol_deliver_rcu()`
//! (the `inet_protos` handler), or `ip_forward()` for a forwarding route.
//!
//! Heads up: read RFC 791 §3.2 and RFC 1122 §3.2.1.1–3.2.1.8 (what a host
//! must verify and may silently discard) first.
//!
//! Every bad datagram is dropped, never answered with a panic or an `Err`:
//! each drop carries a [`SkbDropReason`] and bumps the counter Linux bumps
//! (`InHdrErrors`, `InCsumErrors`, `InTruncatedPkts`, `InAddrErrors`,
//! `InNoRoutes`, `InUnknownProtos`).
//!
//! Where we differ: no netfilter hooks (`NF_INET_PRE_ROUTING`,
//! `NF_INET_LOCAL_IN`), early demux only for TCP ([`ip_early_demux`]), no raw sockets
//! (`raw_local_deliver()`), no IP options processing beyond the length
//! checks (`ip_rcv_options()`), no `skb_share_check()` (our writers unshare
//! on demand), no per-device `rx_otherhost_dropped` counter (net-core's
//! device stats have none; the drop reason still counts), and a transport's
//! handler cannot ask for a resubmit.

use crate::Ipv4;
use crate::fib::RtnType;
use crate::ip::{INET_ECN_MASK, IPCB_mut, IpHdr};
use net_core::dropreason::SkbDropReason;
use net_core::if_ether::ETH_P_IP;
use net_core::skbuff::{IpSummed, PktType};
use net_core::snmp::{IpExtMib, IpstatsMib};
use net_core::{Net, NetRx, PacketType, Skb};
use std::sync::Arc;

/// `ICMP_DEST_UNREACH`.
const ICMP_DEST_UNREACH: u8 = 3;
/// `ICMP_PROT_UNREACH`.
const ICMP_PROT_UNREACH: u8 = 2;

/// Register `ip_packet_type` (`ip_init()` / `dev_add_pack(&ip_packet_type)`).
///
/// Mirrors the `dev_add_pack(&ip_packet_type)` of `inet_init()`
/// (net/ipv4/af_inet.c): every `ETH_P_IP` frame goes to [`ip_rcv`]. The
/// handler captures this namespace's [`Ipv4`], so the data path never looks
/// it up.
pub fn ip_init(net: &Arc<Net>, ipv4: &Arc<Ipv4>) {
    let ipv4 = ipv4.clone();
    net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", move |net, skb| ip_rcv(net, &ipv4, skb)));
}

/// Receive one IPv4 datagram from a device: data and network header at
/// the IPv4 header.
///
/// Mirrors `ip_rcv()` (net/ipv4/ip_input.c): [`ip_rcv_core`], then (Linux:
/// through the `PRE_ROUTING` hook) [`ip_rcv_finish`]. Returns
/// `NetRx::Drop` for anything dropped on the way.
pub fn ip_rcv(net: &Net, ipv4: &Ipv4, skb: Skb) -> NetRx {
    net_core::ftrace_graph!("ip_rcv");
    match ip_rcv_core(net, skb) {
        Some(skb) => ip_rcv_finish(net, ipv4, skb),
        None => NetRx::Drop,
    }
}

// ANCHOR: ip_rcv_core
/// Validate an IPv4 header and prepare the skb for the stack.
///
/// Mirrors `ip_rcv_core()` (net/ipv4/ip_input.c). In order:
/// - a frame for another host's MAC (`PACKET_OTHERHOST`, promiscuous mode)
///   is dropped (`OTHERHOST`) before anything is counted;
/// - `InReceives` and `InOctets` count it;
/// - fewer than 20 bytes, `ihl < 5`, version ≠ 4, or fewer than `ihl * 4`
///   bytes: `InHdrErrors`, dropped (`IP_INHDR`);
/// - the ECN field is counted (`InNoECTPkts` … `InCEPkts`);
/// - a bad header checksum: `InCsumErrors` and `InHdrErrors`, dropped
///   (`IP_CSUM`);
/// - `tot_len` larger than what arrived: `InTruncatedPkts`, dropped
///   (`PKT_TOO_SMALL`); `tot_len` shorter than the header: `InHdrErrors`;
/// - otherwise the link layer's padding is trimmed (`skb->len` becomes
///   `tot_len`), the transport header is marked after the IP header and
///   `IPCB` is cleared with `iif` set.
///
/// Returns the skb, or `None` when it was dropped.
pub fn ip_rcv_core(net: &Net, mut skb: Skb) -> Option<Skb> {
    net_core::ftrace_graph!("ip_rcv_core");
    if skb.pkt_type == PktType::OtherHost {
        net.kfree_skb_reason(skb, SkbDropReason::Otherhost);
        return None;
    }
    net.mib.inc(IpstatsMib::InReceives);
    // A GRO packet's merged payloads may wait on its frag list: they count.
    let pkt_len = skb.len() + skb.frag_list_len();
    net.mib.add(IpExtMib::InOctets, pkt_len as u64);
    skb.reset_network_header();

    let (ihl, tot_len) = {
        let d = skb.data();
        // pskb_may_pull(skb, sizeof(struct iphdr)), ihl >= 5, version 4.
        if d.len() < 20 || d[0] & 0x0f < 5 || d[0] >> 4 != 4 {
            return inhdr_error(net, skb, SkbDropReason::IpInhdr);
        }
        let ecn = d[1] & INET_ECN_MASK;
        net.mib.inc(match ecn {
            0 => IpExtMib::InNoECTPkts,
            1 => IpExtMib::InECT1Pkts,
            2 => IpExtMib::InECT0Pkts,
            _ => IpExtMib::InCEPkts,
        });
        // pskb_may_pull(skb, iph->ihl * 4): new_checked tests it.
        let Some(h) = IpHdr::new_checked(d) else {
            return inhdr_error(net, skb, SkbDropReason::IpInhdr);
        };
        if !h.verify_checksum() {
            net.mib.inc(IpExtMib::InCsumErrors);
            return inhdr_error(net, skb, SkbDropReason::IpCsum);
        }
        (h.hdrlen(), usize::from(h.tot_len()))
    };
    if pkt_len < tot_len {
        net.mib.inc(IpExtMib::InTruncatedPkts);
        net.kfree_skb_reason(skb, SkbDropReason::PktTooSmall);
        return None;
    } else if tot_len < ihl {
        return inhdr_error(net, skb, SkbDropReason::IpInhdr);
    }
    // pskb_trim_rcsum(): the medium may have padded the frame (GRO never
    // merges a padded one, so a packet with a frag list is never trimmed).
    if pkt_len > tot_len {
        skb.skb_linearize();
        skb.trim(tot_len);
        if skb.ip_summed == IpSummed::Complete {
            skb.ip_summed = IpSummed::None;
        }
    }
    skb.set_transport_header(ihl as isize);
    skb.cb_clear();
    let iif = skb.skb_iif;
    IPCB_mut(&mut skb).iif = iif;
    Some(skb)
}
// ANCHOR_END: ip_rcv_core

/// The `inhdr_error:` label: `InHdrErrors`, then drop with `reason`.
fn inhdr_error(net: &Net, skb: Skb, reason: SkbDropReason) -> Option<Skb> {
    net.mib.inc(IpstatsMib::InHdrErrors);
    net.kfree_skb_reason(skb, reason);
    None
}

// ANCHOR: ip_rcv_finish
/// Route a validated datagram and hand it on.
///
/// Mirrors `ip_rcv_finish()` / `ip_rcv_finish_core()` (net/ipv4/ip_input.c):
/// `ip_route_input_noref()` decides. A local or broadcast (or multicast)
/// route goes to [`ip_local_deliver`] (counting `InBcastPkts` /
/// `InMcastPkts`), a unicast route to `ip_forward()`. A failed lookup drops
/// the datagram with the reason the routing code gave, counting
/// `InAddrErrors` for `IP_INADDRERRORS` and `InNoRoutes` for
/// `IP_INNOROUTES` (Linux counts these in `ip_error()`); a blackhole route
/// drops silently, unreachable and prohibit routes as no route.
pub fn ip_rcv_finish(net: &Net, ipv4: &Ipv4, mut skb: Skb) -> NetRx {
    net_core::ftrace_graph!("ip_rcv_finish");
    let Some((saddr, daddr, protocol, is_fragment)) = IpHdr::new_checked(skb.network_header())
        .map(|h| (h.saddr(), h.daddr(), h.protocol(), h.is_fragment()))
    else {
        net.kfree_skb_reason(skb, SkbDropReason::IpInhdr);
        return NetRx::Drop;
    };
    if ip_early_demux(net, ipv4, &mut skb, protocol, is_fragment) {
        // The socket's cached input route: local delivery, no lookup.
        return ip_local_deliver(net, ipv4, skb);
    }
    let iif = skb.dev;
    let rt_genid = ipv4.fib.rt_genid();
    let rt = match crate::route::ip_route_input(net, ipv4, &skb, daddr, saddr, iif) {
        Ok(rt) => rt,
        Err(reason) => {
            match reason {
                SkbDropReason::IpInaddrerrors => net.mib.inc(IpstatsMib::InAddrErrors),
                SkbDropReason::IpInnoroutes => net.mib.inc(IpExtMib::InNoRoutes),
                _ => {}
            }
            net.kfree_skb_reason(skb, reason);
            return NetRx::Drop;
        }
    };
    match rt.rt_type {
        RtnType::Local => {
            // skb_dst_set(): what inet_sk_rx_dst_set() may cache. Only an
            // input route looked up here; looped-back output is not one.
            if skb.pkt_type != PktType::Loopback {
                IPCB_mut(&mut skb).rt_genid = rt_genid;
            }
            ip_local_deliver(net, ipv4, skb)
        }
        RtnType::Broadcast => {
            net.mib.inc(IpExtMib::InBcastPkts);
            net.mib.add(IpExtMib::InBcastOctets, skb.len() as u64);
            ip_local_deliver(net, ipv4, skb)
        }
        RtnType::Multicast => {
            net.mib.inc(IpExtMib::InMcastPkts);
            net.mib.add(IpExtMib::InMcastOctets, skb.len() as u64);
            ip_local_deliver(net, ipv4, skb)
        }
        RtnType::Unicast => {
            // A packet GRO merged is forwarded as it is, its payloads still
            // on the frag list: only the first segment's header is read and
            // rewritten, and the output path splits it into the segments
            // it was (`skb_gso_segment()`), as Linux forwards a GSO skb.
            crate::ip_forward::ip_forward(net, ipv4, skb, rt)
        }
        RtnType::Blackhole => {
            net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
            NetRx::Drop
        }
        RtnType::Unreachable | RtnType::Prohibit => {
            net.mib.inc(IpExtMib::InNoRoutes);
            net.kfree_skb_reason(skb, SkbDropReason::IpInnoroutes);
            NetRx::Drop
        }
    }
}
// ANCHOR_END: ip_rcv_finish

// ANCHOR: ip_early_demux
/// Ask the transport for the established socket and its cached input
/// route before routing; true when the skb may skip [`ip_route_input`]
/// (`skb_valid_dst()` after the early demux).
///
/// Mirrors the early-demux block of `ip_rcv_finish_core()`
/// (net/ipv4/ip_input.c): only with `net.ipv4.ip_early_demux` set, for a
/// datagram that is not a fragment and carries no socket yet, and, for
/// TCP, with `net.ipv4.tcp_early_demux` set. The transport's hook
/// (`tcp_v4_early_demux()`) attaches the socket it found (`skb->sk`) even
/// when the route must still be looked up. A packet whose socket has no
/// valid cached route is routed as before, so every counter
/// `ip_route_input` and its callers bump still rises; a cached route is
/// always a local one, which `ip_rcv_finish()` counts nothing for.
///
/// Where we differ: Linux 6.18 calls `tcp_v4_early_demux()` and
/// `udp_v4_early_demux()` directly; we go through the
/// [`crate::protocol::NetProtocol::early_demux`] hook (only TCP has one).
///
/// [`ip_route_input`]: crate::route::ip_route_input
#[doc(alias = "ip_rcv_finish_core")]
fn ip_early_demux(net: &Net, ipv4: &Ipv4, skb: &mut Skb, protocol: u8, is_fragment: bool) -> bool {
    if ipv4.sysctl.ip_early_demux.get() == 0 || is_fragment || skb.sk.is_some() {
        return false;
    }
    if protocol == crate::ip::IPPROTO_TCP && ipv4.sysctl.tcp_early_demux.get() == 0 {
        return false;
    }
    let Some(ipprot) = ipv4.protos.get(protocol) else { return false };
    let Some(early_demux) = ipprot.early_demux.as_ref() else { return false };
    early_demux(net, skb)
}
// ANCHOR_END: ip_early_demux

/// Deliver a datagram addressed to this host, reassembling first.
///
/// Mirrors `ip_local_deliver()` (net/ipv4/ip_input.c): a fragment goes to
/// `ip_defrag()`, which keeps it (`NetRx::Success`, as Linux returns 0)
/// until the datagram is complete; the whole datagram continues to
/// [`ip_local_deliver_finish`].
pub fn ip_local_deliver(net: &Net, ipv4: &Ipv4, skb: Skb) -> NetRx {
    net_core::ftrace_graph!("ip_local_deliver");
    let is_fragment = IpHdr::new_checked(skb.network_header()).is_some_and(|h| h.is_fragment());
    if is_fragment {
        match crate::ip_fragment::ip_defrag(net, ipv4, skb) {
            Some(whole) => ip_local_deliver_finish(net, ipv4, whole),
            None => NetRx::Success,
        }
    } else {
        ip_local_deliver_finish(net, ipv4, skb)
    }
}

// ANCHOR: ip_local_deliver_finish
/// Pull the IP header and give the datagram to its transport.
///
/// Mirrors `ip_local_deliver_finish()` and `ip_protocol_deliver_rcu()`
/// (net/ipv4/ip_input.c): `__skb_pull(skb, skb_network_header_len(skb))`,
/// then `inet_protos[protocol]->handler`; `InDelivers` counts a delivery.
/// With no handler (and no raw socket, which we lack) `InUnknownProtos`
/// rises, ICMP protocol unreachable goes back to the sender and the
/// datagram is dropped (`IP_NOPROTO`).
pub fn ip_local_deliver_finish(net: &Net, ipv4: &Ipv4, mut skb: Skb) -> NetRx {
    net_core::ftrace_graph!("ip_local_deliver_finish");
    let Some(protocol) = IpHdr::new_checked(skb.network_header()).map(|h| h.protocol()) else {
        net.kfree_skb_reason(skb, SkbDropReason::IpInhdr);
        return NetRx::Drop;
    };
    skb.tstamp = 0; // skb_clear_delivery_time()
    let hlen = skb.network_header_len();
    if skb.pull(hlen).is_none() {
        net.kfree_skb_reason(skb, SkbDropReason::PktTooSmall);
        return NetRx::Drop;
    }
    match ipv4.protos.get(protocol) {
        Some(ipprot) => {
            let ret = (ipprot.handler)(net, skb);
            net.mib.inc(IpstatsMib::InDelivers);
            ret
        }
        None => {
            net.mib.inc(IpstatsMib::InUnknownProtos);
            crate::icmp::icmp_send(net, ipv4, &skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0);
            net.kfree_skb_reason(skb, SkbDropReason::IpNoproto);
            NetRx::Drop
        }
    }
}
// ANCHOR_END: ip_local_deliver_finish

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::{IP_MF, IPCB, IPPROTO_UDP, IpHdrBuilder};
    use net_core::Clock;
    use net_core::skbuff::skb_from_frame;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    const HDR: IpHdrBuilder = IpHdrBuilder {
        id: 77,
        protocol: IPPROTO_UDP,
        saddr: Ipv4Addr::new(10, 0, 0, 1),
        daddr: Ipv4Addr::new(10, 0, 0, 2),
        ..IpHdrBuilder::TEMPLATE
    };

    fn net() -> Arc<Net> {
        Net::new("rx", Clock::new_virtual(), 3)
    }

    fn rx(bytes: &[u8]) -> Skb {
        let mut s = skb_from_frame(2, bytes);
        s.skb_iif = 2;
        s
    }

    fn sum_outcomes(net: &Net) -> u64 {
        net.mib.get(IpstatsMib::InHdrErrors) + net.mib.get(IpExtMib::InTruncatedPkts)
    }

    #[test]
    fn good_datagram_is_trimmed_and_marked() {
        let net = net();
        let mut d = HDR.datagram(&[1, 2, 3, 4]);
        d.extend_from_slice(&[0; 22]); // Ethernet padding
        let skb = ip_rcv_core(&net, rx(&d)).expect("valid");
        assert_eq!(skb.len(), 24);
        assert_eq!(skb.network_header_len(), 20);
        assert_eq!(skb.transport_header(), &[1, 2, 3, 4]);
        assert_eq!(IPCB(&skb).iif, 2);
        assert_eq!(net.mib.get(IpstatsMib::InReceives), 1);
        assert_eq!(net.mib.get(IpExtMib::InOctets), 46);
        assert_eq!(net.mib.get(IpExtMib::InNoECTPkts), 1);
    }

    #[test]
    fn each_header_error_is_counted_as_linux_does() {
        let net = net();
        let good = HDR.datagram(&[0; 8]);
        // Short.
        assert!(ip_rcv_core(&net, rx(&good[..19])).is_none());
        // Version 6.
        let mut v = good.clone();
        v[0] = 0x65;
        assert!(ip_rcv_core(&net, rx(&v)).is_none());
        // ihl 4.
        let mut v = good.clone();
        v[0] = 0x44;
        assert!(ip_rcv_core(&net, rx(&v)).is_none());
        assert_eq!(net.mib.get(IpstatsMib::InHdrErrors), 3);
        assert_eq!(net.drops.get(SkbDropReason::IpInhdr), 3);
        // Bad checksum.
        let mut v = good.clone();
        v[8] ^= 1;
        assert!(ip_rcv_core(&net, rx(&v)).is_none());
        assert_eq!(net.mib.get(IpExtMib::InCsumErrors), 1);
        assert_eq!(net.mib.get(IpstatsMib::InHdrErrors), 4);
        assert_eq!(net.drops.get(SkbDropReason::IpCsum), 1);
        // Truncated.
        assert!(ip_rcv_core(&net, rx(&good[..24])).is_none());
        assert_eq!(net.mib.get(IpExtMib::InTruncatedPkts), 1);
        assert_eq!(net.mib.get(IpstatsMib::InHdrErrors), 4);
        // tot_len shorter than the header.
        let v = IpHdrBuilder { tot_len: 12, ..HDR };
        let mut b = [0u8; 28];
        v.write(&mut b);
        assert!(ip_rcv_core(&net, rx(&b)).is_none());
        assert_eq!(net.mib.get(IpstatsMib::InHdrErrors), 5);
        assert_eq!(net.mib.get(IpstatsMib::InReceives), 6);
        // Another host's frame is dropped before counting.
        let mut s = rx(&good);
        s.pkt_type = PktType::OtherHost;
        assert!(ip_rcv_core(&net, s).is_none());
        assert_eq!(net.mib.get(IpstatsMib::InReceives), 6);
        assert_eq!(net.drops.get(SkbDropReason::Otherhost), 1);
    }

    #[test]
    fn ecn_is_counted() {
        let net = net();
        for tos in 0..4u8 {
            let d = IpHdrBuilder { tos, ..HDR }.datagram(&[]);
            assert!(ip_rcv_core(&net, rx(&d)).is_some());
        }
        assert_eq!(net.mib.get(IpExtMib::InNoECTPkts), 1);
        assert_eq!(net.mib.get(IpExtMib::InECT1Pkts), 1);
        assert_eq!(net.mib.get(IpExtMib::InECT0Pkts), 1);
        assert_eq!(net.mib.get(IpExtMib::InCEPkts), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
        /// Random and mutated datagrams never panic, and every datagram
        /// counted as received is either accepted or counted as one error.
        #[test]
        fn never_panics_and_counts_add_up(
            payload in proptest::collection::vec(any::<u8>(), 0..80),
            flips in proptest::collection::vec((0usize..100, any::<u8>()), 0..6),
            cut in 0usize..120,
            raw in proptest::collection::vec(any::<u8>(), 0..64),
            frag_off in any::<u16>(),
        ) {
            let net = net();
            let mut d = IpHdrBuilder { frag_off: frag_off & !IP_MF, ..HDR }.datagram(&payload);
            for (i, x) in flips {
                if let Some(b) = d.get_mut(i) {
                    *b ^= x;
                }
            }
            d.truncate(cut.max(1));
            let mut ok = 0u64;
            for bytes in [&d[..], &raw[..]] {
                if let Some(skb) = ip_rcv_core(&net, rx(bytes)) {
                    ok += 1;
                    let h = IpHdr::new_checked(skb.network_header()).unwrap();
                    prop_assert!(h.verify_checksum());
                    prop_assert_eq!(skb.len(), usize::from(h.tot_len()));
                }
            }
            prop_assert_eq!(net.mib.get(IpstatsMib::InReceives), 2);
            prop_assert_eq!(ok + sum_outcomes(&net), 2);
        }
    }
}
