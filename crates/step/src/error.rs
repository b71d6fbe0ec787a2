//! Why a step fails before or beside the deploy itself, in every front's words, and the kind
//! of failure each reason is.

use cfn_deployer_artifact::{ArtifactError, Location};
use cfn_deployer_engine::template::TemplateError;
use cfn_deployer_engine::{DeployError, FailureKind};
use cfn_deployer_params::ParamsError;

/// An error a front can report: what kind of failure it is, and the stack it concerns.
pub trait Failing: std::error::Error {
    /// What kind of failure it is; each front names the kinds its own way.
    fn kind(&self) -> FailureKind;

    /// The stack's id, when the failure concerns a stack that exists.
    fn stack_id(&self) -> Option<String> {
        None
    }

    /// The front's own name for this failure, when its kind does not say enough.
    fn name(&self) -> Option<&'static str> {
        None
    }
}

/// Why a step fails, whichever front took it.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The settings are unusable.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// A deploying action with no template (validation gives every one a template).
    #[error("no template is configured: set {key}")]
    NoTemplate {
        /// The setting that names the template, in the front's words.
        key: &'static str,
    },
    /// The template is not text.
    #[error("template {template} is not UTF-8 text: CloudFormation templates are JSON or YAML")]
    NotText {
        /// Where it lies, in words.
        template: String,
    },
    /// The template must not be read: an alias bomb, or nested or sized past any template.
    #[error("template {template} is refused: {source}")]
    Refused {
        /// Where it lies, in words.
        template: String,
        /// Why.
        #[source]
        source: TemplateError,
    },
    /// A template too large to pass inline, and no staging bucket to pass it through.
    #[error("template {template} is {size} bytes, over CloudFormation's 51,200-byte inline limit, so it must reach CloudFormation through S3: set CFN_DEPLOYER_STAGING_BUCKET to a bucket the deployer may write and read (template.yaml creates one){}", if *.inside_zip { ", or give the template as an object of its own rather than inside a zip" } else { "" })]
    NoStagingBucket {
        /// Where it lies, in words.
        template: String,
        /// Its size.
        size: usize,
        /// Whether it lies inside a zip, where CloudFormation cannot read it.
        inside_zip: bool,
    },
    /// The template could not be staged in the staging bucket.
    #[error("writing template {template} (over 51,200 bytes, so it reaches CloudFormation through the staging bucket) to {location} failed: {source}: check that the deployer may write to CFN_DEPLOYER_STAGING_BUCKET")]
    Staging {
        /// Where it lies, in words.
        template: String,
        /// Where it was to go.
        location: Location,
        /// What went wrong.
        #[source]
        source: ArtifactError,
    },
    /// A settings file (a template configuration, a file `Fn::GetParam` reads) is unusable.
    #[error("{key} file {file} {problem}")]
    ConfigFile {
        /// The setting that names it.
        key: &'static str,
        /// Where it lies, in words.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// A CloudFormation call failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// A stack group's manifest is unusable.
    #[error("stack group manifest {file} {problem}")]
    Manifest {
        /// Where it lies, in words.
        file: String,
        /// What is wrong, and what to change.
        problem: String,
    },
    /// A stack group's manifest could not be read.
    #[error("the stack group manifest cannot be read: {message}")]
    ManifestUnread {
        /// What kind of problem it is.
        kind: FailureKind,
        /// Why, as the front's reader said.
        message: String,
    },
    /// A group that undoes itself on failure, with nowhere to record what it would put back.
    #[error("the stack group's OnStackFailure is ROLLBACK_GROUP, which records each stack in the staging bucket before updating it, so that a failure can put it back: set CFN_DEPLOYER_STAGING_BUCKET to a bucket the deployer may write and read (template.yaml creates one), or set OnStackFailure: STOP in the manifest")]
    GroupNeedsBucket,
    /// The state resumed was written for another manifest.
    #[error("stack group manifest {file} is not the one this deploy started with: run the deploy again to start afresh")]
    GroupChanged {
        /// Where the manifest lies, in words.
        file: String,
    },
    /// A role the deployment does not allow to be assumed: no STS call is made.
    #[error("AssumeRoleArn `{role}` is refused: {}; no role was assumed", if *.unset { "CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS is unset, so the deployer assumes no role. Set it (template.yaml's TargetRoleArns) to the roles it may assume, separated by commas, `*` standing for any account id (arn:aws:iam::*:role/cfn-deployer-target)" } else { "it is not among CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS: add it there (template.yaml's TargetRoleArns), `*` standing for any account id" })]
    AssumeRoleRefused {
        /// The role.
        role: String,
        /// Whether the allowed list is unset.
        unset: bool,
    },
    /// STS would not let the deployer assume the role.
    #[error("{}", if *.denied { format!("the deployer may not assume AssumeRoleArn `{role}` ({message}): the role's trust policy must name the deployer's own role (the function's or the worker's) as a principal allowed sts:AssumeRole, and the deployer's role must be allowed sts:AssumeRole on it (template.yaml's TargetRoleArns)") } else { format!("assuming AssumeRoleArn `{role}` failed: {message}") })]
    AssumeRole {
        /// The role.
        role: String,
        /// Whether access was denied.
        denied: bool,
        /// What STS said.
        message: String,
    },
    /// One stack of a group cannot be deployed as asked, found before any call.
    #[error("stack `{id}` of the group: {message}")]
    GroupStack {
        /// Its id in the manifest.
        id: String,
        /// What kind of problem it is.
        kind: FailureKind,
        /// What is wrong.
        message: String,
    },
}

impl Failing for StepError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::Params(_)
            | Self::NoTemplate { .. }
            | Self::Refused { .. }
            | Self::NoStagingBucket { .. }
            | Self::ConfigFile { .. }
            | Self::Manifest { .. }
            | Self::GroupNeedsBucket => FailureKind::Configuration,
            Self::GroupStack { kind, .. } | Self::ManifestUnread { kind, .. } => *kind,
            Self::GroupChanged { .. } => FailureKind::Deploy,
            Self::AssumeRoleRefused { .. } | Self::AssumeRole { denied: true, .. } => {
                FailureKind::Permission
            }
            Self::AssumeRole { .. } => FailureKind::Deploy,
            Self::Staging { source, .. } if source.is_access_denied() => FailureKind::Permission,
            Self::Staging { .. } | Self::NotText { .. } => FailureKind::Deploy,
            Self::Deploy(e) => e.kind(),
        }
    }

    fn stack_id(&self) -> Option<String> {
        match self {
            Self::Deploy(e) if e.stack.starts_with("arn:") => Some(e.stack.clone()),
            _ => None,
        }
    }
}
