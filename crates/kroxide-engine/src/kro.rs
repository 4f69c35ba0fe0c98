//! KRO mode: deploy through a KRO controller running in the cluster.
//!
//! The RGD is server-side applied and must become `Active`; the instance CRD
//! must be Established with the current spec fields (applying to a stale CRD
//! silently prunes fields); then the instance is applied and must become
//! `ACTIVE` with Ready true; its status is read back. Before an existing RGD
//! is updated, its schema is compared with the new one and breaking changes
//! are refused unless allowed.

use crate::progress::{Event, Progress};
use crate::{DeployError, FIELD_MANAGER};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::chain::RgdSet;
use kroxide_semantics::crd::{spec_schema, InstanceNames};
use kroxide_semantics::openapi::Schema;
use kroxide_semantics::plan::{Plan, PlanOptions, Planner};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use std::time::Duration;

/// Why a KRO-mode deploy stopped.
#[derive(Debug, thiserror::Error)]
pub enum KroError {
    #[error("KRO is not installed in this cluster (it serves no kro.run/v1alpha1 ResourceGraphDefinition); install KRO, or deploy without it: kroxide deploy (direct mode)")]
    NotInstalled,
    #[error("KRO refused the ResourceGraphDefinition `{name}`: {message}")]
    Inactive { name: String, message: String },
    #[error("breaking changes to the schema of `{name}` (existing instances may no longer fit):\n{}\nrerun with --allow-breaking-changes to apply them anyway", .changes.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n"))]
    Breaking { name: String, changes: Vec<String> },
    #[error("the cluster has no instance kind for `{name}`: is the ResourceGraphDefinition deployed through KRO (kroxide deploy --mode kro)?")]
    NotInstalledFor { name: String },
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout { what: String, seconds: u64 },
    #[error("the instance `{name}` failed: {message}")]
    InstanceError { name: String, message: String },
    #[error("resource `{id}` of instance `{name}` ({kind} {object}) failed: {reason}")]
    ChildFailed {
        name: String,
        id: String,
        kind: String,
        object: String,
        reason: String,
    },
    #[error("timed out after {seconds}s waiting for KRO to remove the objects of instance `{name}`; still there:\n{}", .left.iter().map(|o| format!("  - {o}")).collect::<Vec<_>>().join("\n"))]
    DeleteTimeout {
        name: String,
        seconds: u64,
        left: Vec<String>,
    },
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// An inner instance would fail in its own graph (nothing was written).
    #[error("resource `{resource}` of `{outer}` is a {kind} instance of `{inner}`, which fails for it: {source}")]
    InnerFailed {
        outer: String,
        resource: String,
        kind: String,
        inner: String,
        #[source]
        source: Box<KroError>,
    },
    /// The RGDs given together cannot be used together, or an inner
    /// graph's plan failed (nothing was written).
    #[error(transparent)]
    Chain(#[from] kroxide_semantics::chain::ChainError),
    #[error("the API server refused {what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// How to deploy through KRO.
#[derive(Clone, Debug)]
pub struct KroOptions {
    pub namespace: String,
    /// How long each step may take: the RGD to become Active, the instance
    /// to become healthy, the children to go away on delete.
    pub timeout: Duration,
    /// Apply schema changes that may break existing instances.
    pub allow_breaking_changes: bool,
    /// Where progress events go (each child's readiness, each child deleted).
    pub progress: Progress,
}

impl Default for KroOptions {
    fn default() -> Self {
        KroOptions {
            namespace: "default".into(),
            timeout: Duration::from_secs(300),
            allow_breaking_changes: false,
            progress: Progress::none(),
        }
    }
}

fn rgd_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kro.run", "v1alpha1", "ResourceGraphDefinition"),
        "resourcegraphdefinitions",
    )
}

/// Changes from `old` to `new` that can break existing instances: removed
/// fields, changed types, new required fields.
pub fn breaking_changes(old: &Schema, new: &Schema, path: &str, out: &mut Vec<String>) {
    if old.type_ != new.type_ && old.type_.is_some() {
        out.push(format!(
            "{path}: type changed from {} to {}",
            old.type_name(),
            new.type_name()
        ));
        return;
    }
    let empty = Default::default();
    let old_props = old.properties.as_ref().unwrap_or(&empty);
    let new_props = new.properties.as_ref().unwrap_or(&empty);
    for (k, o) in old_props {
        let p = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        match new_props.get(k) {
            None => out.push(format!("{p}: field removed")),
            Some(n) => breaking_changes(o, n, &p, out),
        }
    }
    let old_req: Vec<&String> = old.required.iter().flatten().collect();
    for r in new.required.iter().flatten() {
        if !old_req.contains(&r) {
            let p = if path.is_empty() {
                r.clone()
            } else {
                format!("{path}.{r}")
            };
            out.push(format!("{p}: new required field"));
        }
    }
    if let (Some(o), Some(n)) = (&old.items, &new.items) {
        breaking_changes(o, n, &format!("{path}[]"), out);
    }
}

/// The RGD conditions whose `False` means KRO will not serve the graph:
/// the graph is invalid, or its instance CRD cannot be made (one another
/// RGD owns, say).
const REFUSALS: [&str; 2] = ["GraphAccepted", "KindReady"];

/// Why KRO refuses `rgd` (the message of its first refusing condition).
fn refusal(rgd: &Value) -> String {
    rgd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter().find(|c| {
                REFUSALS.contains(&c["type"].as_str().unwrap_or("")) && c["status"] == "False"
            })
        })
        .and_then(|c| c["message"].as_str())
        .unwrap_or("no reason given")
        .to_string()
}

/// Whether KRO has decided about the RGD as it is now: `Inactive`, or
/// `Active` with the graph accepted, the instance kind ready and its
/// controller running. A condition set for an earlier generation (its
/// `observedGeneration` below `metadata.generation`) does not count: right
/// after an update the status still describes the old graph, and the
/// instance kind may not have the new schema yet.
fn rgd_settled(rgd: &Value) -> bool {
    let generation = rgd.pointer("/metadata/generation").and_then(Value::as_i64);
    let current = |x: &Value| match (generation, x["observedGeneration"].as_i64()) {
        (Some(g), Some(seen)) => seen >= g,
        _ => true,
    };
    let conditions = rgd.pointer("/status/conditions").and_then(Value::as_array);
    let holds = |t: &str| {
        conditions.is_some_and(|c| {
            c.iter()
                .any(|x| x["type"] == t && x["status"] == "True" && current(x))
        })
    };
    let refused = conditions.is_some_and(|c| {
        c.iter().any(|x| {
            REFUSALS.contains(&x["type"].as_str().unwrap_or(""))
                && x["status"] == "False"
                && current(x)
        })
    });
    match rgd.pointer("/status/state").and_then(Value::as_str) {
        // KRO shows a new RGD Inactive, its conditions Unknown ("awaiting
        // reconciliation"), until it has looked at it: only a refusal counts.
        Some("Inactive") => refused,
        Some("Active") => ["GraphAccepted", "KindReady", "ControllerReady"]
            .iter()
            .all(|t| holds(t)),
        _ => false,
    }
}

fn crd_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    )
}

/// The label KRO puts on the CRD it generates for an RGD (value: its name).
const RGD_NAME_LABEL: &str = "kro.run/resource-graph-definition-name";

/// The instance kind a CRD that KRO generated defines, with its names.
fn instance_resource_of_crd(crd: &DynamicObject, names: &InstanceNames) -> ApiResource {
    let plural = crd
        .data
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or(&names.plural);
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&names.group, &names.version, &names.kind),
        plural,
    )
}

/// KRO's API version.
const KRO_API_VERSION: &str = "kro.run/v1alpha1";

/// How long one discovery request may take, retries included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Deploys through KRO; returns the instance's status as KRO reports it.
/// The steps, one function each: validate (nothing written for bad input),
/// apply the RGD, wait until KRO says it is Active, wait for the instance
/// CRD with the current schema, apply the instance, wait until it is healthy.
pub async fn deploy(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    instance: &Value,
    opts: &KroOptions,
) -> Result<Value, KroError> {
    // Validated once: the plan before the first write and the wait's plans.
    let planner = Planner::new(rgd).map_err(DeployError::from)?;
    deploy_planned(client, &planner, instance, opts).await
}

/// [`deploy`] of the graph `planner` holds.
async fn deploy_planned(
    client: &kube::Client,
    planner: &Planner<'_>,
    instance: &Value,
    opts: &KroOptions,
) -> Result<Value, KroError> {
    let rgd = planner.rgd();
    let prepared = validate(planner, instance, opts)?;
    apply_rgd(client, rgd, opts).await?;
    wait_active(client, rgd.name(), opts).await?;
    let (instances, namespaced) = wait_crd(client, rgd, opts).await?;
    let name = apply_instance(&instances, &prepared).await?;
    let served = crate::discover(client, REQUEST_TIMEOUT, crate::api_versions(rgd)).await?;
    crate::kro_wait::healthy(client, planner, &served, instances, &name, namespaced, opts).await
}

/// Deploys through KRO an instance of `rgd` whose resources are instances
/// of other RGDs of `set` (KRO's chained RGDs): the instance is planned
/// through every graph it reaches and refused before anything is written
/// when any of them fails; then the RGDs it needs are applied in order,
/// each waited on until Active with its CRD served (KRO reconciles an
/// inner instance only then), and `rgd` and the instance follow as in
/// [`deploy`].
pub async fn deploy_chained(
    client: &kube::Client,
    set: &RgdSet<'_>,
    rgd: &ResourceGraphDefinition,
    instance: &Value,
    opts: &KroOptions,
) -> Result<Value, KroError> {
    let needed = set.needed_by(rgd)?;
    let popts = PlanOptions {
        namespace: opts.namespace.clone(),
        ..PlanOptions::default()
    };
    let planned = set.plan(rgd, instance, &popts)?;
    fn refuse_all(p: &Plan, rgd: &str, set: &RgdSet<'_>) -> Result<(), KroError> {
        crate::deploy::refuse_failures(p)?;
        for r in &p.resources {
            for (o, inner) in r.objects.iter().zip(&r.expanded) {
                let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
                let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                let name = set.defining(av, kind).map(|g| g.name()).unwrap_or("");
                refuse_all(inner, name, set).map_err(|e| KroError::InnerFailed {
                    outer: rgd.to_string(),
                    resource: r.id.clone(),
                    kind: kind.to_string(),
                    inner: name.to_string(),
                    source: Box::new(e),
                })?;
            }
        }
        Ok(())
    }
    refuse_all(&planned, rgd.name(), set)?;
    for inner in needed {
        let changed = apply_rgd(client, inner, opts).await?;
        opts.progress.emit(Event::Applied {
            id: inner.name().to_string(),
            kind: "ResourceGraphDefinition".into(),
            name: inner.name().to_string(),
            changed,
        });
        wait_active(client, inner.name(), opts).await?;
        wait_crd(client, inner, opts).await?;
        opts.progress.emit(Event::Ready {
            id: inner.name().to_string(),
        });
    }
    let planner = Planner::new(rgd).map_err(DeployError::from)?;
    let status = deploy_planned(client, &planner, instance, opts).await?;
    // KRO counts an inner instance ready once its children exist; kroxide
    // waits until they are ready by their own rules, level by level, and
    // then reads the outer status again (KRO recomputes it meanwhile).
    if !wait_inner(client, set, &planned, opts).await? {
        return Ok(status);
    }
    let (instances, namespaced) = wait_crd(client, rgd, opts).await?;
    let name = kroxide_model::meta_str(&planned.instance, "name").unwrap_or("");
    let served = crate::discover(client, REQUEST_TIMEOUT, crate::api_versions(rgd)).await?;
    crate::kro_wait::healthy(client, &planner, &served, instances, name, namespaced, opts).await
}

/// Waits until every inner instance of `planned` (and theirs) is healthy;
/// whether there was any.
async fn wait_inner(
    client: &kube::Client,
    set: &RgdSet<'_>,
    planned: &Plan,
    opts: &KroOptions,
) -> Result<bool, KroError> {
    let mut any = false;
    for r in &planned.resources {
        for (o, inner_plan) in r.objects.iter().zip(&r.expanded) {
            let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            let Some(inner) = set.defining(av, kind) else {
                continue;
            };
            let inner_opts = KroOptions {
                namespace: kroxide_model::meta_str(o, "namespace")
                    .unwrap_or(&opts.namespace)
                    .to_string(),
                ..opts.clone()
            };
            let (instances, namespaced) = wait_crd(client, inner, &inner_opts).await?;
            let served =
                crate::discover(client, REQUEST_TIMEOUT, crate::api_versions(inner)).await?;
            let name = kroxide_model::meta_str(o, "name").unwrap_or("");
            let planner = Planner::new(inner).map_err(DeployError::from)?;
            crate::kro_wait::healthy(
                client,
                &planner,
                &served,
                instances,
                name,
                namespaced,
                &inner_opts,
            )
            .await?;
            Box::pin(wait_inner(client, set, inner_plan, &inner_opts)).await?;
            any = true;
        }
    }
    Ok(any)
}

/// The instance, validated and defaulted. What fails for this instance
/// whatever the cluster holds (an instance field the templates read but
/// the instance lacks) is refused before anything is written, as in direct
/// mode; KRO would accept the instance and keep it IN_PROGRESS (or ERROR)
/// without end.
fn validate(planner: &Planner<'_>, instance: &Value, opts: &KroOptions) -> Result<Value, KroError> {
    let popts = PlanOptions {
        namespace: opts.namespace.clone(),
        ..PlanOptions::default()
    };
    let planned = planner.plan(instance, &popts).map_err(DeployError::from)?;
    crate::deploy::refuse_failures(&planned)?;
    Ok(planned.instance)
}

/// Applies the RGD (after checking that KRO is installed and that the
/// schema change breaks no instance unless allowed), and the namespace the
/// instance goes to, which is not in the RGD; whether the RGD was written
/// (not when the cluster holds it just as kroxide last applied it: see
/// [`crate::unchanged`]).
async fn apply_rgd(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    opts: &KroOptions,
) -> Result<bool, KroError> {
    let kro = crate::discover(client, REQUEST_TIMEOUT, [KRO_API_VERSION]).await?;
    if kro
        .resolve(KRO_API_VERSION, "ResourceGraphDefinition")
        .is_none()
    {
        return Err(KroError::NotInstalled);
    }
    let rgds: Api<DynamicObject> = Api::all_with(client.clone(), &rgd_resource());
    let name = rgd.name().to_string();
    let new_spec = spec_schema(rgd).map_err(|e| KroError::Inactive {
        name: name.clone(),
        message: e.to_string(),
    })?;
    let mut to_apply = serde_json::to_value(rgd).unwrap_or(Value::Null);
    let existing = rgds.get_opt(&name).await.map_err(|source| KroError::Api {
        what: format!("reading ResourceGraphDefinition {name}"),
        source,
    })?;
    let existing = existing.and_then(|e| serde_json::to_value(e).ok());
    if let Some(existing) = &existing {
        // Only the schema is compared: the old graph's resources (most of
        // a large RGD) are not read.
        let old: Option<ResourceGraphDefinition> = serde_json::from_value(json!({
            "apiVersion": KRO_API_VERSION, "kind": "ResourceGraphDefinition",
            "metadata": {"name": name},
            "spec": {"schema": existing.pointer("/spec/schema"), "resources": []}
        }))
        .ok();
        if let Some(old_spec) = old.as_ref().and_then(|o| spec_schema(o).ok()) {
            let mut changes = Vec::new();
            breaking_changes(&old_spec, &new_spec, "spec", &mut changes);
            if !changes.is_empty() && !opts.allow_breaking_changes {
                return Err(KroError::Breaking { name, changes });
            }
            if !changes.is_empty() {
                to_apply["metadata"]["annotations"]["kro.run/allow-breaking-changes"] =
                    json!("true");
            }
        }
    }
    ensure_namespace(client, &opts.namespace).await?;
    if existing
        .is_some_and(|e| crate::unchanged::apply_changes_nothing(&to_apply, &e, FIELD_MANAGER))
    {
        return Ok(false);
    }
    rgds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER),
        &Patch::Apply(&to_apply),
    )
    .await
    .map_err(|source| KroError::Api {
        what: format!("ResourceGraphDefinition {name}"),
        source,
    })?;
    Ok(true)
}

/// Creates `namespace` when it does not exist.
async fn ensure_namespace(client: &kube::Client, namespace: &str) -> Result<(), KroError> {
    let namespaces: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "Namespace"),
            "namespaces",
        ),
    );
    let exists = namespaces
        .get_opt(namespace)
        .await
        .map_err(|source| KroError::Api {
            what: "reading the namespace".into(),
            source,
        })?
        .is_some();
    if !exists {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        namespaces
            .patch(
                namespace,
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Apply(&ns),
            )
            .await
            .map_err(|source| KroError::Api {
                what: format!("creating namespace {namespace}"),
                source,
            })?;
    }
    Ok(())
}

/// Waits until KRO accepts the graph (Active), or says why not (Inactive:
/// [`KroError::Inactive`] with KRO's message).
async fn wait_active(client: &kube::Client, name: &str, opts: &KroOptions) -> Result<(), KroError> {
    let rgds: Api<DynamicObject> = Api::all_with(client.clone(), &rgd_resource());
    let rgd_state = |o: Option<&DynamicObject>| {
        o.and_then(|o| serde_json::to_value(o).ok())
            .is_some_and(|v| rgd_settled(&v))
    };
    let accepted = wait(
        rgds,
        name,
        rgd_state,
        opts.timeout,
        "the ResourceGraphDefinition to become Active",
    )
    .await?;
    if accepted
        .data
        .pointer("/status/state")
        .and_then(Value::as_str)
        == Some("Inactive")
    {
        let message = refusal(&serde_json::to_value(&accepted).unwrap_or(Value::Null));
        return Err(KroError::Inactive {
            name: name.to_string(),
            message,
        });
    }
    Ok(())
}

/// Waits until the instance CRD (KRO labels it with the RGD's name) is
/// Established with the current spec fields, and returns the API of its
/// instances and whether they are namespaced. Its names are KRO's, not
/// guessed (KRO's plural of `Index` is `indices`).
async fn wait_crd(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    opts: &KroOptions,
) -> Result<(Api<DynamicObject>, bool), KroError> {
    let name = rgd.name();
    let new_spec = spec_schema(rgd).map_err(|e| KroError::Inactive {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    let names = InstanceNames::of(rgd);
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource());
    let mut want: Vec<String> = new_spec
        .properties
        .as_ref()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    want.sort();
    let mut want_required: Vec<String> = new_spec.required.clone().unwrap_or_default();
    want_required.sort();
    let version = names.version.clone();
    let current_crd = move |o: &DynamicObject| {
        let established = o
            .data
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
        let schema = o
            .data
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .and_then(|vs| vs.iter().find(|v| v["name"] == version.as_str()))
            .and_then(|v| v.pointer("/schema/openAPIV3Schema/properties/spec"));
        let props = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        let mut required: Vec<String> = schema
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        required.sort();
        // Exactly the current fields and requirements: a stale CRD would
        // prune new fields or still require removed ones.
        let same_fields = props.is_some_and(|p| {
            let mut have: Vec<&String> = p.keys().collect();
            have.sort();
            have == want.iter().collect::<Vec<_>>()
        });
        // One being deleted (its RGD was deleted and applied again) takes
        // no instances: KRO makes it anew once it is gone.
        let terminating = o.metadata.deletion_timestamp.is_some();
        established && !terminating && same_fields && required == want_required
    };
    let selector = format!("{RGD_NAME_LABEL}={name}");
    let crd = wait_listed(
        crds,
        &selector,
        current_crd,
        opts.timeout,
        "the instance CRD to be Established with the current schema",
    )
    .await?;
    let ar = instance_resource_of_crd(&crd, &names);
    let namespaced = crd.data.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
    let instances: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), &opts.namespace, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    Ok((instances, namespaced))
}

/// Server-side applies the instance (without any status it carries) and
/// returns its name.
async fn apply_instance(
    instances: &Api<DynamicObject>,
    prepared: &Value,
) -> Result<String, KroError> {
    let name = kroxide_model::meta_str(prepared, "name")
        .unwrap_or("")
        .to_string();
    let mut inst = prepared.clone();
    if let Some(m) = inst.as_object_mut() {
        m.remove("status");
    }
    instances
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&inst),
        )
        .await
        .map_err(|source| KroError::Api {
            what: format!("instance {name}"),
            source,
        })?;
    Ok(name)
}

/// What a KRO-mode delete did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KroDeleteReport {
    /// The ResourceGraphDefinition was deleted too.
    pub definition_deleted: bool,
    /// Instances of the graph still there (in any namespace), which kept the
    /// definition when its deletion was asked for.
    pub instances_left: usize,
}

/// Deletes an instance and waits, up to `opts.timeout`, until KRO has
/// removed every child (reported one by one as they go) and the instance
/// itself; then, when asked and no instance is left, the RGD. On timeout
/// the error lists what is still there.
pub async fn delete(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    instance_name: &str,
    delete_definition: bool,
    opts: &KroOptions,
) -> Result<KroDeleteReport, KroError> {
    let mut report = KroDeleteReport::default();
    let (ar, namespaced) = instance_resource(client, rgd).await?;
    let namespace = opts.namespace.as_str();
    let instances: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), namespace, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    let served = crate::discover(client, REQUEST_TIMEOUT, crate::api_versions(rgd)).await?;
    let ns = namespaced.then_some(namespace);
    let before = crate::kro_wait::children(client, rgd, &served, instance_name, ns).await?;
    match instances
        .delete(instance_name, &DeleteParams::background())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(source) => {
            return Err(KroError::Api {
                what: format!("deleting instance {instance_name}"),
                source,
            })
        }
    }
    crate::kro_wait::children_gone(
        client,
        rgd,
        &served,
        &instances,
        instance_name,
        ns,
        before,
        opts,
    )
    .await?;
    if delete_definition {
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let left = all
            .list_metadata(&Default::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        report.instances_left = left;
        if left == 0 {
            report.definition_deleted = true;
            let rgds: Api<DynamicObject> = Api::all_with(client.clone(), &rgd_resource());
            match rgds.delete(rgd.name(), &DeleteParams::default()).await {
                // KRO holds it with a finalizer until it has stopped its
                // controller: it is deleted when it is gone.
                Ok(deleting) => {
                    // (Right: the server says it is gone already.)
                    let uid = deleting
                        .left()
                        .and_then(|o| o.metadata.uid)
                        .unwrap_or_default();
                    let gone = kube::runtime::wait::await_condition(
                        rgds,
                        rgd.name(),
                        kube::runtime::conditions::is_deleted(&uid),
                    );
                    if tokio::time::timeout(opts.timeout, gone).await.is_err() {
                        return Err(KroError::Timeout {
                            what: format!("ResourceGraphDefinition {} to be deleted", rgd.name()),
                            seconds: opts.timeout.as_secs(),
                        });
                    }
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(source) => {
                    return Err(KroError::Api {
                        what: format!("deleting ResourceGraphDefinition {}", rgd.name()),
                        source,
                    })
                }
            }
        }
    }
    Ok(report)
}

/// The instance kind of `rgd` as the cluster serves it (its plural is
/// KRO's), and whether it is namespaced. Fails unless the cluster serves
/// KRO and the kind.
async fn instance_resource(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
) -> Result<(ApiResource, bool), KroError> {
    let names = InstanceNames::of(rgd);
    let instance_version = kube::core::GroupVersion::gv(&names.group, &names.version).api_version();
    let served = crate::discover(
        client,
        REQUEST_TIMEOUT,
        [KRO_API_VERSION, instance_version.as_str()],
    )
    .await?;
    if served
        .resolve(KRO_API_VERSION, "ResourceGraphDefinition")
        .is_none()
    {
        return Err(KroError::NotInstalled);
    }
    match served.resolve(&instance_version, &names.kind) {
        Some(k) => Ok((
            k.resource,
            k.caps.scope == kube::discovery::Scope::Namespaced,
        )),
        None => Err(KroError::NotInstalledFor {
            name: rgd.name().to_string(),
        }),
    }
}

async fn instance_api(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    namespace: Option<&str>,
) -> Result<Api<DynamicObject>, KroError> {
    let (ar, namespaced) = instance_resource(client, rgd).await?;
    Ok(match (namespaced, namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    })
}

/// One instance of a graph as KRO reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSummary {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// KRO's `status.state` (`ACTIVE`, `IN_PROGRESS`, `FAILED`, ...).
    pub state: String,
    /// The `Ready` condition is true.
    pub ready: bool,
}

fn summary(o: &DynamicObject) -> InstanceSummary {
    let status = o.data.get("status");
    InstanceSummary {
        name: o.metadata.name.clone().unwrap_or_default(),
        namespace: o.metadata.namespace.clone(),
        state: status
            .and_then(|s| s.get("state"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        // KRO's Ready condition; an instance whose graph writes its own
        // conditions and no Ready has only its state to go by.
        ready: match status
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        {
            Some(c) => c["status"] == "True",
            None => status.and_then(|s| s.get("state")).and_then(Value::as_str) == Some("ACTIVE"),
        },
    }
}

/// The status of an instance as KRO last wrote it (state, conditions and the
/// graph's status fields).
pub async fn status(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    instance_name: &str,
    namespace: &str,
) -> Result<Value, KroError> {
    let o = instance(client, rgd, instance_name, namespace).await?;
    Ok(o.get("status").cloned().unwrap_or(json!({})))
}

/// The RGD's `status.lastIssuedRevision` (None: not deployed, or a KRO without revisions).
pub async fn last_issued_revision(
    client: &kube::Client,
    graph: &str,
) -> Result<Option<u64>, KroError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &rgd_resource());
    match crate::retry::retry(REQUEST_TIMEOUT, || api.get_opt(graph)).await {
        Ok(o) => Ok(o.and_then(|o| {
            o.data
                .pointer("/status/lastIssuedRevision")
                .and_then(Value::as_u64)
        })),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(KroError::NotInstalled),
        Err(source) => Err(KroError::Api {
            what: format!("reading ResourceGraphDefinition {graph}"),
            source,
        }),
    }
}

/// The live instance object (its spec as applied, its status as KRO last
/// wrote it). Its spec tells which values feed Secrets, to mask them in the
/// status when the caller has no instance file.
pub async fn instance(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    instance_name: &str,
    namespace: &str,
) -> Result<Value, KroError> {
    let api = instance_api(client, rgd, Some(namespace)).await?;
    match api.get_opt(instance_name).await {
        Ok(Some(o)) => serde_json::to_value(o).map_err(|e| KroError::InstanceError {
            name: instance_name.to_string(),
            message: e.to_string(),
        }),
        Ok(None) => Err(KroError::InstanceError {
            name: instance_name.to_string(),
            message: format!(
                "no {} `{instance_name}` in namespace `{namespace}`",
                InstanceNames::of(rgd).kind
            ),
        }),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(KroError::NotInstalledFor {
            name: rgd.name().to_string(),
        }),
        Err(source) => Err(KroError::Api {
            what: format!("reading instance {instance_name}"),
            source,
        }),
    }
}

/// The instances of `rgd` (in `namespace`, or everywhere), with their state.
pub async fn instances(
    client: &kube::Client,
    rgd: &ResourceGraphDefinition,
    namespace: Option<&str>,
) -> Result<Vec<InstanceSummary>, KroError> {
    let api = instance_api(client, rgd, namespace).await?;
    match api.list(&Default::default()).await {
        Ok(l) => Ok(l.items.iter().map(summary).collect()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(KroError::NotInstalledFor {
            name: rgd.name().to_string(),
        }),
        Err(source) => Err(KroError::Api {
            what: format!("listing instances of {}", rgd.name()),
            source,
        }),
    }
}

/// KRO's version, when the cluster shows it: the `app.kubernetes.io/version`
/// label, or the image tag, of the Deployment labelled
/// `app.kubernetes.io/name=kro` (as KRO's Helm chart installs it).
pub async fn version(client: &kube::Client) -> Option<String> {
    let deployments: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apps", "v1", "Deployment"),
            "deployments",
        ),
    );
    let list = deployments
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/name=kro"))
        .await
        .ok()?;
    let d = list.items.first()?;
    if let Some(v) = d
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/version"))
    {
        return Some(v.clone());
    }
    d.data
        .pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .and_then(|i| i.rsplit_once(':'))
        .map(|(_, tag)| tag.to_string())
}

/// Waits until an object selected by `selector` satisfies `cond`.
async fn wait_listed(
    api: Api<DynamicObject>,
    selector: &str,
    cond: impl Fn(&DynamicObject) -> bool,
    timeout: Duration,
    what: &str,
) -> Result<DynamicObject, KroError> {
    use futures::StreamExt;
    use kube::runtime::{watcher, WatchStreamExt};
    let cfg = watcher::Config::default().labels(selector);
    let mut stream = watcher(api, cfg)
        .default_backoff()
        .applied_objects()
        .boxed();
    let found = async {
        while let Some(e) = stream.next().await {
            if let Ok(o) = e {
                if cond(&o) {
                    return Some(o);
                }
            }
        }
        None
    };
    match tokio::time::timeout(timeout, found).await {
        Ok(Some(o)) => Ok(o),
        _ => Err(KroError::Timeout {
            what: what.to_string(),
            seconds: timeout.as_secs(),
        }),
    }
}

async fn wait(
    api: Api<DynamicObject>,
    name: &str,
    cond: impl Fn(Option<&DynamicObject>) -> bool + Send + 'static,
    timeout: Duration,
    what: &str,
) -> Result<DynamicObject, KroError> {
    match tokio::time::timeout(
        timeout,
        kube::runtime::wait::await_condition(api, name, cond),
    )
    .await
    {
        Ok(Ok(Some(o))) => Ok(o),
        Ok(Err(kube::runtime::wait::Error::ProbeFailed(e))) => Err(KroError::Api {
            what: format!("watching {what}"),
            source: crate::wait::watch_error(e),
        }),
        _ => Err(KroError::Timeout {
            what: what.to_string(),
            seconds: timeout.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgd(state: &str, true_conditions: &[&str]) -> Value {
        let conditions: Vec<Value> = ["GraphAccepted", "KindReady", "ControllerReady"]
            .iter()
            .map(|t| json!({"type": t, "status": if true_conditions.contains(t) { "True" } else { "False" }}))
            .collect();
        json!({"status": {"state": state, "conditions": conditions}})
    }

    /// Right after an update, a status written for the previous generation
    /// is not the answer.
    #[test]
    fn conditions_of_an_earlier_generation_do_not_count() {
        let all = ["GraphAccepted", "KindReady", "ControllerReady"];
        for (state, accepted) in [("Active", &all[..]), ("Inactive", &[])] {
            let mut r = rgd(state, accepted);
            r["metadata"] = json!({"generation": 2});
            for c in r["status"]["conditions"].as_array_mut().unwrap() {
                c["observedGeneration"] = json!(1);
            }
            assert!(!rgd_settled(&r), "{state} of generation 1");
            for c in r["status"]["conditions"].as_array_mut().unwrap() {
                c["observedGeneration"] = json!(2);
            }
            assert!(rgd_settled(&r), "{state} of generation 2");
        }
    }

    #[test]
    fn active_counts_only_with_all_three_conditions_and_inactive_ends_the_wait() {
        let all = ["GraphAccepted", "KindReady", "ControllerReady"];
        assert!(rgd_settled(&rgd("Active", &all)));
        assert!(!rgd_settled(&rgd(
            "Active",
            &["GraphAccepted", "KindReady"]
        )));
        assert!(!rgd_settled(&rgd("Active", &[])));
        assert!(rgd_settled(&rgd("Inactive", &[])));
        // As KRO v0.9.3 shows a new RGD before it has looked at it.
        let awaiting = json!({"metadata": {"generation": 1}, "status": {"state": "Inactive", "conditions": [
            {"type": "GraphAccepted", "status": "Unknown", "reason": "AwaitingReconciliation", "observedGeneration": 1},
            {"type": "KindReady", "status": "Unknown", "reason": "AwaitingReconciliation", "observedGeneration": 1}]}});
        assert!(!rgd_settled(&awaiting));
        // A CRD KRO cannot make is a refusal too, with KRO's message.
        let mut owned = awaiting.clone();
        owned["status"]["conditions"][1] = json!({"type": "KindReady", "status": "False", "observedGeneration": 1,
            "message": "failed to update CRD indices.kro.run: CRD is owned by another ResourceGraphDefinition index-test"});
        assert!(rgd_settled(&owned));
        assert!(
            refusal(&owned).contains("owned by another"),
            "{}",
            refusal(&owned)
        );
        assert!(!rgd_settled(&json!({"status": {}})));
        assert!(!rgd_settled(&json!({})));
    }
}
