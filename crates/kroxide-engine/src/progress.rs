//! What the engine reports while it works, for progress bars, log lines and
//! machine-readable output. The engine only emits events; the CLI decides how
//! to show them. Events carry ids, kinds and names, never object contents, so
//! no Secret value can reach a progress display.

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// One step of a deploy, delete or prune.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// Everything was checked (graph, instance, ownership, dry run); writes start.
    #[serde(rename_all = "camelCase")]
    Validated { resources: usize, objects: usize },
    /// A wave starts: these resources are applied together.
    #[serde(rename_all = "camelCase")]
    WaveStarted {
        wave: usize,
        waves: usize,
        ids: Vec<String>,
    },
    /// An object was written (`changed` is false when the apply was a no-op).
    #[serde(rename_all = "camelCase")]
    Applied {
        id: String,
        kind: String,
        name: String,
        changed: bool,
    },
    /// A resource is not ready yet; `ready`/`total` count replicas or objects.
    #[serde(rename_all = "camelCase")]
    Waiting { id: String, ready: u64, total: u64 },
    /// A resource is ready.
    #[serde(rename_all = "camelCase")]
    Ready { id: String },
    /// An object that is no longer in the graph was deleted.
    #[serde(rename_all = "camelCase")]
    Pruned { kind: String, name: String },
    /// An object was deleted (by `delete`).
    #[serde(rename_all = "camelCase")]
    Deleted {
        id: String,
        kind: String,
        name: String,
    },
    /// An object was kept, without kroxide's labels (by `delete --orphan`,
    /// or because its delete policy is `retain`, on delete and on prune).
    #[serde(rename_all = "camelCase")]
    Orphaned {
        id: String,
        kind: String,
        name: String,
        /// Kept because of its delete policy (not because of `--orphan`).
        retained: bool,
    },
    /// An object was left alone because kroxide does not own it.
    #[serde(rename_all = "camelCase")]
    Skipped {
        kind: String,
        name: String,
        reason: String,
    },
    /// A rollback undid this object: `deleted` (it was created by the failed
    /// run) or restored to its previous version.
    #[serde(rename_all = "camelCase")]
    RolledBack {
        kind: String,
        name: String,
        deleted: bool,
    },
    /// Another field manager changed `field` of an object since kroxide
    /// applied it; this deploy sets it back (`kroxide drift` lists these).
    #[serde(rename_all = "camelCase")]
    TakingBack {
        id: String,
        kind: String,
        name: String,
        field: String,
        /// The manager that changed it.
        manager: String,
    },
    /// A Kubernetes Warning event about an object a deploy waits on (or
    /// one its controller made: a ReplicaSet, a Pod), new since the wait began.
    #[serde(rename_all = "camelCase")]
    Warning {
        id: String,
        /// `Kind/name` of the object the event is about.
        object: String,
        reason: String,
        message: String,
    },
    /// The state of one resource when a deploy stopped on an error.
    #[serde(rename_all = "camelCase")]
    State { id: String, state: ResourceState },
}

/// Where a resource stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ResourceState {
    /// Applied and ready.
    Ready,
    /// Applied, not ready (yet).
    Applied,
    /// Not applied by this run (it failed, or an earlier wave did).
    NotApplied,
    /// Left out: its includeWhen is false.
    Excluded,
}

impl fmt::Display for ResourceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceState::Ready => "ready",
            ResourceState::Applied => "applied, not ready",
            ResourceState::NotApplied => "not applied",
            ResourceState::Excluded => "excluded (includeWhen is false)",
        })
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Validated { resources, objects } => write!(
                f,
                "validated {resources} resources ({objects} objects known before deploy)"
            ),
            Event::WaveStarted { wave, waves, ids } => {
                write!(f, "wave {wave}/{waves}: {}", ids.join(", "))
            }
            Event::Applied {
                id,
                kind,
                name,
                changed,
            } => write!(
                f,
                "{id}: {kind}/{name} {}",
                if *changed { "applied" } else { "unchanged" }
            ),
            Event::Waiting { id, ready, total } => write!(f, "{id}: {ready}/{total} ready"),
            Event::Ready { id } => write!(f, "{id}: ready"),
            Event::TakingBack {
                id,
                kind,
                name,
                field,
                manager,
            } => write!(
                f,
                "{id}: {kind}/{name}: taking back {field} (changed by {manager})"
            ),
            Event::Warning {
                id,
                object,
                reason,
                message,
            } => write!(f, "{id}: warning from {object}: {reason}: {message}"),
            Event::Pruned { kind, name } => {
                write!(f, "pruned {kind}/{name} (no longer in the graph)")
            }
            Event::Deleted { id, kind, name } => write!(f, "{id}: {kind}/{name} deleted"),
            Event::Orphaned {
                id,
                kind,
                name,
                retained,
            } => write!(
                f,
                "{id}: {kind}/{name} {}",
                if *retained {
                    "kept (delete-policy: retain), kroxide's labels removed"
                } else {
                    "orphaned: kept, kroxide's labels removed"
                }
            ),
            Event::Skipped { kind, name, reason } => {
                write!(f, "left {kind}/{name} alone: {reason}")
            }
            Event::RolledBack {
                kind,
                name,
                deleted,
            } => write!(
                f,
                "rolled back {kind}/{name} ({})",
                if *deleted { "deleted" } else { "restored" }
            ),
            Event::State { id, state } => write!(f, "{id}: {state}"),
        }
    }
}

/// A function that receives events.
type Sink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Where events go.
#[derive(Clone, Default)]
pub struct Progress(Option<Sink>);

impl Progress {
    /// Events are passed to `f` (on the engine's tasks: keep it quick).
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(f)))
    }

    /// Events are dropped.
    pub fn none() -> Self {
        Progress(None)
    }

    pub(crate) fn emit(&self, e: Event) {
        tracing::debug!(event = %e);
        if let Some(f) = &self.0 {
            f(&e);
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(..)"
        } else {
            "Progress(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_a_tag_and_read_as_lines() {
        let e = Event::Waiting {
            id: "userDeployment".into(),
            ready: 2,
            total: 3,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"event": "waiting", "id": "userDeployment", "ready": 2, "total": 3})
        );
        assert_eq!(e.to_string(), "userDeployment: 2/3 ready");
    }
}
