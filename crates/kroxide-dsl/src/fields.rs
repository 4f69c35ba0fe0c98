//! The typed fields each kind's [`Handle`] offers (a Deployment's
//! `status().ready_replicas()`, a Service's `spec().cluster_ip()`...): what
//! other resources and the status may read of it, as typed expressions.
//! Apart from handle.rs so that the handle knows no kind and the kinds
//! (resources.rs) know the handle, not the reverse.

use crate::expr::{Expr, Node, Seg};
use crate::handle::Handle;
use crate::resources::{
    DaemonSet, Deployment, Ingress, Job, PersistentVolumeClaim, Service, StatefulSet,
};

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
                ReplicasSpecRef(self.id().to_string())
            }
            pub fn status(&self) -> RolloutStatusRef {
                RolloutStatusRef(self.id().to_string())
            }
        }
    )*};
}
rollout_handle!(Deployment, StatefulSet);

impl Handle<DaemonSet> {
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

impl Handle<Service> {
    pub fn spec(&self) -> ServiceSpecRef {
        ServiceSpecRef(self.id().to_string())
    }
    pub fn status(&self) -> LoadBalancerStatusRef {
        LoadBalancerStatusRef(self.id().to_string())
    }
}

impl Handle<Ingress> {
    pub fn status(&self) -> LoadBalancerStatusRef {
        LoadBalancerStatusRef(self.id().to_string())
    }
}

impl Handle<Job> {
    pub fn succeeded(&self) -> Expr<i64> {
        self.at(&["status", "succeeded"])
    }
    pub fn failed(&self) -> Expr<i64> {
        self.at(&["status", "failed"])
    }
}

impl Handle<PersistentVolumeClaim> {
    pub fn phase(&self) -> Expr<String> {
        self.at(&["status", "phase"])
    }
}
