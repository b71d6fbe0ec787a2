//! The decision tables: what a stack's status means for the deploy that is about to start or
//! is under way. Pure functions, no I/O.

use aws_sdk_cloudformation::types::StackStatus;

use crate::outcome::Remedy;

/// What to do with a stack before starting a deploy on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartStep {
    /// No usable stack exists: create it.
    Create,
    /// The stack is settled: update it.
    Update,
    /// Another operation is running on the stack: wait for it, then decide again.
    Wait,
    /// The stack cannot be deployed to until someone acts.
    Blocked(Blocker),
}

/// Why a stack cannot be deployed to, and what would unblock it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocker {
    /// What state the stack is in, in words.
    pub why: &'static str,
    /// What would unblock it, most direct first.
    pub remedies: &'static [Remedy],
}

const fn blocked(why: &'static str, remedies: &'static [Remedy]) -> StartStep {
    StartStep::Blocked(Blocker { why, remedies })
}

/// What a status means while polling an operation this deployer started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollStep {
    /// The operation finished and the stack is settled in the desired state.
    Succeeded,
    /// The operation is still running.
    InProgress,
    /// The operation failed; the stack's events explain why.
    Failed,
}

/// Decides how to start a deploy on a stack in `status`.
pub fn on_start(status: &StackStatus) -> StartStep {
    use StackStatus as S;
    match status {
        // Settled after a successful create or update.
        S::CreateComplete | S::UpdateComplete => StartStep::Update,
        // A failed update rolled back cleanly: the stack works and accepts updates.
        S::UpdateRollbackComplete => StartStep::Update,
        // Resource imports leave the stack settled and updatable.
        S::ImportComplete | S::ImportRollbackComplete => StartStep::Update,
        // DescribeStacks by name does not return deleted stacks, but a stack id can: start afresh.
        S::DeleteComplete => StartStep::Create,
        // Running operations of every kind: the stack refuses a second one until they end.
        S::CreateInProgress
        | S::UpdateInProgress
        | S::UpdateCompleteCleanupInProgress
        | S::UpdateRollbackInProgress
        | S::UpdateRollbackCompleteCleanupInProgress
        | S::RollbackInProgress
        | S::DeleteInProgress
        | S::ImportInProgress
        | S::ImportRollbackInProgress => StartStep::Wait,
        // A first create failed and rolled back: CloudFormation only allows deleting it.
        S::RollbackComplete => blocked(
            "its first create failed and it can only be deleted",
            &[Remedy::DeleteStack, Remedy::ReplaceOnFailure],
        ),
        // Created with rollback disabled and failed: it can only be deleted.
        S::CreateFailed => blocked(
            "its first create failed (rollback disabled) and it can only be deleted",
            &[Remedy::DeleteStack, Remedy::ReplaceOnFailure],
        ),
        // The rollback of a first create failed: resources may be left over.
        S::RollbackFailed => blocked(
            "the rollback of its create failed",
            &[Remedy::DeleteRetaining],
        ),
        // Stuck between versions: CloudFormation needs ContinueUpdateRollback first.
        S::UpdateRollbackFailed => blocked(
            "the rollback of its last update failed",
            &[Remedy::ContinueUpdateRollback],
        ),
        // An update with rollback disabled failed: it must be rolled back or fixed by hand.
        S::UpdateFailed => blocked(
            "its last update failed with rollback disabled",
            &[Remedy::RollbackStack],
        ),
        // A failed delete left the stack half gone.
        S::DeleteFailed => blocked("its delete failed", &[Remedy::DeleteRetaining]),
        // The rollback of an import failed: same remedy as a failed update rollback.
        S::ImportRollbackFailed => blocked(
            "the rollback of a resource import failed",
            &[Remedy::ContinueUpdateRollback],
        ),
        // A change set created the stack but was never executed: there is nothing to update.
        S::ReviewInProgress => blocked(
            "it exists only as an unexecuted change set",
            &[Remedy::SettleChangeSet, Remedy::ReplaceOnFailure],
        ),
        // A status newer than this build: refuse rather than guess.
        _ => blocked(
            "its status is one this version of cfn-deployer does not know",
            &[Remedy::SettleOrUpgrade],
        ),
    }
}

/// Decides what a status means while waiting for a create or update this deployer started.
pub fn on_poll(status: &StackStatus) -> PollStep {
    use StackStatus as S;
    match status {
        // The operation completed.
        S::CreateComplete | S::UpdateComplete | S::ImportComplete => PollStep::Succeeded,
        // Still working; cleanup after an update keeps the stack busy, so keep waiting for it.
        S::CreateInProgress
        | S::UpdateInProgress
        | S::UpdateCompleteCleanupInProgress
        | S::ImportInProgress => PollStep::InProgress,
        // Rolling back: the outcome is already a failure, but wait so the report is final and the
        // stack is usable again when the pipeline is retried.
        S::RollbackInProgress
        | S::UpdateRollbackInProgress
        | S::UpdateRollbackCompleteCleanupInProgress
        | S::ImportRollbackInProgress => PollStep::InProgress,
        // Rolled back, failed outright, or stuck: the operation failed.
        S::RollbackComplete
        | S::RollbackFailed
        | S::CreateFailed
        | S::UpdateFailed
        | S::UpdateRollbackComplete
        | S::UpdateRollbackFailed
        | S::ImportRollbackComplete
        | S::ImportRollbackFailed => PollStep::Failed,
        // A create or update never leaves a stack waiting for review: someone else acted on it,
        // and waiting would never end.
        S::ReviewInProgress => PollStep::Failed,
        // Someone deleted the stack under the deploy.
        S::DeleteInProgress | S::DeleteComplete | S::DeleteFailed => PollStep::Failed,
        // A status newer than this build: report it rather than wait forever.
        _ => PollStep::Failed,
    }
}

/// Whether `REPLACE_ON_FAILURE` deletes and recreates a stack in `status`: the statuses of a
/// stack that never worked, where nothing of value is lost.
pub fn replaceable(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::RollbackComplete | StackStatus::CreateFailed | StackStatus::ReviewInProgress
    )
}

/// How long a stack may show another status after DeleteStack before the delete is taken as
/// not started: DescribeStacks may lag the request by a moment.
pub const DELETE_GRACE_SECS: i64 = 60;

/// What a status means while waiting for a delete, `elapsed` seconds after it was requested.
pub fn on_delete_poll(status: &StackStatus, elapsed: i64) -> PollStep {
    use StackStatus as S;
    match status {
        // Gone.
        S::DeleteComplete => PollStep::Succeeded,
        // Deleting.
        S::DeleteInProgress => PollStep::InProgress,
        // CloudFormation could not delete some resources.
        S::DeleteFailed => PollStep::Failed,
        // Not deleting yet: a lagging read just after the request, for a moment.
        _ if elapsed < DELETE_GRACE_SECS => PollStep::InProgress,
        // Not deleting after the grace: the delete did not start.
        _ => PollStep::Failed,
    }
}

/// Whether a resource's status (`CREATE_COMPLETE`, `DELETE_COMPLETE`, …) says its last step
/// ended. CloudFormation words a resource's status as the step and its state
/// (`UPDATE_IN_PROGRESS`, `UPDATE_FAILED`), and there are more steps than the SDK names; the
/// state is the suffix, so the rule reads the text (as a front's view holds it) rather than an
/// enum.
pub fn resource_done(status: &str) -> bool {
    status.ends_with("_COMPLETE")
}

/// Whether a resource's status (`CREATE_FAILED`, `UPDATE_ROLLBACK_FAILED`, …) says its last
/// step failed; see [`resource_done`].
pub fn resource_failed(status: &str) -> bool {
    status.ends_with("_FAILED")
}

/// Whether a resource's status (`CREATE_IN_PROGRESS`, `IMPORT_ROLLBACK_IN_PROGRESS`, …) says
/// it is still being worked on; see [`resource_done`].
pub fn resource_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::StackStatus as S;

    /// Every status the SDK knows, with the expected start and poll decisions.
    fn table() -> Vec<(S, StartStep, PollStep)> {
        use PollStep as P;
        use StartStep as T;
        let blocked = blocked("", &[]);
        vec![
            (S::CreateComplete, T::Update, P::Succeeded),
            (S::CreateFailed, blocked.clone(), P::Failed),
            (S::CreateInProgress, T::Wait, P::InProgress),
            (S::DeleteComplete, T::Create, P::Failed),
            (S::DeleteFailed, blocked.clone(), P::Failed),
            (S::DeleteInProgress, T::Wait, P::Failed),
            (S::ImportComplete, T::Update, P::Succeeded),
            (S::ImportInProgress, T::Wait, P::InProgress),
            (S::ImportRollbackComplete, T::Update, P::Failed),
            (S::ImportRollbackFailed, blocked.clone(), P::Failed),
            (S::ImportRollbackInProgress, T::Wait, P::InProgress),
            (S::ReviewInProgress, blocked.clone(), P::Failed),
            (S::RollbackComplete, blocked.clone(), P::Failed),
            (S::RollbackFailed, blocked.clone(), P::Failed),
            (S::RollbackInProgress, T::Wait, P::InProgress),
            (S::UpdateComplete, T::Update, P::Succeeded),
            (S::UpdateCompleteCleanupInProgress, T::Wait, P::InProgress),
            (S::UpdateFailed, blocked.clone(), P::Failed),
            (S::UpdateInProgress, T::Wait, P::InProgress),
            (S::UpdateRollbackComplete, T::Update, P::Failed),
            (
                S::UpdateRollbackCompleteCleanupInProgress,
                T::Wait,
                P::InProgress,
            ),
            (S::UpdateRollbackFailed, blocked.clone(), P::Failed),
            (S::UpdateRollbackInProgress, T::Wait, P::InProgress),
            (S::from("SOME_FUTURE_STATUS"), blocked, P::Failed),
        ]
    }

    #[test]
    fn table_covers_every_known_status() {
        let table = table();
        let listed: Vec<&str> = table.iter().map(|(s, _, _)| s.as_str()).collect();
        for known in S::values() {
            assert!(listed.contains(known), "{known} is missing from the table");
        }
    }

    #[test]
    fn start_decisions() {
        for (status, want, _) in table() {
            let got = on_start(&status);
            match (&want, &got) {
                (StartStep::Blocked(_), StartStep::Blocked(b)) => {
                    assert!(b.why.len() > 10, "{status}: a blocked stack says why");
                    assert!(
                        !b.remedies.is_empty(),
                        "{status}: a blocked stack needs a remedy"
                    )
                }
                _ => assert_eq!(got, want, "{status}"),
            }
        }
    }

    #[test]
    fn replace_and_delete_decisions() {
        let replaceable: Vec<&str> = S::values()
            .iter()
            .copied()
            .filter(|s| replaceable(&S::from(*s)))
            .collect();
        assert_eq!(
            replaceable,
            ["CREATE_FAILED", "REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"]
        );
        for s in replaceable {
            let StartStep::Blocked(b) = on_start(&S::from(s)) else {
                panic!("{s}")
            };
            assert!(
                b.remedies.contains(&Remedy::ReplaceOnFailure),
                "{s}: the remedy names the mode"
            );
        }
        assert_eq!(on_delete_poll(&S::DeleteComplete, 0), PollStep::Succeeded);
        assert_eq!(
            on_delete_poll(&S::DeleteInProgress, 3600),
            PollStep::InProgress
        );
        assert_eq!(on_delete_poll(&S::DeleteFailed, 0), PollStep::Failed);
        assert_eq!(
            on_delete_poll(&S::RollbackComplete, 5),
            PollStep::InProgress
        );
        assert_eq!(
            on_delete_poll(&S::RollbackComplete, DELETE_GRACE_SECS),
            PollStep::Failed
        );
    }

    #[test]
    fn poll_decisions() {
        for (status, _, want) in table() {
            assert_eq!(on_poll(&status), want, "{status}");
        }
    }

    #[test]
    fn resource_states() {
        // (status, done, failed, in progress)
        let table = [
            ("CREATE_COMPLETE", true, false, false),
            ("DELETE_COMPLETE", true, false, false),
            ("UPDATE_ROLLBACK_COMPLETE", true, false, false),
            ("CREATE_FAILED", false, true, false),
            ("UPDATE_ROLLBACK_FAILED", false, true, false),
            ("CREATE_IN_PROGRESS", false, false, true),
            ("IMPORT_ROLLBACK_IN_PROGRESS", false, false, true),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", false, false, true),
            ("DELETE_SKIPPED", false, false, false),
            ("", false, false, false),
        ];
        for (status, done, failed, in_progress) in table {
            assert_eq!(resource_done(status), done, "{status}");
            assert_eq!(resource_failed(status), failed, "{status}");
            assert_eq!(resource_in_progress(status), in_progress, "{status}");
        }
    }
}
