//! A kube-rs typed custom resource in a graph: the `Backup` of a platform
//! team's operator, as `#[derive(CustomResource)]` (or kopium, from the
//! CRD in `examples/crd/backup-crd.yaml`) writes its types, next to the
//! database it backs up. The Backup is ready when its operator says so
//! (condition `Ready`), and the status reads the operator's `lastRun`.
//!
//! ```text
//! cargo run --example crd -- render
//! kubectl apply -f examples/crd/backup-crd.yaml
//! cargo run --example crd -- deploy --instance examples/crd/dev.yaml -n dev --create-namespace
//! ```

use kroxide::prelude::*;
use kube::CustomResource;
#[cfg(not(test))]
use std::process::ExitCode;

/// The operator's Backup, as kube-rs users declare it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, schemars::JsonSchema)]
#[kube(
    group = "example.kroxide.dev",
    version = "v1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    pub schedule: String,
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_days: Option<i64>,
}

/// What the operator reports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    pub last_run: Option<String>,
}

/// A database and its nightly backup.
#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    pub name: String,
    pub schedule: String,
}

/// What the database reports.
#[derive(Schema, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// When the operator last backed it up.
    pub last_backup: String,
}

/// The graph.
pub fn database_app() -> ResourceGraph<DatabaseSpec, DatabaseStatus> {
    ResourceGraph::<DatabaseSpec, DatabaseStatus>::new("database", "v1alpha1", "Database").build(
        |g, spec| {
            let db = g.add_as("db", StatefulSet::new(&spec.name, "postgres:17").port(5432));
            // The typed value fixes what does not vary; expressions the rest.
            let backup = Backup::new(
                "nightly",
                BackupSpec {
                    schedule: String::new(),
                    database: String::new(),
                    retain_days: Some(7),
                },
            );
            let backup = g.add_as(
                "backup",
                Object::from_resource(&backup)
                    .set("metadata.name", template!("{}-backup", &spec.name))
                    .set("spec.schedule", &spec.schedule)
                    .set("spec.database", db.name()),
            );
            DatabaseStatusExpr {
                last_backup: backup.field("status.lastRun"),
            }
        },
    )
}

// The tests include this file for its graph; `main`, the graph's command
// line (kroxide-cli), is the example binary's alone.
#[cfg(not(test))]
fn main() -> ExitCode {
    kroxide_cli::graph_main(&database_app())
}
