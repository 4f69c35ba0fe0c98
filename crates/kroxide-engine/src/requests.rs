//! A client that counts the API requests it sends.
//!
//! "How many requests did that take" is the first question when a deploy is
//! slower than `kubectl apply`, and the number benchmarks report per object;
//! the API server cannot tell one client's requests from another's, so the
//! client counts them (retries and watch restarts included).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The number of requests a [`counted`] client has sent so far.
#[derive(Clone, Debug, Default)]
pub struct RequestCount(Arc<AtomicU64>);

impl RequestCount {
    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A client for `config` (as `Client::try_from`) that counts every request.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = kube::Config::infer().await?;
/// let (client, count) = kroxide_engine::requests::counted(config)?;
/// let _ = client.apiserver_version().await?;
/// assert_eq!(count.get(), 1);
/// # Ok(()) }
/// ```
pub fn counted(config: kube::Config) -> Result<(kube::Client, RequestCount), kube::Error> {
    let count = RequestCount::default();
    let c = count.0.clone();
    let layer = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        c.fetch_add(1, Ordering::Relaxed);
        req
    });
    let client = kube::client::ClientBuilder::try_from(config)?
        .with_layer(&layer)
        .build();
    Ok((client, count))
}

/// The requests a [`recorded`] client has sent, as `METHOD /path?query`.
#[derive(Clone, Debug, Default)]
pub struct RequestLog(Arc<std::sync::Mutex<Vec<String>>>);

impl RequestLog {
    /// The requests sent so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// A client for `config` that records every request (method, path and
/// query): what tests read to tell which writes a command sent.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = kube::Config::infer().await?;
/// let (client, log) = kroxide_engine::requests::recorded(config)?;
/// let _ = client.apiserver_version().await?;
/// assert_eq!(log.requests(), ["GET /version"]);
/// # Ok(()) }
/// ```
pub fn recorded(config: kube::Config) -> Result<(kube::Client, RequestLog), kube::Error> {
    let log = RequestLog::default();
    let l = log.0.clone();
    let layer = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        if let Ok(mut l) = l.lock() {
            l.push(format!("{} {}", req.method(), req.uri()));
        }
        req
    });
    let client = kube::client::ClientBuilder::try_from(config)?
        .with_layer(&layer)
        .build();
    Ok((client, log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_request_is_counted() {
        let server = kroxide_testserver::TestServer::start().await;
        let server = server.unwrap();
        let config = kube::Config::new(server.url().parse().unwrap());
        let (client, count) = counted(config).unwrap();
        assert_eq!(count.get(), 0);
        let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(client, "default");
        cms.list(&Default::default()).await.unwrap();
        let _ = cms.get_opt("missing").await.unwrap();
        assert_eq!(count.get(), 2);
        assert_eq!(count.get(), server.requests().len() as u64);
    }

    #[tokio::test]
    async fn every_request_is_recorded_in_order() {
        let server = kroxide_testserver::TestServer::start().await.unwrap();
        let config = kube::Config::new(server.url().parse().unwrap());
        let (client, log) = recorded(config).unwrap();
        let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(client, "default");
        let _ = cms.get_opt("missing").await.unwrap();
        cms.list(&Default::default()).await.unwrap();
        assert_eq!(
            log.requests(),
            [
                "GET /api/v1/namespaces/default/configmaps/missing",
                "GET /api/v1/namespaces/default/configmaps?"
            ]
        );
    }
}
