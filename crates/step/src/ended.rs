//! Where a step left a deploy, as every front receives it ([`Ended`]), what a front hands to
//! the next step ([`Resume`]), and a stack group's report ([`GroupReport`]).

use std::collections::BTreeMap;

use cfn_deployer_engine::drift::{DriftStatus, DriftVerdict};
use cfn_deployer_engine::group::{GroupState, StackResult};
use cfn_deployer_engine::review::Review;
use cfn_deployer_engine::stackset::SetState;
use cfn_deployer_engine::{FailureKind, InFlight, Outcome};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::info;

use crate::error::Failing;
use crate::words::Words;

/// The end of every summary while no role policy is set.
pub const POLICY_OFF: &str = "role policy off";

/// Where a deploy stands after one step, worded for the front that ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The stack is deployed (or needed no change, or is deleted).
    Succeeded {
        /// The stack's name.
        stack: String,
        /// The stack's id.
        stack_id: String,
        /// One line for the console.
        summary: String,
        /// The stack's outputs (none for a deleted stack).
        outputs: BTreeMap<String, String>,
        /// For a change set created for review: what it would change.
        review: Option<Review>,
        /// The stack's status, when the step read it.
        stack_status: Option<String>,
        /// What the drift check before the deploy found; `None` when none was made.
        drift: Option<DriftVerdict>,
    },
    /// An operation is under way; the front hands `flight` to the next step.
    InProgress {
        /// What to poll.
        flight: InFlight,
        /// One line on the latest progress.
        summary: String,
        /// How far the operation is, 0 to 100, when known.
        percent: Option<u8>,
    },
    /// A stack group's run is under way; the front hands `state` to the next step.
    GroupInProgress {
        /// Where the run stands.
        state: GroupState,
        /// One line on its progress.
        summary: String,
        /// How far the run is, 0 to 100.
        percent: Option<u8>,
        /// The id of a stack under way, when one has an id.
        stack_id: Option<String>,
    },
    /// Every stack of a group is deployed (or deleted).
    GroupSucceeded {
        /// One line for the console: every stack and its result.
        summary: String,
        /// Every stack, as the run left it.
        report: GroupReport,
    },
    /// A stack set's operation is under way, or another one is waited for; the front hands
    /// `state` to the next step.
    SetInProgress {
        /// Where the job stands.
        state: SetState,
        /// One line on its progress.
        summary: String,
        /// How far the operation is, 0 to 100, when known.
        percent: Option<u8>,
    },
    /// A stack-set job is done.
    SetSucceeded {
        /// The stack set's id (`StackSetId`); empty when a delete found none.
        stack_set_id: String,
        /// The job's last operation (`OperationId`), when it started one.
        operation_id: Option<String>,
        /// One line for the console: the instances counted by status.
        summary: String,
    },
    /// The deploy failed, or the step could not run.
    Failed {
        /// What kind of failure.
        kind: FailureKind,
        /// Why, and what to do, in the front's words.
        message: String,
        /// The stack's id, when there is one.
        stack_id: Option<String>,
        /// The front's own name for the failure, when its kind does not say enough.
        name: Option<&'static str>,
    },
}

/// The `DriftStatus` a deploy reports: `NOT_CHECKED` when no check was made.
pub fn drift_status(drift: Option<&DriftVerdict>) -> DriftStatus {
    drift.map_or(DriftStatus::NotChecked, |v| v.status)
}

impl Ended {
    /// The end of a step that failed with `err`.
    pub fn from_error<E: Failing>(err: &E) -> Self {
        Self::Failed {
            kind: err.kind(),
            message: err.to_string(),
            stack_id: err.stack_id(),
            name: err.name(),
        }
    }

    pub(crate) fn from_outcome(
        outcome: Outcome,
        stack: &str,
        words: &Words,
        policy_off: bool,
    ) -> Self {
        // Said on every step while it is so, for whoever reads the console to see.
        let summary_of = |summary: String| {
            if policy_off {
                format!("{summary}; {POLICY_OFF}")
            } else {
                summary
            }
        };
        match outcome {
            Outcome::Succeeded {
                stack_id,
                summary,
                outputs,
                review,
                stack_status,
                drift,
            } => {
                info!(%summary, "deploy succeeded");
                // A deploy that went on over drift, or without knowing it, says so.
                let summary = match drift.as_ref().and_then(DriftVerdict::note) {
                    Some(note) => format!("{summary}; {note}"),
                    None => summary,
                };
                Self::Succeeded {
                    stack: stack.to_owned(),
                    stack_id,
                    summary: summary_of(summary),
                    outputs,
                    review,
                    stack_status,
                    drift,
                }
            }
            Outcome::InProgress {
                flight,
                summary,
                percent,
            } => {
                info!(%summary, "deploy under way");
                Self::InProgress {
                    flight,
                    summary: summary_of(summary),
                    percent,
                }
            }
            Outcome::Failed(failure) => {
                info!(message = %failure.message, "deploy failed");
                Self::Failed {
                    kind: failure.kind,
                    message: words.message(&failure),
                    stack_id: failure.stack_id,
                    name: None,
                }
            }
        }
    }
}

impl Ended {
    /// The same end, its words naming where the stack lies (`222222222222 / eu-west-1`): a
    /// stack in another account or Region is said to be there.
    /// `named` is how the words name what was deployed: ``Stack `app-api` `` or
    /// ``Stack set `baseline` ``.
    pub(crate) fn placed(self, named: &str, place: &str) -> Self {
        let say = |text: String| {
            if text.contains(named) {
                text.replacen(named, &format!("{named} in {place}"), 1)
            } else {
                format!("{named} in {place}: {text}")
            }
        };
        match self {
            Self::Succeeded {
                stack,
                stack_id,
                summary,
                outputs,
                review,
                stack_status,
                drift,
            } => Self::Succeeded {
                summary: say(summary),
                stack,
                stack_id,
                outputs,
                review,
                stack_status,
                drift,
            },
            Self::InProgress {
                flight,
                summary,
                percent,
            } => Self::InProgress {
                flight,
                summary: say(summary),
                percent,
            },
            Self::SetSucceeded {
                stack_set_id,
                operation_id,
                summary,
            } => Self::SetSucceeded {
                stack_set_id,
                operation_id,
                summary: say(summary),
            },
            Self::SetInProgress {
                state,
                summary,
                percent,
            } => Self::SetInProgress {
                state,
                summary: say(summary),
                percent,
            },
            Self::Failed {
                kind,
                message,
                stack_id,
                name,
            } => Self::Failed {
                kind,
                message: say(message),
                stack_id,
                name,
            },
            other => other,
        }
    }
}

/// Where the last step left what a request asked: one stack's operation, or a group run.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// One stack's operation under way.
    Stack(InFlight),
    /// A group run under way.
    Group(GroupState),
    /// A stack-set job under way.
    StackSet(SetState),
}

/// One stack of a group, as the run left it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStack {
    /// Its id in the manifest.
    #[serde(skip)]
    pub id: String,
    /// The stack's name.
    #[serde(rename = "StackName")]
    pub stack_name: String,
    /// The stack's id, when it exists.
    #[serde(rename = "StackId")]
    pub stack_id: Option<String>,
    /// Its status, when it exists.
    #[serde(rename = "StackStatus")]
    pub stack_status: Option<String>,
    /// What the run did to it.
    #[serde(rename = "Result")]
    pub result: StackResult,
    /// Its outputs.
    #[serde(rename = "Outputs")]
    pub outputs: BTreeMap<String, String>,
}

/// Every stack of a group, as the run left them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupReport {
    /// The stacks, in the manifest's order.
    pub stacks: Vec<GroupStack>,
}

impl GroupReport {
    /// The output file: `{"Stacks": {"<id>": {StackName, StackId, StackStatus, Result,
    /// Outputs}}}`.
    pub fn document(&self) -> Value {
        let stacks: serde_json::Map<String, Value> = self
            .stacks
            .iter()
            .map(|s| (s.id.clone(), serde_json::to_value(s).unwrap_or(Value::Null)))
            .collect();
        json!({ "Stacks": stacks })
    }

    /// Every stack's outputs as `<id>_<OutputKey>`.
    pub fn variables(&self) -> BTreeMap<String, String> {
        self.stacks
            .iter()
            .flat_map(|s| {
                s.outputs
                    .iter()
                    .map(move |(k, v)| (format!("{}_{k}", s.id), v.clone()))
            })
            .collect()
    }
}
