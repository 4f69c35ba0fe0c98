//! `kroxide graph`: a graph's resources and what each reads, as Mermaid,
//! Graphviz DOT or SVG (laid out in-process: no Graphviz needed).
//!
//! Nodes are the resources, grouped by apply wave; an edge goes from a
//! resource to one it reads, labelled with the paths it reads there
//! (`metadata.name`). The edges are the validator's dependency graph; the
//! labels come from the same `${...}` expressions (template, `includeWhen`,
//! `forEach`, `externalRef` name and namespace).

use clap::ValueEnum;
use kroxide_model::{FieldPath, ResourceGraphDefinition};
use kroxide_semantics::cel::default_engine;
use kroxide_semantics::expr::{has_expression_start, parse_string};
use kroxide_semantics::validate::Validation;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Output formats of `graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart (GitHub and many Markdown viewers draw it).
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// SVG, laid out by kroxide itself.
    Svg,
}

/// The id of the instance node (what `${schema...}` reads).
const SCHEMA: &str = "schema";

/// Edge labels list at most this many paths, then "+N more".
const MAX_LABEL_PATHS: usize = 3;

/// One resource.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub id: String,
    pub kind: String,
    /// 1-based apply wave.
    pub wave: usize,
    pub conditional: bool,
    pub collection: bool,
    pub external: bool,
}

impl Node {
    /// What is special about this resource, in RGD terms.
    fn tags(&self) -> Vec<&'static str> {
        let mut t = Vec::new();
        if self.conditional {
            t.push("includeWhen");
        }
        if self.collection {
            t.push("forEach");
        }
        if self.external {
            t.push("externalRef");
        }
        t
    }
}

/// `from` reads `to`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Edge {
    pub from: String,
    pub to: String,
    /// Paths read in `to` (`metadata.name`; empty for the whole object).
    pub reads: BTreeSet<String>,
    /// Fields of `from` that read them (`spec.template.spec.containers[0].env[0].value`).
    pub fields: BTreeSet<String>,
}

impl Edge {
    fn label(&self, sep: &str) -> String {
        // An empty path is a read the path of which is not literal
        // (`x.?data`, `x[key]`): it has nothing to show.
        let reads: Vec<&str> = self
            .reads
            .iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect();
        let mut shown: Vec<&str> = reads.iter().take(MAX_LABEL_PATHS).copied().collect();
        let more = reads.len().saturating_sub(MAX_LABEL_PATHS);
        let more_text = format!("+{more} more");
        if more > 0 {
            shown.push(&more_text);
        }
        shown.join(sep)
    }
}

/// A graph ready to draw.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub name: String,
    pub instance_kind: String,
    /// Resources, wave by wave, in KRO's order within a wave.
    pub waves: Vec<Vec<Node>>,
    pub edges: Vec<Edge>,
    /// Edges to the instance (`${schema.spec...}`), when asked for.
    pub schema_edges: Option<Vec<Edge>>,
}

/// The graph of `rgd`, whose validation (without errors) is `v`.
pub(crate) fn model(
    rgd: &ResourceGraphDefinition,
    v: &Validation,
    with_schema: bool,
) -> Result<Model, String> {
    let g = v
        .graph
        .as_ref()
        .ok_or_else(|| "the graph has no dependency graph".to_string())?;
    let waves = g.waves().map_err(|e| e.to_string())?;
    let ids: BTreeSet<&str> = rgd.spec.resources.iter().map(|r| r.id.as_str()).collect();
    let mut edges: Vec<Edge> = Vec::new();
    let mut schema_edges: Vec<Edge> = Vec::new();
    let mut out_waves = Vec::with_capacity(waves.len());
    for (w, wave) in waves.iter().enumerate() {
        let mut nodes = Vec::with_capacity(wave.len());
        for id in wave {
            let Some(r) = rgd.resource(id) else { continue };
            let reads = references(r);
            for dep in g.dependencies(id) {
                let mut e = Edge {
                    from: id.clone(),
                    to: dep.to_string(),
                    ..Edge::default()
                };
                if let Some((reads, fields)) = reads.get(dep) {
                    e.reads = reads.clone();
                    e.fields = fields.clone();
                }
                edges.push(e);
            }
            if with_schema {
                if let Some((reads, fields)) = reads.get(SCHEMA).filter(|_| !ids.contains(SCHEMA)) {
                    schema_edges.push(Edge {
                        from: id.clone(),
                        to: SCHEMA.to_string(),
                        reads: reads.clone(),
                        fields: fields.clone(),
                    });
                }
            }
            nodes.push(Node {
                id: id.clone(),
                kind: r.kind().unwrap_or("?").to_string(),
                wave: w + 1,
                conditional: !r.include_when.is_empty(),
                collection: !r.for_each.is_empty(),
                external: r.external_ref.is_some(),
            });
        }
        out_waves.push(nodes);
    }
    Ok(Model {
        name: rgd.name().to_string(),
        instance_kind: rgd.spec.schema.kind.clone(),
        waves: out_waves,
        edges,
        schema_edges: with_schema.then_some(schema_edges),
    })
}

/// For each identifier `r`'s expressions read: the paths read below it and
/// the fields of `r` that read them.
type Reads = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

fn references(r: &kroxide_model::Resource) -> Reads {
    let mut out = Reads::new();
    if let Some(t) = &r.template {
        walk(t, &FieldPath::root(), &mut out);
    }
    if let Some(e) = &r.external_ref {
        let p = FieldPath::root().key("externalRef").key("metadata");
        for (k, v) in [
            ("name", &e.metadata.name),
            ("namespace", &e.metadata.namespace),
        ] {
            if let Some(v) = v {
                record(v, &p.key(k), &mut out);
            }
        }
    }
    for (i, e) in r.include_when.iter().enumerate() {
        record(e, &FieldPath::root().key("includeWhen").index(i), &mut out);
    }
    for (i, dim) in r.for_each.iter().enumerate() {
        for (name, e) in dim {
            let p = FieldPath::root().key("forEach").index(i).key(name.clone());
            record(e, &p, &mut out);
        }
    }
    out
}

fn walk(v: &Value, at: &FieldPath, out: &mut Reads) {
    match v {
        Value::String(s) => record(s, at, out),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| walk(x, &at.index(i), out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            record(k, at, out);
            walk(x, &at.key(k.clone()), out);
        }),
        _ => {}
    }
}

fn record(s: &str, at: &FieldPath, out: &mut Reads) {
    if !has_expression_start(s) {
        return;
    }
    let Ok(sv) = parse_string(s) else { return };
    for e in sv.expressions() {
        let Ok(p) = default_engine().compile(e) else {
            continue;
        };
        for r in &p.info().references {
            let entry = out.entry(r.root.clone()).or_default();
            entry.0.insert(format_path(&r.path));
            entry.1.insert(at.to_string());
        }
    }
}

/// `["spec", "ports", "0", "port"]` as `spec.ports[0].port`.
fn format_path(p: &[String]) -> String {
    let mut s = String::new();
    for seg in p {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            let _ = write!(s, "[{seg}]");
        } else if !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(seg);
        } else {
            let _ = write!(s, "[{seg:?}]");
        }
    }
    s
}

impl Model {
    fn count(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }

    fn summary(&self) -> String {
        let n = self.count();
        let w = self.waves.len();
        format!(
            "ResourceGraphDefinition {} (instances: {}): {n} resource{} in {w} wave{}; an arrow goes from a resource to one it reads, labelled with the paths read",
            self.name,
            self.instance_kind,
            if n == 1 { "" } else { "s" },
            if w == 1 { "" } else { "s" },
        )
    }
}

/// Mermaid: a flowchart drawn bottom to top, so that wave 1 is on top and
/// arrows point up at what they read.
pub(crate) fn mermaid(m: &Model) -> String {
    fn esc(s: &str) -> String {
        s.replace('"', "#quot;")
            .replace('<', "#lt;")
            .replace('>', "#gt;")
    }
    fn node_id(id: &str) -> String {
        // Prefixed: `end`, `graph` or `class` would be Mermaid keywords.
        format!("r_{id}")
    }
    let mut s = String::new();
    s.push_str("flowchart BT\n");
    let _ = writeln!(s, "  %% {}", m.summary());
    if m.schema_edges.is_some() {
        let _ = writeln!(
            s,
            "  s_schema[(\"{}<br/>{}\")]:::instance",
            SCHEMA,
            esc(&m.instance_kind)
        );
    }
    for (w, nodes) in m.waves.iter().enumerate() {
        let _ = writeln!(s, "  subgraph wave{} [\"wave {}\"]", w + 1, w + 1);
        for n in nodes {
            let mut label = format!("{}<br/>{}", esc(&n.id), esc(&n.kind));
            let tags = n.tags();
            if !tags.is_empty() {
                let _ = write!(label, "<br/>({})", tags.join(", "));
            }
            let (open, close) = if n.external {
                ("([", "])")
            } else if n.collection {
                ("[[", "]]")
            } else {
                ("[", "]")
            };
            let class = if n.external {
                ":::external"
            } else if n.conditional {
                ":::conditional"
            } else {
                ""
            };
            let _ = writeln!(s, "    {}{open}\"{label}\"{close}{class}", node_id(&n.id));
        }
        s.push_str("  end\n");
    }
    let label = |e: &Edge| esc(&e.label("\n")).replace('\n', "<br/>");
    for e in &m.edges {
        let label = label(e);
        if label.is_empty() {
            let _ = writeln!(s, "  {} --> {}", node_id(&e.from), node_id(&e.to));
        } else {
            let _ = writeln!(
                s,
                "  {} -->|\"{label}\"| {}",
                node_id(&e.from),
                node_id(&e.to)
            );
        }
    }
    for e in m.schema_edges.iter().flatten() {
        let _ = writeln!(s, "  {} -.->|\"{}\"| s_schema", node_id(&e.from), label(e));
    }
    s.push_str("  classDef conditional stroke-dasharray: 5 5\n");
    s.push_str("  classDef external fill:#eeeeee,stroke:#888888\n");
    if m.schema_edges.is_some() {
        s.push_str("  classDef instance fill:#e8f0fe,stroke:#4a6fa5\n");
    }
    s
}

fn dot_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Graphviz DOT: one cluster per wave, its resources on one rank.
pub(crate) fn dot(m: &Model) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "// {}", m.summary());
    let _ = writeln!(s, "digraph {} {{", dot_str(&m.name));
    s.push_str("  rankdir=BT;\n  newrank=true;\n");
    s.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    s.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    if m.schema_edges.is_some() {
        let _ = writeln!(
            s,
            "  {} [label={}, shape=cylinder, style=filled, fillcolor=\"#e8f0fe\"];",
            dot_str(SCHEMA),
            dot_str(&format!("{SCHEMA}\n{}", m.instance_kind))
        );
    }
    for (w, nodes) in m.waves.iter().enumerate() {
        let _ = writeln!(s, "  subgraph cluster_wave{} {{", w + 1);
        let _ = writeln!(s, "    label={};", dot_str(&format!("wave {}", w + 1)));
        s.push_str("    rank=same;\n");
        for n in nodes {
            let mut label = format!("{}\n{}", n.id, n.kind);
            let tags = n.tags();
            if !tags.is_empty() {
                let _ = write!(label, "\n({})", tags.join(", "));
            }
            let mut style = vec!["rounded"];
            let mut extra = String::new();
            if n.conditional {
                style.push("dashed");
            }
            if n.external {
                style.push("filled");
                extra.push_str(", fillcolor=\"#eeeeee\"");
            }
            if n.collection {
                extra.push_str(", peripheries=2");
            }
            let _ = writeln!(
                s,
                "    {} [label={}, style={}{extra}];",
                dot_str(&n.id),
                dot_str(&label),
                dot_str(&style.join(","))
            );
        }
        s.push_str("  }\n");
    }
    let schema_edges = m.schema_edges.iter().flatten();
    for (e, dashed) in m
        .edges
        .iter()
        .map(|e| (e, false))
        .chain(schema_edges.map(|e| (e, true)))
    {
        let mut attrs = Vec::new();
        let label = e.label("\n");
        if !label.is_empty() {
            attrs.push(format!("label={}", dot_str(&label)));
        }
        if !e.fields.is_empty() {
            let fields: Vec<&str> = e.fields.iter().map(String::as_str).collect();
            attrs.push(format!("tooltip={}", dot_str(&fields.join("\n"))));
        }
        if dashed {
            attrs.push("style=dashed".into());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(s, "  {} -> {}{attrs};", dot_str(&e.from), dot_str(&e.to));
    }
    s.push_str("}\n");
    s
}

/// SVG, laid out with layout-rs: wave 1 on top, each arrow pointing at what
/// its resource reads. Every resource is a `<g class="resource" data-id=..>`.
pub(crate) fn svg(m: &Model) -> String {
    use layout::backends::svg::SVGWriter;
    use layout::core::base::Orientation;
    use layout::core::color::Color;
    use layout::core::style::{LineStyleKind, StyleAttr};
    use layout::std_shapes::render::get_shape_size;
    use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
    use layout::topo::layout::VisualGraph;

    const FONT: usize = 14;
    fn attr(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
    let dir = Orientation::TopToBottom;
    let mut vg = VisualGraph::new(dir);
    let mut handles = BTreeMap::new();
    let mut add = |vg: &mut VisualGraph, id: &str, label: String, fill: &str, class: &str| {
        let shape = ShapeKind::new_box(&label);
        let look = StyleAttr::new(Color::fast("black"), 1, Some(Color::fast(fill)), 6, FONT);
        let size = get_shape_size(dir, &shape, FONT, false);
        let props = format!("class=\"{class}\" data-id=\"{}\"", attr(id));
        let h = vg.add_node(Element::create_with_properties(
            shape, look, dir, size, props,
        ));
        handles.insert(id.to_string(), h);
    };
    if m.schema_edges.is_some() {
        add(
            &mut vg,
            SCHEMA,
            format!("{SCHEMA}\n{}", m.instance_kind),
            "#e8f0fe",
            "instance",
        );
    }
    for n in m.waves.iter().flatten() {
        let mut label = format!("{}\n{}\nwave {}", n.id, n.kind, n.wave);
        let tags = n.tags();
        if !tags.is_empty() {
            let _ = write!(label, "\n({})", tags.join(", "));
        }
        let fill = if n.external {
            "#eeeeee"
        } else if n.conditional {
            "#fff8dc"
        } else if n.collection {
            "#eef7ee"
        } else {
            "white"
        };
        add(&mut vg, &n.id, label, fill, "resource");
    }
    let schema_edges = m.schema_edges.iter().flatten();
    for (e, style) in m
        .edges
        .iter()
        .map(|e| (e, LineStyleKind::Normal))
        .chain(schema_edges.map(|e| (e, LineStyleKind::Dashed)))
    {
        let (Some(from), Some(to)) = (handles.get(&e.from), handles.get(&e.to)) else {
            continue;
        };
        // Laid out from what is read down to the reader (so that waves go
        // down the page), drawn with the head at what is read.
        let look = StyleAttr::new(Color::fast("#555555"), 1, None, 0, FONT);
        let props = format!(
            "class=\"edge\" data-from=\"{}\" data-to=\"{}\"",
            attr(&e.from),
            attr(&e.to)
        );
        let arrow = Arrow::with_properties(
            LineEndKind::Arrow,
            LineEndKind::None,
            style,
            &e.label("\n"),
            &look,
            props,
            &None,
            &None,
        );
        vg.add_edge(arrow, *to, *from);
    }
    if vg.num_nodes() == 0 {
        return "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"0\" height=\"0\"></svg>\n".into();
    }
    let mut w = SVGWriter::new();
    vg.do_it(false, false, false, &mut w);
    let out = w.finalize();
    // The writer sizes the picture from text lengths as if every label
    // were drawn vertically; the laid out shapes give the real extent.
    let (mut width, mut height) = (0f64, 0f64);
    for n in vg.iter_nodes() {
        let p = vg.pos(n);
        width = width.max(p.right(false));
        height = height.max(p.bottom(false));
    }
    let (width, height) = (width.ceil() + 10.0, height.ceil() + 10.0);
    let header = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let mut fixed = match (
        out.find("<svg "),
        out.find("xmlns=\"http://www.w3.org/2000/svg\">"),
    ) {
        (Some(a), Some(b)) if a < b => {
            let end = b + "xmlns=\"http://www.w3.org/2000/svg\">".len();
            format!("{}\n{header}{}", &out[..a], &out[end..])
        }
        _ => out,
    };
    fixed.push('\n');
    fixed
}
