//! The deploy engine against CloudFormation sequences moto cannot produce: operations that stay
//! in progress, rollbacks with failed resources, no-op updates, busy stacks, repeated deliveries.

use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_stack::{CreateStackError, CreateStackOutput};
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::operation::update_stack::{UpdateStackError, UpdateStackOutput};
use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackEvent, StackStatus};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use cfn_deployer_engine::{
    Action, DeployError, Deployer, Failure, FailureKind, InFlight, Inputs, Mode, Operation,
    Outcome, Plan, Prepared, Remedy, StepError, Template,
};

const NAME: &str = "orders-api";
const ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api/6c1f";
const TOKEN: &str = "cfn-deployer-11111111-abcd-1111-abcd-111111abcdef";

/// A deploy as the tests write it: the plan's settings and the prepared inputs together.
#[derive(Debug, Clone, Default)]
struct DeployRequest {
    stack_name: String,
    template: Template,
    client_request_token: String,
    parameters: std::collections::BTreeMap<String, String>,
    capabilities: Vec<String>,
    role_arn: Option<String>,
    tags: std::collections::BTreeMap<String, String>,
    stack_policy: Option<String>,
    mode: Mode,
}

impl DeployRequest {
    fn plan(&self, action: Action) -> Plan {
        Plan {
            stack_name: self.stack_name.clone(),
            action,
            client_request_token: self.client_request_token.clone(),
            capabilities: self.capabilities.clone(),
            role_arn: self.role_arn.clone(),
            ..Plan::default()
        }
    }

    fn inputs(&self) -> Given {
        Given(Prepared {
            template: self.template.clone(),
            parameters: self.parameters.clone(),
            tags: self.tags.clone(),
            stack_policy: self.stack_policy.clone(),
            resources: None,
        })
    }
}

fn request() -> DeployRequest {
    DeployRequest {
        stack_name: NAME.into(),
        template: Template::Body("Resources: {}".into()),
        client_request_token: TOKEN.into(),
        ..DeployRequest::default()
    }
}

/// Inputs already in hand, as a front would prepare them.
struct Given(Prepared);

impl Inputs for Given {
    type Error = std::convert::Infallible;

    async fn prepare(&self, _plan: &Plan) -> Result<Prepared, Self::Error> {
        Ok(self.0.clone())
    }
}

/// The engine, driven step by step as a front drives it.
struct Engine(Deployer);

fn deploy_error(err: StepError<std::convert::Infallible>) -> DeployError {
    match err {
        StepError::Deploy(e) => e,
        StepError::Inputs(never) => match never {},
    }
}

impl Engine {
    /// Starts `action` for `req`.
    async fn begin(&self, req: &DeployRequest, action: Action) -> Result<Outcome, DeployError> {
        self.0
            .step(&req.plan(action), &req.inputs(), None)
            .await
            .map_err(deploy_error)
    }

    /// Follows `flight` one step, for `action`.
    async fn follow(
        &self,
        req: &DeployRequest,
        action: Action,
        flight: &InFlight,
    ) -> Result<Outcome, DeployError> {
        self.0
            .step(&req.plan(action), &req.inputs(), Some(flight))
            .await
            .map_err(deploy_error)
    }

    async fn start(&self, req: &DeployRequest) -> Result<Outcome, DeployError> {
        self.begin(req, Action::Deploy { mode: req.mode }).await
    }

    async fn poll(&self, flight: &InFlight) -> Result<Outcome, DeployError> {
        let plan = request().plan(Action::Deploy {
            mode: Mode::CreateUpdate,
        });
        self.0.poll(&plan, flight).await
    }

    async fn wait(&self, flight: &InFlight) -> Result<Option<Outcome>, DeployError> {
        self.0.wait(flight).await
    }

    /// A delete's next step: `None` once the stack is gone.
    async fn poll_delete(&self, flight: &InFlight) -> Result<Option<Outcome>, DeployError> {
        let out = self.follow(&request(), Action::Delete, flight).await?;
        Ok((!matches!(out, Outcome::Succeeded { .. })).then_some(out))
    }

    async fn delete(&self) -> Result<Outcome, DeployError> {
        self.begin(&request(), Action::Delete).await
    }

    async fn create_change_set(
        &self,
        req: &DeployRequest,
        name: &str,
    ) -> Result<Outcome, DeployError> {
        let action = Action::ChangeSetReplace {
            change_set: name.into(),
        };
        self.begin(req, action).await
    }

    async fn poll_change_set(&self, flight: &InFlight) -> Result<Outcome, DeployError> {
        let action = Action::ChangeSetReplace {
            change_set: flight.change_set.clone().unwrap_or_default(),
        };
        self.follow(&request(), action, flight).await
    }

    async fn execute_change_set(&self, name: &str) -> Result<Outcome, DeployError> {
        let action = Action::ChangeSetExecute {
            change_set: name.into(),
        };
        self.begin(&request(), action).await
    }
}

fn flight(operation: Operation) -> InFlight {
    InFlight {
        stack_name: NAME.into(),
        stack_id: ID.into(),
        operation,
        client_request_token: TOKEN.into(),
        started: 0,
        change_set: None,
        resources: None,
        stalls: 0,
        monitor_until: None,
    }
}

fn stack(status: StackStatus) -> Rule {
    mock!(Client::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_name(NAME)
                    .stack_id(ID)
                    .stack_status(status.clone())
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .build(),
            )
            .build()
    })
}

fn no_stack() -> Rule {
    mock!(Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("Stack with id orders-api does not exist")
                .build(),
        )
    })
}

fn event(logical: &str, kind: &str, status: &str, reason: &str, token: &str) -> StackEvent {
    StackEvent::builder()
        .stack_id(ID)
        .stack_name(NAME)
        .event_id(format!("{logical}-{status}"))
        .logical_resource_id(logical)
        .resource_type(kind)
        .resource_status(ResourceStatus::from(status))
        .resource_status_reason(reason)
        .client_request_token(token)
        .timestamp(aws_smithy_types::DateTime::from_secs(
            cfn_deployer_engine::now_epoch(),
        ))
        .build()
}

fn events(list: Vec<StackEvent>, next: Option<&'static str>) -> Rule {
    mock!(Client::describe_stack_events).then_output(move || {
        DescribeStackEventsOutput::builder()
            .set_stack_events(Some(list.clone()))
            .set_next_token(next.map(str::to_owned))
            .build()
    })
}

/// CreateStack refused because the stack exists, built as the SDK's deserializer builds it:
/// with the error's metadata.
fn create_lost_to_another() -> Rule {
    mock!(Client::create_stack).then_error(|| {
        CreateStackError::AlreadyExistsException(
            aws_sdk_cloudformation::types::error::AlreadyExistsException::builder()
                .message("Stack [orders-api] already exists")
                .meta(
                    ErrorMetadata::builder()
                        .code("AlreadyExistsException")
                        .message("Stack [orders-api] already exists")
                        .build(),
                )
                .build(),
        )
    })
}

fn deployer(rules: &[&Rule]) -> Engine {
    Engine(Deployer::new(mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        rules
    )))
}

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

mod change_sets {
    use super::*;
    use aws_sdk_cloudformation::operation::create_change_set::{
        CreateChangeSetError, CreateChangeSetOutput,
    };
    use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
    use aws_sdk_cloudformation::operation::describe_change_set::{
        DescribeChangeSetError, DescribeChangeSetOutput,
    };
    use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
    use aws_sdk_cloudformation::types::{
        Change, ChangeAction, ChangeSetStatus, ExecutionStatus, Replacement, ResourceChange,
    };

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
        let delete = mock!(Client::delete_change_set)
            .then_output(|| DeleteChangeSetOutput::builder().build());
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
        let ready = change_set(ChangeSetStatus::CreateComplete, "", vec![modify.clone()]);
        // Once complete, the change set is read again with its property values, for review.
        let reviewed = change_set(ChangeSetStatus::CreateComplete, "", vec![modify]);
        let d = deployer(&[
            &settled, &exists, &delete, &created, &pending, &ready, &reviewed,
        ]);

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

mod past_the_built_in_action {
    use super::*;
    use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
    use cfn_deployer_engine::{OnFailure, Rollback};

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

    fn protected_stack(status: StackStatus) -> Rule {
        mock!(Client::describe_stacks).then_output(move || {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_name(NAME)
                        .stack_id(ID)
                        .stack_status(status.clone())
                        .enable_termination_protection(true)
                        .creation_time(aws_smithy_types::DateTime::from_secs(0))
                        .build(),
                )
                .build()
        })
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
        let delete =
            mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
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
        let ready = mock!(Client::describe_change_set).then_output(|| {
            DescribeChangeSetOutput::builder()
                .change_set_name("release")
                .stack_id(ID)
                .status(ChangeSetStatus::CreateComplete)
                .build()
        });
        let d = deployer(&[&ready, &root, &nested]);
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
            "Change set `release`: 3 change(s): Modify Secret (AWS::SSM::Parameter), replacement: False; Modify Db (AWS::CloudFormation::Stack), replacement: ?; Db › Add Instance (AWS::RDS::DBInstance)"
        );
        let secret = &review.changes[0];
        for d in secret
            .details
            .iter()
            .filter(|d| d.path.as_deref() == Some("/Properties/Value"))
        {
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
        assert!(md.contains("| Modify | Secret | AWS::SSM::Parameter | False | `/Properties/Value`: **** → ****"), "{md}");
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
}
