//! TCP's timers: retransmission (and the zero-window probe that shares its
//! timer), the delayed ACK, and `sk_timer` (an orphan's long FIN_WAIT2,
//! and keepalive). TIME_WAIT has the timewait sock's own timer
//! ([`crate::inet_timewait_sock`]).
//!
//! Mirrors net/ipv4/tcp_timer.c of **Linux 6.18**: `tcp_write_timer()`,
//! `tcp_retransmit_timer()`, `tcp_write_timeout()`,
//! `retransmits_timed_out()`, `tcp_model_timeout()`, `tcp_probe_timer()`,
//! `tcp_delack_timer()`, `tcp_keepalive_timer()`, `tcp_write_err()`,
//! `tcp_clamp_rto_to_user_timeout()`, and `tcp_enter_loss()` from
//! tcp_input.c.
//!
//! Heads up: RFC 6298 §5 (what to do when the timer expires: back off,
//! retransmit the earliest unacknowledged segment), RFC 1122 §4.2.3.5 (R1
//! and R2: when to give up), RFC 5681 §3.1 (cwnd after a timeout: one
//! segment) and RFC 9293 §3.8.1.
//!
//! # Where we differ
//!
//! - Each timer callback takes the socket lock itself; Linux defers to
//!   `tcp_release_cb()` when the user owns the socket, which we never
//!   hold across a wait.
//! - `tcp_retries1` drops the cached route (`__dst_negative_advice()`)
//!   but does not start MTU probing (black-hole detection); no
//!   thin-stream linear timeouts. The retransmit timer's other two uses,
//!   the loss probe and RACK's reordering timer, live in
//!   [`crate::tcp_tlp`] and [`crate::tcp_recovery`].

use std::sync::Arc;

use net_core::Errno;
use net_core::Net;
use net_core::snmp::LinuxMib;

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcp::{tcp_done, tcp_time_wait, wake};
use crate::tcp_input::tcp_write_queue_purge;
use crate::tcp_output::*;
use crate::tcp_states::TcpState;

fn with_sock(net: &Net, sk: &Arc<TcpSock>, f: impl FnOnce(&TcpNet, &mut TcpSk)) {
    let Some(tn) = net.net_generic::<TcpNet>() else { return };
    let mut tp = sk.lock.lock();
    f(tn, &mut tp);
    if std::mem::take(&mut tp.wake_pending) {
        drop(tp);
        wake(sk);
    }
}

/// `tcp_write_timer()` → `tcp_write_timer_handler()`: the retransmit timer
/// fired; dispatch on what it was armed for (`icsk_pending`).
pub fn tcp_write_timer(net: &Net, sk: &Arc<TcpSock>) {
    with_sock(net, sk, |tn, tp| {
        if tp.state == TcpState::Close || tp.icsk_pending == 0 {
            return;
        }
        tp.tcp_mstamp_refresh(net);
        if tp.icsk_timeout > net.jiffies() {
            net.mod_timer(sk.timers.retransmit, tp.icsk_timeout);
            return;
        }
        // The loss probe and RACK's reordering timer keep `icsk_pending`
        // while they run, as in Linux:
        // if no probe can go, the RTO is rearmed for what is left of it
        // (`tcp_rearm_rto()` reads the pending event), not a whole RTO.
        match tp.icsk_pending {
            ICSK_TIME_RETRANS => {
                tp.icsk_pending = 0;
                tcp_retransmit_timer(net, tn, sk, tp);
            }
            ICSK_TIME_PROBE0 => {
                tp.icsk_pending = 0;
                tcp_probe_timer(net, tn, sk, tp);
            }
            ICSK_TIME_REO_TIMEOUT => crate::tcp_recovery::tcp_rack_reo_timeout(net, tn, sk, tp),
            ICSK_TIME_LOSS_PROBE => crate::tcp_tlp::tcp_send_loss_probe(net, tn, sk, tp),
            _ => tp.icsk_pending = 0,
        }
    });
}

/// `tcp_write_err()`: give up — the soft error seen last, or `ETIMEDOUT`;
/// queues purged, socket done, `TCPAbortOnTimeout`.
pub fn tcp_write_err(net: &Net, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    tp.sk_err = Some(tp.sk_err_soft.take().unwrap_or(Errno::ETIMEDOUT));
    tcp_write_queue_purge(tp);
    tcp_done(net, sk, tp);
    net.mib.inc(LinuxMib::TCPAbortOnTimeout);
}

/// `tcp_model_timeout()`: how long `boundary` RTOs take when each doubles
/// from `rto_base`, up to `TCP_RTO_MAX`: the time budget `tcp_retries2`
/// stands for (15 → 924.6 s with a 200 ms base).
pub fn tcp_model_timeout(boundary: u32, rto_base: u32) -> u64 {
    let thresh = (TCP_RTO_MAX / rto_base).ilog2();
    let base = u64::from(rto_base);
    if boundary <= thresh {
        ((2u64 << boundary) - 1) * base
    } else {
        ((2u64 << thresh) - 1) * base + u64::from(boundary - thresh) * u64::from(TCP_RTO_MAX)
    }
}

/// `retransmits_timed_out()`: has retransmission gone on for longer than
/// `boundary` doubling RTOs would take (or than `timeout` ms, when set)?
/// Measured from `retrans_stamp`: the first retransmission of the segment
/// now being retransmitted (a SYN: its first transmission).
///
/// As in Linux, only `icsk_retransmits` says whether retransmission has
/// begun: a `retrans_stamp` of 0 is a real time here (our clock starts at
/// 0, so a SYN sent in the first millisecond has it), not "unset".
pub fn retransmits_timed_out(net: &Net, tp: &TcpSk, boundary: u32, timeout_ms: u32) -> bool {
    if tp.icsk_retransmits == 0 {
        return false;
    }
    let timeout =
        if timeout_ms != 0 { u64::from(timeout_ms) } else { tcp_model_timeout(boundary, TCP_RTO_MIN) };
    u64::from(tcp_jiffies32(net).wrapping_sub(tp.retrans_stamp)) >= timeout
}

/// Mirrors `tcp_orphan_retries(sk, alive)` (net/ipv4/tcp_timer.c): how
/// many retransmissions (a time budget, through [`retransmits_timed_out`])
/// or zero-window probes an orphan gets: `tcp_orphan_retries`, where 0
/// means 8 ("corresponds to >100 seconds with minimal RTO of 200msec")
/// while the socket is `alive` — its backed-off RTO still under
/// `TCP_RTO_MAX` — and 0 outright once an ICMP error was seen
/// (`sk_err_soft`) and it is not alive.
fn tcp_orphan_retries_alive(tn: &TcpNet, tp: &TcpSk, alive: bool) -> u32 {
    let retries = tn.sysctl.tcp_orphan_retries.get().clamp(0, 255) as u32;
    if tp.sk_err_soft.is_some() && !alive {
        return 0;
    }
    if retries == 0 && alive { 8 } else { retries }
}

// ANCHOR: tcp_out_of_resources
/// Mirrors `tcp_out_of_resources()` (net/ipv4/tcp_timer.c), called for an
/// orphan when its retransmission or zero-window probe timer fires: "Do not
/// allow orphaned sockets to eat all our resources." The orphan count is
/// judged harshly — doubled if the socket has sent nothing for twice
/// `TCP_RTO_MAX` or the caller would not reset (`!do_reset`), doubled again
/// after an ICMP error (`sk_err_soft`) — by [`crate::tcp::tcp_check_oom`].
/// Over `tcp_max_orphans`, the socket dies at once ([`tcp_done`],
/// `TCPAbortOnMemory`), with a RST if the caller asked for one, or if it
/// sent something within `TCP_TIMEWAIT_LEN`, or its window is closed with
/// nothing in flight. Returns true if it killed the socket.
///
/// Linux also kills the socket here when its namespace is being
/// dismantled (`!check_net()`); our namespaces are not torn down under
/// live sockets.
pub fn tcp_out_of_resources(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    mut do_reset: bool,
) -> bool {
    // (s32)(tcp_jiffies32 - tp->lsndtime)
    let since_sent = i64::from(tcp_jiffies32(net).wrapping_sub(tp.lsndtime) as i32);
    let mut shift = 0;
    // If peer does not open window for long time, or did not transmit
    // anything for long time, penalize it.
    if since_sent > 2 * i64::from(tcp_rto_max(tp)) || !do_reset {
        shift += 1;
    }
    // If some dubious ICMP arrived, penalize even more.
    if tp.sk_err_soft.is_some() {
        shift += 1;
    }
    if crate::tcp::tcp_check_oom(net, tn, shift) {
        // Catch exceptional cases, when connection requires reset:
        // the last segment was sent recently, or the window is closed.
        if since_sent <= i64::from(TCP_TIMEWAIT_LEN) || (tp.snd_wnd == 0 && tp.packets_out == 0) {
            do_reset = true;
        }
        if do_reset {
            tcp_send_active_reset(net, tn, sk, tp);
        }
        tcp_done(net, sk, tp);
        net.mib.inc(LinuxMib::TCPAbortOnMemory);
        return true;
    }
    false
}
// ANCHOR_END: tcp_out_of_resources

// ANCHOR: tcp_write_timeout
/// `tcp_write_timeout()`: should retransmission stop? First, route
/// advice: after `tcp_retries1` RTOs' worth of time
/// (`retransmits_timed_out(retries1)`, 3 → 3 s with the 200 ms base), or on
/// any SYN retransmission after the first, the cached route is dropped
/// ([`__dst_negative_advice`]). Then the give-up test: in SYN_SENT after
/// `TCP_SYNCNT` / `tcp_syn_retries` retransmissions, plus the
/// `tcp_syn_linear_timeouts` ones that did not back off; in SYN_RECV after
/// `tcp_synack_retries`; otherwise when the `tcp_retries2` time budget
/// (`tcp_orphan_retries` for an orphan) or `TCP_USER_TIMEOUT` is spent.
/// Kills the socket and returns true if so.
pub fn tcp_write_timeout(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) -> bool {
    if matches!(tp.state, TcpState::SynSent | TcpState::SynRecv) {
        // A SYN retransmitted once already: the route may be the problem.
        if tp.icsk_retransmits > 0 {
            __dst_negative_advice(tp);
        }
    } else {
        let retries1 = tn.sysctl.tcp_retries1.get().clamp(0, 255) as u32;
        if retransmits_timed_out(net, tp, retries1, 0) {
            // Linux first tries MTU probing (black hole detection,
            // `tcp_mtu_probing()`), which we do not have.
            __dst_negative_advice(tp);
        }
    }
    let expired = match tp.state {
        TcpState::SynSent => {
            let retry_until = match tp.icsk_syn_retries {
                0 => tn.sysctl.tcp_syn_retries.get().clamp(1, 127) as u32,
                n => u32::from(n),
            };
            let linear = tn.sysctl.tcp_syn_linear_timeouts.get().clamp(0, 10) as u32;
            u32::from(tp.icsk_retransmits) >= retry_until + linear
                || (tp.icsk_user_timeout != 0 && retransmits_timed_out(net, tp, 0, tp.icsk_user_timeout))
        }
        TcpState::SynRecv => {
            let retry_until = tn.sysctl.tcp_synack_retries.get().clamp(0, 127) as u32;
            u32::from(tp.icsk_retransmits) >= retry_until
        }
        _ => {
            let mut retry_until = tn.sysctl.tcp_retries2.get().clamp(0, 255) as u32;
            if tp.dead {
                let alive = tp.icsk_rto < tcp_rto_max(tp);
                retry_until = tcp_orphan_retries_alive(tn, tp, alive);
                let do_reset = alive || !retransmits_timed_out(net, tp, retry_until, 0);
                if tcp_out_of_resources(net, tn, sk, tp, do_reset) {
                    return true;
                }
            }
            retransmits_timed_out(net, tp, retry_until, tp.icsk_user_timeout)
        }
    };
    if expired {
        tcp_write_err(net, sk, tp);
    } else {
        // sk_rethink_txhash(): a new flow hash, so ECMP and the device
        // queues may pick another path. We have no txhash, but count it.
        net.mib.inc(LinuxMib::TcpTimeoutRehash);
    }
    expired
}

/// Mirrors `__dst_negative_advice()` → `ipv4_negative_advice()` →
/// `__sk_dst_reset()`: retransmissions are not getting through, so stop
/// trusting the cached route; the next segment looks it up again
/// ([`__sk_dst_check`]). Linux's IPv4 drops only a route that is
/// obsolete, redirected or expiring (a path-MTU exception); ours does not
/// record which, so any cached route is dropped — a new lookup costs
/// nothing visible.
pub fn __dst_negative_advice(tp: &mut TcpSk) {
    tp.sk_dst_cache = None;
}
// ANCHOR_END: tcp_write_timeout

// ANCHOR: tcp_enter_loss
/// Mirrors `tcp_enter_loss()` + `tcp_timeout_mark_lost()`
/// (net/ipv4/tcp_input.c): after an RTO every segment in flight that the
/// peer has not SACKed is presumed lost (`tcp_mark_skb_lost()`: a
/// retransmission in flight is lost again, `TCPLostRetransmit`) — except
/// those sent within RACK's RTT of now, which may still arrive (the head
/// always is) — and all of them, SACKed ones too, if the head is SACKed
/// (the receiver reneged, TCPSACKReneging). Unless the
/// window was already cut in this episode (Recovery or Loss with
/// `high_seq` still ahead), `ssthresh` comes from the algorithm
/// (`icsk_ca_ops.ssthresh`: CUBIC 0.7 of the window, Reno half, at least 2) and it
/// hears `CA_EVENT_LOSS`. The window drops to what is in flight plus one,
/// and the Loss state retransmits from `snd_una` up to `high_seq`
/// (= `snd_nxt`) as ACKs open the window. Where the window was cut,
/// `tcp_init_undo()` records how to give it back if the RTO proves
/// spurious; F-RTO (`tcp_frto`) judges it unless an earlier recovery is
/// under way (a repeated RTO of the same `snd_una` still counts).
pub fn tcp_enter_loss(net: &Net, tn: &TcpNet, tp: &mut TcpSk) {
    use crate::tcp_input::fastretrans::{
        tcp_in_cwnd_reduction, tcp_init_undo, tcp_is_sack, tcp_reset_reno_sack, tcp_set_ca_state,
    };
    let new_recovery = tp.icsk_ca_state < TCP_CA_RECOVERY;
    // tcp_timeout_mark_lost()
    let is_reneg = tcp_is_sack(tp)
        && tp.tcp_rtx_queue.front().is_some_and(|h| TCP_SKB_CB(h).sacked & TCPCB_SACKED_ACKED != 0);
    if is_reneg {
        net.mib.inc(LinuxMib::TCPSACKReneging);
        tp.sacked_out = 0;
    } else if !tcp_is_sack(tp) {
        tcp_reset_reno_sack(tp);
    }
    for idx in 0..tp.tcp_rtx_queue.len() {
        if is_reneg {
            TCP_SKB_CB_mut(&mut tp.tcp_rtx_queue[idx]).sacked &= !TCPCB_SACKED_ACKED;
        } else if idx != 0 {
            let cb = *TCP_SKB_CB(&tp.tcp_rtx_queue[idx]);
            if crate::tcp_recovery::tcp_rack_skb_timeout(tp, &cb, 0) > 0 {
                continue; // "Don't mark recently sent ones lost yet"
            }
        }
        crate::tcp_input::fastretrans::tcp_mark_skb_lost(net, tp, idx);
    }
    // Reduce ssthresh if it has not yet been made inside this window.
    if tp.icsk_ca_state <= TCP_CA_DISORDER
        || !after(tp.high_seq, tp.snd_una)
        || (tp.icsk_ca_state == TCP_CA_LOSS && tp.icsk_retransmits == 0)
    {
        tp.prior_ssthresh = if tcp_in_cwnd_reduction(tp) {
            tp.snd_ssthresh
        } else {
            tp.snd_ssthresh.max((tp.snd_cwnd >> 1) + (tp.snd_cwnd >> 2))
        };
        tp.prior_cwnd = tp.snd_cwnd;
        let ops = tp.icsk_ca_ops;
        tp.snd_ssthresh = ops.ssthresh(tp);
        ops.cwnd_event(tp, crate::tcp_cong::CaEvent::Loss);
        tcp_init_undo(tp);
    }
    tp.snd_cwnd = tcp_packets_in_flight(tp) + 1;
    tp.snd_cwnd_cnt = 0;
    tp.snd_cwnd_stamp = tcp_jiffies32(net);
    // A timeout after many duplicate ACKs: the reordering estimate was
    // too high.
    let reordering = tn.sysctl.tcp_reordering.get().clamp(1, i64::from(u32::MAX)) as u32;
    if tp.icsk_ca_state <= TCP_CA_DISORDER && tp.sacked_out >= reordering {
        tp.reordering = tp.reordering.min(reordering);
    }
    tcp_set_ca_state(tp, TCP_CA_LOSS);
    tp.high_seq = tp.snd_nxt;
    tp.tlp_high_seq = 0;
    // "F-RTO RFC5682 sec 3.1 step 1: retransmit SND.UNA if no previous
    // loss recovery is underway except recurring timeout(s) on the same
    // SND.UNA (sec 3.2)." (No path-MTU probing here to rule it out.)
    tp.frto = tn.sysctl.tcp_frto.get() != 0 && (new_recovery || tp.icsk_retransmits != 0);
}
// ANCHOR_END: tcp_enter_loss

/// `tcp_clamp_rto_to_user_timeout()`: never wait past `TCP_USER_TIMEOUT`.
fn tcp_clamp_rto_to_user_timeout(net: &Net, tp: &TcpSk) -> u32 {
    if tp.icsk_user_timeout == 0 {
        return tp.icsk_rto;
    }
    let elapsed = tcp_jiffies32(net).wrapping_sub(tp.retrans_stamp);
    let remaining = tp.icsk_user_timeout.saturating_sub(elapsed).max(1);
    tp.icsk_rto.min(remaining)
}

// ANCHOR: tcp_retransmit_timer
/// The RTO expired (`tcp_retransmit_timer()`), RFC 6298 §5.4–5.6: give up
/// if [`tcp_write_timeout`] says so; otherwise enter Loss, retransmit the
/// earliest unacknowledged segment, and back off — double the RTO (up to
/// `TCP_RTO_MAX`), except for the first `tcp_syn_linear_timeouts`
/// timeouts of a SYN, which stay at 1 s.
pub fn tcp_retransmit_timer(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    if tp.packets_out == 0 || tp.tcp_rtx_queue.is_empty() {
        return;
    }
    if tp.snd_wnd == 0 && !tp.dead && !matches!(tp.state, TcpState::SynSent | TcpState::SynRecv) {
        tcp_retransmit_timer_zero_window(net, tn, sk, tp);
        return;
    }
    // Linux counts every expiry, the one that gives up included, before
    // asking tcp_write_timeout().
    net.mib.inc(LinuxMib::TCPTimeouts);
    if tcp_write_timeout(net, tn, sk, tp) {
        return;
    }
    crate::tcp_input::fastretrans::tcp_count_rto_failures(net, tp);
    tcp_enter_loss(net, tn, tp);
    let _ = tcp_retransmit_skb(net, tn, sk, tp, 0);
    tp.icsk_retransmits = tp.icsk_retransmits.saturating_add(1);
    tp.total_rto += 1;
    let linear = tn.sysctl.tcp_syn_linear_timeouts.get().clamp(0, 10) as u32;
    if tp.state != TcpState::SynSent || tp.total_rto > linear {
        tp.icsk_backoff = tp.icsk_backoff.saturating_add(1);
        tp.icsk_rto = (tp.icsk_rto << 1).min(tcp_rto_max(tp));
    }
    let when = tcp_clamp_rto_to_user_timeout(net, tp);
    inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_RETRANS, when);
}
// ANCHOR_END: tcp_retransmit_timer

// ANCHOR: tcp_probe_timer
// ANCHOR: tcp_rtx_probe0
/// The zero-window branch of `tcp_retransmit_timer()`: data is in flight
/// but the peer shrank its window to 0 ("Receiver dastardly shrinks
/// window"). The retransmissions become zero-window probes and do not
/// time out by `tcp_retries2`: only by [`tcp_rtx_probe0_timed_out`] (the
/// peer silent for twice `TCP_RTO_MAX`, or `TCP_USER_TIMEOUT`). Each one
/// enters Loss, retransmits the head, drops the cached route and doubles
/// the RTO, without counting `icsk_retransmits`.
fn tcp_retransmit_timer_zero_window(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    let first_sent = match tp.retrans_stamp {
        0 => {
            let ns = tp.tcp_rtx_queue.front().map_or(0, |skb| TCP_SKB_CB(skb).when_ns);
            (ns / (1_000_000_000 / net_core::jiffies::HZ)) as u32
        }
        stamp => stamp,
    };
    let rtx_delta = u64::from(tcp_jiffies32(net).wrapping_sub(first_sent));
    if tcp_rtx_probe0_timed_out(tp, rtx_delta) {
        tcp_write_err(net, sk, tp);
        return;
    }
    tcp_enter_loss(net, tn, tp);
    let _ = tcp_retransmit_skb(net, tn, sk, tp, 0);
    __dst_negative_advice(tp); // __sk_dst_reset()
    // out_reset_timer:
    tp.icsk_rto = (tp.icsk_rto << 1).min(tcp_rto_max(tp));
    let when = tcp_clamp_rto_to_user_timeout(net, tp);
    inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_RETRANS, when);
}

/// Mirrors `tcp_rtx_probe0_timed_out()` (net/ipv4/tcp_timer.c): give up
/// on a shrunk window only when `TCP_USER_TIMEOUT` has passed since the
/// first transmission (`rtx_delta`, in jiffies), or when the peer has said
/// nothing for `2 * TCP_RTO_MAX` (or the user timeout, if shorter) at this
/// timer and the retransmissions have gone on that long too.
fn tcp_rtx_probe0_timed_out(tp: &TcpSk, rtx_delta: u64) -> bool {
    let mut timeout = 2 * u64::from(TCP_RTO_MAX);
    if tp.icsk_user_timeout != 0 {
        if rtx_delta > u64::from(tp.icsk_user_timeout) {
            return true;
        }
        timeout = timeout.min(u64::from(tp.icsk_user_timeout));
    }
    // (s32)(icsk_timeout - rcv_tstamp): negative when an ACK came after
    // the timer was due.
    let rcv_delta = i64::from((tp.icsk_timeout as u32).wrapping_sub(tp.rcv_tstamp) as i32);
    if rcv_delta <= timeout as i64 {
        return false;
    }
    rtx_delta > timeout
}
// ANCHOR_END: tcp_rtx_probe0

/// The zero-window probe timer fired. Mirrors `tcp_probe_timer()`
/// (net/ipv4/tcp_timer.c).
///
/// Nothing to do if data is in flight (its RTO covers it) or nothing
/// waits. RFC 1122 §4.2.2.17 wants the sender to probe a closed window
/// for as long as the receiver answers, and every ACK resets
/// `icsk_probes_out`; so only unanswered probes count. The connection is
/// aborted with `ETIMEDOUT` ([`tcp_write_err`]) once `icsk_probes_out`
/// reaches `tcp_retries2` (a count here, not the time budget the RTO
/// uses), or `tcp_orphan_retries` for an orphan (which also gives up once
/// its backoff alone reaches that bound with the RTO at its maximum), or
/// when `TCP_USER_TIMEOUT` has passed since the first probe
/// (`icsk_probes_tstamp`). An orphan may also die of
/// [`tcp_out_of_resources`] (too many orphans). Otherwise
/// [`tcp_send_probe0`] probes and re-arms.
pub fn tcp_probe_timer(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    if tp.packets_out > 0 || tp.sk_write_queue.is_empty() {
        tp.icsk_probes_out = 0;
        tp.icsk_probes_tstamp = 0;
        return;
    }
    if tp.icsk_probes_tstamp == 0 {
        tp.icsk_probes_tstamp = tcp_jiffies32(net);
    } else if tp.icsk_user_timeout != 0
        && tcp_jiffies32(net).wrapping_sub(tp.icsk_probes_tstamp) >= tp.icsk_user_timeout
    {
        tcp_write_err(net, sk, tp);
        return;
    }
    let mut max_probes = tn.sysctl.tcp_retries2.get().clamp(0, 255) as u32;
    if tp.dead {
        // inet_csk_rto_backoff(icsk, TCP_RTO_MAX) < TCP_RTO_MAX
        let backed_off = u64::from(tp.icsk_rto) << tp.icsk_backoff.min(31);
        let alive = backed_off < u64::from(TCP_RTO_MAX);
        max_probes = tcp_orphan_retries_alive(tn, tp, alive);
        if !alive && u32::from(tp.icsk_backoff) >= max_probes {
            tcp_write_err(net, sk, tp);
            return;
        }
        if tcp_out_of_resources(net, tn, sk, tp, true) {
            return;
        }
    }
    if u32::from(tp.icsk_probes_out) >= max_probes {
        tcp_write_err(net, sk, tp);
    } else {
        tcp_send_probe0(net, tn, sk, tp);
    }
}
// ANCHOR_END: tcp_probe_timer

/// Mirrors `tcp_compressed_ack_kick()` (net/ipv4/tcp_timer.c): the SACK
/// compression timer fired — send the one ACK that stands for the held
/// ones. One of them is this ACK itself, so it is not counted as
/// compressed (`TCPAckCompressed` counts the others when it leaves).
pub fn tcp_compressed_ack_kick(net: &Net, sk: &Arc<TcpSock>) {
    with_sock(net, sk, |tn, tp| {
        if tp.compressed_ack > 0 && tp.state != TcpState::Close {
            tp.compressed_ack -= 1;
            tcp_send_ack(net, tn, sk, tp);
        }
    });
}

// ANCHOR: tcp_delack_timer
/// The delayed ACK is due (`tcp_delack_timer()` →
/// `tcp_delack_timer_handler()`): send it and count `DelayedACKs`. If we
/// were not interactive, ACKs were too slow: double `ato` (up to the RTO);
/// if we were, leave interactive mode.
pub fn tcp_delack_timer(net: &Net, sk: &Arc<TcpSock>) {
    with_sock(net, sk, |tn, tp| {
        if tp.state == TcpState::Close || tp.icsk_ack.pending & ICSK_ACK_TIMER == 0 {
            return;
        }
        if tp.icsk_ack.timeout > net.jiffies() {
            net.mod_timer(sk.timers.delack, tp.icsk_ack.timeout);
            return;
        }
        tp.icsk_ack.pending &= !ICSK_ACK_TIMER;
        if tp.icsk_ack.pending & ICSK_ACK_SCHED != 0 {
            if tp.icsk_ack.pingpong == 0 {
                tp.icsk_ack.ato = (tp.icsk_ack.ato << 1).min(tp.icsk_rto);
            } else {
                tp.icsk_ack.pingpong = 0;
                tp.icsk_ack.ato = TCP_ATO_MIN;
            }
            tcp_send_ack(net, tn, sk, tp);
            net.mib.inc(LinuxMib::DelayedACKs);
        }
    });
}
// ANCHOR_END: tcp_delack_timer

/// `keepalive_time_when()`: idle time before the first probe, in jiffies.
pub fn keepalive_time_when(tn: &TcpNet, tp: &TcpSk) -> u32 {
    let secs = if tp.keepalive_time != 0 {
        i64::from(tp.keepalive_time)
    } else {
        tn.sysctl.tcp_keepalive_time.get()
    };
    (secs.clamp(1, 32767) * 1000) as u32
}

/// `keepalive_intvl_when()`: time between probes, in jiffies.
pub fn keepalive_intvl_when(tn: &TcpNet, tp: &TcpSk) -> u32 {
    let secs = if tp.keepalive_intvl != 0 {
        i64::from(tp.keepalive_intvl)
    } else {
        tn.sysctl.tcp_keepalive_intvl.get()
    };
    (secs.clamp(1, 32767) * 1000) as u32
}

/// `keepalive_probes()`.
pub fn keepalive_probes(tn: &TcpNet, tp: &TcpSk) -> u8 {
    if tp.keepalive_probes != 0 {
        tp.keepalive_probes
    } else {
        tn.sysctl.tcp_keepalive_probes.get().clamp(1, 127) as u8
    }
}

/// `keepalive_time_elapsed()`: how long the peer has been silent, in
/// jiffies (since the last segment or ACK from it).
pub fn keepalive_time_elapsed(net: &Net, tp: &TcpSk) -> u32 {
    let now = tcp_jiffies32(net);
    now.wrapping_sub(tp.icsk_ack.lrcvtime).min(now.wrapping_sub(tp.rcv_tstamp))
}

/// After `TCP_KEEPIDLE` changes (`tcp_sock_set_keepidle_locked()`): re-arm
/// the keepalive clock for what is left of the new idle period.
pub fn tcp_reset_keepalive(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    if !tp.keepalive || matches!(tp.state, TcpState::Close | TcpState::Listen) {
        return;
    }
    let left = keepalive_time_when(tn, tp).saturating_sub(keepalive_time_elapsed(net, tp));
    net.mod_timer(sk.timers.keepalive, net.jiffies() + u64::from(left));
}

// ANCHOR: tcp_keepalive_timer
/// `sk_timer` fired (`tcp_keepalive_timer()`): the first part of an
/// orphan's long FIN_WAIT2 is over (it moves to a timewait sock for
/// `tcp_fin_time() - TCP_TIMEWAIT_LEN` — the same span again, not the
/// rest of `tcp_fin_timeout`, as Linux 6.18 does — or is reset if that is
/// not positive or `TCP_LINGER2` < 0); otherwise
/// keepalive (RFC 1122 §4.2.3.6). With data in flight or queued the
/// connection is alive without probes. After `keepalive_time` of silence a
/// probe goes out every `keepalive_intvl`; after `keepalive_probes` of them
/// unanswered (or once `TCP_USER_TIMEOUT` has passed with at least one
/// probe out) the connection is reset and fails with `ETIMEDOUT`.
pub fn tcp_keepalive_timer(net: &Net, sk: &Arc<TcpSock>) {
    with_sock(net, sk, |tn, tp| {
        if tp.state == TcpState::FinWait2 && tp.dead {
            if tp.linger2 >= 0 {
                let tmo = crate::tcp::tcp_fin_time(tn, tp).saturating_sub(TCP_TIMEWAIT_LEN);
                if tmo > 0 {
                    tcp_time_wait(net, tn, sk, tp, TcpState::FinWait2, tmo);
                    return;
                }
            }
            tcp_send_active_reset(net, tn, sk, tp);
            tcp_done(net, sk, tp);
            return;
        }
        if !tp.keepalive || matches!(tp.state, TcpState::Close | TcpState::SynSent | TcpState::Listen) {
            return;
        }
        let mut when = keepalive_time_when(tn, tp);
        if tp.packets_out == 0 && tp.sk_write_queue.is_empty() {
            let elapsed = keepalive_time_elapsed(net, tp);
            if elapsed >= keepalive_time_when(tn, tp) {
                let user_timeout = tp.icsk_user_timeout;
                if (user_timeout != 0 && elapsed >= user_timeout && tp.icsk_probes_out > 0)
                    || (user_timeout == 0 && tp.icsk_probes_out >= keepalive_probes(tn, tp))
                {
                    tcp_send_active_reset(net, tn, sk, tp);
                    tcp_write_err(net, sk, tp);
                    return;
                }
                tcp_xmit_probe_skb(net, tn, sk, tp, LinuxMib::TCPKeepAlive);
                tp.icsk_probes_out = tp.icsk_probes_out.saturating_add(1);
                when = keepalive_intvl_when(tn, tp);
            } else {
                when = keepalive_time_when(tn, tp) - elapsed;
            }
        }
        net.mod_timer(sk.timers.keepalive, net.jiffies() + u64::from(when));
    });
}
// ANCHOR_END: tcp_keepalive_timer

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::Clock;
    use net_ipv4::fib::RtnType;
    use net_ipv4::route::Rtable;

    fn cached_route() -> Option<(Rtable, u32, u64)> {
        let rt = Rtable {
            rt_type: RtnType::Unicast,
            dev: 1,
            gateway: None,
            saddr: std::net::Ipv4Addr::new(10, 0, 0, 1),
            mtu: 1500,
        };
        Some((rt, 0, u64::MAX))
    }

    #[test]
    fn tcp_model_timeout_is_linuxs_budget() {
        // (2^(n+1) - 1) * 200 ms while the doubling stays under
        // TCP_RTO_MAX (up to 9 with a 200 ms base), then 120 s each.
        assert_eq!(tcp_model_timeout(3, TCP_RTO_MIN), 3_000);
        assert_eq!(tcp_model_timeout(5, TCP_RTO_MIN), 12_600);
        assert_eq!(tcp_model_timeout(9, TCP_RTO_MIN), 204_600);
        assert_eq!(tcp_model_timeout(15, TCP_RTO_MIN), 924_600);
    }

    /// tcp_retries1 is route advice: once retransmission has gone on for
    /// tcp_model_timeout(retries1) (3 s by default), every further RTO
    /// drops the cached route; before that it is kept. A SYN drops it on
    /// every retransmission after the first.
    #[test]
    fn retries1_drops_the_cached_route() {
        let clock = Clock::new_virtual_at(100_000_000_000);
        let net = Net::new("t", clock.clone(), 1);
        let tn = crate::af_inet::inet_init(&net);
        let sk = TcpSock::new(&net, 4096, 4096);
        let mut tp = sk.lock.lock();
        tp.state = TcpState::Established;
        tp.icsk_retransmits = 3;
        tp.sk_dst_cache = cached_route();
        tp.retrans_stamp = (net.jiffies() - 2_999) as u32;
        assert!(!tcp_write_timeout(&net, &tn, &sk, &mut tp));
        assert!(tp.sk_dst_cache.is_some(), "2.999 s: still under tcp_retries1's budget");
        tp.retrans_stamp = (net.jiffies() - 3_000) as u32;
        assert!(!tcp_write_timeout(&net, &tn, &sk, &mut tp));
        assert!(tp.sk_dst_cache.is_none(), "3 s: the route is dropped");
        assert_eq!(net.mib.get(LinuxMib::TcpTimeoutRehash), 2);

        // A lower tcp_retries1 advises sooner: model(1) = 600 ms.
        net.sysctl.set("net.ipv4.tcp_retries1", "1").unwrap();
        tp.sk_dst_cache = cached_route();
        tp.retrans_stamp = (net.jiffies() - 600) as u32;
        assert!(!tcp_write_timeout(&net, &tn, &sk, &mut tp));
        assert!(tp.sk_dst_cache.is_none());

        tp.state = TcpState::SynSent;
        tp.icsk_retransmits = 0;
        tp.sk_dst_cache = cached_route();
        assert!(!tcp_write_timeout(&net, &tn, &sk, &mut tp));
        assert!(tp.sk_dst_cache.is_some(), "the first SYN timeout keeps the route");
        tp.icsk_retransmits = 1;
        assert!(!tcp_write_timeout(&net, &tn, &sk, &mut tp));
        assert!(tp.sk_dst_cache.is_none());
    }
}
