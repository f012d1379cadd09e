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

#[test]
fn linger_rst_resets_instead_of_fin() {
    let r = run("linger-rst");
    let s = segs(&r);
    let rsts: Vec<&TcpSegment> = s.iter().map(|(_, x)| x).filter(|x| from(x, A) && x.flags == "R.").collect();
    assert_eq!(rsts.len(), 2, "{}", r.text);
    assert!(!s.iter().any(|(_, x)| x.flags.contains('F')), "no FIN at all:\n{}", r.text);
    // SO_LINGER 0: RST|ACK at snd_nxt after 64 bytes; unread data: seq 1,
    // acknowledging the 100 bytes a never read (Linux 6.18: `R. seq 65,
    // ack 1` and `R. seq 1, ack 101`).
    assert_eq!((rsts[0].seq, rsts[0].ack), (65, 1));
    assert_eq!((rsts[1].seq, rsts[1].ack), (1, 101));
    assert_eq!(counter(&r, "a", "TcpExtTCPAbortOnData"), 1, "SO_LINGER 0");
    assert_eq!(counter(&r, "a", "TcpExtTCPAbortOnClose"), 1, "unread data");
    assert_eq!(counter(&r, "a", "TcpOutRsts"), 2);
    assert_eq!(counter(&r, "a", "TcpExtTW"), 0, "no TIME_WAIT");
    assert_eq!(counter(&r, "b", "TcpEstabResets"), 2);
    assert_eq!(r.narrative.iter().filter(|l| l.contains("recv() = -1 ECONNRESET")).count(), 2);
    assert!(r.sockets.iter().all(|x| x.state == "LISTEN"), "only the listener is left: {:?}", r.sockets);
}

#[test]
fn fin_wait2_orphans_die_after_fin_timeout_or_linger2() {
    let r = run("fin-wait2-timeout");
    // Per table (1 s, 6 s, 59 s, 61 s): a's FIN-WAIT-2 rows.
    let tables: Vec<&str> = r.text.split("\nss -tan (").skip(1).collect();
    assert_eq!(tables.len(), 4);
    let fw2: Vec<usize> = tables.iter().map(|t| t.matches("FIN-WAIT-2").count()).collect();
    // 60 s by default, 5 s with TCP_LINGER2 = 5, none with -1, and 60 s
    // (30 on the keepalive timer, 30 as a timewait sock), not 90, with 90.
    assert_eq!(fw2, [3, 2, 2, 0], "{}", r.text);
    let cw: Vec<usize> = tables.iter().map(|t| t.matches("CLOSE-WAIT").count()).collect();
    assert_eq!(cw, [3, 3, 3, 3], "b's sockets never leave CLOSE_WAIT by themselves");
    assert_eq!(counter(&r, "a", "TcpExtTW"), 3, "each lingering orphan became a FIN_WAIT2 timewait sock");
    // b writes at 61 s: a has nothing left and answers with RSTs, which
    // reset b's CLOSE_WAIT sockets (EPIPE).
    let s = segs(&r);
    let late: Vec<&TcpSegment> = s.iter().filter(|(t, _)| *t > 60_000.0).map(|(_, x)| x).collect();
    assert_eq!(late.iter().filter(|x| from(x, A) && x.flags == "R").count(), 2, "{}", r.text);
    assert!(r.narrative.iter().any(|l| l.contains("send() = -1 EPIPE, -1 EPIPE")));
    // TCP_LINGER2 = -1: the ACK of the FIN is answered with a RST at once
    // (seq = that ACK's ack_seq, no ACK flag), as Linux 6.18 did.
    let early_rst: Vec<&TcpSegment> =
        s.iter().filter(|(t, x)| *t < 1_000.0 && from(x, A) && x.flags == "R").map(|(_, x)| x).collect();
    assert_eq!(early_rst.len(), 1, "{}", r.text);
    let syn3 = &s.iter().find(|(_, x)| x.flags == "S" && x.sport == early_rst[0].sport).unwrap().1;
    assert_eq!(early_rst[0].seq_abs, syn3.seq_abs.wrapping_add(2));
    assert_eq!(counter(&r, "a", "TcpExtTCPAbortOnData"), 1);
    assert_eq!(counter(&r, "a", "TcpOutRsts"), 3);
    assert_eq!(counter(&r, "b", "TcpEstabResets"), 3);
}

#[test]
fn last_ack_fin_backs_off_until_orphan_retries_end() {
    let r = run("last-ack-retries");
    let s = segs(&r);
    let fins: Vec<f64> = s.iter().filter(|(_, x)| from(x, A) && x.flags == "F.").map(|(t, _)| *t).collect();
    // As Linux 6.18 sent them (book/src/lab/last-ack-retries.md): the FIN,
    // a tail loss probe, then the 8 retransmissions tcp_orphan_retries
    // (0 = 8) allows.
    assert_eq!(fins.len(), 10, "the FIN, the loss probe and 8 retransmissions:\n{}", r.text);
    let gaps: Vec<f64> = fins.windows(2).map(|w| w[1] - w[0]).collect();
    // From a 1 ms RTT: the probe 2 × SRTT + TCP_RTO_MIN after the FIN, the
    // first RTO (about 202 ms) after the probe, then doubling.
    assert!((gaps[0] - 202.0).abs() <= 2.0, "the loss probe: {gaps:?}");
    for (i, g) in gaps[1..].iter().enumerate() {
        let want = 202.0 * f64::from(1u32 << i);
        assert!((g - want).abs() <= 2.0 * f64::from(1u32 << i), "gap {i}: {g} ms, want ~{want}: {gaps:?}");
    }
    assert!(!s.iter().any(|(_, x)| from(x, A) && x.flags.contains('R')), "the orphan dies without a RST");
    assert_eq!(counter(&r, "a", "TcpRetransSegs"), 9);
    assert_eq!(counter(&r, "a", "TcpExtTCPLossProbes"), 1);
    assert_eq!(counter(&r, "a", "TcpExtTCPTimeouts"), 9, "the expiry that gives up counts too (Linux 6.18)");
    assert_eq!(counter(&r, "a", "TcpExtTCPAbortOnTimeout"), 1);
    let gone = r.narrative.iter().find(|l| l.contains("the orphan is gone")).expect("the orphan dies");
    assert!(gone.contains("103.4 s"), "{gone}");
    assert!(r.sockets.iter().any(|x| x.state == "LAST-ACK"));
    assert!(!r.text.contains("tell 10.0.0.1"), "a permanent neighbour: a never ARPs");
}

#[test]
fn time_wait_lasts_from_the_last_fin_and_yields_to_tw_reuse() {
    let r = run("time-wait");
    let tables: Vec<&str> = r.text.split("\nss -tan (").skip(1).collect();
    let tw: Vec<usize> = tables.iter().map(|t| t.matches("TIME-WAIT").count()).collect();
    // 30 s in; 60.1 s after the first ACK (restarted by the FIN); 60 s
    // after the second ACK; the second connection; taken over; b's own
    // TIME_WAIT; reopened by a's SYN; overflow.
    assert_eq!(tw, [1, 1, 0, 1, 0, 1, 0, 0], "{}", r.text);
    assert!(tables[5].contains("TIME-WAIT       0      0 10.0.0.2:80"), "b holds it: {}", tables[5]);
    // b's FIN went twice, and a ACKed it twice from TIME_WAIT.
    let s = segs(&r);
    let first: Vec<&(f64, TcpSegment)> = s.iter().filter(|(t, _)| *t < 1_000.0).collect();
    let b_fins: Vec<f64> =
        first.iter().filter(|(_, x)| from(x, B) && x.flags == "F.").map(|(t, _)| *t).collect();
    assert_eq!(b_fins.len(), 2, "{}", r.text);
    assert!(b_fins[1] - b_fins[0] > 190.0, "at b's loss probe (two RTTs + TCP_RTO_MIN)");
    let acks_after_fin2 =
        first.iter().filter(|(t, x)| *t >= b_fins[1] && from(x, A) && x.flags == ".").count();
    assert_eq!(acks_after_fin2, 1, "TCP_TW_ACK");
    assert!(r.narrative.iter().any(|l| l.contains("connect(10.0.0.2:80) = -1 EADDRNOTAVAIL")));
    assert_eq!(counter(&r, "a", "TcpAttemptFails"), 0, "EADDRNOTAVAIL before the SYN is no attempt");
    assert_eq!(counter(&r, "a", "TcpExtTWRecycled"), 1);
    assert_eq!(counter(&r, "a", "TcpExtTW"), 2);
    assert_eq!(counter(&r, "a", "TcpExtTCPTimeWaitOverflow"), 1);
    // The connection that took the tuple over starts above the old
    // sequence space, and carries timestamps (tcp_twsk_unique needs them).
    let syns: Vec<&TcpSegment> =
        s.iter().filter(|(_, x)| from(x, A) && x.flags == "S" && x.sport == 40000).map(|(_, x)| x).collect();
    assert_eq!(syns.len(), 3, "{}", r.text);
    // tw_snd_nxt is the second connection's ISN + 2 (SYN and FIN).
    assert_eq!(syns[2].seq_abs, syns[1].seq_abs.wrapping_add(2 + 65535 + 2), "tw_snd_nxt + 65535 + 2");
    assert!(syns[2].options.contains("TS val"));
    // b's TIME_WAIT reopened by a SYN from 40001: the listener's SYN-ACK
    // starts at b's tw_snd_nxt + 65535 + 2 (TCP_TW_SYN).
    let b_synacks: Vec<&TcpSegment> =
        s.iter().filter(|(_, x)| from(x, B) && x.flags == "S." && x.dport == 40001).map(|(_, x)| x).collect();
    assert_eq!(b_synacks.len(), 2, "{}", r.text);
    assert_eq!(b_synacks[1].seq_abs, b_synacks[0].seq_abs.wrapping_add(2 + 65535 + 2));
    assert_eq!(counter(&r, "b", "TcpExtTW"), 1);
    assert_eq!(counter(&r, "b", "TcpAttemptFails"), 0);
}
