//! A kubelet simulator for clusters that have a control plane but no nodes.
//!
//! On such a cluster (the kit in `../shared/kit`: a real kube-apiserver and
//! kube-controller-manager, no kubelet, scheduler or cloud controller) the
//! real ReplicaSet, StatefulSet and Job controllers create Pods that never
//! run, so no workload ever becomes ready. [`Kubelet`] plays the parts that
//! are missing, through the ordinary API (it works against any API server):
//!
//! - **Pods** (watched): `ready_after` after it first saw a Pod, it writes the
//!   Pod's status through the `pods/status` subresource as a kubelet would:
//!   phase `Running`, `startTime`, `podIP`/`podIPs` (fake, from
//!   `10.244.0.0/16`: the EndpointSlice API rejects loopback addresses),
//!   `hostIP`/`hostIPs` [`HOST_IP`], the conditions `PodReadyToStartContainers`,
//!   `PodScheduled`, `Initialized`, `ContainersReady` and `Ready` all `True`,
//!   and a running, started, ready status for every container (init
//!   containers: terminated with exit code 0, or running if they are
//!   sidecars). The real controllers then compute Deployment, ReplicaSet and
//!   StatefulSet status themselves. Pods of a Job (an ownerReference of kind
//!   `Job`, or the label `batch.kubernetes.io/job-name`) run to completion
//!   instead: phase `Succeeded`, containers terminated with exit code 0,
//!   `Ready` `False` with reason `PodCompleted`; the Job controller then
//!   counts them, removes its `batch.kubernetes.io/job-tracking` finalizer
//!   and marks the Job `Complete`. A Pod that mounts a PersistentVolumeClaim
//!   (or a generic ephemeral volume) starts only once that claim is `Bound`,
//!   as a scheduler would have it. Pods being deleted, and Pods in a terminal
//!   phase, are left alone.
//! - **Failure on request**, per Pod, by the annotation [`ANNOTATION`] in its
//!   template: [`NEVER_READY`] makes the Pod `Running` with started containers
//!   that never become ready (`Ready` `False`, reason `ContainersNotReady`),
//!   as a failing readiness probe would, so the deployment controller reports
//!   `Progressing` `False`, reason `ProgressDeadlineExceeded`, after
//!   `progressDeadlineSeconds`. [`FAIL`] makes the containers exit with code
//!   1: with `restartPolicy: Never` the Pod goes to phase `Failed` (the Job
//!   controller then fails the Job after `backoffLimit` failed Pods); with
//!   `Always` or `OnFailure` the kubelet restarts containers in place, so the
//!   Pod stays `Running` in `CrashLoopBackOff` and its `restartCount` grows
//!   (after `ready_after`, then at doubling intervals up to 5 minutes; the Job
//!   controller counts these restarts against `backoffLimit` too).
//! - **LoadBalancer Services and Ingresses** without an address get
//!   `status.loadBalancer.ingress: [{ip: "127.0.0.2", hostname:
//!   "<name>.<namespace>.lb.kroxide.test"}]` ([`LOAD_BALANCER_IP`],
//!   [`LB_DOMAIN`]): both fields, so readiness checks on either work. Every
//!   Ingress gets one, whatever its class.
//! - **PersistentVolumeClaims** that are `Pending` without a `volumeName`:
//!   unless their StorageClass has `volumeBindingMode: WaitForFirstConsumer`
//!   (such claims stay `Pending`, and the PV controller says why), it creates
//!   a PersistentVolume `pvc-<claim uid>` labelled [`PV_LABEL`]`=true` with a
//!   `hostPath` `/tmp/kroxide-pv/<namespace>-<name>`, the claim's requested
//!   capacity, access modes, volume mode and class (or `""`), reclaim policy
//!   `Delete`, and a `claimRef` to the claim (with its uid). The real PV
//!   controller then binds the two, so the claim becomes `Bound` by the
//!   controller. A claim naming a StorageClass that does not exist is bound
//!   too. When the claim is deleted the PV controller deletes the volume
//!   through the in-tree hostPath deleter (which removes that `/tmp` path on
//!   the controller-manager's host, where nothing was ever created). Meant
//!   for clusters without a provisioner: where a real one serves the class,
//!   the two would race.
//!
//! Nothing is polled: one watch per kind (per namespace when
//! [`KubeletConfig::namespaces`] is set) drives everything; watch errors back
//! off and are counted in [`KubeletStats`]. Writes carry the
//! `resourceVersion` they were computed from: a conflict (409) is retried on
//! a fresh read, an object that is gone (404) is skipped. Each object gets
//! its own task, and at most 64 requests are in flight at once.
//!
//! ```no_run
//! # async fn demo() -> kube::Result<()> {
//! use kroxide_testserver::kubelet::{Kubelet, KubeletConfig};
//! use std::time::Duration;
//!
//! let client = kube::Client::try_default().await?;
//! let kubelet = Kubelet::start(
//!     client,
//!     KubeletConfig {
//!         ready_after: Duration::from_millis(100),
//!         namespaces: Some(vec!["my-test".into()]),
//!     },
//! );
//! // ... create Deployments in `my-test`; their Pods become Running and Ready ...
//! println!("{:?}", kubelet.stats());
//! kubelet.stop();
//! # Ok(())
//! # }
//! ```

use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Resource, ResourceExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

/// The Pod annotation that asks for a failure: [`NEVER_READY`] or [`FAIL`].
pub const ANNOTATION: &str = "kroxide.dev/kubelet";
/// [`ANNOTATION`] value: containers start but never become ready.
pub const NEVER_READY: &str = "never-ready";
/// [`ANNOTATION`] value: containers exit with code 1.
pub const FAIL: &str = "fail";
/// The label (value `"true"`) on every PersistentVolume the simulator creates.
pub const PV_LABEL: &str = "kroxide.dev/kubelet-pv";
/// The address every LoadBalancer Service and Ingress gets.
pub const LOAD_BALANCER_IP: &str = "127.0.0.2";
/// Load balancer hostnames are `<name>.<namespace>.` followed by this.
pub const LB_DOMAIN: &str = "lb.kroxide.test";
/// The `hostIP` of every Pod.
pub const HOST_IP: &str = "127.0.0.1";

/// Requests in flight at once, over all objects.
const MAX_IN_FLIGHT: usize = 64;
/// Attempts for one write before giving up (until the object changes again).
const MAX_ATTEMPTS: u32 = 8;
/// The longest interval between two simulated crashes.
const MAX_CRASH_BACKOFF: Duration = Duration::from_secs(300);

/// How the simulator behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletConfig {
    /// How long after the simulator first saw an object it acts on it.
    pub ready_after: Duration,
    /// The namespaces to watch (one watch each); `None` watches all.
    pub namespaces: Option<Vec<String>>,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            ready_after: Duration::from_millis(100),
            namespaces: None,
        }
    }
}

/// What the simulator has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeletStats {
    /// Pods made Running and Ready.
    pub pods_ready: u64,
    /// Pods made Running with containers that are never ready ([`NEVER_READY`]).
    pub pods_never_ready: u64,
    /// Pods (of Jobs) made Succeeded.
    pub pods_succeeded: u64,
    /// Pods made Failed ([`FAIL`], `restartPolicy: Never`).
    pub pods_failed: u64,
    /// Simulated container crashes ([`FAIL`], restarted in place).
    pub crashes: u64,
    /// Services and Ingresses given an address.
    pub load_balancers: u64,
    /// PersistentVolumes created for claims.
    pub volumes: u64,
    /// Writes that met a conflict (409) and were retried on a fresh read.
    pub conflicts: u64,
    /// Objects that were gone (404) when the simulator came to write them.
    pub gone: u64,
    /// Other failed requests.
    pub errors: u64,
    /// Errors reported by the watches (they back off and resume).
    pub watch_errors: u64,
    /// The last error of either kind, for diagnosis.
    pub last_error: Option<String>,
}

/// A running kubelet simulator; see the [module documentation](self).
/// Stops when dropped.
pub struct Kubelet {
    shared: Arc<Shared>,
    watches: Vec<JoinHandle<()>>,
}

impl Kubelet {
    /// Starts the simulator's watches on the current tokio runtime (panics
    /// outside one). Objects that already exist are handled as if created now.
    pub fn start(client: Client, config: KubeletConfig) -> Kubelet {
        let shared = Arc::new(Shared {
            client: client.clone(),
            ready_after: config.ready_after,
            permits: Semaphore::new(MAX_IN_FLIGHT),
            tasks: Mutex::new(HashMap::new()),
            parked: Mutex::new(HashMap::new()),
            next_ip: AtomicU32::new(0),
            stopped: AtomicBool::new(false),
            counters: Counters::default(),
            last_error: Mutex::new(None),
        });
        let scopes: Vec<Option<String>> = match config.namespaces {
            None => vec![None],
            Some(list) => {
                let mut seen = HashSet::new();
                list.into_iter()
                    .filter(|n| seen.insert(n.clone()))
                    .map(Some)
                    .collect()
            }
        };
        let mut watches = Vec::new();
        for ns in scopes {
            watches.push(tokio::spawn(watch(
                shared.clone(),
                api::<Pod>(&client, ns.as_deref()),
                on_pod,
            )));
            watches.push(tokio::spawn(watch(
                shared.clone(),
                api::<PersistentVolumeClaim>(&client, ns.as_deref()),
                on_claim,
            )));
            watches.push(tokio::spawn(watch(
                shared.clone(),
                api::<Service>(&client, ns.as_deref()),
                on_service,
            )));
            watches.push(tokio::spawn(watch(
                shared.clone(),
                api::<Ingress>(&client, ns.as_deref()),
                on_ingress,
            )));
        }
        Kubelet { shared, watches }
    }

    /// What the simulator has done so far.
    pub fn stats(&self) -> KubeletStats {
        let c = &self.shared.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        KubeletStats {
            pods_ready: n(&c.pods_ready),
            pods_never_ready: n(&c.pods_never_ready),
            pods_succeeded: n(&c.pods_succeeded),
            pods_failed: n(&c.pods_failed),
            crashes: n(&c.crashes),
            load_balancers: n(&c.load_balancers),
            volumes: n(&c.volumes),
            conflicts: n(&c.conflicts),
            gone: n(&c.gone),
            errors: n(&c.errors),
            watch_errors: n(&c.watch_errors),
            last_error: lock(&self.shared.last_error).clone(),
        }
    }

    /// Stops every watch and every pending write.
    pub fn stop(self) {
        // Drop does the work.
    }

    fn halt(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        for w in self.watches.drain(..) {
            w.abort();
        }
        for (_, task) in lock(&self.shared.tasks).drain() {
            task.abort();
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.halt();
    }
}

#[derive(Default)]
struct Counters {
    pods_ready: AtomicU64,
    pods_never_ready: AtomicU64,
    pods_succeeded: AtomicU64,
    pods_failed: AtomicU64,
    crashes: AtomicU64,
    load_balancers: AtomicU64,
    volumes: AtomicU64,
    conflicts: AtomicU64,
    gone: AtomicU64,
    errors: AtomicU64,
    watch_errors: AtomicU64,
}

/// Which object a task works on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Pod(String),
    Claim(String),
    Lb(&'static str, String),
}

struct Shared {
    client: Client,
    ready_after: Duration,
    permits: Semaphore,
    /// One task per object at most: its key (kind and uid) to the task.
    tasks: Mutex<HashMap<Key, AbortHandle>>,
    /// Wakes the Pods waiting for a claim to be bound: (namespace, claim).
    parked: Mutex<HashMap<(String, String), Arc<Notify>>>,
    next_ip: AtomicU32,
    stopped: AtomicBool,
    counters: Counters,
    last_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

impl Shared {
    fn count(&self, c: impl Fn(&Counters) -> &AtomicU64) {
        c(&self.counters).fetch_add(1, Ordering::Relaxed);
    }

    fn error(&self, what: String) {
        self.count(|c| &c.errors);
        *lock(&self.last_error) = Some(what);
    }

    /// Runs `work` as the only task for `key`, unless one is running.
    fn spawn<F>(self: &Arc<Self>, key: Key, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut tasks = lock(&self.tasks);
        if self.stopped.load(Ordering::SeqCst) || tasks.contains_key(&key) {
            return;
        }
        let me = self.clone();
        let k = key.clone();
        // The task cannot remove its entry before it is inserted: the lock
        // is held until then.
        let task = tokio::spawn(async move {
            work.await;
            lock(&me.tasks).remove(&k);
        });
        tasks.insert(key, task.abort_handle());
    }

    fn forget(&self, key: &Key) {
        if let Some(task) = lock(&self.tasks).remove(key) {
            task.abort();
        }
    }

    fn pod_ip(&self) -> String {
        fake_pod_ip(self.next_ip.fetch_add(1, Ordering::Relaxed))
    }
}

/// Watches `api` for as long as the simulator runs, handing every object
/// seen to `on` (and deletions to `on` too, with `deleted` true).
async fn watch<K>(shared: Arc<Shared>, api: Api<K>, on: fn(&Arc<Shared>, K, bool))
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut events = Box::pin(watcher::watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(o) | Event::InitApply(o)) => on(&shared, o, false),
            Ok(Event::Delete(o)) => on(&shared, o, true),
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => {
                shared.count(|c| &c.watch_errors);
                *lock(&shared.last_error) = Some(format!(
                    "watch {}: {e}",
                    std::any::type_name::<K>()
                        .rsplit("::")
                        .next()
                        .unwrap_or("?")
                ));
            }
        }
    }
}

/// How a write went.
enum Outcome {
    Done,
    /// 404: the object is gone.
    Gone,
    /// 409: the object changed since it was read.
    Conflict,
    /// Rejected (400, 403, 422, ...): retrying cannot help.
    Rejected,
    /// Anything else (5xx, 429, connection errors): worth retrying.
    Failed,
}

fn outcome<T>(shared: &Shared, what: &str, r: kube::Result<T>) -> Outcome {
    match r {
        Ok(_) => Outcome::Done,
        Err(kube::Error::Api(s)) if s.is_not_found() => {
            shared.count(|c| &c.gone);
            Outcome::Gone
        }
        Err(kube::Error::Api(s)) if s.is_conflict() => {
            shared.count(|c| &c.conflicts);
            Outcome::Conflict
        }
        Err(e) => {
            let permanent = permanent(&e);
            shared.error(format!("{what}: {e}"));
            if permanent {
                Outcome::Rejected
            } else {
                Outcome::Failed
            }
        }
    }
}

/// Pause before attempt `n` (from 1) after a failure.
fn retry_pause(n: u32) -> Duration {
    Duration::from_millis(50u64 << n.min(6))
}

/// Reads `name` through `api`; `None` when it is gone or cannot be read.
async fn read<K>(shared: &Shared, api: &Api<K>, name: &str) -> Option<K>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let found = fetch(shared, api, name).await.ok()?;
    if found.is_none() {
        shared.count(|c| &c.gone);
    }
    found
}

/// Reads `name` through `api`, with a permit, retrying transient failures;
/// `Err` when it cannot be read (the error is recorded).
async fn fetch<K>(shared: &Shared, api: &Api<K>, name: &str) -> Result<Option<K>, ()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for attempt in 1..=MAX_ATTEMPTS {
        let r = {
            let _permit = shared.permits.acquire().await.map_err(|_| ())?;
            api.get_opt(name).await
        };
        match r {
            Ok(found) => return Ok(found),
            Err(e) => {
                let permanent = permanent(&e);
                shared.error(format!("get {name}: {e}"));
                if permanent {
                    return Err(());
                }
                tokio::time::sleep(retry_pause(attempt)).await;
            }
        }
    }
    Err(())
}

/// Whether retrying the request cannot help (a 4xx other than 409 and 429).
fn permanent(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if (400..500).contains(&s.code) && s.code != 409 && s.code != 429)
}

/// Writes `status` (and the `resourceVersion` it was computed from) through
/// the status subresource.
async fn patch_status<K>(shared: &Shared, api: &Api<K>, obj: &K, status: Value) -> Outcome
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let body = json!({
        "metadata": {"resourceVersion": obj.meta().resource_version},
        "status": status,
    });
    let Ok(_permit) = shared.permits.acquire().await else {
        return Outcome::Failed;
    };
    let r = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
        .await;
    outcome(shared, &format!("patch status of {name}"), r)
}

/// Reads the object, asks `decide` what its status should be, and writes
/// that, retrying on conflicts. Returns what `decide` last said, or `None`
/// when the object is gone, replaced, or the writes failed.
async fn converge<K, D, T>(
    shared: &Shared,
    api: &Api<K>,
    name: &str,
    uid: &str,
    decide: D,
) -> Option<T>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    D: Fn(&K) -> Option<(Value, T)>,
{
    for attempt in 1..=MAX_ATTEMPTS {
        let obj = read(shared, api, name).await?;
        if obj.meta().uid.as_deref() != Some(uid) {
            return None;
        }
        let (status, tag) = decide(&obj)?;
        match patch_status(shared, api, &obj, status).await {
            Outcome::Done => return Some(tag),
            Outcome::Gone | Outcome::Rejected => return None,
            Outcome::Conflict => {}
            Outcome::Failed => tokio::time::sleep(retry_pause(attempt)).await,
        }
    }
    None
}

/// The `n`th Pod IP: 10.244.0.1, ..., 10.244.0.254, 10.244.1.1, ...
fn fake_pod_ip(n: u32) -> String {
    format!("10.244.{}.{}", (n / 254) % 256, 1 + n % 254)
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    k8s_openapi::jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

fn hex(parts: &[&str], len: usize) -> String {
    let mut out = String::new();
    let mut round = 0u64;
    while out.len() < len {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        round.hash(&mut h);
        parts.hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
        round += 1;
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------- Pods

/// What a Pod should become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Ready,
    NeverReady,
    Succeeded,
    Failed,
    CrashLoop,
}

fn is_job_pod(pod: &Pod) -> bool {
    pod.owner_references()
        .iter()
        .any(|o| o.kind == "Job" && o.api_version.starts_with("batch/"))
        || pod.labels().contains_key("batch.kubernetes.io/job-name")
}

fn condition_true(pod: &Pod, kind: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
}

/// What the Pod should become, or `None` when there is nothing to do.
fn fate(pod: &Pod) -> Option<Fate> {
    if pod.meta().deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.as_deref().unwrap_or("Pending");
    if phase == "Succeeded" || phase == "Failed" {
        return None;
    }
    let spec = pod.spec.as_ref()?;
    let restart = spec.restart_policy.as_deref().unwrap_or("Always");
    let fate = match pod.annotations().get(ANNOTATION).map(String::as_str) {
        Some(FAIL) if restart == "Never" => Fate::Failed,
        Some(FAIL) => Fate::CrashLoop,
        Some(NEVER_READY) => Fate::NeverReady,
        _ if is_job_pod(pod) => Fate::Succeeded,
        _ => Fate::Ready,
    };
    let running = phase == "Running";
    let has_statuses = status
        .container_statuses
        .as_ref()
        .is_some_and(|s| s.len() == spec.containers.len());
    let done = match fate {
        Fate::Ready => running && condition_true(pod, "Ready"),
        Fate::NeverReady => running && has_statuses && !condition_true(pod, "Ready"),
        // Crash loops go on for as long as the Pod lives (one task per Pod).
        Fate::CrashLoop | Fate::Succeeded | Fate::Failed => false,
    };
    (!done).then_some(fate)
}

/// The claims a Pod mounts.
fn claims(pod: &Pod) -> Vec<String> {
    let name = pod.name_any();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                v.ephemeral.as_ref().map(|_| format!("{name}-{}", v.name))
            }
        })
        .collect()
}

fn on_pod(shared: &Arc<Shared>, pod: Pod, deleted: bool) {
    let Some(uid) = pod.uid() else { return };
    let key = Key::Pod(uid.clone());
    if deleted {
        shared.forget(&key);
        return;
    }
    if fate(&pod).is_none() {
        return;
    }
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let deadline = Instant::now() + shared.ready_after;
    let me = shared.clone();
    shared.spawn(key, async move {
        tokio::time::sleep_until(deadline).await;
        run_pod(&me, &ns, &name, &uid).await;
    });
}

/// Waits until every claim the Pod mounts is bound (woken by the claim
/// watch; a missed wake-up costs 30 seconds at most).
async fn wait_for_claims(shared: &Shared, pod: &Pod) {
    let ns = pod.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(shared.client.clone(), &ns);
    for claim in claims(pod) {
        loop {
            let notify = lock(&shared.parked)
                .entry((ns.clone(), claim.clone()))
                .or_default()
                .clone();
            let mut woken = std::pin::pin!(notify.notified());
            // Registered before reading, so a binding seen meanwhile wakes it.
            woken.as_mut().enable();
            let bound = {
                let Ok(_permit) = shared.permits.acquire().await else {
                    return;
                };
                matches!(api.get_opt(&claim).await, Ok(Some(c))
                    if c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
            };
            if bound {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_secs(30), woken).await;
        }
    }
}

async fn run_pod(shared: &Arc<Shared>, ns: &str, name: &str, uid: &str) {
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), ns);
    let Some(pod) = read(shared, &api, name).await else {
        return;
    };
    if pod.uid().as_deref() != Some(uid) || fate(&pod).is_none() {
        return;
    }
    wait_for_claims(shared, &pod).await;
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_else(|| shared.pod_ip());
    let mut restarts = 0;
    let mut pause = shared.ready_after.max(Duration::from_millis(100));
    loop {
        restarts += 1;
        let done = converge(shared, &api, name, uid, |pod: &Pod| {
            let fate = fate(pod)?;
            let restarts = if fate == Fate::CrashLoop {
                restarts.max(1 + max_restarts(pod))
            } else {
                0
            };
            Some((pod_status(pod, fate, &ip, restarts), (fate, restarts)))
        })
        .await;
        let Some((fate, n)) = done else { return };
        shared.count(|c| match fate {
            Fate::Ready => &c.pods_ready,
            Fate::NeverReady => &c.pods_never_ready,
            Fate::Succeeded => &c.pods_succeeded,
            Fate::Failed => &c.pods_failed,
            Fate::CrashLoop => &c.crashes,
        });
        if fate != Fate::CrashLoop {
            return;
        }
        restarts = n;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_CRASH_BACKOFF);
    }
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

/// The status a kubelet would write for `pod` meeting `fate`.
fn pod_status(pod: &Pod, fate: Fate, ip: &str, restarts: i32) -> Value {
    let now = now();
    let status = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let name = pod.name_any();
    let uid = pod.uid().unwrap_or_default();
    let started = status
        .start_time
        .as_ref()
        .map_or(now.clone(), |t| t.0.to_string());
    let old: Vec<_> = status.conditions.clone().unwrap_or_default();
    let (phase, ready, reason) = match fate {
        Fate::Ready => ("Running", true, None),
        Fate::NeverReady | Fate::CrashLoop => ("Running", false, Some("ContainersNotReady")),
        Fate::Succeeded => ("Succeeded", false, Some("PodCompleted")),
        Fate::Failed => ("Failed", false, Some("PodFailed")),
    };
    let terminal = matches!(fate, Fate::Succeeded | Fate::Failed);
    let unready: Vec<&str> = if ready {
        vec![]
    } else {
        spec.containers.iter().map(|c| c.name.as_str()).collect()
    };
    let condition = |kind: &str, ok: bool, reason: Option<&str>| {
        let ok_s = if ok { "True" } else { "False" };
        let since = old
            .iter()
            .find(|c| c.type_ == kind && c.status == ok_s)
            .and_then(|c| c.last_transition_time.as_ref())
            .map_or(now.clone(), |t| t.0.to_string());
        let mut c = json!({"type": kind, "status": ok_s, "lastTransitionTime": since, "lastProbeTime": null});
        if let Some(r) = reason {
            c["reason"] = json!(r);
            if r == "ContainersNotReady" {
                c["message"] = json!(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                ));
            }
        }
        if let Some(g) = pod.meta().generation {
            c["observedGeneration"] = json!(g);
        }
        c
    };
    let ours = [
        "PodReadyToStartContainers",
        "PodScheduled",
        "Initialized",
        "ContainersReady",
        "Ready",
    ];
    let mut conditions: Vec<Value> = old
        .iter()
        .filter(|c| !ours.contains(&c.type_.as_str()))
        .filter_map(|c| serde_json::to_value(c).ok())
        .collect();
    conditions.extend([
        condition("PodReadyToStartContainers", !terminal, None),
        condition("Initialized", true, None),
        condition("Ready", ready, reason),
        condition("ContainersReady", ready, reason),
        condition("PodScheduled", true, None),
    ]);
    let container_id = |c: &str| format!("containerd://{}", hex(&[&uid, c], 64));
    let image_id = |image: &str| {
        if image.contains("@sha256:") {
            return image.to_string();
        }
        let slash = image.rfind('/').map_or(0, |i| i + 1);
        let repo = match image[slash..].find(':') {
            Some(i) => &image[..slash + i],
            None => image,
        };
        format!("{repo}@sha256:{}", hex(&[image], 64))
    };
    let containers: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            let mut s = json!({
                "name": c.name,
                "image": image,
                "imageID": image_id(&image),
                "containerID": container_id(&c.name),
                "restartCount": restarts,
                "ready": ready,
                "started": !terminal && fate != Fate::CrashLoop,
            });
            s["state"] = match fate {
                Fate::Ready | Fate::NeverReady => json!({"running": {"startedAt": started}}),
                Fate::Succeeded => json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now, "containerID": container_id(&c.name)}}),
                Fate::Failed => json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": now, "containerID": container_id(&c.name)}}),
                Fate::CrashLoop => json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off restarting failed container={} pod={name}_{}({uid})", c.name, pod.namespace().unwrap_or_default())}}),
            };
            if fate == Fate::CrashLoop {
                s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now, "containerID": container_id(&c.name)}});
            }
            s
        })
        .collect();
    let init_containers: Vec<Value> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            let state = if sidecar && !terminal {
                json!({"running": {"startedAt": started}})
            } else {
                json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started, "containerID": container_id(&c.name)}})
            };
            json!({
                "name": c.name,
                "image": image,
                "imageID": image_id(&image),
                "containerID": container_id(&c.name),
                "restartCount": 0,
                "ready": !terminal,
                "started": sidecar && !terminal,
                "state": state,
            })
        })
        .collect();
    let mut out = json!({
        "phase": phase,
        "startTime": started,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": conditions,
        "containerStatuses": containers,
    });
    if !init_containers.is_empty() {
        out["initContainerStatuses"] = json!(init_containers);
    }
    if let Some(g) = pod.meta().generation {
        out["observedGeneration"] = json!(g);
    }
    out
}

// ------------------------------------------------- Services and Ingresses

fn lb_status(name: &str, ns: &str) -> Value {
    json!({"loadBalancer": {"ingress": [{
        "ip": LOAD_BALANCER_IP,
        "hostname": format!("{name}.{ns}.{LB_DOMAIN}"),
    }]}})
}

fn wants_lb_service(s: &Service) -> bool {
    s.meta().deletion_timestamp.is_none()
        && s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
        && s.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_none_or(Vec::is_empty)
}

fn wants_lb_ingress(i: &Ingress) -> bool {
    i.meta().deletion_timestamp.is_none()
        && i.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_none_or(Vec::is_empty)
}

fn on_service(shared: &Arc<Shared>, svc: Service, deleted: bool) {
    on_lb(shared, svc, deleted, "Service", wants_lb_service);
}

fn on_ingress(shared: &Arc<Shared>, ing: Ingress, deleted: bool) {
    on_lb(shared, ing, deleted, "Ingress", wants_lb_ingress);
}

fn on_lb<K>(shared: &Arc<Shared>, obj: K, deleted: bool, kind: &'static str, wants: fn(&K) -> bool)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    <K as Resource>::DynamicType: Default,
{
    let Some(uid) = obj.meta().uid.clone() else {
        return;
    };
    let key = Key::Lb(kind, uid.clone());
    if deleted {
        shared.forget(&key);
        return;
    }
    if !wants(&obj) {
        return;
    }
    let ns = obj.meta().namespace.clone().unwrap_or_default();
    let name = obj.meta().name.clone().unwrap_or_default();
    let deadline = Instant::now() + shared.ready_after;
    let me = shared.clone();
    shared.spawn(key, async move {
        tokio::time::sleep_until(deadline).await;
        let api: Api<K> = Api::namespaced(me.client.clone(), &ns);
        let done = converge(&me, &api, &name, &uid, |o: &K| {
            wants(o).then(|| (lb_status(&name, &ns), ()))
        })
        .await;
        if done.is_some() {
            me.count(|c| &c.load_balancers);
        }
    });
}

// ------------------------------------------------- PersistentVolumeClaims

fn wants_volume(c: &PersistentVolumeClaim) -> bool {
    c.meta().deletion_timestamp.is_none()
        && c.spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_none_or(str::is_empty)
        && c.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_none_or(|p| p == "Pending")
}

fn on_claim(shared: &Arc<Shared>, claim: PersistentVolumeClaim, deleted: bool) {
    let Some(uid) = claim.uid() else { return };
    let key = Key::Claim(uid.clone());
    let ns = claim.namespace().unwrap_or_default();
    let name = claim.name_any();
    if deleted {
        shared.forget(&key);
        lock(&shared.parked).remove(&(ns, name));
        return;
    }
    if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound") {
        if let Some(waiting) = lock(&shared.parked).get(&(ns, name)) {
            waiting.notify_waiters();
        }
        return;
    }
    if !wants_volume(&claim) {
        return;
    }
    let deadline = Instant::now() + shared.ready_after;
    let me = shared.clone();
    shared.spawn(key, async move {
        tokio::time::sleep_until(deadline).await;
        provision(&me, &ns, &name, &uid).await;
    });
}

/// Creates a PersistentVolume pre-bound to the claim, unless its class
/// waits for a consumer.
async fn provision(shared: &Shared, ns: &str, name: &str, uid: &str) {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(shared.client.clone(), ns);
    let Some(claim) = read(shared, &claims, name).await else {
        return;
    };
    if claim.uid().as_deref() != Some(uid) || !wants_volume(&claim) {
        return;
    }
    let spec = claim.spec.clone().unwrap_or_default();
    let class = spec.storage_class_name.clone().unwrap_or_default();
    if !class.is_empty() {
        let classes: Api<StorageClass> = Api::all(shared.client.clone());
        match fetch(shared, &classes, &class).await {
            Ok(Some(sc)) if sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") => {
                return
            }
            // No such class: bound all the same, to a volume of that class.
            Ok(_) => {}
            Err(()) => return,
        }
    }
    let capacity = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map_or_else(|| "1Gi".to_string(), |q| q.0.clone());
    let modes = spec
        .access_modes
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| vec!["ReadWriteOnce".into()]);
    let mut labels = spec
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .unwrap_or_default();
    labels.insert(PV_LABEL.into(), "true".into());
    let pv: k8s_openapi::api::core::v1::PersistentVolume = match serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": format!("pvc-{uid}"), "labels": labels},
        "spec": {
            "capacity": {"storage": capacity},
            "accessModes": modes,
            "volumeMode": spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into()),
            "storageClassName": class,
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": format!("/tmp/kroxide-pv/{ns}-{name}")},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": ns,
                "name": name,
                "uid": uid,
            },
        },
    })) {
        Ok(pv) => pv,
        Err(e) => {
            shared.error(format!("volume for {ns}/{name}: {e}"));
            return;
        }
    };
    let volumes: Api<k8s_openapi::api::core::v1::PersistentVolume> =
        Api::all(shared.client.clone());
    for attempt in 1..=MAX_ATTEMPTS {
        let r = {
            let Ok(_permit) = shared.permits.acquire().await else {
                return;
            };
            volumes.create(&PostParams::default(), &pv).await
        };
        match r {
            Ok(_) => {
                shared.count(|c| &c.volumes);
                return;
            }
            // Created before (by an earlier attempt, or another simulator).
            Err(kube::Error::Api(s)) if s.is_already_exists() => return,
            Err(e) => {
                let permanent = permanent(&e);
                shared.error(format!("create volume for {ns}/{name}: {e}"));
                if permanent {
                    return;
                }
                tokio::time::sleep(retry_pause(attempt)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn fates_follow_owner_annotation_and_restart_policy() {
        let base = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
        assert_eq!(fate(&pod(base.clone())), Some(Fate::Ready));
        let mut job = base.clone();
        job["metadata"]["labels"] = json!({"batch.kubernetes.io/job-name": "j"});
        assert_eq!(fate(&pod(job.clone())), Some(Fate::Succeeded));
        let mut fail = job.clone();
        fail["metadata"]["annotations"] = json!({ANNOTATION: FAIL});
        fail["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(fate(&pod(fail.clone())), Some(Fate::Failed));
        fail["spec"]["restartPolicy"] = json!("OnFailure");
        assert_eq!(fate(&pod(fail)), Some(Fate::CrashLoop));
        let mut never = base.clone();
        never["metadata"]["annotations"] = json!({ANNOTATION: NEVER_READY});
        assert_eq!(fate(&pod(never)), Some(Fate::NeverReady));
        let mut gone = base.clone();
        gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(fate(&pod(gone)), None);
        let mut done = job;
        done["status"] = json!({"phase": "Succeeded"});
        assert_eq!(fate(&pod(done)), None);
    }

    #[test]
    fn a_ready_status_is_done_and_keeps_transition_times() {
        let p = pod(
            json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{"name": "c", "image": "docker.io/library/nginx:1.27"}]}}),
        );
        let status = pod_status(&p, Fate::Ready, "10.244.0.1", 0);
        assert_eq!(
            status["containerStatuses"][0]["imageID"]
                .as_str()
                .unwrap()
                .split('@')
                .next(),
            Some("docker.io/library/nginx")
        );
        let mut ready = serde_json::to_value(&p).unwrap();
        ready["status"] = status.clone();
        let ready = pod(ready);
        assert_eq!(fate(&ready), None);
        let again = pod_status(&ready, Fate::Ready, "10.244.0.1", 0);
        assert_eq!(again["conditions"], status["conditions"]);
    }

    #[test]
    fn pod_ips_are_distinct_and_valid() {
        let ips: HashSet<String> = (0..1000).map(fake_pod_ip).collect();
        assert_eq!(ips.len(), 1000);
        assert!(ips
            .iter()
            .all(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()));
    }
}
