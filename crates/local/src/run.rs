//! Running one pipeline action locally: the run's common ground prepared, the live view
//! started, then the jobs handed to the front the options name until the action ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use crate::error::LocalError;
use crate::options::{Front, Options};
use crate::outcome::Summary;
use crate::proxy::{Proxy, Stats};
use crate::stackset::lines::SetLines;
use crate::stage::Stage;
use crate::view::group::GroupWatcher;
use crate::view::watch::Watcher;
use crate::view::{Style, View};

/// Runs the action: uploads the artifact, then hands out jobs, to the function or to workers,
/// until one ends the action.
pub async fn run(sdk: &SdkConfig, opts: &Options) -> Result<Summary, LocalError> {
    let stage = Stage::prepare(sdk, opts).await?;
    opts.view.begin(&opts.artifact_name, &stage.location);
    let watcher = match (opts.view.stack(), opts.view.style()) {
        (Some(stack), Style::Live | Style::Plain) => Some(Watcher::start(
            aws_sdk_cloudformation::Client::new(opts.stack_sdk.as_ref().unwrap_or(sdk)),
            stack.to_owned(),
            opts.template_resources,
            opts.view.clone(),
            opts.poll_interval.clamp(WATCH_MIN, WATCH_MAX),
            stage.proxy.as_ref().map(Proxy::shared_stats),
        )),
        _ => None,
    };
    let group = match (opts.view.group(), opts.view.style()) {
        (Some(group), Style::Live | Style::Plain) => Some(GroupWatcher::start(
            (0..group.stacks.len())
                .map(|i| {
                    let own = opts.group_sdks.get(i).and_then(Option::as_ref);
                    aws_sdk_cloudformation::Client::new(own.unwrap_or(sdk))
                })
                .collect(),
            group.stacks.clone(),
            opts.view.clone(),
            opts.poll_interval.clamp(WATCH_MIN, WATCH_MAX),
            stage.proxy.as_ref().map(Proxy::shared_stats),
        )),
        _ => None,
    };
    let (drift, sets) = match (&stage.proxy, opts.view.style()) {
        (Some(proxy), Style::Live | Style::Plain) => (
            Some(DriftLines::start(proxy.shared_stats(), opts.view.clone())),
            Some(SetLines::start(proxy.shared_stats(), opts.view.clone())),
        ),
        _ => (None, None),
    };
    let summary = match &opts.front {
        Front::Function => crate::lambda::run(stage, opts).await,
        Front::Worker(worker) => crate::worker::run(stage, opts, worker).await,
        Front::StepFunctions(sfn) => crate::sfn::run(stage, opts, sfn).await,
    };
    if let Some(watcher) = watcher {
        watcher.stop().await;
    }
    if let Some(group) = group {
        group.stop().await;
    }
    if let Some(drift) = drift {
        drift.stop().await;
    }
    if let Some(sets) = sets {
        sets.stop().await;
    }
    opts.view.finish();
    summary
}

/// The drift checks as lines of their own, `drift check app-api DRIFTED: 1 resource (Topic
/// MODIFIED)`, each shown once as it ends.
struct DriftLines {
    task: tokio::task::JoinHandle<()>,
    stats: Arc<Stats>,
    view: View,
    shown: Arc<AtomicUsize>,
}

impl DriftLines {
    fn start(stats: Arc<Stats>, view: View) -> Self {
        let shown = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let (stats, view, shown) = (stats.clone(), view.clone(), shown.clone());
            async move {
                loop {
                    stats.drift_check_ended().await;
                    Self::show(&stats, &view, &shown);
                }
            }
        });
        Self {
            task,
            stats,
            view,
            shown,
        }
    }

    fn show(stats: &Stats, view: &View, shown: &AtomicUsize) {
        let checks = stats.drift_checks();
        let from = shown.swap(checks.len(), Ordering::SeqCst);
        for check in checks.iter().skip(from) {
            view.note(format!("drift check {} {}", check.stack, check.verdict));
        }
    }

    /// Shows what ended since the last line, then stops.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        Self::show(&self.stats, &self.view, &self.shown);
    }
}

/// The live view reads the stack at most this often: CloudFormation's API rate is shared with
/// the function's own calls.
const WATCH_MIN: Duration = Duration::from_millis(500);
/// … and at least this often, however long the pipeline waits between jobs.
const WATCH_MAX: Duration = Duration::from_secs(3);
