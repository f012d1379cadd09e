//! Hostile frames from the wire, the whole way in: random and mutated
//! Ethernet frames arrive at host b's device and go through
//! `net_rx_action` → `eth_type_trans` → `netif_receive_skb` → `arp_rcv` /
//! `ip_rcv` → reassembly, ICMP, UDP. Nothing may panic; every frame is
//! counted by the device; IPv4 never counts more datagrams than IPv4 frames
//! arrived; reassembly memory and the neighbour table stay within their
//! sysctl bounds and drain when the timers run.

use net_core::NetDevice;
use net_core::if_ether::{ETH_P_ARP, ETH_P_IP};
use net_core::skbuff::skb_from_frame;
use net_core::snmp::IpstatsMib;
use net_ipv4::Ipv4Addr;
use net_ipv4::eth::write_ethhdr;
use net_ipv4::icmp::{ICMP_ECHO, icmp_build};
use net_ipv4::ip::{IPPROTO_ICMP, IPPROTO_UDP, IpHdrBuilder};
use net_ipv4::testlink::{Hub, TwoHosts};
use net_ipv4::udp::udp_build;
use proptest::prelude::*;

const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
const MAC_X: [u8; 6] = [2, 0, 0, 0, 0, 9];
const X: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

fn frame(proto: u16, dst: [u8; 6], payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xa5u8; 14];
    write_ethhdr(&mut f, &dst, &MAC_X, proto);
    f.extend_from_slice(payload);
    f
}

/// Well-formed frames a peer at 10.0.0.9 could send b, to be mutated.
fn seeds() -> Vec<Vec<u8>> {
    let b = TwoHosts::B;
    let ip = |proto: u8, id: u16, frag_off: u16, l4: &[u8]| {
        IpHdrBuilder { id, frag_off, protocol: proto, saddr: X, daddr: b, ..IpHdrBuilder::TEMPLATE }
            .datagram(l4)
    };
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&MAC_X);
    arp.extend_from_slice(&X.octets());
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&b.octets());
    vec![
        frame(ETH_P_ARP, [0xff; 6], &arp),
        frame(ETH_P_IP, MAC_B, &ip(IPPROTO_ICMP, 1, 0, &icmp_build(ICMP_ECHO, 0, 0x0001_0001, b"ping"))),
        frame(ETH_P_IP, MAC_B, &ip(IPPROTO_UDP, 2, 0, &udp_build(X, 4000, b, 7, b"hello"))),
        frame(ETH_P_IP, MAC_B, &ip(IPPROTO_UDP, 3, 0x2000, &[0x11; 64])), // first fragment
        frame(ETH_P_IP, MAC_B, &ip(IPPROTO_UDP, 3, 0x0008, &[0x22; 64])), // last fragment
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Extend(Vec<u8>),
    Random(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..120, 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (0usize..120).prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(Mutation::Random),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_frames_through_netif_receive_skb(
        plan in proptest::collection::vec((0usize..5, proptest::collection::vec(mutation(), 0..3)), 1..40),
    ) {
        let lab = TwoHosts::new(100_000);
        let hub = Hub::new(&lab.clock, 0);
        // b gets a second port on its own hub; an unregistered port injects.
        let dev = hub.attach(&lab.b, "eth1", MAC_B);
        let mut injector = hub.port("x", MAC_X);
        let seeds = seeds();
        let mut ip_frames = 0u64;
        for (which, muts) in &plan {
            let mut f = seeds[*which].clone();
            for m in muts {
                match m {
                    Mutation::Flip(i, x) => {
                        if let Some(b) = f.get_mut(*i) {
                            *b ^= *x;
                        }
                    }
                    Mutation::Truncate(n) => f.truncate(*n),
                    Mutation::Extend(tail) => f.extend_from_slice(tail),
                    Mutation::Random(bytes) => f = bytes.clone(),
                }
            }
            if f.len() >= 14 && f[12..14] == ETH_P_IP.to_be_bytes() {
                ip_frames += 1;
            }
            let _ = injector.ndo_start_xmit(skb_from_frame(0, &f));
        }
        let before = lab.b.mib.get(IpstatsMib::InReceives);
        lab.run_ms(1);
        prop_assert_eq!(dev.stats.snapshot().rx_packets, plan.len() as u64, "every frame counted by the device");
        prop_assert!(lab.b.mib.get(IpstatsMib::InReceives) - before <= ip_frames);
        prop_assert!(lab.b4.frags.mem() <= lab.b4.sysctl.ipfrag_high_thresh.get() as usize);
        prop_assert!(lab.b4.arp_tbl.len() <= lab.b4.sysctl.neigh_gc_thresh3.get() as usize);
        // After ipfrag_time every half-built datagram is gone.
        lab.run_ms(31_000);
        prop_assert_eq!(lab.b4.frags.mem(), 0);
    }
}
