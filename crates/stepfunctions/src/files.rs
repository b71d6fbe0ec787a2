//! The files an execution names, read from S3 with the function's own role: the template (an
//! object, or a file inside a zip object, by the same ranged reader as artifacts) and the
//! template configuration file. The step's [`FileReader`] for a state machine's deploy; only
//! the buckets the deployment allows are read, and never the staging bucket.

use cfn_deployer_artifact as artifact;
use cfn_deployer_params::{ArtifactAttribute, FileRef, S3File};
use cfn_deployer_step::{FileReader, Role, Settings};
use tracing::info;

use crate::error::TaskError;

/// The largest file read.
const MAX_FILE: u64 = 1024 * 1024;

/// The files of one execution.
pub(crate) struct S3Files<'a> {
    pub(crate) s3: &'a aws_sdk_s3::Client,
    pub(crate) settings: &'a Settings,
}

impl FileReader for S3Files<'_> {
    type Error = TaskError;

    async fn read(&self, file: &FileRef, role: Role) -> Result<Vec<u8>, TaskError> {
        let key = match role {
            Role::Template => self.template_key(),
            other => other.key(),
        };
        let FileRef::S3(file) = file else {
            return Err(TaskError::NoArtifacts(key));
        };
        // Refused before any call to the bucket.
        let bucket = &file.location.bucket;
        if self.settings.staging_bucket.as_ref() == Some(bucket) {
            return Err(TaskError::StagingBucket {
                key,
                bucket: bucket.clone(),
            });
        }
        if let Some(allowed) = &self.settings.template_buckets {
            if !allowed.contains(bucket) {
                return Err(TaskError::BucketNotAllowed {
                    key,
                    bucket: bucket.clone(),
                    allowed: allowed.join(", "),
                });
            }
        }
        let read = match &file.inner {
            Some(path) => artifact::read_file(self.s3, &file.location, path, MAX_FILE).await,
            None => artifact::read_object(self.s3, &file.location, MAX_FILE).await,
        };
        let (bytes, stats) = read.map_err(|source| TaskError::Read {
            key,
            location: file.location.clone(),
            source,
        })?;
        info!(location = %file.location, inner = file.inner.as_deref().unwrap_or(""), size = bytes.len(), gets = stats.gets, fetched = stats.bytes, "file read from S3");
        Ok(bytes)
    }

    fn place(&self, file: &FileRef) -> String {
        match file {
            FileRef::S3(S3File {
                location,
                inner: Some(path),
            }) => format!("{location}::{path}"),
            FileRef::S3(S3File { location, .. }) => location.to_string(),
            FileRef::Artifact(path) => format!("`{}::{}`", path.artifact, path.file),
        }
    }

    fn template_key(&self) -> &'static str {
        "TemplateURL"
    }

    fn attribute(&self, _artifact: &str, _: ArtifactAttribute) -> Result<String, TaskError> {
        Err(TaskError::NoArtifacts("ParameterOverrides"))
    }
}
