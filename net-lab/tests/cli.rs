//! The `netlab` command line as a user meets it: good commands work, bad
//! ones get one line saying what to do and a non-zero exit.

mod common;
use common::netlab;

#[test]
fn tour_runs_every_headline_scenario() {
    let (code, out, _) = netlab(&["tour"]);
    assert_eq!(code, 0);
    for name in ["skb-geometry", "dispatch", "timers"] {
        assert!(out.contains(&format!("== {name} — ")), "tour lacks {name}:\n{out}");
    }
    let pcap = out.lines().find_map(|l| l.strip_prefix("pcap: ")).expect("the tour says where its pcaps are");
    let path = pcap.split(" (").next().unwrap();
    assert!(std::fs::metadata(path).is_ok_and(|m| m.len() > 24), "{path} holds frames");
}

#[test]
fn list_and_explain() {
    let (code, out, _) = netlab(&["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("dispatch"));
    let (code, out, _) = netlab(&["explain", "dispatch"]);
    assert_eq!(code, 0);
    assert!(out.contains("pt_prev"));
}

#[test]
fn run_with_seed_and_sysctl() {
    let (code, out, err) = netlab(&["run", "dispatch", "--seed", "9", "--sysctl", "net.core.somaxconn=128"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("UNHANDLED_PROTO"));
}

#[test]
fn bad_arguments_get_one_line_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "no-such"], "unknown scenario 'no-such'"),
        (&["explain", "no-such"], "unknown scenario"),
        (&["frobnicate"], "unknown command"),
        (&["run", "dispatch", "--seed", "x"], "--seed needs a non-negative integer"),
        (&["run", "dispatch", "--sysctl", "oops"], "--sysctl needs NAME=VALUE"),
        (&["run", "dispatch", "--sysctl", "net.core.somaxcon=1"], "No such file or directory"),
        (&["run", "dispatch", "--sysctl", "net.core.somaxconn=-5"], "Invalid argument"),
        (&["run", "skb-geometry", "--sysctl", "net.core.somaxconn=banana"], "Invalid argument"),
        (&["run", "dispatch", "--bogus"], "unknown option"),
        (&["tour", "extra"], "takes no arguments"),
        (&["run", "ping", "--ftrace-entries", "0"], "--ftrace-entries needs a positive integer"),
        (&["run", "ping", "--ftrace-opt", "funcgraph-cpu"], "knows funcgraph-duration and funcgraph-tail"),
    ];
    for (args, want) in cases {
        let (code, out, err) = netlab(args);
        assert_eq!(code, 2, "{args:?} should fail: {out}{err}");
        assert!(err.starts_with("netlab: "), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
    }
    let (code, _, err) = netlab(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("usage"));
}

#[test]
fn ftrace_prints_the_function_graph_of_a_run() {
    let (code, out, err) = netlab(&["run", "ping", "--ftrace"]);
    assert_eq!(code, 0, "{err}");
    let graph = &out[out.find("function_graph of this run").expect("a graph after the run")..];
    assert!(graph.contains("# tracer: function_graph\n"));
    for f in ["arp_rcv() {", "icmp_rcv() {", "netif_receive_skb() {", "  ip_rcv() {", "dev_queue_xmit() {"] {
        assert!(graph.contains(f), "no {f:?} in\n{graph}");
    }
    assert!(graph.contains("0 dropped"), "ping fits in the default buffer");

    // A small buffer keeps the first events and says how many it dropped.
    let (code, out, err) =
        netlab(&["run", "ping", "--ftrace-entries", "10", "--ftrace-opt", "funcgraph-tail"]);
    assert_eq!(code, 0, "{err}");
    let graph = &out[out.find("function_graph of this run").unwrap()..];
    assert!(graph.starts_with("function_graph of this run: 10 events kept (buffer 10), "));
    let events = graph.lines().filter(|l| !l.starts_with('#') && !l.starts_with("function_graph")).count();
    assert!((1..=10).contains(&events), "{graph}");
    assert!(graph.contains("# dropped events: "), "{graph}");

    // With durations, and in JSON.
    let (code, out, err) = netlab(&["run", "ping", "--ftrace-opt", "funcgraph-duration", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let g = v["ftrace"].as_str().expect("an ftrace field");
    assert!(g.contains("#  DURATION   ") && g.contains(" us "), "{g}");
}
