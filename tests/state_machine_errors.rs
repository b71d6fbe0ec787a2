//! The shipped state machine on the `aws-local-stepfunctions` interpreter, its Lambda tasks
//! mocked: a task that fails outside the documented errors (a Lambda error, a timeout, a bad
//! task) ends the execution as `CfnDeployer.InternalError` with its cause kept, while a
//! documented failure keeps its own name.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the state machine with `tasks` mocked (by state name), waits cut to 1 ms: each event
/// line, and the result line.
fn run(dir: &Path, tasks: Value) -> (Vec<Value>, Value) {
    let definition = std::fs::read_to_string(root().join("statemachine/deploy.asl.json"))
        .expect("definition")
        .replace(
            "${DeployerFunctionArn}",
            "arn:aws:lambda:us-east-1:123456789012:function:cfn-deployer",
        );
    let def = dir.join("definition.json");
    std::fs::write(&def, definition).expect("write");
    let mocks = dir.join("mocks.json");
    let waits = json!({"WaitBeforePoll": 1});
    std::fs::write(&mocks, json!({"tasks": tasks, "waits": waits}).to_string()).expect("write");
    let out = Command::new("node")
        .arg(root().join("crates/local/stepfunctions/run-local.mjs"))
        .arg(&def)
        .arg(json!({"StackName": "app", "TemplateURL": "s3://b/t.yaml"}).to_string())
        .arg("http://127.0.0.1:9")
        .arg(&mocks)
        .output()
        .expect("node: the interpreter needs Node.js (scripts/env.sh installs its package)");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let result = lines
        .iter()
        .find(|l| l["kind"] == "result")
        .cloned()
        .unwrap_or_else(|| panic!("no result: {}", String::from_utf8_lossy(&out.stderr)));
    (lines, result)
}

fn prepared() -> Value {
    json!({"result": {"Payload": {
        "done": false, "failed": null, "state": null, "summary": "deploying stack `app`",
        "percent": null, "output": null, "pollIntervalSeconds": 5, "waitSeconds": null, "build": null
    }}})
}

#[test]
fn a_task_failing_outside_the_documented_errors_ends_as_internal_error_keeping_the_cause() {
    let dir = tempfile::tempdir().expect("dir");
    for (state, error, cause) in [
        (
            "Deploy",
            "Lambda.Unknown",
            "Task timed out after 60.00 seconds",
        ),
        ("Deploy", "States.Timeout", "the task timed out"),
        (
            "Deploy",
            "CfnDeployer.BadTask",
            "the deploy state follows another stack",
        ),
        ("Prepare", "Sandbox.Timedout", "the function timed out"),
    ] {
        let mut tasks = json!({ state: {"error": error, "cause": cause} });
        if state != "Prepare" {
            tasks["Prepare"] = prepared();
        }
        let (_, result) = run(dir.path(), tasks);
        assert_eq!(result["status"], "FAILED", "{state} {error}: {result}");
        assert_eq!(result["error"], "CfnDeployer.InternalError", "{result}");
        let kept = result["cause"].as_str().unwrap_or_default();
        assert!(
            kept.contains(error) && kept.contains(cause),
            "{state} {error}: {kept}"
        );
    }
}

#[test]
fn a_documented_failure_still_ends_with_its_own_name() {
    let dir = tempfile::tempdir().expect("dir");
    let failed = json!({"result": {"Payload": {
        "done": true, "failed": {"Error": "CfnDeployer.DeployFailed", "Cause": "Stack `app` is ROLLBACK_COMPLETE"},
        "state": null, "summary": null, "percent": null, "output": null,
        "pollIntervalSeconds": null, "waitSeconds": null, "build": null
    }}});
    let (_, result) = run(dir.path(), json!({"Prepare": prepared(), "Deploy": failed}));
    assert_eq!(result["error"], "CfnDeployer.DeployFailed", "{result}");
    assert_eq!(result["cause"], "Stack `app` is ROLLBACK_COMPLETE");
}
