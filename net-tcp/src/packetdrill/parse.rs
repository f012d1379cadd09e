//! The script parser: packetdrill's lexer (`lexer.l`) and the subset of
//! its grammar (`parser.y`) that [`super`] documents, as a hand-written
//! recursive-descent parser over a token list.
//!
//! No Linux twin: packetdrill is a user-space tool. Like packetdrill's
//! grammar, the parser is not line-based — an event may span lines — and
//! each event carries the line of its timestamp, which every error names.

use std::fmt;

use crate::tcphdr::{
    TCPHDR_ACK, TCPHDR_CWR, TCPHDR_ECE, TCPHDR_FIN, TCPHDR_PSH, TCPHDR_RST, TCPHDR_SYN, TCPHDR_URG,
};

/// packetdrill's default `--tolerance_usecs`.
pub const DEFAULT_TOLERANCE_USECS: u64 = 4000;

/// A parse or run error: the line it is about (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line in the script.
    pub line: usize,
    /// What went wrong.
    pub msg: String,
}

impl ScriptError {
    pub(crate) fn new(line: usize, msg: impl Into<String>) -> ScriptError {
        ScriptError { line, msg: msg.into() }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

/// A parsed script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// `--tolerance_usecs` (option line or `// --tolerance_usecs=N` comment).
    pub tolerance_usecs: u64,
    /// The events in script order.
    pub events: Vec<Event>,
}

/// One event: a time and what happens then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Line of the event's timestamp.
    pub line: usize,
    /// When.
    pub time: EventTime,
    /// What.
    pub kind: EventKind,
}

/// packetdrill's `enum event_time_t`, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventTime {
    /// `1.5`: since the script's start.
    Absolute(u64),
    /// `+0.1`: since the previous event.
    Relative(u64),
    /// `*`: any time (outbound packets only).
    Any,
    /// `1.0~1.2` (or `1.0...1.2` on an outbound packet).
    AbsoluteRange(u64, u64),
    /// `+0~+0.2` (or `+0...0.2` on an outbound packet).
    RelativeRange(u64, u64),
}

/// What an event does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `<` or `>` TCP segment.
    Packet(PacketSpec),
    /// A system call.
    Syscall(SyscallSpec),
    /// A backtick command: the only kind we run is `sysctl`, so this is the
    /// list of (name, value) writes it makes, in order.
    Sysctl(Vec<SysctlWrite>),
}

/// One `name=value` of a backtick `sysctl -q name=value` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysctlWrite {
    /// The sysctl's name as written (`net.ipv4.tcp_timestamps`).
    pub name: String,
    /// Its value as written, quotes removed (`4096 16384 4194304`).
    pub value: String,
}

/// `<` (injected into the host) or `>` (the host must send it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `<`: the script's remote side sends it to the host.
    Inbound,
    /// `>`: the host sends it.
    Outbound,
}

/// A TCP option as the script writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOpt {
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
    /// `mss N`.
    Mss(u16),
    /// `wscale N`.
    Wscale(u8),
    /// `sackOK`.
    SackOk,
    /// `sack A:B C:D ...`.
    Sack(Vec<(u32, u32)>),
    /// `TS val N ecr M`.
    Timestamp(u32, u32),
}

/// A TCP segment line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketSpec {
    /// Direction.
    pub dir: Direction,
    /// Explicit `SRC>DST` ports, in wire order.
    pub ports: Option<(u16, u16)>,
    /// `TCPHDR_*` flags.
    pub flags: u8,
    /// Start sequence number (relative).
    pub seq: u32,
    /// Payload length.
    pub len: u16,
    /// `ack N` (relative), if given.
    pub ack: Option<u32>,
    /// `win N`, if given.
    pub win: Option<u16>,
    /// `urg N`, if given.
    pub urg: Option<u16>,
    /// The options; `None` for `<...>` (don't care, outbound only).
    pub options: Option<Vec<TcpOpt>>,
}

/// A system call line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallSpec {
    /// `...T` end time of a blocking call (µs, same anchor as the start).
    pub end_usecs: Option<u64>,
    /// The call's name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// The expected return value.
    pub result: Expr,
    /// The expected errno name (`-1 ECONNREFUSED`).
    pub errno: Option<String>,
}

/// A syscall argument or result expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `...`.
    Ellipsis,
    /// A number.
    Int(i64),
    /// A symbol (`SOCK_STREAM`).
    Word(String),
    /// `"text"`.
    Str(String),
    /// `a | b | ...`.
    Or(Vec<Expr>),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `{a, b}`.
    Brace(Vec<Expr>),
    /// `name=value` inside braces.
    Assign(String, Box<Expr>),
    /// `htons(8080)`, `inet_addr("1.2.3.4")`.
    Call(String, Vec<Expr>),
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, v: &[Expr], sep: &str| -> fmt::Result {
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    write!(f, "{sep}")?;
                }
                write!(f, "{e}")?;
            }
            Ok(())
        };
        match self {
            Expr::Ellipsis => write!(f, "..."),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Word(w) => write!(f, "{w}"),
            Expr::Str(s) => write!(f, "\"{s}\""),
            Expr::Or(v) => list(f, v, "|"),
            Expr::List(v) => {
                write!(f, "[")?;
                list(f, v, ", ")?;
                write!(f, "]")
            }
            Expr::Brace(v) => {
                write!(f, "{{")?;
                list(f, v, ", ")?;
                write!(f, "}}")
            }
            Expr::Assign(n, e) => write!(f, "{n}={e}"),
            Expr::Call(n, v) => {
                write!(f, "{n}(")?;
                list(f, v, ", ")?;
                write!(f, ")")
            }
        }
    }
}

// -- the lexer ------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A number as written (`0`, `1.5`, `.1`, `-1`, `0x10`), kept as text
    /// so times convert to µs exactly.
    Num(String),
    Word(String),
    Str(String),
    Ellipsis,
    /// `--name=value` (value may be empty).
    Opt(String, String),
    Punct(char),
    /// `` `command` ``: the text between the backticks.
    Backtick(String),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(s) | Tok::Word(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "\"{s}\""),
            Tok::Ellipsis => write!(f, "`...`"),
            Tok::Opt(n, v) => write!(f, "`--{n}={v}`"),
            Tok::Punct(c) => write!(f, "`{c}`"),
            Tok::Backtick(s) => write!(f, "`{s}` (a backtick command)"),
        }
    }
}

struct Lexed {
    toks: Vec<(Tok, usize)>,
    comment_tolerance: Option<u64>,
}

fn lex(src: &str) -> Result<Lexed, ScriptError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut line = 1;
    let mut toks = Vec::new();
    let mut comment_tolerance = None;
    let tol_in_comment =
        |text: &str, line: usize| -> Result<Option<u64>, ScriptError> {
            match text.trim().strip_prefix("--tolerance_usecs=") {
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    ScriptError::new(line, format!("bad --tolerance_usecs value `{}`", v.trim()))
                }),
                None => Ok(None),
            }
        };
    while i < b.len() {
        let c = b[i] as char;
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            ' ' | '\t' | '\r' => i += 1,
            '/' if b.get(i + 1) == Some(&b'/') => {
                let end = src[i..].find('\n').map_or(b.len(), |n| i + n);
                if let Some(t) = tol_in_comment(&src[i + 2..end], line)? {
                    comment_tolerance = Some(t);
                }
                i = end;
            }
            '/' if b.get(i + 1) == Some(&b'*') => {
                let Some(n) = src[i + 2..].find("*/") else {
                    return Err(ScriptError::new(line, "unterminated /* comment"));
                };
                let text = &src[i + 2..i + 2 + n];
                if let Some(t) = tol_in_comment(text, line)? {
                    comment_tolerance = Some(t);
                }
                line += text.matches('\n').count();
                i += 2 + n + 2;
            }
            '%' if b.get(i + 1) == Some(&b'{') => {
                return Err(ScriptError::new(
                    line,
                    "`%{ }%` Python blocks are not supported by linnet's packetdrill harness",
                ));
            }
            '`' => {
                let Some(n) = src[i + 1..].find('`') else {
                    return Err(ScriptError::new(line, "unterminated backtick command"));
                };
                let text = &src[i + 1..i + 1 + n];
                toks.push((Tok::Backtick(text.to_string()), line));
                line += text.matches('\n').count();
                i += n + 2;
            }
            '#' => {
                return Err(ScriptError::new(line, "`#` is not a packetdrill comment: use `//` or `/* */`"));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None | Some(b'\n') => return Err(ScriptError::new(line, "unterminated string")),
                        Some(b'"') => break,
                        Some(b'\\') if i + 1 < b.len() => {
                            s.push(b[i + 1] as char);
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch as char);
                            i += 1;
                        }
                    }
                }
                i += 1;
                toks.push((Tok::Str(s), line));
            }
            '.' if src[i..].starts_with("...") => {
                toks.push((Tok::Ellipsis, line));
                i += 3;
            }
            '-' if b.get(i + 1) == Some(&b'-') => {
                let start = i + 2;
                let mut j = start;
                // ASCII whitespace only: a byte of a multi-byte character
                // (0xA0 of U+00A0, say) is no whitespace as a `char` of its
                // own, and slicing `src` there would split the character.
                while j < b.len() && !b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let text = &src[start..j];
                let (n, v) = text.split_once('=').unwrap_or((text, ""));
                toks.push((Tok::Opt(n.to_string(), v.to_string()), line));
                i = j;
            }
            _ if c.is_ascii_digit()
                || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
                || (c == '-' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit() || *d == b'.')) =>
            {
                let start = i;
                if c == '-' {
                    i += 1;
                }
                if src[i..].starts_with("0x") || src[i..].starts_with("0X") {
                    i += 2;
                    while i < b.len() && b[i].is_ascii_hexdigit() {
                        i += 1;
                    }
                } else {
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                // packetdrill's lexer would take `1a` as a WORD; we do not need that.
                if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    toks.push((Tok::Word(src[start..i].to_string()), line));
                } else {
                    toks.push((Tok::Num(src[start..i].to_string()), line));
                }
            }
            _ if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                toks.push((Tok::Word(src[start..i].to_string()), line));
            }
            '+' | '*' | '~' | '<' | '>' | ':' | '(' | ')' | ',' | '[' | ']' | '{' | '}' | '|' | '=' | '.'
            | '-' => {
                toks.push((Tok::Punct(c), line));
                i += 1;
            }
            _ => return Err(ScriptError::new(line, format!("unexpected character `{c}`"))),
        }
    }
    Ok(Lexed { toks, comment_tolerance })
}

// -- the parser -------------------------------------------------------------------

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    last_line: usize,
}

/// Convert a time as written (`1`, `0.25`, `.1`) to microseconds exactly.
fn time_usecs(text: &str, line: usize) -> Result<u64, ScriptError> {
    let bad = || ScriptError::new(line, format!("bad time `{text}`"));
    if text.starts_with('-') || text.starts_with("0x") {
        return Err(ScriptError::new(line, format!("negative or hex time `{text}`")));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 6 {
        return Err(ScriptError::new(line, format!("time `{text}` is finer than a microsecond")));
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
    let frac_us: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().map_err(|_| bad())? };
    int.checked_mul(1_000_000).and_then(|v| v.checked_add(frac_us)).ok_or_else(bad)
}

fn int_value(text: &str, line: usize) -> Result<i64, ScriptError> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16)
    } else {
        t.parse::<i64>()
    }
    .map_err(|_| ScriptError::new(line, format!("expected an integer, found `{text}`")))?;
    Ok(if neg { -v } else { v })
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.toks.get(self.pos).map_or(self.last_line, |(_, l)| *l)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        if let Some((_, l)) = &t {
            self.last_line = *l;
            self.pos += 1;
        }
        t.map(|(t, _)| t)
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, ScriptError> {
        Err(ScriptError::new(self.line(), msg))
    }

    fn found(&self) -> String {
        self.peek().map_or("end of script".to_string(), |t| t.to_string())
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char, what: &str) -> Result<(), ScriptError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.err(format!("expected `{c}` {what}, found {}", self.found()))
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn num(&mut self, what: &str) -> Result<String, ScriptError> {
        match self.peek() {
            Some(Tok::Num(s)) => {
                let s = s.clone();
                self.next();
                Ok(s)
            }
            _ => self.err(format!("expected {what}, found {}", self.found())),
        }
    }

    fn int(&mut self, what: &str) -> Result<i64, ScriptError> {
        let line = self.line();
        let s = self.num(what)?;
        int_value(&s, line)
    }

    fn uint<T: TryFrom<i64>>(&mut self, what: &str) -> Result<T, ScriptError> {
        let line = self.line();
        let v = self.int(what)?;
        T::try_from(v).map_err(|_| ScriptError::new(line, format!("{what} {v} out of range")))
    }

    fn time(&mut self) -> Result<u64, ScriptError> {
        let line = self.line();
        let s = self.num("a time")?;
        time_usecs(&s, line)
    }

    fn script(&mut self, comment_tolerance: Option<u64>) -> Result<Script, ScriptError> {
        let mut tolerance_usecs = comment_tolerance.unwrap_or(DEFAULT_TOLERANCE_USECS);
        while let Some(Tok::Opt(name, value)) = self.peek().cloned() {
            let line = self.line();
            self.next();
            match name.as_str() {
                "tolerance_usecs" => {
                    tolerance_usecs = value.parse().map_err(|_| {
                        ScriptError::new(line, format!("bad --tolerance_usecs value `{value}`"))
                    })?;
                }
                "ip_version" if value == "ipv4" => {}
                _ => return Err(ScriptError::new(line, format!("unsupported option `--{name}`"))),
            }
        }
        let mut events = Vec::new();
        while self.peek().is_some() {
            events.push(self.event()?);
        }
        Ok(Script { tolerance_usecs, events })
    }

    fn event(&mut self) -> Result<Event, ScriptError> {
        let line = self.line();
        let time = if self.eat_punct('*') {
            EventTime::Any
        } else if self.eat_punct('+') {
            let t = self.time()?;
            if self.eat_punct('~') {
                self.expect_punct('+', "after `~` in a relative time range")?;
                EventTime::RelativeRange(t, self.time()?)
            } else {
                EventTime::Relative(t)
            }
        } else if matches!(self.peek(), Some(Tok::Num(_))) {
            let t = self.time()?;
            if self.eat_punct('~') {
                EventTime::AbsoluteRange(t, self.time()?)
            } else {
                EventTime::Absolute(t)
            }
        } else if matches!(self.peek(), Some(Tok::Opt(..))) {
            return self.err(format!("option {} must come before the first event", self.found()));
        } else {
            return self.err(format!("expected an event time (`0.1`, `+0.1`, `*`), found {}", self.found()));
        };
        // `...T`: a blocking syscall's end time, or (our extension) the end
        // of an outbound packet's time range.
        let end = if self.peek() == Some(&Tok::Ellipsis) {
            self.next();
            Some(self.time()?)
        } else {
            None
        };
        let kind = match self.peek() {
            Some(Tok::Backtick(text)) => {
                let text = text.clone();
                if end.is_some() {
                    return self.err("a backtick command cannot have a `...` end time");
                }
                self.next();
                EventKind::Sysctl(parse_sysctl_commands(&text, line)?)
            }
            Some(Tok::Punct('<')) | Some(Tok::Punct('>')) => EventKind::Packet(self.packet()?),
            Some(Tok::Word(_)) => EventKind::Syscall(self.syscall(end)?),
            _ => return self.err(format!("expected `<`, `>` or a system call, found {}", self.found())),
        };
        let time = match (&kind, end, time) {
            (EventKind::Packet(_), Some(_), EventTime::Any) => {
                return Err(ScriptError::new(line, "`*...` is not a time"));
            }
            (EventKind::Packet(_), Some(_), EventTime::AbsoluteRange(..) | EventTime::RelativeRange(..)) => {
                return Err(ScriptError::new(line, "a time range cannot also have a `...` end"));
            }
            (EventKind::Packet(_), Some(e), EventTime::Absolute(t)) => EventTime::AbsoluteRange(t, e),
            (EventKind::Packet(_), Some(e), EventTime::Relative(t)) => EventTime::RelativeRange(t, e),
            (_, _, t) => t,
        };
        let outbound = matches!(&kind, EventKind::Packet(p) if p.dir == Direction::Outbound);
        match time {
            EventTime::Any if !outbound => {
                return Err(ScriptError::new(line, "event time `*` can only be used with outbound packets"));
            }
            EventTime::AbsoluteRange(a, b) | EventTime::RelativeRange(a, b) => {
                if !outbound {
                    return Err(ScriptError::new(
                        line,
                        "event time range can only be used with outbound packets",
                    ));
                }
                if b < a {
                    return Err(ScriptError::new(line, "time range is backwards"));
                }
            }
            _ => {}
        }
        if let (EventKind::Syscall(s), EventTime::Relative(t) | EventTime::Absolute(t)) = (&kind, time)
            && s.end_usecs.is_some_and(|e| e < t)
        {
            return Err(ScriptError::new(line, "blocking call ends before it starts"));
        }
        Ok(Event { line, time, kind })
    }

    fn packet(&mut self) -> Result<PacketSpec, ScriptError> {
        let dir = match self.next() {
            Some(Tok::Punct('<')) => Direction::Inbound,
            _ => Direction::Outbound,
        };
        // opt_port_info: INTEGER '>' INTEGER
        let ports = if matches!(self.peek(), Some(Tok::Num(_))) && self.peek_at(1) == Some(&Tok::Punct('>')) {
            let src = self.uint::<u16>("source port")?;
            self.next();
            Some((src, self.uint::<u16>("destination port")?))
        } else {
            None
        };
        if self.is_word("udp") || self.is_word("icmp") || self.is_word("ipv4") || self.is_word("ipv6") {
            return self.err(format!("only TCP segments are supported, found {}", self.found()));
        }
        if self.is_punct('[') || self.is_punct('(') {
            return self.err("IP-level fields (`[ect0]`, `(tos ...)`) are not supported");
        }
        // flags: WORD ['.'] | '.' | '-'
        let mut flags = 0u8;
        let flag_line = self.line();
        match self.next() {
            Some(Tok::Word(w)) => {
                for ch in w.chars() {
                    flags |= match ch {
                        'F' => TCPHDR_FIN,
                        'S' => TCPHDR_SYN,
                        'R' => TCPHDR_RST,
                        'P' => TCPHDR_PSH,
                        'U' => TCPHDR_URG,
                        'E' => TCPHDR_ECE,
                        'W' => TCPHDR_CWR,
                        _ => {
                            return Err(ScriptError::new(
                                flag_line,
                                format!("unknown TCP flag `{ch}` in `{w}`"),
                            ));
                        }
                    };
                }
                if self.eat_punct('.') {
                    flags |= TCPHDR_ACK;
                }
            }
            Some(Tok::Punct('.')) => flags |= TCPHDR_ACK,
            Some(Tok::Punct('-')) => {}
            other => {
                let f = other.map_or("end of script".to_string(), |t| t.to_string());
                return Err(ScriptError::new(
                    flag_line,
                    format!("expected TCP flags (`S`, `S.`, `.`, `P.`, `F.`, `R`), found {f}"),
                ));
            }
        }
        // seq: INTEGER ':' INTEGER '(' INTEGER ')'
        let seq_line = self.line();
        let start = self.uint::<u32>("start sequence number")?;
        self.expect_punct(':', "in `start:end(len)`")?;
        let end = self.uint::<u32>("end sequence number")?;
        self.expect_punct('(', "in `start:end(len)`")?;
        let len = self.uint::<u16>("payload length")?;
        self.expect_punct(')', "in `start:end(len)`")?;
        if end != start.wrapping_add(u32::from(len)) {
            return Err(ScriptError::new(seq_line, "inconsistent TCP sequence numbers and payload size"));
        }
        let mut spec = PacketSpec {
            dir,
            ports,
            flags,
            seq: start,
            len,
            ack: None,
            win: None,
            urg: None,
            options: Some(Vec::new()),
        };
        if self.is_word("ack") {
            self.next();
            spec.ack = Some(self.uint::<u32>("ack sequence number")?);
        }
        if self.is_word("win") {
            self.next();
            spec.win = Some(self.uint::<u16>("window")?);
        }
        if self.is_word("urg") {
            self.next();
            spec.urg = Some(self.uint::<u16>("urgent pointer")?);
        }
        if self.eat_punct('<') {
            if self.peek() == Some(&Tok::Ellipsis) {
                self.next();
                if dir == Direction::Inbound {
                    return self.err("<...> for TCP options can only be used with outbound packets");
                }
                spec.options = None;
            } else {
                let mut opts = Vec::new();
                loop {
                    opts.push(self.tcp_option()?);
                    if !self.eat_punct(',') {
                        break;
                    }
                }
                spec.options = Some(opts);
            }
            self.expect_punct('>', "to close the TCP options")?;
        }
        if dir == Direction::Inbound && spec.win.is_none() {
            return Err(ScriptError::new(seq_line, "an injected segment needs `win N`"));
        }
        if self.is_punct('{') {
            return self.err("fuzzing (`{ mut ... }`) is not supported");
        }
        Ok(spec)
    }

    fn tcp_option(&mut self) -> Result<TcpOpt, ScriptError> {
        let line = self.line();
        let Some(Tok::Word(w)) = self.next() else {
            return Err(ScriptError::new(
                line,
                "expected a TCP option (`mss`, `nop`, `wscale`, `sackOK`, `sack`, `TS`)",
            ));
        };
        Ok(match w.as_str() {
            "nop" => TcpOpt::Nop,
            "eol" => TcpOpt::Eol,
            "mss" => TcpOpt::Mss(self.uint("mss value")?),
            "wscale" => TcpOpt::Wscale(self.uint("window scale shift count")?),
            "sackOK" => TcpOpt::SackOk,
            "sack" => {
                let mut blocks = Vec::new();
                while matches!(self.peek(), Some(Tok::Num(_))) {
                    let l = self.uint::<u32>("SACK left edge")?;
                    self.expect_punct(':', "in a SACK block")?;
                    blocks.push((l, self.uint::<u32>("SACK right edge")?));
                }
                if blocks.is_empty() || blocks.len() > 4 {
                    return Err(ScriptError::new(line, "a sack option has 1 to 4 blocks"));
                }
                TcpOpt::Sack(blocks)
            }
            "TS" => {
                if !self.is_word("val") {
                    return self.err("expected `TS val N ecr M`");
                }
                self.next();
                let val = self.uint::<u32>("ts val")?;
                if !self.is_word("ecr") {
                    return self.err("expected `ecr` after `TS val N`");
                }
                self.next();
                TcpOpt::Timestamp(val, self.uint::<u32>("ts ecr")?)
            }
            _ => return Err(ScriptError::new(line, format!("unsupported TCP option `{w}`"))),
        })
    }

    fn syscall(&mut self, end_usecs: Option<u64>) -> Result<SyscallSpec, ScriptError> {
        let Some(Tok::Word(name)) = self.next() else { unreachable!("checked by the caller") };
        self.expect_punct('(', &format!("after `{name}`"))?;
        let mut args = Vec::new();
        if !self.eat_punct(')') {
            loop {
                args.push(self.expr()?);
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',', "between arguments")?;
            }
        }
        self.expect_punct('=', "before the expected result")?;
        let result = self.expr()?;
        let mut errno = None;
        if let Some(Tok::Word(w)) = self.peek() {
            errno = Some(w.clone());
            self.next();
        }
        // An strace-style note: `(Connection refused)`.
        if self.eat_punct('(') {
            while !self.eat_punct(')') {
                if self.next().is_none() {
                    return self.err("unterminated `(` note");
                }
            }
        }
        Ok(SyscallSpec { end_usecs, name, args, result, errno })
    }

    fn expr(&mut self) -> Result<Expr, ScriptError> {
        let first = self.primary()?;
        if !self.is_punct('|') {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.eat_punct('|') {
            v.push(self.primary()?);
        }
        Ok(Expr::Or(v))
    }

    fn list_until(&mut self, close: char) -> Result<Vec<Expr>, ScriptError> {
        let mut v = Vec::new();
        if self.eat_punct(close) {
            return Ok(v);
        }
        loop {
            v.push(self.expr()?);
            if self.eat_punct(close) {
                return Ok(v);
            }
            self.expect_punct(',', "between list elements")?;
        }
    }

    fn primary(&mut self) -> Result<Expr, ScriptError> {
        let line = self.line();
        match self.next() {
            Some(Tok::Ellipsis) => Ok(Expr::Ellipsis),
            Some(Tok::Num(s)) => Ok(Expr::Int(int_value(&s, line)?)),
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Punct('[')) => Ok(Expr::List(self.list_until(']')?)),
            Some(Tok::Punct('{')) => Ok(Expr::Brace(self.list_until('}')?)),
            Some(Tok::Word(w)) => {
                if self.eat_punct('(') {
                    Ok(Expr::Call(w, self.list_until(')')?))
                } else if self.is_punct('=') && self.peek_at(1).is_some() && self.in_brace_context() {
                    self.next();
                    Ok(Expr::Assign(w, Box::new(self.expr()?)))
                } else {
                    Ok(Expr::Word(w))
                }
            }
            other => {
                let f = other.map_or("end of script".to_string(), |t| t.to_string());
                Err(ScriptError::new(line, format!("expected an expression, found {f}")))
            }
        }
    }

    /// `name=value` is an assignment only inside `{ }`; at the top level
    /// `=` introduces the result (`... , SHUT_WR) = 0` never has a word
    /// right before `=`, but `close(3) = 0` style calls have `)`).
    fn in_brace_context(&self) -> bool {
        let (mut braces, mut parens) = (0i32, 0i32);
        for (t, _) in self.toks[..self.pos].iter().rev() {
            match t {
                Tok::Punct('}') => braces += 1,
                Tok::Punct('{') if braces == 0 => return true,
                Tok::Punct('{') => braces -= 1,
                Tok::Punct(')') => parens += 1,
                Tok::Punct('(') if parens == 0 => return false,
                Tok::Punct('(') => parens -= 1,
                _ => {}
            }
        }
        false
    }
}

// ANCHOR: parse_sysctl_commands
/// The text of a backtick command, as real packetdrill scripts write
/// sysctl settings: one or more `sysctl [-q] [-w] name=value ...`
/// commands separated by `;` (or `&&`, or new lines). Values may be
/// quoted (`net.ipv4.tcp_rmem="4096 131072 6291456"`). packetdrill hands
/// the text to `/bin/sh`; we run no shell, so anything else — another
/// program, `sysctl` reading a value or taking other flags, redirections,
/// `$` expansions — is an error naming the line.
pub fn parse_sysctl_commands(text: &str, line: usize) -> Result<Vec<SysctlWrite>, ScriptError> {
    let bad = |msg: String| ScriptError::new(line, msg);
    let no_shell = |what: &str| {
        bad(format!(
            "backtick command `{}`: {what}; linnet's packetdrill harness runs no shell, only `sysctl -q name=value` (several may be separated by `;`)",
            text.trim()
        ))
    };
    if text.contains(['|', '>', '<', '$', '(', ')', '\\', '*', '?', '#']) || text.contains("||") {
        return Err(no_shell("shell syntax"));
    }
    let mut writes = Vec::new();
    let normalized = text.replace("&&", ";").replace('\n', ";");
    if normalized.contains('&') {
        return Err(no_shell("shell syntax"));
    }
    for cmd in normalized.split(';') {
        let words = shell_words(cmd).ok_or_else(|| no_shell("an unterminated quote"))?;
        let Some((prog, args)) = words.split_first() else { continue };
        if prog != "sysctl" {
            return Err(no_shell(&format!("`{prog}` is not sysctl")));
        }
        let mut any = false;
        for a in args {
            match a.as_str() {
                "-q" | "-w" | "-qw" | "-wq" => continue,
                _ if a.starts_with('-') => return Err(no_shell(&format!("sysctl option `{a}`"))),
                _ => {}
            }
            let Some((name, value)) = a.split_once('=') else {
                return Err(no_shell(&format!(
                    "`{a}` is not `name=value` (reading a sysctl is not supported)"
                )));
            };
            let name = name.trim();
            if name.is_empty() || value.trim().is_empty() {
                return Err(no_shell(&format!("`{a}` needs both a name and a value")));
            }
            writes.push(SysctlWrite { name: name.to_string(), value: value.trim().to_string() });
            any = true;
        }
        if !any {
            return Err(no_shell("sysctl without `name=value`"));
        }
    }
    if writes.is_empty() {
        return Err(bad("an empty backtick command".into()));
    }
    Ok(writes)
}
// ANCHOR_END: parse_sysctl_commands

/// Split a command into words as `sh` would for plain words and `'…'` /
/// `"…"` quotes (nothing is expanded). `None` for an unterminated quote.
fn shell_words(cmd: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return None,
                        Some(q) if q == c => break,
                        Some(x) => cur.push(x),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// Parse a script's text.
pub fn parse_script(src: &str) -> Result<Script, ScriptError> {
    let lexed = lex(src)?;
    let mut p = Parser { toks: lexed.toks, pos: 0, last_line: 1 };
    p.script(lexed.comment_tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Event {
        let s = parse_script(src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.events.len(), 1, "{s:?}");
        s.events.into_iter().next().unwrap()
    }

    fn pkt(src: &str) -> PacketSpec {
        match one(src).kind {
            EventKind::Packet(p) => p,
            k => panic!("not a packet: {k:?}"),
        }
    }

    fn call(src: &str) -> SyscallSpec {
        match one(src).kind {
            EventKind::Syscall(s) => s,
            k => panic!("not a syscall: {k:?}"),
        }
    }

    fn err(src: &str) -> ScriptError {
        parse_script(src).expect_err("should not parse")
    }

    #[test]
    fn times_convert_exactly_to_microseconds() {
        assert_eq!(time_usecs("0", 1), Ok(0));
        assert_eq!(time_usecs("1", 1), Ok(1_000_000));
        assert_eq!(time_usecs(".1", 1), Ok(100_000));
        assert_eq!(time_usecs("0.000001", 1), Ok(1));
        assert_eq!(time_usecs("2.5", 1), Ok(2_500_000));
        assert!(time_usecs("0.0000001", 1).is_err());
        assert_eq!(one("+.1 close(3) = 0").time, EventTime::Relative(100_000));
        assert_eq!(one("1.25 close(3) = 0").time, EventTime::Absolute(1_250_000));
    }

    #[test]
    fn time_ranges_and_star_only_on_outbound_packets() {
        assert_eq!(one("+0~+0.2 > . 1:1(0) ack 1").time, EventTime::RelativeRange(0, 200_000));
        assert_eq!(one("1~1.5 > . 1:1(0) ack 1").time, EventTime::AbsoluteRange(1_000_000, 1_500_000));
        assert_eq!(one("+0...0.2 > . 1:1(0) ack 1").time, EventTime::RelativeRange(0, 200_000));
        assert_eq!(one("* > R 1:1(0)").time, EventTime::Any);
        assert!(err("* < . 1:1(0) ack 1 win 100").msg.contains("outbound"));
        assert!(err("+0~+1 close(3) = 0").msg.contains("outbound"));
        assert!(err("+1~+0.5 > . 1:1(0)").msg.contains("backwards"));
    }

    #[test]
    fn a_syn_with_options() {
        let p = pkt("+0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
        assert_eq!(p.dir, Direction::Inbound);
        assert_eq!(p.flags, TCPHDR_SYN);
        assert_eq!((p.seq, p.len, p.ack, p.win), (0, 0, None, Some(65535)));
        assert_eq!(
            p.options,
            Some(vec![
                TcpOpt::Mss(1460),
                TcpOpt::SackOk,
                TcpOpt::Timestamp(100, 0),
                TcpOpt::Nop,
                TcpOpt::Wscale(7)
            ])
        );
    }

    #[test]
    fn flags_seq_ack_and_dont_care_options() {
        let p = pkt("+0 > S. 0:0(0) ack 1 <...>");
        assert_eq!(p.flags, TCPHDR_SYN | TCPHDR_ACK);
        assert_eq!((p.ack, p.win, p.options), (Some(1), None, None));
        let p = pkt("+0 > P. 1:1001(1000) ack 1 win 65535");
        assert_eq!((p.flags, p.seq, p.len), (TCPHDR_PSH | TCPHDR_ACK, 1, 1000));
        assert_eq!(p.options, Some(vec![]));
        assert_eq!(pkt("0 > . 1:1(0) ack 1").flags, TCPHDR_ACK);
        assert_eq!(pkt("0 > F. 1:1(0) ack 1").flags, TCPHDR_FIN | TCPHDR_ACK);
        assert_eq!(pkt("0 > R 1:1(0)").flags, TCPHDR_RST);
        assert_eq!(pkt("0 > R. 0:0(0) ack 1").flags, TCPHDR_RST | TCPHDR_ACK);
        let p = pkt("0 < 1234>8080 S 0:0(0) win 1000 <sack 1:2 3:4>");
        assert_eq!(p.ports, Some((1234, 8080)));
        assert_eq!(p.options, Some(vec![TcpOpt::Sack(vec![(1, 2), (3, 4)])]));
    }

    #[test]
    fn bad_packets_name_their_line() {
        let e = err("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n+0 < S 0:1(0) win 1000\n");
        assert_eq!(e.line, 3);
        assert!(e.msg.contains("inconsistent"), "{e}");
        assert_eq!(err("0 < S 0:0(0)\n").line, 1);
        assert!(err("0 < S 0:0(0) win 1 <...>").msg.contains("outbound"));
        assert!(err("0 > X 0:0(0)").msg.contains("unknown TCP flag"));
        assert!(err("0 > S 0:0(0) <md5 abc>").msg.contains("unsupported TCP option"));
        assert!(err("0 > udp (10)").msg.contains("only TCP"));
    }

    #[test]
    fn syscalls_with_errno_and_notes() {
        let s = call("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3");
        assert_eq!(s.name, "socket");
        assert_eq!(
            s.args,
            vec![Expr::Ellipsis, Expr::Word("SOCK_STREAM".into()), Expr::Word("IPPROTO_TCP".into())]
        );
        assert_eq!((s.result, s.errno), (Expr::Int(3), None));
        let s = call("+0 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)");
        assert_eq!((s.result, s.errno.as_deref()), (Expr::Int(-1), Some("ECONNREFUSED")));
        let s = call("+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0");
        assert_eq!(s.args[2], Expr::Or(vec![Expr::Word("O_RDWR".into()), Expr::Word("O_NONBLOCK".into())]));
        let s = call("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0");
        assert_eq!(
            s.args[3],
            Expr::Brace(vec![
                Expr::Assign("onoff".into(), Box::new(Expr::Int(1))),
                Expr::Assign("linger".into(), Box::new(Expr::Int(0)))
            ])
        );
        let s = call("+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0");
        assert_eq!(s.args[3], Expr::List(vec![Expr::Int(0)]));
        let s = call("+0 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1");
        assert!(matches!(&s.args[0], Expr::List(v) if matches!(&v[0], Expr::Brace(f) if f.len() == 3)));
        let s = call(
            "0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.168.0.1\")}, 16) = 0",
        );
        assert!(
            matches!(&s.args[1], Expr::Brace(f) if f[1] == Expr::Assign("sin_port".into(), Box::new(Expr::Call("htons".into(), vec![Expr::Int(8080)]))))
        );
        assert_eq!(call("+0 close(3) = 0").args, vec![Expr::Int(3)]);
        assert_eq!(call("+0 fcntl(3, F_GETFL) = 0x2").result, Expr::Int(2));
    }

    #[test]
    fn blocking_calls_carry_an_end_time() {
        let e = one("+0...0.25 accept(3, ..., ...) = 4");
        assert_eq!(e.time, EventTime::Relative(0));
        let EventKind::Syscall(s) = e.kind else { panic!() };
        assert_eq!(s.end_usecs, Some(250_000));
        assert!(err("1...0.5 accept(3, ..., ...) = 4").msg.contains("ends before"));
    }

    #[test]
    fn multi_line_events_comments_and_line_numbers() {
        let s = parse_script(
            "// a header\n/* a\n block */\n0 socket(..., SOCK_STREAM,\n  IPPROTO_TCP) = 3 // tail\n+0 close(3) = 0\n",
        )
        .unwrap();
        assert_eq!(s.events.len(), 2);
        assert_eq!((s.events[0].line, s.events[1].line), (4, 6));
        assert_eq!(s.tolerance_usecs, DEFAULT_TOLERANCE_USECS);
    }

    #[test]
    fn tolerance_from_an_option_or_a_comment() {
        assert_eq!(parse_script("--tolerance_usecs=10000\n0 close(3) = 0").unwrap().tolerance_usecs, 10_000);
        assert_eq!(parse_script("// --tolerance_usecs=7000\n0 close(3) = 0").unwrap().tolerance_usecs, 7000);
        assert!(err("--bind_port=99\n0 close(3) = 0").msg.contains("unsupported option"));
    }

    fn sysctls(src: &str) -> Vec<(String, String)> {
        match one(src).kind {
            EventKind::Sysctl(v) => v.into_iter().map(|w| (w.name, w.value)).collect(),
            k => panic!("not a sysctl command: {k:?}"),
        }
    }

    #[test]
    fn backtick_sysctl_commands() {
        let s = |n: &str, v: &str| (n.to_string(), v.to_string());
        assert_eq!(
            sysctls("0 `sysctl -q net.ipv4.tcp_timestamps=0`"),
            vec![s("net.ipv4.tcp_timestamps", "0")]
        );
        assert_eq!(sysctls("+0 `sysctl -w net.ipv4.tcp_sack=1`"), vec![s("net.ipv4.tcp_sack", "1")]);
        assert_eq!(
            sysctls("0 `sysctl -q net.ipv4.tcp_sack=0; sysctl -q net.ipv4.tcp_rmem=\"4096 131072 6291456\"`"),
            vec![s("net.ipv4.tcp_sack", "0"), s("net.ipv4.tcp_rmem", "4096 131072 6291456")]
        );
        assert_eq!(
            sysctls("0 `sysctl -q a.b=1 c.d='2 3' && sysctl e.f=4\n sysctl -q g.h=5`"),
            vec![s("a.b", "1"), s("c.d", "2 3"), s("e.f", "4"), s("g.h", "5")]
        );
        // The event's line is the line of its time; later lines count on.
        let sc = parse_script("0 `sysctl -q a.b=1;\nsysctl -q c.d=2`\n+0 close(3) = 0").unwrap();
        assert_eq!((sc.events[0].line, sc.events[1].line), (1, 3));
    }

    #[test]
    fn backtick_commands_other_than_sysctl_writes_are_errors() {
        for bad in [
            "0 `echo hi`",
            "0 `../common/defaults.sh`",
            "0 `sysctl net.ipv4.tcp_sack`",
            "0 `sysctl -a`",
            "0 `sysctl -q net.ipv4.tcp_sack=1 > /dev/null`",
            "0 `sysctl -q net.ipv4.tcp_sack=$X`",
            "0 `sysctl -q net.ipv4.tcp_sack=1; tc qdisc add dev lo root fq`",
            "0 `sysctl -q a.b=\"1`",
            "0 `sysctl -q =1`",
        ] {
            let e = err(bad);
            assert_eq!(e.line, 1, "{bad}");
            assert!(e.msg.contains("no shell"), "{bad}: {e}");
        }
        assert!(err("0 `   `").msg.contains("empty"));
        assert!(err("0 `sysctl -q a.b=1").msg.contains("unterminated"));
        assert!(err("+0...1 `sysctl -q a.b=1`").msg.contains("end time"));
        assert!(err("* `sysctl -q a.b=1`").msg.contains("outbound"));
    }

    #[test]
    fn out_of_scope_syntax_is_rejected_with_its_line() {
        let e = err("0 close(3) = 0\n+0 `echo hi`\n");
        assert_eq!(e.line, 2);
        assert!(e.msg.contains("backtick") && e.msg.contains("no shell"), "{e}");
        let e = err("0 close(3) = 0\n\n%{ print(1) }%\n");
        assert_eq!(e.line, 3);
        assert!(e.msg.contains("Python"));
        assert_eq!(err("0 close(3) = 0\n# hash\n").line, 2);
        assert_eq!(err("0 close(3) = 0\nclose(3) = 0\n").line, 2);
    }
}
