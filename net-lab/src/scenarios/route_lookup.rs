//! Which route does each destination take? Longest prefix today, first
//! match in Linux 0.99.

use std::fmt::Write;
use std::net::Ipv4Addr;

use net_core::Clock;
use net_core::netdevice::{IFF_BROADCAST, IFF_UP};
use net_ipv4::fib::{Device099, Fib, FibRoute, RTF_GATEWAY, RTF_HOST, RtList099, inet_make_mask};
use net_ipv4::testlink::Hub;

use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
One routing table, two kernels. Today's FIB (fib_table_lookup) takes the
longest matching prefix, then the lowest metric. Linux 0.99's rt_route
walked a plain list and took the first entry with (dst ^ daddr) & mask == 0
(the fourth article, shared/seeds/003); its rt_add kept the list sorted by
mask, most specific first, so for an ordinary table first match *is*
longest match. They part ways on a quirk of rt_add: adding a route removes
every route to the same destination address whatever its mask, so adding
10.1.0.0/24 silently replaced 10.1.0.0/16 and the rest of 10.1/16 fell
through to 10.0.0.0/8.

Book: net-ipv4 → routing, then and now. Linux: fib_table_lookup
(net/ipv4/fib_trie.c), 0.99's rt_add/rt_route (net/inet/route.c).";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("literal address")
}

fn route(dst: &str, len: u8, gw: Option<&str>, oif: u32) -> FibRoute {
    FibRoute::unicast(ip(dst), len, gw.map(ip), oif)
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let clock = Clock::new_virtual();
    let net = crate::host("r", clock.clone(), opts)?;
    let hub = Hub::new(&clock, 0);
    let reg = |name: &str, mac| net.register_netdev(Box::new(hub.port(name, mac))).map(|d| d.ifindex);
    let eth0 = reg("eth0", [2, 0, 0, 0, 0, 1]).map_err(|e| format!("register eth0: {e}"))?;
    let eth1 = reg("eth1", [2, 0, 0, 0, 0, 2]).map_err(|e| format!("register eth1: {e}"))?;

    let fib = Fib::new();
    let mut l = RtList099::new();
    for (name, ifindex, addr, brd, mask) in [
        ("eth0", eth0, "192.168.1.2", "192.168.1.255", "255.255.255.0"),
        ("eth1", eth1, "10.1.0.2", "10.1.255.255", "255.255.0.0"),
    ] {
        l.dev_add(Device099 {
            ifindex,
            name: name.into(),
            flags: IFF_BROADCAST | IFF_UP,
            pa_addr: ip(addr),
            pa_brdaddr: ip(brd),
            pa_mask: ip(mask),
        });
    }
    let z = ip("0.0.0.0");
    let mask = |len: u8| Ipv4Addr::from(inet_make_mask(len));
    let add = |fib: &Fib,
               l: &mut RtList099,
               dst: &str,
               len: u8,
               gw: Option<&str>,
               oif: u32|
     -> Result<(), String> {
        fib.fib_table_insert(route(dst, len, gw, oif)).map_err(|e| format!("ip route add: {e}"))?;
        let flags = if gw.is_some() { RTF_GATEWAY } else { 0 } | if len == 32 { RTF_HOST } else { 0 };
        let m = if len == 32 { z } else { mask(len) };
        l.rt_add(flags, ip(dst), m, gw.map_or(z, ip), oif)
            .then_some(())
            .ok_or("0.99 rt_add refused".to_string())
    };
    add(&fib, &mut l, "192.168.1.0", 24, None, eth0)?;
    add(&fib, &mut l, "10.1.0.0", 16, None, eth1)?;
    add(&fib, &mut l, "0.0.0.0", 0, Some("192.168.1.1"), eth0)?;
    add(&fib, &mut l, "10.0.0.0", 8, Some("192.168.1.254"), eth0)?;
    add(&fib, &mut l, "10.1.2.0", 24, Some("10.1.0.1"), eth1)?;
    add(&fib, &mut l, "10.1.2.3", 32, Some("192.168.1.253"), eth0)?;

    let mut out = String::new();
    let _ = writeln!(out, "ip route (today's main table):");
    out.push_str(&fib.ip_route_show(&net));
    let _ = writeln!(out, "\n/proc/net/route (0.99's list, in walk order):");
    out.push_str(&l.rt_get_info());
    let table = |fib: &Fib, l: &mut RtList099, out: &mut String| {
        let _ = writeln!(out, "{:<14} {:<30}first match (0.99)", "destination", "longest prefix (6.18)");
        for d in ["10.1.2.3", "10.1.2.4", "10.1.7.7", "10.9.9.9", "192.168.1.77", "8.8.8.8"] {
            let now = fib.fib_lookup(ip(d)).map_or("unreachable".to_string(), |r| {
                format!("{}/{} via {}", r.dst, r.prefixlen, r.gateway.map_or("-".into(), |g| g.to_string()))
            });
            let then = l.rt_route(ip(d)).map_or("unreachable".to_string(), |r| {
                let gw = if r.rt_flags & RTF_GATEWAY != 0 { r.rt_gateway.to_string() } else { "-".into() };
                format!("{}/{} via {}", r.rt_dst, u32::from(r.rt_mask).count_ones(), gw)
            });
            let mark = if now == then { "" } else { "   <- differ" };
            let _ = writeln!(out, "{d:<14} {now:<30}{then}{mark}");
        }
    };
    let _ = writeln!(out);
    table(&fib, &mut l, &mut out);
    let _ = writeln!(out, "\nroute add -net 10.1.0.0/24 gw 10.1.0.9 (both kernels):");
    add(&fib, &mut l, "10.1.0.0", 24, Some("10.1.0.9"), eth1)?;
    table(&fib, &mut l, &mut out);
    Ok(Report {
        headline: "first match equals longest prefix while 0.99's list stays sorted; its rt_add quirk makes them differ".into(),
        text: out,
        ..Default::default()
    })
}
