//! A KRO simulator, switchable: it accepts ResourceGraphDefinitions
//! (validated with kroxide's validator), creates the instance CRD, writes
//! the RGD status (`Active`, or `Inactive` with the error in GraphAccepted),
//! and reconciles instances with kroxide's own planning engine: children are
//! applied with owner references to the instance (so deleting the instance
//! deletes them) and the instance status is written as KRO writes it
//! (`state` ACTIVE / IN_PROGRESS / ERROR, conditions Ready, InstanceManaged,
//! GraphResolved, ResourcesReady, and the graph's status fields).
//!
//! Labels as KRO v0.9.3 sets them: the instance CRD has `kro.run/owned`,
//! `kro.run/kro-version`, `kro.run/resource-graph-definition-id` and
//! `-name`; children have `kro.run/owned`, `kro.run/kro-version`,
//! `app.kubernetes.io/managed-by: kro`, `kro.run/instance-{name,namespace,
//! id,kind,group,version}`, `kro.run/node-id` (the resource's id) and, in a
//! `forEach` collection, `kro.run/collection-{index,size}`. Unlike KRO
//! (which tracks children with an ApplySet and deletes them itself), the
//! children also get an ownerReference to the instance.

use crate::server::{write, State, Write};
use crate::types::ResourceType;
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::crd::{instance_crd, InstanceNames};
use kroxide_semantics::plan::{plan, Action, Observed, PlanOptions};
use kroxide_semantics::validate::validate;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The ResourceGraphDefinition type (cluster-scoped, with status).
pub fn rgd_type() -> ResourceType {
    ResourceType {
        group: "kro.run".into(),
        version: "v1alpha1".into(),
        kind: "ResourceGraphDefinition".into(),
        plural: "resourcegraphdefinitions".into(),
        namespaced: false,
        status_subresource: true,
        schema: None,
        custom: true,
    }
}

fn now() -> String {
    crate::server::now_rfc3339()
}

fn condition(t: &str, ok: bool, reason: &str, message: &str, generation: i64) -> Value {
    json!({"type": t, "status": if ok { "True" } else { "False" }, "reason": reason, "message": message, "observedGeneration": generation, "lastTransitionTime": now()})
}

fn q(manager: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("fieldManager".to_string(), manager.to_string()),
        ("force".to_string(), "true".to_string()),
    ])
}

fn set_status(state: &Arc<State>, rt: &ResourceType, ns: Option<&str>, name: &str, status: Value) {
    let _ = write(
        state,
        rt,
        ns,
        Some(name),
        Write::MergePatch(json!({"status": status}), true),
        &BTreeMap::new(),
    );
}

/// Reconciles an RGD: accept or refuse it, and create its instance CRD.
pub fn reconcile_rgd(state: &Arc<State>, obj: &Value) {
    let name = kroxide_model::meta_str(obj, "name")
        .unwrap_or("")
        .to_string();
    let generation = obj
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if obj
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        == Some(generation)
    {
        return;
    }
    let rt = rgd_type();
    let parsed: Result<ResourceGraphDefinition, String> = serde_json::from_value(obj.clone())
        .map_err(|e| format!("invalid ResourceGraphDefinition: {e}"));
    let result = parsed.and_then(|rgd| {
        let v = validate(&rgd);
        let first_error = v.errors().next().map(|e| e.to_string());
        match first_error {
            Some(e) => Err(e),
            None => Ok((rgd, v.order.unwrap_or_default())),
        }
    });
    match result {
        Err(msg) => set_status(
            state,
            &rt,
            None,
            &name,
            json!({
                "state": "Inactive", "observedGeneration": generation,
                "conditions": [condition("GraphAccepted", false, "InvalidResourceGraph", &msg, generation), condition("Ready", false, "InvalidResourceGraph", &msg, generation)]
            }),
        ),
        Ok((rgd, order)) => {
            let crd = match instance_crd(&rgd) {
                Ok(c) => c,
                Err(e) => {
                    let msg = e.to_string();
                    set_status(
                        state,
                        &rt,
                        None,
                        &name,
                        json!({"state": "Inactive", "observedGeneration": generation, "conditions": [condition("GraphAccepted", false, "InvalidSchema", &msg, generation)]}),
                    );
                    return;
                }
            };
            let crd_rt = state
                .types
                .read()
                .expect("types lock")
                .by_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition")
                .cloned();
            if let Some(crd_rt) = crd_rt {
                let mut crd = crd;
                // As KRO labels the CRDs it makes (checked against KRO v0.9.3).
                crd["metadata"]["labels"] = json!({
                    "kro.run/owned": "true",
                    "kro.run/kro-version": "v0.9.3",
                    "kro.run/resource-graph-definition-id": obj.pointer("/metadata/uid").cloned().unwrap_or(json!("")),
                    "kro.run/resource-graph-definition-name": name,
                });
                let crd_name = crd["metadata"]["name"].as_str().unwrap_or("").to_string();
                let _ = write(
                    state,
                    &crd_rt,
                    None,
                    Some(&crd_name),
                    Write::Apply(crd, false),
                    &q("kro"),
                );
            }
            set_status(
                state,
                &rt,
                None,
                &name,
                json!({
                    "state": "Active", "observedGeneration": generation, "topologicalOrder": order,
                    "conditions": [
                        condition("GraphAccepted", true, "Valid", "resource graph and schema are valid", generation),
                        condition("KindReady", true, "Ready", "kind is ready", generation),
                        condition("ControllerReady", true, "Running", "controller is running", generation),
                        condition("Ready", true, "Ready", "", generation)
                    ]
                }),
            );
        }
    }
}

/// The Active RGD whose instances have `api_version`/`kind`.
fn rgd_for(state: &Arc<State>, api_version: &str, kind: &str) -> Option<ResourceGraphDefinition> {
    let store = state.store.lock().ok()?;
    let key = rgd_type().key();
    store
        .objects
        .iter()
        .filter(|((k, _, _), o)| {
            *k == key && o.pointer("/status/state").and_then(Value::as_str) == Some("Active")
        })
        .filter_map(|(_, o)| serde_json::from_value::<ResourceGraphDefinition>(o.clone()).ok())
        .find(|r| {
            let n = InstanceNames::of(r);
            n.api_version() == api_version && n.kind == kind
        })
}

/// Reconciles one instance: applies its children and writes its status.
pub fn reconcile_instance(state: &Arc<State>, instance: &Value) {
    let api_version = instance["apiVersion"].as_str().unwrap_or("");
    let kind = instance["kind"].as_str().unwrap_or("");
    // Work on what is stored now: an event may be stale (the instance
    // changed, or was deleted and must not get its children back).
    let Some(inst_rt0) = state
        .types
        .read()
        .expect("types lock")
        .by_kind(api_version, kind)
        .cloned()
    else {
        return;
    };
    let key = (
        inst_rt0.key(),
        if inst_rt0.namespaced {
            kroxide_model::meta_str(instance, "namespace").map(String::from)
        } else {
            None
        },
        kroxide_model::meta_str(instance, "name")
            .unwrap_or("")
            .to_string(),
    );
    let Some(current) = state
        .store
        .lock()
        .ok()
        .and_then(|s| s.objects.get(&key).cloned())
    else {
        return;
    };
    let instance = &current;
    let Some(rgd) = rgd_for(state, api_version, kind) else {
        return;
    };
    let name = kroxide_model::meta_str(instance, "name")
        .unwrap_or("")
        .to_string();
    let ns = kroxide_model::meta_str(instance, "namespace").map(String::from);
    let uid = instance
        .pointer("/metadata/uid")
        .cloned()
        .unwrap_or(Value::Null);
    let generation = instance
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let inst_rt = state
        .types
        .read()
        .expect("types lock")
        .by_kind(api_version, kind)
        .cloned();
    let Some(inst_rt) = inst_rt else { return };
    // What the cluster holds for this instance's children.
    let children: Vec<Value> = {
        let store = state.store.lock().expect("store lock");
        store
            .objects
            .values()
            .filter(|o| {
                o.pointer("/metadata/labels/kro.run~1instance-name")
                    .and_then(Value::as_str)
                    == Some(&name)
            })
            .cloned()
            .collect()
    };
    let opts = PlanOptions {
        namespace: ns.clone().unwrap_or_else(|| "default".into()),
        assume_ready: false,
        observed: Observed::from_documents(children),
    };
    let mut inst_for_plan = instance.clone();
    if let Some(m) = inst_for_plan.as_object_mut() {
        m.remove("status");
    }
    let p = match plan(&rgd, &inst_for_plan, &opts) {
        Ok(p) => p,
        Err(e) => {
            let msg = e.to_string();
            set_status(
                state,
                &inst_rt,
                ns.as_deref(),
                &name,
                json!({"state": "ERROR", "conditions": [condition("Ready", false, "ReconcileError", &msg, generation), condition("GraphResolved", false, "InvalidInstance", &msg, generation)]}),
            );
            return;
        }
    };
    let mut failed = None;
    let mut all_ready = true;
    let mut waiting: Vec<String> = Vec::new();
    for r in &p.resources {
        match r.action {
            Action::Apply => {
                let collection = rgd
                    .spec
                    .resources
                    .iter()
                    .any(|x| x.id == r.id && !x.for_each.is_empty());
                for (i, o) in r.objects.iter().enumerate() {
                    let mut child = o.clone();
                    // The labels KRO v0.9.3 puts on the objects it creates.
                    let labels = &mut child["metadata"]["labels"];
                    labels["kro.run/owned"] = json!("true");
                    labels["kro.run/kro-version"] = json!("v0.9.3");
                    labels["app.kubernetes.io/managed-by"] = json!("kro");
                    labels["kro.run/instance-name"] = json!(name);
                    if let Some(n) = &ns {
                        labels["kro.run/instance-namespace"] = json!(n);
                    }
                    labels["kro.run/instance-id"] = uid.clone();
                    labels["kro.run/instance-kind"] = json!(kind);
                    labels["kro.run/instance-group"] = json!(inst_rt.group);
                    labels["kro.run/instance-version"] = json!(inst_rt.version);
                    labels["kro.run/node-id"] = json!(r.id);
                    if collection {
                        labels["kro.run/collection-index"] = json!(i.to_string());
                        labels["kro.run/collection-size"] = json!(r.objects.len().to_string());
                    }
                    child["metadata"]["ownerReferences"] = json!([{"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
                    let (av, k) = (
                        child["apiVersion"].as_str().unwrap_or("").to_string(),
                        child["kind"].as_str().unwrap_or("").to_string(),
                    );
                    let crt = state
                        .types
                        .read()
                        .expect("types lock")
                        .by_kind(&av, &k)
                        .cloned();
                    let Some(crt) = crt else {
                        failed = Some(format!("resource {}: {av} {k} is not served", r.id));
                        continue;
                    };
                    let cname = kroxide_model::meta_str(&child, "name")
                        .unwrap_or("")
                        .to_string();
                    let cns = kroxide_model::meta_str(&child, "namespace").map(String::from);
                    let resp = write(
                        state,
                        &crt,
                        cns.as_deref(),
                        Some(&cname),
                        Write::Apply(child, false),
                        &q("kro"),
                    );
                    if !resp.status().is_success() {
                        failed = Some(format!(
                            "resource {}: apply failed with {}",
                            r.id,
                            resp.status()
                        ));
                    }
                }
                if r.ready != Some(true) {
                    all_ready = false;
                    waiting.push(r.id.clone());
                }
            }
            Action::Skip | Action::Read => {}
            Action::Wait => {
                all_ready = false;
                waiting.push(r.id.clone());
            }
            Action::Fail => {
                failed = Some(format!(
                    "resource {}: {}",
                    r.id,
                    r.reason.clone().unwrap_or_default()
                ))
            }
        }
    }
    let (state_s, ready, reason, msg) = match (&failed, all_ready) {
        (Some(m), _) => ("ERROR", false, "ReconcileError", m.clone()),
        (None, true) => (
            "ACTIVE",
            true,
            "AllResourcesReady",
            "all resources are ready".to_string(),
        ),
        (None, false) => (
            "IN_PROGRESS",
            false,
            "ResourcesNotReady",
            format!(
                "waiting for resources to become ready: {}",
                waiting.join(", ")
            ),
        ),
    };
    let mut status = p.status.clone();
    status["state"] = json!(state_s);
    status["conditions"] = json!([
        condition(
            "InstanceManaged",
            true,
            "Managed",
            "instance is managed",
            generation
        ),
        condition(
            "GraphResolved",
            failed.is_none(),
            if failed.is_none() {
                "Resolved"
            } else {
                "ResolveFailed"
            },
            &msg,
            generation
        ),
        condition("ResourcesReady", ready, reason, &msg, generation),
        condition("Ready", ready, reason, &msg, generation)
    ]);
    // Rewrite only on a real change, so status writes do not feed back forever.
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(Value::Array(cs)) = v.get_mut("conditions") {
            for c in cs {
                if let Some(m) = c.as_object_mut() {
                    m.remove("lastTransitionTime");
                }
            }
        }
        v
    };
    if instance.get("status").map(strip) != Some(strip(&status)) {
        set_status(state, &inst_rt, ns.as_deref(), &name, status);
    }
}

/// The simulator's loop: reacts to RGDs, instances and children.
pub async fn run(state: Arc<State>) {
    let mut events = match state.store.lock() {
        Ok(s) => s.events.subscribe(),
        Err(_) => return,
    };
    let rgd_key = rgd_type().key();
    loop {
        let e = match events.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        if !state.kro.load(Ordering::SeqCst) || e.kind == "DELETED" {
            continue;
        }
        let st = state.clone();
        if e.type_key == rgd_key {
            tokio::task::spawn_blocking(move || reconcile_rgd(&st, &e.object));
            continue;
        }
        // An instance, or a child of one.
        let api_version = e.object["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = e.object["kind"].as_str().unwrap_or("").to_string();
        let owner = e
            .object
            .pointer("/metadata/labels/kro.run~1instance-name")
            .and_then(Value::as_str)
            .map(String::from);
        tokio::task::spawn_blocking(move || {
            if rgd_for(&st, &api_version, &kind).is_some() {
                reconcile_instance(&st, &e.object);
            } else if let Some(inst) = owner {
                let parent = e
                    .object
                    .pointer("/metadata/ownerReferences/0")
                    .cloned()
                    .unwrap_or(Value::Null);
                let (pav, pk) = (
                    parent["apiVersion"].as_str().unwrap_or(""),
                    parent["kind"].as_str().unwrap_or(""),
                );
                let prt = st
                    .types
                    .read()
                    .expect("types lock")
                    .by_kind(pav, pk)
                    .cloned();
                if let Some(prt) = prt {
                    let ns = kroxide_model::meta_str(&e.object, "namespace").map(String::from);
                    let key = (prt.key(), if prt.namespaced { ns } else { None }, inst);
                    let parent_obj = st
                        .store
                        .lock()
                        .ok()
                        .and_then(|s| s.objects.get(&key).cloned());
                    if let Some(p) = parent_obj {
                        reconcile_instance(&st, &p);
                    }
                }
            }
        });
    }
}
