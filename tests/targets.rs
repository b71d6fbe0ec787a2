//! Deploys into another account and Region on moto, which plays several accounts: credentials
//! from `AssumeRole` on a role in account X act in account X. A stack lands there and only
//! there; a role the deployment does not allow is refused with no STS call; a group spans two
//! accounts with an output passing between them.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_local, run_local_with, template, unique, Moto};

const TARGET: &str = "arn:aws:iam::222222222222:role/cfn-deployer-target";
const ALLOWED: (&str, &str) = (
    "CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS",
    "arn:aws:iam::*:role/cfn-deployer-target",
);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Whether `stack` exists in the deployer's own account and Region, and in the target's.
fn found(moto: &Moto, stack: &str, region: &str) -> (bool, bool) {
    runtime().block_on(async {
        let exists = |cfn: aws_sdk_cloudformation::Client| async move {
            cfn.describe_stacks()
                .stack_name(stack)
                .send()
                .await
                .is_ok_and(|out| {
                    out.stacks()
                        .iter()
                        .any(|s| s.stack_status().map(|st| st.as_str()) != Some("DELETE_COMPLETE"))
                })
        };
        let home = exists(common::cloudformation(&moto.endpoint).await).await;
        let there = exists(common::cloudformation_as(&moto.endpoint, TARGET, region).await).await;
        (home, there)
    })
}

#[test]
fn a_stack_lands_in_the_target_account_and_region_only() {
    let moto = moto_or_skip!();
    let stack = unique("target");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "AssumeRoleArn": "{TARGET}", "Region": "eu-west-1"}}"#
    );
    let run = run_local_with(moto, &[path, "--user-parameters", &params], &[ALLOWED]);
    run.assert_succeeded();
    let verdict = run.verdict().unwrap_or_default();
    assert!(
        verdict.contains(&format!(
            "Stack `{stack}` in 222222222222 / eu-west-1 is CREATE_COMPLETE"
        )),
        "{verdict}"
    );
    assert!(
        run.has_output("Greeting", "hello"),
        "the local pipeline reads the stack where it lies: {}",
        run.output
    );
    assert!(
        run.output.contains(&format!(
            "stack {stack} in 222222222222 / eu-west-1 · CREATE_UPDATE"
        )),
        "{}",
        run.output
    );
    assert_eq!(found(moto, &stack, "eu-west-1"), (false, true));
    assert!(!run.output.contains("SessionToken"), "{}", run.output);

    // The next deploy updates it there: the same role, assumed again by a new process.
    let params = params.replace(
        r#""Region""#,
        r#""ParameterOverrides": {"Greeting": "hej"}, "Region""#,
    );
    let again = run_local_with(moto, &[path, "--user-parameters", &params], &[ALLOWED]);
    again.assert_succeeded();
    assert!(
        again.has_output_variable("Greeting", "hej"),
        "{}",
        again.output
    );
}

#[test]
fn a_role_the_deployment_does_not_allow_is_refused_before_any_call() {
    let moto = moto_or_skip!();
    let stack = unique("refused");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "AssumeRoleArn": "{TARGET}"}}"#
    );
    let unset = run_local(moto, &[path, "--user-parameters", &params]);
    unset.assert_failed(
        "PermissionError",
        "CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS is unset",
    );
    assert!(
        !unset.output.contains(":AssumeRole "),
        "no STS call: {}",
        unset.output
    );

    let other = run_local_with(
        moto,
        &[path, "--user-parameters", &params],
        &[(
            ALLOWED.0,
            "arn:aws:iam::333333333333:role/cfn-deployer-target",
        )],
    );
    other.assert_failed(
        "PermissionError",
        &format!("AssumeRoleArn `{TARGET}` is refused: it is not among CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS"),
    );
    assert!(
        !other.output.contains("CloudFormation:CreateStack"),
        "{}",
        other.output
    );
    assert_eq!(found(moto, &stack, "us-east-1"), (false, false));
}

#[test]
fn a_group_spans_two_accounts_with_an_output_passing_between_them() {
    let moto = moto_or_skip!();
    let prefix = unique("xacct");
    let stack = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Upstream:
    Type: String
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/${AWS::StackName}/marker"
      Type: String
      Value: !Ref Upstream
Outputs:
  Marker:
    Value: !Sub "${AWS::AccountId}/${AWS::Region}/${Upstream}"
"#;
    let manifest = format!(
        "Stacks:\n  network:\n    StackName: {prefix}-network\n    TemplatePath: stack.yaml\n    AssumeRoleArn: {TARGET}\n    Region: eu-west-1\n    Parameters: {{Upstream: none}}\n  api:\n    StackName: {prefix}-api\n    TemplatePath: stack.yaml\n    Parameters: {{Upstream: {{Output: network.Marker}}}}\n"
    );
    let dir = project(
        "",
        &[
            ("stack.yaml", stack.as_bytes()),
            ("group.yaml", manifest.as_bytes()),
        ],
    );
    let path = dir.path().to_str().expect("path");
    let run = run_local_with(
        moto,
        &[
            path,
            "--user-parameters",
            r#"{"StackGroup": "BuildOutput::group.yaml"}"#,
        ],
        &[ALLOWED],
    );
    run.assert_succeeded();
    assert!(
        run.has_output_variable(
            "api_Marker",
            "123456789012/us-east-1/222222222222/eu-west-1/none"
        ),
        "the api stack read the network stack's output in its own account: {}",
        run.output
    );
    let verdict = run.verdict().unwrap_or_default();
    assert!(
        verdict.contains("network CREATED in 222222222222 / eu-west-1")
            && verdict.contains("api CREATED")
            && !verdict.contains("api CREATED in"),
        "the summary says where each stack lies: {verdict}"
    );
    assert_eq!(
        found(moto, &format!("{prefix}-network"), "eu-west-1"),
        (false, true)
    );
    assert_eq!(
        found(moto, &format!("{prefix}-api"), "eu-west-1"),
        (true, false)
    );
}

#[test]
fn a_large_template_is_staged_and_read_from_the_target_account() {
    let moto = moto_or_skip!();
    let stack = unique("bigtarget");
    // Over CloudFormation's 51,200-byte inline limit: it must go through the staging bucket.
    let big = format!(
        "{}Metadata:\n  Padding: {}\n",
        template("hello"),
        "x".repeat(60_000)
    );
    let dir = project(&big, &[]);
    let path = dir.path().to_str().expect("path");
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "AssumeRoleArn": "{TARGET}"}}"#
    );
    let run = run_local_with(moto, &[path, "--user-parameters", &params], &[ALLOWED]);
    run.assert_succeeded();
    assert!(run.calls("S3:PutObject") >= 1, "staged: {}", run.output);
    assert!(
        run.output.contains("cfn-deployer/staged/"),
        "staged under the prefix the target accounts may read: {}",
        run.output
    );
    assert_eq!(found(moto, &stack, "us-east-1"), (false, true));
}

#[test]
fn a_role_in_the_deployers_own_account_and_region_names_no_place() {
    let moto = moto_or_skip!();
    let stack = unique("ownaccount");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("path");
    // moto's own account: the role is assumed, but the stack stays where the deployer is.
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "AssumeRoleArn": "arn:aws:iam::123456789012:role/cfn-deployer-target", "Region": "us-east-1"}}"#
    );
    let run = run_local_with(moto, &[path, "--user-parameters", &params], &[ALLOWED]);
    run.assert_succeeded();
    let verdict = run.verdict().unwrap_or_default();
    assert!(
        verdict.contains(&format!("Stack `{stack}` is CREATE_COMPLETE")),
        "{verdict}"
    );
    let elsewhere = format!(
        r#"{{"StackName": "{stack}-west", "TemplatePath": "BuildOutput::template.yaml", "AssumeRoleArn": "arn:aws:iam::123456789012:role/cfn-deployer-target", "Region": "eu-west-1"}}"#
    );
    let run = run_local_with(moto, &[path, "--user-parameters", &elsewhere], &[ALLOWED]);
    run.assert_succeeded();
    let verdict = run.verdict().unwrap_or_default();
    assert!(
        verdict.contains(&format!(
            "Stack `{stack}-west` in eu-west-1 is CREATE_COMPLETE"
        )),
        "{verdict}"
    );
}
