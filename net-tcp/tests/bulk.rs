//! Two linnet hosts in one process move 100 MiB each way at once (full
//! duplex) over a net-dev `Wire`, in virtual time, verified byte for byte:
//! on a clean link, with 1 % random loss, and with Gilbert-Elliott bursts.
//!
//! Each direction carries its own pseudo-random pattern (a 1,000,003-byte
//! block, a prime length, repeated), so a lost, duplicated or misplaced
//! segment shows as a mismatch at its offset; the receiver checks every
//! byte against the pattern as it reads, and the total length at the end.
//! Each run prints its virtual time, wall time and retransmission counters.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

use net_core::Net;
use net_core::snmp::{LinuxMib, TcpMib};
use net_dev::netem::{LossModel, NetemParams};
use net_dev::{LinkParams, Sim};
use net_tcp::af_inet::{SO_RCVBUF, SO_SNDBUF, SOL_SOCKET};
use net_tcp::tcp_states::TcpState;
use net_tcp::{TcpSocket, inet_init};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5001;
const MIB: usize = 1 << 20;
const TOTAL: usize = 100 * MIB;
/// Length of the repeated pattern: prime, so no segment size divides it.
const PATTERN_LEN: usize = 1_000_003;

/// A deterministic pseudo-random block (xorshift64*), one per direction.
fn pattern(seed: u64) -> Vec<u8> {
    common::Rng::bytes(seed, PATTERN_LEN)
}

/// One direction: the sender's progress and the receiver's check.
struct Flow {
    pat: Vec<u8>,
    sent: usize,
    got: usize,
    shut: bool,
    eof: bool,
}

impl Flow {
    /// Send what the socket takes; read and verify what arrived. True if
    /// anything moved.
    fn pump(&mut self, tx: &TcpSocket, rx: &TcpSocket, buf: &mut [u8]) -> bool {
        let mut moved = false;
        while self.sent < TOTAL {
            let off = self.sent % PATTERN_LEN;
            let n = (PATTERN_LEN - off).min(TOTAL - self.sent).min(256 * 1024);
            match tx.send(&self.pat[off..off + n]) {
                Ok(k) => {
                    self.sent += k;
                    moved = true;
                }
                Err(net_core::Errno::EAGAIN) => break,
                Err(e) => panic!("send at {}: {e:?}", self.sent),
            }
        }
        if self.sent == TOTAL && !self.shut {
            tx.shutdown(net_tcp::af_inet::Shutdown::Write).expect("shutdown(SHUT_WR)");
            self.shut = true;
        }
        loop {
            match rx.recv(buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    let mut off = self.got % PATTERN_LEN;
                    let mut chunk = &buf[..n];
                    while !chunk.is_empty() {
                        let k = chunk.len().min(PATTERN_LEN - off);
                        if chunk[..k] != self.pat[off..off + k] {
                            let i = (0..k).find(|&i| chunk[i] != self.pat[off + i]).unwrap_or(0);
                            panic!("stream corrupt at byte {}", self.got + (n - chunk.len()) + i);
                        }
                        chunk = &chunk[k..];
                        off = 0;
                    }
                    self.got += n;
                    assert!(self.got <= TOTAL, "more bytes than were sent");
                    moved = true;
                }
                Err(net_core::Errno::EAGAIN) => break,
                Err(e) => panic!("recv at {}: {e:?}", self.got),
            }
        }
        moved
    }

    fn done(&self) -> bool {
        self.eof && self.got == TOTAL
    }
}

fn big_buffers(s: &TcpSocket) {
    s.setsockopt_int(SOL_SOCKET, SO_SNDBUF, 4 * MIB as i32).unwrap();
    s.setsockopt_int(SOL_SOCKET, SO_RCVBUF, 4 * MIB as i32).unwrap();
}

struct Report {
    virt_s: f64,
    wall_s: f64,
}

fn counters(name: &str, net: &Net) -> String {
    let mut out = format!("{name}:");
    for (prefix, field, value) in net.mib.snapshot().iter() {
        if value != 0 && matches!(prefix, "Tcp" | "TcpExt") && field != "MaxConn" {
            out.push_str(&format!(" {field} {value}"));
        }
    }
    out
}

/// Move [`TOTAL`] bytes each way at once over a link that behaves as
/// `params` both ways; panics on any mismatch or when `virt_limit_s` of
/// virtual time pass first.
fn duplex(name: &str, params: LinkParams, seed: u64, virt_limit_s: u64) -> (Report, Arc<Net>, Arc<Net>) {
    let wall = Instant::now();
    let mut sim = Sim::new(seed);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    let (ea, eb) = sim.connect(&a, &b, params).expect("wire");
    for (net, dev, addr) in [(&a, &ea, A), (&b, &eb, B)] {
        let tn = inet_init(net);
        net_ipv4::devinet::inet_addr_add(net, &tn.ipv4, dev.ifindex, addr, 24).expect("ip addr add");
    }
    sim.run_for(10_000_000);

    let l = TcpSocket::new(&b).unwrap();
    l.set_nonblocking(true);
    big_buffers(&l);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).unwrap();
    l.listen(4).unwrap();
    let c = TcpSocket::new(&a).unwrap();
    c.set_nonblocking(true);
    big_buffers(&c);
    let _ = c.connect(SocketAddrV4::new(B, PORT));
    let t0 = sim.now_ns();
    let s = loop {
        if let Ok((s, _)) = l.accept() {
            break s;
        }
        assert!(sim.now_ns() - t0 < 60_000_000_000, "{name}: no connection within 60 s");
        sim.step();
    };
    s.set_nonblocking(true);
    while c.state() != TcpState::Established {
        sim.step();
    }
    let (cs, ss) = (c.sock().clone(), s.sock().clone());
    let start = sim.now_ns();
    let new_flow = |p| Flow { pat: pattern(p), sent: 0, got: 0, shut: false, eof: false };
    let (mut up, mut down) = (new_flow(seed ^ 0xa), new_flow(seed ^ 0xb));
    let mut buf = vec![0u8; 256 * 1024];
    let limit = start + virt_limit_s * 1_000_000_000;
    loop {
        up.pump(&c, &s, &mut buf);
        down.pump(&s, &c, &mut buf);
        if up.done() && down.done() {
            break;
        }
        assert!(
            sim.now_ns() < limit,
            "{name}: not done after {virt_limit_s} s virtual: a→b sent {} got {}, b→a sent {} got {}\n{}\n{}\n\
             a: {:?}\nb: {:?}",
            up.sent,
            up.got,
            down.sent,
            down.got,
            counters("a", &a),
            counters("b", &b),
            c.tcp_info(),
            s.tcp_info()
        );
        if !sim.step() {
            panic!("{name}: the simulation went idle before the transfer ended");
        }
    }
    let virt_s = (sim.now_ns() - start) as f64 / 1e9;
    // Both sides closed their write halves and read EOF: let the FINs be
    // acknowledged, then close.
    drop((c, s, l));
    sim.run_for(1_000_000_000);
    assert!(matches!(cs.sk_state(), TcpState::TimeWait | TcpState::Close), "client {:?}", cs.sk_state());
    assert!(
        matches!(ss.sk_state(), TcpState::TimeWait | TcpState::Close | TcpState::LastAck),
        "{:?}",
        ss.sk_state()
    );
    let wall_s = wall.elapsed().as_secs_f64();
    eprintln!(
        "{name}: 2 x {} MiB in {virt_s:.3} s virtual ({:.1} MiB/s each way), {wall_s:.2} s wall, {} sim steps\n  \
         {}\n  {}",
        TOTAL / MIB,
        (TOTAL / MIB) as f64 / virt_s,
        sim.steps(),
        counters("a", &a),
        counters("b", &b)
    );
    (Report { virt_s, wall_s }, a, b)
}

/// A 1 Gbit/s link with 1 ms of delay each way. Its queue is deep enough
/// for the windows the big buffers allow (with window scaling they reach
/// megabytes), so the only losses are netem's: without pacing, a shallow
/// drop-tail queue would add its own (as it would under Linux).
fn link(loss: LossModel) -> LinkParams {
    LinkParams {
        delay_ns: 1_000_000,
        rate_bps: 1_000_000_000,
        queue_limit: 20_000,
        netem: (loss != LossModel::None).then(|| NetemParams { loss, ..NetemParams::default() }),
        ..LinkParams::default()
    }
}

#[test]
fn hundred_mib_each_way_clean_link() {
    let (r, a, b) = duplex("clean", link(LossModel::None), 1, 600);
    assert_eq!(a.mib.get(TcpMib::RetransSegs), 0, "no loss, no retransmission");
    assert_eq!(b.mib.get(TcpMib::RetransSegs), 0);
    assert_eq!(a.mib.get(LinuxMib::TCPTimeouts), 0);
    assert!(r.virt_s > 0.0 && r.wall_s > 0.0);
}

#[test]
fn hundred_mib_each_way_one_percent_loss() {
    let (_r, a, b) = duplex("1% random loss", link(LossModel::Random { percent: 1.0 }), 2, 3600);
    assert!(a.mib.get(TcpMib::RetransSegs) > 0, "loss must cost retransmissions");
    assert!(b.mib.get(TcpMib::RetransSegs) > 0);
}

#[test]
fn hundred_mib_each_way_gilbert_elliott_bursts() {
    let ge = LossModel::GilbertElliott { p: 0.5, r: 20.0, one_minus_h: 70.0, one_minus_k: 0.0 };
    let (_r, a, b) = duplex("Gilbert-Elliott bursts", link(ge), 3, 3600);
    assert!(a.mib.get(TcpMib::RetransSegs) > 0);
    assert!(b.mib.get(TcpMib::RetransSegs) > 0);
}
