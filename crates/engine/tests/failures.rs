//! The deploy engine when an operation fails or cannot start: rollbacks and the failed resources
//! behind them, nested stacks, dead-end stacks and their remedies, replacing a stack that never
//! worked, and deletes.

mod common;

use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_stack::{CreateStackError, CreateStackOutput};
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use cfn_deployer_engine::{Action, Failure, FailureKind, Mode, Operation, Outcome, Remedy};

use common::*;

#[tokio::test]
async fn rollback_reports_the_failed_resources_of_this_operation_only() {
    let done = stack(StackStatus::UpdateRollbackComplete);
    // Two pages, newest first; the second holds the operation's start and an older failure.
    let page1 = events(
        vec![
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_ROLLBACK_COMPLETE",
                "",
                TOKEN,
            ),
            event(
                "Topic",
                "AWS::SNS::Topic",
                "UPDATE_FAILED",
                "Resource update cancelled",
                TOKEN,
            ),
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to update: [Queue, Topic].",
                TOKEN,
            ),
        ],
        Some("page-2"),
    );
    let page2 = events(
        vec![
            event(
                "Queue",
                "AWS::SQS::Queue",
                "UPDATE_FAILED",
                "Invalid value for VisibilityTimeout",
                TOKEN,
            ),
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "UPDATE_IN_PROGRESS",
                "User Initiated",
                TOKEN,
            ),
            event(
                "Old",
                "AWS::S3::Bucket",
                "CREATE_FAILED",
                "an older operation's failure",
                "other",
            ),
        ],
        None,
    );
    let d = deployer(&[&done, &page1, &page2]);
    let out = d.poll(&flight(Operation::Update)).await.expect("poll");
    let Outcome::Failed(Failure {
        message, stack_id, ..
    }) = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(stack_id.as_deref(), Some(ID));
    assert!(message.contains("UPDATE_ROLLBACK_COMPLETE"), "{message}");
    let queue = message
        .find("Invalid value for VisibilityTimeout")
        .expect("root cause");
    let topic = message
        .find("Resource update cancelled")
        .expect("consequence");
    assert!(queue < topic, "root cause first: {message}");
    assert!(!message.contains("older operation"), "{message}");
    assert_eq!(page2.num_calls(), 1);
}

#[tokio::test]
async fn dead_end_stacks_fail_with_a_remedy() {
    for (status, remedy) in [
        (StackStatus::RollbackComplete, Remedy::DeleteStack),
        (
            StackStatus::UpdateRollbackFailed,
            Remedy::ContinueUpdateRollback,
        ),
        (StackStatus::ReviewInProgress, Remedy::SettleChangeSet),
    ] {
        let dead = stack(status.clone());
        let d = deployer(&[&dead]);
        let out = d.start(&request()).await.expect("start");
        let Outcome::Failed(Failure {
            message, remedies, ..
        }) = out
        else {
            panic!("{status:?}: {out:?}")
        };
        assert!(message.contains(status.as_str()), "{message}");
        assert_eq!(remedies.first(), Some(&remedy), "{message}");
    }
}

#[tokio::test]
async fn a_stack_deleted_under_the_deploy_is_a_failure() {
    let gone = no_stack();
    let d = deployer(&[&gone]);
    let out = d.poll(&flight(Operation::Update)).await.expect("poll");
    assert!(
        matches!(&out, Outcome::Failed(Failure { message, .. }) if message.contains("disappeared")),
        "{out:?}"
    );
}

#[tokio::test]
async fn access_denied_is_classified() {
    let denied = mock!(Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::1:assumed-role/x is not authorized to perform: cloudformation:DescribeStacks")
                .build(),
        )
    });
    let d = deployer(&[&denied]);
    let err = d.start(&request()).await.expect_err("denied");
    assert_eq!(err.kind(), FailureKind::Permission);
    assert!(err.to_string().contains("DescribeStacks"), "{err}");
}

#[tokio::test]
async fn a_missing_capability_is_a_configuration_problem() {
    let missing = no_stack();
    let refused = mock!(Client::create_stack).then_error(|| {
        CreateStackError::InsufficientCapabilitiesException(
            aws_sdk_cloudformation::types::error::InsufficientCapabilitiesException::builder()
                .message("Requires capabilities : [CAPABILITY_IAM]")
                .meta(
                    ErrorMetadata::builder()
                        .code("InsufficientCapabilitiesException")
                        .message("Requires capabilities : [CAPABILITY_IAM]")
                        .build(),
                )
                .build(),
        )
    });
    let d = deployer(&[&missing, &refused]);
    let err = d.start(&request()).await.expect_err("refused");
    assert_eq!(err.kind(), FailureKind::Configuration, "{err}");
    assert!(err.to_string().contains("CAPABILITY_IAM"), "{err}");
}

#[tokio::test]
async fn replace_on_failure_deletes_a_stack_that_never_worked_then_creates_it() {
    use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
    let failed = stack(StackStatus::RollbackComplete);
    let delete = mock!(Client::delete_stack)
        .match_requests(|r| {
            r.stack_name() == Some(ID) && r.client_request_token().is_some_and(|t| t != TOKEN)
        })
        .then_output(|| DeleteStackOutput::builder().build());
    let deleting = stack(StackStatus::DeleteInProgress);
    let deleted = stack(StackStatus::DeleteComplete);
    let gone = no_stack();
    let create = mock!(Client::create_stack)
        .match_requests(|r| r.client_request_token() == Some(TOKEN))
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&failed, &delete, &deleting, &deleted, &gone, &create]);
    let mut req = request();
    req.mode = Mode::ReplaceOnFailure;

    let out = d.start(&req).await.expect("start");
    let Outcome::InProgress { flight: f, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(f.operation, Operation::Replace);
    let action = Action::Deploy {
        mode: Mode::ReplaceOnFailure,
    };
    assert!(matches!(
        d.follow(&req, action.clone(), &f).await.expect("poll"),
        Outcome::InProgress { flight, .. } if flight.operation == Operation::Replace
    ));
    // Gone once DELETE_COMPLETE: the same step creates the stack again.
    let again = d.follow(&req, action, &f).await.expect("start again");
    assert!(
        matches!(&again, Outcome::InProgress { flight, .. } if flight.operation == Operation::Create),
        "{again:?}"
    );
    assert_eq!((delete.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn create_update_names_the_mode_that_would_replace_a_failed_stack() {
    let failed = stack(StackStatus::CreateFailed);
    let d = deployer(&[&failed]);
    let out = d.start(&request()).await.expect("start");
    assert!(
        matches!(&out, Outcome::Failed(Failure { remedies, .. }) if remedies.contains(&Remedy::ReplaceOnFailure)),
        "{out:?}"
    );
}

#[tokio::test]
async fn delete_only_deletes_and_explains_a_failed_delete() {
    use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
    let settled = stack(StackStatus::UpdateComplete);
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let failed = stack(StackStatus::DeleteFailed);
    let why = events(
        vec![
            event(NAME, "AWS::CloudFormation::Stack", "DELETE_FAILED", "", "t"),
            event(
                "Bucket",
                "AWS::S3::Bucket",
                "DELETE_FAILED",
                "The bucket you tried to delete is not empty",
                "t",
            ),
            event(
                NAME,
                "AWS::CloudFormation::Stack",
                "DELETE_IN_PROGRESS",
                "User Initiated",
                "t",
            ),
        ],
        None,
    );
    let d = deployer(&[&settled, &delete, &failed, &why]);
    let out = d.delete().await.expect("delete");
    let Outcome::InProgress { flight: f, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(f.operation, Operation::Delete);
    let failed = d.poll_delete(&f).await.expect("poll");
    assert!(
        matches!(&failed, Some(Outcome::Failed(Failure { message, .. })) if message.contains("The bucket you tried to delete is not empty")),
        "{failed:?}"
    );

    let absent = no_stack();
    let d = deployer(&[&absent]);
    let out = d.delete().await.expect("delete");
    assert!(
        matches!(&out, Outcome::Succeeded { summary, .. } if summary.contains("nothing to delete")),
        "{out:?}"
    );
}

#[tokio::test]
async fn failures_inside_nested_stacks_are_read_and_listed_first() {
    let nested_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-Db-1X2Y/9a8b";
    let nested_name = "orders-api-Db-1X2Y";
    let done = stack(StackStatus::UpdateRollbackComplete);
    let parent = mock!(Client::describe_stack_events)
        .match_requests(|r| r.stack_name() == Some(ID))
        .then_output(move || {
            let mut embedded = event(
                "Db",
                "AWS::CloudFormation::Stack",
                "UPDATE_FAILED",
                "Embedded stack orders-api-Db-1X2Y was not successfully updated",
                TOKEN,
            );
            embedded.physical_resource_id = Some(nested_id.to_owned());
            DescribeStackEventsOutput::builder()
                .stack_events(event(
                    NAME,
                    "AWS::CloudFormation::Stack",
                    "UPDATE_ROLLBACK_COMPLETE",
                    "",
                    TOKEN,
                ))
                .stack_events(embedded)
                .stack_events(event(
                    NAME,
                    "AWS::CloudFormation::Stack",
                    "UPDATE_IN_PROGRESS",
                    "User Initiated",
                    TOKEN,
                ))
                .build()
        });
    let nested = mock!(Client::describe_stack_events)
        .match_requests(move |r| r.stack_name() == Some(nested_id))
        .then_output(move || {
            let own = |status: &str, reason: &str| {
                let mut e = event(
                    nested_name,
                    "AWS::CloudFormation::Stack",
                    status,
                    reason,
                    TOKEN,
                );
                e.stack_name = Some(nested_name.to_owned());
                e
            };
            DescribeStackEventsOutput::builder()
                .stack_events(own(
                    "UPDATE_FAILED",
                    "The following resource(s) failed to update: [Instance].",
                ))
                .stack_events(event(
                    "Instance",
                    "AWS::RDS::DBInstance",
                    "UPDATE_FAILED",
                    "DB instance quota exceeded",
                    TOKEN,
                ))
                .stack_events(own("UPDATE_IN_PROGRESS", "User Initiated"))
                .build()
        });
    let d = deployer(&[&done, &parent, &nested]);
    let out = d.poll(&flight(Operation::Update)).await.expect("poll");
    let Outcome::Failed(Failure { message, .. }) = out else {
        panic!("{out:?}")
    };
    let inner = message
        .find("Db › Instance (AWS::RDS::DBInstance) UPDATE_FAILED: DB instance quota exceeded")
        .unwrap_or_else(|| panic!("{message}"));
    let outer = message
        .find("Embedded stack")
        .unwrap_or_else(|| panic!("{message}"));
    assert!(inner < outer, "root cause first: {message}");
    assert_eq!(nested.num_calls(), 1);
}
