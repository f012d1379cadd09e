//! The ratios table of `cargo run -p benches --bin bench-summary`: every
//! linnet bench criterion has measured, its peers measured in the same run
//! (`GROUP/peer:NAME/REST` pairs with `GROUP/REST`, or with a linnet bench
//! of the group whose id ends in `/REST`), linnet's speed over each peer's,
//! and, with a baseline name, the change of linnet's time against that
//! saved baseline (`--save-baseline NAME`).
//!
//! It reads what criterion writes under `target/criterion` (or
//! `$CARGO_TARGET_DIR/criterion`): for each bench a directory holding
//! `new/benchmark.json` (the ids and the throughput) and
//! `new/estimates.json` (the time per iteration, ns: the slope where
//! criterion fitted one, else the mean), and
//! `NAME/estimates.json` for a saved baseline. No Linux twin.
//!
//! The bulk bench also saves paired runs (linnet's transfer and smoltcp's
//! in turn, see [`Paired`]) under `paired/`; they are listed after the
//! table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One bench criterion measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Bench {
    /// `group_id`.
    pub group: String,
    /// `function_id` (`peer:...` for a peer).
    pub function: String,
    /// Time per iteration, ns (criterion's slope, else its mean).
    pub mean_ns: f64,
    /// What one iteration moves: `("B", bytes)` or `("elem", n)`.
    pub throughput: Option<(&'static str, f64)>,
    /// The saved baseline's mean time per iteration, ns.
    pub baseline_ns: Option<f64>,
}

impl Bench {
    /// Work per second (throughput units, or iterations).
    fn rate(&self) -> f64 {
        self.throughput.map_or(1.0, |(_, n)| n) * 1e9 / self.mean_ns
    }

    /// The figure as a reader wants it: GiB/s, elements/s or time.
    fn figure(&self) -> String {
        match self.throughput {
            Some(("B", _)) => {
                let r = self.rate();
                if r >= (1u64 << 30) as f64 {
                    format!("{:.2} GiB/s", r / (1u64 << 30) as f64)
                } else {
                    format!("{:.1} MiB/s", r / (1u64 << 20) as f64)
                }
            }
            Some(_) => {
                let r = self.rate();
                if r >= 1e6 { format!("{:.2} M/s", r / 1e6) } else { format!("{:.1} k/s", r / 1e3) }
            }
            None => {
                let ns = self.mean_ns;
                if ns >= 1e6 {
                    format!("{:.2} ms", ns / 1e6)
                } else if ns >= 1e3 {
                    format!("{:.2} µs", ns / 1e3)
                } else {
                    format!("{ns:.1} ns")
                }
            }
        }
    }

    fn is_peer(&self) -> bool {
        self.function.starts_with("peer:")
    }

    /// For a peer `peer:NAME/REST`, `REST` (or the whole name if it has no `/`).
    fn peer_of(&self) -> Option<&str> {
        let p = self.function.strip_prefix("peer:")?;
        Some(p.split_once('/').map_or(p, |(_, rest)| rest))
    }
}

/// Where criterion writes: `$CARGO_TARGET_DIR/criterion`, else the
/// workspace's `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// The time per iteration criterion reports ("typical"): the slope of
/// the linear sampling mode when there is one, else the mean.
fn mean_ns(estimates: &Path) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(estimates).ok()?).ok()?;
    v["slope"]["point_estimate"].as_f64().or_else(|| v["mean"]["point_estimate"].as_f64())
}

/// Every bench under `dir` (walked recursively), sorted by group then
/// function; `baseline` names a saved baseline to read beside `new`.
pub fn collect(dir: &Path, baseline: Option<&str>) -> Vec<Bench> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            let meta = p.join("new/benchmark.json");
            if !meta.exists() {
                stack.push(p);
                continue;
            }
            let Some(v) = std::fs::read_to_string(&meta)
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            else {
                continue;
            };
            let Some(mean) = mean_ns(&p.join("new/estimates.json")) else { continue };
            let throughput = match &v["throughput"] {
                serde_json::Value::Object(m) => m.iter().next().and_then(|(k, n)| {
                    let unit = if k.starts_with("Bytes") { "B" } else { "elem" };
                    n.as_f64().map(|n| (unit, n))
                }),
                _ => None,
            };
            out.push(Bench {
                group: v["group_id"].as_str().unwrap_or_default().to_string(),
                function: v["function_id"].as_str().unwrap_or_default().to_string(),
                mean_ns: mean,
                throughput,
                baseline_ns: baseline.and_then(|b| mean_ns(&p.join(b).join("estimates.json"))),
            });
        }
    }
    out.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    out
}

/// The table: one row per linnet bench, one indented row per peer with
/// linnet's speed over the peer's (above 1: linnet is faster), and the
/// change of linnet's time against the baseline (negative: faster).
pub fn table(benches: &[Bench], baseline: Option<&str>) -> String {
    let mut s = String::new();
    let base_col = baseline.map_or(String::new(), |b| format!("vs {b}"));
    let _ = writeln!(s, "{:<52} {:>14} {:>14} {:>12}", "bench", "figure", "linnet/peer", base_col);
    let mut paired = vec![false; benches.len()];
    for b in benches.iter().filter(|b| !b.is_peer()) {
        let change = match b.baseline_ns {
            Some(base) => format!("{:+.1}% time", (b.mean_ns - base) / base * 100.0),
            None if baseline.is_some() => "no baseline".to_string(),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "{:<52} {:>14} {:>14} {:>12}",
            format!("{}/{}", b.group, b.function),
            b.figure(),
            "",
            change
        );
        for (i, p) in benches.iter().enumerate() {
            let Some(rest) = p.peer_of() else { continue };
            if p.group != b.group || !(b.function == rest || b.function.ends_with(&format!("/{rest}"))) {
                continue;
            }
            paired[i] = true;
            let _ = writeln!(
                s,
                "  {:<50} {:>14} {:>13.2}× {:>12}",
                p.function,
                p.figure(),
                b.rate() / p.rate(),
                ""
            );
        }
    }
    let lonely: Vec<&Bench> =
        benches.iter().enumerate().filter(|(i, b)| b.is_peer() && !paired[*i]).map(|(_, b)| b).collect();
    if !lonely.is_empty() {
        let _ = writeln!(s, "peers with no linnet bench of that name:");
        for p in lonely {
            let _ = writeln!(s, "  {:<50} {:>14}", format!("{}/{}", p.group, p.function), p.figure());
        }
    }
    s.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

/// A paired measurement: linnet's transfer and a peer's, run in turn
/// (the bulk bench's `paired()`), with the median of the per-pair ratios.
/// Saved as `paired/NAME.json` under the criterion directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    /// The linnet bench it repeats, `group/function`.
    pub id: String,
    /// The peer's name (`smoltcp`).
    pub peer: String,
    /// How many pairs ran.
    pub pairs: usize,
    /// Median of linnet's runs, GiB/s.
    pub linnet_gibps: f64,
    /// Median of the peer's runs, GiB/s.
    pub peer_gibps: f64,
    /// Median, lowest and highest of linnet's rate over the peer's, pair by pair.
    pub ratio: (f64, f64, f64),
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Paired {
    /// From `(linnet, peer)` rates, one pair per run.
    pub fn from_runs(id: &str, peer: &str, runs: &[(f64, f64)]) -> Paired {
        let ratios: Vec<f64> = runs.iter().map(|(a, b)| a / b).collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Paired {
            id: id.to_string(),
            peer: peer.to_string(),
            pairs: runs.len(),
            linnet_gibps: median(runs.iter().map(|r| r.0).collect()),
            peer_gibps: median(runs.iter().map(|r| r.1).collect()),
            ratio: (median(ratios), lo, hi),
        }
    }

    /// One line for the bench's output and the summary.
    pub fn line(&self) -> String {
        format!(
            "{} paired with {}, {} runs each in turn: linnet {:.2} GiB/s, {} {:.2} GiB/s (medians); \
             linnet/{} per pair {:.2}× (median; {:.2}–{:.2})",
            self.id,
            self.peer,
            self.pairs,
            self.linnet_gibps,
            self.peer,
            self.peer_gibps,
            self.peer,
            self.ratio.0,
            self.ratio.1,
            self.ratio.2
        )
    }

    /// Write it to `dir/paired/NAME.json` (`/` in the id becomes `_`).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let d = dir.join("paired");
        std::fs::create_dir_all(&d)?;
        let v = serde_json::json!({
            "id": self.id, "peer": self.peer, "pairs": self.pairs,
            "linnet_gibps": self.linnet_gibps, "peer_gibps": self.peer_gibps,
            "ratio_median": self.ratio.0, "ratio_min": self.ratio.1, "ratio_max": self.ratio.2,
        });
        std::fs::write(d.join(format!("{}.json", self.id.replace('/', "_"))), v.to_string())
    }

    fn load(path: &Path) -> Option<Paired> {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        let f = |k: &str| v[k].as_f64();
        Some(Paired {
            id: v["id"].as_str()?.to_string(),
            peer: v["peer"].as_str()?.to_string(),
            pairs: v["pairs"].as_u64()? as usize,
            linnet_gibps: f("linnet_gibps")?,
            peer_gibps: f("peer_gibps")?,
            ratio: (f("ratio_median")?, f("ratio_min")?, f("ratio_max")?),
        })
    }
}

/// Every paired measurement saved under `dir/paired`, sorted by id.
pub fn collect_paired(dir: &Path) -> Vec<Paired> {
    let Ok(entries) = std::fs::read_dir(dir.join("paired")) else { return Vec::new() };
    let mut out: Vec<Paired> = entries.flatten().filter_map(|e| Paired::load(&e.path())).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_runs_give_the_median_ratio_and_survive_a_round_trip() {
        // The third pair ran while the machine was busy: linnet's run
        // slowed, the ratio dips, the median does not care.
        let runs = [(4.0, 3.2), (4.2, 3.5), (2.0, 3.4), (4.1, 3.4), (3.9, 3.3)];
        let p = Paired::from_runs("bulk/1GiB/mtu1500", "smoltcp", &runs);
        assert_eq!(p.pairs, 5);
        assert_eq!(p.linnet_gibps, 4.0);
        assert_eq!(p.peer_gibps, 3.4);
        assert!((p.ratio.0 - 4.2 / 3.5).abs() < 1e-9, "{:?}", p.ratio);
        assert!((p.ratio.1 - 2.0 / 3.4).abs() < 1e-9 && (p.ratio.2 - 1.25).abs() < 1e-9);
        assert_eq!(
            p.line(),
            "bulk/1GiB/mtu1500 paired with smoltcp, 5 runs each in turn: linnet 4.00 GiB/s, \
             smoltcp 3.40 GiB/s (medians); linnet/smoltcp per pair 1.20× (median; 0.59–1.25)"
        );
        let root = std::env::temp_dir().join(format!("linnet-paired-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        p.save(&root).expect("save");
        assert_eq!(collect_paired(&root), vec![p]);
        std::fs::remove_dir_all(&root).expect("clean up");
    }

    fn write_bench(root: &Path, dir: &str, group: &str, function: &str, thr: &str, runs: &[(&str, f64)]) {
        for (name, mean) in runs {
            let d = root.join(dir).join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            let meta = format!(
                r#"{{"group_id":"{group}","function_id":"{function}","value_str":null,"throughput":{thr},"full_id":"{group}/{function}","directory_name":"{dir}","title":"{group}/{function}"}}"#
            );
            std::fs::write(d.join("benchmark.json"), meta).expect("write");
            let est = format!(
                r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{mean},"upper_bound":{mean}}},"point_estimate":{mean},"standard_error":1.0}}}}"#
            );
            std::fs::write(d.join("estimates.json"), est).expect("write");
        }
    }

    #[test]
    fn table_from_a_fake_criterion_directory() {
        let root = std::env::temp_dir().join(format!("linnet-summary-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // 1 GiB in 1 s (baseline 1.25 s), smoltcp's in 0.5 s, Linux's in 2 s.
        let gib = r#"{"Bytes":1073741824}"#;
        write_bench(
            &root,
            "bulk/1GiB_mtu1500",
            "bulk",
            "1GiB/mtu1500",
            gib,
            &[("new", 1e9), ("main", 1.25e9)],
        );
        write_bench(
            &root,
            "bulk/peer_smoltcp_1GiB_mtu1500",
            "bulk",
            "peer:smoltcp/1GiB/mtu1500",
            gib,
            &[("new", 0.5e9)],
        );
        write_bench(
            &root,
            "bulk/peer_linux_1GiB_mtu1500",
            "bulk",
            "peer:linux/1GiB/mtu1500",
            gib,
            &[("new", 2e9)],
        );
        // 10 µs a connection (no baseline), smoltcp 2.5 µs.
        let one = r#"{"Elements":1}"#;
        write_bench(&root, "tcp/conn_rr", "tcp", "conn_rr", one, &[("new", 10_000.0)]);
        write_bench(
            &root,
            "tcp/peer_smoltcp_conn_rr",
            "tcp",
            "peer:smoltcp/conn_rr",
            one,
            &[("new", 2_500.0)],
        );
        // A peer of nothing, and a bench with no throughput.
        write_bench(&root, "dev/peer_handler_alone", "dev", "peer:handler_alone", "null", &[("new", 12.5)]);
        write_bench(&root, "skbuff/alloc_skb", "skbuff", "alloc_skb", "null", &[("new", 42.0)]);

        let benches = collect(&root, Some("main"));
        assert_eq!(benches.len(), 7);
        let got = table(&benches, Some("main"));
        let want = "\
bench                                                        figure    linnet/peer      vs main
bulk/1GiB/mtu1500                                        1.00 GiB/s                 -20.0% time
  peer:linux/1GiB/mtu1500                               512.0 MiB/s          2.00×
  peer:smoltcp/1GiB/mtu1500                              2.00 GiB/s          0.50×
skbuff/alloc_skb                                            42.0 ns                 no baseline
tcp/conn_rr                                               100.0 k/s                 no baseline
  peer:smoltcp/conn_rr                                    400.0 k/s          0.25×
peers with no linnet bench of that name:
  dev/peer:handler_alone                                    12.5 ns
";
        assert_eq!(got, want, "got:\n{got}");
        std::fs::remove_dir_all(&root).expect("clean up");
    }
}
