//! The custom-action job worker: polls CodePipeline for jobs of one action type, claims each
//! with its nonce before any work, runs one step of it with the job layer, and reports it once.
//! Up to a fixed number of jobs run at once; polling backs off when CodePipeline cannot be
//! reached, and stops on request while the jobs in flight finish their step and report.
//!
//! It is wiring: the job, its configuration, the deploy and the report are the job layer's and
//! the engine's. It must never deploy a job it has not claimed, nor claim one it will not report.

mod backoff;
mod claim;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner, ActionTypeId};
use aws_sdk_codepipeline::Client;
use cfn_deployer_job::{wording, Runner};
use cfn_deployer_step::Words;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use backoff::Backoff;

/// The worker's words for a job: the pipeline's, with the worker's own step budget and logs.
pub const WORDS: Words = Words {
    remedy: |r| {
        wording::remedy(r, "raise the worker's --step-seconds so that a step has time to finish, then run the pipeline again")
    },
    again: wording::AGAIN,
    logs: "the worker's logs",
    id: wording::ID,
};

/// Why the worker stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The action type to poll for cannot be built from the settings.
    #[error("the action type to poll for is incomplete: {0}")]
    ActionType(#[from] aws_sdk_codepipeline::error::BuildError),
    /// The job slots closed, which only a bug does.
    #[error("the worker's job slots closed: {0}")]
    Slots(#[from] tokio::sync::AcquireError),
}

/// What the worker polls for and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The custom action type's category, e.g. `Deploy`.
    pub category: String,
    /// Its provider, e.g. `CfnDeployer`.
    pub provider: String,
    /// Its version, e.g. `1`.
    pub version: String,
    /// The queryable property and the value this worker serves, if the action type has one.
    pub query: Option<(String, String)>,
    /// How many jobs run at once.
    pub concurrency: usize,
    /// The pause between polls that found no job.
    pub idle_interval: Duration,
    /// The longest one step of a job may take before it hands back a continuation.
    pub step_budget: Duration,
}

impl Settings {
    fn action_type(&self) -> Result<ActionTypeId, WorkerError> {
        Ok(ActionTypeId::builder()
            .category(ActionCategory::from(self.category.as_str()))
            .owner(ActionOwner::Custom)
            .provider(&self.provider)
            .version(&self.version)
            .build()?)
    }
}

/// The worker: a job layer to run jobs with, and a CodePipeline client to take and report them.
#[derive(Debug, Clone)]
pub struct Worker {
    settings: Settings,
    runner: Arc<Runner>,
    codepipeline: Client,
}

impl Worker {
    /// A worker with these settings.
    pub fn new(settings: Settings, runner: Runner, codepipeline: Client) -> Self {
        Self {
            settings,
            runner: Arc::new(runner),
            codepipeline,
        }
    }

    /// Polls and runs jobs until `stop` turns true, then lets every job in flight finish its
    /// step and report it, and returns.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<(), WorkerError> {
        let action_type = self.settings.action_type()?;
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut jobs = JoinSet::new();
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        info!(
            category = %self.settings.category,
            provider = %self.settings.provider,
            version = %self.settings.version,
            concurrency = self.settings.concurrency,
            "polling for jobs"
        );
        while !*stop.borrow() {
            // A free slot first: never take a job that could not start at once.
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit?,
                _ = stop.changed() => break,
            };
            let mut first = Some(first);
            let free = slots.available_permits() + 1;
            // A poll in flight is never abandoned: the jobs it hands out are this worker's to
            // claim and report.
            let polled = self.poll(&action_type, free).await;
            let pause = match polled {
                Err(e) => {
                    let wait = backoff.wait();
                    warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "PollForJobs failed: backing off");
                    Some(wait)
                }
                Ok(found) if found.is_empty() => {
                    backoff.reset();
                    Some(self.settings.idle_interval)
                }
                Ok(found) => {
                    backoff.reset();
                    let mut permit = first.take();
                    for job in found {
                        let permit = match permit.take() {
                            Some(p) => p,
                            // Asked for no more than the free slots, so one is free.
                            None => slots.clone().acquire_owned().await?,
                        };
                        let claim = claim::Claim {
                            runner: self.runner.clone(),
                            codepipeline: self.codepipeline.clone(),
                            query: self.settings.query.as_ref().map(|(k, _)| k.clone()),
                            step_budget: self.settings.step_budget,
                        };
                        jobs.spawn(async move {
                            claim.run(job).await;
                            drop(permit);
                        });
                    }
                    None
                }
            };
            // The slot is free again while the worker waits.
            drop(first);
            if let Some(pause) = pause {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
            while let Some(done) = jobs.try_join_next() {
                if let Err(e) = done {
                    warn!(error = %e, "a job task ended abnormally");
                }
            }
        }
        info!(
            in_flight = jobs.len(),
            "stopping: letting the jobs in flight report"
        );
        while let Some(done) = jobs.join_next().await {
            if let Err(e) = done {
                warn!(error = %e, "a job task ended abnormally");
            }
        }
        info!("stopped");
        Ok(())
    }

    async fn poll(
        &self,
        action_type: &ActionTypeId,
        max: usize,
    ) -> Result<Vec<aws_sdk_codepipeline::types::Job>, String> {
        let mut poll = self
            .codepipeline
            .poll_for_jobs()
            .action_type_id(action_type.clone())
            .max_batch_size(i32::try_from(max).unwrap_or(i32::MAX));
        if let Some((key, value)) = &self.settings.query {
            poll = poll.query_param(key, value);
        }
        match poll.send().await {
            Ok(out) => Ok(out.jobs.unwrap_or_default()),
            Err(e) => Err(cfn_deployer_aws::AwsFault::of(&e).to_text()),
        }
    }
}
