//! The loopback device, `lo`.
//!
//! Mirrors drivers/net/loopback.c (Linux 6.18): `loopback_setup()` describes
//! a device with no hardware address, MTU 64 KiB, `IFF_LOOPBACK` and the
//! offloads that say "no checksum needed"; `loopback_xmit()` turns every
//! transmitted frame straight round into a received one through
//! `__netif_rx()`, the per-cpu backlog.
//!
//! Where we differ: our stack has no backlog (dev.rs), so the device keeps
//! its own bounded queue — `netdev_max_backlog` (1000) frames, as the
//! backlog is — and hands the frames back from [`NetDevice::poll`], which is
//! what `process_backlog()` does for the backlog's NAPI. Linux's
//! `loopback_xmit()` calls `eth_type_trans()`; we leave `skb.protocol` at 0
//! so the namespace's header ops for `ARPHRD_LOOPBACK` do it when the frame
//! is received. Left out: GSO, `blackhole_netdev`, per-cpu lstats.

use std::collections::VecDeque;

use net_core::netdevice::{
    ARPHRD_LOOPBACK, IFF_LOOPBACK, NapiSched, NetDevice, NetDeviceSetup, NetdevFeatures, NetdevTx,
};
use net_core::skbuff::{IpSummed, PktType, SkBuffHead};
use net_core::{Clock, Skb};

/// `netdev_max_backlog`'s default: how many frames wait for `poll`.
pub const LOOPBACK_BACKLOG: usize = 1000;

/// Counters `loopback_get_stats64()` reports, plus backlog drops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopbackStats {
    /// Frames looped (`lstats.packets`).
    pub packets: u64,
    /// Bytes looped (`lstats.bytes`).
    pub bytes: u64,
    /// Frames dropped because the backlog was full (`softnet_stat` drops).
    pub dropped: u64,
}

/// The loopback device.
pub struct Loopback {
    backlog: VecDeque<Skb>,
    limit: usize,
    clock: Clock,
    stats: LoopbackStats,
    /// On the poll list while the backlog holds frames: the backlog NAPI
    /// that `enqueue_to_backlog()` schedules.
    napi: NapiSched,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loopback").field("queued", &self.backlog.len()).field("stats", &self.stats).finish()
    }
}

impl Loopback {
    /// A loopback device reading `clock` (for [`NetDevice::next_rx_time`]).
    pub fn new(clock: Clock) -> Self {
        Loopback::with_backlog(clock, LOOPBACK_BACKLOG)
    }

    /// A loopback device whose backlog holds `limit` frames.
    pub fn with_backlog(clock: Clock, limit: usize) -> Self {
        Loopback {
            backlog: VecDeque::new(),
            limit: limit.max(1),
            clock,
            stats: LoopbackStats::default(),
            napi: NapiSched::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> LoopbackStats {
        self.stats
    }
}

impl NetDevice for Loopback {
    /// Mirrors `loopback_setup()` → `gen_lo_setup()` (drivers/net/loopback.c):
    /// MTU 64 KiB, 14-byte header, `IFF_LOOPBACK`, no queue (`IFF_NO_QUEUE`:
    /// `tx_queue_len` 0), and no `max_mtu` (Linux leaves it 0, unchecked).
    #[doc(alias = "loopback_setup")]
    #[doc(alias = "gen_lo_setup")]
    fn setup(&self) -> NetDeviceSetup {
        NetDeviceSetup {
            name: "lo".to_string(),
            type_: ARPHRD_LOOPBACK,
            mtu: 64 * 1024,
            min_mtu: 0,
            max_mtu: u32::MAX,
            hard_header_len: 14,
            dev_addr: [0; 6],
            broadcast: [0; 6],
            flags: IFF_LOOPBACK,
            features: NetdevFeatures::SG
                | NetdevFeatures::HW_CSUM
                | NetdevFeatures::RXCSUM
                | NetdevFeatures::LOOPBACK,
            tx_queue_len: 0,
            // Linux's lo has no NAPI of its own: loopback_xmit() →
            // netif_rx() → enqueue_to_backlog(), which schedules the CPU's
            // backlog NAPI (process_backlog). Our backlog is the device's,
            // and so is that flag: polled only while frames wait.
            napi: Some(self.napi.clone()),
        }
    }

    // ANCHOR: loopback_xmit
    /// Mirrors `loopback_xmit()` (drivers/net/loopback.c): the frame is
    /// received again as it is — marked looped back with its checksum
    /// vouched for (`CHECKSUM_UNNECESSARY`, which `NETIF_F_LOOPBACK` buys)
    /// — and counted; if the backlog is full it is dropped, and as in Linux
    /// the transmit still reports `NETDEV_TX_OK`.
    fn ndo_start_xmit(&mut self, mut skb: Skb) -> NetdevTx {
        net_core::ftrace_graph!("loopback_xmit");
        if self.backlog.len() >= self.limit {
            self.stats.dropped += 1;
            return NetdevTx::Ok;
        }
        let len = skb.len() as u64;
        skb.pkt_type = PktType::Loopback;
        skb.ip_summed = IpSummed::Unnecessary;
        skb.protocol = 0; // eth_type_trans() runs on receive (header ops)
        skb.tstamp = 0; // stamped again by netif_receive_skb
        self.backlog.push_back(skb);
        self.napi.napi_schedule(); // ____napi_schedule(sd, &sd->backlog)
        self.stats.packets += 1;
        self.stats.bytes += len;
        NetdevTx::Ok
    }
    // ANCHOR_END: loopback_xmit

    /// Hands back up to `budget` looped frames (`process_backlog()`).
    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let n = budget.min(self.backlog.len());
        for skb in self.backlog.drain(..n) {
            rx.queue_tail(skb);
        }
        // process_backlog() completes its NAPI once the queue is empty.
        self.napi.napi_complete(!self.backlog.is_empty());
        n
    }

    fn next_rx_time(&self) -> Option<u64> {
        (!self.backlog.is_empty()).then(|| self.clock.now_ns())
    }

    fn ndo_stop(&mut self) {
        self.backlog.clear();
        self.napi.napi_complete(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::skbuff::skb_from_frame;

    #[test]
    fn setup_matches_loopback_setup() {
        let lo = Loopback::new(Clock::new_virtual());
        let s = lo.setup();
        assert_eq!((s.name.as_str(), s.type_, s.mtu, s.hard_header_len), ("lo", ARPHRD_LOOPBACK, 65536, 14));
        assert_eq!((s.flags, s.dev_addr, s.tx_queue_len), (IFF_LOOPBACK, [0; 6], 0));
        assert!(
            s.features.contains(NetdevFeatures::LOOPBACK | NetdevFeatures::HW_CSUM | NetdevFeatures::RXCSUM)
        );
    }

    /// The backlog's NAPI is scheduled by a transmit and completed by the
    /// poll that empties the backlog, so an idle lo is not polled.
    #[test]
    fn on_the_poll_list_only_while_frames_wait() {
        let mut lo = Loopback::new(Clock::new_virtual());
        let napi = lo.setup().napi.expect("lo keeps a poll-list flag");
        assert!(!napi.is_scheduled());
        for _ in 0..3 {
            let _ = lo.ndo_start_xmit(skb_from_frame(1, &[0; 14]));
        }
        assert!(napi.is_scheduled());
        let mut rx = SkBuffHead::new();
        assert_eq!(lo.poll(2, &mut rx), 2);
        assert!(napi.is_scheduled(), "one frame still waits");
        assert_eq!(lo.poll(2, &mut rx), 1);
        assert!(!napi.is_scheduled(), "the poll that emptied the backlog completed it");
    }

    #[test]
    fn next_rx_time_is_now_while_frames_wait() {
        let clock = Clock::new_virtual_at(42);
        let mut lo = Loopback::new(clock.clone());
        assert_eq!(lo.next_rx_time(), None);
        let _ = lo.ndo_start_xmit(skb_from_frame(1, &[0; 14]));
        assert_eq!(lo.next_rx_time(), Some(42));
        lo.ndo_stop();
        assert_eq!(lo.next_rx_time(), None);
    }
}
