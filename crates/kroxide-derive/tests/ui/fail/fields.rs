use kroxide_dsl::Schema;
use serde::{Serialize, Serializer};

fn upper<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_uppercase())
}

#[derive(Schema, Serialize)]
struct SerializeWith {
    #[serde(serialize_with = "upper")]
    name: String,
}

#[derive(Schema, Serialize)]
#[serde(rename_all(serialize = "camelCase"))]
struct OneWayRenameAll {
    gateway_url: String,
}

#[derive(Schema, Serialize)]
struct OneWayRename {
    #[serde(rename(serialize = "a"))]
    b: String,
}

#[derive(Schema, Serialize)]
struct MarkerOnFlatten {
    #[serde(flatten)]
    #[schema(description = "no")]
    inner: Inner,
}

#[derive(Schema, Serialize)]
struct Inner {
    x: i32,
}

fn main() {}
