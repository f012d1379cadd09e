//! Routing decisions: where a datagram we send goes, and what to do with
//! one we receive.
//!
//! Mirrors `net/ipv4/route.c` of **Linux 6.18**: `ip_route_output_key()`
//! (`ip_route_output_key_hash_rcu()`, `__mkroute_output()`),
//! `ip_route_input_noref()` (`ip_route_input_slow()`, `ip_error()`'s choice
//! of counter) and the path-MTU exceptions of `__ip_rt_update_pmtu()`
//! (`fib_nh_exception`, `ip_rt_mtu_expires` = 600 s, `ip_rt_min_pmtu` =
//! 552).
//!
//! Read first: RFC 1812 §5.2.4 (route lookup) and §5.3.7 (martian
//! addresses a router must not forward), RFC 1122 §3.2.1.3 (addresses a
//! host must discard: 0/8 sources other than "this host", 127/8 from
//! outside, broadcast or multicast sources), RFC 1191 (path MTU).
//!
//! # Where we differ
//!
//! - No route cache and no `dst_entry`: every call looks the FIB up and
//!   returns a small [`Rtable`] by value, except that an established TCP
//!   socket caches its input route ([`SkRxDst`], `sk_rx_dst`), which the
//!   early demux checks against the routing generation. The only remembered state is the
//!   PMTU exceptions, kept per destination in the [`crate::fib::Fib`].
//! - No policy routing, TOS, marks, multipath, VRF, `rp_filter` or
//!   `accept_local`; `route_localnet` is off.
//! - Datagrams our own output path looped back (`PACKET_LOOPBACK`) are
//!   routed by destination only, as Linux reuses the output route they
//!   carry and never calls `ip_route_input` for them.
//! - `ip_error()`'s ICMP "network unreachable" for a router without a
//!   route is sent from here; the caller counts the drop.

use std::collections::HashMap;

use crate::fib::RtnType;
use crate::{Ipv4, Ipv4Addr};
use net_core::dropreason::SkbDropReason;
use net_core::skbuff::PktType;
use net_core::{Errno, Net, SkBuff};

/// `ip_rt_mtu_expires`: a learnt path MTU is forgotten after 10 minutes.
pub const IP_RT_MTU_EXPIRES_MS: u64 = 600 * 1000;
/// `ip_rt_min_pmtu`: the least path MTU a "fragmentation needed" can set
/// (512 + 20 + 20).
pub const IP_RT_MIN_PMTU: u32 = 512 + 20 + 20;

/// A PMTU learnt for one destination (`struct fib_nh_exception`: `fnhe_pmtu`,
/// `fnhe_expires`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FibNhException {
    /// `fnhe_pmtu`.
    pub fnhe_pmtu: u32,
    /// `fnhe_expires`, in jiffies (ms).
    pub fnhe_expires: u64,
}

/// Per-destination PMTU exceptions (Linux hangs them off each nexthop in
/// a hash, `nh_exceptions`). A spin lock: entries are a few words, looked
/// up once per route lookup, written on an ICMP "fragmentation needed".
#[derive(Debug, Default)]
pub struct PmtuExceptions(spin::Mutex<HashMap<Ipv4Addr, FibNhException>>);

/// A routing decision (`struct rtable`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(alias = "rtable")]
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

// ANCHOR: sk_rx_dst
/// The input route an established socket caches for the packets it
/// receives: `sk->sk_rx_dst` and `sk->sk_rx_dst_ifindex`.
///
/// Mirrors `inet_sk_rx_dst_set()` (net/ipv4/tcp_ipv4.c), which stores the
/// received skb's route and `skb->skb_iif` in the socket, and the checks
/// of `tcp_v4_early_demux()` and `tcp_v4_do_rcv()`: the cached route is
/// used only while `dst_check()` passes (`ipv4_dst_check()` →
/// `rt_is_expired()`: its `rt_genid` is still the namespace's, so no route,
/// address or path MTU changed since) and the packet arrived on the same
/// ifindex. [`ip_rcv_finish`](crate::ip_input::ip_rcv_finish) then skips
/// [`ip_route_input`].
///
/// Where we differ: a local input route is fully described by "local
/// delivery on this device", so we cache only its generation and the
/// ifindex, packed in one word (the generation's low 32 bits high, the
/// ifindex low; 0 = no route) so the early demux reads both with one
/// load and without the socket lock, as Linux reads `sk_rx_dst` under RCU.
/// A generation that wrapped exactly 2^32 changes would pass the check;
/// nothing here changes routes that often.
#[doc(alias = "sk_rx_dst")]
#[doc(alias = "sk_rx_dst_ifindex")]
#[derive(Debug, Default)]
pub struct SkRxDst(std::sync::atomic::AtomicU64);

impl SkRxDst {
    /// No cached route.
    pub const fn new() -> Self {
        SkRxDst(std::sync::atomic::AtomicU64::new(0))
    }

    fn pack(rt_genid: u32, ifindex: u32) -> u64 {
        (u64::from(rt_genid) << 32) | u64::from(ifindex)
    }

    /// Cache the input route `skb` was delivered by (`inet_sk_rx_dst_set()`).
    /// A datagram that did not come by a local input route
    /// (`IPCB(skb)->rt_genid` is 0: a looped-back or broadcast one) leaves
    /// the cache as it is.
    pub fn inet_sk_rx_dst_set(&self, skb: &SkBuff) {
        let g = crate::ip::IPCB(skb).rt_genid;
        if g != 0 {
            self.0.store(Self::pack(g, skb.skb_iif), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// True when the cached route is still good for a packet that arrived
    /// on `skb_iif` (`dst_check(dst, 0) && sk->sk_rx_dst_ifindex ==
    /// skb->skb_iif`).
    #[doc(alias = "dst_check")]
    #[doc(alias = "ipv4_dst_check")]
    pub fn check(&self, ipv4: &Ipv4, skb_iif: u32) -> bool {
        let v = self.0.load(std::sync::atomic::Ordering::Relaxed);
        v != 0 && v == Self::pack(ipv4.fib.rt_genid(), skb_iif)
    }

    /// What `tcp_v4_do_rcv()` does on ESTABLISHED: drop the cached route
    /// when the packet came on another ifindex or the route is obsolete,
    /// so `tcp_rcv_established()` caches this packet's route instead.
    pub fn validate(&self, ipv4: &Ipv4, skb_iif: u32) {
        if self.is_set() && !self.check(ipv4, skb_iif) {
            self.reset();
        }
    }

    /// True when a route is cached (`rcu_access_pointer(sk->sk_rx_dst)`).
    pub fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed) != 0
    }

    /// Forget the cached route (`RCU_INIT_POINTER(sk->sk_rx_dst, NULL)`,
    /// as `tcp_disconnect()` and `inet_sock_destruct()` do).
    pub fn reset(&self) {
        self.0.store(0, std::sync::atomic::Ordering::Relaxed);
    }
}
// ANCHOR_END: sk_rx_dst

/// `ipv4_is_zeronet()`: 0.0.0.0/8.
#[inline]
pub fn ipv4_is_zeronet(a: Ipv4Addr) -> bool {
    a.octets()[0] == 0
}

/// `ipv4_is_lbcast()`: 255.255.255.255.
#[inline]
pub fn ipv4_is_lbcast(a: Ipv4Addr) -> bool {
    a == Ipv4Addr::BROADCAST
}

/// The device that answers for local destinations: `lo` when registered
/// (Linux's `net->loopback_dev`), else the one owning the address.
fn local_dev(net: &Net, ipv4: &Ipv4, addr: Ipv4Addr) -> Option<u32> {
    net.devices().iter().find(|d| d.is_loopback()).map(|d| d.ifindex).or_else(|| ipv4.devinet.dev_of(addr))
}

fn dev_mtu(net: &Net, ifindex: u32) -> u32 {
    net.dev_get_by_index_rcu(ifindex).map_or(1500, |d| d.mtu())
}

/// The path MTU towards `daddr` over `dev`: a live exception, else the
/// device's MTU (`ip_dst_mtu_maybe_forward()` / `ipv4_mtu()`).
fn path_mtu(net: &Net, ipv4: &Ipv4, daddr: Ipv4Addr, dev: u32) -> u32 {
    let mtu = dev_mtu(net, dev);
    let mut ex = ipv4.fib.pmtu.0.lock();
    match ex.get(&daddr) {
        Some(e) if e.fnhe_expires > net.jiffies() => e.fnhe_pmtu.min(mtu),
        Some(_) => {
            ex.remove(&daddr);
            ipv4.fib.rt_genid_bump();
            mtu
        }
        None => mtu,
    }
}

/// Learn that the path to `daddr` carries at most `mtu` bytes (an ICMP
/// "fragmentation needed", RFC 1191).
///
/// Mirrors `__ip_rt_update_pmtu()` (net/ipv4/route.c): a value below
/// `ip_rt_min_pmtu` (552) is raised to it; a value not below the current
/// path MTU is ignored; otherwise the exception is (re)set to expire
/// `ip_rt_mtu_expires` (600 s) from now. Later [`ip_route_output`] calls
/// report it as [`Rtable::mtu`].
#[doc(alias = "__ip_rt_update_pmtu")]
pub fn update_pmtu(net: &Net, ipv4: &Ipv4, daddr: Ipv4Addr, mtu: u32) {
    let mtu = mtu.max(IP_RT_MIN_PMTU);
    let Some(r) = ipv4.fib.fib_lookup(daddr) else { return };
    if mtu >= path_mtu(net, ipv4, daddr, r.oif) {
        return;
    }
    ipv4.fib
        .pmtu
        .0
        .lock()
        .insert(daddr, FibNhException { fnhe_pmtu: mtu, fnhe_expires: net.jiffies() + IP_RT_MTU_EXPIRES_MS });
    ipv4.fib.rt_genid_bump();
}

/// The error a route of a rejecting type gives an output lookup
/// (`fib_props[]` in net/ipv4/fib_semantics.c).
fn fib_props_error(t: RtnType) -> Option<Errno> {
    match t {
        RtnType::Blackhole => Some(Errno::EINVAL),
        RtnType::Unreachable => Some(Errno::EHOSTUNREACH),
        RtnType::Prohibit => Some(Errno::EACCES),
        _ => None,
    }
}

/// May [`ip_route_output`] be asked for a route from `saddr` (not
/// 0.0.0.0)? Not from a multicast, limited broadcast or 0/8 address, and
/// only from one of ours unless `ip_nonlocal_bind`; otherwise the lookup
/// fails with `EINVAL`.
pub fn ip_route_output_saddr_ok(ipv4: &Ipv4, saddr: Ipv4Addr) -> bool {
    !(saddr.is_multicast() || ipv4_is_lbcast(saddr) || ipv4_is_zeronet(saddr))
        && (ipv4.sysctl.ip_nonlocal_bind.get() != 0 || ipv4.devinet.is_local(saddr))
}

// ANCHOR: ip_route_output
/// Route a locally generated packet (`ip_route_output_key()`):
/// `ENETUNREACH` when nothing matches.
///
/// Mirrors `ip_route_output_key_hash_rcu()` (net/ipv4/route.c):
///
/// - a given `saddr` must be usable as a source: not multicast, limited
///   broadcast or 0/8 (`EINVAL`), and one of ours unless
///   `ip_nonlocal_bind` (`EINVAL`; Linux: `__ip_dev_find()` fails);
/// - a given `oif` must exist (`ENODEV`) and be up (`ENETUNREACH`);
/// - 255.255.255.255 is a broadcast out of `oif`, or the device the FIB
///   picks for it;
/// - 0.0.0.0 means "this host": a local route to the source (or
///   127.0.0.1);
/// - otherwise `fib_lookup()`: a local route goes to `lo` (or the device
///   owning the address when there is no `lo`) with the destination as
///   source; a broadcast route keeps its device; a multicast destination
///   leaves by the matching route's device with no gateway; a unicast route gives
///   device, gateway and source (`saddr`, the route's `prefsrc`, or
///   `inet_select_addr()`); blackhole, unreachable and prohibit routes
///   fail with `EINVAL`, `EHOSTUNREACH`, `EACCES`. With no route but an
///   `oif`, the destination is assumed on-link there ("Apparently, routing
///   tables are wrong. Assume, that the destination is on link.").
///
/// The MTU is the device's, or a learnt path MTU ([`update_pmtu`]).
#[doc(alias = "ip_route_output_key")]
#[doc(alias = "ip_route_output_key_hash_rcu")]
pub fn ip_route_output(
    net: &Net,
    ipv4: &Ipv4,
    daddr: Ipv4Addr,
    saddr: Option<Ipv4Addr>,
    oif: Option<u32>,
) -> Result<Rtable, Errno> {
    net_core::ftrace_graph!("ip_route_output");
    let saddr = saddr.filter(|s| !s.is_unspecified());
    if let Some(s) = saddr {
        if !ip_route_output_saddr_ok(ipv4, s) {
            return Err(Errno::EINVAL);
        }
    }
    if let Some(o) = oif {
        let dev = net.dev_get_by_index(o).ok_or(Errno::ENODEV)?;
        if !dev.is_up() {
            return Err(Errno::ENETUNREACH);
        }
    }
    let select = |dev: u32, towards: Ipv4Addr| {
        saddr
            .or_else(|| crate::devinet::inet_select_addr(ipv4, dev, towards))
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    };

    if ipv4_is_lbcast(daddr) {
        let dev = match oif {
            Some(o) => o,
            None => ipv4.fib.fib_lookup(daddr).map(|r| r.oif).ok_or(Errno::ENETUNREACH)?,
        };
        return Ok(Rtable {
            rt_type: RtnType::Broadcast,
            dev,
            gateway: None,
            saddr: select(dev, Ipv4Addr::UNSPECIFIED),
            mtu: dev_mtu(net, dev),
        });
    }
    if daddr.is_unspecified() {
        let to = saddr.unwrap_or(Ipv4Addr::LOCALHOST);
        let dev = local_dev(net, ipv4, to).ok_or(Errno::ENETUNREACH)?;
        return Ok(Rtable { rt_type: RtnType::Local, dev, gateway: None, saddr: to, mtu: dev_mtu(net, dev) });
    }

    let Some(res) = ipv4.fib.fib_lookup(daddr) else {
        return match oif {
            Some(o) => Ok(Rtable {
                rt_type: RtnType::Unicast,
                dev: o,
                gateway: None,
                saddr: select(o, daddr),
                mtu: path_mtu(net, ipv4, daddr, o),
            }),
            None => Err(Errno::ENETUNREACH),
        };
    };
    if let Some(e) = fib_props_error(res.rtn_type) {
        return Err(e);
    }
    match res.rtn_type {
        RtnType::Local => {
            let dev = local_dev(net, ipv4, daddr).unwrap_or(res.oif);
            let src = saddr.or(res.prefsrc).unwrap_or(daddr);
            Ok(Rtable { rt_type: RtnType::Local, dev, gateway: None, saddr: src, mtu: dev_mtu(net, dev) })
        }
        RtnType::Broadcast | RtnType::Multicast => {
            let dev = oif.unwrap_or(res.oif);
            let src = saddr.or(res.prefsrc).unwrap_or_else(|| select(dev, daddr));
            Ok(Rtable { rt_type: res.rtn_type, dev, gateway: None, saddr: src, mtu: dev_mtu(net, dev) })
        }
        _ => {
            // With an oif the FIB's choice must leave through it (Linux
            // filters nexthops by oif); else assume on-link there.
            let (dev, mut gateway) = match oif {
                Some(o) if o != res.oif => (o, None),
                _ => (res.oif, res.gateway),
            };
            // __mkroute_output(): a multicast destination is never sent to
            // a gateway; the device maps it to a group MAC.
            let rt_type = if daddr.is_multicast() {
                gateway = None;
                RtnType::Multicast
            } else {
                RtnType::Unicast
            };
            let src = saddr
                .or(if dev == res.oif { res.prefsrc } else { None })
                .unwrap_or_else(|| select(dev, gateway.unwrap_or(daddr)));
            Ok(Rtable { rt_type, dev, gateway, saddr: src, mtu: path_mtu(net, ipv4, daddr, dev) })
        }
    }
}
// ANCHOR_END: ip_route_output

// ANCHOR: ip_route_input_slow
/// Route a received packet (`ip_route_input_noref()`): local delivery,
/// forwarding, or a drop reason (martian source, no route, forwarding off).
///
/// Mirrors `ip_route_input_slow()` (net/ipv4/route.c), in its order:
///
/// 1. a multicast or limited-broadcast source is martian
///    (`IP_INVALID_SOURCE`);
/// 2. 255.255.255.255, or 0.0.0.0 → 0.0.0.0 (a DHCP client's first
///    packets), is a broadcast for us;
/// 3. any other 0/8 source is martian; a 0/8 destination is a martian
///    destination (`IP_INADDRERRORS`); 127/8 arriving on a non-loopback
///    device is martian as a destination, and as a source;
/// 4. the FIB: a broadcast route is local broadcast delivery; a local
///    route is local delivery unless the source is one of our addresses
///    too (`IP_LOCAL_SOURCE`, Linux's `fib_validate_source()` refusing a
///    local source without `accept_local`);
/// 5. anything else is forwarded if `ip_forward` is set and the route is
///    unicast. Without forwarding: `IP_INADDRERRORS` (Linux: an
///    `EHOSTUNREACH` route, which `ip_error()` counts as `InAddrErrors`).
///    With forwarding and no route: an ICMP "network unreachable" back
///    (rate limited by icmp_send) and `IP_INNOROUTES`. A route of type
///    unreachable (prohibit) answers ICMP host unreachable (communication
///    administratively prohibited) and a blackhole nothing, all dropped
///    as `NOT_SPECIFIED`, as `ip_error()` does.
///
/// The returned input route has the receiving device as `dev` for local
/// delivery, and the output device, gateway and path MTU for forwarding.
#[doc(alias = "ip_route_input_noref")]
#[doc(alias = "ip_route_input_slow")]
pub fn ip_route_input(
    net: &Net,
    ipv4: &Ipv4,
    skb: &SkBuff,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    iif: u32,
) -> Result<Rtable, SkbDropReason> {
    net_core::ftrace_graph!("ip_route_input");
    // What is needed of the device, read under the table's lock without
    // taking a reference (`__in_dev_get_rcu()`).
    let (in_loopback, in_mtu) =
        net.dev_get_by_index_rcu(iif).map_or((false, 1500), |d| (d.is_loopback(), d.mtu()));
    let on_loopback = in_loopback || skb.pkt_type == PktType::Loopback;
    let local_input = |t: RtnType| Rtable { rt_type: t, dev: iif, gateway: None, saddr: daddr, mtu: in_mtu };

    // Our own output, looped back: already routed.
    if skb.pkt_type == PktType::Loopback {
        if ipv4_is_lbcast(daddr) || ipv4.devinet.is_broadcast(daddr) {
            return Ok(local_input(RtnType::Broadcast));
        }
        if daddr.is_multicast() {
            return Ok(local_input(RtnType::Multicast));
        }
        return Ok(local_input(RtnType::Local));
    }

    if saddr.is_multicast() || ipv4_is_lbcast(saddr) {
        return Err(SkbDropReason::IpInvalidSource);
    }
    if ipv4_is_lbcast(daddr) || (saddr.is_unspecified() && daddr.is_unspecified()) {
        return Ok(local_input(RtnType::Broadcast));
    }
    if ipv4_is_zeronet(saddr) {
        return Err(SkbDropReason::IpInvalidSource);
    }
    if ipv4_is_zeronet(daddr) {
        return Err(SkbDropReason::IpInaddrerrors);
    }
    if daddr.is_loopback() {
        if !on_loopback {
            return Err(SkbDropReason::IpInaddrerrors);
        }
    } else if saddr.is_loopback() && !on_loopback {
        return Err(SkbDropReason::IpInvalidSource);
    }
    if daddr.is_multicast() {
        // No IGMP here: multicast is delivered locally, never forwarded.
        return Ok(local_input(RtnType::Multicast));
    }

    let forwarding = ipv4.sysctl.ip_forward.get() != 0;
    let Some(res) = ipv4.fib.fib_lookup(daddr) else {
        if !forwarding {
            return Err(SkbDropReason::IpInaddrerrors);
        }
        crate::icmp::icmp_send(net, ipv4, skb, 3, 0, 0);
        return Err(SkbDropReason::IpInnoroutes);
    };
    match res.rtn_type {
        RtnType::Broadcast => Ok(local_input(RtnType::Broadcast)),
        RtnType::Local => {
            if !on_loopback && ipv4.devinet.is_local(saddr) {
                return Err(SkbDropReason::IpLocalSource);
            }
            Ok(local_input(RtnType::Local))
        }
        _ if !forwarding => Err(SkbDropReason::IpInaddrerrors),
        RtnType::Unicast => {
            if ipv4.devinet.is_local(saddr) {
                return Err(SkbDropReason::IpLocalSource);
            }
            let src = res
                .prefsrc
                .or_else(|| crate::devinet::inet_select_addr(ipv4, res.oif, res.gateway.unwrap_or(daddr)))
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            Ok(Rtable {
                rt_type: RtnType::Unicast,
                dev: res.oif,
                gateway: res.gateway,
                saddr: src,
                mtu: path_mtu(net, ipv4, daddr, res.oif),
            })
        }
        RtnType::Multicast => Ok(local_input(RtnType::Multicast)),
        // ip_error() on a router: a blackhole drops silently (EINVAL); an
        // unreachable route answers host unreachable, a prohibit route
        // "communication administratively prohibited". Linux counts
        // neither as InNoRoutes.
        RtnType::Blackhole => Err(SkbDropReason::NotSpecified),
        RtnType::Unreachable => {
            crate::icmp::icmp_send(net, ipv4, skb, 3, 1, 0);
            Err(SkbDropReason::NotSpecified)
        }
        RtnType::Prohibit => {
            crate::icmp::icmp_send(net, ipv4, skb, 3, 13, 0);
            Err(SkbDropReason::NotSpecified)
        }
    }
}
// ANCHOR_END: ip_route_input_slow

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::devinet::inet_addr_add;
    use crate::fib::FibRoute;
    use crate::testlink::Hub;
    use net_core::Clock;
    use net_core::skbuff::alloc_skb;
    use std::sync::Arc;

    /// An `Ipv4` built from the constructors alone, without `ipv4_init`'s
    /// registrations: enough for routing tests.
    pub(crate) fn bare_ipv4(net: &Net) -> Ipv4 {
        Ipv4 {
            sysctl: crate::sysctl_net_ipv4::register_net_ipv4(&net.sysctl),
            devinet: crate::devinet::InDevices::new(),
            fib: crate::fib::Fib::new(),
            arp_tbl: crate::neighbour::NeighTable::new(),
            protos: crate::protocol::InetProtos::new(),
            offloads: Default::default(),
            frags: crate::ip_fragment::IpFrags::new(),
            ident: crate::ip_output::IpIdents::new(net),
            icmp: crate::icmp::IcmpState::new(),
            udp: crate::udp::UdpTable::new(),
        }
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// A router-ish host: eth0 10.0.1.1/24 and eth1 10.0.2.1/24, both down
    /// (no ARP), default via 10.0.1.254.
    fn host() -> (Arc<Net>, Ipv4, u32, u32) {
        let clock = Clock::new_virtual();
        let net = Net::new("r", clock.clone(), 1);
        let hub = Hub::new(&clock, 1000);
        let e0 = net.register_netdev(Box::new(hub.port("eth0", [2, 0, 0, 0, 0, 1]))).unwrap().ifindex;
        let e1 = net.register_netdev(Box::new(hub.port("eth1", [2, 0, 0, 0, 0, 2]))).unwrap().ifindex;
        let v4 = bare_ipv4(&net);
        inet_addr_add(&net, &v4, e0, ip("10.0.1.1"), 24).unwrap();
        inet_addr_add(&net, &v4, e1, ip("10.0.2.1"), 24).unwrap();
        v4.fib
            .fib_table_insert(FibRoute {
                dst: ip("0.0.0.0"),
                prefixlen: 0,
                gateway: Some(ip("10.0.1.254")),
                oif: e0,
                metric: 0,
                rtn_type: RtnType::Unicast,
                prefsrc: None,
            })
            .unwrap();
        (net, v4, e0, e1)
    }

    #[test]
    fn output_routes() {
        let (net, v4, e0, e1) = host();
        let r = ip_route_output(&net, &v4, ip("10.0.2.7"), None, None).unwrap();
        assert_eq!(
            (r.rt_type, r.dev, r.gateway, r.saddr, r.mtu),
            (RtnType::Unicast, e1, None, ip("10.0.2.1"), 1500)
        );
        let r = ip_route_output(&net, &v4, ip("8.8.8.8"), None, None).unwrap();
        assert_eq!((r.dev, r.gateway, r.saddr), (e0, Some(ip("10.0.1.254")), ip("10.0.1.1")));
        assert_eq!(r.nexthop(ip("8.8.8.8")), ip("10.0.1.254"));
        // Local: no lo registered, so the owning device.
        let r = ip_route_output(&net, &v4, ip("10.0.2.1"), None, None).unwrap();
        assert_eq!((r.rt_type, r.dev, r.saddr), (RtnType::Local, e1, ip("10.0.2.1")));
        let r = ip_route_output(&net, &v4, ip("10.0.1.255"), None, None).unwrap();
        assert_eq!((r.rt_type, r.dev), (RtnType::Broadcast, e0));
        // Source checks.
        assert_eq!(ip_route_output(&net, &v4, ip("8.8.8.8"), Some(ip("1.2.3.4")), None), Err(Errno::EINVAL));
        v4.sysctl.ip_nonlocal_bind.set_values(&[1]).unwrap();
        assert!(ip_route_output(&net, &v4, ip("8.8.8.8"), Some(ip("1.2.3.4")), None).is_ok());
        assert_eq!(
            ip_route_output(&net, &v4, ip("8.8.8.8"), Some(ip("224.0.0.1")), None),
            Err(Errno::EINVAL)
        );
        assert_eq!(ip_route_output(&net, &v4, ip("8.8.8.8"), None, Some(77)), Err(Errno::ENODEV));
        let r = ip_route_output(&net, &v4, ip("224.0.0.251"), None, None).unwrap();
        assert_eq!((r.rt_type, r.dev, r.gateway), (RtnType::Multicast, e0, None));
        // No default: ENETUNREACH.
        v4.fib.fib_table_delete(ip("0.0.0.0"), 0, None).unwrap();
        assert_eq!(ip_route_output(&net, &v4, ip("8.8.8.8"), None, None), Err(Errno::ENETUNREACH));
    }

    /// A minimal `lo`: type loopback, `IFF_LOOPBACK`, 64 KiB MTU.
    struct Lo;

    impl net_core::NetDevice for Lo {
        fn setup(&self) -> net_core::NetDeviceSetup {
            let mut s = net_core::NetDeviceSetup::ether("lo", [0; 6]);
            s.type_ = net_core::netdevice::ARPHRD_LOOPBACK;
            s.flags = net_core::netdevice::IFF_LOOPBACK;
            s.mtu = 65536;
            s.max_mtu = 65536;
            s
        }
        fn ndo_start_xmit(&mut self, _skb: net_core::Skb) -> net_core::NetdevTx {
            net_core::NetdevTx::Ok
        }
        fn poll(&mut self, _budget: usize, _rx: &mut net_core::SkBuffHead) -> usize {
            0
        }
    }

    #[test]
    fn local_routes_use_lo_and_127_8_is_ours() {
        let (net, v4, e0, _) = host();
        let lo = net.register_netdev(Box::new(Lo)).unwrap();
        lo.open().unwrap();
        inet_addr_add(&net, &v4, lo.ifindex, ip("127.0.0.1"), 8).unwrap();
        assert!(v4.devinet.is_local(ip("127.0.0.5")), "all of 127/8 is local on lo");
        assert_eq!(v4.fib.inet_addr_type(ip("127.0.0.5")), RtnType::Local);
        let r = ip_route_output(&net, &v4, ip("10.0.1.1"), None, None).unwrap();
        assert_eq!((r.rt_type, r.dev, r.mtu), (RtnType::Local, lo.ifindex, 65536));
        let r = ip_route_output(&net, &v4, ip("127.0.0.9"), None, None).unwrap();
        assert_eq!((r.rt_type, r.dev, r.saddr), (RtnType::Local, lo.ifindex, ip("127.0.0.1")));
        assert!(
            v4.fib
                .ip_route_show_local(&net)
                .contains("local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1\n")
        );
        // 127/8 is fine on lo, martian elsewhere.
        let skb = alloc_skb(64);
        assert!(ip_route_input(&net, &v4, &skb, ip("127.0.0.1"), ip("127.0.0.1"), lo.ifindex).is_ok());
        assert!(ip_route_input(&net, &v4, &skb, ip("127.0.0.1"), ip("10.0.1.9"), e0).is_err());
        let show = v4.devinet.ip_addr_show(&net);
        assert!(show.contains("    inet 127.0.0.1/8 scope host lo\n"), "{show}");
        // Source selection never picks a host-scope address for the world.
        assert_eq!(crate::devinet::inet_select_addr(&v4, lo.ifindex, ip("8.8.8.8")), Some(ip("10.0.1.1")));
    }

    proptest::proptest! {
        #[test]
        fn input_never_panics(d in proptest::prelude::any::<u32>(), s in proptest::prelude::any::<u32>(), iif in 0u32..5, fwd in 0i64..2) {
            let (net, v4, ..) = host();
            v4.sysctl.ip_forward.set_values(&[fwd]).unwrap();
            let skb = alloc_skb(64);
            let _ = ip_route_input(&net, &v4, &skb, Ipv4Addr::from(d), Ipv4Addr::from(s), iif);
            let _ = ip_route_output(&net, &v4, Ipv4Addr::from(d), Some(Ipv4Addr::from(s)), None);
            let _ = ip_route_output(&net, &v4, Ipv4Addr::from(d), None, Some(iif));
        }
    }

    #[test]
    fn pmtu_exception_expires() {
        let (net, v4, ..) = host();
        update_pmtu(&net, &v4, ip("8.8.8.8"), 1400);
        assert_eq!(ip_route_output(&net, &v4, ip("8.8.8.8"), None, None).unwrap().mtu, 1400);
        update_pmtu(&net, &v4, ip("8.8.8.8"), 100);
        assert_eq!(ip_route_output(&net, &v4, ip("8.8.8.8"), None, None).unwrap().mtu, IP_RT_MIN_PMTU);
        assert_eq!(ip_route_output(&net, &v4, ip("8.8.4.4"), None, None).unwrap().mtu, 1500);
        net.clock().set_ns(601 * 1_000_000_000);
        assert_eq!(ip_route_output(&net, &v4, ip("8.8.8.8"), None, None).unwrap().mtu, 1500);
    }

    #[test]
    fn input_routes_and_martians() {
        let (net, v4, e0, e1) = host();
        let skb = alloc_skb(64);
        let inp = |d: &str, s: &str| ip_route_input(&net, &v4, &skb, ip(d), ip(s), e0);
        assert_eq!(inp("10.0.1.1", "10.0.1.5").unwrap().rt_type, RtnType::Local);
        assert_eq!(inp("10.0.2.1", "10.0.1.5").unwrap().rt_type, RtnType::Local);
        assert_eq!(inp("10.0.1.255", "10.0.1.5").unwrap().rt_type, RtnType::Broadcast);
        assert_eq!(inp("255.255.255.255", "10.0.1.5").unwrap().rt_type, RtnType::Broadcast);
        assert_eq!(inp("255.255.255.255", "0.0.0.0").unwrap().rt_type, RtnType::Broadcast);
        assert_eq!(inp("10.0.1.1", "224.0.0.1"), Err(SkbDropReason::IpInvalidSource));
        assert_eq!(inp("10.0.1.1", "0.1.2.3"), Err(SkbDropReason::IpInvalidSource));
        assert_eq!(inp("10.0.1.1", "127.0.0.1"), Err(SkbDropReason::IpInvalidSource));
        assert_eq!(inp("127.0.0.1", "10.0.1.5"), Err(SkbDropReason::IpInaddrerrors));
        assert_eq!(inp("0.0.0.7", "10.0.1.5"), Err(SkbDropReason::IpInaddrerrors));
        assert_eq!(inp("10.0.1.1", "10.0.2.1"), Err(SkbDropReason::IpLocalSource));
        // Not ours, forwarding off.
        assert_eq!(inp("10.0.2.9", "10.0.1.5"), Err(SkbDropReason::IpInaddrerrors));
        v4.sysctl.ip_forward.set_values(&[1]).unwrap();
        let r = inp("10.0.2.9", "10.0.1.5").unwrap();
        assert_eq!((r.rt_type, r.dev, r.gateway, r.saddr), (RtnType::Unicast, e1, None, ip("10.0.2.1")));
        let r = inp("8.8.8.8", "10.0.1.5").unwrap();
        assert_eq!((r.dev, r.gateway), (e0, Some(ip("10.0.1.254"))));
    }

    /// `sk_rx_dst`: good for the ifindex it was cached on while the
    /// routing generation stands; `tcp_v4_do_rcv()`'s check drops it for
    /// another ifindex or a newer generation.
    #[test]
    fn sk_rx_dst_is_checked_against_ifindex_and_rt_genid() {
        let (_net, v4, e0, e1) = host();
        let mut skb = alloc_skb(64);
        skb.skb_iif = e0;
        let rx = SkRxDst::new();
        // Not a local input route (looped back, broadcast): nothing cached.
        rx.inet_sk_rx_dst_set(&skb);
        assert!(!rx.is_set() && !rx.check(&v4, e0));
        crate::ip::IPCB_mut(&mut skb).rt_genid = v4.fib.rt_genid();
        rx.inet_sk_rx_dst_set(&skb);
        assert!(rx.check(&v4, e0));
        // Another device: not used, and dropped by the established path.
        assert!(!rx.check(&v4, e1));
        rx.validate(&v4, e0);
        assert!(rx.is_set());
        rx.validate(&v4, e1);
        assert!(!rx.is_set());
        // A route change makes it obsolete (dst_check() fails).
        rx.inet_sk_rx_dst_set(&skb);
        assert!(rx.check(&v4, e0));
        v4.fib.fib_table_insert(FibRoute::unicast(ip("192.168.0.0"), 16, None, e1)).unwrap();
        assert!(!rx.check(&v4, e0));
        rx.validate(&v4, e0);
        assert!(!rx.is_set());
    }
}
