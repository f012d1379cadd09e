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
import fcntl, os, socket, struct, subprocess, time, select, sys
TUNSETIFF=0x400454ca; IFF_TUN=1; IFF_NO_PI=0x1000
CC = sys.argv[1] if len(sys.argv) > 1 else "cubic"
fd=os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tun0", IFF_TUN|IFF_NO_PI))
def sh(c): subprocess.run(c, shell=True, check=True)
sh("ip link set lo up; ip addr add 10.0.0.1/24 dev tun0; ip link set tun0 up")
sh("sysctl -q net.ipv4.tcp_no_metrics_save=1")
L=socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, CC.encode())
L.bind(("10.0.0.1", 8080)); L.listen(1)
ME, HIM = socket.inet_aton("10.0.0.2"), socket.inet_aton("10.0.0.1")
def csum(b):
    if len(b)%2: b+=b"\0"
    s=sum(struct.unpack("!%dH"%(len(b)//2), b)); s=(s>>16)+(s&0xffff); s+=s>>16
    return (~s)&0xffff
ISS=0
def send(flags, seq, ack, opts=b""):
    doff=(20+len(opts))//4
    tcp=struct.pack("!HHIIBBHHH", 40000, 8080, seq, ack, doff<<4, flags, 65535, 0, 0)+opts
    ph=ME+HIM+struct.pack("!BBH", 0, 6, len(tcp))
    c=csum(ph+tcp); tcp=tcp[:16]+struct.pack("!H", c)+tcp[18:]
    ip=struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20+len(tcp), 1, 0, 64, 6, 0, ME, HIM)
    ip=ip[:10]+struct.pack("!H", csum(ip))+ip[12:]
    os.write(fd, ip+tcp)
def recv_all(wait):
    out=[]; end=time.time()+wait
    while True:
        r,_,_=select.select([fd],[],[],max(0,end-time.time()))
        if not r: return out
        p=os.read(fd, 65536)
        if p[0]>>4!=4 or p[9]!=6: continue
        ihl=(p[0]&15)*4; t=p[ihl:]
        seq,ack=struct.unpack("!II", t[4:12]); doff=(t[12]>>4)*4; flags=t[13]
        out.append((seq, len(t)-doff, flags, ack))
send(0x02, 0, 0, struct.pack("!BBH", 2, 4, 1000))
synack=[x for x in recv_all(0.05) if x[2]&0x12==0x12][0]; base=synack[0]+1
time.sleep(0.1); send(0x10, 1, base)
S,_=L.accept(); S.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 200000)
PSH=[]
def rel(segs):
    PSH.extend(s-base+1 for (s,n,f,a) in segs if n>0 and f & 8)
    return [(s-base+1, s-base+1+n) for (s,n,f,a) in segs if n>0]
def ss():
    o=subprocess.run("ss -tin state established '( sport = :8080 )'", shell=True, capture_output=True, text=True).stdout
    import re
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
