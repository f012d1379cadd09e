//! Bob Jenkins' lookup3 hash for fixed numbers of words, as Linux uses it
//! to pick hash-table buckets.
//!
//! Mirrors include/linux/jhash.h: `__jhash_final()`, `__jhash_nwords()`,
//! `jhash_3words()`, `jhash_2words()` and `jhash_1word()`. Linux hashes a
//! TCP four-tuple into its `ehash` with `jhash_3words()` and a boot-time
//! secret (`inet_ehashfn()`); SipHash, about six times the work, is kept
//! for what an attacker must not predict (sequence numbers, port offsets,
//! SYN cookies; net/core/secure_seq.c). A bucket only has to spread
//! connections, and the secret keeps its choice unguessable from outside.

/// `JHASH_INITVAL`: an arbitrary initial parameter.
pub const JHASH_INITVAL: u32 = 0xdead_beef;

/// `__jhash_final()`: the final mixing of three words into `c`.
#[inline]
fn jhash_final(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// `__jhash_nwords()`: hash exactly three, two or one word(s).
#[inline]
fn jhash_nwords(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    jhash_final(a.wrapping_add(initval), b.wrapping_add(initval), c.wrapping_add(initval))
}

/// `jhash_3words()`.
#[inline]
pub fn jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    jhash_nwords(a, b, c, initval.wrapping_add(JHASH_INITVAL).wrapping_add(3 << 2))
}

/// `jhash_2words()`.
#[inline]
pub fn jhash_2words(a: u32, b: u32, initval: u32) -> u32 {
    jhash_nwords(a, b, 0, initval.wrapping_add(JHASH_INITVAL).wrapping_add(2 << 2))
}

/// `jhash_1word()`.
#[inline]
pub fn jhash_1word(a: u32, initval: u32) -> u32 {
    jhash_nwords(a, 0, 0, initval.wrapping_add(JHASH_INITVAL).wrapping_add(1 << 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by include/linux/jhash.h's own macros, compiled as C.
    #[test]
    fn matches_the_kernel_macros() {
        assert_eq!(jhash_3words(0, 0, 0, 0), 0x1b68_e557);
        assert_eq!(jhash_3words(0x0a00_0001, 0x0a00_0002, (80 << 16) | 49152, 0x1234_5678), 0xe523_67a9);
        assert_eq!(jhash_3words(u32::MAX, u32::MAX, u32::MAX, u32::MAX), 0xc343_af0b);
        assert_eq!(jhash_1word(0xc0a8_0001, 42), 0x6e22_3b05);
    }

    #[test]
    fn consecutive_ports_spread_over_buckets() {
        // 4096 connections from one client to one server port, ephemeral
        // ports in a row, into 1024 buckets: no bucket far above the mean.
        let mut buckets = [0u32; 1024];
        for p in 0..4096u32 {
            let h = jhash_3words(0x0a00_0002, 0x0a00_0001, (80 << 16) | (32768 + p), 0x5eed);
            buckets[(h & 1023) as usize] += 1;
        }
        let max = buckets.iter().copied().max().unwrap_or(0);
        assert!(max <= 14, "a bucket holds {max} of 4096 (mean 4)");
    }
}
