//! Why a step could not be taken: a CloudFormation call that failed ([`DeployError`]), or the
//! front's inputs that could not be read ([`StepError::Inputs`]). The named predicates are
//! the only places that read CloudFormation's message text.

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use cfn_deployer_aws::AwsFault;

use crate::outcome::FailureKind;

/// A CloudFormation call that failed.
#[derive(Debug, thiserror::Error)]
#[error("CloudFormation {operation} on stack `{stack}` failed: {}", self.fault.to_text())]
pub struct DeployError {
    /// The API operation, e.g. `UpdateStack`.
    pub operation: &'static str,
    /// The stack's name or id.
    pub stack: String,
    /// The AWS error, reduced to its code and message.
    pub fault: AwsFault,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl DeployError {
    pub(crate) fn new<E>(
        operation: &'static str,
        stack: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        Self {
            operation,
            stack: stack.to_owned(),
            fault: AwsFault::of(&err),
            source: Box::new(err),
        }
    }

    /// The AWS error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        self.fault.code.as_deref()
    }

    /// What kind of problem this is for the deploy.
    pub fn kind(&self) -> FailureKind {
        if self.fault.is_access_denied() {
            FailureKind::Permission
        } else if self.code() == Some("InsufficientCapabilitiesException") {
            // The template needs a capability the request did not acknowledge.
            FailureKind::Configuration
        } else {
            FailureKind::Deploy
        }
    }

    /// Whether CloudFormation refused the request itself (a bad template, say).
    pub fn is_validation(&self) -> bool {
        self.code() == Some("ValidationError")
    }
}

/// CloudFormation reports a missing stack only as a `ValidationError` whose text says
/// "Stack with id NAME does not exist"; there is no dedicated error code.
pub(crate) fn is_missing_stack(err: &DeployError) -> bool {
    err.is_validation() && err.fault.message.contains("does not exist")
}

/// CloudFormation refuses an update that changes nothing with a `ValidationError` whose text is
/// exactly "No updates are to be performed."; it is the only signal of a no-op update.
pub(crate) fn is_no_updates(err: &DeployError) -> bool {
    err.is_validation() && err.fault.message.contains("No updates are to be performed")
}

/// A concurrent operation won the race: CreateStack says the stack exists, or UpdateStack says
/// the stack "is in X state and can not be updated".
pub(crate) fn lost_race(err: &DeployError) -> bool {
    err.code() == Some("AlreadyExistsException")
        || (err.is_validation() && err.fault.message.contains("state and can not be updated"))
}

/// DescribeChangeSet on a change set that is not there: `ChangeSetNotFound`, or from some
/// endpoints a `ValidationError` saying it "does not exist".
pub(crate) fn is_missing_change_set(err: &DeployError) -> bool {
    matches!(
        err.code(),
        Some("ChangeSetNotFound" | "ChangeSetNotFoundException")
    ) || (err.is_validation() && err.fault.message.contains("does not exist"))
}

/// CloudFormation throttles a caller with `Throttling` (the query protocol's code), or with
/// `ThrottlingException` / `RequestLimitExceeded` from some endpoints; drift detection in
/// particular is rate-limited. The SDK's retries come first: this is what outlasts them.
pub(crate) fn is_throttling(err: &DeployError) -> bool {
    matches!(
        err.code(),
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded")
    )
}

/// A step that could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError<E: std::error::Error + 'static> {
    /// A CloudFormation call failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// The template or its settings could not be read.
    #[error(transparent)]
    Inputs(E),
}
