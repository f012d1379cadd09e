//! Throughput under random loss (issue #10): one connection moves
//! [`BYTES`] over a link with [`ONE_WAY_MS`] ms of latency each way (a
//! 10 ms RTT) that loses 1 % or 5 % of the frames in each direction
//! (data and ACKs alike, netem's `loss random P%`), no rate limit. The
//! sender's congestion control is what is measured: linnet's Reno and
//! CUBIC (`net.ipv4.tcp_congestion_control` on the sending host, the
//! per-host sysctl; `tcp_reno_cong_avoid()` and `bictcp_cong_avoid()`
//! with HyStart, under linnet's SACK recovery, `tcp_fastretrans_alert()`)
//! against smoltcp 0.14's Reno and Cubic (features `socket-tcp-reno`,
//! `socket-tcp-cubic`; smoltcp has no SACK-based recovery).
//!
//! Two figures per run:
//!
//! - **goodput in virtual time**: bytes delivered to the receiving
//!   application per second of the shared virtual clock. Deterministic: the
//!   loss draws come from fixed seeds ([`SEEDS`], one run each, the mean
//!   printed), so the figure is the same on every machine and moves only
//!   when the stack's behaviour does.
//! - **processing cost**: wall-clock time spent per MiB delivered (the hosts
//!   do nothing but process; waits are clock jumps). Noisy like every
//!   wall-clock figure here: read it as a ratio.
//!
//! linnet runs on net-dev's `Wire` (a veth pair with netem on each
//! direction), smoltcp on its in-memory cable with the same latency and an
//! independent loss draw of the same probability. smoltcp gets the buffers
//! linnet used (the window linnet's receiver grew to, the sender's
//! `sk_sndbuf`), read from linnet's first run and printed.
//!
//! `cargo bench -p benches --bench loss` (harness = false: it prints a
//! table; criterion flags are ignored).

use std::time::{Duration, Instant};

use net_dev::veth::LinkParams;
use net_dev::{LossModel, NetemParams};

#[path = "common/linnet.rs"]
mod linnet;
#[path = "common/smol.rs"]
mod smol;
use linnet::{Effective, effective, linnet_connect, linnet_lab_wire, linnet_listener, linnet_stream};
use smoltcp::socket::tcp::CongestionControl;

/// Bytes per run.
const BYTES: u64 = 8 << 20;
/// One-way latency, ms.
const ONE_WAY_MS: u64 = 5;
/// Loss seeds, one run each.
const SEEDS: [u64; 3] = [1, 2, 3];

/// One run's result.
struct Run {
    /// Virtual seconds the transfer took.
    virt_s: f64,
    /// Wall-clock time spent.
    wall: Duration,
    /// Segments the sender retransmitted (linnet) or frames lost (smoltcp).
    retrans: u64,
}

// ANCHOR: linnet_run
fn linnet_run(cc: &str, loss_pct: f64, seed: u64, data: &[u8], buf: &mut [u8]) -> (Run, Effective) {
    let params = LinkParams {
        netem: Some(NetemParams { loss: LossModel::Random { percent: loss_pct }, ..NetemParams::default() }),
        ..LinkParams::with_delay(ONE_WAY_MS * 1_000_000)
    };
    let (lab, _) = linnet_lab_wire(&params, seed);
    lab.a.sysctl.set("net.ipv4.tcp_congestion_control", cc).expect("tcp_congestion_control");
    let l = linnet_listener(&lab);
    let (c, s) = linnet_connect(&lab, &l, None);
    let mut name = [0u8; 16];
    let n =
        c.getsockopt(net_tcp::af_inet::SOL_TCP, net_tcp::af_inet::TCP_CONGESTION, &mut name).expect("name");
    assert!(name[..n].starts_with(cc.as_bytes()), "the sender runs {cc}");
    let (t0, w0) = (lab.clock.now_ns(), Instant::now());
    linnet_stream(&lab, &c, &s, BYTES, data, buf);
    let wall = w0.elapsed();
    let virt_s = (lab.clock.now_ns() - t0) as f64 / 1e9;
    let eff = effective(&c, &s);
    (Run { virt_s, wall, retrans: u64::from(c.tcp_info().tcpi_total_retrans) }, eff)
}
// ANCHOR_END: linnet_run

fn smoltcp_run(
    cc: CongestionControl,
    loss_pct: f64,
    seed: u64,
    eff: &Effective,
    data: &[u8],
    buf: &mut [u8],
) -> Run {
    let link = smol::LinkModel {
        latency: smoltcp::time::Duration::from_millis(ONE_WAY_MS),
        loss: loss_pct / 100.0,
        ..smol::LinkModel::default()
    };
    let mut lab = smol::Lab::with_link(link, seed);
    lab.cc = cc;
    let srv = lab.listener(eff.window, eff.sndbuf);
    let cl = lab.connect(49152, eff.window, eff.sndbuf);
    let (t0, w0) = (lab.now, Instant::now());
    smol::stream(&mut lab, cl, srv, BYTES, data, buf);
    let wall = w0.elapsed();
    let virt_s = (lab.now - t0).total_micros() as f64 / 1e6;
    let lost = *lab.a.dev.lost.borrow() + *lab.b.dev.lost.borrow();
    Run { virt_s, wall, retrans: lost }
}

fn main() {
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i ^ (i >> 8)) as u8).collect();
    let mut buf = vec![0u8; 64 << 10];
    println!(
        "loss: {} MiB per run over a {} ms RTT link, random loss on both directions, mean of seeds {SEEDS:?}",
        BYTES >> 20,
        2 * ONE_WAY_MS
    );
    println!(
        "  {:<5} {:<22} {:>12} {:>10} {:>14} {:>16}",
        "loss", "sender", "goodput", "vs smoltcp", "wall µs/MiB", "retrans|lost"
    );
    for loss in [1.0, 5.0] {
        let mut rows: Vec<(String, f64, f64, f64)> = Vec::new();
        let mut eff = None;
        for cc in ["reno", "cubic"] {
            let runs: Vec<Run> = SEEDS
                .iter()
                .map(|&seed| {
                    let (r, e) = linnet_run(cc, loss, seed, &data, &mut buf);
                    eff.get_or_insert(e);
                    r
                })
                .collect();
            rows.push(summarise(&format!("linnet {cc}"), &runs));
        }
        let eff = eff.expect("linnet ran");
        println!("  linnet at {loss}% (first run): {}", eff.info);
        for (name, cc) in
            [("smoltcp reno", CongestionControl::Reno), ("smoltcp cubic", CongestionControl::Cubic)]
        {
            let runs: Vec<Run> =
                SEEDS.iter().map(|&seed| smoltcp_run(cc, loss, seed, &eff, &data, &mut buf)).collect();
            rows.push(summarise(name, &runs));
        }
        for (name, goodput, wall, retrans) in &rows {
            let peer = if name.contains("reno") { &rows[2] } else { &rows[3] };
            let ratio =
                if name.starts_with("linnet") { format!("{:.2}×", goodput / peer.1) } else { String::new() };
            println!(
                "  {:<5} {name:<22} {:>7.2} Mbit/s {ratio:>10} {wall:>14.0} {retrans:>16.0}",
                format!("{loss}%"),
                goodput * 8.0 / 1e6
            );
        }
    }
    println!("  (linnet's window and send buffer, from its first run, given to smoltcp; the last column is");
    println!("   linnet's tcpi_total_retrans and, for smoltcp, the frames its cable lost — both directions)");
}

/// (name, goodput in bytes per virtual second, wall µs per MiB, retrans),
/// each the mean over the runs.
fn summarise(name: &str, runs: &[Run]) -> (String, f64, f64, f64) {
    let n = runs.len() as f64;
    let goodput = runs.iter().map(|r| BYTES as f64 / r.virt_s).sum::<f64>() / n;
    let wall = runs.iter().map(|r| r.wall.as_secs_f64() * 1e6 / (BYTES >> 20) as f64).sum::<f64>() / n;
    let retrans = runs.iter().map(|r| r.retrans as f64).sum::<f64>() / n;
    (name.to_string(), goodput, wall, retrans)
}
