//! TCP's part of GRO: which segments may become one.
//!
//! Mirrors the GRO half of net/ipv4/tcp_offload.c, Linux 6.18:
//! `tcp4_gro_receive()` (validate the checksum), `tcp_gro_lookup()` (the
//! held packet with the same ports), `tcp_gro_receive()` (merge or not,
//! flush or not) and `tcp4_gro_complete()`, registered as
//! `tcpv4_offload` in `inet_offloads[IPPROTO_TCP]`
//! (`tcpv4_offload_init()`). The generic half is `net_core::gro`, IPv4's
//! is `net_ipv4::inet_offload`.
//!
//! A segment joins its flow's held packet only when it is exactly what
//! the sender's next segment would be: the next sequence number, the same
//! ACK number, window, flags (but CWR, FIN and PSH) and option bytes (so
//! the same timestamp), the same TTL, TOS and DF, the next IP ID, and no
//! more payload than the first segment had (its `gso_size`). A segment
//! shorter than that, or carrying PSH, FIN, URG, RST or SYN, is merged if
//! it can be and then sends the packet up; a pure ACK never waits.
//!
//! Where we differ: the segment's checksum is validated here in software
//! (Linux mostly finds `CHECKSUM_COMPLETE` from the NIC); the payload's
//! sum is kept, so the merged packet gets a correct checksum for free
//! ([`net_core::gro`] says more).

use std::sync::Arc;

use net_core::checksum::{Sum16, Wsum, csum_add, csum_partial, csum_partial_short};
use net_core::gro::{GroCb, GroHeld, GsoSeg, OffloadCallbacks, skb_gro_receive};
use net_core::{Net, Skb};
use net_ipv4::inet_offload::inet_gro_flush;
use net_ipv4::ip::{IPHDR_LEN, IpHdr};

use crate::tcp_input::{TCP_FLAG_CWR, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_FLAG_URG};
use crate::tcphdr::{TCPHDR_CWR, TCPHDR_FIN, TCPHDR_PSH, TcpHdr, tcp_v4_check};

/// `tcpv4_offload`.
pub struct Tcpv4Offload;

/// Register `tcpv4_offload` in `inet_offloads[IPPROTO_TCP]`
/// (`tcpv4_offload_init()`).
pub fn tcpv4_offload_init(ipv4: &net_ipv4::Ipv4) {
    ipv4.offloads.inet_add_offload(Arc::new(Tcpv4Offload), net_ipv4::ip::IPPROTO_TCP);
}

// ANCHOR: tcp_gro_receive
impl OffloadCallbacks for Tcpv4Offload {
    /// `tcp4_gro_receive()` → `tcp_gro_receive()`.
    fn gro_receive(
        &self,
        _net: &Net,
        held: &mut [GroHeld],
        skb: &mut Option<Skb>,
        cb: &mut GroCb,
    ) -> Option<usize> {
        net_core::ftrace_graph!("tcp4_gro_receive");
        let s = skb.as_ref()?;
        let d = s.data();
        // tcp_gro_pull_header(): the whole TCP header, or go up alone.
        let (Some(iph), Some(th)) = (IpHdr::new_checked(d), d.get(cb.offset..).and_then(TcpHdr::new_checked))
        else {
            cb.flush = true;
            return None;
        };
        let thlen = th.hdrlen();
        // Don't bother verifying the checksum if it goes up alone anyway.
        if !cb.flush {
            let seg = &d[cb.offset..];
            let payload = csum_partial(th.payload(), Wsum::ZERO);
            let hdr = csum_partial_short(&seg[..thlen], Wsum::ZERO);
            if tcp_v4_check(seg.len() as u16, iph.saddr(), iph.daddr(), csum_add(hdr, payload)) != Sum16::ZERO
            {
                cb.flush = true; // tcp_v4_rcv() counts it and drops it
                return None;
            }
            cb.payload_csum = payload;
            cb.csum_valid = true;
        }
        let len = th.payload().len(); // skb_gro_len() once the header is pulled
        cb.offset += thlen; // skb_gro_pull()
        let flags = th.tcp_flag_word();

        // tcp_gro_lookup(): the held packet with the same ports.
        let mut found = None;
        for (i, p) in held.iter_mut().enumerate().filter(|(_, p)| p.same_flow) {
            let th2 = p.skb.data().get(IPHDR_LEN..).and_then(TcpHdr::new_checked);
            if th2.is_none_or(|t| (t.source(), t.dest()) != (th.source(), th.dest())) {
                p.same_flow = false;
                continue;
            }
            found = Some(i);
            break;
        }
        let mut mss = 1usize;
        if let Some(i) = found {
            let p = &mut held[i];
            // Compare against the held packet's first headers; what
            // `inet_gro_flush()` needs is copied out, so `p` can change.
            let (mut flush, iph2, seq2) = {
                let d2 = p.skb.data();
                let th2 = d2
                    .get(IPHDR_LEN..)
                    .and_then(TcpHdr::new_checked)
                    .expect("a held segment's header was checked when it was held");
                let flags2 = th2.tcp_flag_word();
                let mut flush = flags & TCP_FLAG_CWR != 0;
                flush |= (flags ^ flags2) & !(TCP_FLAG_CWR | TCP_FLAG_FIN | TCP_FLAG_PSH) != 0;
                flush |= th.ack_seq() != th2.ack_seq();
                // The same doff (it is in the flag word), so the same option
                // length: every option byte must match. Compared a 32-bit
                // word at a time, as Linux's loop does (options come in
                // whole words).
                flush |= !same_option_words(th.options(), th2.options());
                let iph2: [u8; IPHDR_LEN] =
                    d2[..IPHDR_LEN].try_into().expect("a 20-byte header, checked above");
                (flush, iph2, th2.seq())
            };
            flush |= inet_gro_flush(&d[..IPHDR_LEN], &iph2, p);
            mss = usize::from(p.gso_size);
            flush |= len.wrapping_sub(1) >= mss;
            flush |= seq2.wrapping_add(p.gro_len as u32) != th.seq();
            if flush || skb_gro_receive(p, skb, cb).is_err() {
                mss = 1;
            } else {
                p.flags_or |= flags & (TCP_FLAG_FIN | TCP_FLAG_PSH);
            }
        }
        // out_check_final: a short segment or one of these flags ends it.
        let mut flush = len < mss;
        flush |= flags & (TCP_FLAG_URG | TCP_FLAG_PSH | TCP_FLAG_RST | TCP_FLAG_SYN | TCP_FLAG_FIN) != 0;
        cb.flush |= flush;
        found.filter(|_| !cb.same_flow || flush)
    }

    /// `tcp4_gro_complete()`: the merged header carries the merged FIN and
    /// PSH, and a checksum over the whole segment, added up from the
    /// header's sum and the payload sums GRO kept.
    fn gro_complete(&self, _net: &Net, skb: &mut Skb, off: usize, p: &GroHeld) {
        // The whole segment's length counts the payloads on the frag list;
        // only the header is written.
        let seg_len = skb.len() + skb.frag_list_len() - off;
        let Some((saddr, daddr)) = IpHdr::new_checked(skb.data()).map(|h| (h.saddr(), h.daddr())) else {
            return;
        };
        let Some(thlen) = TcpHdr::new_checked(&skb.data()[off..]).map(|th| th.hdrlen()) else { return };
        let d = skb.data_mut_head(off + thlen);
        let Some(mut th) = TcpHdr::new_checked(&mut d[off..]) else { return };
        let thlen = th.hdrlen();
        th.set_flags(th.flags() | (p.flags_or >> 16) as u8);
        th.set_check(Sum16::ZERO);
        let hdr = csum_partial(&th.into_inner()[..thlen], Wsum::ZERO);
        let check = tcp_v4_check(seg_len as u16, saddr, daddr, csum_add(hdr, p.payload_csum));
        if let Some(mut th) = TcpHdr::new_checked(&mut d[off..]) {
            th.set_check(check);
        }
    }

    /// `tcp_gso_segment()` for one segment of a packet GRO merged, which a
    /// router now sends on: every segment got the first one's TCP header
    /// (and the first kept the flags GRO merged into it), so each takes
    /// its own sequence number (the first's plus `index × gso_size`), CWR
    /// on the first only, FIN and PSH on the last only, and a checksum
    /// over its own bytes.
    fn gso_segment(&self, _net: &Net, seg: &mut Skb, at: &GsoSeg) {
        net_core::ftrace_graph!("tcp4_gso_segment");
        let (Ok(nh), Ok(off)) =
            (usize::try_from(seg.network_offset()), usize::try_from(seg.transport_offset()))
        else {
            return;
        };
        let Some((saddr, daddr)) =
            seg.data().get(nh..).and_then(IpHdr::new_checked).map(|h| (h.saddr(), h.daddr()))
        else {
            return;
        };
        let Some(thlen) = seg.data().get(off..).and_then(TcpHdr::new_checked).map(|th| th.hdrlen()) else {
            return;
        };
        let payload_len = seg.len() - off - thlen;
        let payload_sum = csum_partial(&seg.data()[off + thlen..], Wsum::ZERO);
        // Only the header is written: the payload may be shared.
        let d = seg.data_mut_head(off + thlen);
        let Some(mut th) = TcpHdr::new_checked(&mut d[off..]) else { return };
        th.set_seq(th.seq().wrapping_add(u32::from(at.index) * u32::from(at.gso_size)));
        let mut flags = th.flags();
        if at.index > 0 {
            flags &= !TCPHDR_CWR;
        }
        if !at.last {
            flags &= !(TCPHDR_FIN | TCPHDR_PSH);
        }
        th.set_flags(flags);
        th.fill_checksum_split(saddr, daddr, payload_len, payload_sum);
    }
}
// ANCHOR_END: tcp_gro_receive

/// Two option areas of the same length hold the same bytes, compared a
/// 32-bit word at a time (`tcp_gro_receive()`'s loop). Written as a plain
/// index loop: the zipped `chunks_exact` iterators it replaced were not
/// inlined, and building them cost 2 % of a bulk transfer's time.
fn same_option_words(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| u32::from_ne_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    let mut i = 0;
    while i + 4 <= a.len() {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 4;
    }
    a[i..].iter().zip(&b[i..]).all(|(x, y)| x == y)
}
