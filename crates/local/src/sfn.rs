//! The local pipeline as a Step Functions execution: cfn-deployer's state machine runs on an
//! existing Amazon States Language interpreter (npm `aws-local-stepfunctions`, or moto's
//! Step Functions), whose Lambda tasks call the Lambda Invoke API this pipeline serves, which
//! runs them on the real function binary through the Runtime API.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

use crate::child::{spawn, Stdout};
use crate::error::{io, LocalError};
use crate::function::Function;
use crate::host::Host;
use crate::notice::Notice;
use crate::options::{BuildMock, Interpreter, Options, StepFunctionsOptions};
use crate::outcome::{End, JobResult, Summary};
use crate::server::FUNCTION_ARN;
use crate::stage::Stage;

/// The execution input, with the uploaded artifact as its template when it names none.
fn input(stage: &Stage, s: &StepFunctionsOptions) -> (Value, String) {
    let url = format!(
        "s3://{}/{}::{}",
        stage.location.bucket, stage.location.key, s.template_file
    );
    (s.input_with(&url), url)
}

/// The mocks for `aws-local-stepfunctions`: the build's result, and no real waiting.
fn mocks(s: &StepFunctionsOptions, template_url: &str, wait: Duration) -> Value {
    let mut tasks = serde_json::Map::new();
    match s.build {
        Some(BuildMock::Succeeds) => {
            tasks.insert("Build".into(), json!({"result": {"Build": {
                "Id": "local-build:1", "BuildStatus": "SUCCEEDED",
                "ExportedEnvironmentVariables": [{"Name": "TEMPLATE_URL", "Value": template_url}],
            }}}));
        }
        Some(BuildMock::Fails) => {
            let cause = json!({"Build": {"Id": "local-build:1", "BuildStatus": "FAILED",
                "Phases": [{"PhaseType": "INSTALL", "PhaseStatus": "SUCCEEDED"}, {"PhaseType": "BUILD", "PhaseStatus": "FAILED"}]}});
            tasks.insert(
                "Build".into(),
                json!({"error": "States.TaskFailed", "cause": cause.to_string()}),
            );
        }
        None => {}
    }
    json!({"tasks": tasks, "waits": {"WaitBeforePoll": wait.as_millis() as u64}})
}

/// A free port on loopback, for the moto interpreter's own server.
fn free_port() -> Result<u16, LocalError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io("finding a free port"))
}

/// Runs the execution to its end.
pub(crate) async fn run(
    mut stage: Stage,
    opts: &Options,
    s: &StepFunctionsOptions,
) -> Result<Summary, LocalError> {
    let mut invokes = stage.services.take_invocations();
    let endpoint = format!("http://{}", stage.services.addr());
    let scratch = tempfile::tempdir().map_err(io("creating a scratch folder"))?;
    let definition = std::fs::read_to_string(&s.definition)
        .map_err(io(format!("reading {}", s.definition.display())))?
        .replace("${DeployerFunctionArn}", FUNCTION_ARN);
    let definition_path = scratch.path().join("definition.json");
    std::fs::write(&definition_path, definition).map_err(io("writing the definition"))?;
    let (input, template_url) = input(&stage, s);
    let input_path = scratch.path().join("input.json");
    std::fs::write(&input_path, input.to_string()).map_err(io("writing the input"))?;
    opts.view.detail(format!("execution input: {input}"));
    let mut interpreter = match s.interpreter {
        Interpreter::Local => {
            let mocks_path = scratch.path().join("mocks.json");
            std::fs::write(
                &mocks_path,
                mocks(s, &template_url, opts.poll_interval).to_string(),
            )
            .map_err(io("writing the mocks"))?;
            let mut c = Command::new("node");
            c.arg(s.runners.join("run-local.mjs"))
                .arg(&definition_path)
                .arg(format!("@{}", input_path.display()))
                .arg(&endpoint)
                .arg(&mocks_path)
                .env("NODE_NO_WARNINGS", "1");
            c
        }
        Interpreter::Moto => {
            let python = std::env::var("CFN_DEPLOYER_PYTHON").unwrap_or_else(|_| "python3".into());
            let mut c = Command::new(python);
            c.arg(s.runners.join("run-moto.py"))
                .args(["--port", &free_port()?.to_string()])
                .args(["--lambda-url", &endpoint])
                .arg("--definition")
                .arg(&definition_path)
                .args(["--input", &input.to_string()])
                .args(["--max-wait", &opts.poll_interval.as_secs_f64().to_string()])
                .env("AWS_ACCESS_KEY_ID", "local")
                .env("AWS_SECRET_ACCESS_KEY", "local")
                .env_remove("AWS_ENDPOINT_URL");
            c
        }
    };
    let mut child = spawn(&mut interpreter, "sf", &opts.view, Stdout::Keep).map_err(io(
        "starting the Amazon States Language interpreter (node or python3)",
    ))?;
    let mut lines = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| LocalError::Aws("the interpreter has no output to read".into()))?,
    )
    .lines();

    let mut host = Host::new(
        Function::new(
            opts.function.clone(),
            stage.function_env(opts.duplicate),
            opts.view.clone(),
        ),
        opts.invocation_timeout,
    );
    let mut transitions = 0usize;
    let mut result: Option<Value> = None;
    loop {
        let timeout_at = host.next_timeout();
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    let Ok(event) = serde_json::from_str::<Value>(&line) else {
                        opts.view.log("sf", &line);
                        continue;
                    };
                    match event.get("kind").and_then(Value::as_str) {
                        Some("result") => result = Some(event),
                        _ => {
                            if event.get("type").and_then(Value::as_str) == Some("StateEntered") {
                                transitions += 1;
                                opts.view.progress(format!("→ {}", event.get("state").and_then(Value::as_str).unwrap_or("?")));
                            }
                            if let Some(step) = event.pointer("/output/Step/Value").filter(|_| event.get("type").and_then(Value::as_str) == Some("StateExited") && event.get("state").and_then(Value::as_str) == Some("Deploy")) {
                                if let Some(summary) = step.get("summary").and_then(Value::as_str) {
                                    let percent = step.get("percent").and_then(Value::as_u64).map(|p| format!(" ({p}%)")).unwrap_or_default();
                                    opts.view.progress(format!("  {summary}{percent}"));
                                }
                            }
                        }
                    }
                }
                // The interpreter is done.
                _ => break,
            },
            request = invokes.recv() => match request {
                Some(request) => host.call(&stage.services, request)?,
                None => break,
            },
            notice = stage.notices.recv() => match notice.map(|n| host.notice(n)) {
                Some(Some(Notice::InitError(e))) => opts.view.note(format!("  the function failed to start: {e}")),
                Some(_) => {}
                None => break,
            },
            // A crash fails the calls it held at once (`Runtime.ExitError`), as Lambda does,
            // and the next invocation starts a fresh process.
            status = host.exited() => opts.view.note(format!("  the function exited ({status}); the next invocation starts it again")),
            () = tokio::time::sleep_until(timeout_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if timeout_at.is_some() => {
                // An invocation ran past its timeout: Lambda ends it with an error.
                host.expire().await;
            }
        }
    }
    let _ = child.wait().await;
    host.function.stop().await;
    let end = match result {
        Some(r) if r.get("status").and_then(Value::as_str) == Some("SUCCEEDED") => {
            let output = r.get("output").cloned().unwrap_or(Value::Null);
            opts.view.detail(format!("execution output: {output}"));
            End::Reported(JobResult::Succeeded {
                continuation_token: None,
                summary: output
                    .get("Summary")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                external_id: output
                    .get("StackId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                // The StepFunctions action's own variables; the stack's outputs are in the
                // execution's output.
                output_variables: Some(json!({
                    "ExecutionArn": r.get("executionArn"),
                    "StateMachineArn": r.get("stateMachineArn"),
                })),
                percent_complete: None,
            })
        }
        Some(r) => {
            let text = |k: &str| {
                r.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            opts.view
                .progress(format!("execution {}: {}", text("status"), text("error")));
            End::Reported(JobResult::Failed {
                kind: text("error"),
                message: text("cause"),
                external_id: None,
            })
        }
        None => End::NotReported("the interpreter ended without a result".into()),
    };
    let invocations = host.invocations;
    let mut summary = stage.summary(end, 1, invocations);
    summary.state_transitions = Some(transitions);
    summary.cold_start = host.function.cold_start;
    summary.peak_rss_kib = host.function.peak_rss_kib;
    Ok(summary)
}
