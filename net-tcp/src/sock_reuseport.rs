//! SO_REUSEPORT groups: several listeners on one address and port, each
//! new connection handed to one of them by a hash of its four-tuple.
//!
//! Mirrors net/core/sock_reuseport.c and include/net/sock_reuseport.h of
//! **Linux 6.18** (`struct sock_reuseport`, `reuseport_alloc()`,
//! `reuseport_add_sock()`, `reuseport_detach_sock()`,
//! `reuseport_select_sock()`, `reuseport_select_sock_by_hash()`), and
//! `reciprocal_scale()` (include/linux/math.h). The table side —
//! `inet_reuseport_add_sock()` in `__inet_hash()`, `inet_lookup_reuseport()`
//! in `inet_lhash2_lookup()`, the detach in `inet_unhash()` — is in
//! [`crate::inet_hashtables`].
//!
//! Heads up! socket(7) on `SO_REUSEPORT`: "For TCP sockets, this option
//! allows accept(2) load distribution in a multi-threaded server to be
//! improved by using a distinct listener socket for each thread", and all
//! the sockets must set the option before `bind()` and belong to the same
//! effective user id.
//!
//! # How a group works
//!
//! The first listener on (address, port, device) with SO_REUSEPORT set
//! gets a group of its own (`reuseport_alloc()`); each later one that
//! matches it — same bind bucket (port), same bound device, same local
//! address, SO_REUSEPORT, same owner — joins it (`reuseport_add_sock()`).
//! The group is an array of its listeners, `socks[0..num_socks]`. A SYN
//! finds the first listener of the group in `lhash2` as before (the
//! best score); then `reuseport_select_sock()` takes
//! `socks[reciprocal_scale(hash, num_socks)]`, where `hash` is
//! `inet_ehashfn()` of the segment's four-tuple. The same four-tuple
//! always lands on the same listener while the group is unchanged (so a
//! retransmitted SYN, or the ACK of a cookie, meets the listener that saw
//! the first SYN); different tuples spread evenly. A listener that closes
//! leaves the group (`reuseport_detach_sock()`): the last member moves
//! into its slot, so only the tuples that mapped to the closed listener's
//! slot and to the last one are reassigned, and the others keep serving.
//!
//! # Where we differ
//!
//! - No uids: every socket is the same user's, so the owner check always
//!   passes (Linux compares `sk_uid()`).
//! - No BPF (`SO_ATTACH_REUSEPORT_CBPF`/`EBPF`, `reuseport_attach_prog()`),
//!   no `SO_INCOMING_CPU` preference, no `tcp_migrate_req` (closed
//!   listeners' requests are not migrated; Linux's `socks[]` keeps closed
//!   sockets at its tail for that, `num_closed_socks`), no `reuse_id`.
//! - One spin lock per group instead of Linux's global `reuseport_lock`;
//!   readers take it too (Linux reads under RCU). Every change happens
//!   under the members' `lhash2` bucket lock as well, so it is never
//!   contended.
//! - The socks array is a `Vec`; Linux starts at `INIT_SOCKS` (128) and
//!   doubles up to `U16_MAX`, and so is our limit
//!   ([`MAX_REUSEPORT_SOCKS`]): beyond it, `reuseport_add_sock()` fails
//!   with `ENOMEM`, where Linux's `listen()` fails; ours keeps listening
//!   outside the group (`inet_hash()` has no error to return).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use net_core::Errno;

use crate::sock::TcpSock;
use crate::tcp_states::TcpState;

/// `INIT_SOCKS`: the first size of a group's array.
pub const INIT_SOCKS: usize = 128;
/// The most members a group may have (`reuseport_grow()` stops at `U16_MAX`).
pub const MAX_REUSEPORT_SOCKS: usize = u16::MAX as usize;

// ANCHOR: sock_reuseport
/// `struct sock_reuseport`: one SO_REUSEPORT group, shared by its members
/// through [`TcpSock::sk_reuseport_cb`].
#[derive(Debug)]
pub struct SockReuseport {
    /// `socks[]`, `num_socks` = its length: the listening members, in the
    /// order they joined, except that a leaver's slot takes the last one.
    socks: spin::Mutex<Vec<Arc<TcpSock>>>,
    /// `bind_inany`: the group listens on INADDR_ANY.
    pub bind_inany: bool,
    /// `synq_overflow_ts`: when a member's request queue last overflowed,
    /// in jiffies (`tcp_synq_overflow()` records it per group, so a cookie
    /// ACK is accepted by whichever member the hash picks).
    pub synq_overflow_ts: AtomicU32,
}
// ANCHOR_END: sock_reuseport

impl SockReuseport {
    /// `num_socks`.
    pub fn num_socks(&self) -> usize {
        self.socks.lock().len()
    }

    /// A snapshot of `socks[]`.
    pub fn socks(&self) -> Vec<Arc<TcpSock>> {
        self.socks.lock().clone()
    }
}

/// Mirrors `reciprocal_scale()` (include/linux/math.h): map a 32-bit
/// `val` to `0..ep_ro` with a multiply and a shift instead of a division,
/// `(val * ep_ro) >> 32`. Uniform when `val` is.
#[inline]
pub fn reciprocal_scale(val: u32, ep_ro: u32) -> u32 {
    ((u64::from(val) * u64::from(ep_ro)) >> 32) as u32
}

/// The group of `sk`, if it has one (`rcu_dereference(sk->sk_reuseport_cb)`).
pub fn sk_reuseport_cb(sk: &TcpSock) -> Option<Arc<SockReuseport>> {
    sk.sk_reuseport_cb.lock().clone()
}

/// Mirrors `reuseport_alloc()`: a new group whose only member is `sk`.
/// A socket that already has one keeps it, with `bind_inany` as it was
/// (Linux updates the flag, for UDP's rehash; a TCP listener's address
/// does not change while it is hashed).
pub fn reuseport_alloc(sk: &Arc<TcpSock>, bind_inany: bool) {
    let mut cb = sk.sk_reuseport_cb.lock();
    if cb.is_none() {
        *cb = Some(Arc::new(SockReuseport {
            socks: spin::Mutex::new({
                let mut v = Vec::with_capacity(INIT_SOCKS);
                v.push(Arc::clone(sk));
                v
            }),
            bind_inany,
            synq_overflow_ts: AtomicU32::new(0),
        }));
    }
}

// ANCHOR: reuseport_add_sock
/// Mirrors `reuseport_add_sock()`: put `sk` into the group of `sk2`,
/// creating that group first if `sk2` has none. `EBUSY` if `sk` already
/// belongs to another group with other members; `ENOMEM` when the group
/// has [`MAX_REUSEPORT_SOCKS`] members (Linux: `reuseport_grow()` fails).
/// A group `sk` had alone is dropped.
pub fn reuseport_add_sock(sk: &Arc<TcpSock>, sk2: &Arc<TcpSock>, bind_inany: bool) -> Result<(), Errno> {
    if std::ptr::eq(&**sk, &**sk2) {
        reuseport_alloc(sk, bind_inany);
        return Ok(());
    }
    reuseport_alloc(sk2, bind_inany);
    let Some(reuse) = sk_reuseport_cb(sk2) else { return Err(Errno::ENOMEM) };
    let old = sk_reuseport_cb(sk);
    if let Some(old) = &old {
        if Arc::ptr_eq(old, &reuse) {
            return Ok(());
        }
        if old.num_socks() != 1 {
            return Err(Errno::EBUSY);
        }
    }
    {
        let mut socks = reuse.socks.lock();
        if socks.len() >= MAX_REUSEPORT_SOCKS {
            return Err(Errno::ENOMEM);
        }
        socks.push(Arc::clone(sk));
    }
    if let Some(old) = old {
        old.socks.lock().clear();
    }
    *sk.sk_reuseport_cb.lock() = Some(reuse);
    Ok(())
}
// ANCHOR_END: reuseport_add_sock

/// Mirrors `reuseport_detach_sock()` (reached from `inet_unhash()` through
/// `reuseport_stop_listen_sock()` when no request migration is set up):
/// take `sk` out of its group, moving the last member into its slot; the
/// group goes away with its last member. Nothing if `sk` has no group.
pub fn reuseport_detach_sock(sk: &TcpSock) {
    let Some(reuse) = sk.sk_reuseport_cb.lock().take() else { return };
    let mut socks = reuse.socks.lock();
    if let Some(i) = socks.iter().position(|s| std::ptr::eq(&**s, sk)) {
        socks.swap_remove(i);
    }
}

// ANCHOR: reuseport_select_sock
/// Mirrors `reuseport_select_sock()` → `reuseport_select_sock_by_hash()`:
/// the member of `sk`'s group that should get a segment whose four-tuple
/// hashes to `hash`: start at `socks[reciprocal_scale(hash, num_socks)]`
/// and take the first member, going round, that is not ESTABLISHED (only
/// connected UDP sockets are; every TCP member listens). `None` if `sk`
/// has no group (Linux: "if memory allocation failed or add call is not
/// yet complete"), and the caller uses `sk` itself.
pub fn reuseport_select_sock(sk: &TcpSock, hash: u32) -> Option<Arc<TcpSock>> {
    let reuse = sk_reuseport_cb(sk)?;
    let socks = reuse.socks.lock();
    let n = socks.len();
    if n == 0 {
        return None;
    }
    let j = reciprocal_scale(hash, n as u32) as usize;
    (0..n).map(|k| &socks[(j + k) % n]).find(|s| s.sk_state() != TcpState::Established).cloned()
}
// ANCHOR_END: reuseport_select_sock

/// `inet_rcv_saddr_any()`: does `sk` listen on INADDR_ANY?
pub fn inet_rcv_saddr_any(sk: &TcpSock) -> bool {
    sk.inet_rcv_saddr() == Ipv4Addr::UNSPECIFIED
}

/// Mirrors the SO_REUSEPORT branch of `tcp_synq_overflow()`: a member's
/// request queue overflowed at `now` (32-bit jiffies); the stamp is kept
/// per group, so that whichever member the hash hands the cookie's ACK
/// to accepts it. False when `sk` has no group (the caller stamps the
/// listener itself, as Linux does).
pub fn reuseport_synq_overflow(sk: &TcpSock, now: u32) -> bool {
    let Some(reuse) = sk_reuseport_cb(sk) else { return false };
    let last = reuse.synq_overflow_ts.load(Ordering::Relaxed);
    reuse.synq_overflow_ts.store(crate::syncookies::tcp_synq_overflow_stamp(last, now), Ordering::Relaxed);
    true
}

/// Mirrors the SO_REUSEPORT branch of `tcp_synq_no_recent_overflow()`:
/// `None` when `sk` has no group (ask the listener's own stamp).
pub fn reuseport_synq_no_recent_overflow(sk: &TcpSock, now: u32) -> Option<bool> {
    let reuse = sk_reuseport_cb(sk)?;
    let last = reuse.synq_overflow_ts.load(Ordering::Relaxed);
    Some(crate::syncookies::tcp_synq_no_recent_overflow_stamp(last, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::{Clock, Net};

    fn listener(net: &Net) -> Arc<TcpSock> {
        let sk = TcpSock::new(net, 87380, 16384);
        sk.skc_state.store(TcpState::Listen as u8, Ordering::Release);
        sk.skc_reuseport.store(true, Ordering::Relaxed);
        sk
    }

    #[test]
    fn reciprocal_scale_maps_into_range_evenly() {
        assert_eq!(reciprocal_scale(0, 4), 0);
        assert_eq!(reciprocal_scale(u32::MAX, 4), 3);
        assert_eq!(reciprocal_scale(1 << 30, 4), 1);
        assert_eq!(reciprocal_scale(u32::MAX, 1), 0);
        assert_eq!(reciprocal_scale(12345, 0), 0);
        // Each quarter of the u32 range goes to one slot.
        for (v, want) in
            [(0x3fff_ffff, 0), (0x4000_0000, 1), (0x7fff_ffff, 1), (0x8000_0000, 2), (0xc000_0000, 3)]
        {
            assert_eq!(reciprocal_scale(v, 4), want);
        }
    }

    #[test]
    fn add_select_detach() {
        let net = Net::new("t", Clock::new_virtual(), 1);
        let (a, b, c) = (listener(&net), listener(&net), listener(&net));
        assert!(reuseport_select_sock(&a, 0).is_none(), "no group yet");
        reuseport_add_sock(&b, &a, true).unwrap();
        reuseport_add_sock(&c, &a, true).unwrap();
        let g = sk_reuseport_cb(&a).unwrap();
        assert!(Arc::ptr_eq(&g, &sk_reuseport_cb(&c).unwrap()));
        assert_eq!(g.num_socks(), 3);
        assert!(g.bind_inany);
        // Thirds of the hash space, in join order.
        let pick = |h: u32| reuseport_select_sock(&b, h).unwrap();
        assert!(Arc::ptr_eq(&pick(0), &a));
        assert!(Arc::ptr_eq(&pick(0x6000_0000), &b));
        assert!(Arc::ptr_eq(&pick(u32::MAX), &c));
        // a leaves: c takes its slot; b stays where it was.
        reuseport_detach_sock(&a);
        assert!(sk_reuseport_cb(&a).is_none());
        assert_eq!(g.num_socks(), 2);
        assert!(Arc::ptr_eq(&pick(0), &c));
        assert!(Arc::ptr_eq(&pick(u32::MAX), &b));
        reuseport_detach_sock(&a); // twice: nothing
        // A member of a group of two cannot join another group.
        let (d, e) = (listener(&net), listener(&net));
        reuseport_alloc(&d, false);
        assert_eq!(reuseport_add_sock(&b, &d, false), Err(Errno::EBUSY));
        // A lone group is given up for the new one.
        reuseport_alloc(&e, false);
        reuseport_add_sock(&e, &d, false).unwrap();
        assert_eq!(sk_reuseport_cb(&d).unwrap().num_socks(), 2);
        for s in [&b, &c, &d, &e] {
            reuseport_detach_sock(s);
        }
        assert_eq!(g.num_socks(), 0);
        assert!(reuseport_select_sock(&b, 7).is_none());
    }

    #[test]
    fn select_skips_established_members() {
        let net = Net::new("t", Clock::new_virtual(), 2);
        let (a, b) = (listener(&net), listener(&net));
        reuseport_add_sock(&b, &a, false).unwrap();
        b.skc_state.store(TcpState::Established as u8, Ordering::Release);
        for h in [0, u32::MAX / 2, u32::MAX] {
            assert!(Arc::ptr_eq(&reuseport_select_sock(&a, h).unwrap(), &a));
        }
        a.skc_state.store(TcpState::Established as u8, Ordering::Release);
        assert!(reuseport_select_sock(&a, 0).is_none());
    }

    #[test]
    fn synq_overflow_is_recorded_per_group_once_a_second() {
        let net = Net::new("t", Clock::new_virtual(), 3);
        let (a, b) = (listener(&net), listener(&net));
        assert!(!reuseport_synq_overflow(&a, 5000));
        assert_eq!(reuseport_synq_no_recent_overflow(&a, 5000), None);
        reuseport_add_sock(&b, &a, false).unwrap();
        let g = sk_reuseport_cb(&a).unwrap();
        assert!(reuseport_synq_overflow(&a, 5000));
        assert_eq!(g.synq_overflow_ts.load(Ordering::Relaxed), 5000);
        assert!(reuseport_synq_overflow(&b, 5900));
        assert_eq!(g.synq_overflow_ts.load(Ordering::Relaxed), 5000, "within a second: not rewritten");
        assert!(reuseport_synq_overflow(&b, 6001));
        assert_eq!(g.synq_overflow_ts.load(Ordering::Relaxed), 6001);
        // A's overflow lets B's cookie check run, and not forever.
        assert_eq!(reuseport_synq_no_recent_overflow(&b, 7000), Some(false));
        assert_eq!(reuseport_synq_no_recent_overflow(&a, 6001 + 120_001), Some(true));
    }

    // The table side: groups formed by inet_hash(), used by the listener
    // lookup, left by inet_unhash().

    use crate::inet_hashtables::InetHashinfo;
    use net_core::random::SipKey;

    const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn hashed_listener(
        h: &InetHashinfo,
        net: &Net,
        addr: Ipv4Addr,
        port: u16,
        reuseport: bool,
    ) -> Arc<TcpSock> {
        let sk = TcpSock::new(net, 87380, 16384);
        sk.skc_state.store(TcpState::Listen as u8, Ordering::Release);
        sk.skc_reuseport.store(reuseport, Ordering::Relaxed);
        sk.set_skc_addrs(addr, port, Ipv4Addr::UNSPECIFIED, 0);
        h.inet_hash(&sk);
        sk
    }

    /// `n` random client four-tuples (saddr, sport) towards LOCAL:80.
    fn tuples(n: usize, seed: u64) -> Vec<(Ipv4Addr, u16)> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (Ipv4Addr::from((x >> 32) as u32), (x >> 16) as u16)
            })
            .collect()
    }

    fn owner(h: &InetHashinfo, ls: &[Arc<TcpSock>], (saddr, sport): (Ipv4Addr, u16)) -> usize {
        let got = h.__inet_lookup_listener(saddr, sport, LOCAL, 80, 1).expect("a listener");
        ls.iter().position(|l| Arc::ptr_eq(l, &got)).expect("one of ours")
    }

    #[test]
    fn inet_hash_forms_groups_only_of_matching_listeners() {
        let net = Net::new("t", Clock::new_virtual(), 4);
        let h = InetHashinfo::new(1024, SipKey([1, 2]));
        let any = Ipv4Addr::UNSPECIFIED;
        let (a, b) = (hashed_listener(&h, &net, any, 80, true), hashed_listener(&h, &net, any, 80, true));
        let g = sk_reuseport_cb(&a).unwrap();
        assert!(Arc::ptr_eq(&g, &sk_reuseport_cb(&b).unwrap()));
        assert!(g.bind_inany);
        // Another address, another port, another device, or no
        // SO_REUSEPORT: not in the group.
        let other_addr = hashed_listener(&h, &net, LOCAL, 80, true);
        let other_port = hashed_listener(&h, &net, any, 81, true);
        let dev = TcpSock::new(&net, 87380, 16384);
        dev.skc_state.store(TcpState::Listen as u8, Ordering::Release);
        dev.skc_reuseport.store(true, Ordering::Relaxed);
        dev.skc_bound_dev_if.store(3, Ordering::Relaxed);
        dev.set_skc_addrs(any, 80, any, 0);
        h.inet_hash(&dev);
        let plain = hashed_listener(&h, &net, any, 82, false);
        for s in [&other_addr, &other_port, &dev] {
            let mine = sk_reuseport_cb(s).unwrap();
            assert!(!Arc::ptr_eq(&mine, &g));
            assert_eq!(mine.num_socks(), 1);
        }
        assert!(!sk_reuseport_cb(&other_addr).unwrap().bind_inany);
        assert!(sk_reuseport_cb(&plain).is_none());
        assert_eq!(g.num_socks(), 2);
        // Unhashing leaves the group; the last one out empties it.
        h.inet_unhash(&a);
        assert!(sk_reuseport_cb(&a).is_none());
        assert_eq!(g.num_socks(), 1);
        h.inet_unhash(&b);
        assert_eq!(g.num_socks(), 0);
    }

    #[test]
    fn four_listeners_share_tuples_evenly_and_stably() {
        let net = Net::new("t", Clock::new_virtual(), 5);
        let h = InetHashinfo::new(1024, SipKey([7, 8]));
        let ls: Vec<_> = (0..4).map(|_| hashed_listener(&h, &net, Ipv4Addr::UNSPECIFIED, 80, true)).collect();
        let ts = tuples(1000, 1);
        let mut counts = [0usize; 4];
        let first: Vec<usize> = ts.iter().map(|&t| owner(&h, &ls, t)).collect();
        for &o in &first {
            counts[o] += 1;
        }
        // 250 each expected, standard deviation about 13.7: five of them.
        for (i, &n) in counts.iter().enumerate() {
            assert!((180..=320).contains(&n), "listener {i} got {n} of 1000: {counts:?}");
        }
        // The same tuple, asked again, meets the same listener.
        for (&t, &o) in ts.iter().zip(&first) {
            assert_eq!(owner(&h, &ls, t), o);
        }
    }

    #[test]
    fn closing_one_listener_moves_only_its_share() {
        let net = Net::new("t", Clock::new_virtual(), 6);
        let h = InetHashinfo::new(1024, SipKey([9, 10]));
        let ls: Vec<_> = (0..4).map(|_| hashed_listener(&h, &net, Ipv4Addr::UNSPECIFIED, 80, true)).collect();
        let ts = tuples(1000, 2);
        let before: Vec<usize> = ts.iter().map(|&t| owner(&h, &ls, t)).collect();
        // Close listener 1: the last member (3) takes its slot.
        ls[1].skc_state.store(TcpState::Close as u8, Ordering::Release);
        h.inet_unhash(&ls[1]);
        assert_eq!(sk_reuseport_cb(&ls[0]).unwrap().num_socks(), 3);
        let after: Vec<usize> = ts.iter().map(|&t| owner(&h, &ls, t)).collect();
        let mut counts = [0usize; 4];
        for (&b, &a) in before.iter().zip(&after) {
            counts[a] += 1;
            assert_ne!(a, 1, "the closed listener gets nothing");
            // With three slots over the hash space instead of four, a
            // tuple may move, but one that was served by 0 (the lowest
            // quarter, inside the lowest third) still is.
            if b == 0 {
                assert_eq!(a, 0);
            }
        }
        assert_eq!(counts[1], 0);
        for i in [0, 2, 3] {
            assert!((250..=420).contains(&counts[i]), "listener {i} got {}: {counts:?}", counts[i]);
        }
        // Close all but one: it serves everything.
        for i in [0, 3] {
            h.inet_unhash(&ls[i]);
        }
        assert!(ts.iter().all(|&t| owner(&h, &ls, t) == 2));
    }

    #[test]
    fn a_better_listener_outside_the_group_loses_to_an_earlier_group() {
        // inet_lhash2_lookup() returns the group's pick at the first score
        // improvement, without looking further down the chain. Chains are
        // newest first: the device-bound listener, hashed first, is last.
        let net = Net::new("t", Clock::new_virtual(), 7);
        let h = InetHashinfo::new(1024, SipKey([11, 12]));
        let any = Ipv4Addr::UNSPECIFIED;
        let dev = TcpSock::new(&net, 87380, 16384);
        dev.skc_state.store(TcpState::Listen as u8, Ordering::Release);
        dev.skc_bound_dev_if.store(1, Ordering::Relaxed);
        dev.set_skc_addrs(any, 80, any, 0);
        h.inet_hash(&dev);
        let g: Vec<_> = (0..2).map(|_| hashed_listener(&h, &net, any, 80, true)).collect();
        for t in tuples(50, 3) {
            let got = h.__inet_lookup_listener(t.0, t.1, LOCAL, 80, 1).unwrap();
            assert!(g.iter().any(|l| Arc::ptr_eq(l, &got)));
        }
        // Without the group (SO_REUSEPORT off), the device wins on score.
        for l in &g {
            l.skc_reuseport.store(false, Ordering::Relaxed);
        }
        let got = h.__inet_lookup_listener(LOCAL, 1, LOCAL, 80, 1).unwrap();
        assert!(Arc::ptr_eq(&got, &dev));
    }
}
