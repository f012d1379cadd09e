# What the kernel-peer scripts share: a TUN device tun0 in the namespace
# the script runs in, the kernel listening on 10.0.0.1:8080 with a chosen
# TCP_CONGESTION (set on the listener: a child namespace may only default
# to an allowed algorithm), and the peer at 10.0.0.2 that writes its own
# IPv4/TCP segments into tun0 and reads the kernel's back. Not run by cargo.
import fcntl, os, select, socket, struct, subprocess, time

TUNSETIFF = 0x400454ca; IFF_TUN = 1; IFF_NO_PI = 0x1000
ME, HIM = socket.inet_aton("10.0.0.2"), socket.inet_aton("10.0.0.1")

def sh(c):
    return subprocess.run(c, shell=True, check=True, capture_output=True, text=True).stdout

def setup(cc):
    """Open tun0, address it, and listen on 10.0.0.1:8080 with `cc`.
    Returns the tun fd and the listening socket."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tun0", IFF_TUN | IFF_NO_PI))
    sh("ip link set lo up; ip addr add 10.0.0.1/24 dev tun0; ip link set tun0 up; "
       "sysctl -q net.ipv4.tcp_no_metrics_save=1")
    L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    L.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    L.bind(("10.0.0.1", 8080)); L.listen(1)
    return fd, L

def csum(b):
    """The Internet checksum (RFC 1071)."""
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff

def send(fd, flags, seq, ack, opts=b""):
    """One segment from 10.0.0.2:40000 to 10.0.0.1:8080, window 65535."""
    doff = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", 40000, 8080, seq, ack, doff << 4, flags, 65535, 0, 0) + opts
    c = csum(ME + HIM + struct.pack("!BBH", 0, 6, len(tcp)) + tcp); tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, ME, HIM)
    os.write(fd, ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + tcp)

def tcp_of(p):
    """(seq, payload length, flags, ack) of an IPv4/TCP packet, else None."""
    if p[0] >> 4 != 4 or p[9] != 6: return None
    t = p[(p[0] & 15) * 4:]
    seq, ack = struct.unpack("!II", t[4:12])
    return (seq, len(t) - (t[12] >> 4) * 4, t[13], ack)

def recv_all(fd, wait):
    """Every TCP segment the kernel sends within `wait` seconds."""
    out = []; end = time.time() + wait
    while True:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r: return out
        s = tcp_of(os.read(fd, 65536))
        if s: out.append(s)

def handshake(fd, L, wait=0.05):
    """SYN (MSS 1000), the kernel's SYN-ACK, our ACK; returns the accepted
    socket and the kernel's ISN + 1."""
    send(fd, 0x02, 0, 0, struct.pack("!BBH", 2, 4, 1000))
    synack = [x for x in recv_all(fd, wait) if x[2] & 0x12 == 0x12][0]
    base = synack[0] + 1
    time.sleep(0.1); send(fd, 0x10, 1, base)
    S, _ = L.accept()
    return S, base

def tcp_ts_of(p):
    """tcp_of() and the segment's TSval (None without a timestamp)."""
    x = tcp_of(p)
    if x is None: return None
    t = p[(p[0] & 15) * 4:]; o = t[20:(t[12] >> 4) * 4]; i = 0; tsval = None
    while i < len(o) and o[i] != 0:
        if o[i] == 1: i += 1; continue
        if i + 1 >= len(o) or o[i + 1] < 2: break
        if o[i] == 8 and o[i + 1] == 10: tsval = struct.unpack("!I", o[i + 2:i + 6])[0]
        i += o[i + 1]
    return x + (tsval,)

class Flight:
    """The kernel's segments as the peer receives them, on the connection
    whose kernel ISN + 1 is `base`: `recv()` returns (time, segment) pairs
    and logs each data segment as (ms after the first, relative start,
    end[, "rtx"]); `hi` is the highest relative end seen, `first_ts` the
    TSval of each segment's first transmission (with `parse=tcp_ts_of`)."""
    def __init__(self, fd, base, parse=tcp_of):
        self.fd, self.base, self.parse = fd, base, parse
        self.t0 = None; self.hi = 0; self.log = []; self.first_ts = {}
    def recv(self, wait, until=None):
        """Segments within `wait` s; stops early once a data segment
        satisfies until((start, end, is_retransmission))."""
        out = []; end = time.time() + wait
        while True:
            r, _, _ = select.select([self.fd], [], [], max(0, end - time.time()))
            if not r: return out
            t = time.time(); x = self.parse(os.read(self.fd, 65536))  # stamped as read
            if not x: continue
            out.append((t, x))
            s, n = x[0] - self.base + 1, x[1]
            if n == 0: continue
            if self.t0 is None: self.t0 = t
            rtx = s < self.hi; self.hi = max(self.hi, s + n)
            if not rtx and len(x) > 4 and x[4] is not None: self.first_ts.setdefault(s, x[4])
            self.log.append((round((t - self.t0) * 1000), s, s + n) + (("rtx",) if rtx else ()))
            if until and until((s, s + n, rtx)): return out
    def rel(self, segs):
        """The data segments of `segs` as (ms after the first, start, end)."""
        return [(round((t - self.t0) * 1000), x[0] - self.base + 1, x[0] - self.base + 1 + x[1])
                for (t, x) in segs if x[1] > 0]
    def sack(self, *blocks):
        """NOP NOP SACK with the given relative blocks."""
        o = struct.pack("!BBBB", 1, 1, 5, 2 + 8 * len(blocks))
        for (a, b) in blocks: o += struct.pack("!II", self.base + a - 1, self.base + b - 1)
        return o
