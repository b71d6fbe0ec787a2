//! Running one pipeline action locally: upload the artifact, start the services, then hand the
//! job to the real function ([`crate::lambda`]) or to real workers ([`crate::worker`]) until it
//! ends.

use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::proxy::{Fault, Proxy};
use crate::server::{JobResult, Notice, Services};
use crate::view::watch::Watcher;
use crate::view::Style;
use cfn_deployer_artifact::Location;

/// The access key id of the artifact credentials the local jobs carry.
pub const ARTIFACT_ACCESS_KEY: &str = "ASIALOCALPIPELINEARTIFACTS";

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
    /// Deliver every job twice at the same time, to a function running two invocations at once.
    pub duplicate: bool,
    /// The KMS key the simulated artifact store uses, put in the job as `encryptionKey`.
    pub encryption_key_id: Option<String>,
    /// Hand the job to custom-action workers instead of the function.
    pub worker: Option<crate::worker::WorkerOptions>,
    /// Run cfn-deployer's state machine instead, its tasks on the function.
    pub step_functions: Option<crate::sfn::StepFunctionsOptions>,
    /// What the run shows.
    pub view: crate::view::View,
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
            duplicate: false,
            encryption_key_id: None,
            worker: None,
            step_functions: None,
            view: crate::view::View::quiet(),
            template_resources: None,
            output_artifact_name: OUTPUT_ARTIFACT.into(),
            event: None,
            invoke_url: None,
            port: None,
        }
    }
}

/// How the action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The function reported a final result.
    Reported(JobResult),
    /// The job never got a final result; CodePipeline would time the action out.
    NotReported(String),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// How it ended.
    pub end: End,
    /// Jobs delivered (the first and each continuation).
    pub jobs: usize,
    /// Invocations of the function, retries included; or jobs claimed by workers.
    pub invocations: usize,
    /// State transitions of a Step Functions execution.
    pub state_transitions: Option<usize>,
    /// The function's or workers' AWS calls per `Service:Operation` (when proxied).
    pub calls: std::collections::BTreeMap<String, u64>,
    /// Calls to the local CodePipeline, by operation.
    pub calls_to_codepipeline: std::collections::BTreeMap<String, u64>,
    /// The most jobs claimed and not yet reported at one time (workers only).
    pub most_in_flight: usize,
    /// Bytes S3 sent the function (when proxied).
    pub s3_bytes: u64,
    /// The faults injected, one line each.
    pub injected: Vec<String>,
    /// From starting the function process to its first Runtime API request (its cold start).
    pub cold_start: Option<Duration>,
    /// The function process's peak resident memory, in KiB (Linux), across its restarts.
    pub peak_rss_kib: Option<u64>,
    /// Where the job's output artifact goes.
    pub output_artifact: Location,
    /// Its name.
    pub output_artifact_name: String,
    /// S3 calls signed with the artifact credentials.
    pub artifact_calls: usize,
    /// Those that were neither a read of the input artifact nor a write of the output
    /// artifact, one line each.
    pub artifact_misuse: Vec<String>,
}

/// The local run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A local file or process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An AWS call of the pipeline's own failed.
    #[error("{0}")]
    Aws(String),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let what = what.into();
    move |source| LocalError::Io { what, source }
}

/// An S3 client with the pipeline's own credentials; path-style on a custom endpoint.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(cfn_deployer_aws::s3_config(sdk).build())
}

async fn ensure_bucket(
    s3: &aws_sdk_s3::Client,
    sdk: &SdkConfig,
    bucket: &str,
) -> Result<(), LocalError> {
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut create = s3.create_bucket().bucket(bucket);
    let region = sdk
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    if !region.is_empty() && region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    region.as_str(),
                ))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let fault = cfn_deployer_aws::AwsFault::of(&e);
            // Created by a concurrent run between the check and the create.
            if fault.code.as_deref() == Some("BucketAlreadyOwnedByYou") {
                Ok(())
            } else {
                Err(LocalError::Aws(format!(
                    "creating artifact bucket `{bucket}` failed: {}",
                    fault.to_text()
                )))
            }
        }
    }
}

/// Puts the artifact where the job will point, and returns its location.
pub async fn upload(sdk: &SdkConfig, opts: &Options) -> Result<Location, LocalError> {
    let (path, _keep) = match &opts.source {
        Source::Object(location) => return Ok(location.clone()),
        Source::Zip(path) => (path.clone(), None),
        Source::Dir(dir) => {
            let file = tempfile::Builder::new()
                .suffix(".zip")
                .tempfile()
                .map_err(io("creating a temporary zip"))?;
            let (dir2, handle) = (
                dir.clone(),
                file.reopen().map_err(io("opening the temporary zip"))?,
            );
            tokio::task::spawn_blocking(move || crate::archive::zip_dir(&dir2, handle))
                .await
                .map_err(|e| LocalError::Io {
                    what: "zipping".into(),
                    source: std::io::Error::other(e),
                })?
                .map_err(io(format!("zipping {}", dir.display())))?;
            (file.path().to_path_buf(), Some(file))
        }
    };
    let s3 = s3_client(sdk);
    ensure_bucket(&s3, sdk, &opts.bucket).await?;
    let short: String = opts.artifact_name.chars().take(10).collect();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("local-pipeline/{short}/{}", &random[..7]);
    let body = ByteStream::from_path(&path)
        .await
        .map_err(|e| LocalError::Aws(format!("reading {}: {e}", path.display())))?;
    s3.put_object()
        .bucket(&opts.bucket)
        .key(&key)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            LocalError::Aws(format!(
                "uploading the artifact: {}",
                cfn_deployer_aws::AwsFault::of(&e).to_text()
            ))
        })?;
    Ok(Location {
        bucket: opts.bucket.clone(),
        key,
    })
}

/// A pipeline run's common ground: the artifact uploaded, the output artifact's place, the
/// artifact credentials, the local services and the proxy, and the environment every process
/// the run starts (function or worker) gets.
pub(crate) struct Stage {
    pub(crate) location: Location,
    pub(crate) output: Location,
    pub(crate) output_name: String,
    pub(crate) credentials: aws_sdk_s3::config::Credentials,
    pub(crate) services: Services,
    pub(crate) notices: UnboundedReceiver<Notice>,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) env: Vec<(String, String)>,
}

impl Stage {
    /// Uploads the artifact and starts the services and the proxy.
    pub(crate) async fn prepare(sdk: &SdkConfig, opts: &Options) -> Result<Self, LocalError> {
        let location = upload(sdk, opts).await?;
        let output = Location {
            bucket: opts.bucket.clone(),
            key: format!(
                "local-pipeline/DeployOutp/{}",
                &uuid::Uuid::new_v4().simple().to_string()[..7]
            ),
        };
        // Artifact credentials of their own, as CodePipeline's are: against an endpoint (moto
        // takes any key), a distinct key, so that the proxy can tell every S3 call they sign
        // apart. Real S3 (`--aws`) knows only the real key, and there is no proxy to count.
        let own = credentials(sdk).await?;
        let key_id = match opts.endpoint {
            Some(_) => ARTIFACT_ACCESS_KEY,
            None => own.access_key_id(),
        };
        let credentials = aws_sdk_s3::config::Credentials::new(
            key_id,
            own.secret_access_key(),
            own.session_token().map(str::to_owned),
            None,
            "local-pipeline-artifacts",
        );
        let port = opts.port.unwrap_or(0);
        let (services, notices) = Services::start_on(port).await.map_err(io(format!(
            "starting the local CodePipeline on port {port}"
        )))?;
        let (api_faults, proxy_faults): (Vec<Fault>, Vec<Fault>) = opts
            .faults
            .iter()
            .cloned()
            .partition(|f| crate::codepipeline::OPERATIONS.contains(&f.operation.as_str()));
        services.set_faults(api_faults);
        let mut env = vec![
            (
                "AWS_ENDPOINT_URL_CODEPIPELINE".to_owned(),
                format!("http://{}", services.addr()),
            ),
            // The processes' log lines are forwarded into this terminal's output, not a terminal.
            ("NO_COLOR".to_owned(), "1".to_owned()),
        ];
        if let Some(region) = sdk.region() {
            env.push(("AWS_REGION".to_owned(), region.to_string()));
        }
        if let Some(bucket) = &opts.staging_bucket {
            ensure_bucket(&s3_client(sdk), sdk, bucket).await?;
            env.push(("CFN_DEPLOYER_STAGING_BUCKET".to_owned(), bucket.clone()));
        }
        env.extend(opts.function_env.iter().cloned());
        let proxy = match &opts.endpoint {
            Some(upstream) => {
                let port = opts.port.map_or(0, |p| p.saturating_add(1));
                let proxy = Proxy::start_on(upstream, proxy_faults, port)
                    .await
                    .map_err(io(format!(
                        "starting the proxy to {upstream} on port {port}"
                    )))?;
                env.push(("AWS_ENDPOINT_URL".to_owned(), proxy.url()));
                Some(proxy)
            }
            None => None,
        };
        Ok(Self {
            location,
            output,
            output_name: opts.output_artifact_name.clone(),
            credentials,
            services,
            notices,
            proxy,
            env,
        })
    }

    /// The job's `data`, as CodePipeline hands it to a function or a worker: the action's
    /// `configuration`, its artifacts, the artifact credentials, and the token it continues.
    pub(crate) fn job_data(
        &self,
        opts: &Options,
        configuration: Value,
        continuation_token: Option<&str>,
    ) -> Value {
        let (location, output, credentials) = (&self.location, &self.output, &self.credentials);
        let mut data = json!({
            "actionConfiguration": {"configuration": configuration},
            "inputArtifacts": [{
                "name": opts.artifact_name,
                "revision": null,
                "location": {"type": "S3", "s3Location": {"bucketName": location.bucket, "objectKey": location.key}},
            }],
            "outputArtifacts": [{
                "name": self.output_name,
                "revision": null,
                "location": {"type": "S3", "s3Location": {"bucketName": output.bucket, "objectKey": output.key}},
            }],
            "artifactCredentials": {
                "accessKeyId": credentials.access_key_id(),
                "secretAccessKey": credentials.secret_access_key(),
                "sessionToken": credentials.session_token(),
                "expirationTime": 0,
            },
        });
        if let Some(token) = continuation_token {
            data["continuationToken"] = Value::String(token.to_owned());
        }
        if let Some(key) = &opts.encryption_key_id {
            data["encryptionKey"] = json!({"id": key, "type": "KMS"});
        }
        data
    }

    /// What the run did, once it ended so.
    pub(crate) fn summary(&self, end: End, jobs: usize, deliveries: usize) -> Summary {
        let proxy = self.proxy.as_ref();
        let input = format!("/{}/{}", self.location.bucket, self.location.key);
        let output = format!("/{}/{}", self.output.bucket, self.output.key);
        let signed: Vec<crate::proxy::SignedCall> = proxy
            .map(|p| p.stats().s3_calls())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.access_key_id == ARTIFACT_ACCESS_KEY)
            .collect();
        let artifact_misuse = signed
            .iter()
            .filter(|c| {
                !((c.method == "GET" && c.path == input) || (c.method == "PUT" && c.path == output))
            })
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        Summary {
            end,
            jobs,
            invocations: deliveries,
            state_transitions: None,
            calls: proxy.map(|p| p.stats().calls()).unwrap_or_default(),
            s3_bytes: proxy.map(|p| p.stats().s3_bytes()).unwrap_or_default(),
            injected: proxy.map(|p| p.stats().injected()).unwrap_or_default(),
            calls_to_codepipeline: self.services.calls(),
            most_in_flight: 0,
            cold_start: None,
            peak_rss_kib: None,
            output_artifact: self.output.clone(),
            output_artifact_name: self.output_name.clone(),
            artifact_calls: signed.len(),
            artifact_misuse,
        }
    }
}

/// Runs the action: uploads the artifact, then hands out jobs, to the function or to workers,
/// until one ends the action.
pub async fn run(sdk: &SdkConfig, opts: &Options) -> Result<Summary, LocalError> {
    let stage = Stage::prepare(sdk, opts).await?;
    opts.view.begin(&opts.artifact_name, &stage.location);
    let watcher = match (opts.view.stack(), opts.view.style()) {
        (Some(stack), Style::Live | Style::Plain) => Some(Watcher::start(
            aws_sdk_cloudformation::Client::new(sdk),
            stack.to_owned(),
            opts.template_resources,
            opts.view.clone(),
            opts.poll_interval.clamp(WATCH_MIN, WATCH_MAX),
            stage.proxy.as_ref().map(Proxy::shared_stats),
        )),
        _ => None,
    };
    let summary = match (&opts.worker, &opts.step_functions) {
        (Some(worker), _) => crate::worker::run(stage, opts, worker).await,
        (None, Some(sfn)) => crate::sfn::run(stage, opts, sfn).await,
        (None, None) => crate::lambda::run(stage, opts).await,
    };
    if let Some(watcher) = watcher {
        watcher.stop().await;
    }
    opts.view.finish();
    summary
}

/// The live view reads the stack at most this often: CloudFormation's API rate is shared with
/// the function's own calls.
const WATCH_MIN: Duration = Duration::from_millis(500);
/// … and at least this often, however long the pipeline waits between jobs.
const WATCH_MAX: Duration = Duration::from_secs(3);

async fn credentials(sdk: &SdkConfig) -> Result<aws_sdk_s3::config::Credentials, LocalError> {
    use aws_sdk_s3::config::ProvideCredentials;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| LocalError::Aws("no AWS credentials configured".into()))?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| LocalError::Aws(format!("loading AWS credentials: {e}")))
}
