//! linnet on a real interface through libpcap ([`PcapLive`]), against the
//! Linux kernel's own IPv4 stack. Built only with `--features pcap-live`.
//!
//! Needs root (`CAP_NET_ADMIN` for the namespace and veth, `CAP_NET_RAW`
//! for the capture), `ip` and `ping`. Without them the test prints
//! "skipped: <reason>" and passes, unless `CI=true`, where it fails with
//! the reason.
//!
//! All traffic stays inside a namespace the test creates
//! (`linnet-pcap-<pid>`) holding a veth pair: the kernel owns `veth0`
//! (10.78.0.1/24); `veth1` is up with no address, and linnet
//! (10.78.0.2/24, its own MAC) captures and injects on it from this
//! process. A guard deletes the namespace (and with it the pair) however
//! the test ends; the ping child is killed by PID; every loop is bounded.

#![cfg(feature = "pcap-live")]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use net_core::{Clock, Net};
use net_dev::netns::{self, Needs, NetnsGuard};
use net_dev::pcap_live::{PcapLive, PcapLiveError};
use net_dev::tun::run_realtime_with;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const LINNET: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);

#[test]
fn the_kernel_pings_linnet_through_a_live_capture() {
    if netns::skip_for("pcap_live", Needs::LiveCapture, &[("ip", "-V"), ("ping", "-V")]) {
        return;
    }
    let ns = NetnsGuard::create(&format!("linnet-pcap-{}", std::process::id()));
    ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    ns.exec_ok(&["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
    ns.exec_ok(&["ip", "addr", "add", "10.78.0.1/24", "dev", "veth0"]);
    ns.exec_ok(&["ip", "link", "set", "veth0", "up"]);
    ns.exec_ok(&["ip", "link", "set", "veth1", "up"]);

    // Clear errors, not panics, for what a user gets wrong.
    match PcapLive::open_in_netns(ns.name(), "nosuch0") {
        Err(e @ PcapLiveError::NoSuchDevice(_)) => println!("missing interface: {e}"),
        other => panic!("expected NoSuchDevice, got {other:?}"),
    }

    let dev = PcapLive::open_in_netns(ns.name(), "veth1").unwrap_or_else(|e| panic!("open veth1: {e}"));
    let dev = dev.with_mac([0x02, 0, 0, 0, 0x78, 0x02]);
    let fd = dev.raw_fd();

    let net = Net::new("linnet", Clock::new_system(), 0x78);
    let ipv4 = net_ipv4::ipv4_init(&net);
    let nd = net.register_netdev(Box::new(dev)).expect("register veth1");
    nd.open().expect("open veth1");
    net_ipv4::devinet::inet_addr_add(&net, &ipv4, nd.ifindex, LINNET, 24).expect("10.78.0.2/24");

    // The kernel pings linnet, with linnet's host loop in another thread.
    let text = ns.kernel_pings(LINNET, |stop| {
        run_realtime_with(&[&net], &[fd], Instant::now() + Duration::from_secs(8), stop);
    });
    println!("kernel → linnet ping over veth1 (pcap):\n{text}");

    // And linnet pings the kernel back.
    const ID: u16 = 0x78;
    for seq in 1..=3u16 {
        net_ipv4::icmp::ping(&net, &ipv4, KERNEL, ID, seq, &[0x5a; 56]).expect("ping");
        let want = usize::from(seq);
        run_realtime_with(&[&net], &[fd], Instant::now() + Duration::from_secs(2), || {
            ipv4.icmp.echo_replies(ID).len() >= want
        });
    }
    let replies = ipv4.icmp.echo_replies(ID);
    println!("linnet → kernel ping: {} replies", replies.len());
    assert_eq!(replies.len(), 3, "echo replies: {replies:?}");
    let _ = net.unregister_netdev(nd.ifindex);
}
