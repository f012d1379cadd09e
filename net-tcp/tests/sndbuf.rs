//! A new connection's send buffer is sized from the peer's MSS.
//!
//! `tcp_init_buffer_space()` → `tcp_sndbuf_expand()` sizes `sk_sndbuf` for
//! two initial congestion windows of worst-case skbs: `2 × 10 × per_mss`,
//! `per_mss` being `max(mss_clamp, mss_cache) + MAX_TCP_HEADER +
//! skb_shared_info` rounded up to a power of two, plus the `sk_buff`. On
//! the active side `mss_clamp` must already be the peer's MSS from the
//! SYN-ACK when the ACK of the SYN frees send space (`tcp_new_space()`):
//! Linux parses the options at the top of `tcp_rcv_synsent_state_process()`.
//! Sizing it from `tcp_connect()`'s provisional 65535 gave a 1500-byte-MTU
//! client a 2.6 MB buffer from its first byte. A Linux 6.18 client on a
//! veth pair (MTU 1500, BBR, whose factor is 3 where CUBIC's is 2) shows
//! `tb69120` in `ss -m` right after `connect()`: 3 × 10 × 2304, sized from
//! the peer's 1460.

mod common;

use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::{SO_SNDBUF, SOL_SOCKET};
use net_tcp::inet_init;

#[test]
fn both_ends_size_the_send_buffer_from_the_peers_mss() {
    let lab = TwoHosts::new(0);
    inet_init(&lab.a);
    inet_init(&lab.b);
    let (c, s) = common::connected_pair(&lab, 80);
    // MSS 1460 + MAX_TCP_HEADER 320 + skb_shared_info 320 = 2100 → 4096,
    // + the sk_buff's 256: 4352 per segment, 2 × 10 of them.
    let want = 2 * 10 * 4352;
    let client = c.getsockopt_int(SOL_SOCKET, SO_SNDBUF).expect("SO_SNDBUF");
    let server = s.getsockopt_int(SOL_SOCKET, SO_SNDBUF).expect("SO_SNDBUF");
    println!("SO_SNDBUF after the handshake: client {client}, server {server}");
    assert_eq!(client, want, "the client's buffer is sized from the SYN-ACK's MSS");
    assert_eq!(server, want, "the server's buffer is sized from the SYN's MSS");
}
