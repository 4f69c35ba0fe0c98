//! The KRO simulator: RGDs accepted or refused, instances reconciled with
//! kroxide's planner, children deleted with their instance.

use kroxide_testserver::TestServer;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::await_condition;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn fixture(p: &str) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/kro/fixtures/chainsaw")
            .join(p),
    )
    .unwrap();
    kroxide_model::load_documents(p, &text).unwrap().remove(0).0
}

fn rgd_api(client: kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("kro.run", "v1alpha1", "ResourceGraphDefinition"),
            "resourcegraphdefinitions",
        ),
    )
}

fn state_is(want: &'static str) -> impl Fn(Option<&DynamicObject>) -> bool {
    move |o: Option<&DynamicObject>| {
        o.and_then(|o| o.data.pointer("/status/state"))
            .and_then(Value::as_str)
            == Some(want)
    }
}

#[tokio::test]
async fn an_rgd_becomes_active_and_its_instance_is_reconciled() {
    let server = TestServer::start().await.unwrap();
    server.install_kro(true);
    let client = server.client().unwrap();
    let rgds = rgd_api(client.clone());
    let rgd = fixture("check-multi-resource-rgd/rgd.yaml");
    rgds.patch(
        "check-multi-resource-rgd",
        &PatchParams::apply("kroxide"),
        &Patch::Apply(rgd),
    )
    .await
    .unwrap();
    let active = tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(rgds.clone(), "check-multi-resource-rgd", state_is("Active")),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(
        active.data["status"]["topologicalOrder"],
        serde_json::json!(["configmap", "service", "deployment", "autoscaler"])
    );
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(
            "kro.run",
            "v1alpha1",
            "CheckMultiResourceAutoscaledDeployment",
        ),
        "checkmultiresourceautoscaleddeployments",
    );
    let instances: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let inst = fixture("check-multi-resource-rgd/instance.yaml");
    instances
        .patch(
            "test-app-instance",
            &PatchParams::apply("kroxide"),
            &Patch::Apply(inst),
        )
        .await
        .unwrap();
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(instances.clone(), "test-app-instance", state_is("ACTIVE")),
    )
    .await;
    if waited.is_err() {
        let d: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            "default",
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("apps", "v1", "Deployment"),
                "deployments",
            ),
        );
        let all = d.list(&Default::default()).await.unwrap();
        panic!(
            "not ACTIVE: {:#}\n{:#?}",
            instances.get("test-app-instance").await.unwrap().data["status"],
            all.items
                .iter()
                .map(|x| (
                    x.metadata.name.clone(),
                    x.metadata.generation,
                    x.data.get("status").cloned()
                ))
                .collect::<Vec<_>>()
        );
    }
    let ready = waited.unwrap().unwrap().unwrap();
    let conds = ready.data["status"]["conditions"].as_array().unwrap();
    for t in [
        "Ready",
        "InstanceManaged",
        "GraphResolved",
        "ResourcesReady",
    ] {
        assert!(
            conds
                .iter()
                .any(|c| c["type"] == t && c["status"] == "True"),
            "{t}: {conds:?}"
        );
    }
    let deploys: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    let d = deploys.get("test-app-deployment").await.unwrap();
    assert_eq!(
        d.metadata.labels.unwrap()["kro.run/instance-name"],
        "test-app-instance"
    );
    // Deleting the instance deletes its children.
    instances
        .delete("test-app-instance", &DeleteParams::default())
        .await
        .unwrap();
    assert!(deploys
        .get_opt("test-app-deployment")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn an_invalid_rgd_is_inactive_with_the_reason() {
    let server = TestServer::start().await.unwrap();
    server.install_kro(true);
    let rgds = rgd_api(server.client().unwrap());
    let mut rgd = fixture("check-multi-resource-rgd/rgd.yaml");
    rgd["spec"]["resources"][0]["id"] = serde_json::json!("Config-Map");
    rgds.patch(
        "check-multi-resource-rgd",
        &PatchParams::apply("kroxide"),
        &Patch::Apply(rgd),
    )
    .await
    .unwrap();
    let inactive = tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(
            rgds.clone(),
            "check-multi-resource-rgd",
            state_is("Inactive"),
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    let conds = inactive.data["status"]["conditions"].as_array().unwrap();
    let accepted = conds.iter().find(|c| c["type"] == "GraphAccepted").unwrap();
    assert_eq!(accepted["status"], "False");
    assert!(
        accepted["message"].as_str().unwrap().contains("Config-Map"),
        "{accepted}"
    );
}

#[tokio::test]
async fn without_kro_there_is_no_rgd_api() {
    let server = TestServer::start().await.unwrap();
    let rgds = rgd_api(server.client().unwrap());
    let e = rgds.list(&Default::default()).await.unwrap_err();
    assert!(
        matches!(e, kube::Error::Api(ref s) if s.code == 404),
        "{e:?}"
    );
}
