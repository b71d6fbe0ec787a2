//! Why a task fails before or beside the deploy itself; each becomes one `failed` answer.

use cfn_deployer_artifact::{ArtifactError, Location};
use cfn_deployer_engine::template::TemplateError;
use cfn_deployer_engine::{DeployError, FailureKind, StepError};
use cfn_deployer_params::ParamsError;

/// Why a task fails.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The execution input is unusable.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// No template to deploy: neither the input nor the build names one.
    #[error("the execution input has no `TemplateURL`, and the build exported no TEMPLATE_URL variable: set one of them")]
    NoTemplate,
    /// The build's TEMPLATE_URL is unusable.
    #[error("the build exported TEMPLATE_URL `{url}`, which {problem}")]
    BuildTemplateUrl {
        /// What it exported.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// A file named by the input could not be read.
    #[error("{key} {location}: {source}")]
    Read {
        /// The input key that names it.
        key: &'static str,
        /// Where.
        location: Location,
        /// What went wrong.
        #[source]
        source: ArtifactError,
    },
    /// The template could not be staged in the staging bucket.
    #[error("staging the template at {location} for CloudFormation: {source}: check that the function may write to CFN_DEPLOYER_STAGING_BUCKET")]
    Upload {
        /// Where it was to go.
        location: Location,
        /// What went wrong.
        #[source]
        source: ArtifactError,
    },
    /// The template is not text.
    #[error("template {0} is not UTF-8 text: CloudFormation templates are JSON or YAML")]
    NotText(Location),
    /// The template must not be read.
    #[error("template {location} is refused: {source}")]
    Template {
        /// Where.
        location: Location,
        /// Why.
        #[source]
        source: TemplateError,
    },
    /// A template inside a zip is too large to pass inline, and there is nowhere to stage it.
    #[error("template {0} is over 51,200 bytes, so CloudFormation must read it from S3: set CFN_DEPLOYER_STAGING_BUCKET on the function, or give the template as an object of its own rather than inside a zip")]
    NeedsStaging(Location),
    /// The template configuration file is unusable.
    #[error("TemplateConfiguration {location} {problem}")]
    ConfigFile {
        /// Where.
        location: Location,
        /// What is wrong.
        problem: String,
    },
    /// The state the state machine handed back is not one a step wrote.
    #[error("the deploy state handed to this step is not one cfn-deployer wrote ({0}): start the execution again")]
    State(String),
    /// A CloudFormation call failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
}

impl From<StepError<TaskError>> for TaskError {
    fn from(err: StepError<TaskError>) -> Self {
        match err {
            StepError::Deploy(e) => Self::Deploy(e),
            StepError::Inputs(e) => e,
        }
    }
}

impl TaskError {
    /// What kind of failure it is.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Params(_)
            | Self::NoTemplate
            | Self::BuildTemplateUrl { .. }
            | Self::Template { .. }
            | Self::NeedsStaging(_)
            | Self::ConfigFile { .. } => FailureKind::Configuration,
            Self::Read { source, .. } | Self::Upload { source, .. }
                if source.is_access_denied() =>
            {
                FailureKind::Permission
            }
            Self::Upload { .. } => FailureKind::Deploy,
            Self::Read { source, .. } => match source {
                ArtifactError::ObjectNotFound { .. }
                | ArtifactError::EntryNotFound { .. }
                | ArtifactError::UnsafePath { .. }
                | ArtifactError::TooLarge { .. } => FailureKind::Configuration,
                _ => FailureKind::Deploy,
            },
            Self::Deploy(e) => e.kind(),
            Self::NotText(_) | Self::State(_) => FailureKind::Deploy,
        }
    }
}
