//! # net-lab — the `netlab` command
//!
//! Every behaviour the book describes, replayed in virtual time and printed
//! the way Linux's own tools print it. Each scenario is a function that
//! builds one or more namespaces ([`net_core::Net`]), drives them, and
//! returns a [`Report`]: a headline of what to notice and the text a reader
//! compares with the book.
//!
//! | our file | stands for | book section |
//! |---|---|---|
//! | `main.rs` | the `netlab` command line | the lab |
//! | `scenarios/*.rs` | one experiment each | the lab, and the chapter it illustrates |
//! | `trace.rs` | tcpdump (an AF_PACKET tap on `ptype_all`) | the lab |
//! | `ss.rs` | iproute2's `ss -tan` and `ss -lnt` (`inet_diag`'s `tcp_diag_get_info()` queues) | the lab |
//! | `export.rs` | `tcpdump -w`, tcptrace's time-sequence graph, a JSON view | the lab |
//! | `tap.rs` | `netlab tap`: linnet as a host on a TAP device (no Linux twin) | the lab: tap |
//! | `serve.rs` | inetd's echo, discard, chargen and a tiny HTTP server (user programs) | the lab: tap |
//! | `replay.rs` | `netlab replay`: tcpreplay into a host plus tcpdump (no Linux twin) | the lab: replay |
//!
//! Scenarios so far: from net-core, the sk_buff's geometry, packet-type
//! dispatch with the `pt_prev` trick and the timer wheel; from net-ipv4,
//! ping (ARP then ICMP echo), UDP echo and port unreachable, fragments, and
//! route lookup today versus Linux 0.99; from net-tcp, a connection's life,
//! the handshake with `ss -tan`, the three- and four-segment closes, a bulk
//! transfer through a bottleneck (slow start, loss, recovery, cwnd sampled
//! for `--plot`), the zero window and its persist probes, keepalive against
//! a vanished peer, and retransmission until `tcp_retries2` gives up; for
//! the listen chapter, the accept queue overflowing (with and without
//! `tcp_abort_on_overflow`), a SYN flood with and without cookies, and an
//! SO_REUSEPORT group sharing a port; for the closing states, the first
//! article's SYN that meets a CLOSE_WAIT socket, TIME_WAIT (its timer,
//! `tcp_tw_reuse`, `tcp_max_tw_buckets`), `SO_LINGER` resets, FIN_WAIT2's
//! timeout and LAST_ACK's retransmissions.
//!
//! Besides its text, a run can be written as a pcap, as JSON or as a
//! time-sequence graph ([`export`]); the fields of [`Report`] carry what
//! those need. `--ftrace` adds the run's function graph, as ftrace's
//! function_graph tracer prints it ([`ftrace_text`]); the `dispatch`
//! scenario prints one segment's graph as part of its story.

pub mod export;
pub mod replay;
pub mod scenarios;
pub mod serve;
pub mod ss;
pub mod tap;
pub mod trace;

use net_core::Net;
use std::sync::Arc;

/// Options a scenario runs with.
#[derive(Clone, Debug, Default)]
pub struct RunOpts {
    /// Seed for every namespace's random source.
    pub seed: u64,
    /// `NAME=VALUE` sysctls applied to every namespace the scenario creates.
    pub sysctls: Vec<(String, String)>,
}

impl RunOpts {
    /// Apply the requested sysctls to a namespace; the first bad one is an
    /// error in the sysctl tool's words. Names this namespace does not have
    /// (a `net.ipv4.*` knob on a host with only net-core) are skipped:
    /// [`check_sysctls`] has already checked every name against a full host.
    pub fn apply(&self, net: &Arc<Net>) -> Result<(), String> {
        for (k, v) in &self.sysctls {
            if net.sysctl.lookup(k).is_some() {
                net.sysctl.set(k, v).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// What a scenario produced.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One line: what to notice.
    pub headline: String,
    /// The body: traces, tables, counters.
    pub text: String,
    /// Every frame the scenario's traced device saw (`--pcap`, `--json`,
    /// `--plot`); empty for scenarios without a trace.
    pub frames: trace::Frames,
    /// `nstat` diffs per host: host name, then (counter, increase).
    pub counters: Vec<(String, Vec<(String, u64)>)>,
    /// The socket table the scenario printed, as `ss -tan` rows.
    pub sockets: Vec<ss::SsRow>,
    /// The scenario's own narrative lines (calls and what they returned).
    pub narrative: Vec<String>,
    /// The sender's `tcpi_snd_cwnd` sampled over time (virtual ns, segments),
    /// for scenarios that sample it.
    pub cwnd: Vec<(u64, u32)>,
}

/// One experiment.
pub struct Scenario {
    /// Name on the command line.
    pub name: &'static str,
    /// One line for `netlab list`.
    pub summary: &'static str,
    /// `netlab explain`: what it shows, which book section and Linux
    /// functions it exercises.
    pub explain: &'static str,
    /// Shown by `netlab tour`.
    pub in_tour: bool,
    /// Run it.
    pub run: fn(&RunOpts) -> Result<Report, String>,
}

/// What `netlab run NAME` prints: a headline line, then the body.
pub fn render(s: &Scenario, r: &Report) -> String {
    format!("== {} — {}\n{}", s.name, r.headline, r.text)
}

/// A bare host: a namespace on `clock` with net-core only (for the
/// scenarios about net-core itself) and the requested sysctls applied.
pub fn host(name: &str, clock: net_core::Clock, opts: &RunOpts) -> Result<Arc<Net>, String> {
    let net = Net::new(name, clock, opts.seed);
    opts.apply(&net)?;
    Ok(net)
}

/// A host with IPv4 (Ethernet, ARP, IP, ICMP, UDP) wired in by
/// `ipv4_init`, then the requested sysctls applied.
pub fn inet_host(
    name: &str,
    clock: net_core::Clock,
    opts: &RunOpts,
) -> Result<(Arc<Net>, Arc<net_ipv4::Ipv4>), String> {
    let net = Net::new(name, clock, opts.seed);
    let ipv4 = net_tcp::inet_init(&net).ipv4.clone();
    opts.apply(&net)?;
    Ok((net, ipv4))
}

/// Reject unknown or out-of-range sysctls before any scenario runs, even one
/// that builds no host: every name must exist on a full host.
pub fn check_sysctls(opts: &RunOpts) -> Result<(), String> {
    let (net, _) =
        inet_host("check", net_core::Clock::new_virtual(), &RunOpts { sysctls: vec![], ..opts.clone() })?;
    for (k, v) in &opts.sysctls {
        net.sysctl.set(k, v).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `--seed N` and `--sysctl NAME=VALUE` as `tap` and `replay` take them:
/// `Ok(true)` when `opt` is one of the two (its value taken from `next`
/// and stored in `opts`), `Ok(false)` when it is neither.
pub fn parse_host_opt<'a>(
    opt: &str,
    next: &mut impl Iterator<Item = &'a String>,
    opts: &mut RunOpts,
) -> Result<bool, String> {
    match opt {
        "--seed" => {
            let v = next.next().ok_or("--seed needs a number")?;
            opts.seed = v.parse().map_err(|_| format!("--seed needs a non-negative integer, got '{v}'"))?;
        }
        "--sysctl" => {
            let v = next.next().ok_or("--sysctl needs NAME=VALUE")?;
            let (k, val) =
                v.split_once('=').ok_or_else(|| format!("--sysctl needs NAME=VALUE, got '{v}'"))?;
            opts.sysctls.push((k.trim().to_string(), val.trim().to_string()));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Events `netlab run --ftrace` keeps unless `--ftrace-entries` says
/// otherwise: enough for a few segments' full paths.
pub const FTRACE_ENTRIES: usize = 2000;

/// What `netlab run NAME --ftrace` prints after the scenario: the function
/// graph of everything the run did on its thread — every host, since one
/// thread steps them all — in ftrace's format, with a note when the buffer
/// of `entries` events filled (the ring buffer's "dropped events").
///
/// A scenario that traces a part of itself (`dispatch`) has those events
/// in its own text, not here: see [`net_core::ftrace::GraphTracer`].
pub fn ftrace_text(
    g: &net_core::ftrace::FgraphTrace,
    entries: usize,
    opts: net_core::ftrace::FgraphOpts,
) -> String {
    let mut out = format!(
        "function_graph of this run: {} events kept (buffer {entries}), {} dropped\n",
        g.events.len(),
        g.dropped_events
    );
    out.push_str(&g.print(opts));
    out
}

/// Every scenario, in tour order.
pub fn all() -> &'static [Scenario] {
    scenarios::ALL
}

/// The scenario with this name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    all().iter().find(|s| s.name == name)
}
