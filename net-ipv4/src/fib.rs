//! The Forwarding Information Base: the `local` and `main` routing tables,
//! and Linux 0.99's routing list as a teaching variant.
//!
//! Mirrors `net/ipv4/fib_trie.c` (`fib_table_insert()`,
//! `fib_table_delete()`, `fib_table_lookup()`), `net/ipv4/fib_frontend.c`
//! (`fib_lookup()` over the local then the main table, the `RTN_*` route
//! types) and `net/ipv4/fib_semantics.c` (metric order among routes to one
//! prefix) of **Linux 6.18**; and, for [`RtList099`], `net/inet/route.c` of
//! Linux 0.99.15 (`rt_add()`, `rt_route()`).
//!
//! Read first: RFC 1812 §5.2.4 (a router's route lookup: longest match,
//! then a metric among equals) and RFC 4632 (CIDR prefixes, which ended the
//! class A/B/C masks 0.99 still guessed).
//!
//! # The structure, and how it differs from Linux's
//!
//! Linux keeps each table in an LC-trie (level-compressed path-compressed
//! trie, Nilsson & Karlsson 1999): internal nodes have `2^bits` children
//! with `bits` chosen per node by how full it is, leaves hold every prefix
//! length that shares one key, and a lookup descends comparing keys, then
//! backtracks through `tnode->pos` if the leaf's prefixes do not cover the
//! address. It is compact and RCU-friendly, and it is a lot of code.
//!
//! [`FibTable`] is a fixed-stride multibit trie (stride 8, four levels, by
//! "controlled prefix expansion", Srinivasan & Varghese 1999): level `l`
//! resolves address bits `8l..8l+8`; a prefix of length `len` lives in the
//! one node at level `(len-1)/8` its first bits lead to, expanded over the
//! `2^(8(l+1)-len)` slots it covers. Each slot keeps the most specific
//! prefix of its node covering it and a child pointer; a lookup reads at
//! most four slots, remembering the last hit, with no backtracking. The
//! routes themselves sit in 33 hash maps keyed by masked prefix (one per
//! length), which `fib_table_insert`/`fib_table_delete` use to find
//! duplicates and to repair slots a deleted prefix had covered. We chose
//! it over the LC-trie for short code and a predictable lookup (≤ 4
//! dependent loads); it spends more memory (2 KiB per node; empty nodes are
//! not reclaimed) and does not share prefixes between tables.
//!
//! Among routes to one prefix the lowest metric (Linux: `fib_priority`)
//! wins; equal prefix and metric is `EEXIST` as with `ip route add`
//! (`NLM_F_EXCL`). There are no TOS keys, nexthop groups, multipath or
//! policy rules (`fib_rules.c`): `fib_lookup` is Linux's default rule set
//! reduced to "local, then main".
//!
//! Lock order: a table's lock is the outermost lock of this crate's
//! routing ("FIB" in lib.rs); no other lock is taken while holding it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use crate::Ipv4Addr;
use net_core::{Errno, Net};

/// Route types (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtnType {
    /// A gateway or direct route (`RTN_UNICAST`).
    Unicast,
    /// Accept locally (`RTN_LOCAL`).
    Local,
    /// Accept locally as broadcast (`RTN_BROADCAST`).
    Broadcast,
    /// Multicast (`RTN_MULTICAST`).
    Multicast,
    /// Drop silently (`RTN_BLACKHOLE`).
    Blackhole,
    /// Destination unreachable (`RTN_UNREACHABLE`).
    Unreachable,
    /// Administratively prohibited (`RTN_PROHIBIT`).
    Prohibit,
}

/// One route (`struct fib_alias` + `fib_info`, flattened).
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(alias = "fib_alias")]
#[doc(alias = "fib_info")]
pub struct FibRoute {
    /// Destination prefix.
    pub dst: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefixlen: u8,
    /// Next hop, or `None` for a directly connected route.
    pub gateway: Option<Ipv4Addr>,
    /// Output device ifindex.
    pub oif: u32,
    /// Metric (priority); lower wins among equal prefixes.
    pub metric: u32,
    /// Type.
    pub rtn_type: RtnType,
    /// Preferred source address.
    pub prefsrc: Option<Ipv4Addr>,
}

impl FibRoute {
    /// A unicast route, metric 0, no preferred source: what
    /// `ip route add DST/LEN [via GW] dev OIF` creates.
    pub fn unicast(dst: Ipv4Addr, prefixlen: u8, gateway: Option<Ipv4Addr>, oif: u32) -> FibRoute {
        FibRoute { dst, prefixlen, gateway, oif, metric: 0, rtn_type: RtnType::Unicast, prefsrc: None }
    }
}

/// `RT_TABLE_MAIN`: where `ip route add` puts routes.
pub const RT_TABLE_MAIN: u32 = 254;
/// `RT_TABLE_LOCAL`: local and broadcast addresses, filled by the kernel.
pub const RT_TABLE_LOCAL: u32 = 255;

/// `RTPROT_KERNEL`: a route the kernel made (`fib_add_ifaddr()`).
pub const RTPROT_KERNEL: u8 = 2;
/// `RTPROT_BOOT`: a route added by `ip route add` without `proto`.
pub const RTPROT_BOOT: u8 = 3;

/// `RT_SCOPE_UNIVERSE`: reachable through a gateway.
pub const RT_SCOPE_UNIVERSE: u8 = 0;
/// `RT_SCOPE_LINK`: on a directly attached link.
pub const RT_SCOPE_LINK: u8 = 253;
/// `RT_SCOPE_HOST`: on this host.
pub const RT_SCOPE_HOST: u8 = 254;

/// The netmask of a prefix length (`inet_make_mask()`), host order.
#[inline]
pub fn inet_make_mask(prefixlen: u8) -> u32 {
    if prefixlen == 0 { 0 } else { u32::MAX << (32 - u32::from(prefixlen.min(32))) }
}

/// One stored route with what `ip route` prints beside it (Linux keeps
/// `fa_type`, `fib_protocol` and `fib_scope` on the alias and the info).
#[derive(Clone, Debug)]
struct FibAlias {
    route: FibRoute,
    protocol: u8,
}

impl FibAlias {
    /// The scope `fib_table_insert` derives when userspace gives none
    /// (`rtm_scope` from `ip route`): host for local routes, link for
    /// on-link ones, universe through a gateway.
    fn scope(&self) -> u8 {
        match (self.route.rtn_type, self.route.gateway) {
            (RtnType::Local, _) => RT_SCOPE_HOST,
            (RtnType::Broadcast, _) => RT_SCOPE_LINK,
            (RtnType::Unicast, None) => RT_SCOPE_LINK,
            _ => RT_SCOPE_UNIVERSE,
        }
    }
}

/// A cheap hasher for already well-mixed `u32` keys (Fibonacci hashing).
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PrefixMap<V> = HashMap<u32, V, BuildHasherDefault<PrefixHasher>>;

/// Slot value meaning "no prefix" / "no child".
const NONE: u32 = 0;
const STRIDE: u32 = 8;
const SLOTS: usize = 1 << STRIDE;

/// One trie node: 256 slots resolving 8 address bits.
struct Node {
    /// The address bits above this node (`8 * level` of them), masked.
    base: u32,
    level: u8,
    /// `best[i]`: 1 + index in `FibTable::groups` of the most specific
    /// prefix of this node covering slot `i`, or [`NONE`].
    best: Box<[u32; SLOTS]>,
    /// `bestlen[i]`: that prefix's length.
    bestlen: Box<[u8; SLOTS]>,
    /// `child[i]`: index of the node for the next 8 bits, or [`NONE`] (the
    /// root is node 0 and never anyone's child).
    child: Box<[u32; SLOTS]>,
}

impl Node {
    fn new(base: u32, level: u8) -> Node {
        Node {
            base,
            level,
            best: Box::new([NONE; SLOTS]),
            bestlen: Box::new([0; SLOTS]),
            child: Box::new([NONE; SLOTS]),
        }
    }
}

/// The level a prefix of `len` bits is stored at.
#[inline]
fn level_of(len: u8) -> u8 {
    if len == 0 { 0 } else { (len - 1) / STRIDE as u8 }
}

/// The routes to one prefix, lowest metric first (Linux: the `fib_alias`
/// list of one leaf and slen).
struct FibGroup {
    key: u32,
    prefixlen: u8,
    aliases: Vec<FibAlias>,
}

/// One routing table (`struct fib_table`): see the module documentation
/// for its layout.
#[doc(alias = "fib_table")]
pub struct FibTable {
    /// `tb_id`: [`RT_TABLE_LOCAL`] or [`RT_TABLE_MAIN`].
    pub tb_id: u32,
    /// Per prefix length, masked prefix → index into `groups`.
    by_len: Vec<PrefixMap<u32>>,
    /// Route groups; `None` slots are free and listed in `free`.
    groups: Vec<Option<FibGroup>>,
    free: Vec<u32>,
    nodes: Vec<Node>,
    routes: usize,
}

impl FibTable {
    /// An empty table with id `tb_id`.
    pub fn new(tb_id: u32) -> FibTable {
        FibTable {
            tb_id,
            by_len: (0..=32).map(|_| PrefixMap::default()).collect(),
            groups: Vec::new(),
            free: Vec::new(),
            nodes: vec![Node::new(0, 0)],
            routes: 0,
        }
    }

    /// How many routes the table holds.
    pub fn len(&self) -> usize {
        self.routes
    }

    /// Whether the table holds no route.
    pub fn is_empty(&self) -> bool {
        self.routes == 0
    }

    /// Add `r` as `ip route add` does (protocol `boot`).
    ///
    /// Mirrors `fib_table_insert()` (net/ipv4/fib_trie.c) with
    /// `NLM_F_CREATE | NLM_F_EXCL`: `EINVAL` if `prefixlen > 32` or `dst`
    /// has bits set beyond the prefix ("Invalid prefix for given prefix
    /// length"); `EEXIST` if a route to the same prefix with the same
    /// metric exists. Nothing changes on error.
    pub fn fib_table_insert(&mut self, r: FibRoute) -> Result<(), Errno> {
        self.fib_table_insert_proto(r, RTPROT_BOOT)
    }

    /// [`FibTable::fib_table_insert`] recording the route's origin
    /// (`rtm_protocol`: [`RTPROT_KERNEL`] for routes made by `devinet`).
    pub fn fib_table_insert_proto(&mut self, r: FibRoute, protocol: u8) -> Result<(), Errno> {
        if r.prefixlen > 32 {
            return Err(Errno::EINVAL);
        }
        let key = u32::from(r.dst);
        if key & !inet_make_mask(r.prefixlen) != 0 {
            return Err(Errno::EINVAL);
        }
        let len = r.prefixlen;
        if let Some(&gi) = self.by_len[usize::from(len)].get(&key) {
            let g = self.groups[gi as usize].as_mut().expect("indexed group exists");
            if g.aliases.iter().any(|a| a.route.metric == r.metric) {
                return Err(Errno::EEXIST);
            }
            let pos = g.aliases.partition_point(|a| a.route.metric < r.metric);
            g.aliases.insert(pos, FibAlias { route: r, protocol });
            self.routes += 1;
            return Ok(());
        }
        let group = FibGroup { key, prefixlen: len, aliases: vec![FibAlias { route: r, protocol }] };
        let gi = match self.free.pop() {
            Some(i) => {
                self.groups[i as usize] = Some(group);
                i
            }
            None => {
                self.groups.push(Some(group));
                (self.groups.len() - 1) as u32
            }
        };
        self.by_len[usize::from(len)].insert(key, gi);
        self.routes += 1;
        let node = self.node_for(key, len, true).expect("created on demand");
        let (lo, hi) = slot_range(key, len);
        let n = &mut self.nodes[node];
        for s in lo..hi {
            if n.best[s] == NONE || n.bestlen[s] <= len {
                n.best[s] = gi + 1;
                n.bestlen[s] = len;
            }
        }
        Ok(())
    }

    /// Remove the route to `dst/prefixlen`, the one with `metric` if given
    /// or else the first (lowest metric), and return it.
    ///
    /// Mirrors `fib_table_delete()` (net/ipv4/fib_trie.c): `ESRCH` ("No
    /// such process", as Linux answers) when nothing matches, `EINVAL` for a
    /// bad prefix.
    pub fn fib_table_delete(
        &mut self,
        dst: Ipv4Addr,
        prefixlen: u8,
        metric: Option<u32>,
    ) -> Result<FibRoute, Errno> {
        self.fib_table_delete_if(dst, prefixlen, |r| metric.is_none_or(|m| r.metric == m))
    }

    /// Remove the first route to `dst/prefixlen` that `pred` accepts.
    /// Errors as [`FibTable::fib_table_delete`].
    pub fn fib_table_delete_if(
        &mut self,
        dst: Ipv4Addr,
        prefixlen: u8,
        pred: impl Fn(&FibRoute) -> bool,
    ) -> Result<FibRoute, Errno> {
        if prefixlen > 32 {
            return Err(Errno::EINVAL);
        }
        let key = u32::from(dst);
        if key & !inet_make_mask(prefixlen) != 0 {
            return Err(Errno::EINVAL);
        }
        let gi = *self.by_len[usize::from(prefixlen)].get(&key).ok_or(Errno::ESRCH)?;
        let g = self.groups[gi as usize].as_mut().expect("indexed group exists");
        let pos = g.aliases.iter().position(|a| pred(&a.route)).ok_or(Errno::ESRCH)?;
        let removed = g.aliases.remove(pos).route;
        self.routes -= 1;
        if g.aliases.is_empty() {
            self.groups[gi as usize] = None;
            self.free.push(gi);
            self.by_len[usize::from(prefixlen)].remove(&key);
            self.repair(key, prefixlen, gi);
        }
        Ok(removed)
    }

    /// Remove every route `pred` accepts (Linux: `fib_table_flush()` /
    /// `fib_sync_down_dev()` for a device going away); returns them.
    pub fn fib_table_flush(&mut self, pred: impl Fn(&FibRoute) -> bool) -> Vec<FibRoute> {
        let victims: Vec<FibRoute> = self.routes().into_iter().filter(|r| pred(r)).collect();
        for r in &victims {
            let _ = self.fib_table_delete_if(r.dst, r.prefixlen, |x| x == r);
        }
        victims
    }

    /// After the last route to `key/len` went away: give every slot it had
    /// won back to the next most specific prefix of the same node.
    fn repair(&mut self, key: u32, len: u8, gi: u32) {
        let Some(node) = self.node_for(key, len, false) else { return };
        let (lo, hi) = slot_range(key, len);
        let level = self.nodes[node].level;
        let shift = 24 - 8 * u32::from(level);
        let base = self.nodes[node].base;
        let min_len = if level == 0 { 0 } else { level * STRIDE as u8 + 1 };
        for s in lo..hi {
            if self.nodes[node].best[s] != gi + 1 {
                continue;
            }
            let addr = base | ((s as u32) << shift);
            let mut found = (NONE, 0u8);
            for l in (min_len..len).rev() {
                if let Some(&g) = self.by_len[usize::from(l)].get(&(addr & inet_make_mask(l))) {
                    found = (g + 1, l);
                    break;
                }
            }
            let n = &mut self.nodes[node];
            n.best[s] = found.0;
            n.bestlen[s] = found.1;
        }
    }

    /// The node holding prefixes of length `len` under `key`, creating the
    /// path if `create`.
    fn node_for(&mut self, key: u32, len: u8, create: bool) -> Option<usize> {
        let mut node = 0usize;
        for level in 0..level_of(len) {
            let shift = 24 - 8 * u32::from(level);
            let slot = ((key >> shift) & 0xff) as usize;
            let c = self.nodes[node].child[slot];
            node = if c != NONE {
                c as usize
            } else if create {
                let base = key & inet_make_mask(8 * (level + 1));
                self.nodes.push(Node::new(base, level + 1));
                let idx = self.nodes.len() - 1;
                self.nodes[node].child[slot] = idx as u32;
                idx
            } else {
                return None;
            };
        }
        Some(node)
    }

    // ANCHOR: fib_table_lookup
    /// Longest-prefix match in this table; among routes to that prefix, the
    /// lowest metric.
    ///
    /// Mirrors `fib_table_lookup()` (net/ipv4/fib_trie.c): `None` when no
    /// prefix covers `daddr` (Linux: `-EAGAIN`, which `fib_lookup` turns
    /// into "try the next table", then `-ENETUNREACH`). Reads at most four
    /// trie slots.
    #[inline]
    pub fn fib_table_lookup(&self, daddr: Ipv4Addr) -> Option<&FibRoute> {
        let key = u32::from(daddr);
        let mut best = NONE;
        let mut node = &self.nodes[0];
        let mut shift = 24u32;
        loop {
            let slot = ((key >> shift) & 0xff) as usize;
            let b = node.best[slot];
            if b != NONE {
                best = b;
            }
            let c = node.child[slot];
            if c == NONE || shift == 0 {
                break;
            }
            node = &self.nodes[c as usize];
            shift -= 8;
        }
        if best == NONE {
            return None;
        }
        self.groups[(best - 1) as usize].as_ref().map(|g| &g.aliases[0].route)
    }
    // ANCHOR_END: fib_table_lookup

    /// Every route, in `ip route` dump order: by prefix value, longer
    /// prefixes of one value first, then by metric.
    pub fn routes(&self) -> Vec<FibRoute> {
        self.aliases().into_iter().map(|(a, _)| a.route.clone()).collect()
    }

    fn aliases(&self) -> Vec<(&FibAlias, u8)> {
        let mut groups: Vec<&FibGroup> = self.groups.iter().flatten().collect();
        groups.sort_by_key(|g| (g.key, std::cmp::Reverse(g.prefixlen)));
        groups.iter().flat_map(|g| g.aliases.iter().map(|a| (a, a.protocol))).collect()
    }
}

/// The slots `key/len` covers in its node.
#[inline]
fn slot_range(key: u32, len: u8) -> (usize, usize) {
    let level = level_of(len);
    let shift = 24 - 8 * u32::from(level);
    let lo = ((key >> shift) & 0xff) as usize;
    let span = 1usize << (8 * (u32::from(level) + 1) - u32::from(len));
    (lo, lo + span)
}

impl std::fmt::Debug for FibTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FibTable")
            .field("tb_id", &self.tb_id)
            .field("routes", &self.routes)
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

/// The local and main tables.
///
/// Each table sits behind a `spin::RwLock`: lookups (every packet) take
/// the read side for a few loads; writers (`ip route`, address changes)
/// are rare and short. Linux reads under RCU instead.
pub struct Fib {
    /// `RT_TABLE_LOCAL`: our addresses (`RTN_LOCAL`) and broadcast
    /// addresses (`RTN_BROADCAST`).
    pub local: spin::RwLock<FibTable>,
    /// `RT_TABLE_MAIN`: everything else.
    pub main: spin::RwLock<FibTable>,
    /// Learnt path MTUs per destination (Linux: the nexthops'
    /// `fib_nh_exception`s); see [`crate::route::update_pmtu`].
    pub pmtu: crate::route::PmtuExceptions,
    /// `net->ipv4.rt_genid`: bumped by every change made through these
    /// methods and by path-MTU updates, so a socket's cached route
    /// (`sk_dst_cache`) knows it is stale (`rt_genid_bump_ipv4()`). 32
    /// bits, as Linux's `atomic_t`; it wraps, and a cache entry 2^32
    /// changes old would be taken for current, in Linux as here.
    genid: std::sync::atomic::AtomicU32,
}

impl Fib {
    /// Empty tables.
    pub fn new() -> Self {
        Fib {
            local: spin::RwLock::new(FibTable::new(RT_TABLE_LOCAL)),
            main: spin::RwLock::new(FibTable::new(RT_TABLE_MAIN)),
            pmtu: crate::route::PmtuExceptions::default(),
            genid: std::sync::atomic::AtomicU32::new(1),
        }
    }

    /// `rt_genid_ipv4()`: the routing generation a cached route was taken in.
    pub fn rt_genid(&self) -> u32 {
        self.genid.load(std::sync::atomic::Ordering::Acquire)
    }

    /// `rt_genid_bump_ipv4()`: invalidate every cached route.
    pub fn rt_genid_bump(&self) {
        self.genid.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn table_for(&self, r: &FibRoute) -> &spin::RwLock<FibTable> {
        match r.rtn_type {
            RtnType::Local | RtnType::Broadcast => &self.local,
            _ => &self.main,
        }
    }

    /// `ip route add` (`fib_table_insert()`): `EEXIST` for a duplicate
    /// (same prefix and metric), `EINVAL` for a malformed prefix. Local
    /// and broadcast routes go to the local table, the rest to main, as
    /// `fib_magic()` and `ip route` place them.
    pub fn fib_table_insert(&self, r: FibRoute) -> Result<(), Errno> {
        let res = self.table_for(&r).write().fib_table_insert(r);
        self.rt_genid_bump();
        res
    }

    /// [`Fib::fib_table_insert`] with a protocol (`RTPROT_KERNEL` for the
    /// routes `devinet` makes; Linux's `fib_magic()`).
    pub fn fib_table_insert_proto(&self, r: FibRoute, protocol: u8) -> Result<(), Errno> {
        let res = self.table_for(&r).write().fib_table_insert_proto(r, protocol);
        self.rt_genid_bump();
        res
    }

    /// `ip route del dst/prefixlen [metric M]` on the main table
    /// (`fib_table_delete()`): `ESRCH` when no route
    /// matches.
    pub fn fib_table_delete(
        &self,
        dst: Ipv4Addr,
        prefixlen: u8,
        metric: Option<u32>,
    ) -> Result<FibRoute, Errno> {
        let res = self.main.write().fib_table_delete(dst, prefixlen, metric);
        self.rt_genid_bump();
        res
    }

    /// Longest-prefix match, local table first (`fib_lookup()`).
    ///
    /// Mirrors `fib_lookup()` (include/net/ip_fib.h) without policy rules:
    /// the local table, then main; `None` when neither has a route (the
    /// caller reports `ENETUNREACH`).
    pub fn fib_lookup(&self, daddr: Ipv4Addr) -> Option<FibRoute> {
        if let Some(r) = self.local.read().fib_table_lookup(daddr) {
            return Some(r.clone());
        }
        self.main.read().fib_table_lookup(daddr).cloned()
    }

    /// The local table's type for `addr` (`inet_addr_type()`): `Local`
    /// (one of our addresses, or inside a loopback device's prefix),
    /// `Broadcast`, `Multicast` for 224/4, or `Unicast` when it is none of
    /// these.
    pub fn inet_addr_type(&self, addr: Ipv4Addr) -> RtnType {
        if addr == Ipv4Addr::BROADCAST {
            return RtnType::Broadcast;
        }
        if addr.is_multicast() {
            return RtnType::Multicast;
        }
        self.local.read().fib_table_lookup(addr).map_or(RtnType::Unicast, |r| r.rtn_type)
    }

    /// `ip route` (`ip route show table main`): one line per route.
    ///
    /// ```text
    /// default via 10.0.0.1 dev eth0
    /// 10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1
    /// ```
    #[doc(alias = "inet_dump_fib")]
    pub fn ip_route_show(&self, net: &Net) -> String {
        show_table(&self.main.read(), net, false)
    }

    /// `ip route show table local`.
    pub fn ip_route_show_local(&self, net: &Net) -> String {
        show_table(&self.local.read(), net, true)
    }
}

fn show_table(t: &FibTable, net: &Net, local: bool) -> String {
    let mut out = String::new();
    for (a, protocol) in t.aliases() {
        let r = &a.route;
        let prefix = if r.prefixlen == 0 {
            "default".to_string()
        } else if r.prefixlen == 32 {
            r.dst.to_string()
        } else {
            format!("{}/{}", r.dst, r.prefixlen)
        };
        let kind = match r.rtn_type {
            RtnType::Unicast => "",
            RtnType::Local => "local ",
            RtnType::Broadcast => "broadcast ",
            RtnType::Multicast => "multicast ",
            RtnType::Blackhole => "blackhole ",
            RtnType::Unreachable => "unreachable ",
            RtnType::Prohibit => "prohibit ",
        };
        let _ = write!(out, "{kind}{prefix}");
        if let Some(gw) = r.gateway {
            let _ = write!(out, " via {gw}");
        }
        let unicastish = matches!(r.rtn_type, RtnType::Unicast | RtnType::Local | RtnType::Broadcast);
        if unicastish {
            let name =
                net.dev_get_by_index(r.oif).map(|d| d.name.clone()).unwrap_or_else(|| format!("if{}", r.oif));
            let _ = write!(out, " dev {name}");
        }
        if local {
            out.push_str(" table local");
        }
        if protocol == RTPROT_KERNEL {
            out.push_str(" proto kernel");
        }
        match a.scope() {
            RT_SCOPE_LINK if unicastish => out.push_str(" scope link"),
            RT_SCOPE_HOST => out.push_str(" scope host"),
            _ => {}
        }
        if let Some(src) = r.prefsrc {
            let _ = write!(out, " src {src}");
        }
        if r.metric != 0 {
            let _ = write!(out, " metric {}", r.metric);
        }
        out.push('\n');
    }
    out
}

impl Default for Fib {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Fib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib").field("local", &*self.local.read()).field("main", &*self.main.read()).finish()
    }
}

// ANCHOR: fib_netdev_event
/// What a device's change means for routing (`fib_netdev_event()`,
/// net/ipv4/fib_frontend.c).
///
/// - A new MTU makes every cached route stale (`rt_cache_flush()`): a
///   connected socket looks its route up again and sees the device's new
///   MTU as the path MTU, lowering its MSS. Linux's `fib_sync_mtu()` also
///   lowers path MTU exceptions above the new MTU; ours are capped by the
///   device's MTU when a route is looked up.
/// - Down (`fib_disable_ip()`): every route out of the device goes — the
///   connected prefix, the broadcast route, and routes through a gateway
///   on it, which do not come back — except the local routes of its
///   addresses, which keep the addresses reachable on this host; cached
///   routes are stale; and the device's neighbours, permanent ones too,
///   are flushed (`arp_ifdown()`).
/// - Up: each address's routes are made again (`fib_add_ifaddr()`).
///
/// As Linux 6.18 did on a veth pair here: after `ip link set va down`,
/// `ip route show table all` kept only `local 10.11.1.1 dev va`, and `ip
/// neigh` was empty (a permanent entry included); after `up`, the prefix
/// and broadcast routes were back and the route via a gateway was not.
///
/// Where we differ: Linux marks a route's next hop dead
/// (`fib_sync_down_dev()`) and then flushes the routes left with none
/// alive; with one next hop per route, we remove them outright.
pub fn fib_netdev_event(
    net: &Net,
    ipv4: &crate::Ipv4,
    event: net_core::dev_notifier::NetdevEvent,
    dev: &net_core::NetDev,
) {
    use net_core::dev_notifier::NetdevEvent;
    match event {
        NetdevEvent::ChangeMtu { .. } => ipv4.fib.rt_genid_bump(),
        NetdevEvent::Down => {
            let ifindex = dev.ifindex;
            ipv4.fib.main.write().fib_table_flush(|r| r.oif == ifindex);
            ipv4.fib.local.write().fib_table_flush(|r| r.oif == ifindex && r.rtn_type != RtnType::Local);
            ipv4.fib.rt_genid_bump();
            ipv4.arp_tbl.neigh_ifdown(net, ifindex); // arp_ifdown()
        }
        NetdevEvent::Up => {
            crate::devinet::fib_add_ifaddrs_of(ipv4, dev.ifindex);
            ipv4.fib.rt_genid_bump();
        }
    }
}
// ANCHOR_END: fib_netdev_event

/// `ip_fib_init()`'s `register_netdevice_notifier(&fib_netdev_notifier)`:
/// put [`fib_netdev_event`] on the namespace's chain.
pub fn ip_fib_init(net: &Net, ipv4: &std::sync::Arc<crate::Ipv4>) {
    let ipv4 = std::sync::Arc::downgrade(ipv4);
    net.register_netdevice_notifier(std::sync::Arc::new(move |net: &Net, event, dev: &net_core::NetDev| {
        if let Some(ipv4) = ipv4.upgrade() {
            fib_netdev_event(net, &ipv4, event, dev);
        }
    }));
}

// ---------------------------------------------------------------------------
// Linux 0.99.15: the routing table as one sorted list.
// ---------------------------------------------------------------------------

/// `RTF_UP`: the route is usable.
pub const RTF_UP: u16 = 0x0001;
/// `RTF_GATEWAY`: the destination is reached through `rt_gateway`.
pub const RTF_GATEWAY: u16 = 0x0002;
/// `RTF_HOST`: a host route (mask forced to `255.255.255.255`).
pub const RTF_HOST: u16 = 0x0004;
/// `RTF_DYNAMIC`: made by an ICMP redirect.
pub const RTF_DYNAMIC: u16 = 0x0010;

/// The parts of 0.99's `struct device` that `rt_add`/`rt_route` read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device099 {
    /// Which device (our stand-in for the `struct device *`).
    pub ifindex: u32,
    /// `name`.
    pub name: String,
    /// `flags` (`IFF_BROADCAST`, `IFF_LOOPBACK` …, net-core's values).
    pub flags: u32,
    /// `pa_addr`: the one address a 0.99 device had.
    pub pa_addr: Ipv4Addr,
    /// `pa_brdaddr`.
    pub pa_brdaddr: Ipv4Addr,
    /// `pa_mask`.
    pub pa_mask: Ipv4Addr,
}

/// One entry of 0.99's list (`struct rtable`, without `rt_next`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rt099 {
    /// `rt_dst`.
    pub rt_dst: Ipv4Addr,
    /// `rt_mask`.
    pub rt_mask: Ipv4Addr,
    /// `rt_gateway` (0.0.0.0 when none).
    pub rt_gateway: Ipv4Addr,
    /// `rt_flags`.
    pub rt_flags: u16,
    /// `rt_dev`, by ifindex.
    pub rt_dev: u32,
    /// `rt_use`: how many lookups returned this entry.
    pub rt_use: u64,
}

/// Linux 0.99.15's routing table, kept as the 003 article reads it: a
/// plain singly linked list (`rt_base`) searched front to back, the first
/// entry with `(rt_dst ^ daddr) & rt_mask == 0` winning.
///
/// What makes first-match work at all is `rt_add()`'s ordering: a new
/// route goes in front of the first entry whose mask is not a superset of
/// its own ("the first address which has a higher generality"), so the
/// list runs from host routes down to the default route, and first match
/// is longest match — until the quirks: `rt_add` first deletes *every*
/// route with the same `rt_dst`, whatever its mask, so `10.0.0.0/8` added
/// after `10.0.0.0/24` replaces it; a destination equal to an interface's
/// broadcast address takes the first entry whose device broadcasts there;
/// and one equal to the chosen device's own address is answered by the
/// loopback route.
#[derive(Clone, Debug, Default)]
#[doc(alias = "rt_base")]
pub struct RtList099 {
    /// `rt_base`, front first.
    pub rt_base: Vec<Rt099>,
    /// `rt_loopback`: the last route added through a loopback device, as
    /// (dst, mask).
    rt_loopback: Option<(Ipv4Addr, Ipv4Addr)>,
    /// `dev_base`.
    pub devices: Vec<Device099>,
}

/// `default_mask()`: the classful mask of an address (A: /8, B: /16, C: /24).
pub fn default_mask_099(dst: Ipv4Addr) -> Ipv4Addr {
    let d = u32::from(dst);
    if d & 0x8000_0000 == 0 {
        Ipv4Addr::new(255, 0, 0, 0)
    } else if d & 0xC000_0000 == 0x8000_0000 {
        Ipv4Addr::new(255, 255, 0, 0)
    } else {
        Ipv4Addr::new(255, 255, 255, 0)
    }
}

impl RtList099 {
    /// An empty list with no devices.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a device (`dev_base`).
    pub fn dev_add(&mut self, dev: Device099) {
        self.devices.push(dev);
    }

    fn dev(&self, ifindex: u32) -> Option<&Device099> {
        self.devices.iter().find(|d| d.ifindex == ifindex)
    }

    /// `guess_mask()`: the classful mask, unless `dst` is in the device's
    /// own classful network, where the device's mask is used.
    fn guess_mask(dst: u32, dev: &Device099) -> u32 {
        if dst == 0 {
            return 0;
        }
        let mask = u32::from(default_mask_099(Ipv4Addr::from(dst)));
        if (dst ^ u32::from(dev.pa_addr)) & mask != 0 { mask } else { u32::from(dev.pa_mask) }
    }

    /// `get_gw_dev()`: the device of the first route covering `gw`, if that
    /// route is not itself through a gateway ("gateways behind gateways are
    /// a no-no").
    fn get_gw_dev(&self, gw: u32) -> Option<u32> {
        let r = self.rt_base.iter().find(|r| (gw ^ u32::from(r.rt_dst)) & u32::from(r.rt_mask) == 0)?;
        (r.rt_flags & RTF_GATEWAY == 0).then_some(r.rt_dev)
    }

    // ANCHOR: rt_add_099
    /// Mirrors 0.99's `rt_add(flags, dst, mask, gw, dev)` (net/inet/route.c,
    /// "rewrote rt_add(), as the old one was weird. Linus"):
    ///
    /// 1. `RTF_HOST` forces the mask to /32; a zero mask is guessed: the
    ///    device's mask for its own network (and the gateway flag is
    ///    dropped; a redirect there is ignored), else the classful one; the
    ///    destination is masked.
    /// 2. A gateway equal to the device's address means "direct"; a gateway
    ///    no direct route reaches makes the call a silent no-op.
    /// 3. Every route with the same `rt_dst` is removed, whatever its mask.
    /// 4. The new route goes in front of the first entry whose mask is not
    ///    a superset of its own. A loopback-device route becomes
    ///    `rt_loopback`.
    ///
    /// Returns false where 0.99 returned without adding (unknown device
    /// here, too).
    pub fn rt_add(&mut self, mut flags: u16, dst: Ipv4Addr, mask: Ipv4Addr, gw: Ipv4Addr, dev: u32) -> bool {
        let Some(d) = self.dev(dev).cloned() else { return false };
        let mut dst = u32::from(dst);
        let mut mask = u32::from(mask);
        let mut gw = u32::from(gw);
        if flags & RTF_HOST != 0 {
            mask = u32::MAX;
        } else if mask == 0 {
            if (dst ^ u32::from(d.pa_addr)) & u32::from(d.pa_mask) == 0 {
                mask = u32::from(d.pa_mask);
                flags &= !RTF_GATEWAY;
                if flags & RTF_DYNAMIC != 0 {
                    return false;
                }
            } else {
                mask = Self::guess_mask(dst, &d);
            }
            dst &= mask;
        }
        if gw == u32::from(d.pa_addr) {
            flags &= !RTF_GATEWAY;
        }
        if flags & RTF_GATEWAY != 0 {
            if self.get_gw_dev(gw) != Some(dev) {
                return false;
            }
        } else {
            gw = 0;
        }
        let (dst, mask) = (Ipv4Addr::from(dst), Ipv4Addr::from(mask));
        // Remove old routes to the same destination, any mask.
        self.rt_base.retain(|r| r.rt_dst != dst);
        if self.rt_loopback.is_some_and(|(ld, _)| ld == dst) {
            self.rt_loopback = None;
        }
        let m = u32::from(mask);
        let pos =
            self.rt_base.iter().position(|r| u32::from(r.rt_mask) & m != m).unwrap_or(self.rt_base.len());
        self.rt_base.insert(
            pos,
            Rt099 {
                rt_dst: dst,
                rt_mask: mask,
                rt_gateway: Ipv4Addr::from(gw),
                rt_flags: flags | RTF_UP,
                rt_dev: dev,
                rt_use: 0,
            },
        );
        if d.flags & net_core::netdevice::IFF_LOOPBACK != 0 {
            self.rt_loopback = Some((dst, mask));
        }
        true
    }
    // ANCHOR_END: rt_add_099

    /// Append a route at the end of the list, bypassing `rt_add`'s
    /// ordering: what first match does over an unsorted list.
    pub fn rt_push_unsorted(&mut self, r: Rt099) {
        self.rt_base.push(r);
    }

    // ANCHOR: rt_route_099
    /// Mirrors 0.99's `rt_route(daddr, opt)`: walk `rt_base` and stop at the
    /// first entry whose masked destination equals `daddr`'s, or whose
    /// device broadcasts to exactly `daddr`. If `daddr` is that device's own
    /// address, answer with `rt_loopback` instead. Counts the hit in
    /// `rt_use`. `None` (0.99: `NULL`, the caller's `ENETUNREACH`) when
    /// nothing matches or a local address has no loopback route.
    pub fn rt_route(&mut self, daddr: Ipv4Addr) -> Option<Rt099> {
        let a = u32::from(daddr);
        let idx = self.rt_base.iter().position(|rt| {
            if (u32::from(rt.rt_dst) ^ a) & u32::from(rt.rt_mask) == 0 {
                return true;
            }
            // Broadcast addresses can be special cases..
            self.dev(rt.rt_dev)
                .is_some_and(|d| d.flags & net_core::netdevice::IFF_BROADCAST != 0 && d.pa_brdaddr == daddr)
        })?;
        let dev_addr = self.dev(self.rt_base[idx].rt_dev).map(|d| d.pa_addr);
        let idx = if dev_addr == Some(daddr) {
            let (ld, lm) = self.rt_loopback?;
            self.rt_base.iter().position(|r| r.rt_dst == ld && r.rt_mask == lm)?
        } else {
            idx
        };
        let rt = &mut self.rt_base[idx];
        rt.rt_use += 1;
        Some(rt.clone())
    }
    // ANCHOR_END: rt_route_099

    /// `/proc/net/route` as 0.99's `rt_get_info()` printed it (addresses in
    /// network byte order as hex, like the C `%08lX` of a `__be32` on x86).
    pub fn rt_get_info(&self) -> String {
        let mut out = String::from("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n");
        let hex = |a: Ipv4Addr| u32::from_le_bytes(a.octets());
        for r in &self.rt_base {
            let name = self.dev(r.rt_dev).map_or("?", |d| d.name.as_str());
            let _ = writeln!(
                out,
                "{name}\t{:08X}\t{:08X}\t{:02X}\t0\t{}\t0\t{:08X}",
                hex(r.rt_dst),
                hex(r.rt_gateway),
                r.rt_flags,
                r.rt_use,
                hex(r.rt_mask)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn route(dst: &str, len: u8, oif: u32, metric: u32) -> FibRoute {
        FibRoute {
            dst: ip(dst),
            prefixlen: len,
            gateway: None,
            oif,
            metric,
            rtn_type: RtnType::Unicast,
            prefsrc: None,
        }
    }

    #[test]
    fn longest_prefix_then_metric() {
        let mut t = FibTable::new(RT_TABLE_MAIN);
        t.fib_table_insert(route("0.0.0.0", 0, 1, 0)).unwrap();
        t.fib_table_insert(route("10.0.0.0", 8, 2, 0)).unwrap();
        t.fib_table_insert(route("10.1.0.0", 16, 3, 0)).unwrap();
        t.fib_table_insert(route("10.1.2.0", 24, 4, 100)).unwrap();
        t.fib_table_insert(route("10.1.2.0", 24, 5, 50)).unwrap();
        t.fib_table_insert(route("10.1.2.3", 32, 6, 0)).unwrap();
        t.fib_table_insert(route("10.1.2.128", 25, 7, 0)).unwrap();
        let oif = |t: &FibTable, a: &str| t.fib_table_lookup(ip(a)).map(|r| r.oif);
        assert_eq!(oif(&t, "192.168.1.1"), Some(1));
        assert_eq!(oif(&t, "10.200.0.1"), Some(2));
        assert_eq!(oif(&t, "10.1.200.1"), Some(3));
        assert_eq!(oif(&t, "10.1.2.4"), Some(5), "metric 50 beats 100");
        assert_eq!(oif(&t, "10.1.2.3"), Some(6));
        assert_eq!(oif(&t, "10.1.2.200"), Some(7));
        assert_eq!(t.len(), 7);
        assert_eq!(t.fib_table_insert(route("10.1.2.0", 24, 9, 50)), Err(Errno::EEXIST));
        assert_eq!(t.fib_table_insert(route("10.1.2.1", 24, 9, 0)), Err(Errno::EINVAL));
        assert_eq!(t.fib_table_insert(route("10.1.2.0", 33, 9, 0)), Err(Errno::EINVAL));
        t.fib_table_delete(ip("10.1.2.0"), 24, Some(50)).unwrap();
        assert_eq!(oif(&t, "10.1.2.4"), Some(4));
        t.fib_table_delete(ip("10.1.2.0"), 24, None).unwrap();
        assert_eq!(oif(&t, "10.1.2.4"), Some(3), "falls back to the /16");
        assert_eq!(t.fib_table_delete(ip("10.1.2.0"), 24, None), Err(Errno::ESRCH));
        t.fib_table_delete(ip("0.0.0.0"), 0, None).unwrap();
        assert_eq!(oif(&t, "192.168.1.1"), None);
    }

    #[test]
    fn local_table_first() {
        let fib = Fib::new();
        fib.fib_table_insert(route("10.0.0.0", 24, 2, 0)).unwrap();
        let mut l = route("10.0.0.1", 32, 2, 0);
        l.rtn_type = RtnType::Local;
        fib.fib_table_insert(l).unwrap();
        assert_eq!(fib.fib_lookup(ip("10.0.0.1")).unwrap().rtn_type, RtnType::Local);
        assert_eq!(fib.fib_lookup(ip("10.0.0.2")).unwrap().rtn_type, RtnType::Unicast);
        assert_eq!(fib.inet_addr_type(ip("10.0.0.1")), RtnType::Local);
        assert_eq!(fib.inet_addr_type(ip("10.0.0.2")), RtnType::Unicast);
        assert!(fib.fib_lookup(ip("11.0.0.1")).is_none());
    }

    /// The naive model: scan everything, longest prefix, then lowest metric.
    fn model_lookup(routes: &[FibRoute], a: Ipv4Addr) -> Option<(Ipv4Addr, u8, u32)> {
        routes
            .iter()
            .filter(|r| (u32::from(a) ^ u32::from(r.dst)) & inet_make_mask(r.prefixlen) == 0)
            .min_by_key(|r| (std::cmp::Reverse(r.prefixlen), r.metric))
            .map(|r| (r.dst, r.prefixlen, r.metric))
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, u8, u32),
        Delete(usize),
        Lookup(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct high bits so prefixes nest and collide often.
        let addr =
            (0u32..4, any::<u32>()).prop_map(|(hi, lo)| (hi << 30) | (lo & 0x00ff_ffff) | ((lo & 3) << 24));
        prop_oneof![
            (addr.clone(), 0u8..=32, 0u32..3).prop_map(|(a, l, m)| Op::Insert(a, l, m)),
            any::<usize>().prop_map(Op::Delete),
            addr.prop_map(Op::Lookup),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_a_linear_scan(ops in prop::collection::vec(op(), 1..200)) {
            let mut t = FibTable::new(RT_TABLE_MAIN);
            let mut model: Vec<FibRoute> = Vec::new();
            for o in ops {
                match o {
                    Op::Insert(a, l, m) => {
                        let r = route(&Ipv4Addr::from(a & inet_make_mask(l)).to_string(), l, 1, m);
                        let dup = model.iter().any(|x| x.dst == r.dst && x.prefixlen == l && x.metric == m);
                        let res = t.fib_table_insert(r.clone());
                        prop_assert_eq!(res.is_err(), dup);
                        if !dup { model.push(r); }
                    }
                    Op::Delete(i) => {
                        if !model.is_empty() {
                            let r = model.remove(i % model.len());
                            prop_assert_eq!(t.fib_table_delete(r.dst, r.prefixlen, Some(r.metric)), Ok(r));
                        }
                    }
                    Op::Lookup(a) => {
                        let a = Ipv4Addr::from(a);
                        let got = t.fib_table_lookup(a).map(|r| (r.dst, r.prefixlen, r.metric));
                        prop_assert_eq!(got, model_lookup(&model, a));
                    }
                }
                prop_assert_eq!(t.len(), model.len());
            }
            // Every route's own address finds a route at least that specific.
            for r in &model {
                let got = t.fib_table_lookup(r.dst).map(|x| (x.dst, x.prefixlen, x.metric));
                prop_assert_eq!(got, model_lookup(&model, r.dst));
            }
        }
    }

    fn dev099(ifindex: u32, name: &str, addr: &str, mask: &str, brd: &str, flags: u32) -> Device099 {
        Device099 {
            ifindex,
            name: name.into(),
            flags,
            pa_addr: ip(addr),
            pa_brdaddr: ip(brd),
            pa_mask: ip(mask),
        }
    }

    fn list099() -> RtList099 {
        use net_core::netdevice::{IFF_BROADCAST, IFF_LOOPBACK, IFF_UP};
        let mut l = RtList099::new();
        l.dev_add(dev099(1, "lo", "127.0.0.1", "255.0.0.0", "127.255.255.255", IFF_UP | IFF_LOOPBACK));
        l.dev_add(dev099(2, "eth0", "10.0.0.2", "255.255.255.0", "10.0.0.255", IFF_UP | IFF_BROADCAST));
        let z = ip("0.0.0.0");
        assert!(l.rt_add(0, ip("127.0.0.0"), ip("255.0.0.0"), z, 1));
        assert!(l.rt_add(0, ip("10.0.0.0"), ip("255.255.255.0"), z, 2));
        assert!(l.rt_add(RTF_GATEWAY, z, z, ip("10.0.0.1"), 2)); // default
        l
    }

    #[test]
    fn rt_add_099_sorts_by_generality() {
        let mut l = list099();
        assert!(l.rt_add(RTF_GATEWAY | RTF_HOST, ip("192.168.7.7"), ip("0.0.0.0"), ip("10.0.0.9"), 2));
        let order: Vec<String> = l.rt_base.iter().map(|r| format!("{}/{}", r.rt_dst, r.rt_mask)).collect();
        assert_eq!(
            order,
            [
                "192.168.7.7/255.255.255.255",
                "10.0.0.0/255.255.255.0",
                "127.0.0.0/255.0.0.0",
                "0.0.0.0/0.0.0.0"
            ]
        );
        // A gateway no direct route reaches is silently refused.
        assert!(!l.rt_add(RTF_GATEWAY, ip("172.16.0.0"), ip("255.255.0.0"), ip("99.9.9.9"), 2));
        // A zero mask is guessed classfully: 172.16.0.0 is class B.
        assert!(l.rt_add(RTF_GATEWAY, ip("172.16.5.0"), ip("0.0.0.0"), ip("10.0.0.1"), 2));
        assert!(l.rt_base.iter().any(|r| r.rt_dst == ip("172.16.0.0") && r.rt_mask == ip("255.255.0.0")));
    }

    #[test]
    fn rt_route_099_special_cases() {
        let mut l = list099();
        assert_eq!(l.rt_route(ip("10.0.0.7")).unwrap().rt_dst, ip("10.0.0.0"));
        assert_eq!(l.rt_route(ip("8.8.8.8")).unwrap().rt_gateway, ip("10.0.0.1"));
        // Our own address: answered by the loopback route.
        assert_eq!(l.rt_route(ip("10.0.0.2")).unwrap().rt_dev, 1);
        assert_eq!(l.rt_route(ip("10.0.0.255")).unwrap().rt_dev, 2);
        assert_eq!(l.rt_base.iter().find(|r| r.rt_dst == ip("127.0.0.0")).unwrap().rt_use, 1);
        assert!(l.rt_get_info().starts_with("Iface\tDestination"));
    }

    #[test]
    fn first_match_and_longest_prefix_disagree() {
        // 0.99's rt_add drops every route to the same rt_dst: adding
        // 10.0.0.0/8 after 10.0.0.0/24 replaces the /24.
        let mut l = list099();
        let z = ip("0.0.0.0");
        assert!(l.rt_add(RTF_GATEWAY, ip("10.0.0.0"), ip("255.0.0.0"), ip("10.0.0.1"), 2));
        let mut t = FibTable::new(RT_TABLE_MAIN);
        t.fib_table_insert(route("10.0.0.0", 24, 2, 0)).unwrap();
        let mut via = route("10.0.0.0", 8, 2, 0);
        via.gateway = Some(ip("10.0.0.1"));
        t.fib_table_insert(via).unwrap();
        let d = ip("10.0.0.7");
        assert_eq!(t.fib_table_lookup(d).unwrap().prefixlen, 24, "today: the /24, on-link");
        assert_eq!(l.rt_route(d).unwrap().rt_mask, ip("255.0.0.0"), "0.99: the /8 via the gateway");

        // And over a list not built by rt_add, first match is plainly not
        // longest match.
        let mut u = RtList099::new();
        u.devices = l.devices.clone();
        u.rt_push_unsorted(Rt099 {
            rt_dst: z,
            rt_mask: z,
            rt_gateway: ip("10.0.0.1"),
            rt_flags: RTF_UP | RTF_GATEWAY,
            rt_dev: 2,
            rt_use: 0,
        });
        u.rt_push_unsorted(Rt099 {
            rt_dst: ip("10.0.0.0"),
            rt_mask: ip("255.255.255.0"),
            rt_gateway: z,
            rt_flags: RTF_UP,
            rt_dev: 2,
            rt_use: 0,
        });
        assert_eq!(u.rt_route(d).unwrap().rt_mask, z);
    }
}
