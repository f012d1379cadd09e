//! CONTRACT STUB — helper H1 owns this file and replaces this text.
//!
//! Mirrors net/ipv4/inet_connection_sock.c: `inet_csk_get_port()`.

use std::sync::Arc;

use net_core::Errno;

use crate::inet_hashtables::InetHashinfo;
use crate::sock::TcpSock;

/// `inet_csk_get_port()`: bind `sk` (its `inet_rcv_saddr` set) to `snum`,
/// or to a free port in `range` when `snum` is 0 (search starting at an
/// offset from `rand`). `EADDRINUSE` on conflict, `EADDRNOTAVAIL` when no
/// ephemeral port is free.
pub fn inet_csk_get_port(
    hashinfo: &InetHashinfo,
    sk: &Arc<TcpSock>,
    snum: u16,
    range: (u16, u16),
    rand: u32,
) -> Result<u16, Errno> {
    let _ = (hashinfo, sk, snum, range, rand);
    todo!()
}
