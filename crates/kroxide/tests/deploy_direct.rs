//! The direct engine deploys the microservices example to the test API
//! server, through the real kube client.

mod scenarios;

use kroxide::engine::{DeployError, DeployOptions, DirectEngine, Event, GRAPH_LABEL};
use kroxide_testserver::{FaultKind, TestServer};
use scenarios::{example as instance, microservices::microservices_app, Cluster};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn opts() -> DeployOptions {
    DeployOptions {
        namespace: "dev".into(),
        resource_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(2),
        create_namespace: true,
        ..DeployOptions::default()
    }
}

/// The scenarios' view of the test server, in namespace `ns`.
fn local(server: &TestServer, ns: &str) -> Cluster {
    Cluster {
        client: server.client().unwrap(),
        namespace: ns.into(),
        timeout: Duration::from_secs(10),
        image: None,
    }
}

async fn cluster() -> (TestServer, Cluster) {
    let server = TestServer::start().await.unwrap();
    let c = local(&server, "dev");
    (server, c)
}

#[tokio::test]
async fn scenario_deploy_redeploy_scale_status() {
    let (_server, c) = cluster().await;
    scenarios::deploy_redeploy_scale_status(&c).await;
}

#[tokio::test]
async fn scenario_delete_removes_everything() {
    let (_server, c) = cluster().await;
    scenarios::delete_removes_everything(&c).await;
}

#[tokio::test]
async fn scenario_excluded_resource_is_pruned() {
    let (_server, c) = cluster().await;
    scenarios::excluded_resource_is_pruned(&c).await;
}

#[tokio::test]
async fn scenario_foreign_objects_are_left_alone() {
    let (_server, c) = cluster().await;
    scenarios::foreign_objects_are_left_alone(&c).await;
}

#[tokio::test]
async fn scenario_orphan_keeps_objects_without_ownership() {
    let (_server, c) = cluster().await;
    scenarios::orphan_keeps_objects_without_ownership(&c).await;
}

#[tokio::test]
async fn scenario_retained_objects_survive_delete_and_prune() {
    let (_server, c) = cluster().await;
    scenarios::retained_objects_survive_delete_and_prune(&c).await;
}

#[tokio::test]
async fn scenario_concurrent_deploys_do_not_corrupt_the_inventory() {
    let (_server, c) = cluster().await;
    scenarios::concurrent_deploys_do_not_corrupt_the_inventory(&c).await;
}

/// A fresh test server with the microservices graph deployed for `dev.yaml`,
/// its simulated controllers taking `delay` to make objects ready.
async fn dev_deployed(
    delay: Duration,
) -> (
    TestServer,
    DirectEngine,
    kroxide::model::ResourceGraphDefinition,
    kroxide::engine::DeployReport,
) {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| c.delay = delay);
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let report = engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    (server, engine, rgd, report)
}

#[tokio::test]
async fn deploys_dev_in_waves_and_reports_healthy() {
    let (server, _, _, report) = dev_deployed(Duration::from_millis(50)).await;
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

/// A redeploy of an unchanged instance sends no apply and no dry run for
/// objects that are as kroxide left them (only the inventory's lock is
/// written); an object whose field another manager changed is sent again.
#[tokio::test]
async fn an_unchanged_redeploy_applies_nothing_and_a_drifted_object_is_sent_again() {
    let (server, engine, rgd, first) = dev_deployed(Duration::from_millis(5)).await;
    let object_patches = |server: &TestServer| -> Vec<String> {
        server
            .requests()
            .into_iter()
            .filter(|r| r.verb == "PATCH" && !r.path.contains("/secrets/kroxide."))
            .map(|r| format!("{}{}", r.path, if r.dry_run { " (dry run)" } else { "" }))
            .collect()
    };
    server.clear_log();
    let again = engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    assert_eq!(object_patches(&server), Vec::<String>::new());
    assert_eq!(again.status(), first.status());
    assert_eq!(again.live.len(), 12);
    assert_eq!(again.live["appConfig"][0]["data"]["LOG_LEVEL"], "debug");

    // Someone else changes a value kroxide set: the object is no longer as
    // kroxide left it, so the next deploy checks it again, and the server
    // reports the conflict (as `kubectl apply --server-side` would) before
    // anything is written. Only that object is sent.
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(server.client().unwrap(), "dev");
    let pp = kube::api::PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    cms.patch(
        "app-config",
        &pp,
        &kube::api::Patch::Merge(json!({"data": {"LOG_LEVEL": "trace"}})),
    )
    .await
    .unwrap();
    server.clear_log();
    let err = engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("kubectl-edit") && err.to_string().contains("LOG_LEVEL"),
        "{err}"
    );
    assert_eq!(
        object_patches(&server),
        vec!["/api/v1/namespaces/dev/configmaps/app-config (dry run)".to_string()]
    );
    assert_eq!(
        cms.get("app-config").await.unwrap().data.unwrap()["LOG_LEVEL"],
        "trace"
    );
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

/// Events collected from a run.
fn recorder() -> (kroxide::engine::Progress, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (
        kroxide::engine::Progress::new(move |e| sink.lock().unwrap().push(e.clone())),
        events,
    )
}

#[tokio::test]
async fn progress_reports_waves_objects_and_readiness_in_order() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| c.delay = Duration::from_millis(30));
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let (progress, events) = recorder();
    let o = DeployOptions { progress, ..opts() };
    engine
        .deploy(&rgd, &instance("dev.yaml"), &o)
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    assert!(
        matches!(events[0], Event::Validated { resources: 12, .. }),
        "{events:?}"
    );
    let applied = events
        .iter()
        .filter(|e| matches!(e, Event::Applied { changed: true, .. }))
        .count();
    assert_eq!(applied, 12);
    // A wave starts only after every resource of the previous one that a
    // later resource reads is ready. What nothing reads (the backend
    // Services) does not hold the next wave back: it is applied meanwhile
    // and waited on at the end.
    let leaves = ["userService", "productService", "orderService"];
    let mut pending: Vec<String> = Vec::new();
    let mut ready: Vec<String> = Vec::new();
    let mut second_wave_at = None;
    for (i, e) in events.iter().enumerate() {
        match e {
            Event::WaveStarted { ids, wave, .. } => {
                assert!(
                    pending.is_empty(),
                    "wave started while {pending:?} not ready"
                );
                pending = ids
                    .iter()
                    .filter(|id| !leaves.contains(&id.as_str()))
                    .cloned()
                    .collect();
                if *wave == 2 {
                    second_wave_at = Some(i);
                }
            }
            Event::Ready { id } => {
                pending.retain(|p| p != id);
                ready.push(id.clone());
            }
            _ => {}
        }
    }
    assert!(pending.is_empty());
    let second_wave_at = second_wave_at.expect("two waves");
    for leaf in leaves {
        let applied_at = events
            .iter()
            .position(|e| matches!(e, Event::Applied { id, .. } if id == leaf))
            .unwrap_or_else(|| panic!("{leaf} never applied: {events:?}"));
        assert!(
            applied_at > second_wave_at,
            "{leaf} held wave 2 back: {events:?}"
        );
        assert!(
            ready.iter().any(|r| r == leaf),
            "{leaf} never ready: {events:?}"
        );
    }
    assert_eq!(ready.len(), 12, "{ready:?}");
    // Deployments report replica counts while they roll out.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Waiting { total, .. } if *total > 0)),
        "{events:?}"
    );
    // Events never carry object contents.
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("LOG_LEVEL") && !text.contains("password"),
        "{text}"
    );
}

/// A delete that fails on one object keeps listing it, and every object of
/// the waves it had not reached yet: a second delete removes them all
/// (the inventory once kept only the failed object, so the first wave's
/// objects were left on the cluster, labelled, and forgotten).
#[tokio::test]
async fn a_failed_delete_keeps_listing_what_it_did_not_reach() {
    let (server, engine, rgd, _) = dev_deployed(Duration::ZERO).await;
    server.inject(
        "DELETE",
        "/deployments/user-service",
        1000,
        FaultKind::ServerError,
    );
    let e = engine
        .delete(rgd.name(), "microservices-dev", &opts())
        .await
        .expect_err("the delete of user-service fails");
    assert!(e.to_string().contains("user-service"), "{e}");
    let c = local(&server, "dev");
    let configs = c.configmaps();
    assert!(configs.get_opt("app-config").await.unwrap().is_some());
    server.clear_faults();
    let report = engine
        .delete(rgd.name(), "microservices-dev", &opts())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.found);
    assert!(
        configs.get_opt("app-config").await.unwrap().is_none(),
        "the first wave's ConfigMap was forgotten: {:?}",
        report.deleted
    );
    assert!(c.versions("microservices-app").await.is_empty());
}

/// KRO main's deletion order: what reads something goes before what it reads
/// (the deletion waves come from the dependents' side), each wave gone before
/// the next.
#[tokio::test]
async fn delete_goes_in_kros_deletion_waves_each_gone_before_the_next() {
    let (server, engine, rgd, report) = dev_deployed(Duration::ZERO).await;
    server.clear_log();
    engine
        .delete(rgd.name(), "microservices-dev", &opts())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deletes: Vec<String> = server
        .writes()
        .iter()
        .filter(|w| w.verb == "DELETE")
        .map(|w| w.path.clone())
        .collect();
    let at = |suffix: &str| {
        deletes
            .iter()
            .position(|p| p.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not deleted: {deletes:?}"))
    };
    // The ingress reads the gateway Service, which reads its Deployment, which reads config.
    assert!(at("/ingresses/microservices-ingress") < at("/services/api-gateway"));
    assert!(at("/deployments/user-service") < at("/configmaps/app-config"));
    assert!(at("/deployments/user-service") < at("/secrets/db-secrets"));
    // The inventory goes last.
    assert!(deletes
        .last()
        .unwrap()
        .contains("/secrets/kroxide.microservices-app."));
    assert_eq!(
        deletes.len(),
        report.live.values().map(Vec::len).sum::<usize>() + 1
    );
}

#[tokio::test]
async fn a_failed_deploy_rolls_back_when_asked_and_reports_states_otherwise() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| {
        c.stuck.insert("Deployment/dev/order-service".into());
    });
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    // Without rollback: the state of every resource is reported, objects stay.
    let (progress, events) = recorder();
    let o = DeployOptions {
        resource_timeout: Duration::from_millis(400),
        progress,
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
    let states: Vec<(String, String)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::State { id, state } => Some((id.clone(), state.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), 12, "{states:?}");
    assert!(states.contains(&("orderDeployment".into(), "applied, not ready".into())));
    assert!(states.contains(&("appConfig".into(), "ready".into())));
    let cms = local(&server, "dev");
    assert!(cms
        .configmaps()
        .get_opt("app-config")
        .await
        .unwrap()
        .is_some());

    // With rollback, on a second instance that changes app-config's owner... use a fresh
    // namespace: everything this run created is deleted again.
    let o = DeployOptions {
        namespace: "rb".into(),
        resource_timeout: Duration::from_millis(400),
        rollback_on_failure: true,
        ..opts()
    };
    server.controllers(|c| {
        c.stuck.insert("Deployment/rb/order-service".into());
    });
    let err = engine
        .deploy(&rgd, &instance("dev.yaml"), &o)
        .await
        .unwrap_err();
    assert!(matches!(err, DeployError::NotReady { .. }), "{err}");
    let rb = local(&server, "rb");
    assert!(
        rb.versions(rgd.name()).await.is_empty(),
        "{:?}",
        rb.versions(rgd.name()).await
    );
    let invs = engine.instances(rgd.name(), &o).await.unwrap();
    assert!(
        invs.iter()
            .all(|i| i.objects.is_empty() && i.lock.is_none()),
        "{invs:?}"
    );
}

#[tokio::test]
async fn a_rollback_restores_the_previous_version_of_what_it_changed() {
    let (server, engine, rgd, _) = dev_deployed(Duration::ZERO).await;
    // prod flips LOG_LEVEL, then gets stuck on a Deployment.
    server.controllers(|c| {
        c.stuck.insert("Deployment/dev/product-service".into());
    });
    let mut prod = instance("prod.yaml");
    prod["metadata"]["name"] = json!("microservices-dev");
    let o = DeployOptions {
        resource_timeout: Duration::from_millis(400),
        rollback_on_failure: true,
        ..opts()
    };
    engine.deploy(&rgd, &prod, &o).await.unwrap_err();
    let c = local(&server, "dev");
    let cm = c.configmaps().get("app-config").await.unwrap();
    assert_eq!(cm.data["data"]["LOG_LEVEL"], "debug", "not restored");
    assert_eq!(c.versions(rgd.name()).await.len(), 12);
}

/// Diff reads the live objects and dry-runs the desired ones all at once,
/// not one request after another: with 100 ms added to every request, the
/// twelve dry runs are answered together (one after another they would
/// span over a second).
#[tokio::test]
async fn diff_reads_and_dry_runs_objects_concurrently() {
    let (server, engine, rgd, _) = dev_deployed(Duration::ZERO).await;
    server.inject(
        "*",
        "",
        usize::MAX,
        FaultKind::Latency(Duration::from_millis(100)),
    );
    server.clear_log();
    let (diffs, _) = engine
        .diff(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    assert_eq!(diffs.len(), 12);
    let log = server.requests();
    let spread = |at: &[u128]| at.iter().max().unwrap_or(&0) - at.iter().min().unwrap_or(&0);
    let dry_runs: Vec<u128> = log.iter().filter(|r| r.dry_run).map(|r| r.at_ms).collect();
    assert_eq!(dry_runs.len(), 12);
    assert!(
        spread(&dry_runs) < 600,
        "dry runs answered over {dry_runs:?}"
    );
    // Reads of single objects before the dry runs (not discovery, not the
    // namespace): they come in rounds, one per wave whose names resolve, so
    // allow a few round trips, still below twelve one after another.
    let first_dry_run = dry_runs.iter().min().copied().unwrap_or(0);
    let reads: Vec<u128> = log
        .iter()
        .filter(|r| r.verb == "GET" && r.at_ms < first_dry_run)
        .filter(|r| r.path.split('/').filter(|s| !s.is_empty()).count() >= 6)
        .map(|r| r.at_ms)
        .collect();
    assert!(reads.len() >= 12, "{reads:?}");
    assert!(spread(&reads) < 1000, "reads answered over {reads:?}");
}

#[tokio::test]
async fn diff_shows_what_would_change_with_secrets_masked() {
    let server = TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    // Before anything exists, everything is new.
    let (diffs, unresolved) = engine
        .diff(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    assert!(diffs.iter().all(|d| d.live.is_none()));
    assert!(
        !diffs.is_empty() && diffs.len() + unresolved.len() >= 7,
        "{unresolved:?}"
    );
    let everything_new = kroxide::engine::render_diff(&diffs, false);
    engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    server.clear_log();
    let (same, _) = engine
        .diff(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    assert_eq!(same.len(), 12);
    let text = kroxide::engine::render_diff(&same, false);
    assert_eq!(text, "", "an unchanged instance shows a diff");
    assert!(
        server.writes().iter().all(|w| w.dry_run),
        "diff wrote something"
    );
    assert!(same.iter().all(|d| d.not_owned.is_none()));
    // Another instance's diff says a deploy would refuse these objects.
    let (foreign, _) = engine
        .diff(&rgd, &instance("prod.yaml"), &opts())
        .await
        .unwrap();
    let refused = foreign.iter().filter(|d| d.not_owned.is_some()).count();
    assert_eq!(refused, 12, "{foreign:?}");
    let mut prod = instance("prod.yaml");
    prod["metadata"]["name"] = json!("microservices-dev");
    let (changed, _) = engine.diff(&rgd, &prod, &opts()).await.unwrap();
    let text = kroxide::engine::render_diff(&changed, false);
    assert!(
        text.contains("-  LOG_LEVEL: debug") && text.contains("+  LOG_LEVEL: info"),
        "{text}"
    );
    assert!(text.contains("+  replicas: 5"), "{text}");
    // The db-secrets Secret's values, as written and decoded: none may show.
    let template = rgd
        .resource("dbSecrets")
        .and_then(|r| r.template.as_ref())
        .cloned()
        .unwrap();
    let mut secret_values: Vec<String> = Vec::new();
    for v in template["data"].as_object().unwrap().values() {
        let encoded = v.as_str().unwrap().to_string();
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&encoded)
            .unwrap();
        secret_values.push(String::from_utf8(decoded).unwrap());
        secret_values.push(encoded);
    }
    assert_eq!(secret_values.len(), 6, "{template}");
    for text in [&everything_new, &text] {
        for v in &secret_values {
            assert!(
                !text.contains(v.as_str()),
                "secret value {v} in diff:\n{text}"
            );
        }
    }
    assert!(
        everything_new.contains("Secret/dev/db-secrets"),
        "the Secret is not in the diff: {everything_new}"
    );
}

/// Deploys with `fault` armed: the run must ride it out (only with
/// `Rerun::Allowed` may it stop, and then a second run must converge); the
/// end state must be the full healthy application, and an object that
/// belongs to someone else must be untouched.
async fn converges(
    server: &Arc<TestServer>,
    first_timeout: Duration,
    rerun: Rerun,
    arm: impl FnOnce(&Arc<TestServer>),
) {
    let c = local(server, "dev");
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    // Someone else's ConfigMap in the same namespace.
    engine
        .deploy(
            &scenarios::webapp_rgd(),
            &json!({"metadata": {"name": "other"}, "spec": {"name": "other", "replicas": 1}}),
            &opts(),
        )
        .await
        .unwrap();
    let theirs: kube::api::DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs"}, "data": {"k": "v"}})).unwrap();
    c.configmaps()
        .create(&Default::default(), &theirs)
        .await
        .unwrap();
    let theirs_rv = c
        .configmaps()
        .get("theirs")
        .await
        .unwrap()
        .metadata
        .resource_version;
    arm(server);
    let o = DeployOptions {
        resource_timeout: first_timeout,
        ..opts()
    };
    let first = engine.deploy(&rgd, &instance("dev.yaml"), &o).await;
    let report = match (first, rerun) {
        (Ok(r), _) => r,
        // Only a fault that loses what the server had may stop the first run.
        (Err(e), Rerun::Allowed) => {
            eprintln!("first run stopped: {e}; running again");
            DirectEngine::new(server.client().unwrap())
                .deploy(&rgd, &instance("dev.yaml"), &opts())
                .await
                .unwrap_or_else(|e| panic!("a re-run did not converge: {e}"))
        }
        (Err(e), Rerun::No) => panic!("the deploy did not ride out the fault: {e}"),
    };
    assert_eq!(report.status()["health"], "healthy", "{}", report.status());
    let live = c.versions(rgd.name()).await;
    for object in [
        "ConfigMap/app-config",
        "ConfigMap/gateway-config",
        "Secret/db-secrets",
        "Deployment/api-gateway",
        "Deployment/user-service",
        "Deployment/product-service",
        "Deployment/order-service",
        "Service/api-gateway",
        "Service/user-service",
        "Service/product-service",
        "Service/order-service",
        "Ingress/microservices-ingress",
    ] {
        assert!(
            live.contains_key(object),
            "{object} missing after convergence: {live:?}"
        );
    }
    assert_eq!(live.len(), 12);
    // A restart that lost the server's data lost theirs too; otherwise it is untouched.
    match (c.configmaps().get_opt("theirs").await.unwrap(), rerun) {
        (Some(t), _) => {
            assert_eq!(
                t.metadata.resource_version, theirs_rv,
                "someone else's ConfigMap was changed"
            );
            assert!(t.metadata.labels.is_none());
        }
        (None, Rerun::Allowed) => {}
        (None, Rerun::No) => panic!("someone else's ConfigMap was deleted"),
    }
}

/// Whether a fault may stop the first run (then a second must converge).
#[derive(Clone, Copy)]
enum Rerun {
    No,
    Allowed,
}

#[tokio::test]
async fn converges_through_500s() {
    let server = Arc::new(TestServer::start().await.unwrap());
    converges(&server, Duration::from_secs(10), Rerun::No, |s| {
        s.inject("PATCH", "/deployments/", 3, FaultKind::ServerError);
        s.inject("GET", "/secrets/", 2, FaultKind::ServerError);
    })
    .await;
}

#[tokio::test]
async fn converges_through_429_with_retry_after() {
    let server = Arc::new(TestServer::start().await.unwrap());
    converges(&server, Duration::from_secs(10), Rerun::No, |s| {
        s.inject(
            "PATCH",
            "/services/",
            2,
            FaultKind::TooManyRequests { retry_after: 1 },
        );
    })
    .await;
}

#[tokio::test]
async fn converges_through_409_conflicts() {
    let server = Arc::new(TestServer::start().await.unwrap());
    converges(&server, Duration::from_secs(10), Rerun::No, |s| {
        s.inject("PATCH", "/configmaps/", 2, FaultKind::Conflict);
        s.inject("PUT", "/secrets/kroxide.", 1, FaultKind::Conflict);
    })
    .await;
}

#[tokio::test]
async fn converges_through_a_request_that_never_answers() {
    let server = Arc::new(TestServer::start().await.unwrap());
    converges(&server, Duration::from_secs(10), Rerun::No, |s| {
        s.inject(
            "PATCH",
            "/deployments/user-service",
            1,
            FaultKind::Hang(Duration::from_secs(30)),
        );
    })
    .await;
}

#[tokio::test]
async fn converges_through_dropped_watches() {
    let server = Arc::new(TestServer::start().await.unwrap());
    server.controllers(|c| c.delay = Duration::from_millis(400));
    converges(&server, Duration::from_secs(10), Rerun::No, |s| {
        let s = s.clone();
        tokio::spawn(async move {
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                s.drop_watches();
            }
        });
    })
    .await;
}

#[tokio::test]
async fn converges_through_a_restart_that_keeps_data() {
    let server = Arc::new(TestServer::start().await.unwrap());
    server.controllers(|c| c.delay = Duration::from_millis(300));
    converges(&server, Duration::from_secs(10), Rerun::No, |s| {
        let s = s.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            s.restart(true);
        });
    })
    .await;
}

#[tokio::test]
async fn a_restart_that_loses_data_stops_the_run_and_a_rerun_converges() {
    let server = Arc::new(TestServer::start().await.unwrap());
    server.controllers(|c| c.delay = Duration::from_millis(300));
    converges(&server, Duration::from_secs(2), Rerun::Allowed, |s| {
        let s = s.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            s.restart(false);
        });
    })
    .await;
}

#[tokio::test]
async fn a_foreign_object_found_by_listing_its_kind_also_stops_the_deploy() {
    // Four Deployments in one namespace are read with one LIST, not four GETs.
    let server = TestServer::start().await.unwrap();
    let c = local(&server, "dev");
    let engine = DirectEngine::new(server.client().unwrap());
    engine
        .deploy(&scenarios::webapp_rgd(), &json!({"metadata": {"name": "user-service"}, "spec": {"name": "user-service", "replicas": 1}}), &opts())
        .await
        .unwrap();
    server.clear_log();
    let rgd = microservices_app().to_rgd().unwrap();
    let err = engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("Deployment/user-service in dev")
            && msg.contains("belongs to instance `user-service` of graph `webapp`"),
        "{msg}"
    );
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.verb == "GET" && r.path.contains("/deployments/"))
        .count();
    assert_eq!(gets, 0, "Deployments were read one by one");
    assert_eq!(c.versions("microservices-app").await.len(), 0);
}

#[tokio::test]
async fn status_goes_from_pending_to_healthy_and_reports_stuck_deployments() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| c.delay = Duration::from_millis(500));
    let engine = DirectEngine::new(server.client().unwrap());
    let watcher = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let done = AtomicBool::new(false);
    let deploy = async {
        let r = engine.deploy(&rgd, &instance("dev.yaml"), &opts()).await;
        done.store(true, Ordering::SeqCst);
        r
    };
    // Another process's view while the Deployments roll out.
    let observe = async {
        let mut seen = Vec::new();
        while !done.load(Ordering::SeqCst) {
            if let Ok(s) = watcher.status(&rgd, "microservices-dev", &opts()).await {
                seen.push(s.status["health"].clone());
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        seen
    };
    let (deployed, seen) = tokio::join!(deploy, observe);
    deployed.unwrap();
    assert!(
        seen.iter().any(|h| h != "healthy"),
        "never seen before ready: {seen:?}"
    );
    let now = watcher
        .status(&rgd, "microservices-dev", &opts())
        .await
        .unwrap();
    assert_eq!(now.status["health"], "healthy");

    // One backend stuck: degraded; every backend stuck: unhealthy.
    for (ns, stuck, health) in [
        ("partly", vec!["order-service"], "degraded"),
        (
            "fully",
            vec!["user-service", "product-service", "order-service"],
            "unhealthy",
        ),
    ] {
        server.controllers(|c| {
            c.enabled = true;
            c.delay = Duration::ZERO;
            for s in &stuck {
                c.stuck.insert(format!("Deployment/{ns}/{s}"));
            }
        });
        let o = DeployOptions {
            namespace: ns.into(),
            resource_timeout: Duration::from_millis(500),
            ..opts()
        };
        engine
            .deploy(&rgd, &instance("dev.yaml"), &o)
            .await
            .unwrap_err();
        // A stuck rollout reports no readyReplicas (as a real cluster does for
        // 0): the status expressions that read it are pending, as in KRO.
        let s = watcher.status(&rgd, "microservices-dev", &o).await.unwrap();
        assert!(
            s.pending.contains_key("status.health"),
            "{ns}: {:?}",
            s.pending
        );
        // A status that says 0 ready replicas (as an older controller, or
        // another tool, may write): the simulated controllers are switched
        // off first, as a real one would rewrite it from the Pods.
        server.controllers(|c| c.enabled = false);
        for name in &stuck {
            let key = (
                "apps/v1/deployments".to_string(),
                Some(ns.to_string()),
                name.to_string(),
            );
            assert!(server.state().write_status(
                &key,
                json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 0, "updatedReplicas": 2, "availableReplicas": 0})
            ));
        }
        let s = watcher.status(&rgd, "microservices-dev", &o).await.unwrap();
        assert_eq!(s.status["health"], health, "{ns}: {}", s.status);
        assert!(!s.ready);
        let order = s
            .resources
            .iter()
            .find(|r| r.id == "orderDeployment")
            .unwrap();
        assert_eq!(order.state, kroxide::engine::ResourceState::Applied);
    }
}

#[tokio::test]
async fn delete_converges_through_faults_and_leaves_others_alone() {
    let server = Arc::new(TestServer::start().await.unwrap());
    let c = local(&server, "dev");
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    engine
        .deploy(&rgd, &instance("dev.yaml"), &opts())
        .await
        .unwrap();
    let theirs: kube::api::DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs"}, "data": {"k": "v"}})).unwrap();
    c.configmaps()
        .create(&Default::default(), &theirs)
        .await
        .unwrap();
    let rv = c
        .configmaps()
        .get("theirs")
        .await
        .unwrap()
        .metadata
        .resource_version;
    server.inject("DELETE", "/deployments/", 3, FaultKind::ServerError);
    server.inject(
        "DELETE",
        "/services/",
        1,
        FaultKind::TooManyRequests { retry_after: 1 },
    );
    // (A real server answers a DELETE with 409 only for a failed
    // precondition, which kroxide does not send: a 500 instead.)
    server.inject("DELETE", "/configmaps/", 1, FaultKind::ServerError);
    server.inject(
        "GET",
        "/ingresses",
        1,
        FaultKind::Hang(Duration::from_secs(30)),
    );
    let s2 = server.clone();
    let dropper = tokio::spawn(async move {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            s2.drop_watches();
        }
    });
    let report = engine
        .delete(rgd.name(), "microservices-dev", &opts())
        .await
        .unwrap();
    dropper.await.unwrap();
    assert_eq!(report.deleted.len(), 12, "{report:?}");
    assert!(c.versions(rgd.name()).await.is_empty());
    let t = c.configmaps().get("theirs").await.unwrap();
    assert_eq!(t.metadata.resource_version, rv);
    // The faults were met, not skipped.
    let failed = server.requests().iter().filter(|r| r.status >= 409).count();
    assert!(failed >= 5, "only {failed} failed requests");
}

/// Discovery asks only the API groups the graph (and what an earlier run
/// left) uses, and a resource removed from the graph is pruned even when
/// its group is no longer the graph's.
#[tokio::test]
async fn discovery_asks_only_the_versions_it_needs_and_still_prunes_removed_kinds() {
    let (server, c) = cluster().await;
    let mut rgd = scenarios::webapp_rgd();
    let inst = json!({"apiVersion": "kro.run/v1alpha1", "kind": "WebApp", "metadata": {"name": "shop"}, "spec": {"name": "shop", "replicas": 1, "ingress": {"enabled": true}}});
    c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap();
    // GET /apis/<group>/<version>: one group's discovery document.
    let groups_asked = |server: &TestServer| -> Vec<String> {
        server
            .requests()
            .iter()
            .filter(|r| r.verb == "GET" && r.path.starts_with("/apis/"))
            .filter_map(|r| {
                let parts: Vec<&str> = r.path.trim_start_matches("/apis/").split('/').collect();
                (parts.len() == 2).then(|| parts[0].to_string())
            })
            .collect()
    };
    let asked = groups_asked(&server);
    assert!(
        asked.iter().any(|g| g == "apps") && asked.iter().any(|g| g == "networking.k8s.io"),
        "{asked:?}"
    );
    // Each version the graph uses is asked once, directly: no list of all
    // groups (GET /apis, /api) to walk first.
    let lists: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.verb == "GET" && matches!(r.path.trim_end_matches('/'), "/apis" | "/api"))
        .map(|r| r.path.clone())
        .collect();
    assert!(lists.is_empty(), "listed the groups: {lists:?}");
    assert_eq!(asked.len(), 2, "a version asked twice: {asked:?}");
    assert!(
        asked
            .iter()
            .all(|g| g == "apps" || g == "networking.k8s.io"),
        "asked groups the graph does not use: {asked:?}"
    );
    // The Ingress leaves the graph: its group is asked because the
    // inventory lists one, and the Ingress is pruned.
    rgd.spec.resources.retain(|r| r.id != "ingress");
    // Diff, too, shows it as a deletion.
    let (diffs, _) = c.engine().diff(&rgd, &inst, &c.opts()).await.unwrap();
    assert!(
        diffs
            .iter()
            .any(|d| d.kind == "Ingress" && d.desired.is_none() && d.live.is_some()),
        "diff does not show the Ingress a deploy would prune: {diffs:?}"
    );
    server.clear_log();
    let report = c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap();
    assert_eq!(report.pruned.len(), 1, "{:?}", report.pruned);
    assert_eq!(report.pruned[0].kind, "Ingress");
    assert!(groups_asked(&server)
        .iter()
        .any(|g| g == "networking.k8s.io"));
    assert!(!c.versions("webapp").await.contains_key("Ingress/shop"));
}

/// Every deploy is a revision (who from the kubeconfig when the server
/// cannot say: the test server has no SelfSubjectReview); a rollback
/// deploys revision 1's spec again as revision 3; a revision not kept is
/// refused before anything is written.
#[tokio::test]
async fn history_records_each_deploy_and_rollback_redeploys_a_revision() {
    let server = TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = microservices_app().to_rgd().unwrap();
    let o = DeployOptions {
        kubeconfig_user: Some("tester".into()),
        ..opts()
    };
    engine
        .deploy(&rgd, &instance("dev.yaml"), &o)
        .await
        .unwrap();
    let mut prod = instance("prod.yaml");
    prod["metadata"]["name"] = json!("microservices-dev");
    prod["metadata"]["namespace"] = json!("dev");
    engine.deploy(&rgd, &prod, &o).await.unwrap();
    let h = engine
        .history(rgd.name(), "microservices-dev", &o)
        .await
        .unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].revision, h[0].user.as_str()), (1, "tester"));
    assert!(
        h[1].spec_changes.contains(&"spec.environment".to_string()),
        "{:?}",
        h[1]
    );
    assert!(!h[1].graph_changed);

    let report = engine
        .rollback_to(&rgd, "microservices-dev", 1, false, &o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.live["appConfig"][0]["data"]["LOG_LEVEL"], "debug");
    let h = engine
        .history(rgd.name(), "microservices-dev", &o)
        .await
        .unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[2].description, "rollback to 1");
    assert_eq!(
        h[2].spec_changes, h[1].spec_changes,
        "3 undoes what 2 changed"
    );

    server.clear_log();
    let err = engine
        .rollback_to(&rgd, "microservices-dev", 7, false, &o)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeployError::NoRevision { revision: 7, ref why, .. } if why.contains("1, 2, 3")),
        "{err}"
    );
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    let err = engine
        .rollback_to(&rgd, "never-deployed", 1, false, &o)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never deployed"), "{err}");
}

/// `explain` of an instance whose Deployment never becomes ready: that
/// resource waits with its kind's rule and reason, the others are ready,
/// and the status fields that read it are pending.
#[tokio::test]
async fn explain_names_what_waits_and_on_what() {
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
    engine
        .deploy(&rgd, &instance("dev.yaml"), &o)
        .await
        .unwrap_err();
    let e = engine
        .explain(&rgd, "microservices-dev", &o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!e.ready);
    let order = e
        .resources
        .iter()
        .find(|r| r.id == "orderDeployment")
        .unwrap();
    assert_eq!(order.state, kroxide::engine::ResourceState::Applied);
    assert!(
        order
            .rule
            .starts_with("Deployment readiness: rollout complete"),
        "{}",
        order.rule
    );
    assert!(
        order
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("replicas ready"),
        "{order:?}"
    );
    assert_eq!(order.wave, 1);
    let config = e.resources.iter().find(|r| r.id == "appConfig").unwrap();
    assert_eq!(config.state, kroxide::engine::ResourceState::Ready);
    assert!(
        config.detail.is_none(),
        "ready by existing needs no detail: {config:?}"
    );
    // Waves in order: every wave-0 resource before every wave-1 one.
    let waves: Vec<usize> = e.resources.iter().map(|r| r.wave).collect();
    assert!(waves.windows(2).all(|w| w[0] <= w[1]), "{waves:?}");
    assert!(
        e.pending.keys().any(|k| k.contains("order")),
        "{:?}",
        e.pending
    );
}

/// What a deploy or `status` gives a user has every Secret value masked:
/// a status field that repeats a value the instance feeds to a Secret, or
/// a live Secret's data.
#[tokio::test]
async fn deploy_and_status_give_masked_statuses() {
    let server = TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = kroxide::model::load_str(
        "secret.yaml",
        r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: keeper}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Keeper
    spec: {password: string}
    status:
      echoed: ${creds.stringData.password}
      stored: ${string(creds.data.password)}
  resources:
    - id: creds
      template:
        apiVersion: v1
        kind: Secret
        metadata: {name: creds}
        stringData:
          password: ${schema.spec.password}
"#,
    )
    .unwrap()
    .remove(0)
    .rgd;
    let instance = json!({"metadata": {"name": "k"}, "spec": {"password": "hunter2-hunter2"}});
    let report = engine.deploy(&rgd, &instance, &opts()).await.unwrap();
    assert!(
        report.status().to_string().contains("hunter2-hunter2"),
        "the raw status holds it: {}",
        report.status()
    );
    let shown = report.masked_status(&rgd).to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    let status = engine.status(&rgd, "k", &opts()).await.unwrap();
    let shown = status.masked_status(&rgd).to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// An externalRef that does not exist: the deploy waits for it and says so,
/// and `explain` names it as what the instance waits on; once someone
/// creates it, it counts as there.
#[tokio::test]
async fn explain_names_a_missing_external_object() {
    let server = TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let rgd = kroxide::model::load_str(
        "ext.yaml",
        r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: reader}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Reader
    spec: {}
  resources:
    - id: platform
      externalRef:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: platform-settings}
    - id: app
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: app}
        data:
          region: ${platform.data.region}
"#,
    )
    .unwrap()
    .remove(0)
    .rgd;
    let o = DeployOptions {
        resource_timeout: Duration::from_millis(600),
        ..opts()
    };
    let instance = json!({"metadata": {"name": "r"}});
    let err = engine.deploy(&rgd, &instance, &o).await.unwrap_err();
    assert!(
        err.to_string().contains(
            "the external object ConfigMap platform-settings in namespace dev does not exist"
        ),
        "{err}"
    );
    let e = engine
        .explain(&rgd, "r", &o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let platform = e.resources.iter().find(|r| r.id == "platform").unwrap();
    assert_eq!(platform.state, kroxide::engine::ResourceState::NotApplied);
    assert!(
        platform
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("does not exist"),
        "{platform:?}"
    );
    let app = e.resources.iter().find(|r| r.id == "app").unwrap();
    assert_eq!(
        app.detail.as_deref(),
        Some("waits for platform to be ready"),
        "{app:?}"
    );

    let cm: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "platform-settings", "namespace": "dev"},
        "data": {"region": "eu-west"}
    }))
    .unwrap();
    local(&server, "dev")
        .configmaps()
        .create(&Default::default(), &cm)
        .await
        .unwrap();
    let e = engine.explain(&rgd, "r", &o).await.unwrap();
    let platform = e.resources.iter().find(|r| r.id == "platform").unwrap();
    assert_eq!(platform.state, kroxide::engine::ResourceState::Ready);
    assert_eq!(platform.names, ["platform-settings"]);
}
