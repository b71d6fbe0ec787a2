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
            Role::Manifest => "StackGroupURL",
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

#[cfg(test)]
mod tests {
    use super::*;
    use cfn_deployer_artifact::Location;
    use cfn_deployer_engine::FailureKind;
    use cfn_deployer_step::Failing;

    fn file(bucket: &str) -> FileRef {
        FileRef::S3(S3File {
            location: Location {
                bucket: bucket.into(),
                key: "t.yaml".into(),
            },
            inner: None,
        })
    }

    #[tokio::test]
    async fn only_the_template_buckets_are_read_and_never_the_staging_bucket() {
        // Nothing listens on port 9: a read that reached S3 would fail as a read, not as a
        // bucket refused.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("a", "b", None, None, "test"),
            ))
            .build();
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let mut settings = Settings::with_sdk(sdk);
        settings.staging_bucket = Some("staging".into());
        settings.template_buckets = Some(vec!["templates".into(), "staging".into()]);
        let files = S3Files {
            s3: &s3,
            settings: &settings,
        };
        let other = files
            .read(&file("other-pipeline"), Role::Template)
            .await
            .expect_err("not a template bucket");
        assert!(
            matches!(other, TaskError::BucketNotAllowed { .. }),
            "{other}"
        );
        assert_eq!(other.kind(), FailureKind::Permission);
        let text = other.to_string();
        assert!(
            text.contains("`other-pipeline`") && text.contains("CFN_DEPLOYER_TEMPLATE_BUCKETS"),
            "{text}"
        );
        // Listed or not, the staging bucket is never a source.
        let staged = files
            .read(&file("staging"), Role::TemplateConfiguration)
            .await
            .expect_err("the staging bucket");
        assert!(
            matches!(
                staged,
                TaskError::StagingBucket {
                    key: "TemplateConfiguration",
                    ..
                }
            ),
            "{staged}"
        );
        assert_eq!(staged.kind(), FailureKind::Permission);
        // An allowed bucket is read (and here fails as a read, nothing listening).
        let read = files
            .read(&file("templates"), Role::Template)
            .await
            .expect_err("nothing listens");
        assert!(
            matches!(
                read,
                TaskError::Read {
                    key: "TemplateURL",
                    ..
                }
            ),
            "{read}"
        );
        // Unset, any bucket but the staging bucket may be named.
        settings.template_buckets = None;
        let files = S3Files {
            s3: &s3,
            settings: &settings,
        };
        let read = files.read(&file("other-pipeline"), Role::Template).await;
        assert!(matches!(read, Err(TaskError::Read { .. })), "{read:?}");
        let staged = files.read(&file("staging"), Role::Template).await;
        assert!(
            matches!(staged, Err(TaskError::StagingBucket { .. })),
            "{staged:?}"
        );
    }
}
