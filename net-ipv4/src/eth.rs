//! Ethernet: classify received frames, build headers for sent ones.
//!
//! Mirrors net/ethernet/eth.c (`eth_type_trans()`, `eth_header()`,
//! `eth_header_ops`) and the helpers of include/linux/etherdevice.h
//! (`is_multicast_ether_addr()`, `eth_skb_pkt_type()`), Linux 6.18.
//! Read first: RFC 894 (IP over Ethernet), IEEE 802.3 clause 3 (the
//! length/type field).
//!
//! # Each layer carries the next layer's selector
//!
//! An Ethernet II header is two addresses and a 16-bit `h_proto` naming the
//! network protocol (`ETH_P_IP`, `ETH_P_ARP`). Values below
//! `ETH_P_802_3_MIN` (0x0600) are not types but 802.3 lengths: the payload
//! then starts with an 802.2 LLC header, except for Novell's "raw 802.3"
//! IPX, spotted by its `0xFFFF` first word. [`eth_type_trans`] turns the
//! header into `skb.protocol` and `skb.pkt_type`, which is all the stack
//! above needs from the link layer.
//!
//! A link without a type field needs no such step. The first article
//! (shared/seeds/000_*) shows SLIP's `sl_bump()` writing
//! `skb->protocol = htons(ETH_P_IP)` itself: a SLIP line carries only IP,
//! and ARP means nothing there. In linnet the stack, not the driver, calls
//! the device type's header ops, and net-core's `net_rx_action` skips them
//! when the driver already set `skb.protocol` — so a SLIP-like driver works
//! exactly as in Linux (see the test `slip_driver_bypasses_eth_type_trans`).
//!
//! Where we differ: Linux drivers call `eth_type_trans()` themselves and set
//! `dev->header_ops = &eth_header_ops` in `ether_setup()`; we register
//! [`EthHeaderOps`] per device type with [`eth_init`]. No DSA tagging, no
//! header cache (`eth_header_cache`).

use net_core::if_ether::{ETH_ALEN, ETH_HLEN, ETH_P_802_2, ETH_P_802_3, ETH_P_802_3_MIN};
use net_core::netdevice::{ARPHRD_ETHER, ARPHRD_LOOPBACK, HeaderOps, MacAddr, NetDev};
use net_core::skbuff::PktType;
use net_core::{Net, SkBuff};
use std::fmt;
use std::sync::Arc;

/// The Ethernet broadcast address `ff:ff:ff:ff:ff:ff`.
pub const ETH_BROADCAST: MacAddr = [0xff; ETH_ALEN];

/// True for a group address: the I/G bit, the low bit of the first octet
/// (`is_multicast_ether_addr()`); broadcast is a group address too.
pub fn is_multicast_ether_addr(addr: &MacAddr) -> bool {
    addr[0] & 0x01 != 0
}

/// True for `ff:ff:ff:ff:ff:ff` (`is_broadcast_ether_addr()`).
pub fn is_broadcast_ether_addr(addr: &MacAddr) -> bool {
    *addr == ETH_BROADCAST
}

/// True for `00:00:00:00:00:00` (`is_zero_ether_addr()`).
pub fn is_zero_ether_addr(addr: &MacAddr) -> bool {
    *addr == [0; ETH_ALEN]
}

/// Displays a MAC address as `ip link` does: `02:00:00:00:00:01`.
#[doc(alias = "%pM")]
pub struct MacFmt<'a>(pub &'a MacAddr);

impl fmt::Display for MacFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", a[0], a[1], a[2], a[3], a[4], a[5])
    }
}

/// A MAC address in `ip link`'s notation (`%pM` in printk).
pub fn mac_to_string(addr: &MacAddr) -> String {
    MacFmt(addr).to_string()
}

// ANCHOR: ethhdr
/// A read-only, zero-copy view of `struct ethhdr` (include/uapi/linux/if_ether.h).
///
/// [`EthHdr::new_checked`] refuses a buffer shorter than `ETH_HLEN`; after
/// that no accessor can panic.
#[derive(Clone, Copy, Debug)]
pub struct EthHdr<'a> {
    buf: &'a [u8],
}

mod field {
    use std::ops::Range;
    pub const H_DEST: Range<usize> = 0..6;
    pub const H_SOURCE: Range<usize> = 6..12;
    pub const H_PROTO: Range<usize> = 12..14;
}

impl<'a> EthHdr<'a> {
    /// View the first `ETH_HLEN` bytes of `buf`; `None` when it is shorter.
    pub fn new_checked(buf: &'a [u8]) -> Option<Self> {
        (buf.len() >= ETH_HLEN).then_some(EthHdr { buf })
    }

    /// Destination address.
    pub fn h_dest(&self) -> MacAddr {
        let mut a = [0; ETH_ALEN];
        a.copy_from_slice(&self.buf[field::H_DEST]);
        a
    }

    /// Source address.
    pub fn h_source(&self) -> MacAddr {
        let mut a = [0; ETH_ALEN];
        a.copy_from_slice(&self.buf[field::H_SOURCE]);
        a
    }

    /// Type (or 802.3 length), host order.
    pub fn h_proto(&self) -> u16 {
        net_core::unaligned::get_unaligned_be16(self.buf, field::H_PROTO.start)
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[ETH_HLEN..]
    }
}

/// Write an Ethernet header into the first `ETH_HLEN` bytes of `buf`
/// (which must be at least that long: our own buffers, never input).
pub fn write_ethhdr(buf: &mut [u8], daddr: &MacAddr, saddr: &MacAddr, proto: u16) {
    buf[field::H_DEST].copy_from_slice(daddr);
    buf[field::H_SOURCE].copy_from_slice(saddr);
    buf[field::H_PROTO].copy_from_slice(&proto.to_be_bytes());
}
// ANCHOR_END: ethhdr

/// `ETH_P_*` is a type, not an 802.3 length (`eth_proto_is_802_3()`).
pub fn eth_proto_is_802_3(proto: u16) -> bool {
    proto >= ETH_P_802_3_MIN
}

// ANCHOR: eth_type_trans
/// Classify a received frame and pull its Ethernet header.
///
/// Mirrors `eth_type_trans()` (net/ethernet/eth.c): set `skb->dev`, mark the
/// MAC header at the frame start, pull `ETH_HLEN`, then
/// `eth_skb_pkt_type()`: a destination other than the device's own address
/// is `PACKET_BROADCAST` if it equals `dev->broadcast`, `PACKET_MULTICAST`
/// if its group bit is set, `PACKET_OTHERHOST` otherwise (what a NIC in
/// promiscuous mode hands up); our own address leaves `pkt_type` as is
/// (`PACKET_HOST`). Returns the EtherType; for an 802.3 length, "raw 802.3"
/// (`ETH_P_802_3`) when the payload starts `0xFFFF` (Novell IPX), real
/// 802.2 LLC (`ETH_P_802_2`) otherwise.
///
/// Failure: a frame shorter than `ETH_HLEN` returns `None` untouched (Linux
/// trusts the driver's length; net-core drops and counts it as
/// `PKT_TOO_SMALL`).
pub fn eth_type_trans(skb: &mut SkBuff, dev: &NetDev) -> Option<u16> {
    net_core::ftrace_graph!("eth_type_trans");
    let (dest, proto) = {
        let eth = EthHdr::new_checked(skb.data())?;
        (eth.h_dest(), eth.h_proto())
    };
    skb.dev = dev.ifindex;
    skb.reset_mac_header();
    skb.pull(ETH_HLEN)?;
    // eth_skb_pkt_type()
    if dest != dev.dev_addr() {
        skb.pkt_type = if is_multicast_ether_addr(&dest) {
            if dest == dev.broadcast { PktType::Broadcast } else { PktType::Multicast }
        } else {
            PktType::OtherHost
        };
    }
    if eth_proto_is_802_3(proto) {
        return Some(proto);
    }
    // The magic hack to spot IPX over raw 802.3: 0xFFFF is no 802.2 SAP.
    if skb.data().get(..2) == Some(&[0xff, 0xff]) {
        return Some(ETH_P_802_3);
    }
    Some(ETH_P_802_2)
}
// ANCHOR_END: eth_type_trans

/// Push an Ethernet header.
///
/// Mirrors `eth_header()` (net/ethernet/eth.c) with both addresses known:
/// `skb_push(ETH_HLEN)`, then destination, source and type. For
/// `ETH_P_802_3`/`ETH_P_802_2` the field carries the payload length instead.
/// Running out of headroom is a bug in the caller (it reserved
/// `LL_MAX_HEADER`) and panics, as `skb_push` does.
pub fn eth_header(skb: &mut SkBuff, saddr: MacAddr, daddr: MacAddr, proto: u16) {
    let field = if proto != ETH_P_802_3 && proto != ETH_P_802_2 { proto } else { skb.len() as u16 };
    let h = skb.push(ETH_HLEN);
    write_ethhdr(h, &daddr, &saddr, field);
}

/// Ethernet's header operations (`eth_header_ops`).
#[derive(Debug, Default, Clone, Copy)]
#[doc(alias = "eth_header_ops")]
pub struct EthHeaderOps;

impl HeaderOps for EthHeaderOps {
    fn type_trans(&self, skb: &mut SkBuff, dev: &NetDev) -> Option<u16> {
        eth_type_trans(skb, dev)
    }

    /// `eth_header()`: a missing source is the device's address; a missing
    /// destination is all zeroes on loopback and `IFF_NOARP` devices ("the
    /// loopback device should never use this function") and on others too,
    /// where Linux returns `-ETH_HLEN` to say "not resolved yet". An address
    /// slice shorter than 6 bytes counts as missing.
    fn create(&self, skb: &mut SkBuff, dev: &NetDev, proto: u16, daddr: Option<&[u8]>, saddr: Option<&[u8]>) {
        let to_mac = |a: Option<&[u8]>| -> Option<MacAddr> { a?.get(..ETH_ALEN)?.try_into().ok() };
        let saddr = to_mac(saddr).unwrap_or_else(|| dev.dev_addr());
        // Linux writes zeroes in both cases; only its return value differs.
        let daddr = to_mac(daddr).unwrap_or([0; ETH_ALEN]);
        eth_header(skb, saddr, daddr, proto);
    }
}

/// Register Ethernet's header ops for `ARPHRD_ETHER` and `ARPHRD_LOOPBACK`
/// devices (Linux: `ether_setup()` and `loopback_setup()` set
/// `dev->header_ops = &eth_header_ops`).
pub fn eth_init(net: &Arc<Net>) {
    net.register_header_ops(ARPHRD_ETHER, Arc::new(EthHeaderOps));
    net.register_header_ops(ARPHRD_LOOPBACK, Arc::new(EthHeaderOps));
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::if_ether::{ETH_P_ARP, ETH_P_IP};
    use net_core::netdevice::{ARPHRD_SLIP, IFF_NOARP, IFF_POINTOPOINT, NetDeviceSetup};
    use net_core::skbuff::{alloc_skb, skb_from_frame};
    use net_core::{Clock, NetDevice, NetRx, NetdevTx, PacketType, SkBuffHead, Skb};
    use proptest::prelude::*;
    use std::sync::Mutex;

    const OUR_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x01];

    /// A device that records what it is asked to send and hands up what a
    /// test queues, optionally setting `skb.protocol` itself (SLIP-style).
    struct FakeDev {
        setup: NetDeviceSetup,
        rx: Frames,
        set_protocol: Option<u16>,
    }

    impl NetDevice for FakeDev {
        fn setup(&self) -> NetDeviceSetup {
            self.setup.clone()
        }
        fn ndo_start_xmit(&mut self, _skb: Skb) -> NetdevTx {
            NetdevTx::Ok
        }
        fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
            let mut q = self.rx.lock().unwrap();
            let n = q.len().min(budget);
            for f in q.drain(..n) {
                let mut skb = skb_from_frame(0, &f);
                if let Some(p) = self.set_protocol {
                    skb.protocol = p; // sl_bump(): skb->protocol = htons(ETH_P_IP)
                }
                rx.queue_tail(skb);
            }
            n
        }
    }

    type Frames = Arc<Mutex<Vec<Vec<u8>>>>;

    fn ether_dev() -> (Arc<Net>, Arc<NetDev>, Frames) {
        let net = Net::new("h", Clock::new_virtual(), 1);
        let rx = Arc::new(Mutex::new(Vec::new()));
        let dev = net
            .register_netdev(Box::new(FakeDev {
                setup: NetDeviceSetup::ether("eth0", OUR_MAC),
                rx: rx.clone(),
                set_protocol: None,
            }))
            .unwrap();
        dev.open().unwrap();
        (net, dev, rx)
    }

    fn frame(dest: MacAddr, proto: u16, payload: &[u8]) -> Skb {
        let mut f = Vec::new();
        f.extend_from_slice(&dest);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
        f.extend_from_slice(&proto.to_be_bytes());
        f.extend_from_slice(payload);
        skb_from_frame(0, &f)
    }

    #[test]
    fn ethhdr_view_reads_pinned_bytes() {
        // The first 14 bytes of a real ARP request (Wireshark's arp sample).
        let b = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x08, 0x06];
        let h = EthHdr::new_checked(&b).unwrap();
        assert_eq!(h.h_dest(), ETH_BROADCAST);
        assert_eq!(h.h_source(), [0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54]);
        assert_eq!(h.h_proto(), ETH_P_ARP);
        assert!(h.payload().is_empty());
        assert!(EthHdr::new_checked(&b[..13]).is_none());
    }

    #[test]
    fn eth_type_trans_classifies_destinations() {
        let (_net, dev, _) = ether_dev();
        let cases = [
            (OUR_MAC, PktType::Host),
            (ETH_BROADCAST, PktType::Broadcast),
            ([0x01, 0x00, 0x5e, 0, 0, 1], PktType::Multicast),
            ([0x02, 0, 0, 0, 0, 0x02], PktType::OtherHost),
        ];
        for (dest, want) in cases {
            let mut skb = frame(dest, ETH_P_IP, &[0x45, 0]);
            assert_eq!(eth_type_trans(&mut skb, &dev), Some(ETH_P_IP));
            assert_eq!(skb.pkt_type, want, "dest {}", mac_to_string(&dest));
            assert_eq!(skb.data(), &[0x45, 0], "header pulled");
            assert_eq!(skb.mac_header().len(), ETH_HLEN + 2, "mac header at the frame start");
            assert_eq!(skb.dev, dev.ifindex);
        }
    }

    #[test]
    fn eth_type_trans_802_3_lengths() {
        let (_net, dev, _) = ether_dev();
        let mut raw = frame(OUR_MAC, 46, &[0xff, 0xff, 0x00]);
        assert_eq!(eth_type_trans(&mut raw, &dev), Some(ETH_P_802_3));
        let mut llc = frame(OUR_MAC, 46, &[0xaa, 0xaa, 0x03]);
        assert_eq!(eth_type_trans(&mut llc, &dev), Some(ETH_P_802_2));
        let mut empty = frame(OUR_MAC, 0x05ff, &[]);
        assert_eq!(eth_type_trans(&mut empty, &dev), Some(ETH_P_802_2));
        let mut boundary = frame(OUR_MAC, ETH_P_802_3_MIN, &[]);
        assert_eq!(eth_type_trans(&mut boundary, &dev), Some(ETH_P_802_3_MIN));
        let mut short = skb_from_frame(0, &[0; 13]);
        assert_eq!(eth_type_trans(&mut short, &dev), None);
        assert_eq!(short.len(), 13, "a short frame is left untouched");
    }

    #[test]
    fn eth_header_writes_every_byte() {
        let mut skb = alloc_skb(64);
        skb.reserve(32);
        skb.put(4).fill(0xa5);
        // Pre-fill the headroom so a forgotten header byte shows.
        skb.push(14).fill(0xa5);
        skb.pull(14);
        eth_header(&mut skb, OUR_MAC, [0x02, 0, 0, 0, 0, 2], ETH_P_IP);
        assert_eq!(skb.data(), &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0xa5, 0xa5, 0xa5, 0xa5]);
        let mut s2 = alloc_skb(64);
        s2.reserve(32);
        s2.put(10).fill(0xa5);
        eth_header(&mut s2, OUR_MAC, ETH_BROADCAST, ETH_P_802_3);
        assert_eq!(&s2.data()[12..14], &[0, 10], "802.3 carries the length");
    }

    #[test]
    fn header_ops_create_defaults() {
        let (_net, dev, _) = ether_dev();
        let mut skb = alloc_skb(64);
        skb.reserve(32);
        EthHeaderOps.create(&mut skb, &dev, ETH_P_ARP, None, None);
        assert_eq!(skb.data(), &[0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        let mut skb = alloc_skb(64);
        skb.reserve(32);
        EthHeaderOps.create(&mut skb, &dev, ETH_P_IP, Some(&ETH_BROADCAST), Some(&[9, 9, 9, 9, 9, 9]));
        assert_eq!(skb.data(), &[255, 255, 255, 255, 255, 255, 9, 9, 9, 9, 9, 9, 8, 0]);
    }

    #[test]
    fn eth_init_registers_and_net_rx_action_uses_it() {
        let (net, dev, rx) = ether_dev();
        eth_init(&net);
        assert!(net.header_ops(ARPHRD_LOOPBACK).is_some());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        net.dev_add_pack(PacketType::new(ETH_P_IP, "test_rcv", move |_, skb| {
            s.lock().unwrap().push((skb.data().to_vec(), skb.pkt_type));
            NetRx::Success
        }));
        let mut f = Vec::new();
        f.extend_from_slice(&OUR_MAC);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0x00]);
        rx.lock().unwrap().push(f);
        net.poll();
        assert_eq!(seen.lock().unwrap().as_slice(), &[(vec![0x45, 0x00], PktType::Host)]);
        assert_eq!(dev.stats.snapshot().rx_packets, 1);
    }

    /// The first article's SLIP case: a driver for a link that carries only
    /// IP sets `skb.protocol` itself, and the stack must not run
    /// `eth_type_trans` over what is really an IP header.
    #[test]
    fn slip_driver_bypasses_eth_type_trans() {
        let net = Net::new("slip", Clock::new_virtual(), 1);
        // Even with Ethernet's ops registered for SLIP (a trap: they would
        // pull 14 bytes of the IP header), the driver's protocol wins.
        net.register_header_ops(ARPHRD_SLIP, Arc::new(EthHeaderOps));
        let rx = Arc::new(Mutex::new(Vec::new()));
        let mut setup = NetDeviceSetup::ether("sl0", [0; 6]);
        setup.type_ = ARPHRD_SLIP;
        setup.hard_header_len = 0;
        setup.flags = IFF_POINTOPOINT | IFF_NOARP;
        let dev = net
            .register_netdev(Box::new(FakeDev { setup, rx: rx.clone(), set_protocol: Some(ETH_P_IP) }))
            .unwrap();
        dev.open().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        net.dev_add_pack(PacketType::new(ETH_P_IP, "ip_rcv", move |_, skb| {
            s.lock().unwrap().push(skb.data().to_vec());
            NetRx::Success
        }));
        let ip = vec![0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        rx.lock().unwrap().push(ip.clone());
        net.poll();
        assert_eq!(seen.lock().unwrap().as_slice(), &[ip], "the IP header arrives whole");
    }

    proptest! {
        #[test]
        fn eth_type_trans_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let (_net, dev, _) = ether_dev();
            let mut skb = skb_from_frame(0, &bytes);
            let r = eth_type_trans(&mut skb, &dev);
            prop_assert_eq!(r.is_some(), bytes.len() >= ETH_HLEN);
            if r.is_some() {
                prop_assert_eq!(skb.len(), bytes.len() - ETH_HLEN);
            }
        }
    }

    #[test]
    fn mac_display() {
        assert_eq!(mac_to_string(&[0x02, 0, 0xab, 0, 0, 0x0f]), "02:00:ab:00:00:0f");
        assert!(is_multicast_ether_addr(&ETH_BROADCAST) && is_broadcast_ether_addr(&ETH_BROADCAST));
        assert!(is_zero_ether_addr(&[0; 6]));
    }
}
