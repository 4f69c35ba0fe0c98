// `#[schema(crate = "...")]` names the DSL crate where the Cargo.toml
// lookup cannot (a re-export under another path).
mod reexport {
    pub use kroxide_dsl as dsl;
}

#[derive(reexport::dsl::Schema, serde::Serialize)]
#[schema(crate = "reexport::dsl")]
struct Spec {
    name: String,
}

fn main() {
    let mut types = kroxide_dsl::schema::Types::default();
    let t = <Spec as kroxide_dsl::Schema>::simple_type(&mut types);
    let kroxide_dsl::schema::SimpleType::Object(tree) = t else { panic!() };
    assert_eq!(format!("{:?}", tree["name"]), "Leaf(\"string | required=true\")");
}
