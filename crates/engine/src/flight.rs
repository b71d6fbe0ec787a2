//! An operation under way ([`InFlight`]): all a later step needs to follow it, small enough to
//! travel in a continuation token.

use serde::{Deserialize, Serialize};

use crate::drift::Drift;
use crate::plan::Plan;

/// The kind of operation a deploy is following.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A stack create this deployer started.
    Create,
    /// A stack update this deployer started.
    Update,
    /// Someone else's operation, which must end before the deploy can start.
    Wait,
    /// A stack delete this deployer started (`DELETE_ONLY`).
    Delete,
    /// The delete of a failed stack, to create it again once it is gone (`REPLACE_ON_FAILURE`).
    Replace,
    /// A change set being created, for review (`CHANGE_SET_REPLACE`).
    ChangeSet,
    /// A finished create or update whose rollback triggers are still watched.
    Monitor,
    /// A drift detection, before an existing stack changes (`DriftCheck`).
    Drift,
    /// A change set that updates the stack and reverts its drift, being created, to be
    /// executed once ready (`DeploymentMode: REVERT_DRIFT` with `CREATE_UPDATE`).
    Revert,
}

/// An operation under way, with all a later invocation needs to follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// The stack's name.
    pub stack_name: String,
    /// The stack's id (ARN); polls use it so a deleted stack is still found.
    pub stack_id: String,
    /// What is being followed.
    pub operation: Operation,
    /// The idempotency token the operation was started with.
    pub client_request_token: String,
    /// When the deploy started, in seconds since the Unix epoch.
    pub started: i64,
    /// The change set followed, for [`Operation::ChangeSet`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set: Option<String>,
    /// How many resources the template declares, to report progress against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<u32>,
    /// How many steps in a row ran out of time before anything moved on.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stalls: u8,
    /// For [`Operation::Monitor`]: when the rollback triggers' watch ends, in seconds since
    /// the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_until: Option<i64>,
    /// Where the drift check stands: under way, or what it found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl InFlight {
    /// The one constructor: `operation` on the stack `stack_id`, for `plan`, starting now.
    pub fn new(plan: &Plan, stack_id: impl Into<String>, operation: Operation) -> Self {
        Self {
            stack_name: plan.stack_name.clone(),
            stack_id: stack_id.into(),
            operation,
            client_request_token: plan.client_request_token.clone(),
            started: crate::now_epoch(),
            change_set: None,
            resources: None,
            stalls: 0,
            monitor_until: None,
            drift: plan.drift_seen.clone().map(|verdict| Drift {
                detection: None,
                verdict: Some(verdict),
            }),
        }
    }

    /// Where a deploy picks up when no operation is known to have started yet: a wait on the
    /// stack that deploys once it is free, with the same request token, so nothing starts twice.
    pub fn pending(plan: &Plan) -> Self {
        Self::new(plan, plan.stack_name.clone(), Operation::Wait)
    }

    /// The same, counting progress against `resources`.
    pub fn counting(mut self, resources: Option<u32>) -> Self {
        self.resources = resources;
        self
    }

    /// The same, following the change set `name`.
    pub fn on_change_set(mut self, name: &str) -> Self {
        self.change_set = Some(name.to_owned());
        self
    }

    /// The same stack, now followed as `operation`.
    pub fn as_operation(&self, operation: Operation) -> Self {
        Self {
            operation,
            ..self.clone()
        }
    }
}
