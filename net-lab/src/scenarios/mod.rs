//! The scenarios, one file each. See the crate docs.

mod dispatch;
mod skb_geometry;
mod timers;

use crate::Scenario;

/// Every scenario, in tour order.
pub static ALL: &[Scenario] = &[
    Scenario {
        name: "skb-geometry",
        summary: "an sk_buff from alloc_skb to a full frame: reserve, put, push, pull",
        explain: skb_geometry::EXPLAIN,
        in_tour: true,
        run: skb_geometry::run,
    },
    Scenario {
        name: "dispatch",
        summary: "frames find their protocol through ptype_base and the pt_prev trick",
        explain: dispatch::EXPLAIN,
        in_tour: true,
        run: dispatch::run,
    },
    Scenario {
        name: "timers",
        summary: "TCP's timers on the timer wheel in virtual time: hours cost milliseconds",
        explain: timers::EXPLAIN,
        in_tour: true,
        run: timers::run,
    },
];
