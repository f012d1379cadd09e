//! Sending: segments built from the write queue, ACKs, SYNs, FINs and RSTs.
//!
//! Mirrors net/ipv4/tcp_output.c of **Linux 6.18**: `tcp_transmit_skb()`,
//! `tcp_write_xmit()`, `tcp_select_window()` / `__tcp_select_window()`,
//! `tcp_select_initial_window()`, `tcp_connect()`, `tcp_send_ack()`,
//! `tcp_send_delayed_ack()`, `tcp_send_fin()`, `tcp_send_active_reset()`,
//! `tcp_retransmit_skb()`, `tcp_sync_mss()`, `tcp_nagle_test()`.
//!
//! Heads up: read RFC 9293 §3.8.6 (managing the window, silly window
//! syndrome avoidance), RFC 896 (Nagle), RFC 1122 §4.2.3.4 (when to send
//! data) and RFC 5681 §3.1 (slow start) before this file.
//!
//! # The path of a segment out
//!
//! `send()` copies user bytes into skbs of at most one MSS, each with
//! [`MAX_TCP_HEADER`] of headroom, on `sk_write_queue` ([`crate::tcp`]).
//! [`tcp_write_xmit`] then sends from the head of that queue as long as the
//! congestion window, the peer's window and Nagle allow: each skb is
//! *cloned* (the clone shares the payload), the clone gets its TCP header
//! pushed by [`tcp_transmit_skb`] and goes to
//! `ip_queue_xmit()` on the cached route, and the original moves to `tcp_rtx_queue`
//! until it is acknowledged. A retransmission clones it again. When the
//! route's device does GSO (`sk_gso`), the data segments of one
//! `tcp_write_xmit()` burst go to `ip_queue_xmit()` together, as one
//! frag-list packet (`tcp_gso_flush()`; `net_core::gso` splits it). Only
//! the burst's first segment builds its header in full; the others copy
//! it with their own sequence number, flags and checksum
//! (`tcp_gso_next_segment()`), as segments of one TSO skb share theirs.
//!
//! # Where we differ
//!
//! - No TSO, pacing, TCP small queues, autocorking, MTU probing or ECN.
//!   One skb is one segment (`tcp_skb_pcount() == 1`): Linux's TCP builds
//!   skbs of up to 64 KiB and lets GSO cut them; ours gathers a burst's
//!   one-segment skbs into a GSO packet instead.
//! - A retransmission is not re-fragmented to the current MSS; if SACK
//!   blocks would make it outgrow the path it carries fewer of them.
//! - The transmit clone owns the header area in front of the shared
//!   payload (`Skb::skb_clone_xmit`, Linux's `skb_header_cloned()`), so
//!   pushing the headers copies nothing; only when an earlier clone is
//!   still in flight is the skb copied (`pskb_copy()`).
//! - The socket caches its route (`sk_dst_cache`) but re-checks it every
//!   second as well as on a routing-generation change.

use std::sync::Arc;

use net_core::checksum::{Wsum, csum_add, csum_partial};
use net_core::skbuff::{SkBuffHead, alloc_skb};
use net_core::snmp::{LinuxMib, TcpMib};
use net_core::{Errno, Net, Skb};
use net_ipv4::ip::{IPHDR_LEN, IPPROTO_TCP};
use net_ipv4::ip_output::{IpSendOpts, ip_build_and_send_pkt, ip_queue_xmit};

use crate::af_inet::TcpNet;
use crate::request_sock::RequestSock;
use crate::sock::*;
use crate::tcp_input::fastretrans::Rexmit;
use crate::tcp_states::TcpState;
use crate::tcphdr::{
    TCP_MAX_WSCALE, TCPHDR_ACK, TCPHDR_FIN, TCPHDR_LEN, TCPHDR_MAX_LEN, TCPHDR_PSH, TCPHDR_RST, TCPHDR_SYN,
    TCPHDR_URG, TcpHdr, TcpOutOptions, tcp_options_size, tcp_options_write, tcp_v4_check,
};

/// `TCP_MAX_QUICKACKS`: at most this many segments ACKed at once in
/// quick-ACK mode.
pub const TCP_MAX_QUICKACKS: u8 = 16;

// ANCHOR: tcp_win_from_space
/// `tcp_win_from_space()`: how much window `space` bytes of buffer can
/// offer. Linux 6.18 scales by `scaling_ratio`, the payload share of
/// `truesize` measured on arriving segments (`tcp_measure_rcv_mss()`),
/// one half until a segment says otherwise. (`tcp_adv_win_scale`, the
/// fixed share older kernels used, is no longer read.)
pub fn tcp_win_from_space(tp: &TcpSk, space: i64) -> i64 {
    (space * i64::from(tp.scaling_ratio)) >> TCP_RMEM_TO_WIN_SCALE
}
// ANCHOR_END: tcp_win_from_space

/// `tcp_space_from_win()`: the buffer `win` bytes of window take, the
/// inverse of [`tcp_win_from_space`].
pub fn tcp_space_from_win(tp: &TcpSk, win: i64) -> i64 {
    (win << TCP_RMEM_TO_WIN_SCALE) / i64::from(tp.scaling_ratio.max(1))
}

/// `tcp_space()`: window the free receive buffer allows.
pub fn tcp_space(tp: &TcpSk) -> i64 {
    tcp_win_from_space(tp, tp.sk_rcvbuf as i64 - tp.sk_rmem_alloc as i64)
}

/// `tcp_full_space()`: window a whole receive buffer allows.
pub fn tcp_full_space(tp: &TcpSk) -> i64 {
    tcp_win_from_space(tp, tp.sk_rcvbuf as i64)
}

/// `tcp_receive_window()`: what is left of the window we last advertised.
pub fn tcp_receive_window(tp: &TcpSk) -> u32 {
    let win = tp.rcv_wup.wrapping_add(tp.rcv_wnd).wrapping_sub(tp.rcv_nxt) as i32;
    win.max(0) as u32
}

// ANCHOR: tcp_select_initial_window
/// `tcp_select_initial_window()`: the window of our SYN or SYN-ACK and the
/// scale we offer.
///
/// The window is the buffer's (`space`, normally `tcp_full_space()`),
/// bounded by the clamp and rounded down to whole `mss`; a SYN carries it
/// unscaled, so at most 65535. The scale is chosen for the largest buffer
/// the socket could ever grow to — `max(tcp_rmem[2], net.core.rmem_max)`,
/// within the clamp — as the smallest shift that makes it fit 16 bits:
/// `ilog2(space) - 15`, at most 14. With Linux 6.18's defaults (32 MiB)
/// that is 10. Sets `rcv_wnd`, `window_clamp`, `rx_opt.rcv_wscale`,
/// `rcv_ssthresh`.
pub fn tcp_select_initial_window(tn: &TcpNet, tp: &mut TcpSk, space: i64, mss: u16, wscale_ok: bool) {
    let (rcv_wnd, window_clamp, rcv_wscale) =
        tcp_select_initial_window_vals(tn, space, mss, tp.window_clamp, wscale_ok);
    tp.rcv_wnd = rcv_wnd;
    tp.rx_opt.rcv_wscale = rcv_wscale;
    tp.window_clamp = window_clamp;
    // tcp_init_buffer_space(): rcv_ssthresh starts at the window.
    tp.rcv_ssthresh = tp.rcv_wnd.min(tp.window_clamp);
    tp.rcv_wup = tp.rcv_nxt;
}

/// The computation of [`tcp_select_initial_window`] on plain values, as
/// Linux's function takes them (`__space`, `mss`, `*window_clamp`,
/// `wscale_ok`): returns (`rcv_wnd`, `window_clamp`, `rcv_wscale`). A
/// request sock's window (`tcp_openreq_init_rwin()`) is chosen with it.
pub fn tcp_select_initial_window_vals(
    tn: &TcpNet,
    space: i64,
    mss: u16,
    window_clamp: u32,
    wscale_ok: bool,
) -> (u32, u32, u8) {
    let mss = u32::from(mss).max(1);
    let mut window_clamp = window_clamp;
    if window_clamp == 0 {
        window_clamp = 65535 << TCP_MAX_WSCALE;
    }
    let mut space = (space.max(0) as u32).min(window_clamp);
    if space > mss {
        space -= space % mss;
    }
    let rcv_wnd = if tn.sysctl.tcp_workaround_signed_windows.get() != 0 { space.min(32767) } else { space };
    let mut rcv_wscale = 0u8;
    if wscale_ok {
        let max_space = (space as i64)
            .max(tn.sysctl.tcp_rmem.get_n(2))
            .max(tn.ipv4_rmem_max())
            .min(i64::from(window_clamp))
            .max(1) as u32;
        rcv_wscale = (max_space.ilog2() as i32 - 15).clamp(0, i32::from(TCP_MAX_WSCALE)) as u8;
    }
    (rcv_wnd, window_clamp.min(65535u32 << rcv_wscale), rcv_wscale)
}
// ANCHOR_END: tcp_select_initial_window

// ANCHOR: tcp_select_window
/// `__tcp_select_window()`: the window to offer now, from free buffer
/// space (bounded by `rcv_ssthresh`, which `tcp_grow_window()` raises as
/// data arrives). Without window scaling, receiver-side silly window
/// avoidance (RFC 9293 §3.8.6.2.2): a window under one MSS is offered as
/// 0, and the offered window only moves in whole MSS. With scaling, the
/// free space rounded up to the scale's unit, so it does not scale away.
pub fn __tcp_select_window(tp: &TcpSk) -> u32 {
    let mut mss = i64::from(tp.icsk_ack.rcv_mss.max(1));
    let mut free_space = tcp_space(tp);
    let allowed_space = tcp_full_space(tp);
    let full_space = i64::from(tp.window_clamp).min(allowed_space);
    if mss > full_space {
        mss = full_space.max(1);
    }
    if free_space < full_space >> 1 && (free_space < allowed_space >> 4 || free_space < mss) {
        return 0;
    }
    if free_space > i64::from(tp.rcv_ssthresh) {
        free_space = i64::from(tp.rcv_ssthresh);
    }
    let wscale = tp.rx_opt.rcv_wscale;
    let window = if wscale != 0 {
        let unit = 1i64 << wscale;
        (free_space + unit - 1) & !(unit - 1)
    } else {
        let mut window = i64::from(tp.rcv_wnd);
        if window <= free_space - mss || window > free_space {
            window = (free_space / mss) * mss;
        } else if mss == full_space && free_space > window + (full_space >> 1) {
            window = free_space;
        }
        window
    };
    window.clamp(0, i64::from(u32::MAX)) as u32
}

/// `tcp_select_window()`: the window field of an outgoing segment. Never
/// shrinks what was offered (RFC 9293 "SHOULD NOT shrink": the right
/// edge stays, rounded up to the scale's unit); records the offer in
/// `rcv_wnd` and `rcv_wup`; returns it shifted by `rcv_wscale`. Counts
/// `TCPWantZeroWindowAdv`, `TCPToZeroWindowAdv` and
/// `TCPFromZeroWindowAdv` as Linux does.
pub fn tcp_select_window(net: &Net, tn: &TcpNet, tp: &mut TcpSk) -> u16 {
    let old_win = tp.rcv_wnd;
    let cur_win = tcp_receive_window(tp);
    let wscale = tp.rx_opt.rcv_wscale;
    let mut new_win = __tcp_select_window(tp);
    if new_win < cur_win {
        if new_win == 0 {
            net.mib.inc(LinuxMib::TCPWantZeroWindowAdv);
        }
        let unit = 1u32 << wscale;
        new_win = cur_win.div_ceil(unit).saturating_mul(unit);
    }
    tp.rcv_wnd = new_win;
    tp.rcv_wup = tp.rcv_nxt;
    let max = if wscale == 0 && tn.sysctl.tcp_workaround_signed_windows.get() != 0 {
        32767
    } else {
        65535u32 << wscale
    };
    let new_win = new_win.min(max) >> wscale;
    if new_win == 0 {
        if old_win != 0 {
            net.mib.inc(LinuxMib::TCPToZeroWindowAdv);
        }
    } else if old_win == 0 {
        net.mib.inc(LinuxMib::TCPFromZeroWindowAdv);
    }
    new_win as u16
}
// ANCHOR_END: tcp_select_window

/// The MSS we advertise for a path MTU: MTU − 40 (`dst_metric_advmss()`,
/// IPv4 and TCP headers without options).
pub fn tcp_mtu_to_mss(pmtu: u32) -> u16 {
    pmtu.saturating_sub(40).clamp(u32::from(TCP_MIN_MSS), 65495) as u16
}

// ANCHOR: tcp_sync_mss
/// `tcp_sync_mss()`: the sending MSS (`mss_cache`) from the path MTU.
///
/// `__tcp_mtu_to_mss()` takes MTU − 40, no more than the peer's MSS
/// (`mss_clamp`), then `tcp_mtu_to_mss()` takes off the options every data
/// segment carries (`tcp_header_len` − 20: 12 with timestamps, so 1460
/// becomes 1448), and `tcp_bound_to_half_wnd()` keeps it within half the
/// largest window the peer offered.
pub fn tcp_sync_mss(tp: &mut TcpSk, pmtu: u32) -> u16 {
    let opts = u32::from(tp.tcp_header_len).saturating_sub(crate::tcphdr::TCPHDR_LEN as u32);
    let mut mss = pmtu.saturating_sub(40).min(u32::from(tp.rx_opt.mss_clamp)).max(48);
    mss = mss.saturating_sub(opts).max(48);
    // tcp_bound_to_half_wnd()
    let cutoff = if tp.max_window > u32::from(TCP_MSS_DEFAULT) { tp.max_window >> 1 } else { tp.max_window };
    if cutoff != 0 && mss > cutoff {
        mss = cutoff.max(68u32.saturating_sub(u32::from(tp.tcp_header_len)));
    }
    tp.mss_cache = mss.min(65535) as u16;
    tp.icsk_pmtu_cookie = pmtu.min(65535) as u16;
    tp.mss_cache
}
// ANCHOR_END: tcp_sync_mss

/// The test at the top of Linux's `tcp_current_mss()`: when the route's
/// MTU is no longer the one `mss_cache` was computed from
/// (`dst_mtu(dst) != icsk_pmtu_cookie`: a device's MTU changed, a path
/// MTU exception appeared or expired), compute it again. Ours reads the
/// socket's cached route (`__sk_dst_get()`), taken again first if the
/// routing generation moved (`__sk_dst_check()`).
pub fn tcp_mtu_check(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    if tp.icsk_pmtu_cookie == 0 {
        return;
    }
    let genid = tn.ipv4.fib.rt_genid();
    let cached = tp.sk_dst_cache.as_ref().filter(|(_, g, _)| *g == genid).map(|(rt, _, _)| rt.mtu);
    let mtu = match cached {
        Some(mtu) => mtu,
        None => crate::tcp_ipv4::route_mtu(net, tn, sk, tp),
    };
    if mtu.min(65535) != u32::from(tp.icsk_pmtu_cookie) {
        tcp_sync_mss(tp, mtu);
    }
}

/// `tcp_current_mss()`: `mss_cache`, less the room SACK blocks take in the
/// segments we are about to send (their options exceed `tcp_header_len`).
pub fn tcp_current_mss(net: &Net, tp: &TcpSk) -> u16 {
    let opts = tcp_established_options(net, tp);
    let header_len = crate::tcphdr::TCPHDR_LEN + tcp_options_size(&opts);
    let delta = header_len.saturating_sub(usize::from(tp.tcp_header_len));
    (usize::from(tp.mss_cache).saturating_sub(delta)).max(1) as u16
}

// ANCHOR: tcp_options
/// `tcp_time_stamp_ts()`: our timestamp clock, in ms (`tcp_clock_ms()`);
/// TSval adds the connection's `tsoffset`.
pub fn tcp_time_stamp_ts(net: &Net) -> u32 {
    (net.now_ns() / 1_000_000) as u32
}

/// `tcp_syn_options()`: the options of our SYN (and of a simultaneous
/// open's SYN-ACK), offered as the sysctls allow: MSS (`advmss`),
/// timestamps (`tcp_timestamps`, TSecr = `ts_recent`, 0 on a first SYN),
/// window scale (`tcp_window_scaling`) and SACK-permitted (`tcp_sack`).
pub fn tcp_syn_options(net: &Net, tn: &TcpNet, tp: &TcpSk) -> TcpOutOptions {
    let sysctl = &tn.sysctl;
    TcpOutOptions {
        mss: Some(tp.advmss),
        ts: (sysctl.tcp_timestamps.get() != 0)
            .then(|| (tcp_time_stamp_ts(net).wrapping_add(tp.tsoffset), tp.rx_opt.ts_recent)),
        ws: (sysctl.tcp_window_scaling.get() != 0).then_some(tp.rx_opt.rcv_wscale),
        sack_advertise: sysctl.tcp_sack.get() != 0,
        ..TcpOutOptions::default()
    }
}

/// Mirrors `tcp_synack_options()`: the SYN-ACK of a passive open answers
/// in kind — each option only if the SYN offered it and our sysctl allowed
/// it when the SYN was accepted (`tstamp_ok`, `wscale_ok`, `sack_ok` of the
/// request sock); the MSS is the route's, clamped by `TCP_MAXSEG`.
pub fn tcp_synack_options(net: &Net, req: &RequestSock) -> TcpOutOptions {
    TcpOutOptions {
        mss: Some(req.advmss),
        ws: req.wscale_ok.then_some(req.rcv_wscale),
        ts: req.tstamp_ok.then(|| {
            (
                tcp_time_stamp_ts(net).wrapping_add(req.ts_off),
                req.ts_recent.load(std::sync::atomic::Ordering::Relaxed),
            )
        }),
        sack_advertise: req.sack_ok,
        ..TcpOutOptions::default()
    }
}

/// `tcp_established_options()`: what every later segment carries — the
/// timestamp if negotiated, and SACK blocks while we hold out-of-order
/// data (a D-SACK block first, once, RFC 2883 §4), as many as fit.
pub fn tcp_established_options(net: &Net, tp: &TcpSk) -> TcpOutOptions {
    let mut opts = TcpOutOptions::default();
    if tp.rx_opt.tstamp_ok {
        opts.ts = Some((tcp_time_stamp_ts(net).wrapping_add(tp.tsoffset), tp.rx_opt.ts_recent));
    }
    let mut n = 0;
    if tp.rx_opt.dsack {
        opts.sack_blocks[0] = tp.duplicate_sack[0];
        n = 1;
    }
    for blk in tp.selective_acks.iter().take(usize::from(tp.rx_opt.num_sacks)) {
        if n == opts.sack_blocks.len() {
            break;
        }
        opts.sack_blocks[n] = *blk;
        n += 1;
    }
    opts.num_sack_blocks = n as u8;
    opts
}
// ANCHOR_END: tcp_options

/// `tcp_acceptable_seq()`: the sequence number of a segment that carries no
/// data (ACK, RST): `snd_nxt`, unless the peer shrank its window below it.
pub fn tcp_acceptable_seq(tp: &TcpSk) -> u32 {
    if !before(tp.tcp_wnd_end(), tp.snd_nxt) { tp.snd_nxt } else { tp.tcp_wnd_end() }
}

/// Allocate an skb for a segment with `MAX_TCP_HEADER` of headroom and
/// `payload` bytes of room (`tcp_stream_alloc_skb()`).
pub fn tcp_stream_alloc_skb(payload: usize) -> Skb {
    let mut skb = alloc_skb(MAX_TCP_HEADER + payload);
    skb.reserve(MAX_TCP_HEADER);
    skb
}

/// For tests of the scoreboard: a socket in a namespace of its own with
/// `n` 1000-byte segments from `first_seq` on the retransmit queue, sent
/// at `sent_ns`, as if just transmitted (`snd_una`, `snd_nxt`,
/// `packets_out`; MSS 1000, SACK on); `f` gets it locked.
#[cfg(test)]
pub(crate) fn with_sent_segments(
    first_seq: u32,
    n: u32,
    sent_ns: u64,
    f: impl FnOnce(&Net, &TcpNet, &mut TcpSk),
) {
    let net = Net::new("segments", net_core::Clock::new_virtual(), 1);
    let tn = crate::inet_init(&net);
    let sk = TcpSock::new(&net, 131072, 16384);
    let mut tp = sk.lock.lock();
    tp.rx_opt.sack_ok = true;
    tp.mss_cache = 1000;
    for i in 0..n {
        let mut skb = tcp_stream_alloc_skb(1000);
        let cb = TCP_SKB_CB_mut(&mut skb);
        cb.seq = first_seq + i * 1000;
        cb.end_seq = cb.seq + 1000;
        cb.when_ns = sent_ns;
        tp.tcp_rtx_queue.push_back(skb);
    }
    tp.snd_una = first_seq;
    tp.snd_nxt = first_seq + n * 1000;
    tp.packets_out = n;
    f(&net, &tn, &mut tp);
}

/// For tests of the scoreboard: the starting sequence of each segment on
/// the retransmit queue with any of the `sacked` bits `bits`.
#[cfg(test)]
pub(crate) fn rtx_seqs_with(tp: &TcpSk, bits: u8) -> Vec<u32> {
    tp.tcp_rtx_queue.iter().filter(|s| TCP_SKB_CB(s).sacked & bits != 0).map(|s| TCP_SKB_CB(s).seq).collect()
}

/// Write a TCP header in front of `skb`'s data and send it. `skb` is a
/// clone or a one-off segment; its `TCP_SKB_CB` says seq and flags.
///
/// Mirrors `__tcp_transmit_skb()` (net/ipv4/tcp_output.c): options (MSS
/// on a SYN), the header, the window (`tcp_select_window()`, or the raw
/// `rcv_wnd` on a SYN, which is never scaled), the checksum, then
/// `ip_queue_xmit()`. An ACK-carrying segment cancels a pending delayed ACK
/// (`tcp_event_ack_sent()`); one with data updates `lsndtime`
/// (`tcp_event_data_sent()`). `OutSegs` counts segments that are not
/// retransmissions.
// ANCHOR: tcp_transmit_skb
pub fn tcp_transmit_skb(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, skb: Skb) -> Result<(), Errno> {
    __tcp_transmit_skb(net, tn, sk, tp, skb, None)
}

/// [`tcp_transmit_skb`], with a data segment joining `gso`'s burst instead
/// of going down alone when a burst is being gathered.
fn __tcp_transmit_skb(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    mut skb: Skb,
    mut gso: Option<&mut GsoBatch>,
) -> Result<(), Errno> {
    net_core::ftrace_graph!("tcp_transmit_skb");
    let tcb = *TCP_SKB_CB(&skb);
    if let Some(b) = gso.as_deref_mut()
        && b.hdr_len != 0
        && !skb.is_empty()
        && tcb.tcp_flags & (TCPHDR_SYN | TCPHDR_RST | TCPHDR_URG) == 0
        && tcb.tcp_flags & TCPHDR_ACK != 0
    {
        tcp_gso_next_segment(net, tn, sk, tp, skb, &tcb, b);
        return Ok(());
    }
    let syn = tcb.tcp_flags & TCPHDR_SYN != 0;
    let mut opts = if !syn { tcp_established_options(net, tp) } else { tcp_syn_options(net, tn, tp) };
    // A segment sized before SACK blocks appeared (a retransmission, or
    // one queued at full size) would outgrow the path with them: send it
    // with fewer blocks. Linux instead re-fragments it to
    // tcp_current_mss() (tcp_retransmit_skb -> tcp_fragment).
    let room = usize::from(tp.mss_cache) + usize::from(tp.tcp_header_len);
    while opts.num_sack_blocks > 0 && TCPHDR_LEN + tcp_options_size(&opts) + skb.len() > room {
        opts.num_sack_blocks -= 1;
    }
    let opt_len = tcp_options_size(&opts);
    let hlen = TCPHDR_LEN + opt_len;
    // A SYN's window is never scaled (RFC 7323 §2.2).
    let window =
        if syn { tp.rcv_wnd.min(TCP_MAX_WINDOW_UNSCALED) as u16 } else { tcp_select_window(net, tn, tp) };
    if opts.num_sack_blocks > 0 {
        tp.rx_opt.dsack = false; // sent once (tcp_options_write())
    }
    let (saddr, daddr) = (tp.inet_saddr, sk.inet_daddr());
    let is_new = after(tcb.end_seq, tp.snd_nxt) || tcb.seq == tcb.end_seq;
    let has_data = !skb.is_empty();
    {
        let hdr = skb.push(hlen);
        hdr[..TCPHDR_LEN].fill(0);
        hdr[12] = ((hlen / 4) as u8) << 4;
        tcp_options_write(&mut hdr[TCPHDR_LEN..], &opts);
    }
    skb.reset_transport_header();
    // The payload is summed where it lies, shared with the retransmit
    // queue; the header is written in this clone's own header area
    // (Skb::skb_clone_xmit), so the payload is never copied.
    let payload_len = skb.len() - hlen;
    let payload_sum = tcp_payload_sum(&tcb, &skb.data()[hlen..]);
    let mut th = TcpHdr::new_checked(skb.data_mut_head(hlen)).expect("a header we just wrote");
    th.set_source(match sk.inet_num() {
        0 => tp.inet_sport,
        port => port,
    });
    th.set_dest(sk.inet_dport());
    th.set_seq(tcb.seq);
    th.set_ack_seq(if tcb.tcp_flags & TCPHDR_ACK != 0 { tp.rcv_nxt } else { 0 });
    th.set_doff((hlen / 4) as u8);
    th.set_flags(tcb.tcp_flags);
    th.set_window(window);
    th.fill_checksum_split(saddr, daddr, payload_len, payload_sum);
    if tcb.tcp_flags & TCPHDR_ACK != 0 {
        tcp_event_ack_sent(net, sk, tp);
    }
    if has_data {
        tcp_event_data_sent(net, tp);
    }
    if is_new {
        net.mib.inc(TcpMib::OutSegs);
    }
    tp.segs_out = tp.segs_out.wrapping_add(1);
    match gso {
        Some(b) if has_data && !syn => {
            // The burst's later segments take this header: no SACK blocks
            // (so no D-SACK to send once) and nothing but ACK, PSH or FIN.
            if opts.num_sack_blocks == 0
                && tcb.tcp_flags & (TCPHDR_SYN | TCPHDR_RST | TCPHDR_URG) == 0
                && tcb.tcp_flags & TCPHDR_ACK != 0
            {
                b.hdr[..hlen].copy_from_slice(&skb.data()[..hlen]);
                b.hdr_len = hlen as u8;
                // Its sum without the sequence number, the flags and the
                // checksum: each later segment adds its own two fields.
                let mut h = b.hdr;
                h[4..8].fill(0);
                h[13] = 0;
                h[16..18].fill(0);
                b.hdr_sum = csum_partial(&h[..hlen], Wsum::ZERO);
            }
            tcp_gso_queue(net, tn, sk, tp, skb, b);
            Ok(())
        }
        _ => tcp_ip_queue_xmit(net, tn, sk, tp, skb),
    }
}
// ANCHOR_END: tcp_transmit_skb

/// The sum of a segment's payload: the one `tcp_sendmsg()` kept while
/// copying, if it still covers exactly these bytes, else summed now.
fn tcp_payload_sum(tcb: &TcpSkbCb, payload: &[u8]) -> Wsum {
    match tcb.payload_csum(payload.len()) {
        Some(sum) => {
            debug_assert_eq!(
                net_core::checksum::csum_fold(sum),
                net_core::checksum::csum_fold(csum_partial(payload, Wsum::ZERO)),
                "the sum kept from tcp_sendmsg() no longer matches the payload"
            );
            sum
        }
        None => csum_partial(payload, Wsum::ZERO),
    }
}

// ANCHOR: tcp_gso_next_segment
/// A burst's later data segment: the first segment's header with this
/// one's sequence number, flags and checksum.
///
/// Linux builds one TSO skb of up to 64 KiB and `tcp_gso_segment()` copies
/// its header into every segment, setting each one's `seq` and checksum (and
/// PSH and FIN only on the last). Our write queue holds one skb per MSS, so
/// the copy happens here instead: `tcp_select_window()`, the options and
/// the ACK and data events ran once for the burst, as they run once per TSO
/// skb in Linux, and every segment of the burst carries the same ACK,
/// window and timestamp, as a TSO skb's segments do. `OutSegs` still
/// counts each segment (Linux adds `tcp_skb_pcount()`).
fn tcp_gso_next_segment(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    mut skb: Skb,
    tcb: &TcpSkbCb,
    b: &mut GsoBatch,
) {
    let hlen = usize::from(b.hdr_len);
    let payload_len = skb.len();
    let payload_sum = tcp_payload_sum(tcb, skb.data());
    skb.push(hlen).copy_from_slice(&b.hdr[..hlen]);
    skb.reset_transport_header();
    let mut th = TcpHdr::new_checked(skb.data_mut_head(hlen)).expect("a header we just wrote");
    th.set_seq(tcb.seq);
    th.set_flags(tcb.tcp_flags);
    // The header's sum from the template's and the two fields, not read
    // back from the bytes just written (a load that spans several fresh
    // stores waits for them).
    let seq = Wsum(u32::from_ne_bytes(tcb.seq.to_be_bytes()));
    let flags = Wsum(u32::from_ne_bytes([0, tcb.tcp_flags, 0, 0]));
    let hdr = csum_add(csum_add(b.hdr_sum, seq), flags);
    let len = (hlen + payload_len) as u16; // at most one MSS and a header
    th.set_check(tcp_v4_check(len, tp.inet_saddr, sk.inet_daddr(), csum_add(hdr, payload_sum)));
    if after(tcb.end_seq, tp.snd_nxt) {
        net.mib.inc(TcpMib::OutSegs);
    }
    tp.segs_out = tp.segs_out.wrapping_add(1);
    tcp_gso_queue(net, tn, sk, tp, skb, b);
}
// ANCHOR_END: tcp_gso_next_segment

/// Add a finished data segment to the burst, sending the burst first if
/// this one would take it past 64 KiB.
fn tcp_gso_queue(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, skb: Skb, b: &mut GsoBatch) {
    if !b.segs.is_empty() && b.bytes + skb.len() + IPHDR_LEN > net_core::gso::GSO_LEGACY_MAX_SIZE {
        // The full burst goes; a local failure there is its segments'
        // loss, not this one's.
        let _ = tcp_gso_flush(net, tn, sk, tp, b);
    }
    b.bytes += skb.len();
    b.segs.queue_tail(skb);
}

/// Hand a segment (or a GSO packet) with its TCP header to IP along the
/// socket's route: `icsk->icsk_af_ops->queue_xmit`, `ip_queue_xmit()`.
/// The datagram takes the socket's next IP ID (`inet_id`), and a GSO
/// packet one per segment (`ip_select_ident_segs()`).
fn tcp_ip_queue_xmit(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, skb: Skb) -> Result<(), Errno> {
    let (saddr, daddr) = (tp.inet_saddr, sk.inet_daddr());
    let segs = 1 + skb.frag_list().len() as u16;
    let opts = IpSendOpts {
        oif: Some(sk.skc_bound_dev_if.load(std::sync::atomic::Ordering::Relaxed)).filter(|&d| d != 0),
        id: Some(sk.inet_id.load(std::sync::atomic::Ordering::Relaxed)),
        ..IpSendOpts::default()
    };
    sk.inet_id.store(opts.id.unwrap_or(0).wrapping_add(segs), std::sync::atomic::Ordering::Relaxed);
    match __sk_dst_check(net, tn, tp, daddr, opts.oif) {
        Some(rt) => ip_queue_xmit(net, &tn.ipv4, skb, &rt, saddr, daddr, IPPROTO_TCP, opts),
        None => ip_build_and_send_pkt(net, &tn.ipv4, skb, saddr, daddr, IPPROTO_TCP, opts),
    }
}

// ANCHOR: tcp_gso_flush
/// The data segments of one [`tcp_write_xmit`] burst, gathered to go down
/// as one GSO packet (see `net_core::gso`): at most 64 KiB, as Linux's
/// `tcp_tso_autosize()` caps a TSO skb at `gso_max_size`.
struct GsoBatch {
    segs: SkBuffHead,
    bytes: usize,
    /// The header the burst's later segments copy
    /// ([`tcp_gso_next_segment`]); `hdr_len` 0 until a segment left one.
    hdr: [u8; TCPHDR_MAX_LEN],
    hdr_len: u8,
    /// `hdr`'s sum with `seq`, the flags and `check` taken as zero.
    hdr_sum: Wsum,
}

impl Default for GsoBatch {
    fn default() -> Self {
        GsoBatch {
            segs: SkBuffHead::new(),
            bytes: 0,
            hdr: [0; TCPHDR_MAX_LEN],
            hdr_len: 0,
            hdr_sum: Wsum::ZERO,
        }
    }
}

/// Send what `b` gathered: the first segment carries the rest on its frag
/// list through `ip_queue_xmit()`, the neighbour and `dev_queue_xmit()`,
/// which splits them again before the qdisc. A lone segment goes as it is.
fn tcp_gso_flush(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    b: &mut GsoBatch,
) -> Result<(), Errno> {
    let Some(mut head) = b.segs.dequeue() else { return Ok(()) };
    b.bytes = 0;
    head.frag_list_mut().splice_tail_init(&mut b.segs);
    tcp_ip_queue_xmit(net, tn, sk, tp, head)
}
// ANCHOR_END: tcp_gso_flush

/// How long a cached route is trusted without a new lookup, in jiffies:
/// path-MTU exceptions expire on their own clock, which only a lookup
/// notices.
const SK_DST_RECHECK: u64 = 1000;

/// `__sk_dst_check()` + `ip_route_output_ports()`: the socket's cached route
/// to `daddr`, looked up again when the routing generation moved (a route
/// or a path MTU changed) or a second has passed. `None` when there is no
/// route (the caller's own lookup then reports the error and counts it).
pub fn __sk_dst_check(
    net: &Net,
    tn: &TcpNet,
    tp: &mut TcpSk,
    daddr: std::net::Ipv4Addr,
    oif: Option<u32>,
) -> Option<net_ipv4::route::Rtable> {
    let genid = tn.ipv4.fib.rt_genid();
    let now = net.jiffies();
    if let Some((rt, g, until)) = &tp.sk_dst_cache {
        if *g == genid && now < *until {
            return Some(rt.clone());
        }
    }
    let src = (!tp.inet_saddr.is_unspecified()).then_some(tp.inet_saddr);
    let rt = net_ipv4::route::ip_route_output(net, &tn.ipv4, daddr, src, oif).ok()?;
    sk_setup_caps(net, tp, &rt, genid);
    Some(rt)
}

/// Mirrors `sk_setup_caps()` (net/core/sock.c): `rt`, looked up while the
/// routing generation was `genid`, becomes the socket's cached route
/// (`sk_dst_set()`), trusted by [`__sk_dst_check`] until the generation
/// moves or [`SK_DST_RECHECK`] passes; and may bursts go down as one GSO
/// packet?
pub fn sk_setup_caps(net: &Net, tp: &mut TcpSk, rt: &net_ipv4::route::Rtable, genid: u32) {
    tp.sk_gso = rt.rt_type == net_ipv4::fib::RtnType::Unicast
        && net.dev_get_by_index(rt.dev).is_some_and(|d| d.gso_enabled());
    tp.sk_dst_cache = Some((rt.clone(), genid, net.jiffies() + SK_DST_RECHECK));
}

/// `tcp_event_ack_sent()`: an ACK left, so the delayed ACK is moot; quick-ACK
/// credit is spent only if an ACK was due (`tcp_dec_quickack_mode()`:
/// an ACK riding on data nobody waited for costs nothing).
fn tcp_event_ack_sent(net: &Net, sk: &TcpSock, tp: &mut TcpSk) {
    if tp.compressed_ack > 0 {
        // Every SACK held back is now answered by this one.
        net.mib.add(LinuxMib::TCPAckCompressed, u64::from(tp.compressed_ack));
        tp.compressed_ack = 0;
        net.del_timer(sk.timers.compressed_ack);
    }
    if tp.icsk_ack.quick > 0 && tp.icsk_ack.pending & ICSK_ACK_SCHED != 0 {
        tp.icsk_ack.quick -= 1;
        if tp.icsk_ack.quick == 0 {
            tp.icsk_ack.ato = TCP_ATO_MIN;
        }
    }
    if tp.icsk_ack.pending & ICSK_ACK_TIMER != 0 {
        net.del_timer(sk.timers.delack);
    }
    tp.icsk_ack.pending = 0;
}

/// `tcp_event_data_sent()`: remember when data last left; a reply sent
/// within `ato` of the last arrival makes the connection interactive
/// (`inet_csk_inc_pingpong_cnt()`), so ACKs will wait to ride on data.
/// Nothing in flight before this segment: the algorithm hears
/// `CA_EVENT_TX_START` (CUBIC shifts its epoch past the idle time).
fn tcp_event_data_sent(net: &Net, tp: &mut TcpSk) {
    let now = tcp_jiffies32(net);
    if tcp_packets_in_flight(tp) == 0 {
        tp.tcp_mstamp_refresh(net);
        let ops = tp.icsk_ca_ops;
        ops.cwnd_event(tp, crate::tcp_cong::CaEvent::TxStart); // tcp_ca_event()
    }
    tp.lsndtime = now;
    if now.wrapping_sub(tp.icsk_ack.lrcvtime) < tp.icsk_ack.ato {
        tp.icsk_ack.pingpong = tp.icsk_ack.pingpong.saturating_add(1);
    }
}

/// A segment with no payload: ACK, RST, or SYN/FIN built outside the queues.
fn tcp_ctl_skb(seq: u32, end_seq: u32, flags: u8) -> Skb {
    let mut skb = tcp_stream_alloc_skb(0);
    let cb = TCP_SKB_CB_mut(&mut skb);
    cb.seq = seq;
    cb.end_seq = end_seq;
    cb.tcp_flags = flags;
    skb
}

/// `tcp_send_ack()`: a bare ACK of `rcv_nxt` with the current window.
pub fn tcp_send_ack(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    net_core::ftrace_graph!("tcp_send_ack");
    if tp.state == TcpState::Close {
        return;
    }
    let seq = tcp_acceptable_seq(tp);
    let _ = tcp_transmit_skb(net, tn, sk, tp, tcp_ctl_skb(seq, seq, TCPHDR_ACK));
}

/// `tcp_send_delayed_ack()`: arm the delayed-ACK timer for `ato` — above
/// `TCP_DELACK_MIN` bounded by `TCP_DELACK_MAX` when interactive or
/// pushed, HZ/2 otherwise, and by the smoothed RTT (at least
/// `TCP_DELACK_MIN`); always by `icsk_delack_max` (`TCP_DELACK_MAX`) — or
/// send now if a timer already armed is about to fire anyway. An `ato` of
/// 0 (nothing received yet, e.g. a FIN straight after the handshake)
/// fires at the next tick: Linux 6.18 on this machine ACKed such a FIN
/// after 0.6 and 3.4 ms, not 40.
pub fn tcp_send_delayed_ack(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    net_core::ftrace_graph!("tcp_send_delayed_ack");
    let mut ato = tp.icsk_ack.ato;
    if ato > TCP_DELACK_MIN {
        let mut max_ato = (net_core::jiffies::HZ / 2) as u32;
        if tp.icsk_ack.pingpong > 0 || tp.icsk_ack.pending & ICSK_ACK_PUSHED != 0 {
            max_ato = TCP_DELACK_MAX;
        }
        if tp.rtt.srtt_us != 0 {
            let rtt = (tp.rtt.srtt_us >> 3).div_ceil(1000).max(TCP_DELACK_MIN);
            max_ato = max_ato.min(rtt);
        }
        ato = ato.min(max_ato);
    }
    ato = ato.min(TCP_DELACK_MAX);
    let now = net.jiffies();
    let mut timeout = now + u64::from(ato);
    if tp.icsk_ack.pending & ICSK_ACK_TIMER != 0 {
        if tp.icsk_ack.timeout <= now + u64::from(ato >> 2) {
            tcp_send_ack(net, tn, sk, tp);
            return;
        }
        timeout = timeout.min(tp.icsk_ack.timeout);
    }
    tp.icsk_ack.pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER;
    tp.icsk_ack.timeout = timeout;
    net.mod_timer(sk.timers.delack, timeout);
}

/// `tcp_send_active_reset()`: RST|ACK from a socket (`seq` acceptable,
/// `ack` = `rcv_nxt`). Counts `OutRsts`.
pub fn tcp_send_active_reset(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    net.mib.inc(TcpMib::OutRsts);
    let seq = tcp_acceptable_seq(tp);
    let _ = tcp_transmit_skb(net, tn, sk, tp, tcp_ctl_skb(seq, seq, TCPHDR_ACK | TCPHDR_RST));
}

/// Arm the retransmit timer (`inet_csk_reset_xmit_timer()`), `when`
/// jiffies from now, bounded by `TCP_RTO_MAX`.
///
/// Armed already for the same event and the same jiffy (`icsk_pending`
/// and `icsk_timeout` say so: both change only here and when the timer is
/// cleared or fires), it is left alone — `mod_timer()`'s own first test
/// ("pending, same expiry: nothing to do"), taken before the timer base's
/// lock as Linux takes it. The tail loss probe re-arms this timer on every
/// transmission and every ACK, mostly to the jiffy it already holds.
pub fn inet_csk_reset_xmit_timer(net: &Net, sk: &TcpSock, tp: &mut TcpSk, what: u8, when: u32) {
    let when = when.min(tcp_rto_max(tp));
    let expires = net.jiffies() + u64::from(when);
    if tp.icsk_pending == what && tp.icsk_timeout == expires {
        return;
    }
    tp.icsk_pending = what;
    tp.icsk_timeout = expires;
    net.mod_timer(sk.timers.retransmit, expires);
}

/// Disarm the retransmit timer (`inet_csk_clear_xmit_timer(ICSK_TIME_RETRANS)`).
pub fn inet_csk_clear_xmit_timer(net: &Net, sk: &TcpSock, tp: &mut TcpSk) {
    tp.icsk_pending = 0;
    net.del_timer(sk.timers.retransmit);
}

/// `tcp_rto_max()`.
pub fn tcp_rto_max(_tp: &TcpSk) -> u32 {
    TCP_RTO_MAX
}

/// `tcp_rearm_rto()`: no data in flight, no timer; otherwise one RTO from
/// now (`tcp_reset_xmit_timer(…, icsk_rto)`) — or, when the timer was
/// armed as RACK's reordering timer or the loss probe, what is left of
/// the RTO counted from the head's last transmission
/// (`tcp_rto_delta_us()`, at least 1 µs).
pub fn tcp_rearm_rto(net: &Net, sk: &TcpSock, tp: &mut TcpSk) {
    if tp.packets_out == 0 {
        inet_csk_clear_xmit_timer(net, sk, tp);
    } else {
        let mut rto = tp.icsk_rto;
        if tp.icsk_pending == ICSK_TIME_REO_TIMEOUT || tp.icsk_pending == ICSK_TIME_LOSS_PROBE {
            let delta_us = crate::tcp_tlp::tcp_rto_delta_us(tp).max(1) as u64;
            rto = crate::tcp_tlp::usecs_to_jiffies(delta_us);
        }
        inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_RETRANS, rto);
    }
}

/// `tcp_event_new_data_sent()`: the head of the write queue was sent for the
/// first time: it moves to the retransmit queue, `snd_nxt` advances, and the
/// RTO timer starts if nothing else was in flight (or restarts from what is
/// left of it, if it was armed as the loss probe).
///
/// `probe_follows`: the caller arms the loss probe once the burst is out
/// (`tcp_write_xmit()` → [`crate::tcp_tlp::tcp_schedule_loss_probe`],
/// which will succeed), and the probe timer replaces whatever this would
/// arm, so the timer is not written here as well. Linux writes it twice;
/// the timer ends the same, one `mod_timer()` cheaper per send.
fn tcp_event_new_data_sent(net: &Net, sk: &TcpSock, tp: &mut TcpSk, skb: Skb, probe_follows: bool) {
    let prior_packets = tp.packets_out;
    tp.snd_nxt = TCP_SKB_CB(&skb).end_seq;
    tp.tcp_rtx_queue.push_back(skb);
    tp.packets_out += 1;
    let rearm =
        prior_packets == 0 || tp.icsk_pending == ICSK_TIME_PROBE0 || tp.icsk_pending == ICSK_TIME_LOSS_PROBE;
    if rearm && !probe_follows {
        tcp_rearm_rto(net, sk, tp);
    }
    net.mib.inc(LinuxMib::TCPOrigDataSent);
}

/// `tcp_packets_in_flight()`: segments sent and not acknowledged, minus
/// those that have left the network (`tcp_left_out()`: SACKed — or, for
/// Reno, one per duplicate ACK — and deemed lost), plus retransmissions
/// still in flight (RFC 6675's `pipe`).
pub fn tcp_packets_in_flight(tp: &TcpSk) -> u32 {
    (tp.packets_out + tp.retrans_out).saturating_sub(tp.sacked_out + tp.lost_out)
}

// ANCHOR: tcp_nagle_test
/// Mirrors `tcp_minshall_check()` (net/ipv4/tcp_output.c): is the last
/// small segment we sent (`snd_sml`) still unacknowledged? Minshall's
/// refinement of Nagle holds a small segment back only behind another
/// small one, not behind full-sized data.
fn tcp_minshall_check(tp: &TcpSk) -> bool {
    after(tp.snd_sml, tp.snd_una) && !after(tp.snd_sml, tp.snd_nxt)
}

/// Mirrors `tcp_nagle_check()`: hold back a `partial` segment (less than
/// one MSS) when corked (`TCP_NAGLE_CORK`: until the segment is full, the
/// cork is pulled, or the probe timer sends it — [`tcp_write_wakeup`]),
/// or, with Nagle on (`nonagle` 0), while a small segment is in flight.
fn tcp_nagle_check(partial: bool, tp: &TcpSk, nonagle: u8) -> bool {
    partial
        && (nonagle & TCP_NAGLE_CORK != 0 || (nonagle == 0 && tp.packets_out > 0 && tcp_minshall_check(tp)))
}

/// Mirrors `tcp_nagle_test()` (net/ipv4/tcp_output.c): may a segment of
/// `len` bytes go now (RFC 896; RFC 1122 §4.2.3.4)? Always with
/// `TCP_NAGLE_PUSH` (a one-shot push: `TCP_NODELAY` being set, the cork
/// pulled with `TCP_NODELAY` on) and for a FIN; otherwise unless
/// [`tcp_nagle_check`] holds it. `TCP_NODELAY` alone (`TCP_NAGLE_OFF`)
/// does not get past a cork: `nonagle` is then non-zero, so Nagle is off,
/// but the cork bit still holds partial segments. We have no urgent mode,
/// which Linux also lets through.
fn tcp_nagle_test(tp: &TcpSk, len: usize, flags: u8, mss: u16, nonagle: u8) -> bool {
    if nonagle & TCP_NAGLE_PUSH != 0 || flags & TCPHDR_FIN != 0 {
        return true;
    }
    !tcp_nagle_check(len < usize::from(mss), tp, nonagle)
}
// ANCHOR_END: tcp_nagle_test

/// Which queue [`tcp_fragment`] cuts in (`enum tcp_queue`).
enum TcpQueue {
    /// `TCP_FRAG_IN_WRITE_QUEUE`: the head of the write queue, not yet sent.
    WriteQueue,
    /// `TCP_FRAG_IN_RTX_QUEUE`: the sent skb at this index of the
    /// retransmit queue.
    RtxQueue(usize),
}

// ANCHOR: tcp_fragment
/// Cut an skb after `len` payload bytes (`tcp_fragment()`): the tail half,
/// queued right behind it, takes the rest of the payload, the FIN and the
/// PSH; everything else in its control block (send time, SACK state) is
/// the head's. The write queue's head is cut to the MSS before it is sent;
/// a sent skb is cut after a path MTU drop, so that it goes again in
/// pieces of the new size, and then one segment in flight becomes two,
/// and so do the counts its SACK state is in (`tcp_adjust_pcount()`).
fn tcp_fragment(tp: &mut TcpSk, queue: TcpQueue, len: usize) {
    let cut = |skb: &mut Skb| {
        let cb = *TCP_SKB_CB(skb);
        let mut tail = tcp_stream_alloc_skb(skb.len() - len);
        tail.put_data(&skb.data()[len..]);
        skb.trim(len);
        let split = cb.seq.wrapping_add(len as u32);
        let h = TCP_SKB_CB_mut(skb);
        h.end_seq = split;
        h.tcp_flags = cb.tcp_flags & !(TCPHDR_FIN | TCPHDR_PSH);
        let t = TCP_SKB_CB_mut(&mut tail);
        *t = cb;
        t.seq = split;
        tail
    };
    match queue {
        TcpQueue::WriteQueue => {
            let Some(mut skb) = tp.sk_write_queue.dequeue() else { return };
            if skb.len() <= len {
                tp.sk_write_queue.queue_head(skb);
                return;
            }
            let tail = cut(&mut skb);
            tp.sk_wmem_queued += tail.truesize;
            tp.sk_write_queue.queue_head(tail);
            tp.sk_write_queue.queue_head(skb);
        }
        TcpQueue::RtxQueue(idx) => {
            let Some(skb) = tp.tcp_rtx_queue.get_mut(idx) else { return };
            if skb.len() <= len {
                return;
            }
            let tail = cut(skb);
            let sacked = TCP_SKB_CB(&tail).sacked;
            tp.packets_out += 1;
            if sacked & TCPCB_SACKED_RETRANS != 0 {
                tp.retrans_out += 1;
            }
            if sacked & TCPCB_LOST != 0 {
                tp.lost_out += 1;
            }
            if sacked & TCPCB_SACKED_ACKED != 0 {
                tp.sacked_out += 1;
            }
            tp.sk_wmem_queued += tail.truesize;
            tp.tcp_rtx_queue.insert(idx + 1, tail);
        }
    }
}
// ANCHOR_END: tcp_fragment

// ANCHOR: tcp_write_xmit
/// Send what the windows allow from the head of the write queue.
///
/// Mirrors `tcp_write_xmit()`: for each skb, the congestion window test
/// (`tcp_cwnd_test()`: in flight < `snd_cwnd`), the receive window test
/// (`tcp_snd_wnd_test()`: it ends inside `snd_una + snd_wnd`), Nagle for a
/// last partial segment, then `tcp_transmit_skb()` of a clone and
/// `tcp_event_new_data_sent()`. Returns true when data is waiting and
/// nothing is in flight, so the caller arms the zero-window probe
/// (`tcp_check_probe_timer()`).
pub fn tcp_write_xmit(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, nonagle: u8) -> bool {
    __tcp_write_xmit(net, tn, sk, tp, nonagle, 0)
}

/// [`tcp_write_xmit`] with Linux's `push_one`: 0 sends what the windows
/// allow and, if anything went, schedules a tail loss probe
/// ([`crate::tcp_tlp::tcp_schedule_loss_probe`]); 2 is the probe itself —
/// one segment, even past the congestion window, and no new probe.
pub fn __tcp_write_xmit(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    nonagle: u8,
    push_one: u8,
) -> bool {
    net_core::ftrace_graph!("tcp_write_xmit");
    tp.tcp_mstamp_refresh(net);
    // TCP_MTU_REDUCED_DEFERRED (tcp_release_cb()): an ICMP that found the
    // socket locked left its MTU here.
    // Read first: the swap is a locked instruction, and nearly always
    // there is nothing to take.
    if sk.mtu_info.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        let mtu = u32::from(sk.mtu_info.swap(0, std::sync::atomic::Ordering::AcqRel));
        if mtu != 0 {
            crate::tcp_ipv4::tcp_v4_mtu_reduced(net, tn, sk, tp, mtu);
        }
    }
    tcp_mtu_check(net, tn, sk, tp);
    // sk_can_gso(): gather the burst into GSO packets.
    let mut gso = tp.sk_gso.then(GsoBatch::default);
    let prior_packets = tp.packets_out;
    let (r, cwnd_limited) = tcp_write_xmit_loop(net, tn, sk, tp, nonagle, push_one, gso.as_mut());
    if let Some(b) = gso.as_mut() {
        // A local failure is a loss, as for a segment sent alone.
        let _ = tcp_gso_flush(net, tn, sk, tp, b);
    }
    // "is_cwnd_limited |= (tcp_packets_in_flight(tp) >= tcp_snd_cwnd(tp))":
    // a burst that filled the window used it, whatever ended the loop.
    let cwnd_limited = cwnd_limited || tcp_packets_in_flight(tp) >= tp.snd_cwnd;
    if tp.packets_out > prior_packets || cwnd_limited {
        tcp_cwnd_validate(tp, cwnd_limited);
    }
    // "Send one loss probe per tail loss episode."
    if tp.packets_out > prior_packets && push_one != crate::tcp_tlp::TLP_PUSH_ONE {
        crate::tcp_tlp::tcp_schedule_loss_probe(net, tn, sk, tp, false);
    }
    r
}

/// `tcp_cwnd_validate()`: remember, once per window, how many segments
/// were in flight at most and whether the congestion window was the limit,
/// for [`crate::tcp_input::tcp_is_cwnd_limited`]: "the strongest available
/// signal" — once the window was the limit, that holds until the window
/// ends, and only a larger flight otherwise raises `max_packets_out`.
fn tcp_cwnd_validate(tp: &mut TcpSk, is_cwnd_limited: bool) {
    if !before(tp.snd_una, tp.cwnd_usage_seq)
        || is_cwnd_limited
        || (!tp.is_cwnd_limited && tp.packets_out > tp.max_packets_out)
    {
        tp.max_packets_out = tp.packets_out;
        tp.cwnd_usage_seq = tp.snd_nxt;
        tp.is_cwnd_limited = is_cwnd_limited;
    }
}

/// The sending loop of [`__tcp_write_xmit`]: returns whether data is stuck
/// with nothing in flight (Linux's return value) and whether the
/// congestion window was what stopped it.
fn tcp_write_xmit_loop(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    nonagle: u8,
    push_one: u8,
    mut gso: Option<&mut GsoBatch>,
) -> (bool, bool) {
    let mss = tcp_current_mss(net, tp).max(1);
    let mut sent_pkts = 0u32;
    // __tcp_write_xmit() schedules the loss probe after a burst; nothing
    // the loop does changes whether it may.
    let probe_follows =
        push_one != crate::tcp_tlp::TLP_PUSH_ONE && crate::tcp_tlp::tcp_loss_probe_allowed(tn, tp);
    // Linux: "return !tp->packets_out && !tcp_write_queue_empty(sk)" when
    // nothing was sent — data is stuck (a closed window, Nagle, a cork)
    // with nothing in flight whose ACK would move it, so the caller arms
    // the probe timer.
    let stuck =
        |tp: &TcpSk, sent_pkts: u32| sent_pkts == 0 && tp.packets_out == 0 && !tp.sk_write_queue.is_empty();
    loop {
        let Some(head) = tp.sk_write_queue.peek() else { return (stuck(tp, sent_pkts), false) };
        let cb = *TCP_SKB_CB(head);
        let len = head.len();
        if len > usize::from(mss) {
            tcp_fragment(tp, TcpQueue::WriteQueue, usize::from(mss));
            continue;
        }
        // A loss probe is forced out past the congestion window.
        if tcp_packets_in_flight(tp) >= tp.snd_cwnd
            && cb.tcp_flags & TCPHDR_FIN == 0
            && push_one != crate::tcp_tlp::TLP_PUSH_ONE
        {
            return (stuck(tp, sent_pkts), true);
        }
        let data_end = cb.end_seq.wrapping_sub(u32::from(cb.tcp_flags & TCPHDR_FIN != 0));
        if after(data_end, tp.tcp_wnd_end()) && len > 0 {
            return (stuck(tp, sent_pkts), false);
        }
        let last = tp.sk_write_queue.len() == 1;
        if last && !tcp_nagle_test(tp, len, cb.tcp_flags, mss, nonagle | tp.nonagle) {
            return (stuck(tp, sent_pkts), false);
        }
        let mut skb = tp.sk_write_queue.dequeue().expect("peeked");
        TCP_SKB_CB_mut(&mut skb).when_ns = net.now_ns();
        TCP_SKB_CB_mut(&mut skb).tx_delivered = tp.delivered; // tcp_rate_skb_sent()
        let clone = skb.skb_clone_xmit();
        if __tcp_transmit_skb(net, tn, sk, tp, clone, gso.as_deref_mut()).is_err() {
            // Linux leaves it queued and retries from the RTO or the next
            // ACK; a locally failed send is treated as a loss.
        }
        if len < usize::from(mss) {
            tp.snd_sml = cb.end_seq; // tcp_minshall_update()
        }
        tcp_event_new_data_sent(net, sk, tp, skb, probe_follows);
        if crate::tcp_input::fastretrans::tcp_in_cwnd_reduction(tp) {
            tp.prr_out += 1; // RFC 6937's prr_out counts new data too
        }
        sent_pkts += 1;
        if push_one != 0 {
            return (false, false);
        }
    }
}
// ANCHOR_END: tcp_write_xmit

/// `__tcp_push_pending_frames()`: send, and arm the zero-window probe timer
/// if data is stuck with nothing in flight (`tcp_check_probe_timer()`).
pub fn tcp_push_pending_frames(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, nonagle: u8) {
    net_core::ftrace_graph!("tcp_push_pending_frames");
    if tp.sk_write_queue.is_empty() {
        return;
    }
    if tcp_write_xmit(net, tn, sk, tp, nonagle) {
        tcp_check_probe_timer(net, sk, tp);
    }
}

// ANCHOR: tcp_probe0
/// Mirrors `tcp_check_probe_timer()` (include/net/tcp.h): with nothing in
/// flight and no timer pending, arm the probe timer one
/// [`tcp_probe0_base`] from now (no backoff yet). Data held by a closed
/// window, and partial data held by Nagle or `TCP_CORK`, leaves this way
/// when no ACK comes to move it: that is the "200 ms ceiling" of tcp(7)'s
/// `TCP_CORK` — in fact one RTO, at least `TCP_RTO_MIN` (checked on Linux
/// 6.18: with a 1.4 s RTO, corked data left 1.4 s after the write).
pub fn tcp_check_probe_timer(net: &Net, sk: &TcpSock, tp: &mut TcpSk) {
    if tp.packets_out == 0 && tp.icsk_pending == 0 {
        let when = tcp_probe0_base(tp);
        inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_PROBE0, when);
    }
}

/// Mirrors `tcp_probe0_base()`: the RTO, at least `TCP_RTO_MIN`.
pub fn tcp_probe0_base(tp: &TcpSk) -> u32 {
    tp.icsk_rto.max(TCP_RTO_MIN)
}

/// Mirrors `tcp_probe0_when()`: [`tcp_probe0_base`] doubled per
/// `icsk_backoff` (at most `ilog2(TCP_RTO_MAX / TCP_RTO_MIN) + 1` = 10
/// times), capped at `TCP_RTO_MAX`.
pub fn tcp_probe0_when(tp: &TcpSk) -> u32 {
    let max_backoff = (TCP_RTO_MAX / TCP_RTO_MIN).ilog2() as u8 + 1;
    let backoff = tp.icsk_backoff.min(max_backoff);
    (u64::from(tcp_probe0_base(tp)) << backoff).min(u64::from(tcp_rto_max(tp))) as u32
}

/// Mirrors `tcp_clamp_probe0_to_user_timeout()`: never wait past
/// `TCP_USER_TIMEOUT`, counted from the first probe
/// (`icsk_probes_tstamp`); at least `TCP_TIMEOUT_MIN` (2 jiffies).
pub fn tcp_clamp_probe0_to_user_timeout(net: &Net, tp: &TcpSk, when: u32) -> u32 {
    if tp.icsk_user_timeout == 0 || tp.icsk_probes_tstamp == 0 {
        return when;
    }
    let elapsed = u64::from(tcp_jiffies32(net).wrapping_sub(tp.icsk_probes_tstamp));
    let remaining = u64::from(tp.icsk_user_timeout).saturating_sub(elapsed).max(2);
    remaining.min(u64::from(when)) as u32
}

/// Mirrors `tcp_write_wakeup()` (net/ipv4/tcp_output.c): what the probe
/// timer sends. If the window has room for the head of the write queue,
/// send it — or as much as fits, at most one MSS, split off with
/// `tcp_fragment()` — with PSH, whatever Nagle or a cork say; it is new
/// data, so it joins the retransmit queue. If the window is closed, send
/// the classic probe: an ACK one byte below `snd_una`
/// ([`tcp_xmit_probe_skb`], counting `mib`), which the peer must answer
/// with its window (RFC 9293 §3.8.6.1). Returns whether a segment left.
pub fn tcp_write_wakeup(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, mib: LinuxMib) -> bool {
    if tp.state == TcpState::Close {
        return false;
    }
    let wnd_end = tp.tcp_wnd_end();
    let head = tp.sk_write_queue.peek().map(|h| (*TCP_SKB_CB(h), h.len()));
    match head {
        Some((cb, len)) if before(cb.seq, wnd_end) => {
            let mss = usize::from(tcp_current_mss(net, tp).max(1));
            let seg_size = wnd_end.wrapping_sub(cb.seq) as usize;
            if before(tp.pushed_seq, cb.end_seq) {
                tp.pushed_seq = cb.end_seq;
            }
            if seg_size < cb.end_seq.wrapping_sub(cb.seq) as usize || len > mss {
                let cut = seg_size.min(mss).min(len);
                if cut > 0 && cut < len {
                    tcp_fragment(tp, TcpQueue::WriteQueue, cut);
                }
            }
            let mut skb = tp.sk_write_queue.dequeue().expect("peeked");
            TCP_SKB_CB_mut(&mut skb).tcp_flags |= TCPHDR_PSH;
            TCP_SKB_CB_mut(&mut skb).when_ns = net.now_ns();
            TCP_SKB_CB_mut(&mut skb).tx_delivered = tp.delivered;
            let len = skb.len();
            let end_seq = TCP_SKB_CB(&skb).end_seq;
            let _ = tcp_transmit_skb(net, tn, sk, tp, skb.skb_clone_xmit());
            if len < mss {
                tp.snd_sml = end_seq;
            }
            tcp_event_new_data_sent(net, sk, tp, skb, false);
            true
        }
        _ => {
            tcp_xmit_probe_skb(net, tn, sk, tp, mib);
            true
        }
    }
}

/// Mirrors `tcp_send_probe0()` (net/ipv4/tcp_output.c): the probe timer
/// fired with data waiting and nothing in flight. Send what
/// [`tcp_write_wakeup`] can; if that put data in flight (the window had
/// opened) or the queue emptied, the probing is over (`icsk_probes_out`,
/// `icsk_backoff`, `icsk_probes_tstamp` cleared). Otherwise count the
/// probe, back off — `icsk_backoff` grows up to `tcp_retries2` — and
/// re-arm for [`tcp_probe0_when`], clamped to `TCP_USER_TIMEOUT`. Linux
/// retries after `TCP_RESOURCE_PROBE_INTERVAL` instead when the device
/// refused the segment (local congestion); our devices never refuse.
pub fn tcp_send_probe0(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    tcp_write_wakeup(net, tn, sk, tp, LinuxMib::TCPWinProbe);
    if tp.packets_out > 0 || tp.sk_write_queue.is_empty() {
        tp.icsk_probes_out = 0;
        tp.icsk_backoff = 0;
        tp.icsk_probes_tstamp = 0;
        return;
    }
    tp.icsk_probes_out = tp.icsk_probes_out.saturating_add(1);
    let retries2 = tn.sysctl.tcp_retries2.get().clamp(0, 255);
    if i64::from(tp.icsk_backoff) < retries2 {
        tp.icsk_backoff = tp.icsk_backoff.saturating_add(1);
    }
    let when = tcp_probe0_when(tp);
    let when = tcp_clamp_probe0_to_user_timeout(net, tp, when);
    inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_PROBE0, when);
}
// ANCHOR_END: tcp_probe0

/// `tcp_xmit_probe_skb()`: an ACK whose sequence number is one below
/// `snd_una`, already acknowledged, so the peer must answer it with an ACK
/// of its own (RFC 1122 §4.2.3.6) — the zero-window probe and the
/// keepalive probe. Counts `mib`.
pub fn tcp_xmit_probe_skb(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, mib: LinuxMib) {
    let seq = tp.snd_una.wrapping_sub(1);
    let _ = tcp_transmit_skb(net, tn, sk, tp, tcp_ctl_skb(seq, seq, TCPHDR_ACK));
    net.mib.inc(mib);
}

/// `tcp_mark_push()`: set PSH on the last skb of a write, so the receiver
/// delivers without waiting for more (RFC 9293 §3.9.1.2); `pushed_seq`
/// remembers how far we pushed.
pub fn tcp_mark_push(tp: &mut TcpSk) {
    if let Some(mut tail) = tp.sk_write_queue.dequeue_tail() {
        TCP_SKB_CB_mut(&mut tail).tcp_flags |= TCPHDR_PSH;
        tp.pushed_seq = tp.write_seq;
        tp.sk_write_queue.queue_tail(tail);
    }
}

/// Queue `flags` (a SYN or a FIN) as a zero-length sequence-consuming skb
/// on the write queue, or fold a FIN into the unsent tail.
pub fn tcp_queue_ctl(tp: &mut TcpSk, flags: u8) {
    if flags & TCPHDR_FIN != 0 {
        if let Some(mut tail) = tp.sk_write_queue.dequeue_tail() {
            let cb = TCP_SKB_CB_mut(&mut tail);
            cb.tcp_flags |= TCPHDR_FIN;
            cb.end_seq = cb.end_seq.wrapping_add(1);
            tp.write_seq = tp.write_seq.wrapping_add(1);
            tp.sk_write_queue.queue_tail(tail);
            return;
        }
    }
    let seq = tp.write_seq;
    let skb = tcp_ctl_skb(seq, seq.wrapping_add(1), flags);
    tp.sk_wmem_queued += skb.truesize;
    tp.write_seq = tp.write_seq.wrapping_add(1);
    tp.sk_write_queue.queue_tail(skb);
}

/// `tcp_send_fin()`: queue a FIN after any unsent data and push it out
/// (Nagle off for it).
pub fn tcp_send_fin(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    tcp_queue_ctl(tp, TCPHDR_FIN | TCPHDR_ACK);
    tcp_push_pending_frames(net, tn, sk, tp, TCP_NAGLE_OFF);
}

// ANCHOR: tcp_connect
/// Send the SYN of an active open.
///
/// Mirrors `tcp_connect_init()` + `tcp_connect()`: MSS from the route
/// (`advmss` = MTU − 40, clamped by `TCP_MAXSEG`), the initial window
/// (`tcp_select_initial_window()`), `snd_una = snd_nxt = ISN`; the SYN goes
/// on the retransmit queue (so the RTO timer and `tcp_ack()` treat it as
/// data), `ActiveOpens` rises and the timer is armed for `icsk_rto` (1 s).
pub fn tcp_connect(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, pmtu: u32) {
    net_core::ftrace_graph!("tcp_connect");
    // tcp_connect_init()
    tp.tcp_header_len = (TCPHDR_LEN + if tn.sysctl.tcp_timestamps.get() != 0 { 12 } else { 0 }) as u16;
    let mut advmss = tcp_mtu_to_mss(pmtu);
    if tp.rx_opt.user_mss != 0 {
        advmss = advmss.min(tp.rx_opt.user_mss);
    }
    tp.advmss = advmss;
    tp.rx_opt.mss_clamp = if tp.rx_opt.user_mss != 0 { tp.rx_opt.user_mss } else { 65535 };
    tp.max_window = 0;
    tcp_sync_mss(tp, pmtu);
    if tp.sk_userlocks & SOCK_RCVBUF_LOCK != 0 {
        let full = tcp_full_space(tp).max(0) as u32;
        if tp.window_clamp == 0 || tp.window_clamp > full {
            tp.window_clamp = full;
        }
    }
    tp.rcv_nxt = 0;
    let space = tcp_full_space(tp);
    tcp_select_initial_window(tn, tp, space, advmss, tn.sysctl.tcp_window_scaling.get() != 0);
    // TS.Recent is reset by tcp_v4_connect(), before tcp_twsk_unique()
    // may hand it the old incarnation's (tcp_connect_init() keeps it).
    tcp_initialize_rcv_mss(tp);
    tp.snd_una = tp.write_seq;
    tp.snd_sml = tp.write_seq;
    tp.snd_nxt = tp.write_seq;
    tp.pushed_seq = tp.write_seq;
    tp.icsk_rto = TCP_TIMEOUT_INIT;
    tp.icsk_retransmits = 0;
    tp.icsk_backoff = 0;
    tp.total_rto = 0;
    tcp_send_syn(net, tn, sk, tp, TCPHDR_SYN);
    net.mib.inc(TcpMib::ActiveOpens);
}

/// Queue a SYN (`flags` = SYN or SYN|ACK) at `write_seq`, send it, and keep
/// it on the retransmit queue with the RTO timer armed, as data
/// (`tcp_connect_queue_skb()` + `tcp_transmit_skb()`).
fn tcp_send_syn(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, flags: u8) {
    tcp_queue_ctl(tp, flags);
    let mut skb = tp.sk_write_queue.dequeue().expect("just queued");
    TCP_SKB_CB_mut(&mut skb).when_ns = net.now_ns();
    tp.retrans_stamp = tcp_jiffies32(net);
    let _ = tcp_transmit_skb(net, tn, sk, tp, skb.skb_clone_xmit());
    tp.snd_nxt = tp.write_seq;
    tp.pushed_seq = tp.write_seq;
    tp.tcp_rtx_queue.push_back(skb);
    tp.packets_out += 1;
    let rto = tp.icsk_rto;
    inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_RETRANS, rto);
}
// ANCHOR_END: tcp_connect

/// `tcp_initialize_rcv_mss()`: until a segment shows the peer's size, assume
/// the smallest of our MSS, half the window and 536 — never below
/// `TCP_MIN_MSS`.
pub fn tcp_initialize_rcv_mss(tp: &mut TcpSk) {
    let hint = u32::from(tp.advmss.min(tp.mss_cache)).min(tp.rcv_wnd / 2).min(u32::from(TCP_MSS_DEFAULT));
    tp.icsk_ack.rcv_mss = hint.max(u32::from(TCP_MIN_MSS)) as u16;
}

/// Re-send the SYN-ACK of a simultaneous open: the SYN on the retransmit
/// queue, sent with ACK set (`tcp_send_synack()`).
pub fn tcp_send_synack(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    let Some(head) = tp.tcp_rtx_queue.front_mut() else { return };
    let cb = TCP_SKB_CB_mut(head);
    if cb.tcp_flags & TCPHDR_SYN == 0 {
        return;
    }
    cb.tcp_flags |= TCPHDR_ACK;
    cb.when_ns = net.now_ns();
    let clone = head.skb_clone_xmit();
    let _ = tcp_transmit_skb(net, tn, sk, tp, clone);
}

/// Build a segment a request sock sends — the SYN-ACK or an ACK — with
/// `opts`, and hand it to IP (`ip_build_and_send_pkt()`), from the request's
/// four-tuple. Counts `OutSegs`. `dst` is a route the caller already looked
/// up for exactly this (`tcp_v4_send_synack()`'s `dst` argument, from
/// `inet_csk_route_req()` in `tcp_conn_request()`); without one, IP looks
/// the route up itself.
#[allow(clippy::too_many_arguments)]
fn tcp_req_xmit(
    net: &Net,
    tn: &TcpNet,
    req: &RequestSock,
    flags: u8,
    seq: u32,
    window: u16,
    opts: &TcpOutOptions,
    dst: Option<&net_ipv4::route::Rtable>,
) {
    let hlen = TCPHDR_LEN + tcp_options_size(opts);
    let mut skb = tcp_stream_alloc_skb(0);
    {
        let hdr = skb.push(hlen);
        hdr[..TCPHDR_LEN].fill(0);
        hdr[12] = ((hlen / 4) as u8) << 4;
        tcp_options_write(&mut hdr[TCPHDR_LEN..], opts);
    }
    skb.reset_transport_header();
    let (saddr, daddr) = (req.ir_loc_addr(), req.ir_rmt_addr());
    let Some(mut th) = TcpHdr::new_checked(skb.data_mut()) else { return };
    th.set_source(req.ir_num());
    th.set_dest(req.ir_rmt_port());
    th.set_seq(seq);
    th.set_ack_seq(req.rcv_nxt());
    th.set_doff((hlen / 4) as u8);
    th.set_flags(flags);
    th.set_window(window);
    th.fill_checksum(saddr, daddr);
    net.mib.inc(TcpMib::OutSegs);
    let ipopts = IpSendOpts { oif: Some(req.skc_bound_dev_if).filter(|&d| d != 0), ..IpSendOpts::default() };
    let _ = match dst {
        Some(rt) => ip_queue_xmit(net, &tn.ipv4, skb, rt, saddr, daddr, IPPROTO_TCP, ipopts),
        None => ip_build_and_send_pkt(net, &tn.ipv4, skb, saddr, daddr, IPPROTO_TCP, ipopts),
    };
}

// ANCHOR: tcp_make_synack
/// Mirrors `tcp_v4_send_synack()` → `tcp_make_synack()`: the SYN-ACK of a
/// passive open, built from the request sock alone — `seq = snt_isn`,
/// `ack = rcv_isn + 1`, the window `rsk_rcv_wnd` unscaled (RFC 7323 §2.2:
/// a SYN's window is never scaled), the options of
/// [`tcp_synack_options`]. `OutSegs` counts every one, retransmissions
/// too, as `tcp_make_synack()` does. The first one's time is kept for the
/// child's first RTT sample.
pub fn tcp_make_synack(net: &Net, tn: &TcpNet, req: &RequestSock) {
    __tcp_make_synack(net, tn, req, false, None);
}

/// [`tcp_make_synack`] for either `synack_type`: with `cookie`
/// (`TCP_SYNACK_COOKIE`) the TSval is [`crate::syncookies::cookie_init_timestamp`]'s,
/// which carries window scale and SACK for the cookie ACK to recover.
/// `dst`, when given, is the route `tcp_conn_request()` found for the
/// request, used as Linux's `tcp_v4_send_synack()` uses its `dst`
/// argument instead of a second lookup; it must be the route from the
/// request's local address to its peer through the request's bound
/// device (`skc_bound_dev_if`, none if 0).
pub fn __tcp_make_synack(
    net: &Net,
    tn: &TcpNet,
    req: &RequestSock,
    cookie: bool,
    dst: Option<&net_ipv4::route::Rtable>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut opts = tcp_synack_options(net, req);
    if let Some((tsval, tsecr)) = opts.ts {
        let tsval = if cookie {
            crate::syncookies::cookie_init_timestamp(
                tcp_time_stamp_ts(net),
                req.wscale_ok,
                req.snd_wscale,
                req.sack_ok,
            )
            .wrapping_add(req.ts_off)
        } else {
            tsval
        };
        opts.ts = Some((tsval, tsecr));
        if req.snt_synack.load(Relaxed) == 0 {
            req.snt_tsval_first.store(tsval, Relaxed);
        }
        req.snt_tsval_last.store(tsval, Relaxed);
    }
    let window = req.rsk_rcv_wnd.min(TCP_MAX_WINDOW_UNSCALED) as u16;
    let _ = req.snt_synack.compare_exchange(0, net.now_ns().max(1), Relaxed, Relaxed);
    tcp_req_xmit(net, tn, req, TCPHDR_SYN | TCPHDR_ACK, req.snt_isn, window, &opts, dst);
}

/// Mirrors `inet_rtx_syn_ack()` → `tcp_rtx_synack()`: send the SYN-ACK
/// again, counting `RetransSegs` and `TCPSynRetrans`, and `num_retrans`.
pub fn inet_rtx_syn_ack(net: &Net, tn: &TcpNet, _listener: &TcpSock, req: &RequestSock) {
    tcp_make_synack(net, tn, req);
    net.mib.inc(TcpMib::RetransSegs);
    net.mib.inc(LinuxMib::TCPSynRetrans);
    req.num_retrans.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Mirrors `tcp_v4_reqsk_send_ack()`: the ACK a request sock sends for an
/// out-of-window segment — `seq = snt_isn + 1`, `ack = rcv_nxt`, the
/// window scaled by `rcv_wscale` ("RFC 7323 2.3: The window field (SEG.WND)
/// of every outgoing segment, with the exception of <SYN> segments, MUST
/// be right-shifted by Rcv.Wind.Shift bits"), and a timestamp if agreed.
pub fn tcp_v4_reqsk_send_ack(net: &Net, tn: &TcpNet, req: &RequestSock) {
    let opts = TcpOutOptions {
        ts: req.tstamp_ok.then(|| {
            (
                tcp_time_stamp_ts(net).wrapping_add(req.ts_off),
                req.ts_recent.load(std::sync::atomic::Ordering::Relaxed),
            )
        }),
        ..TcpOutOptions::default()
    };
    let window = (req.rsk_rcv_wnd >> req.rcv_wscale).min(65535) as u16;
    tcp_req_xmit(net, tn, req, TCPHDR_ACK, req.snt_isn.wrapping_add(1), window, &opts, None);
}
// ANCHOR_END: tcp_make_synack

// ANCHOR: tcp_retransmit_skb
/// Retransmit the segment at `idx` of the retransmit queue (the head, for
/// every caller but the loss probe).
///
/// Mirrors `tcp_retransmit_skb()`: [`__tcp_retransmit_skb`] sends it, and
/// the skb is marked `TCPCB_SACKED_RETRANS` (a retransmission in flight:
/// `retrans_out` rises) and `retrans_stamp` remembers the first
/// retransmission.
pub fn tcp_retransmit_skb(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    idx: usize,
) -> Result<(), Errno> {
    net_core::ftrace_graph!("tcp_retransmit_skb");
    let now_ns = net.now_ns();
    if tp.tcp_rtx_queue.get(idx).is_none() {
        return Ok(());
    }
    tcp_retransmit_trim(net, tn, sk, tp, idx);
    let c = TCP_SKB_CB_mut(&mut tp.tcp_rtx_queue[idx]);
    let already_in_flight = c.sacked & TCPCB_SACKED_RETRANS != 0;
    c.sacked |= TCPCB_SACKED_RETRANS;
    let syn = c.tcp_flags & TCPHDR_SYN != 0;
    if !already_in_flight {
        tp.retrans_out += 1;
    }
    // One more retransmission that a D-SACK must show spurious before
    // an undo (tcp_init_undo()).
    tp.undo_retrans = tp.undo_retrans.max(0) + 1;
    // A SYN (or our SYN-ACK of a simultaneous open) keeps the stamp
    // `tcp_send_syn()` gave it, as in Linux, where `tcp_connect()` sets
    // `retrans_stamp` to the SYN's own timestamp and this test then never
    // fires for it: `tcp_rcv_synsent_state_process()` accepts a SYN-ACK
    // echoing any TSval sent since that first SYN (PAWSActive). Linux's
    // clock is never 0 by then; ours starts at 0, so a SYN sent in the
    // first millisecond has stamp 0, and restamping it here moved the
    // window past the first SYN's TSval: the peer's retransmitted SYN-ACK,
    // which echoes that TSval, was answered with a RST.
    if tp.retrans_stamp == 0 && !syn {
        // "Save stamp of the first (attempted) retransmit": Linux reads
        // tcp_skb_timestamp_ts(skb) after __tcp_retransmit_skb(), which
        // has restamped the skb with this transmission — so the give-up
        // clock (retransmits_timed_out()) starts at the first
        // retransmission, not at the original send. Checked on 6.18 (a
        // veth pair, SACK on): with tcp_orphan_retries = 2 (1.4 s) an
        // orphan's FIN left at 0, 0.205 (the tail loss probe, which sends
        // through __tcp_retransmit_skb() alone and sets no stamp), 0.413,
        // 0.845 and 1.677 s; counted from the original send, the budget
        // would have ended it at 1.677 s instead of that third
        // retransmission.
        tp.retrans_stamp = ((now_ns / (1_000_000_000 / net_core::jiffies::HZ)) as u32).max(1);
    }
    __tcp_retransmit_skb(net, tn, sk, tp, idx)
}

/// The first half of `__tcp_retransmit_skb()`: a segment partly
/// acknowledged is trimmed (`tcp_trim_head()`), and one sent before the
/// path MTU dropped is cut to what fits now, the rest becoming the next
/// segment (`tcp_fragment()`), so `idx` is then at most one MSS.
pub fn tcp_retransmit_trim(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, idx: usize) {
    let snd_una = tp.snd_una;
    let Some(skb) = tp.tcp_rtx_queue.get_mut(idx) else { return };
    let cb = *TCP_SKB_CB(skb);
    if before(cb.seq, snd_una) && after(cb.end_seq, snd_una) && cb.tcp_flags & TCPHDR_SYN == 0 {
        let trim = snd_una.wrapping_sub(cb.seq) as usize;
        let n = trim.min(skb.len());
        skb.pull(n);
        TCP_SKB_CB_mut(skb).seq = snd_una;
    }
    tcp_mtu_check(net, tn, sk, tp);
    let cur_mss = usize::from(tcp_current_mss(net, tp));
    if tp.tcp_rtx_queue[idx].len() > cur_mss {
        tcp_fragment(tp, TcpQueue::RtxQueue(idx), cur_mss);
    }
}

/// Mirrors `__tcp_retransmit_skb()` (after [`tcp_retransmit_trim`]): a
/// clone of the segment at `idx` is sent; it is restamped (no RTT sample
/// from it: Karn) and marked `TCPCB_EVER_RETRANS`; `RetransSegs` (and
/// `TCPSynRetrans` for a SYN) and `total_retrans` count it. The tail loss
/// probe sends this way, without [`tcp_retransmit_skb`]'s marks.
pub fn __tcp_retransmit_skb(
    net: &Net,
    tn: &TcpNet,
    sk: &TcpSock,
    tp: &mut TcpSk,
    idx: usize,
) -> Result<(), Errno> {
    let now_ns = net.now_ns();
    let Some(skb) = tp.tcp_rtx_queue.get_mut(idx) else { return Ok(()) };
    let c = TCP_SKB_CB_mut(skb);
    c.sacked |= TCPCB_EVER_RETRANS;
    c.when_ns = now_ns;
    c.tx_delivered = tp.delivered;
    let syn = c.tcp_flags & TCPHDR_SYN != 0;
    let clone = skb.skb_clone_xmit();
    net.mib.inc(TcpMib::RetransSegs);
    if syn {
        net.mib.inc(LinuxMib::TCPSynRetrans);
    }
    tp.total_retrans += 1;
    tcp_transmit_skb(net, tn, sk, tp, clone)
}
// ANCHOR_END: tcp_retransmit_skb

// ANCHOR: tcp_xmit_retransmit_queue
/// Retransmit the segments marked lost that the congestion window allows.
///
/// Mirrors `tcp_xmit_retransmit_queue()` (net/ipv4/tcp_output.c), oldest
/// first: stop when the window is full or every lost segment has a
/// retransmission in flight (`retrans_out >= lost_out`); skip what the
/// peer SACKed or what is already retransmitted. Each one counts as
/// TCPFastRetrans (Recovery, Disorder) or TCPSlowStartRetrans (Loss, after
/// an RTO) and, in Recovery, as PRR's `prr_out`. Resending the head
/// restarts the RTO. After an RTO every segment in flight is lost, and
/// each ACK that opens the window lets the next ones go.
pub fn tcp_xmit_retransmit_queue(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) {
    if tp.lost_out == 0 {
        return;
    }
    let mut rearm_timer = false;
    let mut idx = 0;
    while idx < tp.tcp_rtx_queue.len() {
        if tcp_packets_in_flight(tp) >= tp.snd_cwnd || tp.retrans_out >= tp.lost_out {
            break;
        }
        let sacked = TCP_SKB_CB(&tp.tcp_rtx_queue[idx]).sacked;
        if sacked & TCPCB_LOST == 0 || sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS) != 0 {
            idx += 1;
            continue;
        }
        if tcp_retransmit_skb(net, tn, sk, tp, idx).is_err() {
            break;
        }
        net.mib.inc(if tp.icsk_ca_state != TCP_CA_LOSS {
            LinuxMib::TCPFastRetrans
        } else {
            LinuxMib::TCPSlowStartRetrans
        });
        if crate::tcp_input::fastretrans::tcp_in_cwnd_reduction(tp) {
            tp.prr_out += 1;
        }
        if idx == 0 {
            rearm_timer = true;
        }
        idx += 1;
    }
    if rearm_timer {
        let rto = tp.icsk_rto;
        inet_csk_reset_xmit_timer(net, sk, tp, ICSK_TIME_RETRANS, rto);
    }
}
// ANCHOR_END: tcp_xmit_retransmit_queue

/// Mirrors `tcp_xmit_recovery()` (net/ipv4/tcp_input.c), the end of
/// `tcp_ack()`: send what the congestion state machine decided — the
/// segments marked lost ([`tcp_xmit_retransmit_queue`]), or for F-RTO new
/// data first (Nagle off), retransmitting only if none could go (then
/// F-RTO is over). Nothing while the SYN is unanswered.
pub fn tcp_xmit_recovery(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, rexmit: Rexmit) {
    if rexmit == Rexmit::None || tp.state == TcpState::SynSent {
        return;
    }
    if rexmit == Rexmit::New {
        tcp_push_pending_frames(net, tn, sk, tp, TCP_NAGLE_OFF);
        if after(tp.snd_nxt, tp.high_seq) {
            return;
        }
        tp.frto = false;
    }
    tcp_xmit_retransmit_queue(net, tn, sk, tp);
}

/// `tcp_data_snd_check()`: after an ACK, send the new data the window now
/// allows (retransmissions left with `tcp_ack()`'s [`tcp_xmit_recovery`]).
pub fn tcp_data_snd_check(net: &Net, tn: &TcpNet, sk: &Arc<TcpSock>, tp: &mut TcpSk) {
    net_core::ftrace_graph!("tcp_data_snd_check");
    tcp_push_pending_frames(net, tn, sk, tp, 0);
}
