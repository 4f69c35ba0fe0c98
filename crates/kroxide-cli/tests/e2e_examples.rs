//! KRO's own examples (`../shared/kro/examples`), each deployed twice on a
//! real cluster: through the real KRO controller (`kroxide_engine::kro`, in
//! namespace A) and by kroxide's direct engine (in namespace B). Both must
//! give the same children (the same apiVersion, kind, namespace and name,
//! the same resource id and the same content once server-set and ownership
//! fields are dropped; labels and annotations count, without the tools' own
//! keys), the same instance after defaulting, and the same
//! status; deleting both leaves no child. `scripts/e2e.sh` starts the
//! cluster and runs this suite; by hand:
//!
//! ```text
//! KROXIDE_E2E_KUBECONFIG=/tmp/kit/kubeconfig cargo test -p kroxide-cli --test e2e_examples -- --ignored
//! ```
//!
//! How the two deploys are made comparable:
//! - the instance goes to namespace A (KRO) or B (kroxide): its
//!   `metadata.namespace`, and `spec.namespace` where the example puts its
//!   children in the namespace the spec names, are set to it;
//! - each side's own values (its namespaces, tenant ids, pinned cluster IPs)
//!   stand for one placeholder in the comparison, as do the values the API
//!   server gives each object (its uid, which a Job's selector carries; the
//!   cluster IP it allocates to a Service) and timestamps in the status;
//! - the direct instance carries KRO's instance uid, so that expressions of
//!   `schema.metadata.uid` (`random.seededString`) must agree; the
//!   cel-functions test also deploys the example without one;
//! - KRO deploys first; where children are cluster-scoped with fixed names
//!   (core-dns) KRO's are deleted before kroxide deploys;
//! - the status compared is the one each deploy returned; when they differ,
//!   the one each reports a moment later (KRO's instance status, kroxide's
//!   `status`), for up to 20 s: controllers keep writing the children's
//!   status after both consider them ready (an Ingress gets its address
//!   after it exists, and KRO, like kroxide, counts it ready once it
//!   exists), so a field such as webapp's `url` can be missing from the
//!   status a direct deploy returns and present in KRO's, which kroxide's
//!   KRO mode returns only once complete.
//!
//! A difference is collected, everything is deleted, and the test then fails
//! with every difference (KRO's value and kroxide's), so a failing test
//! still leaves the cluster clean.

mod real;

use kroxide::engine::inventory::INVENTORY_LABEL;
use kroxide::engine::kro::{self, KroError, KroOptions};
use kroxide::engine::{
    DeployError, DeployOptions, DirectEngine, INSTANCE_LABEL, NAMESPACE_LABEL, RESOURCE_LABEL,
};
use kroxide::model::ResourceGraphDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use real::Real;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::time::Instant;

/// How long each step may take (KRO deletes children about one per reconcile).
const TIMEOUT: Duration = Duration::from_secs(180);

/// KRO's labels on the children of an instance.
const KRO_INSTANCE: &str = "kro.run/instance-name";
const KRO_NAMESPACE: &str = "kro.run/instance-namespace";
const KRO_NODE: &str = "kro.run/node-id";
/// KRO's label on the CRD it generates for an RGD (value: the RGD's name).
const KRO_RGD_NAME: &str = "kro.run/resource-graph-definition-name";

/// cel-functions and defaults both define the RGD `somethings.kro.run`
/// (kind `Something`): they take turns.
static SOMETHINGS: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kro/examples")
}

/// The RGD in `file` (under the examples) and its document as JSON.
fn load_rgd(file: &str) -> (ResourceGraphDefinition, Value) {
    let path = examples().join(file);
    let mut docs =
        kroxide::model::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one RGD expected", path.display());
    let d = docs.remove(0);
    (d.rgd, d.raw)
}

/// The instance in `file` (under the examples).
fn load_instance(file: &str) -> Value {
    let path = examples().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    kroxide::model::load_documents(file, &text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .remove(0)
        .0
}

fn ar(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn rgds(client: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &ar(
            "kro.run/v1alpha1",
            "ResourceGraphDefinition",
            "resourcegraphdefinitions",
        ),
    )
}

fn crds(client: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &ar(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    )
}

/// One of the two deploys.
struct Side {
    /// `KRO` or `kroxide`, for messages.
    who: &'static str,
    /// The instance's namespace.
    ns: String,
    /// A namespace of this side's own for the graph to create (saas tenants).
    tenant: String,
    /// A cluster IP of this side's own (core-dns pins one).
    cluster_ip: String,
    /// This side's own strings and the placeholder each stands for.
    own: Vec<(String, String)>,
}

impl Side {
    fn new(who: &'static str, ns: &str, tenant: &str, cluster_ip: String) -> Side {
        let own = vec![
            (ns.to_string(), "<namespace>".to_string()),
            (tenant.to_string(), "<tenant>".to_string()),
            (cluster_ip.clone(), "<pinned-ip>".to_string()),
        ];
        Side {
            who,
            ns: ns.to_string(),
            tenant: tenant.to_string(),
            cluster_ip,
            own,
        }
    }

    fn kro_opts(&self) -> KroOptions {
        KroOptions {
            namespace: self.ns.clone(),
            timeout: TIMEOUT,
            ..KroOptions::default()
        }
    }

    fn direct_opts(&self) -> DeployOptions {
        DeployOptions {
            namespace: self.ns.clone(),
            resource_timeout: TIMEOUT,
            create_namespace: true,
            ..DeployOptions::default()
        }
    }

    /// The label selector of this side's children of instance `name`.
    fn selector(&self, name: &str) -> String {
        match self.who {
            "KRO" => format!("{KRO_INSTANCE}={name},{KRO_NAMESPACE}={}", self.ns),
            _ => format!("{INSTANCE_LABEL}={name},{NAMESPACE_LABEL}={}", self.ns),
        }
    }

    /// The label naming a child's resource id.
    fn id_label(&self) -> &'static str {
        match self.who {
            "KRO" => KRO_NODE,
            _ => RESOURCE_LABEL,
        }
    }
}

/// Replaces `own` strings (longest first) in every string and key of `v`.
fn substitute(v: &mut Value, own: &[(String, String)]) {
    let mut own: Vec<&(String, String)> = own.iter().filter(|(f, _)| !f.is_empty()).collect();
    own.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
    fn walk(v: &mut Value, own: &[&(String, String)]) {
        let swap = |s: &str| {
            own.iter()
                .fold(s.to_string(), |s, (from, to)| s.replace(from.as_str(), to))
        };
        match v {
            Value::String(s) => *s = swap(s),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, own)),
            Value::Object(m) => {
                let old = std::mem::take(m);
                for (k, mut x) in old {
                    walk(&mut x, own);
                    m.insert(swap(&k), x);
                }
            }
            _ => {}
        }
    }
    walk(v, &own);
}

/// An RFC 3339 timestamp as the API server writes them.
fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
}

fn mask_times(v: &mut Value) {
    match v {
        Value::String(s) if is_time(s) => *s = "<time>".into(),
        Value::Array(a) => a.iter_mut().for_each(mask_times),
        Value::Object(m) => m.values_mut().for_each(mask_times),
        _ => {}
    }
}

/// Labels and annotations that say which tool wrote an object, not what it
/// is, and the one a controller writes (the Deployment's revision, which the
/// deployment controller sets a moment after the object is created).
fn tool_key(k: &str) -> bool {
    k == "deployment.kubernetes.io/revision"
        || k.starts_with("kro.run/")
        || k.starts_with("kroxide.dev/")
        || k.starts_with("applyset.kubernetes.io/")
        || k == "app.kubernetes.io/managed-by"
        || k == "kubectl.kubernetes.io/last-applied-configuration"
}

/// Metadata the server sets, or that says who owns the object.
const SERVER_SET: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "ownerReferences",
    "namespace",
    "finalizers",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// What a child was asked to be: `o` without status, server-set and
/// ownership metadata and the tools' labels, with `side`'s own values and
/// those the server gave it (its uid, its allocated cluster IPs) replaced.
fn desired(o: &Value, side: &Side) -> Value {
    let mut v = o.clone();
    let obj = v.as_object_mut().expect("an object");
    obj.remove("status");
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in SERVER_SET {
            meta.remove(*k);
        }
        for k in ["labels", "annotations"] {
            let empty = match meta.get_mut(k).and_then(Value::as_object_mut) {
                Some(m) => {
                    m.retain(|k, _| !tool_key(k));
                    m.is_empty()
                }
                None => false,
            };
            if empty {
                meta.remove(k);
            }
        }
    }
    let mut own = side.own.clone();
    substitute(&mut v, &own);
    own.clear();
    if let Some(uid) = o.pointer("/metadata/uid").and_then(Value::as_str) {
        own.push((uid.to_string(), "<uid>".to_string()));
    }
    if o["kind"] == "Service" {
        for ip in o
            .pointer("/spec/clusterIPs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|ip| *ip != "None")
        {
            own.push((ip.to_string(), "<cluster-ip>".to_string()));
        }
    }
    substitute(&mut v, &own);
    v
}

/// A status (or instance spec) made comparable: KRO's `state` and
/// `conditions` dropped, `side`'s own values and timestamps replaced.
fn comparable(v: &Value, side: &Side) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("state");
        m.remove("conditions");
    }
    substitute(&mut v, &side.own);
    mask_times(&mut v);
    v
}

/// One child, as both sides must have it.
#[derive(Clone, Debug, PartialEq)]
struct Child {
    /// The resource id it was created for.
    id: String,
    content: Value,
}

/// Children by `apiVersion kind namespace/name` (with the side's own values replaced).
type Children = BTreeMap<String, Child>;

/// The kinds of `rgds`' resources that the cluster serves.
async fn kinds_of(client: &kube::Client, rgds: &[&ResourceGraphDefinition]) -> Vec<ApiResource> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in rgds.iter().flat_map(|g| &g.spec.resources) {
        let (Some(av), Some(kind), None) = (r.api_version(), r.kind(), &r.external_ref) else {
            continue;
        };
        if !seen.insert((av.to_string(), kind.to_string())) {
            continue;
        }
        let (group, version) = av.rsplit_once('/').unwrap_or(("", av));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Ok((resource, _)) = kube::discovery::pinned_kind(client, &gvk).await {
            out.push(resource);
        }
    }
    out
}

/// `side`'s children of instance `name` (KRO's or kroxide's, by their labels).
async fn children(
    client: &kube::Client,
    kinds: &[ApiResource],
    side: &Side,
    name: &str,
) -> Children {
    let lp = ListParams::default().labels(&side.selector(name));
    let mut out = Children::new();
    for k in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), k);
        let list = api
            .list(&lp)
            .await
            .unwrap_or_else(|e| panic!("listing {}: {e}", k.kind));
        for o in list.items {
            if o.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(INVENTORY_LABEL))
            {
                continue;
            }
            let mut v = serde_json::to_value(&o).unwrap();
            v["apiVersion"] = json!(k.api_version);
            v["kind"] = json!(k.kind);
            let id = o
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(side.id_label()))
                .cloned()
                .unwrap_or_default();
            let mut key = json!(format!(
                "{} {} {}/{}",
                k.api_version,
                k.kind,
                o.metadata.namespace.as_deref().unwrap_or(""),
                o.metadata.name.as_deref().unwrap_or("")
            ));
            substitute(&mut key, &side.own);
            out.insert(
                key.as_str().unwrap().to_string(),
                Child {
                    id,
                    content: desired(&v, side),
                },
            );
        }
    }
    out
}

/// Where `a` (KRO's) and `b` (kroxide's) differ, one line per path.
fn diff(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
    let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), Value::to_string);
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(&p, x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), Some(p), Some(q), out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: KRO {}, kroxide {}", show(a), show(b))),
    }
}

/// Where the children of the two sides differ.
fn children_differences(kro: &Children, direct: &Children, out: &mut Vec<String>) {
    for (k, c) in kro {
        match direct.get(k) {
            None => out.push(format!(
                "child {k} (resource `{}`): KRO created it, kroxide did not",
                c.id
            )),
            Some(d) => {
                if c.id != d.id {
                    out.push(format!(
                        "child {k}: resource id: KRO `{}`, kroxide `{}`",
                        c.id, d.id
                    ));
                }
                let mut lines = Vec::new();
                diff("", Some(&c.content), Some(&d.content), &mut lines);
                out.extend(lines.into_iter().map(|l| format!("child {k}: {l}")));
            }
        }
    }
    for (k, d) in direct {
        if !kro.contains_key(k) {
            out.push(format!(
                "child {k} (resource `{}`): kroxide created it, KRO did not",
                d.id
            ));
        }
    }
}

/// One side's deploy, as compared.
struct Deployed {
    children: Children,
    /// The status fields (comparable).
    status: Value,
    /// The instance's spec after defaulting (comparable).
    spec: Value,
    /// The instance's uid (KRO's).
    uid: Option<String>,
}

/// Deploys `instance` of `rgd` through KRO in `side`'s namespace: kroxide's
/// KRO mode's error, if it gave one, and what KRO made of the instance
/// (read from the cluster even when kroxide's KRO mode gave up waiting).
async fn kro_deploy(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    kinds: &[ApiResource],
    instance: &Value,
    side: &Side,
) -> (Option<KroError>, Option<Deployed>) {
    let name = instance["metadata"]["name"].as_str().unwrap();
    let (error, status) = match kro::deploy(client, rgd, instance, &side.kro_opts()).await {
        Ok(status) => (None, Some(status)),
        Err(e) => (Some(e), None),
    };
    let Ok(live) = kro::instance(client, rgd, name, &side.ns).await else {
        return (error, None);
    };
    let status = status.unwrap_or_else(|| live["status"].clone());
    let deployed = Deployed {
        children: children(client, kinds, side, name).await,
        status: comparable(&status, side),
        spec: comparable(&live["spec"], side),
        uid: live["metadata"]["uid"].as_str().map(String::from),
    };
    (error, Some(deployed))
}

/// Records kroxide's KRO mode's error, and gives what KRO made.
fn kro_outcome(
    (error, deployed): (Option<KroError>, Option<Deployed>),
    problems: &mut Vec<String>,
) -> Option<Deployed> {
    if let Some(e) = error {
        problems.push(format!("kroxide's KRO mode (kro::deploy) failed: {e}"));
    }
    deployed
}

/// Deploys `instance` of `rgd` with kroxide's direct engine in `side`'s namespace.
async fn direct_deploy(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    kinds: &[ApiResource],
    instance: &Value,
    side: &Side,
) -> Result<Deployed, DeployError> {
    let report = DirectEngine::new(client.clone())
        .deploy(rgd, instance, &side.direct_opts())
        .await?;
    let name = instance["metadata"]["name"].as_str().unwrap();
    Ok(Deployed {
        children: children(client, kinds, side, name).await,
        status: comparable(report.status(), side),
        spec: comparable(&report.plan.instance["spec"], side),
        uid: None,
    })
}

/// A direct deploy's outcome, for messages.
fn outcome(d: &Result<Deployed, DeployError>) -> String {
    match d {
        Ok(_) => "deployed".into(),
        Err(e) => format!("failed: {e}"),
    }
}

/// `instance` for `side`: in its namespace (and, when `spec_namespace`, with
/// `spec.namespace` naming it too).
fn instance_for(instance: &Value, side: &Side, spec_namespace: bool) -> Value {
    let mut v = instance.clone();
    v["metadata"]["namespace"] = json!(side.ns);
    if spec_namespace {
        v["spec"]["namespace"] = json!(side.ns);
    }
    v
}

/// Deletes the instance `name` of `rgd` through KRO (then the RGD when
/// `definition`) and checks that KRO removed every child.
async fn kro_delete(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    kinds: &[ApiResource],
    side: &Side,
    name: &str,
    definition: bool,
    problems: &mut Vec<String>,
) {
    match kro::delete(client, rgd, name, definition, &side.kro_opts()).await {
        Ok(report) => {
            if definition && !report.definition_deleted {
                problems.push(format!(
                    "KRO delete kept the RGD {}: {} instance(s) left",
                    rgd.name(),
                    report.instances_left
                ));
            }
        }
        Err(e) => problems.push(format!("KRO delete of {name} failed: {e}")),
    }
    let left = children(client, kinds, side, name).await;
    if !left.is_empty() {
        problems.push(format!(
            "KRO left children of {name}: {:?}",
            left.keys().collect::<Vec<_>>()
        ));
    }
}

/// Deletes the direct instance `name` of `rgd` and checks that nothing is left.
async fn direct_delete(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    kinds: &[ApiResource],
    side: &Side,
    name: &str,
    problems: &mut Vec<String>,
) {
    let engine = DirectEngine::new(client.clone());
    if let Err(e) = engine.delete(rgd.name(), name, &side.direct_opts()).await {
        problems.push(format!("kroxide delete of {name} failed: {e}"));
    }
    let left = children(client, kinds, side, name).await;
    if !left.is_empty() {
        problems.push(format!(
            "kroxide left children of {name}: {:?}",
            left.keys().collect::<Vec<_>>()
        ));
    }
    let secrets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &side.ns, &ar("v1", "Secret", "secrets"));
    let inventory = kroxide::engine::inventory::secret_name(rgd.name(), name);
    if secrets.get_opt(&inventory).await.ok().flatten().is_some() {
        problems.push(format!("kroxide left its inventory Secret {inventory}"));
    }
}

/// Waits until `name` is gone from `api`.
async fn gone(api: &Api<DynamicObject>, name: &str) -> bool {
    let Ok(Some(o)) = api.get_opt(name).await else {
        return true;
    };
    let uid = o.metadata.uid.unwrap_or_default();
    let cond = kube::runtime::wait::conditions::is_deleted(&uid);
    matches!(
        tokio::time::timeout(
            TIMEOUT,
            kube::runtime::wait::await_condition(api.clone(), name, cond)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Deletes the RGD `name` (if there) and the instance CRD KRO generated for
/// it (KRO v0.9.3 keeps CRDs: `allowCRDDeletion` is off), and waits until
/// both are gone: a later RGD of the same kind starts afresh.
async fn drop_definition(client: &kube::Client, name: &str, problems: &mut Vec<String>) {
    let rgds = rgds(client);
    match rgds.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => problems.push(format!("deleting RGD {name}: {e}")),
    }
    if !gone(&rgds, name).await {
        problems.push(format!("RGD {name} still there after {TIMEOUT:?}"));
    }
    let crds = crds(client);
    let lp = ListParams::default().labels(&format!("{KRO_RGD_NAME}={name}"));
    for crd in crds.list(&lp).await.map(|l| l.items).unwrap_or_default() {
        let crd_name = crd.metadata.name.unwrap_or_default();
        let _ = crds.delete(&crd_name, &DeleteParams::default()).await;
        if !gone(&crds, &crd_name).await {
            problems.push(format!("CRD {crd_name} still there after {TIMEOUT:?}"));
        }
    }
}

/// Before a test: an instance CRD that an earlier run left without its RGD
/// goes, so KRO generates it afresh for this run's schema.
async fn fresh_definition(client: &kube::Client, name: &str) {
    if rgds(client).get_opt(name).await.unwrap().is_none() {
        let mut problems = Vec::new();
        drop_definition(client, name, &mut problems).await;
        assert!(problems.is_empty(), "{problems:?}");
    }
}

/// Applies the RGD `raw` as KRO's users do (no instance) and waits until KRO
/// makes it Active.
async fn apply_definition(client: &kube::Client, raw: &Value) {
    let name = raw["metadata"]["name"].as_str().unwrap();
    fresh_definition(client, name).await;
    let rgds = rgds(client);
    rgds.patch(
        name,
        &PatchParams::apply("kroxide-e2e").force(),
        &Patch::Apply(raw),
    )
    .await
    .unwrap_or_else(|e| panic!("applying RGD {name}: {e}"));
    let active = |o: Option<&DynamicObject>| {
        o.is_some_and(|o| {
            o.data.pointer("/status/state") == Some(&json!("Active"))
                && o.data
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "KindReady" && c["status"] == "True")
                    })
        })
    };
    let done = tokio::time::timeout(
        TIMEOUT,
        kube::runtime::wait::await_condition(rgds, name, active),
    )
    .await;
    assert!(
        matches!(done, Ok(Ok(Some(_)))),
        "RGD {name} did not become Active: {done:?}"
    );
}

/// An example that both modes deploy.
struct Example {
    /// Short name: the test's namespaces are `e2e-<name>-...`.
    name: &'static str,
    /// The RGD file, under the examples.
    rgd: &'static str,
    instance: &'static str,
    /// `spec.namespace` names where the children go: it is set to the side's namespace.
    spec_namespace: bool,
}

/// The two sides of test `name`: KRO in `r.ns`, kroxide in `r.extra(0)`.
fn sides(r: &Real, with_tenants: bool) -> (Side, Side) {
    let pid = std::process::id();
    // Static cluster IPs in the low band of 10.0.0.0/16, which the API
    // server leaves to static assignment.
    let ip = |n: u32| format!("10.0.0.{}", 16 + (pid % 110) * 2 + n);
    let tenant = |n: usize| {
        if with_tenants {
            r.extra(n).to_string()
        } else {
            String::new()
        }
    };
    (
        Side::new("KRO", &r.ns, &tenant(1), ip(0)),
        Side::new("kroxide", r.extra(0), &tenant(2), ip(1)),
    )
}

/// Deploys `ex` through KRO (A), then directly (B, with KRO's instance uid),
/// compares, deletes both (KRO: the instance, then the RGD) and fails with
/// every difference.
async fn same_through_kro_and_direct(ex: &Example) {
    let problems = kro_and_direct(ex).await;
    assert!(
        problems.is_empty(),
        "{}: kroxide's direct deploy and KRO disagree:\n  {}",
        ex.name,
        problems.join("\n  ")
    );
}

/// [`same_through_kro_and_direct`]'s work: every problem found.
async fn kro_and_direct(ex: &Example) -> Vec<String> {
    let r = Real::new(ex.name, &["b"]).await;
    let (a, b) = sides(&r, false);
    let (rgd, _) = load_rgd(ex.rgd);
    let instance = load_instance(ex.instance);
    let name = instance["metadata"]["name"].as_str().unwrap().to_string();
    fresh_definition(&r.client, rgd.name()).await;
    let kinds = kinds_of(&r.client, &[&rgd]).await;
    let mut problems = Vec::new();

    let kro_instance = instance_for(&instance, &a, ex.spec_namespace);
    let kro = kro_outcome(
        kro_deploy(&r.client, &rgd, &kinds, &kro_instance, &a).await,
        &mut problems,
    );
    let mut direct_instance = instance_for(&instance, &b, ex.spec_namespace);
    if let Some(Deployed { uid: Some(uid), .. }) = &kro {
        direct_instance["metadata"]["uid"] = json!(uid);
    }
    let direct = direct_deploy(&r.client, &rgd, &kinds, &direct_instance, &b).await;
    match (&kro, &direct) {
        (Some(k), Ok(d)) => {
            compare(&r, &rgd, &name, (k, &a), (d, &b), true, &mut problems).await;
        }
        (None, d) => problems.push(format!("KRO made no instance; kroxide: {}", outcome(d))),
        (Some(_), Err(e)) => problems.push(format!("kroxide's direct deploy failed: {e}")),
    }

    let mut deleted = (Vec::new(), Vec::new());
    tokio::join!(
        kro_delete(&r.client, &rgd, &kinds, &a, &name, true, &mut deleted.0),
        direct_delete(&r.client, &rgd, &kinds, &b, &name, &mut deleted.1),
    );
    let clean = deleted.0.is_empty() && deleted.1.is_empty();
    problems.extend(deleted.0.into_iter().chain(deleted.1));
    drop_definition(&r.client, rgd.name(), &mut problems).await;
    if clean {
        r.cleanup().await;
    }
    problems
}

/// Compares two deploys: children, instance spec after defaults, status.
/// When `reread`, a status difference is re-read from the cluster for a
/// while (controllers may still be writing the children's status).
async fn compare(
    r: &Real,
    rgd: &ResourceGraphDefinition,
    name: &str,
    (k, a): (&Deployed, &Side),
    (d, b): (&Deployed, &Side),
    reread: bool,
    problems: &mut Vec<String>,
) {
    // Shown with --nocapture, and when the test fails.
    eprintln!(
        "{name}: KRO made {:?}\n  status {}\n  spec {}\nkroxide made {:?}\n  status {}\n  spec {}",
        k.children
            .iter()
            .map(|(k, c)| format!("{k} ({})", c.id))
            .collect::<Vec<_>>(),
        k.status,
        k.spec,
        d.children
            .iter()
            .map(|(k, c)| format!("{k} ({})", c.id))
            .collect::<Vec<_>>(),
        d.status,
        d.spec,
    );
    children_differences(&k.children, &d.children, problems);
    let mut lines = Vec::new();
    diff("spec", Some(&k.spec), Some(&d.spec), &mut lines);
    problems.extend(lines.into_iter().map(|l| format!("instance {l}")));
    let (mut ks, mut ds) = (k.status.clone(), d.status.clone());
    if reread && ks != ds {
        let mut lines = Vec::new();
        diff("status", Some(&ks), Some(&ds), &mut lines);
        eprintln!(
            "{name}: the statuses the deploys returned differ; re-reading them:\n  {}",
            lines.join("\n  ")
        );
        let engine = DirectEngine::new(r.client.clone());
        let deadline = Instant::now() + Duration::from_secs(20);
        while ks != ds && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Ok(s) = kro::status(&r.client, rgd, name, &a.ns).await {
                ks = comparable(&s, a);
            }
            if let Ok(s) = engine.status(rgd, name, &b.direct_opts()).await {
                ds = comparable(&s.status, b);
            }
        }
    }
    let mut lines = Vec::new();
    diff("status", Some(&ks), Some(&ds), &mut lines);
    problems.extend(lines.into_iter().map(|l| format!("instance {l}")));
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn additional_printer_columns() {
    same_through_kro_and_direct(&Example {
        name: "apc",
        rgd: "additionalPrinterColumns/rg.yaml",
        instance: "additionalPrinterColumns/instance.yaml",
        spec_namespace: false,
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn dogsvscats_result_app() {
    same_through_kro_and_direct(&Example {
        name: "result",
        rgd: "dogsvscats/result-app/rg.yaml",
        instance: "dogsvscats/result-app/instance.yaml",
        spec_namespace: true,
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn dogsvscats_vote_app() {
    same_through_kro_and_direct(&Example {
        name: "vote",
        rgd: "dogsvscats/vote-app/rg.yaml",
        instance: "dogsvscats/vote-app/instance.yaml",
        spec_namespace: true,
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn dogsvscats_worker_app() {
    same_through_kro_and_direct(&Example {
        name: "worker",
        rgd: "dogsvscats/worker-app/rg.yaml",
        instance: "dogsvscats/worker-app/instance.yaml",
        spec_namespace: true,
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn job_example() {
    same_through_kro_and_direct(&Example {
        name: "job",
        rgd: "job-example/rgd.yaml",
        instance: "job-example/instance.yaml",
        spec_namespace: false,
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn webapp() {
    same_through_kro_and_direct(&Example {
        name: "webapp",
        rgd: "webapp/rg.yaml",
        instance: "webapp/instance.yaml",
        spec_namespace: true,
    })
    .await;
}

/// An RGD without resources: only the instance's defaults to compare.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn defaults() {
    let _turn = SOMETHINGS.lock().await;
    same_through_kro_and_direct(&Example {
        name: "defaults",
        rgd: "defaults/rg.yaml",
        instance: "defaults/instance.yaml",
        spec_namespace: false,
    })
    .await;
}

/// KRO's CEL library. Compared with KRO's instance uid given to the direct
/// instance (so `random.seededString(10, schema.metadata.uid)` must agree);
/// then the example's instance as it is, without a uid, must deploy
/// directly too (KRO always has one), to a seeded string that a redeploy
/// keeps.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn cel_functions() {
    let _turn = SOMETHINGS.lock().await;
    let compared = kro_and_direct(&Example {
        name: "cel",
        rgd: "cel-functions/rg.yaml",
        instance: "cel-functions/instance.yaml",
        spec_namespace: false,
    })
    .await;

    let r = Real::new("cel-nouid", &[]).await;
    let (rgd, _) = load_rgd("cel-functions/rg.yaml");
    let kinds = kinds_of(&r.client, &[&rgd]).await;
    let side = Side::new("kroxide", &r.ns, "", String::new());
    let instance = instance_for(&load_instance("cel-functions/instance.yaml"), &side, false);
    let name = instance["metadata"]["name"].as_str().unwrap().to_string();
    let seeded = |d: &Deployed| {
        d.children
            .values()
            .find(|c| c.id == "deployment")
            .and_then(|c| {
                c.content
                    .pointer("/spec/template/spec/containers/0/env")?
                    .as_array()?
                    .iter()
                    .find(|e| e["name"] == "RANDOM_SEEDED_STRING")?["value"]
                    .as_str()
                    .map(String::from)
            })
    };
    let mut problems = Vec::new();
    match direct_deploy(&r.client, &rgd, &kinds, &instance, &side).await {
        Err(e) => problems.push(format!(
            "the example's instance (no uid) does not deploy directly, as it does through KRO: {e}"
        )),
        Ok(first) => {
            let s = seeded(&first);
            if !s
                .as_ref()
                .is_some_and(|s| s.len() == 10 && s.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                problems.push(format!("RANDOM_SEEDED_STRING: {s:?}, not 10 alphanumerics"));
            }
            match direct_deploy(&r.client, &rgd, &kinds, &instance, &side).await {
                Ok(again) if seeded(&again) == s => {}
                Ok(again) => problems.push(format!(
                    "a redeploy changed RANDOM_SEEDED_STRING from {s:?} to {:?} (KRO's uid, its seed, never changes)",
                    seeded(&again)
                )),
                Err(e) => problems.push(format!("redeploy failed: {e}")),
            }
        }
    }
    direct_delete(&r.client, &rgd, &kinds, &side, &name, &mut problems).await;
    r.cleanup().await;
    assert!(
        compared.is_empty() && problems.is_empty(),
        "cel-functions: kroxide's direct deploy and KRO disagree:\n  {}\nwithout a uid:\n  {}",
        compared.join("\n  "),
        problems.join("\n  ")
    );
}

/// The core-dns example pins the Service's cluster IP to 10.100.123.45,
/// outside this cluster's service range (10.0.0.0/16): KRO accepts the RGD
/// but the instance fails (state ERROR) with the API server's refusal of the
/// Service, and kroxide's direct deploy (to an existing namespace) refuses
/// it in its dry run, writing nothing. With a cluster IP in range (one per
/// side), both deploy the same children; its ClusterRole and
/// ClusterRoleBinding are cluster-scoped with fixed names, so KRO's are
/// deleted before kroxide deploys. The example's default Deployment
/// annotation `deployment.kubernetes.io/revision: "\"1\""` (quotes included)
/// is set to `"1"` there: the deployment controller owns that annotation and
/// rewrites it to `1`, and KRO v0.9.3 re-applies its value on every
/// reconcile, so its instance stays ACTIVE with Ready False ("cluster
/// mutated") for ever, the Deployment's generation climbing by hundreds
/// (kroxide applies once and is done).
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn core_dns() {
    let r = Real::new("coredns", &["b"]).await;
    let (a, b) = sides(&r, false);
    let (rgd, _) = load_rgd("core-dns/core-dns.yaml");
    let instance = load_instance("core-dns/coredns-instance.yaml");
    let name = instance["metadata"]["name"].as_str().unwrap().to_string();
    fresh_definition(&r.client, rgd.name()).await;
    let kinds = kinds_of(&r.client, &[&rgd]).await;
    let mut problems = Vec::new();

    // As the example is: both refuse the Service's address.
    match kro::deploy(
        &r.client,
        &rgd,
        &instance_for(&instance, &a, true),
        &a.kro_opts(),
    )
    .await
    {
        Err(KroError::InstanceError { message, .. })
            if message.contains("Service \"mynameis\" is invalid")
                && message.contains("10.100.123.45") =>
        {
            eprintln!("KRO, as expected: {message}")
        }
        other => problems.push(format!(
            "KRO: expected the instance to fail on the Service's cluster IP, got {other:?}"
        )),
    }
    kro_delete(&r.client, &rgd, &kinds, &a, &name, false, &mut problems).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(r.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": b.ns}})).unwrap(),
        )
        .await
        .unwrap();
    match direct_deploy(
        &r.client,
        &rgd,
        &kinds,
        &instance_for(&instance, &b, true),
        &b,
    )
    .await
    {
        Err(e)
            if matches!(&e, DeployError::DryRun { id, message, .. }
                if id == "service" && message.contains("10.100.123.45")) =>
        {
            eprintln!("kroxide, as expected: {e}")
        }
        Err(e) => problems.push(format!(
            "kroxide: expected a dry-run refusal of resource `service`, got: {e}"
        )),
        Ok(_) => problems.push("kroxide deployed a Service outside the service range".into()),
    }
    let written = children(&r.client, &kinds, &b, &name).await;
    if !written.is_empty() {
        problems.push(format!(
            "kroxide's refused deploy wrote {:?}",
            written.keys().collect::<Vec<_>>()
        ));
    }
    let secrets: Api<DynamicObject> =
        Api::namespaced_with(r.client.clone(), &b.ns, &ar("v1", "Secret", "secrets"));
    let inventory = kroxide::engine::inventory::secret_name(rgd.name(), &name);
    if secrets.get_opt(&inventory).await.unwrap().is_some() {
        problems.push("kroxide's refused deploy wrote its inventory".into());
    }

    // With a cluster IP in range: the same children.
    let pinned = |side: &Side| {
        let mut v = instance_for(&instance, side, true);
        v["spec"]["values"]["service"]["clusterIP"] = json!(side.cluster_ip);
        v["spec"]["values"]["service"]["clusterIPs"] = json!([side.cluster_ip]);
        v["spec"]["values"]["deployment"]["annotations"] =
            json!({"deployment.kubernetes.io/revision": "1"});
        v
    };
    let kro = kro_outcome(
        kro_deploy(&r.client, &rgd, &kinds, &pinned(&a), &a).await,
        &mut problems,
    );
    kro_delete(&r.client, &rgd, &kinds, &a, &name, false, &mut problems).await;
    let mut direct_instance = pinned(&b);
    if let Some(Deployed { uid: Some(uid), .. }) = &kro {
        direct_instance["metadata"]["uid"] = json!(uid);
    }
    let direct = direct_deploy(&r.client, &rgd, &kinds, &direct_instance, &b).await;
    match (&kro, &direct) {
        (Some(k), Ok(d)) => compare(&r, &rgd, &name, (k, &a), (d, &b), false, &mut problems).await,
        (None, d) => problems.push(format!(
            "KRO made no instance (cluster IP in range); kroxide: {}",
            outcome(d)
        )),
        (Some(_), Err(e)) => problems.push(format!(
            "kroxide's direct deploy (cluster IP in range) failed: {e}"
        )),
    }
    let mut deleted = Vec::new();
    direct_delete(&r.client, &rgd, &kinds, &b, &name, &mut deleted).await;
    kro_delete(&r.client, &rgd, &kinds, &a, &name, true, &mut deleted).await;
    let clean = deleted.is_empty();
    problems.extend(deleted);
    drop_definition(&r.client, rgd.name(), &mut problems).await;
    if clean {
        r.cleanup().await;
    }
    assert!(
        problems.is_empty(),
        "core-dns:\n  {}",
        problems.join("\n  ")
    );
}

/// The children of the nested instances of `side`'s Tenant (KRO's, named
/// by its tenantId).
async fn grandchildren(client: &kube::Client, kinds: &[ApiResource], side: &Side) -> Children {
    let kro_side = Side::new("KRO", &side.ns, &side.tenant, side.cluster_ip.clone());
    children(client, kinds, &kro_side, &side.tenant).await
}

/// saas-multi-tenant chains RGDs: a Tenant's resources are a
/// TenantEnvironment and a TenantApplication, instances of two other RGDs,
/// which are deployed through KRO first (kroxide's direct mode deploys one
/// graph; the kinds of the others must be served). KRO then reconciles the
/// nested instances of both sides, creating each side's tenant namespace
/// (its tenantId, one per side) with a quota, a network policy, a
/// Deployment and a Service: those grandchildren are compared too.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn saas_multi_tenant() {
    let r = Real::new("saas", &["b", "ta", "tb"]).await;
    let (a, b) = sides(&r, true);
    let deps: Vec<(ResourceGraphDefinition, Value)> = [
        "saas-multi-tenant/tenant-environment-rgd.yaml",
        "saas-multi-tenant/tenant-application-rgd.yaml",
    ]
    .into_iter()
    .map(load_rgd)
    .collect();
    for (_, raw) in &deps {
        apply_definition(&r.client, raw).await;
    }
    let (rgd, _) = load_rgd("saas-multi-tenant/tenant-rgd.yaml");
    fresh_definition(&r.client, rgd.name()).await;
    let instance = load_instance("saas-multi-tenant/tenant-instance.yaml");
    let name = instance["metadata"]["name"].as_str().unwrap().to_string();
    let kinds = kinds_of(&r.client, &[&rgd]).await;
    assert_eq!(
        kinds.len(),
        2,
        "TenantEnvironment and TenantApplication are served"
    );
    let dep_rgds: Vec<&ResourceGraphDefinition> = deps.iter().map(|(g, _)| g).collect();
    let grandkinds = kinds_of(&r.client, &dep_rgds).await;
    let tenant = |side: &Side| {
        let mut v = instance_for(&instance, side, false);
        v["spec"]["tenantId"] = json!(side.tenant);
        v
    };
    let mut problems = Vec::new();

    let kro = kro_outcome(
        kro_deploy(&r.client, &rgd, &kinds, &tenant(&a), &a).await,
        &mut problems,
    );
    let mut direct_instance = tenant(&b);
    if let Some(Deployed { uid: Some(uid), .. }) = &kro {
        direct_instance["metadata"]["uid"] = json!(uid);
    }
    let direct = direct_deploy(&r.client, &rgd, &kinds, &direct_instance, &b).await;
    match (&kro, &direct) {
        (Some(k), Ok(d)) => {
            compare(&r, &rgd, &name, (k, &a), (d, &b), true, &mut problems).await;
            // Both sides' nested instances are KRO's to reconcile, after
            // the Tenant is ready (KRO, like kroxide, counts a child ready
            // once it exists): the TenantApplication's Deployment and
            // Service come once the TenantEnvironment's namespace exists.
            let grand = || async {
                (
                    grandchildren(&r.client, &grandkinds, &a).await,
                    grandchildren(&r.client, &grandkinds, &b).await,
                )
            };
            let deadline = Instant::now() + TIMEOUT;
            let (mut gk, mut gd) = grand().await;
            while (gk.len() < 5 || gd.len() < 5) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(250)).await;
                (gk, gd) = grand().await;
            }
            if gk.len() != 5 {
                problems.push(format!(
                    "KRO's nested instances made {:?}, not 5 objects",
                    gk.keys().collect::<Vec<_>>()
                ));
            }
            // kroxide's plan of the same Tenant through both inner RGDs
            // names exactly the objects KRO's nested instances made.
            let all: Vec<&ResourceGraphDefinition> =
                deps.iter().map(|(g, _)| g).chain([&rgd]).collect();
            let set = kroxide::semantics::chain::RgdSet::new(all).unwrap();
            let planned = set
                .plan(
                    &rgd,
                    &tenant(&a),
                    &kroxide::semantics::plan::PlanOptions {
                        namespace: a.ns.clone(),
                        ..Default::default()
                    },
                )
                .unwrap_or_else(|e| panic!("{e}"));
            let mut want = BTreeSet::new();
            for inner in planned.resources.iter().flat_map(|r| &r.expanded) {
                for o in inner.resources.iter().flat_map(|r| &r.objects) {
                    let mut key = json!(format!(
                        "{} {} {}/{}",
                        o["apiVersion"].as_str().unwrap_or(""),
                        o["kind"].as_str().unwrap_or(""),
                        o["metadata"]["namespace"].as_str().unwrap_or(""),
                        o["metadata"]["name"].as_str().unwrap_or("")
                    ));
                    substitute(&mut key, &a.own);
                    want.insert(key.as_str().unwrap().to_string());
                }
            }
            let made: BTreeSet<String> = gk.keys().cloned().collect();
            if want != made {
                problems.push(format!(
                    "kroxide plans the nested instances' objects as {want:?}; KRO made {made:?}"
                ));
            }
            let mut lines = Vec::new();
            children_differences(&gk, &gd, &mut lines);
            problems.extend(lines.into_iter().map(|l| format!("grand{l}")));
        }
        (None, d) => problems.push(format!("KRO made no instance; kroxide: {}", outcome(d))),
        (Some(_), Err(e)) => problems.push(format!("kroxide's direct deploy failed: {e}")),
    }

    let mut deleted = (Vec::new(), Vec::new());
    tokio::join!(
        kro_delete(&r.client, &rgd, &kinds, &a, &name, true, &mut deleted.0),
        direct_delete(&r.client, &rgd, &kinds, &b, &name, &mut deleted.1),
    );
    let mut clean = deleted.0.is_empty() && deleted.1.is_empty();
    problems.extend(deleted.0.into_iter().chain(deleted.1));
    // The nested instances' children go with them (the tenant namespace
    // may take a moment to finish terminating).
    for side in [&a, &b] {
        let deadline = Instant::now() + TIMEOUT;
        let mut left = grandchildren(&r.client, &grandkinds, side).await;
        while !left.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            left = grandchildren(&r.client, &grandkinds, side).await;
        }
        if !left.is_empty() {
            clean = false;
            problems.push(format!(
                "{} side: the nested instances' objects are left: {:?}",
                side.who,
                left.keys().collect::<Vec<_>>()
            ));
        }
    }
    drop_definition(&r.client, rgd.name(), &mut problems).await;
    for (dep, _) in &deps {
        drop_definition(&r.client, dep.name(), &mut problems).await;
    }
    if clean {
        r.cleanup().await;
    }
    assert!(
        problems.is_empty(),
        "saas-multi-tenant: kroxide's direct deploy and KRO disagree:\n  {}",
        problems.join("\n  ")
    );
}
