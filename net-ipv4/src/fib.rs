//! OWNER: helper ROUTE — replace this stub. Mirrors net/ipv4/fib_trie.c, fib_frontend.c.
use crate::Ipv4Addr;
use net_core::Errno;

/// Route types (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtnType {
    /// A gateway or direct route (`RTN_UNICAST`).
    Unicast,
    /// Accept locally (`RTN_LOCAL`).
    Local,
    /// Accept locally as broadcast (`RTN_BROADCAST`).
    Broadcast,
    /// Multicast (`RTN_MULTICAST`).
    Multicast,
    /// Drop silently (`RTN_BLACKHOLE`).
    Blackhole,
    /// Destination unreachable (`RTN_UNREACHABLE`).
    Unreachable,
    /// Administratively prohibited (`RTN_PROHIBIT`).
    Prohibit,
}

/// One route (`struct fib_alias` + `fib_info`, flattened).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FibRoute {
    /// Destination prefix.
    pub dst: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefixlen: u8,
    /// Next hop, or `None` for a directly connected route.
    pub gateway: Option<Ipv4Addr>,
    /// Output device ifindex.
    pub oif: u32,
    /// Metric (priority); lower wins among equal prefixes.
    pub metric: u32,
    /// Type.
    pub rtn_type: RtnType,
    /// Preferred source address.
    pub prefsrc: Option<Ipv4Addr>,
}

/// The local and main tables.
pub struct Fib {}
impl Fib {
    /// Empty tables.
    pub fn new() -> Self {
        Fib {}
    }
    /// `ip route add` (`fib_table_insert()`): `EEXIST` for a duplicate.
    pub fn fib_table_insert(&self, _r: FibRoute) -> Result<(), Errno> {
        todo!()
    }
    /// Longest-prefix match, local table first (`fib_lookup()`).
    pub fn fib_lookup(&self, _daddr: Ipv4Addr) -> Option<FibRoute> {
        todo!()
    }
}
impl Default for Fib {
    fn default() -> Self {
        Self::new()
    }
}
