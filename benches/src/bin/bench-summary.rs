//! `cargo run -p benches --bin bench-summary [-- --baseline NAME]`: one
//! table of every linnet bench criterion measured, its peers from the same
//! run and linnet's speed over theirs, and with `--baseline NAME` the change
//! against a baseline saved with `-- --save-baseline NAME`. Reads
//! `$CARGO_TARGET_DIR/criterion` (else the workspace's `target/criterion`);
//! `--dir DIR` reads another. See [`benches::summary`].

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let baseline = value("--baseline");
    let dir = value("--dir").map_or_else(benches::summary::criterion_dir, std::path::PathBuf::from);
    let found = benches::summary::collect(&dir, baseline.as_deref());
    if found.is_empty() {
        eprintln!(
            "bench-summary: no criterion results under {} (run `cargo bench -p benches` first)",
            dir.display()
        );
        std::process::exit(1);
    }
    println!("criterion results under {}:", dir.display());
    print!("{}", benches::summary::table(&found, baseline.as_deref()));
    let paired = benches::summary::collect_paired(&dir);
    if !paired.is_empty() {
        println!("paired runs (linnet and the peer in turn, ratio per pair):");
        for p in paired {
            println!("  {}", p.line());
        }
    }
}
