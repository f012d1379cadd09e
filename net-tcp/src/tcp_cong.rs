//! Pluggable congestion control: `struct tcp_congestion_ops` and Reno.
//!
//! Mirrors net/ipv4/tcp_cong.c and include/net/tcp.h of **Linux 6.18**:
//! an algorithm is a table of hooks the core calls at fixed points — how
//! far to cut on loss (`ssthresh`), how to grow per ACK (`cong_avoid`),
//! what to restore when a loss proves spurious (`undo_cwnd`), and
//! notifications (`set_state`, `cwnd_event`, `pkts_acked`). Reno
//! (`tcp_reno_ssthresh()`, `tcp_reno_cong_avoid()`, `tcp_reno_undo_cwnd()`)
//! is built in and is the fallback every other algorithm can call; CUBIC
//! ([`crate::tcp_cubic`]) is built in beside it and, as in Linux 6.18, is
//! the default.
//!
//! Heads up: RFC 5681 §3.1 (slow start and congestion avoidance) and
//! RFC 3465 (appropriate byte counting, which Linux's `tcp_slow_start()`
//! applies per segment) first.
//!
//! # Where we differ
//!
//! - Linux passes `struct sock *`; the hooks here get the locked
//!   [`TcpSk`], since that is where every field they read lives
//!   (`pkts_acked()` also gets the `Net`, for HyStart's counters), and
//!   read time from its `tcp_mstamp` rather than the global `jiffies`.
//! - Private state is [`TcpSk::icsk_ca_priv`], 13 words like Linux's
//!   `ICSK_CA_PRIV_SIZE`; an algorithm views it through its own struct.

use net_core::Errno;
use net_core::sysctl_net::StrSysctlDef;

use crate::sock::*;

/// `TCP_CA_NAME_MAX`: an algorithm's name, NUL included, fits in 16 bytes.
pub const TCP_CA_NAME_MAX: usize = 16;

// ANCHOR: tcp_cong_list
/// The algorithms built in, in the order Linux registers them at boot:
/// Reno (`tcp_reno`, net/ipv4/tcp_cong.c) and CUBIC (`cubictcp`, built in
/// as `CONFIG_TCP_CONG_CUBIC=y` is in 6.18's defconfig). They cannot be
/// unregistered.
fn tcp_ca_builtin() -> [&'static dyn TcpCongestionOps; 2] {
    [&TCP_RENO, &crate::tcp_cubic::TCP_CUBIC]
}

/// `tcp_cong_list`: the algorithms registered after the built-in ones, in
/// registration order. Global, as Linux's list is (modules register once
/// for every namespace).
static TCP_CONG_LIST: spin::RwLock<Vec<&'static dyn TcpCongestionOps>> = spin::RwLock::new(Vec::new());

/// Mirrors `tcp_register_congestion_control()` (net/ipv4/tcp_cong.c): add
/// an algorithm to the list. `EEXIST` if the name is taken, `EINVAL` if it
/// is empty or does not fit `TCP_CA_NAME_MAX`.
pub fn tcp_register_congestion_control(ca: &'static dyn TcpCongestionOps) -> Result<(), Errno> {
    let name = ca.name();
    if name.is_empty() || name.len() >= TCP_CA_NAME_MAX {
        return Err(Errno::EINVAL);
    }
    let mut list = TCP_CONG_LIST.write();
    if tcp_ca_builtin().iter().any(|c| c.name() == name) || list.iter().any(|c| c.name() == name) {
        return Err(Errno::EEXIST);
    }
    list.push(ca);
    Ok(())
}

/// Mirrors `tcp_unregister_congestion_control()`. Sockets already using it
/// keep their `&'static` reference (Linux waits for them with the module
/// refcount). Reno and CUBIC cannot be removed.
pub fn tcp_unregister_congestion_control(name: &str) {
    TCP_CONG_LIST.write().retain(|c| c.name() != name);
}

/// Mirrors `tcp_ca_find()`: the algorithm called `name`, Reno and CUBIC
/// built in. Linux would also try `request_module("tcp_<name>")`; we have
/// no modules.
pub fn tcp_ca_find(name: &str) -> Option<&'static dyn TcpCongestionOps> {
    if let Some(ca) = tcp_ca_builtin().into_iter().find(|c| c.name() == name) {
        return Some(ca);
    }
    TCP_CONG_LIST.read().iter().copied().find(|c| c.name() == name)
}

/// Mirrors `tcp_get_available_congestion_control()`: the names,
/// space-separated. Linux lists in registration order: "reno cubic" first,
/// since both register at boot.
pub fn tcp_get_available_congestion_control() -> String {
    let mut names: Vec<&str> = tcp_ca_builtin().iter().map(|c| c.name()).collect();
    names.extend(TCP_CONG_LIST.read().iter().map(|c| c.name()));
    names.join(" ")
}
// ANCHOR_END: tcp_cong_list

fn tcp_ca_known(name: &str) -> Result<(), Errno> {
    tcp_ca_find(name).map(|_| ()).ok_or(Errno::ENOENT)
}

/// `net.ipv4.tcp_congestion_control`: the algorithm new sockets take
/// (`proc_tcp_congestion_control()`: an unknown name fails with `ENOENT`).
/// Linux 6.18's built-in default is `cubic` (`CONFIG_DEFAULT_TCP_CONG`),
/// and so is ours. A new namespace in Linux starts from the initial
/// namespace's choice (`bbr` on the machine these notes were checked on);
/// ours from the built-in default.
pub static TCP_CONGESTION_CONTROL: StrSysctlDef = StrSysctlDef {
    name: "net.ipv4.tcp_congestion_control",
    default: "cubic",
    validate: Some(tcp_ca_known),
    read: None,
    doc: "Congestion control algorithm for new connections.",
};

/// `net.ipv4.tcp_available_congestion_control` (read-only).
pub static TCP_AVAILABLE_CONGESTION_CONTROL: StrSysctlDef = StrSysctlDef {
    name: "net.ipv4.tcp_available_congestion_control",
    default: "",
    validate: None,
    read: Some(tcp_get_available_congestion_control),
    doc: "Congestion control algorithms available (read-only).",
};

// ANCHOR: tcp_assign_congestion_control
/// Mirrors `tcp_assign_congestion_control()`: a new socket takes the
/// namespace's algorithm (Reno if that name has gone), with zeroed
/// private state.
pub fn tcp_assign_congestion_control(tp: &mut TcpSk, default_name: &str) {
    tp.icsk_ca_ops = tcp_ca_find(default_name).unwrap_or(&TCP_RENO);
    tp.icsk_ca_priv = [0; 13];
    tp.icsk_ca_initialized = false;
}

/// Mirrors `tcp_init_congestion_control()`: at ESTABLISHED
/// (`tcp_init_transfer()`), forget `prior_ssthresh` and run the
/// algorithm's `init()`.
pub fn tcp_init_congestion_control(tp: &mut TcpSk) {
    tp.prior_ssthresh = 0;
    let ops = tp.icsk_ca_ops;
    ops.init(tp);
    tp.icsk_ca_initialized = true;
}

/// Mirrors `tcp_set_congestion_control()` + `tcp_reinit_congestion_control()`
/// (`TCP_CONGESTION`): switch this socket to `name` (`ENOENT` if there is
/// no such algorithm). The private state is zeroed, and on a connection
/// past the handshake the new algorithm's `init()` runs at once. Linux also
/// refuses algorithms not in `tcp_allowed_congestion_control` to
/// unprivileged users (`EPERM`); every caller here is privileged.
pub fn tcp_set_congestion_control(tp: &mut TcpSk, name: &str) -> Result<(), Errno> {
    let ca = tcp_ca_find(name).ok_or(Errno::ENOENT)?;
    tp.icsk_ca_ops = ca;
    tp.icsk_ca_priv = [0; 13];
    tp.icsk_ca_initialized = false;
    if !matches!(tp.state, crate::tcp_states::TcpState::Close | crate::tcp_states::TcpState::Listen) {
        tcp_init_congestion_control(tp);
    }
    Ok(())
}
// ANCHOR_END: tcp_assign_congestion_control

/// `enum tcp_ca_event`: what `cwnd_event()` is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaEvent {
    /// `CA_EVENT_TX_START`: first transmission when nothing was in flight.
    TxStart,
    /// `CA_EVENT_CWND_RESTART`: congestion window restart after idle.
    CwndRestart,
    /// `CA_EVENT_COMPLETE_CWR`: the window reduction is complete.
    CompleteCwr,
    /// `CA_EVENT_LOSS`: an RTO fired (`tcp_enter_loss()`).
    Loss,
}

/// One ACK's worth of samples (`struct ack_sample`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AckSample {
    /// `pkts_acked`: segments newly acknowledged (cumulatively or SACKed).
    pub pkts_acked: u32,
    /// `rtt_us`: the RTT sample, or −1 when there is none.
    pub rtt_us: i64,
    /// `in_flight`: packets in flight before this ACK.
    pub in_flight: u32,
}

/// `struct tcp_congestion_ops`.
pub trait TcpCongestionOps: Send + Sync {
    /// `name`, as `net.ipv4.tcp_congestion_control` and `TCP_CONGESTION` spell it.
    fn name(&self) -> &'static str;
    /// `init()`: set up `icsk_ca_priv` for a new connection.
    fn init(&self, _tp: &mut TcpSk) {}
    /// `ssthresh()` (required): the slow-start threshold after a loss. It
    /// may update the private state (CUBIC records W_max here).
    fn ssthresh(&self, tp: &mut TcpSk) -> u32;
    /// `cong_avoid()`: grow the window for `acked` newly acknowledged segments.
    fn cong_avoid(&self, tp: &mut TcpSk, ack: u32, acked: u32);
    /// `undo_cwnd()` (required): the window to restore when a reduction was spurious.
    fn undo_cwnd(&self, tp: &TcpSk) -> u32;
    /// `set_state()`: `icsk_ca_state` is about to change to `new_state`.
    fn set_state(&self, _tp: &mut TcpSk, _new_state: u8) {}
    /// `cwnd_event()`.
    fn cwnd_event(&self, _tp: &mut TcpSk, _ev: CaEvent) {}
    /// `pkts_acked()`: per-ACK samples (CUBIC's HyStart and delay min),
    /// from `tcp_clean_rtx_queue()`. Linux reaches the namespace through
    /// `sock_net(sk)` (HyStart counts in it); here it is passed.
    fn pkts_acked(&self, _net: &net_core::Net, _tp: &mut TcpSk, _sample: &AckSample) {}
}

impl std::fmt::Debug for dyn TcpCongestionOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// ANCHOR: tcp_slow_start
/// `tcp_slow_start()`: one segment of window per segment acknowledged, up
/// to `snd_ssthresh`; returns the acknowledgments left over for congestion
/// avoidance.
pub fn tcp_slow_start(tp: &mut TcpSk, acked: u32) -> u32 {
    let cwnd = tp.snd_cwnd.saturating_add(acked).min(tp.snd_ssthresh);
    let used = cwnd.saturating_sub(tp.snd_cwnd);
    tp.snd_cwnd = cwnd;
    acked - used.min(acked)
}

/// `tcp_cong_avoid_ai()`: additive increase, one segment per `w` segments
/// acknowledged (`snd_cwnd_cnt` counts them).
pub fn tcp_cong_avoid_ai(tp: &mut TcpSk, w: u32, acked: u32) {
    let w = w.max(1);
    if tp.snd_cwnd_cnt >= w {
        tp.snd_cwnd_cnt = 0;
        tp.snd_cwnd += 1;
    }
    tp.snd_cwnd_cnt += acked;
    if tp.snd_cwnd_cnt >= w {
        let delta = tp.snd_cwnd_cnt / w;
        tp.snd_cwnd_cnt -= delta * w;
        tp.snd_cwnd += delta;
    }
    tp.snd_cwnd = tp.snd_cwnd.min(TCP_INFINITE_SSTHRESH);
}
// ANCHOR_END: tcp_slow_start

/// `tcp_in_slow_start()`.
pub fn tcp_in_slow_start(tp: &TcpSk) -> bool {
    tp.snd_cwnd < tp.snd_ssthresh
}

/// Reno, Linux's built-in `tcp_reno` (net/ipv4/tcp_cong.c).
#[derive(Debug)]
pub struct Reno;

/// The one Reno instance sockets point at.
pub static TCP_RENO: Reno = Reno;

// ANCHOR: tcp_reno
impl TcpCongestionOps for Reno {
    fn name(&self) -> &'static str {
        "reno"
    }

    /// `tcp_reno_ssthresh()`: half the window, at least two segments.
    fn ssthresh(&self, tp: &mut TcpSk) -> u32 {
        (tp.snd_cwnd >> 1).max(2)
    }

    /// `tcp_reno_cong_avoid()`: nothing unless the window is what limits
    /// the sender; slow start below `snd_ssthresh`, then one segment per
    /// window (RFC 5681 §3.1).
    fn cong_avoid(&self, tp: &mut TcpSk, _ack: u32, acked: u32) {
        if !crate::tcp_input::tcp_is_cwnd_limited(tp) {
            return;
        }
        let mut acked = acked;
        if tcp_in_slow_start(tp) {
            acked = tcp_slow_start(tp, acked);
            if acked == 0 {
                return;
            }
        }
        let w = tp.snd_cwnd;
        tcp_cong_avoid_ai(tp, w, acked);
    }

    /// `tcp_reno_undo_cwnd()`: back to the window before the reduction.
    fn undo_cwnd(&self, tp: &TcpSk) -> u32 {
        tp.snd_cwnd.max(tp.prior_cwnd)
    }
}
// ANCHOR_END: tcp_reno

#[cfg(test)]
mod tests {
    use super::*;
    use net_core::{Clock, Net};

    fn with_sk(cwnd: u32, ssthresh: u32, f: impl FnOnce(&mut TcpSk)) {
        let net = Net::new("cong", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 131072, 16384);
        let mut tp = sk.lock.lock();
        tp.snd_cwnd = cwnd;
        tp.snd_ssthresh = ssthresh;
        tp.is_cwnd_limited = true;
        f(&mut tp);
    }

    #[test]
    fn reno_halves_with_a_floor_of_two() {
        with_sk(10, TCP_INFINITE_SSTHRESH, |tp| assert_eq!(TCP_RENO.ssthresh(tp), 5));
        with_sk(3, TCP_INFINITE_SSTHRESH, |tp| assert_eq!(TCP_RENO.ssthresh(tp), 2));
    }

    #[test]
    fn reno_slow_start_then_one_segment_per_window() {
        with_sk(10, 16, |tp| {
            TCP_RENO.cong_avoid(tp, 0, 4);
            assert_eq!(tp.snd_cwnd, 14, "slow start: one per segment ACKed");
            TCP_RENO.cong_avoid(tp, 0, 4);
            assert_eq!(tp.snd_cwnd, 16, "capped at ssthresh");
            assert_eq!(tp.snd_cwnd_cnt, 2, "the 2 left over count toward avoidance");
            TCP_RENO.cong_avoid(tp, 0, 14);
            assert_eq!(tp.snd_cwnd, 17, "a full window of ACKs adds one segment");
        });
    }
}
