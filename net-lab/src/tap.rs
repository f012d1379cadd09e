//! `netlab tap`: linnet as a real host on a TAP device, serving the
//! kernel on the other side.
//!
//! No Linux twin: this is a user program. It opens a TAP (net-dev's
//! [`Tap`], in a named network namespace if asked, so the kernel's end
//! lives there and the root namespace is never touched), brings up a
//! linnet host on a system clock with the given address (and a default
//! route), listens on a port and runs one of [`crate::serve`]'s services.
//!
//! Threads: a host loop ([`run_realtime_with`]) moves the frames; the main
//! thread accepts (with a 200 ms `SO_RCVTIMEO`, so it sees the stop flag),
//! prints a counters line on stderr once a second, and starts a thread per
//! connection (at most [`MAX_CONNS`] at once; more are closed at once).
//!
//! SIGINT (Ctrl-C) and SIGTERM set a flag (a `sigaction` handler that does
//! nothing else); the server then stops accepting, lets the connection
//! threads close their sockets, runs the host a little longer so the FINs
//! leave, closes the device (which flushes `--pcap`), prints a final
//! summary on stdout and exits 0. A second Ctrl-C kills it at once
//! (`SA_RESETHAND`).

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use net_core::netdevice::{MacAddr, NetDevice};
use net_core::snmp::TcpMib;
use net_core::{Clock, Errno, Net, NetDev};
use net_dev::pcap::{PcapTee, PcapWriter, SharedPcapWriter};
use net_dev::tun::{Tap, TapError, run_realtime_with};
use net_ipv4::fib::FibRoute;
use net_tcp::TcpSocket;

use crate::serve::{ServeCtx, ServeStats, Service, TICK, serve, set_timeouts};

/// Most connections served at once; one more is accepted and closed.
pub const MAX_CONNS: u64 = 64;
/// How long the host keeps running after the sockets close, so their FINs
/// reach the kernel.
const GRACE: Duration = Duration::from_millis(300);
/// Longest `--duration`: a day.
const MAX_DURATION_SECS: f64 = 86_400.0;

/// `netlab tap`'s options.
#[derive(Clone, Debug)]
pub struct TapOpts {
    /// The TAP device to create.
    pub ifname: String,
    /// linnet's address.
    pub addr: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// The default route's gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// The namespace for the kernel's end of the TAP.
    pub netns: Option<String>,
    /// What to serve.
    pub service: Service,
    /// On which port.
    pub port: u16,
    /// Record every frame here.
    pub pcap: Option<String>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// `--seed` (default: the address as a number) and `--sysctl`s.
    pub host: crate::RunOpts,
}

/// Parse `A/PREFIX` (`--addr`).
pub fn parse_addr_prefix(opt: &str, v: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad =
        || format!("{opt} needs an IPv4 address and prefix length, A/PREFIX (e.g. 10.9.0.2/24), got '{v}'");
    let (a, p) = v.split_once('/').ok_or_else(bad)?;
    let a: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let p: u8 = p.parse().map_err(|_| bad())?;
    if p > 32 {
        return Err(bad());
    }
    if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
        return Err(format!("{opt}: {a} cannot be a host's address"));
    }
    Ok((a, p))
}

/// True when `a` and `b` share the first `prefix` bits.
pub(crate) fn in_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    u32::from(a) & mask == u32::from(b) & mask
}

/// Parse `netlab tap`'s arguments (after the word `tap`).
pub fn parse_opts(args: &[String]) -> Result<TapOpts, String> {
    let (mut ifname, mut addr, mut gateway, mut netns) = (None, None, None, None);
    let (mut service, mut port, mut pcap, mut duration) = (None, None, None, None);
    let mut host = crate::RunOpts { seed: u64::MAX, ..Default::default() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if crate::parse_host_opt(a, &mut it, &mut host)? {
            continue;
        }
        let mut val = |what: &str| it.next().cloned().ok_or_else(|| format!("{a} needs {what}"));
        match a.as_str() {
            "--ifname" => {
                let v = val("an interface name, e.g. tap0")?;
                if v.is_empty() || v.len() > 15 || v.contains(['/', ' ', ':', '\0']) {
                    return Err(format!(
                        "--ifname needs 1 to 15 characters without '/', ':' or spaces, got '{v}'"
                    ));
                }
                ifname = Some(v);
            }
            "--addr" => addr = Some(parse_addr_prefix("--addr", &val("A/PREFIX, e.g. 10.9.0.2/24")?)?),
            "--gateway" => {
                let v = val("an IPv4 address")?;
                gateway = Some(
                    v.parse::<Ipv4Addr>()
                        .map_err(|_| format!("--gateway needs an IPv4 address, got '{v}'"))?,
                );
            }
            "--netns" => {
                let v = val("a namespace name (ip netns add NAME)")?;
                if v.is_empty() || v.contains('/') {
                    return Err(format!("--netns needs a name as `ip netns list` shows it, got '{v}'"));
                }
                netns = Some(v);
            }
            "--serve" => {
                let v = val("echo, discard, http or chargen")?;
                service = Some(Service::parse(&v).ok_or_else(|| {
                    format!("unknown --serve kind '{v}'; choose echo, discard, http or chargen")
                })?);
            }
            "--port" => {
                let v = val("a port number")?;
                port = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| format!("--port needs a number from 1 to 65535, got '{v}'"))?,
                );
            }
            "--pcap" => pcap = Some(val("a file name")?),
            "--duration" => {
                let v = val("a number of seconds")?;
                let secs = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_DURATION_SECS)
                    .ok_or_else(|| {
                        format!("--duration needs seconds, more than 0 and at most 86400, got '{v}'")
                    })?;
                duration = Some(Duration::from_secs_f64(secs));
            }
            other => return Err(format!("unknown option '{other}' for tap; try `netlab help`")),
        }
    }
    let ifname = ifname.ok_or("tap needs --ifname NAME, the TAP device to create (e.g. --ifname tap0)")?;
    let (addr, prefix) =
        addr.ok_or("tap needs --addr A/PREFIX, linnet's address (e.g. --addr 10.9.0.2/24)")?;
    let service = service.ok_or("tap needs --serve echo|discard|http|chargen")?;
    if let Some(g) = gateway {
        if g == addr || !in_subnet(g, addr, prefix) {
            return Err(format!(
                "--gateway {g} is not a neighbour on {addr}/{prefix}; pick an address inside that subnet"
            ));
        }
    }
    if host.seed == u64::MAX {
        host.seed = u64::from(u32::from(addr));
    }
    crate::check_sysctls(&host)?;
    Ok(TapOpts {
        host,
        ifname,
        addr,
        prefix,
        gateway,
        netns,
        service,
        port: port.unwrap_or(service.default_port()),
        pcap,
        duration,
    })
}

// -- signals ------------------------------------------------------------------

/// The signal that asked us to stop (0: none yet).
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
}

/// Install [`on_stop_signal`] for SIGINT and SIGTERM, once-only
/// (`SA_RESETHAND`: a second Ctrl-C gets the default action and kills us),
/// with `SA_RESTART` so no other call sees `EINTR`.
#[allow(unsafe_code)]
fn install_stop_handler() -> Result<(), String> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sigaction` is a plain C struct; all-zero bytes are a
        // valid value of it (empty mask, no flags, SIG_DFL).
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART | libc::SA_RESETHAND;
        // SAFETY: `sa.sa_mask` is a valid, exclusively borrowed sigset_t.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: `sa` is initialised and outlives the call; the old
        // action is not wanted (null). The handler only stores to an
        // atomic, which is async-signal-safe.
        let r = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
        if r != 0 {
            return Err(format!("cannot install a signal handler: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

// -- the run ------------------------------------------------------------------

/// The error for a TAP that would not open, saying what to do.
fn tap_error(o: &TapOpts, e: TapError) -> String {
    let name = &o.ifname;
    match (e, &o.netns) {
        (TapError::PermissionDenied, _) => {
            format!("cannot open TAP {name}: permission denied; run as root (TAP needs CAP_NET_ADMIN)")
        }
        (TapError::NotFound, _) => {
            format!("cannot open TAP {name}: /dev/net/tun not found; load the tun module (modprobe tun)")
        }
        (TapError::Netns { ns, err }, _) if err.kind() == std::io::ErrorKind::NotFound => {
            format!("network namespace '{ns}' does not exist; create it first: ip netns add {ns}")
        }
        (TapError::Io { what, err }, Some(ns)) if err.raw_os_error() == Some(libc::EBUSY) => {
            format!(
                "cannot open TAP {name} in namespace '{ns}': {what}: device busy (another program holds it?)"
            )
        }
        (e, Some(ns)) => format!("cannot open TAP {name} in namespace '{ns}': {e}"),
        (e, None) => format!("cannot open TAP {name}: {e}"),
    }
}

/// linnet's MAC on the TAP: locally administered, with the IPv4 address in
/// the low four bytes (`02:00:0a:09:00:02` for 10.9.0.2), so two linnet
/// hosts on one bridge differ.
fn mac_for(addr: Ipv4Addr) -> MacAddr {
    let o = addr.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// One counters line.
fn counters_line(net: &Net, dev: &NetDev, stats: &ServeStats, started: Instant) -> String {
    let d = dev.stats.snapshot();
    let m = net.mib.snapshot();
    let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    format!(
        "[{:>5.1}s] frames in {} out {} | conns {} ({} open) | bytes in {} out {} | Tcp InSegs {} OutSegs {} RetransSegs {} OutRsts {} CurrEstab {}",
        started.elapsed().as_secs_f64(),
        d.rx_packets,
        d.tx_packets,
        r(&stats.accepted),
        r(&stats.open),
        r(&stats.bytes_in),
        r(&stats.bytes_out),
        m.get(TcpMib::InSegs),
        m.get(TcpMib::OutSegs),
        m.get(TcpMib::RetransSegs),
        m.get(TcpMib::OutRsts),
        m.get(TcpMib::CurrEstab),
    )
}

/// Run `netlab tap` until `--duration`, SIGINT or SIGTERM.
pub fn run(o: &TapOpts) -> Result<(), String> {
    install_stop_handler()?;
    let tap = match &o.netns {
        Some(ns) => Tap::open_in_netns(ns, &o.ifname),
        None => Tap::open(&o.ifname),
    }
    .map_err(|e| tap_error(o, e))?
    .with_mac(mac_for(o.addr));
    let fd = tap.raw_fd();

    let clock = Clock::new_system();
    let net = Net::new("linnet", clock.clone(), o.host.seed);
    let tn = net_tcp::inet_init(&net);
    o.host.apply(&net)?;
    let pcap: Option<SharedPcapWriter<BufWriter<File>>> = match &o.pcap {
        Some(p) => {
            let f = File::create(p).map_err(|e| format!("cannot write {p}: {e}"))?;
            let w = PcapWriter::new(BufWriter::new(f)).map_err(|e| format!("cannot write {p}: {e}"))?;
            Some(Arc::new(Mutex::new(w)))
        }
        None => None,
    };
    let driver: Box<dyn NetDevice> = match &pcap {
        Some(w) => {
            // The clock counts from 0 now; the capture shows wall-clock times.
            let epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                .saturating_sub(clock.now_ns());
            Box::new(PcapTee::new(tap, w.clone(), clock.clone()).with_time_offset(epoch))
        }
        None => Box::new(tap),
    };
    let dev = net.register_netdev(driver).map_err(|e| format!("register {}: {e}", o.ifname))?;
    net.dev_open(&dev).map_err(|e| format!("ip link set {} up: {e}", o.ifname))?;
    net_ipv4::devinet::inet_addr_add(&net, &tn.ipv4, dev.ifindex, o.addr, o.prefix)
        .map_err(|e| format!("ip addr add {}/{}: {e}", o.addr, o.prefix))?;
    if let Some(g) = o.gateway {
        tn.ipv4
            .fib
            .fib_table_insert(FibRoute::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(g), dev.ifindex))
            .map_err(|e| format!("ip route add default via {g}: {e}"))?;
    }
    let listener = TcpSocket::new(&net).map_err(|e| format!("socket: {e}"))?;
    listener
        .bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, o.port))
        .map_err(|e| format!("bind port {}: {e}", o.port))?;
    listener.listen(128).map_err(|e| format!("listen: {e}"))?;
    set_timeouts(&listener, TICK).map_err(|e| format!("SO_RCVTIMEO: {e}"))?;

    let started = Instant::now();
    let ctx = ServeCtx {
        net: net.clone(),
        start_mib: Arc::new(net.mib.snapshot()),
        started,
        stats: Arc::new(ServeStats::default()),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let where_ = o.netns.as_ref().map_or(String::new(), |ns| format!(" (kernel end in netns {ns})"));
    println!(
        "netlab tap: linnet {}/{} on {}{where_}, mac {}, serving {} on port {}; Ctrl-C stops",
        o.addr,
        o.prefix,
        o.ifname,
        net_ipv4::eth::mac_to_string(&mac_for(o.addr)),
        o.service.name(),
        o.port
    );
    let _ = std::io::stdout().flush();

    let host_stop = AtomicBool::new(false);
    let deadline = o.duration.map(|d| started + d);
    let tty = std::io::stderr().is_terminal();
    // The host loop: bounded by the deadline (or a year), stopped by flag.
    let host_until = deadline.unwrap_or(started + Duration::from_secs(86_400 * 365)) + GRACE * 4;
    let why = std::thread::scope(|s| {
        let host = s.spawn(|| {
            run_realtime_with(&[&net], &[fd], host_until, || host_stop.load(Ordering::Relaxed));
        });
        let mut conns: Vec<std::thread::ScopedJoinHandle<'_, ()>> = Vec::new();
        let mut next_line = started + Duration::from_secs(1);
        let why = loop {
            let sig = STOP_SIGNAL.load(Ordering::SeqCst);
            if sig != 0 {
                break signal_name(sig).to_string();
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break "--duration".to_string();
            }
            if host.is_finished() {
                break "the host loop ended".to_string();
            }
            match listener.accept() {
                Ok((c, _peer)) => {
                    ctx.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    if ctx.stats.open.load(Ordering::Relaxed) >= MAX_CONNS {
                        ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
                        drop(c);
                    } else {
                        ctx.stats.open.fetch_add(1, Ordering::Relaxed);
                        let (ctx, service) = (ctx.clone(), o.service);
                        conns.push(s.spawn(move || {
                            serve(service, c, &ctx);
                            ctx.stats.open.fetch_sub(1, Ordering::Relaxed);
                        }));
                    }
                    conns.retain(|h| !h.is_finished());
                }
                Err(Errno::EAGAIN) => {}
                Err(e) => break format!("accept failed: {e}"),
            }
            if Instant::now() >= next_line {
                next_line += Duration::from_secs(1);
                let line = counters_line(&net, &dev, &ctx.stats, started);
                if tty {
                    eprint!("\r\x1b[K{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        };
        if tty {
            eprintln!();
        }
        // Shut down: stop the services, close the listener, let the
        // sockets' FINs leave, then stop the host.
        ctx.stop.store(true, Ordering::Relaxed);
        for h in conns {
            let _ = h.join();
        }
        drop(listener);
        std::thread::sleep(GRACE);
        host_stop.store(true, Ordering::Relaxed);
        let _ = host.join();
        why
    });
    let line = counters_line(&net, &dev, &ctx.stats, started);
    let requests = ctx.stats.requests.load(Ordering::Relaxed);
    let refused = ctx.stats.refused.load(Ordering::Relaxed);
    let _ = net.unregister_netdev(dev.ifindex);
    let mut extra = String::new();
    if o.service == Service::Http {
        extra += &format!(", {requests} HTTP requests");
    }
    if refused > 0 {
        extra += &format!(", {refused} connections refused (more than {MAX_CONNS} open)");
    }
    println!("netlab tap: stopped by {why}{extra}");
    println!("netlab tap: final {line}");
    if let (Some(w), Some(p)) = (pcap, &o.pcap) {
        let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
        w.flush().map_err(|e| format!("cannot write {p}: {e}"))?;
        println!("netlab tap: pcap {p}: {} frames (tcpdump -n -r {p})", w.records());
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_parse_with_defaults() {
        let o = parse_opts(&args("--ifname tap0 --addr 10.9.0.2/24 --serve http")).unwrap();
        assert_eq!(
            (o.addr, o.prefix, o.port, o.service),
            (Ipv4Addr::new(10, 9, 0, 2), 24, 80, Service::Http)
        );
        let o = parse_opts(&args(
            "--ifname t --addr 10.9.0.2/24 --gateway 10.9.0.1 --netns lab --serve echo --port 7007 --duration 1.5",
        ))
        .unwrap();
        assert_eq!(o.gateway, Some(Ipv4Addr::new(10, 9, 0, 1)));
        assert_eq!(o.duration, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn bad_options_say_what_to_do() {
        let cases = [
            ("--ifname tap0 --serve http", "tap needs --addr"),
            ("--addr 10.9.0.2/24 --serve http", "tap needs --ifname"),
            ("--ifname tap0 --addr 10.9.0.2/24", "tap needs --serve"),
            ("--ifname tap0 --addr 10.9.0.2 --serve http", "A/PREFIX"),
            ("--ifname tap0 --addr 10.9.0.300/24 --serve http", "A/PREFIX"),
            ("--ifname tap0 --addr 10.9.0.2/33 --serve http", "A/PREFIX"),
            ("--ifname tap0 --addr 10.9.0.2/24 --serve gopher", "unknown --serve kind 'gopher'"),
            ("--ifname tap0 --addr 10.9.0.2/24 --serve http --port 0", "--port needs"),
            ("--ifname tap0 --addr 10.9.0.2/24 --serve http --gateway 10.8.0.1", "not a neighbour"),
            ("--ifname tap0 --addr 10.9.0.2/24 --serve http --duration -1", "--duration needs"),
            ("--ifname much-too-long-name --addr 10.9.0.2/24 --serve http", "--ifname needs"),
            ("--ifname tap0 --addr", "--addr needs"),
        ];
        for (a, want) in cases {
            let e = parse_opts(&args(a)).unwrap_err();
            assert!(e.contains(want), "{a}: {e}");
            assert!(!e.contains('\n'), "{a}: one line: {e}");
        }
    }
}
