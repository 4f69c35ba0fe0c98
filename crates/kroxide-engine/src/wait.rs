//! Waiting for a wave to become ready: one watch per kind and namespace,
//! readiness judged by the resource's `readyWhen` or its kind's rule, with
//! the kind taken from what was applied (objects from a LIST, such as a
//! watch's first page, carry no `kind`). A controller that reports a
//! failure (a Job `Failed`, a rollout past its `progressDeadlineSeconds`)
//! ends the wait at once with its own reason; a claim whose StorageClass
//! binds on first use (`WaitForFirstConsumer`) is ready while `Pending`.

use crate::deploy::Run;
use crate::progress::{Event, ResourceState};
use crate::retry::{brief, is_transient, retry};
use crate::{name_ns, DeployError, DeployOptions, DirectEngine, Kind};
use crate::{GRAPH_LABEL, INSTANCE_LABEL, NAMESPACE_LABEL};
use futures::future::try_join_all;
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::plan::readiness_of;
use kroxide_semantics::readiness::KindReadiness;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{GroupVersionKind, TypeMeta};
use kube::discovery::ApiResource;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// How many watch errors in a row are tolerated (the watcher backs off and
/// lists again after each) before the wait gives up.
const WATCH_ERRORS: u32 = 8;
/// When a deploy first looks for Warning events of what it waits on...
pub(crate) const WARNINGS_AFTER: Duration = Duration::from_secs(3);
/// ...and how often after that.
pub(crate) const WARNINGS_EVERY: Duration = Duration::from_secs(5);

impl DirectEngine {
    /// Waits until every object of a wave is ready: one watch per kind and
    /// namespace (selected by the graph and instance labels), not one per
    /// object. Each resource is reported ready as soon as all its objects
    /// are; a resource not ready within the resource timeout, or one whose
    /// controller reports a failure, stops the wave. Returns the ready
    /// objects by resource id, in the order they were applied (forEach order):
    /// those of `fresh` that are ready already, the others as the watch
    /// last saw them (one copy of each object is kept, not two).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn wait_wave(
        &self,
        rgd: &ResourceGraphDefinition,
        fresh: BTreeMap<String, Vec<Value>>,
        kinds: &BTreeMap<String, Kind>,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
        run: &Mutex<&mut Run>,
        keep_managed: bool,
    ) -> Result<BTreeMap<String, Vec<Value>>, DeployError> {
        let mut done: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        // (plural.group, namespace) -> object name -> resource id
        let mut groups: BTreeMap<(String, Option<String>), BTreeMap<String, String>> =
            BTreeMap::new();
        let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
        // The name and namespace of every object, in the order applied.
        let names: BTreeMap<String, Vec<(String, Option<String>)>> = fresh
            .iter()
            .map(|(id, objs)| (id.clone(), objs.iter().map(name_ns).collect()))
            .collect();
        for (id, objs) in fresh {
            let r = rgd.resource(&id).expect("resource of the graph");
            let mut waiting = Vec::new();
            for o in objs {
                match self.judge(r, &kinds[&id], &o, opts).await? {
                    KindReadiness::Failed(reason) => {
                        return Err(failed(&id, &kinds[&id], &o, reason))
                    }
                    s if s.is_ready() => done.entry(id.clone()).or_default().push(o),
                    // Its next version comes from the watch.
                    _ => waiting.push(name_ns(&o)),
                }
            }
            if waiting.is_empty() {
                self.mark_ready(&id, opts, run);
                continue;
            }
            remaining.insert(id.clone(), waiting.len());
            for (name, ns) in waiting {
                let k = &kinds[&id].resource;
                groups
                    .entry((format!("{}.{}", k.plural, k.group), ns))
                    .or_default()
                    .insert(name, id.clone());
            }
        }
        let remaining = Mutex::new(remaining);
        let selector = format!(
            "{GRAPH_LABEL}={graph},{INSTANCE_LABEL}={instance},{NAMESPACE_LABEL}={}",
            opts.namespace
        );
        let watches = groups.into_iter().map(|((_, ns), names)| {
            let first_id = names.values().next().cloned().unwrap_or_default();
            let kind = kinds[&first_id].clone();
            let api = self.api(&kind, ns.as_deref());
            let (selector, remaining) = (selector.clone(), &remaining);
            async move {
                let mut pending = names;
                let mut live: Vec<(String, Value)> = Vec::new();
                let mut last: BTreeMap<String, String> = BTreeMap::new();
                let watch = async {
                    self.watch_until_ready(
                        api,
                        &selector,
                        &kind,
                        rgd,
                        &mut pending,
                        &mut live,
                        &mut last,
                        remaining,
                        opts,
                        run,
                        keep_managed,
                    )
                    .await
                };
                match tokio::time::timeout(opts.resource_timeout, watch).await {
                    Ok(Ok(())) if pending.is_empty() => Ok(live),
                    Ok(Err(e)) => Err(e),
                    _ => {
                        let (name, id) = pending.into_iter().next().unwrap_or_default();
                        Err(DeployError::NotReady {
                            id,
                            seconds: opts.resource_timeout.as_secs(),
                            detail: last.remove(&name),
                        })
                    }
                }
            }
        });
        let warnings = self.warn_while_waiting(&names, kinds, &remaining, opts);
        let watched = tokio::select! {
            w = try_join_all(watches) => w?,
            never = warnings => match never {},
        };
        for (id, v) in watched.into_iter().flatten() {
            done.entry(id).or_default().push(v);
        }
        // In the order they were applied: a forEach collection keeps its order.
        for (id, objs) in done.iter_mut() {
            let order: std::collections::HashMap<&str, usize> = names[id]
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (n.as_str(), i))
                .collect();
            objs.sort_by_key(|o| {
                kroxide_model::meta_str(o, "name").and_then(|n| order.get(n).copied())
            });
        }
        Ok(done)
    }

    /// Shows the new Warning events of the objects still not ready (and of
    /// the ReplicaSets and Pods their controllers made), every few seconds,
    /// from [`WARNINGS_AFTER`] on: the controllers' reason why a wait drags
    /// on (a quota, an image that cannot be pulled). Never returns: it ends
    /// with the wait. A wave that is ready at once costs no request.
    async fn warn_while_waiting(
        &self,
        names: &BTreeMap<String, Vec<(String, Option<String>)>>,
        kinds: &BTreeMap<String, Kind>,
        remaining: &Mutex<BTreeMap<String, usize>>,
        opts: &DeployOptions,
    ) -> std::convert::Infallible {
        let mut warnings = crate::events::Warnings::new();
        let mut first = true;
        loop {
            tokio::time::sleep(if first {
                WARNINGS_AFTER
            } else {
                WARNINGS_EVERY
            })
            .await;
            first = false;
            let waiting: Vec<String> = {
                let rem = remaining.lock().unwrap_or_else(|p| p.into_inner());
                rem.iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(id, _)| id.clone())
                    .collect()
            };
            let mut objects = Vec::new();
            for id in &waiting {
                let kind = &kinds[id].resource.kind;
                for (name, ns) in names.get(id).into_iter().flatten() {
                    let ns = ns.clone().unwrap_or_else(|| opts.namespace.clone());
                    objects.push((ns, id.clone(), kind.clone(), name.clone()));
                }
            }
            warnings
                .report(&self.client, &objects, opts.request_timeout, &opts.progress)
                .await;
        }
    }

    /// Follows one watch until every object in `pending` is ready.
    #[allow(clippy::too_many_arguments)]
    async fn watch_until_ready(
        &self,
        api: Api<DynamicObject>,
        selector: &str,
        kind: &Kind,
        rgd: &ResourceGraphDefinition,
        pending: &mut BTreeMap<String, String>,
        live: &mut Vec<(String, Value)>,
        last: &mut BTreeMap<String, String>,
        remaining: &Mutex<BTreeMap<String, usize>>,
        opts: &DeployOptions,
        run: &Mutex<&mut Run>,
        keep_managed: bool,
    ) -> Result<(), DeployError> {
        use futures::StreamExt;
        use kube::runtime::{watcher, WatchStreamExt};
        let types = TypeMeta {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
        };
        let cfg = watcher::Config::default().labels(selector);
        let mut stream = watcher(api, cfg)
            .default_backoff()
            .applied_objects()
            .boxed();
        let mut errors = 0;
        while !pending.is_empty() {
            let Some(event) = stream.next().await else {
                break;
            };
            let mut obj = match event {
                Ok(obj) => {
                    errors = 0;
                    obj
                }
                Err(e) => {
                    let id = pending.values().next().cloned().unwrap_or_default();
                    let source = watch_error(e);
                    errors += 1;
                    if watch_gives_up(&source, errors) {
                        return Err(DeployError::Api { id, source });
                    }
                    tracing::warn!(resource = %id, error = %brief(&source), "watch failed; watching again");
                    continue;
                }
            };
            obj.types = Some(types.clone());
            let Some(name) = obj.metadata.name.clone() else {
                continue;
            };
            let Some(id) = pending.get(&name).cloned() else {
                continue;
            };
            let Ok(v) = serde_json::to_value(&obj) else {
                continue;
            };
            drop(obj);
            // Kept, if ready, until the deploy ends: without managedFields
            // (readiness never reads them), unless the graph reads them.
            let v = crate::deploy::slim(v, keep_managed);
            let r = rgd.resource(&id).expect("resource of the graph");
            match self.judge(r, kind, &v, opts).await? {
                KindReadiness::Failed(reason) => return Err(failed(&id, kind, &v, reason)),
                s if s.is_ready() => {
                    pending.remove(&name);
                    live.push((id.clone(), v));
                    let left = {
                        let mut rem = remaining.lock().unwrap_or_else(|p| p.into_inner());
                        let n = rem.entry(id.clone()).or_insert(1);
                        *n = n.saturating_sub(1);
                        *n
                    };
                    if left == 0 {
                        self.mark_ready(&id, opts, run);
                    }
                }
                KindReadiness::Waiting(why) => {
                    if let Some((ready, total)) = replica_count(&v) {
                        if last.get(&name) != Some(&why) {
                            opts.progress.emit(Event::Waiting {
                                id: id.clone(),
                                ready,
                                total,
                            });
                        }
                    }
                    last.insert(name, why);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Where one live object of `r` stands; a `Pending` claim is ready when
    /// its StorageClass waits for the first consumer to bind it.
    async fn judge(
        &self,
        r: &kroxide_model::Resource,
        kind: &Kind,
        obj: &Value,
        opts: &DeployOptions,
    ) -> Result<KindReadiness, DeployError> {
        let state = readiness_of(r, std::slice::from_ref(obj));
        let pending_claim = kind.resource.kind == "PersistentVolumeClaim"
            && r.ready_when.is_empty()
            && obj.pointer("/status/phase").and_then(Value::as_str) == Some("Pending");
        if pending_claim && self.binds_on_first_use(obj, opts).await? {
            return Ok(KindReadiness::Ready);
        }
        Ok(state)
    }

    /// Whether the StorageClass of claim `pvc` (its own, else the cluster's
    /// default) has `volumeBindingMode: WaitForFirstConsumer`.
    async fn binds_on_first_use(
        &self,
        pvc: &Value,
        opts: &DeployOptions,
    ) -> Result<bool, DeployError> {
        let classes: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("storage.k8s.io", "v1", "StorageClass"),
                "storageclasses",
            ),
        );
        let api_error = |source| DeployError::Api {
            id: kroxide_model::meta_str(pvc, "name")
                .unwrap_or("")
                .to_string(),
            source,
        };
        let lp = ListParams::default();
        let class = match pvc
            .pointer("/spec/storageClassName")
            .and_then(Value::as_str)
        {
            Some("") => return Ok(false),
            Some(name) => retry(opts.request_timeout, || classes.get_opt(name))
                .await
                .map_err(api_error)?,
            None => retry(opts.request_timeout, || classes.list(&lp))
                .await
                .map_err(api_error)?
                .items
                .into_iter()
                .find(|c| {
                    c.metadata.annotations.as_ref().is_some_and(|a| {
                        a.get("storageclass.kubernetes.io/is-default-class")
                            .is_some_and(|v| v == "true")
                    })
                }),
        };
        Ok(class.is_some_and(|c| {
            c.data.get("volumeBindingMode").and_then(Value::as_str) == Some("WaitForFirstConsumer")
        }))
    }

    fn mark_ready(&self, id: &str, opts: &DeployOptions, run: &Mutex<&mut Run>) {
        if let Ok(mut run) = run.lock() {
            run.states.insert(id.to_string(), ResourceState::Ready);
        }
        opts.progress.emit(Event::Ready { id: id.to_string() });
    }
}

fn failed(id: &str, kind: &Kind, obj: &Value, reason: String) -> DeployError {
    DeployError::ResourceFailed {
        id: id.to_string(),
        kind: kind.resource.kind.clone(),
        name: name_ns(obj).0,
        reason,
    }
}

/// Whether a wait stops on `source`, its watch's `errors`th error in a
/// row: not on 410 Gone (the watcher lists again), not on a transient
/// error until [`WATCH_ERRORS`] of them.
pub(crate) fn watch_gives_up(source: &kube::Error, errors: u32) -> bool {
    let gone = matches!(source, kube::Error::Api(s) if s.code == 410);
    !gone && (!is_transient(source) || errors >= WATCH_ERRORS)
}

/// The API error behind a watch's error, for the retry rules and messages.
pub(crate) fn watch_error(e: kube::runtime::watcher::Error) -> kube::Error {
    use kube::runtime::watcher::Error;
    match e {
        Error::InitialListFailed(e) | Error::WatchStartFailed(e) | Error::WatchFailed(e) => e,
        Error::WatchError(s) => kube::Error::Api(s),
        Error::NoResourceVersion => {
            kube::Error::Service("the watch gave no resourceVersion".into())
        }
    }
}

/// Ready and desired replicas of a workload, when it has them.
pub(crate) fn replica_count(o: &Value) -> Option<(u64, u64)> {
    let total = o
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .or_else(|| {
            o.pointer("/status/desiredNumberScheduled")
                .and_then(Value::as_u64)
        })?;
    let ready = o
        .pointer("/status/readyReplicas")
        .or_else(|| o.pointer("/status/numberReady"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Some((ready, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("x", "Reason").with_code(code),
        ))
    }

    /// A watch error is no longer dropped: a final one (403, 404) ends the
    /// wait at once, transient ones after a few in a row, 410 never.
    #[test]
    fn which_watch_errors_end_a_wait() {
        assert!(watch_gives_up(&api_error(403), 1));
        assert!(watch_gives_up(&api_error(404), 1));
        assert!(!watch_gives_up(&api_error(410), WATCH_ERRORS + 5));
        assert!(!watch_gives_up(&api_error(500), 1));
        assert!(watch_gives_up(&api_error(500), WATCH_ERRORS));
    }
}
