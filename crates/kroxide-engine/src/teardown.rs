//! `delete`, `delete --orphan` and pruning: removing what an instance owns,
//! and nothing else.
//!
//! All work from the inventory, so they need neither the process that
//! deployed nor the instance file. Before deleting an object its live labels
//! are checked again: an object that changed hands since (another instance's,
//! or relabelled by someone) is left alone and reported.
//!
//! An object is kept instead of deleted when it is **orphaned**: all of them
//! with [`DirectEngine::orphan`] (`delete --orphan`), and, on delete and on
//! prune, those whose template says `kroxide.dev/delete-policy: retain` (or
//! Helm's `helm.sh/resource-policy: keep`), as read on the live object. An
//! orphaned object loses kroxide's labels ([`crate::OWNERSHIP_LABELS`]),
//! removed by a JSON merge patch that touches nothing else (a server-side
//! apply would drop the fields kroxide's apply owns), so a later deploy of
//! the instance needs `--adopt` to take it back.

use crate::inventory::{Inventory, ObjectRef};
use crate::progress::Event;
use crate::retry::retry;
use crate::{
    not_owned, DeployError, DeployOptions, DirectEngine, DELETE_POLICY_ANNOTATION, FIELD_MANAGER,
    HELM_RESOURCE_POLICY_ANNOTATION, OWNERSHIP_LABELS,
};
use kroxide_model::ResourceGraphDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What `delete` (or `delete --orphan`) did.
#[derive(Clone, Debug, Default)]
pub struct DeleteReport {
    /// Deleted objects, in the order they went.
    pub deleted: Vec<ObjectRef>,
    /// Objects kept without kroxide's labels because of `--orphan`.
    pub orphaned: Vec<ObjectRef>,
    /// Objects kept without kroxide's labels because their delete policy is
    /// `retain` (`kroxide.dev/delete-policy: retain`, `helm.sh/resource-policy: keep`).
    pub retained: Vec<ObjectRef>,
    /// Objects listed in the inventory but left alone (not ours any more).
    pub skipped: Vec<ObjectRef>,
    /// Whether there was anything to delete (false: never deployed, or already deleted).
    pub found: bool,
}

/// Whether a live object (or a template) asks to be kept on delete and
/// prune: `kroxide.dev/delete-policy: retain`, or Helm's
/// `helm.sh/resource-policy: keep`.
pub fn is_retained(object: &Value) -> bool {
    let annotation = |k: &str| {
        object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    annotation(DELETE_POLICY_ANNOTATION) == Some("retain")
        || annotation(HELM_RESOURCE_POLICY_ANNOTATION) == Some("keep")
}

/// The ids of the resources of `rgd` whose template asks to be retained
/// (see [`is_retained`]): what KRO mode warns about, since KRO deletes them.
pub fn retained_resources(rgd: &ResourceGraphDefinition) -> Vec<String> {
    rgd.spec
        .resources
        .iter()
        .filter(|r| r.template.as_ref().is_some_and(is_retained))
        .map(|r| r.id.clone())
        .collect()
}

/// How [`DirectEngine::remove_objects`] removes what it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Delete (retained objects are orphaned); with `wait`, until gone.
    Delete { wait: bool },
    /// Orphan every object.
    Orphan,
}

/// What [`DirectEngine::remove_objects`] did; objects in none of these failed.
#[derive(Default)]
pub(crate) struct Removed {
    pub(crate) deleted: Vec<ObjectRef>,
    pub(crate) orphaned: Vec<ObjectRef>,
    pub(crate) retained: Vec<ObjectRef>,
    pub(crate) skipped: Vec<ObjectRef>,
}

impl Removed {
    /// Whether `o` was dealt with (deleted, kept or left alone).
    pub(crate) fn handled(&self, o: &ObjectRef) -> bool {
        self.deleted.contains(o)
            || self.orphaned.contains(o)
            || self.retained.contains(o)
            || self.skipped.contains(o)
    }
}

/// What became of one object.
enum Outcome {
    Deleted,
    Orphaned { retained: bool },
    Skipped,
}

impl DirectEngine {
    /// Deletes every object of `instance` of `graph` in KRO main's deletion
    /// waves (`deletion_orders` below; each wave gone before the next starts),
    /// then its inventory. Objects whose
    /// delete policy is `retain` are kept, orphaned. Deleting an instance
    /// that is not there succeeds with an empty report.
    pub async fn delete(
        &self,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<DeleteReport, DeployError> {
        self.teardown(graph, instance, opts, Removal::Delete { wait: true })
            .await
    }

    /// `delete --orphan`: every object of `instance` of `graph` that is still
    /// this instance's stays on the cluster but loses kroxide's labels (a
    /// merge patch that removes only them), then the inventory is deleted. A
    /// later deploy of the instance refuses these objects unless `adopt`.
    pub async fn orphan(
        &self,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<DeleteReport, DeployError> {
        self.teardown(graph, instance, opts, Removal::Orphan).await
    }

    async fn teardown(
        &self,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
        how: Removal,
    ) -> Result<DeleteReport, DeployError> {
        let store = self.store(graph, instance, opts);
        let Some(mut inv) = store.read().await? else {
            return Ok(DeleteReport::default());
        };
        if !opts.break_lock {
            store.check_lock(&inv, &self.holder)?;
        }
        let served = self
            .discover(opts, inv.objects.iter().map(|o| o.api_version.as_str()))
            .await?;
        inv.lock = Some(crate::inventory::Lock {
            holder: self.holder.clone(),
            expires: crate::inventory::now() + opts.resource_timeout.as_secs() + 60,
        });
        store.write(&mut inv).await?;
        // KRO main's order: from the graph last deployed, each resource in
        // its deletion wave (the first holds what nothing reads), objects of
        // resources the graph no longer has last. An inventory that kept no
        // graph: the apply waves reversed.
        let orders = deletion_orders(&inv);
        let mut by_wave: BTreeMap<usize, Vec<ObjectRef>> = BTreeMap::new();
        for o in &inv.objects {
            let order = match &orders {
                Some(orders) => orders.get(&o.id).copied().unwrap_or(0),
                None => o.wave,
            };
            by_wave.entry(order).or_default().push(o.clone());
        }
        let mut report = DeleteReport {
            found: true,
            ..DeleteReport::default()
        };
        for (_, objects) in by_wave.into_iter().rev() {
            let removed = self
                .remove_objects(&served, &objects, graph, instance, opts, how)
                .await;
            // Whatever could not be removed stays listed, so a re-run retries it.
            let failed: Vec<&ObjectRef> = objects.iter().filter(|o| !removed.handled(o)).collect();
            report.deleted.extend(removed.deleted);
            report.orphaned.extend(removed.orphaned);
            report.retained.extend(removed.retained);
            report.skipped.extend(removed.skipped);
            if let Some(first) = failed.first() {
                // Listed still: what failed, and the waves not reached yet.
                inv.objects.retain(|o| {
                    !(report.deleted.contains(o)
                        || report.orphaned.contains(o)
                        || report.retained.contains(o)
                        || report.skipped.contains(o))
                });
                inv.lock = None;
                store.write(&mut inv).await?;
                let what = match how {
                    Removal::Orphan => "orphaned",
                    Removal::Delete { .. } => "deleted",
                };
                return Err(DeployError::Failed {
                    id: first.id.clone(),
                    reason: format!(
                        "{} could not be {what}; the inventory still lists it, run delete again",
                        first.display()
                    ),
                });
            }
        }
        store.delete().await?;
        Ok(report)
    }

    /// Removes `objects` (when they are still this instance's) as `how`
    /// says: deletes them (waiting until they are gone with `wait`), except
    /// those whose delete policy is `retain`, which are orphaned; or orphans
    /// them all.
    pub(crate) async fn remove_objects(
        &self,
        served: &crate::Served,
        objects: &[ObjectRef],
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
        how: Removal,
    ) -> Removed {
        let jobs = objects.iter().map(|o| async move {
            let Some(k) = served.resolve(&o.api_version, &o.kind) else {
                // The kind is gone from the cluster, so are its objects.
                return Ok(Outcome::Deleted);
            };
            let api = self.api(&k, o.namespace.as_deref());
            let live = retry(opts.request_timeout, || api.get_opt(&o.name)).await?;
            let Some(live) = live else {
                return Ok(Outcome::Deleted);
            };
            let live_json = serde_json::to_value(&live).unwrap_or_default();
            if let Some(why) = not_owned(&live_json, graph, instance, &opts.namespace) {
                opts.progress.emit(Event::Skipped {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    reason: why,
                });
                return Ok(Outcome::Skipped);
            }
            let retained = is_retained(&live_json);
            if retained || how == Removal::Orphan {
                return self
                    .drop_ownership(&api, o, live, graph, instance, opts)
                    .await
                    .map(|kept| match kept {
                        Some(()) => Outcome::Orphaned { retained },
                        None => Outcome::Skipped,
                    });
            }
            let dp = DeleteParams::background();
            match retry(opts.request_timeout, || api.delete(&o.name, &dp)).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
            if how == (Removal::Delete { wait: true }) {
                let uid = live.metadata.uid.clone().unwrap_or_default();
                let gone = async {
                    loop {
                        let cond = kube::runtime::conditions::is_deleted(&uid);
                        if kube::runtime::wait::await_condition(api.clone(), &o.name, cond)
                            .await
                            .is_ok()
                        {
                            return;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                };
                if tokio::time::timeout(opts.resource_timeout, gone)
                    .await
                    .is_err()
                {
                    return Err(kube::Error::Service(
                        format!("still there after {}s", opts.resource_timeout.as_secs()).into(),
                    ));
                }
            }
            Ok(Outcome::Deleted)
        });
        let results = crate::deploy::bounded(jobs).await;
        let mut out = Removed::default();
        for (o, r) in objects.iter().zip(results) {
            match r {
                Ok(Outcome::Deleted) => {
                    opts.progress
                        .emit(if how == (Removal::Delete { wait: false }) {
                            Event::Pruned {
                                kind: o.kind.clone(),
                                name: o.name.clone(),
                            }
                        } else {
                            Event::Deleted {
                                id: o.id.clone(),
                                kind: o.kind.clone(),
                                name: o.name.clone(),
                            }
                        });
                    out.deleted.push(o.clone());
                }
                Ok(Outcome::Orphaned { retained }) => {
                    opts.progress.emit(Event::Orphaned {
                        id: o.id.clone(),
                        kind: o.kind.clone(),
                        name: o.name.clone(),
                        retained,
                    });
                    if retained {
                        out.retained.push(o.clone());
                    } else {
                        out.orphaned.push(o.clone());
                    }
                }
                Ok(Outcome::Skipped) => out.skipped.push(o.clone()),
                Err(e) => {
                    tracing::warn!(object = %o.display(), error = %crate::retry::brief(&e), "could not remove");
                }
            }
        }
        out
    }

    /// Removes kroxide's labels from `live` (object `o`) with a JSON merge
    /// patch that names only them, conditional on the resourceVersion read:
    /// when the object changed meanwhile it is read again and, if still
    /// this instance's, patched again. Returns None when it turned out not
    /// to be this instance's any more (left alone); an object gone meanwhile
    /// counts as done.
    async fn drop_ownership(
        &self,
        api: &Api<DynamicObject>,
        o: &ObjectRef,
        mut live: DynamicObject,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
    ) -> kube::Result<Option<()>> {
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        for _ in 0..5 {
            let patch = Patch::Merge(ownership_patch(live.metadata.resource_version.as_deref()));
            match retry(opts.request_timeout, || api.patch(&o.name, &pp, &patch)).await {
                Ok(_) => return Ok(Some(())),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Some(())),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let Some(now) = retry(opts.request_timeout, || api.get_opt(&o.name)).await?
                    else {
                        return Ok(Some(()));
                    };
                    let now_json = serde_json::to_value(&now).unwrap_or_default();
                    if let Some(why) = not_owned(&now_json, graph, instance, &opts.namespace) {
                        opts.progress.emit(Event::Skipped {
                            kind: o.kind.clone(),
                            name: o.name.clone(),
                            reason: why,
                        });
                        return Ok(None);
                    }
                    live = now;
                }
                Err(e) => return Err(e),
            }
        }
        Err(kube::Error::Service(
            "the object kept changing while its labels were removed".into(),
        ))
    }
}

/// The deletion order of each resource of the graph `inv` last deployed, as
/// KRO main computes it ([`kroxide_semantics::dag::DependencyGraph::deletion_orders`]:
/// higher goes first), or None when the inventory kept no graph. With the
/// dependencies no expression says but the direct engine applies by (see
/// order.rs): what is in a namespace the graph creates goes before that
/// Namespace, and objects of a kind a CRD of the graph defines before that
/// CRD (whose deletion would take them along unseen).
pub fn deletion_orders(inv: &Inventory) -> Option<BTreeMap<String, usize>> {
    let last = inv.revisions.last()?;
    let rgd = inv.revision_graph(last.revision)?;
    // Dependencies only: they come out of a graph with errors too (one
    // checked for another KRO version, say).
    let mut graph = kroxide_semantics::validate::validate(&rgd).graph?;
    for n in inv.objects.iter().filter(|o| o.kind == "Namespace") {
        for o in &inv.objects {
            if o.namespace.as_deref() == Some(n.name.as_str()) && o.id != n.id {
                graph.add_dependency(&o.id, &n.id);
            }
        }
    }
    for c in inv
        .objects
        .iter()
        .filter(|o| o.kind == "CustomResourceDefinition")
    {
        let Some(t) = rgd.resource(&c.id).and_then(|r| r.template.as_ref()) else {
            continue;
        };
        let group = t.pointer("/spec/group").and_then(Value::as_str);
        let kind = t.pointer("/spec/names/kind").and_then(Value::as_str);
        let (Some(group), Some(kind)) = (group, kind) else {
            continue;
        };
        for o in &inv.objects {
            let in_group = o.api_version.rsplit_once('/').map(|(g, _)| g) == Some(group);
            if in_group && o.kind == kind && o.id != c.id {
                graph.add_dependency(&o.id, &c.id);
            }
        }
    }
    graph.deletion_orders().ok()
}

/// The JSON merge patch that removes kroxide's labels (and nothing else),
/// conditional on `resource_version` when given.
pub(crate) fn ownership_patch(resource_version: Option<&str>) -> Value {
    let labels: Map<String, Value> = OWNERSHIP_LABELS
        .iter()
        .map(|l| (l.to_string(), Value::Null))
        .collect();
    let mut patch = json!({"metadata": {"labels": labels}});
    if let Some(rv) = resource_version {
        patch["metadata"]["resourceVersion"] = json!(rv);
    }
    patch
}

/// `object` as orphaning would leave it: without kroxide's labels.
pub(crate) fn without_ownership(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(labels) = o
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        for l in OWNERSHIP_LABELS {
            labels.shift_remove(l);
        }
        // The API server keeps no empty map.
        if labels.is_empty() {
            if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                m.shift_remove("labels");
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retain_policy_is_read_from_annotations_kroxides_and_helms() {
        let with = |k: &str, v: &str| json!({"metadata": {"annotations": {k: v}}});
        assert!(is_retained(&with(DELETE_POLICY_ANNOTATION, "retain")));
        assert!(is_retained(&with(HELM_RESOURCE_POLICY_ANNOTATION, "keep")));
        assert!(!is_retained(&with(DELETE_POLICY_ANNOTATION, "delete")));
        assert!(!is_retained(&with(
            HELM_RESOURCE_POLICY_ANNOTATION,
            "retain"
        )));
        assert!(!is_retained(&json!({"metadata": {"name": "x"}})));
    }

    #[test]
    fn deletion_follows_kro_mains_order_from_the_graph_last_deployed() {
        // KRO main stamped these apply-orders on this graph's objects
        // (top, side, lone 3; mid 2; base 1) and deleted them in that order.
        let yaml = "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: ordertest}\nspec:\n  schema: {apiVersion: v1alpha1, kind: OrderTest, spec: {name: string | default=o}}\n  resources:\n  - {id: base, template: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${schema.spec.name}-base'}}}\n  - {id: mid, template: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${base.metadata.name}-mid'}}}\n  - {id: top, template: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${mid.metadata.name}-top'}}}\n  - {id: lone, template: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${schema.spec.name}-lone'}}}\n  - {id: side, template: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${base.metadata.name}-side'}}}\n";
        let rgd = kroxide_model::load_str("o.yaml", yaml)
            .unwrap()
            .remove(0)
            .rgd;
        let mut inv = Inventory::default();
        assert_eq!(deletion_orders(&inv), None, "no graph: reverse apply waves");
        inv.record(
            &rgd,
            &json!({}),
            "me",
            crate::history::Outcome::Deployed,
            "",
        );
        let orders = deletion_orders(&inv).unwrap();
        let got: Vec<(&str, usize)> = orders.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            got,
            [
                ("base", 1),
                ("lone", 3),
                ("mid", 2),
                ("side", 3),
                ("top", 3)
            ]
        );
    }

    #[test]
    fn the_ownership_patch_names_only_kroxides_labels() {
        let p = ownership_patch(Some("42"));
        assert_eq!(
            p,
            json!({"metadata": {"resourceVersion": "42", "labels": {
                "kroxide.dev/graph": null, "kroxide.dev/instance": null,
                "kroxide.dev/namespace": null, "kroxide.dev/resource": null}}})
        );
        let live = json!({"metadata": {"name": "c", "labels": {"app": "web", "kroxide.dev/graph": "g", "kroxide.dev/resource": "c"}}, "data": {"a": "1"}});
        assert_eq!(
            without_ownership(&live),
            json!({"metadata": {"name": "c", "labels": {"app": "web"}}, "data": {"a": "1"}})
        );
        let only_ours = json!({"metadata": {"name": "c", "labels": {"kroxide.dev/graph": "g"}}});
        assert_eq!(
            without_ownership(&only_ours),
            json!({"metadata": {"name": "c"}})
        );
    }
}
