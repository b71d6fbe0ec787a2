//! The local stand-ins for AWS services that moto lacks: the CodePipeline job API
//! (`PutJobSuccessResult`, `PutJobFailureResult` over awsJson1.1, with the service's limits
//! and job states) and the Lambda Runtime API the function polls for invocations.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// One invocation of the function, as the Runtime API hands it out.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The Lambda request id.
    pub request_id: String,
    /// The event.
    pub event: Value,
    /// How long the function may run.
    pub timeout: Duration,
}

/// What the function reported for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// `PutJobSuccessResult`.
    Succeeded {
        /// Set when the job continues.
        continuation_token: Option<String>,
        /// `executionDetails.summary`.
        summary: Option<String>,
        /// `executionDetails.externalExecutionId`.
        external_id: Option<String>,
        /// `outputVariables`.
        output_variables: Option<Value>,
        /// `executionDetails.percentComplete`.
        percent_complete: Option<i64>,
    },
    /// `PutJobFailureResult`.
    Failed {
        /// `failureDetails.type`.
        kind: String,
        /// `failureDetails.message`.
        message: String,
        /// `failureDetails.externalExecutionId`.
        external_id: Option<String>,
    },
}

/// Something the services saw, in the order they saw it.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A job got its result.
    Reported {
        /// The job.
        job_id: String,
        /// Its result.
        result: JobResult,
    },
    /// A PutJob* call was refused.
    Refused {
        /// The job, when the call named one.
        job_id: Option<String>,
        /// The error code returned.
        code: &'static str,
        /// The message returned.
        message: String,
    },
    /// The function finished an invocation.
    InvocationDone {
        /// The request id.
        request_id: String,
        /// The error the function returned, if any.
        error: Option<String>,
    },
    /// The function asked for its next invocation: it is up and idle.
    Ready,
    /// The function failed to start.
    InitError(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    InProgress,
    Finished,
}

struct Shared {
    jobs: Mutex<HashMap<String, JobState>>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    notices: mpsc::UnboundedSender<Notice>,
    function_arn: String,
}

impl Shared {
    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobState>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self, notice: Notice) {
        // The receiver lives as long as the run; after it, nobody is listening.
        let _ = self.notices.send(notice);
    }
}

/// The running services.
pub struct Services {
    addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Invocation>,
    task: tokio::task::JoinHandle<()>,
}

impl Services {
    /// Starts the services on a free loopback port; notices arrive on the returned receiver.
    pub async fn start() -> std::io::Result<(Self, mpsc::UnboundedReceiver<Notice>)> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (notice_tx, notice_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            jobs: Mutex::default(),
            queue: tokio::sync::Mutex::new(queue_rx),
            notices: notice_tx,
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:cfn-deployer".into(),
        });
        let app = Router::new()
            .route("/", post(codepipeline))
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Serving ends only when the task is aborted at drop.
            let _ = axum::serve(listener, app).await;
        });
        Ok((
            Self {
                addr,
                shared,
                queue: queue_tx,
                task,
            },
            notice_rx,
        ))
    }

    /// The address both APIs listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers a new job, in progress.
    pub fn add_job(&self, job_id: &str) {
        self.shared
            .jobs()
            .insert(job_id.to_owned(), JobState::InProgress);
    }

    /// Queues an invocation for the function to pick up.
    pub fn invoke(&self, invocation: Invocation) {
        // The receiver lives in `shared`, as long as `self`.
        let _ = self.queue.send(invocation);
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn epoch_ms(after: Duration) -> u128 {
    (SystemTime::now() + after)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

async fn next_invocation(State(shared): State<Arc<Shared>>) -> Response {
    shared.notify(Notice::Ready);
    let next = shared.queue.lock().await.recv().await;
    let Some(inv) = next else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", inv.request_id.clone());
    set(
        "lambda-runtime-deadline-ms",
        epoch_ms(inv.timeout).to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!("Root=1-00000000-{}", inv.request_id.replace('-', "")),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, inv.event.to_string()).into_response()
}

async fn invocation_response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> StatusCode {
    shared.notify(Notice::InvocationDone {
        request_id: id,
        error: None,
    });
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let text = String::from_utf8_lossy(&body).into_owned();
    shared.notify(Notice::InvocationDone {
        request_id: id,
        error: Some(text),
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    shared.notify(Notice::InitError(
        String::from_utf8_lossy(&body).into_owned(),
    ));
    StatusCode::ACCEPTED
}

/// An awsJson1.1 error: HTTP 400 with `__type` and `message`.
struct ApiError {
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.code, "message": self.message}).to_string();
        (
            StatusCode::BAD_REQUEST,
            [
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amzn-errortype", self.code),
            ],
            body,
        )
            .into_response()
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError {
        code: "ValidationException",
        message: message.into(),
    }
}

/// Checks an optional string field's length against the service's limits.
fn check_len(
    body: &Value,
    pointer: &str,
    min: usize,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                Err(invalid(format!(
                    "1 validation error detected: Value at '{pointer}' failed to satisfy constraint: Member must have length between {min} and {max} (it has {n})"
                )))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(invalid(format!("Value at '{pointer}' must be a string"))),
    }
}

fn is_job_id(id: &str) -> bool {
    uuid::Uuid::try_parse(id).is_ok() && id.len() == 36
}

async fn codepipeline(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let result = serde_json::from_slice::<Value>(&body)
        .map_err(|e| ApiError {
            code: "SerializationException",
            message: e.to_string(),
        })
        .and_then(|body| put_job_result(&shared, &target, &body));
    match result {
        Ok(()) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            "{}",
        )
            .into_response(),
        Err(e) => {
            let job_id = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b.get("jobId").and_then(Value::as_str).map(str::to_owned));
            shared.notify(Notice::Refused {
                job_id,
                code: e.code,
                message: e.message.clone(),
            });
            e.into_response()
        }
    }
}

fn put_job_result(shared: &Shared, target: &str, body: &Value) -> Result<(), ApiError> {
    let job_id = check_len(body, "/jobId", 1, 36)?.ok_or_else(|| invalid("jobId is required"))?;
    if !is_job_id(&job_id) {
        return Err(invalid(format!("Value '{job_id}' at 'jobId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}")));
    }
    let result = match target {
        "CodePipeline_20150709.PutJobSuccessResult" => {
            let continuation_token = check_len(body, "/continuationToken", 1, 2048)?;
            let summary = check_len(body, "/executionDetails/summary", 1, 2048)?;
            let external_id = check_len(body, "/executionDetails/externalExecutionId", 1, 1500)?;
            let percent_complete = body.pointer("/executionDetails/percentComplete").and_then(Value::as_i64);
            if let Some(p) = body.pointer("/executionDetails/percentComplete") {
                if !p.as_i64().is_some_and(|p| (0..=100).contains(&p)) {
                    return Err(invalid("executionDetails.percentComplete must be between 0 and 100"));
                }
            }
            let output_variables = body.get("outputVariables").cloned().filter(|v| !v.is_null());
            if output_variables.is_some() && continuation_token.is_some() {
                return Err(invalid("outputVariables can only be set when the job is finished (no continuationToken)"));
            }
            JobResult::Succeeded { continuation_token, summary, external_id, output_variables, percent_complete }
        }
        "CodePipeline_20150709.PutJobFailureResult" => {
            let kind = check_len(body, "/failureDetails/type", 1, 64)?
                .ok_or_else(|| invalid("failureDetails.type is required"))?;
            const TYPES: &[&str] = &[
                "JobFailed",
                "ConfigurationError",
                "PermissionError",
                "RevisionOutOfSync",
                "RevisionUnavailable",
                "SystemUnavailable",
            ];
            if !TYPES.contains(&kind.as_str()) {
                return Err(invalid(format!("failureDetails.type `{kind}` is not one of {}", TYPES.join(", "))));
            }
            let message = check_len(body, "/failureDetails/message", 1, 5000)?
                .ok_or_else(|| invalid("failureDetails.message is required"))?;
            let external_id = check_len(body, "/failureDetails/externalExecutionId", 1, 1500)?;
            JobResult::Failed { kind, message, external_id }
        }
        other => {
            return Err(ApiError {
                code: "UnknownOperationException",
                message: format!("this local CodePipeline serves PutJobSuccessResult and PutJobFailureResult, not `{other}`"),
            })
        }
    };
    {
        let mut jobs = shared.jobs();
        match jobs.get(&job_id) {
            None => {
                return Err(ApiError {
                    code: "JobNotFoundException",
                    message: format!("Job {job_id} not found"),
                })
            }
            Some(JobState::Finished) => {
                return Err(ApiError {
                    code: "InvalidJobStateException",
                    message: format!("Job {job_id} is not in an in-progress state"),
                })
            }
            Some(JobState::InProgress) => {
                jobs.insert(job_id.clone(), JobState::Finished);
            }
        }
    }
    shared.notify(Notice::Reported { job_id, result });
    Ok(())
}
