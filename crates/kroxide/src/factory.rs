//! Deploying a typed graph from Rust: `graph.factory(Mode::Direct)`.
//!
//! The same graph deploys two ways, as in TypeKro: [`Mode::Direct`] runs
//! kroxide's engine from this process (no KRO needed), [`Mode::Kro`] hands the
//! RGD and the instance to a KRO controller. Both return the status as the
//! graph's typed status struct.
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
//!     .deploy(&AppSpec { name: "web".into() })
//!     .await?;
//! println!("ready: {}", status.ready);
//! app.factory(Mode::Direct).namespace("dev").delete().await?;
//! # Ok(()) }
//! ```

use kroxide_dsl::{ResourceGraph, Schema};
use kroxide_engine::kro::{KroError, KroOptions};
use kroxide_engine::{DeployError, DeployOptions, DirectEngine};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// How a graph is deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
    #[error("the status does not fit the graph's status type ({message}): {status}")]
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

    /// Direct mode: every engine option (namespace and timeout set here win).
    pub fn options(mut self, o: DeployOptions) -> Self {
        self.options = o;
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
            create_namespace: true,
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
        let status = match self.mode {
            Mode::Direct => DirectEngine::new(client)
                .deploy(&rgd, &instance, &self.opts())
                .await?
                .status()
                .clone(),
            Mode::Kro => {
                kroxide_engine::kro::deploy(&client, &rgd, &instance, &self.kro_opts()).await?
            }
        };
        typed(status)
    }

    /// The status of the deployed instance, recomputed (direct) or as KRO last wrote it.
    pub async fn status(&self) -> Result<St, FactoryError> {
        let rgd = self.graph.to_rgd()?;
        let name = self.instance_name_for(&rgd);
        let client = self.kube().await?;
        let status = match self.mode {
            Mode::Direct => {
                DirectEngine::new(client)
                    .status(&rgd, &name, &self.opts())
                    .await?
                    .status
            }
            Mode::Kro => kroxide_engine::kro::status(&client, &rgd, &name, &self.namespace).await?,
        };
        typed(status)
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

fn typed<St: DeserializeOwned>(status: Value) -> Result<St, FactoryError> {
    serde_json::from_value(status.clone()).map_err(|e| FactoryError::Status {
        message: e.to_string(),
        status,
    })
}
