//! The state machine's tasks: `prepare`, `step` (the one step, through this crate's front of
//! it) and `build-failed`, each answered once, whatever happens.

use std::time::Duration;

use cfn_deployer_params::Request;
use cfn_deployer_step::{guarded, Stepper};
use serde::Deserialize;
use serde_json::Value;
use tracing::{warn, Instrument};

use crate::answer::TaskResult;
use crate::front::{internal_error, Execution, StepTask};
use crate::{build, errors};

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
        /// The input's poll interval, as `prepare` answered it.
        #[serde(default)]
        interval: Option<u32>,
    },
    /// Word the failure of the build the state machine caught.
    BuildFailed {
        /// What it caught: `{"Error", "Cause"}`.
        error: Value,
    },
}

/// The poll interval when the input names none.
pub const DEFAULT_POLL_INTERVAL: u32 = 10;

/// Runs the state machine's tasks.
#[derive(Debug, Clone)]
pub struct Tasks {
    front: Execution,
}

impl Tasks {
    /// Tasks that step with `stepper`.
    pub fn new(stepper: Stepper) -> Self {
        if stepper.settings().template_buckets.is_none() {
            warn!("template buckets unset: an execution may name a template in any bucket the function can read but the staging bucket; set CFN_DEPLOYER_TEMPLATE_BUCKETS to the buckets it may read");
        }
        Self {
            front: Execution { stepper },
        }
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
        match task {
            Task::Prepare { input } => guarded(async { prepare(input) }, internal_error).await,
            Task::Step {
                input,
                execution,
                state,
                build,
                interval,
            } => {
                let span = tracing::info_span!("execution", execution = %execution);
                let task = StepTask {
                    input,
                    execution,
                    state,
                    build,
                    interval: interval.unwrap_or(DEFAULT_POLL_INTERVAL),
                };
                let stepper = &self.front.stepper;
                stepper
                    .run(&self.front, &task, budget)
                    .instrument(span)
                    .await
            }
            Task::BuildFailed { error } => {
                guarded(
                    async { TaskResult::failed(errors::BUILD, build::failure(&error)) },
                    internal_error,
                )
                .await
            }
        }
    }
}

/// Validates the execution input, once, before anything runs.
fn prepare(input: Value) -> TaskResult {
    match Request::from_execution_input(input) {
        Ok(Request::Group(group)) => TaskResult {
            poll_interval_seconds: Some(
                group.poll_interval_seconds.unwrap_or(DEFAULT_POLL_INTERVAL),
            ),
            build: group.build.as_ref().map(build::request),
            summary: Some("deploying a stack group".into()),
            ..TaskResult::default()
        },
        Ok(Request::Stack(params)) => TaskResult {
            poll_interval_seconds: Some(
                params
                    .poll_interval_seconds
                    .unwrap_or(DEFAULT_POLL_INTERVAL),
            ),
            build: params.build.as_ref().map(build::request),
            summary: Some(format!("deploying stack `{}`", params.stack)),
            ..TaskResult::default()
        },
        Ok(Request::StackSet(set)) => TaskResult {
            poll_interval_seconds: Some(set.poll_interval_seconds.unwrap_or(DEFAULT_POLL_INTERVAL)),
            summary: Some(format!("deploying stack set `{}`", set.plan.name)),
            ..TaskResult::default()
        },
        Err(e) => TaskResult::failed(errors::CONFIGURATION, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfn_deployer_engine::Deployer;
    use serde_json::json;

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
            json!({"StackName": "app", "TemplateURL": "s3://b/t.yaml", "PollIntervalSeconds": 7}),
        );
        assert_eq!(
            (ok.poll_interval_seconds, ok.failed.clone()),
            (Some(7), None)
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
            prepare(json!({"StackName": "app", "TemplateURL": "s3://b/t.yaml", "Regoin": "x"}));
        let failed = bad.failed.expect("refused");
        assert_eq!(failed.error, errors::CONFIGURATION);
        assert!(
            failed.cause.contains("unknown field `Regoin`"),
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
            "waitSeconds",
            "build",
        ] {
            assert!(keys.get(key).is_some(), "{key} in {keys}");
        }
    }

    #[tokio::test]
    async fn a_state_of_another_stack_is_a_bad_task_and_reads_nothing() {
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(|| {
            aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput::builder()
                .build()
        });
        let deployer = Deployer::new(mock_client!(
            aws_sdk_cloudformation,
            RuleMode::Sequential,
            &[&describe]
        ));
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let tasks = Tasks::new(Stepper::with_deployer(
            cfn_deployer_step::Settings::with_sdk(sdk),
            deployer,
        ));
        let state = |name: &str, id: &str| {
            json!({
                "stack_name": name,
                "stack_id": format!("arn:aws:cloudformation:us-east-1:111111111111:stack/{id}/5e2c"),
                "operation": "update",
                "client_request_token": "cfn-deployer-x",
                "started": 0
            })
        };
        for state in [state("billing", "billing"), state("app", "billing")] {
            let task = Task::Step {
                input: json!({"StackName": "app", "TemplateURL": "s3://b/t.yaml"}),
                execution: "arn:aws:states:us-east-1:1:execution:m:run".into(),
                state,
                build: Value::Null,
                interval: None,
            };
            let result = tasks.run(task, None).await;
            let failed = result.failed.clone().expect("refused");
            assert_eq!(failed.error, errors::BAD_TASK, "{failed:?}");
            assert!(failed.cause.contains("stack `app`"), "{}", failed.cause);
            assert_eq!((result.output, result.state), (None, None));
        }
        assert_eq!(describe.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_panicking_task_fails_saying_it_is_a_bug() {
        let result = guarded(
            async {
                let empty: Vec<u8> = Vec::new();
                let _ = empty[usize::from(empty.is_empty())];
                TaskResult::default()
            },
            internal_error,
        )
        .await;
        let failed = result.failed.expect("a failure");
        assert_eq!(failed.error, errors::DEPLOY);
        assert!(failed.cause.contains("internal error"), "{}", failed.cause);
        assert!(
            failed.cause.contains("Start the execution again"),
            "{}",
            failed.cause
        );
        assert!(
            failed.cause.contains("the deployer function's logs"),
            "{}",
            failed.cause
        );
    }
}
