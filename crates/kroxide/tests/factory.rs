//! `graph.factory(mode)`: the typed Rust deploy API in direct mode, against
//! the test API server. KRO mode needs the real KRO:
//! `the_typed_factory_through_kro` in `e2e_kro.rs` (`scripts/e2e.sh`).

#[allow(dead_code)]
#[path = "../../../examples/microservices.rs"]
mod microservices;

use kroxide::engine::DeployError;
use kroxide::prelude::*;
use kroxide::FactoryError;
use kroxide_testserver::TestServer;
use microservices::{microservices_app, Health, MicroservicesSpec};
use std::path::Path;
use std::time::Duration;

fn spec(f: &str) -> MicroservicesSpec {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/microservices")
        .join(f);
    let doc = kroxide::model::load_documents(f, &std::fs::read_to_string(p).unwrap())
        .unwrap()
        .remove(0)
        .0;
    serde_json::from_value(doc["spec"].clone()).unwrap()
}

#[tokio::test]
async fn direct_mode_deploys_reads_status_and_deletes_with_types() {
    let server = TestServer::start().await.unwrap();
    let app = microservices_app();
    let factory = || {
        app.factory(Mode::Direct)
            .client(server.client().unwrap())
            .namespace("dev")
            .instance_name("shop")
            .timeout(Duration::from_secs(10))
    };
    let status = factory().deploy(&spec("dev.yaml")).await.unwrap();
    assert_eq!(status.health, Health::Healthy);
    assert!(status.services.user.ready);
    let again = factory().status().await.unwrap();
    assert_eq!(again.health, Health::Healthy);
    factory().delete().await.unwrap();
    let err = factory().status().await.unwrap_err();
    assert!(
        matches!(err, FactoryError::Direct(DeployError::NotDeployed { .. })),
        "{err}"
    );
}
