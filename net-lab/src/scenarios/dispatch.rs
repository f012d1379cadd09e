//! Packet-type dispatch: EtherType → handler, taps, and pt_prev; then one
//! TCP segment's whole path, as ftrace's function_graph tracer shows it.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use net_core::if_ether::{ETH_P_ARP, ETH_P_IP, ETH_P_IPV6};
use net_core::skbuff::alloc_skb;
use net_core::{Clock, NetRx, PacketType, Skb};

use net_core::ftrace::{FgraphOpts, GraphTracer};

use super::lab::LATENCY_NS;
use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The first article's point: each layer carries the selector of the layer
above. A frame's EtherType (skb->protocol) picks its handler from
ptype_base[ntohs(type) & 15]; taps registered for ETH_P_ALL (tcpdump's
AF_PACKET socket) sit on ptype_all and see everything. netif_receive_skb
walks the taps, then the bucket, delivering to each *previous* match and
handing the last match the frame itself (the pt_prev trick): only the
earlier deliveries cost a clone. A frame nobody wants is dropped, counted
as rx_dropped on the device and as drop reason UNHANDLED_PROTO.

This scenario registers ip_rcv, arp_rcv and a tap in one namespace and
feeds frames of type IPv4, ARP and IPv6 (for which nothing is registered).

Its second part follows one frame the whole way, with linnet's
function_graph tracer on (what `echo function_graph > current_tracer`
shows on Linux): on two hosts with an established connection, a's
send() goes down tcp_sendmsg_locked → tcp_push_pending_frames →
tcp_write_xmit → tcp_transmit_skb → ip_queue_xmit → ip_local_out →
ip_output → ip_finish_output → ip_finish_output2 → neigh_output →
dev_queue_xmit → veth_xmit; on b the frame climbs netif_receive_skb →
ip_rcv → ip_rcv_finish (tcp_v4_early_demux → __inet_lookup_established,
then ip_route_input: the new socket has no cached input route yet) →
ip_local_deliver → ip_local_deliver_finish → tcp_v4_rcv (inet_protos[6],
taking the socket early demux found) → tcp_v4_do_rcv → tcp_rcv_established →
tcp_ack, tcp_data_queue, tcp_event_data_recv, and the ACK it asks for
leaves from inside the same call: tcp_ack_snd_check → tcp_send_ack →
tcp_transmit_skb → … → veth_xmit. Durations are left out (Linux's
funcgraph-duration option) so the text replays exactly; `netlab run
NAME --ftrace` prints the graph of any scenario.

Book: net-core → dev. Linux: dev_add_pack, __netif_receive_skb_core,
deliver_skb (net/core/dev.c); ip_rcv, ip_local_deliver_finish
(net/ipv4/ip_input.c); tcp_v4_rcv (net/ipv4/tcp_ipv4.c); the tracer is
kernel/trace/trace_functions_graph.c.";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut out = ptype_part(opts)?;
    let _ = writeln!(out);
    out.push_str(&graph_part(opts)?);
    Ok(Report {
        headline: "the EtherType picks the handler; only the last delivery gets the frame without a clone"
            .into(),
        text: out,
        ..Default::default()
    })
}

/// Part 1: handlers and a tap in one bare namespace.
fn ptype_part(opts: &RunOpts) -> Result<String, String> {
    let net = crate::host("host", Clock::new_virtual(), opts)?;
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let handler = |name: &'static str, ty: u16| {
        let log = log.clone();
        PacketType::new(ty, name, move |_, skb: Skb| {
            let how = if skb.cloned() { "a clone (shares the bytes)" } else { "the frame itself" };
            log.lock().unwrap().push(format!("    {name:<8} gets {how}"));
            NetRx::Success
        })
    };
    net.dev_add_pack(handler("ip_rcv", ETH_P_IP));
    net.dev_add_pack(handler("arp_rcv", ETH_P_ARP));
    let tap = handler("tcpdump", net_core::if_ether::ETH_P_ALL);

    let mut out = String::new();
    let _ = writeln!(out, "registered (walk order):");
    for (ty, name, all) in net.ptype_list() {
        let _ = writeln!(
            out,
            "  {:<9} type {:#06x} -> {}",
            if all { "ptype_all" } else { "ptype_base" },
            ty,
            name
        );
    }
    let feed = |out: &mut String, ty: u16, what: &str| {
        let mut skb = alloc_skb(128);
        skb.put(40);
        skb.protocol = ty;
        let bucket = ty & net_core::dev::PTYPE_HASH_MASK;
        let r = net.netif_receive_skb(skb);
        let _ = writeln!(out, "  {what:<5} frame, type {ty:#06x} (bucket {bucket:>2}): {r:?}");
        for l in log.lock().unwrap().drain(..) {
            let _ = writeln!(out, "{l}");
        }
    };
    let _ = writeln!(out, "\nwithout a tap:");
    feed(&mut out, ETH_P_IP, "IPv4");
    feed(&mut out, ETH_P_ARP, "ARP");
    feed(&mut out, ETH_P_IPV6, "IPv6");
    net.dev_add_pack(tap);
    let _ = writeln!(out, "\nwith tcpdump's tap on ptype_all:");
    feed(&mut out, ETH_P_IP, "IPv4");
    feed(&mut out, ETH_P_IPV6, "IPv6");
    let _ = writeln!(out, "\ndrops by reason:");
    for (reason, n) in net.drops.nonzero() {
        let _ = writeln!(out, "  {:<16} {n}", reason.as_str());
    }
    Ok(out)
}

/// Events the tracer may hold per phase; one phase needs about 80.
const GRAPH_ENTRIES: usize = 1024;

/// Part 2: one data segment on an established connection, traced from
/// a's `send()` to b's socket and b's ACK on the wire.
fn graph_part(opts: &RunOpts) -> Result<String, String> {
    let mut lab = TcpLab::new(opts)?;
    let (client, server, _listener) = lab.connect()?;
    // Let the handshake's last ACK land and everything settle.
    let t0 = lab.now_ms() + 10;
    lab.run_until_ms(t0);
    let before = lab.trace_text().lines().count();

    let mut out = String::from("one segment's path (function_graph; funcgraph-duration off):\n");
    let t = GraphTracer::start(GRAPH_ENTRIES);
    let sent = client.send(b"hello").map_err(e("send"))?;
    let tx = t.finish();
    let _ = writeln!(out, "\non a: send(fd, \"hello\", 5) = {sent}");
    out.push_str(&tx.print(FgraphOpts::default()));

    // The segment needs LATENCY_NS to reach b; stop before b's ACK
    // reaches a, so this buffer holds b's side alone.
    let t = GraphTracer::start(GRAPH_ENTRIES);
    lab.sim.run_until(t0 * 1_000_000 + LATENCY_NS + LATENCY_NS / 2);
    let rx = t.finish();
    let _ = writeln!(out, "\non b: the frame arrives (the ACK it triggers leaves inside the same call)");
    out.push_str(&rx.print(FgraphOpts::default()));

    lab.run_until_ms(t0 + 5);
    let mut buf = [0u8; 16];
    let got = server.recv(&mut buf).map_err(e("recv"))?;
    let _ = writeln!(out, "\non b: recv() = {got} ({:?})", String::from_utf8_lossy(&buf[..got]));
    let _ = writeln!(out, "\ntcpdump -n -i eth0 (on a):");
    for l in lab.trace_text().lines().skip(before) {
        let _ = writeln!(out, "{l}");
    }
    Ok(out)
}
