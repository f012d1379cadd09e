//! Fast retransmit and fast recovery: the congestion state machine an ACK
//! drives.
//!
//! Mirrors net/ipv4/tcp_input.c of **Linux 6.18**: `tcp_fastretrans_alert()`,
//! `tcp_time_to_recover()`, `tcp_enter_recovery()`, `tcp_try_to_open()`,
//! `tcp_try_keep_open()`, `tcp_add_reno_sack()`, `tcp_remove_reno_sacks()`,
//! `tcp_check_reno_reordering()`, `tcp_init_cwnd_reduction()`,
//! `tcp_cwnd_reduction()` (PRR), `tcp_end_cwnd_reduction()`,
//! `tcp_cong_control()`, `tcp_may_raise_cwnd()`,
//! `tcp_identify_packet_loss()`, `tcp_process_loss()` with F-RTO, and the
//! undo of a reduction that proves spurious: `tcp_init_undo()`,
//! `tcp_packet_delayed()`, `tcp_may_undo()`, `tcp_undo_cwnd_reduction()`,
//! `tcp_try_undo_recovery()`, `tcp_try_undo_partial()`,
//! `tcp_try_undo_dsack()`, `tcp_try_undo_loss()`. Which segments are lost
//! is decided in [`crate::tcp_recovery`] (RACK, and NewReno without SACK).
//!
//! Undo: entering Recovery or Loss records `undo_marker` (`snd_una`) and
//! `undo_retrans`, the retransmissions that must prove unnecessary.
//! D-SACKs count them down; an ACK that echoes a timestamp older than the
//! first retransmission (`retrans_stamp`) shows the original got through
//! (RFC 3522's Eifel detection). Either way the window and `ssthresh`
//! from before the reduction come back (`undo_cwnd()`, `prior_ssthresh`):
//! TCPFullUndo, TCPPartialUndo, TCPDSACKUndo, TCPLossUndo. After an RTO,
//! F-RTO (RFC 5682, `tcp_frto`) sends new data on the first ACK that
//! advances and calls the RTO spurious if never-retransmitted data is
//! acknowledged next (TCPSpuriousRTOs).
//!
//! Heads up: read RFC 5681 §3.2 (fast retransmit / fast recovery), RFC
//! 6582 (NewReno's partial ACKs), RFC 6675 (SACK-based loss recovery, the
//! loss recovery), RFC 8985 (RACK-TLP) and RFC 6937 (Proportional Rate
//! Reduction) first.
//!
//! The states (`icsk_ca_state`): Open — all is well; Disorder — duplicate
//! ACKs or SACKs seen, not yet a loss; Recovery — fast retransmit sent,
//! `snd_cwnd` falls to `ssthresh` by PRR until `high_seq` (`snd_nxt` when
//! recovery began) is acknowledged; Loss — an RTO fired
//! ([`crate::tcp_timer::tcp_enter_loss`]).
//!
//! # Where we differ
//!
//! - No ECN (`FLAG_ECE`, CWR, `tcp_ecn_withdraw_cwr()` in the undo) and no
//!   MTU probing (which would turn F-RTO off).
//! - No `is_sack_reneg` flag: the undo functions have nothing to clear.

use std::sync::Arc;

use net_core::Net;
use net_core::snmp::LinuxMib;

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcp_output::tcp_packets_in_flight;
use crate::tcp_states::TcpState;

use crate::tcp_recovery::{tcp_newreno_mark_lost, tcp_rack_mark_lost};

// ANCHOR: ack_flags
/// `FLAG_DATA`: the incoming frame contained data.
pub const FLAG_DATA: i32 = 0x01;
/// `FLAG_WIN_UPDATE`: the incoming ACK was a window update.
pub const FLAG_WIN_UPDATE: i32 = 0x02;
/// `FLAG_DATA_ACKED`: this ACK acknowledged new data.
pub const FLAG_DATA_ACKED: i32 = 0x04;
/// `FLAG_RETRANS_DATA_ACKED`: some of which was retransmitted.
pub const FLAG_RETRANS_DATA_ACKED: i32 = 0x08;
/// `FLAG_SYN_ACKED`: this ACK acknowledged our SYN.
pub const FLAG_SYN_ACKED: i32 = 0x10;
/// `FLAG_DATA_SACKED`: new SACK.
pub const FLAG_DATA_SACKED: i32 = 0x20;
/// `FLAG_ECE`: ECE in this ACK.
pub const FLAG_ECE: i32 = 0x40;
/// `FLAG_LOST_RETRANS`: this ACK marks some retransmission lost.
pub const FLAG_LOST_RETRANS: i32 = 0x80;
/// `FLAG_SLOWPATH`: do not skip RFC checks for window update.
pub const FLAG_SLOWPATH: i32 = 0x100;
/// `FLAG_ORIG_SACK_ACKED`: never-retransmitted data was (s)acked.
pub const FLAG_ORIG_SACK_ACKED: i32 = 0x200;
/// `FLAG_SND_UNA_ADVANCED`: `snd_una` was changed (!= `FLAG_DATA_ACKED`).
pub const FLAG_SND_UNA_ADVANCED: i32 = 0x400;
/// `FLAG_DSACKING_ACK`: SACK blocks contained a D-SACK info.
pub const FLAG_DSACKING_ACK: i32 = 0x800;
/// `FLAG_SET_XMIT_TIMER`: set TLP or RTO timer.
pub const FLAG_SET_XMIT_TIMER: i32 = 0x1000;
/// `FLAG_SACK_RENEGING`: `snd_una` advanced to a SACKed seq.
pub const FLAG_SACK_RENEGING: i32 = 0x2000;
/// `FLAG_UPDATE_TS_RECENT`: `tcp_replace_ts_recent()`.
pub const FLAG_UPDATE_TS_RECENT: i32 = 0x4000;
/// `FLAG_NO_CHALLENGE_ACK`: do not call `tcp_send_challenge_ack()`.
pub const FLAG_NO_CHALLENGE_ACK: i32 = 0x8000;
/// `FLAG_ACK_MAYBE_DELAYED`: likely a delayed ACK.
pub const FLAG_ACK_MAYBE_DELAYED: i32 = 0x10000;
/// `FLAG_DSACK_TLP`: the ACK carried a D-SACK of the tail loss probe
/// (`tcp_dsack_seen()`; read by `tcp_process_tlp_ack()`).
pub const FLAG_DSACK_TLP: i32 = 0x20000;
/// `FLAG_ACKED`.
pub const FLAG_ACKED: i32 = FLAG_DATA_ACKED | FLAG_SYN_ACKED;
/// `FLAG_NOT_DUP`: not a duplicate ACK.
pub const FLAG_NOT_DUP: i32 = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_ACKED;
/// `FLAG_CA_ALERT`: the congestion state machine must look.
pub const FLAG_CA_ALERT: i32 = FLAG_DATA_SACKED | FLAG_ECE | FLAG_DSACKING_ACK;
/// `FLAG_FORWARD_PROGRESS`.
pub const FLAG_FORWARD_PROGRESS: i32 = FLAG_ACKED | FLAG_DATA_SACKED;
// ANCHOR_END: ack_flags

/// `tcp_is_sack()`: SACK was negotiated; otherwise `tcp_is_reno()`.
pub fn tcp_is_sack(tp: &TcpSk) -> bool {
    tp.rx_opt.sack_ok
}

/// `tcp_left_out()`: segments that have left the network without being
/// cumulatively acknowledged — SACKed or deemed lost.
pub fn tcp_left_out(tp: &TcpSk) -> u32 {
    tp.sacked_out + tp.lost_out
}

/// `tcp_in_cwnd_reduction()`: in CWR or Recovery, where PRR sets the window.
pub fn tcp_in_cwnd_reduction(tp: &TcpSk) -> bool {
    tp.icsk_ca_state == TCP_CA_CWR || tp.icsk_ca_state == TCP_CA_RECOVERY
}

/// `tcp_set_ca_state()`: tell the algorithm (`set_state`), then change.
pub fn tcp_set_ca_state(tp: &mut TcpSk, ca_state: u8) {
    let ops = tp.icsk_ca_ops;
    ops.set_state(tp, ca_state);
    tp.icsk_ca_state = ca_state;
}

/// `tcp_any_retrans_done()`: a retransmission is in flight, or the head
/// was ever retransmitted.
fn tcp_any_retrans_done(tp: &TcpSk) -> bool {
    tp.retrans_out != 0
        || tp.tcp_rtx_queue.front().is_some_and(|skb| TCP_SKB_CB(skb).sacked & TCPCB_EVER_RETRANS != 0)
}

// ANCHOR: reno_sacks
/// Mirrors `tcp_limit_reno_sacked()`: without SACK, `sacked_out` counts
/// duplicate ACKs; more than the segments in flight minus the holes means
/// the "SACKs" were reordering. Returns true if it had to clamp.
fn tcp_limit_reno_sacked(tp: &mut TcpSk) -> bool {
    let holes = tp.lost_out.max(1).min(tp.packets_out);
    if tp.sacked_out + holes > tp.packets_out {
        tp.sacked_out = tp.packets_out - holes;
        return true;
    }
    false
}

/// Mirrors `tcp_check_reno_reordering()`: if the duplicate ACKs outnumber
/// what can be missing, the path reorders: raise `reordering` to the
/// segments in flight (TCPRenoReorder).
fn tcp_check_reno_reordering(net: &Net, tn: &TcpNet, tp: &mut TcpSk, addend: u32) {
    if !tcp_limit_reno_sacked(tp) {
        return;
    }
    let max = tn.sysctl.tcp_max_reordering.get().clamp(1, i64::from(u32::MAX)) as u32;
    tp.reordering = (tp.packets_out + addend).min(max);
    net.mib.inc(LinuxMib::TCPRenoReorder);
}

/// Mirrors `tcp_add_reno_sack()`: a duplicate ACK without SACK stands for
/// one segment that left the network (RFC 5681 §3.2 step 3).
pub fn tcp_add_reno_sack(net: &Net, tn: &TcpNet, tp: &mut TcpSk, num_dupack: u32) -> u32 {
    if num_dupack == 0 {
        return 0;
    }
    let prior = tp.sacked_out;
    tp.sacked_out += num_dupack;
    tcp_check_reno_reordering(net, tn, tp, 0);
    tp.sacked_out.saturating_sub(prior)
}

/// Mirrors `tcp_remove_reno_sacks()`: `acked` segments were cumulatively
/// acknowledged; one of them filled the hole, the others had each earned
/// a duplicate ACK already. Returns the segments newly delivered.
pub fn tcp_remove_reno_sacks(net: &Net, tn: &TcpNet, tp: &mut TcpSk, acked: u32) -> u32 {
    let mut delivered = 0;
    if acked > 0 {
        delivered = acked.saturating_sub(tp.sacked_out).max(1);
        tp.sacked_out = tp.sacked_out.saturating_sub(acked - 1);
    }
    tcp_check_reno_reordering(net, tn, tp, acked);
    delivered
}

/// `tcp_reset_reno_sack()`.
pub fn tcp_reset_reno_sack(tp: &mut TcpSk) {
    tp.sacked_out = 0;
}
// ANCHOR_END: reno_sacks

// ANCHOR: prr
/// Mirrors `tcp_init_cwnd_reduction()`: recovery (or CWR) begins; remember
/// the window (`prior_cwnd`), zero PRR's counters, take the algorithm's
/// `ssthresh()`, and end the episode at `high_seq` = `snd_nxt`.
pub fn tcp_init_cwnd_reduction(tp: &mut TcpSk) {
    tp.high_seq = tp.snd_nxt;
    tp.tlp_high_seq = 0;
    tp.snd_cwnd_cnt = 0;
    tp.prior_cwnd = tp.snd_cwnd;
    tp.prr_delivered = 0;
    tp.prr_out = 0;
    let ops = tp.icsk_ca_ops;
    tp.snd_ssthresh = ops.ssthresh(tp);
}

/// Mirrors `tcp_cwnd_reduction()`, Proportional Rate Reduction (RFC 6937
/// §3): on each ACK in recovery, `newly_acked_sacked` segments were
/// delivered. While more than `ssthresh` is in flight, send in proportion
/// — `ssthresh / prior_cwnd` of what was delivered (rounded up); once the
/// pipe is below `ssthresh`, grow back to it no faster than slow start
/// (PRR-SSRB: what was delivered, plus one if `snd_una` advanced and
/// nothing new was lost). At least one segment goes out on entry, the
/// fast retransmit. The result is `snd_cwnd` = in flight + that count.
pub fn tcp_cwnd_reduction(tp: &mut TcpSk, newly_acked_sacked: u32, newly_lost: u32, flag: i32) {
    if newly_acked_sacked == 0 || tp.prior_cwnd == 0 {
        return;
    }
    let in_flight = i64::from(tcp_packets_in_flight(tp));
    let delta = i64::from(tp.snd_ssthresh) - in_flight;
    tp.prr_delivered += newly_acked_sacked;
    let mut sndcnt: i64 = if delta < 0 {
        let dividend =
            u64::from(tp.snd_ssthresh) * u64::from(tp.prr_delivered) + u64::from(tp.prior_cwnd) - 1;
        (dividend / u64::from(tp.prior_cwnd)) as i64 - i64::from(tp.prr_out)
    } else {
        let mut s = (i64::from(tp.prr_delivered) - i64::from(tp.prr_out)).max(i64::from(newly_acked_sacked));
        if flag & FLAG_SND_UNA_ADVANCED != 0 && newly_lost == 0 {
            s += 1;
        }
        s.min(delta)
    };
    // Force a fast retransmit upon entering fast recovery.
    sndcnt = sndcnt.max(if tp.prr_out != 0 { 0 } else { 1 });
    tp.snd_cwnd = (in_flight + sndcnt).clamp(1, i64::from(TCP_INFINITE_SSTHRESH)) as u32;
}

/// Mirrors `tcp_end_cwnd_reduction()`: leaving CWR or Recovery (without
/// undo), the window is `ssthresh` (RFC 6937: "cwnd = ssthresh"), and the
/// algorithm hears `CA_EVENT_COMPLETE_CWR`.
pub fn tcp_end_cwnd_reduction(net: &Net, tp: &mut TcpSk) {
    if tp.snd_ssthresh < TCP_INFINITE_SSTHRESH && (tp.icsk_ca_state == TCP_CA_CWR || tp.undo_marker != 0) {
        tp.snd_cwnd = tp.snd_ssthresh;
        tp.snd_cwnd_stamp = tcp_jiffies32(net);
    }
    let ops = tp.icsk_ca_ops;
    ops.cwnd_event(tp, crate::tcp_cong::CaEvent::CompleteCwr);
}
// ANCHOR_END: prr

/// `tcp_current_ssthresh()`: the threshold to restore if this reduction
/// proves spurious — ¾ of the window when not already reducing.
fn tcp_current_ssthresh(tp: &TcpSk) -> u32 {
    if tcp_in_cwnd_reduction(tp) {
        tp.snd_ssthresh
    } else {
        tp.snd_ssthresh.max((tp.snd_cwnd >> 1) + (tp.snd_cwnd >> 2))
    }
}

// ANCHOR: undo
/// Mirrors `tcp_init_undo()`: remember where a reduction began
/// (`undo_marker`) and how many retransmissions must prove spurious
/// before it can be undone (`undo_retrans`): those in flight, plus a
/// loss probe that resent old data. 0 means "can undo now", so none is
/// -1; each retransmission then adds one (`tcp_retransmit_skb()`) and each
/// D-SACK of one takes one away.
pub fn tcp_init_undo(tp: &mut TcpSk) {
    tp.undo_marker = tp.snd_una;
    tp.undo_retrans = tp.retrans_out as i32;
    if tp.tlp_high_seq != 0 && tp.tlp_retrans {
        tp.undo_retrans += 1;
    }
    if tp.undo_retrans == 0 {
        tp.undo_retrans = -1;
    }
}

/// `tcp_tsopt_ecr_before()`: this ACK echoes a timestamp, and one older
/// than `when` (in the timestamp clock: ms).
pub fn tcp_tsopt_ecr_before(tp: &TcpSk, when: u32) -> bool {
    tp.rx_opt.saw_tstamp && tp.rx_opt.rcv_tsecr != 0 && before(tp.rx_opt.rcv_tsecr, when)
}

/// Mirrors `tcp_packet_delayed()` (Linux 6.18): did the original
/// transmission, not a retransmission, reach the peer? With a first
/// retransmission on record (`retrans_stamp`), yes if this ACK echoes a
/// timestamp from before it (RFC 3522, the Eifel detection). With none, no
/// retransmission has left yet, so whatever is acknowledged was merely
/// delayed — except where the stamp was cleared after one did: a Reno
/// connection at `high_seq`, or a SYN still unanswered.
fn tcp_packet_delayed(tp: &TcpSk) -> bool {
    if tp.retrans_stamp != 0 {
        return tcp_tsopt_ecr_before(tp, tp.retrans_stamp);
    }
    if !tcp_is_sack(tp) && !before(tp.snd_una, tp.high_seq) {
        return false;
    }
    tp.state != TcpState::SynSent
}

/// Mirrors `tcp_undo_cwnd_reduction()`: give back the window a spurious
/// reduction took — the algorithm's `undo_cwnd()` (Reno and CUBIC: the
/// larger of now and `prior_cwnd`) and `prior_ssthresh` if that is more —
/// and with `unmark_loss` forget which segments were lost. RACK looks at
/// the queue again on the next ACK (`rack.advanced`).
fn tcp_undo_cwnd_reduction(net: &Net, tp: &mut TcpSk, unmark_loss: bool) {
    if unmark_loss {
        for skb in tp.tcp_rtx_queue.iter_mut() {
            TCP_SKB_CB_mut(skb).sacked &= !TCPCB_LOST;
        }
        tp.lost_out = 0;
    }
    if tp.prior_ssthresh != 0 {
        let ops = tp.icsk_ca_ops;
        tp.snd_cwnd = ops.undo_cwnd(tp);
        if tp.prior_ssthresh > tp.snd_ssthresh {
            tp.snd_ssthresh = tp.prior_ssthresh;
        }
    }
    tp.snd_cwnd_stamp = tcp_jiffies32(net);
    tp.undo_marker = 0;
    tp.rack.advanced = true; // "Force RACK to re-exam losses"
}

/// `tcp_may_undo()`: a reduction is on record and either every
/// retransmission was D-SACKed or the original got through
/// ([`tcp_packet_delayed`]).
fn tcp_may_undo(tp: &TcpSk) -> bool {
    tp.undo_marker != 0 && (tp.undo_retrans == 0 || tcp_packet_delayed(tp))
}

/// Mirrors `tcp_is_non_sack_preventing_reopen()`: Reno holds its state
/// until something *above* `high_seq` is acknowledged (RFC 6582 §3.2 step
/// 5's guard against a false fast retransmit).
fn tcp_is_non_sack_preventing_reopen(tp: &mut TcpSk) -> bool {
    if tp.snd_una == tp.high_seq && !tcp_is_sack(tp) {
        if !tcp_any_retrans_done(tp) {
            tp.retrans_stamp = 0;
        }
        return true;
    }
    false
}

/// Mirrors `tcp_try_undo_recovery()`: `high_seq` is acknowledged. If the
/// recovery (or the RTO's Loss) was spurious ([`tcp_may_undo`]) undo it —
/// TCPLossUndo or TCPFullUndo; if not, RACK's widened reordering window
/// has one recovery fewer to live (`reo_wnd_persist`). Reno may hold the
/// state ([`tcp_is_non_sack_preventing_reopen`]: returns true); otherwise
/// Open.
fn tcp_try_undo_recovery(net: &Net, tp: &mut TcpSk) -> bool {
    if tcp_may_undo(tp) {
        // "Happy end! We did not retransmit anything or our original
        // transmission succeeded."
        tcp_undo_cwnd_reduction(net, tp, false);
        net.mib.inc(if tp.icsk_ca_state == TCP_CA_LOSS {
            LinuxMib::TCPLossUndo
        } else {
            LinuxMib::TCPFullUndo
        });
    } else if tp.rack.reo_wnd_persist != 0 {
        tp.rack.reo_wnd_persist -= 1;
    }
    if tcp_is_non_sack_preventing_reopen(tp) {
        return true;
    }
    tcp_set_ca_state(tp, TCP_CA_OPEN);
    false
}

/// Mirrors `tcp_try_undo_dsack()`: D-SACKs have now covered every
/// retransmission (`undo_retrans` 0), so none was needed: undo
/// (TCPDSACKUndo), and keep RACK's reordering window a recovery longer.
fn tcp_try_undo_dsack(net: &Net, tp: &mut TcpSk) -> bool {
    if tp.undo_marker != 0 && tp.undo_retrans == 0 {
        tp.rack.reo_wnd_persist =
            (tp.rack.reo_wnd_persist + 1).min(crate::tcp_recovery::TCP_RACK_RECOVERY_THRESH);
        tcp_undo_cwnd_reduction(net, tp, false);
        net.mib.inc(LinuxMib::TCPDSACKUndo);
        return true;
    }
    false
}

/// Mirrors `tcp_try_undo_loss()`: in Loss, after an ACK that advanced
/// `snd_una` (or F-RTO's verdict, `frto_undo`), the RTO was spurious:
/// undo it, unmarking the lost segments (TCPLossUndo, and TCPSpuriousRTOs
/// for F-RTO), and with SACK or F-RTO go back to Open.
fn tcp_try_undo_loss(net: &Net, tp: &mut TcpSk, frto_undo: bool) -> bool {
    if !(frto_undo || tcp_may_undo(tp)) {
        return false;
    }
    tcp_undo_cwnd_reduction(net, tp, true);
    net.mib.inc(LinuxMib::TCPLossUndo);
    if frto_undo {
        net.mib.inc(LinuxMib::TCPSpuriousRTOs);
    }
    tp.icsk_retransmits = 0;
    if tcp_is_non_sack_preventing_reopen(tp) {
        return true;
    }
    if frto_undo || tcp_is_sack(tp) {
        tcp_set_ca_state(tp, TCP_CA_OPEN);
    }
    true
}

/// Mirrors `tcp_try_undo_partial()`: in Recovery, an ACK advanced
/// `snd_una` and the segment it covers was only delayed
/// ([`tcp_packet_delayed`]): "Plain luck! Hole is filled with delayed
/// packet, rather than with a retransmit." The path reorders more than we
/// thought (TCPTSReorder). With retransmissions still out, keep sending
/// new data but nothing more (returns true); with none, undo
/// (TCPPartialUndo) and settle in Open or Disorder.
fn tcp_try_undo_partial(net: &Net, tn: &TcpNet, tp: &mut TcpSk, prior_snd_una: u32) -> bool {
    if tp.undo_marker == 0 || !tcp_packet_delayed(tp) {
        return false;
    }
    let fack = super::sacktag::tcp_highest_sack_seq(tp);
    super::sacktag::tcp_check_sack_reordering(net, tn, tp, prior_snd_una, fack, true);
    if tp.retrans_out != 0 {
        return true;
    }
    if !tcp_any_retrans_done(tp) {
        tp.retrans_stamp = 0;
    }
    tcp_undo_cwnd_reduction(net, tp, true);
    net.mib.inc(LinuxMib::TCPPartialUndo);
    tcp_try_keep_open(tp);
    false
}
// ANCHOR_END: undo

// ANCHOR: tcp_enter_recovery
/// Mirrors `tcp_enter_recovery()`: count it (TCPRenoRecovery or
/// TCPSackRecovery), mark where undo would start, begin PRR
/// ([`tcp_init_cwnd_reduction`]: `ssthresh` from the algorithm, `high_seq`
/// = `snd_nxt`) unless already reducing, and enter Recovery.
pub fn tcp_enter_recovery(net: &Net, tp: &mut TcpSk) {
    net.mib.inc(if tcp_is_sack(tp) { LinuxMib::TCPSackRecovery } else { LinuxMib::TCPRenoRecovery });
    // Linux's "tcp: fix tcp_enter_recovery() to zero retrans_stamp when
    // it's safe": no retransmission of an earlier episode is out, so none
    // may time this one, or make tcp_packet_delayed() compare against it.
    if !tcp_any_retrans_done(tp) {
        tp.retrans_stamp = 0;
    }
    tp.prior_ssthresh = 0;
    tcp_init_undo(tp);
    if !tcp_in_cwnd_reduction(tp) {
        tp.prior_ssthresh = tcp_current_ssthresh(tp);
        tcp_init_cwnd_reduction(tp);
    }
    tcp_set_ca_state(tp, TCP_CA_RECOVERY);
}
// ANCHOR_END: tcp_enter_recovery

/// Mirrors `tcp_time_to_recover()` (Linux 6.18): "Has loss detection
/// marked at least one packet lost?" — RACK, or for Reno the head after
/// `reordering` duplicate ACKs (RFC 5681's three with the default
/// `tcp_reordering`).
pub fn tcp_time_to_recover(tp: &TcpSk) -> bool {
    tp.lost_out != 0
}

/// `tcp_mark_skb_lost()` for the skb at `idx`: LOST, unless SACKed; one
/// already lost whose retransmission is in flight has lost that too —
/// not in flight any more, and counted as `TCPLostRetransmit`.
pub fn tcp_mark_skb_lost(net: &Net, tp: &mut TcpSk, idx: usize) {
    let Some(skb) = tp.tcp_rtx_queue.get_mut(idx) else { return };
    let cb = TCP_SKB_CB_mut(skb);
    if cb.sacked & TCPCB_SACKED_ACKED != 0 {
        return;
    }
    if cb.sacked & TCPCB_LOST != 0 {
        if cb.sacked & TCPCB_SACKED_RETRANS != 0 {
            cb.sacked &= !TCPCB_SACKED_RETRANS;
            tp.retrans_out = tp.retrans_out.saturating_sub(1);
            net.mib.inc(LinuxMib::TCPLostRetransmit);
        }
    } else {
        cb.sacked |= TCPCB_LOST;
        tp.lost_out += 1;
    }
}

// ANCHOR: tcp_simple_retransmit
/// Mirrors `tcp_simple_retransmit()` (net/ipv4/tcp_input.c), what a path
/// MTU drop calls: every segment in flight that no longer fits the MSS
/// (`tcp_current_mss()`) was dropped on the way, so it is marked lost and
/// resent at once in pieces that fit (`tcp_xmit_retransmit_queue()` →
/// `tcp_retransmit_skb()` → `tcp_fragment()`). The congestion window is
/// left alone ("we do not increase amount of _data_ in network, but units
/// changed"); outside Loss the connection enters it with `high_seq` at
/// `snd_nxt` and no undo.
pub fn tcp_simple_retransmit(net: &Net, tn: &TcpNet, sk: &crate::sock::TcpSock, tp: &mut TcpSk) {
    let mss = crate::tcp_output::tcp_current_mss(net, tp);
    for idx in 0..tp.tcp_rtx_queue.len() {
        // tcp_skb_seglen(): the payload, one segment per skb here.
        if tp.tcp_rtx_queue[idx].len() > usize::from(mss) {
            tcp_mark_skb_lost(net, tp, idx);
        }
    }
    if tp.lost_out == 0 {
        return;
    }
    if !tcp_is_sack(tp) {
        tcp_limit_reno_sacked(tp);
    }
    if tp.icsk_ca_state != TCP_CA_LOSS {
        tp.high_seq = tp.snd_nxt;
        tp.snd_ssthresh = tcp_current_ssthresh(tp);
        tp.prior_ssthresh = 0;
        tp.undo_marker = 0;
        tcp_set_ca_state(tp, TCP_CA_LOSS);
    }
    crate::tcp_output::tcp_xmit_retransmit_queue(net, tn, sk, tp);
}
// ANCHOR_END: tcp_simple_retransmit

// ANCHOR: tcp_identify_packet_loss
/// Mirrors `tcp_identify_packet_loss()`: which segments are now lost —
/// without SACK the head after `reordering` duplicate ACKs
/// ([`tcp_newreno_mark_lost`]), with SACK whatever RACK finds
/// ([`tcp_rack_mark_lost`]). If RACK armed its reordering timer, the ACK
/// must not replace it (`FLAG_SET_XMIT_TIMER` cleared); a retransmission
/// found lost again sets `FLAG_LOST_RETRANS`.
fn tcp_identify_packet_loss(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, ack_flag: &mut i32) {
    if tp.tcp_rtx_queue.is_empty() {
        return;
    }
    if !tcp_is_sack(tp) {
        tcp_newreno_mark_lost(net, tp, *ack_flag & FLAG_SND_UNA_ADVANCED != 0);
    } else {
        let prior_retrans = tp.retrans_out;
        if tcp_rack_mark_lost(net, tn, sk, tp) {
            *ack_flag &= !FLAG_SET_XMIT_TIMER;
        }
        if prior_retrans > tp.retrans_out {
            *ack_flag |= FLAG_LOST_RETRANS;
        }
    }
}
// ANCHOR_END: tcp_identify_packet_loss

/// Mirrors `tcp_try_keep_open()`: Disorder while anything is SACKed, lost
/// or retransmitted, else Open; a change restarts `high_seq`.
pub fn tcp_try_keep_open(tp: &mut TcpSk) {
    let state = if tcp_left_out(tp) != 0 || tcp_any_retrans_done(tp) { TCP_CA_DISORDER } else { TCP_CA_OPEN };
    if tp.icsk_ca_state != state {
        tcp_set_ca_state(tp, state);
        tp.high_seq = tp.snd_nxt;
    }
}

/// Mirrors `tcp_try_to_open()` (no ECN): forget the retransmission clock
/// when nothing is retransmitted, and settle in Open or Disorder.
fn tcp_try_to_open(tp: &mut TcpSk) {
    if !tcp_any_retrans_done(tp) {
        tp.retrans_stamp = 0;
    }
    if tp.icsk_ca_state != TCP_CA_CWR {
        tcp_try_keep_open(tp);
    }
}

/// Mirrors `tcp_check_sack_reneging()`: `snd_una` advanced onto a segment
/// the receiver had SACKed — it threw SACKed data away (RFC 2018 §8 lets
/// it). Rather than trust the scoreboard, fire the RTO soon: after
/// `max(srtt/2, 10 ms)`; [`crate::tcp_timer::tcp_enter_loss`] then clears
/// the SACK marks. Counted as TCPSACKReneging there, as Linux does. The
/// ACK's `FLAG_SET_XMIT_TIMER` is cleared, so `tcp_ack()` does not put a
/// full RTO (or a loss probe) back in this timer's place.
fn tcp_check_sack_reneging(net: &Net, sk: &Arc<TcpSock>, tp: &mut TcpSk, ack_flag: &mut i32) -> bool {
    if *ack_flag & FLAG_SACK_RENEGING != 0 && *ack_flag & FLAG_SND_UNA_ADVANCED != 0 {
        let srtt_half_ms = (tp.rtt.srtt_us >> 4) / 1000;
        let delay = srtt_half_ms.max(10);
        crate::tcp_output::inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_RETRANS, delay);
        *ack_flag &= !FLAG_SET_XMIT_TIMER;
        return true;
    }
    false
}

/// What the ACK leaves to send (`REXMIT_NONE`, `REXMIT_LOST`,
/// `REXMIT_NEW`), for `tcp_xmit_recovery()` at the end of `tcp_ack()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rexmit {
    /// Nothing beyond what `tcp_data_snd_check()` sends.
    None,
    /// The segments marked lost, as the window allows.
    Lost,
    /// F-RTO's step 2b: new data first, to see whether the RTO was spurious.
    New,
}

// ANCHOR: tcp_process_loss
/// Mirrors `tcp_process_loss()` (Linux 6.18): an ACK in Loss, after an RTO.
///
/// An ACK that advances `snd_una` may show the RTO was spurious
/// ([`tcp_try_undo_loss`], by timestamps). With F-RTO on (RFC 5682 §3.1,
/// the SACK-enhanced version; `tp.frto`, from `tcp_frto`): never
/// retransmitted data (S)ACKed proves it spurious (step 3b: undo,
/// TCPSpuriousRTOs); after new data went out, a SACK or duplicate ACK
/// proves the loss real (step 3a); the first ACK that advances `snd_una`
/// below `high_seq` sends new data instead of retransmitting (step 2b,
/// [`Rexmit::New`]) if there is any and the window takes it, and
/// otherwise falls back to the conventional recovery. Once `high_seq` is
/// acknowledged, Loss ends ([`tcp_try_undo_recovery`]). A Reno duplicate
/// ACK for new data sent in Loss still counts as a departure.
fn tcp_process_loss(net: &Net, tn: &TcpNet, tp: &mut TcpSk, flag: i32, num_dupack: u32) -> Rexmit {
    let recovered = !before(tp.snd_una, tp.high_seq);
    if flag & FLAG_SND_UNA_ADVANCED != 0 && tcp_try_undo_loss(net, tp, false) {
        return Rexmit::None;
    }
    if tp.frto {
        if flag & FLAG_ORIG_SACK_ACKED != 0 && tcp_try_undo_loss(net, tp, true) {
            return Rexmit::None;
        }
        if after(tp.snd_nxt, tp.high_seq) {
            if flag & FLAG_DATA_SACKED != 0 || num_dupack > 0 {
                tp.frto = false; // step 3a: the loss was real
            }
        } else if flag & FLAG_SND_UNA_ADVANCED != 0 && !recovered {
            tp.high_seq = tp.snd_nxt;
            // Step 2b: new data, once tcp_ack() has updated the window.
            if !tp.sk_write_queue.is_empty() && after(tp.tcp_wnd_end(), tp.snd_nxt) {
                return Rexmit::New;
            }
            tp.frto = false;
        }
    }
    if recovered {
        tcp_try_undo_recovery(net, tp);
        return Rexmit::None;
    }
    if !tcp_is_sack(tp) {
        if after(tp.snd_nxt, tp.high_seq) && num_dupack > 0 {
            tcp_add_reno_sack(net, tn, tp, num_dupack);
        } else if flag & FLAG_SND_UNA_ADVANCED != 0 {
            tcp_reset_reno_sack(tp);
        }
    }
    Rexmit::Lost
}
// ANCHOR_END: tcp_process_loss

// ANCHOR: tcp_fastretrans_alert
/// The congestion state machine for one "dubious" ACK: a duplicate, one
/// carrying SACK or D-SACK, or any ACK outside Open.
///
/// Mirrors `tcp_fastretrans_alert()` (net/ipv4/tcp_input.c of Linux
/// 6.18), steps B–E: reneged SACKs force an early RTO; in Recovery, an ACK
/// of `high_seq` ends it — undone if it was spurious
/// (`tcp_try_undo_recovery()`), else `tcp_end_cwnd_reduction()`:
/// `snd_cwnd` = `ssthresh` (Reno waits for an ACK above `high_seq`).
/// Then, by state: in Recovery a duplicate ACK counts (Reno), a partial
/// ACK of a segment that was only delayed undoes
/// (`tcp_try_undo_partial()`), so do D-SACKs of every retransmission
/// (`tcp_try_undo_dsack()`), and loss detection runs
/// (`tcp_identify_packet_loss()`: RACK, or NewReno's head after a partial
/// ACK) — after an undo, a loss it finds starts a new recovery; in Loss,
/// `tcp_process_loss()` (undo, F-RTO), then loss detection — and if it
/// finds a retransmission lost again, the sender moves on to Recovery as
/// Open would; in Open/Disorder, duplicate ACKs count (Reno), D-SACKs
/// may undo the last reduction, loss detection runs, and once something
/// is marked lost ([`tcp_time_to_recover`]) the sender enters Recovery
/// (fast retransmit). Returns what `tcp_xmit_recovery()` is to send: the
/// lost segments as PRR's window allows, or F-RTO's new data.
pub fn tcp_fastretrans_alert(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    prior_snd_una: u32,
    num_dupack: u32,
    ack_flag: &mut i32,
) -> Rexmit {
    let flag = *ack_flag;
    if tp.packets_out == 0 && tp.sacked_out != 0 {
        tp.sacked_out = 0;
    }
    // B. In all the states check for reneging SACKs.
    if tcp_check_sack_reneging(net, sk, tp, ack_flag) {
        return Rexmit::None;
    }
    // D. Check state exit conditions: high_seq is ACKed.
    if tp.icsk_ca_state == TCP_CA_OPEN {
        tp.retrans_stamp = 0;
    } else if !before(tp.snd_una, tp.high_seq) {
        match tp.icsk_ca_state {
            // CWR holds until something *above* high_seq is ACKed, so the
            // CWR bit reaches the receiver.
            TCP_CA_CWR if tp.snd_una != tp.high_seq => {
                tcp_end_cwnd_reduction(net, tp);
                tcp_set_ca_state(tp, TCP_CA_OPEN);
            }
            TCP_CA_RECOVERY => {
                if !tcp_is_sack(tp) {
                    tcp_reset_reno_sack(tp);
                }
                if tcp_try_undo_recovery(net, tp) {
                    return Rexmit::None;
                }
                tcp_end_cwnd_reduction(net, tp);
            }
            _ => {}
        }
    }
    // E. Process state.
    match tp.icsk_ca_state {
        TCP_CA_RECOVERY => {
            if flag & FLAG_SND_UNA_ADVANCED == 0 {
                if !tcp_is_sack(tp) {
                    tcp_add_reno_sack(net, tn, tp, num_dupack);
                }
            } else if tcp_try_undo_partial(net, tn, tp, prior_snd_una) {
                return Rexmit::None;
            }
            if tcp_try_undo_dsack(net, tp) {
                tcp_try_to_open(tp);
            }
            tcp_identify_packet_loss(net, tn, sk, tp, ack_flag);
            if tp.icsk_ca_state != TCP_CA_RECOVERY {
                if !tcp_time_to_recover(tp) {
                    return Rexmit::None;
                }
                // "Undo reverts the recovery state. If loss is evident,
                // starts a new recovery (e.g. reordering then loss)."
                tcp_enter_recovery(net, tp);
            }
            Rexmit::Lost
        }
        TCP_CA_LOSS => {
            let rexmit = tcp_process_loss(net, tn, tp, flag, num_dupack);
            tcp_identify_packet_loss(net, tn, sk, tp, ack_flag);
            if !(tp.icsk_ca_state == TCP_CA_OPEN || *ack_flag & FLAG_LOST_RETRANS != 0) {
                return rexmit;
            }
            // Loss ended, or a retransmission was lost again: look at this
            // ACK as Open would.
            tcp_open_or_disorder(net, tn, sk, tp, flag, num_dupack, ack_flag)
        }
        _ => tcp_open_or_disorder(net, tn, sk, tp, flag, num_dupack, ack_flag),
    }
}
// ANCHOR_END: tcp_fastretrans_alert

/// The `default:` arm of `tcp_fastretrans_alert()`: count the duplicate
/// ACK (Reno), let D-SACKs undo the last reduction (Open, Disorder), look
/// for losses, and enter Recovery if one was found, else settle in Open or
/// Disorder.
fn tcp_open_or_disorder(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    flag: i32,
    num_dupack: u32,
    ack_flag: &mut i32,
) -> Rexmit {
    if !tcp_is_sack(tp) {
        if flag & FLAG_SND_UNA_ADVANCED != 0 {
            tcp_reset_reno_sack(tp);
        }
        tcp_add_reno_sack(net, tn, tp, num_dupack);
    }
    if tp.icsk_ca_state <= TCP_CA_DISORDER {
        tcp_try_undo_dsack(net, tp);
    }
    tcp_identify_packet_loss(net, tn, sk, tp, ack_flag);
    if !tcp_time_to_recover(tp) {
        tcp_try_to_open(tp);
        return Rexmit::None;
    }
    tcp_enter_recovery(net, tp);
    Rexmit::Lost
}

/// `tcp_ack_is_dubious()`: a duplicate, an ACK with SACK news, or any ACK
/// outside Open goes to [`tcp_fastretrans_alert`].
pub fn tcp_ack_is_dubious(tp: &TcpSk, flag: i32) -> bool {
    flag & FLAG_NOT_DUP == 0 || flag & FLAG_CA_ALERT != 0 || tp.icsk_ca_state != TCP_CA_OPEN
}

/// `tcp_may_raise_cwnd()`: grow only on in-order delivery (RFC 5681),
/// or on any forward progress when the path is known to reorder.
fn tcp_may_raise_cwnd(tn: &TcpNet, tp: &TcpSk, flag: i32) -> bool {
    if i64::from(tp.reordering) > tn.sysctl.tcp_reordering.get() {
        return flag & FLAG_FORWARD_PROGRESS != 0;
    }
    flag & FLAG_DATA_ACKED != 0
}

// ANCHOR: tcp_cong_control
/// Mirrors `tcp_cong_control()` (without `cong_control` algorithms such as
/// BBR): in Recovery or CWR PRR sets the window
/// ([`tcp_cwnd_reduction`]); otherwise, if the ACK may raise it, the
/// algorithm's `cong_avoid()` grows it (Linux's `tcp_cong_avoid()`); then
/// the pacing rate follows the window (`tcp_update_pacing_rate()`).
pub fn tcp_cong_control(
    tn: &TcpNet,
    tp: &mut TcpSk,
    ack: u32,
    acked_sacked: u32,
    newly_lost: u32,
    flag: i32,
) {
    if tcp_in_cwnd_reduction(tp) {
        tcp_cwnd_reduction(tp, acked_sacked, newly_lost, flag);
    } else if tcp_may_raise_cwnd(tn, tp, flag) {
        let ops = tp.icsk_ca_ops;
        ops.cong_avoid(tp, ack, acked_sacked);
    }
    crate::tcp_input::tcp_update_pacing_rate(tp);
}
// ANCHOR_END: tcp_cong_control

/// The first RTO of an episode (`icsk_retransmits` == 0) counts the
/// recovery it ended, as `tcp_retransmit_timer()` does: TCPSackRecoveryFail
/// / TCPRenoRecoveryFail in Recovery, TCPLossFailures in Loss,
/// TCPSackFailures / TCPRenoFailures in Disorder or with SACKs pending.
pub fn tcp_count_rto_failures(net: &Net, tp: &TcpSk) {
    if tp.icsk_retransmits != 0 {
        return;
    }
    let sack = tcp_is_sack(tp);
    let state = if tp.icsk_ca_state == TCP_CA_OPEN && tp.sacked_out != 0 {
        TCP_CA_DISORDER
    } else {
        tp.icsk_ca_state
    };
    match state {
        TCP_CA_RECOVERY => {
            net.mib.inc(if sack { LinuxMib::TCPSackRecoveryFail } else { LinuxMib::TCPRenoRecoveryFail });
        }
        TCP_CA_LOSS => net.mib.inc(LinuxMib::TCPLossFailures),
        TCP_CA_DISORDER => {
            net.mib.inc(if sack { LinuxMib::TCPSackFailures } else { LinuxMib::TCPRenoFailures });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use net_core::{Clock, Net};

    use super::*;

    fn with_sk(f: impl FnOnce(&mut TcpSk)) {
        let net = Net::new("prr", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 131072, 16384);
        let mut tp = sk.lock.lock();
        f(&mut tp);
    }

    /// RFC 6937 §3's example: prior_cwnd 20, ssthresh 10, a SACK for each
    /// of 20 segments delivered while the pipe is above ssthresh: PRR sends
    /// ceil(ssthresh * prr_delivered / prior_cwnd) − prr_out each time,
    /// one segment for every two delivered, and ssthresh in total.
    #[test]
    fn prr_sends_in_proportion_above_ssthresh() {
        with_sk(|tp| {
            tp.packets_out = 20;
            tp.snd_cwnd = 20;
            tcp_init_cwnd_reduction(tp);
            assert_eq!((tp.prior_cwnd, tp.snd_ssthresh), (20, 10), "Reno halves");
            tp.icsk_ca_state = TCP_CA_RECOVERY;
            tp.lost_out = 1; // the hole
            let mut sent = Vec::new();
            for _ in 0..18 {
                tp.sacked_out += 1;
                tcp_cwnd_reduction(tp, 1, 0, 0);
                let n = tp.snd_cwnd.saturating_sub(tcp_packets_in_flight(tp));
                // Each send is a new segment in flight.
                tp.packets_out += n;
                tp.prr_out += n;
                sent.push(n);
            }
            assert_eq!(sent[0], 1, "the fast retransmit goes at once");
            assert_eq!(&sent[..6], [1, 0, 1, 0, 1, 0]);
            assert_eq!(tp.prr_out, 9, "ceil(10 * 18 / 20)");
        });
    }

    /// Below ssthresh, PRR-SSRB grows the pipe back by what was delivered
    /// plus one per ACK that advanced snd_una, never past ssthresh.
    #[test]
    fn prr_slow_start_reduction_bound_below_ssthresh() {
        with_sk(|tp| {
            tp.packets_out = 4;
            tp.snd_cwnd = 20;
            tcp_init_cwnd_reduction(tp);
            tp.icsk_ca_state = TCP_CA_RECOVERY;
            tp.prr_out = 3;
            tp.prr_delivered = 3;
            // Pipe 4, ssthresh 10: delta 6; delivered 2 with snd_una
            // advancing and nothing newly lost: 2 + 1 = 3.
            tcp_cwnd_reduction(tp, 2, 0, FLAG_SND_UNA_ADVANCED);
            assert_eq!(tp.snd_cwnd, 4 + 3);
            // A large delivery is capped at ssthresh.
            tcp_cwnd_reduction(tp, 20, 0, FLAG_SND_UNA_ADVANCED);
            assert_eq!(tp.snd_cwnd, 10);
            // Nothing delivered: nothing changes.
            tp.snd_cwnd = 7;
            tcp_cwnd_reduction(tp, 0, 0, 0);
            assert_eq!(tp.snd_cwnd, 7);
        });
    }

    #[test]
    fn reno_dupacks_count_until_the_threshold() {
        crate::tcp_output::with_sent_segments(0, 10, 0, |net, tn, tp| {
            tp.rx_opt.sack_ok = false; // Reno
            tp.reordering = 3;
            // tcp_identify_packet_loss() for Reno: tcp_newreno_mark_lost().
            for k in 1..=2 {
                tcp_add_reno_sack(net, tn, tp, 1);
                crate::tcp_recovery::tcp_newreno_mark_lost(net, tp, false);
                assert_eq!(tp.sacked_out, k);
                assert!(!tcp_time_to_recover(tp));
            }
            tcp_add_reno_sack(net, tn, tp, 1);
            crate::tcp_recovery::tcp_newreno_mark_lost(net, tp, false);
            assert!(tcp_time_to_recover(tp), "three duplicate ACKs: the head is marked lost");
            assert_eq!(TCP_SKB_CB(&tp.tcp_rtx_queue[0]).sacked & TCPCB_LOST, TCPCB_LOST);
            // More duplicates than segments that could be missing: reordering.
            for _ in 0..10 {
                tcp_add_reno_sack(net, tn, tp, 1);
            }
            assert_eq!(tp.sacked_out, 9, "clamped to packets_out − holes");
            assert_eq!(tp.reordering, 10);
            assert!(net.mib.get(LinuxMib::TCPRenoReorder) > 0);
            // A cumulative ACK of 4 segments: one filled the hole, 3 had dupacks.
            assert_eq!(tcp_remove_reno_sacks(net, tn, tp, 4), 1);
            assert_eq!(tp.sacked_out, 6);
        });
    }

    /// `tcp_init_undo()`: the retransmissions in flight must all prove
    /// spurious, a loss probe that resent old data too; none is -1, since
    /// 0 means "undo now".
    #[test]
    fn init_undo_counts_what_must_prove_spurious() {
        with_sk(|tp| {
            tp.snd_una = 5000;
            tcp_init_undo(tp);
            assert_eq!((tp.undo_marker, tp.undo_retrans), (5000, -1));
            assert!(!tcp_may_undo(tp) || tcp_packet_delayed(tp), "nothing to undo on -1 alone");
            tp.retrans_out = 2;
            tp.tlp_high_seq = 9000;
            tp.tlp_retrans = true;
            tcp_init_undo(tp);
            assert_eq!(tp.undo_retrans, 3);
        });
    }

    /// `tcp_packet_delayed()`: with a retransmission on record, only an
    /// echo older than it says the original got through; without one,
    /// what was acknowledged had only been delayed — except for Reno at
    /// `high_seq` and a SYN not yet answered.
    #[test]
    fn packet_delayed_reads_the_echo_or_the_missing_stamp() {
        with_sk(|tp| {
            tp.rx_opt.sack_ok = true;
            tp.state = TcpState::Established;
            tp.retrans_stamp = 1200;
            tp.rx_opt.saw_tstamp = true;
            tp.rx_opt.rcv_tsecr = 1100;
            assert!(tcp_packet_delayed(tp), "echo older than the retransmission");
            tp.rx_opt.rcv_tsecr = 1200;
            assert!(!tcp_packet_delayed(tp), "echo of the retransmission itself");
            tp.rx_opt.saw_tstamp = false;
            tp.rx_opt.rcv_tsecr = 1100;
            assert!(!tcp_packet_delayed(tp), "no timestamp on this ACK");
            tp.retrans_stamp = 0;
            assert!(tcp_packet_delayed(tp), "nothing retransmitted yet");
            tp.rx_opt.sack_ok = false;
            tp.snd_una = 7000;
            tp.high_seq = 7000;
            assert!(!tcp_packet_delayed(tp), "Reno at high_seq cleared the stamp itself");
            tp.rx_opt.sack_ok = true;
            tp.state = TcpState::SynSent;
            assert!(!tcp_packet_delayed(tp), "a SYN's stamp is cleared when it is answered");
        });
    }

    /// `tcp_undo_cwnd_reduction()`: the algorithm's `undo_cwnd()` (Reno:
    /// the larger of now and `prior_cwnd`), `prior_ssthresh` if larger,
    /// the lost marks only when asked; `undo_marker` is spent.
    #[test]
    fn undo_restores_the_window_and_threshold() {
        let net = Net::new("undo", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 131072, 16384);
        let mut tp = sk.lock.lock();
        tp.snd_cwnd = 10;
        tp.snd_ssthresh = TCP_INFINITE_SSTHRESH;
        tp.snd_una = 1;
        tcp_enter_recovery(&net, &mut tp);
        assert_eq!((tp.prior_cwnd, tp.snd_ssthresh, tp.undo_marker), (10, 5, 1), "Reno halves");
        tp.snd_cwnd = 4;
        tp.undo_retrans = 0; // every retransmission D-SACKed
        assert!(tcp_try_undo_dsack(&net, &mut tp));
        assert_eq!((tp.snd_cwnd, tp.snd_ssthresh, tp.undo_marker), (10, TCP_INFINITE_SSTHRESH, 0));
        assert_eq!(net.mib.get(LinuxMib::TCPDSACKUndo), 1);
        assert!(!tcp_try_undo_dsack(&net, &mut tp), "once");
    }
}
