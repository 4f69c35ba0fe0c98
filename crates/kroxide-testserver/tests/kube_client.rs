//! The test API server, driven by the real kube-rs client over HTTP.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kroxide_testserver::TestServer;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Discovery;
use serde_json::json;

fn cm(name: &str, data: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

#[tokio::test]
async fn typed_crud_through_kube() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(cm("a", json!({"k": "v"}))).unwrap(),
        )
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let got = api.get("a").await.unwrap();
    assert_eq!(got.data.as_ref().unwrap()["k"], "v");
    // Create again: 409 AlreadyExists.
    let err = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(cm("a", json!({}))).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );
    // Replace with a stale resourceVersion: 409 Conflict.
    let mut stale = got.clone();
    stale.metadata.resource_version = Some("1".into());
    let err = api
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );
    // Labels and list selectors.
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &serde_json::from_value(cm("b", json!({}))).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        api.list(&ListParams::default().labels("app=x"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        api.list(&ListParams::default().fields("metadata.name=b"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        api.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );
    // JSON patch.
    let p: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/data/z", "value": "1"}])).unwrap();
    let patched = api
        .patch("b", &PatchParams::default(), &Patch::<()>::Json(p))
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["z"], "1");
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let err = api.get("a").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_side_apply_is_idempotent_and_conflicts_between_managers() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    let pp = PatchParams::apply("kroxide");
    let first = api
        .patch("c", &pp, &Patch::Apply(cm("c", json!({"x": "1"}))))
        .await
        .unwrap();
    let second = api
        .patch("c", &pp, &Patch::Apply(cm("c", json!({"x": "1"}))))
        .await
        .unwrap();
    assert_eq!(
        first.metadata.resource_version, second.metadata.resource_version,
        "a repeated apply changes nothing"
    );
    let mf = second.metadata.managed_fields.unwrap();
    assert_eq!(mf[0].manager.as_deref(), Some("kroxide"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    // Another manager changing the same field: 409.
    let err = api
        .patch(
            "c",
            &PatchParams::apply("someone-else"),
            &Patch::Apply(cm("c", json!({"x": "2"}))),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.message.contains("conflict with \"kroxide\"")),
        "{err:?}"
    );
    // With force, it takes the field over.
    let forced = api
        .patch(
            "c",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(cm("c", json!({"x": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["x"], "2");
    // A field the manager stops sending is removed.
    api.patch(
        "d",
        &pp,
        &Patch::Apply(cm("d", json!({"a": "1", "b": "2"}))),
    )
    .await
    .unwrap();
    let d = api
        .patch("d", &pp, &Patch::Apply(cm("d", json!({"a": "1"}))))
        .await
        .unwrap();
    assert!(!d.data.unwrap().contains_key("b"));
}

#[tokio::test]
async fn generation_status_subresource_and_validation() {
    let server = TestServer::start().await.unwrap();
    let api: Api<Deployment> = Api::namespaced(server.client().unwrap(), "default");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
        "status": {"readyReplicas": 99}});
    let pp = PatchParams::apply("kroxide");
    let v1 = api
        .patch("web", &pp, &Patch::Apply(d.clone()))
        .await
        .unwrap();
    assert_eq!(v1.metadata.generation, Some(1));
    assert_eq!(
        v1.status,
        Some(Default::default()),
        "status is not written through the main endpoint (a new Deployment has the API server's `status: {{}}`)"
    );
    // Server defaults, as a real API server sets them.
    let spec = v1.spec.unwrap();
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    assert_eq!(
        spec.template.spec.unwrap().containers[0]
            .image_pull_policy
            .as_deref(),
        Some("IfNotPresent")
    );
    // Status through /status does not bump the generation.
    let st = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(st.status.unwrap().ready_replicas, Some(1));
    assert_eq!(st.metadata.generation, Some(1));
    // A spec change does.
    let mut d2 = d.clone();
    d2["spec"]["replicas"] = json!(3);
    let v2 = api.patch("web", &pp, &Patch::Apply(d2)).await.unwrap();
    assert_eq!(v2.metadata.generation, Some(2));
    assert_eq!(
        v2.status.unwrap().ready_replicas,
        Some(1),
        "status kept across spec writes"
    );
    // Wrong type: 422 with a Kubernetes Status.
    let mut bad = d.clone();
    bad["spec"]["replicas"] = json!("two");
    let err = api.patch("web", &pp, &Patch::Apply(bad)).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422 && s.reason == "Invalid" && s.message.contains("spec.replicas")),
        "{err:?}"
    );
    // Unknown field with fieldValidation=Strict: 422; without, it is dropped.
    let mut unknown = d.clone();
    unknown["spec"]["replicaz"] = json!(2);
    let mut strict = PatchParams::apply("kroxide");
    strict.field_validation = Some(kube::api::ValidationDirective::Strict);
    let err = api
        .patch("web", &strict, &Patch::Apply(unknown.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422 && s.message.contains("replicaz")),
        "{err:?}"
    );
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    let out = api
        .patch(
            "e",
            &PatchParams::apply("kroxide").dry_run(),
            &Patch::Apply(cm("e", json!({"x": "1"}))),
        )
        .await
        .unwrap();
    assert_eq!(out.data.unwrap()["x"], "1");
    assert!(api.get_opt("e").await.unwrap().is_none());
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    assert!(server
        .requests()
        .iter()
        .any(|r| r.dry_run && r.field_manager.as_deref() == Some("kroxide")));
}

#[tokio::test]
async fn watch_events_resumption_and_gone() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    let pp = PatchParams::apply("kroxide");
    api.patch("w", &pp, &Patch::Apply(cm("w", json!({"x": "1"}))))
        .await
        .unwrap();
    api.patch("w", &pp, &Patch::Apply(cm("w", json!({"x": "2"}))))
        .await
        .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match stream.next().await.unwrap().unwrap() {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            _ => {}
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    // Resuming from the list's version replays what happened since.
    let mut replay = api
        .watch(&WatchParams::default().timeout(2), &rv)
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        replay.next().await.unwrap().unwrap(),
        WatchEvent::Added(_)
    ));
    // After compaction the old version is gone: 410.
    server.compact();
    let mut gone = api
        .watch(&WatchParams::default().timeout(2), &rv)
        .await
        .unwrap()
        .boxed();
    match gone.next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
    // Bookmarks when asked for.
    let mut bm = api
        .watch(&WatchParams::default().timeout(3), "0")
        .await
        .unwrap()
        .boxed();
    let mut saw = false;
    while let Some(Ok(e)) = bm.next().await {
        if matches!(e, WatchEvent::Bookmark(_)) {
            saw = true;
            break;
        }
    }
    assert!(saw, "no bookmark");
}

#[tokio::test]
async fn crds_become_servable_and_dynamic_objects_work() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer", "default": 3}}}, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
    });
    let created = crds
        .patch(
            "widgets.example.com",
            &PatchParams::apply("kroxide"),
            &Patch::Apply(crd),
        )
        .await
        .unwrap();
    let conds = created.data["status"]["conditions"].as_array().unwrap();
    assert!(conds
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True"));
    // Discovery now finds the kind.
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let (ar, _caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .expect("discovered");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let w = widgets
        .patch("w1", &PatchParams::apply("kroxide"), &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"junk": true}})))
        .await
        .unwrap();
    assert_eq!(w.data["spec"]["size"], 3, "CRD defaults applied");
    assert!(
        w.data["spec"].get("junk").is_none(),
        "unknown fields pruned"
    );
    // Built-in kinds are in discovery too.
    assert!(discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .is_some());
}

#[tokio::test]
async fn deleting_an_owner_cascades() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    let owner = api
        .patch(
            "owner",
            &PatchParams::apply("t"),
            &Patch::Apply(cm("owner", json!({}))),
        )
        .await
        .unwrap();
    let uid = owner.metadata.uid.unwrap();
    let mut child = cm("child", json!({}));
    child["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]);
    api.patch("child", &PatchParams::apply("t"), &Patch::Apply(child))
        .await
        .unwrap();
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("child").await.unwrap().is_none());
}

#[tokio::test]
async fn a_name_that_is_not_a_dns_subdomain_is_refused_as_by_the_api_server() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    for bad in ["Upper", "under_score", "-dash", "dot."] {
        let err = api
            .patch(
                bad,
                &PatchParams::apply("t"),
                &Patch::Apply(cm(bad, json!({}))),
            )
            .await
            .unwrap_err();
        match err {
            kube::Error::Api(s) => {
                assert_eq!(s.code, 422, "{bad}");
                assert!(s.message.contains("RFC 1123"), "{}", s.message);
            }
            other => panic!("{other}"),
        }
    }
    api.patch(
        "fine.name-1",
        &PatchParams::apply("t"),
        &Patch::Apply(cm("fine.name-1", json!({}))),
    )
    .await
    .unwrap();
}

/// An apply patch is YAML by its content type; like the API server, one that
/// starts as JSON is read as JSON, and either way a broken body is a 400.
#[tokio::test]
async fn apply_patches_are_read_as_yaml_or_as_json() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let send = |name: &str, body: &str| {
        let req = http::Request::patch(format!(
            "/api/v1/namespaces/default/configmaps/{name}?fieldManager=t"
        ))
        .header("content-type", "application/apply-patch+yaml")
        .body(body.as_bytes().to_vec())
        .unwrap();
        let client = client.clone();
        async move { client.request_text(req).await }
    };
    send(
        "y",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: from-yaml\n",
    )
    .await
    .unwrap();
    send(
        "j",
        r#"  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "data": {"k": "from-json"}}"#,
    )
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    assert_eq!(api.get("y").await.unwrap().data.unwrap()["k"], "from-yaml");
    assert_eq!(api.get("j").await.unwrap().data.unwrap()["k"], "from-json");
    for broken in [r#"{"apiVersion": "v1", "kind": "#, "kind: [ConfigMap"] {
        match send("b", broken).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!(s.code, 400);
                assert!(
                    s.message.contains("cannot decode the body"),
                    "{}",
                    s.message
                );
            }
            other => panic!("{broken:?}: {other:?}"),
        }
    }
    assert!(api.get_opt("b").await.unwrap().is_none());
}
