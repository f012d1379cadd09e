//! ARP, then ICMP echo, across one segment.

use std::fmt::Write;

use net_ipv4::icmp::ping;

use super::lab::{A, B, LATENCY_NS, Lab};
use crate::trace::Trace;
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Host a (10.0.0.1) pings host b (10.0.0.2) three times, a second apart, on a
segment with 0.5 ms one-way latency. The first echo request cannot leave
until ARP has resolved b's address: neigh_output finds no entry, queues the
packet on a new INCOMPLETE neighbour and broadcasts a request
(arp_solicit); b answers from arp_process, a's entry becomes REACHABLE and
the queued request goes out (neigh_update). b's icmp_rcv answers each echo
request with a reply. The trace is a's view (tcpdump on a's eth0); then
ping's summary, a's neighbour table (ip neigh) and a's counters (nstat).

Book: net-ipv4 → ARP and the neighbour table; ICMP and UDP. Linux:
neigh_resolve_output, arp_rcv, icmp_echo (net/core/neighbour.c,
net/ipv4/arp.c, net/ipv4/icmp.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let lab = Lab::new(opts)?;
    let trace = Trace::attach(&lab.a);
    let before = lab.a.mib.snapshot();
    let payload: Vec<u8> = (0..56u8).collect();
    for seq in 1..=3u16 {
        ping(&lab.a, &lab.a4, B, 1, seq, &payload).map_err(|e| format!("ping: {e}"))?;
        lab.run_until_ms(u64::from(seq) * 1000);
    }
    let mut out = String::new();
    let _ = writeln!(out, "tcpdump -n -i eth0 (on a, {A}); one-way latency {} ms", LATENCY_NS as f64 / 1e6);
    out.push_str(&trace.text());
    let _ = writeln!(out, "\nping {B} (from a):");
    for r in lab.a4.icmp.echo_replies(1) {
        let _ = writeln!(
            out,
            "{} bytes from {}: icmp_seq={} ttl={} time={:.3} ms",
            r.bytes,
            r.from,
            r.seq,
            r.ttl,
            r.rtt_ns as f64 / 1e6
        );
    }
    let _ = writeln!(out, "\nip neigh (on a):");
    out.push_str(&lab.a4.arp_tbl.ip_neigh_show(&lab.a));
    let _ = writeln!(out, "\nnstat (on a):");
    out.push_str(&lab.a.mib.snapshot().nstat_diff(&before));
    Ok(Report {
        headline:
            "the first echo waits for ARP; the first RTT includes the ARP exchange, the rest are 2 × latency"
                .into(),
        text: out,
        frames: trace.frames(),
        ..Default::default()
    })
}
