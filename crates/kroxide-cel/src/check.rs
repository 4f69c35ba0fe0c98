//! A small static type checker over the CEL AST: the types of schema and
//! resource fields come from their OpenAPI schemas ([`TypeEnv`]); operators
//! applied to incompatible known types are reported before anything runs.
//! Unknown types are `dyn` and never produce errors.

use crate::{chain, is_namespaced, CelType, Reference, TypeEnv, MACROS, NOT_IN_KRO};
use cel::common::ast::{Expr, LiteralValue};
use cel::parser::Expression;

fn numeric(t: &CelType) -> bool {
    matches!(t, CelType::Int | CelType::Uint | CelType::Double)
}

fn op_name(f: &str) -> &str {
    f.trim_matches('_')
}

/// Two known types cel-go's checker will not unify (`int` and `double`,
/// `null` and `string`); `dyn` unifies with everything.
fn incompatible(a: &CelType, b: &CelType) -> bool {
    match (a, b) {
        (CelType::Dyn, _) | (_, CelType::Dyn) => false,
        (CelType::List(x), CelType::List(y)) | (CelType::Map(x), CelType::Map(y)) => {
            incompatible(x, y)
        }
        (CelType::Null, CelType::List(_) | CelType::Map(_))
        | (CelType::List(_) | CelType::Map(_), CelType::Null) => false,
        _ => a != b,
    }
}

fn scalar(t: &CelType) -> bool {
    matches!(
        t,
        CelType::Int
            | CelType::Uint
            | CelType::Double
            | CelType::String
            | CelType::Bool
            | CelType::Bytes
    )
}

/// The Kubernetes library type an expression makes, when its shape tells
/// (`quantity("1")`, `semver(v)`, `url(u)`): they have no `string()`.
fn library_type(e: &Expression) -> Option<&'static str> {
    match &e.expr {
        Expr::Call(c) => match (c.target.as_ref(), c.func_name.as_str()) {
            (None, "quantity") => Some("kubernetes.Quantity"),
            (None, "semver") => Some("kubernetes.Semver"),
            (None, "url") => Some("kubernetes.URL"),
            (Some(t), "add" | "sub") => library_type(t),
            _ => None,
        },
        _ => None,
    }
}

/// The result type of a function KRO's environment declares, when it does
/// not depend on the arguments.
fn result_type(f: &str) -> Option<CelType> {
    let string_list = || CelType::List(Box::new(CelType::String));
    Some(match f {
        "hash.fnv64a" | "hash.sha256" | "hash.md5" | "base64.decode" | "bytes" => CelType::Bytes,
        "base64.encode"
        | "json.marshal"
        | "random.seededString"
        | "strings.quote"
        | crate::macros::STRING
        | "lowerAscii"
        | "upperAscii"
        | "trim"
        | "replace"
        | "substring"
        | "charAt"
        | "join"
        | "format"
        | "find"
        | "getScheme"
        | "getHost"
        | "getHostname"
        | "getPort"
        | "getEscapedPath" => CelType::String,
        "findAll" | "split" => string_list(),
        // KRO's `kro.run.Condition`: four string fields.
        crate::macros::NEW_CONDITION | crate::macros::CONDITION => {
            CelType::Map(Box::new(CelType::String))
        }
        "random.seededInt" | "family" | "prefixLength" | "major" | "minor" | "patch"
        | "asInteger" | "compareTo" => CelType::Int,
        "asApproximateFloat" => CelType::Double,
        "isURL"
        | "isIP"
        | "isCIDR"
        | "isSemver"
        | "isQuantity"
        | "startsWith"
        | "endsWith"
        | "matches"
        | "ip.isCanonical"
        | "isSorted"
        | "isInteger"
        | "isLessThan"
        | "isGreaterThan"
        | "containsIP"
        | "containsCIDR"
        | "isUnspecified"
        | "isLoopback"
        | "isLinkLocalMulticast"
        | "isLinkLocalUnicast"
        | "isGlobalUnicast"
        | "hasValue" => CelType::Bool,
        _ => return None,
    })
}

/// cel-go checks `"...".format([...])` when both are literals: `%d` takes
/// only numbers.
fn check_format(fmt: &str, args: &[Expression], errs: &mut Vec<String>) {
    let mut it = fmt.chars().peekable();
    let mut n = 0usize;
    while let Some(c) = it.next() {
        if c != '%' {
            continue;
        }
        while it.peek().is_some_and(|d| d.is_ascii_digit() || *d == '.') {
            it.next();
        }
        let Some(verb) = it.next() else { return };
        if verb == '%' {
            continue;
        }
        let arg = args.get(n);
        n += 1;
        let given = match arg.map(|a| &a.expr) {
            Some(Expr::Literal(LiteralValue::String(_))) => "string",
            Some(Expr::Literal(LiteralValue::Boolean(_))) => "bool",
            Some(Expr::Literal(LiteralValue::Bytes(_))) => "bytes",
            Some(Expr::Literal(LiteralValue::Null)) => "null_type",
            Some(Expr::List(_)) => "list",
            Some(Expr::Map(_)) => "map",
            _ => continue,
        };
        if verb == 'd' {
            errs.push(format!(
                "error during formatting: decimal clause can only be used on ints, uints, and doubles, was given {given}"
            ));
        }
    }
}

pub(super) fn type_of(
    e: &Expression,
    env: &dyn TypeEnv,
    bound: &mut Vec<String>,
    errs: &mut Vec<String>,
) -> CelType {
    match &e.expr {
        Expr::Literal(l) => match l {
            LiteralValue::Boolean(_) => CelType::Bool,
            LiteralValue::Int(_) => CelType::Int,
            LiteralValue::UInt(_) => CelType::Uint,
            LiteralValue::Double(_) => CelType::Double,
            LiteralValue::String(_) => CelType::String,
            LiteralValue::Bytes(_) => CelType::Bytes,
            LiteralValue::Null => CelType::Null,
        },
        // `has(a.b)` is a select that tests for presence: a bool.
        Expr::Select(s) if s.test => {
            type_of(&s.operand, env, bound, errs);
            CelType::Bool
        }
        Expr::Ident(_) | Expr::Select(_) => match chain(e) {
            Some((root, path, None)) if !bound.contains(&root) => env
                .type_of(&Reference { root, path })
                .unwrap_or(CelType::Dyn),
            _ => CelType::Dyn,
        },
        Expr::List(l) => {
            let ts: Vec<CelType> = l
                .elements
                .iter()
                .map(|x| type_of(x, env, bound, errs))
                .collect();
            let first = ts.first().cloned().unwrap_or(CelType::Dyn);
            CelType::List(Box::new(if ts.iter().all(|t| *t == first) {
                first
            } else {
                CelType::Dyn
            }))
        }
        Expr::Map(_) | Expr::Struct(_) | Expr::Comprehension(_) | Expr::Unspecified => CelType::Dyn,
        Expr::Call(c) => {
            if c.target.is_some() && MACROS.contains(&c.func_name.as_str()) {
                // Check the range; the body's variables are bound and untyped.
                if let Some(t) = &c.target {
                    type_of(t, env, bound, errs);
                }
                return match c.func_name.as_str() {
                    "all" | "exists" | "exists_one" | "existsOne" => CelType::Bool,
                    _ => CelType::Dyn,
                };
            }
            if (c.func_name == "_[_]" || c.func_name == "_[?_]") && c.args.len() == 2 {
                if let Some((root, path, None)) = chain(e) {
                    if !bound.contains(&root) {
                        return env
                            .type_of(&Reference { root, path })
                            .unwrap_or(CelType::Dyn);
                    }
                }
                let container = type_of(&c.args[0], env, bound, errs);
                type_of(&c.args[1], env, bound, errs);
                return match container {
                    CelType::List(e) | CelType::Map(e) => *e,
                    _ => CelType::Dyn,
                };
            }
            let args: Vec<CelType> = c
                .args
                .iter()
                .map(|a| type_of(a, env, bound, errs))
                .collect();
            let namespace = match c.target.as_deref().map(|t| &t.expr) {
                Some(Expr::Ident(ns)) if is_namespaced(ns, &c.func_name) && !bound.contains(ns) => {
                    Some(ns.clone())
                }
                _ => None,
            };
            let target = match (&c.target, &namespace) {
                (Some(t), None) => Some(type_of(t, env, bound, errs)),
                _ => None,
            };
            let full = match &namespace {
                Some(ns) => format!("{ns}.{}", c.func_name),
                None => c.func_name.clone(),
            };
            if let Some((ns, what)) = namespace
                .as_deref()
                .and_then(|ns| NOT_IN_KRO.iter().find(|(n, _)| *n == ns))
            {
                errs.push(format!(
                    "{full} is not in KRO v0.9.3's CEL environment: KRO does not have {what} (`{ns}.*`), and rejects the expression"
                ));
                return CelType::Dyn;
            }
            let lit_str = |e: &Expression| match &e.expr {
                Expr::Literal(LiteralValue::String(s)) => Some(s.to_string()),
                _ => None,
            };
            match (full.as_str(), c.target.as_deref(), c.args.as_slice()) {
                ("base64.encode", _, [_]) if args[0] == CelType::String => {
                    errs.push("no matching overload for 'base64.encode' applied to (string): it encodes bytes".into());
                }
                ("string" | crate::macros::STRING, None, [a]) => {
                    if let Some(t) = library_type(a) {
                        errs.push(format!(
                            "no matching overload for 'string' applied to ({t})"
                        ));
                    }
                }
                ("size", None, [_]) | ("size", Some(_), []) => {
                    let t = target.clone().unwrap_or_else(|| args[0].clone());
                    if !matches!(
                        t,
                        CelType::String
                            | CelType::Bytes
                            | CelType::List(_)
                            | CelType::Map(_)
                            | CelType::Dyn
                    ) {
                        errs.push(format!("no matching overload for 'size' applied to ({t})"));
                    }
                }
                ("format", Some(t), [list]) => {
                    if let (Some(f), Expr::List(l)) = (lit_str(t), &list.expr) {
                        check_format(&f, &l.elements, errs);
                    }
                }
                ("find" | "findAll", Some(_), [p, ..]) => {
                    if let Some(p) = lit_str(p) {
                        if let Err(e) = regex::Regex::new(&p) {
                            errs.push(format!(
                                "{full}: compile: error parsing regexp {p:?}: {}",
                                e.to_string().lines().last().unwrap_or_default()
                            ));
                        }
                    }
                }
                _ => {}
            }
            if let Some(t) = result_type(&full) {
                return t;
            }
            let f = c.func_name.as_str();
            match (f, args.as_slice()) {
                ("_+_", [a, b]) => {
                    if *a == CelType::Dyn || *b == CelType::Dyn {
                        return if a == b {
                            CelType::Dyn
                        } else if *a == CelType::Dyn {
                            b.clone()
                        } else {
                            a.clone()
                        };
                    }
                    match (a, b) {
                        (x, y)
                            if x == y
                                && matches!(
                                    x,
                                    CelType::Int
                                        | CelType::Uint
                                        | CelType::Double
                                        | CelType::String
                                        | CelType::Bytes
                                        | CelType::List(_)
                                ) =>
                        {
                            x.clone()
                        }
                        (CelType::List(_), CelType::List(_)) => {
                            CelType::List(Box::new(CelType::Dyn))
                        }
                        _ => {
                            errs.push(format!(
                                "no matching overload for '+' applied to ({a}, {b})"
                            ));
                            CelType::Dyn
                        }
                    }
                }
                ("_-_" | "_*_" | "_/_" | "_%_", [a, b]) => {
                    if *a == CelType::Dyn || *b == CelType::Dyn {
                        return if *a == CelType::Dyn {
                            b.clone()
                        } else {
                            a.clone()
                        };
                    }
                    let ok = a == b && numeric(a) && !(f == "_%_" && *a == CelType::Double);
                    if !ok {
                        errs.push(format!(
                            "no matching overload for '{}' applied to ({a}, {b})",
                            op_name(f)
                        ));
                        return CelType::Dyn;
                    }
                    a.clone()
                }
                ("_<_" | "_<=_" | "_>_" | "_>=_", [a, b]) => {
                    // KRO's cel-go does not compare across numeric types.
                    let ok = *a == CelType::Dyn || *b == CelType::Dyn || (a == b && scalar(a));
                    if !ok {
                        errs.push(format!(
                            "no matching overload for '{}' applied to ({a}, {b})",
                            op_name(f)
                        ));
                    }
                    CelType::Bool
                }
                ("_==_" | "_!=_", [a, b]) => {
                    // `null` is not a value of a typed `schema` field
                    // (`schema.spec.name == null` is rejected); KRO accepts it
                    // on resource fields (its own job example reads
                    // `job.status.completionTime != null`).
                    let schema_or_literal = |e: &Expression| {
                        matches!(e.expr, Expr::Literal(_))
                            || matches!(chain(e), Some((r, _, None)) if r == "schema")
                    };
                    let null_vs_schema = |t: &CelType, u: &CelType, e: &Expression| {
                        *t == CelType::Null && scalar(u) && schema_or_literal(e)
                    };
                    if (scalar(a) && scalar(b) && a != b)
                        || null_vs_schema(a, b, &c.args[1])
                        || null_vs_schema(b, a, &c.args[0])
                    {
                        errs.push(format!(
                            "no matching overload for '{}' applied to ({a}, {b})",
                            op_name(f)
                        ));
                    }
                    CelType::Bool
                }
                ("_==_" | "_!=_" | "@in" | "!_" | "has", _) => CelType::Bool,
                ("_&&_" | "_||_", _) => {
                    for a in &args {
                        if !matches!(a, CelType::Bool | CelType::Dyn) {
                            errs.push(format!("'{}' needs bool operands, got {a}", op_name(f)));
                        }
                    }
                    CelType::Bool
                }
                ("_?_:_", [c0, a, b]) => {
                    if !matches!(c0, CelType::Bool | CelType::Dyn) {
                        errs.push(format!("no matching overload for '?:' applied to ({c0}, {a}, {b}): a condition must be bool, got {c0}"));
                    } else if incompatible(a, b) {
                        errs.push(format!("no matching overload for '?:' applied to ({c0}, {a}, {b}): the two branches must have the same type"));
                    }
                    if a == b {
                        a.clone()
                    } else {
                        CelType::Dyn
                    }
                }
                ("size", _) => CelType::Int,
                ("string", _) => CelType::String,
                ("int", _) => CelType::Int,
                ("double", _) => CelType::Double,
                ("uint", _) => CelType::Uint,
                ("bool", _) => CelType::Bool,
                _ => CelType::Dyn,
            }
        }
    }
}
