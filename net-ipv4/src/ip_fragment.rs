//! IPv4 reassembly: fragment queues, their timer, their memory bound.
//!
//! Mirrors net/ipv4/ip_fragment.c (`ip_defrag()`, `ip_frag_queue()`,
//! `ip_frag_reasm()`, `ip_expire()`, `ip_frag_too_far()`) and the generic
//! half in net/ipv4/inet_fragment.c (`inet_frag_find()`,
//! `inet_frag_queue_insert()`, `inet_frag_kill()`), Linux 6.18.
//!
//! Heads up: read RFC 791 §3.2 (reassembly), RFC 815 (the hole list Linux
//! no longer uses), RFC 1122 §3.3.2 (reassembly timeout, ICMP time
//! exceeded code 1), and RFC 5722 with its erratum 3089 (overlapping
//! fragments discard the whole datagram; Linux applies it to IPv4 too
//! since 4.19).
//!
//! # How a queue works
//!
//! A queue (`struct ipq`) collects the fragments of one datagram, keyed by
//! (saddr, daddr, id, protocol). Fragments are kept in *runs*: a run is a
//! sequence of fragments that arrived in order, each starting where the
//! previous ended (Linux's `FRAG_CB(skb)->frag_run_len`, head of each run
//! in an rbtree). A fragment that falls entirely inside an existing run is
//! a duplicate: dropped, queue kept. One that partly overlaps anything
//! kills the queue (`ReasmOverlaps`, `ReasmFails`). When the first and
//! last fragments are in and the bytes held (`meat`) equal the datagram
//! length (`len`), the datagram is rebuilt.
//!
//! Memory: every queued fragment charges its `truesize`, every queue its
//! own size, to the namespace (`fqdir->mem`). Above `ipfrag_high_thresh`
//! every fragment is refused (`inet_frag_find()` returns NULL), so a flood
//! of incomplete datagrams is bounded; their timers (`ipfrag_time`, 30 s)
//! then free the memory. `ipfrag_low_thresh` is only a sysctl bound in
//! Linux since 4.17 (the LRU evictor is gone); so here.
//!
//! Where we differ: runs are a sorted `Vec` per queue, not an rbtree; the
//! datagram is rebuilt by copying into a fresh skb (Linux chains the
//! fragments on `frag_list`); the key has no `user`/`vif` (one user,
//! `IP_DEFRAG_LOCAL_DELIVER`); inet_peer entries live only as long
//! as a queue from that source exists.

use crate::Ipv4;
use crate::ip::{
    INET_ECN_MASK, IP_DF, IP_MF, IP_OFFSET, IPCB, IPCB_mut, IPSKB_FRAG_COMPLETE, IPSKB_FRAG_PMTU,
    InetSkbParm, IpHdr,
};
use crate::sysctl_net_ipv4::Ipv4Sysctls;
use net_core::dropreason::SkbDropReason;
use net_core::jiffies::secs_to_jiffies;
use net_core::net_namespace::TimerFunc;
use net_core::skbuff::alloc_skb;
use net_core::snmp::{IpExtMib, IpstatsMib};
use net_core::timer::TimerId;
use net_core::{Net, SkBuff, Skb};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

/// `ICMP_TIME_EXCEEDED`.
const ICMP_TIME_EXCEEDED: u8 = 11;
/// `ICMP_EXC_FRAGTIME`: fragment reassembly time exceeded.
const ICMP_EXC_FRAGTIME: u8 = 1;

/// Default of `net.ipv4.ipfrag_high_thresh` (4 MiB).
pub const IPFRAG_HIGH_THRESH: usize = 4 * 1024 * 1024;
/// Default of `net.ipv4.ipfrag_low_thresh` (3 MiB).
pub const IPFRAG_LOW_THRESH: usize = 3 * 1024 * 1024;
/// Default of `net.ipv4.ipfrag_time`, seconds (`IP_FRAG_TIME` = 30 * HZ).
pub const IPFRAG_TIME_SECS: u64 = 30;
/// Default of `net.ipv4.ipfrag_max_dist`.
pub const IPFRAG_MAX_DIST: u32 = 64;

/// What one queue charges besides its fragments (`fqdir->f->qsize`,
/// `sizeof(struct ipq)`).
pub const IPQ_SIZE: usize = 256;

/// The reassembly knobs (`struct fqdir`'s `high_thresh`, `low_thresh`,
/// `timeout`, `max_dist`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragParams {
    /// `ipfrag_high_thresh`, bytes; 0 disables reassembly.
    pub high_thresh: usize,
    /// `ipfrag_low_thresh`, bytes (kept for `sysctl`; unused, as in Linux).
    pub low_thresh: usize,
    /// `ipfrag_time`, in jiffies.
    pub timeout: u64,
    /// `ipfrag_max_dist`; 0 disables the check.
    pub max_dist: u32,
}

impl FragParams {
    /// Linux's defaults.
    pub const DEFAULT: FragParams = FragParams {
        high_thresh: IPFRAG_HIGH_THRESH,
        low_thresh: IPFRAG_LOW_THRESH,
        timeout: secs_to_jiffies(IPFRAG_TIME_SECS),
        max_dist: IPFRAG_MAX_DIST,
    };

    /// The namespace's current `net.ipv4.ipfrag_*` sysctls
    /// (`ipfrag_time` is in seconds, as `/proc` shows it).
    pub fn from_sysctl(sysctl: &Ipv4Sysctls) -> FragParams {
        FragParams {
            high_thresh: sysctl.ipfrag_high_thresh.get().max(0) as usize,
            low_thresh: sysctl.ipfrag_low_thresh.get().max(0) as usize,
            timeout: secs_to_jiffies(sysctl.ipfrag_time.get().max(0) as u64),
            max_dist: sysctl.ipfrag_max_dist.get().clamp(0, i64::from(u32::MAX)) as u32,
        }
    }
}

impl Default for FragParams {
    fn default() -> Self {
        FragParams::DEFAULT
    }
}

/// A queue's identity (`struct frag_v4_compare_key` without `user`/`vif`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub saddr: Ipv4Addr,
    /// Destination address.
    pub daddr: Ipv4Addr,
    /// `id`.
    pub id: u16,
    /// `protocol`.
    pub protocol: u8,
}

/// `INET_FRAG_FIRST_IN`: the fragment at offset 0 is in.
const INET_FRAG_FIRST_IN: u8 = 1 << 0;
/// `INET_FRAG_LAST_IN`: the final fragment (MF clear) is in.
const INET_FRAG_LAST_IN: u8 = 1 << 1;

/// Fragments that arrived in order, back to back.
struct FragRun {
    /// Byte offset of the first fragment (`ip_defrag_offset`).
    offset: usize,
    /// One past the last byte (`offset + frag_run_len`).
    end: usize,
    /// The fragments, data at their payload.
    frags: Vec<Skb>,
}

/// One datagram being reassembled (`struct ipq` + `inet_frag_queue`).
struct Ipq {
    /// `INET_FRAG_*`.
    flags: u8,
    /// Datagram payload length as far as known (`q.len`).
    len: usize,
    /// Payload bytes held (`q.meat`).
    meat: usize,
    /// Runs, sorted by offset, disjoint (`rb_fragments`).
    runs: Vec<FragRun>,
    /// Device of the latest fragment (`iif`).
    iif: u32,
    /// Largest fragment seen, header included (`q.max_size`).
    max_size: usize,
    /// Largest DF fragment seen (`max_df_size`).
    max_df_size: usize,
    /// Memory charged for the fragments.
    truesize: usize,
    /// The peer's fragment counter when we last heard (`rid`).
    rid: u32,
    /// The expiry timer (`q.timer`).
    timer: TimerId,
    /// Timestamp of the latest fragment (`q.stamp`).
    stamp: u64,
    /// `IPFRAG_ECN_*` bits of every fragment seen (`ecn`).
    ecn: u8,
}

/// `struct inet_peer`'s fragment counter, while queues from it exist.
struct Peer {
    rid: u32,
    queues: u32,
}

/// Queues and peers, under one lock.
#[derive(Default)]
struct FragsInner {
    queues: HashMap<FragKey, Ipq>,
    peers: HashMap<Ipv4Addr, Peer>,
}

/// Called at expiry with the first fragment (network header marked) when
/// it had arrived; the default routes it and sends ICMP time exceeded.
pub type ExpireHook = dyn Fn(&Net, &SkBuff) + Send + Sync;

struct FragsShared {
    /// The queues. A spin lock: held only to look up, insert or unlink
    /// fragments, never across a transmit or an ICMP send. Lock order:
    /// after the neighbour table, before the net's timer wheel.
    inner: spin::Mutex<FragsInner>,
    /// Bytes charged (`fqdir->mem`).
    mem: AtomicUsize,
    /// Replaces the ICMP step of `ip_expire()`, for tests.
    hook: Option<Box<ExpireHook>>,
}

/// Reassembly queues of one namespace (`net->ipv4.fqdir`).
#[doc(alias = "fqdir")]
pub struct IpFrags {
    shared: Arc<FragsShared>,
}

impl std::fmt::Debug for IpFrags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpFrags").field("mem", &self.mem()).field("queues", &self.queues()).finish()
    }
}

/// What happened to a fragment handed to [`IpFrags::ip_frag_queue`].
enum Queued {
    /// Held; the datagram is incomplete (`-EINPROGRESS`).
    InProgress,
    /// The datagram, rebuilt.
    Done(Skb),
    /// Dropped (already counted).
    Dropped,
}

impl IpFrags {
    /// No queues.
    pub fn new() -> Self {
        IpFrags {
            shared: Arc::new(FragsShared {
                inner: spin::Mutex::default(),
                mem: AtomicUsize::new(0),
                hook: None,
            }),
        }
    }

    /// No queues; at expiry `hook` is called with the first fragment
    /// instead of routing it and sending ICMP (for tests).
    pub fn with_expire_hook(hook: Box<ExpireHook>) -> Self {
        IpFrags {
            shared: Arc::new(FragsShared {
                inner: spin::Mutex::default(),
                mem: AtomicUsize::new(0),
                hook: Some(hook),
            }),
        }
    }

    /// Bytes charged to reassembly (`frag_mem_limit()`).
    #[doc(alias = "frag_mem_limit")]
    pub fn mem(&self) -> usize {
        self.shared.mem.load(Ordering::Relaxed)
    }

    /// Queues alive.
    pub fn queues(&self) -> usize {
        self.shared.inner.lock().queues.len()
    }

    /// Feed one fragment: data and network header at its IPv4 header, which
    /// `ip_rcv_core()` validated. Returns the whole datagram (data at its
    /// IPv4 header, `frag_off` cleared) when this fragment completed it.
    ///
    /// Mirrors `ip_defrag()` (net/ipv4/ip_fragment.c): counts `ReasmReqds`;
    /// when the namespace is over `high_thresh` the fragment is dropped and
    /// counted `ReasmFails` (`inet_frag_find()` refuses); otherwise the
    /// queue is found or created and the fragment queued (`ip_frag_queue()`).
    #[doc(alias = "inet_frag_find")]
    pub fn defrag(&self, net: &Net, params: &FragParams, skb: Skb) -> Option<Skb> {
        net.mib.inc(IpstatsMib::ReasmReqds);
        let key = match IpHdr::new_checked(skb.network_header()) {
            Some(h) => FragKey { saddr: h.saddr(), daddr: h.daddr(), id: h.id(), protocol: h.protocol() },
            None => {
                net.mib.inc(IpstatsMib::ReasmFails);
                net.kfree_skb_reason(skb, SkbDropReason::IpInhdr);
                return None;
            }
        };
        let mut inner = self.shared.inner.lock();
        let mem = self.mem();
        if params.high_thresh == 0 || mem > params.high_thresh {
            drop(inner);
            net.mib.inc(IpstatsMib::ReasmFails);
            net.kfree_skb_reason(skb, SkbDropReason::Nomem);
            return None;
        }
        if !inner.queues.contains_key(&key) {
            self.inet_frag_create(net, params, &mut inner, key);
        }
        let (res, freed) = self.ip_frag_queue(net, params, &mut inner, key, skb);
        drop(inner);
        // Free outside the lock what the queue let go of.
        for (s, reason) in freed {
            match reason {
                Some(r) => net.kfree_skb_reason(s, r),
                None => net.consume_skb(s),
            }
        }
        match res {
            Queued::Done(d) => Some(d),
            Queued::InProgress | Queued::Dropped => None,
        }
    }

    /// `inet_frag_alloc()` + `ip4_frag_init()` + `inet_frag_create()`: a
    /// new queue, its timer armed for `timeout`.
    fn inet_frag_create(&self, net: &Net, params: &FragParams, inner: &mut FragsInner, key: FragKey) {
        let weak: Weak<FragsShared> = Arc::downgrade(&self.shared);
        let timer = net.timer_setup(TimerFunc::closure(move |net| {
            if let Some(s) = weak.upgrade() {
                ip_expire(&s, net, key);
            }
        }));
        net.mod_timer(timer, net.jiffies() + params.timeout);
        let peer = inner.peers.entry(key.saddr).or_insert(Peer { rid: 0, queues: 0 });
        peer.queues += 1;
        let rid = peer.rid;
        inner.queues.insert(
            key,
            Ipq {
                flags: 0,
                len: 0,
                meat: 0,
                runs: Vec::new(),
                iif: 0,
                max_size: 0,
                max_df_size: 0,
                truesize: 0,
                rid,
                timer,
                stamp: 0,
                ecn: 0,
            },
        );
        self.shared.mem.fetch_add(IPQ_SIZE, Ordering::Relaxed);
    }

    // ANCHOR: ip_frag_queue
    /// Add a fragment to its queue, reassembling when it completes the
    /// datagram.
    ///
    /// Mirrors `ip_frag_queue()` (net/ipv4/ip_fragment.c): the
    /// `ipfrag_max_dist` check restarts a queue that fell too far behind
    /// its peer (`ReasmFails`, `FRAG_TOO_FAR`); a final fragment ending
    /// before data already held, or a second final fragment with another
    /// end, or data beyond a known end, or an empty fragment, kills the
    /// queue (`ReasmFails`); a fragment partly overlapping another kills
    /// it too (`ReasmOverlaps`, `ReasmFails`); a duplicate is dropped
    /// (`DUP_FRAG`). Returns what became of the fragment and the skbs to
    /// free once the lock is released.
    fn ip_frag_queue(
        &self,
        net: &Net,
        params: &FragParams,
        inner: &mut FragsInner,
        key: FragKey,
        mut skb: Skb,
    ) -> (Queued, Vec<(Skb, Option<SkbDropReason>)>) {
        let mut freed = Vec::new();
        // ip_frag_too_far(): count this fragment against the peer.
        if params.max_dist != 0 && IPCB(&skb).flags & IPSKB_FRAG_COMPLETE == 0 {
            let end = match inner.peers.get_mut(&key.saddr) {
                Some(p) => {
                    p.rid = p.rid.wrapping_add(1);
                    p.rid
                }
                None => 0,
            };
            if let Some(q) = inner.queues.get_mut(&key) {
                let start = q.rid;
                q.rid = end;
                if !q.runs.is_empty() && end.wrapping_sub(start) > params.max_dist {
                    net.mib.inc(IpstatsMib::ReasmFails);
                    // ip_frag_reinit(): forget everything, re-arm the timer.
                    let dropped = self.purge_runs(q);
                    freed.extend(dropped.into_iter().map(|s| (s, Some(SkbDropReason::FragTooFar))));
                    q.flags = 0;
                    q.len = 0;
                    q.meat = 0;
                    q.max_size = 0;
                    q.max_df_size = 0;
                    net.mod_timer(q.timer, net.jiffies() + params.timeout);
                }
            }
        }

        let Some(h) = IpHdr::new_checked(skb.network_header()) else {
            net.mib.inc(IpstatsMib::ReasmFails);
            freed.push((skb, Some(SkbDropReason::IpInhdr)));
            return (Queued::Dropped, freed);
        };
        let frag_off = h.frag_off();
        let ecn = ip4_frag_ecn(h.tos());
        let df = frag_off & IP_DF != 0;
        let ihl = h.hdrlen();
        let offset = usize::from(frag_off & IP_OFFSET) << 3;
        let nhoff = usize::try_from(skb.network_offset()).unwrap_or(0);
        let Some(plen) = skb.len().checked_sub(nhoff + ihl) else {
            net.mib.inc(IpstatsMib::ReasmFails);
            freed.push((skb, Some(SkbDropReason::PktTooSmall)));
            return (Queued::Dropped, freed);
        };
        let mut end = offset + plen;

        let Some(q) = inner.queues.get_mut(&key) else {
            // The caller created it under this lock; be safe anyway.
            net.mib.inc(IpstatsMib::ReasmFails);
            freed.push((skb, Some(SkbDropReason::NotSpecified)));
            return (Queued::Dropped, freed);
        };
        let mut discard = false;
        if frag_off & IP_MF == 0 {
            // The final fragment: nothing may lie beyond it, and there is
            // only one end.
            if end < q.len || (q.flags & INET_FRAG_LAST_IN != 0 && end != q.len) {
                discard = true;
            } else {
                q.flags |= INET_FRAG_LAST_IN;
                q.len = end;
            }
        } else {
            // Not the last: its length must be a multiple of 8.
            end &= !7;
            if end > q.len {
                if q.flags & INET_FRAG_LAST_IN != 0 {
                    discard = true; // bits beyond the end: corruption
                } else {
                    q.len = end;
                }
            }
        }
        if !discard && end == offset {
            discard = true; // an empty fragment
        }
        if discard {
            net.mib.inc(IpstatsMib::ReasmFails);
            freed.push((skb, Some(SkbDropReason::NotSpecified)));
            freed.extend(self.inet_frag_kill(net, inner, key, None));
            return (Queued::Dropped, freed);
        }
        // Keep only the payload (pskb_pull + pskb_trim_rcsum).
        let _ = skb.pull(nhoff + ihl);
        skb.trim(end - offset);

        match inet_frag_queue_insert(&mut q.runs, offset, end) {
            Insert::Dup => {
                freed.push((skb, Some(SkbDropReason::DupFrag)));
                return (Queued::Dropped, freed);
            }
            Insert::Overlap => {
                net.mib.inc(IpExtMib::ReasmOverlaps);
                net.mib.inc(IpstatsMib::ReasmFails);
                freed.push((skb, Some(SkbDropReason::NotSpecified)));
                freed.extend(self.inet_frag_kill(net, inner, key, None));
                return (Queued::Dropped, freed);
            }
            Insert::At(pos, append) => {
                if skb.dev != 0 {
                    q.iif = skb.dev;
                }
                q.stamp = skb.tstamp;
                q.ecn |= ecn;
                q.meat += skb.len();
                let ts = skb.truesize as usize;
                q.truesize += ts;
                self.shared.mem.fetch_add(ts, Ordering::Relaxed);
                if offset == 0 {
                    q.flags |= INET_FRAG_FIRST_IN;
                }
                let fragsize = skb.len() + ihl;
                q.max_size = q.max_size.max(fragsize);
                if df {
                    q.max_df_size = q.max_df_size.max(fragsize);
                }
                if append {
                    let run = &mut q.runs[pos];
                    run.end = end;
                    run.frags.push(skb);
                } else {
                    q.runs.insert(pos, FragRun { offset, end, frags: vec![skb] });
                }
            }
        }

        if q.flags == (INET_FRAG_FIRST_IN | INET_FRAG_LAST_IN) && q.meat == q.len {
            let res = ip_frag_reasm(q);
            freed.extend(self.inet_frag_kill(net, inner, key, None));
            return match res {
                Some(d) => {
                    net.mib.inc(IpstatsMib::ReasmOKs);
                    (Queued::Done(d), freed)
                }
                None => {
                    net.mib.inc(IpstatsMib::ReasmFails);
                    (Queued::Dropped, freed)
                }
            };
        }
        (Queued::InProgress, freed)
    }
    // ANCHOR_END: ip_frag_queue

    /// Take every fragment out of `q`, uncharging its memory.
    fn purge_runs(&self, q: &mut Ipq) -> Vec<Skb> {
        self.shared.mem.fetch_sub(q.truesize, Ordering::Relaxed);
        q.truesize = 0;
        q.runs.drain(..).flat_map(|r| r.frags).collect()
    }

    /// Unlink a queue, stop its timer and release its memory
    /// (`inet_frag_kill()` + `inet_frag_destroy()`). Returns its fragments
    /// with the reason to free them by: timeouts are drops
    /// (`FRAG_REASM_TIMEOUT`), everything else is consumed, as in Linux.
    fn inet_frag_kill(
        &self,
        net: &Net,
        inner: &mut FragsInner,
        key: FragKey,
        reason: Option<SkbDropReason>,
    ) -> Vec<(Skb, Option<SkbDropReason>)> {
        let Some(mut q) = inner.queues.remove(&key) else {
            return Vec::new();
        };
        net.timer_shutdown(q.timer);
        self.shared.mem.fetch_sub(IPQ_SIZE, Ordering::Relaxed);
        if let Some(p) = inner.peers.get_mut(&key.saddr) {
            p.queues -= 1;
            if p.queues == 0 {
                inner.peers.remove(&key.saddr);
            }
        }
        self.purge_runs(&mut q).into_iter().map(|s| (s, reason)).collect()
    }
}

impl Default for IpFrags {
    fn default() -> Self {
        Self::new()
    }
}

/// Where [`inet_frag_queue_insert`] put a fragment.
enum Insert {
    /// Entirely inside a run already held (`IPFRAG_DUP`).
    Dup,
    /// Partly over something held (`IPFRAG_OVERLAP`).
    Overlap,
    /// At run index `.0`; `.1`: appended to that run (which is the last).
    At(usize, bool),
}

/// Decide where `[offset, end)` goes among `runs`.
///
/// Mirrors `inet_frag_queue_insert()` (net/ipv4/inet_fragment.c): the
/// common case appends after the last run (extending it when contiguous);
/// otherwise a search finds the gap, reporting a duplicate when the
/// fragment lies inside one run and an overlap when it straddles anything.
fn inet_frag_queue_insert(runs: &mut [FragRun], offset: usize, end: usize) -> Insert {
    let Some(last) = runs.last() else {
        return Insert::At(0, false);
    };
    if last.end < end {
        if offset < last.end {
            return Insert::Overlap;
        }
        if offset == last.end {
            return Insert::At(runs.len() - 1, true);
        }
        return Insert::At(runs.len(), false);
    }
    // First run whose end lies beyond our offset.
    let pos = runs.partition_point(|r| r.end <= offset);
    match runs.get(pos) {
        Some(r) if end <= r.offset => Insert::At(pos, false),
        Some(r) if offset >= r.offset && end <= r.end => Insert::Dup,
        Some(_) => Insert::Overlap,
        None => Insert::At(pos, false),
    }
}

/// `IPFRAG_ECN_NOT_ECT` … `IPFRAG_ECN_CE`: one bit per ECN codepoint
/// seen (`ip4_frag_ecn()`, include/net/inet_ecn.h).
fn ip4_frag_ecn(tos: u8) -> u8 {
    1 << (tos & INET_ECN_MASK)
}

const IPFRAG_ECN_NOT_ECT: u8 = 1 << 0;
const IPFRAG_ECN_ECT_1: u8 = 1 << 1;
const IPFRAG_ECN_ECT_0: u8 = 1 << 2;
const IPFRAG_ECN_CE: u8 = 1 << 3;

/// What the fragments' ECN codepoints make of the datagram's
/// (`ip_frag_ecn_table`, net/ipv4/inet_fragment.c, RFC 3168 §5.3): `None`
/// for an invalid mix (not-ECT with anything else: drop), CE when one
/// fragment saw CE and the others were ECT, else nothing to add.
fn ip_frag_ecn_table(ecn: u8) -> Option<u8> {
    if ecn & IPFRAG_ECN_NOT_ECT != 0 && ecn != IPFRAG_ECN_NOT_ECT {
        return None;
    }
    if ecn & IPFRAG_ECN_CE != 0 && ecn & (IPFRAG_ECN_ECT_0 | IPFRAG_ECN_ECT_1) != 0 {
        return Some(INET_ECN_MASK); // INET_ECN_CE
    }
    Some(0)
}

/// Rebuild the datagram from a complete queue.
///
/// Mirrors `ip_frag_reasm()` (net/ipv4/ip_fragment.c): the first
/// fragment's header with `tot_len` set and `frag_off` cleared (DF kept
/// when every fragment was DF-sized, `IPSKB_FRAG_PMTU`), a fresh checksum,
/// `IPCB->frag_max_size` set, CE set when the fragments' ECN says so. A
/// datagram over 65535 bytes ("Oversized IP packet") or with an invalid
/// ECN mix is refused (`None`).
fn ip_frag_reasm(q: &mut Ipq) -> Option<Skb> {
    let ecn = ip_frag_ecn_table(q.ecn)?;
    let head = q.runs.first()?.frags.first()?;
    let hdr = IpHdr::new_checked(head.network_header())?;
    let ihl = hdr.hdrlen();
    let total = ihl + q.len;
    if total > 0xffff {
        return None;
    }
    let mut skb = alloc_skb(crate::MAX_HEADER + total);
    skb.reserve(crate::MAX_HEADER);
    skb.put_data(hdr.header());
    for run in &q.runs {
        for f in &run.frags {
            skb.put_data(f.data());
        }
    }
    skb.dev = head.dev;
    skb.skb_iif = head.skb_iif;
    skb.protocol = head.protocol;
    skb.pkt_type = head.pkt_type;
    skb.mark = head.mark;
    skb.tstamp = q.stamp;
    let mut cb: InetSkbParm = *IPCB(head);
    skb.reset_network_header();
    skb.set_transport_header(ihl as isize);
    let frag_off = if q.max_df_size == q.max_size {
        cb.flags |= IPSKB_FRAG_PMTU;
        IP_DF
    } else {
        0
    };
    cb.frag_max_size = q.max_df_size.max(q.max_size).min(0xffff) as u16;
    cb.iif = if q.iif != 0 { q.iif } else { cb.iif };
    *IPCB_mut(&mut skb) = cb;
    let mut h = IpHdr::new_checked(skb.data_mut())?;
    h.set_tot_len(total as u16);
    h.set_frag_off(frag_off);
    let tos = h.tos() | ecn;
    h.set_tos(tos);
    h.fill_checksum();
    Some(skb)
}

/// The queue's timer fired.
///
/// Mirrors `ip_expire()` (net/ipv4/ip_fragment.c): the queue dies,
/// `ReasmFails` and `ReasmTimeout` rise, and if its first fragment had
/// arrived and the datagram was for this host, ICMP time exceeded
/// (fragment reassembly time exceeded) goes back to the sender — RFC 792
/// asks only the end host to send it. Fragments are freed as
/// `FRAG_REASM_TIMEOUT` drops.
fn ip_expire(s: &Arc<FragsShared>, net: &Net, key: FragKey) {
    let frags = IpFrags { shared: s.clone() };
    let (first_in, iif, mut freed) = {
        let mut inner = s.inner.lock();
        let Some(q) = inner.queues.get(&key) else {
            return;
        };
        let first_in = q.flags & INET_FRAG_FIRST_IN != 0;
        let iif = q.iif;
        let freed = frags.inet_frag_kill(net, &mut inner, key, Some(SkbDropReason::FragReasmTimeout));
        (first_in, iif, freed)
    };
    net.mib.inc(IpstatsMib::ReasmFails);
    net.mib.inc(IpstatsMib::ReasmTimeout);
    if first_in && !freed.is_empty() {
        // The head is the first fragment of the first run.
        let (mut head, _) = freed.remove(0);
        head.dev = iif;
        match &s.hook {
            Some(hook) => hook(net, &head),
            None => ip_expire_icmp(net, &head),
        }
        net.kfree_skb_reason(head, SkbDropReason::FragReasmTimeout);
    }
    for (skb, reason) in freed {
        net.kfree_skb_reason(skb, reason.unwrap_or(SkbDropReason::FragReasmTimeout));
    }
}

/// The ICMP half of `ip_expire()`: route the head again and answer only if
/// it was for us (`frag_expire_skip_icmp()` for `IP_DEFRAG_LOCAL_DELIVER`).
fn ip_expire_icmp(net: &Net, head: &SkBuff) {
    let Some(ipv4) = net.net_generic::<Ipv4>() else {
        return;
    };
    let Some(h) = IpHdr::new_checked(head.network_header()) else {
        return;
    };
    let (saddr, daddr) = (h.saddr(), h.daddr());
    if net.dev_get_by_index(head.dev).is_none() {
        return;
    }
    match crate::route::ip_route_input(net, ipv4, head, daddr, saddr, head.dev) {
        Ok(rt) if rt.rt_type == crate::fib::RtnType::Local => {
            crate::icmp::icmp_send(net, ipv4, head, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0);
        }
        _ => {}
    }
}

/// Reassemble: hand `skb` (a fragment, data at its IPv4 header) to the
/// namespace's queues with its current sysctls. `Some` is the whole
/// datagram when this fragment completed it.
///
/// Mirrors `ip_defrag(net, skb, IP_DEFRAG_LOCAL_DELIVER)`; see
/// [`IpFrags::defrag`] for what is counted and dropped; the queueing
/// itself mirrors `ip_frag_queue()`.
pub fn ip_defrag(net: &Net, ipv4: &Ipv4, skb: Skb) -> Option<Skb> {
    net_core::ftrace_graph!("ip_defrag");
    ipv4.frags.defrag(net, &FragParams::from_sysctl(&ipv4.sysctl), skb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::{IPPROTO_UDP, IpHdrBuilder};
    use net_core::Clock;
    use net_core::skbuff::skb_from_frame;
    use proptest::prelude::*;
    use std::sync::Mutex;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const HDR: IpHdrBuilder =
        IpHdrBuilder { id: 0x1234, protocol: IPPROTO_UDP, saddr: SRC, daddr: DST, ..IpHdrBuilder::TEMPLATE };

    fn net() -> Arc<Net> {
        Net::new("frag", Clock::new_virtual(), 1)
    }

    /// A fragment: `payload` at byte `offset` of datagram `id`, MF as given.
    fn frag(id: u16, offset: usize, payload: &[u8], mf: bool) -> Skb {
        let fo = (offset / 8) as u16 | if mf { IP_MF } else { 0 };
        let d = IpHdrBuilder { id, frag_off: fo, ..HDR }.datagram(payload);
        let mut skb = skb_from_frame(1, &d);
        skb.reset_network_header();
        skb
    }

    /// Split `data` into fragments of `size` bytes (a multiple of 8).
    fn split(id: u16, data: &[u8], size: usize) -> Vec<Skb> {
        let n = data.len().div_ceil(size);
        (0..n)
            .map(|i| {
                let s = i * size;
                let e = (s + size).min(data.len());
                frag(id, s, &data[s..e], e < data.len())
            })
            .collect()
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn in_order_reassembles() {
        let net = net();
        let f = IpFrags::new();
        let data = payload(4000);
        let mut out = None;
        for s in split(7, &data, 1480) {
            assert!(out.is_none());
            out = f.defrag(&net, &FragParams::DEFAULT, s);
        }
        let d = out.expect("reassembled");
        let h = IpHdr::new_checked(d.data()).unwrap();
        assert_eq!(usize::from(h.tot_len()), 20 + data.len());
        assert!(!h.is_fragment());
        assert!(h.verify_checksum());
        assert_eq!(h.payload(), &data[..]);
        assert_eq!(IPCB(&d).frag_max_size, 1500);
        assert_eq!(net.mib.get(IpstatsMib::ReasmReqds), 3);
        assert_eq!(net.mib.get(IpstatsMib::ReasmOKs), 1);
        assert_eq!(f.mem(), 0);
        assert_eq!(f.queues(), 0);
        assert_eq!(net.timers_pending(), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
        /// 64 KiB cut for MTU 1500, delivered in random order with
        /// duplicates, comes back byte for byte.
        #[test]
        fn random_order_with_duplicates(seed in any::<u64>(), dups in proptest::collection::vec(0usize..45, 0..20)) {
            let net = net();
            let f = IpFrags::new();
            let data = payload(65515);
            let mut frags = split(9, &data, 1480);
            let n = frags.len();
            for &d in &dups {
                let c = frags[d % n].skb_copy();
                frags.push(c);
            }
            // Fisher-Yates with a tiny LCG.
            let mut x = seed | 1;
            for i in (1..frags.len()).rev() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                frags.swap(i, (x >> 33) as usize % (i + 1));
            }
            let mut got = Vec::new();
            for s in frags {
                if let Some(d) = f.defrag(&net, &FragParams::DEFAULT, s) {
                    got.push(d);
                }
            }
            prop_assert_eq!(got.len(), 1);
            let h = IpHdr::new_checked(got[0].data()).unwrap();
            prop_assert_eq!(h.payload(), &data[..]);
            prop_assert!(h.verify_checksum());
            prop_assert_eq!(net.mib.get(IpstatsMib::ReasmOKs), 1);
            prop_assert_eq!(net.mib.get(IpstatsMib::ReasmFails), 0);
            // Duplicates arriving after completion start a new queue (as in
            // Linux), which its timer will free.
            prop_assert_eq!(f.mem() == 0, f.queues() == 0);
        }
    }

    #[test]
    fn overlap_kills_the_queue() {
        let net = net();
        let f = IpFrags::new();
        assert!(f.defrag(&net, &FragParams::DEFAULT, frag(1, 0, &[1; 16], true)).is_none());
        assert!(f.defrag(&net, &FragParams::DEFAULT, frag(1, 32, &[2; 16], true)).is_none());
        // 8..24 straddles the first run's end: overlap.
        assert!(f.defrag(&net, &FragParams::DEFAULT, frag(1, 8, &[3; 16], true)).is_none());
        assert_eq!(net.mib.get(IpExtMib::ReasmOverlaps), 1);
        assert_eq!(net.mib.get(IpstatsMib::ReasmFails), 1);
        assert_eq!(f.queues(), 0);
        assert_eq!(f.mem(), 0);
        // The rest of that datagram starts a new queue that cannot complete.
        assert!(f.defrag(&net, &FragParams::DEFAULT, frag(1, 16, &[4; 8], false)).is_none());
        assert_eq!(f.queues(), 1);
    }

    #[test]
    fn duplicate_inside_a_run_is_dropped_queue_kept() {
        let net = net();
        let f = IpFrags::new();
        let p = FragParams::DEFAULT;
        assert!(f.defrag(&net, &p, frag(2, 0, &[1; 16], true)).is_none());
        assert!(f.defrag(&net, &p, frag(2, 16, &[2; 16], true)).is_none());
        assert!(f.defrag(&net, &p, frag(2, 8, &[9; 8], true)).is_none()); // inside run [0,32)
        assert_eq!(net.drops.get(SkbDropReason::DupFrag), 1);
        let d = f.defrag(&net, &p, frag(2, 32, &[3; 4], false)).expect("complete");
        let h = IpHdr::new_checked(d.data()).unwrap();
        assert_eq!(&h.payload()[..16], &[1; 16]);
        assert_eq!(&h.payload()[16..32], &[2; 16]);
        assert_eq!(&h.payload()[32..], &[3; 4]);
    }

    #[test]
    fn bad_ends_and_empty_fragments_kill_the_queue() {
        let net = net();
        let f = IpFrags::new();
        let p = FragParams::DEFAULT;
        // Empty fragment.
        assert!(f.defrag(&net, &p, frag(3, 0, &[1; 16], true)).is_none());
        assert!(f.defrag(&net, &p, frag(3, 16, &[], true)).is_none());
        assert_eq!(f.queues(), 0);
        assert_eq!(net.mib.get(IpstatsMib::ReasmFails), 1);
        // Two different ends.
        assert!(f.defrag(&net, &p, frag(4, 16, &[1; 8], false)).is_none());
        assert!(f.defrag(&net, &p, frag(4, 32, &[1; 8], false)).is_none());
        assert_eq!(f.queues(), 0);
        assert_eq!(net.mib.get(IpstatsMib::ReasmFails), 2);
        // Over 64 KiB: the last fragment at offset 65528 with 100 bytes.
        assert!(f.defrag(&net, &p, frag(5, 65528, &[1; 100], false)).is_none());
        let big = payload(65528);
        let mut out = None;
        for s in split(5, &big, 1480) {
            // re-mark all as MF: they are the first part of a bigger datagram
            let h = IpHdr::new_checked(s.data()).unwrap();
            let off = h.frag_offset_bytes();
            let pl = h.payload().to_vec();
            out = out.or(f.defrag(&net, &p, frag(5, off, &pl, true)));
        }
        assert!(out.is_none(), "a datagram over 65535 bytes is never delivered");
        assert_eq!(net.mib.get(IpstatsMib::ReasmFails), 3);
        assert_eq!(f.mem(), 0);
    }

    #[test]
    fn timeout_counts_and_reports_only_with_first_fragment() {
        let clock = Clock::new_virtual();
        let net = Net::new("t", clock.clone(), 1);
        let seen: Arc<Mutex<Vec<(Ipv4Addr, u16)>>> = Arc::default();
        let s2 = seen.clone();
        let f = IpFrags::with_expire_hook(Box::new(move |_net, head| {
            let h = IpHdr::new_checked(head.network_header()).unwrap();
            s2.lock().unwrap().push((h.saddr(), h.id()));
        }));
        let p = FragParams::DEFAULT;
        // Datagram 10: first fragment only. Datagram 11: a middle one only.
        assert!(f.defrag(&net, &p, frag(10, 0, &[1; 64], true)).is_none());
        assert!(f.defrag(&net, &p, frag(11, 64, &[1; 64], true)).is_none());
        assert!(f.mem() > 0);
        clock.set_ns(29_999_000_000);
        net.run_timers();
        assert_eq!(f.queues(), 2);
        clock.set_ns(30_000_000_000);
        net.run_timers();
        assert_eq!(f.queues(), 0);
        assert_eq!(f.mem(), 0);
        assert_eq!(net.mib.get(IpstatsMib::ReasmTimeout), 2);
        assert_eq!(net.mib.get(IpstatsMib::ReasmFails), 2);
        assert_eq!(*seen.lock().unwrap(), vec![(SRC, 10)]);
        assert_eq!(net.drops.get(SkbDropReason::FragReasmTimeout), 2);
    }

    #[test]
    fn flood_is_bounded_by_high_thresh() {
        let clock = Clock::new_virtual();
        let net = Net::new("flood", clock.clone(), 1);
        let f = IpFrags::new();
        let p = FragParams { high_thresh: 256 * 1024, ..FragParams::DEFAULT };
        let mut max_truesize = 0;
        for id in 0..5000u16 {
            let s = frag(id, 0, &[0; 1000], true);
            max_truesize = max_truesize.max(s.truesize as usize);
            assert!(f.defrag(&net, &p, s).is_none());
            assert!(
                f.mem() <= p.high_thresh + max_truesize + IPQ_SIZE,
                "mem {} grew past the bound",
                f.mem()
            );
        }
        assert!(net.mib.get(IpstatsMib::ReasmFails) > 4000);
        // Timers free it all.
        clock.set_ns(31_000_000_000);
        net.run_timers();
        assert_eq!(f.mem(), 0);
        // Then reassembly works again.
        assert!(f.defrag(&net, &p, frag(1, 0, &[0; 8], true)).is_none());
        assert!(f.defrag(&net, &p, frag(1, 8, &[0; 8], false)).is_some());
    }

    #[test]
    fn ecn_of_fragments_combines_as_rfc_3168_says() {
        let net = net();
        let f = IpFrags::new();
        let p = FragParams::DEFAULT;
        let with_tos = |id: u16, off: usize, mf: bool, tos: u8| {
            let fo = (off / 8) as u16 | if mf { IP_MF } else { 0 };
            let d = IpHdrBuilder { id, tos, frag_off: fo, ..HDR }.datagram(&[0; 8]);
            let mut s = skb_from_frame(1, &d);
            s.reset_network_header();
            s
        };
        // ECT(0) then CE: the datagram is CE.
        assert!(f.defrag(&net, &p, with_tos(30, 0, true, 2)).is_none());
        let d = f.defrag(&net, &p, with_tos(30, 8, false, 3)).expect("complete");
        assert_eq!(IpHdr::new_checked(d.data()).unwrap().tos() & 3, 3);
        // Not-ECT mixed with ECT(0): dropped.
        assert!(f.defrag(&net, &p, with_tos(31, 0, true, 0)).is_none());
        assert!(f.defrag(&net, &p, with_tos(31, 8, false, 2)).is_none());
        assert_eq!(net.mib.get(IpstatsMib::ReasmFails), 1);
        assert_eq!(f.queues(), 0);
    }

    #[test]
    fn too_far_restarts_the_queue() {
        let net = net();
        let f = IpFrags::new();
        let p = FragParams { max_dist: 4, ..FragParams::DEFAULT };
        assert!(f.defrag(&net, &p, frag(20, 0, &[1; 8], true)).is_none());
        // Five fragments of other datagrams from the same peer.
        for id in 21..26 {
            assert!(f.defrag(&net, &p, frag(id, 0, &[1; 8], true)).is_none());
        }
        // Queue 20 fell too far behind: its first fragment is forgotten.
        assert!(f.defrag(&net, &p, frag(20, 8, &[2; 8], false)).is_none());
        assert_eq!(net.drops.get(SkbDropReason::FragTooFar), 1);
        assert!(f.defrag(&net, &p, frag(20, 0, &[1; 8], true)).is_some());
    }
}
