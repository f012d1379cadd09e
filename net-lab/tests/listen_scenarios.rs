//! The listen scenarios' mechanisms (the book's "listen and the two
//! queues"), asserted from each run's structured output — segments,
//! counters, `ss -lnt` rows, narrative — rather than from the snapshot.

use net_lab::Report;
use net_lab::export::segments;
use net_lab::trace::TcpSegment;

mod common;
use common::{A, B, counter, run};
/// Where the scenarios put run 2's frames (`listen_overflow::RUN2_OFFSET_NS`).
const RUN2_S: f64 = 1000.0;

/// Segments with times in seconds; run 1's and run 2's apart.
/// Timed segments of one run.
type Segs = Vec<(f64, TcpSegment)>;

fn runs(r: &Report) -> (Segs, Segs) {
    let all: Segs = segments(r).into_iter().map(|(t, s)| (t as f64 / 1e9, s)).collect();
    let (r1, r2): (Vec<_>, Vec<_>) = all.into_iter().partition(|(t, _)| *t < RUN2_S);
    (r1, r2.into_iter().map(|(t, s)| (t - RUN2_S, s)).collect())
}

fn from(s: &TcpSegment, host: &str) -> bool {
    s.src.to_string() == host
}

#[test]
fn listen_overflow_backlog_two_holds_three_then_drops() {
    let r = run("listen-overflow");
    // ss -lnt in run 1: Recv-Q climbs 0, 1, 2, 3 against Send-Q 2 and no further.
    let rows: Vec<_> = r.sockets.iter().filter(|x| x.host == "b" && x.state == "LISTEN").collect();
    let recvq: Vec<u32> = rows.iter().map(|x| x.recv_q).collect();
    assert!(rows.iter().all(|x| x.send_q == 2), "{recvq:?}");
    assert_eq!(&recvq[..4], [0, 1, 2, 3], "{}", r.text);
    assert_eq!(recvq.iter().max(), Some(&3), "a backlog of 2 admits 3");

    let (s1, s2) = runs(&r);
    // The client whose SYN came after the queue was full: no SYN-ACK, and
    // its SYN retransmitted 1 s later (then 1 s apart, tcp_syn_linear_timeouts).
    let answered = |s: &[(f64, TcpSegment)], port: u16| {
        s.iter().any(|(_, x)| from(x, B) && x.dport == port && x.flags == "S.")
    };
    let syns = |s: &[(f64, TcpSegment)], port: u16| -> Vec<f64> {
        s.iter().filter(|(_, x)| from(x, A) && x.sport == port && x.flags == "S").map(|(t, _)| *t).collect()
    };
    let ports: std::collections::BTreeSet<u16> =
        s1.iter().filter(|(_, x)| from(x, A)).map(|(_, x)| x.sport).collect();
    let dropped: Vec<u16> = ports.iter().copied().filter(|&p| !answered(&s1, p)).collect();
    assert_eq!(dropped.len(), 1, "one client's SYN is never answered:\n{}", r.text);
    let t = syns(&s1, dropped[0]);
    assert!(t.len() >= 7, "its SYN is retransmitted: {t:?}");
    assert!((t[1] - t[0] - 1.0).abs() < 0.01, "first retransmission after 1 s: {t:?}");
    assert!(counter(&r, "b", "TcpExtListenOverflows") >= t.len() as u64);
    assert!(counter(&r, "b", "TcpExtListenDrops") >= t.len() as u64);
    assert_eq!(counter(&r, "a", "TcpExtTCPAbortOnTimeout"), 1, "its connect() times out");

    // The client whose final ACK found the queue full: b retransmits the
    // SYN-ACK (1 s after the first, then doubling), answers its data with
    // nothing, and resets it only after the request died (63 s).
    let synacks = |s: &[(f64, TcpSegment)], port: u16| -> Vec<f64> {
        s.iter().filter(|(_, x)| from(x, B) && x.dport == port && x.flags == "S.").map(|(t, _)| *t).collect()
    };
    let over: Vec<u16> = ports.iter().copied().filter(|&p| synacks(&s1, p).len() > 1).collect();
    assert_eq!(over.len(), 1, "one client's SYN-ACK is retransmitted:\n{}", r.text);
    let sa = synacks(&s1, over[0]);
    assert_eq!(sa.len(), 6, "the first SYN-ACK and tcp_synack_retries = 5 more: {sa:?}");
    let gaps: Vec<f64> = sa.windows(2).map(|w| (w[1] - w[0]).round()).collect();
    assert_eq!(gaps, [1.0, 2.0, 4.0, 8.0, 16.0]);
    assert!(
        s1.iter().any(|(_, x)| from(x, A) && x.sport == over[0] && x.len > 0),
        "the client believes it is connected and writes"
    );
    assert!(
        !s1.iter().any(|(_, x)| from(x, B) && x.dport == over[0] && x.ack_abs > 0 && x.flags == "."),
        "b never acknowledges its data"
    );
    let rst: Vec<f64> = s1
        .iter()
        .filter(|(_, x)| from(x, B) && x.dport == over[0] && x.flags.contains('R'))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(rst.len(), 1);
    assert!(rst[0] > 63.0, "reset only after the request died: {rst:?}");
    assert_eq!(counter(&r, "a", "TcpEstabResets"), 1);

    // Run 2, tcp_abort_on_overflow = 1: a RST right after that final ACK.
    let ack_then_rst = s2.windows(2).any(|w| {
        from(&w[0].1, A)
            && w[0].1.flags == "."
            && from(&w[1].1, B)
            && w[1].1.flags == "R"
            && w[1].1.dport == w[0].1.sport
            && w[1].0 - w[0].0 < 0.01
    });
    assert!(ack_then_rst, "{}", r.text);
    assert_eq!(counter(&r, "b (run 2)", "TcpExtEmbryonicRsts"), 1);
    assert_eq!(counter(&r, "b", "TcpExtEmbryonicRsts"), 0);
    // The SYN that finds the queue full is still dropped silently.
    assert!(!s2.iter().any(|(_, x)| from(x, B) && x.flags == "R" && synacks(&s2, x.dport).is_empty()));
}

#[test]
fn syn_flood_cookies_bound_the_request_socks_and_let_a_client_in() {
    let r = run("syn-flood");
    let (s1, s2) = runs(&r);
    // Run 1: cookies.
    let sent = counter(&r, "b", "TcpExtSyncookiesSent");
    assert!(sent > 2000, "{sent}");
    assert_eq!(counter(&r, "b", "TcpExtTCPReqQFullDoCookies"), sent);
    assert_eq!(counter(&r, "b", "TcpExtSyncookiesRecv"), 1, "the real client's cookie ACK");
    let warned: Vec<&String> = r.narrative.iter().filter(|l| l.contains("Possible SYN flooding")).collect();
    assert_eq!(warned.len(), 2, "once per run: {warned:?}");
    assert!(warned[0].contains("Possible SYN flooding on port 0.0.0.0:80. Sending cookies."));
    assert!(warned[1].contains("Dropping request."));
    let over = r.narrative.iter().find(|l| l.contains("flood over")).expect("flood over line");
    assert!(
        over.contains("request socks 129 (at most 129") && over.contains("slab at most 129 objects"),
        "{over}"
    );
    let data = |s: &[(f64, TcpSegment)], host: &str| -> Vec<f64> {
        s.iter()
            .filter(|(_, x)| from(x, host) && x.len > 0 && (x.src.to_string() == A || x.dst.to_string() == A))
            .map(|(t, _)| *t)
            .collect()
    };
    let (q, a) = (data(&s1, A), data(&s1, B));
    assert!(q.len() == 1 && a.len() == 1 && a[0] < 0.5, "request and reply during the flood: {q:?} {a:?}");

    // Run 2: no cookies: drops, and the real client waits for the queue.
    assert!(counter(&r, "b (run 2)", "TcpExtTCPReqQFullDrop") > 2000);
    assert_eq!(counter(&r, "b (run 2)", "TcpExtSyncookiesSent"), 0);
    let client_synack: Vec<f64> = s2
        .iter()
        .filter(|(_, x)| from(x, B) && x.dst.to_string() == A && x.flags == "S.")
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(client_synack.len(), 1);
    assert!(
        client_synack[0] > 7.0 && client_synack[0] < 7.2,
        "in only when the old requests' cut retries ran out: {client_synack:?}"
    );
    let client_syns = s2.iter().filter(|(_, x)| from(x, A) && x.flags == "S").count();
    assert!(client_syns >= 6, "{client_syns}");
    assert_eq!(data(&s2, A).len(), 1);
    assert_eq!(data(&s2, B).len(), 1);
}

#[test]
fn reuseport_spreads_by_hash_and_survives_a_close() {
    let r = run("reuseport");
    let rows: Vec<u32> = r.sockets.iter().filter(|x| x.state == "LISTEN").map(|x| x.recv_q).collect();
    assert_eq!(rows.len(), 4 + 3, "ss -lnt of four listeners, then three: {rows:?}");
    let (first, second) = rows.split_at(4);
    assert_eq!(first.iter().sum::<u32>(), 40);
    assert_eq!(second.iter().sum::<u32>(), 40);
    assert!(first.iter().all(|&n| (4..=16).contains(&n)), "spread over all four: {first:?}");
    assert!(second.iter().all(|&n| (6..=20).contains(&n)), "spread over the three left: {second:?}");
    assert_eq!(counter(&r, "b", "TcpPassiveOpens"), 80);
    assert!(r.narrative.iter().any(|l| l.contains("one reuseport group of 4")));
    assert!(r.narrative.iter().any(|l| l.contains("listener 2 close(); the group has 3")));
    let accepted: usize = r
        .narrative
        .iter()
        .filter_map(|l| l.split("accept()ed").nth(1))
        .map(|rest| rest.split(':').next().unwrap_or("").trim().parse::<usize>().unwrap_or(0))
        .sum();
    assert_eq!(accepted, 80, "every connection accepted by the listener it landed on");
}
