//! Two hosts on one Ethernet segment, as most IPv4 scenarios start.

use std::net::Ipv4Addr;
use std::sync::Arc;

use net_core::{Clock, Net};
use net_ipv4::Ipv4;
use net_ipv4::devinet::inet_addr_add;
use net_ipv4::testlink::{Hub, run_until_idle};

use crate::RunOpts;

/// Host a's address.
pub const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Host b's address.
pub const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// One-way latency of the segment.
pub const LATENCY_NS: u64 = 500_000;

/// Hosts a (10.0.0.1) and b (10.0.0.2), each with `eth0` on one hub.
#[allow(dead_code)] // b4 is for scenarios that configure b's IPv4 (sysctls, routes)
pub struct Lab {
    pub clock: Clock,
    pub a: Arc<Net>,
    pub a4: Arc<Ipv4>,
    pub b: Arc<Net>,
    pub b4: Arc<Ipv4>,
}

impl Lab {
    pub fn new(opts: &RunOpts) -> Result<Lab, String> {
        let clock = Clock::new_virtual();
        let hub = Hub::new(&clock, LATENCY_NS);
        let (a, a4) = crate::inet_host("a", clock.clone(), opts)?;
        let b_opts = RunOpts { seed: opts.seed.wrapping_add(1), ..opts.clone() };
        let (b, b4) = crate::inet_host("b", clock.clone(), &b_opts)?;
        let da = hub.attach(&a, "eth0", [2, 0, 0, 0, 0, 1]);
        let db = hub.attach(&b, "eth0", [2, 0, 0, 0, 0, 2]);
        inet_addr_add(&a, &a4, da.ifindex, A, 24).map_err(|e| format!("ip addr add {A}/24: {e}"))?;
        inet_addr_add(&b, &b4, db.ifindex, B, 24).map_err(|e| format!("ip addr add {B}/24: {e}"))?;
        let lab = Lab { clock, a, a4, b, b4 };
        // Let the gratuitous ARPs of `ip addr add` settle before the story starts.
        lab.run_until_ms(1);
        Ok(lab)
    }

    /// Run both hosts until virtual time `ms` (bounded).
    pub fn run_until_ms(&self, ms: u64) {
        run_until_idle(&self.clock, &[&self.a, &self.b], ms * 1_000_000);
    }
}
