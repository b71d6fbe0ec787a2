//! Stack sets on moto, through the real binaries. moto creates a `SELF_MANAGED` set's
//! instances as real stacks in the target accounts and Regions, so a job's instances are
//! checked where they land: created, updated, extended without a template, and deleted with
//! the set; a rule broken, or an administration role the policy does not allow, is refused
//! before any call; a large template is staged; the worker and the state machine take the same
//! keys.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;
use cfn_deployer_testkit::SET_TEMPLATE as TEMPLATE;

use common::{project, run_local, run_local_with, run_sfn, run_worker, unique, Moto};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The set's instances as `ACCOUNT/REGION`, sorted; `None` when the set does not exist.
fn instances(moto: &Moto, name: &str) -> Option<Vec<String>> {
    runtime().block_on(async {
        let cfn = common::cloudformation(&moto.endpoint).await;
        cfn.describe_stack_set()
            .stack_set_name(name)
            .send()
            .await
            .ok()?;
        let out = cfn
            .list_stack_instances()
            .stack_set_name(name)
            .send()
            .await
            .expect("listed");
        let mut all: Vec<String> = out
            .summaries()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s.account().unwrap_or_default(),
                    s.region().unwrap_or_default()
                )
            })
            .collect();
        all.sort();
        Some(all)
    })
}

/// Whether an instance stack of the set `name` stands in `account` / `region`.
fn stack_there(moto: &Moto, name: &str, account: &str, region: &str) -> bool {
    runtime().block_on(async {
        let role = format!("arn:aws:iam::{account}:role/look");
        let cfn = common::cloudformation_as(&moto.endpoint, &role, region).await;
        let out = cfn.describe_stacks().send().await.expect("described");
        out.stacks().iter().any(|s| {
            // moto names an instance's stack after the set (`StackSet:NAME`).
            s.stack_name().is_some_and(|n| n.contains(name))
                && s.stack_status().map(|st| st.as_str()) != Some("DELETE_COMPLETE")
        })
    })
}

#[test]
fn a_stack_set_is_created_updated_extended_and_deleted_in_its_accounts_and_regions() {
    let moto = moto_or_skip!();
    let name = unique("baseline");
    let dir = project(TEMPLATE, &[]);
    let path = dir.path().to_str().expect("path");
    let deploy = |release: &str| {
        format!(
            r#"{{"StackSetName": "{name}", "TemplatePath": "BuildOutput::template.yaml", "Parameters": "ParameterKey=Release,ParameterValue={release}", "DeploymentTargets": "111111111111,222222222222", "Regions": "us-east-1,eu-west-1", "MaxConcurrentCount": 2, "FailureToleranceCount": 0}}"#
        )
    };

    let created = run_local(moto, &[path, "--user-parameters", &deploy("v1")]);
    created.assert_succeeded();
    assert!(
        created.output.contains(&format!(
            "  stack set {name} · CREATE_UPDATE, with a template"
        )),
        "{}",
        created.output
    );
    let id = created.output_variable("StackSetId").unwrap_or_default();
    assert!(id.starts_with(&format!("{name}:")), "{}", created.output);
    assert!(
        created.output_variable("OperationId").is_some(),
        "{}",
        created.output
    );
    assert_eq!(created.calls("CloudFormation:CreateStackSet"), 1);
    assert_eq!(created.calls("CloudFormation:CreateStackInstances"), 1);
    assert_eq!(
        instances(moto, &name),
        Some(vec![
            "111111111111/eu-west-1".to_owned(),
            "111111111111/us-east-1".to_owned(),
            "222222222222/eu-west-1".to_owned(),
            "222222222222/us-east-1".to_owned(),
        ])
    );
    assert!(stack_there(moto, &name, "222222222222", "eu-west-1"));
    assert!(!stack_there(moto, &name, "333333333333", "eu-west-1"));

    let updated = run_local(moto, &[path, "--user-parameters", &deploy("v2")]);
    updated.assert_succeeded();
    assert_eq!(
        updated.calls("CloudFormation:UpdateStackSet"),
        1,
        "{}",
        updated.output
    );
    assert_eq!(updated.calls("CloudFormation:CreateStackSet"), 0);
    assert_eq!(
        updated.calls("CloudFormation:CreateStackInstances"),
        0,
        "no instance is missing: {}",
        updated.output
    );

    // Without a template: the instances action, one new account and the others overridden.
    let extend = format!(
        r#"{{"StackSetName": "{name}", "DeploymentTargets": "222222222222,333333333333", "Regions": "eu-west-1", "ParameterOverrides": [{{"ParameterKey": "Release", "ParameterValue": "v3"}}]}}"#
    );
    let extended = run_local(moto, &[path, "--user-parameters", &extend]);
    extended.assert_succeeded();
    assert_eq!(extended.calls("CloudFormation:CreateStackInstances"), 1);
    assert_eq!(extended.calls("CloudFormation:UpdateStackInstances"), 1);
    assert!(stack_there(moto, &name, "333333333333", "eu-west-1"));
    assert_eq!(instances(moto, &name).map(|i| i.len()), Some(5));

    let delete = format!(r#"{{"StackSetName": "{name}", "ActionMode": "DELETE_ONLY"}}"#);
    let deleted = run_local(moto, &[path, "--user-parameters", &delete]);
    deleted.assert_succeeded();
    assert_eq!(deleted.calls("CloudFormation:DeleteStackInstances"), 1);
    assert_eq!(deleted.calls("CloudFormation:DeleteStackSet"), 1);
    assert_eq!(instances(moto, &name), None, "the set is gone");
    assert!(!stack_there(moto, &name, "222222222222", "eu-west-1"));

    // Deleting what is not there is success.
    let again = run_local(moto, &[path, "--user-parameters", &delete]);
    again.assert_succeeded();
    assert_eq!(again.calls("CloudFormation:DeleteStackInstances"), 0);
}

#[test]
fn a_broken_rule_is_refused_before_any_call() {
    let moto = moto_or_skip!();
    let name = unique("refused");
    let dir = project(TEMPLATE, &[]);
    let path = dir.path().to_str().expect("path");
    let params = format!(
        r#"{{"StackSetName": "{name}", "TemplatePath": "BuildOutput::template.yaml", "DeploymentTargets": "ou-abcd-12345678", "Regions": "eu-west-1"}}"#
    );
    let run = run_local(moto, &[path, "--user-parameters", &params]);
    run.assert_failed("ConfigurationError", "DeploymentTargets");
    assert!(
        run.output.contains("PermissionModel SELF_MANAGED"),
        "{}",
        run.output
    );
    assert_eq!(run.calls("CloudFormation:DescribeStackSet"), 0);
    assert_eq!(instances(moto, &name), None);
}

#[test]
fn the_worker_and_the_state_machine_deploy_stack_sets_too() {
    let moto = moto_or_skip!();
    let dir = project(TEMPLATE, &[]);
    let path = dir.path().to_str().expect("path");

    let by_worker = unique("workerset");
    let set = format!("StackSetName={by_worker}");
    let worker = run_worker(
        moto,
        &[
            path,
            "--configuration",
            &set,
            "--configuration",
            "TemplatePath=BuildOutput::template.yaml",
            "--configuration",
            "Parameters=ParameterKey=Release,ParameterValue=w1",
            "--configuration",
            "DeploymentTargets=111111111111",
            "--configuration",
            "Regions=eu-west-1",
        ],
        &[],
    );
    worker.assert_succeeded();
    assert_eq!(
        instances(moto, &by_worker),
        Some(vec!["111111111111/eu-west-1".to_owned()])
    );

    let by_sfn = unique("sfnset");
    let input = format!(
        r#"{{"StackSetName": "{by_sfn}", "Parameters": {{"Release": "s1"}}, "DeploymentTargets": ["222222222222"], "Regions": ["us-east-1"]}}"#
    );
    let sfn = run_sfn(moto, &[path, "--input", &input]);
    assert_eq!(sfn.code, 0, "{}", sfn.output);
    assert!(sfn.output.contains("StackSetId"), "{}", sfn.output);
    assert_eq!(
        instances(moto, &by_sfn),
        Some(vec!["222222222222/us-east-1".to_owned()])
    );
}

#[test]
fn a_large_template_is_staged_and_an_administration_role_outside_the_policy_refused() {
    let moto = moto_or_skip!();
    // Over CloudFormation's 51,200-byte inline limit: it goes through the staging bucket.
    let big = format!("{TEMPLATE}Metadata:\n  Padding: {}\n", "x".repeat(60_000));
    let dir = project(&big, &[]);
    let path = dir.path().to_str().expect("path");
    let name = unique("bigset");
    let params = format!(
        r#"{{"StackSetName": "{name}", "TemplatePath": "BuildOutput::template.yaml", "Parameters": "ParameterKey=Release,ParameterValue=b1", "DeploymentTargets": "111111111111", "Regions": "eu-west-1"}}"#
    );
    let run = run_local(moto, &[path, "--user-parameters", &params]);
    run.assert_succeeded();
    assert!(
        run.output.contains("stack set template staged"),
        "staged: {}",
        run.output
    );
    assert!(run.calls("S3:PutObject") >= 1, "staged: {}", run.output);
    assert!(stack_there(moto, &name, "111111111111", "eu-west-1"));

    // With the role policy on, an administration role it does not allow is refused first.
    let refused = unique("adminset");
    let params = format!(
        r#"{{"StackSetName": "{refused}", "TemplatePath": "BuildOutput::template.yaml", "AdministrationRoleArn": "arn:aws:iam::123456789012:role/other-admin"}}"#
    );
    let run = run_local_with(
        moto,
        &[path, "--user-parameters", &params],
        &[(
            "CFN_DEPLOYER_ALLOWED_ROLE_ARNS",
            "arn:aws:iam::123456789012:role/cfn-deployer-admin",
        )],
    );
    run.assert_failed("PermissionError", "other-admin");
    assert!(
        run.output.contains("CFN_DEPLOYER_ALLOWED_ROLE_ARNS"),
        "{}",
        run.output
    );
    assert_eq!(run.calls("CloudFormation:DescribeStackSet"), 0);
    assert_eq!(instances(moto, &refused), None);
}
