//! CONTRACT STUB (signatures final; bodies being written).
//!
//! Mirrors net/ipv4/af_inet.c (`inet_init`, `inet_bind`, `inet_listen`,
//! `inet_accept`, `inet_stream_connect`, `inet_shutdown`, `inet_release`)
//! and the socket-option half of net/core/sock.c and net/ipv4/tcp.c.

use std::net::SocketAddrV4;
use std::sync::Arc;

use net_core::{Errno, Net};

use crate::inet_hashtables::InetHashinfo;
use crate::sock::TcpSock;
use crate::sysctl_net_ipv4_tcp::TcpSysctls;

/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 1;
/// `SOL_TCP` / `IPPROTO_TCP`.
pub const SOL_TCP: i32 = 6;
/// `SO_REUSEADDR`.
pub const SO_REUSEADDR: i32 = 2;
/// `SO_ERROR`.
pub const SO_ERROR: i32 = 4;
/// `SO_SNDBUF`.
pub const SO_SNDBUF: i32 = 7;
/// `SO_RCVBUF`.
pub const SO_RCVBUF: i32 = 8;
/// `SO_KEEPALIVE`.
pub const SO_KEEPALIVE: i32 = 9;
/// `SO_LINGER`.
pub const SO_LINGER: i32 = 13;
/// `SO_REUSEPORT`.
pub const SO_REUSEPORT: i32 = 15;
/// `SO_RCVTIMEO` (`SO_RCVTIMEO_OLD`).
pub const SO_RCVTIMEO: i32 = 20;
/// `SO_SNDTIMEO` (`SO_SNDTIMEO_OLD`).
pub const SO_SNDTIMEO: i32 = 21;
/// `TCP_NODELAY`.
pub const TCP_NODELAY: i32 = 1;
/// `TCP_MAXSEG`.
pub const TCP_MAXSEG: i32 = 2;
/// `TCP_INFO`.
pub const TCP_INFO: i32 = 11;
/// `TCP_SYNCNT`.
pub const TCP_SYNCNT: i32 = 7;
/// `TCP_USER_TIMEOUT`.
pub const TCP_USER_TIMEOUT: i32 = 18;
/// `POLLIN`.
pub const POLLIN: u32 = 0x001;
/// `POLLPRI`.
pub const POLLPRI: u32 = 0x002;
/// `POLLOUT`.
pub const POLLOUT: u32 = 0x004;
/// `POLLERR`.
pub const POLLERR: u32 = 0x008;
/// `POLLHUP`.
pub const POLLHUP: u32 = 0x010;
/// `POLLRDNORM`.
pub const POLLRDNORM: u32 = 0x040;
/// `POLLWRNORM`.
pub const POLLWRNORM: u32 = 0x100;
/// `POLLRDHUP`.
pub const POLLRDHUP: u32 = 0x2000;
/// `MSG_PEEK`.
pub const MSG_PEEK: i32 = 0x02;
/// `MSG_DONTWAIT`.
pub const MSG_DONTWAIT: i32 = 0x40;
/// `MSG_WAITALL`.
pub const MSG_WAITALL: i32 = 0x100;

/// `shutdown(2)`'s `how`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `SHUT_RD` (0).
    Read,
    /// `SHUT_WR` (1).
    Write,
    /// `SHUT_RDWR` (2).
    Both,
}

/// TCP's per-namespace state: `tcp_hashinfo` (Linux: global unless
/// `tcp_child_ehash_entries`), `net->ipv4.sysctl_tcp_*`, the ISN and port
/// secrets.
pub struct TcpNet {
    /// The three hash tables.
    pub hashinfo: InetHashinfo,
    /// `net.ipv4.tcp_*`.
    pub sysctl: TcpSysctls,
}

/// Wire IPv4 and TCP into `net` (`inet_init()`): `ipv4_init` (ARP, IP,
/// ICMP, UDP) and then `inet_add_protocol(&tcp_protocol, IPPROTO_TCP)`.
/// Calling it twice returns the existing state.
pub fn inet_init(net: &Arc<Net>) -> Arc<TcpNet> {
    let _ = net;
    todo!()
}

/// A TCP socket handle: what a file descriptor from
/// `socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)` stands for. Dropping it is
/// `close()`.
pub struct TcpSocket {
    net: Arc<Net>,
    sk: Arc<TcpSock>,
}

impl TcpSocket {
    /// `socket(AF_INET, SOCK_STREAM, 0)`. `EAFNOSUPPORT` without `inet_init`.
    pub fn new(net: &Arc<Net>) -> Result<TcpSocket, Errno> {
        let _ = net;
        todo!()
    }
    /// The socket behind the handle.
    pub fn sock(&self) -> &Arc<TcpSock> {
        &self.sk
    }
    /// The namespace.
    pub fn net(&self) -> &Arc<Net> {
        &self.net
    }
    /// `fcntl(F_SETFL, O_NONBLOCK)`.
    pub fn set_nonblocking(&self, on: bool) {
        let _ = on;
        todo!()
    }
    /// `bind(2)`.
    pub fn bind(&self, addr: SocketAddrV4) -> Result<(), Errno> {
        let _ = addr;
        todo!()
    }
    /// `listen(2)`.
    pub fn listen(&self, backlog: i32) -> Result<(), Errno> {
        let _ = backlog;
        todo!()
    }
    /// `accept(2)`: blocks unless non-blocking (`EAGAIN`).
    pub fn accept(&self) -> Result<(TcpSocket, SocketAddrV4), Errno> {
        todo!()
    }
    /// `connect(2)`: non-blocking returns `EINPROGRESS`; a second call
    /// `EALREADY`, then 0/`EISCONN` once established, or the error.
    pub fn connect(&self, addr: SocketAddrV4) -> Result<(), Errno> {
        let _ = addr;
        todo!()
    }
    /// `send(2)` with flags (`MSG_DONTWAIT`).
    pub fn send_flags(&self, buf: &[u8], flags: i32) -> Result<usize, Errno> {
        let _ = (buf, flags);
        todo!()
    }
    /// `write(2)` / `send(fd, buf, len, 0)`.
    pub fn send(&self, buf: &[u8]) -> Result<usize, Errno> {
        self.send_flags(buf, 0)
    }
    /// `recv(2)` with flags (`MSG_DONTWAIT`, `MSG_PEEK`, `MSG_WAITALL`).
    /// 0 at end of stream.
    pub fn recv_flags(&self, buf: &mut [u8], flags: i32) -> Result<usize, Errno> {
        let _ = (buf, flags);
        todo!()
    }
    /// `read(2)` / `recv(fd, buf, len, 0)`.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.recv_flags(buf, 0)
    }
    /// `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Errno> {
        let _ = how;
        todo!()
    }
    /// `close(2)`: same as dropping the handle.
    pub fn close(self) {}
    /// `poll(2)` readiness: `POLLIN | POLLOUT | POLLHUP | …`.
    pub fn poll(&self) -> u32 {
        todo!()
    }
    /// `setsockopt(2)` with an `int` value.
    pub fn setsockopt_int(&self, level: i32, optname: i32, val: i32) -> Result<(), Errno> {
        let _ = (level, optname, val);
        todo!()
    }
    /// `setsockopt(2)` with raw bytes (`struct linger`, `struct timeval`, an `int`).
    pub fn setsockopt(&self, level: i32, optname: i32, optval: &[u8]) -> Result<(), Errno> {
        let _ = (level, optname, optval);
        todo!()
    }
    /// `getsockopt(2)` of an `int` option.
    pub fn getsockopt_int(&self, level: i32, optname: i32) -> Result<i32, Errno> {
        let _ = (level, optname);
        todo!()
    }
    /// `getsockname(2)`.
    pub fn local_addr(&self) -> SocketAddrV4 {
        todo!()
    }
    /// `getpeername(2)`: `ENOTCONN` when not connected.
    pub fn peer_addr(&self) -> Result<SocketAddrV4, Errno> {
        todo!()
    }
}
