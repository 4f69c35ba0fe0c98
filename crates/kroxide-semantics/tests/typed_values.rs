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
    // In a list item: the items' schema is the list's.
    let image = planned(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d", "image": "${dyn(schema.spec.n)}"}]}}),
    );
    assert_eq!(image.action, Action::Fail);
    let why = image.reason.unwrap();
    assert!(
        why.contains(
            "spec.containers.image: the expression gives integer, but the field is string"
        ),
        "{why}"
    );
}

/// A string of several parts is `"a-" + (e)` to KRO: an expression of
/// another type in it is refused when the graph is built. Seen on the real
/// KRO v0.9.3, e.g. `"n-${schema.spec.count}"`: `found no matching overload
/// for '_+_' applied to '(string, int)'`; a `dyn` value passes the check.
#[test]
fn expressions_inside_a_string_must_be_strings() {
    let rgd = |data: Value| -> kroxide_model::ResourceGraphDefinition {
        serde_json::from_value(json!({
            "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "app"},
            "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "App", "spec": {
                    "name": "string | default=\"x\"", "count": "integer | default=3",
                    "ratio": "float | default=1.5", "flag": "boolean | default=true",
                    "labels": "map[string]string | default={\"a\": \"b\"}"}},
                "resources": [{"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "${schema.spec.name}"}, "data": data}}]}
        }))
        .unwrap()
    };
    for (template, t) in [
        ("n-${schema.spec.count}", "int"),
        ("r-${schema.spec.ratio}", "double"),
        ("f-${schema.spec.flag}", "bool"),
        ("${schema.spec.name}-${schema.spec.count}", "int"),
        ("m-${schema.spec.labels}", "map(string, string)"),
    ] {
        let v = kroxide_semantics::validate::validate(&rgd(json!({"a": template})));
        let errs: Vec<String> = v.errors().map(|d| d.message.clone()).collect();
        assert!(
            errs.iter()
                .any(|e| e.contains(&format!("applied to '(string, {t})'"))),
            "{template}: {errs:?}"
        );
    }
    for fine in [
        "n-${string(schema.spec.count)}",
        "d-${dyn(schema.spec.count)}",
        "${schema.spec.name}-${schema.spec.labels.a}",
    ] {
        let v = kroxide_semantics::validate::validate(&rgd(json!({"a": fine})));
        assert!(v.is_valid(), "{fine}: {:?}", v.errors().collect::<Vec<_>>());
    }
    // The dyn one fails when it runs, as KRO's `"d-" + dyn(3)` does.
    let p = plan(
        &rgd(json!({"a": "d-${dyn(schema.spec.count)}"})),
        &json!({"metadata": {"name": "a"}, "spec": {}}),
        &PlanOptions::default(),
    )
    .unwrap();
    let cm = p.resource("cm").unwrap();
    assert_eq!(cm.action, Action::Fail);
    assert!(
        cm.reason
            .as_deref()
            .unwrap()
            .contains("gave integer, not a string"),
        "{:?}",
        cm.reason
    );
}
