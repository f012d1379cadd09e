//! What the integration tests on linnet hosts share: a host on a
//! [`ScriptDev`] the test drives itself, the process's memory figures
//! from /proc, and a lock that runs a file's tests one at a time.
//!
//! Each test binary that says `mod common;` compiles its own copy, so
//! what one of them does not use is not dead code there.
#![allow(dead_code)]

pub mod flood;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};

use net_core::netdevice::MacAddr;
use net_core::{Clock, Net};
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::{ETH_IPV4_L4_OFFSET, ScriptDev, ScriptLinkRef};
use net_tcp::af_inet::TcpNet;
use net_tcp::inet_init;

/// One linnet host `name` on `clock`: IPv4 and TCP (`inet_init()`), a
/// [`ScriptDev`] with `mac`, `ip`/24 on it (the /24 route comes with the
/// address), and every other entry of `neighbours` as a permanent
/// neighbour, so ARP stays out of the way. Returns the host, its TCP
/// state, its link and the device's ifindex.
pub fn host(
    clock: &Clock,
    name: &str,
    seed: u64,
    mac: MacAddr,
    ip: Ipv4Addr,
    neighbours: &[(Ipv4Addr, MacAddr)],
) -> (Arc<Net>, Arc<TcpNet>, ScriptLinkRef, u32) {
    let net = Net::new(name, clock.clone(), seed);
    let tn = inet_init(&net);
    let (dev, link) = ScriptDev::new(clock, mac);
    let dev = net.register_netdev(Box::new(dev)).expect("eth0");
    dev.open().expect("up");
    net_ipv4::devinet::inet_addr_add(&net, &tn.ipv4, dev.ifindex, ip, 24).expect("address");
    for &(addr, hw) in neighbours {
        if addr != ip {
            tn.ipv4.arp_tbl.neigh_add(&net, dev.ifindex, addr, hw, NudState::Permanent).expect("neighbour");
        }
    }
    (net, tn, link, dev.ifindex)
}

/// Carry frames between a server's and a client's [`ScriptDev`] links:
/// every IPv4 frame the client sent goes to the server; every IPv4 frame
/// the server sent goes to the client if `deliver` says so, and is dropped
/// otherwise (`deliver` may count it). ARP and the like are dropped.
/// Returns how many frames moved.
pub fn shuttle(
    slink: &ScriptLinkRef,
    clink: &ScriptLinkRef,
    mut deliver: impl FnMut(&[u8]) -> bool,
) -> usize {
    let from_server = std::mem::take(&mut slink.lock().expect("server link").tx);
    let from_client = std::mem::take(&mut clink.lock().expect("client link").tx);
    let mut moved = 0;
    {
        let mut c = clink.lock().expect("client link");
        for (_, f) in from_server {
            if f.len() < ETH_IPV4_L4_OFFSET + 20 || f[12..14] != [0x08, 0x00] {
                continue; // ARP and the like
            }
            if deliver(&f) {
                c.rx.push_back(f);
                moved += 1;
            }
        }
    }
    let mut s = slink.lock().expect("server link");
    for (_, f) in from_client {
        if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
            s.rx.push_back(f);
            moved += 1;
        }
    }
    moved
}

/// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`), if there is
/// one (Linux only).
pub fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reset `VmHWM` to the current RSS (`echo 5 > /proc/self/clear_refs`,
/// Linux ≥ 4.0). Returns whether it worked; if not, the sampled peak is
/// what the test relies on.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The tests of a binary that take this run one at a time, so one that
/// reads the process's peak memory does not see the others' allocations
/// in it. A test that panicked while holding it does not poison it for
/// the rest.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A seeded xorshift64* generator: a test's draws, the same every run
/// with the same seed.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    /// One byte of a test's data stream: the top byte of the next draw.
    pub fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }

    /// `len` bytes from a generator seeded with `seed` (made odd, as a
    /// xorshift state must not be zero).
    pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut r = Rng(seed | 1);
        (0..len).map(|_| r.byte()).collect()
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() <= p
    }

    /// Uniform in `[lo, hi)`.
    pub fn percent(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// A connected pair on a [`TwoHosts`](net_ipv4::testlink::TwoHosts) lab
/// whose hosts have TCP: b listens on `port`, a connects; both ends
/// non-blocking. The clock moves in 1 ms steps until the handshake is done.
pub fn connected_pair(
    lab: &net_ipv4::testlink::TwoHosts,
    port: u16,
) -> (net_tcp::TcpSocket, net_tcp::TcpSocket) {
    use net_tcp::TcpSocket;
    use net_tcp::af_inet::POLLOUT;
    use std::net::SocketAddrV4;
    let l = TcpSocket::new(&lab.b).expect("socket");
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).expect("bind");
    l.listen(8).expect("listen");
    let c = TcpSocket::new(&lab.a).expect("socket");
    c.set_nonblocking(true);
    assert_eq!(
        c.connect(SocketAddrV4::new(net_ipv4::testlink::TwoHosts::B, port)),
        Err(net_core::Errno::EINPROGRESS)
    );
    let mut srv = None;
    for _ in 0..100 {
        lab.run_ms(1);
        if srv.is_none() {
            srv = l.accept().ok().map(|(s, _)| s);
        }
        if let Some(s) = srv.as_ref().filter(|_| c.poll() & POLLOUT != 0) {
            s.set_nonblocking(true);
            return (c, srv.expect("accepted"));
        }
    }
    panic!("no connection within 100 ms");
}

/// Send `data` from `c` and read it at `s`, polling `hosts` on `clock`'s
/// virtual time, jumping to the next event whenever nothing moved; the
/// bytes `s` read. The application writes at most 1 MiB a call and reads
/// into a 64 KiB buffer. Panics, with both sockets' states and the
/// sender's counters, if everything goes idle with bytes missing.
pub fn pump(
    hosts: &[&Arc<Net>],
    clock: &Clock,
    c: &net_tcp::TcpSocket,
    s: &net_tcp::TcpSocket,
    data: &[u8],
) -> Vec<u8> {
    let (mut sent, mut got) = (0usize, Vec::with_capacity(data.len()));
    let mut buf = vec![0u8; 65536];
    for _ in 0..1_000_000 {
        let mut progress = 0;
        while sent < data.len() {
            match c.send(&data[sent..(sent + (1 << 20)).min(data.len())]) {
                Ok(n) if n > 0 => {
                    sent += n;
                    progress += n;
                }
                _ => break,
            }
        }
        progress += hosts.iter().map(|h| h.poll()).sum::<usize>();
        while let Ok(n) = s.recv(&mut buf) {
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
            progress += n;
        }
        if got.len() == data.len() {
            return got;
        }
        if progress == 0 {
            let Some(next) = hosts.iter().filter_map(|h| h.next_event_ns()).min() else {
                panic!(
                    "stuck with nothing pending: sent {sent}, got {}, client {:?} ({:?}), server {:?}\n{}",
                    got.len(),
                    c.state(),
                    c.send(b""),
                    s.state(),
                    hosts[0].mib.snapshot().proc_net_netstat()
                );
            };
            clock.set_ns(next.max(clock.now_ns() + 1));
        }
    }
    panic!("transfer never finished: sent {sent}, got {}", got.len());
}

/// On two hosts of `sim`: a non-blocking listener on `server`:`port`
/// (`setup` runs on it before `listen()`, for the options a child
/// inherits), a non-blocking client from `client` connecting to
/// `server_addr`, and the simulation stepped until the child is accepted
/// and the client is ESTABLISHED. Returns (listener, client, child).
pub fn sim_connect(
    sim: &mut net_dev::Sim,
    client: &Arc<Net>,
    server: &Arc<Net>,
    server_addr: Ipv4Addr,
    port: u16,
    setup: impl FnOnce(&net_tcp::TcpSocket),
) -> (net_tcp::TcpSocket, net_tcp::TcpSocket, net_tcp::TcpSocket) {
    use std::net::SocketAddrV4;
    let l = net_tcp::TcpSocket::new(server).expect("socket");
    l.set_nonblocking(true);
    setup(&l);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).expect("bind");
    l.listen(4).expect("listen");
    let c = net_tcp::TcpSocket::new(client).expect("socket");
    c.set_nonblocking(true);
    let _ = c.connect(SocketAddrV4::new(server_addr, port));
    let s = loop {
        if let Ok((s, _)) = l.accept() {
            break s;
        }
        assert!(sim.step(), "no connection: the simulation went idle");
    };
    s.set_nonblocking(true);
    while c.state() != net_tcp::tcp_states::TcpState::Established {
        assert!(sim.step(), "the client never saw ESTABLISHED");
    }
    (l, c, s)
}
