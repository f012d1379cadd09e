#!/usr/bin/env bash
# Regenerate the seed corpus of fuzz/corpus/ from real captures:
#  - pcap/: a few net-lab scenario captures (`netlab run NAME --pcap FILE`);
#  - headers/, netif_receive_skb/: their frames, one per file (headers) and
#    one file per capture in split_frames() format (netif_receive_skb:
#    a u16 length, a flags byte — 1 = fix checksums —, the frame);
#  - headers/, netif_receive_skb/: the frames of the fuzz Lab's own
#    connection (examples/seed_corpus.rs);
#  - packet_script/: the checked-in scripts of net-tcp/tests/scripts.
# Crash inputs (crash-*) already in the corpus are kept.
set -euo pipefail
cd "$(dirname "$0")"
root=..
corpus=corpus
mkdir -p "$corpus"/{headers,netif_receive_skb,packet_script,pcap,two_hosts}

cargo build --release -p net-lab --manifest-path "$root/Cargo.toml"
netlab="${CARGO_TARGET_DIR:-$root/target}/release/netlab"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in handshake ping udp-echo fragments tcp-connection linger-rst closewait-port-reuse; do
  "$netlab" run "$s" --pcap "$tmp/$s.pcap" >/dev/null
  cp "$tmp/$s.pcap" "$corpus/pcap/lab-$s"
done

python3 - "$tmp" "$corpus" <<'PY'
import os, struct, sys
tmp, corpus = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(tmp)):
    b = open(os.path.join(tmp, name), 'rb').read()
    base = name[:-len('.pcap')]
    off, frames = 24, []
    while off + 16 <= len(b):
        caplen = struct.unpack_from('<I', b, off + 8)[0]
        frames.append(b[off + 16: off + 16 + caplen])
        off += 16 + caplen
    for i, f in enumerate(frames):
        open(os.path.join(corpus, 'headers', f'lab-{base}-{i}'), 'wb').write(f)
    joined = b''.join(struct.pack('>HB', min(len(f), 2048), 1) + f[:2048] for f in frames)
    open(os.path.join(corpus, 'netif_receive_skb', f'lab-{base}'), 'wb').write(joined)
PY

for f in "$root"/net-tcp/tests/scripts/*/*.pkt; do
  d=$(basename "$(dirname "$f")")
  cp "$f" "$corpus/packet_script/$d-$(basename "$f")"
done
cargo run --release --example seed_corpus
du -sh "$corpus"
