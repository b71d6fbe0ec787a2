//! A deploy's settings, named as CodePipeline's built-in CloudFormation action names them, read
//! from whichever front took them: a Lambda Invoke action's `UserParameters`, a custom action's
//! configuration, or a Step Functions execution's input. Each front's document is parsed by
//! serde (its shape, its unknown keys), then one validation turns every front's settings into
//! the same [`Params`], with errors that name the key at fault in that front's words.
//!
//! It knows the settings' names and forms; it must never read a file, call AWS or word a
//! failure of the deploy itself.

mod document;
mod extended;
mod group;
mod manifest;
pub mod stackset;
mod target;
mod validate;
mod values;

use std::collections::{BTreeMap, HashMap};

use cfn_deployer_artifact::Location;
use cfn_deployer_engine::{Action, Plan};
use serde_json::Value;

use crate::document::{Configuration, ExecutionInput, UserParameters};
pub use crate::group::{GroupRequest, Request};
pub use crate::manifest::{Entry, Manifest, ManifestError, OutputRef, MAX_ID};
pub use crate::stackset::StackSetRequest;
pub use crate::target::Target;
pub use crate::validate::{ACTION_MODES, CAPABILITIES};
pub use crate::values::text_values;

/// Which front's document the settings came from; it decides the words of every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// A Lambda Invoke action's `UserParameters` (a JSON object).
    UserParameters,
    /// A custom action's configuration properties (every value a string).
    Configuration,
    /// A Step Functions execution's input (a JSON object).
    ExecutionInput,
    /// A stack group's manifest: the settings of each of its stacks.
    Manifest,
}

impl Front {
    /// The document's name, as a sentence starts with it.
    pub fn document(self) -> &'static str {
        match self {
            Self::UserParameters => "UserParameters",
            Self::Configuration => "The action configuration",
            Self::ExecutionInput => "The execution input",
            Self::Manifest => "The stack group manifest",
        }
    }

    /// How one of its keys is named in a message.
    pub fn key(self) -> &'static str {
        match self {
            Self::UserParameters => "UserParameters key",
            Self::Configuration => "configuration property",
            Self::ExecutionInput => "execution input key",
            Self::Manifest => "key",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Self::UserParameters => {
                r#"{"stack": "my-stack", "artifact": "BuildOutput", "file": "template.yaml"}"#
            }
            Self::Configuration => {
                "StackName = my-stack, TemplatePath = BuildOutput::template.yaml"
            }
            Self::ExecutionInput => {
                r#"{"StackName": "my-stack", "TemplateURL": "s3://my-bucket/template.yaml"}"#
            }
            Self::Manifest => {
                "Stacks: {network: {StackName: app-network, TemplatePath: network.yaml}}"
            }
        }
    }
}

/// A file inside one of the action's input artifacts: `ArtifactName::path/in/artifact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPath {
    /// The input artifact's name.
    pub artifact: String,
    /// The file's path inside the artifact's zip.
    pub file: String,
}

/// A file in S3: an object, or a file inside a zip object (`s3://bucket/key.zip::path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3File {
    /// The object.
    pub location: Location,
    /// The file inside it, when the object is a zip archive.
    pub inner: Option<String>,
}

impl S3File {
    /// Reads `url` as the value of the execution input's `key`: `s3://bucket/key`, an HTTPS S3
    /// URL, or either followed by `::path/in/zip` for a file inside a zip object.
    pub fn parse(url: &str, key: &str) -> Result<Self, ParamsError> {
        validate::s3_file(Front::ExecutionInput, key, url)
    }
}

/// What a template configuration file holds: the built-in action's JSON format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateConfiguration {
    /// Template parameter values.
    pub parameters: BTreeMap<String, String>,
    /// The stack's tags.
    pub tags: BTreeMap<String, String>,
    /// The stack policy, as JSON text.
    pub stack_policy: Option<String>,
}

impl TemplateConfiguration {
    /// Reads the file's JSON: `{"Parameters": {…}, "Tags": {…}, "StackPolicy": {…}}`, each
    /// optional; anything else is refused, naming it. The error says what is wrong, for the
    /// caller to name the file.
    pub fn from_json(doc: Value) -> Result<Self, String> {
        let Value::Object(doc) = doc else {
            return Err("must hold a JSON object with Parameters, Tags and StackPolicy".into());
        };
        let mut config = Self::default();
        for (key, value) in doc {
            match key.as_str() {
                "Parameters" => {
                    config.parameters =
                        text_values(value).map_err(|p| format!("`Parameters` {p}"))?
                }
                "Tags" => config.tags = text_values(value).map_err(|p| format!("`Tags` {p}"))?,
                "StackPolicy" => config.stack_policy = Some(value.to_string()),
                other => {
                    return Err(format!(
                    "has unknown key `{other}`; the known keys are Parameters, Tags, StackPolicy"
                ))
                }
            }
        }
        Ok(config)
    }
}

/// Where a file the deploy reads lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRef {
    /// In one of a CodePipeline action's input artifacts.
    Artifact(ArtifactPath),
    /// In S3, read with the deployer's own role.
    S3(S3File),
}

/// A parameter value: given, or taken from the pipeline's artifacts as the built-in action's
/// functions take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// The value itself.
    Literal(String),
    /// `{"Fn::GetParam": [artifact, file, key]}`: a key of a JSON file in an input artifact.
    GetParam {
        /// The input artifact.
        artifact: String,
        /// The JSON file in it.
        file: String,
        /// The key in the file.
        key: String,
    },
    /// `{"Fn::GetArtifactAtt": [artifact, attribute]}`: where an input artifact lies.
    ArtifactAtt {
        /// The input artifact.
        artifact: String,
        /// `BucketName`, `ObjectKey` or `URL`.
        attribute: ArtifactAttribute,
    },
}

/// What `Fn::GetArtifactAtt` can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactAttribute {
    /// The artifact's bucket.
    BucketName,
    /// The artifact's object key.
    ObjectKey,
    /// The artifact's S3 URL.
    Url,
}

/// A CodeBuild build to run before the deploy (Step Functions only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The CodeBuild project.
    pub project_name: String,
    /// Environment variables for the build.
    pub environment: BTreeMap<String, String>,
}

/// The settings the built-in CloudFormation action never gained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `RollbackTriggers` and `MonitoringTimeInMinutes`.
    pub rollback: Option<cfn_deployer_engine::Rollback>,
    /// `TerminationProtection`.
    pub termination_protection: Option<bool>,
    /// `OnFailure`, for creates.
    pub on_failure: Option<cfn_deployer_engine::OnFailure>,
    /// `DisableRollback`, for updates.
    pub disable_rollback: bool,
    /// `TimeoutInMinutes`, for creates.
    pub timeout_minutes: Option<u32>,
    /// `NotificationARNs`.
    pub notification_arns: Vec<String>,
    /// `DriftCheck`, when set (`OFF` when not).
    pub drift_check: Option<cfn_deployer_engine::drift::DriftCheck>,
    /// `DeploymentMode: REVERT_DRIFT`.
    pub revert_drift: bool,
}

/// The validated settings of one deploy, whichever front they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Which front they came from.
    pub front: Front,
    /// The stack to deploy.
    pub stack: String,
    /// What to do to it.
    pub action: Action,
    /// The settings beyond the built-in action's.
    pub settings: Settings,
    /// Where the template lies, for the actions that deploy one.
    pub template: Option<FileRef>,
    /// Capabilities acknowledged for the template (IAM resources, macros).
    pub capabilities: Vec<String>,
    /// Template parameter values; parameters not named keep their previous value on update.
    pub parameter_overrides: BTreeMap<String, ParamValue>,
    /// A JSON file with `Parameters`, `Tags` and `StackPolicy`; the settings above win over it.
    pub template_configuration: Option<FileRef>,
    /// A file name: the stack's outputs, as JSON, are written to it in the first output
    /// artifact.
    pub output_file_name: Option<String>,
    /// The service role CloudFormation acts with, instead of the deployer's own role.
    pub role_arn: Option<String>,
    /// Tags for the stack (and so for its resources).
    pub tags: BTreeMap<String, String>,
    /// A build to run first (Step Functions only).
    pub build: Option<Build>,
    /// Seconds between polls (Step Functions only).
    pub poll_interval_seconds: Option<u32>,
    /// The account and Region it is deployed into.
    pub target: Target,
}

/// The settings cannot be used; the message names the key and says what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// None given.
    #[error("{} is empty: set it to a JSON object such as {}", .front.document(), .front.example())]
    Empty {
        /// Whose settings.
        front: Front,
    },
    /// Not JSON.
    #[error("{} is not valid JSON ({reason}): set it to a JSON object such as {}", .front.document(), .front.example())]
    NotJson {
        /// Whose settings.
        front: Front,
        /// What the JSON parser said.
        reason: String,
    },
    /// JSON, but not an object.
    #[error("{} must be a JSON object, not {kind}: for example {}", .front.document(), .front.example())]
    NotObject {
        /// Whose settings.
        front: Front,
        /// What it is instead.
        kind: &'static str,
    },
    /// A key nobody reads: most likely a typo. The message is serde's, listing the known keys.
    #[error("{} has an {message}", .front.document())]
    UnknownKey {
        /// Whose settings.
        front: Front,
        /// The key.
        key: String,
        /// serde's message: the key and the keys that are known.
        message: String,
    },
    /// A required key is absent.
    #[error("{} is missing the key `{key}`: {hint}", .front.document())]
    MissingKey {
        /// Whose settings.
        front: Front,
        /// The key.
        key: &'static str,
        /// What it is for.
        hint: &'static str,
    },
    /// A key has a value of the wrong type or form.
    #[error("{} `{key}`: {problem}", .front.key())]
    BadValue {
        /// Whose settings.
        front: Front,
        /// The key.
        key: String,
        /// What is wrong and what is expected.
        problem: String,
    },
}

impl Request {
    /// Parses and validates a Lambda Invoke action's `UserParameters`.
    pub fn from_user_parameters(text: Option<&str>) -> Result<Self, ParamsError> {
        let front = Front::UserParameters;
        let text = text.map(str::trim).unwrap_or_default();
        if text.is_empty() {
            return Err(ParamsError::Empty { front });
        }
        let value: Value = serde_json::from_str(text).map_err(|e| ParamsError::NotJson {
            front,
            reason: e.to_string(),
        })?;
        if stackset::asks(&value) {
            return stackset::parse(front, value).map(|r| Self::StackSet(Box::new(r)));
        }
        let doc: UserParameters = values::document(front, value)?;
        match doc.stack_group.clone() {
            Some(path) => group::user_parameters(doc, &path).map(Self::Group),
            None => validate::user_parameters(doc).map(|p| Self::Stack(Box::new(p))),
        }
    }

    /// Parses and validates a custom action's configuration properties; `ignored` names the
    /// queryable property, which only routes the job to a worker.
    pub fn from_configuration(
        configuration: &HashMap<String, String>,
        ignored: Option<&str>,
    ) -> Result<Self, ParamsError> {
        let front = Front::Configuration;
        let map: serde_json::Map<String, Value> = configuration
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != ignored)
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let map = Value::Object(map);
        if stackset::asks(&map) {
            return stackset::parse(front, map).map(|r| Self::StackSet(Box::new(r)));
        }
        let doc: Configuration = values::document(front, map)?;
        match doc.stack_group.clone() {
            Some(path) => group::configuration(doc, &path).map(Self::Group),
            None => validate::configuration(doc).map(|p| Self::Stack(Box::new(p))),
        }
    }

    /// Parses and validates a Step Functions execution's input.
    pub fn from_execution_input(input: Value) -> Result<Self, ParamsError> {
        if stackset::asks(&input) {
            return stackset::parse(Front::ExecutionInput, input)
                .map(|r| Self::StackSet(Box::new(r)));
        }
        let doc: ExecutionInput = values::document(Front::ExecutionInput, input)?;
        match doc.stack_group_url.clone() {
            Some(url) => group::execution_input(doc, &url).map(Self::Group),
            None => validate::execution_input(doc).map(|p| Self::Stack(Box::new(p))),
        }
    }

    /// The one stack asked for; a group is refused, naming the key that asked for it.
    pub fn into_stack(self) -> Result<Params, ParamsError> {
        match self {
            Self::Stack(params) => Ok(*params),
            Self::Group(group) => Err(ParamsError::BadValue {
                front: group.front,
                key: group.key().to_owned(),
                problem: "names a stack group, where one stack is expected".into(),
            }),
            Self::StackSet(set) => Err(ParamsError::BadValue {
                front: set.front,
                key: stackset::STACK_SET_NAME.to_owned(),
                problem: "names a stack set, where one stack is expected".into(),
            }),
        }
    }
}

impl Params {
    /// Parses and validates a Lambda Invoke action's `UserParameters` for one stack.
    pub fn from_user_parameters(text: Option<&str>) -> Result<Self, ParamsError> {
        Request::from_user_parameters(text)?.into_stack()
    }

    /// Parses and validates a custom action's configuration properties for one stack.
    pub fn from_configuration(
        configuration: &HashMap<String, String>,
        ignored: Option<&str>,
    ) -> Result<Self, ParamsError> {
        Request::from_configuration(configuration, ignored)?.into_stack()
    }

    /// Parses and validates a Step Functions execution's input for one stack.
    pub fn from_execution_input(input: Value) -> Result<Self, ParamsError> {
        Request::from_execution_input(input)?.into_stack()
    }

    /// The template, when it lies in an input artifact.
    pub fn template_path(&self) -> Option<&ArtifactPath> {
        match &self.template {
            Some(FileRef::Artifact(path)) => Some(path),
            _ => None,
        }
    }

    /// The engine's plan for these settings, started with `client_request_token`.
    pub fn plan(&self, client_request_token: &str) -> Plan {
        Plan {
            stack_name: self.stack.clone(),
            action: self.action.clone(),
            client_request_token: client_request_token.to_owned(),
            capabilities: self.capabilities.clone(),
            role_arn: self.role_arn.clone(),
            rollback: self.settings.rollback.clone(),
            termination_protection: self.settings.termination_protection,
            on_failure: self.settings.on_failure,
            disable_rollback: self.settings.disable_rollback,
            timeout_minutes: self.settings.timeout_minutes,
            notification_arns: self.settings.notification_arns.clone(),
            drift_check: self.settings.drift_check.unwrap_or_default(),
            revert_drift: self.settings.revert_drift,
            drift_seen: None,
        }
    }
}

/// Checks a stack name against CloudFormation's rule: a letter, then letters, digits and
/// hyphens, 128 characters at most.
pub fn check_stack_name(name: &str) -> Result<(), ParamsError> {
    values::check_name(Front::UserParameters, name, "stack", "stack")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod group_tests;
