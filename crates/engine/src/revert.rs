//! `DeploymentMode: REVERT_DRIFT` with `CREATE_UPDATE`: the update goes through a change set of
//! its own, made in CloudFormation's drift-aware mode, then executed and followed as an update,
//! so that the deploy also puts drifted resources back as the template has them.

use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetType, DeploymentMode, Stack};
use tracing::info;

use crate::change_set::{is_empty_change_set, on_change_set};
use crate::error::DeployError;
use crate::flight::{InFlight, Operation};
use crate::outcome::{Failure, Outcome};
use crate::plan::{Plan, Prepared};
use crate::start::stack_request;
use crate::status::PollStep;
use crate::{outputs, stack_status, Deployer};

impl Deployer {
    /// Starts the update of `stack` as a change set that reverts drift, named after the
    /// deploy's token so that every delivery of the same deploy finds the same one.
    pub(crate) async fn revert(
        &self,
        plan: &Plan,
        prepared: &Prepared,
        stack: &Stack,
    ) -> Result<Outcome, DeployError> {
        let name = plan.client_request_token.clone();
        let stack_id = stack.stack_id().unwrap_or(&plan.stack_name).to_owned();
        let parameters = self.update_parameters(plan, prepared, stack).await?;
        let sent = stack_request!(self.cfn.create_change_set(), plan, prepared, parameters)
            .change_set_name(&name)
            .change_set_type(ChangeSetType::Update)
            .deployment_mode(DeploymentMode::RevertDrift)
            .client_token(&plan.client_request_token)
            .send()
            .await
            .map_err(|e| DeployError::new("CreateChangeSet", &plan.stack_name, e));
        match sent {
            Ok(_) => {
                info!(stack = %plan.stack_name, change_set = %name, "change set reverting drift started")
            }
            // An earlier delivery of this deploy made it: follow that one.
            Err(e) if e.code() == Some("AlreadyExistsException") => {
                info!(stack = %plan.stack_name, change_set = %name, "following the change set an earlier delivery made")
            }
            Err(e) => return Err(e),
        }
        Ok(Outcome::in_progress(
            InFlight::new(plan, stack_id, Operation::Revert)
                .on_change_set(&name)
                .counting(prepared.resources),
            format!("CREATE_IN_PROGRESS: creating change set `{name}` to update the stack and revert its drift"),
        ))
    }

    /// Follows the change set that reverts drift: executed once ready, then followed as an
    /// update; one that would change nothing leaves the stack as it is.
    pub(crate) async fn poll_revert(
        &self,
        plan: &Plan,
        flight: &InFlight,
    ) -> Result<Outcome, DeployError> {
        let name = flight
            .change_set
            .clone()
            .unwrap_or_else(|| flight.client_request_token.clone());
        let out = self
            .cfn
            .describe_change_set()
            .stack_name(&flight.stack_id)
            .change_set_name(&name)
            .send()
            .await
            .map_err(|e| DeployError::new("DescribeChangeSet", &flight.stack_name, e))?;
        let status = out
            .status()
            .cloned()
            .unwrap_or_else(|| ChangeSetStatus::from("UNKNOWN"));
        let reason = out.status_reason().unwrap_or_default();
        match on_change_set(&status) {
            PollStep::InProgress => Ok(Outcome::in_progress(
                flight.clone(),
                format!("{}: creating change set `{name}` to update the stack and revert its drift", status.as_str()),
            )),
            PollStep::Succeeded => {
                let mut started = self
                    .execute_change_set(plan, &name, out.change_set_id())
                    .await?;
                if let Outcome::InProgress { flight: next, .. } = &mut started {
                    next.resources = flight.resources;
                }
                Ok(started)
            }
            PollStep::Failed if is_empty_change_set(reason) => {
                info!(stack = %flight.stack_name, "template and parameters unchanged, no drift to revert: nothing to update");
                let stack = self.describe(&flight.stack_id).await?;
                Ok(Outcome::Succeeded {
                    stack_id: flight.stack_id.clone(),
                    summary: format!(
                        "Stack `{}` is up to date: no changes to deploy and no drift to revert",
                        flight.stack_name
                    ),
                    outputs: stack.as_ref().map(outputs).unwrap_or_default(),
                    review: None,
                    stack_status: stack.as_ref().map(|s| stack_status(s).as_str().to_owned()),
                    drift: flight.drift.as_ref().and_then(|d| d.verdict.clone()),
                })
            }
            PollStep::Failed => Ok(Outcome::Failed(Failure::deploy(
                Some(flight.stack_id.clone()),
                format!(
                    "Change set `{name}`, which was to update stack `{}` and revert its drift, is {}: {reason}",
                    flight.stack_name,
                    status.as_str()
                ),
            ))),
        }
    }
}
