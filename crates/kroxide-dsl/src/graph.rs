//! `ResourceGraph`: a typed spec, resources, and a typed status, built into
//! the graph model and checked by the offline validator.

use crate::expr::{Expr, IntoExpr};
use crate::handle::{Handle, Kind};
use crate::resources::IntoResource;
use crate::schema::{RefBase, Schema, SimpleType, Types};
use kroxide_model::{FieldNode, Resource, ResourceGraphDefinition};
use kroxide_semantics::expr::has_expression_start;
use kroxide_semantics::plan::{plan, Plan, PlanError, PlanOptions};
use kroxide_semantics::validate::{check_id, suggest_id, validate, Diagnostic, Severity};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// Why a graph could not be turned into a valid RGD.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// # use kroxide_dsl::*;
/// # #[derive(Schema, Clone, serde::Serialize)]
/// # pub struct AppSpec { pub name: String }
/// # #[derive(Schema, Clone)]
/// # pub struct AppStatus { pub ready: i64 }
/// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, _| {
///     let web = g.add(Deployment::new("web", "nginx"));
///     g.add(Deployment::new("web", "httpd"));
///     AppStatusExpr { ready: web.status().ready_replicas() }
/// });
/// let err: BuildError = graph.to_rgd().unwrap_err();
/// assert_eq!(err.graph, "app");
/// assert!(err.problems[0].contains("two resources have the id `webDeployment`"));
/// ```
pub struct BuildError {
    /// The graph's name.
    pub graph: String,
    /// Mistakes found while building (bad ids, invalid expressions).
    pub problems: Vec<String>,
    /// Errors the offline validator found in the rendered RGD.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "resource graph `{}` is invalid:", self.graph)?;
        for p in &self.problems {
            writeln!(f, "  error: {p}")?;
        }
        for d in &self.diagnostics {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

/// A finding that does not make the graph invalid, but is likely a mistake.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// # use kroxide_dsl::*;
/// # #[derive(Schema, Clone, serde::Serialize)]
/// # pub struct AppSpec { pub name: String }
/// # #[derive(Schema, Clone)]
/// # pub struct AppStatus { pub ready: i64 }
/// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, _| {
///     let web = g.add(Deployment::new("web", "nginx"));
///     g.add(Service::new("web").selector("app", "wbe").port(80));
///     AppStatusExpr { ready: web.status().ready_replicas() }
/// });
/// let lint: &Lint = &graph.lints()[0];
/// assert_eq!(lint.resource, "webService");
/// assert!(lint.message.contains("matches no pod template"));
/// ```
pub struct Lint {
    pub resource: String,
    pub message: String,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "warning: {} (resource `{}`)",
            self.message, self.resource
        )
    }
}

/// The resources of a graph under construction.
#[derive(Default)]
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Deployment::new("web", "nginx").port(80));
/// g.add(Service::exposing(&web).port(80));
/// assert_eq!(g.resources().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["webDeployment", "webService"]);
/// ```
pub struct Graph {
    pub(crate) resources: Vec<Resource>,
    pub(crate) problems: Vec<String>,
    pub(crate) ids: std::collections::HashSet<String>,
    /// The RGDs of graphs nested in this one ([`Graph::add_graph`]), each
    /// after those it nests.
    pub(crate) nested: Vec<ResourceGraphDefinition>,
    /// Author-defined status conditions, as `${...}` strings
    /// ([`Graph::add_condition`]).
    pub(crate) conditions: Vec<String>,
}

impl Graph {
    /// Adds a resource; its id is derived from its name and kind
    /// (`user-service` Deployment → `userServiceDeployment`, `app-config`
    /// ConfigMap → `appConfig`).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let users = g.add(Deployment::new("user-service", "users:1"));
    /// let cfg = g.add(ConfigMap::new("app-config"));
    /// assert_eq!((users.id(), cfg.id()), ("userServiceDeployment", "appConfig"));
    /// ```
    pub fn add<R: IntoResource>(&mut self, r: R) -> Handle<R::Kind> {
        let built = r.into_built();
        let kind = built
            .template
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let id = derive_id(built.name.as_deref(), &kind, self.resources.len());
        self.insert(id, built)
    }

    /// Adds a resource with an explicit id.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let db = g.add_as("database", StatefulSet::new("db", "postgres:16"));
    /// assert_eq!(db.id(), "database");
    /// assert_eq!(g.resources()[0].id, "database");
    /// ```
    pub fn add_as<R: IntoResource>(&mut self, id: &str, r: R) -> Handle<R::Kind> {
        self.insert(id.to_string(), r.into_built())
    }

    pub(crate) fn insert<K>(&mut self, id: String, built: crate::resources::Built) -> Handle<K> {
        if let Some(why) = check_id(&id) {
            let s = suggest_id(&id);
            self.problems.push(format!("{why}; try `{s}`"));
        }
        if !self.ids.insert(id.clone()) {
            self.problems.push(format!(
                "two resources have the id `{id}`: give one an explicit id with `add_as`"
            ));
        }
        for e in &built.errors {
            self.problems.push(format!("resource `{id}`: {e}"));
        }
        self.resources
            .push(Resource::from_template(id.clone(), built.template));
        Handle::new(id, built.name, built.pod_labels, built.name_value)
    }

    /// The resources added so far, in order, as the graph model holds them.
    ///
    /// ```
    /// use kroxide_dsl::{ConfigMap, Graph};
    /// let mut g = Graph::default();
    /// g.add(ConfigMap::new("app-config").data("mode", "fast"));
    /// assert_eq!(g.resources()[0].id, "appConfig");
    /// ```
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub(crate) fn resource_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.iter_mut().find(|r| r.id == id)
    }

    /// The resource is ready only when `cond` (over the resource itself) holds.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// g.ready_when(&web, web.status().ready_replicas().ge(1));
    /// assert_eq!(g.resources()[0].ready_when, ["${webDeployment.status.readyReplicas >= 1}"]);
    /// ```
    pub fn ready_when<K>(&mut self, h: &Handle<K>, cond: impl IntoExpr<bool>) {
        let e = cond.into_expr();
        let v = format!("${{{}}}", e.to_cel());
        if let Some(r) = self.resource_mut(h.id()) {
            r.ready_when.push(v);
        }
    }

    /// The resource's objects are kept when the instance is deleted or the
    /// resource pruned (orphaned: kroxide's labels removed), as
    /// [`HasMeta::retain`](crate::HasMeta::retain) on its builder does: the
    /// annotation `kroxide.dev/delete-policy: retain` on its template.
    /// Direct mode only (KRO deletes every child of an instance).
    ///
    /// ```
    /// use kroxide_dsl::{ConfigMap, Graph};
    /// let mut g = Graph::default();
    /// let settings = g.add(ConfigMap::new("settings").data("mode", "fast"));
    /// g.retain(&settings);
    /// let t = g.resources()[0].template.as_ref().unwrap();
    /// assert_eq!(t["metadata"]["annotations"]["kroxide.dev/delete-policy"], "retain");
    /// ```
    ///
    /// A template whose `metadata` or `annotations` is one `${...}`
    /// expression (a whole map computed) is left as it is: annotate that map.
    pub fn retain<K>(&mut self, h: &Handle<K>) {
        let Some(t) = self
            .resource_mut(h.id())
            .and_then(|r| r.template.as_mut())
            .and_then(serde_json::Value::as_object_mut)
        else {
            return;
        };
        let meta = t.entry("metadata").or_insert_with(|| serde_json::json!({}));
        let Some(annotations) = meta.as_object_mut().map(|m| {
            m.entry("annotations")
                .or_insert_with(|| serde_json::json!({}))
        }) else {
            return;
        };
        if let Some(a) = annotations.as_object_mut() {
            a.insert(
                kroxide_model::DELETE_POLICY_ANNOTATION.into(),
                "retain".into(),
            );
        }
    }

    /// The resource exists only when `cond` (over the spec) holds.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let debug: Expr<bool> = Expr::reference("schema", &["spec", "debug"]);
    /// let cfg = g.add(ConfigMap::new("debug-config").data("level", "trace"));
    /// g.include_when(&cfg, &debug);
    /// assert_eq!(g.resources()[0].include_when, ["${schema.spec.debug}"]);
    /// ```
    pub fn include_when<K>(&mut self, h: &Handle<K>, cond: impl IntoExpr<bool>) {
        let e = cond.into_expr();
        let v = format!("${{{}}}", e.to_cel());
        if let Some(r) = self.resource_mut(h.id()) {
            r.include_when.push(v);
        }
    }
}

fn lower_camel(s: &str) -> String {
    suggest_id(s)
}

/// Kind-like endings that make a name self-describing.
fn kind_suffixes(kind: &str) -> Vec<String> {
    let mut v = vec![kind.to_string()];
    match kind {
        "ConfigMap" => v.extend(["Config".to_string(), "Configmap".to_string()]),
        "Secret" => v.push("Secrets".into()),
        "Service" => v.push("Svc".into()),
        "Deployment" => v.push("Deploy".into()),
        _ => {}
    }
    v
}

fn derive_id(name: Option<&str>, kind: &str, index: usize) -> String {
    let Some(name) = name else {
        return format!("{}{}", lower_camel(kind), index);
    };
    let base = lower_camel(name);
    if base.is_empty() {
        return format!("{}{}", lower_camel(kind), index);
    }
    if kind_suffixes(kind)
        .iter()
        .any(|s| base.ends_with(s.as_str()))
        || base == lower_camel(kind)
    {
        base
    } else {
        format!("{base}{kind}")
    }
}

/// A typed resource graph: spec `S`, status `St`.
///
/// ```
/// # use kroxide_dsl::*;
/// # #[derive(Schema, Clone, serde::Serialize)]
/// # pub struct AppSpec { pub name: String }
/// # #[derive(Schema, Clone)]
/// # pub struct AppStatus { pub ready: i64 }
/// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
///     let web = g.add(Deployment::new(&spec.name, "nginx"));
///     AppStatusExpr { ready: web.status().ready_replicas() }
/// });
/// let rgd = graph.to_rgd().unwrap();
/// assert_eq!(rgd.spec.schema.kind, "App");
/// assert_eq!(rgd.spec.resources[0].template.as_ref().unwrap()["metadata"]["name"], "${schema.spec.name}");
/// ```
pub struct ResourceGraph<S, St> {
    name: String,
    rgd: Result<ResourceGraphDefinition, BuildError>,
    pub(crate) nested: Vec<ResourceGraphDefinition>,
    lints: Vec<Lint>,
    _t: PhantomData<fn() -> (S, St)>,
}

/// The first step of [`ResourceGraph::new`]: the definition, before resources.
///
/// ```
/// # use kroxide_dsl::*;
/// # #[derive(Schema, Clone, serde::Serialize)]
/// # pub struct AppSpec { pub name: String }
/// # #[derive(Schema, Clone)]
/// # pub struct AppStatus { pub ready: i64 }
/// let builder: ResourceGraphBuilder<AppSpec, AppStatus> =
///     ResourceGraph::new("app", "example.com/v1", "App").kro_version(KroVersion::Main);
/// let graph = builder.build(|g, spec| {
///     let web = g.add(Deployment::new(&spec.name, "nginx"));
///     AppStatusExpr { ready: web.status().ready_replicas() }
/// });
/// assert_eq!(graph.to_rgd().unwrap().spec.schema.group.as_deref(), Some("example.com"));
/// ```
pub struct ResourceGraphBuilder<S, St> {
    name: String,
    api_version: String,
    kind: String,
    short_names: Vec<String>,
    categories: Vec<String>,
    kro_version: kroxide_model::KroVersion,
    _t: PhantomData<fn() -> (S, St)>,
}

impl<S: Schema, St: Schema> ResourceGraph<S, St> {
    /// A graph named `name` whose instances are `kind` of `api_version`
    /// (`example.com/v1alpha1`; a bare `v1alpha1` means KRO's `kro.run` group).
    /// Returns a builder: the graph exists once [`ResourceGraphBuilder::build`] ran.
    #[allow(clippy::new_ret_no_self)]
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    ///     let web = g.add(Deployment::new(&spec.name, "nginx"));
    ///     AppStatusExpr { ready: web.status().ready_replicas() }
    /// });
    /// let rgd = graph.to_rgd().unwrap();
    /// assert_eq!((rgd.spec.schema.api_version.as_str(), rgd.spec.schema.group.as_deref()), ("v1alpha1", None));
    /// ```
    pub fn new(name: &str, api_version: &str, kind: &str) -> ResourceGraphBuilder<S, St> {
        ResourceGraphBuilder {
            name: name.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            short_names: Vec::new(),
            categories: Vec::new(),
            kro_version: kroxide_model::KroVersion::default(),
            _t: PhantomData,
        }
    }

    /// The graph model, checked by the offline validator.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// # let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    /// #     let web = g.add(Deployment::new(&spec.name, "nginx"));
    /// #     AppStatusExpr { ready: web.status().ready_replicas() }
    /// # });
    /// let rgd = graph.to_rgd().unwrap();
    /// assert_eq!(rgd.name(), "app");
    /// assert_eq!(rgd.spec.resources[0].id, "deployment0");
    /// ```
    pub fn to_rgd(&self) -> Result<ResourceGraphDefinition, BuildError> {
        self.rgd.clone()
    }

    /// The RGD as YAML.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// # let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    /// #     let web = g.add(Deployment::new(&spec.name, "nginx"));
    /// #     AppStatusExpr { ready: web.status().ready_replicas() }
    /// # });
    /// let yaml = graph.to_rgd_yaml().unwrap();
    /// assert!(yaml.contains("kind: ResourceGraphDefinition"));
    /// assert!(yaml.contains("readyReplicas"));
    /// ```
    pub fn to_rgd_yaml(&self) -> Result<String, BuildError> {
        let rgd = self.rgd.as_ref().map_err(Clone::clone)?;
        kroxide_model::to_yaml(rgd).map_err(|e| BuildError {
            graph: self.name.clone(),
            problems: vec![format!("cannot write YAML: {e}")],
            diagnostics: Vec::new(),
        })
    }

    /// What a deploy of this graph with `spec` would apply, and the status
    /// KRO would report: see [`kroxide_semantics::plan`].
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// # let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    /// #     let web = g.add(Deployment::new(&spec.name, "nginx"));
    /// #     AppStatusExpr { ready: web.status().ready_replicas() }
    /// # });
    /// use kroxide_semantics::plan::PlanOptions;
    /// let plan = graph.plan(&AppSpec { name: "shop".into() }, &PlanOptions::default()).unwrap();
    /// assert_eq!(plan.waves, [["deployment0"]]);
    /// assert_eq!(plan.resources[0].objects[0]["metadata"]["name"], "shop");
    /// ```
    pub fn plan(&self, spec: &S, opts: &PlanOptions) -> Result<Plan, PlanError>
    where
        S: serde::Serialize,
    {
        let rgd = self.rgd.clone().map_err(|e| {
            let mut d = e.diagnostics;
            d.extend(e.problems.into_iter().map(|p| Diagnostic {
                severity: Severity::Error,
                rule: "dsl",
                message: p,
                resource: None,
                path: kroxide_model::FieldPath::root(),
                help: None,
            }));
            PlanError::Graph(d)
        })?;
        let spec = serde_json::to_value(spec).map_err(|e| {
            PlanError::Instance(kroxide_semantics::instance::InstanceError {
                problems: vec![(
                    kroxide_model::FieldPath::root().key("spec"),
                    format!("cannot serialize the spec: {e}"),
                )],
            })
        })?;
        plan(&rgd, &serde_json::json!({ "spec": spec }), opts)
    }

    /// Likely mistakes that do not make the graph invalid.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// # let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    /// #     let web = g.add(Deployment::new(&spec.name, "nginx"));
    /// #     AppStatusExpr { ready: web.status().ready_replicas() }
    /// # });
    /// assert!(graph.lints().is_empty());
    /// ```
    pub fn lints(&self) -> &[Lint] {
        &self.lints
    }

    /// The graph's name.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// # let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    /// #     let web = g.add(Deployment::new(&spec.name, "nginx"));
    /// #     AppStatusExpr { ready: web.status().ready_replicas() }
    /// # });
    /// assert_eq!(graph.name(), "app");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<S: Schema, St: Schema> ResourceGraphBuilder<S, St> {
    /// The KRO the graph is for: [`KroVersion::V0_9_3`](kroxide_model::KroVersion) (the
    /// default) or `KroVersion::Main`, which [`short_names`](Self::short_names),
    /// [`categories`](Self::categories) and the CEL function `deepMerge()`
    /// need. The graph is validated, planned and rendered for it.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App")
    ///     .kro_version(KroVersion::Main)
    ///     .build(|g, spec| {
    ///         let web = g.add(Deployment::new(&spec.name, "nginx"));
    ///         AppStatusExpr { ready: web.status().ready_replicas() }
    ///     });
    /// assert_eq!(graph.to_rgd().unwrap().kro_version, KroVersion::Main);
    /// ```
    pub fn kro_version(mut self, v: kroxide_model::KroVersion) -> Self {
        self.kro_version = v;
        self
    }

    /// `schema.shortNames`: aliases of the instance kind for `kubectl get`
    /// (KRO main; each a lowercase DNS label, at most 32).
    ///
    /// ```
    /// use kroxide_dsl::{ConfigMap, KroVersion, ResourceGraph, Schema};
    /// #[derive(Schema, Clone)]
    /// #[schema(crate = "kroxide_dsl")]
    /// pub struct AppSpec { pub name: String }
    /// #[derive(Schema, Clone)]
    /// #[schema(crate = "kroxide_dsl")]
    /// pub struct AppStatus { pub name: String }
    ///
    /// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "WebApp")
    ///     .kro_version(KroVersion::Main)
    ///     .short_names(["wa"])
    ///     .categories(["platform"])
    ///     .build(|g, spec| {
    ///         g.add(ConfigMap::new("config").data("name", &spec.name));
    ///         AppStatusExpr { name: spec.name.clone() }
    ///     });
    /// let rgd = graph.to_rgd().unwrap();
    /// assert_eq!(rgd.spec.schema.short_names, Some(vec!["wa".to_string()]));
    /// let crd = kroxide_semantics::crd::instance_crd(&rgd).unwrap();
    /// assert_eq!(crd["spec"]["names"]["categories"][0], "platform");
    /// // KRO v0.9.3 has no such field: the graph does not build for it.
    /// let old = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "WebApp")
    ///     .short_names(["wa"])
    ///     .build(|_, spec| AppStatusExpr { name: spec.name.clone() });
    /// assert!(old.to_rgd().unwrap_err().to_string().contains("needs KRO main"));
    /// ```
    pub fn short_names<I: IntoIterator<Item = T>, T: Into<String>>(mut self, names: I) -> Self {
        self.short_names.extend(names.into_iter().map(Into::into));
        self
    }

    /// `schema.categories`: groups the instance kind belongs to, for
    /// `kubectl get CATEGORY` (KRO main; see [`short_names`](Self::short_names)).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App")
    ///     .kro_version(KroVersion::Main)
    ///     .categories(["platform", "apps"])
    ///     .build(|g, spec| {
    ///         let web = g.add(Deployment::new(&spec.name, "nginx"));
    ///         AppStatusExpr { ready: web.status().ready_replicas() }
    ///     });
    /// let rgd = graph.to_rgd().unwrap();
    /// assert_eq!(rgd.spec.schema.categories, Some(vec!["platform".to_string(), "apps".to_string()]));
    /// ```
    pub fn categories<I: IntoIterator<Item = T>, T: Into<String>>(mut self, names: I) -> Self {
        self.categories.extend(names.into_iter().map(Into::into));
        self
    }

    /// Builds the graph: `f` receives the graph and the typed spec
    /// references and returns the status expressions.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone, serde::Serialize)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub ready: i64 }
    /// let graph = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    ///     let web = g.add(Deployment::new(&spec.name, "nginx"));
    ///     AppStatusExpr { ready: web.status().ready_replicas() }
    /// });
    /// let rgd = graph.to_rgd().unwrap();
    /// let status = serde_json::to_value(rgd.spec.schema.status.as_ref().unwrap()).unwrap();
    /// assert_eq!(status["ready"], "${deployment0.status.readyReplicas}");
    /// ```
    pub fn build(self, f: impl FnOnce(&mut Graph, &S::Ref) -> St::Exprs) -> ResourceGraph<S, St> {
        let mut rgd = ResourceGraphDefinition::new(&self.name, "", &self.kind);
        rgd.kro_version = self.kro_version;
        if !self.short_names.is_empty() {
            rgd.spec.schema.short_names = Some(self.short_names.clone());
        }
        if !self.categories.is_empty() {
            rgd.spec.schema.categories = Some(self.categories.clone());
        }
        match self.api_version.rsplit_once('/') {
            Some((g, v)) => {
                rgd.spec.schema.group = Some(g.to_string());
                rgd.spec.schema.api_version = v.to_string();
            }
            None => rgd.spec.schema.api_version = self.api_version.clone(),
        }
        let mut types = Types::default();
        let mut problems = Vec::new();
        match S::simple_type(&mut types) {
            SimpleType::Object(tree) => rgd.spec.schema.spec = Some(tree),
            SimpleType::Leaf(_) => problems.push("the spec type must be a struct".to_string()),
        }
        let mut status_types = Types::default();
        let _ = St::simple_type(&mut status_types);
        if !types.0.is_empty() {
            rgd.spec.schema.types = Some(types.0.into_iter().collect());
        }
        let spec_ref = S::reference(&RefBase::new("schema", &["spec"]));
        let mut g = Graph::default();
        let status = f(&mut g, &spec_ref);
        match St::status_node(&status) {
            FieldNode::Object(tree) => {
                if !tree.is_empty() {
                    rgd.spec.schema.status = Some(tree);
                }
            }
            FieldNode::Leaf(_) | FieldNode::List(_) => {
                problems.push("the status type must be a struct".to_string())
            }
        }
        if !g.conditions.is_empty() {
            let entries = g.conditions.drain(..).map(FieldNode::Leaf).collect();
            let status = rgd.spec.schema.status.get_or_insert_with(Default::default);
            if status.contains_key("conditions") {
                g.problems.push("the status type has a field `conditions`, which KRO reads as the author-defined conditions: rename it, or leave out add_condition".into());
            } else {
                status.insert("conditions".into(), FieldNode::List(entries));
            }
        }
        problems.extend(g.problems);
        rgd.spec.resources = g.resources;
        let nested = g.nested;
        let lints = lint(&rgd);
        // A nested graph's instance is checked against its instance schema.
        let validation = if nested.is_empty() {
            validate(&rgd)
        } else {
            match kroxide_semantics::chain::RgdSet::new(nested.iter().chain([&rgd])) {
                Ok(set) => set.validate(&rgd),
                Err(e) => {
                    problems.push(e.to_string());
                    validate(&rgd)
                }
            }
        };
        let diagnostics: Vec<Diagnostic> = validation
            .diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        let rgd = if problems.is_empty() && diagnostics.is_empty() {
            Ok(rgd)
        } else {
            Err(BuildError {
                graph: self.name.clone(),
                problems,
                diagnostics,
            })
        };
        ResourceGraph {
            name: self.name,
            rgd,
            nested,
            lints,
            _t: PhantomData,
        }
    }
}

/// Services whose literal selector matches no pod template of the graph.
fn lint(rgd: &ResourceGraphDefinition) -> Vec<Lint> {
    // (serde_json's `pointer` parses its path on every call; these paths are fixed.)
    fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
        path.iter().try_fold(v, |v, k| v.get(k))
    }
    let mut pods: Vec<BTreeMap<&str, &str>> = Vec::new();
    for r in &rgd.spec.resources {
        let Some(t) = &r.template else { continue };
        let is_pod = t.get("kind").and_then(Value::as_str) == Some("Pod");
        let labels = at(t, &["spec", "template", "metadata", "labels"])
            .or_else(|| {
                at(
                    t,
                    &[
                        "spec",
                        "jobTemplate",
                        "spec",
                        "template",
                        "metadata",
                        "labels",
                    ],
                )
            })
            .or_else(|| at(t, &["metadata", "labels"]).filter(|_| is_pod));
        if let Some(Value::Object(l)) = labels {
            pods.push(
                l.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
                    .collect(),
            );
        }
    }
    // Pod templates by each of their labels, so a selector is checked against
    // the templates that share one of its labels, not against all of them.
    let mut by_label: std::collections::HashMap<(&str, &str), Vec<usize>> =
        std::collections::HashMap::new();
    for (i, p) in pods.iter().enumerate() {
        for (k, v) in p {
            by_label.entry((*k, *v)).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for r in &rgd.spec.resources {
        let Some(t) = &r.template else { continue };
        if t.get("kind").and_then(Value::as_str) != Some("Service") {
            continue;
        }
        let Some(Value::Object(sel)) = at(t, &["spec", "selector"]) else {
            continue;
        };
        let sel: BTreeMap<&str, &str> = sel
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
            .collect();
        if sel.is_empty() || sel.values().any(|v| has_expression_start(v)) {
            continue;
        }
        let (k0, v0) = sel.iter().next().map(|(k, v)| (*k, *v)).unwrap_or_default();
        let matched = by_label.get(&(k0, v0)).is_some_and(|candidates| {
            candidates
                .iter()
                .any(|&i| sel.iter().all(|(k, v)| pods[i].get(k) == Some(v)))
        });
        if !matched {
            let shown: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(Lint {
                resource: r.id.clone(),
                message: format!(
                    "Service selects {}, which matches no pod template in this graph",
                    shown.join(",")
                ),
            });
        }
    }
    out
}

/// Typed access to the kinds of handles, for generic code.
///
/// ```
/// # use kroxide_dsl::*;
/// use kroxide_dsl::graph::kind_of;
/// let mut g = Graph::default();
/// let cert = g.add(Secret::new("tls"));
/// assert_eq!(kind_of(&cert), ("v1", "Secret"));
/// ```
pub fn kind_of<K: Kind>(_: &Handle<K>) -> (&'static str, &'static str) {
    (K::API_VERSION, K::KIND)
}

/// An expression's CEL, for tests and debugging.
///
/// ```
/// # use kroxide_dsl::*;
/// use kroxide_dsl::graph::cel_of;
/// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
/// assert_eq!(cel_of(&(replicas + 1)), "schema.spec.replicas + 1");
/// ```
pub fn cel_of<T>(e: &Expr<T>) -> String {
    e.to_cel()
}
