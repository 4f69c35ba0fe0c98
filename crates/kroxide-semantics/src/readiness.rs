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

/// Where a live object stands by its kind's rules (used when a resource
/// has no `readyWhen`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindReadiness {
    /// Its controller reports it ready.
    Ready,
    /// Not yet: what it is waiting for.
    Waiting(String),
    /// It will not become ready without a change: its controller's own
    /// reason and message (a Job that failed, a rollout past its deadline).
    Failed(String),
    /// The kind has no readiness rule: ready once it exists, as in KRO.
    NoRule,
}

impl KindReadiness {
    /// Ready, or ready by existing (no rule).
    pub fn is_ready(&self) -> bool {
        matches!(self, KindReadiness::Ready | KindReadiness::NoRule)
    }
}

/// Whether a live object of `kind` is ready by its kind's rules. The kind
/// comes from the caller (what was applied), never from the object: items
/// of a LIST and of a watch's first page carry no `kind`.
pub fn kind_readiness(kind: &str, obj: &Value) -> KindReadiness {
    use KindReadiness::*;
    let generation = int_at(obj, "/metadata/generation").unwrap_or(0);
    let observed = int_at(obj, "/status/observedGeneration").unwrap_or(0);
    let stale = || {
        Waiting(format!(
            "the controller has not seen generation {generation} yet"
        ))
    };
    match kind {
        "Deployment" | "StatefulSet" => {
            if kind == "Deployment" {
                if let Some(c) = condition(obj, "Progressing") {
                    if c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded" {
                        return Failed(reason_message(c));
                    }
                }
            }
            if observed < generation {
                return stale();
            }
            let want = int_at(obj, "/spec/replicas").unwrap_or(1);
            let ready = int_at(obj, "/status/readyReplicas").unwrap_or(0);
            let updated = int_at(obj, "/status/updatedReplicas").unwrap_or(0);
            let available = int_at(obj, "/status/availableReplicas")
                .unwrap_or(if kind == "StatefulSet" { ready } else { 0 });
            // As `kubectl rollout status`: a rollout is done when the old
            // ReplicaSets' pods are gone too (status.replicas counts them),
            // not when the new ones are up: meanwhile readyReplicas can
            // exceed spec.replicas, and a status comparing the two is wrong.
            let total = int_at(obj, "/status/replicas").unwrap_or(0);
            // A scale-down is done when the extra replicas are gone: right
            // after it the controller still counts them (status.replicas and
            // availableReplicas above spec.replicas).
            if ready >= want && updated >= want && available >= want {
                if kind == "Deployment" && total > updated {
                    Waiting(format!(
                        "{} old replicas are pending termination",
                        total - updated
                    ))
                } else if kind == "Deployment" && total > want {
                    Waiting(format!(
                        "{} extra replicas are pending termination",
                        total - want
                    ))
                } else {
                    Ready
                }
            } else {
                Waiting(format!("{ready}/{want} replicas ready"))
            }
        }
        "DaemonSet" => {
            if observed < generation || obj.pointer("/status").is_none() {
                return stale();
            }
            let want = int_at(obj, "/status/desiredNumberScheduled").unwrap_or(0);
            let ready = int_at(obj, "/status/numberReady").unwrap_or(0);
            if ready >= want {
                Ready
            } else {
                Waiting(format!("{ready}/{want} pods ready"))
            }
        }
        "Job" => {
            if let Some(c) = condition(obj, "Failed").filter(|c| c["status"] == "True") {
                return Failed(reason_message(c));
            }
            if has_condition(obj, "Complete") {
                Ready
            } else {
                Waiting("not complete".into())
            }
        }
        "Pod" => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Failed") => Failed(format!(
                "the pod failed{}",
                obj.pointer("/status/message")
                    .and_then(Value::as_str)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )),
            Some("Succeeded") => Ready,
            _ if has_condition(obj, "Ready") => Ready,
            _ => Waiting("the pod is not ready".into()),
        },
        "PersistentVolumeClaim" => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => Ready,
            Some("Lost") => Failed("the claim lost its volume (phase Lost)".into()),
            Some(p) => Waiting(format!("phase {p}")),
            None => Waiting("no phase yet".into()),
        },
        "Namespace" => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Active") => Ready,
            Some(p) => Waiting(format!("phase {p}")),
            None => Waiting("no phase yet".into()),
        },
        "CustomResourceDefinition" => {
            if let Some(c) = condition(obj, "NamesAccepted").filter(|c| c["status"] == "False") {
                return Failed(reason_message(c));
            }
            if has_condition(obj, "Established") {
                Ready
            } else {
                Waiting("not Established".into())
            }
        }
        k if !is_builtin_kind(k) => custom_readiness(obj, generation, observed),
        _ => NoRule,
    }
}

/// Whether `kind` names a built-in Kubernetes kind (of any group).
fn is_builtin_kind(kind: &str) -> bool {
    static KINDS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    KINDS
        .get_or_init(|| {
            crate::k8s::KubernetesApi::embedded()
                .kinds()
                .iter()
                .map(|k| k.kind.clone())
                .collect()
        })
        .contains(kind)
}

/// A custom resource (a KRO instance, a cert-manager Certificate, ...):
/// ready when its controller says so, as `kubectl wait --for=condition=Ready`
/// and kstatus read it: condition `Ready` (else `Available`) True, for the
/// object's current generation. A resource that reports no such condition
/// has no rule (ready once it exists, as in KRO).
fn custom_readiness(obj: &Value, generation: i64, observed: i64) -> KindReadiness {
    use KindReadiness::*;
    let Some(c) = condition(obj, "Ready").or_else(|| condition(obj, "Available")) else {
        return NoRule;
    };
    let seen = int_at(c, "/observedGeneration").unwrap_or(observed);
    let reports_generation = c.get("observedGeneration").is_some()
        || obj.pointer("/status/observedGeneration").is_some();
    if reports_generation && seen < generation {
        return Waiting(format!(
            "the controller has not seen generation {generation} yet"
        ));
    }
    let t = c["type"].as_str().unwrap_or("Ready");
    match c["status"].as_str() {
        Some("True") => Ready,
        _ => {
            let why = reason_message(c);
            Waiting(if why.is_empty() {
                format!("condition {t} is not True")
            } else {
                format!("condition {t} is not True: {why}")
            })
        }
    }
}

/// The readiness rule [`kind_readiness`] applies to `kind`, in words (for
/// `explain`); None when the kind has none (ready once it exists, as in KRO).
pub fn kind_rule(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Deployment" => "rollout complete as `kubectl rollout status` says: the controller saw the newest generation, spec.replicas updated, ready and available, no old or extra replicas left",
        "StatefulSet" => "the controller saw the newest generation and spec.replicas are updated, ready and available",
        "DaemonSet" => "the controller saw the newest generation and every scheduled pod is ready",
        "Job" => "condition Complete (condition Failed is a failure)",
        "Pod" => "condition Ready, or phase Succeeded (phase Failed is a failure)",
        "PersistentVolumeClaim" => "phase Bound (or Pending with a WaitForFirstConsumer StorageClass)",
        "Namespace" => "phase Active",
        "CustomResourceDefinition" => "condition Established",
        k if !is_builtin_kind(k) => "condition Ready (else Available) True for the current generation, when the object reports one; else it exists",
        _ => return None,
    })
}

/// Whether a live object is ready by its kind's rules: `Some(true)` ready,
/// `Some(false)` not (yet), `None` when the kind has no readiness (it is
/// ready once it exists).
pub fn kind_ready(kind: &str, obj: &Value) -> Option<bool> {
    match kind_readiness(kind, obj) {
        KindReadiness::NoRule => None,
        r => Some(r.is_ready()),
    }
}

fn condition<'a>(obj: &'a Value, t: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|x| x["type"] == t))
}

fn reason_message(c: &Value) -> String {
    let reason = c["reason"].as_str().unwrap_or("");
    match c["message"].as_str().filter(|m| !m.is_empty()) {
        Some(m) if !reason.is_empty() => format!("{reason}: {m}"),
        Some(m) => m.to_string(),
        None => reason.to_string(),
    }
}

fn has_condition(obj: &Value, t: &str) -> bool {
    condition(obj, t).is_some_and(|c| c["status"] == "True")
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
            assert_eq!(kind_ready(k, &o), Some(false), "{k} before");
            assert_eq!(kind_ready(k, &assume_ready(&o)), Some(true), "{k} after");
            // A listed item has no kind: the caller's kind decides.
            let mut listed = assume_ready(&o);
            listed.as_object_mut().unwrap().remove("kind");
            assert_eq!(kind_ready(k, &listed), Some(true), "{k} listed");
            let mut fresh = o.clone();
            fresh.as_object_mut().unwrap().remove("kind");
            assert_eq!(kind_ready(k, &fresh), Some(false), "{k} listed, not ready");
        }
        assert_eq!(kind_ready("ConfigMap", &json!({})), None);
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

    /// Mid-rollout, the new ReplicaSet's pods are all up while an old one
    /// still runs: not ready yet (readyReplicas is above spec.replicas).
    #[test]
    fn a_deployment_is_ready_when_its_old_replicas_are_gone() {
        let d = |total: i64, ready: i64| {
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 5},
                "status": {"observedGeneration": 2, "replicas": total, "updatedReplicas": 5,
                    "readyReplicas": ready, "availableReplicas": ready}})
        };
        assert_eq!(
            kind_readiness("Deployment", &d(6, 6)),
            KindReadiness::Waiting("1 old replicas are pending termination".into())
        );
        assert_eq!(kind_readiness("Deployment", &d(5, 5)), KindReadiness::Ready);
    }

    /// Scaled from 2 to 1: until the controller has removed the second
    /// replica, status still counts it (seen on the real cluster: a status
    /// read at that moment said 2 available).
    #[test]
    fn a_scaled_down_deployment_is_ready_when_the_extra_replicas_are_gone() {
        let d = |total: i64| {
            json!({"metadata": {"generation": 3}, "spec": {"replicas": 1},
                "status": {"observedGeneration": 3, "replicas": total, "updatedReplicas": total,
                    "readyReplicas": total, "availableReplicas": total}})
        };
        assert_eq!(
            kind_readiness("Deployment", &d(2)),
            KindReadiness::Waiting("1 extra replicas are pending termination".into())
        );
        assert_eq!(kind_readiness("Deployment", &d(1)), KindReadiness::Ready);
    }

    /// What the controllers write when a rollout or a Job gives up (as the
    /// real deployment and Job controllers do) is a failure, not a wait.
    #[test]
    fn controller_failures_are_failures() {
        let d = json!({"metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": {"observedGeneration": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"web-1\" has timed out progressing."}]}});
        assert_eq!(
            kind_readiness("Deployment", &d),
            KindReadiness::Failed(
                "ProgressDeadlineExceeded: ReplicaSet \"web-1\" has timed out progressing.".into()
            )
        );
        let j = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(
            kind_readiness("Job", &j),
            KindReadiness::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        let progressing = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": {"observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}});
        assert_eq!(
            kind_readiness("Deployment", &progressing),
            KindReadiness::Waiting("1/2 replicas ready".into())
        );
        assert_eq!(kind_readiness("Widget", &json!({})), KindReadiness::NoRule);
    }

    #[test]
    fn custom_resources_are_ready_by_their_ready_condition() {
        let cr = |conditions: Value, generation: i64, observed: Option<i64>| {
            let mut o = json!({"metadata": {"generation": generation}, "status": {"conditions": conditions}});
            if let Some(g) = observed {
                o["status"]["observedGeneration"] = json!(g);
            }
            o
        };
        let ready = json!([{"type": "Ready", "status": "True"}]);
        // A KRO instance of another RGD, a cert-manager Certificate.
        assert_eq!(
            kind_readiness("TenantEnvironment", &cr(ready.clone(), 1, None)),
            KindReadiness::Ready
        );
        let failing = json!([{"type": "Ready", "status": "False", "reason": "Issuing", "message": "waiting for the ACME order"}]);
        assert_eq!(
            kind_readiness("Certificate", &cr(failing, 1, None)),
            KindReadiness::Waiting(
                "condition Ready is not True: Issuing: waiting for the ACME order".into()
            )
        );
        // Its status is for an older generation: not yet.
        assert!(matches!(
            kind_readiness("Certificate", &cr(ready.clone(), 2, Some(1))),
            KindReadiness::Waiting(_)
        ));
        let stale_condition = json!([{"type": "Ready", "status": "True", "observedGeneration": 1}]);
        assert!(matches!(
            kind_readiness("Certificate", &cr(stale_condition, 2, None)),
            KindReadiness::Waiting(_)
        ));
        assert_eq!(
            kind_readiness(
                "Widget",
                &cr(json!([{"type": "Available", "status": "True"}]), 3, Some(3))
            ),
            KindReadiness::Ready
        );
        // No such condition: ready once it exists, as in KRO.
        assert_eq!(
            kind_readiness("Widget", &json!({"status": {}})),
            KindReadiness::NoRule
        );
        assert_eq!(
            kind_readiness(
                "Widget",
                &cr(json!([{"type": "Synced", "status": "False"}]), 1, None)
            ),
            KindReadiness::NoRule
        );
        // Built-in kinds keep their own rules (none for a ConfigMap).
        assert_eq!(
            kind_readiness(
                "ConfigMap",
                &cr(json!([{"type": "Ready", "status": "False"}]), 1, None)
            ),
            KindReadiness::NoRule
        );
        assert!(kind_rule("Certificate")
            .unwrap()
            .contains("condition Ready"));
        assert_eq!(kind_rule("ConfigMap"), None);
    }
}
