//! Every scenario's output is a snapshot: the files under
//! `book/src/lab/output/` are what the book includes, and this test fails
//! when a scenario prints anything else. After an intended change,
//! regenerate them with
//!
//! ```sh
//! LINNET_BLESS=1 cargo test -p net-lab --test book_outputs
//! ```

use std::path::PathBuf;

use net_lab::{RunOpts, all, render};

fn output_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../book/src/lab/output")
}

#[test]
fn scenario_outputs_match_the_book() {
    let bless = std::env::var_os("LINNET_BLESS").is_some();
    let mut stale = Vec::new();
    for s in all() {
        let opts = RunOpts { seed: 1, ..Default::default() };
        let report = (s.run)(&opts).unwrap_or_else(|e| panic!("{} failed: {e}", s.name));
        let text = render(s, &report);
        let path = output_dir().join(format!("{}.txt", s.name));
        if bless {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(saved) if saved == text => {}
            Ok(saved) => stale.push(format!(
                "{}: differs from {}\n--- saved\n{saved}\n--- now\n{text}",
                s.name,
                path.display()
            )),
            Err(_) => stale.push(format!("{}: {} is missing", s.name, path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "run LINNET_BLESS=1 cargo test -p net-lab --test book_outputs\n{}",
        stale.join("\n")
    );
}

#[test]
fn scenarios_replay_exactly() {
    for s in all() {
        let opts = RunOpts { seed: 7, ..Default::default() };
        let a = render(s, &(s.run)(&opts).unwrap());
        let b = render(s, &(s.run)(&opts).unwrap());
        assert_eq!(a, b, "{} is not deterministic", s.name);
    }
}
