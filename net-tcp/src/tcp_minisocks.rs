//! The two mini sockets at either end of a connection's life: the final
//! ACK of a passive open, where a request sock meets the segment that
//! completes its handshake and the full socket is born; and TIME_WAIT,
//! where the full socket gives way to a timewait sock.
//!
//! Mirrors net/ipv4/tcp_minisocks.c of **Linux 6.18** (`tcp_time_wait()`,
//! `tcp_timewait_state_process()`, `tcp_check_req()`,
//! `tcp_create_openreq_child()`, `tcp_child_process()`), with
//! `tcp_v4_syn_recv_sock()` from net/ipv4/tcp_ipv4.c beside them.
//!
//! Heads up: read RFC 9293 §3.10.7.4 (SYN-RECEIVED and TIME-WAIT), RFC 1122
//! §4.2.2.13 (a SYN may reopen a connection in TIME-WAIT), RFC 1337 — and Linux's own
//! verdict in `tcp_check_req()`: "RFC793 (even with RFC1122) DOES NOT
//! describe SYN-RECV state. All the description is wrong, we cannot believe
//! to it and should rely only on common sense and implementation
//! experience." — then RFC 7323 §5 (PAWS).
//!
//! # Where we differ
//!
//! - No Fast Open (`fastopen` is always false), no `TCP_DEFER_ACCEPT`, no
//!   SO_REUSEPORT migration of requests, no BPF.
//! - The child is put on the accept queue before the final ACK is fed to
//!   it (as Linux), but not under its lock: our lock order forbids taking
//!   the listener while holding the child, so there is a moment when
//!   `accept()` could see the child still in SYN_RECV.
//! - The child's SYN-ACK is represented on its retransmit queue (sent at
//!   the request's first SYN-ACK time, marked ever-retransmitted if it was)
//!   so the final ACK acknowledges it through the ordinary `tcp_ack()` —
//!   this gives the first RTT sample Linux takes in `tcp_synack_rtt_meas()`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use net_core::snmp::{LinuxMib, TcpMib};
use net_core::{Net, Skb};

use crate::af_inet::TcpNet;
use crate::inet_timewait_sock::*;
use crate::request_sock::*;
use crate::sock::*;
use crate::tcp::wake;
use crate::tcp_input::{__tcp_oow_rate_limited, RcvAction, TcpSeg, tcp_rcv_state_process};
use crate::tcp_output::*;
use crate::tcp_states::TcpState;
use crate::tcphdr::{TCPHDR_ACK, TCPHDR_RST, TCPHDR_SYN};

/// What `tcp_check_req()` tells `tcp_v4_rcv()`.
#[derive(Debug)]
pub enum CheckReq {
    /// NULL: the segment was handled (answered, dropped, or it built the
    /// child and was fed to it).
    Consumed,
    /// `return sk`: let the listener handle it (an ACK of something we
    /// never sent: the listener answers with a RST).
    Listener(Skb),
    /// `*req_stolen`: another path took the request; look the segment up
    /// again (it will find the child).
    Stolen(Skb),
}

/// `tcp_in_window()`: is `seq..end_seq` within `s_win..e_win`?
fn tcp_in_window(seq: u32, end_seq: u32, s_win: u32, e_win: u32) -> bool {
    if seq == s_win {
        return true;
    }
    if after(end_seq, s_win) && before(seq, e_win) {
        return true;
    }
    seq == e_win && seq == end_seq
}

/// `tcp_oow_rate_limited()` with the request's own `last_oow_ack_time`:
/// data without SYN is never limited.
fn req_oow_rate_limited(net: &Net, tn: &TcpNet, seg: &TcpSeg, req: &RequestSock) -> bool {
    if seg.seq != seg.end_seq && seg.flags & TCPHDR_SYN == 0 {
        return false;
    }
    let mut last = req.last_oow_ack_time.load(Ordering::Relaxed);
    let limited = __tcp_oow_rate_limited(net, tn, LinuxMib::TCPACKSkippedSynRecv, &mut last);
    req.last_oow_ack_time.store(last, Ordering::Relaxed);
    limited
}

// ANCHOR: tcp_check_req
/// Mirrors `tcp_check_req()`: a segment for a request sock.
///
/// In order:
/// - timestamps: TSecr must echo one of our SYN-ACKs (`TSEcrRejected`
///   otherwise); PAWS against the SYN's TSval;
/// - a retransmitted SYN (`seq == rcv_isn`, only SYN set) resends the
///   SYN-ACK (`inet_rtx_syn_ack()`, rate-limited by
///   `tcp_invalid_ratelimit`: `TCPACKSkippedSynRecv`) and restarts the
///   timer;
/// - an ACK that does not acknowledge exactly our SYN (`ack_seq != snt_isn
///   + 1`) goes to the listener, which answers it with a RST;
/// - out of window (or PAWS-rejected): an ACK, rate-limited, and drop;
/// - RST, or a SYN other than the retransmission above: the request dies
///   (`AttemptFails`; a SYN is answered with a RST; `EmbryonicRsts`);
/// - no ACK: drop;
/// - otherwise build the child ([`tcp_v4_syn_recv_sock`]). If the accept
///   queue is full, drop the ACK silently and mark the request `acked` —
///   the peer thinks it is connected; its retransmissions (or data) will
///   retry — unless `tcp_abort_on_overflow` = 1: RST and drop the request.
pub fn tcp_check_req(
    net: &Net,
    tn: &TcpNet,
    listener: &Arc<TcpSock>,
    req: &Arc<RequestSock>,
    seg: &TcpSeg,
    skb: Skb,
) -> CheckReq {
    let mut flg = seg.flags & (TCPHDR_RST | TCPHDR_SYN | TCPHDR_ACK);
    let mut tsecr_reject = false;
    let mut paws_reject = false;
    let ts = seg.opts.timestamps.filter(|_| tn.sysctl.tcp_timestamps.get() != 0);
    if let Some((tsval, tsecr)) = ts {
        let ts_recent = req.ts_recent.load(Ordering::Relaxed);
        if tsecr != 0 && req.tstamp_ok {
            tsecr_reject = !between(
                tsecr,
                req.snt_tsval_first.load(Ordering::Relaxed),
                req.snt_tsval_last.load(Ordering::Relaxed),
            );
        }
        // tcp_paws_reject(): ts_recent_stamp is estimated as "now minus
        // the current timeout", never older than TCP_PAWS_WRAP.
        let paws_ok = (ts_recent.wrapping_sub(tsval) as i32) <= 0 || ts_recent == 0;
        let rst_too_old =
            flg & TCPHDR_RST != 0 && reqsk_timeout(req, TCP_RTO_MAX) / 1000 >= TCP_PAWS_MSL as u32;
        paws_reject = !paws_ok && !rst_too_old;
    }

    // Check for pure retransmitted SYN.
    if seg.seq == req.rcv_isn && flg == TCPHDR_SYN && !paws_reject {
        if !req_oow_rate_limited(net, tn, seg, req) {
            inet_rtx_syn_ack(net, tn, listener, req);
            if let Some(t) = req.rsk_timer.get().copied().filter(|&t| net.timer_pending(t)) {
                net.mod_timer(t, net.jiffies() + u64::from(reqsk_timeout(req, TCP_RTO_MAX)));
            }
        }
        net.consume_skb(skb);
        return CheckReq::Consumed;
    }

    // "Invalid ACK: reset will be sent by listening socket."
    if flg & TCPHDR_ACK != 0 && seg.ack_seq != req.snt_isn.wrapping_add(1) {
        return CheckReq::Listener(skb);
    }

    // RFC793: "first check sequence number".
    let rcv_nxt = req.rcv_nxt();
    let synack_window = req.rsk_rcv_wnd.min(65535); // tcp_synack_window()
    if paws_reject
        || tsecr_reject
        || !tcp_in_window(seg.seq, seg.end_seq, rcv_nxt, rcv_nxt.wrapping_add(synack_window))
    {
        // Out of window: send ACK and drop.
        if flg & TCPHDR_RST == 0 && !req_oow_rate_limited(net, tn, seg, req) {
            tcp_v4_reqsk_send_ack(net, tn, req);
        }
        if paws_reject {
            net.mib.inc(LinuxMib::PAWSEstab);
        } else if tsecr_reject {
            net.mib.inc(LinuxMib::TSEcrRejected);
        }
        net.kfree_skb_reason(skb, net_core::SkbDropReason::NotSpecified);
        return CheckReq::Consumed;
    }

    // In sequence, PAWS is OK.
    if let Some((tsval, _)) = ts {
        if !after(seg.seq, rcv_nxt) {
            req.ts_recent.store(tsval, Ordering::Relaxed);
        }
    }
    if seg.seq == req.rcv_isn {
        // Truncate SYN, it is out of window starting at rcv_isn + 1.
        flg &= !TCPHDR_SYN;
    }

    // RFC793: "second check the RST bit" and "fourth, check the SYN bit".
    if flg & (TCPHDR_RST | TCPHDR_SYN) != 0 {
        net.mib.inc(TcpMib::AttemptFails);
        return embryonic_reset(net, tn, req, seg, flg, skb);
    }
    if flg & TCPHDR_ACK == 0 {
        net.consume_skb(skb);
        return CheckReq::Consumed;
    }

    // "OK, ACK is valid, create big socket and feed this segment to it."
    let Some((child, own_req)) = tcp_v4_syn_recv_sock(net, tn, listener, req, seg) else {
        // listen_overflow:
        if tn.sysctl.tcp_abort_on_overflow.get() == 0 {
            req.acked.store(true, Ordering::Relaxed);
            net.kfree_skb_reason(skb, net_core::SkbDropReason::NotSpecified);
            return CheckReq::Consumed;
        }
        return embryonic_reset(net, tn, req, seg, flg, skb);
    };
    if !own_req {
        // "Too bad, another child took ownership of the request, undo."
        inet_child_forget_unhashed(net, tn, &child);
        return CheckReq::Stolen(skb);
    }
    if inet_csk_complete_hashdance(net, tn, listener, &child, req) {
        tcp_child_process(net, tn, listener, &child, seg, skb);
    } else {
        net.kfree_skb_reason(skb, net_core::SkbDropReason::NotSpecified);
    }
    CheckReq::Consumed
}

/// `embryonic_reset:` of `tcp_check_req()`: answer with a RST unless the
/// segment was one, then drop the request (`EmbryonicRsts` if this call
/// unhashed it; otherwise someone else did, and the segment is looked up
/// again).
fn embryonic_reset(net: &Net, tn: &TcpNet, req: &RequestSock, seg: &TcpSeg, flg: u8, skb: Skb) -> CheckReq {
    if flg & TCPHDR_RST == 0 {
        crate::tcp_ipv4::tcp_v4_send_reset(net, tn, seg);
    }
    if inet_csk_reqsk_queue_drop(net, tn, req) {
        net.mib.inc(LinuxMib::EmbryonicRsts);
        net.consume_skb(skb);
        CheckReq::Consumed
    } else {
        CheckReq::Stolen(skb)
    }
}
// ANCHOR_END: tcp_check_req

// ANCHOR: tcp_v4_syn_recv_sock
/// Mirrors `tcp_v4_syn_recv_sock()` (net/ipv4/tcp_ipv4.c): with the accept
/// queue full, `ListenOverflows` + `ListenDrops` and no child. Otherwise
/// the child ([`tcp_create_openreq_child`]) joins the listener's port
/// (`__inet_inherit_port()`) and takes the request's place in ehash
/// (`inet_ehash_nolisten()`); `own_req` is false if the request was no
/// longer there. Returns the child and `own_req`.
pub fn tcp_v4_syn_recv_sock(
    net: &Net,
    tn: &TcpNet,
    listener: &Arc<TcpSock>,
    req: &RequestSock,
    seg: &TcpSeg,
) -> Option<(Arc<TcpSock>, bool)> {
    if sk_acceptq_is_full(listener) {
        net.mib.inc(LinuxMib::ListenOverflows);
        net.mib.inc(LinuxMib::ListenDrops);
        return None;
    }
    let child = tcp_create_openreq_child(net, tn, listener, req, seg);
    tn.hashinfo.__inet_inherit_port(listener, &child);
    let own_req = tn.hashinfo.inet_ehash_swap_req(req, &child);
    Some((child, own_req))
}
// ANCHOR_END: tcp_v4_syn_recv_sock

/// Undo [`tcp_v4_syn_recv_sock`] for a child that lost the race for its
/// request: it is not hashed; release its port and timers.
fn inet_child_forget_unhashed(net: &Net, tn: &TcpNet, child: &Arc<TcpSock>) {
    let mut tp = child.lock.lock();
    tp.state = TcpState::Close;
    child.skc_state.store(TcpState::Close as u8, Ordering::Release);
    tn.hashinfo.inet_put_port(child);
    // inet_csk_prepare_for_destroy_sock(): SOCK_DEAD, and counted as an
    // orphan so that inet_csk_destroy_sock() may uncount it.
    tp.dead = true;
    tn.tcp_orphan_count.inc(net.jiffies());
    crate::tcp::inet_csk_destroy_sock(net, child, &mut tp);
}

// ANCHOR: tcp_create_openreq_child
/// Mirrors `tcp_create_openreq_child()` (+ `inet_csk_clone_lock()`): the
/// full socket, in SYN_RECV, cloned from the listener's settings
/// (buffers, `TCP_NODELAY`, `TCP_MAXSEG`, keepalive, `TCP_USER_TIMEOUT`,
/// `TCP_LINGER2`, the congestion control) and filled from the request:
/// `rcv_nxt = rcv_isn + 1`, `snd_una = snt_isn` with the SYN-ACK in flight
/// (see the module doc), the options agreed, `rsk_rcv_wnd`/`window_clamp`,
/// `ts_recent`, `ts_off`; the send window from this ACK's window, scaled.
/// Counts `PassiveOpens`. The MSS comes from the route the SYN took
/// (`tcp_sync_mss()`, `tcp_initialize_rcv_mss()` in
/// `tcp_v4_syn_recv_sock()`).
pub fn tcp_create_openreq_child(
    net: &Net,
    _tn: &TcpNet,
    listener: &Arc<TcpSock>,
    req: &RequestSock,
    seg: &TcpSeg,
) -> Arc<TcpSock> {
    let lp = listener.lock.lock();
    let child = TcpSock::new(net, lp.sk_rcvbuf, lp.sk_sndbuf);
    child.skc_bound_dev_if.store(req.skc_bound_dev_if, Ordering::Relaxed);
    // sk_clone_lock() copies sk_reuse/sk_reuseport: a child's timewait
    // sock keeps the listener's SO_REUSEADDR for bind conflicts.
    child.skc_reuse.store(listener.skc_reuse.load(Ordering::Relaxed), Ordering::Relaxed);
    child.skc_reuseport.store(listener.skc_reuseport.load(Ordering::Relaxed), Ordering::Relaxed);
    child.set_skc_addrs(req.ir_loc_addr(), req.ir_num(), req.ir_rmt_addr(), req.ir_rmt_port());
    {
        let mut tp = child.lock.lock();
        tp.inet_saddr = req.ir_loc_addr();
        tp.inet_sport = req.ir_num();
        tp.sk_userlocks = lp.sk_userlocks;
        tp.nonagle = lp.nonagle;
        tp.rx_opt.user_mss = lp.rx_opt.user_mss;
        tp.icsk_user_timeout = lp.icsk_user_timeout;
        tp.icsk_syn_retries = lp.icsk_syn_retries;
        tp.linger2 = lp.linger2;
        tp.keepalive = lp.keepalive;
        tp.keepalive_time = lp.keepalive_time;
        tp.keepalive_intvl = lp.keepalive_intvl;
        tp.keepalive_probes = lp.keepalive_probes;
        // tcp_ca_openreq_child(): the listener's algorithm.
        tp.icsk_ca_ops = lp.icsk_ca_ops;
        tp.reordering = lp.reordering;
        tp.state = TcpState::SynRecv;
        child.skc_state.store(TcpState::SynRecv as u8, Ordering::Release);

        // tcp_openreq_init() carried in the request.
        tp.rcv_nxt = req.rcv_nxt();
        tp.rcv_wup = tp.rcv_nxt;
        tp.copied_seq = tp.rcv_nxt;
        tp.rx_opt.wscale_ok = req.wscale_ok;
        tp.rx_opt.snd_wscale = req.snd_wscale;
        tp.rx_opt.rcv_wscale = req.rcv_wscale;
        tp.rx_opt.sack_ok = req.sack_ok;
        tp.rx_opt.tstamp_ok = req.tstamp_ok;
        tp.rx_opt.ts_recent = req.ts_recent.load(Ordering::Relaxed);
        tp.rx_opt.ts_recent_stamp = net.now_ns() / 1_000_000_000;
        tp.tcp_header_len = (crate::tcphdr::TCPHDR_LEN + if req.tstamp_ok { 12 } else { 0 }) as u16;
        tp.tsoffset = req.ts_off;
        tp.rx_opt.mss_clamp = req.mss;
        tp.rcv_wnd = req.rsk_rcv_wnd;
        tp.window_clamp = req.rsk_window_clamp;
        tp.rcv_ssthresh = req.rsk_rcv_wnd;
        tp.snd_wnd = u32::from(seg.window) << tp.rx_opt.snd_wscale;
        tp.snd_wl1 = req.rcv_isn;
        tp.max_window = tp.snd_wnd;
        tp.total_retrans = u32::from(req.num_retrans.load(Ordering::Relaxed));
        tp.advmss = req.advmss;
        tcp_sync_mss(&mut tp, u32::from(req.pmtu));
        tcp_initialize_rcv_mss(&mut tp);
        // tcp_v4_syn_recv_sock(): the child numbers its own IP IDs from a
        // random start (`newinet->inet_id = get_random_u16()`).
        child.inet_id.store(net.random.get_random_u32() as u16, Ordering::Relaxed);

        // The SYN-ACK the request sent, in flight until this ACK.
        tp.write_seq = req.snt_isn;
        tcp_queue_ctl(&mut tp, TCPHDR_SYN | TCPHDR_ACK);
        if let Some(mut skb) = tp.sk_write_queue.dequeue() {
            let cb = TCP_SKB_CB_mut(&mut skb);
            cb.when_ns = req.snt_synack.load(Ordering::Relaxed);
            if req.num_retrans.load(Ordering::Relaxed) > 0 {
                cb.sacked |= TCPCB_EVER_RETRANS;
            }
            tp.tcp_rtx_queue.push_back(skb);
            tp.packets_out = 1;
        }
        tp.snd_una = req.snt_isn;
        tp.snd_sml = req.snt_isn;
        tp.snd_nxt = tp.write_seq;
        tp.pushed_seq = tp.write_seq;
        tp.retrans_stamp = 0;
    }
    net.mib.inc(TcpMib::PassiveOpens);
    child
}
// ANCHOR_END: tcp_create_openreq_child

// ANCHOR: tcp_child_process
/// Mirrors `tcp_child_process()`: feed the final ACK (and any data on it)
/// to the new child, which `tcp_rcv_state_process()` moves to
/// ESTABLISHED; wake the listener (`sk_data_ready()`) so `accept()` sees
/// it. A child that asks for a reset gets one.
pub fn tcp_child_process(
    net: &Net,
    tn: &TcpNet,
    listener: &TcpSock,
    child: &Arc<TcpSock>,
    seg: &TcpSeg,
    skb: Skb,
) {
    let action = {
        let mut tp = child.lock.lock();
        tp.segs_in = tp.segs_in.wrapping_add(1);
        let pmtu = u32::from(tp.mss_cache) + 40;
        let a = tcp_rcv_state_process(net, tn, child, &mut tp, seg, skb, pmtu.max(576));
        if std::mem::take(&mut tp.wake_pending) {
            drop(tp);
            wake(child);
        }
        a
    };
    if let RcvAction::SendReset = action {
        crate::tcp_ipv4::tcp_v4_send_reset(net, tn, seg);
    }
    wake(listener);
}
// ANCHOR_END: tcp_child_process

// ANCHOR: tcp_v4_cookie_check
/// Mirrors `tcp_v4_cookie_check()` → `cookie_v4_check()`
/// (net/ipv4/syncookies.c), the listener's half: a bare ACK (no SYN, no
/// RST) to a listener that overflowed in the last two minutes may carry a
/// cookie. A valid one (`SyncookiesRecv`) rebuilds the request from the
/// ACK — ISNs from `seq - 1` and `ack_seq - 1`, the MSS from the cookie,
/// window scale and SACK from the TSecr ([`crate::syncookies`]) — and the
/// child is made at once, straight onto the accept queue. An invalid one
/// counts `SyncookiesFailed` and the listener answers as to any ACK: RST.
/// Returns the skb when the listener should go on with it.
pub fn tcp_v4_cookie_check(
    net: &Net,
    tn: &TcpNet,
    listener: &Arc<TcpSock>,
    seg: &TcpSeg,
    skb: Skb,
) -> Option<Skb> {
    if tn.sysctl.tcp_syncookies.get() == 0 || seg.flags & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN) != TCPHDR_ACK
    {
        return Some(skb);
    }
    if crate::tcp_input::tcp_synq_no_recent_overflow(net, &listener.lock.lock()) {
        return Some(skb);
    }
    let Some(mss) = crate::syncookies::cookie_v4_check(
        tn,
        seg.saddr,
        seg.daddr,
        seg.sport,
        seg.dport,
        seg.seq,
        seg.ack_seq,
        net.jiffies(),
    ) else {
        net.mib.inc(LinuxMib::SyncookiesFailed);
        return Some(skb);
    };
    let ts = seg.opts.timestamps.filter(|_| tn.sysctl.tcp_timestamps.get() != 0);
    let (wscale_ok, snd_wscale, sack_ok) = match ts {
        // The SYN-ACK's TSval carried our per-connection offset; the
        // option bits sit below it (cookie_v4_check: rcv_tsecr -= tsoff).
        Some((_, tsecr)) => match crate::syncookies::cookie_timestamp_decode(if tsecr != 0 {
            tsecr.wrapping_sub(crate::tcp_ipv4::secure_tcp_ts_off(tn, seg.daddr, seg.saddr))
        } else {
            0
        }) {
            Some(d) => d,
            None => return Some(skb),
        },
        None => (false, 0, false),
    };
    net.mib.inc(LinuxMib::SyncookiesRecv);
    let Ok(rt) = net_ipv4::route::ip_route_output(net, &tn.ipv4, seg.saddr, Some(seg.daddr), None) else {
        return Some(skb);
    };
    let tstamp_ok = ts.is_some();
    let init = {
        let lp = listener.lock.lock();
        let mut advmss = tcp_mtu_to_mss(rt.mtu);
        if lp.rx_opt.user_mss != 0 {
            advmss = advmss.min(lp.rx_opt.user_mss);
        }
        let (rsk_rcv_wnd, rsk_window_clamp, rcv_wscale) =
            crate::tcp_input::tcp_openreq_init_rwin(tn, &lp, advmss, tstamp_ok, wscale_ok);
        ReqInit {
            loc_addr: seg.daddr,
            loc_port: seg.dport,
            rmt_addr: seg.saddr,
            rmt_port: seg.sport,
            bound_dev_if: listener.skc_bound_dev_if.load(Ordering::Relaxed),
            rcv_isn: seg.seq.wrapping_sub(1),
            snt_isn: seg.ack_seq.wrapping_sub(1),
            mss,
            advmss,
            pmtu: rt.mtu.min(65535) as u16,
            rsk_rcv_wnd,
            rsk_window_clamp,
            ts_recent: ts.map_or(0, |(tsval, _)| tsval),
            ts_off: if tstamp_ok { crate::tcp_ipv4::secure_tcp_ts_off(tn, seg.daddr, seg.saddr) } else { 0 },
            snd_wscale,
            rcv_wscale: if wscale_ok { rcv_wscale } else { 0 },
            tstamp_ok,
            sack_ok,
            wscale_ok,
        }
    };
    let req = inet_reqsk_alloc(tn, listener, &init);
    // tcp_get_cookie_sock() → tcp_v4_syn_recv_sock() with no request hashed.
    let made = if sk_acceptq_is_full(listener) {
        net.mib.inc(LinuxMib::ListenOverflows);
        net.mib.inc(LinuxMib::ListenDrops);
        None
    } else {
        let child = tcp_create_openreq_child(net, tn, listener, &req, seg);
        tn.hashinfo.__inet_inherit_port(listener, &child);
        if tn.hashinfo.inet_ehash_nolisten(&child) {
            Some(child)
        } else {
            inet_child_forget_unhashed(net, tn, &child);
            None
        }
    };
    reqsk_free(net, tn, &req);
    let Some(child) = made else {
        net.kfree_skb_reason(skb, net_core::SkbDropReason::NotSpecified);
        return None;
    };
    if inet_csk_reqsk_queue_add(net, tn, listener, &child) {
        tcp_child_process(net, tn, listener, &child, seg, skb);
    } else {
        net.kfree_skb_reason(skb, net_core::SkbDropReason::NotSpecified);
    }
    None
}
// ANCHOR_END: tcp_v4_cookie_check

// ANCHOR: tcp_time_wait
/// Mirrors `tcp_time_wait()` (net/ipv4/tcp_minisocks.c): the socket enters
/// TIME_WAIT (`state` = TIME_WAIT, for `TCP_TIMEWAIT_LEN`) or an orphan's
/// FIN_WAIT2 timeout (`state` = FIN_WAIT2, for `timeo`, at least 3.5 RTO)
/// as a timewait sock.
///
/// [`inet_twsk_alloc`] takes one from the slab with what the last ACK,
/// PAWS and a reopen need (`rcv_nxt`, `snd_nxt`, the receive window,
/// `ts_recent` and its stamp, `tsoffset`); [`inet_twsk_hashdance_schedule`]
/// puts it in the socket's place in `ehash` and on its bind bucket and
/// starts its timer. Past `tcp_max_tw_buckets` there is none: "Sorry, if
/// we're out of memory, just CLOSE this socket up. We've got bigger
/// problems than non-graceful socket closings." (`TCPTimeWaitOverflow`).
/// Either way the full socket is done (`tcp_done()`): CLOSE, its timers
/// stopped, destroyed if orphaned — a socket the user still holds (after
/// `shutdown()`) reads CLOSE from now on, as in Linux.
pub fn tcp_time_wait(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk, state: TcpState, timeo: u32) {
    let init = TwInit {
        substate: state,
        rcv_nxt: tp.rcv_nxt,
        snd_nxt: tp.snd_nxt,
        rcv_wnd: tcp_receive_window(tp),
        rcv_wscale: tp.rx_opt.rcv_wscale,
        tstamp_ok: tp.rx_opt.tstamp_ok,
        ts_recent: tp.rx_opt.ts_recent,
        ts_recent_stamp: tp.rx_opt.ts_recent_stamp,
        ts_offset: tp.tsoffset,
    };
    match inet_twsk_alloc(net, tn, sk, &init) {
        Some(tw) => {
            let rto = (tp.icsk_rto << 2) - (tp.icsk_rto >> 1);
            // Get the TIME_WAIT timeout firing.
            let mut timeo = timeo.max(rto);
            if state == TcpState::TimeWait {
                timeo = TCP_TIMEWAIT_LEN;
            }
            // Linkage updates.
            inet_twsk_hashdance_schedule(net, tn, &tw, sk, timeo);
        }
        None => net.mib.inc(LinuxMib::TCPTimeWaitOverflow),
    }
    crate::tcp::tcp_done(net, sk, tp);
}
// ANCHOR_END: tcp_time_wait

// ANCHOR: tcp_timewait_state_process
/// What [`tcp_timewait_state_process`] tells `tcp_v4_rcv()` to do
/// (`enum tcp_tw_status`).
#[doc(alias = "tcp_tw_status")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpTwStatus {
    /// `TCP_TW_SUCCESS`: nothing to send (the segment is dropped).
    Success,
    /// `TCP_TW_RST`: answer with a RST and kill the timewait sock.
    Rst,
    /// `TCP_TW_ACK` (and 6.13's `TCP_TW_ACK_OOW`, which only differs in
    /// the ECN bits of the TOS, which we do not keep): repeat the last ACK
    /// ([`crate::tcp_ipv4::tcp_v4_timewait_ack`]).
    Ack,
    /// `TCP_TW_SYN`: a new SYN may reopen the four-tuple; hand it to the
    /// listener with this ISN (`tw_snd_nxt + 65535 + 2`, never 0), or
    /// answer with an ACK if there is none.
    Syn {
        /// `*tw_isn`.
        isn: u32,
    },
}

/// `tcp_in_window()` for the timewait sock's window.
fn tw_in_window(seq: u32, end_seq: u32, s_win: u32, e_win: u32) -> bool {
    tcp_in_window(seq, end_seq, s_win, e_win)
}

/// `tcp_paws_reject()` against the timewait sock's `tw_ts_recent`: the
/// TSval is older than TS.Recent, TS.Recent is younger than 24 days and
/// not 0 — except that a RST is accepted once TS.Recent is `TCP_PAWS_MSL`
/// (60 s) old.
fn tw_paws_reject(net: &Net, ts_recent: u32, ts_recent_stamp: u64, rcv_tsval: u32, rst: bool) -> bool {
    let now = net.now_ns() / 1_000_000_000;
    // tcp_paws_check(rx_opt, 0)
    if (ts_recent.wrapping_sub(rcv_tsval) as i32) <= 0
        || now >= ts_recent_stamp + TCP_PAWS_WRAP
        || ts_recent == 0
    {
        return false;
    }
    !(rst && now >= ts_recent_stamp + TCP_PAWS_MSL)
}

/// Mirrors `tcp_timewait_check_oow_rate_limit()`: answer an out-of-window
/// segment with an ACK unless one was sent less than
/// `tcp_invalid_ratelimit` ago (then count `mib`); a segment with data
/// and no SYN is always answered.
fn tcp_timewait_check_oow_rate_limit(
    net: &Net,
    tn: &TcpNet,
    tw: &InetTimewaitSock,
    seg: &TcpSeg,
    mib: LinuxMib,
) -> TcpTwStatus {
    if seg.seq != seg.end_seq && seg.flags & TCPHDR_SYN == 0 {
        return TcpTwStatus::Ack;
    }
    let mut last = tw.tw_last_oow_ack_time.load(Ordering::Relaxed);
    let limited = __tcp_oow_rate_limited(net, tn, mib, &mut last);
    tw.tw_last_oow_ack_time.store(last, Ordering::Relaxed);
    if limited { TcpTwStatus::Success } else { TcpTwStatus::Ack }
}

/// Mirrors `tcp_timewait_state_process()` (net/ipv4/tcp_minisocks.c): a
/// segment for a timewait sock.
///
/// With a timestamp and a TS.Recent, PAWS runs first (`paws_reject`).
///
/// In substate FIN_WAIT2 (an orphan waiting for the peer's FIN) "just
/// repeat all the checks of `tcp_rcv_state_process()`": out of window or
/// PAWS-rejected → ACK (rate-limited, `TCPACKSkippedFinWait2`); a RST
/// kills the sock; a SYN at or after `rcv_nxt`, new data, or anything but
/// the exact FIN → RST; a duplicate ACK is dropped; the FIN moves the sock
/// to TIME_WAIT for `TCP_TIMEWAIT_LEN` and is ACKed.
///
/// In TIME_WAIT:
/// - a segment exactly at `tw_rcv_nxt` with no data can only be a RST or a
///   bare ACK: a RST kills the sock ("TIME_WAIT assassination", unless
///   `tcp_rfc1337`), an ACK restarts the 60 s; either refreshes TS.Recent;
/// - a SYN (no RST, no ACK, not PAWS-rejected) after `tw_rcv_nxt`, or with
///   a TSval newer than TS.Recent, may reopen the connection (RFC 1122
///   §4.2.2.13): [`TcpTwStatus::Syn`];
/// - a PAWS-rejected segment counts `PAWSTimewait`;
/// - anything else but a RST — a retransmitted FIN, stray data, an old
///   SYN — is answered with an ACK (rate-limited,
///   `TCPACKSkippedTimeWait`), and restarts the 60 s if it carries an ACK
///   or was PAWS-rejected;
/// - other RSTs are ignored.
pub fn tcp_timewait_state_process(
    net: &Net,
    tn: &TcpNet,
    tw: &InetTimewaitSock,
    seg: &TcpSeg,
) -> TcpTwStatus {
    let rcv_nxt = tw.tw_rcv_nxt.load(Ordering::Relaxed);
    let rst = seg.flags & TCPHDR_RST != 0;
    let syn = seg.flags & TCPHDR_SYN != 0;
    let ack = seg.flags & TCPHDR_ACK != 0;
    let fin = seg.flags & crate::tcphdr::TCPHDR_FIN != 0;
    let ts_recent_stamp = tw.tw_ts_recent_stamp.load(Ordering::Relaxed);
    let mut saw_tstamp = None;
    let mut paws_reject = false;
    if tw.has_ts_recent() && tn.sysctl.tcp_timestamps.get() != 0 {
        if let Some((tsval, _tsecr)) = seg.opts.timestamps {
            saw_tstamp = Some(tsval);
            let ts_recent = tw.tw_ts_recent.load(Ordering::Relaxed);
            paws_reject = tw_paws_reject(net, ts_recent, ts_recent_stamp, tsval, rst);
        }
    }

    if tw.substate() == TcpState::FinWait2 {
        // Just repeat all the checks of tcp_rcv_state_process().
        // Out of window, send ACK.
        if paws_reject || !tw_in_window(seg.seq, seg.end_seq, rcv_nxt, rcv_nxt.wrapping_add(tw.tw_rcv_wnd)) {
            return tcp_timewait_check_oow_rate_limit(net, tn, tw, seg, LinuxMib::TCPACKSkippedFinWait2);
        }
        if rst {
            inet_twsk_deschedule_put(net, tw); // kill
            return TcpTwStatus::Success;
        }
        if syn && !before(seg.seq, rcv_nxt) {
            return TcpTwStatus::Rst;
        }
        // Dup ACK?
        if !ack || !after(seg.end_seq, rcv_nxt) || seg.end_seq == seg.seq {
            return TcpTwStatus::Success;
        }
        // New data or FIN. If new data arrive after half-duplex close,
        // reset.
        if !fin || seg.end_seq != rcv_nxt.wrapping_add(1) {
            return TcpTwStatus::Rst;
        }
        // FIN arrived, enter true time-wait state.
        tw.tw_substate.store(TcpState::TimeWait as u8, Ordering::Relaxed);
        tw.tw_rcv_nxt.store(seg.end_seq, Ordering::Relaxed);
        if let Some(tsval) = saw_tstamp {
            let ms = net.now_ns() / 1_000_000;
            tw.tw_entry_stamp.store(ms, Ordering::Relaxed);
            tw.tw_ts_recent_stamp.store(ms / 1000, Ordering::Relaxed);
            tw.tw_ts_recent.store(tsval, Ordering::Relaxed);
        }
        inet_twsk_reschedule(net, tw, TCP_TIMEWAIT_LEN);
        return TcpTwStatus::Ack;
    }

    // Now real TIME-WAIT state.
    if !paws_reject && seg.seq == rcv_nxt && (seg.seq == seg.end_seq || rst) {
        // In window segment, it may be only reset or bare ack.
        if rst {
            // This is TIME_WAIT assassination, in two flavors. Oh well...
            // nobody has a sufficient solution to this protocol bug yet.
            if tn.sysctl.tcp_rfc1337.get() == 0 {
                inet_twsk_deschedule_put(net, tw); // kill
                return TcpTwStatus::Success;
            }
        } else {
            inet_twsk_reschedule(net, tw, TCP_TIMEWAIT_LEN);
        }
        if let Some(tsval) = saw_tstamp {
            tw.tw_ts_recent.store(tsval, Ordering::Relaxed);
            tw.tw_ts_recent_stamp.store(net.now_ns() / 1_000_000_000, Ordering::Relaxed);
        }
        return TcpTwStatus::Success;
    }

    // Out of window segment. All the segments are ACKed immediately. The
    // only exception is new SYN. We accept it, if it is not old duplicate
    // and we are not in danger to be killed by delayed old duplicates.
    let newer_ts = saw_tstamp
        .is_some_and(|tsval| (tw.tw_ts_recent.load(Ordering::Relaxed).wrapping_sub(tsval) as i32) < 0);
    if syn && !rst && !ack && !paws_reject && (after(seg.seq, rcv_nxt) || newer_ts) {
        let mut isn = tw.tw_snd_nxt.wrapping_add(65535 + 2);
        if isn == 0 {
            isn += 1;
        }
        return TcpTwStatus::Syn { isn };
    }
    if paws_reject {
        net.mib.inc(LinuxMib::PAWSTimewait);
    }
    if !rst {
        // In this case we must reset the TIMEWAIT timer. If it is ACKless
        // SYN it may be both old duplicate and new good SYN with random
        // sequence number <rcv_nxt. Do not reschedule in the last case.
        if paws_reject || ack {
            inet_twsk_reschedule(net, tw, TCP_TIMEWAIT_LEN);
        }
        return tcp_timewait_check_oow_rate_limit(net, tn, tw, seg, LinuxMib::TCPACKSkippedTimeWait);
    }
    TcpTwStatus::Success
}
// ANCHOR_END: tcp_timewait_state_process

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Where the window's left edge sits.
    use crate::sock::seq_near_wraps as edge;

    /// An offset from the edges that matter: within 2 of `0` or of `anchor`
    /// (where off-by-one mistakes live), or anywhere within ±2^30.
    fn near(anchor: i64, pick: u8, small: i64, far: i64) -> i64 {
        match pick % 3 {
            0 => small,
            1 => anchor + small,
            _ => far,
        }
    }

    proptest! {
        /// Mirrors the test Linux's `tcp_in_window()` makes, against a model
        /// in plain integers relative to the window's left edge (offsets of
        /// less than 2^31 either way): the segment starts at the left edge,
        /// or it ends after the left edge and starts before the right edge,
        /// or it is empty and sits on the right edge. The same answer
        /// whether or not the window or the segment crosses the wrap.
        #[test]
        fn tcp_in_window_matches_a_model_across_the_wrap(
            s_win in edge(),
            wnd in prop_oneof![0i64..3, 0i64..(1 << 16), 0i64..(1 << 30)],
            (p1, s1, f1) in (any::<u8>(), -2i64..=2, -(1i64 << 30)..(1 << 30)),
            (p2, s2, f2) in (any::<u8>(), -2i64..=2, 0i64..(1 << 30)),
        ) {
            let at = |off: i64| s_win.wrapping_add(off as u32);
            let seq_off = near(wnd, p1, s1, f1);
            // The end: near the left edge, near the right edge, or a length on.
            let end_off = match p2 % 3 {
                0 => s2.max(seq_off),
                1 => (wnd + s2).max(seq_off),
                _ => seq_off + f2,
            };
            let model = seq_off == 0 || (end_off > 0 && seq_off < wnd) || (seq_off == wnd && end_off == wnd);
            prop_assert_eq!(tcp_in_window(at(seq_off), at(end_off), s_win, at(wnd)), model);
        }
    }
}
