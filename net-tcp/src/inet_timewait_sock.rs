//! The timewait sock: what is left of a connection in TIME_WAIT (or an
//! orphan's short FIN_WAIT2), its slab and its timer.
//!
//! Mirrors include/net/inet_timewait_sock.h, net/ipv4/inet_timewait_sock.c
//! (`inet_twsk_alloc()`, `inet_twsk_hashdance_schedule()`,
//! `__inet_twsk_schedule()`, `inet_twsk_kill()`,
//! `inet_twsk_deschedule_put()`, `inet_twsk_bind_unhash()`) and
//! `struct tcp_timewait_sock` (include/linux/tcp.h) of **Linux 6.18**.
//!
//! Heads up: read RFC 9293 §3.6.1 (TIME-WAIT lasts 2 MSL so old duplicates
//! die out and the last ACK can be repeated), RFC 1337 ("TIME-WAIT
//! assassination hazards") and RFC 7323 §5 (PAWS, which is what makes
//! reusing a TIME_WAIT four-tuple safe) first.
//!
//! # Why a timewait sock
//!
//! The side that closes first holds the four-tuple for 60 s
//! (`TCP_TIMEWAIT_LEN`). A busy server that closes its connections would
//! hold tens of thousands of full sockets — queues, timers, congestion
//! state — that can do nothing but repeat one ACK. Linux frees the full
//! socket ([`crate::tcp::tcp_time_wait`]) and keeps a
//! `tcp_timewait_sock` of about 200 bytes in its place in `ehash`, holding
//! only what the last ACK, PAWS and the reopen test need; the size test
//! below prints ours next to [`TcpSock`]'s. `tcp_max_tw_buckets` bounds how
//! many exist: past it a closing socket skips TIME_WAIT
//! (`TCPTimeWaitOverflow`).
//!
//! # Where we differ
//!
//! - The slab ([`TimewaitSockSlab`], Linux's `twsk_slab`
//!   "tw_sock_TCP") holds an `Arc` per sock, as the request-sock slab does:
//!   growing it never moves a sock on an intrusive chain, and a free
//!   checks that the key still names *this* sock (keys are reused).
//!   The count of live socks is the slab's length (Linux: the death row's
//!   `tw_refcount` minus one).
//! - Timewait socks sit on a third chain of each `ehash` bucket
//!   ([`crate::inet_hashtables::InetEhashBucket::tws`]) and on a second
//!   owner list of each bind bucket (`tw_owners`); Linux keeps one chain of
//!   `sock_common`s for all.
//! - The fields a segment may change (`tw_rcv_nxt`, `tw_ts_recent`, …)
//!   are atomics, as Linux's `READ_ONCE`/`WRITE_ONCE`; there is no lock.
//! - No `tw_tos`/`tw_mark`/`tw_priority`/`tw_txhash`, no MD5/AO keys, no
//!   IPv6, no `tw_usec_ts` (our timestamps are in ms).
//! - Linux 2.6–5.x logged "TCP: time wait bucket table overflow"; 6.18
//!   only counts `TCPTimeWaitOverflow` (checked on this machine's 6.18
//!   kernel with `tcp_max_tw_buckets` = 0: the counter rose, the log stayed
//!   silent), and so do we.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use intrusive_collections::{LinkedListAtomicLink, intrusive_adapter};
use net_core::Net;
use net_core::net_namespace::TimerFunc;
use net_core::snmp::LinuxMib;
use net_core::timer::TimerId;

use crate::af_inet::TcpNet;
use crate::sock::TcpSock;
use crate::tcp_states::TcpState;

/// `LOOPBACK_IFINDEX`: the loopback device's index.
pub const LOOPBACK_IFINDEX: u32 = 1;

// ANCHOR: inet_timewait_sock
/// `struct inet_timewait_sock` + `struct tcp_timewait_sock`: a connection
/// in TIME_WAIT (or an orphan's FIN_WAIT2, `tw_substate`), in `ehash`
/// where its full socket was.
///
/// Its state for `ss` and `/proc` is always `TCP_TIME_WAIT`; `tw_substate`
/// says which of the two it stands for.
pub struct InetTimewaitSock {
    // --- sock_common: fixed at inet_twsk_alloc(), read by lookups ---
    /// `skc_addrpair`: (`tw_daddr` << 32) | `tw_rcv_saddr`, as
    /// [`TcpSock::skc_addrpair`].
    pub skc_addrpair: u64,
    /// `skc_portpair`: (`tw_dport` << 16) | `tw_num`.
    pub skc_portpair: u32,
    /// `tw_bound_dev_if`.
    pub tw_bound_dev_if: u32,
    /// `tw_hash`: the `ehash` hash of the four-tuple, the full socket's
    /// `sk_hash` (computed afresh if the socket was not hashed).
    pub tw_hash: u32,
    /// `tw_reuse`: the socket's `SO_REUSEADDR`, for bind conflicts.
    pub tw_reuse: bool,
    /// `tw_reuseport`: the socket's `SO_REUSEPORT`.
    pub tw_reuseport: bool,
    /// `tw_rcv_wscale`: our window shift, for the ACKs we repeat.
    pub tw_rcv_wscale: u8,
    /// Timestamps were agreed (`tp->rx_opt.tstamp_ok`). Linux has no such
    /// field: it reads "a TS.Recent is held" from `tw_ts_recent_stamp !=
    /// 0`, which on a real machine (whose monotonic clock is past its
    /// first second) means the same; a simulation's clock starts at 0,
    /// where that test would wrongly say no. See [`InetTimewaitSock::has_ts_recent`].
    pub tw_tstamp_ok: bool,
    /// Allows this sock on its ehash timewait chain; Linux: `tw_node`
    /// (the `sk_nulls_node` of its `sock_common`).
    pub hash_link: LinkedListAtomicLink,
    /// The id of the chain `hash_link` is on (0: none), written under that
    /// chain's lock ([`crate::inet_hashtables::HList`]); Linux needs none
    /// (`hlist_nulls_node::pprev`).
    pub hash_list_id: crate::inet_hashtables::HListId,
    /// Allows this sock on its bind bucket's `tw_owners`; Linux:
    /// `tw_bind_node`.
    pub bind_link: LinkedListAtomicLink,
    /// The id of the owner list `bind_link` is on (0: none), as
    /// `hash_list_id`.
    pub bind_list_id: crate::inet_hashtables::HListId,

    // --- written by tcp_timewait_state_process() (READ_ONCE/WRITE_ONCE) ---
    /// `tw_substate`: `TCP_TIME_WAIT` or `TCP_FIN_WAIT2` (as `u8`).
    pub tw_substate: AtomicU8,
    /// `tw_rcv_nxt`: the next sequence number we expect; a segment
    /// exactly here with no data can only be a RST or a bare ACK.
    pub tw_rcv_nxt: AtomicU32,
    /// `tw_ts_recent`: the peer's last TSval (RFC 7323 TS.Recent); 0 when
    /// timestamps were not agreed.
    pub tw_ts_recent: AtomicU32,
    /// `tw_ts_recent_stamp`: when `tw_ts_recent` was taken, in seconds
    /// (0: never — no PAWS, no reuse).
    pub tw_ts_recent_stamp: AtomicU64,
    /// `tw_entry_stamp`: when the sock entered TIME_WAIT, in ms
    /// (`tcp_clock_ms()`); `tcp_tw_reuse_delay` counts from here.
    pub tw_entry_stamp: AtomicU64,
    /// `tw_last_oow_ack_time`: the last answer to an out-of-window
    /// segment, jiffies (0: never), for `tcp_oow_rate_limited()`.
    pub tw_last_oow_ack_time: AtomicU32,

    // --- fixed at tcp_time_wait() ---
    /// `tw_snd_nxt`: our next sequence number (the FIN's end). A new
    /// incarnation starts at `tw_snd_nxt + 65535 + 2`.
    pub tw_snd_nxt: u32,
    /// `tw_rcv_wnd`: the window we last offered (`tcp_receive_window()`),
    /// unscaled.
    pub tw_rcv_wnd: u32,
    /// `tw_ts_offset`: the connection's `tsoffset`, added to our clock in
    /// TSval and taken off TSecr.
    pub tw_ts_offset: u32,

    /// `tw_timer`: ends the sock ([`tw_timer_handler`]).
    pub tw_timer: TimerId,
    /// This sock's key in [`TimewaitSockSlab`].
    pub slab_key: usize,
}
// ANCHOR_END: inet_timewait_sock

intrusive_adapter!(
    /// Threads [`InetTimewaitSock`]s on an ehash bucket's timewait chain.
    pub TwHashAdapter = Arc<InetTimewaitSock>: InetTimewaitSock { hash_link => LinkedListAtomicLink }
);
intrusive_adapter!(
    /// Threads [`InetTimewaitSock`]s on a bind bucket's `tw_owners`.
    pub TwBindAdapter = Arc<InetTimewaitSock>: InetTimewaitSock { bind_link => LinkedListAtomicLink }
);

impl std::fmt::Debug for InetTimewaitSock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InetTimewaitSock({}:{} <-> {}:{} {})",
            self.tw_rcv_saddr(),
            self.tw_num(),
            self.tw_daddr(),
            self.tw_dport(),
            self.substate().name()
        )
    }
}

impl InetTimewaitSock {
    /// `tw_rcv_saddr`: our address.
    pub fn tw_rcv_saddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.skc_addrpair as u32)
    }
    /// `tw_daddr`: the peer's address.
    pub fn tw_daddr(&self) -> Ipv4Addr {
        Ipv4Addr::from((self.skc_addrpair >> 32) as u32)
    }
    /// `tw_num`: our port.
    pub fn tw_num(&self) -> u16 {
        self.skc_portpair as u16
    }
    /// `tw_dport`: the peer's port.
    pub fn tw_dport(&self) -> u16 {
        (self.skc_portpair >> 16) as u16
    }
    /// Linux's `tcptw->tw_ts_recent_stamp != 0`: PAWS can run and reuse
    /// is safe. True when timestamps were agreed (see
    /// [`InetTimewaitSock::tw_tstamp_ok`]) or a stamp was taken.
    pub fn has_ts_recent(&self) -> bool {
        self.tw_tstamp_ok || self.tw_ts_recent_stamp.load(Ordering::Relaxed) != 0
    }
    /// `tw_state`: always `TCP_TIME_WAIT`.
    pub fn sk_state(&self) -> TcpState {
        TcpState::TimeWait
    }
    /// `tw_substate` as a [`TcpState`].
    pub fn substate(&self) -> TcpState {
        if self.tw_substate.load(Ordering::Relaxed) == TcpState::FinWait2 as u8 {
            TcpState::FinWait2
        } else {
            TcpState::TimeWait
        }
    }
    /// `INET_MATCH()` against an arriving segment, as [`TcpSock::inet_match`].
    #[inline]
    pub fn inet_match(&self, acookie: u64, ports: u32, dif: u32) -> bool {
        self.skc_addrpair == acookie
            && self.skc_portpair == ports
            && (self.tw_bound_dev_if == 0 || self.tw_bound_dev_if == dif)
    }
}

// ANCHOR: twsk_slab
/// `twsk_slab` (`kmem_cache_create("tw_sock_TCP")`) with the death row's
/// count (`tcp_death_row.tw_refcount`): every live timewait sock of the
/// namespace. The slab holds an `Arc`, so growing it moves only the
/// pointer, never a sock on an intrusive chain.
#[derive(Default)]
pub struct TimewaitSockSlab {
    slab: spin::Mutex<slab::Slab<Arc<InetTimewaitSock>>>,
    /// The most timewait socks alive at once.
    peak: std::sync::atomic::AtomicUsize,
}

impl TimewaitSockSlab {
    /// Timewait socks alive (`/proc/slabinfo`'s `active_objs` for
    /// `tw_sock_TCP`; `ss -s`'s "timewait").
    pub fn active_objs(&self) -> usize {
        self.slab.lock().len()
    }
    /// The most that were ever alive at once.
    pub fn active_objs_peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: twsk_slab

/// What `tcp_time_wait()` copies from the full socket into the timewait
/// sock.
#[derive(Clone, Copy, Debug)]
pub struct TwInit {
    /// `TCP_TIME_WAIT` or `TCP_FIN_WAIT2`.
    pub substate: TcpState,
    /// `tp->rcv_nxt`.
    pub rcv_nxt: u32,
    /// `tp->snd_nxt`.
    pub snd_nxt: u32,
    /// `tcp_receive_window(tp)`.
    pub rcv_wnd: u32,
    /// `tp->rx_opt.rcv_wscale`.
    pub rcv_wscale: u8,
    /// `tp->rx_opt.tstamp_ok`.
    pub tstamp_ok: bool,
    /// `tp->rx_opt.ts_recent`.
    pub ts_recent: u32,
    /// `tp->rx_opt.ts_recent_stamp`.
    pub ts_recent_stamp: u64,
    /// `tp->tsoffset`.
    pub ts_offset: u32,
}

// ANCHOR: inet_twsk_alloc
/// Mirrors `inet_twsk_alloc()` (net/ipv4/inet_timewait_sock.c): a
/// timewait sock with `sk`'s identity (four-tuple, bound device, reuse
/// flags) and `init`'s TCP state, its timer set up but not armed — or
/// `None` when `tcp_max_tw_buckets` socks already exist ("refcount_read(
/// &dr->tw_refcount) - 1 >= sysctl_max_tw_buckets"), and the caller just
/// closes the socket.
pub fn inet_twsk_alloc(net: &Net, tn: &TcpNet, sk: &TcpSock, init: &TwInit) -> Option<Arc<InetTimewaitSock>> {
    let max = tn.sysctl.tcp_max_tw_buckets.get().max(0) as usize;
    let mut slab = tn.twsk_slab.slab.lock();
    if slab.len() >= max {
        return None;
    }
    let entry = slab.vacant_entry();
    let key = entry.key();
    let tw = Arc::new_cyclic(|w: &std::sync::Weak<InetTimewaitSock>| {
        // The timer holds a weak pointer to the sock (Linux:
        // `from_timer(tw, t, tw_timer)`): no allocation.
        let w: std::sync::Weak<dyn std::any::Any + Send + Sync> = w.clone();
        let tw_timer = net.timer_setup(TimerFunc::Weak(
            |net, c| {
                if let Ok(tw) = c.downcast::<InetTimewaitSock>() {
                    tw_timer_handler(net, &tw);
                }
            },
            w,
        ));
        InetTimewaitSock {
            skc_addrpair: sk.skc_addrpair.load(Ordering::Acquire),
            skc_portpair: sk.skc_portpair.load(Ordering::Acquire),
            tw_bound_dev_if: sk.skc_bound_dev_if.load(Ordering::Relaxed),
            tw_hash: tn.hashinfo.sk_hash(sk),
            tw_reuse: sk.skc_reuse.load(Ordering::Relaxed),
            tw_reuseport: sk.skc_reuseport.load(Ordering::Relaxed),
            tw_rcv_wscale: init.rcv_wscale,
            tw_tstamp_ok: init.tstamp_ok,
            hash_link: LinkedListAtomicLink::new(),
            hash_list_id: crate::inet_hashtables::HListId::new(),
            bind_link: LinkedListAtomicLink::new(),
            bind_list_id: crate::inet_hashtables::HListId::new(),
            tw_substate: AtomicU8::new(init.substate as u8),
            tw_rcv_nxt: AtomicU32::new(init.rcv_nxt),
            tw_ts_recent: AtomicU32::new(init.ts_recent),
            tw_ts_recent_stamp: AtomicU64::new(init.ts_recent_stamp),
            tw_entry_stamp: AtomicU64::new(net.now_ns() / 1_000_000),
            tw_last_oow_ack_time: AtomicU32::new(0),
            tw_snd_nxt: init.snd_nxt,
            tw_rcv_wnd: init.rcv_wnd,
            tw_ts_offset: init.ts_offset,
            tw_timer,
            slab_key: key,
        }
    });
    entry.insert(Arc::clone(&tw));
    tn.twsk_slab.peak.fetch_max(slab.len(), Ordering::Relaxed);
    Some(tw)
}
// ANCHOR_END: inet_twsk_alloc

// ANCHOR: inet_twsk_hashdance_schedule
/// Mirrors `inet_twsk_hashdance_schedule()`: put `tw` in `sk`'s place.
///
/// Under the bind bucket's lock `tw` becomes an owner of the port
/// (`inet_twsk_add_bind_node()`), so the port stays in use until `tw`
/// dies; under the ehash bucket's lock `tw` is hashed and `sk` unhashed in
/// one step, so a lookup finds one or the other, never neither; then the
/// timer is armed for `timeo` jiffies ([`__inet_twsk_schedule`], which
/// counts `TW` — or `TWKilled` for a timeout of 4 s or less — at once).
/// The caller then closes `sk` (`tcp_done()`), which leaves its bind
/// bucket.
#[doc(alias = "inet_twsk_hashdance")]
pub fn inet_twsk_hashdance_schedule(
    net: &Net,
    tn: &TcpNet,
    tw: &Arc<InetTimewaitSock>,
    sk: &Arc<TcpSock>,
    timeo: u32,
) {
    tn.hashinfo.inet_twsk_bind_hash(tw);
    tn.hashinfo.inet_ehash_swap_tw(sk, tw);
    __inet_twsk_schedule(net, tw, timeo, false);
}
// ANCHOR_END: inet_twsk_hashdance_schedule

// ANCHOR: inet_twsk_schedule
/// Mirrors `__inet_twsk_schedule()`: arm the timer for `timeo` jiffies.
/// A first arming (`rearm` false) counts the sock — `TWKilled` when
/// `timeo` is 4 s or less ("kill" — an RTO-based FIN_WAIT2), `TW`
/// otherwise — as Linux does when the sock is scheduled, not when it
/// expires. A re-arming (`inet_twsk_reschedule()`) only moves a pending
/// timer (`mod_timer_pending()`).
pub fn __inet_twsk_schedule(net: &Net, tw: &InetTimewaitSock, timeo: u32, rearm: bool) {
    let expires = net.jiffies() + u64::from(timeo);
    if !rearm {
        let kill = u64::from(timeo) <= 4 * net_core::jiffies::HZ;
        net.mib.inc(if kill { LinuxMib::TWKilled } else { LinuxMib::TW });
        net.mod_timer(tw.tw_timer, expires);
    } else if net.timer_pending(tw.tw_timer) {
        net.mod_timer(tw.tw_timer, expires);
    }
}

/// `inet_twsk_reschedule()`: restart a pending timer for `timeo`.
pub fn inet_twsk_reschedule(net: &Net, tw: &InetTimewaitSock, timeo: u32) {
    __inet_twsk_schedule(net, tw, timeo, true);
}
// ANCHOR_END: inet_twsk_schedule

// ANCHOR: inet_twsk_kill
/// Mirrors `tw_timer_handler()`: the time is up; the sock dies
/// ([`inet_twsk_kill`]).
pub fn tw_timer_handler(net: &Net, tw: &Arc<InetTimewaitSock>) {
    inet_twsk_kill(net, tw);
}

/// Mirrors `inet_twsk_kill()`: unhash `tw` from `ehash`, leave its bind
/// bucket (`inet_twsk_bind_unhash()`, freeing the bucket when it was the
/// last owner) and free it (`inet_twsk_free()`: the slab slot, if it
/// still holds this very sock — keys are reused — and the timer).
/// Idempotent: a second call finds it on no list and in no slot.
pub fn inet_twsk_kill(net: &Net, tw: &InetTimewaitSock) {
    let Some(tn) = net.net_generic::<TcpNet>() else { return };
    tn.hashinfo.inet_ehash_remove_tw(tw);
    tn.hashinfo.inet_twsk_bind_unhash(tw);
    inet_twsk_free(net, tn, tw);
}

/// `inet_twsk_free()`: the slab slot and the timer.
fn inet_twsk_free(net: &Net, tn: &TcpNet, tw: &InetTimewaitSock) {
    net.timer_shutdown(tw.tw_timer);
    let mut slab = tn.twsk_slab.slab.lock();
    if slab.get(tw.slab_key).is_some_and(|t| std::ptr::eq(&**t, tw)) {
        slab.remove(tw.slab_key);
    }
}

/// Mirrors `inet_twsk_deschedule_put()`: stop the timer and kill the sock
/// now (a RST ended TIME_WAIT, a SYN reopened it, `connect()` reused it).
pub fn inet_twsk_deschedule_put(net: &Net, tw: &InetTimewaitSock) {
    net.del_timer(tw.tw_timer);
    inet_twsk_kill(net, tw);
}
// ANCHOR_END: inet_twsk_kill

/// The state `ss -tan` shows for the connection `sk` carried, as
/// `inet_diag` reports it: the substate of the timewait sock that holds
/// its four-tuple (TIME-WAIT, or an orphan's FIN-WAIT-2) — the full socket
/// itself is CLOSE by then — else the socket's own state. Takes `sk`'s
/// lock; the caller must not hold it.
pub fn inet_sk_diag_state(net: &Net, sk: &TcpSock) -> TcpState {
    let state = sk.sk_state();
    if state != TcpState::Close {
        return state;
    }
    let Some(tn) = net.net_generic::<TcpNet>() else { return state };
    // tcp_set_state(CLOSE) kept the port in inet_sport.
    let lport = sk.lock.lock().inet_sport;
    let dif = sk.skc_bound_dev_if.load(Ordering::Relaxed);
    tn.hashinfo
        .inet_lookup_timewait(sk.inet_daddr(), sk.inet_dport(), sk.inet_rcv_saddr(), lport, dif)
        .map_or(state, |tw| tw.substate())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(state: TcpState) -> TwInit {
        TwInit {
            substate: state,
            rcv_nxt: 1,
            snd_nxt: 2,
            rcv_wnd: 65535,
            rcv_wscale: 7,
            tstamp_ok: true,
            ts_recent: 100,
            ts_recent_stamp: 0,
            ts_offset: 0,
        }
    }

    #[test]
    fn a_reused_slab_key_is_not_freed_by_the_old_sock() {
        let net = Net::new("t", net_core::Clock::new_virtual(), 1);
        let tn = crate::inet_init(&net);
        let sk = TcpSock::new(&net, 1000, 1000);
        sk.set_skc_addrs(Ipv4Addr::new(10, 0, 0, 1), 40000, Ipv4Addr::new(10, 0, 0, 2), 80);
        let a = inet_twsk_alloc(&net, &tn, &sk, &init(TcpState::TimeWait)).unwrap();
        assert_eq!(a.substate(), TcpState::TimeWait);
        assert!(a.has_ts_recent());
        inet_twsk_kill(&net, &a);
        assert_eq!(tn.twsk_slab.active_objs(), 0);
        // The slab hands the same key to the next sock...
        let b = inet_twsk_alloc(&net, &tn, &sk, &init(TcpState::FinWait2)).unwrap();
        assert_eq!(b.slab_key, a.slab_key);
        assert_eq!(b.substate(), TcpState::FinWait2);
        // ...which a late second kill of the old one must not free.
        inet_twsk_deschedule_put(&net, &a);
        assert_eq!(tn.twsk_slab.active_objs(), 1);
        inet_twsk_deschedule_put(&net, &b);
        assert_eq!(tn.twsk_slab.active_objs(), 0);
    }

    #[test]
    fn inet_twsk_alloc_refuses_past_tcp_max_tw_buckets() {
        let net = Net::new("t", net_core::Clock::new_virtual(), 1);
        let tn = crate::inet_init(&net);
        net.sysctl.set("net.ipv4.tcp_max_tw_buckets", "1").unwrap();
        let sk = TcpSock::new(&net, 1000, 1000);
        let a = inet_twsk_alloc(&net, &tn, &sk, &init(TcpState::TimeWait));
        assert!(a.is_some());
        assert!(inet_twsk_alloc(&net, &tn, &sk, &init(TcpState::TimeWait)).is_none());
        inet_twsk_kill(&net, &a.unwrap());
        assert!(inet_twsk_alloc(&net, &tn, &sk, &init(TcpState::TimeWait)).is_some());
    }

    #[test]
    fn timewait_sock_is_far_smaller_than_a_full_socket() {
        let tw = std::mem::size_of::<InetTimewaitSock>();
        let full = std::mem::size_of::<TcpSock>();
        let req = std::mem::size_of::<crate::request_sock::RequestSock>();
        println!("size_of::<InetTimewaitSock>() = {tw} bytes (Linux's tcp_timewait_sock: about 200)");
        println!("size_of::<RequestSock>() = {req} bytes");
        println!("size_of::<TcpSock>() = {full} bytes");
        println!("a full socket is {:.1}x a timewait sock", full as f64 / tw as f64);
        assert!(
            tw * 4 < full,
            "a timewait sock ({tw} B) should be far smaller than a full socket ({full} B)"
        );
        assert!(tw <= 200, "{tw}");
    }
}
