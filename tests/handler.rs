//! The whole handler with mocked AWS clients: each invocation makes exactly one PutJob* call
//! that tells the truth, and an unreported job is returned as an error so Lambda retries it.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::types::{Stack, StackStatus};
use aws_sdk_codepipeline::error::ErrorMetadata;
use aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultOutput;
use aws_sdk_codepipeline::operation::put_job_success_result::{
    PutJobSuccessResultError, PutJobSuccessResultOutput,
};
use aws_sdk_codepipeline::types::FailureType;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use cfn_deployer::{Handler, HandlerError};
use cfn_deployer_job::{Delivery, Runner};
use cfn_deployer_step::{Settings, Stepper};
use serde_json::Value;

const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:111111111111:stack/orders-api/5e2c1c50-8c0b-11ee-b9d1-0242ac120002";

fn event(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("JSON")
}

fn sdk() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build()
}

fn stepper(deployer: cfn_deployer_engine::Deployer) -> Stepper {
    Stepper::with_deployer(Settings::with_sdk(sdk()), deployer)
}

fn handler(cfn: &[&Rule], cp: &[&Rule]) -> Handler {
    Handler::new(
        Runner::new(
            stepper(cfn_deployer_engine::Deployer::new(mock_client!(
                aws_sdk_cloudformation,
                RuleMode::Sequential,
                cfn
            ))),
            cfn_deployer::WORDS,
        ),
        mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, cp),
    )
}

fn stack(status: StackStatus) -> Rule {
    mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_name("orders-api")
                    .stack_id(STACK_ID)
                    .stack_status(status.clone())
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn a_finished_update_reports_success_once() {
    let done = stack(StackStatus::UpdateComplete);
    let success = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
        .match_requests(|r| {
            r.job_id() == Some("22222222-abcd-2222-abcd-222222abcdef")
                && r.continuation_token().is_none()
                && r.execution_details()
                    .and_then(|d| d.external_execution_id())
                    == Some(STACK_ID)
        })
        .then_output(|| PutJobSuccessResultOutput::builder().build());
    let h = handler(&[&done], &[&success]);
    assert_eq!(
        h.handle(event("codepipeline-job-continuation.json"), None)
            .await
            .expect("handled"),
        Delivery::Reported
    );
    assert_eq!(success.num_calls(), 1);
}

#[tokio::test]
async fn every_summary_says_when_the_role_policy_is_off() {
    for (policy, ends_off) in [
        (None, true),
        (Some("arn:aws:iam::111111111111:role/cfn"), false),
    ] {
        let done = stack(StackStatus::UpdateComplete);
        let success = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
            .match_requests(move |r| {
                let summary = r
                    .execution_details()
                    .and_then(|d| d.summary())
                    .unwrap_or("");
                summary.ends_with("; role policy off") == ends_off
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let mut settings = Settings::with_sdk(sdk());
        settings.roles.service_role = policy.map(str::to_owned);
        let deployer = cfn_deployer_engine::Deployer::new(mock_client!(
            aws_sdk_cloudformation,
            RuleMode::Sequential,
            &[&done]
        ))
        .with_roles(settings.roles.clone());
        let h = Handler::new(
            Runner::new(
                Stepper::with_deployer(settings, deployer),
                cfn_deployer::WORDS,
            ),
            mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, &[&success]),
        );
        h.handle(event("codepipeline-job-continuation.json"), None)
            .await
            .expect("handled");
        assert_eq!(success.num_calls(), 1, "policy {policy:?}");
    }
}

#[tokio::test]
async fn a_running_update_continues_with_progress() {
    let running = stack(StackStatus::UpdateInProgress);
    let latest = mock!(aws_sdk_cloudformation::Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let cont = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
        .match_requests(|r| {
            let token: Value =
                serde_json::from_str(r.continuation_token().unwrap_or("null")).unwrap_or_default();
            token["v"] == 1
                && token["stack_id"] == STACK_ID
                && r.execution_details()
                    .and_then(|d| d.summary())
                    .is_some_and(|s| s.starts_with("UPDATE_IN_PROGRESS"))
        })
        .then_output(|| PutJobSuccessResultOutput::builder().build());
    let h = handler(&[&running, &latest], &[&cont]);
    h.handle(event("codepipeline-job-continuation.json"), None)
        .await
        .expect("handled");
    assert_eq!(cont.num_calls(), 1);
}

#[tokio::test]
async fn a_token_from_another_stack_fails_without_touching_cloudformation() {
    let mut e = event("codepipeline-job-continuation.json");
    let params = r#"{"stack": "billing", "artifact": "BuildOutput", "file": "template.yaml"}"#;
    e["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        params.into();
    let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(|r| {
            let d = r.failure_details().expect("details");
            d.r#type() == &FailureType::JobFailed
                && d.message().contains("follows stack `orders-api`")
                && d.message().contains("`billing`")
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let h = handler(&[], &[&failure]);
    h.handle(e, None).await.expect("handled");
    assert_eq!(failure.num_calls(), 1);
}

#[tokio::test]
async fn an_undecodable_token_is_a_clear_failure() {
    let mut e = event("codepipeline-job-continuation.json");
    e["CodePipeline.job"]["data"]["continuationToken"] = "{\"previous_job_id\": \"abc\"}".into();
    let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(|r| {
            r.failure_details()
                .is_some_and(|d| d.message().contains("not one cfn-deployer wrote"))
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let h = handler(&[], &[&failure]);
    h.handle(e, None).await.expect("handled");
    assert_eq!(failure.num_calls(), 1);
}

#[tokio::test]
async fn bad_parameters_are_a_configuration_error() {
    let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(|r| {
            r.job_id() == Some("33333333-abcd-3333-abcd-333333abcdef")
                && r.failure_details().is_some_and(|d| {
                    d.r#type() == &FailureType::ConfigurationError
                        && d.message().contains("not valid JSON")
                })
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let h = handler(&[], &[&failure]);
    h.handle(event("codepipeline-job-bad-parameters.json"), None)
        .await
        .expect("handled");
    assert_eq!(failure.num_calls(), 1);
}

#[tokio::test]
async fn a_malformed_job_with_an_id_is_still_reported() {
    let e = serde_json::json!({"CodePipeline.job": {"id": "55555555-abcd-5555-abcd-555555abcdef", "data": {"inputArtifacts": 5}}});
    let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(|r| {
            r.failure_details().is_some_and(|d| {
                d.r#type() == &FailureType::ConfigurationError
                    && d.message().contains("not a valid CodePipeline job")
            })
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let h = handler(&[], &[&failure]);
    h.handle(e, None).await.expect("handled");
    assert_eq!(failure.num_calls(), 1);
}

#[tokio::test]
async fn an_event_without_a_job_is_an_error_and_reports_nothing() {
    let h = handler(&[], &[]);
    let err = h
        .handle(serde_json::json!({"Records": []}), None)
        .await
        .expect_err("not a job");
    assert!(matches!(err, HandlerError::NotAJob));
}

#[tokio::test]
async fn a_job_already_reported_by_another_delivery_is_done() {
    let done = stack(StackStatus::UpdateComplete);
    let refused = mock!(aws_sdk_codepipeline::Client::put_job_success_result).then_error(|| {
        PutJobSuccessResultError::InvalidJobStateException(
            aws_sdk_codepipeline::types::error::InvalidJobStateException::builder()
                .message("Job is not in an in-progress state")
                .meta(
                    ErrorMetadata::builder()
                        .code("InvalidJobStateException")
                        .build(),
                )
                .build(),
        )
    });
    let h = handler(&[&done], &[&refused]);
    assert_eq!(
        h.handle(event("codepipeline-job-continuation.json"), None)
            .await
            .expect("handled"),
        Delivery::AlreadyReported
    );
}

#[tokio::test]
async fn a_report_that_does_not_reach_codepipeline_is_an_error() {
    let done = stack(StackStatus::UpdateComplete);
    let down = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
        .sequence()
        .http_status(503, None)
        .times(3)
        .build();
    let h = handler(&[&done], &[&down]);
    let err = h
        .handle(event("codepipeline-job-continuation.json"), None)
        .await
        .expect_err("unreported");
    assert!(matches!(err, HandlerError::Report(_)), "{err}");
    assert!(down.num_calls() >= 1);
}

#[tokio::test]
async fn an_output_file_without_an_output_artifact_is_a_configuration_error() {
    let mut e = event("codepipeline-job-continuation.json");
    let params = r#"{"stack": "orders-api", "artifact": "BuildOutput", "file": "template.yaml", "OutputFileName": "outputs.json"}"#;
    e["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        params.into();
    let done = stack(StackStatus::UpdateComplete);
    let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(|r| {
            r.failure_details().is_some_and(|d| {
                d.r#type() == &FailureType::ConfigurationError
                    && d.message().contains("needs an output artifact")
            })
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let h = handler(&[&done], &[&failure]);
    h.handle(e, None).await.expect("handled");
    assert_eq!(failure.num_calls(), 1);
}

#[tokio::test]
async fn access_denied_is_reported_as_a_permission_error() {
    let denied = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_error(|| {
        aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
            aws_sdk_cloudformation::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::1:assumed-role/cfn-deployer is not authorized to perform: cloudformation:DescribeStacks")
                .build(),
        )
    });
    let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(|r| {
            r.failure_details().is_some_and(|d| {
                d.r#type() == &FailureType::PermissionError
                    && d.message()
                        .contains("not authorized to perform: cloudformation:DescribeStacks")
            })
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let h = handler(&[&denied], &[&failure]);
    h.handle(event("codepipeline-job-continuation.json"), None)
        .await
        .expect("handled");
    assert_eq!(failure.num_calls(), 1);
}

#[tokio::test]
async fn a_refused_report_is_replaced_once_by_a_short_ascii_failure() {
    let done = stack(StackStatus::UpdateComplete);
    let invalid = mock!(aws_sdk_codepipeline::Client::put_job_success_result).then_error(|| {
        PutJobSuccessResultError::ValidationException(
            aws_sdk_codepipeline::types::error::ValidationException::builder()
                .message("Value at 'executionDetails.summary' failed to satisfy constraint: ≤ 2048")
                .meta(
                    ErrorMetadata::builder()
                        .code("ValidationException")
                        .message(
                            "Value at 'executionDetails.summary' failed to satisfy constraint: ≤ 2048",
                        )
                        .build(),
                )
                .build(),
        )
    });
    let replacement = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(|r| {
            r.failure_details().is_some_and(|d| {
                d.r#type() == &FailureType::JobFailed
                    && d.message().is_ascii()
                    && d.message().contains("refused by CodePipeline")
                    && d.message().contains("executionDetails.summary")
            })
        })
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let h = handler(&[&done], &[&invalid, &replacement]);
    let delivery = h
        .handle(event("codepipeline-job-continuation.json"), None)
        .await
        .expect("handled, not an error to retry");
    assert_eq!(delivery, Delivery::RefusalReported);
    assert_eq!((invalid.num_calls(), replacement.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_event_of_neither_shape_is_refused_saying_what_each_looks_like() {
    let h = handler(&[], &[]);
    let err = h
        .handle_event(serde_json::json!({"detail-type": "Scheduled Event"}), None)
        .await
        .expect_err("neither");
    assert!(matches!(err, HandlerError::NotAJob), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("CodePipeline.job") && text.contains("cfnDeployer"),
        "{text}"
    );
    let tasks =
        cfn_deployer_stepfunctions::Tasks::new(stepper(cfn_deployer_engine::Deployer::new(
            mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &[]),
        )));
    let h = handler(&[], &[]).with_tasks(tasks);
    let err = h
        .handle_event(
            serde_json::json!({"cfnDeployer": {"task": "teleport"}}),
            None,
        )
        .await
        .expect_err("no such task");
    assert!(matches!(err, HandlerError::BadTask(_)), "{err}");
    assert!(
        err.to_string().contains("unknown variant `teleport`"),
        "{err}"
    );
    let answer = h
        .handle_event(
            serde_json::json!({"cfnDeployer": {"task": "prepare", "input": {"StackName": "a", "TemplateURL": "s3://b/t.yaml"}}}),
            None,
        )
        .await
        .expect("a task");
    assert_eq!(answer["pollIntervalSeconds"], 10, "{answer}");
    assert!(answer["failed"].is_null(), "{answer}");
}

#[tokio::test]
async fn a_task_whose_state_follows_another_stack_fails_the_invocation_as_a_bad_task() {
    let tasks =
        cfn_deployer_stepfunctions::Tasks::new(stepper(cfn_deployer_engine::Deployer::new(
            mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &[]),
        )));
    let h = handler(&[], &[]).with_tasks(tasks);
    let task = serde_json::json!({"cfnDeployer": {
        "task": "step",
        "input": {"StackName": "app", "TemplateURL": "s3://b/t.yaml"},
        "execution": "arn:aws:states:us-east-1:111111111111:execution:m:run",
        "state": {
            "stack_name": "billing",
            "stack_id": "arn:aws:cloudformation:us-east-1:111111111111:stack/billing/5e2c",
            "operation": "update",
            "client_request_token": "cfn-deployer-run",
            "started": 0
        },
        "build": null
    }});
    let err = h.handle_event(task, None).await.expect_err("a bad task");
    assert!(matches!(err, HandlerError::BadTask(_)), "{err}");
    assert_eq!(
        lambda_runtime::Diagnostic::from(err).error_type,
        "CfnDeployer.BadTask"
    );
}
