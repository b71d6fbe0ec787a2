//! A stack-set request: a job whose settings name `StackSetName`, with the keys of the built-in
//! `CloudFormationStackSet` and `CloudFormationStackInstances` actions and those that go beyond
//! them. Every rule is checked here, before any call; values that lie in a file of the input
//! artifact (`Artifact::file.json`) are checked by the same rules once the step reads them.

mod forms;
#[cfg(test)]
mod tests;

use cfn_deployer_engine::stackset::{
    AutoDeployment, CallAs, PermissionModel, Preferences, SetAction, SetParameter, SetPlan,
};
use serde::Deserialize;
use serde_json::Value;

use crate::document::Shared;
use crate::validate::{self, MAX_POLL_INTERVAL, MIN_POLL_INTERVAL};
use crate::values::{self, bad};
use crate::{ArtifactPath, FileRef, Front, ParamsError, Target};

pub use forms::{parameters, targets};

/// The key that makes a job a stack-set job.
pub const STACK_SET_NAME: &str = "StackSetName";

/// Whether a front's document asks for a stack set.
pub(crate) fn asks(value: &Value) -> bool {
    value.get(STACK_SET_NAME).is_some()
}

/// A stack-set job's settings, validated. Values given as files are read when the job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetRequest {
    /// Which front it came from.
    pub front: Front,
    /// What to do; its template, request token, and the values given as files are filled in
    /// by the step.
    pub plan: SetPlan,
    /// `TemplatePath` (or, in a state machine's input, `TemplateURL`).
    pub template: Option<FileRef>,
    /// `Parameters` given as `Artifact::file.json`.
    pub parameters_file: Option<ArtifactPath>,
    /// `ParameterOverrides` given as `Artifact::file.json`.
    pub overrides_file: Option<ArtifactPath>,
    /// `DeploymentTargets` given as `Artifact::file.json`.
    pub targets_file: Option<ArtifactPath>,
    /// `AssumeRoleArn` and `Region`: where the stack set itself lives.
    pub target: Target,
    /// Seconds between polls (Step Functions only).
    pub poll_interval_seconds: Option<u32>,
}

/// Every front's stack-set keys. A custom action's values are all strings; the other fronts
/// may give JSON types.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "StackSetName")]
    stack_set_name: Option<String>,
    #[serde(rename = "Description")]
    description: Option<String>,
    #[serde(rename = "TemplatePath")]
    template_path: Option<String>,
    #[serde(rename = "TemplateURL")]
    template_url: Option<String>,
    #[serde(rename = "Parameters")]
    parameters: Option<Value>,
    #[serde(rename = "Capabilities")]
    capabilities: Option<Value>,
    #[serde(rename = "PermissionModel")]
    permission_model: Option<String>,
    #[serde(rename = "AdministrationRoleArn")]
    administration_role_arn: Option<String>,
    #[serde(rename = "ExecutionRoleName")]
    execution_role_name: Option<String>,
    #[serde(rename = "OrganizationsAutoDeployment")]
    organizations_auto_deployment: Option<String>,
    #[serde(rename = "DeploymentTargets")]
    deployment_targets: Option<Value>,
    #[serde(rename = "Regions")]
    regions: Option<Value>,
    #[serde(rename = "FailureTolerancePercentage")]
    failure_tolerance_percentage: Option<Value>,
    #[serde(rename = "MaxConcurrentPercentage")]
    max_concurrent_percentage: Option<Value>,
    #[serde(rename = "FailureToleranceCount")]
    failure_tolerance_count: Option<Value>,
    #[serde(rename = "MaxConcurrentCount")]
    max_concurrent_count: Option<Value>,
    #[serde(rename = "ConcurrencyMode")]
    concurrency_mode: Option<String>,
    #[serde(rename = "RegionConcurrencyType")]
    region_concurrency_type: Option<String>,
    #[serde(rename = "ParameterOverrides")]
    parameter_overrides: Option<Value>,
    #[serde(rename = "CallAs")]
    call_as: Option<String>,
    #[serde(rename = "Tags")]
    tags: Option<Value>,
    #[serde(rename = "ActionMode")]
    action_mode: Option<String>,
    #[serde(rename = "AssumeRoleArn")]
    assume_role_arn: Option<String>,
    #[serde(rename = "Region")]
    region: Option<String>,
    #[serde(rename = "PollIntervalSeconds")]
    poll_interval_seconds: Option<Value>,
}

/// A value given inline or as a file of the input artifact.
enum Given<T> {
    Inline(T),
    File(ArtifactPath),
}

/// Text, trimmed, `None` when blank.
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// One of `choices` (as CloudFormation spells them), or the error listing them.
fn choice<'a>(
    front: Front,
    key: &str,
    value: Option<&str>,
    choices: &[&'a str],
) -> Result<Option<&'a str>, ParamsError> {
    let Some(value) = value else {
        return Ok(None);
    };
    choices
        .iter()
        .find(|c| **c == value)
        .map(|c| Some(*c))
        .ok_or_else(|| {
            bad(
                front,
                key,
                format!("`{value}` is not one of {}", choices.join(", ")),
            )
        })
}

/// A count or percentage from `min` to `max`.
fn bounded(
    front: Front,
    key: &str,
    value: Option<Value>,
    min: u64,
    max: u64,
) -> Result<Option<i32>, ParamsError> {
    Ok(values::number(front, key, value, min, max)?.and_then(|n| i32::try_from(n).ok()))
}

/// A count and its percentage: one at most.
fn one_of_pair(
    front: Front,
    count: (&str, Option<i32>),
    percentage: (&str, Option<i32>),
) -> Result<(), ParamsError> {
    match (count.1, percentage.1) {
        (Some(_), Some(_)) => Err(bad(
            front,
            count.0,
            format!(
                "`{}` and `{}` cannot both be set: CloudFormation takes one or the other",
                count.0, percentage.0
            ),
        )),
        _ => Ok(()),
    }
}

fn preferences(front: Front, doc: &mut Document) -> Result<Preferences, ParamsError> {
    let prefs = Preferences {
        failure_tolerance_count: bounded(
            front,
            "FailureToleranceCount",
            doc.failure_tolerance_count.take(),
            0,
            u64::from(i32::MAX.unsigned_abs()),
        )?,
        failure_tolerance_percentage: bounded(
            front,
            "FailureTolerancePercentage",
            doc.failure_tolerance_percentage.take(),
            0,
            100,
        )?,
        max_concurrent_count: bounded(
            front,
            "MaxConcurrentCount",
            doc.max_concurrent_count.take(),
            1,
            u64::from(i32::MAX.unsigned_abs()),
        )?,
        max_concurrent_percentage: bounded(
            front,
            "MaxConcurrentPercentage",
            doc.max_concurrent_percentage.take(),
            1,
            100,
        )?,
        concurrency_mode: choice(
            front,
            "ConcurrencyMode",
            text(doc.concurrency_mode.take()).as_deref(),
            &["STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE"],
        )?
        .map(str::to_owned),
        region_concurrency_type: choice(
            front,
            "RegionConcurrencyType",
            text(doc.region_concurrency_type.take()).as_deref(),
            &["SEQUENTIAL", "PARALLEL"],
        )?
        .map(str::to_owned),
    };
    one_of_pair(
        front,
        ("FailureToleranceCount", prefs.failure_tolerance_count),
        (
            "FailureTolerancePercentage",
            prefs.failure_tolerance_percentage,
        ),
    )?;
    one_of_pair(
        front,
        ("MaxConcurrentCount", prefs.max_concurrent_count),
        ("MaxConcurrentPercentage", prefs.max_concurrent_percentage),
    )?;
    Ok(prefs)
}

/// `Parameters` or `ParameterOverrides`: shorthand, JSON, or a file.
fn given_parameters(
    front: Front,
    key: &str,
    value: Option<Value>,
) -> Result<Given<Vec<SetParameter>>, ParamsError> {
    match value {
        Some(Value::String(s)) if forms::is_file(&s) => {
            Ok(Given::File(values::artifact_path(front, key, s.trim())?))
        }
        Some(value) => Ok(Given::Inline(parameters(front, key, value)?)),
        None => Ok(Given::Inline(Vec::new())),
    }
}

/// Reads a front's document as a stack-set request.
pub(crate) fn parse(front: Front, value: Value) -> Result<StackSetRequest, ParamsError> {
    let mut doc: Document = values::document(front, value)?;
    let name = values::require(
        front,
        doc.stack_set_name.take(),
        "StackSetName",
        "the stack set's name",
    )?;
    let name = name.trim().to_owned();
    values::check_name(front, &name, STACK_SET_NAME, "stack set")?;
    let template = match front {
        Front::ExecutionInput => {
            if doc.template_path.is_some() {
                return Err(bad(front, "TemplatePath", "a state machine's input names the template by S3 URL: write `TemplateURL` (s3://bucket/key.zip::template.yaml)"));
            }
            match text(doc.template_url.take()) {
                Some(url) => Some(FileRef::S3(validate::s3_file(front, "TemplateURL", &url)?)),
                None => None,
            }
        }
        _ => {
            if doc.template_url.is_some() {
                return Err(bad(front, "TemplateURL", "a pipeline action names the template in its input artifact: write `TemplatePath` (Artifact::template.yaml)"));
            }
            match text(doc.template_path.take()) {
                Some(path) => Some(FileRef::Artifact(values::artifact_path(
                    front,
                    "TemplatePath",
                    &path,
                )?)),
                None => None,
            }
        }
    };
    let permission_model = match choice(
        front,
        "PermissionModel",
        text(doc.permission_model.take()).as_deref(),
        &["SELF_MANAGED", "SERVICE_MANAGED"],
    )? {
        Some("SERVICE_MANAGED") => PermissionModel::ServiceManaged,
        _ => PermissionModel::SelfManaged,
    };
    let call_as = match choice(
        front,
        "CallAs",
        text(doc.call_as.take()).as_deref(),
        &["SELF", "DELEGATED_ADMIN"],
    )? {
        Some("DELEGATED_ADMIN") => CallAs::DelegatedAdmin,
        _ => CallAs::OwnAccount,
    };
    let auto_deployment = match choice(
        front,
        "OrganizationsAutoDeployment",
        text(doc.organizations_auto_deployment.take()).as_deref(),
        &["Enabled", "Disabled", "EnabledWithStackRetention"],
    )? {
        Some("Enabled") => Some(AutoDeployment::Enabled),
        Some("Disabled") => Some(AutoDeployment::Disabled),
        Some(_) => Some(AutoDeployment::EnabledWithStackRetention),
        None => None,
    };
    let targets =
        match doc.deployment_targets.take() {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if forms::is_file(&s) => Some(Given::File(
                values::artifact_path(front, "DeploymentTargets", s.trim())?,
            )),
            Some(value) => Some(Given::Inline(targets(
                front,
                Some(value),
                permission_model,
            )?)),
        };
    let regions = values::string_list(front, "Regions", doc.regions.take())?;
    if let Some(r) = regions.iter().find(|r| !crate::target::is_region(r)) {
        return Err(bad(
            front,
            "Regions",
            format!("`{r}` is not a Region name such as eu-west-1"),
        ));
    }
    if auto_deployment.is_some() {
        if permission_model == PermissionModel::SelfManaged {
            return Err(bad(front, "OrganizationsAutoDeployment", "is for PermissionModel SERVICE_MANAGED: AWS Organizations deploys to accounts as they join an OU; set PermissionModel to SERVICE_MANAGED or remove it"));
        }
        for (key, on) in [
            ("DeploymentTargets", targets.is_some()),
            ("Regions", !regions.is_empty()),
        ] {
            if on {
                return Err(bad(front, "OrganizationsAutoDeployment", format!("cannot be used together with `{key}`: with automatic deployment, AWS Organizations chooses the accounts; remove one of them")));
            }
        }
    } else if !regions.is_empty() && targets.is_none() {
        return Err(bad(
            front,
            "Regions",
            "needs `DeploymentTargets`: name the accounts (or OUs) to deploy to in those Regions",
        ));
    } else if targets.is_some() && regions.is_empty() {
        return Err(bad(
            front,
            "DeploymentTargets",
            "needs `Regions`: name the Regions to deploy to in those accounts",
        ));
    }
    let preferences = preferences(front, &mut doc)?;
    let parameters = given_parameters(front, "Parameters", doc.parameters.take())?;
    let overrides = given_parameters(front, "ParameterOverrides", doc.parameter_overrides.take())?;
    let capabilities = validate::capabilities(front, doc.capabilities.take())?;
    let description = text(doc.description.take());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(bad(
            front,
            "Description",
            "is over CloudFormation's 1,024 characters",
        ));
    }
    let administration_role_arn = text(doc.administration_role_arn.take());
    if let Some(arn) = administration_role_arn
        .as_ref()
        .filter(|a| !crate::target::is_role_arn(a))
    {
        return Err(bad(
            front,
            "AdministrationRoleArn",
            format!("`{arn}` is not an IAM role ARN: write arn:aws:iam::ACCOUNT:role/NAME"),
        ));
    }
    let execution_role_name = text(doc.execution_role_name.take());
    if let Some(role) = execution_role_name
        .as_ref()
        .filter(|r| !forms::is_role_name(r))
    {
        return Err(bad(front, "ExecutionRoleName", format!("`{role}` is not an IAM role name: 1 to 64 letters, digits and +=,.@_-, as in AWSCloudFormationStackSetExecutionRole")));
    }
    let tags: Vec<(String, String)> = values::text_map(front, "Tags", doc.tags.take())?
        .into_iter()
        .collect();
    if tags.len() > 50 {
        return Err(bad(
            front,
            "Tags",
            format!("{} tags, over CloudFormation's 50", tags.len()),
        ));
    }
    let action = match text(doc.action_mode.take()).as_deref() {
        Some("DELETE_ONLY") => SetAction::Delete,
        None | Some("CREATE_UPDATE") if template.is_some() => SetAction::Deploy,
        None | Some("CREATE_UPDATE") => SetAction::Instances,
        Some(other) => {
            return Err(bad(front, "ActionMode", format!("`{other}` is not an action mode for a stack set; use CREATE_UPDATE (the default) or DELETE_ONLY")));
        }
    };
    if action == SetAction::Instances && targets.is_none() && auto_deployment.is_none() {
        return Err(ParamsError::MissingKey {
            front,
            key: "DeploymentTargets",
            hint: "without TemplatePath the job deploys instances of an existing stack set: name the accounts (or OUs) and the Regions, or give TemplatePath to create or update the stack set",
        });
    }
    let target = crate::target::target(
        front,
        &Shared {
            assume_role_arn: doc.assume_role_arn.take(),
            region: doc.region.take(),
            ..Shared::default()
        },
    )?;
    let poll_interval_seconds = match front {
        Front::ExecutionInput => values::number(
            front,
            "PollIntervalSeconds",
            doc.poll_interval_seconds.take(),
            MIN_POLL_INTERVAL,
            MAX_POLL_INTERVAL,
        )?,
        _ if doc.poll_interval_seconds.is_some() => {
            return Err(bad(
                front,
                "PollIntervalSeconds",
                "is a state machine's setting; a pipeline action's pace is the deployment's",
            ));
        }
        _ => None,
    };
    let split = |given: Given<Vec<SetParameter>>| match given {
        Given::Inline(list) => (list, None),
        Given::File(path) => (Vec::new(), Some(path)),
    };
    let (parameters, parameters_file) = split(parameters);
    let (parameter_overrides, overrides_file) = split(overrides);
    let (targets, targets_file) = match targets {
        None => (None, None),
        Some(Given::Inline(t)) => (Some(t), None),
        Some(Given::File(path)) => (None, Some(path)),
    };
    Ok(StackSetRequest {
        front,
        plan: SetPlan {
            name,
            action,
            description,
            template: None,
            parameters,
            parameter_overrides,
            capabilities,
            permission_model,
            administration_role_arn,
            execution_role_name,
            auto_deployment,
            targets,
            regions,
            preferences,
            call_as,
            tags,
            request_token: String::new(),
        },
        template,
        parameters_file,
        overrides_file,
        targets_file,
        target,
        poll_interval_seconds,
    })
}
