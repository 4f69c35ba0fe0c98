//! KRO's own CEL functions, computed exactly as KRO computes them:
//! `random.seededString`, `random.seededInt`, `hash.fnv64a/sha256/md5`,
//! `json.marshal/unmarshal`.

use crate::k8s_types as k8s;
use cel::common::types::{DYN_TYPE, INT_TYPE, LIST_TYPE, MAP_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::objects::{Key, Map};
use cel::{Env, ExecutionError, Value};
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Runs `f` on the evaluated arguments of a CEL call.
pub(super) fn call<'b, 'v>(
    name: &str,
    args: Vec<CowVal<'b, 'v>>,
    f: fn(&[Value]) -> Result<Value, String>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let mut vals = Vec::with_capacity(args.len());
    for a in &args {
        let v: &dyn Val = a.as_ref();
        vals.push(Value::try_from(v)?);
    }
    let out = f(&vals).map_err(|e| ExecutionError::function_error(name, e))?;
    let boxed: Box<dyn Val> = Box::<dyn Val>::try_from(out)?;
    Ok(CowVal::from(boxed))
}

macro_rules! overloads {
    (
        global { $($fname:ident => $name:literal, $id:literal, [$($t:expr),*], $body:expr;)* }
        member { $($mname:ident => $mcel:literal, $mid:literal, $target:expr, [$($mt:expr),*], $mbody:expr;)* }
    ) => {
        $(
            fn $fname<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
                call($name, args, $body)
            }
        )*
        $(
            fn $mname<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
                call($mcel, args, $mbody)
            }
        )*
        /// Registers KRO's functions on `env`.
        pub fn register(env: &mut Env) {
            // Registration on a fresh env cannot collide.
            $( let _ = env.add_overload($name, $id, vec![$($t),*], $fname); )*
            $( let _ = env.add_member_overload($mcel, $mid, $target, vec![$($mt),*], $mname); )*
        }
    };
}

/// `other` merged onto `base` as KRO main's `deepMerge` does: maps under
/// the same key merged recursively, otherwise `other`'s value wins (lists
/// and nulls too); an empty side gives the other map unchanged.
pub(crate) fn deep_merge(base: &Map, other: &Map) -> Value {
    if other.map.is_empty() {
        return Value::Map(base.clone());
    }
    if base.map.is_empty() {
        return Value::Map(other.clone());
    }
    let mut m: HashMap<Key, Value> = (*base.map).clone();
    for (k, ov) in other.map.iter() {
        let merged = match (m.get(k), ov) {
            (Some(Value::Map(sm)), Value::Map(om)) => deep_merge(sm, om),
            _ => ov.clone(),
        };
        m.insert(k.clone(), merged);
    }
    Value::Map(Map { map: Arc::new(m) })
}

fn optional(v: Option<Value>) -> Value {
    Value::Opaque(Arc::new(match v {
        Some(x) => cel::objects::OptionalValue::of(x),
        None => cel::objects::OptionalValue::none(),
    }))
}

/// How `%s` shows a value (cel-go's string conversion).
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::List(l) => format!("[{}]", l.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Map(m) => {
            let mut e: Vec<String> = m
                .map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        match k {
                            Key::String(s) => s.to_string(),
                            Key::Int(i) => i.to_string(),
                            Key::Uint(u) => u.to_string(),
                            Key::Bool(b) => b.to_string(),
                        },
                        show(v)
                    )
                })
                .collect();
            e.sort();
            format!("{{{}}}", e.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// cel-go's `string.format(list)`: `%s %d %f %.Nf %e %x %X %o %b %%`.
fn format_string(fmt: &str, args: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut next = 0usize;
    let arg = |i: &mut usize| -> Result<Value, String> {
        let v = args
            .get(*i)
            .cloned()
            .ok_or_else(|| format!("format: not enough arguments for {fmt:?}"))?;
        *i += 1;
        Ok(v)
    };
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut digits = String::new();
            while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                it.next();
            }
            precision = digits.parse().ok();
        }
        let verb = it.next().ok_or("format: a lone % at the end")?;
        let num = |v: &Value| -> Result<f64, String> {
            match v {
                Value::Int(i) => Ok(*i as f64),
                Value::UInt(u) => Ok(*u as f64),
                Value::Float(f) => Ok(*f),
                other => Err(format!(
                    "format: %{verb} needs a number, got {}",
                    other.type_of()
                )),
            }
        };
        match verb {
            '%' => out.push('%'),
            's' => out.push_str(&show(&arg(&mut next)?)),
            'd' => match arg(&mut next)? {
                Value::Int(i) => out.push_str(&i.to_string()),
                Value::UInt(u) => out.push_str(&u.to_string()),
                other => {
                    return Err(format!(
                        "format: %d needs an integer, got {}",
                        other.type_of()
                    ))
                }
            },
            'f' => out.push_str(&format!(
                "{:.*}",
                precision.unwrap_or(6),
                num(&arg(&mut next)?)?
            )),
            'e' => out.push_str(&format!(
                "{:.*e}",
                precision.unwrap_or(6),
                num(&arg(&mut next)?)?
            )),
            'x' | 'X' | 'o' | 'b' => {
                let v = arg(&mut next)?;
                let s = match (&v, verb) {
                    (Value::Int(i), 'x') => format!("{i:x}"),
                    (Value::Int(i), 'X') => format!("{i:X}"),
                    (Value::Int(i), 'o') => format!("{i:o}"),
                    (Value::Int(i), 'b') => format!("{i:b}"),
                    (Value::UInt(u), 'x') => format!("{u:x}"),
                    (Value::UInt(u), 'X') => format!("{u:X}"),
                    (Value::UInt(u), 'o') => format!("{u:o}"),
                    (Value::UInt(u), 'b') => format!("{u:b}"),
                    (Value::String(t), 'x') => t.bytes().map(|b| format!("{b:02x}")).collect(),
                    (Value::String(t), 'X') => t.bytes().map(|b| format!("{b:02X}")).collect(),
                    _ => return Err(format!("format: %{verb} cannot show a {}", v.type_of())),
                };
                out.push_str(&s);
            }
            other => return Err(format!("format: unknown verb %{other}")),
        }
    }
    Ok(Value::String(Arc::new(out)))
}

fn list(v: &Value) -> Result<&[Value], String> {
    match v {
        Value::List(l) => Ok(l.as_slice()),
        other => Err(format!("expected a list, got {}", other.type_of())),
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::UInt(x), Value::UInt(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => {
            return Err(format!(
                "cannot compare {} and {}",
                a.type_of(),
                b.type_of()
            ))
        }
    })
}

/// Kubernetes' `lists` library: `sum()` of ints or doubles.
fn list_sum(a: &[Value]) -> Result<Value, String> {
    let l = list(&a[0])?;
    let mut int: i64 = 0;
    let mut float: Option<f64> = None;
    for v in l {
        match v {
            Value::Int(i) => int = int.checked_add(*i).ok_or("sum overflows int")?,
            Value::Float(f) => *float.get_or_insert(0.0) += f,
            Value::UInt(u) => {
                int = int
                    .checked_add(i64::try_from(*u).map_err(|_| "sum overflows int")?)
                    .ok_or("sum overflows int")?
            }
            other => return Err(format!("sum() needs numbers, got {}", other.type_of())),
        }
    }
    Ok(match float {
        Some(f) => Value::Float(f + int as f64),
        None => Value::Int(int),
    })
}

fn list_extreme(a: &[Value], want: std::cmp::Ordering, name: &str) -> Result<Value, String> {
    let l = list(&a[0])?;
    let mut best = l.first().ok_or(format!("{name}() of an empty list"))?;
    for v in &l[1..] {
        if compare(v, best)? == want {
            best = v;
        }
    }
    Ok(best.clone())
}

fn int(v: &Value, what: &str) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        _ => Err(format!("{what} must be an integer")),
    }
}

fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    match v {
        Value::String(s) => Ok(s.as_str()),
        _ => Err(format!("{what} must be a string")),
    }
}

const ALPHANUMERIC: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// KRO's `random.seededString(length, seed)`.
pub fn seeded_string(n: i64, seed: &str) -> Result<String, String> {
    if n <= 0 {
        return Err("random.seededString length must be positive".into());
    }
    let n = n as usize;
    let mut hash: Vec<u8> = Sha256::digest(seed.as_bytes()).to_vec();
    let mut result: Vec<u8> = Vec::with_capacity(n);
    for i in 0..n {
        let mut start = (i * 4) % hash.len();
        if start + 4 > hash.len() {
            let mut h = Sha256::new();
            h.update(&hash);
            h.update(&result[..i]);
            hash = h.finalize().to_vec();
            start = 0;
        }
        let idx = u32::from_be_bytes([
            hash[start],
            hash[start + 1],
            hash[start + 2],
            hash[start + 3],
        ]);
        result.push(ALPHANUMERIC[(idx % ALPHANUMERIC.len() as u32) as usize]);
    }
    Ok(String::from_utf8(result).expect("ascii"))
}

/// KRO's `random.seededInt(min, max, seed)`: in `[min, max)`.
pub fn seeded_int(min: i64, max: i64, seed: &str) -> Result<i64, String> {
    if min >= max {
        return Err("random.seededInt min must be less than max".into());
    }
    let h = Sha256::digest(seed.as_bytes());
    let v = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    let range = max.wrapping_sub(min) as u64;
    Ok(min.wrapping_add((v % range) as i64))
}

/// FNV-1a, 64 bits.
pub fn fnv64a(data: &[u8]) -> [u8; 8] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.to_be_bytes()
}

/// JSON to CEL as Go's `json.Unmarshal` into `any` gives it: every number is a double.
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(from_json).collect())),
        serde_json::Value::Object(o) => {
            let m: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), from_json(v)))
                .collect();
            Value::Map(Map { map: Arc::new(m) })
        }
    }
}

overloads! {
    global {
    random_seeded_string => "random.seededString", "random.seededString_int_string", [INT_TYPE, STRING_TYPE], |a| {
        let n = int(&a[0], "random.seededString length")?;
        let s = string(&a[1], "random.seededString seed")?;
        Ok(Value::String(Arc::new(seeded_string(n, s)?)))
    };
    random_seeded_int => "random.seededInt", "random.seededInt_int_int_string", [INT_TYPE, INT_TYPE, STRING_TYPE], |a| {
        let min = int(&a[0], "random.seededInt min")?;
        let max = int(&a[1], "random.seededInt max")?;
        let s = string(&a[2], "random.seededInt seed")?;
        Ok(Value::Int(seeded_int(min, max, s)?))
    };
    hash_fnv64a => "hash.fnv64a", "hash.fnv64a_string", [STRING_TYPE], |a| {
        Ok(Value::Bytes(Arc::new(fnv64a(string(&a[0], "hash.fnv64a argument")?.as_bytes()).to_vec())))
    };
    hash_sha256 => "hash.sha256", "hash.sha256_string", [STRING_TYPE], |a| {
        Ok(Value::Bytes(Arc::new(Sha256::digest(string(&a[0], "hash.sha256 argument")?.as_bytes()).to_vec())))
    };
    hash_md5 => "hash.md5", "hash.md5_string", [STRING_TYPE], |a| {
        Ok(Value::Bytes(Arc::new(Md5::digest(string(&a[0], "hash.md5 argument")?.as_bytes()).to_vec())))
    };
    json_marshal => "json.marshal", "json.marshal_dyn", [DYN_TYPE], |a| {
        Ok(Value::String(Arc::new(crate::go::json_marshal(&a[0])?)))
    };
    json_unmarshal => "json.unmarshal", "json.unmarshal_string", [STRING_TYPE], |a| {
        let s = string(&a[0], "json.unmarshal argument")?;
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| format!("json.unmarshal failed to parse JSON: {e}"))?;
        Ok(from_json(&v))
    };
    lists_set => "lists.setAtIndex", "lists.setAtIndex_list_int_T", [LIST_TYPE, INT_TYPE, DYN_TYPE], |a| {
        let l = list(&a[0])?;
        let i = int(&a[1], "lists.setAtIndex index")?;
        if i < 0 || i as usize >= l.len() {
            return Err(format!("lists.setAtIndex: index {i} out of bounds [0, {})", l.len()));
        }
        let mut v = l.to_vec();
        v[i as usize] = a[2].clone();
        Ok(Value::List(Arc::new(v)))
    };
    lists_insert => "lists.insertAtIndex", "lists.insertAtIndex_list_int_T", [LIST_TYPE, INT_TYPE, DYN_TYPE], |a| {
        let l = list(&a[0])?;
        let i = int(&a[1], "lists.insertAtIndex index")?;
        if i < 0 || i as usize > l.len() {
            return Err(format!("lists.insertAtIndex: index {i} out of bounds [0, {}]", l.len()));
        }
        let mut v = l.to_vec();
        v.insert(i as usize, a[2].clone());
        Ok(Value::List(Arc::new(v)))
    };
    lists_remove => "lists.removeAtIndex", "lists.removeAtIndex_list_int", [LIST_TYPE, INT_TYPE], |a| {
        let l = list(&a[0])?;
        let i = int(&a[1], "lists.removeAtIndex index")?;
        if i < 0 || i as usize >= l.len() {
            return Err(format!("lists.removeAtIndex: index {i} out of bounds [0, {})", l.len()));
        }
        let mut v = l.to_vec();
        v.remove(i as usize);
        Ok(Value::List(Arc::new(v)))
    };
    quantity_new => "quantity", "quantity_string", [STRING_TYPE], |a| {
        crate::quantity::make(string(&a[0], "quantity argument")?)
    };
    url_new => "url", "url_string", [STRING_TYPE], |a| k8s::parse_url(string(&a[0], "url argument")?);
    is_url => "isURL", "isURL_string", [STRING_TYPE], |a| Ok(Value::Bool(k8s::parse_url(string(&a[0], "isURL argument")?).is_ok()));
    ip_new => "ip", "ip_string", [STRING_TYPE], |a| k8s::parse_ip(string(&a[0], "ip argument")?);
    is_ip => "isIP", "isIP_string", [STRING_TYPE], |a| Ok(Value::Bool(k8s::parse_ip(string(&a[0], "isIP argument")?).is_ok()));
    ip_is_canonical => "ip.isCanonical", "ip_isCanonical_string", [STRING_TYPE], |a| {
        let t = string(&a[0], "ip.isCanonical argument")?;
        let ip = k8s::parse_ip(t)?;
        Ok(Value::Bool(k8s::ip_string(&ip)? == t))
    };
    cidr_new => "cidr", "cidr_string", [STRING_TYPE], |a| k8s::parse_cidr(string(&a[0], "cidr argument")?);
    is_cidr => "isCIDR", "isCIDR_string", [STRING_TYPE], |a| Ok(Value::Bool(k8s::parse_cidr(string(&a[0], "isCIDR argument")?).is_ok()));
    semver_new => "semver", "semver_string", [STRING_TYPE], |a| k8s::parse_semver(string(&a[0], "semver argument")?);
    is_semver => "isSemver", "isSemver_string", [STRING_TYPE], |a| Ok(Value::Bool(k8s::is_semver(string(&a[0], "isSemver argument")?)));
    is_quantity => "isQuantity", "isQuantity_string", [STRING_TYPE], |a| {
        Ok(Value::Bool(crate::quantity::parse(string(&a[0], "isQuantity argument")?).is_some()))
    };
    }
    member {
    map_merge => "merge", "map_merge", MAP_TYPE, [MAP_TYPE], |a| {
        // Keys of the argument overwrite keys of the receiver (KRO's maps library).
        match (&a[0], &a[1]) {
            (Value::Map(l), Value::Map(r)) => {
                let mut m: HashMap<Key, Value> = (*l.map).clone();
                for (k, v) in r.map.iter() {
                    m.insert(k.clone(), v.clone());
                }
                Ok(Value::Map(Map { map: Arc::new(m) }))
            }
            _ => Err("merge needs two maps".into()),
        }
    };
    map_deep_merge => "deepMerge", "dyn_deepmerge_dyn", DYN_TYPE, [DYN_TYPE], |a| {
        // KRO main's maps library: dyn.deepMerge(dyn) -> dyn.
        match (&a[0], &a[1]) {
            (Value::Map(l), Value::Map(r)) => Ok(deep_merge(l, r)),
            _ => Err("no such overload".into()),
        }
    };
    q_less => "isLessThan", "k8s_isLessThan", MAP_TYPE, [MAP_TYPE], |a| {
        Ok(Value::Bool(k8s::compare(&a[0], &a[1])? == std::cmp::Ordering::Less))
    };
    q_greater => "isGreaterThan", "k8s_isGreaterThan", MAP_TYPE, [MAP_TYPE], |a| {
        Ok(Value::Bool(k8s::compare(&a[0], &a[1])? == std::cmp::Ordering::Greater))
    };
    q_compare => "compareTo", "k8s_compareTo", MAP_TYPE, [MAP_TYPE], |a| {
        Ok(Value::Int(match k8s::compare(&a[0], &a[1])? {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }))
    };
    url_scheme => "getScheme", "url_getScheme", MAP_TYPE, [], |a| k8s::url_get(&a[0], "scheme");
    url_host => "getHost", "url_getHost", MAP_TYPE, [], |a| k8s::url_get(&a[0], "host");
    url_hostname => "getHostname", "url_getHostname", MAP_TYPE, [], |a| k8s::url_get(&a[0], "hostname");
    url_port => "getPort", "url_getPort", MAP_TYPE, [], |a| k8s::url_get(&a[0], "port");
    url_path => "getEscapedPath", "url_getEscapedPath", MAP_TYPE, [], |a| k8s::url_get(&a[0], "path");
    url_query => "getQuery", "url_getQuery", MAP_TYPE, [], |a| k8s::url_get(&a[0], "query");
    ip_family => "family", "ip_family", MAP_TYPE, [], |a| k8s::ip_method(&a[0], "family");
    ip_unspecified => "isUnspecified", "ip_isUnspecified", MAP_TYPE, [], |a| k8s::ip_method(&a[0], "isUnspecified");
    ip_loopback => "isLoopback", "ip_isLoopback", MAP_TYPE, [], |a| k8s::ip_method(&a[0], "isLoopback");
    ip_llm => "isLinkLocalMulticast", "ip_isLinkLocalMulticast", MAP_TYPE, [], |a| k8s::ip_method(&a[0], "isLinkLocalMulticast");
    ip_llu => "isLinkLocalUnicast", "ip_isLinkLocalUnicast", MAP_TYPE, [], |a| k8s::ip_method(&a[0], "isLinkLocalUnicast");
    ip_global => "isGlobalUnicast", "ip_isGlobalUnicast", MAP_TYPE, [], |a| k8s::ip_method(&a[0], "isGlobalUnicast");
    cidr_contains_ip_m => "containsIP", "cidr_containsIP", MAP_TYPE, [DYN_TYPE], |a| k8s::cidr_contains_ip(&a[0], &a[1]);
    cidr_contains_cidr_m => "containsCIDR", "cidr_containsCIDR", MAP_TYPE, [DYN_TYPE], |a| k8s::cidr_contains_cidr(&a[0], &a[1]);
    cidr_prefix => "prefixLength", "cidr_prefixLength", MAP_TYPE, [], |a| k8s::cidr_method(&a[0], "prefixLength");
    cidr_ip => "ip", "cidr_ip", MAP_TYPE, [], |a| k8s::cidr_method(&a[0], "ip");
    cidr_masked => "masked", "cidr_masked", MAP_TYPE, [], |a| k8s::cidr_method(&a[0], "masked");
    semver_major => "major", "semver_major", MAP_TYPE, [], |a| k8s::semver_part(&a[0], 0);
    semver_minor => "minor", "semver_minor", MAP_TYPE, [], |a| k8s::semver_part(&a[0], 1);
    semver_patch => "patch", "semver_patch", MAP_TYPE, [], |a| k8s::semver_part(&a[0], 2);
    re_find => "find", "string_find", STRING_TYPE, [STRING_TYPE], |a| k8s::find(string(&a[0], "find receiver")?, string(&a[1], "find pattern")?, None);
    re_find_all => "findAll", "string_findAll", STRING_TYPE, [STRING_TYPE], |a| k8s::find(string(&a[0], "findAll receiver")?, string(&a[1], "findAll pattern")?, Some(-1));
    re_find_all_n => "findAll", "string_findAll_int", STRING_TYPE, [STRING_TYPE, INT_TYPE], |a| k8s::find(string(&a[0], "findAll receiver")?, string(&a[1], "findAll pattern")?, Some(int(&a[2], "findAll limit")?));
    q_as_approx => "asApproximateFloat", "quantity_asApproximateFloat", MAP_TYPE, [], |a| {
        Ok(Value::Float(crate::quantity::value_of(&a[0])?))
    };
    q_is_integer => "isInteger", "quantity_isInteger", MAP_TYPE, [], |a| {
        Ok(Value::Bool(crate::quantity::value_of(&a[0])?.fract() == 0.0))
    };
    q_add => "add", "quantity_add", MAP_TYPE, [MAP_TYPE], |a| {
        crate::quantity::from_value(crate::quantity::value_of(&a[0])? + crate::quantity::value_of(&a[1])?)
    };
    q_add_int => "add", "quantity_add_int", MAP_TYPE, [INT_TYPE], |a| {
        crate::quantity::from_value(crate::quantity::value_of(&a[0])? + int(&a[1], "add argument")? as f64)
    };
    q_sub => "sub", "quantity_sub", MAP_TYPE, [MAP_TYPE], |a| {
        crate::quantity::from_value(crate::quantity::value_of(&a[0])? - crate::quantity::value_of(&a[1])?)
    };
    q_sub_int => "sub", "quantity_sub_int", MAP_TYPE, [INT_TYPE], |a| {
        crate::quantity::from_value(crate::quantity::value_of(&a[0])? - int(&a[1], "sub argument")? as f64)
    };
    q_as_int => "asInteger", "quantity_asInteger", MAP_TYPE, [], |a| {
        let v = crate::quantity::value_of(&a[0])?;
        if v.fract() != 0.0 || v.abs() > 9.0e15 {
            return Err("quantity is not an integer".into());
        }
        Ok(Value::Int(v as i64))
    };
    list_first => "first", "list_first", LIST_TYPE, [], |a| {
        let l = list(&a[0])?;
        Ok(optional(l.first().cloned()))
    };
    list_last => "last", "list_last", LIST_TYPE, [], |a| {
        let l = list(&a[0])?;
        Ok(optional(l.last().cloned()))
    };
    string_format => "format", "string_format_list", STRING_TYPE, [LIST_TYPE], |a| {
        format_string(string(&a[0], "format receiver")?, list(&a[1])?)
    };
    list_sum_m => "sum", "list_sum", LIST_TYPE, [], list_sum;
    list_min_m => "min", "list_min", LIST_TYPE, [], |a| list_extreme(a, std::cmp::Ordering::Less, "min");
    list_max_m => "max", "list_max", LIST_TYPE, [], |a| list_extreme(a, std::cmp::Ordering::Greater, "max");
    list_is_sorted_m => "isSorted", "list_isSorted", LIST_TYPE, [], |a| {
        let l = list(&a[0])?;
        for w in l.windows(2) {
            if compare(&w[0], &w[1])? == std::cmp::Ordering::Greater {
                return Ok(Value::Bool(false));
            }
        }
        Ok(Value::Bool(true))
    };
    list_index_of_m => "indexOf", "list_indexOf", LIST_TYPE, [DYN_TYPE], |a| {
        Ok(Value::Int(list(&a[0])?.iter().position(|x| x == &a[1]).map_or(-1, |i| i as i64)))
    };
    list_last_index_of_m => "lastIndexOf", "list_lastIndexOf", LIST_TYPE, [DYN_TYPE], |a| {
        Ok(Value::Int(list(&a[0])?.iter().rposition(|x| x == &a[1]).map_or(-1, |i| i as i64)))
    };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kro_known_values() {
        assert_eq!(seeded_string(10, "test").unwrap(), "x94x70hwx9");
        assert_eq!(seeded_int(30000, 32768, "test").unwrap(), 31525);
        // Longer than one hash (8 chars per 32 bytes): the rehash path.
        assert_eq!(seeded_string(20, "test").unwrap().len(), 20);
        assert!(seeded_string(0, "x").is_err());
        assert!(seeded_int(5, 5, "x").is_err());
    }

    #[test]
    fn fnv_reference_vectors() {
        // FNV-1a 64 of "" and "a" (reference values of the algorithm).
        assert_eq!(u64::from_be_bytes(fnv64a(b"")), 0xcbf29ce484222325);
        assert_eq!(u64::from_be_bytes(fnv64a(b"a")), 0xaf63dc4c8601ec8c);
    }
}
