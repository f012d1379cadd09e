//! The scenarios, one file each. See the crate docs.

mod dispatch;
mod fragments;
mod lab;
mod ping;
mod route_lookup;
mod skb_geometry;
mod tcp_connection;
mod timers;
mod udp_echo;

use crate::Scenario;

/// Every scenario, in tour order.
pub static ALL: &[Scenario] = &[
    Scenario {
        name: "skb-geometry",
        summary: "an sk_buff from alloc_skb to a full frame: reserve, put, push, pull",
        explain: skb_geometry::EXPLAIN,
        in_tour: true,
        run: skb_geometry::run,
    },
    Scenario {
        name: "dispatch",
        summary: "frames find their protocol through ptype_base and the pt_prev trick",
        explain: dispatch::EXPLAIN,
        in_tour: true,
        run: dispatch::run,
    },
    Scenario {
        name: "timers",
        summary: "TCP's timers on the timer wheel in virtual time: hours cost milliseconds",
        explain: timers::EXPLAIN,
        in_tour: true,
        run: timers::run,
    },
    Scenario {
        name: "ping",
        summary: "ARP resolves, then ICMP echo across a link (ping, ip neigh, nstat)",
        explain: ping::EXPLAIN,
        in_tour: true,
        run: ping::run,
    },
    Scenario {
        name: "udp-echo",
        summary: "UDP echo; a datagram to a closed port → ICMP port unreachable → ECONNREFUSED",
        explain: udp_echo::EXPLAIN,
        in_tour: true,
        run: udp_echo::run,
    },
    Scenario {
        name: "tcp-connection",
        summary: "a TCP connection's life: handshake, request and reply, close, TIME_WAIT",
        explain: tcp_connection::EXPLAIN,
        in_tour: true,
        run: tcp_connection::run,
    },
    Scenario {
        name: "fragments",
        summary: "a 4000-byte datagram fragmented to MTU 1500 and reassembled",
        explain: fragments::EXPLAIN,
        in_tour: false,
        run: fragments::run,
    },
    Scenario {
        name: "route-lookup",
        summary: "which route each destination takes: longest prefix today, first match in 0.99",
        explain: route_lookup::EXPLAIN,
        in_tour: true,
        run: route_lookup::run,
    },
];
