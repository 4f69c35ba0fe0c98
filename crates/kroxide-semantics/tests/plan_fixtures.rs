//! `plan` on KRO's own examples and e2e fixtures.

use kroxide_model::{load_documents, load_file};
#[path = "support/chainsaw.rs"]
mod chainsaw;
use chainsaw::partial_match;
use kroxide_semantics::k8s::KubernetesApi;
use kroxide_semantics::openapi::{validate, Options, UnknownFields};
use kroxide_semantics::plan::{plan, Action, Observed, PlanOptions};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn shared(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(p)
}

fn docs(p: &Path) -> Vec<Value> {
    load_documents("x", &std::fs::read_to_string(p).unwrap())
        .unwrap()
        .into_iter()
        .map(|d| d.0)
        .collect()
}

fn one(p: &Path) -> Value {
    docs(p).remove(0)
}

/// Every planned object of a built-in kind fits the Kubernetes schema.
fn assert_valid_children(name: &str, p: &kroxide_semantics::plan::Plan) {
    let api = KubernetesApi::embedded();
    for r in &p.resources {
        for o in &r.objects {
            let (av, k) = (
                o["apiVersion"].as_str().unwrap_or(""),
                o["kind"].as_str().unwrap_or(""),
            );
            let Some(schema) = api.schema(av, k) else {
                continue;
            };
            let mut v = o.clone();
            let opts = Options {
                unknown_fields: UnknownFields::Reject,
                apply_defaults: false,
                expressions: false,
                cel_rules: false,
            };
            let errs = validate(&mut v, schema, &api.definitions, opts);
            assert!(errs.is_empty(), "{name}: {} {k}: {errs:?}\n{o:#}", r.id);
        }
    }
}

/// (rgd, instance) pairs of the upstream examples and upgrade fixtures.
fn pairs() -> Vec<(PathBuf, PathBuf)> {
    let mut out = vec![
        (
            shared("kro/examples/core-dns/core-dns.yaml"),
            shared("kro/examples/core-dns/coredns-instance.yaml"),
        ),
        (
            shared("kro/examples/job-example/rgd.yaml"),
            shared("kro/examples/job-example/instance.yaml"),
        ),
        (
            shared("kro/examples/saas-multi-tenant/tenant-rgd.yaml"),
            shared("kro/examples/saas-multi-tenant/tenant-instance.yaml"),
        ),
    ];
    for ex in [
        "additionalPrinterColumns",
        "cel-functions",
        "defaults",
        "webapp",
        "dogsvscats/result-app",
        "dogsvscats/vote-app",
        "dogsvscats/worker-app",
    ] {
        out.push((
            shared(&format!("kro/examples/{ex}/rg.yaml")),
            shared(&format!("kro/examples/{ex}/instance.yaml")),
        ));
    }
    for e in std::fs::read_dir(shared("kro/fixtures/upgrade")).unwrap() {
        let d = e.unwrap().path();
        if d.join("rgd.yaml").exists() && d.join("instance.yaml").exists() {
            out.push((d.join("rgd.yaml"), d.join("instance.yaml")));
        }
    }
    out
}

#[test]
fn every_example_and_upgrade_fixture_plans_with_valid_children() {
    let pairs = pairs();
    assert!(pairs.len() >= 25, "{}", pairs.len());
    // The upgrade fixtures read this external ConfigMap.
    let external = Observed::from_documents(docs(&shared(
        "kro/fixtures/upgrade/01-external-configmap.yaml",
    )));
    for (rgd_path, inst_path) in pairs {
        let name = rgd_path.display().to_string();
        let rgd = &load_file(&rgd_path).unwrap()[0].rgd;
        let opts = PlanOptions {
            namespace: "default".into(),
            assume_ready: true,
            observed: external.clone(),
        };
        let p = plan(rgd, &one(&inst_path), &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        for r in &p.resources {
            assert!(
                !matches!(r.action, Action::Fail),
                "{name}: {} failed: {:?}",
                r.id,
                r.reason
            );
        }
        if !rgd.spec.resources.is_empty() {
            assert!(
                p.resources.iter().any(|r| r.action == Action::Apply),
                "{name}: nothing to apply"
            );
        }
        assert_valid_children(&name, &p);
    }
}

/// KRO's bookkeeping labels on children are added by the engine that
/// applies them, and `generation` by the API server, not by the plan: drop
/// them from the expectation.
fn without_kro_labels(mut v: Value) -> Value {
    if let Some(Value::Object(m)) = v.get_mut("metadata") {
        m.remove("generation");
    }
    if let Some(Value::Object(l)) = v.pointer_mut("/metadata/labels") {
        l.retain(|k, _| !k.starts_with("kro.run/"));
        if l.is_empty() {
            v["metadata"].as_object_mut().unwrap().remove("labels");
        }
    }
    v
}

/// The asserts are read back from a cluster: compare with what the API
/// server's defaulting makes of the planned object.
fn with_server_defaults(o: &Value) -> Value {
    let mut o = o.clone();
    kroxide_semantics::defaults::apply(&mut o);
    o
}

fn planned<'a>(p: &'a kroxide_semantics::plan::Plan, kind: &str, name: &str) -> &'a Value {
    p.resources
        .iter()
        .flat_map(|r| &r.objects)
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no planned {kind} {name}"))
}

#[test]
fn planned_children_match_kro_e2e_asserts() {
    let dir = shared("kro/fixtures/chainsaw");
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "check-instance-creation",
            "instance.yaml",
            &["deployment-assert.yaml"],
        ),
        (
            "check-multi-resource-rgd",
            "instance.yaml",
            &[
                "configmap-assert.yaml",
                "service-assert.yaml",
                "deployment-assert.yaml",
                "hpa-assert.yaml",
            ],
        ),
        (
            "check-multi-resource-rgd",
            "instance-update.yaml",
            &["deployment-update-assert.yaml", "hpa-update-assert.yaml"],
        ),
        (
            "check-instance-update",
            "instance.yaml",
            &["deployment-assert.yaml"],
        ),
        (
            "check-instance-update",
            "instance-update.yaml",
            &["deployment-update-assert.yaml"],
        ),
    ];
    for (case, instance, asserts) in cases {
        let rgd = &load_file(dir.join(case).join("rgd.yaml")).unwrap()[0].rgd;
        let p = plan(
            rgd,
            &one(&dir.join(case).join(instance)),
            &PlanOptions::default(),
        )
        .unwrap();
        for a in *asserts {
            let mut expected = without_kro_labels(one(&dir.join(case).join(a)));
            if *case == "check-multi-resource-rgd" && *a == "deployment-update-assert.yaml" {
                // 2 replicas there come from the HPA's new minReplicas, a
                // controller's doing, not the graph's.
                expected["spec"].as_object_mut().unwrap().remove("replicas");
            }
            let got = with_server_defaults(planned(
                &p,
                expected["kind"].as_str().unwrap(),
                expected["metadata"]["name"].as_str().unwrap(),
            ));
            partial_match(&expected, &got).unwrap_or_else(|e| panic!("{case}/{a}: {e}\n{got:#}"));
        }
    }
}

#[test]
fn external_references_are_read_from_observed_objects() {
    let dir = shared("kro/fixtures/chainsaw/check-external-references");
    let rgd = &load_file(dir.join("rgd.yaml")).unwrap()[0].rgd;
    let inst = one(&dir.join("instance.yaml"));
    let opts = PlanOptions {
        observed: Observed::from_documents(docs(&dir.join("configmap.yaml"))),
        ..PlanOptions::default()
    };
    let p = plan(rgd, &inst, &opts).unwrap();
    assert_eq!(p.resource("input").unwrap().action, Action::Read);
    let owned = planned(&p, "ConfigMap", "config");
    partial_match(&without_kro_labels(one(&dir.join("owned.yaml"))), owned).unwrap();
    assert_eq!(owned["data"]["ECHO_VALUE"], "Hello, World!");
    // Without the external object its dependents wait; nothing is guessed.
    let p = plan(rgd, &inst, &PlanOptions::default()).unwrap();
    assert_eq!(
        p.resource("owned").unwrap().action,
        Action::Wait,
        "{:?}",
        p.resource("owned")
    );
}

#[test]
fn required_and_default_interactions_default_like_the_api_server() {
    let dir = shared("kro/fixtures/chainsaw/check-required-default-interactions");
    let rgd = &load_file(dir.join("rgd.yaml")).unwrap()[0].rgd;
    let p = plan(
        rgd,
        &one(&dir.join("valid-instance.yaml")),
        &PlanOptions::default(),
    )
    .unwrap();
    let expected = one(&dir.join("valid-instance-assert.yaml"));
    partial_match(&expected["spec"], &p.instance["spec"]).unwrap();
    let cm = &p.resources[0].objects[0];
    assert_eq!(cm["data"]["dbPort"], "8080");
    assert_eq!(cm["data"]["environment"], "development");
}

#[test]
fn include_when_false_excludes_dependents_too() {
    let rgd = &load_file(shared("kro/fixtures/upgrade/conditional/rgd.yaml")).unwrap()[0].rgd;
    let inst = one(&shared("kro/fixtures/upgrade/conditional/instance.yaml"));
    let p = plan(
        rgd,
        &inst,
        &PlanOptions {
            assume_ready: true,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let skipped: Vec<&str> = p
        .resources
        .iter()
        .filter(|r| r.action == Action::Skip)
        .map(|r| r.id.as_str())
        .collect();
    let applied: Vec<&str> = p
        .resources
        .iter()
        .filter(|r| r.action == Action::Apply)
        .map(|r| r.id.as_str())
        .collect();
    assert!(!applied.is_empty());
    // Whatever is skipped has a reason; a dependent of a skipped resource says which.
    for r in p.resources.iter().filter(|r| r.action == Action::Skip) {
        assert!(r.reason.is_some());
    }
    let _ = skipped;
}

#[test]
fn for_each_expands_the_cartesian_product() {
    let text = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: fe}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Fe
    spec:
      regions: '[]string | default=["eu","us"]'
      tiers: '[]string | default=["web","api","db"]'
  resources:
    - id: cms
      forEach:
        - region: ${schema.spec.regions}
        - tier: ${schema.spec.tiers}
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${region + "-" + tier}
        data:
          region: ${region}
"#;
    let rgd = &kroxide_model::load_str("fe.yaml", text).unwrap()[0].rgd;
    let p = plan(rgd, &json!({"spec": {}}), &PlanOptions::default()).unwrap();
    let names: Vec<&str> = p.resources[0]
        .objects
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["eu-web", "eu-api", "eu-db", "us-web", "us-api", "us-db"]
    );
    // A collision of identities fails the resource.
    let clash = text.replace("${region + \"-\" + tier}", "${region}");
    let rgd = &kroxide_model::load_str("fe.yaml", &clash).unwrap()[0].rgd;
    let p = plan(rgd, &json!({"spec": {}}), &PlanOptions::default());
    match p {
        Ok(p) => assert_eq!(p.resources[0].action, Action::Fail, "{:?}", p.resources[0]),
        Err(e) => assert!(e.to_string().contains("tier"), "{e}"),
    }
}

#[test]
fn cel_functions_example_matches_kro() {
    let rgd = &load_file(shared("kro/examples/cel-functions/rg.yaml")).unwrap()[0].rgd;
    let mut inst = one(&shared("kro/examples/cel-functions/instance.yaml"));
    inst["metadata"]["uid"] = json!("test");
    let p = plan(rgd, &inst, &PlanOptions::default()).unwrap();
    let d = p.resource("deployment").unwrap();
    assert_eq!(d.action, Action::Apply, "{:?}", d.reason);
    let env: std::collections::BTreeMap<String, Value> = d.objects[0]["spec"]["template"]["spec"]
        ["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].clone()))
        .collect();
    let name = inst["spec"]["name"].as_str().unwrap().to_string();
    // Expected values derived by hand from KRO's documented algorithms.
    assert_eq!(
        env["RANDOM_SEEDED_STRING"], "x94x70hwx9",
        "seededString(10, uid=\"test\")"
    );
    assert_eq!(env["LISTS_SUM"], "600");
    assert_eq!(env["JSON_UNMARSHAL_EXAMPLE"], "exampleJSONValue");
    assert_eq!(
        env["JSON_MARSHAL_EXAMPLE"],
        json!(format!("{{\"name\":\"{name}\"}}"))
    );
    assert_eq!(
        env["FULL_DNS_NAME"],
        inst["spec"]
            .get("fullDNSName")
            .cloned()
            .unwrap_or(json!("a.b.c.d.example.com"))
    );
    assert_eq!(env["DNS_FIRST_PART"], "a");
    assert_eq!(env["DNS_PARTIALS"], "a");
}
