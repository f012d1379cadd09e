//! The simulator: several hosts and the wires between them, stepped in
//! virtual time.
//!
//! No Linux twin. Linux runs one kernel per machine and real time drives
//! it; here every host is a [`Net`] sharing one virtual [`Clock`], and
//! [`Sim::step`] is a discrete-event loop: run every host's softirq
//! ([`Net::poll`]) until nobody has work, then jump the clock to the
//! earliest thing anyone is waiting for — a timer (`next_timer_ns`) or a
//! frame due out of a wire (`next_rx_time`). Nothing happens between those
//! instants, so an idle hour costs as many steps as there are events in it,
//! not 3.6 million jiffies.
//!
//! Determinism: hosts are polled in the order they were added, every random
//! choice comes from a generator seeded from the sim seed (each host's
//! `NetRandom`, each wire direction's netem), and nothing reads the wall
//! clock; the same seed and the same calls give the same run.
//!
//! Every loop is bounded: a host that keeps finding work at one instant (a
//! livelock) or a run that needs more steps than its cap panics with a
//! message saying which, rather than hanging a test.

use std::sync::{Arc, Mutex};

use net_core::net_namespace::next_wakeup_ns;
use net_core::netdevice::{MacAddr, NetDev};
use net_core::random::NetRandom;
use net_core::skbuff::PktType;
use net_core::{Clock, Errno, Net, NetRx, PacketType};

use crate::loopback::Loopback;
use crate::veth::{LinkParams, Wire, WireHandle};

/// Rounds of polling at one instant before the simulator calls it a livelock.
pub const MAX_POLL_ROUNDS: usize = 100_000;
/// Default cap on steps per `run_*` call.
pub const DEFAULT_STEP_LIMIT: u64 = 50_000_000;

/// One frame a host saw, as the event log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    /// Virtual time, ns.
    pub time_ns: u64,
    /// Host name.
    pub host: String,
    /// Device the frame crossed.
    pub ifindex: u32,
    /// True when the host sent it.
    pub outgoing: bool,
    /// The frame from its MAC header.
    pub frame: Vec<u8>,
}

/// One link the simulator made.
#[derive(Clone, Debug)]
pub struct SimLink {
    /// Host index and device of end a.
    pub a: (usize, Arc<NetDev>),
    /// Host index and device of end b.
    pub b: (usize, Arc<NetDev>),
    /// Handle on end a (counters, transmit parameters).
    pub handle_a: WireHandle,
    /// Handle on end b.
    pub handle_b: WireHandle,
}

/// Several hosts and their wires on one virtual clock.
///
/// ```
/// use net_dev::{LinkParams, Sim};
///
/// let mut sim = Sim::new(7);
/// let a = sim.add_host("a");
/// let b = sim.add_host("b");
/// let (eth_a, eth_b) = sim.connect(&a, &b, LinkParams::with_delay(1_000_000)).unwrap();
/// assert_eq!((eth_a.name.as_str(), eth_b.name.as_str()), ("eth0", "eth0"));
/// assert_eq!(a.dev_get_by_name("lo").map(|lo| lo.ifindex), Some(1));
/// sim.run_for(5_000_000);
/// assert_eq!(sim.now_ns(), 5_000_000);
/// assert!(!sim.step(), "nothing pending");
/// ```
pub struct Sim {
    clock: Clock,
    seed: u64,
    rng: NetRandom,
    hosts: Vec<Arc<Net>>,
    links: Vec<SimLink>,
    steps: u64,
    step_limit: u64,
    log: Option<Arc<Mutex<Vec<SimEvent>>>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now_ns", &self.now_ns())
            .field("hosts", &self.hosts.len())
            .field("steps", &self.steps)
            .finish()
    }
}

/// What one bounded step found.
enum Step {
    /// Time moved to the next event.
    Advanced,
    /// Nothing is pending anywhere.
    Idle,
    /// The next event lies beyond the deadline; the clock is at the deadline.
    Deadline,
}

impl Sim {
    /// An empty simulation at time 0 whose randomness all derives from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            clock: Clock::new_virtual(),
            seed,
            rng: NetRandom::new(seed),
            hosts: Vec::new(),
            links: Vec::new(),
            steps: 0,
            step_limit: DEFAULT_STEP_LIMIT,
            log: None,
        }
    }

    /// The shared clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Virtual time, ns.
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// The seed the simulation was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Steps taken so far (clock jumps plus idle checks).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Cap the steps one `run_*` call may take (a livelock guard).
    pub fn set_step_limit(&mut self, limit: u64) {
        self.step_limit = limit.max(1);
    }

    /// The hosts, in the order added.
    pub fn hosts(&self) -> &[Arc<Net>] {
        &self.hosts
    }

    /// The links, in the order made.
    pub fn links(&self) -> &[SimLink] {
        &self.links
    }

    /// Add a host: a namespace on the sim clock, seeded from the sim seed,
    /// with `lo` registered and up at ifindex 1 (`loopback_net_init()`).
    pub fn add_host(&mut self, name: &str) -> Arc<Net> {
        let seed = self.rng.get_random_u64();
        let net = Net::new(name, self.clock.clone(), seed);
        if let Ok(lo) = net.register_netdev(Box::new(Loopback::new(self.clock.clone()))) {
            let _ = lo.open();
        }
        if let Some(log) = &self.log {
            add_log_tap(&net, log.clone());
        }
        self.hosts.push(net.clone());
        net
    }

    fn host_index(&self, net: &Arc<Net>) -> Option<usize> {
        self.hosts.iter().position(|h| Arc::ptr_eq(h, net))
    }

    /// Connect two hosts with a wire whose directions both behave as
    /// `params`; the ends are registered as the next free `ethN` on each
    /// host, with MAC `02:00:00:HH:HH:NN` (host index, port number), and
    /// opened. Fails with `ENODEV` for a host not in this sim.
    pub fn connect(
        &mut self,
        a: &Arc<Net>,
        b: &Arc<Net>,
        params: LinkParams,
    ) -> Result<(Arc<NetDev>, Arc<NetDev>), Errno> {
        self.connect_asym(a, b, params.clone(), params)
    }

    /// As [`connect`](Self::connect) with different behaviour each way:
    /// `a_to_b` for frames a sends, `b_to_a` for frames b sends (an ADSL
    /// line, a lossy uplink). Each end's MTU is the one its receiving
    /// direction names.
    pub fn connect_asym(
        &mut self,
        a: &Arc<Net>,
        b: &Arc<Net>,
        a_to_b: LinkParams,
        b_to_a: LinkParams,
    ) -> Result<(Arc<NetDev>, Arc<NetDev>), Errno> {
        let ia = self.host_index(a).ok_or(Errno::ENODEV)?;
        let ib = self.host_index(b).ok_or(Errno::ENODEV)?;
        let seed = self.rng.get_random_u64();
        let seed_back = self.rng.get_random_u64();
        let name = |net: &Net| {
            (0..).map(|i| format!("eth{i}")).find(|n| net.dev_get_by_name(n).is_none()).unwrap_or_default()
        };
        let mac = |host: usize, port: &str| -> MacAddr {
            let p = port.trim_start_matches("eth").parse::<u8>().unwrap_or(0);
            [0x02, 0, 0, (host >> 8) as u8, host as u8, p]
        };
        let (na, nb) = (name(a), name(b));
        let nb =
            if ia == ib && na == nb { format!("eth{}", na[3..].parse::<u32>().unwrap_or(0) + 1) } else { nb };
        let (ea, eb) =
            Wire::pair_with(self.clock.clone(), (&na, mac(ia, &na)), (&nb, mac(ib, &nb)), &a_to_b, seed);
        let (ha, hb) = (ea.handle(), eb.handle());
        if b_to_a != a_to_b {
            hb.set_tx_params(b_to_a, seed_back);
        }
        let da = a.register_netdev(Box::new(ea))?;
        let db = b.register_netdev(Box::new(eb))?;
        da.open()?;
        db.open()?;
        self.links.push(SimLink { a: (ia, da.clone()), b: (ib, db.clone()), handle_a: ha, handle_b: hb });
        Ok((da, db))
    }

    /// The wire handle behind a device the sim created.
    pub fn wire(&self, dev: &Arc<NetDev>) -> Option<WireHandle> {
        self.links.iter().find_map(|l| {
            if Arc::ptr_eq(&l.a.1, dev) {
                Some(l.handle_a.clone())
            } else if Arc::ptr_eq(&l.b.1, dev) {
                Some(l.handle_b.clone())
            } else {
                None
            }
        })
    }

    /// Record every frame every host sends or receives from now on (a
    /// `ptype_all` tap on each host, present and future).
    pub fn enable_log(&mut self) -> Arc<Mutex<Vec<SimEvent>>> {
        if let Some(l) = &self.log {
            return l.clone();
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        for h in &self.hosts {
            add_log_tap(h, log.clone());
        }
        self.log = Some(log.clone());
        log
    }

    /// Poll every host until none has work at this instant.
    ///
    /// # Panics
    /// After [`MAX_POLL_ROUNDS`] rounds that all did work: a livelock.
    pub fn poll_all(&self) -> usize {
        let mut total = 0;
        for _ in 0..MAX_POLL_ROUNDS {
            let work: usize = self.hosts.iter().map(|h| h.poll()).sum();
            if work == 0 {
                return total;
            }
            total += work;
        }
        panic!(
            "Sim (seed {}): livelock at t={} ns: hosts still busy after {MAX_POLL_ROUNDS} poll rounds",
            self.seed,
            self.now_ns()
        );
    }

    /// The earliest time anyone waits for: every host's next timer and every
    /// up device's next due frame.
    pub fn next_event_ns(&self) -> Option<u64> {
        self.hosts.iter().filter_map(|h| h.next_event_ns()).min()
    }

    // ANCHOR: sim_step
    fn step_bounded(&mut self, deadline: Option<u64>) -> Step {
        self.steps += 1;
        self.poll_all();
        let now = self.now_ns();
        let Some(t) = self.next_event_ns() else {
            if let Some(d) = deadline {
                self.clock.set_ns(d);
            }
            return Step::Idle;
        };
        let t = next_wakeup_ns(now, t);
        if let Some(d) = deadline {
            if t > d {
                self.clock.set_ns(d.max(now));
                return Step::Deadline;
            }
        }
        self.clock.set_ns(t);
        Step::Advanced
    }

    /// One event: poll all hosts until quiet, then jump the clock to the
    /// earliest pending timer or due frame. Returns false, without moving
    /// the clock, when nothing is pending anywhere.
    pub fn step(&mut self) -> bool {
        matches!(self.step_bounded(None), Step::Advanced)
    }
    // ANCHOR_END: sim_step

    fn check_limit(&self, start: u64, what: &str) {
        if self.steps - start >= self.step_limit {
            panic!(
                "Sim (seed {}): {what} took {} steps without finishing (t={} ns); livelock?",
                self.seed,
                self.step_limit,
                self.now_ns()
            );
        }
    }

    /// Run every event up to and including `t_ns`, then leave the clock at
    /// `t_ns` (hosts polled there).
    ///
    /// # Panics
    /// When it needs more than the step limit.
    pub fn run_until(&mut self, t_ns: u64) {
        let start = self.steps;
        loop {
            self.check_limit(start, "run_until");
            match self.step_bounded(Some(t_ns)) {
                Step::Advanced => {}
                Step::Idle | Step::Deadline => break,
            }
        }
        self.poll_all();
    }

    /// Run for `d_ns` of virtual time.
    pub fn run_for(&mut self, d_ns: u64) {
        let t = self.now_ns().saturating_add(d_ns);
        self.run_until(t);
    }

    /// Run until nothing is pending, but no further than `limit_ns` of
    /// virtual time from now. True when the simulation went idle; false
    /// when the limit came first (something keeps re-arming).
    pub fn run_until_idle(&mut self, limit_ns: u64) -> bool {
        let deadline = self.now_ns().saturating_add(limit_ns);
        let start = self.steps;
        loop {
            self.check_limit(start, "run_until_idle");
            match self.step_bounded(Some(deadline)) {
                Step::Advanced => {}
                Step::Idle => return true,
                Step::Deadline => {
                    self.poll_all();
                    return false;
                }
            }
        }
    }
}

fn add_log_tap(net: &Arc<Net>, log: Arc<Mutex<Vec<SimEvent>>>) {
    let host = net.name.clone();
    net.dev_add_pack(PacketType::tap("sim_log", move |net, skb| {
        let frame = if skb.mac_header_was_set() { skb.mac_header() } else { skb.data() };
        log.lock().unwrap_or_else(|e| e.into_inner()).push(SimEvent {
            time_ns: net.now_ns(),
            host: host.clone(),
            ifindex: skb.dev,
            outgoing: skb.pkt_type == PktType::Outgoing,
            frame: frame.to_vec(),
        });
        NetRx::Success
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_names_ports_and_refuses_foreign_hosts() {
        let mut sim = Sim::new(1);
        let a = sim.add_host("a");
        let b = sim.add_host("b");
        let (a0, b0) = sim.connect(&a, &b, LinkParams::default()).unwrap();
        let (a1, b1) = sim.connect(&a, &b, LinkParams::default()).unwrap();
        assert_eq!((a0.name.as_str(), a1.name.as_str(), b1.name.as_str()), ("eth0", "eth1", "eth1"));
        assert_eq!(a1.dev_addr(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(b0.dev_addr(), [2, 0, 0, 0, 1, 0]);
        assert!(a0.is_up() && b1.is_up());
        let (s0, s1) = sim.connect(&a, &a, LinkParams::default()).unwrap();
        assert_eq!((s0.name.as_str(), s1.name.as_str()), ("eth2", "eth3"));
        let stranger = Net::new("x", Clock::new_virtual(), 1);
        assert_eq!(sim.connect(&a, &stranger, LinkParams::default()).err(), Some(Errno::ENODEV));
        assert!(sim.wire(&b1).is_some());
        assert_eq!(sim.links().len(), 3);
    }

    #[test]
    fn host_seeds_derive_from_the_sim_seed() {
        let draw = |seed| {
            let mut sim = Sim::new(seed);
            let h = sim.add_host("h");
            h.random.get_random_u64()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }
}
