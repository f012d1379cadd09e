//! LAST_ACK with a peer that has gone: the FIN retransmitted with a
//! doubling RTO until the orphan's retries run out.

use net_core::Errno;

use super::tcplab::TcpLab;
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The third article's LAST_ACK trace, with the roles on this wire swapped so
the trace (taken on a) shows the retransmitting side: b closes first, a
reads end-of-stream (CLOSE_WAIT); then b vanishes (its link goes down) and
a's application closes. a sends its FIN and is in LAST_ACK, an orphan; no
ACK ever comes.

First a tail loss probe resends the FIN about 200 ms after it (two RTTs
plus TCP_RTO_MIN, one segment being in flight: tcp_schedule_loss_probe,
tcp_send_loss_probe, TcpExtTCPLossProbes). One RTO later
tcp_retransmit_timer resends it and doubles the RTO each time
(icsk_backoff; the RTO starts from the measured RTT, at least TCP_RTO_MIN =
200 ms): gaps of about 0.2, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8 and 25.6 s
(TcpExtTCPTimeouts, TcpRetransSegs). An orphan's budget is
tcp_orphan_retries, 0 meaning 8 while the RTO is under TCP_RTO_MAX
(tcp_orphan_retries(), turned into a time by tcp_model_timeout); the timer
after the eighth retransmission finds it spent and tcp_write_timeout →
tcp_write_err kills the socket without a RST (TcpExtTCPAbortOnTimeout).
About 103 s after close() nothing is left in `ss`.

Linux 6.18 (checked on this machine: lo in a netns, nftables dropping what
the peer would receive) sends the same ten FINs at the same gaps, as in the
article's trace.

Book: net-tcp → retransmission; the state machine (closing). Linux:
tcp_retransmit_timer, tcp_write_timeout, tcp_orphan_retries,
retransmits_timed_out, tcp_model_timeout, tcp_write_err
(net/ipv4/tcp_timer.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    // A permanent neighbour entry, so the minutes of retransmission are
    // not interleaved with ARP (and a FIN never waits for one).
    let tn = lab.a.net_generic_arc::<net_tcp::af_inet::TcpNet>().ok_or("no TCP on a")?;
    tn.ipv4
        .arp_tbl
        .neigh_add(
            &lab.a,
            lab.da.ifindex,
            super::lab::B,
            lab.db.dev_addr(),
            net_ipv4::neighbour::NudState::Permanent,
        )
        .map_err(|err| format!("ip neigh add: {err}"))?;
    let mac: Vec<String> = lab.db.dev_addr().iter().map(|b| format!("{b:02x}")).collect();
    lab.say(format!("a: ip neigh replace {} lladdr {} nud permanent", super::lab::B, mac.join(":")));
    lab.say(format!(
        "net.ipv4.tcp_orphan_retries = {} (0: 8 while the RTO is under TCP_RTO_MAX)",
        lab.a.sysctl.lookup("net.ipv4.tcp_orphan_retries").map_or("?".into(), |s| s.get().to_string())
    ));
    let (client, server, _listener) = lab.connect()?;
    drop(server);
    lab.say("b: close()");
    lab.run_until_ms(100);
    let mut buf = [0u8; 16];
    let n = client.recv(&mut buf).map_or_else(|err: Errno| format!("-1 {err:?}"), |n| n.to_string());
    lab.say(format!("a: recv() = {n} (end of stream): {}; b's link goes down", client.state().name()));
    lab.db.close();
    let sk = client.sock().clone();
    drop(client);
    lab.say("a: close()");
    lab.ss_diag("a's orphan", &[("a", &sk)]);
    let start = lab.now_ms();
    let mut last = 0u8;
    let mut t = start;
    while t < start + 200_000 {
        t += 10;
        lab.run_until_ms(t);
        let st = net_tcp::inet_timewait_sock::inet_sk_diag_state(&lab.a, &sk);
        if st != net_tcp::tcp_states::TcpState::LastAck {
            lab.say(format!("a: the orphan is gone, {:.1} s after close()", (t - start) as f64 / 1e3));
            break;
        }
        let backoff = sk.lock.lock().icsk_backoff;
        if backoff != last {
            last = backoff;
            lab.say(format!("a: RTO fired: backoff {backoff}, next RTO {} ms", sk.lock.lock().icsk_rto));
        }
    }
    lab.ss_diag("after the last timer", &[("a", &sk)]);
    Ok(lab.finish(
        "LAST_ACK, peer gone: the FIN goes 10 times, a loss probe and then the RTO doubling from 200 ms, until tcp_orphan_retries (8) runs out"
            .into(),
        None,
        Vec::new(),
    ))
}
