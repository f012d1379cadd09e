//! The data path allocates nothing per segment once a connection is warm.
//!
//! Linux takes each skb's head from the `skbuff_head_cache` slab and its
//! data from kmalloc; a warm slab hands out recently freed objects without
//! touching the page allocator. linnet's per-thread skb pool plays that
//! part (net-core/src/skbuff.rs), and the in-memory link hands the skb
//! itself to the peer as veth does. This test counts calls into the global
//! allocator (a counting `#[global_allocator]`, so this file is its own
//! test binary) while two hosts on a hub move 8 MiB one way after a 16 MiB
//! warm-up, and asserts at most one allocation per 64 segments — the
//! occasional growth of a queue's vector, never one per segment. The
//! warm-up is long enough for the send buffer to reach its size:
//! `tcp_sndbuf_expand()` grows it with the congestion window, and a
//! buffer still growing takes fresh skbs from the allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};

use net_core::net_namespace::next_wakeup_ns;
use net_core::snmp::TcpMib;
use net_ipv4::testlink::TwoHosts;
use net_tcp::af_inet::POLLOUT;
use net_tcp::{TcpSocket, inet_init};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is the only addition.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn jump(lab: &TwoHosts) {
    let next = [lab.a.next_event_ns(), lab.b.next_event_ns()].into_iter().flatten().min().expect("stuck");
    lab.clock.set_ns(next_wakeup_ns(lab.clock.now_ns(), next));
}

/// Move `total` bytes from `c` to `s`; returns the bytes checked.
fn transfer(lab: &TwoHosts, c: &TcpSocket, s: &TcpSocket, data: &[u8], buf: &mut [u8], total: usize) {
    let (mut sent, mut got) = (0, 0);
    for _ in 0..10_000_000u32 {
        let mut progress = 0;
        if sent < total {
            let off = sent % data.len();
            let end = data.len().min(off + (total - sent));
            if let Ok(n) = c.send(&data[off..end]) {
                sent += n;
                progress += n;
            }
        }
        progress += lab.a.poll() + lab.b.poll();
        while let Ok(n) = s.recv(buf) {
            assert!(n > 0, "end of stream mid-transfer");
            for (i, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, data[(got + i) % data.len()], "byte {}", got + i);
            }
            got += n;
            progress += n;
        }
        if got == total {
            return;
        }
        if progress == 0 {
            jump(lab);
        }
    }
    panic!("transfer stalled: sent {sent}, got {got}");
}

#[test]
fn bulk_transfer_allocates_nothing_per_segment() {
    // One after the other: the allocation counter is global.
    steady_state(false);
    // GSO and GRO too: the burst's frag list and GRO's held list and
    // merged buffers come from the skb pool and reused lists.
    steady_state(true);
}

fn steady_state(offloads: bool) {
    let lab = TwoHosts::new(0);
    inet_init(&lab.a);
    inet_init(&lab.b);
    for net in [&lab.a, &lab.b] {
        let dev = net.dev_get_by_name("eth0").expect("eth0");
        dev.set_gro(offloads);
        dev.set_gso(offloads);
    }
    let l = TcpSocket::new(&lab.b).expect("socket");
    l.set_nonblocking(true);
    l.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).expect("bind");
    l.listen(8).expect("listen");
    let c = TcpSocket::new(&lab.a).expect("socket");
    c.set_nonblocking(true);
    let _ = c.connect(SocketAddrV4::new(TwoHosts::B, 80));
    let mut child = None;
    while child.is_none() || c.poll() & POLLOUT == 0 {
        while lab.a.poll() + lab.b.poll() > 0 {}
        if child.is_none() {
            child = l.accept().ok();
        }
        if child.is_none() || c.poll() & POLLOUT == 0 {
            jump(&lab);
        }
    }
    let (s, _) = child.expect("accepted");
    s.set_nonblocking(true);
    let data: Vec<u8> = (0..65_521u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut buf = vec![0u8; 65_536];

    // Warm up: the pools, the queues and the congestion window grow.
    transfer(&lab, &c, &s, &data, &mut buf, 16 << 20);
    let segs_before = lab.a.mib.get(TcpMib::OutSegs) + lab.b.mib.get(TcpMib::OutSegs);
    let allocs_before = ALLOCS.load(Ordering::Relaxed);
    transfer(&lab, &c, &s, &data, &mut buf, 8 << 20);
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs_before;
    let segs = lab.a.mib.get(TcpMib::OutSegs) + lab.b.mib.get(TcpMib::OutSegs) - segs_before;
    println!(
        "steady state, offloads {offloads}: {segs} segments (data and ACKs) moved 8 MiB with {allocs} allocations"
    );
    assert!(segs > 5_000, "only {segs} segments");
    assert!(allocs * 64 <= segs, "{allocs} allocations for {segs} segments: more than one per 64");
}
