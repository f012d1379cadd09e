//! The Internet checksum: RFC 1071 one's-complement sums, RFC 1624 incremental
//! updates.
//!
//! Mirrors `include/net/checksum.h`, `include/asm-generic/checksum.h`,
//! `lib/checksum.c` and the x86-64 `csum_partial` (`arch/x86/lib/csum-partial_64.c`,
//! `arch/x86/include/asm/checksum_64.h`) of **Linux 6.18**. Read RFC 1071
//! ("Computing the Internet Checksum") first, then RFC 1624 for why an
//! incremental update must be written `HC' = ~(~HC + ~m + m')`.
//!
//! # The two types
//!
//! Linux keeps two checksum types apart with sparse's `__bitwise`; we keep them
//! apart as newtypes.
//!
//! - [`Wsum`] is Linux's `__wsum`: a 32-bit *partial* one's-complement sum,
//!   not yet folded or complemented. Only its value modulo `0xffff` means
//!   anything: two implementations (Linux's generic `do_csum` and its x86
//!   assembly, or ours) may return different `Wsum`s for the same bytes, and
//!   [`csum_fold`] maps them all to the same result. Partial sums can be added
//!   ([`csum_add`]), subtracted ([`csum_sub`]) and concatenated
//!   ([`csum_block_add`]) without touching the bytes again — that is how a
//!   checksum computed over a payload on copy-in is reused when headers are
//!   pushed in front of it.
//! - [`Sum16`] is Linux's `__sum16`: the folded, complemented 16-bit value that
//!   sits in a header's `check` field.
//!
//! # Byte order: why `to_ne_bytes()` is right on every host
//!
//! Linux never byte-swaps checksum data: `csum_partial` adds the buffer as
//! *native-endian* 16-bit words, and the folded result is stored back with a
//! plain native store. RFC 1071 §2(B) is the reason this works: the
//! one's-complement sum is byte-order independent. Adding the same bytes as
//! little-endian words gives exactly the byte-swap of the big-endian sum,
//! because the end-around carry moves the carry out of either byte into the
//! other one. Storing that byte-swapped sum with a little-endian store swaps
//! it back, so the bytes in the header are the same on every host.
//!
//! In Rust terms: read words with `from_ne_bytes`, write the result with
//! [`Sum16::to_ne_bytes`], and never call `to_be`/`from_be` on checksum data.
//! The one place a host-order number enters a sum is the pseudo-header's
//! length and protocol; [`csum_tcpudp_nofold`] lays them out as the wire
//! bytes before adding them, as Linux's `(len + proto) << 8` does on
//! little-endian machines.
//!
//! # Verifying versus computing
//!
//! Summing a header *including* a correct checksum field gives all ones, so
//! the folded complement is zero: `ip_fast_csum(iph) == Sum16::ZERO` means
//! the IPv4 header is intact (Linux: `if (unlikely(ip_fast_csum(iph,
//! iph->ihl))) goto csum_error;`). To compute, zero the field first, sum,
//! fold, and store.
//!
//! ```
//! use net_core::checksum::{csum_partial, csum_tcpudp_magic, ip_fast_csum, Sum16, Wsum};
//!
//! // A UDP datagram the Linux 6.18 stack sent from 10.0.0.1:40000 to 10.0.0.2:53.
//! let iph = [0x45, 0x00, 0x00, 0x21, 0x92, 0xc7, 0x40, 0x00, 0x40, 0x11, 0x94, 0x02,
//!            10, 0, 0, 1, 10, 0, 0, 2];
//! let udp = [0x9c, 0x40, 0x00, 0x35, 0x00, 0x0d, 0x5a, 0xd6, b'o', b'd', b'd', b'!', b'!'];
//! assert_eq!(ip_fast_csum(&iph), Sum16::ZERO);
//! let sum = csum_partial(&udp, Wsum::ZERO);
//! assert_eq!(csum_tcpudp_magic([10, 0, 0, 1], [10, 0, 0, 2], 13, 17, sum), Sum16::ZERO);
//! ```
//!
//! # Where we differ
//!
//! - Portable Rust instead of per-architecture assembly. [`csum_partial`]
//!   widens 32-bit words into eight 64-bit lanes, which LLVM turns into SSE2
//!   adds (no `unsafe`, no runtime CPU detection); the bench
//!   `checksum/csum_partial/1500` tracks its speed.
//! - Linux's `csum_partial` takes care over a buffer that starts at an odd
//!   *address* (it sums from the next even address and rotates the result back
//!   by a byte). The result is the same as summing words from the start of the
//!   buffer, which is what a slice gives us directly, so there is no address
//!   arithmetic here. Concatenating sums whose *offsets* are odd still needs
//!   the rotation: see [`csum_block_add`].
//! - `inet_proto_csum_replace4()` and friends need an `sk_buff`'s `ip_summed`;
//!   they live with the skb. This file has the skb-free primitives
//!   ([`csum_replace2`], [`csum_replace4`], [`csum_replace_by_diff`]).
//! - No IPv6 (`csum_ipv6_magic`).

use std::fmt;

/// A partial 32-bit one's-complement sum, not yet folded.
///
/// Mirrors Linux's `__wsum`. Only its value modulo `0xffff` is meaningful;
/// compare sums with [`csum_fold`], never with `==` on `Wsum`.
#[doc(alias = "__wsum")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Wsum(pub u32);

impl Wsum {
    /// The empty sum, the usual starting value for [`csum_partial`].
    pub const ZERO: Wsum = Wsum(0);
}

impl fmt::Debug for Wsum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wsum({:#010x})", self.0)
    }
}

/// A folded, complemented 16-bit checksum: the value of a header's `check`
/// field.
///
/// Mirrors Linux's `__sum16`. The `u16` inside is in *native* order over the
/// wire bytes: `Sum16::from_ne_bytes(hdr[10..12])` reads an IPv4 header's
/// checksum and [`Sum16::to_ne_bytes`] writes one (see the module docs for
/// why no byte swap is needed). [`Sum16::wire`] gives the number tcpdump
/// prints (`cksum 0x9425`), and `Debug` prints that number too.
#[doc(alias = "__sum16")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Sum16(pub u16);

impl Sum16 {
    /// A verifying sum folds to zero: the data, checksum field included,
    /// adds up to all ones.
    pub const ZERO: Sum16 = Sum16(0);

    /// Reads a checksum field as it sits in a header.
    pub const fn from_ne_bytes(bytes: [u8; 2]) -> Sum16 {
        Sum16(u16::from_ne_bytes(bytes))
    }

    /// The bytes to store in a header's checksum field.
    pub const fn to_ne_bytes(self) -> [u8; 2] {
        self.0.to_ne_bytes()
    }

    /// The checksum as a number in network byte order, as tcpdump and
    /// Wireshark print it.
    pub const fn wire(self) -> u16 {
        u16::from_be_bytes(self.0.to_ne_bytes())
    }

    /// The inverse of [`Sum16::wire`]: `Sum16::from_wire(0x9425)` is the
    /// checksum tcpdump shows as `cksum 0x9425`.
    pub const fn from_wire(value: u16) -> Sum16 {
        Sum16(u16::from_ne_bytes(value.to_be_bytes()))
    }
}

impl fmt::Debug for Sum16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sum16(wire {:#06x})", self.wire())
    }
}

/// The value UDP transmits when its computed checksum is zero, because a zero
/// field means "no checksum" (RFC 768). Mirrors `CSUM_MANGLED_0`.
pub const CSUM_MANGLED_0: Sum16 = Sum16(0xffff);

/// Folds a 64-bit accumulator to 32 bits with end-around carry.
///
/// Mirrors `from64to32()` (lib/checksum.c). Keeps the value modulo
/// `2^32 - 1`, hence modulo `0xffff`.
#[inline]
const fn from64to32(x: u64) -> u32 {
    let x = (x & 0xffff_ffff) + (x >> 32);
    let x = (x & 0xffff_ffff) + (x >> 32);
    x as u32
}

// ANCHOR: csum_fold
/// Folds a 32-bit partial sum to 16 bits and complements it.
///
/// Mirrors `csum_fold()` (include/asm-generic/checksum.h): add the high half
/// to the low half twice (the second time absorbs the carry of the first),
/// then invert. The result is what goes into a checksum field, or — when the
/// sum covered a correct checksum field — [`Sum16::ZERO`].
#[inline]
pub const fn csum_fold(sum: Wsum) -> Sum16 {
    let s = sum.0;
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    Sum16(!(s as u16))
}
// ANCHOR_END: csum_fold

/// Turns a stored checksum back into a partial sum, without complementing.
///
/// Mirrors `csum_unfold()`: a plain widening.
#[inline]
pub const fn csum_unfold(n: Sum16) -> Wsum {
    Wsum(n.0 as u32)
}

/// One's-complement addition of two partial sums.
///
/// Mirrors `csum_add()`: a 32-bit add whose carry is added back in
/// (end-around carry).
#[inline]
pub const fn csum_add(csum: Wsum, addend: Wsum) -> Wsum {
    let res = csum.0.wrapping_add(addend.0);
    Wsum(res.wrapping_add((res < addend.0) as u32))
}

/// One's-complement subtraction: adds the complement of `addend`.
///
/// Mirrors `csum_sub()`.
#[inline]
pub const fn csum_sub(csum: Wsum, addend: Wsum) -> Wsum {
    csum_add(csum, Wsum(!addend.0))
}

/// 16-bit one's-complement addition. Mirrors `csum16_add()`.
#[inline]
pub const fn csum16_add(csum: u16, addend: u16) -> u16 {
    let res = csum.wrapping_add(addend);
    res.wrapping_add((res < addend) as u16)
}

/// 16-bit one's-complement subtraction. Mirrors `csum16_sub()`.
#[inline]
pub const fn csum16_sub(csum: u16, addend: u16) -> u16 {
    csum16_add(csum, !addend)
}

/// Moves a partial sum to an odd or even byte offset.
///
/// Mirrors `csum_shift()`: a block that starts at an odd offset inside the
/// whole has its 16-bit words straddling the whole's words, which in
/// one's-complement terms is a byte swap of its sum — a rotation by 8 bits
/// of the 32-bit partial sum.
#[inline]
pub const fn csum_shift(sum: Wsum, offset: usize) -> Wsum {
    if offset & 1 != 0 { Wsum(sum.0.rotate_right(8)) } else { sum }
}

/// Adds the sum `csum2` of a block that starts `offset` bytes into the data
/// whose sum so far is `csum`.
///
/// Mirrors `csum_block_add()`. With it, `csum_partial(a ++ b)` folds to the
/// same value as `csum_block_add(csum_partial(a), csum_partial(b), a.len())`,
/// even when `a.len()` is odd — how `skb_checksum()` walks fragments.
#[inline]
pub const fn csum_block_add(csum: Wsum, csum2: Wsum, offset: usize) -> Wsum {
    csum_add(csum, csum_shift(csum2, offset))
}

/// Removes the sum of a block at `offset` from `csum`. Mirrors
/// `csum_block_sub()`, used when `skb_pull`/`skb_trim` drop checksummed bytes.
#[inline]
pub const fn csum_block_sub(csum: Wsum, csum2: Wsum, offset: usize) -> Wsum {
    csum_sub(csum, csum_shift(csum2, offset))
}

/// Independent accumulators: eight 64-bit lanes are four SSE2 registers,
/// enough for LLVM to keep several adds in flight without a loop-carried
/// dependency on one register.
const LANES: usize = 8;

/// Bytes summed into the lanes before they are folded: a lane gains less
/// than 2^32 per word, so the 2^25 words a lane sees per block cannot
/// overflow it.
const LANE_BLOCK: usize = 1 << 30;

/// Sums `buf` as native 32-bit words widened to 64 bits, ignoring the last
/// `buf.len() % 4` bytes (the caller adds those). A 32-bit word is two
/// 16-bit words, and `a * 2^16 + b` equals `a + b` modulo `0xffff`, so this
/// is the same one's-complement sum.
///
/// On x86-64 with AVX2 (checked at run time, once) a long buffer is summed
/// by the same loop compiled for AVX2 ([`sum_words_avx2`]): twice the lanes
/// per instruction. Linux picks its checksum code per CPU the same way
/// (`csum_partial()` is arch code, and x86 patches in variants at boot).
#[inline(always)]
fn sum_words(buf: &[u8]) -> u64 {
    if buf.len() < SMALL {
        return sum_words_small(buf);
    }
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= 256 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `sum_words_avx2` needs only AVX2, which the CPU has: the
        // check just above asked it (`cpuid`, cached by std). Its body is
        // the same safe code as the portable path.
        return unsafe { sum_words_avx2(buf) };
    }
    sum_words_lanes::<LANES>(buf)
}

/// Below this many bytes (headers, a payload's last bytes) the lanes cost
/// more to set up and fold than they save.
const SMALL: usize = 128;

/// A short buffer's [`sum_words`]: one 64-bit load per 8 bytes, its two
/// 32-bit halves added separately, so the total is the same as the lanes'
/// (the order of the halves does not matter to a sum). Through the lanes
/// a 32-byte TCP header took about 100 instructions (callgrind, GRO's
/// header check); this loop has no lanes to set up or fold.
#[inline(always)]
fn sum_words_small(buf: &[u8]) -> u64 {
    let mut total = 0u64;
    let mut words = buf.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        total += (w & 0xffff_ffff) + (w >> 32);
    }
    if let [a, b, c, d, ..] = *words.remainder() {
        total += u64::from(u32::from_ne_bytes([a, b, c, d]));
    }
    total
}

/// [`sum_words_lanes`] compiled for AVX2, with 16 lanes: four 256-bit
/// registers. Summing 1448-byte pieces of a 1 MiB buffer in cache, it ran
/// at 73 GB/s where the SSE2 loop runs at 45 (and at 65–71 with 8 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_words_avx2(buf: &[u8]) -> u64 {
    sum_words_lanes::<{ 2 * LANES }>(buf)
}

/// The loop itself, with `N` 64-bit lanes.
///
/// This shape (zero-extend, add) is the one LLVM vectorises reliably, to
/// `punpck`/`paddq` on plain x86-64. Shapes that look cleverer — splitting
/// words with masks and shifts to avoid the widening — were turned into
/// scalar byte loads or 16-bit deinterleaving shuffles once inlined here,
/// at a third of the speed.
#[inline(always)]
fn sum_words_lanes<const N: usize>(buf: &[u8]) -> u64 {
    if buf.len() < 4 * N {
        // Too short for the lanes to pay for themselves.
        return sum_words_small(buf);
    }
    let mut total = 0u64;
    for block in buf.chunks(LANE_BLOCK) {
        let mut lanes = [0u64; N];
        let mut wide = block.chunks_exact(4 * N);
        for chunk in &mut wide {
            lanes_add(&mut lanes, chunk);
        }
        total = lanes_fold(total, lanes, wide.remainder());
    }
    total
}

/// Adds one chunk of `4 * N` bytes to the lanes, a 32-bit word to each.
#[inline(always)]
fn lanes_add<const N: usize>(lanes: &mut [u64; N], chunk: &[u8]) {
    for (lane, w) in lanes.iter_mut().zip(chunk.chunks_exact(4)) {
        *lane += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
}

/// Folds a block's lanes into `total`, with the block's words past its
/// last full chunk (`rest`) added one at a time: in the AVX2 copy,
/// `sum_words_small()` there compiled to a slower shape (0.5 % more
/// instructions over a bulk transfer).
#[inline(always)]
fn lanes_fold<const N: usize>(mut total: u64, lanes: [u64; N], rest: &[u8]) -> u64 {
    for lane in lanes {
        total += (lane & 0xffff_ffff) + (lane >> 32);
    }
    for w in rest.chunks_exact(4) {
        total += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    (total & 0xffff_ffff) + (total >> 32)
}

/// [`sum_words`] of `src` while copying it into `dst` (the same length):
/// one pass, each chunk loaded once, stored to `dst` and added to the
/// lanes from the same registers.
///
/// The words are added in the same order and the same lanes as
/// [`sum_words`] adds them, so the two return the same number for the
/// same bytes, not only the same sum modulo `0xffff`.
#[inline(always)]
fn copy_sum_words(src: &[u8], dst: &mut [u8]) -> u64 {
    if src.len() < SMALL {
        dst.copy_from_slice(src);
        return sum_words_small(dst);
    }
    #[cfg(target_arch = "x86_64")]
    if src.len() >= 256 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `copy_sum_words_avx2` needs only AVX2, which the CPU has:
        // the check just above asked it (`cpuid`, cached by std). Its body
        // is the same safe code as the portable path.
        return unsafe { copy_sum_words_avx2(src, dst) };
    }
    copy_sum_words_lanes::<LANES>(src, dst)
}

/// [`copy_sum_words_lanes`] compiled for AVX2, with [`sum_words_avx2`]'s
/// sixteen lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn copy_sum_words_avx2(src: &[u8], dst: &mut [u8]) -> u64 {
    copy_sum_words_lanes::<{ 2 * LANES }>(src, dst)
}

/// [`sum_words_lanes`] with the copy folded in. Each chunk goes through a
/// local array, which LLVM keeps in vector registers: the store to `dst`
/// and the widening adds both read those registers. Without it LLVM loaded
/// every chunk twice, once per use (a quarter slower with SSE2).
#[inline(always)]
fn copy_sum_words_lanes<const N: usize>(src: &[u8], dst: &mut [u8]) -> u64 {
    const { assert!(4 * N <= 64, "a chunk must fit the local array") };
    if src.len() < 4 * N {
        dst.copy_from_slice(src);
        return sum_words_small(dst);
    }
    let mut total = 0u64;
    for (block, dblock) in src.chunks(LANE_BLOCK).zip(dst.chunks_mut(LANE_BLOCK)) {
        let mut lanes = [0u64; N];
        let mut wide = block.chunks_exact(4 * N);
        let mut dwide = dblock.chunks_exact_mut(4 * N);
        for (chunk, dchunk) in (&mut wide).zip(&mut dwide) {
            let mut regs = [0u8; 64];
            let regs = &mut regs[..4 * N];
            regs.copy_from_slice(chunk);
            dchunk.copy_from_slice(regs);
            lanes_add(&mut lanes, regs);
        }
        let rest = wide.remainder();
        dwide.into_remainder().copy_from_slice(rest);
        total = lanes_fold(total, lanes, rest);
    }
    total
}

// ANCHOR: csum_partial
/// Computes the one's-complement sum of `buf`, added to `sum`.
///
/// Mirrors `csum_partial()` (lib/checksum.c, arch/x86/lib/csum-partial_64.c):
/// "returns a 32-bit number suitable for feeding into itself or
/// csum_tcpudp_magic". The buffer is taken as native-endian 16-bit words
/// from its first byte; an odd final byte is padded with a zero byte after
/// it, as RFC 1071 says. Any length works, and `sum` may be the result of an
/// earlier call over the bytes before this buffer *if* their length was even
/// (otherwise use [`csum_block_add`]).
///
/// Where Linux's x86 code chains 64-bit `adc`s, we widen 32-bit words into
/// eight 64-bit lanes that LLVM vectorises, and fold at the end: one pass,
/// no carries to propagate inside the loop. On a CPU with AVX2 a buffer of
/// 256 bytes or more takes the same loop compiled for AVX2 with sixteen
/// lanes, chosen at run time. A 64-bit accumulator collects the folded
/// blocks, so no input length can overflow it.
#[inline]
pub fn csum_partial(buf: &[u8], sum: Wsum) -> Wsum {
    csum_partial_finish(buf, u64::from(sum.0) + sum_words(buf))
}

/// [`csum_partial`] of a short buffer (a header: under 128 bytes), inlined
/// at the caller, where a call to `csum_partial()` would cost more than
/// the sum. For the header a receiver checks once per frame. Longer
/// buffers are summed all the same, only more slowly.
#[inline(always)]
pub fn csum_partial_short(buf: &[u8], sum: Wsum) -> Wsum {
    csum_partial_finish(buf, u64::from(sum.0) + sum_words_small(buf))
}

/// Add the last `buf.len() % 4` bytes to `acc`, the sum of the words
/// before them, and fold to 32 bits.
#[inline(always)]
fn csum_partial_finish(buf: &[u8], mut acc: u64) -> Wsum {
    // At most three bytes are left, at an offset that is a multiple of 4.
    let tail = &buf[buf.len() & !3..];
    let mut pairs = tail.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_ne_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    Wsum(from64to32(acc))
}
// ANCHOR_END: csum_partial

/// Folds the sum of a whole buffer: `csum_fold(csum_partial(buf, 0))`.
///
/// Mirrors `ip_compute_csum()`, which ICMP uses for its checksum (ICMP has
/// no pseudo-header).
#[inline]
pub fn ip_compute_csum(buf: &[u8]) -> Sum16 {
    csum_fold(csum_partial(buf, Wsum::ZERO))
}

/// Checksums an IPv4 header of `ihl` 32-bit words, `ihl` taken from the
/// header's first byte.
///
/// Mirrors `ip_fast_csum(iph, ihl)` (arch/x86/include/asm/checksum_64.h):
/// returns [`Sum16::ZERO`] for a header whose checksum is correct, and the
/// value to store in `check` for a header whose `check` is zero.
///
/// Linux trusts its caller: `ip_rcv_core()` has checked `ihl >= 5` and that
/// `ihl * 4` bytes are present before calling. So must ours; to never panic,
/// a slice shorter than `ihl * 4` is summed as far as it goes (and will not
/// verify).
#[inline]
pub fn ip_fast_csum(iph: &[u8]) -> Sum16 {
    let ihl_bytes = iph.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    if let Some(words) = iph.get(..ihl_bytes) {
        // The header is whole: sum exactly `ihl` 32-bit words, as the x86
        // version does in unrolled assembly. No odd bytes, no alignment.
        return csum_fold(Wsum(from64to32(sum_words_small(words))));
    }
    // A truncated header (only from bad input): sum what is there.
    csum_fold(csum_partial(iph, Wsum::ZERO))
}

// ANCHOR: csum_tcpudp_nofold
/// Adds the TCP/UDP pseudo-header to `sum`, without folding.
///
/// Mirrors `csum_tcpudp_nofold()`. `saddr` and `daddr` are the addresses as
/// they sit in the IPv4 header (network order, e.g. `[10, 0, 0, 1]`); `len`
/// (the TCP or UDP length: header plus payload) and `proto`
/// (`IPPROTO_TCP` = 6, `IPPROTO_UDP` = 17) are ordinary host-order numbers.
/// The pseudo-header is `saddr, daddr, 0, proto, len` (RFC 793 §3.1,
/// RFC 768); we add those wire bytes as native words, which is what x86's
/// `(len + proto) << 8` amounts to.
#[inline]
pub const fn csum_tcpudp_nofold(saddr: [u8; 4], daddr: [u8; 4], len: u16, proto: u8, sum: Wsum) -> Wsum {
    let s = sum.0 as u64
        + u32::from_ne_bytes(saddr) as u64
        + u32::from_ne_bytes(daddr) as u64
        + u16::from_ne_bytes([0, proto]) as u64
        + u16::from_ne_bytes(len.to_be_bytes()) as u64;
    Wsum(from64to32(s))
}
// ANCHOR_END: csum_tcpudp_nofold

// ANCHOR: csum_tcpudp_magic
/// The TCP/UDP checksum: the pseudo-header added to `sum` (the
/// [`csum_partial`] of the segment), folded.
///
/// Mirrors `csum_tcpudp_magic()`. On output, sum the segment with its
/// `check` zeroed and store the result; on input, sum it as received and
/// expect [`Sum16::ZERO`] (Linux: `__skb_checksum_complete()`). UDP must send
/// [`CSUM_MANGLED_0`] in place of a zero result.
#[inline]
pub const fn csum_tcpudp_magic(saddr: [u8; 4], daddr: [u8; 4], len: u16, proto: u8, sum: Wsum) -> Sum16 {
    csum_fold(csum_tcpudp_nofold(saddr, daddr, len, proto, sum))
}
// ANCHOR_END: csum_tcpudp_magic

/// Updates a checksum field for a 16-bit field that changed from `old` to
/// `new` (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
///
/// Mirrors `csum_replace2(__sum16 *sum, __be16 old, __be16 new)`, as
/// `ip_decrease_ttl()` uses it. All three arguments are the bytes as they sit
/// in the packet; the changed field must start at an even offset from the
/// start of the checksummed data (every IPv4/TCP/UDP header field does).
#[inline]
pub fn csum_replace2(check: &mut [u8; 2], old: [u8; 2], new: [u8; 2]) {
    let hc = u16::from_ne_bytes(*check);
    let updated = !csum16_add(csum16_sub(!hc, u16::from_ne_bytes(old)), u16::from_ne_bytes(new));
    *check = updated.to_ne_bytes();
}

/// Updates a checksum field for a 32-bit field (an address, a sequence
/// number) that changed from `from` to `to`.
///
/// Mirrors `csum_replace4(__sum16 *sum, __be32 from, __be32 to)`, which NAT
/// uses for addresses. Bytes as in the packet, even offset, as for
/// [`csum_replace2`].
#[inline]
pub fn csum_replace4(check: &mut [u8; 2], from: [u8; 4], to: [u8; 4]) {
    let hc = csum_unfold(Sum16::from_ne_bytes(*check));
    let tmp = csum_sub(Wsum(!hc.0), Wsum(u32::from_ne_bytes(from)));
    *check = csum_fold(csum_add(tmp, Wsum(u32::from_ne_bytes(to)))).to_ne_bytes();
}

/// Updates a checksum field by a precomputed difference of partial sums
/// (new sum minus old sum).
///
/// Mirrors `csum_replace_by_diff()`.
#[inline]
pub fn csum_replace_by_diff(check: &mut [u8; 2], diff: Wsum) {
    let hc = csum_unfold(Sum16::from_ne_bytes(*check));
    *check = csum_fold(csum_add(diff, Wsum(!hc.0))).to_ne_bytes();
}

/// Copies `src` into the start of `dst` and returns the sum of the copied
/// bytes.
///
/// Mirrors `csum_partial_copy_nocheck()` (include/net/checksum.h;
/// arch/x86/lib/csum-copy_64.S on x86): the socket layer checksums data as
/// it copies it in (`tcp_sendmsg()`, as `csum_and_copy_from_iter()`). Like
/// x86's, ours is one pass: each chunk is loaded once, stored and added to
/// the lanes of [`csum_partial`]'s loop. Copying 1448-byte pieces of a
/// 1 MiB buffer into a 1.2 MB ring of 2 KiB buffers, 1 GiB in all, took
/// 30–33 ms with AVX2 where `memcpy` followed by the vectorised sum took
/// 42–60 (36 against 55 with SSE2 alone). An earlier one-pass loop of
/// 64-bit adds with carries, as csum-copy_64.S chains them, was twice as
/// slow as `memcpy` plus the sum: the vector lanes are what pay.
///
/// The result is the same [`Wsum`] that `csum_partial(src, 0)` returns.
///
/// # Panics
///
/// If `dst` is shorter than `src`.
#[doc(alias = "csum_partial_copy_nocheck")]
#[inline]
pub fn csum_copy_and_csum(src: &[u8], dst: &mut [u8]) -> Wsum {
    let dst = &mut dst[..src.len()];
    csum_partial_finish(src, copy_sum_words(src, dst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 done the slow way: big-endian 16-bit words, a wide
    /// accumulator, fold, complement. Byte-order independence means this
    /// must agree with the native-word implementation on any host.
    fn reference_fold(data: &[u8], init: u16) -> Sum16 {
        let mut acc = u64::from(u16::from_be(init));
        for pair in data.chunks(2) {
            let hi = pair[0];
            let lo = pair.get(1).copied().unwrap_or(0);
            acc += u64::from(u16::from_be_bytes([hi, lo]));
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        Sum16::from_wire(!(acc as u16))
    }

    /// Equal as one's-complement numbers: 0x0000 and 0xffff are both zero.
    fn same_residue(a: Sum16, b: Sum16) -> bool {
        a.0 % 0xffff == b.0 % 0xffff
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // Captured from Linux 6.18: a TUN device (no checksum offload, so the
    // kernel fills every checksum) in a fresh network namespace, 10.0.0.1
    // sending to 10.0.0.2. IPv4 header, then UDP or TCP.
    /// UDP 10.0.0.1:40000 → 10.0.0.2:53, payload "linnet checksum test\n"
    /// (21 bytes: the UDP length, 29, is odd).
    const CAPTURED_UDP: &str = "4500003192944000401194250a0000010a0000029c400035001d504c\
                                6c696e6e657420636865636b73756d20746573740a";
    /// UDP 10.0.0.1:40000 → 10.0.0.2:53, payload "odd!!".
    const CAPTURED_UDP_ODD: &str = "4500002192c74000401194020a0000010a0000029c400035000d5ad6\
                                    6f64642121";
    /// TCP SYN 10.0.0.1:40001 → 10.0.0.2:80 with MSS, SACK-permitted,
    /// timestamps and window-scale options.
    const CAPTURED_TCP_SYN: &str = "4500003c454e40004006e16b0a0000010a000002\
                                    9c410050f64d955c00000000a002faf048020000\
                                    020405b40402080af0fbd7cf000000000103030a";

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        let folded = ip_compute_csum(&data);
        assert_eq!(folded.wire(), !0xddf2);
        assert_eq!(folded.to_ne_bytes(), [0x22, 0x0d]);
        // The same example summed in two halves, the second at an odd offset.
        let a = csum_partial(&data[..3], Wsum::ZERO);
        let b = csum_partial(&data[3..], Wsum::ZERO);
        assert_eq!(csum_fold(csum_block_add(a, b, 3)), folded);
    }

    #[test]
    fn rfc1071_data_plus_checksum_verifies() {
        let mut data = vec![0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0, 0];
        let c = ip_compute_csum(&data);
        data[8..10].copy_from_slice(&c.to_ne_bytes());
        assert_eq!(ip_compute_csum(&data), Sum16::ZERO);
    }

    #[test]
    fn textbook_ipv4_header() {
        // The header quoted in most explanations of the IPv4 checksum
        // (192.168.0.1 → 192.168.0.199, UDP, checksum b861).
        let mut iph = hex("450000730000400040110000c0a80001c0a800c7");
        let c = ip_fast_csum(&iph);
        assert_eq!(c.wire(), 0xb861);
        iph[10..12].copy_from_slice(&c.to_ne_bytes());
        assert_eq!(iph[10..12], [0xb8, 0x61]);
        assert_eq!(ip_fast_csum(&iph), Sum16::ZERO);
    }

    #[test]
    fn captured_ipv4_headers_verify_and_recompute() {
        for (pkt, check) in [(CAPTURED_UDP, 0x9425), (CAPTURED_UDP_ODD, 0x9402), (CAPTURED_TCP_SYN, 0xe16b)] {
            let mut iph = hex(pkt)[..20].to_vec();
            assert_eq!(ip_fast_csum(&iph), Sum16::ZERO, "{pkt}");
            assert_eq!(Sum16::from_ne_bytes([iph[10], iph[11]]).wire(), check);
            // Pre-fill the field with garbage, zero it, recompute.
            iph[10..12].copy_from_slice(&[0xa5, 0xa5]);
            assert_ne!(ip_fast_csum(&iph), Sum16::ZERO);
            iph[10..12].copy_from_slice(&[0, 0]);
            let c = ip_fast_csum(&iph);
            assert_eq!(c.wire(), check);
            assert_eq!(c, ip_compute_csum(&iph));
        }
    }

    #[track_caller]
    fn check_l4(pkt: &str, proto: u8, check_at: usize, expect: u16) {
        let pkt = hex(pkt);
        let (iph, seg) = pkt.split_at(20);
        let saddr = [iph[12], iph[13], iph[14], iph[15]];
        let daddr = [iph[16], iph[17], iph[18], iph[19]];
        let len = u16::try_from(seg.len()).unwrap();
        assert_eq!(iph[9], proto);

        // Receive side: sum as received, pseudo-header included, folds to 0.
        let sum = csum_partial(seg, Wsum::ZERO);
        assert_eq!(csum_tcpudp_magic(saddr, daddr, len, proto, sum), Sum16::ZERO);

        // Transmit side: zero the field, sum, fold, store → captured bytes.
        let mut seg = seg.to_vec();
        assert_eq!(Sum16::from_ne_bytes([seg[check_at], seg[check_at + 1]]).wire(), expect);
        seg[check_at..check_at + 2].copy_from_slice(&[0, 0]);
        let c = csum_tcpudp_magic(saddr, daddr, len, proto, csum_partial(&seg, Wsum::ZERO));
        assert_eq!(c.wire(), expect);

        // Pseudo-header first, then the segment, gives the same.
        let pseudo = csum_tcpudp_nofold(saddr, daddr, len, proto, Wsum::ZERO);
        assert_eq!(csum_fold(csum_partial(&seg, pseudo)), c);
    }

    #[test]
    fn captured_udp_with_pseudo_header() {
        check_l4(CAPTURED_UDP, 17, 6, 0x504c);
        check_l4(CAPTURED_UDP_ODD, 17, 6, 0x5ad6);
    }

    #[test]
    fn captured_tcp_syn_with_pseudo_header() {
        check_l4(CAPTURED_TCP_SYN, 6, 16, 0x4802);
    }

    #[test]
    fn the_short_form_sums_as_csum_partial_does() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 37 + 11) as u8).collect();
        for start in 0..4 {
            for len in 0..200 {
                let b = &data[start..start + len];
                for init in [Wsum::ZERO, Wsum(0xffff_fffe), Wsum(0x1234_5678)] {
                    assert_eq!(
                        csum_fold(csum_partial_short(b, init)),
                        csum_fold(csum_partial(b, init)),
                        "len {len} at {start}"
                    );
                }
            }
        }
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(csum_partial(&[], Wsum::ZERO), Wsum::ZERO);
        assert_eq!(ip_compute_csum(&[]), Sum16(0xffff));
        assert_eq!(ip_compute_csum(&[0xab]), ip_compute_csum(&[0xab, 0x00]));
        for n in 0..70 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let mut padded = data.clone();
            padded.push(0);
            assert_eq!(ip_compute_csum(&data), ip_compute_csum(&padded), "len {n}");
            assert_eq!(ip_compute_csum(&data), reference_fold(&data, 0), "len {n}");
        }
    }

    #[test]
    fn all_ones_and_all_zeros() {
        // 0xffff + 0xffff in one's complement is 0xffff: "negative zero".
        assert_eq!(ip_compute_csum(&[0xff; 1500]), Sum16::ZERO);
        assert_eq!(ip_compute_csum(&[0x00; 1500]), Sum16(0xffff));
        assert_eq!(ip_compute_csum(&[0xff; 1501]), reference_fold(&[0xff; 1501], 0));
    }

    #[test]
    fn large_buffers_do_not_overflow_the_lanes() {
        // All-ones words are the worst case for the 32-bit lanes; 5 MiB
        // crosses the lane-fold boundary (2 MiB) twice, plus an odd tail.
        let mut big = vec![0xffu8; 5 * 1024 * 1024 + 3];
        assert_eq!(ip_compute_csum(&big), reference_fold(&big, 0));
        for (i, b) in big.iter_mut().enumerate() {
            *b = (i as u8) ^ 0x5a;
        }
        assert_eq!(ip_compute_csum(&big), reference_fold(&big, 0));
        assert_eq!(ip_compute_csum(&big[1..]), reference_fold(&big[1..], 0));
    }

    #[test]
    fn fold_add_sub_basics() {
        assert_eq!(csum_fold(Wsum(0)), Sum16(0xffff));
        assert_eq!(csum_fold(Wsum(0xffff)), Sum16(0));
        assert_eq!(csum_fold(Wsum(0x0001_fffe)), Sum16(0));
        assert_eq!(csum_add(Wsum(0xffff_ffff), Wsum(1)), Wsum(1));
        assert_eq!(csum_sub(Wsum(5), Wsum(5)), Wsum(0xffff_ffff));
        assert_eq!(csum16_add(0xffff, 1), 1);
        assert_eq!(csum_unfold(Sum16(0x1234)), Wsum(0x1234));
        assert_eq!(Sum16::from_wire(0x9425).to_ne_bytes(), [0x94, 0x25]);
        assert_eq!(format!("{:?}", Sum16::from_wire(0x9425)), "Sum16(wire 0x9425)");
    }

    #[test]
    fn ttl_decrement_like_ip_decrease_ttl() {
        let mut iph = hex(CAPTURED_UDP)[..20].to_vec();
        let old = [iph[8], iph[9]];
        iph[8] -= 1;
        let new = [iph[8], iph[9]];
        let mut check = [iph[10], iph[11]];
        csum_replace2(&mut check, old, new);
        iph[10..12].copy_from_slice(&check);
        assert_eq!(ip_fast_csum(&iph), Sum16::ZERO);
    }

    #[test]
    fn nat_rewrite_source_address() {
        // Rewrite saddr 10.0.0.1 → 192.0.2.7 in the captured TCP SYN: the IP
        // header checksum and the TCP checksum (pseudo-header) both follow.
        let mut pkt = hex(CAPTURED_TCP_SYN);
        let from = [10, 0, 0, 1];
        let to = [192, 0, 2, 7];
        pkt[12..16].copy_from_slice(&to);
        let mut ipcheck = [pkt[10], pkt[11]];
        csum_replace4(&mut ipcheck, from, to);
        pkt[10..12].copy_from_slice(&ipcheck);
        let mut tcpcheck = [pkt[36], pkt[37]];
        csum_replace4(&mut tcpcheck, from, to);
        pkt[36..38].copy_from_slice(&tcpcheck);

        assert_eq!(ip_fast_csum(&pkt[..20]), Sum16::ZERO);
        let seg = &pkt[20..];
        let sum = csum_partial(seg, Wsum::ZERO);
        assert_eq!(csum_tcpudp_magic(to, [10, 0, 0, 2], 40, 6, sum), Sum16::ZERO);
    }

    #[test]
    fn replace_by_diff_matches_replace4() {
        let mut a = [0x12, 0x34];
        let mut b = a;
        let (from, to) = ([1, 2, 3, 4], [9, 8, 7, 6]);
        csum_replace4(&mut a, from, to);
        let diff = csum_sub(Wsum(u32::from_ne_bytes(to)), Wsum(u32::from_ne_bytes(from)));
        csum_replace_by_diff(&mut b, diff);
        assert_eq!(a, b);
    }

    #[test]
    fn truncated_ip_header_never_panics_and_never_verifies() {
        let iph = hex(CAPTURED_UDP);
        for n in 0..20 {
            let _ = ip_fast_csum(&iph[..n]);
        }
        assert_ne!(ip_fast_csum(&iph[..19]), Sum16::ZERO);
        // IHL 15 claims 60 bytes; only 20 are there.
        let mut long = iph[..20].to_vec();
        long[0] = 0x4f;
        let _ = ip_fast_csum(&long);
    }

    #[test]
    fn copy_and_csum_copies_and_sums() {
        let src: Vec<u8> = (0..1501u32).map(|i| (i * 7) as u8).collect();
        let mut dst = vec![0xa5; 1600];
        let s = csum_copy_and_csum(&src, &mut dst);
        assert_eq!(&dst[..1501], &src[..]);
        assert!(dst[1501..].iter().all(|&b| b == 0xa5));
        assert_eq!(csum_fold(s), reference_fold(&src, 0));
    }

    /// The AVX2 loop and the portable one agree, at every length around
    /// the lane widths and at every alignment (the AVX2 path only where
    /// the CPU, or Miri's configuration, has AVX2), and each one-pass copy
    /// returns what its sum returns and stores every byte.
    #[test]
    fn avx2_and_portable_sums_agree() {
        let data: Vec<u8> = (0..1200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for start in 0..4 {
            for len in (0..130).chain([255, 256, 257, 511, 512, 513, 1000, 1196 - start]) {
                let buf = &data[start..start + len];
                let portable = sum_words_lanes::<LANES>(buf);
                assert_eq!(from64to32(sum_words(buf)), from64to32(portable), "len {len} at {start}");
                // The one-pass copy: the same number as the sum, and the bytes.
                let mut dst = vec![0u8; len];
                assert_eq!(
                    copy_sum_words_lanes::<LANES>(buf, &mut dst),
                    portable,
                    "copy, len {len} at {start}"
                );
                assert_eq!(dst, buf);
                dst.fill(0);
                assert_eq!(copy_sum_words(buf, &mut dst), sum_words(buf), "copy, len {len} at {start}");
                assert_eq!(dst, buf);
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    let wide = unsafe { sum_words_avx2(buf) };
                    assert_eq!(from64to32(wide), from64to32(portable), "len {len} at {start}");
                    dst.fill(0);
                    // SAFETY: as above.
                    let copied = unsafe { copy_sum_words_avx2(buf, &mut dst) };
                    assert_eq!(copied, wide, "AVX2 copy, len {len} at {start}");
                    assert_eq!(dst, buf);
                }
            }
        }
    }

    proptest! {
        /// The copy stores exactly `src` and sums it as `csum_partial()`
        /// does, at any length and alignment.
        #[test]
        fn copy_and_csum_matches_partial(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                          start in 0usize..8, dst_off in 0usize..8) {
            let start = start.min(data.len());
            let src = &data[start..];
            let mut dst = vec![0x5au8; src.len() + 16];
            let s = csum_copy_and_csum(src, &mut dst[dst_off..]);
            prop_assert_eq!(&dst[dst_off..dst_off + src.len()], src);
            prop_assert!(dst[..dst_off].iter().chain(&dst[dst_off + src.len()..]).all(|&b| b == 0x5a));
            prop_assert_eq!(s, csum_partial(src, Wsum::ZERO));
        }

        #[test]
        fn partial_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                     start in 0usize..8, init in any::<u16>()) {
            let start = start.min(data.len());
            let buf = &data[start..];
            let init_wsum = csum_unfold(Sum16(init));
            prop_assert_eq!(csum_fold(csum_partial(buf, init_wsum)), reference_fold(buf, init));
        }

        #[test]
        fn block_add_concatenates(data in proptest::collection::vec(any::<u8>(), 0..600),
                                  cut in any::<prop::sample::Index>()) {
            let cut = cut.index(data.len() + 1);
            let (a, b) = data.split_at(cut);
            let sa = csum_partial(a, Wsum::ZERO);
            let sb = csum_partial(b, Wsum::ZERO);
            let whole = csum_partial(&data, Wsum::ZERO);
            prop_assert_eq!(csum_fold(csum_block_add(sa, sb, cut)), csum_fold(whole));
            // Subtraction can land on the other zero (all ones) when `a` sums to zero.
            let back = csum_fold(csum_block_sub(whole, sb, cut));
            prop_assert!(same_residue(back, csum_fold(sa)), "{back:?} vs {:?}", csum_fold(sa));
        }

        #[test]
        fn replace2_equals_recompute(mut data in proptest::collection::vec(any::<u8>(), 6..200),
                                     at in any::<prop::sample::Index>(), new in any::<[u8; 2]>()) {
            // A nonzero first word keeps us off the all-zero case, where a
            // fresh sum gives 0xffff and RFC 1624 arithmetic gives 0x0000 —
            // the two one's-complement zeros. Real headers never hit it.
            data[0] = 0x45;
            data[2..4].copy_from_slice(&[0, 0]);
            let c = ip_compute_csum(&data);
            data[2..4].copy_from_slice(&c.to_ne_bytes());
            // A 16-bit field at an even offset, clear of words 0 and 1.
            let at = 2 * (2 + at.index(data.len() / 2 - 2));
            let old = [data[at], data[at + 1]];
            let mut check = [data[2], data[3]];
            data[at..at + 2].copy_from_slice(&new);
            csum_replace2(&mut check, old, new);
            let mut fresh = data.clone();
            fresh[2..4].copy_from_slice(&[0, 0]);
            prop_assert_eq!(Sum16::from_ne_bytes(check), ip_compute_csum(&fresh));
            data[2..4].copy_from_slice(&check);
            prop_assert_eq!(ip_compute_csum(&data), Sum16::ZERO);
        }

        #[test]
        fn replace4_equals_recompute(mut data in proptest::collection::vec(any::<u8>(), 8..200),
                                     at in any::<prop::sample::Index>(), new in any::<[u8; 4]>()) {
            data[0] = 0x45;
            data[2..4].copy_from_slice(&[0, 0]);
            let c = ip_compute_csum(&data);
            data[2..4].copy_from_slice(&c.to_ne_bytes());
            // A 32-bit field at an even offset, clear of the check field.
            let at = 4 + 2 * at.index((data.len() - 8) / 2 + 1);
            let old = [data[at], data[at + 1], data[at + 2], data[at + 3]];
            let mut check = [data[2], data[3]];
            data[at..at + 4].copy_from_slice(&new);
            csum_replace4(&mut check, old, new);
            let mut fresh = data.clone();
            fresh[2..4].copy_from_slice(&[0, 0]);
            prop_assert_eq!(Sum16::from_ne_bytes(check), ip_compute_csum(&fresh));
        }

        #[test]
        fn pseudo_header_matches_reference(saddr in any::<[u8; 4]>(), daddr in any::<[u8; 4]>(),
                                           proto in any::<u8>(),
                                           seg in proptest::collection::vec(any::<u8>(), 0..100)) {
            let len = seg.len() as u16;
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&saddr);
            pseudo.extend_from_slice(&daddr);
            pseudo.extend_from_slice(&[0, proto]);
            pseudo.extend_from_slice(&len.to_be_bytes());
            let mut all = pseudo;
            all.extend_from_slice(&seg);
            let sum = csum_partial(&seg, Wsum::ZERO);
            prop_assert_eq!(csum_tcpudp_magic(saddr, daddr, len, proto, sum), reference_fold(&all, 0));
        }
    }
}
