//! The drift check on moto, through the real binaries: moto has no drift API, so the local
//! proxy plays it from the table `--drift` sets. A drifted stack refused under FAIL before any
//! update, deployed over under WARN, an in-sync and a new stack, a failed detection, throttling
//! waited out, the drift-aware change sets, and the worker, the state machine and a group.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_local, run_sfn, run_worker, template, unique};

/// `UserParameters` for `stack` with `greeting` and `extra` keys.
fn params(stack: &str, greeting: &str, extra: &str) -> String {
    format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "ParameterOverrides": {{"Greeting": "{greeting}"}}{extra}}}"#
    )
}

/// The table entry that says the stack's greeting parameter was edited by hand.
fn edited(stack: &str) -> String {
    format!("{stack}:GreetingParameter:/Properties/Value=hand-edited")
}

/// The value of `stack`'s parameter `key`, as moto holds it.
fn parameter(moto: &common::Moto, stack: &str, key: &str) -> Option<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let cfn = common::cloudformation(&moto.endpoint).await;
            let out = cfn
                .describe_stacks()
                .stack_name(stack)
                .send()
                .await
                .expect("described");
            out.stacks()[0]
                .parameters()
                .iter()
                .find(|p| p.parameter_key() == Some(key))
                .and_then(|p| p.parameter_value().map(str::to_owned))
        })
}

#[test]
fn fail_refuses_a_drifted_stack_warn_deploys_over_it_and_in_sync_goes_on() {
    let moto = moto_or_skip!();
    let stack = unique("drift");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    let drift = edited(&stack);

    // A new stack: nothing to check, whatever the setting.
    let new = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&stack, "v1", r#", "DriftCheck": "FAIL""#),
        ],
    );
    new.assert_succeeded();
    assert!(
        new.has_output_variable("DriftStatus", "NOT_CHECKED"),
        "{}",
        new.output
    );
    assert_eq!(
        new.calls("CloudFormation:DetectStackDrift"),
        0,
        "{}",
        new.output
    );

    let refused = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&stack, "v2", r#", "DriftCheck": "FAIL""#),
            "--drift",
            &drift,
        ],
    );
    refused.assert_failed(
        "JobFailed",
        &format!("Stack `{stack}` has drifted from its template: 1 resource(s) were changed outside CloudFormation: `GreetingParameter` (AWS::SSM::Parameter) MODIFIED: /Value expected `v1`, actual `hand-edited`"),
    );
    let verdict = refused.verdict().unwrap_or_default();
    assert!(verdict.contains("set DriftCheck to WARN"), "{verdict}");
    assert!(
        verdict.contains("DeploymentMode to REVERT_DRIFT"),
        "{verdict}"
    );
    assert_eq!(
        refused.calls("CloudFormation:UpdateStack"),
        0,
        "{}",
        refused.output
    );
    assert!(refused.calls("CloudFormation:DescribeStackDriftDetectionStatus") >= 2);
    // The live view shows the check as a line of its own.
    assert!(
        refused.output.contains(&format!(
            "drift check {stack} DRIFTED: 1 resource (GreetingParameter MODIFIED)"
        )),
        "{}",
        refused.output
    );

    let warned = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&stack, "v2", r#", "DriftCheck": "WARN""#),
            "--drift",
            &drift,
        ],
    );
    warned.assert_succeeded();
    let verdict = warned.verdict().unwrap_or_default();
    assert!(
        verdict.contains("1 resource(s) had drifted from the template"),
        "{verdict}"
    );
    assert!(
        warned.has_output_variable("DriftStatus", "DRIFTED"),
        "{}",
        warned.output
    );
    assert!(warned.has_output("Greeting", "v2"), "{}", warned.output);

    let in_sync = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&stack, "v3", r#", "DriftCheck": "FAIL""#),
        ],
    );
    in_sync.assert_succeeded();
    assert!(
        in_sync.has_output_variable("DriftStatus", "IN_SYNC"),
        "{}",
        in_sync.output
    );
    assert!(in_sync.has_output("Greeting", "v3"), "{}", in_sync.output);
    assert!(
        in_sync
            .output
            .contains(&format!("drift check {stack} IN_SYNC")),
        "{}",
        in_sync.output
    );
}

#[test]
fn a_failed_detection_fails_under_fail_and_throttling_is_waited_out() {
    let moto = moto_or_skip!();
    let stack = unique("driftfail");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    run_local(
        moto,
        &[path, "--user-parameters", &params(&stack, "v1", "")],
    )
    .assert_succeeded();

    let failed = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&stack, "v2", r#", "DriftCheck": "FAIL""#),
            "--drift",
            &format!("{stack}:FAILED=Access denied on ssm:GetParameter"),
        ],
    );
    failed.assert_failed("JobFailed", "DETECTION_FAILED");
    assert!(
        failed
            .verdict()
            .is_some_and(|v| v.contains("Access denied on ssm:GetParameter")),
        "{}",
        failed.output
    );

    // The SDK's three attempts are all throttled: the step hands back and the next one detects.
    let throttled = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&stack, "v2", r#", "DriftCheck": "FAIL""#),
            "--fault",
            "DetectStackDrift:throttle:3",
        ],
    );
    throttled.assert_succeeded();
    assert_eq!(
        throttled.calls("CloudFormation:DetectStackDrift"),
        4,
        "{}",
        throttled.output
    );
    assert!(
        throttled.has_output_variable("DriftStatus", "IN_SYNC"),
        "{}",
        throttled.output
    );
}

#[test]
fn revert_drift_deploys_through_a_change_set_and_a_review_lists_the_drift() {
    let moto = moto_or_skip!();
    let stack = unique("revert");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    let drift = edited(&stack);
    run_local(
        moto,
        &[path, "--user-parameters", &params(&stack, "v1", "")],
    )
    .assert_succeeded();

    let review = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(
                &stack,
                "v2",
                r#", "ActionMode": "CHANGE_SET_REPLACE", "ChangeSetName": "release", "OutputFileName": "changes.json", "DriftCheck": "WARN""#,
            ),
            "--drift",
            &drift,
        ],
    );
    review.assert_succeeded();
    assert!(review.output.contains("## Drift"), "{}", review.output);
    assert!(
        review
            .output
            .contains("| GreetingParameter | AWS::SSM::Parameter | MODIFIED | `/Value`: expected v1, actual hand-edited |"),
        "{}",
        review.output
    );
    assert!(
        review.has_output_variable("DriftStatus", "DRIFTED"),
        "{}",
        review.output
    );

    let reverted = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&stack, "v2", r#", "DeploymentMode": "REVERT_DRIFT""#),
        ],
    );
    reverted.assert_succeeded();
    // moto keeps a stack's outputs as they were when a change set executes: its parameters
    // tell what was deployed.
    assert_eq!(
        parameter(moto, &stack, "Greeting").as_deref(),
        Some("v2"),
        "{}",
        reverted.output
    );
    assert_eq!(
        reverted.calls("CloudFormation:UpdateStack"),
        0,
        "{}",
        reverted.output
    );
    assert_eq!(
        reverted.calls("CloudFormation:ExecuteChangeSet"),
        1,
        "{}",
        reverted.output
    );

    let new = unique("revertnew");
    run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &params(&new, "v1", r#", "DeploymentMode": "REVERT_DRIFT""#),
        ],
    )
    .assert_failed(
        "ConfigurationError",
        "DeploymentMode REVERT_DRIFT reverts the drift of an existing stack",
    );
}

#[test]
fn the_worker_and_the_state_machine_refuse_a_drifted_stack_too() {
    let moto = moto_or_skip!();
    let stack = unique("driftfronts");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    let drift = edited(&stack);
    run_local(
        moto,
        &[path, "--user-parameters", &params(&stack, "v1", "")],
    )
    .assert_succeeded();

    let name = format!("StackName={stack}");
    let worker = run_worker(
        moto,
        &[
            path,
            "--configuration",
            &name,
            "--configuration",
            "TemplatePath=BuildOutput::template.yaml",
            "--configuration",
            "ParameterOverrides={\"Greeting\": \"v2\"}",
            "--configuration",
            "DriftCheck=FAIL",
            "--drift",
            &drift,
        ],
        &[],
    );
    worker.assert_failed("JobFailed", "has drifted from its template");

    // The fleet's default, for an action type without the property.
    let fleet = run_worker(
        moto,
        &[
            path,
            "--configuration",
            &name,
            "--configuration",
            "TemplatePath=BuildOutput::template.yaml",
            "--drift",
            &drift,
        ],
        &[("CFN_DEPLOYER_DRIFT_CHECK", "FAIL")],
    );
    fleet.assert_failed("JobFailed", "has drifted from its template");

    let input = format!(
        r#"{{"StackName": "{stack}", "ParameterOverrides": {{"Greeting": "v2"}}, "DriftCheck": "FAIL"}}"#
    );
    let sfn = run_sfn(moto, &[path, "--input", &input, "--drift", &drift]);
    assert_ne!(sfn.code, 0, "{}", sfn.output);
    assert!(
        sfn.output.contains("has drifted from its template"),
        "{}",
        sfn.output
    );
}

/// A group's stack: a marker holding its release.
const MARKED: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Release:
    Type: String
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/${AWS::StackName}/marker"
      Type: String
      Value: !Ref Release
Outputs:
  Release:
    Value: !Ref Release
"#;

fn manifest(prefix: &str, release: &str) -> String {
    format!(
        "Stacks:\n  network:\n    StackName: {prefix}-network\n    TemplatePath: stack.yaml\n    Parameters: {{Release: {release}}}\n  data:\n    StackName: {prefix}-data\n    TemplatePath: stack.yaml\n    DependsOn: network\n    DriftCheck: FAIL\n    Parameters: {{Release: {release}}}\n"
    )
}

#[test]
fn a_group_refuses_a_drifted_stack_and_puts_the_others_back() {
    let moto = moto_or_skip!();
    let prefix = unique("driftgrp");
    let dir = project(
        "",
        &[
            ("stack.yaml", MARKED.as_bytes()),
            ("group.yaml", manifest(&prefix, "v1").as_bytes()),
        ],
    );
    let path = dir.path().to_str().expect("path");
    let group = r#"{"StackGroup": "BuildOutput::group.yaml"}"#;
    run_local(moto, &[path, "--user-parameters", group]).assert_succeeded();

    common::write(dir.path(), "group.yaml", manifest(&prefix, "v2").as_bytes());
    let drift = format!("{prefix}-data:Marker:/Properties/Value=hand-edited");
    let run = run_local(moto, &[path, "--user-parameters", group, "--drift", &drift]);
    run.assert_failed("JobFailed", "has drifted from its template");
    assert!(run.output.contains("network ROLLED_BACK"), "{}", run.output);
    let release = parameter(moto, &format!("{prefix}-network"), "Release");
    assert_eq!(release.as_deref(), Some("v1"), "the group is put back");
}
