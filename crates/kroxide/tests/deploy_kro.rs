//! KRO mode against the test API server, which has no KRO: what kroxide
//! says when KRO is not installed. Everything that needs a KRO controller
//! runs against the real KRO on a real cluster, in `e2e_kro.rs`
//! (`scripts/e2e.sh`).

mod scenarios;

use kroxide::engine::kro::{deploy, KroError, KroOptions};
use kroxide_testserver::TestServer;
use scenarios::example as instance;
use scenarios::microservices::microservices_app;
use std::time::Duration;

fn opts() -> KroOptions {
    KroOptions {
        namespace: "prod".into(),
        timeout: Duration::from_secs(10),
        ..KroOptions::default()
    }
}

#[tokio::test]
async fn without_kro_the_message_says_so() {
    let server = TestServer::start().await.unwrap();
    let e = deploy(
        &server.client().unwrap(),
        &microservices_app().to_rgd().unwrap(),
        &instance("prod.yaml"),
        &opts(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, KroError::NotInstalled));
    assert!(e.to_string().contains("deploy without it"), "{e}");
    assert!(server.writes().is_empty());
}
