//! OWNER: helper L3 — replace this stub. Mirrors net/ipv4/ip_output.c.
use crate::route::Rtable;
use crate::{Ipv4, Ipv4Addr};
use net_core::{Errno, Net, Skb};

/// IP ID state (`ip_idents`).
pub struct IpIdents {}
impl IpIdents {
    /// Keyed from the namespace's secrets.
    pub fn new(_net: &Net) -> Self {
        IpIdents {}
    }
}

/// Per-call options for [`ip_build_and_send_pkt`].
#[derive(Clone, Copy, Debug, Default)]
pub struct IpSendOpts {
    /// TTL; `None` means `ip_default_ttl`.
    pub ttl: Option<u8>,
    /// Type of service byte.
    pub tos: u8,
    /// Don't-fragment: `None` means "as path-MTU discovery says" (set).
    pub df: Option<bool>,
    /// Bind to this output device.
    pub oif: Option<u32>,
}

/// Route, push an IPv4 header in front of `skb` (whose data is the
/// transport header and payload, with at least `MAX_HEADER` of headroom) and
/// send it (`ip_build_and_send_pkt()` / `ip_queue_xmit()`). `saddr` of
/// `0.0.0.0` lets the route choose. Errors: `ENETUNREACH` (no route),
/// `EMSGSIZE` (DF and larger than the MTU), those of `neigh_output`.
pub fn ip_build_and_send_pkt(
    _net: &Net,
    _ipv4: &Ipv4,
    _skb: Skb,
    _saddr: Ipv4Addr,
    _daddr: Ipv4Addr,
    _protocol: u8,
    _opts: IpSendOpts,
) -> Result<(), Errno> {
    todo!()
}

/// Send a datagram whose IPv4 header is complete at `skb.data`, along `rt`
/// (`ip_local_out()` → `ip_output()` → `ip_finish_output()`, which
/// fragments, → `ip_finish_output2()` → `neigh_output()`, or loops it back
/// to `ip_rcv` for a local route).
pub fn ip_local_out(_net: &Net, _ipv4: &Ipv4, _skb: Skb, _rt: &Rtable) -> Result<(), Errno> {
    todo!()
}
