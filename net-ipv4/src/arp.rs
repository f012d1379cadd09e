//! OWNER: helper L2 — replace this stub. Mirrors net/ipv4/arp.c.
use crate::{Ipv4, Ipv4Addr};
use net_core::Net;
use std::sync::Arc;

/// Register `arp_packet_type` (`arp_init()`).
pub fn arp_init(_net: &Arc<Net>, _ipv4: &Arc<Ipv4>) {
    todo!()
}
/// Announce `addr` on `ifindex` with a gratuitous ARP request.
pub fn arp_gratuitous(_net: &Net, _ipv4: &Ipv4, _ifindex: u32, _addr: Ipv4Addr) {
    todo!()
}
