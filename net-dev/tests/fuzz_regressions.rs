//! Inputs that broke net-dev's pcap reader under fuzzing (fuzz/, target
//! `pcap`), replayed with the outcome they must have now. The inputs sit
//! in fuzz/corpus/pcap/ too.

use net_dev::PcapReader;
use net_dev::pcap::PcapErrorKind;

/// A classic pcap header (µs magic, v2.4, little-endian) with `snaplen`.
fn file_header(snaplen: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&snaplen.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

/// `VmPeak` of this process in bytes (Linux), if /proc has it.
fn vm_peak() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPeak"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// A 50-byte file whose header claims a 4 GiB snapshot length and whose
/// one record claims 4 GiB of data. The reader reserved `caplen` bytes
/// before reading them: 4 GiB of address space for 10 bytes of file
/// (and an abort where memory is tight). Now it reserves at most
/// `PCAP_SNAPLEN` up front, and the record is a `TruncatedRecord` error
/// naming what it got.
#[test]
fn huge_caplen_in_a_tiny_file_reserves_nothing_like_it() {
    let mut f = file_header(u32::MAX);
    f.extend_from_slice(&[0; 8]); // ts
    f.extend_from_slice(&0xffff_fff0u32.to_le_bytes()); // caplen
    f.extend_from_slice(&0xffff_fff0u32.to_le_bytes()); // orig_len
    f.extend_from_slice(&[0xab; 10]);
    let peak_before = vm_peak();
    let mut r = PcapReader::new(&f[..]).expect("a good file header");
    let e = r.next_record().expect_err("a truncated record");
    assert_eq!(e.offset, 24);
    assert_eq!(e.kind, PcapErrorKind::TruncatedRecord { caplen: 0xffff_fff0, got: 10 });
    if let (Some(before), Some(after)) = (peak_before, vm_peak()) {
        assert!(
            after.saturating_sub(before) < 64 << 20,
            "reading 50 bytes raised VmPeak by {} MiB",
            (after - before) >> 20
        );
    }
}
