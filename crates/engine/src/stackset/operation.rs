//! Starting a phase's operation (`UpdateStackSet`, `CreateStackInstances`,
//! `UpdateStackInstances`, `DeleteStackInstances`) with the id the job derives for it, and what
//! CloudFormation's answer means: started, started already by an earlier delivery, blocked by
//! another operation, or nothing to do.

use super::calls::{sdk_parameters, IN_PROGRESS};
use super::scope::{reach, Place, Reach, Scope};
use super::{Phase, SetPlan};
use crate::error::DeployError;
use crate::Deployer;

/// How starting a phase went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Started {
    /// The operation is started, with this id.
    Now(String),
    /// An earlier delivery of the job started it (the id is taken): follow it.
    Earlier(String),
    /// Another operation is running on the set: this one cannot start yet.
    Blocked,
    /// The phase names no instance: skipped.
    Nothing,
}

/// The scope's Regions, as the optional list the calls take.
fn regions(scope: &Scope) -> Option<Vec<String>> {
    Some(scope.regions.clone())
}

impl Deployer {
    /// Starts `phase` for `plan`, on the set whose instances are `existing`.
    pub(crate) async fn start_set_phase(
        &self,
        plan: &SetPlan,
        phase: Phase,
        existing: &[Place],
    ) -> Result<Started, DeployError> {
        let id = plan.operation_id(phase);
        let reach = reach(plan, phase, existing);
        let scope = match &reach {
            Reach::Nothing => return Ok(Started::Nothing),
            Reach::Every => None,
            Reach::Only(scope) => Some(scope),
        };
        let sent = match (phase, scope) {
            (Phase::Update, scope) => self.update_set(plan, &id, scope).await,
            (Phase::Add, Some(scope)) => self.create_instances(plan, &id, scope).await,
            (Phase::Override, Some(scope)) => self.update_instances(plan, &id, scope).await,
            (Phase::Remove, Some(scope)) => self.delete_instances(plan, &id, scope).await,
            // Only an update reaches every instance without naming them.
            (Phase::Add | Phase::Override | Phase::Remove, None) => return Ok(Started::Nothing),
        };
        match sent {
            // CloudFormation answers with the id it was given; the answer is followed, so that
            // a service (or a stand-in) that names the operation otherwise is still followed.
            Ok(answered) => Ok(Started::Now(answered.unwrap_or(id))),
            Err(e) => match e.code() {
                // The id is the job's own: only an earlier delivery can have used it.
                Some("OperationIdAlreadyExistsException") => Ok(Started::Earlier(id)),
                Some(IN_PROGRESS) => Ok(Started::Blocked),
                _ => Err(e),
            },
        }
    }

    /// `UpdateStackSet`: the new template and settings, onto the instances in `scope` (every
    /// instance without one).
    async fn update_set(
        &self,
        plan: &SetPlan,
        id: &str,
        scope: Option<&Scope>,
    ) -> Result<Option<String>, DeployError> {
        let template = plan.template.as_ref();
        self.cfn
            .update_stack_set()
            .stack_set_name(&plan.name)
            .set_description(plan.description.clone())
            .set_template_body(template.and_then(|t| t.body()))
            .set_template_url(template.and_then(|t| t.url()))
            // Without a template (a front's bug for a deploy), keep the set's own.
            .set_use_previous_template(template.is_none().then_some(true))
            .set_parameters(sdk_parameters(&plan.parameters))
            .set_capabilities(plan.sdk_capabilities())
            .set_tags(plan.sdk_tags())
            .permission_model(plan.sdk_permission_model())
            .set_administration_role_arn(plan.administration_role_arn.clone())
            .set_execution_role_name(plan.execution_role_name.clone())
            // CloudFormation takes AutoDeployment only on an update that names no instances.
            .set_auto_deployment(plan.sdk_auto_deployment().filter(|_| scope.is_none()))
            .set_accounts(scope.and_then(|s| plan.sdk_accounts(s)))
            .set_deployment_targets(scope.and_then(|s| plan.sdk_targets(s)))
            .set_regions(scope.and_then(regions))
            .set_operation_preferences(plan.sdk_preferences(scope.map(|s| s.regions.as_slice())))
            .operation_id(id)
            .call_as(plan.sdk_call_as())
            .send()
            .await
            .map(|out| out.operation_id)
            .map_err(|e| DeployError::new("UpdateStackSet", &plan.name, e))
    }

    /// `CreateStackInstances` on `scope`, with the instances' parameter overrides.
    async fn create_instances(
        &self,
        plan: &SetPlan,
        id: &str,
        scope: &Scope,
    ) -> Result<Option<String>, DeployError> {
        self.cfn
            .create_stack_instances()
            .stack_set_name(&plan.name)
            .set_accounts(plan.sdk_accounts(scope))
            .set_deployment_targets(plan.sdk_targets(scope))
            .set_regions(regions(scope))
            .set_parameter_overrides(sdk_parameters(&plan.parameter_overrides))
            .set_operation_preferences(plan.sdk_preferences(Some(&scope.regions)))
            .operation_id(id)
            .call_as(plan.sdk_call_as())
            .send()
            .await
            .map(|out| out.operation_id)
            .map_err(|e| DeployError::new("CreateStackInstances", &plan.name, e))
    }

    /// `UpdateStackInstances` on `scope`, with the parameter overrides.
    async fn update_instances(
        &self,
        plan: &SetPlan,
        id: &str,
        scope: &Scope,
    ) -> Result<Option<String>, DeployError> {
        self.cfn
            .update_stack_instances()
            .stack_set_name(&plan.name)
            .set_accounts(plan.sdk_accounts(scope))
            .set_deployment_targets(plan.sdk_targets(scope))
            .set_regions(regions(scope))
            .set_parameter_overrides(sdk_parameters(&plan.parameter_overrides))
            .set_operation_preferences(plan.sdk_preferences(Some(&scope.regions)))
            .operation_id(id)
            .call_as(plan.sdk_call_as())
            .send()
            .await
            .map(|out| out.operation_id)
            .map_err(|e| DeployError::new("UpdateStackInstances", &plan.name, e))
    }

    /// `DeleteStackInstances` on `scope`, deleting their stacks too.
    async fn delete_instances(
        &self,
        plan: &SetPlan,
        id: &str,
        scope: &Scope,
    ) -> Result<Option<String>, DeployError> {
        self.cfn
            .delete_stack_instances()
            .stack_set_name(&plan.name)
            .set_accounts(plan.sdk_accounts(scope))
            .set_deployment_targets(plan.sdk_targets(scope))
            .set_regions(regions(scope))
            .retain_stacks(false)
            .set_operation_preferences(plan.sdk_preferences(Some(&scope.regions)))
            .operation_id(id)
            .call_as(plan.sdk_call_as())
            .send()
            .await
            .map(|out| out.operation_id)
            .map_err(|e| DeployError::new("DeleteStackInstances", &plan.name, e))
    }
}
