//! OWNER: helper L3 — replace this stub. Mirrors struct iphdr (include/uapi/linux/ip.h).
/// ICMP's protocol number.
pub const IPPROTO_ICMP: u8 = 1;
/// TCP's protocol number.
pub const IPPROTO_TCP: u8 = 6;
/// UDP's protocol number.
pub const IPPROTO_UDP: u8 = 17;
