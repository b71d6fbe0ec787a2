//! The real function binary against moto, configured as the built-in action is and past it:
//! its keys, template configuration and parameter functions, the output file, change sets,
//! delete-only and the action modes, and termination protection.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_local, template, unique};

#[test]
fn the_built_in_actions_configuration_deploys_the_same() {
    let moto = moto_or_skip!();
    let stack = unique("builtin");
    let dir = project("", &[("infra/stack.yaml", template("hello").as_bytes())]);
    let path = dir.path().to_str().expect("path");
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::infra/stack.yaml", "Capabilities": "CAPABILITY_IAM",
            "ParameterOverrides": "{{\"Greeting\": \"hola\"}}", "Tags": {{"team": "orders"}}}}"#
    );
    let run = run_local(moto, &[path, "--user-parameters", &params]);
    run.assert_succeeded();
    assert!(run.has_output("Greeting", "hola"), "{}", run.output);
    // Nobody sets Greeting now: it keeps its value, so nothing changes.
    let params =
        format!(r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::infra/stack.yaml"}}"#);
    let run = run_local(moto, &[path, "--user-parameters", &params]);
    run.assert_succeeded();
    assert!(
        run.output.contains("no changes to deploy"),
        "{}",
        run.output
    );
    assert!(run.has_output("Greeting", "hola"), "{}", run.output);
}

#[test]
fn delete_only_deletes_the_stack_and_an_absent_one_is_success() {
    let moto = moto_or_skip!();
    let stack = unique("delete");
    let dir = project(&template("bye"), &[]);
    let path = dir.path().to_str().expect("path");
    run_local(moto, &[path, "--stack", &stack]).assert_succeeded();
    let params = format!(r#"{{"StackName": "{stack}", "ActionMode": "DELETE_ONLY"}}"#);
    let deleted = run_local(moto, &[path, "--user-parameters", &params]);
    deleted.assert_succeeded();
    assert!(
        deleted
            .output
            .contains(&format!("SUCCEEDED: Stack `{stack}` is deleted")),
        "{}",
        deleted.output
    );
    assert!(
        deleted.output.contains("CloudFormation:DeleteStack 1"),
        "{}",
        deleted.output
    );
    let again = run_local(moto, &[path, "--user-parameters", &params]);
    again.assert_succeeded();
    assert!(
        again.output.contains("nothing to delete"),
        "{}",
        again.output
    );
}

#[test]
fn bad_action_modes_are_configuration_errors() {
    let moto = moto_or_skip!();
    let dir = project(&template("x"), &[]);
    let path = dir.path().to_str().expect("path");
    for (mode, needle) in [
        ("CHANGE_SET_REPLACE", "missing the key `ChangeSetName`"),
        ("UPSERT", "not an action mode"),
    ] {
        let params = format!(
            r#"{{"StackName": "demo", "TemplatePath": "BuildOutput::template.yaml", "ActionMode": "{mode}"}}"#
        );
        run_local(moto, &[path, "--user-parameters", &params])
            .assert_failed("ConfigurationError", needle);
    }
}

#[test]
fn template_configuration_and_parameter_functions_feed_the_deploy() {
    let moto = moto_or_skip!();
    let config = br#"{"Parameters": {"Greeting": "from-config"}, "Tags": {"env": "prod"},
        "StackPolicy": {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]}}"#;
    let dir = project(
        &template("x"),
        &[
            ("config/prod.json", config),
            ("build/image.json", br#"{"tag": "v42"}"#),
            ("config/bad.json", br#"{"Parameter": {}}"#),
        ],
    );
    let path = dir.path().to_str().expect("path");
    let run = |stack: &str, extra: &str| {
        let params = format!(
            r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml"{extra}}}"#
        );
        run_local(moto, &[path, "--user-parameters", &params])
    };

    let configured = run(
        &unique("config"),
        r#", "TemplateConfiguration": "BuildOutput::config/prod.json""#,
    );
    configured.assert_succeeded();
    assert!(
        configured.has_output("Greeting", "from-config"),
        "{}",
        configured.output
    );

    let overridden = run(
        &unique("getparam"),
        r#", "TemplateConfiguration": "BuildOutput::config/prod.json", "ParameterOverrides": {"Greeting": {"Fn::GetParam": ["BuildOutput", "build/image.json", "tag"]}}"#,
    );
    overridden.assert_succeeded();
    assert!(
        overridden.has_output("Greeting", "v42"),
        "overrides win: {}",
        overridden.output
    );

    let located = run(
        &unique("artifactatt"),
        r#", "ParameterOverrides": {"Greeting": {"Fn::GetArtifactAtt": ["BuildOutput", "BucketName"]}}"#,
    );
    located.assert_succeeded();
    assert!(
        located.has_output("Greeting", "cfn-deployer-local-artifacts"),
        "{}",
        located.output
    );

    run(&unique("nokey"), r#", "ParameterOverrides": {"Greeting": {"Fn::GetParam": ["BuildOutput", "build/image.json", "digest"]}}"#)
        .assert_failed("ConfigurationError", "file `build/image.json` in input artifact `BuildOutput` has no text value at key `digest`");
    run(
        &unique("badconfig"),
        r#", "TemplateConfiguration": "BuildOutput::config/bad.json""#,
    )
    .assert_failed(
        "ConfigurationError",
        "has unknown key `Parameter`; the known keys are Parameters, Tags, StackPolicy",
    );
    run(
        &unique("noartifact"),
        r#", "ParameterOverrides": {"Greeting": {"Fn::GetArtifactAtt": ["Source", "URL"]}}"#,
    )
    .assert_failed("ConfigurationError", "input artifact `Source`");
}

#[test]
fn output_file_name_writes_the_stack_outputs_into_the_output_artifact() {
    let moto = moto_or_skip!();
    let stack = unique("outputs");
    let dir = project(&template("written"), &[]);
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "OutputFileName": "outputs.json"}}"#
    );
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--user-parameters",
            &params,
        ],
    );
    run.assert_succeeded();
    assert!(run.has_artifact_file("outputs.json"), "{}", run.output);
    assert!(
        run.output.contains(r#""Greeting": "written""#),
        "{}",
        run.output
    );
    let bad = r#"{"StackName": "x", "TemplatePath": "BuildOutput::template.yaml", "OutputFileName": "../outputs.json"}"#;
    run_local(
        moto,
        &[dir.path().to_str().expect("path"), "--user-parameters", bad],
    )
    .assert_failed("ConfigurationError", "key `OutputFileName`");
}

#[test]
fn a_change_set_is_created_for_review_then_executed() {
    let moto = moto_or_skip!();
    let stack = unique("changeset");
    let dir = project(&template("reviewed"), &[]);
    let path = dir.path().to_str().expect("path");
    let replace = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "ActionMode": "CHANGE_SET_REPLACE", "ChangeSetName": "release-1"}}"#
    );
    let created = run_local(moto, &[path, "--user-parameters", &replace]);
    created.assert_succeeded();
    assert!(created.output.contains("SUCCEEDED: Change set `release-1`: 2 change(s): Add Bucket (AWS::S3::Bucket); Add GreetingParameter (AWS::SSM::Parameter)"), "{}", created.output);
    assert!(
        created
            .output
            .contains(&format!("Stack {stack}: REVIEW_IN_PROGRESS")),
        "not executed: {}",
        created.output
    );

    // The change set's id, for the approval's execute to name the one reviewed.
    let id = created
        .output_variable("ChangeSetId")
        .unwrap_or_else(|| panic!("no ChangeSetId: {}", created.output));
    assert!(id.contains(":changeSet/release-1/"), "{id}");
    let other = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/release-1/0000";
    let namesake = format!(
        r#"{{"StackName": "{stack}", "ActionMode": "CHANGE_SET_EXECUTE", "ChangeSetName": "release-1", "ChangeSetId": "{other}"}}"#
    );
    run_local(moto, &[path, "--user-parameters", &namesake])
        .assert_failed("PermissionError", "replaced after the review");

    let execute = format!(
        r#"{{"StackName": "{stack}", "ActionMode": "CHANGE_SET_EXECUTE", "ChangeSetName": "release-1", "ChangeSetId": "{id}", "OutputFileName": "out.json"}}"#
    );
    let executed = run_local(moto, &[path, "--user-parameters", &execute]);
    executed.assert_succeeded();
    assert!(
        executed
            .output
            .contains(&format!("Stack {stack}: CREATE_COMPLETE")),
        "{}",
        executed.output
    );
    // moto computes no outputs for a stack created by a change set; the file is still written.
    assert!(
        executed.has_artifact_file("out.json"),
        "{}",
        executed.output
    );

    let unnamed = format!(r#"{{"StackName": "{stack}", "ActionMode": "CHANGE_SET_EXECUTE"}}"#);
    run_local(moto, &[path, "--user-parameters", &unnamed])
        .assert_failed("ConfigurationError", "missing the key `ChangeSetName`");
}

#[tokio::test(flavor = "multi_thread")]
async fn termination_protection_is_set_and_a_protected_stack_is_not_deleted() {
    let moto = moto_or_skip!();
    let stack = unique("protected");
    let dir = project(&template("kept"), &[]);
    let path = dir.path().to_str().expect("path").to_owned();
    let create = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "TerminationProtection": true, "OnFailure": "DELETE", "TimeoutInMinutes": 30}}"#
    );
    tokio::task::block_in_place(|| run_local(moto, &[&path, "--user-parameters", &create]))
        .assert_succeeded();
    let cfn = common::cloudformation(&moto.endpoint).await;
    let described = cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        described
            .stacks()
            .first()
            .and_then(|s| s.enable_termination_protection()),
        Some(true)
    );
    let delete = format!(r#"{{"StackName": "{stack}", "ActionMode": "DELETE_ONLY"}}"#);
    let run =
        tokio::task::block_in_place(|| run_local(moto, &[&path, "--user-parameters", &delete]));
    run.assert_failed(
        "JobFailed",
        "has termination protection enabled, so CloudFormation will not delete it",
    );
    run.assert_failed("JobFailed", "turn its termination protection off");
    let still = cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .expect("still there");
    assert_eq!(
        still
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str()),
        Some("CREATE_COMPLETE")
    );
}

#[test]
// moto finds change sets by name alone, whatever the stack: each test names its own.
fn a_change_sets_review_is_written_for_approval() {
    let moto = moto_or_skip!();
    let stack = unique("review");
    let dir = project(&template("reviewed"), &[]);
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "ActionMode": "CHANGE_SET_REPLACE", "ChangeSetName": "approval-1", "OutputFileName": "change-set.json"}}"#
    );
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--user-parameters",
            &params,
        ],
    );
    run.assert_succeeded();
    assert!(run.has_artifact_file("change-set.json"), "{}", run.output);
    assert!(run.has_artifact_file("review.md"), "{}", run.output);
    for needle in [
        "# Change set `approval-1` for stack",
        "| action | resource | type | replacement | what changes |",
        "| Add | Bucket | AWS::S3::Bucket |",
        "\"ChangeSetName\": \"approval-1\"",
    ] {
        assert!(run.output.contains(needle), "{needle}:\n{}", run.output);
    }
}
