//! `${...}` expressions inside RGD strings, extracted exactly as KRO does.
//!
//! A string that is one whole `${expr}` is *standalone*: its value keeps the
//! expression's type (an integer stays an integer). Any other string with
//! expressions is a *template*: KRO turns it into the CEL concatenation
//! `"lit" + (e1) + "lit"`, so every part must be a string. Only double-quoted
//! CEL strings are skipped when matching braces, as in KRO; a `${` inside an
//! expression is only allowed right after a `"`.

use std::fmt;

/// What a string value in an RGD holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StringValue {
    /// No expression at all.
    Literal(String),
    /// Exactly `${expr}`: the value has the expression's type.
    Standalone(String),
    /// Literal text and expressions mixed: the value is a string.
    Template(Vec<TemplatePart>),
}

/// A piece of a string template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Expr(String),
}

/// Why a string's expressions could not be extracted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("nested expressions are not allowed unless inside string literals")]
    Nested,
}

impl StringValue {
    /// The expressions in this value, in order.
    pub fn expressions(&self) -> Vec<&str> {
        match self {
            StringValue::Literal(_) => Vec::new(),
            StringValue::Standalone(e) => vec![e.as_str()],
            StringValue::Template(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    TemplatePart::Expr(e) => Some(e.as_str()),
                    TemplatePart::Text(_) => None,
                })
                .collect(),
        }
    }

    /// The single CEL expression KRO evaluates for this value, if it has any:
    /// the expression itself when standalone, else `"lit" + (e1) + ...`.
    pub fn to_cel(&self) -> Option<String> {
        match self {
            StringValue::Literal(_) => None,
            StringValue::Standalone(e) => Some(e.clone()),
            StringValue::Template(parts) => {
                let pieces: Vec<String> = parts
                    .iter()
                    .map(|p| match p {
                        TemplatePart::Text(t) => quote_cel(t),
                        TemplatePart::Expr(e) => format!("({e})"),
                    })
                    .collect();
                Some(pieces.join(" + "))
            }
        }
    }

    pub fn has_expressions(&self) -> bool {
        !matches!(self, StringValue::Literal(_))
    }
}

impl fmt::Display for StringValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StringValue::Literal(s) => f.write_str(s),
            StringValue::Standalone(e) => write!(f, "${{{e}}}"),
            StringValue::Template(parts) => {
                for p in parts {
                    match p {
                        TemplatePart::Text(t) => f.write_str(t)?,
                        TemplatePart::Expr(e) => write!(f, "${{{e}}}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// Quotes `s` as a CEL double-quoted string literal.
pub fn quote_cel(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The byte offset of the first `${` in `s` at or after `from`. Every string
/// of every template goes through this: a byte scan for `$` is several times
/// faster than a substring search for `${` on the short strings templates hold.
fn find_open(s: &str, mut from: usize) -> Option<usize> {
    // `find(char)` is a memchr; `from` is always just after an ASCII byte.
    while let Some(i) = s.get(from..)?.find('$') {
        let at = from + i;
        if s.as_bytes().get(at + 1) == Some(&b'{') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `s` holds `${` (an expression, or the start of a broken one).
pub fn has_expression_start(s: &str) -> bool {
    find_open(s, 0).is_some()
}

/// Finds the `${...}` spans of `s`: (start of `${`, end after `}`), as KRO does.
fn spans(s: &str) -> Result<Vec<(usize, usize)>, ExtractError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    while start < b.len() {
        let Some(open) = find_open(s, start) else {
            break;
        };
        let mut depth = 1usize;
        let mut i = open + 2;
        let mut in_str = false;
        let mut escape = false;
        let mut closed = None;
        while i < b.len() {
            let c = b[i];
            if escape {
                escape = false;
            } else if in_str && c == b'\\' {
                escape = true;
            } else if c == b'"' {
                in_str = !in_str;
            } else if !in_str {
                if c == b'{' {
                    depth += 1;
                } else if c == b'}' {
                    depth -= 1;
                    if depth == 0 {
                        closed = Some(i);
                        break;
                    }
                } else if c == b'$' && b.get(i + 1) == Some(&b'{') && b[i - 1] != b'"' {
                    return Err(ExtractError::Nested);
                }
            }
            i += 1;
        }
        match closed {
            Some(end) => {
                out.push((open, end + 1));
                start = end + 1;
            }
            // Unterminated: KRO moves on one character and keeps looking.
            None => start = open + 1,
        }
    }
    Ok(out)
}

/// Splits a string into literal text and `${...}` expressions.
///
/// ```
/// use kroxide_semantics::expr::{parse_string, StringValue, TemplatePart};
/// assert_eq!(parse_string("${schema.spec.replicas}").unwrap(),
///            StringValue::Standalone("schema.spec.replicas".into()));
/// let t = parse_string("${schema.spec.name}-svc").unwrap();
/// assert_eq!(t.to_cel().unwrap(), r#"(schema.spec.name) + "-svc""#);
/// assert_eq!(parse_string("plain").unwrap(), StringValue::Literal("plain".into()));
/// ```
pub fn parse_string(s: &str) -> Result<StringValue, ExtractError> {
    let spans = spans(s)?;
    if spans.is_empty() {
        return Ok(StringValue::Literal(s.to_string()));
    }
    if spans.len() == 1 && spans[0] == (0, s.len()) {
        return Ok(StringValue::Standalone(s[2..s.len() - 1].to_string()));
    }
    let mut parts = Vec::new();
    let mut last = 0;
    for (a, z) in spans {
        if a > last {
            parts.push(TemplatePart::Text(s[last..a].to_string()));
        }
        parts.push(TemplatePart::Expr(s[a + 2..z - 1].to_string()));
        last = z;
    }
    if last < s.len() {
        parts.push(TemplatePart::Text(s[last..].to_string()));
    }
    Ok(StringValue::Template(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exprs(s: &str) -> Vec<String> {
        parse_string(s)
            .unwrap()
            .expressions()
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn kro_extraction_cases() {
        assert_eq!(exprs("${a}"), ["a"]);
        assert_eq!(exprs("x ${a} y ${b.c}"), ["a", "b.c"]);
        assert_eq!(exprs("${ {\"a\": 1}.a }"), [" {\"a\": 1}.a "]);
        // Braces inside double-quoted CEL strings do not count.
        assert_eq!(exprs("${\"}\" + a}"), ["\"}\" + a"]);
        assert_eq!(exprs("${\"a\\\"}\" + b}"), ["\"a\\\"}\" + b"]);
        // Single-quoted strings are not special (KRO only skips double quotes).
        assert_eq!(exprs("${'{' + a}"), Vec::<String>::new());
        // An unterminated expression is skipped.
        assert_eq!(exprs("x ${b} ${c"), ["b"]);
        assert_eq!(parse_string("${a ${b}"), Err(ExtractError::Nested));
    }

    #[test]
    fn nested_expressions_need_quotes() {
        assert_eq!(parse_string("${f(${x})}"), Err(ExtractError::Nested));
        assert_eq!(exprs("${f(\"${x}\")}"), ["f(\"${x}\")"]);
    }

    #[test]
    fn standalone_vs_template() {
        assert!(matches!(
            parse_string("${a}").unwrap(),
            StringValue::Standalone(_)
        ));
        assert!(matches!(
            parse_string(" ${a}").unwrap(),
            StringValue::Template(_)
        ));
        assert!(matches!(
            parse_string("${a}${b}").unwrap(),
            StringValue::Template(_)
        ));
        assert_eq!(
            parse_string("https://${d}/x\"y").unwrap().to_cel().unwrap(),
            r#""https://" + (d) + "/x\"y""#
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["a ${b} c", "${x}", "plain", "${a}${b}"] {
            assert_eq!(parse_string(s).unwrap().to_string(), s);
        }
    }
}
