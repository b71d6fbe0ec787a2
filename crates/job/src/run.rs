//! One step of a CodePipeline job: its configuration and continuation token read, the engine
//! advanced within a time budget, and the outcome turned into exactly one [`Report`].

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use cfn_deployer_engine::{Deployer, Outcome, Pace};
use cfn_deployer_params::Params;
use tracing::Instrument;

use crate::error::{failure_type, JobError};
use crate::io::{write_outputs, JobFiles};
use crate::job::{Configuration, Job};
use crate::report::Report;
use crate::{token, wording};

/// The idempotency token for a job: every delivery of the same job derives the same one.
pub fn request_token(job_id: &str) -> String {
    let clean: String = job_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut token = format!("cfn-deployer-{clean}");
    token.truncate(128);
    token
}

/// Reads the pace of polls from `CFN_DEPLOYER_POLL_WITHIN_SECONDS` and
/// `CFN_DEPLOYER_POLL_INTERVAL_SECONDS`; an absent or unreadable value keeps the default.
pub fn pace_from_env() -> Pace {
    let secs = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .and_then(|v| Duration::try_from_secs_f64(v).ok())
    };
    let default = Pace::default();
    Pace {
        poll_within: secs("CFN_DEPLOYER_POLL_WITHIN_SECONDS").unwrap_or(default.poll_within),
        poll_interval: secs("CFN_DEPLOYER_POLL_INTERVAL_SECONDS")
            .filter(|d| !d.is_zero())
            .unwrap_or(default.poll_interval),
    }
}

/// The time kept back from a deadline for reporting: a tenth of what is left at the start,
/// between one and five seconds.
pub fn reserve(left: Duration) -> Duration {
    (left / 10).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// How long the work of a step may take, or `None` when the deadline is unknown. A deadline
/// already past is taken as unknown: `cargo lambda watch` sends one in 1970.
pub fn work_budget(deadline: Option<SystemTime>, now: SystemTime) -> Option<Duration> {
    let left = deadline?.duration_since(now).ok()?;
    Some(left.saturating_sub(reserve(left)))
}

/// Runs CodePipeline jobs, one step each.
#[derive(Debug, Clone)]
pub struct Runner {
    sdk: SdkConfig,
    deployer: Deployer,
    pace: Pace,
}

impl Runner {
    /// A runner with the shared SDK settings and the CloudFormation client to deploy with.
    pub fn new(sdk: SdkConfig, cloudformation: aws_sdk_cloudformation::Client) -> Self {
        Self {
            sdk,
            deployer: Deployer::new(cloudformation),
            pace: Pace::default(),
        }
    }

    /// The same runner, pacing its polls so.
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// Runs one step of `job` within `budget` (none: no limit) and says how to report it.
    pub async fn run_job(&self, job: &Job, budget: Option<Duration>) -> Report {
        match self.run(job, budget).await {
            Ok(report) => report,
            Err(err) => Report::from(err),
        }
    }

    async fn run(&self, job: &Job, budget: Option<Duration>) -> Result<Report, JobError> {
        let params = match &job.configuration {
            Configuration::UserParameters(text) => Params::from_user_parameters(text.as_deref())?,
            Configuration::Properties { values, query } => {
                Params::from_configuration(values, query.as_deref())?
            }
        };
        let span = tracing::info_span!("deploy", stack = %params.stack);
        async {
            let flight = match &job.continuation_token {
                Some(text) => Some(token::decode(text, &params.stack)?),
                None => None,
            };
            let plan = params.plan(&request_token(&job.id));
            let files = JobFiles::new(&self.sdk, job, &params);
            let outcome = self
                .deployer
                .advance(&plan, &files, flight, self.pace, budget)
                .await
                .map_err(JobError::from)?;
            if let (Outcome::Succeeded { outputs, .. }, Some(name), true) =
                (&outcome, &params.output_file_name, plan.action.deploys())
            {
                write_outputs(&self.sdk, job, name, outputs).await?;
            }
            report(outcome)
        }
        .instrument(span)
        .await
    }
}

/// The report for an outcome: one of each, no other way.
pub fn report(outcome: Outcome) -> Result<Report, JobError> {
    Ok(match outcome {
        Outcome::Succeeded {
            stack_id,
            summary,
            outputs,
        } => Report::Success {
            output_variables: outputs,
            summary,
            external_id: Some(stack_id),
        },
        Outcome::InProgress {
            flight,
            summary,
            percent,
        } => Report::Continue {
            percent,
            token: token::encode(&flight)?,
            summary,
            external_id: flight.stack_id,
        },
        Outcome::Failed(failure) => Report::Failure {
            kind: failure_type(failure.kind),
            message: wording::message(&failure),
            external_id: failure.stack_id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_keep_time_to_report() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |secs: u64| Some(now + Duration::from_secs(secs));
        assert_eq!(work_budget(at(120), now), Some(Duration::from_secs(115)));
        assert_eq!(work_budget(at(30), now), Some(Duration::from_secs(27)));
        assert_eq!(work_budget(at(3), now), Some(Duration::from_secs(2)));
        // Past or absent deadlines are unknown, not "no time left".
        assert_eq!(work_budget(Some(SystemTime::UNIX_EPOCH), now), None);
        assert_eq!(work_budget(None, now), None);
    }

    #[test]
    fn request_tokens_fit_cloudformation() {
        let t = request_token("11111111-abcd-1111-abcd-111111abcdef");
        assert_eq!(t, "cfn-deployer-11111111-abcd-1111-abcd-111111abcdef");
        let long = request_token(&"x/".repeat(300));
        assert!(long.len() <= 128);
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
