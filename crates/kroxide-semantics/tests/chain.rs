//! Several RGDs at once (KRO's chained RGDs): validation against the
//! others' instance schemas, plans expanded into the inner graphs, and the
//! order the RGDs are applied in.

use kroxide_model::{load_file, load_str, ResourceGraphDefinition};
use kroxide_semantics::chain::{ChainError, RgdSet};
use kroxide_semantics::plan::{Action, PlanOptions};
use kroxide_semantics::validate::validate;
use serde_json::{json, Value};
use std::path::PathBuf;

fn saas(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/kro/examples/saas-multi-tenant")
        .join(file)
}

fn rgd_file(file: &str) -> ResourceGraphDefinition {
    load_file(saas(file)).unwrap().remove(0).rgd
}

fn rgd(yaml: &str) -> ResourceGraphDefinition {
    load_str("test.yaml", yaml).unwrap().remove(0).rgd
}

fn instance() -> Value {
    let text = std::fs::read_to_string(saas("tenant-instance.yaml")).unwrap();
    kroxide_model::load_documents("tenant-instance.yaml", &text)
        .unwrap()
        .remove(0)
        .0
}

fn saas_set() -> Vec<ResourceGraphDefinition> {
    [
        "tenant-rgd.yaml",
        "tenant-environment-rgd.yaml",
        "tenant-application-rgd.yaml",
    ]
    .into_iter()
    .map(rgd_file)
    .collect()
}

#[test]
fn saas_multi_tenant_plans_through_its_inner_graphs() {
    let rgds = saas_set();
    let set = RgdSet::new(&rgds).unwrap();
    let top = set.for_instance(&instance()).unwrap();
    assert_eq!(top.name(), "tenant.kro.run");
    let order: Vec<&str> = set
        .needed_by(top)
        .unwrap()
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(
        order,
        ["tenantenvironment.kro.run", "tenantapplication.kro.run"]
    );
    let opts = PlanOptions {
        assume_ready: true,
        ..Default::default()
    };
    let plan = set.plan(top, &instance(), &opts).unwrap();
    let env = plan.resource("tenantEnvironment").unwrap();
    assert_eq!(env.expanded.len(), 1);
    let inner = &env.expanded[0];
    // The inner instance is the object the outer graph writes, defaulted
    // by the inner schema, with a uid of its own.
    assert_eq!(inner.instance["kind"], "TenantEnvironment");
    assert_eq!(inner.instance["metadata"]["namespace"], "default");
    assert_ne!(
        inner.instance["metadata"]["uid"],
        plan.instance["metadata"]["uid"]
    );
    let ids: Vec<&str> = inner.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["tenantNamespace", "tenantQuota", "tenantNetworkpolicy"]
    );
    assert_eq!(
        inner.resource("tenantQuota").unwrap().objects[0]["metadata"]["namespace"],
        "tenant001"
    );
    let app = &plan.resource("tenantApplication").unwrap().expanded[0];
    let deployment = &app.resource("deployment").unwrap().objects[0];
    assert_eq!(deployment["metadata"]["name"], "tenant001-deployment");
    // The outer graph's schema default (replicas: 2) reaches the inner one.
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert!(inner.resources.iter().all(|r| r.action == Action::Apply));
}

#[test]
fn one_rgd_alone_cannot_check_an_inner_instance_and_the_set_can() {
    let inner = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: inner}
spec:
  schema: {apiVersion: v1alpha1, kind: Inner, spec: {name: string, replicas: integer}}
  resources:
  - id: cm
    template: {apiVersion: v1, kind: ConfigMap, metadata: {name: "${schema.spec.name}"}}
"#);
    let outer = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: outer}
spec:
  schema: {apiVersion: v1alpha1, kind: Outer, spec: {name: string}}
  resources:
  - id: part
    template:
      apiVersion: kro.run/v1alpha1
      kind: Inner
      metadata: {name: "${schema.spec.name}"}
      spec: {name: "${schema.spec.name}", replicas: "${schema.spec.name}", colour: blue}
"#);
    // Alone, the inner kind is unknown: a note, not an error.
    assert!(validate(&outer).is_valid());
    let set = RgdSet::new([&inner, &outer]).unwrap();
    let v = set.validate(&outer);
    let errors: Vec<String> = v.errors().map(|d| d.to_string()).collect();
    assert!(
        errors.iter().any(|e| e.contains("colour")),
        "an unknown field of the inner spec: {errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("replicas") && e.contains("string")),
        "a string expression in an integer field: {errors:?}"
    );
}

#[test]
fn the_outer_status_reads_the_inner_status() {
    let inner = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: inner}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Inner
    spec: {name: string}
    status: {configName: "${cm.metadata.name}"}
  resources:
  - id: cm
    template: {apiVersion: v1, kind: ConfigMap, metadata: {name: "${schema.spec.name}-config"}}
"#);
    let outer = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: outer}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Outer
    spec: {name: string}
    status: {fromInner: "${part.status.configName}"}
  resources:
  - id: part
    template:
      apiVersion: kro.run/v1alpha1
      kind: Inner
      metadata: {name: "${schema.spec.name}"}
      spec: {name: "${schema.spec.name}"}
  - id: user
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.name}-user"}
      data: {reads: "${part.status.configName}"}
"#);
    let set = RgdSet::new([&inner, &outer]).unwrap();
    assert!(
        set.validate(&outer).is_valid(),
        "{:?}",
        set.validate(&outer).diagnostics
    );
    let raw = json!({"apiVersion": "kro.run/v1alpha1", "kind": "Outer",
        "metadata": {"name": "o"}, "spec": {"name": "web"}});
    // Without a cluster's answer the status waits for the inner instance.
    let waiting = set.plan(&outer, &raw, &PlanOptions::default()).unwrap();
    assert_eq!(waiting.resource("user").unwrap().action, Action::Wait);
    assert!(
        waiting.pending.contains_key("status.fromInner"),
        "{:?}",
        waiting.pending
    );
    let opts = PlanOptions {
        assume_ready: true,
        ..Default::default()
    };
    let plan = set.plan(&outer, &raw, &opts).unwrap();
    assert_eq!(plan.status["fromInner"], "web-config");
    let user = &plan.resource("user").unwrap().objects[0];
    assert_eq!(user["data"]["reads"], "web-config");
}

#[test]
fn sets_that_cannot_work_are_refused_by_name() {
    let a = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: a}
spec:
  schema: {apiVersion: v1alpha1, kind: A, spec: {name: string}}
  resources:
  - id: b
    template: {apiVersion: kro.run/v1alpha1, kind: B, metadata: {name: "${schema.spec.name}"}}
"#);
    let b = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: b}
spec:
  schema: {apiVersion: v1alpha1, kind: B, spec: {name: string | default=x}}
  resources:
  - id: a
    template: {apiVersion: kro.run/v1alpha1, kind: A, metadata: {name: "${schema.spec.name}"}}
"#);
    match RgdSet::new([&a, &b]) {
        Err(ChainError::Cycle(c)) => assert!(c.contains("a -> b -> a"), "{c}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a cycle of RGDs was accepted"),
    }
    let mut b2 = b.clone();
    b2.metadata.name = Some("b2".into());
    b2.spec.resources.clear();
    let mut b3 = b2.clone();
    b3.metadata.name = Some("b3".into());
    match RgdSet::new([&b2, &b3]) {
        Err(e @ ChainError::DuplicateKind { .. }) => {
            assert_eq!(
                e.to_string(),
                "ResourceGraphDefinitions `b2` and `b3` both define kro.run/v1alpha1 B"
            )
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("two RGDs of one kind were accepted"),
    }
    let rgds = saas_set();
    let set = RgdSet::new(&rgds).unwrap();
    let other = json!({"apiVersion": "kro.run/v1alpha1", "kind": "Landlord", "spec": {}});
    let e = set.for_instance(&other).unwrap_err().to_string();
    assert!(
        e.contains("kro.run/v1alpha1 Landlord")
            && e.contains("tenant.kro.run (kro.run/v1alpha1 Tenant)"),
        "{e}"
    );
    // Just a spec: the one RGD that no other uses.
    let spec_only = json!({"spec": {"tenantId": "t"}});
    assert_eq!(
        set.for_instance(&spec_only).unwrap().name(),
        "tenant.kro.run"
    );
}
