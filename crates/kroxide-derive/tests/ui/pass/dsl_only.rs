// Only kroxide-dsl (and serde) in scope: the derive comes from kroxide_dsl,
// and the generated code names kroxide_dsl, not kroxide.
use kroxide_dsl::{template, ConfigMap, Deployment, ResourceGraph, Schema};
use serde::{Deserialize, Serialize};

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AppSpec {
    pub app_name: String,
    #[serde(default = "one")]
    pub replicas: i32,
    pub mode: Mode,
    #[serde(flatten)]
    pub image: Image,
}

fn one() -> i32 {
    1
}

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub image_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
}

#[derive(Schema, Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    ReadOnly,
    ReadWrite,
}

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub endpoint: String,
}

fn main() {
    let g = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
        let cfg = g.add(ConfigMap::new("cfg").data("mode", spec.mode.as_str()));
        let web = g.add(
            Deployment::new(&spec.app_name, &spec.image.image_name)
                .replicas(&spec.replicas)
                .env_from(&cfg),
        );
        AppStatusExpr {
            endpoint: template!("{}", web.name()),
        }
    });
    let rgd = g.to_rgd().unwrap();
    let s = serde_json::to_value(&rgd.spec.schema).unwrap();
    assert_eq!(s["spec"]["replicas"], "integer | default=1");
    assert_eq!(s["spec"]["imageName"], "string | required=true");
    assert_eq!(s["spec"]["imageTag"], "string");
    assert_eq!(s["spec"]["mode"], r#"string | enum="read-only,read-write" required=true"#);
}
