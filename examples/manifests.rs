//! Existing YAML manifests in a typed graph (TypeKro's `yamlFile`): Redis
//! as its upstream manifests ship it (`examples/manifests/redis.yaml`: a
//! ConfigMap, a Deployment, a Service), with the replicas and the memory
//! limit set from the graph's typed spec, and a status read from them.
//!
//! ```text
//! cargo run --example manifests -- render
//! cargo run --example manifests -- plan --instance examples/manifests/dev.yaml --assume-ready
//! cargo run --example manifests -- deploy --instance examples/manifests/dev.yaml -n dev --create-namespace
//! ```

use kroxide::dsl::manifests::Manifests;
use kroxide::prelude::*;
#[cfg(not(test))]
use std::process::ExitCode;

/// What a cache is made of.
#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CacheSpec {
    #[schema(minimum = 1)]
    pub replicas: i32,
    /// Redis's `maxmemory`, such as `64mb`.
    #[schema(default = "64mb")]
    pub max_memory: Option<String>,
}

/// What the cache reports.
#[derive(Schema, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatus {
    /// Redis Pods ready.
    pub ready_replicas: i64,
    /// Where clients connect.
    pub endpoint: String,
}

/// The manifests this example ships, beside it.
pub fn redis_manifests() -> Manifests {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/manifests/redis.yaml");
    Manifests::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The graph.
pub fn cache_app() -> ResourceGraph<CacheSpec, CacheStatus> {
    ResourceGraph::<CacheSpec, CacheStatus>::new("cache", "v1alpha1", "Cache").build(|g, spec| {
        let manifests = redis_manifests()
            .with("Deployment", "redis", |d| {
                d.set("spec.replicas", &spec.replicas)
            })
            .with("ConfigMap", "redis-config", |c| {
                c.set(
                    r#"data["redis.conf"]"#,
                    template!(
                        "maxmemory {}\nmaxmemory-policy allkeys-lru\n",
                        &spec.max_memory
                    ),
                )
            });
        let added = g.add_manifests(manifests);
        let redis = added.get("Deployment", "redis").expect("redis.yaml has it");
        let service = added.get("Service", "redis").expect("redis.yaml has it");
        CacheStatusExpr {
            ready_replicas: redis.field("status.readyReplicas"),
            endpoint: template!("{}:6379", service.field::<String>("metadata.name")),
        }
    })
}

// The tests include this file for its graph; `main`, the graph's command
// line (kroxide-cli), is the example binary's alone.
#[cfg(not(test))]
fn main() -> ExitCode {
    kroxide_cli::graph_main(&cache_app())
}
