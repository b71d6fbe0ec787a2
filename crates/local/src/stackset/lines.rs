//! The stack-set operations as lines of the live view, one per account as each operation ends:
//! `stack set baseline update: 111111111111 eu-west-1 SUCCEEDED, us-east-1 FAILED (reason)`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::proxy::Stats;
use crate::view::View;

/// Shows each operation the proxy played once it ends, until stopped.
pub(crate) struct SetLines {
    task: tokio::task::JoinHandle<()>,
    stats: Arc<Stats>,
    view: View,
    shown: Arc<AtomicUsize>,
}

impl SetLines {
    /// Starts showing what `stats` records in `view`.
    pub(crate) fn start(stats: Arc<Stats>, view: View) -> Self {
        let shown = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let (stats, view, shown) = (stats.clone(), view.clone(), shown.clone());
            async move {
                loop {
                    stats.stack_set_ends().wait().await;
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
        let ended = stats.stack_set_ends().all();
        let from = shown.swap(ended.len(), Ordering::SeqCst);
        for op in ended.iter().skip(from) {
            for line in op.lines() {
                view.note(line);
            }
        }
    }

    /// Shows what ended since the last line, then stops.
    pub(crate) async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        Self::show(&self.stats, &self.view, &self.shown);
    }
}
