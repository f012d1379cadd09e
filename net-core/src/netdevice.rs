//! Network devices: what a driver must provide, and what the stack keeps
//! about each device it has registered.
//!
//! Mirrors include/linux/netdevice.h (`struct net_device`,
//! `struct net_device_ops`, `struct rtnl_link_stats64`) and the
//! `alloc_netdev()`/`register_netdev()` half of net/core/dev.c, Linux 6.18.
//!
//! A Linux driver fills a `struct net_device` (through a setup callback such
//! as `ether_setup()` or `loopback_setup()`), hands the stack its
//! `net_device_ops` (`ndo_start_xmit` and friends), and on receive calls
//! `napi_schedule()` so that its `poll` runs and passes frames up with
//! `napi_gro_receive()`/`netif_receive_skb()`.
//!
//! Here a driver is a [`NetDevice`] trait object. [`NetDevice::setup`] plays
//! the setup callback, [`NetDevice::ndo_start_xmit`] is the transmit hook,
//! and [`NetDevice::poll`] is NAPI's poll: it moves up to `budget` received
//! frames onto a queue the stack then delivers *after* releasing the driver's
//! lock (so a handler may transmit on the same device). [`NetDev`] is the
//! registered device: name, ifindex, MTU, flags, addresses, the transmit
//! queue (a pfifo of `tx_queue_len` packets) and the statistics `ip -s link`
//! prints.
//!
//! Where we differ: Linux drivers count their own `rx_packets`/`tx_bytes`;
//! our stack counts them for the driver in `net_rx_action()` and
//! `dev_hard_start_xmit()` so no driver can forget.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::percpu::PerCpuU64s;

use crate::skbuff::{SkBuff, SkBuffHead, Skb};

/// Interface is administratively up (`IFF_UP`).
pub const IFF_UP: u32 = 0x1;
/// Broadcast address valid (`IFF_BROADCAST`).
pub const IFF_BROADCAST: u32 = 0x2;
/// Is a loopback net (`IFF_LOOPBACK`).
pub const IFF_LOOPBACK: u32 = 0x8;
/// Point-to-point link, e.g. SLIP (`IFF_POINTOPOINT`).
pub const IFF_POINTOPOINT: u32 = 0x10;
/// Resources allocated, running (`IFF_RUNNING`).
pub const IFF_RUNNING: u32 = 0x40;
/// No ARP protocol (`IFF_NOARP`).
pub const IFF_NOARP: u32 = 0x80;
/// Receive all frames (`IFF_PROMISC`).
pub const IFF_PROMISC: u32 = 0x100;
/// Supports multicast (`IFF_MULTICAST`).
pub const IFF_MULTICAST: u32 = 0x1000;
/// Driver signals L1 up (`IFF_LOWER_UP`).
pub const IFF_LOWER_UP: u32 = 0x10000;

/// Ethernet hardware type (`ARPHRD_ETHER`, include/uapi/linux/if_arp.h).
pub const ARPHRD_ETHER: u16 = 1;
/// Serial line IP (`ARPHRD_SLIP`).
pub const ARPHRD_SLIP: u16 = 256;
/// Loopback device (`ARPHRD_LOOPBACK`).
pub const ARPHRD_LOOPBACK: u16 = 772;
/// No link-layer header (`ARPHRD_NONE`), e.g. a TUN device.
pub const ARPHRD_NONE: u16 = 0xFFFE;

/// Default transmit queue length (`DEFAULT_TX_QUEUE_LEN`).
pub const DEFAULT_TX_QUEUE_LEN: u32 = 1000;

/// A hardware (MAC) address.
pub type MacAddr = [u8; 6];

/// A hardware address as the low six bytes of a word, for
/// [`NetDev`]'s lock-free `dev_addr`.
fn mac_to_word(a: MacAddr) -> u64 {
    u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], 0, 0])
}

/// Device features (`netdev_features_t`, include/linux/netdev_features.h).
///
/// Only the bits the stack consults are defined.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct NetdevFeatures(pub u64);

impl NetdevFeatures {
    /// Device can checksum all packets on transmit (`NETIF_F_HW_CSUM`).
    pub const HW_CSUM: NetdevFeatures = NetdevFeatures(1 << 3);
    /// Scatter/gather I/O (`NETIF_F_SG`).
    pub const SG: NetdevFeatures = NetdevFeatures(1 << 0);
    /// Device verifies receive checksums (`NETIF_F_RXCSUM`).
    pub const RXCSUM: NetdevFeatures = NetdevFeatures(1 << 32);
    /// Loopback device, which needs no checksums at all (`NETIF_F_LOOPBACK`).
    pub const LOOPBACK: NetdevFeatures = NetdevFeatures(1 << 31);
    /// Generic receive offload in software (`NETIF_F_GRO`): merge a polled
    /// batch's segments of one flow before the stack sees them. See
    /// [`crate::gro`].
    pub const GRO: NetdevFeatures = NetdevFeatures(1 << 14);
    /// Generic segmentation offload in software (`NETIF_F_GSO`): TCP may
    /// hand down a burst of segments as one packet, split just before the
    /// driver. See [`crate::gso`].
    pub const GSO: NetdevFeatures = NetdevFeatures(1 << 11);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: NetdevFeatures) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for NetdevFeatures {
    type Output = NetdevFeatures;
    fn bitor(self, rhs: Self) -> Self {
        NetdevFeatures(self.0 | rhs.0)
    }
}

// ANCHOR: napi_sched
/// A driver's "I have frames" flag: the `NAPI_STATE_SCHED` bit of its
/// `napi_struct`, which the driver's interrupt handler sets
/// (`napi_schedule()`) and its poll clears when it has delivered
/// everything (`napi_complete_done()`). `net_rx_action()` polls only the
/// devices on its poll list; a driver that hands the stack this flag in
/// [`NetDeviceSetup::napi`] is skipped — its lock not even taken — while
/// the flag is clear. A driver that does not is polled every time, as
/// before NAPI. Set and clear it under the lock that guards the driver's
/// receive queue, so a frame queued while the poll finishes is never
/// missed.
///
/// Once the device is registered, putting it on the poll list also raises
/// its namespace's `NET_RX_SOFTIRQ` (`__raise_softirq_irqoff()` in
/// `____napi_schedule()`), and `net_rx_action()` does not even look at the
/// devices while that is not raised.
///
/// Ordering: the flag is written under the receive queue's lock, which
/// orders it against the poll; the softirq bit is raised with a `Release`
/// store after the flag, and `net_rx_action()` clears the bit with a swap
/// (a full barrier) before it reads the flags, so a raise it clears is one
/// whose flag it sees. Plain stores, then: a `SeqCst` store is an `xchg`
/// on x86, an atomic read-modify-write of about 6 ns, and a frame caused
/// three.
#[derive(Clone, Debug, Default)]
pub struct NapiSched(Arc<NapiState>);

#[derive(Debug, Default)]
struct NapiState {
    /// `NAPI_STATE_SCHED`.
    sched: std::sync::atomic::AtomicBool,
    /// The `NET_RX_SOFTIRQ` pending bit of the namespace the device was
    /// registered in ([`NapiSched::attach`]).
    softirq: spin::Once<Arc<std::sync::atomic::AtomicBool>>,
}

impl NapiSched {
    /// A flag, clear.
    pub fn new() -> Self {
        Self::default()
    }

    /// Frames are waiting: put the device on the poll list (`napi_schedule()`).
    pub fn napi_schedule(&self) {
        self.0.sched.store(true, Ordering::Release);
        self.raise_softirq();
    }

    /// The poll is done; `more` when frames are still queued (a later
    /// arrival time, or the budget ran out): the device stays on the list
    /// (`napi_complete_done()` returning false), and `net_rx_action()`,
    /// finding it there after its pass, raises the softirq again.
    pub fn napi_complete(&self, more: bool) {
        self.0.sched.store(more, Ordering::Release);
    }

    /// True while the device is on the poll list.
    pub fn is_scheduled(&self) -> bool {
        self.0.sched.load(Ordering::Acquire)
    }

    /// `__raise_softirq_irqoff(NET_RX_SOFTIRQ)`, once registered.
    fn raise_softirq(&self) {
        if let Some(pending) = self.0.softirq.get() {
            pending.store(true, Ordering::Release);
        }
    }

    /// Registration: from now on scheduling raises `pending`, the
    /// namespace's `NET_RX_SOFTIRQ` bit (raised at once if frames already
    /// wait). A flag keeps the first namespace it was registered in: false
    /// if that was another one, whose bit it goes on raising (the caller
    /// must then poll the device every time).
    pub(crate) fn attach(&self, pending: &Arc<std::sync::atomic::AtomicBool>) -> bool {
        self.0.softirq.call_once(|| pending.clone());
        if self.is_scheduled() {
            self.raise_softirq();
        }
        self.raises(pending)
    }

    /// Does scheduling raise `pending`?
    pub(crate) fn raises(&self, pending: &Arc<std::sync::atomic::AtomicBool>) -> bool {
        self.0.softirq.get().is_some_and(|p| Arc::ptr_eq(p, pending))
    }
}
// ANCHOR_END: napi_sched

/// What a driver's transmit hook says (`netdev_tx_t`).
#[derive(Debug)]
pub enum NetdevTx {
    /// The driver took the packet (`NETDEV_TX_OK`).
    Ok,
    /// The driver is full; it hands the packet back and the stack requeues it
    /// at the head of the qdisc (`NETDEV_TX_BUSY`).
    Busy(Skb),
}

/// The static facts a driver's setup callback writes into `struct net_device`
/// (`ether_setup()`, `loopback_setup()`): the stack copies them at
/// registration and they can be changed later (`ip link set mtu`).
#[derive(Clone, Debug)]
pub struct NetDeviceSetup {
    /// Interface name, e.g. `"eth0"`; must be unique in the namespace.
    pub name: String,
    /// Hardware type, `ARPHRD_*`.
    pub type_: u16,
    /// Maximum transmission unit (payload of the link layer).
    pub mtu: u32,
    /// Smallest and largest MTU the device accepts.
    pub min_mtu: u32,
    /// Largest MTU the device accepts.
    pub max_mtu: u32,
    /// Link-layer header length (`hard_header_len`, 14 for Ethernet).
    pub hard_header_len: u16,
    /// Hardware address.
    pub dev_addr: MacAddr,
    /// Hardware broadcast address.
    pub broadcast: MacAddr,
    /// `IFF_*` flags apart from `IFF_UP` (which `dev_open` sets).
    pub flags: u32,
    /// Offloads the device performs.
    pub features: NetdevFeatures,
    /// Transmit queue length in packets (`txqueuelen`).
    pub tx_queue_len: u32,
    /// The driver's poll-list flag, if it keeps one: see [`NapiSched`].
    /// `None` (the default): polled every time.
    pub napi: Option<NapiSched>,
}

impl NetDeviceSetup {
    /// An Ethernet device as `ether_setup()` (net/ethernet/eth.c) describes it:
    /// MTU 1500, 14-byte header, broadcast and multicast, txqueuelen 1000.
    #[doc(alias = "ether_setup")]
    pub fn ether(name: &str, dev_addr: MacAddr) -> Self {
        NetDeviceSetup {
            name: name.to_string(),
            type_: ARPHRD_ETHER,
            mtu: 1500,
            min_mtu: 68,
            max_mtu: 65535,
            hard_header_len: 14,
            dev_addr,
            broadcast: [0xff; 6],
            flags: IFF_BROADCAST | IFF_MULTICAST,
            features: NetdevFeatures::default(),
            tx_queue_len: DEFAULT_TX_QUEUE_LEN,
            napi: None,
        }
    }
}

thread_local! {
    static XMIT_MORE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// ANCHOR: netdev_xmit_more
/// More frames follow the one being handed to `ndo_start_xmit` in this run
/// of the queue.
///
/// Mirrors `netdev_xmit_more()` (include/linux/netdevice.h), which reads
/// the per-CPU `softnet_data.xmit.more` that `dev_hard_start_xmit()` sets
/// before each `xmit_one()`. Ours is per thread, which is what a CPU is to
/// us, and the queue run sets it ([`qdisc_run`](crate::dev)).
pub fn netdev_xmit_more() -> bool {
    XMIT_MORE.with(|m| m.get())
}
// ANCHOR_END: netdev_xmit_more

/// Set what [`netdev_xmit_more`] returns (`__this_cpu_write(...xmit.more)`).
pub(crate) fn set_xmit_more(more: bool) {
    XMIT_MORE.with(|m| m.set(more));
}

// ANCHOR: net_device_ops
/// A driver: what `struct net_device_ops` and the NAPI poll function give the
/// stack.
///
/// Implementations live in net-dev (loopback, veth-like wire, TAP, pcap
/// replay) or in a user's crate. The stack calls every method with the
/// driver's lock held, so methods must not call back into the stack.
pub trait NetDevice: Send {
    /// Describe the device (the `alloc_netdev()` setup callback).
    fn setup(&self) -> NetDeviceSetup;

    /// Bring the device up (`ndo_open`). Errors leave it down.
    fn ndo_open(&mut self) -> Result<(), crate::Errno> {
        Ok(())
    }

    /// Take the device down (`ndo_stop`).
    fn ndo_stop(&mut self) {}

    /// Transmit one frame (`ndo_start_xmit`). `skb.data()` is the whole frame,
    /// link-layer header first.
    ///
    /// While [`netdev_xmit_more`] is true, more frames follow in this same
    /// run of the queue, and a driver may hold this one back to hand the
    /// batch on at once (Linux drivers defer their doorbell write). It must
    /// hand on everything it holds when called with it false, which the
    /// last frame of every run is, or before it returns `Busy`.
    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx;

    /// NAPI poll: move up to `budget` received frames to `rx` and return how
    /// many were moved. Each skb's data is one frame, link-layer header first.
    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize;

    /// When, on the namespace clock (ns), this device will next have a frame
    /// to deliver without anyone transmitting: a simulator jumps there.
    /// `None` when the device does not know (real devices) or has nothing.
    fn next_rx_time(&self) -> Option<u64> {
        None
    }

    /// Accept a new MTU (`ndo_change_mtu`); the stack has already checked it
    /// against `min_mtu..=max_mtu`.
    fn ndo_change_mtu(&mut self, _mtu: u32) -> Result<(), crate::Errno> {
        Ok(())
    }
}
// ANCHOR_END: net_device_ops

/// Link-layer header operations for a device type (`struct header_ops`).
///
/// Linux drivers call `eth_type_trans()` themselves; our drivers (in net-dev)
/// know only net-core, so the stack calls the namespace's header ops for the
/// device's `type_` on receive. net-ipv4 registers Ethernet's
/// (`eth_header_ops`) for `ARPHRD_ETHER` and `ARPHRD_LOOPBACK`.
pub trait HeaderOps: Send + Sync {
    /// Classify a received frame: set `skb.pkt_type`, mark and pull the
    /// link-layer header and return the EtherType (host order) for
    /// `skb.protocol` (`eth_type_trans()`). `None` means the frame is too short
    /// or malformed and is dropped (counted).
    fn type_trans(&self, skb: &mut SkBuff, dev: &NetDev) -> Option<u16>;

    /// Push a link-layer header for `proto` to `daddr` (`header_ops->create`,
    /// `eth_header()`); `None` daddr means "not known yet".
    fn create(&self, skb: &mut SkBuff, dev: &NetDev, proto: u16, daddr: Option<&[u8]>, saddr: Option<&[u8]>);
}

/// Per-device statistics, as `ip -s link` prints them
/// (`struct rtnl_link_stats64`).
///
/// Per-CPU, as Linux's software devices keep them (`dev->tstats`,
/// `dev_sw_netstats_rx_add()`), with threads for CPUs: see
/// [`crate::percpu`]. Update with [`NetDevStats::add`] and an index
/// below; read with [`NetDevStats::snapshot`].
pub struct NetDevStats(PerCpuU64s);

impl Default for NetDevStats {
    fn default() -> Self {
        NetDevStats(PerCpuU64s::new(NetDevStats::COUNT))
    }
}

#[allow(missing_docs)]
impl NetDevStats {
    /// Frames received.
    pub const RX_PACKETS: usize = 0;
    /// Bytes received.
    pub const RX_BYTES: usize = 1;
    /// Receive errors.
    pub const RX_ERRORS: usize = 2;
    /// Received frames dropped (no buffer, backlog full, bad header).
    pub const RX_DROPPED: usize = 3;
    /// Received frames no protocol wanted (`rx_nohandler`).
    pub const RX_NOHANDLER: usize = 4;
    /// Multicast frames received.
    pub const MULTICAST: usize = 5;
    /// Frames transmitted.
    pub const TX_PACKETS: usize = 6;
    /// Bytes transmitted.
    pub const TX_BYTES: usize = 7;
    /// Transmit errors.
    pub const TX_ERRORS: usize = 8;
    /// Frames dropped on transmit (queue full, device down).
    pub const TX_DROPPED: usize = 9;
    const COUNT: usize = 10;

    /// Add `n` to the counter at `index` (one of the constants above).
    #[inline]
    pub fn add(&self, index: usize, n: u64) {
        self.0.add(index, n);
    }
}

/// A copy of [`NetDevStats`] at one moment.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct NetDevStatsSnapshot {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub rx_nohandler: u64,
    pub multicast: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

impl NetDevStats {
    /// Read every counter.
    pub fn snapshot(&self) -> NetDevStatsSnapshot {
        let r = |i: usize| self.0.sum(i);
        NetDevStatsSnapshot {
            rx_packets: r(Self::RX_PACKETS),
            rx_bytes: r(Self::RX_BYTES),
            rx_errors: r(Self::RX_ERRORS),
            rx_dropped: r(Self::RX_DROPPED),
            rx_nohandler: r(Self::RX_NOHANDLER),
            multicast: r(Self::MULTICAST),
            tx_packets: r(Self::TX_PACKETS),
            tx_bytes: r(Self::TX_BYTES),
            tx_errors: r(Self::TX_ERRORS),
            tx_dropped: r(Self::TX_DROPPED),
        }
    }
}

/// A registered device: Linux's `struct net_device`.
///
/// Shared as `Arc<NetDev>`; fields are grouped by what guards them.
pub struct NetDev {
    // -- fixed at registration ----------------------------------------------
    /// Interface index, unique in the namespace, never reused (`ifindex`).
    pub ifindex: u32,
    /// Interface name (`name`).
    pub name: String,
    /// Hardware type, `ARPHRD_*` (`type`).
    pub type_: u16,
    /// Link-layer header length (`hard_header_len`).
    pub hard_header_len: u16,
    /// Hardware broadcast address (`broadcast`).
    pub broadcast: MacAddr,
    /// Offloads (`features`).
    pub features: NetdevFeatures,
    /// Smallest MTU accepted (`min_mtu`).
    pub min_mtu: u32,
    /// Largest MTU accepted (`max_mtu`).
    pub max_mtu: u32,

    // -- changed by configuration, read lock-free on the data path ----------
    mtu: AtomicU32,
    flags: AtomicU32,
    tx_queue_len: AtomicU32,
    /// Hardware address (`dev_addr`); rarely written, read on every frame
    /// in and out. Its six bytes live in one word, so a reader takes a
    /// plain load where a lock would take two locked operations per frame
    /// (`eth_type_trans()` reads it for every frame received). Linux reads
    /// `dev->dev_addr` without a lock too, and writes it under RTNL.
    dev_addr: AtomicU64,

    /// Statistics, atomics bumped without a lock.
    pub stats: NetDevStats,

    // -- the transmit queue: guarded by its own lock (Linux: qdisc lock) -----
    /// pfifo of packets waiting for the driver (`dev->qdisc`).
    pub(crate) qdisc: spin::Mutex<SkBuffHead>,

    // -- the driver: guarded by its lock (Linux: `netif_tx_lock`, NAPI) ------
    pub(crate) driver: spin::Mutex<Box<dyn NetDevice>>,

    /// The driver's poll-list flag (see [`NapiSched`]), if it keeps one.
    pub(crate) napi: Option<NapiSched>,

    // -- GRO: `NETIF_F_GRO` as ethtool toggles it, and the held packets ------
    gro: std::sync::atomic::AtomicBool,
    gso: std::sync::atomic::AtomicBool,
    /// The packets GRO holds between frames of a poll (`napi->gro`).
    pub(crate) napi_gro: spin::Mutex<crate::gro::GroList>,
}

impl fmt::Debug for NetDev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetDev")
            .field("ifindex", &self.ifindex)
            .field("name", &self.name)
            .field("mtu", &self.mtu())
            .field("flags", &format_args!("{:#x}", self.flags()))
            .finish()
    }
}

impl NetDev {
    pub(crate) fn new(ifindex: u32, driver: Box<dyn NetDevice>) -> NetDev {
        let s = driver.setup();
        NetDev {
            ifindex,
            name: s.name,
            type_: s.type_,
            hard_header_len: s.hard_header_len,
            broadcast: s.broadcast,
            features: s.features,
            min_mtu: s.min_mtu,
            max_mtu: s.max_mtu,
            mtu: AtomicU32::new(s.mtu),
            flags: AtomicU32::new(s.flags & !IFF_UP),
            tx_queue_len: AtomicU32::new(s.tx_queue_len),
            dev_addr: AtomicU64::new(mac_to_word(s.dev_addr)),
            stats: NetDevStats::default(),
            qdisc: spin::Mutex::new(SkBuffHead::new()),
            napi: s.napi,
            driver: spin::Mutex::new(driver),
            gro: std::sync::atomic::AtomicBool::new(s.features.contains(NetdevFeatures::GRO)),
            gso: std::sync::atomic::AtomicBool::new(s.features.contains(NetdevFeatures::GSO)),
            napi_gro: spin::Mutex::new(crate::gro::GroList::default()),
        }
    }

    /// True when received frames go through GRO (`NETIF_F_GRO` set, Linux's
    /// `!netif_elide_gro(dev)`).
    pub fn gro_enabled(&self) -> bool {
        self.gro.load(Ordering::Relaxed)
    }

    /// Turn GRO on or off (`ethtool -K dev gro on|off`, which ends in
    /// `netdev_update_features()`). Takes effect at the next poll; nothing
    /// is held between polls.
    pub fn set_gro(&self, on: bool) {
        self.gro.store(on, Ordering::Relaxed);
    }

    /// True when TCP may send bursts through this device as one GSO packet
    /// (`NETIF_F_GSO`, which `sk_setup_caps()` reads into
    /// `sk->sk_route_caps`).
    pub fn gso_enabled(&self) -> bool {
        self.gso.load(Ordering::Relaxed)
    }

    /// Turn GSO on or off (`ethtool -K dev gso on|off`). A socket reads it
    /// when it looks its route up again, as Linux's does at
    /// `sk_setup_caps()`.
    pub fn set_gso(&self, on: bool) {
        self.gso.store(on, Ordering::Relaxed);
    }

    /// Current MTU.
    pub fn mtu(&self) -> u32 {
        self.mtu.load(Ordering::Relaxed)
    }

    /// `IFF_*` flags.
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// True when administratively up (`IFF_UP`).
    pub fn is_up(&self) -> bool {
        self.flags() & IFF_UP != 0
    }

    /// True for the loopback device.
    pub fn is_loopback(&self) -> bool {
        self.flags() & IFF_LOOPBACK != 0
    }

    /// Hardware address.
    pub fn dev_addr(&self) -> MacAddr {
        let b = self.dev_addr.load(Ordering::Relaxed).to_le_bytes();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    /// Change the hardware address (`dev_set_mac_address()`).
    pub fn set_dev_addr(&self, addr: MacAddr) {
        self.dev_addr.store(mac_to_word(addr), Ordering::Relaxed);
    }

    /// Transmit queue length in packets (`txqueuelen`).
    pub fn tx_queue_len(&self) -> u32 {
        self.tx_queue_len.load(Ordering::Relaxed)
    }

    /// Change the transmit queue length (`ip link set txqueuelen`).
    pub fn set_tx_queue_len(&self, n: u32) {
        self.tx_queue_len.store(n, Ordering::Relaxed);
    }

    /// Packets waiting in the transmit queue.
    pub fn qdisc_len(&self) -> usize {
        self.qdisc.lock().len()
    }

    /// Change the MTU (`__dev_set_mtu()`): `EINVAL` outside
    /// `min_mtu..=max_mtu` or when the driver refuses. Nobody is told: a
    /// device in a namespace changes through [`Net::dev_set_mtu`], which
    /// tells the notifier chain (routes cached with the old MTU go stale).
    ///
    /// [`Net::dev_set_mtu`]: crate::Net::dev_set_mtu
    #[doc(alias = "__dev_set_mtu")]
    pub fn set_mtu(&self, mtu: u32) -> Result<(), crate::Errno> {
        if mtu < self.min_mtu || mtu > self.max_mtu {
            return Err(crate::Errno::EINVAL);
        }
        self.driver.lock().ndo_change_mtu(mtu)?;
        self.mtu.store(mtu, Ordering::Relaxed);
        Ok(())
    }

    /// Bring the device up; idempotent.
    ///
    /// Mirrors `__dev_open()`: the driver's `ndo_open()` and the flags,
    /// nobody told. [`Net::dev_open`] is `dev_open()`, which then raises
    /// `NETDEV_UP` on the notifier chain (IPv4 puts the device's routes
    /// back).
    ///
    /// [`Net::dev_open`]: crate::Net::dev_open
    #[doc(alias = "__dev_open")]
    pub fn open(&self) -> Result<(), crate::Errno> {
        if self.is_up() {
            return Ok(());
        }
        self.driver.lock().ndo_open()?;
        self.flags.fetch_or(IFF_UP | IFF_RUNNING | IFF_LOWER_UP, Ordering::Relaxed);
        Ok(())
    }

    /// Take the device down, dropping what was queued for it.
    ///
    /// Mirrors `__dev_close()`: nobody is told, as when a cable is pulled
    /// and the stack keeps its routes. [`Net::dev_close`] is `dev_close()`,
    /// which then raises `NETDEV_DOWN` (IPv4 drops the device's routes and
    /// neighbours).
    ///
    /// [`Net::dev_close`]: crate::Net::dev_close
    #[doc(alias = "__dev_close")]
    pub fn close(&self) {
        if !self.is_up() {
            return;
        }
        self.flags.fetch_and(!(IFF_UP | IFF_RUNNING | IFF_LOWER_UP), Ordering::Relaxed);
        self.driver.lock().ndo_stop();
        let dropped = self.qdisc.lock().purge();
        self.stats.add(NetDevStats::TX_DROPPED, dropped as u64);
    }

    /// When the driver will next have a frame for us (see
    /// [`NetDevice::next_rx_time`]).
    pub fn next_rx_time(&self) -> Option<u64> {
        self.driver.lock().next_rx_time()
    }

    /// Run `f` with the driver, downcast by the caller's closure — for tests
    /// and tools that need to reach a concrete driver (e.g. a wire's
    /// counters). Holds the driver lock while `f` runs.
    pub fn with_driver<R>(&self, f: impl FnOnce(&mut dyn NetDevice) -> R) -> R {
        let mut d = self.driver.lock();
        f(&mut **d)
    }

    /// One line in the shape of `ip link` followed by the counters of
    /// `ip -s link`.
    pub fn ip_s_link(&self) -> String {
        let s = self.stats.snapshot();
        let mut flags = Vec::new();
        for (bit, name) in [
            (IFF_LOOPBACK, "LOOPBACK"),
            (IFF_BROADCAST, "BROADCAST"),
            (IFF_POINTOPOINT, "POINTOPOINT"),
            (IFF_MULTICAST, "MULTICAST"),
            (IFF_NOARP, "NOARP"),
            (IFF_UP, "UP"),
            (IFF_LOWER_UP, "LOWER_UP"),
        ] {
            if self.flags() & bit != 0 {
                flags.push(name);
            }
        }
        let a = self.dev_addr();
        let mac = format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", a[0], a[1], a[2], a[3], a[4], a[5]);
        let kind = if self.type_ == ARPHRD_LOOPBACK { "loopback" } else { "ether" };
        format!(
            "{}: {}: <{}> mtu {} qlen {}\n    link/{} {}\n    RX:  bytes packets errors dropped  missed   mcast\n    {:>10} {:>7} {:>6} {:>7} {:>7} {:>7}\n    TX:  bytes packets errors dropped carrier collsns\n    {:>10} {:>7} {:>6} {:>7} {:>7} {:>7}\n",
            self.ifindex,
            self.name,
            flags.join(","),
            self.mtu(),
            self.tx_queue_len(),
            kind,
            mac,
            s.rx_bytes,
            s.rx_packets,
            s.rx_errors,
            s.rx_dropped,
            0,
            s.multicast,
            s.tx_bytes,
            s.tx_packets,
            s.tx_errors,
            s.tx_dropped,
            0,
            0
        )
    }
}

/// Shared handle to a registered device.
pub type NetDevRef = Arc<NetDev>;
