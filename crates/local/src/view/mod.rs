//! What the local pipeline shows a person: a header, the stack's resources live while the
//! operation runs, and at the end the outputs and one verdict. Plain lines, without cursor
//! movement, when the output is not a terminal or `NO_COLOR` is set; one JSON summary with
//! `--json`. The function's own log lines appear only when asked for.

pub mod group;
mod live;
pub mod report;
pub mod resources;
pub mod watch;

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use cfn_deployer_artifact::Location;

use self::live::Live;
use self::resources::{Row, Snapshot};

/// How the view is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A terminal: lines updated in place, colors.
    Live,
    /// One line per change, nothing redrawn: a log file, a CI job, `NO_COLOR`.
    Plain,
    /// Nothing but one JSON summary at the end, on stdout.
    Json,
}

impl Style {
    /// `Json` when asked for, else `Live` on a terminal without `NO_COLOR` (or `TERM=dumb`),
    /// else `Plain`.
    pub fn detect(json: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        match json {
            true => Self::Json,
            false if std::io::stdout().is_terminal() && !no_color && !dumb => Self::Live,
            false => Self::Plain,
        }
    }
}

/// What the header says: which pipeline, which action, what it deploys.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// The front that takes the job: "Lambda Invoke action", …
    pub front: String,
    /// The action mode, when the settings name one that is valid.
    pub mode: Option<String>,
    /// The stack, when the settings name it.
    pub stack: Option<String>,
    /// Where the stack lies, when in another account or Region (`222222222222 / eu-west-1`).
    pub place: Option<String>,
    /// The stack group, when the settings name one whose manifest could be read.
    pub group: Option<GroupHeader>,
    /// The stack set and what the job does to it, when the settings name one.
    pub stack_set: Option<String>,
}

/// What the header says of a stack group.
#[derive(Debug, Clone, Default)]
pub struct GroupHeader {
    /// The manifest's path in the artifact.
    pub file: String,
    /// Stacks under way at once.
    pub max_concurrency: usize,
    /// The stacks, in the order they deploy.
    pub stacks: Vec<group::GroupStack>,
}

impl GroupHeader {
    fn lines(&self) -> Vec<String> {
        let waves = self.stacks.iter().map(|s| s.wave).max().unwrap_or(0);
        let width = self.stacks.iter().map(|s| s.id.len()).max().unwrap_or(0);
        let mut lines = vec![format!(
            "  stack group {}: {} stacks in {waves} wave(s), at most {} at once",
            self.file,
            self.stacks.len(),
            self.max_concurrency
        )];
        lines.extend(self.stacks.iter().map(|s| {
            let after = match s.after.is_empty() {
                true => String::new(),
                false => format!(" (after {})", s.after.join(", ")),
            };
            let place = s
                .place
                .as_ref()
                .map(|p| format!(" in {p}"))
                .unwrap_or_default();
            format!(
                "    wave {}  {:width$}  {}{place}{after}",
                s.wave, s.id, s.name
            )
        }));
        lines
    }
}

/// The pipeline's name in the header and in the jobs it hands out.
pub const PIPELINE: &str = "local-pipeline";

/// The view, shared by everything the run starts.
#[derive(Clone)]
pub struct View(Arc<Inner>);

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("style", &self.0.style)
            .field("verbose", &self.0.verbose)
            .finish_non_exhaustive()
    }
}

struct Inner {
    style: Style,
    verbose: bool,
    header: Header,
    started: Instant,
    live: Option<Live>,
    plain: Mutex<Plain>,
}

/// What plain lines have said already, so that each change is said once.
#[derive(Default)]
struct Plain {
    statuses: HashMap<String, String>,
    failure: Option<String>,
    last: Option<Snapshot>,
}

impl View {
    /// A view in `style`; the function's and workers' own log lines shown when `verbose`.
    pub fn new(style: Style, verbose: bool, header: Header) -> Self {
        Self(Arc::new(Inner {
            live: (style == Style::Live).then(Live::new),
            style,
            verbose,
            header,
            started: Instant::now(),
            plain: Mutex::default(),
        }))
    }

    /// A view that shows nothing: for library callers and tests that read the summary.
    pub fn quiet() -> Self {
        Self::new(Style::Json, false, Header::default())
    }

    /// How it is drawn.
    pub fn style(&self) -> Style {
        self.0.style
    }

    /// The stack the header names.
    pub fn stack(&self) -> Option<&str> {
        self.0.header.stack.as_deref()
    }

    /// The stack group the header names.
    pub fn group(&self) -> Option<&GroupHeader> {
        self.0.header.group.as_ref()
    }

    fn plain(&self) -> std::sync::MutexGuard<'_, Plain> {
        self.0.plain.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn line(&self, text: &str) {
        match (&self.0.live, self.0.style) {
            (Some(live), _) => live.println(text),
            (None, Style::Plain) => println!("{text}"),
            (None, _) => {}
        }
    }

    /// The header, once the artifact is in place.
    pub fn begin(&self, artifact: &str, location: &Location) {
        let h = &self.0.header;
        let title = format!("▶ {PIPELINE} · Deploy · {}", h.front);
        let placed = h.stack.as_ref().map(|s| match &h.place {
            Some(place) => format!("{s} in {place}"),
            None => s.clone(),
        });
        let what: Vec<&str> = [placed.as_deref(), h.mode.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let stack = match (what.is_empty(), &h.group) {
            (_, Some(group)) => group.lines().join("\n"),
            (_, None) if h.stack_set.is_some() => {
                format!("  stack set {}", h.stack_set.as_deref().unwrap_or_default())
            }
            (true, None) => "  stack: not known until the settings are valid".to_owned(),
            (false, None) => format!("  stack {}", what.join(" · ")),
        };
        let artifact = format!("  artifact {artifact} at {location}");
        match &self.0.live {
            Some(live) => {
                live.println(&console::style(title).bold().to_string());
                live.println(&stack);
                live.println(&console::style(artifact).dim().to_string());
            }
            None => {
                self.line(&title);
                self.line(&stack);
                self.line(&artifact);
            }
        }
    }

    /// A line worth keeping: a retry, a refusal, a worker stopped.
    pub fn note(&self, text: impl AsRef<str>) {
        self.line(text.as_ref());
    }

    /// A detail for the record: a line when plain, shown live only when verbose.
    pub fn detail(&self, text: impl AsRef<str>) {
        if self.0.live.is_none() || self.0.verbose {
            self.line(text.as_ref());
        }
    }

    /// Where the action stands: a job handed out, a continuation. Live, it updates the status
    /// line; plain, it is a line.
    pub fn progress(&self, text: impl AsRef<str>) {
        match &self.0.live {
            Some(live) => live.progress(text.as_ref()),
            None => self.line(text.as_ref()),
        }
    }

    /// A log line of the process `source` (the function, a worker, the interpreter): shown only
    /// when verbose, on stderr unless live.
    pub fn log(&self, source: &str, text: &str) {
        if !self.0.verbose {
            return;
        }
        let line = format!("  {source:>2} │ {text}");
        match &self.0.live {
            Some(live) => live.println(&console::style(line).dim().to_string()),
            None => eprintln!("{line}"),
        }
    }

    /// The stack as it stands now.
    pub fn resources(&self, snapshot: &Snapshot) {
        if let Some(live) = &self.0.live {
            live.resources(snapshot);
            return;
        }
        if self.0.style != Style::Plain {
            return;
        }
        let mut plain = self.plain();
        for row in &snapshot.rows {
            if plain.statuses.get(&row.logical_id) != Some(&row.status) {
                plain
                    .statuses
                    .insert(row.logical_id.clone(), row.status.clone());
                println!("  {}", row_text(row, 28, 32));
            }
        }
        if snapshot.failure.is_some() && snapshot.failure != plain.failure {
            plain.failure.clone_from(&snapshot.failure);
            println!("  ✘ {}", snapshot.failure.as_deref().unwrap_or_default());
        }
        plain.last = Some(snapshot.clone());
    }

    /// The run is over: the live lines stay as they are; plain, the count of resources done.
    pub fn finish(&self) {
        if let Some(live) = &self.0.live {
            live.finish();
            return;
        }
        if self.0.style != Style::Plain {
            return;
        }
        let plain = self.plain();
        if let Some(last) = plain.last.as_ref().filter(|s| s.total > 0) {
            println!(
                "  {}/{} {} · {:.1} s",
                last.done,
                last.total,
                if self.0.header.group.is_some() {
                    "stacks"
                } else {
                    "resources"
                },
                self.0.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Prints the end of the run: the report's lines, or its JSON.
    pub fn end(&self, report: &report::Report) {
        match self.0.style {
            Style::Json => println!("{}", report.json()),
            Style::Plain => {
                for line in report.lines() {
                    println!("{line}");
                }
            }
            Style::Live => {
                for (kind, line) in report.styled_lines() {
                    let styled = match kind {
                        report::Kind::Title => console::style(line).bold(),
                        report::Kind::Row => console::style(line),
                        report::Kind::Figure => console::style(line).dim(),
                        report::Kind::Verdict if report.succeeded() => {
                            console::style(line).green().bold()
                        }
                        report::Kind::Verdict => console::style(line).red().bold(),
                    };
                    println!("{styled}");
                }
            }
        }
    }
}

/// A resource's line: a mark, its logical id and type in columns, its status.
fn row_text(row: &Row, id_width: usize, type_width: usize) -> String {
    let mark = if row.failed() {
        '✘'
    } else if row.in_progress() {
        '•'
    } else {
        '✔'
    };
    format!(
        "{mark} {:<id_width$}  {:<type_width$}  {}",
        row.logical_id, row.resource_type, row.status
    )
}
