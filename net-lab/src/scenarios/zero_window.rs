//! A receiver that stops reading: the window closes, the sender probes.

use net_tcp::af_inet::{SO_RCVBUF, SOL_SOCKET};

use super::tcplab::{TcpLab, e};
use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
b's listener sets SO_RCVBUF to 8 KiB (the kernel doubles it: 16 KiB of
buffer, SOCK_RCVBUF_LOCK set, so the child inherits it and the window scale
is chosen for it) and b's application never reads. a sends 24 KiB. The
receive window b advertises shrinks as its queue fills (tcp_select_window:
the free space, rounded down to the scale) until it is 0
(TcpExtTCPToZeroWindowAdv). a has data and a zero send window: tcp_ack →
tcp_ack_probe arms the persist timer (ICSK_TIME_PROBE0), and each expiry
(tcp_probe_timer → tcp_send_probe0 → tcp_write_wakeup) sends a zero-window
probe, a segment at snd_una - 1 the receiver must ACK, with the timer
backing off exponentially from the RTO (icsk_backoff, TcpExtTCPWinProbe).
At 5 s b starts reading; its window reopens (tcp_cleanup_rbuf sends a window
update once the window can grow by a full MSS or double;
TcpExtTCPFromZeroWindowAdv), and the data flows.

Book: net-tcp → data in and out; options, ACKs and timers. Linux:
tcp_select_window, __tcp_select_window, tcp_ack_probe, tcp_probe_timer,
tcp_send_probe0, tcp_write_wakeup, tcp_xmit_probe_skb, tcp_cleanup_rbuf
(net/ipv4/tcp_output.c, tcp_input.c, tcp_timer.c, tcp.c).";

/// Bytes a sends.
pub const TOTAL: usize = 24 * 1024;

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let mut lab = TcpLab::new(opts)?;
    // The listener's buffer size is inherited by the child it accepts.
    let (client, server, listener) = {
        let l = net_tcp::TcpSocket::new(&lab.b).map_err(e("socket"))?;
        l.setsockopt_int(SOL_SOCKET, SO_RCVBUF, 8192).map_err(e("setsockopt(SO_RCVBUF)"))?;
        lab.say("b: setsockopt(SO_RCVBUF, 8192)");
        lab.connect_with(l)?
    };
    drop(listener);
    let data = vec![b'z'; TOTAL];
    let mut sent = 0;
    let mut got = 0;
    let mut buf = vec![0u8; TOTAL];
    let mut reading = false;
    let mut t = lab.now_ms();
    let mut noted_zero = false;
    while t < 8_000 && got < TOTAL {
        if sent < TOTAL {
            if let Ok(n) = client.send(&data[sent..]) {
                if sent == 0 {
                    lab.say(format!("a: send({}) = {n}", TOTAL));
                }
                sent += n;
            }
        }
        if !reading && t >= 5_000 {
            reading = true;
            let info = client.tcp_info();
            lab.say(format!(
                "a: tcp_info: probes {}, backoff {}, rto {} us; b: starts reading",
                info.tcpi_probes, info.tcpi_backoff, info.tcpi_rto
            ));
        }
        if reading {
            while let Ok(n) = server.recv(&mut buf) {
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        if !noted_zero && client.tcp_info().tcpi_snd_wnd == 0 {
            noted_zero = true;
            let acked = client.tcp_info().tcpi_bytes_acked;
            lab.say(format!("a: the peer's window is 0; {acked} of {TOTAL} bytes acknowledged"));
        }
        t += 1;
        lab.run_until_ms(t);
    }
    lab.say(format!("b: read {got} of {TOTAL} bytes"));
    Ok(lab.finish(
        "the window closes, zero-window probes back off exponentially, and one read reopens it".into(),
        None,
        Vec::new(),
    ))
}
