//! Making room in a full receive buffer by copying data out of bloated
//! skbs: the receive-queue half of `tcp_prune_queue()`.
//!
//! Mirrors net/ipv4/tcp_input.c of **Linux 6.18**: `tcp_collapse()` on
//! `sk_receive_queue` and the `rcv_ssthresh` part of `tcp_clamp_window()`.
//!
//! The receive window is offered from `scaling_ratio`, the payload share
//! of the buffer one segment measured (`tcp_measure_rcv_mss()`). Segments
//! that cost more than that — short ones, retransmissions cut
//! differently — fill `sk_rmem_alloc` (which charges `truesize`) before
//! the window the peer was given is used up. Linux then copies the queued
//! payload into tightly packed skbs, which gives back the difference, so
//! data the window allowed still finds room; only when that is not enough
//! does it drop out-of-order data (`tcp_prune_ofo_queue()`) and, last, the
//! segment (`RcvPruned`).
//!
//! # Where we differ
//!
//! - Linux collapses only the run of skbs from the first bloated one (or
//!   one with data before `copied_seq`) and leaves well-packed skbs in
//!   front of it alone; we repack the whole queue, which is the same
//!   result when every skb is bloated — with one frame per skb, as here,
//!   they are.
//! - `tcp_collapse_ofo_queue()` collapses a run of touching out-of-order
//!   skbs only when the run is large (a quarter of the buffer, or more
//!   than a segment's worth of truesize); we repack every run, as we do
//!   the receive queue. A segment carrying FIN is left as it is and ends
//!   its run, as in Linux.

use intrusive_collections::RBTreeAtomicLink;
use net_core::Skb;
use net_core::skbuff::{SkBuffHead, alloc_skb};

use crate::sock::*;
use crate::tcp_output::tcp_win_from_space;
use crate::tcphdr::TCPHDR_FIN;

/// `SKB_MAX_ORDER(0, 0)`: the payload one page holds once its
/// `skb_shared_info` is taken off (4096 − 320 on x86-64), the size of the
/// skbs `tcp_collapse()` copies into.
pub const TCP_COLLAPSE_CHUNK: usize = 4096 - 320;

// ANCHOR: tcp_collapse
/// Mirrors `tcp_collapse()` (net/ipv4/tcp_input.c) on the receive queue:
/// if some queued skb holds less payload than its `truesize` is worth
/// (`tcp_win_from_space(truesize) > len`) or data already read, copy the
/// unread bytes (`copied_seq..rcv_nxt`) into skbs of at most
/// [`TCP_COLLAPSE_CHUNK`] bytes — each sized to what is left to copy, as
/// `tcp_collapse()` sizes its `alloc_skb(copy)` — in order, and charge
/// those instead. Returns the bytes of `sk_rmem_alloc` given back.
pub fn tcp_collapse_receive_queue(tp: &mut TcpSk) -> u32 {
    let bloated = tp.sk_receive_queue.iter().any(|skb| {
        tcp_win_from_space(tp, i64::from(skb.truesize)) > skb.len() as i64
            || before(TCP_SKB_CB(skb).seq, tp.copied_seq)
    });
    if !bloated {
        return 0;
    }
    let before_alloc = tp.sk_rmem_alloc;
    // The unread bytes, so the last skb is no bigger than its share.
    let mut left: usize = tp
        .sk_receive_queue
        .iter()
        .map(|skb| {
            let start = TCP_SKB_CB(skb).seq;
            if before(start, tp.copied_seq) {
                skb.len().saturating_sub(tp.copied_seq.wrapping_sub(start) as usize)
            } else {
                skb.len()
            }
        })
        .sum();
    let mut out = SkBuffHead::new();
    let mut cur: Option<(Skb, usize)> = None;
    let mut seq = tp.copied_seq;
    while let Some(skb) = tp.sk_receive_queue.dequeue() {
        tp.sk_rmem_alloc = tp.sk_rmem_alloc.saturating_sub(skb.truesize);
        let start = TCP_SKB_CB(&skb).seq;
        let skip = seq.wrapping_sub(start) as usize;
        if before(start, seq) && skip >= skb.len() {
            continue; // all read already
        }
        let mut data = if before(start, seq) { &skb.data()[skip..] } else { skb.data() };
        while !data.is_empty() {
            if cur.as_ref().is_none_or(|(c, size)| c.len() == *size) {
                if let Some((done, _)) = cur.take() {
                    tp.sk_rmem_alloc += done.truesize;
                    out.queue_tail(done);
                }
                let size = left.clamp(1, TCP_COLLAPSE_CHUNK);
                let mut n = alloc_skb(size);
                let cb = TCP_SKB_CB_mut(&mut n);
                cb.seq = seq;
                cb.end_seq = seq;
                cur = Some((n, size));
            }
            let Some((c, size)) = cur.as_mut() else { break };
            let n = data.len().min(*size - c.len());
            left = left.saturating_sub(n);
            c.put_data(&data[..n]);
            TCP_SKB_CB_mut(c).end_seq = TCP_SKB_CB(c).end_seq.wrapping_add(n as u32);
            seq = seq.wrapping_add(n as u32);
            data = &data[n..];
        }
    }
    if let Some((done, _)) = cur.take() {
        tp.sk_rmem_alloc += done.truesize;
        out.queue_tail(done);
    }
    tp.sk_receive_queue = out;
    before_alloc.saturating_sub(tp.sk_rmem_alloc)
}
// ANCHOR_END: tcp_collapse

// ANCHOR: tcp_collapse_ofo_queue
/// Mirrors `tcp_collapse_ofo_queue()` (net/ipv4/tcp_input.c): repack each
/// run of touching or overlapping out-of-order segments into skbs of at
/// most [`TCP_COLLAPSE_CHUNK`] bytes (overlaps copied once), if some
/// segment is bloated. The sequence ranges — and so the SACK blocks — do
/// not change. Returns the bytes of `sk_rmem_alloc` given back.
///
/// Two rules keep a collapse from *costing* memory, as in Linux: a run
/// that is one skb holding less than a page is left alone ("Do not
/// attempt collapsing tiny skbs": `range_truesize != head->truesize ||
/// end - start >= SKB_WITH_OVERHEAD(PAGE_SIZE)`), and each new skb is
/// sized to what is left of its run, `min(SKB_MAX_ORDER(0, 0), end -
/// start)` (`tcp_collapse()`'s `alloc_skb(copy)`). Without them every
/// lone tiny segment of an out-of-order flood became a page-sized skb,
/// and the collapse that was to make room pushed `sk_rmem_alloc` past
/// `sk_rcvbuf` instead.
pub fn tcp_collapse_ofo_queue(tp: &mut TcpSk) -> u32 {
    let bloated = tp
        .out_of_order_queue
        .iter()
        .any(|n| tcp_win_from_space(tp, i64::from(n.skb.truesize)) > n.skb.len() as i64);
    if !bloated {
        return 0;
    }
    let before_alloc = tp.sk_rmem_alloc;
    // Split the queue into runs: touching or overlapping segments; a
    // segment carrying FIN is a run of its own and ends the one before.
    let mut runs: Vec<(Vec<Box<OfoNode>>, u32)> = Vec::new();
    let mut open = false;
    while let Some(n) = tp.out_of_order_queue.front_mut().remove() {
        tp.sk_rmem_alloc = tp.sk_rmem_alloc.saturating_sub(n.skb.truesize);
        let fin = TCP_SKB_CB(&n.skb).tcp_flags & TCPHDR_FIN != 0;
        match runs.last_mut() {
            Some((run, end)) if open && !fin && !after(n.seq, *end) => {
                if after(n.end_seq, *end) {
                    *end = n.end_seq;
                }
                run.push(n);
            }
            _ => {
                let end = n.end_seq;
                runs.push((vec![n], end));
                open = !fin;
            }
        }
    }
    let mut out: Vec<Box<OfoNode>> = Vec::new();
    for (run, end) in runs {
        let start = run[0].seq;
        let fin = TCP_SKB_CB(&run[0].skb).tcp_flags & TCPHDR_FIN != 0;
        if fin || (run.len() == 1 && (end.wrapping_sub(start) as usize) < TCP_COLLAPSE_CHUNK) {
            out.extend(run);
            continue;
        }
        // The chunk being filled and its size.
        let mut cur: Option<(Box<OfoNode>, usize)> = None;
        let mut seq = start; // the next byte to copy
        for n in run {
            if !after(n.end_seq, seq) {
                continue; // nothing new in it
            }
            let skip = seq.wrapping_sub(n.seq) as usize;
            let mut data = &n.skb.data()[skip.min(n.skb.len())..];
            while !data.is_empty() {
                if cur.as_ref().is_none_or(|(c, size)| c.skb.len() == *size) {
                    if let Some((c, _)) = cur.take() {
                        out.push(c);
                    }
                    let size = (end.wrapping_sub(seq) as usize).min(TCP_COLLAPSE_CHUNK);
                    let mut skb = alloc_skb(size);
                    let cb = TCP_SKB_CB_mut(&mut skb);
                    cb.seq = seq;
                    cb.end_seq = seq;
                    let node = OfoNode { link: RBTreeAtomicLink::new(), seq, end_seq: seq, skb };
                    cur = Some((Box::new(node), size));
                }
                let Some((c, size)) = cur.as_mut() else { break };
                let k = data.len().min(*size - c.skb.len());
                c.skb.put_data(&data[..k]);
                c.end_seq = c.end_seq.wrapping_add(k as u32);
                TCP_SKB_CB_mut(&mut c.skb).end_seq = c.end_seq;
                seq = seq.wrapping_add(k as u32);
                data = &data[k..];
            }
        }
        if let Some((c, _)) = cur.take() {
            out.push(c);
        }
    }
    let mut cursor = tp.out_of_order_queue.back_mut();
    for n in out {
        tp.sk_rmem_alloc += n.skb.truesize;
        cursor.insert_after(n);
        cursor.move_next();
    }
    before_alloc.saturating_sub(tp.sk_rmem_alloc)
}
// ANCHOR_END: tcp_collapse_ofo_queue

/// The `rcv_ssthresh` half of `tcp_clamp_window()` (net/ipv4/tcp_input.c):
/// with the buffer overfull, stop offering more than two segments beyond
/// what was offered, until the reader catches up. (Linux also raises
/// `sk_rcvbuf` up to `sk_rmem_alloc` when it may; we leave the buffer.)
pub fn tcp_clamp_window(tp: &mut TcpSk) {
    tp.icsk_ack.quick = 0;
    if tp.sk_rmem_alloc > tp.sk_rcvbuf {
        tp.rcv_ssthresh = tp.window_clamp.min(2 * u32::from(tp.advmss));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::{Clock, Net};

    /// Append `len` bytes at `seq` (byte `j` is `seq + j`, truncated) to
    /// the out-of-order queue, in an skb of `alloc` bytes, and charge its
    /// truesize to `sk_rmem_alloc`.
    fn ofo_insert(tp: &mut TcpSk, seq: u32, len: usize, alloc: usize) {
        let mut skb = alloc_skb(alloc);
        let bytes: Vec<u8> = (0..len).map(|j| (seq as usize + j) as u8).collect();
        skb.put_data(&bytes);
        tp.sk_rmem_alloc += skb.truesize;
        let end_seq = seq + len as u32;
        let mut c = tp.out_of_order_queue.back_mut();
        c.insert_after(Box::new(OfoNode { link: RBTreeAtomicLink::new(), seq, end_seq, skb }));
    }

    #[test]
    fn repacking_keeps_the_unread_bytes_in_order_and_gives_memory_back() {
        let net = Net::new("collapse", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 1 << 20, 1 << 20);
        let mut tp = sk.lock.lock();
        let mut seq = 1000u32;
        let mut want = Vec::new();
        for i in 0..10u8 {
            // 100-byte segments in 2 KiB buffers: badly bloated.
            let mut skb = alloc_skb(2048);
            let bytes: Vec<u8> = (0..100).map(|j| i.wrapping_mul(7).wrapping_add(j)).collect();
            skb.put_data(&bytes);
            want.extend_from_slice(&bytes);
            TCP_SKB_CB_mut(&mut skb).seq = seq;
            seq += 100;
            tp.sk_rmem_alloc += skb.truesize;
            tp.sk_receive_queue.queue_tail(skb);
        }
        // The reader has taken 50 bytes of the first segment.
        tp.copied_seq = 1050;
        let was = tp.sk_rmem_alloc;
        let freed = tcp_collapse_receive_queue(&mut tp);
        assert!(freed > 0 && tp.sk_rmem_alloc + freed == was);
        let got: Vec<u8> = tp.sk_receive_queue.iter().flat_map(|s| s.data().to_vec()).collect();
        assert_eq!(got, want[50..]);
        let first = tp.sk_receive_queue.peek().expect("one skb");
        assert_eq!(TCP_SKB_CB(first).seq, 1050);
        assert_eq!(TCP_SKB_CB(first).end_seq, 2000);
        // Packed: nothing left to gain.
        assert_eq!(tcp_collapse_receive_queue(&mut tp), 0);
    }

    #[test]
    fn ofo_runs_are_repacked_with_their_ranges_kept() {
        let net = Net::new("collapse", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 1 << 20, 1 << 20);
        let mut tp = sk.lock.lock();
        // Two runs: 1000..1300 (with an overlap) and 2000..2100.
        for (seq, len) in [(1000u32, 100usize), (1100, 100), (1150, 150), (2000, 100)] {
            ofo_insert(&mut tp, seq, len, 2048);
        }
        let was = tp.sk_rmem_alloc;
        let freed = tcp_collapse_ofo_queue(&mut tp);
        assert!(freed > 0 && tp.sk_rmem_alloc + freed == was);
        let runs: Vec<(u32, u32)> = tp.out_of_order_queue.iter().map(|n| (n.seq, n.end_seq)).collect();
        assert_eq!(runs, vec![(1000, 1300), (2000, 2100)]);
        let first = tp.out_of_order_queue.front().get().expect("a run");
        let want: Vec<u8> = (0..300usize).map(|j| (1000 + j) as u8).collect();
        assert_eq!(first.skb.data(), &want[..]);
    }

    /// Regression: scattered tiny out-of-order segments (an out-of-order
    /// flood's) each make a run of their own. Collapsing used to copy each
    /// into a page-sized skb, so the collapse meant to make room raised
    /// `sk_rmem_alloc` (past `sk_rcvbuf`, in net-tcp/tests/floods.rs).
    /// Linux leaves a lone tiny skb alone and sizes each copy to its run.
    #[test]
    fn collapse_never_costs_memory_with_tiny_scattered_segments() {
        let net = Net::new("collapse", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 1 << 20, 1 << 20);
        let mut tp = sk.lock.lock();
        // 20 lone 10-byte segments 100 apart, then one run of three.
        let mut segs: Vec<(u32, usize)> = (0..20).map(|i| (1000 + 100 * i, 10)).collect();
        segs.extend([(5000, 40), (5040, 40), (5080, 40)]);
        for (seq, len) in segs {
            ofo_insert(&mut tp, seq, len, 512); // bloated: 10 bytes in 512
        }
        let was = tp.sk_rmem_alloc;
        let freed = tcp_collapse_ofo_queue(&mut tp);
        assert!(
            tp.sk_rmem_alloc <= was,
            "collapsing raised sk_rmem_alloc from {was} to {}",
            tp.sk_rmem_alloc
        );
        assert_eq!(tp.sk_rmem_alloc + freed, was);
        let ranges: Vec<(u32, u32)> = tp.out_of_order_queue.iter().map(|n| (n.seq, n.end_seq)).collect();
        let mut want: Vec<(u32, u32)> = (0..20).map(|i| (1000 + 100 * i, 1010 + 100 * i)).collect();
        want.push((5000, 5120));
        assert_eq!(ranges, want, "the lone segments kept, the run of three made one");
        let run = tp.out_of_order_queue.back().get().expect("the run");
        assert!(run.skb.truesize < 512, "sized to its 120 bytes, not a page: {}", run.skb.truesize);
        let want: Vec<u8> = (0..120usize).map(|j| (5000 + j) as u8).collect();
        assert_eq!(run.skb.data(), &want[..]);
    }
}
