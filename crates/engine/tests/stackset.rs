//! The stack-set engine against a mocked CloudFormation: a set created and its instances added,
//! an update followed by the instances it lacked, another operation waited out, an earlier
//! delivery's operation followed, failures naming their instances, throttling, deletes, and the
//! refusals made before any call. Each step's state goes through JSON, as in a continuation
//! token.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_stack_instances::{
    CreateStackInstancesError, CreateStackInstancesOutput,
};
use aws_sdk_cloudformation::operation::create_stack_set::CreateStackSetOutput;
use aws_sdk_cloudformation::operation::delete_stack_instances::DeleteStackInstancesOutput;
use aws_sdk_cloudformation::operation::delete_stack_set::DeleteStackSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_set::{
    DescribeStackSetError, DescribeStackSetOutput,
};
use aws_sdk_cloudformation::operation::describe_stack_set_operation::{
    DescribeStackSetOperationError, DescribeStackSetOperationOutput,
};
use aws_sdk_cloudformation::operation::list_stack_instances::ListStackInstancesOutput;
use aws_sdk_cloudformation::operation::list_stack_set_operation_results::ListStackSetOperationResultsOutput;
use aws_sdk_cloudformation::operation::list_stack_set_operations::ListStackSetOperationsOutput;
use aws_sdk_cloudformation::operation::update_stack_set::{
    UpdateStackSetError, UpdateStackSetOutput,
};
use aws_sdk_cloudformation::types::error::{
    OperationIdAlreadyExistsException, OperationInProgressException, StackSetNotFoundException,
};
use aws_sdk_cloudformation::types::{
    CallAs as Who, Capability, PermissionModels, RegionConcurrencyType, StackInstanceSummary,
    StackSet, StackSetOperation, StackSetOperationResultStatus, StackSetOperationResultSummary,
    StackSetOperationStatus, StackSetOperationSummary,
};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime;
use cfn_deployer_engine::stackset::{
    AutoDeployment, CallAs, PermissionModel, Phase, Preferences, SetAction, SetOutcome,
    SetParameter, SetPlan, SetState, Targets, MAX_OPERATION_ID,
};
use cfn_deployer_engine::{Deployer, FailureKind, Pace, Remedy, RolePolicy, Template};
use proptest::prelude::*;

const NAME: &str = "org-baseline";
const SET_ID: &str = "org-baseline:5f1a7c1e-0000-4000-8000-000000000001";
const TOKEN: &str = "cfn-deployer-0f1e2d3c-job";
const UPDATE: &str = "cfn-deployer-0f1e2d3c-job-update";
const ADD: &str = "cfn-deployer-0f1e2d3c-job-add";
const REMOVE: &str = "cfn-deployer-0f1e2d3c-job-remove";
const BODY: &str = "Resources: {Topic: {Type: AWS::SNS::Topic}}";
const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
const OU: &str = "ou-ab12-prod0001";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const ME: Who = Who::SelfValue;
const ADMIN: &str = "arn:aws:iam::123456789012:role/AWSCloudFormationStackSetAdministrationRole";

/// One poll per step, as a front that hands back at once.
const ONE_POLL: Pace = Pace {
    poll_within: Duration::ZERO,
    poll_interval: Duration::from_secs(3),
};

fn plan(action: SetAction, accounts: &[&str], regions: &[&str]) -> SetPlan {
    SetPlan {
        name: NAME.into(),
        action,
        description: None,
        template: (action == SetAction::Deploy).then(|| Template::Body(BODY.into())),
        parameters: Vec::new(),
        parameter_overrides: Vec::new(),
        capabilities: Vec::new(),
        permission_model: PermissionModel::SelfManaged,
        administration_role_arn: None,
        execution_role_name: None,
        auto_deployment: None,
        targets: (!accounts.is_empty())
            .then(|| Targets::Accounts(accounts.iter().map(|a| (*a).to_owned()).collect())),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        preferences: Preferences::default(),
        call_as: CallAs::OwnAccount,
        tags: Vec::new(),
        request_token: TOKEN.into(),
    }
}

fn engine(rules: &[&Rule]) -> Deployer {
    Deployer::new(mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        rules
    ))
}

async fn step(d: &Deployer, plan: &SetPlan, state: Option<SetState>) -> SetOutcome {
    d.advance_set(plan, state, ONE_POLL, None)
        .await
        .expect("a step")
}

/// The state an outcome under way hands back, through JSON as a continuation token has it.
fn carried(outcome: &SetOutcome) -> SetState {
    let SetOutcome::InProgress { state, .. } = outcome else {
        panic!("expected a job under way, got {outcome:?}")
    };
    let json = serde_json::to_string(state).expect("serialize");
    serde_json::from_str(&json).expect("deserialize")
}

fn summary(outcome: &SetOutcome) -> &str {
    match outcome {
        SetOutcome::InProgress { summary, .. } | SetOutcome::Succeeded { summary, .. } => summary,
        SetOutcome::Failed(f) => &f.message,
    }
}

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} (mocked)"))
        .build()
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn set_found(who: Who) -> Rule {
    mock!(Client::describe_stack_set)
        .match_requests(move |r| r.stack_set_name() == Some(NAME) && r.call_as() == Some(&who))
        .then_output(|| {
            DescribeStackSetOutput::builder()
                .stack_set(
                    StackSet::builder()
                        .stack_set_name(NAME)
                        .stack_set_id(SET_ID)
                        .build(),
                )
                .build()
        })
}

fn set_missing(who: Who) -> Rule {
    mock!(Client::describe_stack_set)
        .match_requests(move |r| r.call_as() == Some(&who))
        .then_error(|| {
            DescribeStackSetError::StackSetNotFoundException(
                StackSetNotFoundException::builder()
                    .message("StackSet org-baseline not found")
                    .meta(meta("StackSetNotFoundException"))
                    .build(),
            )
        })
}

/// One page of ListStackInstances: `(account, region, ou)`, read after the page `after`.
fn instances(
    list: &[(&'static str, &'static str, Option<&'static str>)],
    after: Option<&'static str>,
    next: Option<&'static str>,
) -> Rule {
    let summaries: Vec<StackInstanceSummary> = list
        .iter()
        .map(|(account, region, ou)| {
            StackInstanceSummary::builder()
                .stack_set_id(SET_ID)
                .account(*account)
                .region(*region)
                .set_organizational_unit_id(ou.map(str::to_owned))
                .build()
        })
        .collect();
    mock!(Client::list_stack_instances)
        .match_requests(move |r| {
            r.stack_set_name() == Some(NAME) && r.next_token() == after && r.call_as().is_some()
        })
        .then_output(move || {
            ListStackInstancesOutput::builder()
                .set_summaries(Some(summaries.clone()))
                .set_next_token(next.map(str::to_owned))
                .build()
        })
}

fn mine(list: &[(&'static str, &'static str)]) -> Rule {
    let list: Vec<_> = list.iter().map(|(a, r)| (*a, *r, None)).collect();
    instances(&list, None, None)
}

fn operation(
    id: &'static str,
    status: StackSetOperationStatus,
    reason: Option<&'static str>,
) -> Rule {
    let ended = !matches!(
        status,
        StackSetOperationStatus::Running
            | StackSetOperationStatus::Queued
            | StackSetOperationStatus::Stopping
    );
    mock!(Client::describe_stack_set_operation)
        .match_requests(move |r| {
            r.stack_set_name() == Some(NAME)
                && r.operation_id() == Some(id)
                && r.call_as().is_some()
        })
        .then_output(move || {
            DescribeStackSetOperationOutput::builder()
                .stack_set_operation(
                    StackSetOperation::builder()
                        .operation_id(id)
                        .stack_set_id(SET_ID)
                        .status(status.clone())
                        .set_status_reason(reason.map(str::to_owned))
                        .set_end_timestamp(ended.then(|| DateTime::from_secs(60)))
                        .build(),
                )
                .build()
        })
}

fn result(account: &str, status: StackSetOperationResultStatus) -> StackSetOperationResultSummary {
    let reason = (status == StackSetOperationResultStatus::Failed)
        .then(|| format!("Account {account} should have 'AWSCloudFormationStackSetExecutionRole'"));
    StackSetOperationResultSummary::builder()
        .account(account)
        .region(EAST)
        .status(status)
        .set_status_reason(reason)
        .build()
}

/// One page of ListStackSetOperationResults for `id`, read after the page `after`.
fn results(
    id: &'static str,
    list: Vec<StackSetOperationResultSummary>,
    after: Option<&'static str>,
    next: Option<&'static str>,
) -> Rule {
    mock!(Client::list_stack_set_operation_results)
        .match_requests(move |r| r.operation_id() == Some(id) && r.next_token() == after)
        .then_output(move || {
            ListStackSetOperationResultsOutput::builder()
                .set_summaries(Some(list.clone()))
                .set_next_token(next.map(str::to_owned))
                .build()
        })
}

fn succeeded(id: &'static str, accounts: &[&str]) -> Rule {
    let list = accounts
        .iter()
        .map(|a| result(a, StackSetOperationResultStatus::Succeeded))
        .collect();
    results(id, list, None, None)
}

fn throttled_describe() -> Rule {
    mock!(Client::describe_stack_set)
        .then_error(|| DescribeStackSetError::generic(meta("Throttling")))
}

#[tokio::test]
async fn a_new_set_is_created_then_its_instances_followed_to_success_across_steps() {
    let mut plan = plan(SetAction::Deploy, &[A, B], &[EAST, WEST]);
    plan.description = Some("Account baseline".into());
    plan.parameters = vec![SetParameter {
        key: "Env".into(),
        value: Some("prod".into()),
        use_previous: false,
    }];
    plan.capabilities = vec!["CAPABILITY_NAMED_IAM".into()];
    plan.administration_role_arn = Some(ADMIN.into());
    plan.execution_role_name = Some("StackSetExecution".into());
    plan.tags = vec![("team".into(), "platform".into())];
    plan.preferences = Preferences {
        failure_tolerance_count: Some(1),
        max_concurrent_count: Some(2),
        region_concurrency_type: Some("PARALLEL".into()),
        ..Preferences::default()
    };
    let missing = set_missing(ME);
    let create = mock!(Client::create_stack_set)
        .match_requests(|r| {
            r.stack_set_name() == Some(NAME)
                && r.template_body() == Some(BODY)
                && r.template_url().is_none()
                && r.client_request_token() == Some(TOKEN)
                && r.permission_model() == Some(&PermissionModels::SelfManaged)
                && r.administration_role_arn() == Some(ADMIN)
                && r.execution_role_name() == Some("StackSetExecution")
                && r.auto_deployment().is_none()
                && r.call_as() == Some(&ME)
                && r.capabilities() == [Capability::CapabilityNamedIam]
                && r.parameters().len() == 1
                && r.parameters()[0].parameter_key() == Some("Env")
                && r.parameters()[0].parameter_value() == Some("prod")
                && r.description() == Some("Account baseline")
                && r.tags().len() == 1
        })
        .then_output(|| CreateStackSetOutput::builder().stack_set_id(SET_ID).build());
    let add = mock!(Client::create_stack_instances)
        .match_requests(|r| {
            r.accounts() == [A, B]
                && r.regions() == [EAST, WEST]
                && r.deployment_targets().is_none()
                && r.operation_id() == Some(ADD)
                && r.call_as() == Some(&ME)
                && r.operation_preferences().is_some_and(|p| {
                    p.region_order() == [EAST, WEST]
                        && p.failure_tolerance_count() == Some(1)
                        && p.max_concurrent_count() == Some(2)
                        && p.region_concurrency_type() == Some(&RegionConcurrencyType::Parallel)
                })
        })
        .then_output(|| {
            CreateStackInstancesOutput::builder()
                .operation_id(ADD)
                .build()
        });
    let running = operation(ADD, StackSetOperationStatus::Running, None);
    let partly = results(
        ADD,
        vec![
            result(A, StackSetOperationResultStatus::Succeeded),
            result(A, StackSetOperationResultStatus::Succeeded),
            result(B, StackSetOperationResultStatus::Running),
            result(B, StackSetOperationResultStatus::Running),
        ],
        None,
        None,
    );
    let done = operation(ADD, StackSetOperationStatus::Succeeded, None);
    let all = succeeded(ADD, &[A, A, B, B]);
    let d = engine(&[&missing, &create, &add, &running, &partly, &done, &all]);

    let first = step(&d, &plan, None).await;
    assert_eq!(
        summary(&first),
        format!("CreateStackInstances operation `{ADD}` started on stack set `{NAME}`")
    );
    let state = carried(&first);
    assert_eq!(
        (
            state.stack_set_id.as_str(),
            state.phase,
            state.operation_id.as_deref()
        ),
        (SET_ID, Phase::Add, Some(ADD))
    );
    assert!(state.next.is_empty() && state.blocked_by.is_none());

    let second = step(&d, &plan, Some(state)).await;
    let SetOutcome::InProgress { percent, .. } = &second else {
        panic!("still running: {second:?}")
    };
    assert_eq!(
        summary(&second),
        format!("CreateStackInstances operation `{ADD}` RUNNING on stack set `{NAME}`: 2 of 4 instances SUCCEEDED, 2 RUNNING")
    );
    assert_eq!(*percent, Some(50));

    let third = step(&d, &plan, Some(carried(&second))).await;
    assert_eq!(
        third,
        SetOutcome::Succeeded {
            stack_set_id: SET_ID.into(),
            operation_id: Some(ADD.into()),
            summary: format!("Stack set `{NAME}`: 4 of 4 instances SUCCEEDED"),
        }
    );
    assert_eq!((create.num_calls(), add.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_existing_set_is_updated_where_it_has_instances_then_gets_the_missing_ones() {
    const ADMIN_OF_ORG: Who = Who::DelegatedAdmin;
    let mut plan = plan(SetAction::Deploy, &[A, B], &[EAST, WEST]);
    plan.call_as = CallAs::DelegatedAdmin;
    let found = set_found(ADMIN_OF_ORG);
    let page1 = instances(&[(A, EAST, None)], None, Some("page-2"));
    let page2 = instances(&[(B, EAST, None), (C, EAST, None)], Some("page-2"), None);
    let update = mock!(Client::update_stack_set)
        .match_requests(|r| {
            r.accounts() == [A, B]
                && r.regions() == [EAST]
                && r.template_body() == Some(BODY)
                && r.use_previous_template().is_none()
                && r.operation_id() == Some(UPDATE)
                && r.call_as() == Some(&ADMIN_OF_ORG)
                && r.operation_preferences()
                    .is_some_and(|p| p.region_order() == [EAST])
        })
        .then_output(|| UpdateStackSetOutput::builder().operation_id(UPDATE).build());
    let updated = operation(UPDATE, StackSetOperationStatus::Succeeded, None);
    let now = instances(
        &[(A, EAST, None), (B, EAST, None), (C, EAST, None)],
        None,
        None,
    );
    let add = mock!(Client::create_stack_instances)
        .match_requests(|r| {
            r.accounts() == [A, B]
                && r.regions() == [WEST]
                && r.operation_id() == Some(ADD)
                && r.call_as() == Some(&ADMIN_OF_ORG)
        })
        .then_output(|| {
            CreateStackInstancesOutput::builder()
                .operation_id(ADD)
                .build()
        });
    let added = operation(ADD, StackSetOperationStatus::Succeeded, None);
    let counted = succeeded(ADD, &[A, B]);
    let d = engine(&[
        &found, &page1, &page2, &update, &updated, &now, &add, &added, &counted,
    ]);

    let first = step(&d, &plan, None).await;
    let state = carried(&first);
    assert_eq!(
        (state.phase, state.next.as_slice()),
        (Phase::Update, [Phase::Add].as_slice()),
        "the update comes first, so the new instances get the new version"
    );
    let second = step(&d, &plan, Some(state)).await;
    assert_eq!(
        summary(&second),
        format!("CreateStackInstances operation `{ADD}` started on stack set `{NAME}`")
    );
    let state = carried(&second);
    assert_eq!(state.last_operation.as_deref(), Some(UPDATE));
    let third = step(&d, &plan, Some(state)).await;
    assert_eq!(
        third,
        SetOutcome::Succeeded {
            stack_set_id: SET_ID.into(),
            operation_id: Some(ADD.into()),
            summary: format!("Stack set `{NAME}`: 2 of 2 instances SUCCEEDED"),
        }
    );
    assert_eq!((update.num_calls(), add.num_calls()), (1, 1));
}

#[tokio::test]
async fn another_operation_is_waited_out_then_the_jobs_own_starts() {
    let plan = plan(SetAction::Deploy, &[], &[]);
    let (found, listed) = (set_found(ME), mine(&[(A, EAST)]));
    let refused = mock!(Client::update_stack_set).then_error(|| {
        UpdateStackSetError::OperationInProgressException(
            OperationInProgressException::builder()
                .message("Another Operation on StackSet is in progress")
                .meta(meta("OperationInProgressException"))
                .build(),
        )
    });
    let others = mock!(Client::list_stack_set_operations)
        .match_requests(|r| r.stack_set_name() == Some(NAME) && r.call_as() == Some(&ME))
        .then_output(|| {
            let summary = |id: &str, status| {
                StackSetOperationSummary::builder()
                    .operation_id(id)
                    .status(status)
                    .build()
            };
            ListStackSetOperationsOutput::builder()
                .summaries(summary("drift-9", StackSetOperationStatus::Running))
                .summaries(summary("older-1", StackSetOperationStatus::Succeeded))
                .build()
        });
    let (still, over) = (
        operation("drift-9", StackSetOperationStatus::Running, None),
        operation("drift-9", StackSetOperationStatus::Succeeded, None),
    );
    let relisted = mine(&[(A, EAST)]);
    let update = mock!(Client::update_stack_set)
        .match_requests(|r| {
            r.accounts.is_none() && r.regions.is_none() && r.operation_id() == Some(UPDATE)
        })
        .then_output(|| UpdateStackSetOutput::builder().operation_id(UPDATE).build());
    let d = engine(&[
        &found, &listed, &refused, &others, &still, &over, &relisted, &update,
    ]);
    let waiting =
        format!("waiting for operation `drift-9` already running on stack set `{NAME}` to end");

    let first = step(&d, &plan, None).await;
    assert_eq!(summary(&first), waiting);
    let state = carried(&first);
    assert_eq!(state.blocked_by.as_deref(), Some("drift-9"));
    assert_eq!(state.operation_id, None);
    let second = step(&d, &plan, Some(state)).await;
    assert_eq!(summary(&second), waiting, "still running: still waiting");
    let third = step(&d, &plan, Some(carried(&second))).await;
    let state = carried(&third);
    assert_eq!(state.blocked_by, None);
    assert_eq!(state.operation_id.as_deref(), Some(UPDATE));
    assert_eq!((refused.num_calls(), update.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_operation_an_earlier_delivery_started_is_followed() {
    let mut plan = plan(SetAction::Instances, &[A], &[EAST]);
    plan.parameter_overrides = vec![SetParameter {
        key: "Env".into(),
        value: Some("staging".into()),
        use_previous: false,
    }];
    let (found, none) = (set_found(ME), mine(&[]));
    let taken = mock!(Client::create_stack_instances)
        .match_requests(|r| {
            r.operation_id() == Some(ADD)
                && r.parameter_overrides().len() == 1
                && r.parameter_overrides()[0].parameter_value() == Some("staging")
        })
        .then_error(|| {
            CreateStackInstancesError::OperationIdAlreadyExistsException(
                OperationIdAlreadyExistsException::builder()
                    .message("The operation id already exists")
                    .meta(meta("OperationIdAlreadyExistsException"))
                    .build(),
            )
        });
    let running = operation(ADD, StackSetOperationStatus::Queued, None);
    let nothing_yet = results(ADD, Vec::new(), None, None);
    let d = engine(&[&found, &none, &taken, &running, &nothing_yet]);
    let out = step(&d, &plan, None).await;
    assert_eq!(
        summary(&out),
        format!("CreateStackInstances operation `{ADD}` QUEUED on stack set `{NAME}`")
    );
    let state = carried(&out);
    assert_eq!(
        (state.phase, state.operation_id.as_deref()),
        (Phase::Add, Some(ADD))
    );
}

#[tokio::test]
async fn a_failed_operation_names_its_first_ten_failed_instances_then_counts_the_rest() {
    let plan = plan(SetAction::Deploy, &[A], &[EAST]);
    let following = SetState {
        stack_set_id: SET_ID.into(),
        phase: Phase::Add,
        operation_id: Some(ADD.into()),
        blocked_by: None,
        next: Vec::new(),
        last_operation: Some(UPDATE.into()),
    };
    let accounts: Vec<String> = (1..=12).map(|n| format!("{n:012}")).collect();
    let failed = |range: std::ops::Range<usize>| -> Vec<StackSetOperationResultSummary> {
        accounts[range]
            .iter()
            .map(|a| result(a, StackSetOperationResultStatus::Failed))
            .collect()
    };
    let mut first_page = failed(0..6);
    first_page.push(result(B, StackSetOperationResultStatus::Succeeded));
    first_page.push(result(C, StackSetOperationResultStatus::Succeeded));
    let reason = "The Operation has failed because its failure tolerance was exceeded.";
    let (over, page1, page2) = (
        operation(ADD, StackSetOperationStatus::Failed, Some(reason)),
        results(ADD, first_page, None, Some("more")),
        results(ADD, failed(6..12), Some("more"), None),
    );
    let d = engine(&[&over, &page1, &page2]);
    let SetOutcome::Failed(failure) = step(&d, &plan, Some(following)).await else {
        panic!("a FAILED operation fails the job")
    };
    assert_eq!(failure.kind, FailureKind::Deploy);
    assert_eq!(failure.stack_id.as_deref(), Some(SET_ID));
    assert_eq!(failure.remedies, [Remedy::FixAndDeployAgain]);
    let message = &failure.message;
    assert!(
        message.starts_with(&format!(
            "CreateStackInstances operation `{ADD}` on stack set `{NAME}` ended FAILED: The Operation has failed because its failure tolerance was exceeded. 12 of 14 instances did not succeed: 000000000001 / us-east-1 FAILED: Account 000000000001 should have 'AWSCloudFormationStackSetExecutionRole'; "
        )),
        "{message}"
    );
    assert!(
        message.contains("000000000010 / us-east-1 FAILED"),
        "{message}"
    );
    assert!(message.ends_with("; and 2 more"), "{message}");
    assert!(!message.contains("000000000011"), "{message}");
    assert!(
        !message.contains(B),
        "succeeded instances are not named: {message}"
    );
}

#[tokio::test]
async fn throttling_leaves_the_job_where_it_was_and_never_fails_it() {
    let plan = plan(SetAction::Deploy, &[A], &[EAST]);
    let (throttled, found, listed) = (throttled_describe(), set_found(ME), mine(&[(A, EAST)]));
    let update = mock!(Client::update_stack_set)
        .match_requests(|r| r.accounts() == [A] && r.regions() == [EAST])
        .then_output(|| UpdateStackSetOutput::builder().operation_id(UPDATE).build());
    let throttled_poll = mock!(Client::describe_stack_set_operation)
        .then_error(|| DescribeStackSetOperationError::generic(meta("Throttling")));
    let d = engine(&[&throttled, &found, &listed, &update, &throttled_poll]);

    let first = step(&d, &plan, None).await;
    assert!(
        summary(&first).starts_with(&format!(
            "DescribeStackSet on stack set `{NAME}` throttled by CloudFormation"
        )),
        "{}",
        summary(&first)
    );
    let state = carried(&first);
    assert!(
        state.stack_set_id.is_empty(),
        "nothing read yet: start over"
    );
    let second = step(&d, &plan, Some(state)).await;
    let following = carried(&second);
    assert_eq!(following.operation_id.as_deref(), Some(UPDATE));
    let third = step(&d, &plan, Some(following.clone())).await;
    assert!(
        summary(&third).contains("DescribeStackSetOperation on stack set `org-baseline` throttled"),
        "{}",
        summary(&third)
    );
    assert_eq!(carried(&third), following, "the same state, to poll again");
}

#[tokio::test]
async fn deleting_an_absent_set_succeeds_with_nothing_to_delete() {
    let missing = set_missing(ME);
    let d = engine(&[&missing]);
    let out = step(&d, &plan(SetAction::Delete, &[], &[]), None).await;
    assert_eq!(
        out,
        SetOutcome::Succeeded {
            stack_set_id: String::new(),
            operation_id: None,
            summary: format!("Stack set `{NAME}` does not exist: nothing to delete"),
        }
    );
}

#[tokio::test]
async fn a_delete_removes_every_instance_then_the_set() {
    let plan = plan(SetAction::Delete, &[], &[]);
    let (found, listed) = (set_found(ME), mine(&[(A, EAST), (A, WEST), (B, EAST)]));
    let remove = mock!(Client::delete_stack_instances)
        .match_requests(|r| {
            r.accounts() == [A, B]
                && r.regions() == [EAST, WEST]
                && r.retain_stacks() == Some(false)
                && r.operation_id() == Some(REMOVE)
                && r.call_as() == Some(&ME)
        })
        .then_output(|| {
            DeleteStackInstancesOutput::builder()
                .operation_id(REMOVE)
                .build()
        });
    let removed = operation(REMOVE, StackSetOperationStatus::Succeeded, None);
    let counted = succeeded(REMOVE, &[A, A, B]);
    let gone = mine(&[]);
    let delete = mock!(Client::delete_stack_set)
        .match_requests(|r| r.stack_set_name() == Some(NAME) && r.call_as() == Some(&ME))
        .then_output(|| DeleteStackSetOutput::builder().build());
    let d = engine(&[&found, &listed, &remove, &removed, &counted, &gone, &delete]);
    let first = step(&d, &plan, None).await;
    assert_eq!(carried(&first).phase, Phase::Remove);
    let done = step(&d, &plan, Some(carried(&first))).await;
    assert_eq!(
        done,
        SetOutcome::Succeeded {
            stack_set_id: SET_ID.into(),
            operation_id: Some(REMOVE.into()),
            summary: format!(
                "Stack set `{NAME}`: 3 of 3 instances SUCCEEDED; the stack set is deleted"
            ),
        }
    );
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn a_delete_of_some_targets_keeps_the_set_with_its_other_instances() {
    let plan = plan(SetAction::Delete, &[A], &[EAST]);
    let (found, listed) = (set_found(ME), mine(&[(A, EAST), (B, EAST)]));
    let remove = mock!(Client::delete_stack_instances)
        .match_requests(|r| r.accounts() == [A] && r.regions() == [EAST])
        .then_output(|| {
            DeleteStackInstancesOutput::builder()
                .operation_id(REMOVE)
                .build()
        });
    let removed = operation(REMOVE, StackSetOperationStatus::Succeeded, None);
    let counted = succeeded(REMOVE, &[A]);
    let left = mine(&[(B, EAST)]);
    let delete =
        mock!(Client::delete_stack_set).then_output(|| DeleteStackSetOutput::builder().build());
    let d = engine(&[&found, &listed, &remove, &removed, &counted, &left, &delete]);
    let first = step(&d, &plan, None).await;
    let done = step(&d, &plan, Some(carried(&first))).await;
    assert_eq!(
        summary(&done),
        format!("Stack set `{NAME}`: 1 of 1 instance SUCCEEDED; 1 instance(s) outside the targets remain, so the stack set is kept")
    );
    assert_eq!(delete.num_calls(), 0);
}

#[tokio::test]
async fn instances_for_an_absent_set_are_refused_naming_what_to_do() {
    let missing = set_missing(ME);
    let d = engine(&[&missing]);
    let SetOutcome::Failed(failure) =
        step(&d, &plan(SetAction::Instances, &[A], &[EAST]), None).await
    else {
        panic!("no set, no instances")
    };
    assert_eq!(failure.kind, FailureKind::Configuration);
    for part in [NAME, "StackSetName", "TemplatePath", "does not exist"] {
        assert!(
            failure.message.contains(part),
            "{part}: {}",
            failure.message
        );
    }
}

#[tokio::test]
async fn an_administration_role_outside_the_policy_is_refused_before_any_call() {
    const SERVICE: &str = "arn:aws:iam::123456789012:role/cfn-service";
    const OTHER: &str = "arn:aws:iam::123456789012:role/StackSetAdmin";
    let policy = RolePolicy {
        service_role: Some(SERVICE.into()),
        allowed: vec![OTHER.into()],
    };
    let mut refused = plan(SetAction::Delete, &[], &[]);
    refused.administration_role_arn = Some(ADMIN.into());
    let describe = set_missing(ME);
    let d = engine(&[&describe]).with_roles(policy);
    let SetOutcome::Failed(failure) = step(&d, &refused, None).await else {
        panic!("the role is refused")
    };
    assert_eq!(failure.kind, FailureKind::Permission);
    for part in [
        ADMIN,
        SERVICE,
        "CFN_DEPLOYER_SERVICE_ROLE_ARN",
        "CFN_DEPLOYER_ALLOWED_ROLE_ARNS",
    ] {
        assert!(
            failure.message.contains(part),
            "{part}: {}",
            failure.message
        );
    }
    assert_eq!(describe.num_calls(), 0, "refused before any call");
    // An allowed role goes on.
    let allowed = SetPlan {
        administration_role_arn: Some(OTHER.into()),
        ..refused
    };
    let out = step(&d, &allowed, None).await;
    assert!(matches!(out, SetOutcome::Succeeded { .. }), "{out:?}");
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn a_service_managed_set_targets_organizational_units() {
    const ADMIN_OF_ORG: Who = Who::DelegatedAdmin;
    let mut plan = plan(SetAction::Deploy, &[], &[EAST, WEST]);
    plan.permission_model = PermissionModel::ServiceManaged;
    plan.targets = Some(Targets::OrganizationalUnits(owned(&[OU])));
    plan.auto_deployment = Some(AutoDeployment::Enabled);
    plan.call_as = CallAs::DelegatedAdmin;
    let found = set_found(ADMIN_OF_ORG);
    // Two accounts of the OU in one Region: one place, as the targets name it.
    let listed = instances(&[(A, EAST, Some(OU)), (B, EAST, Some(OU))], None, None);
    let update = mock!(Client::update_stack_set)
        .match_requests(|r| {
            r.accounts.is_none()
                && r.deployment_targets()
                    .is_some_and(|t| t.organizational_unit_ids() == [OU])
                && r.regions() == [EAST]
                && r.permission_model() == Some(&PermissionModels::ServiceManaged)
                && r.auto_deployment().is_none()
                && r.call_as() == Some(&ADMIN_OF_ORG)
        })
        .then_output(|| UpdateStackSetOutput::builder().operation_id(UPDATE).build());
    let d = engine(&[&found, &listed, &update]);
    let state = carried(&step(&d, &plan, None).await);
    assert_eq!(
        (state.phase, state.next.as_slice()),
        (Phase::Update, [Phase::Add].as_slice())
    );

    let missing = set_missing(ADMIN_OF_ORG);
    let create = mock!(Client::create_stack_set)
        .match_requests(|r| {
            r.permission_model() == Some(&PermissionModels::ServiceManaged)
                && r.auto_deployment().is_some_and(|a| {
                    a.enabled() == Some(true) && a.retain_stacks_on_account_removal() == Some(false)
                })
        })
        .then_output(|| CreateStackSetOutput::builder().stack_set_id(SET_ID).build());
    let add = mock!(Client::create_stack_instances)
        .match_requests(|r| {
            r.accounts.is_none()
                && r.deployment_targets()
                    .is_some_and(|t| t.organizational_unit_ids() == [OU])
                && r.regions() == [EAST, WEST]
                && r.call_as() == Some(&ADMIN_OF_ORG)
        })
        .then_output(|| {
            CreateStackInstancesOutput::builder()
                .operation_id(ADD)
                .build()
        });
    let d = engine(&[&missing, &create, &add]);
    let state = carried(&step(&d, &plan, None).await);
    assert_eq!(state.operation_id.as_deref(), Some(ADD));
}

#[tokio::test]
async fn a_step_polls_on_within_its_pace_until_the_operation_ends() {
    let plan = plan(SetAction::Deploy, &[A], &[EAST]);
    let following = SetState {
        stack_set_id: SET_ID.into(),
        phase: Phase::Update,
        operation_id: Some(UPDATE.into()),
        blocked_by: None,
        next: Vec::new(),
        last_operation: None,
    };
    let (running, partly, done, counted) = (
        operation(UPDATE, StackSetOperationStatus::Running, None),
        results(
            UPDATE,
            vec![result(A, StackSetOperationResultStatus::Pending)],
            None,
            None,
        ),
        operation(UPDATE, StackSetOperationStatus::Succeeded, None),
        succeeded(UPDATE, &[A]),
    );
    let d = engine(&[&running, &partly, &done, &counted]);
    let pace = Pace {
        poll_within: Duration::from_secs(30),
        poll_interval: Duration::from_millis(10),
    };
    let out = d
        .advance_set(&plan, Some(following), pace, None)
        .await
        .expect("a step");
    assert_eq!(
        summary(&out),
        format!("Stack set `{NAME}`: 1 of 1 instance SUCCEEDED")
    );
    assert_eq!((running.num_calls(), done.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_step_never_polls_past_its_budget() {
    let plan = plan(SetAction::Deploy, &[A], &[EAST]);
    let following = SetState {
        stack_set_id: SET_ID.into(),
        phase: Phase::Update,
        operation_id: Some(UPDATE.into()),
        blocked_by: None,
        next: vec![Phase::Add],
        last_operation: None,
    };
    let running = operation(UPDATE, StackSetOperationStatus::Running, None);
    let none_yet = results(UPDATE, Vec::new(), None, None);
    let d = Deployer::new(mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&running, &none_yet]
    ));
    let pace = Pace {
        poll_within: Duration::from_secs(30),
        poll_interval: Duration::from_millis(50),
    };
    let budget = Duration::from_millis(600);
    let began = Instant::now();
    let out = d
        .advance_set(&plan, Some(following.clone()), pace, Some(budget))
        .await
        .expect("a step");
    assert!(began.elapsed() < budget, "{:?}", began.elapsed());
    assert_eq!(carried(&out), following);
    assert!(running.num_calls() >= 2, "polled again within the budget");
}

const PHASES: [Phase; 4] = [Phase::Update, Phase::Add, Phase::Override, Phase::Remove];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_token_derives_valid_stable_distinct_operation_ids(token in "(.|[a-zA-Z0-9-]){0,300}") {
        let plan = SetPlan { request_token: token.clone(), ..plan(SetAction::Deploy, &[], &[]) };
        let ids: Vec<String> = PHASES.iter().map(|p| plan.operation_id(*p)).collect();
        for (phase, id) in PHASES.iter().zip(&ids) {
            prop_assert!(id.len() <= MAX_OPERATION_ID, "{id}");
            prop_assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{id}");
            prop_assert!(id.starts_with(|c: char| c.is_ascii_alphanumeric()), "{id}");
            let suffix = match phase {
                Phase::Update => "-update",
                Phase::Add => "-add",
                Phase::Override => "-override",
                Phase::Remove => "-remove",
            };
            prop_assert!(id.ends_with(suffix), "{id}");
            let again = SetPlan { request_token: token.clone(), ..plan.clone() };
            prop_assert_eq!(&again.operation_id(*phase), id, "the same job, the same id");
        }
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        prop_assert_eq!(distinct.len(), PHASES.len());
    }
}

#[tokio::test]
async fn a_set_another_caller_created_first_is_deployed_to_as_an_existing_one() {
    let plan = plan(SetAction::Deploy, &[A], &[EAST]);
    let missing = set_missing(ME);
    let lost = mock!(Client::create_stack_set).then_error(|| {
        aws_sdk_cloudformation::operation::create_stack_set::CreateStackSetError::NameAlreadyExistsException(
            aws_sdk_cloudformation::types::error::NameAlreadyExistsException::builder()
                .message("StackSet org-baseline already exists")
                .meta(meta("NameAlreadyExistsException"))
                .build(),
        )
    });
    let (found, none) = (set_found(ME), mine(&[]));
    // No instance anywhere: the update names none, and the targets are added after it.
    let update = mock!(Client::update_stack_set)
        .match_requests(|r| r.accounts.is_none() && r.regions.is_none())
        .then_output(|| UpdateStackSetOutput::builder().operation_id(UPDATE).build());
    let d = engine(&[&missing, &lost, &found, &none, &update]);
    let state = carried(&step(&d, &plan, None).await);
    assert_eq!(
        (
            state.phase,
            state.next.as_slice(),
            state.stack_set_id.as_str()
        ),
        (Phase::Update, [Phase::Add].as_slice(), SET_ID)
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn instances_are_overridden_where_they_exist_then_the_missing_are_added() {
    const OVERRIDE: &str = "cfn-deployer-0f1e2d3c-job-override";
    let mut plan = plan(SetAction::Instances, &[A, B], &[EAST]);
    plan.parameter_overrides = vec![SetParameter {
        key: "Env".into(),
        value: None,
        use_previous: true,
    }];
    let (found, listed) = (set_found(ME), mine(&[(A, EAST)]));
    let overrides = mock!(Client::update_stack_instances)
        .match_requests(|r| {
            r.accounts() == [A]
                && r.regions() == [EAST]
                && r.operation_id() == Some(OVERRIDE)
                && r.call_as() == Some(&ME)
                && r.parameter_overrides().len() == 1
                && r.parameter_overrides()[0].use_previous_value() == Some(true)
        })
        .then_output(|| {
            aws_sdk_cloudformation::operation::update_stack_instances::UpdateStackInstancesOutput::builder()
                .operation_id(OVERRIDE)
                .build()
        });
    let d = engine(&[&found, &listed, &overrides]);
    let state = carried(&step(&d, &plan, None).await);
    assert_eq!(
        (state.phase, state.next.as_slice()),
        (Phase::Override, [Phase::Add].as_slice())
    );
    assert_eq!(overrides.num_calls(), 1);
}
