//! being written
use crate::sock::TcpSock;
use net_core::Net;
/// `tcp_write_timer()`.
pub fn tcp_write_timer(_net: &Net, _sk: &TcpSock) {}
/// `tcp_delack_timer()`.
pub fn tcp_delack_timer(_net: &Net, _sk: &TcpSock) {}
/// `tcp_keepalive_timer()`.
pub fn tcp_keepalive_timer(_net: &Net, _sk: &TcpSock) {}
