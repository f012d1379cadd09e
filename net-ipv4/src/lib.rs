//! # net-ipv4 — Ethernet, ARP, IPv4, ICMP, UDP and routing
//!
//! Linux's net/ipv4 (minus TCP) and net/ethernet, retold on net-core, Linux
//! 6.18. A frame reaches this crate through net-core's packet-type table:
//! [`ipv4_init`] registers `ip_packet_type` (`ETH_P_IP` → `ip_rcv`) and
//! `arp_packet_type` (`ETH_P_ARP` → `arp_rcv`) with `dev_add_pack`, and
//! Ethernet's header operations for `ARPHRD_ETHER` and `ARPHRD_LOOPBACK`
//! devices, so `eth_type_trans` classifies every received frame. IPv4 then
//! hands each datagram to the transport named by its protocol field through
//! `inet_protos[256]` ([`protocol`]), where ICMP and UDP register here and
//! TCP registers from net-tcp.
//!
//! | our file | Linux file | book section | where we differ |
//! |---|---|---|---|
//! | `eth.rs` | net/ethernet/eth.c, include/linux/if_ether.h | net-ipv4/eth | header ops are registered per device type, not set by drivers |
//! | `arp.rs` | net/ipv4/arp.c | net-ipv4/arp | no proxy ARP, no arp_filter/arp_announce tuning |
//! | `neighbour.rs` | net/core/neighbour.c | net-ipv4/arp | one table (ARP); timers on the namespace wheel |
//! | `ip.rs` | include/uapi/linux/ip.h, include/net/ip.h | net-ipv4/ip | — |
//! | `ip_input.rs` | net/ipv4/ip_input.c | net-ipv4/ip | no netfilter hooks, no IP options processing beyond length checks |
//! | `ip_output.rs` | net/ipv4/ip_output.c | net-ipv4/ip | no GSO; fragments are built by copying |
//! | `ip_fragment.rs` | net/ipv4/ip_fragment.c, net/ipv4/inet_fragment.c | net-ipv4/ip_fragment | a list per queue instead of an rbtree |
//! | `ip_forward.rs` | net/ipv4/ip_forward.c | net-ipv4/route | no redirects sent |
//! | `protocol.rs` | net/ipv4/protocol.c | net-ipv4/protocol | — |
//! | `devinet.rs` | net/ipv4/devinet.c | net-ipv4/route | addresses only (no in_device sysctls) |
//! | `fib.rs` | net/ipv4/fib_trie.c, fib_frontend.c | net-ipv4/route | an 8-bit-stride multibit trie over per-prefix-length hashes instead of the LC-trie; 0.99's first-match list kept as a teaching variant |
//! | `route.rs` | net/ipv4/route.c | net-ipv4/route | no route cache / nexthop exceptions beyond PMTU |
//! | `icmp.rs` | net/ipv4/icmp.c | net-ipv4/icmp | the per-host limiter is a bounded map, not inet_peer; no raw sockets, no RFC 4884/8335 extensions; ping sockets reduced to reply/error logs |
//! | `udp.rs` | net/ipv4/udp.c | net-ipv4/udp | no GRO/GSO, no multicast delivery |
//! | `sysctl_net_ipv4.rs` | net/ipv4/sysctl_net_ipv4.c | — | — |
//! | `testlink.rs` | — (no Linux twin) | — | an in-memory cable for tests; net-dev's `Wire` is the real one |
//!
//! **Lock order** (outermost first): FIB → neighbour table → one neighbour
//! entry → fragment queues → UDP hash → a socket. No lock of this crate is
//! held while calling `dev_queue_xmit` or a protocol handler.

pub mod arp;
pub mod devinet;
pub mod eth;
pub mod fib;
pub mod icmp;
pub mod inet_offload;
pub mod ip;
pub mod ip_forward;
pub mod ip_fragment;
pub mod ip_input;
pub mod ip_output;
pub mod neighbour;
pub mod protocol;
pub mod route;
pub mod sysctl_net_ipv4;
pub mod testlink;
pub mod udp;

pub use std::net::Ipv4Addr;

use std::sync::Arc;

use net_core::Net;

/// Room for a link-layer header (`LL_MAX_HEADER`).
pub const LL_MAX_HEADER: usize = 128;
/// Room for every header below the transport (`MAX_HEADER` =
/// `LL_MAX_HEADER` + 48 with tunnels configured).
pub const MAX_HEADER: usize = LL_MAX_HEADER + 48;

/// IPv4's per-namespace state: Linux's `struct netns_ipv4` plus the
/// globals (`inet_protos`, `arp_tbl`, the UDP table) that Linux keeps per
/// namespace through other means.
///
/// Created by [`ipv4_init`] and found again with
/// `net.net_generic::<Ipv4>()`; handlers registered with net-core capture
/// an `Arc<Ipv4>` so the data path never looks it up.
pub struct Ipv4 {
    /// `net.ipv4.*` sysctls (handles, read lock-free).
    pub sysctl: sysctl_net_ipv4::Ipv4Sysctls,
    /// Interface addresses (`in_device`/`in_ifaddr` lists).
    pub devinet: devinet::InDevices,
    /// The routing tables (local and main).
    pub fib: fib::Fib,
    /// The ARP neighbour table (`arp_tbl`).
    pub arp_tbl: neighbour::NeighTable,
    /// `inet_protos[256]`.
    pub protos: protocol::InetProtos,
    /// `inet_offloads[256]`: the transports' GRO callbacks.
    pub offloads: Arc<inet_offload::InetOffloads>,
    /// Reassembly queues (`net->ipv4.fqdir`).
    pub frags: ip_fragment::IpFrags,
    /// IP ID generation state (`ip_idents`).
    pub ident: ip_output::IpIdents,
    /// ICMP rate limits and echo bookkeeping.
    pub icmp: icmp::IcmpState,
    /// UDP sockets (`udp_table`).
    pub udp: udp::UdpTable,
}

impl std::fmt::Debug for Ipv4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ipv4").finish_non_exhaustive()
    }
}

impl Ipv4 {
    /// This namespace's IPv4 state; panics if [`ipv4_init`] was not called,
    /// which is a bug in the caller's setup, not something input can cause.
    pub fn of(net: &Net) -> Arc<Ipv4> {
        net.net_generic_arc::<Ipv4>().expect("ipv4_init() was not called for this namespace")
    }
}

/// Wire IPv4 into a namespace: sysctls, tables, `ip_packet_type`,
/// `arp_packet_type`, Ethernet header ops, and the ICMP and UDP protocols.
///
/// Mirrors the IPv4 half of `inet_init()` (net/ipv4/af_inet.c): `arp_init()`,
/// `ip_init()`, `inet_add_protocol(&icmp_protocol, IPPROTO_ICMP)`,
/// `inet_add_protocol(&udp_protocol, IPPROTO_UDP)`, `dev_add_pack(&ip_packet_type)`.
/// net-tcp's `inet_init` calls this and then adds TCP. Calling it twice
/// returns the existing state.
pub fn ipv4_init(net: &Arc<Net>) -> Arc<Ipv4> {
    if let Some(v) = net.net_generic_arc::<Ipv4>() {
        return v;
    }
    let ipv4 = Arc::new(Ipv4 {
        sysctl: sysctl_net_ipv4::register_net_ipv4(&net.sysctl),
        devinet: devinet::InDevices::new(),
        fib: fib::Fib::new(),
        arp_tbl: neighbour::NeighTable::new(),
        protos: protocol::InetProtos::new(),
        offloads: Arc::new(inet_offload::InetOffloads::new()),
        frags: ip_fragment::IpFrags::new(),
        ident: ip_output::IpIdents::new(net),
        icmp: icmp::IcmpState::new(),
        udp: udp::UdpTable::new(),
    });
    net.net_assign_generic(ipv4.clone());
    eth::eth_init(net);
    arp::arp_init(net, &ipv4);
    fib::ip_fib_init(net, &ipv4);
    ip_input::ip_init(net, &ipv4);
    inet_offload::ipv4_offload_init(net, &ipv4.offloads);
    icmp::icmp_init(net, &ipv4);
    udp::udp_init(net, &ipv4);
    ipv4
}
