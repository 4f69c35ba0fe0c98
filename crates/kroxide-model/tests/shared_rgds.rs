//! Every upstream RGD in ../shared parses, and round-trips through YAML.

use kroxide_model::{load_file, load_str, to_yaml, FieldPath, LoadError};
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn rgd_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![shared().join("kro/examples"), shared().join("kro/fixtures")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                let text = std::fs::read_to_string(&p).unwrap();
                if !name.contains("assert") && text.contains("\nkind: ResourceGraphDefinition") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_upstream_rgd_parses_and_round_trips() {
    let files = rgd_files();
    assert!(files.len() >= 35, "found only {} RGD files", files.len());
    for f in files {
        let docs = load_file(&f).unwrap_or_else(|e| panic!("{e}"));
        for d in docs {
            let yaml = to_yaml(&d.rgd).unwrap();
            let again = load_str("roundtrip.yaml", &yaml)
                .unwrap_or_else(|e| panic!("{}: re-read failed: {e}\n{yaml}", f.display()));
            assert_eq!(again[0].rgd, d.rgd, "{} did not round-trip", f.display());
        }
    }
}

#[test]
fn strings_that_look_like_other_types_stay_strings() {
    let text = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: quoting}
spec:
  schema: {apiVersion: v1alpha1, kind: Quoting}
  resources:
    - id: cm
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: x}
        data: {a: "on", b: "yes", c: "y", d: "2026-01-01", e: "1.0", f: "null", g: "~", h: "0x10", i: "true"}
"#;
    let rgd = &load_str("q.yaml", text).unwrap()[0].rgd;
    let yaml = to_yaml(rgd).unwrap();
    for line in [
        "\"on\"",
        "\"yes\"",
        "\"y\"",
        "\"2026-01-01\"",
        "\"1.0\"",
        "\"null\"",
        "\"0x10\"",
        "\"true\"",
    ] {
        assert!(yaml.contains(line), "{line} not quoted in:\n{yaml}");
    }
    let again = &load_str("q2.yaml", &yaml).unwrap()[0].rgd;
    assert_eq!(again, rgd);
    let data = &again.spec.resources[0].template.as_ref().unwrap()["data"];
    assert_eq!(data["a"], "on");
    assert_eq!(data["d"], "2026-01-01");
}

#[test]
fn output_order_is_stable_and_human() {
    let f = shared().join("kro/examples/webapp/rg.yaml");
    let rgd = &load_file(&f).unwrap()[0].rgd;
    let yaml = to_yaml(rgd).unwrap();
    let pos = |k: &str| {
        yaml.find(k)
            .unwrap_or_else(|| panic!("{k} missing in\n{yaml}"))
    };
    assert!(pos("apiVersion:") < pos("kind:"));
    assert!(pos("kind:") < pos("metadata:"));
    assert!(pos("metadata:") < pos("spec:"));
    assert!(pos("schema:") < pos("resources:"));
    assert!(pos("- id:") < pos("template:"));
    assert_eq!(to_yaml(rgd).unwrap(), yaml, "emission is deterministic");
}

#[test]
fn multi_document_files_give_every_rgd() {
    let one = std::fs::read_to_string(shared().join("kro/examples/webapp/rg.yaml")).unwrap();
    let two = std::fs::read_to_string(shared().join("kro/examples/defaults/rg.yaml")).unwrap();
    let docs = load_str("multi.yaml", &format!("{one}\n---\n{two}")).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].document, 2);
    assert_ne!(docs[0].rgd.name(), docs[1].rgd.name());
}

#[test]
fn shape_errors_name_file_path_and_line() {
    let text = "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: x}\nspec:\n  schema: {apiVersion: v1alpha1, kind: X}\n  resources:\n    - template: {}\n";
    let err = load_str("bad.yaml", text).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("bad.yaml:7:"), "{msg}");
    assert!(msg.contains("spec.resources[0]"), "{msg}");
    assert!(msg.contains("missing field `id`"), "{msg}");

    let text = "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: x}\nspec:\n  schema: {apiVersion: v1alpha1, kind: X}\n  resources:\n    - id: a\n      readyWhn: []\n";
    let msg = load_str("typo.yaml", text).unwrap_err().to_string();
    assert!(msg.contains("unknown field `readyWhn`"), "{msg}");
    assert!(msg.starts_with("typo.yaml:8:"), "{msg}");
}

#[test]
fn syntax_errors_have_a_location() {
    let err = load_str("broken.yaml", "apiVersion: kro.run/v1alpha1\nkind: [\n").unwrap_err();
    assert!(matches!(err, LoadError::Syntax { .. }), "{err:?}");
    assert!(err.location().is_some(), "{err:?}");
    assert!(err.to_string().starts_with("broken.yaml:"), "{err}");
}

#[test]
fn other_kinds_are_refused() {
    let err = load_str(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("document 1 is v1 ConfigMap"),
        "{err}"
    );
    assert!(matches!(
        load_str("e.yaml", "").unwrap_err(),
        LoadError::Empty { .. }
    ));
}

#[test]
fn source_map_points_at_fields() {
    let f = shared().join("kro/examples/webapp/rg.yaml");
    let d = &load_file(&f).unwrap()[0];
    let text = &d.source.text;
    let p = FieldPath::parse("spec.resources[1].template.kind");
    let loc = d.source.locate_exact(&p).expect("located");
    assert_eq!(&text[loc.offset..loc.offset + 4], "kind");
    let line = text.lines().nth(loc.line as usize - 1).unwrap();
    assert!(line.trim_start().starts_with("kind:"), "{line}");
}

#[test]
fn the_repeated_selector_in_upstream_core_dns_is_warned_about() {
    let docs = load_file(shared().join("kro/examples/core-dns/core-dns.yaml")).unwrap();
    let warnings = docs[0].source.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!(w.rule, "duplicate-key");
    assert_eq!(
        w.path,
        FieldPath::parse("spec.resources[4].template.spec.selector")
    );
    // Reported where the value that is lost stands, naming where it is given again.
    assert_eq!(w.location.unwrap().line, 154);
    assert!(w.message.contains("again on line 169"), "{}", w.message);
}

#[test]
fn keys_read_as_booleans_are_warned_about_and_quoted_ones_are_not() {
    let text = "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: b}\nspec:\n  schema:\n    apiVersion: v1alpha1\n    kind: B\n    spec:\n      on: boolean\n      \"yes\": string\n";
    let docs = load_str("b.yaml", text).unwrap();
    let warnings = docs[0].source.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].rule, "boolean-key");
    assert_eq!(warnings[0].path, FieldPath::parse("spec.schema.spec.true"));
    assert_eq!(warnings[0].location.unwrap().line, 9);
    // The field itself is kept under the name kubectl would give it.
    assert!(docs[0].raw["spec"]["schema"]["spec"]["true"].is_string());
    assert!(docs[0].raw["spec"]["schema"]["spec"]["yes"].is_string());
}

#[test]
fn clean_upstream_files_have_no_load_warnings() {
    for f in rgd_files() {
        if f.ends_with("core-dns/core-dns.yaml") {
            continue;
        }
        for d in load_file(&f).unwrap() {
            assert!(
                d.source.warnings().is_empty(),
                "{}: {:?}",
                f.display(),
                d.source.warnings()
            );
        }
    }
}
