//! The direct engine: a client-side KRO.
//!
//! It deploys a resource graph to any cluster without KRO installed, with
//! KRO's semantics: everything is validated first (the graph, the instance,
//! ownership of every object it would touch, and a server-side dry run of
//! every object that can be resolved up front), so a bad input writes
//! nothing; then resources are server-side applied (field manager `kroxide`)
//! wave by wave, each wave's objects concurrently, and a wave starts only when
//! the previous one is ready (readyWhen, or the kind's readiness), observed
//! through watches; last, objects no longer in the graph are pruned and the
//! status expressions are evaluated on the live objects.
//!
//! Every applied object carries labels naming the graph and the instance, and
//! each instance has an [inventory] listing them, so `status`,
//! `delete` and pruning work from another process. Objects kroxide did not
//! create, or that belong to another instance, are never changed or deleted
//! unless the caller asks ([`DeployOptions::adopt`]).
//!
//! ```no_run
//! # async fn run(rgd: kroxide_model::ResourceGraphDefinition) -> Result<(), Box<dyn std::error::Error>> {
//! use kroxide_engine::{DeployOptions, DirectEngine};
//! let engine = DirectEngine::new(kube::Client::try_default().await?);
//! let instance = serde_json::json!({"metadata": {"name": "dev"}, "spec": {"name": "shop"}});
//! let opts = DeployOptions { namespace: "dev".into(), ..DeployOptions::default() };
//! let report = engine.deploy(&rgd, &instance, &opts).await?;
//! println!("{}", report.status());
//! engine.delete(rgd.name(), "dev", &opts).await?;
//! # Ok(()) }
//! ```

mod deploy;
mod drift;
mod error;
mod events;
mod explain;
pub mod history;
pub mod inventory;
pub mod kro;
mod kro_wait;
pub mod nested;
mod observe;
mod order;
pub mod progress;
pub mod requests;
pub mod retry;
mod teardown;
pub mod unchanged;
mod wait;

pub use drift::FieldDrift;
pub use error::DeployError;
pub use events::ObjectEvent;
pub use explain::{kro_explain, ExplainedResource, Explanation, KroVerdict};
pub use history::{HistoryEntry, Outcome, Revision};
pub use inventory::{Inventory, ObjectRef};
pub use observe::{render_diff, ObjectDiff, ResourceStatus, StatusReport};
pub use progress::{Event, Progress, ResourceState};
pub use teardown::{is_retained, retained_resources, DeleteReport};

use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::plan::Plan;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The Namespace type, without a dependency on k8s-openapi.
mod k8s_namespace {
    use kube::core::{ClusterResourceScope, ObjectMeta, Resource};
    use std::borrow::Cow;

    #[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
    pub struct Namespace {
        pub metadata: ObjectMeta,
    }

    impl Resource for Namespace {
        type DynamicType = ();
        type Scope = ClusterResourceScope;
        fn kind(_: &()) -> Cow<'_, str> {
            "Namespace".into()
        }
        fn group(_: &()) -> Cow<'_, str> {
            "".into()
        }
        fn version(_: &()) -> Cow<'_, str> {
            "v1".into()
        }
        fn plural(_: &()) -> Cow<'_, str> {
            "namespaces".into()
        }
        fn meta(&self) -> &ObjectMeta {
            &self.metadata
        }
        fn meta_mut(&mut self) -> &mut ObjectMeta {
            &mut self.metadata
        }
    }
}

/// Label: the graph an object belongs to.
pub const GRAPH_LABEL: &str = "kroxide.dev/graph";
/// Label: the instance an object belongs to.
pub const INSTANCE_LABEL: &str = "kroxide.dev/instance";
/// Label: the namespace of the instance an object belongs to (so that a
/// cluster-scoped object tells which of two same-named instances owns it).
pub const NAMESPACE_LABEL: &str = "kroxide.dev/namespace";
/// Label: the resource id inside the graph.
pub const RESOURCE_LABEL: &str = "kroxide.dev/resource";
/// The field manager of every write.
pub const FIELD_MANAGER: &str = "kroxide";
/// Every label kroxide sets on the objects it applies (kroxide sets no
/// annotation on them): what orphaning an object removes.
pub const OWNERSHIP_LABELS: [&str; 4] =
    [GRAPH_LABEL, INSTANCE_LABEL, NAMESPACE_LABEL, RESOURCE_LABEL];
pub use kroxide_model::{
    DELETE_POLICIES, DELETE_POLICY_ANNOTATION, HELM_RESOURCE_POLICY_ANNOTATION,
};

/// How to deploy (and delete, read status, diff).
#[derive(Clone, Debug)]
pub struct DeployOptions {
    /// Namespace of the instance (and of its namespaced children).
    pub namespace: String,
    /// How long one resource may take to become ready (or to go away, on delete).
    pub resource_timeout: Duration,
    /// How long the whole deploy may take (None: only per-resource timeouts).
    pub overall_timeout: Option<Duration>,
    /// How long one API request may take before it is retried.
    pub request_timeout: Duration,
    /// Take over fields owned by other managers.
    pub force_conflicts: bool,
    /// Create the namespace when it does not exist (like Helm's flag).
    pub create_namespace: bool,
    /// Take over objects that exist but were not created for this instance.
    pub adopt: bool,
    /// Delete objects of an earlier deploy that are no longer in the graph.
    pub prune: bool,
    /// On failure, delete what this run created and restore what it changed.
    pub rollback_on_failure: bool,
    /// Proceed even if another run's lock is set (it died).
    pub break_lock: bool,
    /// Where progress events go.
    pub progress: Progress,
    /// Who deploys, for the revision history (None: the user the API server
    /// authenticates, as `kubectl auth whoami`).
    pub user: Option<String>,
    /// Who deploys when the API server cannot say (no SelfSubjectReview):
    /// the kubeconfig context's user, for the revision history.
    pub kubeconfig_user: Option<String>,
    /// Why, for the revision history (None: `deploy`), like kubectl's
    /// `kubernetes.io/change-cause`.
    pub change_cause: Option<String>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            namespace: "default".into(),
            resource_timeout: Duration::from_secs(300),
            overall_timeout: None,
            request_timeout: Duration::from_secs(30),
            force_conflicts: false,
            create_namespace: false,
            adopt: false,
            prune: true,
            rollback_on_failure: false,
            break_lock: false,
            progress: Progress::none(),
            user: None,
            kubeconfig_user: None,
            change_cause: None,
        }
    }
}

impl DeployOptions {
    /// How every object is server-side applied: field manager `kroxide`,
    /// `force` when asked, and `fieldValidation=Strict`, so that a field the
    /// server does not know (a misspelt one) is refused instead of silently
    /// dropped, as the API server does by default.
    pub fn apply_params(&self) -> kube::api::PatchParams {
        let mut pp = kube::api::PatchParams::apply(FIELD_MANAGER)
            .validation(kube::api::ValidationDirective::Strict);
        pp.force = self.force_conflicts;
        pp
    }
}

/// What a deploy did.
#[derive(Clone, Debug)]
pub struct DeployReport {
    /// Resource ids in the order their objects were applied, wave by wave.
    pub waves: Vec<Vec<String>>,
    /// Live objects by resource id.
    pub live: BTreeMap<String, Vec<Value>>,
    /// Objects of an earlier deploy that were deleted because the graph no longer has them.
    pub pruned: Vec<ObjectRef>,
    /// Objects the graph no longer has that were kept because their delete
    /// policy is `retain` (orphaned: kroxide's labels removed).
    pub retained: Vec<ObjectRef>,
    /// Fields of its objects that another field manager had changed and
    /// that this deploy set back to what the graph says.
    pub taken_back: Vec<FieldDrift>,
    /// The final plan (with the status computed on the live objects).
    pub plan: Plan,
}

impl DeployReport {
    /// The status KRO would report.
    pub fn status(&self) -> &Value {
        &self.plan.status
    }

    /// The status with every Secret value masked: those of the live
    /// Secrets, and the instance's values that `rgd` feeds to Secrets (a
    /// status field may repeat either). What to show a user.
    pub fn masked_status(&self, rgd: &ResourceGraphDefinition) -> Value {
        let mut status = self.plan.status.clone();
        mask_status(
            &mut status,
            rgd,
            [&self.plan.instance],
            self.live.values().flatten(),
        );
        status
    }
}

/// Masks in `status` every Secret value it may repeat: those of the `live`
/// Secrets, and the values of `instances` that `rgd` feeds to Secrets.
pub fn mask_status<'a>(
    status: &mut Value,
    rgd: &ResourceGraphDefinition,
    instances: impl IntoIterator<Item = &'a Value>,
    live: impl IntoIterator<Item = &'a Value>,
) {
    let mut redactor = kroxide_semantics::redact::Redactor::default();
    for i in instances {
        redactor.learn_secret_inputs(rgd, i);
    }
    redactor.learn(live);
    redactor.redact_value(status);
}

/// The resources of `rgd` that read an existing object (externalRef), by id.
pub(crate) fn external_refs(
    rgd: &ResourceGraphDefinition,
) -> Vec<(&str, &kroxide_model::ExternalRef)> {
    rgd.spec
        .resources
        .iter()
        .filter_map(|r| Some((r.id.as_str(), r.external_ref.as_ref()?)))
        .collect()
}

/// A cluster to deploy to.
pub struct DirectEngine {
    client: kube::Client,
    /// Who this engine's runs are, in the instance lock.
    holder: String,
}

/// A kind the cluster serves.
#[derive(Clone)]
pub(crate) struct Kind {
    resource: ApiResource,
    caps: ApiCapabilities,
}

impl DirectEngine {
    pub fn new(client: kube::Client) -> Self {
        DirectEngine {
            client,
            holder: inventory::holder_id(),
        }
    }

    /// The id this engine writes into an instance's lock.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub(crate) fn api(&self, k: &Kind, ns: Option<&str>) -> Api<DynamicObject> {
        match (k.caps.scope.clone(), ns) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, &k.resource)
            }
            (Scope::Namespaced, None) => {
                Api::default_namespaced_with(self.client.clone(), &k.resource)
            }
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &k.resource),
        }
    }

    /// Discovers the kinds of `api_versions`: see [`discover`].
    pub(crate) async fn discover<'a>(
        &self,
        opts: &DeployOptions,
        api_versions: impl IntoIterator<Item = &'a str>,
    ) -> Result<Served, DeployError> {
        discover(&self.client, opts.request_timeout, api_versions).await
    }

    /// Adds to `served` the kinds of those of `api_versions` it has not
    /// asked about: the kinds of objects an earlier run left that the graph
    /// no longer has, so that prune (and diff, which shows it) finds them.
    pub(crate) async fn discover_more<'a>(
        &self,
        served: &mut Served,
        opts: &DeployOptions,
        api_versions: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), DeployError> {
        let more: BTreeSet<&str> = api_versions
            .into_iter()
            .filter(|av| !served.0.contains_key(*av))
            .collect();
        if !more.is_empty() {
            served.0.extend(self.discover(opts, more).await?.0);
        }
        Ok(())
    }

    /// The inventory of `instance` of `graph` in the target namespace.
    pub(crate) fn store(
        &self,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
    ) -> inventory::Store {
        inventory::Store::new(
            &self.client,
            &opts.namespace,
            graph,
            instance,
            opts.request_timeout,
            &self.holder,
        )
    }

    /// The API of Namespaces.
    pub(crate) fn namespaces(&self) -> Api<k8s_namespace::Namespace> {
        Api::all(self.client.clone())
    }

    /// Whether the target namespace exists.
    pub(crate) async fn namespace_exists(&self, opts: &DeployOptions) -> Result<bool, DeployError> {
        let namespaces = self.namespaces();
        retry::retry(opts.request_timeout, || namespaces.get_opt(&opts.namespace))
            .await
            .map(|n| n.is_some())
            .map_err(DeployError::Discovery)
    }

    /// Releases this engine's lock on an instance, if it holds it (after an
    /// interrupted run). The inventory keeps every object the run may have
    /// written, so a later run or `delete` still finds them.
    pub async fn release_lock(
        &self,
        graph: &str,
        instance: &str,
        opts: &DeployOptions,
    ) -> Result<(), DeployError> {
        let store = self.store(graph, instance, opts);
        if let Some(mut inv) = store.read().await? {
            if inv.lock.as_ref().is_some_and(|l| l.holder == self.holder) {
                inv.lock = None;
                store.write(&mut inv).await?;
            }
        }
        Ok(())
    }
}

/// Discovers the kinds of `api_versions` (`apps/v1`, `v1`): one request per
/// version, all at once (`/apis/apps/v1`, `/api/v1`). kube's
/// `Discovery::run` first lists the groups, then asks every group in turn,
/// one round trip after another; a run knows the versions it needs. A
/// version the cluster does not serve resolves no kinds.
pub(crate) async fn discover<'a>(
    client: &kube::Client,
    request_timeout: Duration,
    api_versions: impl IntoIterator<Item = &'a str>,
) -> Result<Served, DeployError> {
    let versions: BTreeSet<&str> = api_versions.into_iter().collect();
    let timeout = request_timeout.max(Duration::from_secs(60));
    let asks = versions.into_iter().map(|av| async move {
        let (group, version) = av.rsplit_once('/').unwrap_or(("", av));
        let gv = GroupVersion::gv(group, version);
        match retry::retry(timeout, || kube::discovery::pinned_group(client, &gv)).await {
            Ok(g) => Ok(Some((av.to_string(), g.versioned_resources(version)))),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(DeployError::Discovery(e)),
        }
    });
    let mut served = Served::default();
    for found in deploy::bounded(asks).await {
        if let Some((av, kinds)) = found? {
            served.0.insert(av, kinds);
        }
    }
    Ok(served)
}

/// The kinds a cluster serves in the API versions a run asked about (see
/// [`discover`]), by API version.
#[derive(Default)]
pub(crate) struct Served(BTreeMap<String, Vec<(ApiResource, ApiCapabilities)>>);

impl Served {
    /// The kind `api_version`/`kind` as the cluster serves it.
    pub(crate) fn resolve(&self, api_version: &str, kind: &str) -> Option<Kind> {
        self.0
            .get(api_version)?
            .iter()
            .find(|(r, _)| r.kind == kind)
            .map(|(resource, caps)| Kind {
                resource: resource.clone(),
                caps: caps.clone(),
            })
    }
}

/// The `apiVersion` of every resource of `rgd`.
pub(crate) fn api_versions(
    rgd: &kroxide_model::ResourceGraphDefinition,
) -> impl Iterator<Item = &str> {
    rgd.spec.resources.iter().filter_map(|r| r.api_version())
}

/// The served kind of every resource of `rgd`, by resource id; a kind the
/// cluster does not serve is an error (before anything is written), unless
/// a CRD of the graph itself defines it (it is resolved once that CRD is
/// Established: see [`DirectEngine::resolve_new_kind`]).
pub(crate) fn kinds_of(
    served: &Served,
    rgd: &kroxide_model::ResourceGraphDefinition,
    provided: &order::Provided,
) -> Result<BTreeMap<String, Kind>, DeployError> {
    let mut kinds = BTreeMap::new();
    for r in &rgd.spec.resources {
        let (Some(av), Some(k)) = (r.api_version(), r.kind()) else {
            continue;
        };
        match served.resolve(av, k) {
            Some(kind) => {
                kinds.insert(r.id.clone(), kind);
            }
            None if provided.defines(av, k).is_some() => {}
            None => {
                return Err(DeployError::UnknownKind {
                    id: r.id.clone(),
                    api_version: av.to_string(),
                    kind: k.to_string(),
                })
            }
        }
    }
    Ok(kinds)
}

impl DirectEngine {
    /// The kind of resource `id`, which a CRD applied by an earlier wave
    /// defines: asked again until the API server serves it (discovery can
    /// lag the CRD's Established condition by a moment).
    pub(crate) async fn resolve_new_kind(
        &self,
        rgd: &kroxide_model::ResourceGraphDefinition,
        id: &str,
        served: &mut Served,
        opts: &DeployOptions,
    ) -> Result<Kind, DeployError> {
        let r = rgd.resource(id).expect("resource of the graph");
        let (av, k) = (r.api_version().unwrap_or(""), r.kind().unwrap_or(""));
        let deadline =
            tokio::time::Instant::now() + opts.resource_timeout.min(Duration::from_secs(30));
        loop {
            let fresh = self.discover(opts, [av]).await?;
            served.0.extend(fresh.0);
            if let Some(kind) = served.resolve(av, k) {
                return Ok(kind);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(DeployError::NotReady {
                    id: id.to_string(),
                    seconds: opts.resource_timeout.min(Duration::from_secs(30)).as_secs(),
                    detail: Some(format!(
                        "the cluster does not serve {av} {k}, although the graph's CRD for it is Established"
                    )),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `metadata.name` and `metadata.namespace` of an object.
pub(crate) fn name_ns(o: &Value) -> (String, Option<String>) {
    let name = kroxide_model::meta_str(o, "name").unwrap_or("").to_string();
    let ns = kroxide_model::meta_str(o, "namespace").map(String::from);
    (name, ns)
}

/// The instance that owns `live` by kroxide's labels: (graph, instance,
/// namespace). Objects written before the namespace label: a namespaced
/// one is in its instance's namespace; a cluster-scoped one cannot tell.
fn owner_labels(live: &Value) -> (Option<&str>, Option<&str>, Option<&str>) {
    let label = |k: &str| {
        live.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let owner_ns = label(NAMESPACE_LABEL).or_else(|| kroxide_model::meta_str(live, "namespace"));
    (label(GRAPH_LABEL), label(INSTANCE_LABEL), owner_ns)
}

/// Why `live` may not be changed for instance `instance` of `graph` in
/// `namespace`, if it may not. Two instances of one name in two namespaces
/// are two owners: a cluster-scoped object one of them created is not the
/// other's.
pub(crate) fn not_owned(
    live: &Value,
    graph: &str,
    instance: &str,
    namespace: &str,
) -> Option<String> {
    match owner_labels(live) {
        (Some(g), Some(i), Some(n)) if g == graph && i == instance && n == namespace => None,
        (Some(_), Some(_), _) => Some(format!("it belongs to {}", owner_of(live))),
        _ => Some("it exists and was not created by kroxide (or was orphaned by `delete --orphan` or a retain policy)".into()),
    }
}

/// Who owns `live` as kroxide sees it, for messages: `no kroxide labels`, or
/// `instance `i` of graph `g` in namespace `n``.
pub fn owner_of(live: &Value) -> String {
    match owner_labels(live) {
        (Some(g), Some(i), Some(n)) => format!("instance `{i}` of graph `{g}` in namespace `{n}`"),
        (Some(g), Some(i), None) => {
            format!("instance `{i}` of graph `{g}` in an unknown namespace")
        }
        _ => "no kroxide labels".into(),
    }
}
