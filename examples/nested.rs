//! A graph inside another (TypeKro's nested compositions, KRO's chained
//! RGDs): a `ShopApp` is a web Deployment plus a `ShopDatabase`, itself a
//! graph (a StatefulSet and its Service) with a typed spec and status. The
//! app fills the database's spec with typed expressions and reads its
//! typed status (`endpoint`) into the web container's environment.
//!
//! ```text
//! cargo run --example nested -- render        # both RGDs, the database's first
//! cargo run --example nested -- plan --instance examples/nested/dev.yaml --assume-ready
//! cargo run --example nested -- deploy --mode kro --instance examples/nested/dev.yaml -n dev
//! ```

use kroxide::prelude::*;
#[cfg(not(test))]
use std::process::ExitCode;

/// The database graph's spec.
#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    pub name: String,
    #[schema(minimum = 1)]
    pub replicas: i32,
}

/// What the database graph reports.
#[derive(Schema, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// `host:port` of its Service.
    pub endpoint: String,
    pub ready_replicas: i64,
}

/// The inner graph: a StatefulSet and its Service.
pub fn database() -> ResourceGraph<DatabaseSpec, DatabaseStatus> {
    ResourceGraph::<DatabaseSpec, DatabaseStatus>::new("shop-database", "v1alpha1", "ShopDatabase")
        .build(|g, spec| {
            let db = g.add_as(
                "db",
                StatefulSet::new(&spec.name, "postgres:17")
                    .replicas(&spec.replicas)
                    .port(5432),
            );
            let svc = g.add_as("svc", Service::exposing(&db).port(5432));
            DatabaseStatusExpr {
                endpoint: template!("{}:5432", svc.name()),
                ready_replicas: db.status().ready_replicas(),
            }
        })
}

/// The app's spec.
#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ShopSpec {
    pub name: String,
    pub image: String,
}

/// What the app reports: its database's status, typed.
#[derive(Schema, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ShopStatus {
    pub database: String,
    pub database_ready: i64,
    pub web_ready: i64,
}

/// The outer graph.
pub fn shop() -> ResourceGraph<ShopSpec, ShopStatus> {
    let database = database();
    ResourceGraph::<ShopSpec, ShopStatus>::new("shop-app", "v1alpha1", "ShopApp").build(
        |g, spec| {
            let data = g.add_graph(
                "data",
                &database,
                template!("{}-db", &spec.name),
                DatabaseSpecExpr {
                    name: template!("{}-db", &spec.name),
                    replicas: lit(1),
                },
            );
            let web = g.add_as(
                "web",
                Deployment::new(&spec.name, &spec.image)
                    .env("DATABASE", data.status().endpoint.clone())
                    .port(80),
            );
            ShopStatusExpr {
                database: data.status().endpoint.clone(),
                database_ready: data.status().ready_replicas.clone(),
                web_ready: web.status().ready_replicas(),
            }
        },
    )
}

// The tests include this file for its graph; `main`, the graph's command
// line (kroxide-cli), is the example binary's alone.
#[cfg(not(test))]
fn main() -> ExitCode {
    kroxide_cli::graph_main(&shop())
}
