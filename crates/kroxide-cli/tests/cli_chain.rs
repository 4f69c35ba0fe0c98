//! `validate` and `plan` of several RGDs at once (KRO's chained RGDs), as a
//! user runs them: files and directories, errors with file and line,
//! secrets masked at every level of an expanded plan.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kroxide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn saas() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/kro/examples/saas-multi-tenant")
        .display()
        .to_string()
}

fn dir(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kroxide-chain-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (name, text) in files {
        std::fs::write(d.join(name), text).unwrap();
    }
    d
}

const INNER: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: credentials}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Credentials
    spec: {user: string, password: string}
    status: {secretName: "${secret.metadata.name}"}
  resources:
  - id: secret
    template:
      apiVersion: v1
      kind: Secret
      metadata: {name: "${schema.spec.user}-login"}
      stringData: {password: "${schema.spec.password}"}
"#;

const OUTER: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: app}
spec:
  schema:
    apiVersion: v1alpha1
    kind: App
    spec: {name: string, password: string}
    status: {secret: "${login.status.secretName}"}
  resources:
  - id: login
    template:
      apiVersion: kro.run/v1alpha1
      kind: Credentials
      metadata: {name: "${schema.spec.name}"}
      spec: {user: "${schema.spec.name}", password: "${schema.spec.password}"}
"#;

#[test]
fn a_directory_of_chained_rgds_validates_and_plans() {
    let out = kroxide(&["validate", &saas()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.matches("is valid").count(), 3, "{stdout}");
    // The instance beside the RGDs is skipped, and said so.
    assert!(stderr.contains("tenant-instance.yaml: skipped"), "{stderr}");
    // The inner kinds are known: no "not type-checked" note for them.
    assert!(
        !stderr.contains("TenantEnvironment is not a built-in kind"),
        "{stderr}"
    );

    let instance = format!("{}/tenant-instance.yaml", saas());
    let out = kroxide(&["plan", &saas(), "--instance", &instance, "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = &plan["resources"][1];
    assert_eq!(app["id"], "tenantApplication");
    let inner = &app["expanded"][0];
    assert_eq!(inner["instance"]["kind"], "TenantApplication");
    assert_eq!(
        inner["resources"][0]["objects"][0]["metadata"]["name"],
        "tenant001-deployment"
    );
}

#[test]
fn an_inner_instance_field_the_inner_rgd_lacks_is_an_error_with_its_line() {
    let bad = OUTER.replace(
        "password: \"${schema.spec.password}\"}",
        "password: \"${schema.spec.password}\", pasword: x}",
    );
    let d = dir("typo", &[("inner.yaml", INNER), ("outer.yaml", &bad)]);
    let out = kroxide(&["validate", d.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("outer.yaml:16:"), "{stderr}");
    assert!(stderr.contains("pasword"), "{stderr}");
    // The plan is refused as well, before any instance is read.
    let inst = d.join("i.yaml");
    std::fs::write(&inst, "spec: {name: web, password: x}\n").unwrap();
    let out = kroxide(&[
        "plan",
        d.join("inner.yaml").to_str().unwrap(),
        d.join("outer.yaml").to_str().unwrap(),
        "--instance",
        inst.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pasword"));
}

#[test]
fn a_secret_made_by_an_inner_graph_is_masked_at_every_level() {
    let d = dir("secret", &[("inner.yaml", INNER), ("outer.yaml", OUTER)]);
    let inst = d.join("i.yaml");
    std::fs::write(&inst, "spec: {name: web, password: hunter2-very-secret}\n").unwrap();
    let files = [
        d.join("inner.yaml").display().to_string(),
        d.join("outer.yaml").display().to_string(),
    ];
    let args = |extra: &[&str]| {
        let mut a = vec![
            "plan",
            &files[0],
            &files[1],
            "--instance",
            inst.to_str().unwrap(),
            "--assume-ready",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        kroxide(&a)
    };
    let out = run(args(&[]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The outer graph hands the password to the inner instance's spec; the
    // inner graph makes a Secret of it: masked in both, and in the instances.
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("secretName: web-login"), "{stdout}");
    assert!(
        stdout.contains("secret: web-login"),
        "the outer status reads the inner one: {stdout}"
    );
    let out = run(args(&["--show-secrets"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hunter2-very-secret"));
}
