//! The local pipeline as a Lambda Invoke action: each job goes to the function as Lambda
//! delivers an asynchronous event, retried when the function fails, until a job ends the action.
//! The function is the real binary, started here and reached through the Runtime API, or a
//! runtime of the user's own (`cargo lambda watch`) reached through its Invoke API.

use axum::body::Bytes;
use axum::http::{Request, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use crate::error::LocalError;
use crate::function::Function;
use crate::host::Host;
use crate::job::{continued, short};
use crate::notice::Notice;
use crate::options::Options;
use crate::outcome::{End, JobResult, Summary};
use crate::server::{Invocation, Services};
use crate::stage::Stage;

/// Lambda tries an asynchronous event this many times in all before giving up.
const LAMBDA_ATTEMPTS: usize = 3;

/// The event a Lambda Invoke action's job sends the function: the saved event's, when one was
/// given, with this run's artifacts, credentials and token in it.
pub(crate) fn event(
    stage: &Stage,
    job_id: &str,
    opts: &Options,
    continuation_token: Option<&str>,
) -> Value {
    let Some(saved) = &opts.event else {
        let configuration = json!({
            "FunctionName": "cfn-deployer",
            "UserParameters": opts.user_parameters,
        });
        let data = stage.job_data(opts, configuration, continuation_token);
        return json!({"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}});
    };
    let mut event = saved.clone();
    let job = &mut event["CodePipeline.job"];
    job["id"] = Value::String(job_id.to_owned());
    let configuration = job
        .pointer("/data/actionConfiguration/configuration")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let ours = stage.job_data(opts, configuration, continuation_token);
    let data = &mut job["data"];
    for list in ["inputArtifacts", "outputArtifacts"] {
        let location = ours[list][0]["location"].clone();
        match data.get_mut(list).and_then(Value::as_array_mut) {
            Some(artifacts) if !artifacts.is_empty() => {
                for artifact in artifacts {
                    artifact["location"] = location.clone();
                }
            }
            _ => data[list] = ours[list].clone(),
        }
    }
    data["artifactCredentials"] = ours["artifactCredentials"].clone();
    match continuation_token {
        Some(token) => data["continuationToken"] = Value::String(token.to_owned()),
        None => {
            if let Some(data) = data.as_object_mut() {
                data.remove("continuationToken");
            }
        }
    }
    if let Some(key) = ours.get("encryptionKey") {
        data["encryptionKey"] = key.clone();
    }
    event
}

/// A saved event's job id, input and output artifact names and `UserParameters`, or what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedEvent {
    /// The job's id, used for the first job.
    pub job_id: Option<String>,
    /// The first input artifact's name.
    pub input_artifact: String,
    /// The first output artifact's name, when it declares one.
    pub output_artifact: Option<String>,
    /// The action's `UserParameters`, when set.
    pub user_parameters: Option<String>,
}

impl SavedEvent {
    /// Reads what the run keeps from a saved `CodePipeline.job` event.
    pub fn read(event: &Value) -> Result<Self, String> {
        let data = event
            .pointer("/CodePipeline.job/data")
            .ok_or("it has no `CodePipeline.job.data`: give an event as `sam local generate-event codepipeline job` prints it")?;
        let input_artifact = data
            .pointer("/inputArtifacts/0/name")
            .and_then(Value::as_str)
            .ok_or("its `CodePipeline.job.data.inputArtifacts` names no artifact: the template is read from the first")?
            .to_owned();
        let text = |pointer: &str| {
            data.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(Self {
            job_id: event
                .pointer("/CodePipeline.job/id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input_artifact,
            output_artifact: text("/outputArtifacts/0/name"),
            user_parameters: text("/actionConfiguration/configuration/UserParameters"),
        })
    }
}

/// Where the jobs go.
enum Runtime {
    /// The function binary, started here.
    Process(Host),
    /// Another runtime's Invoke API.
    Remote(Remote),
}

/// A runtime of the user's own, reached through the Lambda Invoke API at `url`.
struct Remote {
    url: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Remote {
    /// Invokes the function with `event`; the end arrives as [`Notice::InvocationDone`].
    fn invoke(&self, services: &Services, request_id: String, event: &Value) {
        let (client, url, body) = (self.client.clone(), self.url.clone(), event.to_string());
        let shared = services.notifier();
        tokio::spawn(async move {
            let error = call(&client, &url, body).await.err();
            shared.notify(Notice::InvocationDone {
                request_id,
                error,
                response: None,
            });
        });
    }
}

/// One `RequestResponse` invocation; the error is the function's, or why nothing answered.
async fn call(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &Uri,
    body: String,
) -> Result<(), String> {
    let request = Request::post(url.clone())
        .header("content-type", "application/json")
        .header("x-amz-invocation-type", "RequestResponse")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| {
        format!(
            "nothing answers at {url} ({e}): start the runtime first, e.g. `cargo lambda watch`"
        )
    })?;
    let status = response.status();
    let function_error = response.headers().contains_key("x-amz-function-error");
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    match (status.is_success(), function_error) {
        (true, false) => Ok(()),
        (true, true) => Err(body),
        (false, _) => Err(format!("the Invoke API at {url} answered {status}: {body}")),
    }
}

/// Delivers jobs to the function until one ends the action.
pub(crate) async fn run(mut stage: Stage, opts: &Options) -> Result<Summary, LocalError> {
    let mut runtime = match &opts.invoke_url {
        Some(url) => Runtime::Remote(Remote {
            url: url
                .parse()
                .map_err(|e| LocalError::Aws(format!("--invoke-url `{url}`: {e}")))?,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }),
        None => Runtime::Process(Host::new(
            Function::new(
                opts.function.clone(),
                stage.function_env(opts.duplicate),
                opts.view.clone(),
            ),
            opts.invocation_timeout,
        )),
    };
    let first_id = opts
        .event
        .as_ref()
        .and_then(|e| SavedEvent::read(e).ok())
        .and_then(|e| e.job_id);

    let mut token: Option<String> = None;
    let mut jobs = 0;
    let mut invocations = 0;
    let end = loop {
        jobs += 1;
        let job_id = match (&first_id, jobs) {
            (Some(id), 1) => id.clone(),
            _ => uuid::Uuid::new_v4().to_string(),
        };
        stage.services.add_job(&job_id);
        let event = event(&stage, &job_id, opts, token.as_deref());
        opts.view.progress(format!(
            "job {jobs} ({}): {}",
            short(&job_id),
            if token.is_some() {
                "continuing"
            } else {
                "started"
            }
        ));
        let end = deliver(
            &stage.services,
            &mut stage.notices,
            &mut runtime,
            opts,
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
                if let Some(given_up) = continued(opts, jobs, summary, percent_complete) {
                    break given_up;
                }
                token = Some(next);
                tokio::time::sleep(opts.poll_interval).await;
            }
            other => break other,
        }
    };
    let mut summary = stage.summary(end, jobs, invocations);
    if let Runtime::Process(host) = &mut runtime {
        host.function.stop().await;
        summary.cold_start = host.function.cold_start;
        summary.peak_rss_kib = host.function.peak_rss_kib;
    }
    Ok(summary)
}

/// Waits for the function process to exit; never, for a remote runtime.
async fn exited(runtime: &mut Runtime) -> String {
    match runtime {
        Runtime::Process(host) => host.exited().await,
        Runtime::Remote(_) => std::future::pending().await,
    }
}

/// Delivers one job as Lambda delivers an asynchronous event: retried when the function fails.
async fn deliver(
    services: &Services,
    notices: &mut UnboundedReceiver<Notice>,
    runtime: &mut Runtime,
    opts: &Options,
    job_id: &str,
    event: &Value,
    invocations: &mut usize,
) -> Result<End, LocalError> {
    let timeout = opts.invocation_timeout;
    let view = &opts.view;
    let mut last_error = String::new();
    // With duplicates, the same event goes out twice at once, as Lambda may deliver it.
    let copies = if opts.duplicate { 2 } else { 1 };
    for attempt in 1..=LAMBDA_ATTEMPTS {
        let mut pending: Vec<String> = Vec::new();
        for _ in 0..copies {
            *invocations += 1;
            let request_id = uuid::Uuid::new_v4().to_string();
            pending.push(request_id.clone());
            match runtime {
                Runtime::Process(host) => {
                    host.function.ensure_running()?;
                    services.invoke(Invocation {
                        request_id,
                        event: event.clone(),
                        timeout,
                    });
                }
                Runtime::Remote(remote) => remote.invoke(services, request_id, event),
            }
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
                    Some(Notice::Reported { job_id: j, .. }) => view.note(format!("  note: a result arrived for an earlier job {j}")),
                    Some(Notice::Refused { job_id: j, code, message, .. }) => {
                        view.note(format!("  CodePipeline refused a result for job {}: {code}: {message}", j.unwrap_or_default()));
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
                status = exited(runtime) => {
                    break Some(format!("the function process exited ({status})"));
                }
                () = tokio::time::sleep_until(deadline) => {
                    if let Runtime::Process(host) = runtime {
                        host.function.stop().await;
                    }
                    break Some(format!("the invocation timed out after {} s", timeout.as_secs()));
                }
            }
        };
        if let (Some(at), Runtime::Process(host)) = (ready_at, &mut *runtime) {
            host.function.ready(at);
        }
        if let Some(result) = reported {
            if let Some(err) = failure {
                view.note(format!(
                    "  note: the function reported the job, then failed: {err}"
                ));
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
                view.note(format!(
                    "  invocation {attempt} of {LAMBDA_ATTEMPTS} failed: {err}"
                ));
                last_error = err;
            }
        }
    }
    Ok(End::NotReported(format!(
        "Lambda gave up after {LAMBDA_ATTEMPTS} attempts ({last_error}); CodePipeline would wait until the action times out"
    )))
}
