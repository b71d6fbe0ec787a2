//! The local CodePipeline job API, called with the real SDK client over awsJson1.1: job states,
//! the service's limits, and how the function's reporter treats each answer.

use aws_config::BehaviorVersion;
use aws_sdk_codepipeline::config::{Credentials, Region};
use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use aws_sdk_codepipeline::Client;
use cfn_deployer_job::report::{self, Delivery, FailureKind, Report};
use cfn_deployer_local::notice::Notice;
use cfn_deployer_local::outcome::JobResult;
use cfn_deployer_local::server::Services;

async fn client(services: &Services) -> Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .endpoint_url(format!("http://{}", services.addr()))
        .load()
        .await;
    Client::new(&sdk)
}

fn job() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn success_then_a_second_result_is_an_invalid_job_state() {
    let (services, mut notices) = Services::start().await.expect("start");
    let cp = client(&services).await;
    let id = job();
    services.add_job(&id);
    cp.put_job_success_result()
        .job_id(&id)
        .execution_details(
            ExecutionDetails::builder()
                .summary("done")
                .external_execution_id("arn:stack")
                .build(),
        )
        .send()
        .await
        .expect("first result");
    let Some(Notice::Reported { job_id, result }) = notices.recv().await else {
        panic!("no notice")
    };
    assert_eq!(job_id, id);
    assert!(
        matches!(result, JobResult::Succeeded { continuation_token: None, summary: Some(ref s), .. } if s == "done")
    );

    let failure = FailureDetails::builder()
        .r#type(FailureType::JobFailed)
        .message("late")
        .build()
        .expect("details");
    let err = cp
        .put_job_failure_result()
        .job_id(&id)
        .failure_details(failure)
        .send()
        .await
        .expect_err("finished job");
    assert_eq!(err.code(), Some("InvalidJobStateException"));
}

#[tokio::test]
async fn unknown_jobs_are_not_found() {
    let (services, _notices) = Services::start().await.expect("start");
    let err = client(&services)
        .await
        .put_job_success_result()
        .job_id(job())
        .send()
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Some("JobNotFoundException"));
}

#[tokio::test]
async fn limits_are_enforced() {
    let (services, _notices) = Services::start().await.expect("start");
    let cp = client(&services).await;
    let id = job();
    services.add_job(&id);
    let long_token = cp
        .put_job_success_result()
        .job_id(&id)
        .continuation_token("t".repeat(2049))
        .send()
        .await
        .expect_err("token");
    assert_eq!(long_token.code(), Some("ValidationException"));
    let long_summary = cp
        .put_job_success_result()
        .job_id(&id)
        .execution_details(
            ExecutionDetails::builder()
                .summary("s".repeat(2049))
                .build(),
        )
        .send()
        .await
        .expect_err("summary");
    assert_eq!(long_summary.code(), Some("ValidationException"));
    let failure = FailureDetails::builder()
        .r#type(FailureType::JobFailed)
        .message("m".repeat(5001))
        .build()
        .expect("details");
    let long_message = cp
        .put_job_failure_result()
        .job_id(&id)
        .failure_details(failure)
        .send()
        .await
        .expect_err("message");
    assert_eq!(long_message.code(), Some("ValidationException"));
    let bad_id = cp
        .put_job_success_result()
        .job_id("not-a-job-id")
        .send()
        .await
        .expect_err("id");
    assert_eq!(bad_id.code(), Some("ValidationException"));
    // The refusals left the job open.
    cp.put_job_success_result()
        .job_id(&id)
        .send()
        .await
        .expect("still in progress");
}

#[tokio::test]
async fn the_reporter_truncates_to_the_limits_and_treats_a_finished_job_as_reported() {
    let (services, mut notices) = Services::start().await.expect("start");
    let cp = client(&services).await;
    let id = job();
    services.add_job(&id);
    let long = Report::Failure {
        kind: FailureKind::Configuration,
        message: "é".repeat(9000),
        external_id: Some("x".repeat(3000)),
    };
    assert_eq!(
        report::send(&cp, &id, long, "the function's logs")
            .await
            .expect("sent"),
        Delivery::Reported
    );
    let Some(Notice::Reported {
        result:
            JobResult::Failed {
                kind,
                message,
                external_id,
            },
        ..
    }) = notices.recv().await
    else {
        panic!("no failure")
    };
    assert_eq!(kind, "ConfigurationError");
    assert_eq!(message.chars().count(), 5000);
    assert_eq!(external_id.map(|e| e.chars().count()), Some(1500));

    let again = Report::Success {
        summary: "s".repeat(3000),
        external_id: None,
        output_variables: Default::default(),
    };
    assert_eq!(
        report::send(&cp, &id, again, "the function's logs")
            .await
            .expect("no error"),
        Delivery::AlreadyReported
    );

    let unknown = report::send(
        &cp,
        &job(),
        Report::Success {
            summary: "x".into(),
            external_id: None,
            output_variables: Default::default(),
        },
        "the function's logs",
    )
    .await;
    let err = unknown.expect_err("an unknown job is an error, so Lambda delivers the event again");
    assert!(err.to_string().contains("JobNotFoundException"), "{err}");
}

#[tokio::test]
async fn continuation_reports_carry_token_and_progress() {
    let (services, mut notices) = Services::start().await.expect("start");
    let cp = client(&services).await;
    let id = job();
    services.add_job(&id);
    let cont = Report::Continue {
        token: "{\"v\":1}".into(),
        summary: "UPDATE_IN_PROGRESS".into(),
        external_id: "arn:stack".into(),
        percent: Some(40),
    };
    report::send(&cp, &id, cont, "the function's logs")
        .await
        .expect("sent");
    let Some(Notice::Reported { result, .. }) = notices.recv().await else {
        panic!("no notice")
    };
    assert_eq!(
        result,
        JobResult::Succeeded {
            continuation_token: Some("{\"v\":1}".into()),
            summary: Some("UPDATE_IN_PROGRESS".into()),
            external_id: Some("arn:stack".into()),
            output_variables: None,
            percent_complete: Some(40),
        }
    );
}

#[tokio::test]
async fn stack_outputs_become_output_variables_within_the_limits() {
    let (services, mut notices) = Services::start().await.expect("start");
    let cp = client(&services).await;
    let id = job();
    services.add_job(&id);
    let mut outputs = std::collections::BTreeMap::new();
    outputs.insert("BucketName".to_owned(), "orders-bucket".to_owned());
    outputs.insert("Not Valid".to_owned(), "x".to_owned());
    outputs.insert("Huge".to_owned(), "x".repeat(200 * 1024));
    let done = Report::Success {
        summary: "done".into(),
        external_id: None,
        output_variables: outputs,
    };
    assert_eq!(
        report::send(&cp, &id, done, "the function's logs")
            .await
            .expect("sent"),
        Delivery::Reported
    );
    let Some(Notice::Reported {
        result: JobResult::Succeeded {
            output_variables, ..
        },
        ..
    }) = notices.recv().await
    else {
        panic!("no success")
    };
    assert_eq!(
        output_variables,
        Some(serde_json::json!({"BucketName": "orders-bucket"}))
    );
}

mod custom_actions {
    use super::*;
    use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner, ActionTypeId, JobStatus};
    use cfn_deployer_local::codepipeline::ActionType;

    fn action_type(queryable: Option<&str>) -> ActionType {
        ActionType {
            category: "Deploy".into(),
            owner: "Custom".into(),
            provider: "CfnDeployer".into(),
            version: "1".into(),
            queryable: queryable.map(str::to_owned),
        }
    }

    fn type_id(owner: ActionOwner) -> ActionTypeId {
        ActionTypeId::builder()
            .category(ActionCategory::Deploy)
            .owner(owner)
            .provider("CfnDeployer")
            .version("1")
            .build()
            .expect("type id")
    }

    fn data(pool: &str) -> serde_json::Value {
        serde_json::json!({"actionConfiguration": {"configuration": {"StackName": "app", "Pool": pool}}})
    }

    #[tokio::test]
    async fn a_job_is_queued_dispatched_with_a_nonce_then_claimed_and_reported() {
        let (services, _notices) = Services::start().await.expect("start");
        let cp = client(&services).await;
        let id = job();
        services.queue_job(&id, &action_type(None), data("x"));
        let polled = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Custom))
            .max_batch_size(5)
            .send()
            .await
            .expect("poll");
        let [handed] = polled.jobs() else {
            panic!("{polled:?}")
        };
        assert_eq!(handed.id(), Some(id.as_str()));
        let nonce = handed.nonce().expect("a nonce").to_owned();
        assert_eq!(
            handed
                .data()
                .and_then(|d| d.action_configuration())
                .and_then(|c| c.configuration())
                .and_then(|c| c.get("StackName"))
                .map(String::as_str),
            Some("app")
        );
        // Dispatched once: the next poll finds nothing.
        let again = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Custom))
            .send()
            .await
            .expect("poll");
        assert!(again.jobs().is_empty());
        // Not claimed yet: no result is taken.
        let early = cp
            .put_job_success_result()
            .job_id(&id)
            .send()
            .await
            .expect_err("not acknowledged");
        assert_eq!(early.code(), Some("InvalidJobStateException"));
        let wrong = cp
            .acknowledge_job()
            .job_id(&id)
            .nonce("not-the-nonce")
            .send()
            .await
            .expect_err("wrong nonce");
        assert_eq!(wrong.code(), Some("InvalidNonceException"));
        for _ in 0..2 {
            let ack = cp
                .acknowledge_job()
                .job_id(&id)
                .nonce(&nonce)
                .send()
                .await
                .expect("ack");
            assert_eq!(ack.status(), Some(&JobStatus::InProgress));
        }
        let details = cp
            .get_job_details()
            .job_id(&id)
            .send()
            .await
            .expect("details");
        assert_eq!(
            details.job_details().and_then(|d| d.id()),
            Some(id.as_str())
        );
        cp.put_job_success_result()
            .job_id(&id)
            .send()
            .await
            .expect("reported");
        let unknown = cp
            .acknowledge_job()
            .job_id(job())
            .nonce("n")
            .send()
            .await
            .expect_err("unknown");
        assert_eq!(unknown.code(), Some("JobNotFoundException"));
    }

    #[tokio::test]
    async fn polls_are_validated_as_the_service_validates_them() {
        let (services, _notices) = Services::start().await.expect("start");
        let cp = client(&services).await;
        let unknown = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Custom))
            .send()
            .await
            .expect_err("no such type");
        assert_eq!(unknown.code(), Some("ActionTypeNotFoundException"));
        services.queue_job(&job(), &action_type(Some("Pool")), data("blue"));
        let not_custom = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Aws))
            .query_param("Pool", "blue")
            .send()
            .await
            .expect_err("not custom");
        assert_eq!(not_custom.code(), Some("ValidationException"));
        let zero = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Custom))
            .max_batch_size(0)
            .query_param("Pool", "blue")
            .send()
            .await
            .expect_err("zero");
        assert_eq!(zero.code(), Some("ValidationException"));
        let unqueried = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Custom))
            .send()
            .await
            .expect_err("the queryable property must be named");
        assert_eq!(unqueried.code(), Some("ValidationException"));
        let green = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Custom))
            .query_param("Pool", "green")
            .send()
            .await
            .expect("poll");
        assert!(
            green.jobs().is_empty(),
            "only the blue pool's job is queued"
        );
        let blue = cp
            .poll_for_jobs()
            .action_type_id(type_id(ActionOwner::Custom))
            .query_param("Pool", "blue")
            .send()
            .await
            .expect("poll");
        assert_eq!(blue.jobs().len(), 1);
    }
}
