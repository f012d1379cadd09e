//! The `net.ipv4` sysctls (TCP's excepted).
//!
//! Mirrors `net/ipv4/sysctl_net_ipv4.c` (`ipv4_table`, `ipv4_net_table`,
//! `ipv4_local_port_range()`) of **Linux 6.18**, plus the two other places
//! `/proc/sys/net/ipv4` is filled from: `net/ipv4/devinet.c`
//! (`net.ipv4.ip_forward`, `net.ipv4.conf.all.*`) and `net/core/neighbour.c`
//! (`net.ipv4.neigh.default.*`, ARP's `neigh_parms`). Defaults are those
//! `ipv4_net_init()`/`inet_init()` (net/ipv4/af_inet.c), `inet_frags`
//! (net/ipv4/ip_fragment.c), `icmp_sk_init()` (net/ipv4/icmp.c) and
//! `arp_tbl` (net/ipv4/arp.c) start a namespace with; each was checked
//! against `/proc/sys/net/ipv4` of a 6.18 host.
//!
//! Bounds are those of each entry's `proc_handler`: plain `proc_dointvec`
//! takes any `int`; `proc_dou8vec_minmax` (the 0/1 ICMP knobs,
//! `ip_default_ttl`, `ip_nonlocal_bind`, `ip_no_pmtu_disc` since 5.x) takes
//! a `u8` within `extra1..=extra2`; `proc_dointvec_jiffies` takes seconds up
//! to `INT_MAX / HZ`.
//!
//! # Where we differ
//!
//! - Every knob is per namespace and lives in net-core's one table.
//! - `ipfrag_high_thresh`/`ipfrag_low_thresh` bound each other in Linux
//!   (`extra1 = &low_thresh`); a [`SysctlDef`] cannot see another sysctl,
//!   so here each is only `0..=LONG_MAX`, and ip_fragment uses
//!   `min(low, high)`.
//! - `ip_local_port_range`'s lower end is checked against
//!   `ip_unprivileged_port_start`'s default (1024), which is not a sysctl
//!   here.
//! - `net.ipv4.conf.*` exists only as `conf.all` for `arp_ignore` and
//!   `arp_announce`; Linux takes `max(all, dev)` per device.
//! - The `net.ipv4.tcp_*` sysctls are registered by net-tcp
//!   (`tcp_sk_init()`'s half of this file), in the same table.

use net_core::sysctl_net::{INT_MAX, INT_MIN, Sysctl, SysctlDef, SysctlTable};

/// `HZ` as linnet fixes it (net-core's `jiffies.rs`).
const HZ: i64 = 1000;
/// `LONG_MAX` on a 64-bit kernel: the bound of `proc_doulongvec_minmax`.
const LONG_MAX: i64 = i64::MAX;
/// `ip_unprivileged_port_start`'s default (`PROT_SOCK`).
pub const PROT_SOCK: i64 = 1024;

/// `net.ipv4.ip_forward`: route datagrams not addressed to us (RFC 1812
/// router behaviour) when non-zero. Linux's `devinet_sysctl_forward()`:
/// any `int`, non-zero means on.
pub static IP_FORWARD: SysctlDef = SysctlDef {
    name: "net.ipv4.ip_forward",
    default: &[0],
    min: INT_MIN,
    max: INT_MAX,
    validate: None,
    doc: "Forward packets between interfaces (act as a router).",
};

/// `net.ipv4.ip_early_demux`: let `ip_rcv_finish()` ask the transport
/// for an established socket and its cached input route before routing
/// (`ipprot->early_demux`, [`crate::protocol::NetProtocol::early_demux`]).
/// Linux: `proc_dou8vec_minmax`, `0..=1`, default 1.
pub static IP_EARLY_DEMUX: SysctlDef = SysctlDef {
    name: "net.ipv4.ip_early_demux",
    default: &[1],
    min: 0,
    max: 1,
    validate: None,
    doc: "Look up the established socket (and its cached route) before routing.",
};

/// `net.ipv4.tcp_early_demux`: early demux for TCP (`tcp_v4_early_demux()`),
/// consulted only while `ip_early_demux` is on. Linux keeps it in the same
/// `ipv4_net_table` as `ip_early_demux` (net/ipv4/sysctl_net_ipv4.c), so
/// it is registered here rather than with net-tcp's `tcp_*` sysctls.
/// `0..=1`, default 1.
pub static TCP_EARLY_DEMUX: SysctlDef = SysctlDef {
    name: "net.ipv4.tcp_early_demux",
    default: &[1],
    min: 0,
    max: 1,
    validate: None,
    doc: "Early demux for TCP (needs ip_early_demux).",
};

/// `net.ipv4.ip_default_ttl`: the TTL of locally generated datagrams
/// (`IPDEFTTL` = 64). `u8`, `1..=255`.
pub static IP_DEFAULT_TTL: SysctlDef = SysctlDef {
    name: "net.ipv4.ip_default_ttl",
    default: &[64],
    min: 1,
    max: 255,
    validate: None,
    doc: "Default TTL of outgoing IP datagrams.",
};

/// `net.ipv4.ip_no_pmtu_disc`: 0 sets DF and does path MTU discovery
/// (RFC 1191); 1 disables it. `u8`.
pub static IP_NO_PMTU_DISC: SysctlDef = SysctlDef {
    name: "net.ipv4.ip_no_pmtu_disc",
    default: &[0],
    min: 0,
    max: 255,
    validate: None,
    doc: "Disable Path MTU Discovery (do not set DF).",
};

/// `net.ipv4.ipfrag_high_thresh`: bytes of reassembly memory above which
/// new fragments are dropped (4 MiB).
pub static IPFRAG_HIGH_THRESH: SysctlDef = SysctlDef {
    name: "net.ipv4.ipfrag_high_thresh",
    default: &[4 * 1024 * 1024],
    min: 0,
    max: LONG_MAX,
    validate: None,
    doc: "Maximum memory used to reassemble IP fragments, in bytes.",
};

/// `net.ipv4.ipfrag_low_thresh`: the level the fragment evictor works
/// back down to (3 MiB).
pub static IPFRAG_LOW_THRESH: SysctlDef = SysctlDef {
    name: "net.ipv4.ipfrag_low_thresh",
    default: &[3 * 1024 * 1024],
    min: 0,
    max: LONG_MAX,
    validate: None,
    doc: "Reassembly memory the evictor shrinks to, in bytes.",
};

/// `net.ipv4.ipfrag_time`: seconds a reassembly queue lives (`IP_FRAG_TIME`
/// = 30 s). `proc_dointvec_jiffies`.
pub static IPFRAG_TIME: SysctlDef = SysctlDef {
    name: "net.ipv4.ipfrag_time",
    default: &[30],
    min: INT_MIN / HZ,
    max: INT_MAX / HZ,
    validate: None,
    doc: "Seconds an IP fragment is kept in memory.",
};

/// `net.ipv4.ipfrag_max_dist`: how far (in fragments from the same source)
/// a queue may fall behind before it is dropped as stale; 0 disables.
pub static IPFRAG_MAX_DIST: SysctlDef = SysctlDef {
    name: "net.ipv4.ipfrag_max_dist",
    default: &[64],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Maximum disorder of fragments from one source before the queue is flushed.",
};

/// `net.ipv4.icmp_ratelimit`: minimum milliseconds between ICMP messages
/// of a type in `icmp_ratemask` to one destination
/// (`proc_dointvec_ms_jiffies_minmax`, at least 0).
pub static ICMP_RATELIMIT: SysctlDef = SysctlDef {
    name: "net.ipv4.icmp_ratelimit",
    default: &[1000],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Per-destination ICMP rate limit, in milliseconds between messages.",
};

/// `net.ipv4.icmp_ratemask`: which ICMP types are rate limited, bit `1 <<
/// type`. 6168 = 0x1818: destination unreachable, source quench, time
/// exceeded, parameter problem.
pub static ICMP_RATEMASK: SysctlDef = SysctlDef {
    name: "net.ipv4.icmp_ratemask",
    default: &[6168],
    min: INT_MIN,
    max: INT_MAX,
    validate: None,
    doc: "Mask of ICMP types subject to icmp_ratelimit.",
};

/// `net.ipv4.icmp_msgs_per_sec`: the host-wide token bucket's rate.
pub static ICMP_MSGS_PER_SEC: SysctlDef = SysctlDef {
    name: "net.ipv4.icmp_msgs_per_sec",
    default: &[1000],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Host-wide limit on ICMP messages sent per second.",
};

/// `net.ipv4.icmp_msgs_burst`: the host-wide token bucket's depth.
pub static ICMP_MSGS_BURST: SysctlDef = SysctlDef {
    name: "net.ipv4.icmp_msgs_burst",
    default: &[50],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Host-wide burst of ICMP messages.",
};

/// `net.ipv4.icmp_echo_ignore_all`: 1 drops every echo request. `u8`, 0..=1.
pub static ICMP_ECHO_IGNORE_ALL: SysctlDef = SysctlDef {
    name: "net.ipv4.icmp_echo_ignore_all",
    default: &[0],
    min: 0,
    max: 1,
    validate: None,
    doc: "Ignore all ICMP echo requests.",
};

/// `net.ipv4.icmp_echo_ignore_broadcasts`: 1 ignores echo requests sent to
/// broadcast/multicast (smurf protection, on since 2.6.14). `u8`, 0..=1.
pub static ICMP_ECHO_IGNORE_BROADCASTS: SysctlDef = SysctlDef {
    name: "net.ipv4.icmp_echo_ignore_broadcasts",
    default: &[1],
    min: 0,
    max: 1,
    validate: None,
    doc: "Ignore ICMP echo requests sent to broadcast or multicast addresses.",
};

/// `net.ipv4.icmp_ignore_bogus_error_responses`: 1 silently ignores
/// malformed ICMP errors sent in answer to broadcast frames. `u8`, 0..=1.
pub static ICMP_IGNORE_BOGUS_ERROR_RESPONSES: SysctlDef = SysctlDef {
    name: "net.ipv4.icmp_ignore_bogus_error_responses",
    default: &[1],
    min: 0,
    max: 1,
    validate: None,
    doc: "Do not log bogus ICMP error responses to broadcast frames.",
};

/// Mirrors `ipv4_local_port_range()` (net/ipv4/sysctl_net_ipv4.c): after
/// the per-element `1..=65535` bounds, the write fails with `EINVAL` if
/// `high < low` or if `low` is below `ip_unprivileged_port_start`. Equal
/// ends are allowed. Same parity for both ends is only warned about in
/// Linux (`"ip_local_port_range: prefer different parity for start/end
/// values."`), because `__inet_hash_connect` walks even and odd ports
/// separately; we accept it silently.
pub fn ipv4_local_port_range(v: &[i64]) -> Result<(), &'static str> {
    if v[1] < v[0] {
        Err("the second port must not be less than the first")
    } else if v[0] < PROT_SOCK {
        Err("the first port must be at least ip_unprivileged_port_start (1024)")
    } else {
        Ok(())
    }
}

/// `net.ipv4.ip_local_port_range`: the ephemeral ports `connect()` and
/// `bind(port 0)` pick from (`inet_get_local_port_range()`).
pub static IP_LOCAL_PORT_RANGE: SysctlDef = SysctlDef {
    name: "net.ipv4.ip_local_port_range",
    default: &[32768, 60999],
    min: 1,
    max: 65535,
    validate: Some(ipv4_local_port_range),
    doc: "First and last ephemeral port.",
};

/// `net.ipv4.ip_nonlocal_bind`: allow binding to (and sourcing from) an
/// address that is not local. `u8`.
pub static IP_NONLOCAL_BIND: SysctlDef = SysctlDef {
    name: "net.ipv4.ip_nonlocal_bind",
    default: &[0],
    min: 0,
    max: 255,
    validate: None,
    doc: "Allow binding to a non-local source address.",
};

/// `net.ipv4.udp_rmem_min`: the receive memory each UDP socket may use
/// even under `udp_mem` pressure (one page).
pub static UDP_RMEM_MIN: SysctlDef = SysctlDef {
    name: "net.ipv4.udp_rmem_min",
    default: &[4096],
    min: 1,
    max: INT_MAX,
    validate: None,
    doc: "Minimal receive buffer of a UDP socket under memory pressure, in bytes.",
};

/// `net.ipv4.udp_wmem_min`: the send-side twin of `udp_rmem_min`.
pub static UDP_WMEM_MIN: SysctlDef = SysctlDef {
    name: "net.ipv4.udp_wmem_min",
    default: &[4096],
    min: 1,
    max: INT_MAX,
    validate: None,
    doc: "Minimal send buffer of a UDP socket under memory pressure, in bytes.",
};

/// `net.ipv4.neigh.default.gc_thresh1`: below this many entries the ARP
/// garbage collector leaves the table alone (`arp_tbl.gc_thresh1`).
pub static NEIGH_GC_THRESH1: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.gc_thresh1",
    default: &[128],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Entries below which the neighbour GC does not run.",
};

/// `net.ipv4.neigh.default.gc_thresh2`: the soft maximum; above it entries
/// older than 5 s are reclaimed.
pub static NEIGH_GC_THRESH2: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.gc_thresh2",
    default: &[512],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Soft maximum number of neighbour entries.",
};

/// `net.ipv4.neigh.default.gc_thresh3`: the hard maximum; `neigh_create`
/// fails (`ENOBUFS`, "neighbour table overflow") beyond it after a forced GC.
pub static NEIGH_GC_THRESH3: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.gc_thresh3",
    default: &[1024],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Hard maximum number of neighbour entries.",
};

/// `net.ipv4.neigh.default.base_reachable_time_ms`: the base of the random
/// REACHABLE lifetime (½..1½ of it, RFC 4861's `BaseReachableTime`).
pub static NEIGH_BASE_REACHABLE_TIME_MS: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.base_reachable_time_ms",
    default: &[30_000],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Base reachable time of a neighbour entry, in milliseconds.",
};

/// `net.ipv4.neigh.default.retrans_time_ms`: time between ARP probes.
pub static NEIGH_RETRANS_TIME_MS: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.retrans_time_ms",
    default: &[1000],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Time between retransmitted ARP requests, in milliseconds.",
};

/// `net.ipv4.neigh.default.delay_first_probe_time`: seconds in DELAY before
/// the first unicast probe of a STALE entry.
pub static NEIGH_DELAY_FIRST_PROBE_TIME: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.delay_first_probe_time",
    default: &[5],
    min: INT_MIN / HZ,
    max: INT_MAX / HZ,
    validate: None,
    doc: "Seconds to wait before the first probe of a stale neighbour.",
};

/// `net.ipv4.neigh.default.ucast_solicit`: unicast probes before a
/// neighbour is declared FAILED.
pub static NEIGH_UCAST_SOLICIT: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.ucast_solicit",
    default: &[3],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Unicast ARP probes before giving up on a neighbour.",
};

/// `net.ipv4.neigh.default.mcast_solicit`: broadcast ARP requests when
/// resolving a new neighbour.
pub static NEIGH_MCAST_SOLICIT: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.mcast_solicit",
    default: &[3],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Broadcast ARP requests before giving up on resolution.",
};

/// `net.ipv4.neigh.default.app_solicit`: probes handed to a user-space
/// daemon (arpd); none here.
pub static NEIGH_APP_SOLICIT: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.app_solicit",
    default: &[0],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Probes sent to a user-space ARP daemon.",
};

/// `net.ipv4.neigh.default.unres_qlen_bytes`: bytes queued on an
/// unresolved neighbour (`SK_WMEM_DEFAULT`); older packets are dropped
/// beyond it.
pub static NEIGH_UNRES_QLEN_BYTES: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.unres_qlen_bytes",
    default: &[212_992],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Bytes queued while a neighbour is being resolved.",
};

/// `net.ipv4.neigh.default.gc_stale_time`: seconds an unused STALE entry
/// survives before the periodic GC removes it.
pub static NEIGH_GC_STALE_TIME: SysctlDef = SysctlDef {
    name: "net.ipv4.neigh.default.gc_stale_time",
    default: &[60],
    min: INT_MIN / HZ,
    max: INT_MAX / HZ,
    validate: None,
    doc: "Seconds before an unused stale neighbour entry is removed.",
};

/// `net.ipv4.conf.all.arp_ignore`: 0 answers ARP for any local address on
/// any interface; 1 only for addresses on the receiving interface; …
pub static ARP_IGNORE: SysctlDef = SysctlDef {
    name: "net.ipv4.conf.all.arp_ignore",
    default: &[0],
    min: INT_MIN,
    max: INT_MAX,
    validate: None,
    doc: "Which ARP requests to answer (0: any local address).",
};

/// `net.ipv4.conf.all.arp_announce`: 0 uses any local source address in ARP
/// requests; 1 avoids ones off the target's subnet; 2 uses the best one.
pub static ARP_ANNOUNCE: SysctlDef = SysctlDef {
    name: "net.ipv4.conf.all.arp_announce",
    default: &[0],
    min: INT_MIN,
    max: INT_MAX,
    validate: None,
    doc: "Source address restriction for outgoing ARP requests.",
};

/// Every sysctl this file declares, in `sysctl -a` (name) order.
pub static NET_IPV4_SYSCTLS: [&SysctlDef; 33] = [
    &ARP_ANNOUNCE,
    &ARP_IGNORE,
    &ICMP_ECHO_IGNORE_ALL,
    &ICMP_ECHO_IGNORE_BROADCASTS,
    &ICMP_IGNORE_BOGUS_ERROR_RESPONSES,
    &ICMP_MSGS_BURST,
    &ICMP_MSGS_PER_SEC,
    &ICMP_RATELIMIT,
    &ICMP_RATEMASK,
    &IP_DEFAULT_TTL,
    &IP_EARLY_DEMUX,
    &IP_FORWARD,
    &IP_LOCAL_PORT_RANGE,
    &IP_NO_PMTU_DISC,
    &IP_NONLOCAL_BIND,
    &IPFRAG_HIGH_THRESH,
    &IPFRAG_LOW_THRESH,
    &IPFRAG_MAX_DIST,
    &IPFRAG_TIME,
    &NEIGH_APP_SOLICIT,
    &NEIGH_BASE_REACHABLE_TIME_MS,
    &NEIGH_DELAY_FIRST_PROBE_TIME,
    &NEIGH_GC_STALE_TIME,
    &NEIGH_GC_THRESH1,
    &NEIGH_GC_THRESH2,
    &NEIGH_GC_THRESH3,
    &NEIGH_MCAST_SOLICIT,
    &NEIGH_RETRANS_TIME_MS,
    &NEIGH_UCAST_SOLICIT,
    &NEIGH_UNRES_QLEN_BYTES,
    &TCP_EARLY_DEMUX,
    &UDP_RMEM_MIN,
    &UDP_WMEM_MIN,
];

/// Handles on a namespace's `net.ipv4.*` sysctls (Linux: the
/// `sysctl_*` fields of `struct netns_ipv4`, `ipv4_devconf_all`, and
/// `arp_tbl.parms`). Each read is one relaxed load.
#[derive(Clone, Debug)]
pub struct Ipv4Sysctls {
    /// `net.ipv4.ip_forward`.
    pub ip_forward: Sysctl,
    /// `net.ipv4.ip_default_ttl`.
    pub ip_default_ttl: Sysctl,
    /// `net.ipv4.ip_no_pmtu_disc`.
    pub ip_no_pmtu_disc: Sysctl,
    /// `net.ipv4.ip_early_demux`.
    pub ip_early_demux: Sysctl,
    /// `net.ipv4.tcp_early_demux`.
    pub tcp_early_demux: Sysctl,
    /// `net.ipv4.ipfrag_high_thresh`.
    pub ipfrag_high_thresh: Sysctl,
    /// `net.ipv4.ipfrag_low_thresh`.
    pub ipfrag_low_thresh: Sysctl,
    /// `net.ipv4.ipfrag_time` (seconds).
    pub ipfrag_time: Sysctl,
    /// `net.ipv4.ipfrag_max_dist`.
    pub ipfrag_max_dist: Sysctl,
    /// `net.ipv4.icmp_ratelimit` (milliseconds).
    pub icmp_ratelimit: Sysctl,
    /// `net.ipv4.icmp_ratemask`.
    pub icmp_ratemask: Sysctl,
    /// `net.ipv4.icmp_msgs_per_sec`.
    pub icmp_msgs_per_sec: Sysctl,
    /// `net.ipv4.icmp_msgs_burst`.
    pub icmp_msgs_burst: Sysctl,
    /// `net.ipv4.icmp_echo_ignore_all`.
    pub icmp_echo_ignore_all: Sysctl,
    /// `net.ipv4.icmp_echo_ignore_broadcasts`.
    pub icmp_echo_ignore_broadcasts: Sysctl,
    /// `net.ipv4.icmp_ignore_bogus_error_responses`.
    pub icmp_ignore_bogus_error_responses: Sysctl,
    /// `net.ipv4.ip_local_port_range` (two values; read with `get_array`).
    pub ip_local_port_range: Sysctl,
    /// `net.ipv4.ip_nonlocal_bind`.
    pub ip_nonlocal_bind: Sysctl,
    /// `net.ipv4.udp_rmem_min`.
    pub udp_rmem_min: Sysctl,
    /// `net.ipv4.udp_wmem_min`.
    pub udp_wmem_min: Sysctl,
    /// `net.ipv4.neigh.default.gc_thresh1`.
    pub neigh_gc_thresh1: Sysctl,
    /// `net.ipv4.neigh.default.gc_thresh2`.
    pub neigh_gc_thresh2: Sysctl,
    /// `net.ipv4.neigh.default.gc_thresh3`.
    pub neigh_gc_thresh3: Sysctl,
    /// `net.ipv4.neigh.default.base_reachable_time_ms`.
    pub neigh_base_reachable_time_ms: Sysctl,
    /// `net.ipv4.neigh.default.retrans_time_ms`.
    pub neigh_retrans_time_ms: Sysctl,
    /// `net.ipv4.neigh.default.delay_first_probe_time` (seconds).
    pub neigh_delay_first_probe_time: Sysctl,
    /// `net.ipv4.neigh.default.ucast_solicit`.
    pub neigh_ucast_solicit: Sysctl,
    /// `net.ipv4.neigh.default.mcast_solicit`.
    pub neigh_mcast_solicit: Sysctl,
    /// `net.ipv4.neigh.default.app_solicit`.
    pub neigh_app_solicit: Sysctl,
    /// `net.ipv4.neigh.default.unres_qlen_bytes`.
    pub neigh_unres_qlen_bytes: Sysctl,
    /// `net.ipv4.neigh.default.gc_stale_time` (seconds).
    pub neigh_gc_stale_time: Sysctl,
    /// `net.ipv4.conf.all.arp_ignore`.
    pub arp_ignore: Sysctl,
    /// `net.ipv4.conf.all.arp_announce`.
    pub arp_announce: Sysctl,
}

/// Registers every `net.ipv4.*` sysctl of this file with Linux's default
/// and returns the handles.
///
/// Mirrors `ipv4_sysctl_init_net()` (`register_net_sysctl(net,
/// "net/ipv4", table)`), `devinet_init_net()` for `ip_forward` and
/// `conf/all`, and `neigh_sysctl_register()` for ARP's defaults. Calling it
/// again on the same table returns handles on the same values. TCP's
/// sysctls are registered by net-tcp.
#[doc(alias = "ipv4_sysctl_init_net")]
pub fn register_net_ipv4(table: &SysctlTable) -> Ipv4Sysctls {
    Ipv4Sysctls {
        ip_forward: table.register(&IP_FORWARD),
        ip_default_ttl: table.register(&IP_DEFAULT_TTL),
        ip_no_pmtu_disc: table.register(&IP_NO_PMTU_DISC),
        ip_early_demux: table.register(&IP_EARLY_DEMUX),
        tcp_early_demux: table.register(&TCP_EARLY_DEMUX),
        ipfrag_high_thresh: table.register(&IPFRAG_HIGH_THRESH),
        ipfrag_low_thresh: table.register(&IPFRAG_LOW_THRESH),
        ipfrag_time: table.register(&IPFRAG_TIME),
        ipfrag_max_dist: table.register(&IPFRAG_MAX_DIST),
        icmp_ratelimit: table.register(&ICMP_RATELIMIT),
        icmp_ratemask: table.register(&ICMP_RATEMASK),
        icmp_msgs_per_sec: table.register(&ICMP_MSGS_PER_SEC),
        icmp_msgs_burst: table.register(&ICMP_MSGS_BURST),
        icmp_echo_ignore_all: table.register(&ICMP_ECHO_IGNORE_ALL),
        icmp_echo_ignore_broadcasts: table.register(&ICMP_ECHO_IGNORE_BROADCASTS),
        icmp_ignore_bogus_error_responses: table.register(&ICMP_IGNORE_BOGUS_ERROR_RESPONSES),
        ip_local_port_range: table.register(&IP_LOCAL_PORT_RANGE),
        ip_nonlocal_bind: table.register(&IP_NONLOCAL_BIND),
        udp_rmem_min: table.register(&UDP_RMEM_MIN),
        udp_wmem_min: table.register(&UDP_WMEM_MIN),
        neigh_gc_thresh1: table.register(&NEIGH_GC_THRESH1),
        neigh_gc_thresh2: table.register(&NEIGH_GC_THRESH2),
        neigh_gc_thresh3: table.register(&NEIGH_GC_THRESH3),
        neigh_base_reachable_time_ms: table.register(&NEIGH_BASE_REACHABLE_TIME_MS),
        neigh_retrans_time_ms: table.register(&NEIGH_RETRANS_TIME_MS),
        neigh_delay_first_probe_time: table.register(&NEIGH_DELAY_FIRST_PROBE_TIME),
        neigh_ucast_solicit: table.register(&NEIGH_UCAST_SOLICIT),
        neigh_mcast_solicit: table.register(&NEIGH_MCAST_SOLICIT),
        neigh_app_solicit: table.register(&NEIGH_APP_SOLICIT),
        neigh_unres_qlen_bytes: table.register(&NEIGH_UNRES_QLEN_BYTES),
        neigh_gc_stale_time: table.register(&NEIGH_GC_STALE_TIME),
        arp_ignore: table.register(&ARP_IGNORE),
        arp_announce: table.register(&ARP_ANNOUNCE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_linux_6_18() {
        let t = SysctlTable::new();
        let s = register_net_ipv4(&t);
        assert_eq!(s.ip_forward.get(), 0);
        assert_eq!(s.ip_default_ttl.get(), 64);
        assert_eq!(s.ip_local_port_range.get_array(), [32768, 60999]);
        assert_eq!(s.neigh_unres_qlen_bytes.get(), 212992);
        // `sysctl net.ipv4` on a 6.18 host, these keys only.
        let listing: Vec<String> = t.entries().iter().map(|(k, v)| format!("{k} = {v}")).collect();
        assert_eq!(
            listing,
            [
                "net.ipv4.conf.all.arp_announce = 0",
                "net.ipv4.conf.all.arp_ignore = 0",
                "net.ipv4.icmp_echo_ignore_all = 0",
                "net.ipv4.icmp_echo_ignore_broadcasts = 1",
                "net.ipv4.icmp_ignore_bogus_error_responses = 1",
                "net.ipv4.icmp_msgs_burst = 50",
                "net.ipv4.icmp_msgs_per_sec = 1000",
                "net.ipv4.icmp_ratelimit = 1000",
                "net.ipv4.icmp_ratemask = 6168",
                "net.ipv4.ip_default_ttl = 64",
                "net.ipv4.ip_early_demux = 1",
                "net.ipv4.ip_forward = 0",
                "net.ipv4.ip_local_port_range = 32768\t60999",
                "net.ipv4.ip_no_pmtu_disc = 0",
                "net.ipv4.ip_nonlocal_bind = 0",
                "net.ipv4.ipfrag_high_thresh = 4194304",
                "net.ipv4.ipfrag_low_thresh = 3145728",
                "net.ipv4.ipfrag_max_dist = 64",
                "net.ipv4.ipfrag_time = 30",
                "net.ipv4.neigh.default.app_solicit = 0",
                "net.ipv4.neigh.default.base_reachable_time_ms = 30000",
                "net.ipv4.neigh.default.delay_first_probe_time = 5",
                "net.ipv4.neigh.default.gc_stale_time = 60",
                "net.ipv4.neigh.default.gc_thresh1 = 128",
                "net.ipv4.neigh.default.gc_thresh2 = 512",
                "net.ipv4.neigh.default.gc_thresh3 = 1024",
                "net.ipv4.neigh.default.mcast_solicit = 3",
                "net.ipv4.neigh.default.retrans_time_ms = 1000",
                "net.ipv4.neigh.default.ucast_solicit = 3",
                "net.ipv4.neigh.default.unres_qlen_bytes = 212992",
                "net.ipv4.tcp_early_demux = 1",
                "net.ipv4.udp_rmem_min = 4096",
                "net.ipv4.udp_wmem_min = 4096",
            ]
        );
        let names: Vec<&str> = NET_IPV4_SYSCTLS.iter().map(|d| d.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn ranges() {
        let t = SysctlTable::new();
        let s = register_net_ipv4(&t);
        assert!(t.set("net.ipv4.ip_default_ttl", "0").is_err());
        assert!(t.set("net.ipv4.ip_default_ttl", "256").is_err());
        t.set("net.ipv4.ip_default_ttl", "255").unwrap();
        assert_eq!(s.ip_default_ttl.get(), 255);
        assert!(t.set("net.ipv4.icmp_echo_ignore_all", "2").is_err());
        assert!(t.set("net.ipv4.icmp_msgs_per_sec", "-1").is_err());
        assert!(t.set("net.ipv4.neigh.default.gc_thresh3", "-1").is_err());
        assert!(t.set("net.ipv4.icmp_ratelimit", "-5").is_err());
        assert!(t.set("net.ipv4.neigh.default.retrans_time_ms", "-1").is_err());
        assert!(t.set("net.ipv4.udp_rmem_min", "0").is_err());
        // Plain proc_dointvec / _jiffies take negatives, as on a 6.18 host.
        t.set("net.ipv4.ipfrag_time", "-5").unwrap();
        t.set("net.ipv4.neigh.default.gc_stale_time", "-1").unwrap();
        t.set("net.ipv4.ip_nonlocal_bind", "2").unwrap();
        assert!(t.set("net.ipv4.ip_nonlocal_bind", "256").is_err());
        t.set("net.ipv4.ip_forward", "1").unwrap();
        assert_eq!(s.ip_forward.get(), 1);
    }

    #[test]
    fn local_port_range_follows_ipv4_local_port_range() {
        let t = SysctlTable::new();
        let s = register_net_ipv4(&t);
        let key = "net.ipv4.ip_local_port_range";
        // high < low: EINVAL, nothing changes.
        let e = t.set(key, "40000 39999").unwrap_err();
        assert_eq!(e.errno(), net_core::Errno::EINVAL);
        assert_eq!(s.ip_local_port_range.get_array(), [32768, 60999]);
        // Below ip_unprivileged_port_start.
        assert!(t.set(key, "1000 2000").is_err());
        assert!(t.set(key, "0 2000").is_err());
        assert!(t.set(key, "2000 65536").is_err());
        // Equal ends and same parity are accepted (Linux only warns).
        t.set(key, "40000 40000").unwrap();
        t.set(key, "40000 40002").unwrap();
        assert_eq!(s.ip_local_port_range.get_array(), [40000, 40002]);
        // One value changes only the low end.
        assert!(t.set(key, "40003").is_err());
        t.set(key, "40001").unwrap();
        assert_eq!(t.read(key).unwrap(), "40001\t40002");
    }
}
