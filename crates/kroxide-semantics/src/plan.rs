//! `plan`: what KRO (or the direct engine) would do for one instance, with
//! no cluster.
//!
//! The instance is validated and defaulted; then, in KRO's order, each
//! resource's `includeWhen` is evaluated (false excludes it and everything
//! that depends on it), its `forEach` expanded, and its template resolved
//! against the instance and the objects of its dependencies. Status fields
//! are evaluated last. Data that a cluster would provide (a Deployment's
//! `readyReplicas`, a Service's `clusterIP`) comes from `--observed` objects
//! or, with `assume_ready`, from what the kind's controller would write;
//! without either, what needs it is reported pending, never guessed.

use crate::cel::{default_engine, EvalError, Program, Vars};
use crate::dag::DependencyGraph;
use crate::expr::{has_expression_start, parse_string, StringValue};
use crate::instance::{prepare, InstanceError};
use crate::k8s::KubernetesApi;
use crate::openapi::{Definitions, Schema};
use crate::readiness::{assume_ready, kind_readiness, KindReadiness};
use crate::validate::{validate, Diagnostic, Validation};
use foldhash::HashMap;
use kroxide_model::{FieldNode, FieldPath, FieldTree, ResourceGraphDefinition};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How to plan.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Namespace of the instance when it does not name one.
    pub namespace: String,
    /// Fill in what controllers would set, as if every resource became ready.
    pub assume_ready: bool,
    /// Live objects (or just their status) to evaluate against.
    pub observed: Observed,
}

/// Observed objects, by resource id or by kind and name.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// By resource id: the live objects (a forEach collection has several,
    /// told apart by name), or one nameless `{status: ...}` for all of them;
    /// always an array, which a plan can read as a collection's value
    /// without copying it (see [`Planner::plan`]).
    by_id: BTreeMap<String, Value>,
    objects: Vec<Value>,
}

impl Observed {
    /// From YAML documents: a Kubernetes object (matched by kind and name),
    /// or a map from resource id to an object or to `{status: ...}`.
    pub fn from_documents(docs: impl IntoIterator<Item = Value>) -> Self {
        let mut o = Observed::default();
        for d in docs {
            if d.get("kind").is_some() {
                o.objects.push(d);
            } else if let Value::Object(m) = d {
                for (k, v) in m {
                    o.insert(&k, v);
                }
            }
        }
        o
    }

    /// Observes `obj` as (one of the objects of) resource `id`; an object
    /// of the same name observed before is replaced.
    pub fn insert(&mut self, id: &str, obj: Value) {
        let list = match self
            .by_id
            .entry(id.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list,
            other => {
                *other = Value::Array(Vec::new());
                other.as_array_mut().expect("an array")
            }
        };
        let name = kroxide_model::meta_str(&obj, "name");
        match list
            .iter_mut()
            .find(|o| kroxide_model::meta_str(o, "name") == name)
        {
            Some(old) => *old = obj,
            None => list.push(obj),
        }
    }

    /// Observes `objs` as all the objects of resource `id`, in place of
    /// any observed before.
    pub fn replace(&mut self, id: &str, objs: Vec<Value>) {
        self.by_id.insert(id.to_string(), Value::Array(objs));
    }

    /// The objects observed for each resource id.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &[Value])> {
        self.by_id
            .iter()
            .map(|(id, v)| (id.as_str(), v.as_array().map_or(&[][..], Vec::as_slice)))
    }

    /// The objects observed for each resource id, taken out.
    pub fn into_resources(self) -> BTreeMap<String, Vec<Value>> {
        self.by_id
            .into_iter()
            .map(|(id, v)| match v {
                Value::Array(objs) => (id, objs),
                _ => (id, Vec::new()),
            })
            .collect()
    }

    /// The objects observed for `id`, as one array, when `found` (what
    /// [`Observed::lookup`] gave for each desired object, in order) are
    /// exactly those objects in that order.
    fn collection(&self, id: &str, found: &[Option<&Value>]) -> Option<&Value> {
        let all = self.by_id.get(id)?;
        let list = all.as_array()?;
        let same = list.len() == found.len()
            && list
                .iter()
                .zip(found)
                .all(|(o, f)| f.is_some_and(|f| std::ptr::eq(o, f)));
        same.then_some(all)
    }

    fn lookup(&self, id: &str, desired: &Value) -> Option<&Value> {
        let name = kroxide_model::meta_str(desired, "name");
        if let Some(list) = self.by_id.get(id).and_then(Value::as_array) {
            // The object of that name; a nameless one stands for every object.
            let found = list
                .iter()
                .find(|o| name.is_some() && kroxide_model::meta_str(o, "name") == name)
                .or_else(|| {
                    list.iter()
                        .find(|o| kroxide_model::meta_str(o, "name").is_none())
                });
            if found.is_some() {
                return found;
            }
        }
        let kind = desired.get("kind")?;
        let name = desired.pointer("/metadata/name")?;
        self.objects
            .iter()
            .find(|o| o.get("kind") == Some(kind) && o.pointer("/metadata/name") == Some(name))
    }

    /// Whether objects are given for resource `id`.
    pub fn has(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.objects.is_empty()
    }
}

/// What happens to a resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Server-side apply these objects.
    Apply,
    /// Excluded by `includeWhen` (or a dependency was).
    Skip,
    /// An `externalRef`: read, never written.
    Read,
    /// Cannot be resolved yet: data a cluster would provide is missing.
    Wait,
    /// An expression failed: KRO would report an error.
    Fail,
}

/// One resource of a plan.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedResource {
    pub id: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether it would be ready (`readyWhen` or the kind's rule), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// The resolved objects (several for a `forEach` collection).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<Value>,
    /// For objects that are instances of another RGD given with this one
    /// (KRO's chained graphs): the plan of that RGD for each, in order
    /// ([`RgdSet::plan`](crate::chain::RgdSet::plan)).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expanded: Vec<Plan>,
}

/// The plan for one instance.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The validated, defaulted instance.
    pub instance: Value,
    /// Apply waves (resource ids): each wave after the previous is ready.
    pub waves: Vec<Vec<String>>,
    /// Resources in KRO's order.
    pub resources: Vec<PlannedResource>,
    /// The status KRO would report (fields that cannot be computed yet are omitted).
    pub status: Value,
    /// Status fields not computable yet (KRO omits them), with why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, String>,
    /// Status fields whose expressions failed.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

impl Plan {
    pub fn resource(&self, id: &str) -> Option<&PlannedResource> {
        self.resources.iter().find(|r| r.id == id)
    }
}

/// Why no plan could be made.
#[derive(Clone, Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the resource graph is invalid:\n{}", .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    Graph(Vec<Diagnostic>),
    #[error("the instance is invalid:\n{}", .0.problems.iter().map(|(p, m)| format!("  {p}: {m}")).collect::<Vec<_>>().join("\n"))]
    Instance(InstanceError),
}

/// The evaluation of a plan's expressions. Compiled programs are not kept
/// by their text: the engine parses the common shapes by hand more cheaply
/// than such a lookup, and keeps the others itself; a large graph's
/// thousands of one-use programs only added to its peak memory.
struct Programs;

impl Programs {
    fn get(&self, src: &str) -> Result<Arc<dyn Program>, EvalError> {
        default_engine()
            .compile(src)
            .map_err(|e| EvalError::Failed(format!("invalid CEL `{src}`: {e}")))
    }

    fn eval(&self, src: &str, vars: &Vars<'_>) -> Result<Value, EvalError> {
        self.get(src)?.eval(vars)
    }

    /// A string value of a template: literal, standalone (typed) or template (string).
    fn eval_string(&self, s: &str, vars: &Vars<'_>) -> Result<Value, EvalError> {
        match parse_string(s).map_err(|e| EvalError::Failed(e.to_string()))? {
            StringValue::Literal(l) => Ok(Value::String(l)),
            StringValue::Standalone(e) => self.eval(&e, vars),
            StringValue::Template(parts) => {
                // KRO concatenates the parts; each must be a string.
                let mut out = String::new();
                for p in parts {
                    match p {
                        crate::expr::TemplatePart::Text(t) => out.push_str(&t),
                        crate::expr::TemplatePart::Expr(e) => match self.eval(&e, vars)? {
                            Value::String(v) => out.push_str(&v),
                            other => {
                                return Err(EvalError::Failed(format!(
                                    "${{{e}}} in the string template {s:?} gave {}, not a string (no matching overload for '_+_'): wrap it in string(...)",
                                    json_type(&other)
                                )))
                            }
                        },
                    }
                }
                Ok(Value::String(out))
            }
        }
    }

    /// `v` with every expression evaluated, following the kind's schema
    /// (`at`, a built-in kind's, when known): an expression's value of a type the field cannot hold fails
    /// the resource, as the API server refuses the object KRO applies (the
    /// checker catches the typed ones; this is for `dyn` results, such as
    /// `json.unmarshal(...)` or `dyn(x)`, known only when evaluated).
    ///
    /// `steps` is the way from `at` down to `v` (`None` for a key an
    /// expression names, where the schema is unknown): the schema is looked
    /// up only for strings with an expression, not for every field.
    fn resolve_typed<'k>(
        &self,
        v: &'k Value,
        vars: &Vars<'_>,
        at: Option<(&Schema, &Definitions)>,
        path: &mut Vec<&'k str>,
        steps: &mut Vec<Option<&'k str>>,
    ) -> Result<Value, EvalError> {
        Ok(match v {
            Value::String(s) => {
                let out = self.eval_string(s, vars)?;
                if !has_expression_start(s) {
                    return Ok(out);
                }
                let field = at.and_then(|(root, defs)| {
                    let schema = steps
                        .iter()
                        .try_fold(root, |schema, step| schema.child((*step)?, defs))?;
                    Some((schema, defs))
                });
                if let Some((schema, defs)) = field {
                    if !schema.admits(&out, defs) {
                        return Err(EvalError::Failed(format!(
                            "{}: the expression gives {}, but the field is {}: the API server refuses the object",
                            path.join("."),
                            json_type(&out),
                            defs.resolve(schema).type_name()
                        )));
                    }
                }
                out
            }
            Value::Array(a) => {
                steps.push(Some("0"));
                let items = a
                    .iter()
                    .map(|x| self.resolve_typed(x, vars, at, path, steps))
                    .collect::<Result<_, _>>();
                steps.pop();
                Value::Array(items?)
            }
            Value::Object(o) => {
                let mut m = Map::with_capacity(o.len());
                for (k, x) in o {
                    let (key, step) = if has_expression_start(k) {
                        let key = match self.eval_string(k, vars)? {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, None)
                    } else {
                        (k.clone(), Some(k.as_str()))
                    };
                    steps.push(step);
                    path.push(k);
                    let value = self.resolve_typed(x, vars, at, path, steps);
                    path.pop();
                    steps.pop();
                    m.insert(key, value?);
                }
                Value::Object(m)
            }
            other => other.clone(),
        })
    }

    /// The unset instance field that the first failing expression of the
    /// string `s` waits for, if that is why it fails.
    fn unset_in(&self, s: &str, vars: &Vars<'_>, instance: &Value) -> Option<Unset> {
        let exprs = match parse_string(s).ok()? {
            StringValue::Literal(_) => return None,
            StringValue::Standalone(e) => vec![e],
            StringValue::Template(parts) => parts
                .into_iter()
                .filter_map(|p| match p {
                    crate::expr::TemplatePart::Expr(e) => Some(e),
                    crate::expr::TemplatePart::Text(_) => None,
                })
                .collect(),
        };
        for e in exprs {
            let program = self.get(&e).ok()?;
            match program.eval(vars) {
                Ok(_) => continue,
                Err(EvalError::Pending(why)) => return unset_field(&*program, &why, instance),
                Err(EvalError::Failed(_)) => return None,
            }
        }
        None
    }

    /// Where in `template` (first failing string, in [`Self::resolve_typed`]'s
    /// order) an unset instance field is read, the string, and the field.
    fn unset_in_template(
        &self,
        template: &Value,
        vars: &Vars<'_>,
        instance: &Value,
    ) -> Option<(FieldPath, String, Unset)> {
        self.first_failing(template, &FieldPath::root(), vars)
            .and_then(|(at, s)| Some((at, s.to_string(), self.unset_in(s, vars, instance)?)))
    }

    /// The first string of `v` (a key or a value, at `at`) that does not
    /// evaluate, and where it is.
    fn first_failing<'v>(
        &self,
        v: &'v Value,
        at: &FieldPath,
        vars: &Vars<'_>,
    ) -> Option<(FieldPath, &'v str)> {
        match v {
            Value::String(s) => self
                .eval_string(s, vars)
                .is_err()
                .then(|| (at.clone(), s.as_str())),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, x)| self.first_failing(x, &at.index(i), vars)),
            Value::Object(o) => o.iter().find_map(|(k, x)| {
                let here = at.key(k.clone());
                if has_expression_start(k) && self.eval_string(k, vars).is_err() {
                    return Some((here, k.as_str()));
                }
                self.first_failing(x, &here, vars)
            }),
            _ => None,
        }
    }

    fn condition(&self, s: &str, vars: &Vars<'_>) -> Result<bool, EvalError> {
        match self.eval_string(s, vars)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::Failed(format!(
                "`{s}` gave {other}, expected a boolean"
            ))),
        }
    }
}

/// An instance field an expression reads that is not set: the instance
/// does not change while it is deployed, so what KRO would wait for (its
/// `no such key ... (data pending)`) never comes.
#[derive(Clone, Debug)]
struct Unset {
    /// The field, from the instance's root (`spec.services`).
    field: String,
    /// The expression.
    expr: String,
    /// The evaluation error (`no such key: services`).
    cause: String,
}

impl Unset {
    /// The reason of resource `id`, which reads the field at `at`; `kro`
    /// tells what KRO does then. The error is worded as KRO's (`eval
    /// "schema.spec.x": no such key: x`).
    fn describe(&self, id: &str, at: &str, kro: &str) -> String {
        let cause = match self.cause.strip_prefix("No such") {
            Some(rest) => format!("no such{rest}"),
            None => self.cause.clone(),
        };
        format!(
            "{} is not set in the instance and has no default; resource `{id}` reads it at {at} (eval {:?}: {cause}; {kro})",
            self.field, self.expr
        )
    }
}

/// What KRO v0.9.3 does when a template or forEach reads an unset field.
const KRO_WAITS: &str = "KRO would keep the instance IN_PROGRESS, waiting for it forever";
/// What KRO v0.9.3 does when an includeWhen reads an unset field.
const KRO_ERRORS: &str = "KRO would mark the instance ERROR and apply nothing";

/// The unset instance field that `program`, pending with `why`, reads, if
/// the instance is what it waits for. Only the spec counts: the instance's
/// metadata gains a uid (and KRO's labels) once it is created. An
/// expression reading only the spec waits for nothing else; one that also
/// reads anything else is blamed on the spec only when the missing key is
/// an unset spec field's and no other reference names that key.
fn unset_field(program: &dyn Program, why: &str, instance: &Value) -> Option<Unset> {
    let refs = &program.info().references;
    let is_spec = |r: &&crate::cel::Reference| {
        r.root == "schema" && r.path.first().map(String::as_str) == Some("spec")
    };
    let missing: Vec<(String, &str)> = refs
        .iter()
        .filter(is_spec)
        .filter_map(|r| first_unset(instance, &r.path))
        .collect();
    let key = missing_key(why);
    let others: Vec<_> = refs.iter().filter(|r| !is_spec(r)).collect();
    let unset = |field: String| Unset {
        field,
        expr: program.source().to_string(),
        cause: why.to_string(),
    };
    let matching = missing
        .iter()
        .find(|(_, k)| key.as_deref() == Some(*k))
        .map(|(f, _)| f.clone());
    if others.is_empty() {
        // Only the instance is read: nothing will change what it gives.
        return matching
            .or_else(|| missing.first().map(|(f, _)| f.clone()))
            .map(unset);
    }
    let key = key?;
    if others.iter().any(|r| r.path.contains(&key)) {
        return None;
    }
    matching.map(unset)
}

/// The field on `path` (below the instance's root) that is not set in
/// `instance`, as a path from the root, and its last step.
fn first_unset<'p>(instance: &Value, path: &'p [String]) -> Option<(String, &'p str)> {
    let mut at = FieldPath::root();
    let mut v = instance;
    for p in path {
        let index = p
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<usize>();
        let next = match (v, index) {
            (Value::Object(m), _) => {
                at = at.key(p.clone());
                m.get(p)
            }
            (Value::Array(a), Ok(i)) => {
                at = at.index(i);
                a.get(i)
            }
            // A value that is not a map or list: the path is wrong, not unset.
            _ => return None,
        };
        match next {
            Some(Value::Null) | None => return Some((at.to_string(), p.as_str())),
            Some(n) => v = n,
        }
    }
    None
}

/// The key a CEL error says is missing (`no such key: services`).
fn missing_key(why: &str) -> Option<String> {
    let lower = why.to_ascii_lowercase();
    ["no such key", "no such field", "no such attribute"]
        .iter()
        .find_map(|p| {
            let at = lower.find(p)? + p.len();
            let rest = why[at..].trim_start_matches([':', ' ']);
            let key: String = rest
                .trim_start_matches(['\'', '"'])
                .chars()
                .take_while(|c| !matches!(c, '\'' | '"' | ' ' | ',' | ')' | '('))
                .collect();
            (!key.is_empty()).then_some(key)
        })
}

/// Whether `merge(desired, live)` gives `live` again (as a value: the
/// order of keys aside, which no expression sees): every key of a map of
/// `desired` is in `live`'s map at that place (a list or scalar of `live`
/// replaces whatever `desired` has there).
fn covers(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => d
            .iter()
            .all(|(k, dv)| l.get(k).is_some_and(|lv| covers(lv, dv))),
        _ => true,
    }
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv) => merge(bv, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn cartesian(dims: &[(String, Vec<Value>)]) -> Vec<Vec<(String, Value)>> {
    let mut out: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (name, values) in dims {
        let mut next = Vec::new();
        for combo in &out {
            for v in values {
                let mut c = combo.clone();
                c.push((name.clone(), v.clone()));
                next.push(c);
            }
        }
        out = next;
    }
    out
}

/// Plans `rgd` for the instance `raw`.
pub fn plan(
    rgd: &ResourceGraphDefinition,
    raw: &Value,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    Planner::new(rgd)?.plan(raw, opts)
}

/// A graph validated once and planned as often as needed: a deploy plans
/// again after every wave, with what the cluster reported.
///
/// ```
/// use kroxide_semantics::plan::{Planner, PlanOptions};
/// let yaml = "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: app}\nspec:\n  schema:\n    apiVersion: v1alpha1\n    kind: App\n    spec: {name: string}\n  resources:\n  - id: config\n    template:\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: '${schema.spec.name}'}\n";
/// let rgd = &kroxide_model::load_str("app.yaml", yaml).unwrap()[0].rgd;
/// let planner = Planner::new(rgd).unwrap();
/// for name in ["web", "api"] {
///     let spec = serde_json::json!({"metadata": {"name": name}, "spec": {"name": name}});
///     let plan = planner.plan(&spec, &PlanOptions::default()).unwrap();
///     assert_eq!(plan.resources[0].objects[0]["metadata"]["name"], name);
/// }
/// ```
pub struct Planner<'a> {
    rgd: &'a ResourceGraphDefinition,
    graph: DependencyGraph,
    order: Vec<String>,
}

impl<'a> Planner<'a> {
    /// Validates `rgd`; an invalid graph cannot be planned.
    pub fn new(rgd: &'a ResourceGraphDefinition) -> Result<Self, PlanError> {
        Self::from_validation(rgd, validate(rgd))
    }

    /// The planner of `rgd` from `v`, its [`validate`]: a caller that has
    /// validated the graph already (to report its warnings) need not wait
    /// for a second validation, the costliest step of a large graph's plan.
    pub fn from_validation(
        rgd: &'a ResourceGraphDefinition,
        v: Validation,
    ) -> Result<Self, PlanError> {
        if !v.is_valid() {
            return Err(PlanError::Graph(v.errors().cloned().collect()));
        }
        Ok(Planner {
            rgd,
            graph: v.graph.expect("valid graphs have a graph"),
            order: v.order.expect("valid graphs have an order"),
        })
    }

    /// The graph.
    pub fn rgd(&self) -> &'a ResourceGraphDefinition {
        self.rgd
    }

    /// The graph's dependencies (KRO's: from its expressions).
    pub fn graph(&self) -> &DependencyGraph {
        &self.graph
    }

    /// Plans the graph for the instance `raw`: see [`plan`].
    pub fn plan(&self, raw: &Value, opts: &PlanOptions) -> Result<Plan, PlanError> {
        let (rgd, graph, order) = (self.rgd, &self.graph, &self.order);
        let ns = if opts.namespace.is_empty() {
            "default"
        } else {
            opts.namespace.as_str()
        };
        let mut instance = prepare(rgd, raw, ns).map_err(PlanError::Instance)?;
        if opts.assume_ready && instance.pointer("/metadata/uid").is_none() {
            let seed = format!(
                "{}/{}",
                instance["metadata"]["namespace"].as_str().unwrap_or(""),
                instance["metadata"]["name"].as_str().unwrap_or("")
            );
            instance["metadata"]["uid"] = json!(crate::readiness::synthetic_uid(&seed));
        }
        let instance_ns = kroxide_model::meta_str(&instance, "namespace").map(String::from);
        let waves = graph.waves().unwrap_or_default();
        let programs = Programs;
        let api = KubernetesApi::embedded();

        // What each resource looks like to the expressions of its dependents.
        // Borrowed from `opts.observed` where what a cluster reports says
        // everything (see `covers`): no copy of each live object.
        let mut seen: HashMap<String, Cow<'_, Value>> = HashMap::default();
        let mut excluded: BTreeSet<String> = BTreeSet::new();
        let mut planned: Vec<PlannedResource> = Vec::new();
        // Resources whose objects are only in `seen`.
        let mut kept_in_seen: foldhash::HashSet<&str> = Default::default();

        let by_id: HashMap<&str, &kroxide_model::Resource> = rgd
            .spec
            .resources
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        // Wave by wave: a wave's resources read only earlier waves, so they
        // are planned at once (on every core, for a large graph).
        for wave in &waves {
            let w = Wave {
                rgd,
                graph,
                by_id: &by_id,
                instance: &instance,
                instance_ns: instance_ns.as_deref(),
                opts,
                api,
                seen: &seen,
                excluded: &excluded,
            };
            let outcomes = crate::par::map(wave, |_, id| plan_resource(&w, id));
            for (id, o) in wave.iter().zip(outcomes) {
                if o.excluded {
                    excluded.insert(id.clone());
                }
                if let Some(v) = o.seen {
                    seen.insert(id.clone(), v);
                }
                if o.kept_in_seen {
                    kept_in_seen.insert(id.as_str());
                }
                planned.push(o.pr);
            }
        }
        // The resources in KRO's order.
        let position: HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        planned.sort_by_key(|pr| position[pr.id.as_str()]);

        // Status: every field, against everything seen.
        let mut vars = Vars::new();
        vars.for_kro(rgd.kro_version);
        vars.add("schema", &instance);
        for (k, v) in &seen {
            vars.add(k, v.as_ref());
        }
        let mut pending = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let (conditions, fields) = match &rgd.spec.schema.status {
            Some(tree) => kroxide_model::split_conditions(tree),
            None => (None, Cow::Owned(FieldTree::new())),
        };
        let mut status = status_tree(
            &programs,
            &fields,
            "status",
            &vars,
            &mut pending,
            &mut errors,
        );
        if let Some(FieldNode::List(entries)) = conditions {
            // `schema` as KRO gives it to conditions: the instance with its
            // built-in conditions of this reconcile in `status.conditions`.
            let ready = planned
                .iter()
                .all(|pr| matches!(pr.action, Action::Skip) || pr.ready == Some(true));
            let mut with_builtins = instance.clone();
            with_builtins["status"] = json!({"conditions": builtin_conditions(ready)});
            let mut vars = vars.clone();
            vars.add_owned("schema", with_builtins);
            let written = author_conditions(&programs, entries, &vars, &mut pending, &mut errors);
            status["conditions"] = Value::Array(written);
        }
        drop(vars);
        for pr in &mut planned {
            if !kept_in_seen.contains(pr.id.as_str()) {
                continue;
            }
            pr.objects = match seen.remove(&pr.id).map(Cow::into_owned) {
                Some(Value::Array(objects)) if !by_id[pr.id.as_str()].for_each.is_empty() => {
                    objects
                }
                Some(object) => vec![object],
                None => Vec::new(),
            };
        }
        Ok(Plan {
            instance,
            waves,
            resources: planned,
            status,
            pending,
            errors,
        })
    }
}

/// What the resources of one wave read: the graph, the instance, and what
/// the earlier waves gave.
#[derive(Clone, Copy)]
struct Wave<'w, 'o> {
    rgd: &'w ResourceGraphDefinition,
    graph: &'w DependencyGraph,
    by_id: &'w HashMap<&'w str, &'w kroxide_model::Resource>,
    instance: &'w Value,
    instance_ns: Option<&'w str>,
    opts: &'o PlanOptions,
    api: &'w KubernetesApi,
    seen: &'w HashMap<String, Cow<'o, Value>>,
    excluded: &'w BTreeSet<String>,
}

/// The plan of one resource, and what its dependents see of it.
struct Outcome<'o> {
    pr: PlannedResource,
    /// Excluded: so is everything that depends on it.
    excluded: bool,
    /// What its dependents' expressions read as the resource.
    seen: Option<Cow<'o, Value>>,
    /// Its objects are `seen` alone until the status has been evaluated.
    kept_in_seen: bool,
}

impl Outcome<'_> {
    fn planned(pr: PlannedResource) -> Self {
        Outcome {
            pr,
            excluded: false,
            seen: None,
            kept_in_seen: false,
        }
    }

    fn excluded(pr: PlannedResource) -> Self {
        Outcome {
            excluded: true,
            ..Outcome::planned(pr)
        }
    }
}

/// Plans resource `id` of wave `w`: see [`Planner::plan`].
fn plan_resource<'o>(w: &Wave<'_, 'o>, id: &str) -> Outcome<'o> {
    let Wave {
        rgd,
        graph,
        by_id,
        instance,
        instance_ns,
        opts,
        api,
        seen,
        excluded,
    } = *w;
    let programs = &Programs;
    let r = by_id[id];
    let mut vars = Vars::new();
    vars.for_kro(rgd.kro_version);
    vars.add("schema", instance);
    for d in graph.dependencies(id) {
        if let Some(o) = seen.get(d) {
            vars.add(d, o.as_ref());
        }
    }
    let mut pr = PlannedResource {
        id: id.to_string(),
        action: Action::Apply,
        reason: None,
        ready: None,
        objects: Vec::new(),
        expanded: Vec::new(),
    };
    // A dependency that was excluded excludes this one too.
    if let Some(d) = graph
        .dependencies(id)
        .into_iter()
        .find(|d| excluded.contains(*d))
    {
        pr.action = Action::Skip;
        pr.reason = Some(format!("depends on `{d}`, which is excluded"));
        return Outcome::excluded(pr);
    }
    let mut include = Ok(true);
    for c in &r.include_when {
        match programs.condition(c, &vars) {
            Ok(true) => {}
            Ok(false) => {
                include = Ok(false);
                break;
            }
            Err(e) => {
                include = Err((c.clone(), e));
                break;
            }
        }
    }
    match include {
        Ok(false) => {
            pr.action = Action::Skip;
            pr.reason = Some("includeWhen is false".into());
            return Outcome::excluded(pr);
        }
        Err((c, e)) => {
            // KRO marks the instance ERROR when an includeWhen reads
            // an unset instance field (and applies nothing).
            pr.action = if matches!(e, EvalError::Pending(_)) {
                Action::Wait
            } else {
                Action::Fail
            };
            pr.reason = Some(format!("includeWhen {c}: {e}"));
            if let Some(u) = programs.unset_in(&c, &vars, instance) {
                pr.action = Action::Fail;
                pr.reason = Some(u.describe(id, &format!("includeWhen {c}"), KRO_ERRORS));
            }
            return Outcome::planned(pr);
        }
        Ok(true) => {}
    }
    if let Some(ext) = &r.external_ref {
        pr.action = Action::Read;
        let desired = json!({"apiVersion": ext.api_version, "kind": ext.kind, "metadata": {"name": ext.metadata.name}});
        let mut seen = None;
        match opts.observed.lookup(id, &desired) {
            Some(o) => {
                let mut obj = desired.clone();
                merge(&mut obj, o);
                pr.ready = Some(true);
                seen = Some(Cow::Owned(obj.clone()));
                pr.objects.push(obj);
            }
            None => {
                pr.reason = Some("the external object is read from the cluster; supply it with --observed to plan its dependents".into());
            }
        }
        return Outcome {
            seen,
            ..Outcome::planned(pr)
        };
    }
    let template = r
        .template
        .as_ref()
        .expect("validated: template or externalRef");
    // forEach: one object per combination of the iterators' values.
    let mut combos = vec![Vec::new()];
    if !r.for_each.is_empty() {
        let mut dims = Vec::new();
        let mut failed = None;
        for dim in &r.for_each {
            for (name, expr) in dim {
                match programs.eval_string(expr, &vars) {
                    Ok(Value::Array(a)) => dims.push((name.clone(), a)),
                    Ok(Value::Null) => dims.push((name.clone(), Vec::new())),
                    Ok(other) => {
                        failed = Some((
                            Action::Fail,
                            format!("forEach {name}: {other} is not a list"),
                        ))
                    }
                    Err(e) => {
                        failed = Some(match programs.unset_in(expr, &vars, instance) {
                            Some(u) => (
                                Action::Fail,
                                u.describe(id, &format!("forEach {name}: {expr}"), KRO_WAITS),
                            ),
                            None if matches!(e, EvalError::Pending(_)) => {
                                (Action::Wait, format!("forEach {name}: {e}"))
                            }
                            None => (Action::Fail, format!("forEach {name}: {e}")),
                        })
                    }
                }
            }
        }
        if let Some((a, why)) = failed {
            pr.action = a;
            pr.reason = Some(why);
            return Outcome::planned(pr);
        }
        combos = cartesian(&dims);
    }
    let mut objects = Vec::new();
    let mut problem = None;
    for combo in &combos {
        let mut v2 = vars.clone();
        for (k, val) in combo {
            v2.add(k, val);
        }
        let typed = template
            .get("apiVersion")
            .and_then(Value::as_str)
            .zip(template.get("kind").and_then(Value::as_str))
            .and_then(|(av, k)| api.schema(av, k))
            .map(|s| (s, &api.definitions));
        match programs.resolve_typed(template, &v2, typed, &mut Vec::new(), &mut Vec::new()) {
            // Waiting for an instance field that is not set would
            // wait forever (as KRO does): fail, naming it.
            Err(EvalError::Pending(why)) => {
                problem = Some(match programs.unset_in_template(template, &v2, instance) {
                    Some((at, s, u)) => {
                        EvalError::Failed(u.describe(id, &format!("{at}: {s}"), KRO_WAITS))
                    }
                    None => EvalError::Pending(why),
                });
                break;
            }
            Ok(mut obj) => {
                let (av, kind) = (
                    obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
                    obj.get("kind").and_then(Value::as_str).unwrap_or(""),
                );
                let namespaced = api.kind(av, kind).map(|k| k.namespaced).unwrap_or(true);
                if namespaced && obj.pointer("/metadata/namespace").is_none() {
                    if let Some(ns) = &instance_ns {
                        obj["metadata"]["namespace"] = json!(ns);
                    }
                }
                objects.push(obj);
            }
            Err(e) => {
                problem = Some(e);
                break;
            }
        }
    }
    if let Some(e) = problem {
        pr.action = if matches!(e, EvalError::Pending(_)) {
            Action::Wait
        } else {
            Action::Fail
        };
        pr.reason = Some(e.to_string());
        return Outcome::planned(pr);
    }
    // Two objects with one identity is an error in KRO.
    let mut ids = BTreeSet::new();
    for o in &objects {
        let key = format!(
            "{}/{}/{}",
            o["kind"],
            o.pointer("/metadata/namespace").unwrap_or(&Value::Null),
            o.pointer("/metadata/name").unwrap_or(&Value::Null)
        );
        if !ids.insert(key.clone()) {
            pr.action = Action::Fail;
            pr.reason = Some(format!(
                "forEach produced two objects with the same identity: {}",
                o.pointer("/metadata/name").unwrap_or(&Value::Null)
            ));
        }
    }
    // The API server refuses objects whose name is not a DNS subdomain.
    for o in &objects {
        let name = kroxide_model::meta_str(o, "name");
        let generated = o.pointer("/metadata/generateName").is_some();
        let why = match name {
            Some(n) => crate::instance::name_problem(n),
            None if generated => None,
            None => Some("has no metadata.name".into()),
        };
        if let Some(why) = why {
            pr.action = Action::Fail;
            pr.reason = Some(format!("metadata.name {why}"));
        }
        // So are labels the API server would refuse (caught here
        // also for objects that resolve only mid-deploy).
        let labels = o.pointer("/metadata/labels").and_then(Value::as_object);
        for (k, v) in labels.into_iter().flatten() {
            let why = crate::instance::label_key_problem(k)
                .map(|w| format!("metadata.labels: key {k:?} {w}"))
                .or_else(|| {
                    let v = v.as_str()?;
                    crate::instance::label_value_problem(v)
                        .map(|w| format!("metadata.labels.{k}: value {w}"))
                });
            if let Some(why) = why {
                pr.action = Action::Fail;
                pr.reason = Some(why);
            }
        }
    }
    // What dependents see: the desired object, merged with what a
    // cluster reports (observed), or what it would report (assumed).
    let observed: Vec<Option<&Value>> = objects
        .iter()
        .map(|o| opts.observed.lookup(id, o))
        .collect();
    let var = |objects: Vec<Value>| {
        if r.for_each.is_empty() {
            objects.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(objects)
        }
    };
    // Each live object says everything its desired one does: the
    // merge of the two is the live object, read where it is.
    let whole = observed
        .iter()
        .zip(&objects)
        .all(|(obs, o)| obs.is_some_and(|obs| covers(obs, o)));
    let borrowed = match (whole, r.for_each.is_empty()) {
        (false, _) => None,
        (true, true) => observed.first().copied().flatten(),
        (true, false) => opts.observed.collection(id, &observed),
    };
    if let Some(live) = borrowed {
        let objs = match live {
            Value::Array(a) if !r.for_each.is_empty() => a.as_slice(),
            one => std::slice::from_ref(one),
        };
        pr.ready = Some(readiness(programs, r, id, objs).is_ready());
        pr.objects = objects;
        Outcome {
            seen: Some(Cow::Borrowed(live)),
            ..Outcome::planned(pr)
        }
    } else if opts.assume_ready || observed.iter().any(Option::is_some) {
        let live: Vec<Value> = objects
            .iter()
            .zip(&observed)
            .map(|(o, obs)| match obs {
                Some(obs) => {
                    let mut l = o.clone();
                    merge(&mut l, obs);
                    l
                }
                None if opts.assume_ready => assume_ready(o),
                None => o.clone(),
            })
            .collect();
        pr.ready = Some(readiness(programs, r, id, &live).is_ready());
        pr.objects = objects;
        Outcome {
            seen: Some(Cow::Owned(var(live))),
            ..Outcome::planned(pr)
        }
    } else {
        // Nothing live: dependents see the desired objects, kept
        // once (in `seen`) until the status has been evaluated.
        Outcome {
            seen: Some(Cow::Owned(var(objects))),
            kept_in_seen: true,
            ..Outcome::planned(pr)
        }
    }
}

/// Whether the live objects of resource `r` are ready: its `readyWhen`
/// expressions if it has any, else its kind's rule.
pub fn is_ready(r: &kroxide_model::Resource, live: &[Value]) -> bool {
    readiness_of(r, live).is_ready()
}

/// Where the live objects of resource `r` stand, with what it waits for or
/// why it failed: its `readyWhen` expressions if it has any, else its
/// kind's rule (the kind of its template, not of the objects, which carry
/// none when they come from a LIST). `NoRule`: ready because it exists.
pub fn readiness_of(r: &kroxide_model::Resource, live: &[Value]) -> KindReadiness {
    readiness(&Programs, r, &r.id, live)
}

fn readiness(
    programs: &Programs,
    r: &kroxide_model::Resource,
    id: &str,
    live: &[Value],
) -> KindReadiness {
    if !r.ready_when.is_empty() {
        for obj in live {
            let mut vars = Vars::new();
            vars.add(id, obj);
            vars.add("each", obj);
            for c in &r.ready_when {
                match programs.condition(c, &vars) {
                    Ok(true) => {}
                    Ok(false) => return KindReadiness::Waiting(format!("readyWhen {c} is false")),
                    Err(e) => return KindReadiness::Waiting(format!("readyWhen {c}: {e}")),
                }
            }
        }
        return KindReadiness::Ready;
    }
    let kind = r.kind().unwrap_or("");
    let mut out = KindReadiness::NoRule;
    for obj in live {
        let named = |why: String| match (live.len(), kroxide_model::meta_str(obj, "name")) {
            (2.., Some(n)) => format!("{n}: {why}"),
            _ => why,
        };
        match kind_readiness(kind, obj) {
            KindReadiness::Failed(why) => return KindReadiness::Failed(named(why)),
            KindReadiness::Waiting(why) if out.is_ready() => {
                out = KindReadiness::Waiting(named(why))
            }
            KindReadiness::Ready if out == KindReadiness::NoRule => out = KindReadiness::Ready,
            _ => {}
        }
    }
    out
}

/// A JSON value's type, as a field's schema names types.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// KRO's own conditions of an instance, as it computes them in a reconcile
/// that resolved the graph: `ResourcesReady` and `Ready` as every included
/// resource is ready. Author-defined conditions read them through
/// `runtime.condition(schema, 'Ready')`.
/// Reasons and messages are KRO v0.9.3's when true (seen on the kit);
/// kroxide leaves them empty when not.
fn builtin_conditions(ready: bool) -> Value {
    let (status, resources, ready_reason) = if ready {
        (
            "True",
            ("AllResourcesReady", "all resources are created and ready"),
            "Ready",
        )
    } else {
        ("False", ("", ""), "")
    };
    json!([
        {"type": "InstanceManaged", "status": "True", "reason": "Managed",
            "message": "instance is properly managed with finalizers and labels"},
        {"type": "GraphResolved", "status": "True", "reason": "Resolved",
            "message": "runtime graph created and all resources resolved"},
        {"type": "ResourcesReady", "status": status, "reason": resources.0, "message": resources.1},
        {"type": "Ready", "status": status, "reason": ready_reason, "message": ""},
    ])
}

/// The author-defined conditions KRO writes to `status.conditions`: each
/// entry's condition (or list of them) in order, `reason` and `message` left
/// out when empty. An entry whose data is not there yet is left out (KRO
/// keeps the condition it wrote before); one that fails, gives no
/// condition, or repeats a type is an error (KRO drops it and sets the
/// instance's state to ERROR).
fn author_conditions(
    programs: &Programs,
    entries: &[FieldNode],
    vars: &Vars<'_>,
    pending: &mut BTreeMap<String, String>,
    errors: &mut BTreeMap<String, String>,
) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let p = format!("status.conditions[{i}]");
        let FieldNode::Leaf(s) = entry else { continue };
        let value = match programs.eval_string(s, vars) {
            Ok(v) => v,
            Err(EvalError::Pending(why)) => {
                pending.insert(p, why);
                continue;
            }
            Err(EvalError::Failed(why)) => {
                errors.insert(p, why);
                continue;
            }
        };
        let items = match value {
            Value::Array(a) => a,
            one => vec![one],
        };
        // An entry gives conditions only, or is dropped whole.
        let conditions: Option<Vec<Value>> = items.iter().map(as_condition).collect();
        match conditions {
            Some(c) => out.extend(c),
            None => {
                errors.insert(
                    p,
                    "the entry gave something other than runtime.newCondition(...) or a list of them: KRO drops it".into(),
                );
            }
        }
    }
    // A type given twice: KRO drops every copy.
    let mut count: HashMap<String, usize> = HashMap::default();
    for c in &out {
        *count
            .entry(c["type"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let mut repeated: Vec<&String> = count
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(t, _)| t)
        .collect();
    if !repeated.is_empty() {
        repeated.sort();
        let names: Vec<String> = repeated.iter().map(|t| format!("{t:?}")).collect();
        errors.insert(
            "status.conditions".into(),
            format!(
                "condition types given more than once (KRO drops every copy): {}",
                names.join(", ")
            ),
        );
    }
    out.into_iter()
        .filter(|c| {
            count
                .get(c["type"].as_str().unwrap_or(""))
                .is_none_or(|n| *n == 1)
        })
        .collect()
}

/// A condition as KRO writes it from `runtime.newCondition`'s value (four
/// string fields), empty `reason` and `message` left out.
fn as_condition(v: &Value) -> Option<Value> {
    let o = v.as_object()?;
    if o.len() != 4
        || !["type", "status", "reason", "message"]
            .iter()
            .all(|k| o.get(*k).is_some_and(Value::is_string))
    {
        return None;
    }
    let mut out = Map::new();
    for k in ["type", "status", "reason", "message"] {
        let s = o[k].as_str().unwrap_or("");
        if !s.is_empty() || k == "type" || k == "status" {
            out.insert(k.into(), Value::String(s.into()));
        }
    }
    Some(Value::Object(out))
}

fn status_tree(
    programs: &Programs,
    tree: &FieldTree,
    path: &str,
    vars: &Vars<'_>,
    pending: &mut BTreeMap<String, String>,
    errors: &mut BTreeMap<String, String>,
) -> Value {
    let mut out = Map::new();
    for (k, v) in tree {
        let p = format!("{path}.{k}");
        if let Some(val) = status_node(programs, v, &p, vars, pending, errors) {
            out.insert(k.clone(), val);
        }
    }
    Value::Object(out)
}

/// One status field's value: `None` when KRO leaves it out (null, pending,
/// failed, an empty map or list). A list holds the values of its items, in
/// order, without those left out (KRO's `[a, pending]` gives `[a]`).
fn status_node(
    programs: &Programs,
    node: &FieldNode,
    p: &str,
    vars: &Vars<'_>,
    pending: &mut BTreeMap<String, String>,
    errors: &mut BTreeMap<String, String>,
) -> Option<Value> {
    match node {
        FieldNode::Object(m) => {
            let sub = status_tree(programs, m, p, vars, pending, errors);
            sub.as_object()
                .is_some_and(|o| !o.is_empty())
                .then_some(sub)
        }
        FieldNode::List(items) => {
            let values: Vec<Value> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    status_node(programs, item, &format!("{p}[{i}]"), vars, pending, errors)
                })
                .collect();
            (!values.is_empty()).then_some(Value::Array(values))
        }
        FieldNode::Leaf(s) => match programs.eval_string(s, vars) {
            // KRO leaves a status field whose value is null out.
            Ok(Value::Null) => None,
            Ok(val) => Some(val),
            Err(EvalError::Pending(why)) => {
                pending.insert(p.to_string(), why);
                None
            }
            Err(EvalError::Failed(why)) => {
                errors.insert(p.to_string(), why);
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cartesian_product() {
        let c = cartesian(&[
            ("a".into(), vec![json!(1), json!(2)]),
            ("b".into(), vec![json!("x"), json!("y")]),
        ]);
        assert_eq!(c.len(), 4);
        assert_eq!(
            c[1],
            vec![("a".to_string(), json!(1)), ("b".to_string(), json!("y"))]
        );
        assert!(cartesian(&[("a".into(), vec![])]).is_empty());
    }

    /// Each object of a forEach collection is matched to its own live
    /// object by name, whatever order they were observed in, and the
    /// collection keeps forEach order (as KRO's `configs[0]` is the first
    /// item).
    #[test]
    fn a_collection_sees_each_live_object_in_foreach_order() {
        let rgd: kroxide_model::ResourceGraphDefinition = serde_json::from_value(json!({
            "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "c"},
            "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "C",
                "spec": {"names": "[]string"},
                "status": {"first": "${configs[0].metadata.uid}", "all": "${configs.map(c, c.metadata.uid)}"}},
              "resources": [{"id": "configs", "forEach": [{"nm": "${schema.spec.names}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "${nm}"}, "data": {"k": "v"}}}]}
        }))
        .unwrap();
        let instance = json!({"metadata": {"name": "i"}, "spec": {"names": ["zz", "aa", "mm"]}});
        let mut observed = Observed::default();
        for n in ["aa", "mm", "zz"] {
            observed.insert(
                "configs",
                json!({"metadata": {"name": n, "uid": format!("uid-{n}")}}),
            );
        }
        let p = plan(
            &rgd,
            &instance,
            &PlanOptions {
                observed,
                ..PlanOptions::default()
            },
        )
        .unwrap();
        assert_eq!(p.status["first"], "uid-zz", "{:#}", p.status);
        assert_eq!(p.status["all"], json!(["uid-zz", "uid-aa", "uid-mm"]));
    }

    /// Live objects that hold every field of their desired objects are
    /// read as they are (no merged copy): the same values as the merge,
    /// whatever order they were observed in; one that lacks a desired
    /// field is merged, and shows it.
    #[test]
    fn complete_live_objects_are_read_as_the_merge_would_give_them() {
        let live = json!({"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "c", "uid": "u"}, "data": {"k": "live", "x": "1"}});
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"k": "v"}, "spec": {"list": [1]}});
        assert!(!covers(&live, &desired));
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"k": "v"}});
        assert!(covers(&live, &desired));
        let mut merged = desired.clone();
        merge(&mut merged, &live);
        assert_eq!(merged, live);

        let rgd: kroxide_model::ResourceGraphDefinition = serde_json::from_value(json!({
            "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "c"},
            "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "C",
                "spec": {"names": "[]string"},
                "status": {"uids": "${configs.map(c, c.metadata.uid)}",
                    "k": "${configs.map(c, c.data.k)}", "x": "${configs[1].data.x}",
                    "one": "${single.data.k + single.metadata.uid}"}},
              "resources": [{"id": "configs", "forEach": [{"nm": "${schema.spec.names}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "${nm}"}, "data": {"k": "v", "d": "${nm}"}}},
                {"id": "single", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "s"}, "data": {"k": "v"}}}]}
        }))
        .unwrap();
        let instance = json!({"metadata": {"name": "i"}, "spec": {"names": ["zz", "aa"]}});
        let status = |order: &[&str], complete: bool| {
            let mut observed = Observed::default();
            for n in order {
                let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": n, "namespace": "default", "uid": format!("uid-{n}")},
                    "data": {"k": format!("live-{n}"), "x": n}});
                if complete {
                    o["data"]["d"] = json!(n);
                }
                observed.insert("configs", o);
            }
            observed.insert("single", json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "s", "namespace": "default", "uid": "u"}, "data": {"k": "live"}}));
            let opts = PlanOptions {
                observed,
                ..PlanOptions::default()
            };
            let p = plan(&rgd, &instance, &opts).unwrap();
            assert_eq!(p.resources[0].ready, Some(true));
            assert_eq!(
                p.resources[0].objects[0]["data"]["k"], "v",
                "the desired objects"
            );
            p.status
        };
        let want = json!({"uids": ["uid-zz", "uid-aa"], "k": ["live-zz", "live-aa"], "x": "aa", "one": "liveu"});
        // In forEach order and complete: read as they are.
        assert_eq!(status(&["zz", "aa"], true), want);
        // Observed in another order, or without a desired field: merged.
        assert_eq!(status(&["aa", "zz"], true), want);
        assert_eq!(status(&["zz", "aa"], false), want);
    }

    /// A label value the API server would refuse fails the plan, so a
    /// deploy stops before writing even when the object resolves only
    /// mid-deploy.
    #[test]
    fn labels_the_server_would_refuse_fail_the_plan() {
        let rgd: kroxide_model::ResourceGraphDefinition = serde_json::from_value(json!({
            "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "l"},
            "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "L", "spec": {"team": "string"}},
              "resources": [{"id": "config", "template": {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "c", "labels": {"team": "${schema.spec.team}"}}}}]}
        }))
        .unwrap();
        let run = |team: &str| {
            let i = json!({"metadata": {"name": "i"}, "spec": {"team": team}});
            plan(&rgd, &i, &PlanOptions::default()).unwrap().resources[0].clone()
        };
        assert_eq!(run("payments").action, Action::Apply);
        let long = run(&"x".repeat(64));
        assert_eq!(long.action, Action::Fail);
        assert_eq!(
            long.reason.as_deref(),
            Some("metadata.labels.team: value is 64 characters long, a label value has at most 63")
        );
        assert_eq!(run("-bad").action, Action::Fail);
    }
}
