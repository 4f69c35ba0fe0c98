//! The `kroxide` command line, and the command line of a graph written in Rust.
//!
//! This crate is the only one that knows about argument parsing (clap),
//! terminals (progress, colours) and exit codes: it parses arguments, calls
//! the library ([`kroxide`]'s semantics and engines) and renders what comes
//! back. A program that defines its graph in Rust gets the same commands by
//! calling [`graph_main`] from its `main`:
//!
//! ```no_run
//! use kroxide::prelude::*;
//!
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct AppSpec { pub name: String }
//! #[derive(Schema, Serialize, Deserialize, Clone)]
//! pub struct AppStatus { pub ready: bool }
//!
//! fn main() -> std::process::ExitCode {
//!     let app = ResourceGraph::<AppSpec, AppStatus>::new("app", "v1alpha1", "App").build(|g, spec| {
//!         let web = g.add(Deployment::new(&spec.name, "nginx"));
//!         AppStatusExpr { ready: web.status().ready_replicas().eq(web.spec().replicas()) }
//!     });
//!     // `my-app render`, `my-app plan --instance dev.yaml`, `my-app deploy ...`
//!     kroxide_cli::graph_main(&app)
//! }
//! ```
//!
//! Errors found in user files are rendered with miette (file, line, the
//! offending text underlined); exit code 1 means invalid input, 2 a usage
//! error (clap's convention), 0 success.

mod cluster;
mod explain;
mod graph;
mod history;
mod progress;
mod schema;
mod test;

pub mod graphtest;

pub use cluster::{
    ClusterArgs, DeleteArgs, DeployArgs, DiffArgs, DriftArgs, InstancesArgs, StatusArgs,
};
pub use explain::ExplainArgs;
pub use graph::GraphFormat;
pub use history::{HistoryArgs, RollbackArgs};
pub use schema::{instance_json_schema, to_json_schema};
pub use test::TestArgs;

use clap::{Parser, Subcommand, ValueEnum};
use kroxide_model::{load_file_typed, LoadError, LoadedRgd, SourceFile};
use kroxide_semantics::crd::instance_crd;
use kroxide_semantics::validate::{load_warnings, validate, Diagnostic, Severity, Validation};
use miette::{LabeledSpan, NamedSource, SourceSpan};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Typed Kubernetes resource graphs: validate, render and deploy KRO ResourceGraphDefinitions.
#[derive(Parser, Debug)]
#[command(name = "kroxide", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The KRO the graphs are for: v0.9.3 (the default) or main (KRO's main branch: schema shortNames/categories, deepMerge(), ordered deletion). Default from KROXIDE_KRO_VERSION.
    #[arg(long, global = true, value_name = "VERSION")]
    pub kro_version: Option<kroxide_model::KroVersion>,
}

/// The KRO version commands target in this process (`--kro-version`, else
/// `KROXIDE_KRO_VERSION`, else v0.9.3), as [`KroVersion::ALL`](kroxide_model::KroVersion::ALL)'s index.
static KRO_VERSION: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The KRO version the command line targets (see [`Cli::kro_version`]).
pub fn kro_version() -> kroxide_model::KroVersion {
    kroxide_model::KroVersion::ALL[KRO_VERSION.load(std::sync::atomic::Ordering::Relaxed)]
}

/// Sets what [`kro_version`] returns: `given`, else `KROXIDE_KRO_VERSION`,
/// else v0.9.3. A bad environment value is a usage error.
fn set_kro_version(given: Option<kroxide_model::KroVersion>) -> Result<(), ExitCode> {
    let v = match given {
        Some(v) => v,
        None => match std::env::var("KROXIDE_KRO_VERSION") {
            Ok(s) if !s.is_empty() => s.parse().map_err(|e| {
                eprintln!("error: KROXIDE_KRO_VERSION: {e}");
                ExitCode::from(2)
            })?,
            _ => kroxide_model::KroVersion::default(),
        },
    };
    let i = kroxide_model::KroVersion::ALL
        .iter()
        .position(|k| *k == v)
        .unwrap_or(0);
    KRO_VERSION.store(i, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check RGD files offline with KRO's rules (no cluster needed).
    Validate {
        /// RGD YAML files (each may hold several documents).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also print each graph's apply order and waves.
        #[arg(long)]
        order: bool,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Print the CustomResourceDefinition KRO would create for instances.
    Crd {
        /// An RGD YAML file.
        file: PathBuf,
        /// YAML (one document per RGD) or JSON (one object, or a list for several RGDs).
        #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
        output: Format,
    },
    /// Show what a deploy would apply, wave by wave, and the status KRO would report. No cluster.
    Plan {
        /// RGD YAML files or directories: the instance's RGD and any RGD
        /// whose instances it creates (KRO's chained RGDs), planned within it.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        args: PlanArgs,
    },
    /// Deploy an instance: directly (validate, dry-run, apply wave by wave, wait, report status) or through KRO with --mode kro.
    Deploy {
        /// RGD YAML files or directories: the instance's RGD and any RGD
        /// whose instances it creates (KRO's chained RGDs; with --mode kro
        /// they are applied first, each waited on until Active).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        args: DeployArgs,
    },
    /// Show what a deploy would change in the cluster (server-side dry run), as a unified diff.
    Diff {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: DiffArgs,
    },
    /// Recompute a deployed instance's status from the live objects.
    Status {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: StatusArgs,
    },
    /// List the fields of a deployed instance's objects that another field manager changed since kroxide applied them (from managedFields; no dry run). Exit 0 none, 1 some.
    Drift {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: DriftArgs,
    },
    /// Why a deployed instance is (not) ready: its resources wave by wave, each with its live state, its readiness rule, what it waits on and its newest events; pending status fields. Exit 0 ready, 1 not.
    Explain {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: ExplainArgs,
    },
    /// List a deployed instance's revisions (one line each, its number first): when, by whom, what changed. KRO mode: the graph's GraphRevisions.
    History {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: HistoryArgs,
    },
    /// Deploy a revision of an instance again (its spec and graph), recorded as a new revision. KRO mode: re-apply a GraphRevision's graph.
    Rollback {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: RollbackArgs,
    },
    /// Delete a deployed instance: its objects in reverse waves, then its inventory.
    Delete {
        /// RGD YAML files or directories: the instance's RGD (the one no
        /// other uses) and those whose instances it creates, which direct
        /// mode deletes first.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        args: DeleteArgs,
    },
    /// List the deployed instances of a graph and their state.
    Instances {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: InstancesArgs,
    },
    /// Draw the graph: its resources by apply wave, an arrow from each to those it reads, labelled with the paths read.
    Graph {
        /// An RGD YAML file.
        file: PathBuf,
        #[command(flatten)]
        args: GraphArgs,
    },
    /// Print the JSON Schema of the graph's instances, for editors (yaml-language-server).
    Schema {
        /// An RGD YAML file.
        file: PathBuf,
    },
    /// Run the graph tests (`*.test.yaml`) under DIRs offline: planned manifests, status, errors, snapshots. Exit 0 all pass, 1 a test failed, 2 bad test files.
    Test {
        #[command(flatten)]
        args: TestArgs,
    },
    /// Print a shell completion script (e.g. `kroxide completions bash > ~/.local/share/bash-completion/completions/kroxide`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `kroxide man | man -l -`.
    Man {
        /// Write a page per command (kroxide.1, kroxide-validate.1, ...) into this directory instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Options of `graph`.
#[derive(clap::Args, Debug, Clone)]
pub struct GraphArgs {
    /// Output format: Mermaid (GitHub draws it), Graphviz DOT, or SVG (drawn by kroxide, no Graphviz needed).
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// Also draw the instance (`schema`) and the spec fields each resource reads.
    #[arg(long)]
    pub schema: bool,
}

/// Options of `plan`.
#[derive(clap::Args, Debug, Clone)]
pub struct PlanArgs {
    /// The instance (YAML or JSON): a full object or just its spec.
    #[arg(long, short)]
    pub instance: PathBuf,
    /// Namespace of the instance when the file does not name one.
    #[arg(long, short, default_value = "default")]
    pub namespace: String,
    /// Fill in what controllers would set (ready replicas, load balancer addresses...).
    #[arg(long)]
    pub assume_ready: bool,
    /// Live objects, or `id: {status: ...}` maps, to evaluate against.
    #[arg(long)]
    pub observed: Option<PathBuf>,
    /// Show Secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Yaml,
}

/// Commands for a graph written in Rust (see [`graph_main`]).
#[derive(Parser, Debug)]
#[command(about = "Commands for this kroxide resource graph", long_about = None)]
pub struct GraphCli {
    #[command(subcommand)]
    pub command: GraphCommand,
}

#[derive(Subcommand, Debug)]
pub enum GraphCommand {
    /// Print the ResourceGraphDefinition (checked by the offline validator).
    Render {
        #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
        output: Format,
    },
    /// Check the graph; print warnings (e.g. Services that select no pods).
    Validate,
    /// Print the CustomResourceDefinition KRO would create for instances.
    Crd {
        #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
        output: Format,
    },
    /// Show what a deploy would apply and the status KRO would report. No cluster.
    Plan {
        #[command(flatten)]
        args: PlanArgs,
    },
    /// Deploy (directly, or through KRO with --mode kro).
    Deploy {
        #[command(flatten)]
        args: DeployArgs,
    },
    /// Show what a deploy would change in the cluster, as a unified diff.
    Diff {
        #[command(flatten)]
        args: DiffArgs,
    },
    /// Recompute a deployed instance's status from the live objects.
    Status {
        #[command(flatten)]
        args: StatusArgs,
    },
    /// List the fields of the instance's objects that another field manager changed.
    Drift {
        #[command(flatten)]
        args: DriftArgs,
    },
    /// Why a deployed instance is (not) ready.
    Explain {
        #[command(flatten)]
        args: ExplainArgs,
    },
    /// List a deployed instance's revisions.
    History {
        #[command(flatten)]
        args: HistoryArgs,
    },
    /// Deploy a revision of an instance again.
    Rollback {
        #[command(flatten)]
        args: RollbackArgs,
    },
    /// Delete a deployed instance.
    Delete {
        #[command(flatten)]
        args: DeleteArgs,
    },
    /// List the deployed instances of this graph.
    Instances {
        #[command(flatten)]
        args: InstancesArgs,
    },
    /// Draw the graph (Mermaid, DOT or SVG).
    Graph {
        #[command(flatten)]
        args: GraphArgs,
    },
    /// Print the JSON Schema of instances, for editors.
    Schema,
    /// Run graph tests (`*.test.yaml`) offline; tests without `rgd:` test this graph.
    Test {
        #[command(flatten)]
        args: TestArgs,
    },
}

/// How a graph is deployed (`--mode`). The library's
/// [`kroxide::Mode`] derives no clap traits; this is its face on the
/// command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// kroxide's engine applies the resources from this process.
    Direct,
    /// A KRO controller in the cluster reconciles the graph.
    Kro,
}

impl From<Mode> for kroxide::Mode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Direct => kroxide::Mode::Direct,
            Mode::Kro => kroxide::Mode::Kro,
        }
    }
}

/// Document formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

/// The `main` of a program that defines a graph in Rust:
/// `cargo run --example microservices -- render`.
pub fn graph_main<S: kroxide_dsl::Schema, St: kroxide_dsl::Schema>(
    graph: &kroxide_dsl::ResourceGraph<S, St>,
) -> ExitCode {
    install_report_hook();
    let cli = GraphCli::parse();
    run_graph(graph, cli.command)
}

/// Runs one graph command.
pub fn run_graph<S: kroxide_dsl::Schema, St: kroxide_dsl::Schema>(
    graph: &kroxide_dsl::ResourceGraph<S, St>,
    cmd: GraphCommand,
) -> ExitCode {
    for l in graph.lints() {
        eprintln!("{l}");
    }
    let rgds = match graph.to_rgds() {
        Ok(r) => r,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(1);
        }
    };
    let rgd = rgds.last().expect("a graph renders its own RGD").clone();
    // A graph that nests others (KRO's chained RGDs): their RGDs render
    // with it, and plan and deploy go through them.
    let set = match rgds.len() {
        1 => None,
        _ => match kroxide_semantics::chain::RgdSet::new(&rgds) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        },
    };
    match cmd {
        GraphCommand::Render { output } if set.is_some() => match output {
            // One YAML stream of every RGD, those it nests first.
            Format::Yaml => match kroxide_model::to_yaml_multi(&rgds) {
                Ok(y) => {
                    print!("{y}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            },
            Format::Json => print_doc(&rgds, output),
        },
        GraphCommand::Render { output } => print_doc(&rgd, output),
        GraphCommand::Plan { args } if set.is_some() => {
            let set = set.as_ref().expect("checked");
            let (instance, opts) = match plan_inputs(&args) {
                Ok(i) => i,
                Err(c) => return c,
            };
            match set.plan(&rgd, &instance, &opts) {
                Ok(p) => print_plan(p, &args),
                Err(e) => {
                    let msg = redact_inputs(&rgd, &instance, args.show_secrets, &e.to_string());
                    eprintln!("error: {}: {msg}", args.instance.display());
                    ExitCode::from(1)
                }
            }
        }
        GraphCommand::Deploy { args } if set.is_some() => {
            cluster::deploy_nested(&rgd, set.as_ref().expect("checked"), &args)
        }
        GraphCommand::Validate => {
            let v = match &set {
                Some(set) => set.validate(&rgd),
                None => validate(&rgd),
            };
            let notes = v
                .diagnostics
                .iter()
                .filter(|d| d.severity != Severity::Error);
            for n in notes {
                eprintln!("{n}");
            }
            println!(
                "resource graph `{}` is valid ({} resources)",
                graph.name(),
                rgd.spec.resources.len()
            );
            if let (Some(order), Some(g)) = (&v.order, &v.graph) {
                println!("  order: {}", order.join(", "));
                if let Ok(waves) = g.waves() {
                    for (i, w) in waves.iter().enumerate() {
                        println!("  wave {}: {}", i + 1, w.join(", "));
                    }
                }
            }
            ExitCode::SUCCESS
        }
        GraphCommand::Plan { args } => plan_cmd(&rgd, None, &args),
        GraphCommand::Deploy { args } => cluster::deploy_cmd(&rgd, &args),
        GraphCommand::Diff { args } => cluster::diff_cmd(&rgd, &args),
        GraphCommand::Status { args } => cluster::status_cmd(&rgd, &args),
        GraphCommand::Drift { args } => cluster::drift_cmd(&rgd, &args),
        GraphCommand::Explain { args } => explain::explain_cmd(&rgd, &args),
        GraphCommand::History { args } => history::history_cmd(&rgd, &args),
        GraphCommand::Rollback { args } => history::rollback_cmd(&rgd, &args),
        GraphCommand::Delete { args } => cluster::delete_cmd(&rgd, &args),
        GraphCommand::Instances { args } => cluster::instances_cmd(&rgd, &args),
        GraphCommand::Graph { args } => graph_cmd(&rgd, &validate(&rgd), &args),
        GraphCommand::Schema => schema_cmd(&rgd, None),
        GraphCommand::Test { args } => test::test_cmd(&args, Some(&rgd)),
        GraphCommand::Crd { output } => match instance_crd(&rgd) {
            Ok(c) => print_doc(&c, output),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn install_report_hook() {
    // Long messages carry paths that must stay greppable: no wrapping.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
}

/// Runs the CLI on the process arguments.
pub fn main() -> ExitCode {
    install_report_hook();
    let cli = Cli::parse();
    run(cli)
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> ExitCode {
    if let Err(code) = set_kro_version(cli.kro_version) {
        return code;
    }
    match cli.command {
        Command::Validate {
            files,
            order,
            output,
        } => validate_cmd(&files, order, output),
        Command::Crd { file, output } => crd_cmd(&file, output),
        Command::Deploy { files, args } => match files.as_slice() {
            [file] if !file.is_dir() => match load_valid(file, "deploy") {
                Ok(d) => cluster::deploy_cmd(&d.rgd, &args),
                Err(code) => code,
            },
            _ => match load_all_validated(&files) {
                Ok(docs) => cluster::deploy_set_cmd(&docs, &args),
                Err(code) => code,
            },
        },
        Command::Diff { file, args } => match load_valid(&file, "diff") {
            Ok(d) => cluster::diff_cmd(&d.rgd, &args),
            Err(code) => code,
        },
        Command::Status { file, args } => match load_valid(&file, "status") {
            Ok(d) => cluster::status_cmd(&d.rgd, &args),
            Err(code) => code,
        },
        Command::Drift { file, args } => match load_valid(&file, "drift") {
            Ok(d) => cluster::drift_cmd(&d.rgd, &args),
            Err(code) => code,
        },
        Command::Explain { file, args } => match load_valid(&file, "explain") {
            Ok(d) => explain::explain_cmd(&d.rgd, &args),
            Err(code) => code,
        },
        Command::History { file, args } => match load_valid(&file, "history") {
            Ok(d) => history::history_cmd(&d.rgd, &args),
            Err(code) => code,
        },
        Command::Rollback { file, args } => match load_valid(&file, "rollback") {
            Ok(d) => history::rollback_cmd(&d.rgd, &args),
            Err(code) => code,
        },
        Command::Delete { files, args } => match files.as_slice() {
            [file] if !file.is_dir() => match load_valid(file, "delete") {
                Ok(d) => cluster::delete_cmd(&d.rgd, &args),
                Err(code) => code,
            },
            _ => match load_all_validated(&files) {
                Ok(docs) => cluster::delete_set_cmd(&docs, &args),
                Err(code) => code,
            },
        },
        Command::Instances { file, args } => match load_valid(&file, "instances") {
            Ok(d) => cluster::instances_cmd(&d.rgd, &args),
            Err(code) => code,
        },
        Command::Plan { files, args } => match files.as_slice() {
            [file] if !file.is_dir() => match load_validated(file, "plan") {
                Ok((d, v)) => plan_cmd(&until_exit(d).rgd, Some(v), &args),
                Err(code) => code,
            },
            _ => plan_set_cmd(&files, &args),
        },
        Command::Graph { file, args } => match load_validated(&file, "graph") {
            Ok((d, v)) => graph_cmd(&d.rgd, &v, &args),
            Err(code) => code,
        },
        Command::Schema { file } => match load_validated(&file, "schema") {
            Ok((d, _)) => schema_cmd(&d.rgd, Some(&d.source)),
            Err(code) => code,
        },
        Command::Test { args } => test::test_cmd(&args, None),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Generated in memory: clap_complete panics when a write fails
            // (`kroxide completions bash | head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "kroxide", &mut script);
            let mut out = std::io::stdout().lock();
            finish_output(out.write_all(&script).and_then(|()| out.flush()))
        }
        Command::Man { dir } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match dir {
                Some(dir) => match std::fs::create_dir_all(&dir)
                    .and_then(|()| clap_mangen::generate_to(cmd, &dir))
                {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!(
                            "error: {}: cannot write the manual pages: {e}",
                            dir.display()
                        );
                        ExitCode::from(1)
                    }
                },
                None => {
                    let mut out = std::io::stdout().lock();
                    let written = clap_mangen::Man::new(cmd).render(&mut out);
                    finish_output(written.and_then(|()| out.flush()))
                }
            }
        }
    }
}

/// Exit code after writing to stdout.
fn finish_output(written: std::io::Result<()>) -> ExitCode {
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Draws `rgd`, validated as `v`.
fn graph_cmd(
    rgd: &kroxide_model::ResourceGraphDefinition,
    v: &Validation,
    args: &GraphArgs,
) -> ExitCode {
    let m = match graph::model(rgd, v, args.schema) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let text = match args.format {
        GraphFormat::Mermaid => graph::mermaid(&m),
        GraphFormat::Dot => graph::dot(&m),
        GraphFormat::Svg => graph::svg(&m),
    };
    let mut out = std::io::stdout().lock();
    finish_output(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// A SimpleSchema error as a diagnostic placed under `spec.schema`.
fn simpleschema_diagnostic(e: &kroxide_semantics::simpleschema::SchemaError) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        rule: "simpleschema",
        message: format!("invalid SimpleSchema: {}", e.message),
        resource: None,
        path: kroxide_model::FieldPath::root()
            .key("spec")
            .key("schema")
            .join(&e.path),
        help: None,
    }
}

/// Prints the JSON Schema of `rgd`'s instances (`source`, when the graph
/// was read from a file, places SimpleSchema errors in it).
fn schema_cmd(
    rgd: &kroxide_model::ResourceGraphDefinition,
    source: Option<&SourceFile>,
) -> ExitCode {
    match schema::instance_json_schema(rgd) {
        Ok(s) => print_doc(&s, Format::Json),
        Err(e) => {
            let d = simpleschema_diagnostic(&e);
            match source {
                Some(src) => report_diagnostic(&d, src),
                None => eprintln!("error: {}", d.message),
            }
            ExitCode::from(1)
        }
    }
}

/// `value`, never dropped: a large graph is many small allocations, and
/// freeing them one by one took a tenth of a command's time just before
/// the process exits (which hands all its memory back at once).
fn until_exit<T>(value: T) -> std::mem::ManuallyDrop<T> {
    std::mem::ManuallyDrop::new(value)
}

/// The one RGD of `file`, checked by the offline validator: errors are
/// reported with file, line and column (before anything reaches a cluster).
fn load_valid(file: &PathBuf, verb: &str) -> Result<LoadedRgd, ExitCode> {
    load_validated(file, verb).map(|(d, _)| d)
}

/// [`load_valid`], with the validation (which planning reuses).
fn load_validated(file: &PathBuf, verb: &str) -> Result<(LoadedRgd, Validation), ExitCode> {
    let d = load_one(file, verb)?;
    let v = validate(&d.rgd);
    let errors: Vec<&Diagnostic> = v
        .diagnostics
        .iter()
        .filter(|x| x.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        return Ok((d, v));
    }
    for e in errors {
        report_diagnostic(e, &d.source);
    }
    Err(ExitCode::from(1))
}

/// The one RGD of `file`, for commands that act on a single graph.
fn load_one(file: &PathBuf, verb: &str) -> Result<LoadedRgd, ExitCode> {
    let mut docs = load_or_report(file).ok_or(ExitCode::from(1))?;
    if docs.len() != 1 {
        eprintln!(
            "error: {} holds {} ResourceGraphDefinitions; {verb} needs exactly one",
            file.display(),
            docs.len()
        );
        return Err(ExitCode::from(2));
    }
    let d = docs.remove(0);
    for w in load_warnings(&d.source) {
        report_diagnostic(&w, &d.source);
    }
    Ok(d)
}

fn load_or_report(file: &PathBuf) -> Option<Vec<LoadedRgd>> {
    // No command reads the document as plain JSON, only the typed graph.
    match load_file_typed(file) {
        Ok(mut d) => {
            for doc in &mut d {
                doc.rgd.kro_version = kro_version();
            }
            Some(d)
        }
        Err(e) => {
            report_load_error(&e);
            None
        }
    }
}

fn validate_cmd(files: &[PathBuf], show_order: bool, output: Output) -> ExitCode {
    let mut failed = false;
    let mut json_out = Vec::new();
    let Ok(paths) = expand_paths(files) else {
        return ExitCode::from(1);
    };
    let mut docs = Vec::new();
    for f in &paths {
        match load_or_report(f) {
            Some(d) => docs.extend(d),
            None => failed = true,
        }
    }
    let docs = until_exit(docs);
    // Several RGDs are validated together: a resource that is another's
    // instance is checked against that RGD's schema (KRO's chained RGDs).
    let set = match rgd_set(&docs) {
        Ok(s) => s,
        Err(()) => {
            failed = true;
            None
        }
    };
    {
        for d in docs.iter() {
            let mut v = until_exit(match &set {
                Some(set) => set.validate(&d.rgd),
                None => validate(&d.rgd),
            });
            v.diagnostics.splice(0..0, load_warnings(&d.source));
            let errors = v.errors().count();
            failed |= errors > 0;
            if output != Output::Text {
                json_out.push(serde_json::json!({
                    "file": d.source.name,
                    "document": d.document,
                    "name": d.rgd.name(),
                    "valid": errors == 0,
                    "order": v.order,
                    "diagnostics": v.diagnostics.iter().map(|x| diagnostic_json(x, &d.source)).collect::<Vec<_>>(),
                }));
                continue;
            }
            for diag in &v.diagnostics {
                report_diagnostic(diag, &d.source);
            }
            let name = d.rgd.name();
            if errors == 0 {
                println!(
                    "{}: ResourceGraphDefinition `{name}` is valid ({} resources)",
                    d.source.name,
                    d.rgd.spec.resources.len()
                );
            } else {
                eprintln!(
                    "{}: ResourceGraphDefinition `{name}`: {errors} error{}",
                    d.source.name,
                    if errors == 1 { "" } else { "s" }
                );
            }
            if show_order {
                if let (Some(order), Some(g)) = (&v.order, &v.graph) {
                    println!("  order: {}", order.join(", "));
                    if let Ok(waves) = g.waves() {
                        for (i, w) in waves.iter().enumerate() {
                            println!("  wave {}: {}", i + 1, w.join(", "));
                        }
                    }
                }
            }
        }
    }
    match output {
        Output::Json => {
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::to_string_pretty(&json_out).unwrap_or_default()
            );
        }
        Output::Yaml => {
            print_doc(&json_out, Format::Yaml);
        }
        Output::Text => {}
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The files of `paths`, a directory standing for its `*.yaml`/`*.yml`
/// files that hold a ResourceGraphDefinition (sorted; others, such as
/// instances kept beside the RGDs, are skipped with a note).
fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ()> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let entries = match std::fs::read_dir(p) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return Err(());
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.is_file()
                    && matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
            })
            .collect();
        files.sort();
        let before = out.len();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if text.contains("ResourceGraphDefinition") {
                out.push(f);
            } else {
                eprintln!(
                    "note: {}: skipped, it holds no ResourceGraphDefinition",
                    f.display()
                );
            }
        }
        if out.len() == before {
            eprintln!(
                "error: {}: no ResourceGraphDefinition in its *.yaml or *.yml files",
                p.display()
            );
            return Err(());
        }
    }
    Ok(out)
}

/// The set of `docs` when there are several (None for one RGD, which needs
/// no other's kinds); what keeps them from being used together is reported.
fn rgd_set(docs: &[LoadedRgd]) -> Result<Option<kroxide_semantics::chain::RgdSet<'_>>, ()> {
    if docs.len() < 2 {
        return Ok(None);
    }
    match kroxide_semantics::chain::RgdSet::new(docs.iter().map(|d| &d.rgd)) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(())
        }
    }
}

/// The RGDs of `files` (and directories), each checked by the offline
/// validator with the others' instance kinds known; errors are reported
/// with file, line and column.
fn load_all_validated(files: &[PathBuf]) -> Result<Vec<LoadedRgd>, ExitCode> {
    let paths = expand_paths(files).map_err(|()| ExitCode::from(1))?;
    let mut docs = Vec::new();
    for f in &paths {
        docs.extend(load_or_report(f).ok_or(ExitCode::from(1))?);
    }
    for d in &docs {
        for w in load_warnings(&d.source) {
            report_diagnostic(&w, &d.source);
        }
    }
    let set = rgd_set(&docs).map_err(|()| ExitCode::from(1))?;
    let mut failed = false;
    for d in &docs {
        let v = match &set {
            Some(set) => set.validate(&d.rgd),
            None => validate(&d.rgd),
        };
        for e in v.errors() {
            report_diagnostic(e, &d.source);
            failed = true;
        }
    }
    drop(set);
    if failed {
        Err(ExitCode::from(1))
    } else {
        Ok(docs)
    }
}

pub(crate) fn read_documents(path: &PathBuf) -> Result<Vec<serde_json::Value>, ExitCode> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", path.display());
            return Err(ExitCode::from(1));
        }
    };
    match kroxide_model::load_documents(&path.display().to_string(), &text) {
        Ok(d) => Ok(d.into_iter().map(|(v, _)| v).collect()),
        Err(e) => {
            report_load_error(&e);
            Err(ExitCode::from(1))
        }
    }
}

/// Plans `rgd` (of which `validation` is the validation, when made already).
fn plan_cmd(
    rgd: &kroxide_model::ResourceGraphDefinition,
    validation: Option<Validation>,
    args: &PlanArgs,
) -> ExitCode {
    use kroxide_semantics::plan::Planner;
    let (instance, opts) = match plan_inputs(args) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let planner = match validation {
        Some(v) => Planner::from_validation(rgd, v),
        None => Planner::new(rgd),
    };
    let p = match planner.and_then(|p| p.plan(&instance, &opts)) {
        Ok(p) => p,
        Err(e) => {
            let msg = redact_inputs(rgd, &instance, args.show_secrets, &e.to_string());
            eprintln!("error: {}: {msg}", args.instance.display());
            return ExitCode::from(1);
        }
    };
    print_plan(p, args)
}

/// The instance and the plan options `args` name.
fn plan_inputs(
    args: &PlanArgs,
) -> Result<(serde_json::Value, kroxide_semantics::plan::PlanOptions), ExitCode> {
    use kroxide_semantics::plan::{Observed, PlanOptions};
    let instance = match read_documents(&args.instance) {
        Ok(mut d) if d.len() == 1 => d.remove(0),
        Ok(d) => {
            eprintln!(
                "error: {}: expected one instance document, found {}",
                args.instance.display(),
                d.len()
            );
            return Err(ExitCode::from(1));
        }
        Err(c) => return Err(c),
    };
    let observed = match &args.observed {
        Some(p) => Observed::from_documents(read_documents(p)?),
        None => Observed::default(),
    };
    let opts = PlanOptions {
        namespace: args.namespace.clone(),
        assume_ready: args.assume_ready,
        observed,
    };
    Ok((instance, opts))
}

/// Prints `p` (Secret values masked unless asked); fails when a resource
/// or a status expression of any graph in it failed.
fn print_plan(mut p: kroxide_semantics::plan::Plan, args: &PlanArgs) -> ExitCode {
    use kroxide_semantics::plan::{Action, Plan};
    fn failed(p: &Plan) -> bool {
        !p.errors.is_empty()
            || p.resources
                .iter()
                .any(|r| r.action == Action::Fail || r.expanded.iter().any(failed))
    }
    if !args.show_secrets {
        redact_plan(&mut p);
    }
    let p = until_exit(p);
    if print_doc(&*p, args.output) != ExitCode::SUCCESS {
        return ExitCode::from(1);
    }
    if failed(&p) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `plan` of several RGDs: the instance's kind picks its RGD; resources
/// that are instances of the others are planned with those, under them.
fn plan_set_cmd(files: &[PathBuf], args: &PlanArgs) -> ExitCode {
    let docs = match load_all_validated(files) {
        Ok(d) => until_exit(d),
        Err(c) => return c,
    };
    let (instance, opts) = match plan_inputs(args) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let set = match kroxide_semantics::chain::RgdSet::new(docs.iter().map(|d| &d.rgd)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let result = set
        .for_instance(&instance)
        .and_then(|top| Ok((top, set.plan(top, &instance, &opts)?)));
    match result {
        Ok((_, p)) => print_plan(p, args),
        Err(e) => {
            let top = set.for_instance(&instance).unwrap_or(set.rgds()[0]);
            let msg = redact_inputs(top, &instance, args.show_secrets, &e.to_string());
            eprintln!("error: {}: {msg}", args.instance.display());
            ExitCode::from(1)
        }
    }
}

/// Masks every Secret value in `p` as `plan` prints it (Secrets' `data`
/// and `stringData`, and their values wherever else they occur); returns
/// the redactor, which knows those values, for other text about the plan.
pub fn redact_plan(p: &mut kroxide_semantics::plan::Plan) -> kroxide_semantics::redact::Redactor {
    use kroxide_semantics::plan::Plan;
    // Learned from every level first: a value an outer graph hands to an
    // inner instance's spec is a secret when the inner graph makes a
    // Secret of it, and the reverse.
    fn objects<'p>(p: &'p Plan, out: &mut Vec<&'p serde_json::Value>) {
        for r in &p.resources {
            out.extend(r.objects.iter());
            for e in &r.expanded {
                objects(e, out);
            }
        }
    }
    fn redact(p: &mut Plan, redactor: &kroxide_semantics::redact::Redactor) {
        for r in &mut p.resources {
            for o in &mut r.objects {
                mask_secret(o);
                redactor.redact_value(o);
            }
            if let Some(reason) = &r.reason {
                r.reason = Some(redactor.redact_str(reason));
            }
            for e in &mut r.expanded {
                redact(e, redactor);
            }
        }
        redactor.redact_value(&mut p.instance);
        redactor.redact_value(&mut p.status);
        for v in p.pending.values_mut().chain(p.errors.values_mut()) {
            *v = redactor.redact_str(v);
        }
    }
    let mut redactor = kroxide_semantics::redact::Redactor::default();
    let mut all = Vec::new();
    objects(p, &mut all);
    redactor.learn(all);
    redact(p, &redactor);
    redactor
}

/// `message` with the instance values that feed Secrets masked: an error
/// can come before any Secret is rendered, and may echo such a value.
pub(crate) fn redact_inputs(
    rgd: &kroxide_model::ResourceGraphDefinition,
    instance: &serde_json::Value,
    show_secrets: bool,
    message: &str,
) -> String {
    if show_secrets {
        return message.to_string();
    }
    let mut redactor = kroxide_semantics::redact::Redactor::default();
    redactor.learn_secret_inputs(rgd, instance);
    redactor.redact_str(message)
}

/// Prints a document as YAML or JSON on stdout.
pub(crate) fn print_doc<T: serde::Serialize>(doc: &T, format: Format) -> ExitCode {
    let written = match format {
        Format::Yaml => {
            // Streamed: a large plan's text is never held whole.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            kroxide_model::write_yaml(&mut out, doc)
                .map_err(|e| e.to_string())
                .and_then(|()| out.flush().map_err(|e| e.to_string()))
        }
        Format::Json => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, doc)
                .map_err(|e| e.to_string())
                .and_then(|()| writeln!(out).map_err(|e| e.to_string()))
                .and_then(|()| out.flush().map_err(|e| e.to_string()))
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Replaces the values of a Secret's `data` and `stringData`.
pub fn mask_secret(o: &mut serde_json::Value) {
    if o.get("kind").and_then(serde_json::Value::as_str) != Some("Secret") {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(serde_json::Value::Object(m)) = o.get_mut(field) {
            for v in m.values_mut() {
                *v = serde_json::Value::String(kroxide_semantics::redact::MASK.into());
            }
        }
    }
}

fn crd_cmd(file: &PathBuf, output: Format) -> ExitCode {
    let Some(docs) = load_or_report(file) else {
        return ExitCode::from(1);
    };
    let mut out = Vec::new();
    for d in docs {
        match instance_crd(&d.rgd) {
            Ok(c) => out.push(c),
            Err(e) => {
                report_diagnostic(&simpleschema_diagnostic(&e), &d.source);
                return ExitCode::from(1);
            }
        }
    }
    if output == Format::Json {
        return match out.len() {
            1 => print_doc(&out[0], output),
            _ => print_doc(&out, output),
        };
    }
    match kroxide_model::to_yaml_multi(&out) {
        Ok(y) => {
            print!("{y}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write YAML: {e}");
            ExitCode::from(1)
        }
    }
}

fn diagnostic_json(d: &Diagnostic, src: &SourceFile) -> serde_json::Value {
    let loc = src.locate(&d.path);
    serde_json::json!({
        "severity": d.severity.to_string(),
        "rule": d.rule,
        "message": d.message,
        "resource": d.resource,
        "path": d.path.to_string(),
        "line": loc.map(|l| l.line),
        "column": loc.map(|l| l.column),
        "help": d.help,
    })
}

#[derive(Debug)]
struct Rendered {
    message: String,
    severity: miette::Severity,
    help: Option<String>,
    src: NamedSource<String>,
    label: Option<LabeledSpan>,
}

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.label
            .as_ref()
            .map(|_| &self.src as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.label
            .clone()
            .map(|l| Box::new(std::iter::once(l)) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
}

fn report_diagnostic(d: &Diagnostic, src: &SourceFile) {
    let loc = src.locate(&d.path);
    let place = match loc {
        Some(l) => format!("{}:{}:{}", src.name, l.line, l.column),
        None => src.name.clone(),
    };
    let what = match (&d.resource, d.path.is_root()) {
        (Some(r), false) => format!(" [resource `{r}`, {}]", d.path),
        (Some(r), true) => format!(" [resource `{r}`]"),
        (None, false) => format!(" [{}]", d.path),
        (None, true) => String::new(),
    };
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Note => miette::Severity::Advice,
    };
    let r = Rendered {
        message: format!("{place}: {}{what}", d.message),
        severity,
        help: d.help.clone(),
        src: NamedSource::new(src.name.clone(), src.text.to_string()),
        label: loc.map(|l| {
            LabeledSpan::new_with_span(
                Some(d.rule.to_string()),
                SourceSpan::new(l.offset.into(), l.len),
            )
        }),
    };
    eprintln!("{:?}", miette::Report::new(r));
}

fn report_load_error(e: &LoadError) {
    let (text, loc) = match e {
        LoadError::Syntax { .. } | LoadError::Shape { .. } => {
            (std::fs::read_to_string(e.file()).ok(), e.location())
        }
        _ => (None, None),
    };
    let r = Rendered {
        message: e.to_string(),
        severity: miette::Severity::Error,
        help: None,
        src: NamedSource::new(e.file(), text.clone().unwrap_or_default()),
        label: match (text, loc) {
            (Some(_), Some(l)) => Some(LabeledSpan::new_with_span(
                None,
                SourceSpan::new(l.offset.into(), l.len),
            )),
            _ => None,
        },
    };
    eprintln!("{:?}", miette::Report::new(r));
}
