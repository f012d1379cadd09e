//! What `netlab run` writes besides its text: a pcap (`--pcap`), the run
//! as JSON (`--json`) and a time-sequence graph (`--plot`).
//!
//! No Linux twin. The pcap is what `tcpdump -w` on the traced host would
//! have written: classic libpcap format with nanosecond timestamps (net-dev's
//! [`PcapWriter`]; pcapng is a trap, see TRAPS.md), times shifted to noon of
//! 1 January 1970 so `TZ=UTC tcpdump -r` prints the clock the text trace
//! prints. The graph is the one Stevens draws in TCP/IP Illustrated and
//! tcptrace/`tcptrace -S` made common: time across, sequence number up,
//! each data segment a vertical bar from `seq` to `seq + len`, the peer's
//! cumulative ACK as a step line and the edge of its advertised window
//! (`ack + (win << wscale)`) above it; retransmitted segments in red. A
//! second panel shows `tcpi_snd_cwnd` over time when the scenario sampled it.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use net_dev::pcap::PcapWriter;
use plotters::prelude::*;
use serde_json::{Value, json};

use crate::trace::{TcpSegment, TcpSeqState, clock_time, tcp_segment, tcpdump_line_rel};
use crate::{Report, Scenario};

/// Offset added to virtual time in the pcap: noon, as the text trace shows it.
pub const PCAP_EPOCH_NS: u64 = 12 * 3600 * 1_000_000_000;

/// Write the report's frames to `path` as a classic nanosecond pcap.
pub fn write_pcap(r: &Report, path: &str) -> Result<(), String> {
    let err = |e: std::io::Error| format!("cannot write pcap '{path}': {e}");
    let f = std::fs::File::create(path).map_err(err)?;
    let mut w = PcapWriter::new(std::io::BufWriter::new(f)).map_err(err)?;
    for (t, frame) in &r.frames {
        w.write_record(PCAP_EPOCH_NS + t, frame).map_err(err)?;
    }
    w.into_inner().map_err(err)?;
    Ok(())
}

/// The TCP segments among the report's frames, with their times.
pub fn segments(r: &Report) -> Vec<(u64, TcpSegment)> {
    let mut st = TcpSeqState::default();
    r.frames.iter().filter_map(|(t, f)| tcp_segment(f, &mut st).map(|s| (*t, s))).collect()
}

/// The run as one JSON document: scenario, headline, packets (every frame:
/// time and tcpdump's line; TCP ones also src, dst, sport, dport, flags,
/// seq, ack, win, len, options), counters per host, socket rows, the
/// narrative and the cwnd samples.
pub fn to_json(s: &Scenario, r: &Report) -> Value {
    let mut st_line = TcpSeqState::default();
    let mut st_seg = TcpSeqState::default();
    let packets: Vec<Value> = r
        .frames
        .iter()
        .map(|(t, f)| {
            let mut p = json!({
                "time": clock_time(*t),
                "time_ns": t,
                "summary": tcpdump_line_rel(f, &mut st_line),
            });
            if let Some(seg) = tcp_segment(f, &mut st_seg) {
                let o = p.as_object_mut().expect("object");
                o.insert("proto".into(), json!("tcp"));
                o.insert("src".into(), json!(seg.src.to_string()));
                o.insert("dst".into(), json!(seg.dst.to_string()));
                o.insert("sport".into(), json!(seg.sport));
                o.insert("dport".into(), json!(seg.dport));
                o.insert("flags".into(), json!(seg.flags));
                o.insert("seq".into(), json!(seg.seq));
                o.insert("ack".into(), json!(seg.ack));
                o.insert("seq_abs".into(), json!(seg.seq_abs));
                o.insert("ack_abs".into(), json!(seg.ack_abs));
                o.insert("win".into(), json!(seg.win));
                o.insert("len".into(), json!(seg.len));
                o.insert("options".into(), json!(seg.options));
            }
            p
        })
        .collect();
    let counters: serde_json::Map<String, Value> = r
        .counters
        .iter()
        .map(|(h, c)| (h.clone(), Value::Object(c.iter().map(|(k, v)| (k.clone(), json!(v))).collect())))
        .collect();
    let sockets: Vec<Value> = r
        .sockets
        .iter()
        .map(|x| {
            json!({"host": x.host, "state": x.state, "recv_q": x.recv_q, "send_q": x.send_q,
                   "local": x.local, "peer": x.peer})
        })
        .collect();
    let cwnd: Vec<Value> = r.cwnd.iter().map(|(t, c)| json!({"time_ns": t, "cwnd": c})).collect();
    json!({
        "scenario": s.name,
        "headline": r.headline,
        "packets": packets,
        "counters": counters,
        "sockets": sockets,
        "narrative": r.narrative,
        "cwnd": cwnd,
    })
}

type Flow = (Ipv4Addr, u16, Ipv4Addr, u16);

/// The graph's series, computed from the segments of the flow that sent
/// the most payload.
#[derive(Debug, Default)]
pub struct SeqGraph {
    /// Data segments: (time s, seq, seq + len, retransmitted).
    pub data: Vec<(f64, u32, u32, bool)>,
    /// The receiver's cumulative ACKs: (time s, ack).
    pub acks: Vec<(f64, u32)>,
    /// The right edge of the receiver's window: (time s, ack + window).
    pub window: Vec<(f64, u32)>,
    /// The flow drawn, as `a.port > b.port`.
    pub title: String,
}

/// Build the time-sequence series for the report's busiest TCP flow;
/// `None` when the run carried no TCP.
pub fn seq_graph(r: &Report) -> Option<SeqGraph> {
    let segs = segments(r);
    let mut bytes: HashMap<Flow, u64> = HashMap::new();
    for (_, s) in &segs {
        *bytes.entry((s.src, s.sport, s.dst, s.dport)).or_default() += u64::from(s.len) + 1;
    }
    let (&flow, _) = bytes.iter().max_by_key(|(f, b)| (**b, **f))?;
    let rev = (flow.2, flow.3, flow.0, flow.1);
    // The receiver's window scale, from its SYN (RFC 7323: never on a SYN).
    let wscale = segs
        .iter()
        .find(|(_, s)| (s.dst, s.dport, s.src, s.sport) == flow && s.flag_bits & 0x02 != 0)
        .and_then(|(_, s)| s.options.split("wscale ").nth(1))
        .and_then(|w| w.trim_end_matches(']').split(',').next()?.parse::<u32>().ok())
        .unwrap_or(0);
    let mut g =
        SeqGraph { title: format!("{}.{} > {}.{}", flow.0, flow.1, flow.2, flow.3), ..Default::default() };
    // Everything relative to the sender's ISN (its SYN's sequence number,
    // or the first one seen), as tcptrace plots it.
    let isn = segs.iter().find(|(_, s)| (s.src, s.sport, s.dst, s.dport) == flow).map(|(_, s)| s.seq_abs)?;
    let mut high: Option<u32> = None;
    for (t, s) in &segs {
        let x = *t as f64 / 1e9;
        let key = (s.src, s.sport, s.dst, s.dport);
        let syn = s.flag_bits & 0x02 != 0;
        if key == flow && !syn && (s.len > 0 || s.flag_bits & 0x01 != 0) {
            let seq = s.seq_abs.wrapping_sub(isn);
            let end = seq.wrapping_add(s.len.max(1));
            let retrans = high.is_some_and(|h| !net_tcp::sock::after(end, h));
            if high.is_none_or(|h| net_tcp::sock::after(end, h)) {
                high = Some(end);
            }
            g.data.push((x, seq, end, retrans));
        } else if key == rev && s.flag_bits & 0x10 != 0 && !syn {
            let ack = s.ack_abs.wrapping_sub(isn);
            g.acks.push((x, ack));
            g.window.push((x, ack.wrapping_add(u32::from(s.win) << wscale)));
        }
    }
    Some(g)
}

/// Draw the time-sequence graph (and the cwnd panel, if sampled) to `path`.
pub fn write_plot(s: &Scenario, r: &Report, path: &str) -> Result<(), String> {
    let g = seq_graph(r).ok_or_else(|| format!("scenario '{}' carries no TCP to plot", s.name))?;
    let svg = render_svg(s, r, &g).map_err(|e| format!("cannot draw the plot: {e}"))?;
    std::fs::write(path, svg).map_err(|e| format!("cannot write plot '{path}': {e}"))
}

fn render_svg(s: &Scenario, r: &Report, g: &SeqGraph) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let height = if r.cwnd.is_empty() { 600 } else { 900 };
        let root = SVGBackend::with_string(&mut svg, (1000, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, bottom) = if r.cwnd.is_empty() {
            (root.clone(), None)
        } else {
            (root.split_vertically(600).0, Some(root.split_vertically(600).1))
        };
        let t_end = g
            .data
            .iter()
            .map(|d| d.0)
            .chain(g.acks.iter().map(|a| a.0))
            .chain(r.cwnd.iter().map(|c| c.0 as f64 / 1e9))
            .fold(0.0f64, f64::max)
            .max(1e-3);
        let t_start = g.data.iter().map(|d| d.0).chain(g.acks.iter().map(|a| a.0)).fold(t_end, f64::min);
        let y_max = g
            .data
            .iter()
            .map(|d| d.2)
            .chain(g.window.iter().map(|w| w.1))
            .filter(|&v| v < u32::MAX / 2)
            .max()
            .unwrap_or(1)
            .max(1);
        let mut chart = ChartBuilder::on(&top)
            .caption(format!("{} — time-sequence graph, {}", s.name, g.title), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(80)
            .build_cartesian_2d(t_start..t_end * 1.02, 0u32..y_max + y_max / 20 + 1)?;
        chart.configure_mesh().x_desc("time (s)").y_desc("relative sequence number").draw()?;
        let window: Vec<(f64, u32)> = g.window.iter().copied().filter(|w| w.1 < u32::MAX / 2).collect();
        chart
            .draw_series(LineSeries::new(steps(&window), &GREEN))?
            .label("receive window (ack + win)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
        chart
            .draw_series(LineSeries::new(steps(&g.acks), &BLUE))?
            .label("ACK")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(
                g.data.iter().filter(|d| !d.3).map(|d| PathElement::new(vec![(d.0, d.1), (d.0, d.2)], BLACK)),
            )?
            .label("data segment (seq..seq+len)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        chart
            .draw_series(
                g.data
                    .iter()
                    .filter(|d| d.3)
                    .map(|d| PathElement::new(vec![(d.0, d.1), (d.0, d.2)], RED.stroke_width(2))),
            )?
            .label("retransmission")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart.draw_series(g.data.iter().filter(|d| d.3).map(|d| Circle::new((d.0, d.2), 3, RED.filled())))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .draw()?;

        if let Some(bottom) = bottom {
            let c_max = r.cwnd.iter().map(|c| c.1).max().unwrap_or(1).max(1);
            let mut cc = ChartBuilder::on(&bottom)
                .caption("tcpi_snd_cwnd (segments)", ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(80)
                .build_cartesian_2d(t_start..t_end * 1.02, 0u32..c_max + c_max / 10 + 1)?;
            cc.configure_mesh().x_desc("time (s)").y_desc("cwnd").draw()?;
            let pts: Vec<(f64, u32)> = r.cwnd.iter().map(|c| (c.0 as f64 / 1e9, c.1)).collect();
            cc.draw_series(LineSeries::new(steps(&pts), &MAGENTA))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// A step function through `pts`: each value holds until the next sample.
fn steps(pts: &[(f64, u32)]) -> Vec<(f64, u32)> {
    let mut out = Vec::with_capacity(pts.len() * 2);
    for (i, p) in pts.iter().enumerate() {
        if i > 0 {
            out.push((p.0, pts[i - 1].1));
        }
        out.push(*p);
    }
    out
}
