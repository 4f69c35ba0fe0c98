//! `kroxide validate` and `kroxide crd` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kroxide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn shared(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(p)
        .display()
        .to_string()
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kroxide-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn valid_files_exit_zero_and_print_the_order() {
    let out = kroxide(&[
        "validate",
        "--order",
        &shared("kro/fixtures/chainsaw/check-multi-resource-rgd/rgd.yaml"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("is valid (4 resources)"), "{stdout}");
    assert!(
        stdout.contains("order: configmap, service, deployment, autoscaler"),
        "{stdout}"
    );
}

#[test]
fn invalid_files_exit_one_with_file_line_and_field() {
    let f = temp("bad.yaml", "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata:\n  name: bad\nspec:\n  schema:\n    apiVersion: v1alpha1\n    kind: App\n  resources:\n    - id: web\n      template:\n        apiVersion: apps/v1\n        kind: Deployment\n        metadata:\n          name: web\n        spec:\n          replicas: two\n");
    let out = kroxide(&["validate", f.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bad.yaml:17:11"), "{stderr}");
    assert!(
        stderr.contains("expected integer, got string \"two\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec.resources[0].template.spec.replicas"),
        "{stderr}"
    );
    assert!(stderr.contains("resource `web`"), "{stderr}");
}

#[test]
fn json_output_for_machines() {
    let f = temp("bad2.yaml", "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: b}\nspec:\n  schema: {apiVersion: v1alpha1, kind: app}\n");
    let out = kroxide(&["validate", "-o", "json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["valid"], false);
    assert_eq!(v[0]["diagnostics"][0]["rule"], "kind");
    assert_eq!(v[0]["diagnostics"][0]["line"], 5);
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(kroxide(&["validate"]).status.code(), Some(2));
    assert_eq!(kroxide(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        kroxide(&["validate", "--output", "xml", "x.yaml"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn unreadable_and_malformed_files_are_reported() {
    let out = kroxide(&["validate", "/nonexistent/rgd.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/rgd.yaml: cannot read"));
    let f = temp("broken.yaml", "apiVersion: kro.run/v1alpha1\nkind: [\n");
    let out = kroxide(&["validate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid YAML"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn crd_prints_the_instance_crd() {
    let out = kroxide(&[
        "crd",
        &shared("kro/fixtures/chainsaw/check-required-default-interactions/rgd.yaml"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("name: complexapps.kro.run"), "{stdout}");
    assert!(
        stdout.contains("kind: CustomResourceDefinition"),
        "{stdout}"
    );
}

#[test]
fn the_readme_example_rgd_is_valid() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rgds/webapp.yaml");
    let out = kroxide(&["validate", "--order", f.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("wave 3: ingress"), "{stdout}");
}
