//! Fault injection, scripted per test: the next N requests matching a verb
//! and path fail with 500, 429 (with Retry-After), 409, or hang past the
//! client's timeout; extra latency; dropped watches come from
//! [`crate::TestServer::drop_watches`].

use crate::response::{status_error, Body};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use serde_json::json;
use std::sync::Mutex;
use std::time::Duration;

/// What a faulty request gets.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// 500 Internal Server Error.
    ServerError,
    /// 429 Too Many Requests with `Retry-After: seconds`.
    TooManyRequests { retry_after: u64 },
    /// 409 Conflict.
    Conflict,
    /// No answer for this long (longer than the client's timeout).
    Hang(Duration),
    /// Served normally, after this much delay.
    Latency(Duration),
}

/// A scripted fault.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP method to match (`PATCH`), or `*`.
    pub verb: String,
    /// Substring of the path to match.
    pub path_contains: String,
    /// How many more requests it applies to.
    pub remaining: usize,
    pub kind: FaultKind,
}

/// The first matching fault for this request, counted down.
pub(crate) fn take(faults: &Mutex<Vec<Fault>>, verb: &str, path: &str) -> Option<FaultKind> {
    let mut faults = faults.lock().ok()?;
    let f = faults.iter_mut().find(|f| {
        f.remaining > 0 && (f.verb == "*" || f.verb == verb) && path.contains(&f.path_contains)
    })?;
    f.remaining -= 1;
    let kind = f.kind.clone();
    faults.retain(|f| f.remaining > 0);
    Some(kind)
}

pub(crate) async fn respond(kind: FaultKind) -> Response<Body> {
    match kind {
        FaultKind::ServerError => status_error(
            500,
            "InternalError",
            "Internal error occurred: injected fault",
            json!({}),
        ),
        FaultKind::Conflict => status_error(
            409,
            "Conflict",
            "Operation cannot be fulfilled: injected conflict",
            json!({}),
        ),
        FaultKind::TooManyRequests { retry_after } => {
            let mut r = status_error(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
                json!({"retryAfterSeconds": retry_after}),
            );
            r.headers_mut().insert(
                "retry-after",
                retry_after.to_string().parse().expect("header"),
            );
            r
        }
        FaultKind::Hang(d) => {
            tokio::time::sleep(d).await;
            status_error(504, "Timeout", "injected hang", json!({}))
        }
        // Handled by the caller, which serves the request after the delay.
        FaultKind::Latency(_) => Response::builder()
            .status(500)
            .body(Full::new(Bytes::new()).boxed())
            .expect("response"),
    }
}
