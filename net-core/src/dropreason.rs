//! Why a packet was dropped.
//!
//! Mirrors `enum skb_drop_reason` (include/net/dropreason-core.h). Linux hands
//! the reason to `kfree_skb_reason()`, which fires the `skb:kfree_skb`
//! tracepoint that `perf` and `dropwatch` read; linnet counts each reason per
//! namespace instead (see [`crate::Net::kfree_skb_reason`]) so a test or the
//! lab can ask "how many frames died of `IP_CSUM`?". We keep the subset of
//! reasons that IPv4, ARP, UDP, TCP and devices use, with Linux's names.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! reasons {
    ($($variant:ident => $linux:literal, $doc:literal;)*) => {
        /// A drop reason, named as in `include/net/dropreason-core.h`.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[repr(u16)]
        pub enum SkbDropReason {
            $(
                #[doc = $doc]
                #[doc(alias = $linux)]
                $variant,
            )*
        }

        impl SkbDropReason {
            /// Every reason, in Linux's order.
            pub const ALL: &'static [SkbDropReason] = &[$(SkbDropReason::$variant,)*];

            /// The name without the `SKB_DROP_REASON_` prefix, as
            /// `perf script` prints it: `"NO_SOCKET"`.
            pub fn as_str(self) -> &'static str {
                match self { $(SkbDropReason::$variant => $linux,)* }
            }
        }
    };
}

reasons! {
    NotSpecified => "NOT_SPECIFIED", "Drop reason not specified.";
    NoSocket => "NO_SOCKET", "No socket wanted the packet (e.g. no listener on the port).";
    SocketClose => "SOCKET_CLOSE", "The socket was closed with the packet queued.";
    SocketFilter => "SOCKET_FILTER", "Dropped by a socket filter.";
    SocketRcvbuff => "SOCKET_RCVBUFF", "The socket receive buffer was full.";
    PktTooSmall => "PKT_TOO_SMALL", "Shorter than its headers say.";
    TcpCsum => "TCP_CSUM", "TCP checksum error.";
    UdpCsum => "UDP_CSUM", "UDP checksum error.";
    Otherhost => "OTHERHOST", "Addressed to another host's MAC (PACKET_OTHERHOST).";
    IpCsum => "IP_CSUM", "IPv4 header checksum error.";
    IpInhdr => "IP_INHDR", "IPv4 header invalid (version, IHL, length).";
    IpRpfilter => "IP_RPFILTER", "Reverse-path filter rejected the source.";
    IpNoproto => "IP_NOPROTO", "No protocol handler for the IPv4 protocol number.";
    ProtoMem => "PROTO_MEM", "Protocol memory limit reached.";
    SocketBacklog => "SOCKET_BACKLOG", "The socket backlog was full.";
    TcpFlags => "TCP_FLAGS", "Invalid combination of TCP flags.";
    TcpAbortOnData => "TCP_ABORT_ON_DATA", "Data arrived on a socket that was closed for reading.";
    TcpZerowindow => "TCP_ZEROWINDOW", "Data arrived while our advertised window was zero.";
    TcpOldData => "TCP_OLD_DATA", "Data entirely before rcv_nxt (a duplicate).";
    TcpOverwindow => "TCP_OVERWINDOW", "Data beyond the advertised window.";
    TcpOfomerge => "TCP_OFOMERGE", "Out-of-order data covered by data already queued.";
    TcpRfc7323Paws => "TCP_RFC7323_PAWS", "PAWS check failed (an old timestamp).";
    TcpListenOverflow => "TCP_LISTEN_OVERFLOW", "The listener's accept queue was full.";
    TcpOldSequence => "TCP_OLD_SEQUENCE", "Sequence number before the window.";
    TcpInvalidSequence => "TCP_INVALID_SEQUENCE", "Sequence number outside the window.";
    TcpInvalidAckSequence => "TCP_INVALID_ACK_SEQUENCE", "ACK of something never sent.";
    TcpReset => "TCP_RESET", "An RST was received.";
    TcpInvalidSyn => "TCP_INVALID_SYN", "A SYN where none is allowed.";
    TcpClose => "TCP_CLOSE", "The socket is in CLOSE state.";
    TcpOldAck => "TCP_OLD_ACK", "An ACK older than snd_una.";
    TcpTooOldAck => "TCP_TOO_OLD_ACK", "An ACK far older than snd_una.";
    TcpAckUnsentData => "TCP_ACK_UNSENT_DATA", "An ACK for data not yet sent.";
    TcpOfoQueuePrune => "TCP_OFO_QUEUE_PRUNE", "Pruned from the out-of-order queue under memory pressure.";
    TcpOfoDrop => "TCP_OFO_DROP", "Out-of-order data dropped for lack of memory.";
    IpOutnoroutes => "IP_OUTNOROUTES", "No route for an outgoing packet.";
    NeighCreatefail => "NEIGH_CREATEFAIL", "Could not create a neighbour entry.";
    NeighFailed => "NEIGH_FAILED", "Neighbour resolution failed.";
    NeighQueuefull => "NEIGH_QUEUEFULL", "Too many packets queued on an unresolved neighbour.";
    NeighDead => "NEIGH_DEAD", "The neighbour entry was dead.";
    QdiscDrop => "QDISC_DROP", "The device queue (qdisc) was full.";
    CpuBacklog => "CPU_BACKLOG", "The per-cpu backlog was full (netdev_max_backlog).";
    UnhandledProto => "UNHANDLED_PROTO", "No packet_type wanted the EtherType.";
    SkbCsum => "SKB_CSUM", "Checksum computation failed.";
    DevHdr => "DEV_HDR", "The device header was invalid.";
    DevReady => "DEV_READY", "The device was not up.";
    FullRing => "FULL_RING", "The device ring was full.";
    Nomem => "NOMEM", "Out of memory.";
    HdrTrunc => "HDR_TRUNC", "A header was truncated.";
    IcmpCsum => "ICMP_CSUM", "ICMP checksum error.";
    InvalidProto => "INVALID_PROTO", "The protocol was invalid.";
    IpInaddrerrors => "IP_INADDRERRORS", "Invalid destination address (e.g. martian).";
    IpInnoroutes => "IP_INNOROUTES", "No route for an incoming packet.";
    IpLocalSource => "IP_LOCAL_SOURCE", "The source address is one of ours.";
    IpInvalidSource => "IP_INVALID_SOURCE", "The source address is invalid (martian).";
    PktTooBig => "PKT_TOO_BIG", "Larger than the MTU with DF set, or than 64 KiB.";
    DupFrag => "DUP_FRAG", "A duplicate IP fragment.";
    FragReasmTimeout => "FRAG_REASM_TIMEOUT", "Reassembly timed out (ipfrag_time).";
    FragTooFar => "FRAG_TOO_FAR", "A fragment too far ahead (ipfrag_max_dist).";
    QueuePurge => "QUEUE_PURGE", "Purged from a queue (e.g. on close).";
}

/// Per-namespace drop counters, one per [`SkbDropReason`].
///
/// Linux has no such table: it emits a tracepoint and lets `dropwatch` count.
pub struct DropCounters {
    counts: Box<[AtomicU64]>,
}

impl DropCounters {
    /// All counters at zero.
    pub fn new() -> Self {
        DropCounters { counts: SkbDropReason::ALL.iter().map(|_| AtomicU64::new(0)).collect() }
    }

    /// Count one drop.
    pub fn inc(&self, reason: SkbDropReason) {
        self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many drops of this reason so far.
    pub fn get(&self, reason: SkbDropReason) -> u64 {
        self.counts[reason as usize].load(Ordering::Relaxed)
    }

    /// The non-zero counters, in Linux's order.
    pub fn nonzero(&self) -> Vec<(SkbDropReason, u64)> {
        SkbDropReason::ALL.iter().map(|&r| (r, self.get(r))).filter(|&(_, n)| n != 0).collect()
    }
}

impl Default for DropCounters {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_counting() {
        assert_eq!(SkbDropReason::NoSocket.as_str(), "NO_SOCKET");
        assert_eq!(SkbDropReason::ALL[0], SkbDropReason::NotSpecified);
        let d = DropCounters::new();
        d.inc(SkbDropReason::IpCsum);
        d.inc(SkbDropReason::IpCsum);
        assert_eq!(d.get(SkbDropReason::IpCsum), 2);
        assert_eq!(d.nonzero(), vec![(SkbDropReason::IpCsum, 2)]);
    }
}
