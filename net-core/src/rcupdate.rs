//! Read-mostly pointers that readers follow with one plain load: Linux's
//! `__rcu` pointers, for tables written only at registration.
//!
//! Linux reads `inet_protos[]`, `dev->header_ops` and `net_generic()`
//! under `rcu_read_lock()`: a reader does `rcu_dereference()` (a load with
//! a dependency barrier, free on x86) and uses the pointee without a lock
//! or a reference count, and a writer (`rcu_assign_pointer()`, `cmpxchg`)
//! frees what it replaced only after `synchronize_rcu()` has waited for
//! every reader. With a `spin::RwLock` and an `Arc` clone the same read is
//! four atomic read-modify-writes (about 6 ns each on these machines), and
//! a packet makes several such reads.
//!
//! [`RcuSlots`] keeps the reader's side exact: [`RcuSlots::rcu_dereference`]
//! is one `Acquire` load. The difference is the grace period. There is no
//! `synchronize_rcu()` here; instead a replaced value is never freed
//! before the table itself: every value ever published stays owned by the
//! table, so a reference a reader got from `&self` is valid as long as
//! `&self` is. That is Linux's own arrangement for what these tables hold,
//! the `static` `struct net_protocol tcp_protocol` and `eth_header_ops`,
//! which no grace period ever frees either.
//!
//! Where we differ: the cost of that choice is memory, one `Arc` per value
//! ever published. So use it only where values are published a bounded
//! number of times (a protocol, a layer's per-namespace state); a table
//! that churns (neighbours, sockets, routes) keeps its lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A fixed number of RCU-style pointers to `T`, each empty or pointing at
/// a value the table owns (see the module doc).
pub struct RcuSlots<T> {
    /// The published pointers: null, or `Arc::as_ptr()` of a value in
    /// `owned`.
    slots: Box<[AtomicPtr<T>]>,
    /// Every value ever published, current or replaced; writers serialise
    /// on this lock (Linux's writers hold their own mutex, e.g. RTNL).
    owned: spin::Mutex<Vec<Arc<T>>>,
}

impl<T> RcuSlots<T> {
    /// `n` empty slots.
    pub fn new(n: usize) -> Self {
        RcuSlots {
            slots: (0..n).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect(),
            owned: spin::Mutex::new(Vec::new()),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when there are no slots at all.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    // ANCHOR: rcu_dereference
    /// What slot `i` points at (`rcu_dereference()`): one `Acquire` load,
    /// no lock, no reference count. `None` for an empty slot or an `i`
    /// past the end.
    #[inline]
    pub fn rcu_dereference(&self, i: usize) -> Option<&T> {
        let p = self.slots.get(i)?.load(Ordering::Acquire);
        // SAFETY: a non-null slot holds `Arc::as_ptr()` of an `Arc` that
        // `publish()` (behind every writer: `rcu_assign_pointer()`,
        // `rcu_cmpxchg()`, `rcu_update()`) pushed into `self.owned` before
        // storing the pointer (the `Release` store orders the value's
        // initialisation before this `Acquire` load), and nothing removes
        // from `owned` while `self` lives. So the pointee outlives the
        // returned borrow of `self`, and it is only ever shared (`T` is
        // reached through `&`), as an `Arc`'s contents are.
        (!p.is_null()).then(|| unsafe { &*p })
    }
    // ANCHOR_END: rcu_dereference

    /// Slot `i` as an owned `Arc`, for a caller that keeps the value
    /// beyond the borrow (Linux: `rcu_dereference()` then a refcount).
    pub fn get_arc(&self, i: usize) -> Option<Arc<T>> {
        let p = self.slots.get(i)?.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        let owned = self.owned.lock();
        owned.iter().find(|a| std::ptr::eq(Arc::as_ptr(a), p)).cloned()
    }

    /// Point slot `i` at `value` (or empty it) if it now points at
    /// `old` (`cmpxchg()` on the RCU pointer, as `inet_add_protocol()` and
    /// `inet_del_protocol()` use it). Returns whether it did; an `i` past
    /// the end never matches. The replaced value stays owned by the table.
    pub fn rcu_cmpxchg(&self, i: usize, old: Option<&Arc<T>>, value: Option<Arc<T>>) -> bool {
        let Some(slot) = self.slots.get(i) else { return false };
        let mut owned = self.owned.lock();
        let want = old.map_or(std::ptr::null(), Arc::as_ptr);
        if !std::ptr::eq(slot.load(Ordering::Relaxed), want) {
            return false;
        }
        Self::publish(&mut owned, slot, value);
        true
    }

    /// Point slot `i` at `value` whatever it held (`rcu_assign_pointer()`).
    /// Panics if `i` is past the end: callers index with constants.
    pub fn rcu_assign_pointer(&self, i: usize, value: Option<Arc<T>>) {
        let mut owned = self.owned.lock();
        Self::publish(&mut owned, &self.slots[i], value);
    }

    /// Replace what slot `i` points at with `f` of it (read-copy-update:
    /// `f` reads the current value and builds the next; the writer lock is
    /// held throughout, so two updates never lose one another's change).
    /// Panics if `i` is past the end.
    pub fn rcu_update(&self, i: usize, f: impl FnOnce(Option<&T>) -> T) {
        let mut owned = self.owned.lock();
        let next = Arc::new(f(self.rcu_dereference(i)));
        Self::publish(&mut owned, &self.slots[i], Some(next));
    }

    /// Keep `value` (once) and store its pointer, with the writer lock held.
    fn publish(owned: &mut Vec<Arc<T>>, slot: &AtomicPtr<T>, value: Option<Arc<T>>) {
        let p = match value {
            None => std::ptr::null_mut(),
            Some(v) => {
                let p = Arc::as_ptr(&v).cast_mut();
                if !owned.iter().any(|a| Arc::ptr_eq(a, &v)) {
                    owned.push(v);
                }
                p
            }
        };
        slot.store(p, Ordering::Release);
    }

    /// Values published so far (current and replaced): what this table
    /// costs in memory beyond its slots.
    pub fn published(&self) -> usize {
        self.owned.lock().len()
    }
}

impl<T> std::fmt::Debug for RcuSlots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.slots.iter().filter(|s| !s.load(Ordering::Relaxed).is_null()).count();
        f.debug_struct("RcuSlots").field("slots", &self.slots.len()).field("used", &used).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_keeps_a_replaced_value_until_the_table_goes() {
        let t: RcuSlots<String> = RcuSlots::new(4);
        assert!(t.rcu_dereference(1).is_none());
        assert!(t.rcu_dereference(4).is_none(), "past the end is empty, not a panic");
        let a = Arc::new("first".to_string());
        assert!(t.rcu_cmpxchg(1, None, Some(a.clone())));
        let seen = t.rcu_dereference(1).expect("published");
        // Replace and empty the slot while `seen` is held: the old value
        // must stay readable (the grace period is the table's lifetime).
        assert!(!t.rcu_cmpxchg(1, None, Some(Arc::new("taken".into()))), "slot not empty");
        assert!(t.rcu_cmpxchg(1, Some(&a), Some(Arc::new("second".into()))));
        drop(a);
        assert_eq!(seen, "first");
        assert_eq!(t.rcu_dereference(1).map(String::as_str), Some("second"));
        t.rcu_assign_pointer(1, None);
        assert!(t.rcu_dereference(1).is_none());
        assert_eq!(seen, "first");
        assert_eq!(t.published(), 2);
    }

    #[test]
    fn publishing_the_same_value_again_keeps_one_copy() {
        let t: RcuSlots<u32> = RcuSlots::new(2);
        let v = Arc::new(7);
        for _ in 0..100 {
            t.rcu_assign_pointer(0, Some(v.clone()));
            t.rcu_assign_pointer(0, None);
        }
        t.rcu_assign_pointer(1, Some(v.clone()));
        assert_eq!(t.published(), 1);
        let arc = t.get_arc(1).expect("slot 1");
        assert!(Arc::ptr_eq(&arc, &v));
        assert!(t.get_arc(0).is_none());
    }

    #[test]
    fn updates_build_on_each_other() {
        let t = Arc::new(RcuSlots::<Vec<u32>>::new(1));
        let writers: Vec<_> = (0..2u32)
            .map(|w| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for k in 0..20 {
                        t.rcu_update(0, |v| {
                            let mut v = v.cloned().unwrap_or_default();
                            v.push(w * 100 + k);
                            v
                        });
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        let v = t.rcu_dereference(0).expect("updated");
        assert_eq!(v.len(), 40, "no update lost: {v:?}");
        assert_eq!(t.published(), 40);
    }

    #[test]
    fn readers_on_other_threads_see_whole_values() {
        let t = Arc::new(RcuSlots::<[u64; 8]>::new(1));
        t.rcu_assign_pointer(0, Some(Arc::new([0; 8])));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let v = t.rcu_dereference(0).expect("never emptied");
                        assert!(v.iter().all(|&x| x == v[0]), "a value is seen whole");
                    }
                })
            })
            .collect();
        for i in 1..50u64 {
            t.rcu_assign_pointer(0, Some(Arc::new([i; 8])));
        }
        for r in readers {
            r.join().expect("reader");
        }
        assert_eq!(t.published(), 50);
    }
}
