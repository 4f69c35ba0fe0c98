//! Whether a server-side apply would change nothing, read off the live
//! object alone.
//!
//! Applying a large object the cluster already holds is not free: the API
//! server decodes it and merges it field by field before it finds nothing
//! to write (a ResourceGraphDefinition of 999 resources: about 0.35 s on the
//! reference machine, most of a KRO-mode redeploy of an unchanged graph).
//! An apply by `manager` changes nothing when the fields the live object
//! says `manager`'s apply owns are exactly the manifest's fields, and each
//! has the manifest's value. Anything this cannot tell for certain (a list
//! merged item by item, a value the server defaulted inside an atomic
//! list) counts as a change: the apply is sent, as before.

use serde_json::{Map, Value};

/// Whether applying `manifest` as `manager` would leave `live` as it is
/// (see the module documentation).
///
/// ```
/// use serde_json::json;
/// use kroxide_engine::unchanged::apply_changes_nothing;
/// let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "a"}, "data": {"k": "v"}});
/// let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "a", "uid": "1", "managedFields": [{"manager": "kroxide",
///         "operation": "Apply", "fieldsV1": {"f:data": {"f:k": {}}}}]},
///     "data": {"k": "v"}});
/// assert!(apply_changes_nothing(&manifest, &live, "kroxide"));
/// live["data"]["k"] = json!("changed");
/// assert!(!apply_changes_nothing(&manifest, &live, "kroxide"));
/// ```
pub fn apply_changes_nothing(manifest: &Value, live: &Value, manager: &str) -> bool {
    let Some(owned) = owned_fields(live, manager) else {
        return false;
    };
    let (Some(manifest), Some(owned), Some(live)) =
        (manifest.as_object(), owned.as_object(), live.as_object())
    else {
        return false;
    };
    // The object's identity is in no managedFields entry.
    let untracked = |k: &str| matches!(k, "apiVersion" | "kind");
    let mut manifest = manifest.clone();
    manifest.retain(|k, _| !untracked(k));
    if let Some(Value::Object(meta)) = manifest.get_mut("metadata") {
        meta.remove("name");
        meta.remove("namespace");
        if meta.is_empty() {
            manifest.remove("metadata");
        }
    }
    same_map(&manifest, owned, live)
}

/// Whether the managedFields `entry` is `manager`'s apply to the object
/// itself (not to a subresource).
pub(crate) fn is_apply_of(entry: &Value, manager: &str) -> bool {
    entry["manager"] == manager
        && entry["operation"] == "Apply"
        && entry
            .get("subresource")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
}

/// The `fieldsV1` tree of `manager`'s apply to the object itself.
fn owned_fields<'a>(live: &'a Value, manager: &str) -> Option<&'a Value> {
    live.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|m| is_apply_of(m, manager))?
        .get("fieldsV1")
}

/// Every key of `desired` owned and equal in `live`, and nothing owned
/// that `desired` lacks.
fn same_map(
    desired: &Map<String, Value>,
    owned: &Map<String, Value>,
    live: &Map<String, Value>,
) -> bool {
    let owned_keys = owned.keys().filter(|k| *k != ".");
    if owned_keys.clone().any(|k| {
        k.strip_prefix("f:")
            .is_none_or(|key| !desired.contains_key(key))
    }) {
        return false;
    }
    desired.iter().all(|(k, d)| {
        let (Some(o), Some(l)) = (owned.get(&format!("f:{k}")), live.get(k)) else {
            return false;
        };
        same(d, o, l)
    })
}

fn same(desired: &Value, owned: &Value, live: &Value) -> bool {
    let Some(owned) = owned.as_object() else {
        return false;
    };
    // `{}`: owned whole. A map or list with `.` is owned item by item.
    let leaf = owned.is_empty();
    match desired {
        // A map whose fields are owned one by one.
        Value::Object(d) if !leaf => match live.as_object() {
            Some(l) => same_map(d, owned, l),
            None => false,
        },
        // A list merged item by item: not read here.
        Value::Array(_) if !leaf => false,
        // A scalar, or an atomic map or list: owned whole.
        _ => leaf && desired == live,
    }
}

#[cfg(test)]
mod tests {
    use super::apply_changes_nothing;
    use serde_json::{json, Value};

    fn live(fields: Value, body: Value) -> Value {
        let mut o = json!({"apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "app", "uid": "u", "generation": 3, "managedFields": [
                {"manager": "kro", "operation": "Update", "subresource": "status",
                    "fieldsV1": {"f:status": {"f:state": {}}}},
                {"manager": "kroxide", "operation": "Apply", "fieldsV1": fields}]}});
        for (k, v) in body.as_object().unwrap() {
            match k.as_str() {
                "metadata" => o["metadata"]["labels"] = v["labels"].clone(),
                _ => o[k] = v.clone(),
            }
        }
        o
    }

    fn manifest() -> Value {
        json!({"apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "app", "labels": {"team": "a"}},
            "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "App", "spec": {"name": "string"}},
                "resources": [{"id": "c", "template": {"apiVersion": "v1", "kind": "ConfigMap"}}]}})
    }

    fn fields() -> Value {
        json!({"f:metadata": {"f:labels": {".": {}, "f:team": {}}},
            "f:spec": {"f:resources": {}, "f:schema": {"f:apiVersion": {}, "f:kind": {},
                "f:spec": {".": {}, "f:name": {}}}}})
    }

    /// As the API server gives it back: with the defaults of KRO's CRD
    /// (`group`, `scope`), which kroxide's apply does not own.
    fn body() -> Value {
        let mut b = manifest();
        b["spec"]["schema"]["group"] = json!("kro.run");
        b["spec"]["schema"]["scope"] = json!("Namespaced");
        b["status"] = json!({"state": "Active"});
        b
    }

    #[test]
    fn the_same_manifest_on_a_defaulted_object_changes_nothing() {
        assert!(apply_changes_nothing(
            &manifest(),
            &live(fields(), body()),
            "kroxide"
        ));
    }

    #[test]
    fn a_changed_value_an_added_or_removed_field_or_another_owner_is_a_change() {
        let l = live(fields(), body());
        let mut changed = manifest();
        changed["spec"]["schema"]["spec"]["name"] = json!("integer");
        let mut added = manifest();
        added["spec"]["schema"]["spec"]["size"] = json!("integer");
        // Removed from the manifest, still owned: the apply would remove it.
        let mut removed = manifest();
        removed["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        let mut list = manifest();
        list["spec"]["resources"][0]["readyWhen"] = json!(["${c.data != null}"]);
        for m in [&changed, &added, &removed, &list] {
            assert!(!apply_changes_nothing(m, &l, "kroxide"), "{m}");
        }
        assert!(!apply_changes_nothing(&manifest(), &l, "someone-else"));
        // Another writer took a field over: it is no longer in kroxide's entry.
        let mut taken = fields();
        taken["f:metadata"]["f:labels"]
            .as_object_mut()
            .unwrap()
            .remove("f:team");
        assert!(!apply_changes_nothing(
            &manifest(),
            &live(taken, body()),
            "kroxide"
        ));
        // A live value that differs under an atomic list.
        let mut drifted = body();
        drifted["spec"]["resources"][0]["template"]["kind"] = json!("Secret");
        assert!(!apply_changes_nothing(
            &manifest(),
            &live(fields(), drifted),
            "kroxide"
        ));
    }

    #[test]
    fn a_list_merged_item_by_item_is_never_judged_unchanged() {
        let m = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}]}});
        let l = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s",
            "managedFields": [{"manager": "kroxide", "operation": "Apply", "fieldsV1":
                {"f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}}}]},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}});
        assert!(!apply_changes_nothing(&m, &l, "kroxide"));
    }
}
