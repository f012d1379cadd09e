//! The `dispatch` scenario's function graphs: a segment's path through the
//! stack, read back from the text as ftrace prints it.

mod common;
use common::run;

/// The graph lines of the section that starts with `title`: (depth, name),
/// a depth being two spaces of indent, `name() {` or `name();` a call.
fn graph(text: &str, title: &str) -> Vec<(usize, String)> {
    let start = text.find(title).unwrap_or_else(|| panic!("no section {title:?} in\n{text}"));
    text[start..]
        .lines()
        .skip(1)
        .skip_while(|l| l.starts_with('#'))
        .take_while(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let name = l.trim_start();
            let name = name.strip_suffix("() {").or_else(|| name.strip_suffix("();"))?;
            Some(((l.len() - l.trim_start().len()) / 2, name.to_string()))
        })
        .collect()
}

/// `names` is a call chain in `g`: each one called (at any depth) from
/// inside the previous one's call, in order.
#[track_caller]
fn assert_chain(g: &[(usize, String)], names: &[&str]) {
    let mut from = 0;
    let mut within: Option<usize> = None; // depth of the caller's line
    for want in names {
        let found = g[from..]
            .iter()
            .enumerate()
            .take_while(|(_, (d, _))| within.is_none_or(|w| *d > w))
            .find(|(_, (_, n))| n == want);
        let Some((i, (d, _))) = found else {
            panic!("{want} is not called inside {:?}\n{g:#?}", within.map(|_| &g[from - 1].1));
        };
        within = Some(*d);
        from += i + 1;
    }
}

#[test]
fn a_segment_climbs_from_the_device_to_the_socket_and_its_ack_goes_down() {
    let r = run("dispatch");
    let rx = graph(&r.text, "on b: the frame arrives");
    assert_eq!(rx.first().map(|(d, n)| (*d, n.as_str())), Some((0, "eth_type_trans")));
    assert_chain(
        &rx,
        &[
            "netif_receive_skb",
            "ip_rcv",
            "ip_rcv_finish",
            "ip_local_deliver",
            "ip_local_deliver_finish",
            "tcp_v4_rcv",
            "tcp_v4_do_rcv",
            "tcp_rcv_established",
            "tcp_queue_rcv",
        ],
    );
    // Early demux: ip_rcv_finish finds the socket before routing and hands
    // it to tcp_v4_rcv, which looks nothing up again. The connection is
    // new, so its input route is not cached yet: this segment is routed
    // (and caches it).
    assert_chain(&rx, &["ip_rcv_finish", "tcp_v4_early_demux", "__inet_lookup_established"]);
    assert_chain(&rx, &["ip_rcv_finish", "ip_route_input"]);
    assert_eq!(rx.iter().filter(|(_, n)| n == "__inet_lookup_established").count(), 1, "{rx:#?}");
    assert_chain(&rx, &["tcp_rcv_established", "tcp_event_data_recv"]);
    // Header prediction: the segment is the one b expects (our header
    // length, ACK alone, the same window, at rcv_nxt), so it skips the
    // slow path's validation, tcp_ack() (it acknowledges nothing new) and
    // tcp_data_queue(), as the fast path of Linux's tcp_rcv_established().
    for slow in ["tcp_validate_incoming", "tcp_ack", "tcp_data_queue"] {
        assert!(rx.iter().all(|(_, n)| n != slow), "{slow} on the fast path\n{rx:#?}");
    }
    // The ACK leaves from inside the receive call (quick-ACK mode).
    assert_chain(
        &rx,
        &[
            "tcp_rcv_established",
            "tcp_ack_snd_check",
            "tcp_send_ack",
            "tcp_transmit_skb",
            "ip_queue_xmit",
            "ip_local_out",
            "ip_output",
            "ip_finish_output",
            "ip_finish_output2",
            "neigh_output",
            "dev_queue_xmit",
            "veth_xmit",
        ],
    );
    // Linux's fast-path order: queue, then tcp_event_data_recv(), then
    // the ACK decision.
    let pos = |n: &str| rx.iter().position(|(_, x)| x == n).unwrap();
    assert!(pos("tcp_queue_rcv") < pos("tcp_event_data_recv"));
    assert!(pos("tcp_event_data_recv") < pos("tcp_ack_snd_check"));
    // Nothing of a's: the buffer was stopped before the ACK reached it.
    assert_eq!(rx.iter().filter(|(_, n)| n == "netif_receive_skb").count(), 1);
}

#[test]
fn send_goes_down_from_tcp_sendmsg_to_the_device() {
    let r = run("dispatch");
    let tx = graph(&r.text, "on a: send(");
    assert_eq!(tx.first().map(|(d, n)| (*d, n.as_str())), Some((0, "tcp_sendmsg_locked")));
    assert_chain(
        &tx,
        &[
            "tcp_sendmsg_locked",
            "tcp_push_pending_frames",
            "tcp_write_xmit",
            "tcp_transmit_skb",
            "ip_queue_xmit",
            "ip_local_out",
            "ip_output",
            "ip_finish_output",
            "ip_finish_output2",
            "neigh_output",
            // ARP resolved b during the handshake: the entry is REACHABLE,
            // so the cached header's fast path sends.
            "neigh_hh_output",
            "dev_queue_xmit",
            "qdisc_run",
            "veth_xmit",
        ],
    );
    assert!(!tx.iter().any(|(_, n)| n == "netif_receive_skb"), "sending receives nothing");
    assert!(r.text.contains("# tracer: function_graph\n"));
    assert!(r.text.contains("on b: recv() = 5 (\"hello\")"));
}
