//! The TCP scenarios' mechanisms, asserted from each run's structured
//! output (segments, counters, sockets, narrative) rather than from the
//! byte-exact snapshot: when net-tcp's traces shift, these still say
//! whether the story the book tells still happens.

use net_lab::Report;
use net_lab::export::segments;
use net_lab::trace::TcpSegment;

mod common;
use common::{A, B, counter, run};

/// Segments with times in seconds, each tagged with who sent it.
fn segs(r: &Report) -> Vec<(f64, TcpSegment)> {
    segments(r).into_iter().map(|(t, s)| (t as f64 / 1e9, s)).collect()
}

fn from(s: &TcpSegment, host: &str) -> bool {
    s.src.to_string() == host
}

#[test]
fn handshake_is_three_segments_with_linux_options() {
    let r = run("handshake");
    let s = segs(&r);
    let flags: Vec<&str> = s.iter().map(|(_, x)| x.flags.as_str()).collect();
    assert_eq!(flags, ["S", "S.", "."], "{}", r.text);
    let (syn, synack, ack) = (&s[0].1, &s[1].1, &s[2].1);
    assert!(from(syn, A) && from(synack, B) && from(ack, A));
    for opt in ["mss 1460", "sackOK", "TS val", "ecr 0", "wscale"] {
        assert!(syn.options.contains(opt), "SYN lacks {opt}: {}", syn.options);
    }
    assert!(synack.options.contains("mss") && synack.options.contains("wscale"));
    assert!(!synack.options.contains("ecr 0"), "the SYN-ACK echoes a's timestamp");
    assert_eq!(synack.ack_abs, syn.seq_abs.wrapping_add(1));
    assert_eq!(ack.ack_abs, synack.seq_abs.wrapping_add(1));
    assert!(ack.options.contains("TS val") && !ack.options.contains("mss"), "after the SYNs only timestamps");
    assert_eq!((counter(&r, "a", "TcpActiveOpens"), counter(&r, "b", "TcpPassiveOpens")), (1, 1));
    // ss -tan: SYN-SENT holds the SYN in Send-Q; the listener's Recv-Q is
    // its accept queue, Send-Q its backlog.
    let row =
        |state: &str, host: &str| r.sockets.iter().filter(|x| x.state == state && x.host == host).count();
    assert!(r.sockets.iter().any(|x| x.state == "SYN-SENT" && x.send_q == 1));
    assert!(r.sockets.iter().any(|x| x.state == "LISTEN" && x.recv_q == 1 && x.send_q == 128));
    assert!(r.sockets.iter().any(|x| x.state == "LISTEN" && x.recv_q == 0 && x.send_q == 128));
    assert!(row("ESTAB", "a") >= 2 && row("ESTAB", "b") >= 2);
}

/// a's FIN and everything after it.
fn close_tail(r: &Report) -> Vec<(f64, TcpSegment)> {
    let s = segs(r);
    let i = s.iter().position(|(_, x)| from(x, A) && x.flags.contains('F')).expect("a sends a FIN");
    s[i..].to_vec()
}

#[test]
fn three_way_close_merges_the_ack_into_the_fin() {
    let r = run("three-way-close");
    let tail = close_tail(&r);
    let fin = &tail[0].1;
    let b_segs: Vec<&TcpSegment> = tail.iter().map(|(_, x)| x).filter(|x| from(x, B)).collect();
    assert_eq!(b_segs.len(), 1, "b answers a's FIN with one segment:\n{}", r.text);
    assert_eq!(b_segs[0].flags, "F.", "FIN and ACK leave as one segment");
    assert_eq!(b_segs[0].ack_abs, fin.seq_abs.wrapping_add(1), "b's FIN acknowledges a's FIN");
    assert_eq!(tail.len(), 3, "three segments close the connection:\n{}", r.text);
    assert_eq!(tail[2].1.flags, ".");
    assert_eq!(counter(&r, "b", "TcpExtDelayedACKs"), 0, "the delayed-ACK timer found nothing to do");
    assert!(r.narrative.last().unwrap().contains("a: TIME-WAIT"));
}

#[test]
fn four_way_close_sends_the_delayed_ack_then_the_fin() {
    let r = run("four-way-close");
    let tail = close_tail(&r);
    let fin_seq = tail[0].1.seq_abs;
    let b_segs: Vec<&(f64, TcpSegment)> = tail.iter().filter(|(_, x)| from(x, B)).collect();
    assert_eq!(b_segs.len(), 2, "{}", r.text);
    let (ack, bfin) = (b_segs[0], b_segs[1]);
    assert_eq!((ack.1.flags.as_str(), ack.1.len), (".", 0), "first a pure ACK");
    assert_eq!(ack.1.ack_abs, fin_seq.wrapping_add(1));
    let delay = ack.0 - tail[0].0;
    assert!((0.035..0.25).contains(&delay), "the ACK waits for the delayed-ACK timer: {delay}");
    assert_eq!(bfin.1.flags, "F.");
    assert!(bfin.0 - ack.0 > 0.2, "then the FIN, when the application closes");
    assert_eq!(tail.len(), 4, "four segments");
    assert!(counter(&r, "b", "TcpExtDelayedACKs") >= 1);
    assert!(r.narrative.iter().any(|l| l.contains("a: FIN-WAIT-2")), "a waited in FIN_WAIT2");
}

#[test]
fn bulk_transfer_slow_starts_loses_and_recovers() {
    let r = run("bulk-transfer");
    assert!(r.narrative.iter().any(|l| l.contains("received 2097152 bytes")), "all data arrives");
    let max = r.cwnd.iter().map(|c| c.1).max().unwrap();
    assert!(r.cwnd.len() > 100, "cwnd sampled every 5 ms");
    assert!(max >= 40, "slow start grows cwnd well past the initial 10: {max}");
    let at_max = r.cwnd.iter().position(|c| c.1 == max).unwrap();
    // CUBIC (the default) cuts to β = 717/1024 of the window, Reno to half.
    assert!(
        r.cwnd[at_max..].iter().any(|c| c.1 <= max * 717 / 1024),
        "a loss cuts cwnd to 0.7 of it or less"
    );
    assert_eq!(counter(&r, "a", "TcpExtTCPHystartTrainDetect"), 1, "HyStart ended slow start");
    assert!(counter(&r, "a", "TcpRetransSegs") > 0);
    assert!(
        counter(&r, "a", "TcpExtTCPFastRetrans") + counter(&r, "a", "TcpExtTCPTimeouts") > 0,
        "the loss is repaired by fast retransmit or the RTO"
    );
    // A retransmission is a data segment that ends at or below the highest
    // sequence already sent.
    let mut high = 0u32;
    let mut retrans = 0;
    for (_, s) in segs(&r).iter().filter(|(_, s)| from(s, A) && s.len > 0) {
        if s.seq + s.len <= high {
            retrans += 1;
        }
        high = high.max(s.seq + s.len);
    }
    assert!(retrans > 0, "the trace shows retransmitted segments");
}

/// The queue's losses are repaired by fast retransmit (SACK, RACK and
/// PRR), never by the timer.
#[test]
fn bulk_transfer_fast_retransmits_before_any_rto() {
    let r = run("bulk-transfer");
    assert!(counter(&r, "a", "TcpExtTCPFastRetrans") > 0);
    assert_eq!(counter(&r, "a", "TcpExtTCPTimeouts"), 0);
}

#[test]
fn zero_window_probes_back_off_then_data_flows() {
    let r = run("zero-window");
    let s = segs(&r);
    let zero = s.iter().position(|(_, x)| from(x, B) && x.win == 0).expect("b advertises a zero window");
    let reopen = s[zero..].iter().position(|(_, x)| from(x, B) && x.win > 0).expect("and reopens it") + zero;
    let probes: Vec<f64> = s[zero..reopen]
        .iter()
        .filter(|(_, x)| from(x, A) && x.len == 0 && x.flags == ".")
        .map(|(t, _)| *t)
        .collect();
    assert!(probes.len() >= 3, "persist probes while the window is 0: {probes:?}");
    for w in probes.windows(3) {
        let (g1, g2) = (w[1] - w[0], w[2] - w[1]);
        assert!(g2 > 1.5 * g1, "the persist timer backs off: gaps {g1} then {g2}");
    }
    assert!(counter(&r, "a", "TcpExtTCPWinProbe") >= probes.len() as u64);
    assert!(counter(&r, "b", "TcpExtTCPToZeroWindowAdv") >= 1);
    assert!(counter(&r, "b", "TcpExtTCPFromZeroWindowAdv") >= 1);
    assert!(s[reopen..].iter().any(|(_, x)| from(x, A) && x.len > 0), "data flows after the window opens");
    assert!(r.narrative.iter().any(|l| l.contains("read 24576 of 24576")));
}

#[test]
fn keepalive_probes_a_vanished_peer_then_resets() {
    let r = run("keepalive");
    let s = segs(&r);
    let est = s.iter().position(|(_, x)| x.flags == "." && from(x, A)).unwrap();
    let probes: Vec<f64> = s[est + 1..]
        .iter()
        .filter(|(_, x)| from(x, A) && x.len == 0 && x.flags == ".")
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(probes.len(), 4, "one answered probe, then TCP_KEEPCNT = 3 unanswered:\n{}", r.text);
    assert!((9.9..10.2).contains(&probes[0]), "the first probe after TCP_KEEPIDLE: {}", probes[0]);
    for w in probes[1..].windows(2) {
        assert!((1.9..2.1).contains(&(w[1] - w[0])), "TCP_KEEPINTVL apart: {probes:?}");
    }
    assert!(s.iter().any(|(t, x)| from(x, B) && (*t - probes[0]).abs() < 0.1), "b answers the first");
    let rst = s.iter().find(|(_, x)| from(x, A) && x.flags.contains('R')).expect("a RST ends it");
    assert!(rst.0 > probes[3]);
    assert!(r.narrative.iter().any(|l| l.contains("ETIMEDOUT")));
    assert_eq!(counter(&r, "a", "TcpExtTCPKeepAlive"), 4);
    assert_eq!(counter(&r, "a", "TcpExtTCPAbortOnTimeout"), 1);
}

#[test]
fn retransmit_giveup_backs_off_then_times_out() {
    let r = run("retransmit-giveup");
    let s = segs(&r);
    let last = s.iter().filter(|(_, x)| from(x, A) && x.len > 0).map(|(_, x)| x.seq).max().unwrap();
    let tx: Vec<f64> =
        s.iter().filter(|(_, x)| from(x, A) && x.len > 0 && x.seq == last).map(|(t, _)| *t).collect();
    assert!(tx.len() >= 6, "the unanswered segment is retransmitted: {tx:?}");
    // First a tail loss probe, 2 × SRTT + TCP_RTO_MIN after the segment
    // (one segment in flight), then the first RTO one RTO after the probe,
    // then the RTO doubles — as Linux 6.18 sent them here (0, 0.207,
    // 0.415, 0.831, 1.663 s on a veth pair).
    assert!((tx[1] - tx[0] - 0.202).abs() < 0.003, "the loss probe: {tx:?}");
    assert_eq!(counter(&r, "a", "TcpExtTCPLossProbes"), 1);
    for w in tx[1..].windows(3) {
        let ratio = (w[2] - w[1]) / (w[1] - w[0]);
        assert!((1.8..2.2).contains(&ratio), "the RTO doubles: {tx:?}");
    }
    assert!(counter(&r, "a", "TcpExtTCPTimeouts") >= 5);
    assert_eq!(counter(&r, "a", "TcpExtTCPAbortOnTimeout"), 1);
    let end = r.narrative.last().unwrap();
    assert!(end.contains("ETIMEDOUT"), "{end}");
    assert!(r.narrative.iter().any(|l| l.contains("tcp_retries2 = 5")), "the lowered sysctl is said");
    // tcp_model_timeout(5, 200 ms) = 12.6 s, counted from the first
    // retransmission (retrans_stamp): the last retransmission came before
    // the budget was spent, the give-up at the first timer after.
    let secs: f64 = end[6..15].parse::<f64>().unwrap() - tx[2];
    let last = tx.last().unwrap() - tx[2];
    assert!(last < 12.6 && secs >= 12.6, "last retransmission {last} s, gave up {secs} s into the budget");
}

#[test]
fn plot_series_are_relative_and_mark_only_retransmissions() {
    let r = run("bulk-transfer");
    let g = net_lab::export::seq_graph(&r).expect("TCP to plot");
    assert!(g.title.starts_with("10.0.0.1."), "the sender's flow: {}", g.title);
    let top = g.data.iter().map(|d| d.2).max().unwrap();
    assert_eq!(
        top as usize,
        net_lab::scenarios::BULK_TOTAL + 2,
        "relative to the ISN: data is 1..=TOTAL, the FIN takes TOTAL + 1"
    );
    let retrans = g.data.iter().filter(|d| d.3).count();
    assert!(
        retrans > 0 && retrans * 10 < g.data.len(),
        "{retrans} of {} marked as retransmissions",
        g.data.len()
    );
    assert!(g.acks.windows(2).all(|w| w[1].1 >= w[0].1), "cumulative ACKs never go back");
    assert!(g.window.iter().zip(&g.acks).all(|(w, a)| w.1 >= a.1), "the window edge is at or above the ACK");
    let hs = run("handshake");
    assert!(
        net_lab::export::seq_graph(&hs).is_some_and(|g| g.data.is_empty()),
        "no data bars for a bare handshake"
    );
    assert!(net_lab::export::seq_graph(&run("ping")).is_none(), "nothing to plot without TCP");
}
