//! TIME_WAIT: its 60 s, a retransmitted FIN that restarts them,
//! tcp_tw_reuse on connect(), a SYN that reopens it, and
//! tcp_max_tw_buckets.

use std::net::SocketAddrV4;
use std::sync::Arc;

use net_core::Errno;
use net_dev::{LinkParams, LossModel, NetemParams};
use net_tcp::TcpSocket;
use net_tcp::sock::TcpSock;

use super::lab::B;
use super::tcplab::{PORT, TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
The third article's TIME_WAIT, on a client whose ephemeral range is one
port (ip_local_port_range \"40000 40000\"), so every connection from a is
the same four-tuple.

1. a closes first, b second: a, the active closer, ACKs b's FIN and
   becomes a timewait sock (tcp_time_wait → inet_twsk_hashdance_schedule;
   TcpExtTW) for TCP_TIMEWAIT_LEN, 60 s. That ACK is lost here (a's link
   drops everything for 100 ms), so b, in LAST_ACK, sends its FIN again,
   as a tail loss probe about 200 ms later (tcp_send_loss_probe, where
   the RTO would have come a little after); tcp_timewait_state_process
   answers with the last ACK again
   (TCP_TW_ACK) and restarts the 60 s (inet_twsk_reschedule). `ss` still
   shows TIME-WAIT 60 s after the first ACK, and not 60 s after the second.
2. A connect() while the tuple is in TIME_WAIT: with tcp_tw_reuse = 0 the
   one port is taken and connect() fails with EADDRNOTAVAIL
   (__inet_hash_connect finds no port). With tcp_tw_reuse = 1, more than
   tcp_tw_reuse_delay (1 s) after the timewait sock's last timestamp,
   tcp_twsk_unique lets connect() take the tuple over (TcpExtTWRecycled):
   the new ISN starts above the old sequence space (tw_snd_nxt + 65535 +
   2) and timestamps (PAWS) tell the old incarnation's segments apart.
   Linux's default is 2: loopback only.
3. b closes first on the next connection, so b, the server, holds the
   TIME_WAIT. a (the passive closer, its port free again) connects from
   the same port: the SYN reaches b's timewait sock, is after its rcv_nxt
   and has a newer timestamp, so tcp_timewait_state_process returns
   TCP_TW_SYN; tcp_v4_rcv kills the timewait sock and gives the SYN to the
   listener, whose SYN-ACK starts at tw_snd_nxt + 65535 + 2.
4. tcp_max_tw_buckets = 0: no timewait sock can be made; tcp_time_wait
   counts TcpExtTCPTimeWaitOverflow and just closes (\"Sorry, if we're out
   of memory, just CLOSE this socket up\"): no TIME-WAIT in `ss`. Here it
   is already a's FIN_WAIT2 orphan that cannot become a timewait sock, so
   b's FIN finds no socket and is answered with a RST. (Its range is
   \"40002 40003\": __inet_hash_connect scans an even number of ports, so
   the top port of an odd-sized range is never tried.)

Checked on Linux 6.18 (lo in a netns, the same port ranges and sysctls):
connect() = -1 EADDRNOTAVAIL with tcp_tw_reuse 0 (and no TcpAttemptFails),
success and TWRecycled 1 with tcp_tw_reuse 1 two seconds later, and
TCPTimeWaitOverflow with tcp_max_tw_buckets 0. The reopening SYN follows
the packet script close/time-wait-reopen-by-syn.pkt.

Book: net-tcp → the state machine (closing); inet_timewait_sock. Linux:
tcp_time_wait, inet_twsk_hashdance_schedule, tcp_timewait_state_process,
inet_twsk_reschedule, tcp_twsk_unique, __inet_hash_connect
(net/ipv4/tcp_minisocks.c, inet_timewait_sock.c, tcp_ipv4.c,
inet_hashtables.c).";

struct Tw {
    lab: TcpLab,
    listener: TcpSocket,
    kept: Vec<(&'static str, Arc<TcpSock>)>,
}

impl Tw {
    /// a: connect(); b accepts. `Err` carries connect()'s error.
    fn open(&mut self) -> Result<Result<(TcpSocket, TcpSocket), Errno>, String> {
        let c = TcpSocket::new(&self.lab.a).map_err(e("socket"))?;
        c.set_nonblocking(true);
        match c.connect(SocketAddrV4::new(B, PORT)) {
            Err(Errno::EINPROGRESS) => {}
            Err(err) => {
                self.lab.say(format!("a: connect({B}:{PORT}) = -1 {err:?}"));
                return Ok(Err(err));
            }
            Ok(()) => {}
        }
        self.lab.say(format!("a: connect({B}:{PORT}) from port {}", c.local_addr().port()));
        let (s, _) = self.lab.accept_within(&self.listener, 1_000)?;
        s.set_nonblocking(true);
        self.kept.push(("a", c.sock().clone()));
        self.kept.push(("b", s.sock().clone()));
        Ok(Ok((c, s)))
    }

    /// a closes, then b once a's FIN has arrived.
    fn close_from_a(&mut self, c: TcpSocket, s: TcpSocket) {
        self.lab.say("a: close()");
        drop(c);
        let t = self.lab.now_ms() + 5;
        self.lab.run_until_ms(t);
        self.lab.say("b: close()");
        drop(s);
    }

    fn ss(&mut self, title: &str) {
        let socks: Vec<(&str, &Arc<TcpSock>)> = self.kept.iter().map(|(h, s)| (*h, s)).collect();
        self.lab.ss_diag(title, &socks);
    }

    fn sysctl(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.lab.a.sysctl.set(name, value).map_err(|err| format!("sysctl {name}: {err}"))?;
        self.lab.say(format!("a: sysctl {name}={value}"));
        Ok(())
    }
}

/// a's transmit side loses everything (`lossy`) or nothing.
fn a_link_lossy(lab: &TcpLab, lossy: bool) -> Result<(), String> {
    let wire = lab.sim.wire(&lab.da).ok_or("no wire behind a's eth0")?;
    let params = wire.tx_params();
    let netem =
        lossy.then(|| NetemParams { loss: LossModel::Random { percent: 100.0 }, ..Default::default() });
    wire.set_tx_params(LinkParams { netem, ..params }, 7);
    Ok(())
}

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let lab = TcpLab::new(opts)?;
    let listener = TcpSocket::new(&lab.b).map_err(e("socket"))?;
    listener.set_nonblocking(true);
    listener.bind(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, PORT)).map_err(e("bind"))?;
    listener.listen(10).map_err(e("listen"))?;
    let mut tw = Tw { lab, listener, kept: Vec::new() };
    tw.sysctl("net.ipv4.ip_local_port_range", "40000 40000")?;

    // 1. TIME_WAIT, a lost ACK, the FIN again.
    let (c, s) = tw.open()?.map_err(|err| format!("connect: {err}"))?;
    tw.lab.say("a's link will drop what it sends for 100 ms");
    tw.lab.say("a: close()");
    drop(c);
    let t = tw.lab.now_ms() + 5;
    tw.lab.run_until_ms(t);
    a_link_lossy(&tw.lab, true)?;
    tw.lab.say("b: close()");
    drop(s);
    let t = tw.lab.now_ms() + 100;
    tw.lab.run_until_ms(t);
    a_link_lossy(&tw.lab, false)?;
    let first_ack = t - 100;
    tw.lab.run_until_ms(first_ack + 30_000);
    tw.ss("30 s into TIME_WAIT");
    tw.lab.run_until_ms(first_ack + 60_100);
    tw.ss("60.1 s after the first ACK: the retransmitted FIN restarted the timer");
    tw.lab.run_until_ms(first_ack + 61_000);
    tw.ss("60 s after the FIN was ACKed again");

    // 2. tcp_tw_reuse.
    let (c, s) = tw.open()?.map_err(|err| format!("connect: {err}"))?;
    tw.close_from_a(c, s);
    let t = tw.lab.now_ms() + 2_000;
    tw.lab.run_until_ms(t);
    tw.ss("the second connection in TIME_WAIT");
    tw.sysctl("net.ipv4.tcp_tw_reuse", "0")?;
    let refused = tw.open()?;
    if refused.is_ok() {
        return Err("connect() succeeded with tcp_tw_reuse = 0".into());
    }
    tw.sysctl("net.ipv4.tcp_tw_reuse", "1")?;
    let (c3, s3) = tw.open()?.map_err(|err| format!("connect: {err}"))?;
    tw.ss("tcp_tw_reuse = 1: connect() took the TIME_WAIT tuple over");

    // 3. The server in TIME_WAIT, reopened by the client's next SYN.
    tw.sysctl("net.ipv4.ip_local_port_range", "40000 40001")?;
    let (c, s) = tw.open()?.map_err(|err| format!("connect: {err}"))?;
    tw.lab.say("b: close()");
    drop(s);
    let t = tw.lab.now_ms() + 5;
    tw.lab.run_until_ms(t);
    tw.lab.say("a: close()");
    drop(c);
    let t = tw.lab.now_ms() + 1_000;
    tw.lab.run_until_ms(t);
    tw.ss("b closed first: b holds the TIME_WAIT");
    let (c5, s5) = tw.open()?.map_err(|err| format!("connect: {err}"))?;
    tw.ss("a's SYN from the same port reopened b's TIME_WAIT");

    // 4. tcp_max_tw_buckets.
    tw.sysctl("net.ipv4.ip_local_port_range", "40002 40003")?;
    tw.sysctl("net.ipv4.tcp_max_tw_buckets", "0")?;
    let (c4, s4) = tw.open()?.map_err(|err| format!("connect: {err}"))?;
    tw.close_from_a(c4, s4);
    let t = tw.lab.now_ms() + 100;
    tw.lab.run_until_ms(t);
    tw.ss("tcp_max_tw_buckets = 0: the fourth connection left no TIME_WAIT");
    let report = tw.lab.finish(
        "TIME_WAIT lasts 60 s from the last FIN it ACKed; tcp_tw_reuse lets connect() take it over; tcp_max_tw_buckets caps it"
            .into(),
        None,
        Vec::new(),
    );
    drop((c3, s3, c5, s5));
    Ok(report)
}
