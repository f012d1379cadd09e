//! OWNER: helper ROUTE — replace this stub. Mirrors net/ipv4/ip_forward.c.
use crate::Ipv4;
use crate::route::Rtable;
use net_core::{Net, NetRx, Skb};

/// Forward a datagram (`ip_forward()`): TTL, checksum, time exceeded, MTU.
pub fn ip_forward(_net: &Net, _ipv4: &Ipv4, _skb: Skb, _rt: Rtable) -> NetRx {
    todo!()
}
