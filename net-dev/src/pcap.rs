//! Packet captures: write, tap, read and replay classic pcap files.
//!
//! No Linux twin. The recorder plays tcpdump: it registers a tap on
//! `ptype_all` (an `AF_PACKET` socket with `ETH_P_ALL`, net/packet/af_packet.c)
//! and writes each frame it sees, in and out, from the MAC header on. The
//! file format is libpcap's classic one (pcap-savefile(5)): a 24-byte file
//! header, then a 16-byte header per record. We write nanosecond
//! timestamps (magic `0xa1b23c4d`), which tcpdump ≥ 4.99, tshark, libpcap
//! and pcap-parser read correctly (pcapng is a trap; see TRAPS.md).
//!
//! [`PcapTee`] records what crosses one driver instead (for a device no
//! namespace tap reaches, such as a TAP under test), and [`PcapReplay`] is
//! a device that plays a capture into a host and keeps what the host sends.
//!
//! The reader takes both magics in both byte orders and treats the file as
//! untrusted: a bad magic, a truncated header or record, or an absurd
//! capture length is an error naming the byte offset, never a panic.
//!
//! Left out: pcapng, link types other than Ethernet when writing, FCS
//! lengths in the link-type field, and capture filters (BPF).

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use net_core::jiffies::NSEC_PER_SEC;
use net_core::netdevice::{MacAddr, NetDevice, NetDeviceSetup, NetdevTx};
use net_core::skbuff::{SkBuffHead, skb_from_frame};
use net_core::{Clock, Net, NetRx, PacketType, Skb};

/// Classic pcap magic, microsecond timestamps.
pub const PCAP_MAGIC_USEC: u32 = 0xa1b2_c3d4;
/// Classic pcap magic, nanosecond timestamps.
pub const PCAP_MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// The snapshot length tcpdump uses by default (`MAXIMUM_SNAPLEN`).
pub const PCAP_SNAPLEN: u32 = 262_144;
/// File header length.
pub const PCAP_FILE_HEADER_LEN: usize = 24;
/// Record header length.
pub const PCAP_RECORD_HEADER_LEN: usize = 16;

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// Capture time, ns (since the epoch of whatever clock wrote it).
    pub ts_ns: u64,
    /// Length of the frame on the wire (`orig_len`); `data` may be shorter.
    pub orig_len: u32,
    /// The captured bytes (`caplen` of them).
    pub data: Vec<u8>,
}

// -- writer -------------------------------------------------------------------

/// Writes a classic pcap stream with nanosecond timestamps.
pub struct PcapWriter<W: Write> {
    w: W,
    snaplen: u32,
    records: u64,
    bytes: u64,
}

impl<W: Write> fmt::Debug for PcapWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapWriter").field("records", &self.records).finish()
    }
}

impl<W: Write> PcapWriter<W> {
    /// Start a capture on `w`: writes the file header (magic `0xa1b23c4d`,
    /// version 2.4, snaplen 262144, `LINKTYPE_ETHERNET`), little-endian.
    pub fn new(w: W) -> io::Result<Self> {
        PcapWriter::with_snaplen(w, PCAP_SNAPLEN)
    }

    /// As [`new`](Self::new) with another snapshot length: longer frames
    /// are cut to `snaplen` bytes (their `orig_len` is kept).
    pub fn with_snaplen(mut w: W, snaplen: u32) -> io::Result<Self> {
        let mut h = [0u8; PCAP_FILE_HEADER_LEN];
        h[0..4].copy_from_slice(&PCAP_MAGIC_NSEC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w, snaplen, records: 0, bytes: PCAP_FILE_HEADER_LEN as u64 })
    }

    // ANCHOR: pcap_record_header
    /// Append one record: a 16-byte header (seconds, nanoseconds, captured
    /// length, original length) and the first `snaplen` bytes of `frame`.
    /// Seconds past 2106 (u32) are written as `u32::MAX`.
    pub fn write_record(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let caplen = frame.len().min(self.snaplen as usize);
        let secs = u32::try_from(ts_ns / NSEC_PER_SEC).unwrap_or(u32::MAX);
        let nsecs = (ts_ns % NSEC_PER_SEC) as u32;
        let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; PCAP_RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&nsecs.to_le_bytes());
        h[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&frame[..caplen])?;
        self.records += 1;
        self.bytes += (PCAP_RECORD_HEADER_LEN + caplen) as u64;
        Ok(())
    }
    // ANCHOR_END: pcap_record_header

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes written, headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Flush and give the writer back.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

// -- recorder -----------------------------------------------------------------

struct RecorderState<W: Write> {
    writer: Option<PcapWriter<W>>,
    errors: u64,
    first_error: Option<io::Error>,
}

/// A tcpdump: a `ptype_all` tap on one or more namespaces writing every
/// frame, in both directions, to one pcap stream.
///
/// Frames are recorded from `skb.mac_header()` (transmit marks it at the
/// start of the frame, receive's `eth_type_trans()` at the Ethernet header)
/// with `skb.tstamp`. The writer sits behind a `std::sync::Mutex` (not a
/// spin lock: the holder does I/O).
pub struct PcapRecorder<W: Write + Send + 'static> {
    state: Arc<Mutex<RecorderState<W>>>,
    taps: Vec<(Arc<Net>, Arc<PacketType>)>,
}

impl<W: Write + Send + 'static> fmt::Debug for PcapRecorder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapRecorder").field("records", &self.records()).finish()
    }
}

impl<W: Write + Send + 'static> PcapRecorder<W> {
    /// A recorder writing to `writer`, not yet tapping anything.
    pub fn new(writer: PcapWriter<W>) -> Self {
        PcapRecorder {
            state: Arc::new(Mutex::new(RecorderState { writer: Some(writer), errors: 0, first_error: None })),
            taps: Vec::new(),
        }
    }

    /// Start a capture on `w` and tap every device of `net`
    /// (`tcpdump -i any`).
    pub fn attach(net: &Arc<Net>, w: W) -> io::Result<Self> {
        let mut r = PcapRecorder::new(PcapWriter::new(w)?);
        r.tap(net, None);
        Ok(r)
    }

    /// Also tap `net` (every device, or only `ifindex`): the same stream
    /// then interleaves several hosts, in the order the frames were seen.
    pub fn tap(&mut self, net: &Arc<Net>, ifindex: Option<u32>) {
        let st = self.state.clone();
        let func = move |_: &Net, skb: Skb| {
            let frame = if skb.mac_header_was_set() { skb.mac_header() } else { skb.data() };
            let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(w) = s.writer.as_mut() {
                if let Err(e) = w.write_record(skb.tstamp, frame) {
                    s.errors += 1;
                    s.first_error.get_or_insert(e);
                }
            }
            NetRx::Success
        };
        let pt = Arc::new(PacketType {
            type_: net_core::if_ether::ETH_P_ALL,
            dev: ifindex,
            ignore_outgoing: false,
            name: "pcap_recorder",
            func: Box::new(func),
        });
        net.dev_add_pack(pt.clone());
        self.taps.push((net.clone(), pt));
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.writer.as_ref().map_or(0, PcapWriter::records)
    }

    /// Write errors so far (the tap never fails a frame because of them).
    pub fn errors(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).errors
    }

    /// Flush what was written.
    pub fn flush(&self) -> io::Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match s.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Remove the taps, flush and return the writer — or the first write
    /// error the tap met.
    pub fn finish(mut self) -> io::Result<W> {
        for (net, pt) in self.taps.drain(..) {
            net.dev_remove_pack(&pt);
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = s.first_error.take() {
            return Err(e);
        }
        let w = s.writer.take().ok_or_else(|| io::Error::other("pcap recorder already finished"))?;
        w.into_inner()
    }
}

impl<W: Write + Send + 'static> Drop for PcapRecorder<W> {
    fn drop(&mut self) {
        for (net, pt) in self.taps.drain(..) {
            net.dev_remove_pack(&pt);
        }
    }
}

// -- tee ----------------------------------------------------------------------

/// A pcap writer shared between a [`PcapTee`] and whoever reads it back.
pub type SharedPcapWriter<W> = Arc<Mutex<PcapWriter<W>>>;

/// Any driver with a capture on its wire side: every frame it transmits and
/// every frame it hands up is written, timestamped on `clock` — what
/// `tcpdump -i tap0` sees, for a device no namespace tap can reach (or to
/// record exactly what crosses one device, before any host processing).
/// The writer sits behind a `std::sync::Mutex` (the holder does I/O);
/// write errors are counted, never returned to the stack.
pub struct PcapTee<D: NetDevice, W: Write + Send + 'static> {
    inner: D,
    writer: SharedPcapWriter<W>,
    clock: Clock,
    /// Added to each timestamp (see [`PcapTee::with_time_offset`]).
    offset_ns: u64,
    errors: u64,
}

impl<D: NetDevice, W: Write + Send + 'static> fmt::Debug for PcapTee<D, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapTee").field("errors", &self.errors).finish()
    }
}

impl<D: NetDevice, W: Write + Send + 'static> PcapTee<D, W> {
    /// Wrap `inner`, writing its frames to `writer`.
    pub fn new(inner: D, writer: SharedPcapWriter<W>, clock: Clock) -> Self {
        PcapTee { inner, writer, clock, offset_ns: 0, errors: 0 }
    }

    /// Add `offset_ns` to every timestamp: a system clock counts from 0
    /// when the host starts, so passing the wall-clock time of that moment
    /// (ns since the Unix epoch) makes `tcpdump -r` print real times.
    pub fn with_time_offset(mut self, offset_ns: u64) -> Self {
        self.offset_ns = offset_ns;
        self
    }

    fn record(&mut self, frame: &[u8]) {
        let now = self.clock.now_ns().saturating_add(self.offset_ns);
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if w.write_record(now, frame).is_err() {
            self.errors += 1;
        }
    }
}

impl<D: NetDevice, W: Write + Send + 'static> NetDevice for PcapTee<D, W> {
    fn setup(&self) -> NetDeviceSetup {
        self.inner.setup()
    }
    fn ndo_open(&mut self) -> Result<(), net_core::Errno> {
        self.inner.ndo_open()
    }
    fn ndo_stop(&mut self) {
        self.inner.ndo_stop();
        let _ = self.writer.lock().unwrap_or_else(|e| e.into_inner()).flush();
    }
    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        let frame = skb.data().to_vec();
        match self.inner.ndo_start_xmit(skb) {
            NetdevTx::Ok => {
                self.record(&frame);
                NetdevTx::Ok
            }
            busy => busy,
        }
    }
    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let mut mine = SkBuffHead::new();
        let n = self.inner.poll(budget, &mut mine);
        while let Some(skb) = mine.dequeue() {
            self.record(skb.data());
            rx.queue_tail(skb);
        }
        n
    }
    fn next_rx_time(&self) -> Option<u64> {
        self.inner.next_rx_time()
    }
    fn ndo_change_mtu(&mut self, mtu: u32) -> Result<(), net_core::Errno> {
        self.inner.ndo_change_mtu(mtu)
    }
}

// -- reader -------------------------------------------------------------------

/// What is wrong with a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcapErrorKind {
    /// The first four bytes are no pcap magic.
    BadMagic(u32),
    /// The file ends inside the 24-byte file header.
    TruncatedFileHeader,
    /// Major version other than 2.
    UnsupportedVersion(u16, u16),
    /// The file ends inside a 16-byte record header.
    TruncatedRecordHeader,
    /// The file ends inside a record's data.
    TruncatedRecord {
        /// Bytes the header promised.
        caplen: u32,
        /// Bytes present.
        got: u32,
    },
    /// A record claims more bytes than the larger of the file's snapshot
    /// length and 262144 (libpcap's "invalid packet capture length"; like
    /// libpcap we accept a `caplen` between the file's snaplen and that
    /// maximum, and keep all its bytes).
    CaplenTooLarge {
        /// The record's `caplen`.
        caplen: u32,
        /// The file's snapshot length (or 262144 if larger).
        limit: u32,
    },
    /// Reading failed.
    Io(io::ErrorKind),
}

/// A capture error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapError {
    /// Offset in the file where the bad item starts.
    pub offset: u64,
    /// What is wrong.
    pub kind: PcapErrorKind,
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PcapErrorKind::BadMagic(m) => write!(f, "offset {}: bad pcap magic {m:#010x}", self.offset),
            PcapErrorKind::TruncatedFileHeader => {
                write!(f, "offset {}: truncated file header (need 24 bytes)", self.offset)
            }
            PcapErrorKind::UnsupportedVersion(a, b) => {
                write!(f, "offset {}: unsupported pcap version {a}.{b}", self.offset)
            }
            PcapErrorKind::TruncatedRecordHeader => {
                write!(f, "offset {}: truncated record header (need 16 bytes)", self.offset)
            }
            PcapErrorKind::TruncatedRecord { caplen, got } => {
                write!(f, "offset {}: truncated record: caplen {caplen}, only {got} bytes", self.offset)
            }
            PcapErrorKind::CaplenTooLarge { caplen, limit } => {
                write!(f, "offset {}: record caplen {caplen} exceeds snaplen limit {limit}", self.offset)
            }
            PcapErrorKind::Io(k) => write!(f, "offset {}: read error: {k}", self.offset),
        }
    }
}

impl std::error::Error for PcapError {}

/// Reads a classic pcap stream (µs or ns magic, either byte order).
pub struct PcapReader<R: Read> {
    r: R,
    offset: u64,
    big_endian: bool,
    nanos: bool,
    snaplen: u32,
    linktype: u32,
    done: bool,
}

impl<R: Read> fmt::Debug for PcapReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapReader").field("offset", &self.offset).field("linktype", &self.linktype).finish()
    }
}

/// Read up to `buf.len()` bytes; returns how many (short only at EOF).
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> PcapReader<R> {
    /// Read and check the file header.
    pub fn new(mut r: R) -> Result<Self, PcapError> {
        let mut h = [0u8; PCAP_FILE_HEADER_LEN];
        let n = read_full(&mut r, &mut h)
            .map_err(|e| PcapError { offset: 0, kind: PcapErrorKind::Io(e.kind()) })?;
        if n >= 4 {
            let m = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            if ![PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC.swap_bytes(), PCAP_MAGIC_NSEC.swap_bytes()]
                .contains(&m)
            {
                return Err(PcapError { offset: 0, kind: PcapErrorKind::BadMagic(m) });
            }
        }
        if n < PCAP_FILE_HEADER_LEN {
            return Err(PcapError { offset: n as u64, kind: PcapErrorKind::TruncatedFileHeader });
        }
        let m = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let big_endian = m == PCAP_MAGIC_USEC.swap_bytes() || m == PCAP_MAGIC_NSEC.swap_bytes();
        let nanos = m == PCAP_MAGIC_NSEC || m == PCAP_MAGIC_NSEC.swap_bytes();
        let u16_at = |i: usize| {
            let b = [h[i], h[i + 1]];
            if big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) }
        };
        let u32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
        };
        let (major, minor) = (u16_at(4), u16_at(6));
        if major != 2 {
            return Err(PcapError { offset: 4, kind: PcapErrorKind::UnsupportedVersion(major, minor) });
        }
        Ok(PcapReader {
            r,
            offset: PCAP_FILE_HEADER_LEN as u64,
            big_endian,
            nanos,
            snaplen: u32_at(16),
            linktype: u32_at(20) & 0x0fff_ffff,
            done: false,
        })
    }

    /// The file's snapshot length.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// The file's link type (`LINKTYPE_*`).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// True when timestamps are in nanoseconds.
    pub fn is_nanosecond(&self) -> bool {
        self.nanos
    }

    /// Offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn u32_of(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
    }

    /// The next record; `Ok(None)` at a clean end of file. After an error
    /// the reader returns `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<PcapRecord>, PcapError> {
        if self.done {
            return Ok(None);
        }
        let at = self.offset;
        let fail = |s: &mut Self, kind| {
            s.done = true;
            Err(PcapError { offset: at, kind })
        };
        let mut h = [0u8; PCAP_RECORD_HEADER_LEN];
        let n = match read_full(&mut self.r, &mut h) {
            Ok(n) => n,
            Err(e) => return fail(self, PcapErrorKind::Io(e.kind())),
        };
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        if n < PCAP_RECORD_HEADER_LEN {
            return fail(self, PcapErrorKind::TruncatedRecordHeader);
        }
        let secs = self.u32_of(&h[0..4]) as u64;
        let frac = self.u32_of(&h[4..8]) as u64;
        let caplen = self.u32_of(&h[8..12]);
        let orig_len = self.u32_of(&h[12..16]);
        let limit = self.snaplen.max(PCAP_SNAPLEN);
        if caplen > limit {
            return fail(self, PcapErrorKind::CaplenTooLarge { caplen, limit });
        }
        // Reserve no more than a sane record (`PCAP_SNAPLEN`) up front: the
        // file's snaplen is input too, and a record claiming 4 GiB of a
        // 40-byte file must cost what the file holds, not 4 GiB.
        let mut data = Vec::with_capacity(caplen.min(PCAP_SNAPLEN) as usize);
        let got = match (&mut self.r).take(caplen as u64).read_to_end(&mut data) {
            Ok(g) => g,
            Err(e) => return fail(self, PcapErrorKind::Io(e.kind())),
        };
        if got < caplen as usize {
            return fail(self, PcapErrorKind::TruncatedRecord { caplen, got: got as u32 });
        }
        self.offset += (PCAP_RECORD_HEADER_LEN + caplen as usize) as u64;
        let ts_ns = secs * NSEC_PER_SEC + if self.nanos { frac } else { frac.saturating_mul(1000) };
        Ok(Some(PcapRecord { ts_ns, orig_len, data }))
    }

    /// Every remaining record, or the first error.
    pub fn read_all(mut self) -> Result<Vec<PcapRecord>, PcapError> {
        let mut v = Vec::new();
        while let Some(r) = self.next_record()? {
            v.push(r);
        }
        Ok(v)
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = Result<PcapRecord, PcapError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

// -- replay -------------------------------------------------------------------

/// When [`PcapReplay`] delivers a capture's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayTiming {
    /// At their recorded times relative to the first record, counted from
    /// when the device is opened (on the namespace clock).
    Recorded,
    /// All at once, as fast as `poll` takes them.
    AsFastAsPossible,
}

/// What a [`PcapReplay`] device transmitted: the host's replies.
pub type ReplaySent = Arc<Mutex<Vec<PcapRecord>>>;

/// A device that plays a capture into a host and records what the host
/// sends back (tcpreplay plus a tcpdump on the far side).
pub struct PcapReplay {
    name: String,
    mac: MacAddr,
    frames: std::vec::IntoIter<PcapRecord>,
    next: Option<PcapRecord>,
    first_ts: u64,
    start: Option<u64>,
    timing: ReplayTiming,
    clock: Clock,
    sent: ReplaySent,
    sent_pcap: Option<PcapWriter<Box<dyn Write + Send>>>,
}

impl fmt::Debug for PcapReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapReplay").field("name", &self.name).field("timing", &self.timing).finish()
    }
}

impl PcapReplay {
    /// A device named `name` that will deliver `records` with `timing`.
    pub fn new(
        name: &str,
        mac: MacAddr,
        records: Vec<PcapRecord>,
        timing: ReplayTiming,
        clock: Clock,
    ) -> Self {
        let first_ts = records.first().map_or(0, |r| r.ts_ns);
        let mut frames = records.into_iter();
        let next = frames.next();
        PcapReplay {
            name: name.to_string(),
            mac,
            frames,
            next,
            first_ts,
            start: None,
            timing,
            clock,
            sent: Arc::new(Mutex::new(Vec::new())),
            sent_pcap: None,
        }
    }

    /// Also write what the host transmits to a pcap stream.
    pub fn with_sent_pcap(mut self, w: PcapWriter<Box<dyn Write + Send>>) -> Self {
        self.sent_pcap = Some(w);
        self
    }

    /// Shared list of the frames the host transmitted on this device, with
    /// the time they were sent.
    pub fn sent(&self) -> ReplaySent {
        self.sent.clone()
    }

    /// Frames not delivered yet.
    pub fn remaining(&self) -> usize {
        self.next.is_some() as usize + self.frames.len()
    }

    fn due(&self, r: &PcapRecord) -> u64 {
        match self.timing {
            ReplayTiming::AsFastAsPossible => 0,
            ReplayTiming::Recorded => {
                self.start.unwrap_or(u64::MAX).saturating_add(r.ts_ns.saturating_sub(self.first_ts))
            }
        }
    }
}

impl NetDevice for PcapReplay {
    fn setup(&self) -> NetDeviceSetup {
        let mut s = NetDeviceSetup::ether(&self.name, self.mac);
        s.max_mtu = PCAP_SNAPLEN;
        s
    }

    fn ndo_open(&mut self) -> Result<(), net_core::Errno> {
        if self.start.is_none() {
            self.start = Some(self.clock.now_ns());
        }
        Ok(())
    }

    fn ndo_start_xmit(&mut self, skb: Skb) -> NetdevTx {
        let now = self.clock.now_ns();
        if let Some(w) = self.sent_pcap.as_mut() {
            // A failing sink must not fail the host's transmit.
            let _ = w.write_record(now, skb.data());
        }
        let rec = PcapRecord { ts_ns: now, orig_len: skb.len() as u32, data: skb.data().to_vec() };
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
        NetdevTx::Ok
    }

    fn poll(&mut self, budget: usize, rx: &mut SkBuffHead) -> usize {
        let now = self.clock.now_ns();
        let mut n = 0;
        while n < budget {
            match &self.next {
                Some(r) if self.due(r) <= now => {}
                _ => break,
            }
            let Some(r) = self.next.take() else { break };
            self.next = self.frames.next();
            rx.queue_tail(skb_from_frame(0, &r.data));
            n += 1;
        }
        n
    }

    fn next_rx_time(&self) -> Option<u64> {
        let r = self.next.as_ref()?;
        self.start?;
        Some(self.due(r).max(if self.timing == ReplayTiming::AsFastAsPossible {
            self.clock.now_ns()
        } else {
            0
        }))
    }

    fn ndo_stop(&mut self) {
        if let Some(w) = self.sent_pcap.as_mut() {
            let _ = w.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_record_headers_are_pinned() {
        let mut buf = vec![0xa5u8; 3];
        buf.clear();
        let mut w = PcapWriter::new(buf).unwrap();
        w.write_record(1_000_000_002, &[0xde, 0xad, 0xbe]).unwrap();
        assert_eq!(w.bytes(), 24 + 16 + 3);
        let out = w.into_inner().unwrap();
        assert_eq!(
            out,
            [
                0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0,
                0, // file header
                1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, // record header
                0xde, 0xad, 0xbe,
            ]
        );
    }

    #[test]
    fn empty_capture_reads_as_no_records() {
        let w = PcapWriter::new(Vec::new()).unwrap().into_inner().unwrap();
        assert_eq!(PcapReader::new(&w[..]).unwrap().read_all().unwrap(), vec![]);
        let e = PcapReader::new(&[][..]).unwrap_err();
        assert_eq!((e.offset, e.kind), (0, PcapErrorKind::TruncatedFileHeader));
    }

    #[test]
    fn tee_adds_its_time_offset() {
        let clock = Clock::new_virtual_at(5);
        let w: SharedPcapWriter<Vec<u8>> = Arc::new(Mutex::new(PcapWriter::new(Vec::new()).unwrap()));
        let inner = crate::loopback::Loopback::new(clock.clone());
        let mut tee = PcapTee::new(inner, w.clone(), clock).with_time_offset(2 * NSEC_PER_SEC);
        assert!(matches!(tee.ndo_start_xmit(skb_from_frame(0, &[0xa5; 20])), NetdevTx::Ok));
        drop(tee);
        let w = Arc::try_unwrap(w).unwrap().into_inner().unwrap();
        let bytes = w.into_inner().unwrap();
        let recs = PcapReader::new(&bytes[..]).unwrap().read_all().unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].ts_ns, 2 * NSEC_PER_SEC + 5);
    }

    #[test]
    fn replay_waits_for_open() {
        let clock = Clock::new_virtual_at(500);
        let rec = PcapRecord { ts_ns: 10, orig_len: 1, data: vec![1] };
        let mut r = PcapReplay::new("p", [2; 6], vec![rec], ReplayTiming::Recorded, clock);
        assert_eq!(r.next_rx_time(), None, "not open yet");
        r.ndo_open().unwrap();
        assert_eq!(r.next_rx_time(), Some(500));
    }
}
