//! Tail loss probe (TLP, RFC 8985 §7): when the last segments of a flight
//! are lost, no duplicate ACK comes back to start fast recovery, and the
//! sender would wait for the RTO (at least 200 ms, however short the
//! path). Instead, about two round trips after the last transmission it
//! sends one probe — a new segment if the window allows one, else the
//! last segment again — so that the ACK (with SACK) it draws starts
//! recovery the ordinary way.
//!
//! Mirrors Linux 6.18: `tcp_schedule_loss_probe()`, `tcp_send_loss_probe()`
//! and `tcp_rearm_rto()`'s offset (net/ipv4/tcp_output.c),
//! `tcp_process_tlp_ack()` and `tcp_set_xmit_timer()`
//! (net/ipv4/tcp_input.c), the `ICSK_TIME_LOSS_PROBE` case of
//! `tcp_write_timer_handler()` (net/ipv4/tcp_timer.c).
//!
//! - The probe timer shares the retransmit timer (`icsk_pending` =
//!   `ICSK_TIME_LOSS_PROBE`): each transmission of new data, and each ACK
//!   that frees data, arms the probe instead of the RTO while the
//!   connection is in Open or CWR, SACK is on and `tcp_early_retrans` is 3
//!   or 4 (the default is 3). The probe timeout (PTO) is two smoothed RTTs
//!   (`srtt_us >> 2`, `srtt_us` being kept times 8) plus 2 ms
//!   (`TCP_TIMEOUT_MIN_US`) — or plus `TCP_RTO_MIN` when only one segment is
//!   in flight, whose ACK may be delayed — and never later than the RTO
//!   would fire.
//! - One probe per episode (`tlp_high_seq` = `snd_nxt` when sent;
//!   `TCPLossProbes`). Its ACK settles it ([`tcp_process_tlp_ack`]): a
//!   D-SACK of the probe, or a pure duplicate ACK, says the original got
//!   through and nothing was lost; an ACK past `tlp_high_seq` after a
//!   retransmitted probe says the probe repaired a loss, and the window is
//!   reduced as for one loss (CWR; `TCPLossProbeRecovery`).
//! - The RTO is not forgotten while the probe timer holds its place: if
//!   the probe cannot go, the retransmit timer is rearmed for what is left
//!   of the RTO counted from the head's last transmission
//!   (`tcp_rearm_rto()` with `tcp_rto_delta_us()`); once a probe went, one
//!   whole RTO from then.
//!
//! # Where we differ
//!
//! - `skb_still_in_host_queue()` is not checked: a clone we sent has left
//!   the stack by the time the timer can fire.

use std::sync::Arc;

use net_core::Net;
use net_core::snmp::LinuxMib;

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcp_input::fastretrans::{
    FLAG_DATA_SACKED, FLAG_DSACK_TLP, FLAG_NOT_DUP, FLAG_SND_UNA_ADVANCED, tcp_end_cwnd_reduction,
    tcp_init_cwnd_reduction, tcp_is_sack, tcp_set_ca_state, tcp_try_keep_open,
};
use crate::tcp_output::{
    __tcp_retransmit_skb, __tcp_write_xmit, inet_csk_reset_xmit_timer, tcp_current_mss, tcp_rearm_rto,
    tcp_retransmit_trim,
};

/// `push_one` of `tcp_write_xmit()` for a loss probe: one segment, past
/// the congestion window, and no new probe scheduled for it.
pub const TLP_PUSH_ONE: u8 = 2;

/// `usecs_to_jiffies()` (rounded up), as the `u32` the retransmit timer
/// takes.
pub(crate) fn usecs_to_jiffies(us: u64) -> u32 {
    net_core::jiffies::usecs_to_jiffies(us).min(u64::from(u32::MAX)) as u32
}

/// `tcp_rto_delta_us()`: how far in the future the RTO of the head of the
/// retransmit queue lies — its last transmission plus `icsk_rto` — in µs
/// from `tcp_mstamp` (negative once past).
pub fn tcp_rto_delta_us(tp: &TcpSk) -> i64 {
    let Some(head) = tp.tcp_rtx_queue.front() else { return i64::from(tp.icsk_rto) * 1000 };
    let sent_us = crate::tcp_recovery::tcp_skb_timestamp_us(TCP_SKB_CB(head)) as i64;
    sent_us + i64::from(tp.icsk_rto) * 1000 - tp.tcp_mstamp as i64
}

// ANCHOR: tcp_schedule_loss_probe
/// `tcp_schedule_loss_probe()`: arm the probe timer instead of the RTO, if
/// a probe may go: `tcp_early_retrans` 3 or 4, data in flight, SACK on,
/// and the connection in Open or CWR (not already recovering). The PTO is
/// two smoothed RTTs plus 2 ms, or plus `TCP_RTO_MIN` with a single
/// segment in flight (its ACK may be delayed); `TCP_TIMEOUT_INIT` without
/// an RTT sample; never later than the RTO (`advancing_rto`: an ACK just
/// restarted it, so a whole `icsk_rto`). Returns whether it armed.
pub fn tcp_schedule_loss_probe(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    advancing_rto: bool,
) -> bool {
    if tp.packets_out == 0 || !tcp_loss_probe_allowed(tn, tp) {
        return false;
    }
    let mut timeout = if tp.rtt.srtt_us != 0 {
        let mut us = u64::from(tp.rtt.srtt_us >> 2);
        us += if tp.packets_out == 1 { u64::from(TCP_RTO_MIN) * 1000 } else { TCP_TIMEOUT_MIN_US };
        usecs_to_jiffies(us)
    } else {
        TCP_TIMEOUT_INIT
    };
    let rto_delta_us = if advancing_rto { i64::from(tp.icsk_rto) * 1000 } else { tcp_rto_delta_us(tp) };
    if rto_delta_us > 0 {
        timeout = timeout.min(usecs_to_jiffies(rto_delta_us as u64));
    }
    inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_LOSS_PROBE, timeout);
    true
}
// ANCHOR_END: tcp_schedule_loss_probe

/// The conditions of [`tcp_schedule_loss_probe`] other than data in
/// flight: `tcp_early_retrans` 3 or 4, SACK, and Open or CWR.
pub fn tcp_loss_probe_allowed(tn: &TcpNet, tp: &TcpSk) -> bool {
    let early_retrans = tn.sysctl.tcp_early_retrans.get();
    (early_retrans == 3 || early_retrans == 4)
        && tcp_is_sack(tp)
        && (tp.icsk_ca_state == TCP_CA_OPEN || tp.icsk_ca_state == TCP_CA_CWR)
}

/// `tcp_set_xmit_timer()`: after an ACK freed data, the probe timer if a
/// probe may go, else the RTO.
pub fn tcp_set_xmit_timer(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    if !tcp_schedule_loss_probe(net, tn, sk, tp, true) {
        tcp_rearm_rto(net, sk, tp);
    }
}

// ANCHOR: tcp_send_loss_probe
/// `tcp_send_loss_probe()`, when the probe timer fires: at most one probe
/// outstanding (`tlp_high_seq`). New data goes first if the peer's window
/// takes the next segment (`tcp_write_xmit()` with `push_one` = 2, past
/// the congestion window); otherwise the last segment sent is sent again
/// (`__tcp_retransmit_skb()`: counted in `RetransSegs`, but not marked
/// retransmitted-in-flight, since the probe is not a repair of a segment
/// known lost). Then `tlp_high_seq` = `snd_nxt`, `TCPLossProbes`, and the
/// RTO is rearmed for the rest of its time.
pub fn tcp_send_loss_probe(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    net_core::ftrace_graph!("tcp_send_loss_probe");
    if tp.tlp_high_seq == 0 && tcp_probe(net, tn, sk, tp) {
        tp.tlp_high_seq = tp.snd_nxt;
        net.mib.inc(LinuxMib::TCPLossProbes);
        // "Reset s.t. tcp_rearm_rto will restart timer from now."
        tp.icsk_pending = 0;
    }
    tcp_rearm_rto(net, sk, tp);
}
// ANCHOR_END: tcp_send_loss_probe

/// Send the probe itself; false if none could go.
fn tcp_probe(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) -> bool {
    tp.tlp_retrans = false;
    let mss = tcp_current_mss(net, tp);
    let new_data_fits = tp.sk_write_queue.peek().is_some_and(|skb| {
        let cb = TCP_SKB_CB(skb);
        let len = (skb.len().min(usize::from(mss))) as u32;
        !after(cb.seq.wrapping_add(len), tp.tcp_wnd_end())
    });
    if new_data_fits {
        let before = tp.packets_out;
        __tcp_write_xmit(net, tn, sk, tp, TCP_NAGLE_OFF, TLP_PUSH_ONE);
        return tp.packets_out > before;
    }
    let Some(last) = tp.tcp_rtx_queue.len().checked_sub(1) else { return false };
    tcp_retransmit_trim(net, tn, sk, tp, last);
    // A segment longer than the MSS now was cut in two: the probe is the
    // tail, as Linux's `tcp_fragment()` at `(pcount - 1) * mss` leaves it.
    let last = tp.tcp_rtx_queue.len() - 1;
    if __tcp_retransmit_skb(net, tn, sk, tp, last).is_err() {
        return false;
    }
    tp.tlp_retrans = true;
    true
}

// ANCHOR: tcp_process_tlp_ack
/// `tcp_process_tlp_ack()`: what the ACK of `ack` says about the probe
/// outstanding (`tlp_high_seq`), once it reaches it. A probe of new data,
/// a D-SACK of the probe, or a pure duplicate ACK (both copies arrived):
/// no loss, the episode ends. An ACK past `tlp_high_seq` after a
/// retransmitted probe: the probe repaired a loss, so the window is
/// reduced once (`tcp_init_cwnd_reduction()`, CWR, straight to
/// `ssthresh`) and `TCPLossProbeRecovery` counts it.
pub fn tcp_process_tlp_ack(net: &Net, tp: &mut TcpSk, ack: u32, flag: i32) {
    if before(ack, tp.tlp_high_seq) {
        return;
    }
    if !tp.tlp_retrans || flag & FLAG_DSACK_TLP != 0 {
        tp.tlp_high_seq = 0;
    } else if after(ack, tp.tlp_high_seq) {
        // tcp_init_cwnd_reduction() resets tlp_high_seq.
        tcp_init_cwnd_reduction(tp);
        tcp_set_ca_state(tp, TCP_CA_CWR);
        tcp_end_cwnd_reduction(net, tp);
        tcp_try_keep_open(tp);
        net.mib.inc(LinuxMib::TCPLossProbeRecovery);
    } else if flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DATA_SACKED) == 0 {
        tp.tlp_high_seq = 0;
    }
}
// ANCHOR_END: tcp_process_tlp_ack
