//! The local stand-ins for AWS services that moto lacks: the CodePipeline job API
//! (`PutJobSuccessResult`, `PutJobFailureResult` over awsJson1.1, with the service's limits
//! and job states) and the Lambda Runtime API the function polls for invocations.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::codepipeline::{self, ActionType};
use crate::notice::{Notice, Notifier};
use crate::proxy::Fault;

/// The function's ARN here: what the Runtime API tells the function it is, and what the state
/// machine's `${DeployerFunctionArn}` stands for.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:cfn-deployer";

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

/// A call of the Lambda Invoke API, for whoever plays the function to answer.
#[derive(Debug)]
pub struct InvokeRequest {
    /// The payload.
    pub payload: Value,
    /// Where the answer goes.
    pub reply: oneshot::Sender<InvokeReply>,
}

/// The answer to an Invoke call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeReply {
    /// The function's response body.
    Response(String),
    /// The function's error body (`{"errorType", "errorMessage"}`): HTTP 200 with
    /// `X-Amz-Function-Error: Unhandled`, as Lambda answers.
    FunctionError(String),
}

/// What the handlers share: the CodePipeline service, and the Runtime and Invoke APIs' queues.
struct Shared {
    codepipeline: codepipeline::Service,
    invokes: Mutex<Option<mpsc::UnboundedSender<InvokeRequest>>>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    notices: Notifier,
    /// Send `lambda-runtime-deadline-ms` as `cargo lambda watch` does: a constant, not an epoch
    /// time.
    constant_deadline: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn notify(&self, notice: Notice) {
        self.notices.notify(notice);
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
        Self::start_on(0).await
    }

    /// Starts the services on loopback `port` (0 for a free one).
    pub async fn start_on(port: u16) -> std::io::Result<(Self, mpsc::UnboundedReceiver<Notice>)> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (notices, notice_rx) = Notifier::channel();
        let shared = Arc::new(Shared {
            codepipeline: codepipeline::Service::new(notices.clone()),
            invokes: Mutex::default(),
            queue: tokio::sync::Mutex::new(queue_rx),
            notices,
            constant_deadline: std::sync::atomic::AtomicBool::new(false),
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
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
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

    /// Registers a new job, in progress, as a Lambda Invoke action's job is.
    pub fn add_job(&self, job_id: &str) {
        self.shared.codepipeline.book().add_job(job_id);
    }

    /// Registers a custom action type, as `CreateCustomActionType` does.
    pub fn register_action_type(&self, action_type: &ActionType) {
        self.shared
            .codepipeline
            .book()
            .register(action_type.clone());
    }

    /// Queues a custom-action job for a worker to poll, claim and run.
    pub fn queue_job(&self, job_id: &str, action_type: &ActionType, data: Value) {
        self.shared
            .codepipeline
            .book()
            .queue(job_id, action_type, data);
    }

    /// Faults for the CodePipeline API's own operations, for their first N calls each.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        self.shared.codepipeline.book().set_faults(faults);
    }

    /// Hands out deadlines as `cargo lambda watch` does, a constant 600000 ms (in 1970 read as
    /// an epoch time), so that a function run here meets that runtime's quirk.
    pub fn deadline_as_cargo_lambda(&self) {
        self.shared
            .constant_deadline
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The calls of the Lambda Invoke API, from now on, for the caller to answer.
    pub fn take_invocations(&self) -> mpsc::UnboundedReceiver<InvokeRequest> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self
            .shared
            .invokes
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tx);
        rx
    }

    /// Calls to the CodePipeline API so far, by operation.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.shared.codepipeline.book().calls()
    }

    /// A handle to say something as the services would, for a task that sees it first (an
    /// invocation through another runtime's Invoke API ending, say).
    pub(crate) fn notifier(&self) -> Notifier {
        self.shared.notices.clone()
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

/// What `cargo lambda watch` sends as every invocation's deadline.
const CARGO_LAMBDA_DEADLINE_MS: u128 = 600_000;

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
    let deadline = if shared
        .constant_deadline
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        CARGO_LAMBDA_DEADLINE_MS
    } else {
        epoch_ms(inv.timeout)
    };
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        FUNCTION_ARN.to_owned(),
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
    body: Bytes,
) -> StatusCode {
    shared.notify(Notice::InvocationDone {
        request_id: id,
        error: None,
        response: Some(String::from_utf8_lossy(&body).into_owned()),
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
        response: None,
    });
    StatusCode::ACCEPTED
}

/// The Lambda Invoke API (`RequestResponse`): the call waits for the function's answer.
async fn invoke(
    State(shared): State<Arc<Shared>>,
    // Whatever function the caller names, the one function here answers.
    Path(_function): Path<String>,
    body: Bytes,
) -> Response {
    let payload = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (reply, answer) = oneshot::channel();
    let sender = shared
        .invokes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let sent = sender.is_some_and(|s| s.send(InvokeRequest { payload, reply }).is_ok());
    let request_id = uuid::Uuid::new_v4().to_string();
    let headers = |function_error: bool| {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-amzn-requestid", v);
        }
        h.insert(
            "x-amz-executed-version",
            HeaderValue::from_static("$LATEST"),
        );
        h.insert("content-type", HeaderValue::from_static("application/json"));
        if function_error {
            h.insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
        }
        h
    };
    let answer = if sent { answer.await.ok() } else { None };
    match answer {
        Some(InvokeReply::Response(body)) => (StatusCode::OK, headers(false), body).into_response(),
        Some(InvokeReply::FunctionError(body)) => {
            (StatusCode::OK, headers(true), body).into_response()
        }
        None => {
            let mut h = headers(false);
            h.insert(
                "x-amzn-errortype",
                HeaderValue::from_static("ServiceException"),
            );
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                h,
                r#"{"message": "nobody plays the function on this local Lambda"}"#,
            )
                .into_response()
        }
    }
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    shared.notify(Notice::InitError(
        String::from_utf8_lossy(&body).into_owned(),
    ));
    StatusCode::ACCEPTED
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
    let parsed = serde_json::from_slice::<Value>(&body);
    let result = match &parsed {
        Ok(body) => codepipeline::call(&shared.codepipeline, &target, body).await,
        Err(e) => Err(codepipeline::serialization(e)),
    };
    match result {
        Ok(answer) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            answer.to_string(),
        )
            .into_response(),
        Err(e) => {
            let job_id = parsed
                .ok()
                .and_then(|b| b.get("jobId").and_then(Value::as_str).map(str::to_owned));
            shared.notify(Notice::Refused {
                job_id,
                operation: target
                    .trim_start_matches("CodePipeline_20150709.")
                    .to_owned(),
                code: e.code(),
                message: e.message().to_owned(),
            });
            e.into_response()
        }
    }
}
