//! OWNER: helper L2 — replace this stub. Mirrors net/ethernet/eth.c.
use net_core::netdevice::{MacAddr, NetDev};
use net_core::{Net, SkBuff};
use std::sync::Arc;

/// Classify a received frame and pull its Ethernet header (`eth_type_trans()`);
/// `None` when shorter than `ETH_HLEN`.
pub fn eth_type_trans(_skb: &mut SkBuff, _dev: &NetDev) -> Option<u16> {
    todo!()
}
/// Push an Ethernet header (`eth_header()`).
pub fn eth_header(_skb: &mut SkBuff, _saddr: MacAddr, _daddr: MacAddr, _proto: u16) {
    todo!()
}
/// Register Ethernet's header ops for ARPHRD_ETHER and ARPHRD_LOOPBACK.
pub fn eth_init(_net: &Arc<Net>) {
    todo!()
}
