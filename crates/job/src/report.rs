//! Reporting a job's end to CodePipeline: one [`Report`], one PutJob* call.

use aws_sdk_codepipeline::config::http::HttpResponse;
use aws_sdk_codepipeline::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use aws_sdk_codepipeline::Client;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

use cfn_deployer_aws::{truncate, AwsFault};
use cfn_deployer_engine::FailureKind as EngineKind;
use cfn_deployer_step::Failing;

/// CodePipeline's limit on `executionDetails.summary`.
pub const MAX_SUMMARY: usize = 2048;
/// CodePipeline's limit on `failureDetails.message`.
pub const MAX_MESSAGE: usize = 5000;
/// CodePipeline's limit on `externalExecutionId`.
pub const MAX_EXTERNAL_ID: usize = 1500;
/// The most output-variable bytes (keys and values) one action reports.
pub const MAX_VARIABLES_BYTES: usize = 100 * 1024;

/// The `failureDetails.type` CodePipeline shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The action is configured wrongly; fixing the pipeline fixes it.
    Configuration,
    /// Permission was refused.
    Permission,
    /// The deploy itself failed.
    JobFailed,
}

/// How a job ends, or continues.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// The job succeeded.
    Success {
        /// One line for the console.
        summary: String,
        /// The stack id, when there is one.
        external_id: Option<String>,
        /// The action's output variables: the stack's outputs.
        output_variables: BTreeMap<String, String>,
    },
    /// The job goes on: CodePipeline invokes the function again with `token`.
    Continue {
        /// The continuation token.
        token: String,
        /// One line on progress.
        summary: String,
        /// The stack id; empty when no stack under way has one yet (a group starting).
        external_id: String,
        /// How far the operation is, 0 to 100, when known.
        percent: Option<u8>,
    },
    /// The job failed.
    Failure {
        /// The failure type.
        kind: FailureKind,
        /// Why, and what to do.
        message: String,
        /// The stack id, when there is one.
        external_id: Option<String>,
    },
}

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// CodePipeline took it.
    Reported,
    /// The job was already finished: another delivery of it reported first.
    AlreadyReported,
    /// CodePipeline refused the report as invalid; a failure report saying so took its place.
    RefusalReported,
}

/// CodePipeline did not take the report.
#[derive(Debug, thiserror::Error)]
#[error("CodePipeline {operation} for job {job_id} failed: {message}")]
pub struct ReportError {
    /// The API operation.
    pub operation: &'static str,
    /// The job.
    pub job_id: String,
    /// What CodePipeline (or the network) said.
    pub message: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

fn details(summary: &str, external_id: Option<&str>, percent: Option<u8>) -> ExecutionDetails {
    ExecutionDetails::builder()
        .set_percent_complete(percent.map(|p| i32::from(p.min(100))))
        .summary(truncate(summary.to_owned(), MAX_SUMMARY))
        .set_external_execution_id(external_id.map(|id| truncate(id.to_owned(), MAX_EXTERNAL_ID)))
        .build()
}

/// The output variables CodePipeline takes: keys of `[A-Za-z0-9@_-]`, and at most
/// [`MAX_VARIABLES_BYTES`] in all (CodePipeline caps the variables of a whole pipeline run).
/// What does not fit is left out, with a log line naming it.
pub fn variables(outputs: BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    let mut kept = HashMap::new();
    let mut size = 0;
    for (key, value) in outputs {
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '_' | '-'));
        if !valid || size + key.len() + value.len() > MAX_VARIABLES_BYTES {
            warn!(output = %key, "stack output left out of the action's output variables: invalid name or over the size limit");
            continue;
        }
        size += key.len() + value.len();
        kept.insert(key, value);
    }
    (!kept.is_empty()).then_some(kept)
}

/// CodePipeline's failure type for an engine's kind of failure.
pub fn failure_type(kind: EngineKind) -> FailureKind {
    match kind {
        EngineKind::Configuration => FailureKind::Configuration,
        EngineKind::Permission => FailureKind::Permission,
        EngineKind::Deploy => FailureKind::JobFailed,
    }
}

impl Report {
    /// The failure report for `err`.
    pub fn from_error<E: Failing>(err: &E) -> Self {
        Self::Failure {
            kind: failure_type(err.kind()),
            message: err.to_string(),
            external_id: err.stack_id(),
        }
    }
}

/// How often a report is sent when CodePipeline cannot be reached (each send already makes
/// the SDK's own attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rounds {
    /// How many sends at most.
    pub count: usize,
    /// The wait after the first send that failed; it doubles after each.
    pub first_wait: Duration,
    /// No send starts after this.
    pub deadline: Option<Instant>,
}

impl Rounds {
    /// One send: the function's, since Lambda delivers an unreported job again.
    pub const ONCE: Self = Self {
        count: 1,
        first_wait: Duration::ZERO,
        deadline: None,
    };
}

/// Sends `report` for `job_id`: exactly one PutJobSuccessResult or PutJobFailureResult; and,
/// only when CodePipeline refuses that one as invalid, one short failure report that says so,
/// pointing at `logs` for the result.
pub async fn send(
    client: &Client,
    job_id: &str,
    report: Report,
    logs: &str,
) -> Result<Delivery, ReportError> {
    let (operation, result) = put(client, job_id, report).await;
    let refused = match result {
        Ok(()) => return Ok(Delivery::Reported),
        Err(f) if is_finished(&f) => return Ok(Delivery::AlreadyReported),
        Err(f) if is_refused(&f) => f,
        Err(f) => return Err(f.into_error(operation, job_id)),
    };
    // Sent again as it was, it would be refused again, for ever: report the refusal instead,
    // in plain ASCII and well within every limit.
    warn!(operation, reason = %refused.message, "CodePipeline refused the report: reporting the refusal instead");
    let message: String = format!(
        "cfn-deployer's {operation} for this job was refused by CodePipeline ({}), so the deploy's own result could not be reported; {logs} for job {job_id} hold it",
        refused.message
    )
    .chars()
    .map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' })
    .take(1000)
    .collect();
    let fallback = Report::Failure {
        kind: FailureKind::JobFailed,
        message,
        external_id: None,
    };
    match put(client, job_id, fallback).await {
        (_, Ok(())) => Ok(Delivery::RefusalReported),
        (_, Err(f)) if is_finished(&f) => Ok(Delivery::AlreadyReported),
        (operation, Err(f)) => Err(f.into_error(operation, job_id)),
    }
}

/// CodePipeline refuses a result for a job that already has one: a duplicate delivery of this
/// job reported first, so this one has nothing left to do.
fn is_finished(f: &Failed) -> bool {
    f.code.as_deref() == Some("InvalidJobStateException")
}

/// CodePipeline refuses a report it finds invalid (a limit counted differently than here).
fn is_refused(f: &Failed) -> bool {
    f.code.as_deref() == Some("ValidationException")
}

/// One PutJob* call for `report`: its operation's name and what came of it.
async fn put(client: &Client, job_id: &str, report: Report) -> (&'static str, Result<(), Failed>) {
    let success = |token: Option<String>, execution: ExecutionDetails, outputs| async move {
        client
            .put_job_success_result()
            .job_id(job_id)
            .set_continuation_token(token)
            .execution_details(execution)
            .set_output_variables(variables(outputs))
            .send()
            .await
            .map(drop)
            .map_err(Failed::from)
    };
    match report {
        Report::Success {
            summary,
            external_id,
            output_variables,
        } => (
            "PutJobSuccessResult",
            success(
                None,
                details(&summary, external_id.as_deref(), None),
                output_variables,
            )
            .await,
        ),
        // Output variables are only for a finished job: a continuation carries none.
        Report::Continue {
            token,
            summary,
            external_id,
            percent,
        } => (
            "PutJobSuccessResult",
            success(
                Some(token),
                details(
                    &summary,
                    Some(external_id.as_str()).filter(|id| !id.is_empty()),
                    percent,
                ),
                BTreeMap::new(),
            )
            .await,
        ),
        Report::Failure {
            kind,
            message,
            external_id,
        } => {
            let failure = FailureDetails::builder()
                .r#type(match kind {
                    FailureKind::Configuration => FailureType::ConfigurationError,
                    FailureKind::Permission => FailureType::PermissionError,
                    FailureKind::JobFailed => FailureType::JobFailed,
                })
                .message(truncate(message, MAX_MESSAGE))
                .set_external_execution_id(external_id.map(|id| truncate(id, MAX_EXTERNAL_ID)))
                .build();
            let result = match failure {
                Ok(f) => client
                    .put_job_failure_result()
                    .job_id(job_id)
                    .failure_details(f)
                    .send()
                    .await
                    .map(drop)
                    .map_err(Failed::from),
                Err(e) => Err(Failed::from(e)),
            };
            ("PutJobFailureResult", result)
        }
    }
}

/// Logs `report`, sends it in up to `rounds`, and logs what became of it: the one way every
/// front ends a job. `logs` names where the front's logs are.
pub async fn deliver(
    client: &Client,
    job_id: &str,
    report: Report,
    logs: &str,
    rounds: Rounds,
) -> Result<Delivery, ReportError> {
    match &report {
        Report::Success { summary, .. } => info!(%summary, "reporting success"),
        Report::Continue { summary, .. } => info!(%summary, "reporting progress, to continue"),
        Report::Failure { kind, message, .. } => info!(?kind, %message, "reporting failure"),
    }
    let mut wait = rounds.first_wait;
    let mut round = 1;
    let delivery = loop {
        let delivery = send(client, job_id, report.clone(), logs).await;
        let next = Instant::now() + wait;
        match delivery {
            Err(e) if round < rounds.count && rounds.deadline.is_none_or(|d| next < d) => {
                warn!(error = %e, round, retry_in_ms = wait.as_millis() as u64, "report not taken: sending it again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(16));
                round += 1;
            }
            other => break other,
        }
    };
    match &delivery {
        Ok(Delivery::Reported) => info!("reported"),
        Ok(Delivery::AlreadyReported) => info!("job already reported by another delivery of it"),
        Ok(Delivery::RefusalReported) => {
            warn!("the report was refused; its refusal was reported instead")
        }
        Err(e) if rounds.count > 1 => {
            warn!(error = %e, rounds = round, "report not taken: CodePipeline will time the job out")
        }
        Err(e) => warn!(error = %e, "report failed"),
    }
    delivery
}

/// A failed call, reduced to what decides the next step.
struct Failed {
    code: Option<String>,
    message: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl Failed {
    fn into_error(self, operation: &'static str, job_id: &str) -> ReportError {
        ReportError {
            operation,
            job_id: job_id.to_owned(),
            message: self.message,
            source: self.source,
        }
    }
}

impl<E> From<SdkError<E, HttpResponse>> for Failed
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        let fault = AwsFault::of(&err);
        Self {
            code: fault.code.clone(),
            message: fault.to_text(),
            source: Box::new(err),
        }
    }
}

impl From<aws_sdk_codepipeline::error::BuildError> for Failed {
    fn from(err: aws_sdk_codepipeline::error::BuildError) -> Self {
        Self {
            code: None,
            message: err.to_string(),
            source: Box::new(err),
        }
    }
}
