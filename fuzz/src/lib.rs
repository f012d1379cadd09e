//! What linnet's fuzz targets share: two linnet hosts on an in-memory
//! link ([`Lab`]), a wire between them that can drop, duplicate, reorder
//! and delay frames ([`Wire`]), a byte pattern to check streams against
//! ([`pattern`]), and the checksum fixer that lets fuzzed frames past the
//! checksum checks ([`fix_checksums`]).
//!
//! No Linux twin: syzkaller drives the kernel's stack through a TUN
//! device (`syz_emit_ethernet`) and fixes up checksums the same way
//! (`csum` fields of its descriptions).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use net_core::net_namespace::next_wakeup_ns;
use net_core::netdevice::MacAddr;
use net_core::{Clock, Errno, Net};
use net_ipv4::ip::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IpHdr};
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::{ScriptDev, ScriptLinkRef};
use net_tcp::TcpSocket;
use net_tcp::af_inet::TcpNet;
use net_tcp::tcp_states::TcpState;

/// The server: 10.0.0.1, a listener on [`PORT`].
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The client: 10.0.0.2.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The server's MAC.
pub const SERVER_MAC: MacAddr = [2, 0, 0, 0, 0, 1];
/// The client's MAC.
pub const CLIENT_MAC: MacAddr = [2, 0, 0, 0, 0, 2];
/// The listening port.
pub const PORT: u16 = 80;
/// The clock at the start of every run: 1 s.
pub const START_NS: u64 = 1_000_000_000;
/// The link's one-way latency.
pub const LATENCY_NS: u64 = 100_000;
/// ehash buckets per host: small, so a host is cheap to build (thousands
/// of runs a second); lookups stay correct with any size.
pub const THASH_ENTRIES: usize = 64;

/// Pattern byte `i` of stream `stream`: what the fuzz targets' endpoints
/// send, so a byte out of place, lost or doubled shows.
pub fn pattern(stream: u64, i: u64) -> u8 {
    (i.wrapping_add(stream.wrapping_mul(0x1000_0000_01b3)).wrapping_mul(0x9e37_79b9) >> 13) as u8
}

/// One host: IPv4 and TCP, `eth0` on a [`ScriptDev`] (GRO on for the
/// server, GSO for the client), `ip`/24, the other host as a permanent neighbour.
fn host(
    clock: &Clock,
    name: &str,
    seed: u64,
    mac: MacAddr,
    ip: Ipv4Addr,
) -> (Arc<Net>, Arc<TcpNet>, ScriptLinkRef) {
    let net = Net::new(name, clock.clone(), seed);
    let tn = net_tcp::af_inet::inet_init_thash(&net, THASH_ENTRIES);
    let (dev, link) = ScriptDev::new(clock, mac);
    let dev = net.register_netdev(Box::new(dev)).expect("eth0");
    dev.open().expect("up");
    // The server receives through GRO (net_core::gro), the client sends
    // through GSO (net_core::gso); the other way round neither: the
    // fuzzers reach every path.
    dev.set_gro(ip == SERVER_IP);
    dev.set_gso(ip == CLIENT_IP);
    net_ipv4::devinet::inet_addr_add(&net, &tn.ipv4, dev.ifindex, ip, 24).expect("address");
    for (addr, hw) in [(SERVER_IP, SERVER_MAC), (CLIENT_IP, CLIENT_MAC)] {
        if addr != ip {
            tn.ipv4.arp_tbl.neigh_add(&net, dev.ifindex, addr, hw, NudState::Permanent).expect("neighbour");
        }
    }
    (net, tn, link)
}

/// A fault the wire applies to the next frame it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Lose it.
    Drop,
    /// Deliver it twice.
    Duplicate,
    /// Deliver it after the frame that follows it.
    Reorder,
    /// Deliver it this many nanoseconds late.
    Delay(u64),
}

/// The cable between the two hosts: frames in flight with their arrival
/// times, and faults waiting for the next frame.
#[derive(Debug, Default)]
pub struct Wire {
    /// (arrival time, towards the server, frame), in arrival order.
    in_flight: Vec<(u64, bool, Vec<u8>)>,
    /// Faults for the next frames, in order.
    pub faults: VecDeque<Fault>,
    /// A frame held back by [`Fault::Reorder`] until the next one passes.
    held: Option<(bool, Vec<u8>)>,
    /// Frames carried (after faults).
    pub carried: u64,
}

impl Wire {
    fn put(&mut self, at: u64, to_server: bool, frame: Vec<u8>) {
        let i = self.in_flight.partition_point(|(t, _, _)| *t <= at);
        self.in_flight.insert(i, (at, to_server, frame));
    }

    /// A frame sent at `sent_ns`: apply the next fault and queue it.
    fn send(&mut self, sent_ns: u64, to_server: bool, frame: Vec<u8>) {
        let at = sent_ns + LATENCY_NS;
        match self.faults.pop_front() {
            None => {
                self.put(at, to_server, frame);
                if let Some((d, f)) = self.held.take() {
                    self.put(at, d, f);
                }
            }
            Some(Fault::Drop) => {}
            Some(Fault::Duplicate) => {
                self.put(at, to_server, frame.clone());
                self.put(at, to_server, frame);
            }
            Some(Fault::Reorder) => {
                if let Some((d, f)) = self.held.replace((to_server, frame)) {
                    self.put(at, d, f);
                }
            }
            Some(Fault::Delay(ns)) => self.put(at + ns, to_server, frame),
        }
    }

    /// When the next frame arrives.
    fn next_arrival(&self) -> Option<u64> {
        self.in_flight.first().map(|(t, _, _)| *t)
    }

    /// Release a frame still held for reordering (nothing followed it).
    fn flush_held(&mut self, now: u64) {
        if let Some((d, f)) = self.held.take() {
            self.put(now + LATENCY_NS, d, f);
        }
    }
}

/// Two linnet hosts on a [`Wire`]: a server with a listener on [`PORT`]
/// and a client, on one virtual clock.
pub struct Lab {
    /// The shared virtual clock.
    pub clock: Clock,
    /// The server host.
    pub server: Arc<Net>,
    /// The server's TCP state.
    pub stn: Arc<TcpNet>,
    /// The server's link.
    pub slink: ScriptLinkRef,
    /// The client host.
    pub client: Arc<Net>,
    /// The client's TCP state.
    pub ctn: Arc<TcpNet>,
    /// The client's link.
    pub clink: ScriptLinkRef,
    /// The server's listening socket (nonblocking, backlog 16).
    pub listener: TcpSocket,
    /// The cable.
    pub wire: Wire,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab").field("now_ns", &self.clock.now_ns()).finish()
    }
}

impl Lab {
    /// Both hosts and the listener, at [`START_NS`] plus 1 ms. The same
    /// seeds every time: every run starts from the same state.
    pub fn new() -> Lab {
        let clock = Clock::new_virtual_at(START_NS);
        let (server, stn, slink) = host(&clock, "server", 1, SERVER_MAC, SERVER_IP);
        let (client, ctn, clink) = host(&clock, "client", 2, CLIENT_MAC, CLIENT_IP);
        let listener = TcpSocket::new(&server).expect("socket");
        listener.set_nonblocking(true);
        listener.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
        listener.listen(16).expect("listen");
        let mut lab = Lab { clock, server, stn, slink, client, ctn, clink, listener, wire: Wire::default() };
        lab.run_for(1_000_000);
        lab
    }

    /// Move what each host sent onto the wire, and what arrived by now
    /// to its receiver. Returns how many frames moved either way.
    fn shuttle(&mut self) -> usize {
        let from_server = std::mem::take(&mut self.slink.lock().unwrap_or_else(|e| e.into_inner()).tx);
        let from_client = std::mem::take(&mut self.clink.lock().unwrap_or_else(|e| e.into_inner()).tx);
        let mut moved = from_server.len() + from_client.len();
        for (t, f) in from_server {
            self.wire.send(t, false, f);
        }
        for (t, f) in from_client {
            self.wire.send(t, true, f);
        }
        let now = self.clock.now_ns();
        while self.wire.next_arrival().is_some_and(|t| t <= now) {
            let (_, to_server, f) = self.wire.in_flight.remove(0);
            let link = if to_server { &self.slink } else { &self.clink };
            link.lock().unwrap_or_else(|e| e.into_inner()).rx.push_back(f);
            self.wire.carried += 1;
            moved += 1;
        }
        moved
    }

    /// Run both hosts for `ns` of virtual time, carrying frames across
    /// the wire as they arrive: do all the work due now (both softirqs,
    /// then the wire), then jump to the next event (a timer, a frame
    /// arriving), until `deadline`.
    pub fn run_for(&mut self, ns: u64) {
        let deadline = self.clock.now_ns().saturating_add(ns);
        // Bounded: a livelock between the hosts fails loudly.
        for _ in 0..1_000_000 {
            loop {
                let work = self.server.poll() + self.client.poll();
                if work + self.shuttle() == 0 {
                    break;
                }
            }
            let now = self.clock.now_ns();
            let next = [self.server.next_event_ns(), self.client.next_event_ns(), self.wire.next_arrival()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= deadline => {
                    self.clock.set_ns(next_wakeup_ns(now, t).min(deadline.max(now + 1)));
                }
                _ if self.wire.held.is_some() => self.wire.flush_held(now),
                _ => {
                    if now < deadline {
                        self.clock.set_ns(deadline);
                        continue;
                    }
                    return;
                }
            }
        }
        panic!("the two hosts kept talking for 1,000,000 steps");
    }

    /// A connection from the client to the listener, accepted:
    /// (client socket, server's child), both nonblocking.
    pub fn connect(&mut self) -> (TcpSocket, TcpSocket) {
        let c = TcpSocket::new(&self.client).expect("socket");
        c.set_nonblocking(true);
        assert_eq!(c.connect(SocketAddrV4::new(SERVER_IP, PORT)), Err(Errno::EINPROGRESS));
        self.run_for(10_000_000);
        assert_eq!(c.state(), TcpState::Established);
        let (child, _) = self.listener.accept().expect("accepted");
        child.set_nonblocking(true);
        (c, child)
    }
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

/// Recompute the IPv4 header checksum of an Ethernet/IPv4 `frame` and, for
/// an unfragmented TCP, UDP or ICMP datagram whose `tot_len` fits the
/// frame, the transport checksum; anything else is left as it is. Lets a
/// fuzzer's mutations reach past the checksum checks, as syzkaller's
/// `csum` fields do.
pub fn fix_checksums(frame: &mut [u8]) {
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
        return;
    }
    let ip = &mut frame[14..];
    let Some(mut iph) = IpHdr::new_checked(&mut *ip) else { return };
    iph.fill_checksum();
    let (hl, tot, proto, frag) =
        (iph.hdrlen(), usize::from(iph.tot_len()), iph.protocol(), iph.is_fragment());
    let (saddr, daddr) = (iph.saddr(), iph.daddr());
    if frag || tot < hl || tot > ip.len() {
        return;
    }
    let l4 = &mut ip[hl..tot];
    match proto {
        IPPROTO_TCP => {
            if let Some(mut th) = net_tcp::tcphdr::TcpHdr::new_checked(l4) {
                th.fill_checksum(saddr, daddr);
            }
        }
        IPPROTO_UDP => {
            if let Some(mut uh) = net_ipv4::udp::UdpHdr::new_checked(l4) {
                uh.fill_checksum(saddr, daddr);
            }
        }
        IPPROTO_ICMP => {
            if let Some(mut ih) = net_ipv4::icmp::IcmpHdr::new_checked(l4) {
                ih.fill_checksum();
            }
        }
        _ => {}
    }
}

/// The frames of a `netif_receive_skb` input: each is a 3-byte header —
/// length (u16, big-endian; capped at 2048), then a flags byte: bit 0
/// asks for [`fix_checksums`], bits 1..7 are the milliseconds to let pass
/// before it — and that many bytes (fewer at the end of the input).
pub fn split_frames(data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 3 && out.len() < 64 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(2048);
        let flags = rest[2];
        rest = &rest[3..];
        let n = len.min(rest.len());
        out.push((flags, rest[..n].to_vec()));
        rest = &rest[n..];
    }
    out
}

/// The inverse of [`split_frames`]: the input that yields `frames`.
pub fn join_frames(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (flags, f) in frames {
        let len = f.len().min(2048);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.push(*flags);
        out.extend_from_slice(&f[..len]);
    }
    out
}
