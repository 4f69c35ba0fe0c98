//! A template expression whose value is known only when evaluated (`dyn`,
//! `json.unmarshal`) is checked against the field of the built-in kind it
//! fills: what the API server would refuse fails the resource (as KRO's
//! apply fails), what it takes passes.

use kroxide_semantics::plan::{plan, Action, PlanOptions};
use serde_json::{json, Value};

fn planned(template: Value) -> kroxide_semantics::plan::PlannedResource {
    let rgd: kroxide_model::ResourceGraphDefinition = serde_json::from_value(json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
        "metadata": {"name": "app"},
        "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "App", "spec": {"n": "integer | default=3"}},
            "resources": [{"id": "r", "template": template}]}
    }))
    .unwrap();
    let p = plan(
        &rgd,
        &json!({"metadata": {"name": "a"}, "spec": {}}),
        &PlanOptions::default(),
    )
    .unwrap();
    p.resource("r").unwrap().clone()
}

#[test]
fn values_the_api_server_takes_pass() {
    let d = planned(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": "${json.unmarshal('3')}", "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"cpu": "${dyn(schema.spec.n)}"}}}]}}}}),
    );
    assert_eq!(d.action, Action::Apply, "{:?}", d.reason);
    assert_eq!(d.objects[0]["spec"]["replicas"], 3);
    let s = planned(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80, "targetPort": "${dyn(schema.spec.n)}"}, {"port": 81, "targetPort": "${dyn('http')}"}]}}),
    );
    assert_eq!(s.action, Action::Apply, "{:?}", s.reason);
}

#[test]
fn values_the_api_server_refuses_fail_naming_the_field_not_the_value() {
    let cm = planned(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"count": "${dyn(schema.spec.n)}"}}),
    );
    assert_eq!(cm.action, Action::Fail);
    let why = cm.reason.unwrap();
    assert!(
        why.contains("data.count: the expression gives integer, but the field is string"),
        "{why}"
    );
    let d = planned(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": "${json.unmarshal('\"two\"')}", "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
    );
    assert_eq!(d.action, Action::Fail);
    assert!(
        !d.reason.as_deref().unwrap().contains("two"),
        "{:?}",
        d.reason
    );
}
