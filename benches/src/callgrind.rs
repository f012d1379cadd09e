//! Reading callgrind's output for the instructions bench
//! (`benches/instructions.rs`): the total instruction count of a run and
//! each instruction's own count, from which the code an operation runs
//! every time is measured.

use std::collections::{HashMap, HashSet};

/// One callgrind run: its instructions (`Ir`) and what each instruction
/// address cost.
pub struct Run {
    /// The run's `totals:` line.
    pub total: u64,
    /// `Ir` by instruction address.
    pub by_addr: HashMap<u64, u64>,
}

/// The `totals:` (or older `summary:`) line of a callgrind output file.
pub fn parse_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Each instruction's own cost (`Ir`: times it ran) from callgrind output
/// written with `--dump-instr=yes --compress-pos=no` (cost lines
/// `0xADDR LINE IR`); the line after a `calls=` line is the call's
/// inclusive cost, not the instruction's, and is skipped.
pub fn parse_instr_costs(text: &str) -> HashMap<u64, u64> {
    let mut costs = HashMap::new();
    let mut call_cost_next = false;
    for line in text.lines() {
        if line.starts_with("calls=") {
            call_cost_next = true;
            continue;
        }
        let Some(rest) = line.strip_prefix("0x") else { continue };
        if std::mem::take(&mut call_cost_next) {
            continue;
        }
        let mut fields = rest.split_whitespace();
        let addr = fields.next().and_then(|a| u64::from_str_radix(a, 16).ok());
        let ir = fields.nth(1).and_then(|c| c.parse::<u64>().ok());
        if let (Some(addr), Some(ir)) = (addr, ir) {
            *costs.entry(addr).or_insert(0) += ir;
        }
    }
    costs
}

/// The code an operation runs every time: distinct 64-byte lines holding
/// an instruction that ran at least 0.9 × `n` times more in the run with
/// `n` operations than in the setup alone. What the instruction cache has
/// to hold for one operation to run from it (valgrind lays a program out
/// the same way in both runs, so addresses compare).
pub fn code_lines_per_op(base: &Run, all: &Run, n: u64) -> usize {
    let min = n * 9 / 10;
    let lines: HashSet<u64> = all
        .by_addr
        .iter()
        .filter(|(addr, ir)| ir.saturating_sub(base.by_addr.get(addr).copied().unwrap_or(0)) >= min.max(1))
        .map(|(addr, _)| addr >> 6)
        .collect();
    lines.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn totals_line() {
        assert_eq!(super::parse_total("events: Ir\nsummary: 1234\ntotals: 1234\n"), Some(1234));
    }

    #[test]
    fn instruction_costs_skip_call_lines() {
        let text = "positions: instr line\nevents: Ir\nfn=f\n0x1000 3 5\n0x1004 3 5\ncalls=5 0x2000 9\n0x1008 3 700\n0x1008 3 5\n";
        let costs = super::parse_instr_costs(text);
        assert_eq!(costs.get(&0x1000), Some(&5));
        assert_eq!(costs.get(&0x1008), Some(&5), "the call's inclusive 700 is not the instruction's");
        let base = super::Run { total: 0, by_addr: Default::default() };
        let all = super::Run { total: 15, by_addr: costs };
        assert_eq!(super::code_lines_per_op(&base, &all, 5), 1, "three instructions in one 64-byte line");
    }
}
