//! An instance that lacks a field its templates read (issue 16).
//!
//! What KRO v0.9.3 does, seen on a real cluster:
//! - a template reads it: `no such key: services (data pending)`, the
//!   instance stays IN_PROGRESS and KRO requeues forever (the instance spec
//!   never gains the field);
//! - an `includeWhen` reads it: the instance goes ERROR (`includeWhen
//!   "schema.spec.feature.enabled": eval ...: no such key: feature`) and
//!   nothing is applied;
//! - a field with a default (also one under an unset object): defaulted, fine;
//! - a status field reads it: the field is left out.
//!
//! kroxide fails the resource at plan time (so a direct deploy stops before
//! its first write), naming the field, the resource, where its template reads
//! it and the expression; what waits for other resources still waits.

use kroxide_semantics::plan::{plan, Action, Plan, PlanOptions};
use serde_json::{json, Value};

fn rgd(spec: Value, resources: Value, status: Value) -> kroxide_model::ResourceGraphDefinition {
    serde_json::from_value(json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
        "metadata": {"name": "app"},
        "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "App", "spec": spec, "status": status},
            "resources": resources}
    }))
    .unwrap()
}

fn run(rgd: &kroxide_model::ResourceGraphDefinition, spec: Value) -> Plan {
    plan(
        rgd,
        &json!({"metadata": {"name": "a"}, "spec": spec}),
        &PlanOptions::default(),
    )
    .unwrap()
}

/// The microservices shape: `services` is an optional object whose fields
/// are required, so an instance without it is valid, and a Deployment reads
/// `schema.spec.services.user.replicas`.
fn services_rgd() -> kroxide_model::ResourceGraphDefinition {
    rgd(
        json!({
            "version": "string | required=true",
            "services": {"user": {"image": "string | required=true", "replicas": "integer | required=true"}}
        }),
        json!([
            {"id": "appConfig", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "app-config"}, "data": {"VERSION": "${schema.spec.version}"}}},
            {"id": "userDeployment", "template": {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "user"},
                "spec": {"replicas": "${schema.spec.services.user.replicas}",
                    "selector": {"matchLabels": {"app": "user"}},
                    "template": {"metadata": {"labels": {"app": "user"}},
                        "spec": {"containers": [{"name": "user",
                            "image": "${schema.spec.services.user.image}"}]}}}}}
        ]),
        json!({"version": "${appConfig.data.VERSION}"}),
    )
}

#[test]
fn a_template_reading_an_unset_instance_field_fails_naming_it() {
    let rgd = services_rgd();
    let p = run(&rgd, json!({"version": "1.0.0"}));
    // What does not read it is planned as usual.
    assert_eq!(p.resource("appConfig").unwrap().action, Action::Apply);
    let r = p.resource("userDeployment").unwrap();
    assert_eq!(r.action, Action::Fail, "{r:?}");
    let why = r.reason.as_deref().unwrap();
    assert_eq!(
        why,
        "spec.services is not set in the instance and has no default; resource `userDeployment` \
         reads it at spec.replicas: ${schema.spec.services.user.replicas} \
         (eval \"schema.spec.services.user.replicas\": no such key: services; KRO would keep the instance IN_PROGRESS, waiting for it forever)"
    );
    // With the field set, it plans.
    let p = run(
        &rgd,
        json!({"version": "1.0.0", "services": {"user": {"image": "u:1", "replicas": 2}}}),
    );
    let r = p.resource("userDeployment").unwrap();
    assert_eq!(r.action, Action::Apply, "{r:?}");
    assert_eq!(r.objects[0]["spec"]["replicas"], 2);
}

#[test]
fn the_path_names_where_in_the_template_the_field_is_read() {
    let rgd = rgd(
        json!({"name": "string | required=true", "image": "string"}),
        json!([{"id": "web", "template": {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "${schema.spec.name}"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "nginx"},
                {"name": "b", "image": "registry/${schema.spec.image}"}]}}}}}]),
        json!({}),
    );
    let r = run(&rgd, json!({"name": "w"})).resources[0].clone();
    assert_eq!(r.action, Action::Fail, "{r:?}");
    let why = r.reason.unwrap();
    assert!(
        why.starts_with(
            "spec.image is not set in the instance and has no default; resource `web` reads it at \
             spec.template.spec.containers[1].image: registry/${schema.spec.image} "
        ),
        "{why}"
    );
}

#[test]
fn defaulted_fields_plan_even_under_an_unset_object() {
    let rgd = rgd(
        json!({"name": "string | default=\"dflt\"", "cfg": {"level": "string | default=\"info\""}}),
        json!([{"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${schema.spec.name}-cm"},
            "data": {"level": "${schema.spec.cfg.level}"}}}]),
        json!({}),
    );
    let r = run(&rgd, json!({})).resources[0].clone();
    assert_eq!(r.action, Action::Apply, "{r:?}");
    assert_eq!(r.objects[0]["metadata"]["name"], "dflt-cm");
    assert_eq!(r.objects[0]["data"]["level"], "info");
}

#[test]
fn an_include_when_reading_an_unset_field_fails_as_kro_errors() {
    let rgd = rgd(
        json!({"name": "string | required=true", "feature": {"enabled": "boolean"}}),
        json!([
            {"id": "base", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.spec.name}-base"}}},
            {"id": "opt", "includeWhen": ["${schema.spec.feature.enabled}"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.spec.name}-opt"}}}
        ]),
        json!({}),
    );
    let r = run(&rgd, json!({"name": "i"}))
        .resource("opt")
        .unwrap()
        .clone();
    assert_eq!(r.action, Action::Fail, "{r:?}");
    let why = r.reason.unwrap();
    assert!(
        why.starts_with("spec.feature is not set in the instance and has no default; resource `opt` reads it at includeWhen ${schema.spec.feature.enabled} (eval \"schema.spec.feature.enabled\": no such key: feature; KRO would mark the instance ERROR and apply nothing)"),
        "{why}"
    );
    // The object set, the key in it not.
    let r = run(&rgd, json!({"name": "i", "feature": {}}))
        .resource("opt")
        .unwrap()
        .clone();
    assert_eq!(r.action, Action::Fail, "{r:?}");
    assert!(r
        .reason
        .unwrap()
        .starts_with("spec.feature.enabled is not set"));
    for (enabled, action) in [(true, Action::Apply), (false, Action::Skip)] {
        let p = run(&rgd, json!({"name": "i", "feature": {"enabled": enabled}}));
        assert_eq!(p.resource("opt").unwrap().action, action);
    }
}

#[test]
fn a_for_each_over_an_unset_field_fails() {
    let rgd = rgd(
        json!({"name": "string | required=true", "names": "[]string"}),
        json!([{"id": "copies", "forEach": [{"n": "${schema.spec.names}"}],
            "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.spec.name}-${n}"}}}]),
        json!({}),
    );
    let r = run(&rgd, json!({"name": "f"})).resources[0].clone();
    assert_eq!(r.action, Action::Fail, "{r:?}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .starts_with("spec.names is not set in the instance and has no default; resource `copies` reads it at forEach n: ${schema.spec.names}"),
        "{r:?}"
    );
    let r = run(&rgd, json!({"name": "f", "names": ["a", "b"]})).resources[0].clone();
    assert_eq!(r.action, Action::Apply);
    assert_eq!(r.objects.len(), 2);
}

/// What other resources will provide is still waited for, as KRO does: also
/// when the same expression reads an unset instance field it guards.
#[test]
fn references_to_resources_still_wait() {
    let rgd = rgd(
        json!({"note": "string"}),
        json!([
            {"id": "svc", "template": {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}},
            {"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"ip": "${'note' in schema.spec ? schema.spec.note : svc.spec.clusterIP}"}}}
        ]),
        json!({"note": "${schema.spec.note}"}),
    );
    let p = run(&rgd, json!({}));
    let r = p.resource("cm").unwrap();
    assert_eq!(r.action, Action::Wait, "{r:?}");
    // A status field reading an unset field is left out, as KRO does.
    assert!(p.status.get("note").is_none(), "{:#}", p.status);
    let r = run(&rgd, json!({"note": "n"}))
        .resource("cm")
        .unwrap()
        .clone();
    assert_eq!(r.action, Action::Apply);
    assert_eq!(r.objects[0]["data"]["ip"], "n");
}

/// The instance's uid comes from the API server (or a deploy's inventory):
/// reading it without one still waits, as before.
#[test]
fn the_instance_uid_is_waited_for() {
    let rgd = rgd(
        json!({"name": "string | required=true"}),
        json!([{"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${schema.spec.name}"},
            "data": {"uid": "${schema.metadata.uid}"}}}]),
        json!({}),
    );
    let r = run(&rgd, json!({"name": "u"})).resources[0].clone();
    assert_eq!(r.action, Action::Wait, "{r:?}");
}
