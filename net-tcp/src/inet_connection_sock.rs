//! Binding a local port: `inet_csk_get_port()` and its conflict rules.
//!
//! Mirrors the port half of net/ipv4/inet_connection_sock.c of **Linux
//! 6.18**: `inet_csk_get_port()`, `inet_csk_find_open_port()`,
//! `inet_csk_bind_conflict()`, `inet_bind_conflict()`,
//! `inet_rcv_saddr_equal()`, `sk_reuseport_match()` and
//! `inet_csk_update_fastreuse()`. The tables they work on are in
//! [`crate::inet_hashtables`], whose module doc explains the bind buckets.
//!
//! # Where we differ
//!
//! - There are no user ids: every socket counts as the same user, so the
//!   `uid_eq()` half of the SO_REUSEPORT rule always holds (Linux lets two
//!   SO_REUSEPORT sockets share a port only when one user owns both).
//! - No `bhash2`: a conflict check walks every owner of the port, testing
//!   addresses with `inet_rcv_saddr_equal(match_wildcard = true)`; Linux
//!   6.18 looks only at the (port, address) and (port, INADDR_ANY) `bhash2`
//!   buckets, with the same result.
//! - No `SK_FORCE_REUSE`, `ip_local_reserved_ports`, `ip_autobind_reuse`,
//!   l3mdev (VRF) buckets or reuseport groups (`sk_reuseport_cb`).
//! - Running out of ephemeral ports is `EADDRNOTAVAIL` here; Linux's
//!   `get_port` just fails and `__inet_bind()` reports `EADDRINUSE`.
//! - The port range and the random start come from the caller (Linux reads
//!   `ip_local_port_range` and calls `get_random_u32_below()` itself).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use net_core::Errno;

use crate::inet_hashtables::{FASTREUSEPORT_ANY, FASTREUSEPORT_STRICT, InetBindBucket, InetHashinfo};
use crate::sock::TcpSock;
use crate::tcp_states::TcpState;

// ANCHOR: inet_rcv_saddr_equal
/// Mirrors `ipv4_rcv_saddr_equal()` / `inet_rcv_saddr_equal()`: do two
/// bound addresses overlap? Equal addresses do; with `match_wildcard`,
/// INADDR_ANY overlaps every address.
pub fn ipv4_rcv_saddr_equal(
    sk1_rcv_saddr: Ipv4Addr,
    sk2_rcv_saddr: Ipv4Addr,
    match_sk1_wildcard: bool,
    match_sk2_wildcard: bool,
) -> bool {
    sk1_rcv_saddr == sk2_rcv_saddr
        || (match_sk1_wildcard && sk1_rcv_saddr.is_unspecified())
        || (match_sk2_wildcard && sk2_rcv_saddr.is_unspecified())
}
// ANCHOR_END: inet_rcv_saddr_equal

// ANCHOR: inet_bind_conflict
/// Mirrors `inet_bind_conflict()`: may `sk` not share a port with `sk2`,
/// as far as devices and reuse flags go? (The caller then compares
/// addresses.) Sockets bound to different devices never conflict. With
/// `relax` (an explicit `bind()`), two SO_REUSEADDR sockets of which the
/// other is not listening may share; with `reuseport_ok`, two SO_REUSEPORT
/// sockets may (same user — always, here). `inet_csk_find_open_port()`
/// passes neither, so an ephemeral bind never shares.
pub fn inet_bind_conflict(sk: &TcpSock, sk2: &TcpSock, relax: bool, reuseport_ok: bool) -> bool {
    if std::ptr::eq(sk, sk2) {
        return false;
    }
    let uid_eq = true; // no uids: sock_i_uid(sk) == sock_i_uid(sk2)
    // Linux: !sk->sk_reuseport_cb || num_closed_socks. A socket joins a
    // group only when hashed as a listener, after this check, and leaves
    // it when unhashed (no closed members kept for request migration).
    let reuseport_cb_ok = crate::sock_reuseport::sk_reuseport_cb(sk).is_none();
    let bound = sk.skc_bound_dev_if.load(Ordering::Relaxed);
    let bound2 = sk2.skc_bound_dev_if.load(Ordering::Relaxed);
    if bound != 0 && bound2 != 0 && bound != bound2 {
        return false;
    }
    let reuse = sk.skc_reuse.load(Ordering::Relaxed);
    let reuse2 = sk2.skc_reuse.load(Ordering::Relaxed);
    let reuseport = sk.skc_reuseport.load(Ordering::Relaxed);
    let reuseport2 = sk2.skc_reuseport.load(Ordering::Relaxed);
    let state2 = sk2.sk_state();
    if reuse && reuse2 && state2 != TcpState::Listen {
        !relax
            || (!reuseport_ok
                && reuseport
                && reuseport2
                && reuseport_cb_ok
                && (state2 == TcpState::TimeWait || uid_eq))
    } else {
        !reuseport_ok
            || !reuseport
            || !reuseport2
            || !reuseport_cb_ok
            || (state2 != TcpState::TimeWait && !uid_eq)
    }
}

/// Mirrors `inet_csk_bind_conflict()`: does `sk` conflict with an owner of
/// `tb`, one whose flags forbid sharing ([`inet_bind_conflict`]) and whose
/// bound address overlaps (`inet_rcv_saddr_equal(sk, sk2, true)`: equal,
/// or either is INADDR_ANY)?
pub fn inet_csk_bind_conflict(sk: &TcpSock, tb: &InetBindBucket, relax: bool, reuseport_ok: bool) -> bool {
    let saddr = sk.inet_rcv_saddr();
    tb.owners.iter().any(|sk2| {
        inet_bind_conflict(sk, sk2, relax, reuseport_ok)
            && ipv4_rcv_saddr_equal(saddr, sk2.inet_rcv_saddr(), true, true)
    }) || tb.tw_owners.iter().any(|tw| {
        inet_bind_conflict_tw(sk, tw, relax, reuseport_ok)
            && ipv4_rcv_saddr_equal(saddr, tw.tw_rcv_saddr(), true, true)
    })
}

/// [`inet_bind_conflict`] against a timewait sock (`sk2->sk_state ==
/// TCP_TIME_WAIT`, its flags from `tw_reuse`, `tw_reuseport`,
/// `tw_bound_dev_if`): it never listens, and it matches any uid.
fn inet_bind_conflict_tw(
    sk: &TcpSock,
    tw: &crate::inet_timewait_sock::InetTimewaitSock,
    relax: bool,
    reuseport_ok: bool,
) -> bool {
    let reuseport_cb_ok = crate::sock_reuseport::sk_reuseport_cb(sk).is_none();
    let bound = sk.skc_bound_dev_if.load(Ordering::Relaxed);
    if bound != 0 && tw.tw_bound_dev_if != 0 && bound != tw.tw_bound_dev_if {
        return false;
    }
    let reuse = sk.skc_reuse.load(Ordering::Relaxed);
    let reuseport = sk.skc_reuseport.load(Ordering::Relaxed);
    if reuse && tw.tw_reuse {
        !relax || (!reuseport_ok && reuseport && tw.tw_reuseport && reuseport_cb_ok)
    } else {
        !reuseport_ok || !reuseport || !tw.tw_reuseport || !reuseport_cb_ok
    }
}
// ANCHOR_END: inet_bind_conflict

/// Mirrors `sk_reuseport_match()`: may `sk` join `tb` on the SO_REUSEPORT
/// fast path, without walking the owners? Yes when the bucket says all
/// owners have SO_REUSEPORT (`FASTREUSEPORT_ANY`), or `STRICT` and `sk`
/// binds the same address as `fast_rcv_saddr` (or that is INADDR_ANY).
pub fn sk_reuseport_match(tb: &InetBindBucket, sk: &TcpSock) -> bool {
    if tb.fastreuseport <= 0 || !sk.skc_reuseport.load(Ordering::Relaxed) {
        return false;
    }
    // (Linux: no reuseport group yet, and tb->fastuid == our uid.)
    if tb.fastreuseport == FASTREUSEPORT_ANY {
        return true;
    }
    ipv4_rcv_saddr_equal(tb.fast_rcv_saddr, sk.inet_rcv_saddr(), true, false)
}

/// Mirrors `inet_csk_update_fastreuse()`: fold `sk` (about to become an
/// owner, or re-checked at `listen()`) into the bucket's fast-path
/// summaries. The first owner sets them; a later one can only clear
/// `fastreuse`, and resets `fastreuseport` to STRICT for its own address
/// when it has SO_REUSEPORT but did not match.
pub fn inet_csk_update_fastreuse(tb: &mut InetBindBucket, sk: &TcpSock) {
    let reuse = sk.skc_reuse.load(Ordering::Relaxed) && sk.sk_state() != TcpState::Listen;
    let reuseport = sk.skc_reuseport.load(Ordering::Relaxed);
    if tb.is_empty() {
        tb.fastreuse = i8::from(reuse);
        if reuseport {
            tb.fastreuseport = FASTREUSEPORT_ANY;
            tb.fast_rcv_saddr = sk.inet_rcv_saddr();
        } else {
            tb.fastreuseport = 0;
        }
    } else {
        if !reuse {
            tb.fastreuse = 0;
        }
        if reuseport {
            // We know there is no conflict with the owners, so reset the
            // bucket's reuseport state for sockets matching this one.
            if !sk_reuseport_match(tb, sk) {
                tb.fastreuseport = FASTREUSEPORT_STRICT;
                tb.fast_rcv_saddr = sk.inet_rcv_saddr();
            }
        } else {
            tb.fastreuseport = 0;
        }
    }
}

// ANCHOR: inet_csk_find_open_port
/// Mirrors `inet_csk_find_open_port()`: a free port in `range`
/// (inclusive) for `bind(port 0)`, returned with its `bhash` bucket
/// locked. A socket with SO_REUSEADDR first tries the lower half of the
/// range only (`attempt_half`), then the upper. Within a half it starts at
/// `rand % remaining`, forced odd: it scans the ports of the parity
/// opposite to `low`'s first (connect() favours `low`'s parity), stepping
/// by 2, then the other parity. A port is free if it has no bucket or no
/// conflicting owner (`relax = false`, `reuseport_ok = false`). `None` when
/// every port is taken.
fn inet_csk_find_open_port<'a>(
    hinfo: &'a InetHashinfo,
    sk: &TcpSock,
    range: (u16, u16),
    rand: u32,
) -> Option<(u16, spin::MutexGuard<'a, Vec<InetBindBucket>>)> {
    let relax = false;
    let mut attempt_half = u8::from(sk.skc_reuse.load(Ordering::Relaxed));
    loop {
        // other_half_scan:
        let (mut low, mut high) = (u32::from(range.0), u32::from(range.1) + 1); // [low, high[
        if high <= low {
            return None;
        }
        if high - low < 4 {
            attempt_half = 0;
        }
        if attempt_half != 0 {
            let half = low + (((high - low) >> 2) << 1);
            if attempt_half == 1 {
                high = half;
            } else {
                low = half;
            }
        }
        let mut remaining = high - low;
        if remaining > 1 {
            remaining &= !1;
        }
        let mut offset = rand % remaining;
        // __inet_hash_connect() favors ports having @low parity; we do the
        // opposite to not pollute connect() users.
        offset |= 1;
        loop {
            // other_parity_scan:
            let mut port = low + offset;
            let mut i = 0;
            while i < remaining {
                if port >= high {
                    port -= remaining;
                }
                let p = port as u16;
                let chain = hinfo.bhash_head(p).chain.lock();
                match chain.iter().find(|tb| tb.port == p) {
                    Some(tb) if inet_csk_bind_conflict(sk, tb, relax, false) => {}
                    _ => return Some((p, chain)),
                }
                drop(chain);
                i += 2;
                port += 2;
            }
            offset = offset.wrapping_sub(1);
            if offset & 1 == 0 {
                continue;
            }
            break;
        }
        if attempt_half == 1 {
            // OK we now try the upper half of the range.
            attempt_half = 2;
            continue;
        }
        return None;
    }
}
// ANCHOR_END: inet_csk_find_open_port

// ANCHOR: inet_csk_get_port
/// Mirrors `inet_csk_get_port()`: bind `sk` (its `inet_rcv_saddr`,
/// `skc_reuse`, `skc_reuseport`, `skc_bound_dev_if` set) to `snum`, or to a
/// free port in `range` (inclusive, `ip_local_port_range`) when `snum` is
/// 0, searching from an offset taken from `rand`
/// (`inet_csk_find_open_port()`'s odd/even halves). On success `sk` owns
/// the port: its `inet_num` is set and it is on the bucket's owners list;
/// the port is returned.
///
/// For an explicit port, a bucket with owners admits `sk` on a fast path
/// (`fastreuse > 0` and `sk` has SO_REUSEADDR and is not listening, or
/// [`sk_reuseport_match`]), else unless [`inet_csk_bind_conflict`] (with
/// `relax` and `reuseport_ok`) finds an owner it clashes with:
/// `EADDRINUSE`. `EADDRNOTAVAIL` when no ephemeral port is free (Linux's
/// caller reports that as `EADDRINUSE`).
///
/// `EINVAL` if `sk` already owns another port.
///
/// `listen()` calls this again with the bound port after setting LISTEN
/// (`inet_csk_listen_start()`): `sk` is already an owner, is skipped by
/// the conflict walk, and only the bucket's summaries are updated — a
/// listener with SO_REUSEADDR still conflicts with another owner that is
/// listening on an overlapping address.
pub fn inet_csk_get_port(
    hashinfo: &InetHashinfo,
    sk: &Arc<TcpSock>,
    snum: u16,
    range: (u16, u16),
    rand: u32,
) -> Result<u16, Errno> {
    if sk.bind_link.is_linked() && snum != sk.inet_num() {
        // Already bound elsewhere (Linux: inet_bind()'s `inet->inet_num`
        // check, EINVAL).
        return Err(Errno::EINVAL);
    }
    let reuse = sk.skc_reuse.load(Ordering::Relaxed) && sk.sk_state() != TcpState::Listen;
    let (port, mut chain) = if snum == 0 {
        inet_csk_find_open_port(hashinfo, sk, range, rand).ok_or(Errno::EADDRNOTAVAIL)?
    } else {
        (snum, hashinfo.bhash_head(snum).chain.lock())
    };
    let t = match chain.iter().position(|tb| tb.port == port) {
        Some(t) => t,
        None => {
            chain.push(InetBindBucket::new(port));
            chain.len() - 1
        }
    };
    let tb = &mut chain[t];
    if snum != 0 && !tb.is_empty() {
        let fast = (tb.fastreuse > 0 && reuse) || sk_reuseport_match(tb, sk);
        if !fast && inet_csk_bind_conflict(sk, tb, true, true) {
            return Err(Errno::EADDRINUSE);
        }
    }
    // success:
    inet_csk_update_fastreuse(tb, sk);
    if !sk.bind_link.is_linked() {
        tb.inet_bind_hash(sk);
    }
    debug_assert_eq!(sk.inet_num(), port, "inet_csk_get_port: {sk:?} is bound to another port");
    Ok(port)
}
// ANCHOR_END: inet_csk_get_port

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::random::SipKey;
    use net_core::{Clock, Net};

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;
    const RANGE: (u16, u16) = (32768, 60999);

    fn net() -> Arc<Net> {
        Net::new("t", Clock::new_virtual(), 1)
    }

    fn hinfo() -> InetHashinfo {
        InetHashinfo::new(1024, SipKey([7, 8]))
    }

    /// A closed socket with `bind()`'s inputs set: address, SO_REUSEADDR,
    /// SO_REUSEPORT.
    fn sock(net: &Net, addr: Ipv4Addr, reuse: bool, reuseport: bool) -> Arc<TcpSock> {
        let sk = TcpSock::new(net, 87380, 16384);
        sk.set_skc_local(addr, 0);
        sk.skc_reuse.store(reuse, Ordering::Relaxed);
        sk.skc_reuseport.store(reuseport, Ordering::Relaxed);
        sk
    }

    /// `listen()`: LISTEN, then `get_port` again, as `inet_csk_listen_start()`.
    fn listen(h: &InetHashinfo, sk: &Arc<TcpSock>) -> Result<u16, Errno> {
        sk.skc_state.store(TcpState::Listen as u8, Ordering::Release);
        inet_csk_get_port(h, sk, sk.inet_num(), RANGE, 0)
    }

    fn bind(h: &InetHashinfo, sk: &Arc<TcpSock>, port: u16) -> Result<u16, Errno> {
        inet_csk_get_port(h, sk, port, RANGE, 0)
    }

    #[test]
    fn inet_csk_get_port_plain_conflict() {
        let (net, h) = (net(), hinfo());
        let a = sock(&net, A, false, false);
        assert_eq!(bind(&h, &a, 80), Ok(80));
        assert_eq!(a.inet_num(), 80);
        assert!(a.bind_link.is_linked());
        let b = sock(&net, A, false, false);
        assert_eq!(bind(&h, &b, 80), Err(Errno::EADDRINUSE));
        assert_eq!(b.inet_num(), 0);
        assert!(!b.bind_link.is_linked());
        assert_eq!(h.bind_bucket(80).unwrap().owners, 1);
    }

    #[test]
    fn inet_csk_get_port_reuseaddr_without_and_with_listen() {
        let (net, h) = (net(), hinfo());
        let a = sock(&net, A, true, false);
        let b = sock(&net, A, true, false);
        assert_eq!(bind(&h, &a, 80), Ok(80));
        // Both SO_REUSEADDR, neither listening: shared (fast path).
        assert_eq!(h.bind_bucket(80).unwrap().fastreuse, 1);
        assert_eq!(bind(&h, &b, 80), Ok(80));
        assert_eq!(h.bind_bucket(80).unwrap().owners, 2);
        // a listens: allowed (b is not listening) and the fast path closes.
        assert_eq!(listen(&h, &a), Ok(80));
        assert_eq!(h.bind_bucket(80).unwrap().fastreuse, 0);
        // Now b cannot listen too: a is a listener on the same address.
        assert_eq!(listen(&h, &b), Err(Errno::EADDRINUSE));
        // And a third SO_REUSEADDR socket cannot bind next to a listener.
        let c = sock(&net, A, true, false);
        assert_eq!(bind(&h, &c, 80), Err(Errno::EADDRINUSE));
        // Without SO_REUSEADDR on one side: conflict even when not listening.
        let d = sock(&net, B, true, false);
        let e = sock(&net, B, false, false);
        assert_eq!(bind(&h, &d, 81), Ok(81));
        assert_eq!(bind(&h, &e, 81), Err(Errno::EADDRINUSE));
    }

    #[test]
    fn inet_csk_get_port_reuseport() {
        let (net, h) = (net(), hinfo());
        let a = sock(&net, A, false, true);
        let b = sock(&net, A, false, true);
        assert_eq!(bind(&h, &a, 80), Ok(80));
        assert_eq!(h.bind_bucket(80).unwrap().fastreuseport, FASTREUSEPORT_ANY);
        assert_eq!(bind(&h, &b, 80), Ok(80));
        // Both may listen (same user: always, here).
        assert_eq!(listen(&h, &a), Ok(80));
        assert_eq!(listen(&h, &b), Ok(80));
        // A socket without SO_REUSEPORT cannot join.
        let c = sock(&net, A, false, false);
        assert_eq!(bind(&h, &c, 80), Err(Errno::EADDRINUSE));
        assert_eq!(h.bind_bucket(80).unwrap().owners, 2);
    }

    #[test]
    fn inet_csk_get_port_reuseport_strict_after_mixed_owner() {
        let (net, h) = (net(), hinfo());
        // A plain owner on A, then SO_REUSEPORT sockets on B: STRICT for B.
        let a = sock(&net, A, false, false);
        assert_eq!(bind(&h, &a, 90), Ok(90));
        let b1 = sock(&net, B, false, true);
        assert_eq!(bind(&h, &b1, 90), Ok(90));
        assert_eq!(h.bind_bucket(90).unwrap().fastreuseport, FASTREUSEPORT_STRICT);
        let b2 = sock(&net, B, false, true);
        assert_eq!(bind(&h, &b2, 90), Ok(90));
        // SO_REUSEPORT on A still clashes with the plain owner.
        let a2 = sock(&net, A, false, true);
        assert_eq!(bind(&h, &a2, 90), Err(Errno::EADDRINUSE));
    }

    #[test]
    fn inet_csk_get_port_different_addresses_and_wildcard() {
        let (net, h) = (net(), hinfo());
        let a = sock(&net, A, false, false);
        let b = sock(&net, B, false, false);
        assert_eq!(bind(&h, &a, 80), Ok(80));
        // Different specific addresses share a port.
        assert_eq!(bind(&h, &b, 80), Ok(80));
        // The wildcard overlaps both.
        let w = sock(&net, ANY, false, false);
        assert_eq!(bind(&h, &w, 80), Err(Errno::EADDRINUSE));
        // And a wildcard owner blocks any specific address.
        let w2 = sock(&net, ANY, false, false);
        assert_eq!(bind(&h, &w2, 81), Ok(81));
        let c = sock(&net, A, false, false);
        assert_eq!(bind(&h, &c, 81), Err(Errno::EADDRINUSE));
    }

    #[test]
    fn inet_csk_get_port_bound_devices() {
        let (net, h) = (net(), hinfo());
        let a = sock(&net, A, false, false);
        a.skc_bound_dev_if.store(2, Ordering::Relaxed);
        assert_eq!(bind(&h, &a, 80), Ok(80));
        // Another device: no conflict.
        let b = sock(&net, A, false, false);
        b.skc_bound_dev_if.store(3, Ordering::Relaxed);
        assert_eq!(bind(&h, &b, 80), Ok(80));
        // Unbound overlaps every device.
        let c = sock(&net, A, false, false);
        assert_eq!(bind(&h, &c, 80), Err(Errno::EADDRINUSE));
        let d = sock(&net, A, false, false);
        d.skc_bound_dev_if.store(2, Ordering::Relaxed);
        assert_eq!(bind(&h, &d, 80), Err(Errno::EADDRINUSE));
    }

    #[test]
    fn inet_csk_get_port_zero_picks_from_range_odd_first() {
        let (net, h) = (net(), hinfo());
        let mut seen = Vec::new();
        for r in 0..50u32 {
            let sk = sock(&net, A, false, false);
            let port = inet_csk_get_port(&h, &sk, 0, (40000, 40999), r.wrapping_mul(2_654_435_761)).unwrap();
            assert!((40000..=40999).contains(&port));
            assert_eq!(port % 2, 1, "bind() prefers the parity connect() does not");
            assert_eq!(sk.inet_num(), port);
            assert!(!seen.contains(&port));
            seen.push(port);
        }
        // SO_REUSEADDR: the lower half first.
        let sk = sock(&net, B, true, false);
        let port = inet_csk_get_port(&h, &sk, 0, (40000, 40999), 999).unwrap();
        assert!(port < 40500);
    }

    #[test]
    fn inet_csk_get_port_zero_exhaustion() {
        let (net, h) = (net(), hinfo());
        let range = (50000, 50009);
        let socks: Vec<_> = (0..10)
            .map(|r| {
                let sk = sock(&net, ANY, false, false);
                inet_csk_get_port(&h, &sk, 0, range, r).unwrap();
                sk
            })
            .collect();
        let mut ports: Vec<u16> = socks.iter().map(|s| s.inet_num()).collect();
        ports.sort();
        assert_eq!(ports, (50000..=50009).collect::<Vec<_>>());
        let sk = sock(&net, A, true, true);
        assert_eq!(inet_csk_get_port(&h, &sk, 0, range, 3), Err(Errno::EADDRNOTAVAIL));
        // A port given back is found again.
        let freed = socks[4].inet_num();
        h.inet_put_port(&socks[4]);
        assert_eq!(inet_csk_get_port(&h, &sk, 0, range, 3), Ok(freed));
    }

    #[test]
    fn inet_csk_get_port_zero_with_reuseaddr_exhausts_both_halves() {
        let (net, h) = (net(), hinfo());
        let range = (50000, 50007);
        for r in 0..8 {
            let sk = sock(&net, ANY, true, false);
            inet_csk_get_port(&h, &sk, 0, range, r).unwrap();
        }
        let sk = sock(&net, ANY, true, false);
        assert_eq!(inet_csk_get_port(&h, &sk, 0, range, 0), Err(Errno::EADDRNOTAVAIL));
    }

    #[test]
    fn inet_csk_get_port_twice_is_einval() {
        let (net, h) = (net(), hinfo());
        let a = sock(&net, A, false, false);
        assert_eq!(bind(&h, &a, 80), Ok(80));
        assert_eq!(bind(&h, &a, 81), Err(Errno::EINVAL));
        assert_eq!(inet_csk_get_port(&h, &a, 0, RANGE, 0), Err(Errno::EINVAL));
        assert_eq!(bind(&h, &a, 80), Ok(80));
        assert_eq!(h.bind_bucket(80).unwrap().owners, 1);
    }

    #[test]
    fn inet_csk_put_port_frees_for_rebind() {
        let (net, h) = (net(), hinfo());
        let a = sock(&net, A, false, false);
        assert_eq!(bind(&h, &a, 80), Ok(80));
        h.inet_put_port(&a);
        assert_eq!(a.inet_num(), 0);
        assert!(h.bind_bucket(80).is_none());
        let b = sock(&net, A, false, false);
        assert_eq!(bind(&h, &b, 80), Ok(80));
    }

    #[test]
    fn inet_rcv_saddr_equal_rules() {
        assert!(ipv4_rcv_saddr_equal(A, A, false, false));
        assert!(!ipv4_rcv_saddr_equal(A, B, true, true));
        assert!(ipv4_rcv_saddr_equal(ANY, B, true, false));
        assert!(!ipv4_rcv_saddr_equal(ANY, B, false, true));
        assert!(ipv4_rcv_saddr_equal(ANY, ANY, false, false));
    }
}
