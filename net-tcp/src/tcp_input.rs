//! Receiving: the state machine, acknowledgments, data, FIN and RST.
//!
//! Mirrors net/ipv4/tcp_input.c of **Linux 6.18**:
//! `tcp_rcv_state_process()`, `tcp_rcv_established()` (header prediction
//! and the slow path),
//! `tcp_rcv_synsent_state_process()`, `tcp_validate_incoming()`,
//! `tcp_ack()`, `tcp_clean_rtx_queue()`, `tcp_rtt_estimator()`,
//! `tcp_data_queue()`, `tcp_data_queue_ofo()`, `tcp_ofo_queue()`,
//! `tcp_fin()`, `tcp_reset()`, `tcp_event_data_recv()`, `tcp_conn_request()`,
//! `__tcp_ack_snd_check()`.
//!
//! Heads up: read RFC 9293 §3.10.7 ("SEGMENT ARRIVES", the whole event
//! processing this file follows step by step), RFC 6298 (the RTO), RFC
//! 5681 §3.1 (slow start, congestion avoidance) and RFC 5961 §3–4 (RST and
//! SYN in window) first. The doc comment of each step quotes the RFC step
//! it implements.
//!
//! # Where we differ
//!
//! - The sender's SACK scoreboard is [`sacktag`]; fast retransmit,
//!   NewReno/SACK recovery and PRR are [`fastretrans`] (with undo and F-RTO), with
//!   loss detection in [`crate::tcp_recovery`] (RACK) and the tail loss
//!   probe in [`crate::tcp_tlp`]; an RTO enters
//!   `TCP_CA_Loss` ([`crate::tcp_timer::tcp_enter_loss`]). `tcp_ack()` does
//!   not look at SACK blocks on an ACK older than `snd_una` (Linux does).
//! - No ECN.
//! - The RFC 5961 rate limits are Linux's (`tcp_invalid_ratelimit` per
//!   socket, `tcp_challenge_ack_limit` per namespace); the per-second
//!   budget draws from the namespace's seeded random source.
//! - The out-of-order tree keeps partially overlapping segments as they
//!   came; delivery trims them against `rcv_nxt`. Linux trims and merges
//!   on insert (`tcp_data_queue_ofo()`).

pub mod fastretrans;
pub mod sacktag;

use std::sync::Arc;

use intrusive_collections::RBTreeAtomicLink;

use net_core::snmp::{LinuxMib, TcpMib};
use net_core::{Errno, Net, Skb, SkbDropReason};

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcp::{tcp_done, tcp_set_state, tcp_time_wait};
use crate::tcp_output::*;
use crate::tcp_states::TcpState;
use crate::tcphdr::{
    TCPHDR_ACK, TCPHDR_FIN, TCPHDR_LEN, TCPHDR_RST, TCPHDR_SYN, TCPOLEN_TSTAMP_ALIGNED, TcpOptions,
};

pub mod autotune;
pub mod collapse;
pub mod sack_blocks;
use sack_blocks::{tcp_dsack_extend, tcp_dsack_set, tcp_is_sack, tcp_sack_new_ofo_skb, tcp_sack_remove};

/// One arriving segment, parsed by `tcp_v4_rcv()`; `skb.data` is its
/// payload. Linux keeps these in `TCP_SKB_CB(skb)` and re-reads the header
/// through `tcp_hdr(skb)`.
#[derive(Clone, Copy, Debug)]
pub struct TcpSeg {
    /// Source address (the peer).
    pub saddr: std::net::Ipv4Addr,
    /// Destination address (ours).
    pub daddr: std::net::Ipv4Addr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// `seq`.
    pub seq: u32,
    /// `seq` + SYN + payload + FIN.
    pub end_seq: u32,
    /// `ack_seq`.
    pub ack_seq: u32,
    /// `TCPHDR_*`.
    pub flags: u8,
    /// The raw window field.
    pub window: u16,
    /// Payload bytes.
    pub len: u32,
    /// Options.
    pub opts: TcpOptions,
    /// The receiving device.
    pub dif: u32,
    /// Header length in 32-bit words (`doff`).
    pub doff: u8,
}

impl TcpSeg {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// The fourth 32-bit word of the header in host order — `doff`, the
    /// reserved bits (always 0 here), the flags and the window — which is
    /// what `tcp_flag_word(th)` reads for header prediction.
    pub fn tcp_flag_word(&self) -> u32 {
        (u32::from(self.doff) << 28) | (u32::from(self.flags) << 16) | u32::from(self.window)
    }
}

// -- header prediction --------------------------------------------------------

// ANCHOR: tcp_fast_path
/// `TCP_FLAG_ACK` in [`TcpSeg::tcp_flag_word`].
pub const TCP_FLAG_ACK: u32 = 0x0010_0000;
/// `TCP_FLAG_PSH`: ignored by the prediction.
pub const TCP_FLAG_PSH: u32 = 0x0008_0000;
/// `TCP_FLAG_CWR` in the flag word.
pub const TCP_FLAG_CWR: u32 = 0x0080_0000;
/// `TCP_FLAG_URG`.
pub const TCP_FLAG_URG: u32 = 0x0020_0000;
/// `TCP_FLAG_RST`.
pub const TCP_FLAG_RST: u32 = 0x0004_0000;
/// `TCP_FLAG_SYN`.
pub const TCP_FLAG_SYN: u32 = 0x0002_0000;
/// `TCP_FLAG_FIN`.
pub const TCP_FLAG_FIN: u32 = 0x0001_0000;
/// `TCP_RESERVED_BITS`: the reserved nibble of the header.
pub const TCP_RESERVED_BITS: u32 = 0x0F00_0000;
/// `TCP_HP_BITS`: the bits of the flag word header prediction compares.
pub const TCP_HP_BITS: u32 = !(TCP_RESERVED_BITS | TCP_FLAG_PSH);

/// `__tcp_fast_path_on()` (include/net/tcp.h): predict segments with our
/// usual header length, ACK alone (PSH ignored) and the window field
/// `snd_wnd` (unscaled). "pred_flags is 0xS?10 << 16 + snd_wnd".
pub fn __tcp_fast_path_on(tp: &mut TcpSk, snd_wnd: u32) {
    tp.pred_flags = (u32::from(tp.tcp_header_len) << 26) | TCP_FLAG_ACK | snd_wnd;
}

/// `tcp_fast_path_on()`: predict the current send window.
pub fn tcp_fast_path_on(tp: &mut TcpSk) {
    let wnd = tp.snd_wnd >> tp.rx_opt.snd_wscale;
    __tcp_fast_path_on(tp, wnd);
}

/// `tcp_fast_path_check()`: turn the fast path back on unless it must stay
/// off — data waits out of order, we advertise a zero window, or the
/// receive buffer is full (Linux also waits for urgent data, which we do
/// not implement).
pub fn tcp_fast_path_check(tp: &mut TcpSk) {
    if tp.out_of_order_queue.is_empty() && tp.rcv_wnd != 0 && tp.sk_rmem_alloc < tp.sk_rcvbuf {
        tcp_fast_path_on(tp);
    }
}
// ANCHOR_END: tcp_fast_path

/// What the receive path asks its caller, `tcp_v4_rcv()`, to do once the
/// socket lock is released (Linux does these under the lock, or returns 1
/// for "send a reset").
#[derive(Debug)]
pub enum RcvAction {
    /// Nothing more.
    Done,
    /// Answer the segment with a RST (`tcp_v4_send_reset()`).
    SendReset,
}

// -- RTT, RTO, congestion window ------------------------------------------------

// ANCHOR: tcp_rtt_estimator
/// Feed one RTT sample (µs) to the estimator.
///
/// Mirrors `tcp_rtt_estimator()`, Van Jacobson's algorithm in Linux's
/// fixed point: `srtt_us` holds 8 × SRTT and `mdev_us` 4 × the mean
/// deviation, so RFC 6298's α = 1/8 and β = 1/4 are shifts. Unlike the RFC,
/// RTTVAR is the *largest* deviation of the last RTT (`mdev_max_us`),
/// never below `tcp_rto_min_us`, and a sample smaller than SRTT moves the
/// deviation eight times less (`m >>= 3`): a falling RTT does not inflate
/// the RTO.
pub fn tcp_rtt_estimator(tn: &TcpNet, tp: &mut TcpSk, mrtt_us: i64) {
    let rto_min_us = tn.sysctl.tcp_rto_min_us.get().max(1) as u32;
    let mut m = mrtt_us;
    let mut srtt = i64::from(tp.rtt.srtt_us);
    if srtt != 0 {
        m -= srtt >> 3;
        srtt += m;
        if m < 0 {
            m = -m;
            m -= i64::from(tp.rtt.mdev_us >> 2);
            if m > 0 {
                m >>= 3;
            }
        } else {
            m -= i64::from(tp.rtt.mdev_us >> 2);
        }
        tp.rtt.mdev_us = (i64::from(tp.rtt.mdev_us) + m).max(0) as u32;
        if tp.rtt.mdev_us > tp.rtt.mdev_max_us {
            tp.rtt.mdev_max_us = tp.rtt.mdev_us;
            if tp.rtt.mdev_max_us > tp.rtt.rttvar_us {
                tp.rtt.rttvar_us = tp.rtt.mdev_max_us;
            }
        }
        if after(tp.snd_una, tp.rtt.rtt_seq) {
            if tp.rtt.mdev_max_us < tp.rtt.rttvar_us {
                tp.rtt.rttvar_us -= (tp.rtt.rttvar_us - tp.rtt.mdev_max_us) >> 2;
            }
            tp.rtt.rtt_seq = tp.snd_nxt;
            tp.rtt.mdev_max_us = rto_min_us;
        }
    } else {
        srtt = m << 3;
        tp.rtt.mdev_us = (m << 1).max(0) as u32;
        tp.rtt.rttvar_us = tp.rtt.mdev_us.max(rto_min_us);
        tp.rtt.mdev_max_us = tp.rtt.rttvar_us;
        tp.rtt.rtt_seq = tp.snd_nxt;
    }
    tp.rtt.srtt_us = srtt.clamp(1, i64::from(u32::MAX)) as u32;
}

/// `tcp_set_rto()`: RTO = SRTT + RTTVAR (RFC 6298 (2.3) with Linux's
/// RTTVAR, which already includes the floor), bounded by `TCP_RTO_MAX`.
pub fn tcp_set_rto(tp: &mut TcpSk) {
    let us = u64::from(tp.rtt.srtt_us >> 3) + u64::from(tp.rtt.rttvar_us);
    let j = us.div_ceil(1000).min(u64::from(TCP_RTO_MAX)) as u32;
    tp.icsk_rto = j.max(1);
}
// ANCHOR_END: tcp_rtt_estimator

/// `tcp_is_cwnd_limited()`: grow the window only if it is what limits the
/// sender — it filled it lately, or, in slow start, it is below twice the
/// most it had in flight. A sender held back by the receiver's window or
/// by the application must not inflate `snd_cwnd` (RFC 7661).
pub fn tcp_is_cwnd_limited(tp: &TcpSk) -> bool {
    if tp.is_cwnd_limited {
        return true;
    }
    tp.snd_cwnd < tp.snd_ssthresh && tp.snd_cwnd < 2 * tp.max_packets_out
}

/// `sysctl_tcp_pacing_ss_ratio` (200) and `sysctl_tcp_pacing_ca_ratio`
/// (120), Linux's defaults; not sysctls here.
pub const TCP_PACING_SS_RATIO: u64 = 200;
/// See [`TCP_PACING_SS_RATIO`].
pub const TCP_PACING_CA_RATIO: u64 = 120;

/// Mirrors `tcp_update_pacing_rate()` (net/ipv4/tcp_input.c), run after
/// every ACK's window update: `sk_pacing_rate` = mss · max(cwnd,
/// packets_out) / srtt, times 200 % in slow start (below half of
/// `ssthresh`) or 120 % after. Without an RTT yet the division is skipped,
/// as in Linux. No `SO_MAX_PACING_RATE` cap here.
pub fn tcp_update_pacing_rate(tp: &mut TcpSk) {
    // (USEC_PER_SEC / 100) << 3: srtt_us is 8 × the RTT, the ratio in percent.
    let mut rate = u64::from(tp.mss_cache) * ((1_000_000 / 100) << 3);
    rate *= if tp.snd_cwnd < tp.snd_ssthresh / 2 { TCP_PACING_SS_RATIO } else { TCP_PACING_CA_RATIO };
    rate *= u64::from(tp.snd_cwnd.max(tp.packets_out));
    if tp.rtt.srtt_us != 0 {
        rate /= u64::from(tp.rtt.srtt_us);
    }
    tp.sk_pacing_rate = rate;
}

/// Mirrors `tcp_cong_avoid()`: let the socket's algorithm grow the window
/// (`icsk_ca_ops->cong_avoid`, Reno's by default) for `acked` segments.
pub fn tcp_cong_avoid(tp: &mut TcpSk, ack: u32, acked: u32) {
    let ops = tp.icsk_ca_ops;
    ops.cong_avoid(tp, ack, acked);
}

// -- ACK processing ---------------------------------------------------------------

/// `tcp_may_update_window()`: RFC 9293's SND.WL1/SND.WL2 test: a newer ACK,
/// a newer segment, or the same segment with a bigger window — or a zero
/// one: Linux 6.18 always takes a window of 0 from the latest segment, so
/// a peer can close its window with a bare ACK (checked on the kernel: a
/// "win 0" ACK with nothing new turns RTOs into zero-window probes).
fn tcp_may_update_window(tp: &TcpSk, ack: u32, ack_seq: u32, nwin: u32) -> bool {
    after(ack, tp.snd_una)
        || after(ack_seq, tp.snd_wl1)
        || (ack_seq == tp.snd_wl1 && (nwin > tp.snd_wnd || nwin == 0))
}

/// `tcp_ack_update_window()`: take the peer's window (shifted by its
/// `snd_wscale`, RFC 7323 §2.3) if the segment is newer than the last
/// window update.
fn tcp_ack_update_window(tp: &mut TcpSk, seg: &TcpSeg) -> bool {
    let nwin = u32::from(seg.window) << tp.rx_opt.snd_wscale;
    let update = tcp_may_update_window(tp, seg.ack_seq, seg.seq, nwin);
    if update {
        tp.snd_wl1 = seg.seq;
        if tp.snd_wnd != nwin {
            tp.snd_wnd = nwin;
            // "Note, it is the only place, where fast path is recovered
            // for sending TCP."
            tp.pred_flags = 0;
            tcp_fast_path_check(tp);
            if nwin > tp.max_window {
                tp.max_window = nwin;
            }
        }
    }
    update // FLAG_WIN_UPDATE
}

/// Mirrors `tcp_update_rtt_min()`: feed the minimum-RTT filter (a window
/// of `tcp_min_rtt_wlen` seconds), skipping a sample that is probably a
/// delayed ACK's and above the minimum — "If the remote keeps returning
/// delayed ACKs, eventually the min filter would pick it up and
/// overestimate the prop. delay when it expires."
fn tcp_update_rtt_min(tn: &TcpNet, tp: &mut TcpSk, rtt_us: u32, maybe_delayed: bool) {
    let wlen = (tn.sysctl.tcp_min_rtt_wlen.get().clamp(0, 86_400) as u32) * net_core::jiffies::HZ as u32;
    if maybe_delayed && rtt_us > crate::tcp_recovery::tcp_min_rtt(tp) {
        return;
    }
    let now = tp.tcp_jiffies32();
    let sample = if rtt_us == 0 { net_core::jiffies::jiffies_to_usecs(1) as u32 } else { rtt_us };
    net_core::win_minmax::minmax_running_min(&mut tp.rtt_min, wlen, now, sample);
}

/// A first transmission `cb` was delivered: RACK's newest delivery and
/// the rate sample (`tcp_rack_advance()`, `tcp_rate_skb_delivered()`).
#[inline]
fn tcp_rack_delivered(tp: &mut TcpSk, rs: &mut crate::tcp_recovery::RateSample, cb: &TcpSkbCb) {
    let sent = crate::tcp_recovery::tcp_skb_timestamp_us(cb);
    crate::tcp_recovery::tcp_rack_advance(tp, cb.sacked, cb.end_seq, sent);
    crate::tcp_recovery::tcp_rate_skb_delivered(rs, cb);
}

/// `tcp_skb_spurious_retrans()`: the segment was retransmitted, but the
/// ACK echoes a timestamp older than that retransmission
/// (`tcp_tsopt_ecr_before()`): the original was what arrived.
fn tcp_skb_spurious_retrans(tp: &TcpSk, cb: &TcpSkbCb) -> bool {
    let sent_ts = (cb.when_ns / 1_000_000) as u32; // tcp_skb_timestamp_ts()
    cb.sacked & sacktag::TCPCB_RETRANS != 0 && fastretrans::tcp_tsopt_ecr_before(tp, sent_ts)
}

/// `tcp_clean_rtx_queue()`: free what `snd_una` now covers, take an RTT
/// sample from the newest segment never retransmitted (Karn), trim a
/// partly acknowledged head. With SACK, each segment delivered here (not
/// SACKed before) counts in `delivered` and advances RACK, unless its
/// ACK's echoed timestamp shows it answered an earlier transmission
/// (`tcp_skb_spurious_retrans()`). Returns segments fully acknowledged.
fn tcp_clean_rtx_queue(
    net: &Net,
    tn: &TcpNet,
    tp: &mut TcpSk,
    prior_snd_una: u32,
    rs: &mut crate::tcp_recovery::RateSample,
    flag: &mut i32,
) -> u32 {
    net_core::ftrace_graph!("tcp_clean_rtx_queue");
    let mut acked = 0;
    let prior_sacked = tp.sacked_out;
    let mut syn_acked = false;
    let sack = fastretrans::tcp_is_sack(tp);
    // Linux calls tcp_rack_advance() and tcp_rate_skb_delivered() for each
    // segment delivered here. First transmissions leave in sequence order,
    // so of a run of them only the last call leaves a trace (its RTT, and
    // the latest send time); that one is made when the run ends — before
    // a retransmitted segment's own call, or after the walk.
    let mut last_orig: Option<TcpSkbCb> = None;
    let mut newly_delivered = 0u32;
    let mut first_ackt: Option<u64> = None;
    let mut last_ackt: Option<u64> = None;
    let prior_in_flight = crate::tcp_output::tcp_packets_in_flight(tp);
    let mut retrans_data_acked = false;
    let now = net.now_ns();
    while let Some(head) = tp.tcp_rtx_queue.front() {
        let cb = *TCP_SKB_CB(head);
        if after(cb.end_seq, tp.snd_una) {
            break;
        }
        let skb = tp.tcp_rtx_queue.pop_front().expect("front");
        if cb.sacked & TCPCB_SACKED_RETRANS != 0 {
            tp.retrans_out = tp.retrans_out.saturating_sub(1);
        }
        if cb.sacked & TCPCB_LOST != 0 {
            tp.lost_out = tp.lost_out.saturating_sub(1);
        }
        if cb.sacked & TCPCB_SACKED_ACKED != 0 {
            tp.sacked_out = tp.sacked_out.saturating_sub(1);
        } else if sack {
            newly_delivered += 1; // tcp_count_delivered()
            if cb.sacked & sacktag::TCPCB_RETRANS == 0 {
                last_orig = Some(cb);
            } else {
                if let Some(orig) = last_orig.take() {
                    tcp_rack_delivered(tp, rs, &orig);
                }
                if !tcp_skb_spurious_retrans(tp, &cb) {
                    let sent = crate::tcp_recovery::tcp_skb_timestamp_us(&cb);
                    crate::tcp_recovery::tcp_rack_advance(tp, cb.sacked, cb.end_seq, sent);
                }
                crate::tcp_recovery::tcp_rate_skb_delivered(rs, &cb);
            }
        }
        syn_acked |= cb.tcp_flags & TCPHDR_SYN != 0;
        if cb.sacked & sacktag::TCPCB_RETRANS == 0
            && cb.sacked & TCPCB_SACKED_ACKED == 0
            && !after(cb.end_seq, tp.high_seq)
        {
            *flag |= fastretrans::FLAG_ORIG_SACK_ACKED;
        }
        if cb.sacked & TCPCB_EVER_RETRANS != 0 {
            retrans_data_acked = true; // FLAG_RETRANS_DATA_ACKED
        } else if cb.when_ns != 0 {
            last_ackt = Some(cb.when_ns);
            first_ackt.get_or_insert(cb.when_ns);
        }
        tp.packets_out = tp.packets_out.saturating_sub(1);
        tp.sk_wmem_queued = tp.sk_wmem_queued.saturating_sub(skb.truesize);
        acked += 1;
        drop(skb);
    }
    if let Some(orig) = last_orig {
        tcp_rack_delivered(tp, rs, &orig);
    }
    if retrans_data_acked {
        *flag |= fastretrans::FLAG_RETRANS_DATA_ACKED;
        // "If any of the cumulatively ACKed segments was retransmitted,
        // non-SACK case cannot confirm that progress was due to original
        // transmission due to lack of TCPCB_SACKED_ACKED bits."
        if !sack {
            *flag &= !fastretrans::FLAG_ORIG_SACK_ACKED;
        }
    }
    crate::tcp_recovery::tcp_count_delivered(tp, newly_delivered);
    // Karn: an ACK that also covers retransmitted data says nothing sure
    // about the round trip. Otherwise the sample runs from the oldest
    // segment it acknowledges (`first_ackt`).
    let mut seq_rtt_us = match (first_ackt, retrans_data_acked) {
        (Some(sent), false) => (now.saturating_sub(sent) / 1000).max(1) as i64,
        _ => -1,
    };
    // `ca_rtt_us`: the same, from the newest segment acknowledged — what
    // the congestion control's delay tracking gets (`rs->rtt_us`).
    let mut ca_rtt_us = match (last_ackt, retrans_data_acked) {
        (Some(sent), false) => (now.saturating_sub(sent) / 1000).max(1) as i64,
        _ => -1,
    };
    // tcp_ack_update_rtt(): without a sequence sample, the echoed timestamp
    // gives one (RFC 7323 §4.1) — it names the transmission that was
    // acknowledged, so it is safe even for retransmitted data.
    if seq_rtt_us < 0 && acked > 0 && tp.rx_opt.saw_tstamp && tp.rx_opt.rcv_tsecr != 0 {
        let delta = tcp_time_stamp_ts(net).wrapping_sub(tp.rx_opt.rcv_tsecr);
        if delta < (i32::MAX as u32) / 1000 {
            seq_rtt_us = i64::from(delta.max(1)) * 1000;
            ca_rtt_us = seq_rtt_us;
        }
    }
    if seq_rtt_us >= 0 {
        // "Conservatively mark a delayed ACK. It's typically from a lone
        // runt packet over the round trip to a receiver w/o out-of-order
        // or CE events" (FLAG_ACK_MAYBE_DELAYED).
        let maybe_delayed = acked == 1
            && prior_sacked == 0
            && !retrans_data_acked
            && !syn_acked
            && tp.snd_una.wrapping_sub(prior_snd_una) < u32::from(tp.mss_cache)
            && rs.prior_delivered.wrapping_add(1) == tp.delivered;
        tcp_update_rtt_min(tn, tp, ca_rtt_us.clamp(0, i64::from(u32::MAX)) as u32, maybe_delayed);
        tcp_rtt_estimator(tn, tp, seq_rtt_us);
        tcp_set_rto(tp);
    }
    // icsk_ca_ops->pkts_acked(): Linux also takes `ca_rtt_us` from the
    // newest SACKed segment (`last_sackt`); we sample cumulative ACKs only.
    let sample =
        crate::tcp_cong::AckSample { pkts_acked: acked, rtt_us: ca_rtt_us, in_flight: prior_in_flight };
    let ops = tp.icsk_ca_ops;
    ops.pkts_acked(net, tp, &sample);
    acked
}

// ANCHOR: tcp_ack
/// Process the acknowledgment field of an arriving segment.
///
/// Mirrors `tcp_ack()`: an ACK older than `snd_una` is ignored (0), or
/// answered with a challenge ACK if older than the largest window ever
/// offered (RFC 5961 §5, −1); one for data never sent is refused with a
/// challenge ACK too (−1), as Linux 6.18 does in every state.
/// Otherwise the send window is updated, `snd_una` advances, acknowledged
/// skbs leave the retransmit queue (RTT sample, new RTO), the backoff
/// resets, the RTO timer is re-armed or stopped, the congestion window
/// grows; in the Loss state a full ACK of `high_seq` returns to Open.
/// Returns 1 for an acceptable ACK.
pub fn tcp_ack(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk, seg: &TcpSeg, flag_in: i32) -> i32 {
    net_core::ftrace_graph!("tcp_ack");
    let prior_snd_una = tp.snd_una;
    let ack = seg.ack_seq;
    if before(ack, prior_snd_una) {
        // RFC 5961 §5.2: "SND.UNA - MAX.SND.WND", where no more than was
        // ever acknowledged can be in doubt.
        let max_window = u64::from(tp.max_window).min(tp.bytes_acked) as u32;
        if before(ack, prior_snd_una.wrapping_sub(max_window)) {
            tcp_send_challenge_ack(net, tn, sk, tp);
            return -1;
        }
        return 0;
    }
    if after(ack, tp.snd_nxt) {
        // An ACK of data never sent: dropped, and in Linux 6.18 answered
        // with a challenge ACK (checked on the kernel).
        tcp_send_challenge_ack(net, tn, sk, tp);
        return -1;
    }
    // "We passed data and got it acked, remove any soft error log.
    // Something worked..."
    tp.sk_err_soft = None;
    tp.icsk_probes_out = 0;
    tp.rcv_tstamp = tcp_jiffies32(net);
    let mut flag = flag_in & fastretrans::FLAG_DATA;
    // FLAG_UPDATE_TS_RECENT: an acceptable ACK may refresh TS.Recent (the
    // fast path stored it already).
    if flag_in & fastretrans::FLAG_UPDATE_TS_RECENT != 0 {
        tcp_replace_ts_recent(net, tp, seg.seq);
    }
    if flag_in & fastretrans::FLAG_SLOWPATH == 0 && after(ack, prior_snd_una) {
        // "Window is constant, pure forward advance. No more checks are
        // required": header prediction matched the window field.
        tp.snd_wl1 = seg.seq; // tcp_update_wl()
        flag |= fastretrans::FLAG_WIN_UPDATE;
        net.mib.inc(LinuxMib::TCPHPAcks);
    } else {
        if seg.end_seq != seg.seq {
            flag |= fastretrans::FLAG_DATA;
        } else {
            net.mib.inc(LinuxMib::TCPPureAcks);
        }
        if tcp_ack_update_window(tp, seg) {
            flag |= fastretrans::FLAG_WIN_UPDATE;
        }
    }
    if tp.packets_out == 0 {
        // Linux's `no_queue:` path: nothing was in flight.
        tcp_ack_probe(net, sk, tp);
    }
    // Linux's `prior_fack`: the highest SACKed sequence — or `snd_una`
    // when nothing is SACKed — *before* this ACK moves anything.
    let prior_fack = sacktag::tcp_highest_sack_seq(tp);
    let advanced = after(ack, prior_snd_una);
    if advanced {
        flag |= fastretrans::FLAG_SND_UNA_ADVANCED;
        tp.bytes_acked += u64::from(ack.wrapping_sub(prior_snd_una));
        tp.snd_una = ack;
    }
    // The scoreboard, then what the ACK frees, then the state machine
    // (Linux's order: tcp_sacktag_write_queue(), tcp_clean_rtx_queue(),
    // tcp_fastretrans_alert(), tcp_cong_control()).
    let mut delivered = 0;
    let mut rs = crate::tcp_recovery::RateSample::default();
    if tp.rx_opt.sack_ok && seg.opts.num_sacks > 0 {
        let st = sacktag::tcp_sacktag_write_queue(net, tn, tp, seg.opts.sacks(), ack, prior_snd_una);
        flag |= st.flag;
        delivered += st.sack_delivered;
        crate::tcp_recovery::tcp_count_delivered(tp, st.sack_delivered);
        rs = st.rate;
    }
    let prior_packets = tp.packets_out;
    if prior_packets == 0 {
        // no_queue: "If data was DSACKed, see if we can undo a cwnd
        // reduction" — the D-SACK of a retransmission that arrived after
        // everything was acknowledged.
        if flag & fastretrans::FLAG_DSACKING_ACK != 0 {
            fastretrans::tcp_fastretrans_alert(net, tn, sk, tp, prior_snd_una, 0, &mut flag);
        }
        return 1;
    }
    if advanced {
        let sacked_before = tp.sacked_out;
        // tcp_clean_rtx_queue(): a never-retransmitted, un-SACKed segment
        // acknowledged below the highest SACK filled its hole late.
        let reord = tp
            .tcp_rtx_queue
            .iter()
            .map(|skb| TCP_SKB_CB(skb))
            .take_while(|cb| !after(cb.end_seq, ack))
            .find(|cb| cb.sacked & (sacktag::TCPCB_RETRANS | TCPCB_SACKED_ACKED) == 0)
            .map(|cb| cb.seq);
        let acked = tcp_clean_rtx_queue(net, tn, tp, prior_snd_una, &mut rs, &mut flag);
        if acked > 0 {
            flag |= fastretrans::FLAG_DATA_ACKED;
        }
        delivered += if fastretrans::tcp_is_sack(tp) {
            acked.saturating_sub(sacked_before.saturating_sub(tp.sacked_out))
        } else if acked > 0 {
            let d = fastretrans::tcp_remove_reno_sacks(net, tn, tp, acked); // under FLAG_ACKED
            crate::tcp_recovery::tcp_count_delivered(tp, d);
            d
        } else {
            0
        };
        if let Some(reord) = reord.filter(|&r| fastretrans::tcp_is_sack(tp) && before(r, prior_fack)) {
            sacktag::tcp_check_sack_reordering(net, tn, tp, reord, prior_fack, false);
        }
        if tp.tcp_rtx_queue.front().is_some_and(|h| TCP_SKB_CB(h).sacked & TCPCB_SACKED_ACKED != 0) {
            flag |= fastretrans::FLAG_SACK_RENEGING;
        }
        tp.icsk_retransmits = 0;
        tp.icsk_backoff = 0;
        tp.icsk_probes_out = 0;
        // tcp_clean_rtx_queue(): "set TLP or RTO timer".
        flag |= fastretrans::FLAG_SET_XMIT_TIMER;
    }
    crate::tcp_recovery::tcp_rack_update_reo_wnd(tn, tp, rs.prior_delivered);
    if tp.tlp_high_seq != 0 {
        crate::tcp_tlp::tcp_process_tlp_ack(net, tp, ack, flag);
    }
    if fastretrans::tcp_ack_is_dubious(tp, flag) {
        let not_dup =
            fastretrans::FLAG_SND_UNA_ADVANCED | fastretrans::FLAG_NOT_DUP | fastretrans::FLAG_DSACKING_ACK;
        let num_dupack = u32::from(flag & not_dup == 0);
        let (sacked_before, lost_before) = (tp.sacked_out, tp.lost_out);
        let rexmit =
            fastretrans::tcp_fastretrans_alert(net, tn, sk, tp, prior_snd_una, num_dupack, &mut flag);
        if !fastretrans::tcp_is_sack(tp) {
            let d = tp.sacked_out.saturating_sub(sacked_before); // tcp_add_reno_sack()
            delivered += d;
            crate::tcp_recovery::tcp_count_delivered(tp, d);
        }
        let newly_lost = tp.lost_out.saturating_sub(lost_before);
        if flag & fastretrans::FLAG_SET_XMIT_TIMER != 0 {
            crate::tcp_tlp::tcp_set_xmit_timer(net, tn, sk, tp);
        }
        fastretrans::tcp_cong_control(tn, tp, ack, delivered, newly_lost, flag);
        crate::tcp_output::tcp_xmit_recovery(net, tn, sk, tp, rexmit);
    } else {
        if flag & fastretrans::FLAG_SET_XMIT_TIMER != 0 {
            crate::tcp_tlp::tcp_set_xmit_timer(net, tn, sk, tp);
        }
        fastretrans::tcp_cong_control(tn, tp, ack, delivered, 0, flag);
    }
    if !advanced {
        return 1;
    }
    // Nothing left in flight: no retransmission's clock to keep (we clear
    // it here, after undo has read it; Linux leaves it to the next
    // dubious ACK in Open, tcp_try_to_open() or tcp_enter_recovery()).
    if tp.packets_out == 0 || tp.tcp_rtx_queue.is_empty() {
        tp.retrans_stamp = 0;
    }
    tcp_new_space(tn, tp);
    tp.wake_pending = true; // sk_write_space()
    1
}
// ANCHOR_END: tcp_ack

/// Mirrors `tcp_ack_probe()` (net/ipv4/tcp_input.c): an ACK came while
/// nothing was in flight and data waits. If the window now takes the head
/// of the write queue, stop probing (`icsk_backoff` and
/// `icsk_probes_tstamp` cleared, the timer stopped) and let
/// `tcp_data_snd_check()` send it; otherwise the peer answered a probe
/// with a window still too small: probe again one backed-off interval from
/// now ([`tcp_probe0_when`], clamped to `TCP_USER_TIMEOUT`).
fn tcp_ack_probe(net: &Net, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    let Some(head) = tp.sk_write_queue.peek() else { return };
    if !after(TCP_SKB_CB(head).end_seq, tp.tcp_wnd_end()) {
        tp.icsk_backoff = 0;
        tp.icsk_probes_tstamp = 0;
        if tp.icsk_pending == ICSK_TIME_PROBE0 {
            inet_csk_clear_xmit_timer(net, sk, tp);
        }
    } else {
        let when = tcp_probe0_when(tp);
        let when = tcp_clamp_probe0_to_user_timeout(net, tp, when);
        inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_PROBE0, when);
    }
}

// ANCHOR: tcp_sndbuf_expand
/// `tcp_sndbuf_expand()`: a send buffer that holds two congestion windows
/// of worst-case skbs (one power-of-two buffer per MSS plus the skb head),
/// at least `TCP_INIT_CWND` segments' worth, up to `tcp_wmem[2]`. With a
/// 1460-byte MSS that is 2 × 10 × 4352 = 87040 bytes, the `tb87040` of
/// Linux's `ss -m`.
pub fn tcp_sndbuf_expand(tn: &TcpNet, tp: &mut TcpSk) {
    // max(mss_clamp, mss_cache) + MAX_TCP_HEADER + skb_shared_info (320),
    // rounded to a power of two, plus the sk_buff (256, as Linux's).
    let per_mss = (u64::from(tp.rx_opt.mss_clamp.max(tp.mss_cache)) + MAX_TCP_HEADER as u64 + 320)
        .next_power_of_two()
        + 256;
    let nr_segs = u64::from(tp.snd_cwnd.max(TCP_INIT_CWND));
    let sndmem = 2 * nr_segs * per_mss;
    let wmem_max = tn.sysctl.tcp_wmem.get_n(2).clamp(1, i64::from(i32::MAX)) as u64;
    if u64::from(tp.sk_sndbuf) < sndmem {
        tp.sk_sndbuf = sndmem.min(wmem_max) as u32;
    }
}
// ANCHOR_END: tcp_sndbuf_expand

/// `tcp_new_space()` → `tcp_should_expand_sndbuf()`: after an ACK freed
/// send space, grow the buffer along with the congestion window — unless
/// the user set `SO_SNDBUF` or the window is full.
fn tcp_new_space(tn: &TcpNet, tp: &mut TcpSk) {
    if tp.sk_userlocks & SOCK_SNDBUF_LOCK == 0 && tcp_packets_in_flight(tp) < tp.snd_cwnd {
        tcp_sndbuf_expand(tn, tp);
    }
}

// ANCHOR: tcp_oow_rate_limited
/// Mirrors `__tcp_oow_rate_limited()` (net/ipv4/tcp_input.c): may we answer
/// another out-of-window segment now? At most one answer per
/// `tcp_invalid_ratelimit` ms per socket, timed from the last one
/// (`last_oow_ack_time`, in `tcp_jiffies32`; 0 = never). When it says no, it counts
/// `mib` (one of the `TCPACKSkipped*` counters) and returns true; when it
/// says yes it records now as the last answer. This is what keeps two
/// hosts that disagree about the window from trading ACKs for ever
/// ("ACK loops", Linux commit 032ee4236954).
pub fn __tcp_oow_rate_limited(net: &Net, tn: &TcpNet, mib: LinuxMib, last_oow_ack_time: &mut u32) -> bool {
    let now = tcp_jiffies32(net);
    if *last_oow_ack_time != 0 {
        let elapsed = i64::from(now.wrapping_sub(*last_oow_ack_time) as i32);
        let limit = tn.sysctl.tcp_invalid_ratelimit.get();
        if (0..limit).contains(&elapsed) {
            net.mib.inc(mib);
            return true; // rate-limited: don't send yet
        }
    }
    // jiffies32 may wrap to 0, which then reads as "never", as in Linux.
    *last_oow_ack_time = now;
    false
}

/// Mirrors `tcp_oow_rate_limited()` (net/ipv4/tcp_input.c): the rate limit
/// applies only to segments that carry no data, or carry a SYN — a
/// data segment always earns its duplicate ACK (the sender needs it to
/// recover), while a bare ACK or SYN is what an ACK loop is made of.
pub fn tcp_oow_rate_limited(net: &Net, tn: &TcpNet, seg: &TcpSeg, mib: LinuxMib, tp: &mut TcpSk) -> bool {
    if seg.seq != seg.end_seq && !seg.has(TCPHDR_SYN) {
        return false;
    }
    __tcp_oow_rate_limited(net, tn, mib, &mut tp.last_oow_ack_time)
}
// ANCHOR_END: tcp_oow_rate_limited

// ANCHOR: tcp_send_challenge_ack
/// Mirrors `tcp_send_challenge_ack()` (net/ipv4/tcp_input.c), RFC 5961 §7
/// ("ACK throttling"): answer a suspicious RST, SYN or ACK with a plain
/// ACK, so that a real peer learns our `rcv_nxt` (and resends an exact
/// RST) while a blind attacker learns nothing. Two limits:
///
/// - per socket, [`__tcp_oow_rate_limited`] (`tcp_invalid_ratelimit`,
///   500 ms): a suppressed answer counts `TCPACKSkippedChallenge`;
/// - per host (namespace), `tcp_challenge_ack_limit` per second — unless
///   it is `INT_MAX`, the default since Linux 6.0, which skips the budget.
///   Otherwise, the first challenge of each new second (`jiffies / HZ`)
///   refills `tcp_challenge_count` with a random number in
///   `[limit/2, limit + limit/2)` (`get_random_u32_inclusive(half,
///   ack_limit + half - 1)`, `half = (limit + 1) / 2`), so an attacker
///   cannot count the host's challenges to learn when a guess was in the
///   window (CVE-2016-5696); each challenge takes one, none is sent at 0.
///
/// `TCPChallengeACK` counts those sent. The random draw comes from the
/// namespace's seeded source (`net.random`), so runs are repeatable.
pub fn tcp_send_challenge_ack(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    use std::sync::atomic::Ordering::Relaxed;
    if __tcp_oow_rate_limited(net, tn, LinuxMib::TCPACKSkippedChallenge, &mut tp.last_oow_ack_time) {
        return;
    }
    let ack_limit = tn.sysctl.tcp_challenge_ack_limit.get().clamp(0, i64::from(i32::MAX)) as u32;
    if ack_limit != i32::MAX as u32 {
        let now = net.jiffies() / net_core::jiffies::HZ;
        if now != tn.tcp_challenge_timestamp.load(Relaxed) {
            let half = (ack_limit + 1) >> 1;
            tn.tcp_challenge_timestamp.store(now, Relaxed);
            // get_random_u32_inclusive(half, ack_limit + half - 1): a draw
            // below `ack_limit` added to `half`. With a limit of 0 Linux's
            // draw is 0 too (`get_random_u32_below(0)`), so none is sent.
            let span = ack_limit;
            let draw = if span == 0 { 0 } else { net.random.get_random_u32_below(span) };
            tn.tcp_challenge_count.store(half + draw, Relaxed);
        }
        // Unprotected read-then-write, as in Linux: racing CPUs may
        // overspend the budget by a little, which does not matter.
        let count = tn.tcp_challenge_count.load(Relaxed);
        if count == 0 {
            return;
        }
        tn.tcp_challenge_count.store(count - 1, Relaxed);
    }
    net.mib.inc(LinuxMib::TCPChallengeACK);
    tcp_send_ack(net, tn, sk, tp);
}
// ANCHOR_END: tcp_send_challenge_ack

// -- RST, FIN ------------------------------------------------------------------------

// ANCHOR: tcp_reset
/// A valid RST arrived (`tcp_reset()`): the error the user sees depends on
/// the state (RFC 9293 §3.10.7.4: "connection reset"; SYN-SENT: refused),
/// queues are purged and the socket is done.
pub fn tcp_reset(net: &Net, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    tp.sk_err = Some(match tp.state {
        TcpState::SynSent => Errno::ECONNREFUSED,
        TcpState::CloseWait => Errno::EPIPE,
        TcpState::Close => return,
        _ => Errno::ECONNRESET,
    });
    tcp_write_queue_purge(tp);
    tcp_done(net, sk, tp);
}
// ANCHOR_END: tcp_reset

/// `tcp_write_queue_purge()`: drop unsent and unacknowledged data.
pub fn tcp_write_queue_purge(tp: &mut TcpSk) {
    tp.sk_write_queue.purge();
    tp.tcp_rtx_queue.clear();
    tp.sk_wmem_queued = 0;
    tp.packets_out = 0;
    tp.retrans_out = 0;
}

// ANCHOR: tcp_fin
/// The peer's FIN is in sequence (`tcp_fin()`), RFC 9293 §3.10.7.4 step 8:
/// no more data will come (`RCV_SHUTDOWN`); ESTABLISHED moves to
/// CLOSE_WAIT, FIN_WAIT1 to CLOSING, FIN_WAIT2 to TIME_WAIT; the
/// out-of-order queue is dropped and an ACK is scheduled at once.
pub fn tcp_fin(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    tp.icsk_ack.pending |= ICSK_ACK_SCHED;
    tp.sk_shutdown |= RCV_SHUTDOWN;
    tp.done = true;
    match tp.state {
        TcpState::SynRecv | TcpState::Established => {
            tcp_set_state(net, sk, tp, TcpState::CloseWait);
            tp.icsk_ack.pingpong = 1; // inet_csk_enter_pingpong_mode()
        }
        TcpState::CloseWait | TcpState::Closing | TcpState::LastAck => {}
        TcpState::FinWait1 => {
            tcp_send_ack(net, tn, sk, tp);
            tcp_set_state(net, sk, tp, TcpState::Closing);
        }
        TcpState::FinWait2 => {
            tcp_send_ack(net, tn, sk, tp);
            tcp_time_wait(net, tn, sk, tp, TcpState::TimeWait, 0);
        }
        _ => {}
    }
    // Nothing can come after the FIN: drop what waits beyond a hole, and
    // the SACK blocks that reported it (`tcp_sack_reset()`).
    while let Some(node) = tp.out_of_order_queue.front_mut().remove() {
        tp.sk_rmem_alloc = tp.sk_rmem_alloc.saturating_sub(node.skb.truesize);
    }
    if tcp_is_sack(tp) {
        tp.rx_opt.num_sacks = 0;
        tp.rx_opt.dsack = false;
    }
    tp.wake_pending = true;
}
// ANCHOR_END: tcp_fin

// -- data ---------------------------------------------------------------------------

/// `tcp_incr_quickack()`: ACK the next segments at once, about as many as
/// fill half the window (at most `max_quickacks`, itself at most
/// [`TCP_MAX_QUICKACKS`]).
fn tcp_incr_quickack(tp: &mut TcpSk, max_quickacks: u8) {
    let rcv_mss = u32::from(tp.icsk_ack.rcv_mss.max(1));
    let mut quickacks = (tp.rcv_wnd / (2 * rcv_mss)) as u8;
    if quickacks == 0 {
        quickacks = 2;
    }
    quickacks = quickacks.min(max_quickacks);
    if quickacks > tp.icsk_ack.quick {
        tp.icsk_ack.quick = quickacks;
    }
}

/// `tcp_enter_quickack_mode()`: up to `max_quickacks` immediate ACKs,
/// out of interactive mode, `ato` back to its minimum.
pub fn tcp_enter_quickack_mode(tp: &mut TcpSk, max_quickacks: u8) {
    tcp_incr_quickack(tp, max_quickacks);
    tp.icsk_ack.pingpong = 0;
    tp.icsk_ack.ato = TCP_ATO_MIN;
}

// ANCHOR: tcp_measure_rcv_mss
/// `tcp_measure_rcv_mss()`: the peer's segment size, for ACK and window
/// decisions, and — when it changes — `scaling_ratio`, the payload share
/// of what the segment costs the receive buffer (`len / truesize`, in
/// 256ths). The window clamp follows the ratio (`tcp_set_window_clamp()`),
/// so a buffer that holds payload efficiently offers more window.
fn tcp_measure_rcv_mss(tp: &mut TcpSk, skb_len: u32, truesize: u32, gso_size: u16) {
    let rcv_mss = u32::from(tp.icsk_ack.rcv_mss);
    // A packet GRO merged tells the wire's segment size in gso_size.
    let len = if gso_size != 0 { u32::from(gso_size) } else { skb_len };
    if len >= rcv_mss {
        if len != rcv_mss && truesize > 0 {
            let len = skb_len;
            let val = (u64::from(len) << TCP_RMEM_TO_WIN_SCALE) / u64::from(truesize);
            let old_ratio = tp.scaling_ratio;
            tp.scaling_ratio = val.clamp(1, 255) as u8;
            if old_ratio != tp.scaling_ratio {
                let clamp = tcp_full_space(tp).max(0) as u32;
                tcp_set_window_clamp(tp, clamp);
                if tp.window_clamp < tp.rcv_ssthresh {
                    tp.rcv_ssthresh = tp.window_clamp;
                }
            }
        }
        tp.icsk_ack.rcv_mss = (len.min(u32::from(tp.advmss))) as u16;
    } else {
        // A short segment: the sender pushed. Linux's `last_seg_size`
        // heuristic (a repeated size of at least 536 bytes is the MSS)
        // is left out.
        if tp.icsk_ack.pending & ICSK_ACK_PUSHED != 0 {
            tp.icsk_ack.pending |= ICSK_ACK_PUSHED2;
        }
        tp.icsk_ack.pending |= ICSK_ACK_PUSHED;
    }
}

/// `tcp_set_window_clamp()`: a new ceiling for the offered window; never
/// below half the minimum buffer. When it rises, `rcv_ssthresh` may follow
/// up to the current window.
fn tcp_set_window_clamp(tp: &mut TcpSk, val: u32) {
    let old = tp.window_clamp;
    let new = val.max(SOCK_MIN_RCVBUF / 2).min(65535u32 << tp.rx_opt.rcv_wscale);
    tp.window_clamp = new;
    if new < old {
        tp.rcv_ssthresh = tp.rcv_ssthresh.min(new);
    } else {
        tp.rcv_ssthresh = tp.rcv_ssthresh.max(tp.rcv_wnd.min(new));
    }
}

/// `__tcp_grow_window()`: for a segment whose overhead is worse than the
/// buffer's average, grow only while `rcv_ssthresh` is small compared with
/// what the largest buffer could offer.
fn __tcp_grow_window(tn: &TcpNet, tp: &TcpSk, len: u32, truesize: u32) -> u32 {
    let mut truesize = tcp_win_from_space(tp, i64::from(truesize)) >> 1;
    let mut window = tcp_win_from_space(tp, tn.sysctl.tcp_rmem.get_n(2)) >> 1;
    while i64::from(tp.rcv_ssthresh) <= window {
        if truesize <= i64::from(len) {
            return 2 * u32::from(tp.icsk_ack.rcv_mss);
        }
        truesize >>= 1;
        window >>= 1;
    }
    0
}

/// `tcp_grow_window()`: slow start for the receive window. Each segment
/// that arrives raises `rcv_ssthresh` (the ceiling `__tcp_select_window()`
/// offers up to) by two MSS or twice its length, within the clamp and the
/// free buffer — so the window opens only as fast as the sender proves it
/// can fill it, and only while segments are not mostly overhead.
fn tcp_grow_window(tn: &TcpNet, tp: &mut TcpSk, len: u32, truesize: u32) {
    let room = i64::from(tp.window_clamp).min(tcp_space(tp)) - i64::from(tp.rcv_ssthresh);
    if room <= 0 {
        return;
    }
    let incr = if tcp_win_from_space(tp, i64::from(truesize)) <= i64::from(len) {
        2 * u32::from(tp.advmss)
    } else {
        __tcp_grow_window(tn, tp, len, truesize)
    };
    if incr > 0 {
        let incr = incr.max(2 * len);
        tp.rcv_ssthresh += (room.min(i64::from(incr))) as u32;
        tp.icsk_ack.quick |= 1;
    }
}
// ANCHOR_END: tcp_measure_rcv_mss

// ANCHOR: tcp_event_data_recv
/// `tcp_event_data_recv()`: data arrived, so an ACK is due; the delayed-ACK
/// timeout `ato` follows the arrival rhythm (a gap longer than the RTO
/// restarts quick-ACK mode); the window may grow (`tcp_grow_window()`:
/// two segments' worth per segment, up to the clamp).
fn tcp_event_data_recv(net: &Net, tn: &TcpNet, tp: &mut TcpSk, len: u32, truesize: u32, gso_size: u16) {
    net_core::ftrace_graph!("tcp_event_data_recv");
    tp.icsk_ack.pending |= ICSK_ACK_SCHED;
    tcp_measure_rcv_mss(tp, len, truesize, gso_size);
    autotune::tcp_rcv_rtt_measure(tp);
    let now = tcp_jiffies32(net);
    if tp.icsk_ack.ato == 0 {
        tcp_incr_quickack(tp, TCP_MAX_QUICKACKS);
        tp.icsk_ack.ato = TCP_ATO_MIN;
    } else {
        let m = now.wrapping_sub(tp.icsk_ack.lrcvtime);
        if m <= TCP_ATO_MIN / 2 {
            tp.icsk_ack.ato = (tp.icsk_ack.ato >> 1) + TCP_ATO_MIN / 2;
        } else if m < tp.icsk_ack.ato {
            tp.icsk_ack.ato = (tp.icsk_ack.ato >> 1) + m;
            tp.icsk_ack.ato = tp.icsk_ack.ato.min(tp.icsk_rto);
        } else if m > tp.icsk_rto {
            tcp_incr_quickack(tp, TCP_MAX_QUICKACKS);
        }
    }
    tp.icsk_ack.lrcvtime = now;
    if len >= 128 {
        tcp_grow_window(tn, tp, len, truesize);
    }
}
// ANCHOR_END: tcp_event_data_recv

/// Put an in-order skb (payload at `data`) on the receive queue, charging
/// the receive buffer (`tcp_queue_rcv()`).
///
/// A GRO packet whose merged payloads are still on its frag list is
/// queued as its pieces, each an skb with its own sequence number and
/// charge, so `tcp_recvmsg()` and the collapse code see only linear
/// skbs. Linux queues the one skb with its frags; the bytes and the
/// charge are the same.
fn tcp_queue_rcv(tp: &mut TcpSk, mut skb: Skb) {
    net_core::ftrace_graph!("tcp_queue_rcv");
    let mut frags = std::mem::take(skb.frag_list_mut());
    let mut seq = TCP_SKB_CB(&skb).seq.wrapping_add(skb.len() as u32);
    if !skb.is_empty() {
        tp.sk_rmem_alloc += skb.truesize;
        tp.sk_receive_queue.queue_tail(skb);
    }
    while let Some(mut f) = frags.dequeue() {
        if f.is_empty() {
            continue;
        }
        let n = f.len() as u32;
        TCP_SKB_CB_mut(&mut f).seq = seq;
        seq = seq.wrapping_add(n);
        tp.sk_rmem_alloc += f.truesize;
        tp.sk_receive_queue.queue_tail(f);
    }
}

// ANCHOR: tcp_try_rmem_schedule
/// `tcp_try_rmem_schedule()`: may a segment of `len` payload bytes
/// (starting at `seq`) be queued — does what the socket holds already,
/// plus this payload, fit in `sk_rcvbuf` (`tcp_can_ingest()`)? If the receive buffer is full, `tcp_prune_queue()`
/// (`PruneCalled`) first repacks the receive queue
/// ([`collapse::tcp_collapse_receive_queue`]), then, if that is not
/// enough, makes room the destructive way Linux does: `tcp_prune_ofo_queue()` drops out-of-order
/// data from the highest sequence down (`OfoPruned`), never below `seq`,
/// so in-order data can always displace data beyond a hole — otherwise a
/// buffer full of out-of-order segments would refuse the very segment
/// that fills the hole, for ever. If that is still not enough the segment
/// is dropped (`RcvPruned`); the sender will retransmit it.
fn tcp_try_rmem_schedule(net: &Net, tp: &mut TcpSk, seq: u32, len: usize) -> bool {
    // tcp_can_ingest(): what is queued already plus this payload.
    let fits = |tp: &TcpSk| {
        u64::from(tp.sk_rmem_alloc) + len as u64 <= u64::from(tp.sk_rcvbuf) || tp.sk_rmem_alloc == 0
    };
    if fits(tp) {
        return true;
    }
    net.mib.inc(LinuxMib::PruneCalled);
    // tcp_prune_queue(): first squeeze the receive queue (tcp_collapse()).
    if tp.sk_rmem_alloc >= tp.sk_rcvbuf {
        collapse::tcp_clamp_window(tp);
    }
    let freed = collapse::tcp_collapse_ofo_queue(tp) + collapse::tcp_collapse_receive_queue(tp);
    if freed > 0 && fits(tp) {
        return true;
    }
    let mut pruned = false;
    while !fits(tp) {
        let Some(last) = tp.out_of_order_queue.back().get() else { break };
        if !after(last.seq, seq) {
            break;
        }
        let node = tp.out_of_order_queue.back_mut().remove().expect("back");
        tp.sk_rmem_alloc = tp.sk_rmem_alloc.saturating_sub(node.skb.truesize);
        pruned = true;
    }
    if pruned {
        net.mib.inc(LinuxMib::OfoPruned);
        // The blocks we reported are gone (`tcp_sack_reset()`).
        tp.rx_opt.num_sacks = 0;
    }
    if fits(tp) {
        return true;
    }
    net.mib.inc(LinuxMib::RcvPruned);
    false
}
// ANCHOR_END: tcp_try_rmem_schedule

// ANCHOR: tcp_data_queue
/// Queue the data of an acceptable segment (`tcp_data_queue()`), RFC 9293
/// §3.10.7.4 step 7.
///
/// - In order (`seq == rcv_nxt`): into a zero window it is dropped
///   (`TCPZeroWindowDrop`) and answered; without buffer space dropped
///   (`TCPRcvQDrop`); otherwise queued, `rcv_nxt` advances, a FIN is
///   processed ([`tcp_fin`]), then whatever the out-of-order queue now
///   makes contiguous follows (`tcp_ofo_queue()`).
/// - Entirely old (a retransmission we have): quick-ACK mode and an
///   immediate duplicate ACK.
/// - Beyond the window: dropped, answered with an ACK.
/// - Starting before `rcv_nxt` and ending after: the old part is trimmed,
///   the rest queued in order.
/// - Starting after `rcv_nxt`: the out-of-order queue
///   (`tcp_data_queue_ofo()`).
pub fn tcp_data_queue(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk, seg: &TcpSeg, mut skb: Skb) {
    net_core::ftrace_graph!("tcp_data_queue");
    let (mut seq, end_seq) = (seg.seq.wrapping_add(u32::from(seg.has(TCPHDR_SYN))), seg.end_seq);
    let fin = seg.has(TCPHDR_FIN);
    if seq == end_seq {
        return;
    }
    if seq != tp.rcv_nxt {
        // Only an exactly in-order GRO packet is queued as its chained
        // pieces; trimming and the out-of-order queue read one buffer.
        skb.skb_linearize();
    }
    if seq == tp.rcv_nxt || (before(seq, tp.rcv_nxt) && after(end_seq, tp.rcv_nxt)) {
        if before(seq, tp.rcv_nxt) {
            tcp_dsack_set(net, tn, tp, seq, tp.rcv_nxt);
            let trim = tp.rcv_nxt.wrapping_sub(seq) as usize;
            let n = trim.min(skb.len());
            skb.pull(n);
            seq = tp.rcv_nxt;
        }
        if tcp_receive_window(tp) == 0 && !skb.is_empty() {
            net.mib.inc(LinuxMib::TCPZeroWindowDrop);
            tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS);
            tp.icsk_ack.pending |= ICSK_ACK_SCHED;
            return;
        }
        let len = skb.len() + skb.frag_list_len();
        if !tcp_try_rmem_schedule(net, tp, seq, len) {
            net.mib.inc(LinuxMib::TCPRcvQDrop);
            tp.icsk_ack.pending |= ICSK_ACK_SCHED;
            return;
        }
        let (len, truesize, gso_size) = (len as u32, skb.total_truesize(), skb.gso_size);
        tp.bytes_received += u64::from(end_seq.wrapping_sub(seq));
        tp.rcv_nxt = end_seq;
        TCP_SKB_CB_mut(&mut skb).seq = seq;
        // Linux's order: queue, then tcp_event_data_recv(), whose
        // tcp_grow_window() sees the buffer with this segment in it.
        tcp_queue_rcv(tp, skb);
        if len > 0 {
            tcp_event_data_recv(net, tn, tp, len, truesize, gso_size);
        }
        if fin {
            tcp_fin(net, tn, sk, tp);
        }
        if !tp.out_of_order_queue.is_empty() {
            tcp_ofo_queue(net, tn, sk, tp);
            if tp.out_of_order_queue.is_empty() {
                // RFC 5681 §4.2: the hole is filled, ACK at once.
                tp.icsk_ack.pending |= ICSK_ACK_NOW;
            }
        }
        if tp.rx_opt.num_sacks > 0 {
            tcp_sack_remove(tp);
        }
        tcp_fast_path_check(tp);
        tp.wake_pending = true;
        return;
    }
    if !after(end_seq, tp.rcv_nxt) {
        // A retransmission of what we have: our ACK was lost, so tell
        // the sender at once, and what was duplicated.
        net.mib.inc(LinuxMib::DelayedACKLost);
        tcp_dsack_set(net, tn, tp, seq, end_seq);
        tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS);
        tp.icsk_ack.pending |= ICSK_ACK_SCHED;
        return;
    }
    if !before(seq, tp.rcv_nxt.wrapping_add(tcp_receive_window(tp))) {
        net.mib.inc(LinuxMib::TCPZeroWindowDrop);
        tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS);
        tp.icsk_ack.pending |= ICSK_ACK_SCHED;
        return;
    }
    tcp_data_queue_ofo(net, tn, tp, seq, end_seq, skb, fin);
}
// ANCHOR_END: tcp_data_queue

// ANCHOR: tcp_data_queue_ofo
/// `tcp_data_queue_ofo()`: keep a segment that arrived beyond a hole, in
/// sequence order (`TCPOFOQueue`; `TCPOFODrop` without buffer space).
///
/// Overlaps are settled on insert as Linux settles them: a segment an
/// earlier one covers is dropped (`TCPOFOMerge`) and reported as a D-SACK;
/// a segment that starts where an earlier one starts and reaches further
/// replaces it; later segments it covers are dropped, reported in the
/// same D-SACK block (`tcp_dsack_extend()`). With SACK agreed, the range
/// then goes into the SACK blocks (`tcp_sack_new_ofo_skb()`; the first
/// out-of-order segment builds the only block).
///
/// Where we differ: a partial overlap with the segments around it is kept
/// as it came (delivery trims it); Linux does the same, but also
/// coalesces neighbouring skbs into one (`tcp_ooo_try_coalesce()`). And
/// the window does not grow for out-of-order data (Linux calls
/// `tcp_grow_window()` for SACK flows).
fn tcp_data_queue_ofo(
    net: &Net,
    tn: &TcpNet,
    tp: &mut TcpSk,
    seq: u32,
    end_seq: u32,
    mut skb: Skb,
    fin: bool,
) {
    tp.pred_flags = 0; // "Disable header prediction."
    if !tcp_try_rmem_schedule(net, tp, seq, skb.len()) {
        net.mib.inc(LinuxMib::TCPOFODrop);
        tp.icsk_ack.pending |= ICSK_ACK_SCHED;
        return;
    }
    net.mib.inc(LinuxMib::TCPOFOQueue);
    tp.icsk_ack.pending |= ICSK_ACK_SCHED;
    {
        let cb = TCP_SKB_CB_mut(&mut skb);
        cb.seq = seq;
        cb.end_seq = end_seq;
        cb.tcp_flags = if fin { TCPHDR_FIN } else { 0 };
    }
    if tp.out_of_order_queue.is_empty() && tcp_is_sack(tp) {
        // The first out-of-order segment builds the one SACK block.
        tp.rx_opt.num_sacks = 0;
    }
    // Find the last segment starting at or before ours, walking from the
    // largest (Linux's fast path appends at the tail).
    let mut c = tp.out_of_order_queue.back_mut();
    while let Some(n) = c.get() {
        if !after(n.seq, seq) {
            break;
        }
        c.move_prev();
    }
    // (start, end, whether it extends rather than sets the D-SACK block)
    let mut dsack: Option<(u32, u32, bool)> = None;
    let mut freed = 0;
    let mut merged = 0;
    if let Some((p_seq, p_end)) = c.get().map(|p| (p.seq, p.end_seq)) {
        if before(seq, p_end) {
            if !after(end_seq, p_end) {
                // All of ours is here already.
                net.mib.inc(LinuxMib::TCPOFOMerge);
                tcp_dsack_set(net, tn, tp, seq, end_seq);
                if tcp_is_sack(tp) {
                    tcp_sack_new_ofo_skb(tp, seq, end_seq);
                }
                autotune::tcp_rcvbuf_grow_ofo(tn, tp);
                return;
            }
            if after(seq, p_seq) {
                dsack = Some((seq, p_end, false)); // partial overlap
            } else {
                // Same start, ours reaches further: ours replaces it.
                let old = c.remove().expect("current");
                freed += old.skb.truesize;
                merged += 1;
                dsack = Some((old.seq, old.end_seq, true));
                c.move_prev();
            }
        }
    }
    let truesize = skb.truesize;
    // After the one before ours, or at the front when the cursor is null.
    c.insert_after(Box::new(OfoNode { link: RBTreeAtomicLink::new(), seq, end_seq, skb }));
    c.move_next(); // ours
    c.move_next(); // the first one after it
    let mut extend: Vec<(u32, u32)> = Vec::new();
    while let Some((n_seq, n_end)) = c.get().map(|n| (n.seq, n.end_seq)) {
        if !after(end_seq, n_seq) {
            break;
        }
        if before(end_seq, n_end) {
            extend.push((n_seq, end_seq));
            break;
        }
        if let Some(old) = c.remove() {
            freed += old.skb.truesize;
            merged += 1;
            extend.push((old.seq, old.end_seq));
        }
    }
    tp.sk_rmem_alloc = (tp.sk_rmem_alloc + truesize).saturating_sub(freed);
    for _ in 0..merged {
        net.mib.inc(LinuxMib::TCPOFOMerge);
    }
    match dsack {
        Some((s, e, true)) => tcp_dsack_extend(net, tn, tp, s, e),
        Some((s, e, false)) => tcp_dsack_set(net, tn, tp, s, e),
        None => {}
    }
    for (s, e) in extend {
        tcp_dsack_extend(net, tn, tp, s, e);
    }
    if tcp_is_sack(tp) {
        tcp_sack_new_ofo_skb(tp, seq, end_seq);
    }
    autotune::tcp_rcvbuf_grow_ofo(tn, tp);
}
// ANCHOR_END: tcp_data_queue_ofo

/// `tcp_ofo_queue()`: move segments that are now in order from the
/// out-of-order tree to the receive queue.
fn tcp_ofo_queue(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    let dsack_high = tp.rcv_nxt;
    loop {
        let Some((first_seq, first_end)) = tp.out_of_order_queue.front().get().map(|n| (n.seq, n.end_seq))
        else {
            return;
        };
        if after(first_seq, tp.rcv_nxt) {
            return;
        }
        if before(first_seq, dsack_high) {
            // Part of it came in order meanwhile: a duplicate.
            let dsack = if before(first_end, dsack_high) { first_end } else { dsack_high };
            tcp_dsack_extend(net, tn, tp, first_seq, dsack);
        }
        let node = tp.out_of_order_queue.front_mut().remove().expect("front");
        let OfoNode { seq, end_seq, mut skb, .. } = *node;
        tp.sk_rmem_alloc = tp.sk_rmem_alloc.saturating_sub(skb.truesize);
        if !after(end_seq, tp.rcv_nxt) {
            continue; // all duplicate
        }
        let fin = TCP_SKB_CB(&skb).tcp_flags & TCPHDR_FIN != 0;
        let trim = tp.rcv_nxt.wrapping_sub(seq) as usize;
        let n = trim.min(skb.len());
        skb.pull(n);
        TCP_SKB_CB_mut(&mut skb).seq = tp.rcv_nxt;
        tp.bytes_received += u64::from(end_seq.wrapping_sub(tp.rcv_nxt));
        tp.rcv_nxt = end_seq;
        tcp_queue_rcv(tp, skb);
        if fin {
            tcp_fin(net, tn, sk, tp);
        }
    }
}

// ANCHOR: tcp_ack_snd_check
/// `__tcp_ack_snd_check()`: if an ACK is scheduled, send it now when more
/// than one full segment arrived since the last window update and the
/// window would not shrink (or the reader still waits for data: `rcv_nxt
/// - copied_seq` below `SO_RCVLOWAT`, 1), in quick-ACK mode, when the
/// protocol asked for one immediate ACK (`ICSK_ACK_NOW`), or with data
/// out of order; otherwise delay it ([`tcp_send_delayed_ack`]).
///
/// With data out of order and SACK agreed, Linux 6.18 *compresses* the
/// SACKs: the first `TCP_FASTRETRANS_THRESH` duplicate ACKs for one
/// `rcv_nxt` leave at once (the sender needs three to act), later ones are
/// held — at most `tcp_comp_sack_nr` of them — on a timer of 5 % of the
/// RTT, at most `tcp_comp_sack_delay_ns` (1 ms), and one ACK then reports
/// the newest blocks (`TCPAckCompressed` counts the ones saved).
///
/// Where we differ: Linux takes the RTT from the receiver's own estimate
/// (`rcv_rtt_est`), which we do not keep; we use the smoothed RTT, or the
/// 1 ms ceiling before there is one. Our timer has jiffy (1 ms) resolution.
pub fn tcp_ack_snd_check(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    net_core::ftrace_graph!("tcp_ack_snd_check");
    if tp.icsk_ack.pending & ICSK_ACK_SCHED == 0 {
        return;
    }
    let rcv_mss = u32::from(tp.icsk_ack.rcv_mss);
    let more_than_one = tp.rcv_nxt.wrapping_sub(tp.rcv_wup) > rcv_mss
        && (tp.rcv_nxt.wrapping_sub(tp.copied_seq) < 1 || __tcp_select_window(tp) >= tp.rcv_wnd);
    let quick = tp.icsk_ack.quick > 0 && tp.icsk_ack.pingpong == 0;
    let now = tp.icsk_ack.pending & ICSK_ACK_NOW != 0;
    if more_than_one || quick || now {
        tcp_send_ack(net, tn, sk, tp);
        return;
    }
    if tp.out_of_order_queue.is_empty() {
        tcp_send_delayed_ack(net, tn, sk, tp);
        return;
    }
    let comp_sack_nr = tn.sysctl.tcp_comp_sack_nr.get().clamp(0, 255) as u32;
    if !tp.rx_opt.sack_ok || tp.compressed_ack >= comp_sack_nr {
        tcp_send_ack(net, tn, sk, tp);
        return;
    }
    if tp.compressed_ack_rcv_nxt != tp.rcv_nxt {
        tp.compressed_ack_rcv_nxt = tp.rcv_nxt;
        tp.dup_ack_counter = 0;
    }
    if u32::from(tp.dup_ack_counter) < TCP_FASTRETRANS_THRESH {
        tp.dup_ack_counter += 1;
        tcp_send_ack(net, tn, sk, tp);
        return;
    }
    tp.compressed_ack += 1;
    if net.timer_pending(sk.timers.compressed_ack) {
        return;
    }
    let max_ns = tn.sysctl.tcp_comp_sack_delay_ns.get().max(0) as u64;
    // srtt_us is 8 × the RTT in µs: 5 % of the RTT in ns is srtt_us × 125 / 20.
    let delay_ns = match u64::from(tp.rtt.srtt_us) {
        0 => max_ns,
        srtt => max_ns.min(srtt * 125 / 20),
    };
    let jiffies = delay_ns.div_ceil(1_000_000).max(1);
    net.mod_timer(sk.timers.compressed_ack, net.jiffies() + jiffies);
}
// ANCHOR_END: tcp_ack_snd_check

// -- timestamps (RFC 7323) ------------------------------------------------------------

// ANCHOR: tcp_paws
/// `tcp_fast_parse_options()`: the per-segment part of the options once the
/// connection is synchronized — a timestamp counts only if it was
/// negotiated (`saw_tstamp`), and TSecr loses our `tsoffset` so it is on
/// our clock again.
pub fn tcp_fast_parse_options(tp: &mut TcpSk, seg: &TcpSeg) {
    tp.rx_opt.saw_tstamp = false;
    if tp.rx_opt.tstamp_ok {
        if let Some((tsval, tsecr)) = seg.opts.timestamps {
            tp.rx_opt.saw_tstamp = true;
            tp.rx_opt.rcv_tsval = tsval;
            tp.rx_opt.rcv_tsecr = tsecr.wrapping_sub(tp.tsoffset);
        }
    }
}

/// `tcp_paws_check()`: does the segment's TSval pass against TS.Recent
/// with `paws_win` of slack? It does if it is not older, if TS.Recent is
/// too old to judge by (24 days idle, RFC 7323 §5.5), or if TS.Recent is 0
/// (some stacks send 0 on the SYN).
pub fn tcp_paws_check(net: &Net, rx: &RxOpt, paws_win: i32) -> bool {
    if (rx.ts_recent.wrapping_sub(rx.rcv_tsval) as i32) <= paws_win {
        return true;
    }
    if net.now_ns() / 1_000_000_000 >= rx.ts_recent_stamp + TCP_PAWS_WRAP {
        return true;
    }
    rx.ts_recent == 0
}

/// `tcp_store_ts_recent()`.
pub fn tcp_store_ts_recent(net: &Net, tp: &mut TcpSk) {
    tp.rx_opt.ts_recent = tp.rx_opt.rcv_tsval;
    tp.rx_opt.ts_recent_stamp = net.now_ns() / 1_000_000_000;
}

/// `tcp_replace_ts_recent()`: RFC 7323 §4.3 — remember the TSval of a
/// segment that covers the left edge of the window (`seq` at or before
/// `rcv_wup`, the last ACK we sent), so what we echo is the timestamp of
/// the segment that advanced the window, not of a later one.
pub fn tcp_replace_ts_recent(net: &Net, tp: &mut TcpSk, seq: u32) {
    if tp.rx_opt.saw_tstamp && !after(seq, tp.rcv_wup) && tcp_paws_check(net, &tp.rx_opt, 0) {
        tcp_store_ts_recent(net, tp);
    }
}

/// What `tcp_disordered_ack_check()` concludes about a segment that failed
/// the PAWS test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PawsVerdict {
    /// Not PAWS-rejected after all: a reordered duplicate ACK.
    Accept,
    /// `SKB_DROP_REASON_TCP_RFC7323_PAWS`: drop, answer with a duplicate ACK.
    Reject,
    /// `SKB_DROP_REASON_TCP_RFC7323_PAWS_ACK`: an old ACK; drop silently.
    OldAck,
}

/// `tcp_disordered_ack_check()`: RFC 7323 §5.2 lets a pure duplicate ACK
/// through PAWS when it only arrived out of order (its TSval within about
/// one RTO of TS.Recent); old ACKs are dropped without reply.
fn tcp_disordered_ack_check(tp: &TcpSk, seg: &TcpSeg) -> PawsVerdict {
    if !seg.has(TCPHDR_ACK) || seg.seq != seg.end_seq {
        return PawsVerdict::Reject;
    }
    if seg.seq != tp.rcv_nxt {
        return if before(seg.seq, tp.rcv_nxt) { PawsVerdict::OldAck } else { PawsVerdict::Reject };
    }
    if seg.ack_seq != tp.snd_una {
        return PawsVerdict::OldAck;
    }
    let nwin = u32::from(seg.window) << tp.rx_opt.snd_wscale;
    if tcp_may_update_window(tp, seg.ack_seq, seg.seq, nwin) {
        return PawsVerdict::OldAck;
    }
    // tcp_tsval_replay(): about one RTO of timestamp ticks (ms).
    if (tp.rx_opt.ts_recent.wrapping_sub(tp.rx_opt.rcv_tsval) as i32) > (tp.icsk_rto as i32) {
        return PawsVerdict::Reject;
    }
    PawsVerdict::Accept
}
// ANCHOR_END: tcp_paws

// -- validation -----------------------------------------------------------------------

/// `tcp_sequence()`: RFC 9293's acceptability test, as Linux words it:
/// the segment must not end before `rcv_wup` and must not start beyond
/// the window.
pub fn tcp_sequence(tp: &TcpSk, seq: u32, end_seq: u32) -> bool {
    !before(end_seq, tp.rcv_wup) && !after(seq, tp.rcv_nxt.wrapping_add(tcp_receive_window(tp)))
}

/// Mirrors `tcp_reset_check()` (net/ipv4/tcp_input.c): after the peer's
/// FIN (CLOSE_WAIT, LAST_ACK, CLOSING) an RST may carry the FIN's own
/// sequence number, `rcv_nxt - 1`, and is then exact.
fn tcp_reset_check(tp: &TcpSk, seg: &TcpSeg) -> bool {
    seg.seq == tp.rcv_nxt.wrapping_sub(1)
        && matches!(tp.state, TcpState::CloseWait | TcpState::LastAck | TcpState::Closing)
}

/// The SACK half of RFC 5961 §3.2 in `tcp_validate_incoming()`: with SACK
/// blocks outstanding, an RST at the highest right edge we reported is as
/// good as one at `rcv_nxt` (the peer may have sent it after data we hold
/// out of order).
fn tcp_rst_at_max_sack(tp: &TcpSk, seg: &TcpSeg) -> bool {
    if !tp.rx_opt.sack_ok || tp.rx_opt.num_sacks == 0 {
        return false;
    }
    let n = usize::from(tp.rx_opt.num_sacks).min(tp.selective_acks.len());
    let mut max_sack = tp.selective_acks[0].end_seq;
    for blk in &tp.selective_acks[1..n] {
        if after(blk.end_seq, max_sack) {
            max_sack = blk.end_seq;
        }
    }
    seg.seq == max_sack
}

// ANCHOR: tcp_validate_incoming
/// RFC 9293 §3.10.7.4 steps 1–4 for a synchronized socket
/// (`tcp_validate_incoming()`). Returns false to drop the segment.
///
/// 0. PAWS (RFC 7323 §5.3): a rejected segment earns a duplicate ACK,
///    rate-limited per socket (`TCPACKSkippedPAWS`).
/// 1. Not acceptable: a duplicate ACK is sent (unless it is a RST) and the
///    segment dropped; for a bare ACK or a SYN-less segment without data
///    the ACK is rate-limited ([`tcp_oow_rate_limited`],
///    `TCPACKSkippedSeq`); beyond the window counts `BeyondWindow`.
/// 2. RST: exactly at `rcv_nxt` (or `rcv_nxt - 1` after a FIN, or the
///    highest SACK edge) resets the connection; elsewhere in the window it
///    only earns a challenge ACK (RFC 5961 §3.2).
/// 4. SYN in a synchronized state: a challenge ACK (RFC 5961 §4.2), except
///    the SYN-ACK that completes a simultaneous open.
///
/// Every challenge ACK goes through [`tcp_send_challenge_ack`]'s two
/// limits (RFC 5961 §7). `syn_inerr` is Linux's argument of the same
/// name: true from `tcp_rcv_established()`, false from
/// `tcp_rcv_state_process()`; when true, a challenged SYN also counts
/// `Tcp: InErrs` (`syn_challenge:` in Linux), as it does for an
/// ESTABLISHED socket in Linux 6.18. We differ in the dupack itself: Linux's
/// `tcp_send_dupack()` also enters quick-ACK mode and records a D-SACK
/// for old data; ours is a plain ACK.
pub fn tcp_validate_incoming(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    seg: &TcpSeg,
    syn_inerr: bool,
) -> bool {
    net_core::ftrace_graph!("tcp_validate_incoming");
    // Linux's `syn_challenge:` label: every SYN refused below goes here.
    let syn_challenge = |tp: &mut TcpSk| {
        if syn_inerr {
            net.mib.inc(TcpMib::InErrs);
        }
        net.mib.inc(LinuxMib::TCPSYNChallenge);
        tcp_send_challenge_ack(net, tn, sk, tp);
    };
    // RFC 7323 §5.3, "H1. Apply PAWS check first."
    if tp.rx_opt.saw_tstamp && !tcp_paws_check(net, &tp.rx_opt, TCP_PAWS_WINDOW) {
        match tcp_disordered_ack_check(tp, seg) {
            PawsVerdict::Accept => {}
            // A RST is accepted even if it did not pass PAWS.
            _ if seg.has(TCPHDR_RST) => {}
            _ if seg.has(TCPHDR_SYN) => {
                syn_challenge(tp);
                return false;
            }
            PawsVerdict::OldAck => {
                net.mib.inc(LinuxMib::PAWSOldAck);
                return false;
            }
            PawsVerdict::Reject => {
                net.mib.inc(LinuxMib::PAWSEstab);
                if !tcp_oow_rate_limited(net, tn, seg, LinuxMib::TCPACKSkippedPAWS, tp) {
                    tcp_send_ack(net, tn, sk, tp); // tcp_send_dupack()
                }
                return false;
            }
        }
    }
    if !tcp_sequence(tp, seg.seq, seg.end_seq) {
        if !seg.has(TCPHDR_RST) {
            if seg.has(TCPHDR_SYN) {
                syn_challenge(tp);
            } else {
                if after(seg.seq, tp.rcv_nxt.wrapping_add(tcp_receive_window(tp))) {
                    net.mib.inc(LinuxMib::BeyondWindow);
                }
                // (A passive SYN_RECV is a request sock, whose answers
                // tcp_check_req() counts as TCPACKSkippedSynRecv.)
                if !tcp_oow_rate_limited(net, tn, seg, LinuxMib::TCPACKSkippedSeq, tp) {
                    tcp_send_ack(net, tn, sk, tp); // tcp_send_dupack()
                }
            }
        } else if tcp_reset_check(tp, seg) {
            tcp_reset(net, sk, tp);
        }
        return false;
    }
    if seg.has(TCPHDR_RST) {
        // RFC 5961 §3.2, as Linux extends it: an RST exactly at rcv_nxt,
        // at rcv_nxt - 1 after the peer's FIN, or at the right edge of
        // the highest SACK block we hold resets; elsewhere in the window
        // it only earns a challenge ACK.
        if seg.seq == tp.rcv_nxt || tcp_reset_check(tp, seg) || tcp_rst_at_max_sack(tp, seg) {
            tcp_reset(net, sk, tp);
        } else {
            tcp_send_challenge_ack(net, tn, sk, tp);
        }
        return false;
    }
    if seg.has(TCPHDR_SYN) {
        let completes_simopen = tp.state == TcpState::SynRecv
            && seg.has(TCPHDR_ACK)
            && seg.seq.wrapping_add(1) == seg.end_seq
            && seg.seq.wrapping_add(1) == tp.rcv_nxt
            && seg.ack_seq == tp.snd_nxt;
        if !completes_simopen {
            syn_challenge(tp);
            return false;
        }
    }
    true
}
// ANCHOR_END: tcp_validate_incoming

// ANCHOR: tcp_rcv_peer_syn
/// Learn what the peer's SYN (or SYN-ACK) says: its ISN (`rcv_nxt` =
/// ISN + 1, where reading starts too), its window — never scaled on a SYN
/// — as the first send-window update (`tcp_init_wl()`), and the options
/// both sides now use.
///
/// Mirrors the option half of `tcp_rcv_synsent_state_process()` (active
/// open) and `tcp_openreq_init()` (passive): an option is on only if this
/// SYN carries it and our sysctl offers it. Window scaling needs both
/// (`wscale_ok`; otherwise both shifts are 0 and the window clamp drops to
/// 65535); timestamps make every data segment 12 bytes of options longer
/// (`tcp_header_len` 32) and start TS.Recent; SACK sets `sack_ok`. The MSS
/// comes last ([`tcp_rcv_syn_mss`]), once `tcp_header_len` is known.
pub fn tcp_rcv_peer_syn(net: &Net, tn: &TcpNet, tp: &mut TcpSk, seg: &TcpSeg, pmtu: u32) {
    tp.rcv_nxt = seg.seq.wrapping_add(1);
    tp.rcv_wup = tp.rcv_nxt;
    tp.copied_seq = tp.rcv_nxt;
    tp.snd_wnd = u32::from(seg.window);
    tp.snd_wl1 = seg.seq;
    tp.max_window = tp.snd_wnd;
    let sysctl = &tn.sysctl;
    match seg.opts.wscale {
        Some(ws) if sysctl.tcp_window_scaling.get() != 0 => {
            tp.rx_opt.wscale_ok = true;
            tp.rx_opt.snd_wscale = ws;
        }
        _ => {
            tp.rx_opt.wscale_ok = false;
            tp.rx_opt.snd_wscale = 0;
            tp.rx_opt.rcv_wscale = 0;
            tp.window_clamp = tp.window_clamp.min(65535);
        }
    }
    match seg.opts.timestamps {
        Some((tsval, tsecr)) if sysctl.tcp_timestamps.get() != 0 => {
            tp.rx_opt.tstamp_ok = true;
            tp.rx_opt.saw_tstamp = true;
            tp.rx_opt.rcv_tsval = tsval;
            tp.rx_opt.rcv_tsecr = tsecr.wrapping_sub(tp.tsoffset);
            tcp_store_ts_recent(net, tp);
            tp.tcp_header_len = (crate::tcphdr::TCPHDR_LEN + 12) as u16;
        }
        _ => {
            tp.rx_opt.tstamp_ok = false;
            tp.rx_opt.saw_tstamp = false;
            tp.tcp_header_len = crate::tcphdr::TCPHDR_LEN as u16;
        }
    }
    tp.rx_opt.sack_ok = seg.opts.sack_ok && sysctl.tcp_sack.get() != 0;
    tcp_rcv_syn_mss(tn, tp, seg, pmtu);
}
// ANCHOR_END: tcp_rcv_peer_syn

/// Take the peer's MSS from a SYN (`tcp_parse_options()` → `mss_clamp`,
/// bounded by `TCP_MAXSEG` and `tcp_min_snd_mss`; 536 when absent) and
/// derive the sending MSS from the path MTU.
pub fn tcp_rcv_syn_mss(tn: &TcpNet, tp: &mut TcpSk, seg: &TcpSeg, pmtu: u32) {
    tcp_syn_mss_clamp(tn, tp, seg);
    tcp_sync_mss(tp, pmtu);
}

/// The `mss_clamp` half of [`tcp_rcv_syn_mss`]: what `tcp_parse_options()`
/// stores when it reads a SYN's MSS option. In SYN-SENT Linux parses the
/// options before `tcp_ack()`, whose freed SYN lets `tcp_new_space()` size
/// the send buffer from `mss_clamp`; so must we, or the buffer is sized
/// for `tcp_connect()`'s provisional 65535 (2.6 MB instead of 87 KB).
fn tcp_syn_mss_clamp(tn: &TcpNet, tp: &mut TcpSk, seg: &TcpSeg) {
    let min_mss = tn.sysctl.tcp_min_snd_mss.get().clamp(48, 65535) as u16;
    let mut clamp = seg.opts.mss.unwrap_or(TCP_MSS_DEFAULT).max(min_mss);
    if tp.rx_opt.user_mss != 0 {
        clamp = clamp.min(tp.rx_opt.user_mss);
    }
    tp.rx_opt.mss_clamp = clamp;
}

// ANCHOR: tcp_rcv_synsent_state_process
/// A segment for a socket in SYN-SENT (`tcp_rcv_synsent_state_process()`),
/// RFC 9293 §3.10.7.3.
///
/// - An ACK that does not acknowledge exactly our SYN (`ack_seq` outside
///   `snd_una+1 ..= snd_nxt`) is answered with a RST (`reset_and_undo`;
///   the RST's seq is that ack), unless it is itself a RST. It may be the
///   last word of an old connection on this 4-tuple — a FIN/ACK, or the
///   challenge ACK of a peer still in CLOSE_WAIT (RFC 5961 §4) — which
///   our RST clears; so while no SYN has been retransmitted yet
///   (`icsk_retransmits == 0`) the retransmit timer is pulled in to
///   `TCP_TIMEOUT_MIN` and the SYN goes again at once, not after the
///   1 s RTO (Linux ≥ 5.5, "tcp: Reduce SYN resend delay if a suspicous
///   ACK is received").
/// - A RST with an acceptable ACK refuses the connection (`ECONNREFUSED`).
/// - A SYN-ACK completes the handshake: `rcv_nxt = seq + 1`, the window and
///   MSS are taken, the state becomes ESTABLISHED, and the third segment,
///   an ACK, is sent at once.
/// - A SYN without ACK is a simultaneous open: SYN-RECEIVED, and our SYN is
///   sent again with an ACK.
pub fn tcp_rcv_synsent_state_process(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    seg: &TcpSeg,
    pmtu: u32,
) -> RcvAction {
    net_core::ftrace_graph!("tcp_rcv_synsent_state_process");
    if seg.has(TCPHDR_ACK) {
        if !after(seg.ack_seq, tp.snd_una) || after(seg.ack_seq, tp.snd_nxt) {
            // "Previous FIN/ACK or RST/ACK might be ignored."
            if tp.icsk_retransmits == 0 {
                inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_RETRANS, TCP_TIMEOUT_MIN);
            }
            return if seg.has(TCPHDR_RST) { RcvAction::Done } else { RcvAction::SendReset };
        }
        // RFC 7323 §5.3 for the SYN-ACK: it must echo a TSval we sent
        // since our first SYN (PAWSActive), else it is answered with a RST.
        // A TSecr of 0 is not checked (Linux tests it before taking the
        // offset off).
        if let Some((_, raw_tsecr)) = seg.opts.timestamps {
            let tsecr = raw_tsecr.wrapping_sub(tp.tsoffset);
            let sent = tp.retrans_stamp;
            if tn.sysctl.tcp_timestamps.get() != 0
                && raw_tsecr != 0
                && !between(tsecr, sent, tcp_time_stamp_ts(net))
            {
                net.mib.inc(LinuxMib::PAWSActive);
                return RcvAction::SendReset;
            }
        }
        if seg.has(TCPHDR_RST) {
            tcp_reset(net, sk, tp);
            tp.wake_pending = true;
            return RcvAction::Done;
        }
        if !seg.has(TCPHDR_SYN) {
            return RcvAction::Done;
        }
        tp.snd_wl1 = seg.seq;
        // tcp_parse_options(), before tcp_ack(): the MSS clamp, and
        // TCP_SACK_SEEN, which the ACK of a retransmitted SYN needs to leave
        // Loss as a SACK connection (tcp_is_non_sack_preventing_reopen()).
        tcp_syn_mss_clamp(tn, tp, seg);
        tp.rx_opt.sack_ok = seg.opts.sack_ok && tn.sysctl.tcp_sack.get() != 0;
        tcp_ack(net, tn, sk, tp, seg, fastretrans::FLAG_SLOWPATH | fastretrans::FLAG_UPDATE_TS_RECENT);
        tcp_rcv_peer_syn(net, tn, tp, seg, pmtu);
        tcp_finish_connect(net, tn, sk, tp);
        // The end of Linux's tcp_finish_connect(): predict only an
        // unscaled window; a scaled one waits for tcp_fast_path_check().
        if tp.rx_opt.snd_wscale == 0 {
            let wnd = tp.snd_wnd;
            __tcp_fast_path_on(tp, wnd);
        } else {
            tp.pred_flags = 0;
        }
        tcp_send_ack(net, tn, sk, tp);
        tp.wake_pending = true;
        // Data or FIN riding on the SYN-ACK is rare; Linux queues it.
        return RcvAction::Done;
    }
    if seg.has(TCPHDR_RST) {
        return RcvAction::Done;
    }
    if seg.has(TCPHDR_SYN) {
        tcp_set_state(net, sk, tp, TcpState::SynRecv);
        tcp_rcv_peer_syn(net, tn, tp, seg, pmtu);
        tcp_send_synack(net, tn, sk, tp);
    }
    RcvAction::Done
}
// ANCHOR_END: tcp_rcv_synsent_state_process

/// `tcp_init_buffer_space()`, as a connection becomes ESTABLISHED: a send
/// buffer for the congestion window (`tcp_sndbuf_expand()`, unless
/// `SO_SNDBUF` set it) and the first count of receive-buffer autotuning
/// ([`autotune::tcp_init_rcvq_space`]). Where we differ: `window_clamp` is
/// not lowered by `tcp_app_win` here (it comes from
/// `tcp_select_initial_window()` alone).
fn tcp_init_buffer_space(net: &Net, tn: &TcpNet, tp: &mut TcpSk) {
    if tp.sk_userlocks & SOCK_SNDBUF_LOCK == 0 {
        tcp_sndbuf_expand(tn, tp);
    }
    autotune::tcp_init_rcvq_space(net, tp);
}

/// `tcp_finish_connect()` + `tcp_init_transfer()`: ESTABLISHED, the initial
/// congestion window, quick-ACK credit.
pub fn tcp_finish_connect(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    tcp_set_state(net, sk, tp, TcpState::Established);
    tp.snd_cwnd = TCP_INIT_CWND;
    crate::tcp_cong::tcp_init_congestion_control(tp);
    tcp_init_buffer_space(net, tn, tp);
    tp.rcv_tstamp = tcp_jiffies32(net);
    // Only lrcvtime: quick-ACK credit and `ato` come with the first data
    // (`tcp_event_data_recv()` with `ato` 0), as in Linux.
    tp.icsk_ack.lrcvtime = tcp_jiffies32(net);
    if tp.keepalive {
        let when = crate::tcp_timer::keepalive_time_when(tn, tp);
        net.mod_timer(sk.timers.keepalive, net.jiffies() + u64::from(when));
    }
}

// ANCHOR: tcp_rcv_established
/// A segment for an ESTABLISHED socket (`tcp_rcv_established()`).
///
/// First header prediction, Van Jacobson's fast path: a segment whose
/// header is the one we expect (`pred_flags`: our header length, ACK
/// alone, an unchanged window), that starts at `rcv_nxt` and acknowledges
/// nothing unsent, skips validation. A pure ACK goes straight to
/// `tcp_ack()` (`TCPHPAcks`); data is queued at once (`TCPHPHits`). The
/// fast path is off while data waits out of order, while we advertise a
/// zero window, and while the receive buffer is full.
///
/// Everything else takes the slow path: validate (RFC 5961, PAWS), ACK,
/// data, then send what the ACK allowed and the ACK the data asked for.
///
/// Where we differ: the checksum was verified in `tcp_v4_rcv()` already,
/// and the timestamp is taken from the parsed options (Linux insists on
/// the aligned NOP, NOP, TS layout, which is what every stack sends).
pub fn tcp_rcv_established(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    seg: &TcpSeg,
    skb: Skb,
) {
    net_core::ftrace_graph!("tcp_rcv_established");
    // if (unlikely(!rcu_access_pointer(sk->sk_rx_dst)))
    //     inet_csk(sk)->icsk_af_ops->sk_rx_dst_set(sk, skb);
    // Linux also caches it in tcp_finish_connect() from the SYN-ACK; here
    // the first segment after the handshake does it, on either side.
    if !sk.sk_rx_dst.is_set() {
        sk.sk_rx_dst.inet_sk_rx_dst_set(&skb);
    }
    tp.tcp_mstamp_refresh(net);
    tp.rx_opt.saw_tstamp = false;
    let skb = if seg.tcp_flag_word() & TCP_HP_BITS == tp.pred_flags
        && seg.seq == tp.rcv_nxt
        && !after(seg.ack_seq, tp.snd_nxt)
    {
        match tcp_rcv_established_fast(net, tn, sk, tp, seg, skb) {
            Some(skb) => skb, // slow_path:
            None => return,
        }
    } else {
        skb
    };
    if !seg.has(TCPHDR_ACK) && !seg.has(TCPHDR_RST) && !seg.has(TCPHDR_SYN) {
        return; // RFC 9293: "if the ACK bit is off drop the segment"
    }
    tcp_fast_parse_options(tp, seg);
    if !tcp_validate_incoming(net, tn, sk, tp, seg, true) {
        return;
    }
    if !seg.has(TCPHDR_ACK) {
        return;
    }
    // step5:
    if tcp_ack(net, tn, sk, tp, seg, fastretrans::FLAG_SLOWPATH | fastretrans::FLAG_UPDATE_TS_RECENT) < 0 {
        return;
    }
    autotune::tcp_rcv_rtt_measure_ts(net, tp, seg.len);
    tcp_data_queue(net, tn, sk, tp, seg, skb);
    if tp.state != TcpState::Close {
        tcp_data_snd_check(net, tn, sk, tp);
        tcp_ack_snd_check(net, tn, sk, tp);
    }
}

/// The header-prediction fast path of `tcp_rcv_established()`, for a
/// segment that matched `pred_flags`. Returns the skb when the segment
/// must take the slow path after all (`goto slow_path` / `goto step5`).
fn tcp_rcv_established_fast(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    seg: &TcpSeg,
    skb: Skb,
) -> Option<Skb> {
    let ts_hdr = usize::from(tp.tcp_header_len) == TCPHDR_LEN + TCPOLEN_TSTAMP_ALIGNED;
    if ts_hdr {
        // tcp_parse_aligned_timestamp(): no timestamp, slow path.
        if seg.opts.timestamps.is_none() {
            return Some(skb);
        }
        tcp_fast_parse_options(tp, seg);
        // "If PAWS failed, check it more carefully in slow path."
        if (tp.rx_opt.rcv_tsval.wrapping_sub(tp.rx_opt.ts_recent) as i32) < 0 {
            return Some(skb);
        }
    }
    if seg.len == 0 {
        // Bulk data transfer: sender. "Predicted packet is in window by
        // definition", so TS.Recent may be stored when at the left edge.
        if ts_hdr && tp.rcv_nxt == tp.rcv_wup {
            tcp_store_ts_recent(net, tp);
        }
        tcp_ack(net, tn, sk, tp, seg, 0);
        drop(skb);
        tcp_data_snd_check(net, tn, sk, tp);
        // A pure ACK's echo is no receive-RTT sample; a data segment
        // echoing the same TSval later is none either.
        tp.rcv_rtt_last_tsecr = tp.rx_opt.rcv_tsecr;
        return None;
    }
    // Bulk data transfer: receiver. Without room for it, step5 (the slow
    // path, whose tcp_try_rmem_schedule() may prune).
    let truesize = skb.total_truesize();
    if tp.sk_rmem_alloc + truesize > tp.sk_rcvbuf {
        return Some(skb);
    }
    if ts_hdr && tp.rcv_nxt == tp.rcv_wup {
        tcp_store_ts_recent(net, tp);
    }
    autotune::tcp_rcv_rtt_measure_ts(net, tp, seg.len);
    net.mib.inc(LinuxMib::TCPHPHits);
    let (len, gso_size) = (seg.len, skb.gso_size);
    let mut skb = skb;
    TCP_SKB_CB_mut(&mut skb).seq = seg.seq;
    tp.bytes_received += u64::from(len);
    tp.rcv_nxt = seg.end_seq;
    tcp_queue_rcv(tp, skb);
    tcp_event_data_recv(net, tn, tp, len, truesize, gso_size);
    if seg.ack_seq != tp.snd_una {
        // "Well, only one small jumplet in fast path..."
        tcp_ack(net, tn, sk, tp, seg, fastretrans::FLAG_DATA);
        tcp_data_snd_check(net, tn, sk, tp);
    } else {
        tp.snd_wl1 = seg.seq; // tcp_update_wl()
    }
    tcp_ack_snd_check(net, tn, sk, tp);
    tp.wake_pending = true; // tcp_data_ready()
    None
}
// ANCHOR_END: tcp_rcv_established

// ANCHOR: tcp_rcv_state_process
/// A segment for a socket in any state but ESTABLISHED and TIME_WAIT
/// (`tcp_rcv_state_process()`), RFC 9293 §3.10.7.
///
/// LISTEN hands SYNs to `tcp_v4_conn_request()` (an ACK earns a RST);
/// SYN-SENT has its own function. Every other state validates the
/// segment, processes the ACK (SYN_RECV → ESTABLISHED on an acceptable one,
/// a RST otherwise; FIN_WAIT1 → FIN_WAIT2, CLOSING → TIME_WAIT and
/// LAST_ACK → CLOSED once our FIN is acknowledged), then the data: it is
/// queued in ESTABLISHED and FIN_WAIT1/2, and in FIN_WAIT1/2 after a
/// user `shutdown(SHUT_RD)`/`close()` new data resets the connection
/// (`TCPAbortOnData`).
pub fn tcp_rcv_state_process(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    seg: &TcpSeg,
    skb: Skb,
    pmtu: u32,
) -> RcvAction {
    net_core::ftrace_graph!("tcp_rcv_state_process");
    tp.tcp_mstamp_refresh(net);
    match tp.state {
        TcpState::Close => return RcvAction::SendReset,
        // LISTEN (RFC 9293 §3.10.7.2), with Linux's drop reasons: an ACK
        // is answered with a RST and dropped as TCP_FLAGS; a RST (with or
        // without SYN) is dropped as TCP_RESET; SYN+FIN and a segment with
        // none of SYN/ACK/RST as TCP_FLAGS. A SYN goes to
        // tcp_v4_conn_request() and is consumed whatever it decides (its
        // data, if any, is not kept: no Fast Open).
        TcpState::Listen => {
            if seg.has(TCPHDR_ACK) {
                net.kfree_skb_reason(skb, SkbDropReason::TcpFlags);
                return RcvAction::SendReset;
            }
            if seg.has(TCPHDR_RST) {
                net.kfree_skb_reason(skb, SkbDropReason::TcpReset);
                return RcvAction::Done;
            }
            if seg.has(TCPHDR_SYN) && !seg.has(TCPHDR_FIN) {
                crate::tcp_ipv4::tcp_v4_conn_request(net, tn, sk, tp, seg);
                net.consume_skb(skb);
                return RcvAction::Done;
            }
            net.kfree_skb_reason(skb, SkbDropReason::TcpFlags);
            return RcvAction::Done;
        }
        TcpState::SynSent => {
            let a = tcp_rcv_synsent_state_process(net, tn, sk, tp, seg, pmtu);
            if tp.state == TcpState::Established {
                tcp_data_snd_check(net, tn, sk, tp);
            }
            return a;
        }
        _ => {}
    }
    if !seg.has(TCPHDR_ACK) && !seg.has(TCPHDR_RST) && !seg.has(TCPHDR_SYN) {
        return RcvAction::Done;
    }
    tcp_fast_parse_options(tp, seg);
    if !tcp_validate_incoming(net, tn, sk, tp, seg, false) {
        return RcvAction::Done;
    }
    if !seg.has(TCPHDR_ACK) {
        return RcvAction::Done;
    }
    // RFC 9293 §3.10.7.4, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT,
    // then enter ESTABLISHED … If the segment acknowledgment is not
    // acceptable, form a reset segment" (Linux: `tcp_check_req()` wants
    // exactly ISN + 1).
    if tp.state == TcpState::SynRecv && (!after(seg.ack_seq, tp.snd_una) || after(seg.ack_seq, tp.snd_nxt)) {
        return RcvAction::SendReset;
    }
    let reason =
        tcp_ack(net, tn, sk, tp, seg, fastretrans::FLAG_SLOWPATH | fastretrans::FLAG_UPDATE_TS_RECENT);
    let action = RcvAction::Done;
    if reason <= 0 {
        if tp.state == TcpState::SynRecv {
            return RcvAction::SendReset;
        }
        // "accept old ack during closing": only an ACK that is invalid
        // (older than the window, or for unsent data) is challenged.
        // Linux passes FLAG_NO_CHALLENGE_ACK so that tcp_ack() leaves the
        // challenge to this line; our tcp_ack() has sent it already
        // (one challenge either way).
        if reason < 0 {
            return RcvAction::Done;
        }
    }
    match tp.state {
        TcpState::SynRecv => {
            tp.snd_una = seg.ack_seq;
            tp.snd_wnd = u32::from(seg.window) << tp.rx_opt.snd_wscale;
            tp.snd_wl1 = seg.seq;
            tp.max_window = tp.max_window.max(tp.snd_wnd);
            tcp_finish_connect(net, tn, sk, tp);
            tcp_fast_path_on(tp);
            tp.wake_pending = true;
        }
        TcpState::FinWait1 if tp.snd_una == tp.write_seq => {
            tcp_set_state(net, sk, tp, TcpState::FinWait2);
            tp.sk_shutdown |= SEND_SHUTDOWN;
            tp.wake_pending = true;
            if tp.dead {
                let tmo = crate::tcp::tcp_fin_time(tn, tp);
                if tp.linger2 < 0 {
                    tcp_done(net, sk, tp);
                    net.mib.inc(LinuxMib::TCPAbortOnData);
                    return RcvAction::SendReset;
                }
                if seg.end_seq != seg.seq
                    && after(seg.end_seq.wrapping_sub(u32::from(seg.has(TCPHDR_FIN))), tp.rcv_nxt)
                {
                    tcp_done(net, sk, tp);
                    net.mib.inc(LinuxMib::TCPAbortOnData);
                    return RcvAction::SendReset;
                }
                if tmo > TCP_TIMEWAIT_LEN {
                    net.mod_timer(sk.timers.keepalive, net.jiffies() + u64::from(tmo - TCP_TIMEWAIT_LEN));
                } else if seg.has(TCPHDR_FIN) {
                    net.mod_timer(sk.timers.keepalive, net.jiffies() + u64::from(tmo));
                } else {
                    tcp_time_wait(net, tn, sk, tp, TcpState::FinWait2, tmo);
                    return RcvAction::Done;
                }
            }
        }
        TcpState::Closing if tp.snd_una == tp.write_seq => {
            tcp_time_wait(net, tn, sk, tp, TcpState::TimeWait, 0);
            return RcvAction::Done;
        }
        TcpState::LastAck if tp.snd_una == tp.write_seq => {
            tcp_done(net, sk, tp);
            return RcvAction::Done;
        }
        _ => {}
    }
    // Step 7: the segment text.
    let old_seq = before(seg.seq, tp.rcv_nxt);
    match tp.state {
        // A retransmission of what we already have (their FIN, say) still
        // goes to tcp_data_queue(), which answers it with an ACK.
        TcpState::CloseWait | TcpState::Closing | TcpState::LastAck if !old_seq => {}
        TcpState::CloseWait | TcpState::Closing | TcpState::LastAck => {
            tcp_data_queue(net, tn, sk, tp, seg, skb)
        }
        TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Established => {
            if matches!(tp.state, TcpState::FinWait1 | TcpState::FinWait2)
                && tp.sk_shutdown & RCV_SHUTDOWN != 0
                && seg.len > 0
                && after(seg.end_seq.wrapping_sub(u32::from(seg.has(TCPHDR_FIN))), tp.rcv_nxt)
            {
                net.mib.inc(LinuxMib::TCPAbortOnData);
                tcp_reset(net, sk, tp);
                return RcvAction::SendReset;
            }
            tcp_data_queue(net, tn, sk, tp, seg, skb);
        }
        _ => {}
    }
    if tp.state != TcpState::Close {
        tcp_data_snd_check(net, tn, sk, tp);
        tcp_ack_snd_check(net, tn, sk, tp);
    }
    action
}
// ANCHOR_END: tcp_rcv_state_process

// -- the passive open: a SYN reaches a listener -------------------------------------

// ANCHOR: tcp_syn_flood_action
/// Mirrors `tcp_syn_flood_action()`: the request queue is full (or
/// `tcp_syncookies` = 2). With syncookies on, count `TCPReqQFullDoCookies`
/// and answer with a cookie; off, count `TCPReqQFullDrop` and drop. The
/// first time per listener (unless cookies are always on) the kernel log
/// says "Possible SYN flooding on port ADDR:PORT. Sending cookies." (or
/// "Dropping request.").
pub fn tcp_syn_flood_action(net: &Net, tn: &TcpNet, listener: &TcpSock) -> bool {
    let syncookies = tn.sysctl.tcp_syncookies.get();
    let (msg, want_cookie) = if syncookies != 0 {
        net.mib.inc(LinuxMib::TCPReqQFullDoCookies);
        ("Sending cookies", true)
    } else {
        net.mib.inc(LinuxMib::TCPReqQFullDrop);
        ("Dropping request", false)
    };
    let queue = &listener.icsk_accept_queue;
    if syncookies != 2 && !queue.synflood_warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tn.pr_info(format!(
            "request_sock_TCP: Possible SYN flooding on port {}:{}. {msg}.",
            listener.inet_rcv_saddr(),
            listener.inet_num()
        ));
    }
    want_cookie
}
// ANCHOR_END: tcp_syn_flood_action

/// Mirrors `tcp_synq_overflow()` (include/net/tcp.h): remember when the
/// request queue last overflowed (in the listener's `ts_recent_stamp`, in
/// jiffies, at most once a second), so cookie ACKs are accepted only for
/// two minutes after (`tcp_synq_no_recent_overflow()`).
pub fn tcp_synq_overflow(net: &Net, lp: &mut TcpSk) {
    let last = lp.rx_opt.ts_recent_stamp as u32;
    lp.rx_opt.ts_recent_stamp =
        u64::from(crate::syncookies::tcp_synq_overflow_stamp(last, net.jiffies() as u32));
}

/// A last-overflow stamp far enough in the past that no cookie can be
/// outstanding (what a listener starts with).
pub fn tcp_synq_long_ago(net: &Net) -> u64 {
    let ago = (crate::syncookies::TCP_SYNCOOKIE_VALID + 2 * net_core::jiffies::HZ) as u32;
    u64::from((net.jiffies() as u32).wrapping_sub(ago))
}

/// Mirrors `tcp_synq_no_recent_overflow()`: no cookie can be outstanding,
/// so an ACK to the listener is not even tried as one.
pub fn tcp_synq_no_recent_overflow(net: &Net, lp: &TcpSk) -> bool {
    crate::syncookies::tcp_synq_no_recent_overflow_stamp(
        lp.rx_opt.ts_recent_stamp as u32,
        net.jiffies() as u32,
    )
}

/// What `tcp_openreq_init_rwin()` computes for a request: (`rsk_rcv_wnd`,
/// `rsk_window_clamp`, `rcv_wscale`). The listener's `window_clamp` (or
/// none), bounded by its receive buffer if `SO_RCVBUF` was set; the
/// window is the whole buffer (`tcp_full_space()`), rounded down to the
/// MSS a data segment will carry (less 12 with timestamps). With Linux
/// 6.18's defaults: 65160 with timestamps, 64240 without, scale 10.
pub fn tcp_openreq_init_rwin(
    tn: &TcpNet,
    lp: &TcpSk,
    advmss: u16,
    tstamp_ok: bool,
    wscale_ok: bool,
) -> (u32, u32, u8) {
    let full_space = tcp_full_space(lp);
    let mut window_clamp = lp.window_clamp;
    if !wscale_ok {
        window_clamp = window_clamp.min(65535);
    }
    if lp.sk_userlocks & SOCK_RCVBUF_LOCK != 0 {
        let full = full_space.max(0) as u32;
        if window_clamp == 0 || window_clamp > full {
            window_clamp = full;
        }
    }
    let ts_len = if tstamp_ok { 12 } else { 0 };
    tcp_select_initial_window_vals(tn, full_space, advmss.saturating_sub(ts_len), window_clamp, wscale_ok)
}

// ANCHOR: tcp_conn_request
/// A SYN reached a listener. Mirrors `tcp_conn_request()`
/// (net/ipv4/tcp_input.c), the IPv4 parts of `tcp_v4_conn_request()`.
///
/// In Linux's order:
///
/// 1. If the request queue is full (`inet_csk_reqsk_queue_is_full()`:
///    more request socks than the backlog), or `tcp_syncookies` = 2, ask
///    [`tcp_syn_flood_action`]: a cookie, or a drop (`ListenDrops`).
/// 2. If the accept queue is full ([`sk_acceptq_is_full`]: more children
///    than the backlog), drop the SYN: `ListenOverflows`, `ListenDrops`.
///    The peer will retransmit it.
/// 3. Agree the options (`tcp_parse_options()` with the sysctls, then
///    `tcp_openreq_init()`): a cookie without timestamps has nowhere to
///    keep window scale and SACK, so they are off.
/// 4. Without a cookie and with `tcp_syncookies` = 0, keep the last quarter
///    of `tcp_max_syn_backlog` for peers proven alive (Linux asks
///    `tcp_peer_is_proven()` of the TCP metrics cache, which we do not
///    have: no peer is proven). Pick the ISN (`secure_tcp_seq()`).
/// 5. With a cookie, the ISN is the cookie (`SyncookiesSent`), the request
///    is not kept, and the SYN-ACK's TSval carries the options.
/// 6. Otherwise hash the request in ehash, arm its timer for 1 s
///    ([`inet_csk_reqsk_queue_hash_add`]), and send the SYN-ACK from it.
///
/// Where we differ: no Fast Open, ECN, MD5/AO or BPF window hooks; the
/// route is looked up once, here, and its MTU kept in the request.
pub fn tcp_conn_request(net: &Net, tn: &TcpNet, listener: &Arc<TcpSock>, lp: &mut TcpSk, seg: &TcpSeg) {
    net_core::ftrace_graph!("tcp_conn_request");
    use crate::request_sock::*;
    let sysctl = &tn.sysctl;
    let syncookies = sysctl.tcp_syncookies.get();
    // A SYN that reopened a TIME_WAIT four-tuple brings the ISN
    // tcp_timewait_state_process() chose (Linux: the per-CPU `tcp_tw_isn`).
    let tw_isn = crate::tcp_ipv4::tcp_tw_isn_take();
    let mut want_cookie = false;
    if (syncookies == 2 || inet_csk_reqsk_queue_is_full(listener)) && tw_isn == 0 {
        want_cookie = tcp_syn_flood_action(net, tn, listener);
        if !want_cookie {
            net.mib.inc(LinuxMib::ListenDrops);
            return;
        }
    }
    if sk_acceptq_is_full(listener) {
        net.mib.inc(LinuxMib::ListenOverflows);
        net.mib.inc(LinuxMib::ListenDrops);
        return;
    }
    // tcp_parse_options() on the SYN, gated by the sysctls.
    let mut ts = seg.opts.timestamps.filter(|_| sysctl.tcp_timestamps.get() != 0);
    let mut wscale = seg.opts.wscale.filter(|_| sysctl.tcp_window_scaling.get() != 0);
    if let Some(bad) = seg.opts.wscale_clamped.filter(|_| wscale.is_some()) {
        tn.net_info_ratelimited(net.jiffies(), || {
            format!(
                "tcp_parse_options: Illegal window scaling value {bad} > {} received",
                crate::tcphdr::TCP_MAX_WSCALE
            )
        });
    }
    let mut sack_ok = seg.opts.sack_ok && sysctl.tcp_sack.get() != 0;
    if want_cookie && ts.is_none() {
        // tcp_clear_options(): nowhere to remember them.
        wscale = None;
        sack_ok = false;
        ts = None;
    }
    let mut mss = TCP_MSS_DEFAULT;
    if let Some(in_mss) = seg.opts.mss.filter(|&m| m != 0) {
        mss = in_mss;
        if lp.rx_opt.user_mss != 0 && lp.rx_opt.user_mss < mss {
            mss = lp.rx_opt.user_mss;
        }
    }
    let min_mss = sysctl.tcp_min_snd_mss.get().clamp(48, 65535) as u16;
    mss = mss.max(min_mss);
    // af_ops->route_req()
    let rt = match net_ipv4::route::ip_route_output(net, &tn.ipv4, seg.saddr, Some(seg.daddr), None) {
        Ok(rt) => rt,
        Err(_) => {
            net.mib.inc(LinuxMib::ListenDrops);
            return;
        }
    };
    let mut advmss = tcp_mtu_to_mss(rt.mtu);
    if lp.rx_opt.user_mss != 0 {
        advmss = advmss.min(lp.rx_opt.user_mss);
    }
    let tstamp_ok = ts.is_some();
    let wscale_ok = wscale.is_some();
    let ts_off = if tstamp_ok { crate::tcp_ipv4::secure_tcp_ts_off(tn, seg.daddr, seg.saddr) } else { 0 };
    let mut isn = tw_isn;
    if !want_cookie && isn == 0 {
        let max_syn_backlog = sysctl.tcp_max_syn_backlog.get().max(0) as u32;
        let qlen = inet_csk_reqsk_queue_len(listener);
        // "Kill the following clause, if you dislike this way."
        if syncookies == 0 && max_syn_backlog.saturating_sub(qlen) < (max_syn_backlog >> 2) {
            // pr_drop_req(): "drop open request from ADDR/PORT" (debug).
            net.mib.inc(LinuxMib::ListenDrops);
            return;
        }
        isn = crate::tcp_ipv4::secure_tcp_seq(
            &tn.isn_key,
            net.now_ns(),
            seg.daddr,
            seg.saddr,
            seg.dport,
            seg.sport,
        );
    }
    if want_cookie {
        tcp_synq_overflow(net, lp);
        net.mib.inc(LinuxMib::SyncookiesSent);
        let (cookie, encoded) = crate::syncookies::cookie_v4_init_sequence(
            tn,
            seg.saddr,
            seg.daddr,
            seg.sport,
            seg.dport,
            seg.seq,
            mss,
            net.jiffies(),
        );
        isn = cookie;
        mss = encoded;
    }
    let (rsk_rcv_wnd, rsk_window_clamp, rcv_wscale) =
        tcp_openreq_init_rwin(tn, lp, advmss, tstamp_ok, wscale_ok);
    let init = ReqInit {
        loc_addr: seg.daddr,
        loc_port: seg.dport,
        rmt_addr: seg.saddr,
        rmt_port: seg.sport,
        bound_dev_if: listener.skc_bound_dev_if.load(std::sync::atomic::Ordering::Relaxed),
        rcv_isn: seg.seq,
        snt_isn: isn,
        mss,
        advmss,
        pmtu: rt.mtu.min(65535) as u16,
        rsk_rcv_wnd,
        rsk_window_clamp,
        ts_recent: ts.map_or(0, |(tsval, _)| tsval),
        ts_off,
        snd_wscale: wscale.map_or(0, |w| w.min(crate::tcphdr::TCP_MAX_WSCALE)),
        rcv_wscale: if wscale_ok { rcv_wscale } else { 0 },
        tstamp_ok,
        sack_ok,
        wscale_ok,
    };
    let req = inet_reqsk_alloc(tn, listener, &init);
    // af_ops->send_synack(sk, dst, …): the route found above is the one
    // the SYN-ACK takes when it was looked up as IP would (no bound
    // device); otherwise IP looks it up through the device.
    let dst = (init.bound_dev_if == 0).then_some(&rt);
    if want_cookie {
        crate::tcp_output::__tcp_make_synack(net, tn, &req, true, dst);
        reqsk_free(net, tn, &req);
        return;
    }
    if !inet_csk_reqsk_queue_hash_add(net, tn, listener, &req, req.timeout) {
        reqsk_free(net, tn, &req);
        return;
    }
    crate::tcp_output::__tcp_make_synack(net, tn, &req, false, dst);
}
// ANCHOR_END: tcp_conn_request

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::Clock;

    /// Challenge ACKs sent (`TCPChallengeACK`) when `n` are asked for
    /// within one instant, per-socket limit off.
    fn burst(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, n: u32) -> u64 {
        let before = net.mib.get(LinuxMib::TCPChallengeACK);
        let mut tp = sk.lock.lock();
        for _ in 0..n {
            tcp_send_challenge_ack(net, tn, sk, &mut tp);
        }
        net.mib.get(LinuxMib::TCPChallengeACK) - before
    }

    #[test]
    fn challenge_ack_budget_is_randomized_per_second() {
        let clock = Clock::new_virtual_at(10_000_000_000);
        let net = Net::new("t", clock.clone(), 7);
        let tn = crate::af_inet::inet_init(&net);
        let sk = TcpSock::new(&net, 4096, 4096);
        sk.lock.lock().state = TcpState::Established;
        net.sysctl.set("net.ipv4.tcp_invalid_ratelimit", "0").unwrap();
        // The default, INT_MAX: no host-wide budget at all.
        assert_eq!(burst(&net, &tn, &sk, 200), 200);
        // A limit of 10: each second allows 5..=14 (get_random_u32_inclusive(5, 14)).
        net.sysctl.set("net.ipv4.tcp_challenge_ack_limit", "10").unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..40 {
            clock.advance_ns(1_000_000_000);
            let n = burst(&net, &tn, &sk, 100);
            assert!((5..=14).contains(&n), "{n} challenge ACKs in one second");
            seen.insert(n);
        }
        assert!(seen.len() > 3, "the budget should vary from second to second: {seen:?}");
        // Within the same second nothing is refilled.
        assert_eq!(burst(&net, &tn, &sk, 10), 0);
        // A limit of 0 allows none.
        net.sysctl.set("net.ipv4.tcp_challenge_ack_limit", "0").unwrap();
        clock.advance_ns(1_000_000_000);
        assert_eq!(burst(&net, &tn, &sk, 10), 0);
    }

    #[test]
    fn oow_rate_limit_is_per_socket_and_counts_what_it_skips() {
        let clock = Clock::new_virtual_at(10_000_000_000);
        let net = Net::new("t", clock.clone(), 7);
        let tn = crate::af_inet::inet_init(&net);
        let mut last = 0u32;
        assert!(!__tcp_oow_rate_limited(&net, &tn, LinuxMib::TCPACKSkippedSeq, &mut last));
        clock.advance_ns(499_000_000);
        assert!(__tcp_oow_rate_limited(&net, &tn, LinuxMib::TCPACKSkippedSeq, &mut last));
        assert_eq!(net.mib.get(LinuxMib::TCPACKSkippedSeq), 1);
        clock.advance_ns(1_000_000);
        assert!(!__tcp_oow_rate_limited(&net, &tn, LinuxMib::TCPACKSkippedSeq, &mut last));
        assert_eq!(last, tcp_jiffies32(&net));
    }

    mod seq_window {
        //! The window helpers against models in plain integers: every
        //! sequence number is `base + offset` with the offsets far below
        //! 2^31, and `base` near 0, near the 2^32 wrap, or anywhere, so the
        //! same answers must come out wherever the wrap falls.
        use super::*;
        use crate::tcp_input::sack_blocks::tcp_sack_extend;
        use crate::tcphdr::TcpSackBlock;
        use proptest::prelude::*;

        /// Where the numbers start.
        use crate::sock::seq_near_wraps as base;

        /// An offset within ±2^30: within 2 of 0, or anywhere.
        fn off() -> impl Strategy<Value = i64> {
            prop_oneof![-2i64..=2, -70_000i64..70_000, -(1i64 << 30)..(1 << 30)]
        }

        /// An offset chosen for the edges: `(pick, small, far)` gives
        /// `anchors[i] + small` for one of the anchors, or `far`.
        fn near(anchors: &[i64], (pick, small, far): (u8, i64, i64)) -> i64 {
            match anchors.get(usize::from(pick) % (anchors.len() + 1)) {
                Some(a) => a + small,
                None => far,
            }
        }

        /// The draw [`near`] turns into an offset.
        fn pick() -> impl Strategy<Value = (u8, i64, i64)> {
            (any::<u8>(), -2i64..=2, -(1i64 << 29)..(1 << 29))
        }

        fn at(base: u32, off: i64) -> u32 {
            base.wrapping_add(off as u32)
        }

        /// Run `f` on a fresh socket's TCB.
        fn with_tp<R>(f: impl FnOnce(&mut TcpSk) -> R) -> R {
            let net = Net::new("t", Clock::new_virtual(), 1);
            let sk = TcpSock::new(&net, 4096, 4096);
            let mut tp = sk.lock.lock();
            f(&mut tp)
        }

        proptest! {
            /// `tcp_receive_window()`: what is left of the window last
            /// advertised (`rcv_wup + rcv_wnd - rcv_nxt`), never negative
            /// — also when `rcv_nxt` has run past the advertised edge.
            #[test]
            fn tcp_receive_window_is_the_unused_advertised_window(
                b in base(), wnd in 0i64..(1 << 29), k in pick()
            ) {
                let k = near(&[wnd, 0], k).max(0);
                let got = with_tp(|tp| {
                    (tp.rcv_wup, tp.rcv_wnd, tp.rcv_nxt) = (b, wnd as u32, at(b, k));
                    tcp_receive_window(tp)
                });
                prop_assert_eq!(i64::from(got), (wnd - k).max(0));
            }

            /// `tcp_sequence()`: acceptable unless it ends before `rcv_wup`
            /// or starts beyond the right edge of the receive window.
            #[test]
            fn tcp_sequence_matches_a_model_across_the_wrap(
                b in base(), wnd in 0i64..(1 << 29), k in pick(), s in pick(), end in pick()
            ) {
                // rcv_nxt near rcv_wup or the advertised edge; the segment
                // starting and ending near rcv_wup or the window's right edge.
                let k = near(&[wnd, 0], k).max(0);
                let right = k + (wnd - k).max(0);
                let s = near(&[right, 0], s);
                let len = (near(&[0, right], end) - s).clamp(0, 1 << 16);
                let got = with_tp(|tp| {
                    (tp.rcv_wup, tp.rcv_wnd, tp.rcv_nxt) = (b, wnd as u32, at(b, k));
                    tcp_sequence(tp, at(b, s), at(b, s + len))
                });
                prop_assert_eq!(got, s + len >= 0 && s <= right);
            }

            /// `tcp_may_update_window()` (RFC 9293's SND.WL1/SND.WL2 test,
            /// with Linux's zero-window rule): a newer ACK, a newer
            /// segment, or the same segment with a bigger or zero window.
            #[test]
            fn tcp_may_update_window_matches_a_model_across_the_wrap(
                una in base(), wl1 in base(), da in off(), dw in off(),
                snd_wnd in 0u32..(1 << 20), nwin in pick()
            ) {
                // The new window: 0, near the old one, or anything.
                let nwin = near(&[0, i64::from(snd_wnd)], nwin).clamp(0, 1 << 20) as u32;
                let got = with_tp(|tp| {
                    (tp.snd_una, tp.snd_wl1, tp.snd_wnd) = (una, wl1, snd_wnd);
                    tcp_may_update_window(tp, at(una, da), at(wl1, dw), nwin)
                });
                prop_assert_eq!(got, da > 0 || dw > 0 || (dw == 0 && (nwin > snd_wnd || nwin == 0)));
            }

            /// `tcp_sack_extend()`: a range that overlaps or touches the
            /// block widens it to their union; any other leaves it alone.
            #[test]
            fn tcp_sack_extend_is_interval_union_across_the_wrap(
                b in base(), blen in prop_oneof![0i64..3, 0i64..(1 << 20)], q in pick(), qe in pick()
            ) {
                // The range starts near the block's end and ends near its start.
                let q = near(&[blen, 0], q);
                let qlen = (near(&[0, blen], qe) - q).clamp(0, 1 << 20);
                let mut sp = TcpSackBlock { start_seq: b, end_seq: at(b, blen) };
                let touches = q <= blen && q + qlen >= 0;
                prop_assert_eq!(tcp_sack_extend(&mut sp, at(b, q), at(b, q + qlen)), touches);
                let (lo, hi) = if touches { (q.min(0), (q + qlen).max(blen)) } else { (0, blen) };
                prop_assert_eq!((sp.start_seq, sp.end_seq), (at(b, lo), at(b, hi)));
            }
        }
    }
}
