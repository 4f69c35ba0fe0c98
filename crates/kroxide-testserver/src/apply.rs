//! Server-side apply, simplified: fields are owned per manager as leaf
//! paths (lists are atomic), a manager's apply sets what it sends and
//! removes what it owned and no longer sends, and a field another manager
//! owns with a different value is a conflict unless `force`.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Joins path segments; keys may hold dots (`kro.run/owned`), so paths use a
/// control character that cannot occur in a key.
const SEP: char = '\u{1f}';

/// A path for messages: `metadata.labels.kro.run/owned`.
pub fn display(path: &str) -> String {
    path.replace(SEP, ".")
}

/// Leaf paths of a JSON object (lists and scalars are leaves).
pub fn leaf_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}{SEP}{k}")
                };
                leaf_paths(x, &p, out);
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.to_string());
            }
        }
    }
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path.split(SEP) {
        cur = cur.get(seg)?;
    }
    Some(cur)
}

fn set(v: &mut Value, path: &str, x: Value) {
    let segs: Vec<&str> = path.split(SEP).collect();
    let mut cur = v;
    for (i, s) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let m = cur.as_object_mut().expect("object");
        if i == segs.len() - 1 {
            m.insert(s.to_string(), x);
            return;
        }
        cur = m.entry(s.to_string()).or_insert_with(|| json!({}));
    }
}

fn remove(v: &mut Value, path: &str) {
    let segs: Vec<&str> = path.split(SEP).collect();
    fn go(v: &mut Value, segs: &[&str]) {
        let Some(m) = v.as_object_mut() else { return };
        if segs.len() == 1 {
            m.remove(segs[0]);
            return;
        }
        if let Some(child) = m.get_mut(segs[0]) {
            go(child, &segs[1..]);
            if child.as_object().is_some_and(Map::is_empty) {
                m.remove(segs[0]);
            }
        }
    }
    go(v, &segs);
}

/// Ownership: manager → owned leaf paths, as kept in `metadata.managedFields`.
pub type Owners = BTreeMap<String, BTreeSet<String>>;

/// Reads ownership back from an object's managedFields.
pub fn owners_of(obj: &Value) -> Owners {
    let mut out = Owners::new();
    if let Some(Value::Array(mf)) = obj.pointer("/metadata/managedFields") {
        for e in mf {
            let (Some(m), Some(fields)) =
                (e.get("manager").and_then(Value::as_str), e.get("fieldsV1"))
            else {
                continue;
            };
            let mut set = BTreeSet::new();
            fields_to_paths(fields, "", &mut set);
            out.entry(m.to_string()).or_default().extend(set);
        }
    }
    out
}

fn fields_to_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(m) = v {
        if m.is_empty() {
            if !prefix.is_empty() {
                out.insert(prefix.to_string());
            }
            return;
        }
        for (k, x) in m {
            let name = k.strip_prefix("f:").unwrap_or(k);
            let p = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}{SEP}{name}")
            };
            fields_to_paths(x, &p, out);
        }
    }
}

fn paths_to_fields(paths: &BTreeSet<String>) -> Value {
    let mut root = json!({});
    for p in paths {
        let fp: Vec<String> = p.split(SEP).map(|s| format!("f:{s}")).collect();
        set(&mut root, &fp.join(&SEP.to_string()), json!({}));
    }
    root
}

/// Writes ownership into `metadata.managedFields`.
pub fn write_owners(
    obj: &mut Value,
    owners: &Owners,
    operations: &BTreeMap<String, &'static str>,
    time: &str,
) {
    let entries: Vec<Value> = owners
        .iter()
        .filter(|(_, f)| !f.is_empty())
        .map(|(m, f)| {
            json!({
                "manager": m,
                "operation": operations.get(m).copied().unwrap_or("Apply"),
                "apiVersion": obj.get("apiVersion").cloned().unwrap_or(Value::Null),
                "time": time,
                "fieldsType": "FieldsV1",
                "fieldsV1": paths_to_fields(f),
            })
        })
        .collect();
    obj["metadata"]["managedFields"] = Value::Array(entries);
}

/// Fields no manager owns (identity and server-set metadata).
fn unmanaged(path: &str) -> bool {
    let path = display(path);
    let path = path.as_str();
    matches!(
        path,
        "apiVersion" | "kind" | "metadata.name" | "metadata.namespace"
    ) || path.starts_with("metadata.managedFields")
        || path.starts_with("metadata.resourceVersion")
        || path.starts_with("metadata.uid")
        || path.starts_with("metadata.generation")
        || path.starts_with("metadata.creationTimestamp")
}

/// A conflict: (field, manager that owns it).
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub field: String,
    pub manager: String,
}

/// Applies `config` as `manager` onto `live` (None for a new object).
/// Returns the new object and ownership, or the conflicts.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
) -> Result<(Value, Owners), Vec<Conflict>> {
    let mut owners = live.map(owners_of).unwrap_or_default();
    let mut obj = live.cloned().unwrap_or_else(|| json!({}));
    let mut sent = BTreeSet::new();
    leaf_paths(config, "", &mut sent);
    sent.retain(|p| !unmanaged(p));
    // Conflicts: fields another manager owns whose value would change.
    let mut conflicts = Vec::new();
    for p in &sent {
        let new = get(config, p);
        let old = get(&obj, p);
        if old.is_some() && old != new {
            for (m, f) in &owners {
                if m != manager && f.contains(p) {
                    conflicts.push(Conflict {
                        field: display(p),
                        manager: m.clone(),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    // With force, ownership of conflicting fields moves to this manager.
    for c in &conflicts {
        if let Some(f) = owners.get_mut(&c.manager) {
            f.retain(|p| display(p) != c.field);
        }
    }
    // Fields this manager owned and no longer sends are removed, unless
    // another manager also owns them.
    let previously: BTreeSet<String> = owners.get(manager).cloned().unwrap_or_default();
    for p in previously.difference(&sent) {
        let shared = owners.iter().any(|(m, f)| m != manager && f.contains(p));
        if !shared {
            remove(&mut obj, p);
        }
    }
    for p in &sent {
        if let Some(v) = get(config, p) {
            set(&mut obj, p, v.clone());
        }
    }
    // Identity comes from the config.
    for k in ["apiVersion", "kind"] {
        if let Some(v) = config.get(k) {
            obj[k] = v.clone();
        }
    }
    for k in ["name", "namespace"] {
        if let Some(v) = config.pointer(&format!("/metadata/{k}")) {
            obj["metadata"][k] = v.clone();
        }
    }
    owners.insert(manager.to_string(), sent);
    Ok((obj, owners))
}

/// Ownership after a non-apply update by `manager`: it owns every leaf it
/// changed; other managers lose those fields.
pub fn update_owners(before: Option<&Value>, after: &Value, manager: &str) -> Owners {
    let mut owners = before.map(owners_of).unwrap_or_default();
    let mut all = BTreeSet::new();
    leaf_paths(after, "", &mut all);
    all.retain(|p| !unmanaged(p) && !p.starts_with("status"));
    let changed: BTreeSet<String> = all
        .into_iter()
        .filter(|p| before.and_then(|b| get(b, p)) != get(after, p))
        .collect();
    for f in owners.values_mut() {
        for c in &changed {
            f.remove(c);
        }
    }
    owners
        .entry(manager.to_string())
        .or_default()
        .extend(changed);
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_dots_stay_keys() {
        let c = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"kro.run/owned": "true"}}});
        let (o, own) = apply(None, &c, "m", false).unwrap();
        assert_eq!(o["metadata"]["labels"]["kro.run/owned"], "true");
        let mut live = o.clone();
        write_owners(&mut live, &own, &BTreeMap::new(), "t");
        assert_eq!(owners_of(&live), own, "managedFields round-trip");
    }

    #[test]
    fn apply_sets_owns_removes_and_conflicts() {
        let c1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1", "y": "2"}});
        let (o1, own) = apply(None, &c1, "kroxide", false).unwrap();
        assert_eq!(o1["data"], json!({"x": "1", "y": "2"}));
        let mut live = o1.clone();
        write_owners(&mut live, &own, &BTreeMap::new(), "t");
        // Same manager drops y: it is removed.
        let c2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}});
        let (o2, _) = apply(Some(&live), &c2, "kroxide", false).unwrap();
        assert_eq!(o2["data"], json!({"x": "1"}));
        // Another manager changing x conflicts, unless forced.
        let c3 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "9"}});
        let err = apply(Some(&live), &c3, "other", false).unwrap_err();
        assert_eq!(
            err,
            vec![Conflict {
                field: "data.x".into(),
                manager: "kroxide".into()
            }]
        );
        let (o3, own3) = apply(Some(&live), &c3, "other", true).unwrap();
        assert_eq!(o3["data"]["x"], "9");
        let dx = format!("data{SEP}x");
        assert!(own3["other"].contains(&dx) && !own3["kroxide"].contains(&dx));
        // Setting the same value is shared, not a conflict.
        assert!(apply(Some(&live), &c1, "third", false).is_ok());
    }
}
