//! Existing YAML manifests in the typed DSL (issue 17 item 1, TypeKro's
//! `yamlFile`): the example graph plans with its overrides, bad manifests
//! are refused naming file, line and field, and the example deploys in
//! both modes on a real cluster.

#[path = "../../../examples/manifests.rs"]
#[allow(dead_code)]
mod manifests;
mod real;

use kroxide::dsl::manifests::{ManifestError, Manifests};
use kroxide::prelude::*;
use kroxide::semantics::plan::{plan, PlanOptions};
use real::{kroxide as run_kroxide, printed, Real};
use serde_json::Value;

fn example_instance() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/manifests/dev.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    kroxide::model::load_documents("dev.yaml", &text)
        .unwrap()
        .remove(0)
        .0
}

#[test]
fn the_manifests_example_plans_with_the_spec_overrides() {
    let rgd = manifests::cache_app()
        .to_rgd()
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = rgd.spec.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["redisConfig", "redisDeployment", "redisService"]);
    let opts = PlanOptions {
        assume_ready: true,
        ..Default::default()
    };
    let p = plan(&rgd, &example_instance(), &opts).unwrap_or_else(|e| panic!("{e}"));
    let deployment = &p.resource("redisDeployment").unwrap().objects[0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    // What the overrides left alone is the manifest's own.
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "redis:7.4"
    );
    let config = &p.resource("redisConfig").unwrap().objects[0];
    assert_eq!(
        config["data"]["redis.conf"],
        "maxmemory 128mb\nmaxmemory-policy allkeys-lru\n"
    );
    assert_eq!(p.status["readyReplicas"], 2);
    assert_eq!(p.status["endpoint"], "redis:6379");
}

#[test]
fn bad_manifests_are_refused_with_file_line_and_field() {
    let placeholder = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n  url: \"https://${HOST}/\"\n";
    let e = Manifests::from_str("app.yaml", placeholder).err().unwrap();
    assert!(
        matches!(e, ManifestError::Document { document: 2, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("app.yaml:5: document 2: ConfigMap b: data.url holds `${`"),
        "{msg}"
    );
    let nameless = "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n";
    let msg = Manifests::from_str("x.yaml", nameless)
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("x.yaml:1: document 1: a manifest needs apiVersion, kind and metadata.name"),
        "{msg}"
    );
    let broken = "apiVersion: v1\nkind: [\n";
    let msg = Manifests::from_str("y.yaml", broken)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("y.yaml"), "{msg}");
    let missing = std::path::Path::new("/nonexistent/redis.yaml");
    let msg = Manifests::from_file(missing).err().unwrap().to_string();
    assert!(
        msg.starts_with("/nonexistent/redis.yaml: cannot read"),
        "{msg}"
    );

    // A List stands for its items; an override of an object that is not
    // there is a build error naming what there is.
    let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}\n- {apiVersion: v1, kind: Secret, metadata: {name: two}}\n";
    let m = Manifests::from_str("list.yaml", list).unwrap();
    assert_eq!(
        m.names().collect::<Vec<_>>(),
        [("ConfigMap", "one"), ("Secret", "two")]
    );
    #[derive(Schema, Serialize, Deserialize, Clone)]
    struct S {
        n: String,
    }
    #[derive(Schema, Serialize, Deserialize, Clone)]
    struct St {
        n: String,
    }
    let g = ResourceGraph::<S, St>::new("l", "v1alpha1", "L").build(|g, spec| {
        let m = Manifests::from_str("list.yaml", list)
            .unwrap()
            .with("ConfigMap", "uno", |o| o.set("data.n", &spec.n));
        g.add_manifests(m);
        StExpr { n: spec.n.clone() }
    });
    let e = g.to_rgd().expect_err("a build error");
    assert!(
        e.to_string().contains(
            "the manifests have no ConfigMap named `uno` (they have ConfigMap/one, Secret/two)"
        ),
        "{e}"
    );
}

#[test]
fn a_directory_gives_its_files_in_name_order() {
    let dir = std::env::temp_dir().join(format!("kroxide-manifests-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("a.yml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not yaml").unwrap();
    let m = Manifests::from_dir(&dir).unwrap();
    assert_eq!(
        m.names().collect::<Vec<_>>(),
        [("ConfigMap", "first"), ("ConfigMap", "second")]
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let msg = Manifests::from_dir(&empty).err().unwrap().to_string();
    assert!(msg.ends_with("empty: no *.yaml or *.yml file"), "{msg}");
}

/// The example, rendered to an RGD of its own name, deploys directly and
/// through KRO on the real cluster: the Deployment runs the manifest's
/// image with the replicas of the spec, and the status reads it.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn the_manifests_example_deploys_in_both_modes() {
    let r = Real::new("manifests", &["kro"]).await;
    let dir = real::workdir("manifests");
    let mut rgd = manifests::cache_app().to_rgd().unwrap();
    rgd.metadata.name = Some(format!("cache-{}", std::process::id()));
    rgd.spec.schema.kind = format!("Cache{}", std::process::id());
    let file = dir.join("cache.yaml");
    std::fs::write(&file, kroxide::model::to_yaml(&rgd).unwrap()).unwrap();
    let inst = dir.join("dev.yaml");
    std::fs::write(
        &inst,
        "metadata: {name: cache}\nspec: {replicas: 2, maxMemory: 32mb}\n",
    )
    .unwrap();
    for (ns, mode) in [(r.ns.clone(), "direct"), (r.extra(0).to_string(), "kro")] {
        let mut args: Vec<String> = [
            "deploy",
            &file.display().to_string(),
            "-i",
            &inst.display().to_string(),
            "-n",
            &ns,
            "--create-namespace",
            "--mode",
            mode,
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if mode == "kro" {
            args.retain(|a| a != "--create-namespace");
        }
        args.extend(r.cli_args());
        let out = run_kroxide(args).await;
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", printed(&out));
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(status["readyReplicas"], 2, "{mode}: {status}");
        assert_eq!(status["endpoint"], "redis:6379", "{mode}: {status}");
        let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
            kube::Api::namespaced(r.client.clone(), &ns);
        let d = deployments.get("redis").await.unwrap();
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2), "{mode}");
        let image = d.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .clone();
        assert_eq!(image.as_deref(), Some("redis:7.4"), "{mode}");
        let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(r.client.clone(), &ns);
        let cm = cms.get("redis-config").await.unwrap();
        assert_eq!(
            cm.data.unwrap()["redis.conf"],
            "maxmemory 32mb\nmaxmemory-policy allkeys-lru\n"
        );
    }
    let file = file.display().to_string();
    let out = run_kroxide(r.command(&[
        "delete",
        &file,
        "--name",
        "cache",
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
