//! Inputs the fuzz targets (fuzz/, `cargo fuzz run -s none TARGET`)
//! found to break something, replayed byte for byte, each with the
//! outcome it must have now. The crashing inputs also sit in the fuzz
//! corpus (fuzz/corpus/<target>/), so the fuzzers start from them.

use net_tcp::packetdrill::parse_script;

/// packet_script: an option token (`--name`) running into a multi-byte
/// character whose second byte, read alone as a Latin-1 `char`, is
/// whitespace (U+00A0 is `C2 A0`). The lexer stopped there and sliced
/// the text in the middle of the character: "byte index 5 is not a char
/// boundary". Now the token runs to ASCII whitespace, as packetdrill's
/// lexer (bytes, not characters) does, and the unknown option is a
/// script error on line 1.
#[test]
fn option_token_ending_inside_a_multibyte_character() {
    let src = "--x\u{a0}y\n+0 < S 0:0(0) win 65535\n";
    assert_eq!(&src.as_bytes()[..5], b"--x\xc2\xa0");
    let e = parse_script(src).expect_err("an unknown option");
    assert_eq!(e.line, 1, "{e:?}");
    assert!(e.msg.contains("x\u{a0}y"), "the error names the option: {}", e.msg);
}

/// The crash as the fuzzer found it (fuzz/corpus/packet_script/
/// crash-50ee669f…): a script whose comment line, after mutation, holds
/// `--` followed by bytes of multi-byte characters. It must now be a
/// plain script error.
#[test]
fn fuzzer_found_script_is_an_error_not_a_panic() {
    let bytes =
        include_bytes!("../../fuzz/corpus/packet_script/crash-50ee669f6d70dcf593fb5d3df305470b5ce46481");
    let src = String::from_utf8_lossy(bytes);
    let e = parse_script(&src).expect_err("no valid script");
    assert!(e.line >= 1 && e.line <= src.lines().count(), "{e:?}");
}
