//! One job, from claim to report: acknowledged with its nonce before anything else, run one
//! step, reported exactly once, the report retried until CodePipeline takes it or says the job
//! already has one.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::types::{Job, JobStatus};
use aws_sdk_codepipeline::Client;
use cfn_deployer_job::{job, Rounds, Runner};
use tracing::{info, warn, Instrument};

use crate::{InFlight, Stop};

/// How often a report is sent when CodePipeline cannot be reached (each send already makes
/// the SDK's own attempts): a worker has no Lambda to deliver the job again.
const REPORT_ROUNDS: Rounds = Rounds {
    count: 5,
    first_wait: Duration::from_secs(1),
    deadline: None,
};

/// What a job needs from the worker.
pub(crate) struct Claim {
    pub(crate) runner: Arc<Runner>,
    pub(crate) codepipeline: Client,
    pub(crate) query: Option<String>,
    pub(crate) step_budget: Duration,
    /// Set when a stop is asked for: no claim after it.
    pub(crate) stop: Stop,
    /// Where the job is listed from its claim to its report.
    pub(crate) in_flight: InFlight,
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
            if self.stop.borrow().is_some() {
                info!("stop asked for before the claim: leaving the job for CodePipeline to hand out again");
                return;
            }
            match self
                .codepipeline
                .acknowledge_job()
                .job_id(&job_id)
                .nonce(&nonce)
                .send()
                .await
            {
                Ok(out) if out.status() == Some(&JobStatus::InProgress) => {
                    self.in_flight.add(&job_id);
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
            let parsed = job::from_sdk(polled, self.query.as_deref());
            // A report not taken is logged by the job layer; CodePipeline times the job out.
            let _ = self
                .runner
                .handle(
                    &self.codepipeline,
                    &job_id,
                    parsed,
                    Some(self.step_budget),
                    REPORT_ROUNDS,
                )
                .await;
            self.in_flight.remove(&job_id);
        }
        .instrument(span)
        .await
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
