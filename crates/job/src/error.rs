//! Why a CodePipeline job fails beside the step's own reasons: its event, its token, its
//! artifacts; and what kind of failure each is.

use cfn_deployer_artifact::{ArtifactError, Location};
use cfn_deployer_engine::FailureKind as EngineKind;
use cfn_deployer_step::{Failing, StepError};

use crate::job::EventError;
use crate::token::TokenError;

/// Why a job fails; each becomes one failure report.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The event is malformed.
    #[error(transparent)]
    Event(#[from] EventError),
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
    /// The output artifact could not be written.
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
    /// The step failed for a reason of its own.
    #[error(transparent)]
    Step(Box<StepError>),
}

impl From<StepError> for JobError {
    fn from(err: StepError) -> Self {
        Self::Step(Box::new(err))
    }
}

impl Failing for JobError {
    fn kind(&self) -> EngineKind {
        match self {
            Self::Event(_)
            | Self::NoSuchArtifact { .. }
            | Self::NoLocation(_)
            | Self::NoCredentials(_)
            | Self::NoOutputArtifact(_) => EngineKind::Configuration,
            Self::Artifact { source, .. } if source.is_access_denied() => EngineKind::Permission,
            Self::Upload { denied: true, .. } => EngineKind::Permission,
            // An artifact is what the pipeline's earlier actions made: a file missing from it
            // is a failed job, not a setting to change.
            Self::Token(_) | Self::Artifact { .. } | Self::Upload { .. } => EngineKind::Deploy,
            Self::Step(e) => e.kind(),
        }
    }

    fn stack_id(&self) -> Option<String> {
        match self {
            Self::Step(e) => e.stack_id(),
            _ => None,
        }
    }
}
