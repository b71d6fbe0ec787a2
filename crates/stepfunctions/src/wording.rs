//! The engine's remedies in a state machine user's words: the execution input's keys, and
//! "start the execution again".

use cfn_deployer_engine::Remedy;

/// What to do, as the person who starts the execution would do it.
pub(crate) fn remedy(remedy: Remedy) -> &'static str {
    match remedy {
        Remedy::DeleteStack => "delete the stack and start the execution again",
        Remedy::DeleteRetaining => "delete the stack (retaining the resources that cannot be deleted) and start the execution again",
        Remedy::ReplaceOnFailure => "set \"ActionMode\": \"REPLACE_ON_FAILURE\" in the execution input to have it replaced",
        Remedy::ContinueUpdateRollback => "run `aws cloudformation continue-update-rollback` on it, then start the execution again",
        Remedy::RollbackStack => "roll it back (`aws cloudformation rollback-stack`) and start the execution again",
        Remedy::SettleChangeSet => "execute or delete its change set, or delete the stack, then start the execution again",
        Remedy::CreateChangeSet => "create it first with an execution whose input has \"ActionMode\": \"CHANGE_SET_REPLACE\"",
        Remedy::DeployAgain => "start the execution again",
        Remedy::SettleOrUpgrade => "settle the stack by hand or upgrade cfn-deployer",
        Remedy::MoreTime => "raise the deployer function's timeout so that a step has time to finish, then start the execution again",
        Remedy::LiftProtection => "turn its termination protection off (`aws cloudformation update-termination-protection --no-enable-termination-protection`) if it is really to go, then start the execution again",
        Remedy::FixAndDeployAgain => "fix what the reasons name and start the execution again",
        Remedy::FixDrift => "put the drifted resources back as the template has them and start the execution again",
        Remedy::WarnOnDrift => "set \"DriftCheck\": \"WARN\" in the execution input to deploy over the drift",
        Remedy::RevertDrift => "set \"DeploymentMode\": \"REVERT_DRIFT\" in the execution input to have the deploy put them back",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfn_deployer_engine::Failure;

    fn message(failure: &Failure) -> String {
        crate::WORDS.message(failure)
    }

    #[test]
    fn remedies_name_the_execution_inputs_keys() {
        let failure = Failure::deploy(None, "Stack `app` is ROLLBACK_COMPLETE: x")
            .with(&[Remedy::DeleteStack, Remedy::ReplaceOnFailure]);
        let text = message(&failure);
        assert!(text.contains("start the execution again"), "{text}");
        assert!(
            text.contains("\"ActionMode\": \"REPLACE_ON_FAILURE\" in the execution input"),
            "{text}"
        );
        assert!(!text.contains("pipeline"), "{text}");
    }
}
