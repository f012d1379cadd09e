//! Receive-buffer autotuning (`tcp_rcv_space_adjust()`, Linux's dynamic
//! right-sizing) over a net-dev `Wire` with a real round trip, in virtual
//! time: the receiver's `sk_rcvbuf` grows from `tcp_rmem[1]` to what the
//! path's bandwidth-delay product needs, unless `SO_RCVBUF` or
//! `tcp_moderate_rcvbuf = 0` keeps it.
//!
//! What Linux 6.18 does, asked on this machine (two namespaces on a veth
//! pair, no delay, 2 GiB from Python read in 64 KiB pieces, `ss -tmi` on
//! the receiver every 10 ms): `rb` went from 131072 to 4,699,339 within the
//! first sample, then 5,773,072 and 6,925,345, with `rcv_space` 979,280,
//! 1,500,440 and 1,918,480 and `rcv_rtt` 0.035–0.185 ms.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;

use net_core::Net;
use net_dev::{LinkParams, Sim};
use net_tcp::af_inet::{SO_RCVBUF, SOL_SOCKET};
use net_tcp::tcp_input::autotune::tcp_rcv_rtt_update;
use net_tcp::{TcpSocket, inet_init};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5001;
const MIB: usize = 1 << 20;

/// 1 Gbit/s, 10 ms each way: a 20 ms round trip, a bandwidth-delay
/// product of 2.5 MB. The queue holds what the windows can put in it.
fn path() -> LinkParams {
    LinkParams { delay_ns: 10_000_000, rate_bps: 1_000_000_000, queue_limit: 20_000, ..LinkParams::default() }
}

struct Run {
    /// Virtual seconds the transfer took.
    secs: f64,
    /// The receiver's `SO_RCVBUF` at the end.
    rcvbuf: i32,
    /// The receiver's `tcpi_rcv_space` and `tcpi_rcv_rtt` at the end.
    rcv_space: u32,
    rcv_rtt_us: u32,
    /// The largest `rcv_ssthresh` (the window ceiling) seen while it ran.
    max_rcv_ssthresh: u32,
}

/// `total` bytes from a to b, the receiver reading 64 KiB at a time as
/// soon as data is there; `setup` runs on b before the listener is made
/// (a sysctl) and `rcvbuf` sets the listener's `SO_RCVBUF` if given.
fn transfer(total: usize, rcvbuf: Option<i32>, setup: impl Fn(&Arc<Net>, &net_tcp::af_inet::TcpNet)) -> Run {
    let mut sim = Sim::new(7);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    let (ea, eb) = sim.connect(&a, &b, path()).expect("wire");
    for (net, dev, addr) in [(&a, &ea, A), (&b, &eb, B)] {
        let tn = inet_init(net);
        net_ipv4::devinet::inet_addr_add(net, &tn.ipv4, dev.ifindex, addr, 24).expect("ip addr add");
        if Arc::ptr_eq(net, &b) {
            setup(net, &tn);
        }
    }
    sim.run_for(10_000_000);
    let (_l, c, s) = common::sim_connect(&mut sim, &a, &b, B, PORT, |l| {
        if let Some(v) = rcvbuf {
            l.setsockopt_int(SOL_SOCKET, SO_RCVBUF, v).unwrap();
        }
    });
    let data: Vec<u8> = (0..MIB as u32).map(|i| (i ^ (i >> 9)) as u8).collect();
    let mut buf = vec![0u8; 64 << 10];
    let (mut sent, mut got) = (0usize, 0usize);
    let mut max_rcv_ssthresh = 0;
    let start = sim.now_ns();
    while got < total {
        while sent < total {
            let off = sent % data.len();
            let n = (total - sent).min(data.len() - off);
            match c.send(&data[off..off + n]) {
                Ok(k) => sent += k,
                Err(_) => break,
            }
        }
        while let Ok(n) = s.recv(&mut buf) {
            assert!(n > 0, "end of stream after {got} bytes");
            let at = got % data.len();
            let first = n.min(data.len() - at);
            assert_eq!(buf[..first], data[at..at + first], "bytes at {got}");
            assert_eq!(buf[first..n], data[..n - first], "bytes at {}", got + first);
            got += n;
        }
        max_rcv_ssthresh = max_rcv_ssthresh.max(s.tcp_info().tcpi_rcv_ssthresh);
        assert!(sim.now_ns() - start < 60_000_000_000, "not done after 60 s: {got} of {total}");
        if got < total && !sim.step() {
            panic!("the simulation went idle after {got} bytes");
        }
    }
    let info = s.tcp_info();
    Run {
        secs: (sim.now_ns() - start) as f64 / 1e9,
        rcvbuf: s.getsockopt_int(SOL_SOCKET, SO_RCVBUF).unwrap(),
        rcv_space: info.tcpi_rcv_space,
        rcv_rtt_us: info.tcpi_rcv_rtt,
        max_rcv_ssthresh,
    }
}

fn report(name: &str, r: &Run, total: usize) {
    eprintln!(
        "{name}: {} MiB in {:.3} s virtual ({:.1} MiB/s); receiver SO_RCVBUF {}, rcv_space {}, rcv_rtt {} µs, \
         largest rcv_ssthresh {}",
        total / MIB,
        r.secs,
        (total / MIB) as f64 / r.secs,
        r.rcvbuf,
        r.rcv_space,
        r.rcv_rtt_us,
        r.max_rcv_ssthresh
    );
}

/// A window of `tcp_rmem[1]` = 131072 bytes offers about 64 KiB: 3.2 MB/s
/// at 20 ms. Autotuning must take the buffer past the path's 2.5 MB BDP
/// (the window is about half the buffer) and the transfer near the
/// link's rate; the buffer stays within `tcp_rmem[2]`.
#[test]
fn the_receive_buffer_grows_to_the_path() {
    let total = 64 * MIB;
    let r = transfer(total, None, |_, _| {});
    report("autotuned", &r, total);
    assert!(r.rcvbuf > 5_000_000, "SO_RCVBUF {} should pass twice the 2.5 MB BDP", r.rcvbuf);
    assert!(r.rcvbuf <= 33_554_432, "SO_RCVBUF {} past tcp_rmem[2]", r.rcvbuf);
    assert!(r.max_rcv_ssthresh > 2_500_000, "window ceiling {} below the BDP", r.max_rcv_ssthresh);
    let mib_s = (total / MIB) as f64 / r.secs;
    assert!(mib_s > 60.0, "{mib_s:.1} MiB/s: a fixed 64 KiB window gives 3");
    // The receiver timed the round trip itself: 20 ms, within the
    // queueing a full window adds.
    assert!((19_000..40_000).contains(&r.rcv_rtt_us), "rcv_rtt {} µs", r.rcv_rtt_us);
    assert!(r.rcv_space > 1_000_000, "rcv_space {}", r.rcv_space);
}

/// `SO_RCVBUF` sets `SOCK_RCVBUF_LOCK`: the buffer is what was asked
/// (doubled, as Linux stores it) and stays so.
#[test]
fn so_rcvbuf_keeps_the_buffer_it_set() {
    let total = 8 * MIB;
    let r = transfer(total, Some(256 << 10), |_, _| {});
    report("SO_RCVBUF 256 KiB", &r, total);
    assert_eq!(r.rcvbuf, 512 << 10);
    assert!(r.max_rcv_ssthresh <= 512 << 10);
}

/// `net.ipv4.tcp_moderate_rcvbuf = 0`: the buffer keeps `tcp_rmem[1]` and
/// the transfer runs at one 64 KiB window per round trip.
#[test]
fn tcp_moderate_rcvbuf_0_turns_it_off() {
    let total = 4 * MIB;
    let r = transfer(total, None, |_, tn| tn.sysctl.tcp_moderate_rcvbuf.set("0").expect("sysctl"));
    report("tcp_moderate_rcvbuf=0", &r, total);
    assert_eq!(r.rcvbuf, 131_072);
    let mib_s = (total / MIB) as f64 / r.secs;
    assert!(mib_s < 4.0, "{mib_s:.1} MiB/s with a 64 KiB window over 20 ms");
}

/// `tcp_rcv_rtt_update()` as 6.16 made it: a smaller sample is taken at
/// once; a larger one is ignored from the window clock, and smoothed in
/// by an eighth from timestamps only while nothing waits unread.
#[test]
fn the_receive_rtt_seeks_the_minimum() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a");
    inet_init(&a);
    let s = TcpSocket::new(&a).unwrap();
    let mut tp = s.sock().lock.lock();
    tcp_rcv_rtt_update(&mut tp, 20_000, true);
    assert_eq!(tp.rcv_rtt_est.rtt_us, 160_000, "the first sample, times 8");
    tcp_rcv_rtt_update(&mut tp, 30_000, true);
    assert_eq!(tp.rcv_rtt_est.rtt_us, 160_000, "a larger window sample is an upper bound only");
    tcp_rcv_rtt_update(&mut tp, 10_000, true);
    assert_eq!(tp.rcv_rtt_est.rtt_us, 80_000, "a smaller one is taken at once");
    tcp_rcv_rtt_update(&mut tp, 18_000, false);
    assert_eq!(tp.rcv_rtt_est.rtt_us, 80_000 - 10_000 + 18_000, "a larger timestamp sample, smoothed");
    tp.rcv_nxt = 1000;
    tp.copied_seq = 0;
    tcp_rcv_rtt_update(&mut tp, 50_000, false);
    assert_eq!(tp.rcv_rtt_est.rtt_us, 88_000, "not while data waits unread");
}
