//! The closing scenarios' mechanisms, asserted from each run's structured
//! output (segments, counters, sockets, narrative): what Linux 6.18 was
//! seen to do, segment by segment, rather than the byte-exact snapshot
//! `book_outputs` keeps.

use net_lab::Report;
use net_lab::export::segments;
use net_lab::trace::TcpSegment;

mod common;
use common::{A, B, counter, run};

/// Segments with times in ms, each tagged with who sent it.
fn segs(r: &Report) -> Vec<(f64, TcpSegment)> {
    segments(r).into_iter().map(|(t, s)| (t as f64 / 1e6, s)).collect()
}

fn from(s: &TcpSegment, host: &str) -> bool {
    s.src.to_string() == host
}

/// The `ss -tan` rows of `host` in `state`, over every table printed.
fn rows(r: &Report, host: &str, state: &str) -> Vec<String> {
    r.sockets
        .iter()
        .filter(|x| x.host == host && x.state == state)
        .map(|x| x.local.clone() + " " + &x.peer)
        .collect()
}

#[test]
fn closewait_port_reuse_replays_the_first_article() {
    let r = run("closewait-port-reuse");
    let s = segs(&r);
    // The first connection from port 32768: a's FIN and b's ACK of it
    // leave b in CLOSE_WAIT with rcv_nxt = a's ISN + 2.
    let syn1 = &s.iter().find(|(_, x)| x.flags == "S" && x.sport == 32768).expect("first SYN").1;
    let old_rcv_nxt = syn1.seq_abs.wrapping_add(2);
    let old = |x: &TcpSegment| x.sport == 32768 || x.dport == 32768;
    let synack1 = &s.iter().find(|(_, x)| x.flags == "S." && old(x)).expect("first SYN-ACK").1;
    let old_snd_nxt = synack1.seq_abs.wrapping_add(1);

    // The third connect() takes 32768 again: a SYN with a new ISN ...
    let i = s
        .iter()
        .position(|(_, x)| x.flags == "S" && x.sport == 32768 && x.seq_abs != syn1.seq_abs)
        .unwrap_or_else(|| panic!("no SYN reusing port 32768:\n{}", r.text));
    let tail: Vec<&(f64, TcpSegment)> = s[i..].iter().filter(|(_, x)| old(x)).collect();
    let flags: Vec<&str> = tail.iter().map(|(_, x)| x.flags.as_str()).collect();
    assert_eq!(flags, ["S", ".", "R", "S", "S.", ".", "F.", "."], "{}", r.text);
    let (t_syn, syn) = tail[0];
    // ... answered by the CLOSE_WAIT socket's challenge ACK: its old
    // snd_nxt and rcv_nxt, no data ...
    let ack = &tail[1].1;
    assert!(from(ack, B) && ack.len == 0);
    assert_eq!(
        (ack.seq_abs, ack.ack_abs),
        (old_snd_nxt, old_rcv_nxt),
        "the challenge ACK is the old connection's"
    );
    // ... which a, in SYN-SENT, answers with a RST at that ack (no ACK
    // flag; tcpdump prints it absolute) ...
    let (t_rst, rst) = tail[2];
    assert!(from(rst, A) && rst.flags == "R");
    assert_eq!(rst.seq_abs, old_rcv_nxt);
    assert_eq!(rst.seq, old_rcv_nxt, "a RST without ACK prints absolute");
    // ... and the SYN again, same ISN, TCP_TIMEOUT_MIN (2 ms) later, not
    // after the 1 s RTO: Linux >= 5.5.
    let (t_syn2, syn2) = tail[3];
    assert_eq!(syn2.seq_abs, syn.seq_abs, "a retransmission of the same SYN");
    assert!((t_syn2 - t_rst - 2.0).abs() < 0.01, "SYN again 2 ms after the RST: {t_rst} -> {t_syn2}");
    assert!(t_syn2 - t_syn < 1000.0);
    // Then a normal handshake (renumbered from the new SYN-ACK) and a's FIN.
    let synack = &tail[4].1;
    assert_eq!(synack.ack_abs, syn.seq_abs.wrapping_add(1));
    assert_ne!(synack.seq_abs, synack1.seq_abs, "a new connection, a new ISN");
    assert_eq!((tail[5].1.ack, tail[6].1.seq, tail[7].1.ack), (1, 1, 2), "relative to the new connection");

    // Counters: the challenge on b, the RST and the early retransmission on a.
    assert_eq!(counter(&r, "b", "TcpExtTCPSYNChallenge"), 1);
    assert_eq!(counter(&r, "b", "TcpExtTCPChallengeACK"), 1);
    assert_eq!(counter(&r, "b", "TcpEstabResets"), 1, "the CLOSE_WAIT socket was reset");
    assert_eq!(counter(&r, "b", "TcpPassiveOpens"), 3);
    assert_eq!(counter(&r, "a", "TcpOutRsts"), 1);
    assert_eq!(counter(&r, "a", "TcpExtTCPSynRetrans"), 1);
    assert_eq!(counter(&r, "a", "TcpActiveOpens"), 3);
    assert_eq!(counter(&r, "a", "TcpExtTWKilled"), 3, "each FIN_WAIT2 orphan: a 1 s timewait sock");

    // ss -tan: two CLOSE_WAIT sockets on b in every table (the reset one
    // replaced by the new one); a's FIN_WAIT2 orphans come and go.
    let cw = rows(&r, "b", "CLOSE-WAIT");
    assert_eq!(cw.len(), 6, "{cw:?}\n{}", r.text);
    assert!(r.sockets.iter().filter(|x| x.state == "CLOSE-WAIT").all(|x| x.recv_q == 1), "the unread FIN");
    assert_eq!(rows(&r, "a", "FIN-WAIT-2").len(), 3);
    assert!(r.text.contains("a's FIN_WAIT2 orphans are gone"));
    let last = r.narrative.iter().find(|l| l.contains("b: fd 4:")).expect("fd 4 line");
    assert!(last.contains("recv() = 0") && last.contains("SO_ERROR = EPIPE"), "{last}");
}
