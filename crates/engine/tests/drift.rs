//! The drift check before an existing stack changes, and the deploys that revert drift: each
//! detection outcome, throttling waited out, new stacks left unchecked, and the drift-aware
//! change sets, against a mocked CloudFormation.

mod common;

use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_drift_detection_status::{
    DescribeStackDriftDetectionStatusError, DescribeStackDriftDetectionStatusOutput,
};
use aws_sdk_cloudformation::operation::describe_stack_resource_drifts::DescribeStackResourceDriftsOutput;
use aws_sdk_cloudformation::operation::detect_stack_drift::{
    DetectStackDriftError, DetectStackDriftOutput,
};
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::update_stack::UpdateStackOutput;
use aws_sdk_cloudformation::types::{
    ChangeSetStatus, DeploymentMode, DifferenceType, ExecutionStatus, PropertyDifference,
    StackDriftDetectionStatus, StackDriftStatus, StackResourceDrift, StackResourceDriftStatus,
    StackStatus,
};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, Rule};
use cfn_deployer_engine::drift::{DriftCheck, DriftStatus};
use cfn_deployer_engine::{Action, FailureKind, InFlight, Mode, Operation, Outcome, Plan, Remedy};

use common::*;

const DETECTION: &str = "b78ac9b0-dec1-11e7-a451-503a3example";

fn plan(check: DriftCheck) -> Plan {
    let mut plan = request().plan(Action::Deploy {
        mode: Mode::CreateUpdate,
    });
    plan.drift_check = check;
    plan
}

async fn step(d: &Engine, plan: &Plan, flight: Option<&InFlight>) -> Outcome {
    d.0.step(plan, &request().inputs(), flight)
        .await
        .map_err(deploy_error)
        .expect("step")
}

fn detection() -> Rule {
    mock!(Client::detect_stack_drift)
        .match_requests(|r| r.stack_name() == Some(ID))
        .then_output(|| {
            DetectStackDriftOutput::builder()
                .stack_drift_detection_id(DETECTION)
                .build()
        })
}

fn status(
    detection: StackDriftDetectionStatus,
    drift: Option<StackDriftStatus>,
    count: i32,
    reason: Option<&'static str>,
) -> Rule {
    mock!(Client::describe_stack_drift_detection_status)
        .match_requests(|r| r.stack_drift_detection_id() == Some(DETECTION))
        .then_output(move || {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(ID)
                .stack_drift_detection_id(DETECTION)
                .detection_status(detection.clone())
                .set_stack_drift_status(drift.clone())
                .drifted_stack_resource_count(count)
                .set_detection_status_reason(reason.map(str::to_owned))
                .timestamp(aws_smithy_types::DateTime::from_secs(0))
                .build()
        })
}

fn drifted(count: usize) -> Rule {
    mock!(Client::describe_stack_resource_drifts)
        .match_requests(|r| {
            r.stack_name() == Some(ID)
                && r.stack_resource_drift_status_filters()
                    == [
                        StackResourceDriftStatus::Modified,
                        StackResourceDriftStatus::Deleted,
                    ]
        })
        .then_output(move || {
            let mut list = vec![StackResourceDrift::builder()
                .stack_id(ID)
                .logical_resource_id("Topic")
                .resource_type("AWS::SNS::Topic")
                .stack_resource_drift_status(StackResourceDriftStatus::Modified)
                .property_differences(
                    PropertyDifference::builder()
                        .property_path("/DisplayName")
                        .expected_value("orders")
                        .actual_value("orders-hotfix")
                        .difference_type(DifferenceType::NotEqual)
                        .build(),
                )
                .timestamp(aws_smithy_types::DateTime::from_secs(0))
                .build()];
            for n in 1..count {
                list.push(
                    StackResourceDrift::builder()
                        .stack_id(ID)
                        .logical_resource_id(format!("Queue{n}"))
                        .resource_type("AWS::SQS::Queue")
                        .stack_resource_drift_status(StackResourceDriftStatus::Deleted)
                        .timestamp(aws_smithy_types::DateTime::from_secs(0))
                        .build(),
                );
            }
            DescribeStackResourceDriftsOutput::builder()
                .set_stack_resource_drifts(Some(list))
                .build()
        })
}

fn throttled_detect() -> Rule {
    mock!(Client::detect_stack_drift).then_error(|| {
        DetectStackDriftError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    })
}

fn update() -> Rule {
    mock!(Client::update_stack).then_output(|| UpdateStackOutput::builder().stack_id(ID).build())
}

fn in_flight(out: &Outcome) -> InFlight {
    match out {
        Outcome::InProgress { flight, .. } => flight.clone(),
        other => panic!("expected a step under way, got {other:?}"),
    }
}

#[tokio::test]
async fn fail_refuses_a_drifted_stack_before_any_update_naming_what_drifted() {
    let (settled, detect, detecting, done, resources) = (
        stack(StackStatus::UpdateComplete),
        detection(),
        status(
            StackDriftDetectionStatus::DetectionInProgress,
            None,
            0,
            None,
        ),
        status(
            StackDriftDetectionStatus::DetectionComplete,
            Some(StackDriftStatus::Drifted),
            7,
            None,
        ),
        drifted(7),
    );
    let update = update();
    let d = deployer(&[&settled, &detect, &detecting, &done, &resources, &update]);
    let plan = plan(DriftCheck::Fail);
    let first = step(&d, &plan, None).await;
    let flight = in_flight(&first);
    assert_eq!(flight.operation, Operation::Drift);
    assert_eq!(
        flight.drift.as_ref().and_then(|d| d.detection.as_deref()),
        Some(DETECTION),
        "the detection id travels with the deploy"
    );
    let still = in_flight(&step(&d, &plan, Some(&flight)).await);
    assert_eq!(still.operation, Operation::Drift);
    let Outcome::Failed(failure) = step(&d, &plan, Some(&still)).await else {
        panic!("a drifted stack under FAIL is refused")
    };
    assert_eq!(failure.kind, FailureKind::Deploy);
    assert_eq!(
        failure.remedies,
        [Remedy::FixDrift, Remedy::WarnOnDrift, Remedy::RevertDrift]
    );
    for part in [
        "Stack `orders-api` has drifted from its template: 7 resource(s)",
        "`Topic` (AWS::SNS::Topic) MODIFIED: /DisplayName expected `orders`, actual `orders-hotfix`",
        "`Queue4` (AWS::SQS::Queue) DELETED; and 2 more",
        "DriftCheck is FAIL, so nothing was deployed",
    ] {
        assert!(failure.message.contains(part), "{part}: {}", failure.message);
    }
    assert!(!failure.message.contains("Queue5"), "{}", failure.message);
    assert_eq!(update.num_calls(), 0, "nothing is deployed over drift");
}

#[tokio::test]
async fn warn_deploys_over_drift_and_the_success_says_how_many_drifted() {
    let (settled, detect, done) = (
        stack(StackStatus::UpdateComplete),
        detection(),
        status(
            StackDriftDetectionStatus::DetectionComplete,
            Some(StackDriftStatus::Drifted),
            2,
            None,
        ),
    );
    let (settled_again, update, finished) = (
        stack(StackStatus::UpdateComplete),
        update(),
        stack(StackStatus::UpdateComplete),
    );
    let d = deployer(&[&settled, &detect, &done, &settled_again, &update, &finished]);
    let plan = plan(DriftCheck::Warn);
    let detecting = in_flight(&step(&d, &plan, None).await);
    let updating = in_flight(&step(&d, &plan, Some(&detecting)).await);
    assert_eq!(updating.operation, Operation::Update);
    assert_eq!(update.num_calls(), 1);
    let Outcome::Succeeded { drift, .. } = step(&d, &plan, Some(&updating)).await else {
        panic!("the update completes")
    };
    let verdict = drift.expect("the verdict reaches the end of the deploy");
    assert_eq!((verdict.status, verdict.drifted), (DriftStatus::Drifted, 2));
}

#[tokio::test]
async fn in_sync_goes_on_and_the_check_is_made_once() {
    let (settled, detect, done, settled_again, update) = (
        stack(StackStatus::UpdateComplete),
        detection(),
        status(
            StackDriftDetectionStatus::DetectionComplete,
            Some(StackDriftStatus::InSync),
            0,
            None,
        ),
        stack(StackStatus::UpdateComplete),
        update(),
    );
    let d = deployer(&[&settled, &detect, &done, &settled_again, &update]);
    let plan = plan(DriftCheck::Fail);
    let detecting = in_flight(&step(&d, &plan, None).await);
    let updating = in_flight(&step(&d, &plan, Some(&detecting)).await);
    assert_eq!(updating.operation, Operation::Update);
    assert_eq!(
        updating.drift.and_then(|d| d.verdict).map(|v| v.status),
        Some(DriftStatus::InSync)
    );
    assert_eq!(detect.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_detection_fails_under_fail_quoting_cloudformation_and_goes_on_under_warn() {
    let reason = "Failed to detect drift: Access denied on sqs:GetQueueAttributes";
    let (settled, detect, failed) = (
        stack(StackStatus::UpdateComplete),
        detection(),
        status(
            StackDriftDetectionStatus::DetectionFailed,
            None,
            0,
            Some(reason),
        ),
    );
    let d = deployer(&[&settled, &detect, &failed]);
    let plan_fail = plan(DriftCheck::Fail);
    let detecting = in_flight(&step(&d, &plan_fail, None).await);
    let Outcome::Failed(failure) = step(&d, &plan_fail, Some(&detecting)).await else {
        panic!("a failed detection under FAIL fails")
    };
    assert!(
        failure.message.contains("DETECTION_FAILED"),
        "{}",
        failure.message
    );
    assert!(failure.message.contains(reason), "{}", failure.message);
    assert_eq!(failure.remedies, [Remedy::DeployAgain, Remedy::WarnOnDrift]);

    let (settled, detect, failed, settled_again, update) = (
        stack(StackStatus::UpdateComplete),
        detection(),
        status(
            StackDriftDetectionStatus::DetectionFailed,
            None,
            0,
            Some(reason),
        ),
        stack(StackStatus::UpdateComplete),
        update(),
    );
    let d = deployer(&[&settled, &detect, &failed, &settled_again, &update]);
    let plan_warn = plan(DriftCheck::Warn);
    let detecting = in_flight(&step(&d, &plan_warn, None).await);
    let updating = in_flight(&step(&d, &plan_warn, Some(&detecting)).await);
    let verdict = updating.drift.and_then(|d| d.verdict).expect("verdict");
    assert_eq!(verdict.status, DriftStatus::Unknown);
    assert!(verdict.note().is_some_and(|n| n.contains(reason)));
}

#[tokio::test]
async fn throttling_is_waited_out_never_failed() {
    let (settled, throttled, detect) = (
        stack(StackStatus::UpdateComplete),
        throttled_detect(),
        detection(),
    );
    let throttled_status = mock!(Client::describe_stack_drift_detection_status).then_error(|| {
        DescribeStackDriftDetectionStatusError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let d = deployer(&[&settled, &throttled, &detect, &throttled_status]);
    let plan = plan(DriftCheck::Fail);
    let waiting = in_flight(&step(&d, &plan, None).await);
    assert_eq!(waiting.operation, Operation::Drift);
    assert_eq!(waiting.drift, None, "no detection started yet");
    let detecting = in_flight(&step(&d, &plan, Some(&waiting)).await);
    assert!(detecting
        .drift
        .as_ref()
        .is_some_and(|d| d.detection.is_some()));
    let Outcome::InProgress {
        flight, summary, ..
    } = step(&d, &plan, Some(&detecting)).await
    else {
        panic!("a throttled poll hands back where it was")
    };
    assert_eq!(flight, detecting);
    assert!(summary.contains("throttled"), "{summary}");
}

#[tokio::test]
async fn a_new_stack_gets_no_drift_call() {
    let (absent, create) = (
        no_stack(),
        mock!(Client::create_stack)
            .then_output(|| CreateStackOutput::builder().stack_id(ID).build()),
    );
    let d = deployer(&[&absent, &create]);
    let created = in_flight(&step(&d, &plan(DriftCheck::Fail), None).await);
    assert_eq!(created.operation, Operation::Create);
    assert_eq!(created.drift, None);
}

#[tokio::test]
async fn reverting_drift_on_a_new_stack_is_a_configuration_error() {
    let absent = no_stack();
    let d = deployer(&[&absent]);
    let mut plan = plan(DriftCheck::Off);
    plan.revert_drift = true;
    let Outcome::Failed(failure) = step(&d, &plan, None).await else {
        panic!("refused")
    };
    assert_eq!(failure.kind, FailureKind::Configuration);
    assert!(
        failure.message.contains("DeploymentMode REVERT_DRIFT"),
        "{}",
        failure.message
    );
}

fn revert_change_set(status: ChangeSetStatus) -> Rule {
    mock!(Client::describe_change_set)
        .match_requests(|r| r.change_set_name() == Some(TOKEN))
        .then_output(move || {
            DescribeChangeSetOutput::builder()
                .change_set_name(TOKEN)
                .change_set_id("arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/1")
                .stack_id(ID)
                .status(status.clone())
                .execution_status(if status == ChangeSetStatus::CreateComplete {
                    ExecutionStatus::Available
                } else {
                    ExecutionStatus::Unavailable
                })
                .build()
        })
}

#[tokio::test]
async fn create_update_reverts_drift_through_a_change_set_of_its_own() {
    let settled = stack(StackStatus::UpdateComplete);
    let create = mock!(Client::create_change_set)
        .match_requests(|r| {
            r.deployment_mode() == Some(&DeploymentMode::RevertDrift)
                && r.change_set_name() == Some(TOKEN)
                && r.client_token() == Some(TOKEN)
        })
        .then_output(|| CreateChangeSetOutput::builder().stack_id(ID).build());
    let creating = revert_change_set(ChangeSetStatus::CreateInProgress);
    let ready = revert_change_set(ChangeSetStatus::CreateComplete);
    let ready_again = revert_change_set(ChangeSetStatus::CreateComplete);
    let settled_again = stack(StackStatus::UpdateComplete);
    let execute = mock!(Client::execute_change_set)
        .match_requests(|r| r.client_request_token() == Some(TOKEN))
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    let update = update();
    let d = deployer(&[
        &settled,
        &create,
        &creating,
        &ready,
        &ready_again,
        &settled_again,
        &execute,
        &update,
    ]);
    let mut plan = plan(DriftCheck::Off);
    plan.revert_drift = true;
    let first = in_flight(&step(&d, &plan, None).await);
    assert_eq!(first.operation, Operation::Revert);
    let still = in_flight(&step(&d, &plan, Some(&first)).await);
    assert_eq!(still.operation, Operation::Revert);
    let executing = in_flight(&step(&d, &plan, Some(&still)).await);
    assert_eq!(executing.operation, Operation::Update);
    assert_eq!(execute.num_calls(), 1);
    assert_eq!(
        update.num_calls(),
        0,
        "no UpdateStack: the change set deploys"
    );
}
