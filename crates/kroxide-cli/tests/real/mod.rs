//! A real cluster for the e2e suites (e2e.rs, e2e_kro.rs, e2e_examples.rs).
//!
//! `KROXIDE_E2E_KUBECONFIG` names the kubeconfig of a disposable cluster;
//! `scripts/e2e.sh` starts one (a real kube-apiserver, controller-manager and
//! KRO from `../shared/kit`) and runs the suites on it. Such a cluster has no
//! kubelet, so each test starts the kubelet simulator for its own
//! namespaces: Pods become Ready `KROXIDE_E2E_KUBELET_DELAY` after they are
//! created (`100ms` by default; `off` on a cluster with real kubelets) and
//! the real controllers compute workload status from them. Each test uses
//! namespaces of its own (`e2e-<test>-<pid>`), deleted when it ends well and
//! left for inspection when it fails.

#![allow(dead_code)]

use kroxide_testserver::kubelet::{Kubelet, KubeletConfig};
use std::path::PathBuf;
use std::time::Duration;

/// One test's share of a real cluster.
pub struct Real {
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    /// The test's namespace (not created yet).
    pub ns: String,
    /// Every namespace the test uses (the first is `ns`).
    pub namespaces: Vec<String>,
    /// How long a resource may take to become ready.
    pub timeout: Duration,
    kubelet: Option<Kubelet>,
}

/// The kubelet simulator's delay, from `KROXIDE_E2E_KUBELET_DELAY`.
pub fn kubelet_delay() -> Option<Duration> {
    match std::env::var("KROXIDE_E2E_KUBELET_DELAY").ok().as_deref() {
        None | Some("") => Some(Duration::from_millis(100)),
        Some("off") => None,
        Some(d) => Some(
            humantime::parse_duration(d)
                .unwrap_or_else(|e| panic!("KROXIDE_E2E_KUBELET_DELAY={d}: {e}")),
        ),
    }
}

/// The kubeconfig of the e2e cluster.
pub fn kubeconfig() -> PathBuf {
    std::env::var("KROXIDE_E2E_KUBECONFIG")
        .map(PathBuf::from)
        .expect("set KROXIDE_E2E_KUBECONFIG to the kubeconfig of a disposable cluster (scripts/e2e.sh starts one)")
}

/// The client configuration of the e2e cluster, as the kroxide CLI builds its own.
async fn config() -> kube::Config {
    let path = kubeconfig();
    let kc = kube::config::Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    kroxide::engine::retry::client_config(config)
}

/// A client for the e2e cluster, built as the kroxide CLI builds its own.
pub async fn client() -> kube::Client {
    kube::Client::try_from(config().await).unwrap()
}

/// A client for the e2e cluster that records every request it sends.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub async fn recording_client() -> (kube::Client, kroxide::engine::requests::RequestLog) {
    kroxide::engine::requests::recorded(config().await).unwrap()
}

impl Real {
    /// A namespace `e2e-<test>-<pid>` (and one more per `extra` suffix),
    /// with the kubelet simulator serving them.
    pub async fn new(test: &str, extra: &[&str]) -> Real {
        Self::with_kubelet(test, extra, kubelet_delay()).await
    }

    /// As [`Real::new`], with the kubelet simulator's delay given (None:
    /// no simulator, so no Pod ever becomes ready).
    pub async fn with_kubelet(test: &str, extra: &[&str], delay: Option<Duration>) -> Real {
        let client = client().await;
        let pid = std::process::id();
        let ns = format!("e2e-{test}-{pid}");
        let mut namespaces = vec![ns.clone()];
        namespaces.extend(extra.iter().map(|e| format!("e2e-{test}-{e}-{pid}")));
        let kubelet = delay.map(|ready_after| {
            Kubelet::start(
                client.clone(),
                KubeletConfig {
                    ready_after,
                    namespaces: Some(namespaces.clone()),
                },
            )
        });
        let timeout = std::env::var("KROXIDE_E2E_TIMEOUT")
            .ok()
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(120));
        Real {
            client,
            kubeconfig: kubeconfig(),
            ns,
            namespaces,
            timeout,
            kubelet,
        }
    }

    /// Starts a kubelet simulator for the test's namespaces (Pods ready
    /// after 100 ms), for a test that began without one.
    pub fn start_kubelet(&self) -> Kubelet {
        Kubelet::start(
            self.client.clone(),
            KubeletConfig {
                ready_after: Duration::from_millis(100),
                namespaces: Some(self.namespaces.clone()),
            },
        )
    }

    /// The `n`th extra namespace.
    pub fn extra(&self, n: usize) -> &str {
        &self.namespaces[n + 1]
    }

    /// Deletes the test's namespaces (without waiting: the cluster finishes it).
    pub async fn cleanup(self) {
        let api: kube::Api<k8s_openapi::api::core::v1::Namespace> =
            kube::Api::all(self.client.clone());
        for ns in &self.namespaces {
            let _ = api.delete(ns, &Default::default()).await;
        }
        if let Some(k) = self.kubelet {
            k.stop();
        }
    }

    /// `kroxide` CLI arguments that reach this cluster.
    pub fn cli_args(&self) -> Vec<String> {
        vec!["--kubeconfig".into(), self.kubeconfig.display().to_string()]
    }

    /// A whole `kroxide` command line for this cluster: `args`, then
    /// [`Real::cli_args`].
    pub fn command(&self, args: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        out.extend(self.cli_args());
        out
    }
}

/// Runs the kroxide binary with `args`, off the async runtime.
pub async fn kroxide(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args(&args)
            .output()
            .expect("run kroxide")
    })
    .await
    .unwrap()
}

/// Sends Ctrl-C (SIGINT) to a running kroxide and returns what it printed.
pub async fn interrupt(child: std::process::Child) -> std::process::Output {
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -INT {pid}");
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// What a finished command printed, for assertion messages.
pub fn printed(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory for one test's files.
pub fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kroxide-e2e-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
