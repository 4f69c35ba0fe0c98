use kroxide::prelude::*;

#[derive(Schema, Serialize, Deserialize, Clone)]
struct Spec { name: String, replicas: i32 }
#[derive(Schema, Serialize, Deserialize, Clone)]
struct Status { mode: String }

fn main() {
    let _ = ResourceGraph::<Spec, Status>::new("x", "v1alpha1", "X").build(|_g, spec| {
        // A condition must be an Expr<bool>.
        StatusExpr { mode: spec.replicas.then_else("many", "few") }
    });
}
