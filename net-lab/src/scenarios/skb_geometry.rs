//! An sk_buff's life on the way out and back in.

use std::fmt::Write;

use net_core::skbuff::{SkBuff, alloc_skb};

use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Builds one TCP segment the way tcp_sendmsg and the layers below it do:
alloc_skb with room for the worst-case headers (MAX_TCP_HEADER), skb_reserve
to move data and tail forward, skb_put to append 100 bytes of payload, then
skb_push for the TCP (20), IPv4 (20) and Ethernet (14) headers. Then the
receive side: skb_pull strips the same headers again. At every step it
prints head/data/tail/end as offsets, the picture at the top of
include/linux/skbuff.h. Notice that the payload never moves: each layer only
moves `data`.

Book: net-core → skbuff. Linux: alloc_skb, skb_reserve, skb_put, skb_push,
skb_pull (net/core/skbuff.c).";

/// `MAX_TCP_HEADER` on x86-64 without tunnels: L1_CACHE_ALIGN(128 + MAX_HEADER).
const MAX_TCP_HEADER: usize = 320;

fn line(out: &mut String, step: &str, skb: &SkBuff) {
    let head = 0;
    let data = skb.data_offset();
    let tail = data + skb.len();
    let end = skb.end_offset();
    // A bar 64 columns wide: '.' headroom/tailroom, '#' packet data.
    let scale = |x: usize| x * 64 / end;
    let mut bar = String::new();
    for col in 0..64 {
        let in_data = col >= scale(data) && col < scale(tail).max(scale(data) + usize::from(tail > data));
        bar.push(if in_data { '#' } else { '.' });
    }
    let _ = writeln!(
        out,
        "{step:<32} head={head:<3} data={data:<4} tail={tail:<4} end={end:<4} len={:<4} |{bar}|",
        skb.len()
    );
}

pub fn run(_opts: &RunOpts) -> Result<Report, String> {
    let mut out = String::new();
    let mut skb = alloc_skb(MAX_TCP_HEADER + 100);
    line(&mut out, "alloc_skb(420)", &skb);
    skb.reserve(MAX_TCP_HEADER);
    line(&mut out, "skb_reserve(320)", &skb);
    skb.put(100).fill(b'x');
    line(&mut out, "skb_put(100)   payload", &skb);
    skb.push(20);
    skb.reset_transport_header();
    line(&mut out, "skb_push(20)   TCP header", &skb);
    skb.push(20);
    skb.reset_network_header();
    line(&mut out, "skb_push(20)   IPv4 header", &skb);
    skb.push(14);
    skb.reset_mac_header();
    line(&mut out, "skb_push(14)   Ethernet", &skb);
    let _ = writeln!(out, "  -- on the wire: {} bytes; the receiver pulls them off again --", skb.len());
    skb.pull(14).ok_or("pull failed")?;
    line(&mut out, "skb_pull(14)   eth_type_trans", &skb);
    skb.pull(20).ok_or("pull failed")?;
    line(&mut out, "skb_pull(20)   ip_local_deliver", &skb);
    skb.pull(20).ok_or("pull failed")?;
    line(&mut out, "skb_pull(20)   tcp_v4_rcv", &skb);
    let refused = skb.pull(1000).is_none();
    let _ = writeln!(
        out,
        "skb_pull(1000) on a {}-byte packet: {}",
        skb.len(),
        if refused { "refused (NULL), nothing moved" } else { "?" }
    );
    Ok(Report {
        headline: "headers are pushed in front of the payload and pulled off again; the payload never moves"
            .into(),
        text: out,
        ..Default::default()
    })
}
