//! Template preparation, written once for every front: the template read, sized and refused
//! or counted, passed inline or staged for CloudFormation; the template configuration,
//! parameter overrides and tags resolved. Where the files lie is a front's [`FileReader`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use cfn_deployer_artifact::{self as artifact, s3_url, Location};
use cfn_deployer_engine::{template, Inputs, Plan, Prepared, Template, MAX_TEMPLATE_BODY};
use cfn_deployer_params::{
    ArtifactAttribute, ArtifactPath, FileRef, ParamValue, Params, S3File, TemplateConfiguration,
};
use serde_json::Value;
use tracing::info;

use crate::error::{Failing, StepError};

/// Which setting names a file the deploy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The template.
    Template,
    /// The template configuration file.
    TemplateConfiguration,
    /// A JSON file a parameter override reads with `Fn::GetParam`.
    ParameterOverrides,
    /// A stack group's manifest.
    Manifest,
    /// A stack set's parameters file.
    Parameters,
    /// A stack set's targets file.
    DeploymentTargets,
}

impl Role {
    /// The setting's name.
    pub fn key(self) -> &'static str {
        match self {
            Self::Template => "Template",
            Self::TemplateConfiguration => "TemplateConfiguration",
            Self::ParameterOverrides => "ParameterOverrides",
            Self::Manifest => "StackGroup",
            Self::Parameters => "Parameters",
            Self::DeploymentTargets => "DeploymentTargets",
        }
    }
}

/// Where a front's files lie, and how to read them: the port template preparation reads
/// through. A CodePipeline job's artifacts and an execution's S3 URLs are its two adapters.
pub trait FileReader: Sync {
    /// Why a file could not be read, in the front's words.
    type Error: From<StepError> + Failing + Send + Sync + 'static;

    /// Reads `file`, which the setting `role` names.
    fn read(
        &self,
        file: &FileRef,
        role: Role,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>> + Send;

    /// Where `file` lies, in words for a message: "`t.yaml` in input artifact `Build`".
    fn place(&self, file: &FileRef) -> String;

    /// The setting that names the template, in the front's words.
    fn template_key(&self) -> &'static str;

    /// What `Fn::GetArtifactAtt` reads of an input artifact.
    fn attribute(
        &self,
        artifact: &str,
        attribute: ArtifactAttribute,
    ) -> Result<String, Self::Error>;
}

/// Where large templates are staged for CloudFormation: the staging bucket, written with the
/// deployer's own role.
#[derive(Debug, Clone)]
pub struct Stager {
    /// An S3 client with the deployer's own role.
    pub s3: aws_sdk_s3::Client,
    /// The region CloudFormation reads the URL in.
    pub region: String,
    /// The staging bucket, when one is set.
    pub bucket: Option<String>,
}

impl Stager {
    /// Stages `body`, the template `template` names in words, for `plan`, returning the URL
    /// CloudFormation reads it from.
    pub async fn stage(
        &self,
        plan: &Plan,
        body: String,
        template: &str,
    ) -> Result<String, StepError> {
        let Some(bucket) = &self.bucket else {
            return Err(StepError::NoStagingBucket {
                template: template.to_owned(),
                size: body.len(),
                inside_zip: false,
            });
        };
        self.put(&Self::location(bucket, plan), body, template)
            .await
    }

    pub(crate) async fn put(
        &self,
        location: &Location,
        body: String,
        template: &str,
    ) -> Result<String, StepError> {
        artifact::put_object(&self.s3, location, body.into_bytes(), None)
            .await
            .map_err(|source| StepError::Staging {
                template: template.to_owned(),
                location: location.clone(),
                source,
            })?;
        info!(%location, "template staged in S3 for CloudFormation");
        Ok(s3_url(&self.region, location))
    }

    /// The object a plan's template is staged at: named by the deploy's token, so every
    /// delivery of the same deploy writes the same object.
    pub fn location(bucket: &str, plan: &Plan) -> Location {
        Self::location_of(bucket, &plan.stack_name, &plan.client_request_token)
    }

    /// The object the template of `name` (a stack or a stack set) is staged at for the deploy
    /// `token`.
    pub fn location_of(bucket: &str, name: &str, token: &str) -> Location {
        Location {
            bucket: bucket.to_owned(),
            key: format!("cfn-deployer/staged/{name}/{token}.template"),
        }
    }
}

/// One deploy's files, read through `reader`: the engine's [`Inputs`] for every front.
pub struct Preparer<'a, R> {
    reader: &'a R,
    params: &'a Params,
    stager: &'a Stager,
    /// JSON files read so far: each is read once per step however often it is named.
    json: Mutex<HashMap<String, Value>>,
}

impl<'a, R: FileReader> Preparer<'a, R> {
    /// The files `params` names, read through `reader`; large templates go through `stager`.
    pub fn new(reader: &'a R, params: &'a Params, stager: &'a Stager) -> Self {
        Self {
            reader,
            params,
            stager,
            json: Mutex::default(),
        }
    }

    /// The URL CloudFormation reads a template too large to pass inline from.
    async fn large(&self, file: &FileRef, plan: &Plan, body: String) -> Result<String, R::Error> {
        if let FileRef::S3(S3File {
            location,
            inner: None,
        }) = file
        {
            // An object of its own: CloudFormation reads it where it is.
            return Ok(s3_url(&self.stager.region, location));
        }
        let template = self.reader.place(file);
        let Some(bucket) = &self.stager.bucket else {
            return Err(StepError::NoStagingBucket {
                template,
                size: body.len(),
                inside_zip: matches!(file, FileRef::S3(_)),
            }
            .into());
        };
        let location = Stager::location(bucket, plan);
        let url = self.stager.put(&location, body, &template).await?;
        Ok(url)
    }

    /// A JSON settings file, read once per step.
    async fn json_file(&self, file: &FileRef, role: Role) -> Result<Value, R::Error> {
        let place = self.reader.place(file);
        if let Some(doc) = self.lock().get(&place) {
            return Ok(doc.clone());
        }
        let bytes = self.reader.read(file, role).await?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| StepError::ConfigFile {
            key: role.key(),
            file: place.clone(),
            problem: format!("is not valid JSON ({e})"),
        })?;
        self.lock().insert(place, doc.clone());
        Ok(doc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.json
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The parameters, tags and stack policy of a deploy: the template configuration file's,
    /// with `ParameterOverrides` and `Tags` winning over it, and every parameter function read.
    async fn resolve(&self, prepared: &mut Prepared) -> Result<(), R::Error> {
        let params = self.params;
        if let Some(config) = &params.template_configuration {
            let role = Role::TemplateConfiguration;
            let doc = self.json_file(config, role).await?;
            let file =
                TemplateConfiguration::from_json(doc).map_err(|problem| StepError::ConfigFile {
                    key: role.key(),
                    file: self.reader.place(config),
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
                    let file = FileRef::Artifact(ArtifactPath {
                        artifact: artifact.clone(),
                        file: file.clone(),
                    });
                    let role = Role::ParameterOverrides;
                    let doc = self.json_file(&file, role).await?;
                    match doc.get(key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                        _ => {
                            return Err(StepError::ConfigFile {
                                key: role.key(),
                                file: self.reader.place(&file),
                                problem: format!("has no text value at key `{key}`, which ParameterOverrides `{name}` reads with Fn::GetParam"),
                            }
                            .into())
                        }
                    }
                }
                ParamValue::ArtifactAtt {
                    artifact,
                    attribute,
                } => self.reader.attribute(artifact, *attribute)?,
            };
            prepared.parameters.insert(name.clone(), text);
        }
        prepared.tags.extend(params.tags.clone());
        Ok(())
    }
}

impl<R: FileReader> Inputs for Preparer<'_, R> {
    type Error = R::Error;

    async fn prepare(&self, plan: &Plan) -> Result<Prepared, R::Error> {
        let Some(file) = &self.params.template else {
            return Err(StepError::NoTemplate {
                key: self.reader.template_key(),
            }
            .into());
        };
        let bytes = self.reader.read(file, Role::Template).await?;
        let body = String::from_utf8(bytes).map_err(|_| StepError::NotText {
            template: self.reader.place(file),
        })?;
        let resources = template::resource_count(&body).map_err(|source| StepError::Refused {
            template: self.reader.place(file),
            source,
        })?;
        let mut prepared = Prepared {
            resources,
            ..Prepared::default()
        };
        prepared.template = if body.len() > MAX_TEMPLATE_BODY {
            Template::Url(self.large(file, plan, body).await?)
        } else {
            Template::Body(body)
        };
        self.resolve(&mut prepared).await?;
        Ok(prepared)
    }
}
