//! The resource types the server serves: the built-in kinds of the embedded
//! Kubernetes schema, plus CustomResourceDefinitions created at run time.

use kroxide_semantics::k8s::KubernetesApi;
use kroxide_semantics::openapi::{Definitions, Schema};
use serde_json::{json, Value};

/// One servable resource type.
#[derive(Clone, Debug)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    pub status_subresource: bool,
    /// The OpenAPI schema (built-in kinds: with the Kubernetes definitions).
    pub schema: Option<Schema>,
    /// From a CRD (validated with pruning and defaults) rather than built in.
    pub custom: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `apps/v1/deployments`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.api_version(), self.plural)
    }

    pub fn resource_json(&self) -> Value {
        let mut verbs = vec![
            "create", "delete", "get", "list", "patch", "update", "watch",
        ];
        verbs.sort();
        let mut r = json!({"name": self.plural, "singularName": self.kind.to_ascii_lowercase(), "namespaced": self.namespaced, "kind": self.kind, "verbs": verbs});
        let short = short_names(&self.plural);
        if !short.is_empty() && !self.custom {
            r["shortNames"] = json!(short);
        }
        r
    }
}

/// kubectl's short names for built-in resources.
fn short_names(plural: &str) -> &'static [&'static str] {
    match plural {
        "configmaps" => &["cm"],
        "deployments" => &["deploy"],
        "services" => &["svc"],
        "namespaces" => &["ns"],
        "serviceaccounts" => &["sa"],
        "persistentvolumeclaims" => &["pvc"],
        "persistentvolumes" => &["pv"],
        "ingresses" => &["ing"],
        "horizontalpodautoscalers" => &["hpa"],
        "daemonsets" => &["ds"],
        "statefulsets" => &["sts"],
        "cronjobs" => &["cj"],
        "customresourcedefinitions" => &["crd", "crds"],
        "networkpolicies" => &["netpol"],
        "poddisruptionbudgets" => &["pdb"],
        "pods" => &["po"],
        "nodes" => &["no"],
        "endpoints" => &["ep"],
        "replicasets" => &["rs"],
        "events" => &["ev"],
        "limitranges" => &["limits"],
        "resourcequotas" => &["quota"],
        "storageclasses" => &["sc"],
        "priorityclasses" => &["pc"],
        _ => &[],
    }
}

/// All types.
pub struct Types {
    pub types: Vec<ResourceType>,
    pub builtin_defs: &'static Definitions,
}

impl Types {
    pub fn builtin() -> Self {
        let api = KubernetesApi::embedded();
        let types = api
            .kinds()
            .iter()
            .map(|k| ResourceType {
                group: k.group.clone(),
                version: k.version.clone(),
                kind: k.kind.clone(),
                plural: k.plural.clone(),
                namespaced: k.namespaced,
                status_subresource: k.subresources.iter().any(|s| s == "status"),
                schema: api.definitions.0.get(&k.schema).cloned(),
                custom: false,
            })
            .collect();
        Types {
            types,
            builtin_defs: &api.definitions,
        }
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.api_version() == api_version && t.kind == kind)
    }

    /// Registers (or replaces) the versions of a CRD.
    pub fn register_crd(&mut self, crd: &Value) {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or("").to_string();
        let plural = spec["names"]["plural"].as_str().unwrap_or("").to_string();
        let kind = spec["names"]["kind"].as_str().unwrap_or("").to_string();
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        self.types
            .retain(|t| !(t.custom && t.group == group && t.plural == plural));
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"] == false {
                continue;
            }
            let schema: Option<Schema> =
                serde_json::from_value(v["schema"]["openAPIV3Schema"].clone()).ok();
            self.types.push(ResourceType {
                group: group.clone(),
                version: v["name"].as_str().unwrap_or("").to_string(),
                kind: kind.clone(),
                plural: plural.clone(),
                namespaced,
                status_subresource: v.pointer("/subresources/status").is_some(),
                schema,
                custom: true,
            });
        }
    }

    pub fn unregister_crd(&mut self, crd: &Value) {
        let group = crd["spec"]["group"].as_str().unwrap_or("");
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or("");
        self.types
            .retain(|t| !(t.custom && t.group == group && t.plural == plural));
    }

    /// API groups and their versions, in a stable order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            if t.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) => {
                    if !vs.contains(&t.version) {
                        vs.push(t.version.clone());
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        out
    }
}
