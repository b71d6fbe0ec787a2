use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::Request;
use cfn_deployer_engine::stackset::Targets;

fn user(value: Value) -> Result<StackSetRequest, ParamsError> {
    match Request::from_user_parameters(Some(&value.to_string()))? {
        Request::StackSet(set) => Ok(*set),
        other => panic!("not a stack set: {other:?}"),
    }
}

fn refused(value: Value) -> String {
    user(value).expect_err("refused").to_string()
}

#[test]
fn the_built_in_actions_keys_make_a_stack_set_job_on_every_front() {
    let set = user(json!({
        "StackSetName": "baseline",
        "TemplatePath": "BuildOutput::set.yaml",
        "Parameters": "ParameterKey=Env,ParameterValue=prod ParameterKey=Size,UsePreviousValue=true",
        "Capabilities": "CAPABILITY_NAMED_IAM,CAPABILITY_IAM",
        "DeploymentTargets": "111111111111,222222222222",
        "Regions": "eu-west-1,us-east-1",
        "FailureToleranceCount": 1,
        "MaxConcurrentPercentage": "50",
        "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
        "RegionConcurrencyType": "PARALLEL",
        "CallAs": "DELEGATED_ADMIN",
        "Tags": {"team": "platform"},
    }))
    .expect("valid");
    assert_eq!(set.plan.action, SetAction::Deploy);
    assert_eq!(set.plan.name, "baseline");
    assert_eq!(
        set.plan.targets,
        Some(Targets::Accounts(vec![
            "111111111111".into(),
            "222222222222".into()
        ]))
    );
    assert_eq!(
        set.plan.regions,
        vec!["eu-west-1", "us-east-1"],
        "order kept"
    );
    assert_eq!(
        set.plan.parameters,
        vec![
            SetParameter {
                key: "Env".into(),
                value: Some("prod".into()),
                use_previous: false
            },
            SetParameter {
                key: "Size".into(),
                value: None,
                use_previous: true
            },
        ]
    );
    assert_eq!(
        set.plan.capabilities,
        vec!["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    );
    assert_eq!(set.plan.preferences.failure_tolerance_count, Some(1));
    assert_eq!(set.plan.preferences.max_concurrent_percentage, Some(50));
    assert_eq!(set.plan.call_as, CallAs::DelegatedAdmin);
    assert_eq!(set.plan.tags, vec![("team".into(), "platform".into())]);
    assert!(matches!(set.template, Some(FileRef::Artifact(ref p)) if p.file == "set.yaml"));

    let configuration: HashMap<String, String> = [
        ("StackSetName", "baseline"),
        ("DeploymentTargets", "ou-abcd-11111111"),
        ("PermissionModel", "SERVICE_MANAGED"),
        ("Regions", "eu-west-1"),
        ("ParameterOverrides", "Build::overrides.json"),
        ("WorkerPool", "blue"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let Request::StackSet(set) =
        Request::from_configuration(&configuration, Some("WorkerPool")).expect("valid")
    else {
        panic!("a stack set")
    };
    assert_eq!(
        set.plan.action,
        SetAction::Instances,
        "no template: the instances action"
    );
    assert_eq!(
        set.plan.targets,
        Some(Targets::OrganizationalUnits(
            vec!["ou-abcd-11111111".into()]
        ))
    );
    assert_eq!(
        set.overrides_file.as_ref().map(|p| p.file.as_str()),
        Some("overrides.json")
    );

    let Request::StackSet(set) = Request::from_execution_input(json!({
        "StackSetName": "baseline",
        "TemplateURL": "s3://bucket/build.zip::set.yaml",
        "Parameters": [{"ParameterKey": "Env", "ParameterValue": "prod"}],
        "ActionMode": "DELETE_ONLY",
    }))
    .expect("valid") else {
        panic!("a stack set")
    };
    assert_eq!(set.plan.action, SetAction::Delete);
    assert_eq!(set.plan.parameters.len(), 1);
}

#[test]
fn each_rule_is_a_configuration_error_naming_its_key() {
    let base = |extra: Value| {
        let mut doc = json!({"StackSetName": "baseline", "TemplatePath": "B::t.yaml"});
        for (k, v) in extra.as_object().expect("object") {
            doc[k] = v.clone();
        }
        refused(doc)
    };
    let cases = [
        (
            json!({"DeploymentTargets": "ou-ab-12345678", "Regions": "eu-west-1"}),
            "DeploymentTargets",
            "is an OU id, but PermissionModel SELF_MANAGED",
        ),
        (
            json!({"PermissionModel": "SERVICE_MANAGED", "DeploymentTargets": "111111111111", "Regions": "eu-west-1"}),
            "DeploymentTargets",
            "is an account id, but PermissionModel SERVICE_MANAGED",
        ),
        (
            json!({"PermissionModel": "SERVICE_MANAGED", "OrganizationsAutoDeployment": "Enabled", "DeploymentTargets": "ou-ab-12345678", "Regions": "eu-west-1"}),
            "OrganizationsAutoDeployment",
            "cannot be used together with `DeploymentTargets`",
        ),
        (
            json!({"PermissionModel": "SERVICE_MANAGED", "OrganizationsAutoDeployment": "Enabled", "Regions": "eu-west-1"}),
            "OrganizationsAutoDeployment",
            "cannot be used together with `Regions`",
        ),
        (
            json!({"FailureToleranceCount": 1, "FailureTolerancePercentage": 10}),
            "FailureToleranceCount",
            "cannot both be set",
        ),
        (
            json!({"MaxConcurrentCount": 2, "MaxConcurrentPercentage": 10}),
            "MaxConcurrentCount",
            "cannot both be set",
        ),
        (
            json!({"FailureTolerancePercentage": 101}),
            "FailureTolerancePercentage",
            "from 0 to 100",
        ),
        (
            json!({"MaxConcurrentCount": 0}),
            "MaxConcurrentCount",
            "from 1 to",
        ),
        (
            json!({"Regions": "eu-west-1"}),
            "Regions",
            "needs `DeploymentTargets`",
        ),
        (
            json!({"DeploymentTargets": "111111111111"}),
            "DeploymentTargets",
            "needs `Regions`",
        ),
        (
            json!({"Regions": "Ireland", "DeploymentTargets": "111111111111"}),
            "Regions",
            "not a Region name",
        ),
        (
            json!({"ConcurrencyMode": "FAST"}),
            "ConcurrencyMode",
            "STRICT_FAILURE_TOLERANCE, SOFT_FAILURE_TOLERANCE",
        ),
        (
            json!({"CallAs": "ADMIN"}),
            "CallAs",
            "SELF, DELEGATED_ADMIN",
        ),
        (
            json!({"Parameters": "ParameterKey=Env"}),
            "Parameters",
            "has no ParameterValue",
        ),
        (
            json!({"Parameters": "Key=Env,Value=x"}),
            "Parameters",
            "is not ParameterKey",
        ),
        (
            json!({"AdministrationRoleArn": "admin"}),
            "AdministrationRoleArn",
            "not an IAM role ARN",
        ),
        (
            json!({"ActionMode": "REPLACE_ON_FAILURE"}),
            "ActionMode",
            "CREATE_UPDATE (the default) or DELETE_ONLY",
        ),
        (json!({"StackName": "x"}), "StackName", "unknown"),
        (
            json!({"TemplateURL": "s3://b/k.zip::t.yaml"}),
            "TemplateURL",
            "write `TemplatePath`",
        ),
    ];
    for (extra, key, words) in cases {
        let text = base(extra.clone());
        assert!(text.contains(key), "{extra}: {text}");
        assert!(text.contains(words), "{extra}: {text}");
    }
    // A value may be a secret: a refusal never echoes it.
    for secret in [
        "ParameterKey=DbPass,ParameterValue=hunter2,more",
        "ParameterKey=DbPass,ParameterValue=hunter2 spaced",
    ] {
        let text = base(json!({ "Parameters": secret }));
        assert!(text.contains("Parameters"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let text = refused(json!({"StackSetName": "baseline"}));
    assert!(
        text.contains("DeploymentTargets") && text.contains("TemplatePath"),
        "{text}"
    );
    let text = refused(json!({"StackSetName": "1bad"}));
    assert!(
        text.contains("StackSetName") && text.contains("not a valid stack set name"),
        "{text}"
    );
}

#[test]
fn values_in_files_are_named_for_the_step_and_read_by_the_same_rules() {
    let set = user(json!({
        "StackSetName": "baseline",
        "TemplatePath": "B::t.yaml",
        "Parameters": "B::params.json",
        "DeploymentTargets": "B::accounts.json",
        "Regions": ["eu-west-1"],
    }))
    .expect("valid");
    assert_eq!(
        set.parameters_file.as_ref().map(|p| p.file.as_str()),
        Some("params.json")
    );
    assert_eq!(
        set.targets_file.as_ref().map(|p| p.file.as_str()),
        Some("accounts.json")
    );
    assert!(set.plan.targets.is_none() && set.plan.parameters.is_empty());
    let read = targets(
        Front::UserParameters,
        Some(json!(["111111111111"])),
        PermissionModel::SelfManaged,
    );
    assert_eq!(
        read.expect("accounts"),
        Targets::Accounts(vec!["111111111111".into()])
    );
    let wrong = targets(
        Front::UserParameters,
        Some(json!(["ou-ab-1"])),
        PermissionModel::SelfManaged,
    );
    assert!(wrong
        .expect_err("an OU")
        .to_string()
        .contains("DeploymentTargets"));
    let list = parameters(
        Front::UserParameters,
        "Parameters",
        json!([{"ParameterKey": "A", "ParameterValue": 3}, {"ParameterKey": "B", "UsePreviousValue": "true"}]),
    )
    .expect("a list");
    assert_eq!(list[0].value.as_deref(), Some("3"));
    assert!(list[1].use_previous);
    let object =
        parameters(Front::UserParameters, "Parameters", json!({"A": "x"})).expect("an object");
    assert_eq!(object[0].key, "A");
}
