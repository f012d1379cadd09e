//! OWNER: helper L3 — replace this stub. Mirrors net/ipv4/ip_fragment.c.
/// Reassembly queues.
pub struct IpFrags {}
impl IpFrags {
    /// No queues.
    pub fn new() -> Self {
        IpFrags {}
    }
}
impl Default for IpFrags {
    fn default() -> Self {
        Self::new()
    }
}
