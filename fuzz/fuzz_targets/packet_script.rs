//! The packet-script (packetdrill syntax) parser: any text gives `Ok` or a
//! `ScriptError` with a line number inside the text; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use net_tcp::packetdrill::{parse_script, parse_sysctl_commands};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let lines = src.lines().count().max(1);
    match parse_script(&src) {
        Ok(script) => {
            let _ = format!("{script:?}");
        }
        Err(e) => {
            assert!(e.line <= lines + 1, "error line {} past the {lines} lines of the text", e.line);
            assert!(!e.msg.is_empty(), "an error says what is wrong");
        }
    }
    let _ = parse_sysctl_commands(&src, 1);
});
