# Plays the peer of Linux's undo of spurious loss recovery
# (tcp_try_undo_recovery/dsack/loss, F-RTO; net/ipv4/tcp_input.c) against
# the running kernel (TUN peer in a network namespace, as rack.py), reno,
# SACK offered in the SYN (MSS 1000), an RTT of 100 ms from the handshake.
# The argument picks the story:
#   dsack      - five segments; ACK 1 SACK 1001:4001 (1:1001 resent at
#                once); then ACK 5001 with a D-SACK of 1:1001: the
#                original and the resend both arrived, so the recovery
#                is undone when it ends (TCPFullUndo)
#   dsacklate  - the same, but ACK 5001 first (the recovery ends, not
#                undone), then a D-SACK of 1:1001 on its own: undone in
#                Open (TCPDSACKUndo)
#   ts         - timestamps on; five segments; ACK 1 SACK 1001:4001
#                (1:1001 resent); ACK 5001 echoing the first segment's
#                TSval: the original got through (TCPFullUndo)
#   rtots      - timestamps on; two segments, no ACK until the RTO has
#                resent 1:1001; then ACK 2001 echoing the originals'
#                TSval (TCPLossUndo)
#   frto       - no timestamps; three segments, no ACK until the RTO has
#                resent 1:1001; the application writes two more; ACK
#                1001 (F-RTO sends new data, not 1001:2001); ACK 3001:
#                never-retransmitted data acknowledged, the RTO was
#                spurious (TCPSpuriousRTOs, TCPLossUndo)
# After the story the peer ACKs everything; then the application writes
# 20 segments and the script prints how many left at once (the window
# after the story: undone or not). Prints every data segment (ms after the
# first, relative start, end), ss -tin's cwnd/ssthresh and the counters.
# Run as root, in a namespace of its own:
#
#   ip netns add undo && ip netns exec undo python3 undo.py dsack; ip netns del undo
#
# Not run by cargo.
import os, re, select, socket, struct, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tunpeer import Flight, setup, sh, tcp_ts_of, send as send_fd
MODE = sys.argv[1] if len(sys.argv) > 1 else "dsack"
TS = MODE in ("ts", "rtots")
fd, L = setup("reno")
if MODE in ("rtots", "frto"):
    sh("sysctl -q net.ipv4.tcp_early_retrans=0")   # no tail loss probe first
sh("nstat -n")
def send(flags, seq, ack, opts=b""): send_fd(fd, flags, seq, ack, opts)
def tsopt(ecr):
    return struct.pack("!BBBBII", 1, 1, 8, 10, int(time.time() * 1000) & 0xffffffff, ecr) if TS else b""
syn_ts = struct.pack("!BBII", 8, 10, 1, 0) + b"\x01\x01" if TS else b""
send(0x02, 0, 0, struct.pack("!BBH", 2, 4, 1000) + b"\x01\x01\x04\x02" + syn_ts)
synack = None; end = time.time() + 0.5
while synack is None and time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.01)
    if r:
        x = tcp_ts_of(os.read(fd, 65536))
        if x and x[2] & 0x12 == 0x12: synack = x
base = synack[0] + 1
time.sleep(0.1); send(0x10, 1, base, tsopt(synack[4] or 0))
S, _ = L.accept()
F = Flight(fd, base, parse=tcp_ts_of)
recv_timed, rel, sack, tsv = F.recv, F.rel, F.sack, F.first_ts
def ack(n, *blocks, ecr=None):
    send(0x10, 1, base + n - 1, (sack(*blocks) if blocks else b"") + tsopt(ecr if ecr is not None else tsv.get(1, 0)))
def ss():
    o = sh("ss -tin state established '( sport = :8080 )'")
    return " ".join(m.group(0) for m in re.finditer(r"\b(cwnd|ssthresh|retrans|lost|reordering):\S+", o))

if MODE in ("dsack", "dsacklate", "ts"):
    S.send(b"x" * 5000)
    f = rel(recv_timed(0.1)); print("flight:", f)
    M = f[0][2] - 1                           # the MSS (988 with timestamps)
    ack(1, (M + 1, 4 * M + 1))                # the first missing, three above it
    print("after ACK 1 SACK:", rel(recv_timed(0.05)), "ss:", ss())
    if MODE == "dsack":
        ack(5001, (1, M + 1))                 # all arrived, the first twice
    elif MODE == "dsacklate":
        ack(5001); recv_timed(0.02); print("after ACK 5001:", ss())
        ack(5001, (1, M + 1))                 # the duplicate reported late
    else:
        ack(5001, ecr=tsv[1])                 # echoes the original's TSval
    recv_timed(0.02)
elif MODE in ("rtots", "frto"):
    n = 2 if MODE == "rtots" else 3
    S.send(b"x" * 1000 * n)
    print("flight:", rel(recv_timed(0.05)))
    r = recv_timed(1.5, until=lambda x: x[2] and x[0] == 1)  # the RTO's resend of the first
    print("RTO resend:", rel(r), "ss:", ss())
    if MODE == "rtots":
        ack(1000 * n + 1, ecr=tsv[1])         # the originals got through (n * MSS: 2001)
        recv_timed(0.02)
    else:
        S.send(b"y" * 2000)                   # queued: cwnd is 1
        recv_timed(0.01)
        ack(1001)                             # the original 1:1001 arrived
        print("after ACK 1001:", rel(recv_timed(0.05)), "ss:", ss())
        ack(3001)                             # ... and 1001:3001, never resent
        print("after ACK 3001:", rel(recv_timed(0.05)), "ss:", ss())
print("after the story:", ss())
# Everything arrived; then 20 segments: how many leave at once?
for _ in range(5):
    ack(F.hi)
    if not [x for (t, x) in recv_timed(0.05) if x[1] > 0]: break
print("window after:", ss())
S.send(b"z" * 20000)
burst = [x for (t, x) in recv_timed(0.05) if x[1] > 0]
print("new segments at once:", len(burst))
print("all data segments:", F.log)
for _ in range(10):
    ack(F.hi)
    if not [x for (t, x) in recv_timed(0.05) if x[1] > 0]: break
S.close()
L.close()
print(sh("nstat -az TcpExtTCPFullUndo TcpExtTCPPartialUndo TcpExtTCPDSACKUndo TcpExtTCPLossUndo "
         "TcpExtTCPSpuriousRTOs TcpExtTCPSackRecovery TcpExtTCPTimeouts TcpExtTCPDSACKRecv "
         "TcpExtTCPDSACKRecvSegs TcpExtTCPDSACKIgnoredDubious TcpRetransSegs | grep -v '^#'"))
os.close(fd)
