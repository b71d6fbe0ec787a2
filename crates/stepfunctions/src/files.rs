//! The files an execution names, read from S3 with the function's own role: the template (an
//! object, or a file inside a zip object, by the same ranged reader as artifacts) and the
//! template configuration file. The engine's [`Inputs`] for a state machine's deploy.

use cfn_deployer_artifact::{self as artifact, s3_url, Location};
use cfn_deployer_engine::{template, Inputs, Plan, Prepared, Template, MAX_TEMPLATE_BODY};
use cfn_deployer_params::{FileRef, ParamValue, Params, S3File, TemplateConfiguration};
use tracing::info;

use crate::error::TaskError;

/// The largest file read.
const MAX_FILE: u64 = 1024 * 1024;

/// The files of one execution.
pub(crate) struct S3Files<'a> {
    pub(crate) s3: &'a aws_sdk_s3::Client,
    pub(crate) region: &'a str,
    pub(crate) template: S3File,
    pub(crate) params: &'a Params,
    /// Where a template too large to pass inline, and not an object of its own, is staged.
    pub(crate) staging_bucket: Option<&'a str>,
    /// Names the staged object: the same for every step of the execution.
    pub(crate) execution: &'a str,
}

impl S3Files<'_> {
    async fn read(&self, file: &S3File, key: &'static str) -> Result<Vec<u8>, TaskError> {
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

    /// The URL CloudFormation reads a large template from.
    async fn large(&self, body: String) -> Result<String, TaskError> {
        let file = &self.template;
        if file.inner.is_none() {
            // An object of its own: CloudFormation reads it where it is.
            return Ok(s3_url(self.region, &file.location));
        }
        let Some(bucket) = self.staging_bucket else {
            return Err(TaskError::NeedsStaging(file.location.clone()));
        };
        let clean: String = self
            .execution
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let staged = Location {
            bucket: bucket.to_owned(),
            key: format!("cfn-deployer/staged/{}/{clean}.template", self.params.stack),
        };
        artifact::put_object(self.s3, &staged, body.into_bytes(), None)
            .await
            .map_err(|source| TaskError::Upload {
                location: staged.clone(),
                source,
            })?;
        info!(%staged, "template staged in S3 for CloudFormation");
        Ok(s3_url(self.region, &staged))
    }
}

impl Inputs for S3Files<'_> {
    type Error = TaskError;

    async fn prepare(&self, _plan: &Plan) -> Result<Prepared, TaskError> {
        let bytes = self.read(&self.template, "TemplateURL").await?;
        let location = self.template.location.clone();
        let text = String::from_utf8(bytes).map_err(|_| TaskError::NotText(location.clone()))?;
        let resources = template::resource_count(&text)
            .map_err(|source| TaskError::Template { location, source })?;
        let template = if text.len() > MAX_TEMPLATE_BODY {
            Template::Url(self.large(text).await?)
        } else {
            Template::Body(text)
        };
        let mut prepared = Prepared {
            template,
            resources,
            ..Prepared::default()
        };
        if let Some(FileRef::S3(file)) = &self.params.template_configuration {
            let bytes = self.read(file, "TemplateConfiguration").await?;
            let problem = |problem: String| TaskError::ConfigFile {
                location: file.location.clone(),
                problem,
            };
            let doc = serde_json::from_slice(&bytes)
                .map_err(|e| problem(format!("is not valid JSON ({e})")))?;
            let config = TemplateConfiguration::from_json(doc).map_err(problem)?;
            prepared.parameters = config.parameters;
            prepared.tags = config.tags;
            prepared.stack_policy = config.stack_policy;
        }
        for (name, value) in &self.params.parameter_overrides {
            // Validation allows only literal values in an execution's input.
            if let ParamValue::Literal(text) = value {
                prepared.parameters.insert(name.clone(), text.clone());
            }
        }
        prepared.tags.extend(self.params.tags.clone());
        Ok(prepared)
    }
}
