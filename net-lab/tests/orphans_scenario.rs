//! The `orphans` scenario: closes to a vanished peer over
//! `tcp_max_orphans` (3, with `tcp_orphan_retries` 2).

mod common;

use common::{A, B, counter, run};
use net_lab::export::segments;

#[test]
fn orphans_over_the_limit_are_reset_the_rest_give_up() {
    let r = run("orphans");
    let s = segments(&r);
    let from_a = |flags: &str| s.iter().filter(|(_, x)| x.src.to_string() == A && x.flags == flags).count();
    let memory = counter(&r, "a", "TcpExtTCPAbortOnMemory");
    let timeout = counter(&r, "a", "TcpExtTCPAbortOnTimeout");
    assert!(memory > 0, "some orphans were reset for memory\n{}", r.text);
    assert!(timeout > 0, "some lived to give up after tcp_orphan_retries\n{}", r.text);
    assert_eq!(memory + timeout, 8, "every orphan died of one or the other\n{}", r.text);
    assert_eq!(from_a("R."), memory as usize, "a RST for each reset, none for a give-up");
    // Every orphan that lived to its probe timeout sent its FIN again as a
    // tail loss probe (the probe does not consult the orphan limit; the
    // RTO that follows does, and resets the ones over it). Those that gave
    // up then retransmitted three times (tcp_orphan_retries = 2, a 1.4 s
    // budget from the first retransmission, which the probe is not; with
    // the ~202 ms RTO the third leaves 1.21 s in). Linux 6.18 on a veth
    // pair here sent an orphan's FIN at 0, 0.205 (the probe), 0.413, 0.845
    // and 1.677 s.
    let probes = counter(&r, "a", "TcpExtTCPLossProbes");
    assert!(probes >= timeout && probes < 8, "{probes} probes\n{}", r.text);
    assert_eq!(from_a("F."), 8 + (probes + 3 * timeout) as usize, "{}", r.text);
    assert_eq!(counter(&r, "a", "TcpRetransSegs"), probes + 3 * timeout);
    assert!(r.narrative.iter().any(|l| l.contains("TCP: too many orphaned sockets")));
    assert!(r.narrative.last().is_some_and(|l| l.contains("dmesg")), "all orphans gone, then the log");
    let from_b: Vec<&str> =
        s.iter().filter(|(_, x)| x.src.to_string() == B).map(|(_, x)| x.flags.as_str()).collect();
    assert_eq!(from_b, ["S."; 8], "b only answered the handshakes: its link went down");
    assert!(r.headline.contains("peak 4"), "the 100 ms cache lets the count pass the limit: {}", r.headline);
}
