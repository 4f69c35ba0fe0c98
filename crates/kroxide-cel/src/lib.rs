//! KRO's CEL environment, behind one small trait so the CEL crate can change.
//!
//! It is its own crate because it is the largest part of KRO's semantics and
//! the most reused: validation, planning, the CRD generator, the engines and
//! secret redaction all go through it, and it is tested on its own against
//! the real KRO's verdicts.
//!
//! kroxide needs three things from CEL: parse an expression (and learn which
//! variables and functions it uses, for dependency edges and unknown
//! identifiers), evaluate it against JSON values, and type-check it.
//! [`CelEngine`] is that contract; [`default_engine`] is the one entry, the
//! implementation on the `cel` crate with KRO's functions (cel-go's standard
//! library and extensions as KRO enables them, the Kubernetes libraries,
//! KRO's own `json`, `hash`, `random`, `lists`). Nothing else in kroxide
//! names the `cel` crate.
//!
//! ```
//! use kroxide_cel::{default_engine, Vars};
//! use serde_json::json;
//!
//! let engine = default_engine();
//! let program = engine.compile("schema.spec.name + '-svc'").unwrap();
//! let mut vars = Vars::new();
//! vars.add_owned("schema", json!({"spec": {"name": "web"}}));
//! assert_eq!(program.eval(&vars).unwrap(), json!("web-svc"));
//! ```

mod check;
mod fast;
pub mod go;
mod k8s_types;
pub mod library;
mod macros;
pub mod quantity;

use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A variable path read by an expression: `deployment.status.readyReplicas`
/// is root `deployment`, path `["status", "readyReplicas"]`. The path stops
/// at the first step that is not a literal field name or index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub root: String,
    pub path: Vec<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.root)?;
        for p in &self.path {
            write!(f, ".{p}")?;
        }
        Ok(())
    }
}

/// What a parsed expression uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExprInfo {
    /// Free variables with the literal paths read from them.
    pub references: Vec<Reference>,
    /// Functions called: `size`, `string`, member functions by name
    /// (`split`), namespaced ones in full (`random.seededString`).
    pub functions: BTreeSet<String>,
    /// The result type, as far as the expression's shape tells.
    pub result: TypeHint,
    /// For each variable, how many of its whole-value reads (an empty
    /// path in [`Self::references`]) are the argument of `size()`: a list
    /// read only so needs its length, not its elements.
    pub sized: BTreeMap<String, usize>,
    /// KRO's author-defined conditions: what the expression's
    /// `runtime.newCondition` and `runtime.condition` calls say literally.
    pub conditions: ConditionLiterals,
}

/// The literal parts of `runtime.newCondition({type: 'T', status: 'S'})` and
/// `runtime.condition(schema, 'T')` calls, which KRO checks when it builds
/// the graph (a computed type or status is checked at run time).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConditionLiterals {
    /// Literal `type`s of new conditions (a ternary may name one twice).
    pub types: Vec<String>,
    /// Literal `status`es of new conditions.
    pub statuses: Vec<String>,
    /// Literal types read with `runtime.condition(schema, 'T')`.
    pub schema_reads: Vec<String>,
}

/// The functions of KRO's `runtime` library (author-defined status
/// conditions) as [`ExprInfo::functions`] names them: only expressions of
/// `status.conditions` may call them.
pub const RUNTIME_FUNCTIONS: &[&str] = &[macros::NEW_CONDITION, macros::CONDITION];

/// What an expression's shape says about its result type, before any
/// schema is consulted.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum TypeHint {
    Bool,
    Int,
    Float,
    String,
    /// The value read at this reference: its type is the field's type.
    Field(Reference),
    /// `c ? a : b`: the type of the branches.
    Either(Box<TypeHint>, Box<TypeHint>),
    #[default]
    Unknown,
}

impl ExprInfo {
    /// The distinct root variables.
    pub fn roots(&self) -> BTreeSet<&str> {
        self.references.iter().map(|r| r.root.as_str()).collect()
    }
}

/// A CEL syntax error.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    /// 0-based character offset in the expression, when known.
    pub column: Option<usize>,
}

/// Why evaluation did not give a value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The data is not there yet (`no such key`, field or attribute, index out
    /// of bounds): KRO waits and retries.
    #[error("data not available yet: {0}")]
    Pending(String),
    /// Any other failure: the resource fails.
    #[error("{0}")]
    Failed(String),
}

/// Variables for evaluation, by name. A value is borrowed when the caller
/// holds it already (a plan's instance and the objects it resolved), so that
/// handing an expression its variables copies nothing.
///
/// ```
/// use kroxide_cel::{default_engine, Vars};
/// let spec = serde_json::json!({"spec": {"replicas": 2}});
/// let mut vars = Vars::new();
/// vars.add("schema", &spec);
/// vars.add_owned("extra", serde_json::json!(1));
/// let p = default_engine().compile("schema.spec.replicas + extra").unwrap();
/// assert_eq!(p.eval(&vars).unwrap(), serde_json::json!(3));
/// ```
///
/// Clones share one cache of borrowed values already turned into CEL
/// values: a forEach resource clones its variables for every item, and each
/// item's expressions may read a whole collection (`configs[0]`), which
/// converted anew per item made a plan quadratic in the collection's size.
#[derive(Clone, Debug, Default)]
pub struct Vars<'a> {
    values: BTreeMap<Cow<'a, str>, Cow<'a, Value>>,
    converted: Converted,
    /// The KRO that writes the results (see [`Vars::for_kro`]).
    kro: kroxide_model::KroVersion,
    /// Invariant in `'a`: a clone cannot be narrowed to a shorter lifetime
    /// and given a value that dies before the cache that keys it by address.
    _same_lifetime: std::marker::PhantomData<fn(&'a ()) -> &'a ()>,
}

/// Whole CEL conversions of borrowed values, by address. Only borrowed
/// values are kept: they live for the `'a` of every `Vars` sharing the cache
/// (`Vars` is invariant in it), so an address cannot be reused for another
/// value while the cache holds it.
#[derive(Clone, Default)]
struct Converted(Arc<std::sync::Mutex<HashMap<usize, cel::Value>>>);

impl fmt::Debug for Converted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Converted")
    }
}

impl<'a> Vars<'a> {
    pub fn new() -> Self {
        Vars::default()
    }

    /// Results written as `kro` writes them into objects (KRO main writes
    /// a uint that fits as an int, where v0.9.3 fails: see
    /// [`go::field_json_for`]). v0.9.3 unless told.
    pub fn for_kro(&mut self, kro: kroxide_model::KroVersion) {
        self.kro = kro;
    }

    /// `value` as the variable `name`, borrowed.
    pub fn add(&mut self, name: &'a str, value: &'a Value) {
        self.values
            .insert(Cow::Borrowed(name), Cow::Borrowed(value));
    }

    /// `value` as the variable `name`, owned.
    pub fn add_owned(&mut self, name: impl Into<String>, value: Value) {
        self.values
            .insert(Cow::Owned(name.into()), Cow::Owned(value));
    }

    /// The variable `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(|v| &**v)
    }

    /// The variable `name` wholly as CEL; a borrowed value is converted once
    /// for all the clones of these variables.
    fn whole_cel(&self, name: &str) -> Option<cel::Value> {
        match self.values.get(name)? {
            Cow::Owned(v) => Some(json_to_cel(v)),
            Cow::Borrowed(v) => {
                let key = *v as *const Value as usize;
                let mut cache = self.converted.0.lock().unwrap_or_else(|p| p.into_inner());
                Some(cache.entry(key).or_insert_with(|| json_to_cel(v)).clone())
            }
        }
    }
}

impl<const N: usize> From<[(String, Value); N]> for Vars<'_> {
    fn from(vars: [(String, Value); N]) -> Self {
        let mut out = Vars::new();
        for (k, v) in vars {
            out.add_owned(k, v);
        }
        out
    }
}

/// A static CEL type, as far as the checker tracks it.
#[derive(Clone, Debug, PartialEq)]
pub enum CelType {
    Int,
    Uint,
    Double,
    String,
    Bool,
    Bytes,
    Null,
    List(Box<CelType>),
    Map(Box<CelType>),
    /// Unknown until run time: compatible with everything.
    Dyn,
}

impl fmt::Display for CelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CelType::Int => f.write_str("int"),
            CelType::Uint => f.write_str("uint"),
            CelType::Double => f.write_str("double"),
            CelType::String => f.write_str("string"),
            CelType::Bool => f.write_str("bool"),
            CelType::Bytes => f.write_str("bytes"),
            CelType::Null => f.write_str("null"),
            CelType::List(e) => write!(f, "list({e})"),
            CelType::Map(v) => write!(f, "map(string, {v})"),
            CelType::Dyn => f.write_str("dyn"),
        }
    }
}

/// The types of the variables an expression reads.
pub trait TypeEnv {
    /// The type at `r` (e.g. `schema.spec.replicas` → int), when known.
    fn type_of(&self, r: &Reference) -> Option<CelType>;
}

/// A parsed, ready-to-run expression.
pub trait Program: Send + Sync + fmt::Debug {
    fn source(&self) -> &str;
    fn info(&self) -> &ExprInfo;
    fn eval(&self, vars: &Vars<'_>) -> Result<Value, EvalError>;
    /// Static type errors, given the variables' types, and the result type.
    fn check(&self, env: &dyn TypeEnv) -> (CelType, Vec<String>);
}

/// The CEL implementation kroxide runs on.
pub trait CelEngine: Send + Sync {
    fn compile(&self, source: &str) -> Result<Arc<dyn Program>, ParseError>;
    /// Whether `function` (as [`ExprInfo::functions`] names it) can run.
    fn supports(&self, function: &str) -> bool;
}

/// The functions this engine runs (besides operators and macros): KRO
/// v0.9.3's CEL environment (cel-go v0.27 with its standard library,
/// optionals, `ext.Strings`, `ext.Lists`, `ext.Encoders`, `ext.Bindings`,
/// `ext.TwoVarComprehensions`; the Kubernetes libraries lists, URLs, regex,
/// quantity, IP, CIDR and semver of k8s.io/apiserver v0.35; KRO's random,
/// maps, JSON, hash and lists). A test calls each of them, so the list cannot
/// claim more than is there.
pub const SUPPORTED_FUNCTIONS: &[&str] = &[
    // standard library
    "size",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "bytes",
    "type",
    "dyn",
    "duration",
    "timestamp",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "has",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    // optionals
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
    "hasValue",
    "value",
    "orValue",
    "or",
    // bindings
    "cel.bind",
    // strings extension
    "charAt",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "replace",
    "split",
    "substring",
    "trim",
    "join",
    "strings.quote",
    "format",
    "reverse",
    // lists extension
    "slice",
    "flatten",
    "distinct",
    "sort",
    "lists.range",
    "first",
    "last",
    // encoders extension
    "base64.encode",
    "base64.decode",
    // Kubernetes lists library
    "sum",
    "min",
    "max",
    "isSorted",
    // Kubernetes regex library
    "find",
    "findAll",
    // Kubernetes URL library
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    // Kubernetes IP and CIDR libraries
    "ip",
    "isIP",
    "ip.isCanonical",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "cidr",
    "isCIDR",
    "containsIP",
    "containsCIDR",
    "prefixLength",
    "masked",
    // Kubernetes semver library
    "semver",
    "isSemver",
    "major",
    "minor",
    "patch",
    // Kubernetes quantity library (and semver's comparisons)
    "quantity",
    "isQuantity",
    "isLessThan",
    "isGreaterThan",
    "compareTo",
    "asApproximateFloat",
    "asInteger",
    "isInteger",
    "add",
    "sub",
    // KRO's own
    "random.seededString",
    "random.seededInt",
    "hash.fnv64a",
    "hash.sha256",
    "hash.md5",
    "json.marshal",
    "json.unmarshal",
    "merge",
    "lists.setAtIndex",
    "lists.insertAtIndex",
    "lists.removeAtIndex",
    // KRO main only (see MAIN_ONLY_FUNCTIONS)
    "deepMerge",
];

/// Functions KRO's main branch has and v0.9.3 has not: `validate` refuses
/// them unless the graph targets KRO main (v0.9.3 reports them as undeclared).
/// `x.deepMerge(y)`: `dyn.deepMerge(dyn) -> dyn`, both maps, `y`'s keys win,
/// maps under the same key merged recursively, anything else (lists too)
/// replaced; a receiver or argument that is not a map fails at run time
/// ("no such overload").
pub const MAIN_ONLY_FUNCTIONS: &[&str] = &["deepMerge"];

/// Libraries KRO v0.9.3 does not have, by namespace, with what is missing:
/// `validate` rejects their functions, as KRO does (it reports the namespace
/// as an unknown identifier).
pub const NOT_IN_KRO: &[(&str, &str)] = &[
    ("math", "cel-go's math extension"),
    ("sets", "the Kubernetes sets library"),
];

/// Function namespaces: `random.seededString(...)` is a call, not a read of a
/// variable `random`. Resource ids may not shadow them.
pub const FUNCTION_NAMESPACES: &[&str] = &[
    "base64", "hash", "json", "lists", "math", "optional", "random", "sets", "strings",
];

/// Whether `ns.f(...)` calls the function `ns.f` (not `f` on a variable
/// `ns`): the namespaces above, and the IP library's `ip.isCanonical`, whose
/// namespace is also a function (`ip(...)`) and not reserved as an id.
pub(crate) fn is_namespaced(ns: &str, f: &str) -> bool {
    FUNCTION_NAMESPACES.contains(&ns) || (ns == "ip" && f == "isCanonical")
}

/// Comprehension macros, whose first arguments name bound variables.
pub(crate) const MACROS: &[&str] = &[
    "all",
    "exists",
    "exists_one",
    "existsOne",
    "map",
    "filter",
    "transformList",
    "transformMap",
    "transformMapEntry",
    "sortBy",
    "optMap",
    "optFlatMap",
];

/// Type names usable as identifiers. None in KRO v0.9.3: it reports
/// `type(x) == string` as referencing the unknown identifier `string`.
pub const TYPE_IDENTIFIERS: &[&str] = &[];

/// The process-wide engine on the `cel` crate.
pub fn default_engine() -> &'static dyn CelEngine {
    static ENGINE: OnceLock<CelRs> = OnceLock::new();
    ENGINE.get_or_init(CelRs::new)
}

struct CelRs {
    env: Arc<cel::Env>,
}

impl CelRs {
    fn new() -> Self {
        let mut env = cel::Env::stdlib().with_optional_support(true);
        // Registration of the bundled extensions cannot conflict on a fresh env.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        let _ = env.add_extension(cel::extensions::encoders);
        // No math extension: KRO v0.9.3 does not have it.
        // cel-go (and so KRO) keeps the last entry of a repeated map key.
        env.set_error_on_duplicate_map_keys(false);
        library::register(&mut env);
        macros::register(&mut env);
        CelRs { env: Arc::new(env) }
    }
}

impl CelEngine for CelRs {
    fn supports(&self, function: &str) -> bool {
        function.starts_with('_')
            || function.starts_with('@')
            || function.ends_with('_')
            || MACROS.contains(&function)
            || SUPPORTED_FUNCTIONS.contains(&function)
    }

    fn compile(&self, source: &str) -> Result<Arc<dyn Program>, ParseError> {
        // The common shapes (paths, literals, comparisons, ...) are parsed by
        // hand into the cel crate's own AST, cheaply enough not to be cached;
        // the rest, and every syntax error, by the cel crate's ANTLR parser,
        // the slowest part of validating a graph, whose results are cached.
        match fast::parse(source) {
            Some(expr) => Ok(self.program(source, Ast::Built(expr))),
            None => self.compile_full(source),
        }
    }
}

/// CEL's reserved words: never a plain identifier (nor a resource id).
pub const RESERVED: &[&str] = &[
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
    "if", "import", "let", "loop", "package", "return", "var", "void", "while",
];

/// Parsed programs by source text. One build reads the same expressions more
/// than once (the validator, the status-type inference, the planner), and
/// parsing is the costly part; programs are immutable, so sharing is safe.
fn parsed() -> &'static std::sync::Mutex<foldhash::HashMap<String, Arc<dyn Program>>> {
    static PARSED: OnceLock<std::sync::Mutex<foldhash::HashMap<String, Arc<dyn Program>>>> =
        OnceLock::new();
    PARSED.get_or_init(Default::default)
}

/// Entries kept before the cache starts over (bounds a long-lived process).
const PARSED_MAX: usize = 8192;

/// Forgets every parsed program (benchmarks use it to measure cold parses).
pub fn clear_cache() {
    if let Ok(mut m) = parsed().lock() {
        m.clear();
    }
}

impl CelRs {
    /// Parses `source` with the CEL crate (or finds it parsed already).
    fn compile_full(&self, source: &str) -> Result<Arc<dyn Program>, ParseError> {
        if let Some(p) = parsed().lock().ok().and_then(|m| m.get(source).cloned()) {
            return Ok(p);
        }
        let p = self.parse(source)?;
        if let Ok(mut m) = parsed().lock() {
            if m.len() >= PARSED_MAX {
                m.clear();
            }
            m.insert(source.to_string(), p.clone());
        }
        Ok(p)
    }

    fn parse(&self, source: &str) -> Result<Arc<dyn Program>, ParseError> {
        if source.trim().is_empty() {
            return Err(ParseError {
                message: "empty expression".into(),
                column: Some(0),
            });
        }
        let program = self.env.compile(source).map_err(|e| {
            let first = e.errors.first();
            ParseError {
                message: first
                    .map(|p| p.msg.clone())
                    .unwrap_or_else(|| e.to_string()),
                column: first.map(|p| p.pos.1 as usize),
            }
        })?;
        Ok(self.program(source, Ast::Parsed(program)))
    }

    /// The program for a parsed expression, with what it reads and calls.
    fn program(&self, source: &str, ast: Ast) -> Arc<dyn Program> {
        Arc::new(self.build(source, ast))
    }

    fn build(&self, source: &str, ast: Ast) -> CelRsProgram {
        let mut info = ExprInfo::default();
        walk(ast.expr(), &mut Vec::new(), &mut info);
        info.result = hint(ast.expr());
        info.references.sort();
        info.references.dedup();
        let path = match &info.result {
            TypeHint::Field(r) if is_field_path(ast.expr()) => Some(r.clone()),
            _ => None,
        };
        CelRsProgram {
            source: source.to_string(),
            ast,
            info,
            env: self.env.clone(),
            path,
        }
    }
}

/// `a` or `a.b.c`: identifiers and field selections only (no index, no
/// presence test).
fn is_field_path(e: &cel::parser::Expression) -> bool {
    use cel::common::ast::Expr;
    match &e.expr {
        Expr::Ident(_) => true,
        Expr::Select(s) => !s.test && is_field_path(&s.operand),
        _ => false,
    }
}

/// An expression's AST: parsed by the cel crate, or built by [`fast`].
enum Ast {
    Parsed(cel::Program),
    Built(cel::parser::Expression),
}

impl Ast {
    fn expr(&self) -> &cel::parser::Expression {
        match self {
            Ast::Parsed(p) => p.expression(),
            Ast::Built(e) => e,
        }
    }
}

struct CelRsProgram {
    source: String,
    ast: Ast,
    info: ExprInfo,
    env: Arc<cel::Env>,
    /// The expression is a plain field path (`a.b.c`): see [`read_path`].
    path: Option<Reference>,
}

/// The scalar at `r` in `vars`, read straight from the JSON. Converting a
/// whole object to CEL values to read one field of it was most of the cost
/// of a plan. Anything else (a missing field, a map or list, which CEL hands
/// back in its own key order) is left to the CEL evaluator, so results and
/// messages stay the evaluator's.
fn read_path(r: &Reference, vars: &Vars<'_>) -> Option<Value> {
    let mut v = vars.get(&r.root)?;
    for k in &r.path {
        v = v.as_object()?.get(k)?;
    }
    match v {
        Value::Object(_) | Value::Array(_) => None,
        // A double (or an integer beyond int64, which Kubernetes reads as a
        // double) is written the way KRO writes it: see `go::field_json`.
        Value::Number(n) if !n.is_i64() => None,
        scalar => Some(scalar.clone()),
    }
}

impl fmt::Debug for CelRsProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Program({:?})", self.source)
    }
}

impl Program for CelRsProgram {
    fn check(&self, env: &dyn TypeEnv) -> (CelType, Vec<String>) {
        let mut errs = Vec::new();
        let t = check::type_of(self.ast.expr(), env, &mut Vec::new(), &mut errs);
        (t, errs)
    }
    fn source(&self) -> &str {
        &self.source
    }
    fn info(&self) -> &ExprInfo {
        &self.info
    }
    fn eval(&self, vars: &Vars<'_>) -> Result<Value, EvalError> {
        if let Some(v) = self.path.as_ref().and_then(|r| read_path(r, vars)) {
            return Ok(v);
        }
        self.eval_cel(vars, true)
    }
}

impl CelRsProgram {
    /// Evaluates with the CEL crate. With `prune`, each variable is
    /// converted only as far as the expression reads it.
    fn eval_cel(&self, vars: &Vars<'_>, prune: bool) -> Result<Value, EvalError> {
        let mut ctx = cel::Context::with_env(self.env.clone());
        // Only the variables the expression reads: converting every object of
        // a large graph for each expression would make evaluation quadratic.
        let mut added: Vec<&str> = Vec::new();
        for r in &self.info.references {
            if added.contains(&r.root.as_str()) {
                continue;
            }
            if let Some(v) = vars.get(&r.root) {
                let mut paths: Vec<&[String]> = self
                    .info
                    .references
                    .iter()
                    .filter(|x| x.root == r.root)
                    .map(|x| x.path.as_slice())
                    .collect();
                // A list whose every whole read is `size(list)` needs its
                // length only (`size(deployments)` over a forEach collection
                // converted every live object).
                let whole_reads = paths.iter().filter(|p| p.is_empty()).count();
                let only_sized = v.is_array()
                    && whole_reads > 0
                    && self.info.sized.get(&r.root).copied().unwrap_or(0) >= whole_reads;
                if only_sized {
                    paths.retain(|p| !p.is_empty());
                }
                let whole = !prune
                    || !(v.is_object() || v.is_array())
                    || paths.iter().any(|p| p.is_empty());
                let value = if only_sized && prune && paths.is_empty() {
                    let len = v.as_array().map_or(0, Vec::len);
                    cel::Value::List(Arc::new(vec![cel::Value::Null; len]))
                } else if whole {
                    match vars.whole_cel(&r.root) {
                        Some(v) => v,
                        None => continue,
                    }
                } else {
                    pruned_to_cel(v, &paths)
                };
                ctx.add_variable_from_value(r.root.as_str(), value);
                added.push(&r.root);
            }
        }
        match cel::Value::resolve(self.ast.expr(), &ctx) {
            Ok(v) => cel_to_json(&v, vars.kro),
            Err(e) => {
                let msg = e.to_string();
                // The same message names a missing variable (data not there
                // yet) and a function this engine lacks (a failure).
                if let Some(name) = msg
                    .strip_prefix("Undeclared reference to '")
                    .and_then(|r| r.strip_suffix('\''))
                {
                    if self.info.functions.contains(name)
                        && !self.info.references.iter().any(|r| r.root == name)
                    {
                        return Err(EvalError::Failed(format!(
                            "unsupported CEL function {name}"
                        )));
                    }
                }
                Err(classify(&msg))
            }
        }
    }
}

/// KRO's split: missing data means "wait", anything else fails.
fn classify(msg: &str) -> EvalError {
    let lower = msg.to_ascii_lowercase();
    const PENDING: &[&str] = &[
        "no such key",
        "no such field",
        "no such attribute",
        "index out of bounds",
        "undeclared reference",
    ];
    if PENDING.iter().any(|p| lower.contains(p)) {
        EvalError::Pending(msg.to_string())
    } else {
        EvalError::Failed(msg.to_string())
    }
}

/// `v` as CEL, keeping of its maps only the keys on `paths` (each path's
/// whole subtree). [`walk`] records every read of a variable as the longest
/// literal chain from its root (`d.status.readyReplicas`; `d.spec` for
/// `size(d.spec)`; `d` for `d[k]`), so the expression sees the same values,
/// and the same missing keys, as on the whole object; a status expression
/// reads two fields of a Deployment and converted all of it.
///
/// A list read only at literal indexes (`configs[0].metadata.name`) keeps its
/// length and converts just those elements; the others, never read, are
/// null. A forEach item reading a whole collection converted every element
/// of it for every item.
fn pruned_to_cel(v: &Value, paths: &[&[String]]) -> cel::Value {
    if paths.iter().any(|p| p.is_empty()) {
        return json_to_cel(v);
    }
    if let Value::Array(items) = v {
        let Some(indexes) = paths
            .iter()
            .map(|p| p[0].parse::<usize>().ok())
            .collect::<Option<Vec<usize>>>()
        else {
            return json_to_cel(v);
        };
        let list = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                if !indexes.contains(&i) {
                    return cel::Value::Null;
                }
                let rest: Vec<&[String]> = paths
                    .iter()
                    .filter(|p| p[0].parse::<usize>().ok() == Some(i))
                    .map(|p| &p[1..])
                    .collect();
                pruned_to_cel(item, &rest)
            })
            .collect();
        return cel::Value::List(Arc::new(list));
    }
    let Value::Object(o) = v else {
        return json_to_cel(v);
    };
    let mut m: HashMap<cel::objects::Key, cel::Value> = HashMap::new();
    for (i, p) in paths.iter().enumerate() {
        let key = &p[0];
        // Each key once, with every path through it.
        if paths[..i].iter().any(|q| q[0] == *key) {
            continue;
        }
        if let Some(child) = o.get(key) {
            let rest: Vec<&[String]> = paths
                .iter()
                .filter(|q| q[0] == *key)
                .map(|q| &q[1..])
                .collect();
            m.insert(
                cel::objects::Key::String(Arc::new(key.clone())),
                pruned_to_cel(child, &rest),
            );
        }
    }
    cel::Value::Map(cel::objects::Map { map: Arc::new(m) })
}

/// JSON to CEL; integers become `int` (serde would give `uint`).
pub(crate) fn json_to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                cel::Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                // Kubernetes decodes an integer beyond int64 as a float64.
                cel::Value::Float(u as f64)
            } else {
                cel::Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(o) => {
            let m: HashMap<cel::objects::Key, cel::Value> = o
                .iter()
                .map(|(k, v)| {
                    (
                        cel::objects::Key::String(Arc::new(k.clone())),
                        json_to_cel(v),
                    )
                })
                .collect();
            cel::Value::Map(cel::objects::Map { map: Arc::new(m) })
        }
    }
}

/// A result as KRO writes it into an object: see [`go::field_json`].
fn cel_to_json(v: &cel::Value, kro: kroxide_model::KroVersion) -> Result<Value, EvalError> {
    go::field_json_for(v, kro).map_err(EvalError::Failed)
}

fn walk(e: &cel::parser::Expression, bound: &mut Vec<String>, info: &mut ExprInfo) {
    use cel::common::ast::{EntryExpr, Expr, LiteralValue};
    match &e.expr {
        Expr::Ident(_) | Expr::Select(_) => {
            if let Some((root, path, rest)) = chain(e) {
                if !bound.contains(&root) {
                    info.references.push(Reference { root, path });
                }
                if let Some(rest) = rest {
                    walk(rest, bound, info);
                }
            } else if let Expr::Select(s) = &e.expr {
                walk(&s.operand, bound, info);
            }
        }
        Expr::Call(c) => {
            // Index with a literal key (or an optional field selection,
            // `a.?b`) continues a reference chain: KRO checks `b` against a
            // declared object's fields.
            if c.func_name == "_[_]" || c.func_name == "_[?_]" || c.func_name == "_?._" {
                if let Some((root, path, rest)) = chain(e) {
                    if !bound.contains(&root) {
                        info.references.push(Reference { root, path });
                    }
                    if let Some(rest) = rest {
                        walk(rest, bound, info);
                    }
                    for a in c.args.iter().skip(1) {
                        walk(a, bound, info);
                    }
                    return;
                }
            }
            // Macros (`map`, `filter`, `all`, ...) stay calls in this CEL crate:
            // their leading identifier arguments are bound variables.
            if c.target.is_some() && MACROS.contains(&c.func_name.as_str()) && c.args.len() >= 2 {
                let n = bound.len();
                let mut rest = &c.args[..];
                let max_vars = if c.func_name == "map" || c.func_name == "filter" {
                    1
                } else {
                    2
                };
                for _ in 0..max_vars {
                    if rest.len() < 2 {
                        break;
                    }
                    match &rest[0].expr {
                        Expr::Ident(v) => {
                            bound.push(v.clone());
                            rest = &rest[1..];
                        }
                        _ => break,
                    }
                }
                info.functions.insert(c.func_name.clone());
                if let Some(t) = &c.target {
                    let mut outer = bound[..n].to_vec();
                    walk(t, &mut outer, info);
                }
                for a in rest {
                    walk(a, bound, info);
                }
                bound.truncate(n);
                return;
            }
            if c.func_name == macros::NEW_CONDITION {
                if let Some(Expr::Map(m)) = c.args.first().map(|a| &a.expr) {
                    for en in &m.entries {
                        let EntryExpr::MapEntry(me) = &en.expr else {
                            continue;
                        };
                        let (
                            Expr::Literal(LiteralValue::String(k)),
                            Expr::Literal(LiteralValue::String(v)),
                        ) = (&me.key.expr, &me.value.expr)
                        else {
                            continue;
                        };
                        match k.inner() {
                            "type" => info.conditions.types.push(v.to_string()),
                            "status" => info.conditions.statuses.push(v.to_string()),
                            _ => {}
                        }
                    }
                }
            }
            if c.func_name == macros::CONDITION {
                if let [obj, t] = c.args.as_slice() {
                    if let (Expr::Ident(o), Expr::Literal(LiteralValue::String(t))) =
                        (&obj.expr, &t.expr)
                    {
                        if o == "schema" && !bound.contains(o) {
                            info.conditions.schema_reads.push(t.to_string());
                        }
                    }
                }
            }
            if c.func_name == "size" {
                let arg = match (&c.target, c.args.as_slice()) {
                    (Some(t), []) => Some(&**t),
                    (None, [a]) => Some(a),
                    _ => None,
                };
                if let Some(Expr::Ident(v)) = arg.map(|a| &a.expr) {
                    if !bound.contains(v) {
                        *info.sized.entry(v.clone()).or_default() += 1;
                    }
                }
            }
            match &c.target {
                Some(t) => match &t.expr {
                    Expr::Ident(ns) if is_namespaced(ns, &c.func_name) && !bound.contains(ns) => {
                        info.functions.insert(format!("{ns}.{}", c.func_name));
                    }
                    _ => {
                        info.functions.insert(c.func_name.clone());
                        walk(t, bound, info);
                    }
                },
                None if c.func_name == macros::STRING => {
                    info.functions.insert("string".into());
                }
                None => {
                    info.functions.insert(c.func_name.clone());
                }
            }
            for a in &c.args {
                walk(a, bound, info);
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, bound, info);
            walk(&c.accu_init, bound, info);
            let n = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v2) = &c.iter_var2 {
                bound.push(v2.clone());
            }
            bound.push(c.accu_var.clone());
            walk(&c.loop_cond, bound, info);
            walk(&c.loop_step, bound, info);
            walk(&c.result, bound, info);
            bound.truncate(n);
        }
        Expr::List(l) => l.elements.iter().for_each(|x| walk(x, bound, info)),
        Expr::Map(m) => {
            for en in &m.entries {
                if let EntryExpr::MapEntry(me) = &en.expr {
                    walk(&me.key, bound, info);
                    walk(&me.value, bound, info);
                }
            }
        }
        Expr::Struct(s) => {
            for en in &s.entries {
                match &en.expr {
                    EntryExpr::StructField(f) => walk(&f.value, bound, info),
                    EntryExpr::MapEntry(me) => {
                        walk(&me.key, bound, info);
                        walk(&me.value, bound, info);
                    }
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// `a.b["c"][0].d` → ("a", [b, c, 0, d]). When an index is not a literal, the
/// chain stops there and the non-literal part is returned to be walked.
pub(crate) fn chain(
    e: &cel::parser::Expression,
) -> Option<(String, Vec<String>, Option<&cel::parser::Expression>)> {
    use cel::common::ast::{Expr, LiteralValue};
    match &e.expr {
        Expr::Ident(n) => Some((n.clone(), Vec::new(), None)),
        Expr::Select(s) => {
            let (root, mut path, rest) = chain(&s.operand)?;
            if rest.is_none() {
                path.push(s.field.clone());
            }
            Some((root, path, rest))
        }
        Expr::Call(c)
            if (c.func_name == "_[_]" || c.func_name == "_[?_]" || c.func_name == "_?._")
                && c.args.len() == 2 =>
        {
            let (root, mut path, rest) = chain(&c.args[0])?;
            if rest.is_some() {
                return Some((root, path, rest));
            }
            match &c.args[1].expr {
                Expr::Literal(LiteralValue::String(s)) => path.push(s.to_string()),
                Expr::Literal(LiteralValue::Int(i)) => path.push(i.to_string()),
                Expr::Literal(LiteralValue::UInt(i)) => path.push(i.to_string()),
                _ => return Some((root, path, Some(&c.args[1]))),
            }
            Some((root, path, None))
        }
        _ => None,
    }
}

fn hint(e: &cel::parser::Expression) -> TypeHint {
    use cel::common::ast::{Expr, LiteralValue};
    match &e.expr {
        Expr::Literal(LiteralValue::Boolean(_)) => TypeHint::Bool,
        Expr::Literal(LiteralValue::Int(_)) | Expr::Literal(LiteralValue::UInt(_)) => TypeHint::Int,
        Expr::Literal(LiteralValue::Double(_)) => TypeHint::Float,
        Expr::Literal(LiteralValue::String(_)) => TypeHint::String,
        Expr::Ident(_) | Expr::Select(_) => match chain(e) {
            Some((root, path, None)) => TypeHint::Field(Reference { root, path }),
            _ => TypeHint::Unknown,
        },
        Expr::Call(c) => match c.func_name.as_str() {
            "_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_" | "_&&_" | "_||_" | "!_" | "@in"
            | "has" | "all" | "exists" | "exists_one" | "startsWith" | "endsWith" | "contains"
            | "matches" => TypeHint::Bool,
            "size" | "int" => TypeHint::Int,
            "double" => TypeHint::Float,
            "string"
            | macros::STRING
            | "lowerAscii"
            | "upperAscii"
            | "trim"
            | "join"
            | "replace"
            | "substring"
            | "format" => TypeHint::String,
            "_?_:_" if c.args.len() == 3 => {
                TypeHint::Either(Box::new(hint(&c.args[1])), Box::new(hint(&c.args[2])))
            }
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" => {
                let a = c
                    .args
                    .iter()
                    .map(hint)
                    .find(|h| matches!(h, TypeHint::String | TypeHint::Int | TypeHint::Float));
                a.unwrap_or(TypeHint::Unknown)
            }
            "_[_]" => match chain(e) {
                Some((root, path, None)) => TypeHint::Field(Reference { root, path }),
                _ => TypeHint::Unknown,
            },
            _ => TypeHint::Unknown,
        },
        _ => TypeHint::Unknown,
    }
}

/// Every root variable that is not bound: used to report unknown identifiers.
pub fn free_roots(info: &ExprInfo) -> HashSet<&str> {
    info.references
        .iter()
        .map(|r| r.root.as_str())
        .filter(|r| !TYPE_IDENTIFIERS.contains(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(s: &str) -> ExprInfo {
        default_engine().compile(s).unwrap().info().clone()
    }

    fn refs(s: &str) -> Vec<String> {
        info(s).references.iter().map(|r| r.to_string()).collect()
    }

    /// Converting only what an expression reads gives what converting
    /// everything gives.
    #[test]
    fn pruned_variables_give_the_same_results() {
        let engine = CelRs::new();
        let d = serde_json::json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "tier": "x"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
        });
        let vars = Vars::from([
            ("d".to_string(), d),
            ("n".to_string(), serde_json::json!(1)),
        ]);
        for src in [
            "d.status.readyReplicas == d.spec.replicas",
            "size(d.spec) + size(d.metadata.labels)",
            "d.metadata.labels['app.kubernetes.io/name'] + d.metadata.name",
            "d.status.conditions.exists(c, c.type == 'Available' && c.status == 'True')",
            "d.status.conditions[0].type",
            "has(d.status.readyReplicas) && !has(d.status.updatedReplicas)",
            "has(d.spec.missing) ? 1 : d.spec.missing.x",
            "d.spec.template.spec.containers.map(c, c.image)",
            "d.?status.?readyReplicas.orValue(0) + n",
            "d['spec'].replicas * n",
            "d",
            "d.status.missing",
            "d.spec.replicas.x",
        ] {
            let p = engine.compile_full(src).unwrap();
            let ast = Ast::Parsed(engine.env.compile(src).unwrap());
            let full = engine.build(src, ast);
            assert_eq!(p.eval(&vars), full.eval_cel(&vars, false), "{src}");
        }
    }

    /// `size(x)` and `x.size()` of a variable are counted as reads of its
    /// length only; a variable bound by a macro is not counted.
    #[test]
    fn reads_of_a_length_only_are_counted() {
        let engine = CelRs::new();
        let sized = |src: &str| engine.compile_full(src).unwrap().info().sized.clone();
        assert_eq!(sized("size(items)")["items"], 1);
        assert_eq!(sized("items.size() + size(items)")["items"], 2);
        assert_eq!(sized("items.size() + size(items[0].x)")["items"], 1);
        assert!(sized("size(items.x)").is_empty());
        assert!(sized("items.all(i, size(i) > 0)").is_empty());
    }

    /// A list read at literal indexes converts only those elements, and
    /// still gives what converting all of it gives (length, errors).
    #[test]
    fn lists_read_at_literal_indexes_give_the_same_results() {
        let engine = CelRs::new();
        let items = serde_json::json!([
            {"metadata": {"name": "a"}, "data": {"k": "1"}},
            {"metadata": {"name": "b"}},
            {"metadata": {"name": "c"}, "status": {"ready": true}}
        ]);
        let mut vars = Vars::from([("svc".to_string(), serde_json::json!("s1"))]);
        vars.add("items", &items);
        for src in [
            "items[0].metadata.name",
            "items[0].metadata.name == \"\" ? \"\" : svc + \"-config\"",
            "items[2].metadata.name + items[0].data.k",
            "items[2].status.ready && items[1].metadata.name == 'b'",
            "size(items)",
            "items[5].metadata.name",
            "items[1].data.k",
            "items[0]",
            "items.map(i, i.metadata.name)",
            "items[0].metadata.name + string(size(items))",
            "items.size() * 2",
            "size(items) == 3 && items[1].metadata.name == 'b'",
            "size(items) > 0 && items == items",
            "items.exists(i, size(items) > 2)",
        ] {
            let p = engine.compile_full(src).unwrap();
            let ast = Ast::Parsed(engine.env.compile(src).unwrap());
            let full = engine.build(src, ast);
            let want = full.eval_cel(&vars, false);
            assert_eq!(full.eval_cel(&vars, true), want, "{src}");
            assert_eq!(p.eval(&vars), want, "{src}");
            // Again on a clone, which shares the converted values.
            assert_eq!(p.eval(&vars.clone()), want, "{src}");
        }
    }

    /// Paths read straight from JSON give what the CEL evaluator gives.
    #[test]
    fn paths_read_from_json_match_the_evaluator() {
        let engine = CelRs::new();
        let vars = Vars::from([
            (
                "d".to_string(),
                serde_json::json!({"spec": {"replicas": 3, "big": 18446744073709551615u64,
                    "ratio": 0.5, "whole": 2.0, "name": "web", "on": true, "none": null,
                    "labels": {"a": "b"}, "ports": [80]}}),
            ),
            ("s".to_string(), serde_json::json!("text")),
        ]);
        for src in [
            "d.spec.replicas",
            "d.spec.big",
            "d.spec.ratio",
            "d.spec.whole",
            "d.spec.name",
            "d.spec.on",
            "d.spec.none",
            "d.spec.labels.a",
            "d.spec.ports",
            "d.spec.missing",
            "d.missing.x",
            "s",
            "s.x",
            "nope.x",
        ] {
            let ast = fast::parse(src).map(Ast::Built).expect("a path");
            let mut plain = engine.build(src, ast);
            assert!(plain.path.is_some(), "{src} is a path");
            let fast = plain.eval(&vars);
            plain.path = None;
            assert_eq!(fast, plain.eval(&vars), "{src}");
        }
    }

    #[test]
    fn the_hand_written_parser_agrees_with_antlr_on_info_check_and_eval() {
        struct Env;
        impl TypeEnv for Env {
            fn type_of(&self, r: &Reference) -> Option<CelType> {
                (r.to_string() == "schema.spec.replicas").then_some(CelType::Int)
            }
        }
        let engine = CelRs::new();
        for src in [
            "schema.spec.replicas",
            " schema.spec.name ",
            "deployment.status.readyReplicas",
            "x",
            "a_b.c1._d",
            "schema.spec.replicas > 2 && x == 1 ? 'many' : \"few\"",
            "schema.spec.replicas * 2 + x % 2",
            "!(schema.spec.name != 'n') || null == x",
            "schema.spec.missing == 1",
        ] {
            let fast = engine.compile(src).unwrap();
            let full = engine.compile_full(src).unwrap();
            assert_eq!(fast.info(), full.info(), "{src}");
            assert_eq!(fast.check(&Env), full.check(&Env), "{src}");
            let vars = Vars::from([
                (
                    "schema".to_string(),
                    serde_json::json!({"spec": {"replicas": 3, "name": "n"}}),
                ),
                ("x".to_string(), serde_json::json!(1)),
            ]);
            assert_eq!(fast.eval(&vars), full.eval(&vars), "{src}");
        }
        // `namespace` is reserved in the CEL spec but the parser takes it as a
        // field (KRO's own fixtures read schema.metadata.namespace).
        let src = "schema.metadata.namespace";
        let fast = engine.compile(src).unwrap();
        assert_eq!(fast.info(), engine.compile_full(src).unwrap().info());
        assert!(engine.compile("namespace.x").is_err());
        for src in ["a..b", "a.in", "1a.b", "namespace"] {
            assert!(engine.compile(src).is_err(), "{src}");
        }
    }

    #[test]
    fn references_and_paths() {
        assert_eq!(
            refs("deployment.status.readyReplicas == schema.spec.replicas"),
            ["deployment.status.readyReplicas", "schema.spec.replicas"]
        );
        assert_eq!(refs("schema.spec[\"a-b\"].c"), ["schema.spec.a-b.c"]);
        assert_eq!(
            refs("svc.status.loadBalancer.ingress[0].hostname"),
            ["svc.status.loadBalancer.ingress.0.hostname"]
        );
        assert_eq!(refs("a.b[c.d].e"), ["a.b", "c.d"]);
        assert_eq!(refs("has(schema.spec.x)"), ["schema.spec.x"]);
    }

    #[test]
    fn comprehension_variables_are_bound() {
        assert_eq!(
            refs("schema.spec.items.map(x, x.name + y)"),
            ["schema.spec.items", "y"]
        );
        assert_eq!(
            refs("schema.spec.items.all(i, i > 0)"),
            ["schema.spec.items"]
        );
    }

    #[test]
    fn namespaced_functions_are_calls() {
        let i =
            info("random.seededString(10, schema.metadata.uid) + base64.encode(hash.fnv64a(x))");
        assert_eq!(i.roots().into_iter().collect::<Vec<_>>(), ["schema", "x"]);
        assert!(i.functions.contains("random.seededString"));
        assert!(i.functions.contains("hash.fnv64a"));
        assert!(i.functions.contains("base64.encode"));
    }

    #[test]
    fn parse_errors_are_reported() {
        let e = default_engine().compile("a +").unwrap_err();
        assert!(!e.message.is_empty());
        assert!(default_engine().compile("  ").is_err());
    }

    #[test]
    fn evaluation_uses_int_not_uint() {
        let p = default_engine().compile("x.n + 1").unwrap();
        let vars = Vars::from([("x".to_string(), json!({"n": 41}))]);
        assert_eq!(p.eval(&vars).unwrap(), json!(42));
        // int + int works; uint + int would fail in CEL.
        let p = default_engine().compile("x.n - 50").unwrap();
        assert_eq!(p.eval(&vars).unwrap(), json!(-9));
    }

    #[test]
    fn kro_functions_evaluate_through_cel() {
        let vars = Vars::from([("schema".to_string(), json!({"spec": {"name": "web"}}))]);
        let eval = |s: &str| default_engine().compile(s).unwrap().eval(&vars);
        assert_eq!(
            eval("random.seededString(10, \"test\")").unwrap(),
            json!("x94x70hwx9")
        );
        assert_eq!(
            eval("random.seededInt(30000, 32768, \"test\")").unwrap(),
            json!(31525)
        );
        assert_eq!(
            eval("json.unmarshal('{\"a\": [1, 2]}').a[1]").unwrap(),
            json!(2)
        );
        assert_eq!(
            eval("json.marshal({\"name\": schema.spec.name, \"b\": 1})").unwrap(),
            json!("{\"b\":1,\"name\":\"web\"}")
        );
        // FNV-1a of "web", base64: computed by the algorithm's definition.
        let fnv = crate::library::fnv64a(b"web");
        use base64::Engine as _;
        let expected = base64::engine::general_purpose::STANDARD.encode(fnv);
        assert_eq!(
            eval("base64.encode(hash.fnv64a(schema.spec.name))").unwrap(),
            json!(expected)
        );
        assert!(matches!(
            eval("random.seededString(0, \"x\")"),
            Err(EvalError::Failed(_))
        ));
    }

    #[test]
    fn every_listed_function_runs() {
        let vars = Vars::from([
            ("s".to_string(), json!("Hello, World")),
            ("l".to_string(), json!([3, 1, 2])),
        ]);
        let calls = [
            "size(s)",
            "int('1')",
            "uint(1)",
            "double(1)",
            "string(1)",
            "bool('true')",
            "bytes('a')",
            "type(1) == int",
            "dyn(1)",
            "duration('1s')",
            "timestamp('2026-01-01T00:00:00Z')",
            "s.matches('H.*')",
            "s.contains('W')",
            "s.startsWith('H')",
            "s.endsWith('d')",
            "has({'a': 1}.a)",
            "timestamp('2026-01-01T00:00:00Z').getFullYear()",
            "timestamp('2026-01-01T00:00:00Z').getMonth()",
            "timestamp('2026-01-01T00:00:00Z').getDayOfYear()",
            "timestamp('2026-01-01T00:00:00Z').getDayOfMonth()",
            "timestamp('2026-01-01T00:00:00Z').getDate()",
            "timestamp('2026-01-01T00:00:00Z').getDayOfWeek()",
            "timestamp('2026-01-01T00:00:00Z').getHours()",
            "timestamp('2026-01-01T00:00:00Z').getMinutes()",
            "timestamp('2026-01-01T00:00:00Z').getSeconds()",
            "timestamp('2026-01-01T00:00:00Z').getMilliseconds()",
            "optional.of(1).value()",
            "optional.none().hasValue()",
            "optional.ofNonZeroValue(0).orValue(2)",
            "optional.none().or(optional.of(1)).value()",
            "s.charAt(0)",
            "s.indexOf('o')",
            "s.lastIndexOf('o')",
            "s.lowerAscii()",
            "s.upperAscii()",
            "s.replace('H', 'J')",
            "s.split(',')",
            "s.substring(1)",
            "s.trim()",
            "['a'].join(',')",
            "strings.quote(s)",
            "s.reverse()",
            "l.slice(0, 1)",
            "[[1]].flatten()",
            "l.distinct()",
            "l.sort()",
            "lists.range(3)",
            "base64.encode(b'a')",
            "base64.decode('YQ==')",
            "l.sum()",
            "l.min()",
            "l.max()",
            "l.isSorted()",
            "quantity('1Gi')",
            "isQuantity('1')",
            "quantity('1').isLessThan(quantity('2'))",
            "quantity('2').isGreaterThan(quantity('1'))",
            "quantity('1').compareTo(quantity('2'))",
            "quantity('1').asApproximateFloat()",
            "quantity('1').asInteger()",
            "random.seededString(3, 'x')",
            "random.seededInt(1, 5, 'x')",
            "hash.fnv64a('x')",
            "hash.sha256('x')",
            "hash.md5('x')",
            "json.marshal(1)",
            "json.unmarshal('1')",
        ];
        let kro_calls = [
            "l.first()",
            "l.last()",
            "'%s-%d'.format(['a', 1])",
            "url('https://a.b:8080/p?x=1').getScheme()",
            "url('https://a.b:8080/p').getHost()",
            "url('https://a.b:8080/p').getHostname()",
            "url('https://a.b:8080/p').getPort()",
            "url('https://a.b/p%20q').getEscapedPath()",
            "url('https://a.b/?x=1&x=2').getQuery()",
            "isURL('x')",
            "ip('10.0.0.1').family()",
            "ip('0.0.0.0').isUnspecified()",
            "ip('127.0.0.1').isLoopback()",
            "ip('224.0.0.1').isLinkLocalMulticast()",
            "ip('169.254.1.1').isLinkLocalUnicast()",
            "ip('8.8.8.8').isGlobalUnicast()",
            "isIP('1.2.3.4')",
            "cidr('10.0.0.0/8').containsIP('10.1.1.1')",
            "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')",
            "cidr('10.0.0.0/8').prefixLength()",
            "cidr('10.1.0.0/8').ip()",
            "cidr('10.1.0.0/8').masked()",
            "isCIDR('x')",
            "semver('1.2.3').major()",
            "semver('1.2.3').minor()",
            "semver('1.2.3').patch()",
            "isSemver('1.2.3')",
            "semver('1.2.3').isLessThan(semver('1.10.0'))",
            "'abc123'.find('[0-9]+')",
            "'a1b2'.findAll('[0-9]')",
            "{'a': 1}.merge({'b': 2})",
            "{'a': {'x': 1}}.deepMerge({'a': {'y': 2}})",
            "lists.setAtIndex(l, 0, 9)",
            "lists.insertAtIndex(l, 3, 9)",
            "lists.removeAtIndex(l, 0)",
            "cel.bind(x, 1, x + 1)",
            "ip.isCanonical('10.0.0.1')",
            "quantity('1.5').isInteger()",
            "quantity('1').add(quantity('2')).asInteger()",
            "quantity('2').sub(1).asInteger()",
            "[1].first()",
            "[1].last()",
            "string(1.5)",
        ];
        let mut covered = std::collections::BTreeSet::new();
        for c in calls.iter().chain(kro_calls.iter()) {
            let p = default_engine()
                .compile(c)
                .unwrap_or_else(|e| panic!("{c}: {e}"));
            if let Err(e) = p.eval(&vars) {
                // Results KRO cannot write (bytes, a quantity) fail; only a
                // missing function is a failure here.
                assert!(
                    !e.to_string().contains("unsupported CEL function")
                        && !e.to_string().contains("Undeclared"),
                    "{c}: {e}"
                );
            }
            covered.extend(p.info().functions.iter().cloned());
        }
        for f in SUPPORTED_FUNCTIONS {
            assert!(
                // Macros expanded at parse time leave no call behind.
                covered.contains(*f) || ["has", "cel.bind"].contains(f),
                "{f} is listed but not exercised"
            );
        }
        assert!(default_engine().supports("json.marshal"));
        assert!(default_engine().supports("url"));
        for f in MAIN_ONLY_FUNCTIONS {
            assert!(SUPPORTED_FUNCTIONS.contains(f), "{f} runs (for KRO main)");
        }
        // KRO v0.9.3 has neither cel-go's math extension nor the sets library.
        assert!(!default_engine().supports("math.abs"));
        assert!(!default_engine().supports("sets.contains"));
    }

    #[test]
    fn macros_are_expanded() {
        let vars = Vars::from([("self".to_string(), json!({"id": "a", "l": [1, 2]}))]);
        let eval = |s: &str| default_engine().compile(s).unwrap().eval(&vars).unwrap();
        assert_eq!(eval("has(self.id) && !has(self.x)"), json!(true));
        assert_eq!(eval("self.l.map(x, x * 2)"), json!([2, 4]));
        assert_eq!(eval("self.l.all(x, x > 0)"), json!(true));
        assert_eq!(eval("{'a': 1}.?b.orValue(5)"), json!(5));
    }

    #[test]
    fn missing_data_is_pending_not_failure() {
        let vars = Vars::from([("x".to_string(), json!({"a": [1]}))]);
        let pending = |s: &str| default_engine().compile(s).unwrap().eval(&vars);
        assert!(
            matches!(pending("x.b"), Err(EvalError::Pending(_))),
            "{:?}",
            pending("x.b")
        );
        assert!(
            matches!(pending("x.a[3]"), Err(EvalError::Pending(_))),
            "{:?}",
            pending("x.a[3]")
        );
        assert!(
            matches!(pending("x.a[0] / 0"), Err(EvalError::Failed(_))),
            "{:?}",
            pending("x.a[0] / 0")
        );
    }
    /// `deepMerge` gives what KRO main (v0.9.3-54-g0302e659) wrote for the
    /// same expressions on a real cluster (through `json.marshal`, which
    /// sorts keys): nested maps merged, lists, scalars and nulls replaced,
    /// an empty side giving the other map, a non-map an error.
    #[test]
    fn deep_merge_is_kro_mains() {
        let vars = Vars::from([(
            "labels".to_string(),
            serde_json::json!({"app": "web", "team": "y"}),
        )]);
        let cases = [
            ("json.marshal({'a': {'x': 1, 'l': [1, 2]}, 's': 'k', 'z': {'q': 1}}.deepMerge({'a': {'y': 2, 'l': [3]}, 's': {'n': 1}, 'z': 'flat'}))",
             r#"{"a":{"l":[3],"x":1,"y":2},"s":{"n":1},"z":"flat"}"#),
            ("json.marshal({}.deepMerge({'a': {'b': 1}}))", r#"{"a":{"b":1}}"#),
            ("json.marshal({'a': {'b': 1}}.deepMerge({'a': null}))", r#"{"a":null}"#),
            ("json.marshal({'a': {'b': {'c': 1, 'd': 2}}}.deepMerge({'a': {'b': {'c': 9}, 'e': {}}}))",
             r#"{"a":{"b":{"c":9,"d":2},"e":{}}}"#),
            ("json.marshal({'a': {'b': 1}}.deepMerge({'a': {}}))", r#"{"a":{"b":1}}"#),
            ("json.marshal(labels.deepMerge({'fixed': 'yes'}))", r#"{"app":"web","fixed":"yes","team":"y"}"#),
        ];
        for (src, want) in cases {
            let got = default_engine().compile(src).unwrap().eval(&vars).unwrap();
            assert_eq!(got, serde_json::json!(want), "{src}");
        }
        for bad in ["'a'.deepMerge({'a': 1})", "labels.deepMerge(1)"] {
            let err = default_engine()
                .compile(bad)
                .unwrap()
                .eval(&vars)
                .unwrap_err();
            assert!(err.to_string().contains("no such overload"), "{bad}: {err}");
        }
    }
}
