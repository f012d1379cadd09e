//! The TCP socket: `struct sock_common` → `struct sock` → `struct inet_sock`
//! → `struct inet_connection_sock` → `struct tcp_sock`, flattened.
//!
//! Mirrors include/net/sock.h, include/net/inet_sock.h,
//! include/net/inet_connection_sock.h and include/linux/tcp.h of
//! **Linux 6.18**.
//!
//! Linux nests five structs so that generic code can take the outer ones
//! by pointer cast. We split one [`TcpSock`] by *who may read it when*:
//!
//! - the `sock_common` part that the hash lookups read without the socket
//!   lock (`skc_addrpair`, `skc_portpair`, `skc_state`, the reuse flags,
//!   `skc_bound_dev_if`) is atomics on [`TcpSock`] itself, as Linux reads
//!   those fields under RCU only;
//! - everything else — sequence space, queues, timers' state, buffers — is
//!   [`TcpSk`] behind `TcpSock::lock`, Linux's `bh_lock_sock()` (a spin
//!   lock, held briefly, never across a wait);
//! - the wait queue (`sk->sk_wq`) sits beside the lock, so a sleeper never
//!   holds the lock it waits for.
//!
//! # Where we differ
//!
//! - There is no owned-by-user / backlog split (`sock_owned_by_user()`,
//!   `sk_backlog`): the user side takes the same spin lock as the softirq
//!   side and holds it only for the length of one call's bookkeeping.
//! - There are no file descriptors; a [`crate::TcpSocket`] handle is the fd.
//! - One struct serves every state but NEW_SYN_RECV and TIME_WAIT, whose
//!   minisocks are [`crate::request_sock::RequestSock`] and
//!   [`crate::inet_timewait_sock::InetTimewaitSock`].

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use intrusive_collections::{LinkedListAtomicLink, RBTreeAtomicLink, intrusive_adapter};
use net_core::checksum::Wsum;
use net_core::net_namespace::TimerFunc;
use net_core::skbuff::SkBuffHead;
use net_core::timer::TimerId;
use net_core::wait::WaitQueue;
use net_core::{Errno, Net, SkBuff, Skb};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::tcp_states::TcpState;

// -- constants (include/net/tcp.h, include/net/sock.h) --------------------------

// ANCHOR: tcp_timeout_consts
/// `TCP_TIMEOUT_INIT`: the first RTO, 1 s (RFC 6298 §2.1), in jiffies.
pub const TCP_TIMEOUT_INIT: u32 = 1000;
/// `TCP_RTO_MIN`: 200 ms, in jiffies.
pub const TCP_RTO_MIN: u32 = 200;
/// `TCP_TIMEOUT_MIN`: the shortest timer TCP arms, 2 jiffies (2 ms here;
/// 8 ms on a HZ=250 kernel).
pub const TCP_TIMEOUT_MIN: u32 = 2;
/// `TCP_TIMEOUT_MIN_US`: 2 ms in µs, what a tail loss probe waits beyond
/// two RTTs when more than one segment is in flight.
pub const TCP_TIMEOUT_MIN_US: u64 = 2_000;
/// `TCP_RTO_MAX`: 120 s, in jiffies.
pub const TCP_RTO_MAX: u32 = 120_000;
// ANCHOR_END: tcp_timeout_consts
/// `TCP_DELACK_MAX`: 200 ms.
pub const TCP_DELACK_MAX: u32 = 200;
/// `TCP_DELACK_MIN`: 40 ms.
pub const TCP_DELACK_MIN: u32 = 40;
/// `TCP_ATO_MIN`: 40 ms.
pub const TCP_ATO_MIN: u32 = 40;
/// `TCP_TIMEWAIT_LEN`: 60 s, in jiffies.
pub const TCP_TIMEWAIT_LEN: u32 = 60_000;
/// `TCP_FIN_TIMEOUT` (= `TCP_TIMEWAIT_LEN`).
pub const TCP_FIN_TIMEOUT: u32 = TCP_TIMEWAIT_LEN;
/// `TCP_RESOURCE_PROBE_INTERVAL`: 500 ms.
pub const TCP_RESOURCE_PROBE_INTERVAL: u32 = 500;
/// `TCP_MSS_DEFAULT`: the MSS assumed when the peer sends none (RFC 1122/9293: 536).
pub const TCP_MSS_DEFAULT: u16 = 536;
/// `TCP_MIN_MSS`: the smallest MSS Linux uses (`88`).
pub const TCP_MIN_MSS: u16 = 88;
/// `TCP_MAX_WINDOW` without scaling.
pub const TCP_MAX_WINDOW_UNSCALED: u32 = 65535;
/// `TCP_INIT_CWND`: RFC 6928's initial window, 10 segments.
pub const TCP_INIT_CWND: u32 = 10;
/// `TCP_INFINITE_SSTHRESH`.
pub const TCP_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;
/// `MAX_TCP_HEADER`: headroom reserved in every TCP skb (`L1_CACHE_ALIGN(128 + MAX_HEADER)`).
pub const MAX_TCP_HEADER: usize = (128 + net_ipv4::MAX_HEADER + 63) & !63;
/// `sk_lingertime = MAX_SCHEDULE_TIMEOUT`: an `SO_LINGER` close that waits
/// for the ACK of its FIN without a time limit.
pub const SK_LINGER_FOREVER: u32 = u32::MAX;

/// `SOCK_MIN_SNDBUF`: `2 * TCP_SKB_MIN_TRUESIZE` (2 × (2048 + skb overhead)).
pub const SOCK_MIN_SNDBUF: u32 = 4608;
/// `SOCK_MIN_RCVBUF`.
pub const SOCK_MIN_RCVBUF: u32 = 2304;
/// `RCV_SHUTDOWN` bit of `sk_shutdown`.
pub const RCV_SHUTDOWN: u8 = 1;
/// `SEND_SHUTDOWN` bit of `sk_shutdown`.
pub const SEND_SHUTDOWN: u8 = 2;
/// `SHUTDOWN_MASK`.
pub const SHUTDOWN_MASK: u8 = 3;
/// `SOCK_SNDBUF_LOCK` bit of `sk_userlocks` (SO_SNDBUF was set).
pub const SOCK_SNDBUF_LOCK: u8 = 1;
/// `SOCK_RCVBUF_LOCK` bit of `sk_userlocks` (SO_RCVBUF was set).
pub const SOCK_RCVBUF_LOCK: u8 = 2;
/// `SOCK_BINDADDR_LOCK`: bound to a specific address.
pub const SOCK_BINDADDR_LOCK: u8 = 4;
/// `SOCK_BINDPORT_LOCK`: bound to a specific port by the user.
pub const SOCK_BINDPORT_LOCK: u8 = 8;
/// `TCP_NAGLE_OFF`: `TCP_NODELAY` set.
pub const TCP_NAGLE_OFF: u8 = 1;
/// `TCP_NAGLE_CORK`.
pub const TCP_NAGLE_CORK: u8 = 2;
/// `TCP_NAGLE_PUSH`: push regardless, once.
pub const TCP_NAGLE_PUSH: u8 = 4;
/// `ICSK_ACK_SCHED`: an ACK is due.
pub const ICSK_ACK_SCHED: u8 = 1;
/// `ICSK_ACK_TIMER`: the delayed-ACK timer is armed.
pub const ICSK_ACK_TIMER: u8 = 2;
/// `ICSK_ACK_PUSHED`.
pub const ICSK_ACK_PUSHED: u8 = 4;
/// `ICSK_ACK_PUSHED2`: a second short segment arrived while `PUSHED`.
pub const ICSK_ACK_PUSHED2: u8 = 8;
/// `ICSK_ACK_NOW`: send the next ACK at once (once).
pub const ICSK_ACK_NOW: u8 = 16;
/// `ICSK_TIME_RETRANS`: the retransmit timer is armed for an RTO.
pub const ICSK_TIME_RETRANS: u8 = 1;
/// `ICSK_TIME_DACK`.
pub const ICSK_TIME_DACK: u8 = 2;
/// `ICSK_TIME_PROBE0`: the retransmit timer is armed as the zero-window probe.
pub const ICSK_TIME_PROBE0: u8 = 3;
/// `ICSK_TIME_REO_TIMEOUT`: the retransmit timer is armed as RACK's
/// reordering timer (`tcp_rack_mark_lost()`, [`crate::tcp_recovery`]).
pub const ICSK_TIME_REO_TIMEOUT: u8 = 4;
/// `ICSK_TIME_LOSS_PROBE`: the retransmit timer is armed as the tail loss
/// probe (`tcp_schedule_loss_probe()`, [`crate::tcp_tlp`]).
pub const ICSK_TIME_LOSS_PROBE: u8 = 5;

/// `SS_UNCONNECTED`.
pub const SS_UNCONNECTED: u8 = 1;
/// `SS_CONNECTING`.
pub const SS_CONNECTING: u8 = 2;
/// `SS_CONNECTED`.
pub const SS_CONNECTED: u8 = 3;

/// `TCP_CA_Open`: no loss suspected.
pub const TCP_CA_OPEN: u8 = 0;
/// `TCP_CA_Disorder`: duplicate ACKs or SACKs seen, no loss decided yet.
pub const TCP_CA_DISORDER: u8 = 1;
/// `TCP_CA_CWR`: the window is being reduced (ECN, local congestion).
pub const TCP_CA_CWR: u8 = 2;
/// `TCP_CA_Recovery`: fast retransmit / fast recovery is under way.
pub const TCP_CA_RECOVERY: u8 = 3;
/// `TCP_CA_Loss`: after an RTO, everything in flight is deemed lost.
pub const TCP_CA_LOSS: u8 = 4;
/// `TCP_FASTRETRANS_THRESH`: duplicate ACKs that trigger fast retransmit.
pub const TCP_FASTRETRANS_THRESH: u32 = 3;
/// `TCP_PAWS_WINDOW`: a timestamp this much older than `ts_recent` still passes.
pub const TCP_PAWS_WINDOW: i32 = 1;
/// `TCP_PAWS_24DAYS` / `TCP_PAWS_WRAP`: after this many seconds idle,
/// `ts_recent` is too old to judge by.
pub const TCP_PAWS_WRAP: u64 = (i32::MAX as u64) / 1000;
/// `TCP_PAWS_MSL`: seconds a TIME_WAIT timestamp is trusted.
pub const TCP_PAWS_MSL: u64 = 60;
/// `TCP_RMEM_TO_WIN_SCALE`: `scaling_ratio` is a fraction of 256.
pub const TCP_RMEM_TO_WIN_SCALE: u32 = 8;
/// `TCP_DEFAULT_SCALING_RATIO`: half the buffer is payload until measured.
pub const TCP_DEFAULT_SCALING_RATIO: u8 = 1 << (TCP_RMEM_TO_WIN_SCALE - 1);
/// `TCPCB_SACKED_ACKED`: the peer SACKed this skb.
pub const TCPCB_SACKED_ACKED: u8 = 0x01;

/// `TCP_SKB_CB(skb)`: TCP's part of the skb control block
/// (`struct tcp_skb_cb`, include/net/tcp.h): the sequence range an skb on
/// the write, retransmit, receive or out-of-order queue covers, and its
/// flags. Like Linux, we keep SYN and FIN in `tcp_flags` and count them in
/// `end_seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
#[doc(alias = "tcp_skb_cb")]
pub struct TcpSkbCb {
    /// Starting sequence number.
    pub seq: u32,
    /// `seq` + payload length + SYN + FIN.
    pub end_seq: u32,
    /// When this skb was last sent, in ns of the namespace clock
    /// (Linux: `skb->skb_mstamp_ns`); 0 when never sent.
    pub when_ns: u64,
    /// `TCPHDR_*` flags to send with it, or that it arrived with.
    pub tcp_flags: u8,
    /// `sacked`: [`TCPCB_SACKED_RETRANS`], [`TCPCB_LOST`], [`TCPCB_EVER_RETRANS`].
    pub sacked: u8,
    /// How many payload bytes, from `csum_seq`, `csum` sums: see
    /// [`TcpSkbCb::payload_csum`].
    pub csum_len: u16,
    /// Received: the acknowledgment number it carried (`ack_seq`).
    pub ack_seq: u32,
    /// To send: the sum of the payload, taken while `tcp_sendmsg()` copied
    /// it in (Linux without checksum offload: `skb->csum`, accumulated by
    /// `csum_and_copy_from_iter()` and `csum_block_add()`).
    pub csum: u32,
    /// The sequence number the payload `csum` covers started at.
    pub csum_seq: u32,
    /// `tx.delivered`: the socket's `delivered` count when this skb was
    /// last sent (`tcp_rate_skb_sent()`), which tells RACK whether a
    /// D-SACK is older than its last reordering-window change.
    pub tx_delivered: u32,
    /// Padding to the 8-byte alignment `when_ns` sets (zerocopy wants
    /// every byte named).
    _pad: u32,
}

impl TcpSkbCb {
    /// The payload's sum kept from the copy, if it still covers exactly
    /// the `len` payload bytes from `seq` (nothing trimmed, split or
    /// merged since); `None` means sum the bytes again.
    pub fn payload_csum(&self, len: usize) -> Option<Wsum> {
        (usize::from(self.csum_len) == len && self.csum_seq == self.seq).then_some(Wsum(self.csum))
    }
}

/// `TCPCB_SACKED_RETRANS` in [`TcpSkbCb::sacked`]: a retransmission of it
/// is in flight (counted in `retrans_out`).
pub const TCPCB_SACKED_RETRANS: u8 = 0x02;
/// `TCPCB_LOST`: deemed lost (counted in `lost_out`), to be retransmitted.
pub const TCPCB_LOST: u8 = 0x04;
/// `TCPCB_EVER_RETRANS`: sent more than once (Karn's rule: no RTT sample
/// from it).
pub const TCPCB_EVER_RETRANS: u8 = 0x80;

/// `TCP_SKB_CB(skb)`.
#[allow(non_snake_case)]
pub fn TCP_SKB_CB(skb: &SkBuff) -> &TcpSkbCb {
    skb.cb::<TcpSkbCb>()
}

/// `TCP_SKB_CB(skb)`, writable.
#[allow(non_snake_case)]
pub fn TCP_SKB_CB_mut(skb: &mut SkBuff) -> &mut TcpSkbCb {
    skb.cb_mut::<TcpSkbCb>()
}

/// `before(seq1, seq2)`: sequence-space comparison (include/net/tcp.h).
#[inline]
pub fn before(seq1: u32, seq2: u32) -> bool {
    (seq1.wrapping_sub(seq2) as i32) < 0
}

/// `after(seq2, seq1)`.
#[inline]
pub fn after(seq2: u32, seq1: u32) -> bool {
    before(seq1, seq2)
}

/// `between(seq1, seq2, seq3)`: `seq2 <= seq1 <= seq3`.
#[inline]
pub fn between(seq1: u32, seq2: u32, seq3: u32) -> bool {
    seq3.wrapping_sub(seq2) >= seq1.wrapping_sub(seq2)
}

/// `tp->rack` (include/linux/tcp.h): what RACK (RFC 8985) knows of the
/// most recently sent segment that has been delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpRack {
    /// `mstamp`: when that segment was (re)sent, µs (RACK.xmit_ts).
    pub mstamp: u64,
    /// `rtt_us`: the RTT its delivery measured (RACK.rtt).
    pub rtt_us: u32,
    /// `end_seq`: its end (RACK.end_seq), which breaks ties in `mstamp`.
    pub end_seq: u32,
    /// `last_delivered`: `delivered` when the window last grew.
    pub last_delivered: u32,
    /// `reo_wnd_steps`: the reordering window in quarters of the min RTT.
    pub reo_wnd_steps: u8,
    /// `reo_wnd_persist`: recoveries left before the window shrinks back
    /// to one step (`TCP_RACK_RECOVERY_THRESH` after it grows).
    pub reo_wnd_persist: u8,
    /// `dsack_seen`: a D-SACK came since the window last changed.
    pub dsack_seen: bool,
    /// `advanced`: `mstamp` moved since loss was last looked for.
    pub advanced: bool,
}

// -- the out-of-order queue -----------------------------------------------------

/// One out-of-order segment on [`TcpSk::out_of_order_queue`]. Linux links
/// the skb itself into `tp->out_of_order_queue` (an rbtree through
/// `skb->rbnode`); our `SkBuff` carries a list link only, so the tree node
/// wraps the skb.
pub struct OfoNode {
    /// The tree link.
    pub link: RBTreeAtomicLink,
    /// `TCP_SKB_CB(skb)->seq`, cached for the key.
    pub seq: u32,
    /// `TCP_SKB_CB(skb)->end_seq`.
    pub end_seq: u32,
    /// The segment (data at the payload).
    pub skb: Skb,
}

intrusive_adapter!(
    /// Threads [`OfoNode`]s on the out-of-order rbtree.
    pub OfoAdapter = Box<OfoNode>: OfoNode { link => RBTreeAtomicLink }
);

// -- the socket -----------------------------------------------------------------

/// The timers of one socket (`icsk_retransmit_timer`, `icsk_delack_timer`,
/// `sk_timer`). Created with the socket, shut down by
/// `inet_csk_destroy_sock`.
#[derive(Clone, Copy, Debug)]
pub struct SkTimers {
    /// `icsk->icsk_retransmit_timer`: RTO, zero-window probe.
    pub retransmit: TimerId,
    /// `icsk->icsk_delack_timer`.
    pub delack: TimerId,
    /// `sk->sk_timer`: keepalive, SYN-ACK (listener), FIN_WAIT2.
    pub keepalive: TimerId,
    /// `tp->compressed_ack_timer`: sends the SACK held back by SACK
    /// compression (Linux: an hrtimer; ours has jiffy resolution).
    pub compressed_ack: TimerId,
}

/// A TCP socket (`struct tcp_sock`), shared as `Arc<TcpSock>` by the
/// user's handle, the hash tables and the timers.
pub struct TcpSock {
    /// `skc_addrpair`: `inet_daddr` in the high 32 bits, `inet_rcv_saddr`
    /// in the low 32, each as `u32::from(Ipv4Addr)`. Written before the
    /// socket is hashed and not changed while it is.
    pub skc_addrpair: AtomicU64,
    /// `skc_portpair`: `inet_dport` in the high 16 bits, `inet_num` (the
    /// local port) in the low 16, host order.
    pub skc_portpair: AtomicU32,
    /// `skc_state`: the [`TcpState`] as `u8`, kept equal to `TcpSk::state` by
    /// [`crate::tcp::tcp_set_state`].
    pub skc_state: AtomicU8,
    /// `skc_reuse` (`SO_REUSEADDR`).
    pub skc_reuse: AtomicBool,
    /// `skc_reuseport` (`SO_REUSEPORT`).
    pub skc_reuseport: AtomicBool,
    /// `inet_id`: the IP ID of the next datagram this socket sends, DF or
    /// not; random from `connect()` or the child's creation, then counted
    /// up one per segment. Read and set under the socket lock, without a
    /// locked instruction, as Linux's TCP does with its `atomic_t`.
    pub inet_id: std::sync::atomic::AtomicU16,
    /// `sk_reuseport_cb`: the SO_REUSEPORT group of a listener
    /// ([`crate::sock_reuseport`]). Set and cleared only under the
    /// listener's `lhash2` bucket lock; the mutex, never contended, makes
    /// that checkable (Linux: an RCU pointer under `reuseport_lock`).
    pub sk_reuseport_cb: spin::Mutex<Option<Arc<crate::sock_reuseport::SockReuseport>>>,
    /// `skc_bound_dev_if` (0: any).
    pub skc_bound_dev_if: AtomicU32,
    /// `skc_hash` (`sk_hash`): the `ehash` hash of the four-tuple
    /// (`sk_ehashfn()`), stored when the socket is put on an `ehash` chain
    /// ([`crate::inet_hashtables`]) and kept after it leaves, as Linux
    /// keeps it: unhashing the socket, and the timewait sock that takes its
    /// place (`tw_hash`), find the chain without hashing again.
    pub skc_hash: AtomicU32,
    /// `sk_cookie`: a namespace-unique id (`sock_gen_cookie()`).
    pub skc_cookie: u64,
    /// `sk_node` / `sk_nulls_node`: the ehash chain link, or the listening
    /// chain link (`lhash2`) for a listener. Owned by [`crate::inet_hashtables`].
    pub hash_link: LinkedListAtomicLink,
    /// The id of the chain `hash_link` is on (0: none), written under
    /// that chain's lock ([`crate::inet_hashtables::HList`]): what lets a
    /// chain unlink this socket in O(1) and prove it is its own. Linux
    /// needs none: `hlist_node::pprev` points into the chain.
    pub hash_list_id: crate::inet_hashtables::HListId,
    /// `sk_bind_node`: the bind bucket's owner-list link.
    pub bind_link: LinkedListAtomicLink,
    /// The id of the owner list `bind_link` is on (0: none), as
    /// `hash_list_id`.
    pub bind_list_id: crate::inet_hashtables::HListId,
    /// The accept-queue link (Linux links the child's request sock,
    /// `req->dl_next`, on `rskq_accept_head`/`tail`).
    pub accept_link: LinkedListAtomicLink,
    /// `bh_lock_sock()`: everything else.
    pub lock: spin::Mutex<TcpSk>,
    /// `sk->sk_wq`: sleepers in connect/accept/send/recv/close.
    pub wq: WaitQueue,
    /// The socket's timers.
    pub timers: SkTimers,
    /// `tp->mtu_info` with `TCP_MTU_REDUCED_DEFERRED`: a "fragmentation
    /// needed" MTU that arrived while the socket lock was held (0: none),
    /// applied by the next transmit (Linux: `tcp_release_cb()`).
    /// 16 bits: ICMP's next-hop MTU field is (RFC 1191).
    pub mtu_info: std::sync::atomic::AtomicU16,
    /// `sk_rx_dst` + `sk_rx_dst_ifindex`: the input route cached by the
    /// first segment `tcp_rcv_established()` sees, read without the lock
    /// by [`crate::tcp_ipv4::tcp_v4_early_demux`] (Linux: an RCU pointer).
    /// Written under `lock`.
    pub sk_rx_dst: net_ipv4::route::SkRxDst,

    // --- a listener's queues, read without the lock (Linux: READ_ONCE) ---
    /// `icsk_accept_queue`'s counters: request socks (`qlen`, `young`).
    /// The accept queue itself is [`TcpSk::accept_queue`].
    pub icsk_accept_queue: crate::request_sock::RequestSockQueue,
    /// `sk_ack_backlog`: children on the accept queue (`ss`'s Recv-Q).
    pub sk_ack_backlog: AtomicU32,
    /// `sk_max_ack_backlog`: `listen()`'s backlog, clamped by somaxconn
    /// (`ss`'s Send-Q).
    pub sk_max_ack_backlog: AtomicU32,
}

intrusive_adapter!(
    /// Chains sockets through [`TcpSock::hash_link`] (ehash or lhash2).
    pub SkHashAdapter = Arc<TcpSock>: TcpSock { hash_link => LinkedListAtomicLink }
);
intrusive_adapter!(
    /// Chains sockets on a bind bucket through [`TcpSock::bind_link`].
    pub SkBindAdapter = Arc<TcpSock>: TcpSock { bind_link => LinkedListAtomicLink }
);
intrusive_adapter!(
    /// Chains a listener's finished children through [`TcpSock::accept_link`]:
    /// the accept queue, an intrusive FIFO like Linux's `rskq_accept_head`/`tail`.
    pub SkAcceptAdapter = Arc<TcpSock>: TcpSock { accept_link => LinkedListAtomicLink }
);

impl std::fmt::Debug for TcpSock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpSock")
            .field("cookie", &self.skc_cookie)
            .field("state", &self.sk_state())
            .field("local", &(self.inet_rcv_saddr(), self.inet_num()))
            .field("remote", &(self.inet_daddr(), self.inet_dport()))
            .finish()
    }
}

/// Round-trip state of `struct tcp_sock` and `inet_connection_sock`
/// (`srtt_us` etc. are kept in Linux's scaled units).
#[derive(Clone, Copy, Debug, Default)]
pub struct RttState {
    /// `srtt_us`: smoothed RTT << 3, in µs.
    pub srtt_us: u32,
    /// `mdev_us`: medium deviation << 2, in µs.
    pub mdev_us: u32,
    /// `mdev_max_us`: maximal mdev for the last RTT period.
    pub mdev_max_us: u32,
    /// `rttvar_us`: smoothed mdev_max << 2.
    pub rttvar_us: u32,
    /// `rtt_seq`: sequence number to update rttvar.
    pub rtt_seq: u32,
}

/// Options negotiated and state received (`struct tcp_options_received`,
/// include/linux/tcp.h): what the handshake agreed (`tstamp_ok`,
/// `sack_ok`, `wscale_ok` and both scales), the timestamps of the segment
/// being processed (`saw_tstamp`, `rcv_tsval`, `rcv_tsecr`), the last
/// timestamp worth echoing (`ts_recent`, RFC 7323 §4.3) and the SACK blocks
/// we will report (`num_sacks`, `dsack`).
#[derive(Clone, Copy, Debug, Default)]
pub struct RxOpt {
    /// `mss_clamp`: the peer's MSS (or `TCP_MAXSEG`'s, whichever is less).
    pub mss_clamp: u16,
    /// `user_mss`: `TCP_MAXSEG`, 0 when unset.
    pub user_mss: u16,
    /// `saw_tstamp`: the segment being processed carried a timestamp.
    pub saw_tstamp: bool,
    /// `tstamp_ok`: both sides sent TIMESTAMP on the SYNs.
    pub tstamp_ok: bool,
    /// `sack_ok`: both sides sent SACK_PERM (`TCP_SACK_SEEN`).
    pub sack_ok: bool,
    /// `wscale_ok`: both sides sent WSCALE.
    pub wscale_ok: bool,
    /// `snd_wscale`: the peer's shift, applied to windows it sends us.
    pub snd_wscale: u8,
    /// `rcv_wscale`: our shift, applied to windows we send.
    pub rcv_wscale: u8,
    /// `rcv_tsval`: TSval of the segment being processed.
    pub rcv_tsval: u32,
    /// `rcv_tsecr`: TSecr of the segment being processed (with
    /// `tsoffset` already taken off, as `tcp_fast_parse_options()` does).
    pub rcv_tsecr: u32,
    /// `ts_recent`: the TSval we echo (RFC 7323 TS.Recent).
    pub ts_recent: u32,
    /// `ts_recent_stamp`: when `ts_recent` was stored, in seconds.
    pub ts_recent_stamp: u64,
    /// `num_sacks`: valid entries of `TcpSk::selective_acks`.
    pub num_sacks: u8,
    /// `dsack`: `TcpSk::duplicate_sack` is to be sent once.
    pub dsack: bool,
}

/// `inet_connection_sock`'s `icsk_ack` block.
#[derive(Clone, Copy, Debug, Default)]
pub struct IcskAck {
    /// `ICSK_ACK_*` bits.
    pub pending: u8,
    /// Quick-ACK segments left (`quick`).
    pub quick: u8,
    /// Interactive mode (`pingpong`).
    pub pingpong: u8,
    /// Delayed-ACK timeout in jiffies (`ato`).
    pub ato: u32,
    /// When the delayed ACK fires (`timeout`), in jiffies.
    pub timeout: u64,
    /// When the last segment arrived (`lrcvtime`), in `tcp_jiffies32`.
    pub lrcvtime: u32,
    /// MSS of the last segments received (`rcv_mss`).
    pub rcv_mss: u16,
}

/// Everything of a TCP socket that lives under its lock.
pub struct TcpSk {
    // --- sock / inet_sock ---
    /// The state (`sk->sk_state`); change it only with `tcp_set_state`.
    pub state: TcpState,
    /// `inet_saddr`: the source address we send from.
    pub inet_saddr: Ipv4Addr,
    // (`inet_rcv_saddr`, `inet_daddr`, `inet_num`, `inet_dport` live in the
    // lock-free `skc_addrpair`/`skc_portpair` of [`TcpSock`].)
    /// `inet_sport`: the source port segments carry. Linux keeps it apart
    /// from `inet_num`, which `inet_put_port()` clears on CLOSE, so a RST
    /// sent after the port was released still carries it.
    pub inet_sport: u16,
    /// `sk_dst_cache`: the route to the peer, with the routing generation
    /// it was taken in and when to look again (jiffies) — see
    /// [`crate::tcp_output::__sk_dst_check`].
    pub sk_dst_cache: Option<(net_ipv4::route::Rtable, u32, u64)>,
    /// The route's device takes GSO packets (`sk_can_gso()`, from the
    /// `sk_route_caps` that `sk_setup_caps()` copies from the device): set
    /// with `sk_dst_cache`, only for a unicast route out of the host.
    pub sk_gso: bool,
    /// `sk_userlocks`: `SOCK_*_LOCK` bits.
    pub sk_userlocks: u8,
    /// `sk_err`: a hard error for the next call (reported once).
    pub sk_err: Option<Errno>,
    /// `sk_err_soft`: a soft error (ICMP), reported on timeout.
    pub sk_err_soft: Option<Errno>,
    /// `sk_shutdown`: `RCV_SHUTDOWN` | `SEND_SHUTDOWN`.
    pub sk_shutdown: u8,
    /// `sk_rcvbuf` in bytes (what `SO_RCVBUF` doubled).
    pub sk_rcvbuf: u32,
    /// `sk_sndbuf` in bytes.
    pub sk_sndbuf: u32,
    /// `sk_rmem_alloc`: truesize of skbs on the receive and ofo queues.
    pub sk_rmem_alloc: u32,
    /// `sk_wmem_queued`: truesize of skbs on the write and retransmit queues.
    pub sk_wmem_queued: u32,
    /// `sk_rcvtimeo` (`SO_RCVTIMEO`).
    pub sk_rcvtimeo: SockTimeo,
    /// `sk_sndtimeo` (`SO_SNDTIMEO`).
    pub sk_sndtimeo: SockTimeo,
    /// `SO_LINGER`: `Some(seconds)` when `l_onoff` (`SOCK_LINGER` with
    /// `sk_lingertime`); [`SK_LINGER_FOREVER`] for a negative `l_linger`,
    /// which Linux reads as unsigned and turns into `MAX_SCHEDULE_TIMEOUT`.
    pub sk_linger: Option<u32>,
    /// `SOCK_DONE`: the peer's FIN arrived (`tcp_fin()`): `recv()` returns
    /// 0 from then on, before it would report a pending error.
    pub done: bool,
    /// Something a sleeper may wait for changed (Linux calls
    /// `sk_data_ready()` / `sk_state_change()` / `sk_write_space()` at once;
    /// we wake after the lock is dropped).
    pub wake_pending: bool,
    /// `SOCK_DEAD`: orphaned by close; the user will never look again.
    pub dead: bool,
    /// `sock->state`: `SS_UNCONNECTED`, `SS_CONNECTING`, `SS_CONNECTED`
    /// (the socket layer's view, which `connect()` consults).
    pub socket_state: u8,
    /// `O_NONBLOCK` on the (only) file of this socket.
    pub nonblock: bool,
    /// `sk_receive_queue`: in-order data not yet read, payload at `data`.
    pub sk_receive_queue: SkBuffHead,
    /// `sk_write_queue`: data not yet sent.
    pub sk_write_queue: SkBuffHead,
    /// `tcp_rtx_queue`: sent, not yet acknowledged, in sequence order.
    /// Linux keeps an rbtree so SACK can find any skb; we keep a ring,
    /// since without SACK only the head and a walk from it are needed, and
    /// skbs on it are changed in place (trimmed, marked retransmitted).
    pub tcp_rtx_queue: VecDeque<Skb>,
    /// `out_of_order_queue`: an rbtree in sequence order (placed with
    /// `before()`/`after()` as Linux's `tcp_data_queue_ofo()` walks it).
    pub out_of_order_queue: intrusive_collections::RBTree<OfoAdapter>,

    // --- inet_connection_sock ---
    /// `icsk_rto` in jiffies.
    pub icsk_rto: u32,
    /// `icsk_backoff`: exponential backoff shift.
    pub icsk_backoff: u8,
    /// `icsk_retransmits`: RTOs in a row without progress.
    pub icsk_retransmits: u8,
    /// `icsk_probes_out`: zero-window or keepalive probes unanswered.
    pub icsk_probes_out: u8,
    /// `icsk_probes_tstamp`: when the first unanswered zero-window probe
    /// timer fired, in jiffies (0 = none), for `TCP_USER_TIMEOUT`.
    pub icsk_probes_tstamp: u32,
    /// `icsk_syn_retries` (`TCP_SYNCNT`; 0 = the sysctl).
    pub icsk_syn_retries: u8,
    /// `icsk_user_timeout` in ms (`TCP_USER_TIMEOUT`; 0 = off).
    pub icsk_user_timeout: u32,
    /// `icsk_ca_state`: [`TCP_CA_OPEN`], [`TCP_CA_DISORDER`],
    /// [`TCP_CA_CWR`], [`TCP_CA_RECOVERY`] or [`TCP_CA_LOSS`]; change it
    /// with `tcp_set_ca_state()` so the congestion control hears of it.
    pub icsk_ca_state: u8,
    /// `high_seq`: `snd_nxt` when the Loss state was entered.
    pub high_seq: u32,
    /// `lost_out`: segments in flight marked [`TCPCB_LOST`].
    pub lost_out: u32,
    /// `total_rto`: RTOs in this connection's life (for
    /// `tcp_syn_linear_timeouts`).
    pub total_rto: u32,
    /// `icsk_pending`: `ICSK_TIME_*` the retransmit timer is armed for.
    pub icsk_pending: u8,
    /// `icsk_timeout`: when the retransmit timer fires, in jiffies.
    pub icsk_timeout: u64,
    /// `icsk_ack`.
    pub icsk_ack: IcskAck,
    /// `icsk_accept_queue.rskq_accept_head/tail`: children whose handshake
    /// completed, oldest first, until `accept()` takes them — an intrusive
    /// FIFO through each child's `accept_link`, so queueing allocates
    /// nothing. Its length is [`TcpSock::sk_ack_backlog`]. (Linux links the
    /// request socks, whose `req->sk` is the child; we free the request
    /// when the child is built, so the child carries the link.)
    pub accept_queue: intrusive_collections::LinkedList<SkAcceptAdapter>,

    // --- tcp_sock ---
    /// `rcv_nxt`: what we want to receive next.
    pub rcv_nxt: u32,
    /// `copied_seq`: head of yet unread data.
    pub copied_seq: u32,
    /// `rcv_wup`: `rcv_nxt` at the last window update sent.
    pub rcv_wup: u32,
    /// `snd_nxt`: next sequence we send.
    pub snd_nxt: u32,
    /// `snd_una`: first byte we want an ACK for.
    pub snd_una: u32,
    /// `snd_sml`: last byte of the most recently sent small packet (Nagle).
    pub snd_sml: u32,
    /// `write_seq`: tail (+1) of data held in the send buffer.
    pub write_seq: u32,
    /// `pushed_seq`: last pushed seq.
    pub pushed_seq: u32,
    /// `snd_wl1`: sequence for the last window update.
    pub snd_wl1: u32,
    /// `snd_wnd`: the window we may send into.
    pub snd_wnd: u32,
    /// `max_window`: the largest window the peer ever offered.
    pub max_window: u32,
    /// `mss_cache`: current effective sending MSS.
    pub mss_cache: u16,
    /// `icsk_pmtu_cookie`: the path MTU `mss_cache` was computed from
    /// (`tcp_sync_mss()`), at most 65535 (an IPv4 datagram's longest; `lo`'s
    /// 65536 counts as that); 0 before the first. 16 bits, where Linux's is
    /// 32, keep `TcpSock` with its `Arc` within glibc's per-thread cache of
    /// 1,032-byte blocks: at 1,040 bytes each connection's two sockets were
    /// 425 instructions dearer to allocate.
    pub icsk_pmtu_cookie: u16,
    /// `advmss`: the MSS we advertise.
    pub advmss: u16,
    /// `window_clamp`: the largest window to advertise.
    pub window_clamp: u32,
    /// `rcv_ssthresh`: current window clamp.
    pub rcv_ssthresh: u32,
    /// `rcv_wnd`: current receiver window (what we last advertised).
    pub rcv_wnd: u32,
    /// RTT estimator state.
    pub rtt: RttState,
    /// `packets_out`: segments in flight.
    pub packets_out: u32,
    /// `retrans_out`: retransmitted segments in flight.
    pub retrans_out: u32,
    /// `total_retrans`.
    pub total_retrans: u32,
    /// `dsack_dups`: segments D-SACKs have reported duplicated; more than
    /// `total_retrans` means a D-SACK was not about our retransmissions
    /// (`tcp_dsack_seen()`).
    pub dsack_dups: u32,
    /// `retrans_stamp`: when the head was first retransmitted (Linux reads
    /// the skb's timestamp after `__tcp_retransmit_skb()` restamped it), in
    /// jiffies — for a SYN, when it was first sent (`tcp_connect()`); 0
    /// when no retransmission is outstanding. The give-up budgets count
    /// from here. 32 bits, as Linux's; differences are taken wrapping.
    pub retrans_stamp: u32,
    /// `snd_cwnd`.
    pub snd_cwnd: u32,
    /// `is_cwnd_limited`: the last `tcp_write_xmit()` stopped because the
    /// congestion window was full.
    pub is_cwnd_limited: bool,
    /// `max_packets_out`: the most segments in flight in the last window.
    pub max_packets_out: u32,
    /// `cwnd_usage_seq`: right edge of the window `max_packets_out` covers.
    pub cwnd_usage_seq: u32,
    /// `snd_cwnd_cnt`: linear increase counter.
    pub snd_cwnd_cnt: u32,
    /// `snd_ssthresh`.
    pub snd_ssthresh: u32,
    /// `rx_opt`.
    pub rx_opt: RxOpt,
    /// `nonagle`: `TCP_NAGLE_*` bits.
    pub nonagle: u8,
    /// `lsndtime`: last time we sent data, in jiffies (32 bits, as Linux's
    /// `tcp_jiffies32`).
    pub lsndtime: u32,
    /// `rcv_tstamp`: last time an ACK arrived, in jiffies (32 bits, as
    /// Linux's `tcp_jiffies32`).
    pub rcv_tstamp: u32,
    /// `tcp_mstamp`: the clock in µs, refreshed (`tcp_mstamp_refresh()`)
    /// when a segment arrives, before transmitting and when a timer fires.
    /// Congestion control reads time from here ([`TcpSk::tcp_jiffies32`]).
    pub tcp_mstamp: u64,
    /// `sk_pacing_rate`: bytes per second, 200 % of cwnd·mss/srtt in slow
    /// start, 120 % after ([`crate::tcp_input::tcp_update_pacing_rate`]).
    /// Nothing paces with it here (no fq, no internal pacing); CUBIC's
    /// HyStart reads it (`hystart_ack_delay()`), as in Linux.
    pub sk_pacing_rate: u64,
    /// `segs_in`.
    pub segs_in: u32,
    /// `segs_out`.
    pub segs_out: u32,
    /// `bytes_acked`.
    pub bytes_acked: u64,
    /// `bytes_received`.
    pub bytes_received: u64,
    /// `SOCK_KEEPOPEN` (`SO_KEEPALIVE`).
    pub keepalive: bool,
    /// `keepalive_time` (`TCP_KEEPIDLE`) in seconds; 0: the sysctl.
    pub keepalive_time: u32,
    /// `keepalive_intvl` (`TCP_KEEPINTVL`) in seconds; 0: the sysctl.
    pub keepalive_intvl: u32,
    /// `keepalive_probes` (`TCP_KEEPCNT`); 0: the sysctl.
    pub keepalive_probes: u8,
    /// `linger2` (`TCP_LINGER2`, seconds; 0 = the sysctl).
    pub linger2: i32,

    // --- options, SACK, recovery, congestion control ---
    /// `tsoffset`: added to our clock in TSval, per connection
    /// (`secure_tcp_ts_off()`), so TSval does not reveal uptime.
    pub tsoffset: u32,
    /// `tcp_header_len`: the TCP header of a data segment, with the
    /// timestamp option if negotiated (20 or 32).
    pub tcp_header_len: u16,
    /// `pred_flags`: the header-prediction word a segment must match to
    /// take the fast path of `tcp_rcv_established()` (doff, ACK alone, and
    /// the window field we expect), or 0 when the fast path is off. See
    /// `tcp_fast_path_on()` in tcp_input.rs.
    pub pred_flags: u32,
    /// `rcv_rtt_est`: the receiver's own RTT estimate, for autotuning
    /// (see [`crate::tcp_input::autotune`]).
    pub rcv_rtt_est: crate::tcp_input::autotune::RcvRttEst,
    /// `rcvq_space`: what the application read in the last RTT.
    pub rcvq_space: crate::tcp_input::autotune::RcvqSpace,
    /// `rcv_rtt_last_tsecr`: the TSecr the last timestamp RTT sample used.
    pub rcv_rtt_last_tsecr: u32,
    /// `tlp_high_seq`: `snd_nxt` when the outstanding tail loss probe was
    /// sent; 0 when none is ([`crate::tcp_tlp`]).
    pub tlp_high_seq: u32,
    /// `tlp_retrans`: that probe resent old data (rather than new).
    pub tlp_retrans: bool,
    /// `frto`: F-RTO (RFC 5682) is judging the last RTO
    /// (`tcp_enter_loss()`, `tcp_process_loss()`).
    pub frto: bool,
    /// `rack`: RACK's state, the most recently sent segment the peer has
    /// (S)ACKed ([`crate::tcp_recovery`]).
    pub rack: TcpRack,
    /// `rtt_min`: the minimum RTT (µs) over `tcp_min_rtt_wlen` seconds of
    /// jiffies (`tcp_min_rtt()`; `u32::MAX` before the first sample).
    pub rtt_min: net_core::win_minmax::Minmax,
    /// `delivered`: segments delivered so far, SACKed or cumulatively
    /// acknowledged (`tcp_count_delivered()`; `tcpi_delivered`).
    pub delivered: u32,
    /// `reord_seen`: times reordering was detected (`tcpi_reord_seen`);
    /// until the first, RACK waits no reordering window in recovery.
    pub reord_seen: u32,
    /// `scaling_ratio`: payload bytes per 256 bytes of `truesize` seen
    /// lately (`tcp_measure_rcv_mss()`); `tcp_win_from_space()` uses it.
    pub scaling_ratio: u8,
    /// `selective_acks`: the SACK blocks we report, most recent first.
    pub selective_acks: [crate::tcphdr::TcpSackBlock; 4],
    /// `duplicate_sack`: the D-SACK block sent once (RFC 2883).
    pub duplicate_sack: [crate::tcphdr::TcpSackBlock; 1],
    /// `sacked_out`: segments the peer SACKed (with SACK), or duplicate
    /// ACKs seen (Reno, `tcp_add_reno_sack()`).
    pub sacked_out: u32,
    /// `highest_sack`: end of the highest SACKed skb (None: none).
    pub highest_sack: Option<u32>,
    /// `reordering`: the duplicate-ACK threshold (`tcp_reordering`, 3).
    pub reordering: u32,
    /// `prior_ssthresh`: `snd_ssthresh` before the last reduction (undo).
    pub prior_ssthresh: u32,
    /// `prior_cwnd`: `snd_cwnd` when recovery began (PRR).
    pub prior_cwnd: u32,
    /// `undo_marker`: `snd_una` when recovery began (0: no undo possible).
    pub undo_marker: u32,
    /// `undo_retrans`: retransmissions not yet shown spurious.
    pub undo_retrans: i32,
    /// `prr_delivered`: segments delivered since recovery began (RFC 6937).
    pub prr_delivered: u32,
    /// `prr_out`: segments sent since recovery began (RFC 6937).
    pub prr_out: u32,
    /// `snd_cwnd_stamp`: when `snd_cwnd` last changed, in jiffies (32
    /// bits).
    pub snd_cwnd_stamp: u32,
    /// `last_oow_ack_time`: when we last answered an out-of-window
    /// segment (`tcp_oow_rate_limited()`), in jiffies; 0 = never.
    pub last_oow_ack_time: u32,
    /// `compressed_ack`: SACKs held back (`tcp_comp_sack_*`).
    pub compressed_ack: u32,
    /// `dup_ack_counter`: duplicate ACKs sent at once before compressing.
    pub dup_ack_counter: u8,
    /// `compressed_ack_rcv_nxt`: `rcv_nxt` when compression began.
    pub compressed_ack_rcv_nxt: u32,
    /// `icsk_ca_ops`: the congestion control algorithm.
    pub icsk_ca_ops: &'static dyn crate::tcp_cong::TcpCongestionOps,
    /// `icsk_ca_priv`: the algorithm's private state (`ICSK_CA_PRIV_SIZE`,
    /// 104 bytes in Linux).
    pub icsk_ca_priv: [u64; 13],
    /// `icsk_ca_initialized`: `init()` ran.
    pub icsk_ca_initialized: bool,
}

static NEXT_COOKIE: AtomicU64 = AtomicU64::new(1);

/// `from_timer(sk, t, …)` for the timers of a [`TcpSock`]: the container a
/// [`TimerFunc::Weak`] timer handed back is the socket; run `handler` on it.
#[inline]
fn from_timer(net: &Net, container: Arc<dyn std::any::Any + Send + Sync>, handler: fn(&Net, &Arc<TcpSock>)) {
    if let Ok(sk) = container.downcast::<TcpSock>() {
        handler(net, &sk);
    }
}

impl TcpSock {
    /// A new socket in CLOSE with the namespace's buffer defaults, its four
    /// timers set up (not armed). Mirrors `sk_alloc()` + `tcp_init_sock()`.
    pub fn new(net: &Net, rcvbuf: u32, sndbuf: u32) -> Arc<TcpSock> {
        Arc::new_cyclic(|w: &Weak<TcpSock>| {
            // The four timers point back at the socket through weak
            // references to its one allocation (Linux embeds them and
            // finds the socket with `from_timer()`): setting them up
            // allocates nothing.
            let w: Weak<dyn std::any::Any + Send + Sync> = w.clone();
            let [retransmit, delack, keepalive, compressed_ack] = net.timer_setup_n([
                TimerFunc::Weak(|net, c| from_timer(net, c, crate::tcp_timer::tcp_write_timer), w.clone()),
                TimerFunc::Weak(|net, c| from_timer(net, c, crate::tcp_timer::tcp_delack_timer), w.clone()),
                TimerFunc::Weak(
                    |net, c| from_timer(net, c, crate::tcp_timer::tcp_keepalive_timer),
                    w.clone(),
                ),
                TimerFunc::Weak(|net, c| from_timer(net, c, crate::tcp_timer::tcp_compressed_ack_kick), w),
            ]);
            let timers = SkTimers { retransmit, delack, keepalive, compressed_ack };
            TcpSock {
                skc_addrpair: AtomicU64::new(0),
                skc_portpair: AtomicU32::new(0),
                skc_state: AtomicU8::new(TcpState::Close as u8),
                skc_reuse: AtomicBool::new(false),
                skc_reuseport: AtomicBool::new(false),
                inet_id: std::sync::atomic::AtomicU16::new(0),
                sk_reuseport_cb: spin::Mutex::new(None),
                skc_bound_dev_if: AtomicU32::new(0),
                skc_hash: AtomicU32::new(0),
                skc_cookie: NEXT_COOKIE.fetch_add(1, Ordering::Relaxed),
                hash_link: LinkedListAtomicLink::new(),
                hash_list_id: crate::inet_hashtables::HListId::new(),
                bind_link: LinkedListAtomicLink::new(),
                bind_list_id: crate::inet_hashtables::HListId::new(),
                accept_link: LinkedListAtomicLink::new(),
                lock: spin::Mutex::new(TcpSk::new(rcvbuf, sndbuf)),
                wq: WaitQueue::new(),
                timers,
                mtu_info: std::sync::atomic::AtomicU16::new(0),
                sk_rx_dst: net_ipv4::route::SkRxDst::new(),
                icsk_accept_queue: Default::default(),
                sk_ack_backlog: AtomicU32::new(0),
                sk_max_ack_backlog: AtomicU32::new(0),
            }
        })
    }

    /// `sk->sk_state`, read without the lock.
    pub fn sk_state(&self) -> TcpState {
        TcpState::from_u8(self.skc_state.load(Ordering::Acquire)).unwrap_or(TcpState::Close)
    }

    /// `inet_rcv_saddr`, from `skc_addrpair`.
    pub fn inet_rcv_saddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.skc_addrpair.load(Ordering::Acquire) as u32)
    }

    /// `inet_daddr`, from `skc_addrpair`.
    pub fn inet_daddr(&self) -> Ipv4Addr {
        Ipv4Addr::from((self.skc_addrpair.load(Ordering::Acquire) >> 32) as u32)
    }

    /// `inet_num`, from `skc_portpair`.
    pub fn inet_num(&self) -> u16 {
        self.skc_portpair.load(Ordering::Acquire) as u16
    }

    /// `inet_dport`, from `skc_portpair`.
    pub fn inet_dport(&self) -> u16 {
        (self.skc_portpair.load(Ordering::Acquire) >> 16) as u16
    }

    /// Publish the four-tuple to the lock-free fields (call before hashing).
    pub fn set_skc_addrs(&self, rcv_saddr: Ipv4Addr, num: u16, daddr: Ipv4Addr, dport: u16) {
        let ap = (u64::from(u32::from(daddr)) << 32) | u64::from(u32::from(rcv_saddr));
        self.skc_addrpair.store(ap, Ordering::Release);
        self.skc_portpair.store((u32::from(dport) << 16) | u32::from(num), Ordering::Release);
    }

    /// Set `inet_rcv_saddr` and `inet_num`, keeping the peer half.
    pub fn set_skc_local(&self, rcv_saddr: Ipv4Addr, num: u16) {
        self.set_skc_addrs(rcv_saddr, num, self.inet_daddr(), self.inet_dport());
    }

    /// `INET_MATCH()` for an arriving segment (`saddr:sport` → `daddr:dport`)
    /// against this socket's four-tuple and bound device.
    #[inline]
    pub fn inet_match(&self, acookie: u64, ports: u32, dif: u32) -> bool {
        self.skc_addrpair.load(Ordering::Relaxed) == acookie
            && self.skc_portpair.load(Ordering::Relaxed) == ports
            && {
                let b = self.skc_bound_dev_if.load(Ordering::Relaxed);
                b == 0 || b == dif
            }
    }
}

/// `INET_ADDR_COOKIE(saddr, daddr)` for a segment from `saddr` to `daddr`:
/// compares equal to the `skc_addrpair` of the socket it belongs to.
#[inline]
pub fn inet_addr_cookie(saddr: Ipv4Addr, daddr: Ipv4Addr) -> u64 {
    (u64::from(u32::from(saddr)) << 32) | u64::from(u32::from(daddr))
}

/// `INET_COMBINED_PORTS(sport, dport)` for a segment from port `sport` to
/// `dport`: compares equal to the socket's `skc_portpair`.
#[inline]
pub fn inet_combined_ports(sport: u16, dport: u16) -> u32 {
    (u32::from(sport) << 16) | u32::from(dport)
}

/// `tcp_jiffies32`: the jiffies clock cut to 32 bits, as the socket's
/// timestamps in jiffies keep it (`lsndtime`, `snd_cwnd_stamp`,
/// `icsk_probes_tstamp`); differences of two are taken wrapping.
#[inline]
pub fn tcp_jiffies32(net: &net_core::Net) -> u32 {
    net.jiffies() as u32
}

/// A blocking call's time limit (`sk_rcvtimeo`, `sk_sndtimeo`), in ns.
/// "None" is stored as Linux stores it, `MAX_SCHEDULE_TIMEOUT` (here
/// `u64::MAX`): eight bytes where an `Option<u64>` takes sixteen, which
/// helps keep [`TcpSock`] inside the allocator's per-thread cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockTimeo(u64);

impl SockTimeo {
    /// No limit: block until the call can complete.
    pub const MAX_SCHEDULE_TIMEOUT: SockTimeo = SockTimeo(u64::MAX);

    /// `Some(ns)` is a limit, `None` none.
    pub fn from_ns(ns: Option<u64>) -> SockTimeo {
        ns.map_or(Self::MAX_SCHEDULE_TIMEOUT, SockTimeo)
    }

    /// The limit in ns, or `None` for none.
    pub fn ns(self) -> Option<u64> {
        (self != Self::MAX_SCHEDULE_TIMEOUT).then_some(self.0)
    }
}

impl TcpSk {
    /// Mirrors `tcp_mstamp_refresh()` (include/net/tcp.h): read the clock
    /// into `tcp_mstamp` (µs).
    pub fn tcp_mstamp_refresh(&mut self, net: &net_core::Net) {
        self.tcp_mstamp = net.now_ns() / 1000;
    }

    /// `tcp_jiffies32`: jiffies, 32 bits. Linux reads the global `jiffies`;
    /// the congestion hooks here have no `Net`, so we take it from
    /// `tcp_mstamp` — the same clock at HZ = 1000, read at the last refresh.
    pub fn tcp_jiffies32(&self) -> u32 {
        (self.tcp_mstamp / (1_000_000 / net_core::jiffies::HZ)) as u32
    }

    fn new(rcvbuf: u32, sndbuf: u32) -> TcpSk {
        TcpSk {
            state: TcpState::Close,
            inet_saddr: Ipv4Addr::UNSPECIFIED,
            inet_sport: 0,
            sk_dst_cache: None,
            sk_gso: false,
            sk_userlocks: 0,
            sk_err: None,
            sk_err_soft: None,
            sk_shutdown: 0,
            sk_rcvbuf: rcvbuf,
            sk_sndbuf: sndbuf,
            sk_rmem_alloc: 0,
            sk_wmem_queued: 0,
            sk_rcvtimeo: SockTimeo::MAX_SCHEDULE_TIMEOUT,
            sk_sndtimeo: SockTimeo::MAX_SCHEDULE_TIMEOUT,
            sk_linger: None,
            done: false,
            wake_pending: false,
            dead: false,
            socket_state: SS_UNCONNECTED,
            nonblock: false,
            sk_receive_queue: SkBuffHead::new(),
            sk_write_queue: SkBuffHead::new(),
            tcp_rtx_queue: VecDeque::new(),
            out_of_order_queue: intrusive_collections::RBTree::new(OfoAdapter::new()),
            icsk_rto: TCP_TIMEOUT_INIT,
            icsk_backoff: 0,
            icsk_retransmits: 0,
            icsk_probes_out: 0,
            icsk_probes_tstamp: 0,
            icsk_syn_retries: 0,
            icsk_user_timeout: 0,
            icsk_ca_state: TCP_CA_OPEN,
            high_seq: 0,
            lost_out: 0,
            total_rto: 0,
            icsk_pending: 0,
            icsk_timeout: 0,
            icsk_ack: IcskAck::default(),
            accept_queue: intrusive_collections::LinkedList::new(SkAcceptAdapter::new()),
            rcv_nxt: 0,
            copied_seq: 0,
            rcv_wup: 0,
            snd_nxt: 0,
            snd_una: 0,
            snd_sml: 0,
            write_seq: 0,
            pushed_seq: 0,
            snd_wl1: 0,
            snd_wnd: 0,
            max_window: 0,
            mss_cache: TCP_MSS_DEFAULT,
            icsk_pmtu_cookie: 0,
            advmss: TCP_MSS_DEFAULT,
            window_clamp: 0,
            rcv_ssthresh: 0,
            rcv_wnd: 0,
            rtt: RttState { mdev_us: TCP_TIMEOUT_INIT * 1000, ..RttState::default() },
            packets_out: 0,
            retrans_out: 0,
            total_retrans: 0,
            dsack_dups: 0,
            retrans_stamp: 0,
            snd_cwnd: TCP_INIT_CWND,
            is_cwnd_limited: false,
            max_packets_out: 0,
            cwnd_usage_seq: 0,
            snd_cwnd_cnt: 0,
            snd_ssthresh: TCP_INFINITE_SSTHRESH,
            rx_opt: RxOpt { mss_clamp: TCP_MSS_DEFAULT, ..RxOpt::default() },
            nonagle: 0,
            lsndtime: 0,
            rcv_tstamp: 0,
            tcp_mstamp: 0,
            sk_pacing_rate: 0,
            segs_in: 0,
            segs_out: 0,
            bytes_acked: 0,
            bytes_received: 0,
            keepalive: false,
            keepalive_time: 0,
            keepalive_intvl: 0,
            keepalive_probes: 0,
            linger2: 0,
            tsoffset: 0,
            tcp_header_len: crate::tcphdr::TCPHDR_LEN as u16,
            pred_flags: 0,
            rcv_rtt_est: Default::default(),
            rcvq_space: Default::default(),
            rcv_rtt_last_tsecr: 0,
            tlp_high_seq: 0,
            tlp_retrans: false,
            frto: false,
            // tcp_init_sock(): minmax_reset(&tp->rtt_min, …, ~0U) and
            // rack.reo_wnd_steps = 1.
            rack: TcpRack { reo_wnd_steps: 1, ..TcpRack::default() },
            rtt_min: net_core::win_minmax::Minmax {
                s: [net_core::win_minmax::MinmaxSample { t: 0, v: u32::MAX }; 3],
            },
            delivered: 0,
            reord_seen: 0,
            scaling_ratio: TCP_DEFAULT_SCALING_RATIO,
            selective_acks: Default::default(),
            duplicate_sack: Default::default(),
            sacked_out: 0,
            highest_sack: None,
            reordering: 3,
            prior_ssthresh: 0,
            prior_cwnd: 0,
            undo_marker: 0,
            undo_retrans: 0,
            prr_delivered: 0,
            prr_out: 0,
            snd_cwnd_stamp: 0,
            last_oow_ack_time: 0,
            compressed_ack: 0,
            dup_ack_counter: 0,
            compressed_ack_rcv_nxt: 0,
            icsk_ca_ops: &crate::tcp_cong::TCP_RENO,
            icsk_ca_priv: [0; 13],
            icsk_ca_initialized: false,
        }
    }

    /// Bytes in the receive queue not yet read (`tcp_inq()`-ish).
    pub fn rcv_queued(&self) -> u32 {
        self.rcv_nxt.wrapping_sub(self.copied_seq)
    }

    /// `tcp_wnd_end()`: the right edge of the send window.
    pub fn tcp_wnd_end(&self) -> u32 {
        self.snd_una.wrapping_add(self.snd_wnd)
    }
}

/// For property tests of the window helpers: a sequence number where the
/// arithmetic can go wrong — near 0, near 2^31, just below the 2^32 wrap —
/// or anywhere.
#[cfg(test)]
pub(crate) fn seq_near_wraps() -> impl proptest::strategy::Strategy<Value = u32> {
    use proptest::prelude::*;
    prop_oneof![
        0u32..70_000,
        (u32::MAX - 70_000)..=u32::MAX,
        (1u32 << 31) - 70_000..(1 << 31) + 70_000,
        any::<u32>()
    ]
}

#[cfg(test)]
mod tests {
    //! `before`/`after`/`between` against a model: sequence numbers as the
    //! low 32 bits of unbounded (`i64`) stream offsets. Any two numbers
    //! less than 2^31 apart in the stream compare as their offsets do,
    //! wherever the stream sits relative to the 2^32 wrap.
    use super::*;
    use proptest::prelude::*;

    /// A stream offset near the interesting places: 0, 2^31, 2^32 (where
    /// a u32 wraps) and a few wraps on, or anywhere.
    fn base() -> impl Strategy<Value = i64> {
        let near = |c: i64| (c - 70_000)..(c + 70_000);
        prop_oneof![
            near(0),
            near(1 << 31),
            near(1 << 32),
            near(5 << 32),
            near((5 << 32) + (1 << 31)),
            0i64..(1 << 40),
        ]
    }

    /// A distance within a half-space: its ends and 0 exactly, near them,
    /// or anywhere.
    fn delta() -> impl Strategy<Value = i64> {
        const H: i64 = (1 << 31) - 1;
        prop_oneof![
            prop::sample::select(vec![0, 1, -1, H, -H, H - 1, -H + 1]),
            -70_000i64..70_000,
            (H - 70_000)..=H,
            -H..=(-H + 70_000),
            -H..=H,
        ]
    }

    /// The low 32 bits of a stream offset, as a sender numbers its bytes.
    fn seq(x: i64) -> u32 {
        x as u32
    }

    proptest! {
        #[test]
        fn before_and_after_order_offsets_less_than_2_31_apart(b in base(), d in delta()) {
            let (x, y) = (b, b + d);
            prop_assert_eq!(before(seq(x), seq(y)), x < y);
            prop_assert_eq!(after(seq(x), seq(y)), x > y);
            prop_assert_eq!(after(seq(y), seq(x)), before(seq(x), seq(y)));
            // Exactly one of <, ==, > holds (antisymmetry and totality).
            let n = [before(seq(x), seq(y)), seq(x) == seq(y), after(seq(x), seq(y))];
            prop_assert_eq!(n.iter().filter(|&&t| t).count(), 1);
        }

        /// At exactly 2^31 apart Linux's `before()` holds both ways (the
        /// difference is `i32::MIN`): the one place the order breaks.
        #[test]
        fn before_holds_both_ways_at_exactly_2_31(b in base()) {
            let (x, y) = (seq(b), seq(b + (1 << 31)));
            prop_assert!(before(x, y) && before(y, x));
            prop_assert!(after(x, y) && after(y, x));
        }

        #[test]
        fn before_is_transitive_within_a_half_space(
            b in base(), d1 in 0i64..(1 << 30), d2 in 0i64..(1 << 30)
        ) {
            let (x, y, z) = (seq(b), seq(b + d1), seq(b + d1 + d2));
            if before(x, y) && before(y, z) {
                prop_assert!(before(x, z));
            }
            prop_assert!(!before(z, x));
        }

        /// `between(s1, s2, s3)`: s1 lies in the circular range that runs
        /// up from s2 to s3, both ends included, however wide (up to the
        /// whole space less one).
        #[test]
        fn between_is_membership_of_the_range_from_s2_up_to_s3(
            lo in base(),
            w in prop_oneof![Just(0i64), Just((1 << 32) - 1), 0i64..(1 << 32)],
            d in prop_oneof![0i64..3, -3i64..0, 0i64..(1 << 32), -70_000i64..0],
        ) {
            let x = lo + d;
            prop_assert_eq!(between(seq(x), seq(lo), seq(lo + w)), d.rem_euclid(1 << 32) <= w);
        }

        /// Within a half-space `between` is `!before(s1, s2) && !after(s1, s3)`,
        /// the form `tcp_sequence()` and the ACK checks use.
        #[test]
        fn between_agrees_with_before_and_after_in_a_half_space(
            lo in base(), w in 0i64..(1 << 31), d in delta()
        ) {
            let (x, s2, s3) = (seq(lo + d), seq(lo), seq(lo + w));
            prop_assert_eq!(between(x, s2, s3), !before(x, s2) && !after(x, s3));
        }
    }
}
