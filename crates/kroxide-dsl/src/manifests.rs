//! Existing YAML manifests as resources of a graph (TypeKro's `yamlFile` and
//! `yamlDirectory`): a file, a directory or a string of Kubernetes objects,
//! each added as one resource, with any field overridden by a typed
//! expression of the graph.
//!
//! ```
//! use kroxide_dsl::manifests::Manifests;
//! use kroxide_dsl::{Graph, ResourceGraph, Schema};
//! # use serde::{Deserialize, Serialize};
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct CacheSpec { pub replicas: i32 }
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct CacheStatus { pub ready: i64 }
//!
//! let yaml = r#"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: redis, labels: {app: redis}}
//! spec:
//!   replicas: 1
//!   selector: {matchLabels: {app: redis}}
//!   template:
//!     metadata: {labels: {app: redis}}
//!     spec: {containers: [{name: redis, image: "redis:7"}]}
//! ---
//! apiVersion: v1
//! kind: Service
//! metadata: {name: redis}
//! spec: {selector: {app: redis}, ports: [{port: 6379}]}
//! "#;
//! let cache = ResourceGraph::<CacheSpec, CacheStatus>::new("cache", "v1alpha1", "Cache")
//!     .build(|g, spec| {
//!         let m = Manifests::from_str("redis.yaml", yaml)
//!             .unwrap()
//!             .with("Deployment", "redis", |d| d.set("spec.replicas", &spec.replicas));
//!         let added = g.add_manifests(m);
//!         let redis = added.get("Deployment", "redis").unwrap();
//!         CacheStatusExpr { ready: redis.field("status.readyReplicas") }
//!     });
//! let rgd = cache.to_rgd().unwrap();
//! assert_eq!(rgd.spec.resources.len(), 2);
//! assert_eq!(rgd.spec.resources[0].template.as_ref().unwrap()["spec"]["replicas"], "${schema.spec.replicas}");
//! ```

use crate::graph::Graph;
use crate::handle::Handle;
use crate::resources::{AnyKind, Object};
use serde_json::Value;
use std::path::Path;

/// Why manifests could not be read.
#[derive(Debug, thiserror::Error)]
///
/// ```
/// use kroxide_dsl::manifests::{ManifestError, Manifests};
/// let err = Manifests::from_str("bad.yaml", "kind: ConfigMap\n").err().unwrap();
/// assert!(matches!(&err, ManifestError::Document { document: 1, .. }));
/// assert!(err.to_string().contains("needs apiVersion, kind and metadata.name"));
/// ```
pub enum ManifestError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Yaml(#[from] kroxide_model::LoadError),
    /// A document that is not a Kubernetes object kroxide can add.
    #[error("{file}:{line}: document {document}: {problem}")]
    Document {
        file: String,
        line: u32,
        document: usize,
        problem: String,
    },
    #[error("{0}: no *.yaml or *.yml file")]
    Empty(String),
}

/// Manifests read from YAML, to add to a graph with [`Graph::add_manifests`].
///
/// ```
/// use kroxide_dsl::manifests::Manifests;
/// let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n";
/// let m = Manifests::from_str("settings.yaml", yaml).unwrap();
/// assert_eq!(m.names().collect::<Vec<_>>(), [("ConfigMap", "settings")]);
/// ```
pub struct Manifests {
    objects: Vec<(String, String, Object)>,
    problems: Vec<String>,
}

/// The first string holding `${` in `v`, by path: KRO would read it as an
/// expression.
fn placeholder(v: &Value, path: &mut Vec<String>) -> Option<String> {
    match v {
        Value::String(s) if s.contains("${") => Some(path.join(".")),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            path.push(k.clone());
            let found = placeholder(x, path);
            path.pop();
            found
        }),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| {
            path.push(format!("[{i}]"));
            let found = placeholder(x, path);
            path.pop();
            found
        }),
        _ => None,
    }
}

impl Manifests {
    /// The objects of the YAML documents in `yaml` (`name` is shown in
    /// errors); a `kind: List` stands for its items.
    ///
    /// ```
    /// use kroxide_dsl::manifests::Manifests;
    /// let yaml = r#"
    /// apiVersion: v1
    /// kind: List
    /// items:
    /// - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
    /// - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
    /// "#;
    /// let m = Manifests::from_str("list.yaml", yaml).unwrap();
    /// assert_eq!(m.names().map(|(_, n)| n).collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn from_str(name: &str, yaml: &str) -> Result<Self, ManifestError> {
        let docs = kroxide_model::load_documents(name, yaml)?;
        let mut objects = Vec::new();
        for (i, (doc, source)) in docs.into_iter().enumerate() {
            let line = source
                .locate(&kroxide_model::FieldPath::root())
                .map(|l| l.line)
                .unwrap_or(1);
            let bad = |problem: String| ManifestError::Document {
                file: name.to_string(),
                line,
                document: i + 1,
                problem,
            };
            let items = match doc {
                Value::Null => continue,
                Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                    match m.get("items") {
                        Some(Value::Array(items)) => items.clone(),
                        _ => return Err(bad("a List without items".into())),
                    }
                }
                Value::Object(_) => vec![doc],
                _ => return Err(bad("not a Kubernetes object (a mapping)".into())),
            };
            for o in items {
                let av = o.get("apiVersion").and_then(Value::as_str);
                let kind = o.get("kind").and_then(Value::as_str);
                let obj_name = kroxide_model::meta_str(&o, "name");
                let (Some(av), Some(kind), Some(obj_name)) = (av, kind, obj_name) else {
                    return Err(bad(
                        "a manifest needs apiVersion, kind and metadata.name".into()
                    ));
                };
                if let Some(at) = placeholder(&o, &mut Vec::new()) {
                    return Err(bad(format!(
                        "{kind} {obj_name}: {at} holds `${{`, which KRO reads as an expression; set that field from the graph with `with(\"{kind}\", \"{obj_name}\", |o| o.set(\"{at}\", ..))` instead"
                    )));
                }
                let (kind, obj_name) = (kind.to_string(), obj_name.to_string());
                let _ = av;
                objects.push((kind, obj_name, Object::from_json(o)));
            }
        }
        Ok(Manifests {
            objects,
            problems: Vec::new(),
        })
    }

    /// The objects of the YAML file at `path`.
    ///
    /// ```
    /// use kroxide_dsl::manifests::{ManifestError, Manifests};
    /// let path = std::env::temp_dir().join(format!("kroxide-doc-{}.yaml", std::process::id()));
    /// std::fs::write(&path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n").unwrap();
    /// let m = Manifests::from_file(&path).unwrap();
    /// assert_eq!(m.names().collect::<Vec<_>>(), [("Namespace", "shop")]);
    /// std::fs::remove_file(&path).unwrap();
    /// assert!(matches!(Manifests::from_file(&path), Err(ManifestError::Io { .. })));
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            file: name.clone(),
            source,
        })?;
        Self::from_str(&name, &text)
    }

    /// The objects of every `*.yaml` and `*.yml` file in the directory
    /// `path` (not its subdirectories), in file-name order.
    ///
    /// ```
    /// use kroxide_dsl::manifests::{ManifestError, Manifests};
    /// let dir = std::env::temp_dir().join(format!("kroxide-doc-dir-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// assert!(matches!(Manifests::from_dir(&dir), Err(ManifestError::Empty(_))));
    /// std::fs::write(dir.join("b.yml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n").unwrap();
    /// std::fs::write(dir.join("a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").unwrap();
    /// let m = Manifests::from_dir(&dir).unwrap();
    /// assert_eq!(m.names().map(|(_, n)| n).collect::<Vec<_>>(), ["a", "b"]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn from_dir(path: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |source| ManifestError::Io {
            file: name.clone(),
            source,
        };
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.is_file()
                    && matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(ManifestError::Empty(name));
        }
        let mut all = Manifests {
            objects: Vec::new(),
            problems: Vec::new(),
        };
        for f in files {
            all.objects.extend(Self::from_file(f)?.objects);
        }
        Ok(all)
    }

    /// How many objects.
    ///
    /// ```
    /// # use kroxide_dsl::manifests::Manifests;
    /// # let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n";
    /// let m = Manifests::from_str("app.yaml", yaml).unwrap();
    /// assert_eq!(m.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are none.
    ///
    /// ```
    /// use kroxide_dsl::manifests::Manifests;
    /// assert!(Manifests::from_str("empty.yaml", "---\n").unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// `(kind, name)` of each object, in order.
    ///
    /// ```
    /// # use kroxide_dsl::manifests::Manifests;
    /// # let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n";
    /// let m = Manifests::from_str("app.yaml", yaml).unwrap();
    /// assert_eq!(m.names().collect::<Vec<_>>(), [("ConfigMap", "settings"), ("Secret", "creds")]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.objects
            .iter()
            .map(|(k, n, _)| (k.as_str(), n.as_str()))
    }

    /// Changes the object of `kind` named `name` with `f` (for instance
    /// [`Object::set`] with an expression of the graph). No such object is
    /// a build error of the graph that names what there is.
    ///
    /// ```
    /// # use kroxide_dsl::{manifests::Manifests, Expr, Graph};
    /// # let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n";
    /// let mode: Expr<String> = Expr::reference("schema", &["spec", "mode"]);
    /// let m = Manifests::from_str("app.yaml", yaml).unwrap()
    ///     .with("ConfigMap", "settings", |o| o.set("data.mode", &mode));
    /// let mut g = Graph::default();
    /// g.add_manifests(m);
    /// assert_eq!(g.resources()[0].template.as_ref().unwrap()["data"]["mode"], "${schema.spec.mode}");
    /// ```
    pub fn with(mut self, kind: &str, name: &str, f: impl FnOnce(Object) -> Object) -> Self {
        match self
            .objects
            .iter()
            .position(|(k, n, _)| k == kind && n == name)
        {
            Some(i) => {
                let (k, n, o) = self.objects.remove(i);
                self.objects.insert(i, (k, n, f(o)));
            }
            None => {
                let have: Vec<String> = self.names().map(|(k, n)| format!("{k}/{n}")).collect();
                self.problems.push(format!(
                    "the manifests have no {kind} named `{name}` (they have {})",
                    have.join(", ")
                ));
            }
        }
        self
    }
}

/// The resources [`Graph::add_manifests`] added.
///
/// ```
/// # use kroxide_dsl::{manifests::{AddedManifests, Manifests}, Graph};
/// # let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n";
/// let mut g = Graph::default();
/// let added: AddedManifests = g.add_manifests(Manifests::from_str("app.yaml", yaml).unwrap());
/// assert_eq!(added.get("Secret", "creds").unwrap().id(), "credsSecret");
/// ```
pub struct AddedManifests {
    handles: Vec<(String, String, Handle<AnyKind>)>,
}

impl AddedManifests {
    /// The resource made of the object of `kind` named `name`.
    ///
    /// ```
    /// # use kroxide_dsl::{manifests::Manifests, Graph};
    /// # let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n";
    /// let mut g = Graph::default();
    /// let added = g.add_manifests(Manifests::from_str("app.yaml", yaml).unwrap());
    /// let settings = added.get("ConfigMap", "settings").unwrap();
    /// assert_eq!(settings.field::<String>("data.mode").to_cel(), "settingsConfigMap.data.mode");
    /// assert!(added.get("ConfigMap", "creds").is_none());
    /// ```
    pub fn get(&self, kind: &str, name: &str) -> Option<&Handle<AnyKind>> {
        self.handles
            .iter()
            .find(|(k, n, _)| k == kind && n == name)
            .map(|(_, _, h)| h)
    }

    /// Every resource, in the manifests' order.
    ///
    /// ```
    /// # use kroxide_dsl::{manifests::Manifests, Graph};
    /// # let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n";
    /// let mut g = Graph::default();
    /// let added = g.add_manifests(Manifests::from_str("app.yaml", yaml).unwrap());
    /// assert_eq!(added.handles().map(|h| h.id()).collect::<Vec<_>>(), ["settingsConfigMap", "credsSecret"]);
    /// ```
    pub fn handles(&self) -> impl Iterator<Item = &Handle<AnyKind>> {
        self.handles.iter().map(|(_, _, h)| h)
    }
}

impl Graph {
    /// Adds each object of `m` as a resource (ids derived from names and
    /// kinds, as [`Graph::add`] does).
    ///
    /// ```
    /// # use kroxide_dsl::{manifests::Manifests, Graph};
    /// # let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n";
    /// let mut g = Graph::default();
    /// g.add_manifests(Manifests::from_str("app.yaml", yaml).unwrap());
    /// let ids: Vec<&str> = g.resources().iter().map(|r| r.id.as_str()).collect();
    /// assert_eq!(ids, ["settingsConfigMap", "credsSecret"]);
    /// ```
    pub fn add_manifests(&mut self, m: Manifests) -> AddedManifests {
        self.problems.extend(m.problems);
        let handles = m
            .objects
            .into_iter()
            .map(|(k, n, o)| {
                let h = self.add(o);
                (k, n, h)
            })
            .collect();
        AddedManifests { handles }
    }
}
