//! Every job ends against a hostile template or a hostile pipeline: the review's cases, run
//! through the local pipeline against moto with the real function, two invocations at once.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::hostile::{alias_bomb, deep_nesting};
use common::{project, run_local, run_local_with, template, unique};

#[test]
fn an_alias_bomb_fails_as_a_configuration_error_with_two_invocations_at_once() {
    let moto = moto_or_skip!();
    let dir = project(&alias_bomb(), &[]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("bomb"),
            "--duplicate",
        ],
    );
    run.assert_failed(
        "ConfigurationError",
        "template `template.yaml` in input artifact `BuildOutput` is refused: YAML aliases are not allowed in CloudFormation templates",
    );
    assert!(
        !run.output.contains("exited"),
        "the function never died:\n{}",
        run.output
    );
}

#[test]
fn deep_nesting_fails_as_a_configuration_error_with_two_invocations_at_once() {
    let moto = moto_or_skip!();
    let dir = project(&deep_nesting(), &[]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("deep"),
            "--duplicate",
        ],
    );
    run.assert_failed("ConfigurationError", "is nested more than 128 levels deep");
    assert!(
        !run.output.contains("exited"),
        "the function never died:\n{}",
        run.output
    );
}

#[test]
fn steps_that_keep_running_out_of_time_fail_naming_the_timeout() {
    let moto = moto_or_skip!();
    let dir = project(&template("slow"), &[]);
    // Every DescribeStacks outlasts the invocation's whole budget.
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("stall"),
            "--timeout",
            "2",
            "--fault",
            "DescribeStacks:delay=3:50",
        ],
    );
    run.assert_failed("JobFailed", "made no progress in 3 steps in a row");
    run.assert_failed("JobFailed", "raise the function's timeout");
    assert_eq!(
        run.output.matches("continue: paused before").count(),
        2,
        "two pauses, then the failure:\n{}",
        run.output
    );
}

#[test]
fn sdk_internals_never_log_what_they_send_even_at_trace() {
    let moto = moto_or_skip!();
    const MARKER: &str = "cfnDeployerParameterMarker7f3a";
    let quiet = "Parameters:\n  Secret:\n    Type: String\n    NoEcho: true\nResources:\n  Param:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Name: !Sub \"/${AWS::StackName}/secret\"\n      Type: String\n      Value: !Ref Secret\n";
    let dir = project(quiet, &[]);
    let stack = unique("trace");
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "ParameterOverrides": {{"Secret": "{MARKER}"}}}}"#
    );
    let run = run_local_with(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--user-parameters",
            &params,
        ],
        &[("RUST_LOG", "trace")],
    );
    run.assert_succeeded();
    assert!(
        run.output.contains("TRACE") || run.output.contains("DEBUG"),
        "the function logged at the level asked:\n{}",
        run.output
    );
    assert!(
        !run.output.contains(MARKER),
        "a parameter value reached the logs:\n{}",
        run.output
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_role_is_passed_and_a_role_outside_the_policy_is_refused() {
    let moto = moto_or_skip!();
    const SERVICE: &str = "arn:aws:iam::123456789012:role/cfn-deployer-service";
    let dir = project(&template("roles"), &[]);
    let stack = unique("roles");
    let env = [("CFN_DEPLOYER_SERVICE_ROLE_ARN", SERVICE)];
    let run = tokio::task::block_in_place(|| {
        run_local_with(
            moto,
            &[dir.path().to_str().expect("path"), "--stack", &stack],
            &env,
        )
    });
    run.assert_succeeded();
    let described = common::cloudformation(&moto.endpoint)
        .await
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        described.stacks().first().and_then(|s| s.role_arn()),
        Some(SERVICE),
        "the stack was created with the service role"
    );

    let admin = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "RoleArn": "arn:aws:iam::123456789012:role/admin"}}"#
    );
    let run = tokio::task::block_in_place(|| {
        run_local_with(
            moto,
            &[
                dir.path().to_str().expect("path"),
                "--user-parameters",
                &admin,
            ],
            &env,
        )
    });
    run.assert_failed(
        "PermissionError",
        "names the service role `arn:aws:iam::123456789012:role/admin`, which this deployer may not hand to CloudFormation",
    );
}
