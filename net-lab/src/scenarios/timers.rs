//! TCP's timers on the wheel, in virtual time.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use net_core::Net;
use net_core::jiffies::{Clock, HZ, msecs_to_jiffies};
use net_core::net_namespace::TimerFunc;

use crate::{Report, RunOpts};

pub const EXPLAIN: &str = "\
Arms the timers a TCP connection lives by, with Linux's constants:
the delayed ACK (TCP_DELACK_MIN, 40 ms), the retransmission timer with
exponential backoff from TCP_RTO_MIN (200 ms, then 400, 800 … as a LAST_ACK
socket retransmits its FIN), TIME_WAIT (TCP_TIMEWAIT_LEN, 60 s) and
keepalive (tcp_keepalive_time, 7200 s). The clock is virtual: the loop asks
the wheel for its next deadline (get_next_timer_interrupt), jumps there and
runs what is due (run_timers), so two simulated hours pass in a few
milliseconds of real time and every expiry lands on its exact jiffy.

Book: net-core → timer. Linux: timer_setup, mod_timer, __run_timers
(kernel/time/timer.c); the constants in include/net/tcp.h.";

pub fn run(opts: &RunOpts) -> Result<Report, String> {
    let clock = Clock::new_virtual();
    let net = crate::host("host", clock.clone(), opts)?;
    let log: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();

    let fire = |what: &'static str| {
        let log = log.clone();
        TimerFunc::closure(move |n: &Net| log.lock().unwrap().push((n.jiffies(), what.to_string())))
    };
    let delack = net.timer_setup(fire("delayed ACK (TCP_DELACK_MIN)"));
    net.mod_timer(delack, net.jiffies() + msecs_to_jiffies(40));
    let tw = net.timer_setup(fire("TIME_WAIT ends (TCP_TIMEWAIT_LEN)"));
    net.mod_timer(tw, net.jiffies() + 60 * HZ);
    let ka = net.timer_setup(fire("keepalive probe (tcp_keepalive_time)"));
    net.mod_timer(ka, net.jiffies() + 7200 * HZ);

    // The retransmit timer re-arms itself with a doubled RTO, six times.
    let rto_log = log.clone();
    let backoff = Arc::new(Mutex::new((msecs_to_jiffies(200), 0u32, None)));
    let b2 = backoff.clone();
    let rto = net.timer_setup(TimerFunc::closure(move |n: &Net| {
        let mut b = b2.lock().unwrap();
        b.1 += 1;
        rto_log.lock().unwrap().push((n.jiffies(), format!("retransmit #{} (rto was {} ms)", b.1, b.0)));
        if b.1 < 6 {
            b.0 *= 2;
            if let Some(id) = b.2 {
                n.mod_timer(id, n.jiffies() + b.0);
            }
        }
    }));
    backoff.lock().unwrap().2 = Some(rto);
    net.mod_timer(rto, net.jiffies() + msecs_to_jiffies(200));

    let start = std::time::Instant::now();
    let mut jumps = 0;
    while let Some(t) = net.next_timer_ns() {
        clock.set_ns(t);
        net.run_timers();
        jumps += 1;
    }
    let wall = start.elapsed();

    let mut out = String::new();
    let _ = writeln!(out, "{:>14}  timer", "time");
    for (j, what) in log.lock().unwrap().iter() {
        let _ = writeln!(out, "{:>9}.{:03}s  {what}", j / HZ, j % HZ);
    }
    let _ = writeln!(
        out,
        "virtual time now {} s; nothing armed: {}",
        clock.now_ns() / 1_000_000_000,
        net.timers_pending() == 0
    );
    eprintln!("(timers: {jumps} clock jumps, {:.1} ms of real time)", wall.as_secs_f64() * 1e3);
    Ok(Report {
        headline: "every timer fires on its exact jiffy; two virtual hours take milliseconds".into(),
        text: out,
        ..Default::default()
    })
}
