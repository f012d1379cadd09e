//! Criterion benches for linnet, one file per mechanism under `benches/`,
//! each bench named after the kernel function it measures. See the book's
//! "performance" chapter and the README for the baseline workflow:
//!
//! ```text
//! cargo bench -p benches --bench skbuff -- --save-baseline main
//! cargo bench -p benches --bench skbuff -- --baseline main
//! ```
//!
//! The library holds what the benches share (`fixtures`) and the
//! `bench-summary` command's table (`summary`); `[lib] bench = false`
//! keeps criterion's flags away from it.

pub mod fixtures;
pub mod summary;
