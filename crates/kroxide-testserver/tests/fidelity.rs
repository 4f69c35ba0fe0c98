//! Where the test server must answer as a real kube-apiserver (1.36) does:
//! each case here was checked against one.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kroxide_testserver::TestServer;
use kube::api::{
    Api, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A GET of `path` as raw JSON, as `kubectl get --raw` shows it.
async fn raw(client: &kube::Client, path: &str) -> Value {
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    client.request::<Value>(req).await.unwrap()
}

/// The raw lines of a watch of `path` (with its query), until `n` came.
async fn raw_watch(server: &TestServer, path: &str, n: usize) -> Vec<Value> {
    let client = server.client().unwrap();
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    let stream = client.request_events::<Value>(req).await.unwrap();
    stream
        .take(n)
        .map(|e| serde_json::to_value(e.unwrap()).unwrap())
        .collect()
        .await
}

fn deployment(name: &str, replicas: i32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
}

#[tokio::test]
async fn list_items_of_built_in_kinds_have_no_kind_but_custom_resources_do() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let pp = PatchParams::apply("t");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.patch(
        "c1",
        &pp,
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"a": "b"}})),
    )
    .await
    .unwrap();
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deps.patch("web", &pp, &Patch::Apply(deployment("web", 1)))
        .await
        .unwrap();

    // LIST: the list says the kind, its items do not.
    for (path, list_kind) in [
        ("/api/v1/namespaces/default/configmaps", "ConfigMapList"),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            "DeploymentList",
        ),
        ("/api/v1/namespaces", "NamespaceList"),
    ] {
        let list = raw(&client, path).await;
        assert_eq!(list["kind"], list_kind, "{list}");
        assert!(list["apiVersion"].is_string(), "{list}");
        assert!(list["metadata"].get("continue").is_none(), "{list}");
        let items = list["items"].as_array().unwrap();
        assert!(!items.is_empty());
        for item in items {
            assert!(item.get("kind").is_none(), "{path}: {item}");
            assert!(item.get("apiVersion").is_none(), "{path}: {item}");
            assert!(item["metadata"]["name"].is_string());
        }
    }
    // So a dynamic list has no types on its items.
    let dyn_cms: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "ConfigMap"),
            "configmaps",
        ),
    );
    let listed = dyn_cms.list(&ListParams::default()).await.unwrap();
    assert!(listed.items.iter().all(|o| o.types.is_none()));
    // GET says the kind.
    let got = raw(&client, "/api/v1/namespaces/default/configmaps/c1").await;
    assert_eq!(
        (&got["kind"], &got["apiVersion"]),
        (&json!("ConfigMap"), &json!("v1"))
    );
    // Watch events (initial ones included) say it too.
    let events = raw_watch(
        &server,
        "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=5",
        1,
    )
    .await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");
    assert_eq!(events[0]["object"]["apiVersion"], "v1");

    // Custom resources: the items keep their kind and apiVersion.
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let crd_list = raw(
        &client,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    )
    .await;
    assert!(
        crd_list["items"][0].get("kind").is_none(),
        "CRDs themselves are built in: {crd_list}"
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Widget"),
            "widgets",
        ),
    );
    widgets
        .patch(
            "w1",
            &pp,
            &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 1}})),
        )
        .await
        .unwrap();
    let list = raw(&client, "/apis/example.com/v1/namespaces/default/widgets").await;
    assert_eq!(list["kind"], "WidgetList");
    assert_eq!(list["metadata"]["continue"], "", "{list}");
    assert_eq!(list["items"][0]["kind"], "Widget", "{list}");
    assert_eq!(list["items"][0]["apiVersion"], "example.com/v1", "{list}");
}

#[tokio::test]
async fn an_applied_deployment_comes_back_without_status_which_the_controller_writes_later() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| c.delay = Duration::from_millis(500));
    let client = server.client().unwrap();
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    let pp = PatchParams::apply("t");
    let t0 = Instant::now();
    // The raw response: the API server's empty status, no controller's.
    let req =
        http::Request::patch("/apis/apps/v1/namespaces/default/deployments/web?fieldManager=t")
            .header("content-type", "application/apply-patch+yaml")
            .body(serde_json::to_vec(&deployment("web", 2)).unwrap())
            .unwrap();
    let applied = client.request::<Value>(req).await.unwrap();
    assert_eq!(applied["status"], json!({}), "{applied}");
    assert_eq!(applied["metadata"]["generation"], 1);
    // Right after, nothing has been observed yet.
    let now = api.get("web").await.unwrap();
    let st = now.status.unwrap_or_default();
    assert_eq!(
        (st.observed_generation, st.ready_replicas),
        (None, None),
        "the controller ran before its delay"
    );
    // The watch shows the object as written, then the controller's status.
    let mut seen = Vec::new();
    let ready = loop {
        match events.next().await.unwrap().unwrap() {
            WatchEvent::Added(d) => seen.push(("ADDED", d.status.clone())),
            WatchEvent::Modified(d) => {
                seen.push(("MODIFIED", d.status.clone()));
                if d.status.as_ref().and_then(|s| s.ready_replicas) == Some(2) {
                    break d;
                }
            }
            _ => {}
        }
    };
    assert!(t0.elapsed() >= Duration::from_millis(500), "{seen:?}");
    assert_eq!(seen[0].0, "ADDED");
    assert!(
        seen[0]
            .1
            .as_ref()
            .is_none_or(|s| s.ready_replicas.is_none()),
        "{seen:?}"
    );
    assert_eq!(ready.status.unwrap().observed_generation, Some(1));

    // A spec change: the response has the old status, observedGeneration
    // lagging generation, until the controller catches up.
    let scaled = api
        .patch("web", &pp, &Patch::Apply(deployment("web", 3)))
        .await
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
    let st = scaled.status.unwrap();
    assert_eq!(
        (st.observed_generation, st.ready_replicas),
        (Some(1), Some(2))
    );
    let later = loop {
        if let WatchEvent::Modified(d) = events.next().await.unwrap().unwrap() {
            if d.status.as_ref().and_then(|s| s.observed_generation) == Some(2) {
                break d;
            }
        }
    };
    assert_eq!(later.status.unwrap().ready_replicas, Some(3));
}

#[tokio::test]
async fn with_the_default_delay_the_status_still_comes_after_the_write() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let api: Api<Deployment> = Api::namespaced(client, "default");
    for i in 0..5 {
        let name = format!("d{i}");
        let applied = api
            .patch(
                &name,
                &PatchParams::apply("t"),
                &Patch::Apply(deployment(&name, 1)),
            )
            .await
            .unwrap();
        let st = applied.status.unwrap();
        assert_eq!((st.observed_generation, st.ready_replicas), (None, None));
    }
    tokio::time::timeout(
        Duration::from_secs(5),
        kube::runtime::wait::await_condition(api.clone(), "d4", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .is_some_and(|s| s.ready_replicas == Some(1))
        }),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn a_stuck_deployment_is_observed_but_never_ready() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| {
        c.stuck.insert("Deployment/default/web".into());
    });
    let api: Api<Deployment> = Api::namespaced(server.client().unwrap(), "default");
    api.patch(
        "web",
        &PatchParams::apply("t"),
        &Patch::Apply(deployment("web", 2)),
    )
    .await
    .unwrap();
    let observed = tokio::time::timeout(
        Duration::from_secs(5),
        kube::runtime::wait::await_condition(api.clone(), "web", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .is_some_and(|s| s.observed_generation == Some(1))
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    let st = observed.status.unwrap();
    assert_eq!(
        (
            st.replicas,
            st.updated_replicas,
            st.ready_replicas,
            st.unavailable_replicas
        ),
        (Some(2), Some(2), None, Some(2))
    );
    let available = st
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Available")
        .unwrap();
    assert_eq!(
        (available.status.as_str(), available.reason.as_deref()),
        ("False", Some("MinimumReplicasUnavailable"))
    );
    // Unstuck, it gets ready and the unavailable count goes.
    server.controllers(|c| c.stuck.clear());
    api.patch(
        "web",
        &PatchParams::apply("t"),
        &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "annotations": {"touch": "1"}}, "spec": deployment("web", 2)["spec"]})),
    )
    .await
    .unwrap();
    let ready = tokio::time::timeout(
        Duration::from_secs(5),
        kube::runtime::wait::await_condition(api.clone(), "web", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .is_some_and(|s| s.ready_replicas == Some(2))
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(ready.status.unwrap().unavailable_replicas, None);
}

#[tokio::test]
async fn watch_bookmarks_mark_the_end_of_the_initial_events_only() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.patch(
        "c1",
        &PatchParams::apply("t"),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}})),
    )
    .await
    .unwrap();
    let initial_end = |e: &Value| {
        e["type"] == "BOOKMARK"
            && e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
    };
    // No version: the objects, then at once the end-of-initial-events bookmark.
    let t0 = Instant::now();
    let ev = raw_watch(
        &server,
        "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=5",
        2,
    )
    .await;
    assert_eq!(ev[0]["type"], "ADDED");
    assert!(initial_end(&ev[1]), "{ev:?}");
    assert_eq!(ev[1]["object"]["kind"], "ConfigMap");
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    // Streaming lists, as kube's watcher asks for them.
    let ev = raw_watch(
        &server,
        "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=5",
        2,
    )
    .await;
    assert_eq!(ev[0]["type"], "ADDED");
    assert!(initial_end(&ev[1]), "{ev:?}");
    // Resuming from a version: no initial events, and later bookmarks
    // have no annotation.
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let ev = raw_watch(
        &server,
        &format!("/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=5"),
        1,
    )
    .await;
    assert_eq!(ev[0]["type"], "BOOKMARK", "{ev:?}");
    assert!(!initial_end(&ev[0]), "{ev:?}");
    // sendInitialEvents=false without a version: nothing to start with.
    let ev = raw_watch(
        &server,
        "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&sendInitialEvents=false&timeoutSeconds=5",
        1,
    )
    .await;
    assert_eq!(ev[0]["type"], "BOOKMARK", "{ev:?}");
    assert!(!initial_end(&ev[0]), "{ev:?}");
    // sendInitialEvents=true needs resourceVersionMatch=NotOlderThan.
    let req = http::Request::get(
        "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true",
    )
    .body(Vec::new())
    .unwrap();
    let err = client.request::<Value>(req).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422 && s.message.contains("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")),
        "{err:?}"
    );
    // kube's own streaming list works.
    let mut stream = cms
        .watch(&WatchParams::streaming_lists().timeout(5), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        stream.next().await.unwrap().unwrap(),
        WatchEvent::Added(_)
    ));
    match stream.next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => {
            assert_eq!(b.metadata.annotations["k8s.io/initial-events-end"], "true")
        }
        other => panic!("expected the initial-events-end bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn services_and_claims_have_no_generation_workloads_do() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let pp = PatchParams::apply("t");
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc = svcs
        .patch(
            "s",
            &pp,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]}})),
        )
        .await
        .unwrap();
    assert_eq!(svc.metadata.generation, None);
    assert_eq!(
        serde_json::to_value(svc.status.unwrap()).unwrap(),
        json!({"loadBalancer": {}})
    );
    let deps: Api<Deployment> = Api::namespaced(client, "default");
    let d = deps
        .patch("d", &pp, &Patch::Apply(deployment("d", 1)))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
}

#[tokio::test]
async fn a_secret_holds_at_most_one_mebibyte_of_data() {
    use base64::Engine as _;
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Secret"), "secrets");
    let secrets: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let secret = |name: &str, bytes: usize| -> DynamicObject {
        serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {"a": base64::engine::general_purpose::STANDARD.encode(vec![b'x'; bytes])}}),
        )
        .unwrap()
    };
    // The limit is on the decoded bytes: 1,000,000 bytes (1.33 MB in base64) fit.
    secrets
        .create(&PostParams::default(), &secret("fits", 1_000_000))
        .await
        .unwrap();
    let err = secrets
        .create(&PostParams::default(), &secret("big", 1024 * 1024 + 1))
        .await
        .unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("not an API error: {err}")
    };
    assert_eq!(s.code, 422);
    assert_eq!(
        s.message,
        "Secret \"big\" is invalid: data: Too long: may not be more than 1048576 bytes"
    );
}
