//! The view on a terminal: the stack's resources as lines updated in place, a progress bar
//! with the count done and the time taken, and the latest failure, drawn with `indicatif`.

use cfn_deployer_engine::status::{resource_failed, resource_in_progress};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::resources::{visible, Row, Snapshot};

/// The most resource lines drawn at once; the rest are counted in one line.
const MAX_ROWS: usize = 15;

pub(super) struct Live {
    multi: MultiProgress,
    bar: ProgressBar,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rows: Vec<ProgressBar>,
    failure: Option<ProgressBar>,
    stack_status: Option<String>,
    progress: Option<String>,
}

fn bar_style(ticking: bool) -> ProgressStyle {
    let template = if ticking {
        "{spinner:.cyan} {bar:24.cyan/blue} {pos}/{len} resources · {elapsed} · {msg}"
    } else {
        "  {bar:24.cyan/blue} {pos}/{len} resources · {elapsed} · {msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("━╸─")
}

fn line_style() -> ProgressStyle {
    ProgressStyle::with_template("{wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Live {
    pub(super) fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(10));
        let bar = multi.add(ProgressBar::new(0).with_style(bar_style(true)));
        bar.enable_steady_tick(Duration::from_millis(120));
        Self {
            multi,
            bar,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A line above the live lines, kept.
    pub(super) fn println(&self, text: &str) {
        // Drawing fails only when the terminal is gone; the line goes with it.
        let _ = self.multi.println(text);
    }

    pub(super) fn progress(&self, text: &str) {
        let mut state = self.state();
        state.progress = Some(text.to_owned());
        self.bar.set_message(message(&state));
    }

    pub(super) fn resources(&self, snapshot: &Snapshot) {
        let mut state = self.state();
        let (shown, hidden) = visible(&snapshot.rows, MAX_ROWS);
        let id_width = shown
            .iter()
            .map(|r| r.logical_id.chars().count())
            .max()
            .unwrap_or(0)
            .min(32);
        let type_width = shown
            .iter()
            .map(|r| r.resource_type.chars().count())
            .max()
            .unwrap_or(0)
            .min(40);
        let mut lines: Vec<String> = shown
            .iter()
            .map(|r| colored_row(r, id_width, type_width))
            .collect();
        if hidden > 0 {
            lines.push(style(format!("  … and {hidden} more")).dim().to_string());
        }
        while state.rows.len() < lines.len() {
            let row = self
                .multi
                .insert_before(&self.bar, ProgressBar::new(0).with_style(line_style()));
            state.rows.push(row);
        }
        while state.rows.len() > lines.len() {
            if let Some(row) = state.rows.pop() {
                self.multi.remove(&row);
            }
        }
        for (row, line) in state.rows.iter().zip(lines) {
            row.set_message(line);
        }
        match (&snapshot.failure, &state.failure) {
            (Some(reason), Some(bar)) => bar.set_message(failure_text(reason)),
            (Some(reason), None) => {
                let bar = self
                    .multi
                    .insert_after(&self.bar, ProgressBar::new(0).with_style(line_style()));
                bar.set_message(failure_text(reason));
                state.failure = Some(bar);
            }
            (None, _) => {}
        }
        self.bar.set_length(snapshot.total);
        self.bar.set_position(snapshot.done);
        state.stack_status.clone_from(&snapshot.stack_status);
        self.bar.set_message(message(&state));
    }

    /// Leaves the lines as they stand; the bar goes when no stack was ever seen.
    pub(super) fn finish(&self) {
        let mut state = self.state();
        state.progress = None;
        self.bar.set_message(message(&state));
        for row in &state.rows {
            row.finish();
        }
        if let Some(bar) = &state.failure {
            bar.finish();
        }
        if self.bar.length().unwrap_or(0) == 0 {
            self.bar.finish_and_clear();
        } else {
            self.bar.set_style(bar_style(false));
            self.bar.finish();
            // The finished lines stay; what follows starts below them.
            println!();
        }
    }
}

fn message(state: &State) -> String {
    let mut parts = Vec::new();
    if let Some(status) = &state.stack_status {
        parts.push(colored_status(status));
    }
    if let Some(progress) = &state.progress {
        parts.push(progress.clone());
    }
    parts.join(" · ")
}

fn failure_text(reason: &str) -> String {
    format!("  {} {}", style("✘").red().bold(), style(reason).red())
}

fn colored_status(status: &str) -> String {
    if resource_failed(status) || status.contains("ROLLBACK") {
        style(status).red().to_string()
    } else if resource_in_progress(status) {
        style(status).yellow().to_string()
    } else {
        style(status).green().to_string()
    }
}

fn colored_row(row: &Row, id_width: usize, type_width: usize) -> String {
    let mark = if row.failed() {
        style("✘").red().bold()
    } else if row.in_progress() {
        style("•").yellow()
    } else {
        style("✔").green()
    };
    format!(
        "  {mark} {:<id_width$}  {}  {}",
        row.logical_id,
        style(format!("{:<type_width$}", row.resource_type)).dim(),
        colored_status(&row.status)
    )
}
