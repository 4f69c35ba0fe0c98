//! `history` and `rollback`: an instance's revisions, and deploying one of
//! them again. Direct mode reads the revisions kroxide records in the
//! inventory; KRO mode the GraphRevisions KRO keeps of the graph.

use super::cluster::{
    engine_options, kro_options, redact_status, which_instance, with_client, ClusterArgs,
    WhichInstance,
};
use super::progress::{Display, Style};
use super::{print_doc, redact_inputs, Format, Mode};
use kroxide_engine::{DeployOptions, DirectEngine, HistoryEntry};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::redact::Redactor;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

/// Options of `history`.
#[derive(clap::Args, Debug, Clone)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub which: WhichInstance,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The revisions as a JSON or YAML list instead of one line each.
    #[arg(long, short, value_enum)]
    pub output: Option<Format>,
}

/// Options of `rollback`.
#[derive(clap::Args, Debug, Clone)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub which: WhichInstance,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The revision to deploy again (see `kroxide history`).
    #[arg(long)]
    pub to: u64,
    /// Deploy the revision's spec with the graph file's graph, not the revision's own.
    #[arg(long)]
    pub use_current_graph: bool,
    /// Take over fields that other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Roll back even though another run's lock is set (when that run died).
    #[arg(long)]
    pub break_lock: bool,
    /// Show Secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    #[arg(long, short, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
}

fn when(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// One line of `history`: the number first, then when, who, how it ended,
/// the graph, and what changed (paths only, never values).
fn line(e: &HistoryEntry) -> String {
    let mut what = vec![e.description.clone()];
    if !e.spec_changes.is_empty() {
        const SHOWN: usize = 4;
        let mut paths = e.spec_changes[..e.spec_changes.len().min(SHOWN)].join(", ");
        if e.spec_changes.len() > SHOWN {
            paths.push_str(&format!(" and {} more", e.spec_changes.len() - SHOWN));
        }
        what.push(format!("changed {paths}"));
    }
    if e.graph_changed {
        what.push("graph changed".into());
    }
    if !e.graph_kept {
        what.push("graph not kept".into());
    }
    format!(
        "{:<4} {:<20}  {:<12} {:<8}  {}  {}",
        e.revision,
        when(e.deployed_at),
        e.user,
        e.outcome,
        e.graph,
        what.join("; ")
    )
}

pub fn history_cmd(rgd: &ResourceGraphDefinition, args: &HistoryArgs) -> ExitCode {
    let (name, namespace) = match which_instance(rgd, &args.which, &args.cluster) {
        Ok(n) => n,
        Err(c) => return c,
    };
    with_client(&args.cluster, namespace, |client, ns| async move {
        if args.cluster.mode == Mode::Kro {
            return match kroxide_engine::history::kro_history(&client, rgd.name()).await {
                Ok(revs) => {
                    if let Some(f) = args.output {
                        return print_doc(&revs, f);
                    }
                    eprintln!(
                        "KRO keeps revisions of the graph `{}`, not of instance specs",
                        rgd.name()
                    );
                    for r in &revs {
                        println!(
                            "{:<4} {:<20}  {}{}",
                            r.revision,
                            r.created,
                            r.hash,
                            if r.current { "  current" } else { "" }
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            };
        }
        let engine = DirectEngine::new(client);
        match engine
            .history(rgd.name(), &name, &engine_options(&args.cluster, &ns))
            .await
        {
            Ok(h) => {
                if let Some(f) = args.output {
                    return print_doc(&h, f);
                }
                if h.is_empty() {
                    eprintln!(
                        "instance {name} of graph {} has no revisions in namespace {ns} (never deployed, or deployed by an older kroxide)",
                        rgd.name()
                    );
                    return ExitCode::from(1);
                }
                eprintln!(
                    "{:<4} {:<20}  {:<12} {:<8}  {:<12}  DESCRIPTION",
                    "REV", "DEPLOYED", "BY", "STATUS", "GRAPH"
                );
                for e in &h {
                    println!("{}", line(e));
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

pub fn rollback_cmd(rgd: &ResourceGraphDefinition, args: &RollbackArgs) -> ExitCode {
    let (name, namespace) = match which_instance(rgd, &args.which, &args.cluster) {
        Ok(n) => n,
        Err(c) => return c,
    };
    let display = Display::new(Style::pick(args.output == Format::Json));
    with_client(&args.cluster, namespace, |client, ns| async move {
        if args.cluster.mode == Mode::Kro {
            display.note(&format!(
                "rolling the graph {} back to KRO's GraphRevision {} (instance {name} keeps its spec)",
                rgd.name(),
                args.to
            ));
            let kopts = kroxide_engine::kro::KroOptions {
                progress: display.progress(),
                ..kro_options(&args.cluster, &ns)
            };
            // The graph is the RGD: every instance of it moves with it.
            if let Ok(all) = kroxide_engine::kro::instances(&client, rgd, None).await {
                let others: Vec<String> = all
                    .iter()
                    .filter(|i| !(i.name == name && i.namespace.as_deref() == Some(ns.as_str())))
                    .map(|i| match &i.namespace {
                        Some(n) => format!("{} in {n}", i.name),
                        None => i.name.clone(),
                    })
                    .collect();
                if !others.is_empty() {
                    display.note(&format!(
                        "warning: the graph is shared: KRO moves its other instances to revision {} too: {}",
                        args.to,
                        others.join(", ")
                    ));
                }
            }
            let result =
                kroxide_engine::history::kro_rollback(&client, rgd, &name, args.to, &kopts).await;
            display.finish();
            // What feeds a Secret is learned from the live instance.
            let live = kroxide_engine::kro::instance(&client, rgd, &name, &ns)
                .await
                .unwrap_or_default();
            return match result {
                Ok(mut status) => {
                    redact_status(&mut status, rgd, [&live], [], args.show_secrets);
                    print_doc(&status, args.output)
                }
                Err(e) => {
                    let msg = redact_inputs(rgd, &live, args.show_secrets, &e.to_string());
                    eprintln!("error: {msg}");
                    ExitCode::from(1)
                }
            };
        }
        let engine = DirectEngine::new(client);
        let opts = DeployOptions {
            force_conflicts: args.force_conflicts,
            break_lock: args.break_lock,
            progress: display.progress(),
            ..engine_options(&args.cluster, &ns)
        };
        display.note(&format!(
            "rolling instance {name} of {} back to revision {} in namespace {ns}",
            rgd.name(),
            args.to
        ));
        // The revision's spec may hold Secret values, which messages and
        // the status must not show: learned first, from both graphs.
        let mut redactor = Redactor::default();
        if !args.show_secrets {
            if let Ok(Some((rev, graph))) = engine.revision(rgd.name(), &name, args.to, &opts).await
            {
                let spec = serde_json::json!({"spec": rev.spec});
                redactor.learn_secret_inputs(rgd, &spec);
                if let Some(g) = &graph {
                    redactor.learn_secret_inputs(g, &spec);
                }
            }
        }
        let result = engine
            .rollback_to(rgd, &name, args.to, args.use_current_graph, &opts)
            .await;
        display.finish();
        match result {
            Ok(report) => {
                display.note(&format!(
                    "rolled back: instance {name} runs revision {}'s spec and graph again, as a new revision",
                    args.to
                ));
                let mut status = report.status().clone();
                if !args.show_secrets {
                    redactor.learn(report.live.values().flatten());
                    redactor.redact_value(&mut status);
                }
                print_doc(&status, args.output)
            }
            Err(e) => {
                eprintln!("error: {}", redactor.redact_str(&e.to_string()));
                ExitCode::from(1)
            }
        }
    })
}
