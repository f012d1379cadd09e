//! CONTRACT STUB — helper H1 owns this file and replaces this text.
//!
//! Mirrors net/ipv4/inet_hashtables.c and include/net/inet_hashtables.h.

use std::net::Ipv4Addr;
use std::sync::Arc;

use net_core::Errno;
use net_core::random::SipKey;

use crate::sock::TcpSock;

/// `struct inet_hashinfo`: ehash, bhash, lhash2.
pub struct InetHashinfo {
    _secret: SipKey,
}

impl InetHashinfo {
    /// Tables sized for `ehash_entries` established sockets (power of two).
    pub fn new(ehash_entries: usize, secret: SipKey) -> InetHashinfo {
        let _ = ehash_entries;
        InetHashinfo { _secret: secret }
    }

    /// `__inet_lookup_established()`: the socket whose four-tuple is the
    /// reverse of a segment from `saddr:sport` to `daddr:dport` arriving on
    /// device `dif`.
    pub fn __inet_lookup_established(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<Arc<TcpSock>> {
        let _ = (saddr, sport, daddr, dport, dif);
        todo!()
    }

    /// `__inet_lookup_listener()`: best-scoring listener on `daddr:dport`.
    pub fn __inet_lookup_listener(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<Arc<TcpSock>> {
        let _ = (saddr, sport, daddr, dport, dif);
        todo!()
    }

    /// `__inet_lookup()`: established first, then listener.
    pub fn __inet_lookup(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<Arc<TcpSock>> {
        self.__inet_lookup_established(saddr, sport, daddr, dport, dif)
            .or_else(|| self.__inet_lookup_listener(saddr, sport, daddr, dport, dif))
    }

    /// `inet_ehash_nolisten()` / `__inet_hash_nolisten()`: put a socket whose
    /// four-tuple is set into ehash (passive children). False if the
    /// four-tuple is already there.
    pub fn inet_ehash_nolisten(&self, sk: &Arc<TcpSock>) -> bool {
        let _ = sk;
        todo!()
    }

    /// `inet_hash()` for a listener: put it into lhash2.
    pub fn inet_hash(&self, sk: &Arc<TcpSock>) {
        let _ = sk;
        todo!()
    }

    /// `inet_unhash()`: take it out of ehash or lhash2, whichever holds it.
    pub fn inet_unhash(&self, sk: &Arc<TcpSock>) {
        let _ = sk;
        todo!()
    }

    /// `inet_put_port()`: leave the bind bucket (frees it when empty).
    pub fn inet_put_port(&self, sk: &Arc<TcpSock>) {
        let _ = sk;
        todo!()
    }

    /// `__inet_inherit_port()`: a passive child joins its listener's bind bucket.
    pub fn __inet_inherit_port(&self, listener: &Arc<TcpSock>, child: &Arc<TcpSock>) {
        let _ = (listener, child);
        todo!()
    }

    /// `__inet_hash_connect()`: pick a local port for an active open whose
    /// `inet_rcv_saddr`/`inet_daddr`/`inet_dport` are set, check the tuple
    /// against ehash (`__inet_check_established`), bind and insert it.
    pub fn inet_hash_connect(
        &self,
        sk: &Arc<TcpSock>,
        range: (u16, u16),
        port_offset: u32,
    ) -> Result<(), Errno> {
        let _ = (sk, range, port_offset);
        todo!()
    }

    /// Established-hash size (sockets).
    pub fn established_len(&self) -> usize {
        todo!()
    }
}
