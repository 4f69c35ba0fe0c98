//! Shows engine events on stderr: one indicatif line per resource on a
//! terminal (`userDeployment  2/3 ready`), plain lines when stderr is a pipe
//! or a file, and one JSON object per line with `--output json`, so stdout
//! keeps only the result document.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kroxide_engine::{Event, Progress};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How events are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Bars,
    Lines,
    Json,
}

impl Style {
    /// Bars on a terminal, lines otherwise, JSON when the output is JSON.
    pub fn pick(json: bool) -> Self {
        if json {
            Style::Json
        } else if std::io::stderr().is_terminal() {
            Style::Bars
        } else {
            Style::Lines
        }
    }
}

struct Bars {
    multi: MultiProgress,
    /// The look of every resource's line, parsed once.
    line: ProgressStyle,
    bars: BTreeMap<String, ProgressBar>,
}

/// A progress display; clone its [`Progress`] into the engine options.
pub struct Display {
    style: Style,
    bars: Mutex<Bars>,
}

impl Display {
    pub fn new(style: Style) -> Arc<Self> {
        Arc::new(Display {
            style,
            bars: Mutex::new(Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                line: ProgressStyle::with_template("  {spinner} {prefix:<24} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                bars: BTreeMap::new(),
            }),
        })
    }

    pub fn progress(self: &Arc<Self>) -> Progress {
        let me = self.clone();
        Progress::new(move |e| me.show(e))
    }

    /// A line that is not an event (kept above the bars on a terminal).
    pub fn note(&self, line: &str) {
        match self.style {
            Style::Bars => {
                if let Ok(b) = self.bars.lock() {
                    let _ = b.multi.println(line);
                }
            }
            Style::Lines => eprintln!("{line}"),
            Style::Json => eprintln!("{}", serde_json::json!({"event": "note", "message": line})),
        }
    }

    /// Ends every bar (before the result is printed).
    pub fn finish(&self) {
        if let Ok(mut b) = self.bars.lock() {
            for (_, bar) in std::mem::take(&mut b.bars) {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
        }
    }

    fn show(&self, e: &Event) {
        match self.style {
            Style::Json => {
                if let Ok(line) = serde_json::to_string(e) {
                    eprintln!("{line}");
                }
            }
            Style::Lines => match e {
                // Replica counts change often; a log keeps only the milestones.
                Event::Waiting { .. } => {}
                Event::Applied { .. } | Event::Ready { .. } | Event::State { .. } => {
                    eprintln!("    {e}")
                }
                _ => eprintln!("  {e}"),
            },
            Style::Bars => self.bar(e),
        }
    }

    fn bar(&self, e: &Event) {
        let Ok(mut b) = self.bars.lock() else {
            return;
        };
        match e {
            Event::WaveStarted { ids, .. } => {
                let _ = b.multi.println(format!("  {e}"));
                for id in ids {
                    let bar = b.multi.add(ProgressBar::new_spinner());
                    bar.set_style(b.line.clone());
                    bar.set_prefix(id.clone());
                    bar.set_message("applying");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    b.bars.insert(id.clone(), bar);
                }
            }
            Event::Applied { id, changed, .. } => {
                if let Some(bar) = b.bars.get(id) {
                    bar.set_message(if *changed { "applied" } else { "unchanged" });
                }
            }
            Event::Waiting { id, ready, total } => {
                if let Some(bar) = b.bars.get(id) {
                    bar.set_message(format!("{ready}/{total} ready"));
                }
            }
            Event::Ready { id } => {
                if let Some(bar) = b.bars.remove(id) {
                    bar.finish_with_message("ready");
                }
            }
            Event::State { id, state } => {
                if let Some(bar) = b.bars.remove(id) {
                    bar.abandon_with_message(state.to_string());
                } else {
                    let _ = b.multi.println(format!("    {id}: {state}"));
                }
            }
            other => {
                let _ = b.multi.println(format!("  {other}"));
            }
        }
    }
}
