//! A proxy between the function and the AWS endpoint (moto): it counts the calls the function
//! makes, injects faults into the calls chosen, for the first N that match, answers the
//! drift-detection calls moto lacks (see [`crate::drift`]), and plays the stack-set operations'
//! time, failures and collisions moto lacks (see [`crate::stackset`]).

mod fault;
pub(crate) mod stats;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

pub(crate) use self::fault::due;
pub use self::fault::{Fault, FaultKind};
pub use self::stats::{SignedCall, Stats};
use crate::drift::emulator::{Emulator, OPERATIONS as DRIFT_OPERATIONS};
use crate::drift::DriftTable;
use crate::stackset::emulator::{Before, Emulator as SetEmulator, OPERATIONS as SET_OPERATIONS};
use crate::stackset::StackSetPlay;

/// The access key id a SigV4 `Authorization` header names: `… Credential=AKID/date/…`.
fn signing_key(headers: &axum::http::HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    Some(credential.split('/').next()?.to_owned())
}

struct Shared {
    upstream: Uri,
    client: Client<HttpConnector, Body>,
    faults: Mutex<Vec<Fault>>,
    stats: Arc<Stats>,
    drift: Emulator,
    sets: SetEmulator,
}

/// The running proxy.
pub struct Proxy {
    addr: SocketAddr,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (an `http://` endpoint) on a free loopback port.
    pub async fn start(upstream: &str, faults: Vec<Fault>) -> std::io::Result<Self> {
        Self::start_on(upstream, faults, 0).await
    }

    /// [`Proxy::start`] on loopback `port` (0 for a free one).
    pub async fn start_on(upstream: &str, faults: Vec<Fault>, port: u16) -> std::io::Result<Self> {
        let (drift, sets) = (DriftTable::default(), StackSetPlay::default());
        Self::start_with(upstream, faults, drift, sets, port).await
    }

    /// [`Proxy::start_on`], the drift calls finding what `drift` says (stacks it does not name
    /// are in sync), the stack-set operations played as `sets` says.
    pub async fn start_with(
        upstream: &str,
        faults: Vec<Fault>,
        drift: DriftTable,
        sets: StackSetPlay,
        port: u16,
    ) -> std::io::Result<Self> {
        let emulator = Emulator::new(upstream, drift);
        let sets = SetEmulator::new(upstream, sets);
        let upstream: Uri = upstream.parse().map_err(std::io::Error::other)?;
        let stats = Arc::new(Stats::default());
        let shared = Arc::new(Shared {
            upstream,
            client: Client::builder(TokioExecutor::new()).build_http(),
            faults: Mutex::new(faults),
            stats: stats.clone(),
            drift: emulator,
            sets,
        });
        let app = Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Serving ends only when the task is aborted at drop.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, stats, task })
    }

    /// The proxy's endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it has seen.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The same, to keep beyond the proxy's borrow (the watcher's gate).
    pub fn shared_stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The service and operation of a call. Query-protocol services (CloudFormation) POST a form
/// to `/` naming the `Action`; S3 (path-style) names the bucket and key in the path.
fn classify(method: &str, path: &str, form: Option<&[u8]>) -> (&'static str, String) {
    if let Some(form) = form {
        let action = form
            .split(|b| *b == b'&')
            .find_map(|pair| pair.strip_prefix(b"Action="))
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_else(|| "Unknown".into());
        return ("CloudFormation", action);
    }
    let has_key = path
        .trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, k)| !k.is_empty());
    let op = match (method, has_key) {
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("PUT", true) => "PutObject",
        ("DELETE", true) => "DeleteObject",
        ("GET", false) => "ListObjects",
        ("HEAD", false) => "HeadBucket",
        ("PUT", false) => "CreateBucket",
        _ => "Other",
    };
    ("S3", op.to_owned())
}

/// The `StackName` a query-protocol form names, when it is a plain name.
fn form_stack_name(form: &[u8]) -> Option<String> {
    std::str::from_utf8(form)
        .ok()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("StackName="))
        .map(str::to_owned)
}

fn error_response(service: &str, status: u16, throttle: bool) -> Response {
    let (status, body) = match (service, throttle) {
        ("S3", true) => (503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_owned()),
        ("S3", false) => (status, format!("<Error><Code>{}</Code><Message>Injected fault</Message></Error>", if status == 503 { "ServiceUnavailable" } else { "InternalError" })),
        (_, true) => (400, "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>injected</RequestId></ErrorResponse>".to_owned()),
        (_, false) if status == 400 => (status, "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Injected fault: the template is invalid</Message></Error><RequestId>injected</RequestId></ErrorResponse>".to_owned()),
        (_, false) => (status, format!("<ErrorResponse><Error><Type>Receiver</Type><Code>{}</Code><Message>Injected fault</Message></Error><RequestId>injected</RequestId></ErrorResponse>", if status == 503 { "ServiceUnavailable" } else { "InternalFailure" })),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", "text/xml")], body).into_response()
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let is_form = parts.method == "POST"
        && path == "/"
        && parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    // Query-protocol calls are small forms: read them to learn the operation. S3 bodies stream.
    let (form, body) = if is_form {
        match axum::body::to_bytes(body, 16 << 20).await {
            Ok(bytes) => (Some(bytes.clone()), Body::from(bytes)),
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        }
    } else {
        (None, body)
    };
    let (service, operation) = classify(parts.method.as_str(), &path, form.as_deref());
    if service == "S3" {
        let key = signing_key(&parts.headers).unwrap_or_default();
        shared
            .stats
            .s3_signed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(SignedCall {
                access_key_id: key,
                method: parts.method.to_string(),
                path: path.clone(),
            });
    }
    *shared
        .stats
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(format!("{service}:{operation}"))
        .or_default() += 1;

    // Held until moto has answered: see `Stats::stack_reads`.
    let _writing = match operation.as_str() {
        "CreateStack" | "UpdateStack" | "CreateChangeSet" | "ExecuteChangeSet"
            if service == "CloudFormation" =>
        {
            Some(shared.stats.stack_writes.read().await)
        }
        _ => None,
    };
    let stack = form.as_deref().and_then(form_stack_name);
    let fault = due(
        &mut shared.faults.lock().unwrap_or_else(PoisonError::into_inner),
        &operation,
        stack.as_deref(),
    );
    if let Some(kind) = &fault {
        shared
            .stats
            .injected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{service}:{operation} {kind:?}"));
        match kind {
            FaultKind::Status(code) => return error_response(service, *code, false),
            FaultKind::Throttle => return error_response(service, 503, true),
            FaultKind::Drop => {
                // A body that fails at once makes the server drop the connection mid-answer.
                let broken = Body::from_stream(futures_util::stream::once(async {
                    Err::<axum::body::Bytes, _>(std::io::Error::other(
                        "injected: connection dropped",
                    ))
                }));
                return (StatusCode::OK, [("content-length", "100")], broken).into_response();
            }
            FaultKind::Delay(d) => tokio::time::sleep(*d).await,
            FaultKind::NoRange => {
                parts.headers.remove("range");
            }
            // A CodePipeline fault: the local CodePipeline plays it, not this proxy.
            FaultKind::InvalidNonce => {}
        }
    }
    // moto has no drift API: the proxy answers it, after any fault (a throttled detection is
    // throttled before it starts).
    if let (Some(form), true) = (&form, DRIFT_OPERATIONS.contains(&operation.as_str())) {
        return shared
            .drift
            .answer(&operation, form, &parts.headers, &shared.stats)
            .await;
    }
    // moto's stack-set operations end at once and never collide: the proxy plays them.
    let pending = match (&form, SET_OPERATIONS.contains(&operation.as_str())) {
        (Some(form), true) => match shared
            .sets
            .before(&operation, form, &parts.headers, &shared.stats)
            .await
        {
            Before::Answer(response) => return response,
            Before::Forward(pending) => pending,
        },
        _ => None,
    };

    let target = format!(
        "{}{}",
        shared.upstream.to_string().trim_end_matches('/'),
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    parts.uri = match target.parse() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    // The client names the proxy as host; the signature does not matter to moto.
    if let Some(authority) = shared.upstream.authority() {
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            parts.headers.insert("host", host);
        }
    }
    let upstream = match shared
        .client
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    };
    let (parts, body) = upstream.into_parts();
    let counted = if service == "S3" {
        let stats = shared.stats.clone();
        Body::new(body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                stats
                    .s3_bytes
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        }))
    } else {
        Body::new(body)
    };
    let response = Response::from_parts(parts, counted);
    match pending {
        Some(pending) => pending.finish(response).await,
        None => response,
    }
}
