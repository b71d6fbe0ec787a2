//! The deploy engine's change sets: created for review, replaced by name, empty, executed, and
//! missing.

mod common;

use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_change_set::{
    CreateChangeSetError, CreateChangeSetOutput,
};
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_change_set::{
    DescribeChangeSetError, DescribeChangeSetOutput,
};
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ExecutionStatus, Replacement, ResourceChange, Stack,
    StackStatus,
};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, Rule};
use cfn_deployer_engine::{Failure, FailureKind, Operation, Outcome, Remedy, RolePolicy};

use common::*;

fn change_set(status: ChangeSetStatus, reason: &'static str, changes: Vec<Change>) -> Rule {
    mock!(Client::describe_change_set).then_output(move || {
        DescribeChangeSetOutput::builder()
            .change_set_name("release")
            .stack_id(ID)
            .status(status.clone())
            .status_reason(reason)
            .execution_status(if status == ChangeSetStatus::CreateComplete {
                ExecutionStatus::Available
            } else {
                ExecutionStatus::Unavailable
            })
            .set_changes(Some(changes.clone()))
            .build()
    })
}

#[tokio::test]
async fn a_change_set_of_the_same_name_is_replaced_and_summarised() {
    let settled = stack(StackStatus::UpdateComplete);
    let exists = mock!(Client::create_change_set).then_error(|| {
        CreateChangeSetError::AlreadyExistsException(
            aws_sdk_cloudformation::types::error::AlreadyExistsException::builder()
                .meta(
                    ErrorMetadata::builder()
                        .code("AlreadyExistsException")
                        .message("ChangeSet release already exists")
                        .build(),
                )
                .build(),
        )
    });
    let delete =
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let created = mock!(Client::create_change_set)
        .match_requests(|r| {
            r.change_set_type() == Some(&aws_sdk_cloudformation::types::ChangeSetType::Update)
                && r.client_token() == Some(TOKEN)
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("cs-arn")
                .stack_id(ID)
                .build()
        });
    let pending = change_set(ChangeSetStatus::CreateInProgress, "", vec![]);
    let modify = Change::builder()
        .resource_change(
            ResourceChange::builder()
                .action(ChangeAction::Modify)
                .logical_resource_id("Queue")
                .resource_type("AWS::SQS::Queue")
                .replacement(Replacement::True)
                .build(),
        )
        .build();
    // Read with its property values, the answer that says it is complete is its review too.
    let ready = mock!(Client::describe_change_set)
        .match_requests(|r| r.include_property_values() == Some(true))
        .then_output(move || {
            DescribeChangeSetOutput::builder()
                .change_set_name("release")
                .stack_id(ID)
                .status(ChangeSetStatus::CreateComplete)
                .execution_status(ExecutionStatus::Available)
                .changes(modify.clone())
                .build()
        });
    let d = deployer(&[&settled, &exists, &delete, &created, &pending, &ready]);

    let out = d
        .create_change_set(&request(), "release")
        .await
        .expect("create");
    let Outcome::InProgress { flight: f, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (f.operation, f.change_set.as_deref()),
        (Operation::ChangeSet, Some("release"))
    );
    assert!(matches!(
        d.poll_change_set(&f).await.expect("poll"),
        Outcome::InProgress { .. }
    ));
    let done = d.poll_change_set(&f).await.expect("poll");
    assert!(
        matches!(&done, Outcome::Succeeded { summary, .. } if summary == "Change set `release`: 1 change(s): Modify Queue (AWS::SQS::Queue), replacement: True"),
        "{done:?}"
    );
    assert_eq!((delete.num_calls(), created.num_calls()), (1, 1));
    assert_eq!(
        ready.num_calls(),
        1,
        "one DescribeChangeSet once it is ready"
    );
}

#[tokio::test]
async fn an_empty_change_set_is_success_with_no_changes() {
    let empty = change_set(
        ChangeSetStatus::Failed,
        "The submitted information didn't contain changes. Submit different information to create a change set.",
        vec![],
    );
    let d = deployer(&[&empty]);
    let mut f = flight(Operation::ChangeSet);
    f.change_set = Some("release".into());
    let out = d.poll_change_set(&f).await.expect("poll");
    assert!(
        matches!(&out, Outcome::Succeeded { summary, .. } if summary.contains("has no changes")),
        "{out:?}"
    );

    let broken = change_set(
        ChangeSetStatus::Failed,
        "Template format error: Unresolved resource dependencies [Nope]",
        vec![],
    );
    let d = deployer(&[&broken]);
    let out = d.poll_change_set(&f).await.expect("poll");
    assert!(
        matches!(&out, Outcome::Failed(Failure { message, .. }) if message.contains("Unresolved resource dependencies")),
        "{out:?}"
    );
}

#[tokio::test]
async fn executing_follows_the_update() {
    let ready = change_set(ChangeSetStatus::CreateComplete, "", vec![]);
    let settled = stack(StackStatus::UpdateComplete);
    let execute = mock!(Client::execute_change_set)
        .match_requests(|r| {
            r.change_set_name() == Some("release") && r.client_request_token() == Some(TOKEN)
        })
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    let d = deployer(&[&ready, &settled, &execute]);
    let out = d.execute_change_set("release").await.expect("execute");
    assert!(
        matches!(&out, Outcome::InProgress { flight, .. } if flight.operation == Operation::Update),
        "{out:?}"
    );
    assert_eq!(execute.num_calls(), 1);
}

#[tokio::test]
async fn only_the_reviewed_change_set_is_executed_by_its_id() {
    const REVIEWED: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:changeSet/release/aaaa-1111";
    const REPLACED: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:changeSet/release/bbbb-2222";
    let described = |id: &'static str| {
        mock!(Client::describe_change_set).then_output(move || {
            DescribeChangeSetOutput::builder()
                .change_set_name("release")
                .change_set_id(id)
                .stack_id(ID)
                .status(ChangeSetStatus::CreateComplete)
                .execution_status(ExecutionStatus::Available)
                .build()
        })
    };
    // A namesake created after the review: refused, nothing executed.
    let namesake = described(REPLACED);
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let d = deployer(&[&namesake, &execute]);
    let out = d
        .execute_reviewed("release", Some(REVIEWED))
        .await
        .expect("refused");
    let Outcome::Failed(Failure { kind, message, .. }) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(*kind, FailureKind::Permission);
    assert!(
        message.contains(REVIEWED) && message.contains(REPLACED),
        "{message}"
    );
    assert_eq!(execute.num_calls(), 0);

    // The reviewed one: executed by its id.
    let reviewed = described(REVIEWED);
    let settled = stack(StackStatus::UpdateComplete);
    let by_id = mock!(Client::execute_change_set)
        .match_requests(|r| r.change_set_name() == Some(REVIEWED))
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    let d = deployer(&[&reviewed, &settled, &by_id]);
    let out = d
        .execute_reviewed("release", Some(REVIEWED))
        .await
        .expect("executed");
    assert!(matches!(out, Outcome::InProgress { .. }), "{out:?}");
    assert_eq!(by_id.num_calls(), 1);
}

#[tokio::test]
async fn executing_on_a_stack_acting_with_a_role_outside_the_policy_is_refused() {
    let ready = change_set(ChangeSetStatus::CreateComplete, "", vec![]);
    let powerful = mock!(Client::describe_stacks).then_output(|| {
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_name(NAME)
                    .stack_id(ID)
                    .stack_status(StackStatus::UpdateComplete)
                    .role_arn("arn:aws:iam::123456789012:role/admin")
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .build(),
            )
            .build()
    });
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let policy = RolePolicy {
        service_role: Some("arn:aws:iam::123456789012:role/cfn-service".into()),
        allowed: Vec::new(),
    };
    let d = Engine(
        deployer(&[&ready, &powerful, &execute])
            .0
            .with_roles(policy),
    );
    let out = d.execute_change_set("release").await.expect("execute");
    let Outcome::Failed(Failure { kind, message, .. }) = out else {
        panic!("{out:?}")
    };
    assert_eq!(kind, FailureKind::Permission);
    assert!(message.contains("role/admin"), "{message}");
    assert_eq!(execute.num_calls(), 0, "nothing runs with the stored role");
}

#[tokio::test]
async fn executing_a_missing_change_set_says_how_to_create_it() {
    let missing = mock!(Client::describe_change_set).then_error(|| {
        DescribeChangeSetError::ChangeSetNotFoundException(
            aws_sdk_cloudformation::types::error::ChangeSetNotFoundException::builder()
                .meta(
                    ErrorMetadata::builder()
                        .code("ChangeSetNotFound")
                        .message("ChangeSet [release] does not exist")
                        .build(),
                )
                .build(),
        )
    });
    let d = deployer(&[&missing]);
    let out = d.execute_change_set("release").await.expect("execute");
    assert!(
        matches!(&out, Outcome::Failed(Failure { message, remedies, .. }) if message.contains("no change set `release`") && remedies == &[Remedy::CreateChangeSet]),
        "{out:?}"
    );
}
