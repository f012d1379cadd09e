//! Orphans over `tcp_max_orphans`: a closes connections whose peer has
//! vanished; the orphans are counted, bounded, reset, and given up on.

use std::net::SocketAddrV4;

use net_core::Errno;
use net_tcp::TcpSocket;
use net_tcp::af_inet::TcpNet;

use super::lab::B;
use super::tcplab::{PORT, TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The third article's orphans. a opens 8 connections to b; then b's link
goes down, and a's application closes them one by one, 50 ms apart. Each
close() sends a FIN that nobody will ACK and leaves an orphan: a socket in
FIN_WAIT1 that no file descriptor refers to any more (SOCK_DEAD), counted
in tcp_orphan_count.

The scenario sets net.ipv4.tcp_max_orphans = 3 and tcp_orphan_retries = 2
on both hosts (unless you pass your own --sysctl values), so the story
fits in seconds. __tcp_close checks the orphans (tcp_check_oom) after
sending the FIN; so does tcp_out_of_resources, from the retransmission
timer, before retransmitting an orphan's FIN. Both read tcp_orphan_cache,
the count as a 100 ms timer last summed it (tcp_orphan_update), not the
count itself: closes within one period all see the old figure, so the
count overshoots the limit. Once the cache is over it, every close()
resets its connection (RST after the FIN) and every orphan whose timer
fires is reset instead of retransmitting — TcpExtTCPAbortOnMemory for
each, and \"TCP: too many orphaned sockets\" in the kernel log (rate-
limited). The orphans the cache let live send their FIN again as a tail
loss probe, then retransmit it with the RTO doubling until
tcp_orphan_retries' time budget (2: 200 ms × (2^3 - 1) = 1.4 s, counted
from the first retransmission, which the probe is not) is spent — with the
202 ms RTO of this link, after three retransmissions; they die without a RST
(TcpExtTCPAbortOnTimeout). Linux's default tcp_orphan_retries, 0, means 8
(102.2 s), and tcp_max_orphans is set at boot to half the established hash
(131072 on a 24 GiB machine).

Book: net-tcp → closing → orphans. Linux: __tcp_close, tcp_orphan_update,
tcp_too_many_orphans, tcp_check_oom (net/ipv4/tcp.c), tcp_out_of_resources,
tcp_orphan_retries, tcp_write_timeout (net/ipv4/tcp_timer.c).";

/// Connections a opens and closes.
pub const CONNECTIONS: usize = 8;
/// Time between two closes.
pub const CLOSE_GAP_MS: u64 = 50;

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut opts = opts.clone();
    for (k, v) in [("net.ipv4.tcp_max_orphans", "3"), ("net.ipv4.tcp_orphan_retries", "2")] {
        if !opts.sysctls.iter().any(|(n, _)| n == k) {
            opts.sysctls.push((k.into(), v.into()));
        }
    }
    let mut lab = TcpLab::new(&opts)?;
    let tn = lab.a.net_generic_arc::<TcpNet>().ok_or("a has no TCP")?;
    let get = |name: &str| lab.a.sysctl.lookup(name).map_or("?".into(), |s| s.get().to_string());
    let line = format!(
        "a: net.ipv4.tcp_max_orphans = {}, net.ipv4.tcp_orphan_retries = {}",
        get("net.ipv4.tcp_max_orphans"),
        get("net.ipv4.tcp_orphan_retries")
    );
    lab.say(line);
    let (first, first_server, listener) = lab.connect()?;
    let mut clients = vec![first];
    let mut servers = vec![first_server];
    while clients.len() < CONNECTIONS {
        let c = TcpSocket::new(&lab.a).map_err(e("socket"))?;
        c.set_nonblocking(true);
        match c.connect(SocketAddrV4::new(B, PORT)) {
            Err(Errno::EINPROGRESS) => {}
            r => return Err(format!("connect: {r:?}")),
        }
        let t = lab.now_ms() + 5;
        lab.run_until_ms(t);
        let (s, _) = listener.accept().map_err(e("accept"))?;
        clients.push(c);
        servers.push(s);
    }
    lab.say(format!("a: {CONNECTIONS} connections established; b's link goes down"));
    lab.db.close();
    let mut peak = 0;
    for (i, c) in clients.into_iter().enumerate() {
        let port = c.local_addr().port();
        drop(c);
        let now = lab.a.jiffies();
        let (count, cache) =
            (tn.tcp_orphan_count.tcp_orphan_count_sum(), tn.tcp_orphan_count.tcp_orphan_cache(now));
        peak = peak.max(count);
        lab.say(format!("a: close(#{} :{port}); orphans now {count}, tcp_orphan_cache {cache}", i + 1));
        let t = lab.now_ms() + CLOSE_GAP_MS;
        lab.run_until_ms(t);
    }
    let mut t = lab.now_ms();
    let mut last = tn.tcp_orphan_count.tcp_orphan_count_sum();
    while last > 0 && t < 10_000 {
        t += 10;
        lab.run_until_ms(t);
        let n = tn.tcp_orphan_count.tcp_orphan_count_sum();
        if n != last {
            lab.say(format!("a: orphans now {n}"));
            last = n;
        }
    }
    let dmesg: Vec<String> = tn.dmesg.lock().clone();
    let mut lines: Vec<(usize, String)> = Vec::new();
    for l in dmesg {
        match lines.last_mut() {
            Some((n, last)) if *last == l => *n += 1,
            _ => lines.push((1, l)),
        }
    }
    for (n, l) in lines {
        lab.say(format!("a: dmesg | uniq -c: {n:>3} {l}"));
    }
    let memory = lab.a.mib.get(net_core::snmp::LinuxMib::TCPAbortOnMemory);
    let timeout = lab.a.mib.get(net_core::snmp::LinuxMib::TCPAbortOnTimeout);
    drop(servers);
    Ok(lab.finish(
        format!(
            "{CONNECTIONS} orphans against tcp_max_orphans 3: peak {peak} (the cache lags 100 ms), \
             {memory} reset for memory, {timeout} gave up after tcp_orphan_retries"
        ),
        None,
        Vec::new(),
    ))
}
