//! The deploy engine: creates, updates, replaces or deletes one CloudFormation stack, or
//! creates and executes its change sets, and follows the operation to its end, one step at a
//! time. Each step returns where the deploy stands as data ([`Outcome`]): done, under way
//! (with an [`InFlight`] to resume from), or failed (with the stack's own reasons and the
//! [`Remedy`]s that apply).
//!
//! It knows CloudFormation only. It must never know Lambda, CodePipeline, Step Functions,
//! artifacts or how a front words its advice: templates and their settings arrive through
//! [`Inputs`], and remedies leave as data.

mod advance;
mod aftermath;
mod change_set;
mod delete;
pub mod document;
pub mod drift;
mod error;
pub mod events;
mod flight;
mod follow;
pub mod group;
mod outcome;
mod plan;
mod revert;
pub mod review;
mod roles;
pub mod stackset;
mod start;
pub mod status;
pub mod template;
mod text;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::types::{Stack, StackStatus};
use aws_sdk_cloudformation::Client;

pub use advance::Pace;
pub use error::{DeployError, StepError};
pub use flight::{InFlight, Operation};
pub use outcome::{catch_panic, Failure, FailureKind, Outcome, Remedy};
pub use plan::{
    request_token, Action, Inputs, Mode, OnFailure, Plan, Prepared, Rollback, Template,
    MAX_TEMPLATE_BODY,
};
pub use roles::RolePolicy;

/// The seconds since the Unix epoch, now.
pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Deploys stacks with one CloudFormation client.
#[derive(Debug, Clone)]
pub struct Deployer {
    cfn: Client,
    roles: RolePolicy,
    allow_unprotect: bool,
}

impl Deployer {
    /// Wraps a CloudFormation client.
    pub fn new(cfn: Client) -> Self {
        Self {
            cfn,
            roles: RolePolicy::default(),
            allow_unprotect: false,
        }
    }

    /// The same deployer, switching a stack's termination protection off when a plan asks
    /// (`CFN_DEPLOYER_ALLOW_UNPROTECT`); without it such a plan is refused.
    pub fn with_unprotect(mut self, allowed: bool) -> Self {
        self.allow_unprotect = allowed;
        self
    }

    /// The same deployer, handing CloudFormation only the roles `policy` allows.
    pub fn with_roles(mut self, policy: RolePolicy) -> Self {
        self.roles = policy;
        self
    }

    /// Describes a stack by name or id; `None` when it does not exist.
    pub async fn describe(&self, stack: &str) -> Result<Option<Stack>, DeployError> {
        match self.cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out) => Ok(out.stacks.unwrap_or_default().into_iter().next()),
            Err(e) => {
                let err = DeployError::new("DescribeStacks", stack, e);
                if error::is_missing_stack(&err) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }
}

/// A stack's outputs, by key.
pub fn outputs(stack: &Stack) -> BTreeMap<String, String> {
    stack
        .outputs()
        .iter()
        .filter_map(|o| {
            Some((
                o.output_key()?.to_owned(),
                o.output_value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

pub(crate) fn stack_status(stack: &Stack) -> StackStatus {
    stack
        .stack_status()
        .cloned()
        .unwrap_or_else(|| StackStatus::from("UNKNOWN"))
}

pub(crate) fn status_text(stack: Option<&Stack>) -> String {
    stack
        .map(|s| stack_status(s).as_str().to_owned())
        .unwrap_or_else(|| "absent".into())
}
