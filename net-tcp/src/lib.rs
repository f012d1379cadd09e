//! # net-tcp — TCP over IPv4, as Linux 6.18 builds it
//!
//! This crate mirrors Linux's net/ipv4/tcp*.c, inet_hashtables.c,
//! inet_connection_sock.c and af_inet.c. [`inet_init`] wires ARP, IPv4,
//! ICMP, UDP and TCP into a `net_core::Net`; [`TcpSocket`] is the socket a
//! C programmer knows (`bind`, `listen`, `accept`, `connect`, `send`,
//! `recv`, `shutdown`, `close`, `poll`, `setsockopt`).
//!
//! A segment's way in: net-ipv4 hands it to [`tcp_ipv4::tcp_v4_rcv`], which
//! finds the socket in [`inet_hashtables`] (established first, then
//! listening), locks it, and runs the state machine in [`tcp_input`]
//! (`tcp_rcv_established`, `tcp_rcv_state_process`). Data lands on the
//! socket's receive queue; `recv()` ([`tcp`]) copies it out. The way out:
//! `send()` fills the write queue; [`tcp_output`] sends what the windows
//! allow (`tcp_write_xmit` → `tcp_transmit_skb` → IP) and keeps each
//! segment on the retransmit queue until it is acknowledged; the timers in
//! [`tcp_timer`] retransmit, send delayed ACKs and end TIME_WAIT.
//!
//! Locks: each ehash/bhash/lhash2 bucket has a spin lock, each socket one
//! (`TcpSock::lock`, Linux's `bh_lock_sock`). Order: socket, then bucket;
//! a listener before its child; never a child before its listener (a new
//! child is queued on its listener with the child's lock not held). An
//! ehash bucket's socket chain before its request-sock chain. Request
//! socks have no lock: what changes in them is atomic.
//! No lock is held across a wait.
//!
//! Options and loss recovery: every segment carries Linux's options
//! (window scale, SACK, timestamps with PAWS); the receiver reports SACK
//! and D-SACK blocks ([`tcp_input::sack_blocks`]), the sender keeps a
//! scoreboard ([`tcp_input::sacktag`]) and recovers with fast retransmit,
//! NewReno and PRR ([`tcp_input::fastretrans`]) under a pluggable
//! congestion control ([`tcp_cong`]: Reno, and [`tcp_cubic`], CUBIC with
//! HyStart, the default as in Linux); a lost tail is probed before the
//! RTO ([`tcp_tlp`]). The receive buffer grows to what the application
//! reads per round trip ([`tcp_input::autotune`]).
//!
//! TIME_WAIT is a small timewait sock from its own slab
//! ([`inet_timewait_sock`]) in the full socket's place in `ehash`.
//!
//! Still to come: RACK (time-based loss detection, RFC 8985 §6).
//!
//! | our file | Linux file | book section | where we differ |
//! |---|---|---|---|
//! | `af_inet.rs` | net/ipv4/af_inet.c, net/core/sock.c (`sk_setsockopt`), net/ipv4/tcp.c (`do_tcp_setsockopt`) | net-tcp/index | a handle instead of a file descriptor; no `SIGPIPE`; `TCP_INFO` as a struct; the kernel log (`dmesg`) and `net_ratelimit()`'s state kept per namespace |
//! | `sock.rs` | include/net/sock.h, inet_sock.h, inet_connection_sock.h, include/linux/tcp.h | net-tcp/index | one struct: lock-free `sock_common` atomics plus a locked `TcpSk`; retransmit queue in order (a ring, not an rbtree) |
//! | `inet_hashtables.rs` | net/ipv4/inet_hashtables.c | net-tcp/hashtables | spin-locked intrusive chains, not RCU `hlist_nulls`; request socks on a second chain per ehash bucket, not on the one `sock_common` chain; no `bhash2`; reuseport by hash only (no BPF); chains unlink in O(1) through a list id in each member (`HList`) where Linux uses `pprev` |
//! | `sock_reuseport.rs` | net/core/sock_reuseport.c, include/net/sock_reuseport.h | net-tcp/hashtables | no uids, BPF, `SO_INCOMING_CPU` or request migration; a lock per group instead of the global `reuseport_lock` |
//! | `syncookies.rs` | net/ipv4/syncookies.c, include/net/tcp.h (`tcp_cookie_time()`) | net-tcp/syncookies | secrets per namespace from its seed; plain values in, not skbs; no ECN |
//! | `inet_timewait_sock.rs` | include/net/inet_timewait_sock.h, net/ipv4/inet_timewait_sock.c, include/linux/tcp.h (`struct tcp_timewait_sock`) | closing | the slab holds `Arc`s and its length is the death row's count; a third ehash chain and a second bind-bucket owner list; no "time wait bucket table overflow" log (6.18 has none either) |
//! | `request_sock.rs` | include/net/request_sock.h, net/core/request_sock.c, net/ipv4/inet_connection_sock.c (`inet_reqsk_alloc()`, `inet_csk_reqsk_queue_hash_add()`, `reqsk_timer_handler()`, `inet_csk_reqsk_queue_add()`, `inet_csk_complete_hashdance()`) | listen | the slab holds `Arc`s; the accept queue links children, not request socks; no `TCP_DEFER_ACCEPT`, Fast Open or request migration |
//! | `tcp_minisocks.rs` | net/ipv4/tcp_minisocks.c (`tcp_time_wait()`, `tcp_timewait_state_process()`, `tcp_check_req()`, `tcp_create_openreq_child()`, `tcp_child_process()`), tcp_ipv4.c (`tcp_v4_syn_recv_sock()`), syncookies.c (`cookie_v4_check()`'s socket half) | listen | no Fast Open; the child's SYN-ACK sits on its retransmit queue so the final ACK acknowledges it through `tcp_ack()` |
//! | `inet_connection_sock.rs` | net/ipv4/inet_connection_sock.c | net-tcp/hashtables | no uids for `SO_REUSEPORT` |
//! | `tcp_ipv4.rs` | net/ipv4/tcp_ipv4.c, net/core/secure_seq.c | net-tcp/state_machine | no `tcp_filter()`, XFRM or MD5/AO; a request found in ehash is handed to `tcp_check_req()` with its listener |
//! | `tcp_input.rs` | net/ipv4/tcp_input.c | net-tcp/state_machine, data_path, retransmission, listen | header prediction (`pred_flags`) and the slow path, as Linux's `tcp_rcv_established()`; no ECN; `tcp_conn_request()` without Fast Open or TCP metrics (no peer is "proven") |
//! | `tcp_input/sacktag.rs` | net/ipv4/tcp_input.c (`tcp_sacktag_write_queue()` and helpers) | net-tcp/retransmission | a ring, not an rbtree; a block tags only whole skbs; no shifting/merging |
//! | `tcp_input/fastretrans.rs` | net/ipv4/tcp_input.c (`tcp_fastretrans_alert()`, `tcp_identify_packet_loss()`, PRR, `tcp_try_undo_*()`, `tcp_process_loss()` with F-RTO) | net-tcp/retransmission | no ECN |
//! | `tcp_recovery.rs` | net/ipv4/tcp_recovery.c (RACK, `tcp_newreno_mark_lost()`), tcp_rate.c (`prior_delivered` only) | net-tcp/retransmission | the retransmit queue walked in sequence order instead of a time-sorted list |
//! | `tcp_input/autotune.rs` | net/ipv4/tcp_input.c ("Receiver autotuning": `tcp_rcv_rtt_update()`, `tcp_rcv_rtt_measure()`, `tcp_rcv_rtt_measure_ts()`, `tcp_rcvbuf_grow()`, `tcp_rcv_space_adjust()`, the `rcvq_space` part of `tcp_init_buffer_space()`) | net-tcp/data_path | adjusts once per `recv()`, not per skb copied; `window_clamp` not set from `tcp_app_win` |
//! | `tcp_tlp.rs` | net/ipv4/tcp_output.c (`tcp_schedule_loss_probe()`, `tcp_send_loss_probe()`, `tcp_rearm_rto()`'s offset), tcp_input.c (`tcp_process_tlp_ack()`, `tcp_set_xmit_timer()`) | net-tcp/retransmission | no `skb_still_in_host_queue()` |
//! | `tcp_input/sack_blocks.rs` | net/ipv4/tcp_input.c (`tcp_sack_new_ofo_skb`, `tcp_sack_remove`, `tcp_dsack_set`, …) | net-tcp-options/acks | a late block change does not flush a compressed SACK early (the 1 ms timer sends it) |
//! | `tcp_input/collapse.rs` | net/ipv4/tcp_input.c (`tcp_collapse`, `tcp_collapse_ofo_queue`, `tcp_clamp_window`) | net-tcp/data_path | repacks whole queues, not only the bloated stretch; `sk_rcvbuf` not raised |
//! | `tcp_output.rs` | net/ipv4/tcp_output.c | net-tcp/data_path | no TSO, pacing or TSQ; pushing a header on a clone copies it |
//! | `tcp_timer.rs` | net/ipv4/tcp_timer.c | net-tcp/retransmission, closing/orphans | callbacks take the socket lock (no `tcp_release_cb` deferral); `tcp_out_of_resources()` has no `check_net()` case |
//! | `tcp_cong.rs` | net/ipv4/tcp_cong.c, include/net/tcp.h (`struct tcp_congestion_ops`) | net-tcp/retransmission, net-tcp-options/sending | hooks take the locked `TcpSk` (`pkts_acked()` also the `Net`); a global registry without modules or `tcp_allowed_congestion_control`; Reno and CUBIC built in, default `cubic` as in Linux |
//! | `tcp_cubic.rs` | net/ipv4/tcp_cubic.c | net-tcp-options/sending | module parameters are constants; no pacing (`SK_PACING_NONE`; `sk_gso_max_size` taken as 64 KiB); time from `tcp_mstamp`; no SACK RTT samples |
//! | `tcp.rs` | net/ipv4/tcp.c | net-tcp/state_machine, data_path, closing/orphans | no `tcp_mem` (so `tcp_check_oom()` judges orphans only); the orphan count and `tcp_max_orphans` are per namespace, the 100 ms `tcp_orphan_cache` refreshed lazily |
//! | `sysctl_net_ipv4_tcp.rs` | net/ipv4/sysctl_net_ipv4.c, `tcp_sk_init()` | — | only the sysctls whose mechanism exists |
//! | `packetdrill/` | packetdrill's lexer.l, parser.y, run*.c (not Linux) | net-tcp/packetdrill | a subset; blocking calls emulated deterministically; backtick commands are sysctl writes only (no shell) |
//! | `tcphdr.rs` | include/uapi/linux/tcp.h (`struct tcphdr`), include/net/tcp.h (`TCPOPT_*`, `TCPOLEN_*`, `TCPHDR_*`, `tcp_v4_check()`), net/ipv4/tcp_input.c (`tcp_parse_options()`), net/ipv4/tcp_output.c (`tcp_options_write()`) | net-tcp/tcphdr | a checked view instead of a cast; option parsing returns what the segment carries and leaves socket/sysctl gates (`tstamp_ok`, `sack_ok`, `user_mss`) to the caller; SACK blocks returned instead of an offset in `TCP_SKB_CB`; MD5/AO/Fast Open/MPTCP/SMC/AccECN recognised but not decoded or written; `tcpdump_options` has no Linux twin (it mirrors tcpdump's print-tcp.c) |
//! | `tcp_states.rs` | include/net/tcp_states.h | net-tcp/tcp_states | a `#[repr(u8)]` enum; `name()` gives `ss(8)`'s names, which Linux does not have |

// The one `unsafe` block of this crate is `HList::remove`
// (inet_hashtables.rs), allowed there with its proof; Miri checks it.
#![deny(unsafe_code)]

pub mod af_inet;
pub mod inet_connection_sock;
pub mod inet_hashtables;
pub mod inet_timewait_sock;
pub mod packetdrill;
pub mod request_sock;
pub mod sock;
pub mod sock_reuseport;
pub mod syncookies;
pub mod sysctl_net_ipv4_tcp;
pub mod tcp;
pub mod tcp_cong;
pub mod tcp_cubic;
pub mod tcp_input;
pub mod tcp_ipv4;
pub mod tcp_minisocks;
pub mod tcp_offload;
pub mod tcp_output;
pub mod tcp_recovery;
pub mod tcp_states;
pub mod tcp_timer;
pub mod tcp_tlp;
pub mod tcphdr;

pub use af_inet::{TcpClosing, TcpSocket, inet_init};
