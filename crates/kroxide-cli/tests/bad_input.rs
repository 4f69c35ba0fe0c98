//! The bad-input catalogue, as users meet it: the `kroxide` binary run with a
//! broken RGD file, a broken instance, or wrong usage, against a live test
//! API server. Each case asserts the exit code, that the message says what
//! and where, and that the server saw no write at all.
//!
//! The offline layers have their own tables (kroxide-semantics:
//! invalid_rgds.rs, bad_specs.rs; kroxide: compile_fail for DSL graphs that
//! must not compile, dsl.rs for those that must not build).

use kroxide_testserver::TestServer;
use std::path::{Path, PathBuf};
use std::process::Command;

const GOOD_RGD: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: app
spec:
  schema:
    apiVersion: v1alpha1
    kind: App
    spec:
      name: string | required=true
      replicas: integer | default=1 minimum=1 maximum=10
      tier: string | enum="web,worker" default="web"
      password: string | default="pw-default-123" pattern="^[a-z0-9-]+$"
  resources:
    - id: config
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.spec.name}
        data:
          tier: ${schema.spec.tier}
    - id: creds
      template:
        apiVersion: v1
        kind: Secret
        metadata:
          name: ${schema.spec.name}-creds
        stringData:
          password: ${schema.spec.password}
    - id: web
      template:
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: ${config.metadata.name}
        spec:
          replicas: ${schema.spec.replicas}
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
                - name: web
                  image: nginx
"#;

const GOOD_INSTANCE: &str = "metadata: {name: demo}\nspec:\n  name: demo\n";

/// One bad input.
struct Case {
    name: &'static str,
    /// The RGD file's text.
    rgd: String,
    /// The instance file's text.
    instance: &'static str,
    /// The arguments after `kroxide`; `RGD`, `INST`, `KC` are replaced by the files.
    args: &'static [&'static str],
    code: i32,
    /// Each must appear in stderr.
    says: &'static [&'static str],
    /// Must not appear anywhere in the output.
    hides: &'static [&'static str],
}

fn rgd_with(from: &str, to: &str) -> String {
    assert!(GOOD_RGD.contains(from), "{from}");
    GOOD_RGD.replacen(from, to, 1)
}

const DEPLOY: &[&str] = &[
    "deploy",
    "RGD",
    "--instance",
    "INST",
    "--kubeconfig",
    "KC",
    "-n",
    "work",
];

fn cases() -> Vec<Case> {
    let c = |name, rgd: String, instance, args, code, says, hides| Case {
        name,
        rgd,
        instance,
        args,
        code,
        says,
        hides,
    };
    let g = || GOOD_RGD.to_string();
    let none: &[&str] = &[];
    vec![
        // RGD files.
        c("malformed yaml", "apiVersion: kro.run/v1alpha1\nkind: [unclosed\n".into(), GOOD_INSTANCE, DEPLOY, 1, &["rgd.yaml", ":2:"][..], none),
        c("not an rgd", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".into(), GOOD_INSTANCE, DEPLOY, 1, &["rgd.yaml", "ResourceGraphDefinition"][..], none),
        c("two rgds in one file", format!("{GOOD_RGD}---\n{}", GOOD_RGD.replace("name: app", "name: app2")), GOOD_INSTANCE, DEPLOY, 2, &["holds 2 ResourceGraphDefinitions"][..], none),
        c("empty file", String::new(), GOOD_INSTANCE, DEPLOY, 1, &["rgd.yaml"][..], none),
        c("cycle", rgd_with("name: ${schema.spec.name}\n        data:", "name: ${web.metadata.name}\n        data:"), GOOD_INSTANCE, DEPLOY, 1, &["cycle", "config", "web"][..], none),
        c("unknown identifier", rgd_with("tier: ${schema.spec.tier}", "tier: ${nothere.metadata.name}"), GOOD_INSTANCE, DEPLOY, 1, &["nothere", "spec.resources[0]"][..], none),
        c("bad cel syntax", rgd_with("tier: ${schema.spec.tier}", "tier: ${schema.spec.tier +}"), GOOD_INSTANCE, DEPLOY, 1, &["schema.spec.tier +", "rgd.yaml:"][..], none),
        c("unknown schema field", rgd_with("tier: ${schema.spec.tier}", "tier: ${schema.spec.tierz}"), GOOD_INSTANCE, DEPLOY, 1, &["tierz"][..], none),
        c("unknown template field", rgd_with("replicas: ${schema.spec.replicas}", "replicaz: ${schema.spec.replicas}"), GOOD_INSTANCE, DEPLOY, 1, &["replicaz", "rgd.yaml:"][..], none),
        c("reserved id", rgd_with("- id: config", "- id: schema").replace("${config.metadata.name}", "x"), GOOD_INSTANCE, DEPLOY, 1, &["schema", "reserved"][..], none),
        c("duplicate ids", rgd_with("- id: creds", "- id: config"), GOOD_INSTANCE, DEPLOY, 1, &["config", "rgd.yaml:"][..], none),
        c("number type", rgd_with("replicas: integer | default=1 minimum=1 maximum=10", "replicas: number"), GOOD_INSTANCE, DEPLOY, 1, &["number"][..], none),
        c("unknown simpleschema marker", rgd_with("tier: string | enum", "tier: string | colour=red enum"), GOOD_INSTANCE, DEPLOY, 1, &["colour"][..], none),
        c("unsupported cel function", rgd_with("tier: ${schema.spec.tier}", "tier: ${frobnicate(schema.spec.tier)}"), GOOD_INSTANCE, DEPLOY, 1, &["frobnicate"][..], none),
        c("type error int plus string", rgd_with("tier: ${schema.spec.tier}", "tier: ${schema.spec.replicas + \"x\"}"), GOOD_INSTANCE, DEPLOY, 1, &["int", "string"][..], none),
        c("string into integer field", rgd_with("replicas: ${schema.spec.replicas}", "replicas: ${schema.spec.name}"), GOOD_INSTANCE, DEPLOY, 1, &["replicas", "expects int", "rgd.yaml:"][..], none),
        c("resource without template", rgd_with("      template:\n        apiVersion: v1\n        kind: Secret", "      readyWhen: []\n      x:\n        apiVersion: v1\n        kind: Secret"), GOOD_INSTANCE, DEPLOY, 1, &["unknown field `x`", "rgd.yaml:25"][..], none),
        c("bad api version", rgd_with("apiVersion: apps/v1", "apiVersion: apps/v9"), GOOD_INSTANCE, DEPLOY, 1, &["apps/v9"][..], none),
        c("default breaks its own pattern", rgd_with("default=\"pw-default-123\"", "default=\"PW!\""), GOOD_INSTANCE, DEPLOY, 1, &["password"][..], none),
        // Instance specs.
        c("wrong spec type", g(), "spec: {name: demo, replicas: three}\n", DEPLOY, 1, &["spec.replicas", "integer"][..], none),
        c("missing required field", g(), "spec: {replicas: 2}\n", DEPLOY, 1, &["spec.name", "required"][..], none),
        c("enum violation", g(), "spec: {name: demo, tier: gpu}\n", DEPLOY, 1, &["spec.tier", "web"][..], none),
        c("maximum violation", g(), "spec: {name: demo, replicas: 11}\n", DEPLOY, 1, &["spec.replicas", "10"][..], none),
        c("minimum violation", g(), "spec: {name: demo, replicas: 0}\n", DEPLOY, 1, &["spec.replicas", "1"][..], none),
        c("secret-bound value not echoed", g(), "spec: {name: demo, password: \"Sup3r$ecret!\"}\n", DEPLOY, 1, &["spec.password"][..], &["Sup3r$ecret!"][..]),
        c("wrong instance kind", g(), "apiVersion: kro.run/v1alpha1\nkind: Other\nspec: {name: demo}\n", DEPLOY, 1, &["kind", "App"][..], none),
        c("wrong instance api version", g(), "apiVersion: kro.run/v9\nkind: App\nspec: {name: demo}\n", DEPLOY, 1, &["apiVersion", "kro.run/v1alpha1"][..], none),
        c("two instance documents", g(), "spec: {name: a}\n---\nspec: {name: b}\n", DEPLOY, 1, &["expected one instance document, found 2"][..], none),
        c("malformed instance", g(), "spec: {name: [demo\n", DEPLOY, 1, &["instance.yaml"][..], none),
        c("instance not an object", g(), "- a\n- b\n", DEPLOY, 1, &["expected an object"][..], none),
        c("invalid instance name", g(), "metadata: {name: Not_A_Name}\nspec: {name: demo}\n", DEPLOY, 1, &["metadata.name", "Not_A_Name", "RFC 1123"][..], none),
        c("spec value breaks a k8s rule", g(), "spec: {name: UPPER_case}\n", DEPLOY, 1, &["UPPER_case", "metadata.name", "config"][..], none),
        // CLI usage and the cluster.
        c("missing instance file", g(), GOOD_INSTANCE, &["deploy", "RGD", "--instance", "/nonexistent/i.yaml", "--kubeconfig", "KC"], 1, &["/nonexistent/i.yaml", "cannot read"][..], none),
        c("missing rgd file", g(), GOOD_INSTANCE, &["deploy", "/nonexistent/r.yaml", "--instance", "INST", "--kubeconfig", "KC"], 1, &["/nonexistent/r.yaml"][..], none),
        c("missing kubeconfig", g(), GOOD_INSTANCE, &["deploy", "RGD", "--instance", "INST", "--kubeconfig", "/nonexistent/kc"], 1, &["cannot read kubeconfig /nonexistent/kc"][..], none),
        c("unknown context", g(), GOOD_INSTANCE, &["deploy", "RGD", "--instance", "INST", "--kubeconfig", "KC", "--context", "nope"], 1, &["nope"][..], none),
        c("namespace missing", g(), GOOD_INSTANCE, &["deploy", "RGD", "--instance", "INST", "--kubeconfig", "KC", "-n", "absent"], 1, &["namespace `absent` does not exist", "--create-namespace"][..], none),
        c("deploy without instance", g(), GOOD_INSTANCE, &["deploy", "RGD", "--kubeconfig", "KC"], 2, &["--instance"][..], none),
        c("unknown mode", g(), GOOD_INSTANCE, &["deploy", "RGD", "--instance", "INST", "--mode", "helm"], 2, &["helm", "direct", "kro"][..], none),
        c("timeout not a number", g(), GOOD_INSTANCE, &["deploy", "RGD", "--instance", "INST", "--timeout", "soon"], 2, &["soon"][..], none),
        c("name and instance both", g(), GOOD_INSTANCE, &["status", "RGD", "--name", "demo", "--instance", "INST", "--kubeconfig", "KC"], 2, &["cannot be used with"][..], none),
        c("status of nothing", g(), GOOD_INSTANCE, &["status", "RGD", "--name", "demo", "--kubeconfig", "KC", "-n", "work"], 1, &["was never deployed", "kroxide.app.demo"][..], none),
        c("delete-definition in direct mode", g(), GOOD_INSTANCE, &["delete", "RGD", "--name", "demo", "--delete-definition", "--kubeconfig", "KC", "-n", "work"], 2, &["--mode kro"][..], none),
        c("diff in kro mode", g(), GOOD_INSTANCE, &["diff", "RGD", "--instance", "INST", "--mode", "kro", "--kubeconfig", "KC"], 2, &["direct mode only"][..], none),
        c("kro mode without kro", g(), GOOD_INSTANCE, &["deploy", "RGD", "--instance", "INST", "--mode", "kro", "--kubeconfig", "KC", "-n", "work"], 1, &["KRO is not installed", "direct mode"][..], none),
        c("kro status without kro", g(), GOOD_INSTANCE, &["status", "RGD", "--name", "demo", "--mode", "kro", "--kubeconfig", "KC", "-n", "work"], 1, &["KRO is not installed"][..], none),
        c("kind the cluster does not serve", rgd_with("apiVersion: apps/v1\n        kind: Deployment", "apiVersion: example.com/v1\n        kind: Widget").replace("replicas: ${schema.spec.replicas}\n          selector: {matchLabels: {app: web}}\n          template:\n            metadata: {labels: {app: web}}\n            spec:\n              containers:\n                - name: web\n                  image: nginx\n", "size: 1\n"), GOOD_INSTANCE, DEPLOY, 1, &["does not serve example.com/v1 Widget", "nothing was applied"][..], none),
        c("unknown subcommand", g(), GOOD_INSTANCE, &["apply", "RGD"], 2, &["apply"][..], none),
        c("validate with no files", g(), GOOD_INSTANCE, &["validate"], 2, &["FILES"][..], none),
        c("plan with a bad observed file", g(), GOOD_INSTANCE, &["plan", "RGD", "--instance", "INST", "--observed", "/nonexistent/o.yaml"], 1, &["/nonexistent/o.yaml"][..], none),
    ]
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kroxide-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_refused_clearly_and_writes_nothing() {
    let server = TestServer::start().await.unwrap();
    let dir = dir();
    let kc = dir.join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    // The namespace the deploys target exists; nothing else of theirs does.
    let ns: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        server.client().unwrap(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("", "v1", "Namespace"),
            "namespaces",
        ),
    );
    let work = serde_json::from_value(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "work"}}),
    )
    .unwrap();
    ns.create(&Default::default(), &work).await.unwrap();
    server.clear_log();

    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let rgd = dir.join("rgd.yaml");
        let inst = dir.join("instance.yaml");
        std::fs::write(&rgd, &case.rgd).unwrap();
        std::fs::write(&inst, case.instance).unwrap();
        let args: Vec<String> = case
            .args
            .iter()
            .map(|a| match *a {
                "RGD" => rgd.display().to_string(),
                "INST" => inst.display().to_string(),
                "KC" => kc.display().to_string(),
                other => other.to_string(),
            })
            .collect();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_kroxide"))
                .args(&args)
                .env_remove("KUBECONFIG")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut wrong = Vec::new();
        if out.status.code() != Some(case.code) {
            wrong.push(format!(
                "exit {:?}, expected {}",
                out.status.code(),
                case.code
            ));
        }
        for s in case.says {
            if !stderr.contains(s) {
                wrong.push(format!("does not say {s:?}"));
            }
        }
        for s in case.hides {
            if stderr.contains(s) || stdout.contains(s) {
                wrong.push(format!("shows {s:?}"));
            }
        }
        if stderr.contains("panicked") {
            wrong.push("panicked".into());
        }
        let writes = server.writes();
        if !writes.is_empty() {
            wrong.push(format!(
                "{} writes: {:?}",
                writes.len(),
                writes
                    .iter()
                    .map(|w| format!("{} {}", w.verb, w.path))
                    .collect::<Vec<_>>()
            ));
            server.clear_log();
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n--- stderr:\n{stderr}",
                case.name,
                wrong.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_catalogue_names_are_unique() {
    let cases = cases();
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len());
    assert!(Path::new(env!("CARGO_BIN_EXE_kroxide")).exists());
}
