//! Receive-buffer autotuning: how a receiver grows `sk_rcvbuf`, and with
//! it the window it may offer, to what the application actually reads
//! per round trip.
//!
//! Mirrors the "Receiver autotuning" part of net/ipv4/tcp_input.c of
//! **Linux 6.18** (Dynamic Right-Sizing, Wu Feng and Mike Fisk, as
//! reworked in 6.16's "tcp: receive side improvements"):
//!
//! - The receiver keeps its own RTT estimate, `rcv_rtt_est`, since it may
//!   send nothing to time. Two sources feed it
//!   ([`tcp_rcv_rtt_update`]):
//!   - [`tcp_rcv_rtt_measure`]: the time it takes the sender to fill a
//!     window we offered (`rcv_nxt + rcv_wnd` reached), an upper bound,
//!     so only smaller samples are taken;
//!   - [`tcp_rcv_rtt_measure_ts`]: the peer's echo of our timestamp
//!     (TSecr), smoothed, whole milliseconds only.
//! - Each time the application reads, [`tcp_rcv_space_adjust`] counts the
//!   bytes read in the last RTT (`rcvq_space`). When a round trip read
//!   more than any before, [`tcp_rcvbuf_grow`] makes the buffer hold
//!   twice that as window (room for the sender to double its rate in slow
//!   start), up to `tcp_rmem[2]`, and moves `window_clamp` along.
//!   `tcp_grow_window()` then opens the offered window into it, segment
//!   by segment, as before.
//! - Out-of-order data grows the buffer too (`tcp_data_queue_ofo()`), by
//!   the span the queue covers beyond `rcv_nxt`.
//!
//! Nothing grows when the application set `SO_RCVBUF`
//! (`SOCK_RCVBUF_LOCK`) or `net.ipv4.tcp_moderate_rcvbuf` is 0.
//!
//! On the in-memory links of the benches, where the virtual clock does
//! not move while packets are processed, no round trip ever ends
//! (`time < rtt_us / 8` with both 0 and 1 µs) and nothing grows, as a
//! receiver with an RTT below the clock's resolution would see it.
//!
//! # Where we differ
//!
//! - Linux calls [`tcp_rcv_space_adjust`] after each skb `recvmsg()`
//!   copies; we call it once per `recv()`, after the copy. Only the first
//!   call in a `recvmsg()` can act (the ones after it find less than an
//!   RTT gone), so the difference is how many bytes that one counts: the
//!   whole read's, where Linux's counts the first skb's.
//! - `tcp_init_buffer_space()`'s setting of `window_clamp` from
//!   `tcp_app_win` is not done (the clamp comes from
//!   `tcp_select_initial_window()` alone); its `rcvq_space` part is
//!   [`tcp_init_rcvq_space`].

use net_core::Net;

use crate::af_inet::TcpNet;
use crate::sock::{SOCK_RCVBUF_LOCK, SS_UNCONNECTED, TCP_INIT_CWND, TcpSk, before};
use crate::tcp_output::{tcp_space_from_win, tcp_time_stamp_ts, tcp_win_from_space};
use crate::tcphdr::TCPOLEN_TSTAMP_ALIGNED;

/// `struct rcv_rtt_est`: the receiver's RTT estimate.
#[derive(Debug, Clone, Copy, Default)]
pub struct RcvRttEst {
    /// `rtt_us`: the estimate in µs, times 8 (0: none yet).
    pub rtt_us: u32,
    /// `seq`: the sequence number whose arrival ends the window being
    /// timed (`rcv_nxt + rcv_wnd` when it started).
    pub seq: u32,
    /// `time`: `tcp_mstamp` when that window started (0: not started).
    pub time: u64,
}

/// `struct rcvq_space`: what the application read in the last RTT.
#[derive(Debug, Clone, Copy, Default)]
pub struct RcvqSpace {
    /// `space`: the most bytes read in one RTT so far (the base the buffer
    /// is sized from).
    pub space: i32,
    /// `seq`: `copied_seq` when this RTT's count started.
    pub seq: u32,
    /// `time`: `tcp_mstamp` when it started.
    pub time: u64,
}

/// The `rcvq_space` part of `tcp_init_buffer_space()`, when a connection
/// becomes ESTABLISHED: count from now and from `copied_seq`, starting
/// from what the first flight can bring — the window we offered, or ten
/// segments (`TCP_INIT_CWND * advmss`), whichever is less.
///
/// Where we differ: our `advmss` keeps the MSS we advertised after
/// timestamps are agreed (Linux's loses 12 bytes then), so the timestamp
/// option is taken off here.
pub fn tcp_init_rcvq_space(net: &Net, tp: &mut TcpSk) {
    tp.tcp_mstamp_refresh(net);
    tp.rcvq_space.time = tp.tcp_mstamp;
    tp.rcvq_space.seq = tp.copied_seq;
    // Linux's advmss has lost the timestamp option's 12 bytes by now
    // (`tcp_rcv_synsent_state_process()`, `tcp_rcv_state_process()`); ours
    // keeps the MSS we advertised, so take them off here.
    let ts = if tp.rx_opt.tstamp_ok { TCPOLEN_TSTAMP_ALIGNED as u16 } else { 0 };
    let first_flight = TCP_INIT_CWND * u32::from(tp.advmss.saturating_sub(ts));
    tp.rcvq_space.space = tp.rcv_ssthresh.min(tp.rcv_wnd).min(first_flight).min(i32::MAX as u32) as i32;
}

// ANCHOR: tcp_rcv_rtt_update
/// `tcp_rcv_rtt_update()`: take an RTT sample of `sample` µs. A sample
/// below the estimate replaces it at once (the estimate seeks the
/// minimum, so the buffer is not sized for a queueing delay). A larger
/// one is ignored when it came from the window clock (`win_dep`: such
/// samples only bound the RTT from above) or when data waits unread (the
/// application, not the path, was slow); a larger timestamp sample is
/// otherwise smoothed in, by an eighth.
pub fn tcp_rcv_rtt_update(tp: &mut TcpSk, sample: u32, win_dep: bool) {
    let old = tp.rcv_rtt_est.rtt_us;
    let m = sample.saturating_mul(8);
    let new = if old == 0 || m < old {
        m
    } else {
        if win_dep || tp.rcv_nxt != tp.copied_seq {
            return;
        }
        old - (old >> 3) + sample
    };
    tp.rcv_rtt_est.rtt_us = new;
}
// ANCHOR_END: tcp_rcv_rtt_update

/// `tcp_rcv_rtt_measure()`, for every data segment that arrives in order
/// (`tcp_event_data_recv()`): once `rcv_nxt` passes the end of the window
/// we offered when the measurement started, the time since is an RTT
/// sample (at least 1 µs); a new measurement starts at once.
pub fn tcp_rcv_rtt_measure(tp: &mut TcpSk) {
    if tp.rcv_rtt_est.time != 0 {
        if before(tp.rcv_nxt, tp.rcv_rtt_est.seq) {
            return;
        }
        let delta = tp.tcp_mstamp.saturating_sub(tp.rcv_rtt_est.time).clamp(1, u64::from(u32::MAX));
        tcp_rcv_rtt_update(tp, delta as u32, true);
    }
    tp.rcv_rtt_est.seq = tp.rcv_nxt.wrapping_add(tp.rcv_wnd);
    tp.rcv_rtt_est.time = tp.tcp_mstamp;
}

/// `tcp_rcv_rtt_measure_ts()`, for a segment of `len` payload bytes: a
/// full-sized segment echoing a timestamp not seen before gives the time
/// since we sent that timestamp as a sample, in whole milliseconds (our
/// TSval clock's unit; `tcp_rtt_tsopt_us(tp, 0)`). Zero, a sub-millisecond
/// RTT, is no sample: the window clock measures those.
pub fn tcp_rcv_rtt_measure_ts(net: &Net, tp: &mut TcpSk, len: u32) {
    if tp.rx_opt.rcv_tsecr == tp.rcv_rtt_last_tsecr {
        return;
    }
    tp.rcv_rtt_last_tsecr = tp.rx_opt.rcv_tsecr;
    if len < u32::from(tp.icsk_ack.rcv_mss) {
        return;
    }
    // tcp_time_stamp_ts(): the clock our TSvals come from (ms).
    let delta = tcp_time_stamp_ts(net).wrapping_sub(tp.rx_opt.rcv_tsecr);
    // tcp_rtt_tsopt_us(): a delta too large to scale is no sample.
    if delta > 0 && delta < i32::MAX as u32 / 1000 {
        tcp_rcv_rtt_update(tp, delta * 1000, false);
    }
}

/// Whether the socket has a user: Linux's `sk->sk_socket`, which a child
/// gets when it is `accept()`ed (`sock_graft()`) and loses when it is
/// orphaned by `close()` (`sock_orphan()`).
fn sk_has_socket(tp: &TcpSk) -> bool {
    !tp.dead && tp.socket_state != SS_UNCONNECTED
}

// ANCHOR: tcp_rcvbuf_grow
/// `tcp_rcvbuf_grow()`: a buffer whose window holds twice the most the
/// application read in one RTT (`rcvq_space.space`), plus what the
/// out-of-order queue spans beyond `rcv_nxt`, capped at `tcp_rmem[2]`;
/// never shrinks, and `window_clamp` follows it. Not when `SO_RCVBUF` was
/// set or `tcp_moderate_rcvbuf` is 0.
pub fn tcp_rcvbuf_grow(tn: &TcpNet, tp: &mut TcpSk) {
    if tn.sysctl.tcp_moderate_rcvbuf.get() == 0 || tp.sk_userlocks & SOCK_RCVBUF_LOCK != 0 {
        return;
    }
    // Slow start: allow the sender to double its rate.
    let mut rcvwin = i64::from(tp.rcvq_space.space.max(0)) << 1;
    if let Some(last) = tp.out_of_order_queue.back().get() {
        rcvwin += i64::from(last.end_seq.wrapping_sub(tp.rcv_nxt));
    }
    let cap = tn.sysctl.tcp_rmem.get_n(2).clamp(0, i64::from(i32::MAX));
    let rcvbuf = tcp_space_from_win(tp, rcvwin).min(cap);
    if rcvbuf > i64::from(tp.sk_rcvbuf) {
        tp.sk_rcvbuf = rcvbuf as u32;
        // Make the window clamp follow along.
        tp.window_clamp = tcp_win_from_space(tp, rcvbuf).clamp(0, i64::from(u32::MAX)) as u32;
    }
}
// ANCHOR_END: tcp_rcvbuf_grow

/// `tcp_rcvbuf_grow()` from `tcp_data_queue_ofo()`, once an out-of-order
/// segment is queued: only for a socket with a user (Linux: "do not grow
/// rcvbuf for not-yet-accepted or orphaned sockets").
pub fn tcp_rcvbuf_grow_ofo(tn: &TcpNet, tp: &mut TcpSk) {
    if sk_has_socket(tp) {
        tcp_rcvbuf_grow(tn, tp);
    }
}

// ANCHOR: tcp_rcv_space_adjust
/// `tcp_rcv_space_adjust()`, after the application read: once an RTT
/// (`rcv_rtt_est`) has passed since the count started, the bytes read in
/// it — less what still waits unread — are compared with the most read in
/// one RTT before; more, and the buffer grows ([`tcp_rcvbuf_grow`]).
/// Either way a new count starts. Nothing happens before the receiver has
/// an RTT estimate.
pub fn tcp_rcv_space_adjust(net: &Net, tn: &TcpNet, tp: &mut TcpSk) {
    net_core::ftrace_graph!("tcp_rcv_space_adjust");
    tp.tcp_mstamp_refresh(net);
    let time = tp.tcp_mstamp.saturating_sub(tp.rcvq_space.time);
    if tp.rcv_rtt_est.rtt_us == 0 || time < u64::from(tp.rcv_rtt_est.rtt_us >> 3) {
        return;
    }
    // Bytes copied to the user in the last RTT, less those still queued.
    let copied = tp.copied_seq.wrapping_sub(tp.rcvq_space.seq) as i32;
    let inq = tp.rcv_nxt.wrapping_sub(tp.copied_seq) as i32;
    let copied = copied.wrapping_sub(inq);
    if copied > tp.rcvq_space.space {
        tp.rcvq_space.space = copied;
        tcp_rcvbuf_grow(tn, tp);
    }
    tp.rcvq_space.seq = tp.copied_seq;
    tp.rcvq_space.time = tp.tcp_mstamp;
}
// ANCHOR_END: tcp_rcv_space_adjust
