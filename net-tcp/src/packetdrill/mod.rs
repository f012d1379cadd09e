//! A packetdrill-syntax script runner: one linnet host in virtual time
//! against a script's remote side.
//!
//! No Linux twin: this mirrors Google's packetdrill
//! (<https://github.com/google/packetdrill>, `gtests/net/packetdrill`),
//! the tool Linux's own TCP tests (`gtests/net/tcp/*.pkt`) are written
//! for, so a linnet test reads like a kernel one. packetdrill drives a real
//! kernel through a TUN device in real time; we drive one linnet [`Net`]
//! on a virtual clock, so a script runs in microseconds and every timer
//! fires exactly at its jiffy.
//!
//! [`Net`]: net_core::Net
//!
//! # The host
//!
//! `192.168.0.1/24` on `eth0` (MAC `02:00:00:00:00:01`), a default route
//! via `192.168.0.2` with a permanent neighbour entry (so ARP never gets in
//! the way), MTU 1500, [`crate::inet_init`]. The script's remote side is
//! `192.0.2.1` — packetdrill's defaults. Script time 0 is 1 s on the
//! host's clock.
//!
//! # The accepted syntax
//!
//! Comments are `//` to the end of the line and `/* ... */`. Before the
//! first event, option lines `--tolerance_usecs=N` (default 4000, as
//! packetdrill's) and `--ip_version=ipv4`; a comment whose text is
//! `--tolerance_usecs=N` sets the tolerance too.
//!
//! Every event starts with a time:
//!
//! | time | meaning |
//! |---|---|
//! | `1.5` | 1.5 s after the script's start |
//! | `+0.1` | 0.1 s after the previous event (the time an outbound packet actually left) |
//! | `*` | any time (outbound packets only) |
//! | `1~1.2`, `+0~+0.2` | a range (outbound packets only) |
//! | `+0...0.2` | on a system call: it blocks and returns at +0.2 (same anchor as its start); on an outbound packet (our extension): the range `+0~+0.2` |
//!
//! Segments: `<` is injected into the host, `>` is what the host must send:
//!
//! ```text
//! +0 < S 0:0(0) win 65535 <mss 1460,sackOK,nop,nop,nop,wscale 7>
//! +0 > S. 0:0(0) ack 1 win 64240 <mss 1460>
//! +0 < 40000>8080 . 1:1001(1000) ack 1 win 65535
//! ```
//!
//! - flags: letters `F S R P U E W`, a trailing `.` for ACK; `.` alone is
//!   a bare ACK, `-` no flags;
//! - `start:end(len)`, with `end = start + len`; `ack N`, `win N`,
//!   `urg N`; optional `SRC>DST` ports in wire order;
//! - options `<mss N, wscale N, sackOK, sack A:B ..., TS val N ecr M, nop,
//!   eol>` in the script's order; `<...>` on an outbound segment means
//!   "don't check". An outbound segment without options must carry none;
//!   `win` and `ack` are checked only when given; `TS val` of an outbound
//!   segment is not checked (it is the host's clock), but the first one
//!   the script writes anchors the script's timestamp clock to the
//!   host's: a nonzero `ecr` of an injected segment is taken in the
//!   script's clock (`ecr 100` echoes what the host stamped 100 ms after
//!   that first segment), so a script can echo a given transmission.
//! - Sequence numbers are relative: the remote side's as written (its
//!   ISN is whatever the script's first `<` SYN says, usually 0), the
//!   host's relative to its first SYN or SYN-ACK (the `>` line's start
//!   sequence number is the host's script ISN). `ack` of an injected
//!   segment and SACK blocks are mapped through the host's ISN.
//! - Injected segments need `win N`; their payload is filler bytes.
//!   Ports: the remote side is `192.0.2.1:40000` unless `connect()` named
//!   a port (then 8080, packetdrill's `--connect_port`); the host's port
//!   is the bound one (8080) or, for an active open, learnt from its SYN.
//!   One connection per script unless ports are named: then the host's
//!   sequence numbers of each connection are relative to that
//!   connection's first SYN-ACK, found by the remote port. A SYN
//!   without ACK injected on a connection whose host ISN is known starts
//!   a new incarnation of the 4-tuple (packetdrill starts a new socket):
//!   the host's next SYN or SYN-ACK there re-anchors its ISN.
//!
//! System calls (`= N`, `= -1 ERRNO`, `= ...` for don't care; a trailing
//! strace note `(Connection refused)` is ignored):
//!
//! ```text
//! socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//! bind(3, ..., ...) = 0                     // 192.168.0.1:8080, or a {sa_family=AF_INET, sin_port=htons(P), sin_addr=inet_addr("A")}
//! listen(3, 1) = 0
//! accept(3, ..., ...) = 4
//! connect(3, ..., ...) = -1 EINPROGRESS     // 192.0.2.1:8080, or a sockaddr as for bind
//! write(4, ..., 1000) = 1000                send(4, ..., 1000, 0) = 1000
//! read(4, ..., 1000) = 1000                 recv(4, ..., 1000, MSG_PEEK) = 1000
//! shutdown(4, SHUT_WR) = 0                  close(4) = 0
//! fcntl(3, F_GETFL) = O_RDWR                fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
//! setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
//! setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
//! getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
//! poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1
//! ```
//!
//! Options: `SO_REUSEADDR`, `SO_REUSEPORT`, `SO_RCVBUF`, `SO_SNDBUF`,
//! `SO_ERROR`, `SO_KEEPALIVE`, `SO_LINGER`, `TCP_NODELAY`, `TCP_CORK`,
//! `TCP_MAXSEG`, `TCP_SYNCNT`, `TCP_USER_TIMEOUT`, `TCP_KEEPIDLE`,
//! `TCP_KEEPINTVL`, `TCP_KEEPCNT`, `TCP_LINGER2`; symbols are Linux's
//! values.
//!
//! Sysctls, as real packetdrill scripts set them, in backticks:
//!
//! ```text
//! 0  `sysctl -q net.ipv4.tcp_timestamps=0`
//! +0 `sysctl -w net.ipv4.tcp_sack=0; sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"`
//! ```
//!
//! Each `name=value` is written into the host namespace's table
//! (`net.sysctl.set(name, value)`, as `sysctl(8)` writes `/proc/sys`) at
//! the event's time; an unknown name or a value out of range fails the
//! script with sysctl's message. Several `sysctl` commands may be joined
//! with `;`, `&&` or new lines; `-q` and `-w` are accepted and mean
//! nothing more here; values may be quoted. packetdrill runs the text with
//! `/bin/sh`; we run no shell, so any other command in backticks (another
//! program, reading a sysctl, redirections, `$` expansions) is a script
//! error naming the line.
//!
//! Rejected, with the script and line named: backtick commands other than
//! sysctl writes, `%{ }%` Python blocks, UDP/ICMP/IPv6 packets, IP-level fields
//! (`[ect0]`, `(tos ...)`), fuzzing, other options and system calls, and
//! anything else the parser does not recognise.
//!
//! # How a script runs
//!
//! Events run in script order. Before an injected segment or a system
//! call at time *T*, the host runs until *T*: the runner polls it
//! (`net.poll()`), jumps the clock to its next event
//! ([`Net::next_event_ns`], so timers fire exactly at their jiffy), and
//! queues every frame it sends with the time it left. At equal times the
//! host's timers run before the script's event. An outbound event takes
//! the oldest queued frame (running the host until one leaves, or until
//! the expected time plus the tolerance) and checks it field by field and
//! its time against `[expected − tolerance, expected + tolerance]`.
//! Frames are matched in the order they left, so a segment nobody expected
//! fails the next `>` line (or the end of the script). ARP frames are
//! ignored.
//!
//! Blocking calls. The real sockets are always non-blocking; the runner
//! emulates blocking deterministically instead of parking a thread (a
//! thread blocked on a [`WaitQueue`] on a virtual clock re-checks every
//! real millisecond, so what it sees would depend on the machine's
//! speed). A call on a blocking fd (the script's view, set by `fcntl`)
//! that would block — `accept` with an empty queue, `connect`, `read`
//! with no data, `write` into a full buffer, `poll` with a timeout — must
//! carry an end time (`+0...1.5 accept(...)`), as in packetdrill, where
//! only such calls run in the syscall thread. It then stays pending and
//! is retried after every step of the host (each poll, injection and
//! timer); when it completes, its time must be within the tolerance of the
//! end time and its result must match. One call may be pending at a time.
//! A pending `connect` is retried as Linux user space would retry a
//! non-blocking one: `EALREADY` means still waiting, `0`/`EISCONN`
//! success, anything else the error. `close` with `SO_LINGER` on and a
//! positive time blocks, on a non-blocking fd too (as Linux's
//! `inet_release()` does), until the FIN is acknowledged or the linger
//! time passes ([`crate::TcpSocket::close_start`]).
//!
//! The end of a script. packetdrill stops at the last event; we let the
//! host run one tolerance longer, so an immediate answer to the last event
//! (an ACK, a RST) is caught, then fail if a frame is left unmatched or a
//! call is still blocked. Later, timer-driven segments (a delayed ACK, a
//! retransmission) are not checked unless the script waits for them.
//!
//! [`Net::next_event_ns`]: net_core::Net::next_event_ns
//! [`WaitQueue`]: net_core::wait::WaitQueue

mod parse;
mod run;

use std::path::Path;

pub use parse::{
    DEFAULT_TOLERANCE_USECS, Direction, Event, EventKind, EventTime, Expr, PacketSpec, Script, ScriptError,
    SyscallSpec, SysctlWrite, TcpOpt, parse_script, parse_sysctl_commands,
};
pub use run::{GATEWAY_IP, LOCAL_IP, REMOTE_IP, REMOTE_PORT, SCRIPT_PORT, START_NS};

/// Parse and run a script's text; `name` labels errors (`name:line: ...`).
pub fn run_script(name: &str, src: &str) -> Result<(), String> {
    let script = parse_script(src).map_err(|e| format!("{name}:{}: {}", e.line, e.msg))?;
    run::Runner::new(name, &script)?.run()
}

/// Parse and run the script at `path`.
pub fn run_script_file(path: &Path) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    run_script(&path.display().to_string(), &src)
}
