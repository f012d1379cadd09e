//! # net-ipv4 — the network layer (not built yet)
//!
//! This crate will mirror Linux's net/ipv4 (minus TCP) and net/ethernet:
//! `eth_type_trans`, ARP and the neighbour table, `ip_rcv` → `ip_local_deliver`
//! → `inet_protos[]`, `ip_queue_xmit` with fragmentation, reassembly, the FIB,
//! ICMP and UDP. It is the subject of the tracker's net-ipv4 issue and holds
//! no code yet; it stands in the workspace so the crate map in the README
//! and the dependency picture in the architecture are real from day one.
