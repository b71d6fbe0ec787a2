//! What a stack-set operation's status means for the job (a pure table), and what each phase
//! is called: its API and the operation id it derives from the job's request token.

use aws_sdk_cloudformation::types::StackSetOperationStatus;

use super::{Phase, SetPlan};
use crate::outcome::Remedy;

/// The next move once an operation's status is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpStep {
    /// Not over: poll again.
    Running,
    /// Over, and every instance it had to deploy did: the next phase.
    Done,
    /// Over without finishing: the job fails, with this way out.
    Failed(Remedy),
}

/// The next move for an operation in `status`; `ended` says whether CloudFormation gave it an
/// end time, which is what decides a status newer than this build.
pub(crate) fn on_status(status: &StackSetOperationStatus, ended: bool) -> OpStep {
    match status {
        // CloudFormation is deploying the instances, Region by Region.
        StackSetOperationStatus::Running => OpStep::Running,
        // Managed execution queued it behind another operation on the same set: it will run.
        StackSetOperationStatus::Queued => OpStep::Running,
        // A stop was asked: the instances under way finish first, then it ends STOPPED.
        StackSetOperationStatus::Stopping => OpStep::Running,
        // Within the failure tolerance in every Region: the phase is done.
        StackSetOperationStatus::Succeeded => OpStep::Done,
        // The failure tolerance was exceeded: what failed must be fixed.
        StackSetOperationStatus::Failed => OpStep::Failed(Remedy::FixAndDeployAgain),
        // Someone stopped it: the phase did not finish, and deploying again resumes it.
        StackSetOperationStatus::Stopped => OpStep::Failed(Remedy::DeployAgain),
        // Newer than this build. Waiting on it is harmless while it runs, but an operation
        // with an end time is over, and nothing says it succeeded: failing is the only way not
        // to wait forever, and not to report a success that may not be one.
        _ if ended => OpStep::Failed(Remedy::SettleOrUpgrade),
        _ => OpStep::Running,
    }
}

/// The longest operation id CloudFormation takes.
pub const MAX_OPERATION_ID: usize = 128;

impl Phase {
    /// The API that starts the phase's operation.
    pub fn api(self) -> &'static str {
        match self {
            Self::Update => "UpdateStackSet",
            Self::Add => "CreateStackInstances",
            Self::Override => "UpdateStackInstances",
            Self::Remove => "DeleteStackInstances",
        }
    }

    /// What the phase's operation id ends with.
    fn suffix(self) -> &'static str {
        match self {
            Self::Update => "update",
            Self::Add => "add",
            Self::Override => "override",
            Self::Remove => "remove",
        }
    }
}

impl SetPlan {
    /// The id of this job's operation in `phase`: `{request_token}-{phase}`, the token cut so
    /// that the whole is at most [`MAX_OPERATION_ID`] characters of `[a-zA-Z0-9-]`, starting
    /// with a letter or digit. Every delivery of the same job derives the same ids, which is
    /// what makes CloudFormation start each operation once.
    pub fn operation_id(&self, phase: Phase) -> String {
        let suffix = phase.suffix();
        format!(
            "{}-{suffix}",
            clean(&self.request_token, MAX_OPERATION_ID - suffix.len() - 1)
        )
    }

    /// The request token as `ClientRequestToken` takes it: the same characters as an id.
    pub(crate) fn client_request_token(&self) -> String {
        clean(&self.request_token, MAX_OPERATION_ID)
    }
}

/// `token` in at most `max` characters of `[a-zA-Z0-9-]`, starting with a letter or digit.
fn clean(token: &str, max: usize) -> String {
    let mut clean: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .skip_while(|c| *c == '-')
        .collect();
    // ASCII only by now, so a byte length is a character count.
    clean.truncate(max);
    if clean.is_empty() {
        // No token at all is a front's bug; CloudFormation still needs a valid id.
        clean = "cfn-deployer".into();
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    use StackSetOperationStatus as S;

    #[test]
    fn every_status_has_a_next_move() {
        let new = S::from("PAUSED_FOR_REVIEW");
        let rows: [(&S, bool, OpStep); 9] = [
            (&S::Running, false, OpStep::Running),
            (&S::Queued, false, OpStep::Running),
            (&S::Stopping, false, OpStep::Running),
            (&S::Succeeded, true, OpStep::Done),
            (&S::Failed, true, OpStep::Failed(Remedy::FixAndDeployAgain)),
            (&S::Stopped, true, OpStep::Failed(Remedy::DeployAgain)),
            (&new, false, OpStep::Running),
            (&new, true, OpStep::Failed(Remedy::SettleOrUpgrade)),
            // A known status decides by itself, whatever the end time says.
            (&S::Running, true, OpStep::Running),
        ];
        for (status, ended, step) in rows {
            assert_eq!(on_status(status, ended), step, "{status:?} ended={ended}");
        }
    }

    #[test]
    fn operation_ids_keep_their_suffix_within_the_limit() {
        let plan = |token: &str| SetPlan {
            request_token: token.into(),
            ..super::super::fixture::plan()
        };
        assert_eq!(plan("tok-1").operation_id(Phase::Update), "tok-1-update");
        assert_eq!(plan("-a_b.c").operation_id(Phase::Remove), "abc-remove");
        assert_eq!(plan("").operation_id(Phase::Add), "cfn-deployer-add");
        let long = plan(&"x".repeat(300));
        for phase in [Phase::Update, Phase::Add, Phase::Override, Phase::Remove] {
            let id = long.operation_id(phase);
            assert_eq!(id.len(), MAX_OPERATION_ID, "{id}");
            assert!(id.ends_with(phase.suffix()), "{id}");
        }
        assert_eq!(plan("tok-1").client_request_token(), "tok-1");
    }
}
