//! Change sets: creating one for review (`CHANGE_SET_REPLACE`), reading its review (every page,
//! nested stacks' change sets too) with a readable summary of what it would change, and
//! executing one (`CHANGE_SET_EXECUTE`).

use std::collections::HashSet;

use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{
    ChangeSetStatus, ChangeSetType, DeploymentMode, ExecutionStatus, StackStatus,
};
use futures_util::future::BoxFuture;
use tracing::info;

use crate::drift::DriftStatus;
use crate::error::{is_missing_change_set, DeployError, StepError};
use crate::flight::{InFlight, Operation};
use crate::outcome::{Failure, Outcome, Remedy};
use crate::plan::{Inputs, Plan};
use crate::review::{Review, ReviewChange, REDACTED};
use crate::start::{blocked, stack_request, Lazy};
use crate::status::{self, PollStep, StartStep};
use crate::{stack_status, Deployer};

/// CloudFormation fails a change set that would change nothing, saying "The submitted
/// information didn't contain changes." (or, for some updates, "No updates are to be
/// performed."); there is no error code for it. Such a change set is a success: nothing to do.
pub fn is_empty_change_set(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// What a change set's status means while it is being created.
pub fn on_change_set(status: &ChangeSetStatus) -> PollStep {
    match status {
        // Still being computed.
        ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress => PollStep::InProgress,
        // Ready for review.
        ChangeSetStatus::CreateComplete => PollStep::Succeeded,
        // Could not be created (or would change nothing: see `is_empty_change_set`).
        ChangeSetStatus::Failed => PollStep::Failed,
        // Deleted while being followed, or a status newer than this build.
        _ => PollStep::Failed,
    }
}

/// The longest summary a pipeline console shows (CodePipeline's `executionDetails.summary`).
pub const MAX_SUMMARY: usize = 2048;

/// How deep nested stacks' change sets are expanded.
const MAX_NESTING: usize = 3;

/// Pages of changes read at most (CloudFormation returns up to 100 changes a page).
const MAX_PAGES: usize = 10;

impl Deployer {
    /// Creates the change set `name` for `plan` (replacing one of the same name), to be
    /// followed with [`Deployer::poll_change_set`].
    pub(crate) async fn create_change_set<I: Inputs>(
        &self,
        plan: &Plan,
        name: &str,
        inputs: &mut Lazy<'_, I>,
    ) -> Result<Outcome, StepError<I::Error>> {
        let stack = self.describe(&plan.stack_name).await?;
        let change_type = match &stack {
            None => ChangeSetType::Create,
            Some(s) => match stack_status(s) {
                // A stack that only ever had change sets is still created by one.
                StackStatus::ReviewInProgress => ChangeSetType::Create,
                st => match status::on_start(&st) {
                    StartStep::Update => ChangeSetType::Update,
                    StartStep::Create => ChangeSetType::Create,
                    StartStep::Wait => {
                        let stack_id = s.stack_id().unwrap_or(&plan.stack_name).to_owned();
                        return Ok(Outcome::in_progress(
                            InFlight::new(plan, stack_id, Operation::Wait),
                            format!("{}: waiting for the stack's current operation to end before creating change set `{name}`", st.as_str()),
                        ));
                    }
                    StartStep::Blocked(blocker) => return Ok(blocked(plan, Some(s), &blocker)),
                },
            },
        };
        let plan = &match self.roles.apply(plan, stack.as_ref()) {
            Ok(applied) => applied,
            Err(refused) => return Ok(Outcome::Failed(refused)),
        };
        match &stack {
            Some(s) if change_type == ChangeSetType::Update => {
                let id = s.stack_id().unwrap_or(&plan.stack_name);
                if let Some(first) = self.drift_first(plan, id).await? {
                    return Ok(first);
                }
            }
            _ if plan.revert_drift => return Ok(crate::start::refused_on_new(plan)),
            _ => {}
        }
        let prepared = inputs.get(plan).await?;
        let parameters = match &stack {
            Some(s) if change_type == ChangeSetType::Update => {
                self.update_parameters(plan, prepared, s).await?
            }
            _ => prepared.overrides(),
        };
        let create = || {
            stack_request!(
                self.cfn.create_change_set(),
                plan,
                prepared,
                parameters.clone()
            )
            .change_set_name(name)
            .change_set_type(change_type.clone())
            .set_deployment_mode(plan.revert_drift.then_some(DeploymentMode::RevertDrift))
            .include_nested_stacks(true)
            .client_token(&plan.client_request_token)
            .send()
        };
        let out = match create().await {
            Ok(out) => out,
            Err(e) => {
                let err = DeployError::new("CreateChangeSet", &plan.stack_name, e);
                if err.code() != Some("AlreadyExistsException") {
                    return Err(err.into());
                }
                // A change set of this name exists: replace it.
                info!(stack = %plan.stack_name, change_set = %name, "replacing the change set of the same name");
                self.cfn
                    .delete_change_set()
                    .stack_name(&plan.stack_name)
                    .change_set_name(name)
                    .send()
                    .await
                    .map_err(|e| DeployError::new("DeleteChangeSet", &plan.stack_name, e))?;
                create()
                    .await
                    .map_err(|e| DeployError::new("CreateChangeSet", &plan.stack_name, e))?
            }
        };
        let stack_id = out.stack_id.unwrap_or_else(|| plan.stack_name.clone());
        info!(stack = %plan.stack_name, change_set = %name, kind = change_type.as_str(), "change set creation started");
        Ok(Outcome::in_progress(
            InFlight::new(plan, stack_id, Operation::ChangeSet).on_change_set(name),
            format!("CREATE_IN_PROGRESS: creating change set `{name}`"),
        ))
    }

    /// Follows the creation of a change set: its summary once ready, success with "no changes"
    /// when it would change nothing.
    pub(crate) async fn poll_change_set(&self, flight: &InFlight) -> Result<Outcome, DeployError> {
        let name = flight.change_set.clone().unwrap_or_default();
        let out = self
            .cfn
            .describe_change_set()
            .stack_name(&flight.stack_id)
            .change_set_name(&name)
            // With the values, so that a ready change set's answer is its review's first page.
            .include_property_values(true)
            .send()
            .await
            .map_err(|e| DeployError::new("DescribeChangeSet", &flight.stack_name, e))?;
        let status = out
            .status()
            .cloned()
            .unwrap_or_else(|| ChangeSetStatus::from("UNKNOWN"));
        let reason = out.status_reason().unwrap_or_default().to_owned();
        let drift = flight.drift.as_ref().and_then(|d| d.verdict.clone());
        Ok(match on_change_set(&status) {
            PollStep::InProgress => Outcome::in_progress(
                flight.clone(),
                format!("{}: creating change set `{name}`", status.as_str()),
            ),
            PollStep::Succeeded => {
                let mut review = self.review(&flight.stack_id, &name, 1, Some(out)).await?;
                if drift
                    .as_ref()
                    .is_some_and(|v| v.status == DriftStatus::Drifted)
                {
                    review.drift = self.resource_drifts(&flight.stack_id).await?;
                }
                let summary = review.summary(MAX_SUMMARY);
                info!(stack = %flight.stack_name, change_set = %name, changes = review.count(), "change set ready");
                Outcome::Succeeded {
                    stack_id: flight.stack_id.clone(),
                    summary,
                    outputs: Default::default(),
                    review: Some(review),
                    stack_status: None,
                    drift,
                }
            }
            PollStep::Failed if is_empty_change_set(&reason) => {
                info!(stack = %flight.stack_name, change_set = %name, "change set is empty: no changes");
                Outcome::Succeeded {
                    stack_id: flight.stack_id.clone(),
                    summary: format!(
                        "Change set `{name}` for stack `{}` has no changes",
                        flight.stack_name
                    ),
                    outputs: Default::default(),
                    review: Some(Review {
                        change_set_name: name.clone(),
                        change_set_id: out.change_set_id().map(str::to_owned),
                        stack_name: flight.stack_name.clone(),
                        ..Review::default()
                    }),
                    stack_status: None,
                    drift,
                }
            }
            PollStep::Failed => Outcome::Failed(Failure::deploy(
                Some(flight.stack_id.clone()),
                format!(
                    "Change set `{name}` for stack `{}` is {}: {reason}",
                    flight.stack_name,
                    status.as_str()
                ),
            )),
        })
    }

    /// Executes the change set `name`, to be followed as a create or update; with `id`, only
    /// the change set of that id.
    pub(crate) async fn execute_change_set(
        &self,
        plan: &Plan,
        name: &str,
        id: Option<&str>,
    ) -> Result<Outcome, DeployError> {
        let stack_name = &plan.stack_name;
        let described = self
            .cfn
            .describe_change_set()
            .stack_name(stack_name)
            .change_set_name(name)
            .send()
            .await;
        let out = match described {
            Ok(out) => out,
            Err(e) => {
                let err = DeployError::new("DescribeChangeSet", stack_name, e);
                if is_missing_change_set(&err) {
                    return Ok(Outcome::Failed(
                        Failure::deploy(
                            None,
                            format!("Stack `{stack_name}` has no change set `{name}`"),
                        )
                        .with(&[Remedy::CreateChangeSet]),
                    ));
                }
                return Err(err);
            }
        };
        let stack_id = out.stack_id().unwrap_or(stack_name).to_owned();
        if let Some(reviewed) = id.filter(|reviewed| out.change_set_id() != Some(*reviewed)) {
            // Another change set under the reviewed one's name: made after the review, it was
            // never approved.
            return Ok(Outcome::Failed(Failure {
                stack_id: Some(stack_id),
                kind: crate::FailureKind::Permission,
                message: format!(
                    "Change set `{name}` on stack `{stack_name}` is {}, not {reviewed}, the one the pipeline reviewed: it was replaced after the review, so it is not executed. Review the change set again",
                    out.change_set_id().unwrap_or("one without an id")
                ),
                remedies: Vec::new(),
            }));
        }
        let reason = out.status_reason().unwrap_or_default();
        if out.status() == Some(&ChangeSetStatus::Failed) && is_empty_change_set(reason) {
            return Ok(Outcome::Succeeded {
                stack_id,
                summary: format!("Change set `{name}` has no changes: nothing to execute"),
                outputs: Default::default(),
                review: None,
                stack_status: None,
                drift: None,
            });
        }
        let stack = self.describe(&stack_id).await?;
        // ExecuteChangeSet names no role: CloudFormation acts with the one the stack (or the
        // change set, made by hand perhaps) carries, so that role must be one the policy allows.
        if let Err(refused) = self.roles.apply(plan, stack.as_ref()) {
            return Ok(Outcome::Failed(refused));
        }
        if let Some(existing) = &stack {
            if let Some(refused) = self.unprotect_refused(plan, existing) {
                return Ok(refused);
            }
            self.keep_protection(plan, existing).await?;
        }
        let creating = stack
            .as_ref()
            .is_some_and(|s| stack_status(s) == StackStatus::ReviewInProgress);
        let operation = if creating {
            Operation::Create
        } else {
            Operation::Update
        };
        let flight = InFlight::new(plan, stack_id.clone(), operation);
        match out.execution_status() {
            Some(ExecutionStatus::Available) => {}
            // Executed already, by an earlier delivery of this job or by hand: follow it.
            Some(ExecutionStatus::ExecuteInProgress | ExecutionStatus::ExecuteComplete) => {
                return self.poll(plan, &flight).await;
            }
            other => {
                return Ok(Outcome::Failed(Failure::deploy(
                    Some(stack_id),
                    format!(
                        "Change set `{name}` cannot be executed: it is {} ({}){}",
                        out.status().map(|s| s.as_str()).unwrap_or("?"),
                        other.map(|s| s.as_str()).unwrap_or("?"),
                        if reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {reason}")
                        }
                    ),
                )))
            }
        }
        self.cfn
            .execute_change_set()
            .stack_name(stack_name)
            // By id when one was reviewed: the very change set checked above.
            .change_set_name(id.unwrap_or(name))
            .client_request_token(&plan.client_request_token)
            .send()
            .await
            .map_err(|e| DeployError::new("ExecuteChangeSet", stack_name, e))?;
        info!(stack = %stack_name, change_set = %name, "change set execution started");
        Ok(Outcome::in_progress(
            flight,
            format!(
                "{}: executing change set `{name}`",
                if creating {
                    "CREATE_IN_PROGRESS"
                } else {
                    "UPDATE_IN_PROGRESS"
                }
            ),
        ))
    }

    /// The review of a change set, read with its property values, from `first` (its first
    /// page, already read) on; nested stacks' change sets read too, down to [`MAX_NESTING`]
    /// levels.
    pub(crate) fn review<'a>(
        &'a self,
        stack: &'a str,
        change_set: &'a str,
        depth: usize,
        first: Option<DescribeChangeSetOutput>,
    ) -> BoxFuture<'a, Result<Review, DeployError>> {
        Box::pin(async move {
            let mut review = Review {
                change_set_name: change_set.to_owned(),
                stack_name: stack.to_owned(),
                ..Review::default()
            };
            let mut next: Option<String> = None;
            let mut secret = HashSet::new();
            let mut first = first;
            for page in 0..MAX_PAGES {
                let out = match first.take() {
                    Some(out) => out,
                    None => self
                        .cfn
                        .describe_change_set()
                        .stack_name(stack)
                        .change_set_name(change_set)
                        .include_property_values(true)
                        .set_next_token(next.take())
                        .send()
                        .await
                        .map_err(|e| DeployError::new("DescribeChangeSet", stack, e))?,
                };
                if page == 0 {
                    review.change_set_id = out.change_set_id().map(str::to_owned);
                    review.change_set_name = out.change_set_name().unwrap_or(change_set).to_owned();
                    review.stack_name = out.stack_name().unwrap_or(stack).to_owned();
                    // CloudFormation masks a NoEcho parameter's value as "****".
                    secret = out
                        .parameters()
                        .iter()
                        .filter(|p| p.parameter_value() == Some(REDACTED))
                        .filter_map(|p| p.parameter_key().map(str::to_owned))
                        .collect();
                }
                for change in out.changes() {
                    let Some(mut reviewed) = ReviewChange::of(change, &secret) else {
                        continue;
                    };
                    let nested_id = change
                        .resource_change()
                        .and_then(|rc| rc.change_set_id())
                        .filter(|_| reviewed.resource_type == "AWS::CloudFormation::Stack");
                    if let (Some(id), true) = (nested_id, depth < MAX_NESTING) {
                        let physical = change
                            .resource_change()
                            .and_then(|rc| rc.physical_resource_id())
                            .unwrap_or(&reviewed.logical_resource_id)
                            .to_owned();
                        let nested = self.review(&physical, id, depth + 1, None).await?;
                        reviewed.nested = Some(Box::new(nested));
                    }
                    review.changes.push(reviewed);
                }
                match out.next_token {
                    Some(t) => next = Some(t),
                    None => return Ok(review),
                }
            }
            review.more = true;
            Ok(review)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_change_sets_are_recognised() {
        assert!(is_empty_change_set("The submitted information didn't contain changes. Submit different information to create a change set."));
        assert!(is_empty_change_set("No updates are to be performed."));
        assert!(!is_empty_change_set(
            "Template format error: Unresolved resource dependencies [X]"
        ));
    }

    #[test]
    fn change_set_statuses() {
        assert_eq!(
            on_change_set(&ChangeSetStatus::CreatePending),
            PollStep::InProgress
        );
        assert_eq!(
            on_change_set(&ChangeSetStatus::CreateInProgress),
            PollStep::InProgress
        );
        assert_eq!(
            on_change_set(&ChangeSetStatus::CreateComplete),
            PollStep::Succeeded
        );
        assert_eq!(on_change_set(&ChangeSetStatus::Failed), PollStep::Failed);
        assert_eq!(
            on_change_set(&ChangeSetStatus::DeleteComplete),
            PollStep::Failed
        );
    }
}
