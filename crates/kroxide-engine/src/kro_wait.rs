//! KRO mode's waits: an instance is healthy only when KRO says so *and* the
//! children say so, and it is gone only when KRO has removed every child.
//!
//! A real KRO marks an instance `ACTIVE` with `Ready` true as soon as its
//! children exist (it treats a child without `readyWhen` as ready when it
//! exists), and fills the status fields later, as the children's status
//! changes. So the instance's state alone says nothing about a Deployment's
//! pods. The wait watches the instance and its children (selected by KRO's
//! `kro.run/instance-name` label) and ends when the instance is `ACTIVE` and
//! Ready for its current generation, every child that the graph resolves to
//! exists and is ready by the same rules as a direct deploy, and KRO has
//! written every status field the graph computes from those children.

use crate::kro::{KroError, KroOptions};
use crate::progress::Event;
use crate::Served;
use futures::{FutureExt, StreamExt};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::plan::{readiness_of, Action, Observed, PlanOptions, Planner};
use kroxide_semantics::readiness::{kind_readiness, KindReadiness};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::TypeMeta;
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// KRO's labels on the children of an instance.
const INSTANCE_NAME: &str = "kro.run/instance-name";
const INSTANCE_NAMESPACE: &str = "kro.run/instance-namespace";
const NODE_ID: &str = "kro.run/node-id";
const COLLECTION_INDEX: &str = "kro.run/collection-index";

/// How long the status KRO wrote may differ from what kroxide computes on
/// the same children, once everything else is healthy, before KRO's is
/// taken as it is (KRO is the reference; the difference is kroxide's).
const STATUS_GRACE: Duration = Duration::from_secs(5);

/// The kinds of the graph's resources, for watching children.
fn child_kinds(rgd: &ResourceGraphDefinition, served: &Served) -> Vec<ApiResource> {
    let mut seen = BTreeSet::new();
    rgd.spec
        .resources
        .iter()
        .filter(|r| r.external_ref.is_none())
        .filter_map(|r| served.resolve(r.api_version()?, r.kind()?))
        .filter(|k| seen.insert((k.resource.api_version.clone(), k.resource.kind.clone())))
        .map(|k| k.resource)
        .collect()
}

fn selector(instance: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{INSTANCE_NAME}={instance},{INSTANCE_NAMESPACE}={ns}"),
        None => format!("{INSTANCE_NAME}={instance}"),
    }
}

/// What changed: the instance, or a child of kind number `usize`.
enum Change {
    Instance(watcher::Event<DynamicObject>),
    Child(usize, watcher::Event<DynamicObject>),
}

/// Where the wait stands.
enum Verdict {
    Healthy(Value),
    Waiting(String),
    /// Everything is healthy but KRO's status differs from kroxide's.
    StatusDiffers(Value, String),
}

/// Waits until instance `name` is healthy (see the module documentation)
/// and returns its status as KRO wrote it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn healthy(
    client: &kube::Client,
    planner: &Planner<'_>,
    served: &Served,
    instances: Api<DynamicObject>,
    name: &str,
    namespaced: bool,
    opts: &KroOptions,
) -> Result<Value, KroError> {
    let rgd = planner.rgd();
    let kinds = child_kinds(rgd, served);
    let sel = selector(name, namespaced.then_some(opts.namespace.as_str()));
    let mut streams = Vec::new();
    let instance_cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
    streams.push(
        watcher(instances, instance_cfg)
            .map(|e| e.map(Change::Instance))
            .boxed(),
    );
    for (i, k) in kinds.iter().enumerate() {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), k);
        let cfg = watcher::Config::default().labels(&sel);
        streams.push(
            watcher(api, cfg)
                .map(move |e| e.map(|e| Change::Child(i, e)))
                .boxed(),
        );
    }
    // Whether each watch (the instance's, then each kind's) has listed
    // what is there: judging before would plan the whole graph against a
    // part of its children, for nothing, once per watch.
    let mut listed = vec![false; streams.len()];
    let mut changes = futures::stream::select_all(streams);
    let mut instance: Option<Value> = None;
    // (kind number, namespace, name) -> child
    let mut children: BTreeMap<(usize, Option<String>, String), Value> = BTreeMap::new();
    let mut reported = Reported::default();
    let deadline = Instant::now() + opts.timeout;
    let mut differs_since: Option<Instant> = None;
    let mut why = "the instance has not been seen yet".to_string();
    let mut errors = 0u32;
    let external_refs = crate::external_refs(rgd);
    let mut externals: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut next_externals = Instant::now();
    // New Warning events of children that are not ready, as a direct deploy shows them.
    let mut warnings = crate::events::Warnings::new();
    let mut next_warnings = Instant::now() + crate::wait::WARNINGS_AFTER;
    loop {
        let next = tokio::time::timeout_at(
            deadline.min(Instant::now() + Duration::from_millis(500)),
            changes.next(),
        );
        let mut batch = match next.await {
            Ok(Some(first)) => vec![first],
            Ok(None) => return Err(timeout(name, opts, &why)),
            Err(_) => Vec::new(),
        };
        // Every change already there is taken before the instance is judged
        // again: a watch's first list gives each child as its own event, and
        // judging (a plan of the whole graph) after each one made waiting
        // on n children cost n plans.
        if !batch.is_empty() {
            while let Some(Some(more)) = changes.next().now_or_never() {
                batch.push(more);
            }
        }
        for change in batch {
            match change {
                Ok(change) => {
                    errors = 0;
                    apply_change(change, &kinds, &mut instance, &mut children, &mut listed)
                }
                Err(e) => {
                    errors += 1;
                    let source = crate::wait::watch_error(e);
                    if crate::wait::watch_gives_up(&source, errors) {
                        return Err(KroError::Api {
                            what: format!("watching instance {name} and its resources"),
                            source,
                        });
                    }
                    tracing::warn!(error = %crate::retry::brief(&source), "watch failed; watching again");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(errors))).await;
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(timeout(name, opts, &why));
        }
        let Some(inst) = &instance else { continue };
        if listed.contains(&false) {
            why = "listing the instance's resources".to_string();
            continue;
        }
        // What the graph reads but KRO does not make (externalRef): read as
        // KRO reads it, again while one is missing.
        if externals.len() < external_refs.len() && Instant::now() >= next_externals {
            next_externals = Instant::now() + Duration::from_secs(1);
            externals = read_externals(client, &external_refs, served, &opts.namespace).await;
        }
        match judge(
            planner,
            rgd,
            inst,
            &children,
            &externals,
            opts,
            &mut reported,
        )? {
            Verdict::Healthy(status) => return Ok(status),
            Verdict::Waiting(w) => {
                differs_since = None;
                why = w;
            }
            Verdict::StatusDiffers(status, w) => {
                let since = *differs_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STATUS_GRACE {
                    tracing::debug!(difference = %w, "KRO's status differs from kroxide's; KRO's is reported");
                    return Ok(status);
                }
                why = w;
            }
        }
        if Instant::now() >= next_warnings {
            next_warnings = Instant::now() + crate::wait::WARNINGS_EVERY;
            let objects: Vec<(String, String, String, String)> = children
                .iter()
                .filter_map(|((i, ns, obj), c)| {
                    let kind = &kinds[*i].kind;
                    if kind_readiness(kind, c).is_ready() {
                        return None;
                    }
                    let id = c
                        .pointer(&format!("/metadata/labels/{}", NODE_ID.replace('/', "~1")))
                        .and_then(Value::as_str)?;
                    let ns = ns.clone().unwrap_or_else(|| opts.namespace.clone());
                    Some((ns, id.to_string(), kind.clone(), obj.clone()))
                })
                .collect();
            if !objects.is_empty() {
                warnings
                    .report(client, &objects, Duration::from_secs(30), &opts.progress)
                    .await;
            }
        }
    }
}

/// The objects `refs` name, as they are now (those that exist).
pub(crate) async fn read_externals(
    client: &kube::Client,
    refs: &[(&str, &kroxide_model::ExternalRef)],
    served: &Served,
    namespace: &str,
) -> BTreeMap<String, Vec<Value>> {
    let engine = crate::DirectEngine::new(client.clone());
    let opts = crate::DeployOptions {
        namespace: namespace.to_string(),
        ..crate::DeployOptions::default()
    };
    let mut out = BTreeMap::new();
    for (id, ext) in refs {
        let Some(kind) = served.resolve(&ext.api_version, &ext.kind) else {
            continue;
        };
        if let Ok(found) = engine
            .read_external(id, ext, &kind, true, false, &opts)
            .await
        {
            if !found.is_empty() {
                out.insert(id.to_string(), found);
            }
        }
    }
    out
}

fn timeout(name: &str, opts: &KroOptions, why: &str) -> KroError {
    KroError::Timeout {
        what: format!("instance {name} to become healthy ({why})"),
        seconds: opts.timeout.as_secs(),
    }
}

/// Takes `change` into what is known; `listed[w]` tells whether watch `w`
/// (0: the instance's, `i + 1`: kind `i`'s) has listed what is there, and
/// not started over since.
fn apply_change(
    change: Change,
    kinds: &[ApiResource],
    instance: &mut Option<Value>,
    children: &mut BTreeMap<(usize, Option<String>, String), Value>,
    listed: &mut [bool],
) {
    let to_value = |o: DynamicObject| serde_json::to_value(o).ok();
    match &change {
        Change::Instance(watcher::Event::Init) => listed[0] = false,
        Change::Instance(watcher::Event::InitDone) => listed[0] = true,
        Change::Child(i, watcher::Event::Init) => listed[i + 1] = false,
        Change::Child(i, watcher::Event::InitDone) => listed[i + 1] = true,
        _ => {}
    }
    match change {
        Change::Instance(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
            *instance = to_value(o)
        }
        Change::Instance(watcher::Event::Delete(_)) => *instance = None,
        Change::Instance(_) => {}
        Change::Child(i, e) => match e {
            watcher::Event::Apply(mut o) | watcher::Event::InitApply(mut o) => {
                o.types = Some(TypeMeta {
                    api_version: kinds[i].api_version.clone(),
                    kind: kinds[i].kind.clone(),
                });
                let key = (
                    i,
                    o.metadata.namespace.clone(),
                    o.metadata.name.clone().unwrap_or_default(),
                );
                if let Some(v) = to_value(o) {
                    children.insert(key, v);
                }
            }
            watcher::Event::Delete(o) => {
                children.remove(&(
                    i,
                    o.metadata.namespace.clone(),
                    o.metadata.name.clone().unwrap_or_default(),
                ));
            }
            // A relist: what it lists replaces what was known of that kind.
            watcher::Event::Init => children.retain(|k, _| k.0 != i),
            watcher::Event::InitDone => {}
        },
    }
}

/// What was already reported, so each change is reported once.
#[derive(Default)]
struct Reported {
    ready: BTreeSet<String>,
    counts: BTreeMap<String, (u64, u64)>,
}

/// Where instance `inst` stands.
fn judge(
    planner: &Planner<'_>,
    rgd: &ResourceGraphDefinition,
    inst: &Value,
    children: &BTreeMap<(usize, Option<String>, String), Value>,
    externals: &BTreeMap<String, Vec<Value>>,
    opts: &KroOptions,
    reported: &mut Reported,
) -> Result<Verdict, KroError> {
    let name = kroxide_model::meta_str(inst, "name")
        .unwrap_or("")
        .to_string();
    let status = inst.get("status").cloned().unwrap_or(Value::Null);
    let generation = inst
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let state = status.get("state").and_then(Value::as_str).unwrap_or("");
    let ready = status
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    // With author-defined conditions KRO writes only the author's to
    // `status.conditions` (its own Ready is computed, not written, and the
    // state follows it): the state decides, and any condition tells which
    // generation KRO has seen.
    let authored = rgd
        .spec
        .schema
        .status
        .as_ref()
        .is_some_and(|s| s.contains_key("conditions"));
    let seen = if authored {
        status
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .filter_map(|c| c["observedGeneration"].as_i64())
                    .max()
            })
    } else {
        ready.and_then(|c| c["observedGeneration"].as_i64())
    };
    let current = seen.is_none_or(|g| g >= generation);
    if current && matches!(state, "ERROR" | "FAILED") {
        let message = ready
            .and_then(|c| c["message"].as_str())
            .unwrap_or("")
            .to_string();
        return Err(KroError::InstanceError { name, message });
    }
    let ready_true = authored || ready.is_some_and(|c| c["status"] == "True");
    if !(current && state == "ACTIVE" && ready_true) {
        let state = if state.is_empty() {
            "not reconciled yet"
        } else {
            state
        };
        let why = ready
            .filter(|c| c["status"] != "True")
            .and_then(|c| c["message"].as_str())
            .filter(|m| !m.is_empty())
            .map(|m| format!(", not Ready: {m}"))
            .unwrap_or_default();
        return Ok(Verdict::Waiting(format!("KRO reports it {state}{why}")));
    }
    // The children by resource id, in forEach order.
    let mut by_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for c in children.values() {
        let id = c
            .pointer(&format!("/metadata/labels/{}", NODE_ID.replace('/', "~1")))
            .and_then(Value::as_str);
        if let Some(id) = id {
            by_id.entry(id).or_default().push(c);
        }
    }
    let index = |c: &Value| {
        c.pointer(&format!(
            "/metadata/labels/{}",
            COLLECTION_INDEX.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(0)
    };
    for list in by_id.values_mut() {
        list.sort_by_key(|c| index(c));
    }
    let mut observed = Observed::default();
    for (id, list) in &by_id {
        for c in list {
            observed.insert(id, (*c).clone());
        }
    }
    for (id, objs) in externals {
        observed.replace(id, objs.clone());
    }
    // The live instance: it has what the API server gave it (its uid,
    // which random.seededString and the like read), and KRO plans with it.
    let mut live_instance = inst.clone();
    if let Some(m) = live_instance.as_object_mut() {
        m.remove("status");
    }
    let plan = planner
        .plan(
            &live_instance,
            &PlanOptions {
                namespace: opts.namespace.clone(),
                observed,
                ..PlanOptions::default()
            },
        )
        .map_err(crate::DeployError::from)?;
    let mut waiting = None;
    for r in &plan.resources {
        match r.action {
            Action::Skip | Action::Read => continue,
            Action::Wait | Action::Fail => {
                waiting.get_or_insert_with(|| {
                    format!("{}: {}", r.id, r.reason.clone().unwrap_or_default())
                });
                continue;
            }
            Action::Apply => {}
        }
        let live: Vec<Value> = by_id
            .get(r.id.as_str())
            .map(|l| l.iter().map(|c| (*c).clone()).collect())
            .unwrap_or_default();
        if live.len() < r.objects.len() {
            waiting.get_or_insert_with(|| {
                format!(
                    "{}: {} of {} objects exist",
                    r.id,
                    live.len(),
                    r.objects.len()
                )
            });
            continue;
        }
        let resource = rgd.resource(&r.id).expect("resource of the graph");
        match readiness_of(resource, &live) {
            KindReadiness::Failed(reason) => {
                return Err(KroError::ChildFailed {
                    name,
                    id: r.id.clone(),
                    kind: resource.kind().unwrap_or("").to_string(),
                    object: live
                        .first()
                        .and_then(|o| kroxide_model::meta_str(o, "name"))
                        .unwrap_or("")
                        .to_string(),
                    reason,
                })
            }
            KindReadiness::Waiting(why) => {
                if let Some(c) = live.iter().find_map(crate::wait::replica_count) {
                    if reported.counts.insert(r.id.clone(), c) != Some(c) {
                        opts.progress.emit(Event::Waiting {
                            id: r.id.clone(),
                            ready: c.0,
                            total: c.1,
                        });
                    }
                }
                waiting.get_or_insert_with(|| format!("{}: {why}", r.id));
            }
            _ => {
                if reported.ready.insert(r.id.clone()) {
                    opts.progress.emit(Event::Ready { id: r.id.clone() });
                }
            }
        }
    }
    if let Some(w) = waiting {
        return Ok(Verdict::Waiting(w));
    }
    // Every status field computed from these children, as KRO wrote it.
    let mut differences = Vec::new();
    compare(&plan.status, &status, "status", &mut differences);
    // A status field that reads what a controller writes a moment after
    // its object counts as ready (an operator's status of a custom
    // resource): given the same grace as in direct mode, for the
    // controller to write it and KRO (which requeues while a status
    // expression cannot resolve) to copy it.
    if let Some((field, why)) = plan.pending.iter().next() {
        differences.push(format!("{field} is pending: {why}"));
    }
    match differences.first() {
        None => Ok(Verdict::Healthy(status)),
        Some(d) => Ok(Verdict::StatusDiffers(status.clone(), d.clone())),
    }
}

/// Where `got` lacks or differs from a leaf of `want`.
fn compare(want: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match want {
        Value::Object(m) => {
            for (k, w) in m {
                let p = format!("{path}.{k}");
                match got.get(k) {
                    Some(g) => compare(w, g, &p, out),
                    None => out.push(format!("KRO has not written {p} yet")),
                }
            }
        }
        w if w != got => out.push(format!(
            "KRO's {path} differs from the status computed from the live objects"
        )),
        _ => {}
    }
}

/// The children of instance `name` (by KRO's labels): for each, how it is
/// shown, its resource id, kind and name.
pub(crate) type Children = BTreeMap<String, (String, String, String)>;

/// Lists the children KRO labelled for instance `name`.
pub(crate) async fn children(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    served: &Served,
    name: &str,
    namespace: Option<&str>,
) -> Result<Children, KroError> {
    let lp = ListParams::default().labels(&selector(name, namespace));
    let mut out = BTreeMap::new();
    for k in child_kinds(rgd, served) {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &k);
        let list = crate::retry::retry(Duration::from_secs(30), || api.list_metadata(&lp))
            .await
            .map_err(|source| KroError::Api {
                what: format!("listing the {} objects of {name}", k.kind),
                source,
            })?;
        for o in list.items {
            let id = o
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(NODE_ID))
                .cloned()
                .unwrap_or_default();
            let obj = o.metadata.name.clone().unwrap_or_default();
            let shown = match &o.metadata.namespace {
                Some(ns) => format!("{}/{obj} in {ns} ({id})", k.kind),
                None => format!("{}/{obj} ({id})", k.kind),
            };
            out.insert(shown, (id, k.kind.clone(), obj));
        }
    }
    Ok(out)
}

/// The children KRO made for instance `name`, whole, by resource id (its
/// `kro.run/node-id` label), each collection in its forEach order.
pub(crate) async fn live_children(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    served: &Served,
    name: &str,
    namespace: Option<&str>,
) -> Result<BTreeMap<String, Vec<Value>>, KroError> {
    let lp = ListParams::default().labels(&selector(name, namespace));
    let mut out: BTreeMap<String, Vec<(usize, Value)>> = BTreeMap::new();
    for k in child_kinds(rgd, served) {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &k);
        let list = crate::retry::retry(Duration::from_secs(30), || api.list(&lp))
            .await
            .map_err(|source| KroError::Api {
                what: format!("listing the {} objects of {name}", k.kind),
                source,
            })?;
        for mut o in list.items {
            o.types = Some(TypeMeta {
                api_version: k.api_version.clone(),
                kind: k.kind.clone(),
            });
            let labels = o.metadata.labels.clone().unwrap_or_default();
            let Some(id) = labels.get(NODE_ID) else {
                continue;
            };
            let index = labels
                .get(COLLECTION_INDEX)
                .and_then(|i| i.parse().ok())
                .unwrap_or(0);
            if let Ok(v) = serde_json::to_value(&o) {
                out.entry(id.clone()).or_default().push((index, v));
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(id, mut objs)| {
            objs.sort_by_key(|(i, _)| *i);
            (id, objs.into_iter().map(|(_, v)| v).collect())
        })
        .collect())
}

/// Waits until KRO has removed every child of instance `name` and the
/// instance itself, reporting each child of `before` (listed before the
/// instance was deleted) as it goes; on timeout, says what is left.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn children_gone(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    served: &Served,
    instances: &Api<DynamicObject>,
    name: &str,
    namespace: Option<&str>,
    before: Children,
    opts: &KroOptions,
) -> Result<(), KroError> {
    let deadline = Instant::now() + opts.timeout;
    let mut known = before;
    loop {
        let left = children(client, rgd, served, name, namespace).await?;
        for (shown, (id, kind, obj)) in &known {
            if !left.contains_key(shown) {
                opts.progress.emit(Event::Deleted {
                    id: id.clone(),
                    kind: kind.clone(),
                    name: obj.clone(),
                });
            }
        }
        let instance_left =
            crate::retry::retry(Duration::from_secs(30), || instances.get_metadata_opt(name))
                .await
                .map_err(|source| KroError::Api {
                    what: format!("reading instance {name}"),
                    source,
                })?
                .is_some();
        if left.is_empty() && !instance_left {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut left: Vec<String> = left.into_keys().collect();
            if instance_left {
                left.push(format!("the instance {name} itself (KRO's finalizer)"));
            }
            return Err(KroError::DeleteTimeout {
                name: name.to_string(),
                seconds: opts.timeout.as_secs(),
                left,
            });
        }
        known = left;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
