//! `kroxide deploy` as a user runs it, against the test API server.

use kroxide_testserver::TestServer;
use std::path::Path;
use std::process::Command;

fn example(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_an_rgd_file_and_print_its_status() {
    let server = TestServer::start().await.unwrap();
    let (dir, kc) = workdir(&server, "kroxide-cli-deploy");
    let inst = dir.join("instance.yaml");
    std::fs::write(&inst, "spec:\n  name: hello\n  replicas: 2\n").unwrap();
    let rgd = example("rgds/webapp.yaml");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args([
                "deploy",
                &rgd,
                "--instance",
                inst.to_str().unwrap(),
                "-n",
                "web",
                "--create-namespace",
                "--kubeconfig",
                kc.to_str().unwrap(),
                "-o",
                "json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("\"ready\",\"id\":\"deployment\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("deployed webapp instance webapp: 2 resources in 2 waves, 0 pruned"),
        "{stderr}"
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["availableReplicas"], 2);
    assert_eq!(status["ready"], true);
    assert!(
        status["url"].as_str().unwrap().starts_with("http://10.96."),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_without_a_reachable_cluster_fails_clearly() {
    let dir = std::env::temp_dir().join(format!("kroxide-cli-deploy-none-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inst = dir.join("instance.yaml");
    std::fs::write(&inst, "spec: {name: hello}\n").unwrap();
    // A kubeconfig pointing at a closed port on this machine.
    let kc = dir.join("kubeconfig");
    std::fs::write(&kc, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n").unwrap();
    let rgd = example("rgds/webapp.yaml");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args([
                "deploy",
                &rgd,
                "--instance",
                inst.to_str().unwrap(),
                "--kubeconfig",
                kc.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error:"), "{stderr}");
    let missing = Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args([
            "deploy",
            "x.yaml",
            "--instance",
            "i.yaml",
            "--kubeconfig",
            "/nonexistent/kc",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
}

/// A fresh directory for one test's files, with a kubeconfig for `server` in it.
fn workdir(server: &TestServer, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kc = dir.join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    (dir, kc)
}

/// Runs the kroxide binary off the async runtime.
async fn kroxide(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_status_diff_instances_delete_from_the_cli() {
    let server = TestServer::start().await.unwrap();
    let (dir, kc) = workdir(&server, "kroxide-cli-life");
    let kc = kc.display().to_string();
    let inst = dir.join("instance.yaml");
    std::fs::write(
        &inst,
        "metadata: {name: hello}\nspec:\n  name: hello\n  replicas: 2\n",
    )
    .unwrap();
    let inst = inst.display().to_string();
    let rgd = example("rgds/webapp.yaml");
    let with = |extra: &[&str]| {
        let mut a = strings(extra);
        a.splice(1..1, [rgd.clone()]);
        a.extend(strings(&["-n", "web", "--kubeconfig", &kc]));
        a
    };

    // Deploy with JSON progress: every stderr line is an event.
    let out = kroxide(with(&[
        "deploy",
        "--instance",
        &inst,
        "--create-namespace",
        "-o",
        "json",
    ]))
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(
        events.iter().any(|e| e["event"] == "waveStarted"),
        "{stderr}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "ready" && e["id"] == "deployment"),
        "{stderr}"
    );

    // Status from a new process.
    let out = kroxide(with(&["status", "--name", "hello", "-o", "json"])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["ready"], true, "{status}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("deployment"));

    // Instances.
    let out = kroxide(with(&["instances"])).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("hello") && l.contains("DEPLOYED")),
        "{table}"
    );

    // Diff: nothing, then a change (exit codes as kubectl diff).
    let out = kroxide(with(&["diff", "--instance", &inst])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    std::fs::write(
        &inst,
        "metadata: {name: hello}\nspec:\n  name: hello\n  replicas: 3\n",
    )
    .unwrap();
    let out = kroxide(with(&["diff", "--instance", &inst])).await;
    let diff = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{diff}");
    assert!(
        diff.contains("-  replicas: 2") && diff.contains("+  replicas: 3"),
        "{diff}"
    );

    // Delete, twice.
    let out = kroxide(with(&["delete", "--name", "hello"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("deleted instance hello: 2 objects"),
        "{stderr}"
    );
    let out = kroxide(with(&["delete", "--name", "hello"])).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to delete"));
    let out = kroxide(with(&["status", "--name", "hello"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was never deployed"));
    // Usage: an instance is named one way only.
    let out = kroxide(with(&["status", "--name", "a", "--instance", &inst])).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_and_a_rerun_converges() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| {
        c.stuck.insert("Deployment/web/hello".into());
    });
    let (dir, kc) = workdir(&server, "kroxide-cli-int");
    let inst = dir.join("instance.yaml");
    std::fs::write(&inst, "metadata: {name: hello}\nspec:\n  name: hello\n").unwrap();
    let args = strings(&[
        "deploy",
        &example("rgds/webapp.yaml"),
        "--instance",
        inst.to_str().unwrap(),
        "-n",
        "web",
        "--create-namespace",
        "--kubeconfig",
        kc.to_str().unwrap(),
    ]);
    let child = Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the deploy holds the lock and waits for the stuck Deployment.
    let locked = || {
        server
            .state()
            .store
            .lock()
            .unwrap()
            .objects
            .iter()
            .any(|((_, _, name), o)| name == "hello" && o["kind"] == "Deployment")
    };
    for _ in 0..200 {
        if locked() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(locked(), "the deploy never got to its Deployment");
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: the instance lock is released"),
        "{stderr}"
    );
    // The lock is released: a re-run is not refused, and converges once the rollout can finish.
    // (The stuck rollout gets a new spec, so the simulated controller acts on it again.)
    server.controllers(|c| c.stuck.clear());
    std::fs::write(
        &inst,
        "metadata: {name: hello}\nspec:\n  name: hello\n  replicas: 1\n",
    )
    .unwrap();
    let mut args = args;
    args.extend(strings(&["--timeout", "20"]));
    let out = kroxide(args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kroxide deploy --mode kro` prints KRO's version, which it reads from the
/// `app.kubernetes.io/version` label of KRO's Deployment as KRO's Helm chart
/// installs it (a real cluster's KRO may show another; this pins the lookup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kro_version_is_read_from_kros_deployment() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    assert_eq!(kroxide::engine::kro::version(&client).await, None);
    let deployments: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        "default",
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment"),
            "deployments",
        ),
    );
    let kro_deploy: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "kro", "namespace": "default", "labels": {"app.kubernetes.io/name": "kro", "app.kubernetes.io/version": "0.9.3"}},
        "spec": {"selector": {"matchLabels": {"app": "kro"}}, "template": {"metadata": {"labels": {"app": "kro"}}, "spec": {"containers": [{"name": "kro", "image": "registry.k8s.io/kro/kro:v0.9.3"}]}}}
    }))
    .unwrap();
    deployments
        .create(&Default::default(), &kro_deploy)
        .await
        .unwrap();
    assert_eq!(
        kroxide::engine::kro::version(&client).await.as_deref(),
        Some("0.9.3")
    );
}

const VAULT_RGD: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: vault}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Vault
    spec:
      name: string | required=true
      password: string | required=true pattern="^[a-z0-9-]+$"
    status:
      secretName: ${creds.metadata.name}
  resources:
    - id: creds
      template:
        apiVersion: v1
        kind: Secret
        metadata: {name: "${schema.spec.name}-creds"}
        stringData:
          password: ${schema.spec.password}
    - id: settings
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "${schema.spec.name}"}
        data:
          copied: ${schema.spec.password}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_never_reach_progress_plan_diff_status_or_errors() {
    let server = TestServer::start().await.unwrap();
    let (dir, kc) = workdir(&server, "kroxide-cli-secrets");
    let kc = kc.display().to_string();
    let rgd = dir.join("vault.yaml");
    std::fs::write(&rgd, VAULT_RGD).unwrap();
    let rgd = rgd.display().to_string();
    let inst = dir.join("instance.yaml");
    let inst_s = inst.display().to_string();
    let write = |pw: &str| {
        std::fs::write(
            &inst,
            format!("metadata: {{name: v}}\nspec: {{name: v, password: {pw}}}\n"),
        )
        .unwrap()
    };
    let with = |extra: &[&str]| {
        let mut a = strings(extra);
        a.splice(1..1, [rgd.clone()]);
        a.extend(strings(&["-n", "sec", "--kubeconfig", &kc]));
        a
    };
    let secret = "s3cr3t-pa55";
    let newer = "n3w-s3cr3t-pa55";
    let clean = |out: &std::process::Output, what: &str| {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for v in [secret, newer] {
            assert!(!all.contains(v), "{what} shows a secret value:\n{all}");
        }
        all
    };
    write(secret);
    let plan = kroxide(strings(&["plan", &rgd, "--instance", &inst_s])).await;
    assert_eq!(plan.status.code(), Some(0));
    clean(&plan, "plan");
    for output in ["json", "yaml"] {
        let out = kroxide(with(&[
            "deploy",
            "--instance",
            &inst_s,
            "--create-namespace",
            "-o",
            output,
        ]))
        .await;
        let all = clean(&out, "deploy");
        assert_eq!(out.status.code(), Some(0), "{all}");
    }
    let out = kroxide(with(&["status", "--name", "v"])).await;
    let all = clean(&out, "status");
    assert!(all.contains("secretName: v-creds"), "{all}");
    write(newer);
    let out = kroxide(with(&["diff", "--instance", &inst_s])).await;
    let all = clean(&out, "diff");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("(before)") && all.contains("(after)"), "{all}");
    // The same diff with --show-secrets does show them: the masking is real.
    let shown = kroxide(with(&["diff", "--instance", &inst_s, "--show-secrets"])).await;
    assert!(String::from_utf8_lossy(&shown.stdout).contains(newer));
    // An error about the value names the field, not the value.
    write("Not-Allowed!s3cr3t-pa55");
    let out = kroxide(with(&["deploy", "--instance", &inst_s])).await;
    let all = clean(&out, "an error");
    assert_eq!(out.status.code(), Some(1));
    assert!(all.contains("spec.password"), "{all}");
    assert!(!all.contains("Not-Allowed!"), "{all}");
}
