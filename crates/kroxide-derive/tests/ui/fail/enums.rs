use kroxide_dsl::Schema;
use serde::Serialize;

#[derive(Schema, Serialize)]
enum WithData {
    A,
    B(String),
}

#[derive(Schema, Serialize)]
#[serde(tag = "kind")]
enum Internal {
    A,
    B,
}

#[derive(Schema, Serialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    A,
    B,
}

#[derive(Schema, Serialize)]
#[serde(untagged)]
enum Untagged {
    A,
    B,
}

#[derive(Schema, Serialize)]
enum UntaggedVariant {
    A,
    #[serde(untagged)]
    B,
}

#[derive(Schema, Serialize)]
enum Renamed {
    #[serde(rename(serialize = "a", deserialize = "b"))]
    A,
}

fn main() {}
