# Plays congestion/cubic-after-recovery.pkt's ACKs against the running
# kernel: the peer is a TUN device (10.0.0.2) in a network namespace, the
# kernel's side a listening socket on 10.0.0.1:8080 with TCP_CONGESTION
# set on the listener (a child namespace may only default to an allowed
# algorithm). Prints the segments per round trip and ss -tin's cwnd and
# ssthresh. Run as root, in a namespace of its own:
#
#   ip netns add cc && ip netns exec cc python3 cubic_after_recovery.py cubic; ip netns del cc
#
# (`reno` as the argument for the comparison.) Not run by cargo.
import os, socket, subprocess, sys, time, re
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tunpeer import setup, send as send_fd, recv_all as recv_fd, handshake
CC = sys.argv[1] if len(sys.argv) > 1 else "cubic"
fd, L = setup(CC)
def send(flags, seq, ack): send_fd(fd, flags, seq, ack)
def recv_all(wait): return recv_fd(fd, wait)
S, base = handshake(fd, L)
S.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 200000)
PSH=[]
def rel(segs):
    PSH.extend(s-base+1 for (s,n,f,a) in segs if n>0 and f & 8)
    return [(s-base+1, s-base+1+n) for (s,n,f,a) in segs if n>0]
def ss():
    o=subprocess.run("ss -tin state established '( sport = :8080 )'", shell=True, capture_output=True, text=True).stdout
    c=re.search(r"cwnd:(\d+)", o); t=re.search(r"ssthresh:(\d+)", o)
    return (c and c.group(1), t and t.group(1))
S.send(b"x"*10000); print("IW:", rel(recv_all(0.02)))
time.sleep(0.1)
for i in range(4): send(0x10, 1, base+1000)
print("3 dupacks:", rel(recv_all(0.02)), ss())
for i in range(4): send(0x10, 1, base+1000)
print("4 more:", rel(recv_all(0.02)))
time.sleep(0.1); send(0x10, 1, base+4000); print("ack 4001:", rel(recv_all(0.02)), ss())
time.sleep(0.1); send(0x10, 1, base+10000); S.send(b"y"*90000)
segs=rel(recv_all(0.02)); print("ack 10001:", len(segs), segs[:1], segs[-1:], ss())
hi=segs[-1][1] if segs else 10001
counts=[]
for r in range(8):
    time.sleep(0.1 - 0.02)
    send(0x10, 1, base+hi-1)
    segs=rel(recv_all(0.02)); counts.append(len(segs))
    print(f"round {r}: ack {hi} ->", len(segs), "segments", ss())
    if segs: hi=segs[-1][1]
print(CC, "segments per round:", counts)
S.close(); L.close()
print("PSH on:", PSH)
