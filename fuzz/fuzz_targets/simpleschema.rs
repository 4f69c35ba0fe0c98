//! SimpleSchema field strings (`integer | default=3 minimum=1`) and whole
//! spec trees built from them: parsing must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = kroxide_semantics::simpleschema::parse_type(s);
    let _ = kroxide_semantics::simpleschema::parse_markers(s);
    let _ = kroxide_semantics::simpleschema::parse_field(s);
});
