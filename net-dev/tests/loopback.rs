//! Loopback through a namespace: transmit on `lo`, receive on `lo`.

mod common;

use common::*;
use net_core::netdevice::{ARPHRD_LOOPBACK, IFF_LOOPBACK, NetdevFeatures};
use net_core::skbuff::PktType;
use net_core::{Clock, Net};
use net_dev::Loopback;

#[test]
fn loopback_round_trip_through_a_net() {
    let clock = Clock::new_virtual();
    let net = Net::new("h", clock.clone(), 7);
    register_eth(&net);
    let lo = net.register_netdev(Box::new(Loopback::new(clock.clone()))).unwrap();
    lo.open().unwrap();
    assert_eq!((lo.ifindex, lo.name.as_str(), lo.type_, lo.mtu()), (1, "lo", ARPHRD_LOOPBACK, 65536));
    assert!(lo.flags() & IFF_LOOPBACK != 0);
    assert!(
        lo.features.contains(NetdevFeatures::LOOPBACK | NetdevFeatures::HW_CSUM | NetdevFeatures::RXCSUM)
    );
    assert_eq!(lo.dev_addr(), [0; 6]);
    let got = collect(&net);

    clock.set_ns(1_000);
    send(&net, &lo, &eth_frame([0; 6], [0; 6], ETH_P_TEST, b"hello lo"));
    assert_eq!(lo.next_rx_time(), Some(1_000), "due at once");
    assert!(net.poll() > 0);
    let g = got.lock().unwrap().clone();
    assert_eq!(g, vec![(1_000, lo.ifindex, PktType::Host, b"hello lo".to_vec())]);
    let st = lo.stats.snapshot();
    assert_eq!((st.tx_packets, st.rx_packets, st.rx_bytes), (1, 1, 22));
    assert_eq!(lo.next_rx_time(), None);
}

#[test]
fn loopback_backlog_is_bounded() {
    use net_core::NetDevice;
    use net_core::netdevice::NetdevTx;
    use net_core::skbuff::{SkBuffHead, skb_from_frame};
    let mut lo = Loopback::with_backlog(Clock::new_virtual(), 3);
    for _ in 0..5 {
        assert!(matches!(lo.ndo_start_xmit(skb_from_frame(1, &[0; 20])), NetdevTx::Ok));
    }
    assert_eq!(lo.stats().dropped, 2);
    assert_eq!(lo.stats().packets, 3);
    let mut rx = SkBuffHead::new();
    assert_eq!(lo.poll(2, &mut rx), 2);
    assert_eq!(lo.poll(64, &mut rx), 1);
    assert!(rx.iter().all(|s| s.pkt_type == PktType::Loopback
        && s.ip_summed == net_core::skbuff::IpSummed::Unnecessary
        && s.protocol == 0));
}
