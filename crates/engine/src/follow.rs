//! Following an operation this deployer started, or someone else's: its status through the
//! decision tables, its progress from the stack's resources, and a failure's reasons from the
//! stack's own events, nested stacks included.

use std::collections::HashMap;

use aws_sdk_cloudformation::types::{StackEvent, StackStatus};
use futures_util::future::BoxFuture;
use tracing::info;

use crate::aftermath;
use crate::error::DeployError;
use crate::events;
use crate::flight::{InFlight, Operation};
use crate::outcome::{Failure, Outcome, Remedy};
use crate::plan::Plan;
use crate::status::{self, PollStep, StartStep};
use crate::{now_epoch, outputs, stack_status, Deployer};

/// Cause lines of failed nested stacks, by nested stack id.
type NestedCauses = HashMap<String, Vec<String>>;

impl Deployer {
    /// Follows someone else's operation one step: `Some` while the stack is still busy, `None`
    /// once it is free (or gone) and the deploy can start.
    pub async fn wait(&self, flight: &InFlight) -> Result<Option<Outcome>, DeployError> {
        let Some(stack) = self.describe(&flight.stack_id).await? else {
            return Ok(None);
        };
        let status = stack_status(&stack);
        Ok(match status::on_start(&status) {
            StartStep::Wait => Some(Outcome::in_progress(
                flight.clone(),
                format!(
                    "{}: waiting for the stack's current operation to end before deploying",
                    status.as_str()
                ),
            )),
            _ => None,
        })
    }

    /// Follows a create or update this deployer started for `plan`: done (once its rollback
    /// triggers' watch is over), still going, or failed.
    pub async fn poll(&self, plan: &Plan, flight: &InFlight) -> Result<Outcome, DeployError> {
        let Some(stack) = self.describe(&flight.stack_id).await? else {
            return Ok(Outcome::Failed(
                Failure::deploy(
                    Some(flight.stack_id.clone()),
                    format!(
                        "Stack `{}` disappeared while the deploy was under way: someone deleted it",
                        flight.stack_name
                    ),
                )
                .with(&[Remedy::DeployAgain]),
            ));
        };
        let status = stack_status(&stack);
        match status::on_poll(&status) {
            PollStep::Succeeded => {
                if let Some(watching) = self.watch(plan, flight, &status).await? {
                    return Ok(watching);
                }
                info!(stack = %flight.stack_name, status = status.as_str(), "operation complete");
                Ok(Outcome::Succeeded {
                    stack_id: flight.stack_id.clone(),
                    summary: format!("Stack `{}` is {}", flight.stack_name, status.as_str()),
                    outputs: outputs(&stack),
                    review: None,
                    stack_status: Some(status.as_str().to_owned()),
                    drift: flight.drift.as_ref().and_then(|d| d.verdict.clone()),
                })
            }
            PollStep::InProgress => {
                let latest = self.newest_event(&flight.stack_id).await?;
                let mut summary = status.as_str().to_owned();
                let progress = match flight.resources {
                    Some(expected) => Some(self.progress(&flight.stack_id, expected).await?),
                    None => None,
                };
                if let Some((done, total)) = progress {
                    summary.push_str(&format!(": {done} of {total} resources done"));
                }
                if let Some(e) = latest {
                    summary.push_str("; latest event ");
                    summary.push_str(&events::describe_event(&e));
                }
                info!(stack = %flight.stack_name, status = status.as_str(), "operation in progress");
                Ok(Outcome::InProgress {
                    percent: progress
                        .and_then(|(done, total)| u8::try_from(done * 100 / total.max(1)).ok()),
                    flight: flight.clone(),
                    summary,
                })
            }
            PollStep::Failed => {
                let (mut message, events) = self.explain_failure(flight, status.as_str()).await?;
                // What was followed: a watch is over the create or update it watched.
                let operation = match flight.operation {
                    Operation::Monitor
                        if status.as_str().starts_with("CREATE")
                            || status.as_str().starts_with("ROLLBACK") =>
                    {
                        Operation::Create
                    }
                    Operation::Monitor => Operation::Update,
                    other => other,
                };
                let (said, remedies) = aftermath::aftermath(plan, operation, &status, &events);
                for sentence in said {
                    message.push(' ');
                    message.push_str(&sentence);
                }
                info!(stack = %flight.stack_name, status = status.as_str(), "operation failed");
                Ok(Outcome::Failed(
                    Failure::deploy(Some(flight.stack_id.clone()), message).with(&remedies),
                ))
            }
        }
    }

    /// Explains a failed operation from the stack's events and those of its failed nested
    /// stacks.
    pub(crate) async fn explain_failure(
        &self,
        flight: &InFlight,
        status: &str,
    ) -> Result<(String, Vec<StackEvent>), DeployError> {
        let events = self.operation_events(flight).await?;
        let nested = self.nested_causes(flight, &events, 1).await?;
        let text = events::explain(&flight.stack_name, status, &events, &nested);
        Ok((text, events))
    }

    /// A finished create or update whose rollback triggers CloudFormation may still be
    /// watching: the deploy succeeds only once the monitoring window has ended. The window
    /// runs from the operation's last resource event; CloudFormation keeps the operation in
    /// progress while it watches, so by then its window is usually over already.
    async fn watch(
        &self,
        plan: &Plan,
        flight: &InFlight,
        status: &StackStatus,
    ) -> Result<Option<Outcome>, DeployError> {
        let minutes = match (&plan.rollback, flight.operation) {
            (Some(r), Operation::Create | Operation::Update | Operation::Monitor)
                if r.monitoring_minutes > 0 =>
            {
                r.monitoring_minutes
            }
            _ => return Ok(None),
        };
        let until = match flight.monitor_until {
            Some(until) => until,
            None => {
                let events = self.operation_events(flight).await?;
                let last = events
                    .iter()
                    .filter(|e| e.logical_resource_id() != Some(flight.stack_name.as_str()))
                    .filter_map(|e| e.timestamp().map(|t| t.secs()))
                    .max()
                    .unwrap_or_else(now_epoch);
                last + i64::from(minutes) * 60
            }
        };
        if now_epoch() >= until {
            return Ok(None);
        }
        let mut watching = flight.as_operation(Operation::Monitor);
        watching.monitor_until = Some(until);
        info!(stack = %flight.stack_name, until, "watching the rollback triggers");
        Ok(Some(Outcome::in_progress(
            watching,
            format!(
                "{}: watching the rollback triggers for {} more s (MonitoringTimeInMinutes {minutes})",
                status.as_str(),
                until - now_epoch()
            ),
        )))
    }

    /// The cause lines of the failed nested stacks among `events`, read from their own events,
    /// down to [`MAX_NESTING`] levels.
    fn nested_causes<'a>(
        &'a self,
        flight: &'a InFlight,
        events: &'a [StackEvent],
        depth: usize,
    ) -> BoxFuture<'a, Result<NestedCauses, DeployError>> {
        /// How deep nested stacks are followed.
        const MAX_NESTING: usize = 3;
        Box::pin(async move {
            let mut found = HashMap::new();
            if depth > MAX_NESTING {
                return Ok(found);
            }
            for (_, id) in events::failed_nested_stacks(&flight.stack_name, events) {
                // The nested stack's name is the ARN's middle part: stack/NAME/uuid.
                let name = id.split('/').nth(1).unwrap_or(&id).to_owned();
                let inner = InFlight {
                    stack_name: name.clone(),
                    stack_id: id.clone(),
                    ..flight.clone()
                };
                let inner_events = self.operation_events(&inner).await?;
                let deeper = self.nested_causes(&inner, &inner_events, depth + 1).await?;
                let failures = events::failures(&name, &inner_events, &deeper);
                found.insert(id, failures.causes);
            }
            Ok(found)
        })
    }

    /// Resources settled (in a `*_COMPLETE` state) out of those the template declares or the
    /// stack lists, whichever is more.
    async fn progress(&self, stack_id: &str, expected: u32) -> Result<(u32, u32), DeployError> {
        /// Pages read at most (100 resources each).
        const MAX_PAGES: usize = 5;
        let (mut done, mut listed) = (0u32, 0u32);
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .list_stack_resources()
                .stack_name(stack_id)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| DeployError::new("ListStackResources", stack_id, e))?;
            for resource in out.stack_resource_summaries() {
                listed += 1;
                if resource
                    .resource_status()
                    .is_some_and(|s| status::resource_done(s.as_str()))
                {
                    done += 1;
                }
            }
            match out.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        let total = expected.max(listed);
        Ok((done.min(total), total))
    }

    pub(crate) async fn newest_event(
        &self,
        stack_id: &str,
    ) -> Result<Option<StackEvent>, DeployError> {
        let out = self
            .cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| DeployError::new("DescribeStackEvents", stack_id, e))?;
        Ok(out.stack_events.unwrap_or_default().into_iter().next())
    }

    /// The events of the operation being followed, newest first, up to the event that opened it.
    async fn operation_events(&self, flight: &InFlight) -> Result<Vec<StackEvent>, DeployError> {
        /// Pages read at most; an operation on a huge stack is explained from its latest events.
        const MAX_PAGES: usize = 10;
        /// Clocks differ; events this much older than the deploy's start still count.
        const SKEW_SECS: i64 = 300;
        let mut collected = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .describe_stack_events()
                .stack_name(&flight.stack_id)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| DeployError::new("DescribeStackEvents", &flight.stack_id, e))?;
            for event in out.stack_events.unwrap_or_default() {
                let too_old = event
                    .timestamp()
                    .is_some_and(|t| t.secs() < flight.started - SKEW_SECS);
                if too_old {
                    return Ok(collected);
                }
                let opens = events::opens_operation(&event, &flight.stack_name);
                collected.push(event);
                if opens {
                    return Ok(collected);
                }
            }
            match out.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        Ok(collected)
    }
}
