//! # net-dev — devices (not built yet)
//!
//! This crate will hold drivers implementing net-core's `NetDevice`: loopback
//! (drivers/net/loopback.c), a veth-like wire with netem-style faults, TAP
//! (drivers/net/tun.c from the user side), pcap record and replay, and the
//! simulator that steps several hosts in virtual time. It is the subject of
//! the tracker's net-dev issue and holds no code yet.
