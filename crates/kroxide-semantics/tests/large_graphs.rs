//! A large graph is validated and planned on every core (issue 18): each
//! resource must come out exactly as it does in a small graph, which is
//! checked on one thread, and everything in KRO's order.

use kroxide_semantics::plan::{plan, Action, Plan, PlanOptions};
use kroxide_semantics::validate::{validate, Diagnostic};
use serde_json::{json, Value};

/// Chains `chains` of ConfigMap -> Deployment -> Service, each chain with
/// its own twist: `includeWhen` false (the chain is skipped), an expression
/// that fails, a reference to an unknown resource (a diagnostic), a
/// readiness rule, or none.
fn graph(chains: impl IntoIterator<Item = usize>) -> kroxide_model::ResourceGraphDefinition {
    let mut resources = Vec::new();
    let mut status = serde_json::Map::new();
    for i in chains {
        let mut config = json!({"id": format!("config{i}"), "template": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("${{schema.metadata.name}}-config{i}")},
            "data": {"LEVEL": "info", "INDEX": format!("${{string({i} * schema.spec.replicas)}}")}}});
        match i % 5 {
            1 => config["includeWhen"] = json!(["${schema.spec.replicas > 5}"]),
            2 => {
                config["template"]["data"]["BAD"] =
                    json!("${string(1 / (schema.spec.replicas - 1))}")
            }
            3 => {
                config["template"]["data"]["LOST"] = json!(format!("${{missing{i}.metadata.name}}"))
            }
            _ => {}
        }
        resources.push(config);
        let mut deploy = json!({"id": format!("deploy{i}"), "template": {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("${{config{i}.metadata.name}}")},
            "spec": {"replicas": "${schema.spec.replicas}",
                "selector": {"matchLabels": {"app": format!("svc{i}")}},
                "template": {"metadata": {"labels": {"app": format!("svc{i}")}},
                    "spec": {"containers": [{"name": "app", "image": "${schema.spec.image}",
                        "envFrom": [{"configMapRef": {"name": format!("${{config{i}.metadata.name}}")}}]}]}}}}});
        if i % 5 == 4 {
            deploy["readyWhen"] = json!([format!("${{deploy{i}.spec.replicas == 1}}")]);
        }
        resources.push(deploy);
        resources.push(json!({"id": format!("service{i}"), "template": {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("${{deploy{i}.metadata.name}}")},
            "spec": {"selector": {"app": format!("svc{i}")}, "ports": [{"port": 80}]}}}));
        status.insert(
            format!("ready{i}"),
            json!(format!("${{deploy{i}.status.availableReplicas}}")),
        );
    }
    serde_json::from_value(json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
        "metadata": {"name": "bench"},
        "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "Bench",
            "spec": {"image": "string | default=\"nginx:1.27\"", "replicas": "integer | default=1"},
            "status": status},
            "resources": resources}
    }))
    .unwrap()
}

/// A diagnostic without its resource's position (which differs between a
/// large graph and the small one of its chain).
fn shape(d: &Diagnostic) -> (Option<String>, String, &'static str) {
    (d.resource.clone(), d.message.clone(), d.rule)
}

const CHAINS: usize = 150;

#[test]
fn a_large_graph_has_each_resources_diagnostics_in_resource_order() {
    let large = graph(0..CHAINS);
    let v = validate(&large);
    let mut expected = Vec::new();
    for i in 0..CHAINS {
        let small = validate(&graph([i]));
        expected.extend(
            small
                .diagnostics
                .iter()
                .filter(|d| d.resource.is_some())
                .map(shape),
        );
    }
    let got: Vec<_> = v
        .diagnostics
        .iter()
        .filter(|d| d.resource.is_some())
        .map(shape)
        .collect();
    assert_eq!(
        got.len(),
        CHAINS / 5,
        "one unknown reference in every fifth chain"
    );
    assert_eq!(got, expected);
}

/// What a plan says of one resource: id, action, reason, readiness, objects.
type Outcome = (String, Action, Option<String>, Option<bool>, Vec<Value>);

fn planned(p: &Plan) -> Vec<Outcome> {
    p.resources
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.action.clone(),
                r.reason.clone(),
                r.ready,
                r.objects.clone(),
            )
        })
        .collect()
}

#[test]
fn a_large_graph_plans_each_resource_as_a_small_one_in_kros_order() {
    // Without the chains that fail validation (an unknown reference).
    let valid = |i: &usize| i % 5 != 3;
    let large = graph((0..CHAINS).filter(valid));
    let v = validate(&large);
    assert!(v.is_valid(), "{:?}", v.diagnostics.first());
    let order = v.order.unwrap();
    let instance = json!({"metadata": {"name": "b"}, "spec": {}});
    for assume_ready in [false, true] {
        let opts = PlanOptions {
            assume_ready,
            ..PlanOptions::default()
        };
        let p = plan(&large, &instance, &opts).unwrap();
        let ids: Vec<&str> = p.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, order, "KRO's order");
        let mut expected = Vec::new();
        for i in (0..CHAINS).filter(valid) {
            let small = plan(&graph([i]), &instance, &opts).unwrap();
            expected.extend(planned(&small));
            let ready = format!("ready{i}");
            assert_eq!(p.status.get(&ready), small.status.get(&ready), "{ready}");
        }
        let mut got = planned(&p);
        let by_id = |x: &Outcome| x.0.clone();
        got.sort_by_key(by_id);
        expected.sort_by_key(by_id);
        assert_eq!(got, expected);
        // Every kind of outcome is there.
        for action in [Action::Apply, Action::Skip, Action::Fail] {
            assert!(p.resources.iter().any(|r| r.action == action), "{action:?}");
        }
    }
}
