//! Generic segmentation offload, frag-list form: a burst of segments down
//! the stack as one packet.
//!
//! Mirrors the software GSO path of net/core/dev.c and net/core/gso.c,
//! Linux 6.18: `validate_xmit_skb()` finding a GSO packet the device cannot
//! take whole (`netif_needs_gso()`), `skb_gso_segment()` asking the
//! offload for its EtherType, and `skb_segment_list()` (net/core/skbuff.c)
//! splitting an `SKB_GSO_FRAGLIST` packet back into its segments, each
//! given the first one's link and network headers, which
//! `inet_gso_segment()` then fixes per segment (`tot_len`, the IP ID, the
//! header checksum).
//!
//! The same split serves a packet GRO merged that a router sends on
//! (Linux's `skb_segment()` of an `SKB_GSO_TCPV4` packet): its frag list
//! holds payloads only, so each segment also gets the first one's TCP
//! header, which `tcp_gso_segment()` fixes; and `ip_finish_output_gso()`
//! splits a GSO packet whose segments exceed the route's MTU before it
//! fragments them ([`skb_gso_validate_network_len`]).
//!
//! # What it is for
//!
//! At MTU 1500 a bulk sender's every 1448 bytes would run `ip_queue_xmit()`,
//! `ip_local_out()`, `ip_finish_output2()`, the neighbour lookup and
//! `dev_queue_xmit()` with its locks. With GSO the segments of one
//! `tcp_write_xmit()` burst (up to 64 KiB) travel that way once, as one
//! packet, and are split just before the qdisc; the wire still carries
//! 1500-byte frames, each with its own checksums.
//!
//! # Where we differ
//!
//! Linux's TCP builds one skb of up to 64 KiB (`tcp_skb_pcount()`
//! segments, `gso_size` the MSS), and `tcp_gso_segment()` cuts it, copying
//! headers and summing payloads. linnet's TCP keeps one skb per segment in
//! its queues (so SACK, loss marking and retransmission stay per segment),
//! so `tcp_write_xmit()` chains the burst's transmit clones on the first
//! one's frag list — the shape of Linux's `SKB_GSO_FRAGLIST` packets, which
//! GRO builds for forwarding. Each later clone carries a copy of the first
//! one's TCP header with its own sequence number, flags and checksum
//! (`tcp_gso_next_segment()`), as `tcp_gso_segment()` gives each segment
//! of a TSO skb. Splitting one copies only the 34 bytes of Ethernet and IPv4
//! header per segment. The split happens before the taps and the pfifo
//! (Linux splits after the qdisc, in `sch_direct_xmit()`), so a capture and
//! the queue length count wire frames, as they do on a device without TSO.
//! GSO is off unless the device has [`NetdevFeatures::GSO`] or
//! [`NetDev::set_gso`] turned it on (Linux turns it on for every device).
//!
//! [`NetdevFeatures::GSO`]: crate::netdevice::NetdevFeatures::GSO
//! [`NetDev::set_gso`]: crate::netdevice::NetDev::set_gso

use crate::gro::GsoSeg;
use crate::net_namespace::Net;
use crate::skbuff::{SkBuffHead, Skb};

/// Largest GSO packet, from the network header on (`GSO_LEGACY_MAX_SIZE`,
/// the default `gso_max_size`).
pub const GSO_LEGACY_MAX_SIZE: usize = 65536;

impl Net {
    // ANCHOR: skb_gso_segment
    /// Split a GSO packet into its segments, in order (`skb_gso_segment()`
    /// → `skb_segment_list()` for TCP's frag-list packets, `skb_segment()`
    /// for one GRO merged). `skb.data()` is at the link-layer header (or at
    /// the network header, when IP splits a packet to fragment it) and the
    /// network and transport header marks are set. Each later segment gets
    /// the first one's headers and the packet's metadata: up to its
    /// transport header for a frag-list packet, whose segments carry their
    /// own; through the transport header for a merged one, whose frag list
    /// holds payloads only (`gso_size` set, [`GsoSeg::gso_size`]). Then the
    /// EtherType's offload fixes every segment's headers, the first's too
    /// (`inet_gso_segment()`, and through it `tcp_gso_segment()`).
    pub fn skb_gso_segment(&self, mut skb: Skb) -> SkBuffHead {
        crate::ftrace_graph!("skb_gso_segment");
        let mut segs = SkBuffHead::new();
        let mut rest = std::mem::take(skb.frag_list_mut());
        let offload = self.gro_find_receive_by_type(skb.protocol);
        // The first segment's headers: link layer to transport header, or
        // through it when the payloads were merged.
        let mac_len = usize::try_from(skb.network_offset()).unwrap_or(0);
        let th_off = mac_len + skb.network_header_len();
        let merged_hdr = skb.len().saturating_sub(usize::from(skb.gso_size));
        let gso_size = if skb.gso_size != 0 && merged_hdr >= th_off { skb.gso_size } else { 0 };
        let hdr_len = if gso_size != 0 { merged_hdr } else { th_off };
        let mut hdr = [0u8; 192];
        let hdr_len = hdr_len.min(hdr.len()).min(skb.len());
        hdr[..hdr_len].copy_from_slice(&skb.data()[..hdr_len]);
        let (dev, protocol, priority, mark, tstamp) =
            (skb.dev, skb.protocol, skb.priority, skb.mark, skb.tstamp);
        let fixedid = gso_size != 0 && skb.gso_fixedid;
        (skb.gso_size, skb.gso_segs, skb.gso_fixedid) = (0, 0, false);
        let mut at = GsoSeg { index: 0, last: rest.is_empty(), gso_size, fixedid };
        if let Some(o) = &offload {
            o.gso_segment(self, &mut skb, &at);
        }
        segs.queue_tail(skb);
        while let Some(mut seg) = rest.dequeue() {
            if seg.headroom() < hdr_len {
                seg.skb_cow_head(hdr_len);
            }
            seg.push(hdr_len).copy_from_slice(&hdr[..hdr_len]);
            seg.reset_mac_header();
            seg.set_network_header(mac_len as isize);
            seg.set_transport_header(th_off as isize);
            seg.dev = dev;
            seg.protocol = protocol;
            seg.priority = priority;
            seg.mark = mark;
            seg.tstamp = tstamp;
            at.index = at.index.wrapping_add(1);
            at.last = rest.is_empty();
            if let Some(o) = &offload {
                o.gso_segment(self, &mut seg, &at);
            }
            segs.queue_tail(seg);
        }
        segs
    }
    // ANCHOR_END: skb_gso_segment
}

/// Does every segment of GSO packet `skb` fit `mtu` from its network
/// header on (`skb_gso_validate_network_len()`, net/core/gso.c)?
/// `skb.data()` is at the network header. A packet GRO merged has
/// segments of its first one's size (`gso_size`); a frag-list packet's
/// later segments carry their own transport header and payload, to which
/// the first one's network header is added.
pub fn skb_gso_validate_network_len(skb: &Skb, mtu: usize) -> bool {
    if skb.len() > mtu {
        return false;
    }
    if skb.gso_size != 0 {
        return true;
    }
    let nh = skb.network_header_len();
    skb.frag_list().iter().all(|f| nh + f.len() <= mtu)
}
