//! The CodePipeline front of the one step: a job's configuration and continuation token in,
//! the step run, and the end turned into exactly one [`Report`]; and the one entry both
//! CodePipeline fronts (the function, the worker) run a job through, from parse to report.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use cfn_deployer_engine::review::markdown;
use cfn_deployer_engine::{Deployer, Outcome};
use cfn_deployer_params::{GroupRequest, Params, Request};
use cfn_deployer_step::{drift_status, Ended, Front, GroupReport, Resume, Stepper, Words};

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
                drift,
                ..
            } => {
                let change_set_id = review.and_then(|r| r.change_set_id);
                if let Some(id) = &change_set_id {
                    // For the approval's CHANGE_SET_EXECUTE to name the change set reviewed.
                    outputs.insert("ChangeSetId".to_owned(), id.clone());
                }
                // For a later action (an approval, a notification) to see what the check found.
                outputs.insert(
                    "DriftStatus".to_owned(),
                    drift_status(drift.as_ref()).as_str().to_owned(),
                );
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
            Ended::SetInProgress {
                state,
                summary,
                percent,
            } => {
                let external_id = state.stack_set_id.clone();
                match token::encode_resume(&Resume::StackSet(state)) {
                    Ok(token) => Report::Continue {
                        percent,
                        token,
                        summary,
                        external_id,
                    },
                    Err(e) => Report::from_error(&JobError::from(e)),
                }
            }
            Ended::SetSucceeded {
                stack_set_id,
                operation_id,
                summary,
            } => {
                // As the built-in stack-set actions name them.
                let mut output_variables =
                    BTreeMap::from([("StackSetId".to_owned(), stack_set_id.clone())]);
                if let Some(id) = operation_id {
                    output_variables.insert("OperationId".to_owned(), id);
                }
                Report::Success {
                    output_variables,
                    summary,
                    external_id: Some(stack_set_id).filter(|id| !id.is_empty()),
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use cfn_deployer_engine::drift::{DriftStatus, DriftVerdict};
    use cfn_deployer_engine::group::{Change, GroupState, Leg, Member, Phase, StackResult};
    use cfn_deployer_engine::Operation;
    use cfn_deployer_step::GroupStack;

    fn front() -> Pipeline {
        Pipeline {
            sdk: SdkConfig::builder().build(),
            words: Words {
                remedy: |r| crate::wording::remedy(r, "give it more time"),
                again: "Retry the stage",
                logs: "the function's logs",
                id: "the job id",
            },
        }
    }

    fn job() -> Job {
        Job {
            id: "33333333-abcd-3333-abcd-333333abcdef".into(),
            configuration: Configuration::UserParameters(Some(
                r#"{"StackGroup": "BuildOutput::group.yaml"}"#.into(),
            )),
            input_artifacts: Vec::new(),
            output_artifacts: Vec::new(),
            credentials: None,
            continuation_token: None,
            encryption_key: None,
        }
    }

    #[test]
    fn a_group_under_way_continues_with_its_state_in_the_token() {
        let mut state = GroupState::new(job().id, "0123456789abcdef", Phase::Deploy, 2, 0);
        state.members[0] = Member::Deployed(Change::Created);
        state.members[1] = Member::Running(
            Change::Updated,
            Leg {
                operation: Operation::Update,
                stack_id: "arn:aws:cloudformation:us-east-1:1:stack/app-api/9".into(),
                started: 0,
                stalls: 0,
                resources: None,
                drift: None,
            },
        );
        let ended = Ended::GroupInProgress {
            state: state.clone(),
            summary: "1 of 2 stacks done; api UPDATE_IN_PROGRESS".into(),
            percent: Some(50),
            stack_id: None,
        };
        let Report::Continue {
            token,
            external_id,
            percent,
            ..
        } = front().answer(&job(), ended)
        else {
            panic!("a continuation")
        };
        assert_eq!((external_id.as_str(), percent), ("", Some(50)));
        let request =
            Request::from_user_parameters(Some(r#"{"StackGroup": "BuildOutput::g.yaml"}"#))
                .expect("a group");
        assert_eq!(
            token::decode_for(&token, &request),
            Ok(Resume::Group(state))
        );
        // A one-stack configuration refuses a group's token.
        let one = Request::from_user_parameters(Some(
            r#"{"stack": "a", "artifact": "B", "file": "t.yaml"}"#,
        ))
        .expect("one stack");
        let err = token::decode_for(&token, &one).expect_err("not a stack's token");
        assert!(err.to_string().contains("follows a stack group"), "{err}");
    }

    #[test]
    fn a_group_that_succeeded_reports_every_stacks_outputs_by_id() {
        let stack = |id: &str, key: &str, value: &str| GroupStack {
            id: id.into(),
            stack_name: format!("app-{id}"),
            stack_id: Some(format!(
                "arn:aws:cloudformation:us-east-1:1:stack/app-{id}/1"
            )),
            stack_status: Some("UPDATE_COMPLETE".into()),
            result: StackResult::Updated,
            outputs: [(key.to_owned(), value.to_owned())].into(),
        };
        let report = cfn_deployer_step::GroupReport {
            stacks: vec![
                stack("network", "VpcId", "vpc-1"),
                stack("api", "Url", "https://x"),
            ],
        };
        let Report::Success {
            output_variables,
            external_id,
            ..
        } = front().answer(
            &job(),
            Ended::GroupSucceeded {
                summary: "2 stacks".into(),
                report: report.clone(),
            },
        )
        else {
            panic!("a success")
        };
        assert_eq!(external_id, None);
        assert_eq!(
            output_variables.get("network_VpcId").map(String::as_str),
            Some("vpc-1")
        );
        assert_eq!(
            output_variables.get("api_Url").map(String::as_str),
            Some("https://x")
        );
        let doc = report.document();
        assert_eq!(doc["Stacks"]["api"]["Result"], "UPDATED");
        assert_eq!(doc["Stacks"]["network"]["Outputs"]["VpcId"], "vpc-1");
        assert_eq!(doc["Stacks"]["network"]["StackName"], "app-network");
    }

    #[test]
    fn a_success_reports_what_the_drift_check_found() {
        let ended = |drift: Option<DriftVerdict>| Ended::Succeeded {
            stack: "app".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/app/1".into(),
            summary: "Stack `app` is UPDATE_COMPLETE".into(),
            outputs: [("Url".to_owned(), "https://x".to_owned())].into(),
            review: None,
            stack_status: Some("UPDATE_COMPLETE".into()),
            drift,
        };
        let drift_status = |drift| match front().answer(&job(), ended(drift)) {
            Report::Success {
                output_variables, ..
            } => output_variables.get("DriftStatus").cloned(),
            other => panic!("a success: {other:?}"),
        };
        assert_eq!(drift_status(None).as_deref(), Some("NOT_CHECKED"));
        let drifted = DriftVerdict {
            status: DriftStatus::Drifted,
            drifted: 2,
            reason: None,
        };
        assert_eq!(drift_status(Some(drifted)).as_deref(), Some("DRIFTED"));
    }

    #[test]
    fn a_stack_set_job_reports_the_built_in_actions_output_variables() {
        let Report::Success {
            output_variables,
            external_id,
            summary,
        } = front().answer(
            &job(),
            Ended::SetSucceeded {
                stack_set_id: "baseline:1111".into(),
                operation_id: Some("cfn-deployer-1-add".into()),
                summary: "Stack set `baseline`: 4 of 4 instances SUCCEEDED".into(),
            },
        )
        else {
            panic!("a success")
        };
        assert_eq!(
            output_variables,
            BTreeMap::from([
                ("OperationId".to_owned(), "cfn-deployer-1-add".to_owned()),
                ("StackSetId".to_owned(), "baseline:1111".to_owned()),
            ])
        );
        assert_eq!(external_id.as_deref(), Some("baseline:1111"));
        assert!(summary.contains("4 of 4 instances SUCCEEDED"), "{summary}");
        // A delete that found nothing has no id to link to.
        let Report::Success { external_id, .. } = front().answer(
            &job(),
            Ended::SetSucceeded {
                stack_set_id: String::new(),
                operation_id: None,
                summary: "nothing to delete".into(),
            },
        ) else {
            panic!("a success")
        };
        assert_eq!(external_id, None);
    }
}
