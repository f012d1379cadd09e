//! The scenarios, one file each. See the crate docs.

mod bulk_transfer;

/// Bytes `bulk-transfer` sends.
pub const BULK_TOTAL: usize = bulk_transfer::TOTAL;
mod closes;
mod closewait_port_reuse;
mod dispatch;
mod fin_wait2_timeout;
mod fragments;
mod handshake;
mod keepalive;
mod lab;
mod last_ack_retries;
mod linger_rst;
mod listen_overflow;
mod orphans;
mod ping;
mod pmtu;
mod retransmit_giveup;
mod reuseport;
mod route_lookup;
mod skb_geometry;
mod syn_flood;
mod tcp_connection;
mod tcplab;
mod time_wait;
mod timers;
mod udp_echo;
mod zero_window;

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
        name: "handshake",
        summary: "SYN, SYN-ACK, ACK with Linux's options; ss -tan before and after accept()",
        explain: handshake::EXPLAIN,
        in_tour: false,
        run: handshake::run,
    },
    Scenario {
        name: "three-way-close",
        summary: "the app closes inside the delayed-ACK time: FIN and ACK leave as one segment",
        explain: closes::EXPLAIN_THREE,
        in_tour: true,
        run: closes::run_three,
    },
    Scenario {
        name: "four-way-close",
        summary: "the app closes late: the delayed ACK, then a separate FIN",
        explain: closes::EXPLAIN_FOUR,
        in_tour: false,
        run: closes::run_four,
    },
    Scenario {
        name: "closewait-port-reuse",
        summary: "two ephemeral ports, a server that never closes: a SYN meets CLOSE_WAIT, challenge ACK, RST, SYN again",
        explain: closewait_port_reuse::EXPLAIN,
        in_tour: true,
        run: closewait_port_reuse::run,
    },
    Scenario {
        name: "linger-rst",
        summary: "SO_LINGER 0, then unread data: close() sends RST instead of FIN; no TIME_WAIT, ECONNRESET",
        explain: linger_rst::EXPLAIN,
        in_tour: false,
        run: linger_rst::run,
    },
    Scenario {
        name: "fin-wait2-timeout",
        summary: "orphans in FIN_WAIT2 die after tcp_fin_timeout (60 s) or TCP_LINGER2; the CLOSE_WAIT peer learns when it writes",
        explain: fin_wait2_timeout::EXPLAIN,
        in_tour: false,
        run: fin_wait2_timeout::run,
    },
    Scenario {
        name: "last-ack-retries",
        summary: "LAST_ACK with the peer gone: the FIN retransmitted, RTO doubling from 200 ms, until tcp_orphan_retries runs out",
        explain: last_ack_retries::EXPLAIN,
        in_tour: false,
        run: last_ack_retries::run,
    },
    Scenario {
        name: "time-wait",
        summary: "TIME_WAIT's 60 s restarted by a retransmitted FIN; tcp_tw_reuse on connect(); reopened by a SYN; tcp_max_tw_buckets",
        explain: time_wait::EXPLAIN,
        in_tour: false,
        run: time_wait::run,
    },
    Scenario {
        name: "listen-overflow",
        summary: "listen(fd, 2), never accept(): the accept queue holds 3, then SYNs and final ACKs are dropped (or RST)",
        explain: listen_overflow::EXPLAIN,
        in_tour: true,
        run: listen_overflow::run,
    },
    Scenario {
        name: "syn-flood",
        summary: "thousands of spoofed SYNs: cookies keep the listener serving; without them the queue fills",
        explain: syn_flood::EXPLAIN,
        in_tour: false,
        run: syn_flood::run,
    },
    Scenario {
        name: "reuseport",
        summary: "four SO_REUSEPORT listeners on one port share 40 clients by 4-tuple hash; one closes, the rest take over",
        explain: reuseport::EXPLAIN,
        in_tour: false,
        run: reuseport::run,
    },
    Scenario {
        name: "bulk-transfer",
        summary: "2 MiB over a 10 Mbit/s, 20 ms link with a short queue: slow start, a loss, recovery",
        explain: bulk_transfer::EXPLAIN,
        in_tour: false,
        run: bulk_transfer::run,
    },
    Scenario {
        name: "zero-window",
        summary: "a receiver stops reading: the window closes, persist probes back off, data flows again",
        explain: zero_window::EXPLAIN,
        in_tour: false,
        run: zero_window::run,
    },
    Scenario {
        name: "keepalive",
        summary: "SO_KEEPALIVE with short timers: an idle peer answers, then vanishes; probes, RST, ETIMEDOUT",
        explain: keepalive::EXPLAIN,
        in_tour: false,
        run: keepalive::run,
    },
    Scenario {
        name: "retransmit-giveup",
        summary: "the peer vanishes mid-transfer: RTO backoff until tcp_retries2's budget, then ETIMEDOUT",
        explain: retransmit_giveup::EXPLAIN,
        in_tour: false,
        run: retransmit_giveup::run,
    },
    Scenario {
        name: "orphans",
        summary: "closes to a vanished peer over tcp_max_orphans: orphans counted, reset, given up on",
        explain: orphans::EXPLAIN,
        in_tour: false,
        run: orphans::run,
    },
    Scenario {
        name: "fragments",
        summary: "a 4000-byte datagram fragmented to MTU 1500 and reassembled",
        explain: fragments::EXPLAIN,
        in_tour: false,
        run: fragments::run,
    },
    Scenario {
        name: "pmtu",
        summary: "a router's smaller link: ICMP fragmentation needed, and TCP resends in smaller pieces",
        explain: pmtu::EXPLAIN,
        in_tour: true,
        run: pmtu::run,
    },
    Scenario {
        name: "route-lookup",
        summary: "which route each destination takes: longest prefix today, first match in 0.99",
        explain: route_lookup::EXPLAIN,
        in_tour: true,
        run: route_lookup::run,
    },
];
