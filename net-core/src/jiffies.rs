//! Jiffies, unit conversions and the host clock.
//!
//! Mirrors `include/linux/jiffies.h` (conversions, `time_after()` and friends),
//! the parts of `kernel/time/time.c` that implement them (`nsecs_to_jiffies()`),
//! and the *idea* of a clocksource from `kernel/time/` (`ktime_get()`): one
//! monotonic nanosecond counter per host, from which `jiffies` is derived.
//! Linux 6.18 is the version the book pins.
//!
//! Where we differ from Linux:
//!
//! - `HZ` is fixed at 1000, so one jiffy is exactly one millisecond and every
//!   conversion below is exact or a plain rounding. Linux makes `HZ` a build
//!   option (Debian's kernels use `HZ=250`, 4 ms per jiffy), so a trace from a
//!   real Debian host shows timer values rounded to 4 ms where ours are exact.
//! - Jiffies are a `u64` on every target (Linux: `unsigned long`, 32 bits on
//!   32-bit machines, with `jiffies_64` beside it).
//! - Linux starts `jiffies` at `INITIAL_JIFFIES`, `-300 * HZ`, so that the
//!   counter wraps five minutes after boot and wrap bugs show early. We start
//!   at 0 on a virtual clock, which never wraps in practice; still, every
//!   comparison here is wrap-safe (`time_after()` and friends) and the timer
//!   wheel is tested across the `u64` wrap, so code written against these
//!   helpers keeps Linux's guarantees.
//! - The clock is a value, not a global: [`Clock`] is either a shared virtual
//!   counter (a simulator advances it; every clone sees the same time, so
//!   several hosts can share one clock) or the host's monotonic clock.
//! - Conversions take and return `u64` (Linux mostly `unsigned int` and
//!   `unsigned long`); results that would exceed [`MAX_JIFFY_OFFSET`] are
//!   clamped to it, as Linux's `msecs_to_jiffies()` does for out-of-range input.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Timer interrupt frequency: jiffies per second. Linux: `CONFIG_HZ`.
pub const HZ: u64 = 1000;
/// Nanoseconds per second (include/vdso/time64.h).
pub const NSEC_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds per millisecond (include/vdso/time64.h).
pub const NSEC_PER_MSEC: u64 = 1_000_000;
/// Nanoseconds per microsecond (include/vdso/time64.h).
pub const NSEC_PER_USEC: u64 = 1_000;
/// Microseconds per second (include/vdso/time64.h).
pub const USEC_PER_SEC: u64 = 1_000_000;
/// Milliseconds per second (include/vdso/time64.h).
pub const MSEC_PER_SEC: u64 = 1_000;
/// Nanoseconds per jiffy (include/vdso/jiffies.h: `TICK_NSEC`).
pub const TICK_NSEC: u64 = NSEC_PER_SEC / HZ;
/// The largest timeout, in jiffies, that the conversions return; means
/// "forever" (include/linux/jiffies.h: `((LONG_MAX >> 1) - 1)`).
pub const MAX_JIFFY_OFFSET: u64 = ((i64::MAX as u64) >> 1) - 1;

// The conversions below rely on a jiffy being a whole number of microseconds.
const _: () = assert!(USEC_PER_SEC / HZ * HZ == USEC_PER_SEC && HZ <= MSEC_PER_SEC);

/// One host's time source: a monotonic nanosecond counter.
///
/// Stands for Linux's clocksource and `ktime_get()` (kernel/time/timekeeping.c),
/// with `jiffies` derived from it rather than counted by a tick interrupt.
///
/// A [`Clock::Virtual`] clock only moves when told to ([`Clock::advance_ns`],
/// [`Clock::set_ns`]); cloning it shares the counter, so every host in a
/// simulation sees the same time. A [`Clock::System`] clock reads the host's
/// monotonic clock ([`Instant`]) relative to when it was created.
#[doc(alias = "ktime_get")]
#[doc(alias = "clocksource")]
#[derive(Clone, Debug)]
pub enum Clock {
    /// Simulated time in nanoseconds; clones share it.
    Virtual(Arc<AtomicU64>),
    /// Real monotonic time, measured from this instant.
    System(Instant),
}

impl Clock {
    /// A virtual clock starting at 0 ns.
    pub fn new_virtual() -> Clock {
        Clock::new_virtual_at(0)
    }

    /// A virtual clock starting at `ns` nanoseconds.
    pub fn new_virtual_at(ns: u64) -> Clock {
        Clock::Virtual(Arc::new(AtomicU64::new(ns)))
    }

    /// A clock reading the host's monotonic clock, starting at 0 ns now.
    pub fn new_system() -> Clock {
        Clock::System(Instant::now())
    }

    /// True for a virtual (simulated) clock.
    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }

    /// Current time in nanoseconds. Mirrors `ktime_get()`
    /// (kernel/time/timekeeping.c): monotonic, never goes backwards.
    ///
    /// A system clock saturates at `u64::MAX` (after 584 years).
    #[doc(alias = "ktime_get_ns")]
    pub fn now_ns(&self) -> u64 {
        match self {
            Clock::Virtual(ns) => ns.load(Ordering::Acquire),
            Clock::System(start) => u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// Current time in jiffies: `now_ns() / TICK_NSEC`. Mirrors reading the
    /// `jiffies` variable (include/linux/jiffies.h).
    #[doc(alias = "get_jiffies_64")]
    pub fn jiffies(&self) -> u64 {
        self.now_ns() / TICK_NSEC
    }

    /// Moves a virtual clock forward by `delta` ns (saturating at `u64::MAX`).
    ///
    /// Returns false, and does nothing, on a system clock.
    pub fn advance_ns(&self, delta: u64) -> bool {
        match self {
            Clock::Virtual(ns) => {
                // fetch_update never fails when the closure returns Some.
                let _ =
                    ns.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(t.saturating_add(delta)));
                true
            }
            Clock::System(_) => false,
        }
    }

    /// Sets a virtual clock to `ns` nanoseconds. Time never goes backwards:
    /// an `ns` earlier than the current time is ignored (several hosts
    /// sharing the clock may race to set it; the latest time wins).
    ///
    /// Returns true if applied (`ns` is at or after the current time); false
    /// if `ns` was earlier and ignored, and always false on a system clock.
    pub fn set_ns(&self, ns: u64) -> bool {
        match self {
            Clock::Virtual(t) => t.fetch_max(ns, Ordering::AcqRel) <= ns,
            Clock::System(_) => false,
        }
    }
}

/// Milliseconds to jiffies, rounding up; clamps to [`MAX_JIFFY_OFFSET`].
///
/// Mirrors `msecs_to_jiffies()` (include/linux/jiffies.h). With `HZ=1000`
/// this is the identity below the clamp.
#[doc(alias = "__msecs_to_jiffies")]
pub const fn msecs_to_jiffies(m: u64) -> u64 {
    let j = m.div_ceil(MSEC_PER_SEC / HZ);
    if j > MAX_JIFFY_OFFSET { MAX_JIFFY_OFFSET } else { j }
}

/// Jiffies to milliseconds (saturating).
///
/// Mirrors `jiffies_to_msecs()` (kernel/time/time.c), which returns an
/// `unsigned int` in Linux; ours is a `u64`.
pub const fn jiffies_to_msecs(j: u64) -> u64 {
    j.saturating_mul(MSEC_PER_SEC / HZ)
}

/// Microseconds to jiffies, rounding up; clamps to [`MAX_JIFFY_OFFSET`].
///
/// Mirrors `usecs_to_jiffies()` (include/linux/jiffies.h): 1 µs is one jiffy,
/// so a short timeout never becomes zero.
#[doc(alias = "_usecs_to_jiffies")]
pub const fn usecs_to_jiffies(u: u64) -> u64 {
    let j = u.div_ceil(USEC_PER_SEC / HZ);
    if j > MAX_JIFFY_OFFSET { MAX_JIFFY_OFFSET } else { j }
}

/// Jiffies to microseconds (saturating).
///
/// Mirrors `jiffies_to_usecs()` (kernel/time/time.c).
pub const fn jiffies_to_usecs(j: u64) -> u64 {
    j.saturating_mul(USEC_PER_SEC / HZ)
}

/// Nanoseconds to jiffies, rounding **down** (999 999 ns is 0 jiffies).
///
/// Mirrors `nsecs_to_jiffies()` (kernel/time/time.c), which is
/// `div_u64(n, NSEC_PER_SEC / HZ)` when `HZ` divides `NSEC_PER_SEC`; unlike the
/// msecs and usecs conversions it does not round up.
#[doc(alias = "nsecs_to_jiffies64")]
pub const fn nsecs_to_jiffies(n: u64) -> u64 {
    n / TICK_NSEC
}

/// Jiffies to nanoseconds (saturating).
///
/// Mirrors `jiffies_to_nsecs()` (include/linux/jiffies.h) and
/// `jiffies64_to_nsecs()` (kernel/time/time.c).
#[doc(alias = "jiffies64_to_nsecs")]
pub const fn jiffies_to_nsecs(j: u64) -> u64 {
    j.saturating_mul(TICK_NSEC)
}

/// Seconds to jiffies; clamps to [`MAX_JIFFY_OFFSET`].
///
/// Mirrors `secs_to_jiffies()` (include/linux/jiffies.h), a plain
/// `secs * HZ` in Linux that would overflow where ours clamps.
pub const fn secs_to_jiffies(s: u64) -> u64 {
    let j = s.saturating_mul(HZ);
    if j > MAX_JIFFY_OFFSET { MAX_JIFFY_OFFSET } else { j }
}

/// True if time `a` is after time `b`, correct across wraparound as long as
/// they are less than 2^63 jiffies apart.
///
/// Mirrors `time_after()` (include/linux/jiffies.h):
/// `(long)((b) - (a)) < 0`.
#[doc(alias = "time_after64")]
#[inline]
pub const fn time_after(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) < 0
}

/// True if time `a` is before time `b` (wrap-safe).
///
/// Mirrors `time_before()` (include/linux/jiffies.h): `time_after(b, a)`.
#[doc(alias = "time_before64")]
#[inline]
pub const fn time_before(a: u64, b: u64) -> bool {
    time_after(b, a)
}

/// True if time `a` is after or equal to time `b` (wrap-safe).
///
/// Mirrors `time_after_eq()` (include/linux/jiffies.h):
/// `(long)((a) - (b)) >= 0`.
#[doc(alias = "time_after_eq64")]
#[inline]
pub const fn time_after_eq(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) >= 0
}

/// True if time `a` is before or equal to time `b` (wrap-safe).
///
/// Mirrors `time_before_eq()` (include/linux/jiffies.h).
#[doc(alias = "time_before_eq64")]
#[inline]
pub const fn time_before_eq(a: u64, b: u64) -> bool {
    time_after_eq(b, a)
}

/// True if `a` lies in `[b, c]`, both ends included (wrap-safe).
///
/// Mirrors `time_in_range()` (include/linux/jiffies.h):
/// `time_after_eq(a, b) && time_before_eq(a, c)`.
#[doc(alias = "time_in_range64")]
#[inline]
pub const fn time_in_range(a: u64, b: u64, c: u64) -> bool {
    time_after_eq(a, b) && time_before_eq(a, c)
}

/// 32-bit `time_after()`, for TCP timestamps (`tsval`, `rcv_tsval`), which
/// are 32-bit counters on the wire (RFC 7323) and wrap.
///
/// Mirrors `time_after32()` (include/linux/jiffies.h):
/// `(s32)((u32)(b) - (u32)(a)) < 0`.
#[inline]
pub const fn time_after32(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// 32-bit `time_before()`, for TCP timestamps.
///
/// Mirrors `time_before32()` (include/linux/jiffies.h).
#[inline]
pub const fn time_before32(a: u32, b: u32) -> bool {
    time_after32(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(msecs_to_jiffies(0), 0);
        assert_eq!(msecs_to_jiffies(200), 200);
        assert_eq!(jiffies_to_msecs(200), 200);
        assert_eq!(secs_to_jiffies(60), 60_000);
        // usecs round up, as in Linux: any nonzero timeout is >= 1 jiffy.
        assert_eq!(usecs_to_jiffies(0), 0);
        assert_eq!(usecs_to_jiffies(1), 1);
        assert_eq!(usecs_to_jiffies(1000), 1);
        assert_eq!(usecs_to_jiffies(1001), 2);
        assert_eq!(jiffies_to_usecs(3), 3000);
        // nsecs round down, as nsecs_to_jiffies64() does.
        assert_eq!(nsecs_to_jiffies(999_999), 0);
        assert_eq!(nsecs_to_jiffies(1_000_000), 1);
        assert_eq!(nsecs_to_jiffies(1_999_999), 1);
        assert_eq!(jiffies_to_nsecs(5), 5_000_000);
        assert_eq!(jiffies_to_nsecs(nsecs_to_jiffies(NSEC_PER_SEC)), NSEC_PER_SEC);
        // Clamps and saturation.
        assert_eq!(msecs_to_jiffies(u64::MAX), MAX_JIFFY_OFFSET);
        assert_eq!(usecs_to_jiffies(u64::MAX), u64::MAX.div_ceil(1000));
        assert_eq!(secs_to_jiffies(u64::MAX / 2), MAX_JIFFY_OFFSET);
        assert_eq!(jiffies_to_nsecs(u64::MAX), u64::MAX);
        assert_eq!(jiffies_to_usecs(u64::MAX), u64::MAX);
        assert_eq!(MAX_JIFFY_OFFSET, (1 << 62) - 2);
    }

    #[test]
    fn comparisons() {
        assert!(time_after(2, 1));
        assert!(!time_after(1, 1));
        assert!(!time_after(1, 2));
        assert!(time_before(1, 2));
        assert!(time_after_eq(1, 1));
        assert!(time_before_eq(1, 1));
        assert!(time_in_range(5, 5, 10));
        assert!(time_in_range(10, 5, 10));
        assert!(!time_in_range(11, 5, 10));
        assert!(!time_in_range(4, 5, 10));
    }

    #[test]
    fn comparisons_wrap_u64() {
        let before_wrap = u64::MAX - 5;
        let after_wrap = 10u64;
        assert!(time_after(after_wrap, before_wrap));
        assert!(time_before(before_wrap, after_wrap));
        assert!(time_after_eq(after_wrap, before_wrap));
        assert!(time_before_eq(before_wrap, after_wrap));
        assert!(time_in_range(u64::MAX, before_wrap, after_wrap));
        assert!(time_in_range(0, before_wrap, after_wrap));
        assert!(!time_in_range(11, before_wrap, after_wrap));
        // Half the range apart is where the comparison flips.
        assert!(time_after(1 << 63, 1));
        assert!(!time_after((1 << 63) + 1, 0));
    }

    #[test]
    fn comparisons_wrap_u32() {
        let before_wrap = u32::MAX - 5;
        let after_wrap = 10u32;
        assert!(time_after32(after_wrap, before_wrap));
        assert!(time_before32(before_wrap, after_wrap));
        assert!(!time_after32(before_wrap, after_wrap));
        assert!(!time_after32(7, 7));
        assert!(time_after32(8, 7));
    }

    #[test]
    fn virtual_clock_is_shared_between_clones() {
        let a = Clock::new_virtual();
        let b = a.clone();
        assert!(a.is_virtual());
        assert_eq!(b.now_ns(), 0);
        assert!(a.advance_ns(3 * NSEC_PER_MSEC + 1));
        assert_eq!(b.now_ns(), 3_000_001);
        assert_eq!(b.jiffies(), 3);
        assert!(b.set_ns(NSEC_PER_SEC));
        assert_eq!(a.jiffies(), HZ);
        let c = Clock::new_virtual_at(7 * TICK_NSEC);
        assert_eq!(c.jiffies(), 7);
        assert_eq!(a.jiffies(), HZ, "separate clocks do not share");
    }

    #[test]
    fn virtual_clock_set_ns_is_monotonic() {
        let c = Clock::new_virtual_at(1000);
        assert!(!c.set_ns(999), "earlier time is ignored");
        assert_eq!(c.now_ns(), 1000);
        assert!(c.set_ns(1000));
        assert!(c.set_ns(5000));
        assert!(!c.set_ns(0));
        assert_eq!(c.now_ns(), 5000);
        assert!(c.advance_ns(u64::MAX));
        assert_eq!(c.now_ns(), u64::MAX, "advance saturates");
    }

    #[test]
    fn system_clock_advances() {
        let c = Clock::new_system();
        assert!(!c.is_virtual());
        assert!(!c.advance_ns(1));
        assert!(!c.set_ns(u64::MAX));
        let t0 = c.now_ns();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let t1 = c.now_ns();
        assert!(t1 >= t0 + 3 * NSEC_PER_MSEC, "{t0} -> {t1}");
        assert!(c.jiffies() >= 3);
    }
}
