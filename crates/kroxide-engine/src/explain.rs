//! `explain`: why a deployed instance is (not) ready, resource by resource.
//!
//! The answer to "why is my instance not ready" (kro#458, kro#1071) needs
//! the graph, the recorded spec and the live objects at once, which is what
//! the direct engine holds: each resource in dependency order with its
//! live state, the rule that decides its readiness (its readyWhen, or its
//! kind's rule) and what that rule waits on, why includeWhen left it out,
//! which status fields are still pending and on what, and the newest
//! Kubernetes events of every object that is not ready.

use crate::events::{self, ObjectEvent};
use crate::kro::{KroError, KroOptions};
use crate::observe::ResourceStatus;
use crate::progress::ResourceState;
use crate::{DeployError, DeployOptions, DirectEngine};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::plan::{plan, Action, Observed, Plan, PlanError, PlanOptions, Planner};
use kroxide_semantics::readiness::kind_rule;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// How many events `explain` shows per object that is not ready.
pub const EVENTS_SHOWN: usize = 5;

/// One resource of an explained instance.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainedResource {
    /// Resource id in the graph.
    pub id: String,
    /// Kind of its objects.
    pub kind: String,
    /// Names of its live objects.
    pub names: Vec<String>,
    /// Its dependency wave (0: reads no other resource).
    pub wave: usize,
    /// The resources it reads.
    pub depends_on: Vec<String>,
    /// Ready, applied and not ready, not applied, or excluded.
    pub state: ResourceState,
    /// What it waits on, why it failed, or why it was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What decides that it is ready: `readyWhen: ...`, its kind's rule, or
    /// that it is ready once it exists.
    pub rule: String,
    /// Its includeWhen conditions, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include_when: Vec<String>,
    /// The newest events of its objects, when it is not ready.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ObjectEvent>,
}

/// Why a deployed instance is (not) ready.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The graph (RGD name).
    pub graph: String,
    /// The instance's name.
    pub instance: String,
    /// The instance's namespace.
    pub namespace: String,
    /// Every resource that should exist is ready.
    pub ready: bool,
    /// In dependency order (wave by wave).
    pub resources: Vec<ExplainedResource>,
    /// KRO mode: KRO's own verdict on the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kro: Option<KroVerdict>,
    /// Status fields that cannot be computed yet, with what they wait on.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, String>,
    /// The status computed on the live objects (may hold Secret values:
    /// mask before showing).
    #[serde(skip)]
    pub status: Value,
    /// The instance as last deployed (may hold Secret values).
    #[serde(skip)]
    pub deployed: Value,
    /// The live objects by resource id (may hold Secret values).
    #[serde(skip)]
    pub live: BTreeMap<String, Vec<Value>>,
}

/// What KRO says of an instance (KRO mode).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KroVerdict {
    /// `status.state`: ACTIVE, IN_PROGRESS, ERROR...
    pub state: String,
    /// `status.conditions`: type, status, reason, message.
    pub conditions: Vec<Value>,
}

/// Where each resource of `p` (a plan against `live`) stands: those it
/// writes, and those it reads (externalRef).
fn statuses(
    rgd: &ResourceGraphDefinition,
    p: &Plan,
    live: &BTreeMap<String, Vec<Value>>,
) -> Vec<ResourceStatus> {
    let mut statuses = crate::observe::resource_statuses(rgd, p, live);
    // What the graph reads but never writes (externalRef): there when it
    // exists; a missing one is a common reason an instance waits.
    for r in p.resources.iter().filter(|r| r.action == Action::Read) {
        let Some(ext) = rgd.resource(&r.id).and_then(|x| x.external_ref.as_ref()) else {
            continue;
        };
        let found = live.get(&r.id).map(Vec::as_slice).unwrap_or_default();
        let names: Vec<String> = found
            .iter()
            .filter_map(|o| kroxide_model::meta_str(o, "name").map(String::from))
            .collect();
        let what = ext
            .metadata
            .name
            .clone()
            .unwrap_or_else(|| "matching its selector".into());
        statuses.push(ResourceStatus {
            id: r.id.clone(),
            kind: ext.kind.clone(),
            names,
            state: if found.is_empty() {
                ResourceState::NotApplied
            } else {
                ResourceState::Ready
            },
            detail: found.is_empty().then(|| {
                format!(
                    "the external {} {what} does not exist: the graph reads it and waits for it, never creates it",
                    ext.kind
                )
            }),
        });
    }
    statuses
}

/// Explains instance `instance` (as deployed: `deployed`) from its plan `p`
/// against `live` and where its resources stand (`statuses`), with the
/// namespace's `events`.
#[allow(clippy::too_many_arguments)]
fn explanation(
    rgd: &ResourceGraphDefinition,
    instance: &str,
    namespace: &str,
    statuses: Vec<ResourceStatus>,
    p: Plan,
    deployed: Value,
    live: BTreeMap<String, Vec<Value>>,
    all_events: &[ObjectEvent],
) -> Result<Explanation, PlanError> {
    let planner = Planner::new(rgd)?;
    let graph = planner.graph();
    let wave_of: BTreeMap<String, usize> = graph
        .waves()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .flat_map(|(i, w)| w.into_iter().map(move |id| (id, i)))
        .collect();
    let mut resources: Vec<ExplainedResource> = statuses
        .iter()
        .map(|r| {
            let res = rgd.resource(&r.id);
            let ready_when = res.map(|x| x.ready_when.clone()).unwrap_or_default();
            let rule = if res.is_some_and(|x| x.external_ref.is_some()) {
                "it exists (an externalRef: read, never written)".to_string()
            } else if !ready_when.is_empty() {
                format!("readyWhen: {}", ready_when.join(" && "))
            } else {
                match kind_rule(&r.kind) {
                    Some(rule) => format!("{} readiness: {rule}", r.kind),
                    None => format!(
                        "it exists (kind {} has no readiness rule and the resource no readyWhen, as in KRO)",
                        r.kind
                    ),
                }
            };
            let events = if r.state == ResourceState::Applied {
                r.names
                    .iter()
                    .flat_map(|n| events::newest_of(all_events, &r.kind, n, EVENTS_SHOWN))
                    .collect()
            } else {
                Vec::new()
            };
            // Ready by existing: the rule says so already.
            let by_existing = r.state == ResourceState::Ready
                && ready_when.is_empty()
                && kind_rule(&r.kind).is_none();
            ExplainedResource {
                id: r.id.clone(),
                kind: r.kind.clone(),
                names: r.names.clone(),
                wave: wave_of.get(&r.id).copied().unwrap_or(0),
                depends_on: graph
                    .dependencies(&r.id)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                state: r.state,
                detail: r.detail.clone().filter(|_| !by_existing),
                rule,
                include_when: res.map(|x| x.include_when.clone()).unwrap_or_default(),
                events,
            }
        })
        .collect();
    // What was never applied waits on what it reads.
    let not_ready: Vec<String> = resources
        .iter()
        .filter(|r| !matches!(r.state, ResourceState::Ready | ResourceState::Excluded))
        .map(|r| r.id.clone())
        .collect();
    for r in resources
        .iter_mut()
        .filter(|r| r.state == ResourceState::NotApplied && r.detail.is_none())
    {
        let waits: Vec<&str> = r
            .depends_on
            .iter()
            .filter(|d| not_ready.contains(d))
            .map(String::as_str)
            .collect();
        r.detail = Some(if waits.is_empty() {
            "not in the cluster".into()
        } else {
            format!("waits for {} to be ready", waits.join(", "))
        });
    }
    resources.sort_by_key(|r| r.wave);
    let ready = resources
        .iter()
        .all(|r| matches!(r.state, ResourceState::Ready | ResourceState::Excluded));
    Ok(Explanation {
        graph: rgd.name().to_string(),
        instance: instance.to_string(),
        namespace: namespace.to_string(),
        ready,
        resources,
        kro: None,
        pending: p.pending,
        status: p.status,
        deployed,
        live,
    })
}

/// The namespace's events when something in `live` may be stuck (one
/// list). Events help but are not needed: without them (no permission to
/// list Events) the rest of the explanation still stands.
async fn events_if_stuck(
    client: &kube::Client,
    namespace: &str,
    stuck: bool,
    timeout: std::time::Duration,
) -> Vec<ObjectEvent> {
    if !stuck {
        return Vec::new();
    }
    events::list(client, namespace, false, timeout)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %crate::retry::brief(&e), "cannot list events");
            Vec::new()
        })
}

/// Whether some resource has live objects that are not all ready.
fn stuck(statuses: &[ResourceStatus]) -> bool {
    statuses.iter().any(|r| r.state == ResourceState::Applied)
}

impl DirectEngine {
    /// Explains a deployed instance: see the module documentation.
    pub async fn explain(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<Explanation, DeployError> {
        let (inv, live, p) = self.deployed(rgd, instance, opts).await?;
        let statuses = statuses(rgd, &p, &live);
        let events = events_if_stuck(
            &self.client,
            &opts.namespace,
            stuck(&statuses),
            opts.request_timeout,
        )
        .await;
        Ok(explanation(
            rgd,
            instance,
            &opts.namespace,
            statuses,
            p,
            inv.instance,
            live,
            &events,
        )?)
    }
}

/// KRO mode's explanation: KRO's verdict on instance `name`, and the same
/// tree as direct mode from the children KRO made (found by its labels),
/// judged by the same rules.
pub async fn kro_explain(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    name: &str,
    opts: &KroOptions,
) -> Result<Explanation, KroError> {
    let live_instance = crate::kro::instance(client, rgd, name, &opts.namespace).await?;
    let served = crate::discover(
        client,
        std::time::Duration::from_secs(30),
        crate::api_versions(rgd),
    )
    .await?;
    let live =
        crate::kro_wait::live_children(client, rgd, &served, name, Some(&opts.namespace)).await?;
    let mut observed = Observed::default();
    for (id, objs) in &live {
        observed.replace(id, objs.clone());
    }
    let refs = crate::external_refs(rgd);
    for (id, objs) in crate::kro_wait::read_externals(client, &refs, &served, &opts.namespace).await
    {
        observed.replace(&id, objs);
    }
    let p = plan(
        rgd,
        &live_instance,
        &PlanOptions {
            namespace: opts.namespace.clone(),
            observed,
            ..PlanOptions::default()
        },
    )
    .map_err(DeployError::from)?;
    let statuses = statuses(rgd, &p, &live);
    let events = events_if_stuck(
        client,
        &opts.namespace,
        stuck(&statuses),
        std::time::Duration::from_secs(30),
    )
    .await;
    let mut e = explanation(
        rgd,
        name,
        &opts.namespace,
        statuses,
        p,
        live_instance.clone(),
        live,
        &events,
    )
    .map_err(DeployError::from)?;
    let state = live_instance
        .pointer("/status/state")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let conditions = live_instance
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .map(|c| {
                    serde_json::json!({
                        "type": c["type"], "status": c["status"],
                        "reason": c["reason"], "message": c["message"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    e.ready &= state == "ACTIVE";
    e.kro = Some(KroVerdict {
        state: if state.is_empty() {
            "(not reconciled yet)".into()
        } else {
            state
        },
        conditions,
    });
    Ok(e)
}
