//! Following a stack group while the action runs: every stack's status, read by the local
//! pipeline itself, shown as one row per stack with its wave, as the resources of one stack
//! are shown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use cfn_deployer_engine::status;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::resources::{Row, Snapshot};
use super::View;
use crate::proxy::Stats;

/// One stack of the group, as the header names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStack {
    /// The wave it deploys in.
    pub wave: usize,
    /// Its id in the manifest.
    pub id: String,
    /// The stack's name.
    pub name: String,
    /// The ids it waits for.
    pub after: Vec<String>,
    /// Where it lies, when in another account or Region (`222222222222 / eu-west-1`).
    pub place: Option<String>,
}

/// The watcher, running until [`GroupWatcher::stop`].
pub struct GroupWatcher {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl GroupWatcher {
    /// Starts following `stacks`, each with its client in `cfn` (in its own account and
    /// Region), every `every`; with `gate` (the proxy in front of moto), each look waits for
    /// the calls that build resources to be answered.
    pub fn start(
        cfn: Vec<Client>,
        stacks: Vec<GroupStack>,
        view: View,
        every: Duration,
        gate: Option<Arc<Stats>>,
    ) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut ids = HashMap::new();
            loop {
                view.resources(&look(&cfn, &stacks, &mut ids, gate.as_deref()).await);
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
            }
            view.resources(&look(&cfn, &stacks, &mut ids, gate.as_deref()).await);
        });
        Self { stop, task }
    }

    /// Takes a last look and stops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Every stack's status now: a row each, `w<wave> <id>` beside the stack's name; a stack not
/// yet created is `NOT_STARTED`, one deleted is found by the id seen before.
async fn look(
    cfn: &[Client],
    stacks: &[GroupStack],
    ids: &mut HashMap<String, String>,
    gate: Option<&Stats>,
) -> Snapshot {
    let _reading = match gate {
        Some(stats) => Some(stats.stack_reads().await),
        None => None,
    };
    let mut rows = Vec::with_capacity(stacks.len());
    for (stack, cfn) in stacks.iter().zip(cfn) {
        let name = ids
            .get(&stack.name)
            .cloned()
            .unwrap_or_else(|| stack.name.clone());
        let found = cfn
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .ok()
            .and_then(|out| out.stacks.and_then(|s| s.into_iter().next()));
        if let Some(id) = found.as_ref().and_then(|s| s.stack_id()) {
            ids.insert(stack.name.clone(), id.to_owned());
        }
        let status = found
            .and_then(|s| s.stack_status().map(|st| st.as_str().to_owned()))
            .unwrap_or_else(|| "NOT_STARTED".into());
        rows.push(Row {
            logical_id: format!("w{} {}", stack.wave, stack.id),
            resource_type: match &stack.place {
                Some(place) => format!("{} in {place}", stack.name),
                None => stack.name.clone(),
            },
            status,
        });
    }
    let done = rows
        .iter()
        .filter(|r| status::resource_done(&r.status))
        .count();
    Snapshot {
        stack_status: None,
        done: done as u64,
        total: rows.len() as u64,
        failure: None,
        rows,
    }
}
