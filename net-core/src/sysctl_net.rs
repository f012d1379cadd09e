//! Network sysctls: a namespace's `/proc/sys/net` as a table of named
//! integers.
//!
//! Mirrors `net/sysctl_net.c` (`register_net_sysctl()`, one table set per
//! namespace), the integer handlers of `kernel/sysctl.c`
//! (`proc_dointvec_minmax()`, `proc_doulongvec_minmax()`: `extra1`/`extra2`
//! bounds, whitespace-separated vectors) of **Linux 6.18**, and the messages
//! of procps' `sysctl(8)`, so a linnet host is configured — and refuses bad
//! settings — in the words an administrator already knows:
//!
//! ```
//! use net_core::sysctl_net::SysctlTable;
//! use net_core::sysctl_net_core::register_net_core;
//!
//! let table = SysctlTable::new();
//! let core = register_net_core(&table);
//! table.set("net.core.somaxconn", "1024").unwrap();
//! assert_eq!(core.somaxconn.get(), 1024); // a lock-free load on the hot path
//! assert_eq!(table.read("net/core/somaxconn").unwrap(), "1024");
//!
//! let err = table.set("net.core.somaxconn", "-1").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "sysctl: setting key \"net.core.somaxconn\": Invalid argument \
//!      (expected an integer in 0..=2147483647)"
//! );
//! let err = table.read("net.core.somaxcon").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "sysctl: cannot stat /proc/sys/net/core/somaxcon: No such file or directory"
//! );
//! ```
//!
//! # How it fits together
//!
//! Each layer declares its sysctls as `static` [`SysctlDef`]s (name, default,
//! bounds, an optional whole-value check, a line of documentation), the way
//! Linux declares `struct ctl_table` arrays, and registers them in the
//! namespace's [`SysctlTable`] when the namespace is set up
//! (`register_net_sysctl(net, "net/core", table)`). Registration hands back
//! a [`Sysctl`], a cheap clonable handle the layer keeps next to its data:
//! reading it is one relaxed atomic load, Linux's `READ_ONCE(net->core.
//! sysctl_somaxconn)`.
//!
//! # Parsing, as `proc_dointvec` parses
//!
//! A write is whitespace-separated integers. Each may have a leading `-`, and
//! its base follows C's `strtoul(…, 0)`: `0x1f` is hex, `017` octal,
//! anything else decimal. Anything after a number other than whitespace
//! (`12abc`), a number that overflows, or an empty write is `EINVAL`. A
//! vector sysctl takes up to its length in values; fewer leave the remaining
//! elements as they were, as Linux does (`echo 4096 > tcp_rmem` changes
//! only `min`).
//!
//! # Where we differ
//!
//! - One table per namespace holds every sysctl. Linux shares some net.core
//!   knobs (`netdev_max_backlog`, `rmem_max` …) between all namespaces and
//!   only shows them in the initial one; here every namespace has its own.
//! - A write is all or nothing. Linux's `proc_dointvec_minmax` stores the
//!   values before a bad one and then fails; we check every value (and the
//!   [`SysctlDef::validate`] hook) first and change nothing on error. More
//!   values than the vector holds is an error here; Linux stops reading and
//!   reports a short write.
//! - Integer sysctls, plus a minimal string kind ([`StrSysctlDef`]) for
//!   the few knobs Linux keeps as strings (`tcp_congestion_control`): one
//!   value, an optional check that may refuse it with the errno Linux's
//!   handler returns, or a read-only value computed on each read
//!   (`tcp_available_congestion_control`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering, fence};

use crate::errno::Errno;

/// `INT_MAX`: the upper bound of every `int` sysctl.
pub const INT_MAX: i64 = i32::MAX as i64;
/// `INT_MIN`: the lower bound of an `int` sysctl handled by plain
/// `proc_dointvec` (no `extra1`).
pub const INT_MIN: i64 = i32::MIN as i64;

/// A whole-value check run after the per-element bounds, on the full vector
/// as it would be after the write (e.g. `ip_local_port_range`: low < high).
/// The message is shown after "Invalid argument".
pub type SysctlValidator = fn(&[i64]) -> Result<(), &'static str>;

// ANCHOR: sysctl_def
/// The declaration of one sysctl: Linux's `struct ctl_table` entry for an
/// integer handled by `proc_dointvec_minmax`.
///
/// Usable in a `static`:
///
/// ```
/// use net_core::sysctl_net::{INT_MAX, SysctlDef};
///
/// pub static TCP_RMEM: SysctlDef = SysctlDef {
///     name: "net.ipv4.tcp_rmem",
///     default: &[4096, 131072, 6291456],
///     min: 1,
///     max: INT_MAX,
///     validate: None,
///     doc: "TCP receive buffer: min, default, max (bytes).",
/// };
/// ```
#[doc(alias = "ctl_table")]
#[derive(Debug)]
pub struct SysctlDef {
    /// The full dotted name, `"net.core.somaxconn"` (Linux: the
    /// registration path plus `.procname`).
    pub name: &'static str,
    /// The value at namespace creation. One element for an integer, N for a
    /// vector (`ip_local_port_range` has 2, `tcp_rmem` 3); the length is
    /// fixed for good.
    pub default: &'static [i64],
    /// The least value each element may take (Linux: `*extra1`).
    pub min: i64,
    /// The greatest value each element may take (Linux: `*extra2`).
    pub max: i64,
    /// A check on the whole value (Linux: a custom `proc_handler`, such as
    /// `ipv4_local_port_range()`).
    pub validate: Option<SysctlValidator>,
    /// One line for `sysctl -a`-style listings and the book.
    pub doc: &'static str,
}
// ANCHOR_END: sysctl_def

/// A string sysctl's check on a write; the error is what write(2) fails with.
pub type StrSysctlValidator = fn(&str) -> Result<(), Errno>;

// ANCHOR: str_sysctl_def
/// The declaration of one string sysctl: a `struct ctl_table` entry with a
/// `proc_dostring`-style handler, or a custom one that checks the value
/// (`proc_tcp_congestion_control()` refuses an unknown algorithm with
/// `ENOENT`) or computes it on read (`proc_tcp_available_congestion_control()`).
#[derive(Debug)]
pub struct StrSysctlDef {
    /// The full dotted name.
    pub name: &'static str,
    /// The value at namespace creation (ignored when `read` is set).
    pub default: &'static str,
    /// Checks a write (the value is trimmed of surrounding whitespace, as
    /// `echo name >` leaves a newline); the error is what write(2) fails with.
    pub validate: Option<StrSysctlValidator>,
    /// A read-only value computed on each read (mode 0444): writes fail
    /// with `EACCES`.
    pub read: Option<fn() -> String>,
    /// One line for listings and the book.
    pub doc: &'static str,
}
// ANCHOR_END: str_sysctl_def

/// A handle on one string sysctl, returned by [`SysctlTable::register_str`].
/// Reads take a short spin lock and copy ([`StrSysctl::get`]) or lend the
/// value under it ([`StrSysctl::with`]); string sysctls are for
/// configuration paths (socket creation), not per-packet reads.
#[derive(Clone)]
pub struct StrSysctl(Arc<StrSysctlEntry>);

struct StrSysctlEntry {
    def: &'static StrSysctlDef,
    value: spin::RwLock<String>,
}

impl StrSysctl {
    /// The dotted name.
    pub fn name(&self) -> &'static str {
        self.0.def.name
    }

    /// The current value.
    pub fn get(&self) -> String {
        match self.0.def.read {
            Some(f) => f(),
            None => self.0.value.read().clone(),
        }
    }

    /// Run `f` on the current value without copying it: under the read
    /// lock for a stored value (so `f` must not write this sysctl), on a
    /// freshly computed one for a read-only computed sysctl.
    pub fn with<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self.0.def.read {
            Some(read) => f(&read()),
            None => f(&self.0.value.read()),
        }
    }

    /// Sets the value as a write to its `/proc/sys` file would: trimmed,
    /// checked by [`StrSysctlDef::validate`], refused on a read-only one.
    pub fn set(&self, text: &str) -> Result<(), SysctlError> {
        let def = self.0.def;
        if def.read.is_some() {
            return Err(SysctlError::Refused { name: def.name.to_string(), errno: Errno::EACCES });
        }
        let v = text.trim();
        if let Some(check) = def.validate {
            check(v).map_err(|errno| SysctlError::Refused { name: def.name.to_string(), errno })?;
        }
        *self.0.value.write() = v.to_string();
        Ok(())
    }
}

impl fmt::Debug for StrSysctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StrSysctl({} = {:?})", self.name(), self.get())
    }
}

/// Why a sysctl read or write failed, worded as `sysctl(8)` words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SysctlError {
    /// No sysctl by that name (`ENOENT` on `/proc/sys/…`).
    UnknownName {
        /// The `/proc/sys` path looked for, `"net/core/somaxcon"`.
        path: String,
    },
    /// The value was refused (`EINVAL`).
    Invalid {
        /// The dotted name, `"net.core.somaxconn"`.
        name: String,
        /// What was expected, or the validator's message.
        reason: String,
    },
    /// A string sysctl's handler refused the write with `errno`
    /// (`ENOENT` for an unknown congestion control algorithm, `EACCES`
    /// for a read-only one).
    Refused {
        /// The dotted name.
        name: String,
        /// What write(2) failed with.
        errno: Errno,
    },
}

impl SysctlError {
    /// The error number the write(2) or open(2) on `/proc/sys` would fail
    /// with.
    pub fn errno(&self) -> Errno {
        match self {
            SysctlError::UnknownName { .. } => Errno::ENOENT,
            SysctlError::Invalid { .. } => Errno::EINVAL,
            SysctlError::Refused { errno, .. } => *errno,
        }
    }
}

impl fmt::Display for SysctlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysctlError::UnknownName { path } => {
                write!(f, "sysctl: cannot stat /proc/sys/{path}: No such file or directory")
            }
            SysctlError::Invalid { name, reason } => {
                write!(f, "sysctl: setting key \"{name}\": Invalid argument ({reason})")
            }
            SysctlError::Refused { name, errno } => {
                write!(f, "sysctl: setting key \"{name}\": {}", errno.strerror())
            }
        }
    }
}

impl std::error::Error for SysctlError {}

/// One registered sysctl: its declaration and current value.
struct SysctlEntry {
    def: &'static SysctlDef,
    // Readers are lock-free; a vector is published with a sequence lock
    // (even: stable, odd: being written) so `get_vec` never sees half of a
    // write.
    seq: AtomicU64,
    values: Box<[AtomicI64]>,
    /// Serialises writers. A write is a handful of stores and never waits,
    /// so spinning is cheaper than parking; readers never take it.
    write_lock: spin::Mutex<()>,
    /// The table's generation ([`SysctlTable::generation`]), bumped by
    /// every write of this or any other sysctl of the table.
    table_generation: Arc<AtomicU64>,
}

/// A handle on one sysctl's value, returned by [`SysctlTable::register`].
///
/// Cheap to clone (an `Arc`); reads are lock-free atomic loads, so code on
/// the packet path keeps a handle and calls [`Sysctl::get`] as Linux reads
/// `READ_ONCE(net->ipv4.sysctl_tcp_syncookies)`.
#[derive(Clone)]
pub struct Sysctl(Arc<SysctlEntry>);

impl Sysctl {
    fn new(def: &'static SysctlDef, table_generation: Arc<AtomicU64>) -> Sysctl {
        Sysctl(Arc::new(SysctlEntry {
            def,
            seq: AtomicU64::new(0),
            values: def.default.iter().map(|&v| AtomicI64::new(v)).collect(),
            write_lock: spin::Mutex::new(()),
            table_generation,
        }))
    }

    /// The generation of the table this sysctl belongs to: it changes
    /// whenever any sysctl of the table is written. A layer that copies
    /// several sysctls into its own structure (the neighbour table's
    /// `neigh_parms`) compares it with the generation of its last copy
    /// and skips the copy when nothing changed. One atomic load. Linux
    /// needs none: its sysctls point straight at the fields they set.
    pub fn table_generation(&self) -> u64 {
        self.0.table_generation.load(Ordering::Acquire)
    }

    /// The dotted name.
    pub fn name(&self) -> &'static str {
        self.0.def.name
    }

    /// The declaration this sysctl was registered with.
    pub fn def(&self) -> &'static SysctlDef {
        self.0.def
    }

    /// How many integers the value has: 1, or the vector's length.
    pub fn len(&self) -> usize {
        self.0.values.len()
    }

    /// Whether the value has no integers; never true (a [`SysctlDef`] has a
    /// non-empty default).
    pub fn is_empty(&self) -> bool {
        self.0.values.is_empty()
    }

    /// The value, or the first element of a vector. One relaxed load:
    /// Linux's `READ_ONCE()`.
    #[inline]
    pub fn get(&self) -> i64 {
        self.0.values[0].load(Ordering::Relaxed)
    }

    /// Element `i` of a vector.
    ///
    /// Two calls can straddle a write; use [`Sysctl::get_array`] to read
    /// elements that must agree (both ends of `ip_local_port_range`).
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    #[inline]
    pub fn get_n(&self, i: usize) -> i64 {
        self.0.values[i].load(Ordering::Relaxed)
    }

    /// The whole value, consistent: never half of one write and half of
    /// another.
    pub fn get_vec(&self) -> Vec<i64> {
        let mut out = vec![0; self.len()];
        self.read_consistent(&mut out);
        out
    }

    /// The whole value of an `N`-element vector, consistent, without
    /// allocating: `let [low, high] = port_range.get_array();`.
    ///
    /// # Panics
    ///
    /// If `N` is not the sysctl's length.
    #[inline]
    pub fn get_array<const N: usize>(&self) -> [i64; N] {
        assert_eq!(N, self.len(), "{}: has {} values", self.name(), self.len());
        let mut out = [0; N];
        self.read_consistent(&mut out);
        out
    }

    /// Sequence-lock reader: retry while a write is in progress or happened
    /// during the copy.
    fn read_consistent(&self, out: &mut [i64]) {
        let e = &*self.0;
        loop {
            let before = e.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                for (o, v) in out.iter_mut().zip(e.values.iter()) {
                    *o = v.load(Ordering::Relaxed);
                }
                fence(Ordering::Acquire);
                if e.seq.load(Ordering::Relaxed) == before {
                    return;
                }
            }
            std::hint::spin_loop();
        }
    }

    /// The value as `/proc/sys` shows it (without the newline): elements
    /// separated by tabs, `"32768\t60999"`.
    pub fn read(&self) -> String {
        let values = self.get_vec();
        let mut out = String::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            out.push_str(&v.to_string());
        }
        out
    }

    /// Sets the value, or the first `values.len()` elements of a vector.
    ///
    /// Mirrors the write half of `proc_dointvec_minmax()`: every element must
    /// lie in `min..=max`, then [`SysctlDef::validate`] sees the whole new
    /// value. Nothing changes unless everything passes.
    pub fn set_values(&self, values: &[i64]) -> Result<(), SysctlError> {
        let e = &*self.0;
        let def = e.def;
        if values.is_empty()
            || values.len() > e.values.len()
            || values.iter().any(|v| !(def.min..=def.max).contains(v))
        {
            return Err(self.invalid(self.expected()));
        }
        let _writer = e.write_lock.lock();
        let mut new: Vec<i64> = e.values.iter().map(|v| v.load(Ordering::Relaxed)).collect();
        new[..values.len()].copy_from_slice(values);
        if let Some(check) = def.validate {
            check(&new).map_err(|msg| self.invalid(msg.to_string()))?;
        }
        // Sequence-lock writer: odd while the values change.
        let seq = e.seq.load(Ordering::Relaxed);
        e.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (slot, v) in e.values.iter().zip(new) {
            slot.store(v, Ordering::Relaxed);
        }
        e.seq.store(seq.wrapping_add(2), Ordering::Release);
        e.table_generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Parses `text` as a `/proc/sys` write would and sets the value.
    pub fn set(&self, text: &str) -> Result<(), SysctlError> {
        let values = parse_values(text).ok_or_else(|| self.invalid(self.expected()))?;
        self.set_values(&values)
    }

    fn invalid(&self, reason: String) -> SysctlError {
        SysctlError::Invalid { name: self.name().to_string(), reason }
    }

    /// The explanation shown after "Invalid argument".
    fn expected(&self) -> String {
        let (min, max) = (self.0.def.min, self.0.def.max);
        match self.len() {
            1 => format!("expected an integer in {min}..={max}"),
            n => format!("expected up to {n} integers, each in {min}..={max}"),
        }
    }
}

impl fmt::Debug for Sysctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sysctl({} = {:?})", self.name(), self.get_vec())
    }
}

/// Parses one integer as `proc_get_long()` does: optional `-`, then a digit,
/// then `strtoul` with base 0. `None` for anything else, or on overflow.
fn parse_long(token: &str) -> Option<i64> {
    let (neg, digits) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (radix, body) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    // from_str_radix would accept a sign; we have consumed ours.
    if !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if neg { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() }
}

/// Parses a `/proc/sys` write: whitespace-separated integers, at least one.
fn parse_values(text: &str) -> Option<Vec<i64>> {
    let values = text.split_ascii_whitespace().map(parse_long).collect::<Option<Vec<i64>>>()?;
    (!values.is_empty()).then_some(values)
}

/// The dotted form of a name as `sysctl(8)` accepts it: `net.core.somaxconn`
/// or `net/core/somaxconn` (a path, optionally under `/proc/sys/`).
fn normalize(name: &str) -> String {
    let name = name.trim();
    if name.contains('/') {
        let path = name.strip_prefix("/proc/sys/").unwrap_or(name);
        path.trim_start_matches('/').replace('/', ".")
    } else {
        name.to_string()
    }
}

/// The `/proc/sys` path of a dotted name, for "cannot stat" messages.
fn proc_path(dotted: &str) -> String {
    dotted.replace('.', "/")
}

/// A namespace's sysctls: what Linux keeps as the `ctl_table_header`s
/// registered under `/proc/sys/net` for one `struct net`.
///
/// Layers register at namespace setup and keep the [`Sysctl`] handles; the
/// table itself is for administration (set, read, list by name).
pub struct SysctlTable {
    /// Registered sysctls by dotted name. Written only at registration;
    /// lookups by name are for configuration, never on the packet path, so a
    /// spinning reader-writer lock is plenty.
    entries: spin::RwLock<BTreeMap<&'static str, Sysctl>>,
    /// Registered string sysctls by dotted name.
    strings: spin::RwLock<BTreeMap<&'static str, StrSysctl>>,
    /// Bumped by every successful write of an integer sysctl
    /// ([`Sysctl::table_generation`]).
    generation: Arc<AtomicU64>,
}

impl SysctlTable {
    /// An empty table.
    pub fn new() -> Self {
        SysctlTable {
            entries: spin::RwLock::new(BTreeMap::new()),
            strings: spin::RwLock::new(BTreeMap::new()),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The table's generation: changes with every write of an integer
    /// sysctl (see [`Sysctl::table_generation`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Adds a sysctl with its default value and returns its handle.
    ///
    /// Mirrors `register_net_sysctl()` for one entry. Registering a name
    /// that is already there returns the existing handle (and its current
    /// value), so every layer that needs a knob can register it.
    ///
    /// # Panics
    ///
    /// If `def` is malformed: an empty default, or a default outside
    /// `min..=max` or refused by its own validator. That is a bug in the
    /// declaring code, found on first use.
    #[doc(alias = "register_net_sysctl")]
    pub fn register(&self, def: &'static SysctlDef) -> Sysctl {
        if let Some(existing) = self.entries.read().get(def.name) {
            return existing.clone();
        }
        assert!(!def.default.is_empty(), "{}: empty default", def.name);
        assert!(
            def.default.iter().all(|v| (def.min..=def.max).contains(v)),
            "{}: default {:?} outside {}..={}",
            def.name,
            def.default,
            def.min,
            def.max
        );
        if let Some(check) = def.validate {
            assert!(check(def.default).is_ok(), "{}: default refused by its validator", def.name);
        }
        self.entries
            .write()
            .entry(def.name)
            .or_insert_with(|| Sysctl::new(def, self.generation.clone()))
            .clone()
    }

    /// Adds a string sysctl with its default value and returns its handle
    /// (the existing one if the name is already registered).
    ///
    /// # Panics
    ///
    /// If the default is refused by the declaration's own validator.
    #[doc(alias = "register_net_sysctl")]
    pub fn register_str(&self, def: &'static StrSysctlDef) -> StrSysctl {
        if let Some(existing) = self.strings.read().get(def.name) {
            return existing.clone();
        }
        if let (Some(check), None) = (def.validate, def.read) {
            assert!(check(def.default).is_ok(), "{}: default refused by its validator", def.name);
        }
        self.strings
            .write()
            .entry(def.name)
            .or_insert_with(|| {
                StrSysctl(Arc::new(StrSysctlEntry { def, value: spin::RwLock::new(def.default.to_string()) }))
            })
            .clone()
    }

    /// The string sysctl called `name` (dotted or slash form), if registered.
    pub fn lookup_str(&self, name: &str) -> Option<StrSysctl> {
        self.strings.read().get(normalize(name).as_str()).cloned()
    }

    /// The sysctl called `name` (dotted or slash form), if registered.
    pub fn lookup(&self, name: &str) -> Option<Sysctl> {
        self.entries.read().get(normalize(name).as_str()).cloned()
    }

    fn lookup_or_err(&self, name: &str) -> Result<Sysctl, SysctlError> {
        let dotted = normalize(name);
        self.entries
            .read()
            .get(dotted.as_str())
            .cloned()
            .ok_or_else(|| SysctlError::UnknownName { path: proc_path(&dotted) })
    }

    /// `sysctl -w name=value`: parses `value` as whitespace-separated
    /// integers and sets the sysctl `name` (dotted or slash form).
    pub fn set(&self, name: &str, value: &str) -> Result<(), SysctlError> {
        if let Some(s) = self.lookup_str(name) {
            return s.set(value);
        }
        self.lookup_or_err(name)?.set(value)
    }

    /// `sysctl -n name`: the value as `/proc/sys` shows it, vectors
    /// tab-separated, without the trailing newline.
    pub fn read(&self, name: &str) -> Result<String, SysctlError> {
        if let Some(s) = self.lookup_str(name) {
            return Ok(s.get());
        }
        Ok(self.lookup_or_err(name)?.read())
    }

    /// `sysctl -a` for this namespace: every (dotted name, value), sorted by
    /// name.
    pub fn entries(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> =
            self.entries.read().iter().map(|(name, s)| (name.to_string(), s.read())).collect();
        all.extend(self.strings.read().iter().map(|(name, s)| (name.to_string(), s.get())));
        all.sort();
        all
    }
}

impl Default for SysctlTable {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SysctlTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    static SOMAX: SysctlDef = SysctlDef {
        name: "net.core.somaxconn",
        default: &[4096],
        min: 0,
        max: INT_MAX,
        validate: None,
        doc: "test",
    };

    fn port_range_ok(v: &[i64]) -> Result<(), &'static str> {
        if v[0] < v[1] { Ok(()) } else { Err("the first port must be less than the second") }
    }

    static PORT_RANGE: SysctlDef = SysctlDef {
        name: "net.ipv4.ip_local_port_range",
        default: &[32768, 60999],
        min: 1,
        max: 65535,
        validate: Some(port_range_ok),
        doc: "test",
    };

    static TCP_RMEM: SysctlDef = SysctlDef {
        name: "net.ipv4.tcp_rmem",
        default: &[4096, 131072, 6291456],
        min: 1,
        max: INT_MAX,
        validate: None,
        doc: "test",
    };

    fn table() -> (SysctlTable, Sysctl, Sysctl, Sysctl) {
        let t = SysctlTable::new();
        let a = t.register(&SOMAX);
        let b = t.register(&PORT_RANGE);
        let c = t.register(&TCP_RMEM);
        (t, a, b, c)
    }

    fn known_algorithm(v: &str) -> Result<(), Errno> {
        if ["reno", "cubic"].contains(&v) { Ok(()) } else { Err(Errno::ENOENT) }
    }

    static CONG: StrSysctlDef = StrSysctlDef {
        name: "net.ipv4.tcp_congestion_control",
        default: "reno",
        validate: Some(known_algorithm),
        read: None,
        doc: "test",
    };

    static AVAIL: StrSysctlDef = StrSysctlDef {
        name: "net.ipv4.tcp_available_congestion_control",
        default: "",
        validate: None,
        read: Some(|| "reno cubic".to_string()),
        doc: "test",
    };

    #[test]
    fn string_sysctls_validate_and_refuse() {
        let t = SysctlTable::new();
        let cong = t.register_str(&CONG);
        t.register_str(&AVAIL);
        assert_eq!(t.read("net.ipv4.tcp_congestion_control").unwrap(), "reno");
        t.set("net/ipv4/tcp_congestion_control", "cubic\n").unwrap();
        assert_eq!(cong.get(), "cubic", "trimmed as a write of `echo cubic` is");
        assert!(cong.with(|v| v == "cubic"), "with() lends what get() copies");
        let err = t.set("net.ipv4.tcp_congestion_control", "vegas").unwrap_err();
        assert_eq!(err.errno(), Errno::ENOENT);
        assert_eq!(
            err.to_string(),
            "sysctl: setting key \"net.ipv4.tcp_congestion_control\": No such file or directory"
        );
        assert_eq!(cong.get(), "cubic", "a refused write changes nothing");
        assert_eq!(t.read("net.ipv4.tcp_available_congestion_control").unwrap(), "reno cubic");
        let err = t.set("net.ipv4.tcp_available_congestion_control", "reno").unwrap_err();
        assert_eq!(err.errno(), Errno::EACCES);
        assert!(t.entries().contains(&("net.ipv4.tcp_congestion_control".to_string(), "cubic".to_string())));
    }

    #[test]
    fn defaults_and_reads() {
        let (t, somax, range, rmem) = table();
        assert_eq!(somax.get(), 4096);
        assert_eq!(range.get_vec(), [32768, 60999]);
        assert_eq!(range.get_array::<2>(), [32768, 60999]);
        assert_eq!(rmem.get_n(2), 6291456);
        assert_eq!(t.read("net.ipv4.ip_local_port_range").unwrap(), "32768\t60999");
        assert_eq!(t.read("net.ipv4.tcp_rmem").unwrap(), "4096\t131072\t6291456");
        assert_eq!(
            t.entries(),
            [
                ("net.core.somaxconn".to_string(), "4096".to_string()),
                ("net.ipv4.ip_local_port_range".to_string(), "32768\t60999".to_string()),
                ("net.ipv4.tcp_rmem".to_string(), "4096\t131072\t6291456".to_string()),
            ]
        );
    }

    #[test]
    fn register_twice_returns_the_same_handle() {
        let (t, somax, _, _) = table();
        somax.set_values(&[7]).unwrap();
        let again = t.register(&SOMAX);
        assert_eq!(again.get(), 7);
        again.set_values(&[8]).unwrap();
        assert_eq!(somax.get(), 8);
        assert_eq!(t.entries().len(), 3);
    }

    #[test]
    fn set_parses_like_proc() {
        let (t, somax, range, rmem) = table();
        t.set("net.core.somaxconn", "  1024\n").unwrap();
        assert_eq!(somax.get(), 1024);
        t.set("net.core.somaxconn", "0x10").unwrap();
        assert_eq!(somax.get(), 16);
        t.set("net.core.somaxconn", "010").unwrap();
        assert_eq!(somax.get(), 8);
        t.set("net.core.somaxconn", "0").unwrap();
        assert_eq!(somax.get(), 0);
        t.set("net.ipv4.ip_local_port_range", "1024\t65000").unwrap();
        assert_eq!(range.get_vec(), [1024, 65000]);
        t.set("net.ipv4.ip_local_port_range", "2000 3000").unwrap();
        assert_eq!(range.get_array(), [2000, 3000]);
        // Fewer values than the vector: only the leading ones change.
        t.set("net.ipv4.tcp_rmem", "8192").unwrap();
        assert_eq!(rmem.get_vec(), [8192, 131072, 6291456]);
    }

    #[test]
    fn slash_names() {
        let (t, somax, _, _) = table();
        t.set("net/core/somaxconn", "100").unwrap();
        assert_eq!(somax.get(), 100);
        assert_eq!(t.read("/proc/sys/net/core/somaxconn").unwrap(), "100");
        assert!(t.lookup("net/ipv4/tcp_rmem").is_some());
        assert_eq!(
            t.read("net/core/somaxcon").unwrap_err().to_string(),
            "sysctl: cannot stat /proc/sys/net/core/somaxcon: No such file or directory"
        );
    }

    #[test]
    fn errors_read_like_sysctl() {
        let (t, somax, range, rmem) = table();
        let e = t.set("net.core.somaxcon", "1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "sysctl: cannot stat /proc/sys/net/core/somaxcon: No such file or directory"
        );
        assert_eq!(e.errno(), Errno::ENOENT);
        for bad in ["-1", "abc", "", "   ", "12abc", "1 2", "2147483648", "0x", "08", "--1", "+5"] {
            let e = t.set("net.core.somaxconn", bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                "sysctl: setting key \"net.core.somaxconn\": Invalid argument \
                 (expected an integer in 0..=2147483647)",
                "{bad:?}"
            );
            assert_eq!(e.errno(), Errno::EINVAL);
        }
        assert_eq!(somax.get(), 4096);

        let e = t.set("net.ipv4.ip_local_port_range", "5000 4000").unwrap_err();
        assert_eq!(
            e.to_string(),
            "sysctl: setting key \"net.ipv4.ip_local_port_range\": Invalid argument \
             (the first port must be less than the second)"
        );
        let e = t.set("net.ipv4.ip_local_port_range", "0 4000").unwrap_err();
        assert_eq!(
            e.to_string(),
            "sysctl: setting key \"net.ipv4.ip_local_port_range\": Invalid argument \
             (expected up to 2 integers, each in 1..=65535)"
        );
        // The validator sees the merged value: 61000 alone would make low > high.
        assert!(t.set("net.ipv4.ip_local_port_range", "61000").is_err());
        assert_eq!(range.get_vec(), [32768, 60999]);
        // All or nothing: a bad third value leaves the first two alone.
        assert!(t.set("net.ipv4.tcp_rmem", "1 2 0").is_err());
        assert!(t.set("net.ipv4.tcp_rmem", "1 2 3 4").is_err());
        assert_eq!(rmem.get_vec(), [4096, 131072, 6291456]);
    }

    #[test]
    fn parse_long_follows_strtoul_base_zero() {
        assert_eq!(parse_long("0"), Some(0));
        assert_eq!(parse_long("-0"), Some(0));
        assert_eq!(parse_long("42"), Some(42));
        assert_eq!(parse_long("-42"), Some(-42));
        assert_eq!(parse_long("0x7fffffff"), Some(INT_MAX));
        assert_eq!(parse_long("0XfF"), Some(255));
        assert_eq!(parse_long("0777"), Some(511));
        assert_eq!(parse_long("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_long("9223372036854775808"), None);
        assert_eq!(parse_long("99999999999999999999999"), None);
        for bad in ["", "-", "x1", "0x", "0xg", "09", "1_000", "+1", " 1", "1.5", "١"] {
            assert_eq!(parse_long(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn readers_never_see_half_a_write() {
        let (_, _, range, _) = table();
        let writer = {
            let range = range.clone();
            std::thread::spawn(move || {
                for i in 0..20_000 {
                    let low = 1 + (i % 30_000);
                    range.set_values(&[low, low + 1]).unwrap();
                }
            })
        };
        for _ in 0..20_000 {
            let [low, high] = range.get_array();
            assert!(low + 1 == high || (low, high) == (32768, 60999), "{low} {high}");
        }
        writer.join().unwrap();
    }

    proptest! {
        #[test]
        fn set_never_panics(name in ".{0,40}", value in ".{0,40}") {
            let (t, ..) = table();
            let _ = t.set(&name, &value);
            let _ = t.read(&name);
            let _ = t.set("net.core.somaxconn", &value);
            let _ = t.set("net.ipv4.ip_local_port_range", &value);
            let _ = t.set("net.ipv4.tcp_rmem", &value);
        }

        #[test]
        fn numeric_garbage_never_panics(value in "[-0-9xXa-fA-F \t\n]{0,40}") {
            let (t, somax, ..) = table();
            match t.set("net.core.somaxconn", &value) {
                Ok(()) => prop_assert!((0..=INT_MAX).contains(&somax.get())),
                Err(e) => prop_assert_eq!(e.errno(), Errno::EINVAL),
            }
        }

        #[test]
        fn decimal_round_trip(v in 0..=INT_MAX) {
            let (t, ..) = table();
            t.set("net.core.somaxconn", &v.to_string()).unwrap();
            prop_assert_eq!(t.read("net.core.somaxconn").unwrap(), v.to_string());
        }
    }
}
