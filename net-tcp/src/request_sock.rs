//! The request sock — a half-open connection's mini socket — its slab, and
//! the listener's request/accept queue accounting.
//!
//! Mirrors include/net/request_sock.h, net/core/request_sock.c and the
//! reqsk parts of net/ipv4/inet_connection_sock.c (`inet_reqsk_alloc()`,
//! `inet_csk_reqsk_queue_hash_add()`, `reqsk_timer_handler()`,
//! `inet_csk_reqsk_queue_drop()`) of **Linux 6.18**, with the TCP fields of
//! `struct tcp_request_sock` (include/linux/tcp.h) and
//! `struct inet_request_sock` (include/net/inet_sock.h) flattened in.
//!
//! Heads up: read RFC 9293 §3.5 (the three-way handshake) and RFC 4987
//! (SYN flooding and its defences: why the half-open state must be small)
//! first.
//!
//! # Why a request sock
//!
//! A SYN costs the attacker one packet. If each SYN allocated a full
//! [`TcpSock`] (a `TcpSk` of queues, timers, congestion state), a flood of spoofed SYNs would exhaust memory. Linux
//! answers a SYN with a `request_sock` of a couple of hundred bytes (ours:
//! 128 bytes, against 952 for a [`TcpSock`] with its `TcpSk` — see the
//! size test below — before any queue or timer allocates) that
//! only remembers what the SYN-ACK promised (the ISNs, the MSS, the options
//! agreed), hashed in `ehash` in state `TCP_NEW_SYN_RECV` (since 4.4; 3.10
//! kept them in the listener's `syn_table`). The full socket is built only
//! when the final ACK proves the peer is real (`tcp_check_req()`,
//! [`crate::tcp_minisocks`]).
//!
//! # The two queues
//!
//! - The *request queue* is not a list any more: it is the request socks in
//!   `ehash` that point to this listener, counted in
//!   [`RequestSockQueue::qlen`] (`young` counts those whose SYN-ACK was never
//!   retransmitted). `inet_csk_reqsk_queue_is_full()` compares `qlen` with
//!   the backlog.
//! - The *accept queue* holds full sockets whose handshake completed, until
//!   `accept()` takes them; its length is `sk_ack_backlog`, its limit
//!   `sk_max_ack_backlog` (`listen()`'s backlog).
//!
//! # Where we differ
//!
//! - Request socks are not `sock_common`s: Linux's ehash chain holds full
//!   sockets, timewait socks and request socks on one `hlist_nulls` of
//!   `sock_common`; ours holds [`TcpSock`]s and, beside it in the same
//!   bucket, a second chain of [`RequestSock`]s (see
//!   [`crate::inet_hashtables::InetEhashBucket`]). Lookups walk both under
//!   the bucket's lock.
//! - The slab ([`RequestSockSlab`], Linux's `tcp_request_sock_ops.slab`)
//!   holds an `Arc` per request sock, so the intrusive chain never sees a
//!   value the slab moved when it grew; the sock remembers its key, and a
//!   free checks the key still names *this* sock (keys are reused).
//! - The accept queue links the children themselves (an intrusive FIFO
//!   through `TcpSock::accept_link`, under the listener's lock), not the
//!   request socks (`rskq_accept_head`, linked through `req->dl_next`):
//!   Linux keeps the request sock until `accept()`, we free it at the
//!   hashdance.
//! - No `rskq_defer_accept` (`TCP_DEFER_ACCEPT`), no Fast Open queue, no
//!   SO_REUSEPORT request migration.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use intrusive_collections::{LinkedListAtomicLink, intrusive_adapter};
use net_core::Net;
use net_core::net_namespace::TimerFunc;
use net_core::snmp::LinuxMib;
use net_core::timer::TimerId;

use crate::af_inet::TcpNet;
use crate::sock::{TCP_RTO_MAX, TCP_TIMEOUT_INIT, TcpSock};
use crate::tcp_states::TcpState;

// ANCHOR: request_sock
/// `struct request_sock` + `inet_request_sock` + `tcp_request_sock`: one
/// half-open passive connection, in state `TCP_NEW_SYN_RECV`.
///
/// The four-tuple and everything the SYN-ACK promised are fixed when the
/// SYN is accepted ([`crate::tcp_ipv4::tcp_conn_request`]); only the
/// retransmission counters, `ts_recent` and `acked` change afterwards, so
/// they are atomics and the sock needs no lock.
pub struct RequestSock {
    // --- sock_common: read by the ehash lookup ---
    /// `skc_addrpair`: (`ir_rmt_addr` << 32) | `ir_loc_addr`, as
    /// [`TcpSock::skc_addrpair`] (compares with `INET_ADDR_COOKIE`).
    pub skc_addrpair: u64,
    /// `skc_portpair`: (`ir_rmt_port` << 16) | `ir_num`.
    pub skc_portpair: u32,
    /// `ir_iif` / `skc_bound_dev_if` of the listener.
    pub skc_bound_dev_if: u32,
    /// `skc_hash`: the `ehash` hash of the four-tuple, stored when the
    /// request is hashed (`inet_ehash_insert()`), so unhashing it or
    /// swapping its child in finds the chain without hashing again. 0 in a
    /// request never hashed (a cookie's), whose chain nobody looks for.
    pub skc_hash: AtomicU32,
    /// Allows this sock on its ehash request chain; Linux: `sk_nulls_node`
    /// of `req->__req_common`.
    pub hash_link: LinkedListAtomicLink,
    /// The id of the chain `hash_link` is on (0: none), written under that
    /// chain's lock ([`crate::inet_hashtables::HList`]); Linux needs none
    /// (`hlist_nulls_node::pprev`).
    pub hash_list_id: crate::inet_hashtables::HListId,

    // --- request_sock ---
    /// `rsk_listener`: the listener the SYN reached.
    pub rsk_listener: Weak<TcpSock>,
    /// `rsk_timer`: retransmits the SYN-ACK ([`reqsk_timer_handler`]).
    /// Set up when the request is hashed (`reqsk_queue_hash_req()`'s
    /// `timer_setup()`); a cookie's request sock, never hashed, has none.
    /// A `spin::Once`: set once, by the one thread that hashes the request,
    /// so nobody ever waits on it.
    pub rsk_timer: spin::Once<TimerId>,
    /// `timeout`: the first SYN-ACK timeout (`tcp_timeout_init()`, 1 s).
    pub timeout: u32,
    /// `num_retrans`: SYN-ACKs retransmitted.
    pub num_retrans: AtomicU8,
    /// `num_timeout`: times the timer fired (`young` while 0).
    pub num_timeout: AtomicU8,
    /// `mss`: the peer's MSS (`tmp_opt.mss_clamp`, bounded by `TCP_MAXSEG`).
    pub mss: u16,
    /// `rsk_rcv_wnd`: the window the SYN-ACK offers (`tcp_openreq_init_rwin()`).
    pub rsk_rcv_wnd: u32,
    /// `rsk_window_clamp`: the largest window the child may offer.
    pub rsk_window_clamp: u32,
    /// `ts_recent`: the TSval we echo.
    pub ts_recent: AtomicU32,

    // --- inet_request_sock ---
    /// `snd_wscale`: the peer's shift.
    pub snd_wscale: u8,
    /// `rcv_wscale`: our shift.
    pub rcv_wscale: u8,
    /// `tstamp_ok`.
    pub tstamp_ok: bool,
    /// `sack_ok`.
    pub sack_ok: bool,
    /// `wscale_ok`.
    pub wscale_ok: bool,
    /// `acked`: the final ACK came but the accept queue was full (with
    /// `TCP_DEFER_ACCEPT`, which we lack, it changes what the timer does).
    pub acked: AtomicBool,

    // --- tcp_request_sock ---
    /// `rcv_isn`: the peer's ISN.
    pub rcv_isn: u32,
    /// `snt_isn`: our ISN.
    pub snt_isn: u32,
    /// `ts_off`: added to our clock in TSval (`secure_tcp_ts_off()`).
    pub ts_off: u32,
    /// `advmss` of the route (`tcp_mss_clamp(dst_metric_advmss(dst))`),
    /// carried in the SYN-ACK's MSS option; Linux recomputes it from the
    /// route each time.
    pub advmss: u16,
    /// The path MTU the route reported when the SYN came.
    pub pmtu: u16,
    /// `snt_synack`: when the first SYN-ACK left, in ns (for the child's
    /// first RTT sample, `tcp_synack_rtt_meas()`).
    pub snt_synack: AtomicU64,
    /// `snt_tsval_first`: TSval of the first SYN-ACK (with `ts_off`).
    pub snt_tsval_first: AtomicU32,
    /// `snt_tsval_last`: TSval of the latest SYN-ACK; a TSecr outside
    /// `first..=last` is rejected (`TSEcrRejected`).
    pub snt_tsval_last: AtomicU32,
    /// `last_oow_ack_time`: rate limit of answers to out-of-window
    /// segments (`tcp_oow_rate_limited()`), jiffies.
    pub last_oow_ack_time: AtomicU32,
    /// This sock's key in [`RequestSockSlab`].
    pub slab_key: usize,
}
// ANCHOR_END: request_sock

intrusive_adapter!(
    /// Threads [`RequestSock`]s on an ehash bucket's request chain.
    pub ReqHashAdapter = Arc<RequestSock>: RequestSock { hash_link => LinkedListAtomicLink }
);

impl std::fmt::Debug for RequestSock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RequestSock({}:{} <- {}:{} NEW_SYN_RECV)",
            self.ir_loc_addr(),
            self.ir_num(),
            self.ir_rmt_addr(),
            self.ir_rmt_port()
        )
    }
}

impl RequestSock {
    /// `ir_loc_addr`.
    pub fn ir_loc_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.skc_addrpair as u32)
    }
    /// `ir_rmt_addr`.
    pub fn ir_rmt_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from((self.skc_addrpair >> 32) as u32)
    }
    /// `ir_num`: our port.
    pub fn ir_num(&self) -> u16 {
        self.skc_portpair as u16
    }
    /// `ir_rmt_port`.
    pub fn ir_rmt_port(&self) -> u16 {
        (self.skc_portpair >> 16) as u16
    }
    /// The state every request sock is in.
    pub fn sk_state(&self) -> TcpState {
        TcpState::NewSynRecv
    }
    /// `INET_MATCH()` against an arriving segment, as [`TcpSock::inet_match`].
    #[inline]
    pub fn inet_match(&self, acookie: u64, ports: u32, dif: u32) -> bool {
        self.skc_addrpair == acookie
            && self.skc_portpair == ports
            && (self.skc_bound_dev_if == 0 || self.skc_bound_dev_if == dif)
    }
    /// `tcp_rsk(req)->rcv_nxt`: `rcv_isn + 1`.
    pub fn rcv_nxt(&self) -> u32 {
        self.rcv_isn.wrapping_add(1)
    }
}

/// What [`inet_reqsk_alloc`] needs to know about the SYN and what was
/// agreed (`tcp_openreq_init()` + `tcp_openreq_init_rwin()`'s results).
#[derive(Clone, Copy, Debug)]
pub struct ReqInit {
    /// Our address.
    pub loc_addr: Ipv4Addr,
    /// Our port.
    pub loc_port: u16,
    /// The peer's address.
    pub rmt_addr: Ipv4Addr,
    /// The peer's port.
    pub rmt_port: u16,
    /// The listener's bound device.
    pub bound_dev_if: u32,
    /// See [`RequestSock`].
    pub rcv_isn: u32,
    /// See [`RequestSock`].
    pub snt_isn: u32,
    /// See [`RequestSock`].
    pub mss: u16,
    /// See [`RequestSock`].
    pub advmss: u16,
    /// See [`RequestSock`].
    pub pmtu: u16,
    /// See [`RequestSock`].
    pub rsk_rcv_wnd: u32,
    /// See [`RequestSock`].
    pub rsk_window_clamp: u32,
    /// See [`RequestSock`].
    pub ts_recent: u32,
    /// See [`RequestSock`].
    pub ts_off: u32,
    /// See [`RequestSock`].
    pub snd_wscale: u8,
    /// See [`RequestSock`].
    pub rcv_wscale: u8,
    /// See [`RequestSock`].
    pub tstamp_ok: bool,
    /// See [`RequestSock`].
    pub sack_ok: bool,
    /// See [`RequestSock`].
    pub wscale_ok: bool,
}

impl Default for ReqInit {
    fn default() -> ReqInit {
        ReqInit {
            loc_addr: Ipv4Addr::UNSPECIFIED,
            loc_port: 0,
            rmt_addr: Ipv4Addr::UNSPECIFIED,
            rmt_port: 0,
            bound_dev_if: 0,
            rcv_isn: 0,
            snt_isn: 0,
            mss: 0,
            advmss: 0,
            pmtu: 0,
            rsk_rcv_wnd: 0,
            rsk_window_clamp: 0,
            ts_recent: 0,
            ts_off: 0,
            snd_wscale: 0,
            rcv_wscale: 0,
            tstamp_ok: false,
            sack_ok: false,
            wscale_ok: false,
        }
    }
}

// ANCHOR: request_sock_slab
/// `tcp_request_sock_ops.slab` (`kmem_cache_create("request_sock_TCP")`):
/// every live request sock of the namespace. The slab holds an `Arc`, so
/// growing it moves only the pointer, never a sock on an intrusive chain.
#[derive(Default)]
pub struct RequestSockSlab {
    slab: spin::Mutex<slab::Slab<Arc<RequestSock>>>,
    /// The most request socks alive at once, updated under the slab's lock.
    peak: std::sync::atomic::AtomicUsize,
}

impl RequestSockSlab {
    /// Request socks allocated and not yet freed
    /// (`/proc/slabinfo`'s `active_objs` for `request_sock_TCP`).
    pub fn active_objs(&self) -> usize {
        self.slab.lock().len()
    }

    /// The most request socks that were ever alive at once: what a flood
    /// test bounds. No Linux counter; `/proc/slabinfo`'s `num_objs` (slots
    /// in the cache's pages, used or not) is its page-granular cousin.
    pub fn active_objs_peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: request_sock_slab

// ANCHOR: inet_reqsk_alloc
/// Mirrors `inet_reqsk_alloc()` / `reqsk_alloc()`: a new request sock from
/// the slab, its listener remembered. Its timer is set up only if it is
/// hashed ([`inet_csk_reqsk_queue_hash_add`]), as `reqsk_queue_hash_req()`
/// does: a cookie's SYN-ACK is built from a request sock that never is.
/// Linux fails with NULL when the slab allocation fails; ours cannot.
pub fn inet_reqsk_alloc(tn: &TcpNet, listener: &Arc<TcpSock>, init: &ReqInit) -> Arc<RequestSock> {
    let mut slab = tn.reqsk_slab.slab.lock();
    let entry = slab.vacant_entry();
    let key = entry.key();
    let req = Arc::new(RequestSock {
        skc_addrpair: (u64::from(u32::from(init.rmt_addr)) << 32) | u64::from(u32::from(init.loc_addr)),
        skc_portpair: (u32::from(init.rmt_port) << 16) | u32::from(init.loc_port),
        skc_bound_dev_if: init.bound_dev_if,
        skc_hash: AtomicU32::new(0),
        hash_link: LinkedListAtomicLink::new(),
        hash_list_id: crate::inet_hashtables::HListId::new(),
        rsk_listener: Arc::downgrade(listener),
        rsk_timer: spin::Once::new(),
        timeout: TCP_TIMEOUT_INIT,
        num_retrans: AtomicU8::new(0),
        num_timeout: AtomicU8::new(0),
        mss: init.mss,
        rsk_rcv_wnd: init.rsk_rcv_wnd,
        rsk_window_clamp: init.rsk_window_clamp,
        ts_recent: AtomicU32::new(init.ts_recent),
        snd_wscale: init.snd_wscale,
        rcv_wscale: init.rcv_wscale,
        tstamp_ok: init.tstamp_ok,
        sack_ok: init.sack_ok,
        wscale_ok: init.wscale_ok,
        acked: AtomicBool::new(false),
        rcv_isn: init.rcv_isn,
        snt_isn: init.snt_isn,
        ts_off: init.ts_off,
        advmss: init.advmss,
        pmtu: init.pmtu,
        snt_synack: AtomicU64::new(0),
        snt_tsval_first: AtomicU32::new(0),
        snt_tsval_last: AtomicU32::new(0),
        last_oow_ack_time: AtomicU32::new(0),
        slab_key: key,
    });
    entry.insert(req.clone());
    tn.reqsk_slab.peak.fetch_max(slab.len(), Ordering::Relaxed);
    req
}

/// Mirrors `reqsk_free()` / `__reqsk_free()`: give the sock's slot back
/// and free its timer. The slot is freed only if it still holds this very
/// sock (a key may have been reused). Idempotent.
pub fn reqsk_free(net: &Net, tn: &TcpNet, req: &RequestSock) {
    if let Some(&t) = req.rsk_timer.get() {
        net.timer_shutdown(t);
    }
    let mut slab = tn.reqsk_slab.slab.lock();
    if slab.get(req.slab_key).is_some_and(|r| std::ptr::eq(&**r, req)) {
        slab.remove(req.slab_key);
    }
}
// ANCHOR_END: inet_reqsk_alloc

// ANCHOR: request_sock_queue
/// `struct request_sock_queue` (`icsk_accept_queue`), the counters part:
/// read and written without the listener's lock, as Linux's atomics are.
/// The accept queue itself is `TcpSk::accept_queue`, under the lock.
#[derive(Debug, Default)]
pub struct RequestSockQueue {
    /// `qlen`: request socks of this listener in ehash.
    pub qlen: AtomicU32,
    /// `young`: those whose timer never fired.
    pub young: AtomicU32,
    /// `synflood_warned`: "Possible SYN flooding" was logged.
    pub synflood_warned: AtomicBool,
}

impl RequestSockQueue {
    /// `reqsk_queue_added()`.
    pub fn reqsk_queue_added(&self) {
        self.young.fetch_add(1, Ordering::Relaxed);
        self.qlen.fetch_add(1, Ordering::Relaxed);
    }

    /// `reqsk_queue_removed()`: `young` drops too if the request never
    /// timed out.
    pub fn reqsk_queue_removed(&self, req: &RequestSock) {
        if req.num_timeout.load(Ordering::Relaxed) == 0 {
            let _ = self.young.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
        }
        let _ = self.qlen.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// `reqsk_queue_len()`.
    pub fn reqsk_queue_len(&self) -> u32 {
        self.qlen.load(Ordering::Relaxed)
    }

    /// `reqsk_queue_len_young()`.
    pub fn reqsk_queue_len_young(&self) -> u32 {
        self.young.load(Ordering::Relaxed)
    }
}

/// `inet_csk_reqsk_queue_len()`.
pub fn inet_csk_reqsk_queue_len(listener: &TcpSock) -> u32 {
    listener.icsk_accept_queue.reqsk_queue_len()
}

/// Mirrors `inet_csk_reqsk_queue_is_full()` (include/net/inet_connection_sock.h):
/// `qlen > sk_max_ack_backlog` (`>=` until 2024's "tcp: fix incorrect
/// judgement", which made it agree with [`sk_acceptq_is_full`]) — the
/// request queue is bounded by the backlog; `tcp_max_syn_backlog` bounds
/// it only without syncookies, in [`crate::tcp_ipv4::tcp_conn_request`].
pub fn inet_csk_reqsk_queue_is_full(listener: &TcpSock) -> bool {
    inet_csk_reqsk_queue_len(listener) > listener.sk_max_ack_backlog.load(Ordering::Relaxed)
}

/// Mirrors `sk_acceptq_is_full()` (include/net/sock.h): `sk_ack_backlog >
/// sk_max_ack_backlog` — strictly greater, so a backlog of N holds N + 1.
pub fn sk_acceptq_is_full(listener: &TcpSock) -> bool {
    listener.sk_ack_backlog.load(Ordering::Relaxed) > listener.sk_max_ack_backlog.load(Ordering::Relaxed)
}
// ANCHOR_END: request_sock_queue

// ANCHOR: inet_csk_reqsk_queue_hash_add
/// Mirrors `inet_csk_reqsk_queue_hash_add()` → `reqsk_queue_hash_req()` +
/// `inet_csk_reqsk_queue_added()`: hash the request in ehash (refused if
/// its four-tuple is already there — a duplicate SYN racing us), arm its
/// timer for `timeout`, and count it in the listener's `qlen`/`young`.
pub fn inet_csk_reqsk_queue_hash_add(
    net: &Net,
    tn: &TcpNet,
    listener: &TcpSock,
    req: &Arc<RequestSock>,
    timeout: u32,
) -> bool {
    // The timer exists before the request can be found in ehash, so
    // whoever finds it (and may free it) sees its timer.
    // A weak pointer to the request is all the timer holds (Linux:
    // `from_timer(req, t, rsk_timer)`): no allocation.
    let timer = *req.rsk_timer.call_once(|| {
        let w: Weak<dyn std::any::Any + Send + Sync> = Arc::downgrade(req) as Weak<RequestSock>;
        net.timer_setup(TimerFunc::Weak(
            |net, c| {
                if let Ok(req) = c.downcast::<RequestSock>() {
                    reqsk_timer_handler(net, &req);
                }
            },
            w,
        ))
    });
    if !tn.hashinfo.inet_ehash_insert_req(req) {
        return false;
    }
    net.mod_timer(timer, net.jiffies() + u64::from(timeout));
    listener.icsk_accept_queue.reqsk_queue_added();
    true
}
// ANCHOR_END: inet_csk_reqsk_queue_hash_add

/// Mirrors `inet_csk_reqsk_queue_drop()`: unlink the request from ehash
/// (`reqsk_queue_unlink()`); if this call unlinked it, stop its timer,
/// take it off the listener's counts (`reqsk_queue_removed()`) and free
/// it. Returns whether it was still hashed (only one caller wins).
pub fn inet_csk_reqsk_queue_drop(net: &Net, tn: &TcpNet, req: &RequestSock) -> bool {
    let unlinked = tn.hashinfo.inet_ehash_remove_req(req);
    if unlinked {
        if let Some(l) = req.rsk_listener.upgrade() {
            l.icsk_accept_queue.reqsk_queue_removed(req);
        }
        reqsk_free(net, tn, req);
    }
    unlinked
}

// ANCHOR: inet_csk_reqsk_queue_add
/// Mirrors `inet_csk_reqsk_queue_add()`: append a child to the listener's
/// accept queue (`sk_acceptq_added()`: `sk_ack_backlog` + 1) and wake
/// `accept()`; if the listener stopped listening meanwhile, the child is
/// forgotten instead ([`inet_child_forget`]). Takes the listener's lock
/// (Linux: `rskq_lock`); the child's must not be held.
pub fn inet_csk_reqsk_queue_add(net: &Net, tn: &TcpNet, listener: &TcpSock, child: &Arc<TcpSock>) -> bool {
    let mut lp = listener.lock.lock();
    if lp.state != TcpState::Listen {
        drop(lp);
        inet_child_forget(net, tn, child);
        return false;
    }
    lp.accept_queue.push_back(Arc::clone(child));
    listener.sk_ack_backlog.fetch_add(1, Ordering::Relaxed); // sk_acceptq_added()
    drop(lp);
    crate::tcp::wake(listener);
    true
}

/// Mirrors `inet_child_forget()`: a child nobody will accept — its
/// listener closed — is disconnected (a RST if it was synchronized or in
/// SYN_RECV, `tcp_disconnect()`), orphaned and destroyed.
pub fn inet_child_forget(net: &Net, tn: &TcpNet, child: &Arc<TcpSock>) {
    let mut cp = child.lock.lock();
    crate::tcp::tcp_disconnect_abort(net, tn, child, &mut cp);
    // sock_orphan(); this_cpu_inc(*sk->sk_prot->orphan_count)
    cp.dead = true;
    tn.tcp_orphan_count.inc(net.jiffies());
    crate::tcp::inet_csk_destroy_sock(net, child, &mut cp);
}

/// Mirrors `inet_csk_complete_hashdance()` for `own_req`: the child took
/// the request's place in ehash, so the request leaves the listener's
/// count (`reqsk_queue_removed()`), its timer stops and it is freed; the
/// child goes on the accept queue ([`inet_csk_reqsk_queue_add`]). False if
/// the listener had stopped listening (the child was forgotten).
pub fn inet_csk_complete_hashdance(
    net: &Net,
    tn: &TcpNet,
    listener: &TcpSock,
    child: &Arc<TcpSock>,
    req: &RequestSock,
) -> bool {
    listener.icsk_accept_queue.reqsk_queue_removed(req);
    reqsk_free(net, tn, req);
    inet_csk_reqsk_queue_add(net, tn, listener, child)
}
// ANCHOR_END: inet_csk_reqsk_queue_add

// ANCHOR: reqsk_timeout
/// `reqsk_timeout()`: `timeout << num_timeout`, at most `max`.
pub fn reqsk_timeout(req: &RequestSock, max: u32) -> u32 {
    let n = u32::from(req.num_timeout.load(Ordering::Relaxed)).min(31);
    (u64::from(req.timeout) << n).min(u64::from(max)) as u32
}
// ANCHOR_END: reqsk_timeout

// ANCHOR: reqsk_timer_handler
/// Mirrors `reqsk_timer_handler()` (net/ipv4/inet_connection_sock.c): the
/// SYN-ACK was not answered in time.
///
/// A request whose listener stopped listening is dropped. Otherwise the
/// retry budget is `TCP_SYNCNT` of the listener or `tcp_synack_retries`
/// (5), cut when the queue is more than half full (`qlen << 1 >
/// max(8, sk_max_ack_backlog)`) and old requests clog it — Linux's comment:
/// "we reserve half of room for young embrions; and abort old ones without
/// pity, if old ones are about to clog our table" — down to no fewer than
/// 2, one less for each halving of the young share. Every firing counts
/// `TCPTimeouts` (`tcp_syn_ack_timeout()`). If the budget is spent the
/// request is dropped; otherwise the SYN-ACK is resent (`inet_rtx_syn_ack()`,
/// `RetransSegs` + `TCPSynRetrans`) — even if the final ACK already came
/// and only the accept queue was full (`acked`) — and the timer re-armed
/// for `timeout << num_timeout` (1, 2, 4, 8, 16 s …, at most
/// `TCP_RTO_MAX`).
pub fn reqsk_timer_handler(net: &Net, req: &Arc<RequestSock>) {
    let Some(tn) = net.net_generic::<TcpNet>() else { return };
    let listener = req.rsk_listener.upgrade();
    let Some(listener) = listener.filter(|l| l.sk_state() == TcpState::Listen) else {
        inet_csk_reqsk_queue_drop(net, tn, req);
        return;
    };
    let syn_retries = listener.lock.lock().icsk_syn_retries;
    let mut max_syn_ack_retries = match syn_retries {
        0 => tn.sysctl.tcp_synack_retries.get().clamp(0, 255) as u32,
        n => u32::from(n),
    };
    let queue = &listener.icsk_accept_queue;
    let qlen = queue.reqsk_queue_len();
    if (qlen << 1) > 8u32.max(listener.sk_max_ack_backlog.load(Ordering::Relaxed)) {
        let mut young = queue.reqsk_queue_len_young() << 1;
        while max_syn_ack_retries > 2 {
            if qlen < young {
                break;
            }
            max_syn_ack_retries -= 1;
            young <<= 1;
        }
    }
    // syn_ack_recalc() without TCP_DEFER_ACCEPT.
    let expire = u32::from(req.num_timeout.load(Ordering::Relaxed)) >= max_syn_ack_retries;
    net.mib.inc(LinuxMib::TCPTimeouts); // tcp_syn_ack_timeout()
    if !expire {
        // `!resend || !inet_rtx_syn_ack() || acked`: the SYN-ACK goes out
        // again even when the final ACK came (`acked`, the accept queue was
        // full) — the peer's answer to it is another chance to complete.
        // `acked` only keeps the request alive if the resend failed, which
        // ours cannot.
        crate::tcp_output::inet_rtx_syn_ack(net, tn, &listener, req);
        if req.num_timeout.fetch_add(1, Ordering::Relaxed) == 0 {
            let _ = queue.young.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
        }
        if let Some(&t) = req.rsk_timer.get() {
            net.mod_timer(t, net.jiffies() + u64::from(reqsk_timeout(req, TCP_RTO_MAX)));
        }
        return;
    }
    inet_csk_reqsk_queue_drop(net, tn, req);
}
// ANCHOR_END: reqsk_timer_handler

#[cfg(test)]
mod tests {
    use super::*;

    /// Each connection allocates two `Arc<TcpSock>`s. glibc serves blocks
    /// of up to 1,032 bytes from a per-thread cache without a lock; past
    /// that every socket takes `_int_malloc()`'s slow path (425 more
    /// instructions per connection, callgrind). RACK's state and the
    /// min-RTT filter took the socket to 1,040 bytes, past it — about 1 %
    /// on `profile rr`'s wall time; giving the buffer counters
    /// (`sk_rcvbuf`, `sk_sndbuf`, `sk_rmem_alloc`, `sk_wmem_queued`) and
    /// the jiffies stamps (`icsk_ack.lrcvtime`, `last_oow_ack_time`)
    /// Linux's 32-bit types brought it back to 1,016. A field that needs
    /// room has to find it the same way.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn a_full_socket_fits_the_allocators_thread_cache() {
        let arc_block = std::mem::size_of::<TcpSock>() + 2 * std::mem::size_of::<usize>();
        assert!(arc_block <= 1032, "Arc<TcpSock> takes {arc_block} bytes, past glibc's tcache (1,032)");
    }

    #[test]
    fn request_sock_is_much_smaller_than_a_full_socket() {
        // TcpSock embeds its TcpSk (inside the spin lock), so its size is
        // the whole full socket before any queue allocates.
        let req = std::mem::size_of::<RequestSock>();
        let full = std::mem::size_of::<TcpSock>();
        let tcp_sk = std::mem::size_of::<crate::sock::TcpSk>();
        println!("size_of::<RequestSock>() = {req} bytes");
        println!("size_of::<TcpSock>() = {full} bytes (of which TcpSk, under the lock: {tcp_sk})");
        println!("a full socket is {:.1}x a request sock", full as f64 / req as f64);
        assert!(
            req * 4 < full,
            "a request sock ({req} B) should be far smaller than a full socket ({full} B)"
        );
        assert!(req <= 192, "{req}");
    }

    #[test]
    fn reqsk_timeout_doubles_and_caps() {
        let net = Net::new("t", net_core::Clock::new_virtual(), 1);
        let tn = crate::inet_init(&net);
        let l = TcpSock::new(&net, 1000, 1000);
        let req = inet_reqsk_alloc(&tn, &l, &ReqInit::default());
        let mut got = vec![];
        for n in 0..10 {
            req.num_timeout.store(n, Ordering::Relaxed);
            got.push(reqsk_timeout(&req, TCP_RTO_MAX));
        }
        assert_eq!(got, [1000, 2000, 4000, 8000, 16000, 32000, 64000, 120000, 120000, 120000]);
        assert_eq!(tn.reqsk_slab.active_objs(), 1);
        reqsk_free(&net, &tn, &req);
        reqsk_free(&net, &tn, &req);
        assert_eq!(tn.reqsk_slab.active_objs(), 0);
    }
}
