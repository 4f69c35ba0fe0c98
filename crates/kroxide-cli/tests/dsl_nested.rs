//! A graph inside another in the typed DSL (issue 17 item 1, KRO's chained
//! RGDs): examples/nested.rs renders both RGDs, plans through the inner
//! graph, and deploys on a real cluster through the typed factory, in KRO
//! mode (both RGDs applied, the inner first) and in direct mode (the
//! inner instance reconciled by KRO), reading the inner status typed.

#[path = "../../../examples/nested.rs"]
#[allow(dead_code)]
mod nested;
mod real;

use kroxide::prelude::*;
use kroxide::semantics::chain::RgdSet;
use kroxide::semantics::plan::PlanOptions;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use real::Real;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn the_nested_example_renders_both_rgds_and_plans_through_them() {
    let rgds = nested::shop().to_rgds().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = rgds.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["shop-database", "shop-app"]);
    let data = rgds[1].resource("data").unwrap().template.as_ref().unwrap();
    assert_eq!(data["apiVersion"], "kro.run/v1alpha1");
    assert_eq!(data["kind"], "ShopDatabase");
    assert_eq!(data["spec"]["name"], "${schema.spec.name}-db");
    let set = RgdSet::new(&rgds).unwrap();
    let instance =
        json!({"metadata": {"name": "shop"}, "spec": {"name": "shop", "image": "nginx:1.27"}});
    let plan = set
        .plan(
            &rgds[1],
            &instance,
            &PlanOptions {
                assume_ready: true,
                ..Default::default()
            },
        )
        .unwrap();
    let inner = &plan.resource("data").unwrap().expanded[0];
    assert_eq!(
        inner.resource("db").unwrap().objects[0]["metadata"]["name"],
        "shop-db"
    );
    assert_eq!(plan.status["database"], "shop-db:5432");
    let web = &plan.resource("web").unwrap().objects[0];
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "shop-db:5432"
    );
}

fn rgds_api(r: &Real) -> Api<DynamicObject> {
    Api::all_with(
        r.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("kro.run", "v1alpha1", "ResourceGraphDefinition"),
            "resourcegraphdefinitions",
        ),
    )
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn the_nested_example_deploys_through_kro_and_directly_with_typed_status() {
    let r = Real::new("nested", &["direct"]).await;
    let app = nested::shop();
    for name in ["shop-app", "shop-database"] {
        let _ = rgds_api(&r).delete(name, &Default::default()).await;
    }
    let spec = nested::ShopSpec {
        name: "shop".into(),
        image: "nginx:1.27".into(),
    };
    let crds: Api<DynamicObject> = Api::all_with(
        r.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    for crd in ["shopapps.kro.run", "shopdatabases.kro.run"] {
        let _ = crds.delete(crd, &Default::default()).await;
        let deadline = Instant::now() + r.timeout;
        while crds.get_opt(crd).await.unwrap().is_some() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let sts: Api<k8s_openapi::api::apps::v1::StatefulSet> =
        Api::namespaced(r.client.clone(), &r.ns);
    let direct_sts: Api<k8s_openapi::api::apps::v1::StatefulSet> =
        Api::namespaced(r.client.clone(), r.extra(0));

    // Direct mode without KRO: kroxide serves the inner kind, deploys the
    // inner instance and writes its status, which the outer graph reads.
    let direct = || {
        app.factory(Mode::Direct)
            .client(r.client.clone())
            .namespace(r.extra(0))
            .create_namespace(true)
            .timeout(r.timeout)
    };
    let status = direct()
        .deploy(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.database, "shop-db:5432");
    assert_eq!(status.database_ready, 1, "{status:?}");
    assert_eq!(status.web_ready, 1);
    let db = direct_sts.get("shop-db").await.unwrap();
    assert_eq!(
        db.metadata.owner_references.unwrap()[0].kind,
        "ShopDatabase"
    );
    assert!(
        rgds_api(&r)
            .get_opt("shop-database")
            .await
            .unwrap()
            .is_none(),
        "no RGD in direct mode"
    );

    // Through KRO: both RGDs applied, the inner first; KRO adopts the
    // instance CRD kroxide made.
    let kro = || {
        app.factory(Mode::Kro)
            .client(r.client.clone())
            .namespace(&r.ns)
            .timeout(r.timeout)
    };
    let status = kro().deploy(&spec).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.database, "shop-db:5432");
    assert_eq!(status.database_ready, 1, "{status:?}");
    assert_eq!(status.web_ready, 1);
    // The inner graph's objects are there, made by KRO from the inner RGD.
    let db = sts.get("shop-db").await.unwrap();
    assert_eq!(db.status.unwrap().ready_replicas, Some(1));
    let inner = rgds_api(&r).get("shop-database").await.unwrap();
    assert_eq!(inner.data["status"]["state"], "Active");

    // Deleting the direct instance takes the inner objects with it.
    direct().delete().await.unwrap();
    let deadline = Instant::now() + r.timeout;
    while direct_sts.get_opt("shop-db").await.unwrap().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(direct_sts.get_opt("shop-db").await.unwrap().is_none());
    kro().delete().await.unwrap();
    // KRO deletes the inner instance with the outer one, and its objects.
    let deadline = Instant::now() + r.timeout;
    while sts.get_opt("shop-db").await.unwrap().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(sts.get_opt("shop-db").await.unwrap().is_none());
    for name in ["shop-app", "shop-database"] {
        let _ = rgds_api(&r).delete(name, &Default::default()).await;
    }
    r.cleanup().await;
}
