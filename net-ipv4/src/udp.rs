//! OWNER: helper ICMPUDP — replace this stub. Mirrors net/ipv4/udp.c.
use crate::Ipv4;
use net_core::Net;
use std::sync::Arc;

/// UDP sockets by port (`udp_table`).
pub struct UdpTable {}
impl UdpTable {
    /// Empty.
    pub fn new() -> Self {
        UdpTable {}
    }
}
impl Default for UdpTable {
    fn default() -> Self {
        Self::new()
    }
}
/// Register `udp_protocol`.
pub fn udp_init(_net: &Arc<Net>, _ipv4: &Arc<Ipv4>) {
    todo!()
}
