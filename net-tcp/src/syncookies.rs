//! SYN cookies: answering a SYN without keeping any state for it.
//!
//! Mirrors net/ipv4/syncookies.c of **Linux 6.18** (`cookie_hash()`,
//! `secure_tcp_syn_cookie()`, `check_tcp_syn_cookie()`, `msstab[]`,
//! `__cookie_v4_init_sequence()`, `__cookie_v4_check()`,
//! `cookie_init_timestamp()`, `cookie_timestamp_decode()`,
//! `cookie_ecn_ok()`) and the cookie helpers of include/net/tcp.h
//! (`tcp_cookie_time()`, `MAX_SYNCOOKIE_AGE`, `TCP_SYNCOOKIE_PERIOD`).
//!
//! Heads up! Read RFC 4987 §3.6 ("SYN Cookies") first, then D. J.
//! Bernstein's note on the idea; the second article of the book's sources
//! explains when Linux falls back to cookies (the request queue is full and
//! `tcp_syncookies` = 1, or always with = 2).
//!
//! # Why cookies, and what they cost
//!
//! Under a SYN flood the listener cannot afford a `request_sock` per SYN.
//! With a cookie it keeps **nothing**: everything it needs to build the
//! connection later is packed into the one number the client must echo —
//! our initial sequence number, which comes back as `ack_seq - 1` on the
//! final ACK. The price, which the article stresses:
//!
//! - **No state**: the listener forgets the SYN the moment the SYN-ACK
//!   leaves; a lost SYN-ACK is never retransmitted (the client's SYN
//!   retransmission gets a fresh cookie).
//! - **The MSS shrinks to one of four values**: only two bits are left for
//!   it, an index into `msstab` = {536, 1300, 1440, 1460}; the client's MSS
//!   is rounded *down* to the largest entry not above it
//!   ([`cookie_v4_init_sequence`] returns the MSS actually encoded).
//! - **The other SYN options are lost, unless timestamps carry them**:
//!   window scale, SACK-permitted and ECN have no room in the sequence
//!   number. When the client asked for timestamps, Linux hides them in the
//!   low 6 bits of the TSval of the SYN-ACK ([`cookie_init_timestamp`]);
//!   the client echoes it in TSecr and [`cookie_timestamp_decode`] reads
//!   them back. Without timestamps, the connection runs without window
//!   scaling and without SACK.
//!
//! # The cookie's layout
//!
//! ```text
//!   cookie = H0(saddr, daddr, sport, dport)           key syncookie_secret[0]
//!          + client's ISN
//!          + (count << 24)                            count: minutes, tcp_cookie_time()
//!          + ((H1(saddr, daddr, sport, dport, count) + mssind) & 0xffffff)
//!                                                     key syncookie_secret[1]
//!
//!   after subtracting H0 + ISN:
//!    31            24 23                                  0
//!   | count (8 bits) |  H1(..., count) + mssind  (24 bits) |
//! ```
//!
//! H0 makes the cookie unpredictable per four-tuple; the top byte holds the
//! low 8 bits of the minute counter, so the check can recover *which*
//! minute the cookie was made in (as a difference from now, modulo 256);
//! the low 24 bits are a MAC over the tuple and that minute, plus the MSS
//! index. The check subtracts H0 and the ISN, reads the age, recomputes H1
//! for that minute and subtracts it: what is left must be a valid index
//! (0..=3). A forged cookie passes with probability about
//! 2/256 × 4/2^24.
//!
//! # Where we differ
//!
//! - The secrets come from the namespace's seeded random source
//!   ([`TcpNet::syncookie_secret`]), not `net_get_random_once()`: a lab run
//!   twice with one seed sends the same cookies. Linux's are global to the
//!   host; ours are per namespace.
//! - The hash inputs are host-order words (`u32::from(addr)`); Linux feeds
//!   the raw network-order words. With a random key either is as good; the
//!   cookies differ from Linux's anyway since the keys do.
//! - These functions take the four-tuple, sequence numbers and the time as
//!   plain values (Linux: the `iphdr`, the `tcphdr`, `jiffies`); the caller
//!   (`tcp_conn_request()`, `cookie_v4_check()` on the listen path) owns the
//!   counters (`SyncookiesSent`, `SyncookiesRecv`, `SyncookiesFailed`),
//!   `tcp_synq_overflow()` and the `secure_tcp_ts_off()` subtraction.
//! - No ECN argument in [`cookie_init_timestamp`]: this stack does not
//!   negotiate ECN, so bit 5 is always clear when we encode.

use std::net::Ipv4Addr;

use net_core::jiffies::HZ;

use crate::af_inet::TcpNet;
use crate::tcphdr::TCP_MAX_WSCALE;

// ANCHOR: syncookie_consts
/// `COOKIEBITS`: the low 24 bits of a cookie are the MAC and the MSS
/// index; the 8 above them carry the minute counter.
pub const COOKIEBITS: u32 = 24;
/// `COOKIEMASK`.
pub const COOKIEMASK: u32 = (1 << COOKIEBITS) - 1;
/// `MAX_SYNCOOKIE_AGE` (include/net/tcp.h): a cookie is accepted while the
/// minute counter has advanced by less than this since it was made — at
/// most 2 × 60 s, less if the counter ticked just after it was sent.
pub const MAX_SYNCOOKIE_AGE: u32 = 2;
/// `TCP_SYNCOOKIE_PERIOD`: the counter ticks every 60 seconds.
pub const TCP_SYNCOOKIE_PERIOD: u64 = 60 * HZ;
/// `TCP_SYNCOOKIE_VALID`: the longest life of a cookie, in jiffies.
pub const TCP_SYNCOOKIE_VALID: u64 = MAX_SYNCOOKIE_AGE as u64 * TCP_SYNCOOKIE_PERIOD;

/// `msstab[]`: the four MSS values a cookie can carry, sorted. Linux's
/// comment cites Alcock and Nelson's 2011 measurement: below 536 and
/// between 537 and 1299 are rare, 1300–1349 is 15–20 % of SYNs (tunnels),
/// 1440 covers PPPoE (1452), 1460 (Ethernet) is the most common.
pub const MSSTAB: [u16; 4] = [536, 1300, 1440, 1460];
// ANCHOR_END: syncookie_consts

// ANCHOR: cookie_ts_bits
/// `TS_OPT_WSCALE_MASK`: bits 0–3 of the cookie TSval hold the client's
/// window scale, 0xf meaning "no window scale option in the SYN" (0xf is
/// not a valid shift: the largest is [`TCP_MAX_WSCALE`], 14).
pub const TS_OPT_WSCALE_MASK: u32 = 0xf;
/// `TS_OPT_SACK`: bit 4, the SYN carried SACK-permitted.
pub const TS_OPT_SACK: u32 = 1 << 4;
/// `TS_OPT_ECN`: bit 5, the SYN asked for ECN.
pub const TS_OPT_ECN: u32 = 1 << 5;
/// `TSBITS`: six low bits of the TSval carry options. There is no bit for
/// timestamps themselves: an ACK echoing a TSval proves they were agreed.
pub const TSBITS: u32 = 6;
// ANCHOR_END: cookie_ts_bits

/// Mirrors `tcp_cookie_time()` (include/net/tcp.h): `jiffies_64 /
/// TCP_SYNCOOKIE_PERIOD`, a counter of minutes, truncated to 32 bits.
#[inline]
pub fn tcp_cookie_time(now_jiffies: u64) -> u32 {
    (now_jiffies / TCP_SYNCOOKIE_PERIOD) as u32
}

/// Mirrors `time_between32()` (include/linux/time.h): `l <= t <= h` on a
/// 32-bit clock that wraps.
#[inline]
fn time_between32(t: u32, l: u32, h: u32) -> bool {
    h.wrapping_sub(l) >= t.wrapping_sub(l)
}

// ANCHOR: tcp_synq_overflow
/// Mirrors the rule of `tcp_synq_overflow()` (include/net/tcp.h): the
/// listener (or its SO_REUSEPORT group) remembers when its request queue
/// last overflowed and a cookie was sent, in 32-bit jiffies, rewriting
/// the stamp at most once a second ("do not dirty this field too often").
/// Returns the stamp to store.
pub fn tcp_synq_overflow_stamp(last_overflow: u32, now: u32) -> u32 {
    if net_core::jiffies::time_after32(now, last_overflow.wrapping_add(HZ as u32)) {
        now
    } else {
        last_overflow
    }
}

/// Mirrors the test of `tcp_synq_no_recent_overflow()`: true when no
/// cookie can be outstanding — `now` is outside [`last_overflow` − 1 s,
/// `last_overflow` + [`TCP_SYNCOOKIE_VALID`]]. `cookie_v4_check()` then
/// does not even look at the ACK as a cookie, so an ACK to a listener
/// that never sent cookies is not validated (nor counted as failed).
pub fn tcp_synq_no_recent_overflow_stamp(last_overflow: u32, now: u32) -> bool {
    !time_between32(
        now,
        last_overflow.wrapping_sub(HZ as u32),
        last_overflow.wrapping_add(TCP_SYNCOOKIE_VALID as u32),
    )
}
// ANCHOR_END: tcp_synq_overflow

/// Mirrors `cookie_hash()`: `siphash_4u32(saddr, daddr, sport << 16 |
/// dport, count)` under `syncookie_secret[c]`, truncated to 32 bits.
#[inline]
fn cookie_hash(
    tn: &TcpNet,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    sport: u16,
    dport: u16,
    count: u32,
    c: usize,
) -> u32 {
    tn.syncookie_secret[c].hash_4u32(
        u32::from(saddr),
        u32::from(daddr),
        (u32::from(sport) << 16) | u32::from(dport),
        count,
    ) as u32
}

// ANCHOR: secure_tcp_syn_cookie
/// Mirrors `secure_tcp_syn_cookie()`: the cookie for a SYN from
/// `saddr:sport` to `daddr:dport` whose sequence number is `sseq`,
/// carrying `data` (the MSS index) — the layout in the module comment.
#[allow(clippy::too_many_arguments)] // the four-tuple, as Linux passes it
fn secure_tcp_syn_cookie(
    tn: &TcpNet,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    sport: u16,
    dport: u16,
    sseq: u32,
    data: u32,
    count: u32,
) -> u32 {
    cookie_hash(tn, saddr, daddr, sport, dport, 0, 0)
        .wrapping_add(sseq)
        .wrapping_add(count << COOKIEBITS)
        .wrapping_add(cookie_hash(tn, saddr, daddr, sport, dport, count, 1).wrapping_add(data) & COOKIEMASK)
}

/// Mirrors `check_tcp_syn_cookie()`: peel the layers off `cookie` and
/// return the data it carries, or `u32::MAX` when the minute counter in it
/// is [`MAX_SYNCOOKIE_AGE`] or more behind `count`. A forged or damaged
/// cookie yields "data" out of range, which the caller must check.
#[allow(clippy::too_many_arguments)] // the four-tuple, as Linux passes it
fn check_tcp_syn_cookie(
    tn: &TcpNet,
    cookie: u32,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    sport: u16,
    dport: u16,
    sseq: u32,
    count: u32,
) -> u32 {
    // Strip away the layers from the cookie.
    let cookie = cookie.wrapping_sub(cookie_hash(tn, saddr, daddr, sport, dport, 0, 0).wrapping_add(sseq));
    // What is left: (count << 24) + (H1 + data) mod 2^24. Only the low 8
    // bits of the counter survive, so the age is taken modulo 256.
    let diff = count.wrapping_sub(cookie >> COOKIEBITS) & (u32::MAX >> COOKIEBITS);
    if diff >= MAX_SYNCOOKIE_AGE {
        return u32::MAX;
    }
    cookie.wrapping_sub(cookie_hash(tn, saddr, daddr, sport, dport, count.wrapping_sub(diff), 1)) & COOKIEMASK
}
// ANCHOR_END: secure_tcp_syn_cookie

// ANCHOR: cookie_v4_init_sequence
/// Mirrors `__cookie_v4_init_sequence()`: our ISN for a SYN answered with
/// a cookie. `saddr:sport` is the client (the SYN's source), `daddr:dport`
/// us, `isn` the SYN's sequence number, `mss` the MSS we would use (the
/// client's, clamped by the caller as `tcp_conn_request()` does). Returns
/// the cookie and the MSS it encodes: the largest `msstab` entry not above
/// `mss`, or 536 (`msstab[0]`) when `mss` is smaller still — Linux's loop
/// stops at index 0 without comparing.
#[allow(clippy::too_many_arguments)] // the four-tuple, as Linux passes it
pub fn cookie_v4_init_sequence(
    tn: &TcpNet,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    sport: u16,
    dport: u16,
    isn: u32,
    mss: u16,
    now_jiffies: u64,
) -> (u32, u16) {
    let mssind = (1..MSSTAB.len()).rev().find(|&i| mss >= MSSTAB[i]).unwrap_or(0);
    let count = tcp_cookie_time(now_jiffies);
    let cookie = secure_tcp_syn_cookie(tn, saddr, daddr, sport, dport, isn, mssind as u32, count);
    (cookie, MSSTAB[mssind])
}

/// Mirrors `__cookie_v4_check()`: is the ACK from `saddr:sport` to
/// `daddr:dport` with sequence number `seq` and acknowledgment `ack_seq`
/// the answer to a SYN-ACK that carried a cookie? The cookie is
/// `ack_seq - 1`, the client's ISN `seq - 1` (the ACK follows the SYN).
/// Returns the MSS the cookie encodes; `None` when it is older than
/// [`MAX_SYNCOOKIE_AGE`] minutes of the counter, made with another secret
/// or for another four-tuple or ISN (Linux returns 0, and its caller counts
/// `SyncookiesFailed`).
///
/// An ISN off by a few (1 to 3) is not always caught: the ISN is only
/// added to the cookie, so it shifts the MSS index, and a smaller index is
/// still in range. Linux has the same property; the ACK's `seq` is checked
/// again by the full socket built from the cookie.
#[allow(clippy::too_many_arguments)] // the four-tuple, as Linux passes it
pub fn cookie_v4_check(
    tn: &TcpNet,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack_seq: u32,
    now_jiffies: u64,
) -> Option<u16> {
    let cookie = ack_seq.wrapping_sub(1);
    let sseq = seq.wrapping_sub(1);
    let count = tcp_cookie_time(now_jiffies);
    let mssind = check_tcp_syn_cookie(tn, cookie, saddr, daddr, sport, dport, sseq, count);
    MSSTAB.get(mssind as usize).copied()
}
// ANCHOR_END: cookie_v4_init_sequence

// ANCHOR: cookie_init_timestamp
/// Mirrors `cookie_init_timestamp()`: the TSval of a cookie SYN-ACK, whose
/// low [`TSBITS`] carry the options of the SYN (window scale or 0xf for
/// none, [`TS_OPT_SACK`]; [`TS_OPT_ECN`] never, here). `now_ts` is the
/// current millisecond timestamp (`tcp_ns_to_ts()` of now, before any
/// `ts_off` is added). The value is `now_ts` with its low six bits
/// replaced; if that would be ahead of `now_ts`, it steps back 64 ms, so
/// the TSvals sent later from the ordinary clock never go backwards. A
/// `snd_wscale` above 14 is clamped, as `tcp_parse_options()` does.
pub fn cookie_init_timestamp(now_ts: u32, wscale_ok: bool, snd_wscale: u8, sack_ok: bool) -> u32 {
    let mut options = if wscale_ok { u32::from(snd_wscale.min(TCP_MAX_WSCALE)) } else { TS_OPT_WSCALE_MASK };
    if sack_ok {
        options |= TS_OPT_SACK;
    }
    let mut ts = ((now_ts >> TSBITS) << TSBITS) | options;
    if ts > now_ts {
        ts = ts.wrapping_sub(1 << TSBITS);
    }
    ts
}

/// The options a cookie TSval carries, read back from the ACK's TSecr
/// (after the caller subtracted `secure_tcp_ts_off()`): `(wscale_ok,
/// snd_wscale, sack_ok)`, the bit layout of `cookie_timestamp_decode()`.
///
/// Every pattern decodes: the 4-bit field holds a shift of 0..=14 or 0xf
/// for "none", and 14 is [`TCP_MAX_WSCALE`], so no value is out of range.
/// The refusals Linux makes depend on the namespace's sysctls; they are in
/// [`cookie_timestamp_decode_sysctl`]. This returns `None` only through
/// it, never with every option enabled as here.
pub fn cookie_timestamp_decode(tsecr: u32) -> Option<(bool, u8, bool)> {
    cookie_timestamp_decode_sysctl(tsecr, true, true, true)
}

/// Mirrors `cookie_timestamp_decode()` for an ACK that carried a
/// timestamp option (without one, Linux clears the options and accepts):
/// refuses (`None`) a cookie whose TSecr claims an option this host has
/// switched off since — any timestamp with `tcp_timestamps` = 0, SACK with
/// `tcp_sack` = 0, a window scale with `tcp_window_scaling` = 0 — since
/// the SYN-ACK cannot have offered it. Linux's caller then drops the ACK
/// (`cookie_v4_check()` returns the listener, and the segment goes on to
/// the ordinary LISTEN handling).
pub fn cookie_timestamp_decode_sysctl(
    tsecr: u32,
    tcp_timestamps: bool,
    tcp_sack: bool,
    tcp_window_scaling: bool,
) -> Option<(bool, u8, bool)> {
    if !tcp_timestamps {
        return None;
    }
    let sack_ok = tsecr & TS_OPT_SACK != 0;
    if sack_ok && !tcp_sack {
        return None;
    }
    let ws = tsecr & TS_OPT_WSCALE_MASK;
    if ws == TS_OPT_WSCALE_MASK {
        return Some((false, 0, sack_ok)); // no window scaling
    }
    if !tcp_window_scaling {
        return None;
    }
    Some((true, ws as u8, sack_ok))
}

/// Mirrors `cookie_ecn_ok()`: the echoed TSval says the SYN asked for ECN,
/// and `tcp_ecn` allows it (Linux also accepts a route with the ECN
/// feature).
pub fn cookie_ecn_ok(tsecr: u32, tcp_ecn: bool) -> bool {
    tsecr & TS_OPT_ECN != 0 && tcp_ecn
}
// ANCHOR_END: cookie_init_timestamp

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::{Clock, Net};
    use proptest::prelude::*;
    use std::sync::Arc;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 7);
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const MINUTE: u64 = TCP_SYNCOOKIE_PERIOD;

    fn tcp_net(seed: u64) -> Arc<TcpNet> {
        let net = Net::new("cookie", Clock::new_virtual(), seed);
        crate::af_inet::inet_init(&net)
    }

    /// SplitMix64, for the loops over random tuples.
    fn next(x: &mut u64) -> u64 {
        *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Make a cookie for the SYN and check the ACK that answers it.
    #[track_caller]
    fn round_trip(tn: &TcpNet, isn: u32, mss: u16, made: u64, checked: u64) -> (u16, Option<u16>) {
        let (cookie, enc) = cookie_v4_init_sequence(tn, CLIENT, SERVER, 40000, 80, isn, mss, made);
        let got = cookie_v4_check(
            tn,
            CLIENT,
            SERVER,
            40000,
            80,
            isn.wrapping_add(1),
            cookie.wrapping_add(1),
            checked,
        );
        (enc, got)
    }

    #[test]
    fn each_msstab_entry_round_trips() {
        let tn = tcp_net(1);
        for (i, &mss) in MSSTAB.iter().enumerate() {
            let (enc, got) = round_trip(&tn, 0x1234_5678 + i as u32, mss, 5 * MINUTE + 17, 5 * MINUTE + 17);
            assert_eq!(enc, mss);
            assert_eq!(got, Some(mss));
        }
    }

    #[test]
    fn every_mss_rounds_down_to_its_table_entry() {
        let tn = tcp_net(2);
        for mss in 0..=u16::MAX {
            let want = match mss {
                1460.. => 1460,
                1440..=1459 => 1440,
                1300..=1439 => 1300,
                _ => 536,
            };
            let (cookie, enc) = cookie_v4_init_sequence(&tn, CLIENT, SERVER, 1, 2, 77, mss, 0);
            assert_eq!(enc, want, "mss {mss}");
            if mss % 97 == 0 {
                assert_eq!(
                    cookie_v4_check(&tn, CLIENT, SERVER, 1, 2, 78, cookie.wrapping_add(1), 0),
                    Some(want)
                );
            }
        }
    }

    #[test]
    fn wrong_secret_tuple_or_isn_is_refused() {
        let (tn, other) = (tcp_net(3), tcp_net(4));
        let now = 42 * MINUTE;
        let isn = 0xdead_beef;
        let (cookie, _) = cookie_v4_init_sequence(&tn, CLIENT, SERVER, 40000, 80, isn, 1460, now);
        let (seq, ack) = (isn.wrapping_add(1), cookie.wrapping_add(1));
        assert_eq!(cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, seq, ack, now), Some(1460));
        // Another namespace's secret.
        assert_eq!(cookie_v4_check(&other, CLIENT, SERVER, 40000, 80, seq, ack, now), None);
        // Any field of the four-tuple different.
        let other_ip = Ipv4Addr::new(192, 168, 1, 8);
        assert_eq!(cookie_v4_check(&tn, other_ip, SERVER, 40000, 80, seq, ack, now), None);
        assert_eq!(cookie_v4_check(&tn, CLIENT, other_ip, 40000, 80, seq, ack, now), None);
        assert_eq!(cookie_v4_check(&tn, CLIENT, SERVER, 40001, 80, seq, ack, now), None);
        assert_eq!(cookie_v4_check(&tn, CLIENT, SERVER, 40000, 81, seq, ack, now), None);
        // Another ISN, far enough to move the data out of range.
        for delta in [4u32, 0x1000, 0x12_3456, 0x8000_0000, 0xffff_fffb] {
            assert_eq!(
                cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, seq.wrapping_add(delta), ack, now),
                None
            );
        }
        // A cookie off by a little (a guess near it) fails too.
        for delta in [1u32, 2, 3, 1 << 24, u32::MAX] {
            let got = cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, seq, ack.wrapping_add(delta), now);
            assert_ne!(got, Some(1460), "ack + {delta}");
        }
    }

    #[test]
    fn isn_off_by_little_shifts_the_mss_index_as_in_linux() {
        // The ISN is only added in: one more in seq is one less in the
        // index, still in range for index 3. A property of the cookie
        // itself, not of our port.
        let tn = tcp_net(5);
        let (cookie, _) = cookie_v4_init_sequence(&tn, CLIENT, SERVER, 40000, 80, 1000, 1460, 0);
        let ack = cookie.wrapping_add(1);
        assert_eq!(cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, 1002, ack, 0), Some(1440));
        assert_eq!(cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, 1004, ack, 0), Some(536));
        assert_eq!(cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, 1005, ack, 0), None);
        // And one less is one more: index 3 + 1 is out of range.
        assert_eq!(cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, 1000, ack, 0), None);
    }

    #[test]
    fn age_is_counted_in_counter_ticks() {
        let tn = tcp_net(6);
        let base = 1000 * MINUTE;
        // Made at the start of a minute: valid through the end of the next
        // one (diff 0 and 1), refused from the tick after (diff 2 =
        // MAX_SYNCOOKIE_AGE): TCP_SYNCOOKIE_VALID at most.
        for (age, ok) in
            [(0, true), (MINUTE - 1, true), (MINUTE, true), (2 * MINUTE - 1, true), (2 * MINUTE, false)]
        {
            let (enc, got) = round_trip(&tn, 9, 1300, base, base + age);
            assert_eq!(got.is_some(), ok, "age {age} jiffies");
            assert_eq!(got.unwrap_or(enc), enc);
        }
        assert_eq!(2 * MINUTE, TCP_SYNCOOKIE_VALID);
        // Made in the last jiffy of a minute: one tick later it is one
        // counter old, so it lives only a little over one minute.
        let late = base + MINUTE - 1;
        assert_eq!(round_trip(&tn, 9, 1300, late, late + MINUTE).1, Some(1300));
        assert_eq!(round_trip(&tn, 9, 1300, late, late + MINUTE + 1).1, None);
        // Whole minutes: 0 and 1 accepted, 2, 3 and more refused.
        for minutes in 0..300u64 {
            let got = round_trip(&tn, 9, 1460, base, base + minutes * MINUTE).1;
            assert_eq!(got.is_some(), minutes < u64::from(MAX_SYNCOOKIE_AGE), "{minutes} min");
        }
        // A cookie from the future (clock stepped back) is refused too.
        assert_eq!(round_trip(&tn, 9, 1460, base, base - MINUTE).1, None);
    }

    #[test]
    fn counter_wraps_in_the_cookie_and_in_u32() {
        let tn = tcp_net(7);
        // The cookie keeps 8 bits of the counter: 255 → 256 is one tick.
        let m255 = 255 * MINUTE;
        assert_eq!(round_trip(&tn, 1, 536, m255, m255 + MINUTE).1, Some(536));
        assert_eq!(round_trip(&tn, 1, 536, m255, m255 + 2 * MINUTE).1, None);
        // 256 minutes later the age reads 0 again, but the MAC was made
        // for another counter: refused.
        assert_eq!(round_trip(&tn, 1, 536, m255, m255 + 256 * MINUTE).1, None);
        // The 32-bit counter itself wraps (jiffies / 60000 past u32::MAX).
        let top = u64::from(u32::MAX) * MINUTE;
        assert_eq!(tcp_cookie_time(top), u32::MAX);
        assert_eq!(tcp_cookie_time(top + MINUTE), 0);
        assert_eq!(round_trip(&tn, 1, 1440, top, top + MINUTE).1, Some(1440));
        assert_eq!(round_trip(&tn, 1, 1440, top, top + 2 * MINUTE).1, None);
        // And jiffies at the very end of u64.
        assert_eq!(round_trip(&tn, 1, 1440, u64::MAX, u64::MAX).1, Some(1440));
    }

    #[test]
    fn many_random_tuples_round_trip_and_cross_checks_fail() {
        let tn = tcp_net(8);
        let mut x = 0x5eed_u64;
        let mut prev = None;
        for _ in 0..20_000 {
            let (a, b) = (next(&mut x), next(&mut x));
            let (saddr, daddr) = (Ipv4Addr::from(a as u32), Ipv4Addr::from((a >> 32) as u32));
            let (sport, dport, isn) = (b as u16, (b >> 16) as u16, (b >> 32) as u32);
            let mss = (next(&mut x) % 9000) as u16;
            let now = next(&mut x) >> 8;
            let age = next(&mut x) % (2 * MINUTE);
            let (cookie, enc) = cookie_v4_init_sequence(&tn, saddr, daddr, sport, dport, isn, mss, now);
            assert!(enc <= mss.max(536) && MSSTAB.contains(&enc));
            let ack = cookie.wrapping_add(1);
            let seq = isn.wrapping_add(1);
            let ok_now = now.saturating_add(age);
            // Still valid only if the counter advanced by less than 2.
            let want = (tcp_cookie_time(ok_now).wrapping_sub(tcp_cookie_time(now)) < MAX_SYNCOOKIE_AGE)
                .then_some(enc);
            assert_eq!(cookie_v4_check(&tn, saddr, daddr, sport, dport, seq, ack, ok_now), want);
            assert_eq!(cookie_v4_check(&tn, saddr, daddr, sport, dport, seq, ack, now), Some(enc));
            // The previous tuple's cookie does not open this tuple.
            if let Some((pcookie, pseq)) = prev {
                let got = cookie_v4_check(&tn, saddr, daddr, sport, dport, pseq, pcookie, now);
                assert_eq!(got, None);
            }
            prev = Some((ack, seq));
        }
    }

    #[test]
    fn forged_cookies_almost_never_pass() {
        // An attacker guessing acks for one tuple: the expected pass rate
        // is 2/256 × 4/2^24, so none of 200,000 guesses should.
        let tn = tcp_net(9);
        let mut x = 99;
        let passed = (0..200_000)
            .filter(|_| cookie_v4_check(&tn, CLIENT, SERVER, 40000, 80, 1, next(&mut x) as u32, 0).is_some())
            .count();
        assert_eq!(passed, 0);
    }

    #[test]
    fn timestamp_round_trips_every_wscale_and_sack() {
        let now_ts = 0x1234_5678;
        for sack in [false, true] {
            for ws in 0..=TCP_MAX_WSCALE {
                let ts = cookie_init_timestamp(now_ts, true, ws, sack);
                assert!(ts <= now_ts && now_ts - ts < 64, "never ahead, at most 63 ms behind");
                assert_eq!(ts & TS_OPT_WSCALE_MASK, u32::from(ws));
                assert_eq!(cookie_timestamp_decode(ts), Some((true, ws, sack)));
                assert!(!cookie_ecn_ok(ts, true));
            }
            let ts = cookie_init_timestamp(now_ts, false, 7, sack);
            assert_eq!(ts & TS_OPT_WSCALE_MASK, 0xf);
            assert_eq!(cookie_timestamp_decode(ts), Some((false, 0, sack)));
        }
        // A shift above 14 is clamped, never turned into "none" (0xf).
        assert_eq!(
            cookie_timestamp_decode(cookie_init_timestamp(now_ts, true, 15, false)),
            Some((true, 14, false))
        );
        assert_eq!(
            cookie_timestamp_decode(cookie_init_timestamp(now_ts, true, 255, true)),
            Some((true, 14, true))
        );
    }

    #[test]
    fn timestamp_never_goes_backwards_or_ahead() {
        // Low bits of now below the options: step back 64; at or above:
        // the same 64 ms window. Near zero the u32 wraps, as the u32 TSval
        // on the wire does.
        assert_eq!(cookie_init_timestamp(64 * 10, true, 3, false), 64 * 9 + 3);
        assert_eq!(cookie_init_timestamp(64 * 10 + 3, true, 3, false), 64 * 10 + 3);
        assert_eq!(cookie_init_timestamp(64 * 10 + 63, false, 0, true), 64 * 10 + 0x1f);
        assert_eq!(cookie_init_timestamp(0, true, 1, false), 1u32.wrapping_sub(64));
        assert_eq!(cookie_init_timestamp(u32::MAX, false, 0, true), u32::MAX - 63 + 0x1f);
        let mut x = 3;
        for _ in 0..10_000 {
            let now = next(&mut x) as u32;
            let ts = cookie_init_timestamp(now, true, 7, true);
            assert!(now.wrapping_sub(ts) < 64);
            assert_eq!(ts & 0x3f, 7 | TS_OPT_SACK);
        }
    }

    #[test]
    fn timestamp_decode_refuses_options_switched_off() {
        let ws = cookie_init_timestamp(1 << 20, true, 7, false);
        let sack = cookie_init_timestamp(1 << 20, false, 0, true);
        let plain = cookie_init_timestamp(1 << 20, false, 0, false);
        assert_eq!(cookie_timestamp_decode_sysctl(plain, false, true, true), None);
        assert_eq!(cookie_timestamp_decode_sysctl(sack, true, false, true), None);
        assert_eq!(cookie_timestamp_decode_sysctl(sack, true, true, false), Some((false, 0, true)));
        assert_eq!(cookie_timestamp_decode_sysctl(ws, true, true, false), None);
        assert_eq!(cookie_timestamp_decode_sysctl(ws, true, false, true), Some((true, 7, false)));
        assert_eq!(cookie_timestamp_decode_sysctl(plain, true, false, false), Some((false, 0, false)));
        // ECN rides in bit 5 and needs tcp_ecn.
        assert!(cookie_ecn_ok(plain | TS_OPT_ECN, true));
        assert!(!cookie_ecn_ok(plain | TS_OPT_ECN, false));
        // All 64 patterns of the low bits decode to what encodes them.
        for bits in 0..64u32 {
            let (wok, w, s) =
                cookie_timestamp_decode(bits).expect("every pattern decodes with all sysctls on");
            let back = cookie_init_timestamp(63 + 64, wok, w, s) & 0x1f;
            assert_eq!(back, bits & 0x1f, "bits {bits:#x}");
        }
    }

    #[test]
    fn synq_overflow_stamp_and_recent_window() {
        // Rewritten only once more than a second has passed.
        assert_eq!(tcp_synq_overflow_stamp(5000, 5999), 5000);
        assert_eq!(tcp_synq_overflow_stamp(5000, 6000), 5000);
        assert_eq!(tcp_synq_overflow_stamp(5000, 6001), 6001);
        assert_eq!(tcp_synq_overflow_stamp(u32::MAX - 10, 995), 995, "across the u32 wrap");
        // Cookies may be outstanding from 1 s before the stamp to 120 s after.
        let last = 1_000_000;
        for (now, recent) in [
            (last - 1001, false),
            (last - 1000, true),
            (last, true),
            (last + 120_000, true),
            (last + 120_001, false),
        ] {
            assert_eq!(!tcp_synq_no_recent_overflow_stamp(last, now), recent, "now {now}");
        }
        let last = u32::MAX - 5;
        assert!(!tcp_synq_no_recent_overflow_stamp(last, 100_000), "wraps");
        assert!(tcp_synq_no_recent_overflow_stamp(last, 130_000));
    }

    #[test]
    fn matches_linux_6_18_in_a_namespace() {
        // net.ipv4.tcp_syncookies=2 (always cookies), tcp_timestamps=2 (no
        // ts offset), on lo; the SYN-ACKs tcpdump showed:
        //   SYN TSval 18896692 <sackOK, wscale 10> → SYN-ACK TSval 18896666
        //   SYN TSval 18896748 <sackOK, wscale 0>  → SYN-ACK TSval 18896720
        // (low six bits 0x1a and 0x10: SACK plus the shift).
        assert_eq!(cookie_init_timestamp(18_896_692, true, 10, true), 18_896_666);
        assert_eq!(cookie_init_timestamp(18_896_748, true, 0, true), 18_896_720);
        // The accepted child's TCP_MAXSEG for the client's TCP_MAXSEG
        // (tcp_timestamps=0): rounded down to msstab, and 500 rounded *up*
        // to 536, since index 0 is taken without a comparison.
        let tn = tcp_net(11);
        for (client, child) in [
            (500, 536),
            (536, 536),
            (1000, 536),
            (1300, 1300),
            (1350, 1300),
            (1440, 1440),
            (1459, 1440),
            (1460, 1460),
            (4000, 1460),
        ] {
            let (cookie, enc) =
                cookie_v4_init_sequence(&tn, CLIENT, SERVER, 38814, 9100, 4_186_660_520, client, 0);
            assert_eq!(enc, child, "client mss {client}");
            assert_eq!(
                cookie_v4_check(&tn, CLIENT, SERVER, 38814, 9100, 4_186_660_521, cookie.wrapping_add(1), 0),
                Some(child)
            );
        }
    }

    proptest! {
        #[test]
        fn cookie_functions_never_panic(
            sa in any::<u32>(), da in any::<u32>(), sp in any::<u16>(), dp in any::<u16>(),
            seq in any::<u32>(), ack in any::<u32>(), mss in any::<u16>(), now in any::<u64>(),
            ts in any::<u32>(), ws in any::<u8>(), flags in any::<(bool, bool, bool)>(),
        ) {
            let tn = tcp_net(10);
            let (sa, da) = (Ipv4Addr::from(sa), Ipv4Addr::from(da));
            if let Some(m) = cookie_v4_check(&tn, sa, da, sp, dp, seq, ack, now) {
                prop_assert!(MSSTAB.contains(&m));
            }
            let (c, enc) = cookie_v4_init_sequence(&tn, sa, da, sp, dp, seq, mss, now);
            prop_assert_eq!(cookie_v4_check(&tn, sa, da, sp, dp, seq.wrapping_add(1), c.wrapping_add(1), now), Some(enc));
            let t = cookie_init_timestamp(ts, flags.0, ws, flags.1);
            prop_assert!(ts.wrapping_sub(t) < 64);
            let d = cookie_timestamp_decode(t);
            prop_assert_eq!(d.map(|d| (d.0, d.2)), Some((flags.0, flags.1)));
            let _ = cookie_timestamp_decode_sysctl(ts, flags.0, flags.1, flags.2);
        }
    }
}
