//! Options every cluster command shares, as kubectl has them: durations for
//! `--timeout` and `--overall-timeout`, and the namespace default (the
//! instance file's, else the kubeconfig context's, else `default`).

use k8s_openapi::api::apps::v1::Deployment;
use kroxide_testserver::TestServer;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
        .display()
        .to_string()
}

/// A fresh directory for one test's files.
fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A kubeconfig for `server` with two contexts: `main` (the current one,
/// namespace `team-a`) and `other` (namespace `team-x`).
fn kubeconfig(server: &TestServer, dir: &Path) -> String {
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {}
contexts:
- name: main
  context:
    cluster: test
    user: test
    namespace: team-a
- name: other
  context:
    cluster: test
    user: test
    namespace: team-x
current-context: main
users:
- name: test
  user: {{}}
",
            server.url()
        ),
    )
    .unwrap();
    kc.display().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Runs the kroxide binary off the async runtime, with `env` set.
async fn kroxide_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args(&args)
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

async fn kroxide(args: &[&str]) -> Output {
    kroxide_env(args, &[]).await
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The namespaces that hold a Deployment `name`.
async fn deployed_in(server: &TestServer, name: &str) -> Vec<String> {
    let api: kube::Api<Deployment> = kube::Api::all(server.client().unwrap());
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|d| d.metadata.name.as_deref() == Some(name))
        .filter_map(|d| d.metadata.namespace)
        .collect()
}

#[test]
fn timeouts_take_kubectl_durations_or_seconds() {
    // A valid duration gets past the parser: the command then fails only on
    // the missing RGD file (exit 1), not on usage (exit 2).
    for flag in ["--timeout", "--overall-timeout"] {
        for value in ["90s", "5m", "1m30s", "500ms", "300", "1h"] {
            let out = Command::new(env!("CARGO_BIN_EXE_kroxide"))
                .args([
                    "deploy",
                    "/nonexistent/rgd.yaml",
                    "-i",
                    "i.yaml",
                    flag,
                    value,
                ])
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{flag} {value}: {err}");
            assert!(!err.contains("invalid value"), "{flag} {value}: {err}");
        }
        for value in ["abc", "5x", "-1", "1.5", "", "5 parsecs"] {
            let out = Command::new(env!("CARGO_BIN_EXE_kroxide"))
                .args(["deploy", "/nonexistent/rgd.yaml", "-i", "i.yaml"])
                .arg(format!("{flag}={value}"))
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{flag} {value:?}: {err}");
            assert!(
                err.contains(flag) && err.contains("expected a duration such as 90s, 5m"),
                "{flag} {value:?}: {err}"
            );
        }
    }
    // Every cluster command takes them.
    for cmd in ["diff", "status", "delete", "instances"] {
        let mut args = vec![cmd, "/nonexistent/rgd.yaml", "--timeout", "1m30s"];
        if cmd != "instances" {
            args.extend(["-i", "i.yaml"]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
    }
    let help = Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(["deploy", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: 5m]"), "{help}");
    assert!(help.contains("1m30s"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_timeout_is_honoured() {
    let server = TestServer::start().await.unwrap();
    let dir = workdir("kroxide-opts-timeout");
    let kc = kubeconfig(&server, &dir);
    let rgd = example("rgds/webapp.yaml");
    // With durations in both flags a deploy succeeds.
    let inst = write(&dir, "ok.yaml", "metadata: {name: ok}\nspec: {name: ok}\n");
    let out = kroxide(&[
        "deploy",
        &rgd,
        "-i",
        &inst,
        "--kubeconfig",
        &kc,
        "--create-namespace",
        "--timeout",
        "1m30s",
        "--overall-timeout",
        "2m",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A Deployment that never gets ready: `500ms` is half a second, not 500 s.
    server.controllers(|c| {
        c.stuck.insert("Deployment/team-a/stuck".into());
    });
    let inst = write(
        &dir,
        "stuck.yaml",
        "metadata: {name: stuck}\nspec: {name: stuck}\n",
    );
    let started = std::time::Instant::now();
    let out = kroxide(&[
        "deploy",
        &rgd,
        "-i",
        &inst,
        "--kubeconfig",
        &kc,
        "--timeout",
        "500ms",
    ])
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("was not ready after"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}: {err}",
        started.elapsed()
    );
    // The same for the overall timeout.
    let started = std::time::Instant::now();
    let out = kroxide(&[
        "deploy",
        &rgd,
        "-i",
        &inst,
        "--kubeconfig",
        &kc,
        "--overall-timeout",
        "1s",
        "--break-lock",
    ])
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("overall timeout"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}: {err}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespace_defaults_to_the_kubeconfig_context() {
    let server = TestServer::start().await.unwrap();
    let dir = workdir("kroxide-opts-ctx");
    let kc = kubeconfig(&server, &dir);
    let rgd = example("rgds/webapp.yaml");
    let inst = write(
        &dir,
        "instance.yaml",
        "metadata: {name: hello}\nspec: {name: hello}\n",
    );
    let out = kroxide(&[
        "deploy",
        &rgd,
        "-i",
        &inst,
        "--kubeconfig",
        &kc,
        "--create-namespace",
    ])
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("deploying webapp to namespace team-a"),
        "{err}"
    );
    assert_eq!(deployed_in(&server, "hello").await, ["team-a"]);

    // status, diff, instances and delete find it there too.
    let out = kroxide(&["status", &rgd, "--name", "hello", "--kubeconfig", &kc]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = kroxide(&["diff", &rgd, "-i", &inst, "--kubeconfig", &kc]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = kroxide(&["instances", &rgd, "--kubeconfig", &kc, "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "hello", "{list}");
    assert_eq!(list[0]["namespace"], "team-a", "{list}");

    // -n still wins over the context.
    let out = kroxide(&[
        "status",
        &rgd,
        "--name",
        "hello",
        "--kubeconfig",
        &kc,
        "-n",
        "default",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("was never deployed to namespace `default`"));

    // $KUBECONFIG (no --kubeconfig) gives the same default.
    let out = kroxide_env(&["status", &rgd, "--name", "hello"], &[("KUBECONFIG", &kc)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = kroxide(&["delete", &rgd, "--name", "hello", "--kubeconfig", &kc]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("deleted instance hello: 2 objects"), "{err}");
    assert!(deployed_in(&server, "hello").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespace_follows_the_selected_context() {
    let server = TestServer::start().await.unwrap();
    let dir = workdir("kroxide-opts-context");
    let kc = kubeconfig(&server, &dir);
    let rgd = example("rgds/webapp.yaml");
    let inst = write(
        &dir,
        "instance.yaml",
        "metadata: {name: ctx}\nspec: {name: ctx}\n",
    );
    let out = kroxide(&[
        "deploy",
        &rgd,
        "-i",
        &inst,
        "--kubeconfig",
        &kc,
        "--context",
        "other",
        "--create-namespace",
    ])
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("to namespace team-x"), "{err}");
    assert_eq!(deployed_in(&server, "ctx").await, ["team-x"]);
    // --context with $KUBECONFIG.
    let out = kroxide_env(
        &["status", &rgd, "--name", "ctx", "--context", "other"],
        &[("KUBECONFIG", &kc)],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = kroxide_env(&["status", &rgd, "--name", "ctx"], &[("KUBECONFIG", &kc)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("namespace `team-a`"),
        "{}",
        stderr(&out)
    );
    // A context that is not there is an error.
    let out = kroxide(&[
        "status",
        &rgd,
        "--name",
        "ctx",
        "--kubeconfig",
        &kc,
        "--context",
        "nope",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_files_namespace_is_used_and_a_different_flag_refused() {
    let server = TestServer::start().await.unwrap();
    let dir = workdir("kroxide-opts-inst-ns");
    let kc = kubeconfig(&server, &dir);
    let rgd = example("rgds/webapp.yaml");
    let inst = write(
        &dir,
        "instance.yaml",
        "metadata: {name: b, namespace: team-b}\nspec: {name: b}\n",
    );
    // No -n: the instance's namespace, over the context's.
    let out = kroxide(&[
        "deploy",
        &rgd,
        "-i",
        &inst,
        "--kubeconfig",
        &kc,
        "--create-namespace",
    ])
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("deploying webapp to namespace team-b"),
        "{err}"
    );
    assert_eq!(deployed_in(&server, "b").await, ["team-b"]);
    // The same -n is fine.
    let out = kroxide(&[
        "diff",
        &rgd,
        "-i",
        &inst,
        "--kubeconfig",
        &kc,
        "-n",
        "team-b",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = kroxide(&["diff", &rgd, "-i", &inst, "--kubeconfig", &kc]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = kroxide(&["status", &rgd, "-i", &inst, "--kubeconfig", &kc]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A different -n: refused before anything reaches the cluster.
    server.clear_log();
    let message = "the namespace from the instance file \"team-b\" does not match the namespace \"team-c\"; pass --namespace team-b or drop metadata.namespace";
    for cmd in ["deploy", "diff", "status", "delete"] {
        let mut args = vec![cmd, &rgd, "-i", &inst, "--kubeconfig", &kc, "-n", "team-c"];
        if cmd == "deploy" {
            args.push("--create-namespace");
        }
        let out = kroxide(&args).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(err.contains(message), "{cmd}: {err}");
    }
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert_eq!(deployed_in(&server, "b").await, ["team-b"]);

    // Delete by the file finds it in the file's namespace.
    let out = kroxide(&["delete", &rgd, "-i", &inst, "--kubeconfig", &kc]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("deleted instance b: 2 objects"), "{err}");
    assert!(deployed_in(&server, "b").await.is_empty());
}
