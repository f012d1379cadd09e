//! linnet against the Linux kernel's own IPv4 stack, over a TAP device.
//!
//! Needs root (`CAP_NET_ADMIN`), `/dev/net/tun`, `ip`, `ping` and
//! `python3`. Without them the test prints "skipped: <reason>" and passes,
//! unless `CI=true`, where it fails with the reason.
//!
//! All traffic stays inside a namespace the test creates
//! (`linnet-tap-<pid>`): the kernel's end of the TAP (`tap0`,
//! 10.77.0.1/24) lives there, linnet (10.77.0.2/24) drives the fd from
//! this process. A guard deletes the namespace however the test ends;
//! child processes are killed by PID; every loop is bounded in count and
//! time.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use net_core::{Clock, Errno, Net};
use net_dev::netns::{self, NetnsGuard};
use net_dev::tun::{Tap, run_realtime_with};
use net_ipv4::udp::UdpSocket;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const LINNET: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

struct Host {
    net: Arc<Net>,
    ipv4: Arc<net_ipv4::Ipv4>,
    ifindex: u32,
    fd: RawFd,
}

impl Host {
    fn run_for(&self, limit: Duration, done: impl FnMut() -> bool) {
        run_realtime_with(&[&self.net], &[self.fd], Instant::now() + limit, done);
    }
}

#[test]
fn linnet_talks_to_the_kernel_over_tap() {
    if netns::skip("tap_interop", &[("ip", "-V"), ("ping", "-V"), ("python3", "--version")]) {
        return;
    }
    let started = Instant::now();
    let ns = NetnsGuard::create(&format!("linnet-tap-{}", std::process::id()));

    // The kernel's side: tap0 in the namespace, up, 10.77.0.1/24.
    let tap = Tap::open_in_netns(ns.name(), "tap0").unwrap_or_else(|e| panic!("open tap0: {e}"));
    let tap = tap.with_mac([0x02, 0, 0, 0, 0x77, 0x02]);
    let fd = tap.raw_fd();
    ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    ns.exec_ok(&["ip", "link", "set", "tap0", "up"]);
    ns.exec_ok(&["ip", "addr", "add", "10.77.0.1/24", "dev", "tap0"]);

    // linnet's side: a host on the system clock owning the fd.
    let net = Net::new("linnet", Clock::new_system(), 0x7a9);
    let ipv4 = net_ipv4::ipv4_init(&net);
    let dev = net.register_netdev(Box::new(tap)).expect("register tap0");
    dev.open().expect("open tap0");
    net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, LINNET, 24).expect("10.77.0.2/24");
    let host = Host { net, ipv4, ifindex: dev.ifindex, fd };

    kernel_pings_linnet(&ns, &host);
    linnet_pings_kernel(&host);
    linnet_udp_to_kernel_echo(&ns, &host);
    kernel_udp_to_linnet_echo(&ns, &host);

    let _ = host.net.unregister_netdev(host.ifindex);
    println!("tap_interop: all parts passed in {:?}", started.elapsed());
}

/// (a) `ping` in the namespace against linnet, with linnet's host loop in
/// another thread until ping exits (bounded by time).
fn kernel_pings_linnet(ns: &NetnsGuard, host: &Host) {
    let text = ns.kernel_pings(LINNET, |stop| host.run_for(Duration::from_secs(8), stop));
    println!("(a) kernel → linnet ping:\n{text}");
}

/// (b) linnet's `ping` against the kernel: three requests, three replies.
fn linnet_pings_kernel(host: &Host) {
    const ID: u16 = 0x7a9;
    for seq in 1..=3u16 {
        net_ipv4::icmp::ping(&host.net, &host.ipv4, KERNEL, ID, seq, &[0x5a; 56]).expect("ping");
        let want = usize::from(seq);
        host.run_for(Duration::from_secs(2), || host.ipv4.icmp.echo_replies(ID).len() >= want);
    }
    let replies = host.ipv4.icmp.echo_replies(ID);
    println!("(b) linnet → kernel ping: {} replies: {replies:?}", replies.len());
    assert_eq!(replies.len(), 3, "echo replies: {replies:?}");
    assert!(replies.iter().all(|r| r.from == KERNEL && r.bytes == 64), "{replies:?}");
    let mut seqs: Vec<u16> = replies.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [1, 2, 3]);
}

const PY_ECHO_SERVER: &str = "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.77.0.1', 7))
s.settimeout(0.2)
end = time.monotonic() + 8
while time.monotonic() < end:
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        continue
    s.sendto(d, a)
";

/// (c1) a linnet UdpSocket against a python echo server in the namespace.
/// The server may not be bound yet: resend (bounded) until the echo comes.
fn linnet_udp_to_kernel_echo(ns: &NetnsGuard, host: &Host) {
    let server = ns.spawn(&["python3", "-c", PY_ECHO_SERVER]);
    let sock = UdpSocket::new(&host.net).expect("socket");
    sock.connect(SocketAddrV4::new(KERNEL, 7)).expect("connect");
    let msg = b"hello kernel, from linnet";
    let mut buf = [0u8; 2048];
    let mut got = None;
    let mut attempts = 0;
    let mut log = Vec::new();
    for _ in 0..20 {
        attempts += 1;
        match sock.send(msg) {
            Ok(_) => {}
            // A port unreachable from before the server was bound.
            Err(Errno::ECONNREFUSED) => {
                log.push("send: ECONNREFUSED");
                continue;
            }
            Err(e) => panic!("send: {e:?}"),
        }
        host.run_for(Duration::from_millis(300), || sock.rx_queue_len() > 0);
        match sock.recvfrom(&mut buf) {
            Ok((n, from)) => {
                got = Some((buf[..n].to_vec(), from));
                break;
            }
            Err(Errno::EAGAIN) => log.push("no echo in 300 ms"),
            Err(Errno::ECONNREFUSED) => log.push("recv: ECONNREFUSED (server not bound yet)"),
            Err(e) => panic!("recv: {e:?}"),
        }
    }
    drop(server);
    let (data, from) = got.expect("no echo from the kernel's UDP server");
    println!(
        "(c1) linnet → kernel UDP echo after {attempts} attempt(s) {log:?}: {:?} from {from}",
        String::from_utf8_lossy(&data)
    );
    assert_eq!(data, msg);
    assert_eq!(from, SocketAddrV4::new(KERNEL, 7));
}

const PY_CLIENT: &str = "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
for i in range(15):
    s.sendto(b'hello linnet, from the kernel', ('10.77.0.2', 9000))
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        continue
    print(repr(d), a)
    sys.exit(0 if d == b'hello linnet, from the kernel' and a == ('10.77.0.2', 9000) else 2)
sys.exit(1)
";

/// (c2) a python client in the namespace against a linnet UDP echo socket.
fn kernel_udp_to_linnet_echo(ns: &NetnsGuard, host: &Host) {
    let sock = UdpSocket::new(&host.net).expect("socket");
    sock.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9000)).expect("bind :9000");
    let mut client = ns.spawn(&["python3", "-c", PY_CLIENT]);
    let mut echoed = 0;
    let mut buf = [0u8; 2048];
    host.run_for(Duration::from_secs(6), || {
        while let Ok((n, from)) = sock.recvfrom(&mut buf) {
            if sock.sendto(&buf[..n], from).is_ok() {
                echoed += 1;
            }
        }
        client.exited()
    });
    let out = client.finish(Duration::from_secs(1));
    let text = String::from_utf8_lossy(&out.stdout);
    println!("(c2) kernel → linnet UDP echo: linnet echoed {echoed}, client printed {}", text.trim());
    assert!(echoed >= 1, "linnet received nothing");
    assert!(
        out.status.success(),
        "python client: {:?} {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
