//! A point-to-point Ethernet link between two hosts: a veth pair with a
//! length, a speed and (optionally) netem on each direction.
//!
//! Mirrors drivers/net/veth.c (Linux 6.18): `veth_newlink()` creates two
//! devices that are each other's peer, and `veth_xmit()` hands a frame sent
//! on one straight to the peer's receive path (`veth_forward_skb()` →
//! `__dev_forward_skb()`, which drops frames longer than the peer's MTU plus
//! the link-layer header, scrubs the skb and calls `eth_type_trans()`).
//!
//! What we add: a real veth delivers at once; a [`Wire`] direction first
//! runs an optional [`Netem`], then serialises frames back to back at
//! `rate_bps` through a bounded queue, then delays each by the propagation
//! delay. The receiving end reports the earliest due frame through
//! [`NetDevice::next_rx_time`], which is how the simulator knows where to
//! jump.
//!
//! Left out: XDP, GRO, the NAPI ring and multiple queues, carrier events
//! (a peer that is down makes the sender drop, as `veth_xmit()` does when
//! `rcv` is gone). The skb itself crosses, as in Linux: no copy, and
//! `skb_scrub_packet()` clears the sender's metadata (ours clears a bit
//! more than Linux's, down to the control block).
//!
//! Locking: each direction is a `spin::Mutex` taken inside a driver lock
//! (the sender's in `ndo_start_xmit`, the receiver's in `poll`); no path
//! holds both directions, and the work under it is a queue operation.

use std::collections::VecDeque;
use std::sync::Arc;

use net_core::jiffies::NSEC_PER_SEC;
use net_core::netdevice::{IFF_BROADCAST, IFF_MULTICAST, MacAddr, NetDevice, NetDeviceSetup, NetdevTx};
use net_core::skbuff::SkBuffHead;
use net_core::{Clock, Errno, Skb};

use crate::netem::{Netem, NetemParams, NetemStats};

/// How one direction of a link behaves. The default is an ideal wire: no
/// delay, no rate limit, no faults, MTU 1500.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way propagation delay, ns.
    pub delay_ns: u64,
    /// Serialisation rate in bits/s; 0 for infinitely fast.
    pub rate_bps: u64,
    /// Frames that may wait for the serialiser (a tail-drop queue, like the
    /// `txqueuelen` of a real NIC's ring).
    pub queue_limit: usize,
    /// Frames that may be on the wire (propagating or waiting) at once, a
    /// guard against unbounded memory when nothing limits the rate.
    pub inflight_limit: usize,
    /// MTU of the receiving end: longer frames are dropped as `oversize`
    /// (`is_skb_forwardable()`), and the end reports it at registration.
    pub mtu: u32,
    /// Faults applied before the serialiser; `None` for none.
    pub netem: Option<NetemParams>,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            delay_ns: 0,
            rate_bps: 0,
            queue_limit: 1000,
            inflight_limit: 1 << 16,
            mtu: 1500,
            netem: None,
        }
    }
}

impl LinkParams {
    /// An ideal link with this one-way delay.
    pub fn with_delay(delay_ns: u64) -> Self {
        LinkParams { delay_ns, ..LinkParams::default() }
    }
}

/// Why a wire dropped a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireDrops {
    /// The peer end was down (`veth_xmit()` with no `rcv`).
    pub peer_down: u64,
    /// Longer than MTU + link header (`is_skb_forwardable()`).
    pub oversize: u64,
    /// The serialiser's queue was full.
    pub queue_full: u64,
    /// `inflight_limit` frames were already on the wire.
    pub inflight_full: u64,
    /// Lost or over the limit in netem (details in [`NetemStats`]).
    pub netem: u64,
    /// Still on the wire when the receiving end went down.
    pub purged: u64,
}

/// Counters of one end of a wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Frames handed to this end for transmission.
    pub tx_frames: u64,
    /// Bytes handed to this end for transmission.
    pub tx_bytes: u64,
    /// Frames this end delivered to its host.
    pub rx_frames: u64,
    /// Bytes this end delivered to its host.
    pub rx_bytes: u64,
    /// Frames this end sent that the wire dropped, by cause.
    pub tx_drops: WireDrops,
    /// Netem's counters for this end's transmit direction.
    pub netem: NetemStats,
}

/// A frame on the wire.
struct InFlight {
    /// When it starts serialising (queue wait ends).
    tx_start: u64,
    /// When it arrives at the far end.
    arrival: u64,
    skb: Skb,
}

/// One direction of a wire.
struct Direction {
    params: LinkParams,
    netem: Option<Netem>,
    /// When the serialiser is free again.
    busy_until: u64,
    /// Frames past netem, in arrival order (FIFO: arrivals never decrease).
    wire: VecDeque<InFlight>,
    /// The receiving end is open.
    rx_up: bool,
    tx_frames: u64,
    tx_bytes: u64,
    rx_frames: u64,
    rx_bytes: u64,
    drops: WireDrops,
}

impl Direction {
    fn new(params: LinkParams, seed: u64) -> Self {
        let netem = params.netem.clone().map(|p| Netem::new(p, seed));
        Direction {
            params,
            netem,
            busy_until: 0,
            wire: VecDeque::new(),
            rx_up: false,
            tx_frames: 0,
            tx_bytes: 0,
            rx_frames: 0,
            rx_bytes: 0,
            drops: WireDrops::default(),
        }
    }

    /// Put a frame that left netem at `t` onto the wire.
    fn serialise(&mut self, t: u64, skb: Skb) {
        // Frames still waiting for the serialiser at time t.
        let waiting = self.wire.len() - self.wire.partition_point(|f| f.tx_start <= t);
        if self.params.rate_bps != 0 && waiting >= self.params.queue_limit {
            self.drops.queue_full += 1;
            return;
        }
        if self.wire.len() >= self.params.inflight_limit {
            self.drops.inflight_full += 1;
            return;
        }
        let tx_start = t.max(self.busy_until);
        let tx_time = if self.params.rate_bps == 0 {
            0
        } else {
            (skb.len() as u128 * 8 * NSEC_PER_SEC as u128 / self.params.rate_bps as u128) as u64
        };
        let tx_end = tx_start + tx_time;
        self.busy_until = tx_end;
        let last = self.wire.back().map_or(0, |f| f.arrival);
        let arrival = (tx_end + self.params.delay_ns).max(last);
        self.wire.push_back(InFlight { tx_start, arrival, skb });
    }

    /// Move frames netem has released by `now` onto the wire, in the order
    /// and at the times netem released them.
    fn advance(&mut self, now: u64) {
        let Some(netem) = self.netem.as_mut() else { return };
        let mut out = Vec::new();
        while let Some((t, skb)) = netem.dequeue_timed(now) {
            out.push((t, skb));
        }
        for (t, skb) in out {
            self.serialise(t, skb);
        }
    }

    // ANCHOR: veth_xmit
    /// Mirrors `veth_xmit()` (drivers/net/veth.c): drop when the peer is
    /// down or the frame is too long for it, otherwise pass the bytes on —
    /// here to netem and the serialiser rather than straight to the peer.
    fn xmit(&mut self, skb: Skb, now: u64, hard_header_len: usize) {
        net_core::ftrace_graph!("veth_xmit");
        self.advance(now);
        self.tx_frames += 1;
        self.tx_bytes += skb.len() as u64;
        if !self.rx_up {
            self.drops.peer_down += 1;
            return;
        }
        if skb.len() > self.params.mtu as usize + hard_header_len {
            self.drops.oversize += 1;
            return;
        }
        // The skb crosses (no copy); the sender's metadata does not.
        let mut frame = skb;
        frame.skb_scrub_packet();
        match self.netem.as_mut() {
            Some(n) if !n.is_noop() || !n.is_empty() => {
                if !n.enqueue(frame, now) {
                    self.drops.netem += 1;
                }
                self.advance(now);
            }
            _ => self.serialise(now, frame),
        }
    }
    // ANCHOR_END: veth_xmit

    fn next_time(&self) -> Option<u64> {
        let a = self.wire.front().map(|f| f.arrival);
        let b = self.netem.as_ref().and_then(Netem::next_time);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn netem_stats(&self) -> NetemStats {
        self.netem.as_ref().map(Netem::stats).unwrap_or_default()
    }
}

/// The state both ends share: `dirs[0]` carries a → b, `dirs[1]` b → a.
struct WireShared {
    dirs: [spin::Mutex<Direction>; 2],
}

/// A veth-like link. [`Wire::pair`] makes the two ends.
#[derive(Debug)]
pub struct Wire;

impl Wire {
    /// Two connected ends with ideal parameters (`ip link add A type veth
    /// peer name B`, `veth_newlink()`).
    pub fn pair(
        clock: Clock,
        name_a: &str,
        mac_a: MacAddr,
        name_b: &str,
        mac_b: MacAddr,
    ) -> (WireEnd, WireEnd) {
        Wire::pair_with(clock, (name_a, mac_a), (name_b, mac_b), &LinkParams::default(), 0)
    }

    /// Two connected ends whose directions both behave as `params`; netem
    /// in the a → b direction draws from `seed`, b → a from a seed derived
    /// from it.
    pub fn pair_with(
        clock: Clock,
        a: (&str, MacAddr),
        b: (&str, MacAddr),
        params: &LinkParams,
        seed: u64,
    ) -> (WireEnd, WireEnd) {
        let shared = Arc::new(WireShared {
            dirs: [
                spin::Mutex::new(Direction::new(params.clone(), seed)),
                spin::Mutex::new(Direction::new(params.clone(), seed ^ 0x9e37_79b9_7f4a_7c15)),
            ],
        });
        let end = |side: usize, (name, mac): (&str, MacAddr)| WireEnd {
            side,
            name: name.to_string(),
            mac,
            clock: clock.clone(),
            shared: shared.clone(),
        };
        (end(0, a), end(1, b))
    }
}

/// One end of a [`Wire`]: an Ethernet [`NetDevice`].
pub struct WireEnd {
    side: usize,
    name: String,
    mac: MacAddr,
    clock: Clock,
    shared: Arc<WireShared>,
}

impl std::fmt::Debug for WireEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireEnd").field("name", &self.name).field("side", &self.side).finish()
    }
}

impl WireEnd {
    /// A handle to read this end's counters and change its transmit
    /// direction after the end has been registered.
    pub fn handle(&self) -> WireHandle {
        WireHandle { side: self.side, shared: self.shared.clone() }
    }

    fn tx(&self) -> &spin::Mutex<Direction> {
        &self.shared.dirs[self.side]
    }

    fn rx(&self) -> &spin::Mutex<Direction> {
        &self.shared.dirs[1 - self.side]
    }
}

/// Reach one end's counters and transmit parameters from outside the stack.
#[derive(Clone)]
pub struct WireHandle {
    side: usize,
    shared: Arc<WireShared>,
}

impl std::fmt::Debug for WireHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireHandle").field("side", &self.side).finish()
    }
}

impl WireHandle {
    /// This end's counters.
    pub fn stats(&self) -> WireStats {
        let tx = self.shared.dirs[self.side].lock();
        let (tx_frames, tx_bytes, tx_drops, netem) = (tx.tx_frames, tx.tx_bytes, tx.drops, tx.netem_stats());
        drop(tx);
        let rx = self.shared.dirs[1 - self.side].lock();
        WireStats { tx_frames, tx_bytes, rx_frames: rx.rx_frames, rx_bytes: rx.rx_bytes, tx_drops, netem }
    }

    /// Change how this end's transmit direction behaves from now on. Frames
    /// already on the wire keep their times; a new netem configuration is
    /// applied with `netem_change()` semantics (queue and generator kept),
    /// or started with `seed` if there was none.
    pub fn set_tx_params(&self, params: LinkParams, seed: u64) {
        let mut d = self.shared.dirs[self.side].lock();
        match (&mut d.netem, &params.netem) {
            (Some(n), Some(p)) => n.change(p.clone()),
            (slot @ None, Some(p)) => *slot = Some(Netem::new(p.clone(), seed)),
            (slot, None) => {
                if slot.as_ref().is_some_and(Netem::is_empty) {
                    *slot = None;
                } else if let Some(n) = slot {
                    n.change(NetemParams::default());
                }
            }
        }
        d.params = params;
    }

    /// This end's transmit parameters.
    pub fn tx_params(&self) -> LinkParams {
        self.shared.dirs[self.side].lock().params.clone()
    }

    /// Frames on the way to the peer (in netem or on the wire).
    pub fn in_flight(&self) -> usize {
        let d = self.shared.dirs[self.side].lock();
        d.wire.len() + d.netem.as_ref().map_or(0, Netem::len)
    }
}

impl NetDevice for WireEnd {
    fn setup(&self) -> NetDeviceSetup {
        let mut s = NetDeviceSetup::ether(&self.name, self.mac);
        // Our MTU is what the peer checks frames to us against.
        s.mtu = self.rx().lock().params.mtu;
        s.flags = IFF_BROADCAST | IFF_MULTICAST;
        s
    }

    fn ndo_open(&mut self) -> Result<(), Errno> {
        self.rx().lock().rx_up = true;
        Ok(())
    }

    fn ndo_stop(&mut self) {
        let mut d = self.rx().lock();
        d.rx_up = false;
        let mut n = d.wire.len() as u64;
        d.wire.clear();
        if let Some(ne) = d.netem.as_mut() {
            n += ne.reset() as u64;
        }
        d.drops.purged += n;
    }

    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        let now = self.clock.now_ns();
        self.tx().lock().xmit(skb, now, 14);
        NetdevTx::Ok
    }

    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let now = self.clock.now_ns();
        let mut d = self.rx().lock();
        d.advance(now);
        let mut n = 0;
        while n < budget {
            match d.wire.front() {
                Some(f) if f.arrival <= now => {}
                _ => break,
            }
            let Some(f) = d.wire.pop_front() else { break };
            d.rx_frames += 1;
            d.rx_bytes += f.skb.len() as u64;
            rx.queue_tail(f.skb);
            n += 1;
        }
        n
    }

    fn next_rx_time(&self) -> Option<u64> {
        self.rx().lock().next_time()
    }

    fn ndo_change_mtu(&mut self, mtu: u32) -> Result<(), Errno> {
        // The peer checks frames against our MTU (`is_skb_forwardable()`).
        self.rx().lock().params.mtu = mtu;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::skbuff::skb_from_frame;

    fn drain(b: &mut WireEnd, clock: &Clock) -> Vec<(u64, u8)> {
        let mut out = Vec::new();
        while let Some(t) = b.next_rx_time() {
            clock.set_ns(t);
            let mut rx = SkBuffHead::new();
            b.poll(64, &mut rx);
            while let Some(s) = rx.dequeue() {
                out.push((clock.now_ns(), s.data()[0]));
            }
        }
        out
    }

    #[test]
    fn a_shorter_delay_never_overtakes_frames_already_on_the_wire() {
        let clock = Clock::new_virtual();
        let p = LinkParams::with_delay(10_000);
        let (mut a, mut b) = Wire::pair_with(clock.clone(), ("a", [2; 6]), ("b", [4; 6]), &p, 1);
        a.ndo_open().unwrap();
        b.ndo_open().unwrap();
        let _ = a.ndo_start_xmit(skb_from_frame(0, &[1; 20]));
        a.handle().set_tx_params(LinkParams::with_delay(1_000), 0);
        let _ = a.ndo_start_xmit(skb_from_frame(0, &[2; 20]));
        assert_eq!(a.handle().in_flight(), 2);
        assert_eq!(drain(&mut b, &clock), vec![(10_000, 1), (10_000, 2)]);
        let s = a.handle().stats();
        assert_eq!((s.tx_frames, s.tx_bytes), (2, 40));
        assert_eq!(b.handle().stats().rx_frames, 2);
    }

    #[test]
    fn receiver_gets_a_fresh_skb_with_no_sender_metadata() {
        let clock = Clock::new_virtual();
        let (mut a, mut b) = Wire::pair(clock.clone(), "a", [2; 6], "b", [4; 6]);
        a.ndo_open().unwrap();
        b.ndo_open().unwrap();
        let mut skb = skb_from_frame(3, &[9; 30]);
        skb.protocol = 0x0800;
        skb.mark = 7;
        skb.tstamp = 99;
        let _ = a.ndo_start_xmit(skb);
        let mut rx = SkBuffHead::new();
        assert_eq!(b.poll(64, &mut rx), 1);
        let r = rx.dequeue().unwrap();
        assert_eq!((r.protocol, r.mark, r.tstamp, r.dev), (0, 0, 0, 0));
        assert_eq!(r.data(), &[9; 30]);
    }

    #[test]
    fn netem_on_a_direction_is_applied_before_the_serialiser() {
        let clock = Clock::new_virtual();
        let p = LinkParams {
            delay_ns: 1_000,
            rate_bps: 8_000_000_000, // 1 byte per ns
            netem: Some(NetemParams { latency_ns: 5_000, ..NetemParams::default() }),
            ..LinkParams::default()
        };
        let (mut a, mut b) = Wire::pair_with(clock.clone(), ("a", [2; 6]), ("b", [4; 6]), &p, 1);
        a.ndo_open().unwrap();
        b.ndo_open().unwrap();
        let _ = a.ndo_start_xmit(skb_from_frame(0, &[1; 100]));
        let _ = a.ndo_start_xmit(skb_from_frame(0, &[2; 100]));
        // netem releases both at 5000; they serialise 100 ns each, then 1000 ns.
        assert_eq!(b.next_rx_time(), Some(5_000), "first wake-up: netem's release");
        assert_eq!(drain(&mut b, &clock), vec![(6_100, 1), (6_200, 2)]);
    }
}
