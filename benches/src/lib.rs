//! Criterion benches for linnet, one file per mechanism under `benches/`,
//! each bench named after the kernel function it measures. See the book's
//! "performance" chapter and the README for the baseline workflow:
//!
//! ```text
//! cargo bench -p benches --bench skbuff -- --save-baseline main
//! cargo bench -p benches --bench skbuff -- --baseline main
//! ```
//!
//! The library holds what the benches share (`fixtures`, [`wanted`]) and
//! the `bench-summary` command's table (`summary`); `[lib] bench = false`
//! keeps criterion's flags away from it.

pub mod callgrind;
pub mod fixtures;
pub mod summary;

/// Whether the part of a bench named `part` should run: criterion's
/// filter (the first argument that is neither an option nor an option's
/// value) selects criterion's own benches, but not the plain loops and
/// the large tables built around them, so each part checks it too. A part
/// runs with no filter, or when its name and the filter contain one
/// another (a substring test, not criterion's regular expression).
/// `cargo bench --bench closing -- churn` runs the churn alone (what a
/// profiler wants), `-- __inet_lookup` the lookups; `cargo bench --bench
/// bulk -- paired` the bulk bench's paired runs.
pub fn wanted(part: &str) -> bool {
    const WITH_VALUE: &[&str] = &[
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--noise-threshold",
        "--significance-level",
        "--confidence-level",
        "--nresamples",
        "--color",
        "--output-format",
        "--profile-time",
        "--plotting-backend",
        "--format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with('-') && (*i == 0 || !WITH_VALUE.contains(&args[i - 1].as_str())));
    match filter {
        None => true,
        Some((_, f)) => part.contains(f.as_str()) || f.contains(part),
    }
}
