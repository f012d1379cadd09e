//! A function-level tracer: ftrace's `function_graph`, for the stack's own
//! functions.
//!
//! Mirrors kernel/trace/fgraph.c and kernel/trace/trace_functions_graph.c
//! (Linux 6.18): what `echo function_graph > current_tracer` followed by
//! `cat trace` shows — every traced function's entry and return, indented
//! by call depth, a leaf on one line as `func();`, a function with
//! callees as `func() {` … `}`, and (option `funcgraph-duration`) how long
//! each took:
//!
//! ```text
//! # tracer: function_graph
//! #
//! #               FUNCTION CALLS
//! #               |   |   |   |
//! netif_receive_skb() {
//!   ip_rcv() {
//!     ip_rcv_core();
//!     ip_rcv_finish() {
//! ```
//!
//! # How a function is traced
//!
//! Linux compiles every function with a call to `__fentry__` at its top
//! (`-pg -mfentry`), patched to a nop until a tracer wants it;
//! function_graph then swaps the return address for `return_to_handler`
//! to see the return. We have neither: an instrumented function says so
//! in its first line, `ftrace_graph!("ip_rcv");`, which puts a guard on
//! the stack. The guard records the entry when it is made and the return
//! (with the duration, on the host's clock) when it is dropped — at every
//! `return`, `?` and fall-through alike.
//!
//! Each frame is one of our functions; the name recorded is that function's
//! own, which is Linux's. Where our function is a driver's trait method
//! (`ndo_start_xmit`) or carries a suffix of ours, the name is the Linux
//! function its doc comment says it mirrors (`veth_xmit`,
//! `__inet_lookup_established`). No frame is invented for a Linux function
//! we fold into another (`deliver_skb()` is a line of
//! `netif_receive_skb()` here).
//!
//! # Off costs a load and a branch
//!
//! Linux keeps the `__fentry__` sites as nops and flips static keys when a
//! tracer is set, so an idle tracer costs nothing. We cannot patch code:
//! the guard loads one global atomic ([`FGRAPH_ACTIVE`], `Relaxed`),
//! branches, and keeps a one-byte flag for the return; the recording path
//! is out of line and marked cold. Counted with valgrind, that is about a dozen
//! instructions per traced call (0.8 % of `netlab run bulk-transfer`);
//! criterion cannot tell the difference on the `tcp/bulk` bench.
//!
//! # Per-thread buffers, bounded
//!
//! Linux's ring buffer is per CPU; ours is per thread (`thread_local!`),
//! because a thread is what runs a call chain to its end here: the lab
//! steps every host on one thread, a test runs on its own. A thread traces
//! only after [`GraphTracer::start`] on it, so tests running side by side
//! never see each other's calls (Linux filters by task with
//! `set_ftrace_pid`). The buffer holds at most `capacity` events (an entry
//! and a return are one each, as `ftrace_graph_ent` and `ftrace_graph_ret`
//! are); when it is full, later events are dropped and counted. That is
//! the ring buffer with `options/overwrite` off (its "dropped events");
//! Linux's default overwrites the oldest events instead and counts them
//! as "overrun" — we keep the oldest so a graph always starts at its root.
//!
//! Where we differ, besides the above: no CPU or task column (one thread
//! runs every host: the lab says which host it traced); no
//! `set_graph_function` filter; durations come from [`std::time::Instant`]
//! — the virtual clock of the lab would show 0 us everywhere.

use std::cell::RefCell;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// How many threads are tracing now; zero means every guard is a no-op.
///
/// Mirrors `ftrace_graph_active` (kernel/trace/fgraph.c), the count of
/// registered graph tracers that decides whether the entry hooks are
/// patched in; here it is checked at each hook instead.
pub static FGRAPH_ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Default buffer size in events (Linux's default is 1408 KiB per CPU).
pub const FGRAPH_DEFAULT_ENTRIES: usize = 4096;

/// One recorded event: Linux's `ftrace_graph_ent_entry` /
/// `ftrace_graph_ret_entry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FgraphEvent {
    /// A function was entered at `depth` (0 for a root).
    Entry {
        /// The function (`ent.func`).
        func: &'static str,
        /// Call depth (`ent.depth`).
        depth: u32,
    },
    /// A function returned.
    Return {
        /// The function (`ret.func`).
        func: &'static str,
        /// Call depth, as at its entry (`ret.depth`).
        depth: u32,
        /// `rettime - calltime`, in host nanoseconds.
        duration_ns: u64,
    },
}

/// Calls deeper than this are not traced (Linux: `FTRACE_RETFUNC_DEPTH`,
/// the size of a task's `ret_stack`, past which `ftrace_push_return_trace()`
/// refuses).
pub const FTRACE_RETFUNC_DEPTH: usize = 128;

/// The per-thread buffer (Linux: the per-CPU ring buffer) and return stack
/// (Linux: the task's `ret_stack`).
struct FgraphBuf {
    events: Vec<FgraphEvent>,
    capacity: usize,
    /// The traced calls still open, innermost last, with their entry times;
    /// its length is the current depth, kept whether or not events fit.
    ret_stack: Vec<(&'static str, Instant)>,
    dropped_events: u64,
}

impl FgraphBuf {
    fn record(&mut self, ev: FgraphEvent) {
        if self.events.len() < self.capacity {
            self.events.push(ev);
        } else {
            self.dropped_events += 1;
        }
    }
}

thread_local! {
    static FGRAPH: RefCell<Option<FgraphBuf>> = const { RefCell::new(None) };
}

// ANCHOR: fgraph_guard
/// Is any thread tracing? One `Relaxed` load: the whole cost of an
/// instrumented function while the tracer is off.
#[inline(always)]
pub fn ftrace_graph_active() -> bool {
    FGRAPH_ACTIVE.load(Ordering::Relaxed) != 0
}

/// The guard [`ftrace_graph!`](crate::ftrace_graph) leaves on an instrumented function's stack:
/// one byte, so that a function pays nothing more for it while the tracer
/// is off than the load and branch of [`ftrace_graph_active`].
///
/// Mirrors `function_graph_enter()` at entry and `ftrace_return_to_handler()`
/// at return (kernel/trace/fgraph.c): the entry pushes the function and the
/// time on the thread's return stack, the return pops them, as Linux keeps
/// them on the task's `ret_stack`. `pushed` is false when nothing was
/// pushed (no tracer on this thread, or the stack full), and then the
/// return records nothing either.
#[must_use = "the guard records the return when dropped: bind it for the whole function"]
pub struct FgraphGuard {
    pushed: bool,
}

impl FgraphGuard {
    /// Record entry into `func` if this thread is tracing.
    #[inline(always)]
    pub fn enter(func: &'static str) -> FgraphGuard {
        FgraphGuard { pushed: ftrace_graph_active() && fgraph_entry(func) }
    }
}

impl Drop for FgraphGuard {
    #[inline(always)]
    fn drop(&mut self) {
        if self.pushed {
            fgraph_return();
        }
    }
}
// ANCHOR_END: fgraph_guard

/// The recording half of entry (`trace_graph_entry()`): only reached when
/// some thread traces. True if the call was pushed on the return stack.
#[cold]
#[inline(never)]
fn fgraph_entry(func: &'static str) -> bool {
    FGRAPH
        .try_with(|b| {
            let mut b = b.borrow_mut();
            let Some(b) = b.as_mut().filter(|b| b.ret_stack.len() < FTRACE_RETFUNC_DEPTH) else {
                return false;
            };
            let depth = b.ret_stack.len() as u32;
            b.record(FgraphEvent::Entry { func, depth });
            b.ret_stack.push((func, Instant::now()));
            true
        })
        .unwrap_or(false)
}

/// The recording half of return (`trace_graph_return()`).
///
/// An empty return stack means the call was entered under another tracer
/// (one this thread's current tracer interrupted): not this buffer's to
/// record.
#[cold]
#[inline(never)]
fn fgraph_return() {
    let _ = FGRAPH.try_with(|b| {
        let mut b = b.borrow_mut();
        let Some(b) = b.as_mut() else { return };
        let Some((func, calltime)) = b.ret_stack.pop() else { return };
        let duration_ns = u64::try_from(calltime.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let depth = b.ret_stack.len() as u32;
        b.record(FgraphEvent::Return { func, depth, duration_ns });
    });
}

// ANCHOR: ftrace_graph
/// Trace the enclosing function: `ftrace_graph!("ip_rcv");` as its first
/// line records the entry now and the return when the function's scope
/// ends. Costs one relaxed load and a branch while no tracer runs; see
/// the [module docs](crate::ftrace).
#[macro_export]
macro_rules! ftrace_graph {
    ($func:literal) => {
        let _ftrace_graph_guard = $crate::ftrace::FgraphGuard::enter($func);
    };
}
// ANCHOR_END: ftrace_graph

/// This thread's function_graph tracer, on while the value lives.
///
/// [`start`](Self::start) is `echo function_graph > current_tracer` for the
/// calling thread; [`finish`](Self::finish) stops it and hands over what
/// was recorded, as reading `trace` does; dropping it unfinished stops it
/// and throws the events away.
///
/// Tracers nest, somewhat as Linux's tracing instances (`instances/NAME/`)
/// run side by side: a tracer started while another runs on the thread
/// takes the events until it finishes, then the outer one records again
/// (what happened in between is the inner one's alone). `netlab run
/// dispatch --ftrace` needs this: the scenario traces its own segment
/// inside the run the flag traces. Finish inner tracers first.
pub struct GraphTracer {
    /// The buffer of the tracer this one interrupted.
    outer: Option<FgraphBuf>,
    finished: bool,
}

impl GraphTracer {
    /// Start tracing this thread into a buffer of `capacity` events.
    pub fn start(capacity: usize) -> GraphTracer {
        let buf = FgraphBuf {
            events: Vec::with_capacity(capacity.min(1 << 16)),
            capacity,
            ret_stack: Vec::new(),
            dropped_events: 0,
        };
        let outer = FGRAPH.with_borrow_mut(|b| b.replace(buf));
        if outer.is_none() {
            FGRAPH_ACTIVE.fetch_add(1, Ordering::Relaxed);
        }
        GraphTracer { outer, finished: false }
    }

    /// Stop recording into this tracer's buffer and return what it holds.
    pub fn finish(mut self) -> FgraphTrace {
        self.finished = true;
        self.stop()
    }

    fn stop(&mut self) -> FgraphTrace {
        let outer = self.outer.take();
        let last = outer.is_none();
        let buf = FGRAPH.try_with(|b| std::mem::replace(&mut *b.borrow_mut(), outer)).ok().flatten();
        if last {
            FGRAPH_ACTIVE.fetch_sub(1, Ordering::Relaxed);
        }
        buf.map_or_else(FgraphTrace::default, |b| FgraphTrace {
            events: b.events,
            dropped_events: b.dropped_events,
        })
    }
}

impl Drop for GraphTracer {
    fn drop(&mut self) {
        if !self.finished {
            self.stop();
        }
    }
}

/// Output options, named after `trace_options` of the function_graph
/// tracer (`options/funcgraph-*`).
#[derive(Clone, Copy, Debug, Default)]
pub struct FgraphOpts {
    /// `funcgraph-duration`: the DURATION column, in host µs. Off by
    /// default here (it is on in Linux) so that a run prints the same text
    /// every time.
    pub duration: bool,
    /// `funcgraph-tail`: name the function at its closing brace
    /// (`} /* ip_rcv */`).
    pub tail: bool,
}

/// What one thread recorded: the contents of `trace` after a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FgraphTrace {
    /// Entries and returns, in order.
    pub events: Vec<FgraphEvent>,
    /// Events that found the buffer full (the ring buffer's "dropped
    /// events" with `overwrite` off).
    pub dropped_events: u64,
}

/// `funcgraph-duration`'s column: two characters of overhead mark (we
/// print none), the time in µs with up to 7 digits, " us ", padded to 12
/// (`trace_print_graph_duration()`), then `|  `.
fn duration_col(out: &mut String, ns: Option<u64>) {
    match ns {
        None => out.push_str("              |  "),
        Some(ns) => {
            let usecs = format!("{}", ns / 1000);
            let mut cell = usecs.clone();
            if usecs.len() < 7 {
                let nsecs = format!("{:03}", ns % 1000);
                let keep = (7 - usecs.len()).min(3);
                cell.push('.');
                cell.push_str(&nsecs[..keep]);
            }
            let _ = write!(out, "  {cell} us {:pad$}|  ", "", pad = 8usize.saturating_sub(cell.len()));
        }
    }
}

impl FgraphTrace {
    /// The trace as `cat trace` prints it for function_graph
    /// (`print_graph_headers_flags()`, `print_graph_entry()`,
    /// `print_graph_return()`): a header, then one line per event, a leaf
    /// (an entry whose next event is its own return) folded into
    /// `func();`. A note at the end counts dropped events.
    pub fn print(&self, opts: FgraphOpts) -> String {
        let mut out = String::from("# tracer: function_graph\n#\n");
        // `__print_graph_headers_flags()`, with the CPU column off.
        let (d1, d2) = if opts.duration { ("  DURATION   ", "   |   |      ") } else { ("", "") };
        let _ = writeln!(out, "#{d1}               FUNCTION CALLS");
        let _ = writeln!(out, "#{d2}               |   |   |   |");
        out.push_str(&self.print_lines(opts));
        if self.dropped_events > 0 {
            let _ = writeln!(
                out,
                "# dropped events: {} (the buffer held {}; start the tracer with a larger one)",
                self.dropped_events,
                self.events.len()
            );
        }
        out
    }

    /// The event lines of [`print`](Self::print), without header or note.
    pub fn print_lines(&self, opts: FgraphOpts) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < self.events.len() {
            let indent = |out: &mut String, depth: u32| {
                for _ in 0..depth * 2 {
                    out.push(' ');
                }
            };
            match self.events[i] {
                FgraphEvent::Entry { func, depth } => {
                    let leaf = match self.events.get(i + 1) {
                        Some(&FgraphEvent::Return { func: f, depth: d, duration_ns })
                            if f == func && d == depth =>
                        {
                            Some(duration_ns)
                        }
                        _ => None,
                    };
                    if opts.duration {
                        duration_col(&mut out, leaf);
                    }
                    indent(&mut out, depth);
                    if leaf.is_some() {
                        let _ = writeln!(out, "{func}();");
                        i += 2;
                        continue;
                    }
                    let _ = writeln!(out, "{func}() {{");
                }
                FgraphEvent::Return { func, depth, duration_ns } => {
                    if opts.duration {
                        duration_col(&mut out, Some(duration_ns));
                    }
                    indent(&mut out, depth);
                    if opts.tail {
                        let _ = writeln!(out, "}} /* {func} */");
                    } else {
                        out.push_str("}\n");
                    }
                }
            }
            i += 1;
        }
        out
    }

    /// The functions entered, in order (for tests and for finding a call
    /// chain).
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.events.iter().filter_map(|e| match *e {
            FgraphEvent::Entry { func, depth } => Some((func, depth)),
            FgraphEvent::Return { .. } => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() {
        ftrace_graph!("leaf");
    }

    fn inner(early: bool) -> u32 {
        ftrace_graph!("inner");
        if early {
            return 1;
        }
        leaf();
        2
    }

    fn outer() {
        ftrace_graph!("outer");
        inner(false);
        inner(true);
    }

    #[test]
    fn off_records_nothing() {
        // No tracer on this thread: a guard takes no timestamp and records
        // nothing, even while another test's thread has the switch on.
        let g = FgraphGuard::enter("outer");
        assert!(!g.pushed);
        drop(g);
        outer();
        let got = GraphTracer::start(16).finish();
        assert!(got.events.is_empty(), "calls made before start() are nowhere");
        outer();
        assert_eq!(GraphTracer::start(16).finish(), FgraphTrace::default(), "finish() stopped the tracer");
    }

    #[test]
    fn nesting_and_returns_on_every_path() {
        let t = GraphTracer::start(64);
        outer();
        let got = t.finish();
        let names: Vec<_> = got.entries().collect();
        assert_eq!(names, [("outer", 0), ("inner", 1), ("leaf", 2), ("inner", 1)]);
        let returns: Vec<_> = got
            .events
            .iter()
            .filter_map(|e| match *e {
                FgraphEvent::Return { func, depth, .. } => Some((func, depth)),
                FgraphEvent::Entry { .. } => None,
            })
            .collect();
        assert_eq!(returns, [("leaf", 2), ("inner", 1), ("inner", 1), ("outer", 0)], "early return too");
        assert_eq!(
            got.print_lines(FgraphOpts::default()),
            "outer() {\n  inner() {\n    leaf();\n  }\n  inner();\n}\n"
        );
        assert_eq!(
            got.print_lines(FgraphOpts { tail: true, ..Default::default() }),
            "outer() {\n  inner() {\n    leaf();\n  } /* inner */\n  inner();\n} /* outer */\n"
        );
    }

    #[test]
    fn bounded_buffer_keeps_the_first_events_and_counts_the_rest() {
        let t = GraphTracer::start(3);
        outer(); // 8 events
        let got = t.finish();
        assert_eq!(got.events.len(), 3);
        assert_eq!(got.dropped_events, 5);
        assert_eq!(got.entries().collect::<Vec<_>>(), [("outer", 0), ("inner", 1), ("leaf", 2)]);
        let text = got.print(FgraphOpts::default());
        assert!(text.starts_with("# tracer: function_graph\n"));
        assert!(
            text.ends_with("# dropped events: 5 (the buffer held 3; start the tracer with a larger one)\n")
        );
        // A new tracer starts afresh, at depth 0.
        let t = GraphTracer::start(2);
        leaf();
        assert_eq!(t.finish().entries().collect::<Vec<_>>(), [("leaf", 0)]);
    }

    #[test]
    fn a_call_open_when_tracing_starts_records_no_return() {
        fn traced_around() -> FgraphTrace {
            ftrace_graph!("before_start");
            let t = GraphTracer::start(8);
            leaf();
            t.finish()
        }
        let got = traced_around();
        assert_eq!(got.print_lines(FgraphOpts::default()), "leaf();\n");
    }

    #[test]
    fn tracers_nest_and_the_outer_one_resumes() {
        fn open_across_inner() -> FgraphTrace {
            ftrace_graph!("outer");
            let inner = GraphTracer::start(8);
            leaf();
            let got = inner.finish();
            leaf();
            got
        }
        let t = GraphTracer::start(16);
        let inner = open_across_inner();
        let got = t.finish();
        assert_eq!(
            inner.print_lines(FgraphOpts::default()),
            "leaf();\n",
            "the outer call's return is not the inner's"
        );
        assert_eq!(got.print_lines(FgraphOpts::default()), "outer() {\n  leaf();\n}\n");
        assert!(GraphTracer::start(8).finish().events.is_empty(), "both stopped");
    }

    #[test]
    fn calls_deeper_than_the_return_stack_are_not_traced() {
        fn deep(n: usize) {
            ftrace_graph!("deep");
            if n > 0 {
                deep(n - 1);
            }
        }
        let t = GraphTracer::start(4 * FTRACE_RETFUNC_DEPTH);
        deep(FTRACE_RETFUNC_DEPTH + 20);
        leaf();
        let got = t.finish();
        let entries: Vec<_> = got.entries().collect();
        assert_eq!(entries.len(), FTRACE_RETFUNC_DEPTH + 1);
        assert_eq!(entries[FTRACE_RETFUNC_DEPTH - 1], ("deep", FTRACE_RETFUNC_DEPTH as u32 - 1));
        assert_eq!(entries[FTRACE_RETFUNC_DEPTH], ("leaf", 0), "the untraced calls' returns popped nothing");
        assert_eq!(got.events.len(), 2 * (FTRACE_RETFUNC_DEPTH + 1));
    }

    #[test]
    fn dropping_the_tracer_stops_it() {
        let t = GraphTracer::start(8);
        leaf();
        drop(t);
        leaf();
        assert!(GraphTracer::start(8).finish().events.is_empty());
    }

    #[test]
    fn duration_column_has_linux_layout() {
        let mut s = String::new();
        duration_col(&mut s, Some(1_234));
        assert_eq!(s, "  1.234 us    |  ");
        s.clear();
        duration_col(&mut s, Some(12_345_678));
        assert_eq!(s, "  12345.67 us |  ");
        s.clear();
        duration_col(&mut s, None);
        assert_eq!(s.len(), "  1.234 us    |  ".len());
        let got = FgraphTrace {
            events: vec![
                FgraphEvent::Entry { func: "a", depth: 0 },
                FgraphEvent::Entry { func: "b", depth: 1 },
                FgraphEvent::Return { func: "b", depth: 1, duration_ns: 250 },
                FgraphEvent::Return { func: "a", depth: 0, duration_ns: 1_500 },
            ],
            dropped_events: 0,
        };
        assert_eq!(
            got.print_lines(FgraphOpts { duration: true, tail: false }),
            "              |  a() {\n  0.250 us    |    b();\n  1.500 us    |  }\n"
        );
    }
}
