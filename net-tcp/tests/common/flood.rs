//! The lab of the TCP flood tests (syn_flood.rs, floods.rs): one linnet
//! server ([`SERVER_IP`], a listener on [`PORT`]) and one linnet client
//! ([`CLIENT_IP`]) on a zero-latency link the test drives itself, a
//! default route through [`GATEWAY_IP`] taking the server's answers to
//! spoofed sources nowhere (they are counted in [`Wire`]); the seeded
//! [`Rng`] the floods come from; and [`flood_count()`], a flood's size.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::netdevice::MacAddr;
use net_core::{Clock, Net};
use net_ipv4::fib::FibRoute;
use net_ipv4::testlink::{ETH_IPV4_L4_OFFSET, ScriptLinkRef, run_until_idle};
use net_tcp::TcpSocket;
use net_tcp::af_inet::TcpNet;
use net_tcp::tcphdr::{TCPHDR_ACK, TCPHDR_RST, TCPHDR_SYN};

pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
pub const SERVER_MAC: MacAddr = [2, 0, 0, 0, 0, 1];
pub const CLIENT_MAC: MacAddr = [2, 0, 0, 0, 0, 2];
pub const GATEWAY_MAC: MacAddr = [2, 0, 0, 0, 0, 0xfe];
pub const PORT: u16 = 80;
/// Packets (SYNs, ACKs, segments) injected per step of the link.
pub const BATCH: usize = 1024;

/// A flood's size: the environment variable `var` (a number of `what`),
/// else `default`; at least two batches, so a flood has a middle.
pub fn flood_count(var: &str, default: u64, what: &str) -> u64 {
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{var}: a number of {what}"))
            .max(2 * BATCH as u64),
        Err(_) => default,
    }
}

pub use super::Rng;

/// The flood's draws, on the shared generator: the same flood every run.
impl Rng {
    /// A unicast address outside 10/8 and 127/8: 1.0.0.0 – 223.255.255.255.
    pub fn spoofed_addr(&mut self) -> Ipv4Addr {
        loop {
            let a = self.u32();
            let first = a >> 24;
            if (1..=223).contains(&first) && first != 10 && first != 127 {
                return Ipv4Addr::from(a);
            }
        }
    }

    pub fn port(&mut self) -> u16 {
        1024 + (self.u32() % (65535 - 1024)) as u16
    }
}

/// What the server sent towards anyone but the client.
#[derive(Default, Debug)]
pub struct Wire {
    /// SYN-ACKs (first transmissions and retransmissions).
    pub synacks: u64,
    /// RSTs.
    pub rsts: u64,
    /// Anything else.
    pub other: u64,
}

pub struct Lab {
    pub clock: Clock,
    pub server: Arc<Net>,
    pub stn: Arc<TcpNet>,
    pub slink: ScriptLinkRef,
    pub client: Arc<Net>,
    pub clink: ScriptLinkRef,
    pub listener: TcpSocket,
    pub wire: Wire,
}

/// [`super::host()`] with a default route through [`GATEWAY_IP`].
fn host(
    clock: &Clock,
    name: &str,
    seed: u64,
    mac: MacAddr,
    ip: Ipv4Addr,
) -> (Arc<Net>, Arc<TcpNet>, ScriptLinkRef) {
    let neighbours = [(SERVER_IP, SERVER_MAC), (CLIENT_IP, CLIENT_MAC), (GATEWAY_IP, GATEWAY_MAC)];
    let (net, tn, link, ifindex) = super::host(clock, name, seed, mac, ip, &neighbours);
    tn.ipv4
        .fib
        .fib_table_insert(FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(GATEWAY_IP), ifindex))
        .expect("default route");
    (net, tn, link)
}

impl Lab {
    /// The two hosts, `tcp_syncookies` = `syncookies`, a listener with
    /// `backlog`, after 1 ms of virtual time. (What crossed [`Wire`]
    /// meanwhile stays counted.)
    pub fn new(syncookies: u8, backlog: i32) -> Lab {
        let clock = Clock::new_virtual_at(1_000_000_000);
        let (server, stn, slink) = host(&clock, "server", 1, SERVER_MAC, SERVER_IP);
        let (client, _ctn, clink) = host(&clock, "client", 2, CLIENT_MAC, CLIENT_IP);
        server.sysctl.set("net.ipv4.tcp_syncookies", &syncookies.to_string()).expect("sysctl");
        let listener = TcpSocket::new(&server).expect("socket");
        listener.set_nonblocking(true);
        listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
        listener.listen(backlog).expect("listen");
        let mut lab = Lab { clock, server, stn, slink, client, clink, listener, wire: Wire::default() };
        lab.run_for(1_000_000);
        lab
    }

    /// Move what each host sent: the client's frames to the server, the
    /// server's frames for the client to the client; the server's frames
    /// for anyone else (the spoofed sources) are counted and dropped.
    /// Returns how many frames moved between the two hosts.
    pub fn shuttle(&mut self) -> usize {
        let wire = &mut self.wire;
        super::shuttle(&self.slink, &self.clink, |f| {
            if f[30..34] == CLIENT_IP.octets() {
                return true;
            }
            let flags = f[ETH_IPV4_L4_OFFSET + 13];
            if flags & (TCPHDR_SYN | TCPHDR_ACK) == TCPHDR_SYN | TCPHDR_ACK {
                wire.synacks += 1;
            } else if flags & TCPHDR_RST != 0 {
                wire.rsts += 1;
            } else {
                wire.other += 1;
            }
            false
        })
    }

    /// Run both hosts for `ns` of virtual time, carrying frames between
    /// them (each hop takes effect at the next step: the link's latency is
    /// at most one step).
    pub fn run_for(&mut self, ns: u64) {
        let deadline = self.clock.now_ns() + ns;
        for _ in 0..10_000 {
            run_until_idle(&self.clock, &[&self.server, &self.client], deadline);
            if self.shuttle() == 0 {
                return;
            }
        }
        panic!("the two hosts kept talking for 10,000 steps");
    }
}
