//! The commands that talk to a cluster: `deploy`, `diff`, `status`,
//! `delete` and `instances`, in direct mode (kroxide's engine) or KRO mode.
//! Exit codes: 0 success, 1 failure, 2 usage; `diff` follows `kubectl diff`
//! (0 no differences, 1 differences, 2 error); 130 after Ctrl-C.

use super::progress::{Display, Style};
use super::{print_doc, read_documents, redact_inputs, Format, Mode};
use kroxide_engine::requests::{counted, RequestCount};
use kroxide_engine::{DeployOptions, DirectEngine};
use kroxide_model::ResourceGraphDefinition;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Where the cluster is and how to reach it.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Namespace of the instance and its namespaced resources (default: the
    /// instance file's metadata.namespace, else the kubeconfig context's, else `default`).
    #[arg(long, short)]
    pub namespace: Option<String>,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// `direct` works from here; `kro` hands the graph to a KRO controller.
    #[arg(long, value_enum, default_value_t = Mode::Direct)]
    pub mode: Mode,
    /// How long one resource may take to become ready (or to go away): 90s, 5m, 1m30s, 500ms, or seconds.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Which instance: its file, or just its name.
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct WhichInstance {
    /// The instance file it was deployed from.
    #[arg(long, short)]
    pub instance: Option<PathBuf>,
    /// The instance's name (metadata.name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Options of `deploy`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeployArgs {
    /// The instance (YAML or JSON): a full object or just its spec.
    #[arg(long, short)]
    pub instance: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Take over fields that other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
    /// How long the whole deploy may take: 90s, 5m, 1m30s, 500ms, or seconds (default: no limit beyond --timeout per resource).
    #[arg(long, value_parser = parse_duration)]
    pub overall_timeout: Option<Duration>,
    /// Create the namespace if it does not exist (KRO mode always creates it).
    #[arg(long)]
    pub create_namespace: bool,
    /// Take over objects that exist but were not created for this instance.
    #[arg(long)]
    pub adopt: bool,
    /// Keep objects of an earlier deploy that the graph no longer has.
    #[arg(long)]
    pub no_prune: bool,
    /// On failure, delete what this run created and restore what it changed.
    #[arg(long)]
    pub rollback_on_failure: bool,
    /// Deploy even though another run's lock is set (when that run died).
    #[arg(long)]
    pub break_lock: bool,
    /// KRO mode: apply schema changes that may break existing instances.
    #[arg(long)]
    pub allow_breaking_changes: bool,
    /// Show Secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    /// Format of the status printed at the end (JSON also makes progress JSON lines on stderr).
    #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
}

/// Options of `diff`.
#[derive(clap::Args, Debug, Clone)]
pub struct DiffArgs {
    /// The instance (YAML or JSON): a full object or just its spec.
    #[arg(long, short)]
    pub instance: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Show what `deploy --adopt` would take over: a `would adopt` line for
    /// each object that exists but is not this instance's.
    #[arg(long)]
    pub adopt: bool,
    /// Show Secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Options of `status`.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub which: WhichInstance,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Show Secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
}

/// Options of `drift`.
#[derive(clap::Args, Debug, Clone)]
pub struct DriftArgs {
    #[command(flatten)]
    pub which: WhichInstance,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The drifted fields as a JSON or YAML list instead of one line each.
    #[arg(long, short, value_enum)]
    pub output: Option<Format>,
}

/// Options of `delete`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub which: WhichInstance,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// KRO mode: also delete the ResourceGraphDefinition when no instance of it is left.
    #[arg(long)]
    pub delete_definition: bool,
    /// Delete even though another run's lock is set (when that run died).
    #[arg(long)]
    pub break_lock: bool,
    /// Leave the objects on the cluster: remove kroxide's labels from them and
    /// delete the inventory (a later deploy takes them back with --adopt).
    /// Direct mode only.
    #[arg(long)]
    pub orphan: bool,
    /// Progress as JSON lines on stderr.
    #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
}

/// Options of `instances`.
#[derive(clap::Args, Debug, Clone)]
pub struct InstancesArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// List instances in every namespace (as `kubectl get -A`).
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    #[arg(long, short, value_enum)]
    pub output: Option<Format>,
}

/// A kubectl-style duration (as `kubectl wait --timeout`): `90s`, `5m`,
/// `1m30s`, `500ms`; a bare number is seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| {
        format!("expected a duration such as 90s, 5m, 1m30s or 500ms, or a number of seconds ({e})")
    })
}

/// The namespace a command names before the kubeconfig is read: `-n`, else
/// the instance file's metadata.namespace (as `kubectl apply -f`). Both, and
/// different, is an error, reported before anything reaches the cluster.
fn explicit_namespace(
    args: &ClusterArgs,
    instance: Option<&Value>,
) -> Result<Option<String>, ExitCode> {
    let from_file = instance.and_then(|i| kroxide_model::meta_str(i, "namespace"));
    match (&args.namespace, from_file) {
        (Some(flag), Some(file)) if flag != file => {
            eprintln!(
                "error: the namespace from the instance file \"{file}\" does not match the namespace \"{flag}\"; pass --namespace {file} or drop metadata.namespace"
            );
            Err(ExitCode::from(1))
        }
        (Some(flag), _) => Ok(Some(flag.clone())),
        (None, file) => Ok(file.map(str::to_string)),
    }
}

/// A client for `args`, and the kubeconfig context's namespace (or the
/// service account's in-cluster; `default` when neither names one).
async fn kube_client(args: &ClusterArgs) -> Result<(kube::Client, RequestCount, String), String> {
    let opts = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let config = match &args.kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(p)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", p.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", p.display()))?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&opts)
            .await
            .map_err(|e| format!("kubeconfig: {e}"))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configured (set KUBECONFIG or --kubeconfig): {e}"))?,
    };
    let namespace = match config.default_namespace.as_str() {
        "" => "default".to_string(),
        ns => ns.to_string(),
    };
    let (client, count) = counted(kroxide_engine::retry::client_config(config))
        .map_err(|e| format!("cannot create a client: {e}"))?;
    Ok((client, count, namespace))
}

/// Runs `body` on a fresh runtime with a client for `args` and the namespace
/// to work in: `namespace` (see [`explicit_namespace`]) when set, else the
/// kubeconfig context's, as kubectl. With `KROXIDE_STATS` set, the number
/// of API requests sent is printed on stderr at the end.
pub(super) fn with_client<F, Fut>(
    args: &ClusterArgs,
    namespace: Option<String>,
    body: F,
) -> ExitCode
where
    F: FnOnce(kube::Client, String) -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async {
        match kube_client(args).await {
            Ok((c, count, context_ns)) => {
                let code = body(c, namespace.unwrap_or(context_ns)).await;
                if std::env::var_os("KROXIDE_STATS").is_some() {
                    eprintln!("kroxide: {} API requests", count.get());
                }
                code
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

fn one_instance(path: &PathBuf) -> Result<Value, ExitCode> {
    match read_documents(path) {
        Ok(mut d) if d.len() == 1 => Ok(d.remove(0)),
        Ok(d) => {
            eprintln!(
                "error: {}: expected one instance document, found {}",
                path.display(),
                d.len()
            );
            Err(ExitCode::from(1))
        }
        Err(c) => Err(c),
    }
}

/// The name an instance gets (its metadata.name, else the graph's name, as KRO).
fn instance_name(rgd: &ResourceGraphDefinition, instance: &Value) -> String {
    kroxide_model::meta_str(instance, "name")
        .unwrap_or(rgd.name())
        .to_string()
}

/// The instance's name, and its namespace as far as the command line and the
/// instance file (when given) name it (see [`explicit_namespace`]).
pub(super) fn which_instance(
    rgd: &ResourceGraphDefinition,
    which: &WhichInstance,
    cluster: &ClusterArgs,
) -> Result<(String, Option<String>), ExitCode> {
    match (&which.name, &which.instance) {
        (Some(n), _) => Ok((n.clone(), cluster.namespace.clone())),
        (None, Some(p)) => {
            let i = one_instance(p)?;
            Ok((
                instance_name(rgd, &i),
                explicit_namespace(cluster, Some(&i))?,
            ))
        }
        (None, None) => Err(ExitCode::from(2)),
    }
}

pub(super) fn kro_options(c: &ClusterArgs, namespace: &str) -> kroxide_engine::kro::KroOptions {
    kroxide_engine::kro::KroOptions {
        namespace: namespace.to_string(),
        timeout: c.timeout,
        ..Default::default()
    }
}

pub(super) fn engine_options(c: &ClusterArgs, namespace: &str) -> DeployOptions {
    DeployOptions {
        namespace: namespace.to_string(),
        resource_timeout: c.timeout,
        kubeconfig_user: kubeconfig_user(c),
        ..DeployOptions::default()
    }
}

/// The user of the kubeconfig context in use (`--context`, else the
/// current one), for the revision history when the API server cannot say
/// who this is. None in-cluster, or when the kubeconfig cannot be read.
fn kubeconfig_user(c: &ClusterArgs) -> Option<String> {
    let kc = match &c.kubeconfig {
        Some(p) => kube::config::Kubeconfig::read_from(p).ok()?,
        None => kube::config::Kubeconfig::read().ok()?,
    };
    let name = c.context.clone().or(kc.current_context.clone())?;
    kc.contexts
        .iter()
        .find(|n| n.name == name)?
        .context
        .as_ref()?
        .user
        .clone()
}

/// Masks Secret values that `status` may repeat (a status field can read a
/// Secret): those of the live Secrets, and those the instance feeds to Secrets.
pub(super) fn redact_status<'a>(
    status: &mut Value,
    rgd: &ResourceGraphDefinition,
    instances: impl IntoIterator<Item = &'a Value>,
    live: impl IntoIterator<Item = &'a Value>,
    show: bool,
) {
    if !show {
        kroxide_engine::mask_status(status, rgd, instances, live);
    }
}

pub fn deploy_cmd(rgd: &ResourceGraphDefinition, args: &DeployArgs) -> ExitCode {
    deploy_in(rgd, None, args)
}

/// `deploy` of several RGDs: the instance's kind picks its RGD; the others
/// are those whose instances it creates (KRO's chained RGDs).
pub fn deploy_set_cmd(docs: &[kroxide_model::LoadedRgd], args: &DeployArgs) -> ExitCode {
    let set = match kroxide_semantics::chain::RgdSet::new(docs.iter().map(|d| &d.rgd)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let instance = match one_instance(&args.instance) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let top = match set.for_instance(&instance) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", args.instance.display());
            return ExitCode::from(1);
        }
    };
    deploy_in(top, Some(&set), args)
}

/// `deploy` of a Rust graph that nests others (their RGDs in `set`).
pub fn deploy_nested(
    rgd: &ResourceGraphDefinition,
    set: &kroxide_semantics::chain::RgdSet<'_>,
    args: &DeployArgs,
) -> ExitCode {
    deploy_in(rgd, Some(set), args)
}

fn deploy_in(
    rgd: &ResourceGraphDefinition,
    set: Option<&kroxide_semantics::chain::RgdSet<'_>>,
    args: &DeployArgs,
) -> ExitCode {
    let instance = match one_instance(&args.instance) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let namespace = match explicit_namespace(&args.cluster, Some(&instance)) {
        Ok(n) => n,
        Err(c) => return c,
    };
    let display = Display::new(Style::pick(args.output == Format::Json));
    with_client(&args.cluster, namespace, |client, ns| async move {
        if args.cluster.mode == Mode::Kro {
            let version = kroxide_engine::kro::version(&client).await;
            display.note(&format!(
                "deploying {} through KRO{} to namespace {}",
                rgd.name(),
                version.map(|v| format!(" {v}")).unwrap_or_default(),
                ns
            ));
            let retained = kroxide_engine::retained_resources(rgd);
            if !retained.is_empty() {
                eprintln!(
                    "warning: KRO ignores kroxide's delete policy: {} would be kept by a direct-mode delete, but KRO deletes them with the instance",
                    retained.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
                );
            }
            let kopts = kroxide_engine::kro::KroOptions {
                allow_breaking_changes: args.allow_breaking_changes,
                progress: display.progress(),
                ..kro_options(&args.cluster, &ns)
            };
            let run = async {
                match set {
                    Some(set) => {
                        kroxide_engine::kro::deploy_chained(&client, set, rgd, &instance, &kopts)
                            .await
                    }
                    None => kroxide_engine::kro::deploy(&client, rgd, &instance, &kopts).await,
                }
            };
            let result = tokio::select! {
                r = run => r,
                _ = tokio::signal::ctrl_c() => {
                    display.finish();
                    eprintln!("interrupted; what was applied stays, and KRO keeps reconciling it");
                    return ExitCode::from(130);
                }
            };
            display.finish();
            return match result {
                Ok(mut status) => {
                    redact_status(&mut status, rgd, Some(&instance), [], args.show_secrets);
                    print_doc(&status, args.output)
                }
                Err(e) => {
                    let msg = redact_inputs(rgd, &instance, args.show_secrets, &e.to_string());
                    eprintln!("error: {msg}");
                    ExitCode::from(1)
                }
            };
        }
        let engine = DirectEngine::new(client);
        let opts = DeployOptions {
            force_conflicts: args.force_conflicts,
            create_namespace: args.create_namespace,
            adopt: args.adopt,
            prune: !args.no_prune,
            rollback_on_failure: args.rollback_on_failure,
            break_lock: args.break_lock,
            overall_timeout: args.overall_timeout,
            progress: display.progress(),
            ..engine_options(&args.cluster, &ns)
        };
        display.note(&format!("deploying {} to namespace {ns}", rgd.name()));
        let interrupted = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        // Inner instances (KRO's chained RGDs) are deployed by kroxide too,
        // unless KRO serves their kind.
        let result = match set {
            Some(set) => {
                engine
                    .deploy_nested(set, rgd, &instance, &opts, interrupted)
                    .await
            }
            None => {
                engine
                    .deploy_until(rgd, &instance, &opts, interrupted)
                    .await
            }
        };
        display.finish();
        if let Err(e @ kroxide_engine::DeployError::Interrupted { .. }) = &result {
            eprintln!("{e}");
            return ExitCode::from(130);
        }
        match result {
            Ok(report) => {
                let applied: usize = report.waves.iter().map(Vec::len).sum();
                display.note(&format!(
                    "deployed {} instance {}: {applied} resources in {} waves, {} pruned{}",
                    rgd.name(),
                    instance_name(rgd, &instance),
                    report.waves.iter().filter(|w| !w.is_empty()).count(),
                    report.pruned.len(),
                    match report.taken_back.len() {
                        0 => String::new(),
                        n => format!(", {n} fields other managers had changed taken back"),
                    }
                ));
                for p in &report.pruned {
                    display.note(&format!("  pruned {}", p.display()));
                }
                for k in &report.retained {
                    display.note(&format!(
                        "  kept (delete-policy: retain) {}: no longer in the graph, kroxide's labels removed",
                        k.display()
                    ));
                }
                let status = if args.show_secrets {
                    report.status().clone()
                } else {
                    report.masked_status(rgd)
                };
                print_doc(&status, args.output)
            }
            Err(e) => {
                let msg = redact_inputs(rgd, &instance, args.show_secrets, &e.to_string());
                eprintln!("error: {msg}");
                ExitCode::from(1)
            }
        }
    })
}

pub fn diff_cmd(rgd: &ResourceGraphDefinition, args: &DiffArgs) -> ExitCode {
    if args.cluster.mode == Mode::Kro {
        eprintln!("error: diff works in direct mode only (KRO renders the objects in the cluster)");
        return ExitCode::from(2);
    }
    let instance = match one_instance(&args.instance) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let namespace = match explicit_namespace(&args.cluster, Some(&instance)) {
        Ok(n) => n,
        Err(c) => return c,
    };
    with_client(&args.cluster, namespace, |client, ns| async move {
        let engine = DirectEngine::new(client);
        match engine
            .diff(rgd, &instance, &engine_options(&args.cluster, &ns))
            .await
        {
            Ok((diffs, unresolved)) => {
                // What a deploy would do with objects that are not this
                // instance's: as deploy, `--adopt` takes over any of them.
                let mut adoptions = String::new();
                for d in diffs.iter().filter(|d| d.desired.is_some()) {
                    let (Some(why), Some(live)) = (&d.not_owned, &d.live) else {
                        continue;
                    };
                    if args.adopt {
                        adoptions.push_str(&format!(
                            "would adopt {}/{} (now: {})\n",
                            d.kind,
                            d.name,
                            kroxide_engine::owner_of(live)
                        ));
                    } else {
                        eprintln!(
                            "note: a deploy would refuse {}/{} ({}): {why}; `--adopt` takes it over (`diff --adopt` shows it)",
                            d.kind, d.name, d.id
                        );
                    }
                }
                print!("{adoptions}");
                let text = kroxide_engine::render_diff(&diffs, args.show_secrets);
                print!("{text}");
                for (id, why) in &unresolved {
                    let why = redact_inputs(rgd, &instance, args.show_secrets, why);
                    eprintln!("note: {id} cannot be resolved before deploy: {why}");
                }
                if text.is_empty() && adoptions.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                let msg = redact_inputs(rgd, &instance, args.show_secrets, &e.to_string());
                eprintln!("error: {msg}");
                ExitCode::from(2)
            }
        }
    })
}

pub fn status_cmd(rgd: &ResourceGraphDefinition, args: &StatusArgs) -> ExitCode {
    let (name, namespace) = match which_instance(rgd, &args.which, &args.cluster) {
        Ok(n) => n,
        Err(c) => return c,
    };
    with_client(&args.cluster, namespace, |client, ns| async move {
        if args.cluster.mode == Mode::Kro {
            return match kroxide_engine::kro::instance(&client, rgd, &name, &ns).await {
                Ok(live) => {
                    let mut status = live.get("status").cloned().unwrap_or(serde_json::json!({}));
                    // What feeds a Secret is learned from the instance file
                    // (--instance) and from the live instance's spec, so
                    // `--name` alone masks as much.
                    let file = args
                        .which
                        .instance
                        .as_ref()
                        .and_then(|p| one_instance(p).ok());
                    let instances = file.iter().chain([&live]);
                    redact_status(&mut status, rgd, instances, [], args.show_secrets);
                    print_doc(&status, args.output)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            };
        }
        let engine = DirectEngine::new(client);
        match engine
            .status(rgd, &name, &engine_options(&args.cluster, &ns))
            .await
        {
            Ok(mut report) => {
                if !args.show_secrets {
                    report.status = report.masked_status(rgd);
                }
                for r in &report.resources {
                    match &r.detail {
                        Some(d) => eprintln!("  {:<24} {:<12} {}: {d}", r.id, r.kind, r.state),
                        None => eprintln!("  {:<24} {:<12} {}", r.id, r.kind, r.state),
                    }
                }
                // Field paths and managers only: no value, so no Secret value.
                match report.drift.len() {
                    0 => {
                        eprintln!("  drift: none (every field kroxide applies is still kroxide's)")
                    }
                    n => {
                        eprintln!("  drift: {n} fields changed by other managers since the last deploy (kroxide drift lists them; deploy --force-conflicts sets them back):");
                        for d in report.drift.iter().take(5) {
                            eprintln!(
                                "    {} {}/{}: {} by {}",
                                d.id, d.kind, d.name, d.field, d.manager
                            );
                        }
                        if n > 5 {
                            eprintln!("    ... and {} more", n - 5);
                        }
                    }
                }
                let code = print_doc(&report.status, args.output);
                if code != ExitCode::SUCCESS || !report.ready {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// `drift`: the fields another field manager took from kroxide, one line
/// each (or a JSON/YAML list with `-o`). Field paths only: no values, so no
/// Secret value is shown.
pub fn drift_cmd(rgd: &ResourceGraphDefinition, args: &DriftArgs) -> ExitCode {
    if args.cluster.mode == Mode::Kro {
        eprintln!("error: drift works in direct mode only (through KRO, KRO applies the objects)");
        return ExitCode::from(2);
    }
    let (name, namespace) = match which_instance(rgd, &args.which, &args.cluster) {
        Ok(n) => n,
        Err(c) => return c,
    };
    with_client(&args.cluster, namespace, |client, ns| async move {
        let engine = DirectEngine::new(client);
        match engine
            .drift(rgd, &name, &engine_options(&args.cluster, &ns))
            .await
        {
            Ok(drift) => {
                let code = if let Some(format) = args.output {
                    print_doc(&serde_json::to_value(&drift).unwrap_or_default(), format)
                } else {
                    for d in &drift {
                        let when = d
                            .time
                            .as_deref()
                            .map(|t| format!(" at {t}"))
                            .unwrap_or_default();
                        println!(
                            "{} {}/{}: {} changed by {} ({}{when})",
                            d.id, d.kind, d.name, d.field, d.manager, d.operation
                        );
                    }
                    if drift.is_empty() {
                        eprintln!("no drift: every field kroxide applies to instance {name} is still kroxide's");
                    }
                    ExitCode::SUCCESS
                };
                if code != ExitCode::SUCCESS || !drift.is_empty() {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

pub fn delete_cmd(rgd: &ResourceGraphDefinition, args: &DeleteArgs) -> ExitCode {
    delete_in(rgd, None, args)
}

/// `delete` of several RGDs: the instance is of the RGD no other uses; in
/// direct mode the inner instances kroxide deployed go first.
pub fn delete_set_cmd(docs: &[kroxide_model::LoadedRgd], args: &DeleteArgs) -> ExitCode {
    let set = match kroxide_semantics::chain::RgdSet::new(docs.iter().map(|d| &d.rgd)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let top = match set.for_instance(&serde_json::json!({})) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: which RGD's instance to delete: {e}");
            return ExitCode::from(2);
        }
    };
    delete_in(top, Some(&set), args)
}

fn delete_in(
    rgd: &ResourceGraphDefinition,
    set: Option<&kroxide_semantics::chain::RgdSet<'_>>,
    args: &DeleteArgs,
) -> ExitCode {
    if args.orphan && args.cluster.mode == Mode::Kro {
        eprintln!("error: --orphan works in direct mode only: KRO (v0.9.3, and its main branch) deletes every child of an instance when the instance goes, one by one behind its finalizer, with no deletion policy to keep one; nothing was changed");
        return ExitCode::from(2);
    }
    let (name, namespace) = match which_instance(rgd, &args.which, &args.cluster) {
        Ok(n) => n,
        Err(c) => return c,
    };
    let display = Display::new(Style::pick(args.output == Format::Json));
    with_client(&args.cluster, namespace, |client, ns| async move {
        if args.cluster.mode == Mode::Kro {
            let kopts = kroxide_engine::kro::KroOptions {
                progress: display.progress(),
                ..kro_options(&args.cluster, &ns)
            };
            let result =
                kroxide_engine::kro::delete(&client, rgd, &name, args.delete_definition, &kopts)
                    .await;
            display.finish();
            return match result {
                Ok(r) => {
                    display.note(&format!(
                        "deleted instance {name}; KRO removed its resources"
                    ));
                    if r.definition_deleted {
                        display.note(&format!("deleted ResourceGraphDefinition {}", rgd.name()));
                    } else if args.delete_definition {
                        display.note(&format!(
                            "kept ResourceGraphDefinition {}: {} instance(s) of it are left",
                            rgd.name(),
                            r.instances_left
                        ));
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            };
        }
        if args.delete_definition {
            eprintln!("error: --delete-definition applies to --mode kro only (direct mode installs no definition)");
            return ExitCode::from(2);
        }
        let engine = DirectEngine::new(client);
        let opts = DeployOptions {
            break_lock: args.break_lock,
            progress: display.progress(),
            ..engine_options(&args.cluster, &ns)
        };
        let result = match (args.orphan, set) {
            (true, _) => engine.orphan(rgd.name(), &name, &opts).await,
            (false, Some(set)) => engine.delete_nested(set, rgd, &name, &opts).await,
            (false, None) => engine.delete(rgd.name(), &name, &opts).await,
        };
        display.finish();
        match result {
            Ok(r) if !r.found => {
                eprintln!(
                    "instance {name} of {} is not deployed in namespace {ns}; nothing to delete",
                    rgd.name(),
                );
                ExitCode::SUCCESS
            }
            Ok(r) => {
                let mut also = Vec::new();
                if !r.retained.is_empty() {
                    also.push(format!("{} kept (delete-policy: retain)", r.retained.len()));
                }
                if !r.skipped.is_empty() {
                    also.push(format!(
                        "{} left alone (not kroxide's any more)",
                        r.skipped.len()
                    ));
                }
                let also: String = also.iter().map(|a| format!(", {a}")).collect();
                if args.orphan {
                    eprintln!(
                        "orphaned instance {name}: {} objects kept without kroxide's labels{also}; its inventory is deleted, and a deploy of it takes them back only with --adopt",
                        r.orphaned.len()
                    );
                } else {
                    eprintln!("deleted instance {name}: {} objects{also}", r.deleted.len());
                }
                for o in &r.orphaned {
                    eprintln!("  orphaned {}", o.display());
                }
                for o in &r.retained {
                    eprintln!("  kept (delete-policy: retain) {}", o.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

pub fn instances_cmd(rgd: &ResourceGraphDefinition, args: &InstancesArgs) -> ExitCode {
    let namespace = args.cluster.namespace.clone();
    with_client(&args.cluster, namespace, |client, ns| async move {
        let rows: Vec<Value> = if args.cluster.mode == Mode::Kro {
            let only = (!args.all_namespaces).then_some(ns.as_str());
            match kroxide_engine::kro::instances(&client, rgd, only).await {
                Ok(list) => list
                    .into_iter()
                    .map(|i| serde_json::to_value(i).unwrap_or_default())
                    .collect(),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            let engine = DirectEngine::new(client);
            let opts = engine_options(&args.cluster, &ns);
            let listed = if args.all_namespaces {
                engine.all_instances(rgd.name(), &opts).await
            } else {
                engine.instances(rgd.name(), &opts).await
            };
            match listed {
                Ok(list) => list
                    .into_iter()
                    .map(|inv| {
                        serde_json::json!({
                            "name": inv.instance.pointer("/metadata/name"),
                            "namespace": inv.instance.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(&ns),
                            "objects": inv.objects.len(),
                            "state": if inv.lock.is_some() { "DEPLOYING" } else { "DEPLOYED" },
                            "lockedBy": inv.lock.map(|l| l.holder),
                        })
                    })
                    .collect(),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        };
        if let Some(format) = args.output {
            return print_doc(&rows, format);
        }
        let col = |r: &Value, k: &str| match &r[k] {
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
        };
        let extra = if args.cluster.mode == Mode::Kro {
            "ready"
        } else {
            "objects"
        };
        println!(
            "{:<32} {:<20} {:<12} {}",
            "NAME",
            "NAMESPACE",
            "STATE",
            extra.to_uppercase()
        );
        for r in &rows {
            println!(
                "{:<32} {:<20} {:<12} {}",
                col(r, "name"),
                col(r, "namespace"),
                col(r, "state"),
                col(r, extra)
            );
        }
        ExitCode::SUCCESS
    })
}
