//! Helpers shared by net-dev's integration tests: a tiny `eth_type_trans()`
//! (net-dev may not depend on net-ipv4), frame builders and a collector.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use net_core::netdevice::{ARPHRD_ETHER, ARPHRD_LOOPBACK, HeaderOps, NetDev};
use net_core::skbuff::PktType;
use net_core::{Net, NetRx, PacketType, SkBuff};

/// A made-up EtherType (IEEE 802 local experimental 1).
pub const ETH_P_TEST: u16 = 0x88b5;

/// Minimal `eth_header_ops`: classify by destination MAC, mark the MAC
/// header, pull 14 bytes, return the EtherType.
pub struct TestEth;

impl HeaderOps for TestEth {
    fn type_trans(&self, skb: &mut SkBuff, dev: &NetDev) -> Option<u16> {
        if skb.len() < 14 {
            return None;
        }
        let d = skb.data();
        let dst = [d[0], d[1], d[2], d[3], d[4], d[5]];
        let proto = u16::from_be_bytes([d[12], d[13]]);
        skb.pkt_type = if dst == [0xff; 6] {
            PktType::Broadcast
        } else if dst[0] & 1 != 0 {
            PktType::Multicast
        } else if dst == dev.dev_addr() || dev.is_loopback() {
            PktType::Host
        } else {
            PktType::OtherHost
        };
        skb.reset_mac_header();
        skb.pull(14)?;
        Some(proto)
    }
    fn create(&self, _: &mut SkBuff, _: &NetDev, _: u16, _: Option<&[u8]>, _: Option<&[u8]>) {}
}

/// Register [`TestEth`] for Ethernet and loopback devices.
pub fn register_eth(net: &Net) {
    net.register_header_ops(ARPHRD_ETHER, Arc::new(TestEth));
    net.register_header_ops(ARPHRD_LOOPBACK, Arc::new(TestEth));
}

/// An Ethernet frame: dst, src, EtherType, payload.
pub fn eth_frame(dst: [u8; 6], src: [u8; 6], proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&proto.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// What a handler received: (time ns, ifindex, pkt_type, payload after the
/// Ethernet header).
pub type Got = Arc<Mutex<Vec<(u64, u32, PktType, Vec<u8>)>>>;

/// Register a handler for [`ETH_P_TEST`] that records what it receives.
pub fn collect(net: &Net) -> Got {
    let got: Got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    net.dev_add_pack(PacketType::new(ETH_P_TEST, "test_rcv", move |net, skb| {
        g.lock().unwrap().push((net.now_ns(), skb.dev, skb.pkt_type, skb.data().to_vec()));
        NetRx::Success
    }));
    got
}

/// Transmit a raw frame on `dev`.
pub fn send(net: &Net, dev: &NetDev, frame: &[u8]) {
    let skb = net_core::skbuff::skb_from_frame(dev.ifindex, frame);
    net.dev_queue_xmit(skb).expect("dev_queue_xmit");
}
