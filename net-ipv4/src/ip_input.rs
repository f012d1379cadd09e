//! OWNER: helper L3 — replace this stub. Mirrors net/ipv4/ip_input.c.
use crate::Ipv4;
use net_core::Net;
use std::sync::Arc;

/// Register `ip_packet_type` (`ip_init()` / `dev_add_pack(&ip_packet_type)`).
pub fn ip_init(_net: &Arc<Net>, _ipv4: &Arc<Ipv4>) {
    todo!()
}
