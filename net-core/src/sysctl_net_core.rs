//! The `net.core` sysctls.
//!
//! Mirrors `net/core/sysctl_net_core.c` (the `net_core_table` and
//! `netns_core_table` entries) of **Linux 6.18**, with the defaults those
//! variables start with (`net/core/sock.c`, `net/core/hotdata.c`,
//! `include/linux/socket.h`) and the bounds of their `proc_handler`s. Only
//! the knobs linnet reads are here; the rest (`busy_poll`, `bpf_jit_*`,
//! `rps_sock_flow_entries`, `default_qdisc` …) have nothing to act on.
//!
//! Every value is per namespace here (see [`crate::sysctl_net`]); in Linux
//! only `somaxconn` and `optmem_max` are, the others being global.
//!
//! `txqueuelen` is not a sysctl: it is a device attribute (`ip link set dev
//! eth0 txqueuelen 1000`), kept on the device.

use crate::sysctl_net::{INT_MAX, INT_MIN, Sysctl, SysctlDef, SysctlTable};

/// `HZ` as linnet fixes it (see `jiffies.rs`); Linux's
/// `netdev_budget_usecs` default and minimum are two jiffies in µs.
const HZ: i64 = 1000;
const USEC_PER_SEC: i64 = 1_000_000;

/// `SOCK_MIN_SNDBUF` (include/net/sock.h): `2 * TCP_SKB_MIN_TRUESIZE`, where
/// `TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff))`
/// is 2304 on x86-64.
pub const SOCK_MIN_SNDBUF: i64 = 2 * 2304;
/// `SOCK_MIN_RCVBUF`: `TCP_SKB_MIN_TRUESIZE`, 2304 on x86-64.
pub const SOCK_MIN_RCVBUF: i64 = 2304;
/// `SK_RMEM_DEFAULT` = `SK_WMEM_DEFAULT` = `SKB_TRUESIZE(256) * 256`: 212992
/// on x86-64.
pub const SK_MEM_DEFAULT: i64 = 212_992;
/// `sysctl_rmem_max` and `sysctl_wmem_max` start at 4 MiB since Linux 6.18
/// (`4 << 20`; 212992 before).
pub const SK_MEM_MAX: i64 = 4 << 20;

// ANCHOR: somaxconn
/// `net.core.somaxconn`: the cap on a listener's accept queue;
/// `listen(fd, backlog)` uses `min(backlog, somaxconn)`. `SOMAXCONN` = 4096.
pub static SOMAXCONN: SysctlDef = SysctlDef {
    name: "net.core.somaxconn",
    default: &[4096],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Upper limit on the backlog argument of listen(): the accept queue length.",
};
// ANCHOR_END: somaxconn

/// `net.core.netdev_max_backlog`: how many frames a CPU's input queue
/// (`softnet_data.input_pkt_queue`) holds before `netif_rx` drops. Plain
/// `proc_dointvec`: any `int`.
pub static NETDEV_MAX_BACKLOG: SysctlDef = SysctlDef {
    name: "net.core.netdev_max_backlog",
    default: &[1000],
    min: INT_MIN,
    max: INT_MAX,
    validate: None,
    doc: "Frames queued on input, per CPU, when the stack is slower than the devices.",
};

/// `net.core.netdev_budget`: how many frames one `net_rx_action` run may
/// take from all NAPI devices together. Plain `proc_dointvec`.
pub static NETDEV_BUDGET: SysctlDef = SysctlDef {
    name: "net.core.netdev_budget",
    default: &[300],
    min: INT_MIN,
    max: INT_MAX,
    validate: None,
    doc: "Frames one NET_RX softirq run may process across all devices.",
};

/// `net.core.netdev_budget_usecs`: how long one `net_rx_action` run may
/// last. Default and minimum are two jiffies, `2 * USEC_PER_SEC / HZ`.
pub static NETDEV_BUDGET_USECS: SysctlDef = SysctlDef {
    name: "net.core.netdev_budget_usecs",
    default: &[2 * USEC_PER_SEC / HZ],
    min: 2 * USEC_PER_SEC / HZ,
    max: INT_MAX,
    validate: None,
    doc: "Microseconds one NET_RX softirq run may last.",
};

/// `net.core.dev_weight`: the NAPI weight of the per-CPU backlog device,
/// frames per poll (`weight_p`). At least 1.
pub static DEV_WEIGHT: SysctlDef = SysctlDef {
    name: "net.core.dev_weight",
    default: &[64],
    min: 1,
    max: INT_MAX,
    validate: None,
    doc: "Frames the backlog NAPI instance may process per poll.",
};

/// `net.core.rmem_default`: a socket's initial receive buffer
/// (`sk_rcvbuf`) for protocols without their own (UDP; TCP uses
/// `tcp_rmem[1]`).
pub static RMEM_DEFAULT: SysctlDef = SysctlDef {
    name: "net.core.rmem_default",
    default: &[SK_MEM_DEFAULT],
    min: SOCK_MIN_RCVBUF,
    max: INT_MAX,
    validate: None,
    doc: "Default receive socket buffer size, in bytes.",
};

/// `net.core.wmem_default`: a socket's initial send buffer (`sk_sndbuf`)
/// for protocols without their own.
pub static WMEM_DEFAULT: SysctlDef = SysctlDef {
    name: "net.core.wmem_default",
    default: &[SK_MEM_DEFAULT],
    min: SOCK_MIN_SNDBUF,
    max: INT_MAX,
    validate: None,
    doc: "Default send socket buffer size, in bytes.",
};

/// `net.core.rmem_max`: the largest `SO_RCVBUF` an unprivileged
/// `setsockopt` may ask for (the kernel then doubles it).
pub static RMEM_MAX: SysctlDef = SysctlDef {
    name: "net.core.rmem_max",
    default: &[SK_MEM_MAX],
    min: SOCK_MIN_RCVBUF,
    max: INT_MAX,
    validate: None,
    doc: "Maximum receive socket buffer size settable with SO_RCVBUF, in bytes.",
};

/// `net.core.wmem_max`: the largest `SO_SNDBUF` an unprivileged
/// `setsockopt` may ask for.
pub static WMEM_MAX: SysctlDef = SysctlDef {
    name: "net.core.wmem_max",
    default: &[SK_MEM_MAX],
    min: SOCK_MIN_SNDBUF,
    max: INT_MAX,
    validate: None,
    doc: "Maximum send socket buffer size settable with SO_SNDBUF, in bytes.",
};

/// `net.core.optmem_max`: the per-socket limit on ancillary memory
/// (`sk_omem_alloc`: socket filters, multicast lists, zerocopy
/// notifications). 128 KiB, per namespace since Linux 6.8.
pub static OPTMEM_MAX: SysctlDef = SysctlDef {
    name: "net.core.optmem_max",
    default: &[128 * 1024],
    min: 0,
    max: INT_MAX,
    validate: None,
    doc: "Maximum ancillary buffer size allowed per socket, in bytes.",
};

/// Every `net.core` sysctl this file declares, in `sysctl -a` order.
pub static NET_CORE_SYSCTLS: [&SysctlDef; 10] = [
    &DEV_WEIGHT,
    &NETDEV_BUDGET,
    &NETDEV_BUDGET_USECS,
    &NETDEV_MAX_BACKLOG,
    &OPTMEM_MAX,
    &RMEM_DEFAULT,
    &RMEM_MAX,
    &SOMAXCONN,
    &WMEM_DEFAULT,
    &WMEM_MAX,
];

/// The handles on a namespace's `net.core` sysctls, for the code that reads
/// them on the hot path (Linux: `net->core.sysctl_somaxconn`,
/// `net_hotdata.max_backlog` …).
#[derive(Clone, Debug)]
pub struct NetCoreSysctls {
    /// `net.core.somaxconn`.
    pub somaxconn: Sysctl,
    /// `net.core.netdev_max_backlog`.
    pub netdev_max_backlog: Sysctl,
    /// `net.core.netdev_budget`.
    pub netdev_budget: Sysctl,
    /// `net.core.netdev_budget_usecs`.
    pub netdev_budget_usecs: Sysctl,
    /// `net.core.dev_weight`.
    pub dev_weight: Sysctl,
    /// `net.core.rmem_default`.
    pub rmem_default: Sysctl,
    /// `net.core.wmem_default`.
    pub wmem_default: Sysctl,
    /// `net.core.rmem_max`.
    pub rmem_max: Sysctl,
    /// `net.core.wmem_max`.
    pub wmem_max: Sysctl,
    /// `net.core.optmem_max`.
    pub optmem_max: Sysctl,
}

/// Registers the `net.core` sysctls in a namespace's table and returns their
/// handles.
///
/// Mirrors `sysctl_core_net_init()` (`register_net_sysctl(net, "net/core",
/// tbl)`) together with the init-time registration of `net_core_table`.
/// Calling it again on the same table returns handles on the same values.
#[doc(alias = "sysctl_core_net_init")]
pub fn register_net_core(table: &SysctlTable) -> NetCoreSysctls {
    NetCoreSysctls {
        somaxconn: table.register(&SOMAXCONN),
        netdev_max_backlog: table.register(&NETDEV_MAX_BACKLOG),
        netdev_budget: table.register(&NETDEV_BUDGET),
        netdev_budget_usecs: table.register(&NETDEV_BUDGET_USECS),
        dev_weight: table.register(&DEV_WEIGHT),
        rmem_default: table.register(&RMEM_DEFAULT),
        wmem_default: table.register(&WMEM_DEFAULT),
        rmem_max: table.register(&RMEM_MAX),
        wmem_max: table.register(&WMEM_MAX),
        optmem_max: table.register(&OPTMEM_MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    #[test]
    fn defaults_are_linux_6_18() {
        let t = SysctlTable::new();
        let c = register_net_core(&t);
        assert_eq!(c.somaxconn.get(), 4096);
        assert_eq!(c.netdev_max_backlog.get(), 1000);
        assert_eq!(c.netdev_budget.get(), 300);
        assert_eq!(c.netdev_budget_usecs.get(), 2000);
        assert_eq!(c.dev_weight.get(), 64);
        assert_eq!(c.rmem_default.get(), 212992);
        assert_eq!(c.wmem_default.get(), 212992);
        assert_eq!(c.rmem_max.get(), 4194304);
        assert_eq!(c.wmem_max.get(), 4194304);
        assert_eq!(c.optmem_max.get(), 131072);
        // `sysctl net.core` on a 6.18 host (HZ=1000 for budget_usecs).
        let listing: Vec<String> = t.entries().iter().map(|(k, v)| format!("{k} = {v}")).collect();
        assert_eq!(
            listing,
            [
                "net.core.dev_weight = 64",
                "net.core.netdev_budget = 300",
                "net.core.netdev_budget_usecs = 2000",
                "net.core.netdev_max_backlog = 1000",
                "net.core.optmem_max = 131072",
                "net.core.rmem_default = 212992",
                "net.core.rmem_max = 4194304",
                "net.core.somaxconn = 4096",
                "net.core.wmem_default = 212992",
                "net.core.wmem_max = 4194304",
            ]
        );
        let names: Vec<&str> = NET_CORE_SYSCTLS.iter().map(|d| d.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn ranges() {
        let t = SysctlTable::new();
        let c = register_net_core(&t);
        let err = |name: &str, v: &str| t.set(name, v).unwrap_err().to_string();
        assert_eq!(
            err("net.core.somaxconn", "-1"),
            "sysctl: setting key \"net.core.somaxconn\": Invalid argument \
             (expected an integer in 0..=2147483647)"
        );
        assert_eq!(
            err("net.core.dev_weight", "0"),
            "sysctl: setting key \"net.core.dev_weight\": Invalid argument \
             (expected an integer in 1..=2147483647)"
        );
        assert_eq!(
            err("net.core.rmem_max", "2303"),
            "sysctl: setting key \"net.core.rmem_max\": Invalid argument \
             (expected an integer in 2304..=2147483647)"
        );
        assert!(t.set("net.core.wmem_default", "4607").is_err());
        assert!(t.set("net.core.netdev_budget_usecs", "1999").is_err());
        assert!(t.set("net.core.somaxconn", "2147483648").is_err());
        // Plain proc_dointvec takes any int, negative ones included.
        t.set("net.core.netdev_max_backlog", "-5").unwrap();
        assert_eq!(c.netdev_max_backlog.get(), -5);
        t.set("net.core.rmem_max", "2304").unwrap();
        assert_eq!(c.rmem_max.get(), 2304);
        t.set("net.core.somaxconn", "0").unwrap();
        assert_eq!(c.somaxconn.get(), 0);
    }

    #[test]
    fn unknown_names() {
        let t = SysctlTable::new();
        register_net_core(&t);
        let e = t.set("net.core.somaxcon", "1").unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
        assert_eq!(
            e.to_string(),
            "sysctl: cannot stat /proc/sys/net/core/somaxcon: No such file or directory"
        );
        assert_eq!(
            t.read("net.core.txqueuelen").unwrap_err().to_string(),
            "sysctl: cannot stat /proc/sys/net/core/txqueuelen: No such file or directory"
        );
        assert!(t.lookup("net.ipv4.tcp_syncookies").is_none());
    }

    #[test]
    fn slash_names() {
        let t = SysctlTable::new();
        let c = register_net_core(&t);
        t.set("net/core/somaxconn", "128").unwrap();
        assert_eq!(c.somaxconn.get(), 128);
        assert_eq!(t.read("net/core/somaxconn").unwrap(), "128");
        assert_eq!(t.read("/proc/sys/net/core/dev_weight").unwrap(), "64");
    }

    #[test]
    fn registering_again_shares_values() {
        let t = SysctlTable::new();
        let a = register_net_core(&t);
        t.set("net.core.somaxconn", "77").unwrap();
        let b = register_net_core(&t);
        assert_eq!(b.somaxconn.get(), 77);
        // Another namespace has its own.
        let other = SysctlTable::new();
        assert_eq!(register_net_core(&other).somaxconn.get(), 4096);
        assert_eq!(a.somaxconn.get(), 77);
    }
}
