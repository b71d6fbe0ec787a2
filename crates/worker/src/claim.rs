//! One job, from claim to report: acknowledged with its nonce before anything else, run one
//! step, reported exactly once, the report retried until CodePipeline takes it or says the job
//! already has one.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::types::{Job, JobStatus};
use aws_sdk_codepipeline::Client;
use cfn_deployer_job::{job, JobError, Report, Runner};
use tracing::{info, warn, Instrument};

use crate::Backoff;

/// How often a report is sent again when CodePipeline cannot be reached (each send already
/// makes the SDK's own attempts).
const REPORT_ROUNDS: usize = 5;

/// What a job needs from the worker.
pub(crate) struct Claim {
    pub(crate) runner: Arc<Runner>,
    pub(crate) codepipeline: Client,
    pub(crate) query: Option<String>,
    pub(crate) step_budget: Duration,
}

/// `AcknowledgeJob` says another worker holds the job: its nonce is stale (`InvalidNonce`) or
/// the job is gone (`JobNotFound`). Either way it is not this worker's to run or report.
fn owned_elsewhere(code: Option<&str>) -> bool {
    matches!(code, Some("InvalidNonceException" | "JobNotFoundException"))
}

impl Claim {
    /// Claims `job`, runs one step of it and reports it; or leaves it alone if it is not ours.
    pub(crate) async fn run(self, polled: Job) {
        let job_id = polled.id().unwrap_or_default().to_owned();
        let span = tracing::info_span!("job", job_id = %job_id);
        async move {
            let nonce = polled.nonce().unwrap_or_default().to_owned();
            match self
                .codepipeline
                .acknowledge_job()
                .job_id(&job_id)
                .nonce(&nonce)
                .send()
                .await
            {
                Ok(out) if out.status() == Some(&JobStatus::InProgress) => {
                    info!("job claimed");
                }
                Ok(out) => {
                    info!(status = ?out.status(), "job not in progress after claiming: leaving it");
                    return;
                }
                Err(e) if owned_elsewhere(e.code()) => {
                    info!(code = e.code().unwrap_or_default(), "another worker holds the job: leaving it");
                    return;
                }
                Err(e) => {
                    let fault = cfn_deployer_aws::AwsFault::of(&e);
                    warn!(error = %fault.to_text(), "could not claim the job: leaving it for CodePipeline to hand out again");
                    return;
                }
            }
            let report = match job::from_sdk(polled, self.query.as_deref()) {
                Ok(job) => self.runner.run_job(&job, Some(self.step_budget)).await,
                Err(e) => Report::from(JobError::from(e)),
            };
            self.report(&job_id, report).await;
        }
        .instrument(span)
        .await
    }

    async fn report(&self, job_id: &str, report: Report) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(16));
        for round in 1..=REPORT_ROUNDS {
            match cfn_deployer_job::deliver(&self.codepipeline, job_id, report.clone()).await {
                Ok(_) => return,
                Err(e) if round < REPORT_ROUNDS => {
                    let wait = backoff.wait();
                    warn!(error = %e, round, retry_in_ms = wait.as_millis() as u64, "report not taken: sending it again");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    warn!(error = %e, "report not taken after {REPORT_ROUNDS} rounds: CodePipeline will time the job out");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stale_nonce_or_a_gone_job_means_another_worker_has_it() {
        assert!(owned_elsewhere(Some("InvalidNonceException")));
        assert!(owned_elsewhere(Some("JobNotFoundException")));
        assert!(!owned_elsewhere(Some("ThrottlingException")));
        assert!(!owned_elsewhere(None));
    }
}
