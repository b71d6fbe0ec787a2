//! Where a deploy stands after a step ([`Outcome`]), and why one failed ([`Failure`]): the
//! facts in words, the remedies as data for each front to word in its own vocabulary.

use std::collections::BTreeMap;

use crate::drift::DriftVerdict;
use crate::flight::InFlight;
use crate::review::Review;

/// Where a deploy stands after one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The stack is deployed (or needed no change, or is deleted).
    Succeeded {
        /// The stack's id.
        stack_id: String,
        /// One line for the pipeline's console.
        summary: String,
        /// The stack's outputs (none for a deleted stack).
        outputs: BTreeMap<String, String>,
        /// For a change set created for review: what it would change.
        review: Option<Review>,
        /// The stack's status as this step read it (`DELETE_COMPLETE` once deleted); `None`
        /// when the step did not read the stack (a change set's steps).
        stack_status: Option<String>,
        /// What the drift check before the deploy found; `None` when none was made.
        drift: Option<DriftVerdict>,
    },
    /// An operation is under way; poll it again later.
    InProgress {
        /// What to poll.
        flight: InFlight,
        /// One line on the latest progress.
        summary: String,
        /// How far the operation is, from 0 to 100, when known.
        percent: Option<u8>,
    },
    /// The deploy failed.
    Failed(Failure),
}

impl Outcome {
    /// An operation under way, progress unknown.
    pub fn in_progress(flight: InFlight, summary: impl Into<String>) -> Self {
        Self::InProgress {
            flight,
            summary: summary.into(),
            percent: None,
        }
    }
}

/// What kind of problem ended a deploy; each front maps it to its own failure names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The request must change: a setting, a missing capability, a role not allowed.
    Configuration,
    /// AWS refused for lack of permission.
    Permission,
    /// The deploy itself failed.
    Deploy,
}

/// A failed deploy: what happened, and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The stack's id, when there is a stack.
    pub stack_id: Option<String>,
    /// What kind of problem it is.
    pub kind: FailureKind,
    /// What happened, in words that name no front: the stack, its status, the reasons taken
    /// from its events.
    pub message: String,
    /// What would fix it, most direct first; each front words these.
    pub remedies: Vec<Remedy>,
}

impl Failure {
    /// A failed deploy operation, explained by `message`.
    pub fn deploy(stack_id: Option<String>, message: impl Into<String>) -> Self {
        Self {
            stack_id,
            kind: FailureKind::Deploy,
            message: message.into(),
            remedies: Vec::new(),
        }
    }

    /// The same, with these remedies.
    pub fn with(mut self, remedies: &[Remedy]) -> Self {
        self.remedies.extend_from_slice(remedies);
        self
    }

    /// The message with its remedies, each said by `word` in a front's own vocabulary:
    /// `message: first remedy, or second remedy.`
    pub fn worded(&self, word: impl Fn(Remedy) -> &'static str) -> String {
        if self.remedies.is_empty() {
            return self.message.clone();
        }
        let remedies: Vec<&str> = self.remedies.iter().map(|r| word(*r)).collect();
        format!("{}: {}.", self.message, remedies.join(", or "))
    }
}

/// Runs `step`, catching a panic: its output, or the message the panic carried, so that each
/// front can report a bug instead of leaving its job unreported. A plain function, not an
/// `async fn`: the step's future is large, and an `async fn` would hold a second copy of it,
/// which a tokio worker's stack does not have room for in a debug build.
pub fn catch_panic<F: std::future::Future>(
    step: F,
) -> impl std::future::Future<Output = Result<F::Output, String>> {
    use futures_util::FutureExt as _;
    std::panic::AssertUnwindSafe(step)
        .catch_unwind()
        .map(|caught| caught.map_err(|payload| panic_message(payload.as_ref())))
}

/// The message a panic carried, for a report that says what broke.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// A way out of a failure. The engine names it; the fronts say it in their own words (a
/// pipeline's `ActionMode`, a state machine input's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Delete the stack, then deploy again.
    DeleteStack,
    /// Delete the stack, retaining the resources that cannot be deleted, then deploy again.
    DeleteRetaining,
    /// Deploy in the mode that deletes and recreates a stack that never worked.
    ReplaceOnFailure,
    /// `aws cloudformation continue-update-rollback`, then deploy again.
    ContinueUpdateRollback,
    /// `aws cloudformation rollback-stack`, then deploy again.
    RollbackStack,
    /// Execute or delete the stack's pending change set, or delete the stack, then deploy again.
    SettleChangeSet,
    /// Create the change set first, in the change-set-creating mode.
    CreateChangeSet,
    /// Deploy again: the problem was someone else's doing or has passed.
    DeployAgain,
    /// Settle the stack by hand, or upgrade cfn-deployer.
    SettleOrUpgrade,
    /// Give each step more time: the steps keep running out of it.
    MoreTime,
    /// Turn the stack's termination protection off, if it is really to be deleted.
    LiftProtection,
    /// Fix what the failure names (the template, its parameters) and deploy again.
    FixAndDeployAgain,
    /// Put the drifted resources back as the template has them, then deploy again.
    FixDrift,
    /// Set `DriftCheck` to `WARN`, to deploy over drift and be told of it.
    WarnOnDrift,
    /// Deploy with `DeploymentMode: REVERT_DRIFT`, which also puts the drifted resources back.
    RevertDrift,
}
