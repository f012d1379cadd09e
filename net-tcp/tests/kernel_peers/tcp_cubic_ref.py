# The expected numbers in net-tcp/src/tcp_cubic.rs's tests, worked out
# independently of the Rust: a line-by-line transliteration of
# bictcp_update(), cubic_root() and cubictcp_recalc_ssthresh() from
# net/ipv4/tcp_cubic.c (6.18) and tcp_cong_avoid_ai() from tcp_cong.c,
# with C's u32/u64 wrapping, HZ = 1000. `python3 tcp_cubic_ref.py` prints
# the constants, some cube roots and the trajectories: A (loss at 100,
# RTT 100 ms, 60 rounds) and C (loss at 20, RTT 40 ms, 30 rounds) are the
# ones the tests pin; B (loss at 20, RTT 1 ms) shows Linux's "last_cwnd ==
# cwnd within HZ/32" early return stalling a short-RTT flow. Not run by
# cargo.
M32=0xffffffff; M64=(1<<64)-1
V=[0,54,54,54,118,118,118,118,123,129,134,138,143,147,151,156,157,161,164,168,170,173,176,179,181,185,187,190,192,194,197,199,200,202,204,206,209,211,213,215,217,219,221,222,224,225,227,229,231,232,234,236,237,239,240,242,244,245,246,248,250,251,252,254]
def fls64(a): return a.bit_length()
def cubic_root(a):
    b=fls64(a)
    if b<7: return (V[a]+35)>>6
    b=((b*84)>>8)-1
    shift=(a>>(b*3))&M32
    x=(((V[shift]+10)<<b)&M32)>>6
    x=(2*x + ((a//((x*((x-1)&M32))))&M32))&M32
    return ((x*341)&M32)>>10
beta=717; bic_scale=41
beta_scale=8*(1024+beta)//3//(1024-beta)
cube_rtt_scale=bic_scale*10
cube_factor=(1<<40)//(bic_scale*10)
def s32(x): x&=M32; return x-(1<<32) if x>=1<<31 else x
class CA: pass
def update(ca,cwnd,acked,now):
    ca.ack_cnt=(ca.ack_cnt+acked)&M32
    if ca.last_cwnd==cwnd and s32(now-ca.last_time)<=1000//32: return
    if not (ca.epoch_start and now==ca.last_time):
        ca.last_cwnd=cwnd; ca.last_time=now
        if ca.epoch_start==0:
            ca.epoch_start=now; ca.ack_cnt=acked; ca.tcp_cwnd=cwnd
            if ca.last_max_cwnd<=cwnd: ca.K=0; ca.origin=cwnd
            else: ca.K=cubic_root((cube_factor*(ca.last_max_cwnd-cwnd))&M64); ca.origin=ca.last_max_cwnd
        t=s32(now-ca.epoch_start)&M64
        t+= -(-ca.delay_min//1000)
        t=(t<<10)//1000
        offs = ca.K-t if t<ca.K else t-ca.K
        delta=((cube_rtt_scale*offs*offs*offs)&M64)>>40; delta&=M32
        tgt=(ca.origin-delta)&M32 if t<ca.K else (ca.origin+delta)&M32
        ca.cnt = cwnd//(tgt-cwnd) if tgt>cwnd else (100*cwnd)&M32
        if ca.last_max_cwnd==0 and ca.cnt>20: ca.cnt=20
    d=(cwnd*beta_scale)>>3
    while ca.ack_cnt>d: ca.ack_cnt-=d; ca.tcp_cwnd+=1
    if ca.tcp_cwnd>cwnd:
        mc=cwnd//(ca.tcp_cwnd-cwnd)
        if ca.cnt>mc: ca.cnt=mc
    ca.cnt=max(ca.cnt,2)
class TP: pass
def ai(tp,w,acked):
    if tp.cnt_>=w: tp.cnt_=0; tp.cwnd+=1
    tp.cnt_+=acked
    if tp.cnt_>=w:
        d=tp.cnt_//w; tp.cnt_-=d*w; tp.cwnd+=d
def run(w_loss, last_max, delay_us, rtt_us, rounds, t0_us=10_000_000):
    ca=CA(); ca.__dict__.update(cnt=0,last_max_cwnd=last_max,last_cwnd=0,last_time=0,K=0,origin=0,delay_min=delay_us,epoch_start=0,ack_cnt=0,tcp_cwnd=0)
    # recalc_ssthresh
    if w_loss<ca.last_max_cwnd: ca.last_max_cwnd=w_loss*(1024+beta)//2048
    else: ca.last_max_cwnd=w_loss
    ss=max(w_loss*beta//1024,2)
    tp=TP(); tp.cwnd=ss; tp.cnt_=0
    out=[tp.cwnd]
    for r in range(rounds):
        n=tp.cwnd; start=t0_us+r*rtt_us
        for i in range(n):
            now_us=start+i*rtt_us//n
            update(ca,tp.cwnd,1,(now_us//1000)&M32)
            ai(tp,ca.cnt,1)
        out.append(tp.cwnd)
    return ss,ca,out
if __name__=='__main__':
    print("beta_scale",beta_scale,"cube_factor",cube_factor)
    for a in [0,1,7,8,63,64,1000,27000,cube_factor*30,cube_factor*100, 1<<40, (1<<63)]:
        print("cubic_root",a,cubic_root(a))
    ss,ca,out=run(100,0,100_000,100_000,60); print("A ss",ss,"K",ca.K,"out",out)
    ss,ca,out=run(20,0,1_000,1_000,60); print("B ss",ss,"K",ca.K,"tcp_cwnd",ca.tcp_cwnd,"out",out)
    ss,ca,out=run(20,0,40_000,40_000,30); print("C ss",ss,"K",ca.K,"tcp_cwnd",ca.tcp_cwnd,"out",out)
