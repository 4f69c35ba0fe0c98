use kroxide::prelude::*;

#[derive(Schema, Serialize, Deserialize, Clone)]
struct Spec { name: String, replicas: i32 }
#[derive(Schema, Serialize, Deserialize, Clone)]
struct Status { ready: bool }

fn main() {
    let _ = ResourceGraph::<Spec, Status>::new("x", "v1alpha1", "X").build(|g, spec| {
        // An Expr<i64> where a string (an env value) is needed.
        let d = g.add(Deployment::new("web", "nginx").env("REPLICAS", &spec.replicas));
        StatusExpr { ready: d.status().ready_replicas().gt(0) }
    });
}
