//! # net-dev — devices: loopback, a veth-like wire with netem, pcap, the simulator
//!
//! Linux's drivers know frames, not protocols; so does this crate, which
//! depends on net-core alone. It holds the drivers the lab and the tests
//! plug into a [`net_core::Net`]: the loopback device, a point-to-point
//! [`Wire`] with propagation delay, a rate and netem-style faults, pcap
//! capture and replay, and the [`Sim`] that steps several hosts and their
//! wires in virtual time. Mirrors **Linux 6.18** where there is a twin.
//!
//! | our file | Linux file(s) | book section | where we differ |
//! |---|---|---|---|
//! | `loopback.rs` | drivers/net/loopback.c | net-dev/loopback | a bounded queue drained by `poll` stands in for `netif_rx()` and the per-cpu backlog; `eth_type_trans()` runs on receive through the namespace's header ops |
//! | `veth.rs` | drivers/net/veth.c | net-dev/veth | a direction has a propagation delay, a serialisation rate with a tail-drop queue and an optional netem; the skb itself crosses to the peer, its metadata cleared (`skb_scrub_packet()`), as `veth_xmit()` does; no XDP/GRO/NAPI ring |
//! | `netem.rs` | net/sched/sch_netem.c | net-dev/netem | no correlation, no distribution tables (uniform or a normal approximation), 4-state loss with the 2026 contiguous-range fix, rate in bits/s without overhead/cells; also usable as a wrapper around any device, on transmit (`NetemDevice`) or receive (`NetemIngress`, Linux's ifb + netem) |
//! | `pcap.rs` | none: tcpdump's `AF_PACKET` tap (net/packet/af_packet.c) and libpcap's savefile format | net-dev/pcap | classic pcap only (nanosecond magic when writing), no pcapng, no BPF filters; the reader treats files as untrusted; besides the `ptype_all` recorder, a tee around any driver and a replay device |
//! | `sim.rs` | none: a discrete-event loop over several namespaces | net-dev/sim | — |
//! | `tun.rs` | drivers/net/tun.c, from the user side (`/dev/net/tun`, `TUNSETIFF`) | net-dev/tun | TAP with `IFF_NO_PI` only: no TUN mode, vnet header, multiqueue or persistence; the only crate file with `unsafe` (three FFI calls: `ioctl`, `setns` — shared with `pcap_live.rs` — and `poll`); includes `run_realtime`, the real-time host loop |
//! | `pcap_live.rs` (feature `pcap-live`) | none: libpcap on a real interface (net/packet/af_packet.c from the user side), as DPDK's `net_pcap` driver | net-dev/pcap | promiscuous, immediate, non-blocking, inbound only; no BPF filter; no `unsafe` of its own (`open_in_netns` uses tun.rs's `setns`) |
//! | `netns.rs` | none (iproute2's `ip netns`, from a program) | — | test and lab plumbing: namespace and child guards, the skip-or-fail-under-CI rule |
//!
//! **Lock order** (outermost first, after net-core's: device registry →
//! qdisc → driver): a driver's lock → one wire direction's `spin::Mutex`.
//! No path takes both directions of a wire. The pcap recorder's writer sits
//! behind a `std::sync::Mutex` taken inside a tap (the holder does I/O).

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod loopback;
pub mod netem;
pub mod netns;
pub mod pcap;
#[cfg(feature = "pcap-live")]
pub mod pcap_live;
pub mod sim;
pub mod tun;
pub mod veth;

pub use loopback::Loopback;
pub use netem::{DelayDist, LossModel, Netem, NetemDevice, NetemParams, NetemStats};
pub use pcap::{
    PcapError, PcapErrorKind, PcapReader, PcapRecord, PcapRecorder, PcapReplay, PcapTee, PcapWriter,
    ReplayTiming, SharedPcapWriter,
};
pub use sim::{Sim, SimEvent, SimLink};
pub use veth::{LinkParams, Wire, WireDrops, WireEnd, WireHandle, WireStats};

#[cfg(test)]
mod anchor_tests {
    //! The book includes code by `// ANCHOR:` name; mdBook inserts nothing
    //! for a missing anchor and runs an unclosed one to the end of the file.

    const FILES: &[(&str, &str)] = &[
        ("loopback.rs", include_str!("loopback.rs")),
        ("veth.rs", include_str!("veth.rs")),
        ("netem.rs", include_str!("netem.rs")),
        ("pcap.rs", include_str!("pcap.rs")),
        ("sim.rs", include_str!("sim.rs")),
        ("tun.rs", include_str!("tun.rs")),
    ];

    const REQUIRED: &[&str] =
        &["loopback_xmit", "veth_xmit", "netem_enqueue", "pcap_record_header", "sim_step"];

    #[test]
    fn every_anchor_is_closed_and_non_empty() {
        let mut found = Vec::new();
        for (file, src) in FILES {
            let lines: Vec<&str> = src.lines().collect();
            for (i, l) in lines.iter().enumerate() {
                let Some(name) = l.trim().strip_prefix("// ANCHOR: ") else { continue };
                let end = format!("// ANCHOR_END: {name}");
                let j = lines[i + 1..]
                    .iter()
                    .position(|m| m.trim() == end)
                    .unwrap_or_else(|| panic!("{file}: anchor {name} is never closed"));
                assert!(
                    lines[i + 1..i + 1 + j].iter().any(|m| !m.trim().is_empty()),
                    "{file}: anchor {name} is empty"
                );
                found.push(name.to_string());
            }
        }
        for r in REQUIRED {
            assert!(found.iter().any(|f| f == r), "anchor {r} missing");
        }
    }
}
