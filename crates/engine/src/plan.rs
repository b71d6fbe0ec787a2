//! What a deploy is asked to do ([`Plan`]), and what it needs once an operation is about to
//! start ([`Prepared`], read through [`Inputs`]).

use std::collections::BTreeMap;
use std::future::Future;

use crate::drift::{DriftCheck, DriftVerdict};
use aws_sdk_cloudformation::types::{
    Capability, Parameter, RollbackConfiguration, RollbackTrigger, Tag,
};

/// What the deploy does to the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create or update the stack from a template.
    Deploy {
        /// What to do with a stack that never worked.
        mode: Mode,
    },
    /// Delete the stack; an absent stack is success.
    Delete,
    /// Create a change set for review, replacing one of the same name.
    ChangeSetReplace {
        /// The change set's name.
        change_set: String,
    },
    /// Execute a change set created earlier.
    ChangeSetExecute {
        /// The change set's name.
        change_set: String,
        /// The id (ARN) of the change set reviewed, when the pipeline passes it on: a change
        /// set of that name with another id is refused.
        id: Option<String>,
    },
}

impl Action {
    /// Whether the action reads a template.
    pub fn needs_template(&self) -> bool {
        matches!(self, Self::Deploy { .. } | Self::ChangeSetReplace { .. })
    }

    /// Whether success leaves a deployed stack whose outputs are worth passing on.
    pub fn deploys(&self) -> bool {
        matches!(self, Self::Deploy { .. } | Self::ChangeSetExecute { .. })
    }
}

/// How a deploy treats a stack that cannot be updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Create or update; a stack that never worked is an error.
    #[default]
    CreateUpdate,
    /// Create or update; a stack that never worked is deleted and created again.
    ReplaceOnFailure,
}

/// A deploy as asked for, validated by the front that took it; everything read from files
/// comes later, through [`Inputs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The stack's name.
    pub stack_name: String,
    /// What to do to it.
    pub action: Action,
    /// Idempotency token: the same for every delivery of the same deploy, so that
    /// CloudFormation starts one operation however often the request is sent.
    pub client_request_token: String,
    /// Capabilities acknowledged (`CAPABILITY_IAM`, …).
    pub capabilities: Vec<String>,
    /// The service role CloudFormation acts with.
    pub role_arn: Option<String>,
    /// CloudWatch alarms that roll the operation back, and how long to watch them after it.
    pub rollback: Option<Rollback>,
    /// Termination protection, applied on create and kept in step on update.
    pub termination_protection: Option<bool>,
    /// What a failed create leaves behind.
    pub on_failure: Option<OnFailure>,
    /// Leave a failed update's resources as they are, for debugging.
    pub disable_rollback: bool,
    /// How long a create may take before CloudFormation fails it.
    pub timeout_minutes: Option<u32>,
    /// SNS topics CloudFormation sends the stack's events to.
    pub notification_arns: Vec<String>,
    /// The drift check before an existing stack changes.
    pub drift_check: DriftCheck,
    /// `DeploymentMode: REVERT_DRIFT`: the update (or change set) also puts drifted resources
    /// back as the template has them.
    pub revert_drift: bool,
    /// What an earlier step's drift check found: set from the operation followed, so that
    /// the check is made once per deploy.
    pub drift_seen: Option<DriftVerdict>,
}

/// Rollback triggers: alarms CloudFormation watches during an operation and for
/// `monitoring_minutes` after it, rolling the operation back if one goes off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollback {
    /// The alarms' ARNs.
    pub triggers: Vec<String>,
    /// How long after the operation they are watched, 0 to 180.
    pub monitoring_minutes: u32,
}

/// What CloudFormation does with a stack whose create failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Roll it back (the default): the stack is left in `ROLLBACK_COMPLETE`, to be deleted.
    Rollback,
    /// Delete it.
    Delete,
    /// Leave it as it is (`CREATE_FAILED`), for debugging.
    DoNothing,
}

impl OnFailure {
    /// As CloudFormation and the settings spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rollback => "ROLLBACK",
            Self::Delete => "DELETE",
            Self::DoNothing => "DO_NOTHING",
        }
    }
}

impl Default for Action {
    fn default() -> Self {
        Self::Deploy {
            mode: Mode::CreateUpdate,
        }
    }
}

/// The idempotency token for a deploy started by `id` (a job, an execution): every delivery
/// of the same id derives the same token, within CloudFormation's 128 characters of
/// `[a-zA-Z0-9-]`.
pub fn request_token(id: &str) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut token = format!("cfn-deployer-{clean}");
    token.truncate(128);
    token
}

/// A template, passed inline or, when larger than CloudFormation takes inline, by S3 URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// The text itself (at most [`MAX_TEMPLATE_BODY`] bytes).
    Body(String),
    /// An S3 URL CloudFormation reads it from (at most 1 MB).
    Url(String),
}

/// The largest template CloudFormation accepts inline (`TemplateBody`).
pub const MAX_TEMPLATE_BODY: usize = 51_200;

impl Default for Template {
    fn default() -> Self {
        Self::Body(String::new())
    }
}

impl Template {
    pub(crate) fn body(&self) -> Option<String> {
        match self {
            Self::Body(text) => Some(text.clone()),
            Self::Url(_) => None,
        }
    }

    pub(crate) fn url(&self) -> Option<String> {
        match self {
            Self::Url(url) => Some(url.clone()),
            Self::Body(_) => None,
        }
    }
}

/// What an operation needs besides the plan: the template and the settings read with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// The template.
    pub template: Template,
    /// Template parameter values. On update, parameters the stack has and the template still
    /// declares, but that are not named here, keep their previous value.
    pub parameters: BTreeMap<String, String>,
    /// The stack's tags.
    pub tags: BTreeMap<String, String>,
    /// The stack policy (JSON), if any.
    pub stack_policy: Option<String>,
    /// How many resources the template declares, for progress.
    pub resources: Option<u32>,
}

impl Prepared {
    pub(crate) fn tags(&self) -> Option<Vec<Tag>> {
        (!self.tags.is_empty()).then(|| {
            self.tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect()
        })
    }

    pub(crate) fn overrides(&self) -> Vec<Parameter> {
        self.parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect()
    }
}

impl Plan {
    pub(crate) fn rollback_configuration(&self) -> Option<RollbackConfiguration> {
        let rollback = self.rollback.as_ref()?;
        let triggers: Vec<RollbackTrigger> = rollback
            .triggers
            .iter()
            .map(|arn| {
                RollbackTrigger::builder()
                    .arn(arn)
                    .r#type("AWS::CloudWatch::Alarm")
                    .build()
            })
            .collect();
        Some(
            RollbackConfiguration::builder()
                .set_rollback_triggers(Some(triggers))
                .monitoring_time_in_minutes(i32::try_from(rollback.monitoring_minutes).unwrap_or(0))
                .build(),
        )
    }

    pub(crate) fn notification_arns(&self) -> Option<Vec<String>> {
        (!self.notification_arns.is_empty()).then(|| self.notification_arns.clone())
    }

    pub(crate) fn on_failure(&self) -> Option<aws_sdk_cloudformation::types::OnFailure> {
        self.on_failure
            .map(|f| aws_sdk_cloudformation::types::OnFailure::from(f.as_str()))
    }

    pub(crate) fn capabilities(&self) -> Option<Vec<Capability>> {
        (!self.capabilities.is_empty()).then(|| {
            self.capabilities
                .iter()
                .map(|c| Capability::from(c.as_str()))
                .collect()
        })
    }
}

/// Where a front's template and settings come from: a CodePipeline artifact read with the
/// job's credentials, or an S3 URL read with the deployer's own role. The engine asks only
/// when an operation is about to start, so a wait or a poll reads nothing.
pub trait Inputs: Sync {
    /// Why the inputs could not be read.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads the template and everything it needs for `plan`.
    fn prepare(&self, plan: &Plan) -> impl Future<Output = Result<Prepared, Self::Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_tokens_fit_cloudformation() {
        let t = request_token("11111111-abcd-1111-abcd-111111abcdef");
        assert_eq!(t, "cfn-deployer-11111111-abcd-1111-abcd-111111abcdef");
        let long = request_token(&"x/".repeat(300));
        assert!(long.len() <= 128);
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
