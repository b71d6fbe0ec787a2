//! Faults injected between the function and moto: transient ones are retried within the
//! invocation, permanent ones fail the job with the AWS message; every job is reported once.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_local, template, unique, Run};

fn run_with_faults(stack: &str, faults: &[&str]) -> Run {
    let moto = common::moto().expect("moto");
    let dir = project(&template("faults"), &[]);
    let mut args = vec![
        dir.path().to_str().expect("path").to_owned(),
        "--stack".into(),
        stack.into(),
    ];
    for f in faults {
        args.push("--fault".into());
        args.push((*f).into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_local(moto, &args);
    assert!(
        !run.output.contains("CodePipeline refused"),
        "every job is reported once:\n{}",
        run.output
    );
    run
}

#[test]
fn a_deploy_makes_only_the_calls_it_needs() {
    let _ = moto_or_skip!();
    let run = run_with_faults(&unique("calls"), &[]);
    run.assert_succeeded();
    // Create: one DescribeStacks decides, one CreateStack, one ranged GET for a small artifact;
    // the poll: one DescribeStacks.
    assert!(
        run.output.contains("AWS calls by the function: 4 (CloudFormation:CreateStack 1, CloudFormation:DescribeStacks 2, S3:GetObject 1)"),
        "{}",
        run.output
    );
}

#[test]
fn transient_faults_are_retried_within_the_invocation() {
    let _ = moto_or_skip!();
    for faults in [
        &["GetObject:503:2"][..],
        &["GetObject:500:1", "GetObject:drop:1"],
        &["CreateStack:throttle:2"],
        &["DescribeStacks:503:1", "DescribeStacks:drop:1"],
        &["GetObject:delay=1:1", "CreateStack:500:1"],
    ] {
        let run = run_with_faults(&unique("transient"), faults);
        run.assert_succeeded();
        let expected: usize = faults
            .iter()
            .map(|f| {
                f.rsplit(':')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1)
            })
            .sum();
        assert_eq!(
            run.output.matches("fault injected:").count(),
            expected,
            "{}",
            run.output
        );
        assert!(
            run.output.contains("2 job(s), 2 invocation(s)"),
            "{faults:?}: retried inside the invocation:\n{}",
            run.output
        );
    }
}

#[test]
fn persistent_s3_faults_fail_the_job_naming_the_object() {
    let _ = moto_or_skip!();
    let run = run_with_faults(&unique("s3down"), &["GetObject:503:10"]);
    run.assert_failed("JobFailed", "reading s3://cfn-deployer-local-artifacts/");
    assert!(run.output.contains("ServiceUnavailable"), "{}", run.output);
    assert!(
        run.output.contains("1 job(s), 1 invocation(s)"),
        "{}",
        run.output
    );
}

#[test]
fn persistent_cloudformation_faults_fail_the_job_with_the_aws_message() {
    let _ = moto_or_skip!();
    let run = run_with_faults(&unique("cfndown"), &["CreateStack:500:10"]);
    run.assert_failed("JobFailed", "CloudFormation CreateStack on stack");
    assert!(
        run.output.contains("InternalFailure: Injected fault"),
        "{}",
        run.output
    );
}

#[test]
fn throttling_that_outlasts_the_retries_fails_the_job() {
    let _ = moto_or_skip!();
    let run = run_with_faults(&unique("throttled"), &["DescribeStacks:throttle:10"]);
    run.assert_failed("JobFailed", "Throttling: Rate exceeded");
}

#[test]
fn a_slow_call_near_the_deadline_becomes_a_continuation_not_a_timeout() {
    let moto = moto_or_skip!();
    let dir = project(&template("deadline"), &[]);
    let stack = unique("deadline");
    // Invocations of 4 s; the first DescribeStacks hangs for 8 s.
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &stack,
            "--timeout",
            "4",
            "--fault",
            "DescribeStacks:delay=8:1",
        ],
    );
    run.assert_succeeded();
    assert!(
        run.output
            .contains("continue: paused before the invocation's time limit"),
        "{}",
        run.output
    );
    assert!(
        !run.output.contains("timed out"),
        "the function must stop itself first:\n{}",
        run.output
    );
    assert!(
        run.output
            .contains(&format!("Stack {stack}: CREATE_COMPLETE")),
        "{}",
        run.output
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_deliveries_at_the_same_time_converge_on_one_create() {
    let moto = moto_or_skip!();
    let dir = project(&template("twice"), &[]);
    let stack = unique("twice");
    let path = dir.path().to_str().expect("path").to_owned();
    let (m, s) = (moto.endpoint.clone(), stack.clone());
    let run = tokio::task::spawn_blocking(move || {
        let moto = common::Moto { endpoint: m };
        run_local(&moto, &[&path, "--stack", &s, "--duplicate"])
    })
    .await
    .expect("run");
    run.assert_succeeded();
    let jobs: usize = run
        .output
        .lines()
        .find_map(|l| l.split(" job(s)").next().filter(|_| l.contains(" job(s)")))
        .and_then(|n| n.trim().parse().ok())
        .expect("job count");
    // Each job went out twice; CodePipeline took one result and refused the other, which the
    // function took as already reported.
    assert_eq!(
        run.output.matches("InvalidJobStateException").count(),
        jobs,
        "{}",
        run.output
    );
    assert_eq!(
        run.output
            .matches("job already reported by another delivery of it")
            .count(),
        jobs,
        "{}",
        run.output
    );

    let events = common::cloudformation(&moto.endpoint)
        .await
        .describe_stack_events()
        .stack_name(&stack)
        .send()
        .await
        .expect("events");
    let creates = events
        .stack_events()
        .iter()
        .filter(|e| {
            e.logical_resource_id() == Some(stack.as_str())
                && e.resource_status()
                    .is_some_and(|s| s.as_str() == "CREATE_IN_PROGRESS")
        })
        .count();
    assert_eq!(creates, 1, "one create operation for two deliveries");
}
