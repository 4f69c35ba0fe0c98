//! Drift: fields of an instance's objects that another field manager has
//! changed since kroxide applied them.
//!
//! Server-side apply records who owns each field (`metadata.managedFields`).
//! When another manager (`kubectl edit`, `kubectl scale`, a controller)
//! changes a field that kroxide's apply set, the API server moves that field
//! out of kroxide's entry into the other manager's. So drift is read from
//! the live objects alone, without a dry run: a field that the manifest
//! kroxide applies sets, that kroxide's apply entry no longer owns, and that
//! another manager's entry does.

use crate::inventory::ObjectRef;
use crate::{DeployError, DeployOptions, DirectEngine, FIELD_MANAGER};
use kroxide_model::ResourceGraphDefinition;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// One field of a live object that another manager took from kroxide.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDrift {
    /// Resource id in the graph.
    pub id: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The field, as a path (`spec.replicas`,
    /// `spec.template.spec.containers[name=app].image`).
    pub field: String,
    /// The field manager that owns it now.
    pub manager: String,
    /// `Update` or `Apply`.
    pub operation: String,
    /// When that manager last wrote the object, as the server recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

impl DirectEngine {
    /// The fields of `instance`'s objects that another field manager changed
    /// since kroxide applied them (see the module documentation), by object
    /// and field. Reads the inventory and the live objects; writes nothing.
    pub async fn drift(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<Vec<FieldDrift>, DeployError> {
        // `desired`: what a deploy of the recorded spec would apply now.
        let (inv, live, desired) = self.deployed(rgd, instance, opts).await?;
        Ok(instance_drift(&inv, &live, &desired))
    }
}

/// The drift of every object `inv` lists, from the `live` objects by
/// resource id, against what `desired` (the plan of the recorded spec)
/// applies to each.
pub(crate) fn instance_drift(
    inv: &crate::Inventory,
    live: &std::collections::BTreeMap<String, Vec<Value>>,
    desired: &kroxide_semantics::plan::Plan,
) -> Vec<FieldDrift> {
    let mut out = Vec::new();
    for o in &inv.objects {
        let Some(live) = live.get(&o.id).and_then(|objs| {
            objs.iter()
                .find(|l| kroxide_model::meta_str(l, "name") == Some(o.name.as_str()))
        }) else {
            continue;
        };
        let manifest = desired.resource(&o.id).and_then(|r| {
            r.objects
                .iter()
                .find(|m| kroxide_model::meta_str(m, "name") == Some(o.name.as_str()))
        });
        if let Some(manifest) = manifest {
            out.extend(object_drift(o, manifest, live));
        }
    }
    out
}

/// The drift of one live object against the manifest kroxide applies to it.
pub fn object_drift(o: &ObjectRef, manifest: &Value, live: &Value) -> Vec<FieldDrift> {
    let Some(entries) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    // kroxide's own entry: its apply of the whole object.
    let ours_entry = |m: &Value| crate::unchanged::is_apply_of(m, FIELD_MANAGER);
    // Writes to the object or to a subresource that changes it (`kubectl
    // scale` writes `scale`); `status` holds no field kroxide applies.
    let foreign = |m: &Value| {
        !ours_entry(m) && m.get("subresource").and_then(Value::as_str) != Some("status")
    };
    let mut ours = BTreeSet::new();
    for m in entries.iter().filter(|m| ours_entry(m)) {
        for (path, _) in leaves(&m["fieldsV1"], Some(manifest)) {
            ours.insert(path);
        }
    }
    let mut out = Vec::new();
    for m in entries.iter().filter(|m| foreign(m)) {
        for (path, in_manifest) in leaves(&m["fieldsV1"], Some(manifest)) {
            if in_manifest
                && !ours.contains(&path)
                && !path.starts_with("metadata.labels.kroxide.dev/")
            {
                out.push(FieldDrift {
                    id: o.id.clone(),
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    namespace: o.namespace.clone(),
                    field: path,
                    manager: m["manager"].as_str().unwrap_or("").to_string(),
                    operation: m["operation"].as_str().unwrap_or("").to_string(),
                    time: m["time"].as_str().map(String::from),
                });
            }
        }
    }
    out
}

/// The owned fields of a `fieldsV1` tree, as display paths, each with
/// whether `desired` (the manifest, walked alongside) sets it.
fn leaves(fields: &Value, desired: Option<&Value>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    walk(fields, desired, String::new(), &mut out);
    out
}

fn walk(node: &Value, desired: Option<&Value>, path: String, out: &mut Vec<(String, bool)>) {
    let Some(m) = node.as_object() else { return };
    let children: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| *k != ".").collect();
    if children.is_empty() || m.contains_key(".") {
        if !path.is_empty() {
            out.push((path.clone(), desired.is_some()));
        }
        if children.is_empty() {
            return;
        }
    }
    for (k, child) in children {
        let (segment, next) = if let Some(key) = k.strip_prefix("f:") {
            let seg = if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            };
            (seg, desired.and_then(|d| d.get(key)))
        } else if let Some(keys) = k.strip_prefix("k:") {
            // A list item told apart by its merge keys: `{"name":"app"}`.
            let keys: serde_json::Map<String, Value> =
                serde_json::from_str(keys).unwrap_or_default();
            let label: Vec<String> = keys
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect();
            let item = desired.and_then(Value::as_array).and_then(|items| {
                items
                    .iter()
                    .find(|i| keys.iter().all(|(k, v)| i.get(k) == Some(v)))
            });
            (format!("{path}[{}]", label.join(",")), item)
        } else if let Some(v) = k.strip_prefix("v:") {
            // A set member.
            let value: Value = serde_json::from_str(v).unwrap_or(Value::Null);
            let item = desired
                .and_then(Value::as_array)
                .and_then(|items| items.iter().find(|i| **i == value));
            (format!("{path}[{v}]"), item)
        } else if let Some(i) = k.strip_prefix("i:") {
            let item = i
                .parse::<usize>()
                .ok()
                .and_then(|i| desired.and_then(|d| d.get(i)));
            (format!("{path}[{i}]"), item)
        } else {
            continue;
        };
        walk(child, next, segment, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oref() -> ObjectRef {
        ObjectRef {
            wave: 0,
            id: "web".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("dev".into()),
            name: "web".into(),
        }
    }

    /// `kubectl scale` (through the scale subresource) took `spec.replicas`
    /// and `kubectl set image` the
    /// container's image: both are drift; a field kroxide never set (an
    /// annotation of the controller) and fields kroxide still owns are not.
    #[test]
    fn fields_another_manager_took_are_drift_and_nothing_else() {
        let manifest = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}});
        let live = json!({"metadata": {"name": "web", "managedFields": [
            {"manager": "kroxide", "operation": "Apply", "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:selector": {}, "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:name": {}}}}}}}},
            {"manager": "kubectl", "operation": "Update", "subresource": "scale", "time": "2026-12-01T12:00:00Z",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl", "operation": "Update", "time": "2026-12-01T12:00:01Z", "fieldsV1": {
                "f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {"f:image": {}}}}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {
                "f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                "fieldsV1": {"f:status": {"f:replicas": {}}}}
        ]}});
        let drift = object_drift(&oref(), &manifest, &live);
        let fields: Vec<(&str, &str)> = drift
            .iter()
            .map(|d| (d.field.as_str(), d.manager.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("spec.replicas", "kubectl"),
                ("spec.template.spec.containers[name=app].image", "kubectl")
            ]
        );
        assert_eq!(drift[0].time.as_deref(), Some("2026-12-01T12:00:00Z"));
        // Nothing taken: no drift.
        let mut clean = live.clone();
        clean["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .drain(1..3);
        assert!(object_drift(&oref(), &manifest, &clean).is_empty());
    }
}
