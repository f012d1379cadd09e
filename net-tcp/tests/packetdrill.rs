//! Runs every packetdrill-syntax script in `tests/scripts/<topic>/*.pkt`
//! against one linnet host in virtual time (see `net_tcp::packetdrill`).
//!
//! One test per topic; each runs all of the topic's scripts and reports
//! every failure (file, line, expected and actual) rather than stopping at
//! the first. `every_script_parses` checks the syntax alone, so a typo
//! shows even when the stack cannot run a script.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use net_tcp::packetdrill::{parse_script, run_script_file};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts")
}

fn scripts(topic: &str) -> Vec<PathBuf> {
    let dir = scripts_dir().join(topic);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pkt"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no scripts in {}", dir.display());
    v
}

fn run_topic(topic: &str) {
    let mut failures = Vec::new();
    let all = scripts(topic);
    for path in &all {
        let r = catch_unwind(AssertUnwindSafe(|| run_script_file(path)));
        match r {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => failures.push(msg),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".to_string());
                failures.push(format!("{}: the stack panicked: {what}", path.display()));
            }
        }
    }
    if !failures.is_empty() {
        panic!("{} of {} {topic} scripts failed:\n\n{}\n", failures.len(), all.len(), failures.join("\n\n"));
    }
}

/// Every topic directory under `tests/scripts`.
const TOPICS: &[&str] = &[
    "handshake",
    "data",
    "retransmit",
    "close",
    "rst",
    "timers",
    "options",
    "sack",
    "ack",
    "recovery",
    "congestion",
    "nagle",
    "persist",
    "rfc5961",
    "listen",
];

#[test]
fn every_topic_has_a_test() {
    let mut dirs: Vec<String> = std::fs::read_dir(scripts_dir())
        .expect("tests/scripts")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut topics: Vec<String> = TOPICS.iter().map(|t| t.to_string()).collect();
    topics.sort();
    assert_eq!(dirs, topics, "tests/scripts/<topic> and TOPICS must agree");
}

#[test]
fn every_script_parses() {
    let mut errors = Vec::new();
    for topic in TOPICS {
        for path in scripts(topic) {
            let src = std::fs::read_to_string(&path).expect("read script");
            if let Err(e) = parse_script(&src) {
                errors.push(format!("{}:{}: {}", path.display(), e.line, e.msg));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn handshake() {
    run_topic("handshake");
}

#[test]
fn data() {
    run_topic("data");
}

#[test]
fn retransmit() {
    run_topic("retransmit");
}

#[test]
fn close() {
    run_topic("close");
}

#[test]
fn rst() {
    run_topic("rst");
}

#[test]
fn timers() {
    run_topic("timers");
}

#[test]
fn options() {
    run_topic("options");
}

#[test]
fn sack() {
    run_topic("sack");
}

#[test]
fn ack() {
    run_topic("ack");
}

#[test]
fn recovery() {
    run_topic("recovery");
}

#[test]
fn congestion() {
    run_topic("congestion");
}

#[test]
fn nagle() {
    run_topic("nagle");
}

#[test]
fn persist() {
    run_topic("persist");
}

#[test]
fn rfc5961() {
    run_topic("rfc5961");
}

#[test]
fn listen() {
    run_topic("listen");
}
