//! Kernel timers on a cascading hierarchical timing wheel.
//!
//! Mirrors `kernel/time/timer.c` and `include/linux/timer.h` (Linux 6.18 for
//! the API: `struct timer_list`, `timer_setup()`, `mod_timer()`,
//! `timer_reduce()`, `timer_delete()`, `timer_pending()`,
//! `timer_shutdown_sync()`, `get_next_timer_interrupt()`, `__run_timers()`),
//! but the wheel itself is the *cascading* `tvec_base` of Linux 2.6 to 4.7.
//! Every TCP timer (retransmit, delayed ACK, keepalive, zero-window probe,
//! TIME_WAIT, SYN-ACK retransmit) sits on one of these.
//!
//! # The wheel
//!
//! A [`TimerBase`] (Linux: `struct timer_base`, before 4.8 `struct
//! tvec_base`) files each pending timer on one doubly linked list according to
//! how far its `expires` lies beyond `timer_jiffies`, the next jiffy whose
//! timers have not yet run:
//!
//! | level | slots | a slot spans      | holds timers due within     |
//! |-------|-------|-------------------|-----------------------------|
//! | tv1   | 256   | 1 jiffy           | 2^8 = 256 jiffies           |
//! | tv2   | 64    | 2^8 jiffies       | 2^14 jiffies (16 s at HZ=1000) |
//! | tv3   | 64    | 2^14 jiffies      | 2^20 jiffies (17 min)       |
//! | tv4   | 64    | 2^20 jiffies      | 2^26 jiffies (18.6 h)       |
//! | tv5   | 64    | 2^26 jiffies      | 2^32 jiffies (49.7 days)    |
//!
//! (`TVR_BITS = 8`, `TVN_BITS = 6`.) A slot is chosen from the bits of
//! `expires` itself, not of the distance, so a slot in tv1 holds timers for one
//! jiffy only, and a slot in tv2..tv5 holds one block of jiffies. Whenever
//! `timer_jiffies` crosses a multiple of 256, the tv2 slot of the block now
//! starting is *cascaded*: its timers are re-filed, which brings them into tv1
//! (or, for tv3..tv5 at larger boundaries, one level down). Each timer is
//! therefore touched at most once per level, and it is taken off the wheel
//! exactly in the jiffy it expires. Arming and deleting are O(1): a list
//! insert or unlink.
//!
//! Each level keeps an occupancy bitmap (`[u64; 4]` for tv1's 256 slots, one
//! `u64` for each of the others), so finding the next jiffy at which anything
//! happens (a non-empty tv1 slot or a non-empty cascade) is a handful of
//! `trailing_zeros`, and [`TimerBase::next_expired`] skips any stretch of empty
//! jiffies, an hour or fifty days, in constant time.
//!
//! # Exact expiry, and why we keep the cascade
//!
//! Linux 4.8 (Thomas Gleixner, "timers: Switch to a non-cascading wheel")
//! dropped cascading: a timer is filed once, at a level whose granularity
//! grows 8-fold per level, and fires when its coarse bucket expires, up to
//! about 12.5 % late (a 60 s timer may fire seconds late). That is cheaper,
//! and right for timeouts that almost never expire. We keep exact expiry
//! because the book shows traces: an RTO of 200 ms, a delayed ACK of 40 ms
//! and TIME_WAIT of 60 s (`TCP_TIMEWAIT_LEN`) should appear with exactly the
//! RFC values, and a simulation should be reproducible to the jiffy.
//!
//! A timer more than `MAX_TVAL` (2^32 − 1) jiffies away is filed as if it
//! expired at `timer_jiffies + MAX_TVAL`, the way Linux ≤ 4.7 clamps it on
//! 64-bit machines. As in Linux, only the *slot* is clamped: the timer keeps
//! its `expires`, is re-filed at each tv5 cascade until it is in range, and
//! so still fires at its true expiry. (Linux ≥ 4.8 clamps to
//! `WHEEL_TIMEOUT_MAX`, about 12 days at HZ=1000, and fires the timer then.)
//!
//! # Where we differ from Linux
//!
//! - **Handles, not embedded structs.** Linux embeds `struct timer_list` in
//!   the object that owns the timer and links it through `entry` (an
//!   `hlist_node`). Here the nodes live in a [`slab::Slab`] owned by the base
//!   and are linked by `u32` indices (`prev`/`next`, `NIL` for none); the
//!   owner holds a [`TimerId`], an index plus a generation, so a handle kept
//!   after [`TimerBase::timer_shutdown`] freed its node cannot touch the node's
//!   next tenant (the ABA problem): every operation on a stale id is a no-op.
//! - **A payload, not a callback.** Linux stores a function pointer and calls
//!   it from `__run_timers()`. We store a `T` (say, which socket and which of
//!   its timers) and hand it back from [`TimerBase::next_expired`], one timer
//!   at a time. The caller runs the callback itself, without holding the lock
//!   around the base, just as Linux drops `base->lock` around
//!   `call_timer_fn()`. A callback may therefore re-arm or delete any timer,
//!   including ones that are due in the same run. There is no
//!   `timer_delete_sync()`: the base never runs a callback, so there is none
//!   to wait for; once `next_expired()` has returned a timer it is no longer
//!   pending.
//! - **Past timers.** Linux files a timer whose `expires` is already behind
//!   `timer_jiffies` in the current tv1 slot, to run at the next tick. We put
//!   it on the list of expired timers, so the next call to `next_expired()`
//!   returns it, even for the same `now`. A callback that re-arms a timer for
//!   "now" during a run therefore sees it run in that same run.
//! - **Arming order.** Within one jiffy, timers fire in the order they were
//!   (last) armed. Linux appends cascaded timers after those already in the
//!   destination slot, although the cascaded ones were armed earlier; we put
//!   each cascaded batch in front, which keeps arming order. The one case
//!   this misses (a timer more than 2^32 jiffies out, whose clamped slot can
//!   leave it above a later-armed timer for the same jiffy) is caught when
//!   the jiffy is run: each node carries its arming sequence number, and a
//!   slot found out of order is sorted.
//! - **One base, no CPUs.** No per-CPU bases, no `TIMER_DEFERRABLE`,
//!   `TIMER_PINNED` or `TIMER_IRQSAFE`, no migration, no `timer_base.lock`:
//!   a host guards its base with its own lock. `jiffies` is not read
//!   globally; callers pass `now_jiffies` (from [`crate::jiffies::Clock`]).
//! - **Wrap-safety.** All comparisons are wrap-safe ([`crate::jiffies`]): the
//!   wheel works across the `u64` wrap as long as every timer is less than
//!   2^63 jiffies from `timer_jiffies`. A timer armed for a time more than
//!   2^63 jiffies ahead is taken to be in the past, as `time_after()` would;
//!   use [`crate::jiffies::MAX_JIFFY_OFFSET`] from now for "never".

use crate::jiffies::{time_after, time_before, time_before_eq};
use slab::Slab;

/// log2 of the number of tv1 slots (kernel/time/timer.c ≤ 4.7).
const TVR_BITS: u32 = 8;
/// log2 of the number of slots in each of tv2..tv5.
const TVN_BITS: u32 = 6;
const TVR_SIZE: usize = 1 << TVR_BITS;
const TVN_SIZE: usize = 1 << TVN_BITS;
const TVR_MASK: u64 = TVR_SIZE as u64 - 1;
const TVN_MASK: u64 = TVN_SIZE as u64 - 1;
/// Levels above tv1: tv2, tv3, tv4, tv5.
const TVN_LEVELS: usize = 4;
/// Farthest distance the wheel can represent; beyond it the slot is clamped.
const MAX_TVAL: u64 = (1 << (TVR_BITS + TVN_LEVELS as u32 * TVN_BITS)) - 1;

/// Lists 0..256 are tv1's slots, then 64 per level for tv2..tv5. The list
/// number is also the bit number in `TimerBase::occupied`.
const NR_WHEEL_LISTS: usize = TVR_SIZE + TVN_LEVELS * TVN_SIZE;
/// The list of expired timers not yet handed out (Linux: the on-stack
/// `work_list`/`heads` of `__run_timers()`).
const EXPIRED_LIST: u16 = NR_WHEEL_LISTS as u16;
const NR_LISTS: usize = NR_WHEEL_LISTS + 1;
/// `TimerNode::list` of a timer that is not pending (Linux: `entry.pprev == NULL`).
const NOT_PENDING: u16 = u16::MAX;
/// Null index in the index-linked lists.
const NIL: u32 = u32::MAX;

/// Bit shift of the slot index for level `level` (0 = tv2 .. 3 = tv5).
const fn tvn_shift(level: usize) -> u32 {
    TVR_BITS + level as u32 * TVN_BITS
}

/// Handle to a timer: stands for an embedded `struct timer_list`.
///
/// Created by [`TimerBase::timer_setup`], valid until
/// [`TimerBase::timer_shutdown`]. The generation makes a stale handle
/// harmless: once the node is freed and reused, the old handle no longer
/// matches and every operation with it is a no-op returning false or `None`.
#[doc(alias = "timer_list")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimerId {
    /// Key of the node in `TimerBase::timers`.
    index: u32,
    /// Must equal the node's generation (`gen` is reserved in Rust 2024).
    generation: u32,
}

/// Head of one index-linked list (Linux: `struct hlist_head` of a wheel slot).
#[derive(Clone, Copy, Debug)]
struct ListHead {
    first: u32,
    last: u32,
}

const EMPTY_LIST: ListHead = ListHead { first: NIL, last: NIL };

/// One timer (Linux: `struct timer_list` minus `function` and `flags`).
struct TimerNode<T> {
    /// Jiffy at which the timer expires (Linux: `expires`). Meaningful only
    /// while pending.
    expires: u64,
    /// When it was last armed, from `TimerBase::arm_seq`: orders timers due
    /// in the same jiffy. No Linux twin.
    seq: u64,
    /// Links this timer on its wheel slot or on the expired list (Linux:
    /// `entry`). `NIL` at the ends.
    prev: u32,
    next: u32,
    /// Which list the timer is on: a wheel slot, `EXPIRED_LIST`, or
    /// `NOT_PENDING`.
    list: u16,
    /// Generation of this tenant of the slab key; matches its `TimerId`.
    generation: u32,
    /// What the owner wants back when the timer fires (Linux: the container
    /// that `from_timer()` recovers, plus `function`).
    payload: T,
}

/// A timer wheel: all the timers of one host.
///
/// Mirrors `struct timer_base` (kernel/time/timer.c), in its cascading form
/// `struct tvec_base` from Linux ≤ 4.7; see the module documentation for the
/// layout and where we differ.
///
/// Not synchronised: a host keeps its base behind the lock that guards its
/// timers (Linux: `timer_base.lock`, a raw spinlock taken with interrupts
/// off) and drops that lock while running each callback.
#[doc(alias = "timer_base")]
#[doc(alias = "tvec_base")]
pub struct TimerBase<T> {
    /// Every jiffy before this one has been run (Linux: `timer_jiffies`,
    /// ≥ 4.8 `clk`). Pending timers on the wheel all expire at or after it;
    /// timers on the expired list expire before it.
    timer_jiffies: u64,
    /// tv1..tv5 slots and the expired list, indexed by list number.
    lists: [ListHead; NR_LISTS],
    /// One bit per wheel list, set while the list is non-empty: words 0..4
    /// are tv1, word 4 + n is tv(n + 2) (Linux ≥ 4.8: `pending_map`).
    occupied: [u64; NR_WHEEL_LISTS / 64],
    /// A lower bound on `expires` of the timers on the expired list.
    expired_min: u64,
    /// Number of pending timers, on the wheel or on the expired list.
    pending: usize,
    /// Counts arming operations; the next one gets this sequence number.
    arm_seq: u64,
    /// Reused buffer for re-sorting a slot (see `run_jiffy`).
    scratch: Vec<u32>,
    /// Storage of all timers, pending or not.
    timers: Slab<TimerNode<T>>,
    /// Next generation for each slab key, bumped when its node is freed.
    generations: Vec<u32>,
}

impl<T> std::fmt::Debug for TimerBase<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerBase")
            .field("timer_jiffies", &self.timer_jiffies)
            .field("pending", &self.pending)
            .field("allocated", &self.timers.len())
            .finish_non_exhaustive()
    }
}

impl<T> TimerBase<T> {
    /// An empty wheel whose first unprocessed jiffy is `now_jiffies`.
    ///
    /// Mirrors `init_timer_cpu()` (kernel/time/timer.c), which sets
    /// `base->clk = jiffies`.
    #[doc(alias = "init_timer_cpu")]
    #[doc(alias = "init_timers")]
    pub fn new(now_jiffies: u64) -> Self {
        TimerBase {
            timer_jiffies: now_jiffies,
            lists: [EMPTY_LIST; NR_LISTS],
            occupied: [0; NR_WHEEL_LISTS / 64],
            expired_min: now_jiffies,
            pending: 0,
            arm_seq: 0,
            scratch: Vec::new(),
            timers: Slab::new(),
            generations: Vec::new(),
        }
    }

    /// Allocates a timer carrying `payload`, not pending.
    ///
    /// Mirrors `timer_setup()` (include/linux/timer.h), which initialises an
    /// embedded `timer_list` with its callback; here the base owns the
    /// storage and the caller keeps the returned handle.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` timers are allocated at once.
    pub fn timer_setup(&mut self, payload: T) -> TimerId {
        let key = self.timers.vacant_key();
        assert!(key < NIL as usize, "timer_setup: too many timers");
        if key >= self.generations.len() {
            self.generations.resize(key + 1, 0);
        }
        let generation = self.generations[key];
        let got = self.timers.insert(TimerNode {
            expires: 0,
            seq: 0,
            prev: NIL,
            next: NIL,
            list: NOT_PENDING,
            generation,
            payload,
        });
        debug_assert_eq!(got, key);
        TimerId { index: key as u32, generation }
    }

    // ANCHOR: mod_timer
    /// (Re)arms the timer to expire at jiffy `expires`.
    ///
    /// Mirrors `mod_timer()` (kernel/time/timer.c): "mod_timer(timer, expires)
    /// is equivalent to: timer_delete(timer); timer->expires = expires;
    /// add_timer(timer);", only more efficient. Returns true if the timer was
    /// pending (Linux returns 1), false if it was not. As in Linux, re-arming
    /// a pending timer to the same `expires` changes nothing (it keeps its
    /// place among timers due in the same jiffy).
    ///
    /// A timer armed for a jiffy that has already been run (`expires <
    /// timer_jiffies()`) is returned by the next call to
    /// [`next_expired`](Self::next_expired). Call [`forward`](Self::forward)
    /// first when the base may have been idle; see there.
    ///
    /// A stale `id` (its timer was shut down) is ignored and false returned.
    pub fn mod_timer(&mut self, id: TimerId, expires: u64) -> bool {
        let Some(i) = self.resolve(id) else {
            return false;
        };
        let node = &self.timers[i as usize];
        let was_pending = node.list != NOT_PENDING;
        if was_pending {
            if node.expires == expires {
                return true;
            }
            self.list_del(i);
        } else {
            self.pending += 1;
        }
        self.arm(i, expires);
        was_pending
    }
    // ANCHOR_END: mod_timer

    /// Arms the timer if it is not pending, or moves a pending timer
    /// *earlier*; never delays it.
    ///
    /// Mirrors `timer_reduce()` (kernel/time/timer.c). Returns true if the
    /// timer was pending (whether or not it moved), false if it was not or
    /// `id` is stale (then nothing happens).
    pub fn timer_reduce(&mut self, id: TimerId, expires: u64) -> bool {
        let Some(i) = self.resolve(id) else {
            return false;
        };
        let node = &self.timers[i as usize];
        let was_pending = node.list != NOT_PENDING;
        if was_pending {
            if time_before_eq(node.expires, expires) {
                return true;
            }
            self.list_del(i);
        } else {
            self.pending += 1;
        }
        self.arm(i, expires);
        was_pending
    }

    /// Deactivates a timer: takes it off the wheel, including a timer that is
    /// already due but not yet returned by [`next_expired`](Self::next_expired)
    /// (it will not be returned). The timer stays allocated and can be
    /// re-armed.
    ///
    /// Mirrors `timer_delete()` (kernel/time/timer.c; `del_timer()` in older
    /// kernels). Returns true if the timer was pending, false if it was not or
    /// `id` is stale.
    #[doc(alias = "timer_delete")]
    #[doc(alias = "timer_delete_sync")]
    #[doc(alias = "del_timer_sync")]
    pub fn del_timer(&mut self, id: TimerId) -> bool {
        let Some(i) = self.resolve(id) else {
            return false;
        };
        if self.timers[i as usize].list == NOT_PENDING {
            return false;
        }
        self.list_del(i);
        self.pending -= 1;
        true
    }

    /// True if the timer is armed and has not yet been returned by
    /// [`next_expired`](Self::next_expired).
    ///
    /// Mirrors `timer_pending()` (include/linux/timer.h). False for a stale
    /// `id`.
    pub fn timer_pending(&self, id: TimerId) -> bool {
        self.resolve(id).is_some_and(|i| self.timers[i as usize].list != NOT_PENDING)
    }

    /// The jiffy a pending timer expires at; `None` if it is not pending or
    /// `id` is stale.
    ///
    /// Linux code reads `timer->expires` directly (guarded by
    /// `timer_pending()`), e.g. `icsk_timeout` bookkeeping in
    /// net/ipv4/inet_connection_sock.c.
    pub fn timer_expires(&self, id: TimerId) -> Option<u64> {
        let i = self.resolve(id)?;
        let node = &self.timers[i as usize];
        (node.list != NOT_PENDING).then_some(node.expires)
    }

    /// The timer's payload, pending or not; `None` for a stale `id`.
    ///
    /// Linux: `from_timer()` / `timer_container_of()` recovering the
    /// containing object.
    #[doc(alias = "from_timer")]
    #[doc(alias = "timer_container_of")]
    pub fn payload(&self, id: TimerId) -> Option<&T> {
        let i = self.resolve(id)?;
        Some(&self.timers[i as usize].payload)
    }

    /// The timer's payload, mutably; `None` for a stale `id`.
    pub fn payload_mut(&mut self, id: TimerId) -> Option<&mut T> {
        let i = self.resolve(id)?;
        Some(&mut self.timers[i as usize].payload)
    }

    /// Deactivates the timer and frees it, returning its payload; the handle
    /// (and every copy of it) is stale from now on.
    ///
    /// Mirrors `timer_shutdown_sync()` (kernel/time/timer.c), after which
    /// Linux silently ignores attempts to re-arm the timer; the memory is
    /// then freed with its owner. Returns `None`, and does nothing, for a
    /// stale `id`.
    #[doc(alias = "timer_shutdown_sync")]
    pub fn timer_shutdown(&mut self, id: TimerId) -> Option<T> {
        let i = self.resolve(id)?;
        if self.timers[i as usize].list != NOT_PENDING {
            self.list_del(i);
            self.pending -= 1;
        }
        let node = self.timers.remove(i as usize);
        let g = &mut self.generations[i as usize];
        *g = g.wrapping_add(1);
        Some(node.payload)
    }

    /// Moves `timer_jiffies` up to `now_jiffies` if no timer is pending.
    ///
    /// Mirrors `forward_timer_base()` (kernel/time/timer.c), which `mod_timer()`
    /// calls in Linux because it can read `jiffies`; ours cannot, so callers
    /// call this before arming. It is an optimisation, never needed for
    /// correctness: a timer armed on a stale base is filed relative to the
    /// old `timer_jiffies` (possibly at a higher level) and still fires at its
    /// exact jiffy. Does nothing if timers are pending or `now_jiffies` is
    /// not after `timer_jiffies`.
    #[doc(alias = "forward_timer_base")]
    pub fn forward(&mut self, now_jiffies: u64) {
        if self.pending == 0 && time_after(now_jiffies, self.timer_jiffies) {
            self.timer_jiffies = now_jiffies;
        }
    }

    // ANCHOR: next_expired
    /// Returns one timer that is due at `now_jiffies` (its `expires <=
    /// now_jiffies`), with a clone of its payload, and marks it not pending;
    /// `None` when no timer is due.
    ///
    /// Mirrors `__run_timers()` and `expire_timers()` (kernel/time/timer.c),
    /// one timer at a time: jiffies are run in order from `timer_jiffies` up
    /// to `now_jiffies`, cascading higher levels as boundaries are crossed and
    /// skipping empty jiffies in O(1). Timers come out in order of `expires`,
    /// those due in the same jiffy in the order they were armed. Each timer
    /// comes out in the first call whose `now_jiffies` is at or after its
    /// `expires`, never earlier.
    ///
    /// The caller runs the timer's callback between calls, without holding
    /// the base's lock, and the callback may use the base freely: a timer
    /// deleted while due is not returned; a timer (re-)armed for a jiffy at
    /// or before `now_jiffies` is returned before this run ends (this call
    /// keeps returning timers until none is due).
    ///
    /// When it returns `None`, every jiffy up to `now_jiffies` has been run
    /// and `timer_jiffies()` is `now_jiffies + 1` (or later, if an earlier
    /// call ran further).
    #[doc(alias = "__run_timers")]
    #[doc(alias = "expire_timers")]
    pub fn next_expired(&mut self, now_jiffies: u64) -> Option<(TimerId, T)>
    where
        T: Clone,
    {
        loop {
            if let Some(i) = self.pop_expired() {
                let node = &self.timers[i as usize];
                let id = TimerId { index: i, generation: node.generation };
                return Some((id, node.payload.clone()));
            }
            if time_after(self.timer_jiffies, now_jiffies) {
                return None;
            }
            // The next jiffy at which a tv1 slot is non-empty or a cascade
            // has work to do; everything before it can be skipped.
            let next = self.next_event_delta().map(|d| self.timer_jiffies.wrapping_add(d));
            match next {
                Some(t) if !time_after(t, now_jiffies) => {
                    self.timer_jiffies = t;
                    self.run_jiffy();
                }
                _ => {
                    self.timer_jiffies = now_jiffies.wrapping_add(1);
                    return None;
                }
            }
        }
    }
    // ANCHOR_END: next_expired

    /// What [`next_expired`](Self::next_expired) does when it returns
    /// `None`, for a caller that skipped calls to it because nothing could
    /// be due: if no timer is due at `now_jiffies`, mark every jiffy up to
    /// it as run (`timer_jiffies()` becomes `now_jiffies + 1` unless it is
    /// later already) and return true; if one is, change nothing and return
    /// false. The wheel is then exactly as if `next_expired(now_jiffies)`
    /// had been called and had returned `None`.
    pub fn run_idle(&mut self, now_jiffies: u64) -> bool {
        if self.lists[EXPIRED_LIST as usize].first != NIL {
            return false;
        }
        if time_after(self.timer_jiffies, now_jiffies) {
            return true;
        }
        let next = self.next_event_delta().map(|d| self.timer_jiffies.wrapping_add(d));
        if next.is_some_and(|t| !time_after(t, now_jiffies)) {
            return false;
        }
        self.timer_jiffies = now_jiffies.wrapping_add(1);
        true
    }

    /// Runs every timer due at `now_jiffies`: appends each to `out`, in the
    /// order [`next_expired`](Self::next_expired) returns them.
    ///
    /// Mirrors `run_timer_softirq()` / `__run_timers()` (kernel/time/timer.c)
    /// for a caller that runs the callbacks afterwards; a caller whose
    /// callbacks re-arm timers for the same jiffy should loop on
    /// `next_expired` instead.
    #[doc(alias = "run_timer_softirq")]
    #[doc(alias = "__run_timers")]
    pub fn run_timers(&mut self, now_jiffies: u64, out: &mut Vec<(TimerId, T)>)
    where
        T: Clone,
    {
        while let Some(t) = self.next_expired(now_jiffies) {
            out.push(t);
        }
    }

    /// A jiffy at or before the earliest pending expiry; `None` when no timer
    /// is pending.
    ///
    /// Mirrors `get_next_timer_interrupt()` (kernel/time/timer.c), which a
    /// tickless CPU uses to program its next wakeup. The answer is exact when
    /// the earliest timer sits in tv1 and no cascade comes before it;
    /// otherwise it is the boundary at which the next non-empty higher-level
    /// slot cascades, a lower bound (Linux ≤ 4.7 scanned those slots' lists
    /// for the exact minimum; we answer in O(1)). It is never later than the
    /// earliest expiry, and after timers have been run up to some `now` it is
    /// later than `now` unless a timer was armed in the past.
    ///
    /// A simulator therefore loops: jump the clock to this value (if later),
    /// call [`next_expired`](Self::next_expired) until `None`, ask again.
    /// Each round makes progress, and a timer `d` jiffies away is reached in
    /// at most a few rounds per level.
    #[doc(alias = "get_next_timer_interrupt")]
    #[doc(alias = "__next_timer_interrupt")]
    pub fn next_timer_interrupt(&self) -> Option<u64> {
        if self.pending == 0 {
            return None;
        }
        if self.lists[EXPIRED_LIST as usize].first != NIL {
            return Some(self.expired_min);
        }
        self.next_event_delta().map(|d| self.timer_jiffies.wrapping_add(d))
    }

    /// Number of pending timers.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Number of allocated timers, pending or not.
    pub fn allocated(&self) -> usize {
        self.timers.len()
    }

    /// The first jiffy not yet run (Linux: `base->timer_jiffies`, ≥ 4.8
    /// `base->clk`).
    #[doc(alias = "clk")]
    pub fn timer_jiffies(&self) -> u64 {
        self.timer_jiffies
    }

    // ---- internals ------------------------------------------------------

    /// The slab key for `id`, if `id` is not stale.
    #[inline]
    fn resolve(&self, id: TimerId) -> Option<u32> {
        match self.timers.get(id.index as usize) {
            Some(node) if node.generation == id.generation => Some(id.index),
            _ => None,
        }
    }

    /// Sets a new `expires` on timer `i` (not on any list) and files it.
    fn arm(&mut self, i: u32, expires: u64) {
        let node = &mut self.timers[i as usize];
        node.expires = expires;
        node.seq = self.arm_seq;
        self.arm_seq += 1;
        self.internal_add_timer(i, false);
    }

    // ANCHOR: internal_add_timer
    /// Files timer `i` (not on any list) by its `expires`. Mirrors
    /// `internal_add_timer()` of Linux ≤ 4.7. `front` puts it at the head of
    /// its list (used when cascading), otherwise at the tail.
    fn internal_add_timer(&mut self, i: u32, front: bool) {
        let expires = self.timers[i as usize].expires;
        let tj = self.timer_jiffies;
        let idx = expires.wrapping_sub(tj);
        let list = if (idx as i64) < 0 {
            // Already behind timer_jiffies: due at once. Linux files it in
            // tv1's current slot; we put it with the expired timers.
            debug_assert!(!front, "cascaded timers are never in the past");
            if self.lists[EXPIRED_LIST as usize].first == NIL || time_before(expires, self.expired_min) {
                self.expired_min = expires;
            }
            EXPIRED_LIST
        } else if idx < TVR_SIZE as u64 {
            (expires & TVR_MASK) as u16
        } else {
            let (expires, idx) = if idx > MAX_TVAL {
                // Only the slot is clamped; `expires` itself is kept.
                (tj.wrapping_add(MAX_TVAL), MAX_TVAL)
            } else {
                (expires, idx)
            };
            // idx in [2^8, 2^14) is tv2, [2^14, 2^20) tv3, ...
            let bits = u64::BITS - idx.leading_zeros();
            let level = ((bits - TVR_BITS - 1) / TVN_BITS) as usize;
            debug_assert!(level < TVN_LEVELS);
            let slot = ((expires >> tvn_shift(level)) & TVN_MASK) as usize;
            (TVR_SIZE + level * TVN_SIZE + slot) as u16
        };
        if front {
            self.list_add_head(list, i);
        } else {
            self.list_add_tail(list, i);
        }
    }
    // ANCHOR_END: internal_add_timer

    // ANCHOR: cascade
    /// Re-files every timer of slot `index` of level `level` (0 = tv2).
    /// Mirrors `cascade()` of Linux ≤ 4.7, except that the batch goes in
    /// front of each destination list, in its own order: the cascaded timers
    /// were armed before any timer for the same jiffy already below them
    /// (unless clamped; `run_jiffy` catches that).
    fn cascade(&mut self, level: usize, index: usize) {
        let list = TVR_SIZE + level * TVN_SIZE + index;
        if self.occupied[list / 64] & (1 << (list % 64)) == 0 {
            return;
        }
        let batch = std::mem::replace(&mut self.lists[list], EMPTY_LIST);
        self.occupied[list / 64] &= !(1 << (list % 64));
        // Walk backwards, pushing each at the front, to keep batch order.
        let mut cur = batch.last;
        while cur != NIL {
            let prev = self.timers[cur as usize].prev;
            self.internal_add_timer(cur, true);
            cur = prev;
        }
    }
    // ANCHOR_END: cascade

    /// Runs jiffy `timer_jiffies`: cascades if it starts a new tv1 round, then
    /// moves tv1's slot for it onto the expired list and advances
    /// `timer_jiffies`. The expired list must be empty. Mirrors one turn of
    /// the loop in `__run_timers()` of Linux ≤ 4.7.
    fn run_jiffy(&mut self) {
        debug_assert_eq!(self.lists[EXPIRED_LIST as usize].first, NIL);
        let tj = self.timer_jiffies;
        let index = (tj & TVR_MASK) as usize;
        if index == 0 {
            for level in 0..TVN_LEVELS {
                let idx = ((tj >> tvn_shift(level)) & TVN_MASK) as usize;
                self.cascade(level, idx);
                if idx != 0 {
                    break;
                }
            }
        }
        self.timer_jiffies = tj.wrapping_add(1);
        let slot = std::mem::replace(&mut self.lists[index], EMPTY_LIST);
        if slot.first == NIL {
            return;
        }
        self.occupied[index / 64] &= !(1 << (index % 64));
        let mut cur = slot.first;
        let mut last_seq = 0;
        let mut sorted = true;
        while cur != NIL {
            let node = &mut self.timers[cur as usize];
            debug_assert_eq!(node.expires, tj);
            node.list = EXPIRED_LIST;
            sorted &= node.seq >= last_seq;
            last_seq = node.seq;
            cur = node.next;
        }
        self.lists[EXPIRED_LIST as usize] = slot;
        self.expired_min = tj;
        if !sorted {
            self.sort_expired();
        }
    }

    /// Puts the expired list in arming order. Needed only when a timer
    /// armed more than `MAX_TVAL` jiffies ahead (whose slot was clamped, so
    /// it may sit above timers for the same jiffy armed after it) shares its
    /// jiffy with others; every other cascade keeps arming order by itself.
    #[cold]
    fn sort_expired(&mut self) {
        let mut order = std::mem::take(&mut self.scratch);
        order.clear();
        let mut cur = self.lists[EXPIRED_LIST as usize].first;
        while cur != NIL {
            order.push(cur);
            cur = self.timers[cur as usize].next;
        }
        order.sort_unstable_by_key(|&i| self.timers[i as usize].seq);
        self.lists[EXPIRED_LIST as usize] = EMPTY_LIST;
        for &i in &order {
            self.list_add_tail(EXPIRED_LIST, i);
        }
        self.scratch = order;
    }

    /// Takes the first timer off the expired list and marks it not pending.
    #[inline]
    fn pop_expired(&mut self) -> Option<u32> {
        let first = self.lists[EXPIRED_LIST as usize].first;
        if first == NIL {
            return None;
        }
        self.list_del(first);
        self.pending -= 1;
        Some(first)
    }

    /// Jiffies from `timer_jiffies` to the next jiffy at which something
    /// happens on the wheel: a non-empty tv1 slot is run (exact expiry) or a
    /// non-empty tv2..tv5 slot cascades (a lower bound for its timers).
    /// `None` when the wheel is empty (the expired list is not looked at).
    fn next_event_delta(&self) -> Option<u64> {
        let tj = self.timer_jiffies;
        let tv1 = next_set_bit_256(
            [self.occupied[0], self.occupied[1], self.occupied[2], self.occupied[3]],
            (tj & TVR_MASK) as u32,
        )
        .map(u64::from);
        // Distance to the next multiple of 256: no cascade happens before it.
        let to_round = (TVR_SIZE as u64 - (tj & TVR_MASK)) & TVR_MASK;
        if tv1.is_some_and(|d| d < to_round) {
            return tv1;
        }
        let mut best = tv1;
        for level in 0..TVN_LEVELS {
            let bits = self.occupied[TVR_SIZE / 64 + level];
            if bits == 0 {
                continue;
            }
            let shift = tvn_shift(level);
            let mask = (1u64 << shift) - 1;
            // Cascades of this level happen at multiples of 2^shift; the
            // first one not yet done is at or after timer_jiffies.
            let to_boundary = (mask + 1 - (tj & mask)) & mask;
            let slot = (tj.wrapping_add(to_boundary) >> shift) & TVN_MASK;
            let k = u64::from(bits.rotate_right(slot as u32).trailing_zeros());
            let d = to_boundary + (k << shift);
            best = Some(best.map_or(d, |b| b.min(d)));
        }
        best
    }

    fn list_add_tail(&mut self, list: u16, i: u32) {
        let head = &mut self.lists[list as usize];
        let last = head.last;
        let node = &mut self.timers[i as usize];
        node.prev = last;
        node.next = NIL;
        node.list = list;
        if last == NIL {
            head.first = i;
        } else {
            self.timers[last as usize].next = i;
        }
        head.last = i;
        self.mark_occupied(list);
    }

    fn list_add_head(&mut self, list: u16, i: u32) {
        let head = &mut self.lists[list as usize];
        let first = head.first;
        let node = &mut self.timers[i as usize];
        node.prev = NIL;
        node.next = first;
        node.list = list;
        if first == NIL {
            head.last = i;
        } else {
            self.timers[first as usize].prev = i;
        }
        head.first = i;
        self.mark_occupied(list);
    }

    #[inline]
    fn mark_occupied(&mut self, list: u16) {
        let list = list as usize;
        if list < NR_WHEEL_LISTS {
            self.occupied[list / 64] |= 1 << (list % 64);
        }
    }

    /// Unlinks pending timer `i` from its list (Linux: `detach_timer()`),
    /// leaving it not pending. Does not touch `self.pending`.
    fn list_del(&mut self, i: u32) {
        let node = &mut self.timers[i as usize];
        let (list, prev, next) = (node.list as usize, node.prev, node.next);
        debug_assert!(list < NR_LISTS);
        node.list = NOT_PENDING;
        node.prev = NIL;
        node.next = NIL;
        if prev == NIL {
            self.lists[list].first = next;
        } else {
            self.timers[prev as usize].next = next;
        }
        if next == NIL {
            self.lists[list].last = prev;
        } else {
            self.timers[next as usize].prev = prev;
        }
        if list < NR_WHEEL_LISTS && self.lists[list].first == NIL {
            self.occupied[list / 64] &= !(1 << (list % 64));
        }
    }
}

/// Distance from bit `start` to the next set bit of a 256-bit map, going
/// round (`0..256`); `None` if no bit is set.
fn next_set_bit_256(words: [u64; 4], start: u32) -> Option<u32> {
    let w0 = (start / 64) as usize;
    let b0 = start % 64;
    let high = words[w0] & (!0u64 << b0);
    if high != 0 {
        return Some(high.trailing_zeros() - b0);
    }
    for k in 1..4 {
        let w = words[(w0 + k) % 4];
        if w != 0 {
            return Some(k as u32 * 64 + w.trailing_zeros() - b0);
        }
    }
    let low = words[w0] & !(!0u64 << b0);
    if low != 0 {
        return Some(256 + low.trailing_zeros() - b0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jiffies::{msecs_to_jiffies, secs_to_jiffies, time_after_eq};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    /// Drains everything due at `now`.
    fn drain<T: Clone>(base: &mut TimerBase<T>, now: u64) -> Vec<(TimerId, T)> {
        let mut out = Vec::new();
        base.run_timers(now, &mut out);
        out
    }

    /// Arms one timer `delta` jiffies after `start` and checks that it fires
    /// at exactly that jiffy, not one earlier.
    #[track_caller]
    fn check_exact(start: u64, delta: u64) {
        let mut base = TimerBase::new(start);
        let t = base.timer_setup(delta);
        let expires = start.wrapping_add(delta);
        assert!(!base.mod_timer(t, expires));
        assert_eq!(base.timer_expires(t), Some(expires));
        let nti = base.next_timer_interrupt().unwrap();
        assert!(time_before_eq(nti, expires), "start {start} delta {delta}");
        if delta > 0 {
            assert!(base.next_expired(expires.wrapping_sub(1)).is_none());
            assert_eq!(base.timer_jiffies(), expires, "start {start} delta {delta}");
            assert!(base.timer_pending(t));
        }
        assert_eq!(base.next_expired(expires), Some((t, delta)));
        assert!(!base.timer_pending(t));
        assert_eq!(base.next_expired(expires), None);
        assert_eq!(base.pending(), 0);
    }

    const LEVEL_EDGES: &[u64] = &[
        0,
        1,
        2,
        255,
        256,
        257,
        511,
        512,
        16_383,
        16_384,
        16_385,
        (1 << 20) - 1,
        1 << 20,
        (1 << 20) + 1,
        (1 << 26) - 1,
        1 << 26,
        (1 << 26) + 1,
        (1 << 32) - 1,
        1 << 32,
        (1 << 32) + 1,
        (1 << 33) + 12_345,
        1 << 40,
    ];

    #[test]
    fn exact_expiry_across_level_boundaries() {
        let starts = [0, 1, 255, 256, 12_345, (1 << 26) + 17, (1 << 32) - 1, u64::MAX - 300, u64::MAX];
        for &start in &starts {
            for &delta in LEVEL_EDGES {
                check_exact(start, delta);
                // And the same distance from a base that has run a while.
                let mut base = TimerBase::new(start);
                let t = base.timer_setup(0u64);
                let now = start.wrapping_add(1000);
                assert!(base.next_expired(now).is_none());
                let expires = now.wrapping_add(delta);
                base.mod_timer(t, expires);
                if delta > 0 {
                    assert!(base.next_expired(expires.wrapping_sub(1)).is_none());
                }
                assert_eq!(base.next_expired(expires).map(|x| x.0), Some(t));
            }
        }
    }

    #[test]
    fn exact_expiry_one_jiffy_at_a_time() {
        // Step the clock by one jiffy through two tv2 cascades.
        let mut base = TimerBase::new(0);
        let ids: Vec<_> = (0..600u64)
            .map(|e| {
                let t = base.timer_setup(e);
                base.mod_timer(t, e);
                t
            })
            .collect();
        for now in 0..600u64 {
            let got = drain(&mut base, now);
            assert_eq!(got, vec![(ids[now as usize], now)]);
        }
    }

    #[test]
    fn arm_cancel_rearm() {
        let mut base = TimerBase::new(100);
        let a = base.timer_setup("a");
        assert!(!base.timer_pending(a));
        assert_eq!(base.timer_expires(a), None);
        assert!(!base.del_timer(a), "not pending");
        assert!(!base.mod_timer(a, 300));
        assert!(base.timer_pending(a));
        assert_eq!(base.pending(), 1);
        assert!(base.mod_timer(a, 300), "same expiry, still pending");
        assert!(base.mod_timer(a, 200), "modified a pending timer");
        assert_eq!(base.timer_expires(a), Some(200));
        assert!(base.del_timer(a));
        assert!(!base.del_timer(a));
        assert_eq!(base.pending(), 0);
        assert!(drain(&mut base, 10_000).is_empty());
        assert!(!base.mod_timer(a, 10_500));
        assert!(base.next_expired(10_499).is_none());
        assert_eq!(base.next_expired(10_500), Some((a, "a")));
        // Fired: no longer pending, still allocated, can be re-armed.
        assert!(!base.timer_pending(a));
        assert_eq!(base.allocated(), 1);
        *base.payload_mut(a).unwrap() = "a2";
        assert!(!base.mod_timer(a, 10_501));
        assert_eq!(drain(&mut base, 20_000), vec![(a, "a2")]);
        assert_eq!(base.payload(a), Some(&"a2"));
    }

    #[test]
    fn timer_reduce_only_moves_earlier() {
        let mut base = TimerBase::new(0);
        let t = base.timer_setup(());
        assert!(!base.timer_reduce(t, 500), "arms an idle timer");
        assert!(base.timer_reduce(t, 900));
        assert_eq!(base.timer_expires(t), Some(500), "never delayed");
        assert!(base.timer_reduce(t, 40));
        assert_eq!(base.timer_expires(t), Some(40));
        assert!(base.next_expired(39).is_none());
        assert_eq!(base.next_expired(40).map(|x| x.0), Some(t));
    }

    #[test]
    fn past_and_present_timers_fire_at_the_next_run() {
        let mut base = TimerBase::new(1000);
        let now_t = base.timer_setup(0);
        let past = base.timer_setup(1);
        base.mod_timer(now_t, 1000);
        base.mod_timer(past, 10);
        // The past timer goes first: it is treated as due before jiffy 1000.
        assert_eq!(base.next_timer_interrupt(), Some(10));
        assert_eq!(drain(&mut base, 1000), vec![(past, 1), (now_t, 0)]);
        assert_eq!(base.timer_jiffies(), 1001);
        // Armed for the jiffy just run: returned by the next call, same now.
        base.mod_timer(now_t, 1000);
        assert_eq!(base.next_timer_interrupt(), Some(1000));
        assert_eq!(drain(&mut base, 1000), vec![(now_t, 0)]);
    }

    #[test]
    fn ties_fire_in_arming_order_across_cascades() {
        // A is armed first and filed in tv3; B in tv2; C directly in tv1.
        // Linux ≤ 4.7 would run C, B, A; we keep arming order.
        let mut base = TimerBase::new(0);
        let e = (1 << 14) + 10;
        let a = base.timer_setup('a');
        let b = base.timer_setup('b');
        let c = base.timer_setup('c');
        base.mod_timer(a, e);
        assert!(base.next_expired(100).is_none());
        base.mod_timer(b, e);
        assert!(base.next_expired(e - 100).is_none());
        base.mod_timer(c, e);
        let got: String = drain(&mut base, e).into_iter().map(|x| x.1).collect();
        assert_eq!(got, "abc");
        // Re-arming to the same expiry keeps the place; to another, moves it.
        for t in [a, b, c] {
            base.mod_timer(t, e + 1000);
        }
        base.mod_timer(a, e + 1000);
        base.mod_timer(b, e + 999);
        base.mod_timer(b, e + 1000);
        let got: String = drain(&mut base, e + 1000).into_iter().map(|x| x.1).collect();
        assert_eq!(got, "acb");
    }

    #[test]
    fn ties_fire_in_arming_order_beyond_wheel_range() {
        // Both are beyond MAX_TVAL when armed, so both slots are clamped: A
        // to tv5 slot 0, B (armed 2^26 jiffies later) to slot 1. A cascades
        // down to tv4 first, so at the end B sits *above* A and cascades
        // into tv1 after it, i.e. in front of it. Found by the property test.
        let e = 66 << 26;
        let mut base = TimerBase::new(1);
        let a = base.timer_setup('a');
        let b = base.timer_setup('b');
        base.mod_timer(a, e);
        assert!(base.next_expired(1 << 26).is_none());
        base.mod_timer(b, e);
        assert!(base.next_expired(e - 1).is_none());
        let got: String = drain(&mut base, e).into_iter().map(|x| x.1).collect();
        assert_eq!(got, "ab");
    }

    #[test]
    fn cancelled_while_due_is_not_returned() {
        let mut base = TimerBase::new(0);
        let ids: Vec<_> = (0..4).map(|i| base.timer_setup(i)).collect();
        for &t in &ids {
            base.mod_timer(t, 50);
        }
        let (first, _) = base.next_expired(50).unwrap();
        assert_eq!(first, ids[0]);
        // The "callback" of the first deletes the third and shuts down the fourth.
        assert!(base.del_timer(ids[2]));
        assert_eq!(base.timer_shutdown(ids[3]), Some(3));
        assert_eq!(drain(&mut base, 50), vec![(ids[1], 1)]);
        assert_eq!(base.pending(), 0);
    }

    #[test]
    fn callbacks_rearm_while_draining() {
        // A periodic 10-jiffy timer and a one-shot that re-arms itself for
        // "now" once: both must come out in the same run.
        let mut base = TimerBase::new(0);
        let periodic = base.timer_setup("periodic");
        let once = base.timer_setup("once");
        let other = base.timer_setup("other");
        base.mod_timer(periodic, 10);
        base.mod_timer(once, 25);
        let mut fired = Vec::new();
        let mut rearmed_once = false;
        let now = 45;
        while let Some((id, name)) = base.next_expired(now) {
            let when = base.timer_jiffies() - 1;
            fired.push((name, when));
            if id == periodic {
                base.mod_timer(periodic, when + 10);
            } else if id == once && !rearmed_once {
                rearmed_once = true;
                base.mod_timer(once, now); // later this run
                base.mod_timer(other, 3); // in the past
            }
        }
        assert_eq!(
            fired,
            vec![
                ("periodic", 10),
                ("periodic", 20),
                ("once", 25),
                ("other", 25),
                ("periodic", 30),
                ("periodic", 40),
                ("once", 45),
            ]
        );
        assert_eq!(base.timer_expires(periodic), Some(50));
    }

    #[test]
    fn stale_id_after_shutdown_and_reuse_is_rejected() {
        let mut base = TimerBase::new(0);
        let old = base.timer_setup(1u32);
        base.mod_timer(old, 10);
        assert_eq!(base.timer_shutdown(old), Some(1));
        assert_eq!(base.pending(), 0);
        assert_eq!(base.allocated(), 0);
        let new = base.timer_setup(2u32);
        assert_ne!(old, new);
        assert!(!base.mod_timer(old, 20));
        assert!(!base.timer_reduce(old, 20));
        assert!(!base.timer_pending(new), "stale mod_timer touched the new tenant");
        assert!(!base.del_timer(old));
        assert!(!base.timer_pending(old));
        assert_eq!(base.timer_expires(old), None);
        assert_eq!(base.payload(old), None);
        assert_eq!(base.payload_mut(old), None);
        assert_eq!(base.timer_shutdown(old), None);
        assert_eq!(base.payload(new), Some(&2));
        base.mod_timer(new, 5);
        assert!(base.timer_pending(new));
        assert!(!base.timer_pending(old));
        assert_eq!(drain(&mut base, 5), vec![(new, 2)]);
    }

    #[test]
    fn forward_only_when_idle() {
        let mut base = TimerBase::<()>::new(0);
        base.forward(1_000_000);
        assert_eq!(base.timer_jiffies(), 1_000_000);
        base.forward(5);
        assert_eq!(base.timer_jiffies(), 1_000_000, "never backwards");
        let t = base.timer_setup(());
        base.mod_timer(t, 1_000_100);
        base.forward(1_000_050);
        assert_eq!(base.timer_jiffies(), 1_000_000, "timers pending");
        // Not forwarding a long-idle base costs a skip, never accuracy.
        let mut stale = TimerBase::new(0);
        let s = stale.timer_setup(());
        stale.mod_timer(s, 5_000_000_123);
        assert!(stale.next_expired(5_000_000_122).is_none());
        assert_eq!(stale.next_expired(5_000_000_123).map(|x| x.0), Some(s));
    }

    #[test]
    fn beyond_wheel_range_fires_at_true_expiry() {
        let mut base = TimerBase::new(7);
        let t = base.timer_setup(());
        let expires = 7 + 3 * MAX_TVAL + 99;
        base.mod_timer(t, expires);
        assert_eq!(base.timer_expires(t), Some(expires), "expires is not clamped");
        // Step through with the simulator loop: every bound is a lower bound.
        let mut now = 7;
        let mut rounds = 0;
        while let Some(next) = base.next_timer_interrupt() {
            assert!(time_before_eq(next, expires));
            now = now.max(next);
            rounds += 1;
            if let Some((id, ())) = base.next_expired(now) {
                assert_eq!((id, now), (t, expires));
            }
        }
        assert!(rounds < 40, "{rounds} rounds");
    }

    #[test]
    fn wheel_works_across_u64_wrap() {
        let start = u64::MAX - 70_000;
        let mut base = TimerBase::new(start);
        let mut expect = Vec::new();
        for k in 0..2000u64 {
            let e = start.wrapping_add(k * 97);
            let t = base.timer_setup(e);
            base.mod_timer(t, e);
            expect.push(e);
        }
        let mut now = start.wrapping_sub(97);
        let mut got = Vec::new();
        for _ in 0..2000 {
            now = now.wrapping_add(97);
            while let Some((_, e)) = base.next_expired(now) {
                assert!(time_after_eq(now, e) && time_after(e, now.wrapping_sub(97)));
                got.push(e);
            }
        }
        assert_eq!(got, expect);
    }

    #[test]
    fn virtual_hour_jump_is_fast() {
        let hour = secs_to_jiffies(3600);
        let mut base = TimerBase::new(0);
        for k in 0..10_000u64 {
            let t = base.timer_setup(k);
            base.mod_timer(t, (k * 7_919) % hour);
        }
        let last = base.timer_setup(u64::MAX);
        base.mod_timer(last, hour);
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        base.run_timers(hour - 1, &mut out);
        assert_eq!(out.len(), 10_000);
        assert!(out.windows(2).all(|w| (w[0].1 * 7_919) % hour <= (w[1].1 * 7_919) % hour));
        assert!(base.timer_pending(last));
        assert_eq!(base.next_timer_interrupt(), Some(hour));
        assert_eq!(drain(&mut base, hour), vec![(last, u64::MAX)]);
        // Stepping an hour one jiffy at a time over an idle wheel, with one
        // far timer and one periodic 200 ms timer, is just as cheap.
        let rto = msecs_to_jiffies(200);
        let far = base.timer_setup(0);
        base.mod_timer(far, 2 * hour);
        let periodic = base.timer_setup(1);
        base.mod_timer(periodic, hour + rto);
        let mut fired = 0;
        for now in hour..2 * hour {
            while let Some((id, _)) = base.next_expired(now) {
                assert_eq!(id, periodic);
                assert_eq!((now - hour) % rto, 0);
                base.mod_timer(periodic, now + rto);
                fired += 1;
            }
        }
        assert_eq!(fired, hour / rto - 1);
        assert!(base.timer_pending(far));
        let elapsed = start.elapsed();
        assert!(elapsed.as_secs() < 5, "{elapsed:?}");
    }

    #[test]
    fn simulator_loop_fires_everything_in_order() {
        let mut base = TimerBase::new(0);
        let mut expect = Vec::new();
        for (k, &d) in LEVEL_EDGES.iter().enumerate() {
            for r in 0..3u64 {
                let e = d + r * 1_000_003;
                let t = base.timer_setup(e);
                base.mod_timer(t, e);
                expect.push((e, k));
            }
        }
        expect.sort(); // stable ties: arming order
        let mut now = 0u64;
        let mut fired = Vec::new();
        let mut rounds = 0;
        while let Some(t) = base.next_timer_interrupt() {
            now = now.max(t);
            rounds += 1;
            while let Some((_, e)) = base.next_expired(now) {
                assert_eq!(e, now, "fired exactly at its expiry");
                fired.push(e);
            }
        }
        let expect: Vec<u64> = expect.into_iter().map(|x| x.0).collect();
        assert_eq!(fired, expect);
        assert!(rounds < 500, "{rounds} rounds");
    }

    #[test]
    fn million_timers_all_expire() {
        const N: u64 = 1_000_000;
        let mut base = TimerBase::new(0);
        for k in 0..N {
            let t = base.timer_setup(k as u32);
            // Spread over ~70 minutes, through every level but tv5.
            base.mod_timer(t, (k * 2_654_435_761) % (1 << 22));
        }
        assert_eq!(base.pending(), N as usize);
        let mut count = 0u64;
        let mut last = 0u64;
        while let Some((_, k)) = base.next_expired(1 << 22) {
            let e = (u64::from(k) * 2_654_435_761) % (1 << 22);
            assert!(e >= last);
            last = e;
            count += 1;
        }
        assert_eq!(count, N);
        assert_eq!(base.pending(), 0);
        assert_eq!(base.allocated(), N as usize);
    }

    #[test]
    fn next_set_bit_256_wraps() {
        let mut w = [0u64; 4];
        assert_eq!(next_set_bit_256(w, 17), None);
        w[0] = 1 << 5;
        assert_eq!(next_set_bit_256(w, 5), Some(0));
        assert_eq!(next_set_bit_256(w, 6), Some(255));
        assert_eq!(next_set_bit_256(w, 200), Some(61));
        w[3] = 1 << 63;
        assert_eq!(next_set_bit_256(w, 6), Some(249));
        assert_eq!(next_set_bit_256(w, 255), Some(0));
        w[2] = 1 << 1;
        assert_eq!(next_set_bit_256(w, 64), Some(65));
    }

    // ---- property tests against a naive model --------------------------

    #[derive(Clone, Debug)]
    enum Op {
        /// mod_timer(handle, now + delta)
        Mod(usize, i64),
        /// timer_reduce(handle, now + delta)
        Reduce(usize, i64),
        Del(usize),
        /// timer_shutdown, then timer_setup a new timer in its place.
        Shutdown(usize),
        /// Advance now by the step and drain; the k-th fired timer's
        /// "callback" performs `actions[k]`, if any.
        Advance(u64, Vec<Action>),
    }

    #[derive(Clone, Debug)]
    enum Action {
        Nothing,
        Mod(usize, i64),
        Del(usize),
    }

    const HANDLES: usize = 12;

    fn delta() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => -40i64..300,
            3 => 0i64..20_000,
            2 => 0i64..(1 << 21),
            1 => 0i64..(1 << 27),
            1 => 0i64..(1 << 34),
            1 => prop::sample::select(
                LEVEL_EDGES.iter().map(|&d| d as i64).collect::<Vec<_>>()
            ),
        ]
    }

    fn step() -> impl Strategy<Value = u64> {
        prop_oneof![
            3 => 0u64..3,
            3 => 0u64..400,
            2 => 0u64..40_000,
            1 => 0u64..(1 << 22),
            1 => 0u64..(1 << 28),
            1 => 0u64..(1 << 35),
        ]
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            2 => Just(Action::Nothing),
            2 => (0..HANDLES, -20i64..300).prop_map(|(h, d)| Action::Mod(h, d)),
            1 => (0..HANDLES).prop_map(Action::Del),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..HANDLES, delta()).prop_map(|(h, d)| Op::Mod(h, d)),
            1 => (0..HANDLES, delta()).prop_map(|(h, d)| Op::Reduce(h, d)),
            2 => (0..HANDLES).prop_map(Op::Del),
            1 => (0..HANDLES).prop_map(Op::Shutdown),
            3 => (step(), prop::collection::vec(action(), 0..6))
                .prop_map(|(s, a)| Op::Advance(s, a)),
        ]
    }

    fn start() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            any::<u64>(),
            (u64::MAX - 100_000)..=u64::MAX,
            ((1u64 << 32) - 50_000)..((1u64 << 32) + 50_000),
        ]
    }

    /// The naive model: pending timers ordered by (effective expiry, arming
    /// sequence). A timer armed in the past is due at `timer_jiffies - 1`.
    struct Model {
        /// Keys are offsets from here, so ordering is wrap-safe.
        origin: u64,
        tj: u64,
        seq: u64,
        /// handle -> (expires, key)
        pend: HashMap<usize, (u64, (u64, u64))>,
        order: BTreeMap<(u64, u64), usize>,
    }

    impl Model {
        fn new(start: u64) -> Self {
            Model {
                origin: start.wrapping_sub(1 << 62),
                tj: start,
                seq: 0,
                pend: HashMap::new(),
                order: BTreeMap::new(),
            }
        }

        fn arm(&mut self, h: usize, expires: u64) -> bool {
            let was = self.del(h);
            let effective = if time_before(expires, self.tj) { self.tj.wrapping_sub(1) } else { expires };
            self.seq += 1;
            let key = (effective.wrapping_sub(self.origin), self.seq);
            self.pend.insert(h, (expires, key));
            self.order.insert(key, h);
            was
        }

        fn mod_timer(&mut self, h: usize, expires: u64) -> bool {
            match self.pend.get(&h) {
                Some(&(e, _)) if e == expires => true,
                _ => self.arm(h, expires),
            }
        }

        fn timer_reduce(&mut self, h: usize, expires: u64) -> bool {
            match self.pend.get(&h) {
                Some(&(e, _)) if time_before_eq(e, expires) => true,
                _ => self.arm(h, expires),
            }
        }

        fn del(&mut self, h: usize) -> bool {
            match self.pend.remove(&h) {
                Some((_, key)) => {
                    self.order.remove(&key);
                    true
                }
                None => false,
            }
        }

        /// The timer due first at `now`, if any, taken off the model.
        fn pop_due(&mut self, now: u64) -> Option<usize> {
            let (&key, &h) = self.order.first_key_value()?;
            if key.0 > now.wrapping_sub(self.origin) {
                return None;
            }
            self.order.remove(&key);
            self.pend.remove(&h);
            self.tj = key.0.wrapping_add(self.origin).wrapping_add(1);
            Some(h)
        }

        fn earliest_expires(&self) -> Option<u64> {
            self.pend.values().map(|&(e, _)| e).min_by_key(|&e| e.wrapping_sub(self.origin))
        }
    }

    struct Harness {
        base: TimerBase<(usize, u64)>,
        model: Model,
        ids: Vec<TimerId>,
        /// Payload generation per handle, to check payloads come back.
        payload: Vec<u64>,
        now: u64,
    }

    impl Harness {
        fn new(start: u64) -> Self {
            let mut base = TimerBase::new(start);
            let ids = (0..HANDLES).map(|h| base.timer_setup((h, 0))).collect();
            Harness { base, model: Model::new(start), ids, payload: vec![0; HANDLES], now: start }
        }

        fn expires(&self, delta: i64) -> u64 {
            self.now.wrapping_add_signed(delta)
        }

        fn mod_timer(&mut self, h: usize, delta: i64) {
            let e = self.expires(delta);
            assert_eq!(self.base.mod_timer(self.ids[h], e), self.model.mod_timer(h, e));
        }

        fn del(&mut self, h: usize) {
            assert_eq!(self.base.del_timer(self.ids[h]), self.model.del(h));
        }

        fn apply(&mut self, op: &Op) {
            match *op {
                Op::Mod(h, d) => self.mod_timer(h, d),
                Op::Reduce(h, d) => {
                    let e = self.expires(d);
                    let got = self.base.timer_reduce(self.ids[h], e);
                    assert_eq!(got, self.model.timer_reduce(h, e));
                }
                Op::Del(h) => self.del(h),
                Op::Shutdown(h) => {
                    let old = self.ids[h];
                    let got = self.base.timer_shutdown(old);
                    assert_eq!(got, Some((h, self.payload[h])));
                    self.model.del(h);
                    self.payload[h] += 1;
                    self.ids[h] = self.base.timer_setup((h, self.payload[h]));
                    assert!(!self.base.mod_timer(old, self.now));
                    assert!(!self.base.timer_pending(old));
                    assert!(!self.base.timer_pending(self.ids[h]));
                }
                Op::Advance(step, ref actions) => {
                    self.now = self.now.wrapping_add(step);
                    self.drain(actions);
                }
            }
            self.check();
        }

        fn drain(&mut self, actions: &[Action]) {
            let now = self.now;
            let mut k = 0;
            loop {
                let got = self.base.next_expired(now);
                let want = self.model.pop_due(now);
                match (got, want) {
                    (None, None) => break,
                    (Some((id, payload)), Some(h)) => {
                        assert_eq!(id, self.ids[h], "wrong timer at now {now}");
                        assert_eq!(payload, (h, self.payload[h]));
                        assert!(!self.base.timer_pending(id));
                        assert_eq!(self.base.timer_jiffies(), self.model.tj);
                    }
                    (got, want) => panic!("now {now}: wheel {got:?}, model {want:?}"),
                }
                // Each action runs once, so a callback cannot re-arm itself
                // in the past forever.
                match actions.get(k) {
                    None | Some(Action::Nothing) => {}
                    Some(&Action::Mod(h, d)) => self.mod_timer(h, d),
                    Some(&Action::Del(h)) => self.del(h),
                }
                k += 1;
            }
            if time_after(now.wrapping_add(1), self.model.tj) {
                self.model.tj = now.wrapping_add(1);
            }
            assert_eq!(self.base.timer_jiffies(), self.model.tj);
        }

        fn check(&self) {
            assert_eq!(self.base.pending(), self.model.pend.len());
            match (self.base.next_timer_interrupt(), self.model.earliest_expires()) {
                (None, None) => {}
                (Some(t), Some(e)) => {
                    assert!(time_before_eq(t, e), "next_timer_interrupt {t} > earliest {e}");
                }
                (t, e) => panic!("next_timer_interrupt {t:?}, earliest {e:?}"),
            }
            for (h, &id) in self.ids.iter().enumerate() {
                let want = self.model.pend.get(&h).map(|&(e, _)| e);
                assert_eq!(self.base.timer_expires(id), want);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Random arms, re-arms, deletes, shutdowns and callback actions,
        /// drained with random steps: every timer comes out exactly when the
        /// model says, in the model's order.
        #[test]
        fn wheel_matches_model(start in start(), ops in prop::collection::vec(op(), 1..150)) {
            let mut h = Harness::new(start);
            for op in &ops {
                h.apply(op);
            }
            // Everything still pending fires eventually.
            h.now = h.now.wrapping_add(1 << 42);
            h.drain(&[]);
            prop_assert_eq!(h.base.pending(), 0);
            prop_assert!(h.model.order.is_empty());
        }

        /// Jumping the clock to next_timer_interrupt() and draining fires
        /// every timer exactly at its expiry, in order, including timers the
        /// "callbacks" re-arm; next_timer_interrupt() never overshoots.
        #[test]
        fn simulator_loop_matches_model(
            start in start(),
            deltas in prop::collection::vec(delta(), 1..200),
            rearm in prop::collection::vec(0u64..5000, 0..50),
        ) {
            let mut base = TimerBase::new(start);
            // Expected expiry of each pending timer.
            let mut expect_at = HashMap::new();
            let mut want = Vec::new();
            for (k, &d) in deltas.iter().enumerate() {
                let d = d.max(0) as u64;
                // Payload: (which timer, how many times re-armed).
                let t = base.timer_setup((k, 0u32));
                base.mod_timer(t, start.wrapping_add(d));
                expect_at.insert(t, start.wrapping_add(d));
                want.push((d, k));
            }
            want.sort(); // ties in arming order
            let mut now = start;
            let mut first_round = Vec::new();
            let mut rearms = rearm.into_iter();
            while let Some(t) = base.next_timer_interrupt() {
                let earliest = expect_at
                    .values()
                    .copied()
                    .min_by_key(|&e: &u64| e.wrapping_sub(start))
                    .unwrap();
                prop_assert!(time_before_eq(t, earliest), "{} > {}", t, earliest);
                if time_after(t, now) {
                    now = t;
                }
                while let Some((id, (k, round))) = base.next_expired(now) {
                    prop_assert_eq!(expect_at.remove(&id), Some(now), "timer {} early or late", k);
                    if round == 0 {
                        first_round.push((now.wrapping_sub(start), k));
                    }
                    if let Some(r) = rearms.next() {
                        base.payload_mut(id).unwrap().1 += 1;
                        base.mod_timer(id, now.wrapping_add(r));
                        expect_at.insert(id, now.wrapping_add(r));
                    }
                }
            }
            prop_assert!(expect_at.is_empty());
            prop_assert_eq!(first_round, want);
        }
    }
}
