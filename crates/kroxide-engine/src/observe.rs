//! Read-only operations: `status` (the status expressions recomputed on the
//! live objects, from any process) and `diff` (what a deploy would change,
//! from a server-side dry run against the live objects).

use crate::inventory::ObjectRef;
use crate::progress::ResourceState;
use crate::retry::retry;
use crate::{name_ns, DeployError, DeployOptions, DirectEngine};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::plan::{plan, readiness_of, Action, Observed, Plan, PlanOptions, Planner};
use kroxide_semantics::readiness::KindReadiness;
use kroxide_semantics::redact::{Redactor, MASK};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Where one resource of a deployed instance stands.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    pub id: String,
    pub kind: String,
    /// Names of its live objects.
    pub names: Vec<String>,
    pub state: ResourceState,
    /// Why it is in that state: what it waits for, why it failed, or that
    /// it counts as ready because it exists (its kind has no readiness rule
    /// and it has no readyWhen, as in KRO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The status of a deployed instance.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub instance: String,
    /// The status expressions evaluated on the live objects.
    pub status: Value,
    /// Status fields that cannot be computed yet, with why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, String>,
    pub resources: Vec<ResourceStatus>,
    /// Whether every resource that should exist is ready.
    pub ready: bool,
    /// Fields of its objects that another field manager changed since
    /// kroxide applied them (see [`DirectEngine::drift`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<crate::FieldDrift>,
    /// The instance as last deployed (from the inventory; may hold secret values).
    #[serde(skip)]
    pub deployed: Value,
    /// The live objects, by resource id (may hold secret values).
    #[serde(skip)]
    pub live: BTreeMap<String, Vec<Value>>,
}

impl StatusReport {
    /// The status with every Secret value masked (see
    /// [`crate::DeployReport::masked_status`]): what to show a user.
    pub fn masked_status(&self, rgd: &ResourceGraphDefinition) -> Value {
        let mut status = self.status.clone();
        crate::mask_status(
            &mut status,
            rgd,
            [&self.deployed],
            self.live.values().flatten(),
        );
        status
    }
}

/// One object as it is and as a deploy would make it.
#[derive(Clone, Debug)]
pub struct ObjectDiff {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// The live object (None: a deploy would create it).
    pub live: Option<Value>,
    /// What the server would hold after the apply (None: a deploy would prune it).
    pub desired: Option<Value>,
    /// Why a deploy would refuse to change it (it is not this instance's), if so.
    pub not_owned: Option<String>,
    /// The graph no longer has it, but its delete policy is `retain`: a
    /// deploy would keep it and only remove kroxide's labels (`desired`).
    pub retained: bool,
}

/// Where each resource of `p` (a plan made against `live`) stands: its
/// live objects judged by its readyWhen or its kind's rule, excluded by
/// includeWhen, or not applied. Resources only read (externalRef) are left out.
pub(crate) fn resource_statuses(
    rgd: &ResourceGraphDefinition,
    p: &Plan,
    live: &BTreeMap<String, Vec<Value>>,
) -> Vec<ResourceStatus> {
    let mut resources = Vec::new();
    for r in &p.resources {
        let objs = live.get(&r.id).cloned().unwrap_or_default();
        let kind = rgd
            .resource(&r.id)
            .and_then(|x| x.kind())
            .unwrap_or("")
            .to_string();
        let (state, detail) = match (&r.action, objs.is_empty()) {
            (Action::Skip, _) => (ResourceState::Excluded, r.reason.clone()),
            (_, true) => (ResourceState::NotApplied, None),
            (_, false) => match rgd.resource(&r.id).map(|res| readiness_of(res, &objs)) {
                Some(KindReadiness::Ready) => (ResourceState::Ready, None),
                Some(KindReadiness::NoRule) => (
                    ResourceState::Ready,
                    Some(format!(
                        "exists (kind {kind} has no readiness rule and the resource no readyWhen)"
                    )),
                ),
                Some(KindReadiness::Waiting(why)) => (ResourceState::Applied, Some(why)),
                Some(KindReadiness::Failed(why)) => {
                    (ResourceState::Applied, Some(format!("failed: {why}")))
                }
                None => (ResourceState::Applied, None),
            },
        };
        if r.action == Action::Read {
            continue;
        }
        resources.push(ResourceStatus {
            id: r.id.clone(),
            kind,
            names: objs.iter().map(|o| name_ns(o).0).collect(),
            state,
            detail,
        });
    }
    resources
}

impl DirectEngine {
    /// Recomputes the status of a deployed instance from the live objects.
    pub async fn status(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<StatusReport, DeployError> {
        let (inv, live, p) = self.deployed(rgd, instance, opts).await?;
        let resources = resource_statuses(rgd, &p, &live);
        let drift = crate::drift::instance_drift(&inv, &live, &p);
        let ready = resources
            .iter()
            .all(|r| matches!(r.state, ResourceState::Ready | ResourceState::Excluded));
        Ok(StatusReport {
            instance: instance.to_string(),
            status: p.status,
            pending: p.pending,
            resources,
            ready,
            drift,
            deployed: inv.instance,
            live,
        })
    }

    /// A deployed instance's inventory, its live objects by resource id, and
    /// the plan of its recorded spec against them (what a deploy would apply
    /// now, the status it would report). An instance never deployed is
    /// [`DeployError::NotDeployed`].
    pub(crate) async fn deployed(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<(crate::Inventory, BTreeMap<String, Vec<Value>>, Plan), DeployError> {
        let store = self.store(rgd.name(), instance, opts);
        let inv = store
            .read()
            .await?
            .ok_or_else(|| DeployError::NotDeployed {
                graph: rgd.name().to_string(),
                instance: instance.to_string(),
                namespace: opts.namespace.clone(),
                inventory: crate::inventory::secret_name(rgd.name(), instance),
            })?;
        let externals = crate::external_refs(rgd);
        let served = self
            .discover(
                opts,
                inv.objects
                    .iter()
                    .map(|o| o.api_version.as_str())
                    .chain(externals.iter().map(|(_, e)| e.api_version.as_str())),
            )
            .await?;
        let mut live = self.read_live(&served, &inv.objects, opts).await?;
        // What the graph reads but never wrote (externalRef), as it is now.
        for (id, ext) in externals {
            if let Some(k) = served.resolve(&ext.api_version, &ext.kind) {
                let found = self.read_external(id, ext, &k, true, false, opts).await?;
                if !found.is_empty() {
                    live.insert(id.to_string(), found);
                }
            }
        }
        let mut observed = Observed::default();
        for (id, objs) in &live {
            observed.replace(id, objs.clone());
        }
        let p = plan(
            rgd,
            &inv.instance,
            &PlanOptions {
                namespace: opts.namespace.clone(),
                observed,
                ..PlanOptions::default()
            },
        )?;
        Ok((inv, live, p))
    }

    /// The instances of `graph` deployed by kroxide in the namespace, from
    /// their inventories (the lock shows a deploy in progress).
    pub async fn instances(
        &self,
        graph: &str,
        opts: &DeployOptions,
    ) -> Result<Vec<crate::Inventory>, DeployError> {
        self.store(graph, "", opts).list(false).await
    }

    /// The instances of `graph` deployed by kroxide in every namespace (as
    /// `kubectl get -A`): one list of inventory Secrets cluster-wide.
    pub async fn all_instances(
        &self,
        graph: &str,
        opts: &DeployOptions,
    ) -> Result<Vec<crate::Inventory>, DeployError> {
        self.store(graph, "", opts).list(true).await
    }

    /// The live objects listed in an inventory, by resource id.
    async fn read_live(
        &self,
        served: &crate::Served,
        objects: &BTreeSet<ObjectRef>,
        opts: &DeployOptions,
    ) -> Result<BTreeMap<String, Vec<Value>>, DeployError> {
        let reads = objects.iter().map(|o| async move {
            let Some(k) = served.resolve(&o.api_version, &o.kind) else {
                return Ok((o.id.clone(), None));
            };
            let api = self.api(&k, o.namespace.as_deref());
            retry(opts.request_timeout, || api.get_opt(&o.name))
                .await
                .map(|l| (o.id.clone(), l.and_then(|d| serde_json::to_value(d).ok())))
                .map_err(|source| DeployError::Api {
                    id: o.id.clone(),
                    source,
                })
        });
        let mut live: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for read in crate::deploy::bounded(reads).await {
            if let (id, Some(obj)) = read? {
                live.entry(id).or_default().push(obj);
            }
        }
        Ok(live)
    }

    /// What deploying `instance` would change: every object the graph
    /// resolves to (using live objects for references between resources),
    /// as the server would hold it after the apply (a server-side dry run),
    /// next to the live version; plus objects a deploy would prune. Returns
    /// also the resources that cannot be resolved yet, with why.
    pub async fn diff(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &Value,
        opts: &DeployOptions,
    ) -> Result<(Vec<ObjectDiff>, BTreeMap<String, String>), DeployError> {
        let mut served = self.discover(opts, crate::api_versions(rgd)).await?;
        let kinds = crate::kinds_of(&served, rgd, &Default::default())?;
        let popts = PlanOptions {
            namespace: opts.namespace.clone(),
            ..PlanOptions::default()
        };
        let planner = Planner::new(rgd)?;
        let mut current = planner.plan(instance, &popts)?;
        let graph = rgd.name().to_string();
        let instance_name = name_ns(&current.instance).0;
        // The uid an earlier deploy gave the instance, as deploy would use it.
        let store = self.store(&graph, &instance_name, opts);
        let old = store.read().await?;
        let whole = kroxide_semantics::instance::whole(rgd, instance);
        let with_uid = crate::inventory::with_uid(&whole, old.as_ref());
        let instance = match &with_uid {
            Some(i) => {
                current = planner.plan(i, &popts)?;
                i
            }
            None => instance,
        };
        // Resolve as far as the live objects allow: each round may unlock the next wave.
        let mut live: BTreeMap<(String, String), Option<Value>> = BTreeMap::new();
        for _ in 0..=current.waves.len() {
            // The objects of this round not read yet, read all at once.
            let mut unread = Vec::new();
            let mut queued = BTreeSet::new();
            for r in current
                .resources
                .iter()
                .filter(|r| r.action == Action::Apply)
            {
                let Some(k) = kinds.get(&r.id) else {
                    continue;
                };
                for o in &r.objects {
                    let (name, ns) = name_ns(o);
                    let key = (r.id.clone(), name);
                    if !live.contains_key(&key) && queued.insert(key.clone()) {
                        unread.push((key, self.api(k, ns.as_deref())));
                    }
                }
            }
            if unread.is_empty() {
                break;
            }
            let reads = unread.iter().map(|((id, name), api)| async move {
                retry(opts.request_timeout, || api.get_opt(name))
                    .await
                    .map(|l| l.and_then(|d| serde_json::to_value(d).ok()))
                    .map_err(|source| DeployError::Api {
                        id: id.clone(),
                        source,
                    })
            });
            let read = crate::deploy::bounded(reads).await;
            for ((key, _), l) in unread.into_iter().zip(read) {
                live.insert(key, l?);
            }
            let mut observed = Observed::default();
            for r in current
                .resources
                .iter()
                .filter(|r| r.action == Action::Apply)
            {
                for o in &r.objects {
                    let key = (r.id.clone(), name_ns(o).0);
                    if let Some(Some(l)) = live.get(&key) {
                        observed.insert(&r.id, l.clone());
                    }
                }
            }
            current = planner.plan(
                instance,
                &PlanOptions {
                    observed,
                    ..popts.clone()
                },
            )?;
        }
        let dry = opts.apply_params().dry_run();
        // Objects in a namespace that does not exist yet cannot be dry-run:
        // they are shown as rendered.
        let ns_exists = self.namespace_exists(opts).await?;
        let mut unresolved = BTreeMap::new();
        let mut targets = Vec::new();
        for r in &current.resources {
            match r.action {
                Action::Apply => {}
                Action::Wait | Action::Fail => {
                    unresolved.insert(r.id.clone(), r.reason.clone().unwrap_or_default());
                    continue;
                }
                Action::Skip | Action::Read => continue,
            }
            let Some(k) = kinds.get(&r.id) else {
                continue;
            };
            for o in &r.objects {
                // Labelled and addressed as a deploy would (wave numbers do not matter here).
                targets.push(self.target(
                    k,
                    o.clone(),
                    &r.id,
                    0,
                    &graph,
                    &instance_name,
                    &opts.namespace,
                ));
            }
        }
        let dry_runs = targets.iter().map(|t| async {
            let in_missing_ns =
                !ns_exists && t.oref.namespace.as_deref() == Some(opts.namespace.as_str());
            if in_missing_ns {
                return serde_json::from_value(t.object.clone()).map_err(kube::Error::SerdeError);
            }
            t.apply(&dry, opts.request_timeout).await
        });
        let desired = crate::deploy::bounded(dry_runs).await;
        let mut out = Vec::new();
        let mut planned: BTreeSet<(String, String)> = BTreeSet::new();
        for (t, desired) in targets.into_iter().zip(desired) {
            let desired = desired.map_err(|e| t.dry_run_error(e))?;
            planned.insert((t.oref.kind.clone(), t.oref.name.clone()));
            let live = live
                .get(&(t.oref.id.clone(), t.oref.name.clone()))
                .cloned()
                .flatten();
            out.push(ObjectDiff {
                id: t.oref.id,
                kind: t.oref.kind,
                name: t.oref.name,
                namespace: t.oref.namespace,
                not_owned: live
                    .as_ref()
                    .and_then(|l| crate::not_owned(l, &graph, &instance_name, &opts.namespace)),
                live,
                desired: serde_json::to_value(desired).ok(),
                retained: false,
            });
        }
        // What a deploy would prune.
        if let Some(inv) = old {
            let stale: BTreeSet<ObjectRef> = inv
                .objects
                .into_iter()
                .filter(|o| !planned.contains(&(o.kind.clone(), o.name.clone())))
                .collect();
            self.discover_more(
                &mut served,
                opts,
                stale.iter().map(|o| o.api_version.as_str()),
            )
            .await?;
            for (id, objs) in self.read_live(&served, &stale, opts).await? {
                for l in objs {
                    let (name, namespace) = name_ns(&l);
                    // Pruning deletes it, or keeps it without kroxide's labels.
                    let retained = crate::is_retained(&l);
                    out.push(ObjectDiff {
                        id: id.clone(),
                        kind: l["kind"].as_str().unwrap_or("").to_string(),
                        name,
                        namespace,
                        desired: retained.then(|| crate::teardown::without_ownership(&l)),
                        live: Some(l),
                        not_owned: None,
                        retained,
                    });
                }
            }
        }
        Ok((out, unresolved))
    }
}

/// The fields a diff leaves out: server bookkeeping that changes on every write.
fn normalize(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            m.remove(k);
        }
    }
    o
}

/// Masks Secret values: equal values become the mask, changed ones the mask
/// with `(before)` / `(after)`, as `kubectl diff` does.
fn mask_pair(live: &mut Option<Value>, desired: &mut Option<Value>) {
    let is_secret = |o: &Option<Value>| {
        o.as_ref()
            .and_then(|v| v.get("kind"))
            .and_then(Value::as_str)
            == Some("Secret")
    };
    if !is_secret(live) && !is_secret(desired) {
        return;
    }
    for field in ["data", "stringData"] {
        let before = live.as_ref().and_then(|l| l.get(field)).cloned();
        let after = desired.as_ref().and_then(|d| d.get(field)).cloned();
        let mask = |side: &mut Option<Value>, other: &Option<Value>, tag: &str| {
            if let Some(Value::Object(m)) = side.as_mut().and_then(|s| s.get_mut(field)) {
                for (k, v) in m.iter_mut() {
                    let same = other.as_ref().and_then(|o| o.get(k)) == Some(v);
                    *v = Value::String(if same {
                        MASK.to_string()
                    } else {
                        format!("{MASK} ({tag})")
                    });
                }
            }
        };
        mask(live, &after, "before");
        mask(desired, &before, "after");
    }
}

/// A unified diff of `diffs` (empty when nothing would change). Secret values
/// are masked, and so is any Secret value that shows up in another object,
/// unless `show_secrets`.
pub fn render_diff(diffs: &[ObjectDiff], show_secrets: bool) -> String {
    let mut redactor = Redactor::default();
    if !show_secrets {
        redactor.learn(
            diffs
                .iter()
                .flat_map(|d| d.live.iter().chain(d.desired.iter())),
        );
    }
    let mut out = String::new();
    for d in diffs {
        let mut live = d.live.as_ref().map(normalize);
        let mut desired = d.desired.as_ref().map(normalize);
        if !show_secrets {
            mask_pair(&mut live, &mut desired);
            for v in live.iter_mut().chain(desired.iter_mut()) {
                redactor.redact_value(v);
            }
        }
        let text = |v: &Option<Value>| {
            v.as_ref()
                .map(|v| kroxide_model::to_yaml(v).unwrap_or_default())
                .unwrap_or_default()
        };
        let (before, after) = (text(&live), text(&desired));
        if before == after {
            continue;
        }
        let place = match &d.namespace {
            Some(ns) => format!("{}/{}/{}", d.kind, ns, d.name),
            None => format!("{}/{}", d.kind, d.name),
        };
        let header = match (&d.live, &d.desired) {
            (None, _) => format!("{place} ({}, new)", d.id),
            (_, None) => format!("{place} ({}, would be pruned)", d.id),
            _ if d.retained => format!(
                "{place} ({}, no longer in the graph: kept (delete-policy: retain))",
                d.id
            ),
            _ => format!("{place} ({})", d.id),
        };
        let diff = similar::TextDiff::from_lines(&before, &after);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("live {header}"), &format!("desired {header}"))
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(pw: &str, user: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "resourceVersion": "7"}, "stringData": {"password": pw, "user": user}})
    }

    #[test]
    fn a_changed_secret_shows_which_key_changed_but_no_value() {
        let d = ObjectDiff {
            id: "dbSecret".into(),
            kind: "Secret".into(),
            name: "db".into(),
            namespace: Some("dev".into()),
            live: Some(secret("old-pass-1", "admin")),
            desired: Some(secret("new-pass-2", "admin")),
            not_owned: None,
            retained: false,
        };
        let text = render_diff(std::slice::from_ref(&d), false);
        assert!(
            text.contains(&format!("-  password: \"{MASK} (before)\"")),
            "{text}"
        );
        assert!(
            text.contains(&format!("+  password: \"{MASK} (after)\"")),
            "{text}"
        );
        assert!(text.contains(&format!("   user: \"{MASK}\"")), "{text}");
        assert!(
            !text.contains("old-pass-1") && !text.contains("new-pass-2"),
            "{text}"
        );
        assert!(!text.contains("admin"), "{text}");
        assert!(!text.contains("resourceVersion"), "{text}");
        let shown = render_diff(&[d], true);
        assert!(shown.contains("new-pass-2"), "{shown}");
    }

    #[test]
    fn identical_objects_give_no_diff_and_new_ones_show_everything() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "1"}, "data": {"a": "1"}});
        let mut newer = cm.clone();
        newer["metadata"]["resourceVersion"] = json!("2");
        let same = ObjectDiff {
            id: "c".into(),
            kind: "ConfigMap".into(),
            name: "c".into(),
            namespace: None,
            live: Some(cm.clone()),
            desired: Some(newer),
            not_owned: None,
            retained: false,
        };
        assert_eq!(render_diff(&[same], false), "");
        let new = ObjectDiff {
            live: None,
            desired: Some(cm),
            id: "c".into(),
            kind: "ConfigMap".into(),
            name: "c".into(),
            namespace: None,
            not_owned: None,
            retained: false,
        };
        let text = render_diff(&[new], false);
        assert!(
            text.contains("ConfigMap/c (c, new)") && text.contains("+  a: \"1\""),
            "{text}"
        );
    }
}
