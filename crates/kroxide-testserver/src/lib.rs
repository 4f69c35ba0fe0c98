//! A test API server that speaks the Kubernetes HTTP API, in process.
//!
//! No cluster can run where kroxide is built and tested, yet the engines must
//! be exercised through the real kube-rs client (and kubectl) over HTTP, not
//! through mocks. This crate serves the Kubernetes API on `127.0.0.1` with a
//! random port, backed by an in-memory store.
//!
//! **What it simulates:** discovery (`/api`, `/apis`, per group version) for
//! the built-in kinds of Kubernetes 1.36 and for CRDs created at run time
//! (which become servable and `Established` at once); create, get, list
//! (label and field selectors), replace (409 on a stale resourceVersion),
//! delete (with ownerReference cascade), JSON merge patch (also used for
//! strategic merge patch), JSON patch, and server-side apply with field
//! managers, `force` and `managedFields` (a second manager's conflicting
//! apply is a 409); resourceVersion, uid, generation (bumped on spec changes,
//! only for the kinds that have one on a real API server: not Services,
//! PersistentVolumeClaims, Namespaces, ...), creationTimestamp; `dryRun=All`;
//! the `/status` subresource with spec and status kept apart; watch with
//! ADDED/MODIFIED/DELETED, bookmarks, resumption from a resourceVersion and
//! 410 Gone after compaction; validation of built-in kinds against the
//! Kubernetes schema (unknown fields rejected with `fieldValidation=Strict`,
//! wrong types 422) and of custom resources against their CRD schema
//! (pruning, defaults, CEL rules); the API server's defaulting for workloads
//! and Services; a request log.
//!
//! **As a real API server (checked against kube-apiserver 1.36):**
//! - GET returns an object with `kind` and `apiVersion`, and so do watch
//!   events; but the items of a LIST of a **built-in** kind have **no**
//!   `kind` and **no** `apiVersion` (only the list has them, e.g.
//!   `"kind": "ConfigMapList"`), while the items of a list of custom
//!   resources keep theirs (and the list's metadata has `"continue": ""`).
//!   Code that reads `kind` from list items works here only for custom
//!   resources, as on a cluster.
//! - A watch without a resourceVersion (or `"0"`) or with
//!   `sendInitialEvents=true` starts with the current objects as ADDED
//!   events, then, if bookmarks were allowed, one BOOKMARK annotated
//!   `k8s.io/initial-events-end: "true"` at once; later bookmarks (every
//!   500 ms here) carry no annotation. `sendInitialEvents=true` needs
//!   `resourceVersionMatch=NotOlderThan` (422 otherwise, and on lists).
//! - New objects come back with the API server's zero status (`status: {}`
//!   for a Deployment, `{"loadBalancer": {}}` for a Service, `phase:
//!   Pending` for a claim) and, when changed, with their old status.
//! - **Status is written asynchronously, after the write that caused it has
//!   returned**, by the simulated controllers ([`ControllerConfig`]): the
//!   response to a create, apply, patch or update never carries the status a
//!   controller would write, and `status.observedGeneration` lags
//!   `metadata.generation` until the controllers have run,
//!   [`ControllerConfig::delay`] later (a few milliseconds by default). The
//!   status then arrives as a MODIFIED watch event (and in later GETs and
//!   LISTs). Objects made [`ControllerConfig::stuck`] are still observed
//!   (a stuck Deployment gets its `observedGeneration`, its replica counts
//!   and `Available` `False`) but never ready.
//!
//! **What it does not:** authentication and authorization, aggregated
//! discovery, the OpenAPI endpoints, protobuf, strategic merge patch's list
//! merging (lists are replaced), server-side apply's merging inside
//! associative lists (lists are atomic), admission webhooks, finalizers and
//! graceful deletion, pagination (`limit`/`continue`), table output,
//! `managedFields` entries for the controllers' status writes, KRO (no
//! ResourceGraphDefinition API is served unless a test creates KRO's CRD, and
//! nothing reconciles one: KRO mode is tested against the real KRO, see
//! `scripts/e2e.sh`).
//! Where it and a real kube-apiserver differ, the real one is right.
//!
//! [`kubelet`] is a kubelet simulator for real control planes without nodes.
//!
//! ```no_run
//! # async fn demo() {
//! let server = kroxide_testserver::TestServer::start().await.unwrap();
//! let client = server.client().unwrap();
//! let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, "default");
//! assert!(cms.list(&Default::default()).await.unwrap().items.is_empty());
//! # }
//! ```

mod apply;
mod controllers;
mod faults;
pub mod kubelet;
mod response;
mod server;
mod store;
mod types;

pub use controllers::ControllerConfig;
pub use faults::{Fault, FaultKind};
pub use kubelet::{Kubelet, KubeletConfig, KubeletStats};
pub use server::{LoggedRequest, State};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running test API server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with a random port.
    pub async fn start() -> std::io::Result<TestServer> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts a server on `addr`.
    pub async fn start_on(addr: &str) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new());
        seed_namespaces(&state);
        tokio::spawn(run_controllers(state.clone()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| server::handle(st.clone(), req));
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(TestServer { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server.
    pub fn client(&self) -> kube::Result<kube::Client> {
        let uri: http::Uri = self.url().parse().expect("valid url");
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        // As kroxide builds its clients: without kube's retry layer, so a
        // test sees only what kroxide itself rides out.
        config.default_retry = false;
        kube::Client::try_from(config)
    }

    /// A kubeconfig for this server (for kubectl and for `kroxide --kubeconfig`).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kroxide-test\n  cluster:\n    server: {}\ncontexts:\n- name: kroxide-test\n  context:\n    cluster: kroxide-test\n    user: kroxide-test\n    namespace: default\ncurrent-context: kroxide-test\nusers:\n- name: kroxide-test\n  user: {{}}\n",
            self.url()
        )
    }

    /// Writes [`TestServer::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Requests that could have changed something (not dry runs, not reads).
    pub fn writes(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        if let Ok(mut l) = self.state.log.lock() {
            l.clear();
        }
    }

    /// The shared state (store, types), for tests that look inside.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Forgets the watch history: watches resuming from before now get 410.
    pub fn compact(&self) {
        if let Ok(mut s) = self.state.store.lock() {
            s.compact_all();
        }
    }
}

impl TestServer {
    /// Changes how the simulated controllers behave.
    pub fn controllers(&self, f: impl FnOnce(&mut ControllerConfig)) {
        if let Ok(mut c) = self.state.controllers.lock() {
            f(&mut c);
        }
    }

    /// Makes the next `times` requests whose method is `verb` (or `*`) and
    /// whose path contains `path_contains` fail with `kind`.
    pub fn inject(&self, verb: &str, path_contains: &str, times: usize, kind: FaultKind) {
        if let Ok(mut f) = self.state.faults.lock() {
            f.push(Fault {
                verb: verb.to_string(),
                path_contains: path_contains.to_string(),
                remaining: times,
                kind,
            });
        }
    }

    /// Disarms every fault still scripted.
    pub fn clear_faults(&self) {
        if let Ok(mut f) = self.state.faults.lock() {
            f.clear();
        }
    }

    /// Ends every open watch, as a dropped connection would.
    pub fn drop_watches(&self) {
        self.state
            .watch_epoch
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Simulates an API server restart: open watches end and the watch
    /// history is gone (resuming gets 410); with `keep_data` false the
    /// store is empty afterwards too (custom types included).
    pub fn restart(&self, keep_data: bool) {
        self.drop_watches();
        if let Ok(mut s) = self.state.store.lock() {
            if !keep_data {
                s.objects.clear();
            }
            s.compact_all();
        }
        if !keep_data {
            if let Ok(mut t) = self.state.types.write() {
                *t = types::Types::builtin();
            }
        }
    }
}

/// The namespaces every cluster starts with.
fn seed_namespaces(state: &Arc<State>) {
    let rt = state
        .types
        .read()
        .ok()
        .and_then(|t| t.by_kind("v1", "Namespace").cloned());
    let Some(rt) = rt else { return };
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let obj =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let _ = server::write(
            state,
            &rt,
            None,
            None,
            server::Write::Create(obj),
            &Default::default(),
        );
    }
}

/// Reacts to stored objects as the cluster's controllers would.
async fn run_controllers(state: Arc<State>) {
    let mut events = match state.store.lock() {
        Ok(s) => s.events.subscribe(),
        Err(_) => return,
    };
    loop {
        let e = match events.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        if e.kind == "DELETED" {
            continue;
        }
        let cfg = match state.controllers.lock() {
            Ok(c) => c.clone(),
            Err(_) => continue,
        };
        if controllers::desired_status(&e.object, &cfg).is_none() {
            continue;
        }
        let name = e
            .object
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_string();
        let key = (e.type_key.clone(), e.namespace.clone(), name);
        let st = state.clone();
        tokio::spawn(async move {
            if !cfg.delay.is_zero() {
                tokio::time::sleep(cfg.delay).await;
            }
            // Decide again on what is stored now (the spec may have changed).
            let current = st
                .store
                .lock()
                .ok()
                .and_then(|s| s.objects.get(&key).cloned());
            let cfg_now = st.controllers.lock().map(|c| c.clone()).unwrap_or(cfg);
            if let Some(obj) = current {
                if let Some(status) = controllers::desired_status(&obj, &cfg_now) {
                    st.write_status(&key, status);
                }
            }
        });
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
