//! ICMP for IPv4: echo, errors, and the limits on sending them.
//!
//! Mirrors net/ipv4/icmp.c, the echo-reply half of net/ipv4/ping.c,
//! `inet_peer_xrlim_allow()` (net/ipv4/inetpeer.c) and
//! include/uapi/linux/icmp.h of **Linux 6.18**.
//!
//! Heads up! Read RFC 792 (the message formats), RFC 1122 §3.2.2 (what a
//! host MUST and MUST NOT do: never answer an ICMP error, a non-first
//! fragment, or a datagram sent to or from a broadcast address; silently
//! discard unknown types; pass errors up to the transport named by the
//! quoted header) and RFC 1812 §4.3.2.8 (rate limiting), then `icmp_rcv()`
//! and `__icmp_send()` in icmp.c.
//!
//! # Rate limiting, as Linux 6.18 does it
//!
//! Two buckets stand between an event and an ICMP message, both only for
//! the types set in `net.ipv4.icmp_ratemask` (default `0x1818`: destination
//! unreachable, source quench, time exceeded, parameter problem — never echo
//! replies, and never "fragmentation needed", which path-MTU discovery relies
//! on):
//!
//! 1. [`IcmpState::icmp_global_allow`]: one token bucket per namespace,
//!    refilled at `icmp_msgs_per_sec` (1000) up to `icmp_msgs_burst` (50),
//!    checked *before* routing; a refusal counts `OutRateLimitGlobal`.
//! 2. [`IcmpState::icmpv4_xrlim_allow`]: one bucket per destination host
//!    (Linux's `inet_peer`), a token per `icmp_ratelimit` (1000 ms) with a
//!    burst of six, checked after routing and skipped when the reply leaves
//!    by loopback; a refusal counts `OutRateLimitHost`. A message that
//!    passes both spends 0–2 global credits at random
//!    (`icmp_global_consume()`), so the global limit is not predictable
//!    from outside.
//!
//! # Where we differ
//!
//! - Per-peer state is a bounded map in [`IcmpState`] (at most
//!   [`INET_PEER_MAX`] hosts, the least recently limited one evicted), not
//!   the shared `inet_peer` tree.
//! - No raw ICMP sockets, no ICMP extensions (RFC 4884/8335 PROBE), no
//!   redirect handling beyond passing it to the transport, no IP options
//!   echoed in replies.
//! - Ping sockets are reduced to [`ping`] plus per-identifier logs of
//!   replies ([`IcmpState::echo_replies`]) and of ICMP errors about the
//!   requests ([`IcmpState::echo_errors`], what `ping_err()` queues for a
//!   socket with `IP_RECVERR`); the send time is recorded per
//!   (identifier, sequence) rather than written into the payload as ping(8)
//!   does.
//! - Sources that RFC 1122 says never to answer (zero, limited broadcast,
//!   multicast, class E, and loopback unless the datagram came in on a
//!   loopback device) are refused here; Linux relies on the input route
//!   having dropped such martians already.
//!
//! # Example
//!
//! `ping` between two hosts on an in-memory hub with 50 µs of latency:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use net_core::{Clock, Net};
//! use net_ipv4::icmp::ping;
//! use net_ipv4::testlink::{Hub, run_until_idle};
//!
//! let clock = Clock::new_virtual();
//! let hub = Hub::new(&clock, 50_000);
//! let host = |name: &str, mac: u8, addr: Ipv4Addr| {
//!     let net = Net::new(name, clock.clone(), u64::from(mac));
//!     let ipv4 = net_ipv4::ipv4_init(&net);
//!     let dev = hub.attach(&net, "eth0", [2, 0, 0, 0, 0, mac]);
//!     net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, addr, 24).unwrap();
//!     (net, ipv4)
//! };
//! let (a, a4) = host("a", 1, Ipv4Addr::new(10, 0, 0, 1));
//! let (b, _) = host("b", 2, Ipv4Addr::new(10, 0, 0, 2));
//! for seq in 1..=2 {
//!     ping(&a, &a4, Ipv4Addr::new(10, 0, 0, 2), 42, seq, &[0; 56])?;
//!     let later = clock.now_ns() + 1_000_000_000;
//!     run_until_idle(&clock, &[&a, &b], later);
//! }
//! let replies = a4.icmp.echo_replies(42);
//! assert_eq!(replies.len(), 2);
//! assert_eq!((replies[1].bytes, replies[1].ttl, replies[1].rtt_ns), (64, 64, 100_000));
//! # Ok::<(), net_core::Errno>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use net_core::checksum::{Sum16, ip_compute_csum};
use net_core::jiffies::HZ;
use net_core::skbuff::{IpSummed, PktType, alloc_skb};
use net_core::snmp::IcmpMib;
use net_core::{Errno, Net, NetRx, SkBuff, Skb, SkbDropReason};

use crate::fib::RtnType;
use crate::ip::{IP_OFFSET, IPPROTO_ICMP, IPTOS_TOS_MASK, IpHdr};
use crate::ip_output::{IpSendOpts, ip_build_and_send_pkt};
use crate::protocol::{IcmpErr, NetProtocol};
use crate::sysctl_net_ipv4::Ipv4Sysctls;
use crate::{Ipv4, Ipv4Addr, MAX_HEADER};

// -- include/uapi/linux/icmp.h -------------------------------------------------

/// Echo Reply.
pub const ICMP_ECHOREPLY: u8 = 0;
/// Destination Unreachable.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// Source Quench.
pub const ICMP_SOURCE_QUENCH: u8 = 4;
/// Redirect (change route).
pub const ICMP_REDIRECT: u8 = 5;
/// Echo Request.
pub const ICMP_ECHO: u8 = 8;
/// Time Exceeded.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// Parameter Problem.
pub const ICMP_PARAMETERPROB: u8 = 12;
/// Timestamp Request.
pub const ICMP_TIMESTAMP: u8 = 13;
/// Timestamp Reply.
pub const ICMP_TIMESTAMPREPLY: u8 = 14;
/// Information Request.
pub const ICMP_INFO_REQUEST: u8 = 15;
/// Information Reply.
pub const ICMP_INFO_REPLY: u8 = 16;
/// Address Mask Request.
pub const ICMP_ADDRESS: u8 = 17;
/// Address Mask Reply.
pub const ICMP_ADDRESSREPLY: u8 = 18;
/// The highest type Linux knows; anything above is discarded (RFC 1122 §3.2.2).
pub const NR_ICMP_TYPES: u8 = 18;

/// Destination unreachable: network unreachable.
pub const ICMP_NET_UNREACH: u8 = 0;
/// Destination unreachable: host unreachable.
pub const ICMP_HOST_UNREACH: u8 = 1;
/// Destination unreachable: protocol unreachable.
pub const ICMP_PROT_UNREACH: u8 = 2;
/// Destination unreachable: port unreachable.
pub const ICMP_PORT_UNREACH: u8 = 3;
/// Destination unreachable: fragmentation needed and DF set.
pub const ICMP_FRAG_NEEDED: u8 = 4;
/// Destination unreachable: source route failed.
pub const ICMP_SR_FAILED: u8 = 5;
/// Destination unreachable: network unknown.
pub const ICMP_NET_UNKNOWN: u8 = 6;
/// Destination unreachable: host unknown.
pub const ICMP_HOST_UNKNOWN: u8 = 7;
/// Destination unreachable: host isolated.
pub const ICMP_HOST_ISOLATED: u8 = 8;
/// Destination unreachable: network administratively prohibited.
pub const ICMP_NET_ANO: u8 = 9;
/// Destination unreachable: host administratively prohibited.
pub const ICMP_HOST_ANO: u8 = 10;
/// Destination unreachable: network unreachable for TOS.
pub const ICMP_NET_UNR_TOS: u8 = 11;
/// Destination unreachable: host unreachable for TOS.
pub const ICMP_HOST_UNR_TOS: u8 = 12;
/// Destination unreachable: packet filtered.
pub const ICMP_PKT_FILTERED: u8 = 13;
/// Destination unreachable: precedence violation.
pub const ICMP_PREC_VIOLATION: u8 = 14;
/// Destination unreachable: precedence cut off.
pub const ICMP_PREC_CUTOFF: u8 = 15;
/// The highest destination-unreachable code.
pub const NR_ICMP_UNREACH: u8 = 15;

/// Time exceeded: TTL count exceeded.
pub const ICMP_EXC_TTL: u8 = 0;
/// Time exceeded: fragment reassembly time exceeded.
pub const ICMP_EXC_FRAGTIME: u8 = 1;

/// `sizeof(struct icmphdr)`: type, code, checksum and the 4-byte union.
pub const ICMP_HLEN: usize = 8;

/// The largest ICMP error datagram (RFC 1812 §4.3.2.3; Linux caps `room`
/// at 576).
pub const ICMP_ERR_MAX_LEN: usize = 576;

/// Per-host limiter capacity, in `icmp_ratelimit` periods (`XRLIM_BURST_FACTOR`).
pub const XRLIM_BURST_FACTOR: u64 = 6;

/// Most destination hosts whose rate-limit state we keep (ours; Linux
/// bounds `inet_peer` by memory, `inet_peer_threshold`).
pub const INET_PEER_MAX: usize = 4096;

/// Most outstanding echo requests remembered for RTTs, and most replies
/// kept per identifier (ours; a ping socket's queue is bounded by
/// `sk_rcvbuf`).
pub const PING_MAX_RECORDS: usize = 4096;

/// `IPTOS_PREC_INTERNETCONTROL`.
const IPTOS_PREC_INTERNETCONTROL: u8 = 0xc0;

/// Whether `type_` is an error message (`icmp_pointers[type].error`).
pub const fn icmp_is_err(type_: u8) -> bool {
    matches!(
        type_,
        ICMP_DEST_UNREACH | ICMP_SOURCE_QUENCH | ICMP_REDIRECT | ICMP_TIME_EXCEEDED | ICMP_PARAMETERPROB
    )
}

/// What a destination-unreachable code means to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpErrConv {
    /// The errno reported.
    pub errno: Errno,
    /// Whether it is a hard error (`fatal`): only hard errors reach a
    /// socket without `IP_RECVERR`.
    pub fatal: bool,
}

/// `icmp_err_convert[]` (net/ipv4/icmp.c): destination-unreachable code →
/// errno and hardness, indexed by code `0..=NR_ICMP_UNREACH`.
pub const ICMP_ERR_CONVERT: [IcmpErrConv; 16] = {
    const fn e(errno: Errno, fatal: bool) -> IcmpErrConv {
        IcmpErrConv { errno, fatal }
    }
    [
        e(Errno::ENETUNREACH, false),  // ICMP_NET_UNREACH
        e(Errno::EHOSTUNREACH, false), // ICMP_HOST_UNREACH
        e(Errno::ENOPROTOOPT, true),   // ICMP_PROT_UNREACH
        e(Errno::ECONNREFUSED, true),  // ICMP_PORT_UNREACH
        e(Errno::EMSGSIZE, false),     // ICMP_FRAG_NEEDED
        e(Errno::EOPNOTSUPP, false),   // ICMP_SR_FAILED
        e(Errno::ENETUNREACH, true),   // ICMP_NET_UNKNOWN
        e(Errno::EHOSTDOWN, true),     // ICMP_HOST_UNKNOWN
        e(Errno::ENONET, true),        // ICMP_HOST_ISOLATED
        e(Errno::ENETUNREACH, true),   // ICMP_NET_ANO
        e(Errno::EHOSTUNREACH, true),  // ICMP_HOST_ANO
        e(Errno::ENETUNREACH, false),  // ICMP_NET_UNR_TOS
        e(Errno::EHOSTUNREACH, false), // ICMP_HOST_UNR_TOS
        e(Errno::EHOSTUNREACH, true),  // ICMP_PKT_FILTERED
        e(Errno::EHOSTUNREACH, true),  // ICMP_PREC_VIOLATION
        e(Errno::EHOSTUNREACH, true),  // ICMP_PREC_CUTOFF
    ]
};

// -- struct icmphdr ------------------------------------------------------------

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// `un`: echo id/sequence, gateway, or frag `__unused`/`mtu`.
    pub const UN: Range<usize> = 4..8;
    pub const ID: Range<usize> = 4..6;
    pub const SEQUENCE: Range<usize> = 6..8;
    pub const MTU: Range<usize> = 6..8;
}

/// A zero-copy view of an ICMP header and what follows it (`struct icmphdr`).
///
/// [`IcmpHdr::new_checked`] refuses buffers shorter than [`ICMP_HLEN`];
/// after that no accessor can panic.
#[derive(Clone, Copy, Debug)]
pub struct IcmpHdr<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> IcmpHdr<T> {
    /// The view, or `None` when `buf` is shorter than an ICMP header.
    pub fn new_checked(buf: T) -> Option<Self> {
        (buf.as_ref().len() >= ICMP_HLEN).then_some(IcmpHdr { buf })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        net_core::unaligned::get_unaligned_be16(self.b(), r.start)
    }

    /// `type`.
    pub fn type_(&self) -> u8 {
        self.b()[field::TYPE]
    }

    /// `code`.
    pub fn code(&self) -> u8 {
        self.b()[field::CODE]
    }

    /// `checksum`, as a number read in network order.
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// `un.echo.id`.
    pub fn id(&self) -> u16 {
        self.be16(field::ID)
    }

    /// `un.echo.sequence`.
    pub fn sequence(&self) -> u16 {
        self.be16(field::SEQUENCE)
    }

    /// `un.gateway` (redirects), also the whole union read as one
    /// big-endian word (`ntohl(icmph->un.gateway)`).
    pub fn un(&self) -> u32 {
        net_core::unaligned::get_unaligned_be32(self.b(), field::UN.start)
    }

    /// `un.gateway` as an address.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.un())
    }

    /// `un.frag.mtu`: the next-hop MTU of "fragmentation needed" (RFC 1191).
    pub fn mtu(&self) -> u16 {
        self.be16(field::MTU)
    }

    /// Everything after the 8-byte header: echo data, or the quoted datagram.
    pub fn payload(&self) -> &[u8] {
        &self.b()[ICMP_HLEN..]
    }

    /// Whether the checksum over the whole message verifies
    /// (`skb_checksum_simple_validate()` with `CHECKSUM_NONE`).
    pub fn csum_ok(&self) -> bool {
        ip_compute_csum(self.b()) == Sum16::ZERO
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpHdr<T> {
    /// Set `type`.
    pub fn set_type(&mut self, v: u8) {
        self.buf.as_mut()[field::TYPE] = v;
    }
    /// Set `code`.
    pub fn set_code(&mut self, v: u8) {
        self.buf.as_mut()[field::CODE] = v;
    }
    /// Set the union as one big-endian word (`un.gateway = htonl(info)`).
    pub fn set_un(&mut self, v: u32) {
        self.buf.as_mut()[field::UN].copy_from_slice(&v.to_be_bytes());
    }
    /// Set `un.echo.id`.
    pub fn set_id(&mut self, v: u16) {
        self.buf.as_mut()[field::ID].copy_from_slice(&v.to_be_bytes());
    }
    /// Set `un.echo.sequence`.
    pub fn set_sequence(&mut self, v: u16) {
        self.buf.as_mut()[field::SEQUENCE].copy_from_slice(&v.to_be_bytes());
    }
    /// Set `un.frag.mtu`.
    pub fn set_mtu(&mut self, v: u16) {
        self.buf.as_mut()[field::MTU].copy_from_slice(&v.to_be_bytes());
    }
    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[ICMP_HLEN..]
    }
    /// Zero `checksum`, sum the message and store the result
    /// (`csum_fold(csum_partial(...))` as `icmp_push_reply()` does).
    pub fn fill_checksum(&mut self) {
        self.buf.as_mut()[field::CHECKSUM].fill(0);
        let c = ip_compute_csum(self.buf.as_ref());
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_ne_bytes());
    }
}

/// Build a complete ICMP message: header with `un` (as
/// `un.gateway = htonl(un)`), then `payload`, checksummed.
pub fn icmp_build(type_: u8, code: u8, un: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; ICMP_HLEN + payload.len()];
    let mut h = IcmpHdr::new_checked(&mut v[..]).expect("sized above");
    h.set_type(type_);
    h.set_code(code);
    h.set_un(un);
    h.payload_mut().copy_from_slice(payload);
    h.fill_checksum();
    v
}

// -- the IPv4 header fields ICMP and UDP read ----------------------------------

/// The fields of an IPv4 header this file and udp.rs need, parsed from the
/// bytes at `skb_network_header()` or from a quoted header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Iph {
    /// `ihl * 4`.
    pub hlen: usize,
    pub tos: u8,
    pub frag_off: u16,
    pub ttl: u8,
    pub protocol: u8,
    pub saddr: Ipv4Addr,
    pub daddr: Ipv4Addr,
}

/// Parse the fixed part of an IPv4 header; `None` when shorter than 20
/// bytes, not version 4, `ihl < 5`, or the options run past `b`.
pub(crate) fn iph_parse(b: &[u8]) -> Option<Iph> {
    let h = IpHdr::new_checked(b)?;
    if h.version() != 4 {
        return None;
    }
    Some(Iph {
        hlen: h.hdrlen(),
        tos: h.tos(),
        frag_off: h.frag_off(),
        ttl: h.ttl(),
        protocol: h.protocol(),
        saddr: h.saddr(),
        daddr: h.daddr(),
    })
}

/// True for an address that names no single host on the way in or out:
/// multicast, limited broadcast, or a directed broadcast of one of our
/// subnets (Linux: `rt_flags & (RTCF_BROADCAST | RTCF_MULTICAST)`).
pub(crate) fn is_bcast_or_mcast(ipv4: &Ipv4, addr: Ipv4Addr) -> bool {
    addr.is_multicast() || addr.is_broadcast() || ipv4.devinet.is_broadcast(addr)
}

// -- per-namespace state -------------------------------------------------------

/// One destination host's rate-limit bucket (the `rate_tokens` /
/// `rate_last` fields of `struct inet_peer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InetPeer {
    /// Tokens, in jiffies: each message costs `icmp_ratelimit` of them.
    pub rate_tokens: u64,
    /// When tokens were last added, in jiffies.
    pub rate_last: u64,
}

impl InetPeer {
    /// A fresh peer: Linux sets `rate_last = jiffies - 60 * HZ` "so that the
    /// first calculation of tokens is at its maximum".
    pub fn new(now: u64) -> Self {
        InetPeer { rate_tokens: 0, rate_last: now.wrapping_sub(60 * HZ) }
    }
}

/// Mirrors `inet_peer_xrlim_allow()` (net/ipv4/inetpeer.c): add the jiffies
/// elapsed since the last call as tokens, capped at
/// `XRLIM_BURST_FACTOR * timeout`; allow and spend `timeout` tokens if
/// there are that many. A burst of six, then one per `timeout` jiffies.
pub fn inet_peer_xrlim_allow(peer: &mut InetPeer, timeout: u64, now: u64) -> bool {
    let mut token = peer.rate_tokens;
    let delta = now.wrapping_sub(peer.rate_last);
    if delta != 0 {
        peer.rate_last = now;
        token = token.saturating_add(delta).min(XRLIM_BURST_FACTOR * timeout);
    }
    let rc = token >= timeout;
    if rc {
        token -= timeout;
    }
    peer.rate_tokens = token;
    rc
}

/// Mirrors `icmpv4_mask_allow()`: true when `type_`/`code` is exempt from
/// rate limiting — unknown types, "fragmentation needed" (path-MTU
/// discovery must not be starved), and types not set in `ratemask`.
pub fn icmpv4_mask_allow(ratemask: u32, type_: u8, code: u8) -> bool {
    if type_ > NR_ICMP_TYPES {
        return true;
    }
    if type_ == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED {
        return true;
    }
    ratemask & (1u32 << type_) == 0
}

/// One echo reply, as ping(8) prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingReply {
    /// `icmp_seq`.
    pub seq: u16,
    /// Who answered.
    pub from: Ipv4Addr,
    /// The reply's IP TTL.
    pub ttl: u8,
    /// Round-trip time on the namespace clock, in nanoseconds.
    pub rtt_ns: u64,
    /// ICMP bytes received (header and data: ping(8)'s "64 bytes from").
    pub bytes: usize,
}

/// An ICMP error about one of our echo requests, as ping(8) prints it
/// ("From 10.0.0.254 icmp_seq=1 Time to live exceeded").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingError {
    /// `icmp_seq` of the request the error quotes.
    pub seq: u16,
    /// Who sent the error.
    pub from: Ipv4Addr,
    /// ICMP type of the error.
    pub type_: u8,
    /// ICMP code of the error.
    pub code: u8,
    /// `info` as the transport would see it (the MTU for "fragmentation needed").
    pub info: u32,
}

/// Echo bookkeeping (ours: Linux keeps this in ping sockets).
#[derive(Default)]
struct PingBook {
    /// Send time by (identifier, sequence), oldest first in `order`.
    sent: HashMap<(u16, u16), u64>,
    order: VecDeque<(u16, u16)>,
    /// Replies by identifier, in arrival order.
    replies: HashMap<u16, VecDeque<PingReply>>,
    /// Errors about our requests by identifier, in arrival order.
    errors: HashMap<u16, VecDeque<PingError>>,
}

/// Per-namespace ICMP state: the two rate limiters and echo bookkeeping.
pub struct IcmpState {
    // -- lock-free: the global bucket (Linux: `net->ipv4.icmp_global_credit`
    //    and `icmp_global_stamp`, atomics updated with cmpxchg) -------------
    /// Messages that may still be sent before the next refill; may go
    /// negative through `icmp_global_consume()`.
    global_credit: AtomicI32,
    /// Jiffies (low 32 bits) of the last refill.
    global_stamp: AtomicU32,

    // -- `peers`: spin lock, held for one lookup-and-update and never across
    //    a send (Linux: the inet_peer tree under RCU and a seqlock) ---------
    peers: spin::Mutex<HashMap<Ipv4Addr, InetPeer>>,

    // -- `ping`: spin lock, held to insert or copy one record ---------------
    ping: spin::Mutex<PingBook>,
}

impl IcmpState {
    /// Fresh state: an empty global bucket whose stamp lies one second in
    /// the past, so the first check refills it (Linux's jiffies start
    /// far from the zero stamp, to the same effect).
    pub fn new() -> Self {
        IcmpState {
            global_credit: AtomicI32::new(0),
            global_stamp: AtomicU32::new(0u32.wrapping_sub(HZ as u32)),
            peers: spin::Mutex::new(HashMap::new()),
            ping: spin::Mutex::new(PingBook::default()),
        }
    }

    // ANCHOR: icmp_global_allow
    /// Mirrors `icmp_global_allow()` (net/ipv4/icmp.c): true while credit
    /// remains; otherwise, at most once per `HZ / 50`, refill
    /// `icmp_msgs_per_sec * elapsed / HZ` credits (elapsed capped at one
    /// second) up to `icmp_msgs_burst` and allow. False when too little time
    /// has passed to earn a credit.
    pub fn icmp_global_allow(&self, net: &Net, sysctl: &Ipv4Sysctls) -> bool {
        if self.global_credit.load(Ordering::Relaxed) > 0 {
            return true;
        }
        let now = net.jiffies() as u32;
        let oldstamp = self.global_stamp.load(Ordering::Relaxed);
        let delta = now.wrapping_sub(oldstamp).min(HZ as u32);
        if delta < (HZ / 50) as u32 {
            return false;
        }
        let per_sec = sysctl.icmp_msgs_per_sec.get().max(0);
        let burst = sysctl.icmp_msgs_burst.get().clamp(0, i32::MAX as i64) as i32;
        let incr = (per_sec * i64::from(delta) / HZ as i64).min(i32::MAX as i64) as i32;
        if incr == 0 {
            return false;
        }
        if self.global_stamp.compare_exchange(oldstamp, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            let _ = self.global_credit.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(old.saturating_add(incr).min(burst))
            });
        }
        true
    }
    // ANCHOR_END: icmp_global_allow

    /// Mirrors `icmp_global_consume()`: spend 0, 1 or 2 credits at random
    /// (the credit may go negative), so an observer cannot count them.
    pub fn icmp_global_consume(&self, net: &Net) {
        let credits = net.random.get_random_u32_below(3) as i32;
        if credits != 0 {
            self.global_credit.fetch_sub(credits, Ordering::Relaxed);
        }
    }

    /// The global bucket's credit now (for tests and `netlab`).
    pub fn global_credit(&self) -> i32 {
        self.global_credit.load(Ordering::Relaxed)
    }

    /// Mirrors `icmpv4_global_allow()`: exempt types pass; others need
    /// [`IcmpState::icmp_global_allow`], and then set `apply_ratelimit` so
    /// the per-host limit applies too. A refusal counts `OutRateLimitGlobal`.
    pub fn icmpv4_global_allow(
        &self,
        net: &Net,
        sysctl: &Ipv4Sysctls,
        type_: u8,
        code: u8,
        apply_ratelimit: &mut bool,
    ) -> bool {
        let mask = sysctl.icmp_ratemask.get() as u32;
        if icmpv4_mask_allow(mask, type_, code) {
            return true;
        }
        if self.icmp_global_allow(net, sysctl) {
            *apply_ratelimit = true;
            return true;
        }
        net.mib.inc(IcmpMib::OutRateLimitGlobal);
        false
    }

    // ANCHOR: icmpv4_xrlim_allow
    /// Mirrors `icmpv4_xrlim_allow()`: when `apply_ratelimit`, and the reply
    /// does not leave by loopback, ask `daddr`'s bucket
    /// ([`inet_peer_xrlim_allow`] with `icmp_ratelimit` ms). A refusal
    /// counts `OutRateLimitHost`; a pass spends global credit
    /// ([`IcmpState::icmp_global_consume`]).
    pub fn icmpv4_xrlim_allow(
        &self,
        net: &Net,
        sysctl: &Ipv4Sysctls,
        daddr: Ipv4Addr,
        out_loopback: bool,
        apply_ratelimit: bool,
    ) -> bool {
        if !apply_ratelimit {
            return true;
        }
        let rc = if out_loopback {
            true
        } else {
            let timeout = net_core::jiffies::msecs_to_jiffies(sysctl.icmp_ratelimit.get().max(0) as u64);
            let now = net.jiffies();
            let mut peers = self.peers.lock();
            if !peers.contains_key(&daddr) && peers.len() >= INET_PEER_MAX {
                // inet_peer GC, simplified: forget the least recently limited host.
                if let Some(old) = peers.iter().min_by_key(|(_, p)| p.rate_last).map(|(a, _)| *a) {
                    peers.remove(&old);
                }
            }
            let peer = peers.entry(daddr).or_insert_with(|| InetPeer::new(now));
            inet_peer_xrlim_allow(peer, timeout, now)
        };
        if rc {
            self.icmp_global_consume(net);
        } else {
            net.mib.inc(IcmpMib::OutRateLimitHost);
        }
        rc
    }
    // ANCHOR_END: icmpv4_xrlim_allow

    /// How many destination hosts have rate-limit state.
    pub fn peers_len(&self) -> usize {
        self.peers.lock().len()
    }

    /// Echo replies received so far for identifier `id`, oldest first.
    pub fn echo_replies(&self, id: u16) -> Vec<PingReply> {
        self.ping.lock().replies.get(&id).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }

    /// Remove and return the echo replies for `id`.
    pub fn take_echo_replies(&self, id: u16) -> Vec<PingReply> {
        self.ping.lock().replies.remove(&id).map(Vec::from).unwrap_or_default()
    }

    /// ICMP errors received about echo requests with identifier `id`
    /// (Linux: `ping_err()` queues them for a ping socket with `IP_RECVERR`).
    pub fn echo_errors(&self, id: u16) -> Vec<PingError> {
        self.ping.lock().errors.get(&id).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }

    /// Record an error about request (`id`, `err.seq`); false when no such
    /// request is outstanding.
    fn ping_error(&self, id: u16, err: PingError) -> bool {
        let mut b = self.ping.lock();
        if !b.sent.contains_key(&(id, err.seq)) {
            return false;
        }
        let q = b.errors.entry(id).or_default();
        q.push_back(err);
        if q.len() > PING_MAX_RECORDS {
            q.pop_front();
        }
        true
    }

    fn ping_sent(&self, id: u16, seq: u16, now: u64) {
        let mut b = self.ping.lock();
        if b.sent.insert((id, seq), now).is_none() {
            b.order.push_back((id, seq));
        }
        while b.order.len() > PING_MAX_RECORDS {
            if let Some(k) = b.order.pop_front() {
                b.sent.remove(&k);
            }
        }
    }

    /// Record a reply; false when no request with this id and sequence is
    /// outstanding (Linux: no ping socket with that ident).
    fn ping_reply(&self, id: u16, mut reply: PingReply, now: u64) -> bool {
        let mut b = self.ping.lock();
        let Some(&sent) = b.sent.get(&(id, reply.seq)) else {
            return false;
        };
        reply.rtt_ns = now.saturating_sub(sent);
        let q = b.replies.entry(id).or_default();
        q.push_back(reply);
        if q.len() > PING_MAX_RECORDS {
            q.pop_front();
        }
        true
    }
}

impl Default for IcmpState {
    fn default() -> Self {
        Self::new()
    }
}

// -- registration --------------------------------------------------------------

/// Register `icmp_protocol` in `inet_protos[IPPROTO_ICMP]`
/// (`inet_add_protocol(&icmp_protocol, IPPROTO_ICMP)` in `inet_init()`).
///
/// The handler holds the namespace's [`Ipv4`] weakly, as the table that
/// holds the handler lives inside it. Registering twice leaves the first.
pub fn icmp_init(_net: &Arc<Net>, ipv4: &Arc<Ipv4>) {
    let w = Arc::downgrade(ipv4);
    let prot = NetProtocol {
        name: "icmp_rcv",
        handler: Box::new(move |net: &Net, skb: Skb| match w.upgrade() {
            Some(ipv4) => icmp_rcv(net, &ipv4, skb),
            None => {
                net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
                NetRx::Drop
            }
        }),
        err_handler: None,
        early_demux: None,
    };
    // Linux: pr_crit("cannot add ICMP protocol") and carry on.
    let _ = ipv4.protos.inet_add_protocol(Arc::new(prot), IPPROTO_ICMP);
}

// -- receive -------------------------------------------------------------------

fn icmp_drop(net: &Net, skb: Skb, reason: SkbDropReason) -> NetRx {
    net.mib.inc(IcmpMib::InErrors);
    net.kfree_skb_reason(skb, reason);
    NetRx::Drop
}

// ANCHOR: icmp_rcv
/// Mirrors `icmp_rcv()` (net/ipv4/icmp.c): `skb.data` is at the ICMP
/// header, the network header mark at the IPv4 header.
///
/// Counts `InMsgs`, verifies the checksum (failure: `InCsumErrors` and
/// `InErrors`, dropped), counts `InType<n>`, refuses to answer echo or
/// timestamp requests sent to a broadcast or multicast address when
/// `icmp_echo_ignore_broadcasts` (the default) and every other type sent
/// that way but address-mask ones (`InErrors`), silently discards types
/// above 18 (RFC 1122 §3.2.2; `InErrors`), then dispatches:
/// echo → `icmp_echo()`, echo reply → the ping log, errors →
/// [`icmp_unreach`], timestamp → a timestamp reply, the rest consumed.
pub fn icmp_rcv(net: &Net, ipv4: &Ipv4, skb: Skb) -> NetRx {
    net_core::ftrace_graph!("icmp_rcv");
    net.mib.inc(IcmpMib::InMsgs);
    let Some(iph) = iph_parse(skb.network_header()) else {
        return icmp_drop(net, skb, SkbDropReason::HdrTrunc);
    };
    if skb.ip_summed != IpSummed::Unnecessary && ip_compute_csum(skb.data()) != Sum16::ZERO {
        net.mib.inc(IcmpMib::InCsumErrors);
        return icmp_drop(net, skb, SkbDropReason::IcmpCsum);
    }
    let Some(h) = IcmpHdr::new_checked(skb.data()) else {
        return icmp_drop(net, skb, SkbDropReason::PktTooSmall);
    };
    let type_ = h.type_();
    net.mib.icmpmsg_in_inc(type_);

    let bcast =
        matches!(skb.pkt_type, PktType::Broadcast | PktType::Multicast) || is_bcast_or_mcast(ipv4, iph.daddr);
    if bcast {
        // RFC 1122 3.2.2.6: an echo to broadcast MAY be silently ignored;
        // 3.2.2.8: likewise a timestamp.
        if (type_ == ICMP_ECHO || type_ == ICMP_TIMESTAMP)
            && ipv4.sysctl.icmp_echo_ignore_broadcasts.get() != 0
        {
            return icmp_drop(net, skb, SkbDropReason::InvalidProto);
        }
        if !matches!(type_, ICMP_ECHO | ICMP_TIMESTAMP | ICMP_ADDRESS | ICMP_ADDRESSREPLY) {
            return icmp_drop(net, skb, SkbDropReason::InvalidProto);
        }
    }
    if type_ > NR_ICMP_TYPES {
        return icmp_drop(net, skb, SkbDropReason::UnhandledProto);
    }
    let reason = match type_ {
        ICMP_ECHO => icmp_echo(net, ipv4, &skb, &iph, bcast),
        ICMP_ECHOREPLY => ping_rcv(net, ipv4, &skb, &iph),
        ICMP_DEST_UNREACH | ICMP_SOURCE_QUENCH | ICMP_REDIRECT | ICMP_TIME_EXCEEDED | ICMP_PARAMETERPROB => {
            icmp_unreach(net, ipv4, &skb)
        }
        ICMP_TIMESTAMP => icmp_timestamp(net, ipv4, &skb, &iph, bcast),
        _ => None, // icmp_discard(): "pretend it was a success"
    };
    match reason {
        None => {
            net.consume_skb(skb);
            NetRx::Success
        }
        Some(r) => {
            net.kfree_skb_reason(skb, r);
            NetRx::Drop
        }
    }
}
// ANCHOR_END: icmp_rcv

/// Mirrors `icmp_echo()`: answer with an echo reply carrying the same
/// identifier, sequence and data, unless `icmp_echo_ignore_all`. Sending
/// failures are counted (`OutErrors`) and do not make the request a drop.
fn icmp_echo(net: &Net, ipv4: &Ipv4, skb: &SkBuff, iph: &Iph, bcast: bool) -> Option<SkbDropReason> {
    if ipv4.sysctl.icmp_echo_ignore_all.get() != 0 {
        return None;
    }
    let h = IcmpHdr::new_checked(skb.data())?;
    icmp_reply(net, ipv4, iph, bcast, ICMP_ECHOREPLY, 0, h.un(), h.payload());
    None
}

/// Mirrors `icmp_timestamp()`: answer with the originate time copied and
/// receive = transmit = milliseconds since midnight UT on the namespace
/// clock (RFC 792). Shorter than 4 bytes of data: `InErrors`, dropped.
fn icmp_timestamp(net: &Net, ipv4: &Ipv4, skb: &SkBuff, iph: &Iph, bcast: bool) -> Option<SkbDropReason> {
    let h = IcmpHdr::new_checked(skb.data())?;
    let Some(orig) = h.payload().get(..4) else {
        net.mib.inc(IcmpMib::InErrors);
        return Some(SkbDropReason::PktTooSmall);
    };
    let ms = ((net.now_ns() / 1_000_000) % 86_400_000) as u32;
    let mut times = [0u8; 12];
    times[..4].copy_from_slice(orig);
    times[4..8].copy_from_slice(&ms.to_be_bytes());
    times[8..].copy_from_slice(&ms.to_be_bytes());
    icmp_reply(net, ipv4, iph, bcast, ICMP_TIMESTAMPREPLY, 0, h.un(), &times);
    None
}

/// Mirrors `icmp_reply()`: global limit, route back to the sender, per-host
/// limit, then send from the address the request was sent to (or, for a
/// broadcast request, the route's choice; Linux: `fib_compute_spec_dst()`).
#[allow(clippy::too_many_arguments)]
fn icmp_reply(net: &Net, ipv4: &Ipv4, iph: &Iph, bcast: bool, type_: u8, code: u8, un: u32, body: &[u8]) {
    let mut apply = false;
    if !ipv4.icmp.icmpv4_global_allow(net, &ipv4.sysctl, type_, code, &mut apply) {
        return;
    }
    let daddr = iph.saddr;
    let saddr = if bcast { None } else { Some(iph.daddr) };
    let Ok(rt) = crate::route::ip_route_output(net, ipv4, daddr, saddr, None) else {
        return;
    };
    let out_loop = net.dev_get_by_index(rt.dev).is_some_and(|d| d.is_loopback());
    if !ipv4.icmp.icmpv4_xrlim_allow(net, &ipv4.sysctl, daddr, out_loop, apply) {
        return;
    }
    let saddr = saddr.unwrap_or(rt.saddr);
    icmp_push_reply(net, ipv4, saddr, daddr, iph.tos, type_, code, un, body);
}

/// Mirrors `icmp_push_reply()` with `icmp_out_count()`: build the message
/// behind `MAX_HEADER` + 60 bytes of headroom and send it with DF clear
/// (the ICMP control socket's `IP_PMTUDISC_DONT`). Counts `OutMsgs` and
/// `OutType<n>`; a failed send also counts `OutErrors`.
#[allow(clippy::too_many_arguments)]
fn icmp_push_reply(
    net: &Net,
    ipv4: &Ipv4,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    tos: u8,
    type_: u8,
    code: u8,
    un: u32,
    body: &[u8],
) {
    let msg = icmp_build(type_, code, un, body);
    let mut skb = alloc_skb(MAX_HEADER + 60 + msg.len());
    skb.reserve(MAX_HEADER + 60);
    skb.put_data(&msg);
    skb.reset_transport_header();
    net.mib.icmpmsg_out_inc(type_);
    net.mib.inc(IcmpMib::OutMsgs);
    let opts = IpSendOpts { tos, df: Some(false), append_data: true, ..IpSendOpts::default() };
    if ip_build_and_send_pkt(net, ipv4, skb, saddr, daddr, IPPROTO_ICMP, opts).is_err() {
        net.mib.inc(IcmpMib::OutErrors);
    }
}

/// Mirrors `ping_rcv()` (net/ipv4/ping.c), reduced: log an echo reply
/// against the request with the same identifier and sequence; with none
/// outstanding the reply is dropped (`NO_SOCKET`).
fn ping_rcv(net: &Net, ipv4: &Ipv4, skb: &SkBuff, iph: &Iph) -> Option<SkbDropReason> {
    let h = IcmpHdr::new_checked(skb.data())?;
    let reply = PingReply { seq: h.sequence(), from: iph.saddr, ttl: iph.ttl, rtt_ns: 0, bytes: skb.len() };
    if ipv4.icmp.ping_reply(h.id(), reply, net.now_ns()) { None } else { Some(SkbDropReason::NoSocket) }
}

// ANCHOR: icmp_unreach
/// Mirrors `icmp_unreach()` and `icmp_socket_deliver()`: an error message
/// (destination unreachable, source quench, redirect, time exceeded,
/// parameter problem) is passed to the `err_handler` of the transport named
/// by the quoted header (RFC 1122 §3.2.2.1–2).
///
/// The quoted header must be a plausible IPv4 header (`ihl >= 5`; else
/// `InErrors`, dropped) followed by at least 8 bytes of its payload (else
/// ignored). "Fragmentation needed" carries the next-hop MTU in `info` when
/// `ip_no_pmtu_disc` is 0 (the default), 0 when it is 1, and is ignored
/// when it is 2 or 3; parameter problem carries the pointer; reassembly
/// timeouts are not passed on; unknown unreachable codes are ignored.
pub fn icmp_unreach(net: &Net, ipv4: &Ipv4, skb: &SkBuff) -> Option<SkbDropReason> {
    let h = IcmpHdr::new_checked(skb.data())?;
    let inner = h.payload();
    if inner.len() < 20 {
        net.mib.inc(IcmpMib::InErrors);
        return Some(SkbDropReason::PktTooSmall);
    }
    if inner[0] & 0x0f < 5 {
        // Mangled header, drop.
        net.mib.inc(IcmpMib::InErrors);
        return Some(SkbDropReason::IpInhdr);
    }
    let (type_, code) = (h.type_(), h.code());
    let mut info = 0u32;
    match type_ {
        ICMP_DEST_UNREACH => {
            if code & 15 == ICMP_FRAG_NEEDED {
                match ipv4.sysctl.ip_no_pmtu_disc.get() {
                    0 => info = u32::from(h.mtu()),
                    // 2: ignore all; 3: only protocols with strict tag
                    // validation, which neither UDP nor ping has.
                    2 | 3 => return None,
                    _ => {}
                }
            }
            if code > NR_ICMP_UNREACH {
                return None;
            }
        }
        ICMP_PARAMETERPROB => info = h.un() >> 24,
        ICMP_TIME_EXCEEDED if code == ICMP_EXC_FRAGTIME => return None,
        ICMP_REDIRECT => info = h.un(),
        _ => {}
    }
    // Full IP header plus 8 bytes of protocol, so handlers need not check
    // (Linux: `pskb_may_pull(skb, iph->ihl * 4 + 8)`, not counted).
    let iph = IpHdr::new_checked(inner)?;
    let hlen = iph.hdrlen();
    if inner.len() < hlen + 8 {
        return None;
    }
    // Routers that answer a broadcast with errors violate RFC 1122; Linux
    // ignores those errors unless icmp_ignore_bogus_error_responses is set.
    if ipv4.sysctl.icmp_ignore_bogus_error_responses.get() == 0 && is_bcast_or_mcast(ipv4, iph.daddr()) {
        return None;
    }
    if iph.protocol() == IPPROTO_ICMP {
        // icmp_err() → ping_err(): an error about one of our echo requests.
        let echo = IcmpHdr::new_checked(&inner[hlen..])?;
        if echo.type_() == ICMP_ECHO {
            let from = iph_parse(skb.network_header()).map_or(Ipv4Addr::UNSPECIFIED, |h| h.saddr);
            ipv4.icmp.ping_error(echo.id(), PingError { seq: echo.sequence(), from, type_, code, info });
        }
    } else if let Some(prot) = ipv4.protos.get(iph.protocol())
        && let Some(eh) = prot.err_handler.as_ref()
    {
        eh(net, &IcmpErr { type_, code, info, inner });
    }
    None
}
// ANCHOR_END: icmp_unreach

// -- send ----------------------------------------------------------------------

/// Whether `addr` may be the destination of an ICMP error: one single host
/// (RFC 1122 §3.2.2: not zero, broadcast, multicast or class E; loopback
/// only when the datagram came in by loopback).
fn icmp_src_ok(addr: Ipv4Addr, came_by_loopback: bool) -> bool {
    !(addr.is_unspecified()
        || addr.is_broadcast()
        || addr.is_multicast()
        || addr.octets()[0] >= 240
        || (addr.is_loopback() && !came_by_loopback))
}

// ANCHOR: icmp_send
/// Send an ICMP error about `skb_in`, whose network header is the offending
/// datagram (`__icmp_send()`); rate-limited; never about ICMP errors,
/// non-first fragments, or broadcasts.
///
/// Mirrors `__icmp_send()` (net/ipv4/icmp.c). Nothing is sent (silently,
/// as Linux does) when: the network header is not a whole IPv4 header; the
/// datagram was not addressed to this host (`pkt_type != PACKET_HOST`) or
/// went to a broadcast/multicast address; it is a non-first fragment; it is
/// itself an ICMP error or an ICMP message of unknown type; its source is
/// not a single host; the global limit ([`IcmpState::icmpv4_global_allow`],
/// skipped for datagrams that came by loopback) or the per-host limit
/// refuses; there is no route back. The reply comes from the address the
/// datagram was sent to if it is ours, else from the outgoing interface's
/// (`inet_select_addr()` through the route), carries `info` in its second
/// word (`un.gateway = htonl(info)`: the MTU for "fragmentation needed", the
/// pointer << 24 for parameter problem) and quotes the IP header and as
/// much of the datagram as fits in 576 bytes.
pub fn icmp_send(net: &Net, ipv4: &Ipv4, skb_in: &SkBuff, type_: u8, code: u8, info: u32) {
    let nh = skb_in.network_header();
    let Some(iph) = iph_parse(nh) else {
        return;
    };
    if skb_in.pkt_type != PktType::Host {
        return;
    }
    if is_bcast_or_mcast(ipv4, iph.daddr) {
        return;
    }
    // Only reply to fragment 0.
    if iph.frag_off & IP_OFFSET != 0 {
        return;
    }
    // Never answer an ICMP error (RFC 1122 3.2.2), nor an unknown type.
    if icmp_is_err(type_) && iph.protocol == IPPROTO_ICMP {
        match nh.get(iph.hlen) {
            Some(&inner) if inner <= NR_ICMP_TYPES && !icmp_is_err(inner) => {}
            _ => return,
        }
    }
    let came_by_loopback = net.dev_get_by_index(skb_in.dev).is_some_and(|d| d.is_loopback());
    if !icmp_src_ok(iph.saddr, came_by_loopback) {
        return;
    }
    let mut apply = false;
    if !came_by_loopback && !ipv4.icmp.icmpv4_global_allow(net, &ipv4.sysctl, type_, code, &mut apply) {
        return;
    }
    let local = ipv4.devinet.is_local(iph.daddr);
    let saddr = local.then_some(iph.daddr);
    let Ok(rt) = crate::route::ip_route_output(net, ipv4, iph.saddr, saddr, None) else {
        return;
    };
    let out_loop = net.dev_get_by_index(rt.dev).is_some_and(|d| d.is_loopback());
    if !ipv4.icmp.icmpv4_xrlim_allow(net, &ipv4.sysctl, iph.saddr, out_loop, apply) {
        return;
    }
    let tos =
        if icmp_is_err(type_) { (iph.tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL } else { iph.tos };
    let room = (rt.mtu as usize).min(ICMP_ERR_MAX_LEN).saturating_sub(20 + ICMP_HLEN);
    let quoted = &nh[..nh.len().min(room)];
    icmp_push_reply(net, ipv4, saddr.unwrap_or(rt.saddr), iph.saddr, tos, type_, code, info, quoted);
}
// ANCHOR_END: icmp_send

// -- ping ----------------------------------------------------------------------

/// Send an echo request to `daddr` with identifier `id`, sequence `seq` and
/// `payload`, remembering the send time for [`IcmpState::echo_replies`].
///
/// Mirrors `ping_v4_sendmsg()` (net/ipv4/ping.c) for a datagram ping
/// socket. Errors: `EMSGSIZE` when the datagram would exceed 65535 bytes,
/// `EACCES` for a broadcast destination (no `SO_BROADCAST` here),
/// `ENETUNREACH` with no route, and whatever `ip_build_and_send_pkt`
/// reports. DF is set when the datagram fits the route's MTU
/// (`IP_PMTUDISC_WANT`). Counts `OutMsgs` and `OutType8` when sent.
pub fn ping(net: &Net, ipv4: &Ipv4, daddr: Ipv4Addr, id: u16, seq: u16, payload: &[u8]) -> Result<(), Errno> {
    ping_ttl(net, ipv4, daddr, id, seq, None, payload)
}

/// [`ping`] with the IP TTL set (`ping -t TTL`, `IP_TTL`); `None` is
/// `ip_default_ttl`. Errors quoting the request (time exceeded,
/// unreachable) are logged for [`IcmpState::echo_errors`].
pub fn ping_ttl(
    net: &Net,
    ipv4: &Ipv4,
    daddr: Ipv4Addr,
    id: u16,
    seq: u16,
    ttl: Option<u8>,
    payload: &[u8],
) -> Result<(), Errno> {
    let len = ICMP_HLEN + payload.len();
    if len + 20 > 0xffff {
        return Err(Errno::EMSGSIZE);
    }
    let rt = crate::route::ip_route_output(net, ipv4, daddr, None, None)?;
    if matches!(rt.rt_type, RtnType::Broadcast | RtnType::Multicast) || daddr.is_multicast() {
        return Err(Errno::EACCES);
    }
    let mut un = [0u8; 4];
    un[..2].copy_from_slice(&id.to_be_bytes());
    un[2..].copy_from_slice(&seq.to_be_bytes());
    let msg = icmp_build(ICMP_ECHO, 0, u32::from_be_bytes(un), payload);
    let mut skb = alloc_skb(MAX_HEADER + 60 + msg.len());
    skb.reserve(MAX_HEADER + 60);
    skb.put_data(&msg);
    skb.reset_transport_header();
    // Before sending: a loopback reply can arrive inside the call.
    ipv4.icmp.ping_sent(id, seq, net.now_ns());
    let opts =
        IpSendOpts { ttl, df: Some(len + 20 <= rt.mtu as usize), append_data: true, ..IpSendOpts::default() };
    ip_build_and_send_pkt(net, ipv4, skb, rt.saddr, daddr, IPPROTO_ICMP, opts)?;
    net.mib.icmpmsg_out_inc(ICMP_ECHO);
    net.mib.inc(IcmpMib::OutMsgs);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::Clock;
    use net_core::snmp::IcmpMsg;

    /// An echo request: id 0x1c2f, seq 1, eight 0xa5 bytes (ping -p a5 -s 8).
    fn echo_request_bytes() -> Vec<u8> {
        icmp_build(ICMP_ECHO, 0, 0x1c2f_0001, &[0xa5; 8])
    }

    #[test]
    fn header_view_reads_fields() {
        let b = echo_request_bytes();
        let h = IcmpHdr::new_checked(&b[..]).unwrap();
        assert_eq!(h.type_(), ICMP_ECHO);
        assert_eq!(h.code(), 0);
        assert_eq!(h.id(), 0x1c2f);
        assert_eq!(h.sequence(), 1);
        assert_eq!(h.payload(), &[0xa5; 8]);
        assert!(h.csum_ok());
        assert!(IcmpHdr::new_checked(&b[..7]).is_none());
    }

    #[test]
    fn checksum_matches_etherparse() {
        use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Type};
        let payload = b"abcdefghijklmnopqrstuvwabcdefghi";
        let ours = icmp_build(ICMP_ECHO, 0, 0x0001_0007, payload);
        let theirs =
            Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 7 }), payload);
        let mut want = theirs.to_bytes().to_vec();
        want.extend_from_slice(payload);
        assert_eq!(ours, want);
    }

    /// Captured from Linux 6.18.44 in a scratch namespace (a raw ICMP socket
    /// on `lo`): 127.0.0.1:40000 sent "odd!!" to 127.0.0.1:53 and got this
    /// port unreachable — IP header, then ICMP.
    const LINUX_PORT_UNREACH: &str = "45c0003d2054000040015baa7f0000017f000001\
        03036dd300000000\
        45000021e278400040115a517f0000017f000001\
        9c400035000dfe206f64642121";
    /// The same capture session: an echo request (id 0x1c2f, seq 1, eight
    /// 0xa5) and Linux's reply, IP headers included.
    const LINUX_ECHO: &str = "450000242055400040011c827f0000017f000001080045391c2f0001a5a5a5a5a5a5a5a5";
    const LINUX_ECHOREPLY: &str = "450000242056000040015c817f0000017f00000100004d391c2f0001a5a5a5a5a5a5a5a5";

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn pinned_linux_port_unreachable() {
        let pkt = unhex(LINUX_PORT_UNREACH);
        let outer = iph_parse(&pkt).unwrap();
        // __icmp_send(): precedence "internet control", DF clear (the ICMP
        // socket's IP_PMTUDISC_DONT).
        assert_eq!(outer.tos, IPTOS_PREC_INTERNETCONTROL);
        assert_eq!(outer.frag_off, 0);
        let icmp = &pkt[20..];
        let h = IcmpHdr::new_checked(icmp).unwrap();
        assert_eq!((h.type_(), h.code(), h.un()), (ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0));
        assert!(h.csum_ok());
        let inner = iph_parse(h.payload()).unwrap();
        assert_eq!(
            (inner.protocol, inner.saddr, inner.daddr),
            (17, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST)
        );
        // Rebuilt by us from the quoted datagram: the same bytes.
        let mut out = [0xa5u8; 41];
        out.copy_from_slice(&icmp_build(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, h.payload()));
        assert_eq!(&out[..], icmp);
        // etherparse agrees on the type and checksum.
        let (eh, _) = etherparse::Icmpv4Header::from_slice(icmp).unwrap();
        assert_eq!(eh.checksum, h.checksum());
        assert!(matches!(eh.icmp_type, etherparse::Icmpv4Type::DestinationUnreachable(_)));
    }

    #[test]
    fn pinned_linux_echo_and_reply() {
        let req = unhex(LINUX_ECHO);
        let rep = unhex(LINUX_ECHOREPLY);
        assert_eq!(&req[20..], &echo_request_bytes()[..]);
        let h = IcmpHdr::new_checked(&req[20..]).unwrap();
        // icmp_echo(): same id, sequence and data, type 0.
        assert_eq!(&rep[20..], &icmp_build(ICMP_ECHOREPLY, 0, h.un(), h.payload())[..]);
        assert_eq!(iph_parse(&rep).unwrap().tos, 0);
    }

    #[test]
    fn setters_write_every_byte() {
        let mut b = [0xa5u8; 12];
        let mut h = IcmpHdr::new_checked(&mut b[..]).unwrap();
        h.set_type(ICMP_DEST_UNREACH);
        h.set_code(ICMP_FRAG_NEEDED);
        h.set_un(0);
        h.set_mtu(1400);
        h.fill_checksum();
        let h = IcmpHdr::new_checked(&b[..]).unwrap();
        assert_eq!(h.mtu(), 1400);
        assert_eq!(h.un(), 1400);
        assert!(h.csum_ok());
    }

    #[test]
    fn err_convert_port_unreach_is_hard_econnrefused() {
        let c = ICMP_ERR_CONVERT[ICMP_PORT_UNREACH as usize];
        assert_eq!(c, IcmpErrConv { errno: Errno::ECONNREFUSED, fatal: true });
        assert!(!ICMP_ERR_CONVERT[ICMP_HOST_UNREACH as usize].fatal);
    }

    #[test]
    fn ratemask_default_exempts_echo_reply_and_frag_needed() {
        let m = 0x1818;
        assert!(icmpv4_mask_allow(m, ICMP_ECHOREPLY, 0));
        assert!(!icmpv4_mask_allow(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
        assert!(icmpv4_mask_allow(m, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED));
        assert!(!icmpv4_mask_allow(m, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL));
        assert!(!icmpv4_mask_allow(m, ICMP_PARAMETERPROB, 0));
        assert!(!icmpv4_mask_allow(m, ICMP_SOURCE_QUENCH, 0));
        assert!(icmpv4_mask_allow(m, 200, 0));
    }

    #[test]
    fn peer_bucket_bursts_six_then_one_per_second() {
        let timeout = 1000;
        let mut now = 5_000u64;
        let mut p = InetPeer::new(now);
        let burst = (0..10).filter(|_| inet_peer_xrlim_allow(&mut p, timeout, now)).count();
        assert_eq!(burst, 6);
        now += 999;
        assert!(!inet_peer_xrlim_allow(&mut p, timeout, now));
        now += 1;
        assert!(inet_peer_xrlim_allow(&mut p, timeout, now));
        assert!(!inet_peer_xrlim_allow(&mut p, timeout, now));
        // A long silence refills only up to the burst.
        now += 3_600_000;
        assert_eq!((0..10).filter(|_| inet_peer_xrlim_allow(&mut p, timeout, now)).count(), 6);
    }

    fn net_at(ms: u64) -> (Arc<Net>, Clock, Ipv4Sysctls) {
        let clock = Clock::new_virtual_at(ms * 1_000_000);
        let net = Net::new("t", clock.clone(), 7);
        let sc = crate::sysctl_net_ipv4::register_net_ipv4(&net.sysctl);
        (net, clock, sc)
    }

    #[test]
    fn global_bucket_refills_to_burst_and_spends_randomly() {
        let (net, clock, sc) = net_at(0);
        let s = IcmpState::new();
        // Fresh: the stamp lies a second back, so the first call refills to the burst.
        assert!(s.icmp_global_allow(&net, &sc));
        assert_eq!(s.global_credit(), 50);
        // Spending: 0..=2 per message, so 50 credits last 25..; count until refusal.
        let mut sent = 0;
        while s.icmp_global_allow(&net, &sc) {
            s.icmp_global_consume(&net);
            sent += 1;
            assert!(sent < 10_000);
        }
        assert!(sent >= 25, "{sent}");
        // Under HZ/50 = 20 ms nothing is earned; a stamp refresh happened at 0.
        clock.set_ns(19_000_000);
        assert!(!s.icmp_global_allow(&net, &sc));
        clock.set_ns(20_000_000);
        // 20 ms at 1000/s earns 20 credits (minus any debt).
        assert!(s.icmp_global_allow(&net, &sc));
        assert!(s.global_credit() <= 20);
    }

    #[test]
    fn global_allow_counts_and_skips_exempt() {
        let (net, _clock, sc) = net_at(1000);
        let s = IcmpState::new();
        let mut apply = false;
        assert!(s.icmpv4_global_allow(&net, &sc, ICMP_ECHOREPLY, 0, &mut apply));
        assert!(!apply);
        s.global_credit.store(0, Ordering::Relaxed);
        s.global_stamp.store(net.jiffies() as u32, Ordering::Relaxed);
        assert!(!s.icmpv4_global_allow(&net, &sc, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, &mut apply));
        assert_eq!(net.mib.get(IcmpMib::OutRateLimitGlobal), 1);
        assert!(s.icmpv4_global_allow(&net, &sc, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, &mut apply));
    }

    #[test]
    fn xrlim_counts_host_limit_and_bounds_peers() {
        let (net, clock, sc) = net_at(100_000);
        let s = IcmpState::new();
        let dst = Ipv4Addr::new(10, 0, 0, 9);
        let ok = (0..10).filter(|_| s.icmpv4_xrlim_allow(&net, &sc, dst, false, true)).count();
        assert_eq!(ok, 6);
        assert_eq!(net.mib.get(IcmpMib::OutRateLimitHost), 4);
        // Loopback and unlimited types pass.
        assert!(s.icmpv4_xrlim_allow(&net, &sc, dst, true, true));
        assert!(s.icmpv4_xrlim_allow(&net, &sc, dst, false, false));
        clock.advance_ns(1_000_000_000);
        assert!(s.icmpv4_xrlim_allow(&net, &sc, dst, false, true));
        for i in 0..(INET_PEER_MAX as u32 + 10) {
            s.icmpv4_xrlim_allow(&net, &sc, Ipv4Addr::from(0x0b00_0000 + i), false, true);
        }
        assert_eq!(s.peers_len(), INET_PEER_MAX);
    }

    #[test]
    fn ping_book_matches_replies_and_is_bounded() {
        let s = IcmpState::new();
        s.ping_sent(7, 1, 1_000);
        let r = PingReply { seq: 1, from: Ipv4Addr::new(10, 0, 0, 2), ttl: 64, rtt_ns: 0, bytes: 64 };
        assert!(s.ping_reply(7, r.clone(), 3_000));
        assert!(!s.ping_reply(8, r.clone(), 3_000));
        assert_eq!(s.echo_replies(7)[0].rtt_ns, 2_000);
        for seq in 0..(PING_MAX_RECORDS as u16 + 5) {
            s.ping_sent(9, seq, 0);
        }
        assert_eq!(s.ping.lock().sent.len(), PING_MAX_RECORDS);
        assert_eq!(s.take_echo_replies(7).len(), 1);
        assert!(s.echo_replies(7).is_empty());
    }

    #[test]
    fn icmp_src_ok_follows_rfc1122() {
        assert!(icmp_src_ok(Ipv4Addr::new(10, 0, 0, 1), false));
        assert!(!icmp_src_ok(Ipv4Addr::UNSPECIFIED, false));
        assert!(!icmp_src_ok(Ipv4Addr::BROADCAST, false));
        assert!(!icmp_src_ok(Ipv4Addr::new(224, 0, 0, 1), false));
        assert!(!icmp_src_ok(Ipv4Addr::new(240, 0, 0, 1), false));
        assert!(!icmp_src_ok(Ipv4Addr::LOCALHOST, false));
        assert!(icmp_src_ok(Ipv4Addr::LOCALHOST, true));
    }

    #[test]
    fn iph_parse_rejects_bad_headers() {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        assert!(iph_parse(&h).is_some());
        h[0] = 0x44;
        assert!(iph_parse(&h).is_none());
        h[0] = 0x46;
        assert!(iph_parse(&h).is_none());
        h[0] = 0x65;
        assert!(iph_parse(&h).is_none());
        assert!(iph_parse(&h[..19]).is_none());
    }

    #[test]
    fn icmpmsg_index_is_linuxs() {
        assert_eq!(IcmpMsg::Out(ICMP_DEST_UNREACH).index(), 0x103);
    }

    use crate::testlink::rx_datagram as rx_skb;

    fn stack() -> (Arc<Net>, Arc<Ipv4>) {
        let net = Net::new("t", Clock::new_virtual_at(1_000_000_000), 3);
        let ipv4 = crate::ipv4_init(&net);
        (net, ipv4)
    }

    const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    #[test]
    fn rcv_counts_bad_checksum() {
        let (net, ipv4) = stack();
        let mut m = echo_request_bytes();
        m[2] ^= 1;
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m)), NetRx::Drop);
        assert_eq!(net.mib.get(IcmpMib::InMsgs), 1);
        assert_eq!(net.mib.get(IcmpMib::InCsumErrors), 1);
        assert_eq!(net.mib.get(IcmpMib::InErrors), 1);
        assert_eq!(net.mib.get(IcmpMsg::In(ICMP_ECHO)), 0);
        assert_eq!(net.drops.get(SkbDropReason::IcmpCsum), 1);
    }

    #[test]
    fn rcv_discards_unknown_types_and_short_messages() {
        let (net, ipv4) = stack();
        let m = icmp_build(200, 0, 0, b"");
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m)), NetRx::Drop);
        assert_eq!(net.mib.get(IcmpMsg::In(200)), 1);
        // Four bytes whose sum is right but that hold no whole header.
        let mut short = [ICMP_ECHO, 0, 0, 0];
        let c = ip_compute_csum(&short);
        short[2..4].copy_from_slice(&c.to_ne_bytes());
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &short)), NetRx::Drop);
        assert_eq!(net.mib.get(IcmpMib::InErrors), 2);
        // An unsolicited echo reply has no taker.
        let r = icmp_build(ICMP_ECHOREPLY, 0, 0x0005_0001, b"x");
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &r)), NetRx::Drop);
        assert_eq!(net.drops.get(SkbDropReason::NoSocket), 1);
    }

    #[test]
    fn rcv_ignores_broadcast_echo_by_default() {
        let (net, ipv4) = stack();
        let m = echo_request_bytes();
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, Ipv4Addr::BROADCAST, IPPROTO_ICMP, &m)), NetRx::Drop);
        assert_eq!(net.mib.get(IcmpMsg::In(ICMP_ECHO)), 1);
        assert_eq!(net.mib.get(IcmpMib::InErrors), 1);
        assert_eq!(net.mib.get(IcmpMsg::Out(ICMP_ECHOREPLY)), 0);
        // Errors sent to a broadcast address are refused too.
        let e = icmp_build(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, &[0u8; 28]);
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, Ipv4Addr::BROADCAST, IPPROTO_ICMP, &e)), NetRx::Drop);
        assert_eq!(net.mib.get(IcmpMib::InErrors), 2);
    }

    #[test]
    fn unreach_passes_quoted_header_and_mtu_to_err_handler() {
        let (net, ipv4) = stack();
        type Seen = Vec<(u8, u8, u32, usize)>;
        let seen: Arc<spin::Mutex<Seen>> = Arc::default();
        let s2 = seen.clone();
        let prot = NetProtocol {
            name: "test",
            handler: Box::new(|net: &Net, skb: Skb| {
                net.consume_skb(skb);
                NetRx::Success
            }),
            err_handler: Some(Box::new(move |_: &Net, e: &IcmpErr<'_>| {
                s2.lock().push((e.type_, e.code, e.info, e.inner.len()))
            })),
            early_demux: None,
        };
        ipv4.protos.inet_add_protocol(Arc::new(prot), 253).unwrap();
        let mut quoted = vec![0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 253, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        quoted.extend_from_slice(&[0xa5; 8]);
        let m = icmp_build(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400, &quoted);
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m)), NetRx::Success);
        assert_eq!(*seen.lock(), [(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400, 28)]);
        // Parameter problem: the pointer is the top byte.
        let m = icmp_build(ICMP_PARAMETERPROB, 0, 9 << 24, &quoted);
        icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m));
        assert_eq!(seen.lock()[1], (ICMP_PARAMETERPROB, 0, 9, 28));
        // Reassembly timeouts are not passed on; nor is a quote without 8 payload bytes.
        let m = icmp_build(ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0, &quoted);
        icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m));
        let m = icmp_build(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, &quoted[..24]);
        icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m));
        assert_eq!(seen.lock().len(), 2);
        // A mangled quoted header (ihl < 5) is an error.
        let mut bad = quoted.clone();
        bad[0] = 0x44;
        let m = icmp_build(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, &bad);
        assert_eq!(icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m)), NetRx::Drop);
        assert_eq!(net.mib.get(IcmpMib::InErrors), 1);
        assert_eq!(net.mib.get(IcmpMsg::In(ICMP_DEST_UNREACH)), 3);
    }

    #[test]
    fn icmp_send_never_answers_errors_fragments_or_broadcasts() {
        let (net, ipv4) = stack();
        let send = |skb: &SkBuff| icmp_send(&net, &ipv4, skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
        // An ICMP error about an ICMP error.
        let e = icmp_build(ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0, &[0u8; 28]);
        send(&rx_skb(PEER, US, IPPROTO_ICMP, &e));
        // A datagram to broadcast, from broadcast, from zero.
        send(&rx_skb(PEER, Ipv4Addr::BROADCAST, 17, &[0u8; 8]));
        send(&rx_skb(Ipv4Addr::BROADCAST, US, 17, &[0u8; 8]));
        send(&rx_skb(Ipv4Addr::UNSPECIFIED, US, 17, &[0u8; 8]));
        // A non-first fragment.
        let mut frag = rx_skb(PEER, US, 17, &[0u8; 8]);
        frag.network_header_mut()[7] = 1;
        send(&frag);
        // A frame for another host.
        let mut other = rx_skb(PEER, US, 17, &[0u8; 8]);
        other.pkt_type = PktType::OtherHost;
        send(&other);
        // None of these even reached the rate limiter.
        assert_eq!(ipv4.icmp.global_credit(), 0);
        assert_eq!(net.mib.get(IcmpMib::OutMsgs), 0);
        // An echo request may be answered with an error: it reaches the
        // limiter (and then finds no route in this empty namespace).
        let q = echo_request_bytes();
        send(&rx_skb(PEER, US, IPPROTO_ICMP, &q));
        assert_eq!(ipv4.icmp.global_credit(), 50);
        assert_eq!(net.mib.get(IcmpMib::OutMsgs), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn icmp_rcv_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..64), type_ in 0u8..20, code in 0u8..16) {
            let (net, ipv4) = stack();
            // Valid checksum, random contents: every handler runs.
            let m = icmp_build(type_, code, u32::from_be_bytes([body.first().copied().unwrap_or(0), 0, 0, 1]), &body);
            let _ = icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &m));
            let _ = icmp_rcv(&net, &ipv4, rx_skb(PEER, US, IPPROTO_ICMP, &body));
            let skb = rx_skb(PEER, US, 17, &body);
            icmp_send(&net, &ipv4, &skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            if let Some(h) = IcmpHdr::new_checked(&bytes[..]) {
                let _ = (h.type_(), h.code(), h.checksum(), h.id(), h.sequence(), h.mtu(), h.gateway(), h.csum_ok());
                let _ = iph_parse(h.payload());
            }
            let _ = iph_parse(&bytes);
        }
    }
}
