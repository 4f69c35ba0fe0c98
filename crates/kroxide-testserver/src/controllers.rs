//! Simulated controllers: what the kube-controller-manager and cloud
//! providers would write into status, switchable per test.
//!
//! As on a real cluster, controllers run **after** the request that created
//! or changed an object has returned: the response to a write never carries
//! a controller's status (a new object comes back with the API server's
//! empty status, e.g. `status: {}` for a Deployment; a changed one with its
//! old status, `observedGeneration` lagging `generation`). Each stored
//! change wakes the controllers, which wait [`ControllerConfig::delay`]
//! (a few milliseconds by default), look at the object as it is stored then
//! and write its status through the status path (a new resourceVersion, a
//! MODIFIED watch event).
//!
//! Deployments, StatefulSets and DaemonSets reach their replicas (or, when
//! [`ControllerConfig::stuck`], are observed but never become ready: the
//! controller still writes `observedGeneration`, the replica counts and,
//! for Deployments, `Available` `False`, as a real one does when its Pods
//! never get ready); Jobs complete or fail; LoadBalancer Services get an
//! ingress hostname and Ingresses an address; PersistentVolumeClaims bind.
//! ClusterIPs, Namespace phases and the initial (empty) statuses are set
//! synchronously at creation, as the API server itself does.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// How the simulated controllers behave.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Off: no controller writes any status (nothing ever becomes ready).
    pub enabled: bool,
    /// How long after a change the controllers write status (a workload is
    /// ready that long after it was created or changed). Zero: as soon as
    /// possible, still after the write that caused it.
    pub delay: Duration,
    /// `Kind/namespace/name` (or `Kind/name`) of objects that never get
    /// ready (workloads are still observed, see the module doc).
    pub stuck: BTreeSet<String>,
    /// Jobs fail instead of completing.
    pub fail_jobs: bool,
}

/// The default [`ControllerConfig::delay`]: a real controller takes a few
/// milliseconds at least to notice a change.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(5);

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            enabled: true,
            delay: DEFAULT_DELAY,
            stuck: BTreeSet::new(),
            fail_jobs: false,
        }
    }
}

impl ControllerConfig {
    pub fn is_stuck(&self, obj: &Value) -> bool {
        let kind = obj["kind"].as_str().unwrap_or("");
        let name = kroxide_model::meta_str(obj, "name").unwrap_or("");
        let ns = kroxide_model::meta_str(obj, "namespace").unwrap_or("");
        self.stuck.contains(&format!("{kind}/{ns}/{name}"))
            || self.stuck.contains(&format!("{kind}/{name}"))
    }
}

fn int(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

/// A Deployment's `maxUnavailable` for `replicas` (25% by default, rounded
/// down, as the deployment controller computes it).
fn max_unavailable(obj: &Value, replicas: i64) -> i64 {
    let v = obj.pointer("/spec/strategy/rollingUpdate/maxUnavailable");
    let n = match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) if s.ends_with('%') => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(25);
            replicas * pct / 100
        }
        _ => replicas / 4,
    };
    if obj.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate") {
        return 0;
    }
    n.clamp(0, replicas)
}

/// The status a controller would write for `obj` now, or `None` when it
/// has nothing to do (already reconciled, or not a kind it handles).
///
/// The result is the whole status to store: the controller's fields merged
/// into the current status (a `null` field is removed).
pub fn desired_status(obj: &Value, cfg: &ControllerConfig) -> Option<Value> {
    if !cfg.enabled {
        return None;
    }
    let stuck = cfg.is_stuck(obj);
    let kind = obj["kind"].as_str().unwrap_or("");
    let gen = int(obj, "/metadata/generation").unwrap_or(1);
    let name = kroxide_model::meta_str(obj, "name").unwrap_or("");
    let ns = kroxide_model::meta_str(obj, "namespace").unwrap_or("default");
    // What was available before (old Pods keep serving during a rollout).
    let was = |k: &str| int(obj, &format!("/status/{k}")).unwrap_or(0);
    let status = match kind {
        "Deployment" if stuck => {
            let r = int(obj, "/spec/replicas").unwrap_or(1);
            let avail = was("availableReplicas").min(r);
            let ready = was("readyReplicas").min(r);
            // A fresh Deployment's Pods are all new and none gets ready; a
            // rollout's first new Pod never gets ready and the old ones stay.
            let updated = if avail == 0 { r } else { r.min(1) };
            let available = avail >= r - max_unavailable(obj, r);
            json!({
                "observedGeneration": gen, "replicas": if avail == 0 { r } else { avail + updated }, "updatedReplicas": updated,
                "readyReplicas": if ready > 0 { json!(ready) } else { Value::Null },
                "availableReplicas": if avail > 0 { json!(avail) } else { Value::Null },
                "unavailableReplicas": if r - avail > 0 { json!(r - avail) } else { Value::Null },
                "conditions": [
                    if available {
                        json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."})
                    } else {
                        json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
                    },
                    {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet \"{name}-5d4f8c7b9\" is progressing.")}
                ]
            })
        }
        "StatefulSet" if stuck => {
            // OrderedReady: the first Pod that never gets ready blocks the rest.
            let r = int(obj, "/spec/replicas").unwrap_or(1);
            let ready = was("readyReplicas").min(r);
            let pods = (ready + 1).min(r);
            json!({
                "observedGeneration": gen, "replicas": pods, "currentReplicas": pods, "updatedReplicas": pods,
                "readyReplicas": if ready > 0 { json!(ready) } else { Value::Null },
                "availableReplicas": ready,
            })
        }
        "DaemonSet" if stuck => {
            json!({"observedGeneration": gen, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 0, "numberAvailable": null, "numberUnavailable": 1, "updatedNumberScheduled": 1, "numberMisscheduled": 0})
        }
        _ if stuck => return None,
        "Deployment" | "StatefulSet" => {
            let r = int(obj, "/spec/replicas").unwrap_or(1);
            let mut s = json!({
                "observedGeneration": gen, "replicas": r, "readyReplicas": r, "availableReplicas": r, "updatedReplicas": r,
                "unavailableReplicas": null,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{name}-5d4f8c7b9\" has successfully progressed.")}
                ]
            });
            if kind == "StatefulSet" {
                s["currentReplicas"] = json!(r);
                s.as_object_mut().expect("object").remove("conditions");
                s.as_object_mut()
                    .expect("object")
                    .remove("unavailableReplicas");
            }
            if r == 0 {
                for k in ["readyReplicas", "updatedReplicas"] {
                    s[k] = Value::Null;
                }
                if kind == "Deployment" {
                    s["availableReplicas"] = Value::Null;
                }
            }
            s
        }
        "DaemonSet" => {
            json!({"observedGeneration": gen, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1, "numberAvailable": 1, "numberUnavailable": null, "updatedNumberScheduled": 1, "numberMisscheduled": 0})
        }
        "Job" => {
            if cfg.fail_jobs {
                json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]})
            } else {
                json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
            }
        }
        "Service" if obj.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer") => {
            json!({"loadBalancer": {"ingress": [{"hostname": format!("{name}.{ns}.lb.kroxide.test")}]}})
        }
        "Ingress" => {
            json!({"loadBalancer": {"ingress": [{"hostname": format!("{name}.{ns}.ingress.kroxide.test")}]}})
        }
        "PersistentVolumeClaim" => {
            json!({"phase": "Bound", "accessModes": obj.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])), "capacity": {"storage": obj.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("1Gi"))}})
        }
        _ => return None,
    };
    // Already there: nothing to do (this also stops loops on our own writes).
    let current = obj.get("status").cloned().unwrap_or(json!({}));
    let mut merged = if current.is_object() {
        current.clone()
    } else {
        Value::Object(Map::new())
    };
    if let (Some(m), Some(s)) = (merged.as_object_mut(), status.as_object()) {
        for (k, v) in s {
            if v.is_null() {
                m.remove(k);
            } else {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    if merged == current {
        None
    } else {
        Some(merged)
    }
}

/// Fields the API server sets itself when an object is created.
pub fn on_create(obj: &mut Value, seq: u64) {
    match obj["kind"].as_str().unwrap_or("") {
        "Service" => {
            let t = obj
                .pointer("/spec/type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP")
                .to_string();
            if t != "ExternalName" && obj.pointer("/spec/clusterIP").is_none() {
                let ip = format!("10.96.{}.{}", (seq / 250) % 250, seq % 250 + 1);
                obj["spec"]["clusterIP"] = json!(ip);
                obj["spec"]["clusterIPs"] = json!([ip]);
            }
        }
        "Namespace" => {
            obj["status"] = json!({"phase": "Active"});
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        _ => {}
    }
    if obj.get("status").is_none() {
        if let Some(s) = initial_status(obj) {
            obj["status"] = s;
        }
    }
}

/// The status a new object has when the API server returns it (before any
/// controller ran): the zero values of the kind's status, as a real 1.36
/// API server serializes them (`status: {}` for a Deployment).
fn initial_status(obj: &Value) -> Option<Value> {
    Some(match obj["kind"].as_str().unwrap_or("") {
        "Deployment" | "Job" | "CronJob" | "ResourceQuota" => json!({}),
        "ReplicaSet" => json!({"replicas": 0}),
        "StatefulSet" => json!({"availableReplicas": 0, "replicas": 0}),
        "DaemonSet" => {
            json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0})
        }
        "Service" | "Ingress" => json!({"loadBalancer": {}}),
        "PersistentVolumeClaim" => json!({"phase": "Pending"}),
        "PersistentVolume" => {
            json!({"phase": "Pending", "lastPhaseTransitionTime": crate::server::now_rfc3339()})
        }
        "PodDisruptionBudget" => {
            json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0})
        }
        "HorizontalPodAutoscaler" => json!({"desiredReplicas": 0}),
        "Pod" => json!({"phase": "Pending", "qosClass": qos_class(obj)}),
        _ => return None,
    })
}

/// A Pod's QoS class, from its containers' requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let res =
        |c: &Value, which: &str, r: &str| c.pointer(&format!("/resources/{which}/{r}")).cloned();
    let any = containers.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|w| ["cpu", "memory"].iter().any(|r| res(c, w, r).is_some()))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = res(c, "limits", r);
            limit.is_some() && res(c, "requests", r).is_none_or(|q| Some(q) == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_become_ready_once() {
        let cfg = ControllerConfig::default();
        let d = json!({"kind": "Deployment", "metadata": {"name": "a", "generation": 2}, "spec": {"replicas": 3}});
        let s = desired_status(&d, &cfg).unwrap();
        assert_eq!(s["readyReplicas"], 3);
        assert_eq!(s["observedGeneration"], 2);
        let mut done = d.clone();
        done["status"] = s;
        assert!(desired_status(&done, &cfg).is_none(), "no second write");
        let mut stuck = cfg.clone();
        stuck.stuck.insert("Deployment/a".into());
        // Stuck: observed (the generation catches up) but never ready.
        let s = desired_status(&d, &stuck).unwrap();
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(s["unavailableReplicas"], 3);
        assert!(s.get("readyReplicas").is_none(), "{s}");
        assert_eq!(s["conditions"][0]["status"], "False");
        let mut observed = d.clone();
        observed["status"] = s;
        assert!(
            desired_status(&observed, &stuck).is_none(),
            "no second write"
        );
        // Unstuck: ready, and the stuck-only fields go.
        let s = desired_status(&observed, &cfg).unwrap();
        assert_eq!(s["readyReplicas"], 3);
        assert!(s.get("unavailableReplicas").is_none(), "{s}");
    }

    #[test]
    fn a_stuck_rollout_keeps_the_old_pods_and_is_not_ready() {
        let mut cfg = ControllerConfig::default();
        cfg.stuck.insert("Deployment/a".into());
        let d = json!({"kind": "Deployment", "metadata": {"name": "a", "generation": 3}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 2}});
        let s = desired_status(&d, &cfg).unwrap();
        assert_eq!(
            (
                &s["observedGeneration"],
                &s["readyReplicas"],
                &s["updatedReplicas"],
                &s["replicas"]
            ),
            (&json!(3), &json!(2), &json!(1), &json!(3))
        );
        assert_eq!(
            s["conditions"][0]["status"], "True",
            "old Pods keep it available"
        );
    }

    #[test]
    fn new_objects_carry_the_api_servers_empty_status() {
        let mut d = json!({"kind": "Deployment", "spec": {}});
        on_create(&mut d, 1);
        assert_eq!(d["status"], json!({}));
        let mut p = json!({"kind": "Pod", "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        on_create(&mut p, 1);
        assert_eq!(
            p["status"],
            json!({"phase": "Pending", "qosClass": "Guaranteed"})
        );
        let mut cm = json!({"kind": "ConfigMap"});
        on_create(&mut cm, 1);
        assert!(cm.get("status").is_none());
    }
}
