//! # net-tcp — TCP over IPv4 (the wire format and the states so far)
//!
//! This crate will mirror Linux's net/ipv4/tcp*.c, inet_*.c,
//! request_sock.c, syncookies.c and af_inet.c, Linux 6.18. What exists
//! today is the bottom layer only:
//!
//! - [`tcphdr`]: the TCP header as a checked zero-copy view, the
//!   pseudo-header checksum, and the options codec — `tcp_parse_options()`,
//!   `tcp_options_write()` with Linux's order and padding, and a
//!   tcpdump-style printer for traces;
//! - [`tcp_states`]: the TCP states with Linux's numbering and `TCPF_*`
//!   flags.
//!
//! Everything else — sockets, the bind/established/listening hash tables,
//! the state machine, timers, the listen queues, congestion control and
//! every closing state — is not written yet; it is the subject of the
//! tracker's TCP issues. No protocol handler is registered with net-ipv4.
//!
//! | our file | Linux file | book section | where we differ |
//! |---|---|---|---|
//! | `tcphdr.rs` | include/uapi/linux/tcp.h (`struct tcphdr`), include/net/tcp.h (`TCPOPT_*`, `TCPOLEN_*`, `TCPHDR_*`, `tcp_v4_check()`), net/ipv4/tcp_input.c (`tcp_parse_options()`), net/ipv4/tcp_output.c (`tcp_options_write()`) | net-tcp/tcphdr | a checked view instead of a cast; option parsing returns what the segment carries and leaves socket/sysctl gates (`tstamp_ok`, `sack_ok`, `user_mss`) to the caller; SACK blocks returned instead of an offset in `TCP_SKB_CB`; MD5/AO/Fast Open/MPTCP/SMC/AccECN recognised but not decoded or written; `tcpdump_options` has no Linux twin (it mirrors tcpdump's print-tcp.c) |
//! | `tcp_states.rs` | include/net/tcp_states.h | net-tcp/tcp_states | a `#[repr(u8)]` enum; `name()` gives `ss(8)`'s names, which Linux does not have |

pub mod af_inet;
pub mod inet_connection_sock;
pub mod inet_hashtables;
pub mod packetdrill;
pub mod sock;
pub mod sysctl_net_ipv4_tcp;
pub mod tcp;
pub mod tcp_input;
pub mod tcp_ipv4;
pub mod tcp_output;
pub mod tcp_states;
pub mod tcp_timer;
pub mod tcphdr;

pub use af_inet::{TcpSocket, inet_init};
