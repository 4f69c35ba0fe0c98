//! `Expr<T>`: a CEL expression whose result type `T` the compiler knows.
//!
//! Literals, schema references, resource references, operators, conditionals
//! and string templates all build an expression tree; it renders to the CEL
//! KRO evaluates. A mismatch of types (an `Expr<i64>` where a string is
//! needed, a non-boolean condition) does not compile.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops;
use std::sync::Arc;

/// An expression tree node (untyped; [`Expr`] carries the type).
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// use kroxide_dsl::expr::{Expr, Node};
/// let port: Expr<i64> = Expr::reference("schema", &["spec", "port"]);
/// assert!(matches!(port.node(), Node::Ref { root, .. } if root == "schema"));
/// assert_eq!(Node::Call("size", vec![port.node().clone()]).to_cel(), "size(schema.spec.port)");
/// ```
pub enum Node {
    /// A literal value.
    Lit(Value),
    /// `root.a.b[0]`: a schema or resource field.
    Ref {
        root: String,
        path: Vec<Seg>,
    },
    /// Raw CEL, parsed when the graph is built.
    Raw(String),
    Unary(&'static str, Arc<Node>),
    Binary(&'static str, Arc<Node>, Arc<Node>),
    Cond(Arc<Node>, Arc<Node>, Arc<Node>),
    /// A global function call: `size(x)`, `string(x)`.
    Call(&'static str, Vec<Node>),
    /// A member call: `x.startsWith(y)`.
    Member(Arc<Node>, &'static str, Vec<Node>),
    /// `has(ref)`.
    Has(Arc<Node>),
    /// A string template: literal text and string-typed parts.
    Template(Vec<Part>),
    /// A mistake found while building (e.g. a template with the wrong
    /// number of arguments); reported by `to_rgd`.
    Invalid(String),
}

/// A path segment of a reference.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// use kroxide_dsl::expr::{Node, Seg};
/// let n = Node::Ref {
///     root: "web".into(),
///     path: vec![Seg::Field("items".into()), Seg::Index(0), Seg::Field("app.io/name".into())],
/// };
/// assert_eq!(n.to_cel(), r#"web.items[0]["app.io/name"]"#);
/// ```
pub enum Seg {
    Field(String),
    Index(usize),
}

/// A piece of a string template.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// use kroxide_dsl::expr::{Node, Part};
/// let n = Node::Template(vec![
///     Part::Text("v".into()),
///     Part::Expr(Node::Raw("schema.spec.version".into())),
/// ]);
/// assert_eq!(n.to_cel(), r#""v" + (schema.spec.version)"#);
/// assert_eq!(n.to_field_value(), "v${schema.spec.version}");
/// ```
pub enum Part {
    Text(String),
    Expr(Node),
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn prec(n: &Node) -> u8 {
    match n {
        Node::Cond(..) => 1,
        Node::Binary("||", ..) => 2,
        Node::Binary("&&", ..) => 3,
        Node::Binary("==" | "!=" | "<" | "<=" | ">" | ">=" | "in", ..) => 4,
        Node::Binary("+" | "-", ..) => 5,
        Node::Binary(..) => 6,
        Node::Unary(..) => 7,
        Node::Template(parts) if parts.len() > 1 => 5,
        Node::Raw(_) => 0,
        _ => 8,
    }
}

impl Node {
    /// The CEL source of this node.
    ///
    /// ```
    /// use kroxide_dsl::expr::Node;
    /// use std::sync::Arc;
    /// let n = Node::Binary("*", Arc::new(Node::Raw("a + 1".into())), Arc::new(Node::Lit(2.into())));
    /// // Raw CEL is parenthesized as an operand.
    /// assert_eq!(n.to_cel(), "(a + 1) * 2");
    /// ```
    pub fn to_cel(&self) -> String {
        match self {
            Node::Lit(v) => lit_cel(v),
            Node::Ref { root, path } => {
                let mut s = root.clone();
                for seg in path {
                    match seg {
                        Seg::Field(f) if is_ident(f) => {
                            s.push('.');
                            s.push_str(f);
                        }
                        Seg::Field(f) => {
                            s.push_str(&format!("[{}]", kroxide_semantics::expr::quote_cel(f)))
                        }
                        Seg::Index(i) => s.push_str(&format!("[{i}]")),
                    }
                }
                s
            }
            Node::Raw(r) => r.clone(),
            Node::Unary(op, a) => format!("{op}{}", paren(a, 7)),
            Node::Binary(op, a, b) => {
                let p = prec(self);
                // Left-associative: the right side needs strictly higher precedence.
                format!("{} {op} {}", paren(a, p), paren(b, p + 1))
            }
            Node::Cond(c, a, b) => format!("{} ? {} : {}", paren(c, 2), paren(a, 2), paren(b, 1)),
            Node::Call(f, args) => format!(
                "{f}({})",
                args.iter().map(Node::to_cel).collect::<Vec<_>>().join(", ")
            ),
            Node::Member(t, f, args) => {
                format!(
                    "{}.{f}({})",
                    paren(t, 8),
                    args.iter().map(Node::to_cel).collect::<Vec<_>>().join(", ")
                )
            }
            Node::Has(r) => format!("has({})", r.to_cel()),
            Node::Template(parts) => {
                let pieces: Vec<String> = parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(t) => kroxide_semantics::expr::quote_cel(t),
                        Part::Expr(e) => paren(e, 6),
                    })
                    .collect();
                if pieces.is_empty() {
                    "\"\"".into()
                } else {
                    pieces.join(" + ")
                }
            }
            Node::Invalid(m) => format!("<invalid: {m}>"),
        }
    }

    /// The value this node puts in a template field: a literal stays a
    /// literal, a string template becomes a KRO string template, anything else
    /// a standalone `${...}`.
    ///
    /// ```
    /// use kroxide_dsl::expr::Node;
    /// assert_eq!(Node::Lit(3.into()).to_field_value(), 3);
    /// assert_eq!(Node::Raw("schema.spec.port".into()).to_field_value(), "${schema.spec.port}");
    /// ```
    pub fn to_field_value(&self) -> Value {
        match self {
            Node::Lit(v) => v.clone(),
            Node::Template(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        Part::Text(t) => s.push_str(&escape_template_text(t)),
                        Part::Expr(e) => s.push_str(&format!("${{{}}}", e.to_cel())),
                    }
                }
                Value::String(s)
            }
            other => Value::String(format!("${{{}}}", other.to_cel())),
        }
    }

    /// The first build mistake inside this node, if any.
    ///
    /// ```
    /// use kroxide_dsl::{template, expr::Expr};
    /// let name: Expr<String> = Expr::reference("schema", &["spec", "name"]);
    /// assert_eq!(name.node().invalid(), None);
    /// let bad = template!("{}-{}", name); // two placeholders, one argument
    /// assert!(bad.node().invalid().unwrap().contains("2 placeholders but 1 arguments"));
    /// ```
    pub fn invalid(&self) -> Option<&str> {
        match self {
            Node::Invalid(m) => Some(m),
            Node::Unary(_, a) | Node::Has(a) => a.invalid(),
            Node::Binary(_, a, b) => a.invalid().or_else(|| b.invalid()),
            Node::Cond(a, b, c) => a.invalid().or_else(|| b.invalid()).or_else(|| c.invalid()),
            Node::Call(_, args) => args.iter().find_map(Node::invalid),
            Node::Member(t, _, args) => t.invalid().or_else(|| args.iter().find_map(Node::invalid)),
            Node::Template(parts) => parts.iter().find_map(|p| match p {
                Part::Expr(e) => e.invalid(),
                Part::Text(_) => None,
            }),
            _ => None,
        }
    }
}

/// Literal text in a KRO string template cannot contain `${`.
fn escape_template_text(t: &str) -> String {
    if t.contains("${") {
        t.replace("${", "${\"${\"}")
    } else {
        t.to_string()
    }
}

fn paren(n: &Node, min: u8) -> String {
    let s = n.to_cel();
    if prec(n) < min {
        format!("({s})")
    } else {
        s
    }
}

fn lit_cel(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => kroxide_semantics::expr::quote_cel(s),
        Value::Array(a) => format!("[{}]", a.iter().map(lit_cel).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", kroxide_semantics::expr::quote_cel(k), lit_cel(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A typed CEL expression.
///
/// ```
/// use kroxide_dsl::Expr;
/// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
/// let doubled = replicas * 2;
/// assert_eq!(doubled.to_cel(), "schema.spec.replicas * 2");
/// assert_eq!(doubled.to_string(), "${schema.spec.replicas * 2}");
/// ```
pub struct Expr<T> {
    node: Node,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Expr<T> {
    fn clone(&self) -> Self {
        Expr::from_node(self.node.clone())
    }
}

impl<T> fmt::Debug for Expr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({})", self.node.to_cel())
    }
}

impl<T> fmt::Display for Expr<T> {
    /// The expression as it appears in an RGD field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node.to_field_value() {
            Value::String(s) => f.write_str(&s),
            v => write!(f, "{v}"),
        }
    }
}

impl<T> Expr<T> {
    /// Wraps an untyped node; the caller vouches for the type.
    ///
    /// ```
    /// use kroxide_dsl::expr::{Expr, Node};
    /// let e: Expr<bool> = Expr::from_node(Node::Raw("schema.spec.debug".into()));
    /// // Raw CEL is parenthesized inside other expressions.
    /// assert_eq!(e.not().to_cel(), "!(schema.spec.debug)");
    /// ```
    pub fn from_node(node: Node) -> Self {
        Expr {
            node,
            _t: PhantomData,
        }
    }

    /// The untyped expression tree.
    ///
    /// ```
    /// use kroxide_dsl::{lit, expr::Node};
    /// assert_eq!(lit(3).node(), &Node::Lit(3.into()));
    /// ```
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The CEL source.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let name: Expr<String> = Expr::reference("schema", &["spec", "name"]);
    /// assert_eq!(name.eq("web").to_cel(), r#"schema.spec.name == "web""#);
    /// ```
    pub fn to_cel(&self) -> String {
        self.node.to_cel()
    }

    /// The value this expression puts in a resource field.
    ///
    /// ```
    /// use kroxide_dsl::{lit, template, Expr};
    /// let name: Expr<String> = Expr::reference("schema", &["spec", "name"]);
    /// assert_eq!(lit(8080).to_field_value(), 8080);
    /// assert_eq!(name.to_field_value(), "${schema.spec.name}");
    /// assert_eq!(template!("{}-svc", name).to_field_value(), "${schema.spec.name}-svc");
    /// ```
    pub fn to_field_value(&self) -> Value {
        self.node.to_field_value()
    }

    /// A reference to `root.path...`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let host: Expr<String> = Expr::reference("schema", &["spec", "ingress", "host"]);
    /// assert_eq!(host.to_cel(), "schema.spec.ingress.host");
    /// ```
    pub fn reference(root: &str, path: &[&str]) -> Self {
        Expr::from_node(Node::Ref {
            root: root.to_string(),
            path: path.iter().map(|s| Seg::Field(s.to_string())).collect(),
        })
    }

    /// This reference extended by a field (for generated reference trees).
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let spec: Expr<()> = Expr::reference("schema", &["spec"]);
    /// let replicas: Expr<i64> = spec.child("replicas");
    /// assert_eq!(replicas.to_cel(), "schema.spec.replicas");
    /// ```
    pub fn child<U>(&self, field: &str) -> Expr<U> {
        match &self.node {
            Node::Ref { root, path } => {
                let mut p = path.clone();
                p.push(Seg::Field(field.to_string()));
                Expr::from_node(Node::Ref {
                    root: root.clone(),
                    path: p,
                })
            }
            other => Expr::from_node(Node::Raw(format!("{}.{field}", paren(other, 8)))),
        }
    }

    /// `self == other`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let env: Expr<String> = Expr::reference("schema", &["spec", "env"]);
    /// assert_eq!(env.eq("prod").to_cel(), r#"schema.spec.env == "prod""#);
    /// ```
    pub fn eq(&self, other: impl IntoExpr<T>) -> Expr<bool> {
        bin("==", &self.node, other.into_expr().node)
    }

    /// `self != other`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
    /// assert_eq!(replicas.ne(0).to_cel(), "schema.spec.replicas != 0");
    /// ```
    pub fn ne(&self, other: impl IntoExpr<T>) -> Expr<bool> {
        bin("!=", &self.node, other.into_expr().node)
    }

    /// `has(self)`: whether the field is set. Only meaningful on references.
    ///
    /// ```
    /// use kroxide_dsl::{lit, Expr};
    /// let tls: Expr<String> = Expr::reference("schema", &["spec", "tlsSecret"]);
    /// assert_eq!(tls.is_set().to_cel(), "has(schema.spec.tlsSecret)");
    /// // Not a field: a build error, reported when the graph is built.
    /// assert!(lit(1).is_set().node().invalid().is_some());
    /// ```
    pub fn is_set(&self) -> Expr<bool> {
        match &self.node {
            Node::Ref { .. } => Expr::from_node(Node::Has(Arc::new(self.node.clone()))),
            _ => Expr::from_node(Node::Invalid(format!(
                "has() needs a field reference, got {}",
                self.to_cel()
            ))),
        }
    }

    /// The value as a string: `string(self)`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let port: Expr<i64> = Expr::reference("schema", &["spec", "port"]);
    /// assert_eq!(port.to_string_expr().to_cel(), "string(schema.spec.port)");
    /// ```
    pub fn to_string_expr(&self) -> Expr<String> {
        Expr::from_node(Node::Call("string", vec![self.node.clone()]))
    }
}

/// `has(field)`: whether an optional field is set.
///
/// ```
/// use kroxide_dsl::{has, Expr};
/// let domain: Expr<String> = Expr::reference("schema", &["spec", "domain"]);
/// assert_eq!(has(&domain).to_cel(), "has(schema.spec.domain)");
/// ```
pub fn has<T>(e: &Expr<T>) -> Expr<bool> {
    e.is_set()
}

fn bin<T>(op: &'static str, a: &Node, b: Node) -> Expr<T> {
    Expr::from_node(Node::Binary(op, Arc::new(a.clone()), Arc::new(b)))
}

/// Types whose values can be ordered in CEL (`<`, `>`...).
///
/// ```
/// use kroxide_dsl::{expr::Ordered, Expr, IntoExpr};
/// fn at_least<T: Ordered>(e: &Expr<T>, min: Expr<T>) -> Expr<bool> {
///     e.ge(min)
/// }
/// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
/// assert_eq!(at_least(&replicas, 2.into_expr()).to_cel(), "schema.spec.replicas >= 2");
/// ```
pub trait Ordered {}
impl Ordered for i64 {}
impl Ordered for f64 {}
impl Ordered for String {}

impl<T: Ordered> Expr<T> {
    /// `self < o`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
    /// assert_eq!(replicas.lt(10).to_cel(), "schema.spec.replicas < 10");
    /// ```
    pub fn lt(&self, o: impl IntoExpr<T>) -> Expr<bool> {
        bin("<", &self.node, o.into_expr().node)
    }
    /// `self <= o`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
    /// assert_eq!(replicas.le(10).to_cel(), "schema.spec.replicas <= 10");
    /// ```
    pub fn le(&self, o: impl IntoExpr<T>) -> Expr<bool> {
        bin("<=", &self.node, o.into_expr().node)
    }
    /// `self > o`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let version: Expr<String> = Expr::reference("schema", &["spec", "version"]);
    /// assert_eq!(version.gt("1.0").to_cel(), r#"schema.spec.version > "1.0""#);
    /// ```
    pub fn gt(&self, o: impl IntoExpr<T>) -> Expr<bool> {
        bin(">", &self.node, o.into_expr().node)
    }
    /// `self >= o`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let ready: Expr<i64> = Expr::reference("web", &["status", "readyReplicas"]);
    /// assert_eq!(ready.ge(1).to_cel(), "web.status.readyReplicas >= 1");
    /// ```
    pub fn ge(&self, o: impl IntoExpr<T>) -> Expr<bool> {
        bin(">=", &self.node, o.into_expr().node)
    }
}

impl Expr<bool> {
    /// `cond ? a : b`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let prod: Expr<bool> = Expr::reference("schema", &["spec", "production"]);
    /// let replicas: Expr<i64> = prod.then_else(3, 1);
    /// assert_eq!(replicas.to_cel(), "schema.spec.production ? 3 : 1");
    /// ```
    pub fn then_else<U>(&self, a: impl IntoExpr<U>, b: impl IntoExpr<U>) -> Expr<U> {
        Expr::from_node(Node::Cond(
            Arc::new(self.node.clone()),
            Arc::new(a.into_expr().node),
            Arc::new(b.into_expr().node),
        ))
    }
    /// `self && o` (also written `self & o`).
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let a: Expr<bool> = Expr::reference("schema", &["spec", "a"]);
    /// let b: Expr<bool> = Expr::reference("schema", &["spec", "b"]);
    /// assert_eq!(a.and(&b).to_cel(), "schema.spec.a && schema.spec.b");
    /// assert_eq!((a & b).to_cel(), "schema.spec.a && schema.spec.b");
    /// ```
    pub fn and(&self, o: impl IntoExpr<bool>) -> Expr<bool> {
        bin("&&", &self.node, o.into_expr().node)
    }
    /// `self || o` (also written `self | o`).
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let a: Expr<bool> = Expr::reference("schema", &["spec", "a"]);
    /// assert_eq!(a.or(true).to_cel(), "schema.spec.a || true");
    /// ```
    pub fn or(&self, o: impl IntoExpr<bool>) -> Expr<bool> {
        bin("||", &self.node, o.into_expr().node)
    }
    #[allow(clippy::should_implement_trait)]
    /// `!self` (also written `!expr`).
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let a: Expr<bool> = Expr::reference("schema", &["spec", "a"]);
    /// let b: Expr<bool> = Expr::reference("schema", &["spec", "b"]);
    /// assert_eq!(a.not().to_cel(), "!schema.spec.a");
    /// assert_eq!((!(a | b)).to_cel(), "!(schema.spec.a || schema.spec.b)");
    /// ```
    pub fn not(&self) -> Expr<bool> {
        Expr::from_node(Node::Unary("!", Arc::new(self.node.clone())))
    }
}

impl<R: IntoExpr<bool>> ops::BitAnd<R> for Expr<bool> {
    type Output = Expr<bool>;
    fn bitand(self, r: R) -> Expr<bool> {
        self.and(r)
    }
}
impl<R: IntoExpr<bool>> ops::BitOr<R> for Expr<bool> {
    type Output = Expr<bool>;
    fn bitor(self, r: R) -> Expr<bool> {
        self.or(r)
    }
}
impl ops::Not for Expr<bool> {
    type Output = Expr<bool>;
    fn not(self) -> Expr<bool> {
        Expr::not(&self)
    }
}

/// Numbers: `i64` and `f64`.
///
/// Arithmetic (`+ - * / %`) is defined on `Expr<T>` for these only.
///
/// ```
/// use kroxide_dsl::{expr::Numeric, Expr};
/// fn sum<T: Numeric>(a: Expr<T>, b: Expr<T>) -> Expr<T> {
///     a + b
/// }
/// let cpu: Expr<f64> = Expr::reference("schema", &["spec", "cpu"]);
/// let extra: Expr<f64> = Expr::reference("schema", &["spec", "extra"]);
/// assert_eq!(sum(cpu, extra).to_cel(), "schema.spec.cpu + schema.spec.extra");
/// ```
pub trait Numeric {}
impl Numeric for i64 {}
impl Numeric for f64 {}

macro_rules! arith {
    ($tr:ident, $m:ident, $op:literal) => {
        impl<T: Numeric, R: IntoExpr<T>> ops::$tr<R> for Expr<T> {
            type Output = Expr<T>;
            fn $m(self, r: R) -> Expr<T> {
                bin($op, &self.node, r.into_expr().node)
            }
        }
        impl<T: Numeric, R: IntoExpr<T>> ops::$tr<R> for &Expr<T> {
            type Output = Expr<T>;
            fn $m(self, r: R) -> Expr<T> {
                bin($op, &self.node, r.into_expr().node)
            }
        }
    };
}
arith!(Add, add, "+");
arith!(Sub, sub, "-");
arith!(Mul, mul, "*");
arith!(Div, div, "/");
arith!(Rem, rem, "%");

impl<R: IntoExpr<String>> ops::Add<R> for Expr<String> {
    type Output = Expr<String>;
    fn add(self, r: R) -> Expr<String> {
        bin("+", &self.node, r.into_expr().node)
    }
}

impl Expr<String> {
    /// `size(self)`: the length in characters.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let name: Expr<String> = Expr::reference("schema", &["spec", "name"]);
    /// assert_eq!(name.size().le(63).to_cel(), "size(schema.spec.name) <= 63");
    /// ```
    pub fn size(&self) -> Expr<i64> {
        Expr::from_node(Node::Call("size", vec![self.node.clone()]))
    }
    /// `self.startsWith(p)`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let image: Expr<String> = Expr::reference("schema", &["spec", "image"]);
    /// assert_eq!(image.starts_with("ghcr.io/").to_cel(), r#"schema.spec.image.startsWith("ghcr.io/")"#);
    /// ```
    pub fn starts_with(&self, p: impl IntoExpr<String>) -> Expr<bool> {
        Expr::from_node(Node::Member(
            Arc::new(self.node.clone()),
            "startsWith",
            vec![p.into_expr().node],
        ))
    }
    /// `self.endsWith(p)`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let host: Expr<String> = Expr::reference("schema", &["spec", "host"]);
    /// assert_eq!(host.ends_with(".local").to_cel(), r#"schema.spec.host.endsWith(".local")"#);
    /// ```
    pub fn ends_with(&self, p: impl IntoExpr<String>) -> Expr<bool> {
        Expr::from_node(Node::Member(
            Arc::new(self.node.clone()),
            "endsWith",
            vec![p.into_expr().node],
        ))
    }
    /// `self.contains(p)`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let image: Expr<String> = Expr::reference("schema", &["spec", "image"]);
    /// assert_eq!(image.contains(":latest").to_cel(), r#"schema.spec.image.contains(":latest")"#);
    /// ```
    pub fn contains(&self, p: impl IntoExpr<String>) -> Expr<bool> {
        Expr::from_node(Node::Member(
            Arc::new(self.node.clone()),
            "contains",
            vec![p.into_expr().node],
        ))
    }
    /// `self.lowerAscii()`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let team: Expr<String> = Expr::reference("schema", &["spec", "team"]);
    /// assert_eq!(team.lower().to_cel(), "schema.spec.team.lowerAscii()");
    /// ```
    pub fn lower(&self) -> Expr<String> {
        Expr::from_node(Node::Member(
            Arc::new(self.node.clone()),
            "lowerAscii",
            vec![],
        ))
    }
    /// `self.upperAscii()`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let env: Expr<String> = Expr::reference("schema", &["spec", "env"]);
    /// assert_eq!(env.upper().to_cel(), "schema.spec.env.upperAscii()");
    /// ```
    pub fn upper(&self) -> Expr<String> {
        Expr::from_node(Node::Member(
            Arc::new(self.node.clone()),
            "upperAscii",
            vec![],
        ))
    }
}

impl<T> Expr<Vec<T>> {
    /// `size(self)`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// let hosts: Expr<Vec<String>> = Expr::reference("schema", &["spec", "hosts"]);
    /// assert_eq!(hosts.size().gt(0).to_cel(), "size(schema.spec.hosts) > 0");
    /// ```
    pub fn size(&self) -> Expr<i64> {
        Expr::from_node(Node::Call("size", vec![self.node.clone()]))
    }
    /// `self[i]`.
    ///
    /// ```
    /// use kroxide_dsl::{cel, Expr};
    /// let hosts: Expr<Vec<String>> = Expr::reference("schema", &["spec", "hosts"]);
    /// assert_eq!(hosts.at(0).to_cel(), "schema.spec.hosts[0]");
    /// let sorted: Expr<Vec<String>> = cel("schema.spec.hosts.sort()");
    /// assert_eq!(sorted.at(1).to_cel(), "(schema.spec.hosts.sort())[1]");
    /// ```
    pub fn at(&self, i: usize) -> Expr<T> {
        match &self.node {
            Node::Ref { root, path } => {
                let mut p = path.clone();
                p.push(Seg::Index(i));
                Expr::from_node(Node::Ref {
                    root: root.clone(),
                    path: p,
                })
            }
            n => Expr::from_node(Node::Raw(format!("{}[{i}]", paren(n, 8)))),
        }
    }
}

impl<T> Expr<BTreeMap<String, T>> {
    /// `size(self)`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// use std::collections::BTreeMap;
    /// let labels: Expr<BTreeMap<String, String>> = Expr::reference("schema", &["spec", "labels"]);
    /// assert_eq!(labels.size().to_cel(), "size(schema.spec.labels)");
    /// ```
    pub fn size(&self) -> Expr<i64> {
        Expr::from_node(Node::Call("size", vec![self.node.clone()]))
    }
    /// `self[key]`.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// use std::collections::BTreeMap;
    /// let labels: Expr<BTreeMap<String, String>> = Expr::reference("schema", &["spec", "labels"]);
    /// assert_eq!(labels.get("team").to_cel(), "schema.spec.labels.team");
    /// assert_eq!(labels.get("app.kubernetes.io/name").to_cel(), r#"schema.spec.labels["app.kubernetes.io/name"]"#);
    /// ```
    pub fn get(&self, key: &str) -> Expr<T> {
        self.child(key)
    }
    /// `self.deepMerge(other)`, KRO main's (build the graph with
    /// `.kro_version(KroVersion::Main)`; KRO v0.9.3 has no such function):
    /// `other`'s keys win, maps under the same key are merged recursively,
    /// anything else is replaced.
    ///
    /// ```
    /// use kroxide_dsl::Expr;
    /// use std::collections::BTreeMap;
    /// let base: Expr<BTreeMap<String, String>> = Expr::reference("schema", &["spec", "labels"]);
    /// let extra: Expr<BTreeMap<String, String>> = Expr::reference("schema", &["spec", "extraLabels"]);
    /// assert_eq!(base.deep_merge(&extra).to_cel(), "schema.spec.labels.deepMerge(schema.spec.extraLabels)");
    /// ```
    pub fn deep_merge(
        &self,
        other: impl IntoExpr<BTreeMap<String, T>>,
    ) -> Expr<BTreeMap<String, T>> {
        Expr::from_node(Node::Member(
            Arc::new(self.node.clone()),
            "deepMerge",
            vec![other.into_expr().node],
        ))
    }
}

/// Raw CEL with a declared result type, checked when the graph is built.
///
/// ```
/// use kroxide_dsl::expr::{cel, Expr};
/// let e: Expr<i64> = cel("size(schema.spec.items)");
/// assert_eq!(e.to_string(), "${size(schema.spec.items)}");
/// ```
pub fn cel<T>(source: &str) -> Expr<T> {
    Expr::from_node(Node::Raw(source.to_string()))
}

/// A literal.
///
/// ```
/// use kroxide_dsl::lit;
/// assert_eq!(lit(3).to_cel(), "3");
/// assert_eq!(lit("10Gi".to_string()).to_cel(), r#""10Gi""#);
/// assert_eq!(lit(vec![80, 443]).to_field_value(), serde_json::json!([80, 443]));
/// ```
pub fn lit<T: Serialize>(v: T) -> Expr<T> {
    Expr::from_node(Node::Lit(serde_json::to_value(v).unwrap_or(Value::Null)))
}

/// Anything that can stand where an `Expr<T>` is expected.
///
/// ```
/// use kroxide_dsl::{Expr, IntoExpr};
/// fn cel_of(v: impl IntoExpr<i64>) -> String {
///     v.into_expr().to_cel()
/// }
/// let replicas: Expr<i64> = Expr::reference("schema", &["spec", "replicas"]);
/// assert_eq!(cel_of(3), "3");
/// assert_eq!(cel_of(&replicas), "schema.spec.replicas");
/// ```
pub trait IntoExpr<T> {
    fn into_expr(self) -> Expr<T>;
}

impl<T> IntoExpr<T> for Expr<T> {
    fn into_expr(self) -> Expr<T> {
        self
    }
}
impl<T> IntoExpr<T> for &Expr<T> {
    fn into_expr(self) -> Expr<T> {
        self.clone()
    }
}
impl IntoExpr<String> for &str {
    fn into_expr(self) -> Expr<String> {
        Expr::from_node(Node::Lit(Value::String(self.to_string())))
    }
}
impl IntoExpr<String> for String {
    fn into_expr(self) -> Expr<String> {
        Expr::from_node(Node::Lit(Value::String(self)))
    }
}
impl IntoExpr<String> for &String {
    fn into_expr(self) -> Expr<String> {
        Expr::from_node(Node::Lit(Value::String(self.clone())))
    }
}
macro_rules! int_lit {
    ($($t:ty),*) => {$(
        impl IntoExpr<i64> for $t {
            fn into_expr(self) -> Expr<i64> {
                Expr::from_node(Node::Lit(Value::from(self)))
            }
        }
    )*};
}
int_lit!(i64, i32, i16, i8, u32, u16, u8);
impl IntoExpr<f64> for f64 {
    fn into_expr(self) -> Expr<f64> {
        Expr::from_node(Node::Lit(
            serde_json::Number::from_f64(self)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        ))
    }
}
impl IntoExpr<f64> for f32 {
    fn into_expr(self) -> Expr<f64> {
        f64::from(self).into_expr()
    }
}
impl IntoExpr<bool> for bool {
    fn into_expr(self) -> Expr<bool> {
        Expr::from_node(Node::Lit(Value::Bool(self)))
    }
}

/// A value usable inside a string template: strings as they are, other
/// types through `string(...)`.
///
/// ```
/// use kroxide_dsl::expr::{template_from, Expr, TemplateArg};
/// let name: Expr<String> = Expr::reference("schema", &["spec", "name"]);
/// let port: Expr<i64> = Expr::reference("schema", &["spec", "port"]);
/// assert_eq!(name.template_part().to_cel(), "schema.spec.name");
/// assert_eq!(port.template_part().to_cel(), "string(schema.spec.port)");
/// ```
pub trait TemplateArg {
    fn template_part(&self) -> Node;
}
impl TemplateArg for Expr<String> {
    fn template_part(&self) -> Node {
        self.node.clone()
    }
}
impl TemplateArg for &Expr<String> {
    fn template_part(&self) -> Node {
        self.node.clone()
    }
}
macro_rules! template_via_string {
    ($($t:ty),*) => {$(
        impl TemplateArg for Expr<$t> {
            fn template_part(&self) -> Node {
                Node::Call("string", vec![self.node.clone()])
            }
        }
        impl TemplateArg for &Expr<$t> {
            fn template_part(&self) -> Node {
                Node::Call("string", vec![self.node.clone()])
            }
        }
    )*};
}
template_via_string!(i64, f64, bool);
impl TemplateArg for &str {
    fn template_part(&self) -> Node {
        Node::Lit(Value::String(self.to_string()))
    }
}
impl TemplateArg for String {
    fn template_part(&self) -> Node {
        Node::Lit(Value::String(self.clone()))
    }
}

/// Builds a string template from a format string with `{}` placeholders;
/// used by the [`template!`](crate::template) macro.
///
/// ```
/// use kroxide_dsl::expr::{template_from, Expr};
/// let name: Expr<String> = Expr::reference("schema", &["spec", "name"]);
/// let url = template_from("http://{}:8080", vec![name.node().clone()]);
/// assert_eq!(url.to_field_value(), "http://${schema.spec.name}:8080");
/// ```
pub fn template_from(fmt: &str, args: Vec<Node>) -> Expr<String> {
    let pieces: Vec<&str> = fmt.split("{}").collect();
    if pieces.len() != args.len() + 1 {
        return Expr::from_node(Node::Invalid(format!(
            "template {fmt:?} has {} placeholders but {} arguments",
            pieces.len() - 1,
            args.len()
        )));
    }
    let mut parts = Vec::new();
    for (i, text) in pieces.iter().enumerate() {
        if !text.is_empty() {
            parts.push(Part::Text(text.to_string()));
        }
        if let Some(a) = args.get(i) {
            match a {
                Node::Lit(Value::String(s)) => parts.push(Part::Text(s.clone())),
                other => parts.push(Part::Expr(other.clone())),
            }
        }
    }
    // Merge adjacent text.
    let mut merged: Vec<Part> = Vec::new();
    for p in parts {
        match (merged.last_mut(), p) {
            (Some(Part::Text(a)), Part::Text(b)) => a.push_str(&b),
            (_, p) => merged.push(p),
        }
    }
    if merged.iter().all(|p| matches!(p, Part::Text(_))) {
        let s: String = merged
            .iter()
            .map(|p| {
                if let Part::Text(t) = p {
                    t.as_str()
                } else {
                    ""
                }
            })
            .collect();
        return Expr::from_node(Node::Lit(Value::String(s)));
    }
    Expr::from_node(Node::Template(merged))
}

/// A string template: `template!("https://{}", domain)` renders
/// `https://${schema.spec.gateway.domain}`; non-string parts are wrapped in
/// `string(...)`.
///
/// ```
/// use kroxide_dsl::{template, expr::Expr};
/// let domain: Expr<String> = Expr::reference("schema", &["spec", "domain"]);
/// let port: Expr<i64> = Expr::reference("schema", &["spec", "port"]);
/// assert_eq!(template!("https://{}:{}", domain, port).to_string(),
///            "https://${schema.spec.domain}:${string(schema.spec.port)}");
/// ```
#[macro_export]
macro_rules! template {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::expr::template_from($fmt, vec![$($crate::expr::TemplateArg::template_part(&$arg)),*])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r<T>(p: &str) -> Expr<T> {
        let parts: Vec<&str> = p.split('.').collect();
        Expr::reference(parts[0], &parts[1..])
    }

    #[test]
    fn renders_cel_with_minimal_parentheses() {
        let a: Expr<i64> = r("d.status.readyReplicas");
        let b: Expr<i64> = r("d.spec.replicas");
        assert_eq!(
            a.eq(&b).to_cel(),
            "d.status.readyReplicas == d.spec.replicas"
        );
        let x = a.eq(&b) & a.gt(0);
        assert_eq!(
            x.to_cel(),
            "d.status.readyReplicas == d.spec.replicas && d.status.readyReplicas > 0"
        );
        let y = (a.gt(0) | b.gt(0)) & a.eq(1);
        assert_eq!(
            y.to_cel(),
            "(d.status.readyReplicas > 0 || d.spec.replicas > 0) && d.status.readyReplicas == 1"
        );
        assert_eq!(
            (a.clone() - (b.clone() - 1)).to_cel(),
            "d.status.readyReplicas - (d.spec.replicas - 1)"
        );
        let c = a.gt(0).then_else("up", a.eq(0).then_else("down", "?"));
        assert_eq!(
            c.to_cel(),
            "d.status.readyReplicas > 0 ? \"up\" : d.status.readyReplicas == 0 ? \"down\" : \"?\""
        );
        assert_eq!((!a.gt(0)).to_cel(), "!(d.status.readyReplicas > 0)");
    }

    #[test]
    fn field_values() {
        assert_eq!(3.into_expr().to_field_value(), Value::from(3));
        let e: Expr<String> = r("schema.spec.name");
        assert_eq!(e.to_field_value(), Value::from("${schema.spec.name}"));
        let t = crate::template!("{}-svc", e);
        assert_eq!(t.to_field_value(), Value::from("${schema.spec.name}-svc"));
        assert_eq!(t.to_cel(), "schema.spec.name + \"-svc\"");
        assert!(crate::template!("{} {}", e).node().invalid().is_some());
        let odd: Expr<String> =
            Expr::reference("schema", &["spec", "labels", "app.kubernetes.io/name"]);
        assert_eq!(
            odd.to_cel(),
            "schema.spec.labels[\"app.kubernetes.io/name\"]"
        );
    }
}
