//! A stack-set job followed through its operations: created, updated, waited out, an earlier
//! delivery's operation followed, failures named, throttling never fatal.

use super::*;

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
