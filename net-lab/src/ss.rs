//! Socket tables as `ss -tan` prints them, and listeners as `ss -lnt` does.
//!
//! No Linux twin in the kernel: iproute2's `ss` asks `inet_diag` for each
//! socket, and `tcp_diag_get_info()` (net/ipv4/tcp_diag.c) fills the two
//! queue columns. For a listener, Recv-Q is the accept queue's length
//! (`sk_ack_backlog`) and Send-Q its limit (`sk_max_ack_backlog`); for any
//! other socket, Recv-Q is `rcv_nxt - copied_seq` (bytes, and a FIN, not
//! yet read) and Send-Q is `write_seq - snd_una` (bytes, a SYN or a FIN,
//! not yet acknowledged).

use std::fmt::Write;

use net_tcp::sock::TcpSock;
use net_tcp::tcp_states::TcpState;

/// One `ss -tan` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsRow {
    /// The host the socket lives on.
    pub host: String,
    /// `ss`'s state name (`ESTAB`, `LISTEN`, `TIME-WAIT` …).
    pub state: String,
    /// Recv-Q.
    pub recv_q: u32,
    /// Send-Q.
    pub send_q: u32,
    /// `Local Address:Port`.
    pub local: String,
    /// `Peer Address:Port` (`0.0.0.0:*` for a listener).
    pub peer: String,
}

/// The row `ss -tan` prints for `sk` on `host`.
pub fn ss_row(host: &str, sk: &TcpSock) -> SsRow {
    let tp = sk.lock.lock();
    let listen = tp.state == TcpState::Listen;
    let (recv_q, send_q) = if listen {
        (
            sk.sk_ack_backlog.load(std::sync::atomic::Ordering::Relaxed),
            sk.sk_max_ack_backlog.load(std::sync::atomic::Ordering::Relaxed),
        )
    } else {
        (
            (tp.rcv_nxt.wrapping_sub(tp.copied_seq) as i32).max(0) as u32,
            (tp.write_seq.wrapping_sub(tp.snd_una) as i32).max(0) as u32,
        )
    };
    let state = tp.state.name().to_string();
    drop(tp);
    let peer = if listen {
        format!("{}:*", sk.inet_daddr())
    } else {
        format!("{}:{}", sk.inet_daddr(), sk.inet_dport())
    };
    SsRow {
        host: host.to_string(),
        state,
        recv_q,
        send_q,
        local: format!("{}:{}", sk.inet_rcv_saddr(), sk.inet_num()),
        peer,
    }
}

/// The rows as `ss -tan` prints them, with the header line.
pub fn ss_table(rows: &[SsRow]) -> String {
    let mut out = format!(
        "{:<10} {:>6} {:>6} {:<21} {:<21}\n",
        "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
    );
    for r in rows {
        let _ =
            writeln!(out, "{:<10} {:>6} {:>6} {:<21} {:<21}", r.state, r.recv_q, r.send_q, r.local, r.peer);
    }
    out.lines().map(|l| l.trim_end().to_string() + "\n").collect()
}

/// The listening rows as `ss -lnt` prints them: State `LISTEN`, Recv-Q
/// (the accept queue's length, `sk_ack_backlog`), Send-Q (the backlog,
/// `sk_max_ack_backlog`), `Local Address:Port`, `Peer Address:Port`.
/// Rows in any other state are left out, as `-l` leaves them out.
pub fn ss_lnt_table(rows: &[SsRow]) -> String {
    let listeners: Vec<SsRow> = rows.iter().filter(|r| r.state == "LISTEN").cloned().collect();
    ss_table(&listeners)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, recv_q: u32, send_q: u32) -> SsRow {
        SsRow {
            host: "b".into(),
            state: state.into(),
            recv_q,
            send_q,
            local: "0.0.0.0:80".into(),
            peer: "0.0.0.0:*".into(),
        }
    }

    #[test]
    fn ss_lnt_prints_only_listeners_with_their_queues() {
        let t = ss_lnt_table(&[row("LISTEN", 3, 2), row("ESTAB", 0, 0), row("LISTEN", 0, 128)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with("State") && lines[0].contains("Recv-Q") && lines[0].contains("Send-Q"));
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(cols, ["LISTEN", "3", "2", "0.0.0.0:80", "0.0.0.0:*"]);
        assert!(lines[2].contains("128"));
        assert!(!t.contains("ESTAB"));
    }
}
