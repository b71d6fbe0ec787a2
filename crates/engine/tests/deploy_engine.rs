//! The deploy engine against CloudFormation sequences moto cannot produce: operations that stay
//! in progress, no-op updates, busy stacks, repeated deliveries and lost races, and what a
//! create or an update carries.

mod common;

use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::update_stack::{UpdateStackError, UpdateStackOutput};
use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackStatus};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use cfn_deployer_engine::{Failure, FailureKind, Operation, Outcome};

use common::*;

#[tokio::test]
async fn creates_then_follows_the_create_to_completion() {
    let create = mock!(Client::create_stack)
        .match_requests(|r| r.client_request_token() == Some(TOKEN) && r.stack_name() == Some(NAME))
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let (missing, running, latest, done) = (
        no_stack(),
        stack(StackStatus::CreateInProgress),
        events(
            vec![event(
                "Queue",
                "AWS::SQS::Queue",
                "CREATE_IN_PROGRESS",
                "",
                TOKEN,
            )],
            None,
        ),
        stack(StackStatus::CreateComplete),
    );
    let d = deployer(&[&missing, &create, &running, &latest, &done]);

    let started = d.start(&request()).await.expect("start");
    let Outcome::InProgress { flight: f, .. } = started else {
        panic!("{started:?}")
    };
    assert_eq!(
        (
            f.operation,
            f.stack_id.as_str(),
            f.client_request_token.as_str()
        ),
        (Operation::Create, ID, TOKEN)
    );

    let polled = d.poll(&f).await.expect("poll");
    let Outcome::InProgress { summary, .. } = &polled else {
        panic!("{polled:?}")
    };
    assert!(summary.starts_with("CREATE_IN_PROGRESS"), "{summary}");
    assert!(
        summary.contains("Queue (AWS::SQS::Queue) CREATE_IN_PROGRESS"),
        "{summary}"
    );

    let finished = d.poll(&f).await.expect("poll");
    assert!(
        matches!(&finished, Outcome::Succeeded { stack_id, .. } if stack_id == ID),
        "{finished:?}"
    );
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn updates_a_settled_stack_even_after_a_rolled_back_update() {
    let update = mock!(Client::update_stack)
        .match_requests(|r| r.client_request_token() == Some(TOKEN))
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let settled = stack(StackStatus::UpdateRollbackComplete);
    let d = deployer(&[&settled, &update]);
    let out = d.start(&request()).await.expect("start");
    assert!(
        matches!(&out, Outcome::InProgress { flight, .. } if flight.operation == Operation::Update),
        "{out:?}"
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn no_updates_is_success_at_once() {
    let update = mock!(Client::update_stack).then_error(|| {
        UpdateStackError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("No updates are to be performed.")
                .build(),
        )
    });
    let settled = stack(StackStatus::UpdateComplete);
    let d = deployer(&[&settled, &update]);
    let out = d.start(&request()).await.expect("start");
    let Outcome::Succeeded { summary, .. } = out else {
        panic!("{out:?}")
    };
    assert!(summary.contains("no changes"), "{summary}");
}

#[tokio::test]
async fn a_busy_stack_is_waited_for_then_deployed() {
    let busy = stack(StackStatus::UpdateInProgress);
    let someone_elses = events(
        vec![event(
            NAME,
            "AWS::CloudFormation::Stack",
            "UPDATE_IN_PROGRESS",
            "User Initiated",
            "someone-else",
        )],
        None,
    );
    let still_busy = stack(StackStatus::UpdateCompleteCleanupInProgress);
    let free = stack(StackStatus::UpdateComplete);
    let d = deployer(&[&busy, &someone_elses, &still_busy, &free]);

    let out = d.start(&request()).await.expect("start");
    let Outcome::InProgress {
        flight: f, summary, ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(f.operation, Operation::Wait);
    assert!(summary.contains("waiting"), "{summary}");
    assert!(
        d.wait(&f).await.expect("wait").is_some(),
        "still busy during cleanup"
    );
    assert!(
        d.wait(&f).await.expect("wait").is_none(),
        "free once settled"
    );
}

#[tokio::test]
async fn a_second_delivery_follows_the_operation_the_first_started() {
    let busy = stack(StackStatus::CreateInProgress);
    let ours = events(
        vec![event(
            "Queue",
            "AWS::SQS::Queue",
            "CREATE_IN_PROGRESS",
            "",
            TOKEN,
        )],
        None,
    );
    let create = mock!(Client::create_stack)
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&busy, &ours, &create]);
    let out = d.start(&request()).await.expect("start");
    assert!(
        matches!(&out, Outcome::InProgress { flight, .. } if flight.operation == Operation::Create),
        "{out:?}"
    );
    assert_eq!(create.num_calls(), 0, "no second operation may start");
}

#[tokio::test]
async fn a_create_race_lost_to_another_delivery_is_followed() {
    let missing = no_stack();
    let exists = create_lost_to_another();
    let busy = stack(StackStatus::CreateInProgress);
    let ours = events(
        vec![event(
            NAME,
            "AWS::CloudFormation::Stack",
            "CREATE_IN_PROGRESS",
            "User Initiated",
            TOKEN,
        )],
        None,
    );
    let d = deployer(&[&missing, &exists, &busy, &ours]);
    let out = d.start(&request()).await.expect("start");
    assert!(
        matches!(&out, Outcome::InProgress { flight, .. } if flight.operation == Operation::Create),
        "{out:?}"
    );
}

#[tokio::test]
async fn after_losing_a_race_nothing_more_is_started() {
    let missing = no_stack();
    let exists = create_lost_to_another();
    // The other delivery's create already finished, under a token that is not this one's.
    let settled = stack(StackStatus::CreateComplete);
    let theirs = events(
        vec![event(
            NAME,
            "AWS::CloudFormation::Stack",
            "CREATE_COMPLETE",
            "",
            "another-token",
        )],
        None,
    );
    let update = mock!(Client::update_stack)
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&missing, &exists, &settled, &theirs, &update]);
    let out = d.start(&request()).await.expect("start");
    assert!(
        matches!(&out, Outcome::InProgress { flight, .. } if flight.operation == Operation::Wait),
        "{out:?}"
    );
    assert_eq!(
        update.num_calls(),
        0,
        "no second operation in the same invocation"
    );
}

#[tokio::test]
async fn updates_keep_the_previous_value_of_parameters_nobody_set() {
    let settled = mock!(Client::describe_stacks).then_output(|| {
        let param = |k: &str| {
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(k)
                .parameter_value("old")
                .build()
        };
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_name(NAME)
                    .stack_id(ID)
                    .stack_status(StackStatus::UpdateComplete)
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .parameters(param("Env"))
                    .parameters(param("Removed"))
                    .parameters(param("Replicas"))
                    .build(),
            )
            .build()
    });
    let summary = mock!(Client::get_template_summary).then_output(|| {
        let declared = |k: &str| {
            aws_sdk_cloudformation::types::ParameterDeclaration::builder()
                .parameter_key(k)
                .build()
        };
        aws_sdk_cloudformation::operation::get_template_summary::GetTemplateSummaryOutput::builder()
            .parameters(declared("Env"))
            .parameters(declared("Replicas"))
            .build()
    });
    let update = mock!(Client::update_stack)
        .match_requests(|r| {
            let mut seen: Vec<String> = r
                .parameters()
                .iter()
                .map(|p| {
                    format!(
                        "{}={}",
                        p.parameter_key().unwrap_or(""),
                        if p.use_previous_value() == Some(true) {
                            "previous"
                        } else {
                            p.parameter_value().unwrap_or("")
                        }
                    )
                })
                .collect();
            seen.sort();
            seen == ["Env=previous", "Replicas=3"]
                && r.capabilities() == [aws_sdk_cloudformation::types::Capability::CapabilityIam]
                && r.role_arn() == Some("arn:aws:iam::1:role/cfn")
                && r.tags().len() == 1
        })
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&settled, &summary, &update]);
    let mut req = request();
    req.parameters.insert("Replicas".into(), "3".into());
    req.capabilities = vec!["CAPABILITY_IAM".into()];
    req.role_arn = Some("arn:aws:iam::1:role/cfn".into());
    req.tags.insert("team".into(), "orders".into());
    let out = d.start(&req).await.expect("start");
    assert!(matches!(out, Outcome::InProgress { .. }), "{out:?}");
    assert_eq!(
        update.num_calls(),
        1,
        "the update carried the expected parameters"
    );
}

#[tokio::test]
async fn progress_counts_settled_resources_against_the_template() {
    use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
    use aws_sdk_cloudformation::types::StackResourceSummary;
    let running = stack(StackStatus::CreateInProgress);
    let latest = events(
        vec![event(
            "Queue",
            "AWS::SQS::Queue",
            "CREATE_IN_PROGRESS",
            "",
            TOKEN,
        )],
        None,
    );
    let resources = mock!(Client::list_stack_resources).then_output(|| {
        let r = |id: &str, status: &str| {
            StackResourceSummary::builder()
                .logical_resource_id(id)
                .resource_type("AWS::SQS::Queue")
                .resource_status(ResourceStatus::from(status))
                .last_updated_timestamp(aws_smithy_types::DateTime::from_secs(0))
                .build()
        };
        ListStackResourcesOutput::builder()
            .stack_resource_summaries(r("A", "CREATE_COMPLETE"))
            .stack_resource_summaries(r("B", "CREATE_COMPLETE"))
            .stack_resource_summaries(r("C", "CREATE_COMPLETE"))
            .stack_resource_summaries(r("Queue", "CREATE_IN_PROGRESS"))
            .build()
    });
    let d = deployer(&[&running, &latest, &resources]);
    let mut f = flight(Operation::Create);
    f.resources = Some(4);
    let out = d.poll(&f).await.expect("poll");
    let Outcome::InProgress {
        summary, percent, ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert!(
        summary.starts_with("CREATE_IN_PROGRESS: 3 of 4 resources done; latest event Queue"),
        "{summary}"
    );
    assert_eq!(percent, Some(75));
}

#[tokio::test]
async fn creates_carry_the_stack_policy_tags_role_and_parameters() {
    let missing = no_stack();
    let create = mock!(Client::create_stack)
        .match_requests(|r| {
            r.stack_policy_body() == Some(r#"{"Statement":[]}"#)
                && r.role_arn() == Some("arn:aws:iam::1:role/cfn")
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("team") && t.value() == Some("orders"))
                && r.parameters().iter().any(|p| {
                    p.parameter_key() == Some("Env") && p.parameter_value() == Some("prod")
                })
                && r.capabilities()
                    == [aws_sdk_cloudformation::types::Capability::CapabilityNamedIam]
        })
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&missing, &create]);
    let mut req = request();
    req.stack_policy = Some(r#"{"Statement":[]}"#.into());
    req.role_arn = Some("arn:aws:iam::1:role/cfn".into());
    req.tags.insert("team".into(), "orders".into());
    req.parameters.insert("Env".into(), "prod".into());
    req.capabilities = vec!["CAPABILITY_NAMED_IAM".into()];
    let out = d.start(&req).await.expect("start");
    assert!(matches!(out, Outcome::InProgress { .. }), "{out:?}");
    assert_eq!(create.num_calls(), 1, "the create carried every setting");
}

#[tokio::test]
async fn a_service_role_is_passed_and_a_stack_acting_with_another_is_refused() {
    use cfn_deployer_engine::RolePolicy;
    const SERVICE: &str = "arn:aws:iam::123456789012:role/cfn-service";
    let policy = RolePolicy {
        service_role: Some(SERVICE.into()),
        allowed: Vec::new(),
    };
    let missing = no_stack();
    let create = mock!(Client::create_stack)
        .match_requests(|r| r.role_arn() == Some(SERVICE))
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&missing, &create]);
    let d = Engine(d.0.with_roles(policy.clone()));
    let out = d.start(&request()).await.expect("start");
    assert!(matches!(out, Outcome::InProgress { .. }), "{out:?}");
    assert_eq!(create.num_calls(), 1, "the create passed the service role");

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
    let update = mock!(Client::update_stack)
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let d = Engine(deployer(&[&powerful, &update]).0.with_roles(policy));
    let out = d.start(&request()).await.expect("start");
    let Outcome::Failed(Failure { kind, message, .. }) = out else {
        panic!("{out:?}")
    };
    assert_eq!(kind, FailureKind::Permission);
    assert!(message.contains("role/admin"), "{message}");
    assert_eq!(update.num_calls(), 0, "nothing runs with the stored role");
}
