//! Why a job fails before or beside the deploy itself, and how each reason becomes one
//! failure report.

use cfn_deployer_artifact::{ArtifactError, Location};
use cfn_deployer_engine::template::TemplateError;
use cfn_deployer_engine::{DeployError, FailureKind as EngineKind, StepError};
use cfn_deployer_params::ParamsError;

use crate::job::EventError;
use crate::report::{FailureKind, Report};
use crate::token::TokenError;

/// Why a job fails; each becomes one failure report.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The event is malformed.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The action's configuration is unusable.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The continuation token is unusable.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The named input artifact is not in the job.
    #[error("input artifact `{name}` ({key}) is not an input of this action; its input artifacts are: {present}")]
    NoSuchArtifact {
        /// The name asked for.
        name: String,
        /// The setting that named it.
        key: &'static str,
        /// The names present.
        present: String,
    },
    /// The input artifact has no S3 location.
    #[error("input artifact `{0}` has no S3 location in the job: CodePipeline artifacts must be stored in S3")]
    NoLocation(String),
    /// `OutputFileName` is set but the action has no output artifact.
    #[error(
        "OutputFileName `{0}` needs an output artifact: add one to the action in the pipeline"
    )]
    NoOutputArtifact(String),
    /// The job carries no artifact credentials.
    #[error("the job carries no artifactCredentials, so artifact `{0}` cannot be read or written")]
    NoCredentials(String),
    /// The artifact could not be read.
    #[error("input artifact `{name}`: {source}")]
    Artifact {
        /// The artifact's name.
        name: String,
        /// What went wrong.
        #[source]
        source: ArtifactError,
    },
    /// A configuration file in an artifact is unusable.
    #[error("file `{file}` in input artifact `{artifact}` {problem}")]
    ConfigFile {
        /// The artifact.
        artifact: String,
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The template must not be read: an alias bomb, or nested or sized past any template.
    #[error("template `{file}` in input artifact `{artifact}` is refused: {source}")]
    Template {
        /// The artifact.
        artifact: String,
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: TemplateError,
    },
    /// A template too large to pass inline, and no staging bucket to pass it through.
    #[error("template `{file}` in input artifact `{artifact}` is {size} bytes, over CloudFormation's 51,200-byte inline limit, so it must reach CloudFormation through S3: set CFN_DEPLOYER_STAGING_BUCKET to a bucket the deployer may write and read (template.yaml creates one)")]
    NoStagingBucket {
        /// The artifact.
        artifact: String,
        /// The file.
        file: String,
        /// Its size.
        size: usize,
    },
    /// The template is not text.
    #[error("template `{file}` in input artifact `{artifact}` is not UTF-8 text: CloudFormation templates are JSON or YAML")]
    NotText {
        /// The artifact.
        artifact: String,
        /// The file.
        file: String,
    },
    /// An object the job writes (a large template, the outputs file) could not be written.
    #[error("writing {what} to {location} failed: {message}")]
    Upload {
        /// What was being written.
        what: String,
        /// Where it was to be written.
        location: Location,
        /// What S3 said.
        message: String,
        /// Whether S3 refused for lack of permission.
        denied: bool,
    },
    /// A CloudFormation call failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
}

impl From<StepError<JobError>> for JobError {
    fn from(err: StepError<JobError>) -> Self {
        match err {
            StepError::Deploy(e) => Self::Deploy(e),
            StepError::Inputs(e) => e,
        }
    }
}

/// CodePipeline's failure type for an engine's kind of failure.
pub fn failure_type(kind: EngineKind) -> FailureKind {
    match kind {
        EngineKind::Configuration => FailureKind::Configuration,
        EngineKind::Permission => FailureKind::Permission,
        EngineKind::Deploy => FailureKind::JobFailed,
    }
}

impl JobError {
    /// The failure type CodePipeline shows for this error.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Event(_)
            | Self::Params(_)
            | Self::NoSuchArtifact { .. }
            | Self::NoLocation(_)
            | Self::NoCredentials(_)
            | Self::ConfigFile { .. }
            | Self::Template { .. }
            | Self::NoStagingBucket { .. }
            | Self::NoOutputArtifact(_) => FailureKind::Configuration,
            Self::Artifact { source, .. } if source.is_access_denied() => FailureKind::Permission,
            Self::Upload { denied: true, .. } => FailureKind::Permission,
            Self::Deploy(e) => failure_type(e.kind()),
            Self::Token(_) | Self::Artifact { .. } | Self::NotText { .. } | Self::Upload { .. } => {
                FailureKind::JobFailed
            }
        }
    }
}

impl From<JobError> for Report {
    fn from(err: JobError) -> Self {
        let external_id = match &err {
            JobError::Deploy(e) if e.stack.starts_with("arn:") => Some(e.stack.clone()),
            _ => None,
        };
        Report::Failure {
            kind: err.kind(),
            message: err.to_string(),
            external_id,
        }
    }
}
