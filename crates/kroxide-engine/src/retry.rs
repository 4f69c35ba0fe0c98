//! Retries for API calls that failed for a reason that goes away.
//!
//! kube's client already retries 429/503/504 (honouring `Retry-After`); this
//! adds what a deploy also meets on a flaky cluster: 500s, refused or dropped
//! connections, and requests that never answer (each attempt is bounded by a
//! timeout, which kube does not set by default). A 409 is never resent as
//! it was: a field-manager conflict stays one, and an optimistic-lock
//! conflict means the object changed, so the caller reads it again and
//! decides (the inventory does). Clients kroxide builds turn kube's own
//! retry layer off ([`client_config`]), so that retries do not multiply.

use std::future::Future;
use std::time::Duration;

/// How many attempts a request gets in all.
const ATTEMPTS: u32 = 6;
/// The first pause; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(3);

/// Whether `e` may succeed if the same request is sent again.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => match s.code {
            429 | 500 | 502 | 503 | 504 => true,
            // 409: a field ownership conflict ("Apply failed with N
            // conflicts"), an object that exists, or a stale resourceVersion:
            // resending the same request changes nothing.
            _ => false,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// `config` with kube's own retry layer off: kroxide retries itself
/// ([`retry`]), and kube's layer under it would multiply the attempts.
pub fn client_config(mut config: kube::Config) -> kube::Config {
    config.default_retry = false;
    config
}

/// `e` for a log line: for an API error only its code and reason, since the
/// server's message may quote a field value (a Secret's, say).
pub fn brief(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("HTTP {} {}", s.code, s.reason),
        other => other.to_string(),
    }
}

/// Whether a server-side apply that failed with `e` may succeed if sent
/// again: as [`is_transient`], and also a 409 that is not a field conflict.
/// An apply carries no resourceVersion, so such a 409 is the server's own
/// optimistic update losing a race; sending it again is reading again.
pub fn is_transient_apply(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) if s.code == 409 => {
            !s.message.starts_with("Apply failed") && s.reason != "AlreadyExists"
        }
        other => is_transient(other),
    }
}

/// Runs `call` until it succeeds, fails for good, or runs out of attempts;
/// each attempt may take `timeout` at most.
pub async fn retry<T, F, Fut>(timeout: Duration, call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    retry_if(timeout, is_transient, call).await
}

/// [`retry`], with `transient` deciding which errors are worth another attempt.
pub async fn retry_if<T, F, Fut>(
    timeout: Duration,
    transient: fn(&kube::Error) -> bool,
    mut call: F,
) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        let result = match tokio::time::timeout(timeout, call()).await {
            Ok(r) => r,
            Err(_) => Err(kube::Error::Service(
                format!("no answer within {}s", timeout.as_secs_f32()).into(),
            )),
        };
        match result {
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                tracing::debug!(attempt, error = %brief(&e), "retrying after a transient error");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure(message, reason).with_code(code),
        ))
    }

    #[test]
    fn field_conflicts_and_client_errors_are_final() {
        assert!(!is_transient(&api_error(
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
        )));
        assert!(!is_transient(&api_error(409, "AlreadyExists", "exists")));
        assert!(!is_transient(&api_error(422, "Invalid", "bad")));
        assert!(!is_transient(&api_error(404, "NotFound", "gone")));
        assert!(is_transient(&api_error(500, "InternalError", "boom")));
        assert!(is_transient_apply(&api_error(
            409,
            "Conflict",
            "the object has been modified"
        )));
        assert!(!is_transient_apply(&api_error(
            409,
            "Conflict",
            "Apply failed with 1 conflict"
        )));
        assert!(!is_transient(&api_error(
            409,
            "Conflict",
            "Operation cannot be fulfilled on secrets \"x\": the object has been modified; please apply your changes to the latest version and try again"
        )));
    }

    #[test]
    fn log_lines_do_not_quote_the_servers_message() {
        let e = api_error(
            422,
            "Invalid",
            "Secret \"db\" is invalid: data[password]: Invalid value: \"hunter2\"",
        );
        assert_eq!(brief(&e), "HTTP 422 Invalid");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success_then_stops() {
        let calls = AtomicU32::new(0);
        let r = retry(Duration::from_secs(1), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(api_error(500, "InternalError", "boom"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_request_times_out_and_a_final_error_is_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry(Duration::from_millis(50), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending().await
        })
        .await;
        assert!(r.unwrap_err().to_string().contains("no answer"));
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry(Duration::from_secs(1), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(api_error(422, "Invalid", "bad"))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
