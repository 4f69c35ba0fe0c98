//! A fleet of services from one list: KRO's `forEach` and `externalRef`
//! in the typed DSL. One ConfigMap and one Deployment per name in
//! `spec.services`; every ConfigMap carries the region of a ConfigMap the
//! platform team owns (`platform-settings`, read, never written).
//!
//! ```text
//! cargo run --example fleet -- render       # the RGD
//! cargo run --example fleet -- plan --instance examples/fleet/dev.yaml --observed examples/fleet/observed.yaml
//! kubectl create configmap platform-settings --from-literal=region=eu-west -n dev
//! cargo run --example fleet -- deploy --instance examples/fleet/dev.yaml -n dev
//! ```

use kroxide::prelude::*;
#[cfg(not(test))]
use std::process::ExitCode;

/// What a fleet is made of.
#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FleetSpec {
    /// One ConfigMap and one Deployment per name.
    pub services: Vec<String>,
    #[schema(default = "nginx:1.27")]
    pub image: Option<String>,
}

/// What the fleet reports.
#[derive(Schema, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct FleetStatus {
    /// How many Deployments it has.
    pub deployments: i64,
    /// The first service's ConfigMap.
    pub first_config: String,
}

/// The graph.
pub fn fleet_app() -> ResourceGraph<FleetSpec, FleetStatus> {
    ResourceGraph::<FleetSpec, FleetStatus>::new("fleet", "v1alpha1", "Fleet").build(|g, spec| {
        let platform = g.external::<ConfigMap>("platform", "platform-settings", None);
        let configs = g.for_each("configs", "svc", &spec.services, |svc| {
            ConfigMap::new(template!("{}-config", svc))
                .data("service", svc)
                .data("region", platform.field::<String>("data.region"))
        });
        let webs = g.for_each("webs", "svc", &spec.services, |svc| {
            Deployment::new(svc, &spec.image)
        });
        g.ready_when_each(&webs, |each| {
            each.status().ready_replicas().eq(each.spec().replicas())
        });
        FleetStatusExpr {
            deployments: webs.size(),
            first_config: configs.item(0).name(),
        }
    })
}

// The tests include this file for its graph; `main`, the graph's command
// line (kroxide-cli), is the example binary's alone.
#[cfg(not(test))]
fn main() -> ExitCode {
    kroxide_cli::graph_main(&fleet_app())
}
