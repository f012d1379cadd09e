//! Generic receive offload: many segments of one flow up the stack as one.
//!
//! Mirrors net/core/gro.c, Linux 6.18: `dev_gro_receive()`,
//! `gro_list_prepare()`, `skb_gro_receive()`, `napi_gro_complete()`,
//! `gro_flush_oldest()` and `__napi_gro_flush()`, with the packet-offload
//! table of `dev_add_offload()` (`offload_base`).
//!
//! # What it is for
//!
//! A driver polled NAPI-style hands up a batch of frames. Most of a bulk
//! transfer's frames are full-sized segments of the same TCP connection,
//! in order, with identical headers but for the sequence number (and the
//! IP ID and checksums). Instead of running `ip_rcv()`, the route lookup,
//! `tcp_v4_rcv()` and `tcp_rcv_established()` once per frame, GRO checks
//! each frame against the few flows it holds (at most [`MAX_GRO_SKBS`])
//! and appends its payload to the held packet of its flow; at the end of
//! the poll the held packets go up the stack, each as one big segment
//! whose `gso_size` says how large the wire's segments were (TCP reads it
//! in `tcp_measure_rcv_mss()`). One ACK then covers the whole packet.
//!
//! The decisions are the protocols': the core compares link-layer headers
//! and asks the offload registered for the EtherType (`ip_packet_offload`'s
//! `inet_gro_receive()`, which asks TCP's `tcp4_gro_receive()`) whether the
//! frame belongs to a held flow, can be merged, and whether a held packet
//! must go now. Anything unusual (a flag, a short segment, a bad checksum,
//! an IP option) goes up at once, after whatever its flow held.
//!
//! # Where we differ
//!
//! - Linux chains the merged payloads as page frags and never copies. We
//!   keep the merged frames on a list while they are held and send the
//!   packet up with them on its frag list (`napi_gro_complete()`); TCP
//!   queues an in-order packet's pieces as they are, and the paths that
//!   read a packet whole (a socket not in ESTABLISHED, a segment TCP trims
//!   or puts out of order) copy them into one buffer first
//!   (`skb_linearize()`). A tap (tcpdump) sees one run of bytes too:
//!   `netif_receive_skb()` gives it a copy (`skb_copy()`), and the packet
//!   goes on chained. Forwarded, it stays chained, and the output path
//!   splits it into its segments again (`net_core::gso`).
//! - Held packets go up at the end of every poll of the device. Linux keeps
//!   a busy device's packets for up to a jiffy across polls
//!   (`napi_gro_flush(napi, HZ >= 1000)`); we never hold one past the
//!   `net_rx_action()` that received it, so a simulator's clock never has
//!   to know about GRO.
//! - The merged packet carries a correct TCP checksum, summed from the
//!   payload sums taken while validating each segment (no extra pass), and
//!   `CHECKSUM_UNNECESSARY`. Linux leaves `CHECKSUM_PARTIAL` with only the
//!   pseudo-header in the field, which tcpdump on a GRO receiver shows as
//!   "incorrect".
//! - GRO is off unless the device has [`NetdevFeatures::GRO`] or `ethtool
//!   -K dev gro on` ([`NetDev::set_gro`]) turned it on: like Linux's veth,
//!   whose GRO is off by default, so that every scenario's capture shows
//!   the frames as they crossed the wire unless it asks for GRO.
//!
//! [`NetdevFeatures::GRO`]: crate::netdevice::NetdevFeatures::GRO
//! [`NetDev::set_gro`]: crate::netdevice::NetDev::set_gro

use std::sync::Arc;

use crate::checksum::Wsum;
use crate::errno::Errno;
use crate::net_namespace::Net;
use crate::netdevice::NetDev;
use crate::skbuff::{IpSummed, SkBuffHead, Skb, alloc_skb};

/// Flows held at once per device (`MAX_GRO_SKBS`).
pub const MAX_GRO_SKBS: usize = 8;

/// Largest packet GRO builds, from the network header on
/// (`GRO_LEGACY_MAX_SIZE`, the default `gro_max_size`).
pub const GRO_LEGACY_MAX_SIZE: usize = 65536;

// ANCHOR: napi_gro_cb
/// What GRO knows about the frame being received: Linux's
/// `NAPI_GRO_CB(skb)` for the arriving skb.
#[derive(Clone, Copy, Debug, Default)]
pub struct GroCb {
    /// How far the layers have parsed, from `skb.data()` (the network
    /// header): `skb_gro_offset()`.
    pub offset: usize,
    /// Send this frame up on its own, now (`flush`).
    pub flush: bool,
    /// The frame was merged into a held packet (`same_flow`).
    pub same_flow: bool,
    /// The payload's checksum, once the transport validated the frame's
    /// (Linux's `csum` with `csum_valid`).
    pub payload_csum: Wsum,
    /// The transport validated the checksum (`csum_valid`).
    pub csum_valid: bool,
}
// ANCHOR_END: napi_gro_cb

/// A packet GRO holds: the first frame of a flow and the payloads merged
/// behind it. Linux keeps the same facts in the held skb's
/// `NAPI_GRO_CB(p)` and `skb_shinfo(p)`.
pub struct GroHeld {
    /// The first frame; `data()` at its network header, `mac_header` set.
    pub skb: Skb,
    /// The frames merged behind it, each pulled to its payload (Linux's
    /// frags, or `frag_list` and `NAPI_GRO_CB(p)->last`).
    frags: SkBuffHead,
    /// Segments in the packet (`count`).
    pub count: u16,
    /// Still a candidate for the frame being received (`same_flow`, reset
    /// by `gro_list_prepare()` for every frame).
    pub same_flow: bool,
    /// The flow's IP IDs stay fixed, as a DF sender may keep them
    /// (`ip_fixedid`).
    pub ip_fixedid: bool,
    /// Payload bytes per segment: the first frame's (`gso_size`).
    pub gso_size: u16,
    /// Where the first frame's payload starts, from its network header.
    pub payload_off: usize,
    /// Payload bytes held, first frame included (`skb_gro_len(p)`).
    pub gro_len: usize,
    /// Checksum of the held payload, in order (`csum_block_add()` of the
    /// validated segments' sums).
    pub payload_csum: Wsum,
    /// Flags of merged segments the transport must carry into the merged
    /// header (TCP's FIN and PSH: `tcp_flag_word(th2) |= ...`).
    pub flags_or: u32,
    /// The offload that held it, which completes it.
    offload: Arc<dyn OffloadCallbacks>,
}

impl GroHeld {
    /// The packet's length from the network header, merged payloads
    /// included (`p->len`).
    pub fn len(&self) -> usize {
        self.payload_off + self.gro_len
    }

    /// Never empty: it holds at least its first frame's headers.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A device's held packets (`napi_struct.gro`'s list), oldest first.
#[derive(Default)]
pub struct GroList {
    held: Vec<GroHeld>,
}

impl GroList {
    /// Packets held right now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

// ANCHOR: offload_callbacks
/// One layer's offload callbacks (`struct offload_callbacks`): the packet
/// offload for an EtherType (`ip_packet_offload`) and the transport's
/// (`tcpv4_offload`, in `inet_offloads[]`) implement the same hooks: GRO's
/// two, and GSO's fix-up.
pub trait OffloadCallbacks: Send + Sync {
    /// Decide what to do with the frame in `skb` (`gro_receive`): read its
    /// header at `cb.offset`, clear `same_flow` on held packets of other
    /// flows, merge it into its flow's packet with [`skb_gro_receive`]
    /// (which takes it out of `skb` and sets `cb.same_flow`), or set
    /// `cb.flush` to send it up alone. Returns the index in `held` of a
    /// packet that must go up now (`pp`).
    fn gro_receive(
        &self,
        net: &Net,
        held: &mut [GroHeld],
        skb: &mut Option<Skb>,
        cb: &mut GroCb,
    ) -> Option<usize>;

    /// Fix up the merged packet's header at `off` (from `skb.data()`) for
    /// its new length (`gro_complete`); `p` is what was held.
    fn gro_complete(&self, net: &Net, skb: &mut Skb, off: usize, p: &GroHeld);

    /// Fix this layer's header in one segment of a GSO packet, which
    /// [`Net::skb_gso_segment`] gave a copy of the first segment's
    /// headers (`gso_segment`: the header fix-ups of `inet_gso_segment()`,
    /// and of `tcp_gso_segment()` or `__tcp4_gso_segment_list()`). The
    /// network and transport header marks are set. The default leaves the
    /// header as copied.
    fn gso_segment(&self, _net: &Net, _seg: &mut Skb, _at: &GsoSeg) {}
}
// ANCHOR_END: offload_callbacks

/// Where one segment sits in the GSO packet it was cut from, for
/// [`OffloadCallbacks::gso_segment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GsoSeg {
    /// 0 for the first segment.
    pub index: u16,
    /// The packet's last segment.
    pub last: bool,
    /// 0 for a frag-list packet (Linux's `SKB_GSO_FRAGLIST`: TCP's
    /// transmit clones, each with its own transport header). Otherwise the
    /// payload of every segment but the last, of a packet GRO merged
    /// (Linux's `SKB_GSO_TCPV4`, `skb_shinfo(skb)->gso_size`): its later
    /// segments carried only payload and got the first one's transport
    /// header, which the transport fixes (`tcp_gso_segment()`: sequence
    /// number, flags, checksum).
    pub gso_size: u16,
    /// Every segment keeps the first one's IP ID: a merged packet whose
    /// segments came so (`SKB_GSO_TCP_FIXEDID`). Otherwise each takes the
    /// first one's plus its index, as TCP numbered them.
    pub fixedid: bool,
}

/// A registered packet offload (`struct packet_offload`).
pub struct PacketOffload {
    /// EtherType in host order (`type`).
    pub type_: u16,
    /// For listings: `"inet_gro_receive"`.
    pub name: &'static str,
    /// The callbacks.
    pub callbacks: Arc<dyn OffloadCallbacks>,
}

impl std::fmt::Debug for PacketOffload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketOffload").field("type", &format_args!("{:#06x}", self.type_)).finish()
    }
}

impl Net {
    /// Register a packet offload (`dev_add_offload()`): the newest first.
    pub fn dev_add_offload(&self, po: Arc<PacketOffload>) {
        self.offload_base.write().insert(0, po);
    }

    /// Remove one (`dev_remove_offload()`); true if it was registered.
    pub fn dev_remove_offload(&self, po: &Arc<PacketOffload>) -> bool {
        let mut t = self.offload_base.write();
        let before = t.len();
        t.retain(|p| !Arc::ptr_eq(p, po));
        t.len() != before
    }

    /// The offload for an EtherType, if any (`gro_find_receive_by_type()`).
    pub fn gro_find_receive_by_type(&self, type_: u16) -> Option<Arc<dyn OffloadCallbacks>> {
        self.offload_base.read().iter().find(|p| p.type_ == type_).map(|p| p.callbacks.clone())
    }

    // ANCHOR: gro_receive_batch
    /// Run a polled batch through GRO and up the stack: what
    /// `napi_gro_receive()` does for each frame and `napi_complete_done()`'s
    /// flush does at the end. Frames GRO will not touch go up at once, in
    /// order behind anything their flow held.
    ///
    /// `classify` is the driver's part for each frame (`eth_type_trans()`
    /// and the counters), run as the frame is taken; a frame it refuses is
    /// gone.
    pub(crate) fn napi_gro_receive_batch(
        &self,
        dev: &NetDev,
        frames: &mut SkBuffHead,
        classify: impl Fn(Skb) -> Option<Skb>,
        deliver: impl Fn(&Net, Skb),
    ) {
        // The list lives in the device so its capacity is reused; take it
        // out so no lock is held while packets go up.
        let mut gro = std::mem::take(&mut *dev.napi_gro.lock());
        // The offload of the last EtherType seen: a batch is nearly always
        // all IPv4, so the table is read once per batch.
        let mut cached: Option<(u16, Option<Arc<dyn OffloadCallbacks>>)> = None;
        while let Some(skb) = frames.dequeue() {
            let Some(skb) = classify(skb) else { continue };
            if cached.as_ref().is_none_or(|(t, _)| *t != skb.protocol) {
                cached = Some((skb.protocol, self.gro_find_receive_by_type(skb.protocol)));
            }
            match cached.as_ref().and_then(|(_, o)| o.as_ref()) {
                Some(o) => self.dev_gro_receive(o, &mut gro, skb, &deliver),
                None => deliver(self, skb),
            }
        }
        self.napi_gro_flush(&mut gro, &deliver);
        *dev.napi_gro.lock() = gro;
    }
    // ANCHOR_END: gro_receive_batch

    // ANCHOR: dev_gro_receive
    /// One frame through GRO (`dev_gro_receive()`).
    ///
    /// `gro_list_prepare()` marks the held packets whose device and
    /// link-layer header match as candidates; the offload decides; a packet
    /// it names (`pp`) goes up first. Then the frame is merged (done),
    /// goes up alone (`flush`), or is held as a new flow, pushing the
    /// oldest out when [`MAX_GRO_SKBS`] are held (`gro_flush_oldest()`).
    /// A held frame's `gso_size` is its payload length.
    fn dev_gro_receive(
        &self,
        offload: &Arc<dyn OffloadCallbacks>,
        gro: &mut GroList,
        skb: Skb,
        deliver: &impl Fn(&Net, Skb),
    ) {
        crate::ftrace_graph!("dev_gro_receive");
        for p in gro.held.iter_mut() {
            p.same_flow = p.skb.dev == skb.dev && same_mac_header(mac_bytes(&p.skb), mac_bytes(&skb));
        }
        let mut cb = GroCb::default();
        let mut slot = Some(skb);
        let pp = offload.gro_receive(self, &mut gro.held, &mut slot, &mut cb);
        if let Some(i) = pp {
            let p = gro.held.remove(i);
            self.napi_gro_complete(p, deliver);
        }
        let Some(mut skb) = slot else {
            debug_assert!(cb.same_flow);
            return; // GRO_MERGED
        };
        if cb.flush {
            deliver(self, skb); // GRO_NORMAL
            return;
        }
        if gro.held.len() >= MAX_GRO_SKBS {
            let oldest = gro.held.remove(0);
            self.napi_gro_complete(oldest, deliver);
        }
        let gro_len = skb.len() - cb.offset;
        if cb.csum_valid {
            skb.ip_summed = IpSummed::Unnecessary;
        }
        gro.held.push(GroHeld {
            skb,
            frags: SkBuffHead::new(),
            count: 1,
            same_flow: false,
            ip_fixedid: false,
            gso_size: gro_len as u16,
            payload_off: cb.offset,
            gro_len,
            payload_csum: cb.payload_csum,
            flags_or: 0,
            offload: offload.clone(),
        }); // GRO_HELD
    }
    // ANCHOR_END: dev_gro_receive

    /// Send every held packet up, oldest first (`__napi_gro_flush()`).
    fn napi_gro_flush(&self, gro: &mut GroList, deliver: &impl Fn(&Net, Skb)) {
        for p in gro.held.drain(..) {
            self.napi_gro_complete(p, deliver);
        }
    }

    // ANCHOR: napi_gro_complete
    /// Send a held packet up (`napi_gro_complete()`). A lone frame goes as
    /// it came. Merged frames go on the first one's frag list, where Linux
    /// hands up its frags; the offloads fix the first one's headers to
    /// describe the whole (`inet_gro_complete()`, then
    /// `tcp4_gro_complete()`), and `gso_size`/`gso_segs` say what it was.
    /// No payload is copied here: a layer that must read the packet as one
    /// run of bytes calls `skb_linearize()`, or, as a tap does in
    /// `netif_receive_skb()`, reads a copy (`skb_copy()`).
    fn napi_gro_complete(&self, mut p: GroHeld, deliver: &impl Fn(&Net, Skb)) {
        if p.count == 1 {
            return deliver(self, p.skb);
        }
        crate::ftrace_graph!("napi_gro_complete");
        let offload = p.offload.clone();
        // The first frame leaves `p` (its headers are rewritten while the
        // offloads read `p`'s merge state); a pooled empty head stands in.
        let mut skb = std::mem::replace(&mut p.skb, alloc_skb(0));
        skb.frag_list_mut().splice_tail_init(&mut p.frags);
        skb.gso_size = p.gso_size;
        skb.gso_segs = p.count;
        skb.gso_fixedid = p.ip_fixedid;
        skb.ip_summed = IpSummed::Unnecessary;
        offload.gro_complete(self, &mut skb, 0, &p);
        deliver(self, skb);
    }
    // ANCHOR_END: napi_gro_complete
}

/// Two link-layer headers are the same (`gro_list_prepare()`): an
/// Ethernet header is compared as fixed-size words, as Linux's
/// `compare_ether_header()` does, and anything else byte by byte
/// (`memcmp()`).
fn same_mac_header(a: &[u8], b: &[u8]) -> bool {
    use crate::if_ether::ETH_HLEN;
    match (<&[u8; ETH_HLEN]>::try_from(a), <&[u8; ETH_HLEN]>::try_from(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The link-layer header: from the MAC header mark to `data`.
fn mac_bytes(skb: &Skb) -> &[u8] {
    let m = skb.mac_header();
    &m[..m.len().saturating_sub(skb.len())]
}

// ANCHOR: skb_gro_receive
/// Merge the frame in `skb` into the held packet `p` (`skb_gro_receive()`):
/// its payload (from `cb.offset`) goes behind what `p` holds and its
/// checksum is added to `p`'s. `E2BIG`, as in Linux, when the result
/// would reach [`GRO_LEGACY_MAX_SIZE`] or the frame must go up alone: the
/// caller then sends `p` up and holds the frame as a new flow.
pub fn skb_gro_receive(p: &mut GroHeld, skb: &mut Option<Skb>, cb: &mut GroCb) -> Result<(), Errno> {
    let Some(s) = skb.as_ref() else { return Err(Errno::E2BIG) };
    let len = s.len() - cb.offset;
    if p.len() + len >= GRO_LEGACY_MAX_SIZE || cb.flush {
        return Err(Errno::E2BIG);
    }
    let mut s = skb.take().expect("checked above");
    s.pull(cb.offset);
    p.payload_csum = crate::checksum::csum_block_add(p.payload_csum, cb.payload_csum, p.gro_len);
    p.gro_len += len;
    p.count += 1;
    p.frags.queue_tail(s);
    cb.same_flow = true;
    Ok(())
}
// ANCHOR_END: skb_gro_receive
