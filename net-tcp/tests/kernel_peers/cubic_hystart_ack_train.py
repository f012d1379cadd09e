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
import fcntl, os, socket, struct, subprocess, time, select, sys, re
TUNSETIFF=0x400454ca; IFF_TUN=1; IFF_NO_PI=0x1000
CC = sys.argv[1] if len(sys.argv) > 1 else "cubic"
fd=os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tun0", IFF_TUN|IFF_NO_PI))
def sh(c): return subprocess.run(c, shell=True, check=True, capture_output=True, text=True).stdout
sh("ip link set lo up; ip addr add 10.0.0.1/24 dev tun0; ip link set tun0 up; sysctl -q net.ipv4.tcp_no_metrics_save=1")
L=socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, CC.encode())
L.bind(("10.0.0.1", 8080)); L.listen(1)
ME, HIM = socket.inet_aton("10.0.0.2"), socket.inet_aton("10.0.0.1")
def csum(b):
    if len(b)%2: b+=b"\0"
    s=sum(struct.unpack("!%dH"%(len(b)//2), b)); s=(s>>16)+(s&0xffff); s+=s>>16
    return (~s)&0xffff
def send(flags, seq, ack, opts=b""):
    doff=(20+len(opts))//4
    tcp=struct.pack("!HHIIBBHHH", 40000, 8080, seq, ack, doff<<4, flags, 65535, 0, 0)+opts
    c=csum(ME+HIM+struct.pack("!BBH", 0, 6, len(tcp))+tcp); tcp=tcp[:16]+struct.pack("!H", c)+tcp[18:]
    ip=struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20+len(tcp), 1, 0, 64, 6, 0, ME, HIM)
    os.write(fd, ip[:10]+struct.pack("!H", csum(ip))+ip[12:]+tcp)
def drain():
    out=[]
    while select.select([fd],[],[],0)[0]:
        p=os.read(fd, 65536)
        if p[0]>>4!=4 or p[9]!=6: continue
        t=p[(p[0]&15)*4:]; seq=struct.unpack("!I", t[4:8])[0]; n=len(t)-(t[12]>>4)*4
        if n>0: out.append(seq)
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
