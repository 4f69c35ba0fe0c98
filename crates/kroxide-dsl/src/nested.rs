//! A graph used as a resource of another (TypeKro's nested compositions,
//! KRO's chained RGDs): the outer graph gets one resource, an instance of
//! the inner graph's kind whose spec it fills with typed expressions, and
//! reads the inner graph's typed status. Rendering gives both RGDs
//! ([`ResourceGraph::to_rgds`]); KRO mode applies the inner one first.
//!
//! ```
//! use kroxide_dsl::*;
//! # use serde::{Deserialize, Serialize};
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct DbSpec { pub name: String, pub size: String }
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct DbStatus { pub endpoint: String }
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct AppSpec { pub name: String }
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct AppStatus { pub database: String }
//!
//! let db = ResourceGraph::<DbSpec, DbStatus>::new("database", "v1alpha1", "Database").build(|g, spec| {
//!     let svc = g.add(Service::new(&spec.name).port(5432));
//!     DbStatusExpr { endpoint: template!("{}:5432", svc.name()) }
//! });
//! let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
//!     let data = g.add_graph("data", &db, template!("{}-db", &spec.name), DbSpecExpr {
//!         name: template!("{}-db", &spec.name),
//!         size: lit("10Gi".to_string()),
//!     });
//!     AppStatusExpr { database: data.status().endpoint.clone() }
//! });
//! let rgds = app.to_rgds().unwrap();
//! assert_eq!(rgds.iter().map(|r| r.name()).collect::<Vec<_>>(), ["database", "app"]);
//! let part = rgds[1].resource("data").unwrap().template.as_ref().unwrap();
//! assert_eq!(part["kind"], "Database");
//! assert_eq!(part["spec"]["name"], "${schema.spec.name}-db");
//! let status = serde_json::to_value(rgds[1].spec.schema.status.as_ref().unwrap()).unwrap();
//! assert_eq!(status["database"], "${data.status.endpoint}");
//! ```

use crate::expr::IntoExpr;
use crate::graph::{Graph, ResourceGraph};
use crate::resources::Built;
use crate::schema::{RefBase, Schema};
use kroxide_model::ResourceGraphDefinition;
use serde_json::json;
use std::collections::BTreeMap;

/// An instance of another graph inside this one (see [`Graph::add_graph`]).
///
/// ```
/// # use kroxide_dsl::*;
/// # #[derive(Schema, Clone)]
/// # pub struct DbSpec { pub name: String }
/// # #[derive(Schema, Clone)]
/// # pub struct DbStatus { pub endpoint: String }
/// # #[derive(Schema, Clone)]
/// # pub struct AppSpec { pub name: String }
/// # #[derive(Schema, Clone)]
/// # pub struct AppStatus { pub database: String }
/// # let db = ResourceGraph::<DbSpec, DbStatus>::new("database", "v1alpha1", "Database").build(|g, spec| {
/// #     let svc = g.add(Service::new(&spec.name).port(5432));
/// #     DbStatusExpr { endpoint: template!("{}:5432", svc.name()) }
/// # });
/// let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
///     let name = template!("{}-db", &spec.name);
///     let data = g.add_graph("data", &db, name.clone(), DbSpecExpr { name });
///     let nested: &Nested<DbStatus> = &data;
///     AppStatusExpr { database: nested.status().endpoint.clone() }
/// });
/// assert!(app.to_rgd().is_ok());
/// ```
pub struct Nested<St: Schema> {
    id: String,
    status: St::Ref,
}

impl<St: Schema> Nested<St> {
    /// The resource id.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbStatus { pub endpoint: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub database: String }
    /// # let db = ResourceGraph::<DbSpec, DbStatus>::new("database", "v1alpha1", "Database").build(|g, spec| {
    /// #     let svc = g.add(Service::new(&spec.name).port(5432));
    /// #     DbStatusExpr { endpoint: template!("{}:5432", svc.name()) }
    /// # });
    /// let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    ///     let name = template!("{}-db", &spec.name);
    ///     let data = g.add_graph("data", &db, name.clone(), DbSpecExpr { name });
    ///     assert_eq!(data.id(), "data");
    ///     AppStatusExpr { database: data.status().endpoint.clone() }
    /// });
    /// assert_eq!(app.to_rgd().unwrap().spec.resources[0].id, "data");
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The inner graph's status, typed: `data.status().endpoint` is the
    /// expression `${data.status.endpoint}`, which KRO (or kroxide) fills
    /// from the inner instance once it is computed.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbStatus { pub endpoint: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub database: String }
    /// # let db = ResourceGraph::<DbSpec, DbStatus>::new("database", "v1alpha1", "Database").build(|g, spec| {
    /// #     let svc = g.add(Service::new(&spec.name).port(5432));
    /// #     DbStatusExpr { endpoint: template!("{}:5432", svc.name()) }
    /// # });
    /// let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    ///     let name = template!("{}-db", &spec.name);
    ///     let data = g.add_graph("data", &db, name.clone(), DbSpecExpr { name });
    ///     assert_eq!(data.status().endpoint.to_string(), "${data.status.endpoint}");
    ///     AppStatusExpr { database: data.status().endpoint.clone() }
    /// });
    /// assert!(app.to_rgd().is_ok());
    /// ```
    pub fn status(&self) -> &St::Ref {
        &self.status
    }
}

impl Graph {
    /// Adds an instance of `inner` named `name`, its spec computed by
    /// `spec` (the expressions of each field of the inner spec type, as a
    /// status is written), as the resource `id`. The inner graph's RGD
    /// (and those it nests) come with this graph's ([`ResourceGraph::to_rgds`]).
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbStatus { pub endpoint: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub database: String }
    /// # let db = ResourceGraph::<DbSpec, DbStatus>::new("database", "v1alpha1", "Database").build(|g, spec| {
    /// #     let svc = g.add(Service::new(&spec.name).port(5432));
    /// #     DbStatusExpr { endpoint: template!("{}:5432", svc.name()) }
    /// # });
    /// let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    ///     let name = template!("{}-db", &spec.name);
    ///     let data = g.add_graph("data", &db, name.clone(), DbSpecExpr { name });
    ///     AppStatusExpr { database: data.status().endpoint.clone() }
    /// });
    /// let rgd = app.to_rgd().unwrap();
    /// let part = rgd.resource("data").unwrap().template.as_ref().unwrap();
    /// assert_eq!((part["apiVersion"].as_str(), part["kind"].as_str()), (Some("kro.run/v1alpha1"), Some("Database")));
    /// assert_eq!(part["metadata"]["name"], "${schema.spec.name}-db");
    /// ```
    pub fn add_graph<S2: Schema, St2: Schema>(
        &mut self,
        id: &str,
        inner: &ResourceGraph<S2, St2>,
        name: impl IntoExpr<String>,
        spec: S2::Exprs,
    ) -> Nested<St2> {
        let name = name.into_expr();
        let mut errors = Vec::new();
        let (api_version, kind) = match inner.to_rgds() {
            Ok(rgds) => {
                let inner_rgd = rgds.last().expect("a graph renders its own RGD");
                let s = &inner_rgd.spec.schema;
                let group = s.group.clone().unwrap_or_else(|| "kro.run".to_string());
                let av = format!("{group}/{}", s.api_version);
                let kind = s.kind.clone();
                for r in rgds {
                    if !self.nested.iter().any(|n| n.name() == r.name()) {
                        self.nested.push(r);
                    }
                }
                (av, kind)
            }
            Err(e) => {
                errors.push(format!(
                    "the nested graph `{}` is invalid: {e}",
                    inner.name()
                ));
                (String::new(), String::new())
            }
        };
        let name_value = name.to_field_value();
        let spec_value = serde_json::to_value(S2::status_node(&spec)).unwrap_or(json!({}));
        let template = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": name_value.clone()},
            "spec": spec_value,
        });
        let literal = name_value
            .as_str()
            .filter(|s| !s.contains("${"))
            .map(String::from);
        self.insert::<()>(
            id.to_string(),
            Built {
                template,
                errors,
                name: literal,
                pod_labels: BTreeMap::new(),
                name_value,
            },
        );
        Nested {
            id: id.to_string(),
            status: St2::reference(&RefBase::new(id, &["status"])),
        }
    }
}

impl<S: Schema, St: Schema> ResourceGraph<S, St> {
    /// Every RGD this graph needs, the graphs it nests first (each after
    /// those it nests), then its own; an invalid graph gives its build error.
    ///
    /// ```
    /// # use kroxide_dsl::*;
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct DbStatus { pub endpoint: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppSpec { pub name: String }
    /// # #[derive(Schema, Clone)]
    /// # pub struct AppStatus { pub database: String }
    /// # let db = ResourceGraph::<DbSpec, DbStatus>::new("database", "v1alpha1", "Database").build(|g, spec| {
    /// #     let svc = g.add(Service::new(&spec.name).port(5432));
    /// #     DbStatusExpr { endpoint: template!("{}:5432", svc.name()) }
    /// # });
    /// let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
    ///     let name = template!("{}-db", &spec.name);
    ///     let data = g.add_graph("data", &db, name.clone(), DbSpecExpr { name });
    ///     AppStatusExpr { database: data.status().endpoint.clone() }
    /// });
    /// let rgds = app.to_rgds().unwrap();
    /// assert_eq!(rgds.iter().map(|r| r.name()).collect::<Vec<_>>(), ["database", "app"]);
    /// assert_eq!(db.to_rgds().unwrap().len(), 1);
    /// ```
    pub fn to_rgds(&self) -> Result<Vec<ResourceGraphDefinition>, crate::graph::BuildError> {
        let own = self.to_rgd()?;
        let mut out = self.nested.clone();
        out.push(own);
        Ok(out)
    }
}
