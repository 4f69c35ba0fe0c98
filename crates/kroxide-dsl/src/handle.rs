//! Handles: typed references to resources already added to a graph.
//!
//! Using a handle (in an env var's secretKeyRef, a Service's selector, a
//! status expression) renders `${id.path}`, which makes a dependency edge.
//! No string ids or names in user code for the common cases.

use crate::expr::{Expr, Node, Seg};
use kroxide_model::{FieldPath, PathSegment};
use serde_json::Value;
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// A resource kind that a handle can point to.
///
/// ```
/// # use kroxide_dsl::*;
/// fn api_of<K: Kind>(_: &Handle<K>) -> String {
///     format!("{}/{}", K::API_VERSION, K::KIND)
/// }
/// let mut g = Graph::default();
/// let web = g.add(Deployment::new("web", "nginx"));
/// assert_eq!(api_of(&web), "apps/v1/Deployment");
/// ```
pub trait Kind {
    /// The `apiVersion` of objects of this kind.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// assert_eq!(<Ingress as Kind>::API_VERSION, "networking.k8s.io/v1");
    /// ```
    const API_VERSION: &'static str;
    /// The `kind` of objects of this kind.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// assert_eq!(<PersistentVolumeClaim as Kind>::KIND, "PersistentVolumeClaim");
    /// ```
    const KIND: &'static str;
}

/// A resource in a graph.
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web: Handle<Deployment> = g.add(Deployment::new("web", "nginx"));
/// assert_eq!(web.id(), "webDeployment");
/// assert_eq!(web.status().ready_replicas().to_cel(), "webDeployment.status.readyReplicas");
/// ```
pub struct Handle<K> {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) pod_labels: BTreeMap<String, Value>,
    pub(crate) name_value: Value,
    _k: PhantomData<fn() -> K>,
}

impl<K> Clone for Handle<K> {
    fn clone(&self) -> Self {
        Handle {
            id: self.id.clone(),
            name: self.name.clone(),
            pod_labels: self.pod_labels.clone(),
            name_value: self.name_value.clone(),
            _k: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Handle<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handle({})", self.id)
    }
}

/// `metadata` of any resource.
#[derive(Clone, Debug)]
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let cfg = g.add(ConfigMap::new("app-config"));
/// let meta: kroxide_dsl::handle::MetaRef = cfg.metadata();
/// assert_eq!(meta.namespace().to_cel(), "appConfig.metadata.namespace");
/// ```
pub struct MetaRef {
    id: String,
}

impl MetaRef {
    /// `metadata.name`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.metadata().name().to_cel(), "webDeployment.metadata.name");
    /// ```
    pub fn name(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "name"])
    }
    /// `metadata.namespace`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.metadata().namespace().to_string(), "${webDeployment.metadata.namespace}");
    /// ```
    pub fn namespace(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "namespace"])
    }
    /// `metadata.uid` (set by the API server once the object exists).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.metadata().uid().to_cel(), "webDeployment.metadata.uid");
    /// ```
    pub fn uid(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "uid"])
    }
    /// `metadata.labels`, a map.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.metadata().labels().get("app").to_cel(), "webDeployment.metadata.labels.app");
    /// ```
    pub fn labels(&self) -> Expr<BTreeMap<String, String>> {
        Expr::reference(&self.id, &["metadata", "labels"])
    }
}

impl<K> Handle<K> {
    pub(crate) fn new(
        id: String,
        name: Option<String>,
        pod_labels: BTreeMap<String, Value>,
        name_value: Value,
    ) -> Self {
        Handle {
            name_value,
            id,
            name,
            pod_labels,
            _k: PhantomData,
        }
    }

    /// The resource id in the graph.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let a = g.add(ConfigMap::new("user-settings"));
    /// let b = g.add_as("extra", ConfigMap::new("more"));
    /// assert_eq!((a.id(), b.id()), ("userSettingsConfigMap", "extra"));
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The literal name, when the name is not an expression.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let fixed = g.add(ConfigMap::new("app-config"));
    /// let user: Expr<String> = Expr::reference("schema", &["spec", "user"]);
    /// let computed = g.add_as("perUser", ConfigMap::new(template!("{}-config", user)));
    /// assert_eq!(fixed.literal_name(), Some("app-config"));
    /// assert_eq!(computed.literal_name(), None);
    /// ```
    pub fn literal_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `${id.metadata.name}`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let db = g.add(Secret::new("db"));
    /// assert_eq!(db.name().to_string(), "${dbSecret.metadata.name}");
    /// ```
    pub fn name(&self) -> Expr<String> {
        self.metadata().name()
    }

    /// The resource's `metadata`: its name, namespace, uid and labels.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web"));
    /// assert_eq!(web.metadata().uid().to_cel(), "webService.metadata.uid");
    /// ```
    pub fn metadata(&self) -> MetaRef {
        MetaRef {
            id: self.id.clone(),
        }
    }

    /// Any field, by path (`status.conditions[0].type`). The path is checked
    /// against the Kubernetes schema when the graph is built.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// let cond: Expr<String> = web.field("status.conditions[0].type");
    /// assert_eq!(cond.to_cel(), "webDeployment.status.conditions[0].type");
    /// ```
    pub fn field<T>(&self, path: &str) -> Expr<T> {
        let p = FieldPath::parse(path);
        Expr::from_node(Node::Ref {
            root: self.id.clone(),
            path: p
                .0
                .into_iter()
                .map(|s| match s {
                    PathSegment::Key(k) => Seg::Field(k),
                    PathSegment::Index(i) => Seg::Index(i),
                })
                .collect(),
        })
    }

    pub(crate) fn at<T>(&self, path: &[&str]) -> Expr<T> {
        Expr::reference(&self.id, path)
    }
}
