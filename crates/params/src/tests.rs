//! The settings' validation, table by table.

use std::collections::HashMap;

use super::*;
use cfn_deployer_engine::drift::DriftCheck;

#[test]
fn the_seed_keys_work_unchanged() {
    let p = Params::from_user_parameters(Some(
        r#"{"stack": "orders-api", "artifact": "BuildOutput", "file": "infra/template.yaml"}"#,
    ))
    .expect("valid");
    assert_eq!(p.stack, "orders-api");
    assert_eq!(p.template_path().expect("template").artifact, "BuildOutput");
    assert_eq!(
        p.template_path().expect("template").file,
        "infra/template.yaml"
    );
}

/// Each bad input, and a word its message must contain.
#[test]
fn bad_parameters_name_the_key() {
    let cases: &[(Option<&str>, &str)] = &[
        (None, "empty"),
        (Some("  "), "empty"),
        (Some("stack=orders"), "not valid JSON"),
        (Some("[1]"), "not an array"),
        (Some("\"orders\""), "not a string"),
        (Some(r#"{"artifact": "A", "file": "t.yaml"}"#), "`stack`"),
        (Some(r#"{"stack": "s", "file": "t.yaml"}"#), "`artifact`"),
        (Some(r#"{"stack": "s", "artifact": "A"}"#), "`file`"),
        (
            Some(r#"{"stack": 5, "artifact": "A", "file": "t"}"#),
            "`stack`",
        ),
        (
            Some(r#"{"stack": "s", "artifact": ["A"], "file": "t"}"#),
            "`artifact`",
        ),
        (
            Some(r#"{"stack": "s", "artifact": "A", "file": ""}"#),
            "`file`",
        ),
        (
            Some(r#"{"stack": "s", "artifact": "A", "file": "t", "stak": 1}"#),
            "`stak`",
        ),
        (
            Some(r#"{"stack": "9lives", "artifact": "A", "file": "t"}"#),
            "start with a letter",
        ),
        (
            Some(r#"{"stack": "my_stack", "artifact": "A", "file": "t"}"#),
            "contains `_`",
        ),
    ];
    for (input, needle) in cases {
        let err = Params::from_user_parameters(*input)
            .expect_err("must fail")
            .to_string();
        assert!(err.contains(needle), "{input:?}: {err}");
    }
}

#[test]
fn unknown_keys_list_the_known_ones() {
    let err = Params::from_user_parameters(Some(
        r#"{"stack":"s","artifact":"A","file":"t","Stack":"x"}"#,
    ))
    .expect_err("unknown key")
    .to_string();
    for key in [
        "stack",
        "artifact",
        "file",
        "StackName",
        "TemplatePath",
        "Capabilities",
        "ParameterOverrides",
        "RoleArn",
        "Tags",
        "ActionMode",
        "TemplateConfiguration",
        "OutputFileName",
        "ChangeSetName",
    ] {
        assert!(err.contains(&format!("`{key}`")), "{err}");
    }
}

#[test]
fn the_built_in_actions_names_work_too() {
    let p = Params::from_user_parameters(Some(
        r#"{"StackName": "orders-api", "TemplatePath": "BuildOutput::infra/template.yaml",
            "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
            "ParameterOverrides": "{\"Env\": \"prod\", \"Replicas\": 3}",
            "RoleArn": "arn:aws:iam::123456789012:role/cfn", "Tags": {"team": "orders"}}"#,
    ))
    .expect("valid");
    assert_eq!(p.stack, "orders-api");
    assert_eq!(
        (
            p.template_path().expect("template").artifact.as_str(),
            p.template_path().expect("template").file.as_str()
        ),
        ("BuildOutput", "infra/template.yaml")
    );
    assert_eq!(p.capabilities, ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM"]);
    assert_eq!(
        p.parameter_overrides.get("Replicas"),
        Some(&ParamValue::Literal("3".into()))
    );
    assert_eq!(
        p.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/cfn")
    );
    assert_eq!(p.tags.get("team").map(String::as_str), Some("orders"));
}

#[test]
fn conflicting_and_bad_settings_name_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"stack": "a", "StackName": "b", "artifact": "A", "file": "t"}"#,
            "`stack` (`a`) and `StackName` (`b`)",
        ),
        (
            r#"{"stack": "a", "TemplatePath": "A::t", "artifact": "B"}"#,
            "`artifact` (`B`) and `TemplatePath` (`A`)",
        ),
        (
            r#"{"stack": "a", "TemplatePath": "A:t"}"#,
            "key `TemplatePath`",
        ),
        (
            r#"{"stack": "a", "TemplatePath": "A::t", "Capabilities": ["CAPABILITY_ROOT"]}"#,
            "key `Capabilities`: `CAPABILITY_ROOT`",
        ),
        (
            r#"{"stack": "a", "TemplatePath": "A::t", "ParameterOverrides": "{bad"}"#,
            "key `ParameterOverrides`",
        ),
        (
            r#"{"stack": "a", "TemplatePath": "A::t", "ParameterOverrides": {"X": {"Fn::Nope": 1}}}"#,
            "`X` uses `Fn::Nope`",
        ),
        (
            r#"{"stack": "a", "TemplatePath": "A::t", "RoleArn": "cfn-role"}"#,
            "key `RoleArn`",
        ),
        (
            r#"{"stack": "a", "TemplatePath": "A::t", "Tags": ["x"]}"#,
            "key `Tags`",
        ),
    ];
    for (input, needle) in cases {
        let err = Params::from_user_parameters(Some(input))
            .expect_err(input)
            .to_string();
        assert!(err.contains(needle), "{input}: {err}");
    }
    // The same value written both ways is no conflict.
    assert!(Params::from_user_parameters(Some(
        r#"{"stack": "a", "StackName": "a", "TemplatePath": "A::t", "artifact": "A"}"#
    ))
    .is_ok());
}

#[test]
fn parameter_functions_and_template_configuration_parse() {
    let p = Params::from_user_parameters(Some(
        r#"{"stack": "a", "TemplatePath": "A::t", "TemplateConfiguration": "Config::prod.json",
            "ParameterOverrides": {"Image": {"Fn::GetParam": ["Build", "image.json", "tag"]},
                                   "Bucket": {"Fn::GetArtifactAtt": ["Build", "BucketName"]}}}"#,
    ))
    .expect("valid");
    assert_eq!(
        p.template_configuration,
        Some(FileRef::Artifact(ArtifactPath {
            artifact: "Config".into(),
            file: "prod.json".into()
        }))
    );
    assert_eq!(
        p.parameter_overrides.get("Image"),
        Some(&ParamValue::GetParam {
            artifact: "Build".into(),
            file: "image.json".into(),
            key: "tag".into()
        })
    );
    assert_eq!(
        p.parameter_overrides.get("Bucket"),
        Some(&ParamValue::ArtifactAtt {
            artifact: "Build".into(),
            attribute: ArtifactAttribute::BucketName
        })
    );
    for (bad, needle) in [
        (
            r#"{"Fn::GetParam": ["Build", "image.json"]}"#,
            "must be written",
        ),
        (
            r#"{"Fn::GetArtifactAtt": ["Build", "Arn"]}"#,
            "asks for `Arn`",
        ),
        (r#"{"Fn::Sub": "x"}"#, "uses `Fn::Sub`"),
    ] {
        let input = format!(
            r#"{{"stack": "a", "TemplatePath": "A::t", "ParameterOverrides": {{"X": {bad}}}}}"#
        );
        let err = Params::from_user_parameters(Some(&input))
            .expect_err(bad)
            .to_string();
        assert!(err.contains(needle), "{bad}: {err}");
    }
}

#[test]
fn stack_names_follow_cloudformation_rules() {
    assert!(check_stack_name("a").is_ok());
    assert!(check_stack_name("orders-api-2").is_ok());
    assert!(check_stack_name(&format!("a{}", "b".repeat(127))).is_ok());
    assert!(check_stack_name(&format!("a{}", "b".repeat(128))).is_err());
    assert!(check_stack_name("").is_err());
    assert!(check_stack_name("-a").is_err());
}

#[test]
fn paths_that_escape_the_artifact_are_configuration_errors() {
    for (input, key) in [
        (
            r#"{"stack": "s", "artifact": "A", "file": "../template.yaml"}"#,
            "`file`",
        ),
        (
            r#"{"stack": "s", "TemplatePath": "A::/etc/passwd"}"#,
            "`TemplatePath`",
        ),
        (
            r#"{"stack": "s", "TemplatePath": "A::a/../../t.yaml"}"#,
            "`TemplatePath`",
        ),
        (
            r#"{"stack": "s", "TemplatePath": "A::t", "TemplateConfiguration": "A::..\\c.json"}"#,
            "`TemplateConfiguration`",
        ),
        (
            r#"{"stack": "s", "TemplatePath": "A::t", "ParameterOverrides": {"X": {"Fn::GetParam": ["A", "../p.json", "k"]}}}"#,
            "`ParameterOverrides`",
        ),
    ] {
        let err = Params::from_user_parameters(Some(input)).expect_err(input);
        assert!(
            matches!(err, ParamsError::BadValue { .. }),
            "{input}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(key) && text.contains("plain relative path"),
            "{input}: {text}"
        );
    }
    assert!(Params::from_user_parameters(Some(
        r#"{"stack": "s", "TemplatePath": "A::./infra/t.yaml"}"#
    ))
    .is_ok());
}

#[test]
fn a_custom_actions_properties_are_strings_in_the_built_in_names() {
    let props = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let p = Params::from_configuration(
        &props(&[
            ("StackName", "orders-api"),
            ("TemplatePath", "BuildOutput::infra/template.yaml"),
            ("Capabilities", "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND"),
            ("ParameterOverrides", r#"{"Env": "prod", "Replicas": 3}"#),
            ("ActionMode", "CHANGE_SET_REPLACE"),
            ("ChangeSetName", "release"),
            ("WorkerPool", "blue"),
        ]),
        Some("WorkerPool"),
    )
    .expect("valid");
    assert_eq!(p.front, Front::Configuration);
    assert_eq!(p.stack, "orders-api");
    assert_eq!(p.capabilities, ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM"]);
    assert_eq!(
        p.parameter_overrides.get("Replicas"),
        Some(&ParamValue::Literal("3".into()))
    );
    assert_eq!(
        p.template_path().map(|t| t.file.as_str()),
        Some("infra/template.yaml")
    );
    // Without --query, the pool is a property nobody reads: refused, naming it.
    let err = Params::from_configuration(
        &props(&[
            ("StackName", "a"),
            ("TemplatePath", "A::t"),
            ("WorkerPool", "blue"),
        ]),
        None,
    )
    .expect_err("unknown");
    assert!(
        err.to_string()
            .starts_with("The action configuration has an unknown field `WorkerPool`"),
        "{err}"
    );
    let err =
        Params::from_configuration(&props(&[("StackName", "a")]), None).expect_err("no template");
    assert!(
        err.to_string().contains("missing the key `TemplatePath`"),
        "{err}"
    );
    let err = Params::from_configuration(
        &props(&[
            ("StackName", "a"),
            ("TemplatePath", "A::t"),
            ("Tags", "not json"),
        ]),
        None,
    )
    .expect_err("bad tags");
    assert!(
        err.to_string().starts_with("configuration property `Tags`"),
        "{err}"
    );
}

#[test]
fn the_settings_the_built_in_action_lacks_are_read_in_every_front() {
    let alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-5xx";
    let topic = "arn:aws:sns:us-east-1:123456789012:deploys";
    let user = Params::from_user_parameters(Some(&format!(
        r#"{{"stack": "a", "TemplatePath": "A::t", "RollbackTriggers": ["{alarm}"], "MonitoringTimeInMinutes": 10,
            "TerminationProtection": true, "OnFailure": "DELETE", "DisableRollback": true,
            "TimeoutInMinutes": 30, "NotificationARNs": ["{topic}"], "DriftCheck": "FAIL",
            "DeploymentMode": "REVERT_DRIFT"}}"#
    )))
    .expect("valid");
    let expected = Settings {
        rollback: Some(cfn_deployer_engine::Rollback {
            triggers: vec![alarm.into()],
            monitoring_minutes: 10,
        }),
        termination_protection: Some(true),
        on_failure: Some(cfn_deployer_engine::OnFailure::Delete),
        disable_rollback: true,
        timeout_minutes: Some(30),
        notification_arns: vec![topic.into()],
        drift_check: Some(DriftCheck::Fail),
        revert_drift: true,
    };
    assert_eq!(user.settings, expected);
    // The same as a custom action's strings.
    let props: HashMap<String, String> = [
        ("StackName", "a"),
        ("TemplatePath", "A::t"),
        ("RollbackTriggers", alarm),
        ("MonitoringTimeInMinutes", "10"),
        ("TerminationProtection", "true"),
        ("OnFailure", "DELETE"),
        ("DisableRollback", "TRUE"),
        ("TimeoutInMinutes", "30"),
        ("NotificationARNs", topic),
        ("DriftCheck", "FAIL"),
        ("DeploymentMode", "REVERT_DRIFT"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(
        Params::from_configuration(&props, None)
            .expect("valid")
            .settings,
        expected
    );
    // And as an execution's JSON.
    let input = serde_json::json!({"StackName": "a", "TemplateURL": "s3://b/t.yaml", "RollbackTriggers": [alarm],
        "MonitoringTimeInMinutes": 10, "TerminationProtection": true, "OnFailure": "DELETE", "DisableRollback": true,
        "TimeoutInMinutes": 30, "NotificationARNs": [topic], "DriftCheck": "FAIL", "DeploymentMode": "REVERT_DRIFT"});
    let p = Params::from_execution_input(input).expect("valid");
    assert_eq!(p.settings, expected);
    let plan = p.plan("t");
    assert_eq!(
        plan.on_failure,
        Some(cfn_deployer_engine::OnFailure::Delete)
    );
    assert_eq!(
        (plan.drift_check, plan.revert_drift),
        (DriftCheck::Fail, true)
    );
}

#[test]
fn drift_is_not_checked_unless_asked() {
    let p = Params::from_user_parameters(Some(r#"{"stack": "a", "TemplatePath": "A::t"}"#))
        .expect("valid");
    assert_eq!(p.settings.drift_check, None);
    let plan = p.plan("t");
    assert_eq!(
        (plan.drift_check, plan.revert_drift),
        (DriftCheck::Off, false)
    );
    for check in ["OFF", "WARN", "FAIL"] {
        let p = Params::from_user_parameters(Some(&format!(
            r#"{{"stack": "a", "TemplatePath": "A::t", "DriftCheck": "{check}"}}"#
        )))
        .expect("valid");
        assert_eq!(p.plan("t").drift_check.as_str(), check);
    }
}

#[test]
fn revert_drift_goes_only_with_the_modes_that_update_a_stack() {
    for mode in ["CREATE_UPDATE", "CHANGE_SET_REPLACE"] {
        let text = format!(
            r#"{{"stack": "a", "TemplatePath": "A::t", "ActionMode": "{mode}", "ChangeSetName": "c", "DeploymentMode": "REVERT_DRIFT"}}"#
        );
        assert!(Params::from_user_parameters(Some(&text)).is_ok(), "{mode}");
    }
    for mode in ["REPLACE_ON_FAILURE", "DELETE_ONLY", "CHANGE_SET_EXECUTE"] {
        let text = format!(
            r#"{{"stack": "a", "TemplatePath": "A::t", "ActionMode": "{mode}", "ChangeSetName": "c", "DeploymentMode": "REVERT_DRIFT"}}"#
        );
        let err = Params::from_user_parameters(Some(&text)).expect_err(mode);
        assert_eq!(
            err.to_string(),
            format!("UserParameters key `DeploymentMode`: REVERT_DRIFT goes only with ActionMode CREATE_UPDATE or CHANGE_SET_REPLACE, which update a stack, not with {mode}")
        );
    }
}

#[test]
fn bad_extended_settings_name_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            r#""RollbackTriggers": ["arn:aws:sns:us-east-1:1:topic"]"#,
            "`RollbackTriggers`: `arn:aws:sns:us-east-1:1:topic` is not a CloudWatch alarm ARN",
        ),
        (
            r#""RollbackTriggers": ["arn:aws:cloudwatch:us-east-1:1:alarm:a"], "MonitoringTimeInMinutes": 181"#,
            "`MonitoringTimeInMinutes`: must be a whole number from 0 to 180",
        ),
        (
            r#""MonitoringTimeInMinutes": 5"#,
            "set RollbackTriggers too",
        ),
        (
            r#""TerminationProtection": "yes""#,
            "`TerminationProtection`: must be true or false, not `yes`",
        ),
        (
            r#""OnFailure": "EXPLODE""#,
            "`OnFailure`: `EXPLODE` is not a failure policy; use ROLLBACK, DELETE or DO_NOTHING",
        ),
        (
            r#""DriftCheck": "STRICT""#,
            "`DriftCheck`: `STRICT` is not a drift check; use OFF (the default), WARN or FAIL",
        ),
        (
            r#""DeploymentMode": "FORCE""#,
            "`DeploymentMode`: `FORCE` is not a deployment mode; the one mode is REVERT_DRIFT",
        ),
        (
            r#""DisableRollback": 1"#,
            "`DisableRollback`: must be true or false",
        ),
        (
            r#""TimeoutInMinutes": 0"#,
            "`TimeoutInMinutes`: must be a whole number from 1",
        ),
        (
            r#""NotificationARNs": ["a","b","c","d","e","f"]"#,
            "6 topics, over CloudFormation's 5",
        ),
        (
            r#""NotificationARNs": ["arn:aws:sqs:us-east-1:1:q"]"#,
            "is not an SNS topic ARN",
        ),
    ];
    for (extra, needle) in cases {
        let input = format!(r#"{{"stack": "a", "TemplatePath": "A::t", {extra}}}"#);
        let err = Params::from_user_parameters(Some(&input))
            .expect_err(extra)
            .to_string();
        assert!(err.contains(needle), "{extra}: {err}");
    }
}

#[test]
fn the_poll_interval_is_whole_seconds_from_five_to_a_day_as_a_number_or_a_string() {
    let input = |v: serde_json::Value| {
        Params::from_execution_input(serde_json::json!({
            "StackName": "a", "TemplateURL": "s3://b/t.yaml", "PollIntervalSeconds": v,
        }))
    };
    assert_eq!(
        input(serde_json::json!(30))
            .expect("30")
            .poll_interval_seconds,
        Some(30)
    );
    assert_eq!(
        input(serde_json::json!("30"))
            .expect("\"30\"")
            .poll_interval_seconds,
        Some(30)
    );
    for bad in [
        serde_json::json!(0),
        serde_json::json!(1),
        serde_json::json!(4),
        serde_json::json!(86_401),
        serde_json::json!(1.5),
        serde_json::json!([]),
    ] {
        let err = input(bad.clone()).expect_err("refused");
        assert!(
            err.to_string().contains("`PollIntervalSeconds`")
                && err.to_string().contains("from 5 to 86400"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn a_change_set_id_goes_only_with_executing_and_must_be_one() {
    let up = |extra: &str| {
        Params::from_user_parameters(Some(&format!(
            r#"{{"StackName": "app", "ChangeSetName": "release", {extra}}}"#
        )))
    };
    let id = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/release/1a2b";
    let ok = up(&format!(
        r#""ActionMode": "CHANGE_SET_EXECUTE", "ChangeSetId": "{id}""#
    ))
    .expect("valid");
    assert_eq!(
        ok.action,
        Action::ChangeSetExecute {
            change_set: "release".into(),
            id: Some(id.into())
        }
    );
    for (extra, says) in [
        (
            r#""ActionMode": "CHANGE_SET_EXECUTE", "ChangeSetId": "release""#,
            "is not a change set's id",
        ),
        (
            r#""ActionMode": "CHANGE_SET_REPLACE", "TemplatePath": "B::t.yaml", "ChangeSetId": "arn:aws:cloudformation:us-east-1:1:changeSet/r/1""#,
            "only with ActionMode CHANGE_SET_EXECUTE",
        ),
    ] {
        let err = up(extra).expect_err(extra).to_string();
        assert!(err.contains("`ChangeSetId`") && err.contains(says), "{err}");
    }
}

#[test]
fn the_target_account_and_region_are_read_in_every_front_and_checked() {
    let role = "arn:aws:iam::222222222222:role/cfn-deployer-target";
    let user = Params::from_user_parameters(Some(&format!(
        r#"{{"stack": "a", "TemplatePath": "A::t", "AssumeRoleArn": "{role}", "Region": "eu-west-1"}}"#
    )))
    .expect("valid");
    let want = Target {
        assume_role_arn: Some(role.into()),
        region: Some("eu-west-1".into()),
    };
    assert_eq!(user.target, want);
    let props: HashMap<String, String> = [
        ("StackName", "a"),
        ("TemplatePath", "A::t"),
        ("AssumeRoleArn", role),
        ("Region", "eu-west-1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(
        Params::from_configuration(&props, None)
            .expect("valid")
            .target,
        want
    );
    let input = serde_json::json!({"StackName": "a", "TemplateURL": "s3://b/t.yaml", "AssumeRoleArn": role, "Region": "eu-west-1"});
    assert_eq!(
        Params::from_execution_input(input).expect("valid").target,
        want
    );
    for (extra, says) in [
        (
            r#""AssumeRoleArn": "arn:aws:iam::2222:role/x""#,
            "UserParameters key `AssumeRoleArn`: `arn:aws:iam::2222:role/x` is not an IAM role ARN",
        ),
        (
            r#""Region": "Ireland""#,
            "UserParameters key `Region`: `Ireland` is not a Region name such as eu-west-1",
        ),
    ] {
        let err = Params::from_user_parameters(Some(&format!(
            r#"{{"stack": "a", "TemplatePath": "A::t", {extra}}}"#
        )))
        .expect_err(extra);
        assert!(err.to_string().starts_with(says), "{err}");
    }
}
