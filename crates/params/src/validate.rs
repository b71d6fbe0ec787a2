//! Validation: each front's document, once serde has read it, becomes the same [`Params`].
//! What differs between fronts (how the stack and the template are named) is read here; the
//! rest is one function, [`shared`].

use cfn_deployer_artifact::Location;
use cfn_deployer_engine::{Action, Mode};
use serde_json::Value;

use crate::document::{Configuration, ExecutionInput, Shared, UserParameters};
use crate::values::{self, bad, kind_of, one_of, require};
use crate::{ArtifactPath, Build, FileRef, Front, ParamValue, Params, ParamsError, S3File};

/// The action modes, as the built-in action spells them.
pub const ACTION_MODES: &[&str] = &[
    "CREATE_UPDATE",
    "REPLACE_ON_FAILURE",
    "DELETE_ONLY",
    "CHANGE_SET_REPLACE",
    "CHANGE_SET_EXECUTE",
];

/// The capabilities CloudFormation knows.
pub const CAPABILITIES: &[&str] = &[
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

/// CloudFormation's limit on a stack's tags.
const MAX_TAGS: usize = 50;

/// The shortest pause between polls a state machine may ask for: with the growing wait, one
/// execution's 25,000-event history then lasts a day of operation.
pub const MIN_POLL_INTERVAL: u64 = 5;

/// The longest poll interval a state machine may ask for: a day.
pub(crate) const MAX_POLL_INTERVAL: u64 = 86_400;

/// Where the template lies, once the action is known to need one: `Err` says which key to set;
/// `None` means a step before the deploy (a build) will say.
type TemplateOf = Result<Option<FileRef>, ParamsError>;

pub(crate) fn user_parameters(mut doc: UserParameters) -> Result<Params, ParamsError> {
    let front = Front::UserParameters;
    let shared = doc.shared();
    let stack = one_of(
        front,
        doc.stack,
        "stack",
        shared.stack_name.clone(),
        "StackName",
    )?;
    let stack = require(
        front,
        stack,
        "stack",
        "the name of the stack to deploy (or `StackName`)",
    )?;
    let (path_artifact, path_file) = match doc.template_path {
        None => (None, None),
        Some(path) => {
            let p = values::artifact_path(front, "TemplatePath", &path)?;
            (Some(p.artifact), Some(p.file))
        }
    };
    let artifact = one_of(
        front,
        doc.artifact,
        "artifact",
        path_artifact,
        "TemplatePath",
    )?;
    let file = one_of(front, doc.file, "file", path_file, "TemplatePath")?;
    let template = || -> TemplateOf {
        let artifact = require(
            front,
            artifact.clone(),
            "artifact",
            "the name of the input artifact that holds the template (or `TemplatePath`)",
        )?;
        let file = require(
            front,
            file.clone(),
            "file",
            "the template's path inside the artifact (or `TemplatePath`)",
        )?;
        values::check_file(front, "file", &file)?;
        Ok(Some(FileRef::Artifact(ArtifactPath { artifact, file })))
    };
    in_pipeline(front, stack, shared, &template, doc.output_file_name)
}

/// `StackName`, which the custom action's properties and the execution input must give.
fn stack_name(front: Front, shared: &Shared) -> Result<String, ParamsError> {
    require(
        front,
        shared.stack_name.clone(),
        "StackName",
        "the name of the stack to deploy",
    )
}

pub(crate) fn configuration(mut doc: Configuration) -> Result<Params, ParamsError> {
    let front = Front::Configuration;
    let shared = doc.shared();
    let stack = stack_name(front, &shared)?;
    let template = || -> TemplateOf {
        let path = require(
            front,
            doc.template_path.clone(),
            "TemplatePath",
            "where the template lies, as ArtifactName::path/in/artifact",
        )?;
        Ok(Some(FileRef::Artifact(values::artifact_path(
            front,
            "TemplatePath",
            &path,
        )?)))
    };
    in_pipeline(front, stack, shared, &template, doc.output_file_name)
}

pub(crate) fn execution_input(mut doc: ExecutionInput) -> Result<Params, ParamsError> {
    let front = Front::ExecutionInput;
    let shared = doc.shared();
    let stack = stack_name(front, &shared)?;
    let build = match doc.build.take() {
        None | Some(Value::Null) => None,
        Some(value) => Some(build(front, value)?),
    };
    let url = doc.template_url.clone();
    let has_build = build.is_some();
    let template = || -> TemplateOf {
        match &url {
            Some(url) => Ok(Some(FileRef::S3(s3_file(front, "TemplateURL", url)?))),
            // The build exports the template's URL as TEMPLATE_URL.
            None if has_build => Ok(None),
            None => Err(ParamsError::MissingKey {
                front,
                key: "TemplateURL",
                hint:
                    "the template's S3 URL, s3://bucket/key (or s3://bucket/key.zip::path/in/zip)",
            }),
        }
    };
    let configuration = match shared.template_configuration.clone() {
        Some(url) if !url.trim().is_empty() => {
            Some(FileRef::S3(s3_file(front, "TemplateConfiguration", &url)?))
        }
        _ => None,
    };
    let mut params = self::shared(front, stack, shared, &template, configuration)?;
    if let Some((name, _)) = params
        .parameter_overrides
        .iter()
        .find(|(_, v)| !matches!(v, ParamValue::Literal(_)))
    {
        return Err(bad(
            front,
            "ParameterOverrides",
            format!("`{name}` uses a function that reads a pipeline artifact; a state machine has no artifacts, so give the value itself"),
        ));
    }
    params.build = build;
    params.poll_interval_seconds = values::number(
        front,
        "PollIntervalSeconds",
        doc.poll_interval_seconds,
        MIN_POLL_INTERVAL,
        MAX_POLL_INTERVAL,
    )?;
    Ok(params)
}

/// `s3://bucket/key`, an HTTPS S3 URL, or either with `::path/in/zip` after a zip object.
pub(crate) fn s3_file(front: Front, key: &str, url: &str) -> Result<S3File, ParamsError> {
    let (object, inner) = match url.split_once("::") {
        Some((object, inner)) if !inner.is_empty() => (object, Some(inner.to_owned())),
        Some(_) => return Err(bad(front, key, format!("`{url}` names no file after `::`"))),
        None => (url, None),
    };
    let location = Location::parse(object).map_err(|e| bad(front, key, e.to_string()))?;
    Ok(S3File { location, inner })
}

/// `Build`: `{"ProjectName": …, "EnvironmentVariables": {…}}`.
pub(crate) fn build(front: Front, value: Value) -> Result<Build, ParamsError> {
    let Value::Object(mut map) = value else {
        return Err(bad(
            front,
            "Build",
            format!(
                "must be an object with ProjectName and EnvironmentVariables, not {}",
                kind_of(&value)
            ),
        ));
    };
    let project_name = match map.remove("ProjectName") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        _ => {
            return Err(bad(
                front,
                "Build",
                "needs `ProjectName`, the CodeBuild project to run",
            ))
        }
    };
    let environment = values::text_map(front, "Build", map.remove("EnvironmentVariables"))?;
    if let Some(other) = map.keys().next() {
        return Err(bad(
            front,
            "Build",
            format!("has unknown key `{other}`; it takes ProjectName and EnvironmentVariables"),
        ));
    }
    Ok(Build {
        project_name,
        environment,
    })
}

/// The settings of a CodePipeline front, whose files lie in input artifacts and whose outputs
/// may go to a file in the output artifact.
fn in_pipeline(
    front: Front,
    stack: String,
    shared: Shared,
    template: &dyn Fn() -> TemplateOf,
    output: Option<String>,
) -> Result<Params, ParamsError> {
    let configuration = artifact_configuration(front, shared.template_configuration.clone())?;
    let mut params = self::shared(front, stack, shared, template, configuration)?;
    params.output_file_name = output_file_name(front, output)?;
    Ok(params)
}

fn artifact_configuration(
    front: Front,
    path: Option<String>,
) -> Result<Option<FileRef>, ParamsError> {
    match path.filter(|t| !t.trim().is_empty()) {
        None => Ok(None),
        Some(path) => Ok(Some(FileRef::Artifact(values::artifact_path(
            front,
            "TemplateConfiguration",
            &path,
        )?))),
    }
}

pub(crate) fn output_file_name(
    front: Front,
    name: Option<String>,
) -> Result<Option<String>, ParamsError> {
    let name = name.filter(|n| !n.trim().is_empty());
    if let Some(name) = &name {
        let plain = !name.contains(['/', '\\', '\0']) && name != "." && name != "..";
        if !plain {
            return Err(bad(
                front,
                "OutputFileName",
                format!("`{name}` must be a plain file name, such as outputs.json"),
            ));
        }
    }
    Ok(name)
}

/// A change set's id, as CHANGE_SET_REPLACE reports it: `arn:…:cloudformation:…:changeSet/…`.
fn change_set_id(front: Front, id: Option<String>) -> Result<Option<String>, ParamsError> {
    let Some(id) = id.map(|i| i.trim().to_owned()).filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    let arn =
        id.starts_with("arn:") && id.contains(":cloudformation:") && id.contains(":changeSet/");
    if !arn || id.len() > 1600 {
        return Err(bad(
            front,
            "ChangeSetId",
            format!("`{id}` is not a change set's id: pass the ChangeSetId output variable of the CHANGE_SET_REPLACE action, arn:aws:cloudformation:REGION:ACCOUNT:changeSet/NAME/ID"),
        ));
    }
    Ok(Some(id))
}

/// `Capabilities`: each one CloudFormation knows, sorted, once each.
pub(crate) fn capabilities(front: Front, value: Option<Value>) -> Result<Vec<String>, ParamsError> {
    let mut capabilities = values::string_list(front, "Capabilities", value)?;
    if let Some(unknown) = capabilities
        .iter()
        .find(|c| !CAPABILITIES.contains(&c.as_str()))
    {
        return Err(bad(
            front,
            "Capabilities",
            format!(
                "`{unknown}` is not a capability; use {}",
                CAPABILITIES.join(", ")
            ),
        ));
    }
    capabilities.sort();
    capabilities.dedup();
    Ok(capabilities)
}

/// The settings every front shares, validated; `template` is asked only when the action
/// deploys one.
pub(crate) fn shared(
    front: Front,
    stack: String,
    doc: Shared,
    template: &dyn Fn() -> TemplateOf,
    template_configuration: Option<FileRef>,
) -> Result<Params, ParamsError> {
    values::check_name(front, &stack, stack_key(front), "stack")?;
    let change_set = |name: Option<String>| -> Result<String, ParamsError> {
        let name = require(
            front,
            name,
            "ChangeSetName",
            "the change set's name, which the change-set modes need",
        )?;
        values::check_name(front, &name, "ChangeSetName", "change set")?;
        Ok(name)
    };
    let (action, template) = match doc.action_mode.as_deref().map(str::trim) {
        None | Some("CREATE_UPDATE") => (
            Action::Deploy {
                mode: Mode::CreateUpdate,
            },
            template()?,
        ),
        Some("REPLACE_ON_FAILURE") => (
            Action::Deploy {
                mode: Mode::ReplaceOnFailure,
            },
            template()?,
        ),
        // A delete needs no template.
        Some("DELETE_ONLY") => (Action::Delete, None),
        Some("CHANGE_SET_REPLACE") => (
            Action::ChangeSetReplace {
                change_set: change_set(doc.change_set_name.clone())?,
            },
            template()?,
        ),
        // Executing needs only the change set: its template was given when it was created.
        Some("CHANGE_SET_EXECUTE") => (
            Action::ChangeSetExecute {
                change_set: change_set(doc.change_set_name.clone())?,
                id: change_set_id(front, doc.change_set_id.clone())?,
            },
            None,
        ),
        Some(other) => {
            return Err(bad(
                front,
                "ActionMode",
                format!(
                    "`{other}` is not an action mode; use one of {}",
                    ACTION_MODES.join(", ")
                ),
            ))
        }
    };
    if doc.change_set_id.is_some() && !matches!(action, Action::ChangeSetExecute { .. }) {
        return Err(bad(
            front,
            "ChangeSetId",
            "names the change set to execute, so it goes only with ActionMode CHANGE_SET_EXECUTE",
        ));
    }
    let capabilities = capabilities(front, doc.capabilities.clone())?;
    let parameter_overrides = values::overrides(front, doc.parameter_overrides.clone())?;
    let tags = values::text_map(front, "Tags", doc.tags.clone())?;
    if tags.len() > MAX_TAGS {
        return Err(bad(
            front,
            "Tags",
            format!("{} tags, over CloudFormation's {MAX_TAGS}", tags.len()),
        ));
    }
    if let Some((k, _)) = tags
        .iter()
        .find(|(k, v)| k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256)
    {
        return Err(bad(
            front,
            "Tags",
            format!("tag `{k}`: keys are 1 to 128 characters, values at most 256"),
        ));
    }
    let role_arn = doc.role_arn.clone().filter(|r| !r.trim().is_empty());
    if let Some(arn) = &role_arn {
        let looks_right =
            arn.starts_with("arn:") && arn.contains(":iam::") && arn.contains(":role/");
        if !looks_right {
            return Err(bad(
                front,
                "RoleArn",
                format!("`{arn}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            ));
        }
    }
    let settings = crate::extended::settings(front, &doc)?;
    let target = crate::target::target(front, &doc)?;
    let reverts = matches!(
        action,
        Action::Deploy {
            mode: Mode::CreateUpdate
        } | Action::ChangeSetReplace { .. }
    );
    if settings.revert_drift && !reverts {
        return Err(bad(
            front,
            "DeploymentMode",
            format!("REVERT_DRIFT goes only with ActionMode CREATE_UPDATE or CHANGE_SET_REPLACE, which update a stack, not with {}", doc.action_mode.as_deref().map(str::trim).unwrap_or("CREATE_UPDATE")),
        ));
    }
    Ok(Params {
        front,
        stack,
        action,
        settings,
        template,
        capabilities,
        parameter_overrides,
        template_configuration,
        output_file_name: None,
        role_arn,
        tags,
        build: None,
        poll_interval_seconds: None,
        target,
    })
}

/// The key that names the stack in a front's messages.
fn stack_key(front: Front) -> &'static str {
    match front {
        Front::UserParameters => "stack",
        Front::Configuration | Front::ExecutionInput | Front::Manifest => "StackName",
    }
}
