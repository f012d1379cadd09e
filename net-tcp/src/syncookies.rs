// PLACEHOLDER: replaced by the syncookies branch at merge
//! SYN cookies (net/ipv4/syncookies.c) — placeholder signatures only, so
//! the listen path compiles; the syncookies branch supplies the real file.

use std::net::Ipv4Addr;

use crate::af_inet::TcpNet;

/// `cookie_v4_init_sequence()`: our ISN (the cookie) and the MSS encoded.
#[allow(clippy::too_many_arguments)]
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
    let _ = (tn, saddr, daddr, sport, dport, now_jiffies);
    (isn, mss)
}

/// `cookie_v4_check()`: the MSS a valid cookie ACK encodes.
#[allow(clippy::too_many_arguments)]
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
    let _ = (tn, saddr, daddr, sport, dport, seq, ack_seq, now_jiffies);
    None
}

/// `cookie_init_timestamp()`: TSval carrying the options.
pub fn cookie_init_timestamp(now_ts: u32, wscale_ok: bool, snd_wscale: u8, sack_ok: bool) -> u32 {
    let _ = (wscale_ok, snd_wscale, sack_ok);
    now_ts
}

/// `cookie_timestamp_decode()`: the options a TSecr carries.
pub fn cookie_timestamp_decode(tsecr: u32) -> Option<(bool, u8, bool)> {
    let _ = tsecr;
    None
}
