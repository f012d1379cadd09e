//! What the net-lab tests share: run a scenario, read a counter, run the
//! built `netlab` binary.
//!
//! Each test binary that says `mod common;` compiles its own copy, so
//! what one of them does not use is not dead code there.
#![allow(dead_code)]

use std::process::Command;

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

/// Run the built `netlab` with `args`: (exit code, stdout, stderr).
pub fn netlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab")).args(args).output().expect("run netlab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `netlab args` fails as a user should see it: one line on stderr
/// starting `netlab: ` and containing `want`, exit 2. Returns stderr.
#[track_caller]
pub fn fails_with(args: &[&str], want: &str) -> String {
    let (code, out, err) = netlab(args);
    assert_eq!(code, 2, "{args:?} should fail: {out}{err}");
    assert!(err.starts_with("netlab: "), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err}");
    assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
    err
}
