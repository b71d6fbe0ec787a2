//! The local CodePipeline job API, over awsJson1.1 as the real one: `PutJobSuccessResult` and
//! `PutJobFailureResult` for every job, and for custom actions `PollForJobs`, `AcknowledgeJob`
//! and `GetJobDetails`, with the service's job states (Queued → Dispatched with a nonce →
//! InProgress → finished), its validation and its errors. Faults can be injected per operation.

use std::collections::{BTreeMap, HashMap, VecDeque};

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{json, Value};

use crate::notice::{Notice, Notifier};
use crate::outcome::JobResult;
use crate::proxy::{Fault, FaultKind};

mod errors;

use self::errors::{check_len, error, injected, invalid, job_id, not_found};
pub(crate) use self::errors::{serialization, ApiError};

/// The CodePipeline operations this service plays; faults naming one of them are injected here.
pub const OPERATIONS: &[&str] = &[
    "PollForJobs",
    "AcknowledgeJob",
    "GetJobDetails",
    "PutJobSuccessResult",
    "PutJobFailureResult",
];

/// A custom action type, as `CreateCustomActionType` registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionType {
    /// `Deploy`, `Build`, …
    pub category: String,
    /// `Custom`.
    pub owner: String,
    /// The provider's name.
    pub provider: String,
    /// The version.
    pub version: String,
    /// The one queryable configuration property, if any.
    pub queryable: Option<String>,
}

impl ActionType {
    /// Its `actionTypeId`, as jobs carry it.
    pub fn id(&self) -> Value {
        json!({"category": self.category, "owner": self.owner, "provider": self.provider, "version": self.version})
    }

    fn matches(&self, id: &Value) -> bool {
        self.id() == *id
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Queued,
    Dispatched { nonce: String },
    InProgress { nonce: Option<String> },
    Finished { succeeded: bool },
}

#[derive(Debug)]
struct Entry {
    state: State,
    /// For custom-action jobs: the type and the job's data.
    custom: Option<(usize, Value)>,
}

/// The jobs and action types the service knows, and the faults still to inject.
#[derive(Debug, Default)]
pub(crate) struct Book {
    jobs: HashMap<String, Entry>,
    queue: VecDeque<String>,
    types: Vec<ActionType>,
    faults: Vec<Fault>,
    calls: BTreeMap<String, u64>,
}

impl Book {
    pub(crate) fn add_job(&mut self, job_id: &str) {
        self.jobs.insert(
            job_id.to_owned(),
            Entry {
                state: State::InProgress { nonce: None },
                custom: None,
            },
        );
    }

    pub(crate) fn register(&mut self, action_type: ActionType) {
        if !self.types.contains(&action_type) {
            self.types.push(action_type);
        }
    }

    /// Queues a custom-action job of `action_type` (registered first if need be).
    pub(crate) fn queue(&mut self, job_id: &str, action_type: &ActionType, data: Value) {
        self.register(action_type.clone());
        let index = self
            .types
            .iter()
            .position(|t| t == action_type)
            .unwrap_or_default();
        self.jobs.insert(
            job_id.to_owned(),
            Entry {
                state: State::Queued,
                custom: Some((index, data)),
            },
        );
        self.queue.push_back(job_id.to_owned());
    }

    pub(crate) fn set_faults(&mut self, faults: Vec<Fault>) {
        self.faults = faults;
    }

    pub(crate) fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.clone()
    }

    /// The fault due for this call of `operation`, if any, counted down.
    fn fault(&mut self, operation: &str) -> Option<FaultKind> {
        crate::proxy::due(&mut self.faults, operation, None)
    }
}

/// The local CodePipeline: its book of jobs, and where it tells the run what it saw.
pub(crate) struct Service {
    book: Mutex<Book>,
    notices: Notifier,
}

impl Service {
    /// A service with no jobs yet, telling `notices`.
    pub(crate) fn new(notices: Notifier) -> Self {
        Self {
            book: Mutex::default(),
            notices,
        }
    }

    /// The book, locked.
    pub(crate) fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self, notice: Notice) {
        self.notices.notify(notice);
    }
}

/// Serves one call; the answer's body, or the error to send.
pub(crate) async fn call(shared: &Service, target: &str, body: &Value) -> Result<Value, ApiError> {
    let operation = target
        .strip_prefix("CodePipeline_20150709.")
        .unwrap_or(target)
        .to_owned();
    let fault = {
        let mut book = shared.book();
        *book.calls.entry(operation.clone()).or_default() += 1;
        book.fault(&operation)
    };
    if let Some(FaultKind::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let is_put = operation.starts_with("PutJob");
    // A PutJob* fault strikes after the result is recorded: the hard case, where the caller's
    // retry finds the job finished.
    if let (false, Some(err)) = (is_put, fault.as_ref().and_then(injected)) {
        return Err(err);
    }
    let answer = match operation.as_str() {
        "PollForJobs" => poll_for_jobs(shared, body),
        "AcknowledgeJob" => acknowledge(shared, body, fault == Some(FaultKind::InvalidNonce)),
        "GetJobDetails" => job_details(shared, body),
        "PutJobSuccessResult" | "PutJobFailureResult" => put_job_result(shared, &operation, body),
        other => Err(error(
            "UnknownOperationException",
            format!("this local CodePipeline does not serve `{other}`"),
        )),
    }?;
    if let (true, Some(err)) = (is_put, fault.as_ref().and_then(injected)) {
        return Err(err);
    }
    Ok(answer)
}

fn poll_for_jobs(shared: &Service, body: &Value) -> Result<Value, ApiError> {
    let id = body
        .get("actionTypeId")
        .ok_or_else(|| invalid("actionTypeId is required"))?;
    for field in ["category", "owner", "provider", "version"] {
        if !id.get(field).is_some_and(Value::is_string) {
            return Err(invalid(format!("actionTypeId.{field} is required")));
        }
    }
    if id.get("owner").and_then(Value::as_str) != Some("Custom") {
        return Err(invalid(
            "PollForJobs is valid only for action types with Custom in the owner field",
        ));
    }
    let max = match body.get("maxBatchSize") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(invalid("Value at 'maxBatchSize' failed to satisfy constraint: Member must have value greater than or equal to 1")),
        },
    };
    let query: Vec<(String, String)> = match body.get("queryParam") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        Some(_) => return Err(invalid("queryParam must be a map")),
    };
    if query.len() > 1 {
        return Err(invalid("Value at 'queryParam' failed to satisfy constraint: Member must have length less than or equal to 1"));
    }
    if let Some((key, value)) = query.first() {
        let ok = (1..=50).contains(&key.len())
            && (1..=50).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(invalid(format!("queryParam `{key}`: keys and values are 1 to 50 characters, values of [a-zA-Z0-9_-]")));
        }
    }
    let mut book = shared.book();
    let Some(index) = book.types.iter().position(|t| t.matches(id)) else {
        return Err(error(
            "ActionTypeNotFoundException",
            format!("Action type {id} was not found"),
        ));
    };
    let queryable = book.types[index].queryable.clone();
    match (&queryable, query.first()) {
        (Some(key), None) => {
            return Err(invalid(format!(
                "The action type has the queryable property `{key}`: queryParam must name it"
            )))
        }
        (None, Some(_)) => return Err(invalid(
            "queryParam must be null or an empty map: the action type has no queryable property",
        )),
        (Some(key), Some((asked, _))) if key != asked => {
            return Err(invalid(format!(
                "queryParam must name the queryable property `{key}`, not `{asked}`"
            )))
        }
        _ => {}
    }
    let mut jobs = Vec::new();
    let mut kept = VecDeque::new();
    while let Some(job_id) = book.queue.pop_front() {
        let matches = book.jobs.get(&job_id).is_some_and(|e| {
            e.state == State::Queued
                && e.custom.as_ref().is_some_and(|(t, data)| {
                    *t == index
                        && query.first().is_none_or(|(k, v)| {
                            data.pointer(&format!("/actionConfiguration/configuration/{k}"))
                                .and_then(Value::as_str)
                                == Some(v.as_str())
                        })
                })
        });
        if !matches || jobs.len() >= max {
            kept.push_back(job_id);
            continue;
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        if let Some(entry) = book.jobs.get_mut(&job_id) {
            entry.state = State::Dispatched {
                nonce: nonce.clone(),
            };
            let data = entry.custom.as_ref().map(|(_, d)| d.clone());
            jobs.push(
                json!({"id": job_id, "data": data, "nonce": nonce, "accountId": "123456789012"}),
            );
        }
        shared.notify(Notice::Dispatched {
            job_id: job_id.clone(),
        });
    }
    book.queue = kept;
    Ok(json!({"jobs": jobs}))
}

fn acknowledge(shared: &Service, body: &Value, stale: bool) -> Result<Value, ApiError> {
    let id = job_id(body)?;
    let nonce = check_len(body, "/nonce", 1, 50)?.ok_or_else(|| invalid("nonce is required"))?;
    let mut book = shared.book();
    let entry = book.jobs.get_mut(&id).ok_or_else(|| not_found(&id))?;
    let wrong = error(
        "InvalidNonceException",
        format!("The nonce for job {id} is not valid"),
    );
    let status = match &entry.state {
        // Injected: the job was dispatched again meanwhile, to another worker.
        State::Dispatched { .. } if stale => {
            entry.state = State::Queued;
            book.queue.push_front(id);
            return Err(wrong);
        }
        State::Dispatched { nonce: n } if *n == nonce => {
            entry.state = State::InProgress { nonce: Some(nonce) };
            shared.notify(Notice::Acknowledged { job_id: id.clone() });
            "InProgress"
        }
        State::InProgress { nonce: Some(n) } if *n == nonce => "InProgress",
        State::Finished { succeeded: true } => "Succeeded",
        State::Finished { succeeded: false } => "Failed",
        _ => return Err(wrong),
    };
    Ok(json!({"status": status}))
}

fn job_details(shared: &Service, body: &Value) -> Result<Value, ApiError> {
    let id = job_id(body)?;
    let book = shared.book();
    let entry = book.jobs.get(&id).ok_or_else(|| not_found(&id))?;
    let data = entry
        .custom
        .as_ref()
        .map(|(_, d)| d.clone())
        .unwrap_or(Value::Null);
    Ok(json!({"jobDetails": {"id": id, "data": data, "accountId": "123456789012"}}))
}

fn put_job_result(shared: &Service, operation: &str, body: &Value) -> Result<Value, ApiError> {
    let job_id = job_id(body)?;
    let result = match operation {
        "PutJobSuccessResult" => {
            let continuation_token = check_len(body, "/continuationToken", 1, 2048)?;
            let summary = check_len(body, "/executionDetails/summary", 1, 2048)?;
            let external_id = check_len(body, "/executionDetails/externalExecutionId", 1, 1500)?;
            let percent_complete = body
                .pointer("/executionDetails/percentComplete")
                .and_then(Value::as_i64);
            if let Some(p) = body.pointer("/executionDetails/percentComplete") {
                if !p.as_i64().is_some_and(|p| (0..=100).contains(&p)) {
                    return Err(invalid(
                        "executionDetails.percentComplete must be between 0 and 100",
                    ));
                }
            }
            let output_variables = body
                .get("outputVariables")
                .cloned()
                .filter(|v| !v.is_null());
            if output_variables.is_some() && continuation_token.is_some() {
                return Err(invalid("outputVariables can only be set when the job is finished (no continuationToken)"));
            }
            JobResult::Succeeded {
                continuation_token,
                summary,
                external_id,
                output_variables,
                percent_complete,
            }
        }
        _ => {
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
                return Err(invalid(format!(
                    "failureDetails.type `{kind}` is not one of {}",
                    TYPES.join(", ")
                )));
            }
            let message = check_len(body, "/failureDetails/message", 1, 5000)?
                .ok_or_else(|| invalid("failureDetails.message is required"))?;
            let external_id = check_len(body, "/failureDetails/externalExecutionId", 1, 1500)?;
            JobResult::Failed {
                kind,
                message,
                external_id,
            }
        }
    };
    {
        let mut book = shared.book();
        let entry = book
            .jobs
            .get_mut(&job_id)
            .ok_or_else(|| not_found(&job_id))?;
        match entry.state {
            State::InProgress { .. } => {
                entry.state = State::Finished {
                    succeeded: matches!(result, JobResult::Succeeded { .. }),
                };
            }
            State::Queued | State::Dispatched { .. } => {
                return Err(error(
                    "InvalidJobStateException",
                    format!("Job {job_id} has not been acknowledged"),
                ))
            }
            State::Finished { .. } => {
                return Err(error(
                    "InvalidJobStateException",
                    format!("Job {job_id} is not in an in-progress state"),
                ))
            }
        }
    }
    shared.notify(Notice::Reported { job_id, result });
    Ok(json!({}))
}
