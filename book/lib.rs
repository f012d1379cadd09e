//! Checks that keep the book honest. Not a library anyone uses: a crate so
//! that `cargo test --workspace` proves, on every run, that
//!
//! - every `{{#include FILE}}` / `{{#include FILE:ANCHOR}}` in `book/src`
//!   names a file that exists and, for an anchor, an `ANCHOR:` with a
//!   matching `ANCHOR_END:` and something non-blank between them (mdBook
//!   silently inserts nothing for a mistyped anchor and runs an unterminated
//!   one to the end of the file);
//! - every page named in `SUMMARY.md` exists;
//! - the Rust snippets of the public API that chapters show as plain
//!   ` ```rust ` blocks compile and run, as doctests (`mdbook test` cannot
//!   see crate dependencies, so cargo does it).

use std::path::{Path, PathBuf};

/// One `{{#include …}}` found in a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The chapter that contains it.
    pub page: PathBuf,
    /// 1-based line in the chapter.
    pub line: usize,
    /// The included path, as written (relative to the chapter).
    pub path: String,
    /// The anchor name, if any (`None` for whole files or line ranges).
    pub anchor: Option<String>,
}

/// Every include directive in the markdown files under `src`.
pub fn find_includes(src: &Path) -> Vec<Include> {
    let mut out = Vec::new();
    for page in markdown_files(src) {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(start) = rest.find("{{#include ") {
                let after = &rest[start + "{{#include ".len()..];
                let Some(end) = after.find("}}") else { break };
                let spec = after[..end].trim();
                let (path, anchor) = match spec.split_once(':') {
                    Some((p, a)) if !a.chars().all(|c| c.is_ascii_digit() || c == ':') => {
                        (p.to_string(), Some(a.to_string()))
                    }
                    Some((p, _)) => (p.to_string(), None),
                    None => (spec.to_string(), None),
                };
                out.push(Include { page: page.clone(), line: i + 1, path, anchor });
                rest = &after[end..];
            }
        }
    }
    out
}

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(markdown_files(&p));
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
    out
}

/// The text an anchor selects, as mdBook would include it: the lines
/// strictly between `ANCHOR: name` and `ANCHOR_END: name`, minus other
/// anchor lines. `Err` says what is wrong.
pub fn anchor_text(file_text: &str, anchor: &str) -> Result<String, String> {
    let is_marker = |l: &str, kind: &str| {
        l.split_once(kind).is_some_and(|(_, rest)| {
            rest.trim() == anchor || rest.trim_start().starts_with(&format!("{anchor} "))
        })
    };
    let lines: Vec<&str> = file_text.lines().collect();
    let start =
        lines.iter().position(|l| is_marker(l, "ANCHOR:")).ok_or_else(|| format!("no 'ANCHOR: {anchor}'"))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| is_marker(l, "ANCHOR_END:"))
        .ok_or_else(|| format!("'ANCHOR: {anchor}' has no 'ANCHOR_END: {anchor}'"))?
        + start
        + 1;
    let body: Vec<&str> = lines[start + 1..end]
        .iter()
        .copied()
        .filter(|l| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"))
        .collect();
    if body.iter().all(|l| l.trim().is_empty()) {
        return Err(format!("anchor '{anchor}' is empty"));
    }
    Ok(body.join("\n"))
}

/// Check every include under `src`; returns one message per problem.
pub fn check_includes(src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for inc in find_includes(src) {
        let dir = inc.page.parent().unwrap_or(Path::new("."));
        let target = dir.join(&inc.path);
        let Ok(text) = std::fs::read_to_string(&target) else {
            problems.push(format!(
                "{}:{}: includes {}, which does not exist",
                inc.page.display(),
                inc.line,
                inc.path
            ));
            continue;
        };
        match &inc.anchor {
            Some(a) => {
                if let Err(e) = anchor_text(&text, a) {
                    problems.push(format!("{}:{}: {} in {}", inc.page.display(), inc.line, e, inc.path));
                }
            }
            None if text.trim().is_empty() => {
                problems.push(format!("{}:{}: {} is empty", inc.page.display(), inc.line, inc.path));
            }
            None => {}
        }
    }
    problems
}

/// Pages linked from SUMMARY.md that do not exist (draft chapters, `()`,
/// are allowed).
pub fn check_summary(src: &Path) -> Vec<String> {
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap_or_default();
    let mut problems = Vec::new();
    for line in summary.lines() {
        if let Some(open) = line.find("](") {
            let rest = &line[open + 2..];
            if let Some(close) = rest.find(')') {
                let link = &rest[..close];
                if !link.is_empty() && !src.join(link).is_file() {
                    problems.push(format!("SUMMARY.md links {link}, which does not exist"));
                }
            }
        }
    }
    problems
}

/// The book's `src` directory.
pub fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_include_resolves_to_nonempty_text() {
        let incs = find_includes(&book_src());
        assert!(incs.len() >= 10, "expected the chapters to include real code, found {}", incs.len());
        let problems = check_includes(&book_src());
        assert!(problems.is_empty(), "broken includes:\n{}", problems.join("\n"));
    }

    #[test]
    fn every_summary_page_exists() {
        let problems = check_summary(&book_src());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn anchor_rules_catch_mdbook_pitfalls() {
        let src = "a\n// ANCHOR: x\nfn x() {}\n// ANCHOR_END: x\n// ANCHOR: open\nfn y() {}\n// ANCHOR: blank\n\n// ANCHOR_END: blank\n";
        assert_eq!(anchor_text(src, "x").unwrap(), "fn x() {}");
        assert!(anchor_text(src, "missing").unwrap_err().contains("no 'ANCHOR: missing'"));
        assert!(anchor_text(src, "open").unwrap_err().contains("no 'ANCHOR_END: open'"));
        assert!(anchor_text(src, "blank").unwrap_err().contains("empty"));
        // A prefix of another anchor's name is not a match.
        assert!(anchor_text("// ANCHOR: xy\nz\n// ANCHOR_END: xy\n", "x").is_err());
    }

    #[test]
    fn include_parser_reads_anchor_and_range_forms() {
        let dir = std::env::temp_dir().join(format!("linnet-book-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("p.md"),
            "{{#include a.rs:foo}} and {{#include b.txt}}\n{{#include c.rs:2:5}}\n",
        )
        .unwrap();
        let incs = find_includes(&dir);
        let got: Vec<_> = incs.iter().map(|i| (i.path.as_str(), i.anchor.as_deref(), i.line)).collect();
        assert_eq!(got, vec![("a.rs", Some("foo"), 1), ("b.txt", None, 1), ("c.rs", None, 2)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The public-API snippets in the chapters, compiled and run as doctests.
#[cfg(doctest)]
pub mod chapters {
    #[doc = include_str!("src/introduction.md")]
    pub struct Introduction;
    #[doc = include_str!("src/net-core/skbuff.md")]
    pub struct Skbuff;
    #[doc = include_str!("src/net-core/dev.md")]
    pub struct Dev;
    #[doc = include_str!("src/net-core/timer.md")]
    pub struct Timer;
    #[doc = include_str!("src/net-core/snmp.md")]
    pub struct Snmp;
    #[doc = include_str!("src/net-core/net_namespace.md")]
    pub struct NetNamespace;
}
