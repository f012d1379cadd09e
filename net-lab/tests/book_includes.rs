//! Every `{{#include FILE:ANCHOR}}` in the book names a file that exists and
//! an anchor that file opens and closes.
//!
//! mdBook inserts nothing for a mistyped anchor and runs an anchor without
//! `ANCHOR_END` to the end of the file (TRAPS.md), so a renamed function
//! would silently empty a listing; this test makes it fail instead.

use std::path::{Path, PathBuf};

fn md_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("entry").path();
        if p.is_dir() {
            md_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

#[test]
fn every_book_include_resolves() {
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    let mut files = Vec::new();
    md_files(&book, &mut files);
    files.sort();
    let mut errors = Vec::new();
    let mut checked = 0;
    for md in &files {
        let text = std::fs::read_to_string(md).expect("read");
        for (lineno, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(i) = rest.find("{{#include ") {
                let after = &rest[i + "{{#include ".len()..];
                let Some(end) = after.find("}}") else { break };
                let spec = after[..end].trim();
                rest = &after[end..];
                let (path, anchor) = match spec.rsplit_once(':') {
                    Some((p, a)) if !a.is_empty() && !a.chars().all(|c| c.is_ascii_digit()) => (p, Some(a)),
                    _ => (spec, None),
                };
                let target = md.parent().expect("dir").join(path);
                let where_ = format!("{}:{}", md.display(), lineno + 1);
                let Ok(src) = std::fs::read_to_string(&target) else {
                    errors.push(format!("{where_}: {} does not exist", target.display()));
                    continue;
                };
                checked += 1;
                if let Some(a) = anchor {
                    let opens = src.lines().any(|l| l.trim_end().ends_with(&format!("ANCHOR: {a}")));
                    let closes = src.lines().any(|l| l.trim_end().ends_with(&format!("ANCHOR_END: {a}")));
                    if !opens || !closes {
                        errors.push(format!(
                            "{where_}: {} has {} for anchor `{a}`",
                            target.display(),
                            if opens { "no ANCHOR_END" } else { "no ANCHOR" }
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} includes found: is the book where this test looks?");
    assert!(errors.is_empty(), "{} broken includes:\n{}", errors.len(), errors.join("\n"));
}
