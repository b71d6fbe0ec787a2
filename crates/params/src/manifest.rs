//! A stack group's manifest: its stacks, each with the settings of a one-stack deploy, their
//! dependencies and the outputs that feed their parameters. Read with the templates' bounded
//! reader and validated whole, before any call to AWS: keys, ids, names, references, cycles.

use std::collections::{BTreeMap, BTreeSet};

use cfn_deployer_engine::group::{
    Graph, OnStackFailure, DEFAULT_CONCURRENCY, MAX_CONCURRENCY, MAX_STACKS,
};
use cfn_deployer_engine::{document, Action, Mode};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::document::Shared;
use crate::values::check_file;
use crate::{validate, ArtifactPath, FileRef, Front, ParamValue, Params, S3File};

/// The longest stack id.
pub const MAX_ID: usize = 64;

/// Why a manifest cannot be used, in words that say what to change in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(rename = "MaxConcurrency")]
    max_concurrency: Option<String>,
    #[serde(rename = "OnStackFailure")]
    on_stack_failure: Option<String>,
    #[serde(rename = "DriftCheck")]
    drift_check: Option<String>,
    #[serde(rename = "AssumeRoleArn")]
    assume_role_arn: Option<String>,
    #[serde(rename = "Region")]
    region: Option<String>,
    #[serde(rename = "Stacks")]
    stacks: BTreeMap<String, StackDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StackDoc {
    #[serde(rename = "StackName")]
    stack_name: String,
    #[serde(rename = "TemplatePath")]
    template_path: String,
    #[serde(rename = "Parameters")]
    parameters: Option<BTreeMap<String, Value>>,
    #[serde(rename = "DependsOn")]
    depends_on: Option<Value>,
    #[serde(rename = "Capabilities")]
    capabilities: Option<Value>,
    #[serde(rename = "Tags")]
    tags: Option<Value>,
    #[serde(rename = "RoleArn")]
    role_arn: Option<String>,
    #[serde(rename = "TemplateConfiguration")]
    template_configuration: Option<String>,
    #[serde(rename = "TerminationProtection")]
    termination_protection: Option<Value>,
    #[serde(rename = "DriftCheck")]
    drift_check: Option<String>,
    #[serde(rename = "DeploymentMode")]
    deployment_mode: Option<String>,
    #[serde(rename = "AssumeRoleArn")]
    assume_role_arn: Option<String>,
    #[serde(rename = "Region")]
    region: Option<String>,
}

/// A parameter that reads another stack's output: `{Output: id.Key}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRef {
    /// The upstream stack, by index.
    pub stack: usize,
    /// Its output's key.
    pub key: String,
}

/// One stack of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its id in the manifest.
    pub id: String,
    /// Its settings as a one-stack deploy, literal parameters included.
    pub params: Params,
    /// Its parameters that read other stacks' outputs.
    pub outputs: BTreeMap<String, OutputRef>,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The stacks, by id in alphabetical order.
    pub stacks: Vec<Entry>,
    /// Who waits for whom.
    pub graph: Graph,
    /// How many stacks are under way at once.
    pub max_concurrency: usize,
    /// What a failed stack does to the rest.
    pub on_failure: OnStackFailure,
    /// A digest of the manifest's text, to bind a run's state to it.
    pub digest: String,
}

fn refuse(problem: impl Into<String>) -> ManifestError {
    ManifestError(problem.into())
}

/// Checks a stack id: a letter, then letters, digits and hyphens, [`MAX_ID`] at most.
fn check_id(id: &str) -> Result<(), ManifestError> {
    let ok = id.chars().count() <= MAX_ID
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(refuse(format!("stack id `{id}` is not valid: an id starts with a letter and holds only letters, digits and hyphens (no underscores, which output variables use to join an id to an output key), {MAX_ID} characters at most")))
    }
}

/// Where a manifest's `TemplatePath` or `TemplateConfiguration` lies: beside the manifest, or
/// in another input artifact (`Artifact::path`, CodePipeline fronts only).
fn place(home: &FileRef, id: &str, key: &str, path: &str) -> Result<FileRef, ManifestError> {
    let bad = |why: String| refuse(format!("stack `{id}`: `{key}` {why}"));
    let checked = |file: &str| {
        check_file(Front::Manifest, key, file).map_err(|_| {
            bad(format!(
                "`{path}` is not a plain relative path: remove `..` and leading `/`"
            ))
        })
    };
    match (path.split_once("::"), home) {
        (Some((artifact, file)), FileRef::Artifact(_)) if !artifact.is_empty() && !file.is_empty() => {
            checked(file)?;
            Ok(FileRef::Artifact(ArtifactPath { artifact: artifact.to_owned(), file: file.to_owned() }))
        }
        (Some(_), FileRef::Artifact(_)) => Err(bad(format!("`{path}` is not of the form `ArtifactName::path/in/artifact`"))),
        (Some(_), FileRef::S3(_)) => Err(bad(format!("`{path}` names an artifact, but a state machine has none: give a path inside the manifest's own zip"))),
        (None, FileRef::Artifact(a)) => {
            checked(path)?;
            Ok(FileRef::Artifact(ArtifactPath { artifact: a.artifact.clone(), file: path.to_owned() }))
        }
        (None, FileRef::S3(s3)) => {
            checked(path)?;
            Ok(FileRef::S3(S3File { location: s3.location.clone(), inner: Some(path.to_owned()) }))
        }
    }
}

/// `DependsOn`: one id or a list of them.
fn depends_on(id: &str, value: Option<Value>) -> Result<Vec<String>, ManifestError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(one)) => Ok(vec![one]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(refuse(format!(
                    "stack `{id}`: `DependsOn` lists stack ids, as text"
                ))),
            })
            .collect(),
        Some(_) => Err(refuse(format!(
            "stack `{id}`: `DependsOn` must be a stack id or a list of them"
        ))),
    }
}

impl Manifest {
    /// Reads and validates the manifest `text`, which lies at `home`, for `front`.
    pub fn parse(text: &str, home: &FileRef, front: Front) -> Result<Self, ManifestError> {
        let value = document::read(text).map_err(|e| refuse(format!("cannot be read: {e}")))?;
        let doc: Doc = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner().to_string();
            match path
                .strip_prefix("Stacks.")
                .and_then(|p| p.split('.').next())
            {
                Some(id) if !id.is_empty() => refuse(format!("stack `{id}`: {inner}")),
                _ if path == "." || path.is_empty() => refuse(inner),
                _ => refuse(format!("`{path}`: {inner}")),
            }
        })?;
        let max_concurrency = match doc.max_concurrency.as_deref().map(str::trim) {
            None => DEFAULT_CONCURRENCY,
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_CONCURRENCY).contains(n))
                .ok_or_else(|| refuse(format!("`MaxConcurrency` is `{n}`: it must be a whole number from 1 to {MAX_CONCURRENCY}")))?,
        };
        let on_failure = match doc.on_stack_failure.as_deref().map(str::trim) {
            None | Some("ROLLBACK_GROUP") => OnStackFailure::RollbackGroup,
            Some("STOP") => OnStackFailure::Stop,
            Some(other) => {
                return Err(refuse(format!(
                    "`OnStackFailure` is `{other}`: use ROLLBACK_GROUP (the default) or STOP"
                )))
            }
        };
        let drift_check = crate::extended::drift_check(Front::Manifest, doc.drift_check.as_deref())
            .map_err(|e| refuse(e.to_string()))?;
        let target = crate::target::target(
            Front::Manifest,
            &Shared {
                assume_role_arn: doc.assume_role_arn.clone(),
                region: doc.region.clone(),
                ..Shared::default()
            },
        )
        .map_err(|e| refuse(e.to_string()))?;
        if doc.stacks.is_empty() {
            return Err(refuse(
                "`Stacks` is empty: list the group's stacks under it",
            ));
        }
        if doc.stacks.len() > MAX_STACKS {
            return Err(refuse(format!(
                "`Stacks` holds {} stacks, over the group limit of {MAX_STACKS}: split the group",
                doc.stacks.len()
            )));
        }
        let ids: Vec<String> = doc.stacks.keys().cloned().collect();
        let index_of = |id: &str| ids.iter().position(|i| i == id);
        let mut names = BTreeMap::new();
        let mut stacks = Vec::new();
        let mut edges = Vec::new();
        for (id, stack) in doc.stacks {
            check_id(&id)?;
            if let Some(first) = names.insert(stack.stack_name.clone(), id.clone()) {
                return Err(refuse(format!("stacks `{first}` and `{id}` both name StackName `{}`: each stack of a group is a stack of its own", stack.stack_name)));
            }
            let mut on: BTreeSet<String> = depends_on(&id, stack.depends_on)?.into_iter().collect();
            let mut literal = BTreeMap::new();
            let mut outputs = BTreeMap::new();
            for (name, value) in stack.parameters.unwrap_or_default() {
                match output_ref(&id, &name, value)? {
                    Ok(text) => {
                        literal.insert(name, ParamValue::Literal(text));
                    }
                    Err((upstream, key)) => {
                        let stack_index = index_of(&upstream).ok_or_else(|| refuse(format!("stack `{id}`: parameter `{name}` reads an output of `{upstream}`, which is not a stack of the group")))?;
                        on.insert(upstream);
                        outputs.insert(
                            name,
                            OutputRef {
                                stack: stack_index,
                                key,
                            },
                        );
                    }
                }
            }
            let template = place(home, &id, "TemplatePath", &stack.template_path)?;
            let configuration = stack
                .template_configuration
                .filter(|t| !t.trim().is_empty())
                .map(|t| place(home, &id, "TemplateConfiguration", &t))
                .transpose()?;
            let shared = Shared {
                capabilities: stack.capabilities,
                tags: stack.tags,
                role_arn: stack.role_arn,
                termination_protection: stack.termination_protection,
                drift_check: stack.drift_check,
                deployment_mode: stack.deployment_mode,
                assume_role_arn: stack.assume_role_arn,
                region: stack.region,
                ..Shared::default()
            };
            let take = || Ok(Some(template.clone()));
            let mut params = validate::shared(
                Front::Manifest,
                stack.stack_name,
                shared,
                &take,
                configuration,
            )
            .map_err(|e| refuse(format!("stack `{id}`: {e}")))?;
            params.front = front;
            params.action = Action::Deploy {
                mode: Mode::CreateUpdate,
            };
            params.parameter_overrides = literal;
            // The manifest's DriftCheck is the default of the stacks that set none.
            params.settings.drift_check = params.settings.drift_check.or(drift_check);
            // And its AssumeRoleArn and Region, of the stacks that set none.
            params.target = params.target.or(&target);
            edges.push((id.clone(), on.into_iter().collect()));
            stacks.push(Entry {
                id,
                params,
                outputs,
            });
        }
        let graph = Graph::new(&edges).map_err(|e| refuse(e.to_string()))?;
        let digest = Sha256::digest(text.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            stacks,
            graph,
            max_concurrency,
            on_failure,
            digest,
        })
    }
}

/// A parameter's value: its text (`Ok`), or the stack id and output key it reads (`Err`).
#[allow(clippy::type_complexity)]
fn output_ref(
    id: &str,
    name: &str,
    value: Value,
) -> Result<Result<String, (String, String)>, ManifestError> {
    let bad = |why: &str| refuse(format!("stack `{id}`: parameter `{name}` {why}"));
    match value {
        Value::String(text) => Ok(Ok(text)),
        Value::Null => Ok(Ok(String::new())),
        Value::Object(map) => {
            let mut entries = map.into_iter();
            match (entries.next(), entries.next()) {
                (Some((key, Value::String(target))), None) if key == "Output" => match target.split_once('.') {
                    Some((stack, output)) if !stack.is_empty() && !output.is_empty() => {
                        Ok(Err((stack.to_owned(), output.to_owned())))
                    }
                    _ => Err(bad(&format!("reads `{{Output: {target}}}`: write the stack id and the output key as `{{Output: id.OutputKey}}`"))),
                },
                _ => Err(bad("must be a value, or `{Output: id.OutputKey}` to read another stack's output")),
            }
        }
        Value::Array(_) => Err(bad(
            "is a list: give one value (a comma-separated list is one text value)",
        )),
        other => Ok(Ok(other.to_string())),
    }
}
