//! Several RGDs at once: KRO's chained graphs, where a resource of one RGD
//! is an instance of another RGD's kind (KRO's saas-multi-tenant example:
//! a `Tenant` made of a `TenantEnvironment` and a `TenantApplication`).
//!
//! KRO itself only learns of such a kind once the inner RGD is Active and
//! its CRD served. Offline, an [`RgdSet`] plays that cluster: each RGD is
//! validated against the built-in kinds plus the instance kinds of the
//! others ([`RgdSet::validate`]), a plan expands each inner instance into
//! the plan of its own graph ([`RgdSet::plan`]), and
//! [`RgdSet::needed_by`] gives the order in which the RGDs must be applied.
//!
//! ```
//! use kroxide_semantics::chain::RgdSet;
//! let inner = &kroxide_model::load_str("inner.yaml", r#"
//! apiVersion: kro.run/v1alpha1
//! kind: ResourceGraphDefinition
//! metadata: {name: inner}
//! spec:
//!   schema: {apiVersion: v1alpha1, kind: Inner, spec: {name: string}, status: {cm: "${cm.metadata.name}"}}
//!   resources:
//!   - id: cm
//!     template: {apiVersion: v1, kind: ConfigMap, metadata: {name: "${schema.spec.name}"}}
//! "#).unwrap()[0].rgd;
//! let outer = &kroxide_model::load_str("outer.yaml", r#"
//! apiVersion: kro.run/v1alpha1
//! kind: ResourceGraphDefinition
//! metadata: {name: outer}
//! spec:
//!   schema: {apiVersion: v1alpha1, kind: Outer, spec: {name: string}}
//!   resources:
//!   - id: part
//!     template: {apiVersion: kro.run/v1alpha1, kind: Inner, metadata: {name: "${schema.spec.name}"}, spec: {name: "${schema.spec.name}-cm"}}
//! "#).unwrap()[0].rgd;
//! let set = RgdSet::new([inner, outer]).unwrap();
//! assert!(set.validate(outer).is_valid());
//! assert_eq!(set.needed_by(outer).unwrap().iter().map(|r| r.name()).collect::<Vec<_>>(), ["inner"]);
//! let instance = serde_json::json!({"apiVersion": "kro.run/v1alpha1", "kind": "Outer",
//!     "metadata": {"name": "x"}, "spec": {"name": "web"}});
//! let plan = set.plan(set.for_instance(&instance).unwrap(), &instance, &Default::default()).unwrap();
//! let inner_plan = &plan.resources[0].expanded[0];
//! assert_eq!(inner_plan.resources[0].objects[0]["metadata"]["name"], "web-cm");
//! ```

use crate::crd::{instance_crd, InstanceNames};
use crate::k8s::{KindInfo, KubernetesApi};
use crate::openapi::Schema;
use crate::plan::{Action, Plan, PlanError, PlanOptions, Planner};
use crate::validate::{validate_with, Validation};
use kroxide_model::ResourceGraphDefinition;
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a set of RGDs cannot be used together.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ChainError {
    #[error("ResourceGraphDefinitions `{first}` and `{second}` both define {api_version} {kind}")]
    DuplicateKind {
        api_version: String,
        kind: String,
        first: String,
        second: String,
    },
    #[error("ResourceGraphDefinitions use each other's kinds in a cycle: {0}")]
    Cycle(String),
    #[error("no ResourceGraphDefinition given defines the instance's kind {api_version} {kind} (given: {given})")]
    NoGraphFor {
        api_version: String,
        kind: String,
        given: String,
    },
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// A plan of an inner graph failed: which resource of which graph made
    /// the inner instance.
    #[error(
        "resource `{resource}` of `{outer}` is a {kind} instance, planned with `{inner}`: {source}"
    )]
    Inner {
        outer: String,
        resource: String,
        kind: String,
        inner: String,
        #[source]
        source: Box<ChainError>,
    },
}

/// RGDs that may use each other's instance kinds.
pub struct RgdSet<'a> {
    rgds: Vec<&'a ResourceGraphDefinition>,
    /// (apiVersion, kind) of each RGD's instances → its position.
    by_kind: BTreeMap<(String, String), usize>,
    /// The built-in API plus the set's instance kinds (None: the built-in
    /// API, when no RGD's CRD could be made).
    api: Option<KubernetesApi>,
}

/// apiVersion and kind of `rgd`'s instances.
fn instance_kind(rgd: &ResourceGraphDefinition) -> (String, String) {
    let n = InstanceNames::of(rgd);
    (format!("{}/{}", n.group, n.version), n.kind)
}

/// The kind and schema a cluster serves for `rgd`'s instances once KRO
/// made its CRD.
fn served_kind(rgd: &ResourceGraphDefinition) -> Option<(KindInfo, Schema)> {
    let n = InstanceNames::of(rgd);
    let crd = instance_crd(rgd).ok()?;
    let schema = crd.pointer("/spec/versions/0/schema/openAPIV3Schema")?;
    let schema: Schema = serde_json::from_value(schema.clone()).ok()?;
    Some((
        KindInfo {
            group: n.group,
            version: n.version,
            kind: n.kind,
            plural: n.plural,
            namespaced: n.namespaced,
            schema: String::new(),
            subresources: vec!["status".into()],
        },
        schema,
    ))
}

impl<'a> RgdSet<'a> {
    /// The set of `rgds`; two RGDs may not define the same kind.
    pub fn new(
        rgds: impl IntoIterator<Item = &'a ResourceGraphDefinition>,
    ) -> Result<Self, ChainError> {
        let rgds: Vec<_> = rgds.into_iter().collect();
        let mut by_kind = BTreeMap::new();
        for (i, r) in rgds.iter().enumerate() {
            let key = instance_kind(r);
            if let Some(j) = by_kind.insert(key.clone(), i) {
                return Err(ChainError::DuplicateKind {
                    api_version: key.0,
                    kind: key.1,
                    first: rgds[j].name().to_string(),
                    second: r.name().to_string(),
                });
            }
        }
        let extra: Vec<_> = rgds.iter().filter_map(|r| served_kind(r)).collect();
        let api = (!extra.is_empty()).then(|| KubernetesApi::embedded().with_kinds(extra));
        let set = RgdSet { rgds, by_kind, api };
        for r in &set.rgds {
            set.needed_by(r)?;
        }
        Ok(set)
    }

    /// The RGDs, as given.
    pub fn rgds(&self) -> &[&'a ResourceGraphDefinition] {
        &self.rgds
    }

    /// The RGD whose instances are `api_version` `kind`.
    pub fn defining(&self, api_version: &str, kind: &str) -> Option<&'a ResourceGraphDefinition> {
        self.by_kind
            .get(&(api_version.to_string(), kind.to_string()))
            .map(|i| self.rgds[*i])
    }

    /// The RGD `instance` is an instance of, by its apiVersion and kind;
    /// an instance that names neither (just a spec) goes to the one RGD
    /// no other RGD uses, when there is exactly one.
    pub fn for_instance(
        &self,
        instance: &Value,
    ) -> Result<&'a ResourceGraphDefinition, ChainError> {
        let given = || {
            self.rgds
                .iter()
                .map(|r| {
                    let (av, k) = instance_kind(r);
                    format!("{} ({av} {k})", r.name())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let av = instance.get("apiVersion").and_then(Value::as_str);
        let kind = instance.get("kind").and_then(Value::as_str);
        match (av, kind) {
            (Some(av), Some(kind)) => {
                self.defining(av, kind)
                    .ok_or_else(|| ChainError::NoGraphFor {
                        api_version: av.into(),
                        kind: kind.into(),
                        given: given(),
                    })
            }
            _ => {
                let tops: Vec<_> = self
                    .rgds
                    .iter()
                    .filter(|r| {
                        !self
                            .rgds
                            .iter()
                            .any(|o| self.uses(o).iter().any(|u| u.name() == r.name()))
                    })
                    .collect();
                match tops.as_slice() {
                    [one] => Ok(one),
                    _ => Err(ChainError::NoGraphFor {
                        api_version: av.unwrap_or("(none)").into(),
                        kind: kind.unwrap_or("(none)").into(),
                        given: given(),
                    }),
                }
            }
        }
    }

    /// The RGDs whose instances `rgd`'s resources create (directly).
    pub fn uses(&self, rgd: &ResourceGraphDefinition) -> Vec<&'a ResourceGraphDefinition> {
        let mut out: Vec<&'a ResourceGraphDefinition> = Vec::new();
        for r in &rgd.spec.resources {
            if r.external_ref.is_some() {
                continue;
            }
            if let (Some(av), Some(k)) = (r.api_version(), r.kind()) {
                if let Some(inner) = self.defining(av, k) {
                    if !out.iter().any(|o| o.name() == inner.name()) {
                        out.push(inner);
                    }
                }
            }
        }
        out
    }

    /// Every RGD `rgd` needs (those whose instances it creates, and theirs),
    /// in the order they must be applied: each after those it needs.
    /// `rgd` itself is not in it.
    pub fn needed_by(
        &self,
        rgd: &ResourceGraphDefinition,
    ) -> Result<Vec<&'a ResourceGraphDefinition>, ChainError> {
        let mut out = Vec::new();
        let mut path = vec![rgd.name().to_string()];
        self.visit(rgd, &mut path, &mut out)?;
        Ok(out)
    }

    fn visit(
        &self,
        rgd: &ResourceGraphDefinition,
        path: &mut Vec<String>,
        out: &mut Vec<&'a ResourceGraphDefinition>,
    ) -> Result<(), ChainError> {
        for inner in self.uses(rgd) {
            if path.iter().any(|p| p == inner.name()) {
                path.push(inner.name().to_string());
                return Err(ChainError::Cycle(path.join(" -> ")));
            }
            if out.iter().any(|o| o.name() == inner.name()) {
                continue;
            }
            path.push(inner.name().to_string());
            self.visit(inner, path, out)?;
            path.pop();
            out.push(inner);
        }
        Ok(())
    }

    /// The API a cluster serves once every RGD of the set is Active.
    pub fn api(&self) -> &KubernetesApi {
        self.api.as_ref().unwrap_or(KubernetesApi::embedded())
    }

    /// Validates `rgd` as KRO would once the RGDs it uses are Active: a
    /// resource that is another RGD's instance is checked against that
    /// RGD's instance schema (unknown fields, types, expressions).
    pub fn validate(&self, rgd: &ResourceGraphDefinition) -> Validation {
        validate_with(rgd, self.api())
    }

    /// Plans `rgd` for `raw`, and each inner instance it creates with the
    /// inner RGD (as [`PlannedResource::expanded`](crate::plan::PlannedResource::expanded)).
    /// With `assume_ready`, an inner instance's status is the status its
    /// plan computes, as KRO reports it, and the outer graph's expressions
    /// read it.
    pub fn plan(
        &self,
        rgd: &ResourceGraphDefinition,
        raw: &Value,
        opts: &PlanOptions,
    ) -> Result<Plan, ChainError> {
        let planner = Planner::from_validation(rgd, self.validate(rgd))?;
        let mut opts = opts.clone();
        // An inner instance's status feeds the outer expressions that read
        // it; each round may resolve more inner instances.
        for _ in 0..=rgd.spec.resources.len() {
            let mut plan = planner.plan(raw, &opts)?;
            let mut learned = false;
            for r in plan.resources.iter_mut() {
                if r.action != Action::Apply {
                    continue;
                }
                let mut expanded = Vec::new();
                for o in &r.objects {
                    let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                    let k = o.get("kind").and_then(Value::as_str).unwrap_or("");
                    let Some(inner) = self.defining(av, k) else {
                        continue;
                    };
                    // As KRO's API server would, give the inner instance
                    // a uid of its own (its plan's stand-in is seeded by
                    // namespace and name, which it shares with the outer).
                    let mut o = o.clone();
                    if opts.assume_ready && o.pointer("/metadata/uid").is_none() {
                        let seed = format!(
                            "{av}/{k}/{}/{}",
                            kroxide_model::meta_str(&o, "namespace").unwrap_or(&opts.namespace),
                            kroxide_model::meta_str(&o, "name").unwrap_or("")
                        );
                        o["metadata"]["uid"] =
                            serde_json::json!(crate::readiness::synthetic_uid(&seed));
                    }
                    let o = &o;
                    let inner_opts = PlanOptions {
                        namespace: kroxide_model::meta_str(o, "namespace")
                            .unwrap_or(&opts.namespace)
                            .to_string(),
                        assume_ready: opts.assume_ready,
                        observed: Default::default(),
                    };
                    let p = self
                        .plan(inner, o, &inner_opts)
                        .map_err(|e| ChainError::Inner {
                            outer: rgd.name().to_string(),
                            resource: r.id.clone(),
                            kind: k.to_string(),
                            inner: inner.name().to_string(),
                            source: Box::new(e),
                        })?;
                    expanded.push(p);
                }
                if expanded.is_empty() {
                    continue;
                }
                if opts.assume_ready && !opts.observed.has(&r.id) {
                    let live: Vec<Value> = r
                        .objects
                        .iter()
                        .zip(&expanded)
                        .map(|(o, p)| {
                            let mut o = o.clone();
                            o["status"] = p.status.clone();
                            o
                        })
                        .collect();
                    opts.observed.replace(&r.id, live);
                    learned = true;
                }
                r.expanded = expanded;
            }
            if !learned {
                return Ok(plan);
            }
        }
        Err(ChainError::Cycle(format!(
            "the inner instances of `{}` never settle",
            rgd.name()
        )))
    }
}
