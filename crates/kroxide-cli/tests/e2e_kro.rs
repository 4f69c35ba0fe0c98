//! KRO mode on a real cluster with the real KRO controller (v0.9.3 in
//! `../shared/kit`), the kubelet simulator making Pods ready. Run by
//! `scripts/e2e.sh`; by hand:
//!
//! ```text
//! KROXIDE_E2E_KUBECONFIG=/tmp/kit/kubeconfig cargo test -p kroxide-cli --test e2e_kro -- --ignored
//! ```
//!
//! Each test uses ResourceGraphDefinitions (cluster-scoped) and instance
//! kinds of its own, so the tests run in parallel.

mod real;
#[path = "../../kroxide/tests/scenarios/mod.rs"]
mod scenarios;

use kroxide::engine::kro::{delete, deploy, KroError, KroOptions};
use kroxide::engine::{Event, Progress};
use kroxide::model::ResourceGraphDefinition;
use kroxide::prelude::*;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use real::{kroxide, printed, Real};
use scenarios::example;
use scenarios::microservices::{microservices_app, Health, MicroservicesStatus};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn opts(r: &Real, ns: &str) -> KroOptions {
    KroOptions {
        namespace: ns.to_string(),
        timeout: r.timeout,
        ..KroOptions::default()
    }
}

fn rgds(r: &Real) -> Api<DynamicObject> {
    Api::all_with(
        r.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("kro.run", "v1alpha1", "ResourceGraphDefinition"),
            "resourcegraphdefinitions",
        ),
    )
}

fn crds(r: &Real) -> Api<DynamicObject> {
    Api::all_with(
        r.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    )
}

/// Deletes the instance CRD KRO made for RGD `name` (KRO v0.9.3 leaves it
/// behind when the RGD goes), so a later run on the same cluster starts clean.
async fn forget_crd(r: &Real, name: &str) {
    let crds = crds(r);
    let lp = kube::api::ListParams::default()
        .labels(&format!("kro.run/resource-graph-definition-name={name}"));
    for c in crds.list_metadata(&lp).await.unwrap().items {
        let _ = crds
            .delete(
                c.metadata.name.as_deref().unwrap_or(""),
                &Default::default(),
            )
            .await;
    }
}

fn rgd(yaml: &str) -> ResourceGraphDefinition {
    kroxide::model::load_str("test.yaml", yaml)
        .unwrap()
        .remove(0)
        .rgd
}

/// The microservices example renamed (RGD and kind) for one test, so that
/// tests deploying it through KRO do not share a definition.
fn microservices_as(suffix: &str) -> ResourceGraphDefinition {
    let mut rgd = microservices_app().to_rgd().unwrap();
    rgd.metadata.name = Some(format!("microservices-{suffix}"));
    rgd.spec.schema.kind = format!("Microservices{}", suffix.replace('-', ""));
    rgd
}

/// The example instance `file`, of `rgd`'s kind.
fn instance_of(rgd: &ResourceGraphDefinition, file: &str) -> Value {
    let mut i = example(file);
    i["kind"] = json!(rgd.spec.schema.kind);
    i
}

fn recorder() -> (Progress, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (
        Progress::new(move |e| sink.lock().unwrap().push(e.clone())),
        events,
    )
}

/// The seed's production configuration through KRO: the RGD becomes
/// Active, the instance healthy with every child ready (prod-sized) and a
/// complete typed status; deleting it removes every child within the
/// timeout, reported one by one, and then the definition.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn prod_through_kro_is_healthy_typed_and_deleted_with_progress() {
    let r = Real::with_kubelet("kroprod", &[], Some(Duration::from_secs(2))).await;
    let rgd = microservices_as("kroprod");
    forget_crd(&r, rgd.name()).await;
    let (progress, events) = recorder();
    let o = KroOptions {
        progress,
        ..opts(&r, &r.ns)
    };
    let status = deploy(&r.client, &rgd, &instance_of(&rgd, "prod.yaml"), &o)
        .await
        .unwrap();
    assert_eq!(status["state"], "ACTIVE");
    let typed: MicroservicesStatus = serde_json::from_value(status.clone()).unwrap();
    assert_eq!(typed.health, Health::Healthy, "{status}");
    assert_eq!(typed.gateway_url, "https://api.mycompany.com");
    assert!(
        typed.services.user.ready && typed.services.product.ready && typed.services.order.ready
    );
    // Every child was reported ready, and the Deployments really are.
    let ready: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Ready { id } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ready.len(), 12, "{ready:?}");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(r.client.clone(), &r.ns);
    let product = deployments.get("product-service").await.unwrap();
    assert_eq!(product.spec.unwrap().replicas, Some(5));
    assert_eq!(product.status.unwrap().ready_replicas, Some(5));

    let (progress, events) = recorder();
    let o = KroOptions {
        progress,
        ..opts(&r, &r.ns)
    };
    let report = delete(&r.client, &rgd, "microservices-prod", true, &o)
        .await
        .unwrap();
    assert!(report.definition_deleted);
    let deleted = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Deleted { .. }))
        .count();
    assert_eq!(deleted, 12);
    assert!(deployments
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(rgds(&r).get_opt(rgd.name()).await.unwrap().is_none());
    forget_crd(&r, rgd.name()).await;
    r.cleanup().await;
}

/// A delete that KRO cannot finish within the timeout says which children
/// are left, instead of a bare timeout.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_delete_past_its_timeout_lists_what_is_left() {
    let r = Real::new("krodel", &[]).await;
    let rgd = microservices_as("krodel");
    forget_crd(&r, rgd.name()).await;
    deploy(
        &r.client,
        &rgd,
        &instance_of(&rgd, "dev.yaml"),
        &opts(&r, &r.ns),
    )
    .await
    .unwrap();
    let short = KroOptions {
        timeout: Duration::from_secs(1),
        ..opts(&r, &r.ns)
    };
    let e = delete(&r.client, &rgd, "microservices-dev", false, &short)
        .await
        .unwrap_err();
    match &e {
        KroError::DeleteTimeout { left, .. } => {
            assert!(!left.is_empty());
            assert!(left.iter().any(|l| l.contains("Deployment/")), "{left:?}")
        }
        other => panic!("unexpected {other}"),
    }
    // Given time, it finishes.
    delete(&r.client, &rgd, "microservices-dev", true, &opts(&r, &r.ns))
        .await
        .unwrap();
    forget_crd(&r, rgd.name()).await;
    r.cleanup().await;
}

/// An RGD the real KRO refuses fails with KRO's own message, and no
/// instance kind or instance is created. The graph is one kroxide's offline
/// checks still pass (a `hash.sha256`, which returns bytes in KRO, in a
/// string field); should they learn to refuse it, nothing may be written.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn an_rgd_kro_refuses_fails_with_kros_message_and_no_instance() {
    let r = Real::new("krorefused", &[]).await;
    // A run that failed earlier on this cluster may have left KRO's CRD.
    forget_crd(&r, "e2e-refused").await;
    let refused = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-refused
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eRefused
    spec:
      a: integer | default=1
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}
      data:
        h: ${hash.sha256(schema.metadata.name)}
"#);
    let inst = json!({"metadata": {"name": "x"}, "spec": {}});
    let e = deploy(&r.client, &refused, &inst, &opts(&r, &r.ns))
        .await
        .unwrap_err();
    match &e {
        KroError::Inactive { message, .. } => {
            assert!(message.contains("bytes"), "{message}");
            rgds(&r)
                .delete("e2e-refused", &Default::default())
                .await
                .unwrap();
        }
        KroError::Deploy(_) => {
            assert!(rgds(&r).get_opt("e2e-refused").await.unwrap().is_none());
        }
        other => panic!("unexpected {other}"),
    }
    let crds = crds(&r);
    assert!(crds.get_opt("e2erefuseds.kro.run").await.unwrap().is_none());
    r.cleanup().await;
}

/// Removing a spec field is refused unless allowed, then applied with
/// KRO's annotation.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn breaking_schema_changes_are_refused_unless_allowed() {
    let r = Real::new("krobreak", &[]).await;
    let rgd = microservices_as("krobreak");
    forget_crd(&r, rgd.name()).await;
    deploy(
        &r.client,
        &rgd,
        &instance_of(&rgd, "prod.yaml"),
        &opts(&r, &r.ns),
    )
    .await
    .unwrap();
    // The same graph again: the cluster holds the RGD just as kroxide
    // applied it, so it is not sent again (a large RGD's apply costs the
    // API server a merge of the whole object for nothing).
    let (recording, log) = real::recording_client().await;
    let status = deploy(
        &recording,
        &rgd,
        &instance_of(&rgd, "prod.yaml"),
        &opts(&r, &r.ns),
    )
    .await
    .unwrap();
    assert_eq!(status["health"], "healthy", "{status}");
    let writes: Vec<String> = log
        .requests()
        .into_iter()
        .filter(|q| !q.starts_with("GET "))
        .collect();
    assert!(
        writes
            .iter()
            .all(|q| !q.contains("resourcegraphdefinitions")),
        "{writes:?}"
    );
    assert_eq!(writes.len(), 1, "only the instance is applied: {writes:?}");
    let mut changed = rgd.clone();
    if let Some(spec) = changed.spec.schema.spec.as_mut() {
        spec.shift_remove("version");
    }
    let mut inst = instance_of(&rgd, "prod.yaml");
    inst["spec"].as_object_mut().unwrap().remove("version");
    // The status and resources still read schema.spec.version: drop those uses.
    let yaml = kroxide::model::to_yaml(&changed)
        .unwrap()
        .replace("${schema.spec.version}", "v1");
    let changed = kroxide::model::load_str("changed.yaml", &yaml)
        .unwrap()
        .remove(0)
        .rgd;
    let e = deploy(&r.client, &changed, &inst, &opts(&r, &r.ns))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, KroError::Breaking { changes, .. } if changes.iter().any(|c| c.contains("spec.version: field removed"))),
        "{e}"
    );
    let allowed = KroOptions {
        allow_breaking_changes: true,
        ..opts(&r, &r.ns)
    };
    let status = deploy(&r.client, &changed, &inst, &allowed).await.unwrap();
    assert_eq!(status["health"], "healthy", "{status}");
    let live = rgds(&r).get(rgd.name()).await.unwrap();
    assert_eq!(
        live.metadata.annotations.unwrap()["kro.run/allow-breaking-changes"],
        "true"
    );
    delete(
        &r.client,
        &changed,
        "microservices-prod",
        true,
        &opts(&r, &r.ns),
    )
    .await
    .unwrap();
    r.cleanup().await;
}

const INDEX: &str = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-index
spec:
  schema:
    apiVersion: v1alpha1
    kind: Index
    spec:
      names: "[]string"
    status:
      first: ${configs[0].metadata.name}
      all: ${configs.map(c, c.data.nm)}
      replicas: ${web.status.readyReplicas}
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
  - id: web
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ${schema.metadata.name}-web
      spec:
        replicas: 2
        selector:
          matchLabels: {app: index}
        template:
          metadata:
            labels: {app: index}
          spec:
            containers:
            - name: web
              image: nginx
"#;

/// From the CLI, a kind whose plural KRO forms irregularly (`Index` →
/// `indices`): deploy (with progress), status, instances and delete find
/// it; the status keeps forEach order and matches what direct mode computes.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn an_irregular_plural_and_foreach_order_from_the_cli() {
    let r = Real::with_kubelet("kroindex", &["direct"], Some(Duration::from_secs(1))).await;
    // A run that failed earlier on this cluster may have left KRO's CRD.
    forget_crd(&r, "e2e-index").await;
    let dir = real::workdir("kroindex");
    let file = dir.join("index.yaml");
    std::fs::write(&file, INDEX).unwrap();
    let inst = dir.join("instance.yaml");
    std::fs::write(
        &inst,
        "metadata: {name: idx}\nspec: {names: [zz, aa, mm]}\n",
    )
    .unwrap();
    let (file, inst) = (file.display().to_string(), inst.display().to_string());
    let with = |args: &[&str], ns: &str| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.insert(1, file.clone());
        a.extend(["-n".into(), ns.to_string()]);
        a.extend(r.cli_args());
        a
    };
    let started = Instant::now();
    let out = kroxide(with(
        &["deploy", "--mode", "kro", "--instance", &inst, "-o", "json"],
        &r.ns,
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    // The Pods took a second to become ready: the deploy waited for them.
    assert!(started.elapsed() >= Duration::from_secs(1));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["first"], "idx-zz", "{status}");
    assert_eq!(status["all"], json!(["zz", "aa", "mm"]));
    assert_eq!(status["replicas"], 2, "{status}");
    // Progress is JSON lines on stderr with -o json: every child reported ready.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for id in ["configs", "web"] {
        assert!(
            stderr.contains(&format!("\"event\":\"ready\",\"id\":\"{id}\"")),
            "{id}: {stderr}"
        );
    }
    let out = kroxide(with(
        &["status", "--mode", "kro", "--name", "idx", "-o", "json"],
        &r.ns,
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["first"], "idx-zz");
    let out = kroxide(with(&["instances", "--mode", "kro", "-o", "json"], &r.ns)).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "idx", "{list}");
    assert_eq!(list[0]["ready"], true);
    // Direct mode computes the same status fields.
    let out = kroxide(with(
        &[
            "deploy",
            "--create-namespace",
            "--instance",
            &inst,
            "-o",
            "json",
        ],
        r.extra(0),
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let direct: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["first", "all", "replicas"] {
        assert_eq!(direct[k], status[k], "{k}");
    }
    let out = kroxide(with(
        &[
            "delete",
            "--mode",
            "kro",
            "--name",
            "idx",
            "--delete-definition",
        ],
        &r.ns,
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("deleted ResourceGraphDefinition e2e-index"),
        "{stderr}"
    );
    assert!(rgds(&r).get_opt("e2e-index").await.unwrap().is_none());
    forget_crd(&r, "e2e-index").await;
    r.cleanup().await;
}

const VAULT_RGD: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: e2e-vault}
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eVault
    spec:
      name: string | required=true
      password: string | required=true pattern="^[a-z0-9-]+$"
    status:
      secretName: ${creds.metadata.name}
      copied: ${settings.data.copied}
  resources:
    - id: creds
      template:
        apiVersion: v1
        kind: Secret
        metadata: {name: "${schema.spec.name}-creds"}
        stringData:
          password: ${schema.spec.password}
    - id: settings
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "${schema.spec.name}"}
        data:
          copied: ${schema.spec.password}
"#;

/// A status field that repeats a Secret's value is masked in what KRO mode
/// prints: at deploy, and in status with the instance file or only its name.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn kro_mode_masks_a_secret_value_that_the_status_repeats() {
    let r = Real::new("krosecret", &[]).await;
    // A run that failed earlier on this cluster may have left KRO's CRD.
    forget_crd(&r, "e2e-vault").await;
    let dir = real::workdir("krosecret");
    let rgd = dir.join("vault.yaml");
    std::fs::write(&rgd, VAULT_RGD).unwrap();
    let inst = dir.join("instance.yaml");
    std::fs::write(
        &inst,
        "metadata: {name: v}\nspec: {name: v, password: s3cr3t-pa55}\n",
    )
    .unwrap();
    let (rgd, inst) = (rgd.display().to_string(), inst.display().to_string());
    for (command, which) in [
        ("deploy", ["--instance", inst.as_str()]),
        ("status", ["--instance", inst.as_str()]),
        ("status", ["--name", "v"]),
    ] {
        let mut args: Vec<String> = [
            command, &rgd, which[0], which[1], "--mode", "kro", "-n", &r.ns,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(r.cli_args());
        let out = kroxide(args).await;
        let all = printed(&out);
        assert_eq!(out.status.code(), Some(0), "{command} {which:?}: {all}");
        assert!(
            all.contains("copied:") && !all.contains("s3cr3t-pa55"),
            "{command} {which:?}: {all}"
        );
    }
    let mut args: Vec<String> = [
        "delete",
        &rgd,
        "--name",
        "v",
        "--mode",
        "kro",
        "--delete-definition",
        "-n",
        &r.ns,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(r.cli_args());
    let out = kroxide(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    forget_crd(&r, "e2e-vault").await;
    r.cleanup().await;
}

/// The typed factory through KRO: deploy returns the typed status, status
/// reads it back, delete removes it.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn the_typed_factory_through_kro() {
    let r = Real::new("krofactory", &[]).await;
    // A run that failed earlier on this cluster may have left KRO's CRD.
    forget_crd(&r, "microservices-app").await;
    let app = microservices_app();
    let factory = || {
        app.factory(Mode::Kro)
            .client(r.client.clone())
            .namespace(&r.ns)
            .timeout(r.timeout)
    };
    let spec: scenarios::microservices::MicroservicesSpec =
        serde_json::from_value(example("dev.yaml")["spec"].clone()).unwrap();
    let status = factory().deploy(&spec).await.unwrap();
    assert_eq!(status.health, Health::Healthy);
    assert_eq!(factory().status().await.unwrap().health, Health::Healthy);
    factory().delete().await.unwrap();
    assert!(factory().status().await.is_err());
    rgds(&r)
        .delete("microservices-app", &Default::default())
        .await
        .unwrap();
    r.cleanup().await;
}

/// Through KRO, a graph may create the Namespace its objects go to; one
/// that also defines a CRD and objects of it is refused by KRO v0.9.3 (it
/// resolves every kind when it accepts the graph), with KRO's message.
/// Direct mode deploys both (e2e.rs, `a_graph_with_its_own_namespace_and_crd`).
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn own_namespace_through_kro_and_kros_refusal_of_its_own_crd() {
    let r = Real::new("kroown", &["inner"]).await;
    forget_crd(&r, "e2e-kro-own").await;
    forget_crd(&r, "e2e-kro-own-crd").await;
    let pid = std::process::id();
    let with_ns = rgd(r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-kro-own
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eKroOwn
    spec:
      ns: string
  resources:
  - id: space
    template:
      apiVersion: v1
      kind: Namespace
      metadata:
        name: ${schema.spec.ns}
  - id: settings
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: settings
        namespace: ${space.metadata.name}
      data:
        a: b
"#);
    let inner = r.extra(0).to_string();
    let inst = json!({"metadata": {"name": "own"}, "spec": {"ns": inner}});
    deploy(&r.client, &with_ns, &inst, &opts(&r, &r.ns))
        .await
        .unwrap();
    let cms: Api<DynamicObject> = Api::namespaced_with(
        r.client.clone(),
        &inner,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "ConfigMap"),
            "configmaps",
        ),
    );
    assert_eq!(cms.get("settings").await.unwrap().data["data"]["a"], "b");
    delete(&r.client, &with_ns, "own", true, &opts(&r, &r.ns))
        .await
        .unwrap();
    forget_crd(&r, "e2e-kro-own").await;

    let with_crd = rgd(&format!(
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-kro-own-crd
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eKroOwnCrd
    spec:
      size: integer | default=1
  resources:
  - id: gadgets
    template:
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata:
        name: gadgets.e2e{pid}.example.com
      spec:
        group: e2e{pid}.example.com
        scope: Namespaced
        names: {{kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}}
        versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              x-kubernetes-preserve-unknown-fields: true
  - id: gadget
    template:
      apiVersion: e2e{pid}.example.com/v1
      kind: Gadget
      metadata:
        name: g
      spec:
        size: ${{schema.spec.size}}
"#
    ));
    let e = deploy(
        &r.client,
        &with_crd,
        &json!({"metadata": {"name": "g"}, "spec": {}}),
        &opts(&r, &r.ns),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, KroError::Inactive { message, .. } if message.contains("schema not found")),
        "{e}"
    );
    rgds(&r)
        .delete("e2e-kro-own-crd", &Default::default())
        .await
        .unwrap();
    r.cleanup().await;
}

/// Ctrl-C while KRO mode waits for the instance exits 130 and leaves what
/// was applied to KRO; the same command run again (Pods now start) ends
/// healthy.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn ctrl_c_in_kro_mode_then_a_rerun_converges() {
    let r = Real::with_kubelet("krointr", &[], None).await;
    let rgd = microservices_as("krointr");
    forget_crd(&r, rgd.name()).await;
    let dir = real::workdir("krointr");
    let file = dir.join("rgd.yaml");
    std::fs::write(&file, kroxide::model::to_yaml(&rgd).unwrap()).unwrap();
    let inst = dir.join("instance.yaml");
    std::fs::write(
        &inst,
        serde_json::to_string(&instance_of(&rgd, "dev.yaml")).unwrap(),
    )
    .unwrap();
    let mut args: Vec<String> = [
        "deploy",
        &file.display().to_string(),
        "--mode",
        "kro",
        "--instance",
        &inst.display().to_string(),
        "-n",
        &r.ns,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(r.cli_args());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until KRO has created the Deployments (they never get ready: no kubelet).
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(r.client.clone(), &r.ns);
    let started = Instant::now();
    while deployments
        .list(&Default::default())
        .await
        .map(|l| l.items.len())
        .unwrap_or(0)
        < 4
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "KRO never created the Deployments"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = real::interrupt(child).await;
    assert_eq!(out.status.code(), Some(130), "{}", printed(&out));
    let kubelet = r.start_kubelet();
    let out = kroxide(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("health: healthy"),
        "{}",
        printed(&out)
    );
    kubelet.stop();
    delete(&r.client, &rgd, "microservices-dev", true, &opts(&r, &r.ns))
        .await
        .unwrap();
    forget_crd(&r, rgd.name()).await;
    r.cleanup().await;
}

/// kroxide's delete policy is direct mode's: `deploy --mode kro` warns,
/// naming the retained resources, `delete --orphan --mode kro` is refused
/// before anything is written (KRO v0.9.3 cannot keep an instance's
/// children), and KRO's delete removes the retained ConfigMaps too.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn kro_mode_warns_that_it_ignores_the_retain_policy() {
    let r = Real::new("kroretain", &[]).await;
    forget_crd(&r, "e2e-keepers").await;
    let dir = real::workdir("kroretain");
    let file = dir.join("keepers.yaml");
    std::fs::write(
        &file,
        scenarios::KEEPERS_YAML
            .replace("name: keepers", "name: e2e-keepers")
            .replace("kind: Keepers", "kind: E2eKeepers"),
    )
    .unwrap();
    let inst = dir.join("k.yaml");
    std::fs::write(&inst, "metadata: {name: k}\nspec: {name: k}\n").unwrap();
    let (file, inst) = (file.display().to_string(), inst.display().to_string());
    let with = |args: &[&str]| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.insert(1, file.clone());
        a.extend(["-n".into(), r.ns.clone()]);
        a.extend(r.cli_args());
        a
    };
    let out = kroxide(with(&["deploy", "--mode", "kro", "--instance", &inst])).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: KRO ignores kroxide's delete policy: `data`, `extra` would be kept by a direct-mode delete, but KRO deletes them with the instance"),
        "{}",
        printed(&out)
    );
    let out = kroxide(with(&[
        "delete", "--mode", "kro", "--name", "k", "--orphan",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--orphan works in direct mode only"),
        "{}",
        printed(&out)
    );
    let cms: Api<DynamicObject> = Api::namespaced_with(
        r.client.clone(),
        &r.ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "ConfigMap"),
            "configmaps",
        ),
    );
    for n in ["k-data", "k-extra", "k-plain"] {
        assert!(
            cms.get_opt(n).await.unwrap().is_some(),
            "{n} gone after a refused delete"
        );
    }
    let out = kroxide(with(&[
        "delete",
        "--mode",
        "kro",
        "--name",
        "k",
        "--delete-definition",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    for n in ["k-data", "k-extra", "k-plain"] {
        assert!(cms.get_opt(n).await.unwrap().is_none(), "KRO kept {n}");
    }
    forget_crd(&r, "e2e-keepers").await;
    r.cleanup().await;
}

const CHAIN_INNER: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-chain-inner
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eChainInner
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

const CHAIN_OUTER: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: e2e-chain-outer
spec:
  schema:
    apiVersion: v1alpha1
    kind: E2eChainOuter
    spec:
      name: string
      label: string
    status:
      innerPort: ${part.status.port}
  resources:
  - id: part
    template:
      apiVersion: kro.run/v1alpha1
      kind: E2eChainInner
      metadata:
        name: ${schema.spec.name}
      spec:
        name: ${schema.spec.name}-web
        label: ${schema.spec.label}
"#;

/// KRO's chained RGDs from the CLI: `deploy --mode kro DIR` applies the
/// inner RGD first and waits until it is Active, then the outer one and the
/// instance; the outer status reads the inner instance's status, which KRO
/// computes once the inner Deployment is up. An instance that fails in the
/// inner graph is refused with nothing written, not even the RGDs.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn chained_rgds_through_kro_from_a_directory() {
    let r = Real::with_kubelet("krochain", &[], Some(Duration::from_millis(500))).await;
    for name in ["e2e-chain-outer", "e2e-chain-inner"] {
        let _ = rgds(&r).delete(name, &Default::default()).await;
        forget_crd(&r, name).await;
    }
    // A run that failed earlier may have left them: wait until they are gone.
    let deadline = Instant::now() + r.timeout;
    let lp = kube::api::ListParams::default()
        .labels("kro.run/resource-graph-definition-name in (e2e-chain-outer,e2e-chain-inner)");
    while !crds(&r).list_metadata(&lp).await.unwrap().items.is_empty() && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let dir = real::workdir("krochain");
    std::fs::write(dir.join("inner.yaml"), CHAIN_INNER).unwrap();
    std::fs::write(dir.join("outer.yaml"), CHAIN_OUTER).unwrap();
    let inst = real::workdir("krochain-instances");
    std::fs::write(
        inst.join("bad.yaml"),
        "apiVersion: kro.run/v1alpha1\nkind: E2eChainOuter\nmetadata: {name: bad}\nspec: {name: bad, label: abc}\n",
    )
    .unwrap();
    std::fs::write(
        inst.join("good.yaml"),
        "apiVersion: kro.run/v1alpha1\nkind: E2eChainOuter\nmetadata: {name: good}\nspec: {name: good, label: \"80\"}\n",
    )
    .unwrap();
    let args = |instance: &str| {
        let mut a: Vec<String> = [
            "deploy",
            dir.to_str().unwrap(),
            "--mode",
            "kro",
            "--instance",
            inst.join(instance).to_str().unwrap(),
            "-n",
            &r.ns,
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(r.cli_args());
        a
    };
    // int("abc") fails in the inner graph: refused before any write.
    let out = kroxide(args("bad.yaml")).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("e2e-chain-inner") && stderr.contains("part"),
        "the error names the inner graph and the outer resource: {}",
        printed(&out)
    );
    for name in ["e2e-chain-inner", "e2e-chain-outer"] {
        assert!(
            rgds(&r).get_opt(name).await.unwrap().is_none(),
            "{name} was applied for an instance that cannot work"
        );
    }

    let out = kroxide(args("good.yaml")).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["state"], "ACTIVE", "{status}");
    assert_eq!(status["innerPort"], 8080, "{status}");
    // Progress: the inner RGD was applied and Active before the outer one.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let inner_at = stderr
        .find(r#"{"event":"ready","id":"e2e-chain-inner"}"#)
        .expect("the inner RGD reported Active");
    let web_at = stderr
        .find(r#"{"event":"ready","id":"web"}"#)
        .expect("the inner instance's Deployment reported ready");
    let inner = rgds(&r).get("e2e-chain-inner").await.unwrap();
    assert_eq!(inner.data["status"]["state"], "Active");
    // The inner instance is healthy by its Ready condition, and its
    // Deployment really is up.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(r.client.clone(), &r.ns);
    let web = deployments.get("good-web").await.unwrap();
    assert_eq!(web.status.unwrap().ready_replicas, Some(1));
    assert!(inner_at < web_at, "{stderr}");

    let out = kroxide({
        let mut a: Vec<String> = [
            "delete",
            dir.join("outer.yaml").to_str().unwrap(),
            "--mode",
            "kro",
            "--name",
            "good",
            "-n",
            &r.ns,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(r.cli_args());
        a
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    // KRO deletes the inner instance with the outer one, and its Deployment.
    let deadline = Instant::now() + r.timeout;
    while deployments.get_opt("good-web").await.unwrap().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(deployments.get_opt("good-web").await.unwrap().is_none());
    for name in ["e2e-chain-outer", "e2e-chain-inner"] {
        let _ = rgds(&r).delete(name, &Default::default()).await;
        forget_crd(&r, name).await;
    }
    r.cleanup().await;
}

/// Author-defined status conditions (KRO v0.9.3's `status.conditions` of
/// `runtime.newCondition(...)` expressions, `examples/rgds/conditions.yaml`):
/// deployed through the real KRO, which writes them in place of its own, and
/// directly, where kroxide computes them. The two agree, condition for
/// condition (lastTransitionTime and observedGeneration aside); kroxide's
/// KRO-mode wait ends although the instance has no KRO Ready condition.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn author_defined_conditions_as_the_real_kro_writes_them() {
    let r = Real::with_kubelet("krocond", &["direct"], Some(Duration::from_millis(300))).await;
    let _ = rgds(&r)
        .delete("conditioned-app", &Default::default())
        .await;
    forget_crd(&r, "conditioned-app").await;
    // The example, its `Ready` renamed: KRO then writes no Ready condition
    // at all, and kroxide's wait must go by KRO's state.
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/rgds/conditions.yaml"
    ))
    .unwrap();
    assert!(example.contains("type: 'Ready'"));
    let dir = real::workdir("krocond");
    let path = dir.join("conditions.yaml");
    std::fs::write(&path, example.replace("type: 'Ready'", "type: 'AllGood'")).unwrap();
    let file = path.to_str().unwrap();
    let instance = dir.join("c1.yaml");
    std::fs::write(
        &instance,
        "apiVersion: kro.run/v1alpha1\nkind: ConditionedApp\nmetadata: {name: c1}\nspec: {replicas: 2, shards: [east, west]}\n",
    )
    .unwrap();
    let deploy = |mode: &str, ns: &str| {
        r.command(&[
            "deploy",
            file,
            "--mode",
            mode,
            "--instance",
            instance.to_str().unwrap(),
            "-n",
            ns,
            "--create-namespace",
            "-o",
            "json",
        ])
    };
    let out = kroxide(deploy("kro", &r.ns)).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let through_kro: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(through_kro["state"], "ACTIVE", "{through_kro}");
    let out = kroxide(deploy("direct", &r.namespaces[1])).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let direct: Value = serde_json::from_slice(&out.stdout).unwrap();
    let strip = |status: &Value| -> Vec<Value> {
        status["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut c| {
                let o = c.as_object_mut().unwrap();
                o.remove("lastTransitionTime");
                o.remove("observedGeneration");
                c
            })
            .collect()
    };
    let want = strip(&direct);
    assert_eq!(
        want.iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "ConfigReady",
            "AppAvailable",
            "DeploymentProgressing",
            "AllGood",
            "Shard-east",
            "Shard-west"
        ],
        "{direct:#}"
    );
    assert_eq!(want[1]["message"], "2 of 2 available", "{direct:#}");
    assert_eq!(
        want[3]["message"], "all resources are created and ready",
        "{direct:#}"
    );
    // KRO writes its conditions as it reconciles; the Deployment's last
    // change reaches it a moment after kroxide saw it ready.
    let rgd = kroxide::model::load_file(file).unwrap().remove(0).rgd;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut kro_status;
    loop {
        kro_status = kroxide::engine::kro::instance(&r.client, &rgd, "c1", &r.ns)
            .await
            .unwrap()["status"]
            .clone();
        if strip(&kro_status) == want || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        strip(&kro_status),
        want,
        "KRO wrote {kro_status:#}\nkroxide computed {direct:#}"
    );
    // KRO stamps each with the instance's generation.
    assert!(
        kro_status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["observedGeneration"] == 1),
        "{kro_status:#}"
    );
    assert_eq!(direct["availableReplicas"], 2, "{direct:#}");
    assert_eq!(kro_status["availableReplicas"], 2, "{kro_status:#}");
    let _ = rgds(&r)
        .delete("conditioned-app", &Default::default())
        .await;
}
