//! The direct engine deploys the microservices example to the test API
//! server, through the real kube client.

#[allow(dead_code)]
#[path = "../../../examples/microservices.rs"]
mod microservices;

use kroxide::engine::{DeployError, DeployOptions, DirectEngine, GRAPH_LABEL};
use kroxide::model::load_documents;
use kroxide_testserver::TestServer;
use microservices::microservices_app;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn instance(f: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/microservices")
        .join(f);
    load_documents(f, &std::fs::read_to_string(p).unwrap())
        .unwrap()
        .remove(0)
        .0
}

fn opts() -> DeployOptions {
    DeployOptions {
        namespace: "dev".into(),
        resource_timeout: Duration::from_secs(10),
        create_namespace: true,
        ..DeployOptions::default()
    }
}

#[tokio::test]
async fn deploys_dev_in_waves_and_reports_healthy() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| c.delay = Duration::from_millis(50));
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let report = engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    assert_eq!(report.status()["health"], "healthy", "{}", report.status());
    assert_eq!(report.status()["services"]["user"]["ready"], true);
    assert_eq!(
        report.status()["gatewayUrl"],
        "https://microservices-dev.local"
    );
    // Every object is there, labelled with its graph.
    let live = &report.live;
    assert_eq!(live.len(), 12);
    assert_eq!(
        live["userDeployment"][0]["metadata"]["labels"][GRAPH_LABEL],
        "microservices-app"
    );
    assert_eq!(live["appConfig"][0]["data"]["LOG_LEVEL"], "debug");
    // No resource was applied before the resources it reads.
    let writes = server.writes();
    let first_write = |name: &str| {
        writes
            .iter()
            .position(|w| w.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} never written"))
    };
    for (dependent, deps) in [
        (
            "/deployments/user-service",
            ["/secrets/db-secrets", "/configmaps/app-config"],
        ),
        (
            "/deployments/api-gateway",
            ["/configmaps/gateway-config", "/configmaps/gateway-config"],
        ),
    ] {
        for d in deps {
            assert!(
                first_write(d) < first_write(dependent),
                "{dependent} before {d}"
            );
        }
    }
    assert!(first_write("/services/api-gateway") < first_write("/ingresses/microservices-ingress"));
    // Everything went through server-side apply as kroxide.
    assert!(writes
        .iter()
        .filter(|w| w.verb == "PATCH")
        .all(|w| w.field_manager.as_deref() == Some("kroxide")));
}

#[tokio::test]
async fn an_unchanged_redeploy_changes_nothing_and_prod_scales() {
    let server = TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    // Let the simulated controllers finish writing status.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let snapshot = || server.state().store.lock().unwrap().objects.clone();
    let before = snapshot();
    server.clear_log();
    engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    assert_eq!(
        before,
        snapshot(),
        "an unchanged redeploy changed an object"
    );
    assert!(
        server.writes().iter().all(|w| w.verb == "PATCH"),
        "only idempotent applies"
    );
    let mut prod = instance("prod.yaml");
    prod["metadata"]["name"] = instance("dev.yaml")["metadata"]["name"].clone();
    let third = engine.deploy(&rgd, &prod, &opts()).await.unwrap();
    assert_eq!(third.live["productDeployment"][0]["spec"]["replicas"], 5);
    assert_eq!(third.live["appConfig"][0]["data"]["LOG_LEVEL"], "info");
    assert_eq!(third.status()["health"], "healthy");
}

#[tokio::test]
async fn a_bad_spec_writes_nothing() {
    let server = TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let mut bad = instance("dev.yaml");
    bad["spec"]["gateway"]["replicas"] = serde_json::json!("three");
    let err = engine.deploy(&rgd, &bad, &opts()).await.unwrap_err();
    assert!(matches!(err, DeployError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("spec.gateway.replicas"), "{err}");
    assert!(server.writes().is_empty(), "{:?}", server.writes());
}

#[tokio::test]
async fn a_stuck_deployment_times_out_with_a_clear_error() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| {
        c.stuck.insert("Deployment/dev/order-service".into());
    });
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let o = DeployOptions {
        resource_timeout: Duration::from_millis(500),
        ..opts()
    };
    let err = engine
        .deploy(&rgd, &instance("dev.yaml"), &o)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeployError::NotReady { ref id, .. } if id == "orderDeployment"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_namespace_is_refused_unless_created() {
    let server = TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let o = DeployOptions {
        create_namespace: false,
        ..opts()
    };
    let err = engine
        .deploy(&rgd, &instance("dev.yaml"), &o)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("namespace `dev` does not exist"),
        "{err}"
    );
    assert!(server.writes().is_empty());
}
