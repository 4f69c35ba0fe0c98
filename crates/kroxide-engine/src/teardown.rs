//! `delete` and pruning: removing what an instance owns, and nothing else.
//!
//! Both work from the inventory, so they need neither the process that
//! deployed nor the instance file. Before deleting an object its live labels
//! are checked again: an object that changed hands since (another instance's,
//! or relabelled by someone) is left alone and reported.

use crate::inventory::ObjectRef;
use crate::progress::Event;
use crate::retry::retry;
use crate::{not_owned, DeployError, DeployOptions, DirectEngine};
use kube::api::DeleteParams;
use std::collections::BTreeMap;

/// What `delete` did.
#[derive(Clone, Debug, Default)]
pub struct DeleteReport {
    /// Deleted objects, in the order they went.
    pub deleted: Vec<ObjectRef>,
    /// Objects listed in the inventory but left alone (not ours any more).
    pub skipped: Vec<ObjectRef>,
    /// Whether there was anything to delete (false: never deployed, or already deleted).
    pub found: bool,
}

impl DirectEngine {
    /// Deletes every object of `instance` of `graph` in reverse waves (each
    /// wave gone before the next starts), then its inventory. Deleting an
    /// instance that is not there succeeds with an empty report.
    pub async fn delete(
        &self,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
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
        let mut by_wave: BTreeMap<usize, Vec<ObjectRef>> = BTreeMap::new();
        for o in &inv.objects {
            by_wave.entry(o.wave).or_default().push(o.clone());
        }
        let mut report = DeleteReport {
            found: true,
            ..DeleteReport::default()
        };
        for (_, objects) in by_wave.into_iter().rev() {
            let (deleted, skipped) = self
                .delete_objects(&served, &objects, graph, instance, opts, true)
                .await;
            // Whatever could not be deleted stays listed, so a re-run retries it.
            let failed: Vec<&ObjectRef> = objects
                .iter()
                .filter(|o| !deleted.contains(o) && !skipped.contains(o))
                .collect();
            report.deleted.extend(deleted);
            report.skipped.extend(skipped);
            if let Some(first) = failed.first() {
                inv.objects.retain(|o| failed.contains(&o));
                inv.lock = None;
                store.write(&mut inv).await?;
                return Err(DeployError::Failed {
                    id: first.id.clone(),
                    reason: format!(
                        "{} could not be deleted; the inventory still lists it, run delete again",
                        first.display()
                    ),
                });
            }
        }
        store.delete().await?;
        Ok(report)
    }

    /// Deletes `objects` (when they are still this instance's) and, with
    /// `wait`, waits until they are gone. Returns (deleted, left alone);
    /// objects in neither failed.
    pub(crate) async fn delete_objects(
        &self,
        served: &crate::Served,
        objects: &[ObjectRef],
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
        wait: bool,
    ) -> (Vec<ObjectRef>, Vec<ObjectRef>) {
        let jobs = objects.iter().map(|o| async move {
            let Some(k) = served.resolve(&o.api_version, &o.kind) else {
                // The kind is gone from the cluster, so are its objects.
                return Ok(true);
            };
            let api = self.api(&k, o.namespace.as_deref());
            let live = retry(opts.request_timeout, || api.get_opt(&o.name)).await?;
            let Some(live) = live else {
                return Ok(true);
            };
            let live_json = serde_json::to_value(&live).unwrap_or_default();
            if let Some(why) = not_owned(&live_json, graph, instance, &opts.namespace) {
                opts.progress.emit(Event::Skipped {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    reason: why,
                });
                return Ok(false);
            }
            let dp = DeleteParams::background();
            match retry(opts.request_timeout, || api.delete(&o.name, &dp)).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
            if wait {
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
            Ok(true)
        });
        let results = crate::deploy::bounded(jobs).await;
        let mut deleted = Vec::new();
        let mut skipped = Vec::new();
        for (o, r) in objects.iter().zip(results) {
            match r {
                Ok(true) => {
                    opts.progress.emit(if wait {
                        Event::Deleted {
                            id: o.id.clone(),
                            kind: o.kind.clone(),
                            name: o.name.clone(),
                        }
                    } else {
                        Event::Pruned {
                            kind: o.kind.clone(),
                            name: o.name.clone(),
                        }
                    });
                    deleted.push(o.clone());
                }
                Ok(false) => skipped.push(o.clone()),
                Err(e) => {
                    tracing::warn!(object = %o.display(), error = %crate::retry::brief(&e), "could not delete");
                }
            }
        }
        (deleted, skipped)
    }
}
