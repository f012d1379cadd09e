//! The neighbour table: which link-layer address answers for a next hop.
//!
//! Mirrors net/core/neighbour.c and include/net/neighbour.h (Linux 6.18)
//! for the one table IPv4 uses, `arp_tbl` (whose parameters come from
//! net/ipv4/arp.c). Read first: RFC 826 (ARP), RFC 1122 §2.3.2 (ARP cache
//! validation, flooding limits, queueing one packet while resolving) and
//! RFC 4861 §7.3 (Neighbor Unreachability Detection — Linux runs the same
//! NUD state machine for ARP as for IPv6 ND).
//!
//! # The NUD state machine
//!
//! An entry ([`Neighbour`]) is created `NONE` when a packet needs a next hop
//! nobody has resolved yet. [`neigh_resolve_output`] → `__neigh_event_send`
//! moves it to `INCOMPLETE`, queues the packet (at most
//! `unres_qlen_bytes` of truesize; the oldest are dropped first) and sends a
//! broadcast request at once, then one every `retrans_time` (1 s). After
//! `ucast_probes + app_probes + mcast_probes` (3 + 0 + 3, of which the
//! first 3 are counted as already spent) it gives up: `FAILED`, and each
//! queued packet is dropped (`NEIGH_FAILED`) with an ICMP host unreachable
//! to its sender (`arp_error_report`).
//!
//! A reply makes it `REACHABLE` for `reachable_time` (a random 0.5–1.5 ×
//! `base_reachable_time`, 30 s) after the last confirmation, and flushes the
//! queue. Then the timer demotes it to `STALE` (or to `DELAY` if it was used
//! in the last `delay_first_probe_time`). Using a `STALE` entry sends at once
//! and starts `DELAY` (5 s): confirmation by then makes it `REACHABLE` again,
//! otherwise `PROBE` sends up to `ucast_probes` unicast requests, one per
//! `retrans_time`, then `FAILED`. A request addressed to us creates or
//! refreshes the sender's entry as `STALE` (`neigh_event_ns`).
//!
//! # Bounds
//!
//! An ARP flood must not grow memory: creating an entry past `gc_thresh2`
//! (if 5 s passed since the last flush) or `gc_thresh3` runs
//! `neigh_forced_gc`, which removes unreferenced `FAILED`/`NOARP` entries and
//! those not updated for 5 s, oldest first; if nothing could go and the table
//! holds `gc_thresh3` entries, the new one is refused (`table_fulls`).
//!
//! # Where we differ
//!
//! - Entries are keyed by `(ifindex, address)` in a `HashMap` behind one
//!   spin lock, hashed by a keyed multiplicative hash as `arp_hashfn()`
//!   does; Linux's resizable RCU hash and `gc_list` are replaced by a
//!   sort on `updated` when forced GC runs.
//! - `neigh_periodic_work` runs lazily when an entry is created and at least
//!   `base_reachable_time / 2` passed since its last run, not from a
//!   workqueue, so an idle namespace keeps no timer armed.
//! - The hardware header cache (`hh_cache`) holds the resolved address,
//!   not a prebuilt header ([`neigh_output`]); no proxy queue, netlink
//!   notifications or `NTF_*` flags; no entries for loopback, `IFF_NOARP`,
//!   broadcast or multicast next hops (Linux creates `NUD_NOARP` ones):
//!   their address is known without asking, so we send directly.
//! - What ARP needs from IPv4 (is an address local, which source to use,
//!   report a link failure) goes through [`crate::arp::ArpOps`]; the table
//!   keeps a weak reference for its timers.
//!
//! **Locks**: the table lock (`tbl->lock`) guards the hash; each entry's
//! lock (`neigh->lock`) guards its state and queue. Order: table → entry →
//! the namespace timer wheel. Both are spin locks held for a few field
//! updates; neither is held while a frame is transmitted or an ICMP error
//! sent.

use crate::arp::{ArpOps, arp_solicit};
use crate::eth::{eth_header, mac_to_string};
use crate::{Ipv4, Ipv4Addr};
use net_core::dropreason::SkbDropReason;
use net_core::if_ether::{ETH_HLEN, ETH_P_IP};
use net_core::jiffies::{HZ, time_after, time_before, time_before_eq};
use net_core::net_namespace::TimerFunc;
use net_core::netdevice::{IFF_LOOPBACK, IFF_NOARP, MacAddr};
use net_core::percpu::PerCpuU64s;
use net_core::timer::TimerId;
use net_core::{Errno, Net, NetDev, SkBuffHead, Skb};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

// ANCHOR: nud_state
/// Neighbour Unreachability Detection states (`NUD_*`,
/// include/uapi/linux/neighbour.h), with Linux's bit values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NudState {
    /// Just created, never used (`NUD_NONE`).
    None = 0x00,
    /// Resolution in progress: requests are being broadcast, packets queue
    /// (`NUD_INCOMPLETE`).
    Incomplete = 0x01,
    /// Confirmed within `reachable_time` (`NUD_REACHABLE`).
    Reachable = 0x02,
    /// Address known but unconfirmed; used as is, and use starts
    /// verification (`NUD_STALE`).
    Stale = 0x04,
    /// Used while stale: wait `delay_first_probe_time` for upper-layer
    /// confirmation before probing (`NUD_DELAY`).
    Delay = 0x08,
    /// Unicast probes are being sent (`NUD_PROBE`).
    Probe = 0x10,
    /// Resolution failed (`NUD_FAILED`).
    Failed = 0x20,
    /// No resolution needed (`NUD_NOARP`).
    Noarp = 0x40,
    /// Set by the administrator, never expires (`NUD_PERMANENT`).
    Permanent = 0x80,
}
// ANCHOR_END: nud_state

/// `NUD_INCOMPLETE`.
pub const NUD_INCOMPLETE: u8 = 0x01;
/// `NUD_REACHABLE`.
pub const NUD_REACHABLE: u8 = 0x02;
/// `NUD_STALE`.
pub const NUD_STALE: u8 = 0x04;
/// `NUD_DELAY`.
pub const NUD_DELAY: u8 = 0x08;
/// `NUD_PROBE`.
pub const NUD_PROBE: u8 = 0x10;
/// `NUD_FAILED`.
pub const NUD_FAILED: u8 = 0x20;
/// `NUD_NOARP`.
pub const NUD_NOARP: u8 = 0x40;
/// `NUD_PERMANENT`.
pub const NUD_PERMANENT: u8 = 0x80;
/// `NUD_NONE`.
pub const NUD_NONE: u8 = 0x00;
/// States whose entry has its timer running (`NUD_IN_TIMER`).
pub const NUD_IN_TIMER: u8 = NUD_INCOMPLETE | NUD_REACHABLE | NUD_DELAY | NUD_PROBE;
/// States with a usable address (`NUD_VALID`).
pub const NUD_VALID: u8 = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;
/// States that need no verification before use (`NUD_CONNECTED`).
pub const NUD_CONNECTED: u8 = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE;

impl NudState {
    /// The `NUD_*` bit.
    pub fn bits(self) -> u8 {
        self as u8
    }

    /// The name `ip neigh` prints.
    pub fn name(self) -> &'static str {
        match self {
            NudState::None => "NONE",
            NudState::Incomplete => "INCOMPLETE",
            NudState::Reachable => "REACHABLE",
            NudState::Stale => "STALE",
            NudState::Delay => "DELAY",
            NudState::Probe => "PROBE",
            NudState::Failed => "FAILED",
            NudState::Noarp => "NOARP",
            NudState::Permanent => "PERMANENT",
        }
    }
}

/// `neigh_update()` flag: a new address may replace a valid one
/// (`NEIGH_UPDATE_F_OVERRIDE`).
pub const NEIGH_UPDATE_F_OVERRIDE: u32 = 0x0000_0001;
/// `NEIGH_UPDATE_F_WEAK_OVERRIDE`: a different address only marks a
/// connected entry stale.
pub const NEIGH_UPDATE_F_WEAK_OVERRIDE: u32 = 0x0000_0002;
/// `NEIGH_UPDATE_F_ADMIN`: the administrator speaks; may change
/// `PERMANENT`/`NOARP` entries.
pub const NEIGH_UPDATE_F_ADMIN: u32 = 0x8000_0000;

/// `SK_WMEM_MAX`: the default `unres_qlen_bytes`.
pub const SK_WMEM_MAX: u64 = 212_992;
/// `gc_thresh1` of `arp_tbl`: below this many entries GC leaves the table alone.
pub const NEIGH_GC_THRESH1: usize = 128;
/// `gc_thresh2`: above this many, creating an entry forces GC (at most every 5 s).
pub const NEIGH_GC_THRESH2: usize = 512;
/// `gc_thresh3`: the hard maximum.
pub const NEIGH_GC_THRESH3: usize = 1024;

/// Per-table tunables (`struct neigh_parms`, the `NEIGH_VAR_*` array) with
/// `arp_tbl`'s defaults. Times are in jiffies (HZ = 1000). Atomics so
/// `net.ipv4.neigh.default.*` sysctls can write them while packets flow.
#[derive(Debug)]
pub struct NeighParms {
    /// `base_reachable_time` (30 s).
    pub base_reachable_time: AtomicU64,
    /// `retrans_time`: between probes (1 s).
    pub retrans_time: AtomicU64,
    /// `delay_first_probe_time` (`NEIGH_VAR_DELAY_PROBE_TIME`, 5 s).
    pub delay_probe_time: AtomicU64,
    /// `gc_stale_time`: unused this long, an entry may be collected (60 s).
    pub gc_stale_time: AtomicU64,
    /// `locktime`: a second reply within this of an update does not
    /// override it (1 s).
    pub locktime: AtomicU64,
    /// `ucast_solicit` (`NEIGH_VAR_UCAST_PROBES`, 3).
    pub ucast_probes: AtomicU32,
    /// `mcast_solicit` (`NEIGH_VAR_MCAST_PROBES`, 3).
    pub mcast_probes: AtomicU32,
    /// `app_solicit` (`NEIGH_VAR_APP_PROBES`, 0).
    pub app_probes: AtomicU32,
    /// `mcast_resolicit` (`NEIGH_VAR_MCAST_REPROBES`, 0).
    pub mcast_reprobes: AtomicU32,
    /// `unres_qlen_bytes` (`NEIGH_VAR_QUEUE_LEN_BYTES`, `SK_WMEM_MAX`).
    pub queue_len_bytes: AtomicU64,
    /// `reachable_time`: `base_reachable_time` randomised by
    /// `neigh_rand_reach_time()`; 0 until first computed.
    reachable_time: AtomicU64,
    /// When `reachable_time` was last drawn (jiffies).
    reachable_time_drawn: AtomicU64,
}

impl Default for NeighParms {
    fn default() -> Self {
        NeighParms {
            base_reachable_time: AtomicU64::new(30 * HZ),
            retrans_time: AtomicU64::new(HZ),
            delay_probe_time: AtomicU64::new(5 * HZ),
            gc_stale_time: AtomicU64::new(60 * HZ),
            locktime: AtomicU64::new(HZ),
            ucast_probes: AtomicU32::new(3),
            mcast_probes: AtomicU32::new(3),
            app_probes: AtomicU32::new(0),
            mcast_reprobes: AtomicU32::new(0),
            queue_len_bytes: AtomicU64::new(SK_WMEM_MAX),
            reachable_time: AtomicU64::new(0),
            reachable_time_drawn: AtomicU64::new(0),
        }
    }
}

fn ld64(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}
fn ld32(a: &AtomicU32) -> u32 {
    a.load(Ordering::Relaxed)
}

/// `neigh_rand_reach_time()`: uniform in `[base/2, 3·base/2)`.
pub fn neigh_rand_reach_time(net: &Net, base: u64) -> u64 {
    if base == 0 {
        return 0;
    }
    u64::from(net.random.get_random_u32_below(base.min(u64::from(u32::MAX)) as u32)) + (base >> 1)
}

impl NeighParms {
    /// `neigh->parms->reachable_time`: drawn on first use and again every
    /// 300 s, as `neigh_periodic_work` does.
    pub fn reachable_time(&self, net: &Net) -> u64 {
        let now = net.jiffies();
        let rt = ld64(&self.reachable_time);
        if rt != 0 && !time_after(now, ld64(&self.reachable_time_drawn) + 300 * HZ) {
            return rt;
        }
        let rt = neigh_rand_reach_time(net, ld64(&self.base_reachable_time)).max(1);
        self.reachable_time.store(rt, Ordering::Relaxed);
        self.reachable_time_drawn.store(now, Ordering::Relaxed);
        rt
    }

    /// Force `reachable_time` (tests; Linux recomputes it when
    /// `base_reachable_time` is written).
    pub fn set_reachable_time(&self, net: &Net, rt: u64) {
        self.reachable_time.store(rt.max(1), Ordering::Relaxed);
        self.reachable_time_drawn.store(net.jiffies(), Ordering::Relaxed);
    }
}

/// One counter of `/proc/net/stat/arp_cache` (a field of `struct
/// neigh_statistics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighStat {
    /// Entries allocated (`allocs`).
    Allocs,
    /// Entries destroyed (`destroys`).
    Destroys,
    /// Lookups (`lookups`).
    Lookups,
    /// Lookups that found an entry (`hits`).
    Hits,
    /// Resolutions that failed (`res_failed`).
    ResFailed,
    /// Requests for us received by broadcast (`rcv_probes_mcast`).
    RcvProbesMcast,
    /// Requests for us received by unicast (`rcv_probes_ucast`).
    RcvProbesUcast,
    /// Periodic GC runs (`periodic_gc_runs`).
    PeriodicGcRuns,
    /// Forced GC runs (`forced_gc_runs`).
    ForcedGcRuns,
    /// Packets dropped from a full unresolved queue (`unres_discards`;
    /// the `/proc` column is `unresolved_discards`).
    #[doc(alias = "unresolved_discards")]
    UnresDiscards,
    /// Entries refused because the table was full (`table_fulls`).
    TableFulls,
}

/// `/proc/net/stat/arp_cache` (`struct neigh_statistics`): per-CPU, as
/// Linux's `tbl->stats` is (`NEIGH_CACHE_STAT_INC()` is `this_cpu_inc()`),
/// so the lookup every transmitted packet counts is no atomic
/// read-modify-write (see [`net_core::percpu`]).
#[derive(Debug)]
pub struct NeighStatistics {
    counters: PerCpuU64s,
}

impl Default for NeighStatistics {
    fn default() -> Self {
        NeighStatistics { counters: PerCpuU64s::new(NeighStat::TableFulls as usize + 1) }
    }
}

impl NeighStatistics {
    /// Count one (`NEIGH_CACHE_STAT_INC()`).
    #[inline]
    pub fn inc(&self, s: NeighStat) {
        self.counters.add(s as usize, 1);
    }

    /// Read a counter: the sum over every CPU's copy.
    pub fn get(&self, s: NeighStat) -> u64 {
        self.counters.sum(s as usize)
    }

    /// The `/proc/net/stat/arp_cache` header and one line of values (hex,
    /// as Linux prints them); `entries` is the table size.
    pub fn proc_show(&self, entries: usize) -> String {
        format!(
            "entries  allocs  destroys  hash_grows  lookups  hits  res_failed  rcv_probes_mcast  rcv_probes_ucast  periodic_gc_runs  forced_gc_runs  unresolved_discards  table_fulls\n\
             {:08x} {:08x} {:08x} {:08x} {:08x} {:08x} {:08x} {:08x} {:08x} {:08x} {:08x} {:08x} {:08x}\n",
            entries,
            self.get(NeighStat::Allocs),
            self.get(NeighStat::Destroys),
            0,
            self.get(NeighStat::Lookups),
            self.get(NeighStat::Hits),
            self.get(NeighStat::ResFailed),
            self.get(NeighStat::RcvProbesMcast),
            self.get(NeighStat::RcvProbesUcast),
            self.get(NeighStat::PeriodicGcRuns),
            self.get(NeighStat::ForcedGcRuns),
            self.get(NeighStat::UnresDiscards),
            self.get(NeighStat::TableFulls),
        )
    }
}

/// What an entry's lock guards (`neigh->lock`).
struct NeighInner {
    /// `nud_state`.
    nud_state: NudState,
    /// `ha`: the link-layer address, valid in `NUD_VALID` states.
    ha: MacAddr,
    /// Last confirmation of reachability, jiffies (`confirmed`).
    confirmed: u64,
    /// Last state or address change, jiffies (`updated`).
    updated: u64,
    /// Probes sent in this round (`probes`).
    probes: u32,
    /// Packets waiting for resolution (`arp_queue`).
    arp_queue: SkBuffHead,
    /// Their truesize sum (`arp_queue_len_bytes`).
    arp_queue_len_bytes: u64,
    /// Removed from the table (`dead`).
    dead: bool,
}

/// One neighbour entry (`struct neighbour`). Shared as `Arc`; the table
/// holds one reference, so `Arc::strong_count == 1` is Linux's
/// `refcount_read(&n->refcnt) == 1` ("nobody else uses it").
pub struct Neighbour {
    /// The device, by ifindex (`dev`).
    pub dev: u32,
    /// The next hop's IPv4 address (`primary_key`).
    pub primary_key: Ipv4Addr,
    /// The table (`tbl`), weakly: the table owns its entries.
    tbl: Weak<TblShared>,
    /// The entry's timer on the namespace wheel (`timer`).
    timer: TimerId,
    /// Last use for output, jiffies (`used`). Linux reads and writes it
    /// with `READ_ONCE`/`WRITE_ONCE`, outside the entry lock; so do we,
    /// because the [`neigh_hh_output`] fast path notes every use.
    used: AtomicU64,
    /// The cached hardware header (`struct hh_cache hh`): the resolved
    /// address with [`HH_VALID`] set while the entry is `NUD_CONNECTED`,
    /// 0 otherwise. Written with the entry lock held whenever the state or
    /// the address changes ([`neigh_hh_update`]); read without it by
    /// [`neigh_output`], as Linux reads `hh->hh_len` and `nud_state` with
    /// `READ_ONCE` ("could be changed under us").
    hh: AtomicU64,
    inner: spin::Mutex<NeighInner>,
}

/// Set in [`Neighbour::hh`] when it holds an address.
const HH_VALID: u64 = 1 << 48;

/// Publish the entry's header cache after its state or address changed,
/// the entry lock held: the address while `NUD_CONNECTED` (and alive),
/// nothing otherwise. Linux fills `hh` once (`neigh_hh_init()`) and keys
/// the fast path on `nud_state & NUD_CONNECTED`; folding both into one
/// word gives the lockless reader a consistent pair.
fn neigh_hh_update(n: &Neighbour, i: &NeighInner) {
    let v = if i.nud_state.bits() & NUD_CONNECTED != 0 && !i.dead {
        let mut w = [0u8; 8];
        w[..6].copy_from_slice(&i.ha);
        HH_VALID | u64::from_le_bytes(w)
    } else {
        0
    };
    if n.hh.load(Ordering::Relaxed) != v {
        n.hh.store(v, Ordering::Release);
    }
}

impl std::fmt::Debug for Neighbour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.inner.lock();
        f.debug_struct("Neighbour")
            .field("dev", &self.dev)
            .field("primary_key", &self.primary_key)
            .field("nud_state", &i.nud_state)
            .field("ha", &mac_to_string(&i.ha))
            .finish()
    }
}

impl Neighbour {
    /// `nud_state`.
    pub fn nud_state(&self) -> NudState {
        self.inner.lock().nud_state
    }
    /// `ha` (meaningful in `NUD_VALID` states).
    pub fn ha(&self) -> MacAddr {
        self.inner.lock().ha
    }
    /// Probes sent in the current round.
    pub fn probes(&self) -> u32 {
        self.inner.lock().probes
    }
    /// Packets queued while resolving.
    pub fn arp_queue_len(&self) -> usize {
        self.inner.lock().arp_queue.len()
    }
    /// Their truesize sum.
    pub fn arp_queue_len_bytes(&self) -> u64 {
        self.inner.lock().arp_queue_len_bytes
    }
    /// `confirmed`, `updated`, `used` (jiffies).
    pub fn times(&self) -> (u64, u64, u64) {
        let i = self.inner.lock();
        (i.confirmed, i.updated, self.used.load(Ordering::Relaxed))
    }
    /// The entry's timer.
    pub fn timer(&self) -> TimerId {
        self.timer
    }
    /// Tell the entry an upper layer saw forward progress (TCP's ACKs):
    /// `neigh_confirm()` sets `confirmed` so `DELAY` returns to `REACHABLE`.
    pub fn neigh_confirm(&self, net: &Net) {
        self.inner.lock().confirmed = net.jiffies();
    }
}

// ANCHOR: arp_hashfn
/// The hash key of an entry: its device and next hop (Linux hashes
/// `primary_key` and the device pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NeighKey {
    dev: u32,
    key: Ipv4Addr,
}

impl std::hash::Hash for NeighKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.dev) << 32) | u64::from(u32::from(self.key)));
    }
}

/// The table's hash function, keyed per table (`tbl->nht->hash_rnd`).
///
/// Mirrors `arp_hashfn()` (include/net/arp.h): `(key ^ hash32_ptr(dev)) *
/// hash_rnd[0]`, a multiplicative hash whose random multiplier, drawn
/// when the table is made, keeps an outsider from choosing addresses that
/// collide (RFC 1122 §2.3.2.2 asks for flooding limits; `gc_thresh3`
/// bounds the table, the random key the chains). Ours multiplies the
/// 64-bit (ifindex, address) word, salted, by an odd random 64-bit key and
/// folds the 128-bit product, so every bit of the key reaches the bits
/// `HashMap` uses for its buckets and tags; SipHash, the `HashMap`
/// default, cost more than the rest of the lookup.
#[derive(Clone, Debug)]
struct ArpHashRnd {
    salt: u64,
    mul: u64,
}

impl ArpHashRnd {
    /// Two random words from the standard library's per-process keys, so
    /// no draw is taken from the namespace's seeded generator (which would
    /// shift every later random choice of a simulation).
    fn new() -> Self {
        use std::hash::BuildHasher;
        let s = std::collections::hash_map::RandomState::new();
        ArpHashRnd { salt: s.hash_one(0x6172_705f_6861_7368_u64), mul: s.hash_one(1u64) | 1 }
    }
}

impl std::hash::BuildHasher for ArpHashRnd {
    type Hasher = ArpHasher;
    fn build_hasher(&self) -> ArpHasher {
        ArpHasher { rnd: self.clone(), h: self.salt }
    }
}

/// One [`ArpHashRnd`] hash in progress.
#[derive(Debug)]
struct ArpHasher {
    rnd: ArpHashRnd,
    h: u64,
}

impl std::hash::Hasher for ArpHasher {
    fn write_u64(&mut self, v: u64) {
        let m = u128::from(self.h ^ v) * u128::from(self.rnd.mul);
        self.h = (m as u64) ^ ((m >> 64) as u64);
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn finish(&self) -> u64 {
        self.h
    }
}
// ANCHOR_END: arp_hashfn

/// The part of the table its entries and timers share.
struct TblShared {
    parms: NeighParms,
    stats: NeighStatistics,
    gc_thresh1: AtomicUsize,
    gc_thresh2: AtomicUsize,
    gc_thresh3: AtomicUsize,
    /// `last_flush`: the last forced GC, jiffies.
    last_flush: AtomicU64,
    /// The last `neigh_periodic_work`, jiffies.
    last_periodic: AtomicU64,
    /// The sysctl table generation `neigh_parms_sync` last copied
    /// (`u64::MAX`: never).
    parms_generation: AtomicU64,
    /// The hash (`nht`), guarded by `tbl->lock`.
    hash: spin::Mutex<HashMap<NeighKey, Arc<Neighbour>, ArpHashRnd>>,
    /// What ARP needs from IPv4, for timer-driven probes and failures.
    ops: spin::RwLock<Option<Weak<dyn ArpOps>>>,
}

/// The ARP neighbour table (`arp_tbl`).
pub struct NeighTable {
    shared: Arc<TblShared>,
}

impl std::fmt::Debug for NeighTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeighTable").field("entries", &self.len()).finish()
    }
}

impl NeighTable {
    /// An empty table with `arp_tbl`'s parameters.
    pub fn new() -> Self {
        NeighTable {
            shared: Arc::new(TblShared {
                parms: NeighParms::default(),
                stats: NeighStatistics::default(),
                gc_thresh1: AtomicUsize::new(NEIGH_GC_THRESH1),
                gc_thresh2: AtomicUsize::new(NEIGH_GC_THRESH2),
                gc_thresh3: AtomicUsize::new(NEIGH_GC_THRESH3),
                last_flush: AtomicU64::new(0),
                last_periodic: AtomicU64::new(0),
                parms_generation: AtomicU64::new(u64::MAX),
                hash: spin::Mutex::new(HashMap::with_hasher(ArpHashRnd::new())),
                ops: spin::RwLock::new(None),
            }),
        }
    }

    /// `tbl->parms`.
    pub fn parms(&self) -> &NeighParms {
        &self.shared.parms
    }

    /// `tbl->stats`.
    pub fn stats(&self) -> &NeighStatistics {
        &self.shared.stats
    }

    /// Set `gc_thresh1`, `gc_thresh2`, `gc_thresh3`.
    pub fn set_gc_thresh(&self, t1: usize, t2: usize, t3: usize) {
        self.shared.gc_thresh1.store(t1, Ordering::Relaxed);
        self.shared.gc_thresh2.store(t2, Ordering::Relaxed);
        self.shared.gc_thresh3.store(t3, Ordering::Relaxed);
    }

    /// `(gc_thresh1, gc_thresh2, gc_thresh3)`.
    pub fn gc_thresh(&self) -> (usize, usize, usize) {
        let s = &self.shared;
        (
            s.gc_thresh1.load(Ordering::Relaxed),
            s.gc_thresh2.load(Ordering::Relaxed),
            s.gc_thresh3.load(Ordering::Relaxed),
        )
    }

    /// Copy `net.ipv4.neigh.default.*` into the table's parameters (Linux's
    /// `neigh_sysctl_register()` points the sysctls at `neigh_parms`
    /// directly; ours are separate handles, read on every packet that
    /// enters the table through [`neigh_output`] or `arp_rcv`). Changing
    /// `base_reachable_time_ms` redraws `reachable_time`, as
    /// `neigh_proc_base_reachable_time()` does. Negative values count as 0.
    ///
    /// Costs one load when no sysctl was written since the last copy: the
    /// copy is keyed on the sysctl table's generation
    /// ([`net_core::sysctl_net::Sysctl::table_generation`]), read before
    /// the values so a write racing with the copy makes the next call copy
    /// again.
    pub fn neigh_parms_sync(&self, s: &crate::sysctl_net_ipv4::Ipv4Sysctls) {
        let generation = s.neigh_base_reachable_time_ms.table_generation();
        if self.shared.parms_generation.load(Ordering::Acquire) == generation {
            return;
        }
        // Store only what changed, so the data path reads shared cache lines.
        fn set64(a: &AtomicU64, v: u64) -> bool {
            a.load(Ordering::Relaxed) != v && {
                a.store(v, Ordering::Relaxed);
                true
            }
        }
        fn set32(a: &AtomicU32, v: i64) {
            let v = v.clamp(0, i64::from(u32::MAX)) as u32;
            if a.load(Ordering::Relaxed) != v {
                a.store(v, Ordering::Relaxed);
            }
        }
        fn setz(a: &AtomicUsize, v: i64) {
            let v = v.max(0) as usize;
            if a.load(Ordering::Relaxed) != v {
                a.store(v, Ordering::Relaxed);
            }
        }
        let p = &self.shared.parms;
        let u = |v: i64| v.max(0) as u64;
        if set64(&p.base_reachable_time, u(s.neigh_base_reachable_time_ms.get()) * HZ / 1000) {
            p.reachable_time.store(0, Ordering::Relaxed);
        }
        set64(&p.retrans_time, u(s.neigh_retrans_time_ms.get()) * HZ / 1000);
        set64(&p.delay_probe_time, u(s.neigh_delay_first_probe_time.get()) * HZ);
        set64(&p.gc_stale_time, u(s.neigh_gc_stale_time.get()) * HZ);
        set64(&p.queue_len_bytes, u(s.neigh_unres_qlen_bytes.get()));
        set32(&p.ucast_probes, s.neigh_ucast_solicit.get());
        set32(&p.mcast_probes, s.neigh_mcast_solicit.get());
        set32(&p.app_probes, s.neigh_app_solicit.get());
        setz(&self.shared.gc_thresh1, s.neigh_gc_thresh1.get());
        setz(&self.shared.gc_thresh2, s.neigh_gc_thresh2.get());
        setz(&self.shared.gc_thresh3, s.neigh_gc_thresh3.get());
        self.shared.parms_generation.store(generation, Ordering::Release);
    }

    /// Give the table what ARP needs from IPv4 for its timers (`arp_init`
    /// does this with the namespace's `Ipv4`).
    pub fn set_ops(&self, ops: Weak<dyn ArpOps>) {
        *self.shared.ops.write() = Some(ops);
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.shared.hash.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Find an entry (`neigh_lookup()`).
    pub fn neigh_lookup(&self, dev: u32, key: Ipv4Addr) -> Option<Arc<Neighbour>> {
        self.shared.stats.inc(NeighStat::Lookups);
        let n = self.shared.hash.lock().get(&NeighKey { dev, key }).cloned();
        if n.is_some() {
            self.shared.stats.inc(NeighStat::Hits);
        }
        n
    }

    /// Find an entry, creating it in `NUD_NONE` if `create`
    /// (`__neigh_lookup()` / `__neigh_create()`). `None` when not found and
    /// not created, or when the table is full (`table_fulls`): Linux's
    /// `neigh_alloc` returns NULL and `ip_finish_output2` drops with
    /// `NEIGH_CREATEFAIL`.
    #[doc(alias = "__neigh_lookup")]
    #[doc(alias = "__neigh_create")]
    pub fn neigh_lookup_create(
        &self,
        net: &Net,
        dev: u32,
        key: Ipv4Addr,
        create: bool,
    ) -> Option<Arc<Neighbour>> {
        if let Some(n) = self.neigh_lookup(dev, key) {
            return Some(n);
        }
        if !create {
            return None;
        }
        self.neigh_create(net, dev, key)
    }

    fn neigh_create(&self, net: &Net, dev: u32, key: Ipv4Addr) -> Option<Arc<Neighbour>> {
        let s = &self.shared;
        let now = net.jiffies();
        if time_after_eq_u(now, ld64(&s.last_periodic) + ld64(&s.parms.base_reachable_time) / 2) {
            self.neigh_periodic_work(net);
        }
        // neigh_alloc(): forced GC past gc_thresh2 (every 5 s) or gc_thresh3.
        let (_, t2, t3) = self.gc_thresh();
        let entries = self.len();
        if entries >= t3 || (entries >= t2 && time_after(now, ld64(&s.last_flush) + 5 * HZ)) {
            let shrunk = self.neigh_forced_gc(net);
            if shrunk == 0 && entries >= t3 {
                // "neighbor table overflow!"
                s.stats.inc(NeighStat::TableFulls);
                return None;
            }
        }
        let tbl = Arc::downgrade(&self.shared);
        let n = Arc::new_cyclic(|weak: &Weak<Neighbour>| {
            let w = weak.clone();
            let timer = net.timer_setup(TimerFunc::closure(move |net| {
                if let Some(n) = w.upgrade() {
                    neigh_timer_handler(net, &n);
                }
            }));
            Neighbour {
                dev,
                primary_key: key,
                tbl,
                timer,
                used: AtomicU64::new(now),
                hh: AtomicU64::new(0),
                inner: spin::Mutex::new(NeighInner {
                    nud_state: NudState::None,
                    ha: [0; 6],
                    // As neigh_alloc(): "confirmed" long ago, so a new entry
                    // is not taken for reachable.
                    confirmed: now.wrapping_sub(ld64(&s.parms.base_reachable_time) << 1),
                    updated: now,
                    probes: 0,
                    arp_queue: SkBuffHead::new(),
                    arp_queue_len_bytes: 0,
                    dead: false,
                }),
            }
        });
        let mut h = s.hash.lock();
        if let Some(existing) = h.get(&NeighKey { dev, key }) {
            // Lost a race with another creator: use theirs.
            let e = existing.clone();
            drop(h);
            net.timer_shutdown(n.timer);
            return Some(e);
        }
        h.insert(NeighKey { dev, key }, n.clone());
        s.stats.inc(NeighStat::Allocs);
        Some(n)
    }

    /// Remove an entry and free it (`neigh_remove_one()` →
    /// `neigh_cleanup_and_release()`): its timer is shut down, its queue
    /// purged (`QUEUE_PURGE`).
    fn neigh_remove(&self, net: &Net, n: &Arc<Neighbour>) {
        self.shared.hash.lock().remove(&NeighKey { dev: n.dev, key: n.primary_key });
        neigh_destroy(net, &self.shared, n);
    }

    /// Forced garbage collection (`neigh_forced_gc()`): remove up to
    /// `entries - gc_thresh2` unreferenced, non-permanent entries that are
    /// `FAILED`, `NOARP` or not updated in the last 5 s, oldest first.
    /// Returns how many went.
    pub fn neigh_forced_gc(&self, net: &Net) -> usize {
        let s = &self.shared;
        s.stats.inc(NeighStat::ForcedGcRuns);
        let now = net.jiffies();
        let tref = now.saturating_sub(5 * HZ);
        let (_, t2, _) = self.gc_thresh();
        let mut victims: Vec<(u64, Arc<Neighbour>)> = {
            let h = s.hash.lock();
            let max_clean = h.len().saturating_sub(t2);
            let mut cands: Vec<(u64, Arc<Neighbour>)> = h
                .values()
                .filter(|n| Arc::strong_count(n) == 1)
                .filter_map(|n| {
                    let i = n.inner.lock();
                    let st = i.nud_state.bits();
                    if st & NUD_PERMANENT != 0 {
                        return None;
                    }
                    let old = !(tref <= i.updated && i.updated <= now);
                    (st == NUD_FAILED || st == NUD_NOARP || old).then(|| (i.updated, n.clone()))
                })
                .collect();
            cands.sort_by_key(|(u, n)| (*u, n.dev, n.primary_key));
            cands.truncate(max_clean);
            cands
        };
        let shrunk = victims.len();
        for (_, n) in victims.drain(..) {
            self.neigh_remove(net, &n);
        }
        s.last_flush.store(now, Ordering::Relaxed);
        shrunk
    }

    /// Periodic garbage collection (`neigh_periodic_work()`): with at least
    /// `gc_thresh1` entries, remove unreferenced ones not in a timer state
    /// nor permanent that are `FAILED` or unused for `gc_stale_time`.
    pub fn neigh_periodic_work(&self, net: &Net) -> usize {
        let s = &self.shared;
        let now = net.jiffies();
        s.last_periodic.store(now, Ordering::Relaxed);
        s.stats.inc(NeighStat::PeriodicGcRuns);
        let _ = s.parms.reachable_time(net);
        let (t1, _, _) = self.gc_thresh();
        let stale = ld64(&s.parms.gc_stale_time);
        let victims: Vec<Arc<Neighbour>> = {
            let h = s.hash.lock();
            if h.len() < t1 {
                return 0;
            }
            h.values()
                .filter(|n| Arc::strong_count(n) == 1)
                .filter(|n| {
                    let i = n.inner.lock();
                    let st = i.nud_state.bits();
                    if st & (NUD_PERMANENT | NUD_IN_TIMER) != 0 {
                        return false;
                    }
                    let mut used = n.used.load(Ordering::Relaxed);
                    if time_before(used, i.confirmed) && time_before_eq(i.confirmed, now) {
                        used = i.confirmed;
                        n.used.store(used, Ordering::Relaxed);
                    }
                    st == NUD_FAILED || !(used <= now && now < used + stale)
                })
                .cloned()
                .collect()
        };
        let n = victims.len();
        for v in &victims {
            self.neigh_remove(net, v);
        }
        n
    }

    /// Remove every entry of a device (`neigh_ifdown()`), e.g. when it goes
    /// down; queued packets are dropped.
    pub fn neigh_ifdown(&self, net: &Net, dev: u32) {
        let victims: Vec<Arc<Neighbour>> =
            self.shared.hash.lock().values().filter(|n| n.dev == dev).cloned().collect();
        for v in &victims {
            self.neigh_remove(net, v);
        }
    }

    /// `ip neigh add ADDR lladdr MAC dev DEV nud STATE` (`neigh_add()`,
    /// an administrative `neigh_update`). `ENOBUFS` when the table is full.
    pub fn neigh_add(
        &self,
        net: &Net,
        dev: u32,
        key: Ipv4Addr,
        lladdr: MacAddr,
        state: NudState,
    ) -> Result<(), Errno> {
        let n = self.neigh_lookup_create(net, dev, key, true).ok_or(Errno::ENOBUFS)?;
        let ops = self.ops();
        neigh_update(
            net,
            ops.as_deref(),
            &n,
            Some(lladdr),
            state,
            NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_ADMIN,
        );
        Ok(())
    }

    fn ops(&self) -> Option<Arc<dyn ArpOps>> {
        self.shared.ops.read().as_ref().and_then(Weak::upgrade)
    }

    // ANCHOR: ip_neigh_show
    /// `ip neigh show`: one line per entry, sorted by device and address,
    /// `10.0.0.2 dev eth0 lladdr 02:00:00:00:00:02 REACHABLE`; entries
    /// without a valid address print no `lladdr`.
    pub fn ip_neigh_show(&self, net: &Net) -> String {
        let mut all: Vec<Arc<Neighbour>> = self.shared.hash.lock().values().cloned().collect();
        all.sort_by_key(|n| (n.dev, n.primary_key));
        let mut out = String::new();
        for n in all {
            let (state, ha) = {
                let i = n.inner.lock();
                (i.nud_state, i.ha)
            };
            let name = net.dev_get_by_index(n.dev).map_or_else(|| format!("if{}", n.dev), |d| d.name.clone());
            out.push_str(&format!("{} dev {}", n.primary_key, name));
            if state.bits() & NUD_VALID != 0 {
                out.push_str(&format!(" lladdr {}", mac_to_string(&ha)));
            }
            out.push(' ');
            out.push_str(state.name());
            out.push('\n');
        }
        out
    }
    // ANCHOR_END: ip_neigh_show
}

impl Default for NeighTable {
    fn default() -> Self {
        Self::new()
    }
}

fn time_after_eq_u(a: u64, b: u64) -> bool {
    !time_before(a, b)
}

/// Free a removed entry: dead, timer shut down, queue purged.
fn neigh_destroy(net: &Net, s: &TblShared, n: &Neighbour) {
    let purged = {
        let mut i = n.inner.lock();
        i.dead = true;
        neigh_hh_update(n, &i);
        i.arp_queue_len_bytes = 0;
        let mut q = SkBuffHead::new();
        q.splice_tail_init(&mut i.arp_queue);
        q
    };
    net.timer_shutdown(n.timer);
    let mut purged = purged;
    while let Some(skb) = purged.dequeue() {
        net.kfree_skb_reason(skb, SkbDropReason::QueuePurge);
    }
    s.stats.inc(NeighStat::Destroys);
}

/// `neigh_max_probes()`: `ucast + app + (PROBE ? mcast_reprobes : mcast)`.
fn neigh_max_probes(p: &NeighParms, state: NudState) -> u32 {
    ld32(&p.ucast_probes)
        + ld32(&p.app_probes)
        + if state == NudState::Probe { ld32(&p.mcast_reprobes) } else { ld32(&p.mcast_probes) }
}

/// `neigh_probe()`: with the entry lock held on entry (passed as the
/// guard), copy the newest queued packet, drop the lock, solicit, count
/// the probe.
fn neigh_probe(net: &Net, ops: Option<&dyn ArpOps>, n: &Neighbour, i: spin::MutexGuard<'_, NeighInner>) {
    // Linux clones the newest queued skb so the solicit can read its IP
    // source after the lock is gone; the source is all we need.
    let ip_saddr = i
        .arp_queue
        .peek_tail()
        .and_then(|s| s.network_header().get(12..16).map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3])));
    let probes = i.probes;
    let ha = i.ha;
    drop(i);
    if let Some(tbl) = n.tbl.upgrade() {
        arp_solicit(net, ops, &tbl.parms, n, probes, ha, ip_saddr);
    }
    n.inner.lock().probes += 1;
}

/// The outcome of [`__neigh_event_send`].
enum EventSend {
    /// Resolved (or good enough): send now with this address.
    Send(Skb, MacAddr),
    /// Queued (or dropped) while resolving.
    Held,
}

/// Mirrors `neigh_event_send()` → `__neigh_event_send()`
/// (net/core/neighbour.c): note the use; a `CONNECTED`, `DELAY` or `PROBE`
/// entry sends at once; `STALE` sends and starts `DELAY`; `NONE` or
/// `FAILED` starts resolution (`INCOMPLETE`, probes counted from
/// `ucast_probes`, an immediate broadcast request and the timer at
/// `retrans_time`) — or, with no multicast/app probes configured, fails at
/// once and drops (`NEIGH_FAILED`); `INCOMPLETE` queues the packet, first
/// dropping the oldest while the queue would exceed `unres_qlen_bytes`
/// (`NEIGH_QUEUEFULL`, `unres_discards`). A dead entry drops (`NEIGH_DEAD`).
#[doc(alias = "neigh_event_send")]
fn __neigh_event_send(net: &Net, ops: Option<&dyn ArpOps>, n: &Neighbour, mut skb: Skb) -> EventSend {
    let now = net.jiffies();
    if n.used.load(Ordering::Relaxed) != now {
        n.used.store(now, Ordering::Relaxed);
    }
    let mut i = n.inner.lock();
    let st = i.nud_state.bits();
    if st & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE) != 0 {
        let ha = i.ha;
        return EventSend::Send(skb, ha);
    }
    // Only a state change needs the table (its parameters and counters);
    // the states above send without taking a reference to it.
    let Some(tbl) = n.tbl.upgrade() else {
        drop(i);
        net.kfree_skb_reason(skb, SkbDropReason::NeighDead);
        return EventSend::Held;
    };
    let p = &tbl.parms;
    if i.dead {
        drop(i);
        net.kfree_skb_reason(skb, SkbDropReason::NeighDead);
        return EventSend::Held;
    }
    let mut immediate_probe = false;
    if st & (NUD_STALE | NUD_INCOMPLETE) == 0 {
        if ld32(&p.mcast_probes) + ld32(&p.app_probes) != 0 {
            i.probes = ld32(&p.ucast_probes);
            net.del_timer(n.timer);
            i.nud_state = NudState::Incomplete;
            i.updated = now;
            neigh_hh_update(n, &i);
            immediate_probe = true;
            net.mod_timer(n.timer, now + ld64(&p.retrans_time).max(HZ / 100));
        } else {
            i.nud_state = NudState::Failed;
            i.updated = now;
            neigh_hh_update(n, &i);
            drop(i);
            net.kfree_skb_reason(skb, SkbDropReason::NeighFailed);
            return EventSend::Held;
        }
    } else if st & NUD_STALE != 0 {
        net.del_timer(n.timer);
        i.nud_state = NudState::Delay;
        i.updated = now;
        neigh_hh_update(n, &i);
        net.mod_timer(n.timer, now + ld64(&p.delay_probe_time));
        let ha = i.ha;
        return EventSend::Send(skb, ha);
    }
    // INCOMPLETE: queue, oldest out first.
    let limit = ld64(&p.queue_len_bytes);
    let mut discards = Vec::new();
    while i.arp_queue_len_bytes + u64::from(skb.truesize) > limit {
        match i.arp_queue.dequeue() {
            Some(old) => {
                i.arp_queue_len_bytes -= u64::from(old.truesize);
                discards.push(old);
            }
            None => break,
        }
    }
    skb.reset_network_header();
    i.arp_queue_len_bytes += u64::from(skb.truesize);
    i.arp_queue.queue_tail(skb);
    if immediate_probe {
        neigh_probe(net, ops, n, i);
    } else {
        drop(i);
    }
    for old in discards {
        tbl.stats.inc(NeighStat::UnresDiscards);
        net.kfree_skb_reason(old, SkbDropReason::NeighQueuefull);
    }
    EventSend::Held
}

/// Push the Ethernet header for `ha` and hand the frame to the device.
fn neigh_xmit(net: &Net, dev: &NetDev, mut skb: Skb, ha: MacAddr) -> Result<(), Errno> {
    skb.skb_cow_head(ETH_HLEN);
    skb.protocol = ETH_P_IP;
    skb.dev = dev.ifindex;
    eth_header(&mut skb, dev.dev_addr(), ha, ETH_P_IP);
    net.__dev_queue_xmit(dev, skb)
}

// ANCHOR: neigh_resolve_output
/// Send `skb` (data at the IPv4 header) to `nexthop` on `dev`.
///
/// Mirrors `neigh_output()` / `neigh_resolve_output()`
/// (include/net/neighbour.h, net/core/neighbour.c) together with the part
/// of `arp_constructor()` (net/ipv4/arp.c) that needs no table: on a
/// loopback or `IFF_NOARP` device the destination is the device's own
/// address (zeroes on loopback), a broadcast next hop gets
/// `dev->broadcast`, a multicast one its mapped group address
/// (`ip_eth_mc_map()`). Otherwise the `arp_tbl` entry is found or created
/// and `__neigh_event_send` decides: send now with its address, or queue
/// while ARP resolves (`Ok` either way, as Linux returns 0).
///
/// Errors: those of `dev_queue_xmit`; `EINVAL` when no entry could be
/// created (table full: dropped as `NEIGH_CREATEFAIL`, as
/// `ip_finish_output2` does).
pub fn neigh_resolve_output(
    net: &Net,
    tbl: &NeighTable,
    ops: Option<&dyn ArpOps>,
    dev: &Arc<NetDev>,
    nexthop: Ipv4Addr,
    skb: Skb,
) -> Result<(), Errno> {
    match neigh_output_lookup(net, tbl, ops, dev, nexthop, skb) {
        Lookup::Done(r) => r,
        Lookup::Entry(n, skb) => __neigh_resolve_output(net, ops, dev, &n, skb),
    }
}

/// What [`neigh_output_lookup`] found.
enum Lookup {
    /// Sent (or dropped) without an entry.
    Done(Result<(), Errno>),
    /// The entry to send through, found or created.
    Entry(Arc<Neighbour>, Skb),
}

/// The part of `arp_constructor()` that needs no table, then
/// `__ipv4_neigh_lookup_noref()` or `__neigh_create()`.
fn neigh_output_lookup(
    net: &Net,
    tbl: &NeighTable,
    ops: Option<&dyn ArpOps>,
    dev: &Arc<NetDev>,
    nexthop: Ipv4Addr,
    skb: Skb,
) -> Lookup {
    if dev.flags() & (IFF_NOARP | IFF_LOOPBACK) != 0 {
        return Lookup::Done(neigh_xmit(net, dev, skb, dev.dev_addr()));
    }
    if nexthop.is_broadcast() {
        return Lookup::Done(neigh_xmit(net, dev, skb, dev.broadcast));
    }
    if nexthop.is_multicast() {
        return Lookup::Done(neigh_xmit(net, dev, skb, ip_eth_mc_map(nexthop)));
    }
    match tbl.neigh_lookup(dev.ifindex, nexthop) {
        Some(n) => Lookup::Entry(n, skb),
        // A subnet broadcast never gets an entry, so ask only on a miss.
        None if ops.is_some_and(|o| o.is_broadcast(dev.ifindex, nexthop)) => {
            Lookup::Done(neigh_xmit(net, dev, skb, dev.broadcast))
        }
        None => match tbl.neigh_create(net, dev.ifindex, nexthop) {
            Some(n) => Lookup::Entry(n, skb),
            None => {
                net.kfree_skb_reason(skb, SkbDropReason::NeighCreatefail);
                Lookup::Done(Err(Errno::EINVAL))
            }
        },
    }
}

/// `n->output` = `neigh_resolve_output()` for an entry in hand:
/// `neigh_event_send()`, then the header and `dev_queue_xmit`.
fn __neigh_resolve_output(
    net: &Net,
    ops: Option<&dyn ArpOps>,
    dev: &Arc<NetDev>,
    n: &Neighbour,
    skb: Skb,
) -> Result<(), Errno> {
    net_core::ftrace_graph!("neigh_resolve_output");
    match __neigh_event_send(net, ops, n, skb) {
        EventSend::Send(skb, ha) => neigh_xmit(net, dev, skb, ha),
        EventSend::Held => Ok(()),
    }
}
// ANCHOR_END: neigh_resolve_output

// ANCHOR: neigh_output
/// Send `skb` (data at the IPv4 header) to `nexthop` on `dev`: push the
/// Ethernet header and `dev_queue_xmit`, or queue while ARP resolves.
///
/// Mirrors `neigh_output()` (include/net/neighbour.h) as
/// `ip_finish_output2()` calls it: an entry that is `NUD_CONNECTED` with
/// a cached header takes [`neigh_hh_output`], without the entry lock;
/// anything else goes through `n->output`, [`neigh_resolve_output`]'s
/// `neigh_event_send()`, which moves `STALE` to `DELAY`, queues while
/// `INCOMPLETE`, and so on. The entry still ages as Linux's does: its
/// timer moves `REACHABLE` on to `DELAY` or `STALE` whatever the fast path
/// does, and the fast path stops the moment the state leaves
/// `NUD_CONNECTED`.
///
/// Where we differ: the fast path notes the use in `used` (Linux's
/// `neigh_hh_output()` leaves it to `neigh_event_send()`), because our TCP
/// does not confirm its neighbours (`dst_confirm_neigh()`): without that,
/// an entry a connection keeps busy would go `STALE` rather than `DELAY`
/// when `reachable_time` runs out, as it did before this path existed.
pub fn neigh_output(
    net: &Net,
    ipv4: &Ipv4,
    dev: &Arc<NetDev>,
    nexthop: Ipv4Addr,
    skb: Skb,
) -> Result<(), Errno> {
    net_core::ftrace_graph!("neigh_output");
    ipv4.arp_tbl.neigh_parms_sync(&ipv4.sysctl);
    let (n, skb) = match neigh_output_lookup(net, &ipv4.arp_tbl, Some(ipv4), dev, nexthop, skb) {
        Lookup::Done(r) => return r,
        Lookup::Entry(n, skb) => (n, skb),
    };
    let hh = n.hh.load(Ordering::Acquire);
    if hh & HH_VALID != 0 {
        let now = net.jiffies();
        if n.used.load(Ordering::Relaxed) != now {
            n.used.store(now, Ordering::Relaxed);
        }
        let mut ha = [0u8; 6];
        ha.copy_from_slice(&hh.to_le_bytes()[..6]);
        return neigh_hh_output(net, dev, skb, ha);
    }
    __neigh_resolve_output(net, Some(ipv4), dev, &n, skb)
}

/// Mirrors `neigh_hh_output()` (include/net/neighbour.h): copy the cached
/// Ethernet header in front of the packet and `dev_queue_xmit()` it.
fn neigh_hh_output(net: &Net, dev: &NetDev, skb: Skb, ha: MacAddr) -> Result<(), Errno> {
    net_core::ftrace_graph!("neigh_hh_output");
    neigh_xmit(net, dev, skb, ha)
}
// ANCHOR_END: neigh_output

/// The Ethernet group address of an IPv4 multicast group (`ip_eth_mc_map()`):
/// `01:00:5e` and the group's low 23 bits.
pub fn ip_eth_mc_map(addr: Ipv4Addr) -> MacAddr {
    let o = addr.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}

// ANCHOR: neigh_update
/// Mirrors `neigh_update()` → `__neigh_update()` (net/core/neighbour.c):
/// move `n` to `new` with address `lladdr`.
///
/// `PERMANENT`/`NOARP` entries change only with `NEIGH_UPDATE_F_ADMIN`. An
/// invalid `new` (`FAILED`, `NONE`, `INCOMPLETE`) stops the timer and, from
/// `INCOMPLETE`/`PROBE` to `FAILED`, drops the queue with ICMP errors. A
/// different address replaces a valid one only with
/// `NEIGH_UPDATE_F_OVERRIDE` (else the update is ignored, or with
/// `WEAK_OVERRIDE` a connected entry just goes `STALE`); the same address
/// with `new == STALE` keeps the old state. A connected `new` sets
/// `confirmed`. On a state change the timer restarts (`REACHABLE`: after
/// `reachable_time`). When the entry becomes valid, queued packets are sent
/// through the output path, with no lock held.
pub fn neigh_update(
    net: &Net,
    ops: Option<&dyn ArpOps>,
    n: &Neighbour,
    lladdr: Option<MacAddr>,
    new: NudState,
    flags: u32,
) {
    let Some(tbl) = n.tbl.upgrade() else { return };
    let now = net.jiffies();
    let mut i = n.inner.lock();
    let old = i.nud_state;
    if i.dead {
        return;
    }
    if flags & NEIGH_UPDATE_F_ADMIN == 0 && old.bits() & (NUD_NOARP | NUD_PERMANENT) != 0 {
        return;
    }
    if new.bits() & NUD_VALID == 0 {
        net.del_timer(n.timer);
        i.nud_state = new;
        neigh_hh_update(n, &i);
        if old.bits() & (NUD_INCOMPLETE | NUD_PROBE) != 0 && new == NudState::Failed {
            neigh_invalidate(net, ops, &tbl, i);
        }
        return;
    }
    let lladdr = match lladdr {
        Some(a) => a,
        None if old.bits() & NUD_VALID != 0 => i.ha,
        None => return, // "No link layer address given"
    };
    let mut new = new;
    if new.bits() & NUD_CONNECTED != 0 {
        i.confirmed = now;
    }
    if old.bits() & NUD_VALID != 0 {
        if lladdr != i.ha && flags & NEIGH_UPDATE_F_OVERRIDE == 0 {
            if flags & NEIGH_UPDATE_F_WEAK_OVERRIDE != 0 && old.bits() & NUD_CONNECTED != 0 {
                // Keep the old address, but doubt it.
                let ha = i.ha;
                return finish_update(net, ops, n, &tbl, i, old, NudState::Stale, ha, now);
            }
            return;
        } else if lladdr == i.ha && new == NudState::Stale && flags & NEIGH_UPDATE_F_ADMIN == 0 {
            new = old;
        }
    }
    finish_update(net, ops, n, &tbl, i, old, new, lladdr, now);
}
// ANCHOR_END: neigh_update

#[allow(clippy::too_many_arguments)]
fn finish_update(
    net: &Net,
    ops: Option<&dyn ArpOps>,
    n: &Neighbour,
    tbl: &TblShared,
    mut i: spin::MutexGuard<'_, NeighInner>,
    old: NudState,
    new: NudState,
    lladdr: MacAddr,
    now: u64,
) {
    let p = &tbl.parms;
    if new != old || lladdr != i.ha {
        i.updated = now;
    }
    if new != old {
        net.del_timer(n.timer);
        if new == NudState::Probe {
            i.probes = 0;
        }
        if new.bits() & NUD_IN_TIMER != 0 {
            let delay = if new == NudState::Reachable { p.reachable_time(net) } else { 0 };
            net.mod_timer(n.timer, now + delay);
        }
        i.nud_state = new;
    }
    if lladdr != i.ha {
        i.ha = lladdr;
        if new.bits() & NUD_CONNECTED == 0 {
            i.confirmed = now.wrapping_sub(ld64(&p.base_reachable_time) << 1);
        }
    }
    neigh_hh_update(n, &i);
    if new == old || old.bits() & NUD_VALID != 0 {
        return;
    }
    // Became valid: flush what waited for the address.
    let mut q = SkBuffHead::new();
    q.splice_tail_init(&mut i.arp_queue);
    i.arp_queue_len_bytes = 0;
    drop(i);
    let Some(dev) = net.dev_get_by_index(n.dev) else {
        while let Some(skb) = q.dequeue() {
            net.kfree_skb_reason(skb, SkbDropReason::DevReady);
        }
        return;
    };
    while let Some(skb) = q.dequeue() {
        match __neigh_event_send(net, ops, n, skb) {
            EventSend::Send(skb, ha) => {
                let _ = neigh_xmit(net, &dev, skb, ha);
            }
            EventSend::Held => {}
        }
    }
}

/// `neigh_invalidate()`: resolution failed. Count `res_failed`, then hand
/// every queued packet to `arp_error_report` (ICMP host unreachable to its
/// sender, drop as `NEIGH_FAILED`) with the entry lock released.
fn neigh_invalidate(
    net: &Net,
    ops: Option<&dyn ArpOps>,
    tbl: &TblShared,
    mut i: spin::MutexGuard<'_, NeighInner>,
) {
    tbl.stats.inc(NeighStat::ResFailed);
    let mut q = SkBuffHead::new();
    q.splice_tail_init(&mut i.arp_queue);
    i.arp_queue_len_bytes = 0;
    drop(i);
    while let Some(skb) = q.dequeue() {
        crate::arp::arp_error_report(net, ops, skb);
    }
}

// ANCHOR: neigh_timer_handler
/// Mirrors `neigh_timer_handler()` (net/core/neighbour.c), run when an
/// entry's timer fires.
///
/// - `REACHABLE`: still within `reachable_time` of `confirmed` → re-arm for
///   then; used within `delay_first_probe_time` → `DELAY`; else `STALE`
///   (no timer).
/// - `DELAY`: confirmed within `delay_first_probe_time` → `REACHABLE`; else
///   `PROBE` with the probe count reset.
/// - `INCOMPLETE`/`PROBE`: next try after `retrans_time`.
///
/// Then an `INCOMPLETE`/`PROBE` entry that has sent `neigh_max_probes`
/// probes becomes `FAILED` (`neigh_invalidate`: queued packets dropped, each
/// with an ICMP host unreachable); otherwise the timer is re-armed (at least
/// 10 ms ahead) and `INCOMPLETE`/`PROBE` sends the next probe.
pub fn neigh_timer_handler(net: &Net, n: &Neighbour) {
    let Some(tbl) = n.tbl.upgrade() else { return };
    let ops_arc = tbl.ops.read().as_ref().and_then(Weak::upgrade);
    let ops = ops_arc.as_deref();
    let p = &tbl.parms;
    let now = net.jiffies();
    let mut next = now + HZ;
    let mut i = n.inner.lock();
    let state = i.nud_state;
    if state.bits() & NUD_IN_TIMER == 0 || i.dead {
        return;
    }
    match state {
        NudState::Reachable => {
            let rt = p.reachable_time(net);
            if time_before_eq(now, i.confirmed.wrapping_add(rt)) {
                next = i.confirmed.wrapping_add(rt);
            } else if time_before_eq(
                now,
                n.used.load(Ordering::Relaxed).wrapping_add(ld64(&p.delay_probe_time)),
            ) {
                i.nud_state = NudState::Delay;
                i.updated = now;
                next = now + ld64(&p.delay_probe_time);
            } else {
                i.nud_state = NudState::Stale;
                i.updated = now;
            }
        }
        NudState::Delay => {
            if time_before_eq(now, i.confirmed.wrapping_add(ld64(&p.delay_probe_time))) {
                i.nud_state = NudState::Reachable;
                i.updated = now;
                next = i.confirmed.wrapping_add(p.reachable_time(net));
            } else {
                i.nud_state = NudState::Probe;
                i.updated = now;
                i.probes = 0;
                next = now + ld64(&p.retrans_time).max(HZ / 100);
            }
        }
        _ => {
            // NUD_PROBE | NUD_INCOMPLETE
            next = now + ld64(&p.retrans_time).max(HZ / 100);
        }
    }
    neigh_hh_update(n, &i);
    let st = i.nud_state;
    if matches!(st, NudState::Incomplete | NudState::Probe) && i.probes >= neigh_max_probes(p, st) {
        i.nud_state = NudState::Failed;
        i.updated = now;
        neigh_hh_update(n, &i);
        neigh_invalidate(net, ops, &tbl, i);
        return;
    }
    if st.bits() & NUD_IN_TIMER != 0 {
        if time_before(next, now + HZ / 100) {
            next = now + HZ / 100;
        }
        net.mod_timer(n.timer, next);
    }
    if matches!(st, NudState::Incomplete | NudState::Probe) {
        neigh_probe(net, ops, n, i);
    }
}
// ANCHOR_END: neigh_timer_handler

/// Mirrors `neigh_event_ns()` (net/core/neighbour.c): a request from
/// `saddr` with `lladdr` reached us, so create or refresh its entry as
/// `STALE` (overriding the address). `None` when the table is full.
pub fn neigh_event_ns(
    net: &Net,
    tbl: &NeighTable,
    ops: Option<&dyn ArpOps>,
    lladdr: MacAddr,
    saddr: Ipv4Addr,
    dev: u32,
) -> Option<Arc<Neighbour>> {
    let n = tbl.neigh_lookup_create(net, dev, saddr, true)?;
    neigh_update(net, ops, &n, Some(lladdr), NudState::Stale, NEIGH_UPDATE_F_OVERRIDE);
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arp::{ARPOP_REQUEST, ArpHdr};
    use net_core::Clock;
    use net_core::SkBuff;
    use net_core::if_ether::ETH_P_ARP;
    use net_core::jiffies::NSEC_PER_MSEC;
    use net_core::skbuff::alloc_skb;
    use std::sync::Mutex;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const MAC_A: MacAddr = [2, 0, 0, 0, 0, 1];
    const MAC_B: MacAddr = [2, 0, 0, 0, 0, 2];

    use crate::testlink::{CaptureDev, CapturedFrames as Sent};

    #[derive(Default)]
    struct FakeOps {
        failures: Mutex<Vec<Vec<u8>>>,
    }
    impl ArpOps for FakeOps {
        fn is_local(&self, addr: Ipv4Addr) -> bool {
            addr == A
        }
        fn inet_select_addr(&self, _ifindex: u32, _dst: Ipv4Addr) -> Option<Ipv4Addr> {
            Some(A)
        }
        fn is_broadcast(&self, _ifindex: u32, addr: Ipv4Addr) -> bool {
            addr == Ipv4Addr::new(10, 0, 0, 255)
        }
        fn link_failure(&self, _net: &Net, skb: &SkBuff) {
            self.failures.lock().unwrap().push(skb.network_header().to_vec());
        }
    }

    struct Host {
        clock: Clock,
        net: Arc<Net>,
        dev: Arc<NetDev>,
        tbl: NeighTable,
        ops: Arc<FakeOps>,
        sent: Sent,
    }

    fn host() -> Host {
        let clock = Clock::new_virtual();
        let net = Net::new("a", clock.clone(), 7);
        let sent: Sent = Arc::default();
        let dev = net.register_netdev(Box::new(CaptureDev(sent.clone()))).unwrap();
        dev.open().unwrap();
        let tbl = NeighTable::new();
        let ops = Arc::new(FakeOps::default());
        let w: Weak<dyn ArpOps> = Arc::downgrade(&ops) as Weak<dyn ArpOps>;
        tbl.set_ops(w);
        tbl.parms().set_reachable_time(&net, 30 * HZ);
        Host { clock, net, dev, tbl, ops, sent }
    }

    /// An IPv4 datagram from A to `dst` (header only matters).
    fn ip_skb(dst: Ipv4Addr, payload: usize) -> Skb {
        let mut skb = alloc_skb(crate::MAX_HEADER + 20 + payload);
        skb.reserve(crate::MAX_HEADER);
        let h = skb.put(20 + payload);
        h.fill(0xa5);
        h[0] = 0x45;
        h[12..16].copy_from_slice(&A.octets());
        h[16..20].copy_from_slice(&dst.octets());
        skb.reset_network_header();
        skb
    }

    impl Host {
        fn output(&self, dst: Ipv4Addr) -> Result<(), Errno> {
            neigh_resolve_output(&self.net, &self.tbl, Some(&*self.ops), &self.dev, dst, ip_skb(dst, 10))
        }
        fn at_ms(&self, ms: u64) {
            self.clock.set_ns(ms * NSEC_PER_MSEC);
            self.net.run_timers();
        }
        fn take(&self) -> Vec<Vec<u8>> {
            std::mem::take(&mut *self.sent.lock().unwrap())
        }
        fn reply_from_b(&self) {
            let n = self.tbl.neigh_lookup(self.dev.ifindex, B).unwrap();
            neigh_update(
                &self.net,
                Some(&*self.ops),
                &n,
                Some(MAC_B),
                NudState::Reachable,
                NEIGH_UPDATE_F_OVERRIDE,
            );
        }
        fn state(&self) -> NudState {
            self.tbl.neigh_lookup(self.dev.ifindex, B).unwrap().nud_state()
        }
    }

    fn arp_of(frame: &[u8]) -> (MacAddr, u16, Ipv4Addr, Ipv4Addr) {
        assert_eq!(u16::from_be_bytes([frame[12], frame[13]]), ETH_P_ARP);
        let a = ArpHdr::new_checked(&frame[14..]).unwrap();
        (frame[..6].try_into().unwrap(), a.ar_op(), a.sip(), a.tip())
    }

    #[test]
    fn nud_values_match_linux() {
        assert_eq!(NudState::Incomplete.bits(), 0x01);
        assert_eq!(NudState::Reachable.bits(), 0x02);
        assert_eq!(NudState::Stale.bits(), 0x04);
        assert_eq!(NudState::Delay.bits(), 0x08);
        assert_eq!(NudState::Probe.bits(), 0x10);
        assert_eq!(NudState::Failed.bits(), 0x20);
        assert_eq!(NudState::Noarp.bits(), 0x40);
        assert_eq!(NudState::Permanent.bits(), 0x80);
        let p = NeighParms::default();
        assert_eq!(ld64(&p.queue_len_bytes), 212_992);
        assert_eq!(neigh_max_probes(&p, NudState::Incomplete), 6);
        assert_eq!(neigh_max_probes(&p, NudState::Probe), 3);
    }

    #[test]
    fn reachable_time_is_randomised_within_half_to_three_halves() {
        let net = Net::new("a", Clock::new_virtual(), 3);
        for _ in 0..100 {
            let r = neigh_rand_reach_time(&net, 30 * HZ);
            assert!((15 * HZ..45 * HZ).contains(&r), "{r}");
        }
    }

    /// INCOMPLETE: a broadcast request at once and every second, three in
    /// all; at 3 s FAILED, the queued packet dropped with an ICMP error.
    #[test]
    fn incomplete_retries_then_fails() {
        let h = host();
        h.output(B).unwrap();
        assert_eq!(h.state(), NudState::Incomplete);
        let f = h.take();
        assert_eq!(f.len(), 1);
        assert_eq!(arp_of(&f[0]), ([0xff; 6], ARPOP_REQUEST, A, B));
        h.at_ms(999);
        assert!(h.take().is_empty());
        h.at_ms(1000);
        assert_eq!(h.take().len(), 1);
        h.at_ms(2000);
        assert_eq!(h.take().len(), 1);
        assert_eq!(h.state(), NudState::Incomplete);
        h.at_ms(3000);
        assert!(h.take().is_empty(), "no fourth request");
        assert_eq!(h.state(), NudState::Failed);
        assert_eq!(h.net.drops.get(SkbDropReason::NeighFailed), 1);
        assert_eq!(h.tbl.stats().get(NeighStat::ResFailed), 1);
        let fails = h.ops.failures.lock().unwrap();
        assert_eq!(fails.len(), 1, "arp_error_report ran");
        assert_eq!(&fails[0][16..20], &B.octets(), "with the network header at the datagram");
        assert!(!h.net.timer_pending(h.tbl.neigh_lookup(1, B).unwrap().timer()));
    }

    #[test]
    fn failed_entry_restarts_resolution_on_use() {
        let h = host();
        h.output(B).unwrap();
        h.at_ms(1000);
        h.at_ms(2000);
        h.at_ms(3000);
        h.take();
        assert_eq!(h.state(), NudState::Failed);
        h.output(B).unwrap();
        assert_eq!(h.state(), NudState::Incomplete);
        assert_eq!(h.take().len(), 1);
    }

    #[test]
    fn reply_flushes_queue_and_reachable_goes_stale() {
        let h = host();
        h.output(B).unwrap();
        h.output(B).unwrap();
        h.take();
        h.at_ms(10);
        h.reply_from_b();
        assert_eq!(h.state(), NudState::Reachable);
        let f = h.take();
        assert_eq!(f.len(), 2, "both queued datagrams left");
        for fr in &f {
            assert_eq!(&fr[..6], &MAC_B);
            assert_eq!(&fr[6..12], &MAC_A);
            assert_eq!(&fr[12..14], &[0x08, 0x00]);
            assert_eq!(fr[14], 0x45);
        }
        // Sending while REACHABLE goes straight out.
        h.output(B).unwrap();
        assert_eq!(h.take().len(), 1);
        // Unused: REACHABLE → STALE after reachable_time (30 s here).
        // At exactly confirmed + reachable_time it is "still alive"; the
        // timer re-arms HZ/100 later, as in Linux.
        h.at_ms(30_010);
        assert_eq!(h.state(), NudState::Reachable);
        h.at_ms(30_020);
        assert_eq!(h.state(), NudState::Stale);
        assert!(!h.net.timer_pending(h.tbl.neigh_lookup(1, B).unwrap().timer()));
        assert!(h.tbl.ip_neigh_show(&h.net).contains("10.0.0.2 dev eth0 lladdr 02:00:00:00:00:02 STALE"));
    }

    /// STALE + use → DELAY (sent at once) → PROBE after 5 s → three unicast
    /// probes → FAILED.
    #[test]
    fn stale_use_delay_probe_failed() {
        let h = host();
        h.tbl.neigh_add(&h.net, 1, B, MAC_B, NudState::Stale).unwrap();
        assert_eq!(h.state(), NudState::Stale);
        h.output(B).unwrap();
        assert_eq!(h.state(), NudState::Delay);
        assert_eq!(h.take().len(), 1, "STALE sends at once");
        h.at_ms(5000);
        assert_eq!(h.state(), NudState::Probe);
        let f = h.take();
        assert_eq!(f.len(), 1);
        assert_eq!(arp_of(&f[0]), (MAC_B, ARPOP_REQUEST, A, B), "unicast probe");
        h.at_ms(6000);
        h.at_ms(7000);
        assert_eq!(h.take().len(), 2);
        h.output(B).unwrap(); // PROBE still sends with the old address
        assert_eq!(h.take().len(), 1);
        h.at_ms(8000);
        assert_eq!(h.state(), NudState::Failed);
        assert!(h.take().is_empty());
    }

    #[test]
    fn delay_confirmed_returns_to_reachable() {
        let h = host();
        h.tbl.neigh_add(&h.net, 1, B, MAC_B, NudState::Stale).unwrap();
        h.output(B).unwrap();
        h.at_ms(2000);
        h.tbl.neigh_lookup(1, B).unwrap().neigh_confirm(&h.net);
        h.at_ms(5000);
        assert_eq!(h.state(), NudState::Reachable);
    }

    #[test]
    fn reachable_but_recently_used_goes_delay() {
        let h = host();
        h.output(B).unwrap();
        h.reply_from_b();
        h.at_ms(29_000);
        h.output(B).unwrap();
        h.at_ms(30_000);
        assert_eq!(h.state(), NudState::Reachable);
        h.at_ms(30_010);
        assert_eq!(h.state(), NudState::Delay, "used within delay_first_probe_time");
    }

    #[test]
    fn unresolved_queue_bounded_by_unres_qlen_bytes() {
        let h = host();
        let one = ip_skb(B, 10).truesize as u64;
        h.tbl.parms().queue_len_bytes.store(3 * one, Ordering::Relaxed);
        for _ in 0..5 {
            h.output(B).unwrap();
        }
        let n = h.tbl.neigh_lookup(1, B).unwrap();
        assert_eq!(n.arp_queue_len(), 3);
        assert_eq!(n.arp_queue_len_bytes(), 3 * one);
        assert_eq!(h.net.drops.get(SkbDropReason::NeighQueuefull), 2);
        assert_eq!(h.tbl.stats().get(NeighStat::UnresDiscards), 2);
        assert!(h.tbl.stats().proc_show(1).contains("unresolved_discards"));
    }

    #[test]
    fn reply_within_locktime_and_different_address_needs_override() {
        let h = host();
        h.tbl.neigh_add(&h.net, 1, B, MAC_B, NudState::Reachable).unwrap();
        let n = h.tbl.neigh_lookup(1, B).unwrap();
        neigh_update(&h.net, None, &n, Some([9; 6]), NudState::Reachable, 0);
        assert_eq!(n.ha(), MAC_B, "no override, no change");
        neigh_update(&h.net, None, &n, Some([9; 6]), NudState::Stale, NEIGH_UPDATE_F_OVERRIDE);
        assert_eq!((n.ha(), n.nud_state()), ([9; 6], NudState::Stale));
        h.tbl.neigh_add(&h.net, 1, A, MAC_A, NudState::Permanent).unwrap();
        let p = h.tbl.neigh_lookup(1, A).unwrap();
        neigh_update(&h.net, None, &p, Some([7; 6]), NudState::Reachable, NEIGH_UPDATE_F_OVERRIDE);
        assert_eq!(p.ha(), MAC_A, "permanent needs admin");
    }

    #[test]
    fn noarp_broadcast_multicast_need_no_entry() {
        let h = host();
        neigh_resolve_output(&h.net, &h.tbl, Some(&*h.ops), &h.dev, Ipv4Addr::BROADCAST, ip_skb(B, 1))
            .unwrap();
        neigh_resolve_output(
            &h.net,
            &h.tbl,
            Some(&*h.ops),
            &h.dev,
            Ipv4Addr::new(10, 0, 0, 255),
            ip_skb(B, 1),
        )
        .unwrap();
        neigh_resolve_output(
            &h.net,
            &h.tbl,
            Some(&*h.ops),
            &h.dev,
            Ipv4Addr::new(224, 0, 0, 251),
            ip_skb(B, 1),
        )
        .unwrap();
        let f = h.take();
        assert_eq!(&f[0][..6], &[0xff; 6]);
        assert_eq!(&f[1][..6], &[0xff; 6]);
        assert_eq!(&f[2][..6], &[0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
        assert!(h.tbl.is_empty());
    }

    #[test]
    fn forced_gc_bounds_table_at_gc_thresh3() {
        let h = host();
        h.tbl.set_gc_thresh(4, 8, 16);
        for k in 0..100u32 {
            let ip = Ipv4Addr::from(0x0a01_0000 + k);
            let _ = neigh_event_ns(&h.net, &h.tbl, None, MAC_B, ip, 1);
            assert!(h.tbl.len() <= 16);
        }
        assert_eq!(h.tbl.len(), 16);
        assert!(h.tbl.stats().get(NeighStat::TableFulls) > 0);
        // Six seconds later the old entries may go, oldest first.
        h.at_ms(6000);
        assert!(neigh_event_ns(&h.net, &h.tbl, None, MAC_B, Ipv4Addr::new(10, 9, 9, 9), 1).is_some());
        assert!(h.tbl.len() <= 16);
        assert!(h.tbl.neigh_lookup(1, Ipv4Addr::new(10, 1, 0, 0)).is_none(), "the oldest went first");
    }

    #[test]
    fn periodic_gc_removes_stale_unused() {
        let h = host();
        h.tbl.set_gc_thresh(0, 8, 16);
        h.tbl.neigh_add(&h.net, 1, B, MAC_B, NudState::Stale).unwrap();
        h.tbl.neigh_add(&h.net, 1, A, MAC_A, NudState::Permanent).unwrap();
        h.at_ms(61_000);
        assert_eq!(h.tbl.neigh_periodic_work(&h.net), 1);
        assert!(h.tbl.neigh_lookup(1, B).is_none());
        assert!(h.tbl.neigh_lookup(1, A).is_some());
        h.tbl.neigh_ifdown(&h.net, 1);
        assert!(h.tbl.is_empty());
        assert_eq!(h.net.timers_pending(), 0);
    }

    proptest::proptest! {
        /// Any sequence of sends, replies, confirmations and time steps
        /// keeps the invariants: the timer runs exactly in `NUD_IN_TIMER`
        /// states, the queue stays within `unres_qlen_bytes` and is empty
        /// outside `INCOMPLETE`.
        #[test]
        fn nud_invariants_hold(ops in proptest::collection::vec((0u8..5, 0u64..7000), 1..60)) {
            let h = host();
            let limit = 2 * ip_skb(B, 10).truesize as u64;
            h.tbl.parms().queue_len_bytes.store(limit, Ordering::Relaxed);
            let mut now = 0;
            for (op, arg) in ops {
                match op {
                    0 => { let _ = h.output(B); }
                    1 => {
                        if let Some(n) = h.tbl.neigh_lookup(1, B) {
                            let st = if arg % 2 == 0 { NudState::Reachable } else { NudState::Stale };
                            neigh_update(&h.net, Some(&*h.ops), &n, Some(MAC_B), st, NEIGH_UPDATE_F_OVERRIDE);
                        }
                    }
                    2 => {
                        if let Some(n) = h.tbl.neigh_lookup(1, B) { n.neigh_confirm(&h.net); }
                    }
                    _ => { now += arg; h.at_ms(now); }
                }
                if let Some(n) = h.tbl.neigh_lookup(1, B) {
                    let st = n.nud_state();
                    proptest::prop_assert_eq!(h.net.timer_pending(n.timer()), st.bits() & NUD_IN_TIMER != 0, "{:?}", st);
                    proptest::prop_assert!(n.arp_queue_len_bytes() <= limit);
                    if st != NudState::Incomplete {
                        proptest::prop_assert_eq!(n.arp_queue_len(), 0);
                    }
                }
            }
        }
    }
}
