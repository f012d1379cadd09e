//! EtherType numbers and Ethernet sizes.
//!
//! Mirrors include/uapi/linux/if_ether.h. Values are host-order `u16`s, as
//! `skb.protocol` holds them (Linux stores them big-endian, `htons(ETH_P_IP)`).

/// Octets in one Ethernet address (`ETH_ALEN`).
pub const ETH_ALEN: usize = 6;
/// Octets in the Ethernet header: two addresses and the type (`ETH_HLEN`).
pub const ETH_HLEN: usize = 14;
/// Minimum frame length without the FCS (`ETH_ZLEN`).
pub const ETH_ZLEN: usize = 60;
/// Maximum payload of a standard frame (`ETH_DATA_LEN`).
pub const ETH_DATA_LEN: usize = 1500;
/// Maximum frame length without the FCS (`ETH_FRAME_LEN`).
pub const ETH_FRAME_LEN: usize = 1514;

/// Values of `h_proto` below this are 802.3 lengths, not types (`ETH_P_802_3_MIN`).
pub const ETH_P_802_3_MIN: u16 = 0x0600;
/// Dummy type for 802.3 frames (`ETH_P_802_3`).
pub const ETH_P_802_3: u16 = 0x0001;
/// Every packet: what a tap registers (`ETH_P_ALL`).
pub const ETH_P_ALL: u16 = 0x0003;
/// 802.2 frames (`ETH_P_802_2`).
pub const ETH_P_802_2: u16 = 0x0004;
/// Internet Protocol v4 (`ETH_P_IP`).
pub const ETH_P_IP: u16 = 0x0800;
/// Address Resolution Protocol (`ETH_P_ARP`).
pub const ETH_P_ARP: u16 = 0x0806;
/// 802.1Q VLAN tag (`ETH_P_8021Q`).
pub const ETH_P_8021Q: u16 = 0x8100;
/// Internet Protocol v6 (`ETH_P_IPV6`).
pub const ETH_P_IPV6: u16 = 0x86DD;
