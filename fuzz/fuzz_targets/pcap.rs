//! net-dev's pcap reader: any bytes give records or a clear error at an
//! offset inside the input; nothing panics, and nothing allocates more
//! than the input could hold. What was read, written again with
//! `PcapWriter`, reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use net_dev::pcap::{PcapReader, PcapWriter};

fuzz_target!(|data: &[u8]| {
    let mut records = Vec::new();
    match PcapReader::new(data) {
        Err(e) => {
            assert!(e.offset <= data.len() as u64, "error offset {} past the input", e.offset);
            let _ = e.to_string();
        }
        Ok(mut r) => {
            let _ = (r.snaplen(), r.linktype(), r.is_nanosecond());
            loop {
                match r.next_record() {
                    Ok(Some(rec)) => {
                        assert!(r.offset() <= data.len() as u64);
                        records.push(rec);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(e.offset <= data.len() as u64, "error offset {} past the input", e.offset);
                        let _ = e.to_string();
                        assert!(matches!(r.next_record(), Ok(None)), "after an error, the end");
                        break;
                    }
                }
            }
        }
    }
    // Round trip what was read.
    let mut w = PcapWriter::new(Vec::new()).expect("Vec");
    for rec in &records {
        w.write_record(rec.ts_ns, &rec.data).expect("Vec");
    }
    let bytes = w.into_inner().expect("Vec");
    let back = PcapReader::new(&bytes[..]).expect("our header").read_all().expect("our records");
    assert_eq!(back.len(), records.len());
    for (a, b) in back.iter().zip(&records) {
        assert_eq!(a.data, b.data, "pcap round trip");
        // A fraction field past one second (malformed, but libpcap reads it
        // as it is) can carry the time past what a u32 of seconds holds;
        // the writer clamps those seconds.
        if b.ts_ns / 1_000_000_000 <= u64::from(u32::MAX) {
            assert_eq!(a.ts_ns, b.ts_ns, "pcap round trip");
        }
    }
});
