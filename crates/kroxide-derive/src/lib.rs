//! `#[derive(Schema)]`: a Rust spec or status type becomes a SimpleSchema,
//! a typed reference tree (`FooRef`) and a status-expression struct
//! (`FooExpr`).
//!
//! Use it through `kroxide_dsl::Schema` (or `kroxide::prelude::*`): the
//! derive and the trait share the name, as serde's do.
//!
//! # Types
//!
//! Field types map as KRO expects: integers → `integer`, `f32`/`f64` →
//! `float`, `String` → `string`, `bool` → `boolean`, `Vec<T>` → `[]T`,
//! `BTreeMap<String, T>`/`HashMap<String, T>` → `map[string]T`, nested
//! structs → nested objects (`[]T` and `map[string]T` of structs name them
//! under `types`), unit enums → `string | enum=...`.
//!
//! # The schema follows serde
//!
//! The schema accepts exactly what `serde` serializes. Serde's attributes are
//! read by serde's own parser (`serde_derive_internals`), so names and
//! errors are serde's:
//!
//! - `rename_all` (structs and enums) and `rename` give the wire names.
//! - A field is `required=true` when serde always writes it. It is optional
//!   when it is an `Option<T>` (serde writes `null`, which the API server
//!   drops; decided by the type, so aliases of `Option` count), has
//!   `skip_serializing_if`, is `skip_serializing`, or has a serde `default`
//!   (field or container). A `skip_deserializing` field is written, so it
//!   stays required. A nested struct is an inline object, which SimpleSchema
//!   never marks required; its own fields are checked when it is present.
//! - A serde `default` becomes the SimpleSchema `default=` marker: the value
//!   is computed by serializing `Default::default()` (or the
//!   `default = "path"` function) when the schema is built, so KRO fills in
//!   what serde would. `null` defaults (`Option`) and nested objects get no
//!   marker. `#[schema(default = ..)]` overrides it.
//! - `skip` (or `skip_serializing` with `skip_deserializing`): the field is
//!   not in the schema, nor in `FooRef`/`FooExpr`.
//! - `flatten` of a struct that derives `Schema` merges its fields in
//!   (`Option<T>` or `skip_serializing_if` make them all optional); its
//!   `FooRef` field reads the parent's paths.
//! - Enums: unit variants only, in serde's default (externally tagged)
//!   representation, where each is a string; `skip_serializing` variants
//!   are left out of `enum=`.
//! - `alias`, `deny_unknown_fields`, `bound`, `crate`, `from`, `try_from`,
//!   `deserialize_with`, `borrow`, `expecting` do not change what is written
//!   and are accepted.
//!
//! Everything SimpleSchema cannot express is a compile error pointing at the
//! attribute: enums with data and the `tag`, `content` and `untagged`
//! representations (SimpleSchema has no `oneOf`), `serialize_with`/`with`,
//! `transparent`, `into`, `remote`, `getter`, `variant_identifier`/
//! `field_identifier`, names that differ between serializing and
//! deserializing, flatten of a map or of a non-struct, tuple structs, unions
//! and generic types.
//!
//! # Markers
//!
//! `#[schema(default = .., description = "..", minimum = .., maximum = ..,
//! pattern = "..", min_length = .., max_length = .., min_items = ..,
//! max_items = .., immutable = .., validation = "..", list_type = "..",
//! list_map_key = "..")]` on a field add SimpleSchema markers (`list_type`
//! is `atomic`, `set` or `map`; `list_map_key` names a key of a `map` list,
//! once per key); doc comments become `description`.
//!
//! # Paths
//!
//! The generated code names the DSL crate as the user's `Cargo.toml` does
//! (found with `proc-macro-crate`, renames included): `kroxide`
//! (`::kroxide::dsl`) when it is a dependency, else `kroxide-dsl`.
//! `#[schema(crate = "path::to::dsl")]` on the type overrides it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use serde_derive_internals::{ast, attr, Ctxt, Derive};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Attribute, DeriveInput, Expr, ExprLit, Lit, Meta};

#[proc_macro_derive(Schema, attributes(schema))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What SimpleSchema can express, for error messages.
const EXPRESSIBLE: &str = "SimpleSchema has no oneOf: it can express structs with named fields \
     and enums of unit variants, which serde writes as strings";

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let dsl = dsl_path(&input.attrs)?;
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            format!("Schema cannot be derived for the generic type `{name}`"),
        ));
    }
    if let syn::Data::Union(_) = &input.data {
        return Err(syn::Error::new_spanned(
            name,
            "Schema cannot be derived for unions",
        ));
    }
    let cx = Ctxt::new();
    let cont = ast::Container::from_ast(&cx, input, Derive::Serialize);
    cx.check()?;
    let Some(cont) = cont else {
        return Err(syn::Error::new_spanned(
            name,
            "serde cannot derive for this type",
        ));
    };
    check_container(input, &cont)?;
    match &cont.data {
        ast::Data::Struct(ast::Style::Struct, fields) => expand_struct(input, &cont, fields, &dsl),
        ast::Data::Struct(..) => Err(syn::Error::new_spanned(
            name,
            format!("Schema needs a struct with named fields: serde writes `{name}` as an array or a bare value, not an object"),
        )),
        ast::Data::Enum(variants) => expand_enum(input, &cont, variants, &dsl),
    }
}

/// The path of the DSL crate in the generated code.
fn dsl_path(attrs: &[Attribute]) -> syn::Result<TokenStream2> {
    let mut path = None;
    for a in attrs.iter().filter(|a| a.path().is_ident("schema")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("crate") {
                let s: syn::LitStr = m.value()?.parse()?;
                let p: syn::Path = s.parse()?;
                path = Some(p.into_token_stream());
                Ok(())
            } else {
                Err(m.error(
                    "unknown schema attribute on a type; expected `crate = \"path::to::kroxide_dsl\"`",
                ))
            }
        })?;
    }
    if let Some(p) = path {
        return Ok(p);
    }
    use proc_macro_crate::{crate_name, FoundCrate};
    // The facade first: its users' error messages then name `kroxide::...`.
    let named = |n: String, tail: TokenStream2| {
        let i = format_ident!("{}", n);
        quote!(::#i #tail)
    };
    Ok(match crate_name("kroxide") {
        Ok(FoundCrate::Name(n)) => named(n, quote!(::dsl)),
        // kroxide's own examples, doctests and benches.
        Ok(FoundCrate::Itself) => quote!(::kroxide::dsl),
        Err(_) => match crate_name("kroxide-dsl") {
            Ok(FoundCrate::Name(n)) => named(n, quote!()),
            // kroxide-dsl's own doctests and examples (its library itself
            // would need `#[schema(crate = "crate")]`).
            Ok(FoundCrate::Itself) | Err(_) => quote!(::kroxide_dsl),
        },
    })
}

/// The tokens of the first `#[serde(...)]` item named one of `names`, for
/// an error's span.
fn serde_item(attrs: &[Attribute], names: &[&str]) -> Option<TokenStream2> {
    let mut found = None;
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|m| {
            let mut toks = m.path.to_token_stream();
            if m.input.peek(syn::Token![=]) {
                let eq: syn::Token![=] = m.input.parse()?;
                let e: Expr = m.input.parse()?;
                toks.extend(quote!(#eq #e));
            } else if m.input.peek(syn::token::Paren) {
                let g: proc_macro2::Group = m.input.parse()?;
                toks.extend(g.into_token_stream());
            }
            if found.is_none() && names.iter().any(|n| m.path.is_ident(n)) {
                found = Some(toks);
            }
            Ok(())
        });
    }
    found
}

/// An error on the serde attribute named one of `names`, or on `fallback`.
fn attr_error(
    attrs: &[Attribute],
    names: &[&str],
    fallback: &dyn ToTokens,
    msg: String,
) -> syn::Error {
    match serde_item(attrs, names) {
        Some(t) => syn::Error::new_spanned(t, msg),
        None => syn::Error::new_spanned(fallback.to_token_stream(), msg),
    }
}

/// An error on a field's or variant's `rename`, else on the container's
/// `rename_all`, else on `fallback`.
fn rename_error(
    attrs: &[Attribute],
    container: &[Attribute],
    fallback: &dyn ToTokens,
    msg: String,
) -> syn::Error {
    match serde_item(attrs, &["rename"]).or_else(|| serde_item(container, &["rename_all"])) {
        Some(t) => syn::Error::new_spanned(t, msg),
        None => syn::Error::new_spanned(fallback.to_token_stream(), msg),
    }
}

fn check_container(input: &DeriveInput, cont: &ast::Container) -> syn::Result<()> {
    let name = &input.ident;
    let a = &cont.attrs;
    let attrs = &input.attrs;
    if a.transparent() {
        return Err(attr_error(
            attrs,
            &["transparent"],
            name,
            format!("#[derive(Schema)] does not support #[serde(transparent)] on `{name}`: use the inner type's schema directly"),
        ));
    }
    if a.type_into().is_some() {
        return Err(attr_error(
            attrs,
            &["into"],
            name,
            format!("#[derive(Schema)] does not support #[serde(into = ..)] on `{name}`: serde writes the other type, so derive Schema on that type"),
        ));
    }
    if a.remote().is_some() {
        return Err(attr_error(
            attrs,
            &["remote"],
            name,
            format!("#[derive(Schema)] does not support #[serde(remote = ..)] on `{name}`"),
        ));
    }
    if !matches!(a.identifier(), attr::Identifier::No) {
        return Err(attr_error(
            attrs,
            &["variant_identifier", "field_identifier"],
            name,
            format!("#[derive(Schema)] does not support serde identifiers (`{name}` is only deserialized)"),
        ));
    }
    match (&cont.data, a.tag()) {
        (_, attr::TagType::External) => {}
        (ast::Data::Struct(..), _) => {
            return Err(attr_error(
                attrs,
                &["tag"],
                name,
                format!("#[derive(Schema)] does not support #[serde(tag = ..)] on the struct `{name}`: serde writes an extra tag field that is not one of its fields"),
            ))
        }
        (ast::Data::Enum(_), t) => {
            let (names, what): (&[&str], &str) = match t {
                attr::TagType::Internal { .. } => (&["tag"], "#[serde(tag = ..)] (internally tagged) writes each variant as an object"),
                attr::TagType::Adjacent { .. } => (&["tag", "content"], "#[serde(tag = .., content = ..)] (adjacently tagged) writes each variant as an object"),
                _ => (&["untagged"], "#[serde(untagged)] writes each variant as its content, with no name"),
            };
            return Err(attr_error(
                attrs,
                names,
                name,
                format!("the enum `{name}` cannot be a Schema: {what}; {EXPRESSIBLE}"),
            ));
        }
    }
    Ok(())
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
                "list_type",
                "list_map_key",
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
                "list_type" => "listType",
                "list_map_key" => "listMapKey",
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

fn expand_struct(
    input: &DeriveInput,
    cont: &ast::Container,
    fields: &[ast::Field],
    dsl: &TokenStream2,
) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let vis = &input.vis;
    let ref_name = format_ident!("{}Ref", name);
    let expr_name = format_ident!("{}Expr", name);
    let name_str = name.to_string();
    let container_default = cont.attrs.default();
    let mut ref_fields = Vec::new();
    let mut expr_fields = Vec::new();
    let mut schema_inserts = Vec::new();
    let mut ref_inits = Vec::new();
    let mut status_inserts = Vec::new();
    for f in fields {
        let syn::Member::Named(ident) = &f.member else {
            unreachable!("named fields")
        };
        let ty = f.ty;
        let a = &f.attrs;
        let attrs = &f.original.attrs;
        let (skip_ser, skip_de) = (a.skip_serializing(), a.skip_deserializing());
        if skip_ser && skip_de {
            continue;
        }
        if a.serialize_with().is_some() {
            return Err(attr_error(
                attrs,
                &["serialize_with", "with"],
                ident,
                format!("#[derive(Schema)] does not support serialize_with/with on `{name}.{ident}`: the schema cannot know what the function writes"),
            ));
        }
        if a.getter().is_some() {
            return Err(attr_error(
                attrs,
                &["getter"],
                ident,
                "#[derive(Schema)] does not support #[serde(getter = ..)]".into(),
            ));
        }
        let names = a.name();
        let wire = if skip_ser {
            names.deserialize_name()
        } else if skip_de {
            names.serialize_name()
        } else {
            if names.serialize_name() != names.deserialize_name() {
                return Err(rename_error(
                    attrs,
                    &input.attrs,
                    ident,
                    format!(
                        "`{name}.{ident}` is written as `{}` but read as `{}`; a SimpleSchema field has one name",
                        names.serialize_name(),
                        names.deserialize_name()
                    ),
                ));
            }
            names.serialize_name()
        };
        let (markers, has_schema_default) = schema_markers(attrs)?;
        let field_vis = &f.original.vis;
        ref_fields.push(quote!(#field_vis #ident: <#ty as #dsl::schema::Schema>::Ref));
        expr_fields.push(quote!(#field_vis #ident: <#ty as #dsl::schema::Schema>::Exprs));
        if a.flatten() {
            if let Some(a) = attrs.iter().find(|a| a.path().is_ident("schema")) {
                return Err(syn::Error::new_spanned(
                    a,
                    "#[schema(..)] markers do not apply to a #[serde(flatten)] field: put them on the flattened struct's fields",
                ));
            }
            // `Option<T>` flattens as `T` with every field optional (its
            // `SchemaStruct` impl), as do skipped-when fields.
            let optional = a.skip_serializing_if().is_some() || skip_ser;
            schema_inserts.push(quote_spanned! {ty.span()=>
                #dsl::schema::flatten_into::<#ty>(&mut tree, types, __optional || #optional);
            });
            ref_inits.push(quote!(#ident: <#ty as #dsl::schema::Schema>::reference(base)));
            status_inserts.push(quote! {
                #dsl::schema::flatten_status(&mut tree, <#ty as #dsl::schema::Schema>::status_node(&e.#ident));
            });
            continue;
        }
        // A field serde never reads has no default to fill in (serde gives
        // `skip_deserializing` fields an implicit `default`, for itself).
        let has_serde_default =
            !skip_de && (!a.default().is_none() || !container_default.is_none());
        // `Option<T>` (serde writes `null`, which the API server drops) is
        // never required: `Schema::nullable` says so at run time, so type
        // aliases of `Option` count too.
        let required = !has_schema_default
            && !has_serde_default
            && a.skip_serializing_if().is_none()
            && !skip_ser;
        let default_value = if has_schema_default || !has_serde_default {
            None
        } else {
            match (a.default(), container_default) {
                (attr::Default::Default, _) => {
                    Some(quote!(<#ty as ::core::default::Default>::default()))
                }
                (attr::Default::Path(p), _) => Some(quote!({
                    let __v: #ty = #p();
                    __v
                })),
                (attr::Default::None, attr::Default::Default) => {
                    Some(quote!(<#name as ::core::default::Default>::default().#ident))
                }
                (attr::Default::None, attr::Default::Path(p)) => Some(quote!({
                    let __c: #name = #p();
                    __c.#ident
                })),
                (attr::Default::None, attr::Default::None) => None,
            }
        };
        let default_marker = default_value.map(|v| {
            quote! {
                if let ::std::option::Option::Some(d) = #dsl::schema::default_marker(&#v) {
                    markers.push(("default", d));
                }
            }
        });
        let marker_tokens = markers
            .iter()
            .map(|(k, v)| quote!(markers.push((#k, ::std::string::String::from(#v)));));
        let doc = doc_comment(attrs);
        let doc_marker = doc.map(|d| {
            let q = format!("\"{}\"", d.replace('\\', "\\\\").replace('"', "\\\""));
            quote!(markers.push(("description", ::std::string::String::from(#q)));)
        });
        schema_inserts.push(quote! {
            {
                let mut markers: ::std::vec::Vec<(&str, ::std::string::String)> = ::std::vec::Vec::new();
                #default_marker
                #doc_marker
                #(#marker_tokens)*
                tree.insert(
                    ::std::string::String::from(#wire),
                    #dsl::schema::field_node::<#ty>(
                        types,
                        #required && !__optional && !<#ty as #dsl::schema::Schema>::nullable(),
                        &markers,
                    ),
                );
            }
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

        impl #dsl::schema::SchemaStruct for #name {
            fn schema_fields(
                types: &mut #dsl::schema::Types,
                __optional: bool,
            ) -> #dsl::__private::FieldTree {
                let mut tree = #dsl::__private::FieldTree::new();
                #(#schema_inserts)*
                tree
            }
        }

        impl #dsl::schema::Schema for #name {
            type Ref = #ref_name;
            type Exprs = #expr_name;
            fn type_name() -> ::std::option::Option<&'static str> {
                ::std::option::Option::Some(#name_str)
            }
            fn simple_type(types: &mut #dsl::schema::Types) -> #dsl::schema::SimpleType {
                #dsl::schema::SimpleType::Object(
                    <#name as #dsl::schema::SchemaStruct>::schema_fields(types, false),
                )
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
    _cont: &ast::Container,
    variants: &[ast::Variant],
    dsl: &TokenStream2,
) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let mut arms = Vec::new();
    let mut wires = Vec::new();
    for v in variants {
        let id = &v.ident;
        let attrs = &v.original.attrs;
        if !matches!(v.style, ast::Style::Unit) {
            return Err(syn::Error::new_spanned(
                v.original,
                format!("the enum `{name}` cannot be a Schema: the variant `{id}` has data, which serde writes as an object; {EXPRESSIBLE}"),
            ));
        }
        if v.attrs.untagged() {
            return Err(attr_error(
                attrs,
                &["untagged"],
                v.original,
                format!("the enum `{name}` cannot be a Schema: #[serde(untagged)] writes the variant `{id}` as null; {EXPRESSIBLE}"),
            ));
        }
        if v.attrs.serialize_with().is_some() {
            return Err(attr_error(
                attrs,
                &["serialize_with", "with"],
                v.original,
                format!("#[derive(Schema)] does not support serialize_with/with on `{name}::{id}`"),
            ));
        }
        let names = v.attrs.name();
        let skip_ser = v.attrs.skip_serializing();
        if !skip_ser
            && !v.attrs.skip_deserializing()
            && names.serialize_name() != names.deserialize_name()
        {
            return Err(rename_error(
                attrs,
                &input.attrs,
                v.original,
                format!(
                    "`{name}::{id}` is written as `{}` but read as `{}`; a SimpleSchema enum value has one name",
                    names.serialize_name(),
                    names.deserialize_name()
                ),
            ));
        }
        let wire = if skip_ser {
            names.deserialize_name()
        } else {
            names.serialize_name()
        }
        .to_string();
        if wire.contains(',') {
            return Err(syn::Error::new_spanned(
                v.original,
                "enum values cannot contain a comma in SimpleSchema",
            ));
        }
        arms.push(quote!(#name::#id => #wire));
        if !skip_ser {
            wires.push(wire);
        }
    }
    if wires.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "the enum `{name}` has no variant serde can write: Schema enums need at least one"
            ),
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
