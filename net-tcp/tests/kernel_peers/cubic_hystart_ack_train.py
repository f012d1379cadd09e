# Plays congestion/cubic-hystart-ack-train.pkt's ACKs against the running
# kernel (TUN peer in a network namespace, as cubic_after_recovery.py):
# RTT 10 ms, one ACK per two segments, ACKs 1 ms apart. Prints the
# segments sent after each ACK, ss -tin and the HyStart counters (nstat).
# The timing matters: it sleeps to just before each ACK and spins the
# rest, since a busy-wait all along gets the process throttled on a
# shared machine. Run as root:
#
#   ip netns add cc && ip netns exec cc python3 cubic_hystart_ack_train.py cubic; ip netns del cc
#
# Not run by cargo.
import os, select, socket, struct, sys, time, re
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tunpeer import setup, sh, send as send_fd, tcp_of
CC = sys.argv[1] if len(sys.argv) > 1 else "cubic"
fd, L = setup(CC)
def send(flags, seq, ack, opts=b""): send_fd(fd, flags, seq, ack, opts)
def drain():
    out=[]
    while select.select([fd],[],[],0)[0]:
        s = tcp_of(os.read(fd, 65536))
        if s and s[1] > 0: out.append(s[0])
    return out
def until(t):
    d=t-time.perf_counter()-0.0004
    if d>0: time.sleep(d)
    while time.perf_counter()<t: pass
send(0x02, 0, 0, struct.pack("!BBH", 2, 4, 1000))
time.sleep(0.01); synack=None
while synack is None:
    p=os.read(fd,65536)
    if p[0]>>4==4 and p[9]==6:
        t=p[(p[0]&15)*4:]
        if t[13]&0x12==0x12: synack=struct.unpack("!I",t[4:8])[0]
base=synack+1
time.sleep(0.01); send(0x10, 1, base)
S,_=L.accept(); S.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 400000)
t0=time.perf_counter(); S.send(b"x"*100000)
time.sleep(0.002); print("IW:", len(drain()))
acked=0; log=[]; sched=[]
for rnd,(start,n) in enumerate([(0.010,5),(0.020,10),(0.030,15)]):
    for k in range(n):
        acked+=2000; sched.append((t0+start+0.001*k, acked, rnd+1, k+1))
import gc; gc.disable(); per=[]
for (t,a,r,k) in sched:
    until(t); ta=time.perf_counter(); send(0x10,1,base+a); log.append((r,k,a+1,(ta-t0)*1000)); per.append(len(drain()))
time.sleep(0.005); segs=drain()
gc.enable()
print("segments per ACK:", per)
print("segments in all:", 10 + sum(per) + len(segs),
      "late ACKs (ms):", [(r, k, round(x, 3)) for (r, k, a, x) in log if x - (10 + (r - 1) * 10 + (k - 1)) > 0.05])
o=sh("ss -tin state established '( sport = :8080 )'")
print(re.findall(r"(cwnd:\d+|ssthresh:\d+|rtt:[\d./]+)", o))
print(sh("nstat -az TcpExtTCPHystartTrainDetect TcpExtTCPHystartTrainCwnd TcpExtTCPHystartDelayDetect"))
