//! A windowed minimum: the smallest value seen over the last `win` time
//! units, kept in constant space.
//!
//! Mirrors lib/win_minmax.c and include/linux/win_minmax.h of **Linux
//! 6.18** (Kathleen Nichols' algorithm), which TCP uses for `tp->rtt_min`:
//! the minimum RTT over the last `tcp_min_rtt_wlen` seconds (5 minutes by
//! default), which RACK's reordering window and `tcpi_min_rtt` read.
//!
//! Three samples are kept, the best, second-best and third-best, each no
//! older than the one before it. A new minimum replaces all three (nothing
//! older can matter any more). As time passes without a new minimum, the
//! second and third choices are refreshed from later quarters of the
//! window, so that when the best one ages out there is a recent
//! replacement: the answer is the true windowed minimum whenever the data
//! do not rise steadily across the whole window, and within that rise
//! otherwise.
//!
//! # Where we differ
//!
//! - Only the running minimum; Linux also has `minmax_running_max()` (for
//!   BBR's bandwidth filter), which nothing here needs.

/// `struct minmax_sample`: a value `v` measured at time `t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinmaxSample {
    /// `t`: when it was measured (the caller's unit; TCP uses jiffies).
    pub t: u32,
    /// `v`: the value (TCP: an RTT in µs).
    pub v: u32,
}

/// `struct minmax`: the best, second-best and third-best samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Minmax {
    /// `s[3]`.
    pub s: [MinmaxSample; 3],
}

/// `minmax_get()`: the windowed minimum.
#[inline]
pub fn minmax_get(m: &Minmax) -> u32 {
    m.s[0].v
}

/// `minmax_reset()`: forget everything; `meas` at `t` is all three choices.
pub fn minmax_reset(m: &mut Minmax, t: u32, meas: u32) -> u32 {
    let val = MinmaxSample { t, v: meas };
    m.s = [val; 3];
    meas
}

/// `minmax_subwin_update()`: as time advances, age the choices — the best
/// one out of the window is replaced by the next; a quarter of the window
/// without news takes a new second choice, half of it a new third.
fn minmax_subwin_update(m: &mut Minmax, win: u32, val: MinmaxSample) -> u32 {
    let dt = val.t.wrapping_sub(m.s[0].t);
    if dt > win {
        // The whole window passed without a new best: promote the others
        // (twice, if the second choice is out of the window as well; the
        // caller checked that the third one is in it).
        m.s = [m.s[1], m.s[2], val];
        if val.t.wrapping_sub(m.s[0].t) > win {
            m.s = [m.s[1], m.s[2], val];
        }
    } else if m.s[1].t == m.s[0].t && dt > win / 4 {
        // A quarter of the window without a new value: take a second
        // choice from its second quarter.
        m.s[1] = val;
        m.s[2] = val;
    } else if m.s[2].t == m.s[1].t && dt > win / 2 {
        // Half of it: a third choice from the last half.
        m.s[2] = val;
    }
    m.s[0].v
}

/// `minmax_running_min()`: take the measurement `meas` made at `t` into a
/// minimum over a window of `win`; returns the minimum.
pub fn minmax_running_min(m: &mut Minmax, win: u32, t: u32, meas: u32) -> u32 {
    let val = MinmaxSample { t, v: meas };
    if val.v <= m.s[0].v || val.t.wrapping_sub(m.s[2].t) > win {
        // A new minimum, or nothing left in the window.
        return minmax_reset(m, t, meas);
    }
    if val.v <= m.s[1].v {
        m.s[1] = val;
        m.s[2] = val;
    } else if val.v <= m.s[2].v {
        m.s[2] = val;
    }
    minmax_subwin_update(m, win, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIN: u32 = 300_000; // tcp_min_rtt_wlen = 300 s, in jiffies

    fn filled(t: u32, v: u32) -> Minmax {
        let mut m = Minmax::default();
        minmax_reset(&mut m, t, v);
        m
    }

    #[test]
    fn a_smaller_value_is_the_minimum_at_once() {
        let mut m = filled(0, u32::MAX);
        assert_eq!(minmax_running_min(&mut m, WIN, 10, 5_000), 5_000);
        assert_eq!(minmax_running_min(&mut m, WIN, 20, 7_000), 5_000, "larger: not the minimum");
        assert_eq!(minmax_running_min(&mut m, WIN, 30, 4_000), 4_000);
        assert_eq!(m.s, [MinmaxSample { t: 30, v: 4_000 }; 3], "a new minimum forgets the rest");
    }

    #[test]
    fn the_minimum_ages_out_of_the_window() {
        // 100 ms at t = 0, then 200 ms samples every 10 s: after 300 s the
        // 100 ms sample is gone and 200 ms is the minimum.
        let mut m = filled(0, 100_000);
        let mut t = 0;
        while t <= WIN {
            t += 10_000;
            let got = minmax_running_min(&mut m, WIN, t, 200_000);
            if t <= WIN {
                assert_eq!(got, 100_000, "at {t}: still in the window");
            } else {
                assert_eq!(got, 200_000, "at {t}: aged out");
            }
        }
    }

    #[test]
    fn later_choices_come_from_later_quarters() {
        // Rising samples: the second choice is taken once a quarter of the
        // window has passed, the third after half of it; when the best ages
        // out, the second (from the second quarter) takes over rather than
        // the newest.
        let mut m = filled(0, 10);
        minmax_running_min(&mut m, WIN, WIN / 4 + 1, 20);
        assert_eq!(m.s[1], MinmaxSample { t: WIN / 4 + 1, v: 20 });
        minmax_running_min(&mut m, WIN, WIN / 2 + 1, 30);
        assert_eq!(m.s[2], MinmaxSample { t: WIN / 2 + 1, v: 30 });
        assert_eq!(minmax_running_min(&mut m, WIN, WIN + 1, 40), 20, "the second choice took over");
    }

    #[test]
    fn times_wrap() {
        let start = u32::MAX - 1_000;
        let mut m = filled(start, 50);
        assert_eq!(minmax_running_min(&mut m, WIN, start.wrapping_add(2_000), 60), 50);
        assert_eq!(minmax_running_min(&mut m, WIN, start.wrapping_add(WIN + 5_000), 70), 70);
    }
}
