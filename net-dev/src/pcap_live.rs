//! A live pcap device: linnet on a real interface through libpcap, behind
//! the `pcap-live` cargo feature.
//!
//! No Linux twin: this is the user-space side of net/packet/af_packet.c, as
//! libpcap drives it and as DPDK's pcap poll-mode driver
//! (drivers/net/pcap/pcap_ethdev.c) uses it. [`PcapLive::open`] opens a
//! capture handle on an existing interface (`pcap_create()` +
//! `pcap_activate()`, an `AF_PACKET` socket bound to the interface), in
//! promiscuous mode so frames for linnet's own MAC arrive, in immediate mode
//! so none wait in libpcap's buffer, non-blocking
//! (`pcap_setnonblock()`), and capturing the inbound direction only
//! (`pcap_setdirection(PCAP_D_IN)`) so the kernel's own transmissions on the
//! interface are not taken for linnet's input. [`NetDevice::poll`] reads
//! with `pcap_next_ex()` until nothing is pending or the budget;
//! [`NetDevice::ndo_start_xmit`] injects with `pcap_sendpacket()`, which
//! `packet_sendmsg()` hands to the driver directly (the packet socket that
//! sent a frame never sees it again: `skb_loop_sk()`).
//!
//! The kernel keeps running its own stack on the interface: give it no
//! address in linnet's subnet there (or the kernel answers ARP for it) and,
//! for TCP, turn off transmit checksum offload on the peer
//! (`ethtool -K PEER tx off`): a veth peer otherwise hands over frames
//! whose checksum is still to be filled in (`CHECKSUM_PARTIAL`).
//!
//! Wait for frames with `poll(2)` on [`PcapLive::raw_fd`] (the selectable
//! fd, `pcap_get_selectable_fd()`): [`crate::tun::run_realtime`] takes it
//! beside TAP fds.
//!
//! No `unsafe` here: [`PcapLive::open_in_netns`] enters the namespace with
//! tun.rs's `in_netns`; libpcap's own FFI stays inside the `pcap` crate.
//!
//! Left out: BPF filters, snaplen below the MTU, timestamps (the stack
//! stamps frames on receive), statistics from `pcap_stats()`.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::tun::NetnsError;

use pcap::{Active, Capture, Direction};

use net_core::Skb;
use net_core::netdevice::{MacAddr, NetDevice, NetDeviceSetup, NetdevTx};
use net_core::skbuff::{SkBuffHead, skb_from_frame};

/// Largest frame we capture (`snaplen`): a 64 KiB MTU plus Ethernet.
const PCAP_SNAPLEN: i32 = 65535 + 14;

/// libpcap's kernel buffer (`pcap_set_buffer_size()`): 4 MiB, so a burst
/// from a fast peer is not dropped while the host loop is busy.
const PCAP_BUFFER: i32 = 4 << 20;

/// Why a live pcap device could not be opened.
#[derive(Debug)]
pub enum PcapLiveError {
    /// The interface name is empty, longer than `IFNAMSIZ - 1` bytes or
    /// holds a NUL.
    BadName(String),
    /// No interface of that name in the namespace
    /// (`PCAP_ERROR_NO_SUCH_DEVICE`).
    NoSuchDevice(String),
    /// Opening an `AF_PACKET` socket needs `CAP_NET_RAW`
    /// (`PCAP_ERROR_PERM_DENIED`); promiscuous mode `CAP_NET_ADMIN`.
    PermissionDenied(String),
    /// The interface exists but is down (`PCAP_ERROR_IFACE_NOT_UP`).
    NotUp(String),
    /// `/var/run/netns/<name>` could not be opened or entered.
    Netns {
        /// The namespace name.
        ns: String,
        /// What the system said.
        err: io::Error,
    },
    /// Any other libpcap error, with the step that failed.
    Pcap {
        /// The step: "pcap_create", "pcap_activate", "pcap_setnonblock".
        what: &'static str,
        /// libpcap's message.
        msg: String,
    },
}

impl std::fmt::Display for PcapLiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PcapLiveError::BadName(n) => write!(f, "bad interface name {n:?} (1 to 15 bytes, no NUL)"),
            PcapLiveError::NoSuchDevice(m) => write!(f, "no such interface: {m}"),
            PcapLiveError::PermissionDenied(m) => {
                write!(
                    f,
                    "permission denied: live capture needs CAP_NET_RAW and CAP_NET_ADMIN (run as root): {m}"
                )
            }
            PcapLiveError::NotUp(m) => write!(f, "interface is down (ip link set IF up): {m}"),
            PcapLiveError::Netns { ns, err } => write!(f, "cannot enter network namespace {ns:?}: {err}"),
            PcapLiveError::Pcap { what, msg } => write!(f, "{what}: {msg}"),
        }
    }
}

impl std::error::Error for PcapLiveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PcapLiveError::Netns { err, .. } => Some(err),
            _ => None,
        }
    }
}

/// Sort a libpcap error into the cases a user can act on. The pcap crate
/// passes libpcap's message, not its `PCAP_ERROR_*` code, so this reads the
/// message `pcap_activate()` writes (`pcap_statustostr()` and the failing
/// syscall's `strerror`).
fn classify(what: &'static str, ifname: &str, err: pcap::Error) -> PcapLiveError {
    let msg = match err {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    };
    let lower = msg.to_ascii_lowercase();
    let detail = format!("{ifname}: {msg}");
    if lower.contains("no such device") || lower.contains("doesn't exist") {
        PcapLiveError::NoSuchDevice(detail)
    } else if lower.contains("permission") || lower.contains("not permitted") {
        PcapLiveError::PermissionDenied(detail)
    } else if lower.contains("not up") {
        PcapLiveError::NotUp(detail)
    } else {
        PcapLiveError::Pcap { what, msg: detail }
    }
}

/// Counters of a [`PcapLive`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcapLiveStats {
    /// Frames injected with `pcap_sendpacket()`.
    pub tx_frames: u64,
    /// Frames `pcap_sendpacket()` refused (`ENOBUFS`, link down): lost,
    /// as on a real link.
    pub tx_errors: u64,
    /// Frames captured.
    pub rx_frames: u64,
    /// Frames cut short by the snaplen (dropped: a partial frame would
    /// fail its checksums further up).
    pub rx_truncated: u64,
    /// `pcap_next_ex()` errors.
    pub rx_errors: u64,
}

/// A real interface driven through libpcap, usable as a linnet
/// [`NetDevice`] (the DPDK `net_pcap` way: capture to receive, inject to
/// transmit).
pub struct PcapLive {
    cap: Capture<Active>,
    name: String,
    mac: MacAddr,
    mtu: u32,
    stats: PcapLiveStats,
}

impl std::fmt::Debug for PcapLive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapLive").field("name", &self.name).field("fd", &self.cap.as_raw_fd()).finish()
    }
}

impl PcapLive {
    /// Open a live capture on the existing interface `ifname` in the
    /// current thread's network namespace: promiscuous, immediate,
    /// non-blocking, inbound only. linnet's MAC on it is
    /// `02:00:00:00:00:01` until [`PcapLive::with_mac`] changes it, and its
    /// MTU 1500 until [`PcapLive::with_mtu`] does (set it to the
    /// interface's).
    ///
    /// Errors: [`PcapLiveError::NoSuchDevice`],
    /// [`PcapLiveError::PermissionDenied`] without `CAP_NET_RAW`,
    /// [`PcapLiveError::NotUp`], libpcap's message otherwise.
    pub fn open(ifname: &str) -> Result<PcapLive, PcapLiveError> {
        if ifname.is_empty() || ifname.len() >= libc::IFNAMSIZ || ifname.contains('\0') {
            return Err(PcapLiveError::BadName(ifname.to_string()));
        }
        let cap = Capture::from_device(ifname)
            .map_err(|e| classify("pcap_create", ifname, e))?
            .promisc(true)
            .immediate_mode(true)
            .snaplen(PCAP_SNAPLEN)
            .buffer_size(PCAP_BUFFER)
            .open()
            .map_err(|e| classify("pcap_activate", ifname, e))?;
        let cap = cap.setnonblock().map_err(|e| classify("pcap_setnonblock", ifname, e))?;
        cap.direction(Direction::In).map_err(|e| classify("pcap_setdirection", ifname, e))?;
        Ok(PcapLive {
            cap,
            name: ifname.to_string(),
            mac: [0x02, 0, 0, 0, 0, 0x01],
            mtu: 1500,
            stats: PcapLiveStats::default(),
        })
    }

    /// [`PcapLive::open`] inside the named network namespace
    /// (`/var/run/netns/<ns_name>`, as `ip netns add` creates it): a
    /// short-lived thread `setns()`s there and opens the capture, whose
    /// socket stays bound to that namespace's interface while the handle is
    /// used from anywhere.
    pub fn open_in_netns(ns_name: &str, ifname: &str) -> Result<PcapLive, PcapLiveError> {
        if ns_name.is_empty() || ns_name.contains('/') {
            return Err(PcapLiveError::Netns {
                ns: ns_name.to_string(),
                err: io::Error::from(io::ErrorKind::InvalidInput),
            });
        }
        let ifname = ifname.to_string();
        match crate::tun::in_netns(ns_name, move || PcapLive::open(&ifname)) {
            Ok(r) => r,
            Err(NetnsError::Enter(err)) if err.raw_os_error() == Some(libc::EPERM) => {
                Err(PcapLiveError::PermissionDenied(format!("setns {ns_name}: {err}")))
            }
            Err(NetnsError::Enter(err)) => Err(PcapLiveError::Netns { ns: ns_name.to_string(), err }),
            Err(NetnsError::Thread(err)) => {
                Err(PcapLiveError::Pcap { what: "setns thread", msg: err.to_string() })
            }
        }
    }

    /// Use `mac` as linnet's hardware address on this interface (pick a
    /// locally administered one, `02:…`, other than the interface's own).
    pub fn with_mac(mut self, mac: MacAddr) -> PcapLive {
        self.mac = mac;
        self
    }

    /// Use `mtu` (the interface's MTU; default 1500).
    pub fn with_mtu(mut self, mtu: u32) -> PcapLive {
        self.mtu = mtu;
        self
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The selectable fd, to wait on with `poll(2)` (readable when a frame
    /// is captured). Valid while the `PcapLive` lives.
    pub fn raw_fd(&self) -> RawFd {
        self.cap.as_raw_fd()
    }

    /// This device's counters.
    pub fn stats(&self) -> PcapLiveStats {
        self.stats
    }
}

impl NetDevice for PcapLive {
    fn setup(&self) -> NetDeviceSetup {
        let mut s = NetDeviceSetup::ether(&self.name, self.mac);
        s.mtu = self.mtu;
        s.max_mtu = (PCAP_SNAPLEN - 14) as u32;
        s
    }

    /// Inject a frame: `pcap_sendpacket()` → `packet_sendmsg()` →
    /// the interface's `ndo_start_xmit`.
    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        match self.cap.sendpacket(skb.data()) {
            Ok(()) => self.stats.tx_frames += 1,
            // ENOBUFS with the device queue full, ENETDOWN: the frame is
            // lost, as on a real link (libpcap does not say EAGAIN).
            Err(_) => self.stats.tx_errors += 1,
        }
        NetdevTx::Ok
    }

    /// Read captured frames (`pcap_next_ex()`), up to `budget`, without
    /// blocking.
    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let mut n = 0;
        while n < budget {
            match self.cap.next_packet() {
                Ok(p) => {
                    if p.header.caplen < p.header.len {
                        self.stats.rx_truncated += 1;
                        continue;
                    }
                    rx.queue_tail(skb_from_frame(0, p.data));
                    self.stats.rx_frames += 1;
                    n += 1;
                }
                // Non-blocking and nothing pending.
                Err(pcap::Error::TimeoutExpired) => break,
                Err(_) => {
                    self.stats.rx_errors += 1;
                    break;
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    //! What runs without privileges: name checks and error sorting. The
    //! capture itself is in tests/pcap_live.rs (root).
    use super::*;

    #[test]
    fn bad_names_are_refused_before_any_syscall() {
        for name in ["", "sixteen-bytes-xx", "a\0b"] {
            assert!(matches!(PcapLive::open(name), Err(PcapLiveError::BadName(_))), "{name:?}");
        }
        assert!(matches!(PcapLive::open_in_netns("a/b", "veth0"), Err(PcapLiveError::Netns { .. })));
    }

    #[test]
    fn libpcap_messages_are_sorted() {
        let e = |m: &str| classify("pcap_activate", "x0", pcap::Error::PcapError(m.to_string()));
        assert!(matches!(e("x0: No such device exists"), PcapLiveError::NoSuchDevice(_)));
        assert!(matches!(e("socket: Operation not permitted"), PcapLiveError::PermissionDenied(_)));
        assert!(matches!(
            e("You don't have permission to perform this capture on that device"),
            PcapLiveError::PermissionDenied(_)
        ));
        assert!(matches!(e("x0: That device is not up"), PcapLiveError::NotUp(_)));
        let other = e("something else");
        assert_eq!(other.to_string(), "pcap_activate: x0: something else");
    }

    #[test]
    fn a_missing_interface_is_an_error_not_a_panic() {
        // As root this is "no such device"; without CAP_NET_RAW libpcap
        // may say "permission" first. Either way: an error, no panic.
        match PcapLive::open("linnet-nope0") {
            Err(PcapLiveError::NoSuchDevice(_)) | Err(PcapLiveError::PermissionDenied(_)) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
}
