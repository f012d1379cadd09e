//! pcap: write → read round trip, reader errors, recorder on a Net,
//! replay, and tshark reading what we write.

mod common;

use std::io::Cursor;

use common::*;
use net_core::checksum::{Wsum, csum_partial, csum_tcpudp_magic, ip_fast_csum};
use net_core::{Clock, Net, NetDevice};
use net_dev::pcap::{PCAP_MAGIC_USEC, PcapErrorKind};
use net_dev::{
    LinkParams, Loopback, PcapReader, PcapRecord, PcapRecorder, PcapReplay, PcapWriter, ReplayTiming, Sim,
};
use proptest::prelude::*;

fn records() -> Vec<PcapRecord> {
    (0..5u32)
        .map(|i| {
            let data = eth_frame(
                [2, 0, 0, 0, 0, 2],
                [2, 0, 0, 0, 0, 1],
                ETH_P_TEST,
                &vec![i as u8; 46 + i as usize],
            );
            PcapRecord {
                ts_ns: 1_700_000_000_123_456_789 + i as u64 * 1_000_001,
                orig_len: data.len() as u32,
                data,
            }
        })
        .collect()
}

fn write(recs: &[PcapRecord]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for r in recs {
        w.write_record(r.ts_ns, &r.data).unwrap();
    }
    assert_eq!(w.records(), recs.len() as u64);
    w.into_inner().unwrap()
}

#[test]
fn write_read_round_trip_is_byte_exact_with_ns_timestamps() {
    let recs = records();
    let bytes = write(&recs);
    assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1], "ns magic, little-endian");
    assert_eq!(&bytes[4..8], &[2, 0, 4, 0]);
    assert_eq!(&bytes[16..24], &[0, 0, 4, 0, 1, 0, 0, 0], "snaplen 262144, LINKTYPE_ETHERNET");
    let r = PcapReader::new(Cursor::new(&bytes)).unwrap();
    assert!(r.is_nanosecond());
    assert_eq!((r.snaplen(), r.linktype()), (262_144, 1));
    let back = r.read_all().unwrap();
    assert_eq!(back, recs);
    // And writing what we read gives the same bytes.
    assert_eq!(write(&back), bytes);
}

#[test]
fn snaplen_cuts_frames_and_keeps_orig_len() {
    let mut w = PcapWriter::with_snaplen(Vec::new(), 20).unwrap();
    w.write_record(5, &[7u8; 100]).unwrap();
    let recs = PcapReader::new(Cursor::new(w.into_inner().unwrap())).unwrap().read_all().unwrap();
    assert_eq!(recs, vec![PcapRecord { ts_ns: 5, orig_len: 100, data: vec![7; 20] }]);
}

#[test]
fn reads_microsecond_and_big_endian_files() {
    // A big-endian microsecond capture, built by hand.
    let mut f = Vec::new();
    f.extend_from_slice(&PCAP_MAGIC_USEC.to_be_bytes());
    f.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1]);
    f.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 2, 0xab, 0xcd]);
    let r = PcapReader::new(Cursor::new(&f)).unwrap();
    assert!(!r.is_nanosecond());
    assert_eq!(
        r.read_all().unwrap(),
        vec![PcapRecord { ts_ns: 3_000_009_000, orig_len: 2, data: vec![0xab, 0xcd] }]
    );
}

#[test]
fn reader_errors_name_the_offset() {
    let bytes = write(&records());
    // Bad magic.
    let mut bad = bytes.clone();
    bad[0] = 0;
    let e = PcapReader::new(Cursor::new(&bad)).unwrap_err();
    assert_eq!(e.offset, 0);
    assert!(matches!(e.kind, PcapErrorKind::BadMagic(_)));
    assert!(e.to_string().contains("bad pcap magic"), "{e}");
    // Truncated file header.
    let e = PcapReader::new(Cursor::new(&bytes[..10])).unwrap_err();
    assert_eq!((e.offset, e.kind.clone()), (10, PcapErrorKind::TruncatedFileHeader));
    // Truncated record header: the 2nd record starts at 24 + 16 + 60.
    let second = 24 + 16 + 60;
    let mut r = PcapReader::new(Cursor::new(&bytes[..second + 7])).unwrap();
    assert!(r.next_record().unwrap().is_some());
    let e = r.next_record().unwrap_err();
    assert_eq!((e.offset, e.kind), (second as u64, PcapErrorKind::TruncatedRecordHeader));
    assert_eq!(r.next_record(), Ok(None), "a failed reader stays finished");
    // Truncated record data.
    let e = PcapReader::new(Cursor::new(&bytes[..second + 16 + 5])).unwrap().read_all().unwrap_err();
    assert_eq!(
        (e.offset, e.kind.clone()),
        (second as u64, PcapErrorKind::TruncatedRecord { caplen: 61, got: 5 })
    );
    assert!(e.to_string().starts_with(&format!("offset {second}: truncated record")), "{e}");
    // Absurd caplen.
    let mut huge = bytes.clone();
    huge[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let e = PcapReader::new(Cursor::new(&huge)).unwrap().read_all().unwrap_err();
    assert_eq!(e.offset, 24);
    assert!(matches!(e.kind, PcapErrorKind::CaplenTooLarge { caplen: 0x7fff_ffff, limit: 262_144 }));
}

proptest! {
    #[test]
    fn reader_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(r) = PcapReader::new(Cursor::new(&bytes)) {
            for rec in r.take(1000) {
                if rec.is_err() { break; }
            }
        }
    }

    #[test]
    fn reader_never_panics_on_mangled_captures(cut in 0usize..500, flips in proptest::collection::vec((0usize..500, any::<u8>()), 0..8)) {
        let mut bytes = write(&records());
        for (i, b) in flips {
            if let Some(x) = bytes.get_mut(i) { *x ^= b; }
        }
        bytes.truncate(cut);
        if let Ok(r) = PcapReader::new(Cursor::new(&bytes)) {
            let _ = r.read_all();
        }
    }
}

#[test]
fn recorder_taps_both_directions_of_a_wire() {
    let mut sim = Sim::new(5);
    let a = sim.add_host("a");
    let b = sim.add_host("b");
    register_eth(&a);
    register_eth(&b);
    let (da, db) = sim.connect(&a, &b, LinkParams::with_delay(1_500)).unwrap();
    let mut rec = PcapRecorder::attach(&a, Vec::new()).unwrap();
    rec.tap(&b, Some(db.ifindex));
    let _got = collect(&b);
    let f = eth_frame(db.dev_addr(), da.dev_addr(), ETH_P_TEST, b"recorded payload bytes");
    sim.run_for(10);
    send(&a, &da, &f);
    sim.run_until_idle(1_000_000);
    assert_eq!(rec.records(), 2);
    let bytes = rec.finish().unwrap();
    let recs = PcapReader::new(Cursor::new(bytes)).unwrap().read_all().unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].data, f, "outgoing frame from the MAC header");
    assert_eq!(recs[1].data, f, "incoming frame from the MAC header");
    assert_eq!((recs[0].ts_ns, recs[1].ts_ns), (10, 1_510));
    // finish() removed the taps.
    assert!(a.ptype_list().iter().all(|p| p.1 != "pcap_recorder"));
}

#[test]
fn replay_delivers_at_recorded_times_and_records_replies() {
    let clock = Clock::new_virtual_at(1_000_000);
    let net = Net::new("h", clock.clone(), 1);
    register_eth(&net);
    let got = collect(&net);
    let recs = records();
    let first = recs[0].ts_ns;
    let replay =
        PcapReplay::new("pcap0", [2, 0, 0, 0, 0, 2], recs.clone(), ReplayTiming::Recorded, clock.clone());
    let sent = replay.sent();
    let dev = net.register_netdev(Box::new(replay)).unwrap();
    dev.open().unwrap();
    let mut times = Vec::new();
    while let Some(t) = dev.next_rx_time() {
        clock.set_ns(t);
        net.poll();
        times.push(t);
    }
    let g = got.lock().unwrap().clone();
    assert_eq!(g.len(), 5);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(g[i].0, 1_000_000 + (r.ts_ns - first), "frame {i} at its recorded offset");
        assert_eq!(g[i].3, r.data[14..]);
    }
    // The host answers on the replay device: recorded with the time.
    send(&net, &dev, &eth_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], ETH_P_TEST, b"reply"));
    let t = clock.now_ns();
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].ts_ns, &sent[0].data[14..]), (t, &b"reply"[..]));
    assert_eq!(dev.stats.snapshot().tx_packets, 1);
}

#[test]
fn replay_as_fast_as_possible_and_sent_list() {
    let clock = Clock::new_virtual();
    let mut r = PcapReplay::new("pcap0", [2; 6], records(), ReplayTiming::AsFastAsPossible, clock.clone());
    let sent = r.sent();
    r.ndo_open().unwrap();
    assert_eq!(r.next_rx_time(), Some(0));
    let mut rx = net_core::skbuff::SkBuffHead::new();
    assert_eq!(r.poll(64, &mut rx), 5);
    assert_eq!(r.remaining(), 0);
    clock.set_ns(77);
    r.ndo_start_xmit(net_core::skbuff::skb_from_frame(0, b"answer-frame-bytes"));
    assert_eq!(
        sent.lock().unwrap().as_slice(),
        &[PcapRecord { ts_ns: 77, orig_len: 18, data: b"answer-frame-bytes".to_vec() }]
    );
}

#[test]
fn loopback_capture_has_both_directions() {
    let clock = Clock::new_virtual();
    let net = Net::new("h", clock.clone(), 1);
    register_eth(&net);
    let lo = net.register_netdev(Box::new(Loopback::new(clock.clone()))).unwrap();
    lo.open().unwrap();
    let rec = PcapRecorder::attach(&net, Vec::new()).unwrap();
    send(&net, &lo, &eth_frame([0; 6], [0; 6], ETH_P_TEST, b"on lo"));
    net.poll();
    assert_eq!(rec.records(), 2);
}

/// One IPv4/UDP frame with correct checksums, built by hand.
fn udp_frame() -> Vec<u8> {
    let payload = b"linnet says hi";
    let (src, dst) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let udp_len = 8 + payload.len();
    let mut udp = vec![0u8; udp_len];
    udp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    udp[2..4].copy_from_slice(&9u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    udp[8..].copy_from_slice(payload);
    let c = csum_tcpudp_magic(src, dst, udp_len as u16, 17, csum_partial(&udp, Wsum::ZERO));
    udp[6..8].copy_from_slice(&c.to_ne_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = ip_fast_csum(&ip);
    ip[10..12].copy_from_slice(&c.to_ne_bytes());
    ip.extend_from_slice(&udp);
    eth_frame([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1], 0x0800, &ip)
}

#[test]
fn tshark_reads_our_captures() {
    let have =
        std::process::Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("tshark missing under CI");
        }
        println!("skipped: tshark not installed");
        return;
    }
    let mut recs = records();
    let udp = udp_frame();
    recs.push(PcapRecord { ts_ns: 1_700_000_000_987_654_321, orig_len: udp.len() as u32, data: udp });
    let path = std::env::temp_dir().join(format!("net-dev-tshark-{}.pcap", std::process::id()));
    std::fs::write(&path, write(&recs)).unwrap();
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(&path)
        .args(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-z", "expert", "-q"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "tshark failed: {err}");
    assert!(!text.contains("Errors ("), "tshark reports errors:\n{text}");
    // Packet count and nanosecond timestamps.
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(&path)
        .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"])
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), recs.len(), "{text}");
    for (line, r) in lines.iter().zip(&recs) {
        let mut it = line.split('\t');
        let ts = it.next().unwrap();
        let want = format!("{}.{:09}", r.ts_ns / 1_000_000_000, r.ts_ns % 1_000_000_000);
        assert_eq!(ts, want, "{line}");
        assert_eq!(it.next().unwrap(), r.data.len().to_string());
    }
}
