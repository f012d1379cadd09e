//! The receiver's SACK blocks and D-SACK: what we tell the sender about
//! the data we hold beyond a hole, and about data we got twice.
//!
//! Mirrors net/ipv4/tcp_input.c of **Linux 6.18**: `tcp_sack_extend()`,
//! `tcp_dsack_set()`, `tcp_dsack_extend()`, `tcp_sack_maybe_coalesce()`,
//! `tcp_sack_new_ofo_skb()`, `tcp_sack_remove()`.
//!
//! Heads up: read RFC 2018 §4 ("Generating Sack Options: Data Receiver
//! Behavior": the first block reports the most recently received segment,
//! later blocks repeat the most recently reported ones) and RFC 2883 §4
//! (a D-SACK block goes first, once, and covers the duplicate that
//! arrived) first.
//!
//! The blocks live in `TcpSk::selective_acks[..rx_opt.num_sacks]`, most
//! recent first, at most [`TCP_NUM_SACKS`] of them; the D-SACK block in
//! `TcpSk::duplicate_sack[0]` while `rx_opt.dsack` is set.
//! `tcp_established_options()` (tcp_output.rs) writes the D-SACK block and
//! then as many of the others as fit in the option space (three beside a
//! timestamp, four without), and clears `rx_opt.dsack` once it has gone.
//!
//! # Where we differ
//!
//! - Linux sends a compressed SACK at once
//!   (`tcp_sack_compress_send_ack()`) when a block beyond the
//!   [`TCP_SACK_BLOCKS_EXPECTED`] first ones changes; we leave it to the
//!   compressed-ACK timer (`tcp_ack_snd_check`), at most 1 ms later.

use net_core::Net;
use net_core::snmp::LinuxMib;

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcphdr::{TCP_NUM_SACKS, TcpSackBlock};

/// `TCP_SACK_BLOCKS_EXPECTED`: how many blocks a sender is expected to
/// use; a change beyond them flushes a compressed SACK in Linux.
pub const TCP_SACK_BLOCKS_EXPECTED: usize = 2;

/// `tcp_is_sack()`: the peer and we agreed on SACK (`rx_opt.sack_ok`).
pub fn tcp_is_sack(tp: &TcpSk) -> bool {
    tp.rx_opt.sack_ok
}

// ANCHOR: tcp_sack_extend
/// Mirrors `tcp_sack_extend()` (net/ipv4/tcp_input.c): if `seq..end_seq`
/// touches or overlaps `sp`, widen `sp` to cover both and say so;
/// otherwise leave it.
pub fn tcp_sack_extend(sp: &mut TcpSackBlock, seq: u32, end_seq: u32) -> bool {
    if !after(seq, sp.end_seq) && !after(sp.start_seq, end_seq) {
        if before(seq, sp.start_seq) {
            sp.start_seq = seq;
        }
        if after(end_seq, sp.end_seq) {
            sp.end_seq = end_seq;
        }
        return true;
    }
    false
}
// ANCHOR_END: tcp_sack_extend

// ANCHOR: tcp_dsack_set
/// Mirrors `tcp_dsack_set()` (net/ipv4/tcp_input.c): report
/// `seq..end_seq` as received twice in the next segment's first SACK
/// block (RFC 2883) — only with SACK agreed and `tcp_dsack` on. Counts
/// `TCPDSACKOldSent` for a duplicate below `rcv_nxt`, `TCPDSACKOfoSent`
/// for one beyond it. A D-SACK block not yet sent is replaced.
pub fn tcp_dsack_set(net: &Net, tn: &TcpNet, tp: &mut TcpSk, seq: u32, end_seq: u32) {
    if !tcp_is_sack(tp) || tn.sysctl.tcp_dsack.get() == 0 {
        return;
    }
    if before(seq, tp.rcv_nxt) {
        net.mib.inc(LinuxMib::TCPDSACKOldSent);
    } else {
        net.mib.inc(LinuxMib::TCPDSACKOfoSent);
    }
    tp.rx_opt.dsack = true;
    tp.duplicate_sack[0] = TcpSackBlock { start_seq: seq, end_seq };
}

/// Mirrors `tcp_dsack_extend()` (net/ipv4/tcp_input.c): start a D-SACK
/// block, or widen the pending one if `seq..end_seq` touches it (a range
/// that does not touch it is not reported: one block per segment).
pub fn tcp_dsack_extend(net: &Net, tn: &TcpNet, tp: &mut TcpSk, seq: u32, end_seq: u32) {
    if !tp.rx_opt.dsack {
        tcp_dsack_set(net, tn, tp, seq, end_seq);
    } else {
        tcp_sack_extend(&mut tp.duplicate_sack[0], seq, end_seq);
    }
}
// ANCHOR_END: tcp_dsack_set

// ANCHOR: tcp_sack_new_ofo_skb
/// Mirrors `tcp_sack_maybe_coalesce()` (net/ipv4/tcp_input.c): the first
/// block just grew; fold into it every other block it now touches, closing
/// the gaps they leave in the array.
pub fn tcp_sack_maybe_coalesce(tp: &mut TcpSk) {
    let mut num = usize::from(tp.rx_opt.num_sacks).min(TCP_NUM_SACKS);
    let mut this = 1;
    while this < num {
        let other = tp.selective_acks[this];
        if tcp_sack_extend(&mut tp.selective_acks[0], other.start_seq, other.end_seq) {
            tp.selective_acks.copy_within(this + 1..num, this);
            num -= 1;
            continue;
        }
        this += 1;
    }
    tp.rx_opt.num_sacks = num as u8;
}

/// Mirrors `tcp_sack_new_ofo_skb()` (net/ipv4/tcp_input.c): out-of-order
/// data `seq..end_seq` was queued. The block it extends moves to the front
/// (RFC 2018: the first block reports the most recent segment) and
/// swallows any block it now reaches; if it extends none, a new block goes
/// in front and, with all [`TCP_NUM_SACKS`] in use, the oldest is
/// forgotten.
pub fn tcp_sack_new_ofo_skb(tp: &mut TcpSk, seq: u32, end_seq: u32) {
    let cur = usize::from(tp.rx_opt.num_sacks).min(TCP_NUM_SACKS);
    for this in 0..cur {
        if tcp_sack_extend(&mut tp.selective_acks[this], seq, end_seq) {
            // Rotate the grown block to the front.
            tp.selective_acks[..=this].rotate_right(1);
            if cur > 1 {
                tcp_sack_maybe_coalesce(tp);
            }
            return;
        }
    }
    let kept = cur.min(TCP_NUM_SACKS - 1);
    tp.selective_acks.copy_within(0..kept, 1);
    tp.selective_acks[0] = TcpSackBlock { start_seq: seq, end_seq };
    tp.rx_opt.num_sacks = (kept + 1) as u8;
}
// ANCHOR_END: tcp_sack_new_ofo_skb

// ANCHOR: tcp_sack_remove
/// Mirrors `tcp_sack_remove()` (net/ipv4/tcp_input.c): `rcv_nxt` advanced,
/// so blocks it reached are no longer out of order and go; with the
/// out-of-order queue empty, all go. The others keep their order.
pub fn tcp_sack_remove(tp: &mut TcpSk) {
    if tp.out_of_order_queue.is_empty() {
        tp.rx_opt.num_sacks = 0;
        return;
    }
    let mut num = usize::from(tp.rx_opt.num_sacks).min(TCP_NUM_SACKS);
    let mut this = 0;
    while this < num {
        if !before(tp.rcv_nxt, tp.selective_acks[this].start_seq) {
            tp.selective_acks.copy_within(this + 1..num, this);
            num -= 1;
            continue;
        }
        this += 1;
    }
    tp.rx_opt.num_sacks = num as u8;
}
// ANCHOR_END: tcp_sack_remove

#[cfg(test)]
mod tests {
    use super::*;
    use intrusive_collections::RBTreeAtomicLink;

    use net_core::{Clock, Net};

    fn blk(start_seq: u32, end_seq: u32) -> TcpSackBlock {
        TcpSackBlock { start_seq, end_seq }
    }

    fn blocks(tp: &TcpSk) -> Vec<(u32, u32)> {
        tp.selective_acks[..usize::from(tp.rx_opt.num_sacks)]
            .iter()
            .map(|b| (b.start_seq, b.end_seq))
            .collect()
    }

    fn with_tp(f: impl FnOnce(&mut TcpSk)) {
        let net = Net::new("sack", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 1 << 20, 1 << 20);
        let mut tp = sk.lock.lock();
        f(&mut tp);
    }

    #[test]
    fn extend_joins_touching_and_overlapping_ranges_only() {
        let mut b = blk(100, 200);
        assert!(tcp_sack_extend(&mut b, 200, 300));
        assert_eq!((b.start_seq, b.end_seq), (100, 300));
        assert!(tcp_sack_extend(&mut b, 50, 120));
        assert_eq!((b.start_seq, b.end_seq), (50, 300));
        assert!(!tcp_sack_extend(&mut b, 301, 400));
        assert_eq!((b.start_seq, b.end_seq), (50, 300));
        // Across the wrap of sequence space.
        let mut w = blk(u32::MAX - 9, 10);
        assert!(tcp_sack_extend(&mut w, 10, 20));
        assert_eq!((w.start_seq, w.end_seq), (u32::MAX - 9, 20));
    }

    #[test]
    fn new_blocks_go_first_and_the_oldest_falls_off_after_four() {
        with_tp(|tp| {
            for i in 0..5u32 {
                tcp_sack_new_ofo_skb(tp, 1000 * (i + 1), 1000 * (i + 1) + 100);
            }
            assert_eq!(blocks(tp), vec![(5000, 5100), (4000, 4100), (3000, 3100), (2000, 2100)]);
        });
    }

    #[test]
    fn an_extended_block_moves_to_the_front_and_swallows_what_it_reaches() {
        with_tp(|tp| {
            tcp_sack_new_ofo_skb(tp, 100, 200);
            tcp_sack_new_ofo_skb(tp, 300, 400);
            tcp_sack_new_ofo_skb(tp, 500, 600);
            // Extends the oldest block (100..200): it moves to the front.
            tcp_sack_new_ofo_skb(tp, 200, 250);
            assert_eq!(blocks(tp), vec![(100, 250), (500, 600), (300, 400)]);
            // Fills 250..300: the front block reaches 300..400 and takes it in.
            tcp_sack_new_ofo_skb(tp, 250, 300);
            assert_eq!(blocks(tp), vec![(100, 400), (500, 600)]);
        });
    }

    #[test]
    fn remove_drops_the_blocks_rcv_nxt_reached_and_keeps_the_order_of_the_rest() {
        with_tp(|tp| {
            tcp_sack_new_ofo_skb(tp, 500, 600);
            tcp_sack_new_ofo_skb(tp, 100, 200);
            tcp_sack_new_ofo_skb(tp, 300, 400);
            tp.out_of_order_queue.front_mut().insert_after(Box::new(OfoNode {
                link: RBTreeAtomicLink::new(),
                seq: 500,
                end_seq: 600,
                skb: net_core::skbuff::alloc_skb(0),
            }));
            tp.rcv_nxt = 200;
            tcp_sack_remove(tp);
            assert_eq!(blocks(tp), vec![(300, 400), (500, 600)]);
            // With the out-of-order queue empty every block goes.
            tp.out_of_order_queue.fast_clear();
            tcp_sack_remove(tp);
            assert_eq!(blocks(tp), vec![]);
        });
    }
}
