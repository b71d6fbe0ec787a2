//! The local pipeline as a Lambda Invoke action: each job goes to the real function binary as
//! Lambda delivers an asynchronous event, through the Runtime API, retried when the function
//! fails, until a job ends the action.

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use crate::function::Function;
use crate::run::{End, LocalError, Options, Stage, Summary};
use crate::server::{Invocation, JobResult, Notice, Services};

/// Lambda tries an asynchronous event this many times in all before giving up.
const LAMBDA_ATTEMPTS: usize = 3;

/// The event a Lambda Invoke action's job sends the function.
pub(crate) fn event(
    stage: &Stage,
    job_id: &str,
    opts: &Options,
    continuation_token: Option<&str>,
) -> Value {
    let configuration = json!({
        "FunctionName": "cfn-deployer",
        "UserParameters": opts.user_parameters,
    });
    let data = stage.job_data(opts, configuration, continuation_token);
    json!({"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}})
}

/// The environment Lambda gives the function: the Runtime API, its name and size, and the
/// run's endpoints.
pub(crate) fn function_env(stage: &Stage, opts: &Options) -> Vec<(String, String)> {
    let addr = stage.services.addr();
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API".to_owned(), addr.to_string()),
        (
            "AWS_LAMBDA_FUNCTION_NAME".to_owned(),
            "cfn-deployer".to_owned(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            "$LATEST".to_owned(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            "128".to_owned(),
        ),
    ];
    if opts.duplicate {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY".to_owned(), "2".to_owned()));
    }
    env.extend(stage.env.iter().cloned());
    env
}

/// Delivers jobs to the function until one ends the action.
pub(crate) async fn run(mut stage: Stage, opts: &Options) -> Result<Summary, LocalError> {
    let env = function_env(&stage, opts);
    let mut function = Function {
        opts,
        env,
        child: None,
        spawned: None,
        cold_start: None,
        peak_rss_kib: None,
    };

    let mut token: Option<String> = None;
    let mut jobs = 0;
    let mut invocations = 0;
    let end = loop {
        jobs += 1;
        let job_id = uuid::Uuid::new_v4().to_string();
        stage.services.add_job(&job_id);
        let event = event(&stage, &job_id, opts, token.as_deref());
        println!(
            "job {jobs} {job_id}: {}",
            if token.is_some() {
                "continuing"
            } else {
                "started"
            }
        );
        let end = deliver(
            &stage.services,
            &mut stage.notices,
            &mut function,
            &job_id,
            &event,
            &mut invocations,
        )
        .await?;
        match end {
            End::Reported(JobResult::Succeeded {
                continuation_token: Some(next),
                summary,
                percent_complete,
                ..
            }) => {
                let percent = percent_complete
                    .map(|p| format!(" ({p}%)"))
                    .unwrap_or_default();
                println!("  continue: {}{percent}", summary.unwrap_or_default());
                if jobs > opts.max_continuations {
                    break End::NotReported(format!(
                        "the job was still running after {} continuations; CodePipeline would time the action out",
                        opts.max_continuations
                    ));
                }
                token = Some(next);
                tokio::time::sleep(opts.poll_interval).await;
            }
            other => break other,
        }
    };
    function.stop().await;
    let mut summary = stage.summary(end, jobs, invocations);
    summary.cold_start = function.cold_start;
    summary.peak_rss_kib = function.peak_rss_kib;
    Ok(summary)
}

/// Delivers one job as Lambda delivers an asynchronous event: retried when the function fails.
async fn deliver(
    services: &Services,
    notices: &mut UnboundedReceiver<Notice>,
    function: &mut Function<'_>,
    job_id: &str,
    event: &Value,
    invocations: &mut usize,
) -> Result<End, LocalError> {
    let timeout = function.opts.invocation_timeout;
    let mut last_error = String::new();
    // With duplicates, the same event goes out twice at once, as Lambda may deliver it.
    let copies = if function.opts.duplicate { 2 } else { 1 };
    for attempt in 1..=LAMBDA_ATTEMPTS {
        let mut pending: Vec<String> = Vec::new();
        let child = function.ensure_running()?;
        for _ in 0..copies {
            *invocations += 1;
            let request_id = uuid::Uuid::new_v4().to_string();
            pending.push(request_id.clone());
            services.invoke(Invocation {
                request_id,
                event: event.clone(),
                timeout,
            });
        }
        let mut ready_at = None;
        let deadline = Instant::now() + timeout;
        let mut reported = None;
        let mut errors: Vec<String> = Vec::new();
        let failure: Option<String> = loop {
            if pending.is_empty() {
                break errors.into_iter().next();
            }
            tokio::select! {
                notice = notices.recv() => match notice {
                    Some(Notice::Reported { job_id: j, result }) if j == job_id => reported = Some(result),
                    Some(Notice::Reported { job_id: j, .. }) => println!("  note: a result arrived for an earlier job {j}"),
                    Some(Notice::Refused { job_id: j, code, message, .. }) => {
                        println!("  CodePipeline refused a result for job {}: {code}: {message}", j.unwrap_or_default());
                    }
                    Some(Notice::InvocationDone { request_id: r, error, .. }) if pending.contains(&r) => {
                        pending.retain(|p| *p != r);
                        errors.extend(error);
                    }
                    Some(Notice::InvocationDone { .. }) => {}
                    Some(Notice::Dispatched { .. } | Notice::Acknowledged { .. }) => {}
                    Some(Notice::Ready) => {
                        ready_at.get_or_insert_with(Instant::now);
                    }
                    Some(Notice::InitError(e)) => break Some(format!("the function failed to start: {e}")),
                    None => break Some("the local services stopped".into()),
                },
                status = child.wait() => {
                    let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    function.child = None;
                    break Some(format!("the function process exited ({status})"));
                }
                () = tokio::time::sleep_until(deadline) => {
                    function.stop().await;
                    break Some(format!("the invocation timed out after {} s", timeout.as_secs()));
                }
            }
        };
        if let Some(at) = ready_at {
            function.ready(at);
        }
        if let Some(result) = reported {
            if let Some(err) = failure {
                println!("  note: the function reported the job, then failed: {err}");
            }
            return Ok(End::Reported(result));
        }
        match failure {
            None => {
                return Ok(End::NotReported(
                    "the function returned without reporting the job; CodePipeline would wait until the action times out".into(),
                ))
            }
            Some(err) => {
                println!("  invocation {attempt} of {LAMBDA_ATTEMPTS} failed: {err}");
                last_error = err;
            }
        }
    }
    Ok(End::NotReported(format!(
        "Lambda gave up after {LAMBDA_ATTEMPTS} attempts ({last_error}); CodePipeline would wait until the action times out"
    )))
}
