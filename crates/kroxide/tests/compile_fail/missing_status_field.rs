use kroxide::prelude::*;

#[derive(Schema, Serialize, Deserialize, Clone)]
struct Spec { name: String }
#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Status { ready: bool, gateway_url: String }

fn main() {
    let _ = ResourceGraph::<Spec, Status>::new("x", "v1alpha1", "X").build(|g, _spec| {
        let d = g.add(Deployment::new("web", "nginx"));
        // gateway_url is missing.
        StatusExpr { ready: d.status().ready_replicas().gt(0) }
    });
}
