//! The defaults the API server's Go defaulting functions set on built-in
//! kinds (the OpenAPI schema does not carry them), so that a planned object
//! can be compared with what a cluster stores, and so the test API server
//! stores what a real one would.

use serde_json::{json, Value};

fn set_default(o: &mut Value, key: &str, v: Value) {
    if let Value::Object(m) = o {
        m.entry(key.to_string()).or_insert(v);
    }
}

fn pod_spec(spec: &mut Value, restart: &str) {
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "restartPolicy", json!(restart));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(key) {
            for c in cs {
                let image = c
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let last = image.rsplit('/').next().unwrap_or("");
                let latest = !last.contains(':') || image.ends_with(":latest");
                set_default(
                    c,
                    "imagePullPolicy",
                    json!(if latest && !image.contains('@') {
                        "Always"
                    } else {
                        "IfNotPresent"
                    }),
                );
                set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
                set_default(c, "terminationMessagePolicy", json!("File"));
                set_default(c, "resources", json!({}));
                if let Some(Value::Array(ports)) = c.get_mut("ports") {
                    for p in ports {
                        set_default(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
}

fn template(o: &mut Value, path: &str, restart: &str) {
    if let Some(spec) = o.pointer_mut(path) {
        pod_spec(spec, restart);
    }
}

/// Applies the API server's defaults for `obj`'s kind.
///
/// ```
/// let mut d = serde_json::json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx:1.25"}]}}}});
/// kroxide_semantics::defaults::apply(&mut d);
/// assert_eq!(d["spec"]["replicas"], 1);
/// assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
/// ```
pub fn apply(obj: &mut Value) {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = obj.get_mut("spec") else {
        return;
    };
    match kind.as_str() {
        "Deployment" => {
            set_default(spec, "replicas", json!(1));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            template(spec, "/template/spec", "Always");
        }
        "StatefulSet" => {
            set_default(spec, "replicas", json!(1));
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            template(spec, "/template/spec", "Always");
        }
        "DaemonSet" => {
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
            );
            template(spec, "/template/spec", "Always");
        }
        "Job" => {
            set_default(spec, "backoffLimit", json!(6));
            set_default(spec, "completions", json!(1));
            set_default(spec, "parallelism", json!(1));
            template(spec, "/template/spec", "Never");
        }
        "CronJob" => {
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            template(spec, "/jobTemplate/spec/template/spec", "Never");
        }
        "Service" => {
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
            if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                for p in ports {
                    set_default(p, "protocol", json!("TCP"));
                    if p.get("targetPort").is_none() {
                        if let Some(port) = p.get("port").cloned() {
                            p["targetPort"] = port;
                        }
                    }
                }
            }
        }
        _ => {}
    }
}
