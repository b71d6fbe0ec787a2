//! The CodePipeline front of the one step: a job's configuration and continuation token in,
//! the step run, and the end turned into exactly one [`Report`]; and the one entry both
//! CodePipeline fronts (the function, the worker) run a job through, from parse to report.

use std::time::Duration;

use aws_config::SdkConfig;
use cfn_deployer_engine::review::markdown;
use cfn_deployer_engine::{Deployer, Outcome};
use cfn_deployer_params::{GroupRequest, Params, Request};
use cfn_deployer_step::{Ended, Front, GroupReport, Resume, Stepper, Words};

use crate::error::JobError;
use crate::io::{write_output_artifact, JobFiles};
use crate::job::{Configuration, EventError, Job};
use crate::report::{deliver, failure_type, Delivery, Report, ReportError};
use crate::token;

/// Runs CodePipeline jobs, one step each, worded for the front that took them.
#[derive(Debug, Clone)]
pub struct Runner {
    stepper: Stepper,
    front: Pipeline,
}

/// The CodePipeline front: its words and the SDK settings its artifact clients build on.
#[derive(Debug, Clone)]
struct Pipeline {
    sdk: SdkConfig,
    words: Words,
}

impl Runner {
    /// A runner that steps with `stepper` and words failures with `words` (the function's or
    /// the worker's).
    pub fn new(stepper: Stepper, words: Words) -> Self {
        let sdk = stepper.settings().sdk.clone();
        Self {
            stepper,
            front: Pipeline { sdk, words },
        }
    }

    /// Runs one step of `job` within `budget` (none: no limit) and says how to report it.
    /// Whatever happens in the step, a panic included, ends in a report.
    pub async fn run_job(&self, job: &Job, budget: Option<Duration>) -> Report {
        self.stepper.run(&self.front, job, budget).await
    }

    /// The one way a CodePipeline front ends a job: the job as parsed (or why it could not
    /// be), one step of it, and its report sent once, again on each of `rounds` when
    /// CodePipeline cannot be reached.
    pub async fn handle(
        &self,
        codepipeline: &aws_sdk_codepipeline::Client,
        job_id: &str,
        parsed: Result<Job, EventError>,
        budget: Option<Duration>,
        rounds: crate::report::Rounds,
    ) -> Result<Delivery, ReportError> {
        let report = match parsed {
            Ok(job) => self.run_job(&job, budget).await,
            Err(e) => Report::from_error(&JobError::from(e)),
        };
        deliver(codepipeline, job_id, report, self.front.words.logs, rounds).await
    }
}

impl Front for Pipeline {
    type Arrival = Job;
    type Error = JobError;
    type Files<'a> = JobFiles<'a>;
    type Answer = Report;

    fn words(&self) -> &Words {
        &self.words
    }

    fn request(&self, job: &Job) -> Result<Request, JobError> {
        Ok(match &job.configuration {
            Configuration::UserParameters(text) => Request::from_user_parameters(text.as_deref()),
            Configuration::Properties { values, query } => {
                Request::from_configuration(values, query.as_deref())
            }
        }
        .map_err(cfn_deployer_step::StepError::from)?)
    }

    fn request_id<'a>(&self, job: &'a Job) -> &'a str {
        &job.id
    }

    fn resume(&self, job: &Job, request: &Request) -> Result<Option<Resume>, JobError> {
        match &job.continuation_token {
            Some(text) => Ok(Some(token::decode_for(text, request)?)),
            None => Ok(None),
        }
    }

    fn files<'a>(&'a self, job: &'a Job) -> JobFiles<'a> {
        JobFiles::new(&self.sdk, job)
    }

    async fn after_group(
        &self,
        job: &Job,
        request: &GroupRequest,
        report: &GroupReport,
    ) -> Result<(), JobError> {
        let Some(name) = &request.output_file_name else {
            return Ok(());
        };
        let body = serde_json::to_vec_pretty(&report.document()).unwrap_or_default();
        write_output_artifact(&self.sdk, job, name, &[(name.clone(), body)]).await
    }

    async fn after(
        &self,
        job: &Job,
        params: &Params,
        _deployer: &Deployer,
        outcome: &mut Outcome,
    ) -> Result<(), JobError> {
        let (
            Outcome::Succeeded {
                outputs, review, ..
            },
            Some(name),
        ) = (&*outcome, &params.output_file_name)
        else {
            return Ok(());
        };
        let files = match review {
            // A change set to approve: the review, for machines and for a person.
            Some(review) => vec![
                (
                    name.clone(),
                    serde_json::to_vec_pretty(review).unwrap_or_default(),
                ),
                ("review.md".to_owned(), markdown(review).into_bytes()),
            ],
            None if params.action.deploys() => vec![(
                name.clone(),
                serde_json::to_vec_pretty(outputs).unwrap_or_default(),
            )],
            None => Vec::new(),
        };
        if !files.is_empty() {
            write_output_artifact(&self.sdk, job, name, &files).await?;
        }
        Ok(())
    }

    fn answer(&self, _job: &Job, ended: Ended) -> Report {
        match ended {
            Ended::Succeeded {
                stack_id,
                summary,
                mut outputs,
                review,
                ..
            } => {
                let change_set_id = review.and_then(|r| r.change_set_id);
                if let Some(id) = &change_set_id {
                    // For the approval's CHANGE_SET_EXECUTE to name the change set reviewed.
                    outputs.insert("ChangeSetId".to_owned(), id.clone());
                }
                Report::Success {
                    output_variables: outputs,
                    summary,
                    // A change set to approve: the console links to it.
                    external_id: Some(change_set_id.unwrap_or(stack_id)),
                }
            }
            Ended::InProgress {
                flight,
                summary,
                percent,
            } => match token::encode(&flight) {
                Ok(token) => Report::Continue {
                    percent,
                    token,
                    summary,
                    external_id: flight.stack_id,
                },
                Err(e) => Report::from_error(&JobError::from(e)),
            },
            Ended::GroupInProgress {
                state,
                summary,
                percent,
                stack_id,
            } => match token::encode_resume(&Resume::Group(state)) {
                Ok(token) => Report::Continue {
                    percent,
                    token,
                    summary,
                    external_id: stack_id.unwrap_or_default(),
                },
                Err(e) => Report::from_error(&JobError::from(e)),
            },
            Ended::GroupSucceeded { summary, report } => Report::Success {
                output_variables: report.variables(),
                summary,
                external_id: None,
            },
            Ended::Failed {
                kind,
                message,
                stack_id,
                ..
            } => Report::Failure {
                kind: failure_type(kind),
                message,
                external_id: stack_id,
            },
        }
    }
}
