//! Direct-engine scenarios that need nothing but a cluster: CI runs them
//! against the in-process test API server (deploy_direct.rs), and the e2e
//! suite (e2e.rs) runs the same functions against a real cluster named by
//! `KROXIDE_E2E_KUBECONFIG`. They observe the cluster only through the kube
//! client, never through the test server's internals.

#![allow(dead_code)]

#[path = "../../../../examples/microservices.rs"]
pub mod microservices;

use kroxide::engine::{DeployError, DeployOptions, DirectEngine, ResourceState, GRAPH_LABEL};
use kroxide::model::{load_documents, load_file, ResourceGraphDefinition};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A cluster and the namespace a scenario may use (it may not exist yet).
pub struct Cluster {
    pub client: kube::Client,
    pub namespace: String,
    /// How long a resource may take to become ready there.
    pub timeout: Duration,
    /// An image to run instead of the example's (which exist only as names):
    /// on a real cluster it must answer `/health` and `/ready` on port 3000.
    pub image: Option<String>,
}

impl Cluster {
    pub fn engine(&self) -> DirectEngine {
        DirectEngine::new(self.client.clone())
    }

    pub fn opts(&self) -> DeployOptions {
        DeployOptions {
            namespace: self.namespace.clone(),
            resource_timeout: self.timeout,
            create_namespace: true,
            ..DeployOptions::default()
        }
    }

    fn api(&self, api_version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let ar = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        Api::namespaced_with(self.client.clone(), &self.namespace, &ar)
    }

    pub fn configmaps(&self) -> Api<DynamicObject> {
        self.api("v1", "ConfigMap", "configmaps")
    }

    /// resourceVersion of every object labelled with `graph`, by kind/name.
    pub async fn versions(&self, graph: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (av, kind, plural) in [
            ("v1", "ConfigMap", "configmaps"),
            ("v1", "Secret", "secrets"),
            ("v1", "Service", "services"),
            ("apps/v1", "Deployment", "deployments"),
            ("networking.k8s.io/v1", "Ingress", "ingresses"),
        ] {
            let lp = ListParams::default().labels(&format!("{GRAPH_LABEL}={graph}"));
            let items = self.api(av, kind, plural).list(&lp).await.unwrap().items;
            // The inventory is kroxide's bookkeeping, not part of the application.
            for o in items.into_iter().filter(|o| {
                !o.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(kroxide::engine::inventory::INVENTORY_LABEL))
            }) {
                out.insert(
                    format!("{kind}/{}", o.metadata.name.clone().unwrap_or_default()),
                    o.metadata.resource_version.clone().unwrap_or_default(),
                );
            }
        }
        out
    }
}

pub fn example(f: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/microservices")
        .join(f);
    load_documents(f, &std::fs::read_to_string(p).unwrap())
        .unwrap()
        .remove(0)
        .0
}

/// The example instance `f`, with the cluster's image override applied.
pub fn instance_for(c: &Cluster, f: &str) -> Value {
    let mut v = example(f);
    if let Some(image) = &c.image {
        replace_images(&mut v["spec"], image);
    }
    v
}

fn replace_images(v: &mut Value, image: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "image" {
                    *x = json!(image);
                } else {
                    replace_images(x, image);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_images(x, image)),
        _ => {}
    }
}

pub fn microservices_rgd() -> ResourceGraphDefinition {
    microservices::microservices_app().to_rgd().unwrap()
}

pub fn webapp_rgd() -> ResourceGraphDefinition {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rgds/webapp.yaml");
    load_file(p).unwrap().remove(0).rgd
}

fn inventory_name(c: &Cluster, graph: &str, instance: &str) -> (Api<DynamicObject>, String) {
    (
        c.api("v1", "Secret", "secrets"),
        kroxide::engine::inventory::secret_name(graph, instance),
    )
}

/// dev.yaml deploys, healthy; prod.yaml then scales and flips LOG_LEVEL; an
/// unchanged redeploy changes no object; `status` from another engine agrees.
pub async fn deploy_redeploy_scale_status(c: &Cluster) {
    let rgd = microservices_rgd();
    let dev = instance_for(c, "dev.yaml");
    let report = c.engine().deploy(&rgd, &dev, &c.opts()).await.unwrap();
    assert_eq!(report.status()["health"], "healthy", "{}", report.status());
    assert_eq!(report.live["appConfig"][0]["data"]["LOG_LEVEL"], "debug");
    assert_eq!(report.live.len(), 12);

    // Controllers may still be writing status; wait until versions settle.
    let mut before = c.versions(rgd.name()).await;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = c.versions(rgd.name()).await;
        if now == before {
            break;
        }
        before = now;
    }
    c.engine().deploy(&rgd, &dev, &c.opts()).await.unwrap();
    assert_eq!(
        before,
        c.versions(rgd.name()).await,
        "an unchanged redeploy changed an object"
    );

    // Another process computes the same status from the live objects.
    let name = dev["metadata"]["name"].as_str().unwrap();
    let status = c.engine().status(&rgd, name, &c.opts()).await.unwrap();
    assert_eq!(status.status["health"], "healthy", "{:?}", status);
    assert!(status.ready);
    assert!(status
        .resources
        .iter()
        .all(|r| r.state == ResourceState::Ready));

    let mut prod = instance_for(c, "prod.yaml");
    prod["metadata"]["name"] = dev["metadata"]["name"].clone();
    let third = c.engine().deploy(&rgd, &prod, &c.opts()).await.unwrap();
    assert_eq!(third.live["productDeployment"][0]["spec"]["replicas"], 5);
    assert_eq!(third.live["appConfig"][0]["data"]["LOG_LEVEL"], "info");
    assert_eq!(third.status()["health"], "healthy");
}

/// `delete` removes every object and the inventory; a second delete is a no-op.
pub async fn delete_removes_everything(c: &Cluster) {
    let rgd = microservices_rgd();
    let dev = instance_for(c, "dev.yaml");
    let name = dev["metadata"]["name"].as_str().unwrap();
    c.engine().deploy(&rgd, &dev, &c.opts()).await.unwrap();
    assert_eq!(c.versions(rgd.name()).await.len(), 12);
    let report = c
        .engine()
        .delete(rgd.name(), name, &c.opts())
        .await
        .unwrap();
    assert_eq!(report.deleted.len(), 12, "{report:?}");
    assert!(c.versions(rgd.name()).await.is_empty());
    let (secrets, inv) = inventory_name(c, rgd.name(), name);
    assert!(
        secrets.get_opt(&inv).await.unwrap().is_none(),
        "inventory left"
    );
    let again = c
        .engine()
        .delete(rgd.name(), name, &c.opts())
        .await
        .unwrap();
    assert!(!again.found && again.deleted.is_empty());
    let err = c.engine().status(&rgd, name, &c.opts()).await.unwrap_err();
    assert!(matches!(err, DeployError::NotDeployed { .. }), "{err}");
}

/// A resource whose includeWhen turns false is pruned by the next deploy.
pub async fn excluded_resource_is_pruned(c: &Cluster) {
    let rgd = webapp_rgd();
    let mut inst = json!({"apiVersion": "kro.run/v1alpha1", "kind": "WebApp", "metadata": {"name": "shop"}, "spec": {"name": "shop", "replicas": 1, "ingress": {"enabled": true}}});
    c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap();
    assert!(c.versions("webapp").await.contains_key("Ingress/shop"));
    inst["spec"]["ingress"]["enabled"] = json!(false);
    let report = c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap();
    assert_eq!(report.pruned.len(), 1, "{:?}", report.pruned);
    assert_eq!(report.pruned[0].kind, "Ingress");
    let left = c.versions("webapp").await;
    assert!(!left.contains_key("Ingress/shop"), "{left:?}");
    assert!(left.contains_key("Deployment/shop") && left.contains_key("Service/shop"));
    c.engine()
        .delete("webapp", "shop", &c.opts())
        .await
        .unwrap();
}

/// An object with the name the graph wants, not created by kroxide, stops the
/// deploy before any write and is never changed or deleted, unless adopted.
pub async fn foreign_objects_are_left_alone(c: &Cluster) {
    let rgd = microservices_rgd();
    let dev = instance_for(c, "dev.yaml");
    let name = dev["metadata"]["name"].as_str().unwrap();
    // The namespace must exist for the foreign object.
    c.engine()
        .deploy(
            &webapp_rgd(),
            &json!({"metadata": {"name": "ns-maker"}, "spec": {"name": "ns-maker", "replicas": 1}}),
            &c.opts(),
        )
        .await
        .unwrap();
    let foreign: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": c.namespace},
        "data": {"owner": "someone else"}
    }))
    .unwrap();
    c.configmaps()
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    let err = c.engine().deploy(&rgd, &dev, &c.opts()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DeployError::NotOwned { .. }), "{msg}");
    assert!(
        msg.contains("ConfigMap/app-config")
            && msg.contains("not created by kroxide")
            && msg.contains("--adopt"),
        "{msg}"
    );
    assert!(
        c.versions(rgd.name()).await.is_empty(),
        "something was applied"
    );
    let cm = c.configmaps().get("app-config").await.unwrap();
    assert_eq!(cm.data["data"], json!({"owner": "someone else"}));
    // Deleting the instance (nothing deployed) does not touch it either.
    c.engine()
        .delete(rgd.name(), name, &c.opts())
        .await
        .unwrap();
    assert!(c
        .configmaps()
        .get_opt("app-config")
        .await
        .unwrap()
        .is_some());
    // Adopted on request.
    let adopt = DeployOptions {
        adopt: true,
        ..c.opts()
    };
    c.engine().deploy(&rgd, &dev, &adopt).await.unwrap();
    let cm = c.configmaps().get("app-config").await.unwrap();
    assert_eq!(cm.data["data"]["LOG_LEVEL"], "debug");
    c.engine()
        .delete(rgd.name(), name, &c.opts())
        .await
        .unwrap();
    c.engine()
        .delete("webapp", "ns-maker", &c.opts())
        .await
        .unwrap();
}

/// Two deploys of the same instance at once: one fails with a clear lock
/// message or both finish one after the other; the inventory stays whole.
pub async fn concurrent_deploys_do_not_corrupt_the_inventory(c: &Cluster) {
    let rgd = microservices_rgd();
    let dev = instance_for(c, "dev.yaml");
    let name = dev["metadata"]["name"].as_str().unwrap();
    // The namespace first, so both runs race on the inventory, not on it.
    c.engine().deploy(&rgd, &dev, &c.opts()).await.unwrap();
    let (a, b) = (c.engine(), c.engine());
    let o = c.opts();
    let (ra, rb) = tokio::join!(a.deploy(&rgd, &dev, &o), b.deploy(&rgd, &dev, &o));
    let results = [ra, rb];
    assert!(results.iter().any(|r| r.is_ok()), "neither deploy finished");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, DeployError::Locked { .. }), "{e}");
            assert!(e.to_string().contains("is being changed by"), "{e}");
        }
    }
    let status = c.engine().status(&rgd, name, &c.opts()).await.unwrap();
    assert_eq!(status.resources.len(), 12);
    assert!(status.ready);
    let invs = c.engine().instances(rgd.name(), &c.opts()).await.unwrap();
    assert_eq!(invs.len(), 1);
    assert!(invs[0].lock.is_none(), "lock left behind");
    assert_eq!(invs[0].objects.len(), 12);
    c.engine()
        .delete(rgd.name(), name, &c.opts())
        .await
        .unwrap();
}

/// Whether `o` still carries any of kroxide's ownership labels.
fn has_kroxide_labels(o: &DynamicObject) -> bool {
    o.metadata.labels.as_ref().is_some_and(|l| {
        kroxide::engine::OWNERSHIP_LABELS
            .iter()
            .any(|k| l.contains_key(*k))
    })
}

/// `delete --orphan` (`DirectEngine::orphan`) keeps every object but removes
/// kroxide's labels (nothing else: the spec kroxide applied stays) and the
/// inventory; a redeploy then refuses the objects unless `adopt`, which
/// takes them back.
pub async fn orphan_keeps_objects_without_ownership(c: &Cluster) {
    let rgd = webapp_rgd();
    let inst = json!({"apiVersion": "kro.run/v1alpha1", "kind": "WebApp", "metadata": {"name": "shop"}, "spec": {"name": "shop", "replicas": 1}});
    c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap();
    let deployments = c.api("apps/v1", "Deployment", "deployments");
    let services = c.api("v1", "Service", "services");
    let report = c
        .engine()
        .orphan("webapp", "shop", &c.opts())
        .await
        .unwrap();
    assert!(report.found);
    assert!(report.deleted.is_empty(), "{report:?}");
    let mut orphaned: Vec<String> = report
        .orphaned
        .iter()
        .map(|o| format!("{}/{}", o.kind, o.name))
        .collect();
    orphaned.sort();
    assert_eq!(orphaned, ["Deployment/shop", "Service/shop"], "{report:?}");
    let d = deployments.get("shop").await.unwrap();
    let s = services.get("shop").await.unwrap();
    assert!(!has_kroxide_labels(&d), "{:?}", d.metadata.labels);
    assert!(!has_kroxide_labels(&s), "{:?}", s.metadata.labels);
    // Only the labels went: what kroxide applied is still there.
    assert_eq!(d.data["spec"]["replicas"], 1);
    assert_eq!(
        d.data["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let (secrets, inv) = inventory_name(c, "webapp", "shop");
    assert!(
        secrets.get_opt(&inv).await.unwrap().is_none(),
        "inventory left"
    );
    let err = c
        .engine()
        .status(&rgd, "shop", &c.opts())
        .await
        .unwrap_err();
    assert!(matches!(err, DeployError::NotDeployed { .. }), "{err}");
    // Nothing left to orphan or delete.
    let again = c
        .engine()
        .orphan("webapp", "shop", &c.opts())
        .await
        .unwrap();
    assert!(!again.found && again.orphaned.is_empty());

    // A redeploy refuses them (nothing applied), `adopt` takes them back.
    let err = c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DeployError::NotOwned { .. }), "{msg}");
    assert!(
        msg.contains("Deployment/shop") && msg.contains("orphaned") && msg.contains("--adopt"),
        "{msg}"
    );
    assert!(!has_kroxide_labels(&deployments.get("shop").await.unwrap()));
    let adopt = DeployOptions {
        adopt: true,
        ..c.opts()
    };
    c.engine().deploy(&rgd, &inst, &adopt).await.unwrap();
    let d = deployments.get("shop").await.unwrap();
    assert_eq!(
        d.metadata.labels.as_ref().unwrap()[GRAPH_LABEL],
        "webapp",
        "{:?}",
        d.metadata.labels
    );
    let report = c
        .engine()
        .delete("webapp", "shop", &c.opts())
        .await
        .unwrap();
    assert_eq!(report.deleted.len(), 2, "{report:?}");
    assert!(deployments.get_opt("shop").await.unwrap().is_none());
}

/// A graph of three ConfigMaps: `data` retained (`kroxide.dev/delete-policy:
/// retain`), `extra` retained the Helm way and only with `spec.extra`, and
/// `plain`.
pub fn keepers_rgd() -> ResourceGraphDefinition {
    kroxide::model::load_str("keepers.yaml", KEEPERS_YAML)
        .unwrap()
        .remove(0)
        .rgd
}

/// The RGD of [`keepers_rgd`].
pub const KEEPERS_YAML: &str = r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: keepers
spec:
  schema:
    apiVersion: v1alpha1
    kind: Keepers
    spec:
      name: string | default="k"
      extra: boolean | default=true
  resources:
    - id: data
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.spec.name}-data
          annotations:
            kroxide.dev/delete-policy: retain
        data:
          a: "1"
    - id: extra
      includeWhen:
        - ${schema.spec.extra}
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.spec.name}-extra
          annotations:
            helm.sh/resource-policy: keep
        data:
          b: "2"
    - id: plain
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.spec.name}-plain
        data:
          c: "3"
"#;

/// A retained object is orphaned, not deleted: by a prune (its resource
/// excluded by includeWhen) and by `delete`; the others go as before.
pub async fn retained_objects_survive_delete_and_prune(c: &Cluster) {
    let rgd = keepers_rgd();
    assert_eq!(kroxide::engine::retained_resources(&rgd), ["data", "extra"]);
    let mut inst = json!({"metadata": {"name": "k"}, "spec": {"name": "k"}});
    c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap();
    let cms = c.configmaps();
    for n in ["k-data", "k-extra", "k-plain"] {
        assert!(has_kroxide_labels(&cms.get(n).await.unwrap()), "{n}");
    }

    // Excluded: `extra` would be pruned, and is kept.
    inst["spec"]["extra"] = json!(false);
    let (diffs, _) = c.engine().diff(&rgd, &inst, &c.opts()).await.unwrap();
    let extra = diffs
        .iter()
        .find(|d| d.name == "k-extra")
        .expect("k-extra in the diff");
    assert!(extra.retained, "{:?}", extra.desired);
    let text = kroxide::engine::render_diff(&diffs, false);
    assert!(text.contains("kept (delete-policy: retain)"), "{text}");
    let report = c.engine().deploy(&rgd, &inst, &c.opts()).await.unwrap();
    assert!(report.pruned.is_empty(), "{:?}", report.pruned);
    assert_eq!(report.retained.len(), 1, "{:?}", report.retained);
    assert_eq!(report.retained[0].name, "k-extra");
    let kept = cms.get("k-extra").await.unwrap();
    assert!(!has_kroxide_labels(&kept), "{:?}", kept.metadata.labels);
    assert_eq!(kept.data["data"]["b"], "2");
    // No longer this instance's: not in its inventory, and left alone from now on.
    let invs = c.engine().instances("keepers", &c.opts()).await.unwrap();
    assert_eq!(invs[0].objects.len(), 2, "{:?}", invs[0].objects);

    let report = c.engine().delete("keepers", "k", &c.opts()).await.unwrap();
    let names =
        |v: &[kroxide::engine::ObjectRef]| v.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&report.deleted), ["k-plain"], "{report:?}");
    assert_eq!(names(&report.retained), ["k-data"], "{report:?}");
    assert!(report.orphaned.is_empty());
    assert!(cms.get_opt("k-plain").await.unwrap().is_none());
    let kept = cms.get("k-data").await.unwrap();
    assert!(!has_kroxide_labels(&kept), "{:?}", kept.metadata.labels);
    assert_eq!(kept.data["data"]["a"], "1");
    let (secrets, inv) = inventory_name(c, "keepers", "k");
    assert!(
        secrets.get_opt(&inv).await.unwrap().is_none(),
        "inventory left"
    );
    for n in ["k-data", "k-extra"] {
        cms.delete(n, &Default::default()).await.unwrap();
    }
}
