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
    let dir = std::env::temp_dir().join(format!("kroxide-cli-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kc = dir.join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
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
    assert!(stderr.contains("wave 1: deployment ready"), "{stderr}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_through_kro_from_the_cli() {
    let server = TestServer::start().await.unwrap();
    server.install_kro(true);
    let dir = std::env::temp_dir().join(format!("kroxide-cli-kro-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kc = dir.join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    let inst = dir.join("instance.yaml");
    std::fs::write(&inst, "metadata: {name: hello}\nspec:\n  name: hello\n").unwrap();
    let rgd = example("rgds/webapp.yaml");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args([
                "deploy",
                &rgd,
                "--mode",
                "kro",
                "--instance",
                inst.to_str().unwrap(),
                "-n",
                "apps",
                "--kubeconfig",
                kc.to_str().unwrap(),
                "-o",
                "json",
                "--timeout",
                "10",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["state"], "ACTIVE", "{status}");
    assert_eq!(status["ready"], true);
}
