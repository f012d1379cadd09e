//! An in-memory Ethernet segment for tests and examples.
//!
//! No Linux twin: this is the cable between hosts in a test. A [`Hub`] is a
//! broadcast segment (every frame reaches every other port, after a fixed
//! latency, as on an old coaxial Ethernet or a switch that floods); each
//! port is a [`NetDevice`] a host registers. Hosts decide what is theirs by
//! destination MAC, as real NICs do. net-dev's `Wire` (with loss, delay,
//! reordering) replaces this outside net-ipv4's own tests.
//!
//! [`run_until_idle`] drives a set of hosts in virtual time: poll everyone
//! until nobody has work, then jump the shared clock to the earliest timer
//! or frame arrival, until a deadline.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use net_core::net_namespace::next_wakeup_ns;
use net_core::netdevice::{MacAddr, NapiSched, NetDeviceSetup, netdev_xmit_more};
use net_core::skbuff::{alloc_skb, skb_from_frame};
use net_core::{Clock, Net, NetDev, NetDevice, NetdevTx, SkBuffHead, Skb};

type Queue = Arc<spin::Mutex<VecDeque<(u64, Skb)>>>;

/// A port's receive queue and its poll-list flag, which the sender sets
/// under the queue's lock (an interrupt's `napi_schedule()`).
type Port = (Queue, NapiSched);

/// A broadcast segment with a fixed one-way latency.
#[derive(Clone)]
pub struct Hub {
    clock: Clock,
    latency_ns: u64,
    ports: Arc<spin::Mutex<Vec<Port>>>,
    /// Frames carried so far (every copy counts once per sender).
    pub frames: Arc<std::sync::atomic::AtomicU64>,
}

impl Hub {
    /// A segment on `clock` whose frames arrive `latency_ns` after they leave.
    pub fn new(clock: &Clock, latency_ns: u64) -> Hub {
        Hub { clock: clock.clone(), latency_ns, ports: Arc::default(), frames: Arc::default() }
    }

    /// A new port, to register as a device named `name` with `mac`.
    pub fn port(&self, name: &str, mac: MacAddr) -> HubPort {
        let (q, napi): Port = (Arc::default(), NapiSched::new());
        let mut ports = self.ports.lock();
        let index = ports.len();
        ports.push((q.clone(), napi.clone()));
        HubPort {
            hub: self.clone(),
            index,
            rx: q,
            napi,
            name: name.to_string(),
            mac,
            mtu: 1500,
            pending: SkBuffHead::new(),
        }
    }

    /// Plug a new port into `net` as an Ethernet device, bring it up and
    /// return it.
    pub fn attach(&self, net: &Net, name: &str, mac: MacAddr) -> Arc<NetDev> {
        let dev = net.register_netdev(Box::new(self.port(name, mac))).expect("register test port");
        dev.open().expect("open test port");
        dev
    }
}

/// One port of a [`Hub`]: an Ethernet device.
pub struct HubPort {
    hub: Hub,
    index: usize,
    rx: Queue,
    napi: NapiSched,
    name: String,
    mac: MacAddr,
    mtu: u32,
    /// Frames handed over while more were to follow
    /// ([`netdev_xmit_more`]), not yet on the hub.
    pending: SkBuffHead,
}

impl HubPort {
    /// Use this MTU instead of 1500.
    pub fn with_mtu(mut self, mtu: u32) -> Self {
        self.mtu = mtu;
        self
    }
}

impl NetDevice for HubPort {
    fn setup(&self) -> NetDeviceSetup {
        let mut s = NetDeviceSetup::ether(&self.name, self.mac);
        s.mtu = self.mtu;
        s.napi = Some(self.napi.clone());
        s
    }

    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        // A batch (a GSO burst's segments) crosses under one lock of each
        // receiving port, as a driver rings its doorbell once per batch:
        // hold frames while the stack says more follow.
        self.pending.queue_tail(skb);
        if !netdev_xmit_more() {
            self.hub_xmit();
        }
        NetdevTx::Ok
    }

    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let now = self.hub.clock.now_ns();
        let mut q = self.rx.lock();
        let mut n = 0;
        while n < budget && q.front().is_some_and(|(at, _)| *at <= now) {
            let (_, frame) = q.pop_front().expect("front checked");
            rx.queue_tail(frame);
            n += 1;
        }
        // Frames still in flight keep the port on the poll list.
        self.napi.napi_complete(!q.is_empty());
        n
    }

    fn next_rx_time(&self) -> Option<u64> {
        self.rx.lock().front().map(|(at, _)| *at)
    }
}

impl HubPort {
    /// Carry the held frames to every other port.
    fn hub_xmit(&mut self) {
        let at = self.hub.clock.now_ns() + self.hub.latency_ns;
        let n = self.pending.len();
        // The skb itself crosses, as veth_xmit() hands it to the peer: each
        // other port gets a clone sharing the bytes (skb_clone()), the last
        // one the original. No copy unless a receiver writes.
        let ports = self.hub.ports.lock();
        // Counted under the ports lock, which every sender takes: a plain
        // add, not an atomic read-modify-write.
        let frames = &self.hub.frames;
        frames.store(frames.load(Ordering::Relaxed) + n as u64, Ordering::Relaxed);
        let last = (0..ports.len()).rev().find(|&i| i != self.index);
        for (i, (q, napi)) in ports.iter().enumerate() {
            if i == self.index {
                continue;
            }
            let mut q = q.lock();
            if Some(i) == last {
                while let Some(mut frame) = self.pending.dequeue() {
                    frame.skb_scrub_packet();
                    q.push_back((at, frame));
                }
            } else {
                // Clone each frame and put it back behind the others: one
                // turn of the queue leaves it as it was.
                for _ in 0..n {
                    let orig = self.pending.dequeue().expect("n frames held");
                    let mut frame = orig.clone();
                    frame.skb_scrub_packet();
                    q.push_back((at, frame));
                    self.pending.queue_tail(orig);
                }
            }
            napi.napi_schedule();
        }
        drop(ports);
        self.pending.purge(); // a port alone on its hub sends into nothing
    }
}

/// Drive `hosts` (sharing `clock`) until nothing is left to do or the clock
/// would pass `deadline_ns`. Returns the virtual time reached.
pub fn run_until_idle(clock: &Clock, hosts: &[&Arc<Net>], deadline_ns: u64) -> u64 {
    // Bounded: at most this many jumps, so a livelock fails loudly.
    for _ in 0..10_000_000u64 {
        let mut work = 0;
        for h in hosts {
            work += h.poll();
        }
        if work > 0 {
            continue;
        }
        let now = clock.now_ns();
        match hosts.iter().filter_map(|h| h.next_event_ns()).min() {
            Some(t) if t <= deadline_ns => {
                clock.set_ns(next_wakeup_ns(now, t));
            }
            _ => {
                if now < deadline_ns {
                    clock.set_ns(deadline_ns);
                    for h in hosts {
                        h.poll();
                    }
                }
                return clock.now_ns();
            }
        }
    }
    panic!("run_until_idle: hosts never went idle");
}

/// Frames a [`CaptureDev`] was asked to send, in order.
pub type CapturedFrames = Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// A device that records every frame it is asked to send and never
/// receives anything: `eth0` with MAC 02:00:00:00:00:01. For unit tests
/// that inspect exactly what a layer puts on the wire.
pub struct CaptureDev(pub CapturedFrames);

impl NetDevice for CaptureDev {
    fn setup(&self) -> NetDeviceSetup {
        NetDeviceSetup::ether("eth0", [2, 0, 0, 0, 0, 1])
    }

    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        self.0.lock().expect("capture lock").push(skb.data().to_vec());
        NetdevTx::Ok
    }

    fn poll(&mut self, _budget: usize, _rx: &mut SkBuffHead) -> usize {
        0
    }
}

/// Where the transport header starts in a frame from [`eth_ipv4_frame`]:
/// 14 bytes of Ethernet, 20 of IPv4.
pub const ETH_IPV4_L4_OFFSET: usize = 34;

/// A zeroed Ethernet frame from `src` to `dst` carrying an IPv4 datagram
/// (DF, TTL 64, no options) from `saddr` to `daddr` of protocol `proto`
/// with `l4_len` bytes for the caller to fill from
/// [`ETH_IPV4_L4_OFFSET`] on: the frames a test injects as the far end.
pub fn eth_ipv4_frame(
    dst: MacAddr,
    src: MacAddr,
    saddr: std::net::Ipv4Addr,
    daddr: std::net::Ipv4Addr,
    proto: u8,
    l4_len: usize,
) -> Vec<u8> {
    let tot = crate::ip::IPHDR_LEN + l4_len;
    let mut f = vec![0u8; 14 + tot];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&net_core::if_ether::ETH_P_IP.to_be_bytes());
    crate::ip::IpHdrBuilder {
        tot_len: tot.min(0xffff) as u16,
        frag_off: crate::ip::IP_DF,
        protocol: proto,
        saddr,
        daddr,
        ..crate::ip::IpHdrBuilder::TEMPLATE
    }
    .write(&mut f[14..ETH_IPV4_L4_OFFSET]);
    f
}

/// What a [`ScriptDev`] shares with its test: frames the host sent (with
/// the virtual time they left) and frames waiting to be received.
#[derive(Debug, Default)]
pub struct ScriptLink {
    /// Frames the host sent, with the time they left, in order.
    pub tx: Vec<(u64, Vec<u8>)>,
    /// Frames to deliver to the host, received at its next `poll()`.
    pub rx: VecDeque<Vec<u8>>,
}

/// A [`ScriptLink`] as the test holds it.
pub type ScriptLinkRef = Arc<std::sync::Mutex<ScriptLink>>;

/// An Ethernet device driven by a test playing the other end, as
/// packetdrill's tun device is: what the host transmits is captured with
/// its virtual time; what the test pushes on [`ScriptLink::rx`] arrives at
/// the host's next poll.
pub struct ScriptDev {
    clock: Clock,
    mac: MacAddr,
    link: ScriptLinkRef,
}

impl ScriptDev {
    /// `eth0` with hardware address `mac`, and the link to drive it by.
    pub fn new(clock: &Clock, mac: MacAddr) -> (ScriptDev, ScriptLinkRef) {
        let link = ScriptLinkRef::default();
        (ScriptDev { clock: clock.clone(), mac, link: link.clone() }, link)
    }
}

impl NetDevice for ScriptDev {
    fn setup(&self) -> NetDeviceSetup {
        NetDeviceSetup::ether("eth0", self.mac)
    }

    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        let now = self.clock.now_ns();
        self.link.lock().unwrap_or_else(|e| e.into_inner()).tx.push((now, skb.data().to_vec()));
        NetdevTx::Ok
    }

    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let mut l = self.link.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        while n < budget {
            let Some(frame) = l.rx.pop_front() else { break };
            rx.queue_tail(skb_from_frame(0, &frame));
            n += 1;
        }
        n
    }
}

/// A received datagram as `ip_local_deliver_finish()` hands it to a
/// transport: an IPv4 header (TTL 64, no options) from `saddr` to `daddr`
/// carrying `l4`, with the network header marked and `data` at the
/// transport header. For unit tests of transports.
pub fn rx_datagram(saddr: std::net::Ipv4Addr, daddr: std::net::Ipv4Addr, proto: u8, l4: &[u8]) -> Skb {
    let mut skb = alloc_skb(64 + 20 + l4.len());
    skb.reserve(64);
    let hdr = crate::ip::IpHdrBuilder {
        tot_len: (20 + l4.len()) as u16,
        protocol: proto,
        saddr,
        daddr,
        ..crate::ip::IpHdrBuilder::TEMPLATE
    };
    hdr.write(skb.put(20));
    skb.put_data(l4);
    skb.reset_network_header();
    skb.pull(20);
    skb.reset_transport_header();
    skb
}

/// Two hosts on one [`Hub`], the way most tests start: `a` is 10.0.0.1/24
/// and `b` is 10.0.0.2/24, each with `eth0` (MAC 02:00:00:00:00:01 / :02),
/// IPv4 initialised, the clock starting at 1 s. The gratuitous ARPs of
/// `ip addr add` have settled when [`TwoHosts::new`] returns.
pub struct TwoHosts {
    /// The shared virtual clock.
    pub clock: Clock,
    /// Host a, 10.0.0.1.
    pub a: Arc<Net>,
    /// Host b, 10.0.0.2.
    pub b: Arc<Net>,
    /// a's IPv4 state.
    pub a4: Arc<crate::Ipv4>,
    /// b's IPv4 state.
    pub b4: Arc<crate::Ipv4>,
}

impl TwoHosts {
    /// Host a's address.
    pub const A: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 0, 1);
    /// Host b's address.
    pub const B: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 0, 2);

    /// Build both hosts on a hub with `latency_ns` one-way latency.
    pub fn new(latency_ns: u64) -> TwoHosts {
        let clock = Clock::new_virtual_at(1_000_000_000);
        let hub = Hub::new(&clock, latency_ns);
        let host = |name: &str, mac: u8, addr: std::net::Ipv4Addr, seed: u64| {
            let net = Net::new(name, clock.clone(), seed);
            let ipv4 = crate::ipv4_init(&net);
            let dev = hub.attach(&net, "eth0", [0x02, 0, 0, 0, 0, mac]);
            crate::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, addr, 24).expect("address");
            (net, ipv4)
        };
        let (a, a4) = host("a", 1, Self::A, 1);
        let (b, b4) = host("b", 2, Self::B, 2);
        let lab = TwoHosts { clock, a, b, a4, b4 };
        lab.run_ms(10);
        lab
    }

    /// Run both hosts for `ms` milliseconds of virtual time.
    pub fn run_ms(&self, ms: u64) {
        let deadline = self.clock.now_ns() + ms * 1_000_000;
        run_until_idle(&self.clock, &[&self.a, &self.b], deadline);
    }
}
