//! Simulated controllers: what the kube-controller-manager and cloud
//! providers would write into status, switchable per test.
//!
//! Deployments, StatefulSets and DaemonSets reach their replicas after a
//! delay (or stay stuck); Jobs complete or fail; LoadBalancer Services get
//! an ingress hostname and Ingresses an address; PersistentVolumeClaims bind.
//! ClusterIPs and Namespace phases are set synchronously at creation, as the
//! API server itself does.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// How the simulated controllers behave.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Off: nothing ever becomes ready.
    pub enabled: bool,
    /// How long a workload takes to become ready.
    pub delay: Duration,
    /// `Kind/namespace/name` (or `Kind/name`) of objects that never get ready.
    pub stuck: BTreeSet<String>,
    /// Jobs fail instead of completing.
    pub fail_jobs: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            enabled: true,
            delay: Duration::from_millis(0),
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

/// The status a controller would write for `obj` now, or `None` when it
/// has nothing to do (already reconciled, or not a kind it handles).
pub fn desired_status(obj: &Value, cfg: &ControllerConfig) -> Option<Value> {
    if !cfg.enabled || cfg.is_stuck(obj) {
        return None;
    }
    let kind = obj["kind"].as_str().unwrap_or("");
    let gen = int(obj, "/metadata/generation").unwrap_or(1);
    let name = kroxide_model::meta_str(obj, "name").unwrap_or("");
    let ns = kroxide_model::meta_str(obj, "namespace").unwrap_or("default");
    let status = match kind {
        "Deployment" | "StatefulSet" => {
            let r = int(obj, "/spec/replicas").unwrap_or(1);
            let mut s = json!({
                "observedGeneration": gen, "replicas": r, "readyReplicas": r, "availableReplicas": r, "updatedReplicas": r,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ReplicaSet has successfully progressed."}
                ]
            });
            if kind == "StatefulSet" {
                s["currentReplicas"] = json!(r);
                s.as_object_mut().expect("object").remove("conditions");
            }
            if r == 0 {
                for k in ["readyReplicas", "availableReplicas", "updatedReplicas"] {
                    s.as_object_mut().expect("object").remove(k);
                }
            }
            s
        }
        "DaemonSet" => {
            json!({"observedGeneration": gen, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1, "numberAvailable": 1, "updatedNumberScheduled": 1, "numberMisscheduled": 0})
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
    let mut merged = current.clone();
    if let (Some(m), Some(s)) = (merged.as_object_mut(), status.as_object()) {
        for (k, v) in s {
            m.insert(k.clone(), v.clone());
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
        assert!(desired_status(&d, &stuck).is_none());
    }
}
