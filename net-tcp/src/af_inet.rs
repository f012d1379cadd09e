//! The socket layer for TCP: `inet_init()` and the calls a C programmer
//! knows — `socket`, `bind`, `listen`, `accept`, `connect`, `send`,
//! `recv`, `shutdown`, `close`, `poll`, `setsockopt`, `getsockopt`.
//!
//! Mirrors net/ipv4/af_inet.c of **Linux 6.18** (`inet_init()`,
//! `inet_bind()`, `inet_listen()`, `inet_accept()`,
//! `inet_stream_connect()`, `inet_shutdown()`, `inet_release()`), the
//! socket-option parts of net/core/sock.c (`sk_setsockopt()`) and
//! net/ipv4/tcp.c (`do_tcp_setsockopt()`, `do_tcp_getsockopt()`).
//!
//! A [`TcpSocket`] is what a file descriptor stands for: dropping it is
//! `close()`. Calls block unless the socket is non-blocking
//! ([`TcpSocket::set_nonblocking`]) or `MSG_DONTWAIT` is passed; a blocked
//! call sleeps on the socket's wait queue without holding its lock, so
//! another thread must drive the host (a TAP host loop, or a simulation).
//!
//! # Where we differ
//!
//! - No file descriptors, no `SIGPIPE` (`EPIPE` only), no uids for
//!   `SO_REUSEPORT` (every socket is the same user's).
//! - `TCP_INFO` returns a Rust struct ([`crate::tcp::TcpInfo`]) with the
//!   fields of `struct tcp_info` that exist here, not its byte layout.

use std::net::SocketAddrV4;
use std::sync::Arc;

use net_core::random::SipKey;
use net_core::{Errno, Net, NetRx, Skb, SkbDropReason};
use net_ipv4::Ipv4;
use net_ipv4::ip::IPPROTO_TCP;
use net_ipv4::protocol::{IcmpErr, NetProtocol};

use crate::inet_hashtables::InetHashinfo;
use crate::sock::*;
use crate::sysctl_net_ipv4_tcp::{TcpSysctls, register_net_ipv4_tcp};
use crate::tcp::*;
use crate::tcp_ipv4::{tcp_v4_connect, tcp_v4_err, tcp_v4_rcv};
use crate::tcp_output::tcp_push_pending_frames;
use crate::tcp_states::TcpState;

/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 1;
/// `SOL_TCP` / `IPPROTO_TCP`.
pub const SOL_TCP: i32 = 6;
/// `SO_REUSEADDR`.
pub const SO_REUSEADDR: i32 = 2;
/// `SO_ERROR`.
pub const SO_ERROR: i32 = 4;
/// `SO_SNDBUF`.
pub const SO_SNDBUF: i32 = 7;
/// `SO_RCVBUF`.
pub const SO_RCVBUF: i32 = 8;
/// `SO_KEEPALIVE`.
pub const SO_KEEPALIVE: i32 = 9;
/// `SO_LINGER`.
pub const SO_LINGER: i32 = 13;
/// `SO_REUSEPORT`.
pub const SO_REUSEPORT: i32 = 15;
/// `SO_RCVTIMEO` (`SO_RCVTIMEO_OLD`).
pub const SO_RCVTIMEO: i32 = 20;
/// `SO_SNDTIMEO` (`SO_SNDTIMEO_OLD`).
pub const SO_SNDTIMEO: i32 = 21;
/// `TCP_NODELAY`.
pub const TCP_NODELAY: i32 = 1;
/// `TCP_MAXSEG`.
pub const TCP_MAXSEG: i32 = 2;
/// `TCP_CORK`: hold partial segments until uncorked (tcp(7)).
pub const TCP_CORK: i32 = 3;
/// `TCP_INFO`.
pub const TCP_INFO: i32 = 11;
/// `TCP_QUICKACK`: 1 leaves interactive mode and sends a pending ACK now;
/// 0 enters interactive mode (delayed ACKs wait to ride on data).
pub const TCP_QUICKACK: i32 = 12;
/// `TCP_KEEPIDLE`: seconds idle before keepalive probes.
pub const TCP_KEEPIDLE: i32 = 4;
/// `TCP_KEEPINTVL`: seconds between keepalive probes.
pub const TCP_KEEPINTVL: i32 = 5;
/// `TCP_KEEPCNT`: keepalive probes before giving up.
pub const TCP_KEEPCNT: i32 = 6;
/// `MAX_TCP_KEEPIDLE`.
pub const MAX_TCP_KEEPIDLE: i32 = 32767;
/// `MAX_TCP_KEEPINTVL`.
pub const MAX_TCP_KEEPINTVL: i32 = 32767;
/// `MAX_TCP_KEEPCNT`.
pub const MAX_TCP_KEEPCNT: i32 = 127;
/// `TCP_SYNCNT`.
pub const TCP_SYNCNT: i32 = 7;
/// `TCP_USER_TIMEOUT`.
pub const TCP_USER_TIMEOUT: i32 = 18;
/// `TCP_LINGER2`: seconds an orphan may stay in FIN_WAIT2 (0: the
/// `tcp_fin_timeout` sysctl; < 0: reset at once instead).
pub const TCP_LINGER2: i32 = 8;
/// `TCP_FIN_TIMEOUT_MAX / HZ`: the most `TCP_LINGER2` keeps, 120 s.
pub const TCP_FIN_TIMEOUT_MAX_SECS: i32 = 120;
/// `TCP_CONGESTION`: the congestion control algorithm, by name.
pub const TCP_CONGESTION: i32 = 13;
/// `POLLIN`.
pub const POLLIN: u32 = 0x001;
/// `POLLPRI`.
pub const POLLPRI: u32 = 0x002;
/// `POLLOUT`.
pub const POLLOUT: u32 = 0x004;
/// `POLLERR`.
pub const POLLERR: u32 = 0x008;
/// `POLLHUP`.
pub const POLLHUP: u32 = 0x010;
/// `POLLRDNORM`.
pub const POLLRDNORM: u32 = 0x040;
/// `POLLWRNORM`.
pub const POLLWRNORM: u32 = 0x100;
/// `POLLRDHUP`.
pub const POLLRDHUP: u32 = 0x2000;
/// `MSG_PEEK`.
pub const MSG_PEEK: i32 = 0x02;
/// `MSG_DONTWAIT`.
pub const MSG_DONTWAIT: i32 = 0x40;
/// `MSG_WAITALL`.
pub const MSG_WAITALL: i32 = 0x100;

/// `shutdown(2)`'s `how`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `SHUT_RD` (0).
    Read,
    /// `SHUT_WR` (1).
    Write,
    /// `SHUT_RDWR` (2).
    Both,
}

/// TCP's per-namespace state: `tcp_hashinfo` (Linux: global unless
/// `tcp_child_ehash_entries`), `net->ipv4.sysctl_tcp_*`, the ISN and port
/// secrets.
pub struct TcpNet {
    /// The three hash tables.
    pub hashinfo: InetHashinfo,
    /// `net.ipv4.tcp_*`.
    pub sysctl: TcpSysctls,
    /// IPv4's state, for sending.
    pub ipv4: Arc<Ipv4>,
    /// `net_secret` for `secure_tcp_seq()`.
    pub isn_key: SipKey,
    /// `ts_secret` for `secure_tcp_ts_off()`.
    pub ts_key: SipKey,
    /// `syncookie_secret[2]` (net/ipv4/syncookies.c): key 0 hides the
    /// four-tuple, key 1 signs the minute counter and the MSS index
    /// ([`crate::syncookies`]).
    pub syncookie_secret: [SipKey; 2],
    /// `net.core.rmem_max`, which the window scale is chosen for.
    pub rmem_max: net_core::sysctl_net::Sysctl,
    /// `net->ipv4.tcp_challenge_timestamp`: the second the budget is for.
    pub tcp_challenge_timestamp: std::sync::atomic::AtomicU64,
    /// `net->ipv4.tcp_challenge_count`: challenge ACKs left this second.
    pub tcp_challenge_count: std::sync::atomic::AtomicU32,
    /// `net.ipv4.tcp_congestion_control` (`net->ipv4.tcp_congestion_control`).
    pub tcp_congestion_control: net_core::sysctl_net::StrSysctl,
    /// `tcp_request_sock_ops.slab`: every request sock of the namespace.
    pub reqsk_slab: crate::request_sock::RequestSockSlab,
    /// `twsk_slab` with `tcp_death_row`'s count: every timewait sock of the
    /// namespace.
    pub twsk_slab: crate::inet_timewait_sock::TimewaitSockSlab,
    /// The kernel log lines TCP wrote (`dmesg`), oldest first — net-core
    /// has no log of its own yet; `net_info_ratelimited()` lines land here.
    pub dmesg: spin::Mutex<Vec<String>>,
    /// `net_ratelimit_state` (net/core/utils.c): what
    /// [`TcpNet::net_info_ratelimited`] lets through. Linux has one for the
    /// whole kernel; ours is per namespace, like the log it guards.
    pub net_ratelimit_state: spin::Mutex<RatelimitState>,
    /// `tcp_orphan_count` and `tcp_orphan_cache` (net/ipv4/tcp.c): how many
    /// orphans the namespace holds, and the figure `tcp_max_orphans` is
    /// checked against ([`crate::tcp::TcpOrphanCount`]). Linux's are global.
    pub tcp_orphan_count: crate::tcp::TcpOrphanCount,
}

/// `struct ratelimit_state` (include/linux/ratelimit_types.h) with
/// `net_ratelimit()`'s parameters: at most `burst` (`net.core.message_burst`,
/// 10) messages per `interval` (`net.core.message_cost`, 5 s).
#[derive(Debug, Default)]
pub struct RatelimitState {
    /// `begin`: the jiffy the current interval started (0: none yet).
    pub begin: u64,
    /// `printed`: messages let through in this interval.
    pub printed: u32,
    /// `missed`: messages suppressed since the last report.
    pub missed: u32,
}

/// `net_msg_cost`: the interval of `net_ratelimit()`, 5 s.
pub const NET_MSG_COST: u64 = 5 * net_core::jiffies::HZ;
/// `net_msg_burst`: messages per interval.
pub const NET_MSG_BURST: u32 = 10;

impl TcpNet {
    /// `pr_info()`/`net_info_ratelimited()` for TCP: keep the line (Linux
    /// prefixes "TCP: ", `pr_fmt` of net/ipv4/tcp_input.c).
    pub fn pr_info(&self, line: String) {
        self.dmesg.lock().push(format!("TCP: {line}"));
    }

    /// Mirrors `net_ratelimit()` → `___ratelimit()` (lib/ratelimit.c): true
    /// for the first [`NET_MSG_BURST`] calls of each [`NET_MSG_COST`]
    /// interval. When a new interval starts after suppressed calls, logs
    /// "net_ratelimit: N callbacks suppressed", as Linux's printk does.
    pub fn net_ratelimit(&self, now: u64) -> bool {
        let mut rs = self.net_ratelimit_state.lock();
        if rs.begin == 0 {
            rs.begin = now;
        }
        if now > rs.begin + NET_MSG_COST {
            if rs.missed != 0 {
                self.dmesg.lock().push(format!("net_ratelimit: {} callbacks suppressed", rs.missed));
                rs.missed = 0;
            }
            rs.begin = now;
            rs.printed = 0;
        }
        if rs.printed < NET_MSG_BURST {
            rs.printed += 1;
            true
        } else {
            rs.missed += 1;
            false
        }
    }

    /// `net_info_ratelimited()` for TCP: [`TcpNet::pr_info`] if
    /// [`TcpNet::net_ratelimit`] allows it — so a flood of bad segments
    /// cannot grow the log without bound.
    pub fn net_info_ratelimited(&self, now: u64, line: impl FnOnce() -> String) {
        if self.net_ratelimit(now) {
            self.pr_info(line());
        }
    }
}

impl TcpNet {
    /// `sysctl_rmem_max`.
    pub fn ipv4_rmem_max(&self) -> i64 {
        self.rmem_max.get()
    }
}

impl std::fmt::Debug for TcpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpNet").finish_non_exhaustive()
    }
}

/// ehash buckets of a namespace that [`inet_init`] makes.
///
/// Linux has one table for the machine, sized from memory at boot
/// (`alloc_large_system_hash("TCP established", …)` in `tcp_init()`:
/// 262,144 buckets on this 24 GiB machine, `thash_entries=` on the kernel
/// command line overrides it), and sets `tcp_max_tw_buckets` and
/// `tcp_max_orphans` to half of it; a namespace may get a table of its own
/// through `tcp_child_ehash_entries`. A linnet process runs many hosts,
/// each with its own table (about 72 bytes a bucket here against Linux's
/// 8), so the default is small; a host meant to hold hundreds of
/// thousands of connections or timewait socks asks for Linux's size with
/// [`inet_init_thash`]. With the default, a million timewait socks make
/// chains of 61 and a lookup that misses costs microseconds (`cargo bench
/// -p benches --bench closing`).
pub const TCP_EHASH_ENTRIES: usize = 16384;

/// `thash_entries` as Linux chose it on the machine this was written on
/// (24 GiB): 262,144 ehash buckets, twice the `tcp_max_tw_buckets` and
/// `tcp_max_orphans` defaults.
pub const THASH_ENTRIES_LINUX_24G: usize = 262_144;

// ANCHOR: inet_init
/// Wire IPv4 and TCP into `net` (`inet_init()`): `ipv4_init()` (ARP, IP,
/// ICMP, UDP), the `net.ipv4.tcp_*` sysctls, the hash tables, and
/// `inet_add_protocol(&tcp_protocol, IPPROTO_TCP)` with [`tcp_v4_rcv`] and
/// [`tcp_v4_err`]. Calling it twice returns the existing state.
pub fn inet_init(net: &Arc<Net>) -> Arc<TcpNet> {
    inet_init_thash(net, TCP_EHASH_ENTRIES)
}

/// [`inet_init`] with an ehash of `thash_entries` buckets (rounded up to a
/// power of two), as Linux's `thash_entries=` boot parameter sizes its
/// table. Only the first call for a namespace decides.
pub fn inet_init_thash(net: &Arc<Net>, thash_entries: usize) -> Arc<TcpNet> {
    if let Some(t) = net.net_generic_arc::<TcpNet>() {
        return t;
    }
    let ipv4 = net_ipv4::ipv4_init(net);
    let tn = Arc::new(TcpNet {
        hashinfo: InetHashinfo::new(thash_entries, net.random.secret("inet_ehash_secret")),
        sysctl: register_net_ipv4_tcp(&net.sysctl),
        ipv4: ipv4.clone(),
        isn_key: net.random.secret("net_secret"),
        ts_key: net.random.secret("ts_secret"),
        syncookie_secret: [net.random.secret("syncookie_secret0"), net.random.secret("syncookie_secret1")],
        rmem_max: net.core.rmem_max.clone(),
        tcp_challenge_timestamp: std::sync::atomic::AtomicU64::new(u64::MAX),
        tcp_challenge_count: std::sync::atomic::AtomicU32::new(0),
        tcp_congestion_control: net.sysctl.register_str(&crate::tcp_cong::TCP_CONGESTION_CONTROL),
        reqsk_slab: Default::default(),
        twsk_slab: Default::default(),
        dmesg: spin::Mutex::new(Vec::new()),
        net_ratelimit_state: spin::Mutex::new(RatelimitState::default()),
        tcp_orphan_count: Default::default(),
    });
    net.sysctl.register_str(&crate::tcp_cong::TCP_AVAILABLE_CONGESTION_CONTROL);
    net.net_assign_generic(tn.clone());
    // The handlers find the namespace's TCP state with `net_generic()`
    // (one load, no reference count), as Linux's `tcp_v4_rcv()` reads
    // `net->ipv4`; holding an `Arc` here would make a cycle through
    // `inet_protos`, and upgrading a `Weak` per packet costs two atomic
    // operations.
    let prot = NetProtocol {
        name: "tcp_v4_rcv",
        handler: Box::new(|net: &Net, skb: Skb| match net.net_generic::<TcpNet>() {
            Some(tn) => tcp_v4_rcv(net, tn, skb),
            None => {
                net.kfree_skb_reason(skb, SkbDropReason::NotSpecified);
                NetRx::Drop
            }
        }),
        err_handler: Some(Box::new(|net: &Net, err: &IcmpErr<'_>| {
            if let Some(tn) = net.net_generic::<TcpNet>() {
                tcp_v4_err(net, tn, err);
            }
        })),
        early_demux: Some(Box::new(|net: &Net, skb: &mut net_core::SkBuff| {
            net.net_generic::<TcpNet>().is_some_and(|tn| crate::tcp_ipv4::tcp_v4_early_demux(net, tn, skb))
        })),
    };
    let _ = ipv4.protos.inet_add_protocol(Arc::new(prot), IPPROTO_TCP);
    crate::tcp_offload::tcpv4_offload_init(&ipv4);
    tn
}
// ANCHOR_END: inet_init

/// A TCP socket handle: what a file descriptor from
/// `socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)` stands for. Dropping it is
/// `close()`.
pub struct TcpSocket {
    net: Arc<Net>,
    tn: Arc<TcpNet>,
    sk: Arc<TcpSock>,
    /// [`TcpSocket::close_start`] ran: dropping only finishes the close.
    close_started: bool,
}

impl std::fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.sk.fmt(f)
    }
}

fn timeval_ns(optval: &[u8]) -> Result<Option<u64>, Errno> {
    // struct timeval { long tv_sec; long tv_usec; } on 64-bit Linux.
    if optval.len() < 16 {
        return Err(Errno::EINVAL);
    }
    let sec = i64::from_ne_bytes(optval[0..8].try_into().expect("8 bytes"));
    let usec = i64::from_ne_bytes(optval[8..16].try_into().expect("8 bytes"));
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    if sec < 0 {
        return Ok(Some(0));
    }
    if sec == 0 && usec == 0 {
        return Ok(None);
    }
    Ok(Some((sec as u64).saturating_mul(1_000_000_000).saturating_add(usec as u64 * 1000)))
}

// ANCHOR: tcp_sock_set_cork
/// Mirrors `__tcp_sock_set_nodelay()` (net/ipv4/tcp.c): `TCP_NODELAY` on
/// turns Nagle off and pushes what waits at once (`TCP_NAGLE_PUSH`, a
/// one-shot override); off turns Nagle back on. It does not undo a cork.
///
/// Linux leaves `TCP_NAGLE_PUSH` set until the next skb is queued
/// (`tcp_skb_entail()`); we clear it once the push is done, which differs
/// only for data that neither Nagle nor a cork would hold anyway.
pub fn __tcp_sock_set_nodelay(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, on: bool) {
    if on {
        tp.nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH;
        tcp_push_pending_frames(net, tn, sk, tp, 0);
        tp.nonagle &= !TCP_NAGLE_PUSH;
    } else {
        tp.nonagle &= !TCP_NAGLE_OFF;
    }
}

/// Mirrors `__tcp_sock_set_cork()` (net/ipv4/tcp.c): `TCP_CORK` on holds
/// every partial segment (`TCP_NAGLE_CORK`; a full MSS still leaves at
/// once); off releases the cork and pushes what waits — with
/// `TCP_NAGLE_PUSH` when `TCP_NODELAY` is on, so even the last small
/// piece goes now; otherwise Nagle decides. Corked data that no ACK moves
/// leaves when the probe timer fires ([`crate::tcp_output::tcp_check_probe_timer`]).
pub fn __tcp_sock_set_cork(net: &Net, tn: &TcpNet, sk: &TcpSock, tp: &mut TcpSk, on: bool) {
    if on {
        tp.nonagle |= TCP_NAGLE_CORK;
    } else {
        tp.nonagle &= !TCP_NAGLE_CORK;
        if tp.nonagle & TCP_NAGLE_OFF != 0 {
            tp.nonagle |= TCP_NAGLE_PUSH;
        }
        tcp_push_pending_frames(net, tn, sk, tp, 0);
        tp.nonagle &= !TCP_NAGLE_PUSH;
    }
}
// ANCHOR_END: tcp_sock_set_cork

fn int_opt(optval: &[u8]) -> Result<i32, Errno> {
    let b: [u8; 4] = optval.get(..4).and_then(|s| s.try_into().ok()).ok_or(Errno::EINVAL)?;
    Ok(i32::from_ne_bytes(b))
}

impl TcpSocket {
    /// `socket(AF_INET, SOCK_STREAM, 0)`: a CLOSE socket with
    /// `tcp_rmem[1]`/`tcp_wmem[1]` buffers (`tcp_init_sock()`).
    /// `EAFNOSUPPORT` without [`inet_init`].
    pub fn new(net: &Arc<Net>) -> Result<TcpSocket, Errno> {
        let tn = net.net_generic_arc::<TcpNet>().ok_or(Errno::EAFNOSUPPORT)?;
        let rmem = tn.sysctl.tcp_rmem.get_n(1).clamp(i64::from(SOCK_MIN_RCVBUF), i64::from(i32::MAX)) as u32;
        let wmem = tn.sysctl.tcp_wmem.get_n(1).clamp(i64::from(SOCK_MIN_SNDBUF), i64::from(i32::MAX)) as u32;
        let sk = TcpSock::new(net, rmem, wmem);
        {
            // tcp_init_sock(): the namespace's algorithm and reordering degree.
            let mut tp = sk.lock.lock();
            tn.tcp_congestion_control.with(|ca| crate::tcp_cong::tcp_assign_congestion_control(&mut tp, ca));
            tp.reordering = tn.sysctl.tcp_reordering.get().clamp(1, i64::from(u32::MAX)) as u32;
        }
        Ok(TcpSocket { net: net.clone(), tn, sk, close_started: false })
    }

    /// The socket behind the handle.
    pub fn sock(&self) -> &Arc<TcpSock> {
        &self.sk
    }

    /// The namespace.
    pub fn net(&self) -> &Arc<Net> {
        &self.net
    }

    /// The socket's state.
    pub fn state(&self) -> TcpState {
        self.sk.sk_state()
    }

    /// Run `f` under the socket lock, then wake sleepers if it changed
    /// something they may wait for.
    fn locked<R>(&self, f: impl FnOnce(&mut TcpSk) -> R) -> R {
        let mut tp = self.sk.lock.lock();
        let r = f(&mut tp);
        if std::mem::take(&mut tp.wake_pending) {
            drop(tp);
            wake(&self.sk);
        }
        r
    }

    /// `sk_wait_event()`: sleep until `cond` holds (checked under the lock)
    /// or `timeo` passes (`EAGAIN`).
    fn sk_wait_event(&self, timeo: Option<u64>, mut cond: impl FnMut(&TcpSk) -> bool) -> Result<(), Errno> {
        match self.sk.wq.wait_event_timeout(self.net.clock(), timeo, || cond(&self.sk.lock.lock())) {
            net_core::wait::WaitResult::Ready => Ok(()),
            net_core::wait::WaitResult::TimedOut => Err(Errno::EAGAIN),
        }
    }

    /// `fcntl(F_SETFL, O_NONBLOCK)`.
    pub fn set_nonblocking(&self, on: bool) {
        self.sk.lock.lock().nonblock = on;
    }

    /// `fcntl(F_GETFL) & O_NONBLOCK`.
    pub fn nonblocking(&self) -> bool {
        self.sk.lock.lock().nonblock
    }

    // ANCHOR: inet_bind
    /// `bind(2)` (`inet_bind()` → `__inet_bind()`): the address must be ours
    /// or the wildcard (`EADDRNOTAVAIL`, unless `ip_nonlocal_bind`); a bound
    /// or non-CLOSE socket gives `EINVAL`; the port comes from
    /// `inet_csk_get_port()` (`EADDRINUSE`; port 0 picks an ephemeral one).
    pub fn bind(&self, addr: SocketAddrV4) -> Result<(), Errno> {
        let ip = *addr.ip();
        if !ip.is_unspecified()
            && !self.tn.ipv4.devinet.is_local(ip)
            && self.tn.ipv4.sysctl.ip_nonlocal_bind.get() == 0
        {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let mut tp = self.sk.lock.lock();
        if tp.state != TcpState::Close || self.sk.inet_num() != 0 {
            return Err(Errno::EINVAL);
        }
        self.sk.set_skc_local(ip, 0);
        let rand = self.net.random.get_random_u32();
        match crate::inet_connection_sock::inet_csk_get_port(
            &self.tn.hashinfo,
            &self.sk,
            addr.port(),
            self.port_range(),
            rand,
        ) {
            Ok(port) => {
                self.sk.set_skc_local(ip, port);
                tp.inet_saddr = ip;
                if !ip.is_unspecified() {
                    tp.sk_userlocks |= SOCK_BINDADDR_LOCK;
                }
                if addr.port() != 0 {
                    tp.sk_userlocks |= SOCK_BINDPORT_LOCK;
                }
                Ok(())
            }
            Err(e) => {
                self.sk.set_skc_local(std::net::Ipv4Addr::UNSPECIFIED, 0);
                // __inet_bind() reports an exhausted ephemeral range as
                // EADDRINUSE, not EADDRNOTAVAIL (that is connect()'s).
                Err(if e == Errno::EADDRNOTAVAIL { Errno::EADDRINUSE } else { e })
            }
        }
    }
    // ANCHOR_END: inet_bind

    fn port_range(&self) -> (u16, u16) {
        let [low, high] = self.tn.ipv4.sysctl.ip_local_port_range.get_array::<2>();
        (low.clamp(1, 65535) as u16, high.clamp(1, 65535) as u16)
    }

    // ANCHOR: inet_listen
    /// `listen(2)`: mirrors `inet_listen()` → `__inet_listen_sk()` →
    /// `inet_csk_listen_start()`. The backlog is capped by
    /// `net.core.somaxconn` (a negative one counts as 0; Linux 6.18 stores
    /// it in `sk_max_ack_backlog` as given). On a socket already listening
    /// only the backlog changes. Otherwise the socket must be CLOSE and
    /// unconnected (`EINVAL`): the request queue is reset, the state set to
    /// LISTEN, the port taken again with `get_port()` — now as a listener,
    /// so SO_REUSEADDR no longer lets two sockets share it (`EADDRINUSE`) —
    /// an unbound socket getting an ephemeral one, and the socket hashed
    /// in `lhash2`.
    pub fn listen(&self, backlog: i32) -> Result<(), Errno> {
        let somaxconn = self.net.core.somaxconn.get().max(0) as u32;
        let backlog = (backlog.max(0) as u32).min(somaxconn);
        let mut tp = self.sk.lock.lock();
        match tp.state {
            TcpState::Listen => {
                self.sk.sk_max_ack_backlog.store(backlog, std::sync::atomic::Ordering::Relaxed);
                return Ok(());
            }
            TcpState::Close if tp.socket_state == SS_UNCONNECTED => {}
            _ => return Err(Errno::EINVAL),
        }
        self.sk.sk_max_ack_backlog.store(backlog, std::sync::atomic::Ordering::Relaxed);
        // inet_csk_listen_start(): reqsk_queue_alloc(), sk_ack_backlog = 0.
        self.sk.sk_ack_backlog.store(0, std::sync::atomic::Ordering::Relaxed);
        let q = &self.sk.icsk_accept_queue;
        q.synflood_warned.store(false, std::sync::atomic::Ordering::Relaxed);
        tp.accept_queue.clear();
        // The listener's last SYN-queue overflow (`ts_recent_stamp` on a
        // listener): "long ago". Linux gets that for free — its jiffies
        // start at INITIAL_JIFFIES, far from the 0 a new listener holds —
        // ours start at 0, which would look like an overflow moments ago
        // and send every stray ACK through the cookie check.
        tp.rx_opt.ts_recent_stamp = crate::tcp_input::tcp_synq_long_ago(&self.net);
        let prev = tp.state;
        self.sk.skc_state.store(TcpState::Listen as u8, std::sync::atomic::Ordering::Release);
        let rand = self.net.random.get_random_u32();
        let ip = self.sk.inet_rcv_saddr();
        let num = self.sk.inet_num();
        let r = crate::inet_connection_sock::inet_csk_get_port(
            &self.tn.hashinfo,
            &self.sk,
            num,
            self.port_range(),
            rand,
        );
        self.sk.skc_state.store(prev as u8, std::sync::atomic::Ordering::Release);
        match r {
            Ok(port) => self.sk.set_skc_local(ip, port),
            Err(e) => return Err(if e == Errno::EADDRNOTAVAIL { Errno::EADDRINUSE } else { e }),
        }
        tcp_set_state(&self.net, &self.sk, &mut tp, TcpState::Listen);
        self.tn.hashinfo.inet_hash(&self.sk);
        tp.wake_pending = false;
        Ok(())
    }
    // ANCHOR_END: inet_listen

    // ANCHOR: listen_queues
    /// `ss -lnt`'s two queue columns for this socket: for a listener,
    /// (Recv-Q, Send-Q) = (`sk_ack_backlog`, `sk_max_ack_backlog`) — the
    /// accept queue's length and its limit — as `tcp_diag_get_info()`
    /// reports them; and the request socks waiting for their final ACK
    /// (`inet_csk_reqsk_queue_len()`, the "SYN queue"). `None` if not
    /// listening.
    pub fn listen_queues(&self) -> Option<(u32, u32, u32)> {
        if self.sk.sk_state() != TcpState::Listen {
            return None;
        }
        let o = std::sync::atomic::Ordering::Relaxed;
        Some((
            self.sk.sk_ack_backlog.load(o),
            self.sk.sk_max_ack_backlog.load(o),
            crate::request_sock::inet_csk_reqsk_queue_len(&self.sk),
        ))
    }
    // ANCHOR_END: listen_queues

    // ANCHOR: inet_csk_accept
    /// `accept(2)`: mirrors `inet_accept()` → `inet_csk_accept()`: take the
    /// oldest child off the accept queue (`reqsk_queue_remove()`,
    /// `sk_acceptq_removed()`). With none: `EAGAIN` if non-blocking, else
    /// sleep until the receive path queues one
    /// ([`crate::request_sock::inet_csk_reqsk_queue_add`] wakes us),
    /// bounded by `SO_RCVTIMEO` (`EAGAIN`); `EINVAL` if not listening.
    pub fn accept(&self) -> Result<(TcpSocket, SocketAddrV4), Errno> {
        loop {
            let (child, nonblock, timeo) = {
                let mut tp = self.sk.lock.lock();
                if tp.state != TcpState::Listen {
                    return Err(Errno::EINVAL);
                }
                let child = tp.accept_queue.pop_front();
                if child.is_some() {
                    // sk_acceptq_removed()
                    self.sk.sk_ack_backlog.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
                (child, tp.nonblock, tp.sk_rcvtimeo.ns())
            };
            if let Some(child) = child {
                {
                    let mut cp = child.lock.lock();
                    cp.socket_state = SS_CONNECTED;
                }
                let peer = SocketAddrV4::new(child.inet_daddr(), child.inet_dport());
                let sock =
                    TcpSocket { net: self.net.clone(), tn: self.tn.clone(), sk: child, close_started: false };
                return Ok((sock, peer));
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.sk_wait_event(timeo, |tp| !tp.accept_queue.is_empty() || tp.state != TcpState::Listen)?;
        }
    }
    // ANCHOR_END: inet_csk_accept

    // ANCHOR: inet_stream_connect
    /// `connect(2)` (`inet_stream_connect()`): start the handshake
    /// ([`tcp_v4_connect`]); a non-blocking socket returns `EINPROGRESS`, and
    /// a later `connect()` `EALREADY` while it is under way, success once it
    /// is established, `EISCONN` after that. A blocking one waits (bounded by
    /// `SO_SNDTIMEO`, then `EINPROGRESS`). A failed handshake reports its
    /// error: `ECONNREFUSED` after a RST, `ETIMEDOUT` after the SYN
    /// retries, or an ICMP error.
    pub fn connect(&self, addr: SocketAddrV4) -> Result<(), Errno> {
        let (nonblock, timeo) = {
            let mut tp = self.sk.lock.lock();
            match tp.socket_state {
                SS_CONNECTED => return Err(Errno::EISCONN),
                SS_CONNECTING => {
                    if matches!(tp.state, TcpState::SynSent | TcpState::SynRecv) && tp.nonblock {
                        return Err(Errno::EALREADY);
                    }
                }
                _ => {
                    if tp.state != TcpState::Close {
                        return Err(Errno::EISCONN);
                    }
                    let r = tcp_v4_connect(&self.net, &self.tn, &self.sk, &mut tp, *addr.ip(), addr.port());
                    tp.wake_pending = false;
                    r?;
                    tp.socket_state = SS_CONNECTING;
                    if tp.nonblock {
                        return Err(Errno::EINPROGRESS);
                    }
                }
            }
            (tp.nonblock, tp.sk_sndtimeo.ns())
        };
        if !nonblock
            && self
                .sk_wait_event(timeo, |tp| !matches!(tp.state, TcpState::SynSent | TcpState::SynRecv))
                .is_err()
        {
            return Err(Errno::EINPROGRESS);
        }
        let mut tp = self.sk.lock.lock();
        if tp.state == TcpState::Close {
            tp.socket_state = SS_UNCONNECTED;
            return Err(tp.sk_err.take().unwrap_or(Errno::ECONNABORTED));
        }
        if matches!(tp.state, TcpState::SynSent | TcpState::SynRecv) {
            return Err(Errno::EALREADY);
        }
        tp.socket_state = SS_CONNECTED;
        Ok(())
    }
    // ANCHOR_END: inet_stream_connect

    /// `send(2)` with flags (`MSG_DONTWAIT`). A blocking call returns when
    /// every byte is queued (waiting for buffer space, bounded by
    /// `SO_SNDTIMEO`); a non-blocking one takes what fits, or `EAGAIN`.
    pub fn send_flags(&self, buf: &[u8], flags: i32) -> Result<usize, Errno> {
        let mut sent = 0;
        loop {
            let (r, nonblock, timeo) = self.locked(|tp| {
                let r = tcp_sendmsg_locked(&self.net, &self.tn, &self.sk, tp, &buf[sent..]);
                (r, tp.nonblock || flags & MSG_DONTWAIT != 0, tp.sk_sndtimeo.ns())
            });
            match r {
                Ok(n) => {
                    sent += n;
                    if sent == buf.len() || nonblock {
                        return Ok(sent);
                    }
                }
                Err(Errno::EAGAIN) if !nonblock => {}
                Err(e) => return if sent > 0 { Ok(sent) } else { Err(e) },
            }
            let waited = self.sk_wait_event(timeo, |tp| {
                tp.sk_err.is_some()
                    || tp.sk_shutdown & SEND_SHUTDOWN != 0
                    || (sk_stream_memory_free(tp)
                        && !matches!(tp.state, TcpState::SynSent | TcpState::SynRecv))
            });
            if let Err(e) = waited {
                return if sent > 0 { Ok(sent) } else { Err(e) };
            }
        }
    }

    /// `write(2)` / `send(fd, buf, len, 0)`.
    pub fn send(&self, buf: &[u8]) -> Result<usize, Errno> {
        self.send_flags(buf, 0)
    }

    /// `recv(2)` with flags (`MSG_DONTWAIT`, `MSG_PEEK`, `MSG_WAITALL`).
    /// 0 at end of stream. Blocks (bounded by `SO_RCVTIMEO`) while nothing
    /// is queued, unless non-blocking (`EAGAIN`).
    pub fn recv_flags(&self, buf: &mut [u8], flags: i32) -> Result<usize, Errno> {
        let peek = flags & MSG_PEEK != 0;
        let mut got = 0;
        loop {
            let (r, nonblock, timeo) = self.locked(|tp| {
                let r = tcp_recvmsg_locked(&self.net, &self.tn, &self.sk, tp, &mut buf[got..], peek);
                (r, tp.nonblock || flags & MSG_DONTWAIT != 0, tp.sk_rcvtimeo.ns())
            });
            match r {
                Ok(0) => return Ok(got),
                Ok(n) => {
                    got += n;
                    if flags & MSG_WAITALL == 0 || got == buf.len() || peek {
                        return Ok(got);
                    }
                }
                Err(Errno::EAGAIN) if !nonblock => {}
                Err(e) => return if got > 0 { Ok(got) } else { Err(e) },
            }
            let waited = self.sk_wait_event(timeo, |tp| {
                !tp.sk_receive_queue.is_empty()
                    || tp.sk_err.is_some()
                    || tp.sk_shutdown & RCV_SHUTDOWN != 0
                    || tp.state == TcpState::Close
            });
            if let Err(e) = waited {
                return if got > 0 { Ok(got) } else { Err(e) };
            }
        }
    }

    /// `read(2)` / `recv(fd, buf, len, 0)`.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.recv_flags(buf, 0)
    }

    /// `shutdown(2)` (`inet_shutdown()`): `ENOTCONN` on an unconnected
    /// socket; on a listener `SHUT_RD` stops listening; in SYN_SENT the
    /// attempt is abandoned; otherwise [`tcp_shutdown`].
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Errno> {
        let how = match how {
            Shutdown::Read => RCV_SHUTDOWN,
            Shutdown::Write => SEND_SHUTDOWN,
            Shutdown::Both => SHUTDOWN_MASK,
        };
        self.locked(|tp| match tp.state {
            TcpState::Close => {
                tp.sk_shutdown |= how;
                tp.wake_pending = true;
                Err(Errno::ENOTCONN)
            }
            TcpState::Listen if how & RCV_SHUTDOWN == 0 => Ok(()),
            TcpState::Listen | TcpState::SynSent => {
                tcp_disconnect_abort(&self.net, &self.tn, &self.sk, tp);
                tp.socket_state = SS_UNCONNECTED;
                Ok(())
            }
            _ => {
                tcp_shutdown(&self.net, &self.tn, &self.sk, tp, how);
                Ok(())
            }
        })
    }

    // ANCHOR: inet_release
    /// `close(2)`: same as dropping the handle (`inet_release()` →
    /// `tcp_close(sk, timeout)`). With `SO_LINGER` on and a positive time
    /// this blocks — on a non-blocking socket too, as on Linux (checked on
    /// 6.18: `inet_release()` looks only at `SOCK_LINGER`) — until our FIN
    /// is acknowledged or the time passes ([`TcpSocket::close_start`] has
    /// the details); someone else must drive the host meanwhile.
    pub fn close(self) {}

    /// Begin `close(2)` without sleeping, for a caller that drives the
    /// host itself (the packet-script runner): `__tcp_close()` up to
    /// `sk_stream_wait_close()` ([`__tcp_close_start`]: RST or FIN). The
    /// returned [`TcpClosing`] says how long a blocking `close()` would
    /// linger and whether it still would; dropping it (or
    /// [`TcpClosing::finish`]) completes the close where `close()` would
    /// return.
    pub fn close_start(mut self) -> TcpClosing {
        __tcp_close_start(&self.net, &self.tn, &self.sk);
        self.close_started = true;
        TcpClosing { sock: self }
    }

    /// Mirrors `sk_stream_wait_close()` (net/core/stream.c): sleep on the
    /// wait queue, without the socket lock, until our FIN is acknowledged
    /// ([`sk_stream_closing`] no longer holds) or the linger time passes.
    /// Returns at once for a time of 0.
    fn sk_stream_wait_close(&self, linger_secs: u32) {
        let timeo = match linger_secs {
            0 => return,
            SK_LINGER_FOREVER => None,
            s => Some(u64::from(s) * 1_000_000_000),
        };
        let _ = self.sk_wait_event(timeo, |tp| !sk_stream_closing(tp));
    }
    // ANCHOR_END: inet_release

    /// `poll(2)` readiness: `POLLIN | POLLOUT | POLLHUP | …` ([`tcp_poll`]).
    pub fn poll(&self) -> u32 {
        tcp_poll(&self.sk.lock.lock())
    }

    /// `getsockopt(TCP_INFO)`.
    pub fn tcp_info(&self) -> crate::tcp::TcpInfo {
        tcp_get_info(&self.net, &self.sk, &self.sk.lock.lock())
    }

    /// `setsockopt(2)` with an `int` value.
    pub fn setsockopt_int(&self, level: i32, optname: i32, val: i32) -> Result<(), Errno> {
        self.setsockopt(level, optname, &val.to_ne_bytes())
    }

    // ANCHOR: setsockopt
    /// `setsockopt(2)`: `SOL_SOCKET` options as `sk_setsockopt()` handles
    /// them (`SO_SNDBUF`/`SO_RCVBUF` double the value, bounded by
    /// `wmem_max`/`rmem_max` and the minimums), `SOL_TCP` ones as
    /// `do_tcp_setsockopt()` (`TCP_MAXSEG` 88..=32767 or 0, `TCP_SYNCNT`
    /// 1..=127, `TCP_USER_TIMEOUT` ≥ 0, `TCP_LINGER2` clamped to -1..=120
    /// s). Unknown options: `ENOPROTOOPT`; a
    /// short or bad value: `EINVAL`.
    pub fn setsockopt(&self, level: i32, optname: i32, optval: &[u8]) -> Result<(), Errno> {
        let core = &self.net.core;
        self.locked(|tp| match (level, optname) {
            (SOL_SOCKET, SO_REUSEADDR) => {
                self.sk.skc_reuse.store(int_opt(optval)? != 0, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            (SOL_SOCKET, SO_REUSEPORT) => {
                self.sk.skc_reuseport.store(int_opt(optval)? != 0, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            (SOL_SOCKET, SO_KEEPALIVE) => {
                // tcp_set_keepalive(): switching it on starts a full idle
                // period from now; switching it off stops the clock.
                let on = int_opt(optval)? != 0;
                let live = !matches!(tp.state, TcpState::Close | TcpState::Listen);
                if live && on && !tp.keepalive {
                    let when = crate::tcp_timer::keepalive_time_when(&self.tn, tp);
                    self.net.mod_timer(self.sk.timers.keepalive, self.net.jiffies() + u64::from(when));
                } else if live && !on && tp.keepalive {
                    self.net.del_timer(self.sk.timers.keepalive);
                }
                tp.keepalive = on;
                Ok(())
            }
            (SOL_TCP, TCP_KEEPIDLE) => {
                let v = int_opt(optval)?;
                if !(1..=MAX_TCP_KEEPIDLE).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                tp.keepalive_time = v as u32;
                crate::tcp_timer::tcp_reset_keepalive(&self.net, &self.tn, &self.sk, tp);
                Ok(())
            }
            (SOL_TCP, TCP_KEEPINTVL) => {
                let v = int_opt(optval)?;
                if !(1..=MAX_TCP_KEEPINTVL).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                tp.keepalive_intvl = v as u32;
                Ok(())
            }
            (SOL_TCP, TCP_KEEPCNT) => {
                let v = int_opt(optval)?;
                if !(1..=MAX_TCP_KEEPCNT).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                tp.keepalive_probes = v as u8;
                Ok(())
            }
            (SOL_SOCKET, SO_SNDBUF) => {
                let v = int_opt(optval)?.max(0) as i64;
                let v = v.min(core.wmem_max.get()) * 2;
                tp.sk_userlocks |= SOCK_SNDBUF_LOCK;
                tp.sk_sndbuf = u32::try_from(v).unwrap_or(u32::MAX).max(SOCK_MIN_SNDBUF);
                tp.wake_pending = true;
                Ok(())
            }
            (SOL_SOCKET, SO_RCVBUF) => {
                let v = int_opt(optval)?.max(0) as i64;
                let v = v.min(core.rmem_max.get()) * 2;
                tp.sk_userlocks |= SOCK_RCVBUF_LOCK;
                tp.sk_rcvbuf = u32::try_from(v).unwrap_or(u32::MAX).max(SOCK_MIN_RCVBUF);
                Ok(())
            }
            (SOL_SOCKET, SO_LINGER) => {
                if optval.len() < 8 {
                    return Err(Errno::EINVAL);
                }
                // struct linger { int l_onoff; int l_linger; }: a negative
                // l_linger, read as unsigned, is MAX_SCHEDULE_TIMEOUT.
                let onoff = int_opt(&optval[0..4])?;
                let secs = int_opt(&optval[4..8])?;
                let secs = if secs < 0 { SK_LINGER_FOREVER } else { secs as u32 };
                tp.sk_linger = (onoff != 0).then_some(secs);
                Ok(())
            }
            (SOL_TCP, TCP_LINGER2) => {
                // do_tcp_setsockopt(): < 0 is -1, above TCP_FIN_TIMEOUT_MAX
                // is clamped to it.
                let v = int_opt(optval)?;
                tp.linger2 = if v < 0 { -1 } else { v.min(TCP_FIN_TIMEOUT_MAX_SECS) };
                Ok(())
            }
            (SOL_SOCKET, SO_RCVTIMEO) => {
                tp.sk_rcvtimeo = SockTimeo::from_ns(timeval_ns(optval)?);
                Ok(())
            }
            (SOL_SOCKET, SO_SNDTIMEO) => {
                tp.sk_sndtimeo = SockTimeo::from_ns(timeval_ns(optval)?);
                Ok(())
            }
            (SOL_TCP, TCP_NODELAY) => {
                __tcp_sock_set_nodelay(&self.net, &self.tn, &self.sk, tp, int_opt(optval)? != 0);
                Ok(())
            }
            (SOL_TCP, TCP_CORK) => {
                __tcp_sock_set_cork(&self.net, &self.tn, &self.sk, tp, int_opt(optval)? != 0);
                Ok(())
            }
            (SOL_TCP, TCP_QUICKACK) => {
                let v = int_opt(optval)?;
                crate::tcp::__tcp_sock_set_quickack(&self.net, &self.tn, &self.sk, tp, v);
                Ok(())
            }
            (SOL_TCP, TCP_MAXSEG) => {
                let v = int_opt(optval)?;
                if v != 0 && !(i32::from(TCP_MIN_MSS)..=32767).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                tp.rx_opt.user_mss = v as u16;
                Ok(())
            }
            (SOL_TCP, TCP_SYNCNT) => {
                let v = int_opt(optval)?;
                if !(1..=127).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                tp.icsk_syn_retries = v as u8;
                Ok(())
            }
            (SOL_TCP, TCP_USER_TIMEOUT) => {
                let v = int_opt(optval)?;
                if v < 0 {
                    return Err(Errno::EINVAL);
                }
                tp.icsk_user_timeout = v as u32;
                Ok(())
            }
            (SOL_TCP, TCP_CONGESTION) => {
                // strncpy_from_sockptr(name, optval, min(TCP_CA_NAME_MAX - 1, optlen))
                let n = optval.len().min(crate::tcp_cong::TCP_CA_NAME_MAX - 1);
                let raw = &optval[..n];
                let raw = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
                let name = std::str::from_utf8(raw).map_err(|_| Errno::ENOENT)?;
                crate::tcp_cong::tcp_set_congestion_control(tp, name)
            }
            (SOL_SOCKET | SOL_TCP, _) => Err(Errno::ENOPROTOOPT),
            _ => Err(Errno::ENOPROTOOPT),
        })
    }
    // ANCHOR_END: setsockopt

    /// `getsockopt(2)` of an `int` option. `SO_ERROR` reads and clears the
    /// pending error (its number, 0 when none); `TCP_MAXSEG` is the current
    /// MSS once connected, `user_mss` or 536 before.
    pub fn getsockopt_int(&self, level: i32, optname: i32) -> Result<i32, Errno> {
        let mut tp = self.sk.lock.lock();
        let b = |v: bool| i32::from(v);
        Ok(match (level, optname) {
            (SOL_SOCKET, SO_REUSEADDR) => b(self.sk.skc_reuse.load(std::sync::atomic::Ordering::Relaxed)),
            (SOL_SOCKET, SO_REUSEPORT) => b(self.sk.skc_reuseport.load(std::sync::atomic::Ordering::Relaxed)),
            (SOL_SOCKET, SO_KEEPALIVE) => b(tp.keepalive),
            (SOL_SOCKET, SO_SNDBUF) => tp.sk_sndbuf as i32,
            (SOL_SOCKET, SO_RCVBUF) => tp.sk_rcvbuf as i32,
            (SOL_SOCKET, SO_ERROR) => {
                tp.sk_err.take().or_else(|| tp.sk_err_soft.take()).map_or(0, |e| e.errno())
            }
            (SOL_TCP, TCP_NODELAY) => b(tp.nonagle & TCP_NAGLE_OFF != 0),
            (SOL_TCP, TCP_CORK) => b(tp.nonagle & TCP_NAGLE_CORK != 0),
            (SOL_TCP, TCP_QUICKACK) => b(tp.icsk_ack.pingpong == 0),
            (SOL_TCP, TCP_MAXSEG) => {
                if matches!(tp.state, TcpState::Close | TcpState::Listen) {
                    if tp.rx_opt.user_mss != 0 {
                        i32::from(tp.rx_opt.user_mss)
                    } else {
                        i32::from(TCP_MSS_DEFAULT)
                    }
                } else {
                    i32::from(tp.mss_cache)
                }
            }
            (SOL_TCP, TCP_SYNCNT) => {
                if tp.icsk_syn_retries != 0 {
                    i32::from(tp.icsk_syn_retries)
                } else {
                    self.tn.sysctl.tcp_syn_retries.get() as i32
                }
            }
            (SOL_TCP, TCP_USER_TIMEOUT) => tp.icsk_user_timeout as i32,
            (SOL_TCP, TCP_LINGER2) => match tp.linger2 {
                0 => self.tn.sysctl.tcp_fin_timeout.get().clamp(0, i64::from(i32::MAX)) as i32,
                v => v.max(-1),
            },
            (SOL_TCP, TCP_KEEPIDLE) => (crate::tcp_timer::keepalive_time_when(&self.tn, &tp) / 1000) as i32,
            (SOL_TCP, TCP_KEEPINTVL) => (crate::tcp_timer::keepalive_intvl_when(&self.tn, &tp) / 1000) as i32,
            (SOL_TCP, TCP_KEEPCNT) => i32::from(crate::tcp_timer::keepalive_probes(&self.tn, &tp)),
            (SOL_TCP, TCP_INFO) => return Err(Errno::EINVAL), // a struct: see getsockopt()
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    /// `getsockopt(2)` into a buffer, as the C call fills `optval`: an
    /// `int` option takes 4 bytes (`EINVAL` if `buf` is shorter);
    /// `TCP_INFO` writes `struct tcp_info` in Linux's layout, truncated to
    /// `buf` as Linux truncates to `optlen`. Returns the bytes written.
    pub fn getsockopt(&self, level: i32, optname: i32, buf: &mut [u8]) -> Result<usize, Errno> {
        if (level, optname) == (SOL_TCP, TCP_INFO) {
            let info = tcp_get_info(&self.net, &self.sk, &self.sk.lock.lock()).to_bytes();
            let n = buf.len().min(info.len());
            buf[..n].copy_from_slice(&info[..n]);
            return Ok(n);
        }
        if (level, optname) == (SOL_TCP, TCP_CONGESTION) {
            // do_tcp_getsockopt(): the name NUL-padded to TCP_CA_NAME_MAX,
            // truncated to the caller's length.
            let mut name = [0u8; crate::tcp_cong::TCP_CA_NAME_MAX];
            let ca = self.sk.lock.lock().icsk_ca_ops.name().as_bytes();
            let k = ca.len().min(name.len() - 1);
            name[..k].copy_from_slice(&ca[..k]);
            let n = buf.len().min(name.len());
            buf[..n].copy_from_slice(&name[..n]);
            return Ok(n);
        }
        let v = self.getsockopt_int(level, optname)?;
        let out = buf.get_mut(..4).ok_or(Errno::EINVAL)?;
        out.copy_from_slice(&v.to_ne_bytes());
        Ok(4)
    }

    /// `getsockname(2)`.
    pub fn local_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.sk.inet_rcv_saddr(), self.sk.inet_num())
    }

    /// `getpeername(2)`: `ENOTCONN` when not connected.
    pub fn peer_addr(&self) -> Result<SocketAddrV4, Errno> {
        let tp = self.sk.lock.lock();
        if matches!(tp.state, TcpState::Close | TcpState::Listen | TcpState::SynSent) {
            return Err(Errno::ENOTCONN);
        }
        Ok(SocketAddrV4::new(self.sk.inet_daddr(), self.sk.inet_dport()))
    }
}

impl Drop for TcpSocket {
    /// `close()`: `inet_release()` passes `sk_lingertime` as the timeout
    /// when `SOCK_LINGER` is set, and `__tcp_close()` waits in
    /// `sk_stream_wait_close()` between sending the FIN and orphaning the
    /// socket.
    fn drop(&mut self) {
        if !self.close_started {
            __tcp_close_start(&self.net, &self.tn, &self.sk);
            let linger = self.sk.lock.lock().sk_linger.unwrap_or(0);
            self.sk_stream_wait_close(linger);
        }
        __tcp_close_adjudge_to_death(&self.net, &self.tn, &self.sk);
    }
}

/// A `close()` begun with [`TcpSocket::close_start`], stopped where Linux's
/// `__tcp_close()` calls `sk_stream_wait_close()`. Dropping it finishes the
/// close (`adjudge_to_death:`): the socket becomes an orphan.
#[derive(Debug)]
pub struct TcpClosing {
    sock: TcpSocket,
}

impl TcpClosing {
    /// How long a blocking `close()` may wait, in ns: 0 without
    /// `SO_LINGER` (or after a reset: nothing is closing), `None` for no
    /// limit (a negative `l_linger`).
    pub fn linger_ns(&self) -> Option<u64> {
        let tp = self.sock.sk.lock.lock();
        match tp.sk_linger.unwrap_or(0) {
            _ if !sk_stream_closing(&tp) => Some(0),
            SK_LINGER_FOREVER => None,
            s => Some(u64::from(s) * 1_000_000_000),
        }
    }

    /// `sk_stream_closing()`: our FIN is still unacknowledged, so a
    /// lingering `close()` still waits.
    pub fn closing(&self) -> bool {
        sk_stream_closing(&self.sock.sk.lock.lock())
    }

    /// The socket being closed.
    pub fn sock(&self) -> &Arc<TcpSock> {
        &self.sock.sk
    }

    /// Finish the close (`adjudge_to_death:`): same as dropping.
    pub fn finish(self) {}
}

/// `read(2)` through [`TcpSocket::recv`], for programs on a real-time host.
impl std::io::Read for &TcpSocket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.recv(buf).map_err(|e| std::io::Error::from_raw_os_error(e.errno()))
    }
}

/// `write(2)` through [`TcpSocket::send`].
impl std::io::Write for &TcpSocket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.send(buf).map_err(|e| std::io::Error::from_raw_os_error(e.errno()))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Read for TcpSocket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self).read(buf)
    }
}

impl std::io::Write for TcpSocket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
