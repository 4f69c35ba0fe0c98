//! `deploy`: check everything, lock the instance, apply wave by wave, wait
//! for readiness, prune, unlock. See the crate documentation for the order
//! of events and what is checked before the first write.

use crate::history::Outcome;
use crate::inventory::{self, Inventory, Lock, ObjectRef, Store};
use crate::progress::{Event, ResourceState};
use crate::retry::retry;
use crate::{
    kinds_of, name_ns, not_owned, DeployError, DeployOptions, DeployReport, DirectEngine, Kind,
    FIELD_MANAGER, GRAPH_LABEL, INSTANCE_LABEL, NAMESPACE_LABEL, RESOURCE_LABEL,
};
use futures::future::try_join_all;
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::plan::{Action, Observed, Plan, PlanOptions, Planner};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

/// How long a deploy's lock lasts before another run may take it over; a
/// running deploy renews it at every wave.
const LOCK_TTL: Duration = Duration::from_secs(600);

type Key = (String, String, Option<String>, String);

/// How long a deploy whose objects are all ready keeps re-reading them for
/// status fields that are still pending.
const STATUS_GRACE: Duration = Duration::from_secs(5);

/// At most this many requests of one step (reads, dry runs, applies) are in
/// flight at once, so a large graph does not open a connection per object.
const CONCURRENCY: usize = 64;

/// Runs `futs` with at most [`CONCURRENCY`] at a time; results in order. A
/// slow one holds only its own slot (it is not `buffered`, where finished
/// results queue behind it and no new work starts).
pub(crate) async fn bounded<T, F: std::future::Future<Output = T>>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<T> {
    use futures::StreamExt;
    let mut done: Vec<(usize, T)> = futures::stream::iter(
        futs.into_iter()
            .enumerate()
            .map(|(i, f)| async move { (i, f.await) }),
    )
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

/// From this many objects of one kind in one namespace, existing objects are
/// listed at once rather than read one by one.
const LIST_THRESHOLD: usize = 4;

/// What this run has written, for rollback and for the inventory.
#[derive(Default)]
pub(crate) struct Run {
    /// Objects applied, with the version that existed before (None:
    /// created), which rollback restores; without rollback on failure
    /// nothing reads it, and it is not kept (None).
    applied: Vec<(ObjectRef, Option<Value>)>,
    /// The live object before this run, for every object checked; once
    /// the object is applied, it is kept only for rollback (None).
    prior: BTreeMap<Key, Option<Value>>,
    pub(crate) states: BTreeMap<String, ResourceState>,
    /// Fields another manager had changed that this run's applies set again.
    pub(crate) taken_back: Vec<crate::FieldDrift>,
}

/// Apply tasks running while later waves go on; aborted if the deploy is
/// dropped (Ctrl-C, the overall timeout), as the applies it awaits are.
#[derive(Default)]
struct Background(Vec<tokio::task::JoinHandle<Applied>>);

/// What one background apply task gives back: what its targets were and,
/// in order, what applying each gave.
type Applied = (Vec<ObjectRef>, Vec<kube::Result<Written>>);

/// What applying (or reading) one object gave, cut at once to what the run
/// keeps: the server's whole answer (managedFields and all) is not held
/// while thousands of others are written.
pub(crate) struct Written {
    /// The live object, without managedFields unless the graph reads them.
    obj: Value,
    /// Whether it was applied (false: read, being unchanged).
    written: bool,
    /// The digest of the apply (see [`inventory::applied_digest`]), when written.
    digest: Option<String>,
}

impl Written {
    /// What applying `t` gave: `live`.
    fn applied(t: &Target, live: DynamicObject, keep_managed: bool) -> Self {
        let obj = serde_json::to_value(&live).unwrap_or(Value::Null);
        drop(live);
        let digest = inventory::applied_digest(&t.object, &obj);
        Written {
            obj: slim(obj, keep_managed),
            written: true,
            digest,
        }
    }

    /// An object read, not applied (already slim).
    fn read(obj: Value) -> Self {
        Written {
            obj,
            written: false,
            digest: None,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// Records what applying (or reading) the objects `orefs` gave: the
/// applied digests, the run's writes and states, progress events.
/// Returns the live objects by resource id, or the first failure.
fn record_written<'a>(
    orefs: impl IntoIterator<Item = &'a ObjectRef>,
    results: Vec<Result<Written, DeployError>>,
    inv: &mut Inventory,
    run: &mut Run,
    opts: &DeployOptions,
) -> Result<BTreeMap<String, Vec<Value>>, DeployError> {
    let mut fresh: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut failure = None;
    for (oref, result) in orefs.into_iter().zip(results) {
        match result {
            Ok(Written {
                obj,
                written,
                digest,
            }) => {
                // Only rollback needs the prior version once the object is applied.
                let prior = match run.prior.get_mut(&oref.key()) {
                    Some(p) if opts.rollback_on_failure => p.clone(),
                    Some(p) => p.take(),
                    None => None,
                };
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str);
                let changed = written
                    && match prior
                        .as_ref()
                        .and_then(|p| p.pointer("/metadata/resourceVersion"))
                        .and_then(Value::as_str)
                    {
                        Some(before) => rv != Some(before),
                        None => true,
                    };
                if written {
                    match digest {
                        Some(d) => inv.applied.insert(oref.applied_key(), d),
                        None => inv.applied.remove(&oref.applied_key()),
                    };
                }
                opts.progress.emit(Event::Applied {
                    id: oref.id.clone(),
                    kind: oref.kind.clone(),
                    name: oref.name.clone(),
                    changed,
                });
                let prior = if opts.rollback_on_failure {
                    prior
                } else {
                    None
                };
                run.applied.push((oref.clone(), prior));
                run.states.insert(oref.id.clone(), ResourceState::Applied);
                fresh.entry(oref.id.clone()).or_default().push(obj);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(fresh),
    }
}

/// One object about to be applied.
pub(crate) struct Target {
    pub(crate) oref: ObjectRef,
    pub(crate) object: Value,
    pub(crate) api: Api<DynamicObject>,
}

impl Target {
    /// Server-side applies the object with `pp` (a dry run or not), retried
    /// as [`retry`] does.
    pub(crate) async fn apply(
        &self,
        pp: &PatchParams,
        timeout: std::time::Duration,
    ) -> kube::Result<DynamicObject> {
        let patch = Patch::Apply(&self.object);
        crate::retry::retry_if(timeout, crate::retry::is_transient_apply, || {
            self.api.patch(&self.oref.name, pp, &patch)
        })
        .await
    }

    /// The server's refusal of this object in a dry run.
    pub(crate) fn dry_run_error(&self, e: kube::Error) -> DeployError {
        DeployError::DryRun {
            id: self.oref.id.clone(),
            kind: self.oref.kind.clone(),
            name: self.oref.name.clone(),
            message: match e {
                // A field another manager took (`kubectl scale`, `kubectl
                // edit`): kroxide takes it back only when told to.
                kube::Error::Api(s) if s.code == 409 => format!(
                    "{} (another field manager changed it since kroxide applied it: `kroxide drift` lists such fields; pass --force-conflicts to set them back to what the graph says)",
                    s.message
                ),
                kube::Error::Api(s) => s.message,
                other => other.to_string(),
            },
        }
    }
}

impl DirectEngine {
    /// `o` labelled for `graph`/`instance`, with its identity and the API to write it through.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn target(
        &self,
        k: &Kind,
        mut o: Value,
        id: &str,
        wave: usize,
        graph: &str,
        instance: &str,
        namespace: &str,
    ) -> Target {
        o["metadata"]["labels"][GRAPH_LABEL] = json!(graph);
        o["metadata"]["labels"][INSTANCE_LABEL] = json!(instance);
        o["metadata"]["labels"][RESOURCE_LABEL] = json!(id);
        o["metadata"]["labels"][NAMESPACE_LABEL] = json!(namespace);
        let placed = self.placed(k, &o, id, wave);
        Target {
            object: o,
            ..placed
        }
    }

    /// The identity of `o` (resource `id`, in `wave`) and the API to write
    /// it through, without the object (`Null`): what the ownership check
    /// needs, for objects labelled only when they are written.
    pub(crate) fn placed(&self, k: &Kind, o: &Value, id: &str, wave: usize) -> Target {
        let (name, ns) = name_ns(o);
        let api = self.api(k, ns.as_deref());
        let namespace = match k.caps.scope {
            kube::discovery::Scope::Namespaced => ns.or_else(|| Some(api.namespace()?.to_string())),
            kube::discovery::Scope::Cluster => None,
        };
        Target {
            oref: ObjectRef {
                wave,
                id: id.to_string(),
                api_version: k.resource.api_version.clone(),
                kind: k.resource.kind.clone(),
                namespace,
                name,
            },
            object: Value::Null,
            api,
        }
    }

    /// Reads the metadata of each target not read yet (labels are all
    /// ownership needs: no Secret data is fetched) and fails, before any
    /// write, if one exists and is not this instance's. With rollback on
    /// failure, the whole prior version of each existing object is read too,
    /// to restore it.
    async fn check_owned(
        &self,
        targets: &[Target],
        run: &mut Run,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<(), DeployError> {
        let unread: Vec<&Target> = targets
            .iter()
            .filter(|t| !run.prior.contains_key(&t.oref.key()))
            .collect();
        // Many objects of one kind in one namespace: one LIST instead of a GET each.
        let groups = by_kind(unread.iter().copied());
        let mut listed: BTreeMap<(String, String, Option<String>, String), Option<Value>> =
            BTreeMap::new();
        // Other managers' fields are read only to take them back (with force).
        let foreign = opts.force_conflicts;
        let lists = groups
            .iter()
            .filter(|(_, ts)| ts.len() >= LIST_THRESHOLD)
            .map(|((av, kind, ns), ts)| async move {
                let wanted: BTreeSet<&str> = ts.iter().map(|t| t.oref.name.as_str()).collect();
                let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
                let lp = kube::api::ListParams::default();
                list_pages(
                    opts.request_timeout,
                    &lp,
                    |lp| async move { ts[0].api.list_metadata(&lp).await },
                    |d| {
                        let Some(name) = d.metadata.name.clone() else {
                            return;
                        };
                        if wanted.contains(name.as_str()) {
                            by_name.insert(name, metadata_object(av, kind, d, foreign));
                        }
                    },
                )
                .await
                .map_err(|source| DeployError::Api {
                    id: ts[0].oref.id.clone(),
                    source,
                })?;
                // A name twice (not a valid graph) is read on its own.
                let mut taken = BTreeSet::new();
                Ok::<_, DeployError>(
                    ts.iter()
                        .filter(|t| taken.insert(t.oref.name.as_str()))
                        .map(|t| {
                            (
                                (av.clone(), kind.clone(), ns.clone(), t.oref.name.clone()),
                                by_name.remove(&t.oref.name),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
            });
        for found in try_join_all(lists).await? {
            listed.extend(found);
        }
        let reads = unread.iter().map(|t| {
            let known = listed.remove(&t.oref.key());
            async move {
                if let Some(live) = known {
                    return Ok(live);
                }
                retry(opts.request_timeout, || {
                    t.api.get_metadata_opt(&t.oref.name)
                })
                .await
                .map(|o| o.map(|d| metadata_object(&t.oref.api_version, &t.oref.kind, d, foreign)))
                .map_err(|source| DeployError::Api {
                    id: t.oref.id.clone(),
                    source,
                })
            }
        });
        let lives = bounded(reads)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        // Rollback restores the whole object, not just its metadata.
        let lives = if opts.rollback_on_failure {
            let full = unread.iter().zip(&lives).map(|(t, l)| async move {
                if l.is_none() {
                    return Ok(None);
                }
                retry(opts.request_timeout, || t.api.get_opt(&t.oref.name))
                    .await
                    .map(|o| o.and_then(|d| serde_json::to_value(d).ok()))
                    .map_err(|source| DeployError::Api {
                        id: t.oref.id.clone(),
                        source,
                    })
            });
            bounded(full)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?
        } else {
            lives
        };
        let mut problems = Vec::new();
        for (t, live) in unread.into_iter().zip(lives) {
            if let Some(why) = live
                .as_ref()
                .and_then(|l| not_owned(l, graph, instance, &opts.namespace))
            {
                if !opts.adopt {
                    problems.push(format!(
                        "{} (resource `{}`): {why}",
                        t.oref.display(),
                        t.oref.id
                    ));
                }
            }
            run.prior.insert(t.oref.key(), live);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DeployError::NotOwned { objects: problems })
        }
    }

    /// Deploys `rgd` for `instance`; see the crate documentation.
    pub async fn deploy(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &Value,
        opts: &DeployOptions,
    ) -> Result<DeployReport, DeployError> {
        let popts = PlanOptions {
            namespace: opts.namespace.clone(),
            ..PlanOptions::default()
        };
        // 1. Validate everything before the first write.
        let whole = kroxide_semantics::instance::whole(rgd, instance);
        let instance = &whole;
        let planner = Planner::new(rgd)?;
        let first = planner.plan(instance, &popts)?;
        let graph = rgd.name().to_string();
        let instance_name = name_ns(&first.instance).0;
        check_identity(instance, &graph, &instance_name, opts)?;
        let store = self.store(&graph, &instance_name, opts);
        // Three reads that need nothing of each other, at once: whether the
        // namespace exists, the inventory an earlier run left, the graph's kinds.
        let (ns_exists, old, mut served) = futures::try_join!(
            self.namespace_exists(opts),
            store.read(),
            self.discover(opts, crate::api_versions(rgd)),
        )?;
        if !ns_exists && !opts.create_namespace {
            return Err(DeployError::NoNamespace(opts.namespace.clone()));
        }
        if let (Some(inv), false) = (&old, opts.break_lock) {
            store.check_lock(inv, &self.holder)?;
        }
        // The instance's uid, which expressions may read (KRO's instances
        // have the one the API server gave them): kept in the inventory.
        let with_uid = inventory::with_uid(instance, old.as_ref());
        let (instance, first) = match &with_uid {
            Some(i) => {
                // Not kept alive beside its replacement: a plan holds every
                // rendered object.
                drop(first);
                (i, planner.plan(i, &popts)?)
            }
            None => (instance, first),
        };
        refuse_failures(&first)?;
        // The kinds of what an earlier run left, to prune them.
        let left = old.iter().flat_map(|i| &i.objects);
        self.discover_more(&mut served, opts, left.map(|o| o.api_version.as_str()))
            .await?;
        // Kinds a CRD of the graph defines are resolved once it is Established.
        let provided = crate::order::Provided::of(&first);
        let mut kinds = kinds_of(&served, rgd, &provided)?;
        let waves = crate::order::waves(planner.graph(), &first, &provided, |id| {
            let r = rgd.resource(id)?;
            Some((r.api_version()?.to_string(), r.kind()?.to_string()))
        });
        let wave_of: BTreeMap<&str, usize> = waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| w.iter().map(move |id| (id.as_str(), i)))
            .collect();
        // Each object where it goes, its manifest left in the plan: labelled
        // (a copy) when it is checked, a few at a time, not all at once.
        let (known, manifests): (Vec<Target>, Vec<(&Value, &Kind)>) = first
            .resources
            .iter()
            .filter(|r| r.action == Action::Apply && kinds.contains_key(&r.id))
            .flat_map(|r| {
                let k = &kinds[&r.id];
                let wave = wave_of.get(r.id.as_str()).copied().unwrap_or(0);
                r.objects
                    .iter()
                    .map(move |o| (self.placed(k, o, &r.id, wave), (o, k)))
            })
            .unzip();
        let mut run = Run::default();
        self.check_owned(&known, &mut run, &graph, &instance_name, opts)
            .await?;
        // A server-side dry run of every object that can be resolved now
        // (objects in a namespace still to be created cannot be dry-run: the
        // offline schema check stands in for it).
        let dry = &opts.apply_params().dry_run();
        let no_digests = BTreeMap::new();
        let old_applied = old.as_ref().map_or(&no_digests, |i| &i.applied);
        let (run_ref, provided_ref) = (&run, &provided);
        let dry_runs = known
            .iter()
            .zip(manifests)
            .filter(|(t, _)| ns_exists || t.oref.namespace.as_deref() != Some(&opts.namespace))
            .map(|(t, (o, k))| {
                let (id, wave) = (&t.oref.id, t.oref.wave);
                self.target(
                    k,
                    o.clone(),
                    id,
                    wave,
                    &graph,
                    &instance_name,
                    &opts.namespace,
                )
            })
            // What is on the cluster just as kroxide applied it needs no check.
            .filter(|t| !unchanged(t, run_ref, old_applied))
            .map(|t| async move {
                let provided = provided_ref;
                let in_new_namespace = t
                    .oref
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| provided.namespaces.contains_key(ns));
                match t.apply(dry, opts.request_timeout).await {
                    Ok(_) => Ok(()),
                    // A namespace this graph creates does not exist yet.
                    Err(kube::Error::Api(s)) if s.code == 404 && in_new_namespace => Ok(()),
                    Err(e) => Err(t.dry_run_error(e)),
                }
            });
        bounded(dry_runs)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        opts.progress.emit(Event::Validated {
            resources: first.resources.len(),
            objects: known.len(),
        });
        // Their manifests are made again wave by wave (against what the
        // earlier waves gave): only what they are is kept for the inventory.
        let known: Vec<ObjectRef> = known.into_iter().map(|t| t.oref).collect();

        // 2. The first write: the namespace, then the inventory with our lock.
        if !ns_exists {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": opts.namespace, "labels": {GRAPH_LABEL: graph}}});
            let (pp, patch) = (PatchParams::apply(FIELD_MANAGER), Patch::Apply(&ns));
            let namespaces = self.namespaces();
            retry(opts.request_timeout, || {
                namespaces.patch(&opts.namespace, &pp, &patch)
            })
            .await
            .map_err(|source| DeployError::Api {
                id: "namespace".into(),
                source,
            })?;
        }
        let old_objects = old.as_ref().map(|i| i.objects.clone()).unwrap_or_default();
        let mut inv = old.unwrap_or_else(|| Inventory {
            graph: graph.clone(),
            ..Inventory::default()
        });
        inv.instance = json!({
            "apiVersion": first.instance.get("apiVersion"),
            "kind": first.instance.get("kind"),
            "metadata": {"name": instance_name, "namespace": opts.namespace, "uid": first.instance.pointer("/metadata/uid")},
            "spec": first.instance.get("spec"),
        });
        inv.objects.extend(known);
        // Who deploys, for the revision history: asked along with the
        // first write of the inventory (a review is a POST, though it
        // stores nothing: not before everything is validated).
        let (user, locked) = futures::join!(self.whoami(opts), self.lock(&store, &mut inv));
        locked?;
        let cause = opts.change_cause.as_deref().unwrap_or("deploy");

        // What a failure reports of each resource; the plan itself goes to
        // the waves, which drop it once the first wave no longer needs it.
        let resources: Vec<(String, bool)> = first
            .resources
            .iter()
            .map(|r| (r.id.clone(), r.action == Action::Skip))
            .collect();
        let waves = self.apply_waves(
            &planner,
            instance,
            first,
            &waves,
            &mut kinds,
            &mut served,
            &graph,
            &instance_name,
            opts,
            &store,
            &mut inv,
            &mut run,
        );
        let outcome = match opts.overall_timeout {
            Some(limit) => {
                tokio::time::timeout(limit, waves)
                    .await
                    .unwrap_or(Err(DeployError::Deadline {
                        seconds: limit.as_secs(),
                    }))
            }
            None => waves.await,
        };
        match outcome {
            Ok((waves, live, last)) => {
                // 3. Prune what the graph no longer has, then unlock.
                let keep: BTreeSet<Key> = run.applied.iter().map(|(o, _)| o.key()).collect();
                let stale: Vec<ObjectRef> = old_objects
                    .iter()
                    .filter(|o| !keep.contains(&o.key()))
                    .cloned()
                    .collect();
                // Objects whose delete policy is `retain` are orphaned, not deleted.
                let removed = if opts.prune {
                    let how = crate::teardown::Removal::Delete { wait: false };
                    self.remove_objects(&served, &stale, &graph, &instance_name, opts, how)
                        .await
                } else {
                    Default::default()
                };
                // Kept: what could not be pruned yet (a later run retries); not
                // kept: what turned out not to be ours, or was orphaned.
                let left: Vec<ObjectRef> =
                    stale.into_iter().filter(|o| !removed.handled(o)).collect();
                inv.objects = run.applied.iter().map(|(o, _)| o.clone()).collect();
                inv.objects.extend(left);
                let listed: BTreeSet<String> =
                    inv.objects.iter().map(ObjectRef::applied_key).collect();
                inv.applied.retain(|k, _| listed.contains(k));
                inv.lock = None;
                inv.record(
                    rgd,
                    &inv.instance["spec"].clone(),
                    &user,
                    Outcome::Deployed,
                    cause,
                );
                store.write(&mut inv).await?;
                // 4. Status on the live objects (the last plan of the waves).
                Ok(DeployReport {
                    waves,
                    live,
                    pruned: removed.deleted,
                    retained: removed.retained,
                    taken_back: std::mem::take(&mut run.taken_back),
                    plan: last,
                })
            }
            Err(e) => {
                if opts.rollback_on_failure {
                    let kept = self.rollback(&served, &run, opts).await;
                    inv.objects = old_objects;
                    inv.objects.extend(kept);
                } else {
                    inv.objects
                        .extend(run.applied.iter().map(|(o, _)| o.clone()));
                }
                for (id, skipped) in &resources {
                    let state = run.states.get(id).copied().unwrap_or(if *skipped {
                        ResourceState::Excluded
                    } else {
                        ResourceState::NotApplied
                    });
                    if state != ResourceState::Excluded || opts.rollback_on_failure {
                        opts.progress.emit(Event::State {
                            id: id.clone(),
                            state: if opts.rollback_on_failure && state != ResourceState::Excluded {
                                ResourceState::NotApplied
                            } else {
                                state
                            },
                        });
                    }
                }
                inv.lock = None;
                inv.record(
                    rgd,
                    &inv.instance["spec"].clone(),
                    &user,
                    Outcome::Failed,
                    cause,
                );
                if let Err(unlock) = store.write(&mut inv).await {
                    tracing::warn!(error = %unlock, "could not release the instance lock");
                }
                Err(e)
            }
        }
    }

    /// Deploys as [`DirectEngine::deploy`] until `cancel` completes (the
    /// caller's Ctrl-C): then the run stops where it is, its lock on the
    /// instance is released, and the answer is [`DeployError::Interrupted`].
    /// What was applied stays, listed in the inventory, so a re-run
    /// converges.
    ///
    /// ```no_run
    /// # async fn run(engine: kroxide_engine::DirectEngine, rgd: kroxide_model::ResourceGraphDefinition) {
    /// let instance = serde_json::json!({"metadata": {"name": "dev"}, "spec": {}});
    /// let opts = kroxide_engine::DeployOptions::default();
    /// let cancel = async { tokio::signal::ctrl_c().await.ok(); };
    /// match engine.deploy_until(&rgd, &instance, &opts, cancel).await {
    ///     Err(kroxide_engine::DeployError::Interrupted { .. }) => std::process::exit(130),
    ///     other => println!("{:?}", other.map(|r| r.masked_status(&rgd))),
    /// }
    /// # }
    /// ```
    pub async fn deploy_until(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &Value,
        opts: &DeployOptions,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<DeployReport, DeployError> {
        tokio::select! {
            r = self.deploy(rgd, instance, opts) => r,
            () = cancel => {
                let whole = kroxide_semantics::instance::whole(rgd, instance);
                let name = kroxide_model::meta_str(&whole, "name").unwrap_or(rgd.name());
                let released = self.release_lock(rgd.name(), name, opts).await;
                if let Err(e) = &released {
                    tracing::warn!(error = %e, "could not release the instance lock");
                }
                Err(DeployError::Interrupted { lock_released: released.is_ok() })
            }
        }
    }

    /// Takes (or renews) the instance lock by writing the inventory.
    async fn lock(&self, store: &Store, inv: &mut Inventory) -> Result<(), DeployError> {
        inv.lock = Some(Lock {
            holder: self.holder.clone(),
            expires: inventory::now() + LOCK_TTL.as_secs(),
        });
        store.write(inv).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_waves(
        &self,
        planner: &Planner<'_>,
        instance: &Value,
        first: Plan,
        order: &[Vec<String>],
        kinds: &mut BTreeMap<String, Kind>,
        served: &mut crate::Served,
        graph: &str,
        instance_name: &str,
        opts: &DeployOptions,
        store: &Store,
        inv: &mut Inventory,
        run: &mut Run,
    ) -> Result<(Vec<Vec<String>>, BTreeMap<String, Vec<Value>>, Plan), DeployError> {
        let pp = opts.apply_params();
        // What the waves applied so far look like on the cluster; each wave
        // is resolved against it.
        let mut wave_opts = PlanOptions {
            namespace: opts.namespace.clone(),
            ..PlanOptions::default()
        };
        // Objects without their managedFields unless the graph reads them:
        // they are almost half of a Deployment, and a deploy keeps every
        // object it applied until the end.
        let keep_managed = reads_managed_fields(planner.rgd());
        let mut applied_waves = Vec::new();
        let waves = order.len();
        // Resources nothing reads (and that create no namespace or kind
        // another may need): their applies need not finish before the next wave.
        let leaves: BTreeSet<&str> = planner
            .graph()
            .ids()
            .iter()
            .filter(|id| planner.graph().dependents(id).is_empty())
            .filter(|id| {
                !matches!(
                    planner.rgd().resource(id).and_then(|r| r.kind()),
                    Some("Namespace" | "CustomResourceDefinition")
                )
            })
            .map(String::as_str)
            .collect();
        let mut background = Background::default();
        let mut first = Some(first);
        for (wave, ids) in order.iter().enumerate() {
            // Objects that exist already (externalRef): read, never written;
            // waited for until they exist, as KRO waits.
            for id in ids {
                let Some(ext) = planner
                    .rgd()
                    .resource(id)
                    .and_then(|r| r.external_ref.as_ref())
                else {
                    continue;
                };
                if !kinds.contains_key(id) {
                    let kind = self
                        .resolve_new_kind(planner.rgd(), id, served, opts)
                        .await?;
                    kinds.insert(id.clone(), kind);
                }
                let found = self
                    .read_external(id, ext, &kinds[id], keep_managed, true, opts)
                    .await?;
                wave_opts.observed.replace(id, found);
            }
            // Resolve the wave against what the cluster now holds. A value
            // an earlier wave's objects do not show yet (a load balancer's
            // address) is waited for, as KRO requeues until it can resolve.
            let deadline = tokio::time::Instant::now() + opts.resource_timeout;
            let mut current = loop {
                let current = match first.take() {
                    Some(first) if wave == 0 && wave_opts.observed.is_empty() => first,
                    _ => planner.plan(instance, &wave_opts)?,
                };
                let waiting = ids
                    .iter()
                    .filter_map(|id| current.resource(id))
                    .find(|r| r.action == Action::Wait);
                let Some(r) = waiting else { break current };
                if tokio::time::Instant::now() >= deadline {
                    return Err(DeployError::NotReady {
                        id: r.id.clone(),
                        seconds: opts.resource_timeout.as_secs(),
                        detail: Some(format!(
                            "what it reads is not there: {}",
                            r.reason.clone().unwrap_or_default()
                        )),
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                self.refresh(kinds, &mut wave_opts.observed, keep_managed, opts)
                    .await?;
            };
            let mut this_wave = Vec::new();
            let mut targets = Vec::new();
            for id in ids {
                let Some(r) = current.resources.iter_mut().find(|r| r.id == *id) else {
                    continue;
                };
                match r.action {
                    Action::Skip => {
                        run.states.insert(id.clone(), ResourceState::Excluded);
                        continue;
                    }
                    Action::Read => continue,
                    Action::Fail => {
                        return Err(DeployError::Failed {
                            id: id.clone(),
                            reason: r.reason.clone().unwrap_or_default(),
                        })
                    }
                    Action::Wait => {
                        return Err(DeployError::NotReady {
                            id: id.clone(),
                            seconds: opts.resource_timeout.as_secs(),
                            detail: r.reason.clone(),
                        })
                    }
                    Action::Apply => {}
                }
                this_wave.push(id.clone());
                if !kinds.contains_key(id) {
                    let kind = self
                        .resolve_new_kind(planner.rgd(), id, served, opts)
                        .await?;
                    kinds.insert(id.clone(), kind);
                }
                // Taken out of the plan: the targets are the only copy.
                for o in std::mem::take(&mut r.objects) {
                    targets.push(self.target(
                        &kinds[id],
                        o,
                        id,
                        wave,
                        graph,
                        instance_name,
                        &opts.namespace,
                    ));
                }
            }
            // Every object of the graph is in it: not kept while this wave
            // is applied and waited for.
            drop(current);
            // A wave whose resources are all excluded has nothing to show.
            if !this_wave.is_empty() {
                opts.progress.emit(Event::WaveStarted {
                    wave: wave + 1,
                    waves,
                    ids: this_wave.clone(),
                });
            }
            // Objects whose names were only known now: check them, record them, renew the lock.
            self.check_owned(&targets, run, graph, instance_name, opts)
                .await?;
            let before = inv.objects.len();
            let recorded: BTreeSet<Key> = inv.objects.iter().map(ObjectRef::key).collect();
            inv.objects.extend(
                targets
                    .iter()
                    .filter(|t| !recorded.contains(&t.oref.key()))
                    .map(|t| t.oref.clone()),
            );
            // Written again when it lists new objects, or when the lock is past
            // half its time (a long deploy keeps it).
            let half_gone = inv
                .lock
                .as_ref()
                .is_some_and(|l| l.expires < inventory::now() + LOCK_TTL.as_secs() / 2);
            if inv.objects.len() != before || half_gone {
                self.lock(store, inv).await?;
            }
            // Objects that are on the cluster just as kroxide applied them are
            // read, not applied again: a redeploy of an unchanged instance
            // writes nothing.
            let same: Vec<bool> = targets
                .iter()
                .map(|t| unchanged(t, run, &inv.applied))
                .collect();
            // What another manager changed that this apply takes back
            // (read from the managedFields of the metadata already read).
            // Without force, the apply conflicts on such a field instead
            // (unless it holds the graph's value again: then both own it).
            let force = opts.force_conflicts;
            for (t, _) in targets.iter().zip(&same).filter(|(_, s)| force && !**s) {
                if let Some(Some(prior)) = run.prior.get(&t.oref.key()) {
                    for d in crate::drift::object_drift(&t.oref, &t.object, prior) {
                        opts.progress.emit(Event::TakingBack {
                            id: d.id.clone(),
                            kind: d.kind.clone(),
                            name: d.name.clone(),
                            field: d.field.clone(),
                            manager: d.manager.clone(),
                        });
                        run.taken_back.push(d);
                    }
                }
            }
            let mut kept = self
                .read_whole(
                    targets
                        .iter()
                        .zip(&same)
                        .filter(|(_, s)| **s)
                        .map(|(t, _)| t),
                    graph,
                    instance_name,
                    keep_managed,
                    opts,
                )
                .await?;
            // What no other resource reads (a Service nothing refers to) does
            // not hold the next wave back: its applies run meanwhile, and it
            // is waited on at the end, as KRO walks each resource as soon as
            // what it reads is ready. Not on the last wave (nothing follows)
            // nor with rollback on failure (which must know every write).
            type Split = Vec<(Target, bool)>;
            let (later, targets): (Split, Split) =
                targets.into_iter().zip(same).partition(|(t, same)| {
                    !*same
                        && wave + 1 < waves
                        && !opts.rollback_on_failure
                        && leaves.contains(t.oref.id.as_str())
                });
            if !later.is_empty() {
                let later: Vec<Target> = later.into_iter().map(|(t, _)| t).collect();
                for t in &later {
                    run.states.insert(t.oref.id.clone(), ResourceState::Applied);
                }
                let later = std::sync::Arc::new(later);
                // Owned futures (a task outlives this loop), in order.
                let applies: Vec<_> = (0..later.len())
                    .map(|i| {
                        let (later, pp) = (later.clone(), pp.clone());
                        let timeout = opts.request_timeout;
                        async move {
                            let t = &later[i];
                            t.apply(&pp, timeout)
                                .await
                                .map(|o| Written::applied(t, o, keep_managed))
                        }
                    })
                    .collect();
                background.0.push(tokio::spawn(async move {
                    use futures::StreamExt;
                    let results: Vec<_> = futures::stream::iter(applies)
                        .buffered(CONCURRENCY)
                        .collect()
                        .await;
                    // The manifests are sent: only what they were is kept.
                    let orefs = match std::sync::Arc::try_unwrap(later) {
                        Ok(later) => later.into_iter().map(|t| t.oref).collect(),
                        Err(later) => later.iter().map(|t| t.oref.clone()).collect(),
                    };
                    (orefs, results)
                }));
            }
            let targets: Vec<Target> = targets.into_iter().map(|(t, _)| t).collect();
            let writes = targets.iter().map(|t| {
                let read = kept.remove(&t.oref.key());
                let pp = &pp;
                async move {
                    match read {
                        Some(live) => Ok(Written::read(live)),
                        None => t
                            .apply(pp, opts.request_timeout)
                            .await
                            .map(|o| Written::applied(t, o, keep_managed))
                            .map_err(|source| DeployError::Api {
                                id: t.oref.id.clone(),
                                source,
                            }),
                    }
                }
            });
            let results = bounded(writes).await;
            let fresh = record_written(targets.iter().map(|t| &t.oref), results, inv, run, opts)?;
            // Applied: their manifests are not kept while the wave is waited for.
            drop(targets);
            // Wait until every resource of the wave is ready.
            let ready = self
                .wait_ready(
                    planner.rgd(),
                    fresh,
                    kinds,
                    graph,
                    instance_name,
                    opts,
                    run,
                    keep_managed,
                )
                .await?;
            for (id, objs) in ready {
                wave_opts.observed.replace(&id, objs);
            }
            applied_waves.push(this_wave);
        }
        // The applies that did not hold a wave back, then their readiness.
        let mut late: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for handle in std::mem::take(&mut background.0) {
            let (targets, results) = handle.await.map_err(|e| DeployError::Failed {
                id: "deploy".into(),
                reason: format!("an apply task stopped: {e}"),
            })?;
            let results = targets
                .iter()
                .zip(results)
                .map(|(t, r)| {
                    r.map_err(|source| DeployError::Api {
                        id: t.id.clone(),
                        source,
                    })
                })
                .collect();
            for (id, objs) in record_written(&targets, results, inv, run, opts)? {
                late.entry(id).or_default().extend(objs);
            }
        }
        if !late.is_empty() {
            let ready = self
                .wait_ready(
                    planner.rgd(),
                    late,
                    kinds,
                    graph,
                    instance_name,
                    opts,
                    run,
                    keep_managed,
                )
                .await?;
            for (id, objs) in ready {
                wave_opts.observed.replace(&id, objs);
            }
        }
        // Status fields may read what a controller writes a moment after
        // the object counts as ready (an Ingress's address): re-read for a
        // little while, so the status printed is the one `status` gives next.
        let grace = tokio::time::Instant::now() + STATUS_GRACE.min(opts.resource_timeout);
        let mut last = planner.plan(instance, &wave_opts)?;
        while !last.pending.is_empty() && tokio::time::Instant::now() < grace {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            self.refresh(kinds, &mut wave_opts.observed, keep_managed, opts)
                .await?;
            last = planner.plan(instance, &wave_opts)?;
        }
        Ok((applied_waves, wave_opts.observed.into_resources(), last))
    }

    /// Waits until every object of `fresh` is ready (see `wait_wave`),
    /// recording readiness in `run`.
    #[allow(clippy::too_many_arguments)]
    async fn wait_ready(
        &self,
        rgd: &ResourceGraphDefinition,
        fresh: BTreeMap<String, Vec<Value>>,
        kinds: &BTreeMap<String, Kind>,
        graph: &str,
        instance_name: &str,
        opts: &DeployOptions,
        run: &mut Run,
        keep_managed: bool,
    ) -> Result<BTreeMap<String, Vec<Value>>, DeployError> {
        let run_lock = Mutex::new(run);
        self.wait_wave(
            rgd,
            fresh,
            kinds,
            graph,
            instance_name,
            opts,
            &run_lock,
            keep_managed,
        )
        .await
    }

    /// The objects an externalRef names (by name, or by label selector: all
    /// that match), in the instance's namespace unless it names one; with
    /// `wait`, waited for until one exists (up to the resource timeout), as
    /// KRO waits.
    pub(crate) async fn read_external(
        &self,
        id: &str,
        ext: &kroxide_model::ExternalRef,
        kind: &Kind,
        keep_managed: bool,
        wait: bool,
        opts: &DeployOptions,
    ) -> Result<Vec<Value>, DeployError> {
        let ns = ext
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| opts.namespace.clone());
        let api = self.api(kind, Some(&ns));
        let deadline = tokio::time::Instant::now() + opts.resource_timeout;
        let what = match (&ext.metadata.name, &ext.metadata.selector) {
            (Some(name), _) => format!("{} {name}", ext.kind),
            (None, Some(sel)) => format!("a {} matching {sel}", ext.kind),
            (None, None) => ext.kind.clone(),
        };
        loop {
            let read = match (&ext.metadata.name, &ext.metadata.selector) {
                (Some(name), _) => retry(opts.request_timeout, || api.get_opt(name))
                    .await
                    .map(|o| o.into_iter().collect()),
                (None, selector) => {
                    let labels = selector
                        .as_ref()
                        .and_then(|s| s.get("matchLabels"))
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    let lp = kube::api::ListParams::default().labels(&labels);
                    retry(opts.request_timeout, || api.list(&lp))
                        .await
                        .map(|l| l.items)
                }
            };
            let found: Vec<Value> = read
                .map_err(|source| DeployError::Api {
                    id: id.to_string(),
                    source,
                })?
                .into_iter()
                .filter_map(|d| serde_json::to_value(d).ok())
                .map(|mut v| {
                    // A LIST's items carry no kind.
                    v["apiVersion"] = json!(ext.api_version);
                    v["kind"] = json!(ext.kind);
                    slim(v, keep_managed)
                })
                .collect();
            if !found.is_empty() || ext.metadata.name.is_none() || !wait {
                return Ok(found);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DeployError::NotReady {
                    id: id.to_string(),
                    seconds: opts.resource_timeout.as_secs(),
                    detail: Some(format!(
                        "the external object {what} in namespace {ns} does not exist (kroxide reads it, never creates it)"
                    )),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// The whole live objects of `targets`, by key: one LIST (of this
    /// instance's objects) per kind and namespace with many targets, a GET
    /// for the others. Objects gone meanwhile are missing from the answer.
    async fn read_whole<'t>(
        &self,
        targets: impl Iterator<Item = &'t Target>,
        graph: &str,
        instance: &str,
        keep_managed: bool,
        opts: &DeployOptions,
    ) -> Result<BTreeMap<Key, Value>, DeployError> {
        let groups = by_kind(targets);
        let whole = |t: &Target, d: DynamicObject| {
            let mut v = slim(serde_json::to_value(d).unwrap_or(Value::Null), keep_managed);
            // A LIST's items carry no kind.
            v["apiVersion"] = json!(t.oref.api_version);
            v["kind"] = json!(t.oref.kind);
            v
        };
        let selector = format!("{GRAPH_LABEL}={graph},{INSTANCE_LABEL}={instance}");
        let lists = groups
            .values()
            .filter(|ts| ts.len() >= LIST_THRESHOLD)
            .map(|ts| {
                let lp = kube::api::ListParams::default().labels(&selector);
                async move {
                    let wanted: BTreeSet<&str> = ts.iter().map(|t| t.oref.name.as_str()).collect();
                    let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
                    list_pages(
                        opts.request_timeout,
                        &lp,
                        |lp| async move { ts[0].api.list(&lp).await },
                        |d| {
                            let Some(name) = d.metadata.name.clone() else {
                                return;
                            };
                            if wanted.contains(name.as_str()) {
                                by_name.insert(name, whole(ts[0], d));
                            }
                        },
                    )
                    .await
                    .map_err(|source| DeployError::Api {
                        id: ts[0].oref.id.clone(),
                        source,
                    })?;
                    Ok::<_, DeployError>(
                        ts.iter()
                            .filter_map(|t| {
                                let d = by_name.remove(&t.oref.name)?;
                                Some((t.oref.key(), d))
                            })
                            .collect::<Vec<_>>(),
                    )
                }
            });
        let mut out: BTreeMap<Key, Value> = BTreeMap::new();
        for found in try_join_all(lists).await? {
            out.extend(found);
        }
        let gets = groups
            .values()
            .filter(|ts| ts.len() < LIST_THRESHOLD)
            .flatten()
            .map(|t| async move {
                retry(opts.request_timeout, || t.api.get_opt(&t.oref.name))
                    .await
                    .map(|d| d.map(|d| (t.oref.key(), whole(t, d))))
                    .map_err(|source| DeployError::Api {
                        id: t.oref.id.clone(),
                        source,
                    })
            });
        for got in bounded(gets).await {
            out.extend(got?);
        }
        Ok(out)
    }

    /// Reads again every object applied so far (those `observed` holds).
    async fn refresh(
        &self,
        kinds: &BTreeMap<String, Kind>,
        observed: &mut Observed,
        keep_managed: bool,
        opts: &DeployOptions,
    ) -> Result<(), DeployError> {
        let reads = observed.resources().flat_map(|(id, objs)| {
            objs.iter().map(move |o| {
                let (name, ns) = name_ns(o);
                let api = self.api(&kinds[id], ns.as_deref());
                async move {
                    let got = retry(opts.request_timeout, || api.get_opt(&name))
                        .await
                        .map_err(|source| DeployError::Api {
                            id: id.to_string(),
                            source,
                        })?;
                    Ok::<_, DeployError>((
                        id,
                        got.and_then(|d| serde_json::to_value(d).ok())
                            .map(|v| slim(v, keep_managed)),
                    ))
                }
            })
        });
        let read: Vec<(&str, Option<Value>)> =
            bounded(reads).await.into_iter().collect::<Result<_, _>>()?;
        let mut fresh: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (id, obj) in read {
            // An object gone since is no longer observed.
            let objs = fresh.entry(id.to_string()).or_default();
            objs.extend(obj);
        }
        for (id, objs) in fresh {
            observed.replace(&id, objs);
        }
        Ok(())
    }

    /// Undoes a failed run: deletes what it created, restores what it changed.
    /// Returns the objects it could not undo (they stay in the inventory).
    async fn rollback(
        &self,
        served: &crate::Served,
        run: &Run,
        opts: &DeployOptions,
    ) -> Vec<ObjectRef> {
        let mut kept = Vec::new();
        for (oref, prior) in run.applied.iter().rev() {
            let Some(k) = served.resolve(&oref.api_version, &oref.kind) else {
                kept.push(oref.clone());
                continue;
            };
            let api = self.api(&k, oref.namespace.as_deref());
            let (dp, pp) = (
                kube::api::DeleteParams::background(),
                kube::api::PostParams::default(),
            );
            let done = match prior {
                None => retry(opts.request_timeout, || api.delete(&oref.name, &dp))
                    .await
                    .map(|_| ())
                    .or_else(|e| match e {
                        kube::Error::Api(s) if s.code == 404 => Ok(()),
                        e => Err(e),
                    }),
                Some(prev) => {
                    let result = async {
                        let now = retry(opts.request_timeout, || api.get(&oref.name)).await?;
                        let mut restore: DynamicObject = serde_json::from_value(prev.clone())
                            .map_err(kube::Error::SerdeError)?;
                        restore.metadata.resource_version = now.metadata.resource_version;
                        restore.metadata.managed_fields = None;
                        retry(opts.request_timeout, || {
                            api.replace(&oref.name, &pp, &restore)
                        })
                        .await
                        .map(|_| ())
                    };
                    result.await
                }
            };
            match done {
                Ok(()) => opts.progress.emit(Event::RolledBack {
                    kind: oref.kind.clone(),
                    name: oref.name.clone(),
                    deleted: prior.is_none(),
                }),
                Err(e) => {
                    tracing::warn!(object = %oref.display(), error = %crate::retry::brief(&e), "rollback failed");
                    kept.push(oref.clone());
                }
            }
        }
        kept
    }
}

/// Fails, naming the resource and why, when `plan` shows a resource that
/// cannot be made whatever the cluster holds (`Action::Fail`): checked
/// before the first write, in both modes.
pub(crate) fn refuse_failures(plan: &Plan) -> Result<(), DeployError> {
    match plan.resources.iter().find(|r| r.action == Action::Fail) {
        Some(r) => Err(DeployError::Failed {
            id: r.id.clone(),
            reason: r.reason.clone().unwrap_or_default(),
        }),
        None => Ok(()),
    }
}

/// Whether an expression of `rgd` may read `metadata.managedFields` (the
/// word appears anywhere in the graph): then live objects are kept whole.
pub(crate) fn reads_managed_fields(rgd: &ResourceGraphDefinition) -> bool {
    serde_json::to_string(rgd).is_ok_and(|s| s.contains("managedFields"))
}

/// `obj` without its `metadata.managedFields`, unless `keep`: what kroxide
/// keeps of a live object once the inventory digest has been taken from it.
pub(crate) fn slim(mut obj: Value, keep: bool) -> Value {
    if !keep {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.shift_remove("managedFields");
        }
    }
    obj
}

/// `targets` by kind (apiVersion, kind) and namespace: one LIST can answer
/// a group.
fn by_kind<'t>(
    targets: impl IntoIterator<Item = &'t Target>,
) -> BTreeMap<(String, String, Option<String>), Vec<&'t Target>> {
    let mut groups: BTreeMap<_, Vec<&Target>> = BTreeMap::new();
    for t in targets {
        let o = &t.oref;
        groups
            .entry((o.api_version.clone(), o.kind.clone(), o.namespace.clone()))
            .or_default()
            .push(t);
    }
    groups
}

/// Whether `t` is on the cluster just as kroxide last applied it: its live
/// metadata (read by the ownership check) gives the digest the inventory
/// recorded (see [`inventory::applied_digest`]).
fn unchanged(t: &Target, run: &Run, applied: &BTreeMap<String, String>) -> bool {
    let Some(Some(live)) = run.prior.get(&t.oref.key()) else {
        return false;
    };
    match (
        applied.get(&t.oref.applied_key()),
        inventory::applied_digest(&t.object, live),
    ) {
        (Some(recorded), Some(now)) => *recorded == now,
        _ => false,
    }
}

/// An object of `kind` as a metadata-only read gives it: what ownership
/// checks (labels) and what tells a later write apart (resourceVersion).
/// Of its managedFields, kroxide's own apply (its digest tells an unchanged
/// object) and, when `foreign`, the other writers of the object itself
/// (the fields [`crate::drift::object_drift`] takes back); not the status
/// writers' (a controller's, often the largest), which nothing reads.
/// Without `foreign`, kroxide's fields are kept as their JSON text, all the
/// digest reads of them ([`inventory::applied_digest`]): a tenth of the
/// memory of the tree, for every object a redeploy checks.
fn metadata_object(
    api_version: &str,
    kind: &str,
    mut d: kube::core::PartialObjectMeta<DynamicObject>,
    foreign: bool,
) -> Value {
    if let Some(entries) = d.metadata.managed_fields.as_mut() {
        entries.retain(|m| {
            let subresource = m.subresource.as_deref().unwrap_or("");
            let ours = m.manager.as_deref() == Some(FIELD_MANAGER)
                && m.operation.as_deref() == Some("Apply")
                && subresource.is_empty();
            ours || (foreign && subresource != "status")
        });
    }
    let mut v = json!({"apiVersion": api_version, "kind": kind, "metadata": d.metadata});
    if !foreign {
        let entries = v
            .pointer_mut("/metadata/managedFields")
            .and_then(Value::as_array_mut);
        for fields in entries
            .into_iter()
            .flatten()
            .filter_map(|m| m.get_mut("fieldsV1"))
        {
            if let Ok(text) = serde_json::to_string(fields) {
                *fields = Value::String(text);
            }
        }
    }
    v
}

/// Objects per request of a paged LIST.
const LIST_PAGE: u32 = 500;

/// Lists with `lp` page by page ([`LIST_PAGE`] objects a request), each
/// object handed to `each` as it comes: a large kind is never held whole as
/// the server's answer. A continue token that expired (410) starts the
/// listing again, in one request.
pub(crate) async fn list_pages<K, F, Fut>(
    timeout: Duration,
    lp: &kube::api::ListParams,
    list: F,
    mut each: impl FnMut(K),
) -> kube::Result<()>
where
    K: Clone,
    F: Fn(kube::api::ListParams) -> Fut,
    Fut: std::future::Future<Output = kube::Result<kube::core::ObjectList<K>>>,
{
    let mut page = lp.clone().limit(LIST_PAGE);
    loop {
        let got = match retry(timeout, || list(page.clone())).await {
            Err(kube::Error::Api(s)) if s.code == 410 && page.continue_token.is_some() => {
                page = lp.clone();
                continue;
            }
            got => got?,
        };
        let next = got.metadata.continue_.clone().filter(|c| !c.is_empty());
        got.items.into_iter().for_each(&mut each);
        match next {
            Some(token) => page = page.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// Fails, before anything is written, when the instance names another
/// namespace than the one deployed to (as kubectl refuses it), or when the
/// graph or instance name cannot be the label value every object carries.
pub(crate) fn check_identity(
    instance: &Value,
    graph: &str,
    instance_name: &str,
    opts: &DeployOptions,
) -> Result<(), DeployError> {
    if let Some(ns) = kroxide_model::meta_str(instance, "namespace") {
        if ns != opts.namespace {
            return Err(DeployError::NamespaceMismatch {
                instance: ns.to_string(),
                namespace: opts.namespace.clone(),
            });
        }
    }
    for (what, label, value) in [
        ("graph name", GRAPH_LABEL, graph),
        ("instance name", INSTANCE_LABEL, instance_name),
    ] {
        if let Some(why) = kroxide_semantics::instance::label_value_problem(value) {
            return Err(DeployError::LabelValue {
                what: what.into(),
                label: label.into(),
                value: value.into(),
                why,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live objects are kept without managedFields (half of a Deployment)
    /// unless an expression of the graph may read them.
    #[test]
    fn managed_fields_are_dropped_unless_the_graph_reads_them() {
        let rgd = |expr: &str| -> ResourceGraphDefinition {
            serde_json::from_value(json!({
                "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
                "metadata": {"name": "g"},
                "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "G", "spec": {},
                    "status": {"x": expr}},
                    "resources": [{"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "c"}}}]}
            }))
            .unwrap()
        };
        let plain = rgd("${cm.metadata.name}");
        let reads = rgd("${size(cm.metadata.managedFields)}");
        assert!(!reads_managed_fields(&plain));
        assert!(reads_managed_fields(&reads));
        let live = json!({"metadata": {"name": "c", "managedFields": [{"manager": "kroxide"}]}, "data": {"a": "b"}});
        assert_eq!(
            slim(live.clone(), reads_managed_fields(&plain)),
            json!({"metadata": {"name": "c"}, "data": {"a": "b"}})
        );
        assert_eq!(slim(live.clone(), reads_managed_fields(&reads)), live);
    }

    /// Caught before anything is written: an instance naming another
    /// namespace, and names too long to be the label every object carries.
    #[test]
    fn identity_problems_are_refused_up_front() {
        let opts = DeployOptions {
            namespace: "dev".into(),
            ..DeployOptions::default()
        };
        let ok = json!({"metadata": {"name": "shop", "namespace": "dev"}});
        assert!(check_identity(&ok, "app", "shop", &opts).is_ok());
        let other = json!({"metadata": {"name": "shop", "namespace": "prod"}});
        let e = check_identity(&other, "app", "shop", &opts).unwrap_err();
        assert!(
            matches!(&e, DeployError::NamespaceMismatch { instance, namespace } if instance == "prod" && namespace == "dev"),
            "{e}"
        );
        let long = "x".repeat(64);
        let e = check_identity(&json!({}), "app", &long, &opts).unwrap_err();
        assert!(e.to_string().contains("is 64 characters long"), "{e}");
        assert!(e.to_string().contains(INSTANCE_LABEL), "{e}");
        let e = check_identity(&json!({}), &long, "shop", &opts).unwrap_err();
        assert!(e.to_string().contains(GRAPH_LABEL), "{e}");
    }
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Results come back in order, no more than CONCURRENCY run at once, and
    /// one that cannot finish until all the others have does not hold them
    /// up (with `buffered` this never finishes).
    #[tokio::test]
    async fn bounded_keeps_order_and_a_slow_one_holds_only_its_slot() {
        let n = CONCURRENCY * 3;
        let (running, peak, finished) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let all_others_done = tokio::sync::Notify::new();
        let jobs = (0..n).map(|i| {
            let (running, peak, finished, all_others_done) =
                (&running, &peak, &finished, &all_others_done);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                if i == 0 {
                    all_others_done.notified().await;
                } else {
                    tokio::task::yield_now().await;
                    if finished.fetch_add(1, Ordering::SeqCst) + 1 == n - 1 {
                        all_others_done.notify_one();
                    }
                }
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        });
        let out = tokio::time::timeout(Duration::from_secs(10), bounded(jobs))
            .await
            .expect("a slow first job held the others up");
        assert_eq!(out, (0..n).map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= CONCURRENCY);
        assert!(peak.load(Ordering::SeqCst) > 1, "nothing ran concurrently");
    }
}
