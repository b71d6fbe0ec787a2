//! The command line: its flags, and the options of each kind of run they make.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use cfn_deployer_local::codepipeline::ActionType;
use cfn_deployer_local::drift::DriftSpec;
use cfn_deployer_local::options::{
    BuildMock, Front, Interpreter, StepFunctionsOptions, WorkerOptions,
};
use cfn_deployer_local::proxy::Fault;
use cfn_deployer_local::stackset::{BusyLooks, InstanceFailure};
use clap::{Parser, ValueEnum};

/// Run a cfn-deployer pipeline action locally.
#[derive(Debug, Parser)]
#[command(version, about, args_override_self = true)]
pub(crate) struct Cli {
    /// Folder to zip as the input artifact (omit with --zip or --object).
    pub(crate) dir: Option<PathBuf>,
    /// Stack to deploy; builds UserParameters from --stack, --artifact and --file.
    #[arg(long)]
    pub(crate) stack: Option<String>,
    /// Template path inside the artifact.
    #[arg(long, default_value = "template.yaml")]
    pub(crate) file: String,
    /// Input artifact name.
    #[arg(long, default_value = "BuildOutput")]
    pub(crate) artifact: String,
    /// UserParameters, verbatim (overrides --stack and --file).
    #[arg(long)]
    pub(crate) user_parameters: Option<String>,
    /// Use this zip file as the artifact, as it is.
    #[arg(long, conflicts_with = "object")]
    pub(crate) zip: Option<PathBuf>,
    /// Use this existing S3 object (s3://bucket/key) as the artifact.
    #[arg(long)]
    pub(crate) object: Option<String>,
    /// Artifact bucket, created when missing.
    #[arg(long, default_value = "cfn-deployer-local-artifacts")]
    pub(crate) bucket: String,
    /// The function binary; by default `cfn-deployer` beside this program.
    #[arg(long)]
    pub(crate) function: Option<PathBuf>,
    /// AWS endpoint (moto). Ignored with --aws.
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:5000"
    )]
    pub(crate) endpoint_url: String,
    /// Use real AWS with your credentials instead of an endpoint such as moto.
    #[arg(long)]
    pub(crate) aws: bool,
    /// Region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub(crate) region: String,
    /// Seconds between a continuation and the next job.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) poll_interval: f64,
    /// Seconds one invocation may run.
    #[arg(long, default_value_t = 60)]
    pub(crate) timeout: u64,
    /// Continuations before giving up.
    #[arg(long, default_value_t = 200)]
    pub(crate) max_continuations: usize,
    /// Inject a fault into the function's AWS calls: OPERATION:KIND[:TIMES], KIND one of 500,
    /// 503, throttle, drop, norange, delay=SECONDS (e.g. GetObject:503:2). Repeatable; not with --aws.
    #[arg(long = "fault", value_name = "FAULT")]
    pub(crate) faults: Vec<Fault>,
    /// Make drift detection find this drift, as moto has none: STACK:LOGICAL_ID:PROPERTY_PATH=ACTUAL
    /// (e.g. app:Topic:/Properties/TopicName=renamed), STACK:LOGICAL_ID:DELETED, or
    /// STACK:FAILED=REASON. Repeatable; stacks not named are in sync; not with --aws.
    #[arg(long = "drift", value_name = "DRIFT")]
    pub(crate) drift: Vec<DriftSpec>,
    /// Make every stack-set operation touching this instance end FAILED, the instance's result
    /// FAILED with REASON (the others SUCCEEDED), as moto's never fail: ACCOUNT/REGION=REASON
    /// (e.g. 222222222222/eu-west-1=Role not found). Repeatable; not with --aws.
    #[arg(long = "stack-set-fail", value_name = "ACCOUNT/REGION=REASON")]
    pub(crate) stack_set_fail: Vec<InstanceFailure>,
    /// Make the first mutating call on each stack set find another operation running, refused
    /// with OperationInProgressException until DescribeStackSetOperation has looked at that one
    /// LOOKS times. Not with --aws.
    #[arg(long = "stack-set-busy", value_name = "LOOKS")]
    pub(crate) stack_set_busy: Option<BusyLooks>,
    /// Deliver every job twice at the same time, as Lambda may.
    #[arg(long)]
    pub(crate) duplicate: bool,
    /// The bucket large templates are staged in, created when missing and handed to the
    /// function and workers as CFN_DEPLOYER_STAGING_BUCKET; empty for none.
    #[arg(long, default_value = "cfn-deployer-local-staging")]
    pub(crate) staging_bucket: String,
    /// Give the job an `encryptionKey`, as a pipeline whose artifact store uses this KMS key.
    #[arg(long)]
    pub(crate) encryption_key_id: Option<String>,
    /// Play a custom action: queue the job for `cfn-deployer-worker` processes to poll, claim
    /// and report, instead of invoking the function.
    #[arg(long)]
    pub(crate) worker: bool,
    /// The worker binary; by default `cfn-deployer-worker` beside this program.
    #[arg(long, requires = "worker")]
    pub(crate) worker_binary: Option<PathBuf>,
    /// How many workers poll at once.
    #[arg(long, default_value_t = 1, requires = "worker")]
    pub(crate) workers: usize,
    /// The custom action type's category.
    #[arg(long, default_value = "Deploy")]
    pub(crate) category: String,
    /// The custom action type's provider.
    #[arg(long, default_value = "CfnDeployer")]
    pub(crate) provider: String,
    /// The custom action type's version.
    #[arg(long, default_value = "1")]
    pub(crate) action_version: String,
    /// The action type's queryable property and the job's value for it; the workers poll for it.
    #[arg(long, value_name = "KEY=VALUE", requires = "worker")]
    pub(crate) query: Option<String>,
    /// The value the workers poll for instead of the job's (a job no worker serves).
    #[arg(long, value_name = "VALUE", requires = "query")]
    pub(crate) workers_serve: Option<String>,
    /// A configuration property of the custom action, KEY=VALUE (repeatable); they take the
    /// place of UserParameters. --stack and --user-parameters are turned into properties too.
    #[arg(long = "configuration", value_name = "KEY=VALUE", requires = "worker")]
    pub(crate) configuration: Vec<String>,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 4, requires = "worker")]
    pub(crate) concurrency: u16,
    /// Seconds one step of a job may take in a worker.
    #[arg(long, default_value_t = 20.0, requires = "worker")]
    pub(crate) step_seconds: f64,
    /// Stop the first worker with SIGTERM this many seconds after it claims the first job,
    /// and start a fresh one in its place.
    #[arg(long, value_name = "SECS", requires = "worker")]
    pub(crate) stop_worker_after: Option<f64>,
    /// Seconds a queued job may wait for a worker to pick it up.
    #[arg(long, default_value_t = 30)]
    pub(crate) pickup_timeout: u64,
    /// Run this many actions at once, each deploying its own stack (NAME-1, NAME-2, …).
    #[arg(long, default_value_t = 1, requires = "worker")]
    pub(crate) parallel: usize,
    /// Run cfn-deployer's state machine (statemachine/deploy.asl.json) on an Amazon States
    /// Language interpreter, its Lambda tasks on the function, instead of a CodePipeline job.
    #[arg(long, conflicts_with = "worker")]
    pub(crate) step_functions: bool,
    /// The interpreter: `local` (npm aws-local-stepfunctions) or `moto` (moto's Step Functions).
    #[arg(long, value_enum, default_value_t = InterpreterArg::Local, requires = "step_functions")]
    pub(crate) interpreter: InterpreterArg,
    /// The execution input, JSON; without TemplateURL (or Build), the artifact's --file is used.
    #[arg(long, requires = "step_functions")]
    pub(crate) input: Option<String>,
    /// Run a mocked CodeBuild build first: it `succeeds` (exporting the artifact's template as
    /// TEMPLATE_URL) or `fails`.
    #[arg(long, value_enum, requires = "step_functions")]
    pub(crate) build: Option<BuildArg>,
    /// The state machine definition; by default the project's statemachine/deploy.asl.json.
    #[arg(long, requires = "step_functions")]
    pub(crate) definition: Option<PathBuf>,
    /// Show the function's (or workers') own log lines.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Print one JSON summary at the end instead of the live view, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
    /// Send this saved `CodePipeline.job` event (such as `sam local generate-event codepipeline
    /// job` prints), its UserParameters and artifact names kept, its artifact locations replaced
    /// by the uploaded artifact's.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["worker", "step_functions", "user_parameters", "stack"])]
    pub(crate) event: Option<PathBuf>,
    /// Deliver the jobs through the Lambda Invoke API at URL (a runtime of your own, such as
    /// `cargo lambda watch`) instead of starting the function; prints the environment it needs.
    #[arg(long, value_name = "URL", conflicts_with_all = ["worker", "step_functions"])]
    pub(crate) invoke_url: Option<String>,
    /// The local CodePipeline's port; the AWS proxy takes the next one. Free ports by default,
    /// 9100 with --invoke-url.
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Play `cargo lambda watch`: serve the Lambda Invoke API (and the Runtime API) on --port
    /// (default 9000), running the function with this process's environment, until Ctrl-C.
    #[arg(long, conflicts_with_all = ["worker", "step_functions", "invoke_url", "event"])]
    pub(crate) serve_function: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum InterpreterArg {
    /// npm aws-local-stepfunctions.
    Local,
    /// moto's Step Functions.
    Moto,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum BuildArg {
    /// The build succeeds.
    Succeeds,
    /// The build fails.
    Fails,
}

/// Where this source tree keeps a file of the project: the defaults of a development build.
fn in_source(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The front the command line names: workers, the state machine, or else the function.
pub(crate) fn front(cli: &Cli) -> anyhow::Result<Front> {
    Ok(match (worker_options(cli)?, step_functions_options(cli)?) {
        (Some(worker), _) => Front::Worker(worker),
        (None, Some(sfn)) => Front::StepFunctions(sfn),
        (None, None) => Front::Function,
    })
}

fn step_functions_options(cli: &Cli) -> anyhow::Result<Option<StepFunctionsOptions>> {
    if !cli.step_functions {
        return Ok(None);
    }
    let input = match (&cli.input, &cli.stack) {
        (Some(raw), _) => serde_json::from_str(raw).context("--input is not JSON")?,
        (None, Some(stack)) => serde_json::json!({"StackName": stack}),
        (None, None) => bail!("give --stack NAME (or --input JSON)"),
    };
    Ok(Some(StepFunctionsOptions {
        interpreter: match cli.interpreter {
            InterpreterArg::Local => Interpreter::Local,
            InterpreterArg::Moto => Interpreter::Moto,
        },
        definition: cli
            .definition
            .clone()
            .unwrap_or_else(|| in_source("../../statemachine/deploy.asl.json")),
        runners: in_source("stepfunctions"),
        input,
        template_file: cli.file.clone(),
        build: cli.build.map(|b| match b {
            BuildArg::Succeeds => BuildMock::Succeeds,
            BuildArg::Fails => BuildMock::Fails,
        }),
    }))
}

/// A custom action's configuration from the command line: `--stack` (or `--user-parameters`)
/// in the built-in action's names, every value a string, then each `--configuration`.
fn configuration(cli: &Cli) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    if let Some(raw) = &cli.user_parameters {
        let value: serde_json::Value =
            serde_json::from_str(raw).context("--user-parameters is not JSON")?;
        let serde_json::Value::Object(object) = value else {
            bail!("--user-parameters must be a JSON object");
        };
        for (k, v) in object {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            map.insert(k, text);
        }
    } else if let Some(stack) = &cli.stack {
        map.insert("StackName".into(), stack.clone());
        map.insert(
            "TemplatePath".into(),
            format!("{}::{}", cli.artifact, cli.file),
        );
    }
    for pair in &cli.configuration {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("--configuration `{pair}` is not KEY=VALUE"))?;
        map.insert(k.to_owned(), v.to_owned());
    }
    Ok(map)
}

fn worker_options(cli: &Cli) -> anyhow::Result<Option<WorkerOptions>> {
    if !cli.worker {
        return Ok(None);
    }
    let (queryable, query_value) = match &cli.query {
        Some(pair) => {
            let (k, v) = pair
                .split_once('=')
                .with_context(|| format!("--query `{pair}` is not KEY=VALUE"))?;
            (Some(k.to_owned()), Some(v.to_owned()))
        }
        None => (None, None),
    };
    Ok(Some(WorkerOptions {
        binary: match &cli.worker_binary {
            Some(b) => b.clone(),
            None => std::env::current_exe()?.with_file_name("cfn-deployer-worker"),
        },
        workers: cli.workers,
        action_type: ActionType {
            category: cli.category.clone(),
            owner: "Custom".into(),
            provider: cli.provider.clone(),
            version: cli.action_version.clone(),
            queryable,
        },
        query_value,
        worker_query_value: cli.workers_serve.clone(),
        configuration: configuration(cli)?,
        concurrency: cli.concurrency,
        step_seconds: cli.step_seconds,
        stop_after: cli.stop_worker_after.map(Duration::from_secs_f64),
        pickup_timeout: Duration::from_secs(cli.pickup_timeout),
        parallel: cli.parallel.max(1),
    }))
}
