//! The stack set's calls outside a phase's start: read it (`DescribeStackSet`), create it
//! (`CreateStackSet`), list its instances (`ListStackInstances`), read an operation
//! (`DescribeStackSetOperation`) or find the one running (`ListStackSetOperations`), delete it
//! (`DeleteStackSet`); and the plan's settings in the SDK's types.

use aws_sdk_cloudformation::types::{
    self as cfn, Capability, ConcurrencyMode, DeploymentTargets, Parameter, PermissionModels,
    RegionConcurrencyType, StackSetOperationPreferences, StackSetOperationStatus, Tag,
};

use super::scope::{Place, Scope};
use super::table::{on_status, OpStep};
use super::{AutoDeployment, CallAs, PermissionModel, SetParameter, SetPlan};
use crate::error::DeployError;
use crate::plan::Template;
use crate::Deployer;

/// The most pages a listing reads in one step: enough for thousands of instances, and a bound
/// on the calls one step makes.
pub(crate) const MAX_PAGES: usize = 50;

/// The code of every call's "no such stack set" error.
const SET_NOT_FOUND: &str = "StackSetNotFoundException";

/// The code of an error saying another operation is running on the set.
pub(crate) const IN_PROGRESS: &str = "OperationInProgressException";

/// A stack-set operation, as `DescribeStackSetOperation` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperationRead {
    /// Its status.
    pub(crate) status: StackSetOperationStatus,
    /// Why it ended so, when CloudFormation says.
    pub(crate) reason: Option<String>,
    /// Whether it has an end time.
    pub(crate) ended: bool,
}

impl OperationRead {
    /// The next move, from the table.
    pub(crate) fn step(&self) -> OpStep {
        on_status(&self.status, self.ended)
    }
}

impl SetPlan {
    pub(crate) fn sdk_call_as(&self) -> cfn::CallAs {
        match self.call_as {
            CallAs::OwnAccount => cfn::CallAs::SelfValue,
            CallAs::DelegatedAdmin => cfn::CallAs::DelegatedAdmin,
        }
    }

    pub(crate) fn sdk_permission_model(&self) -> PermissionModels {
        match self.permission_model {
            PermissionModel::SelfManaged => PermissionModels::SelfManaged,
            PermissionModel::ServiceManaged => PermissionModels::ServiceManaged,
        }
    }

    pub(crate) fn service_managed(&self) -> bool {
        self.permission_model == PermissionModel::ServiceManaged
    }

    /// `AutoDeployment`, which only `SERVICE_MANAGED` sets take.
    pub(crate) fn sdk_auto_deployment(&self) -> Option<cfn::AutoDeployment> {
        let (enabled, retain) = match self.auto_deployment.filter(|_| self.service_managed())? {
            AutoDeployment::Enabled => (true, Some(false)),
            AutoDeployment::EnabledWithStackRetention => (true, Some(true)),
            AutoDeployment::Disabled => (false, None),
        };
        Some(
            cfn::AutoDeployment::builder()
                .enabled(enabled)
                .set_retain_stacks_on_account_removal(retain)
                .build(),
        )
    }

    /// `Tags`; `None` for none, since an empty list on update would remove the set's tags.
    pub(crate) fn sdk_tags(&self) -> Option<Vec<Tag>> {
        (!self.tags.is_empty()).then(|| {
            self.tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect()
        })
    }

    pub(crate) fn sdk_capabilities(&self) -> Option<Vec<Capability>> {
        (!self.capabilities.is_empty()).then(|| {
            self.capabilities
                .iter()
                .map(|c| Capability::from(c.as_str()))
                .collect()
        })
    }

    /// `OperationPreferences`, deploying `regions` in their order; `None` when nothing is set.
    pub(crate) fn sdk_preferences(
        &self,
        regions: Option<&[String]>,
    ) -> Option<StackSetOperationPreferences> {
        let p = &self.preferences;
        let order = regions.filter(|r| !r.is_empty()).map(<[String]>::to_vec);
        let empty = order.is_none() && p == &super::Preferences::default();
        (!empty).then(|| {
            StackSetOperationPreferences::builder()
                .set_region_order(order)
                .set_failure_tolerance_count(p.failure_tolerance_count)
                .set_failure_tolerance_percentage(p.failure_tolerance_percentage)
                .set_max_concurrent_count(p.max_concurrent_count)
                .set_max_concurrent_percentage(p.max_concurrent_percentage)
                .set_concurrency_mode(p.concurrency_mode.as_deref().map(ConcurrencyMode::from))
                .set_region_concurrency_type(
                    p.region_concurrency_type
                        .as_deref()
                        .map(RegionConcurrencyType::from),
                )
                .build()
        })
    }

    /// `DeploymentTargets` for a `SERVICE_MANAGED` set's `scope`.
    pub(crate) fn sdk_targets(&self, scope: &Scope) -> Option<DeploymentTargets> {
        self.service_managed().then(|| {
            DeploymentTargets::builder()
                .set_organizational_unit_ids(Some(scope.targets.clone()))
                .build()
        })
    }

    /// `Accounts` for a `SELF_MANAGED` set's `scope`.
    pub(crate) fn sdk_accounts(&self, scope: &Scope) -> Option<Vec<String>> {
        (!self.service_managed()).then(|| scope.targets.clone())
    }
}

/// Parameters in the SDK's type; `None` for none.
pub(crate) fn sdk_parameters(list: &[SetParameter]) -> Option<Vec<Parameter>> {
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|p| {
                Parameter::builder()
                    .parameter_key(&p.key)
                    .set_parameter_value(p.value.clone())
                    .set_use_previous_value(p.use_previous.then_some(true))
                    .build()
            })
            .collect()
    })
}

fn missing_set(err: &DeployError) -> bool {
    err.code() == Some(SET_NOT_FOUND)
}

impl Deployer {
    /// The stack set's id (its name when CloudFormation gives none); `None` when it does not
    /// exist.
    pub(crate) async fn describe_set(&self, plan: &SetPlan) -> Result<Option<String>, DeployError> {
        match self
            .cfn
            .describe_stack_set()
            .stack_set_name(&plan.name)
            .call_as(plan.sdk_call_as())
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.stack_set()
                    .and_then(|s| s.stack_set_id())
                    .unwrap_or(&plan.name)
                    .to_owned(),
            )),
            Err(e) => {
                let err = DeployError::new("DescribeStackSet", &plan.name, e);
                if missing_set(&err) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Creates the stack set with `template`: its id, or `None` when another caller created a
    /// set of that name first. The request token makes a second delivery's create the same.
    pub(crate) async fn create_set(
        &self,
        plan: &SetPlan,
        template: &Template,
    ) -> Result<Option<String>, DeployError> {
        let sent = self
            .cfn
            .create_stack_set()
            .stack_set_name(&plan.name)
            .set_description(plan.description.clone())
            .set_template_body(template.body())
            .set_template_url(template.url())
            .set_parameters(sdk_parameters(&plan.parameters))
            .set_capabilities(plan.sdk_capabilities())
            .set_tags(plan.sdk_tags())
            .permission_model(plan.sdk_permission_model())
            .set_administration_role_arn(plan.administration_role_arn.clone())
            .set_execution_role_name(plan.execution_role_name.clone())
            .set_auto_deployment(plan.sdk_auto_deployment())
            .call_as(plan.sdk_call_as())
            .client_request_token(plan.client_request_token())
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Some(out.stack_set_id.unwrap_or_else(|| plan.name.clone()))),
            Err(e) => {
                let err = DeployError::new("CreateStackSet", &plan.name, e);
                if err.code() == Some("NameAlreadyExistsException") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Where the set's instances are, every page of them.
    pub(crate) async fn set_instances(&self, plan: &SetPlan) -> Result<Vec<Place>, DeployError> {
        let mut places = Vec::new();
        let mut next = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .list_stack_instances()
                .stack_set_name(&plan.name)
                .call_as(plan.sdk_call_as())
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| DeployError::new("ListStackInstances", &plan.name, e))?;
            places.extend(out.summaries().iter().filter_map(|s| {
                // A SERVICE_MANAGED instance is placed by the OU it was deployed through,
                // which is what the plan's targets name.
                let target = match plan.service_managed() {
                    true => s.organizational_unit_id().or(s.account()),
                    false => s.account(),
                };
                Some(Place::new(target?, s.region()?))
            }));
            next = out.next_token;
            if next.is_none() {
                break;
            }
        }
        Ok(places)
    }

    /// The operation `id` on the set; `None` when CloudFormation knows no such operation.
    pub(crate) async fn describe_set_operation(
        &self,
        plan: &SetPlan,
        id: &str,
    ) -> Result<Option<OperationRead>, DeployError> {
        let out = match self
            .cfn
            .describe_stack_set_operation()
            .stack_set_name(&plan.name)
            .operation_id(id)
            .call_as(plan.sdk_call_as())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let err = DeployError::new("DescribeStackSetOperation", &plan.name, e);
                return match err.code() {
                    Some("OperationNotFoundException") => Ok(None),
                    _ => Err(err),
                };
            }
        };
        let op = out.stack_set_operation();
        Ok(Some(OperationRead {
            status: op
                .and_then(|o| o.status())
                .cloned()
                .unwrap_or_else(|| StackSetOperationStatus::from("UNKNOWN")),
            reason: op
                .and_then(|o| o.status_reason())
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            ended: op.and_then(|o| o.end_timestamp()).is_some(),
        }))
    }

    /// The id of an operation that is not over on the set, if there is one.
    pub(crate) async fn running_set_operation(
        &self,
        plan: &SetPlan,
    ) -> Result<Option<String>, DeployError> {
        let mut next = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .list_stack_set_operations()
                .stack_set_name(&plan.name)
                .call_as(plan.sdk_call_as())
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| DeployError::new("ListStackSetOperations", &plan.name, e))?;
            let running = out.summaries().iter().find(|s| {
                let status = s.status().cloned().unwrap_or_else(|| "UNKNOWN".into());
                on_status(&status, s.end_timestamp().is_some()) == OpStep::Running
            });
            if let Some(id) = running.and_then(|s| s.operation_id()) {
                return Ok(Some(id.to_owned()));
            }
            next = out.next_token;
            if next.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// Deletes the (empty) stack set: `false` when an operation running on it stops that.
    pub(crate) async fn delete_set(&self, plan: &SetPlan) -> Result<bool, DeployError> {
        match self
            .cfn
            .delete_stack_set()
            .stack_set_name(&plan.name)
            .call_as(plan.sdk_call_as())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = DeployError::new("DeleteStackSet", &plan.name, e);
                match err.code() {
                    Some(IN_PROGRESS) => Ok(false),
                    _ => Err(err),
                }
            }
        }
    }
}
