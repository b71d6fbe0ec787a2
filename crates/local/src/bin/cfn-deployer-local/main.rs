//! `cfn-deployer-local`: runs a CodePipeline deploy action on this machine, with the real
//! function binary, against moto (the default) or real S3 and CloudFormation. Wiring only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use cfn_deployer_artifact::Location;
use cfn_deployer_local::codepipeline::ActionType;
use cfn_deployer_local::proxy::Fault;
use cfn_deployer_local::run::{self, End, Options, Source};
use cfn_deployer_local::server::JobResult;
use cfn_deployer_local::sfn::{BuildMock, Interpreter, StepFunctionsOptions};
use cfn_deployer_local::worker::WorkerOptions;
use cfn_deployer_params::Params;
use clap::{Parser, ValueEnum};

/// Run a cfn-deployer pipeline action locally.
#[derive(Debug, Parser)]
#[command(version, about, args_override_self = true)]
struct Cli {
    /// Folder to zip as the input artifact (omit with --zip or --object).
    dir: Option<PathBuf>,
    /// Stack to deploy; builds UserParameters from --stack, --artifact and --file.
    #[arg(long)]
    stack: Option<String>,
    /// Template path inside the artifact.
    #[arg(long, default_value = "template.yaml")]
    file: String,
    /// Input artifact name.
    #[arg(long, default_value = "BuildOutput")]
    artifact: String,
    /// UserParameters, verbatim (overrides --stack and --file).
    #[arg(long)]
    user_parameters: Option<String>,
    /// Use this zip file as the artifact, as it is.
    #[arg(long, conflicts_with = "object")]
    zip: Option<PathBuf>,
    /// Use this existing S3 object (s3://bucket/key) as the artifact.
    #[arg(long)]
    object: Option<String>,
    /// Artifact bucket, created when missing.
    #[arg(long, default_value = "cfn-deployer-local-artifacts")]
    bucket: String,
    /// The function binary; by default `cfn-deployer` beside this program.
    #[arg(long)]
    function: Option<PathBuf>,
    /// AWS endpoint (moto). Ignored with --aws.
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:5000"
    )]
    endpoint_url: String,
    /// Use real AWS with your credentials instead of an endpoint such as moto.
    #[arg(long)]
    aws: bool,
    /// Region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Seconds between a continuation and the next job.
    #[arg(long, default_value_t = 1.0)]
    poll_interval: f64,
    /// Seconds one invocation may run.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Continuations before giving up.
    #[arg(long, default_value_t = 200)]
    max_continuations: usize,
    /// Inject a fault into the function's AWS calls: OPERATION:KIND[:TIMES], KIND one of 500,
    /// 503, throttle, drop, norange, delay=SECONDS (e.g. GetObject:503:2). Repeatable; not with --aws.
    #[arg(long = "fault", value_name = "FAULT")]
    faults: Vec<Fault>,
    /// Deliver every job twice at the same time, as Lambda may.
    #[arg(long)]
    duplicate: bool,
    /// The bucket large templates are staged in, created when missing and handed to the
    /// function and workers as CFN_DEPLOYER_STAGING_BUCKET; empty for none.
    #[arg(long, default_value = "cfn-deployer-local-staging")]
    staging_bucket: String,
    /// Give the job an `encryptionKey`, as a pipeline whose artifact store uses this KMS key.
    #[arg(long)]
    encryption_key_id: Option<String>,
    /// Play a custom action: queue the job for `cfn-deployer-worker` processes to poll, claim
    /// and report, instead of invoking the function.
    #[arg(long)]
    worker: bool,
    /// The worker binary; by default `cfn-deployer-worker` beside this program.
    #[arg(long, requires = "worker")]
    worker_binary: Option<PathBuf>,
    /// How many workers poll at once.
    #[arg(long, default_value_t = 1, requires = "worker")]
    workers: usize,
    /// The custom action type's category.
    #[arg(long, default_value = "Deploy")]
    category: String,
    /// The custom action type's provider.
    #[arg(long, default_value = "CfnDeployer")]
    provider: String,
    /// The custom action type's version.
    #[arg(long, default_value = "1")]
    action_version: String,
    /// The action type's queryable property and the job's value for it; the workers poll for it.
    #[arg(long, value_name = "KEY=VALUE", requires = "worker")]
    query: Option<String>,
    /// The value the workers poll for instead of the job's (a job no worker serves).
    #[arg(long, value_name = "VALUE", requires = "query")]
    workers_serve: Option<String>,
    /// A configuration property of the custom action, KEY=VALUE (repeatable); they take the
    /// place of UserParameters. --stack and --user-parameters are turned into properties too.
    #[arg(long = "configuration", value_name = "KEY=VALUE", requires = "worker")]
    configuration: Vec<String>,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 4, requires = "worker")]
    concurrency: u16,
    /// Seconds one step of a job may take in a worker.
    #[arg(long, default_value_t = 20.0, requires = "worker")]
    step_seconds: f64,
    /// Stop the first worker with SIGTERM this many seconds after it claims the first job,
    /// and start a fresh one in its place.
    #[arg(long, value_name = "SECS", requires = "worker")]
    stop_worker_after: Option<f64>,
    /// Seconds a queued job may wait for a worker to pick it up.
    #[arg(long, default_value_t = 30)]
    pickup_timeout: u64,
    /// Run this many actions at once, each deploying its own stack (NAME-1, NAME-2, …).
    #[arg(long, default_value_t = 1, requires = "worker")]
    parallel: usize,
    /// Run cfn-deployer's state machine (statemachine/deploy.asl.json) on an Amazon States
    /// Language interpreter, its Lambda tasks on the function, instead of a CodePipeline job.
    #[arg(long, conflicts_with = "worker")]
    step_functions: bool,
    /// The interpreter: `local` (npm aws-local-stepfunctions) or `moto` (moto's Step Functions).
    #[arg(long, value_enum, default_value_t = InterpreterArg::Local, requires = "step_functions")]
    interpreter: InterpreterArg,
    /// The execution input, JSON; without TemplateURL (or Build), the artifact's --file is used.
    #[arg(long, requires = "step_functions")]
    input: Option<String>,
    /// Run a mocked CodeBuild build first: it `succeeds` (exporting the artifact's template as
    /// TEMPLATE_URL) or `fails`.
    #[arg(long, value_enum, requires = "step_functions")]
    build: Option<BuildArg>,
    /// The state machine definition; by default the project's statemachine/deploy.asl.json.
    #[arg(long, requires = "step_functions")]
    definition: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum InterpreterArg {
    /// npm aws-local-stepfunctions.
    Local,
    /// moto's Step Functions.
    Moto,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BuildArg {
    /// The build succeeds.
    Succeeds,
    /// The build fails.
    Fails,
}

/// Where this source tree keeps a file of the project: the defaults of a development build.
fn in_source(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
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

#[tokio::main]
async fn main() -> ExitCode {
    match real_main().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cfn-deployer-local: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let source = match (&cli.zip, &cli.object, &cli.dir) {
        (Some(zip), _, _) => Source::Zip(zip.clone()),
        (_, Some(object), _) => {
            let rest = object
                .strip_prefix("s3://")
                .context("--object takes s3://bucket/key")?;
            let (bucket, key) = rest
                .split_once('/')
                .context("--object takes s3://bucket/key")?;
            Source::Object(Location {
                bucket: bucket.into(),
                key: key.into(),
            })
        }
        (_, _, Some(dir)) => Source::Dir(dir.clone()),
        _ => bail!("give a folder to zip, --zip FILE or --object s3://bucket/key"),
    };
    let worker = worker_options(&cli)?;
    let step_functions = step_functions_options(&cli)?;
    let user_parameters = match (&cli.user_parameters, &cli.stack) {
        (Some(raw), _) => raw.clone(),
        (None, Some(stack)) => {
            serde_json::json!({"stack": stack, "artifact": cli.artifact, "file": cli.file})
                .to_string()
        }
        (None, None) if worker.is_some() || step_functions.is_some() => String::new(),
        (None, None) => bail!("give --stack NAME (or --user-parameters JSON)"),
    };
    let function = match &cli.function {
        Some(f) => f.clone(),
        None => std::env::current_exe()?.with_file_name("cfn-deployer"),
    };

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(cli.region.clone()));
    let mut function_env = Vec::new();
    if !cli.aws {
        loader = loader.endpoint_url(&cli.endpoint_url);
        // moto takes any credentials; give both sides some when none are set.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "local",
            )));
            function_env.push(("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()));
            function_env.push(("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()));
        }
    }
    let sdk = loader.load().await;

    let opts = Options {
        function,
        source,
        artifact_name: cli.artifact.clone(),
        user_parameters: user_parameters.clone(),
        bucket: cli.bucket.clone(),
        poll_interval: Duration::from_secs_f64(cli.poll_interval.max(0.0)),
        invocation_timeout: Duration::from_secs(cli.timeout),
        max_continuations: cli.max_continuations,
        function_env,
        staging_bucket: Some(cli.staging_bucket.clone()).filter(|b| !b.is_empty()),
        endpoint: (!cli.aws).then(|| cli.endpoint_url.clone()),
        faults: cli.faults.clone(),
        duplicate: cli.duplicate,
        encryption_key_id: cli.encryption_key_id.clone(),
        worker: worker.clone(),
        step_functions: step_functions.clone(),
    };
    if cli.aws && !cli.faults.is_empty() {
        bail!("--fault needs an endpoint such as moto; it cannot be used with --aws");
    }
    let summary = run::run(&sdk, &opts).await?;
    println!(
        "{} job(s), {} {}",
        summary.jobs,
        summary.invocations,
        if worker.is_some() {
            "claim(s)"
        } else {
            "invocation(s)"
        }
    );
    if !summary.calls.is_empty() {
        let total: u64 = summary.calls.values().sum();
        let each: Vec<String> = summary
            .calls
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        println!(
            "AWS calls by the {}: {total} ({}); S3 bytes received: {}",
            if worker.is_some() {
                "workers"
            } else {
                "function"
            },
            each.join(", "),
            summary.s3_bytes
        );
    }
    if let (Some(_), Some(peak)) = (&worker, summary.peak_rss_kib) {
        let calls: Vec<String> = summary
            .calls_to_codepipeline
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        println!(
            "workers: peak memory {:.1} MiB; CodePipeline calls: {}",
            peak as f64 / 1024.0,
            calls.join(", ")
        );
    }
    if let (Some(start), Some(peak)) = (summary.cold_start, summary.peak_rss_kib) {
        println!(
            "function: ready {} ms after start; peak memory {:.1} MiB",
            start.as_millis(),
            peak as f64 / 1024.0
        );
    }
    if summary.artifact_calls > 0 && summary.artifact_misuse.is_empty() {
        println!(
            "artifact credentials: {} S3 call(s), each a read of the input artifact or a write of the output artifact",
            summary.artifact_calls
        );
    }
    for misuse in &summary.artifact_misuse {
        println!("artifact credentials used for {misuse}: neither a read of the input artifact nor a write of the output artifact");
    }
    for fault in &summary.injected {
        println!("fault injected: {fault}");
    }
    // The stack the settings name, when they are valid enough to name one; parallel actions
    // each deploy a stack of their own.
    let stack = match (&worker, &step_functions) {
        (Some(w), _) => {
            Params::from_configuration(&w.configuration.clone().into_iter().collect(), None)
                .ok()
                .map(|p| p.stack)
        }
        (None, Some(s)) => s
            .input
            .get("StackName")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        (None, None) => Params::from_user_parameters(Some(&user_parameters))
            .ok()
            .map(|p| p.stack),
    }
    .filter(|_| cli.parallel <= 1);
    cfn_deployer_local::print::print_output_artifact(&sdk, &summary.output_artifact).await;
    if let Some(stack) = stack {
        cfn_deployer_local::print::print_stack(&aws_sdk_cloudformation::Client::new(&sdk), &stack)
            .await;
    }
    Ok(match summary.end {
        End::Reported(JobResult::Succeeded {
            summary,
            output_variables,
            ..
        }) => {
            if let Some(serde_json::Value::Object(vars)) = output_variables {
                for (name, value) in vars {
                    println!(
                        "  output variable {name} = {}",
                        value.as_str().unwrap_or_default()
                    );
                }
            }
            println!("SUCCEEDED: {}", summary.unwrap_or_default());
            ExitCode::SUCCESS
        }
        End::Reported(JobResult::Failed { kind, message, .. }) => {
            println!("FAILED ({kind}): {message}");
            ExitCode::FAILURE
        }
        End::NotReported(why) => {
            println!("NOT REPORTED: {why}");
            ExitCode::FAILURE
        }
    })
}
