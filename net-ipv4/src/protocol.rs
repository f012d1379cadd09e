//! The transport protocol table, `inet_protos[256]`.
//!
//! Mirrors net/ipv4/protocol.c and `struct net_protocol`
//! (include/net/protocol.h), Linux 6.18. RFC 791 §3.1 ("Protocol") and the
//! IANA protocol-number registry say what the slots mean.
//!
//! Linux keeps one global array of RCU pointers, filled with `cmpxchg` so
//! that registering a taken slot fails. Ours is per namespace (it lives in
//! [`crate::Ipv4`]) and is the same array of RCU-style pointers
//! ([`net_core::rcupdate::RcuSlots`]): the data path reads a slot with one
//! load, no lock and no reference count. A protocol that leaves stays
//! owned by the table until the namespace goes, as Linux's `static struct
//! net_protocol`s outlive any reader.

use net_core::rcupdate::RcuSlots;
use net_core::{Errno, Net, NetRx, SkBuff, Skb};
use std::sync::Arc;

/// A transport's receive handler: `skb.data` is at the transport header;
/// the network and transport header marks are set.
pub type ProtoHandler = dyn Fn(&Net, Skb) -> NetRx + Send + Sync;

/// What an ICMP error tells the transport that caused it.
#[derive(Debug)]
pub struct IcmpErr<'a> {
    /// ICMP type.
    pub type_: u8,
    /// ICMP code.
    pub code: u8,
    /// Type-specific info (the next-hop MTU for "fragmentation needed").
    pub info: u32,
    /// The offending datagram as quoted: its IPv4 header and at least 8
    /// bytes of its payload.
    pub inner: &'a [u8],
}

/// A transport's error handler (`err_handler`).
pub type ProtoErrHandler = dyn Fn(&Net, &IcmpErr<'_>) + Send + Sync;

/// A transport's early demux (`early_demux`): called by `ip_rcv_finish()`
/// before routing, with `skb.data` at the IPv4 header and the transport
/// header mark set. It may attach the socket it finds (`skb.sk`) and
/// returns true when that socket's cached input route
/// ([`crate::route::SkRxDst`]) is valid for this skb, so no route lookup
/// is needed (Linux: `skb_dst_set_noref(skb, sk->sk_rx_dst)`).
pub type ProtoEarlyDemux = dyn Fn(&Net, &mut SkBuff) -> bool + Send + Sync;

/// A registered transport (`struct net_protocol`).
#[doc(alias = "net_protocol")]
pub struct NetProtocol {
    /// For traces: `"tcp_v4_rcv"`.
    pub name: &'static str,
    /// `handler`.
    pub handler: Box<ProtoHandler>,
    /// `err_handler`.
    pub err_handler: Option<Box<ProtoErrHandler>>,
    /// `early_demux`: find the established socket and its cached input
    /// route before routing (`tcp_v4_early_demux()`); `None` for a
    /// transport without one. Linux 6.18 has dropped the pointer from
    /// `struct net_protocol` and calls `tcp_v4_early_demux()` directly (an
    /// `INDIRECT_CALL`)
    /// from `ip_rcv_finish_core()` under `tcp_early_demux`; net-ipv4 cannot
    /// name net-tcp, so we keep the older kernels' hook.
    pub early_demux: Option<Box<ProtoEarlyDemux>>,
}

impl std::fmt::Debug for NetProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetProtocol").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Number of slots (`MAX_INET_PROTOS`).
pub const MAX_INET_PROTOS: usize = 256;

/// `inet_protos[MAX_INET_PROTOS]`.
#[doc(alias = "inet_protos")]
pub struct InetProtos {
    /// The slots: written only when a protocol registers or leaves
    /// (`cmpxchg` on an RCU pointer, as Linux), read with one load per
    /// datagram.
    slots: RcuSlots<NetProtocol>,
}

impl InetProtos {
    /// All slots empty.
    pub fn new() -> Self {
        InetProtos { slots: RcuSlots::new(MAX_INET_PROTOS) }
    }

    // ANCHOR: inet_add_protocol
    /// Register `prot` as the handler of IP protocol `num`.
    ///
    /// Mirrors `inet_add_protocol()` (net/ipv4/protocol.c), which installs
    /// the pointer with `cmpxchg(&inet_protos[protocol], NULL, prot)` and
    /// returns -1 if the slot was taken. We say `EEXIST` and leave the
    /// existing protocol in place.
    pub fn inet_add_protocol(&self, prot: Arc<NetProtocol>, num: u8) -> Result<(), Errno> {
        if self.slots.rcu_cmpxchg(usize::from(num), None, Some(prot)) { Ok(()) } else { Err(Errno::EEXIST) }
    }
    // ANCHOR_END: inet_add_protocol

    /// Remove `prot` from slot `num`.
    ///
    /// Mirrors `inet_del_protocol()`: succeeds only if the slot holds this
    /// very protocol (the `cmpxchg(.., prot, NULL)`); `ENOENT` otherwise.
    /// Linux then waits for an RCU grace period; here the table keeps
    /// the protocol until the namespace goes, so a handler still running
    /// needs no wait.
    pub fn inet_del_protocol(&self, prot: &Arc<NetProtocol>, num: u8) -> Result<(), Errno> {
        if self.slots.rcu_cmpxchg(usize::from(num), Some(prot), None) { Ok(()) } else { Err(Errno::ENOENT) }
    }

    /// The protocol in slot `num` (`rcu_dereference(inet_protos[num])`).
    #[inline]
    pub fn get(&self, num: u8) -> Option<&NetProtocol> {
        self.slots.rcu_dereference(usize::from(num))
    }
}

impl Default for InetProtos {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(name: &'static str) -> Arc<NetProtocol> {
        Arc::new(NetProtocol {
            name,
            handler: Box::new(|net: &Net, skb: Skb| {
                net.consume_skb(skb);
                NetRx::Success
            }),
            err_handler: None,
            early_demux: None,
        })
    }

    #[test]
    fn add_get_del() {
        let t = InetProtos::new();
        assert!(t.get(17).is_none());
        let udp = proto("udp_rcv");
        t.inet_add_protocol(udp.clone(), 17).unwrap();
        assert_eq!(t.get(17).unwrap().name, "udp_rcv");
        // The slot is taken: cmpxchg fails.
        assert_eq!(t.inet_add_protocol(proto("other"), 17), Err(Errno::EEXIST));
        assert_eq!(t.get(17).unwrap().name, "udp_rcv");
        // Only the owner can remove it.
        assert_eq!(t.inet_del_protocol(&proto("other"), 17), Err(Errno::ENOENT));
        t.inet_del_protocol(&udp, 17).unwrap();
        assert!(t.get(17).is_none());
        t.inet_add_protocol(proto("x"), 255).unwrap();
        assert!(t.get(255).is_some());
    }
}
