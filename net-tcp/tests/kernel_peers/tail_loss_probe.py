# Plays recovery/tlp-*.pkt's peer against the running kernel (TUN peer in
# a network namespace, as cubic_after_recovery.py), with SACK offered in
# the SYN: RTT 100 ms, four segments, the last one's fate decided by the
# argument:
#   lost  - it never arrives: ACK 3001; the kernel's probe resends it; ACK
#           4001; then one more segment, ACKed (the ACK past tlp_high_seq)
#   acked - it arrived, but its ACK was lost: ACK 3001; the probe draws
#           ACK 4001 with a D-SACK of 3001:4001; then one more segment
#   two   - the last two are in flight when the ACKs stop (ACK 2001): the
#           probe timeout is 2 x SRTT + 2 ms, not bounded by the RTO
# Prints when each segment leaves (ms after the first), ss -tin's cwnd and
# the TLP counters (nstat). Run as root:
#
#   ip netns add tlp && ip netns exec tlp python3 tail_loss_probe.py lost; ip netns del tlp
#
# Not run by cargo.
import os, re, socket, struct, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tunpeer import setup, sh, send as send_fd, recv_all as recv_fd
MODE = sys.argv[1] if len(sys.argv) > 1 else "lost"
fd, L = setup("cubic")
sh("nstat -n")
def send(flags, seq, ack, opts=b""): send_fd(fd, flags, seq, ack, opts)
# SYN: MSS 1000, SACK permitted.
send(0x02, 0, 0, struct.pack("!BBH", 2, 4, 1000) + b"\x01\x01\x04\x02")
synack = [x for x in recv_fd(fd, 0.05) if x[2] & 0x12 == 0x12][0]
base = synack[0] + 1
time.sleep(0.1); send(0x10, 1, base)
S, _ = L.accept()
t0 = time.time()
def rel(segs):
    return [(round((t - t0) * 1000), s - base + 1, s - base + 1 + n) for (t, (s, n, f, a)) in segs if n > 0]
def recv_timed(wait):
    out = []; end = time.time() + wait
    while time.time() < end:
        for x in recv_fd(fd, min(0.005, max(0, end - time.time()))):
            out.append((time.time(), x))
    return out
def cwnd():
    o = sh("ss -tin state established '( sport = :8080 )'")
    c = re.search(r"cwnd:(\d+)", o); return c and c.group(1)
S.send(b"x" * 4000)
print("flight:", rel(recv_timed(0.1)))
acked = 2000 if MODE == "two" else 3000
send(0x10, 1, base + acked)                     # 1:3001 (or 1:2001) arrived
ta = time.time()
after = recv_timed(0.6)
print("after ACK %d (cwnd %s):" % (acked + 1, cwnd()), rel(after),
      "first %d ms after the ACK" % round((after[0][0] - ta) * 1000) if after else "")
print(sh("ss -tin state established '( sport = :8080 )' | grep -o 'rtt:[0-9.]*/[0-9.]*\\|rto:[0-9]*'"))
if MODE == "lost":
    send(0x10, 1, base + 4000)                  # the probe repaired it
else:
    dsack = struct.pack("!BBBBII", 1, 1, 5, 10, base + 3000, base + 4000)
    send(0x10, 1, base + 4000, dsack)           # the original had arrived
time.sleep(0.05)
S.send(b"y" * 1000)
print("next write:", rel(recv_timed(0.05)))
send(0x10, 1, base + 5000)
time.sleep(0.05)
print("cwnd after:", cwnd())
print(sh("nstat -az TcpExtTCPLossProbes TcpExtTCPLossProbeRecovery TcpExtTCPTimeouts TcpRetransSegs TcpExtTCPDSACKRecv | grep -v '^#'"))
