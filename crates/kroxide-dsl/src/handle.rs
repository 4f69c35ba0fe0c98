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
pub trait Kind {
    const API_VERSION: &'static str;
    const KIND: &'static str;
}

/// A resource in a graph.
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
pub struct MetaRef {
    id: String,
}

impl MetaRef {
    pub fn name(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "name"])
    }
    pub fn namespace(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "namespace"])
    }
    pub fn uid(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "uid"])
    }
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
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The literal name, when the name is not an expression.
    pub fn literal_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `${id.metadata.name}`.
    pub fn name(&self) -> Expr<String> {
        self.metadata().name()
    }

    pub fn metadata(&self) -> MetaRef {
        MetaRef {
            id: self.id.clone(),
        }
    }

    /// Any field, by path (`status.conditions[0].type`). The path is checked
    /// against the Kubernetes schema when the graph is built.
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

    fn at<T>(&self, path: &[&str]) -> Expr<T> {
        Expr::reference(&self.id, path)
    }
}

/// `spec` of a Deployment or StatefulSet.
#[derive(Clone, Debug)]
pub struct ReplicasSpecRef(String);
impl ReplicasSpecRef {
    pub fn replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["spec", "replicas"])
    }
}

/// `status` of a Deployment or StatefulSet.
#[derive(Clone, Debug)]
pub struct RolloutStatusRef(String);
impl RolloutStatusRef {
    pub fn ready_replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "readyReplicas"])
    }
    pub fn available_replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "availableReplicas"])
    }
    pub fn updated_replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "updatedReplicas"])
    }
    pub fn replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "replicas"])
    }
    pub fn observed_generation(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "observedGeneration"])
    }
}

macro_rules! rollout_handle {
    ($($k:ty),*) => {$(
        impl Handle<$k> {
            pub fn spec(&self) -> ReplicasSpecRef {
                ReplicasSpecRef(self.id.clone())
            }
            pub fn status(&self) -> RolloutStatusRef {
                RolloutStatusRef(self.id.clone())
            }
        }
    )*};
}
rollout_handle!(crate::resources::Deployment, crate::resources::StatefulSet);

impl Handle<crate::resources::DaemonSet> {
    pub fn number_ready(&self) -> Expr<i64> {
        self.at(&["status", "numberReady"])
    }
    pub fn desired_number_scheduled(&self) -> Expr<i64> {
        self.at(&["status", "desiredNumberScheduled"])
    }
}

/// `spec` of a Service.
#[derive(Clone, Debug)]
pub struct ServiceSpecRef(String);
impl ServiceSpecRef {
    pub fn cluster_ip(&self) -> Expr<String> {
        Expr::reference(&self.0, &["spec", "clusterIP"])
    }
    pub fn type_(&self) -> Expr<String> {
        Expr::reference(&self.0, &["spec", "type"])
    }
}

/// `status.loadBalancer` of a Service or Ingress.
#[derive(Clone, Debug)]
pub struct LoadBalancerStatusRef(String);
impl LoadBalancerStatusRef {
    /// `status.loadBalancer.ingress[0].hostname`.
    pub fn load_balancer_hostname(&self) -> Expr<String> {
        Expr::from_node(Node::Ref {
            root: self.0.clone(),
            path: vec![
                Seg::Field("status".into()),
                Seg::Field("loadBalancer".into()),
                Seg::Field("ingress".into()),
                Seg::Index(0),
                Seg::Field("hostname".into()),
            ],
        })
    }
    /// `status.loadBalancer.ingress[0].ip`.
    pub fn load_balancer_ip(&self) -> Expr<String> {
        Expr::from_node(Node::Ref {
            root: self.0.clone(),
            path: vec![
                Seg::Field("status".into()),
                Seg::Field("loadBalancer".into()),
                Seg::Field("ingress".into()),
                Seg::Index(0),
                Seg::Field("ip".into()),
            ],
        })
    }
}

impl Handle<crate::resources::Service> {
    pub fn spec(&self) -> ServiceSpecRef {
        ServiceSpecRef(self.id.clone())
    }
    pub fn status(&self) -> LoadBalancerStatusRef {
        LoadBalancerStatusRef(self.id.clone())
    }
}

impl Handle<crate::resources::Ingress> {
    pub fn status(&self) -> LoadBalancerStatusRef {
        LoadBalancerStatusRef(self.id.clone())
    }
}

impl Handle<crate::resources::Job> {
    pub fn succeeded(&self) -> Expr<i64> {
        self.at(&["status", "succeeded"])
    }
    pub fn failed(&self) -> Expr<i64> {
        self.at(&["status", "failed"])
    }
}

impl Handle<crate::resources::PersistentVolumeClaim> {
    pub fn phase(&self) -> Expr<String> {
        self.at(&["status", "phase"])
    }
}
