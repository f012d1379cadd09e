//! Fast retransmit and recovery at work on a lossy path: one host sends
//! 20 MiB to another over a 1 Gbit/s, 2 ms RTT link with 1 % random loss,
//! in virtual time — with SACK off, so the receiver's duplicate ACKs drive
//! NewReno, and with SACK on, so its blocks drive the scoreboard — and the
//! same transfer over a clean link, which must not look like loss or
//! reordering at all.
//!
//! What it shows: three duplicate ACKs (or three SACKed segments above a
//! hole) start recovery, and most losses are repaired by fast retransmit
//! within a round trip rather than by the RTO. Every byte is checked.

use std::net::{Ipv4Addr, SocketAddrV4};

use net_core::Net;
use net_core::snmp::LinuxMib;
use net_dev::netem::{LossModel, NetemParams};
use net_dev::{LinkParams, Sim};
use net_tcp::af_inet::{SO_RCVBUF, SO_SNDBUF, SOL_SOCKET, Shutdown};
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const TOTAL: usize = 20 << 20;

fn byte(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

struct Run {
    virt_s: f64,
    a: std::sync::Arc<Net>,
}

fn one_way(reordering: &str, sack: bool, loss_percent: f64) -> Run {
    // `reordering` is `net.ipv4.tcp_reordering`, the duplicate-ACK threshold.
    let mut sim = Sim::new(7);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    let params = LinkParams {
        delay_ns: 1_000_000,
        rate_bps: 1_000_000_000,
        queue_limit: 20_000,
        netem: (loss_percent > 0.0).then(|| NetemParams {
            loss: LossModel::Random { percent: loss_percent },
            ..NetemParams::default()
        }),
        ..LinkParams::default()
    };
    let (ea, eb) = sim.connect(&a, &b, params).expect("wire");
    for (net, dev, addr) in [(&a, &ea, A), (&b, &eb, B)] {
        let tn = inet_init(net);
        net_ipv4::devinet::inet_addr_add(net, &tn.ipv4, dev.ifindex, addr, 24).expect("ip addr add");
        net.sysctl.set("net.ipv4.tcp_sack", if sack { "1" } else { "0" }).unwrap();
        net.sysctl.set("net.ipv4.tcp_reordering", reordering).unwrap();
    }
    sim.run_for(10_000_000);
    let l = TcpSocket::new(&b).unwrap();
    l.set_nonblocking(true);
    l.setsockopt_int(SOL_SOCKET, SO_RCVBUF, 4 << 20).unwrap();
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001)).unwrap();
    l.listen(4).unwrap();
    let c = TcpSocket::new(&a).unwrap();
    c.set_nonblocking(true);
    c.setsockopt_int(SOL_SOCKET, SO_SNDBUF, 4 << 20).unwrap();
    let _ = c.connect(SocketAddrV4::new(B, 5001));
    let s = loop {
        if let Ok((s, _)) = l.accept() {
            break s;
        }
        assert!(sim.step(), "idle before the handshake ended");
    };
    s.set_nonblocking(true);
    while c.state() != TcpState::Established {
        sim.step();
    }
    let start = sim.now_ns();
    let src: Vec<u8> = (0..TOTAL).map(byte).collect();
    let (mut sent, mut got, mut shut) = (0, 0, false);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        while sent < TOTAL {
            match c.send(&src[sent..(sent + (256 << 10)).min(TOTAL)]) {
                Ok(k) => sent += k,
                Err(_) => break,
            }
        }
        if sent == TOTAL && !shut {
            c.shutdown(Shutdown::Write).unwrap();
            shut = true;
        }
        match s.recv(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                assert!(buf[..n] == src[got..got + n], "stream corrupt near byte {got}");
                got += n;
            }
            Err(_) => {}
        }
        assert!(sim.now_ns() - start < 3_600_000_000_000, "not done after an hour of virtual time");
        assert!(sim.step(), "the simulation went idle at byte {got}");
    }
    assert_eq!(got, TOTAL);
    Run { virt_s: (sim.now_ns() - start) as f64 / 1e9, a }
}

#[test]
fn newreno_repairs_most_losses_without_the_rto() {
    let r = one_way("3", false, 1.0);
    let m = |c| r.a.mib.get(c);
    eprintln!(
        "20 MiB one way, 1% loss, NewReno: {:.3} s virtual, {} recoveries, {} fast retransmits, {} timeouts",
        r.virt_s,
        m(LinuxMib::TCPRenoRecovery),
        m(LinuxMib::TCPFastRetrans),
        m(LinuxMib::TCPTimeouts),
    );
    assert!(m(LinuxMib::TCPRenoRecovery) > 0, "three duplicate ACKs must start recovery");
    assert_eq!(m(LinuxMib::TCPSackRecovery), 0, "SACK is off");
    assert!(
        m(LinuxMib::TCPFastRetrans) > 5 * m(LinuxMib::TCPTimeouts),
        "most losses are repaired by fast retransmit, not by the RTO"
    );
}

#[test]
fn sack_recovery_repairs_most_losses_without_the_rto() {
    let r = one_way("3", true, 1.0);
    let m = |c| r.a.mib.get(c);
    eprintln!(
        "20 MiB one way, 1% loss, SACK: {:.3} s virtual, {} recoveries, {} fast retransmits, {} timeouts",
        r.virt_s,
        m(LinuxMib::TCPSackRecovery),
        m(LinuxMib::TCPFastRetrans),
        m(LinuxMib::TCPTimeouts),
    );
    assert!(m(LinuxMib::TCPSackRecovery) > 0, "SACK blocks must start recovery");
    assert_eq!(m(LinuxMib::TCPRenoRecovery), 0, "SACK was negotiated");
    assert!(
        m(LinuxMib::TCPFastRetrans) > 5 * m(LinuxMib::TCPTimeouts),
        "most losses are repaired by fast retransmit, not by the RTO"
    );
}

/// Regression: every plain ACK used to count as SACK reordering, because
/// `prior_fack` was read after `snd_una` moved.
#[test]
fn a_clean_link_shows_no_loss_and_no_reordering() {
    let r = one_way("3", true, 0.0);
    let m = |c| r.a.mib.get(c);
    for c in [
        LinuxMib::TCPSACKReorder,
        LinuxMib::TCPRenoReorder,
        LinuxMib::TCPSackRecovery,
        LinuxMib::TCPRenoRecovery,
        LinuxMib::TCPFastRetrans,
        LinuxMib::TCPTimeouts,
    ] {
        assert_eq!(m(c), 0, "{c:?} on a clean link");
    }
}
