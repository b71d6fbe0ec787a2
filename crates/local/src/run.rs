//! Running one pipeline action locally: upload the artifact, deliver the job to the real
//! function binary, and keep delivering continuation jobs until the job ends.

use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use crate::function::Function;
use crate::proxy::{Fault, Proxy};
use crate::server::{Invocation, JobResult, Notice, Services};
use cfn_deployer_artifact::Location;

/// The name of the output artifact every local job declares, as an action with one would.
pub const OUTPUT_ARTIFACT: &str = "DeployOutput";

/// Lambda tries an asynchronous event this many times in all before giving up.
const LAMBDA_ATTEMPTS: usize = 3;

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
    /// The AWS endpoint (moto) the function's calls go to, through a counting proxy; `None`
    /// for real AWS, reached directly.
    pub endpoint: Option<String>,
    /// Faults the proxy injects into the function's calls.
    pub faults: Vec<Fault>,
    /// Deliver every job twice at the same time, to a function running two invocations at once.
    pub duplicate: bool,
    /// The KMS key the simulated artifact store uses, put in the job as `encryptionKey`.
    pub encryption_key_id: Option<String>,
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
    /// Invocations of the function, retries included.
    pub invocations: usize,
    /// The function's AWS calls per `Service:Operation` (when proxied).
    pub calls: std::collections::BTreeMap<String, u64>,
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

/// The job event CodePipeline would send.
pub fn job_event(
    job_id: &str,
    opts: &Options,
    location: &Location,
    output: &Location,
    credentials: &aws_sdk_s3::config::Credentials,
    continuation_token: Option<&str>,
) -> Value {
    let mut data = json!({
        "actionConfiguration": {"configuration": {
            "FunctionName": "cfn-deployer",
            "UserParameters": opts.user_parameters,
        }},
        "inputArtifacts": [{
            "name": opts.artifact_name,
            "revision": null,
            "location": {"type": "S3", "s3Location": {"bucketName": location.bucket, "objectKey": location.key}},
        }],
        "outputArtifacts": [{
            "name": OUTPUT_ARTIFACT,
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
    json!({"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}})
}

/// Runs the action: uploads the artifact, then delivers jobs until one ends the action.
pub async fn run(sdk: &SdkConfig, opts: &Options) -> Result<Summary, LocalError> {
    let location = upload(sdk, opts).await?;
    println!("artifact `{}` at {location}", opts.artifact_name);
    let output = Location {
        bucket: opts.bucket.clone(),
        key: format!(
            "local-pipeline/DeployOutp/{}",
            &uuid::Uuid::new_v4().simple().to_string()[..7]
        ),
    };
    let credentials = credentials(sdk).await?;
    let (services, mut notices) = Services::start()
        .await
        .map_err(io("starting the local services"))?;
    let addr = services.addr();
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API".to_owned(), addr.to_string()),
        (
            "AWS_LAMBDA_FUNCTION_NAME".to_owned(),
            "cfn-deployer".to_owned(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            "$LATEST".to_owned(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            "128".to_owned(),
        ),
        (
            "AWS_ENDPOINT_URL_CODEPIPELINE".to_owned(),
            format!("http://{addr}"),
        ),
        // The function's log lines are forwarded into this terminal's output, not a terminal.
        ("NO_COLOR".to_owned(), "1".to_owned()),
    ];
    if let Some(region) = sdk.region() {
        env.push(("AWS_REGION".to_owned(), region.to_string()));
    }
    if opts.duplicate {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY".to_owned(), "2".to_owned()));
    }
    env.extend(opts.function_env.iter().cloned());
    let proxy = match &opts.endpoint {
        Some(upstream) => {
            let proxy = Proxy::start(upstream, opts.faults.clone())
                .await
                .map_err(io(format!("starting the proxy to {upstream}")))?;
            env.push(("AWS_ENDPOINT_URL".to_owned(), proxy.url()));
            Some(proxy)
        }
        None => None,
    };
    let mut function = Function {
        opts,
        env,
        child: None,
        spawned: None,
        cold_start: None,
        peak_rss_kib: None,
    };

    let mut token: Option<String> = None;
    let mut jobs = 0;
    let mut invocations = 0;
    let end = loop {
        jobs += 1;
        let job_id = uuid::Uuid::new_v4().to_string();
        services.add_job(&job_id);
        let event = job_event(
            &job_id,
            opts,
            &location,
            &output,
            &credentials,
            token.as_deref(),
        );
        println!(
            "job {jobs} {job_id}: {}",
            if token.is_some() {
                "continuing"
            } else {
                "started"
            }
        );
        let end = deliver(
            &services,
            &mut notices,
            &mut function,
            &job_id,
            &event,
            &mut invocations,
        )
        .await?;
        match end {
            End::Reported(JobResult::Succeeded {
                continuation_token: Some(next),
                summary,
                percent_complete,
                ..
            }) => {
                let percent = percent_complete
                    .map(|p| format!(" ({p}%)"))
                    .unwrap_or_default();
                println!("  continue: {}{percent}", summary.unwrap_or_default());
                if jobs > opts.max_continuations {
                    break End::NotReported(format!(
                        "the job was still running after {} continuations; CodePipeline would time the action out",
                        opts.max_continuations
                    ));
                }
                token = Some(next);
                tokio::time::sleep(opts.poll_interval).await;
            }
            other => break other,
        }
    };
    function.stop().await;
    Ok(Summary {
        end,
        jobs,
        invocations,
        calls: proxy
            .as_ref()
            .map(|p| p.stats().calls())
            .unwrap_or_default(),
        s3_bytes: proxy
            .as_ref()
            .map(|p| p.stats().s3_bytes())
            .unwrap_or_default(),
        injected: proxy
            .as_ref()
            .map(|p| p.stats().injected())
            .unwrap_or_default(),
        cold_start: function.cold_start,
        peak_rss_kib: function.peak_rss_kib,
        output_artifact: output,
    })
}

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

/// Delivers one job as Lambda delivers an asynchronous event: retried when the function fails.
async fn deliver(
    services: &Services,
    notices: &mut UnboundedReceiver<Notice>,
    function: &mut Function<'_>,
    job_id: &str,
    event: &Value,
    invocations: &mut usize,
) -> Result<End, LocalError> {
    let timeout = function.opts.invocation_timeout;
    let mut last_error = String::new();
    // With duplicates, the same event goes out twice at once, as Lambda may deliver it.
    let copies = if function.opts.duplicate { 2 } else { 1 };
    for attempt in 1..=LAMBDA_ATTEMPTS {
        let mut pending: Vec<String> = Vec::new();
        let child = function.ensure_running()?;
        for _ in 0..copies {
            *invocations += 1;
            let request_id = uuid::Uuid::new_v4().to_string();
            pending.push(request_id.clone());
            services.invoke(Invocation {
                request_id,
                event: event.clone(),
                timeout,
            });
        }
        let mut ready_at = None;
        let deadline = Instant::now() + timeout;
        let mut reported = None;
        let mut errors: Vec<String> = Vec::new();
        let failure: Option<String> = loop {
            if pending.is_empty() {
                break errors.into_iter().next();
            }
            tokio::select! {
                notice = notices.recv() => match notice {
                    Some(Notice::Reported { job_id: j, result }) if j == job_id => reported = Some(result),
                    Some(Notice::Reported { job_id: j, .. }) => println!("  note: a result arrived for an earlier job {j}"),
                    Some(Notice::Refused { job_id: j, code, message }) => {
                        println!("  CodePipeline refused a result for job {}: {code}: {message}", j.unwrap_or_default());
                    }
                    Some(Notice::InvocationDone { request_id: r, error }) if pending.contains(&r) => {
                        pending.retain(|p| *p != r);
                        errors.extend(error);
                    }
                    Some(Notice::InvocationDone { .. }) => {}
                    Some(Notice::Ready) => {
                        ready_at.get_or_insert_with(Instant::now);
                    }
                    Some(Notice::InitError(e)) => break Some(format!("the function failed to start: {e}")),
                    None => break Some("the local services stopped".into()),
                },
                status = child.wait() => {
                    let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    function.child = None;
                    break Some(format!("the function process exited ({status})"));
                }
                () = tokio::time::sleep_until(deadline) => {
                    function.stop().await;
                    break Some(format!("the invocation timed out after {} s", timeout.as_secs()));
                }
            }
        };
        if let Some(at) = ready_at {
            function.ready(at);
        }
        if let Some(result) = reported {
            if let Some(err) = failure {
                println!("  note: the function reported the job, then failed: {err}");
            }
            return Ok(End::Reported(result));
        }
        match failure {
            None => {
                return Ok(End::NotReported(
                    "the function returned without reporting the job; CodePipeline would wait until the action times out".into(),
                ))
            }
            Some(err) => {
                println!("  invocation {attempt} of {LAMBDA_ATTEMPTS} failed: {err}");
                last_error = err;
            }
        }
    }
    Ok(End::NotReported(format!(
        "Lambda gave up after {LAMBDA_ATTEMPTS} attempts ({last_error}); CodePipeline would wait until the action times out"
    )))
}
