//! Starting a deploy: one DescribeStacks decides between create, update, waiting, replacing
//! and refusing; the inputs are read only when an operation is really about to start.

use std::collections::HashSet;

use aws_sdk_cloudformation::types::{Parameter, Stack, StackStatus};
use tracing::info;

use crate::error::{is_no_updates, lost_race, DeployError, StepError};
use crate::flight::{InFlight, Operation};
use crate::outcome::{Failure, FailureKind, Outcome};
use crate::plan::{Inputs, Mode, Plan, Prepared};
use crate::status::{self, Blocker, StartStep};
use crate::{outputs, stack_status, status_text, Deployer};

/// The settings every create, update and change set carries, set on any of their builders:
/// the SDK gives each operation a builder type of its own, with the same setters.
macro_rules! stack_request {
    ($builder:expr, $plan:expr, $prepared:expr, $parameters:expr) => {
        $builder
            .stack_name(&$plan.stack_name)
            .set_template_body($prepared.template.body())
            .set_template_url($prepared.template.url())
            .set_parameters(
                Some($parameters)
                    .filter(|p: &Vec<aws_sdk_cloudformation::types::Parameter>| !p.is_empty()),
            )
            .set_capabilities($plan.capabilities())
            .set_role_arn($plan.role_arn.clone())
            .set_tags($prepared.tags())
            .set_rollback_configuration($plan.rollback_configuration())
            .set_notification_arns($plan.notification_arns())
    };
}
pub(crate) use stack_request;

/// The inputs of one step, read at most once however often the step needs them.
pub(crate) struct Lazy<'a, I> {
    inputs: &'a I,
    prepared: Option<Prepared>,
}

impl<'a, I: Inputs> Lazy<'a, I> {
    pub(crate) fn new(inputs: &'a I) -> Self {
        Self {
            inputs,
            prepared: None,
        }
    }

    pub(crate) async fn get(&mut self, plan: &Plan) -> Result<&Prepared, StepError<I::Error>> {
        if self.prepared.is_none() {
            let prepared = self.inputs.prepare(plan).await.map_err(StepError::Inputs)?;
            self.prepared = Some(prepared);
        }
        // Filled just above.
        Ok(self.prepared.get_or_insert_with(Prepared::default))
    }
}

/// The failure of a deploy to a stack in a state no operation may start from, with what would
/// unblock it.
pub(crate) fn blocked(plan: &Plan, stack: Option<&Stack>, blocker: &Blocker) -> Outcome {
    Outcome::Failed(
        Failure::deploy(
            stack.and_then(|s| s.stack_id().map(str::to_owned)),
            format!(
                "Stack `{}` is {}: {}",
                plan.stack_name,
                status_text(stack),
                blocker.why
            ),
        )
        .with(blocker.remedies),
    )
}

/// A deploy that reverts drift on a stack that does not exist: there is no drift to revert,
/// and CloudFormation takes the mode only on an update.
pub(crate) fn refused_on_new(plan: &Plan) -> Outcome {
    Outcome::Failed(Failure {
        stack_id: None,
        kind: FailureKind::Configuration,
        message: format!(
            "DeploymentMode REVERT_DRIFT reverts the drift of an existing stack, but stack `{}` does not exist yet: deploy it once without DeploymentMode",
            plan.stack_name
        ),
        remedies: Vec::new(),
    })
}

impl Deployer {
    /// Starts a create or update of `plan`'s stack.
    pub(crate) async fn start_deploy<I: Inputs>(
        &self,
        plan: &Plan,
        mode: Mode,
        inputs: &mut Lazy<'_, I>,
    ) -> Result<Outcome, StepError<I::Error>> {
        // A second round covers a concurrent delivery that started the same deploy between our
        // DescribeStacks and our Create/UpdateStack.
        let asked = plan;
        for round in 0..2 {
            let stack = self.describe(&asked.stack_name).await?;
            let applied = match self.roles.apply(asked, stack.as_ref()) {
                Ok(applied) => applied,
                Err(refused) => return Ok(Outcome::Failed(refused)),
            };
            let plan = &applied;
            if let Some(refused) = stack.as_ref().and_then(|s| self.unprotect_refused(plan, s)) {
                return Ok(refused);
            }
            let step = match &stack {
                None => StartStep::Create,
                Some(s) => status::on_start(&stack_status(s)),
            };
            info!(stack = %plan.stack_name, status = %status_text(stack.as_ref()), ?step, "deciding how to deploy");
            let attempt = match (step, &stack) {
                // This invocation lost a race, most likely to another delivery of the same job:
                // start nothing more; follow that operation if it is ours, else wait.
                (StartStep::Create | StartStep::Update, Some(s)) if round > 0 => {
                    return Ok(self.wait_or_adopt(plan, s).await?)
                }
                // No stack is always a create (the table says Update or Wait only of a stack).
                (StartStep::Create, _) | (StartStep::Update | StartStep::Wait, None) => {
                    if plan.revert_drift {
                        return Ok(refused_on_new(plan));
                    }
                    self.create(plan, inputs.get(plan).await?).await
                }
                (StartStep::Update, Some(existing)) => {
                    let id = existing.stack_id().unwrap_or(&plan.stack_name);
                    if let Some(first) = self.drift_first(plan, id).await? {
                        return Ok(first);
                    }
                    let prepared = inputs.get(plan).await?;
                    if plan.revert_drift {
                        self.revert(plan, prepared, existing).await
                    } else {
                        self.update(plan, prepared, existing).await
                    }
                }
                (StartStep::Wait, Some(busy)) => return Ok(self.wait_or_adopt(plan, busy).await?),
                (StartStep::Blocked(_), Some(failed))
                    if mode == Mode::ReplaceOnFailure
                        && status::replaceable(&stack_status(failed)) =>
                {
                    if let Some(refused) = protected(plan, failed, "replace it") {
                        return Ok(refused);
                    }
                    let id = failed.stack_id().unwrap_or(&plan.stack_name);
                    return Ok(self.delete_stack(plan, id, Operation::Replace).await?);
                }
                (StartStep::Blocked(blocker), _) => {
                    return Ok(blocked(plan, stack.as_ref(), &blocker));
                }
            };
            match attempt {
                Err(e) if lost_race(&e) => continue,
                other => return Ok(other?),
            }
        }
        Ok(Outcome::Failed(
            Failure::deploy(
                None,
                format!(
                    "Stack `{}` kept changing while the deploy tried to start: another deploy is racing this one",
                    asked.stack_name
                ),
            )
            .with(&[crate::Remedy::DeployAgain]),
        ))
    }

    async fn create(&self, plan: &Plan, prepared: &Prepared) -> Result<Outcome, DeployError> {
        let out = stack_request!(
            self.cfn.create_stack(),
            plan,
            prepared,
            prepared.overrides()
        )
        .client_request_token(&plan.client_request_token)
        .set_stack_policy_body(prepared.stack_policy.clone())
        .set_enable_termination_protection(plan.termination_protection)
        .set_on_failure(plan.on_failure())
        .set_timeout_in_minutes(plan.timeout_minutes.and_then(|m| i32::try_from(m).ok()))
        .send()
        .await
        .map_err(|e| DeployError::new("CreateStack", &plan.stack_name, e))?;
        let stack_id = out.stack_id.unwrap_or_else(|| plan.stack_name.clone());
        info!(stack = %plan.stack_name, %stack_id, "stack create started");
        Ok(Outcome::in_progress(
            InFlight::new(plan, stack_id, Operation::Create).counting(prepared.resources),
            "CREATE_IN_PROGRESS: stack create started",
        ))
    }

    /// The parameters for an update: the overrides, and `UsePreviousValue` for the stack's
    /// other parameters that the new template still declares. GetTemplateSummary is asked only
    /// when there are such parameters.
    pub(crate) async fn update_parameters(
        &self,
        plan: &Plan,
        prepared: &Prepared,
        stack: &Stack,
    ) -> Result<Vec<Parameter>, DeployError> {
        let mut parameters = prepared.overrides();
        let kept: Vec<&str> = stack
            .parameters()
            .iter()
            .filter_map(|p| p.parameter_key())
            .filter(|k| !prepared.parameters.contains_key(*k))
            .collect();
        if kept.is_empty() {
            return Ok(parameters);
        }
        let summary = self
            .cfn
            .get_template_summary()
            .set_template_body(prepared.template.body())
            .set_template_url(prepared.template.url())
            .send()
            .await
            .map_err(|e| DeployError::new("GetTemplateSummary", &plan.stack_name, e))?;
        let declared: HashSet<&str> = summary
            .parameters()
            .iter()
            .filter_map(|d| d.parameter_key())
            .collect();
        parameters.extend(kept.into_iter().filter(|k| declared.contains(k)).map(|k| {
            Parameter::builder()
                .parameter_key(k)
                .use_previous_value(true)
                .build()
        }));
        Ok(parameters)
    }

    async fn update(
        &self,
        plan: &Plan,
        prepared: &Prepared,
        stack: &Stack,
    ) -> Result<Outcome, DeployError> {
        let stack_id = stack.stack_id().unwrap_or(&plan.stack_name);
        let parameters = self.update_parameters(plan, prepared, stack).await?;
        self.keep_protection(plan, stack).await?;
        let sent = stack_request!(self.cfn.update_stack(), plan, prepared, parameters)
            .client_request_token(&plan.client_request_token)
            .set_stack_policy_body(prepared.stack_policy.clone())
            .set_disable_rollback(plan.disable_rollback.then_some(true))
            .send()
            .await
            .map_err(|e| DeployError::new("UpdateStack", &plan.stack_name, e));
        match sent {
            Ok(out) => {
                let stack_id = out.stack_id.unwrap_or_else(|| stack_id.to_owned());
                info!(stack = %plan.stack_name, %stack_id, "stack update started");
                Ok(Outcome::in_progress(
                    InFlight::new(plan, stack_id, Operation::Update).counting(prepared.resources),
                    "UPDATE_IN_PROGRESS: stack update started",
                ))
            }
            Err(e) if is_no_updates(&e) => {
                info!(stack = %plan.stack_name, "template and parameters unchanged: nothing to update");
                Ok(Outcome::Succeeded {
                    stack_id: stack_id.to_owned(),
                    summary: format!(
                        "Stack `{}` is up to date: no changes to deploy",
                        plan.stack_name
                    ),
                    outputs: outputs(stack),
                    review: None,
                    stack_status: Some(stack_status(stack).as_str().to_owned()),
                    drift: plan.drift_seen.clone(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Keeps the stack's termination protection in step with the plan's, calling
    /// UpdateTerminationProtection only when they differ.
    pub(crate) async fn keep_protection(
        &self,
        plan: &Plan,
        stack: &Stack,
    ) -> Result<(), DeployError> {
        let Some(wanted) = plan.termination_protection else {
            return Ok(());
        };
        if stack.enable_termination_protection() == Some(wanted) {
            return Ok(());
        }
        self.cfn
            .update_termination_protection()
            .stack_name(stack.stack_id().unwrap_or(&plan.stack_name))
            .enable_termination_protection(wanted)
            .send()
            .await
            .map_err(|e| DeployError::new("UpdateTerminationProtection", &plan.stack_name, e))?;
        info!(stack = %plan.stack_name, protected = wanted, "termination protection set");
        Ok(())
    }

    /// The stack is busy. If the running operation carries this deploy's token, a previous
    /// delivery of the same job started it: follow it instead of waiting for it.
    pub(crate) async fn wait_or_adopt(
        &self,
        plan: &Plan,
        stack: &Stack,
    ) -> Result<Outcome, DeployError> {
        let stack_id = stack.stack_id().unwrap_or(&plan.stack_name).to_owned();
        let status = stack_status(stack);
        let newest = self.newest_event(&stack_id).await?;
        let ours = newest
            .as_ref()
            .and_then(|e| e.client_request_token())
            .is_some_and(|t| t == plan.client_request_token);
        let (operation, summary) = if ours {
            let op = if status == StackStatus::CreateInProgress {
                Operation::Create
            } else {
                Operation::Update
            };
            info!(stack = %plan.stack_name, %stack_id, ?op, "following the operation an earlier delivery of this deploy started");
            (
                op,
                format!(
                    "{}: following the operation already started for this job",
                    status.as_str()
                ),
            )
        } else {
            info!(stack = %plan.stack_name, %stack_id, status = status.as_str(), "stack busy: waiting for its operation to end");
            (
                Operation::Wait,
                format!(
                    "{}: waiting for the stack's current operation to end before deploying",
                    status.as_str()
                ),
            )
        };
        Ok(Outcome::in_progress(
            InFlight::new(plan, stack_id, operation),
            summary,
        ))
    }
}

/// A stack with termination protection is never deleted, by a delete or to replace it: the
/// failure says so, and the protection stays.
impl Deployer {
    /// A plan that would switch a protected stack's termination protection off, refused
    /// unless the deployment allows it: otherwise anyone who can edit a pipeline could lift
    /// the protection and then delete the stack.
    pub(crate) fn unprotect_refused(&self, plan: &Plan, stack: &Stack) -> Option<Outcome> {
        let lifts = plan.termination_protection == Some(false)
            && stack.enable_termination_protection() == Some(true);
        (lifts && !self.allow_unprotect).then(|| {
            Outcome::Failed(Failure {
                stack_id: stack.stack_id().map(str::to_owned),
                kind: crate::FailureKind::Permission,
                message: format!(
                    "The deploy sets TerminationProtection to false on stack `{}`, whose protection is on; switching it off from a pipeline needs CFN_DEPLOYER_ALLOW_UNPROTECT=true in the deployer's environment. Nothing was changed",
                    plan.stack_name
                ),
                remedies: Vec::new(),
            })
        })
    }
}

pub(crate) fn protected(plan: &Plan, stack: &Stack, to: &str) -> Option<Outcome> {
    (stack.enable_termination_protection() == Some(true)).then(|| {
        Outcome::Failed(
            Failure::deploy(
                stack.stack_id().map(str::to_owned),
                format!(
                    "Stack `{}` has termination protection enabled, so CloudFormation will not delete it, and cfn-deployer does not lift the protection to {to}",
                    plan.stack_name
                ),
            )
            .with(&[crate::Remedy::LiftProtection]),
        )
    })
}
