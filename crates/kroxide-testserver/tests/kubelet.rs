//! The kubelet simulator against a real control plane: the real controllers
//! (deployment, replica set, stateful set, job, persistent volume) compute
//! every status asserted here from the Pods, addresses and volumes the
//! simulator provides.
//!
//! `KROXIDE_E2E_KUBECONFIG=/path/kubeconfig cargo test -p kroxide-testserver
//! --test kubelet -- --ignored`

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Event, Namespace, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use kroxide_testserver::kubelet::{self, Kubelet, KubeletConfig};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::{await_condition, conditions, Condition};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use serde_json::{json, Value};
use std::fmt::Debug;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

fn kubeconfig_path() -> String {
    std::env::var("KROXIDE_E2E_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "KROXIDE_E2E_KUBECONFIG is not set: these tests need a real cluster \
             (scripts/e2e.sh starts one; or run ../shared/kit/up DIR and set \
             KROXIDE_E2E_KUBECONFIG=DIR/kubeconfig)"
        )
    })
}

async fn client() -> Client {
    let path = kubeconfig_path();
    let kc = kube::config::Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read KROXIDE_E2E_KUBECONFIG={path}: {e}"));
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("bad kubeconfig {path}: {e}"));
    Client::try_from(config).expect("client")
}

/// A fresh namespace (and cluster-scoped objects) for one test; deleted when
/// dropped, even when the test fails.
struct TestNs {
    client: Client,
    name: String,
    storage_classes: Vec<String>,
}

impl TestNs {
    async fn new(test: &str) -> TestNs {
        let client = client().await;
        let name = format!("kubelet-{test}-{}", std::process::id());
        let ns: Namespace = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": {"kroxide.dev/test": "kubelet"}}}),
        )
        .unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
        TestNs {
            client,
            name,
            storage_classes: Vec::new(),
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// The simulator, for this namespace only.
    fn kubelet(&self) -> Kubelet {
        Kubelet::start(
            self.client.clone(),
            KubeletConfig {
                ready_after: Duration::from_millis(100),
                namespaces: Some(vec![self.name.clone()]),
            },
        )
    }

    async fn create<K>(&self, obj: Value) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + Debug
            + serde::Serialize
            + serde::de::DeserializeOwned,
        <K as Resource>::DynamicType: Default,
    {
        let obj: K = serde_json::from_value(obj).expect("a valid object");
        self.api::<K>()
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", obj.name_any()))
    }

    /// A StorageClass with a unique name, deleted with the namespace.
    async fn storage_class(&mut self, prefix: &str, binding: &str) -> String {
        let name = format!("{prefix}-{}", self.name);
        let sc: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": name},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": binding,
            "reclaimPolicy": "Delete",
        }))
        .unwrap();
        self.storage_classes.push(name.clone());
        Api::<StorageClass>::all(self.client.clone())
            .create(&PostParams::default(), &sc)
            .await
            .unwrap_or_else(|e| panic!("create storageclass {name}: {e}"));
        name
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let name = self.name.clone();
        let classes = std::mem::take(&mut self.storage_classes);
        // A fresh runtime and client: this runtime may be shutting down.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let client = client().await;
                let _ = Api::<Namespace>::all(client.clone())
                    .delete(&name, &DeleteParams::background())
                    .await;
                for sc in classes {
                    let _ = Api::<StorageClass>::all(client.clone())
                        .delete(&sc, &DeleteParams::default())
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Waits (60 s at most) until `cond` holds for the object `name`.
async fn wait<K>(api: &Api<K>, name: &str, what: &str, cond: impl Condition<K>) -> K
where
    K: Resource + Clone + Debug + Send + serde::de::DeserializeOwned + serde::Serialize + 'static,
{
    match tokio::time::timeout(TIMEOUT, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(Some(obj))) => obj,
        Ok(Ok(None)) => panic!("{name} is gone while waiting for {what}"),
        Ok(Err(e)) => panic!("watching {name} for {what}: {e}"),
        Err(_) => {
            let now = api.get_opt(name).await.ok().flatten();
            let status = now
                .map(|o| serde_json::to_value(&o).unwrap()["status"].clone())
                .unwrap_or(Value::Null);
            panic!("timed out after {TIMEOUT:?} waiting for {what}; {name} has status {status:#}")
        }
    }
}

/// Waits (60 s at most) for an Event with `reason` about the object `name`.
async fn wait_event(ns: &TestNs, name: &str, reason: &str) -> Event {
    let api: Api<Event> = ns.api();
    let config = watcher::Config::default().fields(&format!("involvedObject.name={name}"));
    let mut events = Box::pin(watcher(api, config).default_backoff().applied_objects());
    let found = tokio::time::timeout(TIMEOUT, async {
        while let Some(e) = events.next().await {
            if let Ok(e) = e {
                if e.reason.as_deref() == Some(reason) {
                    return Some(e);
                }
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(e)) => e,
        _ => panic!("no event {reason} about {name} within {TIMEOUT:?}"),
    }
}

fn condition<'a>(conds: Option<&'a Vec<Value>>, kind: &str) -> Option<&'a Value> {
    conds?.iter().find(|c| c["type"] == kind)
}

/// The status conditions of any object, as JSON.
fn conditions_of<K: serde::Serialize>(obj: &K) -> Vec<Value> {
    serde_json::to_value(obj).unwrap()["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn has_condition<K: serde::Serialize>(
    obj: &K,
    kind: &str,
    status: &str,
    reason: Option<&str>,
) -> bool {
    let conds = conditions_of(obj);
    condition(Some(&conds), kind)
        .is_some_and(|c| c["status"] == status && reason.is_none_or(|r| c["reason"] == r))
}

fn deployment(name: &str, replicas: i32, annotations: Value, extra_spec: Value) -> Value {
    let mut d = json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    });
    if let (Some(spec), Some(extra)) = (d["spec"].as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    d
}

fn job(name: &str, restart: &str, annotations: Value) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {
                    "restartPolicy": restart,
                    "containers": [{"name": "work", "image": "busybox:1.36", "command": ["true"]}],
                },
            },
        },
    })
}

async fn pods(ns: &TestNs, selector: &str) -> Vec<Pod> {
    ns.api::<Pod>()
        .list(&ListParams::default().labels(selector))
        .await
        .expect("list pods")
        .items
}

fn pod_condition(pod: &Pod, kind: &str) -> Option<(String, Option<String>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_deployment_becomes_available() {
    let ns = TestNs::new("deploy").await;
    let deploys: Api<Deployment> = ns.api();
    ns.create::<Deployment>(deployment("web", 2, json!({}), json!({})))
        .await;
    // Without the kubelet the controllers create both Pods, and that is all.
    let before = wait(
        &deploys,
        "web",
        "the controllers to create 2 pods",
        |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref()).and_then(|s| s.replicas) == Some(2)
        },
    )
    .await;
    let s = before.status.clone().unwrap();
    assert_eq!(s.ready_replicas.unwrap_or(0), 0, "{s:?}");
    assert!(!has_condition(&before, "Available", "True", None), "{s:?}");
    assert!(pods(&ns, "app=web")
        .await
        .iter()
        .all(|p| { p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending") }));

    let kubelet = ns.kubelet();
    let d = wait(
        &deploys,
        "web",
        "2 ready replicas and Available",
        |d: Option<&Deployment>| {
            d.is_some_and(|d| {
                d.status.as_ref().and_then(|s| s.ready_replicas) == Some(2)
                    && d.status.as_ref().and_then(|s| s.available_replicas) == Some(2)
                    && has_condition(d, "Available", "True", None)
            })
        },
    )
    .await;
    assert!(
        has_condition(&d, "Progressing", "True", Some("NewReplicaSetAvailable")),
        "{:?}",
        d.status
    );
    let pods = pods(&ns, "app=web").await;
    assert_eq!(pods.len(), 2);
    for p in &pods {
        let s = p.status.as_ref().unwrap();
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert!(
            s.pod_ip
                .as_deref()
                .is_some_and(|ip| ip.starts_with("10.244.")),
            "{s:?}"
        );
        assert_eq!(s.host_ip.as_deref(), Some(kubelet::HOST_IP));
        assert!(s.start_time.is_some());
        for kind in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
            assert_eq!(
                pod_condition(p, kind).map(|c| c.0).as_deref(),
                Some("True"),
                "{kind}"
            );
        }
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert!(
            cs.ready && cs.started == Some(true) && cs.restart_count == 0,
            "{cs:?}"
        );
        assert!(cs.state.as_ref().and_then(|s| s.running.as_ref()).is_some());
        assert!(cs
            .container_id
            .as_deref()
            .unwrap()
            .starts_with("containerd://"));
        assert_eq!(cs.image, "nginx:1.27");
    }
    let stats = kubelet.stats();
    assert_eq!(stats.pods_ready, 2, "{stats:?}");
    assert_eq!(stats.errors, 0, "{stats:?}");
    kubelet.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_stateful_set_becomes_ready_pod_by_pod() {
    let ns = TestNs::new("sts").await;
    let sets: Api<StatefulSet> = ns.api();
    ns.create::<StatefulSet>(json!({
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:17"}]},
            },
        },
    }))
    .await;
    // OrderedReady: the controller creates db-0 and waits for it to be ready.
    wait(
        &sets,
        "db",
        "the controller to create db-0",
        |s: Option<&StatefulSet>| s.and_then(|s| s.status.as_ref()).map(|s| s.replicas) == Some(1),
    )
    .await;
    let names: Vec<String> = pods(&ns, "app=db")
        .await
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert_eq!(names, ["db-0"]);

    let kubelet = ns.kubelet();
    let s = wait(
        &sets,
        "db",
        "2 ready replicas",
        |s: Option<&StatefulSet>| {
            s.and_then(|s| s.status.as_ref())
                .is_some_and(|s| s.ready_replicas == Some(2) && s.available_replicas == Some(2))
        },
    )
    .await;
    assert_eq!(s.status.unwrap().replicas, 2);
    assert_eq!(kubelet.stats().pods_ready, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_job_completes() {
    let ns = TestNs::new("job").await;
    let jobs: Api<Job> = ns.api();
    ns.create::<Job>(job("once", "Never", json!({}))).await;
    let before = wait(
        &jobs,
        "once",
        "the job controller to start a pod",
        |j: Option<&Job>| j.and_then(|j| j.status.as_ref()).and_then(|s| s.active) == Some(1),
    )
    .await;
    assert!(
        !has_condition(&before, "Complete", "True", None),
        "{:?}",
        before.status
    );

    let kubelet = ns.kubelet();
    let j = wait(&jobs, "once", "condition Complete", |j: Option<&Job>| {
        j.is_some_and(|j| has_condition(j, "Complete", "True", None))
    })
    .await;
    let s = j.status.unwrap();
    assert_eq!(s.succeeded, Some(1));
    assert_eq!(s.failed.unwrap_or(0), 0);
    assert!(s.completion_time.is_some());
    let pods = pods(&ns, "batch.kubernetes.io/job-name=once").await;
    assert_eq!(pods.len(), 1);
    let p = &pods[0];
    assert_eq!(
        p.status.as_ref().unwrap().phase.as_deref(),
        Some("Succeeded")
    );
    assert_eq!(
        pod_condition(p, "Ready"),
        Some(("False".into(), Some("PodCompleted".into())))
    );
    let terminated = p
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.exit_code, 0);
    // The job controller accounted for the pod and dropped its finalizer.
    assert!(!p
        .finalizers()
        .iter()
        .any(|f| f == "batch.kubernetes.io/job-tracking"));
    assert_eq!(kubelet.stats().pods_succeeded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_job_whose_pods_fail_fails() {
    let ns = TestNs::new("jobfail").await;
    let jobs: Api<Job> = ns.api();
    let fail = json!({ kubelet::ANNOTATION: kubelet::FAIL });
    // restartPolicy Never: the pod fails. OnFailure: its container restarts
    // in place, and the job controller counts the restarts.
    ns.create::<Job>(job("never", "Never", fail.clone())).await;
    ns.create::<Job>(job("onfailure", "OnFailure", fail)).await;
    for name in ["never", "onfailure"] {
        let before = wait(
            &jobs,
            name,
            "the job controller to start a pod",
            |j: Option<&Job>| j.and_then(|j| j.status.as_ref()).and_then(|s| s.active) == Some(1),
        )
        .await;
        assert!(
            !has_condition(&before, "Failed", "True", None),
            "{:?}",
            before.status
        );
    }

    let kubelet = ns.kubelet();
    for name in ["never", "onfailure"] {
        let j = wait(&jobs, name, "condition Failed", |j: Option<&Job>| {
            j.is_some_and(|j| has_condition(j, "Failed", "True", None))
        })
        .await;
        assert!(
            has_condition(&j, "Failed", "True", Some("BackoffLimitExceeded")),
            "{name}: {:?}",
            j.status
        );
        assert!(!has_condition(&j, "Complete", "True", None));
        assert_eq!(j.status.as_ref().unwrap().succeeded.unwrap_or(0), 0);
    }
    let never = jobs.get("never").await.unwrap();
    assert_eq!(never.status.unwrap().failed, Some(1));
    let failed = pods(&ns, "batch.kubernetes.io/job-name=never").await;
    assert_eq!(failed.len(), 1);
    let s = failed[0].status.clone().unwrap();
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let t = s.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (1, Some("Error")));
    let stats = kubelet.stats();
    assert_eq!(stats.pods_failed, 1, "{stats:?}");
    assert!(stats.crashes >= 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_deployment_that_never_gets_ready_exceeds_its_progress_deadline() {
    let ns = TestNs::new("neverready").await;
    let deploys: Api<Deployment> = ns.api();
    // Watch the Deployment from the start: it must never report a ready Pod.
    let most_ready = Arc::new(AtomicI32::new(0));
    let seen = most_ready.clone();
    let observer = tokio::spawn(
        watcher(deploys.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .for_each(move |d| {
                if let Ok(d) = d {
                    let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
                    seen.fetch_max(ready, Ordering::SeqCst);
                }
                futures::future::ready(())
            }),
    );
    ns.create::<Deployment>(deployment(
        "stuck",
        1,
        json!({ kubelet::ANNOTATION: kubelet::NEVER_READY }),
        json!({"progressDeadlineSeconds": 2}),
    ))
    .await;
    wait(
        &deploys,
        "stuck",
        "the controllers to create a pod",
        |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref()).and_then(|s| s.replicas) == Some(1)
        },
    )
    .await;

    let kubelet = ns.kubelet();
    let d = wait(
        &deploys,
        "stuck",
        "Progressing False (ProgressDeadlineExceeded)",
        |d: Option<&Deployment>| {
            d.is_some_and(|d| {
                has_condition(d, "Progressing", "False", Some("ProgressDeadlineExceeded"))
            })
        },
    )
    .await;
    assert!(
        !has_condition(&d, "Available", "True", None),
        "{:?}",
        d.status
    );
    // The kubelet did run the Pod: it is Running, started, and not ready.
    let pods = pods(&ns, "app=stuck").await;
    assert_eq!(pods.len(), 1);
    let s = pods[0].status.clone().unwrap();
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(
        pod_condition(&pods[0], "Ready"),
        Some(("False".into(), Some("ContainersNotReady".into())))
    );
    let cs = &s.container_statuses.unwrap()[0];
    assert!(!cs.ready && cs.started == Some(true), "{cs:?}");
    assert!(cs.state.as_ref().unwrap().running.is_some());
    assert_eq!(kubelet.stats().pods_never_ready, 1);
    observer.abort();
    assert_eq!(most_ready.load(Ordering::SeqCst), 0);
    assert_eq!(
        deploys
            .get("stuck")
            .await
            .unwrap()
            .status
            .unwrap()
            .ready_replicas
            .unwrap_or(0),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn load_balancers_and_ingresses_get_an_address() {
    let ns = TestNs::new("lb").await;
    let services: Api<Service> = ns.api();
    let ingresses: Api<Ingress> = ns.api();
    let lb = ns
        .create::<Service>(json!({
            "metadata": {"name": "front"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
        }))
        .await;
    ns.create::<Service>(json!({
        "metadata": {"name": "inner"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))
    .await;
    let ing = ns
        .create::<Ingress>(json!({
            "metadata": {"name": "site"},
            "spec": {"defaultBackend": {"service": {"name": "inner", "port": {"number": 80}}}},
        }))
        .await;
    // Nothing on the cluster gives them an address.
    assert!(lb
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress)
        .is_none());
    assert!(ing
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress)
        .is_none());

    let kubelet = ns.kubelet();
    let front = wait(
        &services,
        "front",
        "a load balancer address",
        |s: Option<&Service>| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|l| l.ingress.as_ref())
                .is_some_and(|i| !i.is_empty())
        },
    )
    .await;
    let addr = &front
        .status
        .unwrap()
        .load_balancer
        .unwrap()
        .ingress
        .unwrap()[0];
    assert_eq!(addr.ip.as_deref(), Some(kubelet::LOAD_BALANCER_IP));
    assert_eq!(
        addr.hostname.as_deref(),
        Some(format!("front.{}.{}", ns.name, kubelet::LB_DOMAIN).as_str())
    );
    let site = wait(
        &ingresses,
        "site",
        "an ingress address",
        |i: Option<&Ingress>| {
            i.and_then(|i| i.status.as_ref())
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|l| l.ingress.as_ref())
                .is_some_and(|i| !i.is_empty())
        },
    )
    .await;
    let addr = &site.status.unwrap().load_balancer.unwrap().ingress.unwrap()[0];
    assert_eq!(
        addr.hostname.as_deref(),
        Some(format!("site.{}.{}", ns.name, kubelet::LB_DOMAIN).as_str())
    );
    // A ClusterIP Service gets none.
    let inner = services.get("inner").await.unwrap();
    assert!(inner
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress)
        .is_none_or(|i| i.is_empty()));
    assert_eq!(kubelet.stats().load_balancers, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn claims_are_bound_by_the_volume_controller_unless_they_wait_for_a_consumer() {
    let mut ns = TestNs::new("pvc").await;
    let later_class = ns
        .storage_class("kroxide-wffc", "WaitForFirstConsumer")
        .await;
    let fast_class = ns.storage_class("kroxide-immediate", "Immediate").await;
    let claims: Api<PersistentVolumeClaim> = ns.api();
    let volumes: Api<PersistentVolume> = Api::all(ns.client.clone());
    let claim = |name: &str, class: Option<&str>| {
        let mut c = json!({
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
        });
        if let Some(class) = class {
            c["spec"]["storageClassName"] = json!(class);
        }
        c
    };
    let data: PersistentVolumeClaim = ns.create(claim("data", None)).await;
    let fast: PersistentVolumeClaim = ns.create(claim("fast", Some(&fast_class))).await;
    let later: PersistentVolumeClaim = ns.create(claim("later", Some(&later_class))).await;
    let pod = |name: &str, claim: &str| {
        json!({
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "containers": [{"name": "c", "image": "busybox:1.36"}],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}],
            },
        })
    };
    ns.create::<Pod>(pod("uses-data", "data")).await;
    ns.create::<Pod>(pod("uses-later", "later")).await;
    // Without volumes the PV controller cannot bind the claims, and says so.
    wait_event(&ns, "data", "FailedBinding").await;
    wait_event(&ns, "later", "WaitForFirstConsumer").await;
    assert_eq!(
        claims
            .get("data")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );

    let kubelet = ns.kubelet();
    for (c, class) in [(&data, ""), (&fast, fast_class.as_str())] {
        let name = c.name_any();
        let bound = wait(
            &claims,
            &name,
            "phase Bound",
            |c: Option<&PersistentVolumeClaim>| {
                c.and_then(|c| c.status.as_ref())
                    .and_then(|s| s.phase.as_deref())
                    == Some("Bound")
            },
        )
        .await;
        // Bound by the PV controller, to the volume made for it.
        assert_eq!(
            bound
                .annotations()
                .get("pv.kubernetes.io/bind-completed")
                .map(String::as_str),
            Some("yes")
        );
        let pv_name = format!("pvc-{}", c.uid().unwrap());
        assert_eq!(
            bound.spec.unwrap().volume_name.as_deref(),
            Some(pv_name.as_str())
        );
        assert_eq!(bound.status.unwrap().capacity.unwrap()["storage"].0, "2Gi");
        let pv = volumes.get(&pv_name).await.unwrap();
        assert_eq!(
            pv.labels().get(kubelet::PV_LABEL).map(String::as_str),
            Some("true")
        );
        assert_eq!(pv.status.unwrap().phase.as_deref(), Some("Bound"));
        let spec = pv.spec.unwrap();
        assert_eq!(spec.storage_class_name.as_deref().unwrap_or(""), class);
        assert_eq!(spec.claim_ref.unwrap().uid, c.uid());
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Delete")
        );
    }
    // The Pod on a bound claim runs; the one on the waiting claim does not.
    let pods_api: Api<Pod> = ns.api();
    wait(&pods_api, "uses-data", "a Ready pod", |p: Option<&Pod>| {
        p.is_some_and(|p| pod_condition(p, "Ready").is_some_and(|c| c.0 == "True"))
    })
    .await;
    let later_now = claims.get("later").await.unwrap();
    assert_eq!(later_now.status.unwrap().phase.as_deref(), Some("Pending"));
    assert!(later_now.spec.unwrap().volume_name.is_none());
    let later_pv = format!("pvc-{}", later.uid().unwrap());
    assert!(volumes.get_opt(&later_pv).await.unwrap().is_none());
    let waiting = pods_api.get("uses-later").await.unwrap();
    assert_eq!(waiting.status.unwrap().phase.as_deref(), Some("Pending"));
    assert_eq!(kubelet.stats().volumes, 2, "{:?}", kubelet.stats());

    // Deleting the claim (once no pod uses it) deletes its volume: reclaim
    // policy Delete works without a provisioner.
    let pv_name = format!("pvc-{}", data.uid().unwrap());
    let pv_uid = volumes.get(&pv_name).await.unwrap().uid().unwrap();
    pods_api
        .delete("uses-data", &DeleteParams::default())
        .await
        .unwrap();
    claims
        .delete("data", &DeleteParams::default())
        .await
        .unwrap();
    let gone = tokio::time::timeout(
        TIMEOUT,
        await_condition(volumes.clone(), &pv_name, conditions::is_deleted(&pv_uid)),
    )
    .await;
    assert!(
        matches!(gone, Ok(Ok(None))),
        "{pv_name} still there: {:?}",
        volumes.get_opt(&pv_name).await
    );
}

/// Scale: 100 Deployments of one replica each, created at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_hundred_deployments_become_available() {
    const N: usize = 100;
    let ns = TestNs::new("many").await;
    let deploys: Api<Deployment> = ns.api();
    let kubelet = ns.kubelet();
    let available = {
        let deploys = deploys.clone();
        tokio::spawn(async move {
            let mut ready = std::collections::HashSet::new();
            let mut events = Box::pin(
                watcher(deploys, watcher::Config::default())
                    .default_backoff()
                    .applied_objects(),
            );
            while let Some(d) = events.next().await {
                if let Ok(d) = d {
                    if has_condition(&d, "Available", "True", None)
                        && d.status.as_ref().and_then(|s| s.ready_replicas) == Some(1)
                    {
                        ready.insert(d.name_any());
                        if ready.len() == N {
                            return Instant::now();
                        }
                    }
                }
            }
            panic!("watch ended")
        })
    };
    let t0 = Instant::now();
    futures::stream::iter(0..N)
        .for_each_concurrent(32, |i| {
            let deploys = deploys.clone();
            async move {
                let d: Deployment = serde_json::from_value(deployment(
                    &format!("app-{i}"),
                    1,
                    json!({}),
                    json!({}),
                ))
                .unwrap();
                deploys.create(&PostParams::default(), &d).await.unwrap();
            }
        })
        .await;
    let created = t0.elapsed();
    let done = tokio::time::timeout(Duration::from_secs(120), available)
        .await
        .expect("all Available within 120 s")
        .unwrap();
    let stats = kubelet.stats();
    println!(
        "{N} Deployments: created in {created:?}, all Available after {:?}; {stats:?}",
        done - t0
    );
    assert_eq!(stats.pods_ready as usize, N, "{stats:?}");
}
