//! SNMP MIB counters: what `/proc/net/snmp`, `/proc/net/netstat` and `nstat`
//! show.
//!
//! Mirrors `include/net/snmp.h`, `include/uapi/linux/snmp.h` and the
//! printing half of `net/ipv4/proc.c` in **Linux 6.18**, plus the output
//! format of iproute2's `nstat` (`misc/nstat.c`). The counter names, their
//! groups and their order are Linux 6.18's exactly (`snmp4_ipstats_list`,
//! `icmp_put()`, `snmp4_tcp_list`, `snmp4_udp_list`, `snmp4_net_list`,
//! `snmp4_ipextstats_list`), so a linnet host's counters can be read side by
//! side with a real one. Read RFC 1213 (MIB-II), RFC 4293 (IP-MIB) and
//! RFC 4022 (TCP-MIB) for what the standard ones mean;
//! `Documentation/networking/snmp_counter.rst` explains many `TcpExt` ones.
//!
//! # The groups
//!
//! | `/proc` prefix | enum | Linux enum | Linux array |
//! |---|---|---|---|
//! | `Ip:` | [`IpstatsMib`] | `IPSTATS_MIB_*` | `net->mib.ip_statistics` |
//! | `Icmp:` | [`IcmpMib`] (+ per-type columns from `IcmpMsg`) | `ICMP_MIB_*` | `icmp_statistics` |
//! | `IcmpMsg:` | [`IcmpMsg`] | `ICMPMSG_MIB_MAX` = 512 | `icmpmsg_statistics` |
//! | `Tcp:` | [`TcpMib`] | `TCP_MIB_*` | `tcp_statistics` |
//! | `Udp:` | [`UdpMib`] | `UDP_MIB_*` | `udp_statistics` |
//! | `TcpExt:` | [`LinuxMib`] | `LINUX_MIB_*` | `net_statistics` |
//! | `IpExt:` | [`IpExtMib`] | `IPSTATS_MIB_*` | `ip_statistics` (same array as `Ip:`) |
//!
//! Each variant is named exactly as `/proc` prints it, so `TcpExt:
//! ListenOverflows` is [`LinuxMib::ListenOverflows`], and carries the Linux
//! enum name as a doc alias (`LINUX_MIB_LISTENOVERFLOWS`) for rustdoc search.
//!
//! # Counting
//!
//! Every layer counts through one [`NetMibs`] per namespace (Linux's `struct
//! netns_mib`): `net.mib.inc(LinuxMib::ListenOverflows)` is Linux's
//! `__NET_INC_STATS(net, LINUX_MIB_LISTENOVERFLOWS)`, `net.mib.add(
//! IpExtMib::InOctets, len)` is `IP_ADD_STATS`, `net.mib.dec(TcpMib::CurrEstab)`
//! is `TCP_DEC_STATS`. Linux's `__X` (BH, preemption off) and `X` variants
//! differ only in how they reach the per-cpu copy; here both are one relaxed
//! atomic add.
//!
//! # Where we differ
//!
//! - Per-CPU copies summed on read (`snmp_fold_field`), as in Linux, but
//!   with threads for CPUs: a thread holding one of
//!   [`NR_CPUS`](crate::percpu::NR_CPUS) slots updates its own copy with a
//!   plain load and store (`this_cpu_add()`); threads past that share one
//!   copy and add atomically (see [`crate::percpu`]).
//! - `Ip: Forwarding DefaultTTL` are not counters in Linux either (they are
//!   `IPV4_DEVCONF_ALL(net, FORWARDING)` and `sysctl_ip_default_ttl`): the
//!   ipv4 layer fills [`MibSnapshot::ip_forwarding`] and
//!   [`MibSnapshot::ip_default_ttl`] before printing.
//! - linnet has no UDP-Lite and no MPTCP: the `UdpLite:` lines print Linux's
//!   names with zeros, and there is no `MPTcpExt:` section.
//! - No IPv6 (`/proc/net/snmp6`, `Ip6*` in nstat).

use crate::percpu::PerCpuU64s;
use std::borrow::Cow;
use std::fmt::Write as _;

/// A counter that lives in [`NetMibs`]: a variant of one of the MIB enums,
/// or an [`IcmpMsg`].
pub trait MibItem: Copy {
    /// The counter's position in [`NetMibs`]' flat array (its group's
    /// offset plus its place in the group).
    fn mib_index(self) -> usize;
}

/// A section of `/proc/net/snmp` or `/proc/net/netstat`, named by the prefix
/// its two lines start with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MibGroup {
    /// `Ip:` ([`IpstatsMib`]).
    Ip,
    /// `Icmp:` ([`IcmpMib`] and per-type columns).
    Icmp,
    /// `IcmpMsg:` ([`IcmpMsg`]).
    IcmpMsg,
    /// `Tcp:` ([`TcpMib`]).
    Tcp,
    /// `Udp:` ([`UdpMib`]).
    Udp,
    /// `UdpLite:` (always zero here).
    UdpLite,
    /// `TcpExt:` ([`LinuxMib`]).
    TcpExt,
    /// `IpExt:` ([`IpExtMib`]).
    IpExt,
}

impl MibGroup {
    /// The prefix before the colon, which nstat also puts in front of each
    /// field name (`TcpExt` + `ListenOverflows`).
    pub const fn prefix(self) -> &'static str {
        match self {
            MibGroup::Ip => "Ip",
            MibGroup::Icmp => "Icmp",
            MibGroup::IcmpMsg => "IcmpMsg",
            MibGroup::Tcp => "Tcp",
            MibGroup::Udp => "Udp",
            MibGroup::UdpLite => "UdpLite",
            MibGroup::TcpExt => "TcpExt",
            MibGroup::IpExt => "IpExt",
        }
    }
}

/// Generates a MIB enum whose variants are the `/proc` names, in `/proc`
/// order, each with its Linux enum name as a doc alias, plus the name table.
macro_rules! mib_group {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $group:ident at $offset:ident {
            $( $variant:ident = $alias:literal, $doc:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[allow(clippy::upper_case_acronyms)] // `TW`: the /proc name, kept.
        #[repr(u16)]
        pub enum $name {
            $(
                #[doc = $doc]
                #[doc(alias = $alias)]
                $variant,
            )*
        }

        impl $name {
            /// Every counter of the group, in `/proc` order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// How many counters the group has.
            pub const COUNT: usize = Self::ALL.len();
            /// The `/proc` section the group prints in.
            pub const GROUP: MibGroup = MibGroup::$group;

            /// The name `/proc` prints (`"ListenOverflows"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)*
                }
            }

            /// The Linux enum constant (`"LINUX_MIB_LISTENOVERFLOWS"`).
            pub const fn linux_name(self) -> &'static str {
                match self {
                    $($name::$variant => $alias,)*
                }
            }
        }

        impl MibItem for $name {
            #[inline]
            fn mib_index(self) -> usize {
                $offset + self as usize
            }
        }
    };
}

mib_group! {
    /// `Ip:` in `/proc/net/snmp`: `snmp4_ipstats_list` (RFC 1213 / RFC 4293
    /// IP group). `Forwarding` and `DefaultTTL`, printed first, are settings,
    /// not counters: see [`MibSnapshot::ip_forwarding`].
    pub enum IpstatsMib: Ip at IP_OFF {
        InReceives = "IPSTATS_MIB_INPKTS", "Datagrams received from devices, including those in error (`ip_rcv`).";
        InHdrErrors = "IPSTATS_MIB_INHDRERRORS", "Datagrams dropped for a bad header: version, IHL, length, checksum, TTL.";
        InAddrErrors = "IPSTATS_MIB_INADDRERRORS", "Datagrams dropped because the destination address is not valid here (e.g. martians).";
        ForwDatagrams = "IPSTATS_MIB_OUTFORWDATAGRAMS", "Datagrams forwarded.";
        InUnknownProtos = "IPSTATS_MIB_INUNKNOWNPROTOS", "Datagrams for us whose protocol no handler wanted.";
        InDiscards = "IPSTATS_MIB_INDISCARDS", "Good datagrams discarded on input (e.g. no memory).";
        InDelivers = "IPSTATS_MIB_INDELIVERS", "Datagrams delivered to a transport protocol, ICMP included.";
        OutRequests = "IPSTATS_MIB_OUTREQUESTS", "Datagrams the local stack asked IP to send (forwarding excluded).";
        OutDiscards = "IPSTATS_MIB_OUTDISCARDS", "Good datagrams discarded on output (e.g. no memory, qdisc drop).";
        OutNoRoutes = "IPSTATS_MIB_OUTNOROUTES", "Datagrams dropped on output for lack of a route.";
        ReasmTimeout = "IPSTATS_MIB_REASMTIMEOUT", "Reassemblies abandoned on timeout (`ipfrag_time`).";
        ReasmReqds = "IPSTATS_MIB_REASMREQDS", "Fragments received that needed reassembly.";
        ReasmOKs = "IPSTATS_MIB_REASMOKS", "Datagrams successfully reassembled.";
        ReasmFails = "IPSTATS_MIB_REASMFAILS", "Reassembly failures of any kind.";
        FragOKs = "IPSTATS_MIB_FRAGOKS", "Datagrams successfully fragmented.";
        FragFails = "IPSTATS_MIB_FRAGFAILS", "Datagrams that needed fragmenting but could not be (DF set).";
        FragCreates = "IPSTATS_MIB_FRAGCREATES", "Fragments generated.";
        OutTransmits = "IPSTATS_MIB_OUTPKTS", "Datagrams handed to the neighbour layer, forwarded ones included.";
    }
}

mib_group! {
    /// `Icmp:` counters in `/proc/net/snmp` (`icmp_put()`). The per-type
    /// columns `/proc` prints between them (`InDestUnreachs`, `OutEchoReps`
    /// …) are not separate counters: they are the [`IcmpMsg`] counters of
    /// the matching types.
    pub enum IcmpMib: Icmp at ICMP_OFF {
        InMsgs = "ICMP_MIB_INMSGS", "ICMP messages received, erroneous ones included.";
        InErrors = "ICMP_MIB_INERRORS", "ICMP messages received with errors (too short, bad checksum …).";
        InCsumErrors = "ICMP_MIB_CSUMERRORS", "ICMP messages received with a bad checksum.";
        OutMsgs = "ICMP_MIB_OUTMSGS", "ICMP messages sent, failed ones included.";
        OutErrors = "ICMP_MIB_OUTERRORS", "ICMP messages not sent because of an error.";
        OutRateLimitGlobal = "ICMP_MIB_RATELIMITGLOBAL", "ICMP messages suppressed by the global rate limit (`icmp_msgs_per_sec`).";
        OutRateLimitHost = "ICMP_MIB_RATELIMITHOST", "ICMP messages suppressed by the per-destination rate limit (`icmp_ratelimit`).";
    }
}

mib_group! {
    /// `Tcp:` in `/proc/net/snmp`: `snmp4_tcp_list` (RFC 1213 / RFC 4022).
    /// The first four are constants set when the namespace is created, as
    /// Linux's `tcp_mib_init()` does.
    pub enum TcpMib: Tcp at TCP_OFF {
        RtoAlgorithm = "TCP_MIB_RTOALGORITHM", "Always 1, \"other\" (RFC 2012); set at namespace creation.";
        RtoMin = "TCP_MIB_RTOMIN", "`TCP_RTO_MIN` in milliseconds (200); set at namespace creation.";
        RtoMax = "TCP_MIB_RTOMAX", "`TCP_RTO_MAX` in milliseconds (120000); set at namespace creation.";
        MaxConn = "TCP_MIB_MAXCONN", "-1, \"dynamic\" (RFC 2012): stored as `u64::MAX`, printed signed.";
        ActiveOpens = "TCP_MIB_ACTIVEOPENS", "Transitions CLOSED → SYN_SENT (`connect()`).";
        PassiveOpens = "TCP_MIB_PASSIVEOPENS", "Transitions LISTEN → SYN_RECV (a child socket created).";
        AttemptFails = "TCP_MIB_ATTEMPTFAILS", "Transitions SYN_SENT/SYN_RECV → CLOSED, and SYN_RECV → LISTEN.";
        EstabResets = "TCP_MIB_ESTABRESETS", "Transitions ESTABLISHED/CLOSE_WAIT → CLOSED by a reset.";
        CurrEstab = "TCP_MIB_CURRESTAB", "Connections now in ESTABLISHED or CLOSE_WAIT: a gauge, goes down with `dec`.";
        InSegs = "TCP_MIB_INSEGS", "Segments received, erroneous ones included.";
        OutSegs = "TCP_MIB_OUTSEGS", "Segments sent, retransmissions excluded.";
        RetransSegs = "TCP_MIB_RETRANSSEGS", "Segments retransmitted.";
        InErrs = "TCP_MIB_INERRS", "Segments received in error (bad checksum, bad header).";
        OutRsts = "TCP_MIB_OUTRSTS", "Segments sent with RST set.";
        InCsumErrors = "TCP_MIB_CSUMERRORS", "Segments received with a bad checksum.";
    }
}

mib_group! {
    /// `Udp:` in `/proc/net/snmp`: `snmp4_udp_list` (RFC 1213 / RFC 4113).
    pub enum UdpMib: Udp at UDP_OFF {
        InDatagrams = "UDP_MIB_INDATAGRAMS", "Datagrams delivered to a socket.";
        NoPorts = "UDP_MIB_NOPORTS", "Datagrams for a port with no socket (answered with ICMP port unreachable).";
        InErrors = "UDP_MIB_INERRORS", "Datagrams that could not be delivered, other than for lack of a port.";
        OutDatagrams = "UDP_MIB_OUTDATAGRAMS", "Datagrams sent.";
        RcvbufErrors = "UDP_MIB_RCVBUFERRORS", "Datagrams dropped because the socket's receive buffer was full.";
        SndbufErrors = "UDP_MIB_SNDBUFERRORS", "Sends that failed for lack of send buffer.";
        InCsumErrors = "UDP_MIB_CSUMERRORS", "Datagrams received with a bad checksum.";
        IgnoredMulti = "UDP_MIB_IGNOREDMULTI", "Broadcast/multicast datagrams no socket wanted.";
        MemErrors = "UDP_MIB_MEMERRORS", "Datagrams dropped because UDP was over its memory limit (`udp_mem`).";
    }
}

mib_group! {
    /// `TcpExt:` in `/proc/net/netstat`: Linux's own counters,
    /// `snmp4_net_list`, all 135 of Linux 6.18, in its order. Most are TCP's;
    /// `ArpFilter`, `IPReversePathFilter` and `BusyPollRxPackets` are not.
    pub enum LinuxMib: TcpExt at LINUX_OFF {
        SyncookiesSent = "LINUX_MIB_SYNCOOKIESSENT", "SYN cookies sent in SYN-ACKs (`tcp_syncookies` and a full SYN queue).";
        SyncookiesRecv = "LINUX_MIB_SYNCOOKIESRECV", "ACKs that carried a valid SYN cookie and created a socket.";
        SyncookiesFailed = "LINUX_MIB_SYNCOOKIESFAILED", "ACKs to a listener whose SYN cookie did not check out.";
        EmbryonicRsts = "LINUX_MIB_EMBRYONICRSTS", "Resets received for a connection still in SYN_RECV (a request sock).";
        PruneCalled = "LINUX_MIB_PRUNECALLED", "Receive queue pruned because the socket ran over its receive buffer.";
        RcvPruned = "LINUX_MIB_RCVPRUNED", "Packets dropped from the receive queue by pruning (\"collapse\" was not enough).";
        OfoPruned = "LINUX_MIB_OFOPRUNED", "Packets dropped from the out-of-order queue by pruning.";
        OutOfWindowIcmps = "LINUX_MIB_OUTOFWINDOWICMPS", "ICMP errors dropped because the sequence number they quote is out of window.";
        LockDroppedIcmps = "LINUX_MIB_LOCKDROPPEDICMPS", "ICMP errors dropped because the socket was owned by the user.";
        ArpFilter = "LINUX_MIB_ARPFILTER", "ARP requests dropped by `arp_filter`.";
        TW = "LINUX_MIB_TIMEWAITED", "TCP sockets that finished TIME_WAIT (the timewait sock expired).";
        TWRecycled = "LINUX_MIB_TIMEWAITRECYCLED", "TIME_WAIT sockets reused for a new connection (`tcp_tw_reuse`).";
        TWKilled = "LINUX_MIB_TIMEWAITKILLED", "TIME_WAIT sockets killed early (e.g. by an RST, RFC 1337 aside).";
        PAWSActive = "LINUX_MIB_PAWSACTIVEREJECTED", "SYN-ACKs dropped by PAWS on an active open.";
        PAWSEstab = "LINUX_MIB_PAWSESTABREJECTED", "Segments dropped by PAWS (RFC 7323) on an established connection.";
        BeyondWindow = "LINUX_MIB_BEYOND_WINDOW", "Segments dropped because they lie beyond the receive window.";
        TSEcrRejected = "LINUX_MIB_TSECRREJECTED", "Segments dropped because their TSecr is not a timestamp we sent.";
        PAWSOldAck = "LINUX_MIB_PAWS_OLD_ACK", "Segments dropped by PAWS that were old pure ACKs.";
        PAWSTimewait = "LINUX_MIB_PAWS_TW_REJECTED", "Segments dropped by PAWS on a TIME_WAIT socket.";
        DelayedACKs = "LINUX_MIB_DELAYEDACKS", "Delayed ACKs sent when the delayed-ACK timer fired.";
        DelayedACKLocked = "LINUX_MIB_DELAYEDACKLOCKED", "Delayed-ACK timer fired while the user held the socket; ACK deferred.";
        DelayedACKLost = "LINUX_MIB_DELAYEDACKLOST", "Duplicate data received when an ACK was expected to be lost: immediate ACK sent.";
        ListenOverflows = "LINUX_MIB_LISTENOVERFLOWS", "SYNs or final ACKs dropped because the accept queue was full.";
        ListenDrops = "LINUX_MIB_LISTENDROPS", "All drops at a listener (`ListenOverflows` and every other reason).";
        TCPHPHits = "LINUX_MIB_TCPHPHITS", "Data segments taken by the header-prediction fast path.";
        TCPPureAcks = "LINUX_MIB_TCPPUREACKS", "Pure ACKs processed on the slow path.";
        TCPHPAcks = "LINUX_MIB_TCPHPACKS", "Pure ACKs taken by the header-prediction fast path.";
        TCPRenoRecovery = "LINUX_MIB_TCPRENORECOVERY", "Fast recoveries entered without SACK (NewReno).";
        TCPSackRecovery = "LINUX_MIB_TCPSACKRECOVERY", "Fast recoveries entered with SACK.";
        TCPSACKReneging = "LINUX_MIB_TCPSACKRENEGING", "Receivers detected reneging on SACKed data.";
        TCPSACKReorder = "LINUX_MIB_TCPSACKREORDER", "Reordering detected from SACK.";
        TCPRenoReorder = "LINUX_MIB_TCPRENOREORDER", "Reordering detected by NewReno (duplicate ACKs).";
        TCPTSReorder = "LINUX_MIB_TCPTSREORDER", "Reordering detected from timestamps.";
        TCPFullUndo = "LINUX_MIB_TCPFULLUNDO", "Congestion window fully restored after a spurious retransmission.";
        TCPPartialUndo = "LINUX_MIB_TCPPARTIALUNDO", "Congestion window partly restored (partial ACKs).";
        TCPDSACKUndo = "LINUX_MIB_TCPDSACKUNDO", "Recoveries undone because D-SACKs showed every retransmission spurious.";
        TCPLossUndo = "LINUX_MIB_TCPLOSSUNDO", "Loss recoveries (RTO) undone as spurious.";
        TCPLostRetransmit = "LINUX_MIB_TCPLOSTRETRANSMIT", "Retransmissions that were themselves lost.";
        TCPRenoFailures = "LINUX_MIB_TCPRENOFAILURES", "Timeouts during NewReno fast recovery.";
        TCPSackFailures = "LINUX_MIB_TCPSACKFAILURES", "Timeouts during SACK fast recovery.";
        TCPLossFailures = "LINUX_MIB_TCPLOSSFAILURES", "Timeouts during loss (RTO) recovery.";
        TCPFastRetrans = "LINUX_MIB_TCPFASTRETRANS", "Segments fast-retransmitted.";
        TCPSlowStartRetrans = "LINUX_MIB_TCPSLOWSTARTRETRANS", "Segments retransmitted in slow start after an RTO.";
        TCPTimeouts = "LINUX_MIB_TCPTIMEOUTS", "Retransmission timeouts (RTO) that fired.";
        TCPLossProbes = "LINUX_MIB_TCPLOSSPROBES", "Tail loss probes sent (RFC 8985 TLP).";
        TCPLossProbeRecovery = "LINUX_MIB_TCPLOSSPROBERECOVERY", "Losses repaired by a tail loss probe.";
        TCPRenoRecoveryFail = "LINUX_MIB_TCPRENORECOVERYFAIL", "NewReno recoveries that ended in an RTO.";
        TCPSackRecoveryFail = "LINUX_MIB_TCPSACKRECOVERYFAIL", "SACK recoveries that ended in an RTO.";
        TCPRcvCollapsed = "LINUX_MIB_TCPRCVCOLLAPSED", "Packets collapsed in the receive queue to save memory.";
        TCPBacklogCoalesce = "LINUX_MIB_TCPBACKLOGCOALESCE", "Segments coalesced into the tail of the socket backlog.";
        TCPDSACKOldSent = "LINUX_MIB_TCPDSACKOLDSENT", "D-SACKs sent for old duplicate data.";
        TCPDSACKOfoSent = "LINUX_MIB_TCPDSACKOFOSENT", "D-SACKs sent for out-of-order duplicate data.";
        TCPDSACKRecv = "LINUX_MIB_TCPDSACKRECV", "D-SACK blocks received.";
        TCPDSACKOfoRecv = "LINUX_MIB_TCPDSACKOFORECV", "D-SACK blocks received for out-of-order data.";
        TCPAbortOnData = "LINUX_MIB_TCPABORTONDATA", "Connections reset because data arrived after the user closed.";
        TCPAbortOnClose = "LINUX_MIB_TCPABORTONCLOSE", "Connections reset because the user closed with unread data.";
        TCPAbortOnMemory = "LINUX_MIB_TCPABORTONMEMORY", "Orphaned connections reset for lack of memory or too many orphans (`tcp_max_orphans`).";
        TCPAbortOnTimeout = "LINUX_MIB_TCPABORTONTIMEOUT", "Connections reset after their retransmission or keepalive retries ran out.";
        TCPAbortOnLinger = "LINUX_MIB_TCPABORTONLINGER", "Connections reset at close because of `SO_LINGER` 0 or an expired `TCP_LINGER2`.";
        TCPAbortFailed = "LINUX_MIB_TCPABORTFAILED", "Resets that could not be sent (no memory).";
        TCPMemoryPressures = "LINUX_MIB_TCPMEMORYPRESSURES", "Times TCP entered memory pressure (`tcp_mem`).";
        TCPMemoryPressuresChrono = "LINUX_MIB_TCPMEMORYPRESSURESCHRONO", "Milliseconds spent under TCP memory pressure.";
        TCPSACKDiscard = "LINUX_MIB_TCPSACKDISCARD", "SACK blocks discarded as invalid.";
        TCPDSACKIgnoredOld = "LINUX_MIB_TCPDSACKIGNOREDOLD", "D-SACK blocks ignored: too old.";
        TCPDSACKIgnoredNoUndo = "LINUX_MIB_TCPDSACKIGNOREDNOUNDO", "D-SACK blocks ignored: no undo possible.";
        TCPSpuriousRTOs = "LINUX_MIB_TCPSPURIOUSRTOS", "RTOs found spurious by F-RTO (RFC 5682).";
        TCPMD5NotFound = "LINUX_MIB_TCPMD5NOTFOUND", "Segments dropped: MD5 signature expected but missing.";
        TCPMD5Unexpected = "LINUX_MIB_TCPMD5UNEXPECTED", "Segments dropped: MD5 signature present but not expected.";
        TCPMD5Failure = "LINUX_MIB_TCPMD5FAILURE", "Segments dropped: MD5 signature wrong.";
        TCPSackShifted = "LINUX_MIB_SACKSHIFTED", "SACKed skbs shifted into the previous skb.";
        TCPSackMerged = "LINUX_MIB_SACKMERGED", "SACKed skbs merged into the previous skb.";
        TCPSackShiftFallback = "LINUX_MIB_SACKSHIFTFALLBACK", "SACK shifting not possible; fell back to the slow path.";
        TCPBacklogDrop = "LINUX_MIB_TCPBACKLOGDROP", "Segments dropped because the socket backlog was full.";
        PFMemallocDrop = "LINUX_MIB_PFMEMALLOCDROP", "Segments dropped because they came from pfmemalloc reserves.";
        TCPMinTTLDrop = "LINUX_MIB_TCPMINTTLDROP", "Segments dropped by `IP_MINTTL` (RFC 5082).";
        TCPDeferAcceptDrop = "LINUX_MIB_TCPDEFERACCEPTDROP", "Final ACKs without data dropped by `TCP_DEFER_ACCEPT`.";
        IPReversePathFilter = "LINUX_MIB_IPRPFILTER", "Packets dropped by the reverse-path filter (`rp_filter`).";
        TCPTimeWaitOverflow = "LINUX_MIB_TCPTIMEWAITOVERFLOW", "Sockets that skipped TIME_WAIT because `tcp_max_tw_buckets` was reached.";
        TCPReqQFullDoCookies = "LINUX_MIB_TCPREQQFULLDOCOOKIES", "SYNs answered with a cookie because the SYN queue was full.";
        TCPReqQFullDrop = "LINUX_MIB_TCPREQQFULLDROP", "SYNs dropped because the SYN queue was full and cookies were off.";
        TCPRetransFail = "LINUX_MIB_TCPRETRANSFAIL", "Retransmissions that failed to be queued to the device.";
        TCPRcvCoalesce = "LINUX_MIB_TCPRCVCOALESCE", "Segments coalesced into the previous skb of the receive queue.";
        TCPOFOQueue = "LINUX_MIB_TCPOFOQUEUE", "Segments put on the out-of-order queue.";
        TCPOFODrop = "LINUX_MIB_TCPOFODROP", "Out-of-order segments dropped (no receive memory).";
        TCPOFOMerge = "LINUX_MIB_TCPOFOMERGE", "Out-of-order segments merged with (overlapping) ones already queued.";
        TCPChallengeACK = "LINUX_MIB_TCPCHALLENGEACK", "Challenge ACKs sent (RFC 5961), including those for SYNs.";
        TCPSYNChallenge = "LINUX_MIB_TCPSYNCHALLENGE", "Challenge ACKs sent in answer to a SYN on a synchronized connection.";
        TCPFastOpenActive = "LINUX_MIB_TCPFASTOPENACTIVE", "Active opens that sent data in the SYN (TFO).";
        TCPFastOpenActiveFail = "LINUX_MIB_TCPFASTOPENACTIVEFAIL", "TFO active opens whose SYN data was not acknowledged.";
        TCPFastOpenPassive = "LINUX_MIB_TCPFASTOPENPASSIVE", "Passive opens that accepted data in the SYN (TFO).";
        TCPFastOpenPassiveFail = "LINUX_MIB_TCPFASTOPENPASSIVEFAIL", "TFO passive opens that failed.";
        TCPFastOpenListenOverflow = "LINUX_MIB_TCPFASTOPENLISTENOVERFLOW", "TFO requests refused: too many pending TFO connections.";
        TCPFastOpenCookieReqd = "LINUX_MIB_TCPFASTOPENCOOKIEREQD", "SYNs that asked for a TFO cookie.";
        TCPFastOpenBlackhole = "LINUX_MIB_TCPFASTOPENBLACKHOLE", "TFO disabled after a suspected middlebox black hole.";
        TCPSpuriousRtxHostQueues = "LINUX_MIB_TCPSPURIOUS_RTX_HOSTQUEUES", "Retransmissions skipped because the original was still in a host queue.";
        BusyPollRxPackets = "LINUX_MIB_BUSYPOLLRXPACKETS", "Packets received by busy polling.";
        TCPAutoCorking = "LINUX_MIB_TCPAUTOCORKING", "Sends held back by autocorking.";
        TCPFromZeroWindowAdv = "LINUX_MIB_TCPFROMZEROWINDOWADV", "Times we advertised a nonzero window after a zero one.";
        TCPToZeroWindowAdv = "LINUX_MIB_TCPTOZEROWINDOWADV", "Times we started advertising a zero window.";
        TCPWantZeroWindowAdv = "LINUX_MIB_TCPWANTZEROWINDOWADV", "Times the window we computed was zero (before rounding).";
        TCPSynRetrans = "LINUX_MIB_TCPSYNRETRANS", "SYNs and SYN-ACKs retransmitted.";
        TCPOrigDataSent = "LINUX_MIB_TCPORIGDATASENT", "Segments sent with new data (not retransmissions).";
        TCPHystartTrainDetect = "LINUX_MIB_TCPHYSTARTTRAINDETECT", "HyStart ACK-train detections (CUBIC left slow start).";
        TCPHystartTrainCwnd = "LINUX_MIB_TCPHYSTARTTRAINCWND", "Sum of cwnd at HyStart ACK-train detections.";
        TCPHystartDelayDetect = "LINUX_MIB_TCPHYSTARTDELAYDETECT", "HyStart delay detections (CUBIC left slow start).";
        TCPHystartDelayCwnd = "LINUX_MIB_TCPHYSTARTDELAYCWND", "Sum of cwnd at HyStart delay detections.";
        TCPACKSkippedSynRecv = "LINUX_MIB_TCPACKSKIPPEDSYNRECV", "Out-of-window ACKs not sent in SYN_RECV (rate limited).";
        TCPACKSkippedPAWS = "LINUX_MIB_TCPACKSKIPPEDPAWS", "Duplicate ACKs for PAWS-rejected segments not sent (rate limited).";
        TCPACKSkippedSeq = "LINUX_MIB_TCPACKSKIPPEDSEQ", "Duplicate ACKs for out-of-window segments not sent (rate limited).";
        TCPACKSkippedFinWait2 = "LINUX_MIB_TCPACKSKIPPEDFINWAIT2", "Out-of-window ACKs not sent in FIN_WAIT2 (rate limited).";
        TCPACKSkippedTimeWait = "LINUX_MIB_TCPACKSKIPPEDTIMEWAIT", "Out-of-window ACKs not sent in TIME_WAIT (rate limited).";
        TCPACKSkippedChallenge = "LINUX_MIB_TCPACKSKIPPEDCHALLENGE", "Challenge ACKs not sent (rate limited).";
        TCPWinProbe = "LINUX_MIB_TCPWINPROBE", "Zero-window probes sent.";
        TCPKeepAlive = "LINUX_MIB_TCPKEEPALIVE", "Keepalive probes sent.";
        TCPMTUPFail = "LINUX_MIB_TCPMTUPFAIL", "Path MTU probes that failed.";
        TCPMTUPSuccess = "LINUX_MIB_TCPMTUPSUCCESS", "Path MTU probes that succeeded.";
        TCPDelivered = "LINUX_MIB_TCPDELIVERED", "Segments delivered to the peer (acked), for rate sampling.";
        TCPDeliveredCE = "LINUX_MIB_TCPDELIVEREDCE", "Delivered segments that carried an ECN CE mark.";
        TCPAckCompressed = "LINUX_MIB_TCPACKCOMPRESSED", "ACKs compressed (coalesced) by the receiver.";
        TCPZeroWindowDrop = "LINUX_MIB_TCPZEROWINDOWDROP", "Segments dropped because our receive window was zero.";
        TCPRcvQDrop = "LINUX_MIB_TCPRCVQDROP", "Segments dropped because the receive queue was full.";
        TCPWqueueTooBig = "LINUX_MIB_TCPWQUEUETOOBIG", "Sends refused because the write queue was too long.";
        TCPFastOpenPassiveAltKey = "LINUX_MIB_TCPFASTOPENPASSIVEALTKEY", "TFO cookies that matched the alternate key.";
        TcpTimeoutRehash = "LINUX_MIB_TCPTIMEOUTREHASH", "Flow label rehashes after an RTO.";
        TcpDuplicateDataRehash = "LINUX_MIB_TCPDUPLICATEDATAREHASH", "Flow label rehashes after duplicate data.";
        TCPDSACKRecvSegs = "LINUX_MIB_TCPDSACKRECVSEGS", "Segments covered by received D-SACK blocks.";
        TCPDSACKIgnoredDubious = "LINUX_MIB_TCPDSACKIGNOREDDUBIOUS", "D-SACK blocks ignored as dubious.";
        TCPMigrateReqSuccess = "LINUX_MIB_TCPMIGRATEREQSUCCESS", "Request socks migrated to another listener (`SO_REUSEPORT`).";
        TCPMigrateReqFailure = "LINUX_MIB_TCPMIGRATEREQFAILURE", "Request socks that could not be migrated.";
        TCPPLBRehash = "LINUX_MIB_TCPPLBREHASH", "Protective load balancing rehashes.";
        TCPAORequired = "LINUX_MIB_TCPAOREQUIRED", "Segments dropped: TCP-AO required but absent.";
        TCPAOBad = "LINUX_MIB_TCPAOBAD", "Segments dropped: TCP-AO MAC wrong.";
        TCPAOKeyNotFound = "LINUX_MIB_TCPAOKEYNOTFOUND", "Segments dropped: no TCP-AO key matched.";
        TCPAOGood = "LINUX_MIB_TCPAOGOOD", "Segments whose TCP-AO MAC verified.";
        TCPAODroppedIcmps = "LINUX_MIB_TCPAODROPPEDICMPS", "ICMP errors dropped for a TCP-AO connection.";
    }
}

mib_group! {
    /// `IpExt:` in `/proc/net/netstat`: `snmp4_ipextstats_list`, the RFC 4293
    /// counters `/proc/net/snmp` has no room for. Linux keeps them in the same
    /// array as `Ip:`.
    pub enum IpExtMib: IpExt at IPEXT_OFF {
        InNoRoutes = "IPSTATS_MIB_INNOROUTES", "Datagrams dropped on input for lack of a route.";
        InTruncatedPkts = "IPSTATS_MIB_INTRUNCATEDPKTS", "Datagrams shorter than their header's total length.";
        InMcastPkts = "IPSTATS_MIB_INMCASTPKTS", "Multicast datagrams received.";
        OutMcastPkts = "IPSTATS_MIB_OUTMCASTPKTS", "Multicast datagrams sent.";
        InBcastPkts = "IPSTATS_MIB_INBCASTPKTS", "Broadcast datagrams received.";
        OutBcastPkts = "IPSTATS_MIB_OUTBCASTPKTS", "Broadcast datagrams sent.";
        InOctets = "IPSTATS_MIB_INOCTETS", "Bytes received, IP headers included.";
        OutOctets = "IPSTATS_MIB_OUTOCTETS", "Bytes sent, IP headers included.";
        InMcastOctets = "IPSTATS_MIB_INMCASTOCTETS", "Multicast bytes received.";
        OutMcastOctets = "IPSTATS_MIB_OUTMCASTOCTETS", "Multicast bytes sent.";
        InBcastOctets = "IPSTATS_MIB_INBCASTOCTETS", "Broadcast bytes received.";
        OutBcastOctets = "IPSTATS_MIB_OUTBCASTOCTETS", "Broadcast bytes sent.";
        InCsumErrors = "IPSTATS_MIB_CSUMERRORS", "Datagrams received with a bad header checksum.";
        InNoECTPkts = "IPSTATS_MIB_NOECTPKTS", "Datagrams received with ECN field 00 (not ECN-capable).";
        InECT1Pkts = "IPSTATS_MIB_ECT1PKTS", "Datagrams received with ECN field 01 (ECT(1)).";
        InECT0Pkts = "IPSTATS_MIB_ECT0PKTS", "Datagrams received with ECN field 10 (ECT(0)).";
        InCEPkts = "IPSTATS_MIB_CEPKTS", "Datagrams received with ECN field 11 (CE, congestion experienced).";
        ReasmOverlaps = "IPSTATS_MIB_REASM_OVERLAPS", "Reassemblies dropped because fragments overlapped.";
    }
}

/// Room for every ICMP type, in and out: in-types at 0–255, out-types at
/// 256–511. Mirrors `ICMPMSG_MIB_MAX` (`__ICMPMSG_MIB_MAX`).
pub const ICMPMSG_MIB_MAX: usize = 512;

/// A per-type ICMP message counter, `IcmpMsg: InType3 OutType0 …`.
///
/// Mirrors the index into `icmpmsg_statistics`: `In(t)` is `t`, `Out(t)` is
/// `t | 0x100` (`ICMPMSGIN_INC_STATS` / `ICMPMSGOUT_INC_STATS`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IcmpMsg {
    /// Messages of this ICMP type received.
    In(u8),
    /// Messages of this ICMP type sent.
    Out(u8),
}

impl IcmpMsg {
    /// Linux's index into `icmpmsg_statistics`.
    pub const fn index(self) -> usize {
        match self {
            IcmpMsg::In(t) => t as usize,
            IcmpMsg::Out(t) => 0x100 | t as usize,
        }
    }

    /// The inverse of [`IcmpMsg::index`]; `None` past 511.
    pub const fn from_index(i: usize) -> Option<IcmpMsg> {
        match i {
            0..=0xff => Some(IcmpMsg::In(i as u8)),
            0x100..=0x1ff => Some(IcmpMsg::Out((i & 0xff) as u8)),
            _ => None,
        }
    }

    /// The name `/proc` prints: `"InType3"`, `"OutType0"`.
    pub fn name(self) -> String {
        match self {
            IcmpMsg::In(t) => format!("InType{t}"),
            IcmpMsg::Out(t) => format!("OutType{t}"),
        }
    }
}

impl MibItem for IcmpMsg {
    #[inline]
    fn mib_index(self) -> usize {
        ICMPMSG_OFF + self.index()
    }
}

/// The per-type columns of `Icmp:` (`icmpmibmap` in net/ipv4/proc.c):
/// `/proc` name suffix and ICMP type, in print order.
const ICMPMIBMAP: [(&str, &str, u8); 11] = [
    ("InDestUnreachs", "OutDestUnreachs", 3),
    ("InTimeExcds", "OutTimeExcds", 11),
    ("InParmProbs", "OutParmProbs", 12),
    ("InSrcQuenchs", "OutSrcQuenchs", 4),
    ("InRedirects", "OutRedirects", 5),
    ("InEchos", "OutEchos", 8),
    ("InEchoReps", "OutEchoReps", 0),
    ("InTimestamps", "OutTimestamps", 13),
    ("InTimestampReps", "OutTimestampReps", 14),
    ("InAddrMasks", "OutAddrMasks", 17),
    ("InAddrMaskReps", "OutAddrMaskReps", 18),
];

// Where each group starts in the flat array.
const IP_OFF: usize = 0;
const ICMP_OFF: usize = IP_OFF + IpstatsMib::COUNT;
const ICMPMSG_OFF: usize = ICMP_OFF + IcmpMib::COUNT;
const TCP_OFF: usize = ICMPMSG_OFF + ICMPMSG_MIB_MAX;
const UDP_OFF: usize = TCP_OFF + TcpMib::COUNT;
const LINUX_OFF: usize = UDP_OFF + UdpMib::COUNT;
const IPEXT_OFF: usize = LINUX_OFF + LinuxMib::COUNT;
/// Every counter of a namespace.
const NR_MIBS: usize = IPEXT_OFF + IpExtMib::COUNT;

/// `TCP_RTO_MIN` and `TCP_RTO_MAX` in milliseconds, as `tcp_mib_init()`
/// records them.
const TCP_RTO_MIN_MS: u64 = 200;
const TCP_RTO_MAX_MS: u64 = 120_000;

// ANCHOR: netns_mib
/// A namespace's counters: Linux's `struct netns_mib` (`net->mib`).
///
/// All counters sit in one flat per-CPU array, a group after another
/// (Linux has one `alloc_percpu` block per group); an update touches only
/// the calling thread's copy, without an atomic read-modify-write, and is
/// safe from any thread without a lock. Readers sum the copies: each
/// counter exactly, the set of them only approximately (a snapshot taken
/// while packets flow is not atomic across counters, as in Linux).
pub struct NetMibs {
    counters: PerCpuU64s,
}
// ANCHOR_END: netns_mib

impl NetMibs {
    /// Zeroed counters, except the four RFC 2012 constants that Linux's
    /// `tcp_mib_init()` sets when a namespace is created: `RtoAlgorithm` 1,
    /// `RtoMin` 200, `RtoMax` 120000, `MaxConn` -1.
    #[doc(alias = "ipv4_mib_init_net")]
    #[doc(alias = "tcp_mib_init")]
    pub fn new() -> Self {
        let mibs = NetMibs { counters: PerCpuU64s::new(NR_MIBS) };
        mibs.add(TcpMib::RtoAlgorithm, 1);
        mibs.add(TcpMib::RtoMin, TCP_RTO_MIN_MS);
        mibs.add(TcpMib::RtoMax, TCP_RTO_MAX_MS);
        mibs.add(TcpMib::MaxConn, u64::MAX); // TCP_ADD_STATS(net, TCP_MIB_MAXCONN, -1)
        mibs
    }

    // ANCHOR: mib_inc
    /// Adds one to a counter.
    #[doc(alias = "NET_INC_STATS")]
    #[doc(alias = "__NET_INC_STATS")]
    #[doc(alias = "TCP_INC_STATS")]
    #[doc(alias = "__TCP_INC_STATS")]
    #[doc(alias = "IP_INC_STATS")]
    #[doc(alias = "__IP_INC_STATS")]
    #[doc(alias = "UDP_INC_STATS")]
    #[doc(alias = "__UDP_INC_STATS")]
    #[doc(alias = "ICMP_INC_STATS")]
    #[doc(alias = "__ICMP_INC_STATS")]
    #[doc(alias = "SNMP_INC_STATS")]
    #[inline]
    pub fn inc<M: MibItem>(&self, item: M) {
        self.add(item, 1);
    }
    // ANCHOR_END: mib_inc

    /// Adds `n` to a counter (wrapping, as Linux's `unsigned long`s do).
    #[doc(alias = "NET_ADD_STATS")]
    #[doc(alias = "__NET_ADD_STATS")]
    #[doc(alias = "TCP_ADD_STATS")]
    #[doc(alias = "IP_ADD_STATS")]
    #[doc(alias = "__IP_ADD_STATS")]
    #[doc(alias = "SNMP_ADD_STATS")]
    #[inline]
    pub fn add<M: MibItem>(&self, item: M, n: u64) {
        self.counters.add(item.mib_index(), n);
    }

    /// Subtracts one from a counter: only gauges such as
    /// [`TcpMib::CurrEstab`] go down.
    #[doc(alias = "TCP_DEC_STATS")]
    #[doc(alias = "SNMP_DEC_STATS")]
    #[inline]
    pub fn dec<M: MibItem>(&self, item: M) {
        self.counters.add(item.mib_index(), u64::MAX); // -1, wrapping
    }

    /// Reads one counter.
    #[doc(alias = "snmp_fold_field")]
    #[inline]
    pub fn get<M: MibItem>(&self, item: M) -> u64 {
        self.counters.sum(item.mib_index())
    }

    /// Counts a received ICMP message of type `icmp_type`
    /// (`IcmpMsg: InType<n>`).
    #[doc(alias = "ICMPMSGIN_INC_STATS")]
    #[inline]
    pub fn icmpmsg_in_inc(&self, icmp_type: u8) {
        self.inc(IcmpMsg::In(icmp_type));
    }

    /// Counts a sent ICMP message of type `icmp_type`
    /// (`IcmpMsg: OutType<n>`).
    #[doc(alias = "ICMPMSGOUT_INC_STATS")]
    #[inline]
    pub fn icmpmsg_out_inc(&self, icmp_type: u8) {
        self.inc(IcmpMsg::Out(icmp_type));
    }

    /// Copies every counter, for printing or for diffing later.
    ///
    /// `Ip: Forwarding` and `DefaultTTL` start as Linux's defaults (not
    /// forwarding, 64); the ipv4 layer overwrites them from its sysctls.
    pub fn snapshot(&self) -> MibSnapshot {
        MibSnapshot {
            values: (0..NR_MIBS).map(|i| self.counters.sum(i)).collect(),
            ip_forwarding: false,
            ip_default_ttl: 64,
        }
    }
}

impl Default for NetMibs {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for NetMibs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetMibs").field("counters", &self.counters.len()).finish()
    }
}

/// One printed field: section, name, value, and where the value came from
/// (so a diff can find the same counter in an earlier snapshot).
struct Field {
    group: MibGroup,
    name: Cow<'static, str>,
    value: u64,
    slot: Option<usize>,
}

/// The fields nstat never prints: settings and gauges, not event counters
/// (`useless_numbers[]` in misc/nstat.c).
const NSTAT_USELESS: [&str; 7] = [
    "IpForwarding",
    "IpDefaultTTL",
    "TcpRtoAlgorithm",
    "TcpRtoMin",
    "TcpRtoMax",
    "TcpMaxConn",
    "TcpCurrEstab",
];

/// `icmpmsg_put()` prints at most this many `IcmpMsg` fields per line pair.
const ICMPMSG_PERLINE: usize = 16;

/// A copy of a namespace's counters at one moment, with the printers for
/// `/proc/net/snmp`, `/proc/net/netstat` and `nstat`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MibSnapshot {
    values: Box<[u64]>,
    /// `Ip: Forwarding`: `IPV4_DEVCONF_ALL(net, FORWARDING)`. Printed as 1
    /// when true, 2 when false (RFC 1213 `ipForwarding`: forwarding(1),
    /// not-forwarding(2)).
    pub ip_forwarding: bool,
    /// `Ip: DefaultTTL`: `net.ipv4.ip_default_ttl`.
    pub ip_default_ttl: u8,
}

impl MibSnapshot {
    /// One counter's value.
    pub fn get<M: MibItem>(&self, item: M) -> u64 {
        self.values[item.mib_index()]
    }

    fn group<M: MibItem + Copy>(
        &self,
        out: &mut Vec<Field>,
        group: MibGroup,
        all: &[M],
        name: fn(M) -> &'static str,
    ) {
        for &m in all {
            let slot = m.mib_index();
            out.push(Field {
                group,
                name: Cow::Borrowed(name(m)),
                value: self.values[slot],
                slot: Some(slot),
            });
        }
    }

    /// The fields of `/proc/net/snmp`, in order.
    fn snmp_fields(&self) -> Vec<Field> {
        let mut f = Vec::new();
        let setting = |name: &'static str, value: u64| Field {
            group: MibGroup::Ip,
            name: Cow::Borrowed(name),
            value,
            slot: None,
        };
        f.push(setting("Forwarding", if self.ip_forwarding { 1 } else { 2 }));
        f.push(setting("DefaultTTL", u64::from(self.ip_default_ttl)));
        self.group(&mut f, MibGroup::Ip, IpstatsMib::ALL, IpstatsMib::name);

        // icmp_put(): three counters, the in-types, four counters, the out-types.
        let icmp = |f: &mut Vec<Field>, m: IcmpMib| {
            f.push(Field {
                group: MibGroup::Icmp,
                name: Cow::Borrowed(m.name()),
                value: self.get(m),
                slot: Some(m.mib_index()),
            });
        };
        let per_type = |f: &mut Vec<Field>, out: bool| {
            for (in_name, out_name, t) in ICMPMIBMAP {
                let (name, m) = if out { (out_name, IcmpMsg::Out(t)) } else { (in_name, IcmpMsg::In(t)) };
                f.push(Field {
                    group: MibGroup::Icmp,
                    name: Cow::Borrowed(name),
                    value: self.get(m),
                    slot: Some(m.mib_index()),
                });
            }
        };
        for m in [IcmpMib::InMsgs, IcmpMib::InErrors, IcmpMib::InCsumErrors] {
            icmp(&mut f, m);
        }
        per_type(&mut f, false);
        for m in
            [IcmpMib::OutMsgs, IcmpMib::OutErrors, IcmpMib::OutRateLimitGlobal, IcmpMib::OutRateLimitHost]
        {
            icmp(&mut f, m);
        }
        per_type(&mut f, true);

        // icmpmsg_put(): only the types seen, in index order.
        for i in 0..ICMPMSG_MIB_MAX {
            let slot = ICMPMSG_OFF + i;
            let value = self.values[slot];
            if let (true, Some(m)) = (value != 0, IcmpMsg::from_index(i)) {
                f.push(Field {
                    group: MibGroup::IcmpMsg,
                    name: Cow::Owned(m.name()),
                    value,
                    slot: Some(slot),
                });
            }
        }

        self.group(&mut f, MibGroup::Tcp, TcpMib::ALL, TcpMib::name);
        self.group(&mut f, MibGroup::Udp, UdpMib::ALL, UdpMib::name);
        for &m in UdpMib::ALL {
            f.push(Field { group: MibGroup::UdpLite, name: Cow::Borrowed(m.name()), value: 0, slot: None });
        }
        f
    }

    /// The fields of `/proc/net/netstat`, in order.
    fn netstat_fields(&self) -> Vec<Field> {
        let mut f = Vec::new();
        self.group(&mut f, MibGroup::TcpExt, LinuxMib::ALL, LinuxMib::name);
        self.group(&mut f, MibGroup::IpExt, IpExtMib::ALL, IpExtMib::name);
        f
    }

    /// Every field `/proc/net/snmp` then `/proc/net/netstat` print, as
    /// (section prefix, field name, value), in their order: the order nstat
    /// reads them in. `IcmpMsg` fields appear only for types with a nonzero
    /// count, as in `/proc`; `Tcp: MaxConn` is `u64::MAX` (printed -1).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Cow<'static, str>, u64)> + use<> {
        let mut all = self.snmp_fields();
        all.extend(self.netstat_fields());
        all.into_iter().map(|f| (f.group.prefix(), f.name, f.value))
    }

    /// Prints fields the way `/proc` does: per section, a line of names and
    /// a line of values, each starting with the prefix and a colon.
    fn put_sections(out: &mut String, fields: &[Field]) {
        let mut start = 0;
        while start < fields.len() {
            let group = fields[start].group;
            let mut end = start;
            while end < fields.len() && fields[end].group == group {
                end += 1;
            }
            // IcmpMsg wraps every ICMPMSG_PERLINE fields (icmpmsg_put_line).
            let per_line = if group == MibGroup::IcmpMsg { ICMPMSG_PERLINE } else { usize::MAX };
            for chunk in fields[start..end].chunks(per_line.min(end - start)) {
                let prefix = group.prefix();
                let _ = write!(out, "{prefix}:");
                for f in chunk {
                    let _ = write!(out, " {}", f.name);
                }
                let _ = write!(out, "\n{prefix}:");
                for f in chunk {
                    if f.slot == Some(TcpMib::MaxConn.mib_index()) {
                        // "MaxConn field is signed, RFC 2012": %ld.
                        let _ = write!(out, " {}", f.value as i64);
                    } else {
                        let _ = write!(out, " {}", f.value);
                    }
                }
                out.push('\n');
            }
            start = end;
        }
    }

    /// The text of `/proc/net/snmp`, as Linux 6.18's `snmp_seq_show()`
    /// prints it (IPv4 sections only).
    #[doc(alias = "snmp_seq_show")]
    pub fn proc_net_snmp(&self) -> String {
        let mut out = String::with_capacity(2048);
        Self::put_sections(&mut out, &self.snmp_fields());
        out
    }

    /// The text of `/proc/net/netstat` (`netstat_seq_show()`): `TcpExt:` and
    /// `IpExt:`.
    #[doc(alias = "netstat_seq_show")]
    pub fn proc_net_netstat(&self) -> String {
        let mut out = String::with_capacity(4096);
        Self::put_sections(&mut out, &self.netstat_fields());
        out
    }

    /// The counters that grew since `earlier`, as nstat names them
    /// (`TcpExtListenOverflows`, `IpInReceives`, `IcmpMsgOutType3`), with
    /// how much they grew, in nstat's order.
    ///
    /// Follows `dump_incr_db()` in misc/nstat.c: settings and gauges
    /// (`useless_numbers[]`: `IpForwarding`, `TcpCurrEstab` …) never appear,
    /// unchanged counters are left out (no `-z`), and a counter that went
    /// down counts as no change.
    pub fn nstat_diff_entries(&self, earlier: &MibSnapshot) -> Vec<(String, u64)> {
        let mut all = self.snmp_fields();
        all.extend(self.netstat_fields());
        all.into_iter()
            .filter_map(|f| {
                let id = format!("{}{}", f.group.prefix(), f.name);
                if NSTAT_USELESS.contains(&id.as_str()) {
                    return None;
                }
                let before = f.slot.map_or(0, |s| earlier.values[s]);
                let delta = f.value.checked_sub(before)?;
                (delta != 0).then_some((id, delta))
            })
            .collect()
    }

    /// What `nstat` prints for the counters that grew since `earlier`: a
    /// `#kernel` line, then per counter the nstat name, the increase and the
    /// rate, in nstat's columns (`"%-32s%-16llu%6.1f\n"`). The rate is 0.0,
    /// as nstat prints it when no `nstat -d` daemon is averaging.
    pub fn nstat_diff(&self, earlier: &MibSnapshot) -> String {
        let mut out = String::from("#kernel\n");
        for (id, delta) in self.nstat_diff_entries(earlier) {
            let _ = writeln!(out, "{id:<32}{delta:<16}{:>6.1}", 0.0);
        }
        out
    }

    /// `nstat --json` for the same entries: `{"kernel":{"IpInReceives":3,…}}`
    /// and a newline.
    pub fn nstat_diff_json(&self, earlier: &MibSnapshot) -> String {
        let mut out = String::from("{\"kernel\":{");
        for (i, (id, delta)) in self.nstat_diff_entries(earlier).into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Counter names are ASCII letters and digits: nothing to escape.
            let _ = write!(out, "\"{id}\":{delta}");
        }
        out.push_str("}}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The header lines of /proc/net/snmp and /proc/net/netstat on a Linux
    // 6.18 host (6.18.44), pinned: our names and order must match them.
    const LINUX_IP: &str = "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits";
    const LINUX_ICMP: &str = "Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps";
    const LINUX_TCP: &str = "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors";
    const LINUX_UDP: &str = "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors";
    const LINUX_TCPEXT: &str = "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPRcvCollapsed TCPBacklogCoalesce TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger TCPAbortFailed TCPMemoryPressures TCPMemoryPressuresChrono TCPSACKDiscard TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged TCPSackShiftFallback TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop IPReversePathFilter TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail TCPRcvCoalesce TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive TCPFastOpenActiveFail TCPFastOpenPassive TCPFastOpenPassiveFail TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPFastOpenBlackhole TCPSpuriousRtxHostQueues BusyPollRxPackets TCPAutoCorking TCPFromZeroWindowAdv TCPToZeroWindowAdv TCPWantZeroWindowAdv TCPSynRetrans TCPOrigDataSent TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect TCPHystartDelayCwnd TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 TCPACKSkippedTimeWait TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess TCPDelivered TCPDeliveredCE TCPAckCompressed TCPZeroWindowDrop TCPRcvQDrop TCPWqueueTooBig TCPFastOpenPassiveAltKey TcpTimeoutRehash TcpDuplicateDataRehash TCPDSACKRecvSegs TCPDSACKIgnoredDubious TCPMigrateReqSuccess TCPMigrateReqFailure TCPPLBRehash TCPAORequired TCPAOBad TCPAOKeyNotFound TCPAOGood TCPAODroppedIcmps";
    const LINUX_IPEXT: &str = "IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps";

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn names_and_order_match_linux_6_18() {
        let snap = NetMibs::new().snapshot();
        let snmp = snap.proc_net_snmp();
        let l = lines(&snmp);
        assert_eq!(l[0], LINUX_IP);
        assert_eq!(l[2], LINUX_ICMP);
        assert_eq!(l[4], LINUX_TCP);
        assert_eq!(l[6], LINUX_UDP);
        assert_eq!(l[8], LINUX_UDP.replace("Udp:", "UdpLite:"));
        let netstat = snap.proc_net_netstat();
        let l = lines(&netstat);
        assert_eq!(l[0], LINUX_TCPEXT);
        assert_eq!(l[2], LINUX_IPEXT);
        assert_eq!(LinuxMib::COUNT, 135);
    }

    #[test]
    fn tcpext_spot_checks() {
        let names: Vec<&str> = LinuxMib::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            names[..5],
            ["SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "EmbryonicRsts", "PruneCalled"]
        );
        for n in [
            "TCPTimeWaitOverflow",
            "TCPChallengeACK",
            "TCPSYNChallenge",
            "TCPAbortOnLinger",
            "TCPAbortOnClose",
            "TCPAbortOnMemory",
            "TCPReqQFullDoCookies",
            "TCPReqQFullDrop",
            "TCPWinProbe",
            "TCPKeepAlive",
            "TCPOFODrop",
            "ListenOverflows",
            "ListenDrops",
            "TW",
            "TWRecycled",
            "DelayedACKs",
            "PAWSActive",
            "PAWSEstab",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert_eq!(LinuxMib::ListenOverflows.name(), "ListenOverflows");
        assert_eq!(LinuxMib::ListenOverflows.linux_name(), "LINUX_MIB_LISTENOVERFLOWS");
        assert_eq!(LinuxMib::TW.linux_name(), "LINUX_MIB_TIMEWAITED");
        assert_eq!(LinuxMib::PAWSEstab.linux_name(), "LINUX_MIB_PAWSESTABREJECTED");
        assert_eq!(IpstatsMib::InReceives.linux_name(), "IPSTATS_MIB_INPKTS");
        assert_eq!(IpstatsMib::OutTransmits.linux_name(), "IPSTATS_MIB_OUTPKTS");
        assert_eq!(LinuxMib::GROUP.prefix(), "TcpExt");
    }

    #[test]
    fn fresh_namespace_prints_like_linux() {
        let snap = NetMibs::new().snapshot();
        let zeros = |n: usize| " 0".repeat(n);
        let expect = format!(
            "{LINUX_IP}\nIp: 2 64{}\n{LINUX_ICMP}\nIcmp:{}\n{LINUX_TCP}\nTcp: 1 200 120000 -1{}\n\
             {LINUX_UDP}\nUdp:{}\n{}\nUdpLite:{}\n",
            zeros(18),
            zeros(29),
            zeros(11),
            zeros(9),
            LINUX_UDP.replace("Udp:", "UdpLite:"),
            zeros(9),
        );
        assert_eq!(snap.proc_net_snmp(), expect);
        let expect = format!("{LINUX_TCPEXT}\nTcpExt:{}\n{LINUX_IPEXT}\nIpExt:{}\n", zeros(135), zeros(18));
        assert_eq!(snap.proc_net_netstat(), expect);
    }

    #[test]
    fn counting() {
        let m = NetMibs::new();
        m.inc(LinuxMib::ListenOverflows);
        m.inc(LinuxMib::ListenOverflows);
        m.add(IpExtMib::InOctets, 1500);
        m.inc(TcpMib::CurrEstab);
        m.inc(TcpMib::CurrEstab);
        m.dec(TcpMib::CurrEstab);
        m.icmpmsg_out_inc(3);
        m.inc(IcmpMsg::In(8));
        assert_eq!(m.get(LinuxMib::ListenOverflows), 2);
        assert_eq!(m.get(IpExtMib::InOctets), 1500);
        assert_eq!(m.get(TcpMib::CurrEstab), 1);
        assert_eq!(m.get(IcmpMsg::Out(3)), 1);
        assert_eq!(m.get(IcmpMsg::In(8)), 1);
        assert_eq!(m.get(IcmpMsg::In(3)), 0);
        assert_eq!(m.get(TcpMib::MaxConn) as i64, -1);
        // Groups do not alias: the same position in another group is untouched.
        assert_eq!(m.get(UdpMib::ALL[TcpMib::CurrEstab as usize]), 0);
        let s = m.snapshot();
        assert_eq!(s.get(LinuxMib::ListenOverflows), 2);
        assert_eq!(s.get(IcmpMsg::Out(3)), 1);
    }

    #[test]
    fn every_counter_has_its_own_slot() {
        let m = NetMibs::new();
        let mut slots: Vec<usize> = Vec::new();
        slots.extend(IpstatsMib::ALL.iter().map(|x| x.mib_index()));
        slots.extend(IcmpMib::ALL.iter().map(|x| x.mib_index()));
        slots.extend((0..=255u8).map(|t| IcmpMsg::In(t).mib_index()));
        slots.extend((0..=255u8).map(|t| IcmpMsg::Out(t).mib_index()));
        slots.extend(TcpMib::ALL.iter().map(|x| x.mib_index()));
        slots.extend(UdpMib::ALL.iter().map(|x| x.mib_index()));
        slots.extend(LinuxMib::ALL.iter().map(|x| x.mib_index()));
        slots.extend(IpExtMib::ALL.iter().map(|x| x.mib_index()));
        let n = slots.len();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), n);
        assert_eq!(n, m.counters.len());
        assert_eq!(*slots.last().unwrap(), n - 1);
    }

    #[test]
    fn icmp_per_type_columns_and_icmpmsg_lines() {
        let m = NetMibs::new();
        m.inc(IcmpMib::InMsgs);
        m.icmpmsg_in_inc(8); // echo request in
        m.inc(IcmpMib::OutMsgs);
        m.icmpmsg_out_inc(0); // echo reply out
        m.icmpmsg_out_inc(3);
        m.icmpmsg_out_inc(3);
        let text = m.snapshot().proc_net_snmp();
        let l = lines(&text);
        // InMsgs InErrors InCsumErrors, 11 in-types (InEchos 6th), OutMsgs
        // OutErrors OutRateLimitGlobal OutRateLimitHost, 11 out-types
        // (OutDestUnreachs 1st, OutEchoReps 7th).
        assert_eq!(l[3], "Icmp: 1 0 0 0 0 0 0 0 1 0 0 0 0 0 1 0 0 0 2 0 0 0 0 0 1 0 0 0 0");
        assert_eq!(l[4], "IcmpMsg: InType8 OutType0 OutType3");
        assert_eq!(l[5], "IcmpMsg: 1 1 2");
        assert!(l[6].starts_with("Tcp: "));
    }

    #[test]
    fn icmpmsg_wraps_every_sixteen() {
        let m = NetMibs::new();
        for t in 0..17u8 {
            m.icmpmsg_in_inc(t);
        }
        let text = m.snapshot().proc_net_snmp();
        let l = lines(&text);
        let names: Vec<String> = (0..16).map(|t| format!("InType{t}")).collect();
        assert_eq!(l[4], format!("IcmpMsg: {}", names.join(" ")));
        assert_eq!(l[5], format!("IcmpMsg:{}", " 1".repeat(16)));
        assert_eq!(l[6], "IcmpMsg: InType16");
        assert_eq!(l[7], "IcmpMsg: 1");
        assert!(l[8].starts_with("Tcp: RtoAlgorithm"));
    }

    #[test]
    fn ip_settings_are_fields() {
        let mut s = NetMibs::new().snapshot();
        s.ip_forwarding = true;
        s.ip_default_ttl = 128;
        let text = s.proc_net_snmp();
        assert!(lines(&text)[1].starts_with("Ip: 1 128 0 "));
        let first: Vec<_> = s.iter().take(3).collect();
        assert_eq!(first[0], ("Ip", Cow::Borrowed("Forwarding"), 1));
        assert_eq!(first[1], ("Ip", Cow::Borrowed("DefaultTTL"), 128));
        assert_eq!(first[2], ("Ip", Cow::Borrowed("InReceives"), 0));
    }

    #[test]
    fn iter_follows_proc_order() {
        let m = NetMibs::new();
        m.inc(LinuxMib::TCPAODroppedIcmps);
        m.icmpmsg_in_inc(3);
        let all: Vec<_> = m.snapshot().iter().collect();
        let prefixes: Vec<&str> = all.iter().map(|e| e.0).collect();
        let mut order = prefixes.clone();
        order.dedup();
        assert_eq!(order, ["Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite", "TcpExt", "IpExt"]);
        // 20 Ip + 29 Icmp + 1 IcmpMsg + 15 Tcp + 9 Udp + 9 UdpLite + 135 + 18.
        assert_eq!(all.len(), 20 + 29 + 1 + 15 + 9 + 9 + 135 + 18);
        let last_tcpext = all.iter().rfind(|e| e.0 == "TcpExt").unwrap();
        assert_eq!((last_tcpext.1.as_ref(), last_tcpext.2), ("TCPAODroppedIcmps", 1));
        assert!(all.contains(&("IcmpMsg", Cow::Owned("InType3".into()), 1)));
    }

    #[test]
    fn nstat_diff_prints_like_nstat() {
        let m = NetMibs::new();
        m.add(IpstatsMib::InReceives, 4659);
        let earlier = m.snapshot();
        m.add(IpstatsMib::InReceives, 3);
        m.inc(IcmpMib::OutMsgs);
        m.icmpmsg_out_inc(3);
        m.inc(TcpMib::ActiveOpens);
        m.inc(TcpMib::CurrEstab); // a gauge: nstat never shows it
        m.add(LinuxMib::ListenOverflows, 12345678901234);
        m.add(IpExtMib::InOctets, 180);
        let now = m.snapshot();
        let expect = "#kernel\n\
            IpInReceives                    3                  0.0\n\
            IcmpOutMsgs                     1                  0.0\n\
            IcmpOutDestUnreachs             1                  0.0\n\
            IcmpMsgOutType3                 1                  0.0\n\
            TcpActiveOpens                  1                  0.0\n\
            TcpExtListenOverflows           12345678901234     0.0\n\
            IpExtInOctets                   180                0.0\n";
        assert_eq!(now.nstat_diff(&earlier), expect);
        assert_eq!(now.nstat_diff_entries(&earlier)[0], ("IpInReceives".to_string(), 3));
        assert_eq!(
            now.nstat_diff_json(&earlier),
            "{\"kernel\":{\"IpInReceives\":3,\"IcmpOutMsgs\":1,\"IcmpOutDestUnreachs\":1,\
             \"IcmpMsgOutType3\":1,\"TcpActiveOpens\":1,\"TcpExtListenOverflows\":12345678901234,\
             \"IpExtInOctets\":180}}\n"
        );
        // Nothing changed: just the header.
        assert_eq!(now.nstat_diff(&now), "#kernel\n");
        assert_eq!(now.nstat_diff_json(&now), "{\"kernel\":{}}\n");
    }

    #[test]
    fn nstat_from_zero_skips_settings_and_gauges() {
        let m = NetMibs::new();
        m.inc(TcpMib::CurrEstab);
        let zero = MibSnapshot {
            values: vec![0; NR_MIBS].into_boxed_slice(),
            ip_forwarding: false,
            ip_default_ttl: 0,
        };
        // RtoMin, MaxConn, CurrEstab and the Ip settings all differ from
        // zero, and none of them is printed.
        assert_eq!(m.snapshot().nstat_diff(&zero), "#kernel\n");
    }

    #[test]
    fn counter_going_down_is_not_a_change() {
        let m = NetMibs::new();
        m.add(LinuxMib::TW, 5);
        let later = m.snapshot();
        let mut earlier = later.clone();
        earlier.values[LinuxMib::TW.mib_index()] = 9;
        assert!(later.nstat_diff_entries(&earlier).is_empty());
    }

    #[test]
    fn concurrent_counting_is_exact() {
        let m = std::sync::Arc::new(NetMibs::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        m.inc(TcpMib::InSegs);
                        m.add(IpExtMib::InOctets, 40);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.get(TcpMib::InSegs), 40_000);
        assert_eq!(m.get(IpExtMib::InOctets), 1_600_000);
    }
}
