//! Arbitrary frames into a host with a listening socket and an
//! established connection.
//!
//! The input is split into frames ([`linnet_fuzz::split_frames`]: a
//! length, a flags byte asking for fixed checksums and a pause, the
//! bytes). Each frame arrives on the server's `eth0` and goes up through
//! `net_rx_action()` → `eth_type_trans()` → `netif_receive_skb()`; the
//! clock moves on between frames and timers run; what the server answers
//! reaches the client.
//!
//! Afterwards: nothing panicked; the server still accepts a new
//! connection; and the established connection was either reset or closed
//! (a blind frame may legitimately do that: it can guess the exact
//! sequence number RFC 5961 asks for), or had its sequence space moved by
//! an in-window segment the fuzzer forged (data or FIN: TCP cannot tell
//! those from the peer's), or it still carries bytes both ways, every
//! byte as sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use net_core::Errno;
use net_tcp::TcpSocket;
use net_tcp::tcp_states::TcpState;

use linnet_fuzz::{Lab, fix_checksums, pattern, split_frames};

/// Bytes sent each way in the check afterwards.
const CHECK_BYTES: u64 = 3000;

/// (rcv_nxt, snd_nxt) of a socket.
fn seqs(s: &TcpSocket) -> (u32, u32) {
    let tp = s.sock().lock.lock();
    (tp.rcv_nxt, tp.snd_nxt)
}

/// Send [`CHECK_BYTES`] from `from` to `to` and read them back; `Err` when
/// the connection turned out not to carry them (reset meanwhile).
fn transfer(lab: &mut Lab, from: &TcpSocket, to: &TcpSocket, stream: u64) -> Result<(), String> {
    let data: Vec<u8> = (0..CHECK_BYTES).map(|i| pattern(stream, i)).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..200 {
        if sent < data.len() {
            match from.send(&data[sent..]) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => {}
                Err(e) => return Err(format!("send: {e:?}")),
            }
        }
        lab.run_for(50_000_000);
        loop {
            match to.recv(&mut buf) {
                Ok(0) => return Err("EOF".into()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(format!("recv: {e:?}")),
            }
        }
        assert_eq!(got[..], data[..got.len()], "bytes delivered out of order or corrupted");
        if got.len() == data.len() {
            return Ok(());
        }
    }
    panic!("{} of {CHECK_BYTES} bytes arrived in 10 s on an intact connection", got.len());
}

fuzz_target!(|data: &[u8]| {
    let mut lab = Lab::new();
    let (client, child) = lab.connect();
    let before = (seqs(&client), seqs(&child));

    for (flags, mut frame) in split_frames(data) {
        if flags & 1 != 0 {
            fix_checksums(&mut frame);
        }
        lab.slink.lock().unwrap_or_else(|e| e.into_inner()).rx.push_back(frame);
        lab.run_for(u64::from(flags >> 1) * 1_000_000 + 1);
    }
    lab.run_for(1_000_000);

    // The listener still takes a new connection.
    let (c2, s2) = lab.connect();
    drop((c2, s2));

    let alive = |s: &TcpSocket| s.state() == TcpState::Established;
    let (cs, ss) = (seqs(&client), seqs(&child));
    // The forged frames moved a sequence space: a segment TCP had to take
    // as the peer's (data or FIN at rcv_nxt, or an ACK of data in flight).
    let moved = cs.0 != before.0.0 || ss.0 != before.1.0 || cs != (ss.1, ss.0);
    if !alive(&client) || !alive(&child) || moved {
        return;
    }
    let r1 = transfer(&mut lab, &client, &child, 1);
    let r2 = transfer(&mut lab, &child, &client, 2);
    if r1.is_err() || r2.is_err() {
        // Only a reset may stop an intact connection.
        assert!(
            !alive(&client) || !alive(&child),
            "intact connection failed while established: {r1:?} {r2:?}"
        );
    }
});
