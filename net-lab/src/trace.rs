//! tcpdump-style traces.
//!
//! A [`Trace`] is what `tcpdump -i eth0 -n` is on a real host: a tap on
//! `ptype_all` (an AF_PACKET socket, in Linux's terms) that sees every frame
//! the host sends and receives, printed one line each in tcpdump's default
//! format, with virtual time shown as a wall clock starting at 12:00:00.
//! Frames are parsed with net-ipv4's own header views.
//!
//! The lines follow tcpdump 4.99's wording for ARP, ICMP, UDP and TCP (TCP
//! sequence numbers relative, as tcpdump prints them without `-S`). Fragments
//! carry tcpdump `-v`'s `(frag ID:LEN@OFFSET+)` note so the split is visible
//! without verbose mode.

use std::sync::{Arc, Mutex};

use net_core::if_ether::{ETH_P_ARP, ETH_P_IP};
use net_core::{Net, NetRx, PacketType};
use net_ipv4::arp::ArpHdr;
use net_ipv4::eth::{EthHdr, mac_to_string};
use net_ipv4::icmp::IcmpHdr;
use net_ipv4::ip::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IpHdr};
use net_ipv4::udp::UdpHdr;
use net_tcp::tcphdr::{
    TCPHDR_ACK, TCPHDR_CWR, TCPHDR_ECE, TCPHDR_FIN, TCPHDR_PSH, TCPHDR_RST, TCPHDR_SYN, TCPHDR_URG, TcpHdr,
    tcpdump_options, tcpdump_options_rel,
};

type Lines = Arc<Mutex<(Vec<(u64, String)>, TcpSeqState)>>;

/// Frames as the tap saw them: capture time (virtual ns) and the bytes
/// from the MAC header on — what `--pcap` writes and `--json` parses.
pub type Frames = Vec<(u64, Vec<u8>)>;

/// What tcpdump remembers to print relative sequence numbers: its
/// `tcp_seq_hash`, one entry per conversation (both directions) holding
/// the two initial sequence numbers. Without `-S`, tcpdump 4.99's
/// `tcp_print()` only numbers segments that carry an ACK: the first one
/// of a conversation, and any SYN-ACK (a new incarnation of the 4-tuple),
/// records `seq` and `ack - 1` and is printed absolute; later ones are
/// printed relative. A segment without ACK (a SYN, a RST answering an
/// ACK) is printed absolute and changes nothing.
#[derive(Debug, Default)]
pub struct TcpSeqState {
    conv: std::collections::HashMap<(std::net::Ipv4Addr, std::net::Ipv4Addr, u32), (u32, u32)>,
}

impl TcpSeqState {
    /// tcpdump's relative numbering for one segment: `(seq, ack, base)`,
    /// `base` being what its SACK blocks are printed relative to.
    fn relative(
        &mut self,
        (s, sport): (std::net::Ipv4Addr, u16),
        (d, dport): (std::net::Ipv4Addr, u16),
        flags: u8,
        seq: u32,
        ack: u32,
    ) -> (u32, u32, u32) {
        if flags & TCPHDR_ACK == 0 {
            return (seq, ack, 0);
        }
        // "we pick an arbitrary collating order so there's only one entry
        // for both directions"
        let rev = sport > dport || (sport == dport && s > d);
        let key = if rev {
            (d, s, (u32::from(dport) << 16) | u32::from(sport))
        } else {
            (s, d, (u32::from(sport) << 16) | u32::from(dport))
        };
        let (out_seq, out_ack, th) = match self.conv.get(&key) {
            Some(&th) if flags & TCPHDR_SYN == 0 => {
                if rev {
                    (seq.wrapping_sub(th.1), ack.wrapping_sub(th.0), th)
                } else {
                    (seq.wrapping_sub(th.0), ack.wrapping_sub(th.1), th)
                }
            }
            _ => {
                let th = if rev { (ack.wrapping_sub(1), seq) } else { (seq, ack.wrapping_sub(1)) };
                self.conv.insert(key, th);
                (seq, ack, th)
            }
        };
        (out_seq, out_ack, if rev { th.0 } else { th.1 })
    }
}

/// A capture on one host, like `tcpdump -n` on all its interfaces.
pub struct Trace {
    lines: Lines,
    frames: Arc<Mutex<Frames>>,
    pt: Arc<PacketType>,
    net: Arc<Net>,
}

impl Trace {
    /// Start capturing on `net`.
    pub fn attach(net: &Arc<Net>) -> Trace {
        let lines: Lines = Arc::default();
        let frames: Arc<Mutex<Frames>> = Arc::default();
        let (l, f) = (lines.clone(), frames.clone());
        let pt = PacketType::tap("tcpdump", move |net: &Net, skb| {
            let mut g = l.lock().expect("trace lock");
            let line = tcpdump_line_rel(skb.mac_header(), &mut g.1);
            g.0.push((skb.tstamp, line));
            f.lock().expect("trace lock").push((skb.tstamp, skb.mac_header().to_vec()));
            net.consume_skb(skb);
            NetRx::Success
        });
        net.dev_add_pack(pt.clone());
        Trace { lines, frames, pt, net: net.clone() }
    }

    /// Every frame so far, with its capture time.
    pub fn frames(&self) -> Frames {
        self.frames.lock().expect("trace lock").clone()
    }

    /// The lines so far, each prefixed with its time.
    pub fn text(&self) -> String {
        self.lines
            .lock()
            .expect("trace lock")
            .0
            .iter()
            .map(|(t, l)| format!("{} {l}\n", clock_time(*t)))
            .collect()
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        self.net.dev_remove_pack(&self.pt);
    }
}

/// Virtual nanoseconds as tcpdump's `HH:MM:SS.uuuuuu`, starting at noon.
pub fn clock_time(ns: u64) -> String {
    let us = ns / 1000;
    let secs = 12 * 3600 + us / 1_000_000;
    format!("{:02}:{:02}:{:02}.{:06}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60, us % 1_000_000)
}

/// One frame as tcpdump prints it (without the timestamp), with absolute
/// TCP sequence numbers (`tcpdump -S`).
pub fn tcpdump_line(frame: &[u8]) -> String {
    tcpdump_line_with(frame, None)
}

/// One frame as `tcpdump -n` prints it: TCP sequence numbers relative to
/// the first seen in each direction.
pub fn tcpdump_line_rel(frame: &[u8], st: &mut TcpSeqState) -> String {
    tcpdump_line_with(frame, Some(st))
}

fn tcpdump_line_with(frame: &[u8], st: Option<&mut TcpSeqState>) -> String {
    let Some(eth) = EthHdr::new_checked(frame) else {
        return format!("[|ether] length {}", frame.len());
    };
    match eth.h_proto() {
        ETH_P_ARP => arp_line(eth.payload()),
        ETH_P_IP => ip_line(eth.payload(), st),
        p => format!("ethertype Unknown ({p:#06x}), length {}", frame.len()),
    }
}

fn arp_line(p: &[u8]) -> String {
    let Some(a) = ArpHdr::new_checked(p) else { return format!("ARP, [|arp] length {}", p.len()) };
    match a.ar_op() {
        1 => format!("ARP, Request who-has {} tell {}, length {}", a.tip(), a.sip(), p.len()),
        2 => format!("ARP, Reply {} is-at {}, length {}", a.sip(), mac_to_string(&a.sha()), p.len()),
        op => format!("ARP, op {op}, length {}", p.len()),
    }
}

fn ip_line(p: &[u8], st: Option<&mut TcpSeqState>) -> String {
    let Some(h) = IpHdr::new_checked(p) else { return format!("IP [|ip] length {}", p.len()) };
    let (s, d) = (h.saddr(), h.daddr());
    let body = h.payload();
    let frag = if h.is_fragment() {
        format!(
            " (frag {}:{}@{}{})",
            h.id(),
            body.len(),
            h.frag_offset_bytes(),
            if h.mf() { "+" } else { "" }
        )
    } else {
        String::new()
    };
    if h.frag_offset_bytes() > 0 {
        let name = match h.protocol() {
            IPPROTO_UDP => "udp".to_string(),
            IPPROTO_ICMP => "icmp".to_string(),
            IPPROTO_TCP => "tcp".to_string(),
            n => format!("ip-proto-{n}"),
        };
        return format!("IP {s} > {d}: {name}{frag}");
    }
    let upper = match h.protocol() {
        IPPROTO_ICMP => return format!("IP {s} > {d}: {}{frag}", icmp_text(body)),
        IPPROTO_UDP => match UdpHdr::new_checked(body) {
            Some(u) => {
                return format!(
                    "IP {s}.{} > {d}.{}: UDP, length {}{frag}",
                    u.source(),
                    u.dest(),
                    usize::from(u.len()).saturating_sub(8)
                );
            }
            None => "UDP [|udp]".to_string(),
        },
        IPPROTO_TCP => match TcpHdr::new_checked(body) {
            Some(t) => {
                return format!("IP {s}.{} > {d}.{}: {}{frag}", t.source(), t.dest(), tcp_text(&t, s, d, st));
            }
            None => "tcp [|tcp]".to_string(),
        },
        n => format!("ip-proto-{n} {}", body.len()),
    };
    format!("IP {s} > {d}: {upper}{frag}")
}

/// tcpdump 4.99's `tcp_print()`: `Flags [S.], seq X[:Y], ack N, win W,
/// options [...], length L`.
fn tcp_text(
    t: &TcpHdr<&[u8]>,
    s: std::net::Ipv4Addr,
    d: std::net::Ipv4Addr,
    st: Option<&mut TcpSeqState>,
) -> String {
    let f = t.flags();
    let flags = flag_letters(f);
    let len = t.payload().len() as u32;
    let (mut seq, mut ack) = (t.seq(), t.ack_seq());
    let mut sack_base = None;
    if let Some(st) = st {
        let (rs, ra, base) = st.relative((s, t.source()), (d, t.dest()), f, seq, ack);
        (seq, ack) = (rs, ra);
        sack_base = Some(base);
    }
    let mut out = format!("Flags [{flags}]");
    if len > 0 {
        out += &format!(", seq {seq}:{}", seq.wrapping_add(len));
    } else if f & (TCPHDR_SYN | TCPHDR_FIN | TCPHDR_RST) != 0 {
        out += &format!(", seq {seq}");
    }
    if f & TCPHDR_ACK != 0 {
        out += &format!(", ack {ack}");
    }
    out += &format!(", win {}", t.window());
    if !t.options().is_empty() {
        out += &format!(", options {}", tcpdump_options_rel(t.options(), sack_base));
    }
    out + &format!(", length {len}")
}

/// One TCP segment's header fields, as `--json` and `--plot` use them.
/// `seq` and `ack` are relative the way the text trace prints them
/// (tcpdump's rules: absolute without ACK and where a conversation starts); `seq_abs`/`ack_abs` are what the wire carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment {
    /// Source address.
    pub src: std::net::Ipv4Addr,
    /// Destination address.
    pub dst: std::net::Ipv4Addr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// tcpdump's flag letters (`S.`, `F.`, `P.` …).
    pub flags: String,
    /// The raw flag byte.
    pub flag_bits: u8,
    /// Sequence number, relative as tcpdump prints it.
    pub seq: u32,
    /// Acknowledgement number, relative as tcpdump prints it.
    pub ack: u32,
    /// Sequence number on the wire.
    pub seq_abs: u32,
    /// Acknowledgement number on the wire.
    pub ack_abs: u32,
    /// The window field as sent (not scaled).
    pub win: u16,
    /// Payload length.
    pub len: u32,
    /// The options as tcpdump prints them, `[...]`, or empty.
    pub options: String,
}

/// The TCP segment in an Ethernet frame, if there is one (first fragments
/// only), with sequence numbers made relative through `st`.
pub fn tcp_segment(frame: &[u8], st: &mut TcpSeqState) -> Option<TcpSegment> {
    let eth = EthHdr::new_checked(frame)?;
    if eth.h_proto() != ETH_P_IP {
        return None;
    }
    let h = IpHdr::new_checked(eth.payload())?;
    if h.protocol() != IPPROTO_TCP || h.frag_offset_bytes() > 0 {
        return None;
    }
    let t = TcpHdr::new_checked(h.payload())?;
    let (s, d) = (h.saddr(), h.daddr());
    let f = t.flags();
    let (seq_abs, ack_abs) = (t.seq(), t.ack_seq());
    let (seq, ack, _) = st.relative((s, t.source()), (d, t.dest()), f, seq_abs, ack_abs);
    Some(TcpSegment {
        src: s,
        dst: d,
        sport: t.source(),
        dport: t.dest(),
        flags: flag_letters(f),
        flag_bits: f,
        seq,
        ack,
        seq_abs,
        ack_abs,
        win: t.window(),
        len: t.payload().len() as u32,
        options: if t.options().is_empty() { String::new() } else { tcpdump_options(t.options()) },
    })
}

/// tcpdump's flag letters, `none` for no flags.
fn flag_letters(f: u8) -> String {
    const NAMES: [(u8, char); 8] = [
        (TCPHDR_FIN, 'F'),
        (TCPHDR_SYN, 'S'),
        (TCPHDR_RST, 'R'),
        (TCPHDR_PSH, 'P'),
        (TCPHDR_ACK, '.'),
        (TCPHDR_URG, 'U'),
        (TCPHDR_ECE, 'E'),
        (TCPHDR_CWR, 'W'),
    ];
    let flags: String = NAMES.iter().filter(|(b, _)| f & b != 0).map(|(_, c)| *c).collect();
    if flags.is_empty() { "none".to_string() } else { flags }
}

fn icmp_text(m: &[u8]) -> String {
    let Some(h) = IcmpHdr::new_checked(m) else { return "ICMP [|icmp]".to_string() };
    let len = m.len();
    let inner = IpHdr::new_checked(h.payload());
    let what = match (h.type_(), h.code()) {
        (8, _) => format!("echo request, id {}, seq {}", h.id(), h.sequence()),
        (0, _) => format!("echo reply, id {}, seq {}", h.id(), h.sequence()),
        (3, code) => match (&inner, code) {
            (Some(i), 3) => {
                let port = UdpHdr::new_checked(i.payload()).map_or(0, |u| u.dest());
                let proto = if i.protocol() == IPPROTO_TCP { "tcp" } else { "udp" };
                format!("{} {proto} port {port} unreachable", i.daddr())
            }
            (Some(i), 2) => format!("{} protocol {} unreachable", i.daddr(), i.protocol()),
            (Some(i), 1) => format!("host {} unreachable", i.daddr()),
            (Some(i), 0) => format!("net {} unreachable", i.daddr()),
            (Some(i), 4) => format!("{} unreachable - need to frag (mtu {})", i.daddr(), h.mtu()),
            (_, c) => format!("unreachable code {c}"),
        },
        (11, 0) => "time exceeded in-transit".to_string(),
        (11, 1) => "ip reassembly time exceeded".to_string(),
        (t, _) => format!("type-#{t}"),
    };
    format!("ICMP {what}, length {len}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noon_clock() {
        assert_eq!(clock_time(0), "12:00:00.000000");
        assert_eq!(clock_time(61_000_001_000), "12:01:01.000001");
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..80 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = tcpdump_line(&junk);
            let mut arp = vec![0xffu8; 12];
            arp.extend_from_slice(&[0x08, 0x06]);
            arp.extend_from_slice(&junk);
            let _ = tcpdump_line(&arp);
            let mut ip = vec![0xffu8; 12];
            ip.extend_from_slice(&[0x08, 0x00, 0x45]);
            ip.extend_from_slice(&junk);
            let _ = tcpdump_line(&ip);
        }
    }
}
