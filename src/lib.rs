//! The Lambda function: the front through which a CodePipeline Invoke action reaches the
//! deploy engine. It reads the invocation's event, hands the job to the job layer with the
//! invocation's time budget, and sends the one report. Wiring only: the deploy logic lives in
//! `cfn-deployer-engine`, the job logic in `cfn-deployer-job`.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use std::time::SystemTime;

use cfn_deployer_job::{job, Delivery, JobError, Report, ReportError, Runner};
use serde_json::Value;
use tracing::{warn, Instrument};

/// The invocation could not end its job.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event has no job id, so there is nothing to report to.
    #[error("the event is not a CodePipeline job (no `CodePipeline.job.id`); nothing to report")]
    NotAJob,
    /// The report did not reach CodePipeline; returning the error makes Lambda deliver the job
    /// again.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match err {
            HandlerError::NotAJob => "NotAJob",
            HandlerError::Report(_) => "ReportFailed",
        };
        Self {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

/// Handles the function's invocations.
#[derive(Debug, Clone)]
pub struct Handler {
    runner: Runner,
    codepipeline: aws_sdk_codepipeline::Client,
}

impl Handler {
    /// A handler that runs jobs with `runner` and reports them with `codepipeline`.
    pub fn new(runner: Runner, codepipeline: aws_sdk_codepipeline::Client) -> Self {
        Self {
            runner,
            codepipeline,
        }
    }

    /// Handles one event: runs the job one step and reports it exactly once. The work stops
    /// before `deadline` (the invocation's) and hands back a continuation instead.
    pub async fn handle(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Delivery, HandlerError> {
        let Some(job_id) = job::job_id(&event).map(str::to_owned) else {
            warn!("event without a CodePipeline job id");
            return Err(HandlerError::NotAJob);
        };
        let span = tracing::info_span!("job", job_id = %job_id);
        async move {
            let budget = cfn_deployer_job::work_budget(deadline, SystemTime::now());
            let report = match job::parse(event) {
                Ok(job) => self.runner.run_job(&job, budget).await,
                Err(e) => Report::from(JobError::from(e)),
            };
            let delivery = cfn_deployer_job::deliver(&self.codepipeline, &job_id, report).await;
            if delivery.is_err() {
                warn!("returning an error so that Lambda delivers the job again");
            }
            Ok(delivery?)
        }
        .instrument(span)
        .await
    }
}
