//! KRO mode against the test API server's KRO simulator.

mod scenarios;

use kroxide::engine::kro::{delete, deploy, KroError, KroOptions};
use kroxide_testserver::TestServer;
use scenarios::example as instance;
use scenarios::microservices::{microservices_app, Health, MicroservicesStatus};
use std::time::Duration;

fn opts() -> KroOptions {
    KroOptions {
        namespace: "prod".into(),
        timeout: Duration::from_secs(10),
        ..KroOptions::default()
    }
}

#[tokio::test]
async fn prod_deploys_through_kro_and_reads_back_a_typed_status() {
    let server = TestServer::start().await.unwrap();
    server.install_kro(true);
    let client = server.client().unwrap();
    let rgd = microservices_app().to_rgd().unwrap();
    let status = deploy(&client, &rgd, &instance("prod.yaml"), &opts())
        .await
        .unwrap();
    assert_eq!(status["state"], "ACTIVE");
    let typed: MicroservicesStatus = serde_json::from_value(status.clone()).unwrap();
    assert_eq!(typed.health, Health::Healthy);
    assert_eq!(typed.gateway_url, "https://api.mycompany.com");
    assert!(typed.services.product.ready);
    // KRO created the children, prod-sized.
    let deploys: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), "prod");
    assert_eq!(
        deploys
            .get("product-service")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(5)
    );
    // Deleting the instance removes its children; then the definition can go.
    delete(&client, &rgd, "microservices-prod", true, &opts())
        .await
        .unwrap();
    assert!(deploys.get_opt("product-service").await.unwrap().is_none());
}

#[tokio::test]
async fn an_rgd_kro_refuses_fails_with_kros_message_and_no_instance() {
    let server = TestServer::start().await.unwrap();
    server.install_kro(true);
    let client = server.client().unwrap();
    // Valid for kroxide's checks, refused by the (simulated) controller: a
    // resource id KRO reserves, smuggled past the local validation.
    let mut rgd = microservices_app().to_rgd().unwrap();
    rgd.spec.resources[0].id = "metadata".into();
    let e = deploy(&client, &rgd, &instance("prod.yaml"), &opts())
        .await
        .unwrap_err();
    match &e {
        KroError::Deploy(_) => {
            // kroxide's own validation caught it first: nothing was written.
            assert!(server.writes().is_empty(), "{:?}", server.writes());
        }
        KroError::Inactive { message, .. } => assert!(message.contains("metadata"), "{message}"),
        other => panic!("unexpected {other}"),
    }
    assert!(
        !server
            .writes()
            .iter()
            .any(|w| w.path.contains("microservicesapps")),
        "no instance may be created"
    );
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

#[tokio::test]
async fn breaking_schema_changes_are_refused_unless_allowed() {
    let server = TestServer::start().await.unwrap();
    server.install_kro(true);
    let client = server.client().unwrap();
    let rgd = microservices_app().to_rgd().unwrap();
    deploy(&client, &rgd, &instance("prod.yaml"), &opts())
        .await
        .unwrap();
    // Remove a spec field: existing instances would lose it.
    let mut changed = rgd.clone();
    if let Some(spec) = changed.spec.schema.spec.as_mut() {
        spec.shift_remove("version");
    }
    let mut inst = instance("prod.yaml");
    inst["spec"].as_object_mut().unwrap().remove("version");
    // The status and resources still read schema.spec.version: drop those uses.
    let yaml = kroxide::model::to_yaml(&changed)
        .unwrap()
        .replace("${schema.spec.version}", "v1");
    let changed = kroxide::model::load_str("changed.yaml", &yaml)
        .unwrap()
        .remove(0)
        .rgd;
    let e = deploy(&client, &changed, &inst, &opts()).await.unwrap_err();
    assert!(
        matches!(&e, KroError::Breaking { changes, .. } if changes.iter().any(|c| c.contains("spec.version: field removed"))),
        "{e}"
    );
    let allowed = KroOptions {
        allow_breaking_changes: true,
        ..opts()
    };
    deploy(&client, &changed, &inst, &allowed).await.unwrap();
    let rgds: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        client.clone(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("kro.run", "v1alpha1", "ResourceGraphDefinition"),
            "resourcegraphdefinitions",
        ),
    );
    let live = rgds.get("microservices-app").await.unwrap();
    assert_eq!(
        live.metadata.annotations.unwrap()["kro.run/allow-breaking-changes"],
        "true"
    );
}
