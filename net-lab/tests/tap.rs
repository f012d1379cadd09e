//! `netlab tap` as a user runs it: the built binary serving the kernel
//! over a TAP whose kernel end lives in a namespace the test creates.
//!
//! Needs root (`CAP_NET_ADMIN`), `/dev/net/tun`, `ip`, `python3` and
//! `tshark`; without them each test prints "skipped: <reason>" and passes,
//! unless `CI=true`, where it fails (net-dev's `netns::skip`). `curl` is
//! used for the HTTP test when installed, python's urllib otherwise.
//!
//! Each test creates its own namespace (`netlab-tap-<pid>-<tag>`, deleted
//! by a guard however the test ends) and starts `netlab tap --netns` on
//! it, bounded by `--duration`; the kernel's end (`tap0`, 10.79.0.1/24) is
//! configured there and the clients run there with `ip netns exec`.
//! Nothing is addressed in the root namespace. Then SIGINT goes to the
//! netlab child by its PID, which must exit 0 with its summary; the capture
//! it wrote must pass tshark's checksum and expert checks. Every wait is
//! bounded; a guard kills the child (by PID) if a test fails first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use net_dev::netns::{self, NetnsGuard};

mod common;
use common::{fails_with, netlab};

const TOOLS: &[(&str, &str)] = &[("ip", "-V"), ("python3", "--version"), ("tshark", "--version")];
const LINNET: &str = "10.79.0.2";

/// `netlab tap`, killed by PID when dropped if it is still running.
struct Netlab(Option<Child>);

impl Netlab {
    fn pid(&self) -> u32 {
        self.0.as_ref().expect("child").id()
    }

    /// Send SIGINT (`kill -INT PID`) and collect its exit and output,
    /// waiting at most `limit` (then SIGKILL).
    fn interrupt(mut self, limit: Duration) -> Output {
        let pid = self.pid().to_string();
        let st = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
        assert!(st.success(), "kill -INT {pid}");
        let mut c = self.0.take().expect("child");
        let deadline = Instant::now() + limit;
        while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(c.try_wait(), Ok(None)) {
            let _ = c.kill();
        }
        c.wait_with_output().expect("collect netlab's output")
    }
}

impl Drop for Netlab {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A namespace, `netlab tap` serving into it, and the kernel's end set up.
struct Lab {
    netlab: Netlab,
    pcap: PathBuf,
    /// Dropped after `netlab` (field order): the namespace outlives the TAP.
    ns: NetnsGuard,
}

impl Lab {
    fn start(tag: &str, serve: &str, port: u16) -> Lab {
        let ns = NetnsGuard::create(&format!("netlab-tap-{}-{tag}", std::process::id()));
        ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        let pcap =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tap-{}-{tag}.pcap", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["tap", "--ifname", "tap0", "--addr", &format!("{LINNET}/24"), "--gateway", "10.79.0.1"])
            .args(["--netns", ns.name(), "--serve", serve, "--port", &port.to_string()])
            .arg("--pcap")
            .arg(&pcap)
            .args(["--duration", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn netlab tap");
        let mut netlab = Netlab(Some(child));
        // The TAP exists once netlab has opened it: wait (bounded).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ns.exec(&["ip", "link", "show", "tap0"]).status.success() {
            if let Some(st) = netlab.0.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let out = netlab.0.take().expect("child").wait_with_output().expect("output");
                panic!("netlab tap exited early ({st}): {}", String::from_utf8_lossy(&out.stderr));
            }
            assert!(Instant::now() < deadline, "tap0 never appeared in {}", ns.name());
            std::thread::sleep(Duration::from_millis(20));
        }
        ns.exec_ok(&["ip", "addr", "add", "10.79.0.1/24", "dev", "tap0"]);
        ns.exec_ok(&["ip", "link", "set", "tap0", "up"]);
        Lab { netlab, pcap, ns }
    }

    /// Run a python3 client in the namespace; its stdout, or a panic with
    /// what it printed.
    fn python(&self, script: &str, args: &[&str]) -> String {
        let mut argv = vec!["timeout", "30", "python3", "-c", script];
        argv.extend_from_slice(args);
        let out = self.ns.exec(&argv);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "python client failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// SIGINT, then check the clean exit, the summary and the capture.
    /// Returns netlab's stdout.
    fn stop(self, want_conns: u64) -> String {
        let Lab { netlab, pcap, ns } = self;
        let out = netlab.interrupt(Duration::from_secs(15));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("netlab stdout:\n{stdout}netlab stderr:\n{stderr}");
        assert_eq!(out.status.code(), Some(0), "netlab tap exits 0 after SIGINT: {stdout}{stderr}");
        assert!(stdout.contains("netlab tap: stopped by SIGINT"), "{stdout}");
        let fin =
            stdout.lines().find(|l| l.starts_with("netlab tap: final ")).expect("a final counters line");
        assert!(fin.contains(&format!("conns {want_conns} (0 open)")), "{fin}");
        assert!(stdout.contains(&format!("netlab tap: pcap {}", pcap.display())), "{stdout}");
        drop(ns);
        tshark_checks(&pcap);
        let _ = std::fs::remove_file(&pcap);
        stdout
    }
}

/// The capture reads back in tshark with every IPv4 and TCP checksum good
/// and no Error-severity expert item.
fn tshark_checks(pcap: &Path) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-z", "expert", "-q"])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "tshark -r {}: {}", pcap.display(), String::from_utf8_lossy(&out.stderr));
    let errors: Vec<&str> =
        text.lines().skip_while(|l| !l.starts_with("Errors")).take_while(|l| !l.trim().is_empty()).collect();
    assert!(errors.is_empty() && !text.contains("Bad checksum"), "{}: {text}", pcap.display());
    let n = Command::new("tshark").arg("-r").arg(pcap).args(["-Y", "tcp"]).output().expect("run tshark");
    assert!(String::from_utf8_lossy(&n.stdout).lines().count() >= 3, "the capture holds the TCP traffic");
}

fn skip() -> bool {
    netns::skip("netlab tap", TOOLS)
}

fn have_curl() -> bool {
    Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// python3: `n` sequential GETs of `/` (each must return the counters
/// page), then one of `/nope` (must be 404). Prints `ok N`.
const PY_HTTP: &str = r#"
import sys, urllib.request, urllib.error
base, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    body = urllib.request.urlopen(base + '/', timeout=10).read().decode()
    assert 'Hello from linnet' in body, body
try:
    urllib.request.urlopen(base + '/nope', timeout=10)
    raise SystemExit('no 404')
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
print('ok', n)
"#;

/// python3: one `GET /` from a given source address. Prints `STATUS from
/// SRC`.
const PY_HTTP_FROM: &str = r#"
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10, source_address=(sys.argv[3], 0))
c.request('GET', '/')
r = c.getresponse()
assert 'Hello from linnet' in r.read().decode()
print(r.status, 'from', sys.argv[3])
"#;

#[test]
fn http_serves_many_sequential_clients_and_404() {
    if skip() {
        return;
    }
    const N: usize = 20;
    let lab = Lab::start("http", "http", 8080);
    let base = format!("http://{LINNET}:8080");
    let mut conns = N as u64 + 1;
    if have_curl() {
        let out = lab.ns.exec(&["curl", "-sS", "-m", "10", &format!("{base}/")]);
        let page = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && page.contains("Hello from linnet"), "curl: {page}");
        assert!(page.contains("TcpPassiveOpens"), "the page shows linnet's counters: {page}");
        let out = lab.ns.exec(&[
            "curl",
            "-sS",
            "-m",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/x"),
        ]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
        conns += 2;
    }
    let out = lab.python(PY_HTTP, &[&base, &N.to_string()]);
    assert_eq!(out.trim(), format!("ok {N}"));
    // A client outside linnet's subnet (an address on the namespace's
    // loopback): the answer must go by --gateway, the kernel's end.
    lab.ns.exec_ok(&["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"]);
    let out = lab.python(PY_HTTP_FROM, &[LINNET, "8080", "192.0.2.1"]);
    assert_eq!(out.trim(), "200 from 192.0.2.1");
    conns += 1;
    let stdout = lab.stop(conns);
    assert!(stdout.contains(&format!("{conns} HTTP requests")), "{stdout}");
}

/// python3: `n` sequential connections each sending `size` bytes of a
/// pattern, half-closing, and reading the echo to the end of stream.
const PY_ECHO: &str = r#"
import socket, sys
host, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    data = bytes((j * 7 + i) % 251 for j in range(size))
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b''
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    assert got == data, (i, len(got), len(data))
print('ok', n)
"#;

/// python3: `n` echo connections at once (threads meeting at a barrier
/// once connected), each `size` bytes. Prints `ok N`.
const PY_ECHO_CONCURRENT: &str = r#"
import socket, sys, threading
host, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
barrier = threading.Barrier(n)
ok, errors, lock = [0], [], threading.Lock()
def one(i):
    try:
        s = socket.create_connection((host, port), timeout=10)
        barrier.wait(20)
        data = bytes((j * 13 + i) % 251 for j in range(size))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b''
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.close()
        assert got == data, (i, len(got))
        with lock:
            ok[0] += 1
    except Exception as e:
        with lock:
            errors.append(repr(e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join(30)
print(*errors[:5], sep='\n')
print('ok', ok[0])
"#;

#[test]
fn echo_returns_every_byte_sequentially_and_concurrently() {
    if skip() {
        return;
    }
    let lab = Lab::start("echo", "echo", 7);
    let out = lab.python(PY_ECHO, &[LINNET, "7", "5", "200000"]);
    assert_eq!(out.trim(), "ok 5");
    let out = lab.python(PY_ECHO_CONCURRENT, &[LINNET, "7", "10", "50000"]);
    assert_eq!(out.trim(), "ok 10", "{out}");
    let stdout = lab.stop(15);
    assert!(stdout.contains("bytes in 1500000 out 1500000"), "{stdout}");
}

/// python3: read 300 lines of chargen and check RFC 864's rotation.
const PY_CHARGEN: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
buf = b''
while buf.count(b'\r\n') < 300:
    d = s.recv(65536)
    assert d, 'chargen ended early'
    buf += d
s.close()
ring = bytes(range(32, 127))
for i, line in enumerate(buf.split(b'\r\n')[:300]):
    want = bytes(ring[(i + k) % 95] for k in range(72))
    assert line == want, (i, line, want)
print('ok 300')
"#;

#[test]
fn chargen_sends_rotating_lines_until_the_client_leaves() {
    if skip() {
        return;
    }
    let lab = Lab::start("chargen", "chargen", 19);
    let out = lab.python(PY_CHARGEN, &[LINNET, "19"]);
    assert_eq!(out.trim(), "ok 300");
    // The client closed: the server's thread must notice and end.
    lab.stop(1);
}

/// python3: send `size` bytes, half-close, expect the server's end of
/// stream and nothing else.
const PY_DISCARD: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b'x' * int(sys.argv[3]))
s.shutdown(socket.SHUT_WR)
assert s.recv(100) == b'', 'discard sent something'
s.close()
print('ok')
"#;

#[test]
fn discard_reads_and_answers_nothing() {
    if skip() {
        return;
    }
    let lab = Lab::start("discard", "discard", 9);
    assert_eq!(lab.python(PY_DISCARD, &[LINNET, "9", "300000"]).trim(), "ok");
    let stdout = lab.stop(1);
    assert!(stdout.contains("bytes in 300000 out 0"), "{stdout}");
}

// -- argument and environment errors ------------------------------------------------

/// These fail before any TAP is opened: they run anywhere.
#[test]
fn bad_arguments_get_one_line_and_exit_2() {
    let base = ["tap", "--ifname", "tap0"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { base.iter().chain(extra).copied().collect() };
    fails_with(&with(&["--serve", "http"]), "tap needs --addr A/PREFIX");
    fails_with(&["tap", "--addr", "10.79.0.2/24", "--serve", "http"], "tap needs --ifname");
    fails_with(&with(&["--addr", "10.79.0.2/24"]), "tap needs --serve");
    fails_with(&with(&["--addr", "10.79.0.2", "--serve", "http"]), "A/PREFIX");
    fails_with(&with(&["--addr", "10.79.0.256/24", "--serve", "http"]), "A/PREFIX");
    fails_with(&with(&["--addr", "10.79.0.2/24", "--serve", "gopher"]), "unknown --serve kind 'gopher'");
    fails_with(&with(&["--addr", "10.79.0.2/24", "--serve", "http", "--port", "99999"]), "--port needs");
    fails_with(
        &with(&["--addr", "10.79.0.2/24", "--serve", "http", "--gateway", "10.80.0.1"]),
        "not a neighbour",
    );
    fails_with(
        &with(&["--addr", "10.79.0.2/24", "--serve", "http", "--duration", "soon"]),
        "--duration needs",
    );
    fails_with(&with(&["--addr", "10.79.0.2/24", "--serve", "http", "--frob"]), "unknown option");
    fails_with(
        &with(&["--addr", "10.79.0.2/24", "--serve", "http", "--sysctl", "oops"]),
        "--sysctl needs NAME=VALUE",
    );
    fails_with(
        &with(&["--addr", "10.79.0.2/24", "--serve", "http", "--sysctl", "net.core.somaxconn=-5"]),
        "Invalid argument",
    );
}

/// A namespace that does not exist: say how to create it. Needs root to
/// get past the TAP (without it the error is the permission one, checked
/// next).
#[test]
fn missing_namespace_or_permission_says_what_to_do() {
    let ns = format!("netlab-no-such-ns-{}", std::process::id());
    let args = ["tap", "--ifname", "tap0", "--addr", "10.79.0.2/24", "--serve", "echo", "--netns", &ns];
    if netns::missing_prerequisite(&[]).is_none() {
        fails_with(
            &args,
            &format!("network namespace '{ns}' does not exist; create it first: ip netns add {ns}"),
        );
        // Without CAP_NET_ADMIN, as an unprivileged user (setpriv, when
        // there): the error says to run as root.
        let exe = env!("CARGO_BIN_EXE_netlab");
        let unpriv = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", exe])
            .args(["tap", "--ifname", "tap0", "--addr", "10.79.0.2/24", "--serve", "echo", "--duration", "1"])
            .output();
        match unpriv {
            Ok(out)
                if out.status.code() != Some(127)
                    && !String::from_utf8_lossy(&out.stderr).contains("setpriv:") =>
            {
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{err}");
                assert!(err.contains("permission denied; run as root"), "{err}");
                assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            }
            other => println!("setpriv unavailable or cannot run the binary as nobody: {other:?}"),
        }
    } else {
        // Not root: whichever comes first, permission or namespace, is one
        // line that says what to do.
        let (code, _, err) = netlab(&args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("run as root") || err.contains("ip netns add"), "{err}");
    }
}
