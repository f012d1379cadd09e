//! The sender's SACK scoreboard: what the peer says it holds.
//!
//! Mirrors the SACK half of net/ipv4/tcp_input.c of **Linux 6.18**:
//! `tcp_sacktag_write_queue()`, `tcp_is_sackblock_valid()`,
//! `tcp_check_dsack()`, `tcp_sacktag_one()`, `tcp_check_sack_reordering()`,
//! `tcp_highest_sack_seq()`.
//!
//! Heads up: read RFC 2018 (the SACK option), RFC 2883 (D-SACK) and RFC
//! 6675 §2–4 (the scoreboard, `IsLost()`) first.
//!
//! Each skb on `tcp_rtx_queue` carries `TCP_SKB_CB(skb)->sacked`, and the
//! socket keeps counts that must always agree with those bits:
//!
//! | bit | count | meaning |
//! |---|---|---|
//! | `TCPCB_SACKED_ACKED` | `sacked_out` | the peer holds it |
//! | `TCPCB_LOST` | `lost_out` | deemed lost, to be retransmitted |
//! | `TCPCB_SACKED_RETRANS` | `retrans_out` | a retransmission is in flight |
//!
//! so `tcp_packets_in_flight()` = `packets_out − (sacked_out + lost_out) +
//! retrans_out`. An skb is never both SACKED_ACKED and LOST.
//!
//! # Where we differ
//!
//! - The retransmit queue is a ring in sequence order, not an rbtree, and
//!   each skb is one segment (no TSO), so there is no `tcp_shift_skb_data()`
//!   (TCPSackShifted/TCPSackMerged) and no `tcp_match_skb_to_sack()`
//!   splitting: like Linux for a one-segment skb, a block tags an skb only
//!   when it covers it whole. We walk the ring once per block instead of
//!   Linux's cached-block skipping, so there is no `recv_sack_cache`.
//! - No `first_sackt` RTT samples from SACKed skbs.

use net_core::Net;
use net_core::snmp::LinuxMib;

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcphdr::{TCP_NUM_SACKS, TcpSackBlock};

use super::fastretrans::{FLAG_DATA_SACKED, FLAG_DSACKING_ACK, FLAG_ORIG_SACK_ACKED};

/// `TCPCB_RETRANS`: retransmitted now or ever.
pub const TCPCB_RETRANS: u8 = TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS;

/// `struct tcp_sacktag_state`, the part we keep.
#[derive(Clone, Copy, Debug)]
pub struct SacktagState {
    /// `reord`: the lowest sequence newly SACKed below the highest SACK
    /// (reordering evidence); `snd_nxt` when there is none.
    pub reord: u32,
    /// `FLAG_*` bits for `tcp_ack()`.
    pub flag: i32,
    /// `sack_delivered`: segments newly SACKed (or D-SACKed).
    pub sack_delivered: u32,
    /// `rate`: what RACK's reordering window reads of this ACK's
    /// deliveries (`tcp_rate_skb_delivered()`).
    pub rate: crate::tcp_recovery::RateSample,
}

/// `tcp_highest_sack_seq()`: where the SACKed part of the window ends —
/// `snd_una` when nothing is SACKed.
pub fn tcp_highest_sack_seq(tp: &TcpSk) -> u32 {
    if tp.sacked_out == 0 {
        return tp.snd_una;
    }
    tp.highest_sack.unwrap_or(tp.snd_nxt)
}

// ANCHOR: tcp_is_sackblock_valid
/// Mirrors `tcp_is_sackblock_valid()` (net/ipv4/tcp_input.c): may the
/// peer's block `[start_seq, end_seq)` be believed?
///
/// Refused: a block that ends beyond `snd_nxt`, is empty or reversed,
/// or starts at or before `snd_una` (half of it would be old news and the
/// wrap-around test ambiguous). A D-SACK may lie below `snd_una`, but only
/// while an undo is possible (`undo_marker`), entirely below `snd_una`,
/// and not wholly before `undo_marker` (less `max_window` for a block that
/// straddles it).
pub fn tcp_is_sackblock_valid(tp: &TcpSk, is_dsack: bool, start_seq: u32, end_seq: u32) -> bool {
    // Too far in the future, or reversed (its meaning is ambiguous).
    if after(end_seq, tp.snd_nxt) || !before(start_seq, end_seq) {
        return false;
    }
    // start_seq wrapped past snd_nxt.
    if !before(start_seq, tp.snd_nxt) {
        return false;
    }
    // In the outstanding window: the normal case, and valid for D-SACKs too.
    if after(start_seq, tp.snd_una) {
        return true;
    }
    if !is_dsack || tp.undo_marker == 0 {
        return false;
    }
    // A D-SACK must lie wholly below snd_una …
    if after(end_seq, tp.snd_una) {
        return false;
    }
    if !before(start_seq, tp.undo_marker) {
        return true;
    }
    // … and not be older than anything an undo could concern.
    if !after(end_seq, tp.undo_marker) {
        return false;
    }
    !before(start_seq, end_seq.wrapping_sub(tp.max_window))
}
// ANCHOR_END: tcp_is_sackblock_valid

/// Mirrors `tcp_check_dsack()`: the first block is a D-SACK (RFC 2883 §4)
/// if it lies below the cumulative ACK (TCPDSACKRecv), or inside the
/// second block (TCPDSACKOfoRecv). [`tcp_dsack_seen`] then weighs it; a
/// dubious one is not taken as a D-SACK (TCPDSACKIgnoredDubious). A
/// D-SACK below the ACK's old `snd_una` for data sent since the
/// reduction began reports a retransmission that was not needed, whose
/// skb is gone already: one fewer for undo to wait for (`undo_retrans`,
/// "dumb counting"); `tcp_sacktag_one()` counts those still queued.
fn tcp_check_dsack(
    net: &Net,
    tp: &mut TcpSk,
    sp: &[TcpSackBlock],
    ack_seq: u32,
    prior_snd_una: u32,
    state: &mut SacktagState,
) -> bool {
    let Some(first) = sp.first() else { return false };
    if before(first.start_seq, ack_seq) {
        net.mib.inc(LinuxMib::TCPDSACKRecv);
    } else if let Some(second) = sp.get(1) {
        if after(first.end_seq, second.end_seq) || before(first.start_seq, second.start_seq) {
            return false;
        }
        net.mib.inc(LinuxMib::TCPDSACKOfoRecv);
    } else {
        return false;
    }
    let dup_segs = tcp_dsack_seen(tp, first.start_seq, first.end_seq, state);
    if dup_segs == 0 {
        net.mib.inc(LinuxMib::TCPDSACKIgnoredDubious);
        return false;
    }
    net.mib.add(LinuxMib::TCPDSACKRecvSegs, u64::from(dup_segs));
    if tp.undo_marker != 0
        && tp.undo_retrans > 0
        && !after(first.end_seq, prior_snd_una)
        && after(first.end_seq, tp.undo_marker)
    {
        tp.undo_retrans = (tp.undo_retrans - dup_segs as i32).max(0);
    }
    true
}

/// Mirrors `tcp_dsack_seen()`: how many segments a D-SACK reports
/// duplicated (its length in MSS, at least one), or 0 if it is dubious —
/// empty or reversed, longer than any window the peer offered, or, added
/// to all D-SACKed segments so far (`dsack_dups`), more than we ever
/// retransmitted. A genuine one sets `FLAG_DSACKING_ACK`, counts its
/// segments as delivered, and may widen RACK's reordering window.
fn tcp_dsack_seen(tp: &mut TcpSk, start_seq: u32, end_seq: u32, state: &mut SacktagState) -> u32 {
    if !before(start_seq, end_seq) {
        return 0;
    }
    let seq_len = end_seq.wrapping_sub(start_seq);
    if seq_len > tp.max_window {
        return 0;
    }
    let mss = u32::from(tp.mss_cache).max(1);
    let mut dup_segs = 1;
    if seq_len > mss {
        dup_segs = seq_len.div_ceil(mss);
    } else if tp.tlp_high_seq != 0 && tp.tlp_high_seq == end_seq {
        // A one-segment D-SACK ending at the loss probe's snd_nxt reports
        // the probe's duplicate.
        state.flag |= super::fastretrans::FLAG_DSACK_TLP;
    }
    tp.dsack_dups = tp.dsack_dups.wrapping_add(dup_segs);
    // "Skip the DSACK if dup segs weren't retransmitted by sender."
    if tp.dsack_dups > tp.total_retrans {
        return 0;
    }
    // "We increase the RACK ordering window in rounds where we receive
    // DSACKs that may have been due to reordering causing RACK to trigger
    // a spurious fast recovery": not before any reordering was seen, and
    // not for the loss probe (a timer sent it, not RACK).
    if tp.reord_seen != 0 && state.flag & super::fastretrans::FLAG_DSACK_TLP == 0 {
        tp.rack.dsack_seen = true;
    }
    state.flag |= FLAG_DSACKING_ACK;
    state.sack_delivered += dup_segs;
    dup_segs
}

/// Mirrors `tcp_sacktag_one()`: tag one skb `[start_seq, end_seq)` the peer
/// SACKed, keeping `sacked_out`, `lost_out` and `retrans_out` in step with
/// its bits; a newly SACKed one advances RACK ([`tcp_rack_advance`]) and
/// the rate sample. Returns the new `sacked` bits.
///
/// [`tcp_rack_advance`]: crate::tcp_recovery::tcp_rack_advance
fn tcp_sacktag_one(tp: &mut TcpSk, state: &mut SacktagState, cb: &TcpSkbCb, dup_sack: bool) -> u8 {
    let (mut sacked, start_seq, end_seq) = (cb.sacked, cb.seq, cb.end_seq);
    // A D-SACK for a retransmission: one fewer retransmission to blame.
    if dup_sack && sacked & TCPCB_RETRANS != 0 {
        if tp.undo_marker != 0 && tp.undo_retrans > 0 && after(end_seq, tp.undo_marker) {
            tp.undo_retrans = (tp.undo_retrans - 1).max(0);
        }
        if sacked & TCPCB_SACKED_ACKED != 0 && before(start_seq, state.reord) {
            state.reord = start_seq;
        }
    }
    // Already cumulatively acknowledged: about to be freed.
    if !after(end_seq, tp.snd_una) {
        return sacked;
    }
    if sacked & TCPCB_SACKED_ACKED == 0 {
        crate::tcp_recovery::tcp_rack_advance(
            tp,
            sacked,
            end_seq,
            crate::tcp_recovery::tcp_skb_timestamp_us(cb),
        );
        crate::tcp_recovery::tcp_rate_skb_delivered(&mut state.rate, cb);
        if sacked & TCPCB_SACKED_RETRANS != 0 {
            // A retransmission still marked lost arrived; one not marked
            // lost may still be in flight, so keep counting it.
            if sacked & TCPCB_LOST != 0 {
                sacked &= !(TCPCB_LOST | TCPCB_SACKED_RETRANS);
                tp.lost_out = tp.lost_out.saturating_sub(1);
                tp.retrans_out = tp.retrans_out.saturating_sub(1);
            }
        } else {
            if sacked & TCPCB_RETRANS == 0 {
                // An original transmission SACKed below the highest SACK
                // filled a hole late: reordering.
                if before(start_seq, tcp_highest_sack_seq(tp)) && before(start_seq, state.reord) {
                    state.reord = start_seq;
                }
                if !after(end_seq, tp.high_seq) {
                    state.flag |= FLAG_ORIG_SACK_ACKED;
                }
            }
            if sacked & TCPCB_LOST != 0 {
                sacked &= !TCPCB_LOST;
                tp.lost_out = tp.lost_out.saturating_sub(1);
            }
        }
        sacked |= TCPCB_SACKED_ACKED;
        state.flag |= FLAG_DATA_SACKED;
        tp.sacked_out += 1;
        state.sack_delivered += 1;
        if tp.highest_sack.is_none_or(|h| after(end_seq, h)) {
            tp.highest_sack = Some(end_seq);
        }
    }
    // A D-SACK shows a retransmission was redundant: it is not in flight.
    if dup_sack && sacked & TCPCB_SACKED_RETRANS != 0 {
        sacked &= !TCPCB_SACKED_RETRANS;
        tp.retrans_out = tp.retrans_out.saturating_sub(1);
    }
    sacked
}

/// Mirrors `tcp_check_sack_reordering()`: a segment delivered `metric`
/// bytes below the highest SACK (`fack`) arrived out of order; if that is
/// more than `reordering` segments, raise `reordering` to cover it, up to
/// `tcp_max_reordering` (TCPSACKReorder either way, and `reord_seen`,
/// which lets RACK wait a reordering window in recovery; TCPTSReorder
/// instead when `ts`: timestamps showed it). Called from the SACK walk
/// and, for holes filled by a cumulative ACK, from `tcp_ack()` with the
/// highest SACK before the ACK (Linux's `prior_fack`), and by
/// `tcp_try_undo_partial()` (`ts`).
pub fn tcp_check_sack_reordering(net: &Net, tn: &TcpNet, tp: &mut TcpSk, low_seq: u32, fack: u32, ts: bool) {
    let mss = u32::from(tp.mss_cache);
    if !before(low_seq, fack) {
        return;
    }
    let metric = fack.wrapping_sub(low_seq);
    if mss > 0 && metric > tp.reordering.saturating_mul(mss) {
        let max = tn.sysctl.tcp_max_reordering.get().clamp(1, i64::from(u32::MAX)) as u32;
        tp.reordering = metric.div_ceil(mss).min(max);
    }
    // "This exciting event is worth to be remembered. 8)"
    tp.reord_seen += 1;
    net.mib.inc(if ts { LinuxMib::TCPTSReorder } else { LinuxMib::TCPSACKReorder });
}

// ANCHOR: tcp_sacktag_write_queue
/// Take the SACK blocks of an arriving ACK into the scoreboard.
///
/// Mirrors `tcp_sacktag_write_queue()` (net/ipv4/tcp_input.c): called from
/// `tcp_ack()` after `snd_una` has moved to the ACK, with the `snd_una`
/// before it. The first block may be a D-SACK ([`tcp_check_dsack`]).
/// Each block is checked with [`tcp_is_sackblock_valid`]; a bad one is
/// dropped and counted (TCPSACKDiscard, or TCPDSACKIgnoredOld /
/// TCPDSACKIgnoredNoUndo for a D-SACK) — except a stale block on an ACK
/// that was itself reordered, which Linux does not count — and a block
/// wholly below the old `snd_una` is ignored. Every skb a valid block
/// covers whole is tagged [`TCPCB_SACKED_ACKED`] by `tcp_sacktag_one()`.
/// Afterwards a late SACK below the highest one feeds [`tcp_check_sack_reordering`]. Returns the
/// `FLAG_*` bits (`FLAG_DATA_SACKED` when something new was SACKed).
/// Never panics, whatever the peer sent.
pub fn tcp_sacktag_write_queue(
    net: &Net,
    tn: &TcpNet,
    tp: &mut TcpSk,
    blocks: &[TcpSackBlock],
    ack_seq: u32,
    prior_snd_una: u32,
) -> SacktagState {
    let mut state = SacktagState { reord: tp.snd_nxt, flag: 0, sack_delivered: 0, rate: Default::default() };
    let sp_wire = &blocks[..blocks.len().min(TCP_NUM_SACKS)];
    if sp_wire.is_empty() {
        return state;
    }
    // Before looking at the queue: a D-SACK may arrive when nothing is
    // left in flight, and still tell undo a retransmission was not needed.
    let found_dup_sack = tcp_check_dsack(net, tp, sp_wire, ack_seq, prior_snd_una, &mut state);
    if tp.tcp_rtx_queue.is_empty() {
        return state;
    }
    let mut sp: [(TcpSackBlock, bool); TCP_NUM_SACKS] = Default::default();
    let mut used = 0;
    for (i, blk) in sp_wire.iter().enumerate() {
        let dup_sack = i == 0 && found_dup_sack;
        if !tcp_is_sackblock_valid(tp, dup_sack, blk.start_seq, blk.end_seq) {
            if dup_sack {
                let mib = if tp.undo_marker == 0 {
                    LinuxMib::TCPDSACKIgnoredNoUndo
                } else {
                    LinuxMib::TCPDSACKIgnoredOld
                };
                net.mib.inc(mib);
            } else {
                // An old block on an ACK that was itself reordered is not
                // the peer's fault.
                if ack_seq != tp.snd_una && !after(blk.end_seq, tp.snd_una) {
                    continue;
                }
                net.mib.inc(LinuxMib::TCPSACKDiscard);
            }
            continue;
        }
        // Ignore very old stuff early.
        if !after(blk.end_seq, prior_snd_una) {
            continue;
        }
        sp[used] = (*blk, dup_sack);
        used += 1;
    }
    // Linux sorts the blocks by start_seq (the D-SACK stays first); we
    // tag per block, so order only matters for the reordering evidence,
    // which takes the lowest sequence whatever the order.
    for &(blk, dup_sack) in &sp[..used] {
        for idx in 0..tp.tcp_rtx_queue.len() {
            let cb = *TCP_SKB_CB(&tp.tcp_rtx_queue[idx]);
            if !after(cb.end_seq, blk.start_seq) {
                continue;
            }
            if !before(cb.seq, blk.end_seq) {
                break;
            }
            let whole = !after(blk.start_seq, cb.seq) && !before(blk.end_seq, cb.end_seq);
            if !whole {
                continue;
            }
            let sacked = tcp_sacktag_one(tp, &mut state, &cb, dup_sack);
            TCP_SKB_CB_mut(&mut tp.tcp_rtx_queue[idx]).sacked = sacked;
        }
    }
    if before(state.reord, tcp_highest_sack_seq(tp)) && state.reord != tp.snd_nxt {
        let (reord, fack) = (state.reord, tcp_highest_sack_seq(tp));
        tcp_check_sack_reordering(net, tn, tp, reord, fack, false);
    }
    state
}
// ANCHOR_END: tcp_sacktag_write_queue

/// `tcp_verify_left_out()`'s invariant, for tests and debug assertions:
/// the counts agree with the bits on the queue.
pub fn tcp_scoreboard_consistent(tp: &TcpSk) -> bool {
    let (mut s, mut l, mut r) = (0, 0, 0);
    for skb in &tp.tcp_rtx_queue {
        let b = TCP_SKB_CB(skb).sacked;
        s += u32::from(b & TCPCB_SACKED_ACKED != 0);
        l += u32::from(b & TCPCB_LOST != 0);
        r += u32::from(b & TCPCB_SACKED_RETRANS != 0);
        if b & TCPCB_SACKED_ACKED != 0 && b & TCPCB_LOST != 0 {
            return false;
        }
    }
    let sacked_ok = !tp.rx_opt.sack_ok || s == tp.sacked_out;
    sacked_ok && l == tp.lost_out && r == tp.retrans_out
}

#[cfg(test)]
mod tests {

    use net_core::Net;

    use super::*;
    use crate::tcp_output::tcp_packets_in_flight;

    /// A socket with `n` 1000-byte segments in flight from sequence 1000,
    /// SACK negotiated.
    fn with_queue(n: u32, f: impl FnOnce(&Net, &TcpNet, &mut TcpSk)) {
        crate::tcp_output::with_sent_segments(1000, n, 0, |net, tn, tp| {
            tp.max_window = 65535;
            f(net, tn, tp);
        });
    }

    fn blk(start_seq: u32, end_seq: u32) -> TcpSackBlock {
        TcpSackBlock { start_seq, end_seq }
    }

    fn sacked(tp: &TcpSk) -> Vec<u32> {
        crate::tcp_output::rtx_seqs_with(tp, TCPCB_SACKED_ACKED)
    }

    #[test]
    fn sackblock_validity_follows_linux() {
        with_queue(5, |_, _, tp| {
            // snd_una 1000, snd_nxt 6000.
            assert!(tcp_is_sackblock_valid(tp, false, 2000, 3000));
            assert!(!tcp_is_sackblock_valid(tp, false, 2000, 7000), "beyond snd_nxt");
            assert!(!tcp_is_sackblock_valid(tp, false, 3000, 2000), "reversed");
            assert!(!tcp_is_sackblock_valid(tp, false, 3000, 3000), "empty");
            assert!(!tcp_is_sackblock_valid(tp, false, 1000, 2000), "starts at snd_una");
            assert!(!tcp_is_sackblock_valid(tp, false, 6000, 6001), "starts at snd_nxt");
            assert!(!tcp_is_sackblock_valid(tp, true, 500, 900), "a D-SACK with no undo possible");
            tp.undo_marker = 400;
            assert!(tcp_is_sackblock_valid(tp, true, 500, 900), "a D-SACK above undo_marker");
            assert!(!tcp_is_sackblock_valid(tp, true, 500, 1500), "a D-SACK across snd_una");
            assert!(!tcp_is_sackblock_valid(tp, true, 100, 300), "a D-SACK below undo_marker");
        });
    }

    #[test]
    fn bad_blocks_are_discarded_and_counted() {
        with_queue(5, |net, tn, tp| {
            // Beyond snd_nxt, reversed, and (as second block) below snd_una.
            let st = tcp_sacktag_write_queue(
                net,
                tn,
                tp,
                &[blk(5000, 9000), blk(4000, 3000), blk(200, 900)],
                1000,
                1000,
            );
            assert_eq!(st.flag & FLAG_DATA_SACKED, 0);
            assert_eq!(tp.sacked_out, 0);
            assert_eq!(net.mib.get(LinuxMib::TCPSACKDiscard), 3);
            assert!(tcp_scoreboard_consistent(tp));
        });
    }

    #[test]
    fn a_first_block_below_the_ack_is_a_dsack() {
        with_queue(5, |net, tn, tp| {
            tp.total_retrans = 1;
            let st = tcp_sacktag_write_queue(net, tn, tp, &[blk(200, 900), blk(3000, 4000)], 1000, 1000);
            assert_ne!(st.flag & FLAG_DSACKING_ACK, 0);
            assert_eq!(net.mib.get(LinuxMib::TCPDSACKRecv), 1);
            assert_eq!(net.mib.get(LinuxMib::TCPDSACKRecvSegs), 1);
            assert_eq!(net.mib.get(LinuxMib::TCPDSACKIgnoredNoUndo), 1, "no undo_marker");
            assert_eq!(sacked(tp), [3000]);
        });
    }

    #[test]
    fn a_dsack_of_more_than_we_ever_retransmitted_is_dubious() {
        // tcp_dsack_seen(): D-SACKed segments beyond total_retrans are not
        // about our retransmissions (a duplicating network, or a lying
        // peer); the block is then an old SACK, discarded.
        with_queue(5, |net, tn, tp| {
            tp.total_retrans = 1;
            let st = tcp_sacktag_write_queue(net, tn, tp, &[blk(0, 1000)], 1000, 1000);
            assert_ne!(st.flag & FLAG_DSACKING_ACK, 0, "one retransmission, one duplicate");
            let st = tcp_sacktag_write_queue(net, tn, tp, &[blk(0, 1000)], 1000, 1000);
            assert_eq!(st.flag & FLAG_DSACKING_ACK, 0, "a second duplicate of one retransmission");
            assert_eq!(net.mib.get(LinuxMib::TCPDSACKIgnoredDubious), 1);
            assert_eq!(net.mib.get(LinuxMib::TCPDSACKRecvSegs), 1);
            assert_eq!(tp.dsack_dups, 2);
        });
    }

    #[test]
    fn overlapping_blocks_mark_each_segment_once() {
        with_queue(5, |net, tn, tp| {
            let st = tcp_sacktag_write_queue(net, tn, tp, &[blk(3000, 5000), blk(2000, 4000)], 1000, 1000);
            assert_ne!(st.flag & FLAG_DATA_SACKED, 0);
            assert_eq!(sacked(tp), [2000, 3000, 4000]);
            assert_eq!(tp.sacked_out, 3);
            assert_eq!(tp.highest_sack, Some(5000));
            assert_eq!(tcp_packets_in_flight(tp), 2);
            // The same news again changes nothing.
            let st = tcp_sacktag_write_queue(net, tn, tp, &[blk(2000, 5000)], 1000, 1000);
            assert_eq!(st.flag & FLAG_DATA_SACKED, 0);
            assert_eq!(tp.sacked_out, 3);
        });
    }

    #[test]
    fn partial_and_excess_blocks() {
        with_queue(8, |net, tn, tp| {
            // A block covering half a segment tags nothing; only the first
            // four blocks are read (TCP_NUM_SACKS).
            let blocks = [
                blk(2500, 3000),
                blk(4000, 5000),
                blk(6000, 7000),
                blk(8000, 9000),
                blk(2000, 3000),
                blk(3000, 4000),
            ];
            tcp_sacktag_write_queue(net, tn, tp, &blocks, 1000, 1000);
            assert_eq!(sacked(tp), [4000, 6000, 8000]);
        });
    }

    #[test]
    fn sacking_a_lost_retransmitted_segment_keeps_the_counts() {
        with_queue(4, |net, tn, tp| {
            for i in [1, 2] {
                TCP_SKB_CB_mut(&mut tp.tcp_rtx_queue[i]).sacked =
                    TCPCB_LOST | TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS;
            }
            tp.lost_out = 2;
            tp.retrans_out = 2;
            assert!(tcp_scoreboard_consistent(tp));
            tcp_sacktag_write_queue(net, tn, tp, &[blk(2000, 3000)], 1000, 1000);
            assert_eq!((tp.sacked_out, tp.lost_out, tp.retrans_out), (1, 1, 1));
            assert!(tcp_scoreboard_consistent(tp));
        });
    }

    /// Whatever the peer sends — random blocks around and across the
    /// window, wrapped, reversed — nothing panics and the counts keep
    /// agreeing with the bits.
    #[test]
    fn arbitrary_blocks_keep_the_scoreboard_consistent() {
        with_queue(20, |net, tn, tp| {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut rnd = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for _ in 0..2000 {
                let n = (rnd() % 6) as usize;
                let blocks: Vec<TcpSackBlock> = (0..n)
                    .map(|_| {
                        let s = (rnd() as u32 % 26_000).wrapping_sub(2000);
                        let e =
                            if rnd() % 8 == 0 { rnd() as u32 } else { s.wrapping_add(rnd() as u32 % 5000) };
                        blk(s, e)
                    })
                    .collect();
                let ack = tp.snd_una;
                tcp_sacktag_write_queue(net, tn, tp, &blocks, ack, ack);
                assert!(tcp_scoreboard_consistent(tp));
                assert!(tp.sacked_out <= tp.packets_out);
            }
        });
    }

    #[test]
    fn a_late_sack_below_the_highest_is_reordering() {
        with_queue(8, |net, tn, tp| {
            tcp_sacktag_write_queue(net, tn, tp, &[blk(6000, 7000)], 1000, 1000);
            assert_eq!(tp.reordering, 3);
            tcp_sacktag_write_queue(net, tn, tp, &[blk(2000, 3000), blk(6000, 7000)], 1000, 1000);
            // 2000 filled in 5000 bytes below the highest SACK (7000).
            assert_eq!(tp.reordering, 5);
            assert_eq!(net.mib.get(LinuxMib::TCPSACKReorder), 1);
        });
    }
}
