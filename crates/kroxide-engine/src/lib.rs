//! The direct engine: a client-side KRO.
//!
//! It deploys a resource graph to any cluster without KRO installed, with
//! KRO's semantics: everything is validated first (the graph, the instance,
//! and a server-side dry run of every object that can be resolved up front),
//! so a bad input writes nothing; then resources are server-side applied
//! (field manager `kroxide`) wave by wave, each wave's objects concurrently,
//! and a wave starts only when the previous one is ready (readyWhen, or the
//! kind's readiness), observed through watches; last, the status expressions
//! are evaluated on the live objects.
//!
//! Every applied object carries labels naming the graph and the instance, so
//! other processes can find what a deploy owns.

pub mod kro;

use futures::future::try_join_all;
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::plan::{is_ready, plan, Action, Observed, Plan, PlanError, PlanOptions};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use serde_json::{json, Value};
use std::collections::BTreeMap;
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
/// Label: the resource id inside the graph.
pub const RESOURCE_LABEL: &str = "kroxide.dev/resource";
/// The field manager of every write.
pub const FIELD_MANAGER: &str = "kroxide";

/// Why a deploy stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The graph or the instance is invalid: nothing was written.
    #[error("{0}")]
    Invalid(#[from] PlanError),
    /// The cluster does not serve a kind the graph uses: nothing was written.
    #[error(
        "the cluster does not serve {api_version} {kind} (resource `{id}`); nothing was applied"
    )]
    UnknownKind {
        id: String,
        api_version: String,
        kind: String,
    },
    /// The server refused an object in the dry run: nothing was written.
    #[error("the server refused resource `{id}` ({kind} {name}) in a dry run: {message}; nothing was applied")]
    DryRun {
        id: String,
        kind: String,
        name: String,
        message: String,
    },
    /// An expression failed while deploying.
    #[error("resource `{id}` failed: {reason}")]
    Failed { id: String, reason: String },
    /// A resource did not become ready in time.
    #[error("resource `{id}` was not ready after {seconds}s{}", .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    NotReady {
        id: String,
        seconds: u64,
        detail: Option<String>,
    },
    /// The cluster answered with an error.
    #[error("resource `{id}`: the API server refused the write: {source}")]
    Api {
        id: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot reach the cluster: {0}")]
    Discovery(#[source] kube::Error),
    /// The target namespace does not exist: nothing was written.
    #[error("namespace `{0}` does not exist; create it, or pass --create-namespace")]
    NoNamespace(String),
}

/// How to deploy.
#[derive(Clone, Debug)]
pub struct DeployOptions {
    /// Namespace of the instance (and of its namespaced children).
    pub namespace: String,
    /// How long one resource may take to become ready.
    pub resource_timeout: Duration,
    /// Take over fields owned by other managers.
    pub force_conflicts: bool,
    /// Create the namespace when it does not exist (like Helm's flag).
    pub create_namespace: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            namespace: "default".into(),
            resource_timeout: Duration::from_secs(300),
            force_conflicts: false,
            create_namespace: false,
        }
    }
}

/// What a deploy did.
#[derive(Clone, Debug)]
pub struct DeployReport {
    /// Resource ids in the order their objects were applied, wave by wave.
    pub waves: Vec<Vec<String>>,
    /// Live objects by resource id.
    pub live: BTreeMap<String, Vec<Value>>,
    /// The final plan (with the status computed on the live objects).
    pub plan: Plan,
}

impl DeployReport {
    /// The status KRO would report.
    pub fn status(&self) -> &Value {
        &self.plan.status
    }
}

/// A cluster to deploy to.
pub struct DirectEngine {
    client: kube::Client,
}

struct Kind {
    resource: ApiResource,
    caps: ApiCapabilities,
}

impl DirectEngine {
    pub fn new(client: kube::Client) -> Self {
        DirectEngine { client }
    }

    fn api(&self, k: &Kind, ns: Option<&str>) -> Api<DynamicObject> {
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

    /// An object ready to apply: labelled, with its name and the API to write it through.
    fn target(
        &self,
        k: &Kind,
        o: &Value,
        id: &str,
        labels: &dyn Fn(&mut Value, &str),
    ) -> (Value, String, Api<DynamicObject>) {
        let mut o = o.clone();
        labels(&mut o, id);
        let name = o
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ns = o
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(String::from);
        let api = self.api(k, ns.as_deref());
        (o, name, api)
    }

    /// Deploys `rgd` for `instance`; see the crate documentation.
    pub async fn deploy(
        &self,
        rgd: &ResourceGraphDefinition,
        instance: &Value,
        opts: &DeployOptions,
    ) -> Result<DeployReport, DeployError> {
        let popts = PlanOptions {
            namespace: opts.namespace.clone(),
            ..PlanOptions::default()
        };
        // 1. Validate everything before the first write.
        let first = plan(rgd, instance, &popts)?;
        if let Some(r) = first.resources.iter().find(|r| r.action == Action::Fail) {
            return Err(DeployError::Failed {
                id: r.id.clone(),
                reason: r.reason.clone().unwrap_or_default(),
            });
        }
        let discovery = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(DeployError::Discovery)?;
        let mut kinds: BTreeMap<String, Kind> = BTreeMap::new();
        for r in &rgd.spec.resources {
            let (Some(av), Some(k)) = (r.api_version(), r.kind()) else {
                continue;
            };
            let (group, version) = av.rsplit_once('/').unwrap_or(("", av));
            match discovery.resolve_gvk(&GroupVersionKind::gvk(group, version, k)) {
                Some((resource, caps)) => {
                    kinds.insert(r.id.clone(), Kind { resource, caps });
                }
                None => {
                    return Err(DeployError::UnknownKind {
                        id: r.id.clone(),
                        api_version: av.to_string(),
                        kind: k.to_string(),
                    })
                }
            }
        }
        let instance_name = first
            .instance
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let labels = |obj: &mut Value, id: &str| {
            obj["metadata"]["labels"][GRAPH_LABEL] = json!(rgd.name());
            obj["metadata"]["labels"][INSTANCE_LABEL] = json!(instance_name);
            obj["metadata"]["labels"][RESOURCE_LABEL] = json!(id);
        };
        // The namespace must exist (or be created, when asked) before anything in it.
        let namespaces: Api<k8s_namespace::Namespace> = Api::all(self.client.clone());
        match namespaces.get_opt(&opts.namespace).await {
            Ok(Some(_)) => {}
            Ok(None) if opts.create_namespace => {
                let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": opts.namespace, "labels": {GRAPH_LABEL: rgd.name()}}});
                namespaces
                    .patch(
                        &opts.namespace,
                        &PatchParams::apply(FIELD_MANAGER),
                        &Patch::Apply(&ns),
                    )
                    .await
                    .map_err(|source| DeployError::Api {
                        id: "namespace".into(),
                        source,
                    })?;
            }
            Ok(None) => return Err(DeployError::NoNamespace(opts.namespace.clone())),
            Err(e) => return Err(DeployError::Discovery(e)),
        }
        // A server-side dry run of every object that can be resolved now.
        let mut dry = PatchParams::apply(FIELD_MANAGER).dry_run();
        dry.force = opts.force_conflicts;
        let mut dry_runs = Vec::new();
        for r in first.resources.iter().filter(|r| r.action == Action::Apply) {
            let k = &kinds[&r.id];
            for o in &r.objects {
                let (o, name, api) = self.target(k, o, &r.id, &labels);
                let dry = dry.clone();
                let (id, kind) = (r.id.clone(), k.resource.kind.clone());
                dry_runs.push(async move {
                    match api.patch(&name, &dry, &Patch::Apply(&o)).await {
                        Ok(_) => Ok(()),
                        Err(e) => {
                            let message = match &e {
                                kube::Error::Api(s) => s.message.clone(),
                                other => other.to_string(),
                            };
                            Err(DeployError::DryRun {
                                id,
                                kind,
                                name,
                                message,
                            })
                        }
                    }
                });
            }
        }
        try_join_all(dry_runs).await?;
        // 2. Apply wave by wave.
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        pp.force = opts.force_conflicts;
        let mut observed = Observed::default();
        let mut live: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut applied_waves = Vec::new();
        for wave in &first.waves {
            // Resolve the wave against what the cluster now holds.
            let current = plan(
                rgd,
                instance,
                &PlanOptions {
                    observed: observed.clone(),
                    ..popts.clone()
                },
            )?;
            let mut this_wave = Vec::new();
            let mut jobs = Vec::new();
            for id in wave {
                let r = current.resource(id).expect("planned");
                match r.action {
                    Action::Skip | Action::Read => continue,
                    Action::Fail => {
                        return Err(DeployError::Failed {
                            id: id.clone(),
                            reason: r.reason.clone().unwrap_or_default(),
                        })
                    }
                    Action::Wait => {
                        return Err(DeployError::NotReady {
                            id: id.clone(),
                            seconds: 0,
                            detail: r.reason.clone(),
                        })
                    }
                    Action::Apply => {}
                }
                this_wave.push(id.clone());
                let k = &kinds[id];
                for o in &r.objects {
                    let (o, name, api) = self.target(k, o, id, &labels);
                    let pp = pp.clone();
                    let id = id.clone();
                    jobs.push(async move {
                        api.patch(&name, &pp, &Patch::Apply(&o))
                            .await
                            .map(|d| (id.clone(), d))
                            .map_err(|source| DeployError::Api { id, source })
                    });
                }
            }
            let results = try_join_all(jobs).await?;
            let mut fresh: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for (id, obj) in results {
                fresh
                    .entry(id)
                    .or_default()
                    .push(serde_json::to_value(&obj).unwrap_or(Value::Null));
            }
            // 3. Wait until every resource of the wave is ready.
            let waits = fresh.iter().map(|(id, objs)| {
                self.wait_ready(rgd, id, objs.clone(), &kinds[id], opts.resource_timeout)
            });
            let ready = try_join_all(waits).await?;
            for (id, objs) in ready {
                if let Some(one) = objs.first() {
                    observed.insert(&id, one.clone());
                }
                live.insert(id, objs);
            }
            applied_waves.push(this_wave);
        }
        // 4. Status on the live objects.
        let last = plan(rgd, instance, &PlanOptions { observed, ..popts })?;
        Ok(DeployReport {
            waves: applied_waves,
            live,
            plan: last,
        })
    }

    /// Watches the objects of one resource until they are ready.
    async fn wait_ready(
        &self,
        rgd: &ResourceGraphDefinition,
        id: &str,
        objs: Vec<Value>,
        k: &Kind,
        timeout: Duration,
    ) -> Result<(String, Vec<Value>), DeployError> {
        let r = rgd.resource(id).expect("resource of the graph").clone();
        if is_ready(&r, &objs) {
            return Ok((id.to_string(), objs));
        }
        let mut out = Vec::new();
        for o in objs {
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let ns = o
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(String::from);
            let api = self.api(k, ns.as_deref());
            let r2 = r.clone();
            let cond = move |obj: Option<&DynamicObject>| {
                obj.and_then(|d| serde_json::to_value(d).ok())
                    .is_some_and(|v| is_ready(&r2, std::slice::from_ref(&v)))
            };
            match tokio::time::timeout(
                timeout,
                kube::runtime::wait::await_condition(api, &name, cond),
            )
            .await
            {
                Ok(Ok(Some(obj))) => out.push(serde_json::to_value(&obj).unwrap_or(Value::Null)),
                Ok(Ok(None)) => {
                    return Err(DeployError::NotReady {
                        id: id.to_string(),
                        seconds: timeout.as_secs(),
                        detail: Some(format!("{name} was deleted while waiting")),
                    })
                }
                Ok(Err(e)) => {
                    return Err(DeployError::NotReady {
                        id: id.to_string(),
                        seconds: timeout.as_secs(),
                        detail: Some(e.to_string()),
                    })
                }
                Err(_) => {
                    return Err(DeployError::NotReady {
                        id: id.to_string(),
                        seconds: timeout.as_secs(),
                        detail: None,
                    })
                }
            }
        }
        Ok((id.to_string(), out))
    }
}
