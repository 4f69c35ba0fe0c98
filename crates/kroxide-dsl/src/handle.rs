//! Handles: typed references to resources already added to a graph.
//!
//! Using a handle (in an env var's secretKeyRef, a Service's selector, a
//! status expression) renders `${id.path}`, which makes a dependency edge.
//! No string ids or names in user code for the common cases.

use crate::expr::{Expr, Node, Seg};
use kroxide_model::{FieldPath, PathSegment};
use serde_json::Value;
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// A resource kind that a handle can point to.
pub trait Kind {
    const API_VERSION: &'static str;
    const KIND: &'static str;
}

/// A resource in a graph.
pub struct Handle<K> {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) pod_labels: BTreeMap<String, Value>,
    pub(crate) name_value: Value,
    _k: PhantomData<fn() -> K>,
}

impl<K> Clone for Handle<K> {
    fn clone(&self) -> Self {
        Handle {
            id: self.id.clone(),
            name: self.name.clone(),
            pod_labels: self.pod_labels.clone(),
            name_value: self.name_value.clone(),
            _k: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Handle<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handle({})", self.id)
    }
}

/// `metadata` of any resource.
#[derive(Clone, Debug)]
pub struct MetaRef {
    id: String,
}

impl MetaRef {
    pub fn name(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "name"])
    }
    pub fn namespace(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "namespace"])
    }
    pub fn uid(&self) -> Expr<String> {
        Expr::reference(&self.id, &["metadata", "uid"])
    }
    pub fn labels(&self) -> Expr<BTreeMap<String, String>> {
        Expr::reference(&self.id, &["metadata", "labels"])
    }
}

impl<K> Handle<K> {
    pub(crate) fn new(
        id: String,
        name: Option<String>,
        pod_labels: BTreeMap<String, Value>,
        name_value: Value,
    ) -> Self {
        Handle {
            name_value,
            id,
            name,
            pod_labels,
            _k: PhantomData,
        }
    }

    /// The resource id in the graph.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The literal name, when the name is not an expression.
    pub fn literal_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `${id.metadata.name}`.
    pub fn name(&self) -> Expr<String> {
        self.metadata().name()
    }

    pub fn metadata(&self) -> MetaRef {
        MetaRef {
            id: self.id.clone(),
        }
    }

    /// Any field, by path (`status.conditions[0].type`). The path is checked
    /// against the Kubernetes schema when the graph is built.
    pub fn field<T>(&self, path: &str) -> Expr<T> {
        let p = FieldPath::parse(path);
        Expr::from_node(Node::Ref {
            root: self.id.clone(),
            path: p
                .0
                .into_iter()
                .map(|s| match s {
                    PathSegment::Key(k) => Seg::Field(k),
                    PathSegment::Index(i) => Seg::Index(i),
                })
                .collect(),
        })
    }

    pub(crate) fn at<T>(&self, path: &[&str]) -> Expr<T> {
        Expr::reference(&self.id, path)
    }
}
