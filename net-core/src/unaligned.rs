//! Big-endian fields at any byte offset.
//!
//! Mirrors `get_unaligned_be16()`, `get_unaligned_be32()`,
//! `put_unaligned_be16()` and `put_unaligned_be32()` (include/linux/unaligned.h),
//! which every protocol header in Linux reads its multi-byte fields with
//! (`ntohs(iph->tot_len)` is the aligned special case). Every header view in
//! linnet (Ethernet, ARP, IPv4, ICMP, UDP, TCP) reads and writes through
//! these four.
//!
//! The view has already checked its length, so an offset past the end is a
//! bug in the view and panics, as an out-of-bounds access would in Linux.

/// The big-endian `u16` at `b[at..at + 2]` (`get_unaligned_be16()`).
#[inline]
pub fn get_unaligned_be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The big-endian `u32` at `b[at..at + 4]` (`get_unaligned_be32()`).
#[inline]
pub fn get_unaligned_be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Store `v` big-endian at `b[at..at + 2]` (`put_unaligned_be16()`).
#[inline]
pub fn put_unaligned_be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Store `v` big-endian at `b[at..at + 4]` (`put_unaligned_be32()`).
#[inline]
pub fn put_unaligned_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_odd_offsets() {
        let mut b = [0xa5u8; 7];
        put_unaligned_be16(&mut b, 1, 0x0800);
        put_unaligned_be32(&mut b, 3, 0xc0a8_0001);
        assert_eq!(b, [0xa5, 0x08, 0x00, 0xc0, 0xa8, 0x00, 0x01]);
        assert_eq!(get_unaligned_be16(&b, 1), 0x0800);
        assert_eq!(get_unaligned_be32(&b, 3), 0xc0a8_0001);
    }
}
