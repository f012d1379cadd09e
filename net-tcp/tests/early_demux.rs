//! Early demux (`tcp_v4_early_demux()`, `ip_rcv_finish_core()`): an
//! established socket caches its input route (`sk_rx_dst`), and segments
//! for it skip `ip_route_input()` while that route is valid, as Linux's
//! do. Two hosts on a sim wire, one connection; the function-graph tracer
//! counts the route lookups one request and its answer cost.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;

use net_core::Net;
use net_core::ftrace::GraphTracer;
use net_core::snmp::IpstatsMib;
use net_dev::{LinkParams, Sim};
use net_ipv4::fib::{FibRoute, RtnType};
use net_tcp::af_inet::TcpNet;
use net_tcp::{TcpSocket, inet_init};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5001;

/// Host a (the client) and host b (the server) with one established
/// connection that has carried a request and an answer.
struct Pair {
    sim: Sim,
    b: Arc<Net>,
    tn_b: Arc<TcpNet>,
    eb: u32,
    c: TcpSocket,
    s: TcpSocket,
    _l: TcpSocket,
}

fn pair() -> Pair {
    let mut sim = Sim::new(7);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    let (ea, eb) = sim.connect(&a, &b, LinkParams::default()).expect("wire");
    let tn_a = inet_init(&a);
    let tn_b = inet_init(&b);
    net_ipv4::devinet::inet_addr_add(&a, &tn_a.ipv4, ea.ifindex, A, 24).expect("ip addr add");
    net_ipv4::devinet::inet_addr_add(&b, &tn_b.ipv4, eb.ifindex, B, 24).expect("ip addr add");
    sim.run_for(10_000_000);
    let (l, c, s) = common::sim_connect(&mut sim, &a, &b, B, PORT, |_| {});
    let mut p = Pair { sim, b, tn_b, eb: eb.ifindex, c, s, _l: l };
    p.exchange();
    p
}

impl Pair {
    /// 100 bytes a → b, 100 bytes back, and the delayed ACKs.
    fn exchange(&mut self) {
        let mut buf = [0u8; 256];
        for (tx, rx) in [(&self.c, &self.s), (&self.s, &self.c)] {
            assert_eq!(tx.send(&[7u8; 100]), Ok(100));
            let mut got = 0;
            while got < 100 {
                match rx.recv(&mut buf) {
                    Ok(n) => got += n,
                    Err(_) => assert!(self.sim.step(), "stalled"),
                }
            }
        }
        self.sim.run_for(500_000_000);
    }

    /// How many times `ip_route_input` ran (on either host) for one
    /// [`exchange`](Self::exchange).
    fn routed(&mut self) -> usize {
        let t = GraphTracer::start(1 << 16);
        self.exchange();
        let trace = t.finish();
        assert_eq!(trace.dropped_events, 0);
        assert!(trace.entries().any(|(f, _)| f == "tcp_v4_rcv"), "segments were received");
        trace.entries().filter(|(f, _)| *f == "ip_route_input").count()
    }

    fn set(&self, name: &str, v: &str) {
        self.b.sysctl.set(name, v).unwrap();
    }
}

#[test]
fn established_segments_use_the_cached_input_route() {
    let mut p = pair();
    assert!(p.s.sock().sk_rx_dst.is_set(), "the server cached its input route");
    assert!(p.c.sock().sk_rx_dst.is_set(), "the client cached its input route");
    assert_eq!(p.routed(), 0);
    assert_eq!(p.routed(), 0);
}

#[test]
fn a_cached_route_is_used_without_a_lookup() {
    let mut p = pair();
    // Take b's local route for its address away behind the routing
    // generation's back: only a cached route can still deliver.
    let local = p.tn_b.ipv4.fib.local.write().fib_table_delete_if(B, 32, |r| r.rtn_type == RtnType::Local);
    let local = local.expect("b's local route");
    let addr_errors = p.b.mib.get(IpstatsMib::InAddrErrors);
    assert_eq!(p.routed(), 0);
    assert_eq!(p.b.mib.get(IpstatsMib::InAddrErrors), addr_errors);
    // net.ipv4.ip_early_demux = 0: every datagram is routed, and without
    // the local route the request is refused as Linux's ip_error() would.
    p.set("net.ipv4.ip_early_demux", "0");
    assert_eq!(p.c.send(&[1u8; 10]), Ok(10));
    p.sim.run_for(100_000_000);
    assert!(p.b.mib.get(IpstatsMib::InAddrErrors) > addr_errors, "routed, and refused");
    p.tn_b.ipv4.fib.local.write().fib_table_insert(local).unwrap();
    p.tn_b.ipv4.fib.rt_genid_bump();
    p.set("net.ipv4.ip_early_demux", "1");
}

#[test]
fn a_route_change_invalidates_the_cached_route() {
    let mut p = pair();
    assert_eq!(p.routed(), 0);
    // ip route add 192.168.7.0/24 dev eth0 on b: rt_genid moves, so b's
    // next segment is routed again and its route cached anew; the one
    // after (the ACK of b's answer) uses it.
    p.tn_b
        .ipv4
        .fib
        .fib_table_insert(FibRoute::unicast(Ipv4Addr::new(192, 168, 7, 0), 24, None, p.eb))
        .unwrap();
    assert_eq!(p.routed(), 1);
    assert_eq!(p.routed(), 0);
}

#[test]
fn an_address_change_invalidates_the_cached_route() {
    let mut p = pair();
    let b3 = Ipv4Addr::new(10, 0, 0, 3);
    net_ipv4::devinet::inet_addr_add(&p.b, &p.tn_b.ipv4, p.eb, b3, 24).unwrap();
    assert_eq!(p.routed(), 1);
    assert_eq!(p.routed(), 0);
    net_ipv4::devinet::inet_addr_del(&p.b, &p.tn_b.ipv4, p.eb, b3, 24).unwrap();
    assert_eq!(p.routed(), 1);
    assert_eq!(p.routed(), 0);
}

#[test]
fn the_sysctls_turn_early_demux_off() {
    let mut p = pair();
    for name in ["net.ipv4.ip_early_demux", "net.ipv4.tcp_early_demux"] {
        p.set(name, "0");
        // b receives the request and the ACK of its answer: both routed.
        assert_eq!(p.routed(), 2, "{name} = 0: b routes every segment");
        assert_eq!(p.routed(), 2, "{name} = 0: every time");
        p.set(name, "1");
        assert_eq!(p.routed(), 0, "{name} = 1: the cached route again");
    }
}
