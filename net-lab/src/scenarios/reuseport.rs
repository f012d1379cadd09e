//! SO_REUSEPORT: four listeners on one port share the connections; one
//! closes and the others take its share.

use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use net_core::Errno;
use net_tcp::TcpSocket;
use net_tcp::af_inet::{SO_REUSEPORT, SOL_SOCKET};

use super::lab::B;
use super::tcplab::{PORT, TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Four sockets on b set SO_REUSEPORT, bind 0.0.0.0:80 and listen: the first
gets a reuseport group (reuseport_alloc), the others join it
(inet_reuseport_add_sock → reuseport_add_sock), so all four are in lhash2
on one port. 40 clients on a connect. Each SYN finds the group through
inet_lhash2_lookup, and inet_lookup_reuseport hands it to
socks[reciprocal_scale(hash, num_socks)], hash being inet_ehashfn of the
four-tuple: every client's connection lands on one listener's accept
queue, which `ss -lnt` shows as that listener's Recv-Q, and the shares are
roughly equal (the four-tuples differ only in the client port). Each
listener accepts its own.

Then listener 2 closes: inet_unhash → reuseport_detach_sock moves the last
member into its slot, and 40 more clients spread over the three left.
Nothing is lost: a closed listener's accept queue was empty, and Linux
would migrate pending requests only with tcp_migrate_req (which linnet
does not have).

Book: listen and the two queues → SO_REUSEPORT; net-tcp → the three hash
tables. Linux: reuseport_alloc, reuseport_add_sock, reuseport_detach_sock,
reuseport_select_sock, inet_lhash2_lookup, inet_lookup_reuseport,
inet_ehashfn (net/core/sock_reuseport.c, net/ipv4/inet_hashtables.c).";

/// Listeners in the group.
pub const LISTENERS: usize = 4;
/// Clients per round.
pub const CLIENTS: usize = 40;

/// `n` clients on a connect to b:80; returns them when the handshakes are done.
fn connect_round(lab: &mut TcpLab, n: usize) -> Result<Vec<TcpSocket>, String> {
    let mut cs = Vec::new();
    for _ in 0..n {
        let c = TcpSocket::new(&lab.a).map_err(e("socket"))?;
        c.set_nonblocking(true);
        let _ = c.connect(SocketAddrV4::new(B, PORT));
        cs.push(c);
    }
    let t = lab.now_ms() + 20;
    lab.run_until_ms(t);
    let est = cs.iter().filter(|c| c.state() == net_tcp::tcp_states::TcpState::Established).count();
    lab.say(format!("a: {n} clients connect(10.0.0.2:80); {est} ESTAB"));
    Ok(cs)
}

/// Each live listener accepts until EAGAIN; a line per listener with the
/// client ports it got. Keeps the children open.
fn accept_round(
    lab: &mut TcpLab,
    listeners: &[Option<TcpSocket>],
    keep: &mut Vec<TcpSocket>,
) -> Result<Vec<usize>, String> {
    let mut counts = Vec::new();
    for (i, l) in listeners.iter().enumerate() {
        let Some(l) = l else {
            counts.push(0);
            continue;
        };
        let mut ports = Vec::new();
        loop {
            match l.accept() {
                Ok((child, peer)) => {
                    ports.push(peer.port());
                    keep.push(child);
                }
                Err(Errno::EAGAIN) => break,
                Err(err) => return Err(format!("accept: {err}")),
            }
        }
        let mut line = format!("b: listener {} accept()ed {:>2}:", i + 1, ports.len());
        for p in &ports {
            let _ = write!(line, " {p}");
        }
        lab.say(line);
        counts.push(ports.len());
    }
    Ok(counts)
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    let mut listeners = Vec::new();
    for _ in 0..LISTENERS {
        let l = TcpSocket::new(&lab.b).map_err(e("socket"))?;
        l.set_nonblocking(true);
        l.setsockopt_int(SOL_SOCKET, SO_REUSEPORT, 1).map_err(e("setsockopt(SO_REUSEPORT)"))?;
        l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).map_err(e("bind"))?;
        l.listen(128).map_err(e("listen"))?;
        listeners.push(Some(l));
    }
    let group = listeners[0]
        .as_ref()
        .and_then(|l| net_tcp::sock_reuseport::sk_reuseport_cb(l.sock()))
        .map_or(0, |g| g.num_socks());
    lab.say(format!(
        "b: {LISTENERS} sockets: setsockopt(SO_REUSEPORT, 1), bind(0.0.0.0:{PORT}) = 0, listen(fd, 128) = 0; \
         one reuseport group of {group}"
    ));
    let socks: Vec<_> = listeners.iter().flatten().map(|l| l.sock().clone()).collect();
    let mut keep = Vec::new();
    keep.extend(connect_round(&mut lab, CLIENTS)?);
    lab.ss_lnt(&socks.iter().collect::<Vec<_>>());
    accept_round(&mut lab, &listeners, &mut keep)?;
    listeners[1] = None;
    let group = listeners[0]
        .as_ref()
        .and_then(|l| net_tcp::sock_reuseport::sk_reuseport_cb(l.sock()))
        .map_or(0, |g| g.num_socks());
    lab.say(format!("b: listener 2 close(); the group has {group}"));
    keep.extend(connect_round(&mut lab, CLIENTS)?);
    let socks: Vec<_> = listeners.iter().flatten().map(|l| l.sock().clone()).collect();
    lab.ss_lnt(&socks.iter().collect::<Vec<_>>());
    accept_round(&mut lab, &listeners, &mut keep)?;
    // The trace is 80 handshakes: show the first and count the rest.
    let full = lab.trace_text();
    let tcp: Vec<&str> = full.lines().filter(|l| l.contains(" IP ")).collect();
    let mut trace: String = tcp.iter().take(3).map(|l| format!("{l}\n")).collect();
    let _ = writeln!(
        trace,
        "... ({} more segments: {} handshakes in all)",
        tcp.len().saturating_sub(3),
        2 * CLIENTS
    );
    Ok(lab.finish(
        "one port, four listeners: the 4-tuple hash spreads the clients; when one closes the rest take its share"
            .into(),
        Some(trace),
        Vec::new(),
    ))
}
