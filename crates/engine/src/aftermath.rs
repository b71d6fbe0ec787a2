//! What a failed operation leaves behind, in words and remedies: the failure policy the plan
//! chose (`OnFailure`, `DisableRollback`), and the rollback trigger that went off, if one did.
//! Pure functions of the plan, the operation and the stack's status and events.

use aws_sdk_cloudformation::types::{StackEvent, StackStatus};

use crate::flight::Operation;
use crate::outcome::Remedy;
use crate::plan::{OnFailure, Plan};
use crate::status::resource_failed;

/// The alarm among the plan's rollback triggers that the operation's events name.
/// CloudFormation documents no wording for a rollback caused by a trigger, so its events are
/// searched for the alarm's ARN, or its name, in any reason.
pub(crate) fn alarm_named<'p>(plan: &'p Plan, events: &[StackEvent]) -> Option<&'p str> {
    let triggers = &plan.rollback.as_ref()?.triggers;
    triggers.iter().map(String::as_str).find(|arn| {
        let name = arn.rsplit(':').next().unwrap_or(arn);
        events.iter().any(|e| {
            e.resource_status_reason()
                .is_some_and(|r| r.contains(arn) || (!name.is_empty() && r.contains(name)))
        })
    })
}

/// Whether the operation's events name a failed resource: without one, a rollback came from
/// the stack as a whole (a trigger, a timeout, a cancellation).
fn any_failed_resource(stack_name: &str, events: &[StackEvent]) -> bool {
    events.iter().any(|e| {
        e.logical_resource_id() != Some(stack_name)
            && e.resource_status()
                .is_some_and(|s| resource_failed(s.as_str()))
    })
}

/// The sentences and remedies that follow a failed operation's reasons.
pub(crate) fn aftermath(
    plan: &Plan,
    operation: Operation,
    status: &StackStatus,
    events: &[StackEvent],
) -> (Vec<String>, Vec<Remedy>) {
    use StackStatus as S;
    let mut said = Vec::new();
    if let Some(alarm) = alarm_named(plan, events) {
        said.push(format!(
            "Rollback trigger alarm `{alarm}` went off, so CloudFormation rolled the operation back."
        ));
    } else if let Some(rollback) = plan.rollback.as_ref().filter(|r| !r.triggers.is_empty()) {
        if !any_failed_resource(&plan.stack_name, events) {
            said.push(format!(
                "No resource failed: one of the rollback triggers ({}) may have gone off; see the stack's events.",
                rollback.triggers.join(", ")
            ));
        }
    }
    let remedies = match (operation, status) {
        (Operation::Create, S::CreateFailed) => {
            said.push("OnFailure is DO_NOTHING: the failed resources are kept as they are, for debugging, and the stack can only be deleted now.".into());
            vec![Remedy::DeleteStack, Remedy::ReplaceOnFailure]
        }
        // Deleted because the deploy asked so; a stack deleted by hand during a create gets no
        // such word.
        (Operation::Create, S::DeleteInProgress | S::DeleteComplete)
            if plan.on_failure == Some(OnFailure::Delete) =>
        {
            said.push(
                "OnFailure is DELETE: CloudFormation deletes the stack, and the next deploy creates it afresh."
                    .into(),
            );
            vec![Remedy::FixAndDeployAgain]
        }
        (Operation::Create, S::RollbackComplete | S::RollbackFailed) => {
            let policy = plan.on_failure.unwrap_or(OnFailure::Rollback);
            said.push(format!(
                "OnFailure is {}: the stack rolled back and can only be deleted now.",
                policy.as_str()
            ));
            vec![Remedy::ReplaceOnFailure, Remedy::DeleteStack]
        }
        (Operation::Update, S::UpdateFailed) => {
            said.push("DisableRollback is set: the failed update's resources are left as they are, for debugging.".into());
            vec![Remedy::RollbackStack, Remedy::FixAndDeployAgain]
        }
        (Operation::Update, S::UpdateRollbackFailed) => vec![Remedy::ContinueUpdateRollback],
        (Operation::Update, S::UpdateRollbackComplete) => vec![Remedy::FixAndDeployAgain],
        _ => Vec::new(),
    };
    (said, remedies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Rollback;
    use aws_sdk_cloudformation::types::ResourceStatus;

    const ALARM: &str = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-5xx";

    fn plan(on_failure: Option<OnFailure>, triggers: &[&str]) -> Plan {
        Plan {
            stack_name: "app".into(),
            on_failure,
            rollback: Some(Rollback {
                triggers: triggers.iter().map(|t| (*t).to_owned()).collect(),
                monitoring_minutes: 5,
            }),
            ..Plan::default()
        }
    }

    fn event(logical: &str, status: &str, reason: &str) -> StackEvent {
        StackEvent::builder()
            .logical_resource_id(logical)
            .resource_status(ResourceStatus::from(status))
            .resource_status_reason(reason)
            .build()
    }

    /// Each failure policy, the status it leaves, and what the message must say and advise.
    #[test]
    fn each_failure_policy_says_what_the_stack_needs() {
        let cases: &[(Option<OnFailure>, Operation, StackStatus, &str, Remedy)] = &[
            (
                Some(OnFailure::DoNothing),
                Operation::Create,
                StackStatus::CreateFailed,
                "OnFailure is DO_NOTHING",
                Remedy::DeleteStack,
            ),
            (
                Some(OnFailure::Delete),
                Operation::Create,
                StackStatus::DeleteComplete,
                "OnFailure is DELETE",
                Remedy::FixAndDeployAgain,
            ),
            (
                None,
                Operation::Create,
                StackStatus::RollbackComplete,
                "OnFailure is ROLLBACK",
                Remedy::ReplaceOnFailure,
            ),
            (
                None,
                Operation::Update,
                StackStatus::UpdateFailed,
                "DisableRollback is set",
                Remedy::RollbackStack,
            ),
        ];
        for (policy, operation, status, needle, remedy) in cases {
            let (said, remedies) = aftermath(&plan(*policy, &[]), *operation, status, &[]);
            assert!(
                said.iter().any(|s| s.contains(needle)),
                "{status:?}: {said:?}"
            );
            assert_eq!(remedies.first(), Some(remedy), "{status:?}");
        }
    }

    #[test]
    fn a_stack_deleted_during_a_create_without_on_failure_delete_is_not_blamed_on_it() {
        let (said, remedies) = aftermath(
            &plan(None, &[]),
            Operation::Create,
            &StackStatus::DeleteComplete,
            &[],
        );
        assert!(!said.iter().any(|s| s.contains("OnFailure")), "{said:?}");
        assert!(remedies.is_empty(), "{remedies:?}");
    }

    #[test]
    fn the_alarm_that_rolled_back_is_named() {
        let events = [event(
            "app",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            &format!("Received alarm {ALARM} in state ALARM"),
        )];
        let (said, _) = aftermath(
            &plan(None, &[ALARM]),
            Operation::Update,
            &StackStatus::UpdateRollbackComplete,
            &events,
        );
        assert!(
            said[0]
                .contains("`arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-5xx` went off"),
            "{said:?}"
        );
        // Named only by the alarm's name: found too.
        let by_name = [event(
            "app",
            "ROLLBACK_IN_PROGRESS",
            "alarm orders-5xx is in ALARM",
        )];
        assert_eq!(alarm_named(&plan(None, &[ALARM]), &by_name), Some(ALARM));
        // A rollback with no failed resource and no alarm named: the triggers are suspected.
        let quiet = [event("app", "UPDATE_ROLLBACK_IN_PROGRESS", "")];
        let (said, _) = aftermath(
            &plan(None, &[ALARM]),
            Operation::Update,
            &StackStatus::UpdateRollbackComplete,
            &quiet,
        );
        assert!(said[0].contains("may have gone off"), "{said:?}");
    }
}
