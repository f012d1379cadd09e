//! OWNER: helper ROUTE — replace this stub. Mirrors net/ipv4/devinet.c.
use crate::{Ipv4, Ipv4Addr};
use net_core::{Errno, Net};

/// One address on one interface (`struct in_ifaddr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InIfaddr {
    /// The device.
    pub ifindex: u32,
    /// `ifa_local`.
    pub local: Ipv4Addr,
    /// `ifa_prefixlen`.
    pub prefixlen: u8,
    /// `ifa_broadcast`.
    pub broadcast: Ipv4Addr,
}

/// Every interface's addresses.
pub struct InDevices {}
impl InDevices {
    /// None yet.
    pub fn new() -> Self {
        InDevices {}
    }
    /// True if `addr` is one of ours (`inet_addr_type() == RTN_LOCAL`).
    pub fn is_local(&self, _addr: Ipv4Addr) -> bool {
        todo!()
    }
    /// Every address.
    pub fn addrs(&self) -> Vec<InIfaddr> {
        todo!()
    }
}
impl Default for InDevices {
    fn default() -> Self {
        Self::new()
    }
}
/// `ip addr add LOCAL/PREFIXLEN dev IFINDEX`: the address, its local and
/// connected routes, and a gratuitous ARP when the device is up.
pub fn inet_addr_add(
    _net: &Net,
    _ipv4: &Ipv4,
    _ifindex: u32,
    _local: Ipv4Addr,
    _prefixlen: u8,
) -> Result<(), Errno> {
    todo!()
}
/// The source address to use towards `dst` out of `ifindex` (`inet_select_addr()`).
pub fn inet_select_addr(_ipv4: &Ipv4, _ifindex: u32, _dst: Ipv4Addr) -> Option<Ipv4Addr> {
    todo!()
}
