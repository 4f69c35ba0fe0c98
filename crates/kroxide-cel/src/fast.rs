//! A parser for the CEL most graphs are written in, beside the full one.
//!
//! Nearly every `${}` of a graph is a field path, a literal, or a few of them
//! joined by comparisons, arithmetic, `&&`, `||`, `!` and `?:`
//! (`deployment.status.readyReplicas == deployment.spec.replicas`). The `cel`
//! crate parses with an ANTLR-generated parser, the slowest part of
//! validating a graph. This module parses exactly that subset by hand and
//! builds the same AST the ANTLR parser builds (same node shapes, same
//! balanced `&&`/`||` trees); everything else (calls, indexes, lists, maps,
//! escapes, floats, comments) returns `None` and goes to the full parser,
//! which also writes every syntax error. `tests::same_ast_as_antlr` holds the
//! two parsers to the same trees.

use cel::common::ast::{operators, CallExpr, Expr, IdedExpr, LiteralValue, SelectExpr};

/// Expressions longer than this, or nested deeper, go to the full parser
/// (which has its own limits and messages for them).
const MAX_LEN: usize = 1024;
const MAX_DEPTH: usize = 32;

/// The AST of `source` when it is in the subset; `None` otherwise (never an
/// error: the full parser decides what is wrong).
pub(super) fn parse(source: &str) -> Option<IdedExpr> {
    if source.len() > MAX_LEN {
        return None;
    }
    let tokens = lex(source)?;
    let mut p = Parser {
        tokens,
        at: 0,
        next_id: 0,
        depth: 0,
    };
    let e = p.expr()?;
    (p.at == p.tokens.len()).then_some(e)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok<'s> {
    Ident(&'s str),
    Int(i64),
    Str(&'s str),
    True,
    False,
    Null,
    /// Operators and punctuation, as written.
    Op(&'static str),
}

const OPS: &[&str] = &[
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", "(", ")",
    ".",
];

fn lex(s: &str) -> Option<Vec<Tok<'_>>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            // CEL's whitespace: space, tab, CR, LF, form feed.
            b' ' | b'\t' | b'\r' | b'\n' | 0x0c => i += 1,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &s[start..i];
                out.push(match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    // `in` and the words CEL reserves: the full parser.
                    w if crate::RESERVED.contains(&w) => return None,
                    w => Tok::Ident(w),
                });
            }
            b'0'..=b'9' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                // Floats, unsigned and hex literals: the full parser.
                if i < b.len() && matches!(b[i], b'.' | b'e' | b'E' | b'u' | b'U' | b'x' | b'X') {
                    return None;
                }
                out.push(Tok::Int(s[start..i].parse().ok()?));
            }
            b'"' | b'\'' => {
                // Triple-quoted strings: the full parser.
                if b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&c) {
                    return None;
                }
                let start = i + 1;
                let mut j = start;
                loop {
                    match b.get(j) {
                        Some(&q) if q == c => break,
                        // Escapes and line breaks (errors in CEL): the full parser.
                        Some(b'\\' | b'\n' | b'\r') | None => return None,
                        Some(_) => j += 1,
                    }
                }
                out.push(Tok::Str(&s[start..j]));
                i = j + 1;
            }
            _ => {
                let op = OPS.iter().find(|op| s[i..].starts_with(**op))?;
                out.push(Tok::Op(op));
                i += op.len();
            }
        }
    }
    Some(out)
}

struct Parser<'s> {
    tokens: Vec<Tok<'s>>,
    at: usize,
    next_id: u64,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<&Tok<'s>> {
        self.tokens.get(self.at)
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.peek_op() == Some(op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn node(&mut self, expr: Expr) -> IdedExpr {
        self.next_id += 1;
        IdedExpr {
            id: self.next_id,
            expr,
        }
    }

    fn call(&mut self, func: &str, args: Vec<IdedExpr>) -> IdedExpr {
        self.node(Expr::Call(CallExpr {
            func_name: func.to_string(),
            target: None,
            args,
        }))
    }

    /// `or ('?' or ':' expr)?`
    fn expr(&mut self) -> Option<IdedExpr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let c = self.or()?;
        let e = if self.eat("?") {
            let t = self.or()?;
            if !self.eat(":") {
                return None;
            }
            let f = self.expr()?;
            self.call(operators::CONDITIONAL, vec![c, t, f])
        } else {
            c
        };
        self.depth -= 1;
        Some(e)
    }

    /// `and ('||' and)*`
    fn or(&mut self) -> Option<IdedExpr> {
        self.chain("||", operators::LOGICAL_OR, Self::and)
    }

    /// `relation ('&&' relation)*`
    fn and(&mut self) -> Option<IdedExpr> {
        self.chain("&&", operators::LOGICAL_AND, Self::relation)
    }

    /// Terms joined by `op`, as the balanced tree of `func` calls the CEL
    /// parsers build.
    fn chain(
        &mut self,
        op: &str,
        func: &str,
        term: fn(&mut Self) -> Option<IdedExpr>,
    ) -> Option<IdedExpr> {
        let mut terms = vec![term(self)?];
        while self.eat(op) {
            terms.push(term(self)?);
        }
        if terms.len() == 1 {
            return terms.pop();
        }
        let mut terms: Vec<Option<IdedExpr>> = terms.into_iter().map(Some).collect();
        let last_op = terms.len() - 2;
        Some(self.balanced(func, &mut terms, 0, last_op))
    }

    /// The tree over `terms` joined by operators `lo..=hi` (operator `k`
    /// sits between terms `k` and `k + 1`), split at the middle operator.
    fn balanced(
        &mut self,
        func: &str,
        terms: &mut [Option<IdedExpr>],
        lo: usize,
        hi: usize,
    ) -> IdedExpr {
        let mid = (lo + hi).div_ceil(2);
        let left = if mid == lo {
            terms[mid].take().unwrap_or_default()
        } else {
            self.balanced(func, terms, lo, mid - 1)
        };
        let right = if mid == hi {
            terms[mid + 1].take().unwrap_or_default()
        } else {
            self.balanced(func, terms, mid + 1, hi)
        };
        self.call(func, vec![left, right])
    }

    /// `calc (relop calc)*`, left to right.
    fn relation(&mut self) -> Option<IdedExpr> {
        let mut l = self.calc(0)?;
        while let Some(func) = self.peek_op().and_then(|op| match op {
            "==" => Some(operators::EQUALS),
            "!=" => Some(operators::NOT_EQUALS),
            "<" => Some(operators::LESS),
            "<=" => Some(operators::LESS_EQUALS),
            ">" => Some(operators::GREATER),
            ">=" => Some(operators::GREATER_EQUALS),
            _ => None,
        }) {
            self.at += 1;
            let r = self.calc(0)?;
            l = self.call(func, vec![l, r]);
        }
        Some(l)
    }

    /// Level 0: `+ -`; level 1: `* / %`; left to right.
    fn calc(&mut self, level: u8) -> Option<IdedExpr> {
        let next = |p: &mut Self| if level == 0 { p.calc(1) } else { p.unary() };
        let mut l = next(self)?;
        while let Some(func) = self.peek_op().and_then(|op| match (level, op) {
            (0, "+") => Some(operators::ADD),
            (0, "-") => Some(operators::SUBSTRACT),
            (1, "*") => Some(operators::MULTIPLY),
            (1, "/") => Some(operators::DIVIDE),
            (1, "%") => Some(operators::MODULO),
            _ => None,
        }) {
            self.at += 1;
            let r = next(self)?;
            l = self.call(func, vec![l, r]);
        }
        Some(l)
    }

    /// `member` or `'!' member`. Repeated `!` and unary minus (which folds
    /// into literals) go to the full parser.
    fn unary(&mut self) -> Option<IdedExpr> {
        if self.eat("!") {
            if matches!(self.peek_op(), Some("!" | "-")) {
                return None;
            }
            let m = self.member()?;
            return Some(self.call(operators::LOGICAL_NOT, vec![m]));
        }
        if self.peek_op() == Some("-") {
            return None;
        }
        self.member()
    }

    /// `primary ('.' IDENT)*`; calls, indexes and message literals go to the
    /// full parser.
    fn member(&mut self) -> Option<IdedExpr> {
        let mut e = self.primary()?;
        while self.eat(".") {
            let Some(Tok::Ident(field)) = self.peek().cloned() else {
                return None;
            };
            self.at += 1;
            e = self.node(Expr::Select(SelectExpr {
                operand: Box::new(e),
                field: field.to_string(),
                test: false,
            }));
        }
        // A call, index or message literal after a member: the full parser.
        if matches!(self.peek_op(), Some("(")) {
            return None;
        }
        Some(e)
    }

    fn primary(&mut self) -> Option<IdedExpr> {
        let tok = self.peek()?.clone();
        self.at += 1;
        let literal = |v: LiteralValue| Expr::Literal(v);
        Some(match tok {
            // `namespace` is reserved as a name in the ANTLR grammar.
            Tok::Ident("namespace") => return None,
            Tok::Ident(name) => self.node(Expr::Ident(name.to_string())),
            Tok::Int(i) => self.node(literal(LiteralValue::Int(i.into()))),
            Tok::Str(s) => self.node(literal(LiteralValue::String(s.to_string().into()))),
            Tok::True => self.node(literal(LiteralValue::Boolean(true.into()))),
            Tok::False => self.node(literal(LiteralValue::Boolean(false.into()))),
            Tok::Null => self.node(literal(LiteralValue::Null)),
            Tok::Op("(") => {
                let e = self.expr()?;
                if !self.eat(")") {
                    return None;
                }
                e
            }
            Tok::Op(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two trees are equal but for node ids.
    pub(crate) fn same(a: &IdedExpr, b: &IdedExpr) -> bool {
        match (&a.expr, &b.expr) {
            (Expr::Ident(x), Expr::Ident(y)) => x == y,
            (Expr::Literal(x), Expr::Literal(y)) => x == y,
            (Expr::Select(x), Expr::Select(y)) => {
                x.field == y.field && x.test == y.test && same(&x.operand, &y.operand)
            }
            (Expr::Call(x), Expr::Call(y)) => {
                x.func_name == y.func_name
                    && x.target.is_none()
                    && y.target.is_none()
                    && x.args.len() == y.args.len()
                    && x.args.iter().zip(&y.args).all(|(p, q)| same(p, q))
            }
            _ => false,
        }
    }

    pub(crate) fn antlr(source: &str) -> Option<IdedExpr> {
        cel::parser::Parser::new().parse(source).ok()
    }

    #[test]
    fn same_ast_as_antlr() {
        let cases = [
            "a",
            "a.b.c",
            "a . b",
            "deploy.status.readyReplicas == deploy.spec.replicas",
            "a == b == c",
            "a < 1 || b > 2 || c <= 3 || d >= 4 || e != 5",
            "a && b && c && d && e && f && g",
            "a || b && c || d",
            "1 + 2 * 3 - 4 / 5 % 6",
            "(1 + 2) * 3",
            "a ? b : c ? d : e",
            "x.ready ? \"yes\" : 'no'",
            "!a",
            "!a.b == false",
            "a-1",
            "s + \"\" + ''",
            "null == a",
            "0 + 007 + 9223372036854775807",
            "\"ünïcödé\" != a.b_c.D9",
            "((((a))))",
            "a.status.phase == \"Running\" && a.status.ready ? 1 : 0",
        ];
        for src in cases {
            let fast = parse(src).unwrap_or_else(|| panic!("fast parser declined {src:?}"));
            let full = antlr(src).unwrap_or_else(|| panic!("ANTLR rejected {src:?}"));
            assert!(same(&fast, &full), "{src:?}:\n{fast:?}\n{full:?}");
        }
    }

    /// Whatever the fast parser accepts, ANTLR parses to the same tree.
    fn agrees(src: &str) {
        if let Some(fast) = parse(src) {
            let full = antlr(src)
                .unwrap_or_else(|| panic!("fast parser accepted {src:?}, ANTLR rejects it"));
            assert!(same(&fast, &full), "{src:?}:\n{fast:?}\n{full:?}");
        }
    }

    /// Random token soups (a fixed seed, so the test is repeatable): short
    /// ones are often valid CEL, long ones probe the error paths.
    #[test]
    fn agrees_with_antlr_on_token_soup() {
        const VOCAB: &[&str] = &[
            "a",
            "b.c",
            "x",
            "true",
            "null",
            "1",
            "0",
            "42",
            "\"s\"",
            "'t'",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "&&",
            "||",
            "+",
            "-",
            "*",
            "/",
            "%",
            "!",
            "?",
            ":",
            "(",
            ")",
            ".",
            " ",
            "in",
            "namespace",
            "[",
            "]",
            "1.5",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = 1 + (next() % 9) as usize;
            let src: String = (0..len)
                .map(|_| VOCAB[(next() % VOCAB.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ");
            accepted += usize::from(parse(&src).is_some());
            agrees(&src);
        }
        // The soup must exercise the parser, not only its refusals.
        assert!(accepted > 500, "only {accepted} soups parsed");
    }

    /// The fuzzing corpus of CEL expressions and templates.
    #[test]
    fn agrees_with_antlr_on_the_fuzz_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
        let mut n = 0;
        for target in ["cel_eval", "template_extract"] {
            for entry in std::fs::read_dir(root.join(target)).expect("corpus") {
                let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
                if let Ok(src) = String::from_utf8(bytes) {
                    agrees(&src);
                    n += 1;
                }
            }
        }
        assert!(n > 100, "corpus too small: {n}");
    }

    #[test]
    fn declines_what_it_does_not_know() {
        for src in [
            "",
            "size(a)",
            "a.b()",
            "a[0]",
            "a.?b",
            "[1]",
            "{\"a\": 1}",
            "1.5",
            "1u",
            "0x1",
            "1e3",
            "-1",
            "!!a",
            "!-a",
            "a - -1",
            "\"a\\\"b\"",
            "\"\"\"x\"\"\"",
            "r\"x\"",
            "a in b",
            "a.in",
            "namespace.x",
            "if",
            "a // comment",
            "a ==",
            "(a",
            "a)",
            "a ? b",
            "a b",
            "99999999999999999999",
            "a & b",
            "a = b",
            "`a`",
            "Ä",
        ] {
            assert!(parse(src).is_none(), "{src:?} should go to the full parser");
        }
        let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).is_none());
    }
}
