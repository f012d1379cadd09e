//! The TCP header, its checksum and its options.
//!
//! Mirrors `struct tcphdr` (include/uapi/linux/tcp.h), the option numbers
//! and lengths of include/net/tcp.h (`TCPOPT_*`, `TCPOLEN_*`, `TCPHDR_*`),
//! `tcp_v4_check()` / `tcp_v4_send_check()` (include/net/tcp.h,
//! net/ipv4/tcp_ipv4.c), `tcp_parse_options()` (net/ipv4/tcp_input.c) and
//! `tcp_options_write()` / `tcp_syn_options()` /
//! `tcp_established_options()` (net/ipv4/tcp_output.c) of **Linux 6.18**.
//!
//! Heads up! Read RFC 9293 §3.1 (the header, the pseudo-header checksum)
//! and §3.2 (options: "a TCP implementation MUST be able to receive a TCP
//! Option in any segment"; unknown options are skipped by their length),
//! RFC 7323 (window scale, timestamps; "a Window Scale above 14 … MUST use
//! 14"), RFC 2018 (SACK) and RFC 6691 (MSS) first.
//!
//! # Options as Linux lays them out
//!
//! Linux writes options in 32-bit words and pads with NOPs *before* an
//! option, never after, so every option's payload is word aligned. A SYN
//! with every option on is 20 bytes:
//!
//! ```text
//! 02 04 05 b4                mss 1460
//! 04 02 08 0a <tsval> <tsecr> sackOK,TS   (SACK_PERM folded into the TS word)
//! 01 03 03 07                nop,wscale 7
//! ```
//!
//! Without timestamps SACK_PERM gets its own word `01 01 04 02`
//! (`nop,nop,sackOK`); an established segment's timestamp is
//! `01 01 08 0a <tsval> <tsecr>`; SACK blocks follow as `01 01 05 <len>`
//! and 8 bytes per block.
//!
//! ```
//! use net_tcp::tcphdr::{TcpOutOptions, tcp_options_write, tcp_parse_options, tcpdump_options};
//!
//! let mut buf = [0u8; 40];
//! let n = tcp_options_write(&mut buf, &TcpOutOptions::syn(1460, 1, 7));
//! assert_eq!(&buf[..n], [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
//! assert_eq!(tcpdump_options(&buf[..n]), "[mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]");
//! let rx = tcp_parse_options(&buf[..n], true);
//! assert_eq!((rx.mss, rx.wscale, rx.sack_ok, rx.timestamps), (Some(1460), Some(7), true, Some((1, 0))));
//! ```
//!
//! # What happens to bad options
//!
//! Nothing visible: [`tcp_parse_options`] stops at EOL, at a length below
//! 2 and at an option running past the header, keeping what it parsed so
//! far; options with the wrong length for their kind are skipped. A
//! header whose `doff` is below 5 or beyond the segment never gets that
//! far: [`TcpHdr::new_checked`] refuses it, and the caller
//! (`tcp_v4_rcv()`) drops it — `doff < 5` as `PKT_TOO_SMALL` counting
//! `TcpMib: InErrs`, a header past the segment as `NOT_SPECIFIED` without
//! (Linux 6.18 does the same, checked with `perf record -e skb:kfree_skb`).
//!
//! # Where we differ
//!
//! - [`TcpHdr`] is a checked zero-copy view (smoltcp's `wire/tcp.rs`
//!   style) over bytes, not a cast pointer.
//! - [`tcp_parse_options`] does not see the socket: it reports what the
//!   segment carries and leaves to its caller the gates Linux applies from
//!   socket and sysctl state (`estab && tstamp_ok`, `opt_rx->sack_ok` for
//!   SACK blocks, `sysctl_tcp_window_scaling`, `sysctl_tcp_timestamps`,
//!   `sysctl_tcp_sack`, the `user_mss` clamp). It returns the SACK blocks
//!   themselves where Linux stores their offset in `TCP_SKB_CB(skb)->sacked`.
//! - No MD5/AO signatures, Fast Open cookies, MPTCP, SMC or AccECN option
//!   *contents*: those kinds are recognised (so they do not set
//!   `saw_unknown`, as in Linux) but not decoded or written.
//! - The illegal-window-scale warning (`net_info_ratelimited`) is a flag,
//!   [`TcpOptions::wscale_clamped`], for the caller to log.

use net_core::checksum::{Sum16, Wsum, csum_partial, csum_tcpudp_magic};
use net_core::unaligned::{get_unaligned_be16, get_unaligned_be32, put_unaligned_be16, put_unaligned_be32};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// `IPPROTO_TCP`, for the pseudo-header.
const IPPROTO_TCP: u8 = 6;

/// `sizeof(struct tcphdr)`: a header without options.
pub const TCPHDR_LEN: usize = 20;
/// The largest header: `doff` = 15.
pub const TCPHDR_MAX_LEN: usize = 60;
/// `MAX_TCP_OPTION_SPACE`: room for options in a header.
pub const MAX_TCP_OPTION_SPACE: usize = 40;

// -- TCP flags (include/net/tcp.h) -------------------------------------------

/// `TCPHDR_FIN`.
pub const TCPHDR_FIN: u8 = 0x01;
/// `TCPHDR_SYN`.
pub const TCPHDR_SYN: u8 = 0x02;
/// `TCPHDR_RST`.
pub const TCPHDR_RST: u8 = 0x04;
/// `TCPHDR_PSH`.
pub const TCPHDR_PSH: u8 = 0x08;
/// `TCPHDR_ACK`.
pub const TCPHDR_ACK: u8 = 0x10;
/// `TCPHDR_URG`.
pub const TCPHDR_URG: u8 = 0x20;
/// `TCPHDR_ECE`.
pub const TCPHDR_ECE: u8 = 0x40;
/// `TCPHDR_CWR`.
pub const TCPHDR_CWR: u8 = 0x80;
/// `TCPHDR_SYN_ECN`: a SYN asking for ECN.
pub const TCPHDR_SYN_ECN: u8 = TCPHDR_SYN | TCPHDR_ECE | TCPHDR_CWR;

// -- Option kinds (include/net/tcp.h) ----------------------------------------

/// `TCPOPT_EOL`: end of option list.
pub const TCPOPT_EOL: u8 = 0;
/// `TCPOPT_NOP`: padding.
pub const TCPOPT_NOP: u8 = 1;
/// `TCPOPT_MSS`: segment size negotiating.
pub const TCPOPT_MSS: u8 = 2;
/// `TCPOPT_WINDOW`: window scaling.
pub const TCPOPT_WINDOW: u8 = 3;
/// `TCPOPT_SACK_PERM`: SACK permitted.
pub const TCPOPT_SACK_PERM: u8 = 4;
/// `TCPOPT_SACK`: SACK blocks.
pub const TCPOPT_SACK: u8 = 5;
/// `TCPOPT_TIMESTAMP`: better RTT estimations / PAWS.
pub const TCPOPT_TIMESTAMP: u8 = 8;
/// `TCPOPT_MD5SIG`: MD5 signature (RFC 2385).
pub const TCPOPT_MD5SIG: u8 = 19;
/// `TCPOPT_AO`: TCP authentication option (RFC 5925).
pub const TCPOPT_AO: u8 = 29;
/// `TCPOPT_MPTCP`: Multipath TCP (RFC 8684).
pub const TCPOPT_MPTCP: u8 = 30;
/// `TCPOPT_FASTOPEN`: Fast Open (RFC 7413).
pub const TCPOPT_FASTOPEN: u8 = 34;
/// `TCPOPT_ACCECN0`: Accurate ECN, order 0.
pub const TCPOPT_ACCECN0: u8 = 172;
/// `TCPOPT_ACCECN1`: Accurate ECN, order 1.
pub const TCPOPT_ACCECN1: u8 = 174;
/// `TCPOPT_EXP`: experimental (RFC 6994), shared by magic number.
pub const TCPOPT_EXP: u8 = 254;
/// `TCPOPT_FASTOPEN_MAGIC`: Fast Open's magic under [`TCPOPT_EXP`].
pub const TCPOPT_FASTOPEN_MAGIC: u16 = 0xF989;
/// `TCPOPT_SMC_MAGIC`: SMC-R's magic under [`TCPOPT_EXP`] ("SMCR" in EBCDIC).
pub const TCPOPT_SMC_MAGIC: u32 = 0xE2D4_C3D9;

// -- Option lengths -----------------------------------------------------------

/// `TCPOLEN_MSS`.
pub const TCPOLEN_MSS: u8 = 4;
/// `TCPOLEN_WINDOW`.
pub const TCPOLEN_WINDOW: u8 = 3;
/// `TCPOLEN_SACK_PERM`.
pub const TCPOLEN_SACK_PERM: u8 = 2;
/// `TCPOLEN_TIMESTAMP`.
pub const TCPOLEN_TIMESTAMP: u8 = 10;
/// `TCPOLEN_MD5SIG`.
pub const TCPOLEN_MD5SIG: u8 = 18;
/// `TCPOLEN_FASTOPEN_BASE`.
pub const TCPOLEN_FASTOPEN_BASE: u8 = 2;
/// `TCPOLEN_EXP_FASTOPEN_BASE`.
pub const TCPOLEN_EXP_FASTOPEN_BASE: u8 = 4;
/// `TCPOLEN_EXP_SMC_BASE`.
pub const TCPOLEN_EXP_SMC_BASE: u8 = 6;
/// `TCPOLEN_SACK_BASE`: kind and length of a SACK option.
pub const TCPOLEN_SACK_BASE: u8 = 2;
/// `TCPOLEN_SACK_BASE_ALIGNED`: the same with two NOPs in front.
pub const TCPOLEN_SACK_BASE_ALIGNED: usize = 4;
/// `TCPOLEN_SACK_PERBLOCK`: one (start, end) pair.
pub const TCPOLEN_SACK_PERBLOCK: u8 = 8;
/// `TCPOLEN_MSS_ALIGNED`.
pub const TCPOLEN_MSS_ALIGNED: usize = 4;
/// `TCPOLEN_TSTAMP_ALIGNED`.
pub const TCPOLEN_TSTAMP_ALIGNED: usize = 12;
/// `TCPOLEN_WSCALE_ALIGNED`.
pub const TCPOLEN_WSCALE_ALIGNED: usize = 4;
/// `TCPOLEN_SACKPERM_ALIGNED`.
pub const TCPOLEN_SACKPERM_ALIGNED: usize = 4;

/// `TCP_MAX_WSCALE`: the largest window scale (RFC 7323 §2.3).
pub const TCP_MAX_WSCALE: u8 = 14;
/// `TCP_NUM_SACKS`: the most SACK blocks Linux reads or sends.
pub const TCP_NUM_SACKS: usize = 4;

/// Byte ranges of `struct tcphdr` (smoltcp's `mod field`).
mod field {
    use core::ops::Range;
    pub const SOURCE: Range<usize> = 0..2;
    pub const DEST: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK_SEQ: Range<usize> = 8..12;
    /// `doff` in the high nibble, `res1` and the AccECN `ae` bit below.
    pub const DOFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECK: Range<usize> = 16..18;
    pub const URG_PTR: Range<usize> = 18..20;
}

// ANCHOR: tcphdr
/// A zero-copy view of a TCP header and what follows it (`struct tcphdr`).
///
/// Built only by [`TcpHdr::new_checked`], which guarantees that the buffer
/// holds 20 bytes, that `doff >= 5` and that the `doff * 4` bytes the
/// header claims are present; after that no accessor can panic. The
/// buffer is the whole segment: [`TcpHdr::payload`] is everything after
/// the header.
#[doc(alias = "tcphdr")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHdr<T: AsRef<[u8]>> {
    buffer: T,
}
// ANCHOR_END: tcphdr

impl<T: AsRef<[u8]>> TcpHdr<T> {
    /// A view of `buffer`, or `None` if it is shorter than 20 bytes, if
    /// `doff < 5`, or if `doff * 4` exceeds its length.
    ///
    /// Mirrors the checks of `tcp_v4_rcv()` (net/ipv4/tcp_ipv4.c): "`if
    /// (unlikely(th->doff < sizeof(struct tcphdr) / 4)) goto bad_packet;`"
    /// and `pskb_may_pull(skb, th->doff * 4)`. Linux drops the first with
    /// `SKB_DROP_REASON_PKT_TOO_SMALL` and counts `TCP_MIB_INERRS`, the
    /// second (`discard_it`) with `NOT_SPECIFIED` only; that is the
    /// caller's job.
    pub fn new_checked(buffer: T) -> Option<TcpHdr<T>> {
        let b = buffer.as_ref();
        if b.len() < TCPHDR_LEN {
            return None;
        }
        let hlen = usize::from(b[field::DOFF] >> 4) * 4;
        if hlen < TCPHDR_LEN || hlen > b.len() {
            return None;
        }
        Some(TcpHdr { buffer })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        get_unaligned_be16(self.b(), r.start)
    }

    fn be32(&self, r: core::ops::Range<usize>) -> u32 {
        get_unaligned_be32(self.b(), r.start)
    }

    /// `source` port.
    pub fn source(&self) -> u16 {
        self.be16(field::SOURCE)
    }
    /// `dest` port.
    pub fn dest(&self) -> u16 {
        self.be16(field::DEST)
    }
    /// `seq`: the sequence number of the first byte (of the SYN, if set).
    pub fn seq(&self) -> u32 {
        self.be32(field::SEQ)
    }
    /// `ack_seq`: the next sequence number the sender expects (valid with ACK).
    pub fn ack_seq(&self) -> u32 {
        self.be32(field::ACK_SEQ)
    }
    /// `doff`: header length in 32-bit words (5..=15).
    pub fn doff(&self) -> u8 {
        self.b()[field::DOFF] >> 4
    }
    /// Header length in bytes (`__tcp_hdrlen()`: `doff * 4`).
    #[doc(alias = "__tcp_hdrlen")]
    pub fn hdrlen(&self) -> usize {
        usize::from(self.doff()) * 4
    }
    /// The header's fourth 32-bit word in host order — `doff`, the
    /// reserved bits, the flags and the window — which `tcp_flag_word(th)`
    /// reads: GRO compares it whole (`TCP_FLAG_*` bits).
    pub fn tcp_flag_word(&self) -> u32 {
        self.be32(12..16)
    }
    /// The flag byte, `TCPHDR_*` bits (`tcp_flag_byte(th)`).
    #[doc(alias = "tcp_flag_byte")]
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS]
    }
    /// The AccECN `ae` bit (RFC 3540's old NS bit): the low bit of byte 12.
    pub fn ae(&self) -> bool {
        self.b()[field::DOFF] & 0x01 != 0
    }
    /// `fin`.
    pub fn fin(&self) -> bool {
        self.flags() & TCPHDR_FIN != 0
    }
    /// `syn`.
    pub fn syn(&self) -> bool {
        self.flags() & TCPHDR_SYN != 0
    }
    /// `rst`.
    pub fn rst(&self) -> bool {
        self.flags() & TCPHDR_RST != 0
    }
    /// `psh`.
    pub fn psh(&self) -> bool {
        self.flags() & TCPHDR_PSH != 0
    }
    /// `ack`.
    pub fn ack(&self) -> bool {
        self.flags() & TCPHDR_ACK != 0
    }
    /// `urg`.
    pub fn urg(&self) -> bool {
        self.flags() & TCPHDR_URG != 0
    }
    /// `ece`.
    pub fn ece(&self) -> bool {
        self.flags() & TCPHDR_ECE != 0
    }
    /// `cwr`.
    pub fn cwr(&self) -> bool {
        self.flags() & TCPHDR_CWR != 0
    }
    /// `window`, unscaled, as on the wire.
    pub fn window(&self) -> u16 {
        self.be16(field::WINDOW)
    }
    /// `check`, as it sits in the header.
    pub fn check(&self) -> Sum16 {
        let b = self.b();
        Sum16::from_ne_bytes([b[field::CHECK.start], b[field::CHECK.start + 1]])
    }
    /// `urg_ptr`.
    pub fn urg_ptr(&self) -> u16 {
        self.be16(field::URG_PTR)
    }
    /// The options: bytes 20 to `doff * 4`.
    pub fn options(&self) -> &[u8] {
        self.b().get(TCPHDR_LEN..self.hdrlen()).unwrap_or(&[])
    }
    /// The header, options included.
    pub fn header(&self) -> &[u8] {
        self.b().get(..self.hdrlen()).unwrap_or(&[])
    }
    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.hdrlen()..).unwrap_or(&[])
    }
    /// The whole segment (header and payload).
    pub fn segment(&self) -> &[u8] {
        self.b()
    }
    /// [`tcp_parse_options`] over this header's options, with `syn` taken
    /// from the header (Linux's `th->syn && !estab` with `estab` = 0).
    pub fn parse_options(&self) -> TcpOptions {
        tcp_parse_options(self.options(), self.syn())
    }
    /// True if the checksum over the whole buffer, with the pseudo-header
    /// of `saddr`/`daddr`, verifies (Linux: `__skb_checksum_complete()`
    /// returning 0 in `tcp_v4_rcv()`; a failure is `TCP_MIB_CSUMERRORS`
    /// and `TCP_MIB_INERRS`).
    pub fn verify_checksum(&self, saddr: Ipv4Addr, daddr: Ipv4Addr) -> bool {
        let seg = self.b();
        let Ok(len) = u16::try_from(seg.len()) else { return false };
        tcp_v4_check(len, saddr, daddr, csum_partial(seg, Wsum::ZERO)) == Sum16::ZERO
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpHdr<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    fn set_be16(&mut self, r: core::ops::Range<usize>, v: u16) {
        put_unaligned_be16(self.bm(), r.start, v);
    }
    fn set_be32(&mut self, r: core::ops::Range<usize>, v: u32) {
        put_unaligned_be32(self.bm(), r.start, v);
    }
    /// Set `source`.
    pub fn set_source(&mut self, v: u16) {
        self.set_be16(field::SOURCE, v);
    }
    /// Set `dest`.
    pub fn set_dest(&mut self, v: u16) {
        self.set_be16(field::DEST, v);
    }
    /// Set `seq`.
    pub fn set_seq(&mut self, v: u32) {
        self.set_be32(field::SEQ, v);
    }
    /// Set `ack_seq`.
    pub fn set_ack_seq(&mut self, v: u32) {
        self.set_be32(field::ACK_SEQ, v);
    }
    /// Set `doff`, keeping the `res1`/`ae` bits. Panics if `doff < 5` or
    /// `doff * 4` exceeds the buffer — a bug in the writer, not input.
    pub fn set_doff(&mut self, doff: u8) {
        assert!(
            (5..=15).contains(&doff) && usize::from(doff) * 4 <= self.b().len(),
            "doff {doff} does not fit the buffer"
        );
        let b = self.bm();
        b[field::DOFF] = (doff << 4) | (b[field::DOFF] & 0x0f);
    }
    /// Set the flag byte (`TCPHDR_*` bits).
    pub fn set_flags(&mut self, flags: u8) {
        self.bm()[field::FLAGS] = flags;
    }
    /// Set or clear the AccECN `ae` bit.
    pub fn set_ae(&mut self, ae: bool) {
        let b = self.bm();
        b[field::DOFF] = (b[field::DOFF] & !0x01) | u8::from(ae);
    }
    /// Set `window`.
    pub fn set_window(&mut self, v: u16) {
        self.set_be16(field::WINDOW, v);
    }
    /// Set `check` to a raw value.
    pub fn set_check(&mut self, v: Sum16) {
        self.bm()[field::CHECK].copy_from_slice(&v.to_ne_bytes());
    }
    /// Set `urg_ptr`.
    pub fn set_urg_ptr(&mut self, v: u16) {
        self.set_be16(field::URG_PTR, v);
    }
    /// The options, writable (bytes 20 to `doff * 4`).
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.hdrlen();
        &mut self.bm()[TCPHDR_LEN..hl]
    }
    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.hdrlen();
        &mut self.bm()[hl..]
    }
    /// Compute and store the checksum over the whole buffer with the
    /// pseudo-header of `saddr`/`daddr`.
    ///
    /// Mirrors `__tcp_v4_send_check()` (net/ipv4/tcp_ipv4.c) for a device
    /// without checksum offload: `th->check = tcp_v4_check(skb->len, saddr,
    /// daddr, csum_partial(th, th->doff << 2, skb->csum))`. Panics if the
    /// segment is longer than 65535 bytes (a bug in the writer).
    #[doc(alias = "tcp_v4_send_check")]
    pub fn fill_checksum(&mut self, saddr: Ipv4Addr, daddr: Ipv4Addr) {
        self.set_check(Sum16::ZERO);
        let seg = self.b();
        let len = u16::try_from(seg.len()).expect("TCP segment longer than 65535 bytes");
        let c = tcp_v4_check(len, saddr, daddr, csum_partial(seg, Wsum::ZERO));
        self.set_check(c);
    }

    /// [`fill_checksum`](Self::fill_checksum) for a view of the header
    /// alone, the payload (`payload_len` bytes) summed apart into
    /// `payload_sum`: the header is in the sender's private header area and
    /// the payload in a buffer shared with the retransmit queue, which is
    /// only read.
    ///
    /// Mirrors `__tcp_v4_send_check()` with `skb->csum` holding the
    /// payload's sum: `csum_partial(th, th->doff << 2, skb->csum)`. Panics
    /// if the segment is longer than 65535 bytes.
    pub fn fill_checksum_split(
        &mut self,
        saddr: Ipv4Addr,
        daddr: Ipv4Addr,
        payload_len: usize,
        payload_sum: Wsum,
    ) {
        self.set_check(Sum16::ZERO);
        let hdr = &self.b()[..self.hdrlen()];
        let len = u16::try_from(hdr.len() + payload_len).expect("TCP segment longer than 65535 bytes");
        // The header is a whole number of 32-bit words, so the payload's
        // sum adds on without a byte rotation.
        let sum = net_core::checksum::csum_add(csum_partial(hdr, Wsum::ZERO), payload_sum);
        self.set_check(tcp_v4_check(len, saddr, daddr, sum));
    }
}

/// The TCP checksum: the pseudo-header of `saddr`, `daddr`, `IPPROTO_TCP`
/// and `len` (header plus payload) added to `base` (the `csum_partial()`
/// of the segment), folded.
///
/// Mirrors `tcp_v4_check()` (include/net/tcp.h), which is
/// `csum_tcpudp_magic(saddr, daddr, len, IPPROTO_TCP, base)`. Computing,
/// sum the segment with `check` zeroed and store the result; verifying,
/// sum it as received and expect [`Sum16::ZERO`].
pub fn tcp_v4_check(len: u16, saddr: Ipv4Addr, daddr: Ipv4Addr, base: Wsum) -> Sum16 {
    csum_tcpudp_magic(saddr.octets(), daddr.octets(), len, IPPROTO_TCP, base)
}

// -- Received options ---------------------------------------------------------

/// One SACK block: `[start_seq, end_seq)` (`struct tcp_sack_block`).
#[doc(alias = "tcp_sack_block")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpSackBlock {
    /// `start_seq`: first sequence number of the block.
    pub start_seq: u32,
    /// `end_seq`: one past the last.
    pub end_seq: u32,
}

/// What [`tcp_parse_options`] found in a segment: the per-segment part of
/// Linux's `struct tcp_options_received` (`tp->rx_opt`).
#[doc(alias = "tcp_options_received")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// The peer's MSS (`mss_clamp` before the `user_mss` clamp): a
    /// 4-byte MSS option with a non-zero value on a SYN. Linux ignores 0.
    pub mss: Option<u16>,
    /// The peer's window scale (`wscale_ok`, `snd_wscale`) from a 3-byte
    /// WSCALE option on a SYN, clamped to [`TCP_MAX_WSCALE`].
    pub wscale: Option<u8>,
    /// The WSCALE value received, when it was above 14 and was clamped
    /// (Linux logs "Illegal window scaling value %d > %u received").
    pub wscale_clamped: Option<u8>,
    /// A 2-byte SACK_PERM option on a SYN (`sack_ok = TCP_SACK_SEEN`).
    pub sack_ok: bool,
    /// `(rcv_tsval, rcv_tsecr)` from a 10-byte TIMESTAMP option, in any
    /// segment (`saw_tstamp`). `tsecr` is as received (Linux's fast path
    /// subtracts `tp->tsoffset` afterwards).
    pub timestamps: Option<(u32, u32)>,
    /// How many of [`TcpOptions::sack_blocks`] are valid (0..=4).
    pub num_sacks: u8,
    /// The blocks of the last well-formed SACK option (length
    /// `2 + 8n`, n >= 1), in the order sent. Linux reads them
    /// (`tcp_sacktag_write_queue()`) only if SACK was negotiated.
    pub sack_blocks: [TcpSackBlock; TCP_NUM_SACKS],
    /// An AccECN option (kind 172 or 174) was present (`opt_rx->accecn`).
    pub saw_accecn: bool,
    /// An option Linux does not know was present (`saw_unknown`), which
    /// is what a BPF `sock_ops` program with
    /// `BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG` would get to see.
    pub saw_unknown: bool,
}

impl TcpOptions {
    /// The SACK blocks present, in order.
    pub fn sacks(&self) -> &[TcpSackBlock] {
        &self.sack_blocks[..usize::from(self.num_sacks).min(TCP_NUM_SACKS)]
    }
}

/// Mirrors `tcp_parse_aligned_timestamp()` (net/ipv4/tcp_input.c): the
/// (TSval, TSecr) of options that are exactly NOP, NOP, TIMESTAMP;
/// `None` for any other layout.
#[inline]
fn tcp_parse_aligned_timestamp(opts: &[u8]) -> Option<(u32, u32)> {
    match *opts {
        [TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP, ..]
            if opts.len() == TCPOLEN_TSTAMP_ALIGNED =>
        {
            Some((get_unaligned_be32(opts, 4), get_unaligned_be32(opts, 8)))
        }
        _ => None,
    }
}

// ANCHOR: tcp_parse_options
/// Parse the options of one segment.
///
/// Mirrors `tcp_parse_options()` (net/ipv4/tcp_input.c). `opts` is the
/// bytes between the fixed header and `doff * 4`; `syn` is Linux's
/// `th->syn && !estab` (a SYN or SYN-ACK seen before the connection is
/// established). Options are walked kind by kind:
///
/// - `EOL` stops the walk; `NOP` is skipped.
/// - Any other kind needs a length byte: if none is left, if the length is
///   below 2 ("silly options") or if the option runs past the end of
///   `opts` ("don't parse partial options"), the walk stops *silently*,
///   keeping what was parsed before.
/// - `MSS` (length 4, on a SYN, value non-zero), `WSCALE` (length 3, on a
///   SYN, above 14 clamped to 14) and `SACK_PERM` (length 2, on a SYN)
///   are honoured only with the right length, and otherwise skipped.
/// - `TIMESTAMP` (length 10) is honoured in any segment.
/// - `SACK` is honoured if its length is `2 + 8n` with n >= 1; a later
///   one replaces an earlier one.
/// - MD5, Fast Open (kind 34, or 254 with its magic), SMC (254 with its
///   magic, on a SYN) and AccECN are known kinds; anything else sets
///   `saw_unknown`. Both are skipped by their length.
///
/// Never panics, for any input; never fails: bad options are ignored,
/// exactly as Linux ignores them (nothing is counted).
///
/// As `tcp_fast_parse_options()` does first, the layout nearly every
/// segment of a connection with timestamps carries — NOP, NOP,
/// TIMESTAMP and nothing else (`TCPOLEN_TSTAMP_ALIGNED`) — is recognised
/// without the walk (`tcp_parse_aligned_timestamp()`), with the walk's
/// result.
pub fn tcp_parse_options(opts: &[u8], syn: bool) -> TcpOptions {
    if let Some(ts) = tcp_parse_aligned_timestamp(opts) {
        return TcpOptions { timestamps: Some(ts), ..TcpOptions::default() };
    }
    tcp_parse_options_walk(opts, syn)
}

/// The walk of [`tcp_parse_options`], kind by kind.
fn tcp_parse_options_walk(opts: &[u8], syn: bool) -> TcpOptions {
    let mut rx = TcpOptions::default();
    let mut i = 0;
    while i < opts.len() {
        let opcode = opts[i];
        match opcode {
            TCPOPT_EOL => return rx,
            TCPOPT_NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let length = opts.len() - i;
        if length < 2 {
            return rx;
        }
        let opsize = usize::from(opts[i + 1]);
        if opsize < 2 || opsize > length {
            return rx;
        }
        // The option's payload: `ptr` in Linux, after kind and length.
        let data = &opts[i + 2..i + opsize];
        match opcode {
            TCPOPT_MSS => {
                if opsize == usize::from(TCPOLEN_MSS) && syn {
                    let in_mss = get_unaligned_be16(data, 0);
                    if in_mss != 0 {
                        rx.mss = Some(in_mss);
                    }
                }
            }
            TCPOPT_WINDOW => {
                if opsize == usize::from(TCPOLEN_WINDOW) && syn {
                    let snd_wscale = data[0];
                    rx.wscale_clamped = (snd_wscale > TCP_MAX_WSCALE).then_some(snd_wscale);
                    rx.wscale = Some(snd_wscale.min(TCP_MAX_WSCALE));
                }
            }
            TCPOPT_TIMESTAMP => {
                if opsize == usize::from(TCPOLEN_TIMESTAMP) {
                    rx.timestamps = Some((get_unaligned_be32(data, 0), get_unaligned_be32(data, 4)));
                }
            }
            TCPOPT_SACK_PERM => {
                if opsize == usize::from(TCPOLEN_SACK_PERM) && syn {
                    rx.sack_ok = true;
                }
            }
            TCPOPT_SACK => {
                let base = usize::from(TCPOLEN_SACK_BASE);
                let per = usize::from(TCPOLEN_SACK_PERBLOCK);
                if opsize >= base + per && (opsize - base) % per == 0 {
                    let n = ((opsize - base) / per).min(TCP_NUM_SACKS);
                    rx.sack_blocks = [TcpSackBlock::default(); TCP_NUM_SACKS];
                    for (k, blk) in data.chunks_exact(per).take(n).enumerate() {
                        rx.sack_blocks[k] = TcpSackBlock {
                            start_seq: get_unaligned_be32(blk, 0),
                            end_seq: get_unaligned_be32(blk, 4),
                        };
                    }
                    rx.num_sacks = n as u8;
                }
            }
            TCPOPT_MD5SIG | TCPOPT_FASTOPEN => {}
            TCPOPT_ACCECN0 | TCPOPT_ACCECN1 => rx.saw_accecn = true,
            TCPOPT_EXP => {
                let fastopen = opsize >= usize::from(TCPOLEN_EXP_FASTOPEN_BASE)
                    && get_unaligned_be16(data, 0) == TCPOPT_FASTOPEN_MAGIC;
                let smc = syn
                    && opsize % 2 == 0
                    && opsize >= usize::from(TCPOLEN_EXP_SMC_BASE)
                    && get_unaligned_be32(data, 0) == TCPOPT_SMC_MAGIC;
                if !fastopen && !smc {
                    rx.saw_unknown = true;
                }
            }
            _ => rx.saw_unknown = true,
        }
        i += opsize;
    }
    rx
}
// ANCHOR_END: tcp_parse_options

// -- Options to send ----------------------------------------------------------

/// The options of a segment to send (`struct tcp_out_options`), as
/// `tcp_syn_options()`, `tcp_synack_options()` or
/// `tcp_established_options()` would fill it.
#[doc(alias = "tcp_out_options")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOutOptions {
    /// `mss`: written when `Some` (Linux: when non-zero).
    pub mss: Option<u16>,
    /// `ws` with `OPTION_WSCALE`.
    pub ws: Option<u8>,
    /// `OPTION_SACK_ADVERTISE`: send SACK_PERM.
    pub sack_advertise: bool,
    /// `(tsval, tsecr)` with `OPTION_TS`.
    pub ts: Option<(u32, u32)>,
    /// `num_sack_blocks`: how many of `sack_blocks` to send, before the
    /// space limit of [`tcp_options_size`].
    pub num_sack_blocks: u8,
    /// The blocks (Linux takes them from `tp->duplicate_sack` or
    /// `tp->selective_acks`).
    pub sack_blocks: [TcpSackBlock; TCP_NUM_SACKS],
}

impl TcpOutOptions {
    /// The SYN Linux 6.18 sends with default sysctls: MSS, SACK_PERM,
    /// timestamps (`tsecr` 0) and window scale.
    pub fn syn(mss: u16, tsval: u32, ws: u8) -> TcpOutOptions {
        TcpOutOptions {
            mss: Some(mss),
            ws: Some(ws),
            sack_advertise: true,
            ts: Some((tsval, 0)),
            ..TcpOutOptions::default()
        }
    }

    /// The SACK blocks that fit: Linux's `tcp_established_options()` sends
    /// at most `(remaining - TCPOLEN_SACK_BASE_ALIGNED) / TCPOLEN_SACK_PERBLOCK`
    /// of them (3 beside a timestamp, 4 without).
    fn sacks_that_fit(&self, used: usize) -> usize {
        let want = usize::from(self.num_sack_blocks).min(TCP_NUM_SACKS);
        let remaining = MAX_TCP_OPTION_SPACE.saturating_sub(used);
        if remaining < TCPOLEN_SACK_BASE_ALIGNED + usize::from(TCPOLEN_SACK_PERBLOCK) {
            return 0;
        }
        want.min((remaining - TCPOLEN_SACK_BASE_ALIGNED) / usize::from(TCPOLEN_SACK_PERBLOCK))
    }

    fn size_without_sacks(&self) -> usize {
        let mut size = 0;
        if self.mss.is_some() {
            size += TCPOLEN_MSS_ALIGNED;
        }
        if self.ts.is_some() {
            size += TCPOLEN_TSTAMP_ALIGNED;
        }
        if self.sack_advertise && self.ts.is_none() {
            // Folded into the timestamp word otherwise.
            size += TCPOLEN_SACKPERM_ALIGNED;
        }
        if self.ws.is_some() {
            size += TCPOLEN_WSCALE_ALIGNED;
        }
        size
    }
}

/// The number of option bytes [`tcp_options_write`] will write for `opts`:
/// a multiple of 4, at most [`MAX_TCP_OPTION_SPACE`] for any set Linux
/// would build (MSS 4, timestamps 12, SACK_PERM 4 or 0 beside timestamps,
/// WSCALE 4, SACK 4 + 8 per block, blocks limited to the space left).
///
/// Mirrors the size computation of `tcp_syn_options()` /
/// `tcp_established_options()` (net/ipv4/tcp_output.c).
pub fn tcp_options_size(opts: &TcpOutOptions) -> usize {
    let base = opts.size_without_sacks();
    match opts.sacks_that_fit(base) {
        0 => base,
        n => base + TCPOLEN_SACK_BASE_ALIGNED + n * usize::from(TCPOLEN_SACK_PERBLOCK),
    }
}

fn put_word(buf: &mut [u8], at: &mut usize, w: [u8; 4]) {
    buf[*at..*at + 4].copy_from_slice(&w);
    *at += 4;
}

// ANCHOR: tcp_options_write
/// Write `opts` into `buf` in Linux's order and padding; returns the
/// number of bytes written, [`tcp_options_size`]`(opts)`.
///
/// Mirrors `tcp_options_write()` (net/ipv4/tcp_output.c), word by word:
///
/// 1. MSS: `02 04 <mss>`.
/// 2. Timestamps: `04 02 08 0a` if SACK_PERM goes too (folded into the
///    padding), else `01 01 08 0a`; then `tsval`, `tsecr`.
/// 3. SACK_PERM without timestamps: `01 01 04 02`.
/// 4. Window scale: `01 03 03 <ws>`.
/// 5. SACK blocks: `01 01 05 <2 + 8n>`, then each block's start and end.
///
/// Panics if `buf` is shorter than [`tcp_options_size`]`(opts)` — a bug in
/// the caller, which sized the header with that function (Linux's
/// `tcp_options_write()` trusts its caller the same way).
pub fn tcp_options_write(buf: &mut [u8], opts: &TcpOutOptions) -> usize {
    let size = tcp_options_size(opts);
    assert!(buf.len() >= size, "{} bytes of room for {size} bytes of options", buf.len());
    let mut at = 0;
    if let Some(mss) = opts.mss {
        let [hi, lo] = mss.to_be_bytes();
        put_word(buf, &mut at, [TCPOPT_MSS, TCPOLEN_MSS, hi, lo]);
    }
    let mut sack_advertise = opts.sack_advertise;
    if let Some((tsval, tsecr)) = opts.ts {
        if sack_advertise {
            put_word(
                buf,
                &mut at,
                [TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP],
            );
            sack_advertise = false;
        } else {
            put_word(buf, &mut at, [TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP]);
        }
        put_word(buf, &mut at, tsval.to_be_bytes());
        put_word(buf, &mut at, tsecr.to_be_bytes());
    }
    if sack_advertise {
        put_word(buf, &mut at, [TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM]);
    }
    if let Some(ws) = opts.ws {
        put_word(buf, &mut at, [TCPOPT_NOP, TCPOPT_WINDOW, TCPOLEN_WINDOW, ws]);
    }
    let n = opts.sacks_that_fit(opts.size_without_sacks());
    if n > 0 {
        let len = TCPOLEN_SACK_BASE + n as u8 * TCPOLEN_SACK_PERBLOCK;
        put_word(buf, &mut at, [TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK, len]);
        for blk in &opts.sack_blocks[..n] {
            put_word(buf, &mut at, blk.start_seq.to_be_bytes());
            put_word(buf, &mut at, blk.end_seq.to_be_bytes());
        }
    }
    debug_assert_eq!(at, size);
    at
}
// ANCHOR_END: tcp_options_write

// -- tcpdump ------------------------------------------------------------------

/// tcpdump's name for an option kind (`tcp_option_values[]` in
/// tcpdump's print-tcp.c).
fn tcpdump_option_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        0 => "eol",
        1 => "nop",
        2 => "mss",
        3 => "wscale",
        4 => "sackOK",
        5 => "sack",
        6 => "echo",
        7 => "echoreply",
        8 => "TS",
        11 => "cc",
        12 => "ccnew",
        13 => "",
        19 => "md5",
        20 => "scps",
        28 => "uto",
        29 => "tcp-ao",
        30 => "mptcp",
        34 => "tfo",
        254 => "exp",
        _ => return None,
    })
}

/// tcpdump's `print_tcp_fastopen_option()`.
fn tcpdump_fastopen(out: &mut String, cookie: &[u8], exp: bool) {
    if exp {
        out.push_str("tfo");
    }
    if cookie.is_empty() {
        out.push_str(" cookiereq");
    } else if cookie.len() % 2 != 0 || cookie.len() < 4 || cookie.len() > 16 {
        out.push_str(" (invalid)");
    } else {
        out.push_str(" cookie ");
        for b in cookie {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// Print options the way tcpdump 4.99 prints them after `options `:
/// `[mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]`. Empty `opts` give an
/// empty string (tcpdump prints no options list then).
///
/// Follows `tcp_print()` in tcpdump's print-tcp.c: a kind is followed by
/// its length unless it is EOL or NOP; a length below 2 or past the end
/// prints `[bad opt]` and ends the list; a fixed-size option (mss 2 data
/// bytes, wscale 1, TS 8) whose length disagrees prints its value then
/// `[len N]`, and tcpdump then walks on by the size it *expected*, as we
/// do. SACK blocks are printed absolute (as with `tcpdump -S`);
/// [`tcpdump_options_rel`] prints them relative, as tcpdump does by
/// default. Unknown
/// kinds print `unknown-K` and their data in hex. Differences: MPTCP
/// contents print as hex (`mptcp 0x…`) instead of being decoded, and MD5
/// prints the signature (as tcpdump built without libcrypto does).
pub fn tcpdump_options(opts: &[u8]) -> String {
    tcpdump_options_rel(opts, None)
}

/// [`tcpdump_options`] with SACK blocks made relative to `sack_base` — the
/// initial sequence number the segment's `ack` is shown relative to — as
/// tcpdump prints them without `-S` (print-tcp.c subtracts the same base
/// from both edges of each block).
pub fn tcpdump_options_rel(opts: &[u8], sack_base: Option<u32>) -> String {
    let mut out = String::new();
    if opts.is_empty() {
        return out;
    }
    out.push('[');
    let mut hlen = opts.len();
    let mut cp = 0usize;
    let mut first = true;
    // `goto bad` in tcpdump.
    let bad = |out: &mut String, first: bool| {
        out.push_str("[bad opt]");
        if !first {
            out.push(']');
        }
    };
    while hlen > 0 {
        if !first {
            out.push(',');
        }
        let opt = opts[cp];
        cp += 1;
        let zerolen = opt == TCPOPT_EOL || opt == TCPOPT_NOP;
        let len = if zerolen {
            1
        } else {
            let Some(&len) = opts.get(cp) else {
                bad(&mut out, first);
                return out;
            };
            let len = usize::from(len);
            cp += 1;
            if len < 2 || len > hlen {
                bad(&mut out, first);
                return out;
            }
            hlen -= 1;
            len
        };
        hlen -= 1;
        match tcpdump_option_name(opt) {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "unknown-{opt}");
            }
        }
        let data = &opts[cp..];
        let datalen: usize = match opt {
            TCPOPT_MSS => {
                if hlen < 2 {
                    bad(&mut out, first);
                    return out;
                }
                let _ = write!(out, " {}", get_unaligned_be16(data, 0));
                2
            }
            TCPOPT_WINDOW => {
                if hlen < 1 {
                    bad(&mut out, first);
                    return out;
                }
                let _ = write!(out, " {}", data[0]);
                1
            }
            TCPOPT_SACK => {
                let datalen = len - 2;
                if datalen % 8 != 0 {
                    out.push_str(" invalid sack");
                } else {
                    let _ = write!(out, " {} ", datalen / 8);
                    let base = sack_base.unwrap_or(0);
                    for blk in data[..datalen].chunks_exact(8) {
                        let (s, e) = (get_unaligned_be32(blk, 0), get_unaligned_be32(blk, 4));
                        let _ = write!(out, "{{{}:{}}}", s.wrapping_sub(base), e.wrapping_sub(base));
                    }
                }
                datalen
            }
            6 | 7 | 11 | 12 | 13 => {
                if hlen < 4 {
                    bad(&mut out, first);
                    return out;
                }
                let _ = write!(out, " {}", get_unaligned_be32(data, 0));
                4
            }
            TCPOPT_TIMESTAMP => {
                if hlen < 8 {
                    bad(&mut out, first);
                    return out;
                }
                let _ =
                    write!(out, " val {} ecr {}", get_unaligned_be32(data, 0), get_unaligned_be32(data, 4));
                8
            }
            TCPOPT_MD5SIG => {
                if hlen < 16 {
                    bad(&mut out, first);
                    return out;
                }
                out.push(' ');
                for b in &data[..16] {
                    let _ = write!(out, "{b:02x}");
                }
                16
            }
            20 => {
                if hlen < 2 {
                    bad(&mut out, first);
                    return out;
                }
                let _ = write!(out, " cap {:02x} id {}", data[0], data[1]);
                2
            }
            28 => {
                if hlen < 2 {
                    bad(&mut out, first);
                    return out;
                }
                let v = get_unaligned_be16(data, 0);
                let secs = if v & 1 != 0 { u32::from(v >> 1) * 60 } else { u32::from(v >> 1) };
                let _ = write!(out, " 0x{v:x} {secs}");
                2
            }
            TCPOPT_AO => {
                let datalen = len - 2;
                if datalen < 2 {
                    out.push_str(" (invalid)");
                } else {
                    let _ = write!(out, " keyid {} rnextkeyid {}", data[0], data[1]);
                    if datalen > 2 {
                        out.push_str(" mac 0x");
                        for b in &data[2..datalen] {
                            let _ = write!(out, "{b:02x}");
                        }
                    }
                }
                datalen
            }
            TCPOPT_FASTOPEN => {
                let datalen = len - 2;
                out.push(' ');
                tcpdump_fastopen(&mut out, &data[..datalen], false);
                datalen
            }
            TCPOPT_EXP => {
                let datalen = len - 2;
                if datalen < 2 {
                    bad(&mut out, first);
                    return out;
                }
                out.push('-');
                match get_unaligned_be16(data, 0) {
                    TCPOPT_FASTOPEN_MAGIC => tcpdump_fastopen(&mut out, &data[2..datalen], true),
                    magic => {
                        let _ = write!(out, "{magic:04x}");
                    }
                }
                datalen
            }
            TCPOPT_EOL | TCPOPT_NOP | TCPOPT_SACK_PERM => 0,
            _ => {
                let datalen = len - 2;
                if datalen > 0 {
                    out.push_str(" 0x");
                }
                for b in &data[..datalen] {
                    let _ = write!(out, "{b:02x}");
                }
                datalen
            }
        };
        cp += datalen;
        hlen -= datalen;
        let mut seen = datalen + 1;
        if !zerolen {
            seen += 1;
        }
        if seen != len {
            let _ = write!(out, "[len {len}]");
        }
        first = false;
        if opt == TCPOPT_EOL {
            break;
        }
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    /// Captured from this machine's Linux 6.18 in a throwaway namespace: a
    /// loopback `connect()` (MSS 65495 on `lo`, window scale 10). tcpdump
    /// 4.99 printed the SYN as
    /// `options [mss 65495,sackOK,TS val 4170150223 ecr 0,nop,wscale 10]`.
    const CAPTURED_SYN_OPTS: [u8; 20] = [
        0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0xf8, 0x8f, 0x71, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x03, 0x03, 0x0a,
    ];
    /// The SYN-ACK's options from the same capture.
    const CAPTURED_SYNACK_OPTS: [u8; 20] = [
        0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0xe3, 0x8e, 0xf1, 0x9c, 0xf8, 0x8f, 0x71, 0x4f, 0x01,
        0x03, 0x03, 0x0a,
    ];

    #[test]
    fn captured_linux_syn_parses_rewrites_and_prints_identically() {
        for (bytes, tsval, tsecr) in [
            (CAPTURED_SYN_OPTS, 4_170_150_223u32, 0u32),
            (CAPTURED_SYNACK_OPTS, 3_817_795_996, 4_170_150_223),
        ] {
            let o = tcp_parse_options(&bytes, true);
            assert_eq!(o.mss, Some(65495));
            assert!(o.sack_ok);
            assert_eq!(o.timestamps, Some((tsval, tsecr)));
            assert_eq!(o.wscale, Some(10));
            let mut out = TcpOutOptions::syn(65495, tsval, 10);
            out.ts = Some((tsval, tsecr));
            let mut buf = [0xa5u8; 40];
            let n = tcp_options_write(&mut buf, &out);
            assert_eq!(&buf[..n], &bytes[..], "our writer reproduces Linux's bytes");
            assert_eq!(
                tcpdump_options(&bytes),
                format!("[mss 65495,sackOK,TS val {tsval} ecr {tsecr},nop,wscale 10]")
            );
        }
    }

    use super::*;
    use proptest::prelude::*;

    /// The options of a SYN as Linux 6.18 sends it with default sysctls on
    /// a 1500-byte link (`tcp_syn_options()` + `tcp_options_write()`):
    /// `mss 1460,sackOK,TS val 2906746444 ecr 0,nop,wscale 7`. The layout
    /// and every value but `tsval` (a random-offset clock, an example
    /// value here) are what every such SYN carries.
    const LINUX_SYN_OPTS: [u8; 20] = [
        0x02, 0x04, 0x05, 0xb4, // mss 1460
        0x04, 0x02, 0x08, 0x0a, // sackOK, TS
        0xad, 0x41, 0x6e, 0x4c, // tsval 2906746444
        0x00, 0x00, 0x00, 0x00, // tsecr 0
        0x01, 0x03, 0x03, 0x07, // nop, wscale 7
    ];
    const LINUX_SYN_TSVAL: u32 = 0xad41_6e4c;

    /// Addresses for the pseudo-header.
    const SADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn write_vec(o: &TcpOutOptions) -> Vec<u8> {
        let mut buf = [0xa5u8; 48];
        let n = tcp_options_write(&mut buf, o);
        assert_eq!(n, tcp_options_size(o));
        // Nothing past the options was touched.
        assert!(buf[n..].iter().all(|&b| b == 0xa5));
        buf[..n].to_vec()
    }

    #[test]
    fn linux_syn_options_parse_write_print() {
        let rx = tcp_parse_options(&LINUX_SYN_OPTS, true);
        assert_eq!(rx.mss, Some(1460));
        assert!(rx.sack_ok);
        assert_eq!(rx.timestamps, Some((LINUX_SYN_TSVAL, 0)));
        assert_eq!(rx.wscale, Some(7));
        assert!(rx.wscale_clamped.is_none() && !rx.saw_unknown && rx.num_sacks == 0);

        let out = TcpOutOptions::syn(1460, LINUX_SYN_TSVAL, 7);
        assert_eq!(tcp_options_size(&out), 20);
        assert_eq!(write_vec(&out), LINUX_SYN_OPTS);
        assert_eq!(
            tcpdump_options(&LINUX_SYN_OPTS),
            "[mss 1460,sackOK,TS val 2906746444 ecr 0,nop,wscale 7]"
        );
    }

    #[test]
    fn syn_without_timestamps() {
        let out = TcpOutOptions { ts: None, ..TcpOutOptions::syn(1460, 0, 7) };
        let bytes = write_vec(&out);
        assert_eq!(bytes, [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
        assert_eq!(tcpdump_options(&bytes), "[mss 1460,nop,nop,sackOK,nop,wscale 7]");
        let rx = tcp_parse_options(&bytes, true);
        assert_eq!((rx.mss, rx.sack_ok, rx.wscale, rx.timestamps), (Some(1460), true, Some(7), None));
    }

    #[test]
    fn established_timestamp_and_sack() {
        let out = TcpOutOptions { ts: Some((1, 2)), ..TcpOutOptions::default() };
        let bytes = write_vec(&out);
        assert_eq!(bytes, [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(tcpdump_options(&bytes), "[nop,nop,TS val 1 ecr 2]");

        let blocks = [
            TcpSackBlock { start_seq: 1000, end_seq: 2000 },
            TcpSackBlock { start_seq: 3000, end_seq: 4000 },
            TcpSackBlock { start_seq: 5000, end_seq: 6000 },
            TcpSackBlock { start_seq: 7000, end_seq: 8000 },
        ];
        // With a timestamp only three blocks fit.
        let out =
            TcpOutOptions { ts: Some((1, 2)), num_sack_blocks: 4, sack_blocks: blocks, ..Default::default() };
        assert_eq!(tcp_options_size(&out), 40);
        let bytes = write_vec(&out);
        assert_eq!(&bytes[12..16], &[1, 1, 5, 26]);
        assert_eq!(
            tcpdump_options(&bytes),
            "[nop,nop,TS val 1 ecr 2,nop,nop,sack 3 {1000:2000}{3000:4000}{5000:6000}]"
        );
        let rx = tcp_parse_options(&bytes, false);
        assert_eq!(rx.sacks(), &blocks[..3]);
        assert_eq!(rx.timestamps, Some((1, 2)));
        // Without, all four.
        let out = TcpOutOptions { ts: None, ..out };
        assert_eq!(tcp_options_size(&out), 36);
        let rx = tcp_parse_options(&write_vec(&out), false);
        assert_eq!(rx.sacks(), &blocks);
    }

    #[test]
    fn syn_only_options_ignored_without_syn() {
        let rx = tcp_parse_options(&LINUX_SYN_OPTS, false);
        assert_eq!((rx.mss, rx.sack_ok, rx.wscale), (None, false, None));
        assert_eq!(rx.timestamps, Some((LINUX_SYN_TSVAL, 0)));
    }

    #[test]
    fn malformed_options() {
        // MSS 0 is ignored (`if (in_mss)`); parsing goes on.
        let rx = tcp_parse_options(&[2, 4, 0, 0, 1, 3, 3, 7], true);
        assert_eq!((rx.mss, rx.wscale), (None, Some(7)));
        // Wscale above 14 is clamped, and flagged for the warning.
        let rx = tcp_parse_options(&[1, 3, 3, 15], true);
        assert_eq!((rx.wscale, rx.wscale_clamped), (Some(14), Some(15)));
        let rx = tcp_parse_options(&[1, 3, 3, 255], true);
        assert_eq!(rx.wscale, Some(14));
        // Wrong lengths for known kinds: skipped, the rest still parsed.
        let rx = tcp_parse_options(&[2, 5, 5, 0xb4, 0, 1, 3, 3, 7, 0, 0, 0], true);
        assert_eq!((rx.mss, rx.wscale), (None, Some(7)));
        let rx = tcp_parse_options(&[8, 6, 0, 0, 0, 1, 4, 2], true);
        assert_eq!((rx.timestamps, rx.sack_ok), (None, true));
        // SACK whose length is not 2 + 8n is ignored.
        let rx = tcp_parse_options(&[5, 6, 0, 0, 0, 1, 1, 1], false);
        assert_eq!(rx.num_sacks, 0);
        // Length 0 or 1 ("silly options") stops parsing silently.
        let rx = tcp_parse_options(&[2, 4, 5, 0xb4, 9, 1, 1, 3, 3, 7], true);
        assert_eq!((rx.mss, rx.wscale), (Some(1460), None));
        let rx = tcp_parse_options(&[9, 0, 2, 4, 5, 0xb4], true);
        assert_eq!(rx.mss, None);
        // An option past the end of the header stops parsing.
        let rx = tcp_parse_options(&[1, 3, 3, 7, 8, 10, 0, 0, 0, 1], true);
        assert_eq!((rx.wscale, rx.timestamps), (Some(7), None));
        // A lone kind byte at the end (no length) stops parsing.
        let rx = tcp_parse_options(&[1, 1, 1, 2], true);
        assert_eq!(rx, TcpOptions::default());
        // EOL ends the list even if options follow.
        let rx = tcp_parse_options(&[0, 2, 4, 5, 0xb4], true);
        assert_eq!(rx.mss, None);
        // Unknown kinds are skipped by length and flagged.
        let rx = tcp_parse_options(&[99, 4, 0xde, 0xad, 2, 4, 5, 0xb4], true);
        assert_eq!((rx.saw_unknown, rx.mss), (true, Some(1460)));
        // Known exotic kinds are not "unknown".
        let rx = tcp_parse_options(&[34, 2, 254, 4, 0xf9, 0x89], true);
        assert!(!rx.saw_unknown);
        let rx = tcp_parse_options(&[254, 4, 0x12, 0x34], true);
        assert!(rx.saw_unknown);
        let rx = tcp_parse_options(&[254, 6, 0xe2, 0xd4, 0xc3, 0xd9], true);
        assert!(!rx.saw_unknown);
        let rx = tcp_parse_options(&[254, 6, 0xe2, 0xd4, 0xc3, 0xd9], false);
        assert!(rx.saw_unknown);
        // A later SACK option replaces an earlier one.
        let rx = tcp_parse_options(&[5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 3, 0, 0, 0, 4], false);
        assert_eq!(rx.sacks(), &[TcpSackBlock { start_seq: 3, end_seq: 4 }]);
    }

    #[test]
    fn tcpdump_odd_cases() {
        assert_eq!(tcpdump_options(&[]), "");
        assert_eq!(tcpdump_options(&[1, 1, 0, 0]), "[nop,nop,eol]");
        assert_eq!(tcpdump_options(&[2, 1]), "[[bad opt]");
        assert_eq!(tcpdump_options(&[1, 2, 9]), "[nop,[bad opt]]");
        assert_eq!(tcpdump_options(&[99, 4, 0xde, 0xad]), "[unknown-99 0xdead]");
        assert_eq!(tcpdump_options(&[99, 2]), "[unknown-99]");
        assert_eq!(tcpdump_options(&[3, 4, 7, 1]), "[wscale 7[len 4],nop]");
        assert_eq!(tcpdump_options(&[5, 3, 1]), "[sack invalid sack]");
        assert_eq!(tcpdump_options(&[28, 4, 0x01, 0x2d]), "[uto 0x12d 9000]");
        assert_eq!(tcpdump_options(&[34, 2, 1, 1]), "[tfo  cookiereq,nop,nop]");
        assert_eq!(tcpdump_options(&[254, 8, 0xf9, 0x89, 1, 2, 3, 4]), "[exp-tfo cookie 01020304]");
        assert_eq!(tcpdump_options(&[254, 4, 0x12, 0x34]), "[exp-1234]");
        assert_eq!(tcpdump_options(&[29, 4, 1, 2]), "[tcp-ao keyid 1 rnextkeyid 2]");
    }

    #[test]
    fn tcp_segment_matches_etherparse() {
        let payload = b"GET / HTTP/1.0\r\n\r\n";
        let opts = TcpOutOptions { ts: Some((7, 9)), ..TcpOutOptions::default() };
        let olen = tcp_options_size(&opts);
        let hlen = TCPHDR_LEN + olen;
        let mut seg = vec![0xa5u8; hlen + payload.len()];
        seg[..TCPHDR_LEN].fill(0);
        seg[12] = (hlen as u8 / 4) << 4;
        let mut th = TcpHdr::new_checked(&mut seg[..]).unwrap();
        th.set_source(41874);
        th.set_dest(80);
        th.set_seq(3_456_417_045);
        th.set_ack_seq(1);
        th.set_doff((hlen / 4) as u8);
        th.set_flags(TCPHDR_ACK | TCPHDR_PSH);
        th.set_window(502);
        th.set_urg_ptr(0);
        tcp_options_write(th.options_mut(), &opts);
        th.payload_mut().copy_from_slice(payload);
        th.fill_checksum(SADDR, DADDR);
        assert!(th.verify_checksum(SADDR, DADDR));
        assert!(!th.verify_checksum(SADDR, Ipv4Addr::new(10, 0, 0, 3)));

        let (eh, rest) = etherparse::TcpHeader::from_slice(&seg).unwrap();
        assert_eq!(rest, payload);
        assert_eq!((eh.source_port, eh.destination_port), (41874, 80));
        assert_eq!((eh.sequence_number, eh.acknowledgment_number), (3_456_417_045, 1));
        assert!(eh.ack && eh.psh && !eh.syn && !eh.fin && !eh.rst && !eh.urg && !eh.ece && !eh.cwr);
        assert_eq!(eh.window_size, 502);
        assert_eq!(eh.header_len(), hlen);
        assert_eq!(eh.options.as_slice(), &seg[TCPHDR_LEN..hlen]);
        let elems: Vec<_> = eh.options_iterator().collect::<Result<_, _>>().unwrap();
        use etherparse::TcpOptionElement as E;
        assert_eq!(elems, [E::Noop, E::Noop, E::Timestamp(7, 9)]);
        // The checksum, recomputed independently with the pseudo-header.
        let theirs = eh.calc_checksum_ipv4_raw(SADDR.octets(), DADDR.octets(), payload).unwrap();
        assert_eq!(eh.checksum, theirs);
        let th = TcpHdr::new_checked(&seg[..]).unwrap();
        assert_eq!(th.check().wire(), theirs);
        assert_eq!(th.payload(), payload);
    }

    #[test]
    fn etherparse_built_syn_parses_here() {
        let mut eh = etherparse::TcpHeader::new(41874, 80, 3_456_417_045, 64240);
        eh.syn = true;
        eh.set_options_raw(&LINUX_SYN_OPTS).unwrap();
        eh.checksum = eh.calc_checksum_ipv4_raw(SADDR.octets(), DADDR.octets(), &[]).unwrap();
        let bytes = eh.to_bytes();
        let th = TcpHdr::new_checked(&bytes[..]).unwrap();
        assert_eq!((th.source(), th.dest(), th.seq(), th.window()), (41874, 80, 3_456_417_045, 64240));
        assert_eq!((th.doff(), th.flags()), (10, TCPHDR_SYN));
        assert!(th.syn() && !th.ack());
        assert!(th.verify_checksum(SADDR, DADDR));
        let rx = th.parse_options();
        assert_eq!((rx.mss, rx.wscale, rx.sack_ok), (Some(1460), Some(7), true));
        assert!(th.payload().is_empty());
    }

    #[test]
    fn new_checked_refuses_bad_doff() {
        let mut h = [0u8; 24];
        assert!(TcpHdr::new_checked(&h[..19]).is_none());
        h[12] = 4 << 4;
        assert!(TcpHdr::new_checked(&h[..]).is_none());
        h[12] = 7 << 4; // 28 bytes claimed, 24 present
        assert!(TcpHdr::new_checked(&h[..]).is_none());
        h[12] = 6 << 4;
        let th = TcpHdr::new_checked(&h[..]).unwrap();
        assert_eq!((th.hdrlen(), th.options().len(), th.payload().len()), (24, 4, 0));
        h[12] = 15 << 4;
        assert!(TcpHdr::new_checked(&h[..]).is_none());
    }

    fn out_options() -> impl Strategy<Value = TcpOutOptions> {
        (
            proptest::option::of(1u16..),
            proptest::option::of(0u8..=14),
            any::<bool>(),
            proptest::option::of(any::<(u32, u32)>()),
            0u8..=4,
            any::<[(u32, u32); 4]>(),
        )
            .prop_map(|(mss, ws, sack_advertise, ts, num_sack_blocks, b)| TcpOutOptions {
                mss,
                ws,
                sack_advertise,
                ts,
                num_sack_blocks,
                sack_blocks: b.map(|(s, e)| TcpSackBlock { start_seq: s, end_seq: e }),
            })
    }

    proptest! {
        #[test]
        fn the_aligned_timestamp_shortcut_agrees_with_the_walk(
            head in prop_oneof![Just(vec![TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP]),
                                proptest::collection::vec(any::<u8>(), 4)],
            rest in proptest::collection::vec(any::<u8>(), 0..=12),
            syn in any::<bool>(),
        ) {
            let opts = [head, rest].concat();
            prop_assert_eq!(tcp_parse_options(&opts, syn), tcp_parse_options_walk(&opts, syn));
        }

        #[test]
        fn write_then_parse_round_trips(o in out_options(), syn in any::<bool>()) {
            let mut buf = [0xa5u8; 64];
            let n = tcp_options_write(&mut buf, &o);
            prop_assert_eq!(n, tcp_options_size(&o));
            prop_assert_eq!(n % 4, 0);
            let rx = tcp_parse_options(&buf[..n], syn);
            prop_assert_eq!(rx.timestamps, o.ts);
            if syn {
                prop_assert_eq!(rx.mss, o.mss);
                prop_assert_eq!(rx.wscale, o.ws);
                prop_assert_eq!(rx.sack_ok, o.sack_advertise);
            } else {
                prop_assert_eq!((rx.mss, rx.wscale, rx.sack_ok), (None, None, false));
            }
            let fit = o.sacks_that_fit(o.size_without_sacks());
            prop_assert_eq!(rx.sacks(), &o.sack_blocks[..fit]);
            prop_assert!(!rx.saw_unknown);
            // tcpdump never complains about what we write.
            let s = tcpdump_options(&buf[..n]);
            prop_assert!(!s.contains("bad opt") && !s.contains("[len"), "{}", s);
        }

        #[test]
        fn parse_and_print_never_panic(opts in proptest::collection::vec(any::<u8>(), 0..=40),
                                       syn in any::<bool>()) {
            let rx = tcp_parse_options(&opts, syn);
            prop_assert!(rx.num_sacks as usize <= TCP_NUM_SACKS);
            prop_assert!(rx.wscale.is_none_or(|w| w <= TCP_MAX_WSCALE));
            let _ = tcpdump_options(&opts);
        }

        #[test]
        fn option_like_bytes_never_panic(
            opts in proptest::collection::vec(
                prop_oneof![
                    prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 8, 19, 28, 29, 30, 34, 172, 254]),
                    0u8..=12,
                    any::<u8>(),
                ],
                0..=40,
            ),
            syn in any::<bool>(),
        ) {
            let rx = tcp_parse_options(&opts, syn);
            prop_assert!(rx.num_sacks as usize <= TCP_NUM_SACKS);
            let _ = tcpdump_options(&opts);
        }

        #[test]
        fn view_never_panics(seg in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Some(th) = TcpHdr::new_checked(&seg[..]) {
                prop_assert!(th.hdrlen() >= TCPHDR_LEN && th.hdrlen() <= seg.len());
                prop_assert_eq!(th.options().len() + TCPHDR_LEN + th.payload().len(), seg.len());
                let _ = th.parse_options();
                let _ = th.verify_checksum(SADDR, DADDR);
            }
        }
    }

    #[test]
    fn tcpdump_prints_sack_blocks_relative_to_the_ack_base() {
        // <nop,nop,sack 1 {base+1001:base+2001}>, as `tcpdump` (relative)
        // and `tcpdump -S` (absolute) print it.
        let base: u32 = 0xffff_ff00; // across the wrap
        let mut o = vec![1, 1, 5, 10];
        o.extend(base.wrapping_add(1001).to_be_bytes());
        o.extend(base.wrapping_add(2001).to_be_bytes());
        assert_eq!(tcpdump_options_rel(&o, Some(base)), "[nop,nop,sack 1 {1001:2001}]");
        assert_eq!(
            tcpdump_options(&o),
            format!("[nop,nop,sack 1 {{{}:{}}}]", base.wrapping_add(1001), base.wrapping_add(2001))
        );
    }
}
