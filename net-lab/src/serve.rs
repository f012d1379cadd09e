//! The small TCP services `netlab tap --serve` offers, written against
//! linnet's socket calls ([`TcpSocket`]) the way an inetd of old ran them:
//! echo (RFC 862), discard (RFC 863), chargen (RFC 864) and a minimal
//! HTTP/1.1 server (RFC 9112: `GET /` answers a page of linnet's counters,
//! anything else 404, `Connection: close`).
//!
//! No Linux twin: these are user programs. Each connection runs on a
//! thread of its own making blocking calls with `SO_RCVTIMEO` /
//! `SO_SNDTIMEO` of [`TICK`], so every loop looks at the stop flag at least
//! that often; the host loop that moves the packets runs on another thread
//! (see `tap.rs`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use net_core::snmp::{MibSnapshot, TcpMib};
use net_core::{Errno, Net};
use net_tcp::TcpSocket;
use net_tcp::af_inet::{MSG_DONTWAIT, SO_RCVTIMEO, SO_SNDTIMEO, SOL_SOCKET};

/// How long a blocking call waits before the service looks at the stop
/// flag again.
pub const TICK: Duration = Duration::from_millis(200);

/// Longest HTTP request head we read (request line and headers).
const HTTP_MAX_HEAD: usize = 8192;
/// How long an HTTP client may take to send its request head.
const HTTP_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A service `netlab tap` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// RFC 862: send back what arrives.
    Echo,
    /// RFC 863: read and throw away.
    Discard,
    /// RFC 864: send 72-character lines until the client goes away.
    Chargen,
    /// HTTP/1.1: `GET /` gets a page of counters, other paths 404.
    Http,
}

impl Service {
    /// The service named on the command line.
    pub fn parse(s: &str) -> Option<Service> {
        match s {
            "echo" => Some(Service::Echo),
            "discard" => Some(Service::Discard),
            "chargen" => Some(Service::Chargen),
            "http" => Some(Service::Http),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Discard => "discard",
            Service::Chargen => "chargen",
            Service::Http => "http",
        }
    }

    /// Its well-known port (/etc/services).
    pub fn default_port(self) -> u16 {
        match self {
            Service::Echo => 7,
            Service::Discard => 9,
            Service::Chargen => 19,
            Service::Http => 80,
        }
    }
}

/// What the services counted, shared by every connection thread.
#[derive(Debug, Default)]
pub struct ServeStats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections now being served.
    pub open: AtomicU64,
    /// Connections closed at once because too many were open.
    pub refused: AtomicU64,
    /// Bytes read from clients.
    pub bytes_in: AtomicU64,
    /// Bytes sent to clients.
    pub bytes_out: AtomicU64,
    /// HTTP requests answered (any status).
    pub requests: AtomicU64,
}

/// What a connection thread needs besides its socket.
#[derive(Clone)]
pub struct ServeCtx {
    /// The host, for the counters page.
    pub net: Arc<Net>,
    /// The counters when the server started.
    pub start_mib: Arc<MibSnapshot>,
    /// When the server started.
    pub started: Instant,
    /// The services' own counters.
    pub stats: Arc<ServeStats>,
    /// Set when the server shuts down.
    pub stop: Arc<AtomicBool>,
}

impl ServeCtx {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// `SO_RCVTIMEO` and `SO_SNDTIMEO` of `t` (a `struct timeval`).
pub fn set_timeouts(s: &TcpSocket, t: Duration) -> Result<(), Errno> {
    let mut tv = [0u8; 16];
    tv[..8].copy_from_slice(&(t.as_secs() as i64).to_ne_bytes());
    tv[8..].copy_from_slice(&i64::from(t.subsec_micros()).to_ne_bytes());
    s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, &tv)?;
    s.setsockopt(SOL_SOCKET, SO_SNDTIMEO, &tv)
}

/// Serve one accepted connection until the client is done, an error, or
/// the stop flag; then close it (drop).
pub fn serve(service: Service, c: TcpSocket, ctx: &ServeCtx) {
    if set_timeouts(&c, TICK).is_err() {
        return;
    }
    let _ = match service {
        Service::Echo => echo(&c, ctx),
        Service::Discard => discard(&c, ctx),
        Service::Chargen => chargen(&c, ctx),
        Service::Http => http(&c, ctx),
    };
}

/// Read what is there (at most `buf.len()`): `Ok(Some(0))` at end of
/// stream, `Ok(None)` after a quiet [`TICK`], `Err` on a connection error.
fn recv_some(c: &TcpSocket, buf: &mut [u8], ctx: &ServeCtx) -> Result<Option<usize>, Errno> {
    match c.recv(buf) {
        Ok(n) => {
            ctx.stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            Ok(Some(n))
        }
        Err(Errno::EAGAIN) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Send all of `data`, waiting for buffer space a [`TICK`] at a time
/// until the stop flag.
fn send_all(c: &TcpSocket, mut data: &[u8], ctx: &ServeCtx) -> Result<(), Errno> {
    while !data.is_empty() {
        match c.send(data) {
            Ok(n) => {
                ctx.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                data = &data[n..];
            }
            Err(Errno::EAGAIN) if !ctx.stopping() => {}
            Err(e) => return Err(e),
        }
        if ctx.stopping() && !data.is_empty() {
            return Err(Errno::EINTR);
        }
    }
    Ok(())
}

/// RFC 862: "Once a connection is established any data received is sent
/// back. This continues until the calling user terminates the connection."
fn echo(c: &TcpSocket, ctx: &ServeCtx) -> Result<(), Errno> {
    let mut buf = vec![0u8; 16 * 1024];
    while !ctx.stopping() {
        match recv_some(c, &mut buf, ctx)? {
            Some(0) => break,
            Some(n) => send_all(c, &buf[..n], ctx)?,
            None => {}
        }
    }
    Ok(())
}

/// RFC 863: "Once a connection is established any data received is thrown
/// away. No response is sent."
fn discard(c: &TcpSocket, ctx: &ServeCtx) -> Result<(), Errno> {
    let mut buf = vec![0u8; 16 * 1024];
    while !ctx.stopping() {
        if recv_some(c, &mut buf, ctx)? == Some(0) {
            break;
        }
    }
    Ok(())
}

/// RFC 864's pattern: line `i` is the 72 characters of the 95 printable
/// ASCII characters (`' '` to `'~'`) starting at offset `i mod 95`,
/// wrapping, then CR LF. 95 lines make one full turn.
pub fn chargen_block() -> Vec<u8> {
    let mut out = Vec::with_capacity(95 * 74);
    for line in 0..95u8 {
        for k in 0..72u8 {
            out.push(b' ' + (line + k) % 95);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// RFC 864: "Once a connection is established a stream of data is sent
/// out the connection (and any data received is thrown away). This
/// continues until the calling user terminates the connection." We stop
/// when the client's end of stream arrives or the connection fails.
fn chargen(c: &TcpSocket, ctx: &ServeCtx) -> Result<(), Errno> {
    let block = chargen_block();
    let mut at = 0;
    let mut sink = [0u8; 4096];
    while !ctx.stopping() {
        // Throw away what the client sends; its end of stream ends us.
        match c.recv_flags(&mut sink, MSG_DONTWAIT) {
            Ok(0) => break,
            Ok(n) => {
                ctx.stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(e),
        }
        match c.send(&block[at..]) {
            Ok(n) => {
                ctx.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                at = (at + n) % block.len();
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A minimal HTTP/1.1 server (RFC 9112): read the request head, answer
/// `GET /` (or `HEAD /`) with the counters page, other paths 404, other
/// methods 405, a malformed request 400; always `Connection: close`.
fn http(c: &TcpSocket, ctx: &ServeCtx) -> Result<(), Errno> {
    let deadline = Instant::now() + HTTP_HEAD_TIMEOUT;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let complete = loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if head.len() > HTTP_MAX_HEAD || ctx.stopping() || Instant::now() > deadline {
            break false;
        }
        match recv_some(c, &mut buf, ctx)? {
            Some(0) => break false,
            Some(n) => head.extend_from_slice(&buf[..n]),
            None => {}
        }
    };
    if !complete && head.is_empty() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (method, path, version) = (parts.next(), parts.next(), parts.next());
    let (status, body) = match (method, path, version) {
        _ if !complete => ("400 Bad Request", "request head too long or cut short\n".to_string()),
        (Some(m), Some(p), Some(v)) if v.starts_with("HTTP/1.") => match (m, p) {
            ("GET" | "HEAD", "/" | "/index.html") => ("200 OK", counters_page(ctx)),
            ("GET" | "HEAD", _) => ("404 Not Found", format!("404: no page {p} here; try /\n")),
            _ => ("405 Method Not Allowed", "only GET and HEAD\n".to_string()),
        },
        _ => ("400 Bad Request", "malformed request line\n".to_string()),
    };
    let ctype =
        if status.starts_with("200") { "text/html; charset=utf-8" } else { "text/plain; charset=utf-8" };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nServer: linnet-netlab\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != Some("HEAD") {
        resp.extend_from_slice(body.as_bytes());
    }
    ctx.stats.requests.fetch_add(1, Ordering::Relaxed);
    send_all(c, &resp, ctx)?;
    // Half-close, then read until the client closes too (bounded), so
    // the close is a FIN rather than a RST over unread bytes.
    let _ = c.shutdown(net_tcp::af_inet::Shutdown::Write);
    let linger = Instant::now() + Duration::from_secs(2);
    while !ctx.stopping() && Instant::now() < linger {
        if recv_some(c, &mut buf, ctx)? == Some(0) {
            break;
        }
    }
    Ok(())
}

/// The page `GET /` answers: the server's counters and the host's TCP
/// counters since it started, as nstat names them.
fn counters_page(ctx: &ServeCtx) -> String {
    let s = &ctx.stats;
    let mib = ctx.net.mib.snapshot();
    let mut p = String::from(
        "<!DOCTYPE html>\n<html><head><title>linnet</title></head><body>\n\
         <h1>Hello from linnet</h1>\n\
         <p>This page was served by linnet, the Linux 6.18 IPv4/TCP stack retold in Rust, \
         on a TAP device.</p>\n<pre>\n",
    );
    let _ = writeln!(p, "uptime            {:.1} s", ctx.started.elapsed().as_secs_f64());
    let _ = writeln!(p, "connections       {}", s.accepted.load(Ordering::Relaxed));
    let _ = writeln!(p, "requests          {}", s.requests.load(Ordering::Relaxed) + 1);
    let _ = writeln!(p, "TcpCurrEstab      {}", mib.get(TcpMib::CurrEstab));
    for (name, v) in mib.nstat_diff_entries(&ctx.start_mib) {
        let _ = writeln!(p, "{name:<32}{v}");
    }
    p.push_str("</pre>\n</body></html>\n");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chargen_lines_follow_rfc_864() {
        let b = chargen_block();
        assert_eq!(b.len(), 95 * 74);
        let lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
        // Line 0 starts at the space, as BSD inetd's ring does; line 1 is
        // the first line of RFC 864's sample.
        assert_eq!(&lines[0][..3], b" !\"");
        assert_eq!(
            lines[1],
            &b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r"[..]
        );
        assert_eq!(&lines[1][..3], b"!\"#");
        assert_eq!(lines[94][0], b'~');
        assert!(lines[..95].iter().all(|l| l.len() == 73));
    }

    #[test]
    fn services_by_name() {
        for s in [Service::Echo, Service::Discard, Service::Chargen, Service::Http] {
            assert_eq!(Service::parse(s.name()), Some(s));
        }
        assert_eq!(Service::parse("gopher"), None);
        assert_eq!(Service::Http.default_port(), 80);
    }
}
