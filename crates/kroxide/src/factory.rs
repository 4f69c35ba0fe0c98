//! Deploying a typed graph from Rust: `graph.factory(Mode::Direct)`.
//!
//! The same graph deploys two ways, as in TypeKro: [`Mode::Direct`] runs
//! kroxide's engine from this process (no KRO needed), [`Mode::Kro`] hands the
//! RGD and the instance to a KRO controller. Both return the status as the
//! graph's typed status struct.
//!
//! The namespace must exist, as with `kroxide deploy`: a direct deploy to a
//! missing namespace fails with [`FactoryError::NoNamespace`] before anything
//! is written, unless [`Factory::create_namespace`] asks for it to be created
//! (the CLI's `--create-namespace`). KRO mode creates it, as
//! `kroxide deploy --mode kro` does.
//!
//! ```no_run
//! # use kroxide::prelude::*;
//! # #[derive(Schema, Serialize, Deserialize, Clone)]
//! # pub struct AppSpec { pub name: String }
//! # #[derive(Schema, Serialize, Deserialize, Clone, Debug)]
//! # pub struct AppStatus { pub ready: bool }
//! # async fn run(app: ResourceGraph<AppSpec, AppStatus>) -> Result<(), kroxide::FactoryError> {
//! let status: AppStatus = app
//!     .factory(Mode::Direct)
//!     .namespace("dev")
//!     .create_namespace(true)
//!     .deploy(&AppSpec { name: "web".into() })
//!     .await?;
//! println!("ready: {}", status.ready);
//! app.factory(Mode::Direct).namespace("dev").delete().await?;
//! # Ok(()) }
//! ```

use kroxide_dsl::{ResourceGraph, Schema};
use kroxide_engine::kro::{KroError, KroOptions};
use kroxide_engine::{DeployError, DeployOptions, DirectEngine};
use kroxide_model::FieldPath;
use kroxide_semantics::redact::Redactor;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// How a graph is deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// kroxide's engine applies the resources from this process.
    Direct,
    /// A KRO controller in the cluster reconciles the graph.
    Kro,
}

/// Why a factory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    #[error("the graph is invalid: {0}")]
    Graph(#[from] kroxide_dsl::BuildError),
    #[error("cannot serialize the spec: {0}")]
    Spec(#[source] serde_json::Error),
    #[error("no cluster configured (KUBECONFIG, ~/.kube/config or in-cluster): {0}")]
    Client(#[source] kube::Error),
    #[error(transparent)]
    Direct(#[from] DeployError),
    #[error(transparent)]
    Kro(#[from] KroError),
    /// Direct mode: the namespace does not exist, and
    /// [`Factory::create_namespace`] was not set. Nothing was written.
    #[error("namespace `{0}` does not exist; create it, or call `.create_namespace(true)` on the factory")]
    NoNamespace(String),
    /// The status does not deserialize into the graph's status type.
    /// `message` names the field and what its type expects, never the value
    /// found there; `status` is the status with Secret values masked (those
    /// the instance feeds to Secrets and, in direct mode, those of the live
    /// Secrets), as `kroxide status` prints it.
    #[error("the status does not fit the graph's status type: {message}")]
    Status { message: String, status: Value },
}

/// Adds `.factory(mode)` to typed graphs.
pub trait GraphFactory<S, St> {
    /// A deployer of this graph in `mode`; see [`Factory`].
    fn factory(&self, mode: Mode) -> Factory<'_, S, St>;
}

impl<S: Schema, St: Schema> GraphFactory<S, St> for ResourceGraph<S, St> {
    fn factory(&self, mode: Mode) -> Factory<'_, S, St> {
        Factory {
            graph: self,
            mode,
            namespace: "default".into(),
            name: None,
            client: None,
            options: DeployOptions::default(),
            create_namespace: None,
            allow_breaking_changes: false,
        }
    }
}

/// Deploys, reads and deletes instances of one graph. Built by
/// [`GraphFactory::factory`]; the setters return the factory.
pub struct Factory<'g, S, St> {
    graph: &'g ResourceGraph<S, St>,
    mode: Mode,
    namespace: String,
    name: Option<String>,
    client: Option<kube::Client>,
    options: DeployOptions,
    create_namespace: Option<bool>,
    allow_breaking_changes: bool,
}

impl<S: Schema + Serialize, St: Schema + DeserializeOwned> Factory<'_, S, St> {
    /// The namespace of the instance (default `default`).
    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = ns.to_string();
        self
    }

    /// The instance's name (default: the graph's name, as KRO does).
    pub fn instance_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// The cluster (default: `kube::Client::try_default()`).
    pub fn client(mut self, client: kube::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// How long one resource (direct) or the whole instance (KRO) may take.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.options.resource_timeout = t;
        self
    }

    /// Direct mode: every engine option (the namespace, and
    /// `create_namespace` when set with [`Factory::create_namespace`], win).
    pub fn options(mut self, o: DeployOptions) -> Self {
        self.options = o;
        self
    }

    /// Direct mode: create the namespace when it does not exist (default
    /// off, like the CLI's `--create-namespace`; without it a missing
    /// namespace is [`FactoryError::NoNamespace`]). KRO mode always creates
    /// it, as `kroxide deploy --mode kro` does.
    pub fn create_namespace(mut self, yes: bool) -> Self {
        self.create_namespace = Some(yes);
        self
    }

    /// KRO mode: apply schema changes that may break existing instances.
    pub fn allow_breaking_changes(mut self, yes: bool) -> Self {
        self.allow_breaking_changes = yes;
        self
    }

    async fn kube(&self) -> Result<kube::Client, FactoryError> {
        match &self.client {
            Some(c) => Ok(c.clone()),
            None => {
                let config = kube::Config::infer()
                    .await
                    .map_err(|e| FactoryError::Client(kube::Error::InferConfig(e)))?;
                kube::Client::try_from(kroxide_engine::retry::client_config(config))
                    .map_err(FactoryError::Client)
            }
        }
    }

    fn kro_opts(&self) -> KroOptions {
        KroOptions {
            namespace: self.namespace.clone(),
            timeout: self.options.resource_timeout,
            allow_breaking_changes: self.allow_breaking_changes,
            progress: self.options.progress.clone(),
        }
    }

    fn opts(&self) -> DeployOptions {
        DeployOptions {
            namespace: self.namespace.clone(),
            create_namespace: self
                .create_namespace
                .unwrap_or(self.options.create_namespace),
            ..self.options.clone()
        }
    }

    fn instance_name_for(&self, rgd: &kroxide_model::ResourceGraphDefinition) -> String {
        self.name.clone().unwrap_or_else(|| rgd.name().to_string())
    }

    /// Deploys an instance with `spec`, waits until it is ready, and returns its status.
    pub async fn deploy(&self, spec: &S) -> Result<St, FactoryError> {
        let rgd = self.graph.to_rgd()?;
        let spec = serde_json::to_value(spec).map_err(FactoryError::Spec)?;
        let instance = json!({
            "metadata": {"name": self.instance_name_for(&rgd), "namespace": self.namespace},
            "spec": spec,
        });
        let client = self.kube().await?;
        let mut redactor = Redactor::default();
        redactor.learn_secret_inputs(&rgd, &instance);
        let status = match self.mode {
            Mode::Direct => {
                // A graph that nests others: kroxide deploys their instances too.
                let rgds = self.graph.to_rgds()?;
                let engine = DirectEngine::new(client);
                let deployed = if rgds.len() > 1 {
                    let set = kroxide_semantics::chain::RgdSet::new(&rgds)
                        .map_err(|e| FactoryError::Direct(e.into()))?;
                    engine
                        .deploy_nested(&set, &rgd, &instance, &self.opts(), std::future::pending())
                        .await
                } else {
                    engine.deploy(&rgd, &instance, &self.opts()).await
                };
                let report = deployed.map_err(|e| match e {
                    DeployError::NoNamespace(ns) => FactoryError::NoNamespace(ns),
                    e => FactoryError::Direct(e),
                })?;
                redactor.learn(report.live.values().flatten());
                report.plan.status
            }
            Mode::Kro => {
                // A graph that nests others: their RGDs are applied first.
                let rgds = self.graph.to_rgds()?;
                if rgds.len() > 1 {
                    let set = kroxide_semantics::chain::RgdSet::new(&rgds)
                        .map_err(kroxide_engine::kro::KroError::from)?;
                    kroxide_engine::kro::deploy_chained(
                        &client,
                        &set,
                        &rgd,
                        &instance,
                        &self.kro_opts(),
                    )
                    .await?
                } else {
                    kroxide_engine::kro::deploy(&client, &rgd, &instance, &self.kro_opts()).await?
                }
            }
        };
        typed(status, &redactor)
    }

    /// The status of the deployed instance, recomputed (direct) or as KRO last wrote it.
    pub async fn status(&self) -> Result<St, FactoryError> {
        let rgd = self.graph.to_rgd()?;
        let name = self.instance_name_for(&rgd);
        let client = self.kube().await?;
        let mut redactor = Redactor::default();
        let status = match self.mode {
            Mode::Direct => {
                let report = DirectEngine::new(client)
                    .status(&rgd, &name, &self.opts())
                    .await?;
                redactor.learn_secret_inputs(&rgd, &report.deployed);
                redactor.learn(report.live.values().flatten());
                report.status
            }
            Mode::Kro => {
                // The live instance: its spec tells which values feed Secrets.
                let live =
                    kroxide_engine::kro::instance(&client, &rgd, &name, &self.namespace).await?;
                redactor.learn_secret_inputs(&rgd, &live);
                live.get("status").cloned().unwrap_or_else(|| json!({}))
            }
        };
        typed(status, &redactor)
    }

    /// Deletes the instance and everything it owns (in KRO mode, KRO removes the children).
    pub async fn delete(&self) -> Result<(), FactoryError> {
        let rgd = self.graph.to_rgd()?;
        let name = self.instance_name_for(&rgd);
        let client = self.kube().await?;
        match self.mode {
            Mode::Direct => {
                DirectEngine::new(client)
                    .delete(rgd.name(), &name, &self.opts())
                    .await?;
            }
            Mode::Kro => {
                kroxide_engine::kro::delete(&client, &rgd, &name, false, &self.kro_opts()).await?;
            }
        }
        Ok(())
    }
}

/// The status as `St`, or an error that names the field that does not fit
/// and what its type expects, but no value: a status field may read a
/// Secret. The status kept in the error has the known Secret values masked.
fn typed<St: DeserializeOwned>(status: Value, redactor: &Redactor) -> Result<St, FactoryError> {
    let e = match serde_json::from_value::<St>(status.clone()) {
        Ok(st) => return Ok(st),
        Err(e) => e,
    };
    let mut message = without_values(&e.to_string());
    if let Some(path) = failing_path::<St>(&status).filter(|p| !p.is_root()) {
        message = format!("at `{path}`: {message}");
    }
    let mut status = status;
    redactor.redact_value(&mut status);
    Err(FactoryError::Status {
        message: redactor.redact_str(&message),
        status,
    })
}

/// A serde error message with the value it quotes left out: `invalid
/// type: string "hunter2", expected a boolean` becomes `invalid type:
/// string, expected a boolean`. What follows `, expected` comes from the
/// type, not the data, and is kept, as is `missing field `x``. A message of
/// a type's own `Deserialize` impl may say anything, so it is not repeated.
fn without_values(msg: &str) -> String {
    // The last one: the value, which comes first, may hold the words too.
    let cut = [", expected ", ", there are no "]
        .iter()
        .filter_map(|w| msg.rfind(w))
        .max();
    if let Some(i) = cut {
        let (found, expected) = msg.split_at(i);
        let found = found
            .split(['"', '`'])
            .next()
            .unwrap_or_default()
            .trim_end();
        return format!("{found}{expected}");
    }
    if msg.starts_with("missing field `") {
        return msg.to_string();
    }
    "the status type rejected a value (its message is not shown: it may quote the value)".into()
}

/// Where deserializing the status as `St` fails: the status is written as
/// JSON with one value per line, parsed again, and the line of the error
/// gives the field (`serde_json::from_value` does not tell it).
fn failing_path<St: DeserializeOwned>(status: &Value) -> Option<FieldPath> {
    let mut lines = Vec::new();
    json_lines(status, String::new(), &FieldPath::root(), &mut lines);
    let text: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
    let e = serde_json::from_str::<St>(&text.join("\n")).err()?;
    let (_, path) = lines.get(e.line().checked_sub(1)?)?;
    Some(path.clone())
}

/// `v` as JSON text, one scalar, opening or closing bracket per line, each
/// line with the path of the value it belongs to.
fn json_lines(v: &Value, prefix: String, path: &FieldPath, out: &mut Vec<(String, FieldPath)>) {
    let (open, close, children): (&str, &str, Vec<(String, FieldPath, &Value)>) = match v {
        Value::Object(m) if !m.is_empty() => (
            "{",
            "}",
            m.iter()
                .map(|(k, x)| {
                    let key = serde_json::to_string(k).unwrap_or_default();
                    (format!("{key}: "), path.key(k.as_str()), x)
                })
                .collect(),
        ),
        Value::Array(a) if !a.is_empty() => (
            "[",
            "]",
            a.iter()
                .enumerate()
                .map(|(i, x)| (String::new(), path.index(i), x))
                .collect(),
        ),
        _ => {
            let text = serde_json::to_string(v).unwrap_or_default();
            out.push((format!("{prefix}{text}"), path.clone()));
            return;
        }
    };
    out.push((format!("{prefix}{open}"), path.clone()));
    let n = children.len();
    for (i, (p, child_path, x)) in children.into_iter().enumerate() {
        json_lines(x, p, &child_path, out);
        if i + 1 < n {
            if let Some((last, _)) = out.last_mut() {
                last.push(',');
            }
        }
    }
    out.push((close.to_string(), path.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        ready: bool,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct St {
        name: String,
        services: std::collections::BTreeMap<String, Inner>,
        ports: Vec<u16>,
    }

    fn status_error(status: Value) -> String {
        match typed::<St>(status, &Redactor::default()) {
            Err(FactoryError::Status { message, .. }) => message,
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn a_status_error_names_the_field_and_the_type_but_no_value() {
        let m = status_error(json!({
            "name": "x",
            "services": {"a": {"ready": true}, "b.c": {"ready": "hunter22"}},
            "ports": [1],
        }));
        assert_eq!(
            m,
            "at `services[\"b.c\"].ready`: invalid type: string, expected a boolean"
        );
        let m = status_error(json!({"name": "x", "services": {}, "ports": [1, 70000]}));
        assert_eq!(m, "at `ports[1]`: invalid value: integer, expected u16");
        let m = status_error(json!({"name": "x", "services": {}}));
        assert_eq!(m, "missing field `ports`");
        let m = status_error(json!({"name": "x", "services": {"a": {}}, "ports": []}));
        assert_eq!(m, "at `services.a`: missing field `ready`");
        let m = status_error(json!({"name": 5, "services": {}, "ports": []}));
        assert_eq!(m, "at `name`: invalid type: integer, expected a string");
        assert_eq!(
            without_values("unknown variant `hunter22`, expected one of `A`, `B`"),
            "unknown variant, expected one of `A`, `B`"
        );
        assert!(!without_values("invalid digit in \"hunter22\"").contains("hunter22"));
        let tricky = r#"invalid type: string "a, expected hunter22", expected a boolean"#;
        assert_eq!(
            without_values(tricky),
            "invalid type: string, expected a boolean"
        );
        let tricky = "unknown variant `a, expected hunter22`, there are no variants";
        assert_eq!(
            without_values(tricky),
            "unknown variant, there are no variants"
        );
        let m = status_error(json!({"name": 5, "services": {}, "ports": []}));
        assert_eq!(m, "at `name`: invalid type: integer, expected a string");
    }
}
