//! Kubernetes Events of the objects a graph owns: why an object is not
//! ready, in its controllers' words (a quota that refuses Pods, an image
//! that cannot be pulled). `explain` shows the newest events of each object
//! that is not ready; a deploy shows new Warning events of the objects it
//! waits on as they come.
//!
//! A workload's own events rarely say why it is stuck: its ReplicaSets and
//! Pods carry them. So the events of a Deployment, StatefulSet, DaemonSet,
//! ReplicaSet or Job include those of ReplicaSets and Pods named after it
//! (`<name>-...`, as their controllers name them).

use crate::progress::{Event, Progress};
use crate::retry::retry;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// One Kubernetes Event, as `explain` and deploy progress show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectEvent {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Why, in one word of the controller's (`FailedCreate`, `BackOff`).
    pub reason: String,
    /// What the controller says.
    pub message: String,
    /// How many times it happened.
    pub count: u64,
    /// When it last happened (RFC 3339), if the event says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// The object it is about: `Kind/name`.
    pub object: String,
}

fn event_resource() -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Event".into(),
        plural: "events".into(),
    }
}

/// The events in `namespace` (Warnings only with `warnings_only`).
pub(crate) async fn list(
    client: &kube::Client,
    namespace: &str,
    warnings_only: bool,
    timeout: Duration,
) -> Result<Vec<ObjectEvent>, kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &event_resource());
    let mut lp = ListParams::default();
    if warnings_only {
        lp = lp.fields("type=Warning");
    }
    let list = retry(timeout, || api.list(&lp)).await?;
    let mut out: Vec<ObjectEvent> = list.items.iter().map(summary).collect();
    out.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
    Ok(out)
}

fn summary(e: &DynamicObject) -> ObjectEvent {
    let d = &e.data;
    let s = |p: &str| d.pointer(p).and_then(Value::as_str).map(String::from);
    let last_seen = s("/series/lastObservedTime")
        .or_else(|| s("/lastTimestamp"))
        .or_else(|| s("/eventTime"))
        .or_else(|| {
            e.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        });
    let count = d
        .pointer("/series/count")
        .or_else(|| d.pointer("/count"))
        .and_then(Value::as_u64)
        .unwrap_or(1);
    ObjectEvent {
        kind: s("/type").unwrap_or_else(|| "Normal".into()),
        reason: s("/reason").unwrap_or_default(),
        message: s("/message").unwrap_or_default().trim().to_string(),
        count,
        last_seen,
        object: format!(
            "{}/{}",
            s("/involvedObject/kind").unwrap_or_default(),
            s("/involvedObject/name").unwrap_or_default()
        ),
    }
}

/// Whether `event` is about object `kind`/`name`, or about the ReplicaSets
/// and Pods its controller made, by the names controllers give them: a
/// Deployment's ReplicaSet `<name>-<hash>` and its Pods
/// `<name>-<hash>-<suffix>`; a StatefulSet's Pods `<name>-<ordinal>`; a
/// DaemonSet's, Job's or ReplicaSet's Pods `<name>-<suffix>`. So Deployment
/// `web` does not claim Pod `web-api-5d4f8-x2x9q` of Deployment `web-api`.
pub(crate) fn concerns(event: &ObjectEvent, kind: &str, name: &str) -> bool {
    let Some((k, n)) = event.object.split_once('/') else {
        return false;
    };
    if k == kind && n == name {
        return true;
    }
    let Some(rest) = n.strip_prefix(name).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    let word = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric());
    match (kind, k, parts.as_slice()) {
        ("Deployment", "ReplicaSet", [hash]) => word(hash),
        ("Deployment", "Pod", [hash, suffix]) => word(hash) && word(suffix),
        ("StatefulSet", "Pod", [ordinal]) => {
            !ordinal.is_empty() && ordinal.chars().all(|c| c.is_ascii_digit())
        }
        ("DaemonSet" | "Job" | "ReplicaSet", "Pod", [suffix]) => word(suffix),
        _ => false,
    }
}

/// Whether `event` was last seen at or after `t` (an event without a time
/// counts as recent).
pub(crate) fn seen_since(event: &ObjectEvent, t: jiff::Timestamp) -> bool {
    event
        .last_seen
        .as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .is_none_or(|seen| seen >= t)
}

/// The Warning events a wait has shown: each new one about an object it
/// waits on goes to the progress once per object and reason (a ReplicaSet
/// that cannot create Pods says so for every Pod name it tries), newest
/// first; events from before the wait began are old news (with a minute's
/// slack for the API server's clock, whose times they carry).
pub(crate) struct Warnings {
    since: jiff::Timestamp,
    shown: BTreeSet<String>,
}

impl Warnings {
    pub(crate) fn new() -> Self {
        Warnings {
            since: jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60),
            shown: BTreeSet::new(),
        }
    }

    /// Lists the Warning events of the namespaces of `objects` (namespace,
    /// resource id, kind, name) and reports the new ones about them.
    pub(crate) async fn report(
        &mut self,
        client: &kube::Client,
        objects: &[(String, String, String, String)],
        timeout: Duration,
        progress: &Progress,
    ) {
        let namespaces: BTreeSet<&String> = objects.iter().map(|o| &o.0).collect();
        for ns in namespaces {
            let Ok(events) = list(client, ns, true, timeout).await else {
                continue;
            };
            for e in events.iter().rev().filter(|e| seen_since(e, self.since)) {
                let Some((_, id, _, _)) = objects
                    .iter()
                    .find(|(n, _, kind, name)| n == ns && concerns(e, kind, name))
                else {
                    continue;
                };
                if self.shown.insert(format!("{id} {} {}", e.object, e.reason)) {
                    progress.emit(Event::Warning {
                        id: id.clone(),
                        object: e.object.clone(),
                        reason: e.reason.clone(),
                        message: e.message.clone(),
                    });
                }
            }
        }
    }
}

/// The newest `n` of `events` (oldest first) about `kind`/`name`, those of
/// one object with one reason folded into the newest of them with their
/// counts summed (a ReplicaSet that cannot create Pods says so once per
/// Pod name).
pub(crate) fn newest_of(
    events: &[ObjectEvent],
    kind: &str,
    name: &str,
    n: usize,
) -> Vec<ObjectEvent> {
    let mut folded: Vec<ObjectEvent> = Vec::new();
    for e in events.iter().filter(|e| concerns(e, kind, name)) {
        match folded
            .iter()
            .position(|f| f.object == e.object && f.reason == e.reason && f.kind == e.kind)
        {
            Some(i) => {
                let earlier = folded.remove(i);
                folded.push(ObjectEvent {
                    count: earlier.count + e.count,
                    ..e.clone()
                });
            }
            None => folded.push(e.clone()),
        }
    }
    folded.split_off(folded.len().saturating_sub(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(object: &str, at: &str) -> ObjectEvent {
        ObjectEvent {
            kind: "Warning".into(),
            reason: "FailedCreate".into(),
            message: "exceeded quota".into(),
            count: 1,
            last_seen: Some(at.into()),
            object: object.into(),
        }
    }

    #[test]
    fn events_of_before_a_time_are_old_news() {
        let t: jiff::Timestamp = "2026-12-01T14:40:00Z".parse().unwrap();
        assert!(!seen_since(&ev("Pod/a", "2026-12-01T14:39:59Z"), t));
        assert!(seen_since(&ev("Pod/a", "2026-12-01T14:40:00.5Z"), t));
        assert!(seen_since(
            &ObjectEvent {
                last_seen: None,
                ..ev("Pod/a", "x")
            },
            t
        ));
    }

    #[test]
    fn a_deployments_events_include_its_replicasets_and_pods_only() {
        let all = [
            ev("Deployment/web", "1"),
            ev("ReplicaSet/web-5d4f8", "2"),
            ev("Pod/web-5d4f8-x2x", "3"),
            ev("ReplicaSet/webhook-1", "4"),
            ev("Pod/web", "5"),
            ev("Service/web-5d4f8", "6"),
            // Deployment `web-api`'s ReplicaSet and Pod: not `web`'s.
            ev("ReplicaSet/web-api-7c9d", "6"),
            ev("Pod/web-api-7c9d-q8z2k", "6"),
        ];
        let got: Vec<String> = newest_of(&all, "Deployment", "web", 10)
            .into_iter()
            .map(|e| e.object)
            .collect();
        assert_eq!(
            got,
            [
                "Deployment/web",
                "ReplicaSet/web-5d4f8",
                "Pod/web-5d4f8-x2x"
            ]
        );
        let last = newest_of(&all, "Deployment", "web", 1);
        assert_eq!(last[0].object, "Pod/web-5d4f8-x2x");
        // Repeats of one reason from one object fold into the newest.
        let mut repeated = all.to_vec();
        repeated.push(ObjectEvent {
            message: "exceeded quota again".into(),
            count: 2,
            ..ev("ReplicaSet/web-5d4f8", "7")
        });
        let got = newest_of(&repeated, "Deployment", "web", 10);
        assert_eq!(got.len(), 3, "{got:?}");
        let rs = &got[2];
        assert_eq!((rs.object.as_str(), rs.count), ("ReplicaSet/web-5d4f8", 3));
        assert_eq!(rs.message, "exceeded quota again");
        assert!(newest_of(&all, "ConfigMap", "web", 5).is_empty());
        let pod = |o: &str| ev(o, "1");
        assert!(concerns(&pod("Pod/db-0"), "StatefulSet", "db"));
        assert!(!concerns(&pod("Pod/db-x"), "StatefulSet", "db"));
        assert!(!concerns(&pod("Pod/db-backup-0"), "StatefulSet", "db"));
        assert!(concerns(&pod("Pod/migrate-q8z2k"), "Job", "migrate"));
    }
}
