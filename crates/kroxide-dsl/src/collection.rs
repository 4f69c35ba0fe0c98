//! Collections: KRO's `forEach`, one object per element of a list.
//!
//! [`Graph::for_each`] builds the template from the element as a typed
//! expression (the iterator variable), so the same builders as for one
//! object apply; the handle it returns reads the collection as KRO lets
//! other resources and the status read it: its size, one object by index,
//! a field of every object as a list.

use crate::expr::{cel, Expr, IntoExpr};
use crate::graph::Graph;
use crate::handle::{Handle, Kind};
use crate::resources::IntoResource;
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// The kind of a collection of `K` objects (a [`Graph::for_each`] handle).
///
/// ```
/// # use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let webs: Handle<Each<Deployment>> = g.for_each("webs", "svc", cel::<Vec<String>>("schema.spec.services"),
///     |svc| Deployment::new(svc, "nginx"));
/// assert_eq!(webs.item(1).status().ready_replicas().to_cel(), "webs[1].status.readyReplicas");
/// assert_eq!(<Each<Deployment> as Kind>::KIND, "Deployment");
/// ```
pub struct Each<K>(PhantomData<fn() -> K>);

impl<K: Kind> Kind for Each<K> {
    const API_VERSION: &'static str = K::API_VERSION;
    const KIND: &'static str = K::KIND;
}

impl<K> Handle<Each<K>> {
    /// How many objects the collection has: `size(id)`.
    ///
    /// ```
    /// # use kroxide_dsl::{cel, ConfigMap, Graph};
    /// let mut g = Graph::default();
    /// let configs = g.for_each("configs", "svc", cel::<Vec<String>>("schema.spec.services"),
    ///     |svc| ConfigMap::new(svc).data("level", "info"));
    /// assert_eq!(configs.size().to_cel(), "size(configs)");
    /// ```
    pub fn size(&self) -> Expr<i64> {
        cel(&format!("size({})", self.id()))
    }

    /// The `i`th object, in forEach order, as a handle of its kind: its
    /// fields read as `id[i].path`.
    ///
    /// ```
    /// # use kroxide_dsl::{cel, ConfigMap, Graph};
    /// let mut g = Graph::default();
    /// let configs = g.for_each("configs", "svc", cel::<Vec<String>>("schema.spec.services"),
    ///     |svc| ConfigMap::new(svc));
    /// assert_eq!(configs.item(0).name().to_cel(), "configs[0].metadata.name");
    /// ```
    pub fn item(&self, i: usize) -> Handle<K> {
        Handle::new(
            format!("{}[{i}]", self.id()),
            None,
            BTreeMap::new(),
            Value::Null,
        )
    }

    /// One field of every object, as a list: `id.map(o, o.path)`.
    ///
    /// ```
    /// # use kroxide_dsl::{cel, ConfigMap, Graph};
    /// let mut g = Graph::default();
    /// let configs = g.for_each("configs", "svc", cel::<Vec<String>>("schema.spec.services"),
    ///     |svc| ConfigMap::new(svc));
    /// assert_eq!(configs.map::<String>("metadata.name").to_cel(), "configs.map(o, o.metadata.name)");
    /// ```
    pub fn map<T>(&self, path: &str) -> Expr<Vec<T>> {
        cel(&format!("{}.map(o, o.{path})", self.id()))
    }
}

impl Graph {
    /// A collection (KRO's `forEach`): one object per element of `list`,
    /// built by `build` from the element, a typed expression named `var`
    /// in the rendered graph. `id` names the collection; its objects'
    /// names must differ per element (build them from the element).
    ///
    /// ```
    /// use kroxide_dsl::{cel, ConfigMap, Expr, Graph};
    /// let mut g = Graph::default();
    /// let services: Expr<Vec<String>> = cel("schema.spec.services");
    /// let configs = g.for_each("configs", "svc", services, |svc| {
    ///     ConfigMap::new(svc.clone()).data("service", svc)
    /// });
    /// let r = &g.resources()[0];
    /// assert_eq!(r.id, "configs");
    /// assert_eq!(r.for_each[0]["svc"], "${schema.spec.services}");
    /// assert_eq!(r.template.as_ref().unwrap()["metadata"]["name"], "${svc}");
    /// assert_eq!(configs.size().to_cel(), "size(configs)");
    /// ```
    pub fn for_each<T, R: IntoResource>(
        &mut self,
        id: &str,
        var: &str,
        list: impl IntoExpr<Vec<T>>,
        build: impl FnOnce(Expr<T>) -> R,
    ) -> Handle<Each<R::Kind>> {
        if !is_variable(var) {
            self.problems.push(format!(
                "collection `{id}`: `{var}` cannot name its element: use letters, digits and _, starting with a letter"
            ));
        }
        let element = Expr::<T>::reference(var, &[]);
        let built = build(element).into_built();
        let list = list.into_expr();
        let handle: Handle<R::Kind> = self.insert(id.to_string(), built);
        if let Some(r) = self.resource_mut(handle.id()) {
            let mut it = IndexMap::new();
            it.insert(var.to_string(), format!("${{{}}}", list.to_cel()));
            r.for_each.push(it);
        }
        Handle::new(handle.id().to_string(), None, BTreeMap::new(), Value::Null)
    }

    /// The collection is ready when `cond` holds for each of its objects
    /// (KRO's `readyWhen` over `each`).
    ///
    /// ```
    /// use kroxide_dsl::{cel, Deployment, Graph};
    /// let mut g = Graph::default();
    /// let webs = g.for_each("webs", "svc", cel::<Vec<String>>("schema.spec.services"),
    ///     |svc| Deployment::new(svc, "nginx:1.27"));
    /// g.ready_when_each(&webs, |each| each.status().ready_replicas().eq(each.spec().replicas()));
    /// assert_eq!(g.resources()[0].ready_when[0], "${each.status.readyReplicas == each.spec.replicas}");
    /// ```
    pub fn ready_when_each<K>(
        &mut self,
        h: &Handle<Each<K>>,
        cond: impl FnOnce(&Handle<K>) -> Expr<bool>,
    ) {
        let each: Handle<K> = Handle::new("each".into(), None, BTreeMap::new(), Value::Null);
        let v = format!("${{{}}}", cond(&each).to_cel());
        if let Some(r) = self.resource_mut(h.id()) {
            r.ready_when.push(v);
        }
    }
}

fn is_variable(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
