# Plays the peer of RACK loss detection (RFC 8985, tcp_recovery.c)
# against the running kernel (TUN peer in a network namespace, as
# tail_loss_probe.py), with SACK offered in the SYN (MSS 1000) and an RTT
# of 100 ms from the handshake. The argument picks the SACKs:
#   reo         - three segments; ~100 ms later ACK 1 SACK 1001:2001 (only
#                 the second arrived): 1:1001 is resent when the reordering
#                 window (min_rtt / 4) runs out, by the RACK timer, not the
#                 RTO; 2001:3001, sent after 1001:2001, is not. Then ACK
#                 2001 (the resend arrived): RACK now marks 2001:3001 lost
#                 at once
#   dupthresh   - five segments; ACK 1 SACK 1001:4001: three SACKed, so
#                 the window is 0 and 1:1001 is resent at once
#   lostretrans - four segments; ACK 1 SACK 1001:4001 (1:1001 resent at
#                 once, as dupthresh); the resend is dropped; 20 ms later
#                 one more segment (4001:5001), SACKed when it arrives
#                 (ACK 1 SACK 1001:5001): the resend was lost
#                 (TCPLostRetransmit) and 1:1001 goes again without an
#                 RTO. An optional second argument delays that SACK by so
#                 many ms (default 0: the SACK's RTT sample, ~0.2 ms,
#                 becomes min_rtt)
#   lostretrans3 - the same from three segments and ACK 1 SACK 1001:3001:
#                 the RACK timer resends 1:1001 with cwnd cut to 1 (PRR),
#                 so the new segment stays queued and only the RTO
#                 resends 1:1001 again
# Prints every data segment (ms after the first, relative start, end), how
# long after the triggering ACK the first retransmission left, ss -tin's
# rtt/rto/minrtt/cwnd/reordering and the recovery counters (nstat). Run as
# root, in a namespace of its own:
#
#   ip netns add rack && ip netns exec rack python3 rack.py reo; ip netns del rack
#
# Not run by cargo.
import os, re, select, socket, struct, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tunpeer import Flight, setup, sh, send as send_fd, recv_all as recv_fd
MODE = sys.argv[1] if len(sys.argv) > 1 else "reo"
DELAY = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
fd, L = setup("cubic")
sh("nstat -n")
def send(flags, seq, ack, opts=b""): send_fd(fd, flags, seq, ack, opts)
# SYN: MSS 1000, SACK permitted.
send(0x02, 0, 0, struct.pack("!BBH", 2, 4, 1000) + b"\x01\x01\x04\x02")
synack = []; end = time.time() + 0.5            # as soon as it comes, so the
while not synack and time.time() < end:         # handshake's RTT is the 100 ms
    synack = [x for x in recv_fd(fd, 0.002) if x[2] & 0x12 == 0x12]
base = synack[0][0] + 1
time.sleep(0.1); send(0x10, 1, base)
S, _ = L.accept()
F = Flight(fd, base)                            # every data segment, in F.log
recv_timed, rel = F.recv, F.rel
def first_rtx(segs, since, hi_before):
    """ms from `since` to the first segment starting below hi_before."""
    r = [t for (t, (s, n, f, a)) in segs if n > 0 and s - base + 1 < hi_before]
    return round((r[0] - since) * 1000, 1) if r else None
sack = F.sack
def ss():
    o = sh("ss -tin state established '( sport = :8080 )'")
    return " ".join(m.group(0) for m in re.finditer(
        r"\b(rtt|rto|minrtt|cwnd|ssthresh|reordering|reord_seen|retrans|lost):\S+", o))

if MODE == "reo":
    S.send(b"x" * 3000)
    print("flight:", rel(recv_timed(0.1)))
    send(0x10, 1, base, sack((1001, 2001)))     # only the 2nd arrived
    ta = time.time(); h = F.hi
    after = recv_timed(0.25)
    print("after ACK 1 SACK 1001:2001:", rel(after), "first rtx %s ms after the ACK" % first_rtx(after, ta, h))
    print("ss:", ss())
    send(0x10, 1, base + 2000)                  # the resend of 1:1001 arrived
    ta = time.time(); h = F.hi
    after = recv_timed(0.1)
    print("after ACK 2001:", rel(after), "first rtx %s ms after the ACK" % first_rtx(after, ta, h))
elif MODE == "dupthresh":
    S.send(b"x" * 5000)
    print("flight:", rel(recv_timed(0.1)))
    send(0x10, 1, base, sack((1001, 4001)))     # three SACKed
    ta = time.time(); h = F.hi
    after = recv_timed(0.25)
    print("after ACK 1 SACK 1001:4001:", rel(after), "first rtx %s ms after the ACK" % first_rtx(after, ta, h))
    print("ss:", ss())
elif MODE in ("lostretrans", "lostretrans3"):
    n = 4 if MODE == "lostretrans" else 3       # segments in the first flight
    S.send(b"x" * 1000 * n)
    print("flight:", rel(recv_timed(0.1)))
    e = 1000 * n + 1
    send(0x10, 1, base, sack((1001, e)))        # all but 1:1001 arrived
    ta = time.time(); h = F.hi
    r1 = recv_timed(0.5, until=lambda x: x[2])  # the resend of 1:1001: dropped
    print("after ACK 1 SACK 1001:%d:" % e, rel(r1), "first rtx %s ms after the ACK" % first_rtx(r1, ta, h))
    rest = 0.02 - (time.time() - r1[-1][0]) if r1 else 0
    recv_timed(max(0, rest))
    S.send(b"y" * 1000)
    r2 = recv_timed(0.5, until=lambda x: x[1] == e + 1000 and not x[2])
    print("after the write (0.5 s at most):", rel(r2))
    if any(s - base + 1 == e and n > 0 for (t, (s, n, f, a)) in r2):
        if DELAY: recv_timed(DELAY)
        send(0x10, 1, base, sack((1001, e + 1000)))  # the new one arrived, 1:1001 not
        ta = time.time(); h = F.hi
        after = recv_timed(0.25)
        print("after ACK 1 SACK 1001:%d:" % (e + 1000), rel(after),
              "first rtx %s ms after the ACK" % first_rtx(after, ta, h))
    else:
        print("%d:%d not sent" % (e, e + 1000))
    print("ss:", ss())
print("all data segments:", F.log)
# Everything arrived (ACK whatever the kernel still sends); close both ways.
for _ in range(5):
    send(0x10, 1, base + F.hi - 1)
    if not [x for (t, x) in recv_timed(0.05) if x[1] > 0]: break
S.close()
fin = [x for (t, x) in recv_timed(0.05) if x[2] & 0x01]
if fin:
    send(0x11, 1, fin[0][0] + fin[0][1] + 1)
    recv_timed(0.05)
L.close()
print(sh("nstat -az TcpExtTCPSackRecovery TcpExtTCPLostRetransmit TcpExtTCPLossProbes TcpExtTCPTimeouts "
         "TcpExtTCPSACKReorder TcpExtTCPFastRetrans TcpExtTCPDSACKRecv TcpRetransSegs | grep -v '^#'"))
os.close(fd)
