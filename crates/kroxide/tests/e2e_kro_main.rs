//! KRO main's features (after v0.9.3) against a real KRO built from main
//! (`KROXIDE_KIT_KRO=main ../shared/kit/up DIR`: v0.9.3-54-g0302e659):
//! kroxide with `--kro-version main` must compute what it does. Run by
//! `scripts/e2e.sh` (which starts that second kit); by hand:
//!
//! ```text
//! KROXIDE_KIT_KRO=main ../shared/kit/up /tmp/kit-main
//! KROXIDE_E2E_KRO_MAIN_KUBECONFIG=/tmp/kit-main/kubeconfig cargo test -p kroxide --test e2e_kro_main -- --ignored
//! ```
//!
//! Without `KROXIDE_E2E_KRO_MAIN_KUBECONFIG` each test fails (it does not
//! pass silently). Every test uses RGDs and kinds of its own.

use futures::{StreamExt, TryStreamExt};
use kroxide::engine::kro::{deploy, KroOptions};
use kroxide::model::{KroVersion, ResourceGraphDefinition};
use kroxide::semantics::crd::instance_crd;
use kroxide::semantics::validate::{validate, Severity};
use kube::api::{Api, DynamicObject, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn kubeconfig() -> PathBuf {
    match std::env::var("KROXIDE_E2E_KRO_MAIN_KUBECONFIG") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "KROXIDE_E2E_KRO_MAIN_KUBECONFIG is not set: these tests need a cluster running KRO's main branch \
             (KROXIDE_KIT_KRO=main ../shared/kit/up DIR, then KROXIDE_E2E_KRO_MAIN_KUBECONFIG=DIR/kubeconfig); \
             scripts/e2e.sh starts one"
        ),
    }
}

async fn client() -> kube::Client {
    let path = kubeconfig();
    let kc = kube::config::Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    kube::Client::try_from(config).unwrap()
}

fn api(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural),
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../kroxide-semantics/tests/kro_main/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// `yaml`'s RGD, renamed `name` with instance kind `kind`, for KRO main.
fn rgd(yaml: &str, name: &str, kind: &str) -> ResourceGraphDefinition {
    let mut rgd = kroxide::model::load_str("t.yaml", yaml)
        .unwrap()
        .remove(0)
        .rgd;
    // Names of this run's own: a run that failed half-way may leave an RGD,
    // its CRD or an instance behind.
    let pid = std::process::id();
    rgd.metadata.name = Some(format!("{name}-{pid}"));
    rgd.spec.schema.kind = format!("{kind}{pid}");
    rgd.kro_version = KroVersion::Main;
    rgd
}

/// The instances of `g`'s kind in `ns`.
fn instances(client: &kube::Client, g: &ResourceGraphDefinition, ns: &str) -> Api<DynamicObject> {
    let n = kroxide::semantics::crd::InstanceNames::of(g);
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(&n.group, &n.version, &n.kind),
            &n.plural,
        ),
    )
}

/// Deletes instance `name` of `g` and waits until KRO has removed it (its
/// finalizer): an RGD deleted before its instances leaves them, and their
/// CRD, stuck.
async fn delete_instance(client: &kube::Client, g: &ResourceGraphDefinition, ns: &str, name: &str) {
    let api = instances(client, g, ns);
    let _ = api.delete(name, &Default::default()).await;
    let start = Instant::now();
    while api.get_opt(name).await.ok().flatten().is_some()
        && start.elapsed() < Duration::from_secs(90)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn opts(ns: &str) -> KroOptions {
    KroOptions {
        namespace: ns.into(),
        timeout: Duration::from_secs(90),
        ..KroOptions::default()
    }
}

/// Removes RGD `name` and the CRD KRO made for it, from an earlier run.
async fn forget(client: &kube::Client, name: &str) {
    let rgds = api(
        client,
        "kro.run",
        "v1alpha1",
        "ResourceGraphDefinition",
        "resourcegraphdefinitions",
    );
    let _ = rgds.delete(name, &Default::default()).await;
    let crds = api(
        client,
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    let lp =
        ListParams::default().labels(&format!("kro.run/resource-graph-definition-name={name}"));
    for c in crds.list_metadata(&lp).await.unwrap().items {
        let _ = crds
            .delete(
                c.metadata.name.as_deref().unwrap_or(""),
                &Default::default(),
            )
            .await;
    }
    let start = Instant::now();
    while rgds.get_opt(name).await.unwrap().is_some() && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A namespace of the test's own.
async fn namespace(client: &kube::Client, test: &str) -> String {
    let ns = format!("e2e-main-{test}-{}", std::process::id());
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = nss
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await;
    ns
}

/// The CRD KRO main generates is the one `kroxide crd --kro-version main`
/// prints, shortNames and categories included (and listType markers), and
/// kubectl's aliases reach the instances.
#[tokio::test]
#[ignore = "needs KRO main: KROXIDE_E2E_KRO_MAIN_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn kro_main_generates_the_crd_kroxide_generates() {
    let client = client().await;
    let ns = namespace(&client, "crd").await;
    let mut g = rgd(&fixture("feature-rgd.yaml"), "e2e-main-feat", "E2eMainFeat");
    // Names of this test's own: a short name another CRD of the group holds
    // is refused (ShortNamesConflict) and the RGD never becomes Active.
    let pid = std::process::id();
    g.spec.schema.short_names = Some(vec![format!("e2emf{pid}"), format!("e2emfeat{pid}")]);
    let crd_name = kroxide::semantics::crd::InstanceNames::of(&g).crd_name();
    forget(&client, g.name()).await;
    let status = deploy(
        &client,
        &g,
        &json!({"metadata": {"name": "one"}, "spec": {"name": "one", "zeta": "z", "alpha": 1}}),
        &opts(&ns),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // The deepMerge in the ConfigMap's data, through the status.
    assert_eq!(
        status["merged"],
        json!({"a": "x", "b": "z", "n": "y"}),
        "{status}"
    );
    let crds = api(
        &client,
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    let live = crds.get(&crd_name).await.unwrap();
    let mut live = serde_json::to_value(live).unwrap();
    live.as_object_mut().unwrap().remove("status");
    let m = live["metadata"].as_object_mut().unwrap();
    for k in [
        "creationTimestamp",
        "generation",
        "labels",
        "resourceVersion",
        "uid",
        "managedFields",
    ] {
        m.remove(k);
    }
    assert_eq!(live, instance_crd(&g).unwrap());
    assert_eq!(
        live["spec"]["names"]["shortNames"],
        json!([format!("e2emf{pid}"), format!("e2emfeat{pid}")])
    );
    // The names are accepted (no conflict) and served.
    let names = crds.get(&crd_name).await.unwrap();
    let accepted = serde_json::to_value(names).unwrap()["status"]["acceptedNames"].clone();
    assert_eq!(accepted["categories"], json!(["kroxide", "all-things"]));
    delete_instance(&client, &g, &ns, "one").await;
    forget(&client, g.name()).await;
}

/// What KRO main's admission refuses in shortNames/categories, kroxide
/// refuses (and what it admits, kroxide accepts).
#[tokio::test]
#[ignore = "needs KRO main: KROXIDE_E2E_KRO_MAIN_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn kroxide_refuses_the_aliases_kro_main_refuses() {
    let client = client().await;
    let rgds = api(
        &client,
        "kro.run",
        "v1alpha1",
        "ResourceGraphDefinition",
        "resourcegraphdefinitions",
    );
    let long = format!("[{}]", "a".repeat(64));
    let many = format!(
        "[{}]",
        (0..33)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let cases = [
        ("shortNames", "[WA]"),
        ("shortNames", "[wa, wa]"),
        ("shortNames", long.as_str()),
        ("shortNames", "['1a']"),
        ("shortNames", "[a-]"),
        ("categories", "[Kro]"),
        ("categories", "[platform, platform]"),
        ("categories", many.as_str()),
        ("shortNames", "[wa, web-app]"),
        ("categories", "[all, platform]"),
    ];
    for (field, value) in cases {
        let yaml = format!("apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {{name: e2e-main-alias}}\nspec:\n  schema:\n    apiVersion: v1alpha1\n    kind: E2eMainAlias\n    {field}: {value}\n    spec: {{name: string}}\n  resources: []\n");
        let g = rgd(&yaml, "e2e-main-alias", "E2eMainAlias");
        let ours = validate(&g)
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error);
        let obj: DynamicObject = serde_json::from_value(serde_json::to_value(&g).unwrap()).unwrap();
        let theirs = rgds
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &obj,
            )
            .await;
        assert_eq!(
            ours,
            theirs.is_err(),
            "{field}: {value}: KRO main said {theirs:?}"
        );
    }
}

/// KRO main deletes an instance's children in the order kroxide computes
/// (the `internal.kro.run/apply-order` it stamps on each), which is also
/// the order kroxide's direct mode deletes in.
#[tokio::test]
#[ignore = "needs KRO main: KROXIDE_E2E_KRO_MAIN_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn kro_main_deletes_in_the_order_kroxide_computes() {
    let client = client().await;
    let ns = namespace(&client, "order").await;
    let g = rgd(&fixture("order-rgd.yaml"), "e2e-main-order", "E2eMainOrder");
    forget(&client, g.name()).await;
    deploy(
        &client,
        &g,
        &json!({"metadata": {"name": "o"}, "spec": {}}),
        &opts(&ns),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let want = validate(&g).graph.unwrap().deletion_orders().unwrap();
    let cms: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "ConfigMap"),
            "configmaps",
        ),
    );
    let lp = ListParams::default().labels("kro.run/instance-name=o");
    let mut got = std::collections::BTreeMap::new();
    for cm in cms.list(&lp).await.unwrap().items {
        let labels = cm.metadata.labels.clone().unwrap_or_default();
        let ann = cm.metadata.annotations.clone().unwrap_or_default();
        got.insert(
            labels["kro.run/node-id"].clone(),
            ann["internal.kro.run/apply-order"]
                .parse::<usize>()
                .unwrap(),
        );
    }
    assert_eq!(got, want);
    // Deleting the instance: each object goes no earlier than a higher
    // order's. A watch started before the delete sees the deletions in the
    // order etcd committed them (a poll could not order those that fall
    // between two of its lists).
    let listed = cms.list(&lp).await.unwrap();
    let from = listed.metadata.resource_version.clone().unwrap();
    let wp = WatchParams::default()
        .labels("kro.run/instance-name=o")
        .timeout(90);
    let mut events = cms.watch(&wp, &from).await.unwrap().boxed();
    let instances = instances(&client, &g, &ns);
    instances.delete("o", &Default::default()).await.unwrap();
    let mut gone_at: Vec<(String, usize)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while gone_at.len() < want.len() && Instant::now() < deadline {
        let gone = match tokio::time::timeout_at(deadline.into(), events.try_next()).await {
            Ok(Ok(Some(WatchEvent::Deleted(cm)))) => cm,
            Ok(Ok(Some(WatchEvent::Modified(cm)))) if cm.metadata.deletion_timestamp.is_some() => {
                cm
            }
            Ok(Ok(Some(_))) => continue,
            other => {
                panic!("the watch ended before every child was deleted ({gone_at:?}): {other:?}")
            }
        };
        let id = gone.metadata.labels.unwrap_or_default()["kro.run/node-id"].clone();
        if !gone_at.iter().any(|(g, _)| *g == id) {
            let order = want[&id];
            gone_at.push((id, order));
        }
    }
    assert_eq!(gone_at.len(), want.len(), "deleted only {gone_at:?}");
    let orders: Vec<usize> = gone_at.iter().map(|(_, o)| *o).collect();
    let mut sorted = orders.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(orders, sorted, "deleted as {gone_at:?}");
    delete_instance(&client, &g, &ns, "o").await;
    forget(&client, g.name()).await;
}

/// KRO main writes a uint result that fits as an int (v0.9.3 fails on it);
/// kroxide's plan for KRO main gives the same status.
#[tokio::test]
#[ignore = "needs KRO main: KROXIDE_E2E_KRO_MAIN_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn kro_main_writes_uints_as_kroxide_plans_them() {
    let client = client().await;
    let ns = namespace(&client, "uint").await;
    let yaml = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: x}
spec:
  schema:
    apiVersion: v1alpha1
    kind: X
    spec:
      name: string | default=u
    status:
      u: "${schema.spec.name == schema.spec.name ? (uint(7)) : (uint(7))}"
      inList: "${schema.spec.name == schema.spec.name ? [1u, 2u] : [1u]}"
  resources:
  - id: cm
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.name}-u"}
"#;
    let g = rgd(yaml, "e2e-main-uint", "E2eMainUint");
    forget(&client, g.name()).await;
    let instance = json!({"metadata": {"name": "u"}, "spec": {}});
    let status = deploy(&client, &g, &instance, &opts(&ns))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let instances = instances(&client, &g, &ns);
    // What KRO main wrote, not what kroxide computed.
    let live = serde_json::to_value(instances.get("u").await.unwrap()).unwrap();
    assert_eq!(live["status"]["u"], 7, "{live}");
    assert_eq!(live["status"]["inList"], json!([1, 2]), "{live}");
    let planned = kroxide::semantics::plan::plan(&g, &instance, &Default::default()).unwrap();
    assert_eq!(planned.status["u"], live["status"]["u"]);
    assert_eq!(planned.status["inList"], live["status"]["inList"]);
    assert_eq!(status["u"], 7, "{status}");
    delete_instance(&client, &g, &ns, "u").await;
    forget(&client, g.name()).await;
}
