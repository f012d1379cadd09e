//! The netdevice notifier chain: who hears that a device changed.
//!
//! Mirrors `register_netdevice_notifier()` and `call_netdevice_notifiers()`
//! (net/core/dev.c, include/linux/netdevice.h). Protocols register a
//! callback; the core calls every one, in registration order, after a
//! change it made. IPv4's `fib_netdev_event()` is the one listener here: a
//! new MTU makes every cached route stale (`rt_cache_flush()`), so a
//! connected socket looks its route up again and sees the new path MTU; a
//! device going down takes its routes and neighbours with it, and coming
//! up brings its addresses' routes back.
//!
//! Where we differ: Linux raises a dozen events (`NETDEV_CHANGEADDR`,
//! `NETDEV_UNREGISTER`, `NETDEV_GOING_DOWN`, …) under RTNL; this chain
//! carries the three the core raises through it — `NETDEV_UP` from
//! [`Net::dev_open`], `NETDEV_DOWN` from [`Net::dev_close`],
//! `NETDEV_CHANGEMTU` from [`Net::dev_set_mtu`] — and a callback must not
//! register another (the chain's lock is held while it runs).
//! [`NetDev::open`] and [`NetDev::close`] are Linux's `__dev_open()` and
//! `__dev_close()`: the device alone, nobody told — what a cable pulled
//! out looks like to the stack above, which keeps its routes (Linux's
//! carrier loss, `NETDEV_CHANGE`, does not flush them either).

use std::sync::Arc;

use crate::net_namespace::Net;
use crate::netdevice::NetDev;

/// What changed (`NETDEV_*` in include/linux/netdevice.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetdevEvent {
    /// `NETDEV_UP`: the device was brought up ([`Net::dev_open`]).
    Up,
    /// `NETDEV_DOWN`: the device was taken down ([`Net::dev_close`]).
    Down,
    /// `NETDEV_CHANGEMTU`: the device's MTU is now `dev.mtu()`; it was
    /// `old_mtu` (`struct netdev_notifier_info_ext`'s `ext.mtu`).
    ChangeMtu {
        /// The MTU before the change.
        old_mtu: u32,
    },
}

/// A listener (`struct notifier_block`'s `notifier_call`).
pub type NetdevNotifier = Arc<dyn Fn(&Net, NetdevEvent, &NetDev) + Send + Sync>;

impl Net {
    /// Add a listener to this namespace's chain
    /// (`register_netdevice_notifier_net()`).
    pub fn register_netdevice_notifier(&self, nb: NetdevNotifier) {
        self.netdev_chain.write().push(nb);
    }

    /// Tell every listener (`call_netdevice_notifiers()`).
    pub fn call_netdevice_notifiers(&self, event: NetdevEvent, dev: &NetDev) {
        for nb in self.netdev_chain.read().iter() {
            nb(self, event, dev);
        }
    }

    /// Bring `dev` up and tell the chain (`dev_open()`: `__dev_open()`, then
    /// `NETDEV_UP`). A device up already changes nothing and tells nobody;
    /// a driver's refusal is returned and tells nobody either.
    pub fn dev_open(&self, dev: &NetDev) -> Result<(), crate::Errno> {
        if dev.is_up() {
            return Ok(());
        }
        dev.open()?;
        self.call_netdevice_notifiers(NetdevEvent::Up, dev);
        Ok(())
    }

    /// Take `dev` down and tell the chain (`dev_close()`: `__dev_close()`,
    /// then `NETDEV_DOWN`). A device down already tells nobody.
    pub fn dev_close(&self, dev: &NetDev) {
        if !dev.is_up() {
            return;
        }
        dev.close();
        self.call_netdevice_notifiers(NetdevEvent::Down, dev);
    }

    // ANCHOR: dev_set_mtu
    /// Change `dev`'s MTU and tell the chain (`dev_set_mtu()`:
    /// `__dev_set_mtu()`, then `NETDEV_CHANGEMTU`). `EINVAL` outside the
    /// device's `min_mtu..=max_mtu`, or whatever the driver refuses with;
    /// the same MTU again changes nothing and tells nobody.
    #[doc(alias = "dev_set_mtu_ext")]
    pub fn dev_set_mtu(&self, dev: &NetDev, mtu: u32) -> Result<(), crate::Errno> {
        let old_mtu = dev.mtu();
        if mtu == old_mtu {
            return Ok(());
        }
        dev.set_mtu(mtu)?;
        self.call_netdevice_notifiers(NetdevEvent::ChangeMtu { old_mtu }, dev);
        Ok(())
    }
    // ANCHOR_END: dev_set_mtu
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::netdevice::{NetDevice, NetDeviceSetup, NetdevTx};
    use crate::skbuff::{SkBuffHead, Skb};
    use std::sync::Mutex;

    /// A device that sends nowhere and receives nothing.
    struct NullDev;

    impl NetDevice for NullDev {
        fn setup(&self) -> NetDeviceSetup {
            NetDeviceSetup::ether("eth0", [2, 0, 0, 0, 0, 1])
        }
        fn ndo_start_xmit(&mut self, _skb: Skb) -> NetdevTx {
            NetdevTx::Ok
        }
        fn poll(&mut self, _budget: usize, _rx: &mut SkBuffHead) -> usize {
            0
        }
    }

    #[test]
    fn every_listener_hears_a_new_mtu_once_and_a_refused_one_not_at_all() {
        let net = Net::new("n", Clock::new_virtual(), 1);
        let dev = net.register_netdev(Box::new(NullDev)).unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        for who in ["fib", "arp"] {
            let h = heard.clone();
            net.register_netdevice_notifier(Arc::new(move |_: &Net, ev: NetdevEvent, d: &NetDev| {
                h.lock().unwrap().push((who, ev, d.mtu()));
            }));
        }
        net.dev_set_mtu(&dev, 9000).unwrap();
        net.dev_set_mtu(&dev, 9000).unwrap(); // no change: nobody hears
        assert_eq!(net.dev_set_mtu(&dev, 10), Err(crate::Errno::EINVAL));
        let ev = NetdevEvent::ChangeMtu { old_mtu: 1500 };
        assert_eq!(*heard.lock().unwrap(), [("fib", ev, 9000), ("arp", ev, 9000)]);
    }

    #[test]
    fn up_and_down_are_heard_on_a_change_only() {
        let net = Net::new("n", Clock::new_virtual(), 1);
        let dev = net.register_netdev(Box::new(NullDev)).unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        net.register_netdevice_notifier(Arc::new(move |_: &Net, ev: NetdevEvent, d: &NetDev| {
            h.lock().unwrap().push((ev, d.is_up()));
        }));
        net.dev_open(&dev).unwrap();
        net.dev_open(&dev).unwrap(); // up already: nobody hears
        net.dev_close(&dev);
        net.dev_close(&dev); // down already
        dev.open().unwrap(); // __dev_open(): nobody hears
        dev.close();
        // Each listener runs after the change: the device is up when it
        // hears Up, down when it hears Down.
        assert_eq!(*heard.lock().unwrap(), [(NetdevEvent::Up, true), (NetdevEvent::Down, false)]);
    }
}
