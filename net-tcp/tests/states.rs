//! The TCP state machine, one state at a time, in the style of smoltcp's
//! `mod test` for its TCP socket: one linnet host in virtual time, a test
//! device that records what the host sends, crafted segments from a
//! remote peer injected through the device's receive path, factories that
//! drive a socket into each state with real segments (`socket_listen()` …
//! `socket_last_ack()`), a segment template ([`SEND_TEMPL`] for what the
//! peer sends, [`RECV_TEMPL`] for what we expect back) and `recv`-style
//! assertions on what the host emitted.
//!
//! What a test expects is what Linux 6.18 does (net/ipv4/tcp_input.c,
//! tcp_minisocks.c, tcp_timer.c), which is RFC 9293 §3.10.7 with RFC 5961
//! except where the comments say otherwise.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::netdevice::MacAddr;
use net_core::snmp::{LinuxMib, TcpMib};
use net_core::{Clock, Errno, Net};
use net_ipv4::testlink::{ScriptLinkRef, eth_ipv4_frame, run_until_idle};
use net_tcp::TcpSocket;
use net_tcp::af_inet::{SO_REUSEADDR, SOL_SOCKET, Shutdown, TcpNet};
use net_tcp::sock::TcpSock;
use net_tcp::tcp_states::TcpState;
use net_tcp::tcphdr::{
    TCPHDR_ACK, TCPHDR_FIN, TCPHDR_PSH, TCPHDR_RST, TCPHDR_SYN, TcpHdr, TcpOutOptions, tcp_options_size,
    tcp_options_write, tcp_parse_options,
};

mod common;

const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const LOCAL_MAC: MacAddr = [2, 0, 0, 0, 0, 1];
const REMOTE_MAC: MacAddr = [2, 0, 0, 0, 0, 2];
const LOCAL_PORT: u16 = 80;
const REMOTE_PORT: u16 = 49500;
/// The peer's initial sequence number.
const REMOTE_SEQ: u32 = 0x1000_0000;
/// The window linnet offers: 131072-byte `tcp_rmem[1]`, half of it
/// (`tcp_adv_win_scale` 1), capped at 65535, rounded down to 44 × 1460 —
/// Linux 6.18's 64240 on a 1500-byte link.
const WIN: u16 = 64240;
const MSS: u16 = 1460;
/// In an expected segment: any window. The window offered after data
/// arrived depends on receive-window growth (`tcp_grow_window()`,
/// `scaling_ratio`), which these tests do not pin.
const ANY_WIN: u16 = 1;
const ACK: u8 = TCPHDR_ACK;
const SYN: u8 = TCPHDR_SYN;
const FIN: u8 = TCPHDR_FIN;
const RST: u8 = TCPHDR_RST;
const PSH: u8 = TCPHDR_PSH;

// -- segments -----------------------------------------------------------------------------

/// One TCP segment, sent or expected.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seg {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
    mss: Option<u16>,
    payload: Vec<u8>,
}

/// What the peer sends unless a test says otherwise (smoltcp's `SEND_TEMPL`).
const SEND_TEMPL: Seg = Seg {
    sport: REMOTE_PORT,
    dport: LOCAL_PORT,
    seq: REMOTE_SEQ + 1,
    ack: 0,
    flags: ACK,
    win: 65535,
    mss: None,
    payload: Vec::new(),
};

/// What we expect from the host unless a test says otherwise.
const RECV_TEMPL: Seg = Seg {
    sport: LOCAL_PORT,
    dport: REMOTE_PORT,
    seq: 0,
    ack: REMOTE_SEQ + 1,
    flags: ACK,
    win: WIN,
    mss: None,
    payload: Vec::new(),
};

fn flags_str(f: u8) -> String {
    let mut s = String::new();
    for (b, c) in [(FIN, 'F'), (SYN, 'S'), (RST, 'R'), (PSH, 'P'), (ACK, '.')] {
        if f & b != 0 {
            s.push(c);
        }
    }
    s
}

impl std::fmt::Display for Seg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}>{} [{}] seq {} ack {} win {} len {}{}",
            self.sport,
            self.dport,
            flags_str(self.flags),
            self.seq,
            self.ack,
            self.win,
            self.payload.len(),
            self.mss.map_or(String::new(), |m| format!(" <mss {m}>"))
        )
    }
}

// -- the test device ----------------------------------------------------------------------

// -- the harness --------------------------------------------------------------------------

/// One host, its link, and what the tests learned about the connection.
struct Host {
    clock: Clock,
    net: Arc<Net>,
    tn: Arc<TcpNet>,
    link: ScriptLinkRef,
    /// The host's ISN, learned from its SYN or SYN-ACK.
    iss: u32,
    /// The listener, for passive opens.
    listener: Option<TcpSocket>,
    /// The connection's socket handle (the user's fd), once there is one.
    sock: Option<TcpSocket>,
    /// The connection's `TcpSock`, which outlives the handle after close().
    sk: Option<Arc<TcpSock>>,
}

impl Host {
    fn new() -> Host {
        let clock = Clock::new_virtual_at(1_000_000_000);
        let (net, tn, link, _) =
            common::host(&clock, "states", 0x5eed, LOCAL_MAC, LOCAL_IP, &[(REMOTE_IP, REMOTE_MAC)]);
        let h = Host { clock, net, tn, link, iss: 0, listener: None, sock: None, sk: None };
        h.settle();
        h.link.lock().unwrap().tx.clear();
        h
    }

    fn settle(&self) {
        for _ in 0..10_000 {
            if self.net.poll() == 0 {
                return;
            }
        }
        panic!("host never went idle");
    }

    /// Run the host for `ms` of virtual time (timers fire).
    fn advance_ms(&self, ms: u64) {
        let deadline = self.clock.now_ns() + ms * 1_000_000;
        run_until_idle(&self.clock, &[&self.net], deadline);
    }

    /// Virtual time since the host started, ms.
    fn now_ms(&self) -> u64 {
        self.clock.now_ns() / 1_000_000 - 1000
    }

    /// Inject a segment from the peer, with a correct checksum, and let the
    /// host process it.
    fn send(&self, seg: &Seg) {
        self.send_frame(build_frame(seg, true));
    }

    fn send_frame(&self, frame: Vec<u8>) {
        self.link.lock().unwrap().rx.push_back(frame);
        self.settle();
    }

    /// Everything the host sent since the last call, decoded (non-TCP
    /// frames, like ARP, are skipped).
    fn sent(&self) -> Vec<Seg> {
        self.settle();
        let frames = std::mem::take(&mut self.link.lock().unwrap().tx);
        frames.iter().filter_map(|(_, f)| decode(f)).collect()
    }

    /// Exactly one segment was sent, and it is `want`.
    #[track_caller]
    fn recv(&self, want: Seg) {
        let got = self.sent();
        let list: Vec<String> = got.iter().map(|s| s.to_string()).collect();
        assert_eq!(got.len(), 1, "expected one segment, {want}; the host sent {list:?}");
        let want = if want.win == ANY_WIN { Seg { win: got[0].win, ..want } } else { want };
        assert_eq!(got[0], want, "\n  got:  {}\n  want: {want}", got[0]);
    }

    /// Nothing was sent.
    #[track_caller]
    fn recv_nothing(&self) {
        let got: Vec<String> = self.sent().iter().map(|s| s.to_string()).collect();
        assert!(got.is_empty(), "expected silence, the host sent {got:?}");
    }

    /// The connection's state as `ss` would show it: a timewait sock's
    /// substate (TIME_WAIT, or an orphan's FIN_WAIT2) if one holds the
    /// four-tuple — the full socket is CLOSE by then, as in Linux — else
    /// its socket's, or before the final ACK of a passive open, its
    /// request sock's (`TCP_NEW_SYN_RECV`) as ehash has it.
    fn state(&self) -> TcpState {
        let hit =
            self.tn.hashinfo.__inet_lookup_established_any(REMOTE_IP, REMOTE_PORT, LOCAL_IP, LOCAL_PORT, 0);
        if let Some(net_tcp::inet_hashtables::EhashEntry::Tw(tw)) = &hit {
            return tw.substate();
        }
        if let Some(sk) = &self.sk {
            return sk.sk_state();
        }
        match hit {
            Some(net_tcp::inet_hashtables::EhashEntry::Req(r)) => r.sk_state(),
            Some(net_tcp::inet_hashtables::EhashEntry::Sk(sk)) => sk.sk_state(),
            Some(net_tcp::inet_hashtables::EhashEntry::Tw(tw)) => tw.substate(),
            None => TcpState::Close,
        }
    }

    fn sock(&self) -> &TcpSocket {
        self.sock.as_ref().expect("a socket handle")
    }

    fn mib(&self, m: impl net_core::snmp::MibItem) -> u64 {
        self.net.mib.get(m)
    }

    /// The connection's socket as the hash tables find it.
    fn lookup(&self) -> Option<Arc<TcpSock>> {
        self.tn.hashinfo.__inet_lookup_established(REMOTE_IP, REMOTE_PORT, LOCAL_IP, LOCAL_PORT, 0)
    }
}

fn build_frame(seg: &Seg, good_csum: bool) -> Vec<u8> {
    let opts = TcpOutOptions { mss: seg.mss, ..TcpOutOptions::default() };
    let olen = tcp_options_size(&opts);
    let thlen = 20 + olen;
    let mut f = eth_ipv4_frame(LOCAL_MAC, REMOTE_MAC, REMOTE_IP, LOCAL_IP, 6, thlen + seg.payload.len());
    f[34 + 12] = ((thlen / 4) as u8) << 4;
    f[34 + thlen..].copy_from_slice(&seg.payload);
    let mut th = TcpHdr::new_checked(&mut f[34..]).unwrap();
    th.set_source(seg.sport);
    th.set_dest(seg.dport);
    th.set_seq(seg.seq);
    th.set_ack_seq(seg.ack);
    th.set_flags(seg.flags);
    th.set_window(seg.win);
    tcp_options_write(th.options_mut(), &opts);
    th.fill_checksum(REMOTE_IP, LOCAL_IP);
    if !good_csum {
        f[34 + 16] ^= 0x5a;
    }
    f
}

fn decode(f: &[u8]) -> Option<Seg> {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[14 + 9] != 6 {
        return None;
    }
    let ihl = usize::from(f[14] & 0xf) * 4;
    let tot = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let l4 = &f[14 + ihl..14 + tot];
    let th = TcpHdr::new_checked(l4).expect("a TCP header");
    assert!(th.verify_checksum(LOCAL_IP, REMOTE_IP), "the host sent a bad checksum");
    let syn = th.flags() & SYN != 0;
    Some(Seg {
        sport: th.source(),
        dport: th.dest(),
        seq: th.seq(),
        ack: th.ack_seq(),
        flags: th.flags(),
        win: th.window(),
        mss: tcp_parse_options(th.options(), syn).mss,
        payload: th.payload().to_vec(),
    })
}

// -- state factories --------------------------------------------------------------------------

/// A listener on port 80.
fn socket_listen() -> Host {
    let mut h = Host::new();
    let l = TcpSocket::new(&h.net).unwrap();
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, LOCAL_PORT)).unwrap();
    l.listen(8).unwrap();
    h.listener = Some(l);
    h.recv_nothing();
    h
}

/// LISTEN + the peer's SYN: a request sock (NEW_SYN_RECV) in ehash has
/// sent its SYN-ACK; no full socket exists yet.
fn socket_syn_received() -> Host {
    let mut h = socket_listen();
    h.send(&Seg { seq: REMOTE_SEQ, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    let got = h.sent();
    assert_eq!(got.len(), 1, "one SYN-ACK: {got:?}");
    h.iss = got[0].seq;
    assert_eq!(got[0], Seg { seq: h.iss, flags: SYN | ACK, mss: Some(MSS), ..RECV_TEMPL });
    assert!(h.lookup().is_none(), "no full socket before the final ACK");
    assert_eq!(h.state(), TcpState::NewSynRecv);
    h
}

/// A socket bound to port 80 that called connect(): SYN_SENT, SYN sent.
fn socket_syn_sent() -> Host {
    let mut h = Host::new();
    let s = TcpSocket::new(&h.net).unwrap();
    s.set_nonblocking(true);
    s.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, LOCAL_PORT)).unwrap();
    assert_eq!(s.connect(SocketAddrV4::new(REMOTE_IP, REMOTE_PORT)), Err(Errno::EINPROGRESS));
    let got = h.sent();
    assert_eq!(got.len(), 1, "one SYN: {got:?}");
    h.iss = got[0].seq;
    assert_eq!(got[0], Seg { seq: h.iss, ack: 0, flags: SYN, mss: Some(MSS), ..RECV_TEMPL });
    h.sk = Some(s.sock().clone());
    h.sock = Some(s);
    assert_eq!(h.state(), TcpState::SynSent);
    h
}

/// ESTABLISHED by a passive open (SYN, SYN-ACK, ACK), accepted.
fn socket_established() -> Host {
    let mut h = socket_syn_received();
    h.send(&Seg { ack: h.iss + 1, ..SEND_TEMPL });
    h.recv_nothing();
    let (s, peer) = h.listener.as_ref().unwrap().accept().expect("accept");
    assert_eq!(peer, SocketAddrV4::new(REMOTE_IP, REMOTE_PORT));
    s.set_nonblocking(true);
    assert!(Arc::ptr_eq(s.sock(), &h.lookup().expect("the child is in ehash")));
    h.sk = Some(s.sock().clone());
    h.sock = Some(s);
    assert_eq!(h.state(), TcpState::Established);
    h
}

/// ESTABLISHED + shutdown(SHUT_WR): FIN sent, FIN_WAIT1.
fn socket_fin_wait_1() -> Host {
    let h = socket_established();
    h.sock().shutdown(Shutdown::Write).unwrap();
    h.recv(Seg { seq: h.iss + 1, flags: FIN | ACK, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::FinWait1);
    h
}

/// FIN_WAIT1 + the ACK of our FIN: FIN_WAIT2.
fn socket_fin_wait_2() -> Host {
    let h = socket_fin_wait_1();
    h.send(&Seg { ack: h.iss + 2, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::FinWait2);
    h
}

/// FIN_WAIT1 + the peer's FIN that does not ACK ours: CLOSING.
fn socket_closing() -> Host {
    let h = socket_fin_wait_1();
    h.send(&Seg { ack: h.iss + 1, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::Closing);
    h
}

/// FIN_WAIT2 + the peer's FIN: TIME_WAIT.
fn socket_time_wait() -> Host {
    let h = socket_fin_wait_2();
    h.send(&Seg { ack: h.iss + 2, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::TimeWait);
    h
}

/// ESTABLISHED + the peer's FIN: CLOSE_WAIT, the FIN ACKed (a delayed
/// ACK: `tcp_fin()` enters pingpong mode).
fn socket_close_wait() -> Host {
    let h = socket_established();
    h.send(&Seg { ack: h.iss + 1, flags: FIN | ACK, ..SEND_TEMPL });
    assert_eq!(h.state(), TcpState::CloseWait);
    h.advance_ms(200);
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
    h
}

/// CLOSE_WAIT + shutdown(SHUT_WR): FIN sent, LAST_ACK.
fn socket_last_ack() -> Host {
    let h = socket_close_wait();
    h.sock().shutdown(Shutdown::Write).unwrap();
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 2, flags: FIN | ACK, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::LastAck);
    h
}

/// Advance to `at_ms` (virtual, from host start) and expect nothing up to
/// just before it, then exactly `want` by `at_ms + 3`.
#[track_caller]
fn expect_at(h: &Host, at_ms: u64, want: Seg) {
    let now = h.now_ms();
    assert!(at_ms > now + 3, "{at_ms} ms is not in the future (now {now} ms)");
    h.advance_ms(at_ms - 3 - now);
    h.recv_nothing();
    h.advance_ms(6);
    h.recv(want);
}

// =============================================================================================
// LISTEN
// =============================================================================================

#[test]
fn listen_syn_is_answered_with_syn_ack() {
    let h = socket_syn_received();
    assert_eq!(h.mib(TcpMib::PassiveOpens), 0, "counted at the final ACK");
    assert_eq!(h.mib(TcpMib::InSegs), 1);
    assert_eq!(h.mib(TcpMib::OutSegs), 1);
    assert_eq!(h.mib(TcpMib::CurrEstab), 0);
}

#[test]
fn listen_ack_is_answered_with_rst() {
    let h = socket_listen();
    // RFC 9293 §3.10.7.2: <SEQ=SEG.ACK><CTL=RST>.
    h.send(&Seg { seq: 1234, ack: 5678, ..SEND_TEMPL });
    h.recv(Seg { seq: 5678, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
    assert_eq!(h.mib(TcpMib::OutRsts), 1);
}

#[test]
fn listen_rst_is_ignored() {
    let h = socket_listen();
    h.send(&Seg { flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    h.send(&Seg { flags: RST | ACK, ack: 77, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.mib(TcpMib::OutRsts), 0);
}

#[test]
fn listen_segment_without_syn_ack_rst_is_dropped() {
    let h = socket_listen();
    h.send(&Seg { flags: 0, payload: b"hello".to_vec(), ..SEND_TEMPL });
    h.recv_nothing();
    h.send(&Seg { flags: FIN, ..SEND_TEMPL });
    h.recv_nothing();
}

#[test]
fn closed_port_syn_gets_rst_ack() {
    let h = Host::new();
    // No ACK on the segment: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    h.send(&Seg { seq: REMOTE_SEQ, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    h.recv(Seg { seq: 0, ack: REMOTE_SEQ + 1, flags: RST | ACK, win: 0, ..RECV_TEMPL });
    h.send(&Seg { flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.mib(TcpMib::OutRsts), 1);
    assert_eq!(h.mib(TcpMib::InSegs), 2);
}

// =============================================================================================
// SYN_RECV
// =============================================================================================

#[test]
fn syn_recv_ack_establishes() {
    let h = socket_established();
    assert_eq!(h.mib(TcpMib::PassiveOpens), 1);
    assert_eq!(h.mib(TcpMib::CurrEstab), 1);
    assert_eq!(h.mib(TcpMib::ActiveOpens), 0);
    assert_eq!(h.mib(TcpMib::InSegs), 2);
    assert_eq!(h.mib(TcpMib::OutSegs), 1);
}

#[test]
fn syn_recv_ack_beyond_snd_nxt_gets_rst() {
    let h = socket_syn_received();
    // tcp_check_req(): ack_seq != snt_isn + 1 → the listener answers with
    // a RST <SEQ=SEG.ACK>; the request stays.
    h.send(&Seg { ack: h.iss + 10, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 10, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::NewSynRecv);
    assert!(h.listener.as_ref().unwrap().accept().is_err());
}

#[test]
fn syn_recv_ack_of_iss_gets_rst() {
    let h = socket_syn_received();
    // SEG.ACK = ISS does not acknowledge our SYN: RFC 9293 §3.10.7.4
    // (SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter
    // ESTABLISHED … If the segment acknowledgment is not acceptable, form a
    // reset segment <SEQ=SEG.ACK><CTL=RST>"); Linux's tcp_check_req() tests
    // ack_seq != snt_isn + 1.
    h.send(&Seg { ack: h.iss, ..SEND_TEMPL });
    assert_eq!(h.state(), TcpState::NewSynRecv, "the handshake must not complete");
    h.recv(Seg { seq: h.iss, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
    assert!(h.listener.as_ref().unwrap().accept().is_err());
}

#[test]
fn syn_recv_rst_exact_drops_the_embryo() {
    let h = socket_syn_received();
    h.send(&Seg { flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert!(h.lookup().is_none(), "no child");
    assert_eq!(h.state(), TcpState::Close);
    assert!(h.listener.as_ref().unwrap().accept().is_err());
    // A later ACK finds only the listener: RST.
    h.send(&Seg { ack: h.iss + 1, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
}

#[test]
fn syn_recv_retransmitted_syn_gets_the_syn_ack_again() {
    let h = socket_syn_received();
    // tcp_check_req(): "Retransmitted SYN … retransmit SYN-ACK"
    // (inet_rtx_syn_ack()) when seq == rcv_isn and the flags are a bare SYN.
    h.advance_ms(100);
    h.send(&Seg { seq: REMOTE_SEQ, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss, flags: SYN | ACK, mss: Some(MSS), ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::NewSynRecv);
}

#[test]
fn syn_recv_syn_ack_retransmits_then_gives_up() {
    let h = socket_syn_received();
    // tcp_synack_retries = 5: SYN-ACKs again at 1, 3, 7, 15, 31 s
    // (TCP_TIMEOUT_INIT doubling), then the request dies at 63 s.
    let t0 = h.now_ms();
    let synack = Seg { seq: h.iss, flags: SYN | ACK, mss: Some(MSS), ..RECV_TEMPL };
    for at in [1000, 3000, 7000, 15000, 31000] {
        expect_at(&h, t0 + at, synack.clone());
    }
    h.advance_ms(63_000 - 31_000 - 10);
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::NewSynRecv);
    h.advance_ms(20);
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    assert_eq!(h.mib(TcpMib::RetransSegs), 5);
    h.send(&Seg { ack: h.iss + 1, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
}

// =============================================================================================
// SYN_SENT
// =============================================================================================

#[test]
fn syn_sent_syn_ack_establishes() {
    let h = socket_syn_sent();
    assert_eq!(h.mib(TcpMib::ActiveOpens), 1);
    h.send(&Seg { seq: REMOTE_SEQ, ack: h.iss + 1, flags: SYN | ACK, mss: Some(MSS), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::Established);
    assert_eq!(h.sock().connect(SocketAddrV4::new(REMOTE_IP, REMOTE_PORT)), Ok(()));
    assert_eq!(h.mib(TcpMib::CurrEstab), 1);
    assert_eq!(h.mib(TcpMib::OutSegs), 2);
    assert_eq!(h.mib(TcpMib::InSegs), 1);
}

#[test]
fn syn_sent_bad_ack_gets_rst() {
    let h = socket_syn_sent();
    // RFC 9293 §3.10.7.3: SEG.ACK =< ISS or > SND.NXT: <SEQ=SEG.ACK><CTL=RST>.
    h.send(&Seg { seq: REMOTE_SEQ, ack: h.iss + 100, flags: SYN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 100, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
    h.send(&Seg { seq: REMOTE_SEQ, ack: h.iss, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::SynSent);
}

#[test]
fn syn_sent_rst_with_acceptable_ack_refuses() {
    let h = socket_syn_sent();
    h.send(&Seg { seq: 0, ack: h.iss + 1, flags: RST | ACK, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    assert_eq!(h.sock().connect(SocketAddrV4::new(REMOTE_IP, REMOTE_PORT)), Err(Errno::ECONNREFUSED));
    assert_eq!(h.mib(TcpMib::AttemptFails), 1);
    assert_eq!(h.mib(TcpMib::EstabResets), 0);
}

#[test]
fn syn_sent_rst_without_or_with_bad_ack_is_ignored() {
    let h = socket_syn_sent();
    h.send(&Seg { seq: REMOTE_SEQ, ack: 0, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    h.send(&Seg { seq: REMOTE_SEQ, ack: h.iss + 5, flags: RST | ACK, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::SynSent);
}

#[test]
fn syn_sent_bare_ack_is_dropped() {
    let h = socket_syn_sent();
    // An acceptable ACK without SYN: "drop the segment and return".
    h.send(&Seg { seq: REMOTE_SEQ, ack: h.iss + 1, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::SynSent);
}

#[test]
fn syn_sent_simultaneous_open() {
    let h = socket_syn_sent();
    h.send(&Seg { seq: REMOTE_SEQ, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    // tcp_rcv_synsent_state_process(): SYN_RECV, tcp_send_synack().
    h.recv(Seg { seq: h.iss, flags: SYN | ACK, mss: Some(MSS), ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::SynRecv);
    h.send(&Seg { seq: REMOTE_SEQ, ack: h.iss + 1, flags: SYN | ACK, mss: Some(MSS), ..SEND_TEMPL });
    assert_eq!(h.state(), TcpState::Established);
    assert_eq!(h.mib(TcpMib::ActiveOpens), 1);
    assert_eq!(h.mib(TcpMib::PassiveOpens), 0);
    assert_eq!(h.mib(TcpMib::CurrEstab), 1);
}

#[test]
fn syn_sent_retransmits_with_linear_then_exponential_backoff() {
    let h = socket_syn_sent();
    // Linux 6.18: tcp_syn_linear_timeouts = 4 — the first four SYN timeouts
    // do not back off — then the RTO doubles; tcp_write_timeout() allows
    // tcp_syn_retries (6) + tcp_syn_linear_timeouts (4) retransmissions.
    // The kernel on this machine (6.18.44), a SYN into a black hole: SYNs
    // at 0, 1.009, 2.033, 3.057, 4.081, 5.105, 7.121, 11.249, 19.441,
    // 35.573 s.
    let syn = Seg { seq: h.iss, ack: 0, flags: SYN, mss: Some(MSS), ..RECV_TEMPL };
    let t0 = h.now_ms();
    for at in [1, 2, 3, 4, 5, 7, 11, 19, 35, 67] {
        expect_at(&h, t0 + at * 1000, syn.clone());
    }
    assert_eq!(h.mib(TcpMib::RetransSegs), 10);
    assert_eq!(h.mib(LinuxMib::TCPTimeouts), 10);
    assert_eq!(h.mib(LinuxMib::TCPSynRetrans), 10);
    // The eleventh timeout, 64 s later, gives up.
    h.advance_ms(t0 + 131_000 - 10 - h.now_ms());
    assert_eq!(h.state(), TcpState::SynSent);
    h.advance_ms(20);
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    assert_eq!(h.sock().connect(SocketAddrV4::new(REMOTE_IP, REMOTE_PORT)), Err(Errno::ETIMEDOUT));
    assert_eq!(h.mib(TcpMib::AttemptFails), 1);
}

#[test]
fn syn_sent_backoff_without_linear_timeouts() {
    let h = Host::new();
    h.net.sysctl.set("net.ipv4.tcp_syn_linear_timeouts", "0").unwrap();
    h.net.sysctl.set("net.ipv4.tcp_syn_retries", "3").unwrap();
    let mut h = h;
    let s = TcpSocket::new(&h.net).unwrap();
    s.set_nonblocking(true);
    s.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, LOCAL_PORT)).unwrap();
    let _ = s.connect(SocketAddrV4::new(REMOTE_IP, REMOTE_PORT));
    let first = h.sent();
    h.iss = first[0].seq;
    h.sk = Some(s.sock().clone());
    h.sock = Some(s);
    // RFC 6298 (5.5): 1 s, then 2 s, 4 s; give up 8 s after the last.
    let syn = Seg { seq: h.iss, ack: 0, flags: SYN, mss: Some(MSS), ..RECV_TEMPL };
    for at in [1000, 3000, 7000] {
        expect_at(&h, at, syn.clone());
    }
    h.advance_ms(15_000 - 7_000 - 10);
    assert_eq!(h.state(), TcpState::SynSent);
    h.advance_ms(20);
    assert_eq!(h.state(), TcpState::Close);
}

// =============================================================================================
// ESTABLISHED
// =============================================================================================

#[test]
fn established_data_in_order_is_acked_and_read() {
    let h = socket_established();
    h.send(&Seg { ack: h.iss + 1, flags: PSH | ACK, payload: b"abcdef".to_vec(), ..SEND_TEMPL });
    // Quick-ACK mode after the handshake: ACKed at once.
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 7, win: ANY_WIN, ..RECV_TEMPL });
    let mut b = [0u8; 16];
    assert_eq!(h.sock().recv(&mut b), Ok(6));
    assert_eq!(&b[..6], b"abcdef");
    assert_eq!(h.sock().recv(&mut b), Err(Errno::EAGAIN));
}

#[test]
fn established_data_out_of_order_is_held_until_the_hole_fills() {
    let h = socket_established();
    h.send(&Seg { seq: REMOTE_SEQ + 4, ack: h.iss + 1, payload: b"efgh".to_vec(), ..SEND_TEMPL });
    // Out of order: an immediate duplicate ACK.
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 1, ..RECV_TEMPL });
    let mut b = [0u8; 16];
    assert_eq!(h.sock().recv(&mut b), Err(Errno::EAGAIN));
    assert_eq!(h.mib(LinuxMib::TCPOFOQueue), 1);
    h.send(&Seg { ack: h.iss + 1, payload: b"abc".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 8, win: ANY_WIN, ..RECV_TEMPL });
    assert_eq!(h.sock().recv(&mut b), Ok(7));
    assert_eq!(&b[..7], b"abcefgh");
}

#[test]
fn established_data_out_of_window_gets_dup_ack() {
    let h = socket_established();
    h.send(&Seg { seq: REMOTE_SEQ + 1 + 100_000, ack: h.iss + 1, payload: b"far".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 1, ..RECV_TEMPL });
    let mut b = [0u8; 16];
    assert_eq!(h.sock().recv(&mut b), Err(Errno::EAGAIN));
}

#[test]
fn established_old_data_gets_dup_ack() {
    let h = socket_established();
    h.send(&Seg { ack: h.iss + 1, payload: b"abc".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 4, win: ANY_WIN, ..RECV_TEMPL });
    // The same segment again (its ACK was lost): a duplicate ACK at once.
    h.send(&Seg { ack: h.iss + 1, payload: b"abc".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 4, win: ANY_WIN, ..RECV_TEMPL });
    let mut b = [0u8; 16];
    assert_eq!(h.sock().recv(&mut b), Ok(3));
}

#[test]
fn established_segment_without_ack_is_dropped() {
    let h = socket_established();
    h.send(&Seg { flags: PSH, payload: b"noack".to_vec(), ..SEND_TEMPL });
    h.recv_nothing();
    let mut b = [0u8; 16];
    assert_eq!(h.sock().recv(&mut b), Err(Errno::EAGAIN));
}

/// Send `data` from the host and ACK it.
fn host_sends(h: &Host, data: &[u8]) {
    assert_eq!(h.sock().send(data), Ok(data.len()));
    h.recv(Seg { seq: h.iss + 1, flags: PSH | ACK, payload: data.to_vec(), ..RECV_TEMPL });
    h.send(&Seg { ack: h.iss + 1 + data.len() as u32, ..SEND_TEMPL });
    h.recv_nothing();
}

#[test]
fn established_ack_acceptable_old_and_unsent() {
    let h = socket_established();
    host_sends(&h, &[7u8; 100]);
    let una = h.iss + 101;
    // A duplicate (SEG.ACK = SND.UNA) and a slightly old one: ignored.
    h.send(&Seg { ack: una, ..SEND_TEMPL });
    h.recv_nothing();
    h.send(&Seg { ack: una - 50, ..SEND_TEMPL });
    h.recv_nothing();
    // SEG.ACK > SND.NXT: tcp_ack() returns < 0 and tcp_rcv_established()
    // discards the segment, data and all; Linux 6.18 answers it with a
    // challenge ACK (checked on the kernel: TCPChallengeACK 1, the data
    // not delivered).
    h.send(&Seg { ack: una + 1000, payload: b"zz".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: una, ..RECV_TEMPL });
    assert_eq!(h.mib(LinuxMib::TCPChallengeACK), 1);
    let mut b = [0u8; 4];
    assert_eq!(h.sock().recv(&mut b), Err(Errno::EAGAIN));
    assert_eq!(h.state(), TcpState::Established);
}

#[test]
fn established_ack_older_than_bytes_acked_gets_challenge_ack() {
    let h = socket_established();
    host_sends(&h, &[7u8; 100]);
    // tcp_ack(): "do not accept ACK for bytes we never sent":
    // max_window = min(tp->max_window, tp->bytes_acked) = 100, and an ACK
    // before snd_una - max_window earns a challenge ACK (RFC 5961 §5.2).
    h.send(&Seg { ack: h.iss + 101 - 300, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 101, ..RECV_TEMPL });
    assert_eq!(h.mib(LinuxMib::TCPChallengeACK), 1);
}

#[test]
fn established_rst_exact_resets() {
    let h = socket_established();
    h.send(&Seg { flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    let mut b = [0u8; 4];
    assert_eq!(h.sock().recv(&mut b), Err(Errno::ECONNRESET));
    assert_eq!(h.mib(TcpMib::EstabResets), 1);
    assert_eq!(h.mib(TcpMib::CurrEstab), 0);
    assert!(h.lookup().is_none());
}

#[test]
fn established_rst_in_window_not_exact_gets_challenge_ack() {
    let h = socket_established();
    h.send(&Seg { seq: REMOTE_SEQ + 1 + 1000, flags: RST, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::Established);
    assert_eq!(h.mib(LinuxMib::TCPChallengeACK), 1);
}

#[test]
fn established_rst_out_of_window_is_ignored() {
    let h = socket_established();
    h.send(&Seg { seq: REMOTE_SEQ + 1 + 200_000, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    h.send(&Seg { seq: REMOTE_SEQ - 1000, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Established);
}

#[test]
fn established_syn_gets_challenge_ack() {
    let h = socket_established();
    h.send(&Seg { seq: REMOTE_SEQ + 500, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::Established);
    assert_eq!(h.mib(LinuxMib::TCPSYNChallenge), 1);
    assert_eq!(h.mib(LinuxMib::TCPChallengeACK), 1);
}

/// Regression: Linux 6.18's `tcp_rcv_established()` calls
/// `tcp_validate_incoming(sk, skb, th, 1)`, so a challenged SYN on an
/// ESTABLISHED socket counts `Tcp: InErrs` too (`syn_inerr`);
/// `tcp_rcv_state_process()` passes 0, so in CLOSE_WAIT it does not.
#[test]
fn syn_challenge_counts_inerrs_only_when_established() {
    let h = socket_established();
    let before = h.mib(TcpMib::InErrs);
    h.send(&Seg { seq: REMOTE_SEQ + 500, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ..RECV_TEMPL });
    assert_eq!(h.mib(LinuxMib::TCPSYNChallenge), 1);
    assert_eq!(h.mib(TcpMib::InErrs) - before, 1);

    let h = socket_close_wait();
    let before = h.mib(TcpMib::InErrs);
    h.send(&Seg { seq: REMOTE_SEQ + 500, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    assert_eq!(h.mib(LinuxMib::TCPSYNChallenge), 1);
    assert_eq!(h.mib(TcpMib::InErrs), before);
    assert_eq!(h.state(), TcpState::CloseWait);
}

#[test]
fn established_fin_moves_to_close_wait() {
    let h = socket_close_wait();
    let mut b = [0u8; 4];
    assert_eq!(h.sock().recv(&mut b), Ok(0));
    assert_eq!(h.mib(TcpMib::CurrEstab), 1, "CLOSE_WAIT counts as established");
    assert_eq!(h.mib(LinuxMib::DelayedACKs), 1);
}

#[test]
fn established_rto_backs_off_from_the_floor() {
    let h = socket_established();
    // The handshake's RTT sample is ~0, so RTO = SRTT + max(RTTVAR,
    // TCP_RTO_MIN) ≈ 200 ms (201 jiffies after rounding up), doubling on
    // each expiry.
    assert_eq!(h.sock().send(b"data"), Ok(4));
    let d = Seg { seq: h.iss + 1, flags: PSH | ACK, payload: b"data".to_vec(), ..RECV_TEMPL };
    h.recv(d.clone());
    let rto = h.sock().tcp_info().tcpi_rto / 1000;
    assert!((200..=201).contains(&rto), "rto {rto} ms");
    let t0 = h.now_ms();
    let mut at = t0;
    for k in 0..4 {
        at += u64::from(rto) << k;
        expect_at(&h, at, d.clone());
    }
    assert_eq!(h.mib(TcpMib::RetransSegs), 4);
    assert_eq!(h.mib(LinuxMib::TCPTimeouts), 4);
    assert_eq!(h.sock().tcp_info().tcpi_backoff, 4);
    // The ACK ends the backoff.
    h.send(&Seg { ack: h.iss + 5, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.sock().tcp_info().tcpi_backoff, 0);
    h.advance_ms(10_000);
    h.recv_nothing();
}

#[test]
fn established_no_rtt_sample_from_an_ack_that_covers_a_retransmission() {
    let h = socket_established();
    let rtt0 = h.sock().tcp_info().tcpi_rtt;
    // Two segments; the RTO retransmits the first; the peer, which had the
    // second, ACKs both at once.
    let data = vec![9u8; 2 * usize::from(MSS)];
    assert_eq!(h.sock().send(&data), Ok(data.len()));
    assert_eq!(h.sent().len(), 2);
    h.advance_ms(250);
    let rtx = h.sent();
    assert_eq!(rtx.len(), 1, "the head is retransmitted");
    assert_eq!(rtx[0].seq, h.iss + 1);
    h.send(&Seg { ack: h.iss + 1 + 2 * u32::from(MSS), ..SEND_TEMPL });
    // Karn: an ACK that covers retransmitted data gives no RTT sample.
    // Linux's tcp_clean_rtx_queue() sets FLAG_RETRANS_DATA_ACKED for the
    // retransmitted skb and then takes seq_rtt_us only
    // `if (likely(first_ackt) && !(flag & FLAG_RETRANS_DATA_ACKED))`; the
    // second segment's age (~250 ms, most of it the RTO wait) is no RTT.
    let info = h.sock().tcp_info();
    assert_eq!(info.tcpi_rtt, rtt0, "srtt moved by a sample from an ACK covering a retransmission");
    assert_eq!(info.tcpi_unacked, 0);
}

#[test]
fn established_loss_state_retransmits_more_after_a_partial_ack() {
    let h = socket_established();
    let mss = u32::from(MSS);
    let data = vec![5u8; 4 * usize::from(MSS)];
    assert_eq!(h.sock().send(&data), Ok(data.len()));
    assert_eq!(h.sent().len(), 4);
    // The RTO: tcp_enter_loss() marks all four lost, cwnd = 1, the head
    // goes again.
    h.advance_ms(250);
    let rtx = h.sent();
    assert_eq!(rtx.len(), 1);
    assert_eq!((rtx[0].seq, rtx[0].payload.len()), (h.iss + 1, usize::from(MSS)));
    // The peer ACKs the head only. cwnd grows to 2, and since the three
    // others are counted lost, tcp_packets_in_flight() = packets_out -
    // lost_out + retrans_out = 0: tcp_xmit_retransmit_queue() sends the
    // next two at once. The 6.18 kernel here (reno, same sequence of
    // events) retransmits segments 2 and 3 within the same millisecond.
    h.send(&Seg { ack: h.iss + 1 + mss, ..SEND_TEMPL });
    let got: Vec<(u32, usize)> =
        h.sent().iter().map(|s| (s.seq.wrapping_sub(h.iss), s.payload.len())).collect();
    let m = usize::from(MSS);
    assert_eq!(
        got,
        vec![(1 + mss, m), (1 + 2 * mss, m)],
        "(seq - iss, len) retransmitted after the partial ACK"
    );
}

#[test]
fn established_rto_gives_up_after_tcp_retries2() {
    let h = socket_established();
    assert_eq!(h.sock().send(b"x"), Ok(1));
    h.sent();
    // tcp_retries2 = 15: the budget is tcp_model_timeout(15, 200 ms) =
    // 924.6 s from the first transmission; 15 retransmissions.
    h.advance_ms(920_000);
    assert_eq!(h.state(), TcpState::Established);
    h.advance_ms(10_000);
    assert_eq!(h.state(), TcpState::Close);
    assert_eq!(h.mib(TcpMib::RetransSegs), 15);
    let mut b = [0u8; 4];
    assert_eq!(h.sock().recv(&mut b), Err(Errno::ETIMEDOUT));
    // Linux's tcp_write_err() sends no RST.
    let rsts = h.sent().iter().filter(|s| s.flags & RST != 0).count();
    assert_eq!(rsts, 0);
    assert_eq!(h.mib(TcpMib::EstabResets), 1);
}

#[test]
fn established_close_with_unread_data_sends_rst() {
    let mut h = socket_established();
    h.send(&Seg { ack: h.iss + 1, payload: b"unread".to_vec(), ..SEND_TEMPL });
    h.sent();
    drop(h.sock.take());
    // tcp_close(): RST|ACK, seq = snd_nxt, ack = rcv_nxt.
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 7, flags: RST | ACK, win: ANY_WIN, ..RECV_TEMPL });
    assert_eq!(h.mib(LinuxMib::TCPAbortOnClose), 1);
    assert_eq!(h.mib(TcpMib::OutRsts), 1);
    assert_eq!(h.mib(TcpMib::EstabResets), 1);
    assert_eq!(h.state(), TcpState::Close);
}

#[test]
fn bad_checksum_is_counted_and_dropped() {
    let h = socket_established();
    let (ins, errs, csum) = (h.mib(TcpMib::InSegs), h.mib(TcpMib::InErrs), h.mib(TcpMib::InCsumErrors));
    h.send_frame(build_frame(&Seg { ack: h.iss + 1, payload: b"bad".to_vec(), ..SEND_TEMPL }, false));
    h.recv_nothing();
    assert_eq!(h.mib(TcpMib::InSegs), ins + 1);
    assert_eq!(h.mib(TcpMib::InErrs), errs + 1);
    assert_eq!(h.mib(TcpMib::InCsumErrors), csum + 1);
    let mut b = [0u8; 4];
    assert_eq!(h.sock().recv(&mut b), Err(Errno::EAGAIN));
    // A bad RST does nothing either.
    h.send_frame(build_frame(&Seg { flags: RST, ..SEND_TEMPL }, false));
    assert_eq!(h.state(), TcpState::Established);
    assert_eq!(h.mib(TcpMib::InCsumErrors), csum + 2);
}

// =============================================================================================
// FIN_WAIT1
// =============================================================================================

#[test]
fn fin_wait_1_ack_of_fin_moves_to_fin_wait_2() {
    let h = socket_fin_wait_2();
    assert_eq!(h.mib(TcpMib::CurrEstab), 0);
    assert_eq!(h.mib(TcpMib::EstabResets), 0);
}

#[test]
fn fin_wait_1_fin_moves_to_closing() {
    let h = socket_closing();
    assert_eq!(h.sock().poll() & net_tcp::af_inet::POLLIN, net_tcp::af_inet::POLLIN);
}

#[test]
fn fin_wait_1_fin_ack_moves_to_time_wait() {
    let h = socket_fin_wait_1();
    h.send(&Seg { ack: h.iss + 2, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::TimeWait);
}

#[test]
fn fin_wait_1_data_is_still_received() {
    let h = socket_fin_wait_1();
    h.send(&Seg { ack: h.iss + 1, payload: b"more".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 5, win: ANY_WIN, ..RECV_TEMPL });
    let mut b = [0u8; 8];
    assert_eq!(h.sock().recv(&mut b), Ok(4));
    assert_eq!(h.state(), TcpState::FinWait1);
}

#[test]
fn fin_wait_1_fin_is_retransmitted() {
    let h = socket_fin_wait_1();
    let rto = u64::from(h.sock().tcp_info().tcpi_rto / 1000);
    let t0 = h.now_ms();
    let fin = Seg { seq: h.iss + 1, flags: FIN | ACK, ..RECV_TEMPL };
    expect_at(&h, t0 + rto, fin.clone());
    expect_at(&h, t0 + 3 * rto, fin);
    assert_eq!(h.mib(TcpMib::RetransSegs), 2);
}

#[test]
fn fin_wait_1_rst_exact_and_in_window() {
    let h = socket_fin_wait_1();
    h.send(&Seg { seq: REMOTE_SEQ + 100, flags: RST, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::FinWait1);
    h.send(&Seg { flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
}

#[test]
fn fin_wait_1_ack_beyond_snd_nxt_gets_challenge_ack() {
    let h = socket_fin_wait_1();
    // tcp_rcv_state_process(): tcp_ack() < 0 outside ESTABLISHED →
    // tcp_send_challenge_ack().
    h.send(&Seg { ack: h.iss + 1000, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::FinWait1);
}

// =============================================================================================
// FIN_WAIT2
// =============================================================================================

#[test]
fn fin_wait_2_fin_moves_to_time_wait() {
    let h = socket_time_wait();
    assert_eq!(h.mib(TcpMib::CurrEstab), 0);
}

#[test]
fn fin_wait_2_data_is_still_received() {
    let h = socket_fin_wait_2();
    h.send(&Seg { ack: h.iss + 2, payload: b"late".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 5, win: ANY_WIN, ..RECV_TEMPL });
    let mut b = [0u8; 8];
    assert_eq!(h.sock().recv(&mut b), Ok(4));
}

#[test]
fn fin_wait_2_data_with_an_old_ack_is_accepted() {
    let h = socket_fin_wait_2();
    // The peer's data segment sent before its ACK of our FIN arrives after
    // it: SEG.ACK = iss+1 < SND.UNA = iss+2. tcp_rcv_state_process():
    // "accept old ack during closing" — tcp_ack() returned 0 (old ack), the
    // segment goes on to step 7 and its data is queued and ACKed.
    h.send(&Seg { ack: h.iss + 1, payload: b"reord".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 6, win: ANY_WIN, ..RECV_TEMPL });
    let mut b = [0u8; 8];
    assert_eq!(h.sock().recv(&mut b), Ok(5));
    assert_eq!(h.mib(LinuxMib::TCPChallengeACK), 0);
}

#[test]
fn fin_wait_2_orphan_ends_after_tcp_fin_timeout() {
    let mut h = socket_fin_wait_2();
    drop(h.sock.take());
    h.recv_nothing();
    // tcp_close(): tcp_fin_time() = 60 s = TCP_TIMEWAIT_LEN →
    // tcp_time_wait(sk, TCP_FIN_WAIT2, 60 s); it ends silently.
    h.advance_ms(59_900);
    assert_eq!(h.state(), TcpState::FinWait2);
    h.advance_ms(200);
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    assert!(h.lookup().is_none());
    h.send(&Seg { ack: h.iss + 2, payload: b"x".to_vec(), ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
}

#[test]
fn fin_wait_2_orphan_with_shorter_tcp_fin_timeout() {
    let mut h = socket_fin_wait_2();
    h.net.sysctl.set("net.ipv4.tcp_fin_timeout", "5").unwrap();
    drop(h.sock.take());
    h.advance_ms(4_900);
    assert_eq!(h.state(), TcpState::FinWait2);
    h.advance_ms(200);
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
}

#[test]
fn fin_wait_2_orphan_fin_moves_to_time_wait() {
    let mut h = socket_fin_wait_2();
    drop(h.sock.take());
    h.advance_ms(1_000);
    h.send(&Seg { ack: h.iss + 2, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::TimeWait);
    h.advance_ms(59_900);
    assert_eq!(h.state(), TcpState::TimeWait);
    h.advance_ms(200);
    assert_eq!(h.state(), TcpState::Close);
}

// =============================================================================================
// CLOSING
// =============================================================================================

#[test]
fn closing_ack_of_fin_moves_to_time_wait() {
    let h = socket_closing();
    h.send(&Seg { seq: REMOTE_SEQ + 2, ack: h.iss + 2, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::TimeWait);
}

#[test]
fn closing_fin_is_retransmitted_and_rst_resets() {
    let h = socket_closing();
    let rto = u64::from(h.sock().tcp_info().tcpi_rto / 1000);
    let t0 = h.now_ms();
    // The FIN was sent at the same instant as fin_wait_1's factory.
    expect_at(&h, t0 + rto, Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 2, flags: FIN | ACK, ..RECV_TEMPL });
    h.send(&Seg { seq: REMOTE_SEQ + 2, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
}

#[test]
fn closing_retransmitted_fin_is_acked() {
    let h = socket_closing();
    // Linux: seq < rcv_nxt falls through to tcp_data_queue(), whose
    // out-of-window path enters quick-ACK mode: an immediate ACK.
    h.send(&Seg { ack: h.iss + 1, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
}

// =============================================================================================
// TIME_WAIT
// =============================================================================================

#[test]
fn time_wait_lasts_sixty_seconds() {
    let h = socket_time_wait();
    h.advance_ms(59_900);
    assert_eq!(h.state(), TcpState::TimeWait);
    h.advance_ms(200);
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    assert_eq!(h.mib(LinuxMib::TW), 1);
    h.send(&Seg { seq: REMOTE_SEQ + 2, ack: h.iss + 2, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: 0, flags: RST, win: 0, ..RECV_TEMPL });
}

#[test]
fn time_wait_retransmitted_fin_is_acked_and_restarts_the_timer() {
    let h = socket_time_wait();
    h.advance_ms(30_000);
    h.send(&Seg { ack: h.iss + 2, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
    h.advance_ms(59_900);
    assert_eq!(h.state(), TcpState::TimeWait);
    h.advance_ms(200);
    assert_eq!(h.state(), TcpState::Close);
}

#[test]
fn time_wait_rst_kills_it() {
    let h = socket_time_wait();
    // tcp_rfc1337 = 0: a RST ends TIME_WAIT (tcp_timewait_state_process()
    // → TCP_TW_SUCCESS after inet_twsk_deschedule_put()).
    h.send(&Seg { seq: REMOTE_SEQ + 2, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
}

#[test]
fn time_wait_bare_ack_at_rcv_nxt_is_not_answered() {
    let h = socket_time_wait();
    // tcp_timewait_state_process(): an in-window segment with
    // seq == rcv_nxt that is "only reset or bare ack" restarts the timer
    // (inet_twsk_reschedule()) and returns TCP_TW_SUCCESS: no reply. The
    // 6.18 kernel here sends nothing either.
    h.send(&Seg { seq: REMOTE_SEQ + 2, ack: h.iss + 2, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::TimeWait);
}

#[test]
fn time_wait_rst_not_at_rcv_nxt_is_ignored() {
    let h = socket_time_wait();
    // tcp_timewait_state_process() kills the timewait sock only for a RST
    // with seq == rcv_nxt; any other RST falls through to the end and is
    // dropped (TCP_TW_SUCCESS). Checked on the 6.18 kernel here: after a
    // RST at rcv_nxt + 100 `ss` still lists the TIME-WAIT socket.
    h.send(&Seg { seq: REMOTE_SEQ + 2 + 100, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::TimeWait);
}

// =============================================================================================
// CLOSE_WAIT
// =============================================================================================

#[test]
fn close_wait_can_still_send() {
    let h = socket_close_wait();
    assert_eq!(h.sock().send(b"reply"), Ok(5));
    h.recv(Seg {
        seq: h.iss + 1,
        ack: REMOTE_SEQ + 2,
        flags: PSH | ACK,
        payload: b"reply".to_vec(),
        ..RECV_TEMPL
    });
    h.send(&Seg { seq: REMOTE_SEQ + 2, ack: h.iss + 6, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::CloseWait);
}

#[test]
fn close_wait_retransmitted_fin_is_acked() {
    let h = socket_close_wait();
    // Our ACK of the FIN was lost; the peer (FIN_WAIT1) retransmits it.
    // tcp_rcv_state_process() step 7: in CLOSE_WAIT a segment with
    // seq < rcv_nxt falls through to tcp_data_queue(), which enters
    // quick-ACK mode and schedules an ACK (out_of_window:) → sent at once.
    h.send(&Seg { ack: h.iss + 1, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
}

#[test]
fn close_wait_rst_resets_with_epipe() {
    let h = socket_close_wait();
    h.send(&Seg { seq: REMOTE_SEQ + 2, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    assert_eq!(h.mib(TcpMib::EstabResets), 1);
    assert_eq!(h.sock().send(b"x"), Err(Errno::EPIPE));
}

// =============================================================================================
// LAST_ACK
// =============================================================================================

#[test]
fn last_ack_ack_of_fin_closes() {
    let h = socket_last_ack();
    h.send(&Seg { seq: REMOTE_SEQ + 2, ack: h.iss + 2, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
    assert!(h.lookup().is_none());
    assert_eq!(h.mib(TcpMib::CurrEstab), 0);
    assert_eq!(h.mib(TcpMib::EstabResets), 0, "an orderly close is no reset");
}

#[test]
fn last_ack_fin_is_retransmitted() {
    let h = socket_last_ack();
    let rto = u64::from(h.sock().tcp_info().tcpi_rto / 1000);
    let t0 = h.now_ms();
    let fin = Seg { seq: h.iss + 1, ack: REMOTE_SEQ + 2, flags: FIN | ACK, ..RECV_TEMPL };
    expect_at(&h, t0 + rto, fin.clone());
    expect_at(&h, t0 + 3 * rto, fin);
}

#[test]
fn last_ack_retransmitted_fin_is_acked() {
    let h = socket_last_ack();
    h.send(&Seg { ack: h.iss + 1, flags: FIN | ACK, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 2, ack: REMOTE_SEQ + 2, ..RECV_TEMPL });
    assert_eq!(h.state(), TcpState::LastAck);
}

#[test]
fn last_ack_rst_closes() {
    let h = socket_last_ack();
    h.send(&Seg { seq: REMOTE_SEQ + 2, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.state(), TcpState::Close);
}

#[test]
fn counters_through_a_whole_passive_connection() {
    let h = socket_last_ack();
    h.send(&Seg { seq: REMOTE_SEQ + 2, ack: h.iss + 2, ..SEND_TEMPL });
    // SYN, ACK, FIN, ACK in; SYN-ACK, ACK of FIN, FIN out.
    assert_eq!(h.mib(TcpMib::InSegs), 4);
    assert_eq!(h.mib(TcpMib::OutSegs), 3);
    assert_eq!(h.mib(TcpMib::PassiveOpens), 1);
    assert_eq!(h.mib(TcpMib::ActiveOpens), 0);
    assert_eq!(h.mib(TcpMib::AttemptFails), 0);
    assert_eq!(h.mib(TcpMib::EstabResets), 0);
    assert_eq!(h.mib(TcpMib::CurrEstab), 0);
    assert_eq!(h.mib(TcpMib::RetransSegs), 0);
    assert_eq!(h.mib(TcpMib::OutRsts), 0);
    assert_eq!(h.mib(TcpMib::InErrs), 0);
}

/// RFC 5961's answers share one per-socket budget (`last_oow_ack_time`,
/// `tcp_invalid_ratelimit` = 500 ms), and every suppressed answer is
/// counted where Linux counts it.
#[test]
fn established_rfc5961_answers_share_the_per_socket_rate_limit() {
    let h = socket_established();
    let rcv_nxt = REMOTE_SEQ + 1;
    // An in-window RST that is not exact: a challenge ACK.
    h.send(&Seg { seq: rcv_nxt + 100, flags: RST, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: rcv_nxt, win: ANY_WIN, ..RECV_TEMPL });
    assert_eq!(h.mib(LinuxMib::TCPChallengeACK), 1);
    // Another, and a SYN, within 500 ms: counted, not answered.
    h.send(&Seg { seq: rcv_nxt + 200, flags: RST, ..SEND_TEMPL });
    h.recv_nothing();
    h.send(&Seg { seq: rcv_nxt + 300, flags: SYN, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.mib(LinuxMib::TCPSYNChallenge), 1);
    assert_eq!(h.mib(LinuxMib::TCPACKSkippedChallenge), 2);
    // A bare ACK far beyond the window: its dupack is rate-limited too.
    h.send(&Seg { seq: rcv_nxt + 10_000_000, ack: h.iss + 1, ..SEND_TEMPL });
    h.recv_nothing();
    assert_eq!(h.mib(LinuxMib::BeyondWindow), 1);
    assert_eq!(h.mib(LinuxMib::TCPACKSkippedSeq), 1);
    // 500 ms after the challenge, a SYN is challenged again.
    h.advance_ms(500);
    h.send(&Seg { seq: rcv_nxt + 300, flags: SYN, ..SEND_TEMPL });
    h.recv(Seg { seq: h.iss + 1, ack: rcv_nxt, win: ANY_WIN, ..RECV_TEMPL });
    assert_eq!(h.mib(LinuxMib::TCPChallengeACK), 2);
    assert_eq!(h.mib(LinuxMib::TCPSYNChallenge), 2);
    assert_eq!(h.state(), TcpState::Established);
}

/// The IPv4 header and first 8 bytes of a segment we sent, as an ICMP
/// error quotes it.
fn quoted_segment(seq: u32) -> Vec<u8> {
    let mut q = vec![0u8; 28];
    q[0] = 0x45;
    q[2..4].copy_from_slice(&40u16.to_be_bytes());
    q[8] = 64;
    q[9] = 6;
    q[12..16].copy_from_slice(&LOCAL_IP.octets());
    q[16..20].copy_from_slice(&REMOTE_IP.octets());
    q[20..22].copy_from_slice(&LOCAL_PORT.to_be_bytes());
    q[22..24].copy_from_slice(&REMOTE_PORT.to_be_bytes());
    q[24..28].copy_from_slice(&seq.to_be_bytes());
    q
}

/// An ICMP error that arrives while the socket is locked — Linux's
/// `sock_owned_by_user()`; here, for instance, an error our own output path
/// generates while `tcp_transmit_skb()` holds the lock — must not wait for
/// the lock (a spin lock taken twice on one thread never returns).
/// "Fragmentation needed" is deferred to the next transmit
/// (`TCP_MTU_REDUCED_DEFERRED`); anything else is dropped and counted
/// (`LockDroppedIcmps`), as `tcp_v4_err()` does.
#[test]
fn icmp_error_while_the_socket_is_locked_is_deferred_or_counted() {
    use net_ipv4::protocol::IcmpErr;
    let h = socket_established();
    let sk = h.sk.as_ref().unwrap().clone();
    let una = sk.lock.lock().snd_una;
    let inner = quoted_segment(una);
    {
        let _owned = sk.lock.lock();
        let err = IcmpErr { type_: 3, code: 4, info: 1000, inner: &inner };
        net_tcp::tcp_ipv4::tcp_v4_err(&h.net, &h.tn, &err);
        let err = IcmpErr { type_: 3, code: 1, info: 0, inner: &inner };
        net_tcp::tcp_ipv4::tcp_v4_err(&h.net, &h.tn, &err);
    }
    assert_eq!(sk.mtu_info.load(std::sync::atomic::Ordering::Acquire), 1000, "deferred, not lost");
    assert_eq!(h.net.mib.get(LinuxMib::LockDroppedIcmps), 1);
    // The next transmit applies it: 1000 − 40 = 960 (this peer's SYN
    // carried no timestamps); skbs queued at the old size are split.
    h.sock.as_ref().unwrap().send(&[7u8; 3000]).expect("send");
    let sent: Vec<usize> = h.sent().iter().map(|s| s.payload.len()).collect();
    assert!(!sent.is_empty(), "data left");
    assert!(sent.iter().all(|&n| n <= 960) && sent.contains(&960), "{sent:?}");
    assert_eq!(sk.mtu_info.load(std::sync::atomic::Ordering::Acquire), 0);
}

// =============================================================================================
// LISTEN: the request queue and the accept queue (the listen issue)
// =============================================================================================

/// A listener with backlog `backlog` on port 80, non-blocking.
fn socket_listen_backlog(backlog: i32) -> Host {
    let mut h = Host::new();
    let l = TcpSocket::new(&h.net).unwrap();
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, LOCAL_PORT)).unwrap();
    l.listen(backlog).unwrap();
    h.listener = Some(l);
    h.recv_nothing();
    h
}

/// The peer's SYN from `port`; returns the host's ISN from the SYN-ACK, or
/// `None` when nothing (or something else) came back.
fn syn_from(h: &Host, port: u16) -> Option<u32> {
    h.send(&Seg { sport: port, seq: REMOTE_SEQ, ack: 0, flags: SYN, mss: Some(MSS), ..SEND_TEMPL });
    let got = h.sent();
    match got.as_slice() {
        [s] if s.flags == SYN | ACK && s.dport == port => Some(s.seq),
        [] => None,
        other => panic!("unexpected answer to a SYN: {other:?}"),
    }
}

fn ack_from(h: &Host, port: u16, iss: u32) {
    h.send(&Seg { sport: port, ack: iss + 1, ..SEND_TEMPL });
}

#[test]
fn listen_backlog_admits_n_plus_one_and_counts_overflows() {
    let h = socket_listen_backlog(2);
    for port in 50000..50003 {
        let iss = syn_from(&h, port).expect("SYN-ACK");
        ack_from(&h, port, iss);
        h.recv_nothing();
    }
    let l = h.listener.as_ref().unwrap();
    // ss -lnt: Recv-Q 3, Send-Q 2; TCP_INFO says the same.
    assert_eq!(l.listen_queues(), Some((3, 2, 0)));
    let info = l.tcp_info();
    assert_eq!((info.tcpi_unacked, info.tcpi_sacked), (3, 2));
    // The fourth SYN finds the accept queue full: dropped, no request.
    assert_eq!(syn_from(&h, 50003), None);
    assert_eq!(h.mib(LinuxMib::ListenOverflows), 1);
    assert_eq!(h.mib(LinuxMib::ListenDrops), 1);
    assert_eq!(h.tn.reqsk_slab.active_objs(), 0);
    assert_eq!(h.mib(TcpMib::PassiveOpens), 3);
    for _ in 0..3 {
        l.accept().expect("accept");
    }
    assert_eq!(l.accept().err(), Some(Errno::EAGAIN));
    assert_eq!(l.listen_queues(), Some((0, 2, 0)));
}

#[test]
fn listen_final_ack_with_full_accept_queue_keeps_the_request() {
    let h = socket_listen_backlog(1);
    let a = syn_from(&h, 50000).unwrap();
    ack_from(&h, 50000, a);
    let c = syn_from(&h, 50002).unwrap();
    let b = syn_from(&h, 50001).expect("the request queue holds backlog + 1");
    assert_eq!(h.tn.reqsk_slab.active_objs(), 2);
    ack_from(&h, 50002, c);
    ack_from(&h, 50001, b);
    h.recv_nothing();
    let l = h.listener.as_ref().unwrap();
    assert_eq!(l.listen_queues(), Some((2, 1, 1)), "two children queued, one request left");
    assert_eq!(h.mib(LinuxMib::ListenOverflows), 1);
    assert_eq!(h.mib(LinuxMib::ListenDrops), 1);
    assert_eq!(h.mib(LinuxMib::EmbryonicRsts), 0);
    let _first = l.accept().unwrap();
    // The peer's next ACK completes it.
    ack_from(&h, 50001, b);
    h.recv_nothing();
    assert_eq!(l.listen_queues(), Some((2, 1, 0)));
    assert_eq!(h.tn.reqsk_slab.active_objs(), 0);
}

#[test]
fn listen_close_resets_queued_children_and_requests_die_with_their_timer() {
    let h = socket_listen_backlog(4);
    let a = syn_from(&h, 50000).unwrap();
    ack_from(&h, 50000, a);
    let _b = syn_from(&h, 50001).unwrap();
    h.recv_nothing();
    assert_eq!(h.tn.reqsk_slab.active_objs(), 1);
    let mut h = h;
    drop(h.listener.take()); // close()
    // inet_csk_listen_stop(): the queued child is reset.
    h.recv(Seg {
        sport: LOCAL_PORT,
        dport: 50000,
        seq: a + 1,
        ack: REMOTE_SEQ + 1,
        flags: RST | ACK,
        ..RECV_TEMPL
    });
    // The request sock dies when its timer next fires (1 s), without a
    // SYN-ACK: its listener is gone.
    h.advance_ms(1100);
    h.recv_nothing();
    assert_eq!(h.tn.reqsk_slab.active_objs(), 0);
    assert!(h.tn.hashinfo.__inet_lookup_established_any(REMOTE_IP, 50001, LOCAL_IP, LOCAL_PORT, 0).is_none());
}

#[test]
fn listen_request_queue_full_without_cookies_drops_and_logs_once() {
    let h = socket_listen_backlog(1);
    h.net.sysctl.set("net.ipv4.tcp_syncookies", "0").unwrap();
    assert!(syn_from(&h, 50000).is_some());
    assert!(syn_from(&h, 50001).is_some(), "qlen 1 is not > backlog 1");
    assert_eq!(syn_from(&h, 50002), None);
    assert_eq!(syn_from(&h, 50003), None);
    assert_eq!(h.mib(LinuxMib::TCPReqQFullDrop), 2);
    assert_eq!(h.mib(LinuxMib::ListenDrops), 2);
    assert_eq!(
        h.tn.dmesg.lock().as_slice(),
        ["TCP: request_sock_TCP: Possible SYN flooding on port 0.0.0.0:80. Dropping request."]
    );
}

#[test]
fn listen_request_queue_full_with_cookies_answers_and_keeps_nothing() {
    let h = socket_listen_backlog(1);
    assert!(syn_from(&h, 50000).is_some());
    assert!(syn_from(&h, 50001).is_some());
    // tcp_syncookies = 1 (the default): the third gets a cookie SYN-ACK,
    // and no request sock is kept for it.
    assert!(syn_from(&h, 50002).is_some());
    assert!(syn_from(&h, 50003).is_some());
    assert_eq!(h.tn.reqsk_slab.active_objs(), 2);
    assert_eq!(h.mib(LinuxMib::TCPReqQFullDoCookies), 2);
    assert_eq!(h.mib(LinuxMib::SyncookiesSent), 2);
    assert_eq!(
        h.tn.dmesg.lock().as_slice(),
        ["TCP: request_sock_TCP: Possible SYN flooding on port 0.0.0.0:80. Sending cookies."]
    );
}

#[test]
fn listen_old_requests_clogging_the_queue_get_fewer_retries() {
    // reqsk_timer_handler(): while more than half of max(8, backlog) is
    // taken by requests whose timer already fired (none young), the retry
    // budget falls from tcp_synack_retries (5) towards 2. Ten requests on
    // a backlog of 16: SYN-ACKs at 0, 1 and 3 s for all; at 7 s the budget
    // is 2, so requests die — until the queue is no longer more than half
    // full (qlen 8: 16 > 16 is false), after which the rest get the full
    // budget and a third SYN-ACK. Linux judges each request as its timer
    // fires, with the queue as it is then.
    let h = socket_listen_backlog(16);
    for port in 50000..50010 {
        assert!(syn_from(&h, port).is_some());
    }
    h.advance_ms(1000);
    assert_eq!(h.sent().len(), 10, "first retransmission, all still young when it fires");
    h.advance_ms(2000);
    assert_eq!(h.sent().len(), 10, "second retransmission");
    assert_eq!(h.listener.as_ref().unwrap().listen_queues(), Some((0, 16, 10)));
    h.advance_ms(4000);
    let third: Vec<u16> = h.sent().iter().map(|s| s.dport).collect();
    assert_eq!(third, (50002..50010).collect::<Vec<_>>(), "the first two died at their third timeout");
    assert_eq!(h.listener.as_ref().unwrap().listen_queues(), Some((0, 16, 8)));
    assert_eq!(h.tn.reqsk_slab.active_objs(), 8);
    assert_eq!(h.mib(TcpMib::RetransSegs), 28);
    assert_eq!(h.mib(LinuxMib::TCPTimeouts), 30);
}

#[test]
fn listen_again_changes_only_the_backlog() {
    let h = socket_listen_backlog(1);
    let l = h.listener.as_ref().unwrap();
    l.listen(7).unwrap();
    assert_eq!(l.listen_queues(), Some((0, 7, 0)));
    // Capped by net.core.somaxconn.
    h.net.sysctl.set("net.core.somaxconn", "5").unwrap();
    l.listen(100).unwrap();
    assert_eq!(l.listen_queues(), Some((0, 5, 0)));
    // Two sockets bound to one port with SO_REUSEADDR: the second
    // listen() fails in inet_csk_get_port() (EADDRINUSE).
    let bind81 = || {
        let s = TcpSocket::new(&h.net).unwrap();
        s.setsockopt_int(SOL_SOCKET, SO_REUSEADDR, 1).unwrap();
        s.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 81)).unwrap();
        s
    };
    let (s1, s2) = (bind81(), bind81());
    s1.listen(1).unwrap();
    assert_eq!(s2.listen(1), Err(Errno::EADDRINUSE));
}

#[test]
fn listen_max_syn_backlog_keeps_a_quarter_without_cookies() {
    // tcp_conn_request(): with tcp_syncookies = 0, once fewer than a
    // quarter of tcp_max_syn_backlog is left, new SYNs are dropped (peers
    // "proven alive" by the TCP metrics cache would pass; we have none).
    // 8 - qlen < 2 drops from the 8th request on (qlen 7).
    let h = socket_listen_backlog(100);
    h.net.sysctl.set("net.ipv4.tcp_syncookies", "0").unwrap();
    h.net.sysctl.set("net.ipv4.tcp_max_syn_backlog", "8").unwrap();
    for port in 50000..50007 {
        assert!(syn_from(&h, port).is_some(), "{port}");
    }
    assert_eq!(syn_from(&h, 50007), None);
    assert_eq!(h.mib(LinuxMib::ListenDrops), 1);
    assert_eq!(h.mib(LinuxMib::TCPReqQFullDrop), 0, "the request queue itself is not full");
    assert_eq!(h.listener.as_ref().unwrap().listen_queues(), Some((0, 100, 7)));
}

#[test]
fn listen_syn_flood_memory_stays_bounded_by_the_request_queue() {
    // 5000 SYNs that never complete, against listen(fd, 128): at most
    // 129 request socks exist (qlen > backlog is full); every other SYN is
    // answered with a cookie and leaves nothing behind.
    let h = socket_listen_backlog(128);
    let mut first_iss = 0;
    for port in 1000..6000u16 {
        let iss = syn_from(&h, port).expect("SYN-ACK or cookie");
        if port == 1000 {
            first_iss = iss;
        }
        assert!(h.tn.reqsk_slab.active_objs() <= 129);
    }
    assert_eq!(h.tn.reqsk_slab.active_objs(), 129);
    assert_eq!(h.mib(LinuxMib::SyncookiesSent), 5000 - 129);
    assert_eq!(h.tn.dmesg.lock().len(), 1, "logged once per listener");
    // A client whose request was kept completes its handshake and is
    // accepted.
    ack_from(&h, 1000, first_iss);
    h.recv_nothing();
    let (_s, peer) = h.listener.as_ref().unwrap().accept().expect("accept");
    assert_eq!(peer.port(), 1000);
    assert_eq!(h.tn.reqsk_slab.active_objs(), 128);
}

// -- malformed SYNs to a listener (the listen issue's "must hold under load") ----------------

/// A frame from the peer's `port` to the listener with raw `flags`, raw
/// option bytes (a multiple of 4) and `payload`; `doff`, if given,
/// overrides the header length written (the checksum is then wrong, but
/// Linux rejects a bad `doff` before it looks at the checksum).
fn raw_frame(port: u16, flags: u8, opts: &[u8], payload: &[u8], doff: Option<u8>) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0, "options fill whole words");
    let thlen = 20 + opts.len();
    let mut f = eth_ipv4_frame(LOCAL_MAC, REMOTE_MAC, REMOTE_IP, LOCAL_IP, 6, thlen + payload.len());
    f[34 + 12] = ((thlen / 4) as u8) << 4;
    f[34 + 20..34 + thlen].copy_from_slice(opts);
    f[34 + thlen..].copy_from_slice(payload);
    let mut th = TcpHdr::new_checked(&mut f[34..]).unwrap();
    th.set_source(port);
    th.set_dest(LOCAL_PORT);
    th.set_seq(REMOTE_SEQ);
    th.set_flags(flags);
    th.set_window(65535);
    th.fill_checksum(REMOTE_IP, LOCAL_IP);
    if let Some(d) = doff {
        f[34 + 12] = d << 4;
    }
    f
}

/// The request sock the listener keeps for the peer's `port`.
fn request_from(h: &Host, port: u16) -> Arc<net_tcp::request_sock::RequestSock> {
    match h.tn.hashinfo.__inet_lookup_established_any(REMOTE_IP, port, LOCAL_IP, LOCAL_PORT, 0) {
        Some(net_tcp::inet_hashtables::EhashEntry::Req(r)) => r,
        other => panic!("no request sock for port {port}: {other:?}"),
    }
}

#[test]
fn listen_malformed_flags_are_dropped_with_linux_reasons() {
    use net_core::SkbDropReason::{TcpFlags, TcpReset};
    let h = socket_listen_backlog(4);
    let drops = |r| h.net.drops.get(r);
    // SYN+FIN: tcp_rcv_state_process() "if (th->fin) { SKB_DR_SET(reason,
    // TCP_FLAGS); goto discard; }".
    h.send_frame(raw_frame(50000, SYN | FIN, &[], &[], None));
    h.recv_nothing();
    assert_eq!(drops(TcpFlags), 1);
    // SYN+RST: the RST test comes first (TCP_RESET), the SYN is never seen.
    h.send_frame(raw_frame(50001, SYN | RST, &[], &[], None));
    h.recv_nothing();
    assert_eq!(drops(TcpReset), 1);
    // A bare RST, and a segment with no flags at all.
    h.send_frame(raw_frame(50002, RST, &[], &[], None));
    h.send_frame(raw_frame(50003, 0, &[], &[], None));
    h.send_frame(raw_frame(50004, FIN, &[], &[], None));
    h.recv_nothing();
    assert_eq!((drops(TcpReset), drops(TcpFlags)), (2, 3));
    // An ACK (with or without SYN) is answered with a RST — and dropped as
    // TCP_FLAGS (tcp_v4_do_rcv(): reset, then sk_skb_reason_drop()).
    h.send_frame(raw_frame(50005, SYN | ACK, &[], &[], None));
    assert_eq!(h.sent().iter().map(|s| s.flags).collect::<Vec<_>>(), [RST]);
    assert_eq!(drops(TcpFlags), 4);
    // None of them left a request sock or counted as a listen drop.
    assert_eq!(h.tn.reqsk_slab.active_objs(), 0);
    assert_eq!(h.listener.as_ref().unwrap().listen_queues(), Some((0, 4, 0)));
    assert_eq!(h.mib(LinuxMib::ListenDrops), 0);
    // A good SYN still works, and its skb is consumed, not dropped.
    assert!(syn_from(&h, 50006).is_some());
    assert_eq!(h.net.drops.nonzero().iter().map(|(_, n)| n).sum::<u64>(), 6);
}

#[test]
fn listen_syn_with_data_is_answered_for_the_syn_only() {
    let h = socket_listen_backlog(4);
    h.send(&Seg {
        sport: 50000,
        seq: REMOTE_SEQ,
        flags: SYN,
        mss: Some(MSS),
        payload: b"early data".to_vec(),
        ..SEND_TEMPL
    });
    // The SYN-ACK acknowledges the SYN alone: the ten bytes are not kept
    // (no Fast Open), and not counted as a drop either (consume_skb()).
    let got = h.sent();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].flags, got[0].ack, got[0].payload.len()), (SYN | ACK, REMOTE_SEQ + 1, 0));
    assert_eq!(request_from(&h, 50000).rcv_nxt(), REMOTE_SEQ + 1);
    assert!(h.net.drops.nonzero().is_empty(), "{:?}", h.net.drops.nonzero());
}

#[test]
fn listen_syn_mss_zero_means_the_default_536() {
    let h = socket_listen_backlog(4);
    h.send_frame(raw_frame(50000, SYN, &[2, 4, 0, 0], &[], None));
    assert_eq!(h.sent().len(), 1);
    assert_eq!(request_from(&h, 50000).mss, 536, "TCP_MSS_DEFAULT");
    // No MSS option at all: the same.
    h.send_frame(raw_frame(50001, SYN, &[], &[], None));
    assert_eq!(h.sent().len(), 1);
    assert_eq!(request_from(&h, 50001).mss, 536);
}

#[test]
fn listen_syn_wscale_15_is_clamped_and_logged() {
    let h = socket_listen_backlog(64);
    let wscale = |w: u8| [1, 3, 3, w];
    h.send_frame(raw_frame(50000, SYN, &wscale(15), &[], None));
    assert_eq!(h.sent().len(), 1);
    let req = request_from(&h, 50000);
    assert_eq!((req.wscale_ok, req.snd_wscale), (true, 14));
    assert_eq!(
        h.tn.dmesg.lock().as_slice(),
        ["TCP: tcp_parse_options: Illegal window scaling value 15 > 14 received"]
    );
    // net_info_ratelimited(): ten lines per five seconds, then silence,
    // then a count of what was suppressed.
    for port in 50001..50020 {
        h.send_frame(raw_frame(port, SYN, &wscale(200), &[], None));
    }
    assert_eq!(h.sent().len(), 19, "every SYN is still answered");
    assert_eq!(h.tn.dmesg.lock().len(), 10);
    h.clock.advance_ns(5_001_000_000);
    h.send_frame(raw_frame(50020, SYN, &wscale(15), &[], None));
    let log = h.tn.dmesg.lock().clone();
    assert_eq!(
        log[10..],
        [
            "net_ratelimit: 10 callbacks suppressed".to_string(),
            "TCP: tcp_parse_options: Illegal window scaling value 15 > 14 received".to_string()
        ]
    );
    // With tcp_window_scaling = 0 the option is not parsed: no clamp, no line.
    h.net.sysctl.set("net.ipv4.tcp_window_scaling", "0").unwrap();
    h.send_frame(raw_frame(50021, SYN, &wscale(15), &[], None));
    assert!(!request_from(&h, 50021).wscale_ok);
    assert_eq!(h.tn.dmesg.lock().len(), 12);
}

#[test]
fn listen_syn_bad_option_lengths_are_ignored_as_linux_ignores_them() {
    let h = socket_listen_backlog(8);
    // An MSS option of length 3: not TCPOLEN_MSS, so skipped by its
    // length; the window scale after it still counts.
    h.send_frame(raw_frame(50000, SYN, &[2, 3, 5, 1, 3, 3, 7, 0], &[], None));
    assert_eq!(h.sent().len(), 1);
    let r = request_from(&h, 50000);
    assert_eq!((r.mss, r.wscale_ok, r.snd_wscale), (536, true, 7));
    // A "silly" length (< 2) ends the walk: the MSS after it is never read.
    h.send_frame(raw_frame(50001, SYN, &[1, 3, 1, 0, 2, 4, 5, 0xb4], &[], None));
    assert_eq!(h.sent().len(), 1);
    let r = request_from(&h, 50001);
    assert_eq!((r.mss, r.wscale_ok), (536, false));
    // An option running past the header ("don't parse partial options").
    h.send_frame(raw_frame(50002, SYN, &[2, 4, 5, 0xb4, 3, 9, 7, 0], &[], None));
    assert_eq!(h.sent().len(), 1);
    let r = request_from(&h, 50002);
    assert_eq!((r.mss, r.wscale_ok), (1460, false));
    // Options are never a reason to drop: nothing counted so far.
    assert!(h.net.drops.nonzero().is_empty(), "{:?}", h.net.drops.nonzero());
    let errs = h.mib(TcpMib::InErrs);
    // doff < 5: a bad packet (PKT_TOO_SMALL, InErrs), no answer.
    h.send_frame(raw_frame(50003, SYN, &[], &[], Some(4)));
    h.recv_nothing();
    assert_eq!(h.net.drops.get(net_core::SkbDropReason::PktTooSmall), 1);
    assert_eq!(h.mib(TcpMib::InErrs), errs + 1);
    // doff beyond the segment: pskb_may_pull() fails, discard_it
    // (NOT_SPECIFIED), not an InErr.
    h.send_frame(raw_frame(50004, SYN, &[], &[], Some(15)));
    h.recv_nothing();
    assert_eq!(h.net.drops.get(net_core::SkbDropReason::NotSpecified), 1);
    assert_eq!(h.mib(TcpMib::InErrs), errs + 1);
    assert_eq!(h.tn.reqsk_slab.active_objs(), 3);
}

/// A SYN cookie with timestamps carries what a cookie alone cannot: the
/// SYN-ACK's TSval hides the peer's window scale and SACK-permitted in its
/// low bits (`cookie_init_timestamp()`), the final ACK echoes it, and the
/// socket built from the cookie (`cookie_v4_check()` →
/// `cookie_timestamp_decode()`) has both — with no request sock ever kept.
#[test]
fn listen_syn_cookie_with_timestamps_keeps_wscale_and_sack() {
    let h = socket_listen_backlog(4);
    h.net.sysctl.set("net.ipv4.tcp_syncookies", "2").unwrap();
    let port = 51000;
    // <mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7>
    let mut opts = vec![2, 4, 0x05, 0xb4, 4, 2, 8, 10];
    opts.extend(1000u32.to_be_bytes());
    opts.extend(0u32.to_be_bytes());
    opts.extend([1, 3, 3, 7]);
    h.send_frame(raw_frame(port, SYN, &opts, &[], None));
    assert_eq!(h.mib(LinuxMib::SyncookiesSent), 1);
    assert_eq!(h.tn.reqsk_slab.active_objs(), 0, "a cookie keeps no request sock");
    let frames = std::mem::take(&mut h.link.lock().unwrap().tx);
    let synack = frames
        .iter()
        .filter_map(|(_, f)| {
            TcpHdr::new_checked(&f[34..]).map(|th| (th.seq(), th.flags(), th.parse_options()))
        })
        .find(|(_, flags, _)| *flags == SYN | ACK)
        .expect("a SYN-ACK");
    let (cookie, _, synack_opts) = synack;
    let (tsval, tsecr) = synack_opts.timestamps.expect("the SYN-ACK answers the timestamp");
    assert_eq!(tsecr, 1000);
    assert_eq!(synack_opts.wscale, Some(10));
    // The final ACK: <nop,nop,TS val 1001 ecr tsval>.
    let mut ack_opts = vec![1, 1, 8, 10];
    ack_opts.extend(1001u32.to_be_bytes());
    ack_opts.extend(tsval.to_be_bytes());
    let mut ack = raw_frame(port, ACK, &ack_opts, &[], None);
    {
        let mut th = TcpHdr::new_checked(&mut ack[34..]).unwrap();
        th.set_seq(REMOTE_SEQ + 1);
        th.set_ack_seq(cookie.wrapping_add(1));
        th.fill_checksum(REMOTE_IP, LOCAL_IP);
    }
    h.send_frame(ack);
    assert_eq!(h.mib(LinuxMib::SyncookiesRecv), 1);
    assert_eq!(h.mib(LinuxMib::SyncookiesFailed), 0);
    let (s, peer) = h.listener.as_ref().unwrap().accept().expect("the cookie made a socket");
    assert_eq!(peer.port(), port);
    let tp = s.sock().lock.lock();
    assert!(tp.rx_opt.tstamp_ok, "timestamps agreed");
    assert!(tp.rx_opt.wscale_ok && tp.rx_opt.snd_wscale == 7, "the peer's scale came back from the TSval");
    assert_eq!(tp.rx_opt.rcv_wscale, 10);
    assert!(tp.rx_opt.sack_ok, "SACK-permitted came back from the TSval");
    assert_eq!(tp.rx_opt.mss_clamp, 1460);
}
