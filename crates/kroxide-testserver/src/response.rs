//! Responses as the Kubernetes API server writes them: JSON bodies and
//! `Status` errors. Shared by the router (server.rs) and injected faults
//! (faults.rs), so neither depends on the other for them.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};
use std::convert::Infallible;

/// The body type of every response.
pub(crate) type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A body of these bytes.
pub(crate) fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// `v` as a JSON response with status `code`.
pub(crate) fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(serde_json::to_vec(v).unwrap_or_default()))
        .expect("valid response")
}

/// A Kubernetes `Status` error body.
pub fn status_error(code: u16, reason: &str, message: &str, details: Value) -> Response<Body> {
    let v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "details": details, "code": code});
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &v,
    )
}
