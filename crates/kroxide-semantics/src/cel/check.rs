//! A small static type checker over the CEL AST: the types of schema and
//! resource fields come from their OpenAPI schemas ([`TypeEnv`]); operators
//! applied to incompatible known types are reported before anything runs.
//! Unknown types are `dyn` and never produce errors.

use super::{chain, CelType, Reference, TypeEnv, MACROS};
use cel::common::ast::{Expr, LiteralValue};
use cel::parser::Expression;

fn numeric(t: &CelType) -> bool {
    matches!(t, CelType::Int | CelType::Uint | CelType::Double)
}

fn op_name(f: &str) -> &str {
    f.trim_matches('_')
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
            if let Some(t) = &c.target {
                type_of(t, env, bound, errs);
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
                    let ok = *a == CelType::Dyn
                        || *b == CelType::Dyn
                        || (numeric(a) && numeric(b))
                        || (a == b
                            && matches!(a, CelType::String | CelType::Bool | CelType::Bytes));
                    if !ok {
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
                        errs.push(format!("a condition must be bool, got {c0}"));
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
