//! KRO main's features (after v0.9.3), checked against what a real KRO main
//! (v0.9.3-54-g0302e659, on ../shared/kit with `KROXIDE_KIT_KRO=main`) did:
//! `schema.shortNames`/`categories` (admission rules, the CRD names),
//! `deepMerge()`, ordered deletion; and the `listType`/`listMapKey` rules the
//! API server applies to the instance CRD (in v0.9.3 too). The same graphs
//! targeting v0.9.3 (the default) behave as v0.9.3 does.

use kroxide_model::{load_str, KroVersion, ResourceGraphDefinition};
use kroxide_semantics::crd::instance_crd;
use kroxide_semantics::plan::{plan, PlanOptions};
use kroxide_semantics::validate::{validate, Severity};

fn load(yaml: &str, v: KroVersion) -> ResourceGraphDefinition {
    let mut rgd = load_str("t.yaml", yaml).unwrap().remove(0).rgd;
    rgd.kro_version = v;
    rgd
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/kro_main/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn errors(rgd: &ResourceGraphDefinition) -> Vec<(String, String)> {
    validate(rgd)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.path.to_string(), d.message))
        .collect()
}

/// A graph whose schema has `extra` (YAML lines under `schema:`).
fn with_schema(extra: &str) -> String {
    format!(
        "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {{name: t}}\nspec:\n  schema:\n    apiVersion: v1alpha1\n    kind: WebApp\n{extra}\n    spec:\n      name: string\n  resources:\n  - id: cm\n    template: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: x}}}}\n"
    )
}

#[test]
fn the_feature_graph_gives_the_crd_kro_main_created() {
    let rgd = load(&fixture("feature-rgd.yaml"), KroVersion::Main);
    assert_eq!(errors(&rgd), vec![]);
    let ours = instance_crd(&rgd).unwrap();
    let theirs = kroxide_model::load_documents("feature-crd.yaml", &fixture("feature-crd.yaml"))
        .unwrap()
        .remove(0)
        .0;
    assert_eq!(ours, theirs);
}

#[test]
fn v0_9_3_refuses_the_main_only_fields_and_functions() {
    let rgd = load(&fixture("feature-rgd.yaml"), KroVersion::V0_9_3);
    let errs = errors(&rgd);
    let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.schema.shortNames",
            "spec.schema.categories",
            "spec.resources[0].template.data"
        ],
        "{errs:#?}"
    );
    assert!(errs[0].1.contains("needs KRO main"), "{}", errs[0].1);
    assert!(
        errs[2].1.contains("unsupported CEL function deepMerge"),
        "{}",
        errs[2].1
    );
    // v0.9.3's CRD has no aliases (its RGD has no such fields).
    let crd = instance_crd(&rgd).unwrap();
    assert!(crd["spec"]["names"].get("shortNames").is_none());
    assert!(crd["spec"]["names"].get("categories").is_none());
}

#[test]
fn aliases_follow_kro_mains_admission_rules() {
    let long = "a".repeat(64);
    let many = (0..33)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let cases: Vec<(String, &str, &str)> = vec![
        // As KRO main's own integration test (validation_test.go) and the API server.
        (
            "shortNames: [WA]".into(),
            "spec.schema.shortNames[0]",
            "should match",
        ),
        (
            "shortNames: [wa, wa]".into(),
            "spec.schema.shortNames[1]",
            "Duplicate value",
        ),
        (
            format!("shortNames: [{long}]"),
            "spec.schema.shortNames[0]",
            "Too long",
        ),
        (
            "categories: [Kro]".into(),
            "spec.schema.categories[0]",
            "should match",
        ),
        (
            "categories: [platform, platform]".into(),
            "spec.schema.categories[1]",
            "Duplicate value",
        ),
        (
            "shortNames: ['1a']".into(),
            "spec.schema.shortNames[0]",
            "should match",
        ),
        (
            "shortNames: [a-]".into(),
            "spec.schema.shortNames[0]",
            "should match",
        ),
        (
            "shortNames: ['']".into(),
            "spec.schema.shortNames[0]",
            "should match",
        ),
        (
            format!("categories: [{many}]"),
            "spec.schema.categories",
            "at most 32",
        ),
        // The naming controller: ShortNamesConflict, seen on the kit.
        (
            "shortNames: [webapps]".into(),
            "spec.schema.shortNames[0]",
            "already in use",
        ),
        (
            "shortNames: [rgd]".into(),
            "spec.schema.shortNames[0]",
            "already in use",
        ),
    ];
    for (extra, path, msg) in cases {
        let rgd = load(&with_schema(&format!("    {extra}")), KroVersion::Main);
        let errs = errors(&rgd);
        assert!(
            errs.iter().any(|(p, m)| p == path && m.contains(msg)),
            "{extra}: {errs:#?}"
        );
    }
    for ok in [
        "shortNames: [wa, web-app, w1]\n    categories: [all, platform]",
        "shortNames: [webapp]",
        // `rgd` is taken in kro.run only.
        "group: example.com\n    shortNames: [rgd]",
        "shortNames: []",
    ] {
        let rgd = load(&with_schema(&format!("    {ok}")), KroVersion::Main);
        assert_eq!(errors(&rgd), vec![], "{ok}");
    }
    // Empty lists are left off the CRD, as Go's omitempty does.
    let rgd = load(&with_schema("    shortNames: []"), KroVersion::Main);
    assert!(instance_crd(&rgd).unwrap()["spec"]["names"]
        .get("shortNames")
        .is_none());
}

#[test]
fn deep_merge_plans_as_kro_main_ran_it() {
    let yaml = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: dmtest}
spec:
  schema:
    apiVersion: v1alpha1
    kind: DmTest
    spec:
      name: string | required=true
      labels: "map[string]string"
    status:
      withSpec: "${ schema.spec.labels.deepMerge({'team': 'x'}) }"
  resources:
  - id: cm
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.name}"}
      data: "${ schema.spec.labels.deepMerge({'fixed': 'yes'}) }"
"#;
    let instance = serde_json::json!({"metadata": {"name": "one"}, "spec": {"name": "one", "labels": {"app": "web", "team": "y"}}});
    let old = load(yaml, KroVersion::V0_9_3);
    assert!(plan(&old, &instance, &PlanOptions::default()).is_err());
    let rgd = load(yaml, KroVersion::Main);
    let p = plan(&rgd, &instance, &PlanOptions::default()).unwrap();
    // KRO main wrote this ConfigMap.
    assert_eq!(
        p.resources[0].objects[0]["data"],
        serde_json::json!({"app": "web", "fixed": "yes", "team": "y"})
    );
    assert_eq!(
        p.status["withSpec"],
        serde_json::json!({"app": "web", "team": "x"})
    );
}

#[test]
fn list_markers_are_refused_where_the_api_server_refuses_the_crd() {
    // Each refused by the API server when KRO main created the CRD (the
    // message is the API server's), on the kit.
    let cases = [
        (
            "items: \"[]Item | listType=map listMapKey=value\"",
            "must have a default or be a required property",
        ),
        (
            "items: \"[]Item | listType=map listMapKey=nope\"",
            "entries must all be names of item properties",
        ),
        (
            "items: \"[]Item | listType=set\"",
            "must be atomic as item of a list with x-kubernetes-list-type=set",
        ),
        (
            "names: \"[]string | listType=map listMapKey=name\"",
            "must be object if parent array's x-kubernetes-list-type is map",
        ),
    ];
    for v in [KroVersion::V0_9_3, KroVersion::Main] {
        for (field, msg) in cases {
            let yaml = format!("apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {{name: t}}\nspec:\n  schema:\n    apiVersion: v1alpha1\n    kind: LmTest\n    types:\n      Item:\n        name: string | required=true\n        value: string\n    spec:\n      {field}\n  resources: []\n");
            let errs = errors(&load(&yaml, v));
            assert!(
                errs.iter().any(|(_, m)| m.contains(msg)),
                "{field}: {errs:#?}"
            );
        }
    }
}

#[test]
fn deletion_waves_are_kro_mains_apply_order() {
    let rgd = load(&fixture("order-rgd.yaml"), KroVersion::Main);
    let graph = validate(&rgd).graph.unwrap();
    let orders = graph.deletion_orders().unwrap();
    // The internal.kro.run/apply-order KRO main stamped on each object.
    let want: std::collections::BTreeMap<String, usize> = [
        ("top", 3),
        ("side", 3),
        ("lone", 3),
        ("mid", 2),
        ("base", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(orders, want);
    // Not the apply waves reversed: `lone` and `side` go first, with `top`.
    assert_eq!(
        graph.waves().unwrap(),
        vec![vec!["base", "lone"], vec!["mid", "side"], vec!["top"]]
    );
}

/// KRO main writes a uint that fits as an int (`EnsureJSONSafe`, seen on
/// the kit: `status: {u: 7, lit: 5, inList: [1, 2]}`) and refuses a bigger
/// one and bytes with a message; v0.9.3 fails on any ("cannot deep copy").
#[test]
fn uint_results_are_written_as_kro_main_writes_them() {
    let yaml = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: uinttest}
spec:
  schema:
    apiVersion: v1alpha1
    kind: UintTest
    spec:
      name: string | default=u
    status:
      u: "${schema.spec.name == schema.spec.name ? (uint(7)) : (uint(7))}"
      lit: "${schema.spec.name == schema.spec.name ? (5u) : (5u)}"
      inList: "${schema.spec.name == schema.spec.name ? [1u, 2u] : [1u]}"
      big: "${schema.spec.name == schema.spec.name ? 18446744073709551615u : 1u}"
      raw: "${schema.spec.name == schema.spec.name ? b'x' : b'y'}"
  resources:
  - id: cm
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.name}-u"}
"#;
    let instance = serde_json::json!({"metadata": {"name": "u"}, "spec": {}});
    let p = plan(
        &load(yaml, KroVersion::Main),
        &instance,
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(p.status["u"], 7);
    assert_eq!(p.status["lit"], 5);
    assert_eq!(p.status["inList"], serde_json::json!([1, 2]));
    assert!(
        p.errors["status.big"]
            .contains("uint value 18446744073709551615 overflows int64; convert it explicitly"),
        "{:?}",
        p.errors
    );
    assert!(
        p.errors["status.raw"]
            .contains("bytes value cannot be used directly in a resource template or status field"),
        "{:?}",
        p.errors
    );
    let old = plan(
        &load(yaml, KroVersion::V0_9_3),
        &instance,
        &PlanOptions::default(),
    )
    .unwrap();
    assert!(old.status.get("u").is_none());
    assert_eq!(old.errors["status.u"], "cannot deep copy uint64");
    assert_eq!(old.errors["status.raw"], "cannot deep copy []uint8");
}
