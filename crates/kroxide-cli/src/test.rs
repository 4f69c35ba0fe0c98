//! `kroxide test DIR...`: runs the graph tests (`*.test.yaml`) under the
//! directories and prints their results as `cargo test` does (see
//! [`crate::graphtest`]). Exit 0 when every test passes, 1 when one fails,
//! 2 when a test file or what it names cannot be used.

use super::Output;
use crate::graphtest::{self, Outcome, Report, RunOptions};
use kroxide_model::ResourceGraphDefinition;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `test`.
#[derive(clap::Args, Debug, Clone)]
pub struct TestArgs {
    /// Directories searched recursively for `*.test.yaml` files (or test files).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Rewrite snapshot files that differ from the plan, and create missing ones.
    #[arg(long)]
    pub update: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Runs the tests; `graph` is the graph of tests that name no `rgd:`.
pub(crate) fn test_cmd(args: &TestArgs, graph: Option<&ResourceGraphDefinition>) -> ExitCode {
    let report = graphtest::run(
        &args.dirs,
        RunOptions {
            update: args.update,
            graph,
        },
    );
    let text = match args.output {
        Output::Text => {
            for e in &report.errors {
                eprintln!("error: {e}");
            }
            for r in &report.results {
                if let Outcome::Error(e) = &r.outcome {
                    eprintln!("error: {e}");
                }
            }
            text(&report)
        }
        Output::Json => serde_json::to_string_pretty(&to_json(&report)).unwrap_or_default() + "\n",
        Output::Yaml => kroxide_model::to_yaml(&to_json(&report)).unwrap_or_default(),
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("error: cannot write the output: {e}");
        return ExitCode::from(2);
    }
    exit_code(&report)
}

/// 2 for bad input (it needs fixing before results mean anything), else 1
/// when a test failed, else 0.
fn exit_code(report: &Report) -> ExitCode {
    if report.bad_input() > 0 {
        ExitCode::from(2)
    } else if report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn label(r: &graphtest::TestResult) -> String {
    format!("{}::{}", r.file.display(), r.name)
}

/// The report as `cargo test` prints its own.
fn text(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let n = report.results.len();
    let _ = writeln!(s, "\nrunning {n} test{}", if n == 1 { "" } else { "s" });
    for r in &report.results {
        let word = match &r.outcome {
            Outcome::Passed => "ok",
            Outcome::Updated => "updated",
            Outcome::Failed(_) => "FAILED",
            Outcome::Error(_) => "error",
        };
        let _ = writeln!(s, "test {} ... {word}", label(r));
    }
    let failed: Vec<_> = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "\nfailures:");
        for r in &failed {
            let Outcome::Failed(failures) = &r.outcome else {
                continue;
            };
            let _ = writeln!(s, "\n---- {} ----", label(r));
            for f in failures {
                let _ = write!(s, "{f}");
            }
        }
        let _ = writeln!(s, "\nfailures:");
        for r in &failed {
            let _ = writeln!(s, "    {}", label(r));
        }
    }
    let errors = report.bad_input();
    let _ = writeln!(
        s,
        "\ntest result: {}. {} passed; {} failed; {} updated;{} finished in {} ms",
        if report.is_ok() { "ok" } else { "FAILED" },
        report.passed(),
        report.failed(),
        report.updated(),
        if errors > 0 {
            format!(" {errors} error{};", if errors == 1 { "" } else { "s" })
        } else {
            String::new()
        },
        ms(report),
    );
    s
}

fn ms(report: &Report) -> String {
    format!("{:.1}", report.elapsed.as_secs_f64() * 1000.0)
}

fn to_json(report: &Report) -> serde_json::Value {
    let tests: Vec<_> = report
        .results
        .iter()
        .map(|r| {
            let mut t = json!({
                "file": r.file.display().to_string(),
                "name": r.name,
            });
            match &r.outcome {
                Outcome::Passed => t["result"] = json!("ok"),
                Outcome::Updated => t["result"] = json!("updated"),
                Outcome::Failed(f) => {
                    t["result"] = json!("failed");
                    t["failures"] = json!(f);
                }
                Outcome::Error(e) => {
                    t["result"] = json!("error");
                    t["error"] = json!(e.to_string());
                }
            }
            t
        })
        .collect();
    json!({
        "tests": tests,
        "errors": report.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "summary": {
            "ok": report.is_ok(),
            "passed": report.passed(),
            "failed": report.failed(),
            "updated": report.updated(),
            "errors": report.bad_input(),
            "ms": (report.elapsed.as_secs_f64() * 10_000.0).round() / 10.0,
        },
    })
}
