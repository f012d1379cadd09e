//! One host's network namespace.
//!
//! Mirrors `struct net` (include/net/net_namespace.h) and the pernet
//! machinery of net/core/net_namespace.c, Linux 6.18. A [`Net`] owns
//! everything a host's stack has: devices, the packet-type tables, timers,
//! counters (`/proc/net/snmp`), sysctls (`/proc/sys/net`), drop counts, a
//! clock and a seeded random source. Several `Net`s live in one process —
//! the lab runs two to five hosts on one wire — exactly as several
//! namespaces share one Linux kernel.
//!
//! Upper layers keep their per-namespace state the way Linux modules do with
//! `net_generic()`: net-ipv4 stores its routing table and `inet_protos`,
//! net-tcp its hash tables, with [`Net::net_assign_generic`], and find them
//! again with [`Net::net_generic`]. A lookup is one load and a short scan,
//! no lock and no reference count (the map is an RCU-style pointer, see
//! [`crate::rcupdate`]), so TCP's receive handler finds its state per
//! packet, as Linux's `tcp_v4_rcv()` reads `net->ipv4`; a handler
//! registered with `dev_add_pack` may instead capture the state it needs.
//!
//! # Running a namespace
//!
//! Linux runs the stack from interrupts, softirqs and process context. Here
//! the caller drives it: [`Net::poll`] is one softirq pass — receive from
//! every device (`net_rx_action`), retry blocked transmit queues
//! (`net_tx_action`), run due timers (`run_timers`). A simulator (net-dev's
//! `Sim`) calls it for each host whenever virtual time moves; a real-time
//! host loop calls it when a device is readable or a timer is due.

use std::any::{Any, TypeId};
use std::sync::Arc;

use crate::dev::{DevTable, PtypeTables};
use crate::dropreason::{DropCounters, SkbDropReason};
use crate::jiffies::{Clock, HZ, MAX_JIFFY_OFFSET, NSEC_PER_SEC, time_after, time_before};
use crate::netdevice::HeaderOps;
use crate::random::NetRandom;
use crate::rcupdate::RcuSlots;
use crate::skbuff::Skb;
use crate::snmp::NetMibs;
use crate::sysctl_net::SysctlTable;
use crate::sysctl_net_core::{NetCoreSysctls, register_net_core};
use crate::timer::{TimerBase, TimerId};

/// What a timer runs when it fires.
///
/// Linux's `timer->function(timer)` finds its object with `container_of`;
/// ours is a plain function with a word of data (the pre-4.15
/// `timer->data` style, allocation-free, used for sockets kept in slabs),
/// a plain function with a weak pointer to its object (the
/// `from_timer()`/`timer_container_of()` style, allocation-free, used for
/// the timers a socket owns), or a closure.
#[derive(Clone)]
pub enum TimerFunc {
    /// `function(net, data)`.
    Fn(fn(&Net, u64), u64),
    /// `function(net, container)`: the object the timer belongs to, if it
    /// still exists when the timer fires (the weak pointer upgrades);
    /// nothing runs otherwise. `function` downcasts it back to its type.
    /// Setting it up allocates nothing: several timers of one object share
    /// the object's allocation through weak references, as Linux's
    /// `timer_list`s are embedded in their object.
    #[doc(alias = "from_timer")]
    #[doc(alias = "timer_container_of")]
    Weak(fn(&Net, Arc<dyn Any + Send + Sync>), std::sync::Weak<dyn Any + Send + Sync>),
    /// Any closure.
    Closure(Arc<dyn Fn(&Net) + Send + Sync>),
}

impl TimerFunc {
    /// A closure timer.
    pub fn closure(f: impl Fn(&Net) + Send + Sync + 'static) -> Self {
        TimerFunc::Closure(Arc::new(f))
    }

    fn call(&self, net: &Net) {
        match self {
            TimerFunc::Fn(f, data) => f(net, *data),
            TimerFunc::Weak(f, w) => {
                if let Some(container) = w.upgrade() {
                    f(net, container);
                }
            }
            TimerFunc::Closure(f) => f(net),
        }
    }
}

// ANCHOR: struct_net
/// One host's network namespace (`struct net`).
///
/// Fields are grouped by what guards them; every lock here is a short
/// `spin` lock, never held while a packet handler or timer callback runs,
/// except the packet-type read guard (see dev.rs).
pub struct Net {
    /// A name for traces (`ip netns` name).
    pub name: String,

    // -- immutable after creation -------------------------------------------
    clock: Clock,
    /// Random source and secrets, seeded.
    pub random: NetRandom,

    // -- lock-free: atomics ----------------------------------------------------
    /// SNMP and netstat counters (`net->mib`).
    pub mib: NetMibs,
    /// Drops by reason (what `dropwatch` would count).
    pub drops: DropCounters,
    /// `/proc/sys/net` for this namespace.
    pub sysctl: SysctlTable,
    /// Handles to the `net.core.*` sysctls read on the data path.
    pub core: NetCoreSysctls,

    // -- read-mostly tables: spin::RwLock (Linux: RCU + RTNL) ----------------
    pub(crate) devices: spin::RwLock<DevTable>,
    pub(crate) ptype: spin::RwLock<PtypeTables>,
    /// Taps on `ptype_all`, kept beside the table so the transmit path can
    /// skip the table when there are none (`dev_nit_active()`).
    pub(crate) ptype_all_count: std::sync::atomic::AtomicUsize,
    /// Some device's queue holds frames its driver refused: Linux's
    /// `NET_TX_SOFTIRQ` raised by `__netif_schedule()`.
    pub(crate) tx_scheduled: std::sync::atomic::AtomicBool,
    /// `NET_RX_SOFTIRQ` pending: a registered device's
    /// [`NapiSched`](crate::netdevice::NapiSched) put it on the poll list
    /// (`napi_schedule()`); `net_rx_action` clears it before it polls.
    pub(crate) rx_softirq: Arc<std::sync::atomic::AtomicBool>,
    /// Some registered device keeps no poll-list flag and is polled on
    /// every pass (as before NAPI), softirq raised or not.
    pub(crate) rx_poll_always: std::sync::atomic::AtomicBool,
    /// Header operations per device type: one RCU-style pointer to the
    /// list (Linux reads `dev->header_ops` without a lock).
    pub(crate) header_ops: RcuSlots<Vec<(u16, Arc<dyn HeaderOps>)>>,
    /// Packet offloads for GRO (`offload_base`), newest first.
    pub(crate) offload_base: spin::RwLock<Vec<Arc<crate::gro::PacketOffload>>>,
    /// The netdevice notifier chain (`netdev_chain`), in registration order.
    pub(crate) netdev_chain: spin::RwLock<Vec<crate::dev_notifier::NetdevNotifier>>,
    /// The `net_generic()` type map, one RCU-style pointer to it: readers
    /// follow it with one load; each assignment publishes a new map.
    generic: RcuSlots<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,

    // -- the timer wheel: its own lock (Linux: timer_base.lock) --------------
    timers: spin::Mutex<TimerBase<TimerFunc>>,
    /// `base->next_expiry`: no timer can be due before this jiffy. Written
    /// with `timers` held — lowered by every arming, set after each run to
    /// the wheel's next event — and read without it by
    /// [`Net::run_timers`], which, as Linux's tick (`run_local_timers()`
    /// raises `TIMER_SOFTIRQ` only once `next_expiry` is reached), does not
    /// take the lock before then.
    timers_next_expiry: std::sync::atomic::AtomicU64,
}
// ANCHOR_END: struct_net

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").field("name", &self.name).finish()
    }
}

impl Net {
    /// A new, empty namespace: no devices, no protocols (net-tcp's
    /// `inet_init` adds them), `net.core` sysctls at Linux's defaults.
    ///
    /// `seed` fixes every random choice the stack makes in this namespace.
    #[doc(alias = "copy_net_ns")]
    #[doc(alias = "setup_net")]
    pub fn new(name: &str, clock: Clock, seed: u64) -> Arc<Net> {
        let sysctl = SysctlTable::new();
        let core = register_net_core(&sysctl);
        let now = clock.jiffies();
        Arc::new(Net {
            name: name.to_string(),
            random: NetRandom::new(seed),
            mib: NetMibs::new(),
            drops: DropCounters::new(),
            sysctl,
            core,
            devices: spin::RwLock::new(DevTable::new()),
            ptype: spin::RwLock::new(PtypeTables::new()),
            ptype_all_count: std::sync::atomic::AtomicUsize::new(0),
            tx_scheduled: std::sync::atomic::AtomicBool::new(false),
            rx_softirq: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            rx_poll_always: std::sync::atomic::AtomicBool::new(false),
            header_ops: RcuSlots::new(1),
            offload_base: spin::RwLock::new(Vec::new()),
            netdev_chain: spin::RwLock::new(Vec::new()),
            generic: RcuSlots::new(1),
            timers: spin::Mutex::new(TimerBase::new(now)),
            timers_next_expiry: std::sync::atomic::AtomicU64::new(now),
            clock,
        })
    }

    // -- time ------------------------------------------------------------------

    /// This namespace's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Nanoseconds on this namespace's clock (`ktime_get_ns()`).
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Current jiffies (HZ = 1000).
    pub fn jiffies(&self) -> u64 {
        self.clock.jiffies()
    }

    // -- timers ----------------------------------------------------------------

    /// Allocate a timer that is not yet armed (`timer_setup()`).
    pub fn timer_setup(&self, func: TimerFunc) -> TimerId {
        self.timers.lock().timer_setup(func)
    }

    /// [`Net::timer_setup`] for several timers under one lock of the wheel
    /// (a socket's four). Linux's `timer_setup()` takes no lock at all (it
    /// only fills in the embedded `timer_list`); ours files the timer in
    /// the wheel's slab, so we take the lock once, not once per timer.
    pub fn timer_setup_n<const N: usize>(&self, funcs: [TimerFunc; N]) -> [TimerId; N] {
        let mut t = self.timers.lock();
        funcs.map(|f| t.timer_setup(f))
    }

    /// Arm or re-arm a timer to fire at `expires` jiffies (`mod_timer()`);
    /// true if it was pending.
    pub fn mod_timer(&self, id: TimerId, expires: u64) -> bool {
        let now = self.jiffies();
        let mut t = self.timers.lock();
        self.timers_catch_up(&mut t, now);
        t.forward(now);
        self.lower_next_expiry(&t, expires);
        t.mod_timer(id, expires)
    }

    /// Arm, or move an armed timer earlier only (`timer_reduce()`).
    pub fn timer_reduce(&self, id: TimerId, expires: u64) -> bool {
        let now = self.jiffies();
        let mut t = self.timers.lock();
        self.timers_catch_up(&mut t, now);
        t.forward(now);
        self.lower_next_expiry(&t, expires);
        t.timer_reduce(id, expires)
    }

    /// [`Net::run_timers`] does not lock the wheel before `next_expiry`, so
    /// the wheel's own clock (`timer_jiffies`) may lag: bring it up to
    /// `now` as those runs would have ([`TimerBase::run_idle`]), before
    /// anything that depends on it — where a timer is filed, what the next
    /// event is. Call with the wheel's lock held.
    fn timers_catch_up(&self, t: &mut TimerBase<TimerFunc>, now: u64) {
        if time_after(self.timers_next_expiry.load(std::sync::atomic::Ordering::Relaxed), now) {
            // On one thread nothing can be due then, and this always
            // catches up. With threads, `now` may be older than the wheel
            // (read before another thread ran it further, or armed a timer
            // in the past for after `now`): then it changes nothing.
            t.run_idle(now);
        }
    }

    /// A timer is being armed for `expires` on the wheel `t` (whose lock
    /// the caller holds): `next_expiry` may not stay after it (Linux:
    /// `enqueue_timer()` updating `base->next_expiry`). Nor after the
    /// wheel's first jiffy not yet run: a timer filed on a higher level
    /// makes the wheel's next event the cascade of its slot, which may come
    /// before `expires` ([`TimerBase::next_timer_interrupt`] reports it,
    /// and a driver moves the clock there expecting a run).
    fn lower_next_expiry(&self, t: &TimerBase<TimerFunc>, expires: u64) {
        use std::sync::atomic::Ordering;
        let tj = t.timer_jiffies();
        let bound = if time_before(expires, tj) { expires } else { tj };
        if time_before(bound, self.timers_next_expiry.load(Ordering::Relaxed)) {
            self.timers_next_expiry.store(bound, Ordering::Release);
        }
    }

    /// Disarm a timer (`timer_delete()`, formerly `del_timer()`); true if it
    /// was pending.
    #[doc(alias = "timer_delete")]
    pub fn del_timer(&self, id: TimerId) -> bool {
        self.timers.lock().del_timer(id)
    }

    /// [`Net::del_timer`] for several timers under one lock of the wheel
    /// (`inet_csk_clear_xmit_timers()` stops a socket's timers together).
    /// Linux's `timer_delete()` skips the lock for a timer that is not
    /// pending; ours keeps that state in the wheel, so we lock once for
    /// all of them instead.
    pub fn del_timer_n(&self, ids: &[TimerId]) {
        let mut t = self.timers.lock();
        for &id in ids {
            t.del_timer(id);
        }
    }

    /// True while armed (`timer_pending()`).
    pub fn timer_pending(&self, id: TimerId) -> bool {
        self.timers.lock().timer_pending(id)
    }

    /// When an armed timer fires, in jiffies.
    pub fn timer_expires(&self, id: TimerId) -> Option<u64> {
        self.timers.lock().timer_expires(id)
    }

    /// Disarm and free a timer for good (`timer_shutdown_sync()`); later
    /// calls with this id do nothing.
    #[doc(alias = "timer_shutdown_sync")]
    pub fn timer_shutdown(&self, id: TimerId) {
        self.timers.lock().timer_shutdown(id);
    }

    /// [`Net::timer_shutdown`] for several timers under one lock of the
    /// wheel (a socket's four, as `inet_csk_clear_xmit_timers_sync()`
    /// stops them together).
    pub fn timer_shutdown_n(&self, ids: &[TimerId]) {
        let mut t = self.timers.lock();
        for &id in ids {
            t.timer_shutdown(id);
        }
    }

    /// Timers currently armed.
    pub fn timers_pending(&self) -> usize {
        self.timers.lock().pending()
    }

    // ANCHOR: run_timers
    /// Run every timer due at the current time, in expiry order, each without
    /// the wheel's lock held, so a callback may arm, re-arm or cancel any
    /// timer. Mirrors `run_timer_softirq()` → `__run_timers()`. Returns the
    /// number run.
    ///
    /// Before `next_expiry` nothing can be due and the wheel is not even
    /// locked (Linux's tick does not raise the softirq then); a run that
    /// ends sets `next_expiry` to the wheel's next event
    /// ([`TimerBase::next_timer_interrupt`]), later than now.
    #[doc(alias = "run_timer_softirq")]
    #[inline]
    pub fn run_timers(&self) -> usize {
        let now = self.jiffies();
        if time_after(self.timers_next_expiry.load(std::sync::atomic::Ordering::Acquire), now) {
            return 0;
        }
        self.__run_timers(now)
    }

    /// The run itself (Linux: `__run_timers()`), kept out of line so that
    /// the check above costs a caller polling an idle host next to nothing.
    #[inline(never)]
    fn __run_timers(&self, now: u64) -> usize {
        use std::sync::atomic::Ordering;
        let mut n = 0;
        loop {
            let mut t = self.timers.lock();
            match t.next_expired(now) {
                Some((_, f)) => {
                    drop(t);
                    f.call(self);
                    n += 1;
                }
                None => {
                    // Every jiffy up to now has run: the next work is at
                    // the wheel's next event, or with no timer pending, at
                    // whatever is armed next.
                    let next = t
                        .next_timer_interrupt()
                        .unwrap_or_else(|| t.timer_jiffies().wrapping_add(MAX_JIFFY_OFFSET));
                    self.timers_next_expiry.store(next, Ordering::Release);
                    return n;
                }
            }
        }
    }
    // ANCHOR_END: run_timers

    /// The earliest time (ns) at which [`run_timers`](Self::run_timers) may
    /// have work — never later than the next expiry, possibly earlier (a
    /// wheel cascade point), and never before the first jiffy the wheel has
    /// not yet run: a timer due in a jiffy already run fires on the next
    /// one, as on Linux's next tick. `None` when no timer is armed.
    #[doc(alias = "get_next_timer_interrupt")]
    pub fn next_timer_ns(&self) -> Option<u64> {
        let now = self.jiffies();
        let mut t = self.timers.lock();
        self.timers_catch_up(&mut t, now);
        let j = t.next_timer_interrupt()?.max(t.timer_jiffies());
        Some(j.saturating_mul(NSEC_PER_SEC / HZ))
    }

    /// When this namespace next has work of its own: its next timer or the
    /// earliest frame an up device will deliver ([`NetDevice::next_rx_time`]).
    /// A virtual-time driver jumps the clock here after polling until idle.
    ///
    /// [`NetDevice::next_rx_time`]: crate::netdevice::NetDevice::next_rx_time
    pub fn next_event_ns(&self) -> Option<u64> {
        let rx = self.devices_rcu().iter().filter(|d| d.is_up()).filter_map(|d| d.next_rx_time()).min();
        [self.next_timer_ns(), rx].into_iter().flatten().min()
    }

    // -- the softirq ---------------------------------------------------------

    /// One pass of the stack: receive (up to `netdev_budget` frames), retry
    /// blocked transmit queues, run due timers. Returns how much work was
    /// done (frames + frames sent + timers), so callers can loop until 0.
    pub fn poll(&self) -> usize {
        let budget = self.core.netdev_budget.get().max(1) as usize;
        let rx = self.net_rx_action(budget);
        let tx = self.net_tx_action();
        let t = self.run_timers();
        rx + tx + t
    }

    // -- drops -----------------------------------------------------------------

    /// Free a packet that is being dropped, counting why.
    ///
    /// Mirrors `kfree_skb_reason()` (net/core/skbuff.c), which fires the
    /// `kfree_skb` tracepoint; we count per reason in [`Net::drops`].
    pub fn kfree_skb_reason(&self, skb: Skb, reason: SkbDropReason) {
        self.drops.inc(reason);
        drop(skb);
    }

    /// Free a packet that was used as intended (`consume_skb()`): not a drop.
    pub fn consume_skb(&self, skb: Skb) {
        drop(skb);
    }

    // -- pernet data -----------------------------------------------------------

    /// Store a layer's per-namespace state (`net_assign_generic()`);
    /// replaces any earlier value of the same type.
    ///
    /// Publishes a new copy of the type map (`rcu_assign_pointer()`); the
    /// old map, and a replaced value in it, stay owned by the namespace
    /// (see [`crate::rcupdate`]): layers assign once each at set-up.
    pub fn net_assign_generic<T: Any + Send + Sync>(&self, value: Arc<T>) {
        self.generic.rcu_update(0, |g| {
            let mut g: Vec<_> = g.cloned().unwrap_or_default();
            g.retain(|(t, _)| *t != TypeId::of::<T>());
            // Newest first: the layer set up last (TCP, over IPv4) is the
            // one its per-packet handlers look for, and finds it at once.
            g.insert(0, (TypeId::of::<T>(), value));
            g
        });
    }

    /// A layer's per-namespace state (`net_generic()`): one load and a
    /// short scan, no lock and no reference count, as Linux's
    /// `net_generic()` reads `net->gen` under RCU.
    #[inline]
    pub fn net_generic<T: Any + Send + Sync>(&self) -> Option<&T> {
        let g = self.generic.rcu_dereference(0)?;
        let (_, v) = g.iter().find(|(t, _)| *t == TypeId::of::<T>())?;
        v.downcast_ref::<T>()
    }

    /// [`Net::net_generic`] as an owned `Arc`, for a caller that keeps it.
    pub fn net_generic_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let g = self.generic.rcu_dereference(0)?;
        let (_, v) = g.iter().find(|(t, _)| *t == TypeId::of::<T>())?;
        v.clone().downcast::<T>().ok()
    }
}

/// Where a virtual-time driver moves the clock after polling until idle:
/// the next `event` ([`Net::next_event_ns`]), or, when that is not in the
/// future (a device says a frame is due but did not hand it over), the next
/// jiffy boundary, so the driver never spins at one instant.
pub fn next_wakeup_ns(now: u64, event: u64) -> u64 {
    let tick = NSEC_PER_SEC / HZ;
    if event > now { event } else { (now / tick + 1) * tick }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn timers_fire_in_order_and_may_rearm_each_other() {
        let clock = Clock::new_virtual();
        let net = Net::new("a", clock.clone(), 1);
        let log = Arc::new(Mutex::new(Vec::new()));
        let l1 = log.clone();
        let t1 = net.timer_setup(TimerFunc::closure(move |n| l1.lock().unwrap().push(("t1", n.jiffies()))));
        let l2 = log.clone();
        let t2 = net.timer_setup(TimerFunc::closure(move |n| {
            l2.lock().unwrap().push(("t2", n.jiffies()));
            // Cancel t1, which is due in the same run: it must not fire.
            n.del_timer(t1);
        }));
        net.mod_timer(t2, 200);
        net.mod_timer(t1, 200);
        assert!(net.timer_pending(t1));
        assert_eq!(net.next_timer_ns().map(|ns| ns <= 200_000_000), Some(true));
        clock.set_ns(199_000_000);
        assert_eq!(net.run_timers(), 0);
        clock.set_ns(200_000_000);
        assert_eq!(net.run_timers(), 1);
        assert_eq!(log.lock().unwrap().as_slice(), &[("t2", 200)]);
        assert!(!net.timer_pending(t1));
        assert_eq!(net.next_timer_ns(), None);
    }

    fn bump(net: &Net, data: u64) {
        net.mib.add(crate::snmp::LinuxMib::DelayedACKs, data);
    }

    #[test]
    fn fn_timers_carry_their_word() {
        let clock = Clock::new_virtual();
        let net = Net::new("a", clock.clone(), 1);
        let t = net.timer_setup(TimerFunc::Fn(bump, 5));
        net.mod_timer(t, net.jiffies() + 40);
        clock.advance_ns(40_000_000);
        assert_eq!(net.poll(), 1);
        assert_eq!(net.mib.get(crate::snmp::LinuxMib::DelayedACKs), 5);
        net.timer_shutdown(t);
        assert!(!net.mod_timer(t, 1000), "a shut-down timer stays dead");
        assert_eq!(net.timers_pending(), 0);
    }

    /// What a [`TimerFunc::Weak`] timer's object records of its firings.
    struct Owner(std::sync::atomic::AtomicU32);

    fn owner_timer(_net: &Net, c: Arc<dyn Any + Send + Sync>) {
        let owner = c.downcast::<Owner>().expect("the timer's own object");
        owner.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    #[test]
    fn weak_timers_reach_their_object_while_it_lives() {
        let clock = Clock::new_virtual();
        let net = Net::new("a", clock.clone(), 1);
        let owner = Arc::new(Owner(std::sync::atomic::AtomicU32::new(0)));
        let w: std::sync::Weak<dyn Any + Send + Sync> = Arc::downgrade(&owner) as std::sync::Weak<Owner>;
        let (t1, t2) = (
            net.timer_setup(TimerFunc::Weak(owner_timer, w.clone())),
            net.timer_setup(TimerFunc::Weak(owner_timer, w)),
        );
        net.mod_timer(t1, net.jiffies() + 10);
        net.mod_timer(t2, net.jiffies() + 20);
        clock.advance_ns(10_000_000);
        assert_eq!(net.poll(), 1);
        assert_eq!(owner.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        // The object goes: its timer still fires (Linux would have shut it
        // down first) but finds nothing to run on.
        let weak = Arc::downgrade(&owner);
        drop(owner);
        clock.advance_ns(10_000_000);
        assert_eq!(net.poll(), 1);
        assert!(weak.upgrade().is_none());
        net.timer_shutdown(t1);
        net.timer_shutdown(t2);
        assert_eq!(net.timers_pending(), 0);
    }

    #[test]
    fn next_event_is_never_inside_a_jiffy_already_run() {
        let clock = Clock::new_virtual_at(5_500_000); // 5.5 ms: jiffy 5
        let net = Net::new("a", clock.clone(), 1);
        assert_eq!(net.next_event_ns(), None);
        let t = net.timer_setup(TimerFunc::closure(|_| {}));
        net.run_timers(); // the wheel has run jiffy 5
        net.mod_timer(t, 3); // already in the past
        let next = net.next_event_ns().unwrap();
        assert!(next > clock.now_ns(), "a driver must never be told to wake in the past");
        assert_eq!(next, 6_000_000, "it fires on the next jiffy, as on Linux's next tick");
        clock.set_ns(next);
        assert_eq!(net.run_timers(), 1);
        assert_eq!(next_wakeup_ns(5_500_000, 9_000_000), 9_000_000);
        assert_eq!(next_wakeup_ns(5_500_000, 5_000_000), 6_000_000);
        assert_eq!(next_wakeup_ns(6_000_000, 6_000_000), 7_000_000);
    }

    /// A [`Net`] whose `run_timers` skips the wheel before `next_expiry`
    /// fires the same timers in the same order, and reports the same next
    /// events, as a bare [`TimerBase`] driven on every poll: arms near,
    /// far (higher levels, cascades) and in the past, cancels, polls
    /// several times per jiffy and clock jumps to the reported events.
    #[test]
    fn skipping_idle_runs_changes_nothing_a_driver_sees() {
        fn fired(net: &Net, data: u64) {
            net.mib.add(crate::snmp::LinuxMib::DelayedACKs, 1);
            FIRED.with(|f| f.borrow_mut().push((net.jiffies(), data)));
        }
        thread_local! {
            static FIRED: std::cell::RefCell<Vec<(u64, u64)>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let clock = Clock::new_virtual_at(7_000_000_000);
        let net = Net::new("a", clock.clone(), 1);
        let mut model: TimerBase<u64> = TimerBase::new(net.jiffies());
        let ids: Vec<_> =
            (0..16).map(|i| (net.timer_setup(TimerFunc::Fn(fired, i)), model.timer_setup(i))).collect();
        let mut want = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..4000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let now = net.jiffies();
            let (a, b) = ids[(x % 16) as usize];
            match (x >> 8) % 8 {
                0 | 1 => {
                    let delta = [0, 1, 3, 40, 255, 256, 300, 5000, 70_000][((x >> 16) % 9) as usize];
                    let back = (x >> 24) % 4 == 0;
                    let e = if back { now.wrapping_sub(delta % 5) } else { now + delta };
                    net.mod_timer(a, e);
                    model.forward(now);
                    model.mod_timer(b, e);
                }
                2 => {
                    net.del_timer(a);
                    model.del_timer(b);
                }
                3 => {
                    // Jump to the next event, as a simulator does.
                    let next = net.next_timer_ns();
                    let m = model.next_timer_interrupt().map(|j| j.max(model.timer_jiffies()) * 1_000_000);
                    assert_eq!(next, m, "step {step}: next event");
                    if let Some(n) = next {
                        clock.set_ns(n.max(clock.now_ns()));
                    }
                }
                4 => {
                    clock.advance_ns(1_000_000 * ((x >> 20) % 3));
                }
                _ => {}
            }
            // Poll (more than once a jiffy, mostly idle).
            net.run_timers();
            let now = net.jiffies();
            while let Some((_, d)) = model.next_expired(now) {
                want.push((now, d));
            }
        }
        let got = FIRED.with(|f| f.borrow().clone());
        assert!(got.len() > 100, "the test fired too few timers to mean much: {}", got.len());
        assert_eq!(got, want);
    }

    #[test]
    fn generic_storage_by_type() {
        struct Ipv4State(u32);
        struct TcpState(&'static str);
        let net = Net::new("a", Clock::new_virtual(), 1);
        assert!(net.net_generic::<Ipv4State>().is_none());
        net.net_assign_generic(Arc::new(Ipv4State(4)));
        net.net_assign_generic(Arc::new(TcpState("tcp")));
        assert_eq!(net.net_generic::<Ipv4State>().unwrap().0, 4);
        assert_eq!(net.net_generic::<TcpState>().unwrap().0, "tcp");
        net.net_assign_generic(Arc::new(Ipv4State(5)));
        assert_eq!(net.net_generic::<Ipv4State>().unwrap().0, 5);
    }

    #[test]
    fn namespaces_are_independent() {
        let clock = Clock::new_virtual();
        let a = Net::new("a", clock.clone(), 1);
        let b = Net::new("b", clock, 2);
        a.mib.inc(crate::snmp::TcpMib::ActiveOpens);
        assert_eq!(a.mib.get(crate::snmp::TcpMib::ActiveOpens), 1);
        assert_eq!(b.mib.get(crate::snmp::TcpMib::ActiveOpens), 0);
        a.sysctl.set("net.core.somaxconn", "128").unwrap();
        assert_eq!(a.core.somaxconn.get(), 128);
        assert_eq!(b.core.somaxconn.get(), 4096);
        assert_ne!(a.random.get_random_u64(), b.random.get_random_u64());
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Net>();
    }
}
