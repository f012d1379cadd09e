//! TCP over IPv4: the protocol handler, the active open, the passive open,
//! resets for segments no socket wants, ICMP errors, and the ISN.
//!
//! Mirrors net/ipv4/tcp_ipv4.c of **Linux 6.18** (`tcp_v4_rcv()`,
//! `tcp_v4_do_rcv()`, `tcp_v4_connect()`, `tcp_v4_conn_request()` /
//! `tcp_conn_request()`, `tcp_v4_syn_recv_sock()`, `tcp_v4_send_reset()`,
//! `tcp_v4_err()`) and net/core/secure_seq.c (`secure_tcp_seq()`,
//! `secure_ipv4_port_ephemeral()`).
//!
//! Heads up: RFC 9293 §3.10.7.1 (segments for a CLOSED port get a RST, and
//! which sequence numbers it carries), RFC 6528 (ISNs), RFC 6056 (port
//! offsets) and RFC 5927 / RFC 1122 §4.2.3.9 (what ICMP errors do to TCP).
//!
//! # Where we differ
//!
//! - A SYN to a listener makes a request sock (TCP_NEW_SYN_RECV,
//!   [`crate::request_sock`]) hashed in ehash; a segment that finds one
//!   goes to `tcp_check_req()` ([`crate::tcp_minisocks`]) with the
//!   listener, and the final ACK builds the full socket there.
//! - No SO_REUSEPORT group selection or request migration, no MD5/AO, no
//!   `tcp_filter()`/XFRM policy.
//! - The socket lock is never held across another socket's lock: the
//!   listener's is taken only briefly to queue a child
//!   ([`crate::request_sock::inet_csk_reqsk_queue_add`]).

use std::net::Ipv4Addr;
use std::sync::Arc;

use net_core::random::SipKey;
use net_core::skbuff::IpSummed;
use net_core::snmp::{LinuxMib, TcpMib};
use net_core::{Errno, Net, NetRx, Skb, SkbDropReason};
use net_ipv4::icmp::{
    ICMP_DEST_UNREACH, ICMP_ERR_CONVERT, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_NET_UNREACH,
    ICMP_PARAMETERPROB, ICMP_TIME_EXCEEDED, NR_ICMP_UNREACH,
};
use net_ipv4::ip::{IPPROTO_TCP, IpHdr};
use net_ipv4::ip_output::{IpSendOpts, ip_build_and_send_pkt};
use net_ipv4::protocol::IcmpErr;

use crate::af_inet::TcpNet;
use crate::inet_hashtables::EhashEntry;
use crate::inet_timewait_sock::{InetTimewaitSock, LOOPBACK_IFINDEX, inet_twsk_deschedule_put};
use crate::sock::*;
use crate::tcp::{tcp_set_state, wake};
use crate::tcp_input::*;
use crate::tcp_minisocks::{CheckReq, TcpTwStatus, tcp_timewait_state_process};
use crate::tcp_output::*;
use crate::tcp_states::TcpState;
use crate::tcphdr::{TCPHDR_ACK, TCPHDR_FIN, TCPHDR_LEN, TCPHDR_RST, TCPHDR_SYN, TcpHdr};

// ANCHOR: secure_tcp_seq
/// `secure_tcp_ts_off()` (net/core/secure_seq.c): the per-connection
/// offset added to our TSval when `tcp_timestamps` = 1, a keyed hash of
/// the two addresses, so TSval tells an observer nothing about uptime and
/// still grows monotonically between the same two hosts (which TIME_WAIT
/// reuse relies on). 0 when `tcp_timestamps` is 0 or 2.
pub fn secure_tcp_ts_off(tn: &TcpNet, saddr: Ipv4Addr, daddr: Ipv4Addr) -> u32 {
    if tn.sysctl.tcp_timestamps.get() != 1 {
        return 0;
    }
    tn.ts_key.hash_3u32(u32::from(saddr), u32::from(daddr), 0) as u32
}

/// `secure_tcp_seq()` (RFC 6528): ISN = F(local, remote, secret) + a clock
/// ticking every 64 ns. The keyed hash makes ISNs unguessable per four-tuple
/// while the clock keeps them increasing for one tuple, so old duplicates
/// of a previous incarnation fall outside the new window.
pub fn secure_tcp_seq(
    key: &SipKey,
    now_ns: u64,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    sport: u16,
    dport: u16,
) -> u32 {
    let h = key.hash_3u32(u32::from(saddr), u32::from(daddr), (u32::from(sport) << 16) | u32::from(dport));
    (h as u32).wrapping_add((now_ns >> 6) as u32)
}
// ANCHOR_END: secure_tcp_seq

fn drop_seg(net: &Net, skb: Skb, reason: SkbDropReason) -> NetRx {
    net.kfree_skb_reason(skb, reason);
    NetRx::Drop
}

// ANCHOR: tcp_v4_rcv
/// Every TCP segment for this host enters here (`inet_protos[IPPROTO_TCP]`).
///
/// Mirrors `tcp_v4_rcv()`: count `InSegs`; check the header length and the
/// checksum (`InErrs`, `InCsumErrors`); find the socket — the one
/// [`tcp_v4_early_demux`] attached (`skb_steal_sock()`), else
/// `__inet_lookup_established()` on the full four-tuple, then
/// `__inet_lookup_listener()` on the local address and port; with none,
/// answer with a RST (`tcp_v4_send_reset()`) unless the segment is one.
/// Otherwise lock the socket and run the state machine
/// (`tcp_v4_do_rcv()`), then do what it asked once the lock is dropped.
pub fn tcp_v4_rcv(net: &Net, tn: &TcpNet, mut skb: Skb) -> NetRx {
    net_core::ftrace_graph!("tcp_v4_rcv");
    net.mib.inc(TcpMib::InSegs);
    let Some(iph) = IpHdr::new_checked(skb.network_header()) else {
        net.mib.inc(TcpMib::InErrs);
        return drop_seg(net, skb, SkbDropReason::HdrTrunc);
    };
    let (saddr, daddr) = (iph.saddr(), iph.daddr());
    skb.reset_transport_header();
    let Some(th) = TcpHdr::new_checked(skb.data()) else {
        // `th->doff < 5` is a bad packet (PKT_TOO_SMALL, InErrs); a header
        // or options running past the segment only fail `pskb_may_pull()`
        // and go to `discard_it` (NOT_SPECIFIED, no InErrs).
        let d = skb.data();
        if d.len() >= TCPHDR_LEN && usize::from(d[12] >> 4) * 4 < TCPHDR_LEN {
            net.mib.inc(TcpMib::InErrs);
            return drop_seg(net, skb, SkbDropReason::PktTooSmall);
        }
        return drop_seg(net, skb, SkbDropReason::NotSpecified);
    };
    if skb.ip_summed != IpSummed::Unnecessary && !th.verify_checksum(saddr, daddr) {
        net.mib.inc(TcpMib::InCsumErrors);
        net.mib.inc(TcpMib::InErrs);
        return drop_seg(net, skb, SkbDropReason::TcpCsum);
    }
    let flags = th.flags();
    // A GRO packet's payload continues on its frag list.
    let len = (th.payload().len() + skb.frag_list_len()) as u32;
    let seq = th.seq();
    let syn = flags & TCPHDR_SYN != 0;
    let seg = TcpSeg {
        saddr,
        daddr,
        sport: th.source(),
        dport: th.dest(),
        seq,
        end_seq: seq
            .wrapping_add(len)
            .wrapping_add(u32::from(syn))
            .wrapping_add(u32::from(flags & TCPHDR_FIN != 0)),
        ack_seq: th.ack_seq(),
        flags,
        window: th.window(),
        len,
        opts: crate::tcphdr::tcp_parse_options(th.options(), syn),
        dif: skb.dev,
        doff: (th.hdrlen() / 4) as u8,
    };
    let hlen = th.hdrlen();
    skb.pull(hlen);
    // lookup: — again (at most three tries) when a request was dropped
    // because its listener is gone, or another path turned it into its
    // child (`req_stolen`), which the next lookup finds.
    let mut tries = 0;
    // skb_steal_sock(): the sock the early demux found spares the first
    // lookup.
    let mut stolen = skb_steal_sock(&mut skb);
    let sk = loop {
        tries += 1;
        let hit = match stolen.take() {
            Some(e) => Some(e),
            None => tn.hashinfo.__inet_lookup_established_any(saddr, seg.sport, daddr, seg.dport, seg.dif),
        };
        let req = match hit {
            Some(EhashEntry::Sk(sk)) => break Some(sk),
            Some(EhashEntry::Tw(tw)) => {
                // do_time_wait:
                match tcp_timewait_state_process(net, tn, &tw, &seg) {
                    TcpTwStatus::Syn { isn } => {
                        let sk2 =
                            tn.hashinfo.__inet_lookup_listener(saddr, seg.sport, daddr, seg.dport, seg.dif);
                        if let Some(sk2) = sk2 {
                            // No TWRecycled here: Linux counts only
                            // connect()'s reuse (checked on 6.18: a SYN
                            // reopening a timewait sock left it at 0).
                            inet_twsk_deschedule_put(net, &tw);
                            TCP_TW_ISN.with(|c| c.set(isn));
                            break Some(sk2);
                        }
                        // to ACK
                        tcp_v4_timewait_ack(net, tn, &tw, &seg);
                    }
                    TcpTwStatus::Ack => tcp_v4_timewait_ack(net, tn, &tw, &seg),
                    TcpTwStatus::Rst => {
                        tcp_v4_send_reset(net, tn, &seg);
                        inet_twsk_deschedule_put(net, &tw);
                    }
                    TcpTwStatus::Success => {}
                }
                return drop_seg(net, skb, SkbDropReason::NotSpecified);
            }
            Some(EhashEntry::Req(req)) => {
                skb.skb_linearize(); // a child may be made from it
                req
            }
            None => break tn.hashinfo.__inet_lookup_listener(saddr, seg.sport, daddr, seg.dport, seg.dif),
        };
        // TCP_NEW_SYN_RECV: the segment is for a request sock.
        let listener = req.rsk_listener.upgrade().filter(|l| l.sk_state() == TcpState::Listen);
        let Some(listener) = listener else {
            // The listener is gone: drop the request, look again.
            crate::request_sock::inet_csk_reqsk_queue_drop(net, tn, &req);
            if tries > 2 {
                break None;
            }
            continue;
        };
        match crate::tcp_minisocks::tcp_check_req(net, tn, &listener, &req, &seg, skb) {
            CheckReq::Consumed => return NetRx::Success,
            CheckReq::Listener(s) => {
                skb = s;
                break Some(listener);
            }
            CheckReq::Stolen(s) => {
                skb = s;
                if tries > 2 {
                    break None;
                }
            }
        }
    };
    let Some(sk) = sk else {
        if flags & TCPHDR_RST == 0 {
            tcp_v4_send_reset(net, tn, &seg);
        }
        return drop_seg(net, skb, SkbDropReason::NoSocket);
    };
    if sk.sk_state() != TcpState::Established {
        // Only an established socket queues a GRO packet's chained
        // payloads as they are (in order); every other state reads it whole.
        skb.skb_linearize();
    }
    if sk.sk_state() == TcpState::Listen {
        // tcp_v4_do_rcv() → tcp_v4_cookie_check(), before the listener's lock.
        match crate::tcp_minisocks::tcp_v4_cookie_check(net, tn, &sk, &seg, skb) {
            Some(s) => skb = s,
            None => return NetRx::Success,
        }
    }
    let action = {
        let mut tp = sk.lock.lock();
        tp.segs_in = tp.segs_in.wrapping_add(1);
        let a = tcp_v4_do_rcv(net, tn, &sk, &mut tp, &seg, skb);
        // Whatever the listener did with a reopening SYN, its ISN is spent.
        TCP_TW_ISN.with(|c| c.set(0));
        if std::mem::take(&mut tp.wake_pending) {
            drop(tp);
            wake(&sk);
        }
        a
    };
    match action {
        RcvAction::Done => {}
        RcvAction::SendReset => tcp_v4_send_reset(net, tn, &seg),
    }
    NetRx::Success
}
// ANCHOR_END: tcp_v4_rcv

// ANCHOR: tcp_v4_early_demux
/// Find the established socket of a received segment before it is routed,
/// and say whether its cached input route is good for it.
///
/// Mirrors `tcp_v4_early_demux()` (net/ipv4/tcp_ipv4.c): only for a
/// packet to this host (`PACKET_HOST`) whose TCP header is all there with
/// `doff >= 5`; `__inet_lookup_established()` on the four-tuple (the
/// established hash only, never a listener); a hit is attached to the skb
/// (`skb->sk`, taken back by `skb_steal_sock()` in [`tcp_v4_rcv`]), and its
/// `sk_rx_dst` becomes the skb's route when `dst_check()` passes and it
/// was cached for the ifindex the packet came in on.
///
/// A timewait or request sock is attached too (it has no route to offer);
/// only a miss leaves [`tcp_v4_rcv`] to look up a listener.
pub fn tcp_v4_early_demux(_net: &Net, tn: &TcpNet, skb: &mut net_core::SkBuff) -> bool {
    net_core::ftrace_graph!("tcp_v4_early_demux");
    if skb.pkt_type != net_core::skbuff::PktType::Host {
        return false;
    }
    // ip_rcv_core() validated the IP header; read the four-tuple straight
    // from it and the TCP header after it (`pskb_may_pull()` of a whole
    // tcphdr, `th->doff >= 5`).
    let d = skb.network_header();
    let ihl = usize::from(d.first().map_or(0, |b| b & 0x0f)) * 4;
    if ihl < 20 || d.len() < ihl + TCPHDR_LEN || d[ihl + 12] >> 4 < 5 {
        return false;
    }
    let saddr = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let daddr = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    let sport = u16::from_be_bytes([d[ihl], d[ihl + 1]]);
    let dport = u16::from_be_bytes([d[ihl + 2], d[ihl + 3]]);
    match tn.hashinfo.__inet_lookup_established_any(saddr, sport, daddr, dport, skb.skb_iif) {
        Some(EhashEntry::Sk(sk)) => {
            // if (sk_fullsock(sk)): only a full socket has an rx dst.
            let valid = sk.sk_rx_dst.check(&tn.ipv4, skb.skb_iif);
            skb.sk = Some(sk);
            valid
        }
        Some(EhashEntry::Req(req)) => {
            skb.sk = Some(req);
            false
        }
        Some(EhashEntry::Tw(tw)) => {
            skb.sk = Some(tw);
            false
        }
        None => false,
    }
}

/// `skb_steal_sock()`: take the sock the early demux attached, as the
/// ehash entry it is. A full socket that closed since is dropped, so the
/// caller looks the four-tuple up again.
fn skb_steal_sock(skb: &mut Skb) -> Option<EhashEntry> {
    let a = skb.sk.take()?;
    let a = match a.downcast::<TcpSock>() {
        Ok(sk) => return (sk.sk_state() != TcpState::Close).then_some(EhashEntry::Sk(sk)),
        Err(a) => a,
    };
    let a = match a.downcast::<crate::request_sock::RequestSock>() {
        Ok(req) => return Some(EhashEntry::Req(req)),
        Err(a) => a,
    };
    a.downcast::<InetTimewaitSock>().ok().map(EhashEntry::Tw)
}
// ANCHOR_END: tcp_v4_early_demux

/// `tcp_v4_do_rcv()`: ESTABLISHED takes `tcp_rcv_established()`, anything
/// else `tcp_rcv_state_process()` (TIME_WAIT is a timewait sock, handled in
/// [`tcp_v4_rcv`]).
pub fn tcp_v4_do_rcv(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    seg: &TcpSeg,
    skb: Skb,
) -> RcvAction {
    net_core::ftrace_graph!("tcp_v4_do_rcv");
    match tp.state {
        TcpState::Established => {
            // The cached input route is dropped when this segment came on
            // another device or the route is obsolete (dst->ops->check).
            sk.sk_rx_dst.validate(&tn.ipv4, skb.skb_iif);
            tcp_rcv_established(net, tn, sk, tp, seg, skb);
            RcvAction::Done
        }
        _ => {
            let pmtu = route_mtu(net, tn, sk, tp);
            tcp_rcv_state_process(net, tn, sk, tp, seg, skb, pmtu)
        }
    }
}

/// The path MTU towards the socket's peer (`dst_mtu(__sk_dst_get(sk))`),
/// from the socket's cached route; a listener has no peer, and 1500 stands
/// in until there is a route.
pub(crate) fn route_mtu(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk) -> u32 {
    if tp.state == TcpState::Listen {
        return 1500;
    }
    let oif = Some(sk.skc_bound_dev_if.load(std::sync::atomic::Ordering::Relaxed)).filter(|&d| d != 0);
    __sk_dst_check(net, tn, tp, sk.inet_daddr(), oif).map_or(1500, |rt| rt.mtu)
}

// ANCHOR: tcp_v4_send_reset
/// Answer a segment that no connection wants with a RST, as RFC 9293
/// §3.10.7.1 says (`tcp_v4_send_reset()`): if it carried an ACK, the RST
/// takes `seq = SEG.ACK` and no ACK; otherwise `seq = 0` with
/// `ACK = SEG.SEQ + SEG.LEN` (SYN and FIN counted). Never in reply to a
/// RST. Counts `OutRsts` and `OutSegs`.
pub fn tcp_v4_send_reset(net: &Net, tn: &TcpNet, seg: &TcpSeg) {
    net_core::ftrace_graph!("tcp_v4_send_reset");
    if seg.flags & TCPHDR_RST != 0 {
        return;
    }
    let mut skb = tcp_stream_alloc_skb(0);
    let hdr = skb.push(TCPHDR_LEN);
    hdr.fill(0);
    hdr[12] = 5 << 4;
    let mut th = TcpHdr::new_checked(skb.data_mut()).expect("20 bytes with doff 5");
    th.set_source(seg.dport);
    th.set_dest(seg.sport);
    if seg.flags & TCPHDR_ACK != 0 {
        th.set_seq(seg.ack_seq);
        th.set_flags(TCPHDR_RST);
    } else {
        th.set_ack_seq(seg.end_seq);
        th.set_flags(TCPHDR_RST | TCPHDR_ACK);
    }
    th.fill_checksum(seg.daddr, seg.saddr);
    skb.reset_transport_header();
    net.mib.inc(TcpMib::OutSegs);
    net.mib.inc(TcpMib::OutRsts);
    let _ =
        ip_build_and_send_pkt(net, &tn.ipv4, skb, seg.daddr, seg.saddr, IPPROTO_TCP, IpSendOpts::default());
}
// ANCHOR_END: tcp_v4_send_reset

// ANCHOR: tcp_v4_timewait_ack
thread_local! {
    /// Linux's per-CPU `tcp_tw_isn`: the ISN a SYN that reopened a
    /// TIME_WAIT four-tuple carries to `tcp_conn_request()` (0: none).
    /// Set by [`tcp_v4_rcv`] just before it hands the SYN to the listener
    /// on this thread, taken by [`tcp_tw_isn_take`].
    static TCP_TW_ISN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Read and clear `tcp_tw_isn` (`__this_cpu_read()` +
/// `__this_cpu_write(tcp_tw_isn, 0)`).
pub fn tcp_tw_isn_take() -> u32 {
    TCP_TW_ISN.with(|c| c.replace(0))
}

/// Mirrors `tcp_v4_send_ack()`: a bare ACK in reply to `seg`, built from
/// the given numbers alone (no socket): `seq`, `ack`, `win` (already
/// scaled), and a timestamp option (NOP, NOP, TS) when `tsecr` is not 0 —
/// Linux's test for "timestamps were agreed". Counts `OutSegs`.
#[allow(clippy::too_many_arguments)]
pub fn tcp_v4_send_ack(
    net: &Net,
    tn: &TcpNet,
    seg: &TcpSeg,
    seq: u32,
    ack: u32,
    win: u32,
    tsval: u32,
    tsecr: u32,
    oif: u32,
) {
    let opts =
        crate::tcphdr::TcpOutOptions { ts: (tsecr != 0).then_some((tsval, tsecr)), ..Default::default() };
    let hlen = TCPHDR_LEN + crate::tcphdr::tcp_options_size(&opts);
    let mut skb = tcp_stream_alloc_skb(0);
    {
        let hdr = skb.push(hlen);
        hdr[..TCPHDR_LEN].fill(0);
        hdr[12] = ((hlen / 4) as u8) << 4;
        crate::tcphdr::tcp_options_write(&mut hdr[TCPHDR_LEN..], &opts);
    }
    skb.reset_transport_header();
    let Some(mut th) = TcpHdr::new_checked(skb.data_mut()) else { return };
    th.set_source(seg.dport);
    th.set_dest(seg.sport);
    th.set_seq(seq);
    th.set_ack_seq(ack);
    th.set_flags(TCPHDR_ACK);
    th.set_window(win.min(65535) as u16);
    th.fill_checksum(seg.daddr, seg.saddr);
    net.mib.inc(TcpMib::OutSegs);
    let ipopts = IpSendOpts { oif: Some(oif).filter(|&d| d != 0), ..IpSendOpts::default() };
    let _ = ip_build_and_send_pkt(net, &tn.ipv4, skb, seg.daddr, seg.saddr, IPPROTO_TCP, ipopts);
}

/// Mirrors `tcp_v4_timewait_ack()`: repeat the last ACK from the timewait
/// sock — `seq = tw_snd_nxt`, `ack = tw_rcv_nxt`, the window `tw_rcv_wnd
/// >> tw_rcv_wscale`, TSval = our clock + `tw_ts_offset`
/// (`tcp_tw_tsval()`), TSecr = `tw_ts_recent`.
pub fn tcp_v4_timewait_ack(net: &Net, tn: &TcpNet, tw: &InetTimewaitSock, seg: &TcpSeg) {
    use std::sync::atomic::Ordering::Relaxed;
    tcp_v4_send_ack(
        net,
        tn,
        seg,
        tw.tw_snd_nxt,
        tw.tw_rcv_nxt.load(Relaxed),
        tw.tw_rcv_wnd >> tw.tw_rcv_wscale,
        tcp_time_stamp_ts(net).wrapping_add(tw.tw_ts_offset),
        tw.tw_ts_recent.load(Relaxed),
        tw.tw_bound_dev_if,
    );
}
// ANCHOR_END: tcp_v4_timewait_ack

// ANCHOR: tcp_twsk_unique
/// Mirrors `tcp_twsk_unique()` (net/ipv4/tcp_ipv4.c): may a `connect()`
/// take over the four-tuple `tw` holds?
///
/// `tcp_tw_reuse` 0 forbids it, 1 allows it, 2 (the default) allows it
/// only for loopback traffic (`tw` bound to `lo`, or either address in
/// 127/8); a FIN_WAIT2 timewait sock is never reused. Reuse is safe only
/// with PAWS, so `tw` must have a TS.Recent (`tw_ts_recent_stamp`), and it
/// must have been in TIME_WAIT longer than `tcp_tw_reuse_delay` ms (1000;
/// Linux 6.13+ — before, more than 1 s by `ts_recent_stamp`). A socket
/// bound before `connect()` (`twp` false) skips the `tcp_tw_reuse` test
/// and needs only the TS.Recent. The caller then starts the new connection
/// at `tw_snd_nxt + 65535 + 2` with `tw`'s TS.Recent.
///
/// Checked on this machine's 6.18 kernel (a netns, `ip_local_port_range`
/// one port, loopback, defaults): a `connect()` 0.3 s after the close
/// failed with `EADDRNOTAVAIL`, one 1.2 s after it took the same port
/// (`TWRecycled` + 1).
pub fn tcp_twsk_unique(net: &Net, tn: &TcpNet, tw: &InetTimewaitSock, twp: bool) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    let mut reuse = tn.sysctl.tcp_tw_reuse.get();
    if tw.substate() == TcpState::FinWait2 {
        reuse = 0;
    }
    if reuse == 2 {
        // Still does not detect *everything* that goes through lo, since
        // we require a loopback src or dst address or direct binding to
        // 'lo' interface.
        let loopback = tw.tw_bound_dev_if == LOOPBACK_IFINDEX
            || tw.tw_daddr().is_loopback()
            || tw.tw_rcv_saddr().is_loopback();
        if !loopback {
            reuse = 0;
        }
    }
    let reuse_thresh = tw.tw_entry_stamp.load(Relaxed) as i64 + tn.sysctl.tcp_tw_reuse_delay.get();
    let now_ms = (net.now_ns() / 1_000_000) as i64;
    tw.has_ts_recent() && (!twp || (reuse != 0 && now_ms > reuse_thresh))
}
// ANCHOR_END: tcp_twsk_unique

// ANCHOR: tcp_v4_connect
/// The kernel half of `connect()` (`tcp_v4_connect()`): route to the peer
/// (`ENETUNREACH`), take the route's source address if the socket has
/// none, enter SYN-SENT, choose an ephemeral port whose four-tuple is free
/// (`inet_hash_connect()`, which also puts the socket in ehash), make the
/// route the socket's (`sk_setup_caps()`), pick the ISN
/// (`secure_tcp_seq()`), and send the SYN ([`tcp_connect`]).
///
/// Linux routes again once the port is chosen (`ip_route_newports()`), for
/// policy rules that match on ports; we have no such rules, so the route
/// found first is the one — unless it was found without a source address
/// and its source could not be asked for by name (a route whose preferred
/// source is not ours): then the socket's first transmit looks it up with
/// that source, as before.
pub fn tcp_v4_connect(
    net: &Net,
    tn: &TcpNet,
    sk: &Arc<TcpSock>,
    tp: &mut TcpSk,
    daddr: Ipv4Addr,
    dport: u16,
) -> Result<(), Errno> {
    if dport == 0 {
        return Err(Errno::EINVAL);
    }
    let bound = sk.inet_rcv_saddr();
    let src = (!bound.is_unspecified()).then_some(bound);
    let oif = Some(sk.skc_bound_dev_if.load(std::sync::atomic::Ordering::Relaxed)).filter(|&d| d != 0);
    let genid = tn.ipv4.fib.rt_genid();
    let rt = net_ipv4::route::ip_route_output(net, &tn.ipv4, daddr, src, oif)?;
    if matches!(rt.rt_type, net_ipv4::fib::RtnType::Broadcast | net_ipv4::fib::RtnType::Multicast) {
        return Err(Errno::ENETUNREACH);
    }
    let saddr = src.unwrap_or(rt.saddr);
    tp.inet_saddr = saddr;
    sk.set_skc_addrs(saddr, sk.inet_num(), daddr, dport);
    tcp_set_state(net, sk, tp, TcpState::SynSent);
    let [low, high] = tn.ipv4.sysctl.ip_local_port_range.get_array::<2>();
    let range = (low.clamp(1, 65535) as u16, high.clamp(1, 65535) as u16);
    // Reset inherited state (Linux does it only when the peer changed;
    // ours never carries TS.Recent between connect()s otherwise).
    tp.rx_opt.ts_recent = 0;
    tp.rx_opt.ts_recent_stamp = 0;
    let offset = tn.hashinfo.inet_sk_port_offset(sk);
    let unique = |tw: &InetTimewaitSock, twp: bool| tcp_twsk_unique(net, tn, tw, twp);
    let tw = match tn.hashinfo.__inet_hash_connect(sk, range, offset, &unique) {
        Ok(tw) => tw,
        Err(e) => {
            tcp_set_state(net, sk, tp, TcpState::Close);
            sk.set_skc_addrs(bound, sk.inet_num(), Ipv4Addr::UNSPECIFIED, 0);
            return Err(e);
        }
    };
    // sk_setup_caps(): the route [`__sk_dst_check`] would find for the
    // socket's source address is the one above when that address was
    // given, is 0.0.0.0, or is one the lookup accepts as a source.
    if src.is_some() || saddr.is_unspecified() || net_ipv4::route::ip_route_output_saddr_ok(&tn.ipv4, saddr) {
        sk_setup_caps(net, tp, &rt, genid);
    }
    tp.write_seq = 0;
    if let Some(tw) = tw {
        // tcp_twsk_unique()'s second half: start above the old
        // incarnation's sequence space and keep its TS.Recent, so PAWS
        // protects the new connection from the old one's duplicates.
        let mut seq = tw.tw_snd_nxt.wrapping_add(65535 + 2);
        if seq == 0 {
            seq = 1;
        }
        tp.write_seq = seq;
        tp.rx_opt.ts_recent = tw.tw_ts_recent.load(std::sync::atomic::Ordering::Relaxed);
        tp.rx_opt.ts_recent_stamp = tw.tw_ts_recent_stamp.load(std::sync::atomic::Ordering::Relaxed);
        net.mib.inc(LinuxMib::TWRecycled);
        inet_twsk_deschedule_put(net, &tw);
    }
    if tp.write_seq == 0 {
        tp.write_seq = secure_tcp_seq(&tn.isn_key, net.now_ns(), saddr, daddr, sk.inet_num(), dport);
    }
    tp.tsoffset = secure_tcp_ts_off(tn, saddr, daddr);
    // `atomic_set(&inet->inet_id, get_random_u16())`: where this
    // connection's IP IDs start.
    sk.inet_id.store(net.random.get_random_u32() as u16, std::sync::atomic::Ordering::Relaxed);
    tcp_connect(net, tn, sk, tp, rt.mtu);
    Ok(())
}
// ANCHOR_END: tcp_v4_connect

// ANCHOR: tcp_v4_conn_request
/// A SYN reached a listener (`tcp_v4_conn_request()`): a SYN to a
/// broadcast or multicast address is dropped (our routes make those
/// unreachable as sources anyway); the rest is [`tcp_conn_request`].
pub fn tcp_v4_conn_request(net: &Net, tn: &TcpNet, listener: &Arc<TcpSock>, lp: &mut TcpSk, seg: &TcpSeg) {
    tcp_conn_request(net, tn, listener, lp, seg);
}
// ANCHOR_END: tcp_v4_conn_request

// ANCHOR: tcp_v4_err
/// An ICMP error quoting one of our segments (`tcp_v4_err()`): find the
/// connection by the quoted header; ignore it unless the quoted sequence
/// number is in flight (`OutOfWindowIcmps`). "Fragmentation needed" lowers
/// the MSS (`tcp_v4_mtu_reduced()`) and retransmits at once. Hard errors
/// (port/protocol unreachable) abort a connection in SYN_SENT or SYN_RECV;
/// for an established one they, like soft errors, are only remembered in
/// `sk_err_soft` and reported if the connection later times out (RFC 1122
/// §4.2.3.9).
pub fn tcp_v4_err(net: &Net, tn: &TcpNet, err: &IcmpErr<'_>) {
    let Some(iph) = IpHdr::new_checked(err.inner) else { return };
    let ihl = iph.hdrlen();
    let Some(l4) = err.inner.get(ihl..ihl + 8) else { return };
    let sport = u16::from_be_bytes([l4[0], l4[1]]);
    let dport = u16::from_be_bytes([l4[2], l4[3]]);
    let seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]);
    // The quoted segment went from us to the peer: look it up reversed.
    let sk = match tn.hashinfo.__inet_lookup_established_any(iph.daddr(), dport, iph.saddr(), sport, 0) {
        Some(EhashEntry::Sk(sk)) => sk,
        // A timewait sock has nothing to learn from an ICMP error.
        Some(EhashEntry::Tw(_)) => return,
        Some(EhashEntry::Req(req)) => {
            let abort = err.type_ == ICMP_PARAMETERPROB
                || err.type_ == ICMP_TIME_EXCEEDED
                || (err.type_ == ICMP_DEST_UNREACH
                    && (err.code == ICMP_NET_UNREACH || err.code == ICMP_HOST_UNREACH));
            tcp_req_err(net, tn, &req, seq, abort);
            return;
        }
        None => return,
    };
    let frag_needed = err.type_ == ICMP_DEST_UNREACH && err.code == ICMP_FRAG_NEEDED;
    // `sock_owned_by_user()`: the error can arrive while this very socket
    // is sending (an ICMP generated on our own output path) or another
    // thread holds it. Linux defers "fragmentation needed" to
    // `tcp_release_cb()` and drops the rest (`LockDroppedIcmps`); a spin
    // lock taken again on the same thread would never return.
    let Some(mut tp) = sk.lock.try_lock() else {
        if frag_needed && err.info >= 68 {
            net_ipv4::route::update_pmtu(net, &tn.ipv4, sk.inet_daddr(), err.info);
            sk.mtu_info.store(err.info.min(65535) as u16, std::sync::atomic::Ordering::Release);
        } else {
            net.mib.inc(LinuxMib::LockDroppedIcmps);
        }
        return;
    };
    if !matches!(tp.state, TcpState::SynSent | TcpState::SynRecv | TcpState::Listen)
        && !between(seq, tp.snd_una, tp.snd_nxt)
    {
        net.mib.inc(LinuxMib::OutOfWindowIcmps);
        return;
    }
    let (errno, fatal) = match err.type_ {
        ICMP_DEST_UNREACH if frag_needed => {
            let mtu = err.info;
            if mtu >= 68 {
                net_ipv4::route::update_pmtu(net, &tn.ipv4, sk.inet_daddr(), mtu);
                tcp_v4_mtu_reduced(net, tn, &sk, &mut tp, mtu);
            }
            return;
        }
        ICMP_DEST_UNREACH if err.code <= NR_ICMP_UNREACH => {
            let c = ICMP_ERR_CONVERT[usize::from(err.code)];
            (c.errno, c.fatal)
        }
        ICMP_TIME_EXCEEDED => (Errno::EHOSTUNREACH, false),
        _ => return,
    };
    if fatal && matches!(tp.state, TcpState::SynSent | TcpState::SynRecv) {
        tp.sk_err = Some(errno);
        crate::tcp_input::tcp_write_queue_purge(&mut tp);
        crate::tcp::tcp_done(net, &sk, &mut tp);
        drop(tp);
        wake(&sk);
    } else {
        tp.sk_err_soft = Some(errno);
    }
}
// ANCHOR_END: tcp_v4_err

/// `tcp_v4_mtu_reduced()`: a smaller path MTU lowers `mss_cache`, and what
/// is in flight at the old size is sent again at once, in pieces of the
/// new one (`tcp_simple_retransmit()`, "the new 'fast' path mtu
/// discovery"). Nothing to do for a listener or a closed socket.
pub fn tcp_v4_mtu_reduced(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, mtu: u32) {
    if matches!(tp.state, TcpState::Listen | TcpState::Close) {
        return;
    }
    let old = tp.mss_cache;
    tcp_sync_mss(tp, mtu);
    if tp.mss_cache < old {
        crate::tcp_input::fastretrans::tcp_simple_retransmit(net, tn, sk, tp);
    }
}

/// Mirrors `tcp_req_err()`: an ICMP error quoting a request sock's
/// SYN-ACK. A quoted sequence other than `snt_isn` counts
/// `OutOfWindowIcmps`; a hard error (`abort`: network or host unreachable,
/// parameter problem, time exceeded) removes the request silently —
/// "There is no good way to pass the error to the newly created socket,
/// and POSIX does not want network errors returned from accept()" — and
/// counts `ListenDrops`.
pub fn tcp_req_err(net: &Net, tn: &TcpNet, req: &crate::request_sock::RequestSock, seq: u32, abort: bool) {
    if seq != req.snt_isn {
        net.mib.inc(LinuxMib::OutOfWindowIcmps);
    } else if abort {
        crate::request_sock::inet_csk_reqsk_queue_drop(net, tn, req);
        net.mib.inc(LinuxMib::ListenDrops);
    }
}
