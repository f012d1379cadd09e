//! OWNER: helper ICMPUDP — replace this stub. Mirrors net/ipv4/icmp.c.
use crate::Ipv4;
use net_core::{Net, SkBuff};
use std::sync::Arc;

/// Per-namespace ICMP state.
pub struct IcmpState {}
impl IcmpState {
    /// Fresh state.
    pub fn new() -> Self {
        IcmpState {}
    }
}
impl Default for IcmpState {
    fn default() -> Self {
        Self::new()
    }
}
/// Register `icmp_protocol`.
pub fn icmp_init(_net: &Arc<Net>, _ipv4: &Arc<Ipv4>) {
    todo!()
}
/// Send an ICMP error about `skb_in`, whose network header is the offending
/// datagram (`__icmp_send()`); rate-limited; never about ICMP errors,
/// non-first fragments, or broadcasts.
pub fn icmp_send(_net: &Net, _ipv4: &Ipv4, _skb_in: &SkBuff, _type: u8, _code: u8, _info: u32) {
    todo!()
}
