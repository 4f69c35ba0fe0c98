//! `explain`: why a deployed instance is (not) ready, as a tree of its
//! resources wave by wave. Direct mode explains from the inventory and the
//! live objects; KRO mode shows what KRO reports (the instance's state and
//! conditions) and then the same tree from the live objects KRO made.

use super::cluster::{
    engine_options, kro_options, which_instance, with_client, ClusterArgs, WhichInstance,
};
use super::{print_doc, Format, Mode};
use kroxide_engine::{DirectEngine, Explanation, ResourceState};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::redact::Redactor;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Options of `explain`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub which: WhichInstance,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Show Secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    /// The explanation as a JSON or YAML document instead of a tree.
    #[arg(long, short, value_enum)]
    pub output: Option<Format>,
}

fn mark(state: ResourceState) -> &'static str {
    match state {
        ResourceState::Ready => "ready",
        ResourceState::Applied => "NOT READY",
        ResourceState::NotApplied => "NOT APPLIED",
        ResourceState::Excluded => "excluded",
    }
}

/// The explanation as a tree, wave by wave.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let waiting: Vec<&str> = e
        .resources
        .iter()
        .filter(|r| !matches!(r.state, ResourceState::Ready | ResourceState::Excluded))
        .map(|r| r.id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "instance {} of graph {} in namespace {}: {}",
        e.instance,
        e.graph,
        e.namespace,
        match (&e.kro, e.ready, waiting.is_empty()) {
            (_, true, _) => "ready".to_string(),
            (_, false, false) => format!("not ready, waiting on {}", waiting.join(", ")),
            // Every child is ready, and KRO has not said so yet.
            (Some(kro), false, true) => format!("not ready: KRO reports it {}", kro.state),
            (None, false, true) => "not ready".to_string(),
        }
    );
    if let Some(kro) = &e.kro {
        let _ = writeln!(out, "KRO reports it {}", kro.state);
        for c in &kro.conditions {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            let message = s("message");
            let _ = writeln!(
                out,
                "  {}={} {}{}",
                s("type"),
                s("status"),
                s("reason"),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            );
        }
    }
    let last_wave = e.resources.iter().map(|r| r.wave).max().unwrap_or(0);
    for wave in 0..=last_wave {
        let in_wave: Vec<_> = e.resources.iter().filter(|r| r.wave == wave).collect();
        if in_wave.is_empty() {
            continue;
        }
        let _ = writeln!(out, "wave {wave}");
        for (i, r) in in_wave.iter().enumerate() {
            let last = i + 1 == in_wave.len();
            let (branch, stem) = if last {
                ("└─", "   ")
            } else {
                ("├─", "│  ")
            };
            let names = if r.names.is_empty() {
                r.kind.clone()
            } else {
                format!("{}/{}", r.kind, r.names.join(", "))
            };
            let detail = r
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let _ = writeln!(out, "{branch} {} ({names}) {}{detail}", r.id, mark(r.state));
            if !r.depends_on.is_empty() {
                let _ = writeln!(out, "{stem}  reads: {}", r.depends_on.join(", "));
            }
            if !r.include_when.is_empty() {
                let _ = writeln!(out, "{stem}  includeWhen: {}", r.include_when.join(" && "));
            }
            if r.state != ResourceState::Excluded {
                let _ = writeln!(out, "{stem}  ready when: {}", r.rule);
            }
            if !r.events.is_empty() {
                let _ = writeln!(out, "{stem}  events (newest last):");
                for ev in &r.events {
                    let times = if ev.count > 1 {
                        format!(" x{}", ev.count)
                    } else {
                        String::new()
                    };
                    let at = ev
                        .last_seen
                        .as_deref()
                        .map(|t| format!(" at {t}"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "{stem}    {} {}{times}{at} {}: {}",
                        ev.kind, ev.reason, ev.object, ev.message
                    );
                }
            }
        }
    }
    if !e.pending.is_empty() {
        let _ = writeln!(out, "status fields pending");
        for (field, why) in &e.pending {
            let _ = writeln!(out, "  {field}: {why}");
        }
    }
    out
}

pub fn explain_cmd(rgd: &ResourceGraphDefinition, args: &ExplainArgs) -> ExitCode {
    let (name, namespace) = match which_instance(rgd, &args.which, &args.cluster) {
        Ok(n) => n,
        Err(c) => return c,
    };
    with_client(&args.cluster, namespace, |client, ns| async move {
        let result = if args.cluster.mode == Mode::Kro {
            kroxide_engine::kro_explain(&client, rgd, &name, &kro_options(&args.cluster, &ns))
                .await
                .map_err(|e| e.to_string())
        } else {
            DirectEngine::new(client)
                .explain(rgd, &name, &engine_options(&args.cluster, &ns))
                .await
                .map_err(|e| e.to_string())
        };
        match result {
            Ok(e) => {
                let mut redactor = Redactor::default();
                if !args.show_secrets {
                    redactor.learn_secret_inputs(rgd, &e.deployed);
                    redactor.learn(e.live.values().flatten());
                }
                let code = match args.output {
                    Some(f) => {
                        let mut doc = serde_json::to_value(&e).unwrap_or_default();
                        redactor.redact_value(&mut doc);
                        print_doc(&doc, f)
                    }
                    None => {
                        print!("{}", redactor.redact_str(&render(&e)));
                        ExitCode::SUCCESS
                    }
                };
                if code != ExitCode::SUCCESS || !e.ready {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::from(1)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kroxide_engine::{ExplainedResource, KroVerdict, ObjectEvent};
    use serde_json::json;

    fn res(id: &str, wave: usize, state: ResourceState) -> ExplainedResource {
        ExplainedResource {
            id: id.into(),
            kind: "ConfigMap".into(),
            names: vec![format!("{id}-x")],
            wave,
            depends_on: vec![],
            state,
            detail: None,
            rule: "it exists".into(),
            include_when: vec![],
            events: vec![],
        }
    }

    fn explanation(resources: Vec<ExplainedResource>, kro: Option<KroVerdict>) -> Explanation {
        Explanation {
            graph: "g".into(),
            instance: "i".into(),
            namespace: "n".into(),
            ready: resources.iter().all(|r| r.state == ResourceState::Ready) && kro.is_none(),
            resources,
            kro,
            pending: [("status.x".to_string(), "waits on web".to_string())].into(),
            status: json!({}),
            deployed: json!({}),
            live: Default::default(),
        }
    }

    #[test]
    fn the_tree_goes_wave_by_wave_with_events_under_what_is_stuck() {
        let mut web = res("web", 1, ResourceState::Applied);
        web.kind = "Deployment".into();
        web.depends_on = vec!["a".into()];
        web.detail = Some("0/1 replicas ready".into());
        web.events = vec![ObjectEvent {
            kind: "Warning".into(),
            reason: "FailedCreate".into(),
            message: "exceeded quota".into(),
            count: 3,
            last_seen: Some("2026-12-01T14:40:00Z".into()),
            object: "ReplicaSet/web-x-5d4f8".into(),
        }];
        let text = render(&explanation(
            vec![
                res("a", 0, ResourceState::Ready),
                res("b", 0, ResourceState::Ready),
                web,
            ],
            None,
        ));
        let want = "instance i of graph g in namespace n: not ready, waiting on web
wave 0
├─ a (ConfigMap/a-x) ready
│    ready when: it exists
└─ b (ConfigMap/b-x) ready
     ready when: it exists
wave 1
└─ web (Deployment/web-x) NOT READY: 0/1 replicas ready
     reads: a
     ready when: it exists
     events (newest last):
       Warning FailedCreate x3 at 2026-12-01T14:40:00Z ReplicaSet/web-x-5d4f8: exceeded quota
status fields pending
  status.x: waits on web
";
        assert_eq!(text, want);
    }

    /// KRO mode with every child ready but KRO not ACTIVE yet: the header
    /// says so instead of "waiting on" nothing.
    #[test]
    fn the_header_names_kros_state_when_only_kro_is_not_ready() {
        let kro = KroVerdict {
            state: "IN_PROGRESS".into(),
            conditions: vec![
                json!({"type": "Ready", "status": "False", "reason": "NotReady", "message": ""}),
            ],
        };
        let text = render(&explanation(
            vec![res("a", 0, ResourceState::Ready)],
            Some(kro),
        ));
        assert!(
            text.starts_with("instance i of graph g in namespace n: not ready: KRO reports it IN_PROGRESS\nKRO reports it IN_PROGRESS\n  Ready=False NotReady\n"),
            "{text}"
        );
    }
}
