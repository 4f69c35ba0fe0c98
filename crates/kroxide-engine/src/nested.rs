//! Direct mode for chained graphs: an instance whose resources are
//! instances of other RGDs, deployed without KRO.
//!
//! KRO reconciles an inner instance as it reconciles any: it applies the
//! inner graph with the instance's spec and writes the inner status back.
//! Here kroxide does the same from the client: it serves each inner kind
//! with the CRD KRO would make (unless KRO serves it already, then KRO
//! reconciles), deploys the outer graph as usual, and meanwhile watches
//! the inner instances the outer deploy applies: each is deployed directly
//! with its own inventory, its objects owned by it (so deleting it, as the
//! outer delete does, lets the garbage collector remove them), and its
//! status (`state`, condition `Ready`, the inner status fields) written
//! back, which the outer graph waits on and reads.

use crate::progress::Event;
use crate::{DeployError, DeployOptions, DeployReport, DirectEngine, GRAPH_LABEL, INSTANCE_LABEL};
use futures::{StreamExt, TryStreamExt};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::chain::RgdSet;
use kroxide_semantics::crd::{instance_crd, InstanceNames};
use kroxide_semantics::plan::{Plan, PlanOptions};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The field manager of what kroxide writes as the inner instances'
/// controller (CRDs, status, owner references).
const MANAGER: &str = "kroxide-nested";

/// The label on a CRD kroxide made for an RGD's instances.
pub const CRD_OF_LABEL: &str = "kroxide.dev/instance-kind-of";

fn crd_api(client: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    )
}

fn instance_resource(rgd: &ResourceGraphDefinition) -> ApiResource {
    let n = InstanceNames::of(rgd);
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&n.group, &n.version, &n.kind),
        &n.plural,
    )
}

impl DirectEngine {
    /// Deploys `instance` of `rgd`, whose resources are instances of other
    /// RGDs of `set`, without KRO (see the module docs). Everything is
    /// planned through every graph first: an instance that fails in any of
    /// them is refused with nothing written.
    pub async fn deploy_nested(
        &self,
        set: &RgdSet<'_>,
        rgd: &ResourceGraphDefinition,
        instance: &Value,
        opts: &DeployOptions,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<DeployReport, DeployError> {
        let needed = set.needed_by(rgd)?;
        let popts = PlanOptions {
            namespace: opts.namespace.clone(),
            ..PlanOptions::default()
        };
        let planned = set.plan(rgd, instance, &popts)?;
        refuse_all(&planned, rgd.name(), set)?;
        // The inner kinds kroxide reconciles (KRO reconciles those it serves).
        let mut ours = Vec::new();
        for inner in &needed {
            if self.serve_kind(inner, opts).await? {
                ours.push(*inner);
            }
        }
        if ours.is_empty() {
            return self.deploy_until(rgd, instance, opts, cancel).await;
        }
        // One level: an inner graph kroxide deploys must not itself nest
        // graphs kroxide would deploy (KRO mode has no such limit).
        for inner in &ours {
            if let Some(deeper) = set
                .uses(inner)
                .into_iter()
                .find(|d| ours.iter().any(|o| o.name() == d.name()))
            {
                return Err(DeployError::NestedSetup(format!(
                    "direct mode deploys graphs nested one level deep: `{}` nests `{}` in `{}`, which nests `{}`; deploy with --mode kro, or have KRO serve `{}` (its RGD Active); nothing was applied",
                    rgd.name(),
                    inner.name(),
                    rgd.name(),
                    deeper.name(),
                    deeper.name()
                )));
            }
        }
        let outer_name =
            kroxide_model::meta_str(&kroxide_semantics::instance::whole(rgd, instance), "name")
                .unwrap_or(rgd.name())
                .to_string();
        // New and changed inner instances are deployed as the outer deploy
        // applies them (it waits for their Ready of the current generation);
        // the others once it is done, so that a re-run converges them too.
        let stop = tokio::sync::Notify::new();
        let reconcile = self.reconcile(rgd.name(), &outer_name, &ours, opts, &stop);
        tokio::pin!(reconcile);
        let deploy = self.deploy_until(rgd, instance, opts, cancel);
        tokio::pin!(deploy);
        let deployed = tokio::select! {
            r = &mut deploy => r,
            r = &mut reconcile => return Err(r.err().unwrap_or_else(|| DeployError::NestedSetup("inner instances stopped".into()))),
        };
        // Stopped between two inner deploys, never in the middle of one.
        stop.notify_one();
        let mut done = reconcile.await?;
        let report = deployed?;
        for obj in report.live.values().flatten() {
            let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            let Some(i) = ours.iter().position(|r| {
                let ar = instance_resource(r);
                ar.api_version == av && ar.kind == kind
            }) else {
                continue;
            };
            let Ok(live) = serde_json::from_value::<DynamicObject>(obj.clone()) else {
                continue;
            };
            let name = live.metadata.name.clone().unwrap_or_default();
            if done.contains_key(&(i, name.clone())) {
                continue;
            }
            self.reconcile_one(ours[i], &live, opts)
                .await
                .map_err(|e| nested_error(ours[i], &name, e))?;
            done.insert((i, name), live.metadata.generation.unwrap_or(0));
        }
        Ok(report)
    }

    /// Deletes instance `name` of `rgd` and, first, the inner instances it
    /// made that kroxide deployed (their whole graphs, by their
    /// inventories: also what the garbage collector cannot reach, such as
    /// a Namespace or objects in other namespaces).
    pub async fn delete_nested(
        &self,
        set: &RgdSet<'_>,
        rgd: &ResourceGraphDefinition,
        name: &str,
        opts: &DeployOptions,
    ) -> Result<crate::DeleteReport, DeployError> {
        let needed = set.needed_by(rgd)?;
        let selector = format!("{GRAPH_LABEL}={},{INSTANCE_LABEL}={name}", rgd.name());
        let mut inner_deleted = Vec::new();
        for inner in set.uses(rgd) {
            if !needed.iter().any(|n| n.name() == inner.name()) {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(
                self.client.clone(),
                &opts.namespace,
                &instance_resource(inner),
            );
            // Not served: no inner instance to delete.
            let Ok(list) = api
                .list_metadata(&kube::api::ListParams::default().labels(&selector))
                .await
            else {
                continue;
            };
            for o in list.items {
                let inner_name = o.metadata.name.unwrap_or_default();
                let r = Box::pin(self.delete_nested(set, inner, &inner_name, opts))
                    .await
                    .map_err(|e| nested_error(inner, &inner_name, e))?;
                inner_deleted.extend(r.deleted);
            }
        }
        let mut report = self.delete(rgd.name(), name, opts).await?;
        inner_deleted.append(&mut report.deleted);
        report.deleted = inner_deleted;
        Ok(report)
    }

    /// Makes the cluster serve `inner`'s instances with the CRD KRO would
    /// make for it; false when KRO serves them already (it reconciles them).
    async fn serve_kind(
        &self,
        inner: &ResourceGraphDefinition,
        opts: &DeployOptions,
    ) -> Result<bool, DeployError> {
        let crds = crd_api(&self.client);
        let mut crd = instance_crd(inner).map_err(|e| {
            DeployError::NestedSetup(format!("the instance CRD of `{}`: {e}", inner.name()))
        })?;
        let name = crd["metadata"]["name"].as_str().unwrap_or("").to_string();
        let api_err = |source| DeployError::Api {
            id: inner.name().to_string(),
            source,
        };
        // KRO reconciles the instances of an RGD it has Active.
        let rgds: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("kro.run", "v1alpha1", "ResourceGraphDefinition"),
                "resourcegraphdefinitions",
            ),
        );
        if let Ok(Some(r)) = rgds.get_opt(inner.name()).await {
            if r.data.pointer("/status/state").and_then(Value::as_str) == Some("Active") {
                return Ok(false);
            }
        }
        // Not ready until kroxide says so, from the moment it exists.
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
            ["default"] = json!({"state": "IN_PROGRESS", "conditions": [{"type": "Ready", "status": "False", "reason": "Pending", "message": "kroxide has not deployed it yet"}]});
        // KRO's ownership labels: a KRO given this RGD later adopts the CRD
        // (it refuses to touch a CRD it does not own).
        crd["metadata"]["labels"] = json!({
            CRD_OF_LABEL: inner.name(),
            "kro.run/owned": "true",
            "kro.run/resource-graph-definition-name": inner.name(),
            "kro.run/resource-graph-definition-id": "kroxide",
        });
        crds.patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&crd),
        )
        .await
        .map_err(api_err)?;
        let deadline = tokio::time::Instant::now() + opts.resource_timeout;
        loop {
            let c = crds.get(&name).await.map_err(api_err)?;
            let established = c.data["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
            if established {
                opts.progress.emit(Event::Ready {
                    id: inner.name().to_string(),
                });
                return Ok(true);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(DeployError::NestedSetup(format!(
                    "the instance CRD {name} of `{}` was not Established after {}s",
                    inner.name(),
                    opts.resource_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deploys each inner instance the outer deploy applies, as it comes
    /// and whenever its spec changes, until `stop`; returns what it
    /// deployed (by kind and name, with the generation), or the first error.
    async fn reconcile(
        &self,
        outer_graph: &str,
        outer_name: &str,
        kinds: &[&ResourceGraphDefinition],
        opts: &DeployOptions,
        stop: &tokio::sync::Notify,
    ) -> Result<BTreeMap<(usize, String), i64>, DeployError> {
        let selector = format!("{GRAPH_LABEL}={outer_graph},{INSTANCE_LABEL}={outer_name}");
        let streams = kinds.iter().enumerate().map(|(i, inner)| {
            let api: Api<DynamicObject> = Api::namespaced_with(
                self.client.clone(),
                &opts.namespace,
                &instance_resource(inner),
            );
            watcher(api, watcher::Config::default().labels(&selector))
                .map_ok(move |e| (i, e))
                .boxed()
        });
        let mut changes = futures::stream::select_all(streams);
        // The generation of each inner instance deployed by this run.
        let mut done: BTreeMap<(usize, String), i64> = BTreeMap::new();
        // Inner instances that failed, to try again (as KRO requeues) while
        // the others go on: one may wait for what another makes
        // (TenantApplication for TenantEnvironment's Namespace).
        let mut queue: BTreeMap<(usize, String), Retry> = BTreeMap::new();
        loop {
            let due = queue.values().map(|r| r.at).min();
            let next = tokio::select! {
                biased;
                () = stop.notified() => return Ok(done),
                () = async {
                    match due {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => None,
                c = changes.next() => Some(c),
            };
            let (key, obj) = match next {
                None => {
                    // The earliest retry is due.
                    let key = queue
                        .iter()
                        .min_by_key(|(_, r)| r.at)
                        .map(|(k, _)| k.clone())
                        .expect("a retry is due");
                    let r = queue.remove(&key).expect("queued");
                    (key, r.obj)
                }
                Some(Some(Ok((i, event)))) => {
                    let obj = match event {
                        watcher::Event::Apply(o) | watcher::Event::InitApply(o) => o,
                        _ => continue,
                    };
                    ((i, obj.metadata.name.clone().unwrap_or_default()), obj)
                }
                Some(Some(Err(e))) => {
                    tracing::warn!(error = %e, "watching inner instances; watching again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Some(None) => {
                    return Err(DeployError::NestedSetup(
                        "the watch of inner instances ended".into(),
                    ))
                }
            };
            let generation = obj.metadata.generation.unwrap_or(0);
            if done.get(&key) == Some(&generation) {
                continue;
            }
            let inner = kinds[key.0];
            match self.reconcile_one(inner, &obj, opts).await {
                Ok(()) => {
                    queue.remove(&key);
                    done.insert(key, generation);
                }
                Err(e) => {
                    let now = tokio::time::Instant::now();
                    let retry = queue
                        .remove(&key)
                        .map(|r| (r.since, r.pause))
                        .unwrap_or((now, Duration::from_millis(250)));
                    // Input errors were refused before anything was written:
                    // what fails here is the cluster's state, given the
                    // resource timeout to settle.
                    if now + retry.1 >= retry.0 + opts.resource_timeout {
                        return Err(nested_error(inner, &key.1, e));
                    }
                    tracing::debug!(error = %e, "inner instance failed; trying again");
                    queue.insert(
                        key,
                        Retry {
                            obj,
                            since: retry.0,
                            at: now + retry.1,
                            pause: (retry.1 * 2).min(Duration::from_secs(2)),
                        },
                    );
                }
            }
        }
    }

    /// Deploys one inner instance and writes its status.
    async fn reconcile_one(
        &self,
        inner: &ResourceGraphDefinition,
        obj: &DynamicObject,
        opts: &DeployOptions,
    ) -> Result<(), DeployError> {
        let name = obj.metadata.name.clone().unwrap_or_default();
        let uid = obj.metadata.uid.clone().unwrap_or_default();
        let generation = obj.metadata.generation.unwrap_or(0);
        let instance = json!({
            "apiVersion": instance_resource(inner).api_version,
            "kind": inner.spec.schema.kind,
            "metadata": {"name": name, "namespace": opts.namespace, "uid": uid},
            "spec": obj.data.get("spec").cloned().unwrap_or_else(|| json!({})),
        });
        // The inner instance's namespace exists (the outer deploy put it
        // there); others are the inner graph's to make, as under KRO.
        let inner_opts = DeployOptions {
            progress: crate::progress::Progress::none(),
            create_namespace: false,
            ..opts.clone()
        };
        let deployed = Box::pin(self.deploy(inner, &instance, &inner_opts)).await;
        let report = match deployed {
            Ok(r) => r,
            Err(e) => {
                // Said on the instance, as KRO says it; never a Secret's value.
                let mut redactor = kroxide_semantics::redact::Redactor::default();
                redactor.learn_secret_inputs(inner, &instance);
                let message = redactor.redact_str(&e.to_string());
                let _ = self
                    .write_status(inner, &name, opts, json!({
                        "state": "ERROR",
                        "conditions": [{"type": "Ready", "status": "False", "reason": "DeployFailed", "message": message, "observedGeneration": generation}],
                    }))
                    .await;
                return Err(e);
            }
        };
        // Owned by the inner instance: deleting it (as the outer delete
        // does) lets the garbage collector remove them. Only objects in its
        // namespace can name it as their owner.
        let owner = json!([{
            "apiVersion": instance_resource(inner).api_version,
            "kind": inner.spec.schema.kind,
            "name": name,
            "uid": uid,
            "blockOwnerDeletion": false,
        }]);
        let mut owned: Vec<Value> = report
            .live
            .values()
            .flatten()
            .filter(|o| kroxide_model::meta_str(o, "namespace") == Some(opts.namespace.as_str()))
            .cloned()
            .collect();
        owned.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": crate::inventory::secret_name(inner.name(), &name), "namespace": opts.namespace},
        }));
        for o in owned {
            let av = o["apiVersion"].as_str().unwrap_or("");
            let kind = o["kind"].as_str().unwrap_or("");
            let oname = kroxide_model::meta_str(&o, "name").unwrap_or("");
            let (group, version) = av.rsplit_once('/').unwrap_or(("", av));
            let Some(plural) = self.plural_of(av, kind).await else {
                continue;
            };
            let api: Api<DynamicObject> = Api::namespaced_with(
                self.client.clone(),
                &opts.namespace,
                &ApiResource::from_gvk_with_plural(
                    &GroupVersionKind::gvk(group, version, kind),
                    &plural,
                ),
            );
            let patch = json!({"apiVersion": av, "kind": kind, "metadata": {"name": oname, "ownerReferences": owner}});
            api.patch(
                oname,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(|source| DeployError::Api {
                id: format!("{name}/{oname}"),
                source,
            })?;
        }
        let mut status = report.status().clone();
        if !status.is_object() {
            status = json!({});
        }
        status["state"] = json!("ACTIVE");
        match status.get_mut("conditions").and_then(Value::as_array_mut) {
            // The inner graph's author-defined conditions, as KRO writes
            // them: in place of its own.
            Some(authored) => {
                for c in authored {
                    c["observedGeneration"] = json!(generation);
                }
            }
            None => {
                status["conditions"] = json!([{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "observedGeneration": generation}]);
            }
        }
        self.write_status(inner, &name, opts, status).await
    }

    async fn write_status(
        &self,
        inner: &ResourceGraphDefinition,
        name: &str,
        opts: &DeployOptions,
        status: Value,
    ) -> Result<(), DeployError> {
        let ar = instance_resource(inner);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &opts.namespace, &ar);
        let patch = json!({"apiVersion": ar.api_version, "kind": ar.kind, "status": status});
        api.patch_status(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| DeployError::Api {
            id: name.to_string(),
            source,
        })?;
        Ok(())
    }

    /// The plural of a served kind.
    async fn plural_of(&self, api_version: &str, kind: &str) -> Option<String> {
        let served = crate::discover(&self.client, Duration::from_secs(30), [api_version])
            .await
            .ok()?;
        served
            .resolve(api_version, kind)
            .map(|k| k.resource.plural.clone())
    }
}

fn nested_error(inner: &ResourceGraphDefinition, name: &str, e: DeployError) -> DeployError {
    DeployError::Nested {
        kind: inner.spec.schema.kind.clone(),
        name: name.to_string(),
        inner: inner.name().to_string(),
        source: Box::new(e),
    }
}

/// An inner instance to deploy again.
struct Retry {
    obj: DynamicObject,
    /// When it first failed in this run.
    since: tokio::time::Instant,
    /// When to try next.
    at: tokio::time::Instant,
    /// The pause after the next failure.
    pause: Duration,
}

/// Refuses a plan, or the plan of any inner graph in it, that fails,
/// naming the way from the outer graph to the failure.
fn refuse_all(p: &Plan, rgd: &str, set: &RgdSet<'_>) -> Result<(), DeployError> {
    crate::deploy::refuse_failures(p)?;
    for r in &p.resources {
        for (o, inner) in r.objects.iter().zip(&r.expanded) {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let name = set.defining(av, kind).map(|g| g.name()).unwrap_or("");
            refuse_all(inner, name, set).map_err(|e| DeployError::InnerRefused {
                outer: rgd.to_string(),
                resource: r.id.clone(),
                kind: kind.to_string(),
                inner: name.to_string(),
                source: Box::new(e),
            })?;
        }
    }
    Ok(())
}
