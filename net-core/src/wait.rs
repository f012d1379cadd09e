//! Wait queues: where a blocking socket call sleeps until the receive path
//! or a timer wakes it.
//!
//! Mirrors include/linux/wait.h and kernel/sched/wait.c of **Linux 6.18**
//! (`wait_queue_head_t`, `wake_up_interruptible_all()`,
//! `wait_event_interruptible_timeout()`) as `sk_sleep(sk)` uses them: a
//! socket call checks its condition under the socket lock, drops the lock,
//! and sleeps on the socket's queue; the softirq side changes the socket
//! and calls `sk->sk_data_ready()` / `sk_state_change()` /
//! `sk_write_space()`, which wake the queue.
//!
//! # Where we differ
//!
//! - A sleeper is a thread parked on a `std::sync::Condvar`; waking is a
//!   generation counter bump plus `notify_all` (Linux wakes exclusive
//!   waiters one by one; we always wake all, like `wake_up_all`).
//! - Timeouts are measured on the namespace's [`Clock`]: on a virtual clock
//!   the sleeper re-checks every millisecond of *real* time, so a test
//!   thread driving a simulation in virtual time can time a blocked call
//!   out. A blocking call on a virtual clock with no other thread driving
//!   the host would never return: the socket layer refuses to sleep there
//!   (see net-tcp's `sk_wait_event`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::jiffies::Clock;

/// A wait queue head (`wait_queue_head_t`).
#[derive(Debug, Default)]
pub struct WaitQueue {
    generation: Mutex<u64>,
    cv: Condvar,
    /// Threads inside [`WaitQueue::wait_event_timeout`] (Linux:
    /// `wq_has_sleeper()`), so a wake-up with nobody waiting costs one
    /// atomic load instead of a mutex and a futex call. A `u32` packs
    /// beside the condvar's futex word: every socket embeds a wait queue,
    /// and 8 bytes more would take `Arc<TcpSock>` past glibc's largest
    /// tcache size (1,032 bytes), making each socket allocation slower.
    sleepers: AtomicU32,
}

/// How a [`WaitQueue::wait_event_timeout`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitResult {
    /// The condition became true.
    Ready,
    /// The timeout passed first.
    TimedOut,
}

impl WaitQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wake every sleeper (`wake_up_interruptible_all()`), if there is one
    /// (`skwq_has_sleeper()`). The caller changed what sleepers wait for
    /// before calling; a sleeper registers before checking its condition,
    /// so either it sees the change or we see it.
    pub fn wake_up(&self) {
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *g = g.wrapping_add(1);
        drop(g);
        self.cv.notify_all();
    }

    /// How many times the queue has been woken: a waiter samples it before
    /// checking its condition so a wake-up between check and sleep is not
    /// lost (Linux: `prepare_to_wait()` before the check).
    pub fn wakeups(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleep until `cond()` is true or `timeout_ns` (on `clock`) has passed;
    /// `None` waits forever (`wait_event_interruptible_timeout()` with
    /// `MAX_SCHEDULE_TIMEOUT`). `cond` is called without any lock of ours
    /// held; it takes the socket lock itself.
    pub fn wait_event_timeout(
        &self,
        clock: &Clock,
        timeout_ns: Option<u64>,
        mut cond: impl FnMut() -> bool,
    ) -> WaitResult {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let r = self.wait_registered(clock, timeout_ns, &mut cond);
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        r
    }

    fn wait_registered(
        &self,
        clock: &Clock,
        timeout_ns: Option<u64>,
        cond: &mut impl FnMut() -> bool,
    ) -> WaitResult {
        let deadline = timeout_ns.map(|t| clock.now_ns().saturating_add(t));
        loop {
            let seen = self.wakeups();
            if cond() {
                return WaitResult::Ready;
            }
            let now = clock.now_ns();
            if deadline.is_some_and(|d| now >= d) {
                return WaitResult::TimedOut;
            }
            // On a system clock sleep until the deadline; on a virtual one
            // re-check each real millisecond, since virtual time only moves
            // when another thread moves it.
            let slice = match (deadline, clock.is_virtual()) {
                (_, true) => Duration::from_millis(1),
                (Some(d), false) => Duration::from_nanos((d - now).min(100_000_000)),
                (None, false) => Duration::from_millis(100),
            };
            let g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
            if *g == seen {
                let _ = self.cv.wait_timeout(g, slice);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn wake_up_releases_a_sleeper() {
        let wq = Arc::new(WaitQueue::new());
        let flag = Arc::new(AtomicBool::new(false));
        let clock = Clock::new_system();
        let (w2, f2) = (wq.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f2.store(true, Ordering::SeqCst);
            w2.wake_up();
        });
        let r = wq.wait_event_timeout(&clock, Some(5_000_000_000), || flag.load(Ordering::SeqCst));
        assert_eq!(r, WaitResult::Ready);
        t.join().unwrap();
    }

    #[test]
    fn virtual_timeout_follows_the_virtual_clock() {
        let wq = Arc::new(WaitQueue::new());
        let clock = Clock::new_virtual();
        let c2 = clock.clone();
        let t = std::thread::spawn(move || {
            for _ in 0..100 {
                c2.advance_ns(10_000_000);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let r = wq.wait_event_timeout(&clock, Some(200_000_000), || false);
        assert_eq!(r, WaitResult::TimedOut);
        assert!(clock.now_ns() >= 200_000_000);
        t.join().unwrap();
    }
}
