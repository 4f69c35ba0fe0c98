//! What "ready" means for a kind, and what its controller would write.
//!
//! Used by `plan --assume-ready` to fill in the status a real cluster would
//! report, and (by the engines) to decide when a resource is ready when it
//! has no `readyWhen`.

use serde_json::{json, Value};

fn int_at(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

fn deterministic_suffix(s: &str) -> u64 {
    u64::from_be_bytes(crate::cel::library::fnv64a(s.as_bytes()))
}

/// A deterministic UID for an object that has none (plans are repeatable).
pub fn synthetic_uid(seed: &str) -> String {
    let a = deterministic_suffix(seed);
    let b = deterministic_suffix(&format!("{seed}/uid"));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// `obj` with the status (and server-set fields) its controller would write
/// once it is ready.
pub fn assume_ready(obj: &Value) -> Value {
    let mut o = obj.clone();
    let kind = o
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = kroxide_model::meta_str(&o, "name")
        .unwrap_or("")
        .to_string();
    let ns = kroxide_model::meta_str(&o, "namespace")
        .unwrap_or("default")
        .to_string();
    if o.pointer("/metadata/uid").is_none() {
        o["metadata"]["uid"] = json!(synthetic_uid(&format!("{kind}/{ns}/{name}")));
    }
    if o.pointer("/metadata/generation").is_none() {
        o["metadata"]["generation"] = json!(1);
    }
    let host = format!("{name}.{ns}.example.invalid");
    match kind.as_str() {
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let r = int_at(&o, "/spec/replicas").unwrap_or(1);
            o["status"] = json!({
                "observedGeneration": 1,
                "replicas": r, "readyReplicas": r, "availableReplicas": r, "updatedReplicas": r,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
                ]
            });
            if kind == "StatefulSet" {
                o["status"]["currentReplicas"] = json!(r);
            }
        }
        "DaemonSet" => {
            o["status"] = json!({"observedGeneration": 1, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1, "numberAvailable": 1, "updatedNumberScheduled": 1});
        }
        "Job" => {
            o["status"] =
                json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
        }
        "Service" => {
            if o.pointer("/spec/clusterIP").is_none() {
                let n = deterministic_suffix(&format!("{ns}/{name}"));
                o["spec"]["clusterIP"] = json!(format!("10.96.{}.{}", (n >> 8) % 256, n % 254 + 1));
            }
            if o.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer") {
                o["status"] = json!({"loadBalancer": {"ingress": [{"hostname": host}]}});
            }
        }
        "Ingress" => {
            o["status"] = json!({"loadBalancer": {"ingress": [{"hostname": host}]}});
        }
        "PersistentVolumeClaim" => {
            o["status"] = json!({"phase": "Bound"});
        }
        "Namespace" => {
            o["status"] = json!({"phase": "Active"});
        }
        "CustomResourceDefinition" => {
            o["status"] = json!({"conditions": [{"type": "Established", "status": "True"}, {"type": "NamesAccepted", "status": "True"}]});
        }
        _ => {}
    }
    o
}

/// Whether a live object is ready by its kind's rules, when it has no
/// `readyWhen`: `Some(true)` ready, `Some(false)` not yet, `None` when the
/// kind has no readiness (it is ready once it exists).
pub fn kind_ready(obj: &Value) -> Option<bool> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let generation = int_at(obj, "/metadata/generation").unwrap_or(0);
    let observed = int_at(obj, "/status/observedGeneration").unwrap_or(0);
    match kind {
        "Deployment" | "StatefulSet" => {
            let want = int_at(obj, "/spec/replicas").unwrap_or(1);
            let ready = int_at(obj, "/status/readyReplicas").unwrap_or(0);
            let updated = int_at(obj, "/status/updatedReplicas").unwrap_or(0);
            let available = int_at(obj, "/status/availableReplicas")
                .unwrap_or(if kind == "StatefulSet" { ready } else { 0 });
            Some(observed >= generation && ready >= want && updated >= want && available >= want)
        }
        "DaemonSet" => {
            let want = int_at(obj, "/status/desiredNumberScheduled").unwrap_or(0);
            let ready = int_at(obj, "/status/numberReady").unwrap_or(0);
            Some(observed >= generation && ready >= want && obj.pointer("/status").is_some())
        }
        "Job" => Some(has_condition(obj, "Complete")),
        "PersistentVolumeClaim" => {
            Some(obj.pointer("/status/phase").and_then(Value::as_str) == Some("Bound"))
        }
        "Namespace" => Some(obj.pointer("/status/phase").and_then(Value::as_str) == Some("Active")),
        "CustomResourceDefinition" => Some(has_condition(obj, "Established")),
        _ => None,
    }
}

fn has_condition(obj: &Value, t: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|x| x["type"] == t && x["status"] == "True"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_ready_objects_are_ready() {
        for k in [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "PersistentVolumeClaim",
            "Namespace",
        ] {
            let o = json!({"apiVersion": "x", "kind": k, "metadata": {"name": "a"}, "spec": {"replicas": 3}});
            assert_eq!(kind_ready(&o), Some(false), "{k} before");
            assert_eq!(kind_ready(&assume_ready(&o)), Some(true), "{k} after");
        }
        assert_eq!(kind_ready(&json!({"kind": "ConfigMap"})), None);
        let svc = assume_ready(
            &json!({"kind": "Service", "metadata": {"name": "gw"}, "spec": {"type": "LoadBalancer"}}),
        );
        assert_eq!(
            svc["status"]["loadBalancer"]["ingress"][0]["hostname"],
            "gw.default.example.invalid"
        );
        assert_eq!(synthetic_uid("a"), synthetic_uid("a"));
        assert_ne!(synthetic_uid("a"), synthetic_uid("b"));
    }
}
