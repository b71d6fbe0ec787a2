//! Deletes, refusals made before any call, service-managed sets, the pace and the budget, and
//! the operation ids.

use super::*;

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
