//! Targeting KRO main (`--kro-version main`, `KROXIDE_KRO_VERSION`, the
//! DSL's `kro_version`): its schema shortNames/categories, `deepMerge()`,
//! and the listType/listMapKey markers from the typed DSL. The default stays
//! KRO v0.9.3. (Against a real KRO main: `e2e_kro_main.rs`.)

use kroxide::prelude::*;
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    format!(
        "{}/../kroxide-semantics/tests/kro_main/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn kroxide(args: &[&str], env: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kroxide"));
    c.args(args).env("NO_COLOR", "1");
    match env {
        Some(v) => c.env("KROXIDE_KRO_VERSION", v),
        None => c.env_remove("KROXIDE_KRO_VERSION"),
    };
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn validate_targets_v0_9_3_unless_told_main() {
    let f = fixture("feature-rgd.yaml");
    let out = kroxide(&["validate", &f], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("spec.schema.shortNames needs KRO main"), "{t}");
    assert!(t.contains("unsupported CEL function deepMerge"), "{t}");
    assert!(t.contains("--kro-version main"), "{t}");
    for (args, env) in [
        (vec!["validate", "--kro-version", "main", &f], None),
        (vec!["--kro-version", "main", "validate", &f], None),
        (vec!["validate", &f], Some("main")),
    ] {
        let out = kroxide(&args, env);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    // The option wins over the environment.
    let out = kroxide(&["validate", "--kro-version", "v0.9.3", &f], Some("main"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn an_unknown_kro_version_is_a_usage_error() {
    let f = fixture("feature-rgd.yaml");
    let out = kroxide(&["validate", "--kro-version", "v0.10", &f], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("kroxide knows v0.9.3"),
        "{}",
        text(&out)
    );
    let out = kroxide(&["validate", &f], Some("latest"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("KROXIDE_KRO_VERSION"), "{}", text(&out));
}

#[test]
fn crd_prints_what_kro_main_created() {
    let out = kroxide(
        &[
            "crd",
            "--kro-version",
            "main",
            "-o",
            "json",
            &fixture("feature-rgd.yaml"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = std::fs::read_to_string(fixture("feature-crd.yaml")).unwrap();
    let theirs = kroxide::model::load_documents("feature-crd.yaml", &text)
        .unwrap()
        .remove(0)
        .0;
    assert_eq!(ours, theirs);
    // For v0.9.3, no aliases (its ResourceGraphDefinition has no such fields).
    let out = kroxide(&["crd", "-o", "json", &fixture("feature-rgd.yaml")], None);
    let v093: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v093["spec"]["names"].get("shortNames").is_none());
}

#[test]
fn plan_runs_deep_merge_for_kro_main() {
    let dir = std::env::temp_dir().join(format!("kroxide-kro-main-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inst = dir.join("i.yaml");
    std::fs::write(&inst, "spec: {name: one, zeta: z, alpha: 1}\n").unwrap();
    let f = fixture("feature-rgd.yaml");
    let args = [
        "plan",
        &f,
        "--instance",
        inst.to_str().unwrap(),
        "-o",
        "json",
    ];
    assert_eq!(kroxide(&args, None).status.code(), Some(1));
    let out = kroxide(&args, Some("main"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        plan["resources"][0]["objects"][0]["data"],
        serde_json::json!({"a": "x", "b": "z", "n": "y"})
    );
}

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub name: String,
    pub port: i32,
}

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct MeshSpec {
    pub name: String,
    /// Each host once.
    #[schema(list_type = "set")]
    pub hosts: Vec<String>,
    /// Merged by name under server-side apply.
    #[schema(list_type = "map", list_map_key = "name")]
    pub ports: Vec<Port>,
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct MeshStatus {
    pub name: String,
}

fn mesh(v: KroVersion) -> kroxide::dsl::ResourceGraph<MeshSpec, MeshStatus> {
    ResourceGraph::<MeshSpec, MeshStatus>::new("mesh", "v1alpha1", "Mesh")
        .kro_version(v)
        .short_names(["msh"])
        .categories(["networking"])
        .build(|g, spec| {
            g.add(Object::new("v1", "ConfigMap", "mesh-labels").set(
                "data",
                cel::<serde_json::Value>("schema.spec.labels.deepMerge({'part-of': 'mesh'})"),
            ));
            MeshStatusExpr {
                name: spec.name.clone(),
            }
        })
}

#[test]
fn the_dsl_sets_aliases_and_list_markers_for_kro_main() {
    let graph = mesh(KroVersion::Main);
    let yaml = graph.to_rgd_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("shortNames:\n      - msh"), "{yaml}");
    assert!(yaml.contains(r#"listType=\"set\""#), "{yaml}");
    assert!(
        yaml.contains(r#"listType=\"map\" listMapKey=\"name\""#),
        "{yaml}"
    );
    let rgd = graph.to_rgd().unwrap();
    let crd = kroxide::semantics::crd::instance_crd(&rgd).unwrap();
    assert_eq!(
        crd["spec"]["names"]["shortNames"],
        serde_json::json!(["msh"])
    );
    assert_eq!(
        crd["spec"]["names"]["categories"],
        serde_json::json!(["networking"])
    );
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    assert_eq!(spec["hosts"]["x-kubernetes-list-type"], "set");
    assert_eq!(spec["ports"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        spec["ports"]["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    // The rendered graph read back gives the same CRD.
    let mut again = kroxide::model::load_str("mesh.yaml", &yaml)
        .unwrap()
        .remove(0)
        .rgd;
    again.kro_version = KroVersion::Main;
    assert_eq!(kroxide::semantics::crd::instance_crd(&again).unwrap(), crd);
}

#[test]
fn the_dsl_refuses_main_only_features_for_v0_9_3() {
    let err = mesh(KroVersion::V0_9_3).to_rgd().unwrap_err().to_string();
    assert!(err.contains("shortNames needs KRO main"), "{err}");
    assert!(err.contains("categories needs KRO main"), "{err}");
    assert!(err.contains("deepMerge"), "{err}");
}

/// Direct mode deletes an instance in KRO main's order (what
/// `e2e_kro_main.rs` saw KRO main do): `top`, `side` and `lone` first (none
/// is read by anything), then `mid`, then `base`; not the apply waves
/// reversed (which would delete `lone` last, with `base`).
#[tokio::test]
async fn direct_mode_deletes_in_kro_mains_order() {
    use kroxide::engine::{DeployOptions, DirectEngine};
    let server = kroxide_testserver::TestServer::start().await.unwrap();
    let engine = DirectEngine::new(server.client().unwrap());
    let text = std::fs::read_to_string(fixture("order-rgd.yaml")).unwrap();
    let rgd = kroxide::model::load_str("order.yaml", &text)
        .unwrap()
        .remove(0)
        .rgd;
    let opts = DeployOptions {
        namespace: "dev".into(),
        resource_timeout: std::time::Duration::from_secs(10),
        request_timeout: std::time::Duration::from_secs(2),
        create_namespace: true,
        ..DeployOptions::default()
    };
    let instance = serde_json::json!({"apiVersion": "kro.run/v1alpha1", "kind": "OrderTest", "metadata": {"name": "o"}, "spec": {}});
    engine
        .deploy(&rgd, &instance, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let report = engine
        .delete(rgd.name(), "o", &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = report.deleted.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    let mut first: Vec<&str> = ids[..3].to_vec();
    first.sort();
    assert_eq!(first, ["lone", "side", "top"], "{ids:?}");
    assert_eq!(&ids[3..], ["mid", "base"], "{ids:?}");
}
