//! Bad instance specs and bad expressions: each is refused (or fails its
//! resource) with a message naming the field and what was expected.

use kroxide_model::load_str;
use kroxide_semantics::plan::{plan, Action, PlanError, PlanOptions};
use serde_json::{json, Value};

const RGD: &str = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: app}
spec:
  schema:
    apiVersion: v1alpha1
    kind: App
    spec:
      name: string | required=true minLength=3 maxLength=20 pattern="^[a-z-]+$"
      replicas: integer | default=1 minimum=1 maximum=10
      env: string | default="dev" enum="dev,prod"
      ratio: float | default=0.5
      debug: boolean | default=false
      tags: '[]string | maxItems=2 uniqueItems=true'
      ports: '[]integer | minItems=1 default=[80]'
      labels: map[string]string
      db:
        host: string | required=true
        port: integer | default=5432
      even: integer | default=2 validation="self % 2 == 0"
  resources:
    - id: cm
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "${schema.spec.name}"}
        data: {replicas: "${string(schema.spec.replicas)}"}
"#;

fn refused(spec: Value) -> String {
    let rgd = &load_str("app.yaml", RGD).unwrap()[0].rgd;
    match plan(rgd, &json!({"spec": spec}), &PlanOptions::default()) {
        Err(PlanError::Instance(e)) => e.to_string(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted {spec}"),
    }
}

fn base() -> Value {
    json!({"name": "web", "db": {"host": "db"}})
}

fn with(path: &str, v: Value) -> Value {
    let mut s = base();
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = &mut s;
    for p in &parts[..parts.len() - 1] {
        cur = &mut cur[*p];
    }
    cur[parts[parts.len() - 1]] = v;
    s
}

#[test]
fn bad_specs_are_refused_with_field_and_expectation() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "wrong type",
            with("replicas", json!("two")),
            "spec.replicas: expected integer, got string \"two\"",
        ),
        (
            "float for integer",
            with("replicas", json!(1.5)),
            "spec.replicas: expected integer, got number 1.5",
        ),
        (
            "missing required",
            json!({"db": {"host": "x"}}),
            "spec.name: required field `name` is missing",
        ),
        (
            "missing nested required",
            json!({"name": "web", "db": {}}),
            "spec.db.host: required field `host` is missing",
        ),
        (
            "enum violation",
            with("env", json!("staging")),
            "spec.env: unsupported value \"staging\": expected one of \"dev\", \"prod\"",
        ),
        (
            "unknown field",
            with("replicaz", json!(2)),
            "spec.replicaz: unknown field `replicaz` (did you mean `replicas`?)",
        ),
        (
            "unknown nested field",
            with("db.hots", json!("x")),
            "spec.db.hots: unknown field `hots`",
        ),
        (
            "below minimum",
            with("replicas", json!(0)),
            "spec.replicas: 0 is less than the minimum 1",
        ),
        (
            "above maximum",
            with("replicas", json!(11)),
            "spec.replicas: 11 is greater than the maximum 10",
        ),
        (
            "pattern",
            with("name", json!("Web_1")),
            "spec.name: \"Web_1\" does not match the pattern \"^[a-z-]+$\"",
        ),
        (
            "too short",
            with("name", json!("ab")),
            "spec.name: must be at least 3 characters long, is 2",
        ),
        (
            "too long",
            with("name", json!("a".repeat(21))),
            "spec.name: must be at most 20 characters long, is 21",
        ),
        (
            "too many items",
            with("tags", json!(["a", "b", "c"])),
            "spec.tags: must have at most 2 items, has 3",
        ),
        (
            "duplicate items",
            with("tags", json!(["a", "a"])),
            "spec.tags[1]: duplicate value \"a\": items must be unique",
        ),
        (
            "too few items",
            with("ports", json!([])),
            "spec.ports: must have at least 1 items, has 0",
        ),
        (
            "boolean as string",
            with("debug", json!("yes")),
            "spec.debug: expected boolean, got string \"yes\"",
        ),
        (
            "map of wrong values",
            with("labels", json!({"a": 1})),
            "spec.labels.a: expected string, got integer 1",
        ),
        (
            "list of wrong items",
            with("ports", json!(["80"])),
            "spec.ports[0]: expected integer, got string \"80\"",
        ),
        (
            "object for string",
            with("name", json!({"a": 1})),
            "spec.name: expected string, got object",
        ),
        (
            "CEL validation rule",
            with("even", json!(3)),
            "spec.even: validation failed",
        ),
        (
            "number as ratio string",
            with("ratio", json!("half")),
            "spec.ratio: expected number, got string \"half\"",
        ),
    ];
    for (what, spec, expected) in cases {
        let msg = refused(spec);
        assert!(
            msg.contains(expected),
            "{what}: {msg:?} does not contain {expected:?}"
        );
    }
}

#[test]
fn wrong_instance_kind_is_refused() {
    let rgd = &load_str("app.yaml", RGD).unwrap()[0].rgd;
    let e = plan(
        rgd,
        &json!({"apiVersion": "kro.run/v1alpha1", "kind": "Other", "spec": base()}),
        &PlanOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("kind: is Other, expected App"),
        "{e}"
    );
    let e = plan(
        rgd,
        &json!({"apiVersion": "example.com/v1", "kind": "App", "spec": base()}),
        &PlanOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("apiVersion: is example.com/v1, expected kro.run/v1alpha1"),
        "{e}"
    );
}

fn with_expr(expr: &str) -> String {
    RGD.replace("${string(schema.spec.replicas)}", expr)
}

#[test]
fn bad_expressions_fail_their_resource_or_the_graph() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "template part not a string",
            "${dyn(schema.spec.replicas)}-x",
            "gave integer, not a string (no matching overload for '_+_'): wrap it in string(...)",
        ),
        (
            "division by zero",
            "${string(schema.spec.replicas / 0)}",
            "division by zero",
        ),
        (
            "bad quantity",
            "${string(quantity('12x').isLessThan(quantity('1')))}",
            "invalid quantity",
        ),
        (
            "json parse error",
            "${string(json.unmarshal('[1,'))}",
            "json.unmarshal failed to parse JSON",
        ),
        (
            "seededString length",
            "${random.seededString(0, schema.spec.name)}",
            "length must be positive",
        ),
    ];
    let rgd_spec = json!({"spec": base()});
    for (what, expr, expected) in cases {
        let text = with_expr(expr);
        let rgd = &load_str("app.yaml", &text).unwrap()[0].rgd;
        let p =
            plan(rgd, &rgd_spec, &PlanOptions::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let r = p.resource("cm").unwrap();
        assert_eq!(r.action, Action::Fail, "{what}: {:?}", r);
        let reason = r.reason.clone().unwrap_or_default();
        assert!(
            reason.to_lowercase().contains(&expected.to_lowercase()),
            "{what}: {reason:?} does not contain {expected:?}"
        );
    }
    // Static mistakes are caught before anything is evaluated.
    let statics: &[(&str, &str, &str)] = &[
        (
            "unknown spec field",
            "${schema.spec.replicaz}",
            "`schema.spec.replicaz` is not a field of the spec schema",
        ),
        ("syntax error", "${schema.spec.name +}", "invalid CEL"),
        (
            "template part typed not a string",
            "${schema.spec.replicas}-x",
            "no matching overload for '_+_' applied to '(string, int)'",
        ),
        (
            "unsupported function",
            "${schema.spec.name.frobnicate()}",
            "unsupported CEL function frobnicate",
        ),
        (
            "type error",
            "${string(schema.spec.replicas + schema.spec.name)}",
            "no matching overload for '+' applied to (int, string)",
        ),
        (
            "unknown identifier",
            "${cfg.metadata.name}",
            "unknown identifier `cfg`",
        ),
    ];
    for (what, expr, expected) in statics {
        let text = with_expr(expr);
        let rgd = &load_str("app.yaml", &text).unwrap()[0].rgd;
        let e = plan(rgd, &rgd_spec, &PlanOptions::default()).unwrap_err();
        assert!(matches!(e, PlanError::Graph(_)), "{what}");
        assert!(e.to_string().contains(expected), "{what}: {e}");
    }
}

#[test]
fn a_dollar_brace_that_is_not_an_expression_is_warned_about() {
    let text = with_expr("${json.unmarshal('{').a}");
    let rgd = &load_str("app.yaml", &text).unwrap()[0].rgd;
    let v = kroxide_semantics::validate::validate(rgd);
    assert!(v.is_valid());
    let w = v
        .diagnostics
        .iter()
        .find(|d| d.rule == "unterminated-expression")
        .expect("a warning");
    assert_eq!(
        w.path.to_string(),
        "spec.resources[0].template.data.replicas"
    );
}

/// An instance file of just `metadata: {name: x}` is a whole object that
/// takes every default, not a spec with an unknown field `metadata`; a bare
/// spec with a field of that name still reads as a spec when the schema
/// declares one.
#[test]
fn an_instance_with_only_metadata_is_an_object_not_a_spec() {
    let rgd = &load_str(
        "app.yaml",
        "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: app}\nspec:\n  schema:\n    apiVersion: v1alpha1\n    kind: App\n    spec:\n      replicas: integer | default=2\n  resources:\n    - id: cm\n      template: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {r: '${string(schema.spec.replicas)}'}}\n",
    )
    .unwrap()[0]
        .rgd;
    let p = plan(
        rgd,
        &json!({"metadata": {"name": "shop"}}),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(p.instance["metadata"]["name"], "shop");
    // Spec fields next to `metadata` are refused, not dropped for defaults.
    let e = plan(
        rgd,
        &json!({"metadata": {"labels": {"a": "b"}}, "replicas": 5}),
        &PlanOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("replicas: unknown field of an instance")
            && e.contains("spec fields go under `spec:`"),
        "{e}"
    );
    assert_eq!(p.instance["spec"], json!({"replicas": 2}));

    let with_field = RGD.replace(
        "      name: string",
        "      metadata: string\n      name: string",
    );
    let rgd = &load_str("app.yaml", &with_field).unwrap()[0].rgd;
    let spec = json!({"metadata": "m", "name": "shop", "db": {"host": "h"}});
    let p = plan(rgd, &spec, &PlanOptions::default()).unwrap();
    assert_eq!(p.instance["spec"]["metadata"], "m");
}
