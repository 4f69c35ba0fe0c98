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
fn yaml_surprises_are_warnings_that_do_not_fail_validation() {
    let f = temp(
        "dupkey.yaml",
        "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: d}\nspec:\n  schema: {apiVersion: v1alpha1, kind: D}\n  resources:\n    - id: cm\n      template:\n        apiVersion: v1\n        kind: ConfigMap\n        metadata:\n          name: first\n          name: second\n",
    );
    let out = kroxide(&["validate", "-o", "json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v[0]["diagnostics"][0];
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["rule"], "duplicate-key");
    assert_eq!(d["path"], "spec.resources[0].template.metadata.name");
    assert_eq!(d["line"], 12);
    // plan shows the same warning before its output, and uses the last value.
    let i = temp(
        "dupkey-instance.yaml",
        "apiVersion: kro.run/v1alpha1\nkind: D\nmetadata: {name: x}\nspec: {}\n",
    );
    let out = kroxide(&[
        "plan",
        f.to_str().unwrap(),
        "--instance",
        i.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("key `name` is given again on line 13"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: second"));
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
    // The same as YAML.
    let out = kroxide(&["validate", "-o", "yaml", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("- file: ")
            && text.contains("valid: false")
            && text.contains("rule: kind"),
        "{text}"
    );
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
    // The same CRD as JSON, for tools.
    let out = kroxide(&[
        "crd",
        &shared("kro/fixtures/chainsaw/check-required-default-interactions/rgd.yaml"),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let crd: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(crd["metadata"]["name"], "complexapps.kro.run");
    assert_eq!(crd["kind"], "CustomResourceDefinition");
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

fn example(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
        .display()
        .to_string()
}

#[test]
fn plan_an_rgd_file_with_an_instance() {
    let rgd = shared("kro/fixtures/chainsaw/check-multi-resource-rgd/rgd.yaml");
    let inst = shared("kro/fixtures/chainsaw/check-multi-resource-rgd/instance.yaml");
    let out = kroxide(&[
        "plan",
        &rgd,
        "--instance",
        &inst,
        "-n",
        "team-a",
        "--assume-ready",
        "-o",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["instance"]["metadata"]["namespace"], "team-a");
    assert_eq!(p["waves"][0][0], "configmap");
    let hpa = p["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "autoscaler")
        .unwrap();
    assert_eq!(hpa["objects"][0]["spec"]["maxReplicas"], 5);
    assert_eq!(hpa["objects"][0]["metadata"]["namespace"], "team-a");
}

#[test]
fn plan_refuses_a_bad_instance_and_names_the_field() {
    let rgd = shared("kro/fixtures/chainsaw/check-multi-resource-rgd/rgd.yaml");
    let f = temp("bad-instance.yaml", "spec:\n  minReplicas: lots\n");
    let out = kroxide(&["plan", &rgd, "--instance", f.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("spec.minReplicas: expected integer, got string \"lots\""),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn an_instance_error_does_not_echo_a_value_bound_for_a_secret() {
    let rgd = temp("secret-pattern-rgd.yaml", "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: s}\nspec:\n  schema: {apiVersion: v1alpha1, kind: S, spec: {password: 'string | pattern=\"^[a-z]+$\"'}}\n  resources:\n    - id: secret\n      template:\n        apiVersion: v1\n        kind: Secret\n        metadata: {name: s}\n        stringData: {password: \"${schema.spec.password}\"}\n");
    let inst = temp(
        "secret-pattern-instance.yaml",
        "spec: {password: Hunter2-Secret}\n",
    );
    let (rgd, inst) = (rgd.to_str().unwrap(), inst.to_str().unwrap());
    let out = kroxide(&["plan", rgd, "--instance", inst]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("spec.password"), "{stderr}");
    assert!(stderr.contains("does not match the pattern"), "{stderr}");
    assert!(!stderr.contains("Hunter2-Secret"), "{stderr}");
    let out = kroxide(&["plan", rgd, "--instance", inst, "--show-secrets"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Hunter2-Secret"));
    // Both deploy modes check the instance before the first request, and
    // mask the same way (the kubeconfig points at a closed port).
    let kc = temp("secret-pattern-kubeconfig", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n");
    for mode in ["direct", "kro"] {
        let args = [
            "deploy",
            rgd,
            "--instance",
            inst,
            "--mode",
            mode,
            "--kubeconfig",
            kc.to_str().unwrap(),
        ];
        let out = kroxide(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{mode}: {stderr}");
        assert!(
            stderr.contains("does not match the pattern"),
            "{mode}: {stderr}"
        );
        assert!(!stderr.contains("Hunter2-Secret"), "{mode}: {stderr}");
    }
}

#[test]
fn plan_masks_secret_values_unless_asked() {
    let exe = env!("CARGO_BIN_EXE_kroxide");
    let _ = exe;
    let rgd = temp("secret-rgd.yaml", "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: s}\nspec:\n  schema: {apiVersion: v1alpha1, kind: S, spec: {password: string}}\n  resources:\n    - id: secret\n      template:\n        apiVersion: v1\n        kind: Secret\n        metadata: {name: s}\n        stringData: {password: \"${schema.spec.password}\"}\n");
    let inst = temp(
        "secret-instance.yaml",
        "spec: {password: hunter2-very-secret}\n",
    );
    let out = kroxide(&[
        "plan",
        rgd.to_str().unwrap(),
        "--instance",
        inst.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(!stdout.contains("hunter2-very-secret"), "{stdout}");
    assert!(stdout.contains("redacted"), "{stdout}");
    let out = kroxide(&[
        "plan",
        rgd.to_str().unwrap(),
        "--instance",
        inst.to_str().unwrap(),
        "--show-secrets",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("hunter2-very-secret"));
}

#[test]
fn the_microservices_example_plans_from_the_cli() {
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "-q",
            "--example",
            "microservices",
            "--",
            "plan",
            "--instance",
            &example("microservices/prod.yaml"),
            "--assume-ready",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("LOG_LEVEL: info"), "{stdout}");
    assert!(stdout.contains("health: healthy"), "{stdout}");
}

/// `kroxide plan ... | head`: a reader that goes away is an error on stderr
/// and exit 1, in YAML and JSON alike, never a panic (exit 101).
#[test]
fn output_to_a_closed_pipe_is_an_error_not_a_panic() {
    let rgd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rgds/webapp.yaml");
    let instance = temp(
        "pipe-instance.yaml",
        "apiVersion: kro.run/v1alpha1\nkind: WebApp\nmetadata:\n  name: pipe\nspec:\n  name: pipe\n",
    );
    for format in ["yaml", "json"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args(["plan", "-o", format, "--instance"])
            .arg(&instance)
            .arg(&rgd)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before kroxide writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{format}: {stderr}");
        assert!(
            stderr.contains("cannot write the output"),
            "{format}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
    }
}
