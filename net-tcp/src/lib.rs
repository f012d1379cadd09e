//! # net-tcp — TCP (not built yet)
//!
//! This crate will mirror Linux's net/ipv4/tcp*.c, inet_*.c, request_sock.c,
//! syncookies.c and af_inet.c: sockets, the established/bind/listening hash
//! tables, the state machine, options, timers, the listen queues and every
//! closing state. It is the subject of the tracker's TCP issues and holds no
//! code yet.
