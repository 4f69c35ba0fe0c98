//! kroxide's reading of KRO's own examples and e2e fixtures in ../shared.

use kroxide_model::{load_file, to_yaml};
#[path = "support/chainsaw.rs"]
mod chainsaw;
use chainsaw::partial_match;
use kroxide_semantics::crd::instance_crd;
use kroxide_semantics::openapi::{validate as schema_validate, Definitions, Options, Schema};
use kroxide_semantics::validate::{validate, Severity};
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn yaml(p: &Path) -> serde_json::Value {
    serde_saphyr_value(&std::fs::read_to_string(p).unwrap())
}

fn serde_saphyr_value(text: &str) -> serde_json::Value {
    kroxide_model::load_documents("x", text)
        .unwrap()
        .remove(0)
        .0
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

fn rgd_crd_schema() -> Schema {
    let crd = yaml(&shared().join("kro/crds/kro.run_resourcegraphdefinitions.yaml"));
    serde_json::from_value(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()).unwrap()
}

#[test]
fn every_upstream_rgd_validates_without_errors() {
    let files = rgd_files();
    assert!(files.len() >= 35);
    for f in files {
        for d in load_file(&f).unwrap() {
            let v = validate(&d.rgd);
            let errors: Vec<String> = v.errors().map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}:\n{}", f.display(), errors.join("\n"));
            assert!(v.order.is_some(), "{}", f.display());
        }
    }
}

#[test]
fn every_rgd_kroxide_writes_fits_the_rgd_crd() {
    let schema = rgd_crd_schema();
    for f in rgd_files() {
        for d in load_file(&f).unwrap() {
            let written = to_yaml(&d.rgd).unwrap();
            let mut v = serde_saphyr_value(&written);
            let opts = Options {
                apply_defaults: true,
                ..Options::default()
            };
            let errs = schema_validate(&mut v, &schema, &Definitions::default(), opts);
            assert!(errs.is_empty(), "{}: {:?}", f.display(), errs);
        }
    }
}

#[test]
fn the_rgd_crd_schema_catches_bad_rgds() {
    let schema = rgd_crd_schema();
    let mut v = serde_json::json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition", "metadata": {"name": "x"},
        "spec": {"schema": {"apiVersion": "1", "kind": "lower"}, "resources": [{"id": "a"}]}
    });
    let opts = Options {
        apply_defaults: true,
        ..Options::default()
    };
    let errs: Vec<String> = schema_validate(&mut v, &schema, &Definitions::default(), opts)
        .into_iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.schema.apiVersion:")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with("spec.schema.kind:")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("exactly one of template or externalRef")),
        "{errs:?}"
    );
    // Defaulting filled the scope, as the API server would.
    assert_eq!(v["spec"]["schema"]["scope"], "Namespaced");
}

#[test]
fn instance_crd_matches_kro_for_required_default_interactions() {
    let dir = shared().join("kro/fixtures/chainsaw/check-required-default-interactions");
    let rgd = &load_file(dir.join("rgd.yaml")).unwrap()[0].rgd;
    let crd = instance_crd(rgd).unwrap();
    let expected = yaml(&dir.join("instancecrd-assert.yaml"));
    partial_match(&expected["spec"], &crd["spec"]).unwrap();
    // Objects with a required child get no `default: {}`; those without do.
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert!(spec["properties"]["database"].get("default").is_none());
    assert_eq!(
        spec["properties"]["retry"]["default"],
        serde_json::json!({})
    );
}

#[test]
fn instance_crds_match_kro_for_every_chainsaw_fixture() {
    let dir = shared().join("kro/fixtures/chainsaw");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let case = e.unwrap().path();
        let assert = case.join("instancecrd-assert.yaml");
        if !assert.exists() {
            continue;
        }
        let rgd = &load_file(case.join("rgd.yaml")).unwrap()[0].rgd;
        let crd = instance_crd(rgd).unwrap();
        let expected = yaml(&assert);
        partial_match(&expected["spec"], &crd["spec"])
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        assert_eq!(
            expected["metadata"]["name"],
            crd["metadata"]["name"],
            "{}",
            case.display()
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} fixtures");
}

#[test]
fn topological_order_matches_kro() {
    let dir = shared().join("kro/fixtures/chainsaw");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let case = e.unwrap().path();
        let assert = case.join("rgd-assert.yaml");
        if !assert.exists() {
            continue;
        }
        let expected = yaml(&assert);
        let Some(order) = expected["status"].get("topologicalOrder") else {
            continue;
        };
        let rgd = &load_file(case.join("rgd.yaml")).unwrap()[0].rgd;
        let got = validate(rgd).order.unwrap();
        assert_eq!(serde_json::json!(got), *order, "{}", case.display());
        checked += 1;
    }
    assert!(checked >= 1);
    // The multi-resource case is the one the issue names.
    let rgd = &load_file(dir.join("check-multi-resource-rgd/rgd.yaml")).unwrap()[0].rgd;
    assert_eq!(
        validate(rgd).order.unwrap(),
        ["configmap", "service", "deployment", "autoscaler"]
    );
}

#[test]
fn custom_resource_kinds_are_noted_not_rejected() {
    let f = shared().join("kro/examples/saas-multi-tenant/tenant-rgd.yaml");
    for d in load_file(&f).unwrap() {
        let v = validate(&d.rgd);
        assert!(v.is_valid());
        assert!(
            v.diagnostics
                .iter()
                .any(|d| d.severity == Severity::Note && d.rule == "not-type-checked"),
            "{:?}",
            v.diagnostics
        );
    }
}
