//! Write the seed corpus of the `netif_receive_skb`, `headers` and
//! `two_hosts` targets from what linnet hosts really send:
//!
//! ```sh
//! cd fuzz && cargo run --release --example seed_corpus
//! ```
//!
//! The frames come from the fuzz targets' own [`Lab`] (the same seeds and
//! clock, so the connection the `netif_receive_skb` target sets up has the
//! ports and sequence numbers these frames carry): the client's side of a
//! handshake, data both ways, a FIN, and a second SYN. Lab pcaps from
//! net-lab are split by `seed_corpus.sh`.

use std::fs;
use std::path::Path;
use std::time::Instant;

use linnet_fuzz::{Lab, join_frames, pattern};
use net_tcp::TcpSocket;

/// Take what the client sent since the last call, without delivering it.
fn client_frames(lab: &mut Lab) -> Vec<Vec<u8>> {
    lab.client.poll();
    let tx = std::mem::take(&mut lab.clink.lock().expect("client link").tx);
    tx.into_iter().map(|(_, f)| f).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("corpus dir");
    fs::write(dir.join(name), bytes).expect("seed");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let t = Instant::now();
    let n = 200;
    for _ in 0..n {
        let mut lab = Lab::new();
        let _ = lab.connect();
    }
    eprintln!("Lab::new + connect: {:?} each", t.elapsed() / n);

    // The connection the netif_receive_skb target holds, and what its
    // client would send on it.
    let mut lab = Lab::new();
    let (client, child) = lab.connect();
    let data: Vec<u8> = (0..300).map(|i| pattern(9, i)).collect();
    client.send(&data).expect("send");
    let data_frames = client_frames(&mut lab);
    // Let the server see them, answer, and the client ACK the answer.
    lab.slink.lock().expect("server link").rx.extend(data_frames.iter().cloned());
    lab.run_for(1_000_000);
    child.send(b"hello").expect("send");
    lab.run_for(50_000_000);
    client.shutdown(net_tcp::af_inet::Shutdown::Write).expect("shutdown");
    let fin = client_frames(&mut lab);
    let c2 = TcpSocket::new(&lab.client).expect("socket");
    c2.set_nonblocking(true);
    let _ = c2.connect(std::net::SocketAddrV4::new(linnet_fuzz::SERVER_IP, linnet_fuzz::PORT));
    let syn = client_frames(&mut lab);

    let dir = root.join("netif_receive_skb");
    let hdrs = root.join("headers");
    let all: Vec<Vec<u8>> = data_frames.iter().chain(&fin).chain(&syn).cloned().collect();
    for (i, f) in all.iter().enumerate() {
        write(&hdrs, &format!("lab-frame-{i}"), f);
        write(&dir, &format!("lab-frame-{i}"), &join_frames(&[(0, f.clone())]));
    }
    write(&dir, "lab-data-fin-syn", &join_frames(&all.iter().map(|f| (2, f.clone())).collect::<Vec<_>>()));
    eprintln!("{} frames from the lab", all.len());
}
