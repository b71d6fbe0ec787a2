//! The local pipeline as a person and a script use it: plain output without the function's
//! logs, one JSON summary, a saved sam event, and a runtime of one's own reached through the
//! Lambda Invoke API.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{bin, project, run_local_as_is, template, unique, write};

/// The project's `events/` folder.
fn event_file(name: &str) -> String {
    format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn plain_output_is_the_stack_and_one_verdict_without_the_functions_logs() {
    let moto = moto_or_skip!();
    let dir = project(&template("plain"), &[]);
    let stack = unique("plain");
    let run = run_local_as_is(
        moto,
        &[dir.path().to_str().expect("path"), "--stack", &stack],
        &[("NO_COLOR", "1")],
    );
    run.assert_succeeded();
    assert!(
        !run.output.contains('\u{1b}'),
        "no escape sequences:\n{}",
        run.output
    );
    assert!(
        !run.output.contains(" │ "),
        "no function log lines:\n{}",
        run.output
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("▶ local-pipeline · Deploy · Lambda Invoke action"),
        "{}",
        run.stdout
    );
    assert!(
        lines[1] == format!("  stack {stack} · CREATE_UPDATE")
            && lines[2].starts_with("  artifact BuildOutput at s3://"),
        "{}",
        run.stdout
    );
    for resource in ["Bucket", "GreetingParameter"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("  ✔ {resource} "))
                    && l.ends_with("CREATE_COMPLETE")),
            "{resource}:\n{}",
            run.stdout
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("  2/2 resources · ")),
        "{}",
        run.stdout
    );
    assert!(run.has_output("Greeting", "plain"), "{}", run.stdout);
    let verdicts = lines
        .iter()
        .filter(|l| l.starts_with('✔') || l.starts_with('✘'))
        .count();
    assert_eq!(verdicts, 1, "{}", run.stdout);
    assert_eq!(
        lines.last().copied(),
        // The local function runs with no role policy, and every summary says so.
        Some(format!("✔ SUCCEEDED: Stack `{stack}` is CREATE_COMPLETE; role policy off").as_str()),
        "the verdict comes last"
    );
}

#[test]
fn json_prints_one_summary_for_scripts() {
    let moto = moto_or_skip!();
    let dir = project(&template("scripted"), &[]);
    let stack = unique("json-summary");
    let run = run_local_as_is(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &stack,
            "--json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.output);
    let summary: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(summary["outcome"], "SUCCEEDED");
    assert_eq!(summary["failure"], serde_json::Value::Null);
    assert_eq!(summary["stack"]["name"], stack.as_str());
    assert_eq!(summary["stack"]["status"], "CREATE_COMPLETE");
    assert_eq!(summary["outputs"]["Greeting"], "scripted");
    assert_eq!(summary["output_variables"]["Greeting"], "scripted");
    assert_eq!(summary["jobs"], 2);
    assert_eq!(summary["invocations"], 2);
    assert_eq!(
        summary["aws_calls"]["by_operation"]["CloudFormation:CreateStack"],
        1
    );
    assert_eq!(summary["aws_calls"]["total"], 4);
    assert!(summary["aws_calls"]["s3_bytes_received"].as_u64() > Some(0));

    let failed = run_local_as_is(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--user-parameters",
            "{not json",
            "--json",
        ],
        &[],
    );
    assert_eq!(failed.code, 1, "{}", failed.output);
    let summary: serde_json::Value =
        serde_json::from_str(&failed.stdout).unwrap_or_else(|e| panic!("{e}: {}", failed.stdout));
    assert_eq!(summary["outcome"], "FAILED");
    assert_eq!(summary["failure"]["type"], "ConfigurationError");
    assert!(
        summary["failure"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("UserParameters is not valid JSON")),
        "{summary}"
    );
    assert_eq!(summary["stack"], serde_json::Value::Null);
    assert_eq!(summary["jobs"], 1);
}

#[test]
fn json_is_one_document_even_when_the_run_cannot_start() {
    // Refused before any AWS call, so no moto is needed.
    let out = Command::new(bin("cfn-deployer-local"))
        .args(["--object", "not-an-s3-url", "--stack", "never", "--json"])
        .output()
        .expect("cfn-deployer-local runs");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(summary["outcome"], "NOT_STARTED");
    assert_eq!(
        summary["failure"]["message"],
        "--object takes s3://bucket/key"
    );
    assert_eq!(summary["jobs"], 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--object takes s3://bucket/key"),
        "the reason on stderr too"
    );
}

#[test]
fn sams_generated_event_runs_unedited_and_edited() {
    let moto = moto_or_skip!();
    let dir = project(&template("from-sam"), &[]);
    let path = dir.path().to_str().expect("path");

    // Unedited: sam's plain-string UserParameters, refused with the JSON to write instead.
    let unedited = run_local_as_is(
        moto,
        &[path, "--event", &event_file("sam-codepipeline-job.json")],
        &[],
    );
    unedited.assert_failed("ConfigurationError", "UserParameters is not valid JSON");
    unedited.assert_failed("ConfigurationError", r#"set it to a JSON object such as {"#);
    assert!(
        unedited.output.contains("job 1 (c968ef10): started"),
        "{}",
        unedited.output
    );

    // Edited as the README says: the JSON, the template in sam's `input-artifact`.
    let stack = unique("sam-event");
    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(event_file("sam-codepipeline-job.json")).expect("sam event"),
    )
    .expect("JSON");
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        serde_json::Value::String(format!(
            r#"{{"StackName": "{stack}", "TemplatePath": "input-artifact::template.yaml", "OutputFileName": "outputs.json"}}"#
        ));
    let edited = write(dir.path(), "event.json", event.to_string().as_bytes());
    let run = run_local_as_is(
        moto,
        &[path, "--event", edited.to_str().expect("path")],
        &[],
    );
    run.assert_succeeded();
    assert!(run.has_output("Greeting", "from-sam"), "{}", run.output);
    assert!(
        run.output.contains("artifact input-artifact at s3://"),
        "the input artifact keeps sam's name:\n{}",
        run.output
    );
    assert!(
        run.output
            .contains("Output artifact output-artifact at s3://cfn-deployer-local-artifacts/"),
        "the output artifact keeps sam's name, at a location of the run's:\n{}",
        run.output
    );
    assert!(run.has_artifact_file("outputs.json"), "{}", run.output);
}

/// A loopback port free now, whose next port is free too.
fn free_port_pair() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = first.local_addr().expect("addr").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_runtime_of_ones_own_takes_the_jobs_through_the_invoke_api() {
    let moto = moto_or_skip!();
    let dir = project(&template("own-runtime"), &[]);
    let (serve_port, pipeline_port) = (free_port_pair(), free_port_pair());

    // Terminal 1 of the README's recipe, with the local pipeline's own Runtime API standing in
    // for `cargo lambda watch`: the function gets the environment the pipeline prints.
    let mut runtime = Command::new(bin("cfn-deployer-local"))
        .args([
            "--serve-function",
            "--port",
            &serve_port.to_string(),
            "--function",
        ])
        .arg(bin("cfn-deployer"))
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", pipeline_port + 1),
        )
        .env(
            "AWS_ENDPOINT_URL_CODEPIPELINE",
            format!("http://127.0.0.1:{pipeline_port}"),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIACFNDEPLOYERTEST")
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .env("CFN_DEPLOYER_STAGING_BUCKET", "cfn-deployer-local-staging")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the runtime");
    wait_for_port(serve_port);

    // Terminal 2.
    let stack = unique("own-runtime");
    let url =
        format!("http://127.0.0.1:{serve_port}/2015-03-31/functions/cfn-deployer/invocations");
    let run = run_local_as_is(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &stack,
            "--invoke-url",
            &url,
            "--port",
            &pipeline_port.to_string(),
        ],
        &[],
    );
    let _ = Command::new("kill")
        .args(["-TERM", &runtime.id().to_string()])
        .status();
    let started = Instant::now();
    while runtime.try_wait().expect("wait").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the runtime did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let served = runtime.wait_with_output().expect("the runtime's output");
    let served = format!(
        "{}{}",
        String::from_utf8_lossy(&served.stdout),
        String::from_utf8_lossy(&served.stderr)
    );
    assert!(
        !served.contains(common::SECRET_KEY),
        "the secret leaked:\n{served}"
    );

    run.assert_succeeded();
    assert!(run.has_output("Greeting", "own-runtime"), "{}", run.output);
    assert!(
        run.output.contains(&format!(
            "export AWS_ENDPOINT_URL_CODEPIPELINE=http://127.0.0.1:{pipeline_port} AWS_ENDPOINT_URL=http://127.0.0.1:{} AWS_REGION=us-east-1",
            pipeline_port + 1
        )),
        "the pipeline prints the environment the runtime needs:\n{}",
        run.output
    );
    assert!(
        run.output.contains("2 job(s), 2 invocation(s)"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("AWS calls by the function: 4 ("),
        "the function's calls still go through the pipeline's proxy:\n{}",
        run.output
    );
    assert!(
        !run.output.contains("function: ready"),
        "the pipeline started no function of its own:\n{}",
        run.output
    );
    assert!(served.contains("2 invocation(s) served"), "{served}");
    assert!(
        served.contains("reporting success"),
        "the function ran there:\n{served}"
    );
}
