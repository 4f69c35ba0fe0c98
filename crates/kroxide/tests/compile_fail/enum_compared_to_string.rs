use kroxide::prelude::*;

#[derive(Schema, Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Env { Dev, Prod }
#[derive(Schema, Serialize, Deserialize, Clone)]
struct Spec { env: Env }
#[derive(Schema, Serialize, Deserialize, Clone)]
struct Status { prod: bool }

fn main() {
    let _ = ResourceGraph::<Spec, Status>::new("x", "v1alpha1", "X").build(|_g, spec| {
        // Compare an enum with its variants, not with a free-form string.
        StatusExpr { prod: spec.env.eq("prod") }
    });
}
