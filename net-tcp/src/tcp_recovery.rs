//! RACK: loss detection by time rather than by counting duplicate ACKs.
//!
//! Mirrors net/ipv4/tcp_recovery.c of **Linux 6.18** (`tcp_rack_reo_wnd()`,
//! `tcp_rack_skb_timeout()`, `tcp_rack_detect_loss()`,
//! `tcp_rack_mark_lost()`, `tcp_rack_advance()`, `tcp_rack_reo_timeout()`,
//! `tcp_rack_update_reo_wnd()`, `tcp_newreno_mark_lost()`), with the piece
//! of net/ipv4/tcp_rate.c it reads (`tcp_rate_skb_delivered()`'s
//! `prior_delivered`) and `tcp_min_rtt()` / `tcp_skb_sent_after()` from
//! include/net/tcp.h.
//!
//! Heads up: read RFC 8985 §6 ("RACK-TLP algorithm details") first.
//!
//! The rule (RFC 8985 §6.2): a segment is lost if one sent *after* it has
//! been delivered, and it has waited longer than the RTT that delivery
//! measured plus a reordering window. Every segment the peer SACKs or
//! acknowledges moves `tp.rack` to the newest transmission delivered so
//! far ([`tcp_rack_advance`]); on a dubious ACK [`tcp_rack_mark_lost`]
//! walks the segments sent before it and marks lost those whose time is
//! up, and arms the `ICSK_TIME_REO_TIMEOUT` timer for the first that is
//! not yet ([`tcp_rack_reo_timeout`] marks it then). Because it looks at
//! send times, it finds what counting cannot:
//!
//! - a retransmission that was lost again — one sent after it was
//!   delivered (`TCPLostRetransmit`), without waiting for an RTO;
//! - a hole followed by fewer than three segments — after a quarter of
//!   the min RTT, not after an RTO;
//! - reordering, without a loss: the reordering window grows a quarter of
//!   the min RTT for every round in which D-SACKs show a retransmission
//!   was spurious, up to the SRTT, and shrinks back after 16 recoveries
//!   without one.
//!
//! Linux 6.17 removed the RFC 6675 duplicate-ACK marking
//! (`tcp_mark_head_lost()`, `tcp_update_scoreboard()`): with SACK, RACK is
//! the only loss detection, and `tcp_time_to_recover()` is "something is
//! marked lost". Without SACK, [`tcp_newreno_mark_lost`] marks the head
//! after `reordering` duplicate ACKs, as before.
//!
//! # Where we differ
//!
//! - Linux walks `tsorted_sent_queue`, the segments in order of their last
//!   transmission, and stops at the first one sent after RACK's. We keep
//!   no second list: we walk the retransmit queue in sequence order and
//!   stop at the first segment never retransmitted that was sent after
//!   RACK's. First transmissions go out in sequence order, so everything
//!   behind it was sent later too and the set examined is the same.
//! - `tcp_rate.c` is not here: the rate sample is only its
//!   `prior_delivered`, which [`tcp_rack_update_reo_wnd`] reads.
//! - No undo, so a recovery always ends through the branch of
//!   `tcp_try_undo_recovery()` that counts `reo_wnd_persist` down, and
//!   `tcp_try_undo_dsack()` never raises it.

use std::sync::Arc;

use net_core::Net;
use net_core::win_minmax::minmax_get;

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcp_input::fastretrans::{tcp_cwnd_reduction, tcp_enter_recovery, tcp_mark_skb_lost};
use crate::tcp_input::sacktag::TCPCB_RETRANS;
use crate::tcp_output::{inet_csk_reset_xmit_timer, tcp_packets_in_flight, tcp_rearm_rto};

/// `TCP_RACK_LOSS_DETECTION` in `tcp_recovery`: RACK on (always, in 6.18).
pub const TCP_RACK_LOSS_DETECTION: i64 = 0x1;
/// `TCP_RACK_STATIC_REO_WND`: the reordering window stays one step.
pub const TCP_RACK_STATIC_REO_WND: i64 = 0x2;
/// `TCP_RACK_NO_DUPTHRESH`: keep the reordering window even when
/// `reordering` segments are SACKed.
pub const TCP_RACK_NO_DUPTHRESH: i64 = 0x4;
/// `TCP_RACK_RECOVERY_THRESH`: recoveries a grown window survives
/// without another D-SACK.
pub const TCP_RACK_RECOVERY_THRESH: u8 = 16;

/// `tcp_min_rtt()`: the windowed minimum RTT in µs (`u32::MAX` before the
/// first sample).
pub fn tcp_min_rtt(tp: &TcpSk) -> u32 {
    minmax_get(&tp.rtt_min)
}

/// `tcp_skb_sent_after()`: was the transmission at `t1` ending at `seq1`
/// later than the one at `t2` ending at `seq2`? Equal times (one burst)
/// are ordered by sequence.
#[inline]
pub fn tcp_skb_sent_after(t1: u64, t2: u64, seq1: u32, seq2: u32) -> bool {
    t1 > t2 || (t1 == t2 && after(seq1, seq2))
}

/// `tcp_skb_timestamp_us()`: when the skb was last sent, µs.
#[inline]
pub fn tcp_skb_timestamp_us(cb: &TcpSkbCb) -> u64 {
    cb.when_ns / 1000
}

/// `tcp_stamp_us_delta()`: `t1 − t0` in µs, never negative.
#[inline]
pub fn tcp_stamp_us_delta(t1: u64, t0: u64) -> u32 {
    t1.saturating_sub(t0).min(u64::from(u32::MAX)) as u32
}

// ANCHOR: tcp_rack_reo_wnd
/// `tcp_rack_reo_wnd()`: how long past RACK's RTT a segment may still be
/// reordered rather than lost. Before any reordering was seen: none in
/// recovery, and none once `reordering` segments are SACKed (the
/// duplicate-ACK threshold, unless `TCP_RACK_NO_DUPTHRESH`). Otherwise
/// `reo_wnd_steps` quarters of the min RTT, at most the SRTT.
pub fn tcp_rack_reo_wnd(tn: &TcpNet, tp: &TcpSk) -> u32 {
    if tp.reord_seen == 0 {
        if tp.icsk_ca_state >= TCP_CA_RECOVERY {
            return 0;
        }
        if tp.sacked_out >= tp.reordering && tn.sysctl.tcp_recovery.get() & TCP_RACK_NO_DUPTHRESH == 0 {
            return 0;
        }
    }
    (tcp_min_rtt(tp) >> 2).saturating_mul(u32::from(tp.rack.reo_wnd_steps)).min(tp.rtt.srtt_us >> 3)
}
// ANCHOR_END: tcp_rack_reo_wnd

/// `tcp_rack_skb_timeout()`: µs left before the segment sent at
/// `sent_us` counts as lost — RACK's RTT plus `reo_wnd` from its
/// transmission (≤ 0: now).
pub fn tcp_rack_skb_timeout(tp: &TcpSk, cb: &TcpSkbCb, reo_wnd: u32) -> i64 {
    i64::from(tp.rack.rtt_us) + i64::from(reo_wnd)
        - i64::from(tcp_stamp_us_delta(tp.tcp_mstamp, tcp_skb_timestamp_us(cb)))
}

// ANCHOR: tcp_rack_detect_loss
/// `tcp_rack_detect_loss()`: mark lost every segment sent before RACK's
/// (the newest delivered) whose time is up; returns the µs until the next
/// one's is (0: none waiting). Segments SACKed, or marked lost and not
/// yet resent, are not looked at; a lost retransmission is marked again
/// (`tcp_mark_skb_lost()` counts it as `TCPLostRetransmit`).
fn tcp_rack_detect_loss(net: &Net, tn: &TcpNet, tp: &mut TcpSk) -> u32 {
    let mut reo_timeout = 0u32;
    let reo_wnd = tcp_rack_reo_wnd(tn, tp);
    for idx in 0..tp.tcp_rtx_queue.len() {
        let cb = *TCP_SKB_CB(&tp.tcp_rtx_queue[idx]);
        if cb.sacked & TCPCB_SACKED_ACKED != 0 {
            continue;
        }
        if cb.sacked & TCPCB_LOST != 0 && cb.sacked & TCPCB_SACKED_RETRANS == 0 {
            continue;
        }
        if !tcp_skb_sent_after(tp.rack.mstamp, tcp_skb_timestamp_us(&cb), tp.rack.end_seq, cb.end_seq) {
            if cb.sacked & TCPCB_EVER_RETRANS == 0 {
                // First transmissions left in sequence order: all that
                // follow were sent after this one (where Linux's
                // time-sorted list would end the walk).
                break;
            }
            continue;
        }
        let remaining = tcp_rack_skb_timeout(tp, &cb, reo_wnd);
        if remaining <= 0 {
            tcp_mark_skb_lost(net, tp, idx);
        } else {
            reo_timeout = reo_timeout.max(remaining.min(i64::from(u32::MAX)) as u32);
        }
    }
    reo_timeout
}
// ANCHOR_END: tcp_rack_detect_loss

/// `tcp_rack_mark_lost()`: if RACK advanced since it last looked, look for
/// losses; arm the reordering timer for the first segment not yet due
/// (plus `TCP_TIMEOUT_MIN_US`, at most one RTO). Returns whether it did,
/// so that `tcp_ack()` leaves that timer in place.
pub fn tcp_rack_mark_lost(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) -> bool {
    if !tp.rack.advanced {
        return false;
    }
    tp.rack.advanced = false;
    let timeout = tcp_rack_detect_loss(net, tn, tp);
    if timeout != 0 {
        let when = crate::tcp_tlp::usecs_to_jiffies(u64::from(timeout) + TCP_TIMEOUT_MIN_US);
        // inet_csk_reset_xmit_timer()'s `max_when`: icsk_rto.
        let when = when.min(tp.icsk_rto);
        inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_REO_TIMEOUT, when);
    }
    timeout != 0
}

// ANCHOR: tcp_rack_advance
/// `tcp_rack_advance()`: a segment last sent at `xmit_time` (µs) and
/// ending at `end_seq` was (S)ACKed. Its RTT becomes RACK's, and RACK's
/// "newest delivered" moves to it if it was sent later. A retransmitted
/// segment acknowledged sooner than the min RTT after its retransmission
/// was the original's delivery, not the retransmission's: ignored.
pub fn tcp_rack_advance(tp: &mut TcpSk, sacked: u8, end_seq: u32, xmit_time: u64) {
    let rtt_us = tcp_stamp_us_delta(tp.tcp_mstamp, xmit_time);
    if rtt_us < tcp_min_rtt(tp) && sacked & TCPCB_RETRANS != 0 {
        return;
    }
    tp.rack.advanced = true;
    tp.rack.rtt_us = rtt_us;
    if tcp_skb_sent_after(xmit_time, tp.rack.mstamp, end_seq, tp.rack.end_seq) {
        tp.rack.mstamp = xmit_time;
        tp.rack.end_seq = end_seq;
    }
}
// ANCHOR_END: tcp_rack_advance

// ANCHOR: tcp_rack_reo_timeout
/// `tcp_rack_reo_timeout()`, the `ICSK_TIME_REO_TIMEOUT` timer: the wait
/// for reordering is over. Mark what is now due; if that took anything
/// out of flight, enter Recovery (with PRR's first step, one segment) if
/// not in it, and retransmit. Then, unless a retransmission armed the
/// RTO, rearm it for what is left of it.
pub fn tcp_rack_reo_timeout(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    let lost = tp.lost_out;
    let prior_inflight = tcp_packets_in_flight(tp);
    tcp_rack_detect_loss(net, tn, tp);
    if prior_inflight != tcp_packets_in_flight(tp) {
        if tp.icsk_ca_state != TCP_CA_RECOVERY {
            tcp_enter_recovery(net, tp);
            let newly_lost = tp.lost_out.saturating_sub(lost);
            tcp_cwnd_reduction(tp, 1, newly_lost, 0);
        }
        crate::tcp_output::tcp_xmit_retransmit_queue(net, tn, sk, tp);
    }
    if tp.icsk_pending != ICSK_TIME_RETRANS {
        tcp_rearm_rto(net, sk, tp);
    }
}
// ANCHOR_END: tcp_rack_reo_timeout

// ANCHOR: tcp_rack_update_reo_wnd
/// `tcp_rack_update_reo_wnd()`, once per ACK: after a round in which a
/// D-SACK showed a spurious retransmission (`rack.dsack_seen`), widen the
/// reordering window one step and keep it for `TCP_RACK_RECOVERY_THRESH`
/// recoveries; a D-SACK for data sent before the last widening
/// (`prior_delivered` below `rack.last_delivered`) does not count again.
/// Once the persistence has run out, back to one step. Nothing with
/// `TCP_RACK_STATIC_REO_WND`, or when the ACK delivered nothing.
pub fn tcp_rack_update_reo_wnd(tn: &TcpNet, tp: &mut TcpSk, prior_delivered: u32) {
    if tn.sysctl.tcp_recovery.get() & TCP_RACK_STATIC_REO_WND != 0 || prior_delivered == 0 {
        return;
    }
    if before(prior_delivered, tp.rack.last_delivered) {
        tp.rack.dsack_seen = false;
    }
    if tp.rack.dsack_seen {
        tp.rack.reo_wnd_steps = tp.rack.reo_wnd_steps.saturating_add(1);
        tp.rack.dsack_seen = false;
        tp.rack.last_delivered = tp.delivered;
        tp.rack.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH;
    } else if tp.rack.reo_wnd_persist == 0 {
        tp.rack.reo_wnd_steps = 1;
    }
}
// ANCHOR_END: tcp_rack_update_reo_wnd

/// `tcp_count_delivered()`: `n` more segments reached the peer (SACKed,
/// acknowledged, or — without SACK — duplicate ACKs).
#[inline]
pub fn tcp_count_delivered(tp: &mut TcpSk, n: u32) {
    tp.delivered = tp.delivered.wrapping_add(n);
}

/// The part of `struct rate_sample` RACK reads: `prior_delivered`, the
/// socket's `delivered` count when the most recently sent of the
/// segments this ACK delivered was sent (net/ipv4/tcp_rate.c).
#[derive(Clone, Copy, Debug, Default)]
pub struct RateSample {
    /// `prior_delivered` (0: nothing delivered, or sent before anything was).
    pub prior_delivered: u32,
    /// The send time of that segment (Linux keeps it in
    /// `tp->first_tx_mstamp`), µs.
    pub tx_mstamp: u64,
    /// `last_end_seq`: its end, which breaks ties in `tx_mstamp`.
    pub last_end_seq: u32,
    /// Something was delivered.
    pub taken: bool,
}

/// `tcp_rate_skb_delivered()`, its `prior_delivered` half: the segment
/// `cb` was (S)ACKed by this ACK; keep its counts if it is the most
/// recently sent so far.
#[inline]
pub fn tcp_rate_skb_delivered(rs: &mut RateSample, cb: &TcpSkbCb) {
    let tx = tcp_skb_timestamp_us(cb);
    if !rs.taken || tcp_skb_sent_after(tx, rs.tx_mstamp, cb.end_seq, rs.last_end_seq) {
        rs.taken = true;
        rs.prior_delivered = cb.tx_delivered;
        rs.tx_mstamp = tx;
        rs.last_end_seq = cb.end_seq;
    }
}

/// Mirrors `tcp_newreno_mark_lost()`: without SACK only the head can be
/// known lost — after `reordering` duplicate ACKs, or in Recovery whenever
/// a partial ACK moves `snd_una` (RFC 6582 §3.2 step 3: "retransmit the
/// first unacknowledged segment").
pub fn tcp_newreno_mark_lost(net: &Net, tp: &mut TcpSk, snd_una_advanced: bool) {
    let state = tp.icsk_ca_state;
    if (state < TCP_CA_RECOVERY && tp.sacked_out >= tp.reordering)
        || (state == TCP_CA_RECOVERY && snd_una_advanced)
    {
        let Some(head) = tp.tcp_rtx_queue.front() else { return };
        if TCP_SKB_CB(head).sacked & TCPCB_LOST != 0 {
            return;
        }
        tcp_mark_skb_lost(net, tp, 0);
    }
}

#[cfg(test)]
mod tests {
    use net_core::Net;
    use net_core::snmp::LinuxMib;
    use net_core::win_minmax::minmax_reset;

    use super::*;

    /// Four 1000-byte segments sent at `sent_us`, a min RTT and SRTT of
    /// 100 ms, SACK on.
    fn with_flight(sent_us: u64, f: impl FnOnce(&Net, &TcpNet, &mut TcpSk)) {
        crate::tcp_output::with_sent_segments(1, 4, sent_us * 1000, |net, tn, tp| {
            minmax_reset(&mut tp.rtt_min, 0, 100_000);
            tp.rtt.srtt_us = 100_000 << 3;
            f(net, tn, tp);
        });
    }

    /// SACK the skb at `idx` at `now_us`, as `tcp_sacktag_one()` does.
    fn sack(tp: &mut TcpSk, idx: usize, now_us: u64) {
        tp.tcp_mstamp = now_us;
        let cb = *TCP_SKB_CB(&tp.tcp_rtx_queue[idx]);
        tcp_rack_advance(tp, cb.sacked, cb.end_seq, tcp_skb_timestamp_us(&cb));
        TCP_SKB_CB_mut(&mut tp.tcp_rtx_queue[idx]).sacked |= TCPCB_SACKED_ACKED;
        tp.sacked_out += 1;
    }

    fn lost(tp: &TcpSk) -> Vec<u32> {
        crate::tcp_output::rtx_seqs_with(tp, TCPCB_LOST)
    }

    #[test]
    fn the_reordering_window_follows_linux() {
        with_flight(0, |net, tn, tp| {
            assert_eq!(tcp_rack_reo_wnd(tn, tp), 25_000, "min RTT / 4 while fewer than 3 are SACKed");
            tp.sacked_out = 3;
            assert_eq!(tcp_rack_reo_wnd(tn, tp), 0, "the duplicate-ACK threshold: no window");
            net.sysctl.set("net.ipv4.tcp_recovery", "5").unwrap(); // 0x1 | TCP_RACK_NO_DUPTHRESH
            assert_eq!(tcp_rack_reo_wnd(tn, tp), 25_000, "TCP_RACK_NO_DUPTHRESH keeps it");
            tp.icsk_ca_state = TCP_CA_RECOVERY;
            assert_eq!(tcp_rack_reo_wnd(tn, tp), 0, "in Recovery, before any reordering");
            tp.reord_seen = 1;
            tp.rack.reo_wnd_steps = 3;
            assert_eq!(tcp_rack_reo_wnd(tn, tp), 75_000, "three steps once reordering was seen");
            tp.rack.reo_wnd_steps = 9;
            assert_eq!(tcp_rack_reo_wnd(tn, tp), 100_000, "never more than the SRTT");
        });
    }

    #[test]
    fn a_hole_is_lost_after_the_rtt_and_the_window() {
        // All four left at 0; the second is SACKed at 100 ms.
        with_flight(0, |net, tn, tp| {
            sack(tp, 1, 100_000);
            assert_eq!(tcp_rack_detect_loss(net, tn, tp), 25_000, "the first waits the window");
            assert!(lost(tp).is_empty());
            tp.tcp_mstamp = 125_000;
            assert_eq!(tcp_rack_detect_loss(net, tn, tp), 0);
            assert_eq!(lost(tp), [1], "the first, sent with it; not the later two");
            assert_eq!(tp.lost_out, 1);
        });
    }

    #[test]
    fn three_sacked_mark_the_hole_at_once() {
        with_flight(0, |net, tn, tp| {
            for idx in 1..4 {
                sack(tp, idx, 100_000);
            }
            assert_eq!(tcp_rack_detect_loss(net, tn, tp), 0);
            assert_eq!(lost(tp), [1]);
        });
    }

    #[test]
    fn a_lost_retransmission_is_lost_again() {
        with_flight(0, |net, tn, tp| {
            // 1:1001 was marked lost and resent at 100 ms.
            let cb = TCP_SKB_CB_mut(&mut tp.tcp_rtx_queue[0]);
            cb.sacked |= TCPCB_LOST | TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS;
            cb.when_ns = 100_000_000;
            tp.lost_out = 1;
            tp.retrans_out = 1;
            // Data sent at 120 ms is SACKed at 121 ms: the retransmission,
            // sent 20 ms before it, has had its RTT (1 ms) and is gone.
            TCP_SKB_CB_mut(&mut tp.tcp_rtx_queue[3]).when_ns = 120_000_000;
            tp.icsk_ca_state = TCP_CA_RECOVERY;
            sack(tp, 1, 100_000);
            sack(tp, 2, 100_000);
            sack(tp, 3, 121_000);
            tcp_rack_detect_loss(net, tn, tp);
            let sacked = TCP_SKB_CB(&tp.tcp_rtx_queue[0]).sacked;
            assert_eq!(sacked & (TCPCB_LOST | TCPCB_SACKED_RETRANS), TCPCB_LOST, "lost, not in flight");
            assert_eq!((tp.lost_out, tp.retrans_out), (1, 0));
            assert_eq!(net.mib.get(LinuxMib::TCPLostRetransmit), 1);
        });
    }

    #[test]
    fn a_retransmission_acked_sooner_than_the_min_rtt_does_not_advance() {
        with_flight(0, |_, _, tp| {
            tp.tcp_mstamp = 150_000;
            tcp_rack_advance(tp, TCPCB_EVER_RETRANS, 1001, 140_000);
            assert!(!tp.rack.advanced, "10 ms after the retransmission: the original's ACK");
            tcp_rack_advance(tp, 0, 1001, 40_000);
            assert!(tp.rack.advanced);
            assert_eq!((tp.rack.mstamp, tp.rack.rtt_us, tp.rack.end_seq), (40_000, 110_000, 1001));
            // An older one updates the RTT but not the newest delivery.
            tcp_rack_advance(tp, 0, 501, 30_000);
            assert_eq!((tp.rack.mstamp, tp.rack.rtt_us), (40_000, 120_000));
        });
    }

    #[test]
    fn dsacks_widen_the_window_for_sixteen_recoveries() {
        with_flight(0, |net, tn, tp| {
            tp.delivered = 50;
            tp.rack.dsack_seen = true;
            tcp_rack_update_reo_wnd(tn, tp, 40);
            assert_eq!((tp.rack.reo_wnd_steps, tp.rack.reo_wnd_persist), (2, TCP_RACK_RECOVERY_THRESH));
            assert_eq!(tp.rack.last_delivered, 50);
            // A D-SACK for data sent before that change does not count.
            tp.rack.dsack_seen = true;
            tcp_rack_update_reo_wnd(tn, tp, 45);
            assert_eq!(tp.rack.reo_wnd_steps, 2);
            assert!(!tp.rack.dsack_seen);
            // Persistence runs out: one step again.
            tp.rack.reo_wnd_persist = 0;
            tcp_rack_update_reo_wnd(tn, tp, 60);
            assert_eq!(tp.rack.reo_wnd_steps, 1);
            // A static window never moves.
            net.sysctl.set("net.ipv4.tcp_recovery", "3").unwrap(); // 0x1 | TCP_RACK_STATIC_REO_WND
            tp.rack.dsack_seen = true;
            tcp_rack_update_reo_wnd(tn, tp, 70);
            assert_eq!(tp.rack.reo_wnd_steps, 1);
        });
    }
}
