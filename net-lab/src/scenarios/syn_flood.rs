//! A flood of spoofed SYNs at a listener, with SYN cookies on and off; a
//! legitimate client connects in the middle of it.

use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use net_core::Errno;
use net_core::if_ether::ETH_P_IP;
use net_core::skbuff::skb_from_frame;
use net_ipv4::eth::write_ethhdr;
use net_ipv4::fib::FibRoute;
use net_ipv4::ip::{IPPROTO_TCP, IpHdrBuilder};
use net_tcp::TcpSocket;
use net_tcp::af_inet::TcpNet;
use net_tcp::tcphdr::{TCPHDR_SYN, TcpHdr};

use super::lab::{A, B};
use super::tcplab::{PORT, TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The second article's reason for small request socks and SYN cookies. a
sends 3000 SYNs with spoofed sources (198.18.0.0/15, random ports and
ISNs), one every 50 us, at b listening with a backlog of 128; b routes its
answers to them via a, which drops them. In the middle of the flood a's
own client connects for real.

Run 1 (net.ipv4.tcp_syncookies = 1, the default): tcp_conn_request keeps
a request sock per SYN until inet_csk_reqsk_queue_is_full (qlen >
sk_max_ack_backlog: 129 of them), then tcp_syn_flood_action counts
TCPReqQFullDoCookies, logs \"Possible SYN flooding on port 0.0.0.0:80.
Sending cookies.\" once, and every further SYN gets a SYN-ACK whose ISN is
a cookie (cookie_v4_init_sequence, SyncookiesSent) and no state at all.
The request socks (the request_sock_TCP slab) never pass 129. The
legitimate client's SYN gets a cookie too; its ACK returns it,
cookie_v4_check rebuilds the request from it (SyncookiesRecv; with
timestamps the TSval carried window scale and SACK) and the connection is
made at once: accept(), a request and a reply.

Run 2 (net.ipv4.tcp_syncookies = 0): the same flood fills the queue and
every further SYN is dropped (TCPReqQFullDrop, ListenDrops), the
legitimate client's among them. Its SYN is retransmitted (1 s apart, the
first tcp_syn_linear_timeouts of them, then doubling); the spoofed requests
are never answered, and reqsk_timer_handler cuts their retries because the
queue is more than half full of old requests (its \"young\"/\"old\"
arithmetic, from 3.10's inet_csk_reqsk_queue_prune): from 5 to 2, so they
die at 7 s instead of 63 s, and the client's next SYN gets in. (The cut
holds only while the queue is more than half full: once 65 have died, the
other 64 are resent with the full budget.) The scenario sets
tcp_syncookies itself in each run; other --sysctl values apply to both.

Book: listen and the two queues → SYN cookies; request socks. Linux:
tcp_conn_request, inet_csk_reqsk_queue_is_full, tcp_syn_flood_action,
cookie_v4_init_sequence, cookie_v4_check, tcp_v4_cookie_check,
reqsk_timer_handler (net/ipv4/tcp_input.c, syncookies.c, tcp_ipv4.c,
inet_connection_sock.c).";

/// Spoofed SYNs per run.
pub const FLOOD_SYNS: usize = 3000;
/// Gap between two of them, ns.
pub const FLOOD_GAP_NS: u64 = 50_000;
/// The listener's backlog.
pub const BACKLOG: i32 = 128;

/// A deterministic source of spoofed addresses, ports and ISNs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One spoofed SYN (`mss 1460`, no other option), as a frame from a to b.
fn spoofed_syn(lab: &TcpLab, rng: &mut XorShift) -> Vec<u8> {
    let r = rng.next();
    let saddr = Ipv4Addr::new(198, 18 + (r & 1) as u8, (r >> 8) as u8, (r >> 16) as u8 | 1);
    let sport = 1024 + ((r >> 24) as u16 % 64000);
    let seq = (r >> 32) as u32;
    let mut tcp = vec![0u8; 24];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&PORT.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[12] = 6 << 4; // doff: 24 bytes
    tcp[13] = TCPHDR_SYN;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    tcp[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // mss 1460
    if let Some(mut th) = TcpHdr::new_checked(&mut tcp[..]) {
        th.fill_checksum(saddr, B);
    }
    let ip = IpHdrBuilder { protocol: IPPROTO_TCP, saddr, daddr: B, ..IpHdrBuilder::TEMPLATE }.datagram(&tcp);
    let mut frame = vec![0u8; 14 + ip.len()];
    write_ethhdr(&mut frame, &lab.db.dev_addr(), &lab.da.dev_addr(), ETH_P_IP);
    frame[14..].copy_from_slice(&ip);
    frame
}

fn errno_str(r: Result<usize, Errno>) -> String {
    r.map_or_else(|err| format!("-1 {err:?}"), |n| n.to_string())
}

fn run_once(opts: &RunOpts, cookies: bool) -> Result<Report, String> {
    let mut opts = opts.clone();
    opts.sysctls.retain(|(k, _)| k != "net.ipv4.tcp_syncookies");
    opts.sysctls.push(("net.ipv4.tcp_syncookies".into(), if cookies { "1" } else { "0" }.into()));
    let mut lab = TcpLab::new(&opts)?;
    let tn = lab.b.net_generic_arc::<TcpNet>().ok_or("b has no TCP")?;
    tn.ipv4
        .fib
        .fib_table_insert(FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(A), lab.db.ifindex))
        .map_err(|e| format!("ip route add default: {e}"))?;
    lab.say(format!("net.ipv4.tcp_syncookies = {}; b: ip route add default via {A}", u8::from(cookies)));
    let listener = TcpSocket::new(&lab.b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).map_err(e("bind"))?;
    listener.listen(BACKLOG).map_err(e("listen"))?;
    lab.say(format!("b: listen(fd, {BACKLOG}) on 0.0.0.0:{PORT}"));
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ opts.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let client = TcpSocket::new(&lab.a).map_err(e("socket"))?;
    client.set_nonblocking(true);
    let start = lab.sim.now_ns();
    let (mut max_qlen, mut max_slab) = (0u32, 0usize);
    lab.say(format!(
        "a: {FLOOD_SYNS} SYNs from spoofed 198.18.0.0/15 sources, one every {} us",
        FLOOD_GAP_NS / 1000
    ));
    for i in 0..FLOOD_SYNS {
        lab.sim.run_until(start + i as u64 * FLOOD_GAP_NS);
        let skb = skb_from_frame(lab.da.ifindex, &spoofed_syn(&lab, &mut rng));
        let _ = lab.a.dev_queue_xmit(skb);
        if i == FLOOD_SYNS / 2 {
            let r =
                client.connect(SocketAddrV4::new(B, PORT)).err().map_or("0".into(), |e| format!("-1 {e:?}"));
            lab.say(format!("a: mid-flood, the real client: connect({B}:{PORT}) = {r}"));
        }
        max_qlen = max_qlen.max(listener.listen_queues().map_or(0, |q| q.2));
        max_slab = max_slab.max(tn.reqsk_slab.active_objs());
    }
    let flood_end = lab.now_ms() + 1;
    lab.run_until_ms(flood_end);
    let (acceptq, backlog, reqs) = listener.listen_queues().unwrap_or_default();
    lab.say(format!(
        "flood over: request socks {reqs} (at most {max_qlen} during the flood; request_sock_TCP slab at most \
         {max_slab} objects), accept queue {acceptq}/{backlog}; the real client: {}",
        client.state().name()
    ));
    for l in tn.dmesg.lock().iter() {
        lab.say(format!("b: dmesg: {l}"));
    }
    // Wait for the real client, as its application would.
    let mut last = (client.state(), reqs);
    let deadline = lab.now_ms() + 20_000;
    let server = loop {
        let t = lab.now_ms() + 5;
        lab.run_until_ms(t);
        let reqs = listener.listen_queues().map_or(0, |q| q.2);
        if (client.state(), reqs) != last {
            lab.say(format!("the real client: {}; b: request socks {reqs}", client.state().name()));
        }
        last = (client.state(), reqs);
        match listener.accept() {
            Ok((s, peer)) => {
                lab.say(format!("b: accept() = {peer}"));
                break Some(s);
            }
            Err(Errno::EAGAIN) if t < deadline => {}
            Err(err) => {
                lab.say(format!("b: accept() = -1 {err:?}"));
                break None;
            }
        }
    };
    if let Some(server) = server {
        server.set_nonblocking(true);
        let r = client.send(b"GET / HTTP/1.0\r\n\r\n");
        lab.say(format!("a: send(18) = {}", errno_str(r)));
        let t = lab.now_ms() + 10;
        lab.run_until_ms(t);
        let mut buf = [0u8; 64];
        let n = errno_str(server.recv(&mut buf));
        let r = server.send(b"HTTP/1.0 200 OK\r\n\r\n");
        lab.say(format!("b: recv() = {n}; send(19) = {}", errno_str(r)));
        let t = lab.now_ms() + 10;
        lab.run_until_ms(t);
        lab.say(format!("a: recv() = {}", errno_str(client.recv(&mut buf))));
    }
    let mut trace = String::new();
    let full = lab.trace_text();
    let (mut flood_lines, mut shown) = (0usize, 0usize);
    for l in full.lines() {
        if l.contains(" 198.1") {
            flood_lines += 1;
            if shown < 4 {
                trace.push_str(l);
                trace.push('\n');
                shown += 1;
            } else if shown == 4 {
                trace.push_str("... (the flood and the answers to it; the real client's segments follow)\n");
                shown += 1;
            }
        } else if l.contains("IP ") {
            trace.push_str(l);
            trace.push('\n');
        }
    }
    let _ = writeln!(trace, "({flood_lines} lines to or from spoofed addresses in all)");
    let headline = if cookies {
        "with cookies, the request socks stop at backlog + 1 and the real client still connects at once"
    } else {
        "without cookies, the full queue drops every SYN until the spoofed requests time out"
    };
    Ok(lab.finish(headline.into(), Some(trace), Vec::new()))
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let r1 = run_once(opts, true)?;
    let r2 = run_once(opts, false)?;
    Ok(super::listen_overflow::combine(
        r1,
        r2,
        "net.ipv4.tcp_syncookies = 1",
        "net.ipv4.tcp_syncookies = 0",
        "a SYN flood: cookies keep the request socks bounded and let a real client in; without them it waits for the queue to drain",
    ))
}
