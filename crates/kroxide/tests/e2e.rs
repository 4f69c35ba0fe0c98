//! The direct-engine scenarios on a real cluster.
//!
//! CI runs the same scenario functions against the in-process test API
//! server (deploy_direct.rs). To run them on a real kube-apiserver:
//!
//! ```text
//! KROXIDE_E2E_KUBECONFIG=~/.kube/config cargo test -p kroxide --test e2e -- --ignored --test-threads=1
//! ```
//!
//! Each scenario uses its own namespace `kroxide-e2e-<scenario>-<pid>`
//! (created by the deploy, left for inspection; delete them afterwards).
//! Readiness waits up to `KROXIDE_E2E_TIMEOUT` seconds (default 300): real
//! Deployments pull images. The example's images (`user-service:dev`...) are
//! names only; set `KROXIDE_E2E_IMAGE` to an image that answers HTTP 200 on
//! `/health` and `/ready` at port 3000, or the microservices scenarios wait
//! for pods that never become ready.

mod scenarios;

use scenarios::Cluster;
use std::time::Duration;

async fn cluster(scenario: &str) -> Cluster {
    let path = std::env::var("KROXIDE_E2E_KUBECONFIG")
        .expect("set KROXIDE_E2E_KUBECONFIG to the kubeconfig of a disposable cluster");
    let kc = kube::config::Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let timeout = std::env::var("KROXIDE_E2E_TIMEOUT")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(300);
    Cluster {
        client: kube::Client::try_from(config).unwrap(),
        namespace: format!("kroxide-e2e-{scenario}-{}", std::process::id()),
        timeout: Duration::from_secs(timeout),
        image: std::env::var("KROXIDE_E2E_IMAGE").ok(),
    }
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG"]
async fn e2e_deploy_redeploy_scale_status() {
    scenarios::deploy_redeploy_scale_status(&cluster("deploy").await).await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG"]
async fn e2e_delete_removes_everything() {
    scenarios::delete_removes_everything(&cluster("delete").await).await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG"]
async fn e2e_excluded_resource_is_pruned() {
    scenarios::excluded_resource_is_pruned(&cluster("prune").await).await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG"]
async fn e2e_foreign_objects_are_left_alone() {
    scenarios::foreign_objects_are_left_alone(&cluster("foreign").await).await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG"]
async fn e2e_concurrent_deploys_do_not_corrupt_the_inventory() {
    scenarios::concurrent_deploys_do_not_corrupt_the_inventory(&cluster("lock").await).await;
}
