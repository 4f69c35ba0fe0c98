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
            .create_namespace(true)
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

/// Like `kroxide deploy`, the factory does not create the namespace unless
/// asked to: a missing one is an error that names it, and nothing is written.
#[tokio::test]
async fn a_missing_namespace_is_an_error_unless_create_namespace_is_set() {
    let server = TestServer::start().await.unwrap();
    let app = microservices_app();
    let factory = || {
        app.factory(Mode::Direct)
            .client(server.client().unwrap())
            .namespace("staging")
            .instance_name("shop")
            .timeout(Duration::from_secs(10))
    };
    let err = factory().deploy(&spec("dev.yaml")).await.unwrap_err();
    assert!(
        matches!(&err, FactoryError::NoNamespace(ns) if ns == "staging"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`staging`") && msg.contains(".create_namespace(true)"),
        "{msg}"
    );
    // Nothing was written: the instance was never deployed.
    let err = factory().status().await.unwrap_err();
    assert!(
        matches!(err, FactoryError::Direct(DeployError::NotDeployed { .. })),
        "{err}"
    );
    // Options given whole count too, and the setter wins over them.
    let opts = kroxide::engine::DeployOptions {
        create_namespace: true,
        ..Default::default()
    };
    let err = factory()
        .options(opts.clone())
        .create_namespace(false)
        .deploy(&spec("dev.yaml"))
        .await
        .unwrap_err();
    assert!(matches!(err, FactoryError::NoNamespace(_)), "{err:?}");
    let status = factory()
        .create_namespace(true)
        .deploy(&spec("dev.yaml"))
        .await
        .unwrap();
    assert_eq!(status.health, Health::Healthy);
    factory().delete().await.unwrap();
    // Once it exists, the option is not needed.
    factory().deploy(&spec("dev.yaml")).await.unwrap();
    factory().options(opts).delete().await.unwrap();
}

mod secret_status {
    use kroxide::prelude::*;

    #[derive(Schema, Serialize, Deserialize, Clone)]
    pub struct CredsSpec {
        pub password: String,
    }

    /// What the graph computes: the password the Secret holds, as a string.
    #[derive(Schema, Serialize, Deserialize, Clone, Debug)]
    pub struct CredsStatus {
        pub password: String,
    }

    /// The same graph, read with a status type the value does not fit.
    #[derive(Schema, Serialize, Deserialize, Clone, Debug)]
    pub struct WrongStatus {
        pub password: bool,
    }

    fn build<St: Schema>(
        status: impl Fn(&Handle<Secret>) -> <St as Schema>::Exprs,
    ) -> ResourceGraph<CredsSpec, St> {
        ResourceGraph::<CredsSpec, St>::new("creds", "v1alpha1", "Creds").build(|g, spec| {
            let secret = g.add(Secret::new("creds").string_data("password", &spec.password));
            status(&secret)
        })
    }

    pub fn graph() -> ResourceGraph<CredsSpec, CredsStatus> {
        build(|s| CredsStatusExpr {
            password: s.field("stringData.password"),
        })
    }

    pub fn wrong() -> ResourceGraph<CredsSpec, WrongStatus> {
        build(|s| WrongStatusExpr {
            password: cel(&format!("{}.stringData.password", s.id())),
        })
    }
}

/// A status field that carries a Secret's value and does not fit the status
/// type: the error says which field and what type, never the value.
#[tokio::test]
async fn a_status_error_never_shows_a_secret_value() {
    use secret_status::{graph, wrong, CredsSpec};
    let server = TestServer::start().await.unwrap();
    let password = "s3cr3t-hunter2-0xDEADBEEF";
    let spec = CredsSpec {
        password: password.into(),
    };
    // The graph works when the type fits (the status does carry the value).
    let ok = graph()
        .factory(Mode::Direct)
        .client(server.client().unwrap())
        .deploy(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.password, password);
    let wrong = wrong();
    let factory = || {
        wrong
            .factory(Mode::Direct)
            .client(server.client().unwrap())
            .instance_name("creds")
    };
    let check = |err: FactoryError| {
        let (display, debug) = (err.to_string(), format!("{err:?}"));
        assert!(!display.contains(password), "{display}");
        assert!(!debug.contains(password), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(display.contains("`password`"), "{display}");
        assert!(display.contains("expected a boolean"), "{display}");
        match err {
            FactoryError::Status { status, .. } => {
                assert_eq!(status["password"], kroxide::semantics::redact::MASK)
            }
            e => panic!("{e:?}"),
        }
    };
    check(factory().deploy(&spec).await.unwrap_err());
    check(factory().status().await.unwrap_err());
}
