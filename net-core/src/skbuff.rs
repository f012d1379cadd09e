//! The socket buffer: one packet, with room to grow headers in front of it.
//!
//! Mirrors `struct sk_buff` (include/linux/skbuff.h) and its helpers in
//! net/core/skbuff.c, Linux 6.18. Read the big comment at the top of
//! skbuff.h and David Miller's "How SKBs work" before this file.
//!
//! # Geometry
//!
//! A buffer has four marks. Linux keeps them as pointers (`head`, `data`,
//! `tail`, `end`); we keep `data`, `tail` and `end` as offsets from `head`,
//! which is offset 0 of the buffer:
//!
//! ```text
//!  head          data                   tail           end
//!   |  headroom   |   packet (len bytes)  |   tailroom    |
//!   +-------------+-----------------------+---------------+
//!
//!  push(n): data -= n   (prepend a header; panics past head: skb_under_panic)
//!  pull(n): data += n   (strip a header; None if len < n)
//!  put(n):  tail += n   (append payload; panics past end: skb_over_panic)
//!  reserve(n): data += n, tail += n  (only on an empty buffer: make headroom)
//!  trim(n): tail = data + n
//! ```
//!
//! Senders `reserve` the worst-case header room (`MAX_TCP_HEADER` for TCP),
//! `put` the payload, and each layer on the way down `push`es its header.
//! Receivers `pull` each header off on the way up. The payload is never
//! copied between layers.
//!
//! # Ownership, clones and sharing
//!
//! [`Skb`] is the owning pointer, Linux's `struct sk_buff *`; it dereferences
//! to [`SkBuff`], the fields. Dropping an `Skb` is `consume_skb()`; a counted
//! drop is [`crate::Net::kfree_skb_reason`].
//!
//! `Skb::clone` is `skb_clone()`: a new head that shares the data buffer (an
//! `Arc`, standing for the `dataref` count in `skb_shared_info`). Linux
//! requires a writer to call `skb_cow_head()`/`skb_unshare()` before touching
//! shared bytes; in safe Rust a shared buffer cannot be written, so every
//! method that hands out `&mut [u8]` unshares on demand (copying once). The
//! explicit [`SkBuff::skb_cow_head`] and [`SkBuff::skb_unshare`] remain for
//! code that wants to pay that cost at a known place.
//!
//! One exception, as in Linux: the clone TCP transmits
//! ([`Skb::skb_clone_xmit`]) owns the header area in front of the payload
//! and writes its headers there in place, while the original on the
//! retransmit queue keeps out of it (`skb->nohdr`). The payload is shared,
//! never copied. Reads therefore build slices of exactly the bytes they
//! need, never of the whole buffer.
//!
//! # Memory
//!
//! Linux takes heads from the `skbuff_head_cache` slab and data from kmalloc.
//! We keep a per-thread pool of each: heads (`Box<SkBuff>`) and data buffers
//! in power-of-two size classes from 256 B to 128 KiB. A freed buffer returns
//! to the pool of the thread that frees it, so steady-state traffic does not
//! touch the global allocator. `truesize` charges the buffer plus the head,
//! as `SKB_TRUESIZE()` does.
//!
//! # What we leave out
//!
//! Paged fragments (`skb_shinfo(skb)->frags`) and the `users` refcount
//! (`skb_get`): every buffer here is linear, and Rust ownership replaces
//! `users`. A GSO packet on its way down, or a GRO packet on its way up,
//! carries its other segments on `frag_list`, each a linear skb of its
//! own. Where Linux's `skb->len` counts the frag list, ours does not:
//! [`SkBuff::len`] is the linear part (`skb_headlen()`), and
//! [`SkBuff::frag_list_len`] adds the rest where a layer needs the whole.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use intrusive_collections::{LinkedList, LinkedListLink, intrusive_adapter};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Headroom a driver reserves in front of a received frame (`NET_SKB_PAD`,
/// `max(32, L1_CACHE_BYTES)` = 64 on x86-64).
pub const NET_SKB_PAD: usize = 64;

/// Size of the control block, `sizeof(skb->cb)`.
pub const SKB_CB_SIZE: usize = 48;

/// Offset value meaning "header not set" (Linux: `(typeof(skb->mac_header))~0U`).
const UNSET: u32 = u32::MAX;

/// Where a received frame was addressed, set by `eth_type_trans()`.
///
/// Mirrors the `PACKET_*` values of `skb->pkt_type` (include/uapi/linux/if_packet.h).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum PktType {
    /// To us (`PACKET_HOST`).
    #[default]
    Host = 0,
    /// To all (`PACKET_BROADCAST`).
    Broadcast = 1,
    /// To a group (`PACKET_MULTICAST`).
    Multicast = 2,
    /// To someone else, seen in promiscuous mode (`PACKET_OTHERHOST`).
    OtherHost = 3,
    /// Sent by us, as a tap sees it (`PACKET_OUTGOING`).
    Outgoing = 4,
    /// Looped back (`PACKET_LOOPBACK`).
    Loopback = 5,
}

/// Who vouches for the checksum.
///
/// Mirrors `CHECKSUM_NONE` … `CHECKSUM_PARTIAL` (the checksum essay at the top
/// of include/linux/skbuff.h).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum IpSummed {
    /// Nobody checked; software must verify (`CHECKSUM_NONE`).
    #[default]
    None = 0,
    /// Verified already, e.g. on loopback (`CHECKSUM_UNNECESSARY`).
    Unnecessary = 1,
    /// `csum` holds the sum of the packet from `csum_start` (`CHECKSUM_COMPLETE`).
    Complete = 2,
    /// To be filled in by the device on output (`CHECKSUM_PARTIAL`).
    Partial = 3,
}

/// The 48-byte control block each layer overlays with its own struct.
///
/// Linux casts `skb->cb` to `struct inet_skb_parm` (`IPCB(skb)`) or
/// `struct tcp_skb_cb` (`TCP_SKB_CB(skb)`). We do the same cast safely through
/// zerocopy: any `#[repr(C)]` type that derives `FromBytes`, `IntoBytes`,
/// `KnownLayout` and `Immutable`, is at most 48 bytes and at most 8-aligned
/// can be viewed with [`SkBuff::cb`] and [`SkBuff::cb_mut`].
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct SkbCb([u8; SKB_CB_SIZE]);

// ANCHOR: sk_buff
/// The fields of one socket buffer (`struct sk_buff`).
///
/// Geometry fields are private (their invariants are the point); the metadata
/// that Linux code assigns directly (`skb->protocol = ...`) is public.
pub struct SkBuff {
    /// Links this skb on an [`SkBuffHead`]; Linux: `next`/`prev`.
    list: LinkedListLink,
    /// The data buffer, shared between clones; Linux: `head` plus the
    /// `dataref` in `skb_shared_info`. `None` only while the head sits in
    /// the free pool.
    buf: Option<Arc<[u8]>>,
    /// Start of packet data, offset from head.
    data: u32,
    /// End of packet data, offset from head.
    tail: u32,
    /// End of usable buffer, offset from head (`skb_end_offset()`).
    end: u32,
    /// Link-layer header, offset from head, or `UNSET`.
    mac_header: u32,
    /// Network header, offset from head, or `UNSET`.
    network_header: u32,
    /// Transport header, offset from head, or `UNSET`.
    transport_header: u32,

    /// EtherType of the payload in host byte order (Linux stores `__be16`).
    pub protocol: u16,
    /// ifindex of the device the packet arrived on or leaves by; 0 for none.
    /// Linux holds a `struct net_device *`; look it up with
    /// [`crate::Net::dev_get_by_index`].
    pub dev: u32,
    /// ifindex the packet originally arrived on (`skb_iif`).
    pub skb_iif: u32,
    /// Packet class set by `eth_type_trans()`.
    pub pkt_type: PktType,
    /// Checksum state.
    pub ip_summed: IpSummed,
    /// Partial checksum (`__wsum`) when `ip_summed` is `Complete`.
    pub csum: u32,
    /// With `Partial`: where checksumming starts, offset from head.
    pub csum_start: u16,
    /// With `Partial`: where the result goes, offset from `csum_start`.
    pub csum_offset: u16,
    /// Receive or send time in nanoseconds on the namespace's clock (`tstamp`).
    pub tstamp: u64,
    /// Flow hash (`skb->hash`), 0 when not computed.
    pub hash: u32,
    /// Firewall mark (`skb->mark`).
    pub mark: u32,
    /// Queueing priority (`skb->priority`).
    pub priority: u32,
    /// The socket an early demux found for this received packet
    /// (`skb->sk` with the `sock_edemux` destructor), for the transport's
    /// receive handler to take (`skb_steal_sock()`) instead of looking it
    /// up again. net-core cannot name a transport's socket type, so it is
    /// an `Any` the transport downcasts. Never copied by a clone and
    /// dropped when the head is freed or scrubbed (`skb_orphan()`), so a
    /// queued skb never keeps a socket alive. `None` on the transmit path:
    /// we do no socket memory accounting through skbs.
    pub sk: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// Memory charged for this skb: buffer plus head (`SKB_TRUESIZE`).
    pub truesize: u32,
    /// Payload bytes per segment of a packet GRO built from several
    /// (`skb_shinfo(skb)->gso_size`); 0 for a packet that is one segment.
    /// Linux keeps it in `skb_shared_info`, shared by clones; ours is per
    /// head and copied by clones, which comes to the same while only GRO
    /// sets it.
    pub gso_size: u16,
    /// How many segments GRO merged into this packet
    /// (`skb_shinfo(skb)->gso_segs`); 0 when `gso_size` is 0.
    pub gso_segs: u16,
    /// The merged segments all carried one IP ID (DF lets a sender keep
    /// it fixed), so the segments cut from this packet keep it too
    /// (`SKB_GSO_TCP_FIXEDID` in `skb_shinfo(skb)->gso_type`).
    pub gso_fixedid: bool,
    /// Further segments that travel with this one
    /// (`skb_shinfo(skb)->frag_list`): on the way down, TCP's burst, each
    /// with its own transport header (an `SKB_GSO_FRAGLIST` packet); on
    /// the way up, the payloads GRO merged behind the first frame, whose
    /// headers describe the whole (`gso_size` set). See `net_core::gso`
    /// and `net_core::gro`. Empty for every other skb; never copied by a
    /// clone.
    frag_list: SkBuffHead,
    /// The control block (`skb->cb`).
    cb: SkbCb,
    /// A clone may share the data (`skb->cloned`). Set on both heads by
    /// `skb_clone`, cleared once a writer has proved the buffer unique. While
    /// it is false no other `Arc` to the buffer exists, so writes need no
    /// atomic check. A `Cell` because `skb_clone` takes `&self`, as Linux's
    /// does; `SkBuff` is not `Sync` anyway (its list link is a `Cell`).
    cloned: Cell<bool>,
    /// Bytes `0 .. hdr_room` of the buffer are this head's own header area,
    /// writable while the rest of the buffer is shared: the clone that
    /// [`Skb::skb_clone_xmit`] returns. 0 for every other head. Linux
    /// gets the same effect from `skb_header_cloned()`, which splits
    /// `dataref` into all references and payload-only ones.
    hdr_room: Cell<u32>,
    /// This head gave bytes `0 .. nohdr` away to a clone and touches none
    /// of them while the buffer is shared (Linux's `skb->nohdr`, set by
    /// `__skb_header_release()`). 0 for a head that made no such promise.
    nohdr: u32,
}
// ANCHOR_END: sk_buff

intrusive_adapter!(
    /// Puts [`SkBuff`]s on an intrusive [`LinkedList`] through their `list` link.
    pub SkbAdapter = Box<SkBuff>: SkBuff { list => LinkedListLink }
);

// ---------------------------------------------------------------------------
// The pool: skbuff_head_cache and kmalloc, per thread.

/// Size classes for data buffers: 256 B << i.
const NCLASSES: usize = 10;
const MIN_CLASS_SHIFT: u32 = 8;
/// Largest pooled buffer (128 KiB); larger ones go straight to the allocator.
pub const SKB_MAX_POOLED: usize = 256 << (NCLASSES - 1);
/// Bytes each data-buffer class may keep cached per thread.
const POOL_BYTES_PER_CLASS: usize = 4 << 20;
/// Minimum buffers cached per class, whatever their size.
const POOL_MIN_PER_CLASS: usize = 16;
/// Heads cached per thread.
const POOL_HEADS: usize = 4096;

struct SkbPool {
    // Heads stay boxed: the intrusive list and `Skb` need a stable address,
    // and recycling the box is the whole point of the pool.
    #[allow(clippy::vec_box)]
    heads: Vec<Box<SkBuff>>,
    bufs: [Vec<Arc<[u8]>>; NCLASSES],
}

impl SkbPool {
    const fn new() -> Self {
        SkbPool { heads: Vec::new(), bufs: [const { Vec::new() }; NCLASSES] }
    }
}

thread_local! {
    static POOL: RefCell<SkbPool> = const { RefCell::new(SkbPool::new()) };
}

fn class_of(size: usize) -> Option<usize> {
    if size > SKB_MAX_POOLED {
        return None;
    }
    let cap = size.max(1 << MIN_CLASS_SHIFT).next_power_of_two();
    Some((cap.trailing_zeros() - MIN_CLASS_SHIFT) as usize)
}

fn class_cap(class: usize) -> usize {
    1 << (class as u32 + MIN_CLASS_SHIFT)
}

fn class_limit(class: usize) -> usize {
    (POOL_BYTES_PER_CLASS / class_cap(class)).max(POOL_MIN_PER_CLASS)
}

fn new_buf(cap: usize) -> Arc<[u8]> {
    std::iter::repeat_n(0u8, cap).collect()
}

/// A data buffer of at least `size` bytes, from the pool when possible.
fn buf_alloc(size: usize) -> Arc<[u8]> {
    match class_of(size) {
        Some(class) => POOL
            .try_with(|p| p.borrow_mut().bufs[class].pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| new_buf(class_cap(class))),
        None => new_buf(size),
    }
}

/// Return a buffer to the pool if we were its last user and it is pooled.
///
/// No `Weak` to a data buffer is ever made, so a strong count of one means
/// ours is the only reference: one plain load, where `Arc::get_mut()` would
/// take the weak count with a locked compare-exchange. A clone's drop on
/// another thread released its count; the acquire fence orders its last
/// reads before the pool's next writer (what `Arc`'s own drop does).
fn buf_free(buf: Arc<[u8]>) {
    if Arc::strong_count(&buf) != 1 {
        return; // a clone still uses it: just drop our reference
    }
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    let len = buf.len();
    let Some(class) = class_of(len) else { return };
    if class_cap(class) != len {
        return;
    }
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.bufs[class].len() < class_limit(class) {
            p.bufs[class].push(buf);
        }
    });
}

fn head_alloc() -> Box<SkBuff> {
    POOL.try_with(|p| p.borrow_mut().heads.pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| Box::new(SkBuff::empty_head()))
}

fn head_free(mut head: Box<SkBuff>) {
    debug_assert!(!head.list.is_linked());
    if head.has_frag_list() {
        head.frag_list.purge();
    }
    head.sk = None; // skb_release_head_state() → skb_orphan()
    if let Some(buf) = head.buf.take() {
        buf_free(buf);
    }
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.heads.len() < POOL_HEADS {
            p.heads.push(head);
        }
    });
}

/// How many heads and buffers this thread's pool holds (for tests and benches).
pub fn skb_pool_stats() -> (usize, usize) {
    POOL.try_with(|p| {
        let p = p.borrow();
        (p.heads.len(), p.bufs.iter().map(Vec::len).sum())
    })
    .unwrap_or((0, 0))
}

// ---------------------------------------------------------------------------
// The owning pointer.

/// An owned socket buffer: Linux's `struct sk_buff *`.
///
/// Dereferences to [`SkBuff`]. Dropping it frees the head and, when no clone
/// shares it, the data back to this thread's pool (`consume_skb()`).
pub struct Skb(ManuallyDrop<Box<SkBuff>>);

impl Skb {
    fn from_box(b: Box<SkBuff>) -> Skb {
        Skb(ManuallyDrop::new(b))
    }

    fn into_box(self) -> Box<SkBuff> {
        let mut me = ManuallyDrop::new(self);
        // SAFETY: `me` is never dropped (ManuallyDrop), so the inner box is
        // taken exactly once and `Skb::drop` never sees it.
        unsafe { ManuallyDrop::take(&mut me.0) }
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: drop runs once and `self.0` is not touched afterwards.
        let head = unsafe { ManuallyDrop::take(&mut self.0) };
        head_free(head);
    }
}

impl Deref for Skb {
    type Target = SkBuff;
    fn deref(&self) -> &SkBuff {
        &self.0
    }
}

impl DerefMut for Skb {
    fn deref_mut(&mut self) -> &mut SkBuff {
        &mut self.0
    }
}

impl Clone for Skb {
    // ANCHOR: skb_clone
    /// Mirrors `skb_clone()` (net/core/skbuff.c): a new head sharing the data.
    ///
    /// Metadata, header offsets and the control block are copied; the bytes
    /// are not. The first write through either copy unshares it. The frag
    /// list is not shared (Linux's clone shares it with `skb_shinfo()`):
    /// the clone has none, so a packet that may carry one is made linear
    /// before it is cloned ([`SkBuff::skb_linearize`]).
    #[doc(alias = "skb_clone")]
    fn clone(&self) -> Skb {
        let mut n = head_alloc();
        n.copy_header_from(self);
        n.buf = self.buf.clone();
        self.cloned.set(true);
        n.cloned.set(true);
        // A private header area cannot be shared: with two heads able to
        // read it, neither may write it in place any more.
        self.hdr_room.set(0);
        n.hdr_room.set(0); // a pooled head may remember an old one
        n.nohdr = self.nohdr;
        Skb::from_box(n)
    }
    // ANCHOR_END: skb_clone
}

impl Skb {
    // ANCHOR: skb_clone_xmit
    /// The clone a transmit path sends while this skb stays queued for
    /// retransmission, with the header area in front of `data` given to
    /// the clone: it pushes and writes its headers there in place, sharing
    /// the payload, and this skb promises not to touch that area while the
    /// clone lives (`nohdr`).
    ///
    /// Mirrors what `__tcp_transmit_skb()` does (net/ipv4/tcp_output.c):
    /// `skb_clone()` of an skb whose header was released
    /// (`__skb_header_release()`), or `pskb_copy()` when an earlier clone
    /// still holds the data (`skb_cloned()`), because two clones must not
    /// write the same header area. Our copy in that case is of the whole
    /// linear packet; Linux's `pskb_copy()` copies only the linear header
    /// part and shares the page fragments.
    pub fn skb_clone_xmit(&mut self) -> Skb {
        if self.shared() {
            let mut c = Skb::clone(self);
            c.make_unique(0);
            c.nohdr = 0;
            return c;
        }
        self.nohdr = self.data;
        let c = Skb::clone(self);
        c.hdr_room.set(self.data);
        let mut c = c;
        c.nohdr = 0;
        c
    }
    // ANCHOR_END: skb_clone_xmit
}

impl fmt::Debug for Skb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl fmt::Debug for SkBuff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkBuff")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .field("protocol", &format_args!("{:#06x}", self.protocol))
            .field("dev", &self.dev)
            .field("pkt_type", &self.pkt_type)
            .field("cloned", &self.cloned())
            .finish()
    }
}

// ANCHOR: alloc_skb
/// Allocate a buffer with `size` bytes of tailroom and no headroom.
///
/// Mirrors `alloc_skb()` (net/core/skbuff.c): `data == tail == head`, and, as
/// Linux rounds the request up to the slab object (`ksize()`), tailroom may
/// exceed `size` up to the size class. The control block and metadata are
/// zeroed; the data bytes are not (Linux does not clear them either).
#[doc(alias = "__alloc_skb")]
pub fn alloc_skb(size: usize) -> Skb {
    let mut head = head_alloc();
    let buf = buf_alloc(size);
    head.reset_header(buf.len());
    head.buf = Some(buf);
    Skb::from_box(head)
}
// ANCHOR_END: alloc_skb

/// Allocate a receive buffer for a driver: `len` bytes of room behind
/// `NET_SKB_PAD` of headroom.
///
/// Mirrors `netdev_alloc_skb()` / `__netdev_alloc_skb()` (net/core/skbuff.c).
pub fn netdev_alloc_skb(dev_ifindex: u32, len: usize) -> Skb {
    let mut skb = alloc_skb(len + NET_SKB_PAD);
    skb.reserve(NET_SKB_PAD);
    skb.dev = dev_ifindex;
    skb
}

/// Copy a frame from a driver's buffer into a fresh skb (the common
/// "copybreak" receive path of simple drivers).
pub fn skb_from_frame(dev_ifindex: u32, frame: &[u8]) -> Skb {
    let mut skb = netdev_alloc_skb(dev_ifindex, frame.len());
    skb.put_data(frame);
    skb
}

impl SkBuff {
    // ANCHOR: skb_scrub_packet
    /// Make a sent frame a received one, for the host on the other end of
    /// an in-memory link: the bytes stay where they are (no copy), every
    /// piece of the sender's metadata goes.
    ///
    /// Mirrors `skb_scrub_packet(skb, xnet = true)` (net/core/skbuff.c) as
    /// `__dev_forward_skb()` calls it for a veth crossing namespaces: the
    /// timestamp, mark, hash, priority and checksum state are cleared (we
    /// also clear the header offsets, the device, `protocol` and the control
    /// block, which `eth_type_trans()` and each layer set again on the way
    /// up). `data` stays at the Ethernet header, as a driver hands a frame
    /// up. A buffer still shared with the sender (a TCP segment whose
    /// original waits in the retransmit queue) stays shared: the receiver
    /// only reads it, and a receiver that writes unshares it first, as
    /// every `&mut` access here does.
    pub fn skb_scrub_packet(&mut self) {
        self.mac_header = UNSET;
        self.network_header = UNSET;
        self.transport_header = UNSET;
        self.protocol = 0;
        self.dev = 0;
        self.skb_iif = 0;
        self.pkt_type = PktType::Host;
        self.ip_summed = IpSummed::None;
        self.csum = 0;
        self.csum_start = 0;
        self.csum_offset = 0;
        self.tstamp = 0;
        self.hash = 0;
        self.mark = 0;
        self.priority = 0;
        self.gso_size = 0;
        self.gso_segs = 0;
        self.gso_fixedid = false;
        self.sk = None; // skb_orphan()
        self.cb = SkbCb([0; SKB_CB_SIZE]);
    }
    // ANCHOR_END: skb_scrub_packet

    fn empty_head() -> SkBuff {
        SkBuff {
            list: LinkedListLink::new(),
            buf: None,
            data: 0,
            tail: 0,
            end: 0,
            mac_header: UNSET,
            network_header: UNSET,
            transport_header: UNSET,
            protocol: 0,
            dev: 0,
            skb_iif: 0,
            pkt_type: PktType::Host,
            ip_summed: IpSummed::None,
            csum: 0,
            csum_start: 0,
            csum_offset: 0,
            tstamp: 0,
            hash: 0,
            mark: 0,
            priority: 0,
            sk: None,
            truesize: 0,
            gso_size: 0,
            gso_segs: 0,
            gso_fixedid: false,
            frag_list: SkBuffHead::new(),
            cb: SkbCb([0; SKB_CB_SIZE]),
            cloned: Cell::new(false),
            hdr_room: Cell::new(0),
            nohdr: 0,
        }
    }

    fn reset_header(&mut self, cap: usize) {
        let cap32 = u32::try_from(cap).expect("skb buffer larger than 4 GiB");
        *self = SkBuff {
            list: LinkedListLink::new(),
            buf: None,
            end: cap32,
            truesize: skb_truesize(cap),
            ..SkBuff::empty_head()
        };
    }

    /// The header part of `__copy_skb_header()`: everything but the data.
    fn copy_header_from(&mut self, o: &SkBuff) {
        self.data = o.data;
        self.tail = o.tail;
        self.end = o.end;
        self.mac_header = o.mac_header;
        self.network_header = o.network_header;
        self.transport_header = o.transport_header;
        self.protocol = o.protocol;
        self.dev = o.dev;
        self.skb_iif = o.skb_iif;
        self.pkt_type = o.pkt_type;
        self.ip_summed = o.ip_summed;
        self.csum = o.csum;
        self.csum_start = o.csum_start;
        self.csum_offset = o.csum_offset;
        self.tstamp = o.tstamp;
        self.hash = o.hash;
        self.mark = o.mark;
        self.priority = o.priority;
        self.truesize = o.truesize;
        self.gso_size = o.gso_size;
        self.gso_segs = o.gso_segs;
        self.gso_fixedid = o.gso_fixedid;
        self.cb = o.cb;
    }

    /// Capacity of the data buffer (`head .. end` and beyond).
    fn buf_len(&self) -> usize {
        // The length from the pointer's metadata: `b.len()` would make a
        // reference to the whole buffer, which must not exist while a clone
        // writes its header area (see `bytes()`).
        self.buf.as_ref().map_or(0, |b| Arc::as_ptr(b).len())
    }

    /// True when another head holds the data buffer right now.
    #[inline]
    fn shared(&self) -> bool {
        self.cloned.get() && self.buf.as_ref().is_some_and(|b| Arc::strong_count(b) > 1)
    }

    /// Bytes `a .. b` of the buffer, read-only.
    ///
    /// Never a slice of the whole buffer: while the buffer is shared, a
    /// clone may be writing its private header area
    /// ([`Skb::skb_clone_xmit`]), and a reference must not cover bytes
    /// another thread writes. So a head that gave its header area away
    /// (`nohdr`) may not read below it while the buffer is shared; that is
    /// a bug in the caller, and panics.
    ///
    /// Inlined, with the panics out of line: every `data()` comes here, and
    /// as a call it was about 4 % of a bulk transfer's instructions.
    #[inline]
    fn bytes(&self, a: usize, b: usize) -> &[u8] {
        let Some(buf) = &self.buf else {
            if a != 0 || b != 0 {
                bytes_panic(self, a, b);
            }
            return &[];
        };
        let len = Arc::as_ptr(buf).len();
        if a > b || b > len || (a < self.nohdr as usize && self.shared()) {
            bytes_panic(self, a, b);
        }
        let base = Arc::as_ptr(buf) as *const u8;
        // SAFETY: `a..b` lies inside the allocation (checked above). No
        // head writes these bytes while the returned reference lives: a
        // head writes a shared buffer only inside its private header area
        // `0 .. hdr_room`, which exists on at most one head per buffer
        // (`skb_clone_xmit` grants it only on a buffer no other head holds,
        // and `Skb::clone` revokes it); the only other head that can hold
        // that buffer is the one that granted it, whose `nohdr` covers the
        // same area and keeps it from reading there (asserted above), and
        // its clones, which inherit `nohdr`. An unshared buffer is written
        // only through `&mut self`, which this `&self` excludes.
        unsafe { std::slice::from_raw_parts(base.add(a), b - a) }
    }

    /// Bytes `a .. b`, writable in place when they lie in this head's
    /// private header area; otherwise through [`Self::buf_mut`], which
    /// unshares the buffer first.
    #[inline]
    fn range_mut(&mut self, a: usize, b: usize) -> &mut [u8] {
        if b <= self.hdr_room.get() as usize && a <= b && self.shared() {
            let buf = self.buf.as_ref().expect("a header area implies a buffer");
            let base = Arc::as_ptr(buf) as *mut u8;
            // SAFETY: `a..b` lies inside `0 .. hdr_room`, which is inside the
            // buffer (it was `data` when granted). Only this head may write
            // there, and no other head reads there: see `bytes()` for why.
            // `&mut self` keeps every other reference into this head's bytes
            // dead for the returned lifetime.
            return unsafe { std::slice::from_raw_parts_mut(base.add(a), b - a) };
        }
        &mut self.buf_mut()[a..b]
    }

    /// Mutable access to the whole buffer, unsharing it first if a clone
    /// holds it (the implicit `skb_unshare()`).
    #[inline]
    fn buf_mut(&mut self) -> &mut [u8] {
        if self.cloned.get() {
            // Slow path: a clone may still hold the bytes. Copy if it does.
            self.make_unique(0);
            self.cloned.set(false);
            self.hdr_room.set(0);
        }
        match &mut self.buf {
            Some(b) => {
                debug_assert_eq!(Arc::strong_count(b), 1, "uncloned skb with a shared buffer");
                let ptr = Arc::as_ptr(b) as *mut [u8];
                // SAFETY: `cloned` is false, so this head holds the only `Arc`
                // to the buffer: every `Arc::clone` of a buffer happens in
                // `Skb::clone`, which sets `cloned` on both heads; the flag is
                // cleared only after `make_unique` proved uniqueness (or made
                // a fresh copy); the pool only keeps and hands out unique
                // buffers; no `Weak` is ever made. We hold `&mut self`, so no
                // other reference into the buffer is alive for the returned
                // lifetime. This is what `Arc::get_mut_unchecked` does.
                unsafe { &mut *ptr }
            }
            None => &mut [],
        }
    }

    /// Make the data private, with at least `extra_head` more bytes of
    /// headroom. Mirrors `pskb_expand_head()` when it must reallocate.
    fn make_unique(&mut self, extra_head: usize) {
        self.realloc_buf(extra_head, 0);
    }

    /// [`make_unique`](Self::make_unique) with at least `extra_tail` more
    /// bytes of tailroom too (`pskb_expand_head(skb, nhead, ntail)`).
    fn realloc_buf(&mut self, extra_head: usize, extra_tail: usize) {
        let shared = match &mut self.buf {
            Some(b) => Arc::get_mut(b).is_none(),
            None => false,
        };
        if !shared && extra_head == 0 && extra_tail == 0 {
            return;
        }
        let old_end = self.end as usize;
        let new_cap = old_end + extra_head + extra_tail;
        let mut nb = buf_alloc(new_cap);
        let nbm = Arc::get_mut(&mut nb).expect("fresh buffer is unique");
        // A head that gave its header area away copies only what is its own.
        let from = if shared { (self.nohdr as usize).min(self.tail as usize) } else { 0 };
        let tail = self.tail as usize;
        nbm[extra_head + from..extra_head + tail].copy_from_slice(self.bytes(from, tail));
        if let Some(old) = self.buf.replace(nb) {
            buf_free(old);
        }
        self.cloned.set(false);
        self.hdr_room.set(0);
        let shift = |off: &mut u32| {
            if *off != UNSET {
                *off += extra_head as u32;
            }
        };
        self.data += extra_head as u32;
        self.tail += extra_head as u32;
        shift(&mut self.mac_header);
        shift(&mut self.network_header);
        shift(&mut self.transport_header);
        if self.ip_summed == IpSummed::Partial {
            self.csum_start += extra_head as u16;
        }
        let cap = self.buf_len();
        // Keep the same tailroom as before (plus whatever the class rounds up).
        self.end = cap as u32;
        self.truesize = skb_truesize(cap);
    }

    // -- the frag list of a GSO packet -----------------------------------------

    /// True when segments travel with this one (`skb_has_frag_list()`).
    pub fn has_frag_list(&self) -> bool {
        !self.frag_list.is_empty()
    }

    /// The segments that travel with this one.
    pub fn frag_list(&self) -> &SkBuffHead {
        &self.frag_list
    }

    /// The segments that travel with this one, to add to or take.
    pub fn frag_list_mut(&mut self) -> &mut SkBuffHead {
        &mut self.frag_list
    }

    /// Bytes in the frag list: with [`len`](Self::len), what Linux's
    /// `skb->len` counts for such a packet.
    pub fn frag_list_len(&self) -> usize {
        self.frag_list.bytes()
    }

    /// Memory charged for this skb and the ones on its frag list: Linux's
    /// `skb->truesize`, which counts them all.
    pub fn total_truesize(&self) -> u32 {
        self.frag_list.iter().fold(self.truesize, |t, f| t.saturating_add(f.truesize))
    }

    // ANCHOR: skb_linearize
    /// Bring the frag list's bytes into this skb's own buffer, behind its
    /// data, and free the list: one linear packet, headers where they were.
    ///
    /// Mirrors `skb_linearize()` (`__pskb_pull_tail(skb, skb->data_len)`),
    /// which callers use before code that reads a packet as one run of
    /// bytes. A received GRO packet keeps its merged payloads on the frag
    /// list; only paths that read it whole (a second handler, a socket not
    /// in ESTABLISHED, a segment TCP trims or queues out of order) pay for
    /// this copy. A tap reads a copy instead ([`SkBuff::skb_copy`]), and
    /// forwarding keeps the packet chained: the output path splits it
    /// back into its segments (`net_core::gso`).
    pub fn skb_linearize(&mut self) {
        if !self.has_frag_list() {
            return;
        }
        let mut frags = std::mem::take(&mut self.frag_list);
        let extra = frags.bytes();
        self.realloc_buf(0, extra.saturating_sub(self.tailroom()));
        while let Some(f) = frags.dequeue() {
            self.put_data(f.data());
        }
    }
    // ANCHOR_END: skb_linearize

    // -- geometry ------------------------------------------------------------

    /// Bytes of packet data in this skb's own buffer (`skb_headlen()`;
    /// Linux's `skb->len` also counts what [`Self::frag_list_len`] does).
    pub fn len(&self) -> usize {
        (self.tail - self.data) as usize
    }

    /// True when the packet holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.tail == self.data
    }

    /// Bytes free in front of the data (`skb_headroom()`).
    #[doc(alias = "skb_headroom")]
    pub fn headroom(&self) -> usize {
        self.data as usize
    }

    /// Bytes free behind the data (`skb_tailroom()`).
    #[doc(alias = "skb_tailroom")]
    pub fn tailroom(&self) -> usize {
        (self.end - self.tail) as usize
    }

    /// Offset of `end` from `head` (`skb_end_offset()`).
    #[doc(alias = "skb_end_offset")]
    pub fn end_offset(&self) -> usize {
        self.end as usize
    }

    /// Offset of `data` from `head`.
    pub fn data_offset(&self) -> usize {
        self.data as usize
    }

    /// The packet bytes, `data .. tail`.
    #[inline]
    pub fn data(&self) -> &[u8] {
        self.bytes(self.data as usize, self.tail as usize)
    }

    /// The packet bytes, writable (unshares a cloned buffer first).
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (d, t) = (self.data as usize, self.tail as usize);
        &mut self.buf_mut()[d..t]
    }

    /// The first `len` packet bytes (headers just pushed), writable. In
    /// place when they lie in this head's private header area (a clone
    /// from [`Skb::skb_clone_xmit`]), so the shared payload is not
    /// copied; otherwise as [`SkBuff::data_mut`]. Panics if the packet is
    /// shorter than `len`.
    #[inline]
    pub fn data_mut_head(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= self.len(), "data_mut_head({len}) of a {}-byte packet", self.len());
        let d = self.data as usize;
        self.range_mut(d, d + len)
    }

    // ANCHOR: skb_reserve
    /// Make room for headers in an empty buffer: move `data` and `tail` on.
    ///
    /// Mirrors `skb_reserve()` (include/linux/skbuff.h). Only valid on an empty
    /// buffer with enough tailroom; anything else is a programming bug and
    /// panics, as Linux's `DEBUG_NET_WARN_ON_ONCE` would complain.
    #[doc(alias = "skb_reserve")]
    pub fn reserve(&mut self, len: usize) {
        assert!(len <= self.tailroom(), "skb_reserve past end: {len} > tailroom {}", self.tailroom());
        self.data += len as u32;
        self.tail += len as u32;
    }
    // ANCHOR_END: skb_reserve

    // ANCHOR: skb_put
    /// Extend the data at the end by `len` bytes and return them to fill.
    ///
    /// Mirrors `skb_put()` (net/core/skbuff.c). "If this would exceed the total
    /// buffer size the kernel will panic" (`skb_over_panic`): so do we.
    #[doc(alias = "skb_put")]
    pub fn put(&mut self, len: usize) -> &mut [u8] {
        if len > self.tailroom() {
            skb_over_panic(self, len);
        }
        let old = self.tail as usize;
        self.tail += len as u32;
        &mut self.buf_mut()[old..old + len]
    }
    // ANCHOR_END: skb_put

    /// Append `bytes` (`skb_put_data()`).
    #[doc(alias = "skb_put_data")]
    pub fn put_data(&mut self, bytes: &[u8]) {
        self.put(bytes.len()).copy_from_slice(bytes);
    }

    /// Append `len` zero bytes and return them (`skb_put_zero()`).
    #[doc(alias = "skb_put_zero")]
    pub fn put_zero(&mut self, len: usize) -> &mut [u8] {
        let s = self.put(len);
        s.fill(0);
        s
    }

    // ANCHOR: skb_push
    /// Extend the data at the front by `len` bytes (a header) and return them.
    ///
    /// Mirrors `skb_push()` (net/core/skbuff.c): "If this would exceed the
    /// total buffer headroom the kernel will panic" (`skb_under_panic`). The
    /// caller reserved the room when it allocated the buffer, so running out is
    /// a bug in our code, never the result of input.
    #[doc(alias = "skb_push")]
    #[inline]
    pub fn push(&mut self, len: usize) -> &mut [u8] {
        if len > self.headroom() {
            skb_under_panic(self, len);
        }
        self.data -= len as u32;
        let d = self.data as usize;
        self.range_mut(d, d + len)
    }
    // ANCHOR_END: skb_push

    /// [`push`](Self::push) without the headroom check's panic message; the
    /// slice index still refuses to go below head. Linux: `__skb_push()`.
    #[doc(alias = "__skb_push")]
    pub fn push_unchecked(&mut self, len: usize) -> &mut [u8] {
        self.data -= len as u32;
        let d = self.data as usize;
        self.range_mut(d, d + len)
    }

    // ANCHOR: skb_pull
    /// Remove `len` bytes from the front (a header), returning the new data.
    ///
    /// Mirrors `skb_pull()` (net/core/skbuff.c), which returns NULL when the
    /// packet is shorter than `len`: the length comes from the wire, so this
    /// is an ordinary failure, `None`, never a panic.
    #[doc(alias = "skb_pull")]
    pub fn pull(&mut self, len: usize) -> Option<&[u8]> {
        if len > self.len() {
            return None;
        }
        self.data += len as u32;
        Some(self.data())
    }
    // ANCHOR_END: skb_pull

    /// True when at least `len` bytes of packet are present, so a header of
    /// that size can be read. Mirrors `pskb_may_pull()`; every skb here is
    /// linear, so this never needs to move bytes.
    pub fn pskb_may_pull(&self, len: usize) -> bool {
        len <= self.len()
    }

    /// Cut the packet to `len` bytes if it is longer (`skb_trim()`).
    #[doc(alias = "skb_trim")]
    #[doc(alias = "pskb_trim")]
    pub fn trim(&mut self, len: usize) {
        if len < self.len() {
            self.tail = self.data + len as u32;
        }
    }

    // -- header marks --------------------------------------------------------

    /// Mark the link-layer header at `data` (`skb_reset_mac_header()`).
    #[doc(alias = "skb_reset_mac_header")]
    pub fn reset_mac_header(&mut self) {
        self.mac_header = self.data;
    }

    /// Mark the link-layer header `offset` bytes from `data`
    /// (`skb_set_mac_header()`); `offset` may be negative.
    #[doc(alias = "skb_set_mac_header")]
    pub fn set_mac_header(&mut self, offset: isize) {
        self.mac_header = self.offset_from_data(offset);
    }

    /// True once the MAC header was marked (`skb_mac_header_was_set()`).
    #[doc(alias = "skb_mac_header_was_set")]
    pub fn mac_header_was_set(&self) -> bool {
        self.mac_header != UNSET
    }

    /// Bytes from the MAC header to `tail` (`skb_mac_header()`); empty if unset.
    #[doc(alias = "skb_mac_header")]
    pub fn mac_header(&self) -> &[u8] {
        self.bytes_from_mark(self.mac_header)
    }

    /// Length of the link-layer header: network header minus MAC header
    /// (`skb_mac_header_len()`).
    #[doc(alias = "skb_mac_header_len")]
    pub fn mac_header_len(&self) -> usize {
        if self.mac_header == UNSET || self.network_header == UNSET {
            return 0;
        }
        self.network_header.saturating_sub(self.mac_header) as usize
    }

    /// Mark the network header at `data` (`skb_reset_network_header()`).
    #[doc(alias = "skb_reset_network_header")]
    pub fn reset_network_header(&mut self) {
        self.network_header = self.data;
    }

    /// Mark the network header `offset` bytes from `data` (`skb_set_network_header()`).
    #[doc(alias = "skb_set_network_header")]
    pub fn set_network_header(&mut self, offset: isize) {
        self.network_header = self.offset_from_data(offset);
    }

    /// Bytes from the network header to `tail` (`skb_network_header()`).
    #[doc(alias = "skb_network_header")]
    pub fn network_header(&self) -> &[u8] {
        self.bytes_from_mark(self.network_header)
    }

    /// Writable bytes from the network header to `tail`.
    pub fn network_header_mut(&mut self) -> &mut [u8] {
        let m = self.network_header;
        self.bytes_from_mark_mut(m)
    }

    /// Network header offset from `data` (`skb_network_offset()`).
    #[doc(alias = "skb_network_offset")]
    pub fn network_offset(&self) -> isize {
        self.network_header as isize - self.data as isize
    }

    /// Mark the transport header at `data` (`skb_reset_transport_header()`).
    #[doc(alias = "skb_reset_transport_header")]
    pub fn reset_transport_header(&mut self) {
        self.transport_header = self.data;
    }

    /// Mark the transport header `offset` bytes from `data`.
    #[doc(alias = "skb_set_transport_header")]
    pub fn set_transport_header(&mut self, offset: isize) {
        self.transport_header = self.offset_from_data(offset);
    }

    /// True once the transport header was marked.
    #[doc(alias = "skb_transport_header_was_set")]
    pub fn transport_header_was_set(&self) -> bool {
        self.transport_header != UNSET
    }

    /// Bytes from the transport header to `tail` (`skb_transport_header()`).
    #[doc(alias = "skb_transport_header")]
    pub fn transport_header(&self) -> &[u8] {
        self.bytes_from_mark(self.transport_header)
    }

    /// Writable bytes from the transport header to `tail`.
    pub fn transport_header_mut(&mut self) -> &mut [u8] {
        let m = self.transport_header;
        self.bytes_from_mark_mut(m)
    }

    /// Transport header offset from `data` (`skb_transport_offset()`).
    #[doc(alias = "skb_transport_offset")]
    pub fn transport_offset(&self) -> isize {
        self.transport_header as isize - self.data as isize
    }

    /// Network header length: transport minus network header
    /// (`skb_network_header_len()`).
    #[doc(alias = "skb_network_header_len")]
    pub fn network_header_len(&self) -> usize {
        if self.network_header == UNSET || self.transport_header == UNSET {
            return 0;
        }
        self.transport_header.saturating_sub(self.network_header) as usize
    }

    fn offset_from_data(&self, offset: isize) -> u32 {
        let at = self.data as isize + offset;
        assert!(
            (0..=self.end as isize).contains(&at),
            "header mark {offset} from data lies outside the buffer"
        );
        at as u32
    }

    fn bytes_from_mark(&self, mark: u32) -> &[u8] {
        if mark == UNSET || mark > self.tail {
            return &[];
        }
        self.bytes(mark as usize, self.tail as usize)
    }

    fn bytes_from_mark_mut(&mut self, mark: u32) -> &mut [u8] {
        if mark == UNSET || mark > self.tail {
            return &mut [];
        }
        let t = self.tail as usize;
        &mut self.buf_mut()[mark as usize..t]
    }

    // -- control block -------------------------------------------------------

    /// View the control block as `T`: Linux's `TCP_SKB_CB(skb)`, `IPCB(skb)`.
    ///
    /// `T` must fit in 48 bytes with alignment at most 8; both are checked at
    /// compile time.
    pub fn cb<T: FromBytes + KnownLayout + Immutable>(&self) -> &T {
        const { assert!(size_of::<T>() <= SKB_CB_SIZE && align_of::<T>() <= 8) };
        match T::ref_from_prefix(&self.cb.0) {
            Ok((t, _)) => t,
            Err(_) => unreachable!("size and alignment checked at compile time"),
        }
    }

    /// Mutable view of the control block as `T`.
    pub fn cb_mut<T: FromBytes + IntoBytes + KnownLayout + Immutable>(&mut self) -> &mut T {
        const { assert!(size_of::<T>() <= SKB_CB_SIZE && align_of::<T>() <= 8) };
        match T::mut_from_prefix(&mut self.cb.0) {
            Ok((t, _)) => t,
            Err(_) => unreachable!("size and alignment checked at compile time"),
        }
    }

    /// Zero the control block, as `ip_rcv_core()` clears `IPCB(skb)`.
    pub fn cb_clear(&mut self) {
        self.cb.0 = [0; SKB_CB_SIZE];
    }

    // -- sharing -------------------------------------------------------------

    /// True when a clone shares the data (`skb_cloned()`).
    #[doc(alias = "skb_cloned")]
    pub fn cloned(&self) -> bool {
        self.cloned.get() && self.buf.as_ref().is_some_and(|b| Arc::strong_count(b) > 1)
    }

    /// Make sure the header area is private and has `headroom` bytes in front.
    ///
    /// Mirrors `skb_cow_head()` (include/linux/skbuff.h): reallocates (copying
    /// once) when the data is shared or the headroom is short.
    #[doc(alias = "skb_cow")]
    pub fn skb_cow_head(&mut self, headroom: usize) {
        let extra = headroom.saturating_sub(self.headroom());
        if extra == 0 && !self.skb_header_cloned() {
            return;
        }
        self.make_unique(extra);
    }

    /// True when the bytes in front of `data` are shared with another head,
    /// so pushing a header there would need a private copy first. A clone
    /// from [`Skb::skb_clone_xmit`] owns its header area and answers false.
    /// Mirrors `skb_header_cloned()` (include/linux/skbuff.h).
    pub fn skb_header_cloned(&self) -> bool {
        self.shared() && self.hdr_room.get() < self.data
    }

    /// Make the data private (`skb_unshare()`).
    pub fn skb_unshare(&mut self) {
        self.make_unique(0);
    }

    /// Grow the headroom by `nhead` bytes, reallocating (`pskb_expand_head()`
    /// with `ntail` = 0).
    #[doc(alias = "pskb_expand_head")]
    pub fn expand_head(&mut self, nhead: usize) {
        self.make_unique(nhead);
    }

    /// A private copy of the header and all the data (`skb_copy()`): the
    /// buffer, and the frag list's bytes behind it, so the copy is one
    /// linear packet, as Linux's is. A tap on a GRO device reads a merged
    /// packet this way while the packet itself goes on chained.
    pub fn skb_copy(&self) -> Skb {
        let extra = self.frag_list.bytes();
        let mut n = alloc_skb(self.end as usize + extra);
        let cap = n.end;
        n.copy_header_from(self);
        n.end = cap;
        n.truesize = skb_truesize(cap as usize);
        let t = self.tail as usize;
        let from = if self.shared() { (self.nohdr as usize).min(t) } else { 0 };
        n.buf_mut()[from..t].copy_from_slice(self.bytes(from, t));
        for f in self.frag_list.iter() {
            n.put_data(f.data());
        }
        n
    }

    /// Copy `to.len()` bytes starting `offset` bytes into the packet.
    ///
    /// Mirrors `skb_copy_bits()` (net/core/skbuff.c), which returns `-EFAULT`
    /// when the range runs past the packet; so do we.
    #[doc(alias = "skb_copy_bits")]
    pub fn copy_bits(&self, offset: usize, to: &mut [u8]) -> Result<(), crate::Errno> {
        let end = offset.checked_add(to.len()).ok_or(crate::Errno::EFAULT)?;
        let src = self.data().get(offset..end).ok_or(crate::Errno::EFAULT)?;
        to.copy_from_slice(src);
        Ok(())
    }
}

/// `SKB_TRUESIZE(X)`: the buffer plus the head it hangs from.
fn skb_truesize(cap: usize) -> u32 {
    (cap + size_of::<SkBuff>()) as u32
}

#[cold]
#[track_caller]
fn skb_over_panic(skb: &SkBuff, len: usize) -> ! {
    panic!(
        "skb_over_panic: put {len} with tailroom {} (len {}, headroom {})",
        skb.tailroom(),
        skb.len(),
        skb.headroom()
    )
}

/// [`SkBuff::bytes`]'s refusals, kept out of its inlined body.
#[cold]
#[inline(never)]
#[track_caller]
fn bytes_panic(skb: &SkBuff, a: usize, b: usize) -> ! {
    let Some(buf) = &skb.buf else { panic!("bytes {a}..{b} of an skb without a buffer") };
    let len = Arc::as_ptr(buf).len();
    assert!(a <= b && b <= len, "bytes {a}..{b} past the buffer ({len})");
    panic!("read below nohdr ({a} < {}) of a buffer a clone writes headers into", skb.nohdr)
}

#[cold]
#[track_caller]
fn skb_under_panic(skb: &SkBuff, len: usize) -> ! {
    panic!("skb_under_panic: push {len} with headroom {} (len {})", skb.headroom(), skb.len())
}

// ---------------------------------------------------------------------------
// sk_buff_head

// ANCHOR: sk_buff_head
/// A queue of socket buffers: Linux's `struct sk_buff_head`.
///
/// An intrusive doubly linked list through each skb's own link, so queueing
/// never allocates, plus `qlen`. Linux embeds a spinlock and offers locked
/// (`skb_queue_tail`) and unlocked (`__skb_queue_tail`) variants; ours is a
/// plain value you put behind a `spin::Mutex` where Linux takes its lock.
#[derive(Default)]
pub struct SkBuffHead {
    list: LinkedList<SkbAdapter>,
    qlen: usize,
}
// ANCHOR_END: sk_buff_head

impl fmt::Debug for SkBuffHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkBuffHead").field("qlen", &self.qlen).finish()
    }
}

impl SkBuffHead {
    /// An empty queue (`skb_queue_head_init()`).
    #[doc(alias = "skb_queue_head_init")]
    pub fn new() -> Self {
        SkBuffHead { list: LinkedList::new(SkbAdapter::new()), qlen: 0 }
    }

    /// Number of buffers queued (`skb_queue_len()`).
    #[doc(alias = "skb_queue_len")]
    pub fn len(&self) -> usize {
        self.qlen
    }

    /// True when nothing is queued (`skb_queue_empty()`).
    #[doc(alias = "skb_queue_empty")]
    pub fn is_empty(&self) -> bool {
        self.qlen == 0
    }

    /// Append at the tail (`skb_queue_tail()`).
    #[doc(alias = "skb_queue_tail")]
    #[doc(alias = "__skb_queue_tail")]
    pub fn queue_tail(&mut self, skb: Skb) {
        self.list.push_back(skb.into_box());
        self.qlen += 1;
    }

    /// Insert at the head (`skb_queue_head()`).
    #[doc(alias = "skb_queue_head")]
    pub fn queue_head(&mut self, skb: Skb) {
        self.list.push_front(skb.into_box());
        self.qlen += 1;
    }

    /// Remove from the head (`skb_dequeue()`).
    #[doc(alias = "skb_dequeue")]
    #[doc(alias = "__skb_dequeue")]
    pub fn dequeue(&mut self) -> Option<Skb> {
        let b = self.list.pop_front()?;
        self.qlen -= 1;
        Some(Skb::from_box(b))
    }

    /// Remove from the tail (`skb_dequeue_tail()`).
    #[doc(alias = "skb_dequeue_tail")]
    pub fn dequeue_tail(&mut self) -> Option<Skb> {
        let b = self.list.pop_back()?;
        self.qlen -= 1;
        Some(Skb::from_box(b))
    }

    /// The head buffer, left in place (`skb_peek()`).
    #[doc(alias = "skb_peek")]
    pub fn peek(&self) -> Option<&SkBuff> {
        self.list.front().get()
    }

    /// The tail buffer, left in place (`skb_peek_tail()`).
    #[doc(alias = "skb_peek_tail")]
    pub fn peek_tail(&self) -> Option<&SkBuff> {
        self.list.back().get()
    }

    /// Move every buffer of `other` to our tail, leaving it empty
    /// (`skb_queue_splice_tail_init()`). O(1).
    #[doc(alias = "skb_queue_splice_tail_init")]
    pub fn splice_tail_init(&mut self, other: &mut SkBuffHead) {
        let moved = std::mem::take(&mut other.list);
        self.list.back_mut().splice_after(moved);
        self.qlen += std::mem::take(&mut other.qlen);
    }

    /// Move every buffer of `other` to our head, leaving it empty
    /// (`skb_queue_splice_init()`). O(1).
    #[doc(alias = "skb_queue_splice_init")]
    pub fn splice_init(&mut self, other: &mut SkBuffHead) {
        let moved = std::mem::take(&mut other.list);
        self.list.front_mut().splice_before(moved);
        self.qlen += std::mem::take(&mut other.qlen);
    }

    /// Free every buffer (`skb_queue_purge()`); returns how many there were.
    #[doc(alias = "skb_queue_purge")]
    pub fn purge(&mut self) -> usize {
        let n = self.qlen;
        while self.dequeue().is_some() {}
        n
    }

    /// Walk the queue from head to tail (`skb_queue_walk()`).
    #[doc(alias = "skb_queue_walk")]
    pub fn iter(&self) -> impl Iterator<Item = &SkBuff> {
        self.list.iter()
    }

    /// Sum of `len()` over the queue.
    pub fn bytes(&self) -> usize {
        self.iter().map(SkBuff::len).sum()
    }
}

impl Drop for SkBuffHead {
    fn drop(&mut self) {
        // Return the buffers to the pool rather than letting the list free the boxes.
        self.purge();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    #[test]
    fn geometry_follows_linux() {
        let mut skb = alloc_skb(1500);
        assert_eq!(skb.headroom(), 0);
        assert!(skb.tailroom() >= 1500);
        assert_eq!(skb.len(), 0);
        skb.reserve(128);
        assert_eq!(skb.headroom(), 128);
        skb.put_data(b"payload");
        assert_eq!(skb.data(), b"payload");
        skb.push(4).copy_from_slice(b"TCP:");
        skb.push(3).copy_from_slice(b"IP:");
        assert_eq!(skb.data(), b"IP:TCP:payload");
        assert_eq!(skb.headroom(), 121);
        assert_eq!(skb.pull(3), Some(&b"TCP:payload"[..]));
        assert_eq!(skb.pull(100), None, "pulling more than len fails");
        assert_eq!(skb.len(), 11);
        skb.trim(4);
        assert_eq!(skb.data(), b"TCP:");
        skb.trim(400);
        assert_eq!(skb.len(), 4, "trim never grows");
    }

    #[test]
    #[should_panic(expected = "skb_under_panic")]
    fn push_past_headroom_panics() {
        let mut skb = alloc_skb(64);
        skb.reserve(8);
        skb.push(9);
    }

    #[test]
    #[should_panic(expected = "skb_over_panic")]
    fn put_past_end_panics() {
        let mut skb = alloc_skb(256);
        let room = skb.tailroom();
        skb.put(room + 1);
    }

    #[test]
    fn header_marks() {
        let mut skb = alloc_skb(256);
        skb.reserve(64);
        skb.put_data(&[0xa5; 40]);
        skb.reset_network_header();
        skb.set_transport_header(20);
        assert_eq!(skb.network_header().len(), 40);
        assert_eq!(skb.transport_header().len(), 20);
        assert_eq!(skb.network_header_len(), 20);
        assert_eq!(skb.transport_offset(), 20);
        skb.push(14);
        skb.reset_mac_header();
        assert!(skb.mac_header_was_set());
        assert_eq!(skb.mac_header_len(), 14);
        assert_eq!(skb.network_offset(), 14);
        let fresh = alloc_skb(64);
        assert!(!fresh.mac_header_was_set());
        assert!(fresh.mac_header().is_empty());
    }

    #[test]
    fn clone_shares_then_unshares_on_write() {
        let mut a = alloc_skb(256);
        a.reserve(32);
        a.put_data(b"hello");
        let mut b = a.clone();
        assert!(a.cloned() && b.cloned());
        assert_eq!(b.data(), b"hello");
        b.data_mut()[0] = b'J';
        assert_eq!(a.data(), b"hello", "the original is untouched");
        assert_eq!(b.data(), b"Jello");
        assert!(!a.cloned() && !b.cloned());
        // push on a clone also unshares and keeps headroom
        let mut c = a.clone();
        c.push(2).copy_from_slice(b">>");
        assert_eq!(c.data(), b">>hello");
        assert_eq!(a.data(), b"hello");
    }

    #[test]
    fn cloned_bit_tracks_sharing_without_needless_copies() {
        let mut a = alloc_skb(256);
        a.put_data(b"abc");
        let before = a.data().as_ptr();
        a.data_mut()[0] = b'x';
        assert_eq!(a.data().as_ptr(), before, "an uncloned write never copies");
        let b = a.clone();
        assert!(a.cloned());
        drop(b);
        assert!(!a.cloned(), "the bit is set but the clone is gone");
        a.data_mut()[1] = b'y';
        assert_eq!(a.data().as_ptr(), before, "the last holder writes in place");
        assert_eq!(a.data(), b"xyc");
        let c = a.clone();
        a.push(0);
        a.data_mut()[2] = b'z';
        assert_ne!(a.data().as_ptr(), c.data().as_ptr(), "a shared buffer is copied once");
        assert_eq!(c.data(), b"xyc");
        assert_eq!(a.data(), b"xyz");
        let again = a.data().as_ptr();
        a.data_mut()[0] = b'q';
        assert_eq!(a.data().as_ptr(), again, "and not again");
    }

    #[test]
    fn cow_head_grows_headroom_and_keeps_marks() {
        let mut skb = alloc_skb(256);
        skb.reserve(4);
        skb.put_data(b"abcdef");
        skb.reset_network_header();
        skb.set_transport_header(2);
        skb.skb_cow_head(100);
        assert!(skb.headroom() >= 100);
        assert_eq!(skb.data(), b"abcdef");
        assert_eq!(skb.transport_header(), b"cdef");
        assert_eq!(skb.network_header(), b"abcdef");
    }

    #[test]
    fn copy_bits_bounds() {
        let mut skb = alloc_skb(64);
        skb.put_data(b"0123456789");
        let mut out = [0u8; 4];
        skb.copy_bits(3, &mut out).unwrap();
        assert_eq!(&out, b"3456");
        assert_eq!(skb.copy_bits(8, &mut out), Err(crate::Errno::EFAULT));
        assert_eq!(skb.copy_bits(usize::MAX, &mut out), Err(crate::Errno::EFAULT));
        let copy = skb.skb_copy();
        assert_eq!(copy.data(), skb.data());
        assert!(!skb.cloned());
    }

    #[derive(FromBytes, IntoBytes, KnownLayout, Immutable)]
    #[repr(C)]
    struct FakeTcpCb {
        seq: u32,
        end_seq: u32,
        tcp_flags: u8,
        _pad: [u8; 3],
    }

    #[test]
    fn control_block_is_typed_and_zeroed() {
        let mut skb = alloc_skb(64);
        assert_eq!(skb.cb::<FakeTcpCb>().seq, 0);
        skb.cb_mut::<FakeTcpCb>().seq = 7;
        skb.cb_mut::<FakeTcpCb>().tcp_flags = 0x12;
        let c = skb.clone();
        assert_eq!(c.cb::<FakeTcpCb>().seq, 7, "clones copy cb");
        assert_eq!(c.cb::<FakeTcpCb>().tcp_flags, 0x12);
        drop(c);
        drop(skb);
        let again = alloc_skb(64);
        assert_eq!(again.cb::<FakeTcpCb>().seq, 0, "a recycled head has a clean cb");
    }

    /// `skb_copy()` of a chained packet (a GRO packet, as a tap reads it)
    /// is one linear packet with every byte, and leaves the original
    /// chained.
    #[test]
    fn skb_copy_of_a_chained_packet_is_linear_and_whole() {
        let mut head = alloc_skb(64);
        head.put_data(b"head:");
        for part in [&b"one,"[..], b"two,", b"three"] {
            let mut f = alloc_skb(16);
            f.put_data(part);
            head.frag_list_mut().queue_tail(f);
        }
        let copy = head.skb_copy();
        assert_eq!(copy.data(), b"head:one,two,three");
        assert!(!copy.has_frag_list());
        assert_eq!(head.len(), 5, "the original keeps its head");
        assert_eq!(head.frag_list_len(), 13, "and its chain");
    }

    #[test]
    fn pool_recycles_heads_and_buffers() {
        let skb = alloc_skb(2000);
        drop(skb);
        let (h, b) = skb_pool_stats();
        assert!(h >= 1 && b >= 1);
        let skb = alloc_skb(2000);
        let (h2, b2) = skb_pool_stats();
        assert_eq!((h2, b2), (h - 1, b - 1), "allocation came from the pool");
        drop(skb);
        // A buffer larger than the biggest class is not pooled but still works.
        let mut big = alloc_skb(SKB_MAX_POOLED + 1);
        big.put(SKB_MAX_POOLED + 1);
        drop(big);
    }

    #[test]
    fn queue_fifo_splice_purge() {
        let mk = |b: u8| {
            let mut s = alloc_skb(16);
            s.put_data(&[b]);
            s
        };
        let mut q = SkBuffHead::new();
        assert!(q.is_empty() && q.dequeue().is_none());
        q.queue_tail(mk(1));
        q.queue_tail(mk(2));
        q.queue_head(mk(0));
        assert_eq!(q.len(), 3);
        assert_eq!(q.peek().unwrap().data(), &[0]);
        assert_eq!(q.peek_tail().unwrap().data(), &[2]);
        let mut other = SkBuffHead::new();
        other.queue_tail(mk(3));
        other.queue_tail(mk(4));
        q.splice_tail_init(&mut other);
        assert!(other.is_empty());
        let mut front = SkBuffHead::new();
        front.queue_tail(mk(9));
        q.splice_init(&mut front);
        let order: Vec<u8> = q.iter().map(|s| s.data()[0]).collect();
        assert_eq!(order, vec![9, 0, 1, 2, 3, 4]);
        assert_eq!(q.bytes(), 6);
        assert_eq!(q.dequeue_tail().unwrap().data(), &[4]);
        assert_eq!(q.dequeue().unwrap().data(), &[9]);
        assert_eq!(q.purge(), 4);
        assert!(q.is_empty());
    }

    #[test]
    fn skbuff_is_no_bigger_than_linux() {
        // Linux 6.18's struct sk_buff is 232 bytes on x86-64.
        assert!(size_of::<SkBuff>() <= 256, "SkBuff is {} bytes", size_of::<SkBuff>());
        assert_eq!(size_of::<Skb>(), size_of::<usize>());
    }

    #[test]
    fn queues_move_between_threads() {
        let mut q = SkBuffHead::new();
        let mut s = alloc_skb(32);
        s.put_data(b"x");
        q.queue_tail(s);
        let q = spin::Mutex::new(q);
        std::thread::scope(|sc| {
            sc.spawn(|| {
                let skb = q.lock().dequeue().unwrap();
                assert_eq!(skb.data(), b"x");
            });
        });
        assert!(q.lock().is_empty());
    }

    /// A queued segment and the clone that goes out: 40 bytes of headroom,
    /// 100 bytes of payload.
    fn queued_segment() -> Skb {
        let mut skb = alloc_skb(140);
        skb.reserve(40);
        let payload: Vec<u8> = (0..100u8).collect();
        skb.put_data(&payload);
        skb
    }

    #[test]
    fn clone_xmit_writes_headers_in_place_and_shares_the_payload() {
        let mut orig = queued_segment();
        let mut c = orig.skb_clone_xmit();
        assert!(c.cloned() && orig.cloned());
        assert!(!c.skb_header_cloned(), "the clone owns the area in front of data");
        assert!(orig.skb_header_cloned() || orig.headroom() == 40);
        c.push(20).fill(0xaa);
        c.data_mut_head(4).copy_from_slice(&[1, 2, 3, 4]);
        c.skb_cow_head(20); // no copy: the header area is private
        c.push(14).fill(0xee);
        // Still one buffer: the payload was never copied.
        assert!(c.cloned() && orig.cloned(), "headers pushed in place");
        assert_eq!(&c.data()[..14], &[0xee; 14]);
        assert_eq!(&c.data()[14..18], &[1, 2, 3, 4]);
        assert_eq!(&c.data()[18..34], &[0xaa; 16]);
        assert_eq!(&c.data()[34..], orig.data());
        assert_eq!(orig.data(), &(0..100u8).collect::<Vec<_>>()[..]);
        // Writing the payload unshares (a copy), leaving the original intact.
        c.data_mut()[34] = 0xff;
        assert!(!c.cloned());
        assert_eq!(orig.data()[0], 0);
        assert_eq!(c.data()[34], 0xff);
    }

    #[test]
    fn a_second_clone_while_the_first_lives_gets_a_private_copy() {
        let mut orig = queued_segment();
        let mut first = orig.skb_clone_xmit();
        first.push(20).fill(1);
        // The first is still "in the driver's queue": a retransmission must
        // not share its header area (Linux: pskb_copy when skb_cloned).
        let mut second = orig.skb_clone_xmit();
        assert!(!second.cloned(), "a private copy");
        second.push(20).fill(2);
        assert_eq!(&first.data()[..20], &[1; 20]);
        assert_eq!(&second.data()[..20], &[2; 20]);
        assert_eq!(&second.data()[20..], orig.data());
        drop(first);
        // Once the first clone is gone the original grants its area again.
        let third = orig.skb_clone_xmit();
        assert!(third.cloned() && !third.skb_header_cloned());
    }

    #[test]
    fn cloning_a_clone_revokes_its_header_area() {
        let mut orig = queued_segment();
        let mut c = orig.skb_clone_xmit();
        let tap = c.clone(); // a tap or a second hub port
        assert!(c.skb_header_cloned(), "two heads may read the area now");
        c.push(20).fill(7); // so this push copies
        assert!(!c.cloned());
        assert_eq!(tap.data(), orig.data());
        assert_eq!(&c.data()[20..], orig.data());
    }

    #[test]
    #[should_panic(expected = "read below nohdr")]
    fn the_original_may_not_read_the_area_it_gave_away() {
        let mut orig = queued_segment();
        let _c = orig.skb_clone_xmit();
        orig.push_header_for_test_read();
    }

    impl SkBuff {
        /// Read one byte in front of `data` (only the nohdr test does this).
        fn push_header_for_test_read(&self) {
            let d = self.data as usize;
            let _ = self.bytes(d - 1, d);
        }
    }

    /// The clone writes its headers on one thread while the original's
    /// payload is read on another: the two touch disjoint bytes of one
    /// buffer (Miri checks there is no data race).
    #[test]
    fn clone_xmit_header_writes_race_no_payload_reads() {
        let mut orig = queued_segment();
        let mut c = orig.skb_clone_xmit();
        let want: Vec<u8> = (0..100u8).collect();
        std::thread::scope(|sc| {
            sc.spawn(move || {
                for i in 0..4u8 {
                    c.push(5).fill(i);
                }
                c.data_mut_head(2).copy_from_slice(&[9, 9]);
                assert_eq!(&c.data()[20..], &(0..100u8).collect::<Vec<_>>()[..]);
                drop(c);
            });
            for _ in 0..4 {
                assert_eq!(orig.data(), &want[..]);
            }
        });
        assert!(!orig.cloned(), "the clone is gone: the buffer is the original's alone");
    }

    #[test]
    fn scrub_keeps_the_bytes_and_drops_the_metadata() {
        let mut skb = queued_segment();
        skb.mark = 5;
        skb.tstamp = 9;
        skb.protocol = 0x0800;
        skb.reset_network_header();
        skb.ip_summed = IpSummed::Partial;
        skb.skb_scrub_packet();
        assert_eq!((skb.mark, skb.tstamp, skb.protocol), (0, 0, 0));
        assert_eq!(skb.ip_summed, IpSummed::None);
        assert!(!skb.mac_header_was_set());
        assert_eq!(skb.data().len(), 100);
    }
}
