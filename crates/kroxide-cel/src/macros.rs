//! Macros of KRO's environment that the `cel` crate lacks, expanded at parse
//! time into what it evaluates: `cel.bind` (cel-go's `ext.Bindings`), the
//! two-variable comprehensions (`ext.TwoVarComprehensions`: `all`, `exists`,
//! `existsOne` with two variables, `transformList`, `transformMap`,
//! `transformMapEntry`), and `string(x)`, routed to cel-go's formatting of
//! doubles (`string(1e21)` is `1e+21`).

use cel::common::ast::{
    operators, CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue,
};
use cel::common::types::DYN_TYPE;
use cel::common::value::{CowVal, Val};
use cel::objects::{Key, Map};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{Env, ExecutionError, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The function `string(x)` is expanded to.
pub(crate) const STRING: &str = "@kroxide_string";
const KEYS: &str = "@kroxide_keys";
const INSERT: &str = "@kroxide_map_insert";
const MERGE: &str = "@kroxide_map_entries";
const TARGET: &str = "@kroxide_target";
const RESULT: &str = "@result";
/// What `runtime.newCondition({...})` is expanded to.
pub const NEW_CONDITION: &str = "@kroxide_new_condition";
/// What `runtime.condition(obj, type)` is expanded to.
pub const CONDITION: &str = "@kroxide_condition";
/// The keys of a condition that `runtime.newCondition` takes.
const CONDITION_KEYS: [&str; 4] = ["type", "status", "reason", "message"];

fn call(h: &mut MacroExprHelper<'_>, f: &str, args: Vec<IdedExpr>) -> IdedExpr {
    h.next_expr(Expr::Call(CallExpr {
        func_name: f.to_string(),
        target: None,
        args,
    }))
}

fn ident(h: &mut MacroExprHelper<'_>, n: &str) -> IdedExpr {
    h.next_expr(Expr::Ident(n.to_string()))
}

fn lit(h: &mut MacroExprHelper<'_>, l: LiteralValue) -> IdedExpr {
    h.next_expr(Expr::Literal(l))
}

fn name(h: &mut MacroExprHelper<'_>, e: IdedExpr) -> Result<String, ParseError> {
    match e.expr {
        Expr::Ident(n) => Ok(n),
        _ => Err(h.new_error(e.id, "argument must be a simple name")),
    }
}

/// `var` bound to `init` in `body`: a comprehension over no elements whose
/// accumulator is `var`.
fn bind(h: &mut MacroExprHelper<'_>, var: &str, init: IdedExpr, body: IdedExpr) -> IdedExpr {
    let range = h.next_expr(Expr::List(ListExpr {
        elements: Vec::new(),
        optional_indices: Vec::new(),
    }));
    let cond = lit(h, LiteralValue::Boolean(false.into()));
    let step = ident(h, var);
    h.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: range,
        iter_var: "#unused".into(),
        iter_var2: None,
        accu_var: var.to_string(),
        accu_init: init,
        loop_cond: cond,
        loop_step: step,
        result: body,
    })))
}

#[derive(Clone, Copy)]
enum TwoVar {
    All,
    Exists,
    ExistsOne,
    TransformList,
    TransformMap,
    TransformMapEntry,
}

/// `target.f(k, v, [filter,] e)`: iterates over the target's keys (a list's
/// indexes) as `k`, with `v` bound to `target[k]` in the body.
fn two_var(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
    kind: TwoVar,
) -> Result<Option<IdedExpr>, ParseError> {
    let target = target.take().expect("a receiver macro has a target");
    let mut a = std::mem::take(args);
    let body = a.pop().expect("arguments");
    let filter = if a.len() == 3 { a.pop() } else { None };
    let v = a.pop().expect("two variables");
    let k = a.pop().expect("two variables");
    let k = name(h, k)?;
    let v = name(h, v)?;
    // Every use of `v` reads `target[k]`.
    let with_v = |h: &mut MacroExprHelper<'_>, e: IdedExpr| {
        let t = ident(h, TARGET);
        let key = ident(h, &k);
        let item = call(h, operators::INDEX, vec![t, key]);
        bind(h, &v, item, e)
    };
    let body = with_v(h, body);
    let acc = |h: &mut MacroExprHelper<'_>| ident(h, RESULT);
    let (init, cond, step, result) = match kind {
        TwoVar::All | TwoVar::Exists => {
            let all = matches!(kind, TwoVar::All);
            let init = lit(h, LiteralValue::Boolean(all.into()));
            let r = acc(h);
            let c = if all {
                r
            } else {
                call(h, operators::LOGICAL_NOT, vec![r])
            };
            let cond = call(h, operators::NOT_STRICTLY_FALSE, vec![c]);
            let r = acc(h);
            let op = if all {
                operators::LOGICAL_AND
            } else {
                operators::LOGICAL_OR
            };
            let step = call(h, op, vec![r, body]);
            (init, cond, step, acc(h))
        }
        TwoVar::ExistsOne => {
            let init = lit(h, LiteralValue::Int(0.into()));
            let cond = lit(h, LiteralValue::Boolean(true.into()));
            let r = acc(h);
            let one = lit(h, LiteralValue::Int(1.into()));
            let plus = call(h, operators::ADD, vec![r, one]);
            let r = acc(h);
            let step = call(h, operators::CONDITIONAL, vec![body, plus, r]);
            let r = acc(h);
            let one = lit(h, LiteralValue::Int(1.into()));
            let result = call(h, operators::EQUALS, vec![r, one]);
            (init, cond, step, result)
        }
        TwoVar::TransformList | TwoVar::TransformMap | TwoVar::TransformMapEntry => {
            let init = match kind {
                TwoVar::TransformList => h.next_expr(Expr::List(ListExpr {
                    elements: Vec::new(),
                    optional_indices: Vec::new(),
                })),
                _ => h.next_expr(Expr::Map(cel::common::ast::MapExpr {
                    entries: Vec::new(),
                })),
            };
            let cond = lit(h, LiteralValue::Boolean(true.into()));
            let r = acc(h);
            let add = match kind {
                TwoVar::TransformList => {
                    let one = h.next_expr(Expr::List(ListExpr {
                        elements: vec![body],
                        optional_indices: Vec::new(),
                    }));
                    call(h, operators::ADD, vec![r, one])
                }
                TwoVar::TransformMap => {
                    let key = ident(h, &k);
                    call(h, INSERT, vec![r, key, body])
                }
                _ => call(h, MERGE, vec![r, body]),
            };
            let step = match filter {
                Some(f) => {
                    let f = with_v(h, f);
                    let r = acc(h);
                    call(h, operators::CONDITIONAL, vec![f, add, r])
                }
                None => add,
            };
            (init, cond, step, acc(h))
        }
    };
    let t = ident(h, TARGET);
    let range = call(h, KEYS, vec![t]);
    let loop_ = h.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: range,
        iter_var: k.clone(),
        iter_var2: None,
        accu_var: RESULT.into(),
        accu_init: init,
        loop_cond: cond,
        loop_step: step,
        result,
    })));
    Ok(Some(bind(h, TARGET, target, loop_)))
}

/// cel-go's `string(x)`.
fn string_of(a: &[Value]) -> Result<Value, String> {
    let s = |t: String| Ok(Value::String(Arc::new(t)));
    match &a[0] {
        Value::String(_) => Ok(a[0].clone()),
        Value::Float(f) => s(crate::go::format_g(*f)),
        Value::Int(i) => s(i.to_string()),
        Value::UInt(u) => s(u.to_string()),
        Value::Bool(b) => s(b.to_string()),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(t) => s(t.to_string()),
            Err(_) => Err("invalid UTF-8 in bytes, cannot convert to string".into()),
        },
        Value::Map(_) => match crate::k8s_types::kind_of(&a[0]) {
            Some(k @ ("ip" | "cidr")) => match &a[0] {
                Value::Map(m) => match m.map.get(&Key::String(Arc::new("value".into()))) {
                    Some(v @ Value::String(_)) => Ok(v.clone()),
                    _ => Err(format!("malformed {k} value")),
                },
                _ => unreachable!(),
            },
            _ => Err(format!("no such overload: string({})", a[0].type_of())),
        },
        other => stdlib_string(other),
    }
}

/// The `cel` crate's own `string(x)` (timestamps, durations).
pub(crate) fn stdlib_string(v: &Value) -> Result<Value, String> {
    static STDLIB: std::sync::OnceLock<Env> = std::sync::OnceLock::new();
    let env = STDLIB.get_or_init(Env::stdlib);
    let boxed: Box<dyn Val> = Box::<dyn Val>::try_from(v.clone()).map_err(|e| e.to_string())?;
    let args = vec![CowVal::from(boxed)];
    let f = env
        .find_overload("string", &args)
        .ok_or_else(|| format!("no such overload: string({})", v.type_of()))?;
    let out = f(args).map_err(|e| e.to_string())?;
    let out: &dyn Val = out.as_ref();
    Value::try_from(out).map_err(|e| e.to_string())
}

fn keys(a: &[Value]) -> Result<Value, String> {
    match &a[0] {
        Value::List(l) => Ok(Value::List(Arc::new(
            (0..l.len() as i64).map(Value::Int).collect(),
        ))),
        Value::Map(m) => Ok(Value::List(Arc::new(
            m.map.keys().map(|k| Value::from(k.clone())).collect(),
        ))),
        other => Err(format!(
            "no such overload: comprehension over {}",
            other.type_of()
        )),
    }
}

fn insert(a: &[Value]) -> Result<Value, String> {
    let Value::Map(m) = &a[0] else {
        return Err("transformMap: not a map".into());
    };
    let key: Key = a[1]
        .clone()
        .try_into()
        .map_err(|e| format!("transformMap: {e:?}"))?;
    let mut out: HashMap<Key, Value> = (*m.map).clone();
    out.insert(key, a[2].clone());
    Ok(Value::Map(Map { map: Arc::new(out) }))
}

fn entries(a: &[Value]) -> Result<Value, String> {
    let (Value::Map(m), Value::Map(e)) = (&a[0], &a[1]) else {
        return Err("transformMapEntry: the expression must give a map".into());
    };
    let mut out: HashMap<Key, Value> = (*m.map).clone();
    for (k, v) in e.map.iter() {
        if out.insert(k.clone(), v.clone()).is_some() {
            return Err(format!("insert failed: key {k:?} already exists"));
        }
    }
    Ok(Value::Map(Map { map: Arc::new(out) }))
}

macro_rules! natives {
    ($($f:ident => $name:expr, $imp:expr, $n:literal;)*) => {
        $(
            fn $f<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
                crate::library::call($name, args, $imp)
            }
        )*
        fn register_natives(env: &mut Env) {
            $( let _ = env.add_overload($name, $name, (0..$n).map(|_| DYN_TYPE).collect(), $f); )*
        }
    };
}

/// KRO's `runtime.newCondition`: the values are strings, `type` is not
/// empty, `status` is True, False or Unknown; absent `reason` and `message`
/// are empty.
fn new_condition(a: &[Value]) -> Result<Value, String> {
    let Value::Map(m) = &a[0] else {
        return Err("runtime.newCondition: argument must be a map".into());
    };
    let mut out: HashMap<Key, Value> = HashMap::new();
    for k in CONDITION_KEYS {
        let v = match m.map.get(&Key::String(Arc::new(k.into()))) {
            Some(Value::String(v)) => v.to_string(),
            Some(other) => {
                return Err(format!(
                    "runtime.newCondition: {k} must be a string, got {}",
                    other.type_of()
                ))
            }
            None => String::new(),
        };
        out.insert(Key::String(Arc::new(k.into())), Value::String(Arc::new(v)));
    }
    let field = |k: &str| match out.get(&Key::String(Arc::new(k.into()))) {
        Some(Value::String(s)) => s.to_string(),
        _ => String::new(),
    };
    if field("type").is_empty() {
        return Err("runtime.newCondition: type must not be empty".into());
    }
    let status = field("status");
    if !matches!(status.as_str(), "True" | "False" | "Unknown") {
        // Not the value itself: it may come from a Secret.
        return Err(format!(
            "runtime.newCondition: status must be one of True, False, Unknown (got a string of {} characters)",
            status.chars().count()
        ));
    }
    Ok(Value::Map(Map { map: Arc::new(out) }))
}

/// KRO's `runtime.condition(obj, type)`: the condition of that type in
/// `obj.status.conditions`, its four fields as strings; every field empty
/// when there is none.
fn condition_of(a: &[Value]) -> Result<Value, String> {
    let Value::String(want) = &a[1] else {
        return Err(format!(
            "no such overload: runtime.condition(dyn, {})",
            a[1].type_of()
        ));
    };
    let get = |v: &Value, k: &str| match v {
        Value::Map(m) => m.map.get(&Key::String(Arc::new(k.into()))).cloned(),
        _ => None,
    };
    let found = get(&a[0], "status")
        .and_then(|s| get(&s, "conditions"))
        .and_then(|c| match c {
            Value::List(l) => l
                .iter()
                .find(|c| matches!(get(c, "type"), Some(Value::String(t)) if &t == want))
                .cloned(),
            _ => None,
        });
    let mut out: HashMap<Key, Value> = HashMap::new();
    for k in CONDITION_KEYS {
        let v = match found.as_ref().and_then(|c| get(c, k)) {
            Some(Value::String(s)) => s.to_string(),
            _ => String::new(),
        };
        out.insert(Key::String(Arc::new(k.into())), Value::String(Arc::new(v)));
    }
    Ok(Value::Map(Map { map: Arc::new(out) }))
}

/// `runtime.newCondition({type: 'X', status: ...})`: KRO's receiver macro.
/// The argument is a map literal whose keys are bare names among `type`,
/// `status`, `reason`, `message`, each once, `type` and `status` given; the
/// names become strings. Anything else is a parse error, in KRO's words.
fn new_condition_macro(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "runtime") {
        return Ok(None);
    }
    let mut a = std::mem::take(args);
    let arg = a.pop().expect("one argument");
    let Expr::Map(mut m) = arg.expr else {
        return Err(h.new_error(
            arg.id,
            "runtime.newCondition: argument must be a map literal",
        ));
    };
    let mut seen: Vec<String> = Vec::new();
    for e in &mut m.entries {
        let id = e.id;
        let cel::common::ast::EntryExpr::MapEntry(me) = &mut e.expr else {
            return Err(h.new_error(id, "runtime.newCondition: argument must be a map literal"));
        };
        let Expr::Ident(k) = &me.key.expr else {
            return Err(h.new_error(
                id,
                "runtime.newCondition: keys must be bare identifiers (type, status, reason, message); quoted or computed keys are not allowed",
            ));
        };
        let k = k.clone();
        if !CONDITION_KEYS.contains(&k.as_str()) {
            return Err(h.new_error(
                id,
                format!("runtime.newCondition: unknown key {k:?} (allowed: type, status, reason, message)"),
            ));
        }
        if seen.contains(&k) {
            return Err(h.new_error(id, format!("runtime.newCondition: duplicate key {k:?}")));
        }
        me.key = lit(h, LiteralValue::String(k.clone().into()));
        seen.push(k);
    }
    for required in ["type", "status"] {
        if !seen.iter().any(|k| k == required) {
            return Err(h.new_error(
                arg.id,
                format!("runtime.newCondition: '{required}' is required"),
            ));
        }
    }
    target.take();
    let map = h.next_expr(Expr::Map(m));
    Ok(Some(call(h, NEW_CONDITION, vec![map])))
}

natives! {
    new_condition_native => NEW_CONDITION, new_condition, 1;
    condition_native => CONDITION, condition_of, 2;
    string_native => STRING, string_of, 1;
    keys_native => KEYS, keys, 1;
    insert_native => INSERT, insert, 3;
    entries_native => MERGE, entries, 2;
}

/// Registers the macros and their helper functions on `env`.
pub(crate) fn register(env: &mut Env) {
    register_natives(env);
    let _ = env.add_macro(Macro::receiver("bind", 3, |h, target, args| {
        if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "cel") {
            return Ok(None);
        }
        let mut a = std::mem::take(args);
        let body = a.pop().expect("three arguments");
        let init = a.pop().expect("three arguments");
        let var = a.pop().expect("three arguments");
        let var = name(h, var)?;
        target.take();
        Ok(Some(bind(h, &var, init, body)))
    }));
    let _ = env.add_macro(Macro::receiver("newCondition", 1, new_condition_macro));
    let _ = env.add_macro(Macro::receiver("condition", 2, |h, target, args| {
        if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "runtime") {
            return Ok(None);
        }
        target.take();
        let a = std::mem::take(args);
        Ok(Some(call(h, CONDITION, a)))
    }));
    let _ = env.add_macro(Macro::global("string", 1, |h, _, args| {
        let a = std::mem::take(args);
        Ok(Some(call(h, STRING, a)))
    }));
    for (f, n, kind) in [
        ("all", 3, TwoVar::All),
        ("exists", 3, TwoVar::Exists),
        ("existsOne", 3, TwoVar::ExistsOne),
        ("exists_one", 3, TwoVar::ExistsOne),
        ("transformList", 3, TwoVar::TransformList),
        ("transformList", 4, TwoVar::TransformList),
        ("transformMap", 3, TwoVar::TransformMap),
        ("transformMap", 4, TwoVar::TransformMap),
        ("transformMapEntry", 3, TwoVar::TransformMapEntry),
        ("transformMapEntry", 4, TwoVar::TransformMapEntry),
    ] {
        let _ = env.add_macro(Macro::receiver(f, n, move |h, target, args| {
            two_var(h, target, args, kind)
        }));
    }
}
