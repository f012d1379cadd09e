//! `ip link set dev X down` and `up`: what routing and ARP keep.
//!
//! Linux 6.18, asked on this machine (a veth pair in two namespaces;
//! 10.11.1.1/24 on `va`, a route to 10.99.0.0/16 via 10.11.1.2, a
//! permanent and a reachable neighbour): after `ip link set va down`,
//! `ip route show table all` kept only `local 10.11.1.1 dev va table
//! local`, the address stayed on the device, and `ip neigh` was empty;
//! after `up`, the prefix and broadcast routes were back, the route via
//! the gateway was not, and the neighbours were still gone.
//! `Net::dev_close()` / `Net::dev_open()` raise `NETDEV_DOWN` /
//! `NETDEV_UP`, and IPv4's `fib_netdev_event()` must do the same.

use net_core::{Clock, Net};
use net_ipv4::devinet::inet_addr_add;
use net_ipv4::fib::FibRoute;
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::Hub;
use net_ipv4::{Ipv4Addr, ipv4_init};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn down_flushes_routes_and_neighbours_up_restores_the_addresses_routes() {
    let clock = Clock::new_virtual();
    let net = Net::new("a", clock.clone(), 7);
    let ipv4 = ipv4_init(&net);
    let hub = Hub::new(&clock, 1000);
    let dev = net.register_netdev(Box::new(hub.port("va", [2, 0, 0, 0, 0, 1]))).unwrap();
    net.dev_open(&dev).unwrap();
    inet_addr_add(&net, &ipv4, dev.ifindex, ip("10.11.1.1"), 24).unwrap();
    ipv4.fib
        .fib_table_insert(FibRoute::unicast(ip("10.99.0.0"), 16, Some(ip("10.11.1.2")), dev.ifindex))
        .unwrap();
    ipv4.arp_tbl
        .neigh_add(&net, dev.ifindex, ip("10.11.1.2"), [2, 0, 0, 0, 0, 2], NudState::Permanent)
        .unwrap();
    ipv4.arp_tbl
        .neigh_add(&net, dev.ifindex, ip("10.11.1.3"), [2, 0, 0, 0, 0, 3], NudState::Reachable)
        .unwrap();
    let main_up = ipv4.fib.ip_route_show(&net);
    let local_up = ipv4.fib.ip_route_show_local(&net);
    assert!(
        main_up.contains("10.11.1.0/24 dev va") && main_up.contains("10.99.0.0/16 via 10.11.1.2"),
        "{main_up}"
    );
    assert!(local_up.contains("broadcast 10.11.1.255"), "{local_up}");
    let genid = ipv4.fib.rt_genid();

    net.dev_close(&dev);
    assert_eq!(ipv4.fib.ip_route_show(&net), "", "every main-table route out of va went");
    let local_down = ipv4.fib.ip_route_show_local(&net);
    assert!(local_down.contains("local 10.11.1.1 dev va"), "the address's local route stays: {local_down}");
    assert!(!local_down.contains("broadcast"), "{local_down}");
    assert_eq!(ipv4.arp_tbl.len(), 0, "neighbours flushed, the permanent one too");
    assert_ne!(ipv4.fib.rt_genid(), genid, "cached routes are stale");
    assert_eq!(ipv4.fib.fib_lookup(ip("10.99.1.1")), None);

    net.dev_open(&dev).unwrap();
    let main = ipv4.fib.ip_route_show(&net);
    assert!(main.contains("10.11.1.0/24 dev va"), "the prefix route is back: {main}");
    assert!(!main.contains("10.99.0.0"), "the route via the gateway is not: {main}");
    assert!(ipv4.fib.ip_route_show_local(&net).contains("broadcast 10.11.1.255"));
    assert_eq!(ipv4.arp_tbl.len(), 0);

    // __dev_close(): the device alone, as a pulled cable; routes stay.
    dev.close();
    assert!(ipv4.fib.ip_route_show(&net).contains("10.11.1.0/24 dev va"));
}
