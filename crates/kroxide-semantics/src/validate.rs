//! Offline validation of a ResourceGraphDefinition with KRO's rules.
//!
//! No cluster and no KRO controller: everything KRO would reject when the
//! RGD is applied, and what the API server would reject when the resources
//! are created, is found here. Each [`Diagnostic`] names the resource id and
//! the field path inside the RGD document, so callers can point at the
//! source line.

use crate::cel::{
    self, default_engine, CelType, ExprInfo, Program, Reference, TypeEnv, FUNCTION_NAMESPACES,
    TYPE_IDENTIFIERS,
};
use crate::crd::{spec_schema, InstanceNames};
use crate::dag::DependencyGraph;
use crate::expr::{has_expression_start, parse_string, StringValue};
use crate::k8s::{is_open, property_names, KubernetesApi};
use crate::openapi::{self, closest, Definitions, Options, Schema, UnknownFields};
use kroxide_model::{
    FieldNode, FieldPath, FieldTree, PathSegment, Resource, ResourceGraphDefinition,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Informational: e.g. a CRD kind that cannot be type-checked offline.
    Note,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable rule name, e.g. `resource-id`, `unknown-identifier`.
    pub rule: &'static str,
    pub message: String,
    /// The resource the finding is about.
    pub resource: Option<String>,
    /// Path in the RGD document (`spec.resources[1].template.spec.replicas`).
    pub path: FieldPath,
    /// What to do about it.
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)?;
        match (&self.resource, self.path.is_root()) {
            (Some(r), false) => write!(f, " (resource `{r}`, at {})", self.path)?,
            (Some(r), true) => write!(f, " (resource `{r}`)")?,
            (None, false) => write!(f, " (at {})", self.path)?,
            (None, true) => {}
        }
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

/// The outcome of validating one RGD.
#[derive(Debug, Default)]
pub struct Validation {
    pub diagnostics: Vec<Diagnostic>,
    /// The dependency graph, when the resources could be read.
    pub graph: Option<DependencyGraph>,
    /// KRO's topological order, when there is no cycle.
    pub order: Option<Vec<String>>,
}

impl Validation {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }
}

/// The YAML reader's warnings about one document (repeated keys, keys read
/// as booleans) as diagnostics, so that they are reported like the rest.
pub fn load_warnings(source: &kroxide_model::SourceFile) -> Vec<Diagnostic> {
    source
        .warnings()
        .iter()
        .map(|w| Diagnostic {
            severity: Severity::Warning,
            rule: w.rule,
            message: w.message.clone(),
            resource: None,
            path: w.path.clone(),
            help: None,
        })
        .collect()
}

/// KRO's reserved words: no resource id or iterator may be one (nor one
/// of CEL's, [`crate::cel::RESERVED`]).
pub const RESERVED_IDS: &[&str] = &[
    "apiVersion",
    "context",
    "dependency",
    "dependencies",
    "each",
    "externalRef",
    "externalReference",
    "externalRefs",
    "externalReferences",
    "graph",
    "graphengine",
    "instance",
    "item",
    "items",
    "kind",
    "kro",
    "metadata",
    "namespace",
    "object",
    "resource",
    "resourcegraphdefinition",
    "resourceGraphDefinition",
    "resources",
    "root",
    "runtime",
    "schema",
    "self",
    "serviceAccountName",
    "spec",
    "status",
    "this",
    "variables",
    "vars",
    "version",
];

/// A word KRO or CEL keeps for itself.
fn is_reserved(id: &str) -> bool {
    RESERVED_IDS.contains(&id) || crate::cel::RESERVED.contains(&id)
}

fn is_lower_camel(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase()) && c.all(|c| c.is_ascii_alphanumeric())
}

fn is_upper_camel(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_uppercase())
        && s.len() <= 63
        && c.all(|c| c.is_ascii_alphanumeric())
}

fn is_kube_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    if tail.is_empty() {
        return true;
    }
    for pre in ["alpha", "beta"] {
        if let Some(n) = tail.strip_prefix(pre) {
            return !n.is_empty() && n.chars().all(|c| c.is_ascii_digit());
        }
    }
    false
}

/// The reason an id cannot be used, if any.
pub fn check_id(id: &str) -> Option<String> {
    if is_reserved(id) {
        return Some(format!("id `{id}` is a reserved keyword in KRO"));
    }
    if FUNCTION_NAMESPACES.contains(&id) || TYPE_IDENTIFIERS.contains(&id) {
        return Some(format!(
            "id `{id}` shadows the CEL function namespace or type `{id}`"
        ));
    }
    if !is_lower_camel(id) {
        return Some(format!("id `{id}` is not a valid KRO resource id: must be lowerCamelCase (letters and digits, starting lowercase)"));
    }
    None
}

/// Suggests a lowerCamelCase id for `s` (`user-service` → `userService`).
pub fn suggest_id(s: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if out.is_empty() {
                out.push(c.to_ascii_lowercase());
            } else if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

/// What the checks read, and the diagnostics of one part of the graph: a
/// resource's checks get a context of their own (see [`Ctx::fork`]), so
/// that the resources of a large graph are checked on every core.
struct Ctx<'a> {
    rgd: &'a ResourceGraphDefinition,
    /// Resource position by id (large graphs look ids up often).
    index: &'a foldhash::HashMap<&'a str, usize>,
    out: Vec<Diagnostic>,
    ids: &'a BTreeSet<String>,
    spec: Option<&'a Schema>,
    api: &'a KubernetesApi,
}

impl<'a> Ctx<'a> {
    /// The same context with no diagnostics yet.
    fn fork(&self) -> Ctx<'a> {
        Ctx {
            out: Vec::new(),
            ..*self
        }
    }

    /// The types of what expressions read: the spec, resources, kinds.
    fn types(&self) -> GraphTypes<'_> {
        GraphTypes {
            rgd: self.rgd,
            index: self.index,
            spec: self.spec,
            api: self.api,
        }
    }

    fn push(
        &mut self,
        severity: Severity,
        rule: &'static str,
        resource: Option<&str>,
        path: FieldPath,
        message: String,
        help: Option<String>,
    ) {
        self.out.push(Diagnostic {
            severity,
            rule,
            message,
            resource: resource.map(String::from),
            path,
            help,
        });
    }

    fn error(
        &mut self,
        rule: &'static str,
        resource: Option<&str>,
        path: FieldPath,
        message: String,
    ) {
        self.push(Severity::Error, rule, resource, path, message, None);
    }
}

/// The CEL type an OpenAPI schema gives its values.
pub fn cel_type(s: &Schema, defs: &Definitions) -> CelType {
    let s = defs.resolve(s);
    if s.x_int_or_string == Some(true)
        || matches!(
            s.format.as_deref(),
            Some("int-or-string") | Some("quantity")
        )
    {
        return CelType::Dyn;
    }
    match s.type_.as_deref() {
        Some("integer") => CelType::Int,
        Some("number") => CelType::Double,
        Some("string") => CelType::String,
        Some("boolean") => CelType::Bool,
        Some("array") => CelType::List(Box::new(
            s.items
                .as_ref()
                .map(|i| cel_type(i, defs))
                .unwrap_or(CelType::Dyn),
        )),
        Some("object") => match &s.additional_properties {
            Some(openapi::AdditionalProperties::Schema(v)) if s.properties.is_none() => {
                CelType::Map(Box::new(cel_type(v, defs)))
            }
            _ => CelType::Dyn,
        },
        _ => CelType::Dyn,
    }
}

/// Field types of the schema and of built-in resources, for the checker.
struct GraphTypes<'a> {
    rgd: &'a ResourceGraphDefinition,
    index: &'a foldhash::HashMap<&'a str, usize>,
    spec: Option<&'a Schema>,
    api: &'a KubernetesApi,
}

impl TypeEnv for GraphTypes<'_> {
    fn type_of(&self, r: &Reference) -> Option<CelType> {
        if r.root == "schema" {
            let (first, rest) = r.path.split_first()?;
            return match first.as_str() {
                "spec" => {
                    let defs = Definitions::default();
                    self.spec
                        .and_then(|s| s.at(rest, &defs))
                        .map(|s| cel_type(s, &defs))
                }
                "metadata" => match rest.first().map(String::as_str) {
                    Some("name" | "namespace" | "uid") if rest.len() == 1 => Some(CelType::String),
                    _ => None,
                },
                _ => None,
            };
        }
        let res = &self.rgd.spec.resources[*self.index.get(r.root.as_str())?];
        if !res.for_each.is_empty() {
            return None;
        }
        let root = self.api.schema(res.api_version()?, res.kind()?)?;
        root.at(&r.path, &self.api.definitions)
            .map(|s| cel_type(s, &self.api.definitions))
    }
}

/// Where expressions may appear, which decides the identifiers in scope.
#[derive(Clone, Copy, PartialEq)]
enum Scope<'a> {
    Template {
        iterators: &'a [String],
    },
    IncludeWhen,
    ReadyWhen,
    ForEach,
    Status,
    /// An entry of the author-defined `status.conditions`: the only place
    /// KRO's `runtime` library may be called.
    Conditions,
}

impl Scope<'_> {
    /// Expressions of the instance's status, which belong to no resource.
    fn is_status(&self) -> bool {
        matches!(self, Scope::Status | Scope::Conditions)
    }
}

/// Validates `rgd` with every KRO rule kroxide knows.
///
/// ```
/// let rgd = &kroxide_model::load_str("x.yaml", r#"
/// apiVersion: kro.run/v1alpha1
/// kind: ResourceGraphDefinition
/// metadata: {name: web}
/// spec:
///   schema: {apiVersion: v1alpha1, kind: WebApp, spec: {name: string}}
///   resources:
///     - id: svc
///       template:
///         apiVersion: v1
///         kind: Service
///         metadata: {name: "${schema.spec.nam}"}
/// "#).unwrap()[0].rgd;
/// let v = kroxide_semantics::validate::validate(rgd);
/// let e = v.errors().next().unwrap();
/// assert!(e.message.contains("schema.spec.nam"), "{e}");
/// assert_eq!(e.path.to_string(), "spec.resources[0].template.metadata.name");
/// ```
pub fn validate(rgd: &ResourceGraphDefinition) -> Validation {
    validate_with(rgd, KubernetesApi::embedded())
}

/// [`validate`] against `api`: the built-in kinds and the CRDs a cluster
/// would serve, such as other RGDs' instance kinds
/// ([`chain`](crate::chain) builds it).
pub fn validate_with(rgd: &ResourceGraphDefinition, api: &KubernetesApi) -> Validation {
    let index = rgd
        .spec
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .rev()
        .collect();
    let ids = rgd.spec.resources.iter().map(|r| r.id.clone()).collect();
    let mut cx = Ctx {
        rgd,
        index: &index,
        out: Vec::new(),
        ids: &ids,
        spec: None,
        api,
    };
    let spec = check_schema(&mut cx);
    cx.spec = spec.as_ref();
    check_ids(&mut cx);
    // Each resource is checked on its own (on every core, for a large
    // graph); the diagnostics keep the resources' order.
    let checked = crate::par::map(&rgd.spec.resources, |i, r| {
        let mut own = cx.fork();
        let deps = check_resource(&mut own, i, r);
        (own.out, deps)
    });
    let mut graph = DependencyGraph::new(rgd.spec.resources.iter().map(|r| r.id.clone()));
    for (r, (diagnostics, deps)) in rgd.spec.resources.iter().zip(checked) {
        cx.out.extend(diagnostics);
        for d in deps {
            graph.add_dependency(&r.id, &d);
        }
    }
    check_status(&mut cx);
    let order = match graph.topological_order() {
        Ok(o) => Some(o),
        Err(cycle) => {
            let first = cycle.0.first().cloned().unwrap_or_default();
            let idx = rgd
                .spec
                .resources
                .iter()
                .position(|r| r.id == first)
                .unwrap_or(0);
            cx.push(
                Severity::Error,
                "cycle",
                Some(&first),
                FieldPath::root().key("spec").key("resources").index(idx),
                format!(
                    "resources depend on each other in a cycle: {}",
                    cycle.0.join(" -> ")
                ),
                Some("break the cycle: one of these resources must not read the next one".into()),
            );
            None
        }
    };
    Validation {
        diagnostics: cx.out,
        graph: Some(graph),
        order,
    }
}

fn schema_path() -> FieldPath {
    FieldPath::root().key("spec").key("schema")
}

/// Checks the schema; gives the spec's OpenAPI schema when it can be read.
fn check_schema(cx: &mut Ctx) -> Option<Schema> {
    let s = &cx.rgd.spec.schema;
    if !is_upper_camel(&s.kind) {
        cx.error(
            "kind",
            None,
            schema_path().key("kind"),
            format!(
                "kind `{}` is not a valid KRO kind name: must be UpperCamelCase",
                s.kind
            ),
        );
    }
    if !is_kube_version(&s.api_version) {
        cx.push(
            Severity::Error,
            "api-version",
            None,
            schema_path().key("apiVersion"),
            format!("apiVersion `{}` is not a Kubernetes version", s.api_version),
            Some(
                "use a version such as v1alpha1, v1beta2 or v1 (the group goes in `group`)".into(),
            ),
        );
    }
    if let Some(g) = &s.group {
        let ok = !g.is_empty()
            && g.len() <= 253
            && g.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !ok {
            cx.error(
                "group",
                None,
                schema_path().key("group"),
                format!("group `{g}` is not a valid DNS subdomain"),
            );
        }
    }
    if cx.rgd.metadata.name.as_deref().unwrap_or("").is_empty() {
        cx.error(
            "name",
            None,
            FieldPath::root().key("metadata").key("name"),
            "metadata.name is required".into(),
        );
    }
    check_aliases(cx);
    match spec_schema(cx.rgd) {
        Ok(s) => {
            let mut problems = Vec::new();
            list_marker_problems(&s, &schema_path().key("spec"), &mut problems);
            for (path, message) in problems {
                cx.push(
                    Severity::Error,
                    "list-type",
                    None,
                    path,
                    message,
                    Some("KRO leaves these to the API server, which refuses the instance CRD: the graph stays inactive".into()),
                );
            }
            Some(s)
        }
        Err(e) => {
            let path = schema_path().join(&e.path);
            cx.push(
                Severity::Error,
                "simpleschema",
                None,
                path,
                format!("invalid SimpleSchema: {}", e.message),
                None,
            );
            None
        }
    }
}

fn check_ids(cx: &mut Ctx) {
    let mut seen = BTreeSet::new();
    for (i, r) in cx.rgd.spec.resources.iter().enumerate() {
        let path = FieldPath::root()
            .key("spec")
            .key("resources")
            .index(i)
            .key("id");
        if let Some(why) = check_id(&r.id) {
            let s = suggest_id(&r.id);
            let help = (s != r.id && check_id(&s).is_none()).then(|| format!("try `{s}`"));
            cx.push(Severity::Error, "resource-id", Some(&r.id), path, why, help);
        } else if !seen.insert(r.id.clone()) {
            cx.error(
                "resource-id",
                Some(&r.id),
                path,
                format!("duplicate resource id `{}`", r.id),
            );
        }
    }
}

/// Checks one resource; returns the ids it depends on.
fn check_resource(cx: &mut Ctx, i: usize, r: &Resource) -> BTreeSet<String> {
    let base = FieldPath::root().key("spec").key("resources").index(i);
    let id = r.id.as_str();
    let mut deps = BTreeSet::new();
    match (&r.template, &r.external_ref) {
        (None, None) => cx.error(
            "template",
            Some(id),
            base.clone(),
            "exactly one of template or externalRef must be provided".into(),
        ),
        (Some(_), Some(_)) => cx.error(
            "template",
            Some(id),
            base.key("externalRef"),
            "cannot use externalRef with template".into(),
        ),
        _ => {}
    }
    if r.external_ref.is_some() && !r.for_each.is_empty() {
        cx.error(
            "foreach",
            Some(id),
            base.key("forEach"),
            "cannot use externalRef with forEach".into(),
        );
    }
    // forEach iterators.
    let mut iterators: Vec<String> = Vec::new();
    for (k, dim) in r.for_each.iter().enumerate() {
        let p = base.key("forEach").index(k);
        if dim.len() != 1 {
            cx.error(
                "foreach",
                Some(id),
                p.clone(),
                format!(
                    "each forEach entry must have exactly one iterator, this one has {}",
                    dim.len()
                ),
            );
        }
        for (name, expr) in dim {
            let ip = p.key(name.clone());
            if !is_lower_camel(name) {
                cx.error(
                    "foreach",
                    Some(id),
                    ip.clone(),
                    format!("forEach iterator name `{name}` is not valid: must be lowerCamelCase"),
                );
            } else if is_reserved(name) {
                cx.error(
                    "foreach",
                    Some(id),
                    ip.clone(),
                    format!("forEach iterator name `{name}` is a reserved keyword"),
                );
            } else if cx.ids.contains(name) {
                cx.error(
                    "foreach",
                    Some(id),
                    ip.clone(),
                    format!("forEach iterator name `{name}` conflicts with a resource id"),
                );
            } else if iterators.contains(name) {
                cx.error(
                    "foreach",
                    Some(id),
                    ip.clone(),
                    format!("duplicate forEach iterator name `{name}`"),
                );
            }
            iterators.push(name.clone());
            check_standalone(cx, id, &ip, expr, Scope::ForEach, &mut deps);
        }
    }
    if let Some(t) = &r.template {
        deps.extend(check_template(cx, id, &base.key("template"), t, &iterators));
        // Each object of a collection needs its own name: every iterator
        // must appear in metadata.name.
        if !iterators.is_empty() {
            let name = kroxide_model::meta_str(t, "name").unwrap_or("");
            let mut used = BTreeSet::new();
            if let Ok(sv) = parse_string(name) {
                for e in sv.expressions() {
                    if let Ok(p) = default_engine().compile(e) {
                        used.extend(p.info().roots().into_iter().map(String::from));
                    }
                }
            }
            for it in &iterators {
                if !used.contains(it) {
                    cx.push(Severity::Error, "foreach", Some(id), base.key("template").key("metadata").key("name"),
                        format!("forEach iterator `{it}` is not used in metadata.name, so the collection's objects would collide"),
                        Some(format!("include ${{{it}}} in the name")));
                }
            }
        }
    }
    if let Some(e) = &r.external_ref {
        let p = base.key("externalRef").key("metadata");
        if e.metadata.name.is_some() == e.metadata.selector.is_some() {
            cx.error(
                "external-ref",
                Some(id),
                p.clone(),
                "externalRef.metadata needs exactly one of name or selector".into(),
            );
        }
        for (field, v) in [
            ("name", &e.metadata.name),
            ("namespace", &e.metadata.namespace),
        ] {
            if let Some(v) = v {
                check_string(
                    cx,
                    id,
                    &p.key(field),
                    v,
                    Scope::Template { iterators: &[] },
                    None,
                    &mut deps,
                );
            }
        }
        if cx.api.kind(&e.api_version, &e.kind).is_none() {
            not_type_checked(cx, id, &base.key("externalRef"), &e.api_version, &e.kind);
        }
    }
    for (k, e) in r.include_when.iter().enumerate() {
        check_standalone(
            cx,
            id,
            &base.key("includeWhen").index(k),
            e,
            Scope::IncludeWhen,
            &mut deps,
        );
    }
    let mut own = BTreeSet::new();
    for (k, e) in r.ready_when.iter().enumerate() {
        check_standalone(
            cx,
            id,
            &base.key("readyWhen").index(k),
            e,
            Scope::ReadyWhen,
            &mut own,
        );
    }
    deps.remove(id);
    deps
}

fn not_type_checked(cx: &mut Ctx, id: &str, path: &FieldPath, api_version: &str, kind: &str) {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let builtin_group = cx.api.has_group(group) && !group.contains("kro.run");
    if builtin_group {
        let kinds: Vec<&str> = cx
            .api
            .kinds()
            .iter()
            .filter(|k| k.api_version() == api_version)
            .map(|k| k.kind.as_str())
            .collect();
        let help = closest(kind, &kinds).map(|c| format!("did you mean `{c}`?"));
        cx.push(
            Severity::Error,
            "kind",
            Some(id),
            path.key("kind"),
            format!("`{kind}` is not a kind of {api_version}"),
            help,
        );
    } else {
        cx.push(Severity::Note, "not-type-checked", Some(id), path.clone(),
            format!("{api_version} {kind} is not a built-in kind: its fields are not type-checked offline"), None);
    }
}

fn check_template(
    cx: &mut Ctx,
    id: &str,
    path: &FieldPath,
    t: &Value,
    iterators: &[String],
) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let Some(obj) = t.as_object() else {
        cx.error(
            "template",
            Some(id),
            path.clone(),
            "template must be an object".into(),
        );
        return deps;
    };
    let api_version = match obj.get("apiVersion") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            cx.error(
                "template",
                Some(id),
                path.key("apiVersion"),
                "apiVersion must be a string".into(),
            );
            None
        }
        None => {
            cx.error(
                "template",
                Some(id),
                path.clone(),
                "template has no apiVersion".into(),
            );
            None
        }
    };
    let kind = match obj.get("kind") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            cx.error(
                "template",
                Some(id),
                path.key("kind"),
                "kind must be a string".into(),
            );
            None
        }
        None => {
            cx.error(
                "template",
                Some(id),
                path.clone(),
                "template has no kind".into(),
            );
            None
        }
    };
    match obj.get("metadata") {
        Some(Value::Object(m)) => {
            for field in ["labels", "annotations"] {
                if let Some(Value::Object(l)) = m.get(field) {
                    for key in l.keys() {
                        for prefix in ["kro.run/", "internal.kro.run/"] {
                            if key.starts_with(prefix) {
                                cx.error("reserved-metadata", Some(id), path.key("metadata").key(field).key(key.clone()),
                                    format!("{field} with prefix `{prefix}` are reserved for KRO's internal use"));
                            }
                        }
                    }
                }
            }
            // kroxide's delete policy.
            if let Some(v) = m
                .get("annotations")
                .and_then(|a| a.get(kroxide_model::DELETE_POLICY_ANNOTATION))
            {
                if !v
                    .as_str()
                    .is_some_and(|v| kroxide_model::DELETE_POLICIES.contains(&v))
                {
                    let shown = match v {
                        Value::String(s) => format!("`{s}`"),
                        other => format!("`{other}`"),
                    };
                    cx.error(
                        "delete-policy",
                        Some(id),
                        path.key("metadata")
                            .key("annotations")
                            .key(kroxide_model::DELETE_POLICY_ANNOTATION.to_string()),
                        format!(
                            "resource `{id}`: annotation `kroxide.dev/delete-policy` is {shown}; the allowed values are `retain` (keep the object on delete and prune) and `delete` (the default), written as they are (not an expression)"
                        ),
                    );
                }
            }
            if !m.contains_key("name") && !m.contains_key("generateName") {
                cx.error(
                    "template",
                    Some(id),
                    path.key("metadata"),
                    "metadata.name is required".into(),
                );
            }
        }
        Some(_) => cx.error(
            "template",
            Some(id),
            path.key("metadata"),
            "metadata must be an object".into(),
        ),
        None => cx.error(
            "template",
            Some(id),
            path.clone(),
            "template has no metadata".into(),
        ),
    }
    // Expressions everywhere in the template, typed against the field's
    // schema when the kind is built in.
    let kind_schema = match (api_version, kind) {
        (Some(av), Some(k)) => cx.api.schema(av, k),
        _ => None,
    };
    let kind_schema = kind_schema.map(|ks| (ks, &cx.api.definitions));
    walk_expressions(t, &mut Vec::new(), &mut |rel, s| {
        let expect = kind_schema.and_then(|(ks, defs)| {
            let keys: Vec<std::borrow::Cow<str>> = rel.iter().map(Seg::text).collect();
            ks.at(&keys, defs)
        });
        let p = FieldPath(
            path.0
                .iter()
                .cloned()
                .chain(rel.iter().map(Seg::owned))
                .collect(),
        );
        check_string(
            cx,
            id,
            &p,
            s,
            Scope::Template { iterators },
            expect,
            &mut deps,
        );
    });
    // Fields of built-in kinds against the Kubernetes schema.
    if let (Some(av), Some(k)) = (api_version, kind) {
        if let Some(info) = cx.api.kind(av, k) {
            let namespaced = info.namespaced;
            if !namespaced && t.pointer("/metadata/namespace").is_some() {
                cx.error(
                    "namespace",
                    Some(id),
                    path.key("metadata").key("namespace"),
                    format!("{k} is cluster-scoped and must not set metadata.namespace"),
                );
            }
            let schema = cx.api.schema(av, k).expect("kind has a schema");
            let opts = Options {
                unknown_fields: UnknownFields::Reject,
                apply_defaults: false,
                expressions: true,
                cel_rules: false,
            };
            let violations = openapi::check(t, schema, &cx.api.definitions, opts);
            for viol in violations {
                // Required fields may be filled by defaulting; KRO leaves them to the API server.
                if viol.message.starts_with("required field") && viol.path.0.len() <= 2 {
                    continue;
                }
                cx.error(
                    "kubernetes-schema",
                    Some(id),
                    path.join(&viol.path),
                    format!("{k} {}: {}", viol.path, viol.message),
                );
            }
        } else {
            not_type_checked(cx, id, path, av, k);
        }
    }
    deps
}

/// One step of a path inside a template, borrowed from the template.
#[derive(Clone, Copy)]
enum Seg<'v> {
    Key(&'v str),
    Index(usize),
}

impl Seg<'_> {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Seg::Key(k) => std::borrow::Cow::Borrowed(k),
            Seg::Index(i) => std::borrow::Cow::Owned(i.to_string()),
        }
    }
    fn owned(&self) -> PathSegment {
        match self {
            Seg::Key(k) => PathSegment::Key(k.to_string()),
            Seg::Index(i) => PathSegment::Index(*i),
        }
    }
}

/// Calls `f` with every string of `v` that holds `${` (map keys too, which
/// KRO also evaluates) and its path below `v`. Most strings of a template are
/// literal: they cost no path. A key's path is that of its map.
fn walk_expressions<'v>(
    v: &'v Value,
    at: &mut Vec<Seg<'v>>,
    f: &mut dyn FnMut(&[Seg<'v>], &'v str),
) {
    match v {
        Value::String(s) if has_expression_start(s) => f(at, s),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            at.push(Seg::Index(i));
            walk_expressions(x, at, f);
            at.pop();
        }),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            if has_expression_start(k) {
                f(at, k);
            }
            at.push(Seg::Key(k));
            walk_expressions(x, at, f);
            at.pop();
        }),
        _ => {}
    }
}

fn check_standalone(
    cx: &mut Ctx,
    id: &str,
    path: &FieldPath,
    s: &str,
    scope: Scope,
    deps: &mut BTreeSet<String>,
) {
    match parse_string(s) {
        Ok(StringValue::Standalone(_)) => {
            check_string(cx, id, path, s, scope, None, deps);
        }
        Ok(_) => {
            let what = match scope {
                Scope::IncludeWhen => "includeWhen",
                Scope::ReadyWhen => "readyWhen",
                _ => "forEach",
            };
            cx.push(
                Severity::Error,
                "standalone",
                Some(id),
                path.clone(),
                format!("{what} must be a single ${{...}} expression, got {s:?}"),
                Some(format!(
                    "write it as \"${{{}}}\"",
                    s.trim().trim_start_matches("${").trim_end_matches('}')
                )),
            );
        }
        Err(e) => cx.error("expression", Some(id), path.clone(), e.to_string()),
    }
}

/// Checks the expressions of one string; adds resource ids used to `deps`.
fn check_string(
    cx: &mut Ctx,
    id: &str,
    path: &FieldPath,
    s: &str,
    scope: Scope,
    expect: Option<&Schema>,
    deps: &mut BTreeSet<String>,
) -> Vec<Arc<dyn Program>> {
    let sv = match parse_string(s) {
        Ok(StringValue::Literal(_)) if has_expression_start(s) => {
            cx.push(Severity::Warning, "unterminated-expression", Some(id).filter(|_| !scope.is_status()), path.clone(),
                format!("{s:?} contains `${{` but no complete expression: KRO keeps it as literal text"),
                Some("close the braces; inside the expression, put braces only in double-quoted strings (KRO does not skip single-quoted ones)".into()));
            return Vec::new();
        }
        Ok(v) => v,
        Err(e) => {
            cx.error(
                "expression",
                Some(id).filter(|_| !scope.is_status()),
                path.clone(),
                format!("{e}: {s:?}"),
            );
            return Vec::new();
        }
    };
    let mut programs = Vec::new();
    for e in sv.expressions() {
        let p = match default_engine().compile(e) {
            Ok(p) => p,
            Err(err) => {
                cx.push(
                    Severity::Error,
                    "cel-syntax",
                    Some(id).filter(|_| !scope.is_status()),
                    path.clone(),
                    format!("invalid CEL in ${{{e}}}: {}", err.message),
                    None,
                );
                continue;
            }
        };
        check_references(cx, id, path, e, p.info(), scope, deps);
        if scope != Scope::Conditions
            && p.info()
                .functions
                .iter()
                .any(|f| crate::cel::RUNTIME_FUNCTIONS.contains(&f.as_str()))
        {
            // KRO: "runtime is only available in status.conditions expressions".
            cx.push(Severity::Error, "cel-runtime", Some(id).filter(|_| !scope.is_status()), path.clone(),
                format!("runtime is only available in status.conditions expressions (in ${{{e}}})"),
                Some("author-defined conditions go in spec.schema.status.conditions, a list of ${runtime.newCondition({type: ..., status: ...})}".into()));
        }
        for f in &p.info().functions {
            // A function of a library KRO lacks (math.*, sets.*): the type
            // check says so, naming KRO; "kroxide cannot evaluate it" is beside the point.
            let not_in_kro = f
                .split_once('.')
                .is_some_and(|(ns, _)| crate::cel::NOT_IN_KRO.iter().any(|(n, _)| *n == ns));
            let main_only = crate::cel::MAIN_ONLY_FUNCTIONS.contains(&f.as_str());
            if main_only && !cx.rgd.kro_version.is_main() {
                // KRO v0.9.3's checker has no such function: "undeclared reference".
                cx.push(Severity::Error, "cel-function", Some(id).filter(|_| !scope.is_status()), path.clone(),
                    format!("unsupported CEL function {f} (in ${{{e}}}): KRO {} has no {f}(), KRO main has", cx.rgd.kro_version),
                    Some("target KRO main with `--kro-version main` (KROXIDE_KRO_VERSION=main)".into()));
            } else if !not_in_kro && !default_engine().supports(f) {
                cx.push(Severity::Error, "cel-function", Some(id).filter(|_| !scope.is_status()), path.clone(),
                    format!("unsupported CEL function {f} (in ${{{e}}})"),
                    Some("kroxide cannot evaluate it yet; see README for the supported CEL functions".into()));
            }
        }
        let (result, type_errors) = p.check(&cx.types());
        for t in type_errors {
            cx.error(
                "cel-type",
                Some(id).filter(|_| !scope.is_status()),
                path.clone(),
                format!("type error in ${{{e}}}: {t}"),
            );
        }
        // A string of several parts is what KRO compiles as `"a-" + (e)`:
        // each expression must be a string (the checker sees it; a dyn
        // value is checked when it runs).
        if matches!(sv, StringValue::Template(_))
            && !matches!(result, CelType::String | CelType::Dyn)
        {
            cx.push(Severity::Error, "cel-type", Some(id).filter(|_| !scope.is_status()), path.clone(),
                format!("${{{e}}} gives {result} inside the string {s:?}: KRO joins the parts with +, and finds no matching overload for '_+_' applied to '(string, {result})'"),
                Some(format!("wrap it in string(...): ${{string({e})}}")));
        }
        if let (Some(expect), StringValue::Standalone(_)) = (expect, &sv) {
            let want = cel_type(expect, &cx.api.definitions);
            let fits = matches!(want, CelType::Dyn)
                || matches!(result, CelType::Dyn)
                || want == result
                || (want == CelType::Double && result == CelType::Int)
                || (matches!(want, CelType::List(_)) && matches!(result, CelType::List(_)))
                || (matches!(want, CelType::Map(_)) && matches!(result, CelType::Map(_)));
            if !fits {
                cx.error(
                    "cel-type",
                    Some(id),
                    path.clone(),
                    format!("${{{e}}} gives {result}, but this field expects {want}"),
                );
            }
        }
        programs.push(p);
    }
    programs
}

fn check_references(
    cx: &mut Ctx,
    id: &str,
    path: &FieldPath,
    src: &str,
    info: &ExprInfo,
    scope: Scope,
    deps: &mut BTreeSet<String>,
) {
    let res = Some(id).filter(|_| !scope.is_status());
    for r in &info.references {
        let root = r.root.as_str();
        if TYPE_IDENTIFIERS.contains(&root) {
            continue;
        }
        let iterators: &[String] = match scope {
            Scope::Template { iterators } => iterators,
            _ => &[],
        };
        if root == "schema" {
            if scope == Scope::ReadyWhen {
                cx.error("ready-when", res, path.clone(), format!("readyWhen may only refer to its own resource `{id}`, not `schema` (in ${{{src}}})"));
            }
            check_schema_ref(cx, res, path, src, &r.path);
            continue;
        }
        if iterators.iter().any(|i| i == root) {
            continue;
        }
        if root == "each" && scope == Scope::ReadyWhen {
            continue;
        }
        if cx.ids.contains(root) {
            match scope {
                Scope::ReadyWhen if root != id => {
                    cx.error("ready-when", res, path.clone(), format!("readyWhen may only refer to its own resource `{id}`, not `{root}` (in ${{{src}}})"));
                }
                Scope::ReadyWhen => check_resource_ref(cx, res, path, src, root, &r.path),
                Scope::Template { .. } if root == id => {
                    cx.error(
                        "self-reference",
                        res,
                        path.clone(),
                        format!("resource `{id}` refers to itself in ${{{src}}}"),
                    );
                }
                _ => {
                    deps.insert(root.to_string());
                    check_resource_ref(cx, res, path, src, root, &r.path);
                }
            }
            continue;
        }
        let mut known: Vec<&str> = cx.ids.iter().map(String::as_str).collect();
        known.push("schema");
        known.extend(iterators.iter().map(String::as_str));
        let help = closest(root, &known)
            .map(|c| format!("did you mean `{c}`?"))
            .or_else(|| Some(format!("known here: {}", known.join(", "))));
        cx.push(
            Severity::Error,
            "unknown-identifier",
            res,
            path.clone(),
            format!("unknown identifier `{root}` in ${{{src}}}"),
            help,
        );
    }
    if scope == Scope::Status {
        let roots = cel::free_roots(info);
        let reads_graph = roots.iter().any(|r| *r == "schema" || cx.ids.contains(*r));
        if !reads_graph {
            cx.push(
                Severity::Error,
                "status",
                None,
                path.clone(),
                format!("status field ${{{src}}} refers to no resource and not to the schema"),
                Some("a constant belongs in the schema or a resource, not in status".into()),
            );
        }
    }
}

/// What the API server refuses in a CRD's `x-kubernetes-list-type` and
/// `x-kubernetes-list-map-keys` (the SimpleSchema markers `listType` and
/// `listMapKey`; KRO checks only their values and leaves the rest to it),
/// with its messages: a `map` list of objects whose keys are required (or
/// defaulted) scalar properties of the items, a `set` of scalars or atomic
/// values.
fn list_marker_problems(s: &Schema, path: &FieldPath, out: &mut Vec<(FieldPath, String)>) {
    if let (Some(lt), Some(items)) = (s.x_list_type.as_deref(), s.items.as_deref()) {
        let item_type = items.type_.as_deref().unwrap_or("");
        match lt {
            "map" => {
                if item_type != "object" {
                    out.push((path.clone(), format!("listType=map: items.type: Invalid value: \"{item_type}\": must be object if parent array's x-kubernetes-list-type is map")));
                } else {
                    let required = items.required.as_deref().unwrap_or_default();
                    let props = items.properties.as_ref();
                    for k in s.x_list_map_keys.as_deref().unwrap_or_default() {
                        match props.and_then(|p| p.get(k)) {
                            None => out.push((path.clone(), format!("listMapKey={k}: x-kubernetes-list-map-keys: Invalid value: [\"{k}\"]: entries must all be names of item properties"))),
                            Some(p) => {
                                if !matches!(p.type_.as_deref(), Some("string" | "integer" | "number" | "boolean")) {
                                    out.push((path.clone(), format!("listMapKey={k}: items.properties[{k}].type: must be a scalar type if parent array's x-kubernetes-list-type is map")));
                                }
                                if p.default.is_none() && !required.contains(k) {
                                    out.push((path.clone(), format!("listMapKey={k}: items.properties[{k}].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property")));
                                }
                            }
                        }
                    }
                }
            }
            "set" => {
                let atomic = match item_type {
                    "object" => items.x_map_type.as_deref() == Some("atomic"),
                    "array" => items.x_list_type.as_deref() == Some("atomic"),
                    _ => true,
                };
                if !atomic {
                    let field = if item_type == "object" {
                        "x-kubernetes-map-type"
                    } else {
                        "x-kubernetes-list-type"
                    };
                    out.push((path.clone(), format!("listType=set: items.{field}: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set")));
                }
            }
            _ => {}
        }
    }
    if let Some(items) = s.items.as_deref() {
        list_marker_problems(items, path, out);
    }
    if let Some(props) = &s.properties {
        for (k, p) in props {
            list_marker_problems(p, &path.key(k.as_str()), out);
        }
    }
}

/// Names of the API group `kro.run` that KRO's own ResourceGraphDefinition
/// CRD holds: an instance CRD in that group cannot take them as short names.
const KRO_RUN_NAMES: &[&str] = &["resourcegraphdefinitions", "rgd"];

/// `schema.shortNames` and `schema.categories`, as KRO main's
/// ResourceGraphDefinition CRD admits them (at most 32 items, each at most 63
/// characters matching `^[a-z]([-a-z0-9]*[a-z0-9])?$`, no duplicates:
/// `x-kubernetes-list-type: set`), and the short names the API server's
/// naming controller refuses (`ShortNamesConflict`: the CRD's own plural, or
/// a name of KRO's CRD in `kro.run`), which would leave the CRD not
/// established and the graph inactive. KRO v0.9.3 has neither field: its CRD
/// has no such property, so `kubectl apply` refuses them (strict field
/// validation) and other clients have them dropped.
fn check_aliases(cx: &mut Ctx) {
    let s = &cx.rgd.spec.schema;
    let names = crate::crd::InstanceNames::of(cx.rgd);
    for (field, list) in [
        ("shortNames", &s.short_names),
        ("categories", &s.categories),
    ] {
        let Some(list) = list else { continue };
        let path = schema_path().key(field);
        if !cx.rgd.kro_version.is_main() {
            cx.push(
                Severity::Error,
                "kro-version",
                None,
                path,
                format!(
                    "spec.schema.{field} needs KRO main: KRO {} has no such field (kubectl apply refuses it, other clients have it dropped and the CRD gets none)",
                    cx.rgd.kro_version
                ),
                Some("target KRO main with `--kro-version main` (KROXIDE_KRO_VERSION=main), or remove the field".into()),
            );
            continue;
        }
        if list.len() > 32 {
            cx.error(
                "alias",
                None,
                path.clone(),
                format!(
                    "spec.schema.{field}: Too many: {}: must have at most 32 items",
                    list.len()
                ),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, v) in list.iter().enumerate() {
            let at = path.index(i);
            if v.len() > 63 {
                cx.error(
                    "alias",
                    None,
                    at.clone(),
                    format!("spec.schema.{field}[{i}]: Too long: may not be more than 63 bytes (`{v}` has {})", v.len()),
                );
            } else if !is_dns1035_label(v) {
                cx.push(
                    Severity::Error,
                    "alias",
                    None,
                    at.clone(),
                    format!("spec.schema.{field}[{i}]: Invalid value: `{v}`: should match '^[a-z]([-a-z0-9]*[a-z0-9])?$'"),
                    Some("lowercase letters, digits and '-', starting with a letter and not ending with '-'".into()),
                );
            }
            if !seen.insert(v.as_str()) {
                cx.error(
                    "alias",
                    None,
                    at.clone(),
                    format!("spec.schema.{field}[{i}]: Duplicate value: `{v}`"),
                );
            }
            if field == "shortNames" {
                let clash = if *v == names.plural {
                    Some(format!("the plural of {} itself", names.kind))
                } else if names.group == "kro.run" && KRO_RUN_NAMES.contains(&v.as_str()) {
                    Some("a name of KRO's ResourceGraphDefinition CRD in the group kro.run".into())
                } else {
                    None
                };
                if let Some(clash) = clash {
                    cx.push(
                        Severity::Error,
                        "alias",
                        None,
                        at,
                        format!("spec.schema.shortNames[{i}]: `{v}` is already in use ({clash}): the API server refuses it (ShortNamesConflict), the CRD is never established and KRO leaves the graph inactive"),
                        Some("pick another short name".into()),
                    );
                }
            }
        }
    }
}

/// A Kubernetes DNS-1035 label without the length rule.
fn is_dns1035_label(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && *b.last().unwrap() != b'-'
}

fn check_schema_ref(cx: &mut Ctx, res: Option<&str>, path: &FieldPath, src: &str, p: &[String]) {
    let Some(first) = p.first() else { return };
    match first.as_str() {
        "spec" => {
            let Some(spec) = cx.spec else { return };
            let defs = Definitions::default();
            let mut cur = spec;
            let mut problem = None;
            for (k, seg) in p[1..].iter().enumerate() {
                if is_open(cur, &defs) && cur.properties.is_none() {
                    return;
                }
                match cur.child(seg, &defs) {
                    Some(c) => cur = c,
                    None => {
                        let shown = format!("schema.spec.{}", p[1..=k + 1].join("."));
                        let known = property_names(cur, &defs);
                        let help = closest(seg, &known).map(|c| format!("did you mean `{c}`?"));
                        problem = Some((shown, help));
                        break;
                    }
                }
            }
            if let Some((shown, help)) = problem {
                cx.push(
                    Severity::Error,
                    "schema-field",
                    res,
                    path.clone(),
                    format!("`{shown}` is not a field of the spec schema (in ${{{src}}})"),
                    help,
                );
            }
        }
        "metadata" | "status" | "apiVersion" | "kind" => {}
        other => {
            cx.push(Severity::Error, "schema-field", res, path.clone(),
                format!("`schema.{other}` does not exist: use schema.spec, schema.metadata or schema.status (in ${{{src}}})"), None);
        }
    }
}

fn check_resource_ref(
    cx: &mut Ctx,
    res: Option<&str>,
    path: &FieldPath,
    src: &str,
    target: &str,
    p: &[String],
) {
    let Some(r) = cx.index.get(target).map(|i| &cx.rgd.spec.resources[*i]) else {
        return;
    };
    // Collections are lists of objects; their fields are not checked here.
    if !r.for_each.is_empty() {
        return;
    }
    let (Some(av), Some(k)) = (r.api_version(), r.kind()) else {
        return;
    };
    let Some(root) = cx.api.schema(av, k) else {
        return;
    };
    let defs = &cx.api.definitions;
    let mut cur = root;
    for (n, seg) in p.iter().enumerate() {
        if is_open(cur, defs) && defs.resolve(cur).properties.is_none() {
            return;
        }
        match cur.child(seg, defs) {
            Some(c) => cur = c,
            None => {
                let shown = format!("{target}.{}", p[..=n].join("."));
                let known = property_names(cur, defs);
                let help = closest(seg, &known).map(|c| format!("did you mean `{c}`?"));
                cx.push(
                    Severity::Error,
                    "resource-field",
                    res,
                    path.clone(),
                    format!("`{shown}` is not a field of {k} (in ${{{src}}})"),
                    help,
                );
                return;
            }
        }
    }
}

fn check_status(cx: &mut Ctx) {
    let rgd = cx.rgd;
    let Some(tree) = &rgd.spec.schema.status else {
        return;
    };
    let path = schema_path().key("status");
    let (conditions, fields) = kroxide_model::split_conditions(tree);
    check_status_tree(cx, &fields, &path);
    if let Some(c) = conditions {
        check_conditions(cx, c, &path.key("conditions"));
    }
}

/// KRO's author-defined status conditions (`status.conditions`): a list of
/// `${...}` expressions, each giving `runtime.newCondition(...)` or a list of
/// them, checked as KRO checks them when it builds the graph.
fn check_conditions(cx: &mut Ctx, node: &FieldNode, path: &FieldPath) {
    let FieldNode::List(items) = node else {
        let got = match node {
            FieldNode::Leaf(_) => "a string",
            _ => "a map",
        };
        cx.push(Severity::Error, "status-conditions", None, path.clone(),
            format!("status.conditions must be a list, got {got}: KRO reads `conditions` in the status as author-defined conditions"),
            Some("write a list of ${runtime.newCondition({type: 'Name', status: 'True'})} expressions, or rename the field".into()));
        return;
    };
    // Literal types, by the entry that declares them.
    let mut declared: Vec<(String, usize)> = Vec::new();
    let mut reads: Vec<(String, FieldPath, String)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let FieldNode::Leaf(s) = item else {
            cx.error(
                "status-conditions",
                None,
                p,
                format!("status.conditions[{i}] must be a CEL expression string"),
            );
            continue;
        };
        match parse_string(s) {
            Ok(StringValue::Standalone(_)) => {}
            _ => {
                cx.push(Severity::Error, "status-conditions", None, p,
                    format!("invalid conditions block: status.conditions[{i}] must be a single ${{...}} expression, got {s:?}"),
                    Some("write it as \"${runtime.newCondition({type: 'Name', status: 'True'})}\"".into()));
                continue;
            }
        }
        let mut deps = BTreeSet::new();
        for program in check_string(cx, "", &p, s, Scope::Conditions, None, &mut deps) {
            let src = program.source().to_string();
            let (result, _) = program.check(&cx.types());
            // A condition is what the runtime functions give (typed as a
            // map of strings, which a plain map of strings is not).
            let condition = CelType::Map(Box::new(CelType::String));
            let makes_conditions = program
                .info()
                .functions
                .iter()
                .any(|f| crate::cel::RUNTIME_FUNCTIONS.contains(&f.as_str()));
            let fits = match &result {
                CelType::Dyn => true,
                CelType::List(t) => {
                    matches!(**t, CelType::Dyn) || (**t == condition && makes_conditions)
                }
                t => *t == condition && makes_conditions,
            };
            if !fits {
                cx.error("status-conditions", None, p.clone(), format!("condition ${{{src}}}: condition expressions must return runtime.newCondition(...) or a list of them, got {result}"));
            }
            let lit = &program.info().conditions;
            for st in &lit.statuses {
                if !matches!(st.as_str(), "True" | "False" | "Unknown") {
                    cx.error("status-conditions", None, p.clone(), format!("runtime.newCondition: status must be one of True, False, Unknown (got {st:?}) in expression ${{{src}}}"));
                }
            }
            let mut mine: Vec<&String> = lit.types.iter().collect();
            mine.dedup();
            for t in mine {
                if t.is_empty() {
                    cx.error(
                        "status-conditions",
                        None,
                        p.clone(),
                        format!(
                            "runtime.newCondition: type must not be empty in expression ${{{src}}}"
                        ),
                    );
                } else if !declared.iter().any(|(d, j)| d == t && *j == i) {
                    if declared.iter().any(|(d, _)| d == t) {
                        cx.error("status-conditions", None, p.clone(), format!("condition type {t:?} is declared by more than one conditions entry"));
                    }
                    declared.push((t.clone(), i));
                }
            }
            for t in &lit.schema_reads {
                reads.push((t.clone(), p.clone(), src.clone()));
            }
        }
    }
    const BUILT_IN: [&str; 4] = [
        "InstanceManaged",
        "GraphResolved",
        "ResourcesReady",
        "Ready",
    ];
    for (t, p, src) in reads {
        if declared.iter().any(|(d, _)| *d == t) {
            cx.error("status-conditions", None, p, format!("runtime.condition(schema, {t:?}): custom conditions cannot reference each other in expression ${{{src}}}"));
        } else if !BUILT_IN.contains(&t.as_str()) {
            cx.push(Severity::Error, "status-conditions", None, p,
                format!("runtime.condition(schema, {t:?}): unknown condition type; only kro's built-in types (InstanceManaged, GraphResolved, ResourcesReady, Ready) can be read from schema in expression ${{{src}}}"), None);
        }
    }
}

fn check_status_tree(cx: &mut Ctx, tree: &FieldTree, path: &FieldPath) {
    for (k, v) in tree {
        check_status_node(cx, k, v, &path.key(k.clone()));
    }
}

/// One status field `k` (a list's items are fields too: KRO computes each).
fn check_status_node(cx: &mut Ctx, k: &str, v: &FieldNode, p: &FieldPath) {
    match v {
        FieldNode::Object(m) => check_status_tree(cx, m, p),
        FieldNode::List(items) => {
            for (i, item) in items.iter().enumerate() {
                check_status_node(cx, &format!("{k}[{i}]"), item, &p.index(i));
            }
        }
        FieldNode::Leaf(s) => match parse_string(s) {
            Ok(StringValue::Literal(_)) => {
                cx.push(Severity::Error, "status", None, p.clone(), format!("status field `{k}` must be a ${{...}} expression, got {s:?}"),
                    Some("status fields are computed from resources, e.g. ${deployment.status.readyReplicas}".into()));
            }
            Ok(_) => {
                let mut deps = BTreeSet::new();
                check_string(cx, "", p, s, Scope::Status, None, &mut deps);
            }
            Err(e) => cx.error("expression", None, p.clone(), e.to_string()),
        },
    }
}

/// Names for an RGD's instances (re-exported for convenience).
pub fn instance_names(rgd: &ResourceGraphDefinition) -> InstanceNames {
    InstanceNames::of(rgd)
}
