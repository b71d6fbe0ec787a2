//! A job's inputs and outputs in S3: files read from its input artifacts with its artifact
//! credentials, the settings those files hold, a large template staged for CloudFormation,
//! and the stack's outputs written to its output artifact.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use cfn_deployer_artifact::{self as artifact, s3_url, Location};
use cfn_deployer_engine::{template, Inputs, Plan, Prepared, Template, MAX_TEMPLATE_BODY};
use cfn_deployer_params::{
    ArtifactAttribute, ArtifactPath, FileRef, ParamValue, Params, TemplateConfiguration,
};
use serde_json::Value;
use tracing::info;

use crate::error::JobError;
use crate::job::{Artifact, ArtifactCredentials, Job};

/// The largest file read from an artifact.
pub const MAX_TEMPLATE_FILE: u64 = 1024 * 1024;

/// An S3 client with the job's artifact credentials, on top of the shared settings (region,
/// endpoint, retries, timeouts).
pub fn artifact_s3_client(sdk: &SdkConfig, creds: &ArtifactCredentials) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose().to_owned(),
        creds.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "codepipeline-artifact",
    );
    let config = cfn_deployer_aws::s3_config(sdk)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The files of one job, read with its artifact credentials: the engine's [`Inputs`] for a
/// CodePipeline job.
pub struct JobFiles<'a> {
    sdk: &'a SdkConfig,
    job: &'a Job,
    params: &'a Params,
    staging_bucket: Option<&'a str>,
    /// JSON files read so far, by artifact and path: each is read once per step.
    read: Mutex<HashMap<(String, String), Value>>,
}

impl<'a> JobFiles<'a> {
    /// The files of `job`, configured by `params`; large templates are staged in
    /// `staging_bucket`.
    pub fn new(
        sdk: &'a SdkConfig,
        job: &'a Job,
        params: &'a Params,
        staging_bucket: Option<&'a str>,
    ) -> Self {
        Self {
            sdk,
            job,
            params,
            staging_bucket,
            read: Mutex::default(),
        }
    }

    fn credentials(&self, artifact: &str) -> Result<&'a ArtifactCredentials, JobError> {
        self.job
            .credentials
            .as_ref()
            .ok_or_else(|| JobError::NoCredentials(artifact.to_owned()))
    }

    /// The input artifact named `name`, with its location; `key` is the setting that named it.
    fn input(
        &self,
        name: &str,
        key: &'static str,
    ) -> Result<(&'a Artifact, &'a Location), JobError> {
        let Some(input) = self.job.input_artifacts.iter().find(|a| a.name == name) else {
            let names: Vec<String> = self
                .job
                .input_artifacts
                .iter()
                .map(|a| format!("`{}`", a.name))
                .collect();
            return Err(JobError::NoSuchArtifact {
                name: name.to_owned(),
                key,
                present: if names.is_empty() {
                    "(none)".into()
                } else {
                    names.join(", ")
                },
            });
        };
        let location = input
            .location
            .as_ref()
            .ok_or_else(|| JobError::NoLocation(input.name.clone()))?;
        Ok((input, location))
    }

    /// Reads `file` from the input artifact `artifact`, at most [`MAX_TEMPLATE_FILE`] bytes.
    async fn read_file(&self, path: &ArtifactPath, key: &'static str) -> Result<Vec<u8>, JobError> {
        let (input, location) = self.input(&path.artifact, key)?;
        let s3 = artifact_s3_client(self.sdk, self.credentials(&input.name)?);
        let (bytes, stats) = artifact::read_file(&s3, location, &path.file, MAX_TEMPLATE_FILE)
            .await
            .map_err(|source| JobError::Artifact {
                name: input.name.clone(),
                source,
            })?;
        info!(artifact = %input.name, file = %path.file, size = bytes.len(), gets = stats.gets, fetched = stats.bytes, "file read from artifact");
        Ok(bytes)
    }

    async fn read_template(&self, path: &ArtifactPath) -> Result<String, JobError> {
        let bytes = self.read_file(path, self.template_key()).await?;
        String::from_utf8(bytes).map_err(|_| JobError::NotText {
            artifact: path.artifact.clone(),
            file: path.file.clone(),
        })
    }

    /// The setting that names the template's artifact, in this front's words.
    fn template_key(&self) -> &'static str {
        match self.params.front {
            cfn_deployer_params::Front::UserParameters => "UserParameters key `artifact`",
            _ => "configuration property `TemplatePath`",
        }
    }

    /// Writes a template too large for CloudFormation's inline limit to the staging bucket,
    /// with the deployer's own role (the job's artifact credentials only read input
    /// artifacts and write output artifacts), and returns the URL CloudFormation reads.
    async fn stage_template(
        &self,
        path: &ArtifactPath,
        plan: &Plan,
        body: String,
    ) -> Result<String, JobError> {
        let Some(bucket) = self.staging_bucket else {
            return Err(JobError::NoStagingBucket {
                artifact: path.artifact.clone(),
                file: path.file.clone(),
                size: body.len(),
            });
        };
        // Named by the deploy's token: every delivery of the job writes the same object.
        let location = Location {
            bucket: bucket.to_owned(),
            key: format!(
                "cfn-deployer/staged/{}/{}.template",
                self.params.stack, plan.client_request_token
            ),
        };
        let s3 = aws_sdk_s3::Client::from_conf(cfn_deployer_aws::s3_config(self.sdk).build());
        artifact::put_object(&s3, &location, body.into_bytes(), None)
            .await
            .map_err(|e| upload_error(
                format!(
                    "template `{}` (over {MAX_TEMPLATE_BODY} bytes, so it reaches CloudFormation through the staging bucket)",
                    path.file
                ),
                &location,
                e,
            ))?;
        info!(%location, "template staged in S3 for CloudFormation");
        Ok(s3_url(cfn_deployer_aws::region(self.sdk), &location))
    }

    /// A JSON file from an input artifact, read once per step however often it is named.
    async fn json_file(&self, path: &ArtifactPath, key: &'static str) -> Result<Value, JobError> {
        let id = (path.artifact.clone(), path.file.clone());
        if let Some(doc) = self.lock().get(&id) {
            return Ok(doc.clone());
        }
        let bytes = self.read_file(path, key).await?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| JobError::ConfigFile {
            artifact: path.artifact.clone(),
            file: path.file.clone(),
            problem: format!("is not valid JSON ({e})"),
        })?;
        self.lock().insert(id, doc.clone());
        Ok(doc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Value>> {
        self.read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The parameters, tags and stack policy of a deploy: the template configuration file's,
    /// with `ParameterOverrides` and `Tags` winning over it, and every parameter function read.
    async fn resolve(&self, prepared: &mut Prepared) -> Result<(), JobError> {
        let params = self.params;
        if let Some(FileRef::Artifact(config)) = &params.template_configuration {
            let doc = self.json_file(config, "TemplateConfiguration").await?;
            let file =
                TemplateConfiguration::from_json(doc).map_err(|problem| JobError::ConfigFile {
                    artifact: config.artifact.clone(),
                    file: config.file.clone(),
                    problem,
                })?;
            prepared.parameters.extend(file.parameters);
            prepared.tags.extend(file.tags);
            prepared.stack_policy = file.stack_policy;
        }
        for (name, value) in &params.parameter_overrides {
            let text = match value {
                ParamValue::Literal(text) => text.clone(),
                ParamValue::GetParam {
                    artifact,
                    file,
                    key,
                } => {
                    let path = ArtifactPath {
                        artifact: artifact.clone(),
                        file: file.clone(),
                    };
                    let doc = self.json_file(&path, "ParameterOverrides").await?;
                    match doc.get(key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                        _ => {
                            return Err(JobError::ConfigFile {
                                artifact: artifact.clone(),
                                file: file.clone(),
                                problem: format!("has no text value at key `{key}`, which ParameterOverrides `{name}` reads with Fn::GetParam"),
                            })
                        }
                    }
                }
                ParamValue::ArtifactAtt {
                    artifact,
                    attribute,
                } => {
                    let (_, location) = self.input(artifact, "ParameterOverrides")?;
                    match attribute {
                        ArtifactAttribute::BucketName => location.bucket.clone(),
                        ArtifactAttribute::ObjectKey => location.key.clone(),
                        ArtifactAttribute::Url => {
                            s3_url(cfn_deployer_aws::region(self.sdk), location)
                        }
                    }
                }
            };
            prepared.parameters.insert(name.clone(), text);
        }
        prepared.tags.extend(params.tags.clone());
        Ok(())
    }
}

impl Inputs for JobFiles<'_> {
    type Error = JobError;

    async fn prepare(&self, plan: &Plan) -> Result<Prepared, JobError> {
        let Some(path) = self.params.template_path() else {
            // Validation gives every deploying action a template in an artifact.
            return Err(JobError::NoSuchArtifact {
                name: String::new(),
                key: self.template_key(),
                present: "(no template was configured)".into(),
            });
        };
        let body = self.read_template(path).await?;
        let resources = template::resource_count(&body).map_err(|source| JobError::Template {
            artifact: path.artifact.clone(),
            file: path.file.clone(),
            source,
        })?;
        let mut prepared = Prepared {
            resources,
            ..Prepared::default()
        };
        prepared.template = if body.len() > MAX_TEMPLATE_BODY {
            Template::Url(self.stage_template(path, plan, body).await?)
        } else {
            Template::Body(body)
        };
        self.resolve(&mut prepared).await?;
        Ok(prepared)
    }
}

/// Writes `data` to `location` with the job's artifact credentials, encrypted as the
/// pipeline's artifacts are: with its KMS key when the job names one, else SSE-S3.
async fn put_object(
    sdk: &SdkConfig,
    job: &Job,
    creds: &ArtifactCredentials,
    location: &Location,
    data: Vec<u8>,
    what: String,
) -> Result<(), JobError> {
    let s3 = artifact_s3_client(sdk, creds);
    artifact::put_object(&s3, location, data, job.encryption_key.as_deref())
        .await
        .map_err(|e| upload_error(what, location, e))
}

fn upload_error(what: String, location: &Location, e: artifact::ArtifactError) -> JobError {
    JobError::Upload {
        what,
        location: location.clone(),
        denied: e.is_access_denied(),
        message: match e {
            artifact::ArtifactError::AccessDenied { message, .. }
            | artifact::ArtifactError::S3 { message, .. } => message,
            other => other.to_string(),
        },
    }
}

/// Writes `files` into the first output artifact, a zip holding them; `setting` is what asked.
pub async fn write_output_artifact(
    sdk: &SdkConfig,
    job: &Job,
    setting: &str,
    files: &[(String, Vec<u8>)],
) -> Result<(), JobError> {
    let artifact = job
        .output_artifacts
        .first()
        .ok_or_else(|| JobError::NoOutputArtifact(setting.to_owned()))?;
    let location = artifact
        .location
        .as_ref()
        .ok_or_else(|| JobError::NoLocation(artifact.name.clone()))?;
    let creds = job
        .credentials
        .as_ref()
        .ok_or_else(|| JobError::NoCredentials(artifact.name.clone()))?;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let zipped = zip_files(files).map_err(|e| JobError::Upload {
        what: format!("output files {}", names.join(", ")),
        location: location.clone(),
        message: format!("zipping them failed: {e}"),
        denied: false,
    })?;
    let what = format!(
        "output files {} (output artifact `{}`)",
        names.join(", "),
        artifact.name
    );
    put_object(sdk, job, creds, location, zipped, what).await?;
    info!(artifact = %artifact.name, files = %names.join(","), "written to the output artifact");
    Ok(())
}

/// A zip archive holding `files`.
fn zip_files(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, zip::result::ZipError> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())?;
        w.write_all(data)?;
    }
    Ok(w.finish()?.into_inner())
}
