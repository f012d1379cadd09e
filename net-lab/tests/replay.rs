//! `netlab replay` as a user meets it: captures built here with net-dev's
//! `PcapWriter` (a SYN to a listening port, to a closed one, a ping, an
//! ARP request), fed to the built binary; and broken captures, which must
//! give one line naming the byte offset, exit 2, and never panic.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use net_dev::pcap::{PcapReader, PcapWriter};

mod common;
use common::netlab;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
/// 2023-11-14 22:13:20 UTC: captures carry real epoch times.
const T0: u64 = 1_700_000_000_000_000_000;

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("replay-{}-{name}", std::process::id()))
}

// -- frame builders -------------------------------------------------------------

/// The Internet checksum (RFC 1071) of `data`, folded and complemented.
fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn eth(dst: [u8; 6], src: [u8; 6], proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = [&dst[..], &src[..], &proto.to_be_bytes()[..]].concat();
    f.extend_from_slice(payload);
    f
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let len = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = csum(&h, 0);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// A TCP SYN with an MSS option, CLIENT:sport → HOST:dport, in a frame.
fn syn(sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    tcp((CLIENT, CLIENT_MAC), (HOST, HOST_MAC), sport, dport, seq, 0x02)
}

/// A TCP segment with an MSS option and `flags`, in a frame.
fn tcp(
    (src, src_mac): (Ipv4Addr, [u8; 6]),
    (dst, dst_mac): (Ipv4Addr, [u8; 6]),
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x60, flags, 0xfa, 0xf0, 0, 0, 0, 0]); // doff 6, win 64240
    t.extend_from_slice(&[2, 4, 0x05, 0xb4]); // mss 1460
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(t.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&t);
    let c = csum(&pseudo, 0);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    eth(dst_mac, src_mac, 0x0800, &ipv4(src, dst, 6, &t))
}

/// An ICMP echo request CLIENT → HOST.
fn ping(id: u16, seq: u16) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"linnet replay ping payload");
    let c = csum(&m, 0);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    eth(HOST_MAC, CLIENT_MAC, 0x0800, &ipv4(CLIENT, HOST, 1, &m))
}

/// A UDP datagram CLIENT:sport → HOST:dport (checksum 0: none, RFC 768).
fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    eth(HOST_MAC, CLIENT_MAC, 0x0800, &ipv4(CLIENT, HOST, 17, &u))
}

/// ARP: CLIENT asks who has HOST (broadcast).
fn arp_who_has() -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&CLIENT_MAC);
    a.extend_from_slice(&CLIENT.octets());
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&HOST.octets());
    eth([0xff; 6], CLIENT_MAC, 0x0806, &a)
}

/// Write `frames` (offset ns from [`T0`], bytes) as a classic pcap.
fn capture(name: &str, frames: &[(u64, Vec<u8>)]) -> PathBuf {
    let path = tmp(name);
    let mut w = PcapWriter::new(std::fs::File::create(&path).expect("create pcap")).expect("pcap header");
    for (t, f) in frames {
        w.write_record(T0 + t, f).expect("write record");
    }
    w.flush().expect("flush");
    path
}

fn replay(path: &Path, extra: &[&str]) -> String {
    let p = path.to_string_lossy();
    let mut args = vec!["replay", &p, "--addr", "10.0.0.2/24"];
    args.extend_from_slice(extra);
    let (code, out, err) = netlab(&args);
    assert_eq!(code, 0, "netlab {args:?}: {err}");
    out
}

// -- answers --------------------------------------------------------------------

#[test]
fn syn_to_a_listening_port_gets_a_syn_ack() {
    // The capture also holds the original host's answer (from HOST): not fed.
    let answer = tcp((HOST, HOST_MAC), (CLIENT, CLIENT_MAC), 80, 40000, 9, 0x12);
    let path = capture("listen.pcap", &[(0, syn(40000, 80, 1000)), (1000, answer)]);
    let out = replay(&path, &["--port", "80", "--listen"]);
    assert!(out.contains("2 frames, 1 addressed to 10.0.0.2"), "{out}");
    assert!(out.contains("listen(fd, 128) on 0.0.0.0:80"), "{out}");
    assert!(out.contains("ip neigh add 10.0.0.1 lladdr 02:00:00:00:00:0a dev eth0 nud permanent"), "{out}");
    assert!(
        out.contains("22:13:20.000000 eth0 In  IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, options [mss 1460], length 0"),
        "{out}"
    );
    let syn_ack = out.lines().find(|l| l.contains("Out IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.]"));
    assert!(syn_ack.is_some_and(|l| l.contains("ack 1001")), "{out}");
    // No TcpPassiveOpens yet: Linux counts it when the handshake's last
    // ACK creates the child (tcp_create_openreq_child()).
    assert!(out.lines().any(|l| l.starts_with("TcpOutSegs") && l.contains(" 1 ")), "{out}");
    assert!(!out.contains("Flags [R"), "{out}");
    // --all feeds the original answer too.
    let out = replay(&path, &["--port", "80", "--listen", "--all"]);
    assert!(out.contains("2 frames, 2 fed (--all)"), "{out}");
    assert!(out.contains("In  IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.]"), "{out}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn sysctls_apply_to_the_host() {
    // tcp_syncookies=2: every SYN gets a cookie, and the SYN-ACK says so.
    let path = capture("cookie.pcap", &[(0, syn(40000, 80, 1000))]);
    let out = replay(&path, &["--port", "80", "--listen", "--sysctl", "net.ipv4.tcp_syncookies=2"]);
    assert!(out.contains("Out IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.]"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("TcpExtSyncookiesSent") && l.contains(" 1 ")), "{out}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn udp_to_a_closed_port_gets_port_unreachable() {
    let path = capture("udp.pcap", &[(0, udp(5353, 9999, b"anyone?"))]);
    let out = replay(&path, &[]);
    assert!(out.contains("In  IP 10.0.0.1.5353 > 10.0.0.2.9999: UDP, length 7"), "{out}");
    assert!(out.contains("Out IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable"), "{out}");
    assert!(out.contains("UdpNoPorts"), "{out}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn syn_to_a_closed_port_gets_a_reset() {
    let path = capture("closed.pcap", &[(0, syn(40001, 81, 5000))]);
    let out = replay(&path, &[]);
    let rst = out.lines().find(|l| l.contains("Out IP 10.0.0.2.81 > 10.0.0.1.40001: Flags [R.]"));
    assert!(rst.is_some_and(|l| l.contains("seq 0, ack 5001,")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("TcpOutRsts") && l.contains(" 1 ")), "{out}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn ping_and_arp_are_answered_at_the_capture_times() {
    let path =
        capture("ping.pcap", &[(0, arp_who_has()), (1_500_000_000, ping(7, 1)), (2_500_000_000, ping(7, 2))]);
    let out_pcap = tmp("ping-out.pcap");
    let out = replay(&path, &["--pcap", &out_pcap.to_string_lossy()]);
    assert!(out.contains("Out ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:0b"), "{out}");
    assert!(
        out.contains("22:13:21.500000 eth0 Out IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 7, seq 1"),
        "{out}"
    );
    assert!(
        out.contains("22:13:22.500000 eth0 Out IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 7, seq 2"),
        "{out}"
    );
    assert!(out.contains("IcmpOutEchoReps"), "{out}");
    // --pcap holds the input and the answers, at the capture's times.
    let f = std::fs::File::open(&out_pcap).expect("replay wrote --pcap");
    let recs = PcapReader::new(f).expect("pcap header").read_all().expect("records");
    assert_eq!(recs.len(), 6, "3 in, 3 answers");
    assert_eq!(recs[0].ts_ns, T0);
    assert!(recs.iter().all(|r| r.ts_ns >= T0 && r.ts_ns < T0 + 3_000_000_000));
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(out_pcap);
}

// -- broken captures and bad arguments --------------------------------------------

/// One line on stderr, exit 2, no panic.
#[track_caller]
fn fails_with(args: &[&str], want: &str) {
    let err = common::fails_with(args, want);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn broken_captures_name_the_byte_offset() {
    let garbage = tmp("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture at all, just text\n").unwrap();
    fails_with(&["replay", &garbage.to_string_lossy(), "--addr", "10.0.0.2/24"], "offset 0: bad pcap magic");

    let short = tmp("short-header.pcap");
    std::fs::write(&short, [0x4d, 0x3c, 0xb2, 0xa1, 2, 0]).unwrap();
    fails_with(&["replay", &short.to_string_lossy(), "--addr", "10.0.0.2/24"], "truncated file header");

    // A good first record, then one cut off in its data.
    let cut = capture("cut.pcap", &[(0, syn(40000, 80, 1)), (10, syn(40002, 80, 1))]);
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let second = 24 + 16 + syn(1, 1, 1).len();
    fails_with(
        &["replay", &cut.to_string_lossy(), "--addr", "10.0.0.2/24"],
        &format!("offset {second}: truncated record"),
    );

    // An absurd caplen.
    let mut huge = bytes[..24].to_vec();
    huge.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f]);
    std::fs::write(&cut, &huge).unwrap();
    fails_with(&["replay", &cut.to_string_lossy(), "--addr", "10.0.0.2/24"], "offset 24: record caplen");

    // A capture of another link type (101: raw IP, `tcpdump -i any` gives 113).
    let mut raw = bytes[..24].to_vec();
    raw[20] = 101;
    std::fs::write(&cut, &raw).unwrap();
    fails_with(&["replay", &cut.to_string_lossy(), "--addr", "10.0.0.2/24"], "link type 101 is not Ethernet");

    for p in [garbage, short, cut] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn bad_arguments_get_one_line_and_exit_2() {
    let ok = capture("args.pcap", &[(0, syn(40000, 80, 1))]);
    let f = ok.to_string_lossy().into_owned();
    fails_with(&["replay"], "needs a capture file");
    fails_with(&["replay", &f], "needs --addr");
    fails_with(&["replay", &f, "--addr", "10.0.0.2"], "A/PREFIX");
    fails_with(&["replay", &f, "--addr", "10.0.0.2/24", "--listen"], "--listen needs --port");
    fails_with(
        &["replay", &f, "--addr", "10.0.0.2/24", "--port", "http", "--listen"],
        "--port needs a number",
    );
    fails_with(&["replay", &f, "--addr", "10.0.0.2/24", "--bogus"], "unknown option");
    fails_with(
        &["replay", &f, "--addr", "10.0.0.2/24", "--sysctl", "net.ipv4.nope=1"],
        "No such file or directory",
    );
    fails_with(
        &["replay", &f, "--addr", "10.0.0.2/24", "--seed", "-1"],
        "--seed needs a non-negative integer",
    );
    fails_with(
        &["replay", "/nonexistent/x.pcap", "--addr", "10.0.0.2/24"],
        "cannot read /nonexistent/x.pcap",
    );
    let _ = std::fs::remove_file(ok);
}

// -- the book's example -------------------------------------------------------------

/// The replay the book shows (book/src/lab/replay.md): the handshake
/// scenario's capture replayed into a host listening on port 80, run in a
/// scratch directory as the reader would run it. Regenerate after an
/// intended change with `LINNET_BLESS=1 cargo test -p net-lab --test replay`.
#[test]
fn the_books_replay_output_is_current() {
    let dir = tmp("book");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run netlab");
        assert!(out.status.success(), "netlab {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["run", "handshake", "--pcap", "hs.pcap"]);
    let text = run(&["replay", "hs.pcap", "--addr", "10.0.0.2/24", "--port", "80", "--listen"]);
    let _ = std::fs::remove_dir_all(&dir);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/lab/output/replay-handshake.txt");
    if std::env::var_os("LINNET_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let saved = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(saved, text, "run LINNET_BLESS=1 cargo test -p net-lab --test replay");
}
