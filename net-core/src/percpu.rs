//! Per-CPU data, with threads standing in for CPUs.
//!
//! Linux keeps hot counters per CPU (`DEFINE_PER_CPU`, `alloc_percpu`,
//! include/linux/percpu-defs.h): `this_cpu_inc()` is a plain add to the
//! running CPU's copy, with preemption (or bottom halves) off so nothing
//! else writes that copy meanwhile, and a reader sums every CPU's copy
//! (`snmp_fold_field()`). No atomic read-modify-write on the hot path: on
//! x86 a `lock xadd` costs about twenty cycles, and a packet bumps a dozen
//! counters.
//!
//! Here a thread takes a *slot* the first time it touches a per-CPU
//! counter and gives it back when it exits; [`this_cpu`] says which.
//! While a thread holds slot `i`, it is the only writer of every copy `i`,
//! so an update is a relaxed load and a relaxed store ([`PerCpuU64s::add`]),
//! exactly like `this_cpu_add()`. A slot is handed from an exited thread
//! to a new one through a mutex, which orders the old thread's last stores
//! before the new thread's first load, so no count is lost.
//!
//! Where we differ: there are [`NR_CPUS`] slots; a thread that finds them
//! all taken (a test harness running many threads) gets none and updates
//! one shared copy with an atomic add, which is what every update did
//! before this module existed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots with a private copy of each per-CPU counter: the most threads
/// that update counters without an atomic read-modify-write.
pub const NR_CPUS: usize = 8;

/// Free slots, lowest first.
static FREE_SLOTS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// Slots handed out so far (free or not); slot numbers below this exist.
static NEXT_SLOT: Mutex<usize> = Mutex::new(0);

/// Take a free slot (the lowest an exited thread gave back, else the next
/// never used), `None` when all [`NR_CPUS`] are held.
fn slot_take() -> Option<usize> {
    if let Some(s) = FREE_SLOTS.lock().map(|mut f| f.pop()).unwrap_or(None) {
        return Some(s);
    }
    let mut next = NEXT_SLOT.lock().unwrap_or_else(|e| e.into_inner());
    if *next < NR_CPUS {
        *next += 1;
        Some(*next - 1)
    } else {
        None
    }
}

/// [`THIS_CPU`] of a thread that has not asked yet.
const SLOT_UNASKED: usize = usize::MAX;
/// [`THIS_CPU`] of a thread that holds no slot: none was free, or it gave
/// its slot back on exit.
const SLOT_NONE: usize = usize::MAX - 1;

/// Gives the thread's slot back when the thread exits. Registered (a
/// thread-local with a destructor) the first time the thread asks for a
/// slot, so asking later costs one plain thread-local load.
struct SlotGuard;

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let s = THIS_CPU.with(|c| c.replace(SLOT_NONE));
        if s < NR_CPUS {
            // The mutex orders this thread's stores before the next owner's loads.
            if let Ok(mut f) = FREE_SLOTS.lock() {
                f.push(s);
            }
        }
    }
}

thread_local! {
    /// The thread's slot, [`SLOT_UNASKED`] or [`SLOT_NONE`]. No destructor,
    /// so reading it is a plain load, even while the thread exits.
    static THIS_CPU: std::cell::Cell<usize> = const { std::cell::Cell::new(SLOT_UNASKED) };
    static SLOT_GUARD: SlotGuard = const { SlotGuard };
}

/// The calling thread's slot (`smp_processor_id()`), or `None` when every
/// slot is taken, or during thread teardown.
#[inline]
pub fn this_cpu() -> Option<usize> {
    match THIS_CPU.with(std::cell::Cell::get) {
        s if s < NR_CPUS => Some(s),
        SLOT_UNASKED => this_cpu_first(),
        _ => None,
    }
}

/// The first time a thread asks: register the guard that will give the
/// slot back, then take one. A thread already tearing down its
/// thread-locals (the guard cannot be registered) gets none.
#[cold]
fn this_cpu_first() -> Option<usize> {
    if SLOT_GUARD.try_with(|_| ()).is_err() {
        THIS_CPU.with(|c| c.set(SLOT_NONE));
        return None;
    }
    let s = slot_take();
    THIS_CPU.with(|c| c.set(s.unwrap_or(SLOT_NONE)));
    s
}

/// `n` counters, each with [`NR_CPUS`] private copies and one shared copy:
/// Linux's `alloc_percpu(u64[n])` as the SNMP MIBs use it.
pub struct PerCpuU64s {
    n: usize,
    /// Copy `c` of counter `i` is at `c * n + i`; copy `NR_CPUS` is the
    /// shared one, updated atomically.
    copies: Box<[AtomicU64]>,
}

impl PerCpuU64s {
    /// `n` counters, all zero.
    pub fn new(n: usize) -> Self {
        PerCpuU64s { n, copies: (0..n * (NR_CPUS + 1)).map(|_| AtomicU64::new(0)).collect() }
    }

    /// How many counters.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when there are no counters.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    // ANCHOR: percpu_add
    /// Adds `v` (wrapping) to counter `i` in this thread's copy:
    /// `this_cpu_add()`.
    #[inline]
    pub fn add(&self, i: usize, v: u64) {
        assert!(i < self.n, "per-cpu counter {i} out of {}", self.n);
        match this_cpu() {
            Some(cpu) => {
                let c = &self.copies[cpu * self.n + i];
                // Only this thread writes copy `cpu` while it holds the slot.
                c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
            }
            None => {
                self.copies[NR_CPUS * self.n + i].fetch_add(v, Ordering::Relaxed);
            }
        }
    }
    // ANCHOR_END: percpu_add

    /// The sum of every copy of counter `i` (`snmp_fold_field()`).
    pub fn sum(&self, i: usize) -> u64 {
        (0..=NR_CPUS)
            .fold(0u64, |acc, c| acc.wrapping_add(self.copies[c * self.n + i].load(Ordering::Relaxed)))
    }
}

impl std::fmt::Debug for PerCpuU64s {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerCpuU64s").field("n", &self.n).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sums_every_copy_and_wraps_like_an_unsigned_long() {
        let c = PerCpuU64s::new(3);
        c.add(1, 5);
        c.add(1, u64::MAX); // a decrement
        assert_eq!(c.sum(1), 4);
        assert_eq!(c.sum(0), 0);
    }

    /// More threads than slots, some exiting while others start: every
    /// add lands, whether in a private copy, a copy handed over from an
    /// exited thread, or the shared one.
    #[test]
    fn no_count_is_lost_across_threads_and_slot_handover() {
        let c = Arc::new(PerCpuU64s::new(2));
        const THREADS: usize = 3 * NR_CPUS;
        const ADDS: u64 = if cfg!(miri) { 20 } else { 20_000 };
        for wave in 0..3 {
            let hs: Vec<_> = (0..THREADS)
                .map(|t| {
                    let c = Arc::clone(&c);
                    std::thread::spawn(move || {
                        for _ in 0..ADDS {
                            c.add((t + wave) % 2, 1);
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().expect("adder");
            }
        }
        assert_eq!(c.sum(0) + c.sum(1), 3 * THREADS as u64 * ADDS);
        assert_eq!(c.sum(0), c.sum(1));
    }

    #[test]
    #[should_panic(expected = "out of")]
    fn an_index_past_the_end_panics() {
        PerCpuU64s::new(1).add(1, 1);
    }
}
