//! The Step Functions front of the one step: a step task's input and state in, the step run
//! with the function's own role reading S3, and the end turned into the task's one answer.

use cfn_deployer_engine::group::GroupState;
use cfn_deployer_engine::stackset::SetState;
use cfn_deployer_engine::{now_epoch, Deployer, InFlight, Outcome};
use cfn_deployer_params::{FileRef, GroupRequest, Params, Request, S3File};
use cfn_deployer_step::{drift_status, Ended, Front, GroupReport, Resume, Stepper, Words};
use serde_json::{json, Value};
use tracing::warn;

use crate::answer::{error_name, TaskResult};
use crate::error::TaskError;
use crate::files::S3Files;
use crate::{answer, build, errors, pace, wording};

/// The Step Functions front's words: the execution input's keys, "start the execution again",
/// and the function's logs, where its tasks run.
pub const WORDS: Words = Words {
    remedy: wording::remedy,
    again: "Start the execution again",
    logs: "the deployer function's logs",
    id: "the execution's name",
};

/// One step task, as the state machine sends it.
#[derive(Debug)]
pub(crate) struct StepTask {
    pub(crate) input: Value,
    pub(crate) execution: String,
    pub(crate) state: Value,
    pub(crate) build: Value,
    pub(crate) interval: u32,
}

/// The Step Functions front of the one step.
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    pub(crate) stepper: Stepper,
}

pub(crate) fn internal_error(what: String) -> TaskResult {
    TaskResult::failed(errors::DEPLOY, WORDS.internal_error(&what))
}

impl Front for Execution {
    type Arrival = StepTask;
    type Error = TaskError;
    type Files<'a> = S3Files<'a>;
    type Answer = TaskResult;

    fn words(&self) -> &Words {
        &WORDS
    }

    fn request(&self, task: &StepTask) -> Result<Request, TaskError> {
        let mut params = match Request::from_execution_input(task.input.clone())? {
            Request::Stack(params) => params,
            other @ (Request::Group(_) | Request::StackSet(_)) => return Ok(other),
        };
        if !matches!(params.template, Some(FileRef::S3(_))) {
            if let Some(url) = build::exported_template_url(&task.build) {
                let file = S3File::parse(&url, "TemplateURL").map_err(|e| {
                    TaskError::BuildTemplateUrl {
                        url: url.clone(),
                        problem: e.to_string(),
                    }
                })?;
                params.template = Some(FileRef::S3(file));
            } else if params.action.needs_template() {
                return Err(TaskError::NoTemplate);
            }
        }
        Ok(Request::Stack(params))
    }

    fn request_id<'a>(&self, task: &'a StepTask) -> &'a str {
        // arn:aws:states:REGION:ACCOUNT:execution:STATE-MACHINE:NAME; the name is unique among
        // the state machine's executions, and short enough for a token.
        task.execution.rsplit(':').next().unwrap_or(&task.execution)
    }

    fn resume(&self, task: &StepTask, request: &Request) -> Result<Option<Resume>, TaskError> {
        if task.state.is_null() {
            return Ok(None);
        }
        let params = match request {
            Request::Stack(params) => params,
            // A group's state names its manifest by digest, which the step checks.
            Request::Group(_) => {
                let Some(group) = task.state.get("group") else {
                    return Err(TaskError::State(
                        "the state follows one stack, but the input names a stack group".into(),
                    ));
                };
                let state: GroupState = serde_json::from_value(group.clone())
                    .map_err(|e| TaskError::State(e.to_string()))?;
                return Ok(Some(Resume::Group(state)));
            }
            Request::StackSet(set) => {
                let Some(state) = task.state.get("set") else {
                    return Err(TaskError::State(
                        "the state follows one stack or a group, but the input names a stack set"
                            .into(),
                    ));
                };
                let state: SetState = serde_json::from_value(state.clone())
                    .map_err(|e| TaskError::State(e.to_string()))?;
                // As for a stack: the state must follow the input's own stack set.
                let named = state.stack_set_id.split_once(':').map(|(n, _)| n);
                let own = state.stack_set_id.is_empty() || state.stack_set_id == set.plan.name;
                if !own && named != Some(set.plan.name.as_str()) {
                    return Err(TaskError::State(format!(
                        "the state follows stack set `{}`, but the input names stack set `{}`",
                        state.stack_set_id, set.plan.name
                    )));
                }
                return Ok(Some(Resume::StackSet(state)));
            }
        };
        let flight: InFlight = serde_json::from_value(task.state.clone())
            .map_err(|e| TaskError::State(e.to_string()))?;
        // A task is a payload anyone allowed to invoke the function can send: its state must
        // follow the input's own stack, or it would read and return another stack's.
        let named = flight.stack_id.split('/').nth(1);
        if flight.stack_name != params.stack || named != Some(params.stack.as_str()) {
            return Err(TaskError::OtherStack {
                state: flight.stack_id,
                input: params.stack.clone(),
            });
        }
        Ok(Some(Resume::Stack(flight)))
    }

    fn files<'a>(&'a self, _task: &'a StepTask) -> S3Files<'a> {
        S3Files {
            s3: self.stepper.s3(),
            settings: self.stepper.settings(),
        }
    }

    async fn after_group(
        &self,
        _task: &StepTask,
        _request: &GroupRequest,
        _report: &GroupReport,
    ) -> Result<(), TaskError> {
        // The report is the task's output: nothing to write.
        Ok(())
    }

    async fn after(
        &self,
        _task: &StepTask,
        _params: &Params,
        deployer: &Deployer,
        outcome: &mut Outcome,
    ) -> Result<(), TaskError> {
        // A change set's steps do not read the stack: read it now. The deploy has succeeded
        // either way, so a read that fails only leaves the status unknown.
        if let Outcome::Succeeded {
            stack_id,
            stack_status: status @ None,
            ..
        } = outcome
        {
            *status = Some(match deployer.describe(stack_id).await {
                Ok(stack) => stack
                    .and_then(|s| s.stack_status().map(|st| st.as_str().to_owned()))
                    .unwrap_or_else(|| "UNKNOWN".into()),
                Err(e) => {
                    warn!(error = %e, "the stack's status could not be read after the deploy");
                    "UNKNOWN".into()
                }
            });
        }
        Ok(())
    }

    fn answer(&self, task: &StepTask, ended: Ended) -> TaskResult {
        match ended {
            Ended::InProgress {
                flight,
                summary,
                percent,
            } => match serde_json::to_value(&flight) {
                Ok(state) => TaskResult {
                    state: Some(state),
                    summary: Some(summary),
                    percent,
                    wait_seconds: Some(pace::wait_seconds(
                        u64::from(task.interval),
                        u64::try_from(now_epoch() - flight.started).unwrap_or(0),
                    )),
                    ..TaskResult::default()
                },
                Err(e) => TaskResult::from_error(&TaskError::State(e.to_string())),
            },
            Ended::GroupInProgress {
                state,
                summary,
                percent,
                ..
            } => {
                let age = u64::try_from(now_epoch() - state.started).unwrap_or(0);
                TaskResult {
                    state: Some(json!({ "group": state })),
                    summary: Some(summary),
                    percent,
                    wait_seconds: Some(pace::wait_seconds(u64::from(task.interval), age)),
                    ..TaskResult::default()
                }
            }
            Ended::GroupSucceeded { summary, report } => {
                let mut output = report.document();
                output["Summary"] = Value::String(summary.clone());
                TaskResult {
                    done: true,
                    summary: Some(summary),
                    output: Some(answer::fit(output, answer::BUDGET)),
                    ..TaskResult::default()
                }
            }
            Ended::SetInProgress {
                state,
                summary,
                percent,
            } => TaskResult {
                state: Some(json!({ "set": state })),
                summary: Some(summary),
                percent,
                wait_seconds: Some(pace::wait_seconds(u64::from(task.interval), 0)),
                ..TaskResult::default()
            },
            Ended::SetSucceeded {
                stack_set_id,
                operation_id,
                summary,
            } => TaskResult {
                done: true,
                summary: Some(summary.clone()),
                output: Some(json!({
                    "StackSetId": stack_set_id,
                    "OperationId": operation_id,
                    "Summary": summary,
                })),
                ..TaskResult::default()
            },
            Ended::Failed {
                kind,
                message,
                name,
                ..
            } => TaskResult::failed(name.unwrap_or(error_name(kind)), message),
            Ended::Succeeded {
                stack,
                stack_id,
                summary,
                outputs,
                review,
                stack_status,
                drift,
            } => {
                let mut output = json!({
                    "StackId": stack_id,
                    "StackName": stack,
                    "StackStatus": stack_status.unwrap_or_else(|| "UNKNOWN".into()),
                    "Outputs": outputs,
                    "DriftStatus": drift_status(drift.as_ref()).as_str(),
                    "Summary": summary,
                });
                if let Some(review) = review {
                    output["ChangeSet"] = serde_json::to_value(review).unwrap_or(Value::Null);
                }
                TaskResult {
                    done: true,
                    summary: Some(summary),
                    output: Some(answer::fit(output, answer::BUDGET)),
                    ..TaskResult::default()
                }
            }
        }
    }
}
