//! The state machine's tasks and their answers. The answer always holds every key (`null`
//! when unused), because the state machine's paths fail on a key that is absent.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use cfn_deployer_engine::{
    catch_panic, request_token, Deployer, FailureKind, InFlight, Outcome, Pace,
};
use cfn_deployer_params::{FileRef, Params, S3File};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{error, info, warn, Instrument};

use crate::error::TaskError;
use crate::files::S3Files;
use crate::{build, errors, wording};

/// A task of the state machine, as its `Payload` names it under `cfnDeployer`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "task", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Task {
    /// Validate the execution input; say how often to poll and what to build first.
    Prepare {
        /// The execution's input.
        input: Value,
    },
    /// One step of the deploy.
    Step {
        /// The execution's input.
        input: Value,
        /// The execution's id (its ARN): the deploy's idempotency token derives from its name,
        /// the ARN's last part.
        execution: String,
        /// Where the last step left the deploy; `null` before the first.
        #[serde(default)]
        state: Value,
        /// The build's result, when one ran.
        #[serde(default)]
        build: Value,
    },
    /// Word the failure of the build the state machine caught.
    BuildFailed {
        /// What it caught: `{"Error", "Cause"}`.
        error: Value,
    },
}

/// Why the execution fails: its `Error` and `Cause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Failed {
    /// `CfnDeployer.ConfigurationError`, `…PermissionError`, `…DeployFailed`, `…BuildFailed`.
    pub error: String,
    /// The same message a CodePipeline job would get.
    pub cause: String,
}

/// What a task hands back.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// Whether the deploy has ended (succeeded or failed).
    pub done: bool,
    /// Why it failed, when it did.
    pub failed: Option<Failed>,
    /// Where it stands, to hand to the next step.
    pub state: Option<Value>,
    /// One line on the latest progress, for the execution's history.
    pub summary: Option<String>,
    /// How far the operation is, 0 to 100, when known.
    pub percent: Option<u8>,
    /// The execution's output, once it succeeded.
    pub output: Option<Value>,
    /// The pause between polls (from `prepare`).
    pub poll_interval_seconds: Option<u32>,
    /// The `startBuild` parameters, when the input asks for a build (from `prepare`).
    pub build: Option<Value>,
}

impl TaskResult {
    fn failed(error: &str, cause: String) -> Self {
        Self {
            done: true,
            failed: Some(Failed {
                error: error.to_owned(),
                cause,
            }),
            ..Self::default()
        }
    }

    fn from_error(err: &TaskError) -> Self {
        Self::failed(error_name(err.kind()), err.to_string())
    }
}

/// The execution's `Error` for a kind of failure.
fn error_name(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Configuration => errors::CONFIGURATION,
        FailureKind::Permission => errors::PERMISSION,
        FailureKind::Deploy => errors::DEPLOY,
    }
}

/// The poll interval when the input names none.
pub const DEFAULT_POLL_INTERVAL: u32 = 10;

/// Runs the state machine's tasks.
#[derive(Debug, Clone)]
pub struct Tasks {
    s3: aws_sdk_s3::Client,
    region: String,
    deployer: Deployer,
    pace: Pace,
    staging_bucket: Option<String>,
}

impl Tasks {
    /// Tasks with the shared SDK settings, deploying with `deployer`.
    pub fn new(sdk: SdkConfig, deployer: Deployer) -> Self {
        Self {
            s3: aws_sdk_s3::Client::from_conf(cfn_deployer_aws::s3_config(&sdk).build()),
            region: cfn_deployer_aws::region(&sdk).to_owned(),
            deployer,
            pace: Pace::default(),
            staging_bucket: None,
        }
    }

    /// The same, pacing the polls within a step so.
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// The same, staging large templates from zips in `bucket`.
    pub fn with_staging_bucket(mut self, bucket: Option<String>) -> Self {
        self.staging_bucket = bucket;
        self
    }

    /// The task an event holds, if it is one of the state machine's: `Some(Err)` names what is
    /// wrong with a payload that means to be one.
    pub fn task_of(event: &Value) -> Option<Result<Task, String>> {
        let payload = event.get("cfnDeployer")?;
        Some(serde_json::from_value(payload.clone()).map_err(|e| {
            format!("the `cfnDeployer` task payload is not one the state machine sends: {e}")
        }))
    }

    /// Runs `task` within `budget`; whatever happens, a panic included, ends in an answer.
    pub async fn run(&self, task: Task, budget: Option<Duration>) -> TaskResult {
        guarded(async {
            match task {
                Task::Prepare { input } => prepare(input),
                Task::Step {
                    input,
                    execution,
                    state,
                    build,
                } => {
                    let span = tracing::info_span!("execution", execution = %execution);
                    self.step(input, &execution, state, build, budget)
                        .instrument(span)
                        .await
                }
                Task::BuildFailed { error } => {
                    TaskResult::failed(errors::BUILD, build::failure(&error))
                }
            }
        })
        .await
    }

    async fn step(
        &self,
        input: Value,
        execution: &str,
        state: Value,
        build: Value,
        budget: Option<Duration>,
    ) -> TaskResult {
        match self.try_step(input, execution, state, build, budget).await {
            Ok(result) => result,
            Err(err) => TaskResult::from_error(&err),
        }
    }

    async fn try_step(
        &self,
        input: Value,
        execution: &str,
        state: Value,
        build: Value,
        budget: Option<Duration>,
    ) -> Result<TaskResult, TaskError> {
        let params = Params::from_execution_input(input)?;
        let template = match (&params.template, build::exported_template_url(&build)) {
            (Some(FileRef::S3(file)), _) => Some(file.clone()),
            (_, Some(url)) => Some(S3File::parse(&url, "TemplateURL").map_err(|e| {
                TaskError::BuildTemplateUrl {
                    url: url.clone(),
                    problem: e.to_string(),
                }
            })?),
            _ if params.action.needs_template() => return Err(TaskError::NoTemplate),
            _ => None,
        };
        // arn:aws:states:REGION:ACCOUNT:execution:STATE-MACHINE:NAME; the name is unique among
        // the state machine's executions, and short enough for a token.
        let name = execution.rsplit(':').next().unwrap_or(execution);
        let plan = params.plan(&request_token(name));
        let flight: Option<InFlight> = match state {
            Value::Null => None,
            other => {
                Some(serde_json::from_value(other).map_err(|e| TaskError::State(e.to_string()))?)
            }
        };
        let files = S3Files {
            s3: &self.s3,
            region: &self.region,
            template: template.unwrap_or_else(|| S3File {
                location: cfn_deployer_artifact::Location {
                    bucket: String::new(),
                    key: String::new(),
                },
                inner: None,
            }),
            params: &params,
            staging_bucket: self.staging_bucket.as_deref(),
            execution,
        };
        let outcome = self
            .deployer
            .advance(&plan, &files, flight, self.pace, budget)
            .await?;
        Ok(match outcome {
            Outcome::InProgress {
                flight,
                summary,
                percent,
            } => {
                info!(%summary, "deploy under way");
                TaskResult {
                    state: Some(
                        serde_json::to_value(&flight)
                            .map_err(|e| TaskError::State(e.to_string()))?,
                    ),
                    summary: Some(summary),
                    percent,
                    ..TaskResult::default()
                }
            }
            Outcome::Failed(failure) => {
                info!(message = %failure.message, "deploy failed");
                TaskResult::failed(error_name(failure.kind), wording::message(&failure))
            }
            Outcome::Succeeded {
                stack_id,
                summary,
                outputs,
                review,
                stack_status,
            } => {
                info!(%summary, "deploy succeeded");
                // A change set's steps do not read the stack: read it now. The deploy has
                // succeeded either way, so a read that fails only leaves the status unknown.
                let status = match stack_status {
                    Some(status) => status,
                    None => match self.deployer.describe(&stack_id).await {
                        Ok(stack) => stack
                            .and_then(|s| s.stack_status().map(|st| st.as_str().to_owned()))
                            .unwrap_or_else(|| "UNKNOWN".into()),
                        Err(e) => {
                            warn!(error = %e, "the stack's status could not be read after the deploy");
                            "UNKNOWN".into()
                        }
                    },
                };
                let mut output = json!({
                    "StackId": stack_id,
                    "StackName": params.stack,
                    "StackStatus": status,
                    "Outputs": outputs,
                    "Summary": summary,
                });
                if let Some(review) = review {
                    output["ChangeSet"] = serde_json::to_value(review).unwrap_or(Value::Null);
                }
                TaskResult {
                    done: true,
                    summary: Some(summary),
                    output: Some(output),
                    ..TaskResult::default()
                }
            }
        })
    }
}

/// Validates the execution input, once, before anything runs.
fn prepare(input: Value) -> TaskResult {
    match Params::from_execution_input(input) {
        Ok(params) => TaskResult {
            poll_interval_seconds: Some(
                params
                    .poll_interval_seconds
                    .unwrap_or(DEFAULT_POLL_INTERVAL),
            ),
            build: params.build.as_ref().map(build::request),
            summary: Some(format!("deploying stack `{}`", params.stack)),
            ..TaskResult::default()
        },
        Err(e) => TaskResult::failed(errors::CONFIGURATION, e.to_string()),
    }
}

/// Runs a task; a panic becomes a failure that says it is a bug.
async fn guarded<F: Future<Output = TaskResult>>(task: F) -> TaskResult {
    match catch_panic(task).await {
        Ok(result) => result,
        Err(what) => {
            error!(panic = %what, "the task panicked");
            TaskResult::failed(
                errors::DEPLOY,
                format!("cfn-deployer hit an internal error (a bug, not a problem with the stack): {what}. Start the execution again; if it happens again, report it with this message"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_told_by_their_shape() {
        let prepare = json!({"cfnDeployer": {"task": "prepare", "input": {"StackName": "a"}}});
        assert!(matches!(
            Tasks::task_of(&prepare),
            Some(Ok(Task::Prepare { .. }))
        ));
        let step = json!({"cfnDeployer": {"task": "step", "input": {}, "execution": "e", "state": null, "build": null}});
        assert!(matches!(Tasks::task_of(&step), Some(Ok(Task::Step { .. }))));
        let odd = json!({"cfnDeployer": {"task": "deploy-everything"}});
        assert!(matches!(Tasks::task_of(&odd), Some(Err(_))));
        assert!(Tasks::task_of(&json!({"CodePipeline.job": {}})).is_none());
    }

    #[test]
    fn prepare_says_how_to_poll_and_what_to_build() {
        let ok = prepare(
            json!({"StackName": "app", "TemplateURL": "s3://b/t.yaml", "PollIntervalSeconds": 3}),
        );
        assert_eq!(
            (ok.poll_interval_seconds, ok.failed.clone()),
            (Some(3), None)
        );
        let built = prepare(
            json!({"StackName": "app", "Build": {"ProjectName": "p", "EnvironmentVariables": {"A": "1"}}}),
        );
        assert_eq!(built.poll_interval_seconds, Some(DEFAULT_POLL_INTERVAL));
        assert_eq!(
            built.build.as_ref().and_then(|b| b.get("ProjectName")),
            Some(&json!("p"))
        );
        let bad =
            prepare(json!({"StackName": "app", "TemplateURL": "s3://b/t.yaml", "Region": "x"}));
        let failed = bad.failed.expect("refused");
        assert_eq!(failed.error, errors::CONFIGURATION);
        assert!(
            failed.cause.contains("unknown field `Region`"),
            "{}",
            failed.cause
        );
        // Every key is there, null when unused: the state machine's paths need them.
        let keys = serde_json::to_value(&ok).expect("json");
        for key in [
            "done",
            "failed",
            "state",
            "summary",
            "percent",
            "output",
            "pollIntervalSeconds",
            "build",
        ] {
            assert!(keys.get(key).is_some(), "{key} in {keys}");
        }
    }

    #[tokio::test]
    async fn a_panicking_task_fails_saying_it_is_a_bug() {
        let result = guarded(async {
            let empty: Vec<u8> = Vec::new();
            let _ = empty[usize::from(empty.is_empty())];
            TaskResult::default()
        })
        .await;
        let failed = result.failed.expect("a failure");
        assert!(failed.cause.contains("internal error"), "{}", failed.cause);
    }
}
