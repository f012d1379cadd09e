//! OWNER: helper L3 — replace this stub. Mirrors net/ipv4/protocol.c.
use net_core::{Errno, Net, NetRx, Skb};
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

/// A registered transport (`struct net_protocol`).
pub struct NetProtocol {
    /// For traces: `"tcp_v4_rcv"`.
    pub name: &'static str,
    /// `handler`.
    pub handler: Box<ProtoHandler>,
    /// `err_handler`.
    pub err_handler: Option<Box<ProtoErrHandler>>,
}

/// `inet_protos[MAX_INET_PROTOS]`.
pub struct InetProtos {}
impl InetProtos {
    /// All slots empty.
    pub fn new() -> Self {
        InetProtos {}
    }
    /// `inet_add_protocol()`: `EEXIST` when the slot is taken.
    pub fn inet_add_protocol(&self, _prot: Arc<NetProtocol>, _num: u8) -> Result<(), Errno> {
        todo!()
    }
    /// The protocol in slot `num`.
    pub fn get(&self, _num: u8) -> Option<Arc<NetProtocol>> {
        todo!()
    }
}
impl Default for InetProtos {
    fn default() -> Self {
        Self::new()
    }
}
