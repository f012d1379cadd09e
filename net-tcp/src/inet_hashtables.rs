//! The three socket hash tables: established (`ehash`), bind (`bhash`) and
//! listening (`lhash2`).
//!
//! Mirrors net/ipv4/inet_hashtables.c and include/net/inet_hashtables.h of
//! **Linux 6.18**. Heads up! Read RFC 6056 §3.3.4 (ephemeral port
//! selection, algorithm 4: the double hash, which Linux runs with a 64 Ki
//! perturbation table) before [`InetHashinfo::inet_hash_connect`].
//!
//! # The three tables
//!
//! | table | key | holds | chain | lock |
//! |---|---|---|---|---|
//! | `ehash` | the four-tuple (laddr, lport, faddr, fport), hashed by [`InetHashinfo::inet_ehashfn`] (`jhash_3words()`, keyed) | every socket that is neither listening nor closed: SYN_SENT, ESTABLISHED …; request socks (NEW_SYN_RECV); timewait socks (TIME_WAIT) | intrusive lists through [`TcpSock::hash_link`], `RequestSock::hash_link` and `InetTimewaitSock::hash_link` | one `spin::Mutex` per chain (Linux: `inet_ehash_lockp()`) |
//! | `bhash` | the local port (`inet_bhashfn()`) | one [`InetBindBucket`] per port in use, listing its owners | intrusive list through [`TcpSock::bind_link`] | one `spin::Mutex` per bucket (Linux: `head->lock`) |
//! | `lhash2` | (local port, local address) (`ipv4_portaddr_hash()`) | listeners | intrusive list through [`TcpSock::hash_link`] | one `spin::Mutex` per bucket (Linux: `ilb2->lock`) |
//!
//! A socket is on at most one of `ehash`/`lhash2` (one `hash_link`), and on
//! `bhash` while it owns a port (`bind_link`). Every table holds an
//! `Arc<TcpSock>` (Linux: a reference through the `sk_nulls_node`).
//!
//! # Who calls what
//!
//! - the receive path (`tcp_v4_rcv`) calls [`InetHashinfo::__inet_lookup`]:
//!   the established table first, then the listeners;
//! - `bind()` calls `inet_csk_get_port()`
//!   ([`crate::inet_connection_sock::inet_csk_get_port`]), which puts the
//!   socket on a bind bucket; `listen()` calls it again in LISTEN (Linux's
//!   `inet_csk_listen_start()`), then [`InetHashinfo::inet_hash`];
//! - `connect()` calls [`InetHashinfo::inet_hash_connect`]: choose a port,
//!   check the four-tuple is unique, bind and insert into `ehash`;
//! - a passive child is inserted with [`InetHashinfo::inet_ehash_nolisten`]
//!   and shares its listener's port through
//!   [`InetHashinfo::__inet_inherit_port`];
//! - closing calls [`InetHashinfo::inet_unhash`] then
//!   [`InetHashinfo::inet_put_port`] (Linux's `tcp_set_state(TCP_CLOSE)`).
//!
//! # Locks
//!
//! Lock order: a `bhash` bucket lock, then an `ehash` bucket lock
//! (`__inet_hash_connect` holds the first while `__inet_check_established`
//! takes the second). `lhash2` locks are never held with another. Each lock
//! is a spin lock because it is held for one chain walk, never across a
//! wait, as Linux's are. A socket's own lock (`TcpSock::lock`) is never
//! needed: the fields the tables read are the lock-free `skc_*` atomics.
//!
//! # Where we differ
//!
//! - Linux reads `ehash` and `lhash2` under RCU with `hlist_nulls` (a lookup
//!   may restart when a socket moves chains); we take the bucket's spin lock
//!   for the walk, which is uncontended in the common case.
//! - No `bhash2` (the (port, address) bind table Linux added in 6.1 to speed
//!   up conflict checks): a bind conflict check walks the port's owners,
//!   as Linux did before 6.1 — same answers, slower for a port with many
//!   owners.
//! - SO_REUSEPORT groups ([`crate::sock_reuseport`]) choose by the
//!   four-tuple hash only: no BPF (`SO_ATTACH_REUSEPORT_*`,
//!   `bpf_sk_lookup`), no uids. Among listeners outside groups with the
//!   same best score the most recently hashed one wins, as in Linux.
//! - `sk_hash` is cached in the socket (`skc_hash`, `tw_hash`, a request
//!   sock's `skc_hash`) when it is hashed, as in Linux, and used to find
//!   its chain again; but a lookup does not compare it before the
//!   four-tuple (Linux skips most chain entries on it): we compare the
//!   four-tuple directly, one atomic load per field.
//! - No `net` in the keys: one [`InetHashinfo`] per namespace.
//! - Removing a socket from a chain is O(1), as Linux's `hlist_del()`,
//!   but not through a `pprev` pointer: each chain is an [`HList`] with an
//!   id, and each member records the id of the chain it is on under that
//!   chain's lock, which proves membership before the unsafe O(1) unlink
//!   (`cursor_mut_from_ptr`); a socket on another chain is refused, where
//!   Linux trusts its caller. (It used to be a cursor walk, O(distance).)
//!   The proof is in [`HList`]'s doc; Miri checks the unlink
//!   (`cargo +nightly miri test -p net-tcp --lib inet_hashtables::`).
//! - Request socks (`TCP_NEW_SYN_RECV`) sit on a second chain of each
//!   `ehash` bucket ([`InetEhashBucket::reqs`]); Linux has one chain of
//!   `sock_common` for full, timewait and request socks alike.
//! - Timewait socks ([`crate::inet_timewait_sock`]) sit on a third chain
//!   of each `ehash` bucket ([`InetEhashBucket::tws`]) and on a second
//!   owner list of each bind bucket ([`InetBindBucket::tw_owners`]).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use intrusive_collections::linked_list::LinkedListOps;
use intrusive_collections::{Adapter, LinkedList, PointerOps};
use net_core::Errno;
use net_core::jhash::{jhash_1word, jhash_3words};
use net_core::random::SipKey;

use crate::inet_timewait_sock::{InetTimewaitSock, TwBindAdapter, TwHashAdapter};
use crate::request_sock::{ReqHashAdapter, RequestSock};
use crate::sock::{SkBindAdapter, SkHashAdapter, TcpSock, inet_addr_cookie, inet_combined_ports};
use crate::tcp_states::TcpState;

/// `CONFIG_INET_TABLE_PERTURB_ORDER` (default 16): the perturbation table
/// of [`InetHashinfo::inet_hash_connect`] has `1 << 16` slots.
#[cfg(not(miri))]
pub const INET_TABLE_PERTURB_ORDER: u32 = 16;
/// Under Miri, 256 slots: filling 64 Ki of them takes Miri 17 s for every
/// table a test makes, and the table holds no unsafe code to check.
#[cfg(miri)]
pub const INET_TABLE_PERTURB_ORDER: u32 = 8;
/// `INET_TABLE_PERTURB_SIZE`.
pub const INET_TABLE_PERTURB_SIZE: usize = 1 << INET_TABLE_PERTURB_ORDER;
/// The largest `bhash`/`lhash2` (Linux caps the bind hash at 64 Ki buckets).
const BHASH_MAX: usize = 64 * 1024;

/// `FASTREUSEPORT_ANY`: every owner of the bucket has SO_REUSEPORT (and
/// the same uid), so another SO_REUSEPORT socket may join without a check.
pub const FASTREUSEPORT_ANY: i8 = 1;
/// `FASTREUSEPORT_STRICT`: as ANY, but only for sockets bound to
/// `fast_rcv_saddr` (the bucket was reset after a non-matching owner).
pub const FASTREUSEPORT_STRICT: i8 = 2;

/// The chain a bucket of `ehash` or `lhash2` guards.
pub type SkChain = HList<SkHashAdapter>;

/// The request-sock chain of an `ehash` bucket.
pub type ReqChain = HList<ReqHashAdapter>;

/// The timewait-sock chain of an `ehash` bucket.
pub type TwChain = HList<TwHashAdapter>;

// ANCHOR: hlist
/// The value type a list of adapter `A` links.
type Value<A> = <<A as Adapter>::PointerOps as PointerOps>::Value;
/// The owning pointer a list of adapter `A` holds (`Arc<…>`).
type Pointer<A> = <<A as Adapter>::PointerOps as PointerOps>::Pointer;

/// Where the next [`HList`] takes its id from. Ids are never reused (a
/// 64-bit counter would take centuries to wrap at a billion lists a
/// second), so an id names one list for the life of the process.
static NEXT_HLIST_ID: AtomicU64 = AtomicU64::new(1);

/// The id of the [`HList`] a value is on through one of its links, 0 when
/// on none. Only [`HList`] can change it (the inner atomic is private to
/// this module): the soundness of [`HList::remove`] rests on that.
#[derive(Debug, Default)]
pub struct HListId(AtomicU64);

impl HListId {
    /// On no list.
    pub const fn new() -> HListId {
        HListId(AtomicU64::new(0))
    }

    /// The id of the list (0: none), as its lock last left it.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, id: u64) {
        self.0.store(id, Ordering::Relaxed);
    }
}

/// An adapter whose values say which [`HList`] they are on: one
/// [`HListId`] per link (`TcpSock::hash_list_id` beside
/// `TcpSock::hash_link`, …).
pub trait HListAdapter: Adapter<LinkOps: LinkedListOps> {
    /// The id of the list the value is on through this adapter's link.
    fn list_id(value: &Value<Self>) -> &HListId;
    /// This adapter's link of the value is in use.
    fn is_linked(value: &Value<Self>) -> bool;
}

macro_rules! hlist_adapter {
    ($adapter:ty, $link:ident, $id:ident) => {
        impl HListAdapter for $adapter {
            #[inline]
            fn list_id(value: &Value<Self>) -> &HListId {
                &value.$id
            }
            #[inline]
            fn is_linked(value: &Value<Self>) -> bool {
                value.$link.is_linked()
            }
        }
    };
}
hlist_adapter!(SkHashAdapter, hash_link, hash_list_id);
hlist_adapter!(SkBindAdapter, bind_link, bind_list_id);
hlist_adapter!(ReqHashAdapter, hash_link, hash_list_id);
hlist_adapter!(TwHashAdapter, hash_link, hash_list_id);
hlist_adapter!(TwBindAdapter, bind_link, bind_list_id);

/// A chain of the hash tables: Linux's `hlist_head` (`hlist_nulls_head`
/// for `ehash`), an intrusive list of `Arc`s that also knows, through an
/// id its members carry, which values are its own — so it can unlink one
/// in O(1), as `hlist_del()` does with the node's `pprev`.
///
/// The invariant, for a list `L` and a value `v` of its adapter, whenever
/// `L` can be written (`&mut L`: under the bucket's lock):
///
/// > `v` is on `L` **iff** `v`'s link is in use and `v`'s id field holds
/// > `L.id`.
///
/// It holds because only `HList` writes the id fields ([`HListId`]'s
/// atomic is private to this module, and only `push_front` and `remove`
/// set it), and only with `&mut` on the list concerned: [`HList::push_front`] links `v` and then
/// stores `L.id` (linking panics, before any store, if `v` is on a list
/// already); [`HList::remove`] unlinks `v` and then stores 0. No other
/// method can link or unlink (there is no `DerefMut` to the inner
/// `LinkedList`; `Deref` gives the read-only walks: `iter()`, `front()`,
/// `is_empty()`). Ids are never reused, so an id left in a value when its
/// list was dropped (dropping a `LinkedList` unlinks every value) names no
/// live list. A thread holding another list `M`'s lock may store `M.id`
/// or 0 into `v` at the same time — but only if `v` is on `M` or free, so
/// never `L.id` and never while `v` is on `L`: what `L` reads is right.
pub struct HList<A: HListAdapter> {
    list: LinkedList<A>,
    id: u64,
}

impl<A: HListAdapter> HList<A> {
    /// An empty list (`INIT_HLIST_HEAD()`) with a fresh id.
    pub fn new(adapter: A) -> HList<A> {
        HList { list: LinkedList::new(adapter), id: NEXT_HLIST_ID.fetch_add(1, Ordering::Relaxed) }
    }

    /// Mirrors `hlist_add_head()` (`__sk_nulls_add_node_rcu()`): link `ptr`
    /// at the front and record this list as its owner.
    ///
    /// # Panics
    /// If the value is already on a list through this link (Linux would
    /// corrupt both lists; intrusive-collections refuses).
    pub fn push_front(&mut self, ptr: Pointer<A>) {
        self.list.push_front(ptr);
        if let Some(v) = self.list.front().get() {
            A::list_id(v).set(self.id);
        }
    }

    /// Is `node` on this list? (The invariant above; O(1).)
    #[inline]
    pub fn contains(&self, node: &Value<A>) -> bool {
        A::is_linked(node) && A::list_id(node).get() == self.id
    }

    /// Mirrors `hlist_del_init()` (`__sk_nulls_del_node_init_rcu()`,
    /// `__sk_del_bind_node()`): unlink `node` in O(1) and return the list's
    /// reference to it, or `None` — touching nothing — if `node` is not on
    /// this list (on another list, or on none), as Linux's
    /// `sk_unhashed()` / `hlist_unhashed()` checks return quietly. Linux
    /// cannot tell one list from another here; it relies on its callers,
    /// and so did our cursor walk's search (O(distance)) before.
    #[doc(alias = "hlist_del_init")]
    #[allow(unsafe_code)]
    pub fn remove(&mut self, node: &Value<A>) -> Option<Pointer<A>> {
        if !self.contains(node) {
            return None;
        }
        // SAFETY: `cursor_mut_from_ptr` needs `node` to be an element of
        // `self.list`. `contains()` just saw `node`'s link in use and its
        // id field equal to `self.id`, and we hold `&mut self` (the
        // bucket's lock), so by the invariant of `HList` (see the type's
        // doc) `node` is on this list: only `push_front` on this list
        // stores `self.id`, after linking `node` here; only `remove` on
        // this list unlinks `node` from it, and it stores 0 right after,
        // before `&mut self` is given back; no other list or thread can
        // store `self.id`. The pointer comes from a live reference, so it
        // is valid and aligned for the whole call.
        let mut c = unsafe { self.list.cursor_mut_from_ptr(node) };
        // Step off the node and back on, so the cursor holds the pointer
        // the list itself stored (in the previous node's link, or as the
        // head: `move_next()` from the null position is the front) rather
        // than one made from `node`. Both point at the same node, but
        // `remove()` turns the cursor's pointer back into the `Arc`
        // (`Arc::from_raw`), which must reach the reference counts in front
        // of the value: the list's pointer came from `Arc::into_raw` and
        // may, one made from `&Value` may not (Miri's Stacked Borrows
        // caught that: the reference's provenance covers the value only).
        // O(1): one step each way.
        c.move_prev();
        c.move_next();
        debug_assert!(c.get().is_some_and(|v| std::ptr::eq(v, node)), "back on the node");
        let removed = c.remove();
        debug_assert!(removed.is_some(), "a cursor made from a member points at it");
        A::list_id(node).set(0);
        removed
    }

    /// This list's id, what its members' id fields hold.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<A: HListAdapter> std::ops::Deref for HList<A> {
    type Target = LinkedList<A>;

    /// The read-only walks (`iter()`, `front()`, `is_empty()`); linking and
    /// unlinking only through [`HList`]'s own methods.
    fn deref(&self) -> &LinkedList<A> {
        &self.list
    }
}
// ANCHOR_END: hlist

/// `tcp_twsk_unique(sk, tw, twp)` as [`InetHashinfo::__inet_hash_connect`]
/// calls it: may the connecting socket take over `tw`'s four-tuple?
/// The `bool` is `twp != NULL`.
pub type TwskUnique<'a> = &'a dyn Fn(&InetTimewaitSock, bool) -> bool;

/// What an `ehash` lookup found: a full socket or a request sock
/// (`TCP_NEW_SYN_RECV`), as Linux's `sk->sk_state` tells them apart.
#[derive(Debug)]
pub enum EhashEntry {
    /// A full socket (SYN_SENT … LAST_ACK).
    Sk(Arc<TcpSock>),
    /// A request sock.
    Req(Arc<RequestSock>),
    /// A timewait sock (`TCP_TIME_WAIT`, [`crate::inet_timewait_sock`]).
    Tw(Arc<InetTimewaitSock>),
}

// ANCHOR: ehash_bucket
/// `struct inet_ehash_bucket` with its lock (`inet_ehash_lockp()`): a chain
/// of sockets whose four-tuples hash here. Linux keeps a smaller array of
/// locks beside the chains (`ehash_locks`); we give each chain its own,
/// so a lookup touches one cache line before the socket.
///
/// Linux keeps full sockets, timewait socks and request socks on *one*
/// chain of `sock_common`s, telling them apart by `sk_state`. Our chains
/// are typed, so request socks (`TCP_NEW_SYN_RECV`,
/// [`crate::request_sock`]) have a second chain, `reqs`, in the same
/// bucket, and timewait socks a third, `tws`. Lock order: `chain`, then
/// `reqs`, then `tws`; a lookup that may find any of them holds `chain`
/// for its whole walk, so a request turning into its child
/// ([`InetHashinfo::inet_ehash_swap_req`]) or a socket turning into its
/// timewait sock ([`InetHashinfo::inet_ehash_swap_tw`]), each done with
/// `chain` held, is seen as one or the other, never neither. (`lhash2`
/// reuses this type and leaves `reqs` and `tws` empty.)
pub struct InetEhashBucket {
    /// The chain (Linux: `hlist_nulls_head chain`), guarded by a spin lock
    /// held for one walk, insert or removal.
    pub chain: spin::Mutex<SkChain>,
    /// The request socks hashed here.
    pub reqs: spin::Mutex<ReqChain>,
    /// The timewait socks hashed here.
    pub tws: spin::Mutex<TwChain>,
}
// ANCHOR_END: ehash_bucket

// ANCHOR: inet_bind_bucket
/// `struct inet_bind_bucket`: one local port in use, its owners and the
/// fast-path summaries of their reuse flags.
///
/// Linux's comment in include/net/inet_hashtables.h: "There are a few
/// simple rules, which allow for local port reuse by an application":
///
/// 1. "Sockets bound to different interfaces may share a local port."
/// 2. "If all sockets have sk->sk_reuse set, and none of them are in
///    TCP_LISTEN state, the port may be shared."
/// 3. "If all sockets are bound to a specific inet_sk(sk)->rcv_saddr local
///    address, and none of them are the same, the port may be shared."
///
/// (SO_REUSEPORT adds a fourth: sockets that all set it, of one user.)
pub struct InetBindBucket {
    /// `port`: the local port.
    pub port: u16,
    /// `fastreuse`: 1 if every owner has SO_REUSEADDR and none listens
    /// (another such socket may join without a conflict walk); 0 if not;
    /// -1 if the bucket was made by `connect()` (no `bind()`), which makes
    /// its port available to other `connect()`s.
    pub fastreuse: i8,
    /// `fastreuseport`: 0, [`FASTREUSEPORT_ANY`], [`FASTREUSEPORT_STRICT`],
    /// or -1 when made by `connect()`.
    pub fastreuseport: i8,
    /// `fast_rcv_saddr`: the address [`FASTREUSEPORT_STRICT`] is about.
    pub fast_rcv_saddr: Ipv4Addr,
    /// `owners` (Linux 6.18 lists them on the `bhash2` buckets): the
    /// sockets bound to this port, linked through [`TcpSock::bind_link`].
    pub owners: HList<SkBindAdapter>,
    /// The timewait socks holding this port (Linux: on the same owner
    /// lists, through `tw_bind_node`/`tw_bind2_node`). The bucket lives
    /// while either list is non-empty.
    pub tw_owners: HList<TwBindAdapter>,
}
// ANCHOR_END: inet_bind_bucket

impl InetBindBucket {
    /// `inet_bind_bucket_create()`: an empty bucket for `port`.
    pub fn new(port: u16) -> InetBindBucket {
        InetBindBucket {
            port,
            fastreuse: 0,
            fastreuseport: 0,
            fast_rcv_saddr: Ipv4Addr::UNSPECIFIED,
            owners: HList::new(SkBindAdapter::new()),
            tw_owners: HList::new(TwBindAdapter::new()),
        }
    }

    /// No socket and no timewait sock owns the port
    /// (`inet_bind_bucket_destroy()`'s emptiness test).
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty() && self.tw_owners.is_empty()
    }

    /// `inet_bind_hash()`: make `sk` an owner and set its `inet_num`.
    pub fn inet_bind_hash(&mut self, sk: &Arc<TcpSock>) {
        sk.set_skc_local(sk.inet_rcv_saddr(), self.port);
        if !sk.bind_link.is_linked() {
            self.owners.push_front(Arc::clone(sk));
        }
    }
}

/// `struct inet_bind_hashbucket`: the bind buckets of the ports that hash
/// here, under one spin lock (`head->lock`) held for a lookup or a bind.
pub struct InetBindHashbucket {
    /// `chain`: at most one [`InetBindBucket`] per port.
    pub chain: spin::Mutex<Vec<InetBindBucket>>,
}

/// What [`InetHashinfo::bind_bucket`] reports about one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindBucketInfo {
    /// Number of owners (full sockets).
    pub owners: usize,
    /// Number of timewait socks holding the port.
    pub tw_owners: usize,
    /// `fastreuse`.
    pub fastreuse: i8,
    /// `fastreuseport`.
    pub fastreuseport: i8,
}

/// `struct inet_hashinfo`: ehash, bhash, lhash2 (one per namespace here;
/// Linux shares `tcp_hashinfo` unless `tcp_child_ehash_entries` is set).
pub struct InetHashinfo {
    /// `ehash`: established and connecting sockets, power-of-two buckets.
    ehash: Box<[InetEhashBucket]>,
    /// `ehash_mask`.
    ehash_mask: u32,
    /// `inet_ehash_secret + net_hash_mix(net)`: the `jhash_3words()`
    /// initval of [`InetHashinfo::inet_ehashfn`], drawn from the
    /// namespace's key.
    ehash_secret: u32,
    /// `net_hash_mix(net)`: the `jhash_1word()` initval of the listener
    /// hash (`ipv4_portaddr_hash()`), drawn from the namespace's key.
    hash_mix: u32,
    /// `net_secret` as used by `secure_ipv4_port_ephemeral()`.
    port_secret: SipKey,
    /// `bhash`, `bhash_size` buckets (a power of two).
    bhash: Box<[InetBindHashbucket]>,
    /// `lhash2`: listeners by (port, address).
    lhash2: Box<[InetEhashBucket]>,
    /// `lhash2_mask`.
    lhash2_mask: u32,
    /// `table_perturb[]` of `__inet_hash_connect()` (RFC 6056 §3.3.4's
    /// table, 64 Ki entries as Linux's default).
    table_perturb: Box<[AtomicU32]>,
    /// State of the small generator behind `get_random_u32_below()`.
    rand: AtomicU64,
    /// Sockets in `ehash` (`sock_prot_inuse` for it).
    established: AtomicUsize,
}

/// SplitMix64 step, for the perturbation table and the random pick.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn new_chain_buckets(n: usize) -> Box<[InetEhashBucket]> {
    (0..n)
        .map(|_| InetEhashBucket {
            chain: spin::Mutex::new(HList::new(SkHashAdapter::new())),
            reqs: spin::Mutex::new(HList::new(ReqHashAdapter::new())),
            tws: spin::Mutex::new(HList::new(TwHashAdapter::new())),
        })
        .collect()
}

/// The first entry of `list` that `matches`, as a new reference: the walk
/// of `sk_nulls_for_each_rcu()` with its match test, and the
/// `refcount_inc_not_zero()` that takes the socket. Every lookup of a
/// chain here (sockets, request socks, timewait socks) goes through it.
fn list_find<A: HListAdapter>(
    list: &HList<A>,
    mut matches: impl FnMut(&Value<A>) -> bool,
) -> Option<Pointer<A>>
where
    Pointer<A>: Clone,
{
    let mut c = list.front();
    while let Some(v) = c.get() {
        if matches(v) {
            return c.clone_pointer();
        }
        c.move_next();
    }
    None
}

/// Unlink `node` from `list`, if it is there, returning the list's
/// reference to it — `hlist_del_init()` on a known node, in O(1)
/// ([`HList::remove`]). Every chain here (sockets, request socks,
/// timewait socks, bind-bucket owners) unlinks through it. (It used to be
/// a cursor walk from both ends, O(distance) — which had made a
/// 262,144-entry timewait storm quadratic before the walk went in from
/// the back.)
fn list_remove<A: HListAdapter>(list: &mut HList<A>, node: &Value<A>) -> Option<Pointer<A>> {
    list.remove(node)
}

/// Unlink `sk` from `chain`, if it is there.
fn chain_remove(chain: &mut SkChain, sk: &TcpSock) -> Option<Arc<TcpSock>> {
    list_remove(chain, sk)
}

/// `inet_sk_bound_dev_eq()`: a socket bound to no device matches any.
#[inline]
fn inet_sk_bound_dev_eq(bound_dev_if: u32, dif: u32) -> bool {
    bound_dev_if == 0 || bound_dev_if == dif
}

// ANCHOR: compute_score
/// `compute_score()` for a listener: -1 unless it listens on `hnum` at
/// `daddr` (the address of the bucket being searched: the segment's
/// destination, or INADDR_ANY) and its bound device admits `dif`; then 1,
/// or 2 when bound to a device, plus 1 for being `PF_INET` (always, here;
/// Linux ranks IPv4 sockets above dual-stack IPv6 ones).
fn compute_score(sk: &TcpSock, hnum: u16, daddr: Ipv4Addr, dif: u32) -> i32 {
    if sk.inet_num() != hnum {
        return -1;
    }
    if sk.inet_rcv_saddr() != daddr {
        return -1;
    }
    let bound = sk.skc_bound_dev_if.load(Ordering::Relaxed);
    if !inet_sk_bound_dev_eq(bound, dif) {
        return -1;
    }
    let mut score = if bound != 0 { 2 } else { 1 };
    score += 1; // sk->sk_family == PF_INET
    score
}
// ANCHOR_END: compute_score

impl InetHashinfo {
    /// Tables sized for `ehash_entries` established sockets: `ehash` gets
    /// `ehash_entries` rounded up to a power of two (as
    /// `tcp_child_ehash_entries` is; Linux's boot-time table is sized from
    /// memory), `bhash` and `lhash2` as many, at most 64 Ki. `secret` keys
    /// [`InetHashinfo::inet_ehashfn`]; the port secret and the perturbation
    /// table are derived from it, so a namespace seed reproduces every
    /// port choice. Mirrors `inet_hashinfo_init()`/`tcp_init()`'s
    /// `alloc_large_system_hash()` calls and `inet_ehash_locks_alloc()`.
    pub fn new(ehash_entries: usize, secret: SipKey) -> InetHashinfo {
        let ehash_size = ehash_entries.max(1).next_power_of_two();
        let bhash_size = ehash_size.min(BHASH_MAX);
        let seed = secret.hash(b"table_perturb");
        let table_perturb = (0..INET_TABLE_PERTURB_SIZE)
            .map(|i| AtomicU32::new(splitmix64(seed ^ i as u64) as u32))
            .collect();
        let port_secret = SipKey([secret.hash(b"secure_ipv4_port_ephemeral"), secret.hash(b"net_secret")]);
        InetHashinfo {
            ehash: new_chain_buckets(ehash_size),
            ehash_mask: (ehash_size - 1) as u32,
            ehash_secret: secret.hash(b"inet_ehash_secret") as u32,
            hash_mix: secret.hash(b"net_hash_mix") as u32,
            port_secret,
            bhash: (0..bhash_size)
                .map(|_| InetBindHashbucket { chain: spin::Mutex::new(Vec::new()) })
                .collect(),
            lhash2: new_chain_buckets(bhash_size),
            lhash2_mask: (bhash_size - 1) as u32,
            table_perturb,
            rand: AtomicU64::new(secret.hash(b"get_random_u32")),
            established: AtomicUsize::new(0),
        }
    }

    /// Number of `ehash` buckets (`ehash_mask + 1`).
    pub fn ehash_size(&self) -> usize {
        self.ehash.len()
    }

    /// Number of `bhash` buckets (`bhash_size`).
    pub fn bhash_size(&self) -> usize {
        self.bhash.len()
    }

    // ANCHOR: inet_ehashfn
    /// Mirrors `inet_ehashfn()` (net/ipv4/inet_hashtables.c): the keyed hash
    /// of a four-tuple from the socket's side (local address and port,
    /// foreign address and port) that picks its `ehash` bucket:
    /// `__inet_ehashfn()`, which is `jhash_3words(laddr, faddr, lport << 16
    /// | fport, inet_ehash_secret + net_hash_mix(net))`. Our addresses are
    /// host-order numbers where Linux hashes the network-order bits, so the
    /// buckets differ from Linux's, as they do between two boots.
    #[inline]
    pub fn inet_ehashfn(&self, laddr: Ipv4Addr, lport: u16, faddr: Ipv4Addr, fport: u16) -> u32 {
        let ports = (u32::from(lport) << 16) | u32::from(fport);
        jhash_3words(u32::from(laddr), u32::from(faddr), ports, self.ehash_secret)
    }
    // ANCHOR_END: inet_ehashfn

    /// `sk_ehashfn()`: [`InetHashinfo::inet_ehashfn`] of a socket's own
    /// four-tuple.
    fn sk_ehashfn(&self, sk: &TcpSock) -> u32 {
        self.inet_ehashfn(sk.inet_rcv_saddr(), sk.inet_num(), sk.inet_daddr(), sk.inet_dport())
    }

    /// `sk->sk_hash` of a socket about to hand its four-tuple to a
    /// timewait sock (`tw->tw_hash = sk->sk_hash` in `inet_twsk_alloc()`):
    /// the hash stored when it was put in `ehash` while it is on a chain,
    /// else [`Self::sk_ehashfn`] afresh (Linux assumes it is hashed).
    pub fn sk_hash(&self, sk: &TcpSock) -> u32 {
        if sk.hash_link.is_linked() && sk.sk_state() != TcpState::Listen {
            sk.skc_hash.load(Ordering::Acquire)
        } else {
            self.sk_ehashfn(sk)
        }
    }

    /// `inet_ehash_bucket()` + `inet_ehash_lockp()`.
    #[inline]
    fn ehash_bucket(&self, hash: u32) -> &InetEhashBucket {
        &self.ehash[(hash & self.ehash_mask) as usize]
    }

    /// `ipv4_portaddr_hash()` (include/net/ip.h): `jhash_1word(saddr,
    /// net_hash_mix(net)) ^ port`, `net_hash_mix` drawn from the
    /// namespace's key.
    #[inline]
    fn ipv4_portaddr_hash(&self, addr: Ipv4Addr, port: u16) -> u32 {
        jhash_1word(u32::from(addr), self.hash_mix) ^ u32::from(port)
    }

    /// `inet_lhash2_bucket()`.
    #[inline]
    fn lhash2_bucket(&self, addr: Ipv4Addr, port: u16) -> &InetEhashBucket {
        &self.lhash2[(self.ipv4_portaddr_hash(addr, port) & self.lhash2_mask) as usize]
    }

    /// `inet_lhash2_bucket_sk()`: the `lhash2` bucket of a listener.
    fn lhash2_bucket_sk(&self, sk: &TcpSock) -> &InetEhashBucket {
        self.lhash2_bucket(sk.inet_rcv_saddr(), sk.inet_num())
    }

    /// `inet_bhashfn()`: `lport & (bhash_size - 1)` (Linux adds
    /// `net_hash_mix(net)`; our table is per namespace).
    #[inline]
    pub fn inet_bhashfn(&self, lport: u16) -> usize {
        usize::from(lport) & (self.bhash.len() - 1)
    }

    /// The `bhash` bucket for `lport` (`&hinfo->bhash[inet_bhashfn()]`).
    #[inline]
    pub fn bhash_head(&self, lport: u16) -> &InetBindHashbucket {
        &self.bhash[self.inet_bhashfn(lport)]
    }

    /// A snapshot of the bind bucket of `port`, `None` if no socket owns it.
    pub fn bind_bucket(&self, port: u16) -> Option<BindBucketInfo> {
        let chain = self.bhash_head(port).chain.lock();
        chain.iter().find(|tb| tb.port == port).map(|tb| BindBucketInfo {
            owners: tb.owners.iter().count(),
            tw_owners: tb.tw_owners.iter().count(),
            fastreuse: tb.fastreuse,
            fastreuseport: tb.fastreuseport,
        })
    }

    /// `get_random_u32_below(ceil)` from the table's own generator.
    fn get_random_u32_below(&self, ceil: u32) -> u32 {
        let x = self.rand.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        ((u64::from(splitmix64(x) as u32) * u64::from(ceil)) >> 32) as u32
    }

    // ANCHOR: __inet_lookup_established
    /// Mirrors `__inet_lookup_established()` (net/ipv4/inet_hashtables.c):
    /// the socket whose four-tuple is the reverse of a segment from
    /// `saddr:sport` to `daddr:dport` arriving on device `dif`, with a
    /// reference taken (`sock_hold`, here an `Arc` clone). Only the
    /// established table is searched: "only listening connections can have
    /// wildcards anyways". Linux walks the chain under RCU and restarts on a
    /// nulls mismatch; we hold the bucket lock for the walk.
    pub fn __inet_lookup_established(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<Arc<TcpSock>> {
        let acookie = inet_addr_cookie(saddr, daddr);
        let ports = inet_combined_ports(sport, dport);
        let hash = self.inet_ehashfn(daddr, dport, saddr, sport);
        let chain = self.ehash_bucket(hash).chain.lock();
        list_find(&chain, |sk| sk.inet_match(acookie, ports, dif))
    }
    // ANCHOR_END: __inet_lookup_established

    // ANCHOR: inet_lhash2_lookup
    /// Mirrors `inet_lhash2_lookup()`: the best-scoring listener of one
    /// `lhash2` bucket for `daddr:hnum` ([`compute_score`]; the first of
    /// equal scores wins, as Linux's `score > hiscore`). When a listener
    /// that raises the score is in an SO_REUSEPORT group, the group picks
    /// the member for this four-tuple ([`Self::inet_lookup_reuseport`]) and
    /// that member is the answer at once — as in Linux, the rest of the
    /// chain is not searched for a better score.
    fn inet_lhash2_lookup(
        &self,
        ilb2: &InetEhashBucket,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        hnum: u16,
        dif: u32,
    ) -> Option<Arc<TcpSock>> {
        let chain = ilb2.chain.lock();
        let mut c = chain.front();
        let (mut result, mut hiscore) = (None, 0);
        while let Some(sk) = c.get() {
            let score = compute_score(sk, hnum, daddr, dif);
            if score > hiscore {
                if let Some(r) = self.inet_lookup_reuseport(sk, saddr, sport, daddr, hnum) {
                    return Some(r);
                }
                result = c.clone_pointer();
                hiscore = score;
            }
            c.move_next();
        }
        result
    }

    /// Mirrors `inet_lookup_reuseport()`: for a listener with
    /// SO_REUSEPORT, the member of its group chosen by
    /// [`Self::inet_ehashfn`] of the segment's four-tuple (local side
    /// first, as Linux's `inet_ehashfn(net, daddr, hnum, saddr, sport)`),
    /// so one four-tuple always reaches the same listener
    /// ([`crate::sock_reuseport::reuseport_select_sock`]). `None` without
    /// SO_REUSEPORT or a group.
    fn inet_lookup_reuseport(
        &self,
        sk: &TcpSock,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        hnum: u16,
    ) -> Option<Arc<TcpSock>> {
        if !sk.skc_reuseport.load(Ordering::Relaxed) {
            return None;
        }
        let phash = self.inet_ehashfn(daddr, hnum, saddr, sport);
        crate::sock_reuseport::reuseport_select_sock(sk, phash)
    }

    /// Mirrors `__inet_lookup_listener()`: search the `lhash2` bucket of
    /// the exact (`daddr`, `dport`) first; only if it has no match, the
    /// bucket of (INADDR_ANY, `dport`). So a listener bound to the
    /// segment's destination address beats a wildcard one, and within a
    /// bucket a listener bound to `dif` beats one bound to no device.
    /// `saddr`/`sport` feed the SO_REUSEPORT choice. Linux first runs a BPF
    /// `sk_lookup` program if one is attached; we have none.
    pub fn __inet_lookup_listener(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<Arc<TcpSock>> {
        net_core::ftrace_graph!("__inet_lookup_listener");
        self.inet_lhash2_lookup(self.lhash2_bucket(daddr, dport), saddr, sport, daddr, dport, dif).or_else(
            || {
                let any = Ipv4Addr::UNSPECIFIED;
                self.inet_lhash2_lookup(self.lhash2_bucket(any, dport), saddr, sport, any, dport, dif)
            },
        )
    }
    // ANCHOR_END: inet_lhash2_lookup

    /// Mirrors `__inet_lookup()` (include/net/inet_hashtables.h):
    /// established first, then listener.
    pub fn __inet_lookup(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<Arc<TcpSock>> {
        self.__inet_lookup_established(saddr, sport, daddr, dport, dif)
            .or_else(|| self.__inet_lookup_listener(saddr, sport, daddr, dport, dif))
    }

    // ANCHOR: ehash_reqsk
    /// Mirrors `__inet_lookup_established()` as `tcp_v4_rcv()` uses it: the
    /// full socket or the request sock whose four-tuple is the reverse of
    /// the segment's. Both chains of the bucket are walked under its locks
    /// (see [`InetEhashBucket`]).
    pub fn __inet_lookup_established_any(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<EhashEntry> {
        net_core::ftrace_graph!("__inet_lookup_established");
        let acookie = inet_addr_cookie(saddr, daddr);
        let ports = inet_combined_ports(sport, dport);
        let b = self.ehash_bucket(self.inet_ehashfn(daddr, dport, saddr, sport));
        let chain = b.chain.lock();
        if let Some(sk) = list_find(&chain, |sk| sk.inet_match(acookie, ports, dif)) {
            return Some(EhashEntry::Sk(sk));
        }
        if let Some(req) = list_find(&b.reqs.lock(), |req| req.inet_match(acookie, ports, dif)) {
            return Some(EhashEntry::Req(req));
        }
        list_find(&b.tws.lock(), |tw| tw.inet_match(acookie, ports, dif)).map(EhashEntry::Tw)
    }

    /// Mirrors `inet_ehash_insert(req_to_sk(req), NULL, &found_dup_sk)` from
    /// `reqsk_queue_hash_req()`: hash a request sock, refused (false) if a
    /// socket or request with its four-tuple is already in the bucket.
    pub fn inet_ehash_insert_req(&self, req: &Arc<RequestSock>) -> bool {
        if req.hash_link.is_linked() {
            return false;
        }
        let (acookie, ports, dif) = (req.skc_addrpair, req.skc_portpair, req.skc_bound_dev_if);
        let hash = self.inet_ehashfn(req.ir_loc_addr(), req.ir_num(), req.ir_rmt_addr(), req.ir_rmt_port());
        // sk->sk_hash = sk_ehashfn(sk), before the request can be found.
        req.skc_hash.store(hash, Ordering::Release);
        let b = self.ehash_bucket(hash);
        let chain = b.chain.lock();
        let mut reqs = b.reqs.lock();
        if chain.iter().any(|sk| sk.inet_match(acookie, ports, dif))
            || reqs.iter().any(|r| r.inet_match(acookie, ports, dif))
            || b.tws.lock().iter().any(|tw| tw.inet_match(acookie, ports, dif))
        {
            return false;
        }
        reqs.push_front(Arc::clone(req));
        true
    }

    /// `inet_ehash_lockp(hashinfo, req->rsk_hash)`: the bucket the request
    /// was hashed in, from the hash it stored then. (A request never
    /// hashed names bucket 0, where it is not found: nothing to unhash.)
    fn req_bucket(&self, req: &RequestSock) -> &InetEhashBucket {
        self.ehash_bucket(req.skc_hash.load(Ordering::Acquire))
    }

    /// Mirrors `reqsk_queue_unlink()`: take a request sock off its chain.
    /// True if this call removed it (it was still hashed).
    pub fn inet_ehash_remove_req(&self, req: &RequestSock) -> bool {
        if !req.hash_link.is_linked() {
            return false;
        }
        let mut reqs = self.req_bucket(req).reqs.lock();
        list_remove(&mut reqs, req).is_some()
    }

    /// Mirrors `inet_ehash_insert(sk, osk = req)` as `inet_ehash_nolisten()`
    /// runs it for `tcp_v4_syn_recv_sock()`: under the bucket's locks,
    /// unhash the request and hash its child in its place. False
    /// (`own_req` = false) when the request was already gone — another
    /// segment built the child first, or the timer dropped it — and then
    /// the child is not hashed.
    pub fn inet_ehash_swap_req(&self, req: &RequestSock, child: &Arc<TcpSock>) -> bool {
        if child.hash_link.is_linked() {
            return false;
        }
        let b = self.req_bucket(req);
        // The child has the request's four-tuple, so its hash too.
        child.skc_hash.store(req.skc_hash.load(Ordering::Acquire), Ordering::Release);
        let mut chain = b.chain.lock();
        let mut reqs = b.reqs.lock();
        let found = list_remove(&mut reqs, req).is_some();
        if !found
            || Self::inet_ehash_lookup_by_sk(&chain, child)
            || Self::tw_lookup_by_sk(&b.tws.lock(), child)
        {
            return false;
        }
        chain.push_front(Arc::clone(child));
        self.established.fetch_add(1, Ordering::Relaxed);
        true
    }
    // ANCHOR_END: ehash_reqsk

    /// `inet_ehash_lookup_by_sk()`: is `sk`'s four-tuple already on `chain`?
    fn inet_ehash_lookup_by_sk(chain: &SkChain, sk: &TcpSock) -> bool {
        let acookie = inet_addr_cookie(sk.inet_daddr(), sk.inet_rcv_saddr());
        let ports = inet_combined_ports(sk.inet_dport(), sk.inet_num());
        let dif = sk.skc_bound_dev_if.load(Ordering::Relaxed);
        chain.iter().any(|esk| esk.inet_match(acookie, ports, dif))
    }

    /// Is `sk`'s four-tuple held by a request sock of `reqs`?
    fn req_lookup_by_sk(reqs: &ReqChain, sk: &TcpSock) -> bool {
        let acookie = inet_addr_cookie(sk.inet_daddr(), sk.inet_rcv_saddr());
        let ports = inet_combined_ports(sk.inet_dport(), sk.inet_num());
        let dif = sk.skc_bound_dev_if.load(Ordering::Relaxed);
        reqs.iter().any(|req| req.inet_match(acookie, ports, dif))
    }

    /// Is `sk`'s four-tuple held by a timewait sock of `tws`?
    fn tw_lookup_by_sk(tws: &TwChain, sk: &TcpSock) -> bool {
        let acookie = inet_addr_cookie(sk.inet_daddr(), sk.inet_rcv_saddr());
        let ports = inet_combined_ports(sk.inet_dport(), sk.inet_num());
        let dif = sk.skc_bound_dev_if.load(Ordering::Relaxed);
        tws.iter().any(|tw| tw.inet_match(acookie, ports, dif))
    }

    /// The `ehash` bucket of `tw`'s four-tuple, from `tw->tw_hash`.
    fn tw_bucket(&self, tw: &InetTimewaitSock) -> &InetEhashBucket {
        self.ehash_bucket(tw.tw_hash)
    }

    // ANCHOR: inet_ehash_swap_tw
    /// The `ehash` half of `inet_twsk_hashdance_schedule()`: with the
    /// bucket's `chain` and `tws` locked, hash `tw` and unhash `sk` (which
    /// must be in `ehash` with the same four-tuple; if it is not, `tw` is
    /// hashed anyway, as Linux's `__sk_nulls_del_node_init_rcu()` returns
    /// quietly).
    pub fn inet_ehash_swap_tw(&self, sk: &Arc<TcpSock>, tw: &Arc<InetTimewaitSock>) {
        let b = self.tw_bucket(tw);
        let mut chain = b.chain.lock();
        let mut tws = b.tws.lock();
        if !tw.hash_link.is_linked() {
            tws.push_front(Arc::clone(tw));
        }
        if sk.hash_link.is_linked() && chain_remove(&mut chain, sk).is_some() {
            self.established.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The `ehash` half of `inet_twsk_kill()`: take `tw` off its chain.
    /// True if this call removed it.
    pub fn inet_ehash_remove_tw(&self, tw: &InetTimewaitSock) -> bool {
        if !tw.hash_link.is_linked() {
            return false;
        }
        let b = self.tw_bucket(tw);
        let mut tws = b.tws.lock();
        list_remove(&mut tws, tw).is_some()
    }

    /// Mirrors `inet_twsk_add_bind_node()` as `inet_twsk_hashdance_schedule()`
    /// uses it: `tw` becomes an owner of its port's bind bucket (made if
    /// the socket had none — a socket that never owned the port), so the
    /// port stays in use while `tw` lives.
    pub fn inet_twsk_bind_hash(&self, tw: &Arc<InetTimewaitSock>) {
        if tw.bind_link.is_linked() {
            return;
        }
        let port = tw.tw_num();
        let mut chain = self.bhash_head(port).chain.lock();
        let i = match chain.iter().position(|tb| tb.port == port) {
            Some(i) => i,
            None => {
                chain.push(InetBindBucket::new(port));
                chain.len() - 1
            }
        };
        chain[i].tw_owners.push_front(Arc::clone(tw));
    }

    /// Mirrors `inet_twsk_bind_unhash()`: `tw` leaves its bind bucket,
    /// which is freed if nobody else owns the port
    /// (`inet_bind_bucket_destroy()`).
    pub fn inet_twsk_bind_unhash(&self, tw: &InetTimewaitSock) {
        if !tw.bind_link.is_linked() {
            return;
        }
        self.inet_bind_bucket_leave(tw.tw_num(), |tb| {
            list_remove(&mut tb.tw_owners, tw);
        });
    }

    /// The second half of `__inet_put_port()` and `inet_twsk_bind_unhash()`:
    /// under the bind-hash lock of `port`, `unlink` takes an owner off its
    /// bucket, and a bucket left with no owners is freed
    /// (`inet_bind_bucket_destroy()`).
    fn inet_bind_bucket_leave(&self, port: u16, unlink: impl FnOnce(&mut InetBindBucket)) {
        let mut chain = self.bhash_head(port).chain.lock();
        let Some(i) = chain.iter().position(|tb| tb.port == port) else { return };
        unlink(&mut chain[i]);
        if chain[i].is_empty() {
            chain.swap_remove(i);
        }
    }

    /// Mirrors `inet_lookup_established()` limited to timewait socks: the
    /// one holding the reverse of a segment's four-tuple, if any (what
    /// `ss -tan state time-wait` would list for it).
    pub fn inet_lookup_timewait(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<Arc<InetTimewaitSock>> {
        match self.__inet_lookup_established_any(saddr, sport, daddr, dport, dif) {
            Some(EhashEntry::Tw(tw)) => Some(tw),
            _ => None,
        }
    }
    // ANCHOR_END: inet_ehash_swap_tw

    /// Mirrors `inet_ehash_insert()`: put `sk` on its `ehash` chain; with
    /// `check_dup`, refuse (false) if its four-tuple is already there —
    /// held by a full socket, a request sock or a timewait sock, all of
    /// which Linux's `inet_ehash_lookup_by_sk()` finds on its one chain.
    /// (Our request socks have a chain of their own, which this used to
    /// skip: a cookie's child could be hashed beside a request sock with
    /// its four-tuple, and a lookup would then never find the request.)
    fn inet_ehash_insert(&self, sk: &Arc<TcpSock>, check_dup: bool) -> bool {
        if sk.hash_link.is_linked() {
            debug_assert!(false, "inet_ehash_insert: {sk:?} is already hashed");
            return false;
        }
        let hash = self.sk_ehashfn(sk);
        // sk->sk_hash = sk_ehashfn(sk), before the socket can be found.
        sk.skc_hash.store(hash, Ordering::Release);
        let b = self.ehash_bucket(hash);
        let mut chain = b.chain.lock();
        // Lock order: chain, reqs, tws (see InetEhashBucket).
        if check_dup
            && (Self::inet_ehash_lookup_by_sk(&chain, sk)
                || Self::req_lookup_by_sk(&b.reqs.lock(), sk)
                || Self::tw_lookup_by_sk(&b.tws.lock(), sk))
        {
            return false;
        }
        chain.push_front(Arc::clone(sk));
        self.established.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Mirrors `inet_ehash_nolisten()` / `__inet_hash_nolisten()`: put a
    /// socket whose four-tuple is set into `ehash` (passive children, from
    /// `tcp_v4_syn_recv_sock()`). False if the four-tuple is already there
    /// (`found_dup_sk`) or the socket is already hashed; Linux then also
    /// marks the child dead and destroys it — the caller does that here.
    pub fn inet_ehash_nolisten(&self, sk: &Arc<TcpSock>) -> bool {
        self.inet_ehash_insert(sk, true)
    }

    /// Mirrors `inet_reuseport_add_sock()`: with `sk`'s `lhash2` bucket
    /// locked (`ilb`), find a listener it may share a group with — SO_REUSEPORT
    /// set, the same bind bucket (port), bound to the same device and the
    /// same local address (`inet_rcv_saddr_equal()` without wildcard
    /// matching), the same owner (always, here: no uids) — and join its
    /// group (`reuseport_add_sock()`); with none, start a group of one
    /// (`reuseport_alloc()`).
    fn inet_reuseport_add_sock(ilb: &SkChain, sk: &Arc<TcpSock>) -> Result<(), Errno> {
        let dev = sk.skc_bound_dev_if.load(Ordering::Relaxed);
        let inany = crate::sock_reuseport::inet_rcv_saddr_any(sk);
        let mut c = ilb.front();
        while let Some(sk2) = c.clone_pointer() {
            if !Arc::ptr_eq(&sk2, sk)
                && sk2.skc_bound_dev_if.load(Ordering::Relaxed) == dev
                && sk2.inet_num() == sk.inet_num()
                && sk2.skc_reuseport.load(Ordering::Relaxed)
                && sk2.inet_rcv_saddr() == sk.inet_rcv_saddr()
            {
                return crate::sock_reuseport::reuseport_add_sock(sk, &sk2, inany);
            }
            c.move_next();
        }
        crate::sock_reuseport::reuseport_alloc(sk, inany);
        Ok(())
    }

    /// Mirrors `inet_hash()` → `__inet_hash()`: a listener goes on the
    /// `lhash2` bucket of its (port, address), at the head (so among equal
    /// scores the newest listener is found first); with SO_REUSEPORT it
    /// first joins the group of a matching listener, or starts one
    /// ([`Self::inet_reuseport_add_sock`]). A socket in another state goes
    /// to `ehash` (`inet_ehash_nolisten`); one in CLOSE is left alone. A
    /// socket already hashed is left where it is (Linux: WARN_ON).
    pub fn inet_hash(&self, sk: &Arc<TcpSock>) {
        match sk.sk_state() {
            TcpState::Close => {}
            TcpState::Listen => {
                if sk.hash_link.is_linked() {
                    debug_assert!(false, "inet_hash: {sk:?} is already hashed");
                    return;
                }
                let mut chain = self.lhash2_bucket_sk(sk).chain.lock();
                if sk.skc_reuseport.load(Ordering::Relaxed) {
                    // Linux fails listen() with ENOMEM when the group is at
                    // U16_MAX members; we have no error to return here, so
                    // the socket listens outside the group.
                    let _ = Self::inet_reuseport_add_sock(&chain, sk);
                }
                chain.push_front(Arc::clone(sk));
            }
            _ => {
                self.inet_ehash_insert(sk, false);
            }
        }
    }

    /// Mirrors `inet_unhash()`: take `sk` out of `lhash2` (a listener) or
    /// `ehash`, whichever holds it; nothing if it is on neither (Linux's
    /// `sk_unhashed()` check, repeated under the lock). We look in the
    /// table its state suggests first and then in the other, so a caller
    /// that already stored the new state still finds it. The `ehash`
    /// chain is the one of the hash stored when the socket was hashed
    /// (`sk->sk_hash`); a listener's local address and port must be the
    /// ones it was hashed with.
    pub fn inet_unhash(&self, sk: &Arc<TcpSock>) {
        if !sk.hash_link.is_linked() {
            return;
        }
        let listen = self.lhash2_bucket_sk(sk);
        // `inet_ehash_lockp(hashinfo, sk->sk_hash)`: the hash stored when
        // it was put in ehash (stale for a listener, whose ehash bucket
        // then does not hold it).
        let est = self.ehash_bucket(sk.skc_hash.load(Ordering::Acquire));
        let (first, second) = if sk.sk_state() == TcpState::Listen { (listen, est) } else { (est, listen) };
        for b in [first, second] {
            let mut chain = b.chain.lock();
            if !sk.hash_link.is_linked() {
                return;
            }
            if chain_remove(&mut chain, sk).is_some() {
                if std::ptr::eq(b, est) {
                    self.established.fetch_sub(1, Ordering::Relaxed);
                } else {
                    // reuseport_stop_listen_sock(): without request
                    // migration, the listener just leaves its group.
                    crate::sock_reuseport::reuseport_detach_sock(sk);
                }
                return;
            }
        }
    }

    /// Mirrors `inet_put_port()` / `__inet_put_port()`: leave the bind
    /// bucket of `inet_num`, freeing it when it has no owners left
    /// (`inet_bind_bucket_destroy()`), and clear `inet_num` as Linux does —
    /// unless the socket is still in `ehash`/`lhash2`, whose key needs it
    /// (call [`InetHashinfo::inet_unhash`] first, as `tcp_set_state()`
    /// does). Nothing if the socket owns no port.
    pub fn inet_put_port(&self, sk: &TcpSock) {
        if !sk.bind_link.is_linked() {
            return;
        }
        self.inet_bind_bucket_leave(sk.inet_num(), |tb| {
            list_remove(&mut tb.owners, sk);
        });
        if !sk.hash_link.is_linked() {
            sk.set_skc_local(sk.inet_rcv_saddr(), 0);
        }
    }

    /// Mirrors `__inet_inherit_port()`: a passive child (its `inet_num`
    /// set to the port the SYN arrived on) joins the bind bucket of that
    /// port. When the listener's port differs (tproxy redirected the SYN)
    /// or the bucket is gone, Linux looks up or creates the child's own
    /// bucket and updates its fast-reuse summary; so do we. Linux fails
    /// with ENOENT when the listener is unbound; we bind the child anyway.
    pub fn __inet_inherit_port(&self, listener: &Arc<TcpSock>, child: &Arc<TcpSock>) {
        let port = child.inet_num();
        let mut chain = self.bhash_head(port).chain.lock();
        let i = match chain.iter().position(|tb| tb.port == port) {
            Some(i) => {
                if listener.inet_num() != port {
                    crate::inet_connection_sock::inet_csk_update_fastreuse(&mut chain[i], child);
                }
                i
            }
            None => {
                let mut tb = InetBindBucket::new(port);
                crate::inet_connection_sock::inet_csk_update_fastreuse(&mut tb, child);
                chain.push(tb);
                chain.len() - 1
            }
        };
        chain[i].inet_bind_hash(child);
    }

    /// Mirrors `inet_sk_port_offset()` → `secure_ipv4_port_ephemeral()`
    /// (net/core/secure_seq.c): a keyed hash of (local address, remote
    /// address, remote port), the `port_offset` to pass to
    /// [`InetHashinfo::inet_hash_connect`]. Linux's is 64 bits (the low
    /// bits index `table_perturb`, the high 32 are added to the offset);
    /// ours is 32 bits used both ways.
    pub fn inet_sk_port_offset(&self, sk: &TcpSock) -> u32 {
        self.port_secret.hash_3u32(
            u32::from(sk.inet_rcv_saddr()),
            u32::from(sk.inet_daddr()),
            u32::from(sk.inet_dport()),
        ) as u32
    }

    // ANCHOR: __inet_check_established
    /// Mirrors `__inet_check_established()`: with the `ehash` bucket of
    /// (`inet_rcv_saddr`, `lport`, `inet_daddr`, `inet_dport`) locked, make
    /// sure no socket has that four-tuple; if none, record `lport` as
    /// `inet_num` ("Must record num and sport now. Otherwise we will see in
    /// hash table socket with a funny identity") and insert `sk`.
    /// `EADDRNOTAVAIL` if the tuple is taken — by a full socket or a
    /// request sock, both of which Linux finds on its one chain (ours keeps
    /// request socks on a chain of their own, which this used to skip).
    ///
    /// A timewait sock holding the tuple does not make it taken if
    /// `twsk_unique(tw, twp)` (`tcp_twsk_unique()`,
    /// [`crate::tcp_ipv4::tcp_twsk_unique`]) says it may be reused: then
    /// `sk` is hashed and `tw` unhashed under the same lock, and `tw` is
    /// returned for the caller to count (`TWRecycled`) and kill
    /// (`inet_twsk_deschedule_put()`). `twp` is false when the socket was
    /// bound before `connect()` (Linux passes `twp = NULL`, which skips
    /// the `tcp_tw_reuse` test).
    fn __inet_check_established(
        &self,
        sk: &Arc<TcpSock>,
        lport: u16,
        twp: bool,
        twsk_unique: TwskUnique<'_>,
    ) -> Result<Option<Arc<InetTimewaitSock>>, Errno> {
        if sk.hash_link.is_linked() {
            return Err(Errno::EISCONN);
        }
        let (laddr, faddr, fport) = (sk.inet_rcv_saddr(), sk.inet_daddr(), sk.inet_dport());
        let acookie = inet_addr_cookie(faddr, laddr);
        let ports = inet_combined_ports(fport, lport);
        let dif = sk.skc_bound_dev_if.load(Ordering::Relaxed);
        let hash = self.inet_ehashfn(laddr, lport, faddr, fport);
        let b = self.ehash_bucket(hash);
        let mut chain = b.chain.lock();
        if chain.iter().any(|sk2| sk2.inet_match(acookie, ports, dif))
            || b.reqs.lock().iter().any(|req| req.inet_match(acookie, ports, dif))
        {
            return Err(Errno::EADDRNOTAVAIL); // not_unique
        }
        let mut tws = b.tws.lock();
        let tw = list_find(&tws, |t| t.inet_match(acookie, ports, dif));
        if let Some(t) = &tw {
            if !twsk_unique(t, twp) {
                return Err(Errno::EADDRNOTAVAIL); // not_unique
            }
            list_remove(&mut tws, t);
        }
        drop(tws);
        // Must record num and sport now. Otherwise we will see in hash
        // table socket with a funny identity.
        sk.set_skc_local(laddr, lport);
        sk.skc_hash.store(hash, Ordering::Release);
        chain.push_front(Arc::clone(sk));
        self.established.fetch_add(1, Ordering::Relaxed);
        Ok(tw)
    }
    // ANCHOR_END: __inet_check_established

    // ANCHOR: __inet_hash_connect
    /// Mirrors `inet_hash_connect()` → `__inet_hash_connect()`: pick a
    /// local port for an active open whose `inet_rcv_saddr`, `inet_daddr`
    /// and `inet_dport` are set, check the four-tuple against `ehash`
    /// (`__inet_check_established`), bind and insert it.
    ///
    /// A socket already bound (`inet_num != 0`) only has its tuple checked
    /// and inserted. Otherwise, RFC 6056 (algorithm 4, "double-hash"):
    /// start at `table_perturb[port_offset % size] + port_offset` within
    /// `range` (inclusive, `ip_local_port_range`), stepping by 2 through
    /// the ports of `low`'s parity, then the others (`inet_csk_get_port()`
    /// starts with the opposite parity, to keep `bind()` and `connect()`
    /// apart). A port whose bind bucket was made by `bind()`
    /// (`fastreuse >= 0 || fastreuseport >= 0`) is skipped; one made by
    /// `connect()` is shared if the four-tuple is unique; an unused one is
    /// taken with a new bucket (`fastreuse = fastreuseport = -1`). On
    /// success the slot advances by the distance searched (at least a
    /// random 0..8 steps) so the next connect to the same peer starts
    /// elsewhere. `EADDRNOTAVAIL` when every port is in use.
    ///
    /// Linux 6.18 skips `ip_local_reserved_ports` and honours the per-socket
    /// `IP_LOCAL_PORT_RANGE` (step 1); we have neither.
    pub fn inet_hash_connect(
        &self,
        sk: &Arc<TcpSock>,
        range: (u16, u16),
        port_offset: u32,
    ) -> Result<(), Errno> {
        self.__inet_hash_connect(sk, range, port_offset, &|_, _| false).map(|_| ())
    }

    /// [`InetHashinfo::inet_hash_connect`] with `tcp_twsk_unique()`: a
    /// four-tuple held by a timewait sock may be taken over when
    /// `twsk_unique` allows it; the timewait sock, unhashed from `ehash`,
    /// is returned for the caller to count and kill (Linux's `tw` after
    /// `__inet_hash_connect()`'s `inet_twsk_bind_unhash()` +
    /// `inet_twsk_deschedule_put()`).
    pub fn __inet_hash_connect(
        &self,
        sk: &Arc<TcpSock>,
        range: (u16, u16),
        port_offset: u32,
        twsk_unique: TwskUnique<'_>,
    ) -> Result<Option<Arc<InetTimewaitSock>>, Errno> {
        let port = sk.inet_num();
        if port != 0 {
            return self.__inet_check_established(sk, port, false, twsk_unique);
        }
        let (low, high) = (u32::from(range.0), u32::from(range.1) + 1); // [low, high[
        if high <= low {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let step = 2;
        let mut remaining = high - low;
        if remaining > 1 {
            remaining &= !1;
        }
        let index = port_offset as usize & (INET_TABLE_PERTURB_SIZE - 1);
        let mut offset = self.table_perturb[index].load(Ordering::Relaxed).wrapping_add(port_offset);
        offset %= remaining;
        // In the first pass we try ports of @low parity.
        offset &= !1;
        loop {
            let mut port = low + offset;
            let mut i = 0;
            while i < remaining {
                if port >= high {
                    port -= remaining;
                }
                let p = port as u16;
                let mut chain = self.bhash_head(p).chain.lock();
                let found = chain.iter().position(|tb| tb.port == p);
                let mut tw = None;
                let ok = match found {
                    // Does not bother with rcv_saddr checks, because the
                    // established check is already unique enough.
                    Some(t) if chain[t].fastreuse >= 0 || chain[t].fastreuseport >= 0 => None,
                    Some(t) => self.__inet_check_established(sk, p, true, twsk_unique).ok().map(|w| {
                        tw = w;
                        t
                    }),
                    None => {
                        let mut tb = InetBindBucket::new(p);
                        tb.fastreuse = -1;
                        tb.fastreuseport = -1;
                        chain.push(tb);
                        Some(chain.len() - 1)
                    }
                };
                if let Some(t) = ok {
                    // Add a little randomness to the next port chosen: on
                    // low contention maximal, on high contention none.
                    let i = i.max(self.get_random_u32_below(8) * step);
                    let slot = &self.table_perturb[index];
                    slot.store(slot.load(Ordering::Relaxed).wrapping_add(i + step), Ordering::Relaxed);
                    // Head lock still held: bind, then hash if the
                    // established check did not already.
                    chain[t].inet_bind_hash(sk);
                    if !sk.hash_link.is_linked() {
                        self.inet_ehash_insert(sk, false);
                    }
                    // inet_twsk_bind_unhash(tw), under the head lock.
                    if let Some(tw) = &tw {
                        list_remove(&mut chain[t].tw_owners, &**tw);
                    }
                    return Ok(tw);
                }
                drop(chain);
                i += step;
                port += step;
            }
            offset += 1;
            if offset & 1 == 1 && remaining > 1 {
                continue; // other_parity_scan
            }
            return Err(Errno::EADDRNOTAVAIL);
        }
    }
    // ANCHOR_END: __inet_hash_connect

    /// Sockets in `ehash` (Linux: `sock_prot_inuse_get()` for TCP, minus
    /// listeners).
    pub fn established_len(&self) -> usize {
        self.established.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inet_connection_sock::inet_csk_get_port;
    use net_core::{Clock, Net};

    const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const LOCAL2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const PEER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 7);
    const PEER2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 8);

    fn net() -> Arc<Net> {
        Net::new("t", Clock::new_virtual(), 1)
    }

    fn hinfo() -> InetHashinfo {
        InetHashinfo::new(1024, SipKey([1, 2]))
    }

    /// The namespace's TCP (`inet_init()`); under Miri with a 16-bucket
    /// `ehash` (and so `bhash` and `lhash2`), which Miri builds in a
    /// moment instead of minutes.
    fn tcp_net(net: &Arc<Net>) -> Arc<crate::af_inet::TcpNet> {
        let entries = if cfg!(miri) { 16 } else { crate::af_inet::TCP_EHASH_ENTRIES };
        crate::af_inet::inet_init_thash(net, entries)
    }

    /// What a TIME_WAIT sock is made from, for the tests that need one:
    /// nothing of any connection in particular.
    fn tw_init() -> crate::inet_timewait_sock::TwInit {
        crate::inet_timewait_sock::TwInit {
            substate: TcpState::TimeWait,
            rcv_nxt: 1,
            snd_nxt: 1,
            rcv_wnd: 1000,
            rcv_wscale: 0,
            tstamp_ok: false,
            ts_recent: 0,
            ts_recent_stamp: 0,
            ts_offset: 0,
        }
    }

    fn sock(net: &Net, state: TcpState) -> Arc<TcpSock> {
        let sk = TcpSock::new(net, 87380, 16384);
        sk.skc_state.store(state as u8, Ordering::Release);
        sk
    }

    /// An established socket LOCAL:lport <-> PEER:pport, hashed.
    fn sock_established(h: &InetHashinfo, net: &Net, lport: u16, peer: Ipv4Addr, pport: u16) -> Arc<TcpSock> {
        let sk = sock(net, TcpState::Established);
        sk.set_skc_addrs(LOCAL, lport, peer, pport);
        assert!(h.inet_ehash_nolisten(&sk));
        sk
    }

    fn sock_listen(h: &InetHashinfo, net: &Net, addr: Ipv4Addr, port: u16, dev: u32) -> Arc<TcpSock> {
        let sk = sock(net, TcpState::Listen);
        sk.set_skc_addrs(addr, port, Ipv4Addr::UNSPECIFIED, 0);
        sk.skc_bound_dev_if.store(dev, Ordering::Relaxed);
        h.inet_hash(&sk);
        sk
    }

    /// Every unlink path of one kind of list: for lists of 0–5 values,
    /// remove the one at each position (front, middle, back) and one on no
    /// list; the rest stay in order, the removed value is free (link
    /// unused, id 0) and a second removal finds nothing.
    fn every_position<A: HListAdapter>(new_list: &dyn Fn() -> HList<A>, make: &dyn Fn() -> Pointer<A>)
    where
        Pointer<A>: Clone + std::ops::Deref<Target = Value<A>>,
    {
        for n in 0..6 {
            for k in 0..=n {
                let mut list = new_list();
                let items: Vec<Pointer<A>> = (0..n).map(|_| make()).collect();
                for it in &items {
                    list.push_front(it.clone());
                    assert!(list.contains(it) && A::list_id(it).get() == list.id());
                }
                // k == n: a value that is on no list.
                let other = make();
                let target: &Value<A> = items.get(k).map_or(&*other, |p| &**p);
                let got = list.remove(target);
                assert_eq!(got.is_some(), k < n, "n {n}, k {k}");
                assert!(
                    got.is_none_or(|g| std::ptr::eq(&*g, target)),
                    "n {n}, k {k}: the list's own reference"
                );
                assert!(!A::is_linked(target) && A::list_id(target).get() == 0 && !list.contains(target));
                assert!(list.remove(target).is_none(), "n {n}, k {k}: removed once");
                let left: Vec<*const Value<A>> = list.iter().map(|v| v as *const _).collect();
                let want: Vec<*const Value<A>> = items
                    .iter()
                    .rev()
                    .map(|p| &**p as *const Value<A>)
                    .filter(|&p| !std::ptr::eq(p, target))
                    .collect();
                assert_eq!(left, want, "n {n}, k {k}: the others stay, in order");
                // The rest leave back to front, then front to back.
                for (i, p) in items.iter().enumerate().filter(|&(i, _)| i != k) {
                    let _ = i;
                    assert!(list.remove(p).is_some());
                }
                assert!(list.is_empty());
            }
        }
    }

    #[test]
    fn hlist_remove_unlinks_at_every_position_on_every_kind_of_list() {
        use crate::inet_timewait_sock::{TwBindAdapter, TwHashAdapter, inet_twsk_alloc};
        use crate::request_sock::{ReqInit, inet_reqsk_alloc};
        let net = net();
        let tn = tcp_net(&net);
        let sk = || sock(&net, TcpState::Established);
        every_position(&|| HList::new(SkHashAdapter::new()), &sk);
        every_position(&|| HList::new(SkBindAdapter::new()), &sk);
        let l = sock(&net, TcpState::Listen);
        every_position(&|| HList::new(ReqHashAdapter::new()), &|| {
            inet_reqsk_alloc(&tn, &l, &ReqInit::default())
        });
        let est = sock(&net, TcpState::Established);
        let tw = || inet_twsk_alloc(&net, &tn, &est, &tw_init()).expect("a timewait sock");
        every_position(&|| HList::new(TwHashAdapter::new()), &tw);
        every_position(&|| HList::new(TwBindAdapter::new()), &tw);
    }

    #[test]
    fn hlist_remove_refuses_a_sock_on_another_list() {
        let net = net();
        let (mut l1, mut l2) = (SkChain::new(SkHashAdapter::new()), SkChain::new(SkHashAdapter::new()));
        let (a, b, c) = (
            sock(&net, TcpState::Established),
            sock(&net, TcpState::Established),
            sock(&net, TcpState::Established),
        );
        l1.push_front(Arc::clone(&a));
        l1.push_front(Arc::clone(&b));
        l2.push_front(Arc::clone(&c));
        assert_ne!(l1.id(), l2.id());
        // `a` is on l1: l2 must not unlink it (a walk would have found
        // nothing; O(1) unlinking through the wrong list would corrupt
        // both), nor touch its link or id.
        assert!(l2.remove(&a).is_none());
        assert!(a.hash_link.is_linked() && a.hash_list_id.get() == l1.id());
        assert_eq!(l1.iter().count(), 2);
        assert_eq!(l2.iter().count(), 1);
        // On its own list it goes.
        assert!(l1.remove(&a).is_some_and(|x| Arc::ptr_eq(&x, &a)));
        // Free now: it may join the other list, which then owns it.
        l2.push_front(Arc::clone(&a));
        assert!(l1.remove(&a).is_none());
        assert!(l2.remove(&a).is_some());
        // The bind link is a list of its own: a sock hashed on l1 and an
        // owner of a bind bucket is unlinked from each separately.
        let mut owners = HList::new(SkBindAdapter::new());
        owners.push_front(Arc::clone(&b));
        assert!(b.hash_link.is_linked() && b.bind_link.is_linked());
        assert!(owners.remove(&b).is_some());
        assert!(b.hash_link.is_linked(), "still on l1");
        assert!(l1.remove(&b).is_some());
        assert!(l1.is_empty() && owners.is_empty());
    }

    #[test]
    fn hlist_remove_refuses_a_sock_whose_list_was_dropped() {
        let net = net();
        let a = sock(&net, TcpState::Established);
        let old_id = {
            let mut l = SkChain::new(SkHashAdapter::new());
            l.push_front(Arc::clone(&a));
            l.id()
        };
        // Dropping a list unlinks its values but leaves their ids: an id
        // that names no live list, never given to another.
        assert!(!a.hash_link.is_linked());
        assert_eq!(a.hash_list_id.get(), old_id);
        let mut l = SkChain::new(SkHashAdapter::new());
        assert_ne!(l.id(), old_id);
        assert!(l.remove(&a).is_none());
        l.push_front(Arc::clone(&a));
        assert!(l.remove(&a).is_some());
    }

    #[test]
    #[should_panic(expected = "already linked")]
    fn hlist_push_front_refuses_a_sock_already_on_a_list() {
        let net = net();
        let a = sock(&net, TcpState::Established);
        let (mut l1, mut l2) = (SkChain::new(SkHashAdapter::new()), SkChain::new(SkHashAdapter::new()));
        l1.push_front(Arc::clone(&a));
        // Linux would corrupt both chains (`hlist_add_head()` on a hashed
        // node); intrusive-collections panics before l2 records `a`.
        l2.push_front(Arc::clone(&a));
    }

    /// Threads racing on the tables' chains: [`THREADS`] threads, each
    /// with its own four-tuples (so each can keep an exact model of its
    /// own) that all fall into an 8-bucket `ehash` and share two ports'
    /// bind buckets, insert, look up, bind, unbind, turn into timewait
    /// socks and remove, while one more thread looks up every four-tuple
    /// and checks that whatever it finds has the four-tuple it asked for.
    /// After the join, every table agrees with the union of the models.
    /// Small enough for Miri (which checks the races and the unsafe
    /// unlinks); more rounds without it.
    #[test]
    fn tables_agree_with_the_threads_models_after_racing() {
        use crate::inet_timewait_sock::inet_twsk_alloc;
        use std::sync::atomic::AtomicBool;
        const THREADS: usize = 4;
        const KEYS: usize = 6;
        /// What a thread holds on one of its keys: a socket (bound to
        /// its port or not) or a timewait sock.
        #[derive(Clone)]
        enum Held {
            Sk(Arc<TcpSock>, bool),
            Tw(Arc<InetTimewaitSock>),
        }
        let rounds = if cfg!(miri) { 12 } else { 4000 };
        let net = net();
        let tn = tcp_net(&net);
        let h = Arc::new(InetHashinfo::new(8, SipKey([3, 4])));
        let stop = Arc::new(AtomicBool::new(false));
        // Thread t's key k: LOCAL:(80 or 88) <-> PEER:(1000 + t * KEYS + k).
        let tuple = |t: usize, k: usize| ([80u16, 88][k & 1], 1000 + (t * KEYS + k) as u16);
        let reader = {
            let (h, stop) = (Arc::clone(&h), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for t in 0..THREADS {
                        for k in 0..KEYS {
                            let (lport, pport) = tuple(t, k);
                            match h.__inet_lookup_established_any(PEER, pport, LOCAL, lport, 1) {
                                Some(EhashEntry::Sk(sk)) => {
                                    assert_eq!((sk.inet_num(), sk.inet_dport()), (lport, pport));
                                    seen += 1;
                                }
                                Some(EhashEntry::Tw(tw)) => {
                                    assert_eq!((tw.tw_num(), tw.tw_dport()), (lport, pport));
                                    seen += 1;
                                }
                                Some(EhashEntry::Req(_)) => panic!("no request socks here"),
                                None => {}
                            }
                        }
                    }
                    std::thread::yield_now();
                }
                seen
            })
        };
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (h, net, tn) = (Arc::clone(&h), Arc::clone(&net), Arc::clone(&tn));
                std::thread::spawn(move || {
                    let mut held: Vec<Option<Held>> = vec![None; KEYS];
                    let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ (t as u64 + 1);
                    for _ in 0..rounds {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let k = (x % KEYS as u64) as usize;
                        let (lport, pport) = tuple(t, k);
                        held[k] = match (held[k].take(), (x >> 8) % 4) {
                            (None, _) => {
                                let sk = sock(&net, TcpState::Established);
                                sk.set_skc_addrs(LOCAL, lport, PEER, pport);
                                assert!(h.inet_ehash_nolisten(&sk), "key {k} of thread {t} is free");
                                Some(Held::Sk(sk, false))
                            }
                            (Some(Held::Sk(sk, false)), 0) => {
                                h.__inet_inherit_port(&sk, &sk);
                                Some(Held::Sk(sk, true))
                            }
                            (Some(Held::Sk(sk, bound)), 1) => {
                                // tcp_time_wait(): the timewait sock takes
                                // the socket's place and its port.
                                let tw =
                                    inet_twsk_alloc(&net, &tn, &sk, &tw_init()).expect("a timewait sock");
                                h.inet_twsk_bind_hash(&tw);
                                h.inet_ehash_swap_tw(&sk, &tw);
                                if bound {
                                    h.inet_put_port(&sk);
                                }
                                assert!(!sk.hash_link.is_linked() && !sk.bind_link.is_linked());
                                Some(Held::Tw(tw))
                            }
                            (Some(Held::Sk(sk, _)), _) => {
                                let got = h.__inet_lookup_established(PEER, pport, LOCAL, lport, 1);
                                assert!(got.is_some_and(|g| Arc::ptr_eq(&g, &sk)));
                                h.inet_unhash(&sk);
                                h.inet_put_port(&sk);
                                assert!(!sk.hash_link.is_linked() && !sk.bind_link.is_linked());
                                None
                            }
                            (Some(Held::Tw(tw)), _) => {
                                assert!(h.inet_ehash_remove_tw(&tw));
                                h.inet_twsk_bind_unhash(&tw);
                                assert!(!tw.hash_link.is_linked() && !tw.bind_link.is_linked());
                                None
                            }
                        };
                    }
                    held
                })
            })
            .collect();
        let models: Vec<_> = workers.into_iter().map(|w| w.join().expect("a worker")).collect();
        stop.store(true, Ordering::Relaxed);
        let seen = reader.join().expect("the reader");
        let mut socks = 0;
        let mut owners = [0usize; 2];
        let mut tw_owners = [0usize; 2];
        for (t, model) in models.iter().enumerate() {
            for (k, held) in model.iter().enumerate() {
                let (lport, pport) = tuple(t, k);
                let got = h.__inet_lookup_established_any(PEER, pport, LOCAL, lport, 1);
                let ok = match (held, &got) {
                    (None, None) => true,
                    (Some(Held::Sk(sk, bound)), Some(EhashEntry::Sk(g))) => {
                        socks += 1;
                        owners[k & 1] += usize::from(*bound);
                        Arc::ptr_eq(sk, g)
                    }
                    (Some(Held::Tw(tw)), Some(EhashEntry::Tw(g))) => {
                        tw_owners[k & 1] += 1;
                        Arc::ptr_eq(tw, g)
                    }
                    _ => false,
                };
                assert!(ok, "thread {t} key {k}: the table has {got:?}");
            }
        }
        assert_eq!(h.established_len(), socks);
        for (i, port) in [80u16, 88].into_iter().enumerate() {
            let want = (owners[i] + tw_owners[i] > 0).then_some((owners[i], tw_owners[i]));
            assert_eq!(h.bind_bucket(port).map(|b| (b.owners, b.tw_owners)), want, "port {port}");
        }
        let _ = seen;
    }

    #[test]
    fn inet_lookup_established_exact_match() {
        let (net, h) = (net(), hinfo());
        let a = sock_established(&h, &net, 80, PEER, 40000);
        let b = sock_established(&h, &net, 80, PEER, 40001);
        assert_eq!(h.established_len(), 2);
        // A segment from PEER:40000 to LOCAL:80.
        let got = h.__inet_lookup_established(PEER, 40000, LOCAL, 80, 1).unwrap();
        assert!(Arc::ptr_eq(&got, &a));
        let got = h.__inet_lookup_established(PEER, 40001, LOCAL, 80, 1).unwrap();
        assert!(Arc::ptr_eq(&got, &b));
        // Any field different: a miss.
        assert!(h.__inet_lookup_established(PEER, 40002, LOCAL, 80, 1).is_none());
        assert!(h.__inet_lookup_established(PEER2, 40000, LOCAL, 80, 1).is_none());
        assert!(h.__inet_lookup_established(PEER, 40000, LOCAL2, 80, 1).is_none());
        assert!(h.__inet_lookup_established(PEER, 40000, LOCAL, 81, 1).is_none());
        // The same four-tuple twice is refused.
        let dup = sock(&net, TcpState::Established);
        dup.set_skc_addrs(LOCAL, 80, PEER, 40000);
        assert!(!h.inet_ehash_nolisten(&dup));
        assert_eq!(h.established_len(), 2);
    }

    #[test]
    fn a_timewait_sock_takes_the_full_sockets_place() {
        use crate::inet_timewait_sock::inet_twsk_alloc;
        let net = net();
        let tn = tcp_net(&net);
        let h = &tn.hashinfo;
        let sk = sock_established(h, &net, 80, PEER, 40000);
        let init = tw_init();
        let tw = inet_twsk_alloc(&net, &tn, &sk, &init).unwrap();
        h.inet_ehash_swap_tw(&sk, &tw);
        assert!(!sk.hash_link.is_linked() && tw.hash_link.is_linked());
        assert_eq!(h.established_len(), 0);
        // The full-socket lookup misses; the any-kind lookup finds the tw.
        assert!(h.__inet_lookup_established(PEER, 40000, LOCAL, 80, 1).is_none());
        match h.__inet_lookup_established_any(PEER, 40000, LOCAL, 80, 1) {
            Some(EhashEntry::Tw(t)) => assert!(Arc::ptr_eq(&t, &tw)),
            other => panic!("expected the timewait sock, got {other:?}"),
        }
        assert!(h.inet_lookup_timewait(PEER, 40001, LOCAL, 80, 1).is_none());
        // Its four-tuple is taken: a passive child for it is refused.
        let dup = sock(&net, TcpState::SynRecv);
        dup.set_skc_addrs(LOCAL, 80, PEER, 40000);
        assert!(!h.inet_ehash_nolisten(&dup));
        assert!(h.inet_ehash_remove_tw(&tw));
        assert!(!h.inet_ehash_remove_tw(&tw));
        assert!(h.__inet_lookup_established_any(PEER, 40000, LOCAL, 80, 1).is_none());
        assert!(h.inet_ehash_nolisten(&dup));
    }

    #[test]
    fn inet_lookup_established_bound_device() {
        let (net, h) = (net(), hinfo());
        let a = sock_established(&h, &net, 80, PEER, 40000);
        a.skc_bound_dev_if.store(3, Ordering::Relaxed);
        assert!(h.__inet_lookup_established(PEER, 40000, LOCAL, 80, 3).is_some());
        assert!(h.__inet_lookup_established(PEER, 40000, LOCAL, 80, 4).is_none());
    }

    #[test]
    fn inet_lookup_established_many_in_a_tiny_table() {
        // Four buckets, 300 sockets: long chains still find the right one.
        let net = net();
        let h = InetHashinfo::new(4, SipKey([3, 4]));
        let socks: Vec<_> = (0..300).map(|i| sock_established(&h, &net, 80, PEER, 1000 + i)).collect();
        for (i, sk) in socks.iter().enumerate() {
            let got = h.__inet_lookup_established(PEER, 1000 + i as u16, LOCAL, 80, 0).unwrap();
            assert!(Arc::ptr_eq(&got, sk));
        }
        for sk in &socks {
            h.inet_unhash(sk);
            assert!(!sk.hash_link.is_linked());
        }
        assert_eq!(h.established_len(), 0);
    }

    #[test]
    fn inet_lookup_listener_exact_address_beats_wildcard() {
        let (net, h) = (net(), hinfo());
        let any = sock_listen(&h, &net, Ipv4Addr::UNSPECIFIED, 80, 0);
        let exact = sock_listen(&h, &net, LOCAL, 80, 0);
        let got = h.__inet_lookup_listener(PEER, 40000, LOCAL, 80, 1).unwrap();
        assert!(Arc::ptr_eq(&got, &exact));
        // Another local address: only the wildcard listener matches.
        let got = h.__inet_lookup_listener(PEER, 40000, LOCAL2, 80, 1).unwrap();
        assert!(Arc::ptr_eq(&got, &any));
        assert!(h.__inet_lookup_listener(PEER, 40000, LOCAL, 81, 1).is_none());
        // Established first, then the listener.
        let est = sock_established(&h, &net, 80, PEER, 40000);
        assert!(Arc::ptr_eq(&h.__inet_lookup(PEER, 40000, LOCAL, 80, 1).unwrap(), &est));
        assert!(Arc::ptr_eq(&h.__inet_lookup(PEER, 40001, LOCAL, 80, 1).unwrap(), &exact));
        // Unhashing the exact listener leaves the wildcard one.
        h.inet_unhash(&exact);
        let got = h.__inet_lookup_listener(PEER, 40000, LOCAL, 80, 1).unwrap();
        assert!(Arc::ptr_eq(&got, &any));
    }

    #[test]
    fn inet_lookup_listener_bound_device_score() {
        let (net, h) = (net(), hinfo());
        let plain = sock_listen(&h, &net, Ipv4Addr::UNSPECIFIED, 80, 0);
        let on2 = sock_listen(&h, &net, Ipv4Addr::UNSPECIFIED, 80, 2);
        let _ = sock_listen(&h, &net, Ipv4Addr::UNSPECIFIED, 80, 3);
        // Arriving on device 2: the listener bound to it scores 3, beating 2.
        assert!(Arc::ptr_eq(&h.__inet_lookup_listener(PEER, 1, LOCAL, 80, 2).unwrap(), &on2));
        // Device 5: only the unbound listener admits it.
        assert!(Arc::ptr_eq(&h.__inet_lookup_listener(PEER, 1, LOCAL, 80, 5).unwrap(), &plain));
        // An exact-address listener bound to another device does not match,
        // so the wildcard bucket is searched.
        let exact3 = sock_listen(&h, &net, LOCAL, 80, 3);
        assert!(Arc::ptr_eq(&h.__inet_lookup_listener(PEER, 1, LOCAL, 80, 2).unwrap(), &on2));
        assert!(Arc::ptr_eq(&h.__inet_lookup_listener(PEER, 1, LOCAL, 80, 3).unwrap(), &exact3));
        assert_eq!(compute_score(&exact3, 80, LOCAL, 3), 3);
        assert_eq!(compute_score(&plain, 80, Ipv4Addr::UNSPECIFIED, 3), 2);
        assert_eq!(compute_score(&exact3, 80, LOCAL, 4), -1);
    }

    #[test]
    fn inet_unhash_is_safe_on_unhashed_and_finds_moved_state() {
        let (net, h) = (net(), hinfo());
        let sk = sock(&net, TcpState::Close);
        h.inet_unhash(&sk); // never hashed
        h.inet_put_port(&sk); // never bound
        let est = sock_established(&h, &net, 80, PEER, 40000);
        // The caller stored CLOSE before unhashing: still found in ehash.
        est.skc_state.store(TcpState::Close as u8, Ordering::Release);
        h.inet_unhash(&est);
        assert!(!est.hash_link.is_linked());
        h.inet_unhash(&est); // twice is fine
        assert!(h.__inet_lookup_established(PEER, 40000, LOCAL, 80, 0).is_none());
        let l = sock_listen(&h, &net, LOCAL, 80, 0);
        l.skc_state.store(TcpState::Close as u8, Ordering::Release);
        h.inet_unhash(&l);
        assert!(!l.hash_link.is_linked());
        assert!(h.__inet_lookup_listener(PEER, 1, LOCAL, 80, 0).is_none());
        assert_eq!(h.established_len(), 0);
    }

    fn connecting(net: &Net, peer: Ipv4Addr, pport: u16) -> Arc<TcpSock> {
        let sk = sock(net, TcpState::SynSent);
        sk.set_skc_addrs(LOCAL, 0, peer, pport);
        sk
    }

    #[test]
    fn inet_hash_connect_avoids_tuples_in_use_and_wraps() {
        let (net, h) = (net(), hinfo());
        let range = (1000, 1003); // four ports
        for start in 0..8u32 {
            // Whatever the start, every port of the range is found (the
            // scan wraps), each once for the same peer.
            let h = InetHashinfo::new(64, SipKey([u64::from(start), 9]));
            let socks: Vec<_> = (0..4)
                .map(|_| {
                    let sk = connecting(&net, PEER, 80);
                    h.inet_hash_connect(&sk, range, start).unwrap();
                    sk
                })
                .collect();
            let mut ports: Vec<u16> = socks.iter().map(|s| s.inet_num()).collect();
            ports.sort();
            assert_eq!(ports, [1000, 1001, 1002, 1003], "start {start}");
            // The fifth connect to the same peer finds no unique tuple.
            let sk = connecting(&net, PEER, 80);
            assert_eq!(h.inet_hash_connect(&sk, range, start), Err(Errno::EADDRNOTAVAIL));
            assert!(!sk.hash_link.is_linked() && !sk.bind_link.is_linked());
            // Another peer may reuse the connect()-made buckets.
            let other = connecting(&net, PEER2, 80);
            h.inet_hash_connect(&other, range, start).unwrap();
            assert_eq!(h.bind_bucket(other.inet_num()).unwrap().owners, 2);
            assert_eq!(h.established_len(), 5);
            for s in socks.iter().chain([&other]) {
                let got = h.__inet_lookup_established(s.inet_daddr(), 80, LOCAL, s.inet_num(), 0).unwrap();
                assert!(Arc::ptr_eq(&got, s));
            }
        }
        // First pass: ports of low's parity only.
        let sk = connecting(&net, PEER, 80);
        h.inet_hash_connect(&sk, (2000, 2999), 12345).unwrap();
        assert_eq!(sk.inet_num() % 2, 0);
        let b = h.bind_bucket(sk.inet_num()).unwrap();
        assert_eq!((b.fastreuse, b.fastreuseport), (-1, -1));
    }

    #[test]
    fn inet_hash_connect_skips_ports_bound_explicitly() {
        let (net, h) = (net(), hinfo());
        // bind() took 1000 with SO_REUSEADDR: connect() never shares it,
        // even towards a peer no one talks to.
        let b = sock(&net, TcpState::Close);
        b.set_skc_local(LOCAL, 0);
        b.skc_reuse.store(true, Ordering::Relaxed);
        assert_eq!(inet_csk_get_port(&h, &b, 1000, (1000, 1001), 0), Ok(1000));
        let range = (1000, 1001);
        let a = connecting(&net, PEER, 80);
        h.inet_hash_connect(&a, range, 0).unwrap();
        assert_eq!(a.inet_num(), 1001);
        let c = connecting(&net, PEER2, 80);
        h.inet_hash_connect(&c, range, 0).unwrap();
        assert_eq!(c.inet_num(), 1001);
        let d = connecting(&net, PEER, 80);
        assert_eq!(h.inet_hash_connect(&d, range, 7), Err(Errno::EADDRNOTAVAIL));
    }

    #[test]
    fn inet_hash_connect_bound_socket_checks_only_its_tuple() {
        let (net, h) = (net(), hinfo());
        let mk = || {
            let sk = sock(&net, TcpState::Close);
            sk.set_skc_local(LOCAL, 0);
            sk.skc_reuse.store(true, Ordering::Relaxed);
            assert_eq!(inet_csk_get_port(&h, &sk, 5000, (1000, 2000), 0), Ok(5000));
            sk.set_skc_addrs(LOCAL, 5000, PEER, 80);
            sk.skc_state.store(TcpState::SynSent as u8, Ordering::Release);
            sk
        };
        let (a, b) = (mk(), mk());
        assert_eq!(h.inet_hash_connect(&a, (1000, 2000), 0), Ok(()));
        assert_eq!(a.inet_num(), 5000);
        assert_eq!(h.inet_hash_connect(&b, (1000, 2000), 0), Err(Errno::EADDRNOTAVAIL));
        b.set_skc_addrs(LOCAL, 5000, PEER2, 80);
        assert_eq!(h.inet_hash_connect(&b, (1000, 2000), 0), Ok(()));
        assert_eq!(h.bind_bucket(5000).unwrap().owners, 2);
    }

    #[test]
    fn inet_put_port_frees_the_bucket() {
        let (net, h) = (net(), hinfo());
        let a = connecting(&net, PEER, 80);
        h.inet_hash_connect(&a, (3000, 3000), 0).unwrap();
        let b = connecting(&net, PEER2, 80);
        h.inet_hash_connect(&b, (3000, 3000), 0).unwrap();
        assert_eq!(h.bind_bucket(3000).unwrap().owners, 2);
        h.inet_unhash(&a);
        h.inet_put_port(&a);
        assert_eq!(a.inet_num(), 0);
        assert_eq!(h.bind_bucket(3000).unwrap().owners, 1);
        h.inet_unhash(&b);
        h.inet_put_port(&b);
        assert!(h.bind_bucket(3000).is_none());
        assert_eq!(h.established_len(), 0);
        // The port is free again.
        let c = connecting(&net, PEER, 80);
        h.inet_hash_connect(&c, (3000, 3000), 0).unwrap();
        assert_eq!(c.inet_num(), 3000);
    }

    #[test]
    fn inet_inherit_port_joins_the_listener_bucket() {
        let (net, h) = (net(), hinfo());
        let l = sock(&net, TcpState::Close);
        l.set_skc_local(LOCAL, 0);
        assert_eq!(inet_csk_get_port(&h, &l, 80, (1000, 2000), 0), Ok(80));
        l.skc_state.store(TcpState::Listen as u8, Ordering::Release);
        assert_eq!(inet_csk_get_port(&h, &l, 80, (1000, 2000), 0), Ok(80));
        h.inet_hash(&l);
        let child = sock(&net, TcpState::SynRecv);
        child.set_skc_addrs(LOCAL, 80, PEER, 40000);
        assert!(h.inet_ehash_nolisten(&child));
        h.__inet_inherit_port(&l, &child);
        assert_eq!(h.bind_bucket(80).unwrap().owners, 2);
        h.inet_unhash(&child);
        h.inet_put_port(&child);
        assert_eq!(h.bind_bucket(80).unwrap().owners, 1);
        h.inet_unhash(&l);
        h.inet_put_port(&l);
        assert!(h.bind_bucket(80).is_none());
    }

    #[test]
    fn inet_hash_connect_concurrent_never_duplicates_a_tuple() {
        // Two threads race for the 16 ports of a range towards one peer:
        // exactly 16 connects win, each with its own port.
        let net = net();
        let h = InetHashinfo::new(64, SipKey([11, 12]));
        let won: Vec<Vec<u16>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|t| {
                    let (h, net) = (&h, &net);
                    s.spawn(move || {
                        (0..16u32)
                            .filter_map(|k| {
                                let sk = connecting(net, PEER, 80);
                                h.inet_hash_connect(&sk, (7000, 7015), k * 2 + t).ok().map(|()| sk.inet_num())
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|j| j.join().unwrap()).collect()
        });
        let mut ports: Vec<u16> = won.concat();
        ports.sort();
        assert_eq!(ports, (7000..=7015).collect::<Vec<_>>());
        assert_eq!(h.established_len(), 16);
    }

    #[test]
    fn inet_hash_concurrent_lookups_and_churn() {
        let net = net();
        let h = Arc::new(InetHashinfo::new(256, SipKey([5, 6])));
        // Fewer under Miri, which interprets every step (and checks the
        // races and the unlinks).
        let (n_stable, n_churn, rounds) = if cfg!(miri) { (20, 60, 2) } else { (200, 2000u16, 20) };
        let stable: Vec<_> = (0..n_stable).map(|i| sock_established(&h, &net, 80, PEER, 2000 + i)).collect();
        std::thread::scope(|s| {
            let h2 = Arc::clone(&h);
            let net2 = Arc::clone(&net);
            s.spawn(move || {
                for i in 0..n_churn {
                    let sk = sock(&net2, TcpState::Established);
                    sk.set_skc_addrs(LOCAL, 81, PEER2, i);
                    assert!(h2.inet_ehash_nolisten(&sk));
                    h2.inet_unhash(&sk);
                }
            });
            for _ in 0..rounds {
                for (i, sk) in stable.iter().enumerate() {
                    let got = h.__inet_lookup_established(PEER, 2000 + i as u16, LOCAL, 80, 0).unwrap();
                    assert!(Arc::ptr_eq(&got, sk));
                }
            }
        });
        assert_eq!(h.established_len(), n_stable as usize);
    }

    /// Regression, found by the model property below (shrunk to
    /// `[Req(k), Est(k)]` and `[Req(k), Connect(k)]`): a request sock
    /// holds its four-tuple against full sockets, as Linux's one `ehash`
    /// chain does — a cookie's child (`inet_ehash_nolisten()`) and a
    /// bound socket's `connect()` (`__inet_check_established()`) used to
    /// be hashed beside it.
    #[test]
    fn a_request_sock_holds_its_four_tuple_against_full_sockets() {
        use crate::request_sock::{ReqInit, inet_reqsk_alloc};
        let net = net();
        let tn = tcp_net(&net);
        let h = InetHashinfo::new(8, SipKey([5, 6]));
        let l = sock(&net, TcpState::Listen);
        let init =
            ReqInit { loc_addr: LOCAL, loc_port: 80, rmt_addr: PEER, rmt_port: 40000, ..ReqInit::default() };
        let req = inet_reqsk_alloc(&tn, &l, &init);
        assert!(h.inet_ehash_insert_req(&req));
        let child = sock(&net, TcpState::SynRecv);
        child.set_skc_addrs(LOCAL, 80, PEER, 40000);
        assert!(!h.inet_ehash_nolisten(&child), "found_dup_sk");
        let active = sock(&net, TcpState::SynSent);
        active.set_skc_addrs(LOCAL, 80, PEER, 40000);
        assert_eq!(h.inet_hash_connect(&active, (1, 1), 0), Err(Errno::EADDRNOTAVAIL));
        assert_eq!(h.established_len(), 0);
        match h.__inet_lookup_established_any(PEER, 40000, LOCAL, 80, 1) {
            Some(EhashEntry::Req(r)) => assert!(Arc::ptr_eq(&r, &req)),
            other => panic!("expected the request sock, got {other:?}"),
        }
        // Once the request is gone the four-tuple is free again.
        assert!(h.inet_ehash_remove_req(&req));
        assert_eq!(h.inet_hash_connect(&active, (1, 1), 0), Ok(()));
        assert!(!h.inet_ehash_nolisten(&child), "now the connected socket holds it");
    }

    mod model {
        //! The tables against a naive model: random sequences of inserts,
        //! state changes and removals of established, request and
        //! timewait socks, of their bind-bucket ownership and of
        //! listeners, in a table of 8 `ehash` and 8 `bhash` buckets (so
        //! every chain is long and holds all three kinds, and both local
        //! ports, 80 and 88, share a `bhash` chain), checked after every
        //! step by looking up every four-tuple of the key space, present
        //! or absent, every listening address and both ports' buckets.
        use super::*;
        use crate::inet_timewait_sock::inet_twsk_alloc;
        use crate::request_sock::{ReqInit, inet_reqsk_alloc};
        use proptest::prelude::*;
        use std::collections::HashMap;

        /// Four-tuples in the key space: 2 local addresses × 2 local
        /// ports × 2 peers × 4 peer ports.
        const PORTS: [u16; 2] = [80, 88];
        const KEYS: usize = 32;

        /// The four-tuple `k`, from the socket's side: (laddr, lport,
        /// faddr, fport).
        fn tuple(k: usize) -> (Ipv4Addr, u16, Ipv4Addr, u16) {
            ([LOCAL, LOCAL2][k & 1], PORTS[(k >> 1) & 1], [PEER, PEER2][(k >> 2) & 1], 1000 + (k >> 3) as u16)
        }

        #[derive(Clone, Debug)]
        enum Op {
            /// A full socket on key k (`inet_ehash_nolisten()`).
            Est(usize),
            /// A socket bound to key k's local port connects to its peer
            /// (`inet_hash_connect()` → `__inet_check_established()`).
            Connect(usize),
            /// A request sock on key k (`inet_ehash_insert_req()`).
            Req(usize),
            /// The request sock on k (or a fresh unhashed one) gives way
            /// to its child (`inet_ehash_swap_req()`).
            ReqToChild(usize),
            /// The full socket on k becomes a timewait sock
            /// (`inet_ehash_swap_tw()`).
            ToTw(usize),
            /// Whatever is on k leaves (`inet_unhash()`,
            /// `inet_ehash_remove_req()`, `inet_ehash_remove_tw()`), twice,
            /// and gives up its port (`inet_put_port()`,
            /// `inet_twsk_bind_unhash()`).
            Remove(usize),
            /// The full socket on k takes its port's bind bucket
            /// (`__inet_inherit_port()`).
            Bind(usize),
            /// A listener on local port 80 or 88, bound to LOCAL or the
            /// wildcard address (`inet_hash()`).
            Listen(u16, bool),
            /// Listener i (mod how many there are) stops (`inet_unhash()`).
            Unlisten(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            let k = 0..KEYS;
            prop_oneof![
                4 => k.clone().prop_map(Op::Est),
                2 => k.clone().prop_map(Op::Connect),
                3 => k.clone().prop_map(Op::Req),
                2 => k.clone().prop_map(Op::ReqToChild),
                2 => k.clone().prop_map(Op::ToTw),
                2 => k.clone().prop_map(Op::Bind),
                4 => k.prop_map(Op::Remove),
                1 => (prop::sample::select(&PORTS[..]), any::<bool>()).prop_map(|(p, exact)| Op::Listen(p, exact)),
                1 => any::<usize>().prop_map(Op::Unlisten),
            ]
        }

        /// What the model holds for a four-tuple.
        #[derive(Clone)]
        enum Entry {
            Sk(Arc<TcpSock>),
            Req(Arc<RequestSock>),
            Tw(Arc<InetTimewaitSock>),
        }

        struct Model {
            ehash: HashMap<usize, Entry>,
            /// Keys whose full socket owns its port.
            bound: Vec<usize>,
            /// Timewait socks owning each port.
            tw_owners: HashMap<u16, usize>,
            /// Listeners, oldest first.
            listeners: Vec<Arc<TcpSock>>,
        }

        impl Model {
            /// The listener a segment to `daddr:dport` reaches: the newest
            /// bound to `daddr` itself, else the newest bound to the
            /// wildcard (no devices, no SO_REUSEPORT here).
            fn listener(&self, daddr: Ipv4Addr, dport: u16) -> Option<&Arc<TcpSock>> {
                let newest = |a: Ipv4Addr| {
                    self.listeners.iter().rev().find(|l| l.inet_num() == dport && l.inet_rcv_saddr() == a)
                };
                newest(daddr).or_else(|| newest(Ipv4Addr::UNSPECIFIED))
            }
        }

        fn same<T>(a: Option<&Arc<T>>, b: Option<&Arc<T>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
        }

        /// Every four-tuple and every listening address agrees with the
        /// model.
        fn check(h: &InetHashinfo, m: &Model) -> Result<(), TestCaseError> {
            for k in 0..KEYS {
                let (laddr, lport, faddr, fport) = tuple(k);
                let want = m.ehash.get(&k);
                let est = h.__inet_lookup_established(faddr, fport, laddr, lport, 1);
                let want_sk = match want {
                    Some(Entry::Sk(sk)) => Some(sk),
                    _ => None,
                };
                prop_assert!(same(est.as_ref(), want_sk), "__inet_lookup_established, key {}", k);
                let any = h.__inet_lookup_established_any(faddr, fport, laddr, lport, 1);
                let ok = match (&any, want) {
                    (None, None) => true,
                    (Some(EhashEntry::Sk(a)), Some(Entry::Sk(b))) => Arc::ptr_eq(a, b),
                    (Some(EhashEntry::Req(a)), Some(Entry::Req(b))) => Arc::ptr_eq(a, b),
                    (Some(EhashEntry::Tw(a)), Some(Entry::Tw(b))) => Arc::ptr_eq(a, b),
                    _ => false,
                };
                prop_assert!(ok, "__inet_lookup_established_any, key {}: {:?}", k, any);
                // __inet_lookup(): established first, then the listener.
                let got = h.__inet_lookup(faddr, fport, laddr, lport, 1);
                prop_assert!(
                    same(got.as_ref(), want_sk.or(m.listener(laddr, lport))),
                    "__inet_lookup, key {}",
                    k
                );
            }
            for (daddr, dport) in [(LOCAL, 80), (LOCAL, 88), (LOCAL2, 80), (LOCAL2, 88)] {
                let got = h.__inet_lookup_listener(PEER, 999, daddr, dport, 1);
                prop_assert!(
                    same(got.as_ref(), m.listener(daddr, dport)),
                    "listener for {}:{}",
                    daddr,
                    dport
                );
            }
            let sks = m.ehash.values().filter(|e| matches!(e, Entry::Sk(_))).count();
            prop_assert_eq!(h.established_len(), sks);
            for port in PORTS {
                let owners = m.bound.iter().filter(|&&k| tuple(k).1 == port).count();
                let tw_owners = m.tw_owners.get(&port).copied().unwrap_or(0);
                let got = h.bind_bucket(port).map(|b| (b.owners, b.tw_owners));
                let want = (owners + tw_owners > 0).then_some((owners, tw_owners));
                prop_assert_eq!(got, want, "bind bucket of port {}", port);
            }
            Ok(())
        }

        proptest! {
            // Under Miri one case of at most 40 ops (each op interpreted;
            // no file for failures: Miri isolates the file system).
            #![proptest_config(if cfg!(miri) {
                ProptestConfig { cases: 1, failure_persistence: None, ..ProptestConfig::default() }
            } else {
                ProptestConfig::default()
            })]
            #[test]
            fn ehash_and_lhash2_agree_with_a_model(ops in prop::collection::vec(op(), 1..if cfg!(miri) { 40 } else { 120 })) {
                let net = net();
                let tn = tcp_net(&net);
                let h = InetHashinfo::new(8, SipKey([5, 6]));
                let mut m = Model {
                    ehash: HashMap::new(),
                    bound: Vec::new(),
                    tw_owners: HashMap::new(),
                    listeners: Vec::new(),
                };
                let full = |k: usize, state: TcpState| {
                    let (laddr, lport, faddr, fport) = tuple(k);
                    let sk = sock(&net, state);
                    sk.set_skc_addrs(laddr, lport, faddr, fport);
                    sk
                };
                let request = |k: usize| {
                    let (loc_addr, loc_port, rmt_addr, rmt_port) = tuple(k);
                    let l = sock(&net, TcpState::Listen);
                    let init = ReqInit { loc_addr, loc_port, rmt_addr, rmt_port, ..ReqInit::default() };
                    inet_reqsk_alloc(&tn, &l, &init)
                };
                for op in ops {
                    match op {
                        Op::Est(k) => {
                            let sk = full(k, TcpState::Established);
                            prop_assert_eq!(h.inet_ehash_nolisten(&sk), !m.ehash.contains_key(&k), "insert on {}", k);
                            m.ehash.entry(k).or_insert(Entry::Sk(sk));
                        }
                        Op::Connect(k) => {
                            let sk = full(k, TcpState::SynSent);
                            let got = h.inet_hash_connect(&sk, (1, 1), 0);
                            let want = if m.ehash.contains_key(&k) { Err(Errno::EADDRNOTAVAIL) } else { Ok(()) };
                            prop_assert_eq!(got, want, "connect on {}", k);
                            m.ehash.entry(k).or_insert(Entry::Sk(sk));
                        }
                        Op::Req(k) => {
                            let req = request(k);
                            prop_assert_eq!(h.inet_ehash_insert_req(&req), !m.ehash.contains_key(&k), "request on {}", k);
                            m.ehash.entry(k).or_insert(Entry::Req(req));
                        }
                        Op::ReqToChild(k) => {
                            let child = full(k, TcpState::SynRecv);
                            match m.ehash.get(&k).cloned() {
                                Some(Entry::Req(req)) => {
                                    prop_assert!(h.inet_ehash_swap_req(&req, &child));
                                    prop_assert!(!req.hash_link.is_linked());
                                    m.ehash.insert(k, Entry::Sk(child));
                                }
                                _ => {
                                    // A request that is no longer hashed: own_req
                                    // is false and the child is not hashed.
                                    prop_assert!(!h.inet_ehash_swap_req(&request(k), &child));
                                    prop_assert!(!child.hash_link.is_linked());
                                }
                            }
                        }
                        Op::ToTw(k) => {
                            if let Some(Entry::Sk(sk)) = m.ehash.get(&k).cloned() {
                                // inet_twsk_hashdance_schedule(), then
                                // tcp_done()'s inet_put_port().
                                let tw = inet_twsk_alloc(&net, &tn, &sk, &tw_init()).expect("a timewait sock");
                                h.inet_twsk_bind_hash(&tw);
                                h.inet_ehash_swap_tw(&sk, &tw);
                                prop_assert!(!sk.hash_link.is_linked() && tw.hash_link.is_linked());
                                h.inet_put_port(&sk);
                                m.bound.retain(|&b| b != k);
                                *m.tw_owners.entry(tuple(k).1).or_default() += 1;
                                m.ehash.insert(k, Entry::Tw(tw));
                            }
                        }
                        Op::Remove(k) => match m.ehash.remove(&k) {
                            Some(Entry::Sk(sk)) => {
                                // tcp_set_state(TCP_CLOSE): unhash, then
                                // leave the bind bucket.
                                h.inet_unhash(&sk);
                                prop_assert!(!sk.hash_link.is_linked());
                                h.inet_unhash(&sk);
                                h.inet_put_port(&sk);
                                prop_assert!(!sk.bind_link.is_linked());
                                h.inet_put_port(&sk);
                                m.bound.retain(|&b| b != k);
                            }
                            Some(Entry::Req(req)) => {
                                prop_assert!(h.inet_ehash_remove_req(&req));
                                prop_assert!(!h.inet_ehash_remove_req(&req));
                            }
                            Some(Entry::Tw(tw)) => {
                                // inet_twsk_kill().
                                prop_assert!(h.inet_ehash_remove_tw(&tw));
                                prop_assert!(!h.inet_ehash_remove_tw(&tw));
                                h.inet_twsk_bind_unhash(&tw);
                                prop_assert!(!tw.bind_link.is_linked());
                                h.inet_twsk_bind_unhash(&tw);
                                *m.tw_owners.entry(tuple(k).1).or_default() -= 1;
                            }
                            None => {}
                        },
                        Op::Bind(k) => {
                            if let Some(Entry::Sk(sk)) = m.ehash.get(&k) {
                                // The child joins the bucket of its own port
                                // (it is its own "listener" here), once.
                                h.__inet_inherit_port(sk, sk);
                                if !m.bound.contains(&k) {
                                    m.bound.push(k);
                                }
                            }
                        }
                        Op::Listen(port, exact) => {
                            let addr = if exact { LOCAL } else { Ipv4Addr::UNSPECIFIED };
                            m.listeners.push(sock_listen(&h, &net, addr, port, 0));
                        }
                        Op::Unlisten(i) => {
                            if !m.listeners.is_empty() {
                                let l = m.listeners.remove(i % m.listeners.len());
                                h.inet_unhash(&l);
                                prop_assert!(!l.hash_link.is_linked());
                            }
                        }
                    }
                    check(&h, &m)?;
                }
            }
        }
    }
}
