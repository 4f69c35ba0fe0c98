//! forEach and externalRef in the typed DSL (issue 17 item 1): the graph
//! they build is the one an RGD file would give, valid for the offline
//! validator, and plans to one object per element reading the external
//! object.

#[path = "../../../examples/fleet.rs"]
#[allow(dead_code)]
mod fleet;
mod real;

use kroxide::prelude::*;
use real::{kroxide as run_kroxide, printed, Real};
use serde_json::{json, Value};

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Spec {
    services: Vec<String>,
    image: String,
}

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Status {
    deployments: i64,
    first: String,
}

fn graph() -> ResourceGraph<Spec, Status> {
    graph_named("fleet", "Fleet")
}

/// The graph, under an RGD name and kind of the caller's.
fn graph_named(name: &str, kind: &str) -> ResourceGraph<Spec, Status> {
    ResourceGraph::<Spec, Status>::new(name, "v1alpha1", kind).build(|g, spec| {
        let shared = g.external::<ConfigMap>("platform", "platform-settings", None);
        let configs = g.for_each("configs", "svc", &spec.services, |svc| {
            ConfigMap::new(template!("{}-config", svc))
                .data("service", svc)
                .data("region", shared.field::<String>("data.region"))
        });
        let webs = g.for_each("webs", "svc", &spec.services, |svc| {
            Deployment::new(svc, &spec.image)
        });
        g.ready_when_each(&webs, |each| {
            each.status().ready_replicas().eq(each.spec().replicas())
        });
        StatusExpr {
            deployments: webs.size(),
            first: configs.item(0).name(),
        }
    })
}

#[test]
fn a_collection_and_an_external_reference_render_as_kro_writes_them() {
    let rgd = graph().to_rgd().unwrap_or_else(|e| panic!("{e}"));
    let v = serde_json::to_value(&rgd).unwrap();
    let resources = &v["spec"]["resources"];
    assert_eq!(
        resources[0],
        json!({"id": "platform", "externalRef": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "platform-settings"}}})
    );
    assert_eq!(resources[1]["id"], "configs");
    assert_eq!(
        resources[1]["forEach"],
        json!([{"svc": "${schema.spec.services}"}])
    );
    assert_eq!(
        resources[1]["template"]["metadata"]["name"],
        "${svc}-config"
    );
    assert_eq!(
        resources[1]["template"]["data"]["region"],
        "${platform.data.region}"
    );
    assert_eq!(
        resources[2]["readyWhen"],
        json!(["${each.status.readyReplicas == each.spec.replicas}"])
    );
    assert_eq!(
        v["spec"]["schema"]["status"]["deployments"],
        "${size(webs)}"
    );
    assert_eq!(
        v["spec"]["schema"]["status"]["first"],
        "${configs[0].metadata.name}"
    );
    // What an RGD file with the same content gives: the same graph.
    let yaml = kroxide::model::to_yaml(&rgd).unwrap();
    let parsed = kroxide::model::load_str("fleet.yaml", &yaml)
        .unwrap()
        .remove(0)
        .rgd;
    assert_eq!(parsed, rgd);
}

#[test]
fn it_plans_one_object_per_element_reading_the_external_object() {
    let rgd = graph().to_rgd().unwrap();
    let instance = json!({"metadata": {"name": "f"}, "spec": {"services": ["a", "b", "c"], "image": "nginx:1.27"}});
    let mut observed = kroxide::semantics::plan::Observed::default();
    observed.replace(
        "platform",
        vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "platform-settings", "namespace": "default"},
            "data": {"region": "eu-west"}})],
    );
    let p = kroxide::semantics::plan::plan(
        &rgd,
        &instance,
        &kroxide::semantics::plan::PlanOptions {
            observed,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let configs = &p.resource("configs").unwrap().objects;
    let names: Vec<&str> = configs
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a-config", "b-config", "c-config"]);
    assert!(
        configs.iter().all(|o| o["data"]["region"] == "eu-west"),
        "{configs:?}"
    );
    assert_eq!(p.resource("webs").unwrap().objects.len(), 3);
    assert_eq!(p.status["first"], "a-config");
}

#[test]
fn a_bad_iterator_name_is_a_build_error() {
    let g = ResourceGraph::<Spec, Status>::new("bad", "v1alpha1", "Bad").build(|g, spec| {
        let c = g.for_each("configs", "my-svc", &spec.services, ConfigMap::new);
        StatusExpr {
            deployments: c.size(),
            first: c.item(0).name(),
        }
    });
    let e = g.to_rgd().unwrap_err().to_string();
    assert!(e.contains("`my-svc` cannot name its element"), "{e}");
}

/// On the real cluster, in both modes: the graph a Rust user wrote with a
/// collection and an external reference deploys (direct, then through the
/// real KRO), one Deployment per element, the external ConfigMap's value in
/// every config, the typed status filled.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn a_collection_reading_an_external_object_deploys_in_both_modes() {
    let r = Real::new("fleet", &["kro"]).await;
    let dir = real::workdir("fleet");
    let file = dir.join("fleet.yaml");
    // Cluster-wide names of its own: parallel runs and reruns do not meet.
    let kind = format!("Fleet{}", std::process::id());
    let g = graph_named(&format!("fleet-{}", std::process::id()), &kind);
    std::fs::write(&file, g.to_rgd_yaml().unwrap()).unwrap();
    let inst = dir.join("f.yaml");
    std::fs::write(
        &inst,
        "metadata: {name: f}\nspec: {services: [a, b, c], image: \"nginx:1.27\"}\n",
    )
    .unwrap();
    for (ns, mode) in [(r.ns.clone(), "direct"), (r.extra(0).to_string(), "kro")] {
        // The external object, made by someone else.
        let out = std::process::Command::new("kubectl")
            .args([
                "--kubeconfig",
                &r.kubeconfig.display().to_string(),
                "create",
                "namespace",
                &ns,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("AlreadyExists")
        );
        let out = std::process::Command::new("kubectl")
            .args([
                "--kubeconfig",
                &r.kubeconfig.display().to_string(),
                "-n",
                &ns,
                "create",
                "configmap",
                "platform-settings",
                "--from-literal=region=eu-west",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut args: Vec<String> = [
            "deploy",
            &file.display().to_string(),
            "-i",
            &inst.display().to_string(),
            "-n",
            &ns,
            "--mode",
            mode,
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(r.cli_args());
        let out = run_kroxide(args).await;
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", printed(&out));
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(status["deployments"], 3, "{mode}: {status}");
        assert_eq!(status["first"], "a-config", "{mode}: {status}");
        let cms: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
            r.client.clone(),
            &ns,
            &kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
        );
        for svc in ["a", "b", "c"] {
            let cm = cms.get(&format!("{svc}-config")).await.unwrap();
            assert_eq!(cm.data["data"]["region"], "eu-west", "{mode}");
        }
    }
    let file = file.display().to_string();
    let out = run_kroxide(r.command(&[
        "delete",
        &file,
        "--name",
        "f",
        "-n",
        r.extra(0),
        "--mode",
        "kro",
        "--delete-definition",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    r.cleanup().await;
}

/// The fleet example (examples/fleet.rs): valid, and its dev instance plans
/// as the example's README lines say, with the observed external object.
#[test]
fn the_fleet_example_validates_and_plans() {
    let rgd = fleet::fleet_app()
        .to_rgd()
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet");
    let read = |f: &str| -> Value {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).unwrap();
        kroxide::model::load_documents(&path.display().to_string(), &text)
            .unwrap()
            .remove(0)
            .0
    };
    let (instance, observed_doc) = (read("dev.yaml"), read("observed.yaml"));
    let mut observed = kroxide::semantics::plan::Observed::default();
    observed.replace("platform", vec![observed_doc["platform"].clone()]);
    let p = kroxide::semantics::plan::plan(
        &rgd,
        &instance,
        &kroxide::semantics::plan::PlanOptions {
            observed,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let regions: Vec<&Value> = p
        .resource("configs")
        .unwrap()
        .objects
        .iter()
        .map(|o| &o["data"]["region"])
        .collect();
    assert_eq!(regions, [&json!("eu-west"); 3]);
    assert_eq!(p.status["deployments"], 3);
    assert_eq!(p.status["firstConfig"], "users-config");
}
