//! Deleting a stack: on request (`DELETE_ONLY`), or to replace one that never worked.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::StackStatus;
use tracing::info;

use crate::error::DeployError;
use crate::flight::{InFlight, Operation};
use crate::outcome::{Failure, Outcome};
use crate::plan::Plan;
use crate::status::{self, PollStep, StartStep};
use crate::{now_epoch, stack_status, Deployer};

impl Deployer {
    /// Deletes the plan's stack: an absent stack is already deleted; a busy one is waited for
    /// first.
    pub(crate) async fn delete(&self, plan: &Plan) -> Result<Outcome, DeployError> {
        let name = &plan.stack_name;
        let Some(stack) = self.describe(name).await? else {
            info!(stack = %name, "no such stack: nothing to delete");
            return Ok(deleted(name, name, true));
        };
        let stack_id = stack.stack_id().unwrap_or(name).to_owned();
        let status = stack_status(&stack);
        if status == StackStatus::DeleteInProgress {
            return Ok(Outcome::in_progress(
                InFlight::new(plan, stack_id, Operation::Delete),
                "DELETE_IN_PROGRESS: following the delete under way",
            ));
        }
        if status::on_start(&status) == StartStep::Wait {
            return Ok(Outcome::in_progress(
                InFlight::new(plan, stack_id, Operation::Wait),
                format!(
                    "{}: waiting for the stack's current operation to end before deleting it",
                    status.as_str()
                ),
            ));
        }
        if let Some(refused) = crate::start::protected(plan, &stack, "delete it") {
            return Ok(refused);
        }
        let plan = match self.roles.apply(plan, Some(&stack)) {
            Ok(applied) => applied,
            Err(refused) => return Ok(Outcome::Failed(refused)),
        };
        self.delete_stack(&plan, &stack_id, Operation::Delete).await
    }

    /// Sends DeleteStack for `stack_id`, to be followed as `operation`.
    pub(crate) async fn delete_stack(
        &self,
        plan: &Plan,
        stack_id: &str,
        operation: Operation,
    ) -> Result<Outcome, DeployError> {
        // A token of its own: a replace creates the stack afterwards with the job's token.
        let mut token = format!("{}-delete", plan.client_request_token);
        token.truncate(128);
        self.cfn
            .delete_stack()
            .stack_name(stack_id)
            .client_request_token(&token)
            .set_role_arn(plan.role_arn.clone())
            .send()
            .await
            .map_err(|e| DeployError::new("DeleteStack", &plan.stack_name, e))?;
        info!(stack = %plan.stack_name, %stack_id, ?operation, "stack delete started");
        Ok(Outcome::in_progress(
            InFlight::new(plan, stack_id, operation),
            match operation {
                Operation::Replace => {
                    "DELETE_IN_PROGRESS: deleting the failed stack, to create it again"
                }
                _ => "DELETE_IN_PROGRESS: stack delete started",
            },
        ))
    }

    /// Follows a delete one step: `Some` while it runs or when it failed, `None` once the stack
    /// is gone.
    pub(crate) async fn poll_delete(
        &self,
        flight: &InFlight,
    ) -> Result<Option<Outcome>, DeployError> {
        let Some(stack) = self.describe(&flight.stack_id).await? else {
            return Ok(None);
        };
        let status = stack_status(&stack);
        Ok(
            match status::on_delete_poll(&status, now_epoch() - flight.started) {
                PollStep::Succeeded => None,
                PollStep::InProgress => Some(Outcome::in_progress(
                    flight.clone(),
                    format!(
                        "{}: deleting stack `{}`",
                        status.as_str(),
                        flight.stack_name
                    ),
                )),
                PollStep::Failed => Some(Outcome::Failed(Failure::deploy(
                    Some(flight.stack_id.clone()),
                    self.explain_failure(flight, status.as_str()).await?.0,
                ))),
            },
        )
    }
}

/// A delete that is done: the stack is gone, or never was (`absent`).
pub(crate) fn deleted(stack_name: &str, stack_id: &str, absent: bool) -> Outcome {
    Outcome::Succeeded {
        stack_id: stack_id.to_owned(),
        summary: if absent {
            format!("Stack `{stack_name}` does not exist: nothing to delete")
        } else {
            format!("Stack `{stack_name}` is deleted")
        },
        outputs: BTreeMap::new(),
        review: None,
        stack_status: Some(StackStatus::DeleteComplete.as_str().to_owned()),
        drift: None,
    }
}
