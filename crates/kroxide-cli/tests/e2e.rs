//! Direct mode on a real cluster: a real kube-apiserver and
//! controller-manager, with the kubelet simulator making Pods ready (see
//! `real/mod.rs`). `scripts/e2e.sh` starts the cluster and runs this suite;
//! CI runs it on every change. By hand:
//!
//! ```text
//! KROXIDE_E2E_KUBECONFIG=/tmp/kit/kubeconfig cargo test -p kroxide-cli --test e2e -- --ignored
//! ```
//!
//! The same scenario functions (scenarios/mod.rs) also run against the
//! in-process test server (deploy_direct.rs).

mod real;
#[path = "../../kroxide/tests/scenarios/mod.rs"]
mod scenarios;

use kroxide::engine::{DeployError, DeployOptions, DirectEngine, GRAPH_LABEL};
use kroxide::model::ResourceGraphDefinition;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use real::{kroxide, printed, Real};
use scenarios::Cluster;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn cluster(r: &Real) -> Cluster {
    Cluster {
        client: r.client.clone(),
        namespace: r.ns.clone(),
        timeout: r.timeout,
        image: None,
    }
}

fn rgd(yaml: &str) -> ResourceGraphDefinition {
    kroxide::model::load_str("test.yaml", yaml)
        .unwrap()
        .remove(0)
        .rgd
}

fn opts(r: &Real, ns: &str) -> DeployOptions {
    DeployOptions {
        namespace: ns.to_string(),
        resource_timeout: r.timeout,
        create_namespace: true,
        ..DeployOptions::default()
    }
}

fn api(r: &Real, av: &str, kind: &str, plural: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let (group, version) = av.rsplit_once('/').unwrap_or(("", av));
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: av.into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    match ns {
        Some(ns) => Api::namespaced_with(r.client.clone(), ns, &ar),
        None => Api::all_with(r.client.clone(), &ar),
    }
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn deploy_redeploy_scale_status() {
    let r = Real::new("deploy", &[]).await;
    scenarios::deploy_redeploy_scale_status(&cluster(&r)).await;
    r.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn delete_removes_everything() {
    let r = Real::new("delete", &[]).await;
    scenarios::delete_removes_everything(&cluster(&r)).await;
    r.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn excluded_resource_is_pruned() {
    let r = Real::new("prune", &[]).await;
    scenarios::excluded_resource_is_pruned(&cluster(&r)).await;
    r.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn foreign_objects_are_left_alone() {
    let r = Real::new("foreign", &[]).await;
    scenarios::foreign_objects_are_left_alone(&cluster(&r)).await;
    r.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn concurrent_deploys_do_not_corrupt_the_inventory() {
    let r = Real::new("lock", &[]).await;
    scenarios::concurrent_deploys_do_not_corrupt_the_inventory(&cluster(&r)).await;
    r.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn orphan_keeps_objects_without_ownership() {
    let r = Real::new("orphan", &[]).await;
    scenarios::orphan_keeps_objects_without_ownership(&cluster(&r)).await;
    r.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn retained_objects_survive_delete_and_prune() {
    let r = Real::new("retain", &[]).await;
    scenarios::retained_objects_survive_delete_and_prune(&cluster(&r)).await;
    r.cleanup().await;
}

/// The deletion policy from the CLI: `delete --orphan` leaves the objects
/// without kroxide's labels; `diff` says a deploy would refuse them and
/// `diff --adopt` names what it would adopt and who has it now; `deploy`
/// refuses them, `deploy --adopt` takes them back; `delete` keeps the
/// retained ConfigMaps; `--orphan --mode kro` is refused.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn delete_orphan_diff_adopt_and_retain_from_the_cli() {
    let r = Real::new("orphancli", &[]).await;
    let dir = real::workdir("orphancli");
    let rgd_file = dir.join("keepers.yaml");
    std::fs::write(&rgd_file, scenarios::KEEPERS_YAML).unwrap();
    let inst_file = dir.join("k.yaml");
    std::fs::write(&inst_file, "metadata: {name: k}\nspec: {name: k}\n").unwrap();
    let run = |cmd: &[&str]| kroxide(cli(&r, cmd, &rgd_file, &inst_file, true));
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).to_string();
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();
    let cms = api(&r, "v1", "ConfigMap", "configmaps", Some(&r.ns));
    let labelled = |o: &DynamicObject| {
        o.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.keys().any(|k| k.starts_with("kroxide.dev/")))
    };

    let out = run(&["deploy", "--create-namespace"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    // Refused before anything reaches the cluster.
    let out = run(&["delete", "--orphan", "--mode", "kro"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(
        stderr(&out).contains("--orphan works in direct mode only")
            && stderr(&out).contains("nothing was changed"),
        "{}",
        printed(&out)
    );

    let out = run(&["delete", "--orphan"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(
        stderr(&out).contains("orphaned instance k: 1 objects kept without kroxide's labels, 2 kept (delete-policy: retain)")
            && stderr(&out).contains("a deploy of it takes them back only with --adopt")
            && stderr(&out).contains("orphaned ConfigMap/k-plain"),
        "{}",
        printed(&out)
    );
    for n in ["k-data", "k-extra", "k-plain"] {
        let cm = cms.get(n).await.unwrap();
        assert!(!labelled(&cm), "{n}: {:?}", cm.metadata.labels);
    }

    let out = run(&["diff"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        stderr(&out).contains("note: a deploy would refuse ConfigMap/k-plain (plain): it exists and was not created by kroxide")
            && stderr(&out).contains("`--adopt` takes it over"),
        "{}",
        printed(&out)
    );
    assert!(!stdout(&out).contains("would adopt"), "{}", printed(&out));
    let out = run(&["diff", "--adopt"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    for n in ["k-data", "k-extra", "k-plain"] {
        assert!(
            stdout(&out).contains(&format!(
                "would adopt ConfigMap/{n} (now: no kroxide labels)\n"
            )),
            "{}",
            printed(&out)
        );
    }
    assert!(!stderr(&out).contains("would refuse"), "{}", printed(&out));

    let out = run(&["deploy"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        stderr(&out).contains("refusing to change objects that this instance does not own")
            && stderr(&out).contains("ConfigMap/k-plain")
            && stderr(&out).contains("pass --adopt to take them over"),
        "{}",
        printed(&out)
    );
    let out = run(&["deploy", "--adopt"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    for n in ["k-data", "k-extra", "k-plain"] {
        assert!(labelled(&cms.get(n).await.unwrap()), "{n} not taken back");
    }

    // A plain delete keeps the retained ConfigMaps, without labels.
    let out = run(&["delete"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(
        stderr(&out).contains("deleted instance k: 1 objects, 2 kept (delete-policy: retain)")
            && stderr(&out).contains("kept (delete-policy: retain) ConfigMap/k-data"),
        "{}",
        printed(&out)
    );
    assert!(cms.get_opt("k-plain").await.unwrap().is_none());
    for n in ["k-data", "k-extra"] {
        let cm = cms.get(n).await.unwrap();
        assert!(!labelled(&cm), "{n}: {:?}", cm.metadata.labels);
    }

    // Objects of another instance: `diff --adopt` names their owner (deploy
    // --adopt takes over any object, as `diff --adopt` says).
    let other_file = dir.join("other.yaml");
    std::fs::write(&other_file, "metadata: {name: other}\nspec: {name: k}\n").unwrap();
    let out = kroxide(cli(
        &r,
        &["deploy", "--adopt"],
        &rgd_file,
        &other_file,
        true,
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let out = run(&["diff", "--adopt"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        stdout(&out).contains(&format!(
            "would adopt ConfigMap/k-plain (now: instance `other` of graph `keepers` in namespace `{}`)",
            r.ns
        )),
        "{}",
        printed(&out)
    );
    r.cleanup().await;
}

/// The microservices example's RGD, written into `dir`.
fn microservices_rgd_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("microservices.yaml");
    std::fs::write(
        &file,
        scenarios::microservices::microservices_app()
            .to_rgd_yaml()
            .unwrap(),
    )
    .unwrap();
    file
}

/// `kroxide CMD.. RGD.. --instance INSTANCE -n <the test's namespace>`, and
/// the arguments that reach the cluster when `cluster`.
fn cli(
    r: &Real,
    cmd: &[&str],
    rgd: &std::path::Path,
    instance: &std::path::Path,
    cluster: bool,
) -> Vec<String> {
    let mut a: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    a.insert(1, rgd.display().to_string());
    a.extend([
        "--instance".into(),
        instance.display().to_string(),
        "-n".into(),
        r.ns.clone(),
    ]);
    if cluster {
        a.extend(r.cli_args());
    }
    a
}

/// The user's path: `kroxide deploy` of the microservices example ends
/// healthy with a complete status, and `kroxide status` prints the same; a
/// redeploy of the same spec writes nothing; a spec change rewrites exactly
/// the objects it changes; `kroxide delete` leaves nothing.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn the_microservices_example_from_the_cli() {
    let r = Real::new("cli", &[]).await;
    let dir = real::workdir("cli");
    let rgd_file = microservices_rgd_file(&dir);
    let dev = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/microservices/dev.yaml")
        .display()
        .to_string();
    let with = |args: &[&str], instance: &str| {
        cli(&r, args, &rgd_file, std::path::Path::new(instance), true)
    };
    let out = kroxide(with(&["deploy", "--create-namespace", "-o", "json"], &dev)).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let deployed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(deployed["health"], "healthy", "{}", printed(&out));
    for s in ["user", "product", "order"] {
        assert_eq!(deployed["services"][s]["ready"], true, "{s}: {deployed}");
    }
    assert_eq!(deployed["gatewayUrl"], "https://microservices-dev.local");
    let out = kroxide(with(&["status", "-o", "json"], &dev)).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status, deployed, "status differs from what deploy printed");

    // Unchanged: no object is written (resourceVersions stay).
    let c = cluster(&r);
    let before = settled_versions(&c, "microservices-app").await;
    let out = kroxide(with(&["deploy"], &dev)).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert_eq!(
        before,
        c.versions("microservices-app").await,
        "an unchanged redeploy wrote objects"
    );

    // One replica count changed: only that Deployment is written.
    let mut changed = scenarios::example("dev.yaml");
    changed["spec"]["services"]["order"]["replicas"] = json!(2);
    let changed_file = dir.join("changed.yaml");
    std::fs::write(&changed_file, serde_json::to_string(&changed).unwrap()).unwrap();
    let out = kroxide(with(
        &["deploy", "-o", "json"],
        &changed_file.display().to_string(),
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let after = c.versions("microservices-app").await;
    let rewritten: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(rewritten, vec!["Deployment/order-service"], "{after:?}");
    let orders = api(&r, "apps/v1", "Deployment", "deployments", Some(&r.ns))
        .get("order-service")
        .await
        .unwrap();
    assert_eq!(orders.data["status"]["readyReplicas"], 2);

    let out = kroxide(with(&["delete"], &dev)).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(c.versions("microservices-app").await.is_empty());
    r.cleanup().await;
}

/// Issue 16: an instance of the microservices example without
/// `spec.services` (optional, but its Deployments read it). KRO v0.9.3
/// applies the rest and waits forever (`no such key: services (data
/// pending)`, the instance IN_PROGRESS); `kroxide plan` and `deploy` fail at
/// once, naming the field, the resource and the expression, and the deploy
/// writes nothing, not even the namespace it was told to create.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn an_instance_without_a_field_its_templates_read_fails_before_writing() {
    let r = Real::new("unset", &[]).await;
    let dir = real::workdir("unset");
    let rgd_file = microservices_rgd_file(&dir);
    let mut inst = scenarios::example("dev.yaml");
    inst["spec"].as_object_mut().unwrap().remove("services");
    let inst_file = dir.join("no-services.yaml");
    std::fs::write(&inst_file, serde_json::to_string(&inst).unwrap()).unwrap();
    let run = |cmd: &[&str]| kroxide(cli(&r, cmd, &rgd_file, &inst_file, cmd[0] == "deploy"));
    let why = "spec.services is not set in the instance and has no default; resource `userDeployment` reads it at spec.replicas: ${schema.spec.services.user.replicas}";
    let out = run(&["plan"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(why),
        "{}",
        printed(&out)
    );
    let started = Instant::now();
    let out = run(&["deploy", "--create-namespace"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(why),
        "{}",
        printed(&out)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited {:?}",
        started.elapsed()
    );
    // Through KRO too: refused before the RGD or the namespace is written
    // (KRO itself would keep the instance IN_PROGRESS without end).
    let started = Instant::now();
    let out = run(&["deploy", "--create-namespace", "--mode", "kro"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(why),
        "{}",
        printed(&out)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited {:?}",
        started.elapsed()
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(r.client.clone());
    assert!(
        namespaces.get_opt(&r.ns).await.unwrap().is_none(),
        "a deploy created its namespace before failing"
    );
    r.cleanup().await;
}

/// `kroxide drift` on a real API server: none right after a deploy; after
/// another field manager scales a Deployment, exactly that field, naming
/// the manager (read from managedFields, nothing written); `status` says so
/// too; a deploy refuses to take the field back unless --force-conflicts,
/// and then names it.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG"]
async fn drift_names_the_fields_another_manager_changed() {
    let r = Real::new("drift", &[]).await;
    let dir = real::workdir("drift");
    let rgd_file = microservices_rgd_file(&dir);
    let inst_file = dir.join("dev.yaml");
    std::fs::write(
        &inst_file,
        serde_json::to_string(&scenarios::example("dev.yaml")).unwrap(),
    )
    .unwrap();
    let run = |cmd: &[&str]| kroxide(cli(&r, cmd, &rgd_file, &inst_file, true));
    let out = run(&["deploy", "--create-namespace"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let out = run(&["drift"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(out.stdout.is_empty(), "{}", printed(&out));

    // Another manager (as `kubectl scale` would) changes a field kroxide set.
    let deployments: Api<DynamicObject> =
        api(&r, "apps/v1", "Deployment", "deployments", Some(&r.ns));
    deployments
        .patch(
            "user-service",
            &kube::api::PatchParams {
                field_manager: Some("drift-e2e".into()),
                ..Default::default()
            },
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let out = run(&["drift"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", printed(&out));
    assert!(
        lines[0].starts_with("userDeployment Deployment/user-service: spec.replicas changed by drift-e2e (Update at "),
        "{}",
        printed(&out)
    );
    let out = run(&["drift", "-o", "json"]).await;
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["field"], "spec.replicas", "{}", printed(&out));
    assert_eq!(list[0]["manager"], "drift-e2e");

    // `status` has a drift line.
    let out = run(&["status"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("drift: 1 fields changed by other managers")
            && err.contains("userDeployment Deployment/user-service: spec.replicas by drift-e2e"),
        "{}",
        printed(&out)
    );
    // A deploy does not take the field back unasked: the API server reports
    // the conflict, and kroxide says what to do.
    let out = run(&["deploy"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict") && err.contains("pass --force-conflicts"),
        "{}",
        printed(&out)
    );
    // With --force-conflicts it does, and says which field from whom.
    let out = run(&["deploy", "--force-conflicts"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "userDeployment: Deployment/user-service: taking back spec.replicas (changed by drift-e2e)"
        ) && err.contains("1 fields other managers had changed taken back"),
        "{}",
        printed(&out)
    );
    let users = deployments.get("user-service").await.unwrap();
    assert_eq!(users.data["spec"]["replicas"], 1);
    let out = run(&["drift"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let out = run(&["status"]).await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("drift: none"),
        "{}",
        printed(&out)
    );
    r.cleanup().await;
}

/// resourceVersions of the graph's objects once the controllers have
/// stopped writing status.
async fn settled_versions(c: &Cluster, graph: &str) -> std::collections::BTreeMap<String, String> {
    let mut before = c.versions(graph).await;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = c.versions(graph).await;
        if now == before {
            return now;
        }
        before = now;
    }
    panic!("the objects of {graph} never stopped changing")
}

const FOR_EACH: &str = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-foreach
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eForEach
    spec:
      names: "[]string"
    status:
      first: ${configs[0].metadata.name}
      all: ${configs.map(c, c.data.nm)}
  resources:
  - id: configs
    forEach:
    - nm: ${schema.spec.names}
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-${nm}
      data:
        nm: ${nm}
"#;

/// A forEach collection keeps forEach order in the status, at deploy and
/// when recomputed later (the API server lists by name), as KRO does.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_foreach_collection_keeps_foreach_order() {
    let r = Real::new("foreach", &[]).await;
    let rgd = rgd(FOR_EACH);
    let inst = json!({"metadata": {"name": "fe"}, "spec": {"names": ["zz", "aa", "mm"]}});
    let engine = DirectEngine::new(r.client.clone());
    let report = engine.deploy(&rgd, &inst, &opts(&r, &r.ns)).await.unwrap();
    assert_eq!(report.status()["first"], "fe-zz");
    assert_eq!(report.status()["all"], json!(["zz", "aa", "mm"]));
    let names: Vec<&str> = report.live["configs"]
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fe-zz", "fe-aa", "fe-mm"]);
    let later = engine.status(&rgd, "fe", &opts(&r, &r.ns)).await.unwrap();
    assert_eq!(later.status, *report.status());
    // Dropping an item prunes its object.
    let fewer = json!({"metadata": {"name": "fe"}, "spec": {"names": ["zz", "mm"]}});
    let report = engine.deploy(&rgd, &fewer, &opts(&r, &r.ns)).await.unwrap();
    assert_eq!(report.pruned.len(), 1, "{:?}", report.pruned);
    assert_eq!(report.pruned[0].name, "fe-aa");
    let cms = api(&r, "v1", "ConfigMap", "configmaps", Some(&r.ns));
    assert!(cms.get_opt("fe-aa").await.unwrap().is_none());
    r.cleanup().await;
}

const CLUSTER_SCOPED: &str = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-scoped
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eScoped
    spec:
      role: string
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}
      data:
        role: ${schema.spec.role}
  - id: role
    template:
      apiVersion: rbac.authorization.k8s.io/v1
      kind: ClusterRole
      metadata:
        name: ${schema.spec.role}
      rules:
      - apiGroups: [""]
        resources: ["configmaps"]
        verbs: ["get"]
"#;

/// Two instances of one name in two namespaces are two owners: the second
/// may not take over the first one's cluster-scoped object (nothing is
/// written), and deleting it leaves that object alone.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn same_named_instances_in_two_namespaces_do_not_share_objects() {
    let r = Real::new("twins", &["b"]).await;
    let rgd = rgd(CLUSTER_SCOPED);
    let role = format!("e2e-twins-reader-{}", std::process::id());
    let inst = json!({"metadata": {"name": "same"}, "spec": {"role": role}});
    let engine = DirectEngine::new(r.client.clone());
    let (a, b) = (r.ns.clone(), r.extra(0).to_string());
    engine.deploy(&rgd, &inst, &opts(&r, &a)).await.unwrap();
    let e = engine.deploy(&rgd, &inst, &opts(&r, &b)).await.unwrap_err();
    assert!(
        matches!(&e, DeployError::NotOwned { objects } if objects.iter().any(|o| o.contains(&role) && o.contains(&a))),
        "{e}"
    );
    // Nothing was written in the second namespace.
    let cms = api(&r, "v1", "ConfigMap", "configmaps", Some(&b));
    assert!(cms.get_opt("same").await.unwrap().is_none());
    let inventory = api(&r, "v1", "Secret", "secrets", Some(&b));
    assert!(inventory
        .get_opt(&kroxide::engine::inventory::secret_name(
            "e2e-scoped",
            "same"
        ))
        .await
        .unwrap()
        .is_none());
    // Deleting the second (never deployed) leaves the first's role alone.
    engine
        .delete("e2e-scoped", "same", &opts(&r, &b))
        .await
        .unwrap();
    let roles = api(
        &r,
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        None,
    );
    assert!(roles.get_opt(&role).await.unwrap().is_some());
    engine
        .delete("e2e-scoped", "same", &opts(&r, &a))
        .await
        .unwrap();
    assert!(roles.get_opt(&role).await.unwrap().is_none());
    r.cleanup().await;
}

const FAILING: &str = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-failing
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eFailing
    spec:
      mode: string
  resources:
  - id: web
    includeWhen:
    - ${schema.spec.mode == "deployment"}
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ${schema.metadata.name}
      spec:
        progressDeadlineSeconds: 3
        replicas: 1
        selector:
          matchLabels: {app: stuck}
        template:
          metadata:
            labels: {app: stuck}
            annotations: {kroxide.dev/kubelet: never-ready}
          spec:
            containers:
            - name: web
              image: nginx
  - id: migrate
    includeWhen:
    - ${schema.spec.mode == "job"}
    template:
      apiVersion: batch/v1
      kind: Job
      metadata:
        name: ${schema.metadata.name}
      spec:
        backoffLimit: 0
        template:
          metadata:
            annotations: {kroxide.dev/kubelet: fail}
          spec:
            restartPolicy: Never
            containers:
            - name: migrate
              image: busybox
"#;

/// A rollout past its progress deadline and a Job that failed end the
/// deploy at once with the controller's own reason, not after the timeout.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn failing_readiness_fails_at_once_with_the_controllers_reason() {
    let r = Real::new("failing", &[]).await;
    let rgd = rgd(FAILING);
    let engine = DirectEngine::new(r.client.clone());
    let o = DeployOptions {
        resource_timeout: Duration::from_secs(120),
        ..opts(&r, &r.ns)
    };
    for (mode, reason) in [
        ("deployment", "ProgressDeadlineExceeded"),
        ("job", "BackoffLimitExceeded"),
    ] {
        let inst = json!({"metadata": {"name": mode}, "spec": {"mode": mode}});
        let started = Instant::now();
        let e = engine.deploy(&rgd, &inst, &o).await.unwrap_err();
        assert!(
            matches!(&e, DeployError::ResourceFailed { reason: why, .. } if why.contains(reason)),
            "{mode}: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{mode}: waited {:?} for a failure the controller had reported",
            started.elapsed()
        );
    }
    r.cleanup().await;
}

/// A graph that creates its own Namespace and CRD, and objects in that
/// namespace and of that kind, deploys (each waits for what it needs),
/// reports ready, and deletes in reverse.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_graph_with_its_own_namespace_and_crd() {
    let pid = std::process::id();
    let r = Real::new("own", &["inner"]).await;
    let group = format!("e2e{pid}.example.com");
    let yaml = format!(
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-own
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eOwn
    spec:
      ns: string
      size: integer
  resources:
  - id: widget
    template:
      apiVersion: {group}/v1
      kind: Widget
      metadata:
        name: ${{schema.metadata.name}}
        namespace: ${{schema.spec.ns}}
      spec:
        size: ${{schema.spec.size}}
  - id: settings
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: settings
        namespace: ${{schema.spec.ns}}
      data:
        size: "${{string(schema.spec.size)}}"
  - id: space
    template:
      apiVersion: v1
      kind: Namespace
      metadata:
        name: ${{schema.spec.ns}}
  - id: widgets
    template:
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata:
        name: widgets.{group}
      spec:
        group: {group}
        scope: Namespaced
        names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
        versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties:
                    size: {{type: integer}}
"#
    );
    let rgd = rgd(&yaml);
    let inner = r.extra(0).to_string();
    let inst = json!({"metadata": {"name": "own"}, "spec": {"ns": inner, "size": 3}});
    let engine = DirectEngine::new(r.client.clone());
    let report = engine.deploy(&rgd, &inst, &opts(&r, &r.ns)).await.unwrap();
    assert_eq!(report.waves.len(), 2, "{:?}", report.waves);
    let widgets = api(
        &r,
        &format!("{group}/v1"),
        "Widget",
        "widgets",
        Some(&inner),
    );
    assert_eq!(widgets.get("own").await.unwrap().data["spec"]["size"], 3);
    let status = engine.status(&rgd, "own", &opts(&r, &r.ns)).await.unwrap();
    assert!(status.ready, "{:?}", status.resources);
    let deleted = engine
        .delete("e2e-own", "own", &opts(&r, &r.ns))
        .await
        .unwrap();
    // The Widget went before its CRD, the ConfigMap before its namespace.
    let order: Vec<&str> = deleted.deleted.iter().map(|o| o.id.as_str()).collect();
    let at = |id: &str| order.iter().position(|x| *x == id).unwrap();
    assert!(
        at("widget") < at("widgets") && at("settings") < at("space"),
        "{order:?}"
    );
    let crds = api(
        &r,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        None,
    );
    assert!(crds
        .get_opt(&format!("widgets.{group}"))
        .await
        .unwrap()
        .is_none());
    r.cleanup().await;
}

/// Ctrl-C in the middle of a deploy exits 130 and releases the lock; the
/// objects applied so far are in the inventory, and a re-run converges.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn ctrl_c_mid_deploy_then_a_rerun_converges() {
    // No kubelet at first: the deploy waits on its Deployments for ever.
    let r = Real::with_kubelet("ctrlc", &[], None).await;
    let dir = real::workdir("ctrlc");
    let rgd_file = microservices_rgd_file(&dir);
    let dev = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/microservices/dev.yaml");
    let mut args: Vec<String> = vec![
        "deploy".into(),
        rgd_file.display().to_string(),
        "--instance".into(),
        dev.display().to_string(),
        "-n".into(),
        r.ns.clone(),
        "--create-namespace".into(),
    ];
    args.extend(r.cli_args());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the second wave (the Deployments) is applied.
    let deployments = api(&r, "apps/v1", "Deployment", "deployments", Some(&r.ns));
    let lp = ListParams::default().labels(&format!("{GRAPH_LABEL}=microservices-app"));
    let started = Instant::now();
    while deployments
        .list(&lp)
        .await
        .map(|l| l.items.len())
        .unwrap_or(0)
        < 4
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the deploy never reached its second wave"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = real::interrupt(child).await;
    assert_eq!(out.status.code(), Some(130), "{}", printed(&out));
    let store = kroxide::engine::DirectEngine::new(r.client.clone());
    let listed = store
        .instances("microservices-app", &opts(&r, &r.ns))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].lock.is_none(), "the lock was not released");
    assert_eq!(listed[0].objects.len(), 12, "{:?}", listed[0].objects);
    // Now Pods run; the same command converges.
    let kubelet = r.start_kubelet();
    let out = kroxide(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("health: healthy"),
        "{}",
        printed(&out)
    );
    kubelet.stop();
    r.cleanup().await;
}

/// A claim whose StorageClass binds on first use is ready while Pending
/// (no Pod uses it yet); a kind with no readiness rule is ready because it
/// exists, and `status` says so; a misspelt field in a kind kroxide cannot
/// check offline (a CRD's) is refused by the server's strict field
/// validation in the dry run, before anything is written.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn claims_waiting_for_a_consumer_and_strict_fields() {
    let r = Real::new("claims", &[]).await;
    let class = format!("e2e-wffc-{}", std::process::id());
    let classes = api(
        &r,
        "storage.k8s.io/v1",
        "StorageClass",
        "storageclasses",
        None,
    );
    let sc: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": class},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"
    }))
    .unwrap();
    classes.create(&Default::default(), &sc).await.unwrap();
    let graph = rgd(&format!(
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-claims
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eClaims
    spec:
      size: string | default="1Gi"
  resources:
  - id: data
    template:
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: ${{schema.metadata.name}}-data
      spec:
        storageClassName: {class}
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: ${{schema.spec.size}}
  - id: settings
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${{schema.metadata.name}}-settings
      data:
        claim: ${{data.metadata.name}}
"#
    ));
    let engine = DirectEngine::new(r.client.clone());
    let inst = json!({"metadata": {"name": "db"}, "spec": {}});
    let report = engine
        .deploy(&graph, &inst, &opts(&r, &r.ns))
        .await
        .unwrap();
    assert_eq!(report.live["data"][0]["status"]["phase"], "Pending");
    let status = engine.status(&graph, "db", &opts(&r, &r.ns)).await.unwrap();
    let settings = status
        .resources
        .iter()
        .find(|x| x.id == "settings")
        .unwrap();
    assert!(
        settings
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("no readiness rule")),
        "{settings:?}"
    );

    // A field the RGD CRD does not have: only the server can tell.
    let misspelt = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-strict
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eStrict
    spec:
      name: string
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.spec.name}
  - id: nested
    template:
      apiVersion: kro.run/v1alpha1
      kind: ResourceGraphDefinition
      metadata:
        name: ${schema.spec.name}
      spec:
        schemaa:
          apiVersion: v1alpha1
          kind: Nested
"#);
    let inst = json!({"metadata": {"name": "s"}, "spec": {"name": "e2e-strict-nested"}});
    let e = engine
        .deploy(&misspelt, &inst, &opts(&r, &r.ns))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DeployError::DryRun { message, .. } if message.contains("schemaa")),
        "{e}"
    );
    let cms = api(&r, "v1", "ConfigMap", "configmaps", Some(&r.ns));
    assert!(cms.get_opt("e2e-strict-nested").await.unwrap().is_none());
    engine
        .delete("e2e-claims", "db", &opts(&r, &r.ns))
        .await
        .unwrap();
    classes.delete(&class, &Default::default()).await.unwrap();
    r.cleanup().await;
}

const DCHAIN_INNER: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-dchain-inner
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eDchainInner
    spec:
      name: string
      label: string | default=a
    status:
      replicas: ${web.status.readyReplicas}
      port: ${int(schema.spec.label) + 8000}
  resources:
  - id: web
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ${schema.spec.name}
        annotations:
          port: ${string(int(schema.spec.label) + 8000)}
      spec:
        replicas: 1
        selector:
          matchLabels: {app: "${schema.spec.name}"}
        template:
          metadata:
            labels: {app: "${schema.spec.name}"}
          spec:
            containers:
            - name: web
              image: nginx
"#;

const DCHAIN_OUTER: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-dchain-outer
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eDchainOuter
    spec:
      name: string
      label: string
    status:
      innerPort: ${part.status.port}
  resources:
  - id: part
    template:
      apiVersion: kro.run/v1alpha1
      kind: E2eDchainInner
      metadata:
        name: ${schema.spec.name}
      spec:
        name: ${schema.spec.name}-web
        label: ${schema.spec.label}
"#;

/// KRO's chained RGDs without KRO: `deploy DIR` serves the inner kind with
/// the CRD KRO would make, deploys the inner instance the outer graph
/// applies (its objects owned by it), writes its status, which the outer
/// status reads; a change of the outer spec redeploys the inner graph;
/// deleting the outer instance lets the garbage collector take the inner
/// objects. An instance that fails in the inner graph is refused first,
/// with nothing written (not even the CRD).
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn chained_rgds_deploy_directly_without_kro() {
    let r = Real::new("dchain", &[]).await;
    let crds = api(
        &r,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        None,
    );
    let crd = "e2edchaininners.kro.run";
    let _ = crds.delete(crd, &Default::default()).await;
    let deadline = Instant::now() + r.timeout;
    while crds.get_opt(crd).await.unwrap().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = real::workdir("dchain");
    std::fs::write(dir.join("inner.yaml"), DCHAIN_INNER).unwrap();
    std::fs::write(dir.join("outer.yaml"), DCHAIN_OUTER).unwrap();
    let inst = real::workdir("dchain-instances");
    let write = |file: &str, label: &str| {
        std::fs::write(
            inst.join(file),
            format!("apiVersion: kro.run/v1alpha1\nkind: E2eDchainOuter\nmetadata: {{name: good}}\nspec: {{name: good, label: \"{label}\"}}\n"),
        )
        .unwrap();
    };
    write("bad.yaml", "abc");
    write("good.yaml", "80");
    write("changed.yaml", "81");
    let args = |file: &str| {
        let mut a: Vec<String> = [
            "deploy",
            dir.to_str().unwrap(),
            "--instance",
            inst.join(file).to_str().unwrap(),
            "-n",
            &r.ns,
            "--create-namespace",
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(r.cli_args());
        a
    };
    let out = kroxide(args("bad.yaml")).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing was applied"),
        "{}",
        printed(&out)
    );
    assert!(
        crds.get_opt(crd).await.unwrap().is_none(),
        "the inner CRD was made for an instance that cannot work"
    );

    let out = kroxide(args("good.yaml")).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["innerPort"], 8080, "{status}");
    let inner = api(
        &r,
        "kro.run/v1alpha1",
        "E2eDchainInner",
        "e2edchaininners",
        Some(&r.ns),
    );
    let live = inner.get("good").await.unwrap();
    assert_eq!(live.data["status"]["state"], "ACTIVE");
    assert_eq!(live.data["status"]["replicas"], 1);
    let deployments = api(&r, "apps/v1", "Deployment", "deployments", Some(&r.ns));
    let web = deployments.get("good-web").await.unwrap();
    assert_eq!(web.data["status"]["readyReplicas"], 1);
    let owners = web.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "E2eDchainInner");
    assert_eq!(Some(owners[0].uid.clone()), live.metadata.uid);

    // A change of the outer spec reaches the inner graph.
    let out = kroxide(args("changed.yaml")).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["innerPort"], 8081, "{status}");
    let web = deployments.get("good-web").await.unwrap();
    assert_eq!(web.metadata.annotations.unwrap()["port"], "8081");

    let mut del: Vec<String> = [
        "delete",
        dir.join("outer.yaml").to_str().unwrap(),
        "--name",
        "good",
        "-n",
        &r.ns,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    del.extend(r.cli_args());
    let out = kroxide(del).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let deadline = Instant::now() + r.timeout;
    while deployments.get_opt("good-web").await.unwrap().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        deployments.get_opt("good-web").await.unwrap().is_none(),
        "the inner Deployment outlived its instance"
    );
    let secrets = api(&r, "v1", "Secret", "secrets", Some(&r.ns));
    let deadline = Instant::now() + r.timeout;
    while secrets
        .get_opt("kroxide.e2e-dchain-inner.good")
        .await
        .unwrap()
        .is_some()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        secrets
            .get_opt("kroxide.e2e-dchain-inner.good")
            .await
            .unwrap()
            .is_none(),
        "the inner inventory outlived its instance"
    );
    let _ = crds.delete(crd, &Default::default()).await;
    r.cleanup().await;
}

/// KRO's saas-multi-tenant example without KRO: `deploy` of its directory
/// deploys the Tenant and both inner instances (a tenant Namespace with a
/// quota and a network policy; a Deployment and a Service in it), whatever
/// order the inner instances come in; `delete` of the directory removes
/// the inner graphs first, the tenant Namespace included.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn saas_multi_tenant_deploys_and_deletes_directly_without_kro() {
    // The tenant's namespace is one of the test's (the kubelet simulator
    // serves the test's namespaces); the inner graph creates it.
    let r = Real::new("saasdirect", &["tenant"]).await;
    let tenant = r.extra(0).to_string();
    // KRO must not be the one reconciling: no saas RGD is Active.
    let rgds = api(
        &r,
        "kro.run/v1alpha1",
        "ResourceGraphDefinition",
        "resourcegraphdefinitions",
        None,
    );
    for name in [
        "tenant.kro.run",
        "tenantenvironment.kro.run",
        "tenantapplication.kro.run",
    ] {
        let _ = rgds.delete(name, &Default::default()).await;
    }
    let deadline = Instant::now() + r.timeout;
    while !rgds
        .list_metadata(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .all(|o| {
            !o.metadata
                .name
                .as_deref()
                .unwrap_or("")
                .starts_with("tenant")
        })
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/kro/examples/saas-multi-tenant");
    let inst = real::workdir("saasdirect").join("tenant.yaml");
    std::fs::write(
        &inst,
        format!("apiVersion: kro.run/v1alpha1\nkind: Tenant\nmetadata: {{name: tenant001}}\nspec: {{tenantId: {tenant}}}\n"),
    )
    .unwrap();
    let mut args: Vec<String> = [
        "deploy",
        dir.to_str().unwrap(),
        "--instance",
        inst.to_str().unwrap(),
        "-n",
        &r.ns,
        "--create-namespace",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(r.cli_args());
    let out = kroxide(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    for (kind, plural) in [
        ("TenantEnvironment", "tenantenvironments"),
        ("TenantApplication", "tenantapplications"),
    ] {
        let live = api(&r, "kro.run/v1alpha1", kind, plural, Some(&r.ns))
            .get(&tenant)
            .await
            .unwrap();
        assert_eq!(live.data["status"]["state"], "ACTIVE", "{kind}");
    }
    let deployments = api(&r, "apps/v1", "Deployment", "deployments", Some(&tenant));
    let d = deployments
        .get(&format!("{tenant}-deployment"))
        .await
        .unwrap();
    assert_eq!(d.data["status"]["readyReplicas"], 2);
    for (av, kind, plural, name) in [
        ("v1", "Service", "services", format!("{tenant}-service")),
        (
            "v1",
            "ResourceQuota",
            "resourcequotas",
            format!("{tenant}-quota"),
        ),
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networkpolicies",
            format!("{tenant}-isolation"),
        ),
    ] {
        assert!(
            api(&r, av, kind, plural, Some(&tenant))
                .get_opt(&name)
                .await
                .unwrap()
                .is_some(),
            "{kind} {name}"
        );
    }

    let mut args: Vec<String> = [
        "delete",
        dir.to_str().unwrap(),
        "--name",
        "tenant001",
        "-n",
        &r.ns,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(r.cli_args());
    let out = kroxide(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let namespaces = api(&r, "v1", "Namespace", "namespaces", None);
    assert!(
        namespaces.get_opt(&tenant).await.unwrap().is_none(),
        "the tenant Namespace is left"
    );
    r.cleanup().await;
}
