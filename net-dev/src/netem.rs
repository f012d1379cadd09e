//! Network emulation: loss, delay with jitter, reordering, duplication,
//! corruption and rate, decided by a seeded generator so a run replays.
//!
//! Mirrors net/sched/sch_netem.c (Linux 6.18): `netem_enqueue()` makes every
//! decision when a packet arrives — duplicate? lose? corrupt? over the limit?
//! reorder (send now) or delay (`tabledist()` plus the rate's serialisation
//! time)? — and files it in the time-ordered `tfifo`; `netem_dequeue()`
//! releases reordered packets first, then the tfifo head once its
//! `time_to_send` has come.
//!
//! [`Netem`] is the qdisc, driven with explicit times; a [`crate::veth::Wire`]
//! direction runs one, and [`NetemDevice`] wraps any [`NetDevice`] with one on
//! its transmit side (what we put in front of a TAP, where the host kernel
//! has no netem — see TRAPS.md); [`NetemIngress`] puts one on a device's
//! receive side, as Linux does with an `ifb` device.
//!
//! Left out or different:
//! - Correlation (`loss 10% 25%`, `delay … distribution … correlation`) is not
//!   modelled; Linux's own correlation generator is known not to produce the
//!   requested correlation and the GE / 4-state models are the supported way
//!   to get bursts.
//! - The 4-state model follows the 2026 fix ("netem: fix 4-state loss model
//!   transitions"): ranges are contiguous, every random value moves the chain.
//! - Delay distributions: uniform (`tabledist()` without a table) and a
//!   normal approximation (sum of four uniforms) instead of iproute2's tables.
//! - No ECN marking instead of loss, no slotting, no packet overhead / cell
//!   size on the rate; the rate is in bits/s (netem takes bytes/s).
//! - The reorder clone-to-root qdisc dance is a recursive call with
//!   duplication switched off, which is what Linux's `q->duplicate = 0`
//!   achieves.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use net_core::jiffies::NSEC_PER_SEC;
use net_core::netdevice::{NetDevice, NetDeviceSetup, NetdevTx};
use net_core::random::NetRandom;
use net_core::skbuff::SkBuffHead;
use net_core::{Clock, Errno, Skb};

/// How packets are lost (`TCA_NETEM_LOSS` / the `loss` option of `tc`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum LossModel {
    /// No loss.
    #[default]
    None,
    /// Independent loss with this probability in percent (`loss random P%`).
    Random {
        /// Loss probability, percent.
        percent: f64,
    },
    /// Gilbert-Elliott (`loss gemodel p r 1-h 1-k`), percents as `tc` takes
    /// them: `p` good→bad, `r` bad→good, `one_minus_h` loss in the bad state,
    /// `one_minus_k` loss in the good state.
    GilbertElliott {
        /// Good → bad transition probability, percent.
        p: f64,
        /// Bad → good transition probability, percent.
        r: f64,
        /// Loss probability in the bad state (1-h), percent.
        one_minus_h: f64,
        /// Loss probability in the good state (1-k), percent.
        one_minus_k: f64,
    },
    /// The 4-state GI model (`loss state p13 p31 p32 p23 p14`), percents.
    FourState {
        /// TX in gap → lost in burst.
        p13: f64,
        /// Lost in burst → TX in gap.
        p31: f64,
        /// Lost in burst → TX in burst.
        p32: f64,
        /// TX in burst → lost in burst.
        p23: f64,
        /// TX in gap → isolated loss.
        p14: f64,
    },
}

/// Shape of the delay jitter (`distribution` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DelayDist {
    /// Uniform in `[latency - jitter, latency + jitter)`, as `tabledist()`
    /// does with no table loaded.
    #[default]
    Uniform,
    /// Roughly normal, mean `latency`, standard deviation `jitter` (sum of
    /// four uniforms, clipped at ±2σ√3).
    Normal,
}

/// The configuration `tc qdisc add … netem …` sets (`struct tc_netem_qopt`
/// plus the extended attributes).
#[derive(Clone, Debug, PartialEq)]
pub struct NetemParams {
    /// Fixed delay, ns (`latency`).
    pub latency_ns: u64,
    /// Delay jitter, ns (`jitter`).
    pub jitter_ns: u64,
    /// Jitter distribution.
    pub dist: DelayDist,
    /// Loss model.
    pub loss: LossModel,
    /// Duplication probability, percent (`duplicate`).
    pub duplicate: f64,
    /// Corruption probability, percent (`corrupt`): one random bit flipped.
    pub corrupt: f64,
    /// Probability, percent, that a packet eligible for reordering is sent
    /// at once (`reorder`).
    pub reorder: f64,
    /// Reorder gap (`gap`): after `gap - 1` delayed packets, the next is a
    /// candidate for immediate sending. 0 disables reordering; a non-zero
    /// `reorder` with `gap` 0 behaves as `tc` sets it, gap 1.
    pub gap: u32,
    /// Rate limit in bits/s, 0 for none (`rate`).
    pub rate_bps: u64,
    /// Queue limit in packets (`limit`, default 1000).
    pub limit: u32,
}

impl Default for NetemParams {
    fn default() -> Self {
        NetemParams {
            latency_ns: 0,
            jitter_ns: 0,
            dist: DelayDist::Uniform,
            loss: LossModel::None,
            duplicate: 0.0,
            corrupt: 0.0,
            reorder: 0.0,
            gap: 0,
            rate_bps: 0,
            limit: 1000,
        }
    }
}

/// Counters for each decision netem took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetemStats {
    /// Packets offered to `netem_enqueue`.
    pub enqueued: u64,
    /// Lost by the loss model. A packet both duplicated and "lost" is sent
    /// once and not counted here, as Linux counts only real drops.
    pub lost: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Packets with a bit flipped.
    pub corrupted: u64,
    /// Packets sent ahead of the queue by reordering (`requeues` in Linux).
    pub reordered: u64,
    /// Dropped because the queue held `limit` packets.
    pub limit_drops: u64,
    /// Packets released by dequeue.
    pub dequeued: u64,
}

/// Probability in percent → netem's u32 scale (`rnd < p` means "yes").
fn prob(percent: f64) -> u32 {
    let p = (percent / 100.0).clamp(0.0, 1.0);
    (p * u32::MAX as f64) as u32
}

/// The loss generator's state (`struct clgstate`).
#[derive(Clone, Copy, Debug)]
enum Clg {
    None,
    Random(u32),
    GilbertElliott { a1: u32, a2: u32, a3: u32, a4: u32, bad: bool },
    FourState { a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, state: FourState },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FourState {
    TxInGap,
    TxInBurst,
    LostInGap,
    LostInBurst,
}

/// One packet in the tfifo, with netem's `time_to_send`.
struct Queued {
    time_to_send: u64,
    skb: Skb,
}

/// The netem qdisc (`struct netem_sched_data`), driven with explicit times.
pub struct Netem {
    params: NetemParams,
    // Pre-scaled probabilities (netem keeps u32 fractions of 2^32).
    duplicate: u32,
    corrupt: u32,
    reorder: u32,
    gap: u32,
    clg: Clg,
    /// Seeded generator for every decision (`q->prng`).
    prng: NetRandom,
    /// Packets since the last reordered one (`q->counter`).
    counter: u32,
    /// Reordered packets, sent before the tfifo (`sch->q`).
    head: VecDeque<Queued>,
    /// Time-ordered queue (`q->t_root`), keyed (time_to_send, arrival seq)
    /// so equal times keep arrival order as `tfifo_enqueue()` does.
    tfifo: BTreeMap<(u64, u64), Skb>,
    seq: u64,
    /// When the rate limiter's last packet finishes (`last->time_to_send`).
    rate_last: Option<u64>,
    stats: NetemStats,
}

impl std::fmt::Debug for Netem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netem").field("params", &self.params).field("qlen", &self.len()).finish()
    }
}

impl Netem {
    /// A netem qdisc with `params`, every random choice drawn from `seed`
    /// (`netem_init()` → `netem_change()`).
    pub fn new(params: NetemParams, seed: u64) -> Netem {
        let mut n = Netem {
            params: NetemParams::default(),
            duplicate: 0,
            corrupt: 0,
            reorder: 0,
            gap: 0,
            clg: Clg::None,
            prng: NetRandom::new(seed),
            counter: 0,
            head: VecDeque::new(),
            tfifo: BTreeMap::new(),
            seq: 0,
            rate_last: None,
            stats: NetemStats::default(),
        };
        n.change(params);
        n
    }

    /// Replace the configuration, keeping queued packets and the generator
    /// (`netem_change()`, what `tc qdisc change` runs).
    pub fn change(&mut self, params: NetemParams) {
        self.duplicate = prob(params.duplicate);
        self.corrupt = prob(params.corrupt);
        self.reorder = prob(params.reorder);
        // tc: "reorder without gap" means gap 1 (every packet a candidate).
        self.gap = if params.reorder > 0.0 { params.gap.max(1) } else { 0 };
        self.clg = match params.loss {
            LossModel::None => Clg::None,
            LossModel::Random { percent } => Clg::Random(prob(percent)),
            LossModel::GilbertElliott { p, r, one_minus_h, one_minus_k } => Clg::GilbertElliott {
                a1: prob(p),
                a2: prob(r),
                a3: prob(100.0 - one_minus_h),
                a4: prob(one_minus_k),
                bad: false,
            },
            LossModel::FourState { p13, p31, p32, p23, p14 } => Clg::FourState {
                a1: prob(p13) as u64,
                a2: prob(p31) as u64,
                a3: prob(p32) as u64,
                a4: prob(p14) as u64,
                a5: prob(p23) as u64,
                state: FourState::TxInGap,
            },
        };
        self.params = params;
    }

    /// The configuration in force.
    pub fn params(&self) -> &NetemParams {
        &self.params
    }

    /// Decision counters.
    pub fn stats(&self) -> NetemStats {
        self.stats
    }

    /// Packets queued (`sch->q.qlen + q->t_len`).
    pub fn len(&self) -> usize {
        self.head.len() + self.tfifo.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when no fault, delay or rate is configured: the qdisc passes
    /// packets straight through.
    pub fn is_noop(&self) -> bool {
        let p = &self.params;
        p.latency_ns == 0
            && p.jitter_ns == 0
            && self.duplicate == 0
            && self.corrupt == 0
            && self.gap == 0
            && p.rate_bps == 0
            && matches!(self.clg, Clg::None)
    }

    fn rnd(&self) -> u32 {
        self.prng.get_random_u32()
    }

    /// Mirrors `loss_event()` → `loss_4state()` / `loss_gilb_ell()`
    /// (net/sched/sch_netem.c): true when this packet is to be lost.
    fn loss_event(&mut self) -> bool {
        match &mut self.clg {
            Clg::None => false,
            Clg::Random(p) => self.prng.get_random_u32() < *p,
            // `loss_gilb_ell()`: the state we are in decides the loss, after
            // the transition for the next packet has been drawn.
            Clg::GilbertElliott { a1, a2, a3, a4, bad } => {
                if !*bad {
                    if self.prng.get_random_u32() < *a1 {
                        *bad = true;
                    }
                    self.prng.get_random_u32() < *a4
                } else {
                    if self.prng.get_random_u32() < *a2 {
                        *bad = false;
                    }
                    self.prng.get_random_u32() > *a3
                }
            }
            // `loss_4state()`, with the 2026 contiguous-range fix.
            Clg::FourState { a1, a2, a3, a4, a5, state } => {
                let rnd = self.prng.get_random_u32() as u64;
                match *state {
                    FourState::TxInGap => {
                        if rnd < *a4 {
                            *state = FourState::LostInGap;
                            true
                        } else if rnd < *a1 + *a4 {
                            *state = FourState::LostInBurst;
                            true
                        } else {
                            false
                        }
                    }
                    FourState::TxInBurst => {
                        if rnd < *a5 {
                            *state = FourState::LostInBurst;
                            true
                        } else {
                            false
                        }
                    }
                    FourState::LostInBurst => {
                        if rnd < *a3 {
                            *state = FourState::TxInBurst;
                            false
                        } else if rnd < *a2 + *a3 {
                            *state = FourState::TxInGap;
                            false
                        } else {
                            true
                        }
                    }
                    FourState::LostInGap => {
                        *state = FourState::TxInGap;
                        false
                    }
                }
            }
        }
    }

    /// Mirrors `tabledist()`: the delay for one packet, latency ± jitter.
    fn tabledist(&self) -> u64 {
        let mu = self.params.latency_ns as i128;
        let sigma = self.params.jitter_ns as i128;
        if sigma == 0 {
            return mu as u64;
        }
        let d = match self.params.dist {
            DelayDist::Uniform => {
                let r = self.prng.get_random_u64() as i128 % (2 * sigma);
                mu + r - sigma
            }
            DelayDist::Normal => {
                // Sum of four U(-1,1) has variance 4/3: scale to sigma.
                let mut s = 0f64;
                for _ in 0..4 {
                    s += self.prng.get_random_u32() as f64 / u32::MAX as f64 * 2.0 - 1.0;
                }
                mu + (s * sigma as f64 * (3f64 / 4.0).sqrt()) as i128
            }
        };
        d.max(0) as u64
    }

    /// Serialisation time of `len` bytes at the configured rate
    /// (`packet_time_ns()`).
    fn packet_time_ns(&self, len: usize) -> u64 {
        (len as u128 * 8 * NSEC_PER_SEC as u128 / self.params.rate_bps.max(1) as u128) as u64
    }

    // ANCHOR: netem_enqueue
    /// Offer a packet at time `now` (ns). Mirrors `netem_enqueue()`
    /// (net/sched/sch_netem.c): decide duplication, then loss (a packet both
    /// duplicated and lost is sent once), corruption of one random
    /// bit, the `limit`, and finally reorder-or-delay. Returns false when the
    /// packet (and any duplicate) was dropped; every decision is counted.
    pub fn enqueue(&mut self, skb: Skb, now: u64) -> bool {
        self.enqueue_one(skb, now, true)
    }

    fn enqueue_one(&mut self, mut skb: Skb, now: u64, may_dup: bool) -> bool {
        self.stats.enqueued += 1;
        // Random duplication: count becomes 2.
        let mut count = 1;
        if may_dup && self.duplicate != 0 && self.rnd() < self.duplicate {
            count += 1;
        }
        // Drop packet?
        if self.loss_event() {
            count -= 1;
        }
        if count == 0 {
            self.stats.lost += 1;
            return false;
        }
        // Duplicate: the copy goes through enqueue again with duplication
        // off (Linux: `q->duplicate = 0; rootq->enqueue(skb2, ...)`).
        if count > 1 {
            self.stats.duplicated += 1;
            let dup = skb.skb_copy();
            self.enqueue_one(dup, now, false);
        }
        // Randomized packet corruption: flip one bit.
        if self.corrupt != 0 && self.rnd() < self.corrupt && !skb.is_empty() {
            let byte = self.prng.get_random_u32_below(skb.len() as u32) as usize;
            let bit = self.prng.get_random_u32_below(8);
            skb.data_mut()[byte] ^= 1 << bit;
            self.stats.corrupted += 1;
        }
        if self.len() >= self.params.limit.max(1) as usize {
            self.stats.limit_drops += 1;
            return false;
        }
        if self.gap == 0 || self.counter < self.gap - 1 || self.reorder < self.rnd() {
            let mut delay = self.tabledist();
            let mut base = now;
            if self.params.rate_bps != 0 {
                // The last packet in the queue is the reference point: its
                // send time minus now is a bonus taken off our delay.
                if let Some(last) = self.last_time_to_send() {
                    if last > now {
                        delay = delay.saturating_sub(last - now);
                        base = last;
                    }
                }
                delay += self.packet_time_ns(skb.len());
            }
            let t = base + delay;
            if self.params.rate_bps != 0 {
                self.rate_last = Some(self.rate_last.map_or(t, |l| l.max(t)));
            }
            self.counter += 1;
            self.seq += 1;
            self.tfifo.insert((t, self.seq), skb);
        } else {
            // Do re-ordering by putting one out of N packets at the front
            // of the queue.
            self.counter = 0;
            self.stats.reordered += 1;
            self.head.push_back(Queued { time_to_send: now, skb });
        }
        true
    }
    // ANCHOR_END: netem_enqueue

    fn last_time_to_send(&self) -> Option<u64> {
        let t = self.tfifo.keys().next_back().map(|k| k.0);
        match (t, self.rate_last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Release the next packet due at `now`. Mirrors `netem_dequeue()`:
    /// reordered packets first, then the tfifo head once its time has come.
    pub fn dequeue(&mut self, now: u64) -> Option<Skb> {
        if let Some(q) = self.head.pop_front() {
            self.stats.dequeued += 1;
            return Some(q.skb);
        }
        let (&(t, _), _) = self.tfifo.first_key_value()?;
        if t > now {
            return None;
        }
        let (_, skb) = self.tfifo.pop_first()?;
        self.stats.dequeued += 1;
        Some(skb)
    }

    /// Like [`dequeue`](Self::dequeue), also returning the time the packet
    /// was due.
    pub fn dequeue_timed(&mut self, now: u64) -> Option<(u64, Skb)> {
        if let Some(q) = self.head.pop_front() {
            self.stats.dequeued += 1;
            return Some((q.time_to_send, q.skb));
        }
        let (&(t, _), _) = self.tfifo.first_key_value()?;
        if t > now {
            return None;
        }
        let (_, skb) = self.tfifo.pop_first()?;
        self.stats.dequeued += 1;
        Some((t, skb))
    }

    /// When the next packet is due (the qdisc watchdog's expiry), if any.
    pub fn next_time(&self) -> Option<u64> {
        if let Some(q) = self.head.front() {
            return Some(q.time_to_send);
        }
        self.tfifo.keys().next().map(|k| k.0)
    }

    /// Drop everything queued (`netem_reset()`); returns how many.
    pub fn reset(&mut self) -> usize {
        let n = self.len();
        self.head.clear();
        self.tfifo.clear();
        self.rate_last = None;
        n
    }
}

/// Any device with netem on its transmit side: `tc qdisc add dev X root
/// netem …` for a driver. Received frames pass untouched.
///
/// Frames leave netem for the inner driver when they are due; the stack
/// finds out when through [`NetDevice::next_rx_time`] (a simulator wakes
/// then) and the release happens on the next `poll`. A busy inner driver
/// keeps the frame at the head.
pub struct NetemDevice<D: NetDevice> {
    inner: D,
    netem: Netem,
    clock: Clock,
    /// A due frame the inner driver refused (`NETDEV_TX_BUSY`).
    held: Option<Skb>,
    stats: Arc<spin::Mutex<NetemStats>>,
}

impl<D: NetDevice> std::fmt::Debug for NetemDevice<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetemDevice").field("netem", &self.netem).finish()
    }
}

impl<D: NetDevice> NetemDevice<D> {
    /// Wrap `inner` with a netem qdisc seeded by `seed`.
    pub fn new(inner: D, params: NetemParams, seed: u64, clock: Clock) -> Self {
        NetemDevice {
            inner,
            netem: Netem::new(params, seed),
            clock,
            held: None,
            stats: Arc::new(spin::Mutex::new(NetemStats::default())),
        }
    }

    /// A handle on the counters that stays valid after the device is
    /// registered (updated at every transmit and poll). The spin lock guards
    /// one small copy; nobody holds it for more than that copy.
    pub fn stats_handle(&self) -> Arc<spin::Mutex<NetemStats>> {
        self.stats.clone()
    }

    /// The wrapped driver.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn release(&mut self) {
        let now = self.clock.now_ns();
        loop {
            let skb = match self.held.take() {
                Some(s) => s,
                None => match self.netem.dequeue(now) {
                    Some(s) => s,
                    None => break,
                },
            };
            if let NetdevTx::Busy(s) = self.inner.ndo_start_xmit(skb) {
                self.held = Some(s);
                break;
            }
        }
        *self.stats.lock() = self.netem.stats();
    }
}

impl<D: NetDevice> NetDevice for NetemDevice<D> {
    /// The inner device's setup, without its poll-list flag: netem's own
    /// queue releases delayed frames from `poll`, so the device must be
    /// polled even while the inner one has nothing.
    fn setup(&self) -> NetDeviceSetup {
        NetDeviceSetup { napi: None, ..self.inner.setup() }
    }
    fn ndo_open(&mut self) -> Result<(), Errno> {
        self.inner.ndo_open()
    }
    fn ndo_stop(&mut self) {
        self.netem.reset();
        self.held = None;
        self.inner.ndo_stop();
    }
    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        let now = self.clock.now_ns();
        self.netem.enqueue(skb, now);
        self.release();
        NetdevTx::Ok
    }
    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        self.release();
        self.inner.poll(budget, rx)
    }
    fn next_rx_time(&self) -> Option<u64> {
        let mine = if self.held.is_some() { None } else { self.netem.next_time() };
        match (mine, self.inner.next_rx_time()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn ndo_change_mtu(&mut self, mtu: u32) -> Result<(), Errno> {
        self.inner.ndo_change_mtu(mtu)
    }
}

/// Netem on the *receive* side of a driver: every frame `inner` hands up
/// goes through a [`Netem`] before the host sees it, so its loss model,
/// delay, reordering and duplication act on what arrives.
///
/// Linux has no ingress netem: `tc` redirects a device's ingress to an
/// `ifb` device (drivers/net/ifb.c) and puts the netem qdisc on that. This
/// wrapper stands for the pair. Use it under a TAP or pcap device to lose
/// what the kernel sends, which an nftables drop in the kernel's output
/// path does not do (the kernel's TCP takes that as a local send error and
/// resends without a retransmission).
pub struct NetemIngress<D: NetDevice> {
    inner: D,
    netem: Netem,
    clock: Clock,
    stats: Arc<spin::Mutex<NetemStats>>,
}

impl<D: NetDevice> NetemIngress<D> {
    /// Wrap `inner`'s receive side with a netem seeded by `seed`.
    pub fn new(inner: D, params: NetemParams, seed: u64, clock: Clock) -> Self {
        NetemIngress {
            inner,
            netem: Netem::new(params, seed),
            clock,
            stats: Arc::new(spin::Mutex::new(NetemStats::default())),
        }
    }

    /// A handle on the counters (updated at every poll), as
    /// [`NetemDevice::stats_handle`].
    pub fn stats_handle(&self) -> Arc<spin::Mutex<NetemStats>> {
        self.stats.clone()
    }
}

impl<D: NetDevice> NetDevice for NetemIngress<D> {
    /// The inner device's setup, without its poll-list flag (as
    /// [`NetemDevice`]: delayed frames leave from `poll`).
    fn setup(&self) -> NetDeviceSetup {
        NetDeviceSetup { napi: None, ..self.inner.setup() }
    }
    fn ndo_open(&mut self) -> Result<(), Errno> {
        self.inner.ndo_open()
    }
    fn ndo_stop(&mut self) {
        self.netem.reset();
        self.inner.ndo_stop();
    }
    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        self.inner.ndo_start_xmit(skb)
    }
    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let mut arrived = SkBuffHead::new();
        self.inner.poll(budget, &mut arrived);
        let now = self.clock.now_ns();
        while let Some(skb) = arrived.dequeue() {
            self.netem.enqueue(skb, now);
        }
        let mut n = 0;
        while n < budget {
            let Some(skb) = self.netem.dequeue(now) else { break };
            rx.queue_tail(skb);
            n += 1;
        }
        *self.stats.lock() = self.netem.stats();
        n
    }
    fn next_rx_time(&self) -> Option<u64> {
        [self.netem.next_time(), self.inner.next_rx_time()].into_iter().flatten().min()
    }
    fn ndo_change_mtu(&mut self, mtu: u32) -> Result<(), Errno> {
        self.inner.ndo_change_mtu(mtu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::skbuff::skb_from_frame;

    /// A driver that hands up the frames it was given.
    struct Source(Vec<Vec<u8>>);

    impl NetDevice for Source {
        fn setup(&self) -> NetDeviceSetup {
            NetDeviceSetup::ether("src0", [2, 0, 0, 0, 0, 9])
        }
        fn ndo_start_xmit(&mut self, _skb: Skb) -> NetdevTx {
            NetdevTx::Ok
        }
        fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
            let n = budget.min(self.0.len());
            for f in self.0.drain(..n) {
                rx.queue_tail(skb_from_frame(0, &f));
            }
            n
        }
    }

    #[test]
    fn ingress_netem_delays_and_loses_what_arrives() {
        let clock = Clock::new_virtual();
        let params = NetemParams { latency_ns: 1_000, ..Default::default() };
        let mut d = NetemIngress::new(Source(vec![vec![1], vec![2]]), params, 1, clock.clone());
        let mut rx = SkBuffHead::new();
        assert_eq!(d.poll(64, &mut rx), 0, "held for the delay");
        assert_eq!(d.next_rx_time(), Some(1_000));
        clock.advance_ns(1_000);
        assert_eq!(d.poll(64, &mut rx), 2);
        let lossy = NetemParams { loss: LossModel::Random { percent: 100.0 }, ..Default::default() };
        let mut d = NetemIngress::new(Source(vec![vec![1], vec![2], vec![3]]), lossy, 1, clock.clone());
        assert_eq!(d.poll(64, &mut rx), 0);
        assert_eq!(d.stats_handle().lock().lost, 3);
    }

    #[test]
    fn probabilities_scale_like_netem() {
        assert_eq!(prob(0.0), 0);
        assert_eq!(prob(100.0), u32::MAX);
        assert_eq!(prob(250.0), u32::MAX);
        assert_eq!(prob(50.0), u32::MAX / 2);
    }

    #[test]
    fn default_is_a_noop_and_passes_packets_through_in_order() {
        let mut n = Netem::new(NetemParams::default(), 1);
        assert!(n.is_noop());
        for i in 0..3u8 {
            assert!(n.enqueue(skb_from_frame(0, &[i]), 5));
        }
        let out: Vec<u8> = std::iter::from_fn(|| n.dequeue(5)).map(|s| s.data()[0]).collect();
        assert_eq!(out, [0, 1, 2]);
    }

    #[test]
    fn jitter_stays_within_bounds_for_both_distributions() {
        // Uniform: within ±jitter. Normal: within ±2√3 σ, standard deviation ≈ σ.
        for (dist, bound) in [(DelayDist::Uniform, 400), (DelayDist::Normal, 1386)] {
            let p = NetemParams { latency_ns: 10_000, jitter_ns: 400, dist, ..Default::default() };
            let n = Netem::new(p, 3);
            let ds: Vec<f64> = (0..20_000).map(|_| n.tabledist() as f64).collect();
            for &d in &ds {
                assert!((d - 10_000.0).abs() <= bound as f64, "{dist:?} {d}");
            }
            let mean = ds.iter().sum::<f64>() / ds.len() as f64;
            let sd = (ds.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / ds.len() as f64).sqrt();
            assert!((mean - 10_000.0).abs() < 10.0, "{dist:?} mean {mean}");
            // Uniform on ±400 has σ = 400/√3 ≈ 231.
            let want = if dist == DelayDist::Normal { 400.0 } else { 231.0 };
            assert!((sd - want).abs() < want * 0.05, "{dist:?} sd {sd}");
        }
    }

    #[test]
    fn change_keeps_the_queue() {
        let mut n = Netem::new(NetemParams { latency_ns: 10, ..Default::default() }, 1);
        n.enqueue(skb_from_frame(0, &[1]), 0);
        n.change(NetemParams { loss: LossModel::Random { percent: 100.0 }, ..Default::default() });
        assert_eq!(n.len(), 1);
        assert!(!n.enqueue(skb_from_frame(0, &[2]), 0));
        assert_eq!(n.reset(), 1);
    }
}
