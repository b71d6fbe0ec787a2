//! The custom-action job worker: polls CodePipeline for jobs of the action types it serves,
//! claims each with its nonce before any work, runs one step of it with the job layer, and
//! reports it once. Up to a fixed number of jobs run at once; polling backs off when
//! CodePipeline cannot be reached, ends on an error no wait can mend, and stops on request
//! while the jobs in flight finish their step and report, by a hard deadline.
//!
//! It is wiring: the job, its configuration, the deploy and the report are the job layer's and
//! the engine's. It must never deploy a job it has not claimed, nor claim one it will not report.

mod backoff;
mod claim;
mod poll;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner, ActionTypeId};
use aws_sdk_codepipeline::Client;
use cfn_deployer_job::{wording, Runner};
use cfn_deployer_step::Words;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
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
    /// CodePipeline refuses the poll in a way no wait mends.
    #[error("PollForJobs for action type {action_type} was refused: {message}: {fix}")]
    Refused {
        /// The action type asked for, as `Category/Custom/Provider/Version`.
        action_type: String,
        /// What CodePipeline said.
        message: String,
        /// What to fix.
        fix: &'static str,
    },
    /// The job slots closed, which only a bug does.
    #[error("the worker's job slots closed: {0}")]
    Slots(#[from] tokio::sync::AcquireError),
}

/// What the worker polls for and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The custom action types' category, e.g. `Deploy`.
    pub category: String,
    /// Their providers, e.g. `CfnDeployer`: one action type each.
    pub providers: Vec<String>,
    /// Their version, e.g. `1`.
    pub version: String,
    /// The queryable property and the value this worker serves, if the action type has one.
    pub query: Option<(String, String)>,
    /// How many jobs run at once.
    pub concurrency: usize,
    /// The pause between polls that found no job.
    pub idle_interval: Duration,
    /// The longest one step of a job may take before it hands back a continuation.
    pub step_budget: Duration,
    /// After a stop is asked for, how long the jobs in flight have to report.
    pub stop_within: Duration,
}

impl Settings {
    fn action_types(&self) -> Result<Vec<ActionTypeId>, WorkerError> {
        self.providers
            .iter()
            .map(|provider| {
                Ok(ActionTypeId::builder()
                    .category(ActionCategory::from(self.category.as_str()))
                    .owner(ActionOwner::Custom)
                    .provider(provider)
                    .version(&self.version)
                    .build()?)
            })
            .collect()
    }
}

/// When a stop was asked for: `None` while the worker runs.
pub type Stop = watch::Receiver<Option<Instant>>;

/// The jobs a worker has claimed and not yet reported, by id.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Mutex<BTreeSet<String>>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn add(&self, id: &str) {
        self.lock().insert(id.to_owned());
    }

    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The claimed jobs, by id.
    pub fn ids(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    /// Logs each job left `InProgress`: claimed, not reported; CodePipeline fails it when the
    /// action times out.
    pub fn log_left(&self) {
        for id in self.ids() {
            warn!(job_id = %id, "job left InProgress: stopped before its report; CodePipeline fails it when the action times out");
        }
    }
}

/// The worker: a job layer to run jobs with, and a CodePipeline client to take and report them.
#[derive(Debug, Clone)]
pub struct Worker {
    settings: Settings,
    runner: Arc<Runner>,
    codepipeline: Client,
    in_flight: InFlight,
}

impl Worker {
    /// A worker with these settings.
    pub fn new(settings: Settings, runner: Runner, codepipeline: Client) -> Self {
        Self {
            settings,
            runner: Arc::new(runner),
            codepipeline,
            in_flight: InFlight::default(),
        }
    }

    /// The jobs this worker has claimed and not reported.
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.clone()
    }

    /// Polls and runs jobs until a stop is asked for, then lets every job in flight finish its
    /// step and report it, and returns; by `stop_within` after the stop at the latest (a poll
    /// in flight included), leaving the jobs that have not reported logged. A poll refused for
    /// good ends the polling the same way, and is returned once the jobs in flight are done.
    pub async fn run(&self, mut stop: Stop) -> Result<(), WorkerError> {
        let action_types = self.settings.action_types()?;
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut jobs = JoinSet::new();
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        info!(
            category = %self.settings.category,
            providers = %self.settings.providers.join(","),
            version = %self.settings.version,
            concurrency = self.settings.concurrency,
            "polling for jobs"
        );
        let mut next = 0;
        let mut refused = None;
        while stop.borrow().is_none() {
            // A free slot first: never take a job that could not start at once.
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit?,
                _ = stop.changed() => break,
            };
            let mut first = Some(first);
            let free = slots.available_permits() + 1;
            let action_type = &action_types[next % action_types.len()];
            next += 1;
            // A poll in flight is never abandoned: the jobs it hands out are this worker's to
            // claim and report.
            let polled = poll::poll(
                &self.codepipeline,
                action_type,
                self.settings.query.as_ref(),
                free,
            )
            .await;
            let pause = match polled {
                Err(poll::Failed::Permanent(err)) => {
                    // The jobs already claimed still finish and report.
                    refused = Some(err);
                    break;
                }
                Err(poll::Failed::Passing(e)) => {
                    let wait = backoff.wait();
                    warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "PollForJobs failed: backing off");
                    Some(wait)
                }
                Ok(found) => {
                    backoff.reset();
                    let found = poll::servable(found, &action_types, free);
                    let idle = found.is_empty();
                    let mut permit = first.take();
                    for job in found {
                        // No claim after a stop is asked for.
                        if stop.borrow().is_some() {
                            break;
                        }
                        // At most the free slots were kept, so each gets one without a wait.
                        let Some(permit) = permit
                            .take()
                            .or_else(|| slots.clone().try_acquire_owned().ok())
                        else {
                            break;
                        };
                        let claim = claim::Claim {
                            runner: self.runner.clone(),
                            codepipeline: self.codepipeline.clone(),
                            query: self.settings.query.as_ref().map(|(k, _)| k.clone()),
                            step_budget: self.settings.step_budget,
                            stop: stop.clone(),
                            in_flight: self.in_flight.clone(),
                        };
                        jobs.spawn(async move {
                            claim.run(job).await;
                            drop(permit);
                        });
                    }
                    idle.then_some(self.settings.idle_interval)
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
            stop_within_ms = self.settings.stop_within.as_millis() as u64,
            "stopping: letting the jobs in flight report"
        );
        let drained = async {
            while let Some(done) = jobs.join_next().await {
                if let Err(e) = done {
                    warn!(error = %e, "a job task ended abnormally");
                }
            }
        };
        // Counted from the signal, not from the end of a poll that was in flight then.
        let asked = stop.borrow().unwrap_or_else(Instant::now);
        if tokio::time::timeout_at(asked + self.settings.stop_within, drained)
            .await
            .is_err()
        {
            self.in_flight.log_left();
        }
        info!("stopped");
        refused.map_or(Ok(()), Err)
    }
}
