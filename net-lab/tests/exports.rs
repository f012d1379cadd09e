//! `netlab run --pcap/--json/--plot` as a user meets them: the pcap reads
//! back in tshark with the flags, sequence numbers and lengths the text
//! trace prints; the JSON has its documented shape; the plot is an SVG.

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::netlab;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netlab-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// (flags, seq, length) of each TCP line of a text trace, as tcpdump
/// prints them: `seq` is the start of `seq X:Y` or `seq X`, or None when
/// tcpdump prints none (a bare ACK); SYNs carry absolute numbers, so their
/// seq is left out too.
fn text_tcp_lines(text: &str) -> Vec<(String, Option<u32>, u32)> {
    text.lines()
        .filter(|l| l.contains(" Flags ["))
        .map(|l| {
            let flags = l.split("Flags [").nth(1).unwrap().split(']').next().unwrap().to_string();
            let seq = l
                .split(", seq ")
                .nth(1)
                .map(|s| s.split([':', ',']).next().unwrap().parse::<u32>().unwrap())
                .filter(|_| !flags.contains('S'));
            let len = l.rsplit("length ").next().unwrap().trim().parse().unwrap();
            (flags, seq, len)
        })
        .collect()
}

/// tshark's `tcp.flags.str` (`·······A·S··`-style) in tcpdump's letters.
fn tshark_flags(s: &str) -> String {
    let order =
        [('F', 'F'), ('S', 'S'), ('R', 'R'), ('P', 'P'), ('A', '.'), ('U', 'U'), ('E', 'E'), ('C', 'W')];
    order.iter().filter(|(t, _)| s.contains(*t)).map(|(_, d)| *d).collect()
}

fn tshark_available() -> bool {
    Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn cross_check(scenario: &str) {
    if !tshark_available() {
        assert!(std::env::var_os("CI").is_none(), "tshark is required in CI");
        eprintln!("tshark not installed; skipping the pcap cross-check of {scenario}");
        return;
    }
    let pcap = tmp(&format!("{scenario}.pcap"));
    let (code, text, err) = netlab(&["run", scenario, "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-Y", "tcp", "-T", "fields"])
        .args(["-e", "tcp.flags.str", "-e", "tcp.seq", "-e", "tcp.len"])
        .args(["-o", "tcp.relative_sequence_numbers:TRUE"])
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    let shark: Vec<(String, u32, u32)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (tshark_flags(f[0]), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    let ours = text_tcp_lines(&text);
    assert!(ours.len() >= 3, "{text}");
    assert_eq!(ours.len(), shark.len(), "segment counts differ:\n{text}\n{shark:?}");
    for (i, (o, t)) in ours.iter().zip(&shark).enumerate() {
        assert_eq!(o.0, t.0, "segment {i}: flags");
        assert_eq!(o.2, t.2, "segment {i}: length");
        if let Some(seq) = o.1 {
            assert_eq!(seq, t.1, "segment {i}: relative seq");
        }
    }
}

#[test]
fn pcap_of_handshake_reads_back_in_tshark_as_the_trace_prints() {
    cross_check("handshake");
}

#[test]
fn pcap_of_tcp_connection_reads_back_in_tshark_as_the_trace_prints() {
    cross_check("tcp-connection");
}

#[test]
fn pcap_is_classic_nanosecond_pcap_with_every_frame() {
    let pcap = tmp("ping.pcap");
    let (code, text, err) = netlab(&["run", "three-way-close", "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(&bytes[..4], &0xa1b2_3c4du32.to_le_bytes(), "nanosecond magic");
    let recs = net_dev::pcap::PcapReader::new(&bytes[..]).unwrap().read_all().unwrap();
    let traced =
        text.lines().filter(|l| l.starts_with("12:") && (l.contains(" IP ") || l.contains(" ARP,"))).count();
    assert_eq!(recs.len(), traced, "one record per trace line");
    // Times read back as the trace's clock: noon plus virtual time.
    assert_eq!(recs[0].ts_ns / 1_000_000_000, 12 * 3600);
}

#[test]
fn json_has_packets_counters_sockets_and_narrative() {
    let (code, out, err) = netlab(&["run", "handshake", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(v["scenario"], "handshake");
    assert!(v["headline"].as_str().is_some_and(|h| !h.is_empty()));
    let packets = v["packets"].as_array().unwrap();
    let tcp: Vec<&serde_json::Value> = packets.iter().filter(|p| p["proto"] == "tcp").collect();
    assert_eq!(tcp.len(), 3);
    for key in
        ["time", "time_ns", "src", "dst", "sport", "dport", "flags", "seq", "ack", "win", "len", "options"]
    {
        assert!(!tcp[0][key].is_null(), "packet lacks {key}: {}", tcp[0]);
    }
    assert_eq!(tcp[0]["flags"], "S");
    assert_eq!(tcp[0]["src"], "10.0.0.1");
    assert_eq!(tcp[0]["dport"], 80);
    assert!(tcp[0]["options"].as_str().unwrap().contains("mss 1460"));
    assert_eq!(tcp[2]["ack"], 1, "relative, as the text trace prints it");
    assert!(packets.iter().all(|p| p["summary"].is_string()), "every frame has tcpdump's line");
    assert_eq!(v["counters"]["a"]["TcpActiveOpens"], 1);
    assert_eq!(v["counters"]["b"]["TcpPassiveOpens"], 1);
    let sockets = v["sockets"].as_array().unwrap();
    assert!(sockets.iter().any(|s| s["state"] == "LISTEN" && s["send_q"] == 128 && s["host"] == "b"));
    for key in ["host", "state", "recv_q", "send_q", "local", "peer"] {
        assert!(!sockets[0][key].is_null(), "socket row lacks {key}");
    }
    assert!(v["narrative"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().contains("accept()")));
    assert!(v["cwnd"].as_array().unwrap().is_empty());
}

/// Tags open and close in order: a well-formedness check without an XML crate.
fn assert_well_formed(svg: &str) {
    assert!(svg.trim_start().starts_with("<svg") || svg.trim_start().starts_with("<?xml"));
    assert!(svg.trim_end().ends_with("</svg>"));
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("unterminated tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| !c.is_whitespace()).collect();
        if tag.starts_with('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "mismatched </{name}>");
        } else {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

#[test]
fn plot_writes_a_time_sequence_svg_with_a_cwnd_panel() {
    let svg_path = tmp("bulk.svg");
    let (code, _, err) = netlab(&["run", "bulk-transfer", "--plot", svg_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_well_formed(&svg);
    for label in ["time-sequence graph", "retransmission", "receive window", "tcpi_snd_cwnd"] {
        assert!(svg.contains(label), "the plot lacks '{label}'");
    }
    // Each retransmission gets a red dot at its top (the legend has none):
    // four under CUBIC, whose HyStart leaves slow start before the queue
    // overflows (Reno's slow start ran into it and resent 27).
    assert!(svg.matches("<circle").count() >= 4, "retransmissions marked");
    let svg_path = tmp("handshake.svg");
    let (code, _, err) = netlab(&["run", "handshake", "--plot", svg_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_well_formed(&svg);
    assert!(!svg.contains("tcpi_snd_cwnd"), "no cwnd panel when the scenario did not sample it");
    assert!(!svg.contains("<circle"), "no retransmissions in a handshake");
}

#[test]
fn bad_output_arguments_get_one_line_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "ping", "--plot", "/tmp/x.svg"], "carries no TCP to plot"),
        (
            &["run", "handshake", "--pcap", "/nonexistent-dir/x.pcap"],
            "cannot write pcap '/nonexistent-dir/x.pcap'",
        ),
        (&["run", "handshake", "--plot", "/nonexistent-dir/x.svg"], "cannot write plot"),
        (&["run", "handshake", "--pcap"], "--pcap needs a file name"),
        (&["run", "handshake", "--plot"], "--plot needs a file name"),
        (&["run", "timers", "--pcap", "/tmp/x.pcap"], "traces no device"),
        (&["run", "handshake", "--sysctl", "net.ipv4.tcp_retries2=999"], "Invalid argument"),
    ];
    for (args, want) in cases {
        let (code, out, err) = netlab(args);
        assert_eq!(code, 2, "{args:?} should fail: {out}{err}");
        // One line from netlab (a scenario may have said something on
        // stderr before, as `timers` reports its real time).
        let last = err.lines().last().unwrap_or_default();
        assert!(last.starts_with("netlab: ") && err.matches("netlab: ").count() == 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
    }
}

fn tcpdump_available() -> bool {
    Command::new("tcpdump").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The real tcpdump, reading the pcap, prints the text trace line for
/// line: relative numbering by its own rules (a RST without ACK absolute,
/// a new incarnation of a 4-tuple renumbered from its SYN-ACK), times on
/// the trace's noon clock.
fn tcpdump_reads_back(scenario: &str) {
    if !tcpdump_available() {
        assert!(std::env::var_os("CI").is_none(), "tcpdump is required in CI");
        eprintln!("tcpdump not installed; skipping the read-back of {scenario}");
        return;
    }
    let pcap = tmp(&format!("{scenario}-tcpdump.pcap"));
    let (code, text, err) = netlab(&["run", scenario, "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out = Command::new("tcpdump")
        .env("TZ", "UTC")
        .args(["-n", "-r", pcap.to_str().unwrap()])
        .output()
        .expect("run tcpdump");
    assert!(out.status.success(), "tcpdump: {}", String::from_utf8_lossy(&out.stderr));
    // tcpdump decodes the payload of a port it knows (": HTTP", ": HTTP:
    // GET / HTTP/1.1" on port 80); the stack's trace stops at the length.
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.find(", length ").and_then(|i| l[i..].find(": ").map(|j| i + j)) {
            Some(cut) => l[..cut].to_string(),
            None => l.to_string(),
        })
        .collect();
    let is_trace = |l: &&str| {
        l.len() > 16 && l.as_bytes()[2] == b':' && (l[16..].starts_with("IP ") || l[16..].starts_with("ARP,"))
    };
    let ours: Vec<&str> = text.lines().filter(is_trace).collect();
    assert!(ours.len() >= 5, "{scenario}: {text}");
    assert_eq!(ours.len(), theirs.len(), "line counts differ:\n{text}\n--- tcpdump\n{}", theirs.join("\n"));
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!(*o, t, "tcpdump prints the line differently");
    }
}

#[test]
fn pcap_of_closewait_port_reuse_reads_back_in_tcpdump_line_for_line() {
    tcpdump_reads_back("closewait-port-reuse");
}

#[test]
fn pcap_of_time_wait_reads_back_in_tcpdump_line_for_line() {
    tcpdump_reads_back("time-wait");
}

/// Every other scenario whose text prints the whole of one host's trace:
/// the real tcpdump reading its pcap prints the same lines. Not here:
/// `reuseport`, `bulk-transfer` and `syn-flood` print an excerpt of their
/// trace; `listen-overflow` runs twice, each run's trace from noon, while
/// its pcap holds both runs end to end; `fragments` marks each fragment
/// (`frag ID:LEN@OFF+`), which `tcpdump -n` shows only with `-v`.
#[test]
fn every_traced_scenario_reads_back_in_tcpdump_line_for_line() {
    for scenario in [
        "ping",
        "udp-echo",
        "tcp-connection",
        "handshake",
        "three-way-close",
        "four-way-close",
        "linger-rst",
        "fin-wait2-timeout",
        "last-ack-retries",
        "zero-window",
        "keepalive",
        "retransmit-giveup",
        "orphans",
    ] {
        tcpdump_reads_back(scenario);
    }
}
