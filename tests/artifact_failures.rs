//! The real function binary against moto, failed by its input: a missing artifact, file or
//! object, a corrupt or empty zip, a template that is not text or too large, and a template
//! CloudFormation rejects, each failing the job with one report of what went wrong.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_local, template, unique, write};

#[test]
fn a_missing_input_artifact_lists_the_present_ones() {
    let moto = moto_or_skip!();
    let dir = project(&template("x"), &[]);
    let params = r#"{"stack": "demo", "artifact": "SourceOutput", "file": "template.yaml"}"#;
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--user-parameters",
            params,
        ],
    );
    run.assert_failed("ConfigurationError", "input artifact `SourceOutput` (UserParameters key `artifact`) is not an input of this action; its input artifacts are: `BuildOutput`");
}

#[test]
fn a_missing_file_lists_entries() {
    let moto = moto_or_skip!();
    let dir = project(&template("x"), &[("README.md", b"hi")]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("nofile"),
            "--file",
            "infra/stack.yaml",
        ],
    );
    run.assert_failed(
        "JobFailed",
        "file `infra/stack.yaml` is not in the artifact; it holds 2 entries",
    );
    assert!(run.output.contains("`template.yaml`"), "{}", run.output);
}

#[test]
fn a_missing_object_is_named() {
    let moto = moto_or_skip!();
    // The bucket exists (other runs create it); the key does not.
    let warm = project(&template("x"), &[]);
    run_local(
        moto,
        &[
            warm.path().to_str().expect("path"),
            "--user-parameters",
            "{}",
        ],
    );
    let run = run_local(
        moto,
        &[
            "--object",
            "s3://cfn-deployer-local-artifacts/no/such/key",
            "--stack",
            &unique("noobject"),
        ],
    );
    run.assert_failed(
        "JobFailed",
        "object s3://cfn-deployer-local-artifacts/no/such/key does not exist",
    );
}

#[test]
fn a_corrupt_zip_is_named() {
    let moto = moto_or_skip!();
    let dir = tempfile::tempdir().expect("dir");
    let zip = write(
        dir.path(),
        "artifact.zip",
        b"PK\x03\x04 this is not really a zip archive",
    );
    let run = run_local(
        moto,
        &[
            "--zip",
            zip.to_str().expect("path"),
            "--stack",
            &unique("corrupt"),
        ],
    );
    run.assert_failed("JobFailed", "is not a readable zip archive");
    assert!(
        run.output.contains("input artifact `BuildOutput`"),
        "{}",
        run.output
    );
}

#[test]
fn an_empty_object_is_not_a_zip() {
    let moto = moto_or_skip!();
    let dir = tempfile::tempdir().expect("dir");
    let zip = write(dir.path(), "empty.zip", b"");
    let run = run_local(
        moto,
        &[
            "--zip",
            zip.to_str().expect("path"),
            "--stack",
            &unique("empty"),
        ],
    );
    run.assert_failed("JobFailed", "the object is empty");
}

#[test]
fn a_template_cloudformation_rejects_fails_with_its_message() {
    let moto = moto_or_skip!();
    let dir = project(
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\nOutputs: null\n",
        &[],
    );
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("invalid"),
        ],
    );
    run.assert_failed("JobFailed", "CloudFormation CreateStack on stack");
    assert!(
        run.output
            .contains("'null' values are not allowed in templates"),
        "{}",
        run.output
    );
}

#[test]
fn a_template_that_breaks_the_service_still_ends_the_job() {
    let moto = moto_or_skip!();
    // moto answers HTTP 500 for unparsable YAML; the job must still end, with what is known.
    let dir = project("Resources: [unclosed\n", &[]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--stack",
            &unique("broken"),
        ],
    );
    run.assert_failed("JobFailed", "CreateStack");
}

#[test]
fn binary_and_oversized_templates_are_refused() {
    let moto = moto_or_skip!();
    let huge = "# padding\n".repeat(110_000);
    let dir = project(
        "",
        &[
            ("bin.yaml", &[0xff, 0xfe, 0x00, 0x41]),
            ("huge.yaml", huge.as_bytes()),
        ],
    );
    let path = dir.path().to_str().expect("path");
    run_local(
        moto,
        &[path, "--stack", &unique("bin"), "--file", "bin.yaml"],
    )
    .assert_failed("JobFailed", "is not UTF-8 text");
    run_local(
        moto,
        &[path, "--stack", &unique("huge"), "--file", "huge.yaml"],
    )
    .assert_failed(
        "JobFailed",
        "file `huge.yaml` in the artifact is larger than the 1048576-byte limit",
    );
}
