//! CEL compile, type check and evaluation against a fixed set of variables
//! shaped like a KRO instance and a Deployment.
#![no_main]
use kroxide_semantics::cel::{default_engine, Vars};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = default_engine().compile(s) else {
        return;
    };
    let vars = Vars::from([
        (
            "schema".to_string(),
            json!({"spec": {"name": "web", "replicas": 3, "tags": ["a", "b"], "ratio": 0.5}}),
        ),
        (
            "deployment".to_string(),
            json!({"status": {"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}}),
        ),
    ]);
    let _ = p.eval(&vars);
});
