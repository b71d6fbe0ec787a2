//! Following the stack while the action runs: the local pipeline reads the stack's resources
//! and events itself, with its own credentials, and hands each [`Snapshot`] to the view.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudformation::types::{StackEvent, StackResourceSummary};
use aws_sdk_cloudformation::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::resources::{snapshot, this_operation, Snapshot};
use super::View;
use crate::proxy::Stats;

/// The watcher, running until [`Watcher::stop`].
pub struct Watcher {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What the watcher reads.
struct Target {
    cfn: Client,
    stack_name: String,
    /// The stack's id, once seen: a deleted stack is found by its id only.
    stack_id: Option<String>,
    template_total: Option<u32>,
    since: SystemTime,
}

impl Watcher {
    /// Starts following `stack_name`, every `every`, from now on; with `gate` (the proxy in
    /// front of moto), each look waits for the calls that build resources to be answered.
    pub fn start(
        cfn: Client,
        stack_name: String,
        template_total: Option<u32>,
        view: View,
        every: Duration,
        gate: Option<Arc<Stats>>,
    ) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        // The clocks of this machine and CloudFormation's differ a little.
        let since = SystemTime::now() - Duration::from_secs(2);
        let mut target = Target {
            cfn,
            stack_name,
            stack_id: None,
            template_total,
            since,
        };
        let task = tokio::spawn(async move {
            loop {
                if let Some(s) = target.look_gated(gate.as_deref()).await {
                    view.resources(&s);
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
            }
            // One last look, so that the view ends on the final statuses.
            if let Some(s) = target.look_gated(gate.as_deref()).await {
                view.resources(&s);
            }
        });
        Self { stop, task }
    }

    /// Takes a last look and stops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Target {
    /// [`Target::look`], once `gate` lets it.
    async fn look_gated(&mut self, gate: Option<&Stats>) -> Option<Snapshot> {
        let _reading = match gate {
            Some(stats) => Some(stats.stack_reads().await),
            None => None,
        };
        self.look().await
    }

    /// The stack now; `None` while it does not exist (or cannot be read).
    async fn look(&mut self) -> Option<Snapshot> {
        let id = self
            .stack_id
            .clone()
            .unwrap_or_else(|| self.stack_name.clone());
        let stack = self
            .cfn
            .describe_stacks()
            .stack_name(&id)
            .send()
            .await
            .ok()?
            .stacks
            .and_then(|s| s.into_iter().next())?;
        if let Some(stack_id) = stack.stack_id() {
            self.stack_id = Some(stack_id.to_owned());
        }
        let status = stack.stack_status().map(|s| s.as_str().to_owned());
        let resources = self.resources(&id).await;
        let events = self.events(&id).await;
        let operation = this_operation(&self.stack_name, &events, self.since);
        Some(snapshot(
            &self.stack_name,
            status,
            &resources,
            operation,
            self.template_total,
        ))
    }

    async fn resources(&self, id: &str) -> Vec<StackResourceSummary> {
        let mut pages = self
            .cfn
            .list_stack_resources()
            .stack_name(id)
            .into_paginator()
            .items()
            .send();
        let mut all = Vec::new();
        while let Some(Ok(resource)) = pages.next().await {
            all.push(resource);
        }
        all
    }

    /// The stack's newest events: the first page is this run's operation but for the largest
    /// stacks, and the view needs only the newest failure.
    async fn events(&self, id: &str) -> Vec<StackEvent> {
        self.cfn
            .describe_stack_events()
            .stack_name(id)
            .send()
            .await
            .ok()
            .and_then(|out| out.stack_events)
            .unwrap_or_default()
    }
}
