//! The real worker binary against moto, through the local pipeline's CodePipeline: it claims
//! each job with its nonce, deploys with the job layer and reports each job exactly once,
//! through continuations, faults, competing workers and a stop in the middle of a deploy.

use cfn_deployer_testkit::{moto_or_skip, project, run_worker, template, unique, write, Run};

/// Each job was reported once: `retried` PutJob* calls at most were refused because the job
/// already had its result (a retry after a fault that struck once the result was recorded).
fn reported_once(run: &Run, retried: usize) {
    let duplicates = run
        .output
        .lines()
        .filter(|l| {
            l.contains("CodePipeline refused PutJob") && l.contains("InvalidJobStateException")
        })
        .count();
    assert_eq!(duplicates, retried, "{}", run.output);
}

/// The number after `label` on the summary line, e.g. `3 claim(s)`.
fn count(run: &Run, label: &str) -> usize {
    run.output
        .lines()
        .find_map(|l| {
            let at = l.find(label)?;
            l[..at].split_whitespace().last()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no `{label}` in:\n{}", run.output))
}

#[test]
fn creates_then_updates_through_continuations() {
    let moto = moto_or_skip!();
    let dir = project(&template("hello"), &[]);
    let stack = unique("worker");
    let path = dir.path().to_str().expect("path");
    // Settings past the built-in action's, as a custom action's strings.
    let run = run_worker(
        moto,
        &[
            path,
            "--stack",
            &stack,
            "--configuration",
            "TimeoutInMinutes=30",
            "--configuration",
            "OnFailure=ROLLBACK",
        ],
        &[],
    );
    run.assert_succeeded();
    reported_once(&run, 0);
    assert!(
        run.output.contains("continue: CREATE_IN_PROGRESS"),
        "{}",
        run.output
    );
    assert!(
        count(&run, " job(s), ") >= 2,
        "a continuation: {}",
        run.output
    );
    assert_eq!(
        count(&run, " job(s), "),
        count(&run, " claim(s)"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("worker 1 stopped: it exited ")
            && run.output.contains(" s after SIGTERM, exit code 0"),
        "{}",
        run.output
    );

    let update = [
        path,
        "--configuration",
        &format!("StackName={stack}"),
        "--configuration",
        "TemplatePath=BuildOutput::template.yaml",
        "--configuration",
        r#"ParameterOverrides={"Greeting": "hello again"}"#,
        "--configuration",
        "OutputFileName=outputs.json",
    ];
    let run = run_worker(moto, &update, &[]);
    run.assert_succeeded();
    assert!(run.output.contains("UPDATE_COMPLETE"), "{}", run.output);
    assert!(
        run.has_output_variable("Greeting", "hello again"),
        "{}",
        run.output
    );
    assert!(run.has_artifact_file("outputs.json"), "{}", run.output);
}

#[test]
fn bad_configuration_is_a_configuration_error_naming_the_property() {
    let moto = moto_or_skip!();
    let dir = project(&template("x"), &[]);
    let path = dir.path().to_str().expect("path");
    let stack = unique("badconf");
    let run = run_worker(
        moto,
        &[path, "--stack", &stack, "--configuration", "StackNmae=oops"],
        &[],
    );
    run.assert_failed(
        "ConfigurationError",
        "The action configuration has an unknown field `StackNmae`, expected one of",
    );
    let run = run_worker(
        moto,
        &[
            path,
            "--stack",
            &stack,
            "--configuration",
            "ActionMode=UPSERT",
        ],
        &[],
    );
    run.assert_failed(
        "ConfigurationError",
        "configuration property `ActionMode`: `UPSERT` is not an action mode",
    );
    // The sample's keys are UserParameters' only: a custom action names its properties.
    let run = run_worker(moto, &[path, "--configuration", "stack=x"], &[]);
    run.assert_failed("ConfigurationError", "unknown field `stack`");
}

#[test]
fn two_workers_share_the_jobs_and_each_job_is_deployed_and_reported_once() {
    let moto = moto_or_skip!();
    let dir = project(&template("pair"), &[]);
    let stack = unique("pair");
    let run = run_worker(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &stack,
            "--workers",
            "2",
            "--parallel",
            "4",
            "--concurrency",
            "1",
        ],
        &[],
    );
    run.assert_succeeded();
    reported_once(&run, 0);
    assert!(run.output.contains("4 actions succeeded"), "{}", run.output);
    assert_eq!(
        count(&run, " job(s), "),
        count(&run, " claim(s)"),
        "{}",
        run.output
    );
    // Each stack was created once.
    assert!(
        run.output.contains("CloudFormation:CreateStack 4,"),
        "one create per stack: {}",
        run.output
    );
    // Both workers took jobs.
    for w in ["w1 │", "w2 │"] {
        assert!(
            run.output
                .lines()
                .any(|l| l.contains(w) && l.contains("job claimed")),
            "{w} claimed nothing:\n{}",
            run.output
        );
    }
}

/// A worker that claims one job and dies holding it: polls, acknowledges with the nonce, exits.
/// Python with boto3, moto's own interpreter when `MOTO_SERVER` names it.
const DYING_WORKER: &str = r#"
import os, sys, time, boto3
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
action = {"category": args["--category"], "owner": "Custom",
          "provider": args["--provider"], "version": args["--version"]}
cp = boto3.client("codepipeline", region_name=os.environ.get("AWS_REGION", "us-east-1"))
while True:
    jobs = cp.poll_for_jobs(actionTypeId=action, maxBatchSize=1).get("jobs", [])
    if jobs:
        cp.acknowledge_job(jobId=jobs[0]["id"], nonce=jobs[0]["nonce"])
        sys.exit(3)
    time.sleep(0.2)
"#;

#[test]
fn a_worker_that_dies_holding_a_job_ends_the_action_instead_of_a_wait_forever() {
    use std::os::unix::fs::PermissionsExt as _;
    let moto = moto_or_skip!();
    let dir = project(&template("dying"), &[]);
    let python = std::env::var("MOTO_SERVER")
        .ok()
        .and_then(|m| Some(std::path::Path::new(&m).parent()?.join("python3")))
        .filter(|p| p.exists())
        .map_or_else(
            || "/usr/bin/env python3".to_owned(),
            |p| p.display().to_string(),
        );
    let script = write(
        dir.path(),
        "dying-worker",
        format!("#!{python}{DYING_WORKER}").as_bytes(),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = run_worker(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("dying"),
            "--worker-binary",
            script.to_str().expect("path"),
            "--step-seconds",
            "1",
            "--timeout",
            "2",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.output);
    assert_eq!(
        run.verdict(),
        Some("NOT REPORTED: the worker that took the job reported nothing within 3 s: check the worker's log; CodePipeline would time the action out"),
        "{}",
        run.output
    );
    assert_eq!(count(&run, " claim(s)"), 1, "{}", run.output);
}

#[test]
fn a_stale_nonce_leaves_the_job_to_its_holder() {
    let moto = moto_or_skip!();
    let dir = project(&template("nonce"), &[]);
    let stack = unique("nonce");
    let run = run_worker(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &stack,
            "--fault",
            "AcknowledgeJob:invalid-nonce:1",
        ],
        &[],
    );
    run.assert_succeeded();
    reported_once(&run, 0);
    assert!(
        run.output
            .contains("another worker holds the job: leaving it"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("CodePipeline refused AcknowledgeJob"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("CloudFormation:CreateStack 1,"),
        "{}",
        run.output
    );
}

#[test]
fn a_stop_in_the_middle_of_a_deploy_reports_its_step_and_a_fresh_worker_finishes() {
    let moto = moto_or_skip!();
    let dir = project(&template("stop"), &[]);
    let stack = unique("stop");
    let run = run_worker(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &stack,
            // The first step is still talking to CloudFormation when the stop comes.
            "--fault",
            "DescribeStacks:delay=2:1",
            "--stop-worker-after",
            "0.5",
        ],
        &[],
    );
    run.assert_succeeded();
    reported_once(&run, 0);
    let stopped = run
        .output
        .lines()
        .find(|l| l.starts_with("  worker 1 stopped"))
        .unwrap_or_else(|| panic!("worker 1 was not stopped:\n{}", run.output));
    assert!(stopped.ends_with("after SIGTERM, exit code 0"), "{stopped}");
    // "  worker 1 stopped: it exited 1.2 s after SIGTERM, exit code 0"
    let secs: f64 = stopped
        .split_once("exited ")
        .and_then(|(_, rest)| rest.split_once(" s after SIGTERM"))
        .and_then(|(secs, _)| secs.parse().ok())
        .unwrap_or_else(|| panic!("no time in: {stopped}"));
    assert!(secs < 30.0, "{stopped}");
    assert!(secs >= 1.0, "it waited for the step in flight: {stopped}");
    assert!(
        run.output.contains("worker 2 started in its place"),
        "{}",
        run.output
    );
    assert!(
        run.output
            .lines()
            .any(|l| l.contains("w2 │") && l.contains("job claimed")),
        "the fresh worker finished the job:\n{}",
        run.output
    );
}

#[test]
fn poll_and_report_faults_are_outlasted_and_each_job_is_reported_once() {
    let moto = moto_or_skip!();
    let dir = project(&template("faults"), &[]);
    let stack = unique("wfaults");
    let run = run_worker(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &stack,
            "--fault",
            "PollForJobs:throttle:3",
            "--fault",
            "PollForJobs:503:2",
            "--fault",
            "PutJobSuccessResult:500:1",
        ],
        &[],
    );
    run.assert_succeeded();
    reported_once(&run, 1);
    assert!(
        run.output.contains("PollForJobs failed: backing off"),
        "{}",
        run.output
    );
    // The 500 came after CodePipeline recorded the result: the SDK's retry found the job
    // finished, which counts as reported.
    assert!(
        run.output
            .contains("job already reported by another delivery of it"),
        "{}",
        run.output
    );
    assert_eq!(
        count(&run, " job(s), "),
        count(&run, " claim(s)"),
        "{}",
        run.output
    );
}

#[test]
fn the_query_routes_jobs_and_is_no_setting() {
    let moto = moto_or_skip!();
    let dir = project(&template("query"), &[]);
    let path = dir.path().to_str().expect("path");
    let stack = unique("query");
    let run = run_worker(
        moto,
        &[path, "--stack", &stack, "--query", "WorkerPool=blue"],
        &[],
    );
    run.assert_succeeded();
    let run = run_worker(
        moto,
        &[
            path,
            "--stack",
            &unique("query"),
            "--query",
            "WorkerPool=blue",
            "--workers-serve",
            "green",
            "--pickup-timeout",
            "3",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output
            .contains("NOT REPORTED: no worker picked the job up within 3 s"),
        "{}",
        run.output
    );
}
