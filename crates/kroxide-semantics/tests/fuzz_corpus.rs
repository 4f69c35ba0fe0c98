//! Replays the fuzzing corpus (`fuzz/seeds/<target>/`, kept minimised by
//! `scripts/fuzz.sh`) through the same calls as the cargo-fuzz targets, on
//! stable Rust: whatever the fuzzer once found interesting must still run
//! without a panic.

use kroxide_semantics::cel::{default_engine, Vars};
use serde_json::json;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let p = e.ok()?.path();
            let bytes = std::fs::read(&p).ok()?;
            Some((p, String::from_utf8(bytes).ok()?))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no corpus in {}", dir.display());
    out
}

#[test]
fn simpleschema_corpus() {
    for (_, s) in corpus("simpleschema") {
        let _ = kroxide_semantics::simpleschema::parse_type(&s);
        let _ = kroxide_semantics::simpleschema::parse_markers(&s);
        let _ = kroxide_semantics::simpleschema::parse_field(&s);
    }
}

#[test]
fn template_extract_corpus() {
    for (_, s) in corpus("template_extract") {
        if let Ok(v) = kroxide_semantics::expr::parse_string(&s) {
            let _ = v.expressions();
            let _ = v.to_cel();
        }
        let _ = kroxide_semantics::expr::quote_cel(&s);
    }
}

#[test]
fn cel_eval_corpus() {
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
    for (_, s) in corpus("cel_eval") {
        if let Ok(p) = default_engine().compile(&s) {
            let _ = p.eval(&vars);
        }
    }
}

#[test]
fn rgd_yaml_corpus() {
    for (name, s) in corpus("rgd_yaml") {
        if let Err(e) = kroxide_model::check_direct_reader("fuzz.yaml", &s) {
            panic!("{}: the two YAML readers differ: {e}", name.display());
        }
        let _ = kroxide_model::load_documents("fuzz.yaml", &s);
        if let Ok(rgds) = kroxide_model::load_str("fuzz.yaml", &s) {
            for r in rgds {
                let _ = kroxide_semantics::validate::validate(&r.rgd);
            }
        }
    }
}
