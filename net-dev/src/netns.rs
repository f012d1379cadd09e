//! Namespace plumbing for the root-only interop tests and the TAP bench:
//! the prerequisite check with its skip-or-fail rule, a guard that deletes
//! a network namespace however the caller ends, and a guard that kills a
//! child process by PID.
//!
//! No Linux twin: this drives iproute2's `ip netns add/exec/del` (which
//! bind-mount a namespace under `/run/netns` and `setns(2)` into it) as a
//! program, the way a person at a shell would. Test and lab plumbing only;
//! nothing in the stack uses it. No `unsafe`: entering a namespace from
//! this process is tun.rs's `open_in_netns`.
//!
//! Users: `tests/tap_interop.rs`, `tests/tap_tcp_interop.rs`,
//! `tests/pcap_live.rs` and `benches/benches/tap_throughput.rs`.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// True when running under CI (`CI=true`), where a missing privilege or
/// tool is a failure rather than a skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// What a caller needs from the machine besides its tools: it decides the
/// "not root" reason and whether `/dev/net/tun` must exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// A TAP device in a namespace: root and `/dev/net/tun`.
    Tap,
    /// A veth pair in a namespace and a live capture on it: root only.
    LiveCapture,
}

impl Needs {
    /// Why not being root stops this kind of caller.
    fn not_root(self) -> &'static str {
        match self {
            Needs::Tap => "not root (TAP and ip netns need CAP_NET_ADMIN)",
            Needs::LiveCapture => "not root (ip netns, veth and live capture need CAP_NET_ADMIN/CAP_NET_RAW)",
        }
    }
}

/// Why this machine cannot run a TAP test, if it cannot: not root, no
/// `/dev/net/tun`, or one of `tools` (each run with the given argument,
/// e.g. `("ip", "-V")`) missing or failing. [`missing_prerequisite_for`]
/// with [`Needs::Tap`].
pub fn missing_prerequisite(tools: &[(&str, &str)]) -> Option<String> {
    missing_prerequisite_for(Needs::Tap, tools)
}

/// Why this machine cannot give a caller what it `needs`, if it cannot:
/// not root (the effective UID from `/proc/self/status`), no
/// `/dev/net/tun` (for [`Needs::Tap`]), or one of `tools` (each run with
/// the given argument, e.g. `("ip", "-V")`) missing or failing.
pub fn missing_prerequisite_for(needs: Needs, tools: &[(&str, &str)]) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u32>().ok());
    if euid != Some(0) {
        return Some(needs.not_root().into());
    }
    if needs == Needs::Tap && !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun not found".into());
    }
    for &(tool, arg) in tools {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!("`{tool}` not found"));
        }
    }
    None
}

/// The skip-or-fail rule for a TAP test: [`skip_for`] with [`Needs::Tap`].
pub fn skip(test: &str, tools: &[(&str, &str)]) -> bool {
    skip_for(test, Needs::Tap, tools)
}

/// The skip-or-fail rule: returns true (after printing `skipped: <why>`)
/// when `test` cannot run here; panics with `<test> cannot run under CI:
/// <why>` instead under `CI=true`.
pub fn skip_for(test: &str, needs: Needs, tools: &[(&str, &str)]) -> bool {
    match missing_prerequisite_for(needs, tools) {
        None => false,
        Some(reason) if under_ci() => panic!("{test} cannot run under CI: {reason}"),
        Some(reason) => {
            println!("skipped: {reason}");
            true
        }
    }
}

/// A network namespace (`ip netns add NAME`) deleted when dropped, pass or
/// fail; with it go the devices inside (a TAP's kernel end, a veth pair).
#[derive(Debug)]
pub struct NetnsGuard(String);

impl NetnsGuard {
    /// The kernel inside the namespace pings `target` three times
    /// (`ping -c 3 -i 0.2 -W 1`) while `host_loop` drives linnet on another
    /// thread; `host_loop` gets a `stop` check to poll and must return once
    /// it says true (after ping ends, or 6 s). Panics, with ping's output,
    /// unless all three replies came. Returns ping's output.
    pub fn kernel_pings(
        &self,
        target: std::net::Ipv4Addr,
        host_loop: impl FnOnce(&dyn Fn() -> bool) + Send,
    ) -> String {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = AtomicBool::new(false);
        let out = std::thread::scope(|s| {
            let looper = s.spawn(|| host_loop(&|| stop.load(Ordering::Relaxed)));
            let child = self.spawn(&["ping", "-c", "3", "-i", "0.2", "-W", "1", &target.to_string()]);
            let out = child.finish(Duration::from_secs(6));
            stop.store(true, Ordering::Relaxed);
            looper.join().expect("host loop");
            out
        });
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "ping failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(" 3 received"), "expected 3 replies: {text}");
        text
    }

    /// Create the namespace `name`, first removing a leftover of the same
    /// name (an earlier run that had the same pid). Panics with `ip`'s
    /// stderr if `ip netns add` fails.
    pub fn create(name: &str) -> NetnsGuard {
        let _ = Command::new("ip").args(["netns", "del", name]).stderr(Stdio::null()).status();
        let out = Command::new("ip").args(["netns", "add", name]).output().expect("run ip netns add");
        assert!(out.status.success(), "ip netns add {name}: {}", String::from_utf8_lossy(&out.stderr));
        NetnsGuard(name.to_string())
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// `ip netns exec NS args…`, waited for.
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("ip").args(["netns", "exec", &self.0]).args(args).output().expect("run ip netns exec")
    }

    /// [`NetnsGuard::exec`], panicking with its stderr unless it succeeds.
    pub fn exec_ok(&self, args: &[&str]) {
        let out = self.exec(args);
        assert!(out.status.success(), "{args:?} in {}: {}", self.0, String::from_utf8_lossy(&out.stderr));
    }

    /// `ip netns exec NS args…` as a child process (stdout and stderr
    /// piped). `ip netns exec` execs the command, so the child's PID is the
    /// command's own.
    pub fn spawn(&self, args: &[&str]) -> ChildGuard {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ip netns exec");
        ChildGuard(Some(child))
    }

    /// This program (`current_exe`) run inside the namespace with `args`,
    /// as a child process: stdout piped, stderr inherited (so the child's
    /// complaints reach the terminal at once). The PID is the program's own,
    /// as for [`NetnsGuard::spawn`].
    pub fn spawn_self(&self, args: &[String]) -> ChildGuard {
        let exe = std::env::current_exe().expect("current_exe");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .arg(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ip netns exec");
        ChildGuard(Some(child))
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Kills (by PID) and reaps a child that is still running when dropped.
#[derive(Debug)]
pub struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// True once the child has exited.
    pub fn exited(&mut self) -> bool {
        self.0.as_mut().is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
    }

    /// The child's PID.
    pub fn pid(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// Wait for it to exit (at most `limit`, then kill it) and collect its
    /// output. A child whose output exceeds the pipe's buffer must not be
    /// waited for this way: keep child output short.
    pub fn finish(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        while !self.exited() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut c = self.0.take().expect("child");
        if matches!(c.try_wait(), Ok(None)) {
            let _ = c.kill();
        }
        c.wait_with_output().expect("collect child output")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
