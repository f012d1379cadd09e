//! OWNER: helper ROUTE — replace this stub. Mirrors net/ipv4/sysctl_net_ipv4.c.
use net_core::sysctl_net::{Sysctl, SysctlTable};

/// Handles to `net.ipv4.*` (fields are added by the owner; other modules
/// read: ip_forward, ip_default_ttl, ip_no_pmtu_disc, ipfrag_high_thresh,
/// ipfrag_low_thresh, ipfrag_time, ipfrag_max_dist, icmp_ratelimit,
/// icmp_ratemask, icmp_msgs_per_sec, icmp_msgs_burst, icmp_echo_ignore_all,
/// icmp_echo_ignore_broadcasts, ip_local_port_range, neigh_gc_thresh1/2/3,
/// neigh_base_reachable_time_ms, neigh_retrans_time_ms, neigh_delay_first_probe_time,
/// neigh_ucast_solicit, neigh_mcast_solicit, neigh_app_solicit, neigh_unres_qlen_bytes,
/// neigh_gc_stale_time).
pub struct Ipv4Sysctls {
    /// `net.ipv4.ip_forward`.
    pub ip_forward: Sysctl,
}
/// Register every `net.ipv4.*` sysctl with Linux's default.
pub fn register_net_ipv4(_table: &SysctlTable) -> Ipv4Sysctls {
    todo!()
}
