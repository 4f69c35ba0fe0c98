//! Why an engine operation stopped. Every variant that can happen before the
//! first write says so ("nothing was applied"), so a user knows the cluster
//! is untouched.

use kroxide_semantics::plan::PlanError;

/// Why a deploy, delete, status or diff stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The graph or the instance is invalid: nothing was written.
    #[error("{0}")]
    Invalid(#[from] PlanError),
    /// The RGDs given together cannot be used together, or the instance
    /// fails in an inner graph: nothing was written.
    #[error("{0}; nothing was applied")]
    Chain(#[from] kroxide_semantics::chain::ChainError),
    /// An inner instance would fail in its own graph: nothing was written.
    #[error("resource `{resource}` of `{outer}` is a {kind} instance of `{inner}`, which fails for it: {source}; nothing was applied")]
    InnerRefused {
        outer: String,
        resource: String,
        kind: String,
        inner: String,
        #[source]
        source: Box<DeployError>,
    },
    /// Serving an inner graph's instance kind failed.
    #[error("{0}")]
    NestedSetup(String),
    /// Deploying an inner instance (a resource of the graph that is an
    /// instance of another RGD) failed.
    #[error("the {kind} instance `{name}` (graph `{inner}`) failed: {source}")]
    Nested {
        kind: String,
        name: String,
        inner: String,
        #[source]
        source: Box<DeployError>,
    },
    /// The cluster does not serve a kind the graph uses: nothing was written.
    #[error(
        "the cluster does not serve {api_version} {kind} (resource `{id}`); nothing was applied"
    )]
    UnknownKind {
        id: String,
        api_version: String,
        kind: String,
    },
    /// The server refused an object in the dry run: nothing was written.
    #[error("the server refused resource `{id}` ({kind} {name}) in a dry run: {message}; nothing was applied")]
    DryRun {
        id: String,
        kind: String,
        name: String,
        message: String,
    },
    /// An expression failed while deploying.
    #[error("resource `{id}` failed: {reason}")]
    Failed { id: String, reason: String },
    /// A resource did not become ready in time.
    #[error("resource `{id}` was not ready after {seconds}s{}", .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    NotReady {
        id: String,
        seconds: u64,
        detail: Option<String>,
    },
    /// A resource's controller reports that it will not become ready (a
    /// failed Job, a rollout past its progress deadline): no point waiting.
    #[error("resource `{id}` ({kind} {name}) failed: {reason}")]
    ResourceFailed {
        id: String,
        kind: String,
        name: String,
        reason: String,
    },
    /// The whole deploy took longer than its overall timeout.
    #[error("the deploy did not finish within {seconds}s (the overall timeout)")]
    Deadline { seconds: u64 },
    /// The cluster answered with an error.
    #[error("resource `{id}`: the API server refused the request: {source}")]
    Api {
        id: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot reach the cluster: {0}")]
    Discovery(#[source] kube::Error),
    /// The instance file names another namespace: nothing was written.
    #[error("the instance names namespace `{instance}` but the deploy is to namespace `{namespace}`; pass --namespace {instance} (or drop metadata.namespace from the instance); nothing was applied")]
    NamespaceMismatch { instance: String, namespace: String },
    /// A name every object carries as a label cannot be a label value.
    #[error("the {what} `{value}` {why}; kroxide labels every object with it ({label}), so it cannot be deployed; nothing was applied")]
    LabelValue {
        what: String,
        label: String,
        value: String,
        why: String,
    },
    /// The target namespace does not exist: nothing was written.
    #[error("namespace `{0}` does not exist; create it, or pass --create-namespace")]
    NoNamespace(String),
    /// Objects the graph would write exist and are not this instance's.
    #[error("refusing to change objects that this instance does not own (nothing was applied):\n{}\npass --adopt to take them over", .objects.iter().map(|o| format!("  - {o}")).collect::<Vec<_>>().join("\n"))]
    NotOwned { objects: Vec<String> },
    /// Another run holds the instance's lock.
    #[error("instance `{instance}` is being changed by {holder}{}; nothing was applied. Wait for it to finish, or pass --break-lock if it died", if *.expires_in > 0 { format!(" (its lock expires in {}s)", .expires_in) } else { String::new() })]
    Locked {
        instance: String,
        holder: String,
        expires_in: u64,
    },
    /// The inventory object exists but cannot be used.
    #[error("inventory Secret `{name}` cannot be used: {message}")]
    Inventory { name: String, message: String },
    /// `status`/`delete` of an instance that has no inventory.
    #[error("instance `{instance}` of graph `{graph}` was never deployed to namespace `{namespace}` by kroxide (no inventory Secret `{inventory}`)")]
    NotDeployed {
        graph: String,
        instance: String,
        namespace: String,
        inventory: String,
    },
    /// `rollback` to a revision that cannot be deployed.
    #[error(
        "cannot roll instance `{instance}` back to revision {revision}: {why}; nothing was applied"
    )]
    NoRevision {
        /// The instance's name.
        instance: String,
        /// The revision asked for.
        revision: u64,
        /// Why it cannot be deployed.
        why: String,
    },
    /// The deploy was cancelled (Ctrl-C) before it finished.
    #[error("interrupted: {}; applied objects stay and are listed in the inventory, so a re-run converges", if *.lock_released { "the instance lock is released" } else { "the instance lock could not be released (it expires by itself, or pass --break-lock)" })]
    Interrupted {
        /// Whether this run's lock on the instance was released.
        lock_released: bool,
    },
}
