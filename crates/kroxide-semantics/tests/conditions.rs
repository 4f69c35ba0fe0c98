//! KRO's author-defined status conditions (v0.9.3): `status.conditions` is a
//! list of `${...}` expressions giving `runtime.newCondition({...})` or a
//! list of them. Validation refuses what KRO refuses when it builds the
//! graph, with KRO's words; the plan's status has the conditions KRO writes.
//! `e2e_kro.rs` checks the same graph against the real KRO.

use kroxide_semantics::plan::{plan, PlanOptions};
use kroxide_semantics::validate::validate;
use serde_json::{json, Value};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/rgds/conditions.yaml"
);

fn example() -> kroxide_model::ResourceGraphDefinition {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    kroxide_model::load_str(EXAMPLE, &text)
        .unwrap()
        .remove(0)
        .rgd
}

/// An RGD of one ConfigMap whose status has `status`.
fn with_status(status: Value) -> kroxide_model::ResourceGraphDefinition {
    serde_json::from_value(json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
        "metadata": {"name": "app"},
        "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "App",
                "spec": {"name": "string | default=\"x\""}, "status": status},
            "resources": [{"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.spec.name}"}, "data": {"a": "b"}}}]}
    }))
    .unwrap()
}

/// The plan of an instance with every field defaulted, everything ready.
fn plan_ready(rgd: &kroxide_model::ResourceGraphDefinition) -> kroxide_semantics::plan::Plan {
    plan(
        rgd,
        &json!({"metadata": {"name": "a"}, "spec": {}}),
        &PlanOptions {
            assume_ready: true,
            ..Default::default()
        },
    )
    .unwrap()
}

fn errors(rgd: &kroxide_model::ResourceGraphDefinition) -> Vec<String> {
    validate(rgd).errors().map(|d| d.message.clone()).collect()
}

fn conditions(entries: &[&str]) -> kroxide_model::ResourceGraphDefinition {
    with_status(json!({"conditions": entries}))
}

#[test]
fn the_example_is_valid() {
    assert_eq!(errors(&example()), Vec::<String>::new());
}

#[test]
fn the_plan_has_the_conditions_kro_writes() {
    let rgd = example();
    let instance = json!({"metadata": {"name": "a"}, "spec": {}});
    // Everything ready: the Deployment's assumed status has 1 available
    // replica and no Progressing condition.
    let ready = plan(
        &rgd,
        &instance,
        &PlanOptions {
            assume_ready: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        ready.status["conditions"],
        json!([
            {"type": "ConfigReady", "status": "True", "reason": "Rendered", "message": "config web-config"},
            {"type": "AppAvailable", "status": "True", "reason": "Replicas", "message": "1 of 1 available"},
            // The assumed status of a ready Deployment has Progressing True,
            // reason NewReplicaSetAvailable, as the controller writes it.
            {"type": "DeploymentProgressing", "status": "True", "reason": "FromDeployment", "message": "NewReplicaSetAvailable"},
            {"type": "Ready", "status": "True", "reason": "Resources", "message": "all resources are created and ready"},
            {"type": "Shard-a", "status": "True"},
            {"type": "Shard-b", "status": "True"},
        ]),
        "{:#}",
        ready.status
    );
    assert_eq!(ready.status["availableReplicas"], json!(1));
    // Nothing live: the Deployment has no status yet, so the entry that
    // reads it is pending (KRO keeps what it wrote before); KRO's
    // ResourcesReady is False, and so is the author's Ready that reads it.
    let cold = plan(&rgd, &instance, &PlanOptions::default()).unwrap();
    let by_type = |t: &str| {
        cold.status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
    };
    assert_eq!(by_type("AppAvailable"), None);
    assert_eq!(cold.pending["status.conditions[1]"], "No such key: status");
    assert_eq!(by_type("Ready").unwrap()["status"], "False");
    assert_eq!(
        by_type("DeploymentProgressing").unwrap(),
        json!({"type": "DeploymentProgressing", "status": "False", "reason": "FromDeployment"})
    );
    assert!(cold.errors.is_empty(), "{:?}", cold.errors);
}

#[test]
fn kro_s_build_time_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["${runtime.newCondition('x')}"], "runtime.newCondition: argument must be a map literal"),
        (&["${runtime.newCondition({'type': 'A', status: 'True'})}"], "keys must be bare identifiers (type, status, reason, message)"),
        (&["${runtime.newCondition({type: 'A', status: 'True', severity: 'x'})}"], "runtime.newCondition: unknown key \"severity\""),
        (&["${runtime.newCondition({type: 'A', type: 'B', status: 'True'})}"], "runtime.newCondition: duplicate key \"type\""),
        (&["${runtime.newCondition({status: 'True'})}"], "runtime.newCondition: 'type' is required"),
        (&["${runtime.newCondition({type: 'A'})}"], "runtime.newCondition: 'status' is required"),
        (&["${runtime.newCondition({type: 'A', status: 'Yes'})}"], "status must be one of True, False, Unknown (got \"Yes\")"),
        (&["${runtime.newCondition({type: '', status: 'True'})}"], "runtime.newCondition: type must not be empty"),
        (
            &["${runtime.newCondition({type: 'A', status: 'True'})}", "${runtime.newCondition({type: 'A', status: 'False'})}"],
            "condition type \"A\" is declared by more than one conditions entry",
        ),
        (
            &["${runtime.newCondition({type: 'A', status: 'True'})}", "${runtime.newCondition({type: 'B', status: runtime.condition(schema, 'A').status})}"],
            "custom conditions cannot reference each other",
        ),
        (&["${runtime.newCondition({type: 'B', status: runtime.condition(schema, 'Healthy').status})}"], "unknown condition type; only kro's built-in types"),
        (&["${schema.spec.name}"], "condition expressions must return runtime.newCondition(...) or a list of them, got string"),
        (&["${runtime.newCondition({type: 'A', status: 'True'})} and more"], "must be a single ${...} expression"),
        (&["${runtime.newCondition({type: 'A', status: nope.status})}"], "unknown identifier `nope`"),
    ];
    // Seen on the real KRO: `condition "cm.data": condition expressions must
    // return runtime.newCondition(...) or a list of them, got "map(string, string)"`.
    let plain_map = errors(&conditions(&["${cm.data}"]));
    assert!(
        plain_map
            .iter()
            .any(|e| e.contains("or a list of them, got map(string, string)")),
        "{plain_map:?}"
    );
    for (entries, want) in cases {
        let errs = errors(&conditions(entries));
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{entries:?}: want {want:?}, got {errs:?}"
        );
    }
    // One entry may name a type twice (the branches of a ternary).
    let ternary = conditions(&["${schema.spec.name == 'x' ? runtime.newCondition({type: 'A', status: 'True'}) : runtime.newCondition({type: 'A', status: 'False'})}"]);
    assert_eq!(errors(&ternary), Vec::<String>::new());
    // Shape of the block.
    let not_a_list = errors(&with_status(
        json!({"conditions": "${runtime.newCondition({type: 'A', status: 'True'})}"}),
    ));
    assert!(
        not_a_list
            .iter()
            .any(|e| e.contains("status.conditions must be a list, got a string")),
        "{not_a_list:?}"
    );
    let not_a_string = errors(&with_status(json!({"conditions": [{"a": "b"}]})));
    assert!(
        not_a_string
            .iter()
            .any(|e| e.contains("status.conditions[0] must be a CEL expression string")),
        "{not_a_string:?}"
    );
    // Elsewhere a list is a status field like any other (see below), whose
    // items are expressions: KRO refuses a literal one.
    let literal_item = errors(&with_status(
        json!({"names": ["plain", "${cm.metadata.name}"]}),
    ));
    assert!(
        literal_item
            .iter()
            .any(|e| e.contains("status field `names[0]` must be a ${...} expression")),
        "{literal_item:?}"
    );
}

#[test]
fn runtime_only_in_status_conditions() {
    let mut rgd = with_status(json!({"ok": "${runtime.condition(cm, 'Ready').status}"}));
    rgd.spec.resources[0].template.as_mut().unwrap()["data"]["a"] =
        json!("${runtime.condition(schema, 'Ready').status}");
    let errs = errors(&rgd);
    assert_eq!(
        errs.iter()
            .filter(|e| e.contains("runtime is only available in status.conditions expressions"))
            .count(),
        2,
        "{errs:?}"
    );
}

#[test]
fn entries_pending_failing_or_repeated() {
    let rgd = conditions(&[
        // Pending: the ConfigMap has no such key yet. KRO skips the entry.
        "${runtime.newCondition({type: 'P', status: cm.data.missing})}",
        // Fails at run time: a computed status that is not True/False/Unknown.
        "${runtime.newCondition({type: 'F', status: cm.data.a})}",
        // Computed types that repeat: KRO drops both.
        "${[runtime.newCondition({type: 'R' + cm.data.a, status: 'True'}), runtime.newCondition({type: 'R' + cm.data.a, status: 'False'})]}",
        "${runtime.newCondition({type: 'Kept', status: 'Unknown', message: cm.metadata.name})}",
    ]);
    assert_eq!(errors(&rgd), Vec::<String>::new());
    let p = plan_ready(&rgd);
    assert_eq!(
        p.status["conditions"],
        json!([{"type": "Kept", "status": "Unknown", "message": "x"}])
    );
    assert!(
        p.pending.contains_key("status.conditions[0]"),
        "{:?}",
        p.pending
    );
    assert!(
        p.errors["status.conditions[1]"].contains("status must be one of True, False, Unknown"),
        "{:?}",
        p.errors
    );
    assert!(
        p.errors["status.conditions"]
            .contains("given more than once (KRO drops every copy): \"Rb\""),
        "{:?}",
        p.errors
    );
}

#[test]
fn the_crd_gets_kro_s_conditions_schema_not_an_inferred_one() {
    let crd = kroxide_semantics::crd::instance_crd(&example()).unwrap();
    let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
    assert_eq!(status["properties"]["conditions"]["type"], "array");
    assert_eq!(
        status["properties"]["conditions"]["items"]["properties"]["observedGeneration"]["type"],
        "integer"
    );
    assert!(
        status["properties"].get("availableReplicas").is_some(),
        "{status:#}"
    );
}

/// A list in the status (not `conditions`) is a field KRO computes item by
/// item: an array of the first item's type in the CRD, its pending items
/// left out, an empty list no field at all. Seen on the real KRO v0.9.3:
/// `pend: ["${cm.metadata.name}", "${cm.data.missing}"]` gives `pend: [l]`,
/// `ints: ["${size(cm.data)}", ...]` an array of integers.
#[test]
fn status_lists_as_kro_computes_them() {
    let rgd = with_status(json!({
        "pend": ["${cm.metadata.name}", "${cm.data.missing}"],
        "ints": ["${size(cm.data)}", "${size(cm.data) + 1}"],
        "objs": [{"a": "${cm.metadata.name}"}, {"a": "lit-${cm.data.a}"}],
        "nested": {"l": ["${cm.data.a}"]},
        "empty": [],
    }));
    assert_eq!(errors(&rgd), Vec::<String>::new());
    let p = plan_ready(&rgd);
    assert_eq!(
        p.status,
        json!({"pend": ["x"], "ints": [1, 2], "objs": [{"a": "x"}, {"a": "lit-b"}], "nested": {"l": ["b"]}}),
    );
    assert_eq!(p.pending["status.pend[1]"], "No such key: missing");
    let crd = kroxide_semantics::crd::instance_crd(&rgd).unwrap();
    let props = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        ["properties"];
    assert_eq!(
        props["ints"],
        json!({"type": "array", "items": {"type": "integer"}})
    );
    assert_eq!(
        props["pend"],
        json!({"type": "array", "items": {"type": "string"}})
    );
    assert_eq!(props["objs"]["items"]["properties"]["a"]["type"], "string");
    assert!(props.get("empty").is_none(), "{props:#}");
}

/// An entry whose list holds one condition that fails is dropped whole; the
/// other entries stay (seen on the real KRO: only `Other` written, state ERROR).
#[test]
fn an_entry_with_a_failing_item_is_dropped_whole() {
    let rgd = conditions(&[
        "${[runtime.newCondition({type: 'Good', status: 'True'}), runtime.newCondition({type: 'Bad', status: cm.data.a})]}",
        "${runtime.newCondition({type: 'Other', status: 'True'})}",
    ]);
    assert_eq!(errors(&rgd), Vec::<String>::new());
    let p = plan_ready(&rgd);
    assert_eq!(
        p.status["conditions"],
        json!([{"type": "Other", "status": "True"}])
    );
    assert!(
        p.errors.contains_key("status.conditions[0]"),
        "{:?}",
        p.errors
    );
}
