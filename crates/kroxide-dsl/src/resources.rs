//! Resource factories: typed builders for the kinds kroxide users write.
//!
//! Every field takes a literal or an `Expr<T>` of the field's type, so an
//! integer expression cannot land in a string field. Each builder renders
//! the Kubernetes object as an RGD template; anything a builder lacks can
//! be set by path with [`Object::set`] (or [`Object::set_at`], whose keys
//! may hold dots) on any object, including any k8s-openapi struct.

use crate::expr::{Expr, IntoExpr, Node};
use crate::handle::{Handle, Kind};
use base64::Engine as _;
use kroxide_semantics::expr::has_expression_start;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// What every builder produces for the graph.
///
/// ```
/// # use kroxide_dsl::*;
/// let built: Built = ConfigMap::new("cfg").data("mode", "fast").into_built();
/// assert_eq!(built.template["kind"], "ConfigMap");
/// assert_eq!(built.name.as_deref(), Some("cfg"));
/// assert!(built.errors.is_empty());
/// ```
pub struct Built {
    pub template: Value,
    pub errors: Vec<String>,
    /// The literal name, when the name is not an expression.
    pub name: Option<String>,
    /// The pod selector labels of a workload (for `Service::exposing`).
    pub pod_labels: BTreeMap<String, Value>,
    /// `metadata.name` as rendered (a literal or a `${...}` string).
    pub name_value: Value,
}

/// A builder that can be added to a graph.
///
/// ```
/// # use kroxide_dsl::*;
/// fn kind_name(r: impl IntoResource) -> String {
///     r.into_built().template["kind"].as_str().unwrap().to_string()
/// }
/// assert_eq!(kind_name(Secret::new("db")), "Secret");
/// assert_eq!(kind_name(Deployment::new("web", "nginx")), "Deployment");
/// ```
pub trait IntoResource {
    type Kind: Kind;
    /// Renders the builder: the template and the mistakes found.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Namespace::new("shop").into_built();
    /// assert_eq!(built.template["apiVersion"], "v1");
    /// assert_eq!(built.name_value, "shop");
    /// ```
    fn into_built(self) -> Built;
}

/// An object under construction: a JSON template plus the mistakes found.
/// Reached only through the builders ([`HasMeta`]'s hidden `obj`).
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct Obj {
    v: Value,
    errors: Vec<String>,
    name: Option<String>,
}

impl Obj {
    fn new(api_version: &str, kind: &str, name: Expr<String>) -> Self {
        let mut o = Obj {
            v: json!({"apiVersion": api_version, "kind": kind, "metadata": {}}),
            errors: Vec::new(),
            name: None,
        };
        if let Node::Lit(Value::String(s)) = name.node() {
            o.name = Some(s.clone());
        }
        o.set_expr(&["metadata", "name"], &name);
        o
    }

    fn value<T>(&mut self, e: &Expr<T>) -> Value {
        if let Some(m) = e.node().invalid() {
            self.errors.push(m.to_string());
        }
        e.to_field_value()
    }

    fn set(&mut self, path: &[&str], v: Value) {
        set_path(&mut self.v, path, v);
    }

    fn set_expr<T>(&mut self, path: &[&str], e: &Expr<T>) {
        let v = self.value(e);
        self.set(path, v);
    }

    fn push(&mut self, path: &[&str], v: Value) {
        push_path(&mut self.v, path, v);
    }

    fn built(self, pod_labels: BTreeMap<String, Value>) -> Built {
        let name_value = self
            .v
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        Built {
            name_value,
            template: self.v,
            errors: self.errors,
            name: self.name,
            pod_labels,
        }
    }
}

fn set_path(root: &mut Value, path: &[&str], v: Value) {
    let mut cur = root;
    for (i, seg) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let m = cur.as_object_mut().expect("object");
        if i == path.len() - 1 {
            m.insert(seg.to_string(), v);
            return;
        }
        cur = m
            .entry(seg.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn push_path(root: &mut Value, path: &[&str], v: Value) {
    let mut cur = root;
    for seg in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur
            .as_object_mut()
            .expect("object")
            .entry(seg.to_string())
            .or_insert(Value::Null);
    }
    if !cur.is_array() {
        *cur = Value::Array(Vec::new());
    }
    cur.as_array_mut().expect("array").push(v);
}

/// Metadata setters every builder has.
///
/// ```
/// # use kroxide_dsl::*;
/// fn owned<T: HasMeta>(b: T) -> T {
///     b.label("team", "shop").annotation("owner", "ops@example.com")
/// }
/// let built = owned(Service::new("web")).into_built();
/// assert_eq!(built.template["metadata"]["labels"]["team"], "shop");
/// assert_eq!(built.template["metadata"]["annotations"]["owner"], "ops@example.com");
/// ```
pub trait HasMeta: Sized {
    #[doc(hidden)]
    fn obj(&mut self) -> &mut Obj;

    /// Adds a label.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = ConfigMap::new("cfg").label("app.kubernetes.io/part-of", "shop").into_built();
    /// assert_eq!(built.template["metadata"]["labels"]["app.kubernetes.io/part-of"], "shop");
    /// ```
    fn label(mut self, key: &str, value: impl IntoExpr<String>) -> Self {
        let e = value.into_expr();
        self.obj().set_expr(&["metadata", "labels", key], &e);
        self
    }

    /// Adds an annotation.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let region: Expr<String> = Expr::reference("schema", &["spec", "region"]);
    /// let built = ConfigMap::new("cfg").annotation("example.com/region", &region).into_built();
    /// assert_eq!(built.template["metadata"]["annotations"]["example.com/region"], "${schema.spec.region}");
    /// ```
    fn annotation(mut self, key: &str, value: impl IntoExpr<String>) -> Self {
        let e = value.into_expr();
        self.obj().set_expr(&["metadata", "annotations", key], &e);
        self
    }

    /// Keeps the object when the instance is deleted, or when the resource
    /// leaves the graph (pruned): the annotation
    /// `kroxide.dev/delete-policy: retain`. The object is orphaned (kroxide's
    /// labels are removed) and reported as kept, as Helm's
    /// `helm.sh/resource-policy: keep` does; a later deploy takes it back
    /// with `--adopt`. kroxide's direct mode only: KRO deletes every child of
    /// an instance (`deploy --mode kro` warns).
    ///
    /// ```
    /// use kroxide_dsl::{HasMeta, IntoResource, PersistentVolumeClaim};
    /// let built = PersistentVolumeClaim::new("data", "10Gi").retain().into_built();
    /// assert_eq!(built.template["metadata"]["annotations"]["kroxide.dev/delete-policy"], "retain");
    /// ```
    fn retain(self) -> Self {
        self.annotation(kroxide_model::DELETE_POLICY_ANNOTATION, "retain")
    }

    /// Sets `metadata.namespace` (by default the instance's namespace).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Secret::new("db").namespace("shared").into_built();
    /// assert_eq!(built.template["metadata"]["namespace"], "shared");
    /// ```
    fn namespace(mut self, ns: impl IntoExpr<String>) -> Self {
        let e = ns.into_expr();
        self.obj().set_expr(&["metadata", "namespace"], &e);
        self
    }
}

macro_rules! kind {
    ($(#[$m:meta])* $name:ident, $av:literal, $k:literal) => {
        $(#[$m])*
        impl Kind for $name {
            const API_VERSION: &'static str = $av;
            const KIND: &'static str = $k;
        }
    };
}

macro_rules! simple_resource {
    ($name:ident) => {
        impl HasMeta for $name {
            fn obj(&mut self) -> &mut Obj {
                &mut self.obj
            }
        }
        impl IntoResource for $name {
            type Kind = $name;
            fn into_built(self) -> Built {
                self.obj.built(BTreeMap::new())
            }
        }
    };
}

// ---------------------------------------------------------------- probes

/// A container probe.
#[derive(Clone, Debug)]
///
/// ```
/// # use kroxide_dsl::*;
/// let probe: Probe = http_get("/healthz", 8080).period_seconds(5);
/// let built = Deployment::new("web", "nginx").liveness(probe).into_built();
/// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
/// assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
/// assert_eq!(c["livenessProbe"]["periodSeconds"], 5);
/// ```
pub struct Probe(Value);

/// An HTTP GET probe on `path` and `port` (literals or expressions).
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Deployment::new("web", "nginx").readiness(http_get("/ready", 8080)).into_built();
/// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
/// assert_eq!(c["readinessProbe"]["httpGet"], serde_json::json!({"path": "/ready", "port": 8080}));
/// ```
pub fn http_get(path: impl IntoExpr<String>, port: impl IntoExpr<i64>) -> Probe {
    Probe(
        json!({"httpGet": {"path": path.into_expr().to_field_value(), "port": port.into_expr().to_field_value()}}),
    )
}

/// A TCP socket probe on `port`.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = StatefulSet::new("db", "postgres:16").liveness(tcp_socket(5432)).into_built();
/// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
/// assert_eq!(c["livenessProbe"]["tcpSocket"]["port"], 5432);
/// ```
pub fn tcp_socket(port: impl IntoExpr<i64>) -> Probe {
    Probe(json!({"tcpSocket": {"port": port.into_expr().to_field_value()}}))
}

impl Probe {
    /// `initialDelaySeconds`: seconds before the first probe.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let probe = tcp_socket(6379).initial_delay_seconds(10);
    /// let built = Deployment::new("cache", "redis:7").liveness(probe).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["livenessProbe"]["initialDelaySeconds"], 10);
    /// ```
    pub fn initial_delay_seconds(mut self, s: i32) -> Self {
        self.0["initialDelaySeconds"] = json!(s);
        self
    }
    /// `periodSeconds`: seconds between probes.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let probe = http_get("/healthz", 8080).period_seconds(20);
    /// let built = Deployment::new("web", "nginx").readiness(probe).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["readinessProbe"]["periodSeconds"], 20);
    /// ```
    pub fn period_seconds(mut self, s: i32) -> Self {
        self.0["periodSeconds"] = json!(s);
        self
    }
    /// `failureThreshold`: failed probes in a row before the probe fails.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let probe = http_get("/healthz", 8080).failure_threshold(3);
    /// let built = Deployment::new("web", "nginx").liveness(probe).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["livenessProbe"]["failureThreshold"], 3);
    /// ```
    pub fn failure_threshold(mut self, n: i32) -> Self {
        self.0["failureThreshold"] = json!(n);
        self
    }
}

// ---------------------------------------------------------------- workloads

/// The kinds that run pods from a template.
///
/// ```
/// # use kroxide_dsl::*;
/// fn with_metrics<K: WorkloadKind>(w: Workload<K>) -> Workload<K> {
///     w.named_port("metrics", 9090)
/// }
/// let built = with_metrics(Job::new("migrate", "app:1")).into_built();
/// let pod = &built.template["spec"]["template"]["spec"];
/// assert_eq!(pod["containers"][0]["ports"][0]["name"], "metrics");
/// assert_eq!(pod["restartPolicy"], "Never");
/// ```
pub trait WorkloadKind: Kind {
    #[doc(hidden)]
    fn pod_template_path() -> &'static [&'static str] {
        &["spec", "template"]
    }
    #[doc(hidden)]
    fn has_selector() -> bool {
        true
    }
    #[doc(hidden)]
    fn has_replicas() -> bool {
        false
    }
    #[doc(hidden)]
    fn restart_policy() -> Option<&'static str> {
        None
    }
}

/// Kind markers for the workload builders.
pub mod kinds {
    use super::*;
    /// apps/v1 Deployment.
    ///
    /// ```
    /// # use kroxide_dsl::{kinds::DeploymentKind, Kind};
    /// assert_eq!((DeploymentKind::API_VERSION, DeploymentKind::KIND), ("apps/v1", "Deployment"));
    /// ```
    pub struct DeploymentKind;
    /// apps/v1 StatefulSet.
    ///
    /// ```
    /// # use kroxide_dsl::{kinds::StatefulSetKind, Kind};
    /// assert_eq!((StatefulSetKind::API_VERSION, StatefulSetKind::KIND), ("apps/v1", "StatefulSet"));
    /// ```
    pub struct StatefulSetKind;
    /// apps/v1 DaemonSet.
    ///
    /// ```
    /// # use kroxide_dsl::{kinds::DaemonSetKind, Kind};
    /// assert_eq!((DaemonSetKind::API_VERSION, DaemonSetKind::KIND), ("apps/v1", "DaemonSet"));
    /// ```
    pub struct DaemonSetKind;
    /// batch/v1 Job.
    ///
    /// ```
    /// # use kroxide_dsl::{kinds::JobKind, Kind};
    /// assert_eq!((JobKind::API_VERSION, JobKind::KIND), ("batch/v1", "Job"));
    /// ```
    pub struct JobKind;
    /// batch/v1 CronJob.
    ///
    /// ```
    /// # use kroxide_dsl::{kinds::CronJobKind, Kind};
    /// assert_eq!((CronJobKind::API_VERSION, CronJobKind::KIND), ("batch/v1", "CronJob"));
    /// ```
    pub struct CronJobKind;
    kind!(DeploymentKind, "apps/v1", "Deployment");
    kind!(StatefulSetKind, "apps/v1", "StatefulSet");
    kind!(DaemonSetKind, "apps/v1", "DaemonSet");
    kind!(JobKind, "batch/v1", "Job");
    kind!(CronJobKind, "batch/v1", "CronJob");
    impl WorkloadKind for DeploymentKind {
        fn has_replicas() -> bool {
            true
        }
    }
    impl WorkloadKind for StatefulSetKind {
        fn has_replicas() -> bool {
            true
        }
    }
    impl WorkloadKind for DaemonSetKind {}
    impl WorkloadKind for JobKind {
        fn has_selector() -> bool {
            false
        }
        fn restart_policy() -> Option<&'static str> {
            Some("Never")
        }
    }
    impl WorkloadKind for CronJobKind {
        fn pod_template_path() -> &'static [&'static str] {
            &["spec", "jobTemplate", "spec", "template"]
        }
        fn has_selector() -> bool {
            false
        }
        fn restart_policy() -> Option<&'static str> {
            Some("OnFailure")
        }
    }
}

/// A workload with one container: Deployment, StatefulSet, DaemonSet, Job
/// or CronJob. Labels default to `app: <name>` on the object, its selector
/// and its pod template, so a Service made with [`Service::exposing`] matches.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Workload::<kinds::StatefulSetKind>::new("db", "postgres:16").into_built();
/// let t = &built.template;
/// assert_eq!(t["kind"], "StatefulSet");
/// assert_eq!(t["metadata"]["labels"]["app"], "db");
/// assert_eq!(t["spec"]["selector"]["matchLabels"]["app"], "db");
/// assert_eq!(t["spec"]["template"]["metadata"]["labels"]["app"], "db");
/// ```
pub struct Workload<K> {
    obj: Obj,
    name: Expr<String>,
    labels: Vec<(String, Expr<String>)>,
    container: Map<String, Value>,
    volumes: Vec<Value>,
    pod_spec: Map<String, Value>,
    _k: PhantomData<fn() -> K>,
}

/// apps/v1 Deployment.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Deployment::new("web", "nginx").replicas(2).into_built();
/// assert_eq!(built.template["apiVersion"], "apps/v1");
/// assert_eq!(built.template["kind"], "Deployment");
/// assert_eq!(built.template["spec"]["replicas"], 2);
/// ```
pub type Deployment = Workload<kinds::DeploymentKind>;
/// apps/v1 StatefulSet.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = StatefulSet::new("db", "postgres:16").into_built();
/// assert_eq!(built.template["kind"], "StatefulSet");
/// assert_eq!(built.template["spec"]["selector"]["matchLabels"]["app"], "db");
/// ```
pub type StatefulSet = Workload<kinds::StatefulSetKind>;
/// apps/v1 DaemonSet.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = DaemonSet::new("agent", "fluent-bit:3").into_built();
/// assert_eq!(built.template["kind"], "DaemonSet");
/// assert_eq!(built.template["spec"]["template"]["metadata"]["labels"]["app"], "agent");
/// ```
pub type DaemonSet = Workload<kinds::DaemonSetKind>;
/// batch/v1 Job.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Job::new("migrate", "app:1").into_built();
/// assert_eq!(built.template["apiVersion"], "batch/v1");
/// assert_eq!(built.template["spec"]["template"]["spec"]["restartPolicy"], "Never");
/// assert!(built.template["spec"].get("selector").is_none());
/// ```
pub type Job = Workload<kinds::JobKind>;
/// batch/v1 CronJob.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = CronJob::new("report", "app:1").schedule("0 3 * * *").into_built();
/// let pod = &built.template["spec"]["jobTemplate"]["spec"]["template"]["spec"];
/// assert_eq!(pod["containers"][0]["image"], "app:1");
/// assert_eq!(pod["restartPolicy"], "OnFailure");
/// ```
pub type CronJob = Workload<kinds::CronJobKind>;

impl<K: WorkloadKind> Kind for Workload<K> {
    const API_VERSION: &'static str = K::API_VERSION;
    const KIND: &'static str = K::KIND;
}

impl<K: WorkloadKind> Workload<K> {
    /// A workload `name` running `image`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx:1.27").into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!((c["name"].as_str(), c["image"].as_str()), (Some("web"), Some("nginx:1.27")));
    /// assert_eq!(built.template["metadata"]["name"], "web");
    /// ```
    pub fn new(name: impl IntoExpr<String>, image: impl IntoExpr<String>) -> Self {
        let name = name.into_expr();
        let mut obj = Obj::new(K::API_VERSION, K::KIND, name.clone());
        let mut container = Map::new();
        let cname = match name.node() {
            Node::Lit(Value::String(s)) => Value::String(s.clone()),
            _ => obj.value(&name),
        };
        container.insert("name".into(), cname);
        let image = image.into_expr();
        container.insert("image".into(), obj.value(&image));
        Workload {
            obj,
            labels: vec![("app".into(), name.clone())],
            name,
            container,
            volumes: Vec::new(),
            pod_spec: Map::new(),
            _k: PhantomData,
        }
    }

    /// `spec.replicas` (Deployment, StatefulSet).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
    /// let built = Deployment::new("web", "nginx").replicas(&replicas).into_built();
    /// assert_eq!(built.template["spec"]["replicas"], "${schema.spec.replicas}");
    /// ```
    pub fn replicas(mut self, n: impl IntoExpr<i64>) -> Self {
        let e = n.into_expr();
        self.obj.set_expr(&["spec", "replicas"], &e);
        self
    }

    /// A label on the object and its pods (the selector keeps `app` only).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").pod_label("tier", "frontend").into_built();
    /// let t = &built.template;
    /// assert_eq!(t["metadata"]["labels"]["tier"], "frontend");
    /// assert_eq!(t["spec"]["template"]["metadata"]["labels"]["tier"], "frontend");
    /// assert_eq!(t["spec"]["selector"]["matchLabels"], serde_json::json!({"app": "web"}));
    /// ```
    pub fn pod_label(mut self, key: &str, value: impl IntoExpr<String>) -> Self {
        self.labels.push((key.to_string(), value.into_expr()));
        self
    }

    /// Replaces the default `app: <name>` selector label.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web-v2", "nginx").app_label("web").into_built();
    /// assert_eq!(built.template["spec"]["selector"]["matchLabels"]["app"], "web");
    /// assert_eq!(built.template["spec"]["template"]["metadata"]["labels"]["app"], "web");
    /// ```
    pub fn app_label(mut self, value: impl IntoExpr<String>) -> Self {
        self.labels[0].1 = value.into_expr();
        self
    }

    /// A container port.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").port(8080).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["ports"][0]["containerPort"], 8080);
    /// ```
    pub fn port(mut self, port: impl IntoExpr<i64>) -> Self {
        let p = self.obj.value(&port.into_expr());
        push_map(&mut self.container, "ports", json!({"containerPort": p}));
        self
    }

    /// A named container port.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").named_port("http", 8080).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["ports"][0], serde_json::json!({"name": "http", "containerPort": 8080}));
    /// ```
    pub fn named_port(mut self, name: &str, port: i32) -> Self {
        push_map(
            &mut self.container,
            "ports",
            json!({"name": name, "containerPort": port}),
        );
        self
    }

    /// An environment variable with a value.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let level: Expr<String> = Expr::reference("schema", &["spec", "logLevel"]);
    /// let built = Deployment::new("web", "nginx").env("MODE", "prod").env("LOG_LEVEL", &level).into_built();
    /// let env = &built.template["spec"]["template"]["spec"]["containers"][0]["env"];
    /// assert_eq!(env[0], serde_json::json!({"name": "MODE", "value": "prod"}));
    /// assert_eq!(env[1]["value"], "${schema.spec.logLevel}");
    /// ```
    pub fn env(mut self, name: &str, value: impl IntoExpr<String>) -> Self {
        let v = self.obj.value(&value.into_expr());
        push_map(
            &mut self.container,
            "env",
            json!({"name": name, "value": v}),
        );
        self
    }

    /// An environment variable from a key of a Secret in the graph.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let db = g.add(Secret::new("db").data("password", "s3cret"));
    /// let built = Deployment::new("api", "api:1").env_secret("DB_PASSWORD", &db, "password").into_built();
    /// let env = &built.template["spec"]["template"]["spec"]["containers"][0]["env"][0];
    /// assert_eq!(env["valueFrom"]["secretKeyRef"]["name"], "${dbSecret.metadata.name}");
    /// assert_eq!(env["valueFrom"]["secretKeyRef"]["key"], "password");
    /// ```
    pub fn env_secret(mut self, name: &str, secret: &Handle<Secret>, key: &str) -> Self {
        let n = self.obj.value(&secret.name());
        push_map(
            &mut self.container,
            "env",
            json!({"name": name, "valueFrom": {"secretKeyRef": {"name": n, "key": key}}}),
        );
        self
    }

    /// An environment variable from a key of a ConfigMap in the graph.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let cfg = g.add(ConfigMap::new("app-config").data("mode", "fast"));
    /// let built = Deployment::new("api", "api:1").env_config("MODE", &cfg, "mode").into_built();
    /// let env = &built.template["spec"]["template"]["spec"]["containers"][0]["env"][0];
    /// assert_eq!(env["valueFrom"]["configMapKeyRef"]["name"], "${appConfig.metadata.name}");
    /// assert_eq!(env["valueFrom"]["configMapKeyRef"]["key"], "mode");
    /// ```
    pub fn env_config(mut self, name: &str, config: &Handle<ConfigMap>, key: &str) -> Self {
        let n = self.obj.value(&config.name());
        push_map(
            &mut self.container,
            "env",
            json!({"name": name, "valueFrom": {"configMapKeyRef": {"name": n, "key": key}}}),
        );
        self
    }

    /// All keys of a ConfigMap as environment variables.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let cfg = g.add(ConfigMap::new("app-config").data("MODE", "fast"));
    /// let built = Deployment::new("api", "api:1").env_from(&cfg).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["envFrom"][0]["configMapRef"]["name"], "${appConfig.metadata.name}");
    /// ```
    pub fn env_from(mut self, config: &Handle<ConfigMap>) -> Self {
        let n = self.obj.value(&config.name());
        push_map(
            &mut self.container,
            "envFrom",
            json!({"configMapRef": {"name": n}}),
        );
        self
    }

    /// All keys of a Secret as environment variables.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let creds = g.add(Secret::new("db").data("PGPASSWORD", "s3cret"));
    /// let built = Deployment::new("api", "api:1").env_from_secret(&creds).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["envFrom"][0]["secretRef"]["name"], "${dbSecret.metadata.name}");
    /// ```
    pub fn env_from_secret(mut self, secret: &Handle<Secret>) -> Self {
        let n = self.obj.value(&secret.name());
        push_map(
            &mut self.container,
            "envFrom",
            json!({"secretRef": {"name": n}}),
        );
        self
    }

    /// The liveness probe.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").liveness(http_get("/healthz", 80)).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    /// ```
    pub fn liveness(mut self, p: Probe) -> Self {
        self.container.insert("livenessProbe".into(), p.0);
        self
    }

    /// The readiness probe.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").readiness(tcp_socket(80)).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["readinessProbe"]["tcpSocket"]["port"], 80);
    /// ```
    pub fn readiness(mut self, p: Probe) -> Self {
        self.container.insert("readinessProbe".into(), p.0);
        self
    }

    /// Resource requests (`cpu`, `memory` as quantities: "100m", "128Mi").
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").requests("100m", "128Mi").into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["resources"]["requests"], serde_json::json!({"cpu": "100m", "memory": "128Mi"}));
    /// ```
    pub fn requests(mut self, cpu: impl IntoExpr<String>, memory: impl IntoExpr<String>) -> Self {
        let (cpu, memory) = (
            self.obj.value(&cpu.into_expr()),
            self.obj.value(&memory.into_expr()),
        );
        let r = self
            .container
            .entry("resources")
            .or_insert_with(|| json!({}));
        r["requests"] = json!({"cpu": cpu, "memory": memory});
        self
    }

    /// Resource limits.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").requests("100m", "128Mi").limits("1", "512Mi").into_built();
    /// let r = &built.template["spec"]["template"]["spec"]["containers"][0]["resources"];
    /// assert_eq!(r["limits"], serde_json::json!({"cpu": "1", "memory": "512Mi"}));
    /// assert_eq!(r["requests"]["cpu"], "100m");
    /// ```
    pub fn limits(mut self, cpu: impl IntoExpr<String>, memory: impl IntoExpr<String>) -> Self {
        let (cpu, memory) = (
            self.obj.value(&cpu.into_expr()),
            self.obj.value(&memory.into_expr()),
        );
        let r = self
            .container
            .entry("resources")
            .or_insert_with(|| json!({}));
        r["limits"] = json!({"cpu": cpu, "memory": memory});
        self
    }

    /// The container command.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Job::new("migrate", "app:1").command(&["/app/migrate", "--up"]).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["command"], serde_json::json!(["/app/migrate", "--up"]));
    /// ```
    pub fn command(mut self, args: &[&str]) -> Self {
        self.container.insert("command".into(), json!(args));
        self
    }

    /// The container arguments.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Deployment::new("web", "nginx").args(&["-g", "daemon off;"]).into_built();
    /// let c = &built.template["spec"]["template"]["spec"]["containers"][0];
    /// assert_eq!(c["args"], serde_json::json!(["-g", "daemon off;"]));
    /// ```
    pub fn args(mut self, args: &[&str]) -> Self {
        self.container.insert("args".into(), json!(args));
        self
    }

    fn mount_volume(mut self, volume: Value, vol_name: String, path: Expr<String>) -> Self {
        let path = self.obj.value(&path);
        if !self
            .volumes
            .iter()
            .any(|v| v["name"] == Value::String(vol_name.clone()))
        {
            self.volumes.push(volume);
        }
        push_map(
            &mut self.container,
            "volumeMounts",
            json!({"name": vol_name, "mountPath": path}),
        );
        self
    }

    /// Mounts a ConfigMap of the graph at `path`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let cfg = g.add(ConfigMap::new("app-config").data("nginx.conf", "..."));
    /// let built = Deployment::new("web", "nginx").mount(&cfg, "/etc/nginx").into_built();
    /// let pod = &built.template["spec"]["template"]["spec"];
    /// assert_eq!(pod["volumes"][0], serde_json::json!({"name": "app-config", "configMap": {"name": "${appConfig.metadata.name}"}}));
    /// assert_eq!(pod["containers"][0]["volumeMounts"][0], serde_json::json!({"name": "app-config", "mountPath": "/etc/nginx"}));
    /// ```
    pub fn mount(mut self, config: &Handle<ConfigMap>, path: impl IntoExpr<String>) -> Self {
        let path = path.into_expr();
        let vol = volume_name(config.literal_name(), config.id());
        let n = self.obj.value(&config.name());
        self.mount_volume(json!({"name": vol, "configMap": {"name": n}}), vol, path)
    }

    /// Mounts a Secret of the graph at `path`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let tls = g.add(Secret::new("tls").data("tls.crt", "..."));
    /// let built = Deployment::new("web", "nginx").mount_secret(&tls, "/etc/tls").into_built();
    /// let pod = &built.template["spec"]["template"]["spec"];
    /// assert_eq!(pod["volumes"][0]["secret"]["secretName"], "${tlsSecret.metadata.name}");
    /// assert_eq!(pod["containers"][0]["volumeMounts"][0]["mountPath"], "/etc/tls");
    /// ```
    pub fn mount_secret(mut self, secret: &Handle<Secret>, path: impl IntoExpr<String>) -> Self {
        let path = path.into_expr();
        let vol = volume_name(secret.literal_name(), secret.id());
        let n = self.obj.value(&secret.name());
        self.mount_volume(json!({"name": vol, "secret": {"secretName": n}}), vol, path)
    }

    /// Mounts a PersistentVolumeClaim of the graph at `path`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let data = g.add(PersistentVolumeClaim::new("data", "10Gi"));
    /// let built = StatefulSet::new("db", "postgres:16").mount_claim(&data, "/var/lib/postgresql").into_built();
    /// let pod = &built.template["spec"]["template"]["spec"];
    /// assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "${dataPersistentVolumeClaim.metadata.name}");
    /// assert_eq!(pod["containers"][0]["volumeMounts"][0]["mountPath"], "/var/lib/postgresql");
    /// ```
    pub fn mount_claim(
        mut self,
        claim: &Handle<PersistentVolumeClaim>,
        path: impl IntoExpr<String>,
    ) -> Self {
        let path = path.into_expr();
        let vol = volume_name(claim.literal_name(), claim.id());
        let n = self.obj.value(&claim.name());
        self.mount_volume(
            json!({"name": vol, "persistentVolumeClaim": {"claimName": n}}),
            vol,
            path,
        )
    }

    /// Mounts only this key of the last mounted volume (`subPath`).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let cfg = g.add(ConfigMap::new("app-config").data("nginx.conf", "..."));
    /// let built = Deployment::new("web", "nginx")
    ///     .mount(&cfg, "/etc/nginx/nginx.conf").sub_path("nginx.conf")
    ///     .into_built();
    /// let mount = &built.template["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0];
    /// assert_eq!(mount["subPath"], "nginx.conf");
    /// ```
    pub fn sub_path(mut self, sub: impl IntoExpr<String>) -> Self {
        let sub = self.obj.value(&sub.into_expr());
        if let Some(Value::Array(m)) = self.container.get_mut("volumeMounts") {
            if let Some(last) = m.last_mut() {
                last["subPath"] = sub;
            }
        }
        self
    }

    /// The pod's service account.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let sa = g.add(ServiceAccount::new("runner"));
    /// let built = Deployment::new("web", "nginx").service_account(&sa).into_built();
    /// let pod = &built.template["spec"]["template"]["spec"];
    /// assert_eq!(pod["serviceAccountName"], "${runnerServiceAccount.metadata.name}");
    /// ```
    pub fn service_account(mut self, sa: &Handle<ServiceAccount>) -> Self {
        let n = self.obj.value(&sa.name());
        self.pod_spec.insert("serviceAccountName".into(), n);
        self
    }

    /// `spec.serviceName` (StatefulSet).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let svc = g.add(Service::new("db").port(5432));
    /// let built = StatefulSet::new("db", "postgres:16").service_name(&svc).into_built();
    /// assert_eq!(built.template["spec"]["serviceName"], "${dbService.metadata.name}");
    /// ```
    pub fn service_name(mut self, svc: &Handle<Service>) -> Self {
        let n = self.obj.value(&svc.name());
        self.obj.set(&["spec", "serviceName"], n);
        self
    }

    /// `spec.schedule` (CronJob).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = CronJob::new("backup", "backup:1").schedule("0 2 * * *").into_built();
    /// assert_eq!(built.template["spec"]["schedule"], "0 2 * * *");
    /// ```
    pub fn schedule(mut self, cron: impl IntoExpr<String>) -> Self {
        let e = cron.into_expr();
        self.obj.set_expr(&["spec", "schedule"], &e);
        self
    }

    /// `spec.backoffLimit` (Job).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Job::new("migrate", "app:1").backoff_limit(2).into_built();
    /// assert_eq!(built.template["spec"]["backoffLimit"], 2);
    /// ```
    pub fn backoff_limit(mut self, n: impl IntoExpr<i64>) -> Self {
        let e = n.into_expr();
        self.obj.set_expr(&["spec", "backoffLimit"], &e);
        self
    }
}

fn volume_name(literal: Option<&str>, id: &str) -> String {
    match literal {
        Some(n) => n.to_string(),
        None => id.to_ascii_lowercase(),
    }
}

fn push_map(m: &mut Map<String, Value>, key: &str, v: Value) {
    match m.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(a) => a.push(v),
        other => *other = Value::Array(vec![v]),
    }
}

impl<K: WorkloadKind> HasMeta for Workload<K> {
    fn obj(&mut self) -> &mut Obj {
        &mut self.obj
    }
}

impl<K: WorkloadKind> IntoResource for Workload<K> {
    type Kind = Workload<K>;
    fn into_built(mut self) -> Built {
        let mut label_values = Map::new();
        let mut literal_labels = BTreeMap::new();
        for (k, v) in &self.labels {
            let val = self.obj.value(v);
            if let Value::String(s) = &val {
                if !has_expression_start(s) {
                    literal_labels.insert(k.clone(), s.clone());
                }
            }
            label_values.insert(k.clone(), val);
        }
        // Object labels: ours first, then any set with `.label()`.
        let existing = self.obj.v.pointer("/metadata/labels").cloned();
        let mut obj_labels = label_values.clone();
        if let Some(Value::Object(e)) = existing {
            obj_labels.extend(e);
        }
        self.obj
            .set(&["metadata", "labels"], Value::Object(obj_labels));
        let app = label_values.get("app").cloned().unwrap_or(Value::Null);
        let tpl_path = K::pod_template_path();
        if K::has_selector() {
            let mut sel = tpl_path[..tpl_path.len() - 1].to_vec();
            sel.push("selector");
            sel.push("matchLabels");
            self.obj.set(&sel, json!({"app": app.clone()}));
        }
        let mut labels_path = tpl_path.to_vec();
        labels_path.extend(["metadata", "labels"]);
        self.obj.set(&labels_path, Value::Object(label_values));
        let mut pod = std::mem::take(&mut self.pod_spec);
        pod.insert(
            "containers".into(),
            Value::Array(vec![Value::Object(std::mem::take(&mut self.container))]),
        );
        if !self.volumes.is_empty() {
            pod.insert(
                "volumes".into(),
                Value::Array(std::mem::take(&mut self.volumes)),
            );
        }
        if let Some(r) = K::restart_policy() {
            pod.insert("restartPolicy".into(), json!(r));
        }
        let mut spec_path = tpl_path.to_vec();
        spec_path.push("spec");
        self.obj.set(&spec_path, Value::Object(pod));
        let _ = &self.name;
        let _ = literal_labels;
        self.obj.built(BTreeMap::from([("app".to_string(), app)]))
    }
}

// ---------------------------------------------------------------- Service

/// v1 Service.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Service::new("web").selector("app", "web").port(80).into_built();
/// assert_eq!(built.template["kind"], "Service");
/// assert_eq!(built.template["spec"]["selector"]["app"], "web");
/// assert_eq!(built.template["spec"]["ports"][0]["port"], 80);
/// ```
pub struct Service {
    obj: Obj,
}
kind!(Service, "v1", "Service");
simple_resource!(Service);

impl Service {
    /// A Service `name` (add a selector and ports).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Service::new("web").into_built();
    /// assert_eq!(built.template["apiVersion"], "v1");
    /// assert_eq!(built.template["metadata"]["name"], "web");
    /// ```
    pub fn new(name: impl IntoExpr<String>) -> Self {
        Service {
            obj: Obj::new("v1", "Service", name.into_expr()),
        }
    }

    /// A Service for a workload of the graph: same name, selecting its pods.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx").port(8080));
    /// let built = Service::exposing(&web).port_to(80, 8080).into_built();
    /// assert_eq!(built.template["metadata"]["name"], "web");
    /// assert_eq!(built.template["spec"]["selector"], serde_json::json!({"app": "web"}));
    /// ```
    pub fn exposing<K: WorkloadKind>(w: &Handle<Workload<K>>) -> Self {
        // The same name as the workload: a literal, or the same expression
        // (not a read of the workload, which would wait for its readiness).
        let mut s = Service::new(w.literal_name().unwrap_or(""));
        s.obj.set(&["metadata", "name"], w.name_value.clone());
        s.obj.name = w.literal_name().map(String::from);
        for (k, v) in &w.pod_labels {
            s.obj.set(&["spec", "selector", k], v.clone());
        }
        s
    }

    /// Adds a selector label.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Service::new("web").selector("app", "web").selector("tier", "frontend").into_built();
    /// assert_eq!(built.template["spec"]["selector"], serde_json::json!({"app": "web", "tier": "frontend"}));
    /// ```
    pub fn selector(mut self, key: &str, value: impl IntoExpr<String>) -> Self {
        let e = value.into_expr();
        self.obj.set_expr(&["spec", "selector", key], &e);
        self
    }

    /// A port, forwarded to the same container port.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Service::new("web").port(8080).into_built();
    /// assert_eq!(built.template["spec"]["ports"][0], serde_json::json!({"port": 8080, "targetPort": 8080}));
    /// ```
    pub fn port(self, port: impl IntoExpr<i64>) -> Self {
        let p = port.into_expr();
        self.port_to(p.clone(), p)
    }

    /// A port forwarded to `target`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Service::new("web").port_to(80, 8080).into_built();
    /// assert_eq!(built.template["spec"]["ports"][0], serde_json::json!({"port": 80, "targetPort": 8080}));
    /// ```
    pub fn port_to(mut self, port: impl IntoExpr<i64>, target: impl IntoExpr<i64>) -> Self {
        let (port, target) = (
            self.obj.value(&port.into_expr()),
            self.obj.value(&target.into_expr()),
        );
        self.obj.push(
            &["spec", "ports"],
            json!({"port": port, "targetPort": target}),
        );
        self
    }

    /// `type: LoadBalancer`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Service::new("web").port(80).load_balancer().into_built();
    /// assert_eq!(built.template["spec"]["type"], "LoadBalancer");
    /// ```
    pub fn load_balancer(self) -> Self {
        self.type_("LoadBalancer")
    }

    /// `type: NodePort`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Service::new("web").port(80).node_port().into_built();
    /// assert_eq!(built.template["spec"]["type"], "NodePort");
    /// ```
    pub fn node_port(self) -> Self {
        self.type_("NodePort")
    }

    /// Any service type.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Service::new("db").type_("ClusterIP").into_built();
    /// assert_eq!(built.template["spec"]["type"], "ClusterIP");
    /// ```
    pub fn type_(mut self, t: &str) -> Self {
        self.obj.set(&["spec", "type"], json!(t));
        self
    }
}

// ---------------------------------------------------------------- ConfigMap / Secret

/// v1 ConfigMap.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = ConfigMap::new("app-config").data("mode", "fast").into_built();
/// assert_eq!(built.template["kind"], "ConfigMap");
/// assert_eq!(built.template["data"]["mode"], "fast");
/// ```
pub struct ConfigMap {
    obj: Obj,
}
kind!(ConfigMap, "v1", "ConfigMap");
simple_resource!(ConfigMap);

impl ConfigMap {
    /// A ConfigMap `name` (add entries with [`data`](Self::data)).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = ConfigMap::new("app-config").into_built();
    /// assert_eq!(built.template["metadata"]["name"], "app-config");
    /// assert_eq!(built.name.as_deref(), Some("app-config"));
    /// ```
    pub fn new(name: impl IntoExpr<String>) -> Self {
        ConfigMap {
            obj: Obj::new("v1", "ConfigMap", name.into_expr()),
        }
    }

    /// A data entry; the value may be an expression.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let domain: Expr<String> = Expr::reference("schema", &["spec", "domain"]);
    /// let built = ConfigMap::new("cfg").data("mode", "fast").data("domain", &domain).into_built();
    /// assert_eq!(built.template["data"], serde_json::json!({"mode": "fast", "domain": "${schema.spec.domain}"}));
    /// ```
    pub fn data(mut self, key: &str, value: impl IntoExpr<String>) -> Self {
        let e = value.into_expr();
        self.obj.set_expr(&["data", key], &e);
        self
    }
}

/// v1 Secret. Literal values go base64-encoded to `data`; expression
/// values go to `stringData` (the API server encodes them).
///
/// ```
/// # use kroxide_dsl::*;
/// let password: Expr<String> = Expr::reference("schema", &["spec", "password"]);
/// let built = Secret::new("db").data("user", "admin").data("password", &password).into_built();
/// assert_eq!(built.template["data"]["user"], "YWRtaW4=");
/// assert_eq!(built.template["stringData"]["password"], "${schema.spec.password}");
/// ```
pub struct Secret {
    obj: Obj,
}
kind!(Secret, "v1", "Secret");
simple_resource!(Secret);

impl Secret {
    /// A Secret `name` (add values with [`data`](Self::data)).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Secret::new("db").into_built();
    /// assert_eq!(built.template["kind"], "Secret");
    /// assert_eq!(built.template["metadata"]["name"], "db");
    /// ```
    pub fn new(name: impl IntoExpr<String>) -> Self {
        Secret {
            obj: Obj::new("v1", "Secret", name.into_expr()),
        }
    }

    /// A value: literal → `data` (base64-encoded here), expression → `stringData`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let token: Expr<String> = Expr::reference("schema", &["spec", "token"]);
    /// let built = Secret::new("api").data("user", "admin").data("token", &token).into_built();
    /// assert_eq!(built.template["data"]["user"], "YWRtaW4=");
    /// assert_eq!(built.template["stringData"]["token"], "${schema.spec.token}");
    /// ```
    pub fn data(mut self, key: &str, value: impl IntoExpr<String>) -> Self {
        let e = value.into_expr();
        match e.node() {
            Node::Lit(Value::String(s)) => {
                let enc = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
                self.obj.set(&["data", key], json!(enc));
            }
            _ => self.obj.set_expr(&["stringData", key], &e),
        }
        self
    }

    /// A value that is base64-encoded already.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Secret::new("db").data_base64("user", "YWRtaW4=").into_built();
    /// assert_eq!(built.template["data"]["user"], "YWRtaW4=");
    /// assert!(built.errors.is_empty());
    /// let bad = Secret::new("db").data_base64("user", "not base64!").into_built();
    /// assert_eq!(bad.errors, ["Secret data `user` is not valid base64"]);
    /// ```
    pub fn data_base64(mut self, key: &str, encoded: &str) -> Self {
        if base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .is_err()
        {
            self.obj
                .errors
                .push(format!("Secret data `{key}` is not valid base64"));
        }
        self.obj.set(&["data", key], json!(encoded));
        self
    }

    /// A `stringData` value.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Secret::new("db").string_data("user", "admin").into_built();
    /// assert_eq!(built.template["stringData"]["user"], "admin");
    /// assert!(built.template.get("data").is_none());
    /// ```
    pub fn string_data(mut self, key: &str, value: impl IntoExpr<String>) -> Self {
        let e = value.into_expr();
        self.obj.set_expr(&["stringData", key], &e);
        self
    }

    /// The Secret type (`kubernetes.io/tls`...).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Secret::new("web-tls").type_("kubernetes.io/tls").into_built();
    /// assert_eq!(built.template["type"], "kubernetes.io/tls");
    /// ```
    pub fn type_(mut self, t: &str) -> Self {
        self.obj.set(&["type"], json!(t));
        self
    }
}

// ---------------------------------------------------------------- Ingress

/// networking.k8s.io/v1 Ingress.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Service::new("web").port(80));
/// let built = Ingress::new("web").class("nginx").route("shop.example.com", "/", &web, 80).into_built();
/// assert_eq!(built.template["apiVersion"], "networking.k8s.io/v1");
/// assert_eq!(built.template["spec"]["rules"][0]["host"], "shop.example.com");
/// ```
pub struct Ingress {
    obj: Obj,
    path_type: &'static str,
}
kind!(Ingress, "networking.k8s.io/v1", "Ingress");

impl HasMeta for Ingress {
    fn obj(&mut self) -> &mut Obj {
        &mut self.obj
    }
}
impl IntoResource for Ingress {
    type Kind = Ingress;
    fn into_built(self) -> Built {
        self.obj.built(BTreeMap::new())
    }
}

impl Ingress {
    /// An Ingress `name` (add routes with [`route`](Self::route)).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Ingress::new("web").into_built();
    /// assert_eq!(built.template["kind"], "Ingress");
    /// assert_eq!(built.template["metadata"]["name"], "web");
    /// ```
    pub fn new(name: impl IntoExpr<String>) -> Self {
        Ingress {
            obj: Obj::new("networking.k8s.io/v1", "Ingress", name.into_expr()),
            path_type: "Prefix",
        }
    }

    /// `pathType` for routes added after this call (default `Prefix`).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web").port(80));
    /// let built = Ingress::new("web")
    ///     .route("a.example.com", "/", &web, 80)
    ///     .path_type("Exact")
    ///     .route("b.example.com", "/login", &web, 80)
    ///     .into_built();
    /// let rules = &built.template["spec"]["rules"];
    /// assert_eq!(rules[0]["http"]["paths"][0]["pathType"], "Prefix");
    /// assert_eq!(rules[1]["http"]["paths"][0]["pathType"], "Exact");
    /// ```
    pub fn path_type(mut self, t: &'static str) -> Self {
        self.path_type = t;
        self
    }

    /// Routes `host` + `path` to a Service of the graph on `port`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web").port(80));
    /// let built = Ingress::new("web").route("shop.example.com", "/api", &web, 80).into_built();
    /// let path = &built.template["spec"]["rules"][0]["http"]["paths"][0];
    /// assert_eq!(path["path"], "/api");
    /// assert_eq!(path["backend"]["service"], serde_json::json!({"name": "${webService.metadata.name}", "port": {"number": 80}}));
    /// ```
    pub fn route(
        mut self,
        host: impl IntoExpr<String>,
        path: impl IntoExpr<String>,
        svc: &Handle<Service>,
        port: impl IntoExpr<i64>,
    ) -> Self {
        let h = self.obj.value(&host.into_expr());
        let path = self.obj.value(&path.into_expr());
        let port = self.obj.value(&port.into_expr());
        let n = self.obj.value(&svc.name());
        let rule = json!({"host": h, "http": {"paths": [{"path": path, "pathType": self.path_type, "backend": {"service": {"name": n, "port": {"number": port}}}}]}});
        self.obj.push(&["spec", "rules"], rule);
        self
    }

    /// `ingressClassName`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Ingress::new("web").class("nginx").into_built();
    /// assert_eq!(built.template["spec"]["ingressClassName"], "nginx");
    /// ```
    pub fn class(mut self, name: impl IntoExpr<String>) -> Self {
        let e = name.into_expr();
        self.obj.set_expr(&["spec", "ingressClassName"], &e);
        self
    }

    /// TLS for `host` with the certificate in a Secret of the graph.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let cert = g.add(Secret::new("web-tls").type_("kubernetes.io/tls"));
    /// let built = Ingress::new("web").tls("shop.example.com", &cert).into_built();
    /// assert_eq!(built.template["spec"]["tls"][0], serde_json::json!({"hosts": ["shop.example.com"], "secretName": "${webTlsSecret.metadata.name}"}));
    /// ```
    pub fn tls(mut self, host: impl IntoExpr<String>, secret: &Handle<Secret>) -> Self {
        let h = self.obj.value(&host.into_expr());
        let n = self.obj.value(&secret.name());
        self.obj
            .push(&["spec", "tls"], json!({"hosts": [h], "secretName": n}));
        self
    }
}

// ---------------------------------------------------------------- small kinds

/// v1 Namespace.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Namespace::new("shop").label("team", "shop").into_built();
/// assert_eq!(built.template["kind"], "Namespace");
/// assert_eq!(built.template["metadata"]["labels"]["team"], "shop");
/// ```
pub struct Namespace {
    obj: Obj,
}
kind!(Namespace, "v1", "Namespace");
simple_resource!(Namespace);
impl Namespace {
    /// A Namespace `name`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Namespace::new("shop").into_built();
    /// assert_eq!(built.template["metadata"]["name"], "shop");
    /// ```
    pub fn new(name: impl IntoExpr<String>) -> Self {
        Namespace {
            obj: Obj::new("v1", "Namespace", name.into_expr()),
        }
    }
}

/// v1 ServiceAccount.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = ServiceAccount::new("runner").into_built();
/// assert_eq!(built.template["apiVersion"], "v1");
/// assert_eq!(built.template["kind"], "ServiceAccount");
/// ```
pub struct ServiceAccount {
    obj: Obj,
}
kind!(ServiceAccount, "v1", "ServiceAccount");
simple_resource!(ServiceAccount);
impl ServiceAccount {
    /// A ServiceAccount `name`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let name: Expr<String> = Expr::reference("schema", &["spec", "name"]);
    /// let built = ServiceAccount::new(&name).into_built();
    /// assert_eq!(built.template["metadata"]["name"], "${schema.spec.name}");
    /// assert_eq!(built.name, None);
    /// ```
    pub fn new(name: impl IntoExpr<String>) -> Self {
        ServiceAccount {
            obj: Obj::new("v1", "ServiceAccount", name.into_expr()),
        }
    }
}

/// v1 PersistentVolumeClaim.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = PersistentVolumeClaim::new("data", "10Gi").storage_class("fast").into_built();
/// assert_eq!(built.template["kind"], "PersistentVolumeClaim");
/// assert_eq!(built.template["spec"]["storageClassName"], "fast");
/// ```
pub struct PersistentVolumeClaim {
    obj: Obj,
}
kind!(PersistentVolumeClaim, "v1", "PersistentVolumeClaim");
simple_resource!(PersistentVolumeClaim);
impl PersistentVolumeClaim {
    /// A claim of `storage` (a quantity such as "10Gi"), ReadWriteOnce.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = PersistentVolumeClaim::new("data", "10Gi").into_built();
    /// assert_eq!(built.template["spec"]["accessModes"], serde_json::json!(["ReadWriteOnce"]));
    /// assert_eq!(built.template["spec"]["resources"]["requests"]["storage"], "10Gi");
    /// ```
    pub fn new(name: impl IntoExpr<String>, storage: impl IntoExpr<String>) -> Self {
        let mut obj = Obj::new("v1", "PersistentVolumeClaim", name.into_expr());
        obj.set(&["spec", "accessModes"], json!(["ReadWriteOnce"]));
        obj.set_expr(
            &["spec", "resources", "requests", "storage"],
            &storage.into_expr(),
        );
        PersistentVolumeClaim { obj }
    }
    /// `spec.accessModes`: the one access mode (`ReadWriteMany`...).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = PersistentVolumeClaim::new("shared", "1Gi").access_mode("ReadWriteMany").into_built();
    /// assert_eq!(built.template["spec"]["accessModes"], serde_json::json!(["ReadWriteMany"]));
    /// ```
    pub fn access_mode(mut self, mode: &str) -> Self {
        // An enum of the Kubernetes API: a literal, checked by the schema.
        self.obj.set(&["spec", "accessModes"], json!([mode]));
        self
    }
    /// `spec.storageClassName`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = PersistentVolumeClaim::new("data", "10Gi").storage_class("gp3").into_built();
    /// assert_eq!(built.template["spec"]["storageClassName"], "gp3");
    /// ```
    pub fn storage_class(mut self, class: impl IntoExpr<String>) -> Self {
        let e = class.into_expr();
        self.obj.set_expr(&["spec", "storageClassName"], &e);
        self
    }
}

/// autoscaling/v2 HorizontalPodAutoscaler.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Deployment::new("web", "nginx"));
/// let built = HorizontalPodAutoscaler::new("web", &web, 2, 10).cpu_utilization(70).into_built();
/// assert_eq!(built.template["apiVersion"], "autoscaling/v2");
/// assert_eq!(built.template["spec"]["maxReplicas"], 10);
/// ```
pub struct HorizontalPodAutoscaler {
    obj: Obj,
}
kind!(
    HorizontalPodAutoscaler,
    "autoscaling/v2",
    "HorizontalPodAutoscaler"
);
simple_resource!(HorizontalPodAutoscaler);
impl HorizontalPodAutoscaler {
    /// Scales a workload of the graph between `min` and `max` replicas.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// let built = HorizontalPodAutoscaler::new("web", &web, 2, 10).into_built();
    /// let spec = &built.template["spec"];
    /// assert_eq!(spec["scaleTargetRef"], serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "${webDeployment.metadata.name}"}));
    /// assert_eq!((spec["minReplicas"].as_i64(), spec["maxReplicas"].as_i64()), (Some(2), Some(10)));
    /// ```
    pub fn new<K: WorkloadKind>(
        name: impl IntoExpr<String>,
        target: &Handle<Workload<K>>,
        min: impl IntoExpr<i64>,
        max: impl IntoExpr<i64>,
    ) -> Self {
        let mut obj = Obj::new(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            name.into_expr(),
        );
        let n = obj.value(&target.name());
        obj.set(
            &["spec", "scaleTargetRef"],
            json!({"apiVersion": K::API_VERSION, "kind": K::KIND, "name": n}),
        );
        obj.set_expr(&["spec", "minReplicas"], &min.into_expr());
        obj.set_expr(&["spec", "maxReplicas"], &max.into_expr());
        HorizontalPodAutoscaler { obj }
    }
    /// Target average CPU utilization, in percent.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # let mut g = Graph::default();
    /// # let web = g.add(Deployment::new("web", "nginx"));
    /// let built = HorizontalPodAutoscaler::new("web", &web, 2, 10).cpu_utilization(70).into_built();
    /// let metric = &built.template["spec"]["metrics"][0];
    /// assert_eq!(metric["resource"]["name"], "cpu");
    /// assert_eq!(metric["resource"]["target"]["averageUtilization"], 70);
    /// ```
    pub fn cpu_utilization(mut self, percent: impl IntoExpr<i64>) -> Self {
        let v = self.obj.value(&percent.into_expr());
        self.obj.push(&["spec", "metrics"], json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": v}}}));
        self
    }
}

/// rbac.authorization.k8s.io/v1 Role or ClusterRole.
///
/// ```
/// # use kroxide_dsl::*;
/// let role = RoleOf::<false>::new("reader").into_built();
/// let cluster = RoleOf::<true>::new("reader").into_built();
/// assert_eq!(role.template["kind"], "Role");
/// assert_eq!(cluster.template["kind"], "ClusterRole");
/// ```
pub struct RoleOf<const CLUSTER: bool> {
    obj: Obj,
}
/// rbac.authorization.k8s.io/v1 Role.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Role::new("reader").rule(&[""], &["pods"], &["get"]).into_built();
/// assert_eq!(built.template["apiVersion"], "rbac.authorization.k8s.io/v1");
/// assert_eq!(built.template["kind"], "Role");
/// ```
pub type Role = RoleOf<false>;
/// rbac.authorization.k8s.io/v1 ClusterRole.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = ClusterRole::new("node-reader").rule(&[""], &["nodes"], &["get", "list"]).into_built();
/// assert_eq!(built.template["kind"], "ClusterRole");
/// assert_eq!(built.template["rules"][0]["resources"][0], "nodes");
/// ```
pub type ClusterRole = RoleOf<true>;
impl Kind for RoleOf<false> {
    const API_VERSION: &'static str = "rbac.authorization.k8s.io/v1";
    const KIND: &'static str = "Role";
}
impl Kind for RoleOf<true> {
    const API_VERSION: &'static str = "rbac.authorization.k8s.io/v1";
    const KIND: &'static str = "ClusterRole";
}
impl<const C: bool> HasMeta for RoleOf<C> {
    fn obj(&mut self) -> &mut Obj {
        &mut self.obj
    }
}
impl<const C: bool> IntoResource for RoleOf<C>
where
    RoleOf<C>: Kind,
{
    type Kind = RoleOf<C>;
    fn into_built(self) -> Built {
        self.obj.built(BTreeMap::new())
    }
}
impl<const C: bool> RoleOf<C>
where
    RoleOf<C>: Kind,
{
    /// A Role (or ClusterRole) `name` (add rules with [`rule`](Self::rule)).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Role::new("reader").into_built();
    /// assert_eq!(built.template["metadata"]["name"], "reader");
    /// ```
    pub fn new(name: impl IntoExpr<String>) -> Self {
        RoleOf {
            obj: Obj::new(
                <Self as Kind>::API_VERSION,
                <Self as Kind>::KIND,
                name.into_expr(),
            ),
        }
    }
    /// A rule: `verbs` on `resources` of `api_groups` ("" is the core group).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Role::new("reader").rule(&["", "apps"], &["pods", "deployments"], &["get", "list"]).into_built();
    /// assert_eq!(built.template["rules"][0], serde_json::json!({
    ///     "apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "verbs": ["get", "list"],
    /// }));
    /// ```
    pub fn rule(mut self, api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> Self {
        self.obj.push(
            &["rules"],
            json!({"apiGroups": api_groups, "resources": resources, "verbs": verbs}),
        );
        self
    }
}

/// rbac.authorization.k8s.io/v1 RoleBinding or ClusterRoleBinding.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let role = g.add(ClusterRole::new("reader"));
/// let binding = BindingOf::<true>::new("reader", &role).into_built();
/// assert_eq!(binding.template["kind"], "ClusterRoleBinding");
/// assert_eq!(binding.template["roleRef"]["kind"], "ClusterRole");
/// ```
pub struct BindingOf<const CLUSTER: bool> {
    obj: Obj,
}
/// rbac.authorization.k8s.io/v1 RoleBinding.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let role = g.add(Role::new("reader"));
/// let built = RoleBinding::new("reader", &role).into_built();
/// assert_eq!(built.template["kind"], "RoleBinding");
/// assert_eq!(built.template["roleRef"]["kind"], "Role");
/// ```
pub type RoleBinding = BindingOf<false>;
/// rbac.authorization.k8s.io/v1 ClusterRoleBinding.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let role = g.add(ClusterRole::new("node-reader"));
/// let built = ClusterRoleBinding::new("node-reader", &role).into_built();
/// assert_eq!(built.template["kind"], "ClusterRoleBinding");
/// ```
pub type ClusterRoleBinding = BindingOf<true>;
impl Kind for BindingOf<false> {
    const API_VERSION: &'static str = "rbac.authorization.k8s.io/v1";
    const KIND: &'static str = "RoleBinding";
}
impl Kind for BindingOf<true> {
    const API_VERSION: &'static str = "rbac.authorization.k8s.io/v1";
    const KIND: &'static str = "ClusterRoleBinding";
}
impl<const C: bool> HasMeta for BindingOf<C> {
    fn obj(&mut self) -> &mut Obj {
        &mut self.obj
    }
}
impl<const C: bool> IntoResource for BindingOf<C>
where
    BindingOf<C>: Kind,
{
    type Kind = BindingOf<C>;
    fn into_built(self) -> Built {
        self.obj.built(BTreeMap::new())
    }
}
impl<const C: bool> BindingOf<C>
where
    BindingOf<C>: Kind,
{
    /// Binds a role of the graph (a Role for a RoleBinding may also be a ClusterRole).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let view = g.add(ClusterRole::new("view"));
    /// let built = RoleBinding::new("view", &view).into_built();
    /// assert_eq!(built.template["roleRef"], serde_json::json!({
    ///     "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "${viewClusterRole.metadata.name}",
    /// }));
    /// ```
    pub fn new<const R: bool>(name: impl IntoExpr<String>, role: &Handle<RoleOf<R>>) -> Self
    where
        RoleOf<R>: Kind,
    {
        let mut obj = Obj::new(
            <Self as Kind>::API_VERSION,
            <Self as Kind>::KIND,
            name.into_expr(),
        );
        let n = obj.value(&role.name());
        obj.set(&["roleRef"], json!({"apiGroup": "rbac.authorization.k8s.io", "kind": <RoleOf<R> as Kind>::KIND, "name": n}));
        BindingOf { obj }
    }
    /// Adds a ServiceAccount of the graph as a subject.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let role = g.add(Role::new("reader"));
    /// let sa = g.add(ServiceAccount::new("runner"));
    /// let built = RoleBinding::new("reader", &role).service_account(&sa).into_built();
    /// assert_eq!(built.template["subjects"][0], serde_json::json!({"kind": "ServiceAccount",
    ///     "name": "${runnerServiceAccount.metadata.name}", "namespace": "${runnerServiceAccount.metadata.namespace}"}));
    /// ```
    pub fn service_account(mut self, sa: &Handle<ServiceAccount>) -> Self {
        let n = self.obj.value(&sa.name());
        let ns = self.obj.value(&sa.metadata().namespace());
        self.obj.push(
            &["subjects"],
            json!({"kind": "ServiceAccount", "name": n, "namespace": ns}),
        );
        self
    }
}

/// networking.k8s.io/v1 NetworkPolicy.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let db = g.add(StatefulSet::new("db", "postgres:16"));
/// let built = NetworkPolicy::for_pods("db", &db).into_built();
/// assert_eq!(built.template["kind"], "NetworkPolicy");
/// assert_eq!(built.template["spec"]["policyTypes"], serde_json::json!(["Ingress"]));
/// ```
pub struct NetworkPolicy {
    obj: Obj,
}
kind!(NetworkPolicy, "networking.k8s.io/v1", "NetworkPolicy");
simple_resource!(NetworkPolicy);
impl NetworkPolicy {
    /// A policy for the pods of a workload of the graph.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let db = g.add(StatefulSet::new("db", "postgres:16"));
    /// let built = NetworkPolicy::for_pods("db-policy", &db).into_built();
    /// assert_eq!(built.template["spec"]["podSelector"]["matchLabels"], serde_json::json!({"app": "db"}));
    /// ```
    pub fn for_pods<K: WorkloadKind>(name: impl IntoExpr<String>, w: &Handle<Workload<K>>) -> Self {
        let mut obj = Obj::new("networking.k8s.io/v1", "NetworkPolicy", name.into_expr());
        obj.set(&["spec", "podSelector", "matchLabels"], json!(w.pod_labels));
        obj.set(&["spec", "policyTypes"], json!(["Ingress"]));
        NetworkPolicy { obj }
    }
    /// Allows traffic from the pods of another workload, on `port`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let db = g.add(StatefulSet::new("db", "postgres:16"));
    /// let api = g.add(Deployment::new("api", "api:1"));
    /// let built = NetworkPolicy::for_pods("db", &db).allow_from(&api, 5432).into_built();
    /// let rule = &built.template["spec"]["ingress"][0];
    /// assert_eq!(rule["from"][0]["podSelector"]["matchLabels"]["app"], "api");
    /// assert_eq!(rule["ports"][0], serde_json::json!({"port": 5432, "protocol": "TCP"}));
    /// ```
    pub fn allow_from<K: WorkloadKind>(mut self, w: &Handle<Workload<K>>, port: i32) -> Self {
        self.obj.push(&["spec", "ingress"], json!({"from": [{"podSelector": {"matchLabels": w.pod_labels}}], "ports": [{"port": port, "protocol": "TCP"}]}));
        self
    }
}

/// policy/v1 PodDisruptionBudget.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Deployment::new("web", "nginx").replicas(3));
/// let built = PodDisruptionBudget::new("web", &web, 2).into_built();
/// assert_eq!(built.template["apiVersion"], "policy/v1");
/// assert_eq!(built.template["kind"], "PodDisruptionBudget");
/// ```
pub struct PodDisruptionBudget {
    obj: Obj,
}
kind!(PodDisruptionBudget, "policy/v1", "PodDisruptionBudget");
simple_resource!(PodDisruptionBudget);
impl PodDisruptionBudget {
    /// Keeps at least `min_available` pods of a workload of the graph.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx").replicas(3));
    /// let built = PodDisruptionBudget::new("web", &web, 2).into_built();
    /// assert_eq!(built.template["spec"]["minAvailable"], 2);
    /// assert_eq!(built.template["spec"]["selector"]["matchLabels"], serde_json::json!({"app": "web"}));
    /// ```
    pub fn new<K: WorkloadKind>(
        name: impl IntoExpr<String>,
        w: &Handle<Workload<K>>,
        min_available: impl IntoExpr<i64>,
    ) -> Self {
        let mut obj = Obj::new("policy/v1", "PodDisruptionBudget", name.into_expr());
        obj.set(&["spec", "selector", "matchLabels"], json!(w.pod_labels));
        obj.set_expr(&["spec", "minAvailable"], &min_available.into_expr());
        PodDisruptionBudget { obj }
    }
}

// ---------------------------------------------------------------- any object

/// Any Kubernetes object, with fields set by path. For kinds without a
/// builder, or a k8s-openapi struct to start from.
///
/// ```
/// # use kroxide_dsl::*;
/// let built = Object::new("monitoring.coreos.com/v1", "ServiceMonitor", "web")
///     .set("spec.endpoints", lit(vec![serde_json::json!({"port": "metrics"})]))
///     .into_built();
/// assert_eq!(built.template["kind"], "ServiceMonitor");
/// assert_eq!(built.template["spec"]["endpoints"][0]["port"], "metrics");
/// ```
pub struct Object {
    obj: Obj,
    api_version: String,
    kind: String,
}

/// The kind of an [`Object`] is known only at run time.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let widget: Handle<AnyKind> = g.add(Object::new("example.com/v1", "Widget", "w"));
/// assert_eq!(widget.id(), "wWidget");
/// assert_eq!(kroxide_dsl::graph::kind_of(&widget), ("", ""));
/// ```
pub struct AnyKind;
impl Kind for AnyKind {
    const API_VERSION: &'static str = "";
    const KIND: &'static str = "";
}

impl HasMeta for Object {
    fn obj(&mut self) -> &mut Obj {
        &mut self.obj
    }
}
impl IntoResource for Object {
    type Kind = AnyKind;
    fn into_built(self) -> Built {
        let _ = (&self.api_version, &self.kind);
        self.obj.built(BTreeMap::new())
    }
}

impl Object {
    /// An object of `api_version`/`kind` named `name`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let built = Object::new("example.com/v1", "Widget", "w").into_built();
    /// assert_eq!(built.template, serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}));
    /// ```
    pub fn new(api_version: &str, kind: &str, name: impl IntoExpr<String>) -> Self {
        Object {
            obj: Obj::new(api_version, kind, name.into_expr()),
            api_version: api_version.into(),
            kind: kind.into(),
        }
    }

    /// Starts from a whole object as JSON (`apiVersion`, `kind` and
    /// `metadata.name` must be there: [`Manifests`](crate::manifests::Manifests)
    /// checks that before).
    pub(crate) fn from_json(v: Value) -> Self {
        let api_version = v["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = v["kind"].as_str().unwrap_or("").to_string();
        let name = kroxide_model::meta_str(&v, "name").map(String::from);
        Object {
            obj: Obj {
                v,
                errors: Vec::new(),
                name,
            },
            api_version,
            kind,
        }
    }

    /// Starts from a kube-rs typed resource: a `#[derive(CustomResource)]`
    /// struct, types kopium generated from a CRD (a cert-manager
    /// `Certificate`), or any type implementing kube's `Resource` with a
    /// static kind. Its fields can then be overridden with expressions
    /// ([`Object::set`]); it is ready by its `Ready` (else `Available`)
    /// condition, or a `readyWhen`.
    ///
    /// ```
    /// use kroxide_dsl::{IntoResource, Object};
    /// use serde::Serialize;
    /// use std::borrow::Cow;
    ///
    /// // What #[derive(CustomResource)] or kopium writes, by hand.
    /// #[derive(Serialize)]
    /// struct Certificate {
    ///     #[serde(rename = "apiVersion")]
    ///     api_version: &'static str,
    ///     kind: &'static str,
    ///     metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ///     spec: serde_json::Value,
    /// }
    /// impl kube_core::Resource for Certificate {
    ///     type DynamicType = ();
    ///     type Scope = kube_core::NamespaceResourceScope;
    ///     fn kind(_: &()) -> Cow<'_, str> { "Certificate".into() }
    ///     fn group(_: &()) -> Cow<'_, str> { "cert-manager.io".into() }
    ///     fn version(_: &()) -> Cow<'_, str> { "v1".into() }
    ///     fn plural(_: &()) -> Cow<'_, str> { "certificates".into() }
    ///     fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta { &self.metadata }
    ///     fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta { &mut self.metadata }
    /// }
    /// let cert = Certificate {
    ///     api_version: "", kind: "",
    ///     metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    ///         name: Some("web-tls".into()), ..Default::default()
    ///     },
    ///     spec: serde_json::json!({"secretName": "web-tls", "dnsNames": ["example.com"]}),
    /// };
    /// let built = Object::from_resource(&cert).set("spec.secretName", "shop-tls").into_built();
    /// assert!(built.errors.is_empty());
    /// assert_eq!(built.template["apiVersion"], "cert-manager.io/v1");
    /// assert_eq!(built.template["kind"], "Certificate");
    /// assert_eq!(built.template["spec"]["secretName"], "shop-tls");
    /// assert_eq!(built.template["spec"]["dnsNames"][0], "example.com");
    /// ```
    pub fn from_resource<K>(r: &K) -> Self
    where
        K: kube_core::Resource<DynamicType = ()> + Serialize,
    {
        let mut v = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
        let api_version = K::api_version(&()).into_owned();
        let kind = K::kind(&()).into_owned();
        v["apiVersion"] = json!(api_version);
        v["kind"] = json!(kind);
        let mut o = Object::from_json(v);
        if o.obj.name.is_none() {
            o.obj.errors.push(format!("{kind} has no metadata.name"));
        }
        o
    }

    /// Starts from a typed k8s-openapi object.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// use k8s_openapi::api::core::v1::ConfigMap as K8sConfigMap;
    /// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    /// let cm = K8sConfigMap {
    ///     metadata: ObjectMeta { name: Some("cfg".into()), ..Default::default() },
    ///     data: Some([("mode".to_string(), "fast".to_string())].into()),
    ///     ..Default::default()
    /// };
    /// let built = Object::from_k8s(&cm).set("data.region", "eu").into_built();
    /// assert_eq!(built.template["apiVersion"], "v1");
    /// assert_eq!(built.template["kind"], "ConfigMap");
    /// assert_eq!(built.template["data"], serde_json::json!({"mode": "fast", "region": "eu"}));
    /// ```
    pub fn from_k8s<R: k8s_openapi::Resource + Serialize>(r: &R) -> Self {
        let mut v = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
        v["apiVersion"] = json!(R::API_VERSION);
        v["kind"] = json!(R::KIND);
        let name = kroxide_model::meta_str(&v, "name").map(String::from);
        let mut errors = Vec::new();
        if name.is_none() {
            errors.push(format!("{} has no metadata.name", R::KIND));
        }
        Object {
            obj: Obj { v, errors, name },
            api_version: R::API_VERSION.into(),
            kind: R::KIND.into(),
        }
    }

    /// Sets the field at `path` to a literal or expression.
    ///
    /// `path` is dotted (`spec.replicas`). A key that itself holds dots or
    /// slashes, as annotation and label keys do, is written in brackets and
    /// quotes, as kubectl's JSONPath and kroxide's own messages write it:
    /// `metadata.annotations["app.kubernetes.io/name"]` (`\"` and `\\`
    /// escape inside the quotes), or with escaped dots:
    /// `metadata.annotations.app\.kubernetes\.io/name`. A path that does
    /// not parse (`a..b`, an unclosed bracket, an index such as `[0]`) is a
    /// build error of the graph. To pass the keys as they are, with no
    /// syntax at all, use [`Object::set_at`]; for one label or annotation,
    /// [`HasMeta::label`] and [`HasMeta::annotation`] take the key as is.
    ///
    /// ```
    /// use kroxide_dsl::{Object, IntoResource};
    /// let built = Object::new("v1", "ConfigMap", "cfg")
    ///     .set("data.mode", "fast")
    ///     .set(r#"metadata.annotations["app.kubernetes.io/name"]"#, "web")
    ///     .set(r"metadata.labels.app\.kubernetes\.io/part-of", "shop")
    ///     .into_built();
    /// assert!(built.errors.is_empty());
    /// let t = &built.template;
    /// assert_eq!(t["data"]["mode"], "fast");
    /// assert_eq!(t["metadata"]["annotations"]["app.kubernetes.io/name"], "web");
    /// assert_eq!(t["metadata"]["labels"]["app.kubernetes.io/part-of"], "shop");
    /// ```
    pub fn set<T>(mut self, path: &str, value: impl IntoExpr<T>) -> Self {
        let e = value.into_expr();
        match parse_path(path) {
            Ok(parts) => {
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.obj.set_expr(&parts, &e);
            }
            Err(why) => self.obj.errors.push(why),
        }
        self
    }

    /// Sets the field at `path` (the syntax of [`Object::set`]) to any JSON value.
    ///
    /// ```
    /// use kroxide_dsl::{Object, IntoResource};
    /// use serde_json::json;
    /// let built = Object::new("v1", "ConfigMap", "cfg")
    ///     .set_json(r#"metadata.annotations["example.com/config"]"#, json!("{\"a\":1}"))
    ///     .into_built();
    /// assert_eq!(built.template["metadata"]["annotations"]["example.com/config"], "{\"a\":1}");
    /// ```
    pub fn set_json(mut self, path: &str, value: Value) -> Self {
        match parse_path(path) {
            Ok(parts) => {
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.obj.set(&parts, value);
            }
            Err(why) => self.obj.errors.push(why),
        }
        self
    }

    /// Sets the field at `path`, given as its keys, to a literal or
    /// expression. No key is split or unescaped, so any key can be set,
    /// whatever it holds: use this when keys come from data.
    ///
    /// ```
    /// use kroxide_dsl::{Object, IntoResource};
    /// let key = "app.kubernetes.io/name";
    /// let built = Object::new("v1", "ConfigMap", "cfg")
    ///     .set_at(&["metadata", "annotations", key], "web")
    ///     .into_built();
    /// assert_eq!(built.template["metadata"]["annotations"][key], "web");
    /// ```
    pub fn set_at<T>(mut self, path: &[&str], value: impl IntoExpr<T>) -> Self {
        let e = value.into_expr();
        match check_keys(path) {
            Ok(()) => self.obj.set_expr(path, &e),
            Err(why) => self.obj.errors.push(why),
        }
        self
    }

    /// Sets the field at `path`, given as its keys (as [`Object::set_at`]),
    /// to any JSON value.
    ///
    /// ```
    /// use kroxide_dsl::{Object, IntoResource};
    /// use serde_json::json;
    /// let built = Object::new("v1", "ConfigMap", "cfg")
    ///     .set_json_at(&["metadata", "labels", "app.kubernetes.io/part-of"], json!("shop"))
    ///     .into_built();
    /// assert_eq!(built.template["metadata"]["labels"]["app.kubernetes.io/part-of"], "shop");
    /// ```
    pub fn set_json_at(mut self, path: &[&str], value: Value) -> Self {
        match check_keys(path) {
            Ok(()) => self.obj.set(path, value),
            Err(why) => self.obj.errors.push(why),
        }
        self
    }
}

fn check_keys(path: &[&str]) -> Result<(), String> {
    if path.is_empty() {
        return Err("Object::set_at: the path has no keys".into());
    }
    Ok(())
}

/// Splits a field path of [`Object::set`] into its keys: dotted segments,
/// `\.` and `\\` escapes in them, and `["key"]` (or `['key']`) segments
/// taken verbatim but for `\"`, `\'` and `\\`.
fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let bad = |why: &str| Err(format!("Object::set: field path `{path}` {why}"));
    let mut keys = Vec::new();
    let mut chars = path.chars().peekable();
    // Whether a key must start here (at the start, after a dot).
    let mut need_key = true;
    loop {
        match chars.peek().copied() {
            None => {
                if need_key {
                    return bad(if keys.is_empty() {
                        "is empty"
                    } else {
                        "ends with a dot"
                    });
                }
                return Ok(keys);
            }
            Some('[') => {
                chars.next();
                let quote = match chars.next() {
                    Some(q @ ('"' | '\'')) => q,
                    _ => {
                        return bad(
                            "has a bracket without a quoted key (list indexes cannot be set by path; write the key as [\"key\"])",
                        )
                    }
                };
                let mut key = String::new();
                loop {
                    match chars.next() {
                        None => return bad("has an unclosed quote"),
                        Some('\\') => match chars.next() {
                            Some(c) => key.push(c),
                            None => return bad("ends with a backslash"),
                        },
                        Some(c) if c == quote => break,
                        Some(c) => key.push(c),
                    }
                }
                if chars.next() != Some(']') {
                    return bad("has a quoted key not followed by `]`");
                }
                keys.push(key);
                need_key = false;
                match chars.peek() {
                    None | Some('[') => {}
                    Some('.') => {
                        chars.next();
                        need_key = true;
                    }
                    Some(_) => return bad("has text right after `]`: put a dot before it"),
                }
            }
            Some('.') => return bad("has an empty key (two dots, or a leading dot)"),
            Some(_) => {
                let mut key = String::new();
                while let Some(&c) = chars.peek() {
                    match c {
                        '.' | '[' => break,
                        '\\' => {
                            chars.next();
                            match chars.next() {
                                Some(c) => key.push(c),
                                None => return bad("ends with a backslash"),
                            }
                        }
                        c => {
                            chars.next();
                            key.push(c);
                        }
                    }
                }
                keys.push(key);
                need_key = false;
                if chars.peek() == Some(&'.') {
                    chars.next();
                    need_key = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod path_tests {
    use super::parse_path;

    fn ok(p: &str) -> Vec<String> {
        parse_path(p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn plain_dotted_paths_split_on_dots() {
        assert_eq!(ok("spec.replicas"), ["spec", "replicas"]);
        assert_eq!(ok("data"), ["data"]);
        assert_eq!(
            ok("metadata.labels.app/x-y_z"),
            ["metadata", "labels", "app/x-y_z"]
        );
    }

    #[test]
    fn quoted_and_escaped_keys_keep_their_dots() {
        let want = ["metadata", "annotations", "app.kubernetes.io/name"];
        assert_eq!(
            ok(r#"metadata.annotations["app.kubernetes.io/name"]"#),
            want
        );
        assert_eq!(ok("metadata.annotations['app.kubernetes.io/name']"), want);
        assert_eq!(ok(r"metadata.annotations.app\.kubernetes\.io/name"), want);
        assert_eq!(ok(r#"a["b.c"].d"#), ["a", "b.c", "d"]);
        assert_eq!(ok(r#"a["b"]["c.d"]"#), ["a", "b", "c.d"]);
        assert_eq!(ok(r#"["x.y"].z"#), ["x.y", "z"]);
        assert_eq!(ok(r#"a["q\"uote\\"]"#), ["a", "q\"uote\\"]);
        assert_eq!(ok(r#"a["it's"]"#), ["a", "it's"]);
        assert_eq!(ok(r#"a["[.]"]"#), ["a", "[.]"]);
    }

    #[test]
    fn malformed_paths_are_errors_not_keys() {
        for p in [
            "",
            ".a",
            "a.",
            "a..b",
            "a[0]",
            "a[b]",
            r#"a["b"#,
            r#"a["b""#,
            r#"a["b"]c"#,
            r"a\",
        ] {
            let e = parse_path(p).expect_err(p);
            assert!(e.contains(&format!("`{p}`")), "{e}");
        }
    }
}
