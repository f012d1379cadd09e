//! CUBIC with HyStart: `tcp_cubic`, Linux's default congestion control.
//!
//! Mirrors net/ipv4/tcp_cubic.c of **Linux 6.18** ("TCP CUBIC: Binary
//! Increase Congestion control for TCP v2.3"). Heads up: RFC 9438 (CUBIC)
//! first — §4.2 the window function W_cubic(t) = C·(t − K)³ + W_max, §4.3
//! the Reno-friendly region, §4.6 multiplicative decrease by β = 0.7, §4.7
//! fast convergence — then the HyStart paper (Ha & Rhee, "Taming the
//! Elephants: New TCP Slow Start", 2011) for the two slow-start exits.
//!
//! Linux computes everything in integers, and so do we, so the window
//! follows Linux's to the segment for the same ACK stream:
//!
//! - time is in jiffies (`tcp_jiffies32`, HZ = 1000) and, inside the cubic
//!   function, in 1/1024 s (`BICTCP_HZ` = 10 bits);
//! - C = `bic_scale` / 1024 = 41/1024 ≈ 0.04, but the cube is scaled by
//!   `cube_rtt_scale` = `bic_scale` × 10 = 410 and `cube_factor` =
//!   2^40 / 410, which makes the curve that of C = 0.4 with time in
//!   seconds (the "× 10" is Linux's historical 100 ms SRTT folded in);
//! - β is `beta` / `BICTCP_BETA_SCALE` = 717/1024 ≈ 0.7;
//! - K comes from [`cubic_root`]: a 64-entry table and one Newton–Raphson
//!   step (average error 0.195 %), not a floating-point cube root;
//! - the window grows through [`tcp_cong_avoid_ai`] by one segment per
//!   `cnt` segments acknowledged, `cnt` recomputed at most once a jiffy.
//!
//! The private state is `struct bictcp`, 16 words kept in
//! [`TcpSk::icsk_ca_priv`] ([`Bictcp::load`] / [`Bictcp::store`]).
//!
//! # Where we differ
//!
//! - Linux's module parameters (`beta`, `fast_convergence`, `hystart`,
//!   `hystart_detect`, `hystart_low_window`, `hystart_ack_delta_us`, …) are
//!   constants here, at their defaults; `initial_ssthresh` is 0 (unused).
//! - No pacing (`SK_PACING_NONE`, as for CUBIC without fq in Linux): the
//!   ACK-train threshold is always halved. `hystart_ack_delay()` reads
//!   `sk_pacing_rate` as Linux's does, with `sk_gso_max_size` fixed at
//!   `GSO_LEGACY_MAX_SIZE` (what a device with software GSO gives).
//! - The clock is the socket's `tcp_mstamp` (see [`TcpSk::tcp_jiffies32`]).
//! - Delay samples come from cumulative ACKs only (no SACK RTT).

use net_core::Net;
use net_core::jiffies::HZ;
use net_core::snmp::LinuxMib;

use crate::sock::*;
use crate::tcp_cong::{
    AckSample, CaEvent, TCP_RENO, TcpCongestionOps, tcp_cong_avoid_ai, tcp_in_slow_start, tcp_slow_start,
};

// ANCHOR: bictcp_params
/// `BICTCP_BETA_SCALE`: β is `beta` / 1024.
pub const BICTCP_BETA_SCALE: u32 = 1024;
/// `BICTCP_HZ`: the cubic function's time unit is 2^-10 s.
pub const BICTCP_HZ: u32 = 10;

/// `HYSTART_ACK_TRAIN`: leave slow start when a round's ACKs have arrived
/// for longer than half the minimum RTT.
pub const HYSTART_ACK_TRAIN: u32 = 0x1;
/// `HYSTART_DELAY`: leave slow start when a round's RTT rises above the
/// minimum by an eighth of it (4 ms to 16 ms).
pub const HYSTART_DELAY: u32 = 0x2;
/// `HYSTART_MIN_SAMPLES`: RTT samples per round before the delay test.
pub const HYSTART_MIN_SAMPLES: u8 = 8;
/// `HYSTART_DELAY_MIN` (µs).
pub const HYSTART_DELAY_MIN: u32 = 4000;
/// `HYSTART_DELAY_MAX` (µs).
pub const HYSTART_DELAY_MAX: u32 = 16000;

/// `HYSTART_DELAY_THRESH()`.
fn hystart_delay_thresh(x: u32) -> u32 {
    x.clamp(HYSTART_DELAY_MIN, HYSTART_DELAY_MAX)
}

/// Module parameter `fast_convergence` (1).
pub const FAST_CONVERGENCE: bool = true;
/// Module parameter `beta`: 717/1024 ≈ 0.7 (RFC 9438 §4.6).
pub const BETA: u32 = 717;
/// Module parameter `bic_scale`: C = 41/1024 (see the module doc).
pub const BIC_SCALE: u32 = 41;
/// Module parameter `tcp_friendliness` (1): the Reno-friendly region.
pub const TCP_FRIENDLINESS: bool = true;
/// Module parameter `hystart` (1).
pub const HYSTART: bool = true;
/// Module parameter `hystart_detect`: both mechanisms.
pub const HYSTART_DETECT: u32 = HYSTART_ACK_TRAIN | HYSTART_DELAY;
/// Module parameter `hystart_low_window`: no HyStart below 16 segments.
pub const HYSTART_LOW_WINDOW: u32 = 16;
/// Module parameter `hystart_ack_delta_us`: ACKs closer than 2 ms form a train.
pub const HYSTART_ACK_DELTA_US: u32 = 2000;

/// `beta_scale` = 8·(1024 + β)/3/(1024 − β) = 15, as `cubictcp_register()`
/// computes it: the Reno-friendly estimate grows by one segment every
/// `cwnd · beta_scale / 8` segments acknowledged, i.e. by
/// 3(1 − β)/(1 + β) ≈ 0.53 per RTT (RFC 9438 §4.3's α_cubic).
pub const BETA_SCALE: u32 = 8 * (BICTCP_BETA_SCALE + BETA) / 3 / (BICTCP_BETA_SCALE - BETA);
/// `cube_rtt_scale` = `bic_scale` × 10 = 410 ("1024·c/rtt").
pub const CUBE_RTT_SCALE: u32 = BIC_SCALE * 10;
/// `cube_factor` = 2^(10 + 3·BICTCP_HZ) / (`bic_scale` × 10): K is
/// `cubic_root(cube_factor · (W_max − cwnd))` in 2^-10 s.
pub const CUBE_FACTOR: u64 = (1u64 << (10 + 3 * BICTCP_HZ)) / (BIC_SCALE as u64 * 10);
// ANCHOR_END: bictcp_params

/// `struct bictcp`: CUBIC's per-connection state (`inet_csk_ca(sk)`).
#[doc(alias = "bictcp")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bictcp {
    /// `cnt`: increase cwnd by 1 after this many ACKed segments.
    pub cnt: u32,
    /// `last_max_cwnd`: W_max, the window before the last reduction.
    pub last_max_cwnd: u32,
    /// `last_cwnd`: the cwnd `cnt` was last computed for.
    pub last_cwnd: u32,
    /// `last_time`: when (jiffies) `last_cwnd` was recorded.
    pub last_time: u32,
    /// `bic_origin_point`: origin of the cubic function (W_max or cwnd).
    pub bic_origin_point: u32,
    /// `bic_K`: time from the epoch's start to the origin, in 2^-10 s.
    #[doc(alias = "bic_K")]
    pub bic_k: u32,
    /// `delay_min`: minimum RTT seen (µs).
    pub delay_min: u32,
    /// `epoch_start`: beginning of the epoch (jiffies); 0 = none.
    pub epoch_start: u32,
    /// `ack_cnt`: segments ACKed since the Reno estimate last grew.
    pub ack_cnt: u32,
    /// `tcp_cwnd`: the estimated Reno window (W_est).
    pub tcp_cwnd: u32,
    /// `sample_cnt`: RTT samples taken this round.
    pub sample_cnt: u8,
    /// `found`: HyStart found the exit point.
    pub found: u8,
    /// `round_start`: beginning of this round (µs).
    pub round_start: u32,
    /// `end_seq`: `snd_nxt` when the round began.
    pub end_seq: u32,
    /// `last_ack`: last time (µs) ACKs were close together.
    pub last_ack: u32,
    /// `curr_rtt`: the minimum RTT of this round (µs).
    pub curr_rtt: u32,
}

impl Bictcp {
    /// `inet_csk_ca(sk)` read: the state from `icsk_ca_priv`.
    pub fn load(tp: &TcpSk) -> Bictcp {
        let w = |i: usize| -> u32 { (tp.icsk_ca_priv[i / 2] >> (32 * (i % 2))) as u32 };
        Bictcp {
            cnt: w(0),
            last_max_cwnd: w(1),
            last_cwnd: w(2),
            last_time: w(3),
            bic_origin_point: w(4),
            bic_k: w(5),
            delay_min: w(6),
            epoch_start: w(7),
            ack_cnt: w(8),
            tcp_cwnd: w(9),
            sample_cnt: w(10) as u8,
            found: (w(10) >> 8) as u8,
            round_start: w(11),
            end_seq: w(12),
            last_ack: w(13),
            curr_rtt: w(14),
        }
    }

    /// Write the state back to `icsk_ca_priv`.
    pub fn store(&self, tp: &mut TcpSk) {
        let words = [
            self.cnt,
            self.last_max_cwnd,
            self.last_cwnd,
            self.last_time,
            self.bic_origin_point,
            self.bic_k,
            self.delay_min,
            self.epoch_start,
            self.ack_cnt,
            self.tcp_cwnd,
            u32::from(self.sample_cnt) | (u32::from(self.found) << 8),
            self.round_start,
            self.end_seq,
            self.last_ack,
            self.curr_rtt,
            0,
        ];
        for (i, pair) in words.chunks(2).enumerate() {
            tp.icsk_ca_priv[i] = u64::from(pair[0]) | (u64::from(pair[1]) << 32);
        }
    }

    /// Mirrors `bictcp_reset()`: zero everything up to `unused` — the
    /// cubic state, not HyStart's round (`sample_cnt`, `round_start`,
    /// `end_seq`, `last_ack`, `curr_rtt` survive) — and clear `found`.
    pub fn bictcp_reset(&mut self) {
        *self = Bictcp {
            sample_cnt: self.sample_cnt,
            round_start: self.round_start,
            end_seq: self.end_seq,
            last_ack: self.last_ack,
            curr_rtt: self.curr_rtt,
            ..Bictcp::default()
        };
        self.found = 0;
    }
}

/// Mirrors `bictcp_clock_us()`: `tcp_mstamp`, truncated to 32 bits.
fn bictcp_clock_us(tp: &TcpSk) -> u32 {
    tp.tcp_mstamp as u32
}

/// Mirrors `bictcp_hystart_reset()`: a new round starts now and ends when
/// `snd_nxt` (as of now) is acknowledged.
fn bictcp_hystart_reset(tp: &TcpSk, ca: &mut Bictcp) {
    let now = bictcp_clock_us(tp);
    ca.round_start = now;
    ca.last_ack = now;
    ca.end_seq = tp.snd_nxt;
    ca.curr_rtt = !0;
    ca.sample_cnt = 0;
}

/// `fls64()`: the position of the most significant set bit, 1-based; 0 for 0.
fn fls64(a: u64) -> u32 {
    64 - a.leading_zeros()
}

// ANCHOR: cubic_root
/// Mirrors `cubic_root()` (net/ipv4/tcp_cubic.c): ∛a from a table of the
/// cube roots of the top six bits ("precomputed then refined by hand —
/// Willy Tarreau"), then one Newton–Raphson step
/// x' = (2x + a/x²)/3 — with Linux's `x·(x − 1)` for x² and `· 341 >> 10`
/// for ÷ 3. Average error 0.195 %; bit-exact with the kernel.
pub fn cubic_root(a: u64) -> u32 {
    // For x in [0..63]: v = cbrt(x << 18) - 1; cbrt(x) = (v[x] + 10) >> 6.
    const V: [u8; 64] = [
        0, 54, 54, 54, 118, 118, 118, 118, //
        123, 129, 134, 138, 143, 147, 151, 156, //
        157, 161, 164, 168, 170, 173, 176, 179, //
        181, 185, 187, 190, 192, 194, 197, 199, //
        200, 202, 204, 206, 209, 211, 213, 215, //
        217, 219, 221, 222, 224, 225, 227, 229, //
        231, 232, 234, 236, 237, 239, 240, 242, //
        244, 245, 246, 248, 250, 251, 252, 254, //
    ];
    let b = fls64(a);
    if b < 7 {
        // a in [0..63]
        return (u32::from(V[a as usize]) + 35) >> 6;
    }
    let b = ((b * 84) >> 8) - 1;
    let shift = (a >> (b * 3)) as u32;
    let x = (u32::from(V[shift as usize]) + 10).wrapping_shl(b) >> 6;
    let div = u64::from(x) * u64::from(x.wrapping_sub(1));
    let x = (2u32.wrapping_mul(x)).wrapping_add((a / div) as u32);
    x.wrapping_mul(341) >> 10
}
// ANCHOR_END: cubic_root

// ANCHOR: bictcp_update
/// Mirrors `bictcp_update()`: recompute `ca.cnt`, the number of segments
/// to acknowledge per segment of window growth, from the cubic function
/// and the Reno estimate. `now` is `tcp_jiffies32`.
///
/// A new epoch (after every reduction, `epoch_start` = 0) starts the
/// clock, syncs the Reno estimate with `cwnd`, and puts the origin at
/// W_max, K later (`bic_K` = ∛(`cube_factor` · (W_max − cwnd))), or — if
/// the window is already past W_max — here and now (K = 0). The target is
/// W(t + RTT_min) = origin ± `cube_rtt_scale`·|t − K|³ / 2^40 and `cnt` =
/// cwnd / (target − cwnd) (100·cwnd when at or above the target), capped
/// at 20 (5 % a round) while no loss has set W_max. Then the
/// Reno-friendly region (RFC 9438 §4.3): the estimate grows one segment
/// per `cwnd · beta_scale / 8` ACKed, and if it is ahead `cnt` is lowered
/// to catch up within a round. Never faster than one per two ACKed
/// (`cnt` ≥ 2, 1.5× a round). The cubic part runs at most once a jiffy,
/// and not at all within 1/32 s while cwnd is unchanged.
pub fn bictcp_update(ca: &mut Bictcp, cwnd: u32, acked: u32, now: u32) {
    ca.ack_cnt = ca.ack_cnt.wrapping_add(acked); // count the number of ACKed packets

    if ca.last_cwnd == cwnd && (now.wrapping_sub(ca.last_time) as i32) <= (HZ / 32) as i32 {
        return;
    }

    // The CUBIC function can update ca->cnt at most once per jiffy. On all
    // cwnd reduction events, ca->epoch_start is set to 0, which will force
    // a recalculation of ca->cnt.
    if !(ca.epoch_start != 0 && now == ca.last_time) {
        ca.last_cwnd = cwnd;
        ca.last_time = now;

        if ca.epoch_start == 0 {
            ca.epoch_start = now; // record beginning
            ca.ack_cnt = acked; // start counting
            ca.tcp_cwnd = cwnd; // syn with cubic
            if ca.last_max_cwnd <= cwnd {
                ca.bic_k = 0;
                ca.bic_origin_point = cwnd;
            } else {
                // (wmax-cwnd) * (srtt>>3 / HZ) / c * 2^(3*bictcp_HZ)
                ca.bic_k = cubic_root(CUBE_FACTOR.wrapping_mul(u64::from(ca.last_max_cwnd - cwnd)));
                ca.bic_origin_point = ca.last_max_cwnd;
            }
        }

        // t = (now - epoch_start + RTT_min) in 2^-10 s.
        let mut t = now.wrapping_sub(ca.epoch_start) as i32 as i64 as u64;
        t = t.wrapping_add(net_core::jiffies::usecs_to_jiffies(u64::from(ca.delay_min)));
        t <<= BICTCP_HZ;
        t /= HZ;

        let k = u64::from(ca.bic_k);
        let offs = t.abs_diff(k); // t - K
        // c/rtt * (t-K)^3
        let delta = (u64::from(CUBE_RTT_SCALE).wrapping_mul(offs).wrapping_mul(offs).wrapping_mul(offs)
            >> (10 + 3 * BICTCP_HZ)) as u32;
        let bic_target = if t < k {
            ca.bic_origin_point.wrapping_sub(delta) // below origin
        } else {
            ca.bic_origin_point.wrapping_add(delta) // above origin
        };

        ca.cnt = if bic_target > cwnd {
            cwnd / (bic_target - cwnd)
        } else {
            cwnd.wrapping_mul(100) // very small increment
        };

        // The initial growth of cubic function may be too conservative
        // when the available bandwidth is still unknown.
        if ca.last_max_cwnd == 0 && ca.cnt > 20 {
            ca.cnt = 20; // increase cwnd 5% per RTT
        }
    }

    // tcp_friendliness:
    if TCP_FRIENDLINESS {
        let delta = cwnd.wrapping_mul(BETA_SCALE) >> 3;
        while ca.ack_cnt > delta {
            // update tcp cwnd
            ca.ack_cnt -= delta;
            ca.tcp_cwnd += 1;
        }
        if ca.tcp_cwnd > cwnd {
            // if bic is slower than tcp
            let delta = ca.tcp_cwnd - cwnd;
            let max_cnt = cwnd / delta;
            if ca.cnt > max_cnt {
                ca.cnt = max_cnt;
            }
        }
    }

    // The maximum rate of cwnd increase CUBIC allows is 1 packet per
    // 2 packets ACKed, meaning cwnd grows at 1.5x per RTT.
    ca.cnt = ca.cnt.max(2);
}
// ANCHOR_END: bictcp_update

/// `GSO_LEGACY_MAX_SIZE`: Linux's `sk_gso_max_size` on a device without
/// BIG TCP (software GSO is on for every device).
pub const GSO_LEGACY_MAX_SIZE: u64 = 65536;

/// Mirrors `hystart_ack_delay()`: a cushion for TSO/GRO aggregation added
/// to the ACK-train threshold — the time to send four GSO packets at the
/// pacing rate, at most 1 ms; 0 before there is a rate. Below 262 MB/s it
/// is the full 1 ms.
pub fn hystart_ack_delay(tp: &TcpSk) -> u32 {
    let rate = tp.sk_pacing_rate;
    if rate == 0 {
        return 0;
    }
    (GSO_LEGACY_MAX_SIZE * 4 * 1_000_000 / rate).min(1000) as u32
}

/// Mirrors `hystart_update()`: one RTT sample (`delay`, µs) in slow start.
/// A round ends when `snd_una` passes `end_seq`; below
/// `hystart_low_window` nothing is judged. **ACK train**: while ACKs keep
/// coming within `hystart_ack_delta_us` of each other, a train that has
/// lasted more than (`delay_min` + [`hystart_ack_delay`]) / 2 since the
/// round began means the pipe is full. **Delay**: once 8 samples are in,
/// a round whose minimum RTT exceeds `delay_min` by
/// `clamp(delay_min / 8, 4 ms, 16 ms)` means a queue is building. Either
/// sets `found` and ends slow start (`snd_ssthresh` = cwnd), counting
/// TCPHystartTrainDetect / TCPHystartTrainCwnd or TCPHystartDelayDetect /
/// TCPHystartDelayCwnd.
fn hystart_update(net: &Net, tp: &mut TcpSk, ca: &mut Bictcp, delay: u32) {
    if after(tp.snd_una, ca.end_seq) {
        bictcp_hystart_reset(tp, ca);
    }

    // hystart triggers when cwnd is larger than some threshold
    if tp.snd_cwnd < HYSTART_LOW_WINDOW {
        return;
    }

    if HYSTART_DETECT & HYSTART_ACK_TRAIN != 0 {
        let now = bictcp_clock_us(tp);
        // first detection parameter - ack-train detection
        if (now.wrapping_sub(ca.last_ack) as i32) <= HYSTART_ACK_DELTA_US as i32 {
            ca.last_ack = now;
            let mut threshold = ca.delay_min.wrapping_add(hystart_ack_delay(tp));
            // Hystart ack train triggers if we get ack past ca->delay_min/2.
            // Pacing might have delayed packets up to RTT/2 during slow
            // start — not here: sk_pacing_status is SK_PACING_NONE.
            threshold >>= 1;
            if (now.wrapping_sub(ca.round_start) as i32) > threshold as i32 {
                ca.found = 1;
                net.mib.inc(LinuxMib::TCPHystartTrainDetect);
                net.mib.add(LinuxMib::TCPHystartTrainCwnd, u64::from(tp.snd_cwnd));
                tp.snd_ssthresh = tp.snd_cwnd;
            }
        }
    }

    if HYSTART_DETECT & HYSTART_DELAY != 0 {
        // obtain the minimum delay of more than sampling packets
        if ca.curr_rtt > delay {
            ca.curr_rtt = delay;
        }
        if ca.sample_cnt < HYSTART_MIN_SAMPLES {
            ca.sample_cnt += 1;
        } else if ca.curr_rtt > ca.delay_min.wrapping_add(hystart_delay_thresh(ca.delay_min >> 3)) {
            ca.found = 1;
            net.mib.inc(LinuxMib::TCPHystartDelayDetect);
            net.mib.add(LinuxMib::TCPHystartDelayCwnd, u64::from(tp.snd_cwnd));
            tp.snd_ssthresh = tp.snd_cwnd;
        }
    }
}

/// CUBIC, Linux's `cubictcp` (net/ipv4/tcp_cubic.c).
#[doc(alias = "cubictcp")]
#[derive(Debug)]
pub struct Cubic;

/// The one CUBIC instance sockets point at.
pub static TCP_CUBIC: Cubic = Cubic;

// ANCHOR: cubictcp
impl TcpCongestionOps for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    /// Mirrors `cubictcp_init()`: reset the state and start a HyStart
    /// round (`initial_ssthresh` only applies without HyStart).
    fn init(&self, tp: &mut TcpSk) {
        let mut ca = Bictcp::load(tp);
        ca.bictcp_reset();
        if HYSTART {
            bictcp_hystart_reset(tp, &mut ca);
        }
        ca.store(tp);
    }

    /// Mirrors `cubictcp_recalc_ssthresh()`: end the epoch; W_max is the
    /// window now — or, if it is below the last W_max (fast convergence,
    /// RFC 9438 §4.7), (1 + β)/2 of it, so a newcomer gets room; the new
    /// threshold is β·cwnd, at least 2.
    fn ssthresh(&self, tp: &mut TcpSk) -> u32 {
        let mut ca = Bictcp::load(tp);
        let ssthresh = cubictcp_recalc_ssthresh(tp, &mut ca);
        ca.store(tp);
        ssthresh
    }

    /// Mirrors `cubictcp_cong_avoid()`: nothing unless the window limits
    /// the sender; slow start below `snd_ssthresh`; then
    /// [`bictcp_update`] and one segment per `cnt` ACKed.
    fn cong_avoid(&self, tp: &mut TcpSk, _ack: u32, acked: u32) {
        if !crate::tcp_input::tcp_is_cwnd_limited(tp) {
            return;
        }
        let mut acked = acked;
        if tcp_in_slow_start(tp) {
            acked = tcp_slow_start(tp, acked);
            if acked == 0 {
                return;
            }
        }
        let mut ca = Bictcp::load(tp);
        bictcp_update(&mut ca, tp.snd_cwnd, acked, tp.tcp_jiffies32());
        ca.store(tp);
        tcp_cong_avoid_ai(tp, ca.cnt, acked);
    }

    /// `tcp_reno_undo_cwnd()`, as Linux's `cubictcp` uses: back to the
    /// window before the reduction.
    fn undo_cwnd(&self, tp: &TcpSk) -> u32 {
        TCP_RENO.undo_cwnd(tp)
    }

    /// Mirrors `cubictcp_state()`: entering Loss (an RTO) forgets
    /// everything — W_max included — and starts a HyStart round.
    fn set_state(&self, tp: &mut TcpSk, new_state: u8) {
        if new_state == TCP_CA_LOSS {
            let mut ca = Bictcp::load(tp);
            ca.bictcp_reset();
            bictcp_hystart_reset(tp, &mut ca);
            ca.store(tp);
        }
    }

    /// Mirrors `cubictcp_cwnd_event()`: on `CA_EVENT_TX_START` (data sent
    /// with nothing in flight) after an idle spell, shift `epoch_start` by
    /// the idle time (now − `lsndtime`), no later than now, so the curve
    /// resumes where it left off instead of jumping ahead.
    fn cwnd_event(&self, tp: &mut TcpSk, ev: CaEvent) {
        if ev == CaEvent::TxStart {
            let mut ca = Bictcp::load(tp);
            let now = tp.tcp_jiffies32();
            let delta = now.wrapping_sub(tp.lsndtime) as i32;
            // We were application limited (idle) for a while. Shift
            // epoch_start to keep cwnd growth to cubic curve.
            if ca.epoch_start != 0 && delta > 0 {
                ca.epoch_start = ca.epoch_start.wrapping_add(delta as u32);
                if after(ca.epoch_start, now) {
                    ca.epoch_start = now;
                }
                ca.store(tp);
            }
        }
    }

    /// Mirrors `cubictcp_acked()`: keep `delay_min` (ignoring samples
    /// within a second of an epoch's start, right after recovery), and in
    /// slow start feed HyStart until it finds the exit.
    fn pkts_acked(&self, net: &Net, tp: &mut TcpSk, sample: &AckSample) {
        // Some calls are for duplicates without timestamps.
        if sample.rtt_us < 0 {
            return;
        }
        let mut ca = Bictcp::load(tp);
        // Discard delay samples right after fast recovery.
        if ca.epoch_start != 0 && (tp.tcp_jiffies32().wrapping_sub(ca.epoch_start) as i32) < HZ as i32 {
            return;
        }
        let delay = (sample.rtt_us.min(i64::from(u32::MAX)) as u32).max(1);
        // first time call or link delay decreases
        if ca.delay_min == 0 || ca.delay_min > delay {
            ca.delay_min = delay;
        }
        if ca.found == 0 && tcp_in_slow_start(tp) && HYSTART {
            hystart_update(net, tp, &mut ca, delay);
        }
        ca.store(tp);
    }
}
// ANCHOR_END: cubictcp

/// Mirrors `cubictcp_recalc_ssthresh()` on a loaded state.
fn cubictcp_recalc_ssthresh(tp: &TcpSk, ca: &mut Bictcp) -> u32 {
    ca.epoch_start = 0; // end of epoch
    // Wmax and fast convergence
    ca.last_max_cwnd = if tp.snd_cwnd < ca.last_max_cwnd && FAST_CONVERGENCE {
        tp.snd_cwnd.wrapping_mul(BICTCP_BETA_SCALE + BETA) / (2 * BICTCP_BETA_SCALE)
    } else {
        tp.snd_cwnd
    };
    (tp.snd_cwnd.wrapping_mul(BETA) / BICTCP_BETA_SCALE).max(2)
}

#[cfg(test)]
mod tests {
    //! The expected numbers below come from the formulas of
    //! net/ipv4/tcp_cubic.c (6.18), worked through independently of this
    //! file (a transliteration of `bictcp_update()`, `cubic_root()` and
    //! `tcp_cong_avoid_ai()`: net-tcp/tests/kernel_peers/tcp_cubic_ref.py),
    //! with RFC 9438's real arithmetic alongside as a sanity check.
    use super::*;
    use net_core::{Clock, Net};

    fn with_cubic(cwnd: u32, ssthresh: u32, f: impl FnOnce(&Net, &mut TcpSk)) {
        let net = Net::new("cubic", Clock::new_virtual(), 1);
        let sk = TcpSock::new(&net, 131072, 16384);
        let mut tp = sk.lock.lock();
        tp.icsk_ca_ops = &TCP_CUBIC;
        tp.snd_cwnd = cwnd;
        tp.snd_ssthresh = ssthresh;
        tp.is_cwnd_limited = true;
        // Start the clock at 10 s: an `epoch_start` of 0 means "none".
        tp.tcp_mstamp = 10_000_000;
        TCP_CUBIC.init(&mut tp);
        f(&net, &mut tp);
    }

    fn sample(tp: &mut TcpSk, net: &Net, at_us: u64, rtt_us: i64) {
        tp.tcp_mstamp = at_us;
        TCP_CUBIC.pkts_acked(net, tp, &AckSample { pkts_acked: 1, rtt_us, in_flight: 0 });
    }

    /// `rounds` round trips of `rtt_us`, each acknowledging the window
    /// one segment at a time, the ACKs evenly spread over the round;
    /// returns cwnd after each round.
    fn run_rounds(tp: &mut TcpSk, start_us: u64, rtt_us: u64, rounds: u64) -> Vec<u32> {
        let mut out = vec![tp.snd_cwnd];
        for r in 0..rounds {
            let n = u64::from(tp.snd_cwnd);
            for i in 0..n {
                tp.tcp_mstamp = start_us + r * rtt_us + i * rtt_us / n;
                TCP_CUBIC.cong_avoid(tp, 0, 1);
            }
            out.push(tp.snd_cwnd);
        }
        out
    }

    #[test]
    fn scaling_constants_are_linuxs() {
        assert_eq!(BETA_SCALE, 15, "8*(1024+717)/3/(1024-717)");
        assert_eq!(CUBE_RTT_SCALE, 410);
        assert_eq!(CUBE_FACTOR, 2_681_735_677, "2^40 / 410");
    }

    #[test]
    fn cubic_root_is_the_table_and_one_newton_step() {
        // Small values straight from the table: (v[a] + 35) >> 6.
        assert_eq!(cubic_root(0), 0);
        assert_eq!(cubic_root(1), 1);
        assert_eq!(cubic_root(7), 2);
        assert_eq!(cubic_root(63), 4);
        assert_eq!(cubic_root(64), 4);
        assert_eq!(cubic_root(1000), 10);
        assert_eq!(cubic_root(27000), 30);
        // K for W_max − cwnd = 30 and 100 segments (2^-10 s): RFC 9438's
        // ∛(ΔW / 0.4) is 4.217 s = 4318 and 6.300 s = 6451.
        assert_eq!(cubic_root(CUBE_FACTOR * 30), 4316);
        assert_eq!(cubic_root(CUBE_FACTOR * 100), 6451);
        assert_eq!(cubic_root(1 << 40), 10323);
        // Within 1 % of the real cube root over a wide range (below 2^20
        // the integer result itself is the coarser).
        let mut a = 1u64 << 20;
        while a < 1 << 50 {
            let exact = (a as f64).cbrt();
            let got = f64::from(cubic_root(a));
            assert!((got - exact).abs() / exact < 0.01, "cbrt({a}) = {got}, not {exact}");
            a = a * 3 / 2 + 1;
        }
    }

    // ANCHOR: cubic_trajectory_test
    #[test]
    fn window_after_a_loss_follows_linuxs_cubic_curve() {
        // A loss at cwnd 100 with no earlier W_max: W_max = 100,
        // ssthresh = 100·717/1024 = 70; recovery leaves cwnd = 70. RTT and
        // delay_min 100 ms; each round ACKs the window one segment at a time.
        // K = cubic_root(2^40/410 · 30) = 4316 (4.21 s): the window climbs
        // steeply, then flattens as it nears W_max = 100 after ~4 s (the
        // concave region, RFC 9438 §4.2), and only then creeps past it.
        with_cubic(100, 100, |net, tp| {
            sample(tp, net, 9_000_000, 100_000); // delay_min = 100 ms
            assert_eq!(TCP_CUBIC.ssthresh(tp), 70);
            let ca = Bictcp::load(tp);
            assert_eq!((ca.last_max_cwnd, ca.epoch_start), (100, 0));
            tp.snd_ssthresh = 70;
            tp.snd_cwnd = 70;
            let got = run_rounds(tp, 10_000_000, 100_000, 60);
            #[rustfmt::skip]
            let want = [
                70, 73, 75, 77, 79, 80, 82, 83, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 95, 96,
                97, 97, 98, 98, 98, 99, 99, 99, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100,
                100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 101, 101, 101, 101, 102,
                102,
            ];
            assert_eq!(got, want);
            assert_eq!(Bictcp::load(tp).bic_k, 4316);
        });
    }
    // ANCHOR_END: cubic_trajectory_test

    #[test]
    fn reno_friendly_region_wins_at_small_windows() {
        // A loss at 20: ssthresh 14, K = 2523 (2.46 s). With a 40 ms RTT
        // the cubic curve is still below 20 after 30 rounds (1.2 s), but
        // the Reno estimate grows one segment per 20·15/8 ≈ 2 windows'
        // worth... i.e. ~0.5 a round (3(1−β)/(1+β), RFC 9438 §4.3), and
        // CUBIC follows it: 14 → 29.
        with_cubic(20, 20, |net, tp| {
            sample(tp, net, 9_000_000, 40_000);
            assert_eq!(TCP_CUBIC.ssthresh(tp), 14);
            tp.snd_ssthresh = 14;
            tp.snd_cwnd = 14;
            let got = run_rounds(tp, 10_000_000, 40_000, 30);
            #[rustfmt::skip]
            let want = [
                14, 15, 15, 15, 16, 16, 17, 17, 17, 18, 18, 19, 20, 20, 21, 21, 21, 22, 23, 23,
                24, 24, 25, 25, 26, 26, 27, 28, 28, 28, 29,
            ];
            assert_eq!(got, want);
            let ca = Bictcp::load(tp);
            assert_eq!((ca.bic_k, ca.tcp_cwnd), (2523, 29));
            assert!(ca.cnt >= 100 * 20, "the cubic target is below cwnd: {}", ca.cnt);
        });
    }

    #[test]
    fn short_rtt_waits_for_linuxs_hz_32_recompute() {
        // Linux's early return in bictcp_update() — nothing but ack_cnt
        // while cwnd is unchanged and less than HZ/32 (31 jiffies) has
        // passed — holds a 1 ms-RTT flow at 15 for 33 rounds; then the
        // recompute finds the Reno estimate (fed all along by ack_cnt)
        // 16 segments ahead, cnt drops to its floor of 2, and the window
        // grows by half a segment per ACK: 23, 35, where the cubic target
        // (W_max 20) and the Reno estimate are both left behind.
        with_cubic(20, 20, |net, tp| {
            sample(tp, net, 9_000_000, 1000);
            assert_eq!(TCP_CUBIC.ssthresh(tp), 14);
            tp.snd_ssthresh = 14;
            tp.snd_cwnd = 14;
            let got = run_rounds(tp, 10_000_000, 1000, 40);
            let mut want = vec![14];
            want.extend([15; 33]);
            want.extend([23, 35, 35, 35, 35, 35, 35]);
            assert_eq!(got, want);
        });
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_losses_come_earlier() {
        with_cubic(80, 80, |_, tp| {
            let mut ca = Bictcp::load(tp);
            ca.last_max_cwnd = 100;
            ca.epoch_start = 12345;
            ca.store(tp);
            // 80 < W_max 100: W_max = 80·(1024+717)/2048 = 68; ssthresh 80·717/1024 = 56.
            assert_eq!(TCP_CUBIC.ssthresh(tp), 56);
            let ca = Bictcp::load(tp);
            assert_eq!((ca.last_max_cwnd, ca.epoch_start), (68, 0));
            // A loss above the old W_max records the window itself.
            tp.snd_cwnd = 90;
            assert_eq!(TCP_CUBIC.ssthresh(tp), 63);
            assert_eq!(Bictcp::load(tp).last_max_cwnd, 90);
            // Never below two segments.
            tp.snd_cwnd = 2;
            assert_eq!(TCP_CUBIC.ssthresh(tp), 2);
        });
    }

    #[test]
    fn hystart_ack_train_ends_slow_start() {
        with_cubic(16, TCP_INFINITE_SSTHRESH, |net, tp| {
            tp.snd_una = 1;
            tp.snd_nxt = 16_001;
            TCP_CUBIC.init(tp); // end_seq = 16001
            // The round ends: snd_una passes end_seq at 20 ms; a new round
            // starts there. RTT 10 ms, so the train must last > 5 ms.
            tp.snd_una = 16_002;
            tp.snd_nxt = 48_001;
            sample(tp, net, 10_020_000, 10_000);
            let ca = Bictcp::load(tp);
            assert_eq!((ca.round_start, ca.delay_min, ca.end_seq), (10_020_000, 10_000, 48_001));
            for ms in 1..=5 {
                sample(tp, net, 10_020_000 + ms * 1000, 10_000);
                assert_eq!(tp.snd_ssthresh, TCP_INFINITE_SSTHRESH, "{ms} ms into the train");
            }
            sample(tp, net, 10_026_000, 10_000); // 6 ms > 5 ms
            assert_eq!(tp.snd_ssthresh, 16, "found: ssthresh = cwnd");
            assert_eq!(Bictcp::load(tp).found, 1);
            assert_eq!(net.mib.get(LinuxMib::TCPHystartTrainDetect), 1);
            assert_eq!(net.mib.get(LinuxMib::TCPHystartTrainCwnd), 16);
            assert_eq!(net.mib.get(LinuxMib::TCPHystartDelayDetect), 0);
        });
    }

    #[test]
    fn hystart_ack_train_threshold_has_linuxs_gso_cushion() {
        with_cubic(16, TCP_INFINITE_SSTHRESH, |net, tp| {
            // tcp_update_pacing_rate() in slow start: 1000-byte MSS, cwnd
            // 16, srtt 10 ms: 1000·80000·200·16/80000 = 3.2 MB/s. Four GSO
            // packets at that rate take 82 ms: the cushion is its 1 ms cap.
            tp.mss_cache = 1000;
            tp.snd_ssthresh = TCP_INFINITE_SSTHRESH;
            tp.rtt.srtt_us = 10_000 << 3;
            crate::tcp_input::tcp_update_pacing_rate(tp);
            assert_eq!(tp.sk_pacing_rate, 3_200_000);
            assert_eq!(hystart_ack_delay(tp), 1000);
            // At 300 MB/s: 65536·4/300 = 873 µs.
            tp.sk_pacing_rate = 300_000_000;
            assert_eq!(hystart_ack_delay(tp), 873);
            tp.sk_pacing_rate = 3_200_000;

            tp.snd_nxt = 16_001;
            TCP_CUBIC.init(tp);
            tp.snd_una = 16_002;
            tp.snd_nxt = 48_001;
            sample(tp, net, 10_020_000, 10_000); // the round starts here
            // Threshold (10 ms + 1 ms) / 2 = 5.5 ms: 5.3 ms is not past it.
            for us in [1000, 2000, 3000, 4000, 5000, 5300] {
                sample(tp, net, 10_020_000 + us, 10_000);
            }
            assert_eq!(tp.snd_ssthresh, TCP_INFINITE_SSTHRESH);
            sample(tp, net, 10_025_600, 10_000);
            assert_eq!(tp.snd_ssthresh, 16);
            assert_eq!(net.mib.get(LinuxMib::TCPHystartTrainDetect), 1);
        });
    }

    #[test]
    fn hystart_delay_increase_ends_slow_start() {
        with_cubic(20, TCP_INFINITE_SSTHRESH, |net, tp| {
            tp.snd_nxt = 20_001;
            TCP_CUBIC.init(tp);
            // ACKs 3 ms apart: never a train. Round 1: eight 10 ms samples.
            let mut t = 10_100_000;
            for _ in 0..8 {
                sample(tp, net, t, 10_000);
                t += 3000;
            }
            // Round 2 (snd_una past end_seq): RTT 14 ms is not more than
            // delay_min + max(10 ms / 8, 4 ms) = 14 ms ...
            tp.snd_una = 20_002;
            tp.snd_nxt = 60_001;
            for _ in 0..9 {
                sample(tp, net, t, 14_000);
                t += 3000;
            }
            assert_eq!(tp.snd_ssthresh, TCP_INFINITE_SSTHRESH);
            // ... 14.001 ms in round 3 is, once eight samples are in.
            tp.snd_una = 60_002;
            tp.snd_nxt = 90_001;
            for i in 0..9 {
                sample(tp, net, t, 14_001);
                t += 3000;
                let want = if i < 8 { TCP_INFINITE_SSTHRESH } else { 20 };
                assert_eq!(tp.snd_ssthresh, want, "sample {i} of round 3");
            }
            assert_eq!(net.mib.get(LinuxMib::TCPHystartDelayDetect), 1);
            assert_eq!(net.mib.get(LinuxMib::TCPHystartDelayCwnd), 20);
            assert_eq!(net.mib.get(LinuxMib::TCPHystartTrainDetect), 0);
        });
    }

    #[test]
    fn hystart_waits_for_the_low_window() {
        with_cubic(15, TCP_INFINITE_SSTHRESH, |net, tp| {
            for ms in 0..20 {
                sample(tp, net, 10_000_000 + ms * 1000, if ms < 10 { 10_000 } else { 40_000 });
            }
            assert_eq!(tp.snd_ssthresh, TCP_INFINITE_SSTHRESH);
            assert_eq!(Bictcp::load(tp).found, 0);
        });
    }

    #[test]
    fn tx_start_after_idle_shifts_the_epoch() {
        with_cubic(50, 40, |_, tp| {
            let mut ca = Bictcp::load(tp);
            ca.epoch_start = 9_000; // jiffies
            ca.store(tp);
            tp.lsndtime = 9_500;
            tp.tcp_mstamp = 10_000_000; // now = 10000 jiffies: idle 500
            TCP_CUBIC.cwnd_event(tp, CaEvent::TxStart);
            assert_eq!(Bictcp::load(tp).epoch_start, 9_500);
            // Never past now.
            let mut ca = Bictcp::load(tp);
            ca.epoch_start = 9_900;
            ca.store(tp);
            tp.lsndtime = 9_000;
            TCP_CUBIC.cwnd_event(tp, CaEvent::TxStart);
            assert_eq!(Bictcp::load(tp).epoch_start, 10_000);
            // No epoch, nothing to shift.
            let mut ca = Bictcp::load(tp);
            ca.epoch_start = 0;
            ca.store(tp);
            TCP_CUBIC.cwnd_event(tp, CaEvent::TxStart);
            assert_eq!(Bictcp::load(tp).epoch_start, 0);
        });
    }

    #[test]
    fn loss_state_forgets_w_max_and_undo_is_renos() {
        with_cubic(60, 40, |_, tp| {
            assert_eq!(TCP_CUBIC.ssthresh(tp), 42);
            assert_eq!(Bictcp::load(tp).last_max_cwnd, 60);
            tp.snd_nxt = 777;
            TCP_CUBIC.set_state(tp, TCP_CA_LOSS);
            let ca = Bictcp::load(tp);
            assert_eq!((ca.last_max_cwnd, ca.end_seq, ca.curr_rtt), (0, 777, !0));
            // tcp_reno_undo_cwnd(): max(cwnd, prior_cwnd).
            tp.snd_cwnd = 42;
            tp.prior_cwnd = 60;
            assert_eq!(TCP_CUBIC.undo_cwnd(tp), 60);
            tp.prior_cwnd = 30;
            assert_eq!(TCP_CUBIC.undo_cwnd(tp), 42);
        });
    }

    #[test]
    fn state_round_trips_through_icsk_ca_priv() {
        with_cubic(10, 10, |_, tp| {
            let ca = Bictcp {
                cnt: 1,
                last_max_cwnd: 2,
                last_cwnd: 3,
                last_time: 4,
                bic_origin_point: 5,
                bic_k: 6,
                delay_min: 7,
                epoch_start: 8,
                ack_cnt: 9,
                tcp_cwnd: 10,
                sample_cnt: 11,
                found: 1,
                round_start: u32::MAX,
                end_seq: 13,
                last_ack: 14,
                curr_rtt: 15,
            };
            ca.store(tp);
            assert_eq!(Bictcp::load(tp), ca);
        });
    }
}
