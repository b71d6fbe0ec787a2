//! Stack groups: the request's keys on every front, and the manifest's rules.

use std::collections::HashMap;

use serde_json::json;

use crate::*;
use cfn_deployer_engine::drift::DriftCheck;

fn home() -> FileRef {
    FileRef::Artifact(ArtifactPath {
        artifact: "Source".into(),
        file: "group.yaml".into(),
    })
}

fn manifest(text: &str) -> Result<Manifest, String> {
    Manifest::parse(text, &home(), Front::UserParameters).map_err(|e| e.to_string())
}

const GROUP: &str = "\
MaxConcurrency: 2
Stacks:
  network:
    StackName: app-network
    TemplatePath: network.yaml
    Parameters:
      CidrBlock: 10.0.0.0/16
      Zones: 3
  api:
    StackName: app-api
    TemplatePath: BuildOutput::api/template.yaml
    DependsOn: [data]
    Parameters:
      VpcId: {Output: network.VpcId}
    Capabilities: [CAPABILITY_IAM]
    Tags: {team: payments}
    RoleArn: arn:aws:iam::123456789012:role/deploy-api
    TemplateConfiguration: BuildOutput::api/config.json
    TerminationProtection: true
  data:
    StackName: app-data
    TemplatePath: data.yaml
";

#[test]
fn a_manifest_reads_into_stacks_with_their_settings_and_order() {
    let m = manifest(GROUP).expect("valid");
    assert_eq!(m.max_concurrency, 2);
    let ids: Vec<&str> = m.stacks.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["api", "data", "network"]);
    let api = &m.stacks[0];
    assert_eq!(api.params.stack, "app-api");
    assert_eq!(api.params.capabilities, ["CAPABILITY_IAM"]);
    assert_eq!(
        api.params.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/deploy-api")
    );
    assert_eq!(api.params.settings.termination_protection, Some(true));
    assert_eq!(
        api.params.tags.get("team").map(String::as_str),
        Some("payments")
    );
    assert_eq!(
        api.params.template,
        Some(FileRef::Artifact(ArtifactPath {
            artifact: "BuildOutput".into(),
            file: "api/template.yaml".into()
        }))
    );
    assert_eq!(
        api.outputs.get("VpcId"),
        Some(&OutputRef {
            stack: 2,
            key: "VpcId".into()
        })
    );
    // An output reference implies the dependency; DependsOn adds its own.
    assert_eq!(m.graph.deps(0), &[1, 2]);
    let network = &m.stacks[2];
    assert_eq!(
        network.params.template,
        Some(FileRef::Artifact(ArtifactPath {
            artifact: "Source".into(),
            file: "network.yaml".into()
        }))
    );
    // Numbers are taken as text.
    assert_eq!(
        network.params.parameter_overrides.get("Zones"),
        Some(&ParamValue::Literal("3".into()))
    );
    assert_eq!(
        m.on_failure,
        cfn_deployer_engine::group::OnStackFailure::RollbackGroup
    );
    assert_eq!(m.digest.len(), 16);
}

#[test]
fn every_broken_manifest_is_refused_naming_what_to_fix() {
    let stacks = |body: &str| format!("Stacks:\n{body}");
    let cases = [
        (stacks("  api:\n    StackName: a\n    TemplatePath: t.yaml\n    Colour: red\n"), "stack `api`: unknown field `Colour`"),
        (stacks("  api:\n    TemplatePath: t.yaml\n"), "stack `api`: missing field `StackName`"),
        (stacks("  api:\n    StackName: a\n    TemplatePath: t.yaml\n    DependsOn: [data]\n  data:\n    StackName: d\n    TemplatePath: t.yaml\n    DependsOn: api\n"), "api → data → api"),
        (stacks("  api:\n    StackName: a\n    TemplatePath: t.yaml\n    DependsOn: [dta]\n"), "`dta`, which is not a stack of the group"),
        (stacks("  api:\n    StackName: a\n    TemplatePath: t.yaml\n    Parameters: {V: {Output: nope.X}}\n"), "parameter `V` reads an output of `nope`"),
        (stacks("  api:\n    StackName: same\n    TemplatePath: t.yaml\n  web:\n    StackName: same\n    TemplatePath: t.yaml\n"), "both name StackName `same`"),
        (stacks("  my_api:\n    StackName: a\n    TemplatePath: t.yaml\n"), "stack id `my_api` is not valid"),
        (stacks("  api:\n    StackName: a\n    TemplatePath: ../t.yaml\n"), "not a plain relative path"),
        (stacks("  api:\n    StackName: a_b\n    TemplatePath: t.yaml\n"), "stack `api`: key `StackName`"),
        (stacks("  api:\n    StackName: a\n    TemplatePath: t.yaml\n    Capabilities: [CAPABILITY_ALL]\n"), "`CAPABILITY_ALL` is not a capability"),
        (stacks("  api:\n    StackName: a\n    TemplatePath: t.yaml\n    Parameters: {V: {Output: network}}\n"), "{Output: id.OutputKey}"),
        (format!("MaxConcurrency: 11\n{}", stacks("  a:\n    StackName: a\n    TemplatePath: t.yaml\n")), "from 1 to 10"),
        (format!("OnStackFailure: CONTINUE\n{}", stacks("  a:\n    StackName: a\n    TemplatePath: t.yaml\n")), "ROLLBACK_GROUP (the default) or STOP"),
        ("Stacks: {}\n".to_owned(), "`Stacks` is empty"),
        ("Stack: {}\n".to_owned(), "unknown field `Stack`"),
        ("Stacks: [unclosed\n".to_owned(), "cannot be read"),
    ];
    for (text, want) in cases {
        let err = manifest(&text).expect_err(&text);
        assert!(err.contains(want), "{want}: {err}");
    }
    let many: String = (0..51)
        .map(|i| format!("  s{i}:\n    StackName: s{i}\n    TemplatePath: t.yaml\n"))
        .collect();
    assert!(manifest(&stacks(&many))
        .expect_err("too many")
        .contains("over the group limit of 50"));
}

#[test]
fn a_state_machine_group_reads_templates_from_the_manifests_zip_only() {
    let home =
        FileRef::S3(S3File::parse("s3://b/release.zip::group.yaml", "StackGroupURL").expect("url"));
    let text = "Stacks:\n  a:\n    StackName: a\n    TemplatePath: stacks/a.yaml\n";
    let m = Manifest::parse(text, &home, Front::ExecutionInput).expect("valid");
    let FileRef::S3(file) = m.stacks[0].params.template.clone().expect("template") else {
        panic!()
    };
    assert_eq!(
        (file.location.key.as_str(), file.inner.as_deref()),
        ("release.zip", Some("stacks/a.yaml"))
    );
    let other = "Stacks:\n  a:\n    StackName: a\n    TemplatePath: Build::a.yaml\n";
    let err = Manifest::parse(other, &home, Front::ExecutionInput).expect_err("an artifact");
    assert!(
        err.to_string().contains("a state machine has none"),
        "{err}"
    );
}

#[test]
fn stack_group_is_taken_on_every_front_and_alone() {
    let up = Request::from_user_parameters(Some(
        r#"{"StackGroup": "Source::group.yaml", "OutputFileName": "out.json"}"#,
    ))
    .expect("valid");
    let Request::Group(group) = up else {
        panic!("{up:?}")
    };
    assert_eq!(group.manifest, home());
    assert_eq!(
        (group.delete, group.output_file_name.as_deref()),
        (false, Some("out.json"))
    );
    let props: HashMap<String, String> = [
        ("StackGroup", "Source::group.yaml"),
        ("ActionMode", "DELETE_ONLY"),
        ("WorkerPool", "prod"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let Request::Group(group) =
        Request::from_configuration(&props, Some("WorkerPool")).expect("valid")
    else {
        panic!()
    };
    assert!(group.delete);
    let input =
        json!({"StackGroupURL": "s3://b/release.zip::group.yaml", "PollIntervalSeconds": 5});
    let Request::Group(group) = Request::from_execution_input(input).expect("valid") else {
        panic!()
    };
    assert_eq!(group.poll_interval_seconds, Some(5));

    let refused = [
        (
            r#"{"StackGroup": "Source::g.yaml", "StackName": "x"}"#,
            "`StackGroup` and `StackName`",
        ),
        (
            r#"{"StackGroup": "Source::g.yaml", "TemplatePath": "Source::t.yaml"}"#,
            "`StackGroup` and `TemplatePath`",
        ),
        (
            r#"{"StackGroup": "Source::g.yaml", "stack": "x"}"#,
            "`StackGroup` and `stack`",
        ),
        (
            r#"{"StackGroup": "Source::g.yaml", "artifact": "x"}"#,
            "`StackGroup` and `artifact`",
        ),
        (
            r#"{"StackGroup": "Source::g.yaml", "file": "x"}"#,
            "`StackGroup` and `file`",
        ),
        (
            r#"{"StackGroup": "Source::g.yaml", "ActionMode": "CHANGE_SET_REPLACE"}"#,
            "`CHANGE_SET_REPLACE` is not an action mode for a stack group",
        ),
        (
            r#"{"StackGroup": "g.yaml"}"#,
            "ArtifactName::path/in/artifact",
        ),
    ];
    for (text, want) in refused {
        let err = Request::from_user_parameters(Some(text))
            .expect_err(text)
            .to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
    let err = Request::from_execution_input(json!({"StackGroupURL": "s3://b/group.yaml"}))
        .expect_err("no zip")
        .to_string();
    assert!(err.contains("names no manifest inside the zip"), "{err}");
    let err = Params::from_user_parameters(Some(r#"{"StackGroup": "Source::g.yaml"}"#))
        .expect_err("one stack")
        .to_string();
    assert!(err.contains("names a stack group"), "{err}");
}

#[test]
fn drift_checks_default_from_the_stack_then_the_manifest_then_the_action() {
    let text = "\
DriftCheck: WARN
Stacks:
  network:
    StackName: app-network
    TemplatePath: network.yaml
    DriftCheck: FAIL
    DeploymentMode: REVERT_DRIFT
  api:
    StackName: app-api
    TemplatePath: api.yaml
";
    let m = manifest(text).expect("valid");
    let by_id = |id: &str| {
        m.stacks
            .iter()
            .find(|s| s.id == id)
            .map(|s| &s.params.settings)
            .cloned()
            .expect("stack")
    };
    assert_eq!(by_id("network").drift_check, Some(DriftCheck::Fail));
    assert!(by_id("network").revert_drift);
    assert_eq!(by_id("api").drift_check, Some(DriftCheck::Warn));
    assert!(!by_id("api").revert_drift);
    let none = manifest(&text.replace("DriftCheck: WARN\n", "")).expect("valid");
    assert_eq!(
        none.stacks
            .iter()
            .find(|s| s.id == "api")
            .map(|s| s.params.settings.drift_check),
        Some(None),
        "left to the action's DriftCheck, then the deployment's"
    );
    let Request::Group(group) = Request::from_user_parameters(Some(
        r#"{"StackGroup": "Source::group.yaml", "DriftCheck": "FAIL"}"#,
    ))
    .expect("valid") else {
        panic!("a group")
    };
    assert_eq!(group.drift_check, Some(DriftCheck::Fail));
    for (bad, want) in [
        (
            text.replace("DriftCheck: WARN", "DriftCheck: LOUD"),
            "`DriftCheck`: `LOUD` is not a drift check",
        ),
        (
            text.replace("DeploymentMode: REVERT_DRIFT", "DeploymentMode: YOLO"),
            "stack `network`: key `DeploymentMode`: `YOLO` is not a deployment mode",
        ),
    ] {
        let err = manifest(&bad).expect_err(want);
        assert!(err.contains(want), "{want}: {err}");
    }
    let err = Request::from_user_parameters(Some(
        r#"{"StackGroup": "Source::g.yaml", "DeploymentMode": "REVERT_DRIFT"}"#,
    ))
    .expect_err("per stack")
    .to_string();
    assert!(err.contains("`StackGroup` and `DeploymentMode`"), "{err}");
}

#[test]
fn each_stack_may_lie_in_its_own_account_and_region() {
    let text = "\
AssumeRoleArn: arn:aws:iam::222222222222:role/target
Stacks:
  network:
    StackName: app-network
    TemplatePath: network.yaml
    AssumeRoleArn: arn:aws:iam::333333333333:role/shared
    Region: eu-west-1
  api:
    StackName: app-api
    TemplatePath: api.yaml
";
    let m = manifest(text).expect("valid");
    let target = |id: &str| {
        m.stacks
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.params.target.clone())
            .expect("stack")
    };
    assert_eq!(target("network").account(), Some("333333333333"));
    assert_eq!(target("network").region.as_deref(), Some("eu-west-1"));
    assert_eq!(target("api").account(), Some("222222222222"));
    assert_eq!(target("api").region, None);
    let err = manifest(&text.replace("Region: eu-west-1", "Region: moon-1")).expect_err("bad");
    assert!(err.contains("stack `network`: key `Region`"), "{err}");
    let Request::Group(group) = Request::from_user_parameters(Some(
        r#"{"StackGroup": "Source::group.yaml", "Region": "us-west-2"}"#,
    ))
    .expect("valid") else {
        panic!("a group")
    };
    assert_eq!(group.target.region.as_deref(), Some("us-west-2"));
}
