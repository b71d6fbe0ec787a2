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

mod follow;
mod other;
