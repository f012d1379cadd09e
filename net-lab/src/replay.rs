//! `netlab replay`: play a capture into a linnet host in virtual time and
//! show what the host answers.
//!
//! No Linux twin: tcpreplay into a host with a tcpdump beside it. The
//! capture is read with net-dev's [`PcapReader`] (an error names the byte
//! offset and ends the run with one line, never a panic), and its frames
//! go into a host on a [`PcapReplay`] device at their recorded times
//! (relative to the first frame), on a virtual clock, so the run is exact
//! and instant whatever the capture's length.
//!
//! Which frames: by default only those addressed to the host — IPv4 to
//! its address, ARP asking for it, and broadcasts — since the capture
//! usually also holds the original host's own answers; `--all` feeds every
//! frame.
//!
//! Neighbours: nobody answers the host's ARP requests in a replay, so
//! before the first frame the host learns every source in the capture
//! the way `ip neigh add SRC lladdr MAC dev eth0 nud permanent` would
//! teach it (the MAC is the frame's Ethernet source), and a source
//! outside its subnet gets an on-link host route (`ip route add SRC/32 dev
//! eth0`). So answers leave at once, as they would on a LAN whose ARP
//! cache is warm; ARP requests in the capture are still answered by the
//! host itself. The host takes the Ethernet address the capture's frames
//! were sent to (the first unicast frame for its address), else
//! `02:00:00:00:00:01`.
//!
//! The output is tcpdump's (`tcpdump -i any -n`'s direction column, `In`
//! or `Out`), with the capture's own clock for times (UTC), then the
//! host's counters that changed (`nstat`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};

use net_core::if_ether::{ETH_P_ARP, ETH_P_IP};
use net_core::netdevice::MacAddr;
use net_core::skbuff::PktType;
use net_core::{Clock, Net, NetRx, PacketType};
use net_dev::pcap::{LINKTYPE_ETHERNET, PcapReader, PcapRecord, PcapReplay, PcapWriter, ReplayTiming};
use net_ipv4::arp::ArpHdr;
use net_ipv4::eth::{EthHdr, mac_to_string};
use net_ipv4::fib::FibRoute;
use net_ipv4::ip::IpHdr;
use net_ipv4::neighbour::NudState;
use net_ipv4::testlink::run_until_idle;
use net_tcp::TcpSocket;

use crate::tap::{in_subnet, parse_addr_prefix};
use crate::trace::{TcpSeqState, tcpdump_line_rel};

/// How long the host runs after the last frame (virtual time), so answers
/// that wait on a timer (a delayed ACK) show; short of the first SYN-ACK
/// retransmission at 1 s.
pub const TAIL_NS: u64 = 500_000_000;
/// The replay device's name.
const IFNAME: &str = "eth0";
/// The host's MAC when the capture does not tell.
const DEFAULT_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x01];

/// `netlab replay`'s options.
#[derive(Clone, Debug)]
pub struct ReplayOpts {
    /// The capture.
    pub file: String,
    /// The host's address.
    pub addr: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// Listen on this port.
    pub listen: Option<u16>,
    /// Feed every frame, not only those addressed to the host.
    pub all: bool,
    /// Write what the host saw (input and answers) here.
    pub pcap: Option<String>,
    /// `--seed` (default 1) and `--sysctl`s for the host.
    pub host: crate::RunOpts,
}

/// Parse `netlab replay`'s arguments (after the word `replay`).
pub fn parse_opts(args: &[String]) -> Result<ReplayOpts, String> {
    let (mut file, mut addr, mut port, mut listen, mut all, mut pcap) =
        (None, None, None, false, false, None);
    let mut host = crate::RunOpts { seed: 1, ..Default::default() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if crate::parse_host_opt(a, &mut it, &mut host)? {
            continue;
        }
        let mut val = |what: &str| it.next().cloned().ok_or_else(|| format!("{a} needs {what}"));
        match a.as_str() {
            "--addr" => addr = Some(parse_addr_prefix("--addr", &val("A/PREFIX, e.g. 10.0.0.2/24")?)?),
            "--port" => {
                let v = val("a port number")?;
                port = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| format!("--port needs a number from 1 to 65535, got '{v}'"))?,
                );
            }
            "--listen" => listen = true,
            "--all" => all = true,
            "--pcap" => pcap = Some(val("a file name")?),
            s if s.starts_with("--") => {
                return Err(format!("unknown option '{s}' for replay; try `netlab help`"));
            }
            s => {
                if file.is_some() {
                    return Err(format!("replay takes one capture file (got a second: '{s}')"));
                }
                file = Some(s.to_string());
            }
        }
    }
    let file = file.ok_or("replay needs a capture file: netlab replay FILE.pcap --addr A/PREFIX")?;
    let (addr, prefix) =
        addr.ok_or("replay needs --addr A/PREFIX, the host's address (e.g. --addr 10.0.0.2/24)")?;
    let listen = match (listen, port) {
        (true, Some(p)) => Some(p),
        (true, None) => return Err("--listen needs --port P, the port to listen on".into()),
        (false, Some(p)) => return Err(format!("--port {p} does nothing without --listen")),
        (false, None) => None,
    };
    crate::check_sysctls(&host)?;
    Ok(ReplayOpts { file, addr, prefix, listen, all, pcap, host })
}

/// Is this frame for the host at `addr`?
fn addressed_to(frame: &[u8], addr: Ipv4Addr) -> bool {
    let Some(eth) = EthHdr::new_checked(frame) else { return false };
    if eth.h_dest() == [0xff; 6] {
        return true;
    }
    match eth.h_proto() {
        ETH_P_IP => IpHdr::new_checked(eth.payload()).is_some_and(|h| h.daddr() == addr),
        ETH_P_ARP => ArpHdr::new_checked(eth.payload()).is_some_and(|a| a.tip() == addr),
        _ => false,
    }
}

/// The IPv4 source of a frame and its Ethernet source, if it has both.
fn ip_source(frame: &[u8]) -> Option<(Ipv4Addr, MacAddr)> {
    let eth = EthHdr::new_checked(frame)?;
    let src = match eth.h_proto() {
        ETH_P_IP => IpHdr::new_checked(eth.payload())?.saddr(),
        ETH_P_ARP => ArpHdr::new_checked(eth.payload())?.sip(),
        _ => return None,
    };
    (!src.is_unspecified() && !src.is_broadcast() && !src.is_multicast()).then(|| (src, eth.h_source()))
}

/// `HH:MM:SS.uuuuuu` of an epoch time in ns, UTC (tcpdump with `TZ=UTC`).
fn utc_time(ns: u64) -> String {
    let us = ns / 1000;
    let secs = us / 1_000_000;
    format!("{:02}:{:02}:{:02}.{:06}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60, us % 1_000_000)
}

/// What the tap beside the host saw: (virtual time, outgoing?, frame).
type Seen = Arc<Mutex<Vec<(u64, bool, Vec<u8>)>>>;

/// Run `netlab replay`: returns the text to print.
pub fn run(o: &ReplayOpts) -> Result<String, String> {
    let f = std::fs::File::open(&o.file).map_err(|e| format!("cannot read {}: {e}", o.file))?;
    let reader = PcapReader::new(std::io::BufReader::new(f)).map_err(|e| format!("{}: {e}", o.file))?;
    if reader.linktype() != LINKTYPE_ETHERNET {
        return Err(format!(
            "{}: link type {} is not Ethernet (1); replay takes Ethernet captures (tcpdump -i eth0, not -i any)",
            o.file,
            reader.linktype()
        ));
    }
    let records = reader.read_all().map_err(|e| format!("{}: {e}", o.file))?;
    let total = records.len();
    let fed: Vec<PcapRecord> =
        records.iter().filter(|r| o.all || addressed_to(&r.data, o.addr)).cloned().collect();
    let mut out = String::new();
    let which = if o.all { "fed (--all)".to_string() } else { format!("addressed to {}", o.addr) };
    let _ = writeln!(out, "replay {}: {total} frames, {} {which}", o.file, fed.len());
    let Some(first) = fed.first() else {
        out += "nothing to feed the host\n";
        return Ok(out);
    };
    let t0 = first.ts_ns;
    let last = fed.last().map_or(t0, |r| r.ts_ns);

    // The host's MAC: where the capture's unicast frames for it went.
    let mac = fed
        .iter()
        .filter_map(|r| EthHdr::new_checked(&r.data[..]).map(|e| e.h_dest()))
        .find(|d| d[0] & 1 == 0)
        .unwrap_or(DEFAULT_MAC);

    let clock = Clock::new_virtual();
    let (net, ipv4) = crate::inet_host("linnet", clock.clone(), &o.host)?;
    let replay = PcapReplay::new(IFNAME, mac, fed.clone(), ReplayTiming::Recorded, clock.clone());
    let dev = net.register_netdev(Box::new(replay)).map_err(|e| format!("register {IFNAME}: {e}"))?;
    // The address before the link is up: no gratuitous ARP in the output.
    net_ipv4::devinet::inet_addr_add(&net, &ipv4, dev.ifindex, o.addr, o.prefix)
        .map_err(|e| format!("ip addr add {}/{}: {e}", o.addr, o.prefix))?;
    let _ = writeln!(out, "host: {}/{} on {IFNAME}, lladdr {}", o.addr, o.prefix, mac_to_string(&mac));

    let mut sources: BTreeMap<Ipv4Addr, MacAddr> = BTreeMap::new();
    for r in &fed {
        if let Some((ip, m)) = ip_source(&r.data) {
            if ip != o.addr {
                sources.entry(ip).or_insert(m);
            }
        }
    }
    for (ip, m) in &sources {
        if !in_subnet(*ip, o.addr, o.prefix) {
            ipv4.fib
                .fib_table_insert(FibRoute::unicast(*ip, 32, None, dev.ifindex))
                .map_err(|e| format!("ip route add {ip}/32: {e}"))?;
            let _ = writeln!(out, "host: ip route add {ip}/32 dev {IFNAME}");
        }
        ipv4.arp_tbl
            .neigh_add(&net, dev.ifindex, *ip, *m, NudState::Permanent)
            .map_err(|e| format!("ip neigh add {ip}: {e}"))?;
        let _ =
            writeln!(out, "host: ip neigh add {ip} lladdr {} dev {IFNAME} nud permanent", mac_to_string(m));
    }
    let _listener = match o.listen {
        Some(p) => {
            let l = TcpSocket::new(&net).map_err(|e| format!("socket: {e}"))?;
            l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p)).map_err(|e| format!("bind port {p}: {e}"))?;
            l.listen(128).map_err(|e| format!("listen: {e}"))?;
            let _ = writeln!(out, "host: listen(fd, 128) on 0.0.0.0:{p}");
            Some(l)
        }
        None => None,
    };

    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let pt = PacketType::tap("replay", move |net: &Net, skb| {
        let outgoing = skb.pkt_type == PktType::Outgoing;
        s2.lock().unwrap_or_else(|e| e.into_inner()).push((skb.tstamp, outgoing, skb.mac_header().to_vec()));
        net.consume_skb(skb);
        NetRx::Success
    });
    net.dev_add_pack(pt.clone());

    let before = net.mib.snapshot();
    let start = clock.now_ns();
    net.dev_open(&dev).map_err(|e| format!("ip link set {IFNAME} up: {e}"))?;
    run_until_idle(&clock, &[&net], start + (last - t0) + TAIL_NS);
    net.dev_remove_pack(&pt);

    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let to_epoch = |t: u64| t0 + t.saturating_sub(start);
    out.push('\n');
    let mut st = TcpSeqState::default();
    let (mut ins, mut outs) = (0, 0);
    for (t, outgoing, frame) in &seen {
        if *outgoing {
            outs += 1
        } else {
            ins += 1
        }
        let dir = if *outgoing { "Out" } else { "In " };
        let _ =
            writeln!(out, "{} {IFNAME} {dir} {}", utc_time(to_epoch(*t)), tcpdump_line_rel(frame, &mut st));
    }
    let _ = writeln!(
        out,
        "\n{ins} frames in, {outs} answered (virtual time, {} ms after the last frame)",
        TAIL_NS / 1_000_000
    );
    out += &net.mib.snapshot().nstat_diff(&before);

    if let Some(p) = &o.pcap {
        let f = std::fs::File::create(p).map_err(|e| format!("cannot write {p}: {e}"))?;
        let mut w =
            PcapWriter::new(std::io::BufWriter::new(f)).map_err(|e| format!("cannot write {p}: {e}"))?;
        for (t, _, frame) in &seen {
            w.write_record(to_epoch(*t), frame).map_err(|e| format!("cannot write {p}: {e}"))?;
        }
        w.flush().map_err(|e| format!("cannot write {p}: {e}"))?;
        let _ = writeln!(out, "pcap: {p} ({} frames; tcpdump -n -r {p})", seen.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options() {
        let o = parse_opts(&args("x.pcap --addr 10.0.0.2/24 --port 80 --listen")).unwrap();
        assert_eq!(o.listen, Some(80));
        for (a, want) in [
            ("--addr 10.0.0.2/24", "needs a capture file"),
            ("x.pcap", "needs --addr"),
            ("x.pcap --addr 10.0.0.2/24 --listen", "--listen needs --port"),
            ("x.pcap --addr 10.0.0.2/24 --port 80", "without --listen"),
            ("x.pcap y.pcap --addr 10.0.0.2/24", "one capture file"),
            ("x.pcap --addr nope", "A/PREFIX"),
            ("x.pcap --addr 10.0.0.2/24 --frob", "unknown option"),
        ] {
            let e = parse_opts(&args(a)).unwrap_err();
            assert!(e.contains(want), "{a}: {e}");
        }
    }

    #[test]
    fn utc_clock() {
        assert_eq!(utc_time(86_400_000_000_000 + 3_723_000_004_000), "01:02:03.000004");
    }
}
