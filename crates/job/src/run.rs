//! One step of a CodePipeline job: its configuration and continuation token read, the engine
//! advanced within a time budget, and the outcome turned into exactly one [`Report`].

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use cfn_deployer_engine::review::markdown;
use cfn_deployer_engine::{catch_panic, request_token, Deployer, Outcome, Pace, RolePolicy};
use cfn_deployer_params::Params;
use tracing::{error, Instrument};

use crate::error::{failure_type, JobError};
use crate::io::{write_output_artifact, JobFiles};
use crate::job::{Configuration, Job};
use crate::report::{FailureKind, Report};
use crate::{token, wording};

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

/// The shared SDK settings of a front: the standard environment (region, credentials,
/// endpoints), and timeouts on every call, so that a hung connection never outlives a step.
pub async fn sdk_config() -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}

/// Reads `CFN_DEPLOYER_STAGING_BUCKET`: the bucket templates too large to pass inline are
/// staged in, with the deployer's own role.
pub fn staging_bucket_from_env() -> Option<String> {
    std::env::var("CFN_DEPLOYER_STAGING_BUCKET")
        .ok()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
}

/// Reads the service roles the deployer may hand to CloudFormation:
/// `CFN_DEPLOYER_SERVICE_ROLE_ARN`, the role every deploy passes unless it names another, and
/// `CFN_DEPLOYER_ALLOWED_ROLE_ARNS`, further roles a deploy may name (separated by commas or
/// spaces). Neither set: CloudFormation acts as it would with no policy.
pub fn roles_from_env() -> RolePolicy {
    let service_role = std::env::var("CFN_DEPLOYER_SERVICE_ROLE_ARN")
        .ok()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let allowed = std::env::var("CFN_DEPLOYER_ALLOWED_ROLE_ARNS")
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    RolePolicy {
        service_role,
        allowed,
    }
}

/// The time kept back from a deadline for reporting: a tenth of what is left at the start,
/// between one and five seconds.
pub fn reserve(left: Duration) -> Duration {
    (left / 10).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// How long the work of a step may take, or `None` when the deadline is unknown. A deadline
/// already past is taken as unknown: `cargo lambda watch` sends one in 1970. A step always
/// gets at least half the time left, however short, so that a short timeout still moves.
pub fn work_budget(deadline: Option<SystemTime>, now: SystemTime) -> Option<Duration> {
    let left = deadline?.duration_since(now).ok()?;
    Some(left.saturating_sub(reserve(left)).max(left / 2))
}

/// Runs CodePipeline jobs, one step each.
#[derive(Debug, Clone)]
pub struct Runner {
    sdk: SdkConfig,
    deployer: Deployer,
    pace: Pace,
    staging_bucket: Option<String>,
}

impl Runner {
    /// A runner with the shared SDK settings and the deployer to deploy with.
    pub fn new(sdk: SdkConfig, deployer: Deployer) -> Self {
        Self {
            sdk,
            deployer,
            pace: Pace::default(),
            staging_bucket: None,
        }
    }

    /// The same runner, staging templates too large to pass inline in `bucket`.
    pub fn with_staging_bucket(mut self, bucket: Option<String>) -> Self {
        self.staging_bucket = bucket;
        self
    }

    /// The same runner, pacing its polls so.
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// Runs one step of `job` within `budget` (none: no limit) and says how to report it.
    /// Whatever happens in the step, a panic included, ends in a report.
    pub async fn run_job(&self, job: &Job, budget: Option<Duration>) -> Report {
        guarded(self.run(job, budget)).await
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
            let files = JobFiles::new(&self.sdk, job, &params, self.staging_bucket.as_deref());
            let outcome = self
                .deployer
                .advance(&plan, &files, flight, self.pace, budget)
                .await
                .map_err(JobError::from)?;
            if let (
                Outcome::Succeeded {
                    outputs, review, ..
                },
                Some(name),
            ) = (&outcome, &params.output_file_name)
            {
                let files = match review {
                    // A change set to approve: the review, for machines and for a person.
                    Some(review) => vec![
                        (
                            name.clone(),
                            serde_json::to_vec_pretty(review).unwrap_or_default(),
                        ),
                        ("review.md".to_owned(), markdown(review).into_bytes()),
                    ],
                    None if plan.action.deploys() => {
                        vec![(
                            name.clone(),
                            serde_json::to_vec_pretty(outputs).unwrap_or_default(),
                        )]
                    }
                    None => Vec::new(),
                };
                if !files.is_empty() {
                    write_output_artifact(&self.sdk, job, name, &files).await?;
                }
            }
            report(outcome)
        }
        .instrument(span)
        .await
    }
}

/// Where to report a bug, named in the message of a step that panicked.
pub const ISSUES_URL: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/issues");

/// Runs a step and turns whatever it ends in into a report: its result, its error, or, when
/// it panics, a `JobFailed` report that says it is a bug and how to report it. (An abort
/// cannot be caught; the template reader's bounds exist so that none happens.)
pub async fn guarded<F>(step: F) -> Report
where
    F: Future<Output = Result<Report, JobError>>,
{
    match catch_panic(step).await {
        Ok(Ok(report)) => report,
        Ok(Err(err)) => Report::from(err),
        Err(what) => {
            error!(panic = %what, "the step panicked: reporting an internal error");
            Report::Failure {
                kind: FailureKind::JobFailed,
                message: format!(
                    "cfn-deployer hit an internal error (a bug, not a problem with the stack or the pipeline): {what}. Run the pipeline again; if it happens again, report it at {ISSUES_URL} with this message and the job id from the function's logs"
                ),
                external_id: None,
            }
        }
    }
}

/// The report for an outcome: one of each, no other way.
pub fn report(outcome: Outcome) -> Result<Report, JobError> {
    Ok(match outcome {
        Outcome::Succeeded {
            stack_id,
            summary,
            outputs,
            review,
            ..
        } => Report::Success {
            output_variables: outputs,
            summary,
            // A change set to approve: the console links to it.
            external_id: Some(review.and_then(|r| r.change_set_id).unwrap_or(stack_id)),
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
        // A second left: the reserve would take it all; the step still gets half.
        assert_eq!(work_budget(at(1), now), Some(Duration::from_millis(500)));
        // Past or absent deadlines are unknown, not "no time left".
        assert_eq!(work_budget(Some(SystemTime::UNIX_EPOCH), now), None);
        assert_eq!(work_budget(None, now), None);
    }

    #[tokio::test]
    async fn a_step_that_panics_is_one_failure_report_saying_it_is_a_bug() {
        let report = guarded(async {
            let empty: Vec<u8> = Vec::new();
            // An index out of bounds, as a bug would make.
            let _ = empty[usize::from(empty.is_empty())];
            Ok(Report::Failure {
                kind: FailureKind::Configuration,
                message: "never reached".into(),
                external_id: None,
            })
        })
        .await;
        let Report::Failure { kind, message, .. } = report else {
            panic!("{report:?}")
        };
        assert_eq!(kind, FailureKind::JobFailed);
        assert!(message.contains("internal error"), "{message}");
        assert!(message.contains("index out of bounds"), "{message}");
        assert!(message.contains(ISSUES_URL), "{message}");
    }
}
