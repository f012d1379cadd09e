//! OWNER: helper ROUTE — replace this stub. Mirrors net/ipv4/route.c.
use crate::fib::RtnType;
use crate::{Ipv4, Ipv4Addr};
use net_core::dropreason::SkbDropReason;
use net_core::{Errno, Net, SkBuff};

/// A routing decision (`struct rtable`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtable {
    /// `rt_type`.
    pub rt_type: RtnType,
    /// Output device (for input routes of type Local: the receiving device).
    pub dev: u32,
    /// `rt_gw4`, `None` when the destination is on-link.
    pub gateway: Option<Ipv4Addr>,
    /// Source address to use (`fl4->saddr` after the lookup).
    pub saddr: Ipv4Addr,
    /// Path MTU.
    pub mtu: u32,
}
impl Rtable {
    /// Where to send a packet for `daddr` (`rt_nexthop()`).
    pub fn nexthop(&self, daddr: Ipv4Addr) -> Ipv4Addr {
        self.gateway.unwrap_or(daddr)
    }
}
/// Route a locally generated packet (`ip_route_output_key()`):
/// `ENETUNREACH` when nothing matches.
pub fn ip_route_output(
    _net: &Net,
    _ipv4: &Ipv4,
    _daddr: Ipv4Addr,
    _saddr: Option<Ipv4Addr>,
    _oif: Option<u32>,
) -> Result<Rtable, Errno> {
    todo!()
}
/// Route a received packet (`ip_route_input_noref()`): local delivery,
/// forwarding, or a drop reason (martian source, no route, forwarding off).
pub fn ip_route_input(
    _net: &Net,
    _ipv4: &Ipv4,
    _skb: &SkBuff,
    _daddr: Ipv4Addr,
    _saddr: Ipv4Addr,
    _iif: u32,
) -> Result<Rtable, SkbDropReason> {
    todo!()
}
