//! Interface addresses: `ip addr add/del`, and the routes each address
//! implies.
//!
//! Mirrors `net/ipv4/devinet.c` (`struct in_device`, `struct in_ifaddr`,
//! `__inet_insert_ifa()`, `__inet_del_ifa()`, `inet_select_addr()`) and the
//! address half of `net/ipv4/fib_frontend.c` (`fib_add_ifaddr()`,
//! `fib_del_ifaddr()`, `fib_magic()`) of **Linux 6.18**.
//!
//! Read first: RFC 1122 §3.3.4 (multihoming: which source address to use)
//! and RFC 1812 §2.2.5.1 / §4.2.3 (subnet broadcast addresses).
//!
//! An address `10.0.0.1/24` on `eth0` makes, as in Linux:
//!
//! ```text
//! local 10.0.0.1 dev eth0 table local proto kernel scope host src 10.0.0.1
//! broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.1
//! 10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1
//! ```
//!
//! A second address in a subnet the device already has becomes
//! *secondary* (`IFA_F_SECONDARY`): it gets its local route only.
//!
//! # Where we differ
//!
//! - Addresses are one list for all devices (primaries first per device,
//!   in insertion order) instead of a list hanging off each `in_device`;
//!   there are no per-device `in_device` sysctls (`conf.<dev>.*`), no
//!   lifetimes, labels or peer addresses.
//! - Deleting a primary does not promote a secondary
//!   (`promote_secondaries`); its secondaries stay, without routes.
//! - The address list's lock (`spin::RwLock`, short critical sections, no
//!   allocation beyond a `Vec` push) is never held while the FIB is written
//!   or ARP is called.

use std::fmt::Write as _;

use crate::fib::{FibRoute, RTPROT_KERNEL, RtnType, inet_make_mask};
use crate::{Ipv4, Ipv4Addr};
use net_core::netdevice::{IFF_LOOPBACK, IFF_NOARP};
use net_core::{Errno, Net};

/// One address on one interface (`struct in_ifaddr`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(alias = "in_ifaddr")]
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

impl InIfaddr {
    /// `ifa_mask`, host order.
    pub fn mask(&self) -> u32 {
        inet_make_mask(self.prefixlen)
    }

    /// The subnet (`ifa_address & ifa_mask`).
    pub fn prefix(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.local) & self.mask())
    }

    /// `inet_ifa_match()`: is `addr` in this address's subnet?
    pub fn inet_ifa_match(&self, addr: Ipv4Addr) -> bool {
        (u32::from(addr) ^ u32::from(self.local)) & self.mask() == 0
    }
}

/// `IFA_F_SECONDARY`.
pub const IFA_F_SECONDARY: u8 = 0x01;

#[derive(Clone, Debug)]
struct Ifa {
    ifa: InIfaddr,
    /// `ifa_flags`.
    flags: u8,
    /// The device is a loopback device (its prefix is local, scope host).
    loopback: bool,
}

impl Ifa {
    fn secondary(&self) -> bool {
        self.flags & IFA_F_SECONDARY != 0
    }

    /// `ifa_scope`: host for 127/8 (Linux sets it from `ip addr add`'s
    /// default for loopback addresses), global otherwise.
    fn host_scope(&self) -> bool {
        self.ifa.local.is_loopback()
    }
}

/// Every interface's addresses (Linux: each `in_device`'s `ifa_list`).
#[doc(alias = "in_device")]
pub struct InDevices {
    /// Guarded by a spin lock: readers (`is_local` on every received
    /// datagram, source selection) and writers (`ip addr`) hold it for a
    /// short scan; no call out of this module happens under it.
    list: spin::RwLock<Vec<Ifa>>,
}

impl InDevices {
    /// No addresses yet.
    pub fn new() -> Self {
        InDevices { list: spin::RwLock::new(Vec::new()) }
    }

    /// True if `addr` is one of ours (`inet_addr_type() == RTN_LOCAL`):
    /// an address of any interface, or any address in a loopback
    /// device's prefix (`127.0.0.0/8` on `lo`).
    pub fn is_local(&self, addr: Ipv4Addr) -> bool {
        self.list.read().iter().any(|i| i.ifa.local == addr || (i.loopback && i.ifa.inet_ifa_match(addr)))
    }

    /// Every address, in `ip addr` order.
    pub fn addrs(&self) -> Vec<InIfaddr> {
        let mut v: Vec<(u32, usize, InIfaddr)> =
            self.list.read().iter().enumerate().map(|(n, i)| (i.ifa.ifindex, n, i.ifa.clone())).collect();
        v.sort_by_key(|(ifindex, n, _)| (*ifindex, *n));
        v.into_iter().map(|(_, _, a)| a).collect()
    }

    /// The addresses of one device, primaries first.
    pub fn dev_addrs(&self, ifindex: u32) -> Vec<InIfaddr> {
        let l = self.list.read();
        let mut v: Vec<&Ifa> = l.iter().filter(|i| i.ifa.ifindex == ifindex).collect();
        v.sort_by_key(|i| i.secondary());
        v.into_iter().map(|i| i.ifa.clone()).collect()
    }

    /// The device that owns `addr`, if it is one of ours.
    pub fn dev_of(&self, addr: Ipv4Addr) -> Option<u32> {
        let l = self.list.read();
        l.iter()
            .find(|i| i.ifa.local == addr)
            .or_else(|| l.iter().find(|i| i.loopback && i.ifa.inet_ifa_match(addr)))
            .map(|i| i.ifa.ifindex)
    }

    /// True if `addr` is the subnet broadcast address of one of our
    /// (primary) addresses (the local table's `RTN_BROADCAST` routes).
    pub fn is_broadcast(&self, addr: Ipv4Addr) -> bool {
        self.list.read().iter().any(|i| !i.secondary() && i.ifa.prefixlen < 31 && i.ifa.broadcast == addr)
    }

    /// `ip -4 addr`: each device with an IPv4 address, then its addresses.
    ///
    /// ```text
    /// 2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP group default qlen 1000
    ///     inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0
    ///        valid_lft forever preferred_lft forever
    /// ```
    pub fn ip_addr_show(&self, net: &Net) -> String {
        let addrs = self.addrs();
        let mut out = String::new();
        for dev in net.devices() {
            let mine: Vec<&InIfaddr> = addrs.iter().filter(|a| a.ifindex == dev.ifindex).collect();
            if mine.is_empty() {
                continue;
            }
            let mut flags = Vec::new();
            for (bit, name) in [
                (IFF_LOOPBACK, "LOOPBACK"),
                (net_core::netdevice::IFF_BROADCAST, "BROADCAST"),
                (net_core::netdevice::IFF_POINTOPOINT, "POINTOPOINT"),
                (net_core::netdevice::IFF_MULTICAST, "MULTICAST"),
                (IFF_NOARP, "NOARP"),
                (net_core::netdevice::IFF_UP, "UP"),
                (net_core::netdevice::IFF_LOWER_UP, "LOWER_UP"),
            ] {
                if dev.flags() & bit != 0 {
                    flags.push(name);
                }
            }
            let (qdisc, state) = if dev.is_loopback() {
                ("noqueue", "UNKNOWN")
            } else if dev.is_up() {
                ("pfifo_fast", "UP")
            } else {
                ("noop", "DOWN")
            };
            let _ = writeln!(
                out,
                "{}: {}: <{}> mtu {} qdisc {} state {} group default qlen {}",
                dev.ifindex,
                dev.name,
                flags.join(","),
                dev.mtu(),
                qdisc,
                state,
                dev.tx_queue_len()
            );
            let list = self.list.read();
            for a in mine {
                let secondary = list.iter().any(|i| i.ifa == *a && i.secondary());
                let _ = write!(out, "    inet {}/{}", a.local, a.prefixlen);
                if a.prefixlen < 31 && !a.local.is_loopback() {
                    let _ = write!(out, " brd {}", a.broadcast);
                }
                let scope = if a.local.is_loopback() { "host" } else { "global" };
                let _ = write!(out, " scope {scope}");
                if secondary {
                    out.push_str(" secondary");
                }
                let _ = writeln!(out, " {}", dev.name);
                out.push_str("       valid_lft forever preferred_lft forever\n");
            }
        }
        out
    }
}

impl Default for InDevices {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InDevices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.addrs()).finish()
    }
}

/// The kernel routes of one address (`fib_add_ifaddr()` via `fib_magic()`):
/// `(route, also when secondary)`.
fn ifaddr_routes(ifa: &InIfaddr, loopback: bool) -> Vec<(FibRoute, bool)> {
    let prefix = u32::from(ifa.prefix());
    let base = FibRoute {
        dst: ifa.local,
        prefixlen: 32,
        gateway: None,
        oif: ifa.ifindex,
        metric: 0,
        rtn_type: RtnType::Local,
        prefsrc: Some(ifa.local),
    };
    let mut v = vec![(base.clone(), true)];
    // A prefix route unless the prefix is 0.0.0.0 or the address is a lone /32.
    if prefix != 0 && (prefix != u32::from(ifa.local) || ifa.prefixlen < 32) {
        let rtn_type = if loopback { RtnType::Local } else { RtnType::Unicast };
        v.push((
            FibRoute { dst: Ipv4Addr::from(prefix), prefixlen: ifa.prefixlen, rtn_type, ..base.clone() },
            false,
        ));
        if ifa.prefixlen < 31 {
            let brd = Ipv4Addr::from(prefix | !ifa.mask());
            v.push((FibRoute { dst: brd, rtn_type: RtnType::Broadcast, ..base }, false));
        }
    }
    v
}

/// `NETDEV_UP` for IPv4 (`fib_netdev_event()`'s `for_ifa(in_dev)
/// fib_add_ifaddr(ifa)`): every address of device `ifindex` gets its
/// kernel routes again — the local route (still there: a device going
/// down keeps it), the prefix route and the broadcast route. A secondary
/// address gets its local route only, as when it was added.
pub(crate) fn fib_add_ifaddrs_of(ipv4: &Ipv4, ifindex: u32) {
    let ifas: Vec<Ifa> =
        ipv4.devinet.list.read().iter().filter(|i| i.ifa.ifindex == ifindex).cloned().collect();
    for i in &ifas {
        for (r, always) in ifaddr_routes(&i.ifa, i.loopback) {
            if always || !i.secondary() {
                // fib_magic()'s NLM_F_APPEND: a route that stayed is no error.
                let _ = ipv4.fib.fib_table_insert_proto(r, RTPROT_KERNEL);
            }
        }
    }
}

// ANCHOR: inet_addr_add
/// `ip addr add LOCAL/PREFIXLEN dev IFINDEX`: the address, its local and
/// connected routes, and a gratuitous ARP when the device is up.
///
/// Mirrors `inet_rtm_newaddr()` → `__inet_insert_ifa()` (net/ipv4/devinet.c)
/// and the `NETDEV_UP`/`inetaddr_chain` work of `fib_add_ifaddr()`
/// (net/ipv4/fib_frontend.c): `EINVAL` for `prefixlen > 32`, `ENODEV` for
/// an unknown device, `EEXIST` if the device already has this address
/// with this prefix length. An address inside a subnet the device already
/// has becomes secondary and gets only its local route. The broadcast
/// address is the subnet's (`ip addr add … brd +`). Then, on an up device
/// that does ARP and is not loopback, a gratuitous ARP announces it
/// (`arp_send(ARPOP_REQUEST, …)` from `inetdev_event`/`arp_ifa_event`).
#[doc(alias = "__inet_insert_ifa")]
#[doc(alias = "inet_rtm_newaddr")]
pub fn inet_addr_add(
    net: &Net,
    ipv4: &Ipv4,
    ifindex: u32,
    local: Ipv4Addr,
    prefixlen: u8,
) -> Result<(), Errno> {
    if prefixlen > 32 {
        return Err(Errno::EINVAL);
    }
    let dev = net.dev_get_by_index(ifindex).ok_or(Errno::ENODEV)?;
    let mask = inet_make_mask(prefixlen);
    let broadcast =
        if prefixlen < 31 { Ipv4Addr::from(u32::from(local) | !mask) } else { Ipv4Addr::UNSPECIFIED };
    let ifa = InIfaddr { ifindex, local, prefixlen, broadcast };
    let loopback = dev.flags() & IFF_LOOPBACK != 0;
    let secondary = {
        let mut list = ipv4.devinet.list.write();
        let mut secondary = false;
        for i in list.iter().filter(|i| i.ifa.ifindex == ifindex && i.ifa.prefixlen == prefixlen) {
            if i.ifa.inet_ifa_match(local) {
                if i.ifa.local == local {
                    return Err(Errno::EEXIST);
                }
                secondary = true;
            }
        }
        list.push(Ifa { ifa: ifa.clone(), flags: if secondary { IFA_F_SECONDARY } else { 0 }, loopback });
        secondary
    };
    for (r, always) in ifaddr_routes(&ifa, loopback) {
        if always || !secondary {
            // fib_magic() adds with NLM_F_APPEND: an identical kernel route
            // (the same address on two devices) is not an error here.
            let _ = ipv4.fib.fib_table_insert_proto(r, RTPROT_KERNEL);
        }
    }
    if dev.is_up() && dev.flags() & (IFF_NOARP | IFF_LOOPBACK) == 0 {
        crate::arp::arp_gratuitous(net, ipv4, ifindex, local);
    }
    Ok(())
}
// ANCHOR_END: inet_addr_add

/// `ip addr del LOCAL/PREFIXLEN dev IFINDEX`: the address and the kernel
/// routes it made.
///
/// Mirrors `inet_rtm_deladdr()` → `__inet_del_ifa()` (net/ipv4/devinet.c)
/// and `fib_del_ifaddr()` (net/ipv4/fib_frontend.c):
/// `EADDRNOTAVAIL` if the device has no such address. The local route
/// stays while another device still has the same address. Deleting a
/// primary deletes its secondaries too, as Linux does with
/// `promote_secondaries` at its default of 0.
#[doc(alias = "__inet_del_ifa")]
#[doc(alias = "inet_rtm_deladdr")]
pub fn inet_addr_del(
    _net: &Net,
    ipv4: &Ipv4,
    ifindex: u32,
    local: Ipv4Addr,
    prefixlen: u8,
) -> Result<(), Errno> {
    let (removed, still_local) = {
        let mut list = ipv4.devinet.list.write();
        let pos = list
            .iter()
            .position(|i| i.ifa.ifindex == ifindex && i.ifa.local == local && i.ifa.prefixlen == prefixlen)
            .ok_or(Errno::EADDRNOTAVAIL)?;
        let removed = list.remove(pos);
        // promote_secondaries = 0: a primary takes its secondaries with it.
        let mut gone = vec![removed.clone()];
        if !removed.secondary() {
            list.retain(|i| {
                let dies = i.secondary()
                    && i.ifa.ifindex == ifindex
                    && i.ifa.prefixlen == prefixlen
                    && removed.ifa.inet_ifa_match(i.ifa.local);
                if dies {
                    gone.push(i.clone());
                }
                !dies
            });
        }
        let still_local: Vec<bool> =
            gone.iter().map(|g| list.iter().any(|i| i.ifa.local == g.ifa.local)).collect();
        (gone, still_local)
    };
    for (removed, still_local) in removed.iter().zip(still_local) {
        fib_del_ifaddr(ipv4, removed, still_local);
    }
    // fib_inetaddr_event(NETDEV_DOWN) → rt_cache_flush(): every cached
    // route (a socket's `sk_dst_cache`, its input route `sk_rx_dst`) is
    // stale now.
    ipv4.fib.rt_genid_bump();
    Ok(())
}

/// Remove the kernel routes of one address (`fib_del_ifaddr()`).
fn fib_del_ifaddr(ipv4: &Ipv4, removed: &Ifa, still_local: bool) {
    for (r, always) in ifaddr_routes(&removed.ifa, removed.loopback) {
        if !always && removed.secondary() {
            continue;
        }
        if r.rtn_type == RtnType::Local && r.prefixlen == 32 && still_local {
            continue;
        }
        let table = if matches!(r.rtn_type, RtnType::Local | RtnType::Broadcast) {
            &ipv4.fib.local
        } else {
            &ipv4.fib.main
        };
        let _ = table.write().fib_table_delete_if(r.dst, r.prefixlen, |x| {
            x.oif == r.oif && x.rtn_type == r.rtn_type && x.prefsrc == r.prefsrc
        });
    }
}

/// The source address to use towards `dst` out of `ifindex` (`inet_select_addr()`).
///
/// Mirrors `inet_select_addr(dev, dst, RT_SCOPE_UNIVERSE)`
/// (net/ipv4/devinet.c): among `ifindex`'s primary addresses, the first
/// whose subnet holds `dst`, else the first; host-scope (127/8) addresses
/// only when `dst` is itself a loopback address. Failing that, the first
/// primary global address of any other device (Linux walks
/// `for_each_netdev`). `None` when the host has no usable address.
pub fn inet_select_addr(ipv4: &Ipv4, ifindex: u32, dst: Ipv4Addr) -> Option<Ipv4Addr> {
    let list = ipv4.devinet.list.read();
    let host_ok = dst.is_loopback();
    let usable = |i: &&Ifa| !i.secondary() && (host_ok || !i.host_scope());
    let mut first = None;
    for i in list.iter().filter(|i| i.ifa.ifindex == ifindex).filter(usable) {
        if dst.is_unspecified() || i.ifa.inet_ifa_match(dst) {
            return Some(i.ifa.local);
        }
        first.get_or_insert(i.ifa.local);
    }
    if first.is_some() {
        return first;
    }
    let mut others: Vec<&Ifa> = list.iter().filter(|i| !i.secondary() && !i.host_scope()).collect();
    others.sort_by_key(|i| i.ifa.ifindex);
    others.first().map(|i| i.ifa.local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testlink::Hub;
    use net_core::Clock;
    use std::sync::Arc;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// A namespace with the routing parts of `Ipv4` only (the other
    /// helpers' init functions are not needed to test addresses), and one
    /// Ethernet port left down so no gratuitous ARP is sent.
    pub(crate) fn host() -> (Arc<Net>, Ipv4, u32) {
        let clock = Clock::new_virtual();
        let net = Net::new("h", clock.clone(), 1);
        let hub = Hub::new(&clock, 1000);
        let dev = net.register_netdev(Box::new(hub.port("eth0", [2, 0, 0, 0, 0, 1]))).unwrap();
        (net.clone(), crate::route::tests::bare_ipv4(&net), dev.ifindex)
    }

    #[test]
    fn add_makes_linux_routes() {
        let (net, v4, eth0) = host();
        inet_addr_add(&net, &v4, eth0, ip("10.0.0.1"), 24).unwrap();
        assert_eq!(inet_addr_add(&net, &v4, eth0, ip("10.0.0.1"), 24), Err(Errno::EEXIST));
        assert_eq!(inet_addr_add(&net, &v4, 99, ip("10.0.0.1"), 24), Err(Errno::ENODEV));
        assert_eq!(inet_addr_add(&net, &v4, eth0, ip("10.0.0.1"), 33), Err(Errno::EINVAL));
        assert!(v4.devinet.is_local(ip("10.0.0.1")));
        assert!(!v4.devinet.is_local(ip("10.0.0.2")));
        assert!(v4.devinet.is_broadcast(ip("10.0.0.255")));
        assert_eq!(v4.fib.ip_route_show(&net), "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1\n");
        assert_eq!(
            v4.fib.ip_route_show_local(&net),
            "local 10.0.0.1 dev eth0 table local proto kernel scope host src 10.0.0.1\n\
             broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.1\n"
        );
        // A second address in the same subnet is secondary: local route only.
        inet_addr_add(&net, &v4, eth0, ip("10.0.0.9"), 24).unwrap();
        assert_eq!(v4.fib.main.read().len(), 1);
        assert_eq!(v4.fib.local.read().len(), 3);
        let show = v4.devinet.ip_addr_show(&net);
        assert!(show.contains("    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0\n"), "{show}");
        assert!(show.contains("    inet 10.0.0.9/24 brd 10.0.0.255 scope global secondary eth0\n"), "{show}");
        assert!(show.starts_with("1: eth0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN"), "{show}");
        // Deleting the primary takes the secondary with it, and every route.
        inet_addr_del(&net, &v4, eth0, ip("10.0.0.1"), 24).unwrap();
        assert_eq!(inet_addr_del(&net, &v4, eth0, ip("10.0.0.9"), 24), Err(Errno::EADDRNOTAVAIL));
        assert_eq!(inet_addr_del(&net, &v4, eth0, ip("10.0.0.1"), 24), Err(Errno::EADDRNOTAVAIL));
        assert!(v4.fib.main.read().is_empty());
        assert!(v4.fib.local.read().is_empty());
        assert!(v4.devinet.addrs().is_empty());
    }

    #[test]
    fn select_addr_prefers_the_subnet() {
        let (net, v4, eth0) = host();
        inet_addr_add(&net, &v4, eth0, ip("10.0.0.1"), 24).unwrap();
        inet_addr_add(&net, &v4, eth0, ip("192.168.5.1"), 24).unwrap();
        assert_eq!(inet_select_addr(&v4, eth0, ip("192.168.5.77")), Some(ip("192.168.5.1")));
        assert_eq!(inet_select_addr(&v4, eth0, ip("8.8.8.8")), Some(ip("10.0.0.1")));
        // Another device with no address borrows a global one.
        assert_eq!(inet_select_addr(&v4, 42, ip("8.8.8.8")), Some(ip("10.0.0.1")));
    }
}
