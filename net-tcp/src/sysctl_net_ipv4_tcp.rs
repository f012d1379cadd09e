//! The `net.ipv4.tcp_*` sysctls this crate honours so far.
//!
//! Mirrors the TCP half of net/ipv4/sysctl_net_ipv4.c (`ipv4_net_table`) and
//! the defaults `tcp_sk_init()` (net/ipv4/tcp_ipv4.c) sets, **Linux 6.18**.
//! Every default was read from a 6.18 kernel's `/proc/sys/net/ipv4/`.
//!
//! # Where we differ
//!
//! - `tcp_rmem[2]` is 33554432 on the 24 GiB machines we checked: Linux
//!   scales it with memory at boot (`tcp_init()`); we take that figure.
//! - Only the sysctls whose mechanism exists are registered.

use net_core::sysctl_net::{INT_MAX, Sysctl, SysctlDef, SysctlTable};

macro_rules! tcp_sysctls {
    ($( $(#[$m:meta])* $stat:ident, $field:ident = $name:literal, $def:expr, $min:expr, $max:expr, $doc:literal; )*) => {
        $( $(#[$m])* pub static $stat: SysctlDef = SysctlDef {
            name: $name, default: $def, min: $min, max: $max, validate: None, doc: $doc,
        }; )*

        /// Every sysctl this file declares.
        pub static NET_IPV4_TCP_SYSCTLS: &[&SysctlDef] = &[$(&$stat),*];

        /// Handles on a namespace's `net.ipv4.tcp_*` sysctls (Linux: the
        /// `sysctl_tcp_*` fields of `struct netns_ipv4`).
        #[derive(Clone, Debug)]
        pub struct TcpSysctls {
            $( #[doc = $name] pub $field: Sysctl, )*
        }

        /// Register them in `table` (`tcp_sk_init()` + `ipv4_sysctl_init_net()`).
        pub fn register_net_ipv4_tcp(table: &SysctlTable) -> TcpSysctls {
            TcpSysctls { $( $field: table.register(&$stat), )* }
        }
    };
}

tcp_sysctls! {
    /// `tcp_syn_retries`: SYN retransmissions before `connect()` fails with
    /// `ETIMEDOUT` (`TCP_SYN_RETRIES`).
    TCP_SYN_RETRIES, tcp_syn_retries = "net.ipv4.tcp_syn_retries", &[6], 1, 127,
        "SYN retransmissions before an active open gives up.";
    /// `tcp_syn_linear_timeouts`: how many of the first SYN retransmissions
    /// wait a fixed `TCP_TIMEOUT_INIT` before the backoff starts doubling.
    TCP_SYN_LINEAR_TIMEOUTS, tcp_syn_linear_timeouts = "net.ipv4.tcp_syn_linear_timeouts", &[4], 0, 10,
        "SYN retransmissions with linear (not exponential) timeouts.";
    /// `tcp_synack_retries` (`TCP_SYNACK_RETRIES`).
    TCP_SYNACK_RETRIES, tcp_synack_retries = "net.ipv4.tcp_synack_retries", &[5], 0, 127,
        "SYN-ACK retransmissions before a passive open is dropped.";
    /// `tcp_retries1`: RTOs after which the route is re-checked.
    TCP_RETRIES1, tcp_retries1 = "net.ipv4.tcp_retries1", &[3], 0, 255,
        "Retransmissions before the path is re-validated.";
    /// `tcp_retries2`: RTOs (as a time budget, `retransmits_timed_out()`)
    /// before an established connection gives up with `ETIMEDOUT`.
    TCP_RETRIES2, tcp_retries2 = "net.ipv4.tcp_retries2", &[15], 0, 255,
        "Retransmissions before an established connection is killed.";
    /// `tcp_orphan_retries`: retries for an orphaned socket (0 means 8).
    TCP_ORPHAN_RETRIES, tcp_orphan_retries = "net.ipv4.tcp_orphan_retries", &[0], 0, 255,
        "Retransmissions of an orphaned socket before it is killed (0: 8).";
    /// `tcp_fin_timeout`: seconds an orphan stays in FIN_WAIT2.
    TCP_FIN_TIMEOUT, tcp_fin_timeout = "net.ipv4.tcp_fin_timeout", &[60], 0, INT_MAX,
        "Seconds an orphaned connection stays in FIN_WAIT2.";
    /// `tcp_rmem`: min, default and max receive buffer.
    TCP_RMEM, tcp_rmem = "net.ipv4.tcp_rmem", &[4096, 131072, 33554432], 1, INT_MAX,
        "TCP receive buffer: min, default, max (bytes).";
    /// `tcp_early_retrans`: 3 or 4 let a tail loss probe go
    /// ([`crate::tcp_tlp`]); 0–2 do not (Linux's older early-retransmit
    /// modes, which 6.18 keeps only as off).
    TCP_EARLY_RETRANS, tcp_early_retrans = "net.ipv4.tcp_early_retrans", &[3], 0, 4,
        "Tail loss probes: on with 3 or 4 (RFC 8985 TLP), off with 0-2.";
    /// `tcp_recovery`: RACK's options ([`crate::tcp_recovery`]):
    /// `TCP_RACK_LOSS_DETECTION` (0x1, RACK is the only SACK loss
    /// detection in 6.18, so clearing it changes nothing),
    /// `TCP_RACK_STATIC_REO_WND` (0x2, a reordering window fixed at a
    /// quarter of the min RTT) and `TCP_RACK_NO_DUPTHRESH` (0x4, keep the
    /// window even after `reordering` SACKs).
    TCP_RECOVERY, tcp_recovery = "net.ipv4.tcp_recovery", &[1], 0, 7,
        "RACK options: 0x1 loss detection (always on), 0x2 static reordering window, 0x4 no dupthresh.";
    /// `tcp_min_rtt_wlen`: seconds over which the minimum RTT is kept
    /// (`tcp_update_rtt_min()`).
    TCP_MIN_RTT_WLEN, tcp_min_rtt_wlen = "net.ipv4.tcp_min_rtt_wlen", &[300], 0, 86400,
        "Window, in seconds, of the minimum-RTT filter RACK reads.";
    /// `tcp_frto`: F-RTO (RFC 5682), which tells a spurious RTO by
    /// sending new data after it (`tcp_enter_loss()`,
    /// `tcp_process_loss()`); any nonzero value turns it on (Linux's 1
    /// and 2 both mean the SACK-enhanced version now).
    TCP_FRTO, tcp_frto = "net.ipv4.tcp_frto", &[2], 0, 255,
        "F-RTO spurious-RTO detection (RFC 5682): 0 off, nonzero on.";
    /// `tcp_moderate_rcvbuf`: receive-buffer autotuning on (1) or off
    /// (`tcp_rcv_space_adjust()`, `tcp_rcvbuf_grow()`).
    TCP_MODERATE_RCVBUF, tcp_moderate_rcvbuf = "net.ipv4.tcp_moderate_rcvbuf", &[1], 0, 1,
        "Grow the receive buffer to what the application reads per RTT (1) or not (0).";
    /// `tcp_wmem`: min, default and max send buffer.
    TCP_WMEM, tcp_wmem = "net.ipv4.tcp_wmem", &[4096, 16384, 4194304], 1, INT_MAX,
        "TCP send buffer: min, default, max (bytes).";
    /// `tcp_adv_win_scale`: the share of the receive buffer kept for
    /// overhead (1: half).
    TCP_ADV_WIN_SCALE, tcp_adv_win_scale = "net.ipv4.tcp_adv_win_scale", &[1], -31, 31,
        "Receive-buffer overhead share: window = space - space/2^scale.";
    /// `tcp_base_mss`, `tcp_min_snd_mss`: the least MSS we accept from a peer.
    TCP_MIN_SND_MSS, tcp_min_snd_mss = "net.ipv4.tcp_min_snd_mss", &[48], 48, 65535,
        "Smallest MSS accepted from a peer.";
    /// `tcp_keepalive_time`: seconds of silence before the first keepalive
    /// probe (`TCP_KEEPALIVE_TIME`, 2 hours).
    TCP_KEEPALIVE_TIME, tcp_keepalive_time = "net.ipv4.tcp_keepalive_time", &[7200], 1, 32767,
        "Seconds idle before keepalive probes start.";
    /// `tcp_keepalive_intvl`: seconds between keepalive probes.
    TCP_KEEPALIVE_INTVL, tcp_keepalive_intvl = "net.ipv4.tcp_keepalive_intvl", &[75], 1, 32767,
        "Seconds between keepalive probes.";
    /// `tcp_keepalive_probes`: unanswered probes before the connection dies.
    TCP_KEEPALIVE_PROBES, tcp_keepalive_probes = "net.ipv4.tcp_keepalive_probes", &[9], 1, 127,
        "Unanswered keepalive probes before the connection is reset.";
    /// `tcp_rto_min_us`: the RTO floor in µs.
    TCP_RTO_MIN_US, tcp_rto_min_us = "net.ipv4.tcp_rto_min_us", &[200000], 1, INT_MAX,
        "Minimum retransmission timeout, in microseconds.";
    /// `tcp_rto_max_ms`: the RTO ceiling in ms.
    TCP_RTO_MAX_MS, tcp_rto_max_ms = "net.ipv4.tcp_rto_max_ms", &[120000], 1000, 120000,
        "Maximum retransmission timeout, in milliseconds.";
    /// `tcp_timestamps`: 1 = RFC 7323 timestamps with a per-connection
    /// random offset, 2 = without the offset, 0 = off.
    TCP_TIMESTAMPS, tcp_timestamps = "net.ipv4.tcp_timestamps", &[1], 0, 2,
        "Send and accept RFC 7323 timestamps (1: with random offsets).";
    /// `tcp_sack`: offer and accept SACK (RFC 2018).
    TCP_SACK, tcp_sack = "net.ipv4.tcp_sack", &[1], 0, 1,
        "Offer and accept selective acknowledgments.";
    /// `tcp_window_scaling`: offer and accept window scaling (RFC 7323).
    TCP_WINDOW_SCALING, tcp_window_scaling = "net.ipv4.tcp_window_scaling", &[1], 0, 1,
        "Offer and accept window scaling.";
    /// `tcp_dsack`: send D-SACKs for duplicate data (RFC 2883).
    TCP_DSACK, tcp_dsack = "net.ipv4.tcp_dsack", &[1], 0, 1,
        "Report duplicate segments with D-SACK.";
    /// `tcp_reordering`: the initial duplicate-ACK threshold.
    TCP_REORDERING, tcp_reordering = "net.ipv4.tcp_reordering", &[3], 1, INT_MAX,
        "Initial reordering degree (duplicate-ACK threshold).";
    /// `tcp_max_reordering`: how far measured reordering may raise it.
    TCP_MAX_REORDERING, tcp_max_reordering = "net.ipv4.tcp_max_reordering", &[300], 1, INT_MAX,
        "Largest reordering degree a connection may learn.";
    /// `tcp_invalid_ratelimit`: ms between answers to out-of-window
    /// segments, per socket (`tcp_oow_rate_limited()`).
    TCP_INVALID_RATELIMIT, tcp_invalid_ratelimit = "net.ipv4.tcp_invalid_ratelimit", &[500], 0, INT_MAX,
        "Minimum ms between duplicate ACKs for invalid segments, per socket.";
    /// `tcp_challenge_ack_limit`: challenge ACKs per second, host-wide
    /// (RFC 5961 §7); INT_MAX since Linux 6.0.
    TCP_CHALLENGE_ACK_LIMIT, tcp_challenge_ack_limit = "net.ipv4.tcp_challenge_ack_limit", &[INT_MAX], 0, INT_MAX,
        "Challenge ACKs per second, host-wide.";
    /// `tcp_workaround_signed_windows`: never offer more than 32767
    /// without window scaling.
    TCP_WORKAROUND_SIGNED_WINDOWS, tcp_workaround_signed_windows = "net.ipv4.tcp_workaround_signed_windows", &[0], 0, 1,
        "Offer at most 32767 to peers without window scaling.";
    /// `tcp_max_syn_backlog`: without syncookies, the last quarter of this
    /// many request socks is kept for peers proven alive
    /// (`tcp_conn_request()`). Linux sets it from memory at boot
    /// (`tcp_hashinfo.ehash_mask + 1) / 16`, at least 128); 2048 is what
    /// this 6.18 machine reads.
    TCP_MAX_SYN_BACKLOG, tcp_max_syn_backlog = "net.ipv4.tcp_max_syn_backlog", &[2048], 0, INT_MAX,
        "Request socks allowed per listener before the last quarter is reserved (without syncookies).";
    /// `tcp_abort_on_overflow`: answer a final ACK that finds the accept
    /// queue full with a RST instead of dropping it.
    TCP_ABORT_ON_OVERFLOW, tcp_abort_on_overflow = "net.ipv4.tcp_abort_on_overflow", &[0], 0, 1,
        "Reset connections whose final ACK finds the accept queue full.";
    /// `tcp_syncookies`: 1 = send cookies when the request queue is full,
    /// 2 = always, 0 = never.
    TCP_SYNCOOKIES, tcp_syncookies = "net.ipv4.tcp_syncookies", &[1], 0, 2,
        "Send SYN cookies when the SYN queue overflows (2: always).";
    /// `tcp_comp_sack_nr`: SACKs that may be compressed into one.
    TCP_COMP_SACK_NR, tcp_comp_sack_nr = "net.ipv4.tcp_comp_sack_nr", &[44], 0, 255,
        "Maximum number of SACKs compressed into one.";
    /// `tcp_comp_sack_delay_ns`: the longest a compressed SACK waits.
    TCP_COMP_SACK_DELAY_NS, tcp_comp_sack_delay_ns = "net.ipv4.tcp_comp_sack_delay_ns", &[1_000_000], 0, INT_MAX,
        "Longest delay of a compressed SACK, in ns.";
    /// `tcp_comp_sack_slack_ns`: timer slack of the compressed SACK.
    TCP_COMP_SACK_SLACK_NS, tcp_comp_sack_slack_ns = "net.ipv4.tcp_comp_sack_slack_ns", &[100_000], 0, INT_MAX,
        "Slack of the compressed-SACK timer, in ns.";
    /// `tcp_max_tw_buckets`: the most timewait socks
    /// (`tcp_death_row.sysctl_max_tw_buckets`); past it a closing socket
    /// skips TIME_WAIT (`TCPTimeWaitOverflow`). Linux sets it from the
    /// ehash size at boot; 131072 is what this 6.18 machine reads.
    TCP_MAX_TW_BUCKETS, tcp_max_tw_buckets = "net.ipv4.tcp_max_tw_buckets", &[131072], 0, INT_MAX,
        "Maximum number of timewait sockets.";
    /// `tcp_max_orphans`: the most orphans (sockets the user closed that
    /// TCP still keeps, `SOCK_DEAD`) before `tcp_check_oom()` resets them:
    /// at `close()`, and from the retransmit and probe timers through
    /// `tcp_out_of_resources()`. Linux's is one global (`sysctl_tcp_max_orphans`,
    /// not per namespace), set at boot by `tcp_init()` to half the
    /// established hash's buckets (`(tcp_hashinfo.ehash_mask + 1) / 2`),
    /// a table sized from memory (one bucket per 128 KB, at most 512 Ki):
    /// this 24 GiB 6.18 machine has 262144 buckets and reads 131072, the
    /// figure we take (our own ehash has [`crate::af_inet::TCP_EHASH_ENTRIES`]
    /// buckets, which would give 8192). Ours is per namespace.
    TCP_MAX_ORPHANS, tcp_max_orphans = "net.ipv4.tcp_max_orphans", &[131072], 0, INT_MAX,
        "Maximum number of orphaned TCP sockets before they are reset.";
    /// `tcp_tw_reuse`: may `connect()` take over a TIME_WAIT four-tuple
    /// when timestamps make it safe (`tcp_twsk_unique()`)? 0 no, 1 yes,
    /// 2 only for loopback traffic (the default).
    TCP_TW_REUSE, tcp_tw_reuse = "net.ipv4.tcp_tw_reuse", &[2], 0, 2,
        "Reuse TIME_WAIT sockets for new outgoing connections (2: loopback only).";
    /// `tcp_tw_reuse_delay`: ms a timewait sock must have existed before
    /// `tcp_tw_reuse` may take it (Linux 6.13+; before, 1 s by
    /// `ts_recent_stamp`).
    TCP_TW_REUSE_DELAY, tcp_tw_reuse_delay = "net.ipv4.tcp_tw_reuse_delay", &[1000], 1, INT_MAX,
        "Milliseconds before a TIME_WAIT socket may be reused.";
    /// `tcp_rfc1337`: 1 = a RST does not end TIME_WAIT (RFC 1337's fix for
    /// "TIME-WAIT assassination"); 0 (default) = it does.
    TCP_RFC1337, tcp_rfc1337 = "net.ipv4.tcp_rfc1337", &[0], 0, 1,
        "Ignore RSTs in TIME_WAIT (RFC 1337).";
}
