//! KRO's author-defined status conditions (KRO v0.9.3): conditions an
//! instance reports in `status.conditions` in place of KRO's own, each
//! computed by CEL from the resources. [`Graph::add_condition`] adds one;
//! the RGD gets a `status.conditions` entry
//! `${runtime.newCondition({type: ..., status: ...})}`, which kroxide
//! evaluates in direct mode as KRO does.
//!
//! ```
//! use kroxide_dsl::conditions::{kro_condition, new_condition, true_if};
//! use kroxide_dsl::*;
//! let mut g = Graph::default();
//! let web = g.add(Deployment::new("web", "nginx"));
//! let available: Expr<i64> = web.field("status.availableReplicas");
//! g.add_condition(
//!     new_condition("WebAvailable", true_if(available.ge(1)))
//!         .reason("Replicas")
//!         .message(available.to_string_expr()),
//! );
//! g.add_condition(new_condition("Ready", kro_condition("ResourcesReady").status()));
//! # let _ = web;
//! ```

use crate::expr::{cel, Expr, IntoExpr};
use crate::handle::Handle;
use crate::Graph;

/// The CEL type of a condition (`kro.run.Condition`: `type`, `status`,
/// `reason`, `message`, all strings).
#[derive(Clone, Copy, Debug)]
pub enum Condition {}

impl Expr<Condition> {
    /// `.type`.
    pub fn type_(&self) -> Expr<String> {
        self.child("type")
    }
    /// `.status`: `True`, `False` or `Unknown` (empty when the object has
    /// no such condition).
    pub fn status(&self) -> Expr<String> {
        self.child("status")
    }
    /// `.reason`.
    pub fn reason(&self) -> Expr<String> {
        self.child("reason")
    }
    /// `.message`.
    pub fn message(&self) -> Expr<String> {
        self.child("message")
    }
}

/// A condition to report: `runtime.newCondition({type: ..., status: ...})`.
/// `status` must give `True`, `False` or `Unknown` (see [`true_if`]).
///
/// ```
/// use kroxide_dsl::conditions::new_condition;
/// let c = new_condition("Configured", "True").reason("Rendered").message("done");
/// assert_eq!(
///     c.to_expr().to_cel(),
///     r#"runtime.newCondition({type: "Configured", status: "True", reason: "Rendered", message: "done"})"#
/// );
/// ```
pub fn new_condition(type_: impl IntoExpr<String>, status: impl IntoExpr<String>) -> NewCondition {
    NewCondition {
        type_: type_.into_expr(),
        status: status.into_expr(),
        reason: None,
        message: None,
    }
}

/// A condition being built by [`new_condition`].
#[derive(Clone, Debug)]
pub struct NewCondition {
    type_: Expr<String>,
    status: Expr<String>,
    reason: Option<Expr<String>>,
    message: Option<Expr<String>>,
}

impl NewCondition {
    /// Its reason (a CamelCase word, by Kubernetes convention).
    pub fn reason(mut self, reason: impl IntoExpr<String>) -> Self {
        self.reason = Some(reason.into_expr());
        self
    }
    /// Its message, for people.
    pub fn message(mut self, message: impl IntoExpr<String>) -> Self {
        self.message = Some(message.into_expr());
        self
    }
    /// The CEL expression.
    pub fn to_expr(&self) -> Expr<Condition> {
        let mut fields = vec![
            format!("type: {}", self.type_.to_cel()),
            format!("status: {}", self.status.to_cel()),
        ];
        if let Some(r) = &self.reason {
            fields.push(format!("reason: {}", r.to_cel()));
        }
        if let Some(m) = &self.message {
            fields.push(format!("message: {}", m.to_cel()));
        }
        cel(&format!("runtime.newCondition({{{}}})", fields.join(", ")))
    }
}

impl IntoExpr<Condition> for NewCondition {
    fn into_expr(self) -> Expr<Condition> {
        self.to_expr()
    }
}

/// `"True"` when `b` holds, else `"False"`: a condition's status.
///
/// ```
/// use kroxide_dsl::conditions::true_if;
/// use kroxide_dsl::Expr;
/// let ready: Expr<bool> = Expr::reference("schema", &["spec", "enabled"]);
/// assert_eq!(true_if(ready).to_cel(), r#"schema.spec.enabled ? "True" : "False""#);
/// ```
pub fn true_if(b: impl IntoExpr<bool>) -> Expr<String> {
    b.into_expr().then_else("True", "False")
}

/// The condition `type_` of a resource (`runtime.condition(web, 'Progressing')`);
/// every field is empty when the object has none.
///
/// ```
/// use kroxide_dsl::conditions::condition_of;
/// use kroxide_dsl::*;
/// let mut g = Graph::default();
/// let web = g.add(Deployment::new("web", "nginx"));
/// assert_eq!(
///     condition_of(&web, "Progressing").reason().to_cel(),
///     r#"(runtime.condition(webDeployment, "Progressing")).reason"#
/// );
/// ```
pub fn condition_of<K>(resource: &Handle<K>, type_: &str) -> Expr<Condition> {
    cel(&format!(
        "runtime.condition({}, {})",
        resource.id(),
        crate::lit(type_.to_string()).to_cel()
    ))
}

/// One of KRO's own conditions of the instance, as computed in this
/// reconcile: `InstanceManaged`, `GraphResolved`, `ResourcesReady` or
/// `Ready` (KRO refuses any other type here, and so does the build).
///
/// ```
/// use kroxide_dsl::conditions::kro_condition;
/// assert_eq!(
///     kro_condition("Ready").status().to_cel(),
///     r#"(runtime.condition(schema, "Ready")).status"#
/// );
/// ```
pub fn kro_condition(type_: &str) -> Expr<Condition> {
    cel(&format!(
        "runtime.condition(schema, {})",
        crate::lit(type_.to_string()).to_cel()
    ))
}

impl Graph {
    /// Reports `condition` in the instance's `status.conditions` (KRO
    /// then writes the author's conditions only, in the order added).
    ///
    /// ```
    /// use kroxide_dsl::conditions::{new_condition, true_if};
    /// use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// let cfg = g.add(ConfigMap::new("settings"));
    /// g.add_condition(new_condition("Configured", true_if(has(&cfg.field::<String>("data.mode")))));
    /// ```
    pub fn add_condition(&mut self, condition: impl IntoExpr<Condition>) {
        self.conditions.push(condition.into_expr().to_string());
    }

    /// Reports every condition of a list (e.g. one per item of a collection:
    /// `${items.map(i, runtime.newCondition(...))}`).
    ///
    /// ```
    /// use kroxide_dsl::*;
    /// let mut g = Graph::default();
    /// g.add_conditions(cel("schema.spec.regions.map(r, runtime.newCondition({type: 'Region-' + r, status: 'True'}))"));
    /// ```
    pub fn add_conditions(&mut self, conditions: Expr<Vec<Condition>>) {
        self.conditions.push(conditions.to_string());
    }
}
