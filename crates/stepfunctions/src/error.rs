//! Why a task fails beside the step's own reasons; each becomes one `failed` answer.

use cfn_deployer_artifact::{ArtifactError, Location};
use cfn_deployer_engine::FailureKind;
use cfn_deployer_params::ParamsError;
use cfn_deployer_step::{Failing, StepError};

/// Why a task fails.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
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
    /// A setting reads a pipeline artifact, which an execution has none of.
    #[error("{0} reads a pipeline artifact; a state machine has no artifacts, so name an S3 object instead")]
    NoArtifacts(&'static str),
    /// A file lies in the staging bucket, which only the deployer writes.
    #[error("{key} names bucket `{bucket}`, the staging bucket (CFN_DEPLOYER_STAGING_BUCKET), which holds what deploys staged and is never read as a source: name the template in a template bucket")]
    StagingBucket {
        /// The input key that names it.
        key: &'static str,
        /// The bucket.
        bucket: String,
    },
    /// A file lies in a bucket the deployment does not read templates from.
    #[error("{key} names bucket `{bucket}`, which is not one of CFN_DEPLOYER_TEMPLATE_BUCKETS ({allowed}): put the template in one of them, or add the bucket to that setting")]
    BucketNotAllowed {
        /// The input key that names it.
        key: &'static str,
        /// The bucket.
        bucket: String,
        /// The buckets allowed.
        allowed: String,
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
    /// The state handed to the step follows another stack than the input names.
    #[error("the deploy state handed to this step follows stack {state}, but the execution input names stack `{input}`: the task is not one this execution's state machine sent")]
    OtherStack {
        /// The stack the state follows.
        state: String,
        /// The stack the input names.
        input: String,
    },
    /// The state the state machine handed back is not one a step wrote.
    #[error("the deploy state handed to this step is not one cfn-deployer wrote ({0}): start the execution again")]
    State(String),
    /// The step failed for a reason of its own.
    #[error(transparent)]
    Step(Box<StepError>),
}

impl From<ParamsError> for TaskError {
    fn from(err: ParamsError) -> Self {
        Self::Step(Box::new(err.into()))
    }
}

impl From<StepError> for TaskError {
    fn from(err: StepError) -> Self {
        Self::Step(Box::new(err))
    }
}

impl Failing for TaskError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::NoTemplate | Self::BuildTemplateUrl { .. } | Self::NoArtifacts(_) => {
                FailureKind::Configuration
            }
            Self::StagingBucket { .. } | Self::BucketNotAllowed { .. } => FailureKind::Permission,
            Self::Read { source, .. } if source.is_access_denied() => FailureKind::Permission,
            // A URL in the input is a setting: a file that is not there is one to change.
            Self::Read { source, .. } => match source {
                ArtifactError::ObjectNotFound { .. }
                | ArtifactError::EntryNotFound { .. }
                | ArtifactError::UnsafePath { .. }
                | ArtifactError::TooLarge { .. } => FailureKind::Configuration,
                _ => FailureKind::Deploy,
            },
            Self::State(_) | Self::OtherStack { .. } => FailureKind::Deploy,
            Self::Step(e) => e.kind(),
        }
    }

    fn stack_id(&self) -> Option<String> {
        match self {
            Self::Step(e) => e.stack_id(),
            _ => None,
        }
    }

    fn name(&self) -> Option<&'static str> {
        match self {
            Self::OtherStack { .. } => Some(crate::errors::BAD_TASK),
            _ => None,
        }
    }
}
