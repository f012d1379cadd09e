//! OWNER: helper L2 — replace this stub. Mirrors net/core/neighbour.c.
use crate::{Ipv4, Ipv4Addr};
use net_core::{Errno, Net, NetDev, Skb};
use std::sync::Arc;

/// The ARP neighbour table (`arp_tbl`).
pub struct NeighTable {}
impl NeighTable {
    /// An empty table.
    pub fn new() -> Self {
        NeighTable {}
    }
}
impl Default for NeighTable {
    fn default() -> Self {
        Self::new()
    }
}
/// Send `skb` (data at the IPv4 header) to `nexthop` on `dev`: push the
/// Ethernet header and `dev_queue_xmit`, or queue while ARP resolves
/// (`neigh_output()` / `neigh_resolve_output()`).
pub fn neigh_output(
    _net: &Net,
    _ipv4: &Ipv4,
    _dev: &Arc<NetDev>,
    _nexthop: Ipv4Addr,
    _skb: Skb,
) -> Result<(), Errno> {
    todo!()
}
