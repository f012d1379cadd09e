//! What the scenario tests share: run a scenario, read a counter.

use net_lab::{Report, RunOpts, find};

/// The client host's address in the two-host scenarios.
pub const A: &str = "10.0.0.1";
/// The server host's address.
pub const B: &str = "10.0.0.2";

/// Run scenario `name` with seed 1; panics (naming it) if it fails.
pub fn run(name: &str) -> Report {
    let s = find(name).unwrap_or_else(|| panic!("no scenario {name}"));
    (s.run)(&RunOpts { seed: 1, ..Default::default() }).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Counter `name` (nstat's spelling) on `host`, 0 when it did not move.
pub fn counter(r: &Report, host: &str, name: &str) -> u64 {
    r.counters
        .iter()
        .find(|(h, _)| h == host)
        .and_then(|(_, c)| c.iter().find(|(k, _)| k == name))
        .map_or(0, |(_, v)| *v)
}
