//! The user's side of a TCP socket: send, receive, close, shutdown, poll,
//! `TCP_INFO`, and the state changes they share with the receive path.
//!
//! Mirrors net/ipv4/tcp.c of **Linux 6.18** (`tcp_set_state()`,
//! `tcp_done()`, `tcp_sendmsg_locked()`, `tcp_recvmsg_locked()`,
//! `tcp_cleanup_rbuf()`, `tcp_close()`, `tcp_close_state()`,
//! `tcp_shutdown()`, `tcp_disconnect()`, `tcp_poll()`, `tcp_get_info()`),
//! plus `inet_csk_destroy_sock()` from net/ipv4/inet_connection_sock.c.
//! (`tcp_time_wait()` lives in [`crate::tcp_minisocks`], re-exported here.)
//!
//! # Blocking
//!
//! A call that must wait (`send()` into a full buffer, `recv()` with nothing
//! queued, `accept()`, `connect()`) checks its condition under the socket
//! lock, drops the lock and sleeps on the socket's [`WaitQueue`] until the
//! receive path or a timer wakes it, or `SO_SNDTIMEO`/`SO_RCVTIMEO`
//! passes (`EAGAIN`, as Linux). Somebody else must move the host meanwhile:
//! a real-time host loop (TAP), or a test thread stepping a simulation.
//!
//! [`WaitQueue`]: net_core::wait::WaitQueue
//!
//! # Where we differ
//!
//! - No memory pressure (`tcp_mem`), no urgent data, no `MSG_ZEROCOPY`.
//!   Without `tcp_memory_allocated`, [`tcp_check_oom`] judges orphans only.
//! - The orphan count is per namespace ([`TcpOrphanCount`]), as is
//!   `tcp_max_orphans`; Linux's are global.

use std::sync::Arc;

use net_core::checksum::{csum_block_add, csum_copy_and_csum};
use net_core::snmp::{LinuxMib, TcpMib};
use net_core::{Errno, Net};

use crate::af_inet::TcpNet;
use crate::sock::*;
use crate::tcp_input::tcp_write_queue_purge;
use crate::tcp_output::*;
use crate::tcp_states::TcpState;
use crate::tcphdr::TCPHDR_ACK;

/// Wake the socket's sleepers (`sk_data_ready()`, `sk_state_change()`,
/// `sk_write_space()` all end in a wake-up of `sk->sk_wq`).
pub fn wake(sk: &TcpSock) {
    sk.wq.wake_up();
}

// ANCHOR: tcp_set_state
/// Change state, keeping Linux's gauges and counters: `CurrEstab` counts
/// sockets in ESTABLISHED or CLOSE_WAIT; a move to CLOSE from one of those
/// counts `EstabResets` (whatever the cause, as in Linux); CLOSE unhashes
/// the socket and releases its port unless the user bound it.
pub fn tcp_set_state(net: &Net, sk: &Arc<TcpSock>, tp: &mut TcpSk, state: TcpState) {
    let old = tp.state;
    match state {
        TcpState::Established if old != TcpState::Established => net.mib.inc(TcpMib::CurrEstab),
        TcpState::CloseWait if old == TcpState::SynRecv => net.mib.inc(TcpMib::CurrEstab),
        TcpState::Close => {
            if matches!(old, TcpState::CloseWait | TcpState::Established) {
                net.mib.inc(TcpMib::EstabResets);
            }
            if sk.inet_num() != 0 {
                tp.inet_sport = sk.inet_num();
            }
            if let Some(tn) = net.net_generic::<TcpNet>() {
                tn.hashinfo.inet_unhash(sk);
                if tp.sk_userlocks & SOCK_BINDPORT_LOCK == 0 {
                    tn.hashinfo.inet_put_port(sk);
                }
            }
        }
        _ => {}
    }
    if state != TcpState::Established
        && state != TcpState::CloseWait
        && matches!(old, TcpState::Established | TcpState::CloseWait)
    {
        net.mib.dec(TcpMib::CurrEstab);
    }
    tp.state = state;
    sk.skc_state.store(state as u8, std::sync::atomic::Ordering::Release);
    tp.wake_pending = true;
}
// ANCHOR_END: tcp_set_state

/// `tcp_done()`: the connection is over. CLOSE, timers stopped, both
/// directions shut; an orphan is destroyed, a socket the user still holds
/// waits for `close()`.
pub fn tcp_done(net: &Net, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    // Linux counts a failed attempt here, not in tcp_set_state(): a
    // connect() that fails before its SYN (EADDRNOTAVAIL from
    // __inet_hash_connect) or a close() in SYN-SENT is not one.
    if tp.state == TcpState::SynSent || tp.state == TcpState::SynRecv {
        net.mib.inc(TcpMib::AttemptFails);
    }
    tcp_set_state(net, sk, tp, TcpState::Close);
    inet_csk_clear_xmit_timers(net, sk, tp);
    tp.sk_shutdown = SHUTDOWN_MASK;
    if tp.dead {
        inet_csk_destroy_sock(net, sk, tp);
    }
    tp.wake_pending = true;
}

/// `inet_csk_clear_xmit_timers()`: stop the retransmit, delayed-ACK and
/// keepalive timers, and the compressed-ACK one (Linux stops that in
/// `tcp_done()` → `tcp_clear_xmit_timers()`), under one lock of the wheel.
pub fn inet_csk_clear_xmit_timers(net: &Net, sk: &TcpSock, tp: &mut TcpSk) {
    tp.icsk_pending = 0;
    tp.icsk_ack.pending = 0;
    let t = &sk.timers;
    net.del_timer_n(&[t.retransmit, t.delack, t.keepalive, t.compressed_ack]);
    tp.compressed_ack = 0;
}

/// `inet_csk_destroy_sock()`: free what an orphan still holds — queues,
/// its three timers for good, and its port (`tcp_v4_destroy_sock()` →
/// `inet_put_port()`: a socket the user bound, or a child of one, is left
/// on its bind bucket by `tcp_set_state(CLOSE)` until now) — and it is no
/// longer an orphan ([`TcpOrphanCount`]).
pub fn inet_csk_destroy_sock(net: &Net, sk: &TcpSock, tp: &mut TcpSk) {
    debug_assert!(tp.dead, "inet_csk_destroy_sock() of a socket that is not SOCK_DEAD");
    if let Some(tn) = net.net_generic::<TcpNet>() {
        tn.hashinfo.inet_put_port(sk);
        // this_cpu_dec(*sk->sk_prot->orphan_count)
        tn.tcp_orphan_count.dec(net.jiffies());
    }
    tcp_write_queue_purge(tp);
    tp.sk_receive_queue.purge();
    tp.out_of_order_queue.fast_clear();
    tp.sk_rmem_alloc = 0;
    let t = &sk.timers;
    net.timer_shutdown_n(&[t.retransmit, t.delack, t.keepalive, t.compressed_ack]);
}

/// `tcp_fin_time()`: how long an orphan may sit in FIN_WAIT2: `TCP_LINGER2`
/// or `tcp_fin_timeout`, at least 3.5 RTO. In jiffies.
pub fn tcp_fin_time(tn: &TcpNet, tp: &TcpSk) -> u32 {
    let secs = if tp.linger2 > 0 { tp.linger2 as i64 } else { tn.sysctl.tcp_fin_timeout.get() };
    let fin_timeout = (secs.max(0) as u64 * 1000).min(u64::from(u32::MAX)) as u32;
    let rto = tp.icsk_rto;
    fin_timeout.max((rto << 2) - (rto >> 1))
}

pub use crate::tcp_minisocks::tcp_time_wait;

// -- orphans -----------------------------------------------------------------------------

// ANCHOR: tcp_orphan_count
/// `TCP_ORPHAN_TIMER_PERIOD`: how often Linux refreshes `tcp_orphan_cache`,
/// 100 ms (in jiffies).
pub const TCP_ORPHAN_TIMER_PERIOD: u64 = 100;

/// Orphans: sockets the user closed that TCP still keeps — FIN_WAIT1,
/// FIN_WAIT2 (before it becomes a timewait sock), CLOSING, LAST_ACK —
/// flagged `SOCK_DEAD` ([`TcpSk::dead`]). Mirrors `tcp_orphan_count` and
/// `tcp_orphan_cache` (net/ipv4/tcp.c).
///
/// The count rises once per socket at `close()` (`__tcp_close()`'s
/// `adjudge_to_death:` → `tcp_orphan_count_inc()`, whatever the state:
/// a socket that dies at once is counted and uncounted in the same call),
/// and when a child is dropped unaccepted (`inet_child_forget()`,
/// `inet_csk_prepare_for_destroy_sock()`); it falls once per socket in
/// `inet_csk_destroy_sock()` — an orphan reset, timed out, acked in
/// LAST_ACK, or handing over to a timewait sock (`tcp_time_wait()` →
/// `tcp_done()`). A timewait sock is not an orphan.
///
/// Linux keeps the count per CPU (`this_cpu_inc()`) and sums it only in
/// `tcp_orphan_count_sum()`, which a deferrable timer calls every
/// [`TCP_ORPHAN_TIMER_PERIOD`] to refresh `tcp_orphan_cache`;
/// `tcp_too_many_orphans()` reads only the cache. So the limit lags: a
/// burst of closes within one period all see the old figure. We keep one
/// `AtomicI64` for the count and no timer (a perpetual timer would keep a
/// virtual clock from ever running idle): the cache is brought up to date
/// lazily, whenever the count changes or is read, to the value the count
/// had at the last period boundary (multiples of 100 jiffies) — the same
/// figure Linux's timer would have stored, since the count only changes
/// through these calls.
#[derive(Debug, Default)]
pub struct TcpOrphanCount {
    /// `tcp_orphan_count`, summed over CPUs (may dip below 0 transiently
    /// in Linux; `tcp_orphan_count_sum()` clamps at 0).
    count: std::sync::atomic::AtomicI64,
    /// `tcp_orphan_cache`: the count at the last period boundary.
    cache: std::sync::atomic::AtomicI64,
    /// The period (jiffies / [`TCP_ORPHAN_TIMER_PERIOD`]) the cache was
    /// last brought up to.
    period: std::sync::atomic::AtomicU64,
}

impl TcpOrphanCount {
    /// Mirrors `tcp_orphan_update()` (the 100 ms timer), run lazily: if a
    /// period boundary has passed since the last call, the cache takes the
    /// count — unchanged since that call, so what it was at the boundary.
    fn tcp_orphan_update(&self, now: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let period = now / TCP_ORPHAN_TIMER_PERIOD;
        if self.period.fetch_max(period, Relaxed) < period {
            self.cache.store(self.count.load(Relaxed).max(0), Relaxed);
        }
    }

    /// `tcp_orphan_count_inc()` (`this_cpu_inc(tcp_orphan_count)`) at
    /// jiffy `now`.
    pub fn inc(&self, now: u64) {
        self.tcp_orphan_update(now);
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// `tcp_orphan_count_dec()` at jiffy `now`.
    pub fn dec(&self, now: u64) {
        self.tcp_orphan_update(now);
        self.count.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// `tcp_orphan_count_sum()`: orphans now (what `/proc/net/sockstat`
    /// shows as `orphan`), at least 0.
    pub fn tcp_orphan_count_sum(&self) -> i64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed).max(0)
    }

    /// `READ_ONCE(tcp_orphan_cache)` at jiffy `now`.
    pub fn tcp_orphan_cache(&self, now: u64) -> i64 {
        self.tcp_orphan_update(now);
        self.cache.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Mirrors `tcp_too_many_orphans()` (net/ipv4/tcp.c): is the cached orphan
/// count, doubled `shift` times, above `tcp_max_orphans`? The timers pass a
/// shift to judge a stalled or ICMP-suspect orphan more harshly.
pub fn tcp_too_many_orphans(net: &Net, tn: &TcpNet, shift: u32) -> bool {
    let cache = tn.tcp_orphan_count.tcp_orphan_cache(net.jiffies());
    cache.checked_shl(shift).unwrap_or(i64::MAX) > tn.sysctl.tcp_max_orphans.get()
}

/// Mirrors `tcp_check_oom()` (net/ipv4/tcp.c): too many orphans, or out of
/// socket memory? Logs "TCP: too many orphaned sockets" through
/// `net_info_ratelimited()`.
///
/// We differ: the memory half (`tcp_out_of_memory()`: the socket queues
/// more than `SOCK_MIN_SNDBUF` while `tcp_memory_allocated` is above
/// `tcp_mem[2]`, logging "out of memory -- consider tuning tcp_mem") is
/// absent, because linnet keeps no `tcp_memory_allocated` and has no
/// `tcp_mem`; only the orphan count can make this true.
pub fn tcp_check_oom(net: &Net, tn: &TcpNet, shift: u32) -> bool {
    let too_many_orphans = tcp_too_many_orphans(net, tn, shift);
    if too_many_orphans {
        tn.net_info_ratelimited(net.jiffies(), || "too many orphaned sockets".to_string());
    }
    too_many_orphans
}
// ANCHOR_END: tcp_orphan_count

// -- sending ----------------------------------------------------------------------------

/// `sk_stream_memory_free()`: room in the send buffer.
pub fn sk_stream_memory_free(tp: &TcpSk) -> bool {
    tp.sk_wmem_queued < tp.sk_sndbuf
}

// ANCHOR: tcp_sendmsg
/// Copy as much of `buf` as the send buffer takes into the write queue and
/// push (`tcp_sendmsg_locked()`). Returns bytes taken, or:
/// `EPIPE` after our side shut down (Linux also raises SIGPIPE), the
/// pending `sk_err`, `ENOTCONN` before the connection exists, `EAGAIN`
/// when the buffer is full (the caller may wait and retry). An empty
/// `buf` on a connected socket takes 0 bytes and succeeds, as Linux's
/// `while (msg_data_left(msg))` loop is then never entered: `send(fd, buf,
/// 0, 0)` returns 0. (It used to be `EAGAIN`, on which a blocking
/// `send()` waited for buffer space it already had and retried forever;
/// found by net-tcp/tests/threads.rs.)
///
/// Each skb holds at most one MSS; a write first fills the unsent tail skb
/// (so small writes coalesce while Nagle holds them), then allocates new
/// ones with `MAX_TCP_HEADER` of headroom, each charged to
/// `sk_wmem_queued`.
pub fn tcp_sendmsg_locked(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    buf: &[u8],
) -> Result<usize, Errno> {
    net_core::ftrace_graph!("tcp_sendmsg_locked");
    if let Some(e) = tp.sk_err.take() {
        return Err(e);
    }
    if tp.sk_shutdown & SEND_SHUTDOWN != 0 {
        return Err(Errno::EPIPE);
    }
    if !matches!(tp.state, TcpState::Established | TcpState::CloseWait) {
        return Err(if matches!(tp.state, TcpState::SynSent | TcpState::SynRecv) {
            Errno::EAGAIN
        } else {
            Errno::ENOTCONN
        });
    }
    if buf.is_empty() {
        return Ok(0);
    }
    let mss = usize::from(crate::tcp_output::tcp_current_mss(net, tp).max(1));
    let mut copied = 0;
    while copied < buf.len() {
        if !sk_stream_memory_free(tp) {
            break;
        }
        // Append to the unsent tail if it has room (looked at in place:
        // nearly always it is full and stays where it is).
        let tail_room = tp.sk_write_queue.peek_tail().map_or(0, |t| {
            let fin = TCP_SKB_CB(t).tcp_flags & crate::tcphdr::TCPHDR_FIN != 0;
            if fin { 0 } else { mss.saturating_sub(t.len()).min(t.tailroom()) }
        });
        if tail_room > 0
            && let Some(mut tail) = tp.sk_write_queue.dequeue_tail()
        {
            let cb = *TCP_SKB_CB(&tail);
            let n = tail_room.min(buf.len() - copied);
            let old_len = tail.len();
            let add = csum_copy_and_csum(&buf[copied..copied + n], tail.put(n));
            TCP_SKB_CB_mut(&mut tail).end_seq = cb.end_seq.wrapping_add(n as u32);
            if let (Some(sum), Ok(len)) = (cb.payload_csum(old_len), u16::try_from(old_len + n)) {
                // csum_block_add(): the new bytes' sum, shifted to their offset.
                let c = TCP_SKB_CB_mut(&mut tail);
                c.csum = csum_block_add(sum, add, old_len).0;
                c.csum_len = len;
            }
            // The PSH of an earlier write moves to the end of this one
            // (Linux grows the skb past one MSS and `tcp_fragment()`
            // keeps PSH on the last piece; checked on 6.18 with a cork).
            TCP_SKB_CB_mut(&mut tail).tcp_flags &= !crate::tcphdr::TCPHDR_PSH;
            tp.write_seq = tp.write_seq.wrapping_add(n as u32);
            copied += n;
            tp.sk_write_queue.queue_tail(tail);
            continue;
        }
        let n = mss.min(buf.len() - copied);
        let mut skb = tcp_stream_alloc_skb(mss);
        // Summed as it is copied, as Linux's csum_and_copy_from_iter() does
        // without checksum offload.
        let sum = csum_copy_and_csum(&buf[copied..copied + n], skb.put(n));
        let seq = tp.write_seq;
        {
            let cb = TCP_SKB_CB_mut(&mut skb);
            cb.seq = seq;
            cb.end_seq = seq.wrapping_add(n as u32);
            cb.tcp_flags = TCPHDR_ACK;
            if let Ok(len) = u16::try_from(n) {
                cb.csum = sum.0;
                cb.csum_seq = seq;
                cb.csum_len = len;
            }
        }
        tp.sk_wmem_queued += skb.truesize;
        tp.write_seq = tp.write_seq.wrapping_add(n as u32);
        tp.sk_write_queue.queue_tail(skb);
        copied += n;
    }
    if copied > 0 {
        tcp_mark_push(tp);
        tcp_push_pending_frames(net, tn, sk, tp, 0);
        Ok(copied)
    } else {
        tcp_push_pending_frames(net, tn, sk, tp, 0);
        Err(Errno::EAGAIN)
    }
}
// ANCHOR_END: tcp_sendmsg

// -- receiving --------------------------------------------------------------------------

// ANCHOR: tcp_recvmsg
/// Copy queued in-order bytes to `buf` (`tcp_recvmsg_locked()`): from
/// `copied_seq` on, skb by skb, freeing each fully read one (unless
/// `peek`). With nothing queued: 0 once the peer's FIN came
/// (`SOCK_DONE`, even if a reset followed), else the pending error, 0
/// after `SHUT_RD` or `tcp_done()`, `ENOTCONN` if never connected, otherwise
/// `EAGAIN` for the caller to wait on. After reading, a window update is
/// sent if the window grew enough (`tcp_cleanup_rbuf()`).
pub fn tcp_recvmsg_locked(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    buf: &mut [u8],
    peek: bool,
) -> Result<usize, Errno> {
    net_core::ftrace_graph!("tcp_recvmsg_locked");
    if tp.state == TcpState::Listen {
        return Err(Errno::ENOTCONN);
    }
    let mut copied = 0;
    let mut seq = tp.copied_seq;
    // Fully read skbs: always a prefix of the queue, so a count will do.
    let mut consumed = 0usize;
    for skb in tp.sk_receive_queue.iter() {
        if copied == buf.len() {
            break;
        }
        let cb = TCP_SKB_CB(skb);
        let offset = seq.wrapping_sub(cb.seq) as usize;
        if offset >= skb.len() {
            consumed += 1;
            continue;
        }
        let n = (skb.len() - offset).min(buf.len() - copied);
        buf[copied..copied + n].copy_from_slice(&skb.data()[offset..offset + n]);
        copied += n;
        seq = seq.wrapping_add(n as u32);
        if offset + n == skb.len() {
            consumed += 1;
        }
    }
    if copied > 0 {
        if !peek {
            tp.copied_seq = seq;
            for _ in 0..consumed {
                if let Some(skb) = tp.sk_receive_queue.dequeue() {
                    tp.sk_rmem_alloc = tp.sk_rmem_alloc.saturating_sub(skb.truesize);
                }
            }
            crate::tcp_input::autotune::tcp_rcv_space_adjust(net, tn, tp);
            tcp_cleanup_rbuf(net, tn, sk, tp, copied);
        }
        return Ok(copied);
    }
    if buf.is_empty() {
        return Ok(0);
    }
    // Linux's order: the peer's FIN (SOCK_DONE) first — a socket reset
    // after it reads end-of-stream and keeps its error for SO_ERROR —
    // then a pending error, then our own shutdown or tcp_done()'s, and
    // only a socket that never connected says ENOTCONN.
    if tp.done {
        return Ok(0);
    }
    if let Some(e) = tp.sk_err.take() {
        return Err(e);
    }
    if tp.sk_shutdown & RCV_SHUTDOWN != 0 {
        return Ok(0);
    }
    if tp.state == TcpState::Close {
        return Err(Errno::ENOTCONN);
    }
    Err(Errno::EAGAIN)
}
// ANCHOR_END: tcp_recvmsg

// ANCHOR: tcp_sock_set_quickack
/// Mirrors `__tcp_sock_set_quickack()` (net/ipv4/tcp.c), `TCP_QUICKACK`:
/// 0 enters interactive mode (`inet_csk_enter_pingpong_mode()`: delayed
/// ACKs wait for data to ride on). Anything else leaves it; if an ACK is
/// pending in ESTABLISHED or CLOSE_WAIT it is marked pushed and
/// `tcp_cleanup_rbuf(sk, 1)` may send it at once, and an even value
/// re-enters interactive mode afterwards. The setting is not sticky: the
/// ACK machinery changes the mode again as data flows.
pub fn __tcp_sock_set_quickack(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, val: i32) {
    if val == 0 {
        tp.icsk_ack.pingpong = TCP_PINGPONG_THRESH;
        return;
    }
    tp.icsk_ack.pingpong = 0;
    if matches!(tp.state, TcpState::Established | TcpState::CloseWait)
        && tp.icsk_ack.pending & ICSK_ACK_SCHED != 0
    {
        tp.icsk_ack.pending |= ICSK_ACK_PUSHED;
        tcp_cleanup_rbuf(net, tn, sk, tp, 1);
        if val & 1 == 0 {
            tp.icsk_ack.pingpong = TCP_PINGPONG_THRESH;
        }
    }
}
// ANCHOR_END: tcp_sock_set_quickack

/// `sysctl_tcp_pingpong_thresh` at its default: replies that make a
/// connection interactive (`inet_csk_in_pingpong_mode()`).
pub const TCP_PINGPONG_THRESH: u8 = 1;

/// `tcp_cleanup_rbuf()`: after the user read `copied` bytes, send an ACK
/// now if one was delayed and more than a segment was read, or if the
/// window we could offer has at least doubled and reached a full segment
/// beyond what the peer was told ("window update").
pub fn tcp_cleanup_rbuf(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, copied: usize) {
    net_core::ftrace_graph!("tcp_cleanup_rbuf");
    let mut time_to_ack = false;
    let pushed = tp.icsk_ack.pending & ICSK_ACK_PUSHED2 != 0
        || (tp.icsk_ack.pending & ICSK_ACK_PUSHED != 0 && tp.icsk_ack.pingpong == 0);
    if tp.icsk_ack.pending & ICSK_ACK_SCHED != 0
        && (tp.rcv_nxt.wrapping_sub(tp.rcv_wup) > u32::from(tp.icsk_ack.rcv_mss)
            // This read emptied the buffer of a small pushed segment on a
            // one-way connection.
            || (copied > 0 && pushed && tp.sk_rmem_alloc == 0))
    {
        time_to_ack = true;
    }
    if !time_to_ack && copied > 0 && tp.sk_shutdown & RCV_SHUTDOWN == 0 {
        let rcv_window_now = tcp_receive_window(tp);
        if 2 * rcv_window_now <= tp.window_clamp {
            let new_window = __tcp_select_window(tp);
            if new_window != 0 && new_window >= 2 * rcv_window_now {
                time_to_ack = true;
            }
        }
    }
    if time_to_ack {
        tcp_send_ack(net, tn, sk, tp);
    }
}

// -- closing -----------------------------------------------------------------------------

// ANCHOR: tcp_close_state
/// `tcp_close_state()`: the state a user close (or `SHUT_WR`) moves to,
/// and whether a FIN must be sent (`new_state[]` with `TCP_ACTION_FIN`):
/// ESTABLISHED → FIN_WAIT1 + FIN, CLOSE_WAIT → LAST_ACK + FIN,
/// SYN_RECV → FIN_WAIT1 + FIN, SYN_SENT/LISTEN → CLOSE; the closing states
/// stay put.
pub fn tcp_close_state(net: &Net, sk: &Arc<TcpSock>, tp: &mut TcpSk) -> bool {
    let (next, fin) = match tp.state {
        TcpState::Established | TcpState::SynRecv => (TcpState::FinWait1, true),
        TcpState::CloseWait => (TcpState::LastAck, true),
        TcpState::SynSent | TcpState::Listen | TcpState::Close => (TcpState::Close, false),
        s => (s, false),
    };
    if next != tp.state {
        tcp_set_state(net, sk, tp, next);
    }
    fin
}
// ANCHOR_END: tcp_close_state

// ANCHOR: inet_csk_listen_stop
/// Mirrors `inet_csk_listen_stop()` (net/ipv4/inet_connection_sock.c):
/// the listener is closing; every child on its accept queue that nobody
/// accepted is forgotten (`inet_child_forget()`: reset, orphaned,
/// destroyed). Its request socks are not walked: since Linux 4.4 they sit
/// in ehash, and each dies the next time it is touched — its timer
/// ([`crate::request_sock::reqsk_timer_handler`]) or a segment for it
/// (`tcp_v4_rcv()`) finds the listener no longer listening and drops it
/// (freeing its slab slot).
pub fn inet_csk_listen_stop(net: &Net, tn: &TcpNet, children: Vec<Arc<TcpSock>>) {
    for child in children {
        crate::request_sock::inet_child_forget(net, tn, &child);
    }
}
// ANCHOR_END: inet_csk_listen_stop

// ANCHOR: tcp_close
/// The last reference from the user is gone (`tcp_close()` with a timeout
/// of 0: no `SO_LINGER` wait — see [`__tcp_close_start`] for a close that
/// lingers).
///
/// Unread data means the peer's data would be lost silently, so the
/// connection is reset instead of closed (`TCPAbortOnClose`, RFC 2525
/// §2.17); `SO_LINGER` with a zero timeout resets too (`TCPAbortOnData`).
/// Otherwise the FIN goes out after the queued data. The socket becomes an
/// orphan (`SOCK_DEAD`, counted in [`TcpOrphanCount`]): the hash table
/// keeps it alive through FIN_WAIT1, FIN_WAIT2, CLOSING and LAST_ACK;
/// TIME_WAIT is a timewait sock ([`tcp_time_wait`]). FIN_WAIT2 is bounded
/// by `tcp_fin_time()`: up to `TCP_TIMEWAIT_LEN`, as a timewait sock in
/// substate FIN_WAIT2 at once; beyond it, the full socket waits on the
/// keepalive timer for `tcp_fin_time() - TCP_TIMEWAIT_LEN` and a timewait
/// sock then lasts that long again — not the 60 s "left" (Linux's
/// arithmetic; on 6.18 `tcp_fin_timeout` = 65 gives 5 s + 5 s). A listener first resets the children it never
/// accepted.
pub fn tcp_close(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>) {
    __tcp_close_start(net, tn, sk);
    // sk_stream_wait_close(sk, 0): nothing to wait for.
    __tcp_close_adjudge_to_death(net, tn, sk);
}

/// The part of `__tcp_close()` (net/ipv4/tcp.c) before
/// `sk_stream_wait_close()`: shut both directions; a listener stops
/// listening and forgets its unaccepted children
/// ([`inet_csk_listen_stop`]); the receive queue is flushed; then a RST
/// for unread data or `SO_LINGER` 0, else the FIN ([`tcp_close_state`]).
/// The caller may then wait while [`sk_stream_closing`] holds (a positive
/// `SO_LINGER`), and must finish with [`__tcp_close_adjudge_to_death`].
pub fn __tcp_close_start(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>) {
    let children: Vec<Arc<TcpSock>> = {
        let mut tp = sk.lock.lock();
        tp.sk_shutdown = SHUTDOWN_MASK;
        if tp.state == TcpState::Listen {
            tcp_set_state(net, sk, &mut tp, TcpState::Close);
            sk.sk_ack_backlog.store(0, std::sync::atomic::Ordering::Relaxed);
            std::iter::from_fn(|| tp.accept_queue.pop_front()).collect()
        } else {
            Vec::new()
        }
    };
    inet_csk_listen_stop(net, tn, children);
    let mut tp = sk.lock.lock();
    let copied_seq = tp.copied_seq;
    let unread: usize = tp
        .sk_receive_queue
        .iter()
        .map(|skb| skb.len().saturating_sub(copied_seq.wrapping_sub(TCP_SKB_CB(skb).seq) as usize))
        .sum();
    tp.sk_receive_queue.purge();
    tp.sk_rmem_alloc = 0;
    if tp.state == TcpState::Close {
        // nothing to say to anybody
    } else if unread > 0 {
        tcp_set_state(net, sk, &mut tp, TcpState::Close);
        tcp_send_active_reset(net, tn, sk, &mut tp);
        net.mib.inc(LinuxMib::TCPAbortOnClose);
    } else if tp.sk_linger == Some(0) {
        tcp_disconnect_abort(net, tn, sk, &mut tp);
        net.mib.inc(LinuxMib::TCPAbortOnData);
    } else if tcp_close_state(net, sk, &mut tp) {
        tcp_send_fin(net, tn, sk, &mut tp);
    }
    tp.wake_pending = false;
    drop(tp);
    wake(sk);
}

/// Mirrors `sk_stream_closing()` (net/core/stream.c): our FIN is not yet
/// acknowledged — FIN_WAIT1, CLOSING or LAST_ACK. What a lingering
/// `close()` waits to see end (`sk_stream_wait_close()`).
pub fn sk_stream_closing(tp: &TcpSk) -> bool {
    matches!(tp.state, TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck)
}

/// `__tcp_close()` from `adjudge_to_death:` on: the socket becomes an
/// orphan (`sock_orphan()`, [`TcpOrphanCount`] +1). In FIN_WAIT2 with
/// `TCP_LINGER2` < 0 it is reset (`TCPAbortOnLinger`); otherwise it waits
/// out `tcp_fin_time()` — on the keepalive timer for the part above
/// `TCP_TIMEWAIT_LEN`, or at once as a timewait sock. A socket still
/// alive then meets [`tcp_check_oom`]: with more orphans than
/// `tcp_max_orphans` it is reset (`TCPAbortOnMemory`). A socket in CLOSE
/// is destroyed ([`inet_csk_destroy_sock`], orphan count −1).
pub fn __tcp_close_adjudge_to_death(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>) {
    let mut tp = sk.lock.lock();
    // sock_orphan(); tcp_orphan_count_inc()
    tp.dead = true;
    tn.tcp_orphan_count.inc(net.jiffies());
    if tp.state == TcpState::FinWait2 {
        if tp.linger2 < 0 {
            tcp_set_state(net, sk, &mut tp, TcpState::Close);
            tcp_send_active_reset(net, tn, sk, &mut tp);
            net.mib.inc(LinuxMib::TCPAbortOnLinger);
        } else {
            let tmo = tcp_fin_time(tn, &tp);
            if tmo > TCP_TIMEWAIT_LEN {
                net.mod_timer(sk.timers.keepalive, net.jiffies() + u64::from(tmo - TCP_TIMEWAIT_LEN));
            } else {
                tcp_time_wait(net, tn, sk, &mut tp, TcpState::FinWait2, tmo);
                tp.wake_pending = false;
                drop(tp);
                wake(sk);
                return;
            }
        }
    }
    if tp.state != TcpState::Close && tcp_check_oom(net, tn, 0) {
        tcp_set_state(net, sk, &mut tp, TcpState::Close);
        tcp_send_active_reset(net, tn, sk, &mut tp);
        net.mib.inc(LinuxMib::TCPAbortOnMemory);
    }
    if tp.state == TcpState::Close {
        inet_csk_clear_xmit_timers(net, sk, &mut tp);
        inet_csk_destroy_sock(net, sk, &mut tp);
    }
    tp.wake_pending = false;
    drop(tp);
    wake(sk);
}
// ANCHOR_END: tcp_close

/// `tcp_disconnect()` for an abort: send a RST if the peer knows us, drop
/// all queues, CLOSE.
pub fn tcp_disconnect_abort(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    let old = tp.state;
    if old != TcpState::Close {
        tcp_set_state(net, sk, tp, TcpState::Close);
    }
    if matches!(
        old,
        TcpState::Established
            | TcpState::CloseWait
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::LastAck
            | TcpState::SynRecv
    ) {
        tcp_send_active_reset(net, tn, sk, tp);
    }
    tcp_write_queue_purge(tp);
    tp.sk_receive_queue.purge();
    tp.out_of_order_queue.fast_clear();
    tp.sk_rmem_alloc = 0;
    inet_csk_clear_xmit_timers(net, sk, tp);
    sk.sk_rx_dst.reset(); // dst_release(xchg(&sk->sk_rx_dst, NULL))
    // __sk_dst_reset(): a socket that connects again looks its route up
    // afresh (connect() also replaces it, as sk_setup_caps() does).
    tp.sk_dst_cache = None;
    tp.sk_gso = false;
    tp.sk_shutdown = SHUTDOWN_MASK;
}

// ANCHOR: tcp_shutdown
/// `shutdown(SHUT_WR)` (`tcp_shutdown()`): in ESTABLISHED, SYN_SENT,
/// SYN_RECV or CLOSE_WAIT, move on as close would and send a FIN; the
/// socket keeps receiving (half-close). `SHUT_RD` only marks the socket,
/// so reads return 0 (Linux sends nothing either).
pub fn tcp_shutdown(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk, how: u8) {
    tp.sk_shutdown |= how;
    if how & SEND_SHUTDOWN == 0 {
        tp.wake_pending = true;
        return;
    }
    if matches!(tp.state, TcpState::Established | TcpState::SynSent | TcpState::SynRecv | TcpState::CloseWait)
        && tcp_close_state(net, sk, tp)
    {
        tcp_send_fin(net, tn, sk, tp);
    }
}
// ANCHOR_END: tcp_shutdown

// ANCHOR: tcp_poll
/// `tcp_poll()`: readiness as `poll(2)` reports it. A listener is readable
/// when a child waits in the accept queue. A connected socket is readable
/// with data or after the peer's FIN (`POLLRDHUP`), writable while the
/// send buffer has room; `POLLHUP` when both directions are shut or the
/// socket is closed; `POLLERR` with a pending error.
pub fn tcp_poll(tp: &TcpSk) -> u32 {
    use crate::af_inet::*;
    if tp.state == TcpState::Listen {
        return if tp.accept_queue.is_empty() { 0 } else { POLLIN | POLLRDNORM };
    }
    let mut mask = 0;
    if tp.sk_shutdown == SHUTDOWN_MASK || tp.state == TcpState::Close {
        mask |= POLLHUP;
    }
    if tp.sk_shutdown & RCV_SHUTDOWN != 0 {
        mask |= POLLIN | POLLRDNORM | POLLRDHUP;
    }
    if !matches!(tp.state, TcpState::SynSent | TcpState::SynRecv) || tp.state == TcpState::Close {
        if !tp.sk_receive_queue.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if tp.sk_shutdown & SEND_SHUTDOWN == 0 {
            if sk_stream_memory_free(tp) && tp.state != TcpState::Close {
                mask |= POLLOUT | POLLWRNORM;
            }
        } else {
            mask |= POLLOUT | POLLWRNORM;
        }
    }
    if tp.sk_err.is_some() {
        mask |= POLLERR;
    }
    mask
}
// ANCHOR_END: tcp_poll

/// `TCPI_OPT_TIMESTAMPS` in `tcpi_options`.
pub const TCPI_OPT_TIMESTAMPS: u8 = 1;
/// `TCPI_OPT_SACK`.
pub const TCPI_OPT_SACK: u8 = 2;
/// `TCPI_OPT_WSCALE`.
pub const TCPI_OPT_WSCALE: u8 = 4;

/// `struct tcp_info` (include/uapi/linux/tcp.h), the fields `ss -ti` shows
/// most; times in µs as Linux reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// `tcpi_state`.
    pub tcpi_state: u8,
    /// `tcpi_ca_state`.
    pub tcpi_ca_state: u8,
    /// `tcpi_retransmits`: RTOs in a row.
    pub tcpi_retransmits: u8,
    /// `tcpi_probes`.
    pub tcpi_probes: u8,
    /// `tcpi_backoff`.
    pub tcpi_backoff: u8,
    /// `tcpi_options`: `TCPI_OPT_TIMESTAMPS` | `TCPI_OPT_SACK` |
    /// `TCPI_OPT_WSCALE` as agreed on the handshake.
    pub tcpi_options: u8,
    /// `tcpi_snd_wscale`: the peer's shift.
    pub tcpi_snd_wscale: u8,
    /// `tcpi_rcv_wscale`: our shift.
    pub tcpi_rcv_wscale: u8,
    /// `tcpi_rto` (µs).
    pub tcpi_rto: u32,
    /// `tcpi_ato` (µs).
    pub tcpi_ato: u32,
    /// `tcpi_snd_mss`.
    pub tcpi_snd_mss: u32,
    /// `tcpi_rcv_mss`.
    pub tcpi_rcv_mss: u32,
    /// `tcpi_unacked`: segments in flight; for a listener, the accept
    /// queue's length (`sk_ack_backlog`).
    pub tcpi_unacked: u32,
    /// `tcpi_sacked`: segments SACKed; for a listener, the backlog
    /// (`sk_max_ack_backlog`).
    pub tcpi_sacked: u32,
    /// `tcpi_lost`: segments deemed lost (`lost_out`).
    pub tcpi_lost: u32,
    /// `tcpi_retrans`: retransmitted segments in flight.
    pub tcpi_retrans: u32,
    /// `tcpi_last_data_sent` (ms ago).
    pub tcpi_last_data_sent: u32,
    /// `tcpi_last_ack_recv` (ms ago).
    pub tcpi_last_ack_recv: u32,
    /// `tcpi_rcv_ssthresh`: the ceiling of the window we offer.
    pub tcpi_rcv_ssthresh: u32,
    /// `tcpi_rtt`: smoothed RTT (µs).
    pub tcpi_rtt: u32,
    /// `tcpi_rttvar` (µs).
    pub tcpi_rttvar: u32,
    /// `tcpi_snd_ssthresh`.
    pub tcpi_snd_ssthresh: u32,
    /// `tcpi_snd_cwnd`.
    pub tcpi_snd_cwnd: u32,
    /// `tcpi_advmss`.
    pub tcpi_advmss: u32,
    /// `tcpi_reordering`: the duplicate-ACK threshold learned so far.
    pub tcpi_reordering: u32,
    /// `tcpi_rcv_rtt`: the receiver's own RTT estimate (µs), which
    /// receive-buffer autotuning times its rounds with (`rcv_rtt_est`).
    pub tcpi_rcv_rtt: u32,
    /// `tcpi_rcv_space`: the most bytes the application read in one RTT
    /// (`rcvq_space.space`), which the receive buffer is sized from.
    pub tcpi_rcv_space: u32,
    /// `tcpi_total_retrans`.
    pub tcpi_total_retrans: u32,
    /// `tcpi_bytes_acked`.
    pub tcpi_bytes_acked: u64,
    /// `tcpi_bytes_received`.
    pub tcpi_bytes_received: u64,
    /// `tcpi_segs_out`.
    pub tcpi_segs_out: u32,
    /// `tcpi_segs_in`.
    pub tcpi_segs_in: u32,
    /// `tcpi_snd_wnd`: the peer's window.
    pub tcpi_snd_wnd: u32,
    /// `tcpi_min_rtt`: the windowed minimum RTT (µs) RACK reads
    /// (`tcp_min_rtt()`; `u32::MAX` before the first sample, as Linux's
    /// `~0U`). Past the 144 bytes [`TcpInfo::to_bytes`] lays out.
    pub tcpi_min_rtt: u32,
    /// `tcpi_delivered`: segments delivered (SACKed or acknowledged).
    pub tcpi_delivered: u32,
    /// `tcpi_reord_seen`: times reordering was detected.
    pub tcpi_reord_seen: u32,
}

impl TcpInfo {
    /// The first 144 bytes of `struct tcp_info` as Linux lays it out
    /// (through `tcpi_segs_in`), native byte order; fields linnet does not
    /// keep (pacing, `pmtu` …) are 0.
    pub fn to_bytes(&self) -> [u8; 144] {
        let mut b = [0u8; 144];
        b[0] = self.tcpi_state;
        b[1] = self.tcpi_ca_state;
        b[2] = self.tcpi_retransmits;
        b[3] = self.tcpi_probes;
        b[4] = self.tcpi_backoff;
        b[5] = self.tcpi_options;
        b[6] = (self.tcpi_snd_wscale & 0xf) | (self.tcpi_rcv_wscale << 4);
        let mut put = |off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        put(8, self.tcpi_rto);
        put(12, self.tcpi_ato);
        put(16, self.tcpi_snd_mss);
        put(20, self.tcpi_rcv_mss);
        put(24, self.tcpi_unacked);
        put(28, self.tcpi_sacked);
        put(32, self.tcpi_lost);
        put(36, self.tcpi_retrans);
        put(44, self.tcpi_last_data_sent);
        put(56, self.tcpi_last_ack_recv);
        put(64, self.tcpi_rcv_ssthresh);
        put(68, self.tcpi_rtt);
        put(72, self.tcpi_rttvar);
        put(76, self.tcpi_snd_ssthresh);
        put(80, self.tcpi_snd_cwnd);
        put(84, self.tcpi_advmss);
        put(88, self.tcpi_reordering);
        put(92, self.tcpi_rcv_rtt);
        put(96, self.tcpi_rcv_space);
        put(100, self.tcpi_total_retrans);
        put(136, self.tcpi_segs_out);
        put(140, self.tcpi_segs_in);
        b[120..128].copy_from_slice(&self.tcpi_bytes_acked.to_ne_bytes());
        b[128..136].copy_from_slice(&self.tcpi_bytes_received.to_ne_bytes());
        b
    }
}

/// `tcp_get_info()`. For a listener, as Linux: `tcpi_unacked` is the accept
/// queue's length and `tcpi_sacked` the backlog (what `ss -lnt` shows as
/// Recv-Q and Send-Q).
pub fn tcp_get_info(net: &Net, sk: &TcpSock, tp: &TcpSk) -> TcpInfo {
    let mut info = __tcp_get_info(net, tp);
    if tp.state == TcpState::Listen {
        info.tcpi_unacked = sk.sk_ack_backlog.load(std::sync::atomic::Ordering::Relaxed);
        info.tcpi_sacked = sk.sk_max_ack_backlog.load(std::sync::atomic::Ordering::Relaxed);
    }
    info
}

fn __tcp_get_info(net: &Net, tp: &TcpSk) -> TcpInfo {
    let now = net.jiffies();
    TcpInfo {
        tcpi_state: tp.state as u8,
        tcpi_ca_state: tp.icsk_ca_state,
        tcpi_retransmits: tp.icsk_retransmits,
        tcpi_probes: tp.icsk_probes_out,
        tcpi_backoff: tp.icsk_backoff,
        tcpi_options: (if tp.rx_opt.tstamp_ok { TCPI_OPT_TIMESTAMPS } else { 0 })
            | (if tp.rx_opt.sack_ok { TCPI_OPT_SACK } else { 0 })
            | (if tp.rx_opt.wscale_ok { TCPI_OPT_WSCALE } else { 0 }),
        tcpi_snd_wscale: if tp.rx_opt.wscale_ok { tp.rx_opt.snd_wscale } else { 0 },
        tcpi_rcv_wscale: if tp.rx_opt.wscale_ok { tp.rx_opt.rcv_wscale } else { 0 },
        tcpi_lost: tp.lost_out,
        tcpi_rcv_ssthresh: tp.rcv_ssthresh,
        tcpi_reordering: tp.reordering,
        tcpi_rto: tp.icsk_rto * 1000,
        tcpi_ato: tp.icsk_ack.ato * 1000,
        tcpi_snd_mss: u32::from(tp.mss_cache),
        tcpi_rcv_mss: u32::from(tp.icsk_ack.rcv_mss),
        tcpi_unacked: tp.packets_out,
        tcpi_sacked: tp.sacked_out,
        tcpi_retrans: tp.retrans_out,
        tcpi_last_data_sent: (now as u32).wrapping_sub(tp.lsndtime),
        tcpi_last_ack_recv: (now as u32).wrapping_sub(tp.rcv_tstamp),
        tcpi_rtt: tp.rtt.srtt_us >> 3,
        tcpi_rttvar: tp.rtt.mdev_us >> 2,
        tcpi_snd_ssthresh: tp.snd_ssthresh,
        tcpi_snd_cwnd: tp.snd_cwnd,
        tcpi_advmss: u32::from(tp.advmss),
        tcpi_rcv_rtt: tp.rcv_rtt_est.rtt_us >> 3,
        tcpi_rcv_space: tp.rcvq_space.space.max(0) as u32,
        tcpi_total_retrans: tp.total_retrans,
        tcpi_bytes_acked: tp.bytes_acked,
        tcpi_bytes_received: tp.bytes_received,
        tcpi_segs_out: tp.segs_out,
        tcpi_segs_in: tp.segs_in,
        tcpi_snd_wnd: tp.snd_wnd,
        tcpi_min_rtt: crate::tcp_recovery::tcp_min_rtt(tp),
        tcpi_delivered: tp.delivered,
        tcpi_reord_seen: tp.reord_seen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tcp_orphan_cache` is the count at the last 100 ms boundary: a
    /// change is seen from the next period on, whatever its phase.
    #[test]
    fn the_orphan_cache_lags_the_count_by_one_period() {
        let c = TcpOrphanCount::default();
        assert_eq!(c.tcp_orphan_cache(1_000), 0);
        c.inc(1_050);
        c.inc(1_099);
        assert_eq!(c.tcp_orphan_count_sum(), 2);
        assert_eq!(c.tcp_orphan_cache(1_099), 0, "same period: the old figure");
        assert_eq!(c.tcp_orphan_cache(1_100), 2, "next period");
        c.dec(1_150);
        assert_eq!(c.tcp_orphan_cache(1_199), 2);
        // Several idle periods later: the count as it stood, not older.
        assert_eq!(c.tcp_orphan_cache(5_000), 1);
        c.dec(5_001);
        c.dec(5_002);
        assert_eq!(c.tcp_orphan_count_sum(), 0, "tcp_orphan_count_sum() clamps at 0");
        assert_eq!(c.tcp_orphan_cache(5_100), 0);
    }

    /// `tcp_too_many_orphans(shift)`: cache << shift > tcp_max_orphans.
    #[test]
    fn too_many_orphans_shifts_the_cache() {
        let clock = net_core::Clock::new_virtual_at(1_000_000_000);
        let net = Net::new("t", clock.clone(), 1);
        let tn = crate::af_inet::inet_init(&net);
        net.sysctl.set("net.ipv4.tcp_max_orphans", "4").expect("sysctl");
        for _ in 0..3 {
            tn.tcp_orphan_count.inc(net.jiffies());
        }
        clock.set_ns(clock.now_ns() + 100_000_000);
        assert!(!tcp_too_many_orphans(&net, &tn, 0), "3 > 4: no");
        assert!(tcp_too_many_orphans(&net, &tn, 1), "6 > 4: yes");
        assert!(tcp_check_oom(&net, &tn, 2));
        assert_eq!(tn.dmesg.lock().as_slice(), ["TCP: too many orphaned sockets"]);
    }
}
