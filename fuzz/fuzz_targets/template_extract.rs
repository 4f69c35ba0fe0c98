//! The `${}` extractor on arbitrary strings, then re-assembly into CEL.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = kroxide_semantics::expr::parse_string(s) {
        let _ = v.expressions();
        let _ = v.to_cel();
    }
    let _ = kroxide_semantics::expr::quote_cel(s);
});
