//! How to run one pipeline action locally: the artifact, the action's settings, and which
//! front takes its jobs (the function, custom-action workers, or the state machine).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cfn_deployer_artifact::Location;
use serde_json::{json, Value};

use crate::codepipeline::ActionType;
use crate::drift::DriftTable;
use crate::proxy::Fault;
use crate::stackset::StackSetPlay;
use crate::view::View;

/// The name of the output artifact every local job declares, as an action with one would,
/// unless a saved event names its own.
pub const OUTPUT_ARTIFACT: &str = "DeployOutput";

/// What the artifact is made from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A folder, zipped and uploaded.
    Dir(PathBuf),
    /// A zip file, uploaded as it is (corrupt or not).
    Zip(PathBuf),
    /// An object already in S3, used as it is (present or not).
    Object(Location),
}

/// What takes the action's jobs.
#[derive(Debug, Clone)]
pub enum Front {
    /// The function, as a Lambda Invoke action's: delivered as Lambda delivers events.
    Function,
    /// Custom-action workers, polling the local CodePipeline.
    Worker(WorkerOptions),
    /// cfn-deployer's state machine, its tasks on the function.
    StepFunctions(StepFunctionsOptions),
}

/// How to run the action.
#[derive(Debug, Clone)]
pub struct Options {
    /// The function binary (`cfn-deployer`).
    pub function: PathBuf,
    /// The input artifact's content.
    pub source: Source,
    /// The input artifact's name.
    pub artifact_name: String,
    /// The action's `UserParameters`, verbatim.
    pub user_parameters: String,
    /// The artifact bucket (created when missing).
    pub bucket: String,
    /// The wait between a continuation and the next job.
    pub poll_interval: Duration,
    /// How long one invocation may run before it is killed, as Lambda would.
    pub invocation_timeout: Duration,
    /// How many continuations before the run gives up.
    pub max_continuations: usize,
    /// Extra environment for the function process.
    pub function_env: Vec<(String, String)>,
    /// The bucket large templates are staged in (created when missing), handed to the
    /// function and the workers as `CFN_DEPLOYER_STAGING_BUCKET`; `None` for none.
    pub staging_bucket: Option<String>,
    /// The AWS endpoint (moto) the function's calls go to, through a counting proxy; `None`
    /// for real AWS, reached directly.
    pub endpoint: Option<String>,
    /// Faults the proxy injects into the function's calls.
    pub faults: Vec<Fault>,
    /// The drift the proxy's drift detection finds (moto has none).
    pub drift: DriftTable,
    /// The stack-set operations' failures and collisions the proxy plays (moto has none).
    pub stack_sets: StackSetPlay,
    /// Deliver every job twice at the same time, to a function running two invocations at once.
    pub duplicate: bool,
    /// The KMS key the simulated artifact store uses, put in the job as `encryptionKey`.
    pub encryption_key_id: Option<String>,
    /// What takes the jobs: the function, workers, or a state machine.
    pub front: Front,
    /// What the run shows.
    pub view: View,
    /// The template's resource count, when known: the live view's total early in a create.
    pub template_resources: Option<u32>,
    /// The output artifact's name.
    pub output_artifact_name: String,
    /// A saved `CodePipeline.job` event to send, with this run's artifacts in it.
    pub event: Option<Value>,
    /// Deliver the jobs through the Lambda Invoke API at this URL (`cargo lambda watch`)
    /// instead of starting the function.
    pub invoke_url: Option<String>,
    /// The local CodePipeline's port, the AWS proxy's the next one; free ones when `None`.
    pub port: Option<u16>,
    /// The SDK settings the stack is read with when it lies in another account or Region;
    /// `None`: the run's own.
    pub stack_sdk: Option<aws_config::SdkConfig>,
    /// For a group: each stack's, in the header's order, `None` for those at home.
    pub group_sdks: Vec<Option<aws_config::SdkConfig>>,
}

impl Options {
    /// A Lambda Invoke action's run of `function` on `source`, with the command line's
    /// defaults, showing nothing.
    pub fn new(function: PathBuf, source: Source) -> Self {
        Self {
            function,
            source,
            artifact_name: "BuildOutput".into(),
            user_parameters: String::new(),
            bucket: "cfn-deployer-local-artifacts".into(),
            poll_interval: Duration::from_secs(1),
            invocation_timeout: Duration::from_secs(60),
            max_continuations: 200,
            function_env: Vec::new(),
            staging_bucket: None,
            endpoint: None,
            faults: Vec::new(),
            drift: DriftTable::default(),
            stack_sets: StackSetPlay::default(),
            duplicate: false,
            encryption_key_id: None,
            front: Front::Function,
            view: View::quiet(),
            template_resources: None,
            output_artifact_name: OUTPUT_ARTIFACT.into(),
            event: None,
            invoke_url: None,
            port: None,
            stack_sdk: None,
            group_sdks: Vec::new(),
        }
    }
}

/// How to play the custom action.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The worker binary (`cfn-deployer-worker`).
    pub binary: PathBuf,
    /// How many workers poll at once.
    pub workers: usize,
    /// The custom action type the jobs are of.
    pub action_type: ActionType,
    /// The value of the action type's queryable property in the job, when it has one.
    pub query_value: Option<String>,
    /// The value the workers poll for, when it differs from the job's (to see a job nobody
    /// serves).
    pub worker_query_value: Option<String>,
    /// The action's configuration properties.
    pub configuration: BTreeMap<String, String>,
    /// Jobs each worker runs at once.
    pub concurrency: u16,
    /// Seconds one step of a job may take in a worker.
    pub step_seconds: f64,
    /// Stop the first worker with SIGTERM this long after it claims the first job, then start
    /// a fresh one in its place.
    pub stop_after: Option<Duration>,
    /// How long a queued job may wait for a worker before the run gives up.
    pub pickup_timeout: Duration,
    /// How many actions run at once, each deploying its own stack (`StackName-1`, `-2`, …):
    /// a pipeline with that many parallel actions of this type.
    pub parallel: usize,
}

/// Which interpreter runs the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpreter {
    /// npm `aws-local-stepfunctions`, with its task overrides for CodeBuild.
    Local,
    /// moto's Step Functions (`execute_state_machine`), in a moto of its own.
    Moto,
}

/// What the mocked CodeBuild build does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMock {
    /// It succeeds, exporting the uploaded artifact's template as `TEMPLATE_URL`.
    Succeeds,
    /// It fails in its BUILD phase.
    Fails,
}

/// How to run the execution.
#[derive(Debug, Clone)]
pub struct StepFunctionsOptions {
    /// The interpreter.
    pub interpreter: Interpreter,
    /// The state machine's definition (`statemachine/deploy.asl.json`).
    pub definition: PathBuf,
    /// Where the interpreters' runners (`run-local.mjs`, `run-moto.py`) lie.
    pub runners: PathBuf,
    /// The execution input. Without `TemplateURL` or `Build`, the uploaded artifact's
    /// `template_file` becomes its `TemplateURL`; a `StackGroupURL` that is a path alone names
    /// a manifest in the uploaded artifact.
    pub input: Value,
    /// The template's path inside the uploaded artifact.
    pub template_file: String,
    /// Run a mocked build first, as the input's `Build` asks.
    pub build: Option<BuildMock>,
}

impl StepFunctionsOptions {
    /// The execution input as it will run: a mocked build's `Build` added when asked for,
    /// `template_url` as its `TemplateURL` when it names no template of its own, and a
    /// `StackGroupURL` path made a URL into the same artifact.
    pub fn input_with(&self, template_url: &str) -> Value {
        let mut input = self.input.clone();
        if let Value::Object(map) = &mut input {
            if self.build.is_some() && !map.contains_key("Build") {
                map.insert(
                    "Build".into(),
                    json!({"ProjectName": "local-build", "EnvironmentVariables": {"STAGE": "local"}}),
                );
            }
            // A group's manifest named by its path alone lies in the uploaded artifact.
            let object = template_url.split("::").next().unwrap_or(template_url);
            if let Some(Value::String(group)) = map.get_mut("StackGroupURL") {
                if !group.contains("://") {
                    *group = format!("{object}::{group}");
                }
            } else if !map.contains_key("TemplateURL") && !map.contains_key("Build") {
                map.insert("TemplateURL".into(), Value::String(template_url.to_owned()));
            }
        }
        input
    }
}
