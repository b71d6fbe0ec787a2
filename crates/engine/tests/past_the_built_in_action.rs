//! The deploy engine's settings past the built-in action: rollback triggers and their monitoring
//! window, termination protection, failure policies, and a change set's review.

mod common;

use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use cfn_deployer_engine::{
    Action, Failure, InFlight, Mode, OnFailure, Operation, Outcome, Plan, Remedy, Rollback,
};

use common::*;

const ALARM: &str = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-5xx";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:deploys";

fn watched(monitoring_minutes: u32) -> Plan {
    Plan {
        rollback: Some(Rollback {
            triggers: vec![ALARM.into()],
            monitoring_minutes,
        }),
        ..request().plan(Action::Deploy {
            mode: Mode::CreateUpdate,
        })
    }
}

#[tokio::test]
async fn a_create_carries_every_setting_the_built_in_action_lacks() {
    let missing = no_stack();
    let create = mock!(Client::create_stack)
        .match_requests(|r| {
            r.on_failure() == Some(&aws_sdk_cloudformation::types::OnFailure::DoNothing)
                && r.enable_termination_protection() == Some(true)
                && r.timeout_in_minutes() == Some(30)
                && r.notification_arns() == [TOPIC]
                && r.rollback_configuration().is_some_and(|c| {
                    c.monitoring_time_in_minutes() == Some(5)
                        && c.rollback_triggers().iter().any(|t| t.arn() == Some(ALARM))
                })
        })
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&missing, &create]);
    let plan = Plan {
        on_failure: Some(OnFailure::DoNothing),
        termination_protection: Some(true),
        timeout_minutes: Some(30),
        notification_arns: vec![TOPIC.into()],
        ..watched(5)
    };
    let out = d.0.step(&plan, &request().inputs(), None).await;
    assert!(matches!(out, Ok(Outcome::InProgress { .. })), "{out:?}");
    assert_eq!(create.num_calls(), 1, "the create carried every setting");
}

#[tokio::test]
async fn an_alarm_that_rolls_back_is_named_in_the_failure() {
    let rolled_back = stack(StackStatus::UpdateRollbackComplete);
    let why = events(
        vec![
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_ROLLBACK_COMPLETE",
                "",
                TOKEN,
            ),
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_ROLLBACK_IN_PROGRESS",
                &format!("Received ALARM state for rollback trigger {ALARM}"),
                TOKEN,
            ),
            event("Queue", "AWS::SQS::Queue", "UPDATE_COMPLETE", "", TOKEN),
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_IN_PROGRESS",
                "User Initiated",
                TOKEN,
            ),
        ],
        None,
    );
    let d = deployer(&[&rolled_back, &why]);
    let out =
        d.0.poll(&watched(0), &flight(Operation::Update))
            .await
            .expect("poll");
    let Outcome::Failed(Failure {
        message, remedies, ..
    }) = out
    else {
        panic!("{out:?}")
    };
    assert!(
        message.contains(&format!("Rollback trigger alarm `{ALARM}` went off, so CloudFormation rolled the operation back")),
        "{message}"
    );
    assert_eq!(remedies, [Remedy::FixAndDeployAgain]);
}

#[tokio::test]
async fn success_waits_out_the_monitoring_window_across_steps() {
    let done = stack(StackStatus::UpdateComplete);
    // The operation's last resource event is now: the window has just begun.
    let recent = events(
        vec![
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_COMPLETE",
                "",
                TOKEN,
            ),
            event("Queue", "AWS::SQS::Queue", "UPDATE_COMPLETE", "", TOKEN),
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_IN_PROGRESS",
                "User Initiated",
                TOKEN,
            ),
        ],
        None,
    );
    let still_done = stack(StackStatus::UpdateComplete);
    let d = deployer(&[&done, &recent, &still_done]);
    let plan = watched(5);
    let out =
        d.0.poll(&plan, &flight(Operation::Update))
            .await
            .expect("poll");
    let Outcome::InProgress {
        flight: watching,
        summary,
        ..
    } = out
    else {
        panic!("not yet: {out:?}")
    };
    assert_eq!(watching.operation, Operation::Monitor);
    assert!(
        summary.contains("watching the rollback triggers"),
        "{summary}"
    );
    let until = watching.monitor_until.expect("the window's end");
    assert!(until >= cfn_deployer_engine::now_epoch() + 299, "{until}");
    // The window travels in the token: a later step, after it, succeeds.
    let token = serde_json::to_string(&watching).expect("serializes");
    let mut later: InFlight = serde_json::from_str(&token).expect("reads back");
    later.monitor_until = Some(cfn_deployer_engine::now_epoch() - 1);
    let out = d.0.step(&plan, &request().inputs(), Some(&later)).await;
    assert!(matches!(out, Ok(Outcome::Succeeded { .. })), "{out:?}");
}

#[tokio::test]
async fn a_protected_stack_is_neither_deleted_nor_replaced() {
    let protected = protected_stack(StackStatus::UpdateComplete);
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let d = deployer(&[&protected, &delete]);
    let out = d.delete().await.expect("delete");
    let Outcome::Failed(Failure {
        message, remedies, ..
    }) = out
    else {
        panic!("{out:?}")
    };
    assert!(
        message.contains("has termination protection enabled"),
        "{message}"
    );
    assert!(
        message.contains("does not lift the protection to delete it"),
        "{message}"
    );
    assert_eq!(remedies, [Remedy::LiftProtection]);

    let failed = protected_stack(StackStatus::RollbackComplete);
    let d = deployer(&[&failed, &delete]);
    let mut req = request();
    req.mode = Mode::ReplaceOnFailure;
    let out = d.start(&req).await.expect("start");
    assert!(
        matches!(&out, Outcome::Failed(Failure { message, .. }) if message.contains("to replace it")),
        "{out:?}"
    );
    assert_eq!(delete.num_calls(), 0, "nothing was deleted");
}

#[tokio::test]
async fn each_failure_policy_leaves_the_stack_as_it_says() {
    for (policy, status, needle) in [
        (
            OnFailure::Rollback,
            StackStatus::RollbackComplete,
            "OnFailure is ROLLBACK",
        ),
        (
            OnFailure::Delete,
            StackStatus::DeleteComplete,
            "OnFailure is DELETE",
        ),
        (
            OnFailure::DoNothing,
            StackStatus::CreateFailed,
            "OnFailure is DO_NOTHING",
        ),
    ] {
        let ended = stack(status.clone());
        let why = events(
            vec![event(
                "Queue",
                "AWS::SQS::Queue",
                "CREATE_FAILED",
                "Queue name is invalid",
                TOKEN,
            )],
            None,
        );
        let d = deployer(&[&ended, &why]);
        let plan = Plan {
            on_failure: Some(policy),
            ..request().plan(Action::Deploy {
                mode: Mode::CreateUpdate,
            })
        };
        let out =
            d.0.poll(&plan, &flight(Operation::Create))
                .await
                .expect("poll");
        let Outcome::Failed(Failure { message, .. }) = out else {
            panic!("{status:?}: {out:?}")
        };
        assert!(message.contains("Queue name is invalid"), "{message}");
        assert!(message.contains(needle), "{status:?}: {message}");
    }
}

#[tokio::test]
async fn a_change_sets_review_has_property_values_secrets_redacted_and_nested_stacks() {
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use aws_sdk_cloudformation::types::{
        Change, ChangeAction, ChangeSetStatus, ChangeSource, Parameter, Replacement,
        ResourceAttribute, ResourceChange, ResourceChangeDetail, ResourceTargetDefinition,
    };
    let detail =
        |path: &str, source: ChangeSource, entity: Option<&str>, before: &str, after: &str| {
            ResourceChangeDetail::builder()
                .target(
                    ResourceTargetDefinition::builder()
                        .attribute(ResourceAttribute::Properties)
                        .path(path)
                        .before_value(before)
                        .after_value(after)
                        .build(),
                )
                .change_source(source)
                .set_causing_entity(entity.map(str::to_owned))
                .build()
        };
    let nested_id = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/release-Db/1";
    let root = mock!(Client::describe_change_set)
        .match_requests(|r| r.include_property_values() == Some(true) && r.change_set_name() == Some("release"))
        .then_output(move || {
            DescribeChangeSetOutput::builder()
                .change_set_name("release")
                .status(ChangeSetStatus::CreateComplete)
                .change_set_id("arn:aws:cloudformation:us-east-1:123456789012:changeSet/release/0")
                .stack_name(NAME)
                .status(ChangeSetStatus::CreateComplete)
                .parameters(Parameter::builder().parameter_key("DbPassword").parameter_value("****").build())
                .changes(
                    Change::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(ChangeAction::Modify)
                                .logical_resource_id("Secret")
                                .resource_type("AWS::SSM::Parameter")
                                .replacement(Replacement::False)
                                .details(detail("/Properties/Value", ChangeSource::DirectModification, None, "old-secret", "new-secret"))
                                .details(detail("/Properties/Value", ChangeSource::ParameterReference, Some("DbPassword"), "old-secret", "new-secret"))
                                .details(detail("/Properties/Description", ChangeSource::DirectModification, None, "v1", "v2"))
                                .build(),
                        )
                        .build(),
                )
                .changes(
                    Change::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(ChangeAction::Modify)
                                .logical_resource_id("Db")
                                .resource_type("AWS::CloudFormation::Stack")
                                .physical_resource_id("arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-Db/1")
                                .change_set_id(nested_id)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let nested = mock!(Client::describe_change_set)
        .match_requests(move |r| r.change_set_name() == Some(nested_id))
        .then_output(|| {
            DescribeChangeSetOutput::builder()
                .change_set_name("release-Db")
                .stack_name("orders-api-Db")
                .status(ChangeSetStatus::CreateComplete)
                .changes(
                    Change::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(ChangeAction::Add)
                                .logical_resource_id("Instance")
                                .resource_type("AWS::RDS::DBInstance")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let d = deployer(&[&root, &nested]);
    let mut f = flight(Operation::ChangeSet);
    f.change_set = Some("release".into());
    let out = d.poll_change_set(&f).await.expect("poll");
    let Outcome::Succeeded {
        summary,
        review: Some(review),
        ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        summary,
        "Change set `release`: 3 change(s): Modify Secret (AWS::SSM::Parameter), replacement: False; Modify Db (AWS::CloudFormation::Stack); Db › Add Instance (AWS::RDS::DBInstance)"
    );
    let secret = &review.changes[0];
    let values: Vec<_> = secret
        .details
        .iter()
        .filter(|d| d.path.as_deref() == Some("/Properties/Value"))
        .collect();
    assert_eq!(values.len(), 2, "both details of the secret: {secret:?}");
    for d in values {
        assert_eq!(
            (d.before.as_deref(), d.after.as_deref()),
            (Some("****"), Some("****")),
            "{d:?}"
        );
    }
    let description = secret
        .details
        .iter()
        .find(|d| d.path.as_deref() == Some("/Properties/Description"))
        .expect("description");
    assert_eq!(
        description.after.as_deref(),
        Some("v2"),
        "only the secret's values are redacted"
    );
    let nested = review.changes[1]
        .nested
        .as_ref()
        .expect("the nested change set");
    assert_eq!(nested.changes[0].logical_resource_id, "Instance");
    let md = cfn_deployer_engine::review::markdown(&review);
    assert!(
        md.contains(
            "| Modify | Secret | AWS::SSM::Parameter | False | `/Properties/Value`: **** → ****"
        ),
        "{md}"
    );
    assert!(
        md.contains("| Add | Db › Instance | AWS::RDS::DBInstance |"),
        "{md}"
    );
    assert!(
        !md.contains("new-secret")
            && !serde_json::to_string(&review)
                .expect("json")
                .contains("new-secret")
    );
}
