//! A job's inputs and outputs in S3: files read from its input artifacts with its artifact
//! credentials, and the stack's outputs written to its output artifact.

use aws_config::SdkConfig;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use cfn_deployer_artifact::{self as artifact, s3_url, Location};
use cfn_deployer_params::{ArtifactAttribute, ArtifactPath, FileRef};
use cfn_deployer_step::{FileReader, Role, StepError};
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

/// The files of one job, read from its input artifacts with its artifact credentials: the
/// step's [`FileReader`] for a CodePipeline job.
pub struct JobFiles<'a> {
    sdk: &'a SdkConfig,
    job: &'a Job,
}

impl<'a> JobFiles<'a> {
    /// The files of `job`.
    pub fn new(sdk: &'a SdkConfig, job: &'a Job) -> Self {
        Self { sdk, job }
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
}

impl FileReader for JobFiles<'_> {
    type Error = JobError;

    /// Reads `file` from its input artifact, at most [`MAX_TEMPLATE_FILE`] bytes.
    async fn read(&self, file: &FileRef, role: Role) -> Result<Vec<u8>, JobError> {
        let FileRef::Artifact(path) = file else {
            // Validation gives a CodePipeline job's files in its artifacts only.
            return Err(StepError::NoTemplate {
                key: self.template_key(),
            }
            .into());
        };
        let key = match role {
            Role::Template => self.template_key(),
            other => other.key(),
        };
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

    fn place(&self, file: &FileRef) -> String {
        match file {
            FileRef::Artifact(ArtifactPath { artifact, file }) => {
                format!("`{file}` in input artifact `{artifact}`")
            }
            FileRef::S3(file) => file.location.to_string(),
        }
    }

    /// The setting that names the template's artifact, in this front's words.
    fn template_key(&self) -> &'static str {
        match self.job.configuration {
            crate::job::Configuration::UserParameters(_) => "UserParameters key `artifact`",
            crate::job::Configuration::Properties { .. } => "configuration property `TemplatePath`",
        }
    }

    fn attribute(&self, artifact: &str, attribute: ArtifactAttribute) -> Result<String, JobError> {
        let (_, location) = self.input(artifact, "ParameterOverrides")?;
        Ok(match attribute {
            ArtifactAttribute::BucketName => location.bucket.clone(),
            ArtifactAttribute::ObjectKey => location.key.clone(),
            ArtifactAttribute::Url => s3_url(cfn_deployer_aws::region(self.sdk), location),
        })
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
