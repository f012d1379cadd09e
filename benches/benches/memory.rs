//! Memory per connection (issue #10), printed as a table (harness =
//! false; no timing, so the figures do not move with the machine):
//!
//! - **idle established connections**: [`IDLE_CONNS`] connections made
//!   between two in-process hosts (the clients on a, the children
//!   `accept()`ed on b, both ends in this process, so every figure counts
//!   both ends of each connection: a full `TcpSock` on each side and each
//!   side's `TcpSocket` handle). Figures: heap bytes allocated and still
//!   live, per connection, from a counting `#[global_allocator]`; and the
//!   growth of this process's `VmRSS` and peak `VmHWM`
//!   (/proc/self/status) over the same run, per connection. The table
//!   growth (the accept queue's, the socket slab's, our `Vec`s of handles,
//!   reserved beforehand) is in the figure, amortised as it is in a
//!   program. This part runs first so the peak is its own.
//! - **request_sock**: [`SMALL_N`] SYNs from distinct four-tuples into a
//!   listener (`tcp_v4_rcv()` → `tcp_conn_request()`), the SYN-ACKs
//!   dropped by the device: the heap still held per SYN (the request sock
//!   in its slab, hashed in ehash, its timer armed).
//! - **timewait sock**: [`SMALL_N`] `inet_twsk_alloc()` +
//!   `inet_twsk_hashdance_schedule()` (what `tcp_time_wait()` keeps once the
//!   full socket is gone): heap bytes per timewait sock.
//!
//! Beside each, `size_of` of our struct, the objsize of Linux's slab for
//! the same object read from /proc/slabinfo (root can read it; else
//! "unreadable"; `TCP`, `request_sock_TCP`, `tw_sock_TCP`, and for a full
//! socket the `sock_inode_cache` + `filp` + `dentry` a Linux socket file
//! also holds), and smoltcp 0.14's per-socket cost: `size_of` of its
//! `tcp::Socket` plus the buffers it allocates up front (smoltcp has no
//! request or timewait sock: its one socket object is all three), measured
//! with the same allocator at linnet's default buffer sizes (`tcp_rmem[1]`
//! = 131072, `tcp_wmem[1]` = 16384; linnet allocates no buffer until data
//! arrives) and at the 4 KiB the conn_rr bench gives it.
//!
//! `cargo bench -p benches --bench memory` (`LINNET_IDLE_CONNS=10000` for
//! a quicker look).

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use net_core::{Clock, Net, Skb};
use net_ipv4::fib::FibRoute;
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::rx_datagram;
use net_tcp::af_inet::TcpNet;
use net_tcp::inet_timewait_sock::{InetTimewaitSock, inet_twsk_alloc, inet_twsk_hashdance_schedule};
use net_tcp::request_sock::RequestSock;
use net_tcp::sock::{TCP_TIMEWAIT_LEN, TcpSock};
use net_tcp::tcp_ipv4::tcp_v4_rcv;
use net_tcp::tcp_states::TcpState;
use net_tcp::tcphdr::{TCPHDR_SYN, TcpHdr, TcpOutOptions, tcp_options_size, tcp_options_write};
use net_tcp::{TcpSocket, inet_init};

#[path = "common/linnet.rs"]
mod linnet;
use linnet::{linnet_connect, linnet_lab};

// ANCHOR: counting_allocator
/// The system allocator, counting the bytes live at any moment.
struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call goes to `System` with the caller's arguments
// unchanged; the counter is a side effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with `layout`; the caller
        // upholds the rest of `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes live now.
fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}
// ANCHOR_END: counting_allocator

/// Idle established connections for the RSS figure.
const IDLE_CONNS: usize = 100_000;
/// Listening ports the idle connections spread over.
const LISTENERS: usize = 10;
/// Request socks and timewait socks counted.
const SMALL_N: usize = 10_000;

/// A `kB` line of /proc/self/status, in bytes.
fn status_kb(field: &str) -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `objsize` of a slab cache in /proc/slabinfo, if readable.
fn slab_objsize(cache: &str) -> Option<usize> {
    let info = std::fs::read_to_string("/proc/slabinfo").ok()?;
    let line = info.lines().find(|l| l.split_whitespace().next() == Some(cache))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Per-connection figures of the idle run.
struct Idle {
    n: usize,
    heap: f64,
    rss: f64,
    hwm: f64,
}

// ANCHOR: idle
/// `n` idle established connections, both ends here, spread over
/// [`LISTENERS`] listening ports: the clients take ephemeral ports
/// (`ip_local_port_range` 1024–65535), and `__inet_hash_connect()` walks
/// the range from its offset looking for a four-tuple not in use, so the
/// cost of each `connect()` grows with the connections already made to the
/// same destination, as in Linux; 10,000 a destination keeps it quick.
fn idle_established(n: usize) -> Idle {
    let (lab, _) = linnet_lab();
    lab.a.sysctl.set("net.ipv4.ip_local_port_range", "1024 65535").expect("port range");
    lab.b.sysctl.set("net.core.somaxconn", "65535").expect("somaxconn");
    let listeners: Vec<TcpSocket> = (0..LISTENERS)
        .map(|k| {
            let port = 80 + k as u16;
            let l = TcpSocket::new(&lab.b).expect("socket");
            l.set_nonblocking(true);
            l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).expect("bind");
            l.listen(4096).expect("listen");
            l
        })
        .collect();
    let mut conns: Vec<(TcpSocket, TcpSocket)> = Vec::with_capacity(n);
    // One connection first, so ARP, the route and the first allocations of
    // every table are not in the figure.
    let warm = linnet_connect_to(&lab, &listeners[0], 80);
    let (heap0, rss0, hwm0) = (live(), status_kb("VmRSS:"), status_kb("VmHWM:"));
    for i in 0..n {
        let k = i % LISTENERS;
        conns.push(linnet_connect_to(&lab, &listeners[k], 80 + k as u16));
    }
    let (heap1, rss1, hwm1) = (live(), status_kb("VmRSS:"), status_kb("VmHWM:"));
    assert!(
        conns.iter().all(|(c, s)| c.sock().sk_state() == TcpState::Established
            && s.sock().sk_state() == TcpState::Established)
    );
    drop(warm);
    let per = |a: i64, b: i64| (b - a) as f64 / n as f64;
    Idle { n, heap: per(heap0, heap1), rss: per(rss0, rss1), hwm: per(hwm0, hwm1) }
}
// ANCHOR_END: idle

/// A connection to `port` on b (its listener `l`).
fn linnet_connect_to(lab: &net_ipv4::testlink::TwoHosts, l: &TcpSocket, port: u16) -> (TcpSocket, TcpSocket) {
    if port == linnet::PORT {
        return linnet_connect(lab, l, None);
    }
    let c = TcpSocket::new(&lab.a).expect("socket");
    c.set_nonblocking(true);
    assert_eq!(
        c.connect(SocketAddrV4::new(net_ipv4::testlink::TwoHosts::B, port)),
        Err(net_core::Errno::EINPROGRESS)
    );
    let mut child = None;
    linnet::drive(lab, || {
        if child.is_none() {
            child = l.accept().ok();
        }
        child.is_some() && c.poll() & net_tcp::af_inet::POLLOUT != 0
    });
    let (s, _) = child.expect("accepted");
    (c, s)
}

// -- request socks: SYNs into a listener whose SYN-ACKs go nowhere ------------------------------

use benches::fixtures::SinkDev;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// A SYN from 192.0.2.0/24-and-up, port `k`, as `ip_local_deliver()`
/// hands it to TCP.
fn syn(k: u32) -> Skb {
    let saddr = Ipv4Addr::from(0xc000_0200 + (k >> 14));
    let sport = 1024 + (k & 0x3fff) as u16;
    let opts = TcpOutOptions::syn(1460, k, 7);
    let thlen = 20 + tcp_options_size(&opts);
    let mut l4 = [0u8; 60];
    l4[12] = ((thlen / 4) as u8) << 4;
    let mut th = TcpHdr::new_checked(&mut l4[..thlen]).expect("a TCP header");
    th.set_source(sport);
    th.set_dest(80);
    th.set_seq(k.wrapping_mul(2_654_435_761));
    th.set_flags(TCPHDR_SYN);
    th.set_window(64240);
    tcp_options_write(th.options_mut(), &opts);
    th.fill_checksum(saddr, SERVER_IP);
    rx_datagram(saddr, SERVER_IP, 6, &l4[..thlen])
}

/// Heap bytes per request sock: `n` SYNs, each built and consumed inside
/// the counted window (the skb nets to zero), after 100 uncounted.
fn request_socks(n: usize) -> f64 {
    let net = Net::new("memory", Clock::new_virtual_at(1_000_000_000), 7);
    let tn = inet_init(&net);
    let dev = net.register_netdev(Box::new(SinkDev)).expect("eth0");
    dev.open().expect("up");
    net_ipv4::devinet::inet_addr_add(&net, &tn.ipv4, dev.ifindex, SERVER_IP, 24).expect("address");
    let gw = Ipv4Addr::new(10, 0, 0, 254);
    tn.ipv4.arp_tbl.neigh_add(&net, dev.ifindex, gw, [2, 0, 0, 0, 0, 0xfe], NudState::Permanent).expect("gw");
    tn.ipv4
        .fib
        .fib_table_insert(FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(gw), dev.ifindex))
        .expect("default route");
    net.sysctl.set("net.core.somaxconn", "65535").expect("sysctl");
    net.sysctl.set("net.ipv4.tcp_max_syn_backlog", "65535").expect("sysctl");
    net.sysctl.set("net.ipv4.tcp_syncookies", "0").expect("sysctl");
    while net.poll() > 0 {}
    let l = TcpSocket::new(&net).expect("socket");
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).expect("bind");
    l.listen(65535).expect("listen");
    for k in 0..100 {
        tcp_v4_rcv(&net, &tn, syn(k));
    }
    let h0 = live();
    for k in 100..100 + n as u32 {
        tcp_v4_rcv(&net, &tn, syn(k));
    }
    let h1 = live();
    assert_eq!(tn.reqsk_slab.active_objs(), 100 + n, "every SYN left a request sock");
    (h1 - h0) as f64 / n as f64
}

/// Heap bytes per timewait sock: `n` of them allocated and scheduled as
/// `tcp_time_wait()` does, after 100 uncounted.
fn timewait_socks(n: usize) -> f64 {
    let net = Net::new("memory", Clock::new_virtual_at(1_000_000_000), 8);
    let tn: Arc<TcpNet> = inet_init(&net);
    net.sysctl.set("net.ipv4.tcp_max_tw_buckets", &(2 * n + 200).to_string()).expect("sysctl");
    let proto = TcpSock::new(&net, 1000, 1000);
    let init = benches::fixtures::tw_init();
    let mut tws = Vec::with_capacity(n + 100);
    let mut one = |k: u32| {
        proto.set_skc_addrs(
            SERVER_IP,
            80,
            Ipv4Addr::from(0xc000_0200 + (k >> 14)),
            1024 + (k & 0x3fff) as u16,
        );
        let tw = inet_twsk_alloc(&net, &tn, &proto, &init).expect("tcp_max_tw_buckets is high enough");
        inet_twsk_hashdance_schedule(&net, &tn, &tw, &proto, TCP_TIMEWAIT_LEN);
        tws.push(tw);
    };
    for k in 0..100 {
        one(k);
    }
    let h0 = live();
    for k in 100..100 + n as u32 {
        one(k);
    }
    let h1 = live();
    assert_eq!(tn.twsk_slab.active_objs(), 100 + n);
    (h1 - h0) as f64 / n as f64
}

/// Heap bytes per smoltcp socket with `rx`/`tx` buffers, added to a
/// `SocketSet` (its storage grown as a program grows it).
fn smoltcp_socket(rx: usize, tx: usize) -> f64 {
    use smoltcp::iface::SocketSet;
    use smoltcp::socket::tcp;
    let n = 1000;
    let mut set = SocketSet::new(Vec::new());
    let h0 = live();
    for _ in 0..n {
        let s = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; rx]), tcp::SocketBuffer::new(vec![0; tx]));
        set.add(s);
    }
    let h1 = live();
    drop(set);
    (h1 - h0) as f64 / n as f64
}

fn main() {
    let n = std::env::var("LINNET_IDLE_CONNS").ok().and_then(|v| v.parse().ok()).unwrap_or(IDLE_CONNS);
    let idle = idle_established(n);
    let req = request_socks(SMALL_N);
    let tw = timewait_socks(SMALL_N);
    let smol_default = smoltcp_socket(131_072, 16_384);
    let smol_small = smoltcp_socket(4096, 4096);
    let show = |v: Option<usize>| v.map_or("unreadable".to_string(), |v| format!("{v} B"));
    let linux_file = ["sock_inode_cache", "filp", "dentry"].map(slab_objsize);
    let linux_file_sum: Option<usize> = linux_file.iter().copied().sum();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();

    println!("memory: bytes per object (heap = bytes allocated and still live, from a counting allocator)");
    println!("  {:<34} {:>10} {:>12} {:>14}", "object", "size_of", "heap", "Linux slab");
    println!(
        "  {:<34} {:>8} B {:>10.0} B {:>14}",
        "established connection, one end",
        std::mem::size_of::<TcpSock>(),
        idle.heap / 2.0,
        show(slab_objsize("TCP"))
    );
    println!(
        "  {:<34} {:>10} {:>12} {:>14}",
        "  + Linux's socket file",
        "",
        "",
        format!("+{}", show(linux_file_sum))
    );
    println!(
        "  {:<34} {:>8} B {:>10.0} B {:>14}",
        "request_sock",
        std::mem::size_of::<RequestSock>(),
        req,
        show(slab_objsize("request_sock_TCP"))
    );
    println!(
        "  {:<34} {:>8} B {:>10.0} B {:>14}",
        "timewait sock",
        std::mem::size_of::<InetTimewaitSock>(),
        tw,
        show(slab_objsize("tw_sock_TCP"))
    );
    println!(
        "  {:<34} {:>8} B {:>10.0} B {:>14}",
        "smoltcp socket, 128 KiB + 16 KiB",
        std::mem::size_of::<smoltcp::socket::tcp::Socket<'static>>(),
        smol_default,
        "-"
    );
    println!(
        "  {:<34} {:>8} B {:>10.0} B {:>14}",
        "smoltcp socket, 4 KiB + 4 KiB",
        std::mem::size_of::<smoltcp::socket::tcp::Socket<'static>>(),
        smol_small,
        "-"
    );
    println!(
        "  (Linux {}: sock_inode_cache {}, filp {}, dentry {}; linnet's socket holds no buffer until data comes)",
        release.trim(),
        show(linux_file[0]),
        show(linux_file[1]),
        show(linux_file[2])
    );
    println!(
        "{} idle established connections, both ends in this process (2 sockets each), per connection:",
        idle.n
    );
    println!("  heap {:.0} B   VmRSS growth {:.0} B   VmHWM growth {:.0} B", idle.heap, idle.rss, idle.hwm);
    println!(
        "  per socket (half): heap {:.0} B, VmRSS {:.0} B; smoltcp at linnet's default buffers: {:.2}× linnet's heap",
        idle.heap / 2.0,
        idle.rss / 2.0,
        smol_default / (idle.heap / 2.0)
    );
}
