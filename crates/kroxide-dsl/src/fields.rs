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
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Deployment::new("web", "nginx"));
/// let spec: kroxide_dsl::fields::ReplicasSpecRef = web.spec();
/// assert_eq!(spec.replicas().to_cel(), "webDeployment.spec.replicas");
/// ```
pub struct ReplicasSpecRef(String);
impl ReplicasSpecRef {
    /// `spec.replicas`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let db = g.add(StatefulSet::new("db", "postgres:16"));
    /// assert_eq!(db.spec().replicas().to_cel(), "dbStatefulSet.spec.replicas");
    /// ```
    pub fn replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["spec", "replicas"])
    }
}

/// `status` of a Deployment or StatefulSet.
#[derive(Clone, Debug)]
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Deployment::new("web", "nginx"));
/// let status: kroxide_dsl::fields::RolloutStatusRef = web.status();
/// let rolled_out = status.updated_replicas().eq(web.spec().replicas());
/// assert_eq!(rolled_out.to_cel(), "webDeployment.status.updatedReplicas == webDeployment.spec.replicas");
/// ```
pub struct RolloutStatusRef(String);
impl RolloutStatusRef {
    /// `status.readyReplicas`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.status().ready_replicas().gt(0).to_cel(), "webDeployment.status.readyReplicas > 0");
    /// ```
    pub fn ready_replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "readyReplicas"])
    }
    /// `status.availableReplicas`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.status().available_replicas().to_cel(), "webDeployment.status.availableReplicas");
    /// ```
    pub fn available_replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "availableReplicas"])
    }
    /// `status.updatedReplicas`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.status().updated_replicas().to_cel(), "webDeployment.status.updatedReplicas");
    /// ```
    pub fn updated_replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "updatedReplicas"])
    }
    /// `status.replicas`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.status().replicas().to_cel(), "webDeployment.status.replicas");
    /// ```
    pub fn replicas(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "replicas"])
    }
    /// `status.observedGeneration`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Deployment::new("web", "nginx"));
    /// assert_eq!(web.status().observed_generation().to_cel(), "webDeployment.status.observedGeneration");
    /// ```
    pub fn observed_generation(&self) -> Expr<i64> {
        Expr::reference(&self.0, &["status", "observedGeneration"])
    }
}

macro_rules! rollout_handle {
    ($($k:ty),*) => {$(
        impl Handle<$k> {
            /// `spec` of the Deployment or StatefulSet.
            ///
            /// ```
            /// # use kroxide_dsl::*;
            /// let mut g = Graph::default();
            /// let web = g.add(Deployment::new("web", "nginx"));
            /// assert_eq!(web.spec().replicas().to_cel(), "webDeployment.spec.replicas");
            /// ```
            pub fn spec(&self) -> ReplicasSpecRef {
                ReplicasSpecRef(self.id().to_string())
            }
            /// `status` of the Deployment or StatefulSet.
            ///
            /// ```
            /// # use kroxide_dsl::*;
            /// let mut g = Graph::default();
            /// let db = g.add(StatefulSet::new("db", "postgres:16"));
            /// assert_eq!(db.status().ready_replicas().to_cel(), "dbStatefulSet.status.readyReplicas");
            /// ```
            pub fn status(&self) -> RolloutStatusRef {
                RolloutStatusRef(self.id().to_string())
            }
        }
    )*};
}
rollout_handle!(Deployment, StatefulSet);

impl Handle<DaemonSet> {
    /// `status.numberReady`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let agent = g.add(DaemonSet::new("agent", "fluent-bit:3"));
    /// assert_eq!(agent.number_ready().to_cel(), "agentDaemonSet.status.numberReady");
    /// ```
    pub fn number_ready(&self) -> Expr<i64> {
        self.at(&["status", "numberReady"])
    }
    /// `status.desiredNumberScheduled`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let agent = g.add(DaemonSet::new("agent", "fluent-bit:3"));
    /// let all_ready = agent.number_ready().eq(agent.desired_number_scheduled());
    /// assert_eq!(all_ready.to_cel(), "agentDaemonSet.status.numberReady == agentDaemonSet.status.desiredNumberScheduled");
    /// ```
    pub fn desired_number_scheduled(&self) -> Expr<i64> {
        self.at(&["status", "desiredNumberScheduled"])
    }
}

/// `spec` of a Service.
#[derive(Clone, Debug)]
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Service::new("web").port(80));
/// let spec: kroxide_dsl::fields::ServiceSpecRef = web.spec();
/// assert_eq!(spec.cluster_ip().to_cel(), "webService.spec.clusterIP");
/// ```
pub struct ServiceSpecRef(String);
impl ServiceSpecRef {
    /// `spec.clusterIP`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let db = g.add(Service::new("db").port(5432));
    /// assert_eq!(db.spec().cluster_ip().to_string(), "${dbService.spec.clusterIP}");
    /// ```
    pub fn cluster_ip(&self) -> Expr<String> {
        Expr::reference(&self.0, &["spec", "clusterIP"])
    }
    /// `spec.type`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web").load_balancer());
    /// assert_eq!(web.spec().type_().eq("LoadBalancer").to_cel(), r#"webService.spec.type == "LoadBalancer""#);
    /// ```
    pub fn type_(&self) -> Expr<String> {
        Expr::reference(&self.0, &["spec", "type"])
    }
}

/// `status.loadBalancer` of a Service or Ingress.
#[derive(Clone, Debug)]
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Service::new("web").load_balancer());
/// let lb: kroxide_dsl::fields::LoadBalancerStatusRef = web.status();
/// assert_eq!(lb.load_balancer_ip().to_cel(), "webService.status.loadBalancer.ingress[0].ip");
/// ```
pub struct LoadBalancerStatusRef(String);
impl LoadBalancerStatusRef {
    /// `status.loadBalancer.ingress[0].hostname`.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web").load_balancer());
    /// assert_eq!(web.status().load_balancer_hostname().to_cel(), "webService.status.loadBalancer.ingress[0].hostname");
    /// ```
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
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web").load_balancer());
    /// assert_eq!(web.status().load_balancer_ip().to_cel(), "webService.status.loadBalancer.ingress[0].ip");
    /// ```
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
    /// `spec` of the Service.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web").port(80));
    /// assert_eq!(web.spec().cluster_ip().to_cel(), "webService.spec.clusterIP");
    /// ```
    pub fn spec(&self) -> ServiceSpecRef {
        ServiceSpecRef(self.id().to_string())
    }
    /// `status.loadBalancer` of the Service.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Service::new("web").load_balancer());
    /// assert_eq!(web.status().load_balancer_hostname().to_cel(), "webService.status.loadBalancer.ingress[0].hostname");
    /// ```
    pub fn status(&self) -> LoadBalancerStatusRef {
        LoadBalancerStatusRef(self.id().to_string())
    }
}

impl Handle<Ingress> {
    /// `status.loadBalancer` of the Ingress.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let web = g.add(Ingress::new("web"));
    /// assert_eq!(web.status().load_balancer_hostname().to_cel(), "webIngress.status.loadBalancer.ingress[0].hostname");
    /// ```
    pub fn status(&self) -> LoadBalancerStatusRef {
        LoadBalancerStatusRef(self.id().to_string())
    }
}

impl Handle<Job> {
    /// `status.succeeded`: pods that completed.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let job = g.add(Job::new("migrate", "app:1"));
    /// assert_eq!(job.succeeded().ge(1).to_cel(), "migrateJob.status.succeeded >= 1");
    /// ```
    pub fn succeeded(&self) -> Expr<i64> {
        self.at(&["status", "succeeded"])
    }
    /// `status.failed`: pods that failed.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let job = g.add(Job::new("migrate", "app:1"));
    /// assert_eq!(job.failed().to_cel(), "migrateJob.status.failed");
    /// ```
    pub fn failed(&self) -> Expr<i64> {
        self.at(&["status", "failed"])
    }
}

impl Handle<PersistentVolumeClaim> {
    /// `status.phase` (`Bound` once a volume is bound).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let data = g.add(PersistentVolumeClaim::new("data", "10Gi"));
    /// assert_eq!(data.phase().eq("Bound").to_cel(), r#"dataPersistentVolumeClaim.status.phase == "Bound""#);
    /// ```
    pub fn phase(&self) -> Expr<String> {
        self.at(&["status", "phase"])
    }
}
