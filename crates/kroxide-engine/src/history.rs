//! Revision history of an instance, and rollback to a revision.
//!
//! Like Helm's release history: every deploy records a revision in the
//! instance's inventory (the spec it deployed, the digest of the graph,
//! when, by whom, and whether it succeeded), the last [`KEPT_REVISIONS`]
//! of them. The graph itself is kept too, zlib-compressed and once per
//! distinct digest, so that `rollback` can deploy a revision's graph even
//! after the graph file changed. When the inventory would outgrow a
//! Secret, the oldest revisions' graphs are dropped first (their specs
//! stay listed; rolling back to them needs the graph file).
//!
//! History is read from the inventory alone: no process that deployed, no
//! instance file. What a user sees of a revision is never a spec value
//! (specs may hold values bound for Secrets): the paths that changed.

use crate::inventory::{self, Inventory};
use crate::{DeployError, DeployOptions, DeployReport, DirectEngine};
use base64::Engine as _;
use kroxide_model::ResourceGraphDefinition;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// How many revisions an inventory keeps (as Helm's `--history-max` 10).
pub const KEPT_REVISIONS: usize = 10;

/// How a deploy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Everything applied and ready.
    Deployed,
    /// The deploy wrote something and then failed.
    Failed,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Deployed => "deployed",
            Outcome::Failed => "failed",
        })
    }
}

/// One deploy of an instance, as the inventory keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// 1, 2, 3...: one more than the newest before it.
    pub revision: u64,
    /// When the deploy ended, in seconds since the Unix epoch.
    pub deployed_at: u64,
    /// Who deployed it: the user the API server authenticated (else the
    /// kubeconfig's user, else `unknown`).
    pub user: String,
    /// How the deploy ended.
    pub outcome: Outcome,
    /// Why: `deploy`, `rollback to 3`, or the caller's [`DeployOptions::change_cause`].
    pub description: String,
    /// SHA-256 of the graph (the RGD as JSON) it deployed.
    pub graph_digest: String,
    /// The instance spec it deployed.
    pub spec: Value,
}

/// A revision as `history` shows it: no spec values, the paths that changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Its number (see [`Revision::revision`]).
    pub revision: u64,
    /// When the deploy ended, in seconds since the Unix epoch.
    pub deployed_at: u64,
    /// Who deployed it.
    pub user: String,
    /// How the deploy ended.
    pub outcome: Outcome,
    /// Why (see [`Revision::description`]).
    pub description: String,
    /// The first 12 hex digits of the graph's digest.
    pub graph: String,
    /// Whether the graph differs from the revision before.
    pub graph_changed: bool,
    /// Spec paths whose value differs from the revision before, sorted (none for the oldest kept).
    pub spec_changes: Vec<String>,
    /// Whether `rollback` can use this revision's own graph (else it needs the graph file).
    pub graph_kept: bool,
}

/// The SHA-256 digest (hex) of a graph.
pub fn graph_digest(rgd: &ResourceGraphDefinition) -> String {
    let json = serde_json::to_vec(rgd).unwrap_or_default();
    hex(&Sha256::digest(&json))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Inventory {
    /// Records a deploy of `rgd` with `spec` as the newest revision, keeps
    /// the last [`KEPT_REVISIONS`], and the graphs they deployed.
    pub fn record(
        &mut self,
        rgd: &ResourceGraphDefinition,
        spec: &Value,
        user: &str,
        outcome: Outcome,
        description: &str,
    ) {
        let digest = graph_digest(rgd);
        if !self.graphs.contains_key(&digest) {
            let json = serde_json::to_vec(rgd).unwrap_or_default();
            let packed = miniz_oxide::deflate::compress_to_vec_zlib(&json, 6);
            self.graphs.insert(
                digest.clone(),
                base64::engine::general_purpose::STANDARD.encode(packed),
            );
        }
        let revision = self.revisions.last().map_or(1, |r| r.revision + 1);
        self.revisions.push(Revision {
            revision,
            deployed_at: inventory::now(),
            user: user.to_string(),
            outcome,
            description: description.to_string(),
            graph_digest: digest,
            spec: spec.clone(),
        });
        let extra = self.revisions.len().saturating_sub(KEPT_REVISIONS);
        self.revisions.drain(..extra);
        let used: BTreeSet<&String> = self.revisions.iter().map(|r| &r.graph_digest).collect();
        self.graphs.retain(|d, _| used.contains(d));
    }

    /// Drops the graph of the oldest revision that still has one (to fit a
    /// Secret). False when no graph is left to drop.
    pub(crate) fn drop_oldest_graph(&mut self) -> bool {
        let oldest = self
            .revisions
            .iter()
            .map(|r| &r.graph_digest)
            .find(|d| self.graphs.contains_key(*d))
            .cloned();
        match oldest {
            Some(d) => self.graphs.remove(&d).is_some(),
            None => false,
        }
    }

    /// The graph revision `n` deployed, when it is still kept.
    pub fn revision_graph(&self, n: u64) -> Option<ResourceGraphDefinition> {
        let r = self.revisions.iter().find(|r| r.revision == n)?;
        let packed = base64::engine::general_purpose::STANDARD
            .decode(self.graphs.get(&r.graph_digest)?)
            .ok()?;
        let json =
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&packed, 256 << 20).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// The revisions as `history` shows them, oldest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        let mut out = Vec::with_capacity(self.revisions.len());
        let mut prev: Option<&Revision> = None;
        for r in &self.revisions {
            let mut spec_changes = Vec::new();
            if let Some(p) = prev {
                changed_paths(&p.spec, &r.spec, "spec", &mut spec_changes);
                spec_changes.sort();
            }
            out.push(HistoryEntry {
                revision: r.revision,
                deployed_at: r.deployed_at,
                user: r.user.clone(),
                outcome: r.outcome,
                description: r.description.clone(),
                graph: r.graph_digest.chars().take(12).collect(),
                graph_changed: prev.is_some_and(|p| p.graph_digest != r.graph_digest),
                spec_changes,
                graph_kept: self.graphs.contains_key(&r.graph_digest),
            });
            prev = Some(r);
        }
        out
    }
}

/// The paths under `at` where `a` and `b` differ (maps key by key; lists
/// and scalars as a whole).
fn changed_paths(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                changed_paths(va, vb, &format!("{at}.{k}"), out);
            }
        }
        (Value::Null, Value::Object(y)) => {
            for (k, v) in y {
                changed_paths(&Value::Null, v, &format!("{at}.{k}"), out);
            }
        }
        (Value::Object(x), Value::Null) => {
            for (k, v) in x {
                changed_paths(v, &Value::Null, &format!("{at}.{k}"), out);
            }
        }
        _ if a != b => out.push(at.to_string()),
        _ => {}
    }
}

impl DirectEngine {
    /// The revisions of `instance` of `graph`, oldest first (empty: never deployed).
    pub async fn history(
        &self,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<Vec<HistoryEntry>, DeployError> {
        let inv = self.store(graph, instance, opts).read().await?;
        Ok(inv.map(|i| i.history()).unwrap_or_default())
    }

    /// Revision `n` of `instance` of `graph` and its graph when still kept
    /// (None: no such revision). The spec may hold Secret values: callers
    /// use it to mask them.
    pub async fn revision(
        &self,
        graph: &str,
        instance: &str,
        n: u64,
        opts: &DeployOptions,
    ) -> Result<Option<(Revision, Option<ResourceGraphDefinition>)>, DeployError> {
        let inv = self.store(graph, instance, opts).read().await?;
        Ok(inv.and_then(|i| {
            let rev = i.revisions.iter().find(|r| r.revision == n)?.clone();
            Some((rev, i.revision_graph(n)))
        }))
    }

    /// Deploys revision `to` of `instance` again: its spec and its graph
    /// (or `rgd`, the graph file's, when the revision's own graph was not
    /// kept, or with `use_current_graph`). Recorded as a new revision
    /// described `rollback to N`.
    pub async fn rollback_to(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &str,
        to: u64,
        use_current_graph: bool,
        opts: &DeployOptions,
    ) -> Result<DeployReport, DeployError> {
        let graph = rgd.name();
        let Some(inv) = self.store(graph, instance, opts).read().await? else {
            return Err(DeployError::NoRevision {
                instance: instance.to_string(),
                revision: to,
                why: "the instance was never deployed (no inventory)".into(),
            });
        };
        let Some(rev) = inv.revisions.iter().find(|r| r.revision == to) else {
            let kept: Vec<String> = inv
                .revisions
                .iter()
                .map(|r| r.revision.to_string())
                .collect();
            return Err(DeployError::NoRevision {
                instance: instance.to_string(),
                revision: to,
                why: if kept.is_empty() {
                    "it has no recorded revisions (deployed by an older kroxide)".into()
                } else {
                    format!("the revisions kept are {}", kept.join(", "))
                },
            });
        };
        let own = if use_current_graph {
            None
        } else {
            inv.revision_graph(to)
        };
        if own.is_none() && !use_current_graph && graph_digest(rgd) != rev.graph_digest {
            return Err(DeployError::NoRevision {
                instance: instance.to_string(),
                revision: to,
                why: "its graph was not kept (the inventory had to fit a Secret) and the graph file differs from it; pass --use-current-graph to roll back the spec only".into(),
            });
        }
        let target = own.as_ref().unwrap_or(rgd);
        if target.name() != graph {
            return Err(DeployError::NoRevision {
                instance: instance.to_string(),
                revision: to,
                why: format!("its graph is named `{}`, not `{graph}`", target.name()),
            });
        }
        let mut object = json!({
            "apiVersion": inv.instance.get("apiVersion"),
            "kind": inv.instance.get("kind"),
            "metadata": {"name": instance, "namespace": opts.namespace},
            "spec": rev.spec,
        });
        if let Some(uid) = inv.instance.pointer("/metadata/uid") {
            object["metadata"]["uid"] = uid.clone();
        }
        let opts = DeployOptions {
            change_cause: Some(format!("rollback to {to}")),
            ..opts.clone()
        };
        self.deploy(target, &object, &opts).await
    }

    /// The user the API server sees this client as (SelfSubjectReview, as
    /// `kubectl auth whoami`); else [`DeployOptions::kubeconfig_user`]; else
    /// `unknown`.
    pub(crate) async fn whoami(&self, opts: &DeployOptions) -> String {
        if let Some(u) = &opts.user {
            return u.clone();
        }
        let ar = kube::discovery::ApiResource {
            group: "authentication.k8s.io".into(),
            version: "v1".into(),
            api_version: "authentication.k8s.io/v1".into(),
            kind: "SelfSubjectReview".into(),
            plural: "selfsubjectreviews".into(),
        };
        let api: kube::Api<kube::core::DynamicObject> =
            kube::Api::all_with(self.client.clone(), &ar);
        let review = kube::core::DynamicObject::new("", &ar);
        let asked = tokio::time::timeout(
            opts.request_timeout,
            api.create(&kube::api::PostParams::default(), &review),
        )
        .await;
        let reviewed = match asked {
            Ok(Ok(r)) => r
                .data
                .pointer("/status/userInfo/username")
                .and_then(Value::as_str)
                .map(String::from),
            _ => None,
        };
        // A cluster that forbids or lacks reviews (before 1.28): the
        // kubeconfig's user, as the caller named it.
        reviewed
            .or_else(|| opts.kubeconfig_user.clone())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// A revision of a graph as KRO keeps it (a GraphRevision, KRO v0.9+):
/// KRO records each version of the RGD, not the instances' specs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KroRevision {
    pub revision: u64,
    /// The GraphRevision's creationTimestamp.
    pub created: String,
    /// KRO's hash of the graph (label `kro.run/graph-revision-hash`).
    pub hash: String,
    /// Whether it is the RGD's `status.lastIssuedRevision`.
    pub current: bool,
}

fn graph_revision_resource() -> kube::discovery::ApiResource {
    kube::discovery::ApiResource {
        group: "internal.kro.run".into(),
        version: "v1alpha1".into(),
        api_version: "internal.kro.run/v1alpha1".into(),
        kind: "GraphRevision".into(),
        plural: "graphrevisions".into(),
    }
}

/// A GraphRevision's `spec.revision`.
fn revision_number(o: &kube::core::DynamicObject) -> Option<u64> {
    o.data.pointer("/spec/revision").and_then(Value::as_u64)
}

async fn graph_revisions(
    client: &kube::Client,
    graph: &str,
) -> Result<Vec<kube::core::DynamicObject>, crate::kro::KroError> {
    let api: kube::Api<kube::core::DynamicObject> =
        kube::Api::all_with(client.clone(), &graph_revision_resource());
    let lp = kube::api::ListParams::default()
        .labels(&format!("kro.run/resource-graph-definition-name={graph}"));
    match crate::retry::retry(std::time::Duration::from_secs(30), || api.list(&lp)).await {
        Ok(l) => {
            let mut items = l.items;
            items.sort_by_key(revision_number);
            Ok(items)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Err(crate::kro::KroError::Api {
            what: "listing GraphRevisions (KRO before v0.9 keeps none)".into(),
            source: kube::Error::Api(s),
        }),
        Err(source) => Err(crate::kro::KroError::Api {
            what: "listing GraphRevisions".into(),
            source,
        }),
    }
}

/// KRO mode's history of `graph`: the GraphRevisions KRO keeps, oldest first.
pub async fn kro_history(
    client: &kube::Client,
    graph: &str,
) -> Result<Vec<KroRevision>, crate::kro::KroError> {
    let current = crate::kro::last_issued_revision(client, graph).await?;
    Ok(graph_revisions(client, graph)
        .await?
        .iter()
        .map(|o| {
            let revision = revision_number(o).unwrap_or(0);
            KroRevision {
                revision,
                created: o
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default(),
                hash: o
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("kro.run/graph-revision-hash"))
                    .cloned()
                    .unwrap_or_default(),
                current: current == Some(revision),
            }
        })
        .collect())
}

/// KRO mode's rollback: the graph of GraphRevision `to` is applied as the
/// RGD again (KRO issues a new revision of it), and the instance, with its
/// live spec, waited on until healthy. KRO keeps no history of instance
/// specs, so the spec stays what it is.
pub async fn kro_rollback(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    instance: &str,
    to: u64,
    opts: &crate::kro::KroOptions,
) -> Result<Value, crate::kro::KroError> {
    let revisions = graph_revisions(client, rgd.name()).await?;
    let Some(rev) = revisions.iter().find(|o| revision_number(o) == Some(to)) else {
        let kept: Vec<String> = revisions
            .iter()
            .filter_map(revision_number)
            .map(|n| n.to_string())
            .collect();
        return Err(DeployError::NoRevision {
            instance: instance.to_string(),
            revision: to,
            why: format!(
                "KRO keeps no GraphRevision {to} of `{}` (it keeps: {})",
                rgd.name(),
                if kept.is_empty() {
                    "none".into()
                } else {
                    kept.join(", ")
                }
            ),
        }
        .into());
    };
    let snapshot = rev
        .data
        .pointer("/spec/snapshot/spec")
        .cloned()
        .unwrap_or_default();
    let doc = json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "ResourceGraphDefinition",
        "metadata": {"name": rgd.name()},
        "spec": snapshot,
    });
    let old: ResourceGraphDefinition =
        serde_json::from_value(doc).map_err(|e| DeployError::NoRevision {
            instance: instance.to_string(),
            revision: to,
            why: format!("its snapshot is not a graph kroxide can read: {e}"),
        })?;
    let live = crate::kro::instance(client, rgd, instance, &opts.namespace).await?;
    let object = json!({
        "apiVersion": live.get("apiVersion"),
        "kind": live.get("kind"),
        "metadata": {"name": instance, "namespace": opts.namespace},
        "spec": live.get("spec"),
    });
    crate::kro::deploy(client, &old, &object, opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgd(image: &str) -> ResourceGraphDefinition {
        let yaml = format!(
            "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {{name: app}}\nspec:\n  schema: {{apiVersion: v1alpha1, kind: App, spec: {{replicas: integer}}}}\n  resources:\n  - id: cm\n    template: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: x}}, data: {{image: {image}}}}}\n"
        );
        kroxide_model::load_str("t.yaml", &yaml)
            .unwrap()
            .remove(0)
            .rgd
    }

    #[test]
    fn keeps_the_last_ten_revisions_and_only_their_graphs() {
        let mut inv = Inventory::default();
        for i in 0..12 {
            let g = rgd(&format!("v{}", i / 3));
            inv.record(
                &g,
                &json!({"replicas": i}),
                "admin",
                Outcome::Deployed,
                "deploy",
            );
        }
        let nums: Vec<u64> = inv.revisions.iter().map(|r| r.revision).collect();
        assert_eq!(nums, (3..=12).collect::<Vec<_>>());
        // Revisions 3..12 deployed graphs v0 (3), v1, v2, v3: four distinct.
        assert_eq!(inv.graphs.len(), 4);
        assert_eq!(inv.revision_graph(3).unwrap(), rgd("v0"));
        assert_eq!(inv.revision_graph(12).unwrap(), rgd("v3"));
        assert!(inv.revision_graph(2).is_none());
    }

    #[test]
    fn history_names_changed_paths_and_graph_changes_not_values() {
        let mut inv = Inventory::default();
        let spec1 = json!({"replicas": 1, "db": {"password": "hunter2", "host": "a"}});
        let spec2 = json!({"replicas": 2, "db": {"password": "s3cret", "host": "a"}});
        inv.record(&rgd("v1"), &spec1, "admin", Outcome::Deployed, "deploy");
        inv.record(&rgd("v1"), &spec2, "admin", Outcome::Failed, "deploy");
        inv.record(
            &rgd("v2"),
            &spec2,
            "bob",
            Outcome::Deployed,
            "rollback to 1",
        );
        let h = inv.history();
        assert!(h[0].spec_changes.is_empty());
        assert_eq!(h[1].spec_changes, ["spec.db.password", "spec.replicas"]);
        assert!(!h[1].graph_changed && h[2].graph_changed);
        assert!(h[2].spec_changes.is_empty());
        assert_eq!(
            (h[2].user.as_str(), h[2].outcome),
            ("bob", Outcome::Deployed)
        );
        let shown = serde_json::to_string(&h).unwrap();
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn dropping_graphs_goes_oldest_first_and_history_says_so() {
        let mut inv = Inventory::default();
        inv.record(&rgd("a"), &json!({}), "u", Outcome::Deployed, "deploy");
        inv.record(&rgd("b"), &json!({}), "u", Outcome::Deployed, "deploy");
        assert!(inv.drop_oldest_graph());
        let h = inv.history();
        assert!(!h[0].graph_kept && h[1].graph_kept);
        assert!(inv.drop_oldest_graph());
        assert!(!inv.drop_oldest_graph());
    }

    #[test]
    fn an_inventory_with_revisions_round_trips_its_encoding() {
        let mut inv = Inventory::default();
        inv.record(
            &rgd("a"),
            &json!({"replicas": 3}),
            "u",
            Outcome::Deployed,
            "deploy",
        );
        let back = inventory::decode(&inventory::encode(&inv).unwrap()).unwrap();
        assert_eq!(back.revisions, inv.revisions);
        assert_eq!(back.revision_graph(1).unwrap(), rgd("a"));
    }
}
