//! A request for a stack group: `StackGroup` (or, in a state machine's input,
//! `StackGroupURL`) names the manifest; the group's own settings are few, since each stack's
//! are in the manifest.

use cfn_deployer_engine::drift::DriftCheck;
use serde_json::Value;

use crate::document::{Configuration, ExecutionInput, Shared, UserParameters};
use crate::validate::{self, MAX_POLL_INTERVAL, MIN_POLL_INTERVAL};
use crate::values::{self, bad};
use crate::{Build, FileRef, Front, Params, ParamsError, Target};

/// What a job or an execution asks for: one stack, or a group of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// One stack.
    Stack(Box<Params>),
    /// A stack group, described by a manifest.
    Group(GroupRequest),
    /// A stack set, fanned out to accounts and Regions.
    StackSet(Box<crate::stackset::StackSetRequest>),
}

/// A stack group's request, validated; its manifest is read when the deploy runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRequest {
    /// Which front it came from.
    pub front: Front,
    /// Where the manifest lies.
    pub manifest: FileRef,
    /// `ActionMode: DELETE_ONLY`: delete the group's stacks instead of deploying them.
    pub delete: bool,
    /// A file name: every stack's result and outputs, as JSON, go to it in the first output
    /// artifact.
    pub output_file_name: Option<String>,
    /// A build to run first (Step Functions only).
    pub build: Option<Build>,
    /// Seconds between polls (Step Functions only).
    pub poll_interval_seconds: Option<u32>,
    /// `DriftCheck` beside the manifest: the default of the stacks for which neither the
    /// manifest nor the stack sets one.
    pub drift_check: Option<DriftCheck>,
    /// `AssumeRoleArn` and `Region` beside the manifest: the defaults of the stacks for which
    /// neither the manifest nor the stack sets them.
    pub target: Target,
}

impl GroupRequest {
    /// The key that names the manifest, in its front's words.
    pub fn key(&self) -> &'static str {
        key(self.front)
    }
}

fn key(front: Front) -> &'static str {
    match front {
        Front::ExecutionInput => "StackGroupURL",
        _ => "StackGroup",
    }
}

/// Refuses every one-stack key beside the group's: the manifest sets them per stack.
fn alone(front: Front, shared: &Shared, more: &[(&'static str, bool)]) -> Result<(), ParamsError> {
    let keys = shared
        .one_stack_keys()
        .into_iter()
        .chain(more.iter().filter(|(_, on)| *on).map(|(k, _)| *k));
    match keys.into_iter().next() {
        None => Ok(()),
        Some(other) => Err(bad(
            front,
            key(front),
            format!("`{}` and `{other}` cannot be used together: a stack group names its stacks and their settings in its manifest, so remove `{other}` or set it per stack there", key(front)),
        )),
    }
}

/// `ActionMode`, as a group takes it: whether the group is deleted.
fn delete(front: Front, shared: &Shared) -> Result<bool, ParamsError> {
    match shared.action_mode.as_deref().map(str::trim) {
        None | Some("CREATE_UPDATE") => Ok(false),
        Some("DELETE_ONLY") => Ok(true),
        Some(other) => Err(bad(
            front,
            "ActionMode",
            format!("`{other}` is not an action mode for a stack group; a group takes CREATE_UPDATE (the default) or DELETE_ONLY"),
        )),
    }
}

fn in_pipeline(
    front: Front,
    path: &str,
    shared: &Shared,
    output: Option<String>,
) -> Result<GroupRequest, ParamsError> {
    let manifest = FileRef::Artifact(values::artifact_path(front, key(front), path)?);
    Ok(GroupRequest {
        front,
        manifest,
        delete: delete(front, shared)?,
        output_file_name: validate::output_file_name(front, output)?,
        build: None,
        poll_interval_seconds: None,
        drift_check: crate::extended::drift_check(front, shared.drift_check.as_deref())?,
        target: crate::target::target(front, shared)?,
    })
}

pub(crate) fn user_parameters(
    mut doc: UserParameters,
    path: &str,
) -> Result<GroupRequest, ParamsError> {
    let front = Front::UserParameters;
    let shared = doc.shared();
    alone(
        front,
        &shared,
        &[
            ("TemplatePath", doc.template_path.is_some()),
            ("stack", doc.stack.is_some()),
            ("artifact", doc.artifact.is_some()),
            ("file", doc.file.is_some()),
        ],
    )?;
    in_pipeline(front, path, &shared, doc.output_file_name)
}

pub(crate) fn configuration(
    mut doc: Configuration,
    path: &str,
) -> Result<GroupRequest, ParamsError> {
    let front = Front::Configuration;
    let shared = doc.shared();
    alone(
        front,
        &shared,
        &[("TemplatePath", doc.template_path.is_some())],
    )?;
    in_pipeline(front, path, &shared, doc.output_file_name)
}

pub(crate) fn execution_input(
    mut doc: ExecutionInput,
    url: &str,
) -> Result<GroupRequest, ParamsError> {
    let front = Front::ExecutionInput;
    let shared = doc.shared();
    alone(
        front,
        &shared,
        &[("TemplateURL", doc.template_url.is_some())],
    )?;
    let file = validate::s3_file(front, key(front), url)?;
    if file.inner.is_none() {
        return Err(bad(
            front,
            key(front),
            format!("`{url}` names no manifest inside the zip: write s3://bucket/key.zip::group.yaml, with the stacks' templates in the same zip"),
        ));
    }
    let build = match doc.build.take() {
        None | Some(Value::Null) => None,
        Some(value) => Some(validate::build(front, value)?),
    };
    Ok(GroupRequest {
        front,
        manifest: FileRef::S3(file),
        delete: delete(front, &shared)?,
        output_file_name: None,
        build,
        poll_interval_seconds: values::number(
            front,
            "PollIntervalSeconds",
            doc.poll_interval_seconds,
            MIN_POLL_INTERVAL,
            MAX_POLL_INTERVAL,
        )?,
        drift_check: crate::extended::drift_check(front, shared.drift_check.as_deref())?,
        target: crate::target::target(front, &shared)?,
    })
}
