//! The TCP states and their bit flags.
//!
//! Mirrors include/net/tcp_states.h of **Linux 6.18**: `enum { TCP_ESTABLISHED
//! = 1, … }`, the `TCPF_*` flags (`1 << state`) that let a test read
//! "`(1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)`", and
//! `TCP_MAX_STATES`.
//!
//! Heads up! Read RFC 9293 §3.3.2 (the state diagram) first. Linux adds
//! three states the RFC does not have: `TCP_NEW_SYN_RECV` (a request sock,
//! the half-open connection a listener keeps before the final ACK),
//! `TCP_BOUND_INACTIVE` (a socket that is bound but neither listening nor
//! connected, 6.7+) and no separate "CLOSED"/"not yet used" distinction —
//! `TCP_CLOSE` is both.
//!
//! Where we differ: the states are a `#[repr(u8)]` enum instead of bare
//! integers; [`TcpState::from_u8`] is the only way in from a number and
//! refuses 0 and anything `>= TCP_MAX_STATES`. [`TcpState::name`] gives the
//! names `ss(8)` prints (iproute2's `sstate_name[]`), which Linux itself
//! does not have.

/// A TCP socket state, numbered as Linux numbers them.
///
/// Mirrors the anonymous `enum` of include/net/tcp_states.h; `sk->sk_state`
/// holds one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TcpState {
    /// `TCP_ESTABLISHED`: data flows both ways.
    #[doc(alias = "TCP_ESTABLISHED")]
    Established = 1,
    /// `TCP_SYN_SENT`: `connect()` sent a SYN, waiting for the SYN-ACK.
    #[doc(alias = "TCP_SYN_SENT")]
    SynSent = 2,
    /// `TCP_SYN_RECV`: a full socket that got a SYN and sent a SYN-ACK
    /// (Fast Open children and simultaneous open; ordinary listeners keep
    /// `TCP_NEW_SYN_RECV` request socks instead).
    #[doc(alias = "TCP_SYN_RECV")]
    SynRecv = 3,
    /// `TCP_FIN_WAIT1`: we sent our FIN, not yet acked.
    #[doc(alias = "TCP_FIN_WAIT1")]
    FinWait1 = 4,
    /// `TCP_FIN_WAIT2`: our FIN is acked, waiting for the peer's.
    #[doc(alias = "TCP_FIN_WAIT2")]
    FinWait2 = 5,
    /// `TCP_TIME_WAIT`: both FINs done; waiting out 2*MSL
    /// (`TCP_TIMEWAIT_LEN`, 60 s in Linux).
    #[doc(alias = "TCP_TIME_WAIT")]
    TimeWait = 6,
    /// `TCP_CLOSE`: closed, or never opened.
    #[doc(alias = "TCP_CLOSE")]
    Close = 7,
    /// `TCP_CLOSE_WAIT`: the peer sent FIN; we have not closed yet.
    #[doc(alias = "TCP_CLOSE_WAIT")]
    CloseWait = 8,
    /// `TCP_LAST_ACK`: the peer closed first, we sent our FIN after it,
    /// waiting for its ACK.
    #[doc(alias = "TCP_LAST_ACK")]
    LastAck = 9,
    /// `TCP_LISTEN`: accepting connections.
    #[doc(alias = "TCP_LISTEN")]
    Listen = 10,
    /// `TCP_CLOSING`: simultaneous close; both FINs sent, ours not acked.
    #[doc(alias = "TCP_CLOSING")]
    Closing = 11,
    /// `TCP_NEW_SYN_RECV`: a request sock (`struct request_sock`) in a
    /// listener's SYN queue.
    #[doc(alias = "TCP_NEW_SYN_RECV")]
    NewSynRecv = 12,
    /// `TCP_BOUND_INACTIVE`: bound but inactive (Linux 6.7+, used so a
    /// bound socket shows up in bhash2 lookups and `ss`).
    #[doc(alias = "TCP_BOUND_INACTIVE")]
    BoundInactive = 13,
}

/// `TCP_ESTABLISHED`.
pub const TCP_ESTABLISHED: u8 = TcpState::Established as u8;
/// `TCP_SYN_SENT`.
pub const TCP_SYN_SENT: u8 = TcpState::SynSent as u8;
/// `TCP_SYN_RECV`.
pub const TCP_SYN_RECV: u8 = TcpState::SynRecv as u8;
/// `TCP_FIN_WAIT1`.
pub const TCP_FIN_WAIT1: u8 = TcpState::FinWait1 as u8;
/// `TCP_FIN_WAIT2`.
pub const TCP_FIN_WAIT2: u8 = TcpState::FinWait2 as u8;
/// `TCP_TIME_WAIT`.
pub const TCP_TIME_WAIT: u8 = TcpState::TimeWait as u8;
/// `TCP_CLOSE`.
pub const TCP_CLOSE: u8 = TcpState::Close as u8;
/// `TCP_CLOSE_WAIT`.
pub const TCP_CLOSE_WAIT: u8 = TcpState::CloseWait as u8;
/// `TCP_LAST_ACK`.
pub const TCP_LAST_ACK: u8 = TcpState::LastAck as u8;
/// `TCP_LISTEN`.
pub const TCP_LISTEN: u8 = TcpState::Listen as u8;
/// `TCP_CLOSING`.
pub const TCP_CLOSING: u8 = TcpState::Closing as u8;
/// `TCP_NEW_SYN_RECV`.
pub const TCP_NEW_SYN_RECV: u8 = TcpState::NewSynRecv as u8;
/// `TCP_BOUND_INACTIVE`.
pub const TCP_BOUND_INACTIVE: u8 = TcpState::BoundInactive as u8;
/// `TCP_MAX_STATES`: one past the last state ("Leave at the end!").
pub const TCP_MAX_STATES: u8 = 14;

/// `TCPF_ESTABLISHED` (`1 << TCP_ESTABLISHED`).
pub const TCPF_ESTABLISHED: u32 = 1 << TCP_ESTABLISHED;
/// `TCPF_SYN_SENT`.
pub const TCPF_SYN_SENT: u32 = 1 << TCP_SYN_SENT;
/// `TCPF_SYN_RECV`.
pub const TCPF_SYN_RECV: u32 = 1 << TCP_SYN_RECV;
/// `TCPF_FIN_WAIT1`.
pub const TCPF_FIN_WAIT1: u32 = 1 << TCP_FIN_WAIT1;
/// `TCPF_FIN_WAIT2`.
pub const TCPF_FIN_WAIT2: u32 = 1 << TCP_FIN_WAIT2;
/// `TCPF_TIME_WAIT`.
pub const TCPF_TIME_WAIT: u32 = 1 << TCP_TIME_WAIT;
/// `TCPF_CLOSE`.
pub const TCPF_CLOSE: u32 = 1 << TCP_CLOSE;
/// `TCPF_CLOSE_WAIT`.
pub const TCPF_CLOSE_WAIT: u32 = 1 << TCP_CLOSE_WAIT;
/// `TCPF_LAST_ACK`.
pub const TCPF_LAST_ACK: u32 = 1 << TCP_LAST_ACK;
/// `TCPF_LISTEN`.
pub const TCPF_LISTEN: u32 = 1 << TCP_LISTEN;
/// `TCPF_CLOSING`.
pub const TCPF_CLOSING: u32 = 1 << TCP_CLOSING;
/// `TCPF_NEW_SYN_RECV`.
pub const TCPF_NEW_SYN_RECV: u32 = 1 << TCP_NEW_SYN_RECV;
/// `TCPF_BOUND_INACTIVE`.
pub const TCPF_BOUND_INACTIVE: u32 = 1 << TCP_BOUND_INACTIVE;

impl TcpState {
    /// Every state, in numeric order.
    pub const ALL: [TcpState; 13] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
        TcpState::BoundInactive,
    ];

    /// The state numbered `v`, or `None` for 0 and anything from
    /// [`TCP_MAX_STATES`] up.
    pub const fn from_u8(v: u8) -> Option<TcpState> {
        Some(match v {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            12 => TcpState::NewSynRecv,
            13 => TcpState::BoundInactive,
            _ => return None,
        })
    }

    /// The state's number (`sk->sk_state`).
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// This state's `TCPF_*` bit: `1 << state`.
    pub const fn flag(self) -> u32 {
        1 << (self as u8)
    }

    /// True if this state's bit is in `mask` (Linux:
    /// `(1 << sk->sk_state) & mask`).
    pub const fn in_mask(self, mask: u32) -> bool {
        self.flag() & mask != 0
    }

    /// The name `ss(8)` prints in its `State` column (iproute2's
    /// `sstate_name[]`): `ESTAB`, `SYN-SENT`, …; `TCP_CLOSE` is `UNCONN`.
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTAB",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "UNCONN",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW-SYN-RECV",
            TcpState::BoundInactive => "BOUND-INACTIVE",
        }
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_matches_linux() {
        assert_eq!(TCP_ESTABLISHED, 1);
        assert_eq!(TCP_SYN_SENT, 2);
        assert_eq!(TCP_SYN_RECV, 3);
        assert_eq!(TCP_FIN_WAIT1, 4);
        assert_eq!(TCP_FIN_WAIT2, 5);
        assert_eq!(TCP_TIME_WAIT, 6);
        assert_eq!(TCP_CLOSE, 7);
        assert_eq!(TCP_CLOSE_WAIT, 8);
        assert_eq!(TCP_LAST_ACK, 9);
        assert_eq!(TCP_LISTEN, 10);
        assert_eq!(TCP_CLOSING, 11);
        assert_eq!(TCP_NEW_SYN_RECV, 12);
        assert_eq!(TCP_BOUND_INACTIVE, 13);
        assert_eq!(TCPF_LISTEN, 1 << 10);
        assert_eq!(TCPF_CLOSE | TCPF_LISTEN, 0x480);
    }

    #[test]
    fn from_u8_round_trips_and_refuses_the_rest() {
        for s in TcpState::ALL {
            assert_eq!(TcpState::from_u8(s.as_u8()), Some(s));
            assert_eq!(s.flag(), 1 << s.as_u8());
        }
        assert_eq!(TcpState::from_u8(0), None);
        for v in TCP_MAX_STATES..=u8::MAX {
            assert_eq!(TcpState::from_u8(v), None);
        }
    }

    #[test]
    fn ss_names() {
        let names: Vec<_> = TcpState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "ESTAB",
                "SYN-SENT",
                "SYN-RECV",
                "FIN-WAIT-1",
                "FIN-WAIT-2",
                "TIME-WAIT",
                "UNCONN",
                "CLOSE-WAIT",
                "LAST-ACK",
                "LISTEN",
                "CLOSING",
                "NEW-SYN-RECV",
                "BOUND-INACTIVE"
            ]
        );
        assert!(TcpState::TimeWait.in_mask(TCPF_TIME_WAIT | TCPF_CLOSE));
        assert!(!TcpState::Listen.in_mask(TCPF_TIME_WAIT | TCPF_CLOSE));
    }
}
