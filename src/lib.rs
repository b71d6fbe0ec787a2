//! The Lambda function: the front through which a CodePipeline Invoke action, and the tasks of
//! cfn-deployer's state machine, reach the deploy engine. It tells the two events apart by
//! their shape, hands a job to the job layer (and sends its one report) or a task to the Step
//! Functions front (and returns its answer), within the invocation's time budget. Wiring
//! only: the deploy logic lives in `cfn-deployer-engine`, the job logic in `cfn-deployer-job`,
//! the tasks' in `cfn-deployer-stepfunctions`.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use std::time::SystemTime;

use cfn_deployer_job::{job, wording, Delivery, ReportError, Rounds, Runner};
use cfn_deployer_step::{work_budget, Words};
use cfn_deployer_stepfunctions::Tasks;
use serde_json::Value;
use tracing::{warn, Instrument};

/// The function's words for a CodePipeline job: the pipeline's, with the function's own
/// timeout and logs.
pub const WORDS: Words = Words {
    remedy: |r| {
        wording::remedy(r, "raise the function's timeout (its Timeout setting) so that a step has time to finish, then run the pipeline again")
    },
    again: wording::AGAIN,
    logs: "the function's logs",
    id: wording::ID,
};

/// The invocation could not end its job.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is neither a CodePipeline job with an id nor a task of the state machine.
    #[error("the event is neither a CodePipeline job (`CodePipeline.job` with an `id`) nor a task of cfn-deployer's state machine (`cfnDeployer`); nothing to do")]
    NotAJob,
    /// The event means to be a task of the state machine but is not one it sends.
    #[error("{0}")]
    BadTask(String),
    /// The report did not reach CodePipeline; returning the error makes Lambda deliver the job
    /// again.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match err {
            HandlerError::NotAJob => "NotAJob",
            HandlerError::BadTask(_) => "CfnDeployer.BadTask",
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
    tasks: Option<Tasks>,
}

impl Handler {
    /// A handler that runs jobs with `runner` and reports them with `codepipeline`.
    pub fn new(runner: Runner, codepipeline: aws_sdk_codepipeline::Client) -> Self {
        Self {
            runner,
            codepipeline,
            tasks: None,
        }
    }

    /// The same handler, running the state machine's tasks with `tasks` too.
    pub fn with_tasks(mut self, tasks: Tasks) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Handles one event of either kind: a CodePipeline job (reported, answered with `null`)
    /// or a task of the state machine (answered with the task's result).
    pub async fn handle_event(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Value, HandlerError> {
        if let (Some(task), Some(tasks)) = (Tasks::task_of(&event), &self.tasks) {
            let task = task.map_err(HandlerError::BadTask)?;
            let budget = work_budget(deadline, SystemTime::now());
            let result = tasks.run(task, budget).await;
            // A task whose state follows another stack fails the invocation, as a malformed one
            // does: nothing of it is answered.
            if let Some(failed) = result
                .failed
                .as_ref()
                .filter(|f| f.error == cfn_deployer_stepfunctions::errors::BAD_TASK)
            {
                return Err(HandlerError::BadTask(failed.cause.clone()));
            }
            return Ok(serde_json::to_value(result).unwrap_or(Value::Null));
        }
        self.handle(event, deadline).await.map(|_| Value::Null)
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
            let budget = work_budget(deadline, SystemTime::now());
            let delivery = self
                .runner
                .handle(
                    &self.codepipeline,
                    &job_id,
                    job::parse(event),
                    budget,
                    Rounds::ONCE,
                )
                .await;
            if delivery.is_err() {
                warn!("returning an error so that Lambda delivers the job again");
            }
            Ok(delivery?)
        }
        .instrument(span)
        .await
    }
}
