//! Packet-type dispatch, device registration, receive and transmit.
//!
//! Mirrors net/core/dev.c, Linux 6.18: `dev_add_pack()`/`dev_remove_pack()`,
//! `__netif_receive_skb_core()` with `deliver_skb()` and the `pt_prev`
//! trick, `dev_queue_xmit()` with `dev_queue_xmit_nit()`, the pfifo qdisc and
//! `dev_hard_start_xmit()`, `net_rx_action()`/`net_tx_action()` and
//! `register_netdevice()`.
//!
//! # Each layer carries the next layer's selector
//!
//! The first article (shared/seeds/000_*) makes the point this file lives
//! by: Ethernet's `h_proto` names the network protocol, IPv4's `protocol`
//! names the transport. A driver (or `eth_type_trans()`) writes the EtherType
//! into `skb.protocol`; protocols register a [`PacketType`] for "their"
//! EtherType with [`Net::dev_add_pack`], and [`Net::netif_receive_skb`] finds
//! them in `ptype_base[ntohs(type) & PTYPE_HASH_MASK]`. Taps (`ETH_P_ALL`,
//! what tcpdump's AF_PACKET socket registers) live on `ptype_all` and see
//! every frame, in and out.
//!
//! # The `pt_prev` trick
//!
//! When several handlers want a frame, Linux delivers it to each *previous*
//! match while walking, and hands the last match the frame itself: the last
//! delivery costs no extra reference. We keep the walk; a delivery to an
//! earlier match costs a `skb_clone` (sharing the bytes) where Linux bumps
//! `skb->users`.
//!
//! # Where we differ
//!
//! - `rcu_read_lock()` over the packet-type lists is a `spin::RwLock` read
//!   guard. Handlers may transmit (and so re-enter the read side) but must not
//!   register or remove packet types.
//! - There is no per-cpu backlog (`netif_rx`, `process_backlog`): drivers are
//!   polled NAPI-style and frames go straight to `netif_receive_skb` (or
//!   through GRO first, `crate::gro`). A driver that keeps a
//!   [`NapiSched`](crate::netdevice::NapiSched) flag is polled only while
//!   it is set; one that does not is polled every time.
//! - Per-device `ptype_specific` lists are folded into the global ones with a
//!   device filter.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::dropreason::SkbDropReason;
use crate::errno::Errno;
use crate::if_ether::ETH_P_ALL;
use crate::net_namespace::Net;
use crate::netdevice::{HeaderOps, NetDev, NetDevStats, NetDevice, NetdevTx};
use crate::skbuff::{PktType, SkBuffHead, Skb};

/// Number of `ptype_base` buckets (`PTYPE_HASH_SIZE`).
pub const PTYPE_HASH_SIZE: usize = 16;
/// Mask applied to the EtherType to pick a bucket (`PTYPE_HASH_MASK`).
pub const PTYPE_HASH_MASK: u16 = (PTYPE_HASH_SIZE - 1) as u16;

/// What a receive handler reports (`NET_RX_SUCCESS` / `NET_RX_DROP`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NetRx {
    /// Delivered (`NET_RX_SUCCESS`).
    Success,
    /// Dropped (`NET_RX_DROP`).
    Drop,
}

/// The handler a [`PacketType`] calls: Linux's
/// `int (*func)(struct sk_buff *, struct net_device *, struct packet_type *,
/// struct net_device *)`. The device is `skb.dev`.
pub type PacketFunc = dyn Fn(&Net, Skb) -> NetRx + Send + Sync;

// ANCHOR: packet_type
/// A registered receiver for one EtherType, or a tap for all of them.
///
/// Mirrors `struct packet_type` (include/linux/netdevice.h); `ip_packet_type`
/// and `arp_packet_type` in net-ipv4 are instances.
pub struct PacketType {
    /// EtherType in host order (`ETH_P_IP`), or `ETH_P_ALL` for a tap.
    pub type_: u16,
    /// Only frames of this ifindex; `None` for any device (`dev`).
    pub dev: Option<u32>,
    /// Do not show outgoing frames to this tap (`ignore_outgoing`).
    pub ignore_outgoing: bool,
    /// A name for traces and listings (Linux has none; `ip_rcv`'s symbol).
    pub name: &'static str,
    /// The handler (`func`).
    pub func: Box<PacketFunc>,
}
// ANCHOR_END: packet_type

impl PacketType {
    /// A handler for `type_` on every device.
    pub fn new(
        type_: u16,
        name: &'static str,
        func: impl Fn(&Net, Skb) -> NetRx + Send + Sync + 'static,
    ) -> Arc<PacketType> {
        Arc::new(PacketType { type_, dev: None, ignore_outgoing: false, name, func: Box::new(func) })
    }

    /// A tap on every frame (`ETH_P_ALL`), as an AF_PACKET socket registers.
    pub fn tap(
        name: &'static str,
        func: impl Fn(&Net, Skb) -> NetRx + Send + Sync + 'static,
    ) -> Arc<PacketType> {
        PacketType::new(ETH_P_ALL, name, func)
    }

    fn matches_dev(&self, ifindex: u32) -> bool {
        self.dev.is_none_or(|d| d == ifindex)
    }
}

impl std::fmt::Debug for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketType")
            .field("type", &format_args!("{:#06x}", self.type_))
            .field("dev", &self.dev)
            .field("name", &self.name)
            .finish()
    }
}

/// `ptype_base[]` and `ptype_all`.
pub(crate) struct PtypeTables {
    base: [Vec<Arc<PacketType>>; PTYPE_HASH_SIZE],
    all: Vec<Arc<PacketType>>,
}

impl PtypeTables {
    pub(crate) fn new() -> Self {
        PtypeTables { base: Default::default(), all: Vec::new() }
    }
}

/// Devices by ifindex (Linux: `dev_index_head` and `dev_name_head` hashes).
pub(crate) struct DevTable {
    by_index: Vec<Option<Arc<NetDev>>>,
    next_ifindex: u32,
    /// Every device, rebuilt on register/unregister: what the receive and
    /// transmit loops walk without allocating (Linux walks `dev_base_head`
    /// under RCU).
    all: Arc<[Arc<NetDev>]>,
}

impl DevTable {
    pub(crate) fn new() -> Self {
        DevTable { by_index: vec![None], next_ifindex: 1, all: Arc::from(Vec::new()) }
    }

    fn rebuild(&mut self) {
        self.all = self.by_index.iter().flatten().cloned().collect::<Vec<_>>().into();
    }
}

/// What `net_rx_action` found on one device before delivering it.
struct RxBatch<'a> {
    dev: &'a NetDev,
    ops: Option<&'a dyn HeaderOps>,
    frames: SkBuffHead,
}

impl Net {
    // -- packet_type registration -------------------------------------------

    // ANCHOR: dev_add_pack
    /// Register a protocol handler or tap.
    ///
    /// Mirrors `dev_add_pack()` (net/core/dev.c): `ETH_P_ALL` goes on
    /// `ptype_all`, anything else into `ptype_base[ntohs(type) &
    /// PTYPE_HASH_MASK]`. Like `list_add_rcu()`, the newest registration goes
    /// first.
    pub fn dev_add_pack(&self, pt: Arc<PacketType>) {
        let mut t = self.ptype.write();
        if pt.type_ == ETH_P_ALL {
            t.all.insert(0, pt);
            self.ptype_all_count.store(t.all.len(), std::sync::atomic::Ordering::Relaxed);
        } else {
            t.base[(pt.type_ & PTYPE_HASH_MASK) as usize].insert(0, pt);
        }
    }
    // ANCHOR_END: dev_add_pack

    /// Remove a handler registered with [`dev_add_pack`](Self::dev_add_pack);
    /// true if it was found. Mirrors `dev_remove_pack()`, which warns
    /// "dev_remove_pack: %p not found" when it is not.
    pub fn dev_remove_pack(&self, pt: &Arc<PacketType>) -> bool {
        let mut t = self.ptype.write();
        let list = if pt.type_ == ETH_P_ALL {
            &mut t.all
        } else {
            &mut t.base[(pt.type_ & PTYPE_HASH_MASK) as usize]
        };
        let found = match list.iter().position(|p| Arc::ptr_eq(p, pt)) {
            Some(i) => {
                list.remove(i);
                true
            }
            None => false,
        };
        self.ptype_all_count.store(t.all.len(), std::sync::atomic::Ordering::Relaxed);
        found
    }

    /// The registered handlers as `(type, name, on ptype_all?)`, in walk order:
    /// taps first, then each bucket in order.
    pub fn ptype_list(&self) -> Vec<(u16, &'static str, bool)> {
        let t = self.ptype.read();
        let mut out: Vec<_> = t.all.iter().map(|p| (p.type_, p.name, true)).collect();
        for b in &t.base {
            out.extend(b.iter().map(|p| (p.type_, p.name, false)));
        }
        out
    }

    /// Register the link-layer header operations for devices of type
    /// `dev_type` (`ARPHRD_*`). See [`HeaderOps`].
    ///
    /// Publishes a new list (read-copy-update, see [`crate::rcupdate`]):
    /// readers follow one pointer; a replaced list stays owned by the
    /// namespace, as `eth_header_ops` is `static` in Linux.
    pub fn register_header_ops(&self, dev_type: u16, ops: Arc<dyn HeaderOps>) {
        self.header_ops.rcu_update(0, |h| {
            let mut h: Vec<_> = h.cloned().unwrap_or_default();
            h.retain(|(t, _)| *t != dev_type);
            h.push((dev_type, ops));
            h
        });
    }

    /// The header operations for a device type, if registered: one load,
    /// no lock (`dev->header_ops`).
    #[inline]
    pub fn header_ops(&self, dev_type: u16) -> Option<&dyn HeaderOps> {
        let h = self.header_ops.rcu_dereference(0)?;
        h.iter().find(|(t, _)| *t == dev_type).map(|(_, o)| &**o)
    }

    // -- receive ---------------------------------------------------------------

    // ANCHOR: netif_receive_skb
    /// Hand one received frame to the protocols.
    ///
    /// Mirrors `netif_receive_skb()` → `__netif_receive_skb_core()`
    /// (net/core/dev.c). On entry `skb.data` is at the network header and
    /// `skb.protocol` holds the EtherType (set by the driver or
    /// `eth_type_trans()`). Timestamps the frame, resets the network and
    /// transport header marks, delivers a clone to each matching tap on
    /// `ptype_all`, then to each handler in the `ptype_base` bucket whose type
    /// and device match, using the `pt_prev` trick. If nothing matched at all
    /// the frame is dropped: the device's `rx_dropped` rises and the drop is
    /// counted as `UNHANDLED_PROTO`. As in Linux, a frame that only a tap saw
    /// counts as delivered.
    #[doc(alias = "__netif_receive_skb_core")]
    pub fn netif_receive_skb(&self, mut skb: Skb) -> NetRx {
        crate::ftrace_graph!("netif_receive_skb");
        if skb.tstamp == 0 {
            skb.tstamp = self.now_ns(); // net_timestamp_check()
        }
        if skb.skb_iif == 0 {
            skb.skb_iif = skb.dev;
        }
        skb.reset_network_header();
        if !skb.transport_header_was_set() {
            skb.reset_transport_header();
        }
        let ifindex = skb.dev;
        let ty = skb.protocol;
        // A tap (a packet socket, tcpdump) reads the packet as one run of
        // bytes: the taps of a GRO packet get a copy with its chained
        // payloads brought in, and the packet goes on as it is, so a router
        // still sends it on as the segments it was. Linux's af_packet
        // copies from the frags instead (`skb_copy_bits()`).
        let linear = (skb.has_frag_list() && self.ptype_all_count.load(Ordering::Relaxed) != 0)
            .then(|| skb.skb_copy());

        let t = self.ptype.read();
        let mut pt_prev: Option<&PacketType> = None;
        let mut tapped = false;
        for pt in &t.all {
            if pt.matches_dev(ifindex) {
                if let Some(l) = &linear {
                    (pt.func)(self, l.clone());
                    tapped = true;
                    continue;
                }
                if let Some(prev) = pt_prev {
                    (prev.func)(self, skb.clone()); // deliver_skb()
                }
                pt_prev = Some(pt);
            }
        }
        for pt in &t.base[(ty & PTYPE_HASH_MASK) as usize] {
            if pt.type_ == ty && pt.matches_dev(ifindex) {
                if let Some(prev) = pt_prev {
                    // A clone shares the buffer, not a GRO packet's frag
                    // list: with two handlers, each gets the bytes whole.
                    skb.skb_linearize();
                    (prev.func)(self, skb.clone());
                }
                pt_prev = Some(pt);
            }
        }
        match pt_prev {
            Some(pt) => (pt.func)(self, skb),
            None if tapped => {
                drop(t);
                self.consume_skb(skb);
                NetRx::Success
            }
            None => {
                drop(t);
                if let Some(dev) = self.dev_get_by_index(ifindex) {
                    dev.stats.add(NetDevStats::RX_DROPPED, 1);
                }
                self.kfree_skb_reason(skb, SkbDropReason::UnhandledProto);
                NetRx::Drop
            }
        }
    }
    // ANCHOR_END: netif_receive_skb

    // ANCHOR: net_rx_action
    /// Poll every device that is up and on the poll list (see
    /// [`NapiSched`](crate::netdevice::NapiSched)) and deliver what it
    /// received, up to `budget` frames in all.
    ///
    /// Mirrors `net_rx_action()` running each device's NAPI poll with
    /// `dev_weight` (64) per turn, round-robin until the budget
    /// (`netdev_budget`, 300) is spent or nobody has more. For each frame we
    /// count `rx_packets`/`rx_bytes` (Linux drivers do this themselves), set
    /// `skb.dev`, and if the driver left `skb.protocol` at 0, run the device
    /// type's [`HeaderOps::type_trans`] (Linux drivers call
    /// `eth_type_trans()` directly). A frame no header op can classify is
    /// dropped and counted (`rx_dropped`, `PKT_TOO_SMALL`). Returns the
    /// number of frames taken from drivers.
    ///
    /// Runs only while `NET_RX_SOFTIRQ` is raised (a device's
    /// `napi_schedule()`), or when some device keeps no poll-list flag;
    /// otherwise it returns 0 without looking at the devices. The bit is
    /// cleared before the devices are polled and raised again if one is
    /// still on the poll list after the pass.
    #[doc(alias = "napi_poll")]
    #[inline]
    pub fn net_rx_action(&self, budget: usize) -> usize {
        if !self.rx_poll_always.load(Ordering::Relaxed) && !self.rx_softirq.load(Ordering::SeqCst) {
            return 0;
        }
        self.__net_rx_action(budget)
    }

    /// The softirq proper, out of line (the check above is what an idle
    /// host pays).
    #[inline(never)]
    fn __net_rx_action(&self, budget: usize) -> usize {
        // __do_softirq(): the pending bit is cleared before the handler
        // runs, so a device scheduled from now on raises it again.
        self.rx_softirq.swap(false, Ordering::SeqCst);
        // rcu_read_lock(): the table stays read-locked while frames are
        // delivered (one lock, no reference counts taken per device or per
        // batch); only registering or removing a device writes it.
        let table = self.devices.read();
        let devs = &table.all;
        let done = self.napi_poll_devices(devs, budget);
        // Left on the poll list (budget spent, frames due later): run again.
        if devs.iter().any(|d| d.napi.as_ref().is_some_and(|n| n.is_scheduled())) {
            self.rx_softirq.store(true, Ordering::SeqCst);
        }
        done
    }

    /// The polling loop of `net_rx_action()`: each device on the poll list
    /// in turn, `dev_weight` frames at a time, until the budget is spent
    /// or nobody has more.
    fn napi_poll_devices(&self, devs: &[Arc<NetDev>], budget: usize) -> usize {
        let weight = self.core.dev_weight.get().max(1) as usize;
        let mut done = 0;
        loop {
            let mut progress = false;
            for dev in devs.iter().filter(|d| d.is_up()) {
                if done >= budget {
                    return done;
                }
                // Only devices on the poll list (napi_schedule()); a
                // driver without the flag is always asked.
                if dev.napi.as_ref().is_some_and(|n| !n.is_scheduled()) {
                    continue;
                }
                let quota = weight.min(budget - done);
                let mut frames = SkBuffHead::new();
                let n = dev.driver.lock().poll(quota, &mut frames);
                if n == 0 {
                    continue;
                }
                progress = true;
                done += n;
                let batch = RxBatch { dev, ops: self.header_ops(dev.type_), frames };
                self.deliver_batch(batch);
            }
            if !progress || done >= budget {
                return done;
            }
        }
    }
    // ANCHOR_END: net_rx_action

    fn deliver_batch(&self, mut b: RxBatch<'_>) {
        if b.dev.gro_enabled() {
            let mut frames = std::mem::take(&mut b.frames);
            self.napi_gro_receive_batch(
                b.dev,
                &mut frames,
                |skb| self.rx_classify(&b, skb),
                |net, skb| {
                    net.netif_receive_skb(skb);
                },
            );
            return;
        }
        while let Some(skb) = b.frames.dequeue() {
            if let Some(skb) = self.rx_classify(&b, skb) {
                self.netif_receive_skb(skb);
            }
        }
    }

    /// What a driver does to a frame before it goes up: count it, set
    /// `skb.dev`, classify it (`eth_type_trans()`); `None` when it could not
    /// be classified (dropped and counted).
    fn rx_classify(&self, b: &RxBatch<'_>, mut skb: Skb) -> Option<Skb> {
        {
            b.dev.stats.add(NetDevStats::RX_PACKETS, 1);
            b.dev.stats.add(NetDevStats::RX_BYTES, skb.len() as u64);
            skb.dev = b.dev.ifindex;
            if skb.protocol == 0 {
                let proto = b.ops.as_ref().and_then(|ops| ops.type_trans(&mut skb, b.dev));
                match proto {
                    Some(p) => skb.protocol = p,
                    None => {
                        b.dev.stats.add(NetDevStats::RX_DROPPED, 1);
                        self.kfree_skb_reason(skb, SkbDropReason::PktTooSmall);
                        return None;
                    }
                }
            }
            if skb.pkt_type == PktType::Multicast {
                b.dev.stats.add(NetDevStats::MULTICAST, 1);
            }
            Some(skb)
        }
    }

    // -- transmit -------------------------------------------------------------

    // ANCHOR: dev_queue_xmit
    /// Queue a frame for transmission on `skb.dev`.
    ///
    /// Mirrors `dev_queue_xmit()` → `__dev_queue_xmit()` (net/core/dev.c).
    /// `skb.data()` is the whole frame, link-layer header first. Taps see a
    /// clone marked `PACKET_OUTGOING` (`dev_queue_xmit_nit()`), then the frame
    /// joins the device's pfifo (at most `txqueuelen` packets) and the queue
    /// is run: frames go to the driver's `ndo_start_xmit` until it says
    /// `NETDEV_TX_BUSY`, when the frame is put back at the head for
    /// [`net_tx_action`](Self::net_tx_action) to retry.
    ///
    /// Errors: `ENODEV` for an unknown ifindex, `ENETDOWN` when the device is
    /// down, `ENOBUFS` when the queue is full (`NET_XMIT_DROP` as
    /// `net_xmit_errno()` reports it). In each case the frame is dropped and
    /// counted (`tx_dropped`, and the drop reason).
    pub fn dev_queue_xmit(&self, skb: Skb) -> Result<(), Errno> {
        let Some(dev) = self.dev_get_by_index(skb.dev) else {
            self.kfree_skb_reason(skb, SkbDropReason::DevReady);
            return Err(Errno::ENODEV);
        };
        self.__dev_queue_xmit(&dev, skb)
    }

    /// [`dev_queue_xmit`](Self::dev_queue_xmit) for a caller that holds
    /// the device `skb.dev` names (the neighbour layer, which found it
    /// from the route).
    ///
    /// Linux's `skb->dev` is the device pointer itself, so
    /// `__dev_queue_xmit()` never looks it up; ours is an ifindex, and the
    /// lookup (a read lock and a reference count, four atomic operations)
    /// is what this skips. `dev.ifindex` must be `skb.dev`.
    pub fn __dev_queue_xmit(&self, dev: &NetDev, skb: Skb) -> Result<(), Errno> {
        crate::ftrace_graph!("dev_queue_xmit");
        debug_assert_eq!(dev.ifindex, skb.dev, "__dev_queue_xmit() on the device skb.dev names");
        if !dev.is_up() {
            dev.stats.add(NetDevStats::TX_DROPPED, 1);
            self.kfree_skb_reason(skb, SkbDropReason::DevReady);
            return Err(Errno::ENETDOWN);
        }
        if skb.has_frag_list() {
            return self.dev_queue_xmit_list(dev, skb);
        }
        self.dev_queue_xmit_nit(&skb);
        let mut q = dev.qdisc.lock();
        if q.len() >= dev.tx_queue_len().max(1) as usize {
            drop(q);
            dev.stats.add(NetDevStats::TX_DROPPED, 1);
            self.kfree_skb_reason(skb, SkbDropReason::QdiscDrop);
            return Err(Errno::ENOBUFS);
        }
        q.queue_tail(skb);
        qdisc_run(dev, &mut q);
        if !q.is_empty() {
            self.tx_scheduled.store(true, Ordering::Relaxed); // __netif_schedule()
        }
        Ok(())
    }
    // ANCHOR_END: dev_queue_xmit

    // ANCHOR: dev_queue_xmit_list
    /// The GSO half of [`dev_queue_xmit`](Self::dev_queue_xmit): a packet
    /// carrying a burst on its frag list is split
    /// ([`skb_gso_segment`](Self::skb_gso_segment), Linux's
    /// `validate_xmit_skb()`), the taps see each segment, and the segments
    /// join the pfifo in order under one qdisc lock and go to the driver in
    /// one `qdisc_run()`. As in Linux, where the qdisc holds the GSO skb
    /// whole, the packet takes the queue's room as one: it is dropped (each
    /// segment counted) only if the queue is full when it comes, and may
    /// leave the queue longer than `txqueuelen` when it is not.
    fn dev_queue_xmit_list(&self, dev: &NetDev, skb: Skb) -> Result<(), Errno> {
        let mut segs = self.skb_gso_segment(skb);
        if self.ptype_all_count.load(Ordering::Relaxed) != 0 {
            let mut shown = SkBuffHead::new();
            while let Some(seg) = segs.dequeue() {
                self.dev_queue_xmit_nit(&seg);
                shown.queue_tail(seg);
            }
            segs = shown;
        }
        let mut q = dev.qdisc.lock();
        if q.len() >= dev.tx_queue_len().max(1) as usize {
            drop(q);
            while let Some(seg) = segs.dequeue() {
                dev.stats.add(NetDevStats::TX_DROPPED, 1);
                self.kfree_skb_reason(seg, SkbDropReason::QdiscDrop);
            }
            return Err(Errno::ENOBUFS);
        }
        q.splice_tail_init(&mut segs);
        qdisc_run(dev, &mut q);
        if !q.is_empty() {
            self.tx_scheduled.store(true, Ordering::Relaxed); // __netif_schedule()
        }
        Ok(())
    }
    // ANCHOR_END: dev_queue_xmit_list

    /// Show an outgoing frame to the taps (`dev_queue_xmit_nit()`), if there
    /// are any (`dev_nit_active()`: one plain load when there are none).
    fn dev_queue_xmit_nit(&self, skb: &Skb) {
        if self.ptype_all_count.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return;
        }
        let t = self.ptype.read();
        for pt in t.all.iter().filter(|p| !p.ignore_outgoing && p.matches_dev(skb.dev)) {
            let mut c = skb.clone();
            c.pkt_type = PktType::Outgoing;
            c.reset_mac_header();
            if c.tstamp == 0 {
                c.tstamp = self.now_ns();
            }
            (pt.func)(self, c);
        }
    }

    /// Retry every device whose queue holds frames the driver refused
    /// (`net_tx_action()` running `qdisc_run()`). Returns frames sent.
    ///
    /// Runs only when a queue was left holding frames (Linux raises
    /// `NET_TX_SOFTIRQ` only then): otherwise one plain load.
    #[inline]
    pub fn net_tx_action(&self) -> usize {
        if !self.tx_scheduled.load(Ordering::Relaxed) {
            return 0;
        }
        self.__net_tx_action()
    }

    /// The retry itself, out of line (the check above is what an idle
    /// host pays).
    #[inline(never)]
    fn __net_tx_action(&self) -> usize {
        self.tx_scheduled.store(false, Ordering::Relaxed);
        let mut sent = 0;
        for dev in self.devices_rcu().iter() {
            let mut q = dev.qdisc.lock();
            if !q.is_empty() && dev.is_up() {
                sent += qdisc_run(dev, &mut q);
            }
            if !q.is_empty() {
                self.tx_scheduled.store(true, Ordering::Relaxed);
            }
        }
        sent
    }

    // -- device registry ------------------------------------------------------

    /// Register a driver as a device in this namespace; it starts down.
    ///
    /// Mirrors `register_netdevice()` (net/core/dev.c): assigns the next
    /// ifindex (the first device gets 1, as loopback does in Linux) and fails
    /// with `EEXIST` if the name is taken or `EINVAL` if it is empty or longer
    /// than `IFNAMSIZ - 1` (15) bytes.
    #[doc(alias = "register_netdevice")]
    pub fn register_netdev(&self, driver: Box<dyn NetDevice>) -> Result<Arc<NetDev>, Errno> {
        let name = driver.setup().name;
        if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', ':']) {
            return Err(Errno::EINVAL);
        }
        let mut t = self.devices.write();
        if t.by_index.iter().flatten().any(|d| d.name == name) {
            return Err(Errno::EEXIST);
        }
        let ifindex = t.next_ifindex;
        t.next_ifindex += 1;
        let dev = Arc::new(NetDev::new(ifindex, driver));
        // A driver without a poll-list flag, or whose flag raises another
        // namespace's softirq, is polled on every pass.
        if !dev.napi.as_ref().is_some_and(|napi| napi.attach(&self.rx_softirq)) {
            self.rx_poll_always.store(true, Ordering::Relaxed);
        }
        let slot = ifindex as usize;
        if t.by_index.len() <= slot {
            t.by_index.resize(slot + 1, None);
        }
        t.by_index[slot] = Some(dev.clone());
        t.rebuild();
        Ok(dev)
    }

    /// Remove a device (`unregister_netdevice()`): it is taken down and its
    /// queue purged. `ENODEV` if there is no such device.
    #[doc(alias = "unregister_netdevice")]
    pub fn unregister_netdev(&self, ifindex: u32) -> Result<(), Errno> {
        let dev = {
            let mut t = self.devices.write();
            let dev = t.by_index.get_mut(ifindex as usize).and_then(Option::take).ok_or(Errno::ENODEV)?;
            t.rebuild();
            let always = t.all.iter().any(|d| !d.napi.as_ref().is_some_and(|n| n.raises(&self.rx_softirq)));
            self.rx_poll_always.store(always, Ordering::Relaxed);
            dev
        };
        dev.close();
        Ok(())
    }

    /// The device with this ifindex (`dev_get_by_index()`).
    pub fn dev_get_by_index(&self, ifindex: u32) -> Option<Arc<NetDev>> {
        self.devices.read().by_index.get(ifindex as usize).and_then(Clone::clone)
    }

    /// The device with this ifindex, borrowed under the device table's
    /// read lock instead of with a reference of its own
    /// (`dev_get_by_index_rcu()` inside `rcu_read_lock()`): two atomic
    /// operations (the read lock's take and release) instead of four. Drop
    /// the [`DevRcu`] soon: registering or removing a device waits for it.
    pub fn dev_get_by_index_rcu(&self, ifindex: u32) -> Option<DevRcu<'_>> {
        let table = self.devices.read();
        let i = ifindex as usize;
        table.by_index.get(i)?.as_ref()?;
        Some(DevRcu { table, i })
    }

    /// The device with this name (`dev_get_by_name()`).
    pub fn dev_get_by_name(&self, name: &str) -> Option<Arc<NetDev>> {
        self.devices.read().by_index.iter().flatten().find(|d| d.name == name).cloned()
    }

    /// Every registered device, by ifindex (`for_each_netdev()`).
    #[doc(alias = "for_each_netdev")]
    pub fn devices(&self) -> Vec<Arc<NetDev>> {
        self.devices_rcu().to_vec()
    }

    /// Every registered device, as a shared snapshot that costs one
    /// reference count to take (`for_each_netdev_rcu()`): a device
    /// registered or removed afterwards is not in it.
    #[doc(alias = "for_each_netdev_rcu")]
    pub fn devices_rcu(&self) -> Arc<[Arc<NetDev>]> {
        self.devices.read().all.clone()
    }

    /// `ip -s link` for every device.
    pub fn ip_s_link(&self) -> String {
        self.devices().iter().map(|d| d.ip_s_link()).collect()
    }
}

/// A device borrowed under the device table's read lock
/// ([`Net::dev_get_by_index_rcu`]); dereferences to the device.
pub struct DevRcu<'a> {
    table: spin::RwLockReadGuard<'a, DevTable>,
    i: usize,
}

impl std::ops::Deref for DevRcu<'_> {
    type Target = Arc<NetDev>;
    fn deref(&self) -> &Arc<NetDev> {
        // The slot was checked when the guard was made, and the table
        // cannot change while the read lock is held.
        self.table.by_index[self.i].as_ref().expect("a DevRcu's slot holds its device")
    }
}

// ANCHOR: qdisc_run
/// Feed queued frames to the driver until it is busy or the queue is empty
/// (`qdisc_run()` → `qdisc_restart()` → `dev_hard_start_xmit()`). Runs with
/// the qdisc lock held and takes the driver lock inside it (lock order:
/// qdisc, then driver). Returns frames the driver accepted. Each frame but
/// the queue's last goes with [`netdev_xmit_more`] true, as
/// `dev_hard_start_xmit()` passes `more = skb->next != NULL`.
///
/// [`netdev_xmit_more`]: crate::netdevice::netdev_xmit_more
fn qdisc_run(dev: &NetDev, q: &mut SkBuffHead) -> usize {
    crate::ftrace_graph!("qdisc_run");
    let mut sent = 0;
    let mut drv = dev.driver.lock();
    while let Some(skb) = q.dequeue() {
        let len = skb.len() as u64;
        crate::netdevice::set_xmit_more(!q.is_empty());
        let ret = drv.ndo_start_xmit(skb);
        crate::netdevice::set_xmit_more(false);
        match ret {
            NetdevTx::Ok => {
                dev.stats.add(NetDevStats::TX_PACKETS, 1);
                dev.stats.add(NetDevStats::TX_BYTES, len);
                sent += 1;
            }
            NetdevTx::Busy(skb) => {
                q.queue_head(skb);
                break;
            }
        }
    }
    sent
}
// ANCHOR_END: qdisc_run

#[cfg(test)]
mod tests {
    use super::*;
    use crate::if_ether::{ETH_P_ARP, ETH_P_IP};
    use crate::jiffies::Clock;
    use crate::netdevice::NetDeviceSetup;
    use crate::skbuff::alloc_skb;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn net() -> Arc<Net> {
        Net::new("test", Clock::new_virtual(), 1)
    }

    type Shared<T> = Arc<Mutex<Vec<T>>>;
    type Scripted3 = (Arc<NetDev>, Shared<Vec<u8>>, Shared<(u16, Vec<u8>)>);

    /// A driver that records what it sends and replays frames pushed into `rx`.
    struct Scripted {
        name: &'static str,
        sent: Arc<Mutex<Vec<Vec<u8>>>>,
        rx: Shared<(u16, Vec<u8>)>,
        busy_after: Option<usize>,
    }

    impl NetDevice for Scripted {
        fn setup(&self) -> NetDeviceSetup {
            NetDeviceSetup::ether(self.name, [2, 0, 0, 0, 0, 1])
        }
        fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
            let mut s = self.sent.lock().unwrap();
            if self.busy_after.is_some_and(|n| s.len() >= n) {
                return NetdevTx::Busy(skb);
            }
            s.push(skb.data().to_vec());
            NetdevTx::Ok
        }
        fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
            let mut q = self.rx.lock().unwrap();
            let n = budget.min(q.len());
            for (proto, bytes) in q.drain(..n) {
                let mut skb = alloc_skb(bytes.len());
                skb.put_data(&bytes);
                skb.protocol = proto;
                rx.queue_tail(skb);
            }
            n
        }
    }

    fn scripted(net: &Net, name: &'static str, busy_after: Option<usize>) -> Scripted3 {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let rx = Arc::new(Mutex::new(Vec::new()));
        let dev = net
            .register_netdev(Box::new(Scripted { name, sent: sent.clone(), rx: rx.clone(), busy_after }))
            .unwrap();
        dev.open().unwrap();
        (dev, sent, rx)
    }

    fn frame(dev: u32, proto: u16, bytes: &[u8]) -> Skb {
        let mut skb = alloc_skb(64);
        skb.put_data(bytes);
        skb.dev = dev;
        skb.protocol = proto;
        skb
    }

    #[test]
    fn dispatch_by_ethertype_with_pt_prev() {
        let net = net();
        let (dev, _, _) = scripted(&net, "eth0", None);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mk = |name: &'static str, ty: u16| {
            let o = order.clone();
            PacketType::new(ty, name, move |_, skb: Skb| {
                o.lock().unwrap().push((name, skb.cloned()));
                NetRx::Success
            })
        };
        net.dev_add_pack(mk("ip_rcv", ETH_P_IP));
        net.dev_add_pack(mk("arp_rcv", ETH_P_ARP));
        net.dev_add_pack(mk("second_ip", ETH_P_IP));
        net.dev_add_pack(mk("tap", ETH_P_ALL));

        assert_eq!(net.netif_receive_skb(frame(dev.ifindex, ETH_P_IP, b"ip")), NetRx::Success);
        let got = std::mem::take(&mut *order.lock().unwrap());
        // Taps first, then the bucket newest-first; every delivery but the
        // last is a clone, the last gets the original (pt_prev).
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), ["tap", "second_ip", "ip_rcv"]);
        assert!(got[0].1 && got[1].1, "earlier deliveries are clones sharing data");

        net.netif_receive_skb(frame(dev.ifindex, ETH_P_ARP, b"arp"));
        let got = std::mem::take(&mut *order.lock().unwrap());
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), ["tap", "arp_rcv"]);
        assert!(!got[1].1, "the last handler owns the frame outright");
    }

    #[test]
    fn unknown_ethertype_is_dropped_and_counted() {
        let net = net();
        let (dev, _, _) = scripted(&net, "eth0", None);
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", move |_, _| {
            h.fetch_add(1, Ordering::Relaxed);
            NetRx::Success
        }));
        // 0x0810 lands in the same bucket as 0x0800 but must not match it.
        assert_eq!(net.netif_receive_skb(frame(dev.ifindex, 0x0810, b"?")), NetRx::Drop);
        assert_eq!(hits.load(Ordering::Relaxed), 0);
        assert_eq!(dev.stats.snapshot().rx_dropped, 1);
        assert_eq!(net.drops.get(SkbDropReason::UnhandledProto), 1);
        // A tap alone counts as delivery, as in Linux.
        net.dev_add_pack(PacketType::tap("tap", |_, _| NetRx::Success));
        assert_eq!(net.netif_receive_skb(frame(dev.ifindex, 0x0810, b"?")), NetRx::Success);
        assert_eq!(net.drops.get(SkbDropReason::UnhandledProto), 1);
    }

    #[test]
    fn device_filter_and_remove_pack() {
        let net = net();
        let (d1, _, _) = scripted(&net, "eth0", None);
        let (d2, _, _) = scripted(&net, "eth1", None);
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let pt = Arc::new(PacketType {
            type_: ETH_P_IP,
            dev: Some(d2.ifindex),
            ignore_outgoing: false,
            name: "only_eth1",
            func: Box::new(move |_, _| {
                h.fetch_add(1, Ordering::Relaxed);
                NetRx::Success
            }),
        });
        net.dev_add_pack(pt.clone());
        net.netif_receive_skb(frame(d1.ifindex, ETH_P_IP, b"a"));
        net.netif_receive_skb(frame(d2.ifindex, ETH_P_IP, b"b"));
        assert_eq!(hits.load(Ordering::Relaxed), 1);
        assert!(net.dev_remove_pack(&pt));
        assert!(!net.dev_remove_pack(&pt), "second removal finds nothing");
        assert_eq!(net.netif_receive_skb(frame(d2.ifindex, ETH_P_IP, b"c")), NetRx::Drop);
    }

    #[test]
    fn xmit_shows_taps_outgoing_and_bounds_the_queue() {
        let net = net();
        let (dev, sent, _) = scripted(&net, "eth0", Some(2));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        net.dev_add_pack(PacketType::tap("tap", move |_, skb| {
            s.lock().unwrap().push(skb.pkt_type);
            NetRx::Success
        }));
        dev.set_tx_queue_len(3);
        for i in 0..6u8 {
            let r = net.dev_queue_xmit(frame(dev.ifindex, ETH_P_IP, &[i]));
            // 2 go to the driver, 3 wait in the pfifo, the 6th is dropped.
            if i < 5 { r.unwrap() } else { assert_eq!(r, Err(Errno::ENOBUFS)) }
        }
        assert_eq!(sent.lock().unwrap().len(), 2);
        assert_eq!(dev.qdisc_len(), 3);
        let st = dev.stats.snapshot();
        assert_eq!((st.tx_packets, st.tx_dropped), (2, 1));
        assert_eq!(net.drops.get(SkbDropReason::QdiscDrop), 1);
        assert!(seen.lock().unwrap().iter().all(|p| *p == PktType::Outgoing));
        assert_eq!(seen.lock().unwrap().len(), 6, "taps see frames before the qdisc drops them");
        // The driver frees up: net_tx_action drains the queue in order.
        dev.with_driver(|_| ());
        {
            let mut s = sent.lock().unwrap();
            s.clear();
        }
        assert_eq!(net.net_tx_action(), 2);
        assert_eq!(sent.lock().unwrap().as_slice(), &[vec![2u8], vec![3u8]]);
    }

    /// A GSO packet: a head frame (14 bytes of link header, 4 of a
    /// stand-in network header, payload `h`) carrying `n` segments on its
    /// frag list, each only a payload byte at its transport header.
    fn gso_packet(dev: u32, n: u8) -> Skb {
        let mut head = alloc_skb(128);
        head.reserve(64);
        head.put_data(&[0xee; 14]);
        head.put_data(b"IPHD");
        head.put_data(b"h");
        head.reset_mac_header();
        head.set_network_header(14);
        head.set_transport_header(18);
        head.dev = dev;
        head.protocol = ETH_P_IP;
        for i in 0..n {
            let mut seg = alloc_skb(128);
            seg.reserve(64);
            seg.put_data(&[i]);
            seg.reset_transport_header();
            head.frag_list_mut().queue_tail(seg);
        }
        head
    }

    #[test]
    fn a_gso_packet_is_split_before_the_taps_and_the_queue() {
        let net = net();
        let (dev, sent, _) = scripted(&net, "eth0", Some(3));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        net.dev_add_pack(PacketType::tap("tap", move |_, skb| {
            s.lock().unwrap().push(skb.data().to_vec());
            NetRx::Success
        }));
        dev.set_tx_queue_len(2);
        // Six segments: the driver takes 3, the pfifo keeps 3 (the packet
        // took the room of one).
        assert_eq!(net.dev_queue_xmit(gso_packet(dev.ifindex, 5)), Ok(()));
        let mut want = vec![[&[0xee; 14][..], b"IPHDh"].concat()];
        want.extend((0..5u8).map(|i| [&[0xee; 14][..], b"IPHD", &[i]].concat()));
        assert_eq!(*seen.lock().unwrap(), want, "taps see each wire frame, headers copied from the first");
        assert_eq!(*sent.lock().unwrap(), want[..3]);
        assert_eq!(dev.qdisc_len(), 3);
        // The queue is full now: the next packet is dropped whole, each of
        // its 3 segments counted.
        assert_eq!(net.dev_queue_xmit(gso_packet(dev.ifindex, 2)), Err(Errno::ENOBUFS));
        let st = dev.stats.snapshot();
        assert_eq!((st.tx_packets, st.tx_dropped), (3, 3));
        assert_eq!(net.drops.get(SkbDropReason::QdiscDrop), 3);
        assert_eq!(seen.lock().unwrap().len(), 9, "taps saw the dropped ones too, as for a frame alone");
    }

    #[test]
    fn xmit_errors() {
        let net = net();
        let (dev, _, _) = scripted(&net, "eth0", None);
        assert_eq!(net.dev_queue_xmit(frame(99, ETH_P_IP, b"x")), Err(Errno::ENODEV));
        dev.close();
        assert_eq!(net.dev_queue_xmit(frame(dev.ifindex, ETH_P_IP, b"x")), Err(Errno::ENETDOWN));
        assert_eq!(dev.stats.snapshot().tx_dropped, 1);
    }

    #[test]
    fn rx_action_polls_with_budget_and_weight() {
        let net = net();
        let (d1, _, rx1) = scripted(&net, "eth0", None);
        let (d2, _, rx2) = scripted(&net, "eth1", None);
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", move |_, skb| {
            g.lock().unwrap().push(skb.dev);
            NetRx::Success
        }));
        for _ in 0..100 {
            rx1.lock().unwrap().push((ETH_P_IP, vec![1]));
            rx2.lock().unwrap().push((ETH_P_IP, vec![2]));
        }
        // budget 150: eth0 64, eth1 64, eth0 22
        assert_eq!(net.net_rx_action(150), 150);
        let g = got.lock().unwrap().clone();
        assert_eq!(g.iter().filter(|&&d| d == d1.ifindex).count(), 86);
        assert_eq!(g.iter().filter(|&&d| d == d2.ifindex).count(), 64);
        assert_eq!(net.net_rx_action(1000), 50);
        assert_eq!(net.net_rx_action(1000), 0);
        assert_eq!(d1.stats.snapshot().rx_packets, 100);
        assert_eq!(d1.stats.snapshot().rx_bytes, 100);
    }

    /// A driver with a poll-list flag: counts its polls.
    struct Napi {
        napi: crate::netdevice::NapiSched,
        rx: Shared<Vec<u8>>,
        polls: Arc<AtomicUsize>,
    }

    impl NetDevice for Napi {
        fn setup(&self) -> NetDeviceSetup {
            NetDeviceSetup {
                napi: Some(self.napi.clone()),
                ..NetDeviceSetup::ether("eth0", [2, 0, 0, 0, 0, 9])
            }
        }
        fn ndo_start_xmit(&mut self, _skb: Skb) -> NetdevTx {
            NetdevTx::Ok
        }
        fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
            self.polls.fetch_add(1, Ordering::Relaxed);
            let mut q = self.rx.lock().unwrap();
            let n = budget.min(q.len());
            for bytes in q.drain(..n) {
                let mut skb = alloc_skb(bytes.len());
                skb.put_data(&bytes);
                skb.protocol = ETH_P_IP;
                rx.queue_tail(skb);
            }
            self.napi.napi_complete(!q.is_empty());
            n
        }
    }

    /// Register and open a [`Napi`] device on `net`, with an `ip_rcv` that
    /// takes what it delivers.
    fn napi_up(
        net: &Net,
        napi: &crate::netdevice::NapiSched,
        rx: &Shared<Vec<u8>>,
        polls: &Arc<AtomicUsize>,
    ) {
        let drv = Napi { napi: napi.clone(), rx: rx.clone(), polls: polls.clone() };
        net.register_netdev(Box::new(drv)).unwrap().open().unwrap();
        net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", |_, _| NetRx::Success));
    }

    #[test]
    fn only_scheduled_devices_are_polled() {
        let net = net();
        let napi = crate::netdevice::NapiSched::new();
        let (rx, polls) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicUsize::new(0)));
        napi_up(&net, &napi, &rx, &polls);
        assert_eq!(net.net_rx_action(300), 0);
        assert_eq!(polls.load(Ordering::Relaxed), 0, "not on the poll list: not even locked");
        for _ in 0..70 {
            rx.lock().unwrap().push(vec![1]);
        }
        napi.napi_schedule();
        // 64 (dev_weight) and then 6: still scheduled after the first poll.
        assert_eq!(net.net_rx_action(300), 70);
        assert_eq!(polls.load(Ordering::Relaxed), 2);
        assert!(!napi.is_scheduled(), "the poll that emptied the queue took it off the list");
        assert!(!net.rx_softirq.load(Ordering::SeqCst), "NET_RX_SOFTIRQ was cleared");
        assert_eq!(net.net_rx_action(300), 0);
        assert_eq!(polls.load(Ordering::Relaxed), 2);
        // The budget runs out with frames left: the device stays on the
        // list and the softirq stays raised, so the next pass goes on.
        for _ in 0..10 {
            rx.lock().unwrap().push(vec![1]);
        }
        napi.napi_schedule();
        assert_eq!(net.net_rx_action(4), 4);
        assert!(napi.is_scheduled() && net.rx_softirq.load(Ordering::SeqCst));
        assert_eq!(net.net_rx_action(300), 6);
        assert!(!net.rx_softirq.load(Ordering::SeqCst));
    }

    #[test]
    fn a_flag_already_raising_another_namespace_is_polled_every_time() {
        let (a, b) = (net(), net());
        let napi = crate::netdevice::NapiSched::new();
        let (rx, polls) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicUsize::new(0)));
        let drv = || Box::new(Napi { napi: napi.clone(), rx: rx.clone(), polls: polls.clone() });
        a.register_netdev(drv()).unwrap();
        let dev = b.register_netdev(drv()).unwrap();
        dev.open().unwrap();
        b.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", |_, _| NetRx::Success));
        rx.lock().unwrap().push(vec![1]);
        napi.napi_schedule(); // raises a's softirq, not b's
        assert_eq!(b.net_rx_action(300), 1, "b still polls its device");
        b.unregister_netdev(dev.ifindex).unwrap();
        assert!(!b.rx_poll_always.load(Ordering::Relaxed));
    }

    #[test]
    fn a_device_scheduled_before_registration_raises_the_softirq_when_registered() {
        let net = net();
        let napi = crate::netdevice::NapiSched::new();
        let (rx, polls) = (Arc::new(Mutex::new(vec![vec![1]])), Arc::new(AtomicUsize::new(0)));
        napi.napi_schedule();
        napi_up(&net, &napi, &rx, &polls);
        assert_eq!(net.net_rx_action(300), 1);
        assert_eq!(polls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn frames_without_protocol_need_header_ops() {
        let net = net();
        let (dev, _, rx) = scripted(&net, "eth0", None);
        rx.lock().unwrap().push((0, vec![0; 10]));
        assert_eq!(net.net_rx_action(10), 1);
        assert_eq!(dev.stats.snapshot().rx_dropped, 1);
        assert_eq!(net.drops.get(SkbDropReason::PktTooSmall), 1);

        struct Fake;
        impl HeaderOps for Fake {
            fn type_trans(&self, skb: &mut crate::SkBuff, _dev: &NetDev) -> Option<u16> {
                skb.reset_mac_header();
                skb.pull(2)?;
                Some(ETH_P_IP)
            }
            fn create(&self, _: &mut crate::SkBuff, _: &NetDev, _: u16, _: Option<&[u8]>, _: Option<&[u8]>) {}
        }
        net.register_header_ops(crate::netdevice::ARPHRD_ETHER, Arc::new(Fake));
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", move |_, skb| {
            g.lock().unwrap().push(skb.data().to_vec());
            NetRx::Success
        }));
        rx.lock().unwrap().push((0, vec![0xaa, 0xbb, 1, 2, 3]));
        net.net_rx_action(10);
        assert_eq!(got.lock().unwrap().as_slice(), &[vec![1, 2, 3]]);
    }

    #[test]
    fn registry_names_and_indexes() {
        let net = net();
        let (a, _, _) = scripted(&net, "eth0", None);
        assert_eq!(a.ifindex, 1);
        let dup = net.register_netdev(Box::new(Scripted {
            name: "eth0",
            sent: Default::default(),
            rx: Default::default(),
            busy_after: None,
        }));
        assert_eq!(dup.err(), Some(Errno::EEXIST));
        let (b, _, _) = scripted(&net, "eth1", None);
        assert_eq!(b.ifindex, 2, "a failed registration does not burn an index");
        assert_eq!(net.dev_get_by_name("eth1").unwrap().ifindex, 2);
        net.unregister_netdev(1).unwrap();
        assert!(net.dev_get_by_index(1).is_none());
        assert_eq!(net.unregister_netdev(1), Err(Errno::ENODEV));
        let (c, _, _) = scripted(&net, "eth2", None);
        assert_eq!(c.ifindex, 3, "ifindexes are not reused");
        assert_eq!(c.set_mtu(10), Err(Errno::EINVAL));
        c.set_mtu(9000).unwrap();
        assert_eq!(c.mtu(), 9000);
        assert!(net.ip_s_link().contains("eth2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000"));
    }
}
