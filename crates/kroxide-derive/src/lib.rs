//! `#[derive(Schema)]`: a Rust spec or status type becomes a SimpleSchema,
//! a typed reference tree (`FooRef`) and a status-expression struct
//! (`FooExpr`).
//!
//! Field types map as KRO expects: integers → `integer`, `f32`/`f64` →
//! `float`, `String` → `string`, `bool` → `boolean`, `Vec<T>` → `[]T`,
//! `BTreeMap<String, T>` → `map[string]T`, nested structs → nested objects,
//! unit enums → `string | enum=...`. `Option<T>` is optional; other fields
//! are `required=true` unless they have a default. Serde's `rename` and
//! `rename_all` decide wire names. `#[schema(default = .., description = "..",
//! minimum = .., maximum = .., pattern = "..")]` add markers.
//!
//! The generated code refers to `::kroxide::dsl`, so use it through the
//! `kroxide` crate.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{
    parse_macro_input, Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Lit, Meta, Type,
};

#[proc_macro_derive(Schema, attributes(schema))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let rename_all = serde_rename_all(&input.attrs)?;
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => expand_struct(input, f, rename_all.as_deref()),
            _ => Err(syn::Error::new_spanned(
                &input.ident,
                "Schema needs a struct with named fields",
            )),
        },
        Data::Enum(e) => expand_enum(input, e, rename_all.as_deref()),
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "Schema cannot be derived for unions",
        )),
    }
}

fn serde_rename_all(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut out = None;
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("rename_all") {
                let v: syn::LitStr = m.value()?.parse()?;
                out = Some(v.value());
            } else if m.input.peek(syn::Token![=]) {
                let _: Expr = m.value()?.parse()?;
            } else if m.input.peek(syn::token::Paren) {
                let _c: TokenStream2 = m.input.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

struct SerdeField {
    rename: Option<String>,
    default: bool,
    skip: bool,
}

fn serde_field(attrs: &[Attribute]) -> syn::Result<SerdeField> {
    let mut f = SerdeField {
        rename: None,
        default: false,
        skip: false,
    };
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("rename") {
                let v: syn::LitStr = m.value()?.parse()?;
                f.rename = Some(v.value());
            } else if m.path.is_ident("default") {
                f.default = true;
                if m.input.peek(syn::Token![=]) {
                    let _: Expr = m.value()?.parse()?;
                }
            } else if m.path.is_ident("skip") || m.path.is_ident("skip_deserializing") {
                f.skip = true;
            } else if m.input.peek(syn::Token![=]) {
                let _: Expr = m.value()?.parse()?;
            } else if m.input.peek(syn::token::Paren) {
                let _c: TokenStream2 = m.input.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(f)
}

/// Markers from `#[schema(...)]`, as (key, rendered value).
fn schema_markers(attrs: &[Attribute]) -> syn::Result<(Vec<(String, String)>, bool)> {
    let mut out = Vec::new();
    let mut has_default = false;
    for a in attrs.iter().filter(|a| a.path().is_ident("schema")) {
        let Meta::List(_) = &a.meta else {
            return Err(syn::Error::new_spanned(
                a,
                "expected #[schema(key = value, ...)]",
            ));
        };
        a.parse_nested_meta(|m| {
            let key = m
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let allowed = [
                "default",
                "description",
                "minimum",
                "maximum",
                "pattern",
                "min_length",
                "max_length",
                "min_items",
                "max_items",
                "immutable",
                "validation",
            ];
            if !allowed.contains(&key.as_str()) {
                return Err(m.error(format!(
                    "unknown schema attribute `{key}`; expected one of {}",
                    allowed.join(", ")
                )));
            }
            let v: Expr = m.value()?.parse()?;
            let rendered = match &v {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => format!(
                    "\"{}\"",
                    s.value().replace('\\', "\\\\").replace('"', "\\\"")
                ),
                Expr::Lit(ExprLit {
                    lit: Lit::Int(i), ..
                }) => i.base10_digits().to_string(),
                Expr::Lit(ExprLit {
                    lit: Lit::Float(f), ..
                }) => f.base10_digits().to_string(),
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => b.value.to_string(),
                Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match &*u.expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(i), ..
                    }) => format!("-{}", i.base10_digits()),
                    Expr::Lit(ExprLit {
                        lit: Lit::Float(f), ..
                    }) => format!("-{}", f.base10_digits()),
                    _ => return Err(m.error("expected a literal")),
                },
                _ => return Err(m.error("expected a literal")),
            };
            let marker = match key.as_str() {
                "min_length" => "minLength",
                "max_length" => "maxLength",
                "min_items" => "minItems",
                "max_items" => "maxItems",
                k => k,
            };
            if marker == "default" {
                has_default = true;
            }
            out.push((marker.to_string(), rendered));
            Ok(())
        })?;
    }
    Ok((out, has_default))
}

fn rename(name: &str, rule: Option<&str>) -> String {
    let words: Vec<String> = split_words(name);
    match rule {
        None => name.to_string(),
        Some("lowercase") => name.to_ascii_lowercase(),
        Some("UPPERCASE") => name.to_ascii_uppercase(),
        Some("camelCase") => {
            let mut s = String::new();
            for (i, w) in words.iter().enumerate() {
                if i == 0 {
                    s.push_str(&w.to_ascii_lowercase());
                } else {
                    s.push_str(&capitalize(w));
                }
            }
            s
        }
        Some("PascalCase") => words.iter().map(|w| capitalize(w)).collect(),
        Some("snake_case") => words
            .iter()
            .map(|w| w.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join("_"),
        Some("SCREAMING_SNAKE_CASE") => words
            .iter()
            .map(|w| w.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("_"),
        Some("kebab-case") => words
            .iter()
            .map(|w| w.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join("-"),
        Some("SCREAMING-KEBAB-CASE") => words
            .iter()
            .map(|w| w.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("-"),
        Some(_) => name.to_string(),
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// `gateway_url` → [gateway, url]; `GatewayUrl` → [Gateway, Url].
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c == '_' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else if c.is_ascii_uppercase()
            && !cur.is_empty()
            && !cur.chars().last().is_some_and(|l| l.is_ascii_uppercase())
        {
            out.push(std::mem::take(&mut cur));
            cur.push(c);
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_option(ty: &Type) -> bool {
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            return last.ident == "Option";
        }
    }
    false
}

fn expand_struct(
    input: &DeriveInput,
    fields: &syn::FieldsNamed,
    rename_all: Option<&str>,
) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let vis = &input.vis;
    let dsl = quote!(::kroxide::dsl);
    let ref_name = format_ident!("{}Ref", name);
    let expr_name = format_ident!("{}Expr", name);
    let name_str = name.to_string();
    let mut ref_fields = Vec::new();
    let mut expr_fields = Vec::new();
    let mut schema_inserts = Vec::new();
    let mut ref_inits = Vec::new();
    let mut status_inserts = Vec::new();
    for f in &fields.named {
        let ident = f.ident.as_ref().expect("named");
        let ty = &f.ty;
        let sf = serde_field(&f.attrs)?;
        if sf.skip {
            continue;
        }
        let raw = ident.to_string();
        let raw = raw.trim_start_matches("r#");
        let wire = sf.rename.clone().unwrap_or_else(|| rename(raw, rename_all));
        let (markers, has_default) = schema_markers(&f.attrs)?;
        let required = !is_option(ty) && !has_default && !sf.default;
        let marker_tokens = markers
            .iter()
            .map(|(k, v)| quote!((#k, ::std::string::String::from(#v))));
        let doc = doc_comment(&f.attrs);
        let doc_marker = doc.map(|d| {
            let q = format!("\"{}\"", d.replace('\\', "\\\\").replace('"', "\\\""));
            quote!(("description", ::std::string::String::from(#q)),)
        });
        let field_vis = &f.vis;
        ref_fields.push(quote!(#field_vis #ident: <#ty as #dsl::schema::Schema>::Ref));
        expr_fields.push(quote!(#field_vis #ident: <#ty as #dsl::schema::Schema>::Exprs));
        schema_inserts.push(quote! {
            tree.insert(::std::string::String::from(#wire), #dsl::schema::field_node::<#ty>(types, #required, &[#doc_marker #(#marker_tokens),*]));
        });
        ref_inits
            .push(quote!(#ident: <#ty as #dsl::schema::Schema>::reference(&base.child(#wire))));
        status_inserts.push(quote! {
            tree.insert(::std::string::String::from(#wire), <#ty as #dsl::schema::Schema>::status_node(&e.#ident));
        });
    }
    let ref_doc =
        format!("Typed references into a `{name_str}` (generated by `#[derive(Schema)]`).");
    let expr_doc =
        format!("The expressions that compute a `{name_str}` (generated by `#[derive(Schema)]`).");
    Ok(quote! {
        #[doc = #ref_doc]
        #[derive(Clone, Debug)]
        #[allow(dead_code)]
        #vis struct #ref_name { #(#ref_fields),* }

        #[doc = #expr_doc]
        #[derive(Clone, Debug)]
        #[allow(dead_code)]
        #vis struct #expr_name { #(#expr_fields),* }

        impl #dsl::schema::Schema for #name {
            type Ref = #ref_name;
            type Exprs = #expr_name;
            fn type_name() -> ::std::option::Option<&'static str> {
                ::std::option::Option::Some(#name_str)
            }
            fn simple_type(types: &mut #dsl::schema::Types) -> #dsl::schema::SimpleType {
                let mut tree = #dsl::__private::FieldTree::new();
                #(#schema_inserts)*
                #dsl::schema::SimpleType::Object(tree)
            }
            fn reference(base: &#dsl::schema::RefBase) -> #ref_name {
                #ref_name { #(#ref_inits),* }
            }
            fn status_node(e: &#expr_name) -> #dsl::__private::FieldNode {
                let mut tree = #dsl::__private::FieldTree::new();
                #(#status_inserts)*
                #dsl::__private::FieldNode::Object(tree)
            }
        }
    })
}

fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let Meta::NameValue(nv) = &a.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                lines.push(s.value().trim().to_string());
            }
        }
    }
    let s = lines.join(" ").trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn expand_enum(
    input: &DeriveInput,
    e: &syn::DataEnum,
    rename_all: Option<&str>,
) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let dsl = quote!(::kroxide::dsl);
    let mut arms = Vec::new();
    let mut wires = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                v,
                "Schema enums must have unit variants only",
            ));
        }
        let sf = serde_field(&v.attrs)?;
        let wire = sf
            .rename
            .unwrap_or_else(|| rename(&v.ident.to_string(), rename_all));
        if wire.contains(',') {
            return Err(syn::Error::new_spanned(
                v,
                "enum values cannot contain a comma in SimpleSchema",
            ));
        }
        let id = &v.ident;
        arms.push(quote!(#name::#id => #wire));
        wires.push(wire);
    }
    if wires.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "Schema enums need at least one variant",
        ));
    }
    let simple = format!("string | enum=\"{}\"", wires.join(","));
    Ok(quote! {
        impl #dsl::schema::SchemaEnum for #name {
            fn wire_name(&self) -> &'static str {
                match self { #(#arms),* }
            }
        }
        impl #dsl::schema::Schema for #name {
            type Ref = #dsl::Expr<#name>;
            type Exprs = #dsl::Expr<#name>;
            fn simple_type(_: &mut #dsl::schema::Types) -> #dsl::schema::SimpleType {
                #dsl::schema::SimpleType::Leaf(::std::string::String::from(#simple))
            }
            fn reference(base: &#dsl::schema::RefBase) -> #dsl::Expr<#name> {
                base.expr()
            }
            fn status_node(e: &#dsl::Expr<#name>) -> #dsl::__private::FieldNode {
                #dsl::schema::status_leaf(e)
            }
        }
        impl #dsl::IntoExpr<#name> for #name {
            fn into_expr(self) -> #dsl::Expr<#name> {
                #dsl::schema::enum_lit(&self)
            }
        }
        impl #dsl::IntoExpr<#name> for &#name {
            fn into_expr(self) -> #dsl::Expr<#name> {
                #dsl::schema::enum_lit(self)
            }
        }
    })
}
