//! Stack sets: one template fanned out by CloudFormation to many accounts and Regions. This
//! module owns what a stack-set deploy asks ([`SetPlan`]), where it stands between steps
//! ([`SetState`], small enough for a continuation token) and how a step ends ([`SetOutcome`]);
//! [`Deployer::advance_set`](crate::Deployer::advance_set) moves it on.

use serde::{Deserialize, Serialize};

use crate::outcome::Failure;
use crate::plan::Template;

/// What a stack-set job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAction {
    /// With a template (the built-in `CloudFormationStackSet` action): create the stack set or
    /// update it, then create the instances that are missing.
    Deploy,
    /// Without a template (the built-in `CloudFormationStackInstances` action): create the
    /// missing instances and update the others with the parameter overrides.
    Instances,
    /// `ActionMode: DELETE_ONLY`: delete the instances, then the stack set once none is left.
    Delete,
}

/// Who manages the execution roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PermissionModel {
    /// Roles made by hand in each target account (the default).
    #[default]
    SelfManaged,
    /// Roles made by AWS Organizations; targets are organizational units.
    ServiceManaged,
}

/// Whether the caller acts as the management account or as a delegated administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallAs {
    /// The management account, or the set's own account (`SELF`, the default).
    #[default]
    OwnAccount,
    /// A delegated administrator of the organization (`DELEGATED_ADMIN`).
    DelegatedAdmin,
}

/// `OrganizationsAutoDeployment`: whether accounts joining a target OU get an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoDeployment {
    /// Yes, and an account leaving loses its instance's stack.
    Enabled,
    /// No.
    Disabled,
    /// Yes, and an account leaving keeps its stack.
    EnabledWithStackRetention,
}

/// Where instances go: account ids (`SELF_MANAGED`) or organizational unit and root ids
/// (`SERVICE_MANAGED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// 12-digit account ids.
    Accounts(Vec<String>),
    /// `ou-…` and `r-…` ids.
    OrganizationalUnits(Vec<String>),
}

/// How CloudFormation paces an operation across accounts and Regions. A count and its
/// percentage are never both set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    /// Failed accounts per Region before CloudFormation stops the operation there.
    pub failure_tolerance_count: Option<i32>,
    /// The same, as a percentage of the accounts.
    pub failure_tolerance_percentage: Option<i32>,
    /// Accounts deployed at once.
    pub max_concurrent_count: Option<i32>,
    /// The same, as a percentage.
    pub max_concurrent_percentage: Option<i32>,
    /// `STRICT_FAILURE_TOLERANCE` or `SOFT_FAILURE_TOLERANCE`.
    pub concurrency_mode: Option<String>,
    /// `SEQUENTIAL` or `PARALLEL`.
    pub region_concurrency_type: Option<String>,
}

/// One parameter of the stack set or of its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetParameter {
    /// `ParameterKey`.
    pub key: String,
    /// `ParameterValue`; `None` with `use_previous`.
    pub value: Option<String>,
    /// `UsePreviousValue`.
    pub use_previous: bool,
}

/// What a stack-set job asks, read from any front's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPlan {
    /// `StackSetName`.
    pub name: String,
    /// What to do.
    pub action: SetAction,
    /// `Description`.
    pub description: Option<String>,
    /// The template, inline or staged (for [`SetAction::Deploy`]).
    pub template: Option<Template>,
    /// `Parameters`: the stack set's own.
    pub parameters: Vec<SetParameter>,
    /// `ParameterOverrides`: the instances' (for [`SetAction::Instances`]).
    pub parameter_overrides: Vec<SetParameter>,
    /// `Capabilities`.
    pub capabilities: Vec<String>,
    /// `PermissionModel`.
    pub permission_model: PermissionModel,
    /// `AdministrationRoleArn` (`SELF_MANAGED`).
    pub administration_role_arn: Option<String>,
    /// `ExecutionRoleName` (`SELF_MANAGED`).
    pub execution_role_name: Option<String>,
    /// `OrganizationsAutoDeployment` (`SERVICE_MANAGED`).
    pub auto_deployment: Option<AutoDeployment>,
    /// `DeploymentTargets`; `None`: every instance the set has.
    pub targets: Option<Targets>,
    /// `Regions`, in the order given (which is the order CloudFormation deploys them in).
    pub regions: Vec<String>,
    /// The operation preferences.
    pub preferences: Preferences,
    /// `CallAs`.
    pub call_as: CallAs,
    /// `Tags`.
    pub tags: Vec<(String, String)>,
    /// The same for every delivery of the same job: every operation id derives from it.
    pub request_token: String,
}

/// The stage of a stack-set job, each with its own operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// `UpdateStackSet`.
    Update,
    /// `CreateStackInstances` for the targets × Regions without an instance.
    Add,
    /// `UpdateStackInstances` with the parameter overrides.
    Override,
    /// `DeleteStackInstances`.
    Remove,
}

/// Where a stack-set job stands between steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetState {
    /// The stack set's id, once known; empty before the job has read the stack set (its first
    /// call throttled, say), which makes the next step start over.
    #[serde(rename = "s")]
    pub stack_set_id: String,
    /// The phase whose operation is followed, or waited to start.
    #[serde(rename = "p")]
    pub phase: Phase,
    /// This job's operation in that phase, once started.
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Another operation on the set that must end before this phase can start.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<String>,
    /// The phases still to run after this one.
    #[serde(rename = "n", default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<Phase>,
    /// The last operation this job finished, for the output variable once the job ends.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub last_operation: Option<String>,
}

/// How a stack-set step ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SetOutcome {
    /// Every phase is done.
    Succeeded {
        /// The stack set's id (`StackSetId`); empty when a delete found no stack set.
        stack_set_id: String,
        /// The job's last operation (`OperationId`), when it started one.
        operation_id: Option<String>,
        /// One line: what was done, the instances counted by status.
        summary: String,
    },
    /// An operation is under way, or another one is waited for.
    InProgress {
        /// What the next step resumes from.
        state: SetState,
        /// One line: e.g. `12 of 14 instances SUCCEEDED, 2 RUNNING`, or the operation waited
        /// for.
        summary: String,
        /// How far the operation is, 0 to 100, when known.
        percent: Option<u8>,
    },
    /// The job failed.
    Failed(Failure),
}

/// The job under way at `s`, saying `summary`.
pub(crate) fn in_progress(s: &SetState, summary: String, percent: Option<u8>) -> SetOutcome {
    SetOutcome::InProgress {
        state: s.clone(),
        summary,
        percent,
    }
}

mod calls;
mod operation;
mod results;
mod run;
mod scope;
mod table;

pub use results::MAX_NAMED;
pub use table::MAX_OPERATION_ID;

#[cfg(test)]
pub(crate) mod fixture {
    //! A plan for the unit tests to vary.

    use super::*;

    pub(crate) fn plan() -> SetPlan {
        SetPlan {
            name: "org-baseline".into(),
            action: SetAction::Deploy,
            description: None,
            template: Some(Template::Body("Resources: {}".into())),
            parameters: Vec::new(),
            parameter_overrides: Vec::new(),
            capabilities: Vec::new(),
            permission_model: PermissionModel::SelfManaged,
            administration_role_arn: None,
            execution_role_name: None,
            auto_deployment: None,
            targets: None,
            regions: Vec::new(),
            preferences: Preferences::default(),
            call_as: CallAs::OwnAccount,
            tags: Vec::new(),
            request_token: "cfn-deployer-job-1".into(),
        }
    }
}
