//! IPv4's part of GRO: `ip_packet_offload` and `inet_offloads[]`.
//!
//! Mirrors the offload half of net/ipv4/af_inet.c, Linux 6.18:
//! `inet_gro_receive()`, `inet_gro_complete()`, the `ip_packet_offload`
//! that `ipv4_offload_init()` registers with `dev_add_offload()`, and
//! `inet_add_offload()` filling `inet_offloads[]` (net/ipv4/protocol.c),
//! the table a transport's callbacks live in (TCP's `tcpv4_offload`, from
//! net-tcp). The generic half is [`net_core::gro`].
//!
//! `inet_gro_receive()` takes only plain datagrams: a 20-byte header
//! (`0x45`), a good header checksum, a `tot_len` that covers the frame
//! exactly, no fragment bits but DF. It clears `same_flow` on held packets
//! of another address pair or protocol and hands the rest to the
//! transport. The checks that need the flow's held packet (TTL, TOS, DF and
//! the IP ID sequence, [`inet_gro_flush`]) run from the transport, as in
//! Linux 6.18 (`tcp_gro_receive()` calls `gro_receive_network_flush()`).

use std::sync::{Arc, OnceLock};

use net_core::checksum::{Sum16, csum_replace2, ip_fast_csum};
use net_core::gro::{GroCb, GroHeld, GsoSeg, OffloadCallbacks, PacketOffload};
use net_core::if_ether::ETH_P_IP;
use net_core::{Net, Skb};

use crate::ip::{IPHDR_LEN, IpHdr};

/// `inet_offloads[MAX_INET_PROTOS]`: each transport's GRO callbacks.
#[doc(alias = "inet_offloads")]
///
/// Each slot is set once and never cleared (Linux's `inet_del_offload()`
/// has no user here), so a reader needs one acquire load, where Linux
/// needs `rcu_dereference()`: no lock and no reference count per frame.
pub struct InetOffloads {
    slots: [OnceLock<Arc<dyn OffloadCallbacks>>; 256],
}

impl InetOffloads {
    /// All slots empty.
    pub fn new() -> Self {
        InetOffloads { slots: [const { OnceLock::new() }; 256] }
    }

    /// Register a transport's callbacks for IP protocol `num`
    /// (`inet_add_offload()`, a `cmpxchg` on the slot); false if the slot
    /// was taken.
    pub fn inet_add_offload(&self, prot: Arc<dyn OffloadCallbacks>, num: u8) -> bool {
        self.slots[usize::from(num)].set(prot).is_ok()
    }

    fn get(&self, num: u8) -> Option<&dyn OffloadCallbacks> {
        self.slots[usize::from(num)].get().map(|a| a.as_ref())
    }
}

impl Default for InetOffloads {
    fn default() -> Self {
        Self::new()
    }
}

/// `ip_packet_offload`'s callbacks, for this namespace's transports.
struct InetGro {
    offloads: Arc<InetOffloads>,
}

/// Register `ip_packet_offload` (`ipv4_offload_init()`'s
/// `dev_add_offload()`) on `net`, reading transports from `offloads`.
pub fn ipv4_offload_init(net: &Net, offloads: &Arc<InetOffloads>) {
    net.dev_add_offload(Arc::new(PacketOffload {
        type_: ETH_P_IP,
        name: "inet_gro_receive",
        callbacks: Arc::new(InetGro { offloads: offloads.clone() }),
    }));
}

// ANCHOR: inet_gro_receive
impl OffloadCallbacks for InetGro {
    /// `inet_gro_receive()`.
    fn gro_receive(
        &self,
        net: &Net,
        held: &mut [GroHeld],
        skb: &mut Option<Skb>,
        cb: &mut GroCb,
    ) -> Option<usize> {
        net_core::ftrace_graph!("inet_gro_receive");
        let s = skb.as_ref()?;
        let d = s.data();
        cb.flush = true;
        // Only a 20-byte header (version 4, ihl 5) is merged. It is viewed
        // as a fixed-size array, so the field reads need no bounds checks.
        let h: &[u8; IPHDR_LEN] = d.get(..IPHDR_LEN)?.try_into().ok()?;
        let iph = IpHdr::new_checked(h)?;
        if iph.version() != 4 || iph.ihl() != 5 {
            return None;
        }
        let ops = self.offloads.get(iph.protocol())?;
        // iph.verify_checksum(), over the array: ihl is known to be 5.
        if ip_fast_csum(h) != Sum16::ZERO {
            return None;
        }
        // tot_len must cover the frame exactly, and no fragment bits but DF.
        cb.flush = usize::from(iph.tot_len()) != d.len() || iph.frag_off() & !crate::ip::IP_DF != 0;
        let flow = (iph.protocol(), iph.saddr(), iph.daddr());
        for p in held.iter_mut().filter(|p| p.same_flow) {
            let h2 = p.skb.data().get(..IPHDR_LEN).and_then(|b| <&[u8; IPHDR_LEN]>::try_from(b).ok());
            p.same_flow = h2
                .and_then(IpHdr::new_checked)
                .is_some_and(|h2| (h2.protocol(), h2.saddr(), h2.daddr()) == flow);
        }
        cb.offset = IPHDR_LEN;
        ops.gro_receive(net, held, skb, cb)
    }

    /// `inet_gro_complete()`: the merged datagram's `tot_len` and header
    /// checksum, then the transport's completion.
    fn gro_complete(&self, net: &Net, skb: &mut Skb, off: usize, p: &GroHeld) {
        // The merged payloads may be on the frag list: count them, and
        // write only the header (in place when the head owns its header
        // area), never the shared payload.
        let len = (skb.len() + skb.frag_list_len() - off).min(0xffff) as u16;
        let Some(ihl) = skb.data().get(off).map(|b| usize::from(b & 0x0f) * 4) else { return };
        if skb.len() < off + ihl {
            return;
        }
        let Some(mut iph) = IpHdr::new_checked(&mut skb.data_mut_head(off + ihl)[off..]) else { return };
        // csum_replace2(&iph->check, iph->tot_len, newlen)
        let mut check = iph.check().to_ne_bytes();
        csum_replace2(&mut check, iph.tot_len().to_be_bytes(), len.to_be_bytes());
        iph.set_tot_len(len);
        iph.set_check(Sum16::from_ne_bytes(check));
        let (proto, hdrlen) = (iph.protocol(), iph.hdrlen());
        if let Some(ops) = self.offloads.get(proto) {
            ops.gro_complete(net, skb, off + hdrlen, p);
        }
    }

    /// The IPv4 half of segmenting a GSO packet (`inet_gso_segment()`):
    /// every segment but the first got the first one's header; give each
    /// its own `tot_len`, its own IP ID (the first's plus its index, as the
    /// sending socket numbered them, unless a merged packet's segments all
    /// kept one ID under DF: `SKB_GSO_TCP_FIXEDID`) and header checksum,
    /// updated for the two fields where Linux sums the header again. The
    /// first segment's `tot_len` is its own again: GRO had made it the
    /// whole packet's. Then the transport fixes its header, for a packet
    /// GRO merged (`ops->callbacks.gso_segment`).
    fn gso_segment(&self, net: &Net, seg: &mut Skb, at: &GsoSeg) {
        let Ok(off) = usize::try_from(seg.network_offset()) else { return };
        let tot_len = (seg.len().saturating_sub(off)).min(0xffff) as u16;
        if seg.len() < off + IPHDR_LEN {
            return;
        }
        // Only the header is written: the payload may be shared.
        let Some(mut iph) = IpHdr::new_checked(&mut seg.data_mut_head(off + IPHDR_LEN)[off..]) else {
            return;
        };
        // ip_send_check() would sum the header again; it is the first
        // segment's, whose checksum is right, so only the two changed
        // fields are replaced in it (RFC 1624, `csum_replace2()`), without
        // reading back the header just copied in.
        let mut check = iph.check().to_ne_bytes();
        csum_replace2(&mut check, iph.tot_len().to_be_bytes(), tot_len.to_be_bytes());
        iph.set_tot_len(tot_len);
        if at.index != 0 && !(at.fixedid && iph.df()) {
            let id = iph.id();
            let new_id = id.wrapping_add(at.index);
            csum_replace2(&mut check, id.to_be_bytes(), new_id.to_be_bytes());
            iph.set_id(new_id);
        }
        iph.set_check(Sum16::from_ne_bytes(check));
        let proto = iph.protocol();
        if at.gso_size != 0
            && let Some(ops) = self.offloads.get(proto)
        {
            ops.gso_segment(net, seg, at);
        }
    }
}
// ANCHOR_END: inet_gro_receive

// ANCHOR: inet_gro_flush
/// Must the held packet `p` go up instead of taking the frame whose
/// header is `iph` (`inet_gro_flush()`, include/net/gro.h)? `iph2` is
/// `p`'s first header. TTL, TOS and DF must match; the IP ID must be the
/// first one's plus the segments held, unless the flow's DF segments keep
/// one fixed ID, which the second segment decides (`ip_fixedid`).
pub fn inet_gro_flush(iph: &[u8], iph2: &[u8], p: &mut GroHeld) -> bool {
    let (h, h2) = (IpHdr::new_checked(iph), IpHdr::new_checked(iph2));
    let (Some(h), Some(h2)) = (h, h2) else { return true };
    if h.ttl() != h2.ttl() || h.tos() != h2.tos() || h.df() != h2.df() {
        return true;
    }
    let ipid_offset = h.id().wrapping_sub(h2.id());
    if p.count == 1 && h.df() && ipid_offset == 0 {
        p.ip_fixedid = true;
    }
    let want = if p.ip_fixedid { 0 } else { p.count };
    ipid_offset != want
}
// ANCHOR_END: inet_gro_flush
