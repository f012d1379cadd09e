//! A fixed workload to profile, without criterion's timing loop around it:
//!
//! ```sh
//! cargo build --release -p benches --example profile
//! P=target/release/examples/profile
//! perf record -e cpu-clock -g $P bulk 16        # 16 × 16 MiB over one connection
//! valgrind --tool=callgrind $P rr 2000           # 2,000 conn_rr connections
//! perf stat -r 5 -e task-clock $P smolbulk 16    # the same on smoltcp
//! ```
//!
//! Modes: `bulk N` and `smolbulk N` move N × 16 MiB one way between two
//! hosts on a zero-latency hub (linnet with GRO and GSO on, as the
//! bulk bench runs it, then smoltcp on the bench's in-memory link with the
//! buffers the bench gives it), the application sending from a 1 MiB buffer
//! as the bench's does; `bulk` ends by printing the window and send
//! buffer the connection used, which `smolbulk N WINDOW SNDBUF` takes;
//! `bulkrep N` is the bench's own shape, N transfers of 1 GiB over one
//! connection, each timed; `bulk-nooffload N`
//! is linnet with GRO and GSO off; `rr N` and `smolrr N` run N sequential connections
//! (connect, 64 B each way, close; TIME_WAIT expired every 1024). Time is
//! virtual, as in the benches: only processing costs wall-clock time.
#[path = "../benches/common/linnet.rs"]
mod linnet;
#[path = "../benches/common/smol.rs"]
mod smol;

use linnet::{linnet_conn_rr, linnet_connect, linnet_lab, linnet_listener, linnet_stream, set_offloads};

const CHUNK: usize = 16 << 20;
/// The application's send buffer, as the bulk bench's `APP_SEND`: the
/// bytes `send()` reads stay in cache, as they do in the bench.
const APP_SEND: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, n) = match (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) {
        (Some(m), Some(n)) => (m.as_str(), n),
        _ => {
            eprintln!(
                "usage: profile bulk|bulkrep|bulk-nooffload|smolbulk|rr|smolrr N [WINDOW SNDBUF for smolbulk]"
            );
            std::process::exit(2);
        }
    };
    let data: Vec<u8> = (0..APP_SEND as u32).map(|i| (i ^ (i >> 8)) as u8).collect();
    let mut buf = vec![0u8; 65536];
    match mode {
        "bulk" | "bulk-nooffload" => {
            let (lab, _) = linnet_lab();
            set_offloads(&lab, mode == "bulk");
            let l = linnet_listener(&lab);
            let (c, s) = linnet_connect(&lab, &l, None);
            linnet_stream(&lab, &c, &s, (n * CHUNK) as u64, &data, &mut buf);
            eprintln!("linnet: {}", linnet::effective(&c, &s).info);
        }
        "bulkrep" => {
            // The bulk bench's shape: one connection, N transfers of 1 GiB,
            // each timed.
            let (lab, _) = linnet_lab();
            set_offloads(&lab, true);
            let l = linnet_listener(&lab);
            let (c, s) = linnet_connect(&lab, &l, None);
            for _ in 0..n {
                let t = std::time::Instant::now();
                linnet_stream(&lab, &c, &s, 1 << 30, &data, &mut buf);
                eprintln!("linnet 1 GiB: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
            }
            eprintln!("linnet: {}", linnet::effective(&c, &s).info);
        }
        "smolbulk" => {
            let mut lab = smol::Lab::new();
            // The buffers the bulk bench gives smoltcp at MTU 1500: linnet's
            // effective window (rcv_ssthresh) and send buffer, as `bulk`
            // prints them at the end; override with `smolbulk N WINDOW SNDBUF`.
            let arg = |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
            let (window, sndbuf) = (arg(3, 82_522), arg(4, 1_218_560));
            let srv = lab.listener(window, sndbuf);
            let cl = lab.connect(49152, window, sndbuf);
            smol::stream(&mut lab, cl, srv, (n * CHUNK) as u64, &data, &mut buf);
        }
        "rr" => {
            let (lab, _) = linnet_lab();
            let l = linnet_listener(&lab);
            for i in 0..n {
                linnet_conn_rr(&lab, &l);
                if i % 1024 == 1023 {
                    lab.run_ms(61_000); // TIME_WAIT expires: ports come back
                }
            }
        }
        "smolrr" => {
            let mut lab = smol::Lab::new();
            let srv = lab.listener(4096, 4096);
            for i in 0..n {
                smol::conn_rr(&mut lab, srv, 49152 + (i % 16384) as u16);
            }
        }
        _ => {
            eprintln!("profile: unknown mode {mode}: bulk, bulkrep, bulk-nooffload, smolbulk, rr or smolrr");
            std::process::exit(2);
        }
    }
}
