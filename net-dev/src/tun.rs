//! A TAP device: linnet on one side, the host kernel's stack on the other.
//!
//! Mirrors drivers/net/tun.c (Linux 6.18) seen from user space: opening
//! `/dev/net/tun` and issuing `TUNSETIFF` with `IFF_TAP | IFF_NO_PI`
//! (`tun_set_iff()`) creates an Ethernet device in the kernel whose
//! transmit path (`tun_net_xmit()`) queues frames for our `read(2)`, and
//! whose receive path (`tun_get_user()`) takes each frame we `write(2)`.
//! With `IFF_NO_PI` the frames are plain Ethernet, no packet-info header.
//!
//! The fd is the device: a non-persistent TAP disappears when the fd is
//! closed, and it lives in the network namespace of the thread that opened
//! it. [`Tap::open_in_netns`] uses that to put the kernel's end inside a
//! namespace (`ip netns add …`) while linnet runs in the calling process.
//!
//! The fd is non-blocking: [`NetDevice::poll`] reads until `EAGAIN` or the
//! budget, and a full kernel queue on transmit (`EAGAIN`, rare: a TAP's
//! write goes straight into the kernel's receive path) hands the skb back
//! as [`NetdevTx::Busy`]. [`run_realtime`] is the host loop for hosts with
//! such devices: `poll(2)` on the fds with a timeout to the next timer on a
//! system [`net_core::Clock`], then [`Net::poll`].
//!
//! Left out: `IFF_TUN` (IP without Ethernet), `IFF_VNET_HDR` offloads,
//! multiqueue, persistence (`TUNSETPERSIST`), owner/group, and offload
//! negotiation (`TUNSETOFFLOAD`): the kernel sends us whole, checksummed
//! frames of at most its MTU.
//!
//! Unsafe: the three FFI calls std does not wrap (`ioctl(TUNSETIFF)`,
//! `setns`, `poll`) each sit in one small `unsafe` block. Miri cannot run
//! FFI calls, so these blocks are covered by the root-only integration test
//! (tests/tap_interop.rs), not by Miri.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use net_core::netdevice::{MacAddr, NetDevice, NetDeviceSetup, NetdevTx};
use net_core::skbuff::{SkBuffHead, skb_from_frame};
use net_core::{Net, Skb};

/// Largest frame we read: a TAP without `IFF_VNET_HDR` never sends more
/// than its MTU plus the Ethernet header, but a user may raise the MTU.
const TAP_READ_BUF: usize = 65535 + 14;

/// Why a TAP could not be opened.
#[derive(Debug)]
pub enum TapError {
    /// `/dev/net/tun` does not exist (no tun module, or a container
    /// without the device node).
    NotFound,
    /// `open` or `TUNSETIFF` said `EACCES`/`EPERM`.
    PermissionDenied,
    /// The interface name is empty or longer than `IFNAMSIZ - 1` bytes.
    BadName(String),
    /// `/var/run/netns/<name>` could not be opened or entered.
    Netns {
        /// The namespace name.
        ns: String,
        /// What the system said.
        err: io::Error,
    },
    /// Any other error, with the step that failed.
    Io {
        /// The step: "open /dev/net/tun", "TUNSETIFF".
        what: &'static str,
        /// The errno.
        err: io::Error,
    },
}

impl std::fmt::Display for TapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TapError::NotFound => write!(f, "/dev/net/tun not found"),
            TapError::PermissionDenied => {
                write!(f, "permission denied: TAP needs CAP_NET_ADMIN (run as root)")
            }
            TapError::BadName(n) => write!(f, "bad interface name {n:?} (1 to 15 bytes, no NUL)"),
            TapError::Netns { ns, err } => write!(f, "cannot enter network namespace {ns:?}: {err}"),
            TapError::Io { what, err } => write!(f, "{what}: {err}"),
        }
    }
}

impl std::error::Error for TapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TapError::Netns { err, .. } | TapError::Io { err, .. } => Some(err),
            _ => None,
        }
    }
}

fn classify(what: &'static str, err: io::Error) -> TapError {
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) if what == "open /dev/net/tun" => TapError::NotFound,
        Some(libc::EACCES) | Some(libc::EPERM) => TapError::PermissionDenied,
        _ => TapError::Io { what, err },
    }
}

/// Counters of a [`Tap`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Frames written to the kernel.
    pub tx_frames: u64,
    /// Frames the kernel refused with `EAGAIN` (handed back as busy).
    pub tx_busy: u64,
    /// Frames dropped on a write error other than `EAGAIN`.
    pub tx_errors: u64,
    /// Frames read from the kernel.
    pub rx_frames: u64,
    /// Reads that failed with an error other than `EAGAIN`.
    pub rx_errors: u64,
}

/// A TAP device opened from user space, usable as a linnet [`NetDevice`].
pub struct Tap {
    file: File,
    name: String,
    mac: MacAddr,
    buf: Vec<u8>,
    stats: TapStats,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap").field("name", &self.name).field("fd", &self.file.as_raw_fd()).finish()
    }
}

/// `TUNSETIFF` on `fd`: attach it to a new TAP device called `name`.
///
/// Miri cannot execute this FFI call; tests/tap_interop.rs covers it.
#[allow(unsafe_code)]
fn tunsetiff(fd: RawFd, name: &str) -> io::Result<()> {
    // SAFETY: `ifreq` is a plain C struct (char array + union of integers
    // and arrays); all-zero bytes are a valid value of every field.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &b) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = b as libc::c_char;
    }
    // `name` is at most IFNAMSIZ - 1 bytes (checked by the caller), so
    // the last byte of `ifr_name` stays NUL.
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: `fd` is an open /dev/net/tun descriptor owned by the caller
    // for the duration of the call; TUNSETIFF reads and writes one
    // `struct ifreq`, and `&mut ifr` points to one that lives across the
    // call.
    let r = unsafe { libc::ioctl(fd, libc::TUNSETIFF, &mut ifr as *mut libc::ifreq) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Move the calling thread into the network namespace open as `fd`.
///
/// Miri cannot execute this FFI call; tests/tap_interop.rs covers it.
/// Why [`in_netns`] could not run its closure.
pub(crate) enum NetnsError {
    /// Opening `/var/run/netns/<name>` or `setns(2)` failed.
    Enter(io::Error),
    /// The thread could not be spawned, or panicked.
    Thread(io::Error),
}

/// Run `f` on a short-lived thread that first enters the named network
/// namespace (`/var/run/netns/<ns_name>`, as `ip netns add` makes it), and
/// return what it returns. A descriptor `f` opens there (a TAP, a capture
/// socket) stays bound to that namespace while it is used from anywhere;
/// the calling thread never leaves its own namespace.
pub(crate) fn in_netns<T: Send + 'static>(
    ns_name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NetnsError> {
    let path = format!("/var/run/netns/{ns_name}");
    let handle = std::thread::Builder::new()
        .name(format!("setns-{ns_name}"))
        .spawn(move || {
            let nsf = File::open(&path).map_err(NetnsError::Enter)?;
            setns_net(nsf.as_raw_fd()).map_err(NetnsError::Enter)?;
            Ok(f())
        })
        .map_err(NetnsError::Thread)?;
    handle.join().unwrap_or_else(|_| Err(NetnsError::Thread(io::Error::other("thread panicked"))))
}

#[allow(unsafe_code)]
fn setns_net(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns(2) takes a descriptor and a flag and touches no
    // memory of ours; `fd` is open for the duration of the call. It
    // changes only the calling thread's namespace, and the callers run it
    // on a thread of their own that ends right after.
    let r = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

impl Tap {
    /// Open `/dev/net/tun` and create (or attach to) the TAP device `name`
    /// in the current thread's network namespace, with `IFF_TAP |
    /// IFF_NO_PI`, non-blocking. The device's MAC on linnet's side is
    /// `02:00:00:00:00:01` until [`Tap::with_mac`] changes it.
    ///
    /// Mirrors the user side of `tun_chr_open()` + `tun_set_iff()`
    /// (drivers/net/tun.c). Errors: [`TapError::NotFound`] without
    /// `/dev/net/tun`, [`TapError::PermissionDenied`] without
    /// `CAP_NET_ADMIN`, the errno otherwise (`EBUSY` if another fd holds
    /// the device).
    pub fn open(name: &str) -> Result<Tap, TapError> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
            return Err(TapError::BadName(name.to_string()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| classify("open /dev/net/tun", e))?;
        tunsetiff(file.as_raw_fd(), name).map_err(|e| classify("TUNSETIFF", e))?;
        Ok(Tap {
            file,
            name: name.to_string(),
            mac: [0x02, 0, 0, 0, 0, 0x01],
            buf: vec![0; TAP_READ_BUF],
            stats: TapStats::default(),
        })
    }

    /// [`Tap::open`] inside the named network namespace
    /// (`/var/run/netns/<ns_name>`, as `ip netns add` creates it): a
    /// short-lived thread `setns()`s there and opens the device, so the
    /// kernel's end lives in that namespace while the returned fd is used
    /// from anywhere.
    pub fn open_in_netns(ns_name: &str, ifname: &str) -> Result<Tap, TapError> {
        if ns_name.is_empty() || ns_name.contains('/') {
            return Err(TapError::Netns {
                ns: ns_name.to_string(),
                err: io::Error::from(io::ErrorKind::InvalidInput),
            });
        }
        let ifname = ifname.to_string();
        match in_netns(ns_name, move || Tap::open(&ifname)) {
            Ok(r) => r,
            Err(NetnsError::Enter(err)) if err.raw_os_error() == Some(libc::EPERM) => {
                Err(TapError::PermissionDenied)
            }
            Err(NetnsError::Enter(err)) => Err(TapError::Netns { ns: ns_name.to_string(), err }),
            Err(NetnsError::Thread(err)) => Err(TapError::Io { what: "setns thread", err }),
        }
    }

    /// Use `mac` as linnet's hardware address on this device (pick a
    /// locally administered one, `02:…`).
    pub fn with_mac(mut self, mac: MacAddr) -> Tap {
        self.mac = mac;
        self
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file descriptor, to wait on with `poll(2)` (readable when the
    /// kernel has a frame for us). Valid while the `Tap` lives.
    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// This device's counters.
    pub fn stats(&self) -> TapStats {
        self.stats
    }
}

impl NetDevice for Tap {
    fn setup(&self) -> NetDeviceSetup {
        let mut s = NetDeviceSetup::ether(&self.name, self.mac);
        s.mtu = 1500;
        s.max_mtu = (TAP_READ_BUF - 14) as u32;
        s
    }

    // ANCHOR: tun_get_user
    /// Hand a frame to the kernel: `write(2)` on the fd runs
    /// `tun_get_user()`, which builds an skb and calls `netif_rx()` there.
    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        match self.file.write(skb.data()) {
            Ok(_) => {
                self.stats.tx_frames += 1;
                NetdevTx::Ok
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stats.tx_busy += 1;
                NetdevTx::Busy(skb)
            }
            Err(_) => {
                // EIO with the kernel side down, EINVAL for a runt: the
                // frame is lost, as on a real link.
                self.stats.tx_errors += 1;
                NetdevTx::Ok
            }
        }
    }
    // ANCHOR_END: tun_get_user

    /// Read what the kernel transmitted (`tun_net_xmit()` queued it,
    /// `tun_do_read()` hands it over), up to `budget` frames, without
    /// blocking.
    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let mut n = 0;
        while n < budget {
            match self.file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(len) => {
                    rx.queue_tail(skb_from_frame(0, &self.buf[..len]));
                    self.stats.rx_frames += 1;
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.stats.rx_errors += 1;
                    break;
                }
            }
        }
        n
    }
}

// -- the real-time host loop ---------------------------------------------------

/// Longest single wait, so a host loop notices work queued from another
/// thread (a socket send) and its deadline promptly.
const MAX_WAIT: Duration = Duration::from_millis(10);

/// Wait until one of `fds` is readable or `timeout` passes (`poll(2)`).
///
/// Miri cannot execute this FFI call; tests/tap_interop.rs covers it.
#[allow(unsafe_code)]
fn wait_readable(fds: &[RawFd], timeout: Duration) {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    if pfds.is_empty() {
        std::thread::sleep(timeout);
        return;
    }
    // SAFETY: `pfds` is a live, exclusively borrowed array of
    // `pfds.len()` initialised `pollfd`s for the whole call; poll(2) only
    // writes their `revents`. An fd that was closed meanwhile yields
    // POLLNVAL, not undefined behaviour.
    let _ = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
}

/// Run `hosts` in real time until `until`: see [`run_realtime_with`].
pub fn run_realtime(hosts: &[&Arc<Net>], fds: &[RawFd], until: Instant) {
    run_realtime_with(hosts, fds, until, || false);
}

/// Run `hosts` (each on a system clock) in real time until `until` or until
/// `done()` returns true, whichever comes first; `done` is asked after each
/// round.
///
/// A round runs [`Net::poll`] on every host until none has work (at most
/// 64 passes), then waits in `poll(2)` on `fds` (the hosts' TAP fds) until
/// a frame arrives, the earliest host event is due — a timer, or a frame a
/// device holds back until its time, as `Netem` does
/// ([`Net::next_event_ns`]) — `until`, or at most 10 ms. The loop is bounded
/// by `until`.
pub fn run_realtime_with(hosts: &[&Arc<Net>], fds: &[RawFd], until: Instant, mut done: impl FnMut() -> bool) {
    loop {
        for _ in 0..64 {
            let work: usize = hosts.iter().map(|n| n.poll()).sum();
            if work == 0 {
                break;
            }
        }
        if done() {
            return;
        }
        let now = Instant::now();
        if now >= until {
            return;
        }
        let mut wait = (until - now).min(MAX_WAIT);
        for net in hosts {
            if let Some(t) = net.next_event_ns() {
                let now_ns = net.now_ns();
                let t = net_core::net_namespace::next_wakeup_ns(now_ns, t);
                wait = wait.min(Duration::from_nanos(t.saturating_sub(now_ns)));
            }
        }
        wait_readable(fds, wait);
    }
}

#[cfg(test)]
mod tests {
    //! What runs without FFI (and so under Miri): name checks and the
    //! error messages. The FFI paths are in tests/tap_interop.rs (root).
    use super::*;

    #[test]
    fn bad_names_are_refused_before_any_syscall() {
        for name in ["", "sixteen-bytes-xx", "a\0b"] {
            assert!(matches!(Tap::open(name), Err(TapError::BadName(_))), "{name:?}");
        }
        assert!(matches!(Tap::open_in_netns("a/b", "tap0"), Err(TapError::Netns { .. })));
    }

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(TapError::NotFound.to_string(), "/dev/net/tun not found");
        assert_eq!(
            TapError::PermissionDenied.to_string(),
            "permission denied: TAP needs CAP_NET_ADMIN (run as root)"
        );
        let e = classify("open /dev/net/tun", io::Error::from_raw_os_error(libc::ENOENT));
        assert!(matches!(e, TapError::NotFound));
        let e = classify("TUNSETIFF", io::Error::from_raw_os_error(libc::EPERM));
        assert!(matches!(e, TapError::PermissionDenied));
        let e = classify("TUNSETIFF", io::Error::from_raw_os_error(libc::EBUSY));
        assert!(e.to_string().starts_with("TUNSETIFF: "), "{e}");
    }
}
