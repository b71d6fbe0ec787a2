//! cfn-deployer's state machine (`statemachine/deploy.asl.json`) on existing Amazon States
//! Language interpreters (npm aws-local-stepfunctions, and moto's Step Functions), its Lambda
//! tasks on the real function binary, against moto.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_sfn, template, unique, Run};

/// The execution's output, as the local pipeline printed it.
fn output(run: &Run) -> serde_json::Value {
    let start = run
        .output
        .find("execution output: ")
        .unwrap_or_else(|| panic!("no output:\n{}", run.output));
    let text = &run.output[start + "execution output: ".len()..];
    let end = text.find('\n').unwrap_or(text.len());
    serde_json::from_str(&text[..end]).unwrap_or_else(|e| panic!("{e}: {}", &text[..end]))
}

#[test]
fn creates_updates_and_finds_nothing_to_change() {
    let moto = moto_or_skip!();
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    let stack = unique("sfn");
    let run = run_sfn(moto, &[path, "--stack", &stack]);
    run.assert_succeeded();
    let header = format!("  stack {stack} · CREATE_UPDATE");
    assert!(run.stdout.lines().any(|l| l == header), "{}", run.stdout);
    // The StepFunctions action's own variables, as CodePipeline sets them.
    for (key, prefix) in [
        (
            "ExecutionArn",
            "arn:aws:states:us-east-1:123456789012:execution:",
        ),
        (
            "StateMachineArn",
            "arn:aws:states:us-east-1:123456789012:stateMachine:",
        ),
    ] {
        assert!(
            run.output_variable(key)
                .is_some_and(|v| v.starts_with(prefix)),
            "{key}:\n{}",
            run.output
        );
    }
    let out = output(&run);
    assert_eq!(out["StackStatus"], "CREATE_COMPLETE", "{out}");
    // What the README says a deploy costs: N polls, N + 1 invocations, 4N + 3 transitions.
    let figures = run
        .output
        .lines()
        .find_map(|l| l.strip_prefix("1 job(s), "))
        .unwrap_or_else(|| panic!("no figures:\n{}", run.output));
    let numbers: Vec<usize> = figures
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [invocations, transitions] = numbers[..] else {
        panic!("{figures}");
    };
    assert_eq!(transitions, 4 * (invocations - 1) + 3, "{figures}");
    // One DescribeStacks a poll, none more once the deploy has succeeded.
    let describes = format!("CloudFormation:DescribeStacks {}", invocations - 1);
    assert!(
        run.output
            .lines()
            .any(|l| l.starts_with("AWS calls by the function: ") && l.contains(&describes)),
        "{describes}:\n{}",
        run.output
    );
    assert_eq!(out["StackName"], stack.as_str());
    assert_eq!(out["Outputs"]["Greeting"], "hello", "{out}");
    assert!(out["StackId"]
        .as_str()
        .is_some_and(|id| id.starts_with("arn:")));
    // Progress reached the execution's history, one line per poll.
    assert!(
        run.output.contains("  CREATE_IN_PROGRESS"),
        "{}",
        run.output
    );
    assert!(run.output.contains("→ WaitBeforePoll"), "{}", run.output);

    let input =
        format!(r#"{{"StackName": "{stack}", "ParameterOverrides": {{"Greeting": "again"}}}}"#);
    let run = run_sfn(moto, &[path, "--input", &input]);
    run.assert_succeeded();
    let out = output(&run);
    assert_eq!(out["StackStatus"], "UPDATE_COMPLETE", "{out}");
    assert_eq!(out["Outputs"]["Greeting"], "again", "{out}");

    let run = run_sfn(moto, &[path, "--input", &input]);
    run.assert_succeeded();
    assert!(
        output(&run)["Summary"]
            .as_str()
            .is_some_and(|s| s.contains("no changes")),
        "{}",
        run.output
    );
}

#[test]
fn a_failed_create_fails_the_execution_with_cloudformations_reason() {
    let moto = moto_or_skip!();
    let dir = project(
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\nOutputs: null\n",
        &[],
    );
    let run = run_sfn(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("sfnbad"),
        ],
    );
    run.assert_failed(
        "CfnDeployer.DeployFailed",
        "CloudFormation CreateStack on stack",
    );
    assert!(
        run.output
            .contains("'null' values are not allowed in templates"),
        "{}",
        run.output
    );
}

#[test]
fn a_bad_input_key_fails_as_a_configuration_error_before_anything_runs() {
    let moto = moto_or_skip!();
    let dir = project(&template("x"), &[]);
    let run = run_sfn(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--input",
            r#"{"StackName": "a", "Stak": 1}"#,
        ],
    );
    run.assert_failed(
        "CfnDeployer.ConfigurationError",
        "The execution input has an unknown field `Stak`",
    );
    assert!(
        !run.output.contains("→ Deploy\n"),
        "nothing deployed:\n{}",
        run.output
    );
}

#[test]
fn delete_only_deletes_without_a_template() {
    let moto = moto_or_skip!();
    let dir = project(&template("gone"), &[]);
    let path = dir.path().to_str().expect("path");
    let stack = unique("sfndel");
    run_sfn(moto, &[path, "--stack", &stack]).assert_succeeded();
    let input = format!(r#"{{"StackName": "{stack}", "ActionMode": "DELETE_ONLY"}}"#);
    let run = run_sfn(moto, &[path, "--input", &input]);
    run.assert_succeeded();
    assert_eq!(
        output(&run)["StackStatus"],
        "DELETE_COMPLETE",
        "{}",
        run.output
    );
    // The report says the stack is gone, not how DescribeStacks refused it.
    let line = format!("Stack {stack}: does not exist");
    assert!(run.stdout.lines().any(|l| l == line), "{}", run.stdout);
}

#[test]
fn a_change_set_is_created_then_executed() {
    let moto = moto_or_skip!();
    let dir = project(&template("reviewed"), &[]);
    let path = dir.path().to_str().expect("path");
    let stack = unique("sfncs");
    let replace = format!(
        r#"{{"StackName": "{stack}", "ActionMode": "CHANGE_SET_REPLACE", "ChangeSetName": "sfn-release-1"}}"#
    );
    let run = run_sfn(moto, &[path, "--input", &replace]);
    run.assert_succeeded();
    // The header names the mode, though the input leaves the template to the artifact.
    let header = format!("  stack {stack} · CHANGE_SET_REPLACE sfn-release-1");
    assert!(run.stdout.lines().any(|l| l == header), "{}", run.stdout);
    let out = output(&run);
    assert_eq!(out["StackStatus"], "REVIEW_IN_PROGRESS", "{out}");
    let changes = out["ChangeSet"]["Changes"].as_array().expect("changes");
    assert!(
        changes
            .iter()
            .any(|c| c["Action"] == "Add" && c["LogicalResourceId"] == "Bucket"),
        "{out}"
    );
    let execute = format!(
        r#"{{"StackName": "{stack}", "ActionMode": "CHANGE_SET_EXECUTE", "ChangeSetName": "sfn-release-1"}}"#
    );
    let run = run_sfn(moto, &[path, "--input", &execute]);
    run.assert_succeeded();
    assert_eq!(
        output(&run)["StackStatus"],
        "CREATE_COMPLETE",
        "{}",
        run.output
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_url_names_an_object_or_a_file_inside_a_zip() {
    let moto = moto_or_skip!();
    let dir = project(&template("zipped"), &[]);
    let path = dir.path().to_str().expect("path");
    // The default: the uploaded zip artifact, `s3://bucket/key::template.yaml`.
    let run = tokio::task::block_in_place(|| run_sfn(moto, &[path, "--stack", &unique("sfnzip")]));
    run.assert_succeeded();
    assert!(run.output.contains("::template.yaml"), "{}", run.output);
    // A plain object, in an https URL.
    let s3 = common::s3::client(&moto.endpoint);
    let key = common::s3::put(
        &s3,
        "cfn-deployer-sfn-tests",
        template("plain").into_bytes(),
    )
    .await;
    let input = format!(
        r#"{{"StackName": "{}", "TemplateURL": "https://cfn-deployer-sfn-tests.s3.us-east-1.amazonaws.com/{key}"}}"#,
        unique("sfnplain")
    );
    let run = tokio::task::block_in_place(|| run_sfn(moto, &[path, "--input", &input]));
    run.assert_succeeded();
    assert_eq!(
        output(&run)["Outputs"]["Greeting"],
        "plain",
        "{}",
        run.output
    );
    // A missing file inside the zip is named.
    let input = format!(r#"{{"StackName": "{}"}}"#, unique("sfnnofile"));
    let run = tokio::task::block_in_place(|| {
        run_sfn(moto, &[path, "--input", &input, "--file", "nope.yaml"])
    });
    run.assert_failed(
        "CfnDeployer.ConfigurationError",
        "file `nope.yaml` is not in the artifact",
    );
}

#[test]
fn a_build_runs_first_and_its_template_is_deployed_or_its_failure_named() {
    let moto = moto_or_skip!();
    let dir = project(&template("built"), &[]);
    let path = dir.path().to_str().expect("path");
    let run = run_sfn(
        moto,
        &[path, "--stack", &unique("sfnbuild"), "--build", "succeeds"],
    );
    run.assert_succeeded();
    assert!(run.output.contains("→ Build"), "{}", run.output);
    assert_eq!(
        output(&run)["Outputs"]["Greeting"],
        "built",
        "{}",
        run.output
    );
    let run = run_sfn(
        moto,
        &[path, "--stack", &unique("sfnbuild"), "--build", "fails"],
    );
    run.assert_failed(
        "CfnDeployer.BuildFailed",
        "CodeBuild build `local-build:1` ended FAILED in its BUILD phase",
    );
    assert!(!run.output.contains("→ Deploy\n"), "{}", run.output);
}

#[test]
fn the_state_machine_runs_the_same_on_motos_interpreter() {
    let moto = moto_or_skip!();
    let dir = project(&template("moto"), &[]);
    let path = dir.path().to_str().expect("path");
    let run = run_sfn(
        moto,
        &[path, "--stack", &unique("sfnmoto"), "--interpreter", "moto"],
    );
    run.assert_succeeded();
    assert!(
        run.output_variable("ExecutionArn")
            .is_some_and(|v| v.starts_with("arn:aws:states:")),
        "{}",
        run.output
    );
    assert_eq!(
        output(&run)["StackStatus"],
        "CREATE_COMPLETE",
        "{}",
        run.output
    );
    let run = run_sfn(
        moto,
        &[
            path,
            "--interpreter",
            "moto",
            "--input",
            r#"{"StackName": "a", "ActionMode": "UPSERT"}"#,
        ],
    );
    run.assert_failed(
        "CfnDeployer.ConfigurationError",
        "execution input key `ActionMode`",
    );
}

#[test]
fn the_settings_past_the_built_in_action_reach_the_state_machine_too() {
    let moto = moto_or_skip!();
    let dir = project(&template("guarded"), &[]);
    let path = dir.path().to_str().expect("path");
    let stack = unique("sfnguard");
    let create = format!(
        r#"{{"StackName": "{stack}", "TerminationProtection": true, "OnFailure": "DO_NOTHING", "TimeoutInMinutes": 20}}"#
    );
    run_sfn(moto, &[path, "--input", &create]).assert_succeeded();
    let delete = format!(r#"{{"StackName": "{stack}", "ActionMode": "DELETE_ONLY"}}"#);
    let run = run_sfn(moto, &[path, "--input", &delete]);
    run.assert_failed(
        "CfnDeployer.DeployFailed",
        "has termination protection enabled",
    );
    run.assert_failed("CfnDeployer.DeployFailed", "start the execution again");
}
