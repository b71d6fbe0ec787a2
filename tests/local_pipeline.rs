//! The real function binary, run by the local pipeline against moto: the deploy loop and its
//! continuations, reading the configuration, what a run reads and writes, and its logs, each run
//! ending in exactly one truthful report with no secret in any output.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_local, template, unique, write};

#[test]
fn creates_then_updates_through_continuations() {
    let moto = moto_or_skip!();
    let stack = unique("create-update");
    let dir = project(&template("hello"), &[]);
    let path = dir.path().to_str().expect("utf-8 path");
    let with_greeting = |greeting: &str| {
        format!(
            r#"{{"stack": "{stack}", "artifact": "BuildOutput", "file": "template.yaml", "ParameterOverrides": {{"Greeting": "{greeting}"}}}}"#
        )
    };

    let created = run_local(moto, &[path, "--user-parameters", &with_greeting("hello")]);
    created.assert_succeeded();
    assert!(
        created
            .output
            .contains(&format!("Stack {stack}: CREATE_COMPLETE")),
        "{}",
        created.output
    );
    assert!(
        created.output.contains("continue: CREATE_IN_PROGRESS"),
        "{}",
        created.output
    );
    assert!(
        created.has_output("Greeting", "hello"),
        "{}",
        created.output
    );
    assert!(
        created.output.lines().any(|l| l.starts_with("2 job(s), ")),
        "one continuation: {}",
        created.output
    );
    assert!(
        created.has_output_variable("Greeting", "hello"),
        "{}",
        created.output
    );
    assert!(
        created.has_output_variable("GreetingParameter", &format!("/{stack}/greeting")),
        "{}",
        created.output
    );

    let updated = run_local(
        moto,
        &[path, "--user-parameters", &with_greeting("bonjour")],
    );
    updated.assert_succeeded();
    assert!(
        updated
            .output
            .contains(&format!("Stack {stack}: UPDATE_COMPLETE")),
        "{}",
        updated.output
    );
    assert!(
        updated.has_output("Greeting", "bonjour"),
        "{}",
        updated.output
    );

    // Unchanged: CloudFormation says "No updates are to be performed." and the job succeeds at
    // once, without a continuation.
    let again = run_local(
        moto,
        &[path, "--user-parameters", &with_greeting("bonjour")],
    );
    again.assert_succeeded();
    assert!(
        again.output.contains("no changes to deploy"),
        "{}",
        again.output
    );
    assert!(
        again.output.contains("1 job(s), 1 invocation(s)"),
        "{}",
        again.output
    );

    // A template change: a resource added.
    let grown = format!(
        "{}  Extra:\n    Type: AWS::S3::Bucket\n",
        template("hello")
            .split("Outputs:")
            .next()
            .unwrap_or_default()
    );
    write(dir.path(), "template.yaml", grown.as_bytes());
    let changed = run_local(
        moto,
        &[path, "--user-parameters", &with_greeting("bonjour")],
    );
    changed.assert_succeeded();
    assert!(
        changed
            .output
            .contains(&format!("Stack {stack}: UPDATE_COMPLETE")),
        "{}",
        changed.output
    );
}

#[test]
fn the_seed_parameters_work_verbatim() {
    let moto = moto_or_skip!();
    let stack = unique("seed");
    let dir = project("", &[("infra/template.yaml", template("seed").as_bytes())]);
    let params = format!(
        r#"{{"stack": "{stack}", "artifact": "BuildOutput", "file": "infra/template.yaml"}}"#
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
    assert!(run.has_output("Greeting", "seed"), "{}", run.output);
}

#[test]
fn bad_parameters_fail_as_configuration_errors_naming_the_key() {
    let moto = moto_or_skip!();
    let dir = project(&template("x"), &[]);
    let path = dir.path().to_str().expect("path");
    let cases = [
        ("", "UserParameters is empty"),
        ("stack=demo", "not valid JSON"),
        ("[\"demo\"]", "not an array"),
        (
            r#"{"artifact": "BuildOutput", "file": "template.yaml"}"#,
            "missing the key `stack`",
        ),
        (
            r#"{"stack": "demo", "file": "template.yaml"}"#,
            "missing the key `artifact`",
        ),
        (
            r#"{"stack": "demo", "artifact": "BuildOutput"}"#,
            "missing the key `file`",
        ),
        (
            r#"{"stack": 7, "artifact": "BuildOutput", "file": "template.yaml"}"#,
            "key `stack`: invalid type",
        ),
        (
            r#"{"stack": "demo", "artifact": "BuildOutput", "file": "template.yaml", "region": "x"}"#,
            "unknown field `region`, expected one of `stack`, `artifact`, `file`, `TemplatePath`",
        ),
        (
            r#"{"stack": "demo", "StackName": "other", "artifact": "BuildOutput", "file": "template.yaml"}"#,
            "`stack` (`demo`) and `StackName` (`other`) name the same setting differently",
        ),
        (
            r#"{"stack": "demo", "TemplatePath": "BuildOutput::template.yaml", "Capabilities": "CAPABILITY_ALL"}"#,
            "key `Capabilities`: `CAPABILITY_ALL` is not a capability",
        ),
        (
            r#"{"stack": "demo_stack", "artifact": "BuildOutput", "file": "template.yaml"}"#,
            "not a valid stack name",
        ),
    ];
    for (params, needle) in cases {
        let run = run_local(moto, &[path, "--user-parameters", params]);
        run.assert_failed("ConfigurationError", needle);
        assert!(
            run.output.contains("1 job(s), 1 invocation(s)"),
            "{}",
            run.output
        );
    }
}

#[test]
fn a_path_escaping_the_archive_is_refused() {
    let moto = moto_or_skip!();
    let dir = project(&template("x"), &[]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("escape"),
            "--file",
            "../template.yaml",
        ],
    );
    // The path is refused as it is read from the configuration, before any artifact is.
    run.assert_failed(
        "ConfigurationError",
        "UserParameters key `file`: `../template.yaml` is not a plain relative path",
    );
}

#[test]
fn templates_over_the_inline_limit_go_through_s3() {
    let moto = moto_or_skip!();
    let padding =
        "# a long comment line, as large generated templates have plenty of\n".repeat(900);
    let large = format!("{}{padding}", template("large"));
    assert!(large.len() > 51_200);
    let dir = project(&large, &[]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("bigtemplate"),
        ],
    );
    run.assert_succeeded();
    assert!(run.has_output("Greeting", "large"), "{}", run.output);
    assert!(
        run.output.contains("S3:PutObject 1"),
        "staged once: {}",
        run.output
    );
    assert!(
        run.output.contains(
            "template staged in S3 for CloudFormation location=s3://cfn-deployer-local-staging/"
        ),
        "staged in the staging bucket: {}",
        run.output
    );
    // Staged with the function's own role: the artifact credentials only read the artifact.
    assert!(
        run.output.contains("artifact credentials: 1 S3 call(s), each a read of the input artifact or a write of the output artifact"),
        "{}",
        run.output
    );

    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("bigtemplate"),
            "--staging-bucket",
            "",
        ],
    );
    run.assert_failed(
        "ConfigurationError",
        "over CloudFormation's 51,200-byte inline limit, so it must reach CloudFormation through S3: set CFN_DEPLOYER_STAGING_BUCKET",
    );
}

#[test]
fn function_logs_are_json_with_the_job_id_and_no_secrets() {
    let moto = moto_or_skip!();
    let dir = project(&template("json"), &[]);
    let run = common::run_local_with(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("json"),
        ],
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("RUST_LOG", "trace")],
    );
    run.assert_succeeded();
    let lines: Vec<serde_json::Value> = run
        .output
        .lines()
        .filter_map(|l| l.split_once("λ │ ").map(|(_, line)| line))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let job_lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.pointer("/span/name").is_some_and(|n| n == "job"))
        .collect();
    assert!(job_lines.len() >= 4, "{}", run.output);
    for line in job_lines {
        assert!(
            line.pointer("/span/job_id")
                .and_then(|v| v.as_str())
                .is_some_and(|id| id.len() == 36),
            "{line}"
        );
    }
}

#[test]
fn polling_within_the_invocation_reports_a_fast_deploy_at_once() {
    let moto = moto_or_skip!();
    let dir = project(&template("fast"), &[]);
    let run = common::run_local_with(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("fast"),
        ],
        &[
            ("CFN_DEPLOYER_POLL_WITHIN_SECONDS", "10"),
            ("CFN_DEPLOYER_POLL_INTERVAL_SECONDS", "0.2"),
        ],
    );
    run.assert_succeeded();
    assert!(
        run.output.contains("1 job(s), 1 invocation(s)"),
        "no continuation needed:\n{}",
        run.output
    );
}

#[test]
fn a_large_artifact_is_read_by_the_bytes_it_needs() {
    let moto = moto_or_skip!();
    // 32 MiB that does not compress, beside the template.
    let noise = common::s3::noise(32 << 20, 0x9e37_79b9_7f4a_7c15);
    let dir = project(&template("large"), &[("app/bundle.bin", &noise)]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("large"),
        ],
    );
    run.assert_succeeded();
    let received: u64 = run
        .output
        .lines()
        .find_map(|l| l.split("S3 bytes received: ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no byte count:\n{}", run.output));
    assert!(
        received < 128 * 1024,
        "{received} bytes fetched from a 32 MiB artifact"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_the_job_writes_are_encrypted_with_the_pipelines_kms_key() {
    let moto = moto_or_skip!();
    let key = "arn:aws:kms:us-east-1:123456789012:key/pipeline-artifacts";
    let stack = unique("kms");
    let padding =
        "# a long comment line, as large generated templates have plenty of\n".repeat(900);
    let dir = project(&format!("{}{padding}", template("sealed")), &[]);
    let params = format!(
        r#"{{"StackName": "{stack}", "TemplatePath": "BuildOutput::template.yaml", "OutputFileName": "outputs.json"}}"#
    );
    let (path, m) = (
        dir.path().to_str().expect("path").to_owned(),
        moto.endpoint.clone(),
    );
    let run = tokio::task::spawn_blocking(move || {
        common::run_local(
            &common::Moto { endpoint: m },
            &[
                &path,
                "--user-parameters",
                &params,
                "--encryption-key-id",
                key,
            ],
        )
    })
    .await
    .expect("run");
    run.assert_succeeded();

    let s3 = common::s3::client(&moto.endpoint);
    let keys: Vec<String> = run
        .output
        .lines()
        .filter_map(|l| l.split("s3://cfn-deployer-local-artifacts/").nth(1))
        .map(|k| {
            k.split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches(['.', ',', ')'])
                .to_owned()
        })
        .collect();
    let artifact = keys.first().expect("the input artifact's key");
    let output = keys.get(1).expect("the output artifact's key");
    let _ = artifact;
    // The output artifact is the only object the job writes with its artifact credentials.
    let head = s3
        .head_object()
        .bucket("cfn-deployer-local-artifacts")
        .key(output)
        .send()
        .await
        .expect("the output artifact");
    assert_eq!(head.ssekms_key_id(), Some(key), "{output}");
    assert!(
        run.output
            .contains("each a read of the input artifact or a write of the output artifact"),
        "{}",
        run.output
    );
    assert!(run.has_artifact_file("outputs.json"), "{}", run.output);
}
