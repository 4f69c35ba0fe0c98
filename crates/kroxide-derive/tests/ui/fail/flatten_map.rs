use kroxide_dsl::Schema;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Schema, Serialize)]
struct Spec {
    name: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

fn main() {}
