//! Pieces several benches build their hosts and sockets from.

use net_core::skbuff::SkBuffHead;
use net_core::{NetDevice, NetdevTx, Skb, netdevice::NetDeviceSetup};
use net_tcp::inet_timewait_sock::TwInit;
use net_tcp::tcp_states::TcpState;

/// `eth0` that drops whatever it is asked to send: the cost of a bench
/// ends at the driver.
pub struct SinkDev;

impl NetDevice for SinkDev {
    fn setup(&self) -> NetDeviceSetup {
        NetDeviceSetup::ether("eth0", [2, 0, 0, 0, 0, 1])
    }

    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        drop(skb);
        NetdevTx::Ok
    }

    fn poll(&mut self, _budget: usize, _rx: &mut SkBuffHead) -> usize {
        0
    }
}

/// What `tcp_time_wait()` hands `inet_twsk_alloc()` for a connection that
/// used timestamps and window scale 7, closed at sequence 1 both ways.
pub fn tw_init() -> TwInit {
    TwInit {
        substate: TcpState::TimeWait,
        rcv_nxt: 1,
        snd_nxt: 1,
        rcv_wnd: 65535,
        rcv_wscale: 7,
        tstamp_ok: true,
        ts_recent: 1,
        ts_recent_stamp: 0,
        ts_offset: 0,
    }
}
