//! Instruction counts for the hot paths (issue #10): figures that do not
//! move with the machine's noise, so a change of a few percent shows.
//!
//! The bench runs itself under `valgrind --tool=callgrind` twice per
//! operation: once with the setup alone (`n` = 0) and once with the setup
//! and [`N`] operations; the difference divided by `N` is the instructions
//! (callgrind's `Ir`) one operation costs. Everything runs in virtual time
//! from fixed seeds, so the two runs' setups are the same instruction for
//! instruction. The operations, each named after what it stands for in
//! Linux:
//!
//! - `tcp_rcv_established/1448B`: 1448 bytes (one MSS-sized segment at
//!   MTU 1500) sent, carried and received on an established connection
//!   whose window and buffers have grown (1 MiB moved in the setup):
//!   `tcp_sendmsg()` → `tcp_write_xmit()` → IP → the hub → `ip_rcv()` →
//!   `tcp_v4_rcv()` → `tcp_rcv_established()` → `tcp_recvmsg()`, and the
//!   ACKs that come back (one per two segments). Peer: smoltcp moving the
//!   same bytes. `offloads/tcp_rcv_established/1448B` is the same with
//!   GSO and GRO on both hosts (`net_core::gso`, `net_core::gro`), as the
//!   bulk bench runs: per wire segment, its share of one GSO packet's way
//!   down, one merged packet's way up and its ACK.
//! - `conn_rr`: one connection of `tcp/conn_rr` (handshake, 64 B each way,
//!   both closes, the client's timewait sock). Peer: smoltcp's sequence of
//!   `tcp/peer:smoltcp/conn_rr`.
//! - `__inet_lookup_established`: one lookup among 1,000 established
//!   sockets, the one `tcp_v4_rcv()` does per segment. smoltcp has no
//!   table to compare (it walks its socket set).
//! - `alloc_skb+kfree_skb/2048`: a 2048-byte skb allocated and freed.
//!   Peer: `Box<[u8]>` of 2048 bytes, the allocator alone.
//!
//! Beside each count, the code the operation runs every time: distinct
//! 64-byte lines holding an instruction that ran at least once per
//! operation (from callgrind's per-instruction costs,
//! `--dump-instr=yes`), in KiB — what the instruction cache has to hold
//! for the operation to run from it. A connection of linnet's runs about
//! three times smoltcp's code, more than a first-level instruction cache
//! holds; the book's performance chapter explains what that costs.
//!
//! `cargo bench -p benches --bench instructions` runs them all (a name as
//! filter runs those containing it); valgrind must be installed
//! (`apt-get install valgrind`); without it the bench says so and exits.
//! The child runs are `instructions --child OP N`.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::process::Command;

use benches::callgrind::{Run, code_lines_per_op, parse_instr_costs, parse_total};
use net_core::{Clock, Net};
use net_tcp::inet_init;
use net_tcp::sock::TcpSock;
use net_tcp::tcp_states::TcpState;

#[path = "common/linnet.rs"]
mod linnet;
#[path = "common/smol.rs"]
mod smol;
use linnet::{linnet_conn_rr, linnet_connect, linnet_lab, linnet_listener, linnet_stream, set_offloads};

/// Operations per measured run.
const N: u64 = 1000;
/// Bytes per `tcp_rcv_established` operation.
const SEG: u64 = 1448;

/// An operation: linnet's, or a peer's (`peer:...`), with its setup.
struct Op {
    name: &'static str,
    /// Operations per measured run (fewer for the long ones).
    n: u64,
    run: fn(u64),
}

const OPS: &[Op] = &[
    Op { name: "tcp_rcv_established/1448B", n: N, run: linnet_segments },
    Op { name: "offloads/tcp_rcv_established/1448B", n: N, run: linnet_segments_offloads },
    Op { name: "peer:smoltcp/tcp_rcv_established/1448B", n: N, run: smoltcp_segments },
    Op { name: "conn_rr", n: N / 5, run: linnet_conn_rrs },
    Op { name: "peer:smoltcp/conn_rr", n: N / 5, run: smoltcp_conn_rrs },
    Op { name: "__inet_lookup_established", n: 10 * N, run: lookups },
    Op { name: "alloc_skb+kfree_skb/2048", n: 10 * N, run: skbs },
    Op { name: "peer:Box::new/2048", n: 10 * N, run: boxes },
];

// ANCHOR: ops
fn linnet_segments(n: u64) {
    segments(n, false);
}

fn linnet_segments_offloads(n: u64) {
    segments(n, true);
}

fn segments(n: u64, gro: bool) {
    let data: Vec<u8> = (0..1u32 << 20).map(|i| i as u8).collect();
    let mut buf = vec![0u8; 64 << 10];
    let (lab, _) = linnet_lab();
    set_offloads(&lab, gro);
    let l = linnet_listener(&lab);
    let (c, s) = linnet_connect(&lab, &l, None);
    linnet_stream(&lab, &c, &s, 1 << 20, &data, &mut buf);
    if n > 0 {
        linnet_stream(&lab, &c, &s, n * SEG, &data, &mut buf);
    }
}

fn smoltcp_segments(n: u64) {
    let data: Vec<u8> = (0..1u32 << 20).map(|i| i as u8).collect();
    let mut buf = vec![0u8; 64 << 10];
    let mut lab = smol::Lab::new();
    // linnet's buffers at MTU 1500, as bulk.rs measures them.
    let srv = lab.listener(86016, 2_626_560);
    let cl = lab.connect(49152, 86016, 2_626_560);
    smol::stream(&mut lab, cl, srv, 1 << 20, &data, &mut buf);
    if n > 0 {
        smol::stream(&mut lab, cl, srv, n * SEG, &data, &mut buf);
    }
}

fn linnet_conn_rrs(n: u64) {
    let (lab, _) = linnet_lab();
    let l = linnet_listener(&lab);
    linnet_conn_rr(&lab, &l);
    for _ in 0..n {
        linnet_conn_rr(&lab, &l);
    }
}

fn smoltcp_conn_rrs(n: u64) {
    let mut lab = smol::Lab::new();
    let srv = lab.listener(4096, 4096);
    smol::conn_rr(&mut lab, srv, 49151);
    for k in 0..n {
        smol::conn_rr(&mut lab, srv, 49152 + k as u16);
    }
}

fn lookups(n: u64) {
    let net = Net::new("lookup", Clock::new_virtual_at(1_000_000_000), 1);
    let tn = inet_init(&net);
    let server = Ipv4Addr::new(10, 0, 0, 1);
    let mut socks = Vec::new();
    let mut x = 0x5eed_u64;
    while socks.len() < 1000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let (saddr, sport) = (Ipv4Addr::from((x >> 32) as u32), (x >> 16) as u16 | 1024);
        let sk = TcpSock::new(&net, 87380, 16384);
        sk.skc_state.store(TcpState::Established as u8, std::sync::atomic::Ordering::Release);
        sk.set_skc_addrs(server, 80, saddr, sport);
        if tn.hashinfo.inet_ehash_nolisten(&sk) {
            socks.push((saddr, sport, sk));
        }
    }
    for k in 0..n as usize {
        let (saddr, sport, _) = &socks[k % socks.len()];
        black_box(tn.hashinfo.__inet_lookup_established_any(*saddr, *sport, server, 80, 0));
    }
}

fn skbs(n: u64) {
    for _ in 0..n {
        black_box(net_core::skbuff::alloc_skb(black_box(2048)));
    }
}

fn boxes(n: u64) {
    for _ in 0..n {
        black_box(vec![0u8; black_box(2048)].into_boxed_slice());
    }
}
// ANCHOR_END: ops

/// One callgrind run of this binary as a child: its instructions (`Ir`)
/// and what each instruction address cost.
fn callgrind(exe: &std::path::Path, op: &str, n: u64) -> Result<Run, String> {
    let out = std::env::temp_dir().join(format!("linnet-callgrind-{}-{n}.out", std::process::id()));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet", "--dump-instr=yes", "--compress-pos=no"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["--child", op, &n.to_string()])
        .status()
        .map_err(|e| format!("valgrind: {e}"))?;
    if !status.success() {
        return Err(format!("valgrind {op} {n}: {status}"));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    let total = parse_total(&text).ok_or_else(|| "no totals in callgrind's output".to_string())?;
    Ok(Run { total, by_addr: parse_instr_costs(&text) })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let op = OPS.iter().find(|o| o.name == args[i + 1]).expect("a known operation");
        (op.run)(args[i + 2].parse().expect("a count"));
        return;
    }
    let filter = args.iter().find(|a| !a.starts_with('-'));
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("instructions: valgrind is not installed (apt-get install valgrind); nothing measured");
        return;
    }
    let exe = std::env::current_exe().expect("this binary");
    println!("instructions per operation (callgrind Ir, (run with n ops − setup alone) / n), and the code");
    println!("it runs every time (distinct 64-byte lines, as KiB: what the instruction cache must hold):");
    let mut results: Vec<(&str, f64, usize)> = Vec::new();
    for op in OPS.iter().filter(|o| filter.is_none_or(|f| o.name.contains(f.as_str()))) {
        let runs = callgrind(&exe, op.name, 0)
            .and_then(|base| callgrind(&exe, op.name, op.n).map(|all| (base, all)));
        match runs {
            Ok((base, all)) => {
                let per = (all.total - base.total) as f64 / op.n as f64;
                let lines = code_lines_per_op(&base, &all, op.n);
                let peer =
                    op.name.strip_prefix("peer:").map(|p| p.split_once('/').map_or(p, |(_, rest)| rest));
                let ratio = peer
                    .and_then(|rest| results.iter().find(|(name, _, _)| *name == rest))
                    .map(|(_, linnet, linnet_lines)| {
                        format!(
                            "  linnet needs {:.2}× these, {:.2}× the code",
                            linnet / per,
                            *linnet_lines as f64 / lines.max(1) as f64
                        )
                    })
                    .unwrap_or_default();
                let kib = lines as f64 * 64.0 / 1024.0;
                println!("  {:<42} {per:>12.0} Ir  {kib:>6.1} KiB  (n = {}){ratio}", op.name, op.n);
                results.push((op.name, per, lines));
            }
            Err(e) => println!("  {:<42} failed: {e}", op.name),
        }
    }
}
