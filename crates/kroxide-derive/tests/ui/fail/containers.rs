use kroxide_dsl::Schema;
use serde::Serialize;

#[derive(Schema, Serialize)]
#[serde(transparent)]
struct Transparent {
    inner: String,
}

#[derive(Schema, Serialize, Clone)]
#[serde(into = "String")]
struct IntoString {
    inner: String,
}

impl From<IntoString> for String {
    fn from(i: IntoString) -> String {
        i.inner
    }
}

#[derive(Schema, Serialize)]
#[serde(tag = "type")]
struct Tagged {
    inner: String,
}

#[derive(Schema, Serialize)]
struct Tuple(String, i32);

#[derive(Schema, Serialize)]
struct Generic<T> {
    inner: T,
}

#[derive(Schema, Serialize)]
#[schema(krate = "kroxide_dsl")]
struct UnknownSchemaAttr {
    inner: String,
}

fn main() {}
