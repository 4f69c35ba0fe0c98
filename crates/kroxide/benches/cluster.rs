//! Side by side on a real cluster: the same objects deployed to ready by the
//! floor (every manifest server-side applied at once, then a poll), by
//! `kubectl`, by the real KRO, and by `kroxide deploy` in both modes; then the
//! same redeployed unchanged and deleted.
//!
//! `scripts/bench-cluster.sh` starts `../shared/kit` and a kubelet simulator
//! and runs this; it writes its tables into BENCHMARKS.md between markers
//! named by the sizes measured, so runs of other sizes stay. Never run in CI: it measures, it asserts nothing.
//!
//! Flags: `--sizes 12,999,9999` (12 is the microservices example, other sizes
//! a graph of N/3 × ConfigMap + Deployment + Service made with forEach),
//! `--tries 3`, `--tools floor,kubectl,kro,direct,kromode`, `--kro-delete-cap
//! 60` (seconds: KRO deletes about one child per reconcile, so its delete of
//! hundreds of objects is cut off and reported as such), `--up-to
//! kubectl=999,kro=999` (a tool runs only up to that size: kubectl takes
//! objects one at a time, minutes per thousand), `--kroxide PATH` (the
//! release binary), `--no-write` (print the table only).

use futures::stream::{self, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Requests in flight at once for the floor (its "16 keep-alive connections").
const FLOOR_CONCURRENCY: usize = 16;
/// How often the floor and the KRO runs look at the Deployments.
const POLL: Duration = Duration::from_millis(50);
/// No wait of the benchmark lasts longer: a hang is a failure, not a number.
const DEADLINE: Duration = Duration::from_secs(900);

struct Args {
    sizes: Vec<usize>,
    tries: usize,
    tools: Vec<String>,
    /// The largest size each named tool runs at.
    up_to: BTreeMap<String, usize>,
    kro_delete_cap: Duration,
    kroxide: PathBuf,
    write: bool,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let after = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Args {
        sizes: after("--sizes")
            .unwrap_or_else(|| "12,999,9999".into())
            .split(',')
            .map(|s| s.parse().expect("--sizes: numbers"))
            .collect(),
        tries: after("--tries").map_or(3, |s| s.parse().expect("--tries: a number")),
        tools: after("--tools")
            .unwrap_or_else(|| "floor,kubectl,kro,direct,kromode".into())
            .split(',')
            .map(str::to_string)
            .collect(),
        up_to: after("--up-to")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (tool, size) = s.split_once('=').expect("--up-to: tool=size,...");
                (tool.to_string(), size.parse().expect("--up-to: tool=size"))
            })
            .collect(),
        kro_delete_cap: Duration::from_secs(
            after("--kro-delete-cap").map_or(60, |s| s.parse().expect("--kro-delete-cap: seconds")),
        ),
        kroxide: after("--kroxide")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/kroxide")),
        write: !argv.iter().any(|a| a == "--no-write"),
    }
}

// ------------------------------------------------------------- workloads

/// One graph at one size: the RGD and instance (as JSON text, which YAML
/// readers take), the manifests a deploy makes, and how many Deployments.
struct Workload {
    rgd: Value,
    instance: Value,
    manifests: Vec<Value>,
    deployments: usize,
}

impl Workload {
    fn objects(&self) -> usize {
        self.manifests.len()
    }

    /// The RGD and instance with a kind and name of their own, so that each
    /// KRO try starts from a fresh RGD and CRD.
    fn unique(&self, tag: &str) -> (Value, Value) {
        let mut rgd = self.rgd.clone();
        let mut instance = self.instance.clone();
        let kind = format!("{}{}", rgd["spec"]["schema"]["kind"].as_str().unwrap(), tag);
        let name = format!(
            "{}-{}",
            rgd["metadata"]["name"].as_str().unwrap(),
            tag.to_lowercase()
        );
        rgd["spec"]["schema"]["kind"] = json!(kind);
        rgd["metadata"]["name"] = json!(name);
        instance["kind"] = json!(kind);
        (rgd, instance)
    }
}

fn microservices(root: &Path, kroxide: &Path, work: &Path) -> Workload {
    let bin = root.join("target/release/examples/microservices");
    let out = Command::new(&bin)
        .arg("render")
        .output()
        .expect("run the microservices example");
    assert!(
        out.status.success(),
        "microservices render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rgd = yaml_value(&String::from_utf8_lossy(&out.stdout));
    let instance =
        yaml_value(&std::fs::read_to_string(root.join("examples/microservices/dev.yaml")).unwrap());
    workload(rgd, instance, kroxide, work)
}

fn for_each(size: usize, kroxide: &Path, work: &Path) -> Workload {
    let kind = format!("Each{size}");
    let services: Vec<String> = (0..size / 3).map(|i| format!("s{i}")).collect();
    let each = |id: &str, template: Value| json!({"id": id, "forEach": [{"svc": "${schema.spec.services}"}], "template": template});
    let rgd = json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "ResourceGraphDefinition",
        "metadata": {"name": kind.to_lowercase()},
        "spec": {
            "schema": {
                "apiVersion": "v1alpha1",
                "kind": kind,
                "spec": {"services": "[]string", "image": "string | default=\"nginx:1.27\""},
                "status": {"services": "${size(deployments)}"},
            },
            "resources": [
                each("configs", json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "${svc}-config"}, "data": {"LEVEL": "info"}})),
                each("deployments", json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "${svc}"},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "${svc}"}},
                        "template": {"metadata": {"labels": {"app": "${svc}"}},
                            "spec": {"containers": [{"name": "app", "image": "${schema.spec.image}",
                                "envFrom": [{"configMapRef": {"name":
                                    "${configs[0].metadata.name == \"\" ? \"\" : svc + \"-config\"}"}}]}]}}}})),
                each("services", json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "${svc}"},
                    "spec": {"selector": {"app": "${svc}"}, "ports": [{"port": 80}]}})),
            ],
        },
    });
    let instance = json!({"apiVersion": "kro.run/v1alpha1", "kind": kind,
        "metadata": {"name": "bench"}, "spec": {"services": services}});
    workload(rgd, instance, kroxide, work)
}

/// The manifests come from `kroxide plan`: what a deploy applies is what the
/// floor and kubectl apply.
fn workload(rgd: Value, instance: Value, kroxide: &Path, work: &Path) -> Workload {
    let (r, i) = (work.join("plan-rgd.json"), work.join("plan-instance.json"));
    std::fs::write(&r, rgd.to_string()).unwrap();
    std::fs::write(&i, instance.to_string()).unwrap();
    let out = Command::new(kroxide)
        .args(["plan", "-o", "json", "--show-secrets", "--instance"])
        .arg(&i)
        .arg(&r)
        .output()
        .expect("run kroxide plan");
    assert!(
        out.status.success(),
        "kroxide plan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut manifests = vec![];
    for r in plan["resources"].as_array().unwrap() {
        for o in r["objects"].as_array().into_iter().flatten() {
            let mut o = o.clone();
            o["metadata"].as_object_mut().unwrap().remove("namespace");
            manifests.push(o);
        }
    }
    let deployments = manifests
        .iter()
        .filter(|m| m["kind"] == "Deployment")
        .count();
    Workload {
        rgd,
        instance,
        manifests,
        deployments,
    }
}

fn yaml_value(text: &str) -> Value {
    kroxide::model::load_documents("bench", text)
        .expect("YAML")
        .remove(0)
        .0
}

// ----------------------------------------------------------------- cluster

struct Cluster {
    client: Client,
    kubeconfig: PathBuf,
    work: PathBuf,
}

/// What one try measured.
#[derive(Clone, Default)]
struct Run {
    seconds: f64,
    /// Requests the tool itself sent, where it can be counted.
    client_requests: Option<u64>,
    /// Every request the API server served meanwhile (controllers, KRO and
    /// the kubelet simulator included).
    server_requests: u64,
    /// Peak memory of the tool's process, where it is a process of its own.
    peak_kb: Option<u64>,
    /// Set when the run was cut off.
    note: Option<String>,
}

impl Cluster {
    /// Every request the API server has served so far.
    async fn served(&self) -> u64 {
        let req = http::Request::get("/metrics").body(vec![]).unwrap();
        let text = self.client.request_text(req).await.expect("read /metrics");
        text.lines()
            .filter(|l| l.starts_with("apiserver_request_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    async fn create_namespace(&self, ns: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let n: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        api.create(&PostParams::default(), &n)
            .await
            .expect("create namespace");
    }

    /// Deletes `ns` and waits until it is gone, with all it held.
    async fn drop_namespace(&self, ns: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = api.delete(ns, &DeleteParams::background()).await;
        wait_gone(|| async { api.get_opt(ns).await.expect("get namespace").is_none() }).await;
    }

    async fn drop_cluster_object(&self, ar: &ApiResource, name: &str) {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), ar);
        let _ = api.delete(name, &DeleteParams::background()).await;
        wait_gone(|| async { api.get_opt(name).await.expect("get").is_none() }).await;
    }

    /// Polls the Deployments of `ns` until `want` exist and all are ready
    /// (as `kubectl rollout status` judges); returns the polls made.
    async fn poll_ready(&self, ns: &str, want: usize) -> u64 {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        let mut polls = 0;
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < DEADLINE, "Deployments in {ns} not ready");
            polls += 1;
            let list = api
                .list(&ListParams::default())
                .await
                .expect("list deployments");
            if list.items.len() >= want && list.items.iter().all(deployment_ready) {
                return polls;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs the kroxide binary; its peak memory and the requests it sent.
    fn kroxide(&self, a: &Args, argv: &[&str]) -> (Option<u64>, u64) {
        let file = self.work.join("peak");
        let timed = Path::new("/usr/bin/time").exists();
        let mut cmd = if timed {
            let mut c = Command::new("/usr/bin/time");
            c.arg("-f").arg("%M").arg("-o").arg(&file).arg(&a.kroxide);
            c
        } else {
            Command::new(&a.kroxide)
        };
        cmd.args(argv)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KROXIDE_STATS", "1");
        let out = cmd.output().expect("run kroxide");
        assert!(
            out.status.success(),
            "kroxide {argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let peak = timed
            .then(|| std::fs::read_to_string(&file).ok()?.trim().parse().ok())
            .flatten();
        let requests = String::from_utf8_lossy(&out.stderr)
            .lines()
            .find_map(|l| {
                l.strip_prefix("kroxide: ")?
                    .strip_suffix(" API requests")?
                    .parse()
                    .ok()
            })
            .expect("KROXIDE_STATS line");
        (peak, requests)
    }

    fn kubectl(&self, argv: &[&str]) -> u64 {
        let out = Command::new("kubectl")
            .args(argv)
            .arg("-v=6")
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // With -v=6 kubectl logs one `round_trippers` line per request.
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("round_trippers") && l.contains(" https://"))
            .count() as u64
    }
}

fn deployment_ready(d: &Deployment) -> bool {
    let (Some(spec), Some(status)) = (&d.spec, &d.status) else {
        return false;
    };
    let want = spec.replicas.unwrap_or(1);
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
}

async fn wait_gone<F, Fut>(gone: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !gone().await {
        assert!(start.elapsed() < DEADLINE, "not gone after 15 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn api_resource(m: &Value) -> ApiResource {
    let (group, version) = match m["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", m["apiVersion"].as_str().unwrap()),
    };
    let kind = m["kind"].as_str().unwrap();
    let plural = match kind {
        "Ingress" => "ingresses".to_string(),
        "NetworkPolicy" => "networkpolicies".to_string(),
        k => format!("{}s", k.to_lowercase()),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

fn rgd_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kro.run", "v1alpha1", "ResourceGraphDefinition"),
        "resourcegraphdefinitions",
    )
}

fn crd_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    )
}

// ------------------------------------------------------------------ tools

/// Deploy, redeploy unchanged, delete: one try of one tool.
struct Try {
    deploy: Run,
    redeploy: Run,
    delete: Run,
}

/// Every manifest server-side applied at once (16 in flight), then polls.
async fn floor_apply(c: &Cluster, w: &Workload, ns: &str) -> u64 {
    let params = PatchParams::apply("bench-floor").force();
    let sent = w.manifests.len() as u64;
    stream::iter(w.manifests.iter())
        .for_each_concurrent(FLOOR_CONCURRENCY, |m| {
            let api: Api<DynamicObject> =
                Api::namespaced_with(c.client.clone(), ns, &api_resource(m));
            let name = m["metadata"]["name"].as_str().unwrap().to_string();
            let params = &params;
            async move {
                api.patch(&name, params, &Patch::Apply(m))
                    .await
                    .expect("floor apply");
            }
        })
        .await;
    sent
}

async fn floor(c: &Cluster, w: &Workload, ns: &str) -> Try {
    let deploy = measure(c, async {
        let sent = floor_apply(c, w, ns).await;
        Some(sent + c.poll_ready(ns, w.deployments).await)
    })
    .await;
    let redeploy = measure(c, async {
        let sent = floor_apply(c, w, ns).await;
        Some(sent + c.poll_ready(ns, w.deployments).await)
    })
    .await;
    let delete = measure(c, async {
        stream::iter(w.manifests.iter())
            .for_each_concurrent(FLOOR_CONCURRENCY, |m| {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(c.client.clone(), ns, &api_resource(m));
                let name = m["metadata"]["name"].as_str().unwrap().to_string();
                async move {
                    api.delete(&name, &DeleteParams::background())
                        .await
                        .expect("floor delete");
                }
            })
            .await;
        Some(w.manifests.len() as u64)
    })
    .await;
    Try {
        deploy,
        redeploy,
        delete,
    }
}

async fn kubectl(c: &Cluster, w: &Workload, ns: &str) -> Try {
    let file = c.work.join("manifests.json");
    std::fs::write(
        &file,
        json!({"apiVersion": "v1", "kind": "List", "items": w.manifests}).to_string(),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let wait = [
        "wait",
        "--for=condition=Available",
        "deployment",
        "--all",
        "-n",
        ns,
        "--timeout=900s",
    ];
    let apply = ["apply", "--server-side", "-f", f, "-n", ns];
    let deploy = measure(c, async { Some(c.kubectl(&apply) + c.kubectl(&wait)) }).await;
    let redeploy = measure(c, async { Some(c.kubectl(&apply) + c.kubectl(&wait)) }).await;
    let delete = measure(c, async { Some(c.kubectl(&["delete", "-f", f, "-n", ns])) }).await;
    Try {
        deploy,
        redeploy,
        delete,
    }
}

/// The real KRO: the RGD applied and Active, the instance applied and ACTIVE
/// with every Deployment ready and KRO reporting it Ready; unchanged, the
/// instance applied again.
async fn kro(c: &Cluster, w: &Workload, ns: &str, tag: &str, cap: Duration) -> Try {
    let (rgd, instance) = w.unique(tag);
    let rgd_name = rgd["metadata"]["name"].as_str().unwrap().to_string();
    let rgds: Api<DynamicObject> = Api::all_with(c.client.clone(), &rgd_resource());
    let params = PatchParams::apply("bench-kro").force();
    let name = instance["metadata"]["name"].as_str().unwrap().to_string();
    let apply_instance = || async {
        // The plural is KRO's: wait for the CRD it made and use its name.
        let ar = instance_resource(c, &rgd_name, &instance).await;
        let api: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), ns, &ar);
        api.patch(&name, &params, &Patch::Apply(&instance))
            .await
            .expect("apply instance");
        api
    };
    let deploy = measure(c, async {
        rgds.patch(&rgd_name, &params, &Patch::Apply(&rgd))
            .await
            .expect("apply RGD");
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < DEADLINE, "RGD not Active");
            let r = rgds.get(&rgd_name).await.expect("get RGD");
            if r.data["status"]["state"] == "Active" {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let api = apply_instance().await;
        instance_active(&api, &name).await;
        c.poll_ready(ns, w.deployments).await;
        instance_ready(&api, &name).await;
        None
    })
    .await;
    let redeploy = measure(c, async {
        let api = apply_instance().await;
        instance_active(&api, &name).await;
        c.poll_ready(ns, w.deployments).await;
        instance_ready(&api, &name).await;
        None
    })
    .await;
    let mut delete = measure(c, async {
        let ar = instance_resource(c, &rgd_name, &instance).await;
        let api: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), ns, &ar);
        api.delete(&name, &DeleteParams::background())
            .await
            .expect("delete instance");
        let start = Instant::now();
        while api.get_opt(&name).await.expect("get instance").is_some() {
            if start.elapsed() > cap {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
        None
    })
    .await;
    if delete.seconds > cap.as_secs_f64() {
        let left = count_left(c, w, ns).await;
        delete.note = Some(format!(
            "cut off after {} s with {left} of {} objects left",
            cap.as_secs(),
            w.objects()
        ));
    }
    c.drop_namespace(ns).await;
    c.drop_cluster_object(&rgd_resource(), &rgd_name).await;
    drop_crd(c, &rgd_name).await;
    Try {
        deploy,
        redeploy,
        delete,
    }
}

async fn instance_active(api: &Api<DynamicObject>, name: &str) {
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < DEADLINE, "instance not ACTIVE");
        let i = api.get(name).await.expect("get instance");
        if i.data["status"]["state"] == "ACTIVE" {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// KRO's own word that the instance is healthy: its `Ready` condition True
/// (what `kubectl wait --for=condition=Ready` waits for, and what
/// `kroxide deploy --mode kro` waits for). KRO v0.9.3 sets it some time
/// after the last child is ready.
async fn instance_ready(api: &Api<DynamicObject>, name: &str) {
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < DEADLINE, "instance not Ready");
        let i = api.get(name).await.expect("get instance");
        let ready = i.data["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        if ready {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn count_left(c: &Cluster, w: &Workload, ns: &str) -> usize {
    let mut left = 0;
    let kinds: BTreeMap<String, ApiResource> = w
        .manifests
        .iter()
        .map(|m| (m["kind"].as_str().unwrap().to_string(), api_resource(m)))
        .collect();
    for ar in kinds.values() {
        let api: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), ns, ar);
        left += api
            .list_metadata(&ListParams::default())
            .await
            .expect("list")
            .items
            .len();
    }
    left
}

/// The CRD KRO made for the RGD `rgd` (KRO labels it with the RGD's name).
async fn crd_of(c: &Cluster, rgd: &str) -> Option<Value> {
    let crds: Api<DynamicObject> = Api::all_with(c.client.clone(), &crd_resource());
    let lp = ListParams::default().labels(&format!("kro.run/resource-graph-definition-name={rgd}"));
    crds.list(&lp)
        .await
        .expect("list CRDs")
        .items
        .into_iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .next()
}

/// The instance's API, once KRO has made its CRD (the plural is KRO's).
async fn instance_resource(c: &Cluster, rgd: &str, instance: &Value) -> ApiResource {
    let (group, version) = instance["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    let kind = instance["kind"].as_str().unwrap();
    let start = Instant::now();
    loop {
        if let Some(crd) = crd_of(c, rgd).await {
            let plural = crd["spec"]["names"]["plural"].as_str().unwrap();
            return ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, kind),
                plural,
            );
        }
        assert!(start.elapsed() < DEADLINE, "no CRD for RGD {rgd}");
        tokio::time::sleep(POLL).await;
    }
}

async fn drop_crd(c: &Cluster, rgd: &str) {
    if let Some(crd) = crd_of(c, rgd).await {
        c.drop_cluster_object(&crd_resource(), crd["metadata"]["name"].as_str().unwrap())
            .await;
    }
}

/// `kroxide deploy` (direct, or `--mode kro`), again unchanged, then delete.
async fn kroxide(c: &Cluster, a: &Args, w: &Workload, ns: &str, kro_tag: Option<&str>) -> Try {
    let (rgd, instance) = match kro_tag {
        Some(tag) => w.unique(tag),
        None => (w.rgd.clone(), w.instance.clone()),
    };
    let (r, i) = (c.work.join("rgd.json"), c.work.join("instance.json"));
    std::fs::write(&r, rgd.to_string()).unwrap();
    std::fs::write(&i, instance.to_string()).unwrap();
    let (r, i) = (r.to_str().unwrap(), i.to_str().unwrap());
    let mut deploy_argv = vec!["deploy", r, "--instance", i, "-n", ns, "--timeout", "15m"];
    let mut delete_argv = vec!["delete", r, "--instance", i, "-n", ns, "--timeout", "15m"];
    if kro_tag.is_some() {
        deploy_argv.extend(["--mode", "kro"]);
        delete_argv.extend(["--mode", "kro"]);
    }
    let mut peaks = vec![];
    let mut run = |argv: &[&str]| {
        let (peak, requests) = c.kroxide(a, argv);
        peaks.push(peak);
        Some(requests)
    };
    let mut deploy = measure(c, async { run(&deploy_argv) }).await;
    let mut redeploy = measure(c, async { run(&deploy_argv) }).await;
    let mut delete = if kro_tag.is_some() {
        // Through KRO, delete is KRO's (one child per reconcile): measured
        // in the KRO column, not again here.
        Run {
            note: Some("as KRO".into()),
            ..Run::default()
        }
    } else {
        measure(c, async { run(&delete_argv) }).await
    };
    deploy.peak_kb = peaks.first().copied().flatten();
    redeploy.peak_kb = peaks.get(1).copied().flatten();
    delete.peak_kb = peaks.get(2).copied().flatten();
    if kro_tag.is_some() {
        c.drop_namespace(ns).await;
        let name = rgd["metadata"]["name"].as_str().unwrap();
        c.drop_cluster_object(&rgd_resource(), name).await;
        drop_crd(c, name).await;
    }
    Try {
        deploy,
        redeploy,
        delete,
    }
}

/// Times `work`, and counts the requests the server served meanwhile.
async fn measure(c: &Cluster, work: impl std::future::Future<Output = Option<u64>>) -> Run {
    let before = c.served().await;
    let start = Instant::now();
    let client_requests = work.await;
    let seconds = start.elapsed().as_secs_f64();
    // The metrics read itself is one request.
    let server_requests = c.served().await.saturating_sub(before + 1);
    Run {
        seconds,
        client_requests,
        server_requests,
        peak_kb: None,
        note: None,
    }
}

// ------------------------------------------------------------------ report

fn tool_name(t: &str, phase: &str) -> &'static str {
    match (t, phase) {
        ("kubectl", "delete") => return "kubectl delete -f",
        ("kro", "delete") => return "real KRO v0.9.3 (instance deleted and gone)",
        ("kro", "redeploy unchanged") => {
            return "real KRO v0.9.3 (instance applied again, ACTIVE, all ready, Ready=True)"
        }
        ("direct", "delete") => return "kroxide delete",
        _ => {}
    }
    match t {
        "floor" => "floor (SSA all at once, 16 in flight, 50 ms poll)",
        "kubectl" => "kubectl apply --server-side + kubectl wait",
        "kro" => "real KRO v0.9.3 (RGD Active, instance ACTIVE, all ready, Ready=True)",
        "direct" => "kroxide deploy",
        "kromode" => "kroxide deploy --mode kro",
        _ => "?",
    }
}

fn stats(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (s[0], s[s.len() / 2])
}

fn main() {
    let a = args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let kubeconfig =
        PathBuf::from(std::env::var("KUBECONFIG").expect("KUBECONFIG: the cluster to measure"));
    let work = std::env::temp_dir().join(format!("kroxide-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = rt.block_on(async {
        let config = kube::Config::infer().await.expect("kubeconfig");
        Client::try_from(config).expect("client")
    });
    let c = Cluster {
        client,
        kubeconfig,
        work: work.clone(),
    };
    // (size, phase, tool) -> runs
    let mut results: BTreeMap<(usize, &'static str, String), Vec<Run>> = BTreeMap::new();
    let started = Instant::now();
    for &size in &a.sizes {
        let w = if size == 12 {
            microservices(&root, &a.kroxide, &work)
        } else {
            for_each(size, &a.kroxide, &work)
        };
        eprintln!(
            "== {size}: {} objects, {} Deployments",
            w.objects(),
            w.deployments
        );
        for t in 0..a.tries {
            for tool in a
                .tools
                .iter()
                .filter(|t| a.up_to.get(*t).is_none_or(|&m| size <= m))
            {
                let ns = format!("bench-{tool}-{size}-{t}-{}", std::process::id() % 10000);
                let tag = format!("T{}{}", t, std::process::id() % 10000);
                let r = rt.block_on(async {
                    c.create_namespace(&ns).await;
                    let r = match tool.as_str() {
                        "floor" => floor(&c, &w, &ns).await,
                        "kubectl" => kubectl(&c, &w, &ns).await,
                        "kro" => kro(&c, &w, &ns, &format!("K{tag}"), a.kro_delete_cap).await,
                        "direct" => kroxide(&c, &a, &w, &ns, None).await,
                        "kromode" => kroxide(&c, &a, &w, &ns, Some(&format!("M{tag}"))).await,
                        other => panic!("unknown tool {other}"),
                    };
                    c.drop_namespace(&ns).await;
                    r
                });
                eprintln!(
                    "{size} try {t} {tool}: deploy {:.2} s, redeploy {:.2} s, delete {:.2} s{}",
                    r.deploy.seconds,
                    r.redeploy.seconds,
                    r.delete.seconds,
                    r.delete
                        .note
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                );
                for (phase, run) in [
                    ("deploy", r.deploy),
                    ("redeploy unchanged", r.redeploy),
                    ("delete", r.delete),
                ] {
                    results
                        .entry((size, phase, tool.clone()))
                        .or_default()
                        .push(run);
                }
            }
        }
    }
    let md = report(&a, &results, started.elapsed());
    println!("{md}");
    if a.write {
        let path = root.join("BENCHMARKS.md");
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        // One section per set of sizes, so runs of other sizes stay.
        let sizes: Vec<String> = a.sizes.iter().map(|s| s.to_string()).collect();
        let begin = format!("<!-- cluster {}: begin -->", sizes.join(","));
        let end = format!("<!-- cluster {}: end -->", sizes.join(","));
        let section = format!("{begin}\n{md}{end}");
        let new = match (old.find(&begin), old.find(&end)) {
            (Some(b), Some(e)) => format!("{}{section}{}", &old[..b], &old[e + end.len()..]),
            _ => format!("{old}\n{section}\n"),
        };
        std::fs::write(&path, new).unwrap();
        eprintln!("wrote {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&work);
}

fn report(
    a: &Args,
    results: &BTreeMap<(usize, &'static str, String), Vec<Run>>,
    took: Duration,
) -> String {
    let mut md = format!(
        "## Real cluster, side by side: {} objects (`scripts/bench-cluster.sh`)\n\nOne run of {:.0} min: the kit (kube-apiserver v1.36.2, kube-controller-manager, KRO v0.9.3) on this machine, the kubelet simulator making Pods ready 0.1 s after it sees them. Each try in a fresh namespace, the previous one fully deleted first; {} tries per cell, min / median in seconds. \"requests / object\": the tool's own requests where they can be counted (the floor counts its own, kubectl logs them at -v=6, kroxide prints them with KROXIDE_STATS=1), and in brackets every request the API server served meanwhile (the controllers', KRO's and the simulator's included). Peak memory of the kroxide process by /usr/bin/time.\n\n",
        a.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
        took.as_secs_f64() / 60.0,
        a.tries
    );
    for phase in ["deploy", "redeploy unchanged", "delete"] {
        md.push_str(&format!("### {phase}\n\n| objects | tool | min | median | requests / object | vs floor (median) | peak memory |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: |\n"));
        for &size in &a.sizes {
            let floor_median = results
                .get(&(size, phase, "floor".into()))
                .map(|r| stats(&r.iter().map(|r| r.seconds).collect::<Vec<_>>()).1);
            for tool in &a.tools {
                let Some(runs) = results.get(&(size, phase, tool.clone())) else {
                    if let Some(max) = a.up_to.get(tool).filter(|&&m| size > m) {
                        md.push_str(&format!(
                            "| {size} | {} | | | | | not run above {max} objects (`--up-to`) |\n",
                            tool_name(tool, phase)
                        ));
                    }
                    continue;
                };
                if runs.iter().all(|r| r.note.as_deref() == Some("as KRO")) {
                    md.push_str(&format!(
                        "| {size} | {} | | | | | (KRO deletes: see the KRO row) |\n",
                        tool_name(tool, phase)
                    ));
                    continue;
                }
                let secs: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
                let (min, med) = stats(&secs);
                let objects = if size == 12 { 12 } else { size } as f64;
                let server = runs.iter().map(|r| r.server_requests).sum::<u64>() as f64
                    / runs.len() as f64
                    / objects;
                let client = runs
                    .iter()
                    .map(|r| r.client_requests)
                    .collect::<Option<Vec<u64>>>()
                    .map(|v| v.iter().sum::<u64>() as f64 / v.len() as f64 / objects);
                let requests = match client {
                    Some(c) => format!("{c:.2} ({server:.2})"),
                    None => format!("({server:.2})"),
                };
                let ratio = floor_median
                    .map(|f| format!("{:.2}×", med / f))
                    .unwrap_or_default();
                let peak = runs
                    .iter()
                    .filter_map(|r| r.peak_kb)
                    .max()
                    .map(|k| format!("{:.0} MB", k as f64 / 1024.0))
                    .unwrap_or_default();
                let note = runs
                    .iter()
                    .filter_map(|r| r.note.clone())
                    .next()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                md.push_str(&format!(
                    "| {size} | {}{note} | {min:.2} | {med:.2} | {requests} | {ratio} | {peak} |\n",
                    tool_name(tool, phase)
                ));
            }
        }
        let median = |size: usize, tool: &str| {
            let runs = results.get(&(size, phase, tool.to_string()))?;
            runs.iter()
                .all(|r| r.note.is_none())
                .then(|| stats(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>()).1)
        };
        for &size in &a.sizes {
            let mut line = vec![];
            if let (Some(k), Some(d)) = (median(size, "kro"), median(size, "direct")) {
                line.push(format!("KRO / kroxide: {:.2}×", k / d));
            }
            if let (Some(k), Some(m)) = (median(size, "kro"), median(size, "kromode")) {
                line.push(format!("kroxide --mode kro − KRO: {:+.2} s", m - k));
            }
            if !line.is_empty() {
                md.push_str(&format!(
                    "\n{size} objects, medians: {}.\n",
                    line.join("; ")
                ));
            }
        }
        md.push('\n');
    }
    md
}
