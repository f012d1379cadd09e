//! TCP throughput over TAP between the Linux kernel and linnet, in both
//! directions, beside smoltcp 0.14's own benchmark (examples/benchmark.rs)
//! measured in the same run.
//!
//! `cargo bench -p benches --bench tap_throughput` (root). Without root,
//! `/dev/net/tun` or `ip` it prints "skipped: <why>" and exits 0.
//! `LINNET_TAP_MIB` sets the amount per transfer (default 256 MiB).
//!
//! Everything runs inside a namespace this program creates
//! (`linnet-tput-<pid>`, deleted on exit, also on panic): two TAPs whose
//! kernel ends live there, `tap0` (kernel 10.79.0.1, linnet 10.79.0.2,
//! driven from this process with `net_dev::tun::Tap` and the real-time
//! host loop) and `tap1` (kernel 10.79.1.1, smoltcp 10.79.1.2, a child
//! process of this binary started with `ip netns exec`, opening the TAP
//! with smoltcp's own `TunTapInterface` and running benchmark.rs's loop).
//! The kernel's side of every transfer is the same client: this binary
//! again, as a child in the namespace using `std::net::TcpStream`.
//!
//! - "kernel reads": the client connects to port 5001 and reads N bytes
//!   the server sends (benchmark.rs's `reader`).
//! - "kernel writes": the client connects to port 5002, writes N bytes,
//!   shuts down its sending side and waits for the server's FIN, so the
//!   time covers delivery (benchmark.rs's `writer` stops at its last
//!   `write`; the FIN wait adds one round trip).
//!
//! Each transfer is bounded (20 s); a transfer that runs out of time
//! reports what it moved. Both stacks use 64 KiB socket buffers where they
//! have a say (smoltcp's benchmark.rs: 65535-byte buffers; linnet:
//! `SO_SNDBUF`/`SO_RCVBUF`), and neither scales its window here.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use net_core::{Clock, Net};
use net_dev::netns::{self, NetnsGuard};
use net_dev::tun::{Tap, run_realtime_with};
use net_tcp::TcpSocket;
use net_tcp::af_inet::{SO_RCVBUF, SO_RCVTIMEO, SO_SNDBUF, SO_SNDTIMEO, SOL_SOCKET};

/// Longest a single transfer may take.
const TRANSFER_LIMIT: Duration = Duration::from_secs(20);
/// Port the server sends on (the kernel reads).
const PORT_SEND: u16 = 5001;
/// Port the server sinks on (the kernel writes).
const PORT_SINK: u16 = 5002;

const LINNET_KERNEL: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const LINNET_ADDR: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
const SMOL_KERNEL: Ipv4Addr = Ipv4Addr::new(10, 79, 1, 1);
const SMOL_ADDR: Ipv4Addr = Ipv4Addr::new(10, 79, 1, 2);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--kernel-client") => return kernel_client(&args[2..]),
        Some("--smoltcp-server") => return smoltcp_server(&args[2..]),
        _ => {}
    }
    if let Some(why) = netns::missing_prerequisite(&[("ip", "-V")]) {
        println!("skipped: {why}");
        return;
    }
    let mib: usize = std::env::var("LINNET_TAP_MIB").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    let bytes = mib << 20;
    let ns = NetnsGuard::create(&format!("linnet-tput-{}", std::process::id()));
    ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    ns.exec_ok(&["ip", "link", "set", "lo", "up"]);

    println!("tap_throughput: {mib} MiB per transfer, each bounded by {TRANSFER_LIMIT:?}, MTU 1500");
    let linnet = bench_linnet(&ns, bytes);
    let smol = bench_smoltcp(&ns, bytes);

    println!();
    println!("{:<8} {:<14} {:>10} {:>8} {:>10} {:>10}", "stack", "direction", "MiB", "s", "MB/s", "Gbit/s");
    for (stack, rs) in [("linnet", &linnet), ("smoltcp", &smol)] {
        for (dir, r) in [("kernel reads", &rs.0), ("kernel writes", &rs.1)] {
            println!(
                "{stack:<8} {dir:<14} {:>10.1} {:>8.3} {:>10.1} {:>10.3}{}",
                r.bytes as f64 / (1 << 20) as f64,
                r.secs,
                r.mb_per_s(),
                r.gbit_per_s(),
                if r.complete { "" } else { "  (incomplete: ran out of time or failed)" }
            );
        }
    }
    println!();
    for (dir, l, s) in [("kernel reads", &linnet.0, &smol.0), ("kernel writes", &linnet.1, &smol.1)] {
        let ratio = if s.mb_per_s() > 0.0 { l.mb_per_s() / s.mb_per_s() } else { f64::NAN };
        println!("linnet/smoltcp, {dir}: {ratio:.3}");
    }
}

// -- the kernel's side --------------------------------------------------------

/// One transfer as the kernel's client saw it.
#[derive(Clone, Copy, Debug, Default)]
struct Transfer {
    bytes: usize,
    secs: f64,
    complete: bool,
}

impl Transfer {
    fn mb_per_s(&self) -> f64 {
        if self.secs > 0.0 { self.bytes as f64 / self.secs / 1e6 } else { 0.0 }
    }
    fn gbit_per_s(&self) -> f64 {
        self.mb_per_s() * 8.0 / 1e3
    }

    fn parse(out: &str) -> Transfer {
        let mut t = Transfer::default();
        for w in out.split_whitespace() {
            if let Some(v) = w.strip_prefix("bytes=") {
                t.bytes = v.parse().unwrap_or(0);
            } else if let Some(v) = w.strip_prefix("secs=") {
                t.secs = v.parse().unwrap_or(0.0);
            } else if let Some(v) = w.strip_prefix("complete=") {
                t.complete = v == "true";
            }
        }
        t
    }
}

/// Run the kernel's client in the namespace and collect what it measured.
fn run_client(ns: &NetnsGuard, mode: &str, server: Ipv4Addr, port: u16, bytes: usize) -> Transfer {
    let args = ["--kernel-client", mode, &server.to_string(), &port.to_string(), &bytes.to_string()];
    let child = ns.spawn_self(&args.map(String::from));
    let out = child.finish(TRANSFER_LIMIT + Duration::from_secs(5));
    let t = Transfer::parse(&String::from_utf8_lossy(&out.stdout));
    println!(
        "  kernel {mode:<5} {server}:{port}: {:.1} MiB in {:.3} s = {:.1} MB/s{}",
        t.bytes as f64 / (1 << 20) as f64,
        t.secs,
        t.mb_per_s(),
        if t.complete { "" } else { " (incomplete)" }
    );
    t
}

/// `--kernel-client read|write ADDR PORT BYTES`: runs in the namespace on
/// the kernel's stack. Prints `bytes=… secs=… complete=…`.
fn kernel_client(args: &[String]) {
    let (mode, addr, port, total) = match args {
        [m, a, p, b] => (m.as_str(), a.parse::<Ipv4Addr>(), p.parse::<u16>(), b.parse::<usize>()),
        _ => panic!("usage: --kernel-client read|write ADDR PORT BYTES"),
    };
    let (addr, port, total) = (addr.expect("addr"), port.expect("port"), total.expect("bytes"));
    let sa = SocketAddrV4::new(addr, port);
    // The server may not be listening yet: retry for up to 3 s.
    let connect_deadline = Instant::now() + Duration::from_secs(3);
    let mut stream = loop {
        match TcpStream::connect_timeout(&sa.into(), Duration::from_secs(1)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < connect_deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                eprintln!("kernel client: connect {sa}: {e}");
                println!("bytes=0 secs=0 complete=false");
                return;
            }
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    let deadline = start + TRANSFER_LIMIT;
    let mut done = 0usize;
    let mut complete = false;
    while Instant::now() < deadline {
        if done >= total {
            complete = true;
            break;
        }
        let len = buf.len().min(total - done);
        let r = if mode == "read" { stream.read(&mut buf[..len]) } else { stream.write(&buf[..len]) };
        match r {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("kernel client: {mode} after {done} bytes: {e}");
                break;
            }
        }
    }
    if mode == "write" && complete {
        // Wait for the server's FIN: everything was delivered and read.
        let _ = stream.shutdown(Shutdown::Write);
        complete = loop {
            if Instant::now() >= deadline {
                break false;
            }
            match stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break false,
            }
        };
    }
    let secs = start.elapsed().as_secs_f64();
    println!("bytes={done} secs={secs:.6} complete={complete}");
}

// -- linnet -----------------------------------------------------------------------

/// A `struct timeval` for `SO_RCVTIMEO`/`SO_SNDTIMEO`.
fn timeval(d: Duration) -> [u8; 16] {
    let mut tv = [0u8; 16];
    tv[..8].copy_from_slice(&(d.as_secs() as i64).to_ne_bytes());
    tv[8..].copy_from_slice(&i64::from(d.subsec_micros()).to_ne_bytes());
    tv
}

/// Bounded blocking calls and 64 KiB buffers (as benchmark.rs gives
/// smoltcp's sockets): `SO_*BUF` takes half the value it stores.
fn linnet_sockopts(s: &TcpSocket) {
    let tv = timeval(Duration::from_secs(3));
    s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, &tv).expect("SO_RCVTIMEO");
    s.setsockopt(SOL_SOCKET, SO_SNDTIMEO, &tv).expect("SO_SNDTIMEO");
    s.setsockopt_int(SOL_SOCKET, SO_SNDBUF, 32768).expect("SO_SNDBUF");
    s.setsockopt_int(SOL_SOCKET, SO_RCVBUF, 32768).expect("SO_RCVBUF");
}

/// linnet's server for one transfer: accept one connection on `port`, then
/// send `bytes` (PORT_SEND) or read to end of stream (PORT_SINK), close.
fn linnet_server(net: &Arc<Net>, port: u16, bytes: usize) -> Result<usize, String> {
    let l = TcpSocket::new(net).map_err(|e| format!("socket: {e:?}"))?;
    linnet_sockopts(&l);
    l.bind(SocketAddrV4::new(LINNET_ADDR, port)).map_err(|e| format!("bind: {e:?}"))?;
    l.listen(8).map_err(|e| format!("listen: {e:?}"))?;
    let (s, _) = l.accept().map_err(|e| format!("accept: {e:?}"))?;
    linnet_sockopts(&s);
    let deadline = Instant::now() + TRANSFER_LIMIT + Duration::from_secs(2);
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0;
    while Instant::now() < deadline {
        if port == PORT_SEND {
            if done >= bytes {
                break;
            }
            let len = buf.len().min(bytes - done);
            match s.send(&buf[..len]) {
                Ok(n) => done += n,
                Err(net_core::Errno::EAGAIN) => {}
                Err(e) => return Err(format!("send after {done}: {e:?}")),
            }
        } else {
            match s.recv(&mut buf) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(net_core::Errno::EAGAIN) => {}
                Err(e) => return Err(format!("recv after {done}: {e:?}")),
            }
        }
    }
    Ok(done)
}

fn bench_linnet(ns: &NetnsGuard, bytes: usize) -> (Transfer, Transfer) {
    println!("linnet on tap0 ({LINNET_ADDR}), kernel {LINNET_KERNEL}:");
    let tap = Tap::open_in_netns(ns.name(), "tap0").unwrap_or_else(|e| panic!("open tap0: {e}"));
    let tap = tap.with_mac([0x02, 0, 0, 0, 0x79, 0x02]);
    let fd = tap.raw_fd();
    ns.exec_ok(&["ip", "link", "set", "tap0", "up"]);
    ns.exec_ok(&["ip", "addr", "add", &format!("{LINNET_KERNEL}/24"), "dev", "tap0"]);

    let net = Net::new("linnet", Clock::new_system(), 0x79);
    let ipv4 = net_ipv4::ipv4_init(&net);
    let _tcp = net_tcp::inet_init(&net);
    let dev = net.register_netdev(Box::new(tap)).expect("register tap0");
    dev.open().expect("open tap0");
    net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, LINNET_ADDR, 24).expect("addr");

    let stop = AtomicBool::new(false);
    let results = std::thread::scope(|s| {
        let looper = s.spawn(|| {
            let until = Instant::now() + 3 * TRANSFER_LIMIT;
            run_realtime_with(&[&net], &[fd], until, || stop.load(Ordering::Relaxed));
        });
        let mut results = Vec::new();
        for (mode, port) in [("read", PORT_SEND), ("write", PORT_SINK)] {
            let net = &net;
            let server = s.spawn(move || linnet_server(net, port, bytes));
            let t = run_client(ns, mode, LINNET_ADDR, port, bytes);
            match server.join().expect("linnet server thread") {
                Ok(n) => println!("  linnet server on :{port} moved {n} bytes"),
                Err(e) => println!("  linnet server on :{port}: {e}"),
            }
            results.push(t);
        }
        stop.store(true, Ordering::Relaxed);
        looper.join().expect("host loop");
        results
    });
    let snap = dev.stats.snapshot();
    println!("  tap0 on linnet's side: {snap:?}");
    let _ = net.unregister_netdev(dev.ifindex);
    (results[0], results[1])
}

// -- smoltcp ------------------------------------------------------------------------

fn bench_smoltcp(ns: &NetnsGuard, bytes: usize) -> (Transfer, Transfer) {
    println!("smoltcp 0.14 on tap1 ({SMOL_ADDR}), kernel {SMOL_KERNEL}:");
    // smoltcp's process creates tap1 in the namespace; wait until it is
    // there before giving the kernel's end its address.
    let server = ns.spawn_self(&["--smoltcp-server".to_string(), bytes.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if ns.exec(&["ip", "link", "show", "tap1"]).status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "smoltcp did not create tap1");
        std::thread::sleep(Duration::from_millis(20));
    }
    ns.exec_ok(&["ip", "link", "set", "tap1", "up"]);
    ns.exec_ok(&["ip", "addr", "add", &format!("{SMOL_KERNEL}/24"), "dev", "tap1"]);
    let r = run_client(ns, "read", SMOL_ADDR, PORT_SEND, bytes);
    let w = run_client(ns, "write", SMOL_ADDR, PORT_SINK, bytes);
    let out = server.finish(Duration::from_secs(3));
    let out = String::from_utf8_lossy(&out.stdout);
    print!("{}", out.lines().map(|l| format!("  {l}\n")).collect::<String>());
    (r, w)
}

/// `--smoltcp-server BYTES`: runs in the namespace. smoltcp's
/// examples/benchmark.rs server loop on a `TunTapInterface` (`tap1`): port
/// 5001 emits BYTES, port 5002 sinks until the peer's FIN; each socket
/// closes when its transfer is done (benchmark.rs instead stops the whole
/// program when its in-process client finishes).
fn smoltcp_server(args: &[String]) {
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{Device, Medium, TunTapInterface, wait as phy_wait};
    use smoltcp::socket::tcp;
    use smoltcp::time::{Duration as SDuration, Instant as SInstant};
    use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
    use std::os::fd::AsRawFd;

    let total: usize = args.first().and_then(|s| s.parse().ok()).expect("--smoltcp-server BYTES");
    let mut device = TunTapInterface::new("tap1", Medium::Ethernet).expect("smoltcp: open tap1");
    let fd = device.as_raw_fd();
    let mut config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0x79, 0x12]).into());
    config.random_seed = 0x79;
    let mut iface = Interface::new(config, &mut device, SInstant::now());
    let [a, b, c, d] = SMOL_ADDR.octets();
    iface.update_ip_addrs(|ip| ip.push(IpCidr::new(IpAddress::v4(a, b, c, d), 24)).expect("addr"));
    let mut sockets = SocketSet::new(vec![]);
    let mk =
        || tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 65535]), tcp::SocketBuffer::new(vec![0; 65535]));
    let h_send = sockets.add(mk());
    let h_sink = sockets.add(mk());
    sockets.get_mut::<tcp::Socket<'_>>(h_send).listen(PORT_SEND).expect("listen 5001");
    sockets.get_mut::<tcp::Socket<'_>>(h_sink).listen(PORT_SINK).expect("listen 5002");
    let _ = device.capabilities();

    let (mut sent, mut sunk) = (0usize, 0usize);
    let (mut send_closed, mut sink_closed) = (false, false);
    let deadline = std::time::Instant::now() + 2 * TRANSFER_LIMIT + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let now = SInstant::now();
        iface.poll(now, &mut device, &mut sockets);

        let s = sockets.get_mut::<tcp::Socket<'_>>(h_send);
        while s.can_send() && sent < total {
            let n = s
                .send(|buf| {
                    let n = buf.len().min(total - sent);
                    (n, n)
                })
                .expect("send");
            sent += n;
        }
        if sent >= total && !send_closed {
            s.close();
            send_closed = true;
        }

        let s = sockets.get_mut::<tcp::Socket<'_>>(h_sink);
        while s.can_recv() {
            let n = s.recv(|buf| (buf.len(), buf.len())).expect("recv");
            sunk += n;
        }
        if s.state() == tcp::State::CloseWait && !sink_closed {
            s.close();
            sink_closed = true;
        }
        if send_closed
            && sink_closed
            && sockets.iter().all(|(_, s)| matches!(s, smoltcp::socket::Socket::Tcp(t) if !t.is_active()))
        {
            break;
        }

        match iface.poll_at(now, &sockets) {
            Some(at) if now < at => {
                let _ = phy_wait(fd, Some(at - now));
            }
            Some(_) => {}
            None => {
                let _ = phy_wait(fd, Some(SDuration::from_millis(100)));
            }
        }
    }
    println!("smoltcp server sent {sent} bytes, sank {sunk} bytes");
}
