//! # net-core — the floor every other linnet crate stands on
//!
//! Linux's `net/core` and the headers beside it (`include/linux/skbuff.h`,
//! `netdevice.h`, `jiffies.h`, `timer.h`, `include/net/snmp.h`) hold the pieces
//! that know nothing of IP or TCP: the packet buffer, the device, the table
//! that hands a frame to the protocol named by its EtherType, time, timers,
//! counters and sysctls. This crate is that layer, retold in Rust and mirroring
//! **Linux 6.18**.
//!
//! A frame's life in this crate, in two sentences: a driver's `poll` hands
//! [`Skb`]s to [`Net::net_rx_action`], which gives each to
//! [`Net::netif_receive_skb`]; that walks `ptype_all` (taps get a clone) and the
//! `ptype_base` bucket for `skb.protocol`, delivering with the `pt_prev` trick.
//! On the way out, [`Net::dev_queue_xmit`] shows the frame to the taps, queues it
//! on the device's pfifo and calls the driver's `ndo_start_xmit`.
//!
//! | our file | Linux file(s) | book section | where we differ |
//! |---|---|---|---|
//! | `skbuff.rs` | include/linux/skbuff.h, net/core/skbuff.c | net-core/skbuff | one linear buffer per skb (no page frags; a GSO or GRO packet chains whole skbs on `frag_list`); `cb[48]` is typed through zerocopy; clones share data through an `Arc` and writers unshare on demand instead of requiring `skb_cow` first, except in the header area a transmit clone owns (`skb_clone_xmit`, Linux's `nohdr`); heads and buffers come from a per-thread pool instead of `skbuff_head_cache` + kmalloc |
//! | `netdevice.rs` | include/linux/netdevice.h | net-core/netdevice | a driver is a trait object (`ndo_start_xmit`, NAPI-style `poll`); the registry counts rx/tx stats for the driver |
//! | `dev.rs` | net/core/dev.c | net-core/dev | `rcu_read_lock` becomes a `spin::RwLock` read guard; `deliver_skb` clones instead of bumping `skb->users` |
//! | `dev_notifier.rs` | net/core/dev.c (`register_netdevice_notifier()`, `dev_open()`, `dev_close()`, `dev_set_mtu()`) | net-core/netdevice | three events (`NETDEV_UP`, `NETDEV_DOWN`, `NETDEV_CHANGEMTU`); no `NETDEV_GOING_DOWN`, `NETDEV_CHANGE` or `NETDEV_UNREGISTER` |
//! | `net_namespace.rs` | include/net/net_namespace.h, net/core/net_namespace.c | net-core/net_namespace | `net_generic()` is a small type map |
//! | `jhash.rs` | include/linux/jhash.h | — | — |
//! | `jiffies.rs` | include/linux/jiffies.h, kernel/time/ | net-core/timer | HZ fixed at 1000; a virtual clock for tests and the lab |
//! | `timer.rs` | kernel/time/timer.c | net-core/timer | a cascading wheel with exact expiry (Linux ≥ 4.8 fires coarse timers up to 12.5 % late); pull-style expiry |
//! | `checksum.rs` | include/net/checksum.h, lib/checksum.c | net-core/checksum | portable Rust instead of per-arch assembly |
//! | `snmp.rs` | include/net/snmp.h, include/uapi/linux/snmp.h, net/ipv4/proc.c | net-core/snmp | per-CPU copies as in Linux, with threads as CPUs (`percpu.rs`) |
//! | `percpu.rs` | include/linux/percpu-defs.h, `this_cpu_add()` | net-core/snmp | a thread takes one of `NR_CPUS` slots; threads past that share one atomic copy |
//! | `sysctl_net.rs`, `sysctl_net_core.rs` | net/sysctl_net.c, net/core/sysctl_net_core.c | net-core/sysctl | a name-keyed table per namespace instead of /proc/sys |
//! | `dropreason.rs` | include/net/dropreason-core.h | net-core/skbuff | drops are counted per reason per namespace (Linux traces them) |
//! | `if_ether.rs` | include/uapi/linux/if_ether.h | — | EtherTypes in host order |
//! | `unaligned.rs` | include/linux/unaligned.h | — | safe byte-slice reads instead of pointer casts |
//! | `wait.rs` | include/linux/wait.h, kernel/sched/wait.c | net-tcp | a Condvar and a wake-up generation; always wakes all; timeouts on the namespace clock |
//! | `ftrace.rs` | kernel/trace/fgraph.c, kernel/trace/trace_functions_graph.c | net-core/dev (a frame's path, traced) | an explicit guard per function instead of `__fentry__` patching; one relaxed load when off instead of a nop; per-thread buffers that keep the oldest events |
//! | `win_minmax.rs` | lib/win_minmax.c, include/linux/win_minmax.h | net-tcp/retransmission (RACK) | the running minimum only (no `minmax_running_max()`) |
//! | `errno.rs` | include/uapi/asm-generic/errno*.h | — | — |
//! | `rcupdate.rs` | include/linux/rcupdate.h | net-core/dev | no grace period: a replaced value lives as long as its table, so only registration tables (protocols, header ops, per-namespace state) use it |
//! | `random.rs` | drivers/char/random.c, lib/siphash.c | net-core/net_namespace | every namespace draws from its own seeded generator so a run replays exactly |
//!
//! **Lock order** (outermost first): device registry → a device's qdisc →
//! a device's driver; the packet-type table is only ever read-locked on the
//! data path and may be re-entered (a handler can transmit). No lock is held
//! while a timer callback runs.

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod checksum;
pub mod dev;
pub mod dev_notifier;
pub mod dropreason;
pub mod errno;
pub mod ftrace;
pub mod gro;
pub mod gso;
pub mod if_ether;
pub mod jhash;
pub mod jiffies;
pub mod net_namespace;
pub mod netdevice;
pub mod percpu;
pub mod random;
pub mod rcupdate;
pub mod skbuff;
pub mod snmp;
pub mod sysctl_net;
pub mod sysctl_net_core;
pub mod timer;
pub mod unaligned;
pub mod wait;
pub mod win_minmax;

pub use dev::{NetRx, PacketType};
pub use dropreason::SkbDropReason;
pub use errno::Errno;
pub use jiffies::Clock;
pub use net_namespace::Net;
pub use netdevice::{NetDev, NetDevice, NetDeviceSetup, NetdevTx};
pub use skbuff::{SkBuff, SkBuffHead, Skb};
