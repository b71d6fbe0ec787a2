//! A pipeline run's common ground, whichever front takes its jobs: the artifact uploaded, the
//! artifact credentials, the local services and the proxy, the jobs' data, and the summary.

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use cfn_deployer_artifact::Location;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::error::{io, LocalError};
use crate::function::runtime_env;
use crate::notice::Notice;
use crate::options::{Options, Source};
use crate::outcome::{End, Summary};
use crate::proxy::{Fault, Proxy};
use crate::s3::{ensure_bucket, s3_client};
use crate::server::Services;

/// The access key id of the artifact credentials the local jobs carry.
pub const ARTIFACT_ACCESS_KEY: &str = "ASIALOCALPIPELINEARTIFACTS";

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
                let (drift, sets) = (opts.drift.clone(), opts.stack_sets.clone());
                let proxy = Proxy::start_with(upstream, proxy_faults, drift, sets, port)
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

    /// The function's environment: the one Lambda gives it, and the run's own.
    pub(crate) fn function_env(&self, duplicate: bool) -> Vec<(String, String)> {
        let mut env = runtime_env(&self.services, duplicate);
        env.extend(self.env.iter().cloned());
        env
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
