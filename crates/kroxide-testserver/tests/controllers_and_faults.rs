//! The simulated controllers and the fault injection, seen through kube.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kroxide_testserver::{FaultKind, TestServer};
use kube::api::{Api, Patch, PatchParams, WatchParams};
use kube::runtime::wait::await_condition;
use serde_json::json;
use std::time::{Duration, Instant};

fn deployment(name: &str, replicas: i32) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
}

fn ready(d: Option<&Deployment>) -> bool {
    d.and_then(|d| d.status.as_ref())
        .is_some_and(|s| s.ready_replicas == Some(2))
}

#[tokio::test]
async fn deployments_become_ready_after_the_delay_or_stay_stuck() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| {
        c.delay = Duration::from_millis(300);
        c.stuck.insert("Deployment/default/stuck".into());
    });
    let api: Api<Deployment> = Api::namespaced(server.client().unwrap(), "default");
    let pp = PatchParams::apply("t");
    let t0 = Instant::now();
    api.patch("web", &pp, &Patch::Apply(deployment("web", 2)))
        .await
        .unwrap();
    api.patch("stuck", &pp, &Patch::Apply(deployment("stuck", 2)))
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(api.clone(), "web", ready),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "became ready before the delay"
    );
    let web = api.get("web").await.unwrap();
    let st = web.status.unwrap();
    assert_eq!(
        (
            st.available_replicas,
            st.updated_replicas,
            st.observed_generation
        ),
        (Some(2), Some(2), Some(1))
    );
    assert!(st
        .conditions
        .unwrap()
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True"));
    // The stuck one never gets there.
    let r = tokio::time::timeout(
        Duration::from_millis(800),
        await_condition(api.clone(), "stuck", ready),
    )
    .await;
    assert!(r.is_err(), "stuck deployment became ready");
    // Scaling: observedGeneration follows the new generation.
    api.patch("web", &pp, &Patch::Apply(deployment("web", 3)))
        .await
        .unwrap();
    let scaled = tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(api.clone(), "web", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .is_some_and(|s| s.ready_replicas == Some(3))
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(scaled.status.unwrap().observed_generation, Some(2));
}

#[tokio::test]
async fn services_jobs_ingresses_claims_and_namespaces() {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let pp = PatchParams::apply("t");
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let lb = svcs.patch("gw", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw"}, "spec": {"type": "LoadBalancer", "selector": {"app": "gw"}, "ports": [{"port": 80}]}}))).await.unwrap();
    assert!(
        lb.spec.unwrap().cluster_ip.unwrap().starts_with("10.96."),
        "clusterIP set at creation"
    );
    let lb = tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(svcs.clone(), "gw", |s: Option<&Service>| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|l| l.ingress.as_ref())
                .is_some_and(|i| !i.is_empty())
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(
        lb.status.unwrap().load_balancer.unwrap().ingress.unwrap()[0]
            .hostname
            .as_deref(),
        Some("gw.default.lb.kroxide.test")
    );

    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = |name: &str| json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1"}]}}}});
    jobs.patch("ok", &pp, &Patch::Apply(job("ok")))
        .await
        .unwrap();
    let done = tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(jobs.clone(), "ok", |j: Option<&Job>| {
            j.and_then(|j| j.status.as_ref())
                .is_some_and(|s| s.succeeded == Some(1))
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert!(done
        .status
        .unwrap()
        .conditions
        .unwrap()
        .iter()
        .any(|c| c.type_ == "Complete"));
    server.controllers(|c| c.fail_jobs = true);
    jobs.patch("bad", &pp, &Patch::Apply(job("bad")))
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(jobs.clone(), "bad", |j: Option<&Job>| {
            j.and_then(|j| j.status.as_ref())
                .is_some_and(|s| s.failed == Some(1))
        }),
    )
    .await
    .unwrap()
    .unwrap();

    let ings: Api<Ingress> = Api::namespaced(client.clone(), "default");
    ings.patch("web", &pp, &Patch::Apply(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"}, "spec": {"rules": [{"host": "a.example.com"}]}}))).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(ings.clone(), "web", |i: Option<&Ingress>| {
            i.and_then(|i| i.status.as_ref())
                .and_then(|s| s.load_balancer.as_ref())
                .is_some_and(|l| l.ingress.is_some())
        }),
    )
    .await
    .unwrap()
    .unwrap();

    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    pvcs.patch("data", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(pvcs.clone(), "data", |p: Option<&PersistentVolumeClaim>| {
            p.and_then(|p| p.status.as_ref())
                .is_some_and(|s| s.phase.as_deref() == Some("Bound"))
        }),
    )
    .await
    .unwrap()
    .unwrap();

    let nss: Api<Namespace> = Api::all(client.clone());
    let ns = nss
        .patch(
            "team",
            &pp,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
}

#[tokio::test]
async fn controllers_can_be_switched_off() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| c.enabled = false);
    let api: Api<Deployment> = Api::namespaced(server.client().unwrap(), "default");
    api.patch(
        "web",
        &PatchParams::apply("t"),
        &Patch::Apply(deployment("web", 2)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Only the API server's empty status: no controller wrote one.
    assert_eq!(
        api.get("web").await.unwrap().status,
        Some(Default::default())
    );
}

fn cm(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
}

#[tokio::test]
async fn injected_errors_are_served_then_stop() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    let pp = PatchParams::apply("t");
    server.inject("PATCH", "/configmaps/x", 2, FaultKind::ServerError);
    for _ in 0..2 {
        let e = api
            .patch("x", &pp, &Patch::Apply(cm("x")))
            .await
            .unwrap_err();
        assert!(
            matches!(e, kube::Error::Api(ref s) if s.code == 500),
            "{e:?}"
        );
    }
    api.patch("x", &pp, &Patch::Apply(cm("x"))).await.unwrap();
    // 429 with Retry-After: the caller gets it (the test server's client,
    // like kroxide's, has no retry layer), and the next request is served.
    server.inject(
        "*",
        "/configmaps",
        1,
        FaultKind::TooManyRequests { retry_after: 1 },
    );
    let e = api.get("x").await.unwrap_err();
    assert!(
        matches!(e, kube::Error::Api(ref s) if s.code == 429
            && s.details.as_ref().is_some_and(|d| d.retry_after_seconds == 1)),
        "{e:?}"
    );
    api.get("x").await.unwrap();
    let statuses: Vec<u16> = server
        .requests()
        .iter()
        .filter(|r| r.verb == "GET")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 200]);
    server.inject("PATCH", "/configmaps/x", 1, FaultKind::Conflict);
    let e = api
        .patch("x", &pp, &Patch::Apply(cm("x")))
        .await
        .unwrap_err();
    assert!(
        matches!(e, kube::Error::Api(ref s) if s.code == 409),
        "{e:?}"
    );
    // Added latency: served, but late.
    server.inject(
        "GET",
        "/configmaps/x",
        1,
        FaultKind::Latency(Duration::from_millis(200)),
    );
    let t0 = Instant::now();
    api.get("x").await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(200));
    // A hang past the client's timeout.
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.read_timeout = Some(Duration::from_millis(300));
    let impatient: Api<ConfigMap> =
        Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
    server.inject(
        "GET",
        "/configmaps/x",
        1,
        FaultKind::Hang(Duration::from_secs(2)),
    );
    assert!(impatient.get("x").await.is_err());
    // Every fault was logged like any request.
    assert!(server.requests().iter().any(|r| r.status == 500));
}

#[tokio::test]
async fn dropped_watches_and_restarts() {
    let server = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
    let pp = PatchParams::apply("t");
    api.patch("a", &pp, &Patch::Apply(cm("a"))).await.unwrap();
    let mut w = api
        .watch(&WatchParams::default().timeout(30), "0")
        .await
        .unwrap()
        .boxed();
    assert!(w.next().await.is_some());
    server.drop_watches();
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(e) = w.next().await {
            if e.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch did not end");
    // A restart that keeps the data: objects stay, old versions are gone.
    let rv = api
        .get("a")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.patch("a", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"a": "2"}}))).await.unwrap();
    server.restart(true);
    assert!(api.get_opt("a").await.unwrap().is_some());
    let mut old = api
        .watch(&WatchParams::default().timeout(2), &rv)
        .await
        .unwrap()
        .boxed();
    assert!(matches!(old.next().await, Some(Ok(kube::api::WatchEvent::Error(e))) if e.code == 410));
    // A restart that loses it.
    server.restart(false);
    assert!(api.get_opt("a").await.unwrap().is_none());
}

#[tokio::test]
async fn statefulsets_and_daemonsets_become_ready() {
    use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let pp = PatchParams::apply("t");
    let pod = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}});
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    sts.patch("db", &pp, &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "x"}}, "template": pod}}))).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(sts.clone(), "db", |s: Option<&StatefulSet>| {
            s.and_then(|s| s.status.as_ref())
                .is_some_and(|s| s.ready_replicas == Some(2) && s.current_replicas == Some(2))
        }),
    )
    .await
    .unwrap()
    .unwrap();
    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    ds.patch("agent", &pp, &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": pod}}))).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(ds.clone(), "agent", |d: Option<&DaemonSet>| {
            d.and_then(|d| d.status.as_ref())
                .is_some_and(|s| s.number_ready == 1 && s.desired_number_scheduled == 1)
        }),
    )
    .await
    .unwrap()
    .unwrap();
}
