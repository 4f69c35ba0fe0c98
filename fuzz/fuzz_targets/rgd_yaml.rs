//! The RGD YAML loader (span tree, duplicate keys, multi-document; the direct
//! reader held to serde-saphyr's results) and, on
//! what loads, the offline validator.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // The direct reader gives what serde-saphyr gives, or leaves the text to it.
    if let Err(e) = kroxide_model::check_direct_reader("fuzz.yaml", s) {
        panic!("the two YAML readers differ: {e}");
    }
    let _ = kroxide_model::load_documents("fuzz.yaml", s);
    if let Ok(rgds) = kroxide_model::load_str("fuzz.yaml", s) {
        for r in rgds {
            let _ = kroxide_semantics::validate::validate(&r.rgd);
        }
    }
});
