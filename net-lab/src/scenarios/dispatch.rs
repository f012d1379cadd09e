//! Packet-type dispatch: EtherType → handler, taps, and pt_prev.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use net_core::if_ether::{ETH_P_ARP, ETH_P_IP, ETH_P_IPV6};
use net_core::skbuff::alloc_skb;
use net_core::{Clock, NetRx, PacketType, Skb};

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

Book: net-core → dev. Linux: dev_add_pack, __netif_receive_skb_core,
deliver_skb (net/core/dev.c).";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
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
    Ok(Report {
        headline: "the EtherType picks the handler; only the last delivery gets the frame without a clone"
            .into(),
        text: out,
        ..Default::default()
    })
}
