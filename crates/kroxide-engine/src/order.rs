//! The order the direct engine applies a graph in: KRO's dependency waves,
//! plus what the API server needs that no expression says. An object in a
//! namespace the graph creates needs that Namespace first; an object of a
//! kind a CustomResourceDefinition of the graph defines needs that CRD
//! Established first. KRO reaches the same end by failing and retrying
//! until both exist; a direct deploy applies in this order instead, so it
//! neither fails nor writes anything it cannot finish.

use kroxide_semantics::dag::DependencyGraph;
use kroxide_semantics::plan::{Action, Plan};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the graph itself creates that others may need.
#[derive(Debug, Default)]
pub(crate) struct Provided {
    /// Namespace name -> the resource that creates it.
    pub namespaces: BTreeMap<String, String>,
    /// (apiVersion, kind) -> the CRD resource that defines it.
    pub kinds: BTreeMap<(String, String), String>,
}

impl Provided {
    /// Namespaces and kinds the resolved objects of `plan` create.
    pub fn of(plan: &Plan) -> Self {
        let mut p = Provided::default();
        for r in plan.resources.iter().filter(|r| r.action == Action::Apply) {
            for o in &r.objects {
                match (o["apiVersion"].as_str(), o["kind"].as_str()) {
                    (Some("v1"), Some("Namespace")) => {
                        if let Some(n) = kroxide_model::meta_str(o, "name") {
                            p.namespaces.insert(n.to_string(), r.id.clone());
                        }
                    }
                    (Some("apiextensions.k8s.io/v1"), Some("CustomResourceDefinition")) => {
                        for (av, kind) in crd_kinds(o) {
                            p.kinds.insert((av, kind), r.id.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        p
    }

    /// The resource that defines `api_version`/`kind`, if the graph does.
    pub fn defines(&self, api_version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .map(String::as_str)
    }
}

/// `(apiVersion, kind)` of every served version a CRD object defines.
fn crd_kinds(crd: &Value) -> Vec<(String, String)> {
    let group = crd.pointer("/spec/group").and_then(Value::as_str);
    let kind = crd.pointer("/spec/names/kind").and_then(Value::as_str);
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array);
    let (Some(group), Some(kind), Some(versions)) = (group, kind, versions) else {
        return Vec::new();
    };
    versions
        .iter()
        .filter_map(|v| v["name"].as_str())
        .map(|v| (format!("{group}/{v}"), kind.to_string()))
        .collect()
}

/// The apply waves for `plan`: KRO's dependencies (`graph`) and the
/// implicit ones above. Falls back to the plan's waves should the implicit
/// edges close a cycle (the API server then reports what is missing).
pub(crate) fn waves(
    graph: &DependencyGraph,
    plan: &Plan,
    provided: &Provided,
    kind_of: impl Fn(&str) -> Option<(String, String)>,
) -> Vec<Vec<String>> {
    let mut g = graph.clone();
    let mut added = false;
    for r in plan.resources.iter().filter(|r| r.action == Action::Apply) {
        let namespaces: BTreeSet<&str> = r
            .objects
            .iter()
            .filter_map(|o| kroxide_model::meta_str(o, "namespace"))
            .collect();
        for ns in namespaces {
            if let Some(by) = provided.namespaces.get(ns) {
                g.add_dependency(&r.id, by);
                added |= by != &r.id;
            }
        }
        if let Some((av, kind)) = kind_of(&r.id) {
            if let Some(by) = provided.defines(&av, &kind) {
                g.add_dependency(&r.id, by);
                added |= by != r.id;
            }
        }
    }
    if !added {
        return plan.waves.clone();
    }
    g.waves().unwrap_or_else(|_| plan.waves.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kroxide_semantics::plan::{plan, PlanOptions, Planner};
    use serde_json::json;

    #[test]
    fn objects_wait_for_the_namespace_and_the_crd_the_graph_creates() {
        let rgd: kroxide_model::ResourceGraphDefinition = serde_json::from_value(json!({
            "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "own"},
            "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "Own", "spec": {"ns": "string"}},
              "resources": [
                {"id": "widget", "template": {"apiVersion": "bars.example.com/v1", "kind": "Widget",
                    "metadata": {"name": "w", "namespace": "${schema.spec.ns}"}, "spec": {"size": 1}}},
                {"id": "config", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c", "namespace": "${schema.spec.ns}"}}},
                {"id": "ns", "template": {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "${schema.spec.ns}"}}},
                {"id": "crd", "template": {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {"name": "widgets.bars.example.com"},
                    "spec": {"group": "bars.example.com", "scope": "Namespaced",
                      "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                      "versions": [{"name": "v1", "served": true, "storage": true,
                        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}}
              ]}
        }))
        .unwrap();
        let instance = json!({"metadata": {"name": "i"}, "spec": {"ns": "own-ns"}});
        let p = plan(&rgd, &instance, &PlanOptions::default()).unwrap();
        // KRO sees no dependency at all: one wave.
        assert_eq!(p.waves.len(), 1, "{:?}", p.waves);
        let provided = Provided::of(&p);
        assert_eq!(provided.namespaces["own-ns"], "ns");
        assert_eq!(
            provided.defines("bars.example.com/v1", "Widget"),
            Some("crd")
        );
        let planner = Planner::new(&rgd).unwrap();
        let kind_of = |id: &str| {
            let r = rgd.resource(id)?;
            Some((r.api_version()?.to_string(), r.kind()?.to_string()))
        };
        let w: Vec<BTreeSet<String>> = waves(planner.graph(), &p, &provided, kind_of)
            .into_iter()
            .map(|w| w.into_iter().collect())
            .collect();
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(w, vec![set(&["ns", "crd"]), set(&["widget", "config"])]);
    }
}
