//! The bridge between Rust types and SimpleSchema: what `#[derive(Schema)]`
//! implements, and the impls for Rust's own types.
//!
//! A spec type gives its SimpleSchema and a typed *reference tree*
//! (`spec.gateway.replicas` is an `Expr<i64>` that renders
//! `${schema.spec.gateway.replicas}`); a status type gives the struct of
//! expressions the status closure must fill in.

use crate::expr::{Expr, Node, Seg};
use indexmap::IndexMap;
use kroxide_model::{FieldNode, FieldTree};
use std::collections::{BTreeMap, HashMap};

/// A field's SimpleSchema: a leaf (`integer`, `string | enum="a,b"`) or a
/// nested object.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// use kroxide_dsl::schema::{Schema, SimpleType, Types};
/// # #[derive(kroxide_dsl::Schema)]
/// # pub struct Gateway { pub replicas: i32 }
/// let mut types = Types::default();
/// assert_eq!(<i32 as Schema>::simple_type(&mut types), SimpleType::Leaf("integer".into()));
/// assert!(matches!(Gateway::simple_type(&mut types), SimpleType::Object(tree) if tree.contains_key("replicas")));
/// ```
pub enum SimpleType {
    Leaf(String),
    Object(FieldTree),
}

/// Custom types collected while describing a schema (for `[]T` and
/// `map[string]T` of structs, which SimpleSchema writes by name).
#[derive(Clone, Debug, Default)]
///
/// ```
/// use kroxide_dsl::schema::{Schema, SimpleType, Types};
/// #[derive(kroxide_dsl::Schema)]
/// pub struct Port { pub number: i32 }
/// let mut types = Types::default();
/// assert_eq!(<Vec<Port>>::simple_type(&mut types), SimpleType::Leaf("[]Port".into()));
/// assert!(types.0.contains_key("Port"));
/// ```
pub struct Types(pub IndexMap<String, FieldNode>);

/// Where a reference tree is rooted: `schema.spec`, `deployment.status`...
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// use kroxide_dsl::schema::RefBase;
/// let base = RefBase::new("schema", &["spec"]).child("gateway");
/// assert_eq!(base.path, ["spec", "gateway"]);
/// assert_eq!(base.expr::<String>().to_cel(), "schema.spec.gateway");
/// ```
pub struct RefBase {
    pub root: String,
    pub path: Vec<String>,
}

impl RefBase {
    /// A place `root.path...`.
    ///
    /// ```
    /// use kroxide_dsl::schema::RefBase;
    /// let base = RefBase::new("webDeployment", &["status"]);
    /// assert_eq!(base.root, "webDeployment");
    /// assert_eq!(base.expr::<()>().to_cel(), "webDeployment.status");
    /// ```
    pub fn new(root: &str, path: &[&str]) -> Self {
        RefBase {
            root: root.into(),
            path: path.iter().map(|s| s.to_string()).collect(),
        }
    }
    /// The place of field `f` under this one.
    ///
    /// ```
    /// use kroxide_dsl::schema::RefBase;
    /// let spec = RefBase::new("schema", &["spec"]);
    /// assert_eq!(spec.child("replicas").expr::<i64>().to_cel(), "schema.spec.replicas");
    /// ```
    pub fn child(&self, f: &str) -> RefBase {
        let mut p = self.path.clone();
        p.push(f.to_string());
        RefBase {
            root: self.root.clone(),
            path: p,
        }
    }
    /// An expression reading this place.
    ///
    /// ```
    /// use kroxide_dsl::schema::RefBase;
    /// let domain = RefBase::new("schema", &["spec", "domain"]).expr::<String>();
    /// assert_eq!(domain.to_string(), "${schema.spec.domain}");
    /// ```
    pub fn expr<T>(&self) -> Expr<T> {
        Expr::from_node(Node::Ref {
            root: self.root.clone(),
            path: self.path.iter().map(|s| Seg::Field(s.clone())).collect(),
        })
    }
}

/// A type that has a SimpleSchema. Derive it with `#[derive(Schema)]`.
///
/// ```
/// use kroxide_dsl::schema::{RefBase, Schema};
/// #[derive(kroxide_dsl::Schema)]
/// pub struct WebSpec { pub replicas: i32, pub image: String }
/// let spec = WebSpec::reference(&RefBase::new("schema", &["spec"]));
/// assert_eq!(spec.replicas.to_cel(), "schema.spec.replicas");
/// assert_eq!(spec.image.starts_with("ghcr.io/").to_cel(), r#"schema.spec.image.startsWith("ghcr.io/")"#);
/// ```
pub trait Schema {
    /// The typed reference tree of a value of this type.
    type Ref: Clone;
    /// The expressions that compute a value of this type (for status).
    type Exprs;
    /// The name a struct has under `types`, when it needs one.
    ///
    /// ```
    /// use kroxide_dsl::schema::Schema;
    /// #[derive(kroxide_dsl::Schema)]
    /// pub struct Port { pub number: i32 }
    /// assert_eq!(Port::type_name(), Some("Port"));
    /// assert_eq!(<i32 as Schema>::type_name(), None);
    /// ```
    fn type_name() -> Option<&'static str> {
        None
    }
    /// How a field of this type is written.
    ///
    /// ```
    /// use kroxide_dsl::schema::{Schema, SimpleType, Types};
    /// use std::collections::BTreeMap;
    /// let mut types = Types::default();
    /// assert_eq!(<Vec<String>>::simple_type(&mut types), SimpleType::Leaf("[]string".into()));
    /// assert_eq!(<BTreeMap<String, i64>>::simple_type(&mut types), SimpleType::Leaf("map[string]integer".into()));
    /// ```
    fn simple_type(types: &mut Types) -> SimpleType;
    /// The reference tree rooted at `base`.
    ///
    /// ```
    /// use kroxide_dsl::schema::{RefBase, Schema};
    /// let hosts = <Vec<String>>::reference(&RefBase::new("schema", &["spec", "hosts"]));
    /// assert_eq!(hosts.at(0).to_cel(), "schema.spec.hosts[0]");
    /// ```
    fn reference(base: &RefBase) -> Self::Ref;
    /// The status tree for the given expressions.
    ///
    /// ```
    /// use kroxide_dsl::{schema::Schema, Expr};
    /// use kroxide_model::FieldNode;
    /// #[derive(kroxide_dsl::Schema)]
    /// pub struct AppStatus { pub ready: i64 }
    /// let ready = Expr::reference("web", &["status", "readyReplicas"]);
    /// let node = AppStatus::status_node(&AppStatusExpr { ready });
    /// let FieldNode::Object(tree) = node else { panic!() };
    /// assert_eq!(tree["ready"], FieldNode::Leaf("${web.status.readyReplicas}".into()));
    /// ```
    fn status_node(e: &Self::Exprs) -> FieldNode;
    /// Whether serde may write this type as `null` (`Option<T>`), which the
    /// API server drops: a field of such a type is never `required=true`.
    #[doc(hidden)]
    fn nullable() -> bool {
        false
    }
}

/// `#[derive(Schema)]`: see the `kroxide-derive` crate for what it
/// generates and which serde attributes it follows.
pub use kroxide_derive::Schema;

/// A struct whose fields `#[serde(flatten)]` can merge into another's:
/// implemented by `#[derive(Schema)]` on structs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be flattened into a Schema struct",
    label = "#[serde(flatten)] needs a struct that derives Schema",
    note = "SimpleSchema can merge the fields of a struct; a flattened map or enum has no SimpleSchema form"
)]
/// ```
/// use kroxide_dsl::schema::{Schema, SimpleType, Types};
/// #[derive(kroxide_dsl::Schema, serde::Serialize)]
/// pub struct Owner { pub team: String }
/// #[derive(kroxide_dsl::Schema, serde::Serialize)]
/// pub struct AppSpec { #[serde(flatten)] pub owner: Owner, pub replicas: i32 }
/// let SimpleType::Object(tree) = AppSpec::simple_type(&mut Types::default()) else { panic!() };
/// assert_eq!(tree.keys().collect::<Vec<_>>(), ["team", "replicas"]);
/// ```
pub trait SchemaStruct: Schema {
    /// The struct's fields; with `optional`, none is `required=true`.
    #[doc(hidden)]
    fn schema_fields(types: &mut Types, optional: bool) -> FieldTree;
}

/// Merges a flattened struct's fields (used by `#[derive(Schema)]`).
#[doc(hidden)]
pub fn flatten_into<T: SchemaStruct>(tree: &mut FieldTree, types: &mut Types, optional: bool) {
    tree.extend(T::schema_fields(types, optional));
}

/// Merges a flattened struct's status (used by `#[derive(Schema)]`).
#[doc(hidden)]
pub fn flatten_status(tree: &mut FieldTree, node: FieldNode) {
    if let FieldNode::Object(t) = node {
        tree.extend(t);
    }
}

/// The SimpleSchema `default=` value of a serde default, when SimpleSchema
/// can write it (not `null`). Used by `#[derive(Schema)]`.
#[doc(hidden)]
pub fn default_marker<T: serde::Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v).ok()? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(quote_marker(&s)),
        other => Some(other.to_string()),
    }
}

/// Unit-variant enums: their values are strings.
///
/// ```
/// use kroxide_dsl::schema::SchemaEnum;
/// #[derive(kroxide_dsl::Schema, serde::Serialize)]
/// #[serde(rename_all = "lowercase")]
/// pub enum Tier { Small, Large }
/// assert_eq!(Tier::Large.wire_name(), "large");
/// ```
pub trait SchemaEnum {
    /// The wire name of this variant.
    ///
    /// ```
    /// # use kroxide_dsl::schema::SchemaEnum;
    /// #[derive(kroxide_dsl::Schema, serde::Serialize)]
    /// pub enum Mode { #[serde(rename = "read-only")] ReadOnly, Write }
    /// assert_eq!((Mode::ReadOnly.wire_name(), Mode::Write.wire_name()), ("read-only", "Write"));
    /// ```
    fn wire_name(&self) -> &'static str;
}

impl<E: SchemaEnum> Expr<E> {
    /// The enum value as a string.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// #[derive(kroxide_dsl::Schema, serde::Serialize)]
    /// #[serde(rename_all = "lowercase")]
    /// pub enum Tier { Small, Large }
    /// let tier: Expr<Tier> = Expr::reference("schema", &["spec", "tier"]);
    /// assert_eq!(tier.as_str().upper().to_cel(), "schema.spec.tier.upperAscii()");
    /// ```
    pub fn as_str(&self) -> Expr<String> {
        Expr::from_node(self.node().clone())
    }
}

/// The status leaf of an expression: always `${...}` (a literal becomes a
/// constant expression, which the validator then reports: status must read
/// the graph).
///
/// ```
/// use kroxide_dsl::{lit, schema::status_leaf, Expr};
/// use kroxide_model::FieldNode;
/// let ready: Expr<i64> = Expr::reference("web", &["status", "readyReplicas"]);
/// assert_eq!(status_leaf(&ready), FieldNode::Leaf("${web.status.readyReplicas}".into()));
/// assert_eq!(status_leaf(&lit(3)), FieldNode::Leaf("${3}".into()));
/// ```
pub fn status_leaf<T>(e: &Expr<T>) -> FieldNode {
    match e.node() {
        Node::Lit(_) => FieldNode::Leaf(format!("${{{}}}", e.to_cel())),
        _ => match e.to_field_value() {
            serde_json::Value::String(s) => FieldNode::Leaf(s),
            v => FieldNode::Leaf(format!("${{{v}}}")),
        },
    }
}

macro_rules! leaf {
    ($t:ty, $expr:ty, $simple:literal) => {
        impl Schema for $t {
            type Ref = Expr<$expr>;
            type Exprs = Expr<$expr>;
            fn simple_type(_: &mut Types) -> SimpleType {
                SimpleType::Leaf($simple.to_string())
            }
            fn reference(base: &RefBase) -> Self::Ref {
                base.expr()
            }
            fn status_node(e: &Self::Exprs) -> FieldNode {
                status_leaf(e)
            }
        }
    };
}
leaf!(String, String, "string");
leaf!(bool, bool, "boolean");
leaf!(i8, i64, "integer");
leaf!(i16, i64, "integer");
leaf!(i32, i64, "integer");
leaf!(i64, i64, "integer");
leaf!(u8, i64, "integer");
leaf!(u16, i64, "integer");
leaf!(u32, i64, "integer");
leaf!(f32, f64, "float");
leaf!(f64, f64, "float");

fn base_type(s: &str) -> &str {
    s.split('|').next().unwrap_or(s).trim()
}

fn element<T: Schema>(types: &mut Types) -> String {
    match T::simple_type(types) {
        SimpleType::Leaf(s) => base_type(&s).to_string(),
        SimpleType::Object(tree) => {
            let name = T::type_name().unwrap_or("Object").to_string();
            types.0.insert(name.clone(), FieldNode::Object(tree));
            name
        }
    }
}

impl<T: Schema> Schema for Vec<T> {
    type Ref = Expr<Vec<T>>;
    type Exprs = Expr<Vec<T>>;
    fn simple_type(types: &mut Types) -> SimpleType {
        SimpleType::Leaf(format!("[]{}", element::<T>(types)))
    }
    fn reference(base: &RefBase) -> Self::Ref {
        base.expr()
    }
    fn status_node(e: &Self::Exprs) -> FieldNode {
        status_leaf(e)
    }
}

macro_rules! map_schema {
    ($($m:ident),*) => {$(
        impl<T: Schema> Schema for $m<String, T> {
            type Ref = Expr<BTreeMap<String, T>>;
            type Exprs = Expr<BTreeMap<String, T>>;
            fn simple_type(types: &mut Types) -> SimpleType {
                SimpleType::Leaf(format!("map[string]{}", element::<T>(types)))
            }
            fn reference(base: &RefBase) -> Self::Ref {
                base.expr()
            }
            fn status_node(e: &Self::Exprs) -> FieldNode {
                status_leaf(e)
            }
        }
    )*};
}
map_schema!(BTreeMap, HashMap);

impl<T: Schema> Schema for Option<T> {
    type Ref = T::Ref;
    type Exprs = T::Exprs;
    fn type_name() -> Option<&'static str> {
        T::type_name()
    }
    fn simple_type(types: &mut Types) -> SimpleType {
        T::simple_type(types)
    }
    fn reference(base: &RefBase) -> Self::Ref {
        T::reference(base)
    }
    fn status_node(e: &Self::Exprs) -> FieldNode {
        T::status_node(e)
    }
    fn nullable() -> bool {
        true
    }
}

/// A flattened `Option<T>`: serde writes `T`'s fields or none of them.
impl<T: SchemaStruct> SchemaStruct for Option<T> {
    fn schema_fields(types: &mut Types, _optional: bool) -> FieldTree {
        T::schema_fields(types, true)
    }
}

/// One field of a derived struct: its SimpleSchema with markers.
/// Used by `#[derive(Schema)]`.
#[doc(hidden)]
pub fn field_node<T: Schema>(
    types: &mut Types,
    required: bool,
    markers: &[(&str, String)],
) -> FieldNode {
    match T::simple_type(types) {
        SimpleType::Object(tree) => FieldNode::Object(tree),
        SimpleType::Leaf(s) => {
            let mut m: Vec<String> = Vec::new();
            if required {
                m.push("required=true".into());
            }
            for (k, v) in markers {
                m.push(format!("{k}={v}"));
            }
            if m.is_empty() {
                FieldNode::Leaf(s)
            } else if s.contains('|') {
                FieldNode::Leaf(format!("{s} {}", m.join(" ")))
            } else {
                FieldNode::Leaf(format!("{s} | {}", m.join(" ")))
            }
        }
    }
}

/// Quotes a marker value (`description="a \"b\""`).
#[doc(hidden)]
pub fn quote_marker(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A literal of an enum type (used by `#[derive(Schema)]` on enums).
#[doc(hidden)]
pub fn enum_lit<E: SchemaEnum>(e: &E) -> Expr<E> {
    Expr::from_node(Node::Lit(serde_json::Value::String(
        e.wire_name().to_string(),
    )))
}
