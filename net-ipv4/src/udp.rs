//! UDP over IPv4: the header, the socket table, and a socket API.
//!
//! Mirrors net/ipv4/udp.c, the datagram parts of net/ipv4/af_inet.c
//! (`__inet_bind()`, `inet_autobind()`) and net/ipv4/datagram.c
//! (`__ip4_datagram_connect()`), and include/uapi/linux/udp.h, of
//! **Linux 6.18**.
//!
//! Heads up! Read RFC 768 (the whole protocol, three pages), RFC 1122
//! §4.1.3 (UDP checksums MUST be verified when present and SHOULD be
//! sent; ICMP port unreachable for datagrams nobody wants; errors passed to
//! the application), and RFC 6056 §3.3.1 for why an ephemeral port search
//! starts at a random offset.
//!
//! # Sockets and ports
//!
//! A socket is found by its local port first: [`UdpTable`] is Linux's
//! `udp_table`, one chain per port (`hslot`), guarded by a spin lock held
//! only to bind, unhash or look up — never across a send. Among the
//! sockets on the receiving port, `compute_score()` picks the most specific
//! match: a bound local address, a connected peer address and a connected
//! peer port each add 4 and each must match if set, so a connected socket
//! beats a bound one, which beats a wildcard one.
//!
//! Two sockets may share a port only if both set `SO_REUSEADDR` or their
//! local addresses differ and neither is the wildcard
//! (`udp_lib_lport_inuse()` with `inet_rcv_saddr_equal(…, true)`).
//!
//! # The receive queue
//!
//! Every queued datagram charges its `truesize` to `sk_rmem_alloc`. A
//! datagram that would take `sk_rmem_alloc` past `sk_rcvbuf` is dropped
//! (`RcvbufErrors` and `InErrors`) — unless the queue is empty, so one
//! datagram larger than the buffer still gets through
//! (`__udp_enqueue_schedule_skb()`). `SO_RCVBUF` doubles the value asked for
//! (for the overhead), bounded by `net.core.rmem_max` and `SOCK_MIN_RCVBUF`.
//!
//! # Where we differ
//!
//! - No GRO/GSO, no UDP-Lite, no encapsulation, no `SO_REUSEPORT` groups,
//!   no `IP_RECVERR` error queue, no device binding, no multicast group
//!   membership: broadcast datagrams go to every socket that matches them.
//! - Calls never block: an empty queue is `EAGAIN` (`MSG_DONTWAIT`).
//! - The checksum is verified on arrival; Linux defers it to `recvmsg`
//!   when the device did not check it. The counters are the same.
//! - `sk_err` is delivered by the next send or receive, as Linux does for
//!   a socket without `IP_RECVERR`; [`UdpSocket::take_error`] is
//!   `SO_ERROR`.
//! - `udp_mem` / `udp_rmem_min` memory pressure is not modelled: only
//!   `sk_rcvbuf` bounds a socket.
//!
//! # Example
//!
//! Two hosts on an in-memory hub, in virtual time:
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddrV4};
//! use net_core::{Clock, Net};
//! use net_ipv4::testlink::{Hub, run_until_idle};
//! use net_ipv4::udp::UdpSocket;
//!
//! let clock = Clock::new_virtual();
//! let hub = Hub::new(&clock, 50_000);
//! let host = |name: &str, mac: u8, addr: Ipv4Addr| {
//!     let net = Net::new(name, clock.clone(), u64::from(mac));
//!     let ipv4 = net_ipv4::ipv4_init(&net);
//!     let dev = hub.attach(&net, "eth0", [2, 0, 0, 0, 0, mac]);
//!     net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, addr, 24).unwrap();
//!     net
//! };
//! let a = host("a", 1, Ipv4Addr::new(10, 0, 0, 1));
//! let b = host("b", 2, Ipv4Addr::new(10, 0, 0, 2));
//!
//! let server = UdpSocket::new(&b)?;
//! server.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))?;
//! let client = UdpSocket::new(&a)?;
//! client.connect(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7))?;
//! client.send(b"hello")?;
//! run_until_idle(&clock, &[&a, &b], 10_000_000);
//!
//! let mut buf = [0u8; 16];
//! let (n, from) = server.recvfrom(&mut buf)?;
//! assert_eq!(&buf[..n], b"hello");
//! assert_eq!(from, client.local_addr());
//! # Ok::<(), net_core::Errno>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::Arc;

use net_core::checksum::{CSUM_MANGLED_0, Sum16, Wsum, csum_partial, csum_tcpudp_magic};
use net_core::skbuff::{IpSummed, PktType, alloc_skb};
use net_core::snmp::UdpMib;
use net_core::sysctl_net_core::SOCK_MIN_RCVBUF;
use net_core::{Errno, Net, NetRx, Skb, SkbDropReason};

use crate::fib::RtnType;
use crate::icmp::{
    ICMP_DEST_UNREACH, ICMP_ERR_CONVERT, ICMP_FRAG_NEEDED, ICMP_PARAMETERPROB, ICMP_PORT_UNREACH,
    ICMP_REDIRECT, ICMP_SOURCE_QUENCH, NR_ICMP_UNREACH, icmp_send, iph_parse, is_bcast_or_mcast,
};
use crate::ip::IPPROTO_UDP;
use crate::ip_output::{IpSendOpts, ip_build_and_send_pkt};
use crate::protocol::{IcmpErr, NetProtocol};
use crate::{Ipv4, Ipv4Addr, MAX_HEADER};

/// `sizeof(struct udphdr)`.
pub const UDP_HLEN: usize = 8;

/// Largest UDP payload over IPv4: 65535 − 20 (IP) − 8 (UDP).
pub const UDP_MAX_PAYLOAD: usize = 0xffff - 20 - UDP_HLEN;

/// Charge for a queued datagram whose skb reports no `truesize`.
const SKB_OVERHEAD: usize = 256;

// -- struct udphdr -------------------------------------------------------------

mod field {
    use std::ops::Range;
    pub const SOURCE: Range<usize> = 0..2;
    pub const DEST: Range<usize> = 2..4;
    pub const LEN: Range<usize> = 4..6;
    pub const CHECK: Range<usize> = 6..8;
}

/// A zero-copy view of a UDP header and what follows (`struct udphdr`).
///
/// [`UdpHdr::new_checked`] refuses buffers shorter than [`UDP_HLEN`];
/// after that no accessor can panic. `len` is not trusted: [`UdpHdr::payload`]
/// is everything after the header.
#[derive(Clone, Copy, Debug)]
pub struct UdpHdr<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> UdpHdr<T> {
    /// The view, or `None` when `buf` is shorter than a UDP header.
    pub fn new_checked(buf: T) -> Option<Self> {
        (buf.as_ref().len() >= UDP_HLEN).then_some(UdpHdr { buf })
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        net_core::unaligned::get_unaligned_be16(self.buf.as_ref(), r.start)
    }

    /// `source` port.
    pub fn source(&self) -> u16 {
        self.be16(field::SOURCE)
    }
    /// `dest` port.
    pub fn dest(&self) -> u16 {
        self.be16(field::DEST)
    }
    /// `len`: header plus payload, as the sender claims.
    pub fn len(&self) -> u16 {
        self.be16(field::LEN)
    }
    /// True when `len` claims no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= UDP_HLEN
    }
    /// `check`, read in network order; 0 means "no checksum".
    pub fn check(&self) -> u16 {
        self.be16(field::CHECK)
    }
    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[UDP_HLEN..]
    }
    /// Whether the checksum verifies over the whole buffer with the
    /// pseudo-header of `saddr`/`daddr` (a zero `check` always does).
    pub fn csum_ok(&self, saddr: Ipv4Addr, daddr: Ipv4Addr) -> bool {
        self.check() == 0 || udp4_csum(saddr, daddr, self.buf.as_ref()) == Sum16::ZERO
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpHdr<T> {
    fn set16(&mut self, r: std::ops::Range<usize>, v: u16) {
        net_core::unaligned::put_unaligned_be16(self.buf.as_mut(), r.start, v);
    }
    /// Set `source`.
    pub fn set_source(&mut self, v: u16) {
        self.set16(field::SOURCE, v);
    }
    /// Set `dest`.
    pub fn set_dest(&mut self, v: u16) {
        self.set16(field::DEST, v);
    }
    /// Set `len`.
    pub fn set_len(&mut self, v: u16) {
        self.set16(field::LEN, v);
    }
    /// Set `check` (network-order number).
    pub fn set_check(&mut self, v: u16) {
        self.set16(field::CHECK, v);
    }
    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[UDP_HLEN..]
    }
    /// Compute and store the checksum over the whole buffer, sending
    /// [`CSUM_MANGLED_0`] for a zero result (RFC 768: zero means none).
    /// Mirrors `udp4_hwcsum()`'s software twin in `udp_send_skb()`.
    pub fn fill_checksum(&mut self, saddr: Ipv4Addr, daddr: Ipv4Addr) {
        self.buf.as_mut()[field::CHECK].fill(0);
        let mut c = udp4_csum(saddr, daddr, self.buf.as_ref());
        if c == Sum16::ZERO {
            c = CSUM_MANGLED_0;
        }
        self.buf.as_mut()[field::CHECK].copy_from_slice(&c.to_ne_bytes());
    }
}

/// The UDP checksum of `seg` (header and payload) with the RFC 768
/// pseudo-header: `csum_tcpudp_magic(saddr, daddr, len, IPPROTO_UDP,
/// csum_partial(seg))`. Zero when a received segment verifies.
pub fn udp4_csum(saddr: Ipv4Addr, daddr: Ipv4Addr, seg: &[u8]) -> Sum16 {
    csum_tcpudp_magic(
        saddr.octets(),
        daddr.octets(),
        seg.len() as u16,
        IPPROTO_UDP,
        csum_partial(seg, Wsum::ZERO),
    )
}

/// Build a UDP datagram (header and payload) with its checksum.
pub fn udp_build(saddr: Ipv4Addr, sport: u16, daddr: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; UDP_HLEN + payload.len()];
    let mut h = UdpHdr::new_checked(&mut v[..]).expect("sized above");
    h.set_source(sport);
    h.set_dest(dport);
    h.set_len((UDP_HLEN + payload.len()) as u16);
    h.payload_mut().copy_from_slice(payload);
    h.fill_checksum(saddr, daddr);
    v
}

// -- the socket ----------------------------------------------------------------

/// Addresses and flags (the `inet_sock` fields UDP uses and `sk_state`).
#[derive(Clone, Copy, Debug)]
struct InetAddrs {
    /// `inet_rcv_saddr`: the bound local address; 0.0.0.0 = any.
    rcv_saddr: Ipv4Addr,
    /// `inet_saddr`: the source address to send from; 0.0.0.0 = route's choice.
    saddr: Ipv4Addr,
    /// `inet_num`: the local port, 0 while unbound.
    num: u16,
    /// `inet_daddr`: the connected peer, 0.0.0.0 when not connected.
    daddr: Ipv4Addr,
    /// `inet_dport`: the connected peer's port.
    dport: u16,
    /// `sk_state == TCP_ESTABLISHED` (connected).
    connected: bool,
    /// `sk_reuse` (`SO_REUSEADDR`).
    reuse: bool,
    /// `SOCK_BROADCAST` (`SO_BROADCAST`).
    broadcast: bool,
    /// `SOCK_BINDADDR_LOCK`: the local address came from `bind()`.
    bindaddr_lock: bool,
    /// `SOCK_BINDPORT_LOCK`: the local port came from `bind()`.
    bindport_lock: bool,
}

impl InetAddrs {
    const fn new() -> Self {
        InetAddrs {
            rcv_saddr: Ipv4Addr::UNSPECIFIED,
            saddr: Ipv4Addr::UNSPECIFIED,
            num: 0,
            daddr: Ipv4Addr::UNSPECIFIED,
            dport: 0,
            connected: false,
            reuse: false,
            broadcast: false,
            bindaddr_lock: false,
            bindport_lock: false,
        }
    }
}

/// The receive side of a socket.
struct RxQueue {
    /// `sk_receive_queue`: datagrams with `data` at the payload, and who sent them.
    queue: VecDeque<(Skb, SocketAddrV4)>,
    /// `sk_rmem_alloc`: truesize of everything queued.
    rmem_alloc: usize,
    /// `sk_rcvbuf`.
    rcvbuf: usize,
    /// `sk_err`: a pending error, reported once.
    err: Option<Errno>,
    /// `sk_drops`.
    drops: u64,
}

/// One UDP socket as the table sees it (`struct udp_sock`, with its
/// `inet_sock` and `sock`).
pub struct UdpSock {
    // -- `inet`: spin lock (Linux: lock_sock and the hash slot lock). Taken
    //    after the table lock, never held across a send -----------------
    inet: spin::Mutex<InetAddrs>,
    // -- `rx`: spin lock (Linux: `sk_receive_queue.lock`) ------------------
    rx: spin::Mutex<RxQueue>,
}

impl UdpSock {
    /// A closed, unbound socket with `rcvbuf` bytes of receive buffer.
    pub fn new(rcvbuf: usize) -> Self {
        UdpSock {
            inet: spin::Mutex::new(InetAddrs::new()),
            rx: spin::Mutex::new(RxQueue {
                queue: VecDeque::new(),
                rmem_alloc: 0,
                rcvbuf,
                err: None,
                drops: 0,
            }),
        }
    }

    /// Mirrors `__udp_enqueue_schedule_skb()`: queue `skb` (data at the
    /// payload) from `from`, charging its truesize. `ENOMEM` when that would
    /// pass `sk_rcvbuf` and the queue is not empty (the caller counts
    /// `RcvbufErrors` and drops); the skb comes back with the error.
    #[allow(clippy::result_large_err)]
    pub fn enqueue(&self, skb: Skb, from: SocketAddrV4) -> Result<(), (Errno, Skb)> {
        let size = skb_charge(&skb);
        let mut rx = self.rx.lock();
        if rx.rmem_alloc + size > rx.rcvbuf && (rx.rcvbuf > (i32::MAX as usize >> 1) || rx.rmem_alloc != 0) {
            rx.drops += 1;
            return Err((Errno::ENOMEM, skb));
        }
        rx.rmem_alloc += size;
        rx.queue.push_back((skb, from));
        Ok(())
    }

    /// `sk_rmem_alloc`.
    pub fn rmem_alloc(&self) -> usize {
        self.rx.lock().rmem_alloc
    }

    /// Datagrams queued.
    pub fn rx_queue_len(&self) -> usize {
        self.rx.lock().queue.len()
    }

    /// `sk_drops`: datagrams refused for lack of receive buffer.
    pub fn drops(&self) -> u64 {
        self.rx.lock().drops
    }

    /// Mirrors `sock_error()`: take the pending error.
    fn sock_error(&self) -> Option<Errno> {
        self.rx.lock().err.take()
    }

    /// Mirrors `compute_score()`: `None` when this socket cannot take a
    /// datagram `saddr:sport → daddr:(its port)`, else how specific it is.
    fn compute_score(&self, saddr: Ipv4Addr, sport: u16, daddr: Ipv4Addr) -> Option<u32> {
        let a = *self.inet.lock();
        let mut score = 2; // PF_INET
        if !a.rcv_saddr.is_unspecified() {
            if a.rcv_saddr != daddr {
                return None;
            }
            score += 4;
        }
        if !a.daddr.is_unspecified() {
            if a.daddr != saddr {
                return None;
            }
            score += 4;
        }
        if a.dport != 0 {
            if a.dport != sport {
                return None;
            }
            score += 4;
        }
        Some(score)
    }
}

fn skb_charge(skb: &Skb) -> usize {
    match skb.truesize as usize {
        0 => skb.len() + SKB_OVERHEAD,
        t => t,
    }
}

// -- the table -----------------------------------------------------------------

/// UDP sockets by port (`udp_table`).
///
/// One chain per local port, under one spin lock held for a bind, an
/// unhash or a lookup (Linux: a spin lock per hash slot, RCU for lookups).
/// Lock order: this table, then a socket's `inet` lock.
pub struct UdpTable {
    hash: spin::Mutex<HashMap<u16, Vec<Arc<UdpSock>>>>,
}

impl UdpTable {
    /// Empty.
    pub fn new() -> Self {
        UdpTable { hash: spin::Mutex::new(HashMap::new()) }
    }

    /// Number of bound sockets.
    pub fn len(&self) -> usize {
        self.hash.lock().values().map(Vec::len).sum()
    }

    /// True with no socket bound.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: udp_lib_get_port
    /// Mirrors `udp_lib_get_port()`: hash `sk` on port `snum`, or with
    /// `snum == 0` on a free port of `range` (`ip_local_port_range`),
    /// searched from a random start (`get_random_u32()`, RFC 6056 §3.3.1)
    /// upwards with wrap-around. A port is free for `sk` unless another
    /// socket on it has an overlapping local address (equal, or either the
    /// wildcard) and not both set `SO_REUSEADDR` (`udp_lib_lport_inuse()`).
    /// `EADDRINUSE` when taken or when the range is exhausted.
    ///
    /// Linux walks the range with an odd stride over its hash chains; a
    /// linear walk from a random start covers the range the same way.
    pub fn udp_lib_get_port(
        &self,
        sk: &Arc<UdpSock>,
        snum: u16,
        range: (u16, u16),
        rand: u32,
    ) -> Result<u16, Errno> {
        let mut hash = self.hash.lock();
        let (rcv_saddr, reuse) = {
            let a = sk.inet.lock();
            (a.rcv_saddr, a.reuse)
        };
        let inuse = |hash: &HashMap<u16, Vec<Arc<UdpSock>>>, port: u16| {
            hash.get(&port).is_some_and(|chain| {
                chain.iter().any(|sk2| {
                    if Arc::ptr_eq(sk2, sk) {
                        return false;
                    }
                    let b = sk2.inet.lock();
                    (!b.reuse || !reuse)
                        && (b.rcv_saddr.is_unspecified()
                            || rcv_saddr.is_unspecified()
                            || b.rcv_saddr == rcv_saddr)
                })
            })
        };
        let port = if snum != 0 {
            if inuse(&hash, snum) {
                return Err(Errno::EADDRINUSE);
            }
            snum
        } else {
            let (low, high) = (range.0.min(range.1).max(1), range.0.max(range.1).max(1));
            let remaining = u32::from(high - low) + 1;
            // reciprocal_scale(rand, remaining)
            let first = ((u64::from(rand) * u64::from(remaining)) >> 32) as u32;
            (0..remaining)
                .map(|i| low + ((first + i) % remaining) as u16)
                .find(|&p| !inuse(&hash, p))
                .ok_or(Errno::EADDRINUSE)?
        };
        sk.inet.lock().num = port;
        hash.entry(port).or_default().push(sk.clone());
        Ok(port)
    }
    // ANCHOR_END: udp_lib_get_port

    /// Mirrors `udp_lib_unhash()`: take `sk` off its port's chain.
    pub fn udp_lib_unhash(&self, sk: &Arc<UdpSock>) {
        let mut hash = self.hash.lock();
        let port = sk.inet.lock().num;
        if let Some(chain) = hash.get_mut(&port) {
            chain.retain(|s| !Arc::ptr_eq(s, sk));
            if chain.is_empty() {
                hash.remove(&port);
            }
        }
        sk.inet.lock().num = 0;
    }

    /// Mirrors `__udp4_lib_lookup()`: the best-scoring socket on port
    /// `dport` for a datagram `saddr:sport → daddr:dport`.
    pub fn lookup(&self, saddr: Ipv4Addr, sport: u16, daddr: Ipv4Addr, dport: u16) -> Option<Arc<UdpSock>> {
        let hash = self.hash.lock();
        let mut best: Option<(u32, &Arc<UdpSock>)> = None;
        for sk in hash.get(&dport)? {
            if let Some(s) = sk.compute_score(saddr, sport, daddr)
                && best.is_none_or(|(b, _)| s > b)
            {
                best = Some((s, sk));
            }
        }
        best.map(|(_, sk)| sk.clone())
    }

    /// Every socket on `dport` that would take a broadcast or multicast
    /// datagram `saddr:sport → daddr` (`__udp4_lib_mcast_deliver()`, less
    /// group membership: a wildcard-bound socket takes them all).
    fn lookup_all(&self, saddr: Ipv4Addr, sport: u16, daddr: Ipv4Addr, dport: u16) -> Vec<Arc<UdpSock>> {
        let hash = self.hash.lock();
        hash.get(&dport)
            .map(|chain| {
                chain
                    .iter()
                    .filter(|sk| {
                        let a = *sk.inet.lock();
                        (a.rcv_saddr.is_unspecified() || a.rcv_saddr == daddr)
                            && (a.daddr.is_unspecified() || a.daddr == saddr)
                            && (a.dport == 0 || a.dport == sport)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Default for UdpTable {
    fn default() -> Self {
        Self::new()
    }
}

// -- registration and receive --------------------------------------------------

/// Register `udp_protocol` in `inet_protos[IPPROTO_UDP]`: [`udp_rcv`] and
/// [`udp_err`]. The handlers hold the namespace's [`Ipv4`] weakly.
pub fn udp_init(_net: &Arc<Net>, ipv4: &Arc<Ipv4>) {
    let w = Arc::downgrade(ipv4);
    let w2 = w.clone();
    let prot = NetProtocol {
        name: "udp_rcv",
        handler: Box::new(move |net: &Net, skb: Skb| match w.upgrade() {
            Some(ipv4) => udp_rcv(net, &ipv4, skb),
            None => {
                net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
                NetRx::Drop
            }
        }),
        err_handler: Some(Box::new(move |net: &Net, err: &IcmpErr<'_>| {
            if let Some(ipv4) = w2.upgrade() {
                udp_err(net, &ipv4, err);
            }
        })),
        early_demux: None,
    };
    // Linux: pr_crit("cannot add UDP protocol") and carry on.
    let _ = ipv4.protos.inet_add_protocol(Arc::new(prot), IPPROTO_UDP);
}

fn udp_drop(net: &Net, skb: Skb, reason: SkbDropReason) -> NetRx {
    net.mib.inc(UdpMib::InErrors);
    net.kfree_skb_reason(skb, reason);
    NetRx::Drop
}

// ANCHOR: udp_rcv
/// Mirrors `udp_rcv()` → `__udp4_lib_rcv()` (net/ipv4/udp.c): `skb.data`
/// is at the UDP header, the network header mark at the IPv4 header.
///
/// A datagram shorter than its header, or whose `len` is below 8 or beyond
/// the bytes received, is dropped (`InErrors`); the rest is trimmed to
/// `len`. A present checksum that fails is dropped (`InCsumErrors` and
/// `InErrors`). Broadcast and multicast datagrams go to every matching
/// socket (none: `IgnoredMulti`). A unicast datagram goes to the
/// best-scoring socket; with none, `NoPorts` is counted and ICMP port
/// unreachable sent ([`icmp_send`], itself rate-limited). A full receive
/// buffer drops (`RcvbufErrors` and `InErrors`).
pub fn udp_rcv(net: &Net, ipv4: &Ipv4, mut skb: Skb) -> NetRx {
    net_core::ftrace_graph!("udp_rcv");
    let Some(iph) = iph_parse(skb.network_header()) else {
        return udp_drop(net, skb, SkbDropReason::HdrTrunc);
    };
    let Some(uh) = UdpHdr::new_checked(skb.data()) else {
        return udp_drop(net, skb, SkbDropReason::PktTooSmall);
    };
    let (ulen, sport, dport, check) = (usize::from(uh.len()), uh.source(), uh.dest(), uh.check());
    if ulen > skb.len() || ulen < UDP_HLEN {
        return udp_drop(net, skb, SkbDropReason::PktTooSmall);
    }
    skb.trim(ulen); // pskb_trim_rcsum()
    if check != 0
        && skb.ip_summed != IpSummed::Unnecessary
        && udp4_csum(iph.saddr, iph.daddr, skb.data()) != Sum16::ZERO
    {
        net.mib.inc(UdpMib::InCsumErrors);
        return udp_drop(net, skb, SkbDropReason::UdpCsum);
    }
    let from = SocketAddrV4::new(iph.saddr, sport);
    if matches!(skb.pkt_type, PktType::Broadcast | PktType::Multicast) || is_bcast_or_mcast(ipv4, iph.daddr) {
        let socks = ipv4.udp.lookup_all(iph.saddr, sport, iph.daddr, dport);
        if socks.is_empty() {
            net.mib.inc(UdpMib::IgnoredMulti);
            net.consume_skb(skb);
            return NetRx::Success;
        }
        for sk in &socks {
            let mut copy = skb.clone();
            copy.pull(UDP_HLEN);
            udp_queue_rcv_skb(net, sk, copy, from);
        }
        net.consume_skb(skb);
        return NetRx::Success;
    }
    match ipv4.udp.lookup(iph.saddr, sport, iph.daddr, dport) {
        Some(sk) => {
            skb.pull(UDP_HLEN);
            udp_queue_rcv_skb(net, &sk, skb, from)
        }
        None => {
            net.mib.inc(UdpMib::NoPorts);
            icmp_send(net, ipv4, &skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
            net.kfree_skb_reason(skb, SkbDropReason::NoSocket);
            NetRx::Drop
        }
    }
}
// ANCHOR_END: udp_rcv

/// Mirrors `__udp_queue_rcv_skb()`: enqueue, or count `RcvbufErrors` and
/// `InErrors` and drop when the receive buffer is full.
fn udp_queue_rcv_skb(net: &Net, sk: &UdpSock, skb: Skb, from: SocketAddrV4) -> NetRx {
    match sk.enqueue(skb, from) {
        Ok(()) => NetRx::Success,
        Err((_, skb)) => {
            net.mib.inc(UdpMib::RcvbufErrors);
            udp_drop(net, skb, SkbDropReason::SocketRcvbuff)
        }
    }
}

/// The errno and hardness an ICMP error means to a UDP socket (the
/// `switch (type)` of `__udp4_lib_err()`); `None` for messages UDP ignores
/// (source quench, redirect). Time exceeded is a soft `EHOSTUNREACH`;
/// parameter problem is a hard `EPROTO`; "fragmentation needed" is a hard `EMSGSIZE`
/// (`IP_PMTUDISC_WANT`); other unreachable codes follow [`ICMP_ERR_CONVERT`].
pub fn udp_err_convert(type_: u8, code: u8) -> Option<(Errno, bool)> {
    Some(match type_ {
        ICMP_SOURCE_QUENCH | ICMP_REDIRECT => return None,
        ICMP_PARAMETERPROB => (Errno::EPROTO, true),
        ICMP_DEST_UNREACH if code == ICMP_FRAG_NEEDED => (Errno::EMSGSIZE, true),
        ICMP_DEST_UNREACH if code <= NR_ICMP_UNREACH => {
            let c = ICMP_ERR_CONVERT[usize::from(code)];
            (c.errno, c.fatal)
        }
        _ => (Errno::EHOSTUNREACH, false),
    })
}

/// Mirrors `__udp4_lib_err()`: find the socket that sent the quoted
/// datagram, looking it up as if the datagram came back
/// (`__udp4_lib_lookup(net, iph->daddr, uh->dest, iph->saddr, uh->source)`;
/// no socket: ICMP `InErrors`), and turn the error into an errno with
/// [`udp_err_convert`]; "fragmentation needed" first lowers the path MTU
/// to the peer (`ipv4_sk_update_pmtu()`). Without `IP_RECVERR`, only hard errors on connected
/// sockets are recorded, in `sk_err`, for the next send or receive to
/// report (RFC 1122 §4.1.3.3); everything else is ignored.
pub fn udp_err(net: &Net, ipv4: &Ipv4, err: &IcmpErr<'_>) {
    let Some(iph) = iph_parse(err.inner) else {
        return;
    };
    let Some(uh) = err.inner.get(iph.hlen..iph.hlen + UDP_HLEN).and_then(UdpHdr::new_checked) else {
        return;
    };
    let Some(sk) = ipv4.udp.lookup(iph.daddr, uh.dest(), iph.saddr, uh.source()) else {
        net.mib.inc(net_core::snmp::IcmpMib::InErrors);
        return;
    };
    if err.type_ == ICMP_DEST_UNREACH && err.code == ICMP_FRAG_NEEDED {
        // ipv4_sk_update_pmtu(): later routes to the peer carry the new MTU.
        crate::route::update_pmtu(net, ipv4, iph.daddr, err.info);
    }
    let Some((errno, harderr)) = udp_err_convert(err.type_, err.code) else {
        return;
    };
    if !harderr || !sk.inet.lock().connected {
        return;
    }
    sk.rx.lock().err = Some(errno);
}

// -- the socket API ------------------------------------------------------------

/// What [`UdpSocket::recvmsg`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvMsg {
    /// Bytes copied into the buffer (`recvfrom()`'s return value).
    pub copied: usize,
    /// The datagram's full length (`recvfrom()` with `MSG_TRUNC`).
    pub len: usize,
    /// The sender (`msg_name`).
    pub from: SocketAddrV4,
    /// The datagram did not fit (`MSG_TRUNC` in `msg_flags`).
    pub truncated: bool,
}

/// A UDP socket (`socket(AF_INET, SOCK_DGRAM, 0)`), non-blocking.
///
/// Dropping it is `close()`: it leaves the table and its queue is freed.
pub struct UdpSocket {
    net: Arc<Net>,
    ipv4: Arc<Ipv4>,
    sk: Arc<UdpSock>,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = *self.sk.inet.lock();
        f.debug_struct("UdpSocket")
            .field("local", &SocketAddrV4::new(a.rcv_saddr, a.num))
            .field("peer", &SocketAddrV4::new(a.daddr, a.dport))
            .finish()
    }
}

/// `rt->rt_flags & (RTCF_BROADCAST | RTCF_MULTICAST)` for an output route.
fn rt_is_bcast(rt: &crate::route::Rtable, daddr: Ipv4Addr) -> bool {
    matches!(rt.rt_type, RtnType::Broadcast | RtnType::Multicast) || daddr.is_multicast()
}

/// `socket(AF_INET, SOCK_DGRAM, 0)` in `net`: see [`UdpSocket::new`].
pub fn udp_socket(net: &Arc<Net>) -> Result<UdpSocket, Errno> {
    UdpSocket::new(net)
}

impl UdpSocket {
    /// A new unbound socket with `sk_rcvbuf = net.core.rmem_default`.
    /// `EAFNOSUPPORT` when IPv4 was not initialised in `net`.
    pub fn new(net: &Arc<Net>) -> Result<UdpSocket, Errno> {
        let ipv4 = net.net_generic_arc::<Ipv4>().ok_or(Errno::EAFNOSUPPORT)?;
        let rcvbuf = net.core.rmem_default.get().max(SOCK_MIN_RCVBUF) as usize;
        Ok(UdpSocket { net: net.clone(), ipv4, sk: Arc::new(UdpSock::new(rcvbuf)) })
    }

    /// The socket as the table holds it.
    pub fn sock(&self) -> &Arc<UdpSock> {
        &self.sk
    }

    fn port_range(&self) -> (u16, u16) {
        let [low, high] = self.ipv4.sysctl.ip_local_port_range.get_array::<2>();
        (low.clamp(1, 65535) as u16, high.clamp(1, 65535) as u16)
    }

    /// Mirrors `inet_autobind()`: bind an unbound socket to an ephemeral
    /// port on the wildcard address. `EAGAIN` when none is free.
    fn autobind(&self) -> Result<(), Errno> {
        if self.sk.inet.lock().num != 0 {
            return Ok(());
        }
        let rand = self.net.random.get_random_u32();
        self.ipv4
            .udp
            .udp_lib_get_port(&self.sk, 0, self.port_range(), rand)
            .map(|_| ())
            .map_err(|_| Errno::EAGAIN)
    }

    /// Mirrors `__inet_bind()`: bind to `addr`; port 0 picks an ephemeral
    /// port ([`UdpTable::udp_lib_get_port`]).
    ///
    /// Errors: `EADDRNOTAVAIL` when the address is neither ours, the
    /// wildcard, broadcast nor multicast (unless `ip_nonlocal_bind`);
    /// `EINVAL` when already bound; `EADDRINUSE` when the port is taken.
    /// Binding a broadcast or multicast address leaves the source address
    /// to the route.
    pub fn bind(&self, addr: SocketAddrV4) -> Result<(), Errno> {
        let ip = *addr.ip();
        let bcast = is_bcast_or_mcast(&self.ipv4, ip);
        let ok = ip.is_unspecified() || bcast || self.ipv4.devinet.is_local(ip);
        if !ok && self.ipv4.sysctl.ip_nonlocal_bind.get() == 0 {
            return Err(Errno::EADDRNOTAVAIL);
        }
        {
            let mut a = self.sk.inet.lock();
            if a.num != 0 || a.connected {
                return Err(Errno::EINVAL);
            }
            a.rcv_saddr = ip;
            a.saddr = if bcast { Ipv4Addr::UNSPECIFIED } else { ip };
        }
        let rand = self.net.random.get_random_u32();
        match self.ipv4.udp.udp_lib_get_port(&self.sk, addr.port(), self.port_range(), rand) {
            Ok(_) => {
                let mut a = self.sk.inet.lock();
                a.bindaddr_lock = !ip.is_unspecified();
                a.bindport_lock = addr.port() != 0;
                Ok(())
            }
            Err(_) => {
                let mut a = self.sk.inet.lock();
                a.rcv_saddr = Ipv4Addr::UNSPECIFIED;
                a.saddr = Ipv4Addr::UNSPECIFIED;
                Err(Errno::EADDRINUSE)
            }
        }
    }

    /// `SO_REUSEADDR`.
    pub fn set_reuseaddr(&self, on: bool) {
        self.sk.inet.lock().reuse = on;
    }

    /// `SO_BROADCAST`: allow sending to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) {
        self.sk.inet.lock().broadcast = on;
    }

    /// Mirrors `inet_dgram_connect()` → `__ip4_datagram_connect()`: autobind
    /// (`EAGAIN`), route to `addr` (`ENETUNREACH`), refuse a broadcast peer
    /// without `SO_BROADCAST` (`EACCES`), then take the route's source as
    /// the local address if none was bound, and remember the peer: sends
    /// without an address go there, and only its datagrams are received.
    pub fn connect(&self, addr: SocketAddrV4) -> Result<(), Errno> {
        self.autobind()?;
        let (saddr, broadcast) = {
            let a = self.sk.inet.lock();
            (a.saddr, a.broadcast)
        };
        let src = (!saddr.is_unspecified()).then_some(saddr);
        let rt = crate::route::ip_route_output(&self.net, &self.ipv4, *addr.ip(), src, None)?;
        if rt_is_bcast(&rt, *addr.ip()) && !broadcast {
            return Err(Errno::EACCES);
        }
        let mut a = self.sk.inet.lock();
        if a.saddr.is_unspecified() {
            a.saddr = rt.saddr;
        }
        if a.rcv_saddr.is_unspecified() {
            a.rcv_saddr = rt.saddr;
        }
        a.daddr = *addr.ip();
        a.dport = addr.port();
        a.connected = true;
        Ok(())
    }

    /// Mirrors `__udp_disconnect()` (`connect()` with `AF_UNSPEC`): forget
    /// the peer; drop an address or port that `bind()` did not set.
    pub fn disconnect(&self) -> Result<(), Errno> {
        let unhash = {
            let mut a = self.sk.inet.lock();
            a.daddr = Ipv4Addr::UNSPECIFIED;
            a.dport = 0;
            a.connected = false;
            if !a.bindaddr_lock {
                a.rcv_saddr = Ipv4Addr::UNSPECIFIED;
                a.saddr = Ipv4Addr::UNSPECIFIED;
            }
            !a.bindport_lock
        };
        if unhash {
            self.ipv4.udp.udp_lib_unhash(&self.sk);
        }
        Ok(())
    }

    // ANCHOR: udp_sendmsg
    /// Mirrors `udp_sendmsg()` (net/ipv4/udp.c): send `buf` as one datagram
    /// to `dst`, or to the connected peer when `dst` is `None`.
    ///
    /// Errors, in Linux's order: `EMSGSIZE` past 65535 bytes; `EINVAL` for
    /// port 0; `EDESTADDRREQ` without a destination on an unconnected
    /// socket; `EAGAIN` when autobind finds no port; `ENETUNREACH` and other
    /// routing errors; `EACCES` for broadcast without `SO_BROADCAST`;
    /// `EMSGSIZE` past [`UDP_MAX_PAYLOAD`]; a pending `sk_err` (e.g.
    /// `ECONNREFUSED`, reported once); then what IP reports. `ENOBUFS` from below
    /// is counted (`SndbufErrors`) and swallowed, as Linux does without
    /// `IP_RECVERR`. Success counts `OutDatagrams` and returns `buf.len()`.
    /// DF is set when the datagram fits the route's MTU (`IP_PMTUDISC_WANT`);
    /// larger ones are fragmented by IP.
    pub fn sendto(&self, buf: &[u8], dst: SocketAddrV4) -> Result<usize, Errno> {
        self.udp_sendmsg(buf, Some(dst))
    }

    /// `send()`: [`UdpSocket::sendto`] to the connected peer.
    pub fn send(&self, buf: &[u8]) -> Result<usize, Errno> {
        self.udp_sendmsg(buf, None)
    }

    fn udp_sendmsg(&self, buf: &[u8], dst: Option<SocketAddrV4>) -> Result<usize, Errno> {
        if buf.len() > 0xffff {
            return Err(Errno::EMSGSIZE);
        }
        let (daddr, dport) = match dst {
            Some(d) if d.port() == 0 => return Err(Errno::EINVAL),
            Some(d) => (*d.ip(), d.port()),
            None => {
                let a = self.sk.inet.lock();
                if !a.connected {
                    return Err(Errno::EDESTADDRREQ);
                }
                (a.daddr, a.dport)
            }
        };
        self.autobind()?;
        let a = *self.sk.inet.lock();
        let src = (!a.saddr.is_unspecified()).then_some(a.saddr);
        let rt = crate::route::ip_route_output(&self.net, &self.ipv4, daddr, src, None)?;
        if rt_is_bcast(&rt, daddr) && !a.broadcast {
            return Err(Errno::EACCES);
        }
        // __ip_append_data() checks the size before sock_alloc_send_skb()
        // reports sk_err.
        if buf.len() > UDP_MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        if let Some(e) = self.sk.sock_error() {
            return Err(e);
        }
        let saddr = src.unwrap_or(rt.saddr);
        let dgram = udp_build(saddr, a.num, daddr, dport, buf);
        let mut skb = alloc_skb(MAX_HEADER + 60 + dgram.len());
        skb.reserve(MAX_HEADER + 60);
        skb.put_data(&dgram);
        skb.reset_transport_header();
        let opts = IpSendOpts {
            df: Some(dgram.len() + 20 <= rt.mtu as usize),
            append_data: true,
            ..IpSendOpts::default()
        };
        match ip_build_and_send_pkt(&self.net, &self.ipv4, skb, saddr, daddr, IPPROTO_UDP, opts) {
            Ok(()) => {
                self.net.mib.inc(UdpMib::OutDatagrams);
                Ok(buf.len())
            }
            Err(Errno::ENOBUFS) => {
                self.net.mib.inc(UdpMib::SndbufErrors);
                Ok(buf.len())
            }
            Err(e) => Err(e),
        }
    }
    // ANCHOR_END: udp_sendmsg

    /// Mirrors `udp_recvmsg()`: a pending error first (reported once), else
    /// the oldest datagram, copied as far as `buf` allows, its charge
    /// returned to the receive buffer, `InDatagrams` counted. `EAGAIN` when
    /// nothing is queued.
    pub fn recvmsg(&self, buf: &mut [u8]) -> Result<RecvMsg, Errno> {
        let (skb, from) = {
            let mut rx = self.sk.rx.lock();
            if let Some(e) = rx.err.take() {
                return Err(e);
            }
            let (skb, from) = rx.queue.pop_front().ok_or(Errno::EAGAIN)?;
            rx.rmem_alloc = rx.rmem_alloc.saturating_sub(skb_charge(&skb));
            (skb, from)
        };
        let len = skb.len();
        let copied = len.min(buf.len());
        buf[..copied].copy_from_slice(&skb.data()[..copied]);
        self.net.mib.inc(UdpMib::InDatagrams);
        self.net.consume_skb(skb);
        Ok(RecvMsg { copied, len, from, truncated: copied < len })
    }

    /// `recvfrom()`: bytes copied (a longer datagram is truncated and the
    /// rest discarded) and the sender; see [`UdpSocket::recvmsg`].
    pub fn recvfrom(&self, buf: &mut [u8]) -> Result<(usize, SocketAddrV4), Errno> {
        self.recvmsg(buf).map(|m| (m.copied, m.from))
    }

    /// `recv()`: [`UdpSocket::recvfrom`] without the sender.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.recvmsg(buf).map(|m| m.copied)
    }

    /// `getsockname()`: `0.0.0.0:0` while unbound.
    pub fn local_addr(&self) -> SocketAddrV4 {
        let a = self.sk.inet.lock();
        SocketAddrV4::new(a.rcv_saddr, a.num)
    }

    /// `getpeername()`: `ENOTCONN` unless connected.
    pub fn peer_addr(&self) -> Result<SocketAddrV4, Errno> {
        let a = self.sk.inet.lock();
        if a.connected { Ok(SocketAddrV4::new(a.daddr, a.dport)) } else { Err(Errno::ENOTCONN) }
    }

    /// `SO_RCVBUF`: Linux caps the request at `net.core.rmem_max`, doubles
    /// it "to allow for struct sk_buff overhead" and enforces
    /// `SOCK_MIN_RCVBUF`.
    pub fn set_rcvbuf(&self, bytes: usize) {
        let max = self.net.core.rmem_max.get().max(0) as usize;
        let val = bytes.min(max).min(i32::MAX as usize / 2);
        self.sk.rx.lock().rcvbuf = (val * 2).max(SOCK_MIN_RCVBUF as usize);
    }

    /// `getsockopt(SO_RCVBUF)`: `sk_rcvbuf`.
    pub fn rcvbuf(&self) -> usize {
        self.sk.rx.lock().rcvbuf
    }

    /// `getsockopt(SO_ERROR)`: take the pending error, if any.
    #[doc(alias = "sock_error")]
    pub fn take_error(&self) -> Option<Errno> {
        self.sk.sock_error()
    }

    /// Peek at the pending error without clearing it.
    pub fn pending_error(&self) -> Option<Errno> {
        self.sk.rx.lock().err
    }

    /// Datagrams waiting (`SIOCINQ` counts bytes of the first; this counts all).
    pub fn rx_queue_len(&self) -> usize {
        self.sk.rx_queue_len()
    }

    /// `close()`.
    pub fn close(self) {}
}

impl Drop for UdpSocket {
    /// Mirrors `udp_lib_close()` → `udp_destroy_sock()`: unhash, free the
    /// queue (`SOCKET_CLOSE` drops).
    fn drop(&mut self) {
        if self.sk.inet.lock().num != 0 {
            self.ipv4.udp.udp_lib_unhash(&self.sk);
        }
        let q: Vec<_> = {
            let mut rx = self.sk.rx.lock();
            rx.rmem_alloc = 0;
            rx.queue.drain(..).collect()
        };
        for (skb, _) in q {
            self.net.kfree_skb_reason(skb, SkbDropReason::SocketClose);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::skbuff::skb_from_frame;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// The datagram net-core's checksum doctest pins, sent by Linux 6.18:
    /// 10.0.0.1:40000 → 10.0.0.2:53, "odd!!".
    const LINUX_UDP: [u8; 13] =
        [0x9c, 0x40, 0x00, 0x35, 0x00, 0x0d, 0x5a, 0xd6, b'o', b'd', b'd', b'!', b'!'];

    #[test]
    fn view_reads_pinned_linux_datagram() {
        let h = UdpHdr::new_checked(&LINUX_UDP[..]).unwrap();
        assert_eq!((h.source(), h.dest(), h.len(), h.check()), (40000, 53, 13, 0x5ad6));
        assert_eq!(h.payload(), b"odd!!");
        assert!(h.csum_ok(A, B));
        assert!(!h.csum_ok(A, Ipv4Addr::new(10, 0, 0, 3)));
        assert!(UdpHdr::new_checked(&LINUX_UDP[..7]).is_none());
    }

    #[test]
    fn build_reproduces_linux_bytes() {
        assert_eq!(udp_build(A, 40000, B, 53, b"odd!!"), LINUX_UDP);
    }

    #[test]
    fn linux_loopback_capture_carries_a_partial_checksum() {
        // Quoted in a port unreachable captured from Linux 6.18.44 (see
        // icmp.rs): 127.0.0.1:40000 → 127.0.0.1:53, "odd!!", check 0xfe20.
        // `lo` offloads checksums (CHECKSUM_PARTIAL), so the field holds only
        // the pseudo-header seed `udp4_hwcsum()` writes,
        // `~csum_tcpudp_magic(saddr, daddr, len, IPPROTO_UDP, 0)`, which is
        // why it does not verify; on a wire the full sum is there.
        let lo = Ipv4Addr::LOCALHOST;
        let seed = !csum_tcpudp_magic(lo.octets(), lo.octets(), 13, IPPROTO_UDP, Wsum::ZERO).wire();
        assert_eq!(seed, 0xfe20);
        let full = udp_build(lo, 40000, lo, 53, b"odd!!");
        assert_eq!(&full[..6], &[0x9c, 0x40, 0x00, 0x35, 0x00, 0x0d]);
        assert!(UdpHdr::new_checked(&full[..]).unwrap().csum_ok(lo, lo));
    }

    #[test]
    fn build_matches_etherparse() {
        let payload = [0xa5u8; 33];
        let ours = udp_build(A, 1234, B, 5678, &payload);
        let eh = etherparse::UdpHeader::with_ipv4_checksum(
            1234,
            5678,
            &etherparse::Ipv4Header::new(
                (UDP_HLEN + payload.len()) as u16,
                64,
                etherparse::IpNumber::UDP,
                A.octets(),
                B.octets(),
            )
            .unwrap(),
            &payload,
        )
        .unwrap();
        assert_eq!(&ours[..8], &eh.to_bytes());
    }

    #[test]
    fn zero_checksum_is_sent_as_ffff() {
        // Find a payload whose checksum folds to zero: adjust two bytes.
        let mut payload = [0u8; 2];
        let mut found = false;
        for x in 0..=u16::MAX {
            payload = x.to_be_bytes();
            let mut v = vec![0u8; 10];
            let mut h = UdpHdr::new_checked(&mut v[..]).unwrap();
            h.set_source(1);
            h.set_dest(2);
            h.set_len(10);
            h.payload_mut().copy_from_slice(&payload);
            if udp4_csum(A, B, &v) == Sum16::ZERO {
                found = true;
                break;
            }
        }
        assert!(found);
        let d = udp_build(A, 1, B, 2, &payload);
        assert_eq!(UdpHdr::new_checked(&d[..]).unwrap().check(), 0xffff);
        assert!(UdpHdr::new_checked(&d[..]).unwrap().csum_ok(A, B));
    }

    fn bound(table: &UdpTable, addr: Ipv4Addr, port: u16, reuse: bool) -> Result<Arc<UdpSock>, Errno> {
        let sk = Arc::new(UdpSock::new(1 << 16));
        {
            let mut a = sk.inet.lock();
            a.rcv_saddr = addr;
            a.reuse = reuse;
        }
        table.udp_lib_get_port(&sk, port, (32768, 60999), 12345).map(|_| sk)
    }

    #[test]
    fn bind_conflicts_follow_lport_inuse() {
        let t = UdpTable::new();
        let any = Ipv4Addr::UNSPECIFIED;
        let _s1 = bound(&t, any, 53, false).unwrap();
        assert_eq!(bound(&t, A, 53, false).err(), Some(Errno::EADDRINUSE));
        assert_eq!(bound(&t, any, 53, true).err(), Some(Errno::EADDRINUSE));
        let _r1 = bound(&t, A, 54, true).unwrap();
        let _r2 = bound(&t, A, 54, true).unwrap();
        let _b = bound(&t, B, 54, false).unwrap(); // different address: fine
        assert_eq!(bound(&t, any, 54, false).err(), Some(Errno::EADDRINUSE));
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn ephemeral_ports_stay_in_range_and_exhaust() {
        let t = UdpTable::new();
        let mut socks = Vec::new();
        for i in 0..10u32 {
            let sk = Arc::new(UdpSock::new(1 << 16));
            let p = t.udp_lib_get_port(&sk, 0, (40000, 40009), i.wrapping_mul(0x9e37_79b9)).unwrap();
            assert!((40000..=40009).contains(&p));
            socks.push(sk);
        }
        let sk = Arc::new(UdpSock::new(1 << 16));
        assert_eq!(t.udp_lib_get_port(&sk, 0, (40000, 40009), 7), Err(Errno::EADDRINUSE));
        t.udp_lib_unhash(&socks[3]);
        assert!(t.udp_lib_get_port(&sk, 0, (40000, 40009), 7).is_ok());
    }

    #[test]
    fn random_start_spreads_ports() {
        let t = UdpTable::new();
        let sk1 = Arc::new(UdpSock::new(1));
        let sk2 = Arc::new(UdpSock::new(1));
        let p1 = t.udp_lib_get_port(&sk1, 0, (32768, 60999), 0).unwrap();
        let p2 = t.udp_lib_get_port(&sk2, 0, (32768, 60999), u32::MAX).unwrap();
        assert_eq!(p1, 32768);
        assert_eq!(p2, 60999);
    }

    #[test]
    fn lookup_prefers_connected_then_bound_then_wildcard() {
        let t = UdpTable::new();
        let any = bound(&t, Ipv4Addr::UNSPECIFIED, 7, true).unwrap();
        let spec = bound(&t, B, 7, true).unwrap();
        let conn = bound(&t, B, 7, true).unwrap();
        {
            let mut a = conn.inet.lock();
            a.daddr = A;
            a.dport = 9999;
            a.connected = true;
        }
        let hit = |s, sp, d| t.lookup(s, sp, d, 7);
        assert!(Arc::ptr_eq(&hit(A, 9999, B).unwrap(), &conn));
        assert!(Arc::ptr_eq(&hit(A, 1000, B).unwrap(), &spec));
        assert!(Arc::ptr_eq(&hit(A, 1000, Ipv4Addr::new(10, 0, 0, 3)).unwrap(), &any));
        assert!(t.lookup(A, 1, B, 8).is_none());
        assert_eq!(t.lookup_all(A, 1000, B, 7).len(), 2);
    }

    fn payload_skb(n: usize) -> Skb {
        skb_from_frame(0, &vec![0u8; n])
    }

    #[test]
    fn receive_queue_is_bounded_by_rcvbuf_but_takes_one_into_empty() {
        let from = SocketAddrV4::new(A, 1);
        let one = skb_charge(&payload_skb(100));
        let sk = UdpSock::new(one * 3);
        for _ in 0..3 {
            sk.enqueue(payload_skb(100), from).unwrap();
        }
        assert_eq!(sk.enqueue(payload_skb(100), from).err().map(|e| e.0), Some(Errno::ENOMEM));
        assert_eq!(sk.rmem_alloc(), one * 3);
        assert_eq!(sk.drops(), 1);
        // An empty queue accepts a datagram larger than the whole buffer.
        let small = UdpSock::new(SOCK_MIN_RCVBUF as usize);
        small.enqueue(payload_skb(60_000), from).unwrap();
        assert!(small.enqueue(payload_skb(1), from).is_err());
    }

    #[test]
    fn err_convert_follows_udp4_lib_err() {
        assert_eq!(udp_err_convert(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH), Some((Errno::ECONNREFUSED, true)));
        assert_eq!(udp_err_convert(ICMP_DEST_UNREACH, 1), Some((Errno::EHOSTUNREACH, false)));
        assert_eq!(udp_err_convert(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED), Some((Errno::EMSGSIZE, true)));
        assert_eq!(udp_err_convert(crate::icmp::ICMP_TIME_EXCEEDED, 0), Some((Errno::EHOSTUNREACH, false)));
        assert_eq!(udp_err_convert(ICMP_SOURCE_QUENCH, 0), None);
    }

    #[test]
    fn err_lookup_reverses_the_quoted_addresses() {
        let table = UdpTable::new();
        let sk = bound(&table, A, 40000, false).unwrap();
        // The quoted datagram: our 10.0.0.1:40000 → 10.0.0.2:53.
        let mut inner = vec![0x45, 0, 0, 33, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        inner.extend_from_slice(&LINUX_UDP);
        let iph = iph_parse(&inner).unwrap();
        let uh = UdpHdr::new_checked(&inner[iph.hlen..]).unwrap();
        let found = table.lookup(iph.daddr, uh.dest(), iph.saddr, uh.source()).unwrap();
        assert!(Arc::ptr_eq(&found, &sk));
        assert!(!sk.inet.lock().connected);
    }

    /// A UDP datagram as `ip_local_deliver_finish()` hands it over.
    fn rx_skb(saddr: Ipv4Addr, daddr: Ipv4Addr, l4: &[u8]) -> Skb {
        crate::testlink::rx_datagram(saddr, daddr, IPPROTO_UDP, l4)
    }

    fn stack() -> (Arc<Net>, Arc<Ipv4>) {
        let net = Net::new("t", net_core::Clock::new_virtual_at(1_000_000_000), 3);
        let ipv4 = crate::ipv4_init(&net);
        (net, ipv4)
    }

    #[test]
    fn rcv_checks_length_and_checksum() {
        let (net, ipv4) = stack();
        let sock = UdpSocket::new(&net).unwrap();
        sock.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53)).unwrap();
        let mut bad = LINUX_UDP;
        bad[8] ^= 0x20;
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, B, &bad)), NetRx::Drop);
        assert_eq!(net.mib.get(UdpMib::InCsumErrors), 1);
        assert_eq!(net.mib.get(UdpMib::InErrors), 1);
        let mut long = LINUX_UDP;
        long[5] = 14; // len past the bytes received
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, B, &long)), NetRx::Drop);
        let mut short = LINUX_UDP;
        short[5] = 7; // len below the header
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, B, &short)), NetRx::Drop);
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, B, &LINUX_UDP[..5])), NetRx::Drop);
        assert_eq!(net.mib.get(UdpMib::InErrors), 4);
        // Trailing bytes past len are trimmed; a zero checksum means none.
        let mut padded = LINUX_UDP.to_vec();
        padded[6] = 0;
        padded[7] = 0;
        padded.extend_from_slice(&[0xee; 6]);
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, B, &padded)), NetRx::Success);
        let mut buf = [0u8; 32];
        assert_eq!(sock.recvfrom(&mut buf), Ok((5, SocketAddrV4::new(A, 40000))));
        assert_eq!(&buf[..5], b"odd!!");
        assert_eq!(net.mib.get(UdpMib::InDatagrams), 1);
    }

    #[test]
    fn rcv_without_socket_counts_noports() {
        let (net, ipv4) = stack();
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, B, &LINUX_UDP)), NetRx::Drop);
        assert_eq!(net.mib.get(UdpMib::NoPorts), 1);
        assert_eq!(net.drops.get(SkbDropReason::NoSocket), 1);
        // A broadcast nobody wants is ignored, not answered.
        let d = udp_build(A, 40000, Ipv4Addr::BROADCAST, 53, b"odd!!");
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, Ipv4Addr::BROADCAST, &d)), NetRx::Success);
        assert_eq!(net.mib.get(UdpMib::IgnoredMulti), 1);
        assert_eq!(net.mib.get(UdpMib::NoPorts), 1);
    }

    #[test]
    fn broadcast_reaches_every_matching_socket() {
        let (net, ipv4) = stack();
        let s1 = UdpSocket::new(&net).unwrap();
        let s2 = UdpSocket::new(&net).unwrap();
        s1.set_reuseaddr(true);
        s2.set_reuseaddr(true);
        s1.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67)).unwrap();
        s2.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67)).unwrap();
        let d = udp_build(A, 68, Ipv4Addr::BROADCAST, 67, b"discover");
        assert_eq!(udp_rcv(&net, &ipv4, rx_skb(A, Ipv4Addr::BROADCAST, &d)), NetRx::Success);
        assert_eq!((s1.rx_queue_len(), s2.rx_queue_len()), (1, 1));
    }

    #[test]
    fn full_receive_buffer_counts_rcvbuf_errors() {
        let (net, ipv4) = stack();
        let sock = UdpSocket::new(&net).unwrap();
        sock.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53)).unwrap();
        sock.set_rcvbuf(0);
        let mut ok = 0;
        for _ in 0..20 {
            if udp_rcv(&net, &ipv4, rx_skb(A, B, &LINUX_UDP)) == NetRx::Success {
                ok += 1;
            }
        }
        assert!((1..20).contains(&ok));
        assert_eq!(net.mib.get(UdpMib::RcvbufErrors), 20 - ok);
        assert_eq!(net.mib.get(UdpMib::InErrors), 20 - ok);
        assert!(sock.sock().rmem_alloc() <= sock.rcvbuf() || ok == 1);
        // Reading returns the charge; close frees the rest.
        let mut buf = [0u8; 8];
        sock.recv(&mut buf).unwrap();
        assert_eq!(sock.rx_queue_len() as u64, ok - 1);
        drop(sock);
        assert_eq!(net.drops.get(SkbDropReason::SocketClose), ok - 1);
        assert!(ipv4.udp.is_empty());
    }

    #[test]
    fn disconnect_keeps_only_what_bind_set() {
        let (net, ipv4) = stack();
        let sock = UdpSocket::new(&net).unwrap();
        sock.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000)).unwrap();
        sock.disconnect().unwrap();
        assert_eq!(sock.local_addr().port(), 5000);
        assert_eq!(ipv4.udp.len(), 1);
        let auto = UdpSocket::new(&net).unwrap();
        {
            let mut a = auto.sk.inet.lock();
            a.connected = true;
        }
        auto.autobind().unwrap();
        auto.disconnect().unwrap();
        assert_eq!(auto.local_addr().port(), 0);
        assert_eq!(ipv4.udp.len(), 1);
    }

    #[test]
    fn sockets_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<UdpSocket>();
        send_sync::<UdpTable>();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn udp_rcv_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64), bcast: bool) {
            let (net, ipv4) = stack();
            let sock = UdpSocket::new(&net).unwrap();
            sock.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53)).unwrap();
            let daddr = if bcast { Ipv4Addr::BROADCAST } else { B };
            let mut l4 = bytes.clone();
            if l4.len() >= 4 {
                l4[2..4].copy_from_slice(&53u16.to_be_bytes());
            }
            let _ = udp_rcv(&net, &ipv4, rx_skb(A, daddr, &l4));
            let mut buf = [0u8; 64];
            let _ = sock.recvmsg(&mut buf);
            // A quoted datagram of random bytes must not upset the error path either.
            let inner: Vec<u8> = [&[0x45u8, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1][..], &bytes].concat();
            udp_err(&net, &ipv4, &IcmpErr { type_: 3, code: bytes.first().copied().unwrap_or(3), info: 0, inner: &inner });
        }
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Some(h) = UdpHdr::new_checked(&bytes[..]) {
                let _ = (h.source(), h.dest(), h.len(), h.check(), h.payload().len(), h.csum_ok(A, B), h.is_empty());
            }
        }
    }
}
