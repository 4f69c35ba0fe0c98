use kroxide::prelude::*;

#[derive(Schema, Serialize, Deserialize, Clone)]
struct Spec { name: String, replicas: i32 }
#[derive(Schema, Serialize, Deserialize, Clone)]
struct Status { ready: bool }

fn main() {
    let _ = ResourceGraph::<Spec, Status>::new("x", "v1alpha1", "X").build(|g, _spec| {
        let d = g.add(Deployment::new("web", "nginx"));
        // A status field of type bool takes only a boolean expression.
        StatusExpr { ready: d.status().ready_replicas() }
    });
}
