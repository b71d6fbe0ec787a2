//! The engine's remedies in a pipeline's words: the built-in CloudFormation action's setting
//! names, and "run the pipeline again". Each CodePipeline front adds what is its own: where
//! its logs are and the knob that gives a step more time.

use cfn_deployer_engine::Remedy;

/// How a pipeline's user deploys again.
pub const AGAIN: &str = "Run the pipeline again";

/// What names one deploy in a CodePipeline front's logs.
pub const ID: &str = "the job id";

/// What to do, as a person who runs the pipeline would do it; `more_time` says how this
/// front's step gets more time.
pub fn remedy(remedy: Remedy, more_time: &'static str) -> &'static str {
    match remedy {
        Remedy::DeleteStack => "delete the stack and run the pipeline again",
        Remedy::DeleteRetaining => "delete the stack (retaining the resources that cannot be deleted) and run the pipeline again",
        Remedy::ReplaceOnFailure => "set ActionMode to REPLACE_ON_FAILURE to have it replaced",
        Remedy::ContinueUpdateRollback => "run `aws cloudformation continue-update-rollback` on it, then run the pipeline again",
        Remedy::RollbackStack => "roll it back (`aws cloudformation rollback-stack`) and run the pipeline again",
        Remedy::SettleChangeSet => "execute or delete its change set, or delete the stack, then run the pipeline again",
        Remedy::CreateChangeSet => "create it first with ActionMode CHANGE_SET_REPLACE",
        Remedy::DeployAgain => "run the pipeline again",
        Remedy::SettleOrUpgrade => "settle the stack by hand or upgrade cfn-deployer",
        Remedy::MoreTime => more_time,
        Remedy::LiftProtection => "turn its termination protection off (`aws cloudformation update-termination-protection --no-enable-termination-protection`) if it is really to go, then run the pipeline again",
        Remedy::FixAndDeployAgain => "fix what the reasons name and run the pipeline again",
        Remedy::FixDrift => "put the drifted resources back as the template has them and run the pipeline again",
        Remedy::WarnOnDrift => "set DriftCheck to WARN to deploy over the drift",
        Remedy::RevertDrift => "set DeploymentMode to REVERT_DRIFT to have the deploy put them back",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::StackStatus;
    use cfn_deployer_engine::Failure;

    fn message(failure: &Failure) -> String {
        failure.worded(|r| remedy(r, "more time"))
    }
    use cfn_deployer_engine::status::{on_start, StartStep};

    #[test]
    fn a_stack_that_never_worked_names_the_mode_that_replaces_it() {
        let StartStep::Blocked(b) = on_start(&StackStatus::RollbackComplete) else {
            panic!("ROLLBACK_COMPLETE blocks a deploy")
        };
        let failure = Failure::deploy(None, "Stack `app` is ROLLBACK_COMPLETE: x").with(b.remedies);
        assert_eq!(
            message(&failure),
            "Stack `app` is ROLLBACK_COMPLETE: x: delete the stack and run the pipeline again, or set ActionMode to REPLACE_ON_FAILURE to have it replaced."
        );
    }

    #[test]
    fn every_remedy_says_what_to_do() {
        for r in [
            Remedy::DeleteStack,
            Remedy::DeleteRetaining,
            Remedy::ReplaceOnFailure,
            Remedy::ContinueUpdateRollback,
            Remedy::RollbackStack,
            Remedy::SettleChangeSet,
            Remedy::CreateChangeSet,
            Remedy::DeployAgain,
            Remedy::SettleOrUpgrade,
            Remedy::MoreTime,
            Remedy::LiftProtection,
            Remedy::FixAndDeployAgain,
        ] {
            assert!(remedy(r, "give the step more time").len() > 15, "{r:?}");
        }
    }
}
