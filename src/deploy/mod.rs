//! The deploy engine: creates or updates one CloudFormation stack and follows the operation to
//! its end. It knows nothing of Lambda or CodePipeline.

pub mod change_set;
pub mod events;
pub mod status;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::future::BoxFuture;

use aws_sdk_cloudformation::types::{Capability, Parameter, Stack, StackEvent, StackStatus, Tag};
use aws_sdk_cloudformation::Client;
use serde::{Deserialize, Serialize};
use tracing::info;

use self::status::{PollStep, StartStep};
use crate::aws::AwsFault;

/// A template, passed inline or, when larger than CloudFormation takes inline, by S3 URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// The text itself (at most 51,200 bytes).
    Body(String),
    /// An S3 URL CloudFormation reads it from (at most 1 MB).
    Url(String),
}

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

/// How many resources a template declares (JSON or YAML, CloudFormation's short-form tags
/// included); `None` when it cannot be read, in which case progress is reported without counts.
pub fn resource_count(template: &str) -> Option<u32> {
    let docs = yaml_rust2::YamlLoader::load_from_str(template).ok()?;
    match &docs.first()?["Resources"] {
        yaml_rust2::Yaml::Hash(resources) => u32::try_from(resources.len()).ok(),
        _ => None,
    }
}

/// Cause lines of failed nested stacks, by nested stack id.
type NestedCauses = HashMap<String, Vec<String>>;

/// What to deploy where.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// The stack's name.
    pub stack_name: String,
    /// The template.
    pub template: Template,
    /// Idempotency token: the same token for every delivery of the same deploy, so that
    /// CloudFormation starts one operation however often the request is sent.
    pub client_request_token: String,
    /// Template parameter values. On update, parameters the stack has and the template still
    /// declares, but that are not named here, keep their previous value.
    pub parameters: BTreeMap<String, String>,
    /// Capabilities acknowledged (`CAPABILITY_IAM`, …).
    pub capabilities: Vec<String>,
    /// The service role CloudFormation acts with.
    pub role_arn: Option<String>,
    /// The stack's tags.
    pub tags: BTreeMap<String, String>,
    /// The stack policy (JSON), if any.
    pub stack_policy: Option<String>,
    /// How many resources the template declares (see [`resource_count`]), for progress.
    pub resources: Option<u32>,
    /// What to do with a stack that never worked.
    pub mode: Mode,
}

impl DeployRequest {
    pub(crate) fn capabilities(&self) -> Option<Vec<Capability>> {
        (!self.capabilities.is_empty()).then(|| {
            self.capabilities
                .iter()
                .map(|c| Capability::from(c.as_str()))
                .collect()
        })
    }

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

/// The kind of operation a deploy is following.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A stack create this deployer started.
    Create,
    /// A stack update this deployer started.
    Update,
    /// Someone else's operation, which must end before the deploy can start.
    Wait,
    /// A stack delete this deployer started (`DELETE_ONLY`).
    Delete,
    /// The delete of a failed stack, to create it again once it is gone (`REPLACE_ON_FAILURE`).
    Replace,
    /// A change set being created, for review (`CHANGE_SET_REPLACE`).
    ChangeSet,
}

/// How a deploy treats a stack that cannot be updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Create or update; a stack that never worked is an error (`CREATE_UPDATE`).
    #[default]
    CreateUpdate,
    /// Create or update; a stack that never worked is deleted and created again.
    ReplaceOnFailure,
}

/// An operation under way, with all a later invocation needs to follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// The stack's name.
    pub stack_name: String,
    /// The stack's id (ARN); polls use it so a deleted stack is still found.
    pub stack_id: String,
    /// What is being followed.
    pub operation: Operation,
    /// The idempotency token the operation was started with.
    pub client_request_token: String,
    /// When the deploy started, in seconds since the Unix epoch.
    pub started: i64,
    /// The change set followed, for [`Operation::ChangeSet`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set: Option<String>,
    /// How many resources the template declares, to report progress against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<u32>,
}

/// Where a deploy stands after one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The stack is deployed (or needed no change, or is deleted).
    Succeeded {
        /// The stack's id.
        stack_id: String,
        /// One line for the pipeline's console.
        summary: String,
        /// The stack's outputs (none for a deleted stack).
        outputs: BTreeMap<String, String>,
    },
    /// An operation is under way; poll it again later.
    InProgress {
        /// What to poll.
        flight: InFlight,
        /// One line on the latest progress.
        summary: String,
        /// How far the operation is, from 0 to 100, when known.
        percent: Option<u8>,
    },
    /// The deploy failed; the message says why and what to do.
    Failed {
        /// The stack's id, when there is a stack.
        stack_id: Option<String>,
        /// The reasons, taken from the stack's events where there are any.
        message: String,
    },
}

/// A CloudFormation call that failed.
#[derive(Debug, thiserror::Error)]
#[error("CloudFormation {operation} on stack `{stack}` failed: {}", self.fault_text())]
pub struct DeployError {
    /// The API operation, e.g. `UpdateStack`.
    pub operation: &'static str,
    /// The stack's name or id.
    pub stack: String,
    /// The AWS error code, when the service answered.
    pub code: Option<String>,
    /// The AWS message, or the transport error.
    pub message: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl DeployError {
    fn new<E>(operation: &'static str, stack: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let AwsFault { code, message } = AwsFault::of(&err);
        Self {
            operation,
            stack: stack.to_owned(),
            code,
            message,
            source: Box::new(err),
        }
    }

    fn fault_text(&self) -> String {
        AwsFault {
            code: self.code.clone(),
            message: self.message.clone(),
        }
        .to_text()
    }

    /// Whether AWS refused the call for lack of permission.
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("AccessDenied" | "AccessDeniedException")
        ) || self.message.contains("not authorized to perform")
    }

    /// Whether the request itself must change: the template needs a capability not given.
    pub fn is_configuration(&self) -> bool {
        self.code.as_deref() == Some("InsufficientCapabilitiesException")
    }

    /// Whether CloudFormation refused the request itself (a bad template, say).
    pub fn is_validation(&self) -> bool {
        self.code.as_deref() == Some("ValidationError")
    }
}

/// CloudFormation reports a missing stack only as a `ValidationError` whose text says
/// "Stack with id NAME does not exist"; there is no dedicated error code.
fn is_missing_stack(err: &DeployError) -> bool {
    err.is_validation() && err.message.contains("does not exist")
}

/// CloudFormation refuses an update that changes nothing with a `ValidationError` whose text is
/// exactly "No updates are to be performed."; it is the only signal of a no-op update.
fn is_no_updates(err: &DeployError) -> bool {
    err.is_validation() && err.message.contains("No updates are to be performed")
}

/// A concurrent operation won the race: CreateStack says the stack exists, or UpdateStack says
/// the stack "is in X state and can not be updated".
fn lost_race(err: &DeployError) -> bool {
    err.code.as_deref() == Some("AlreadyExistsException")
        || (err.is_validation() && err.message.contains("state and can not be updated"))
}

/// The seconds since the Unix epoch, now.
pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Creates and updates stacks with one CloudFormation client.
#[derive(Debug, Clone)]
pub struct Deployer {
    cfn: Client,
}

impl Deployer {
    /// Wraps a CloudFormation client.
    pub fn new(cfn: Client) -> Self {
        Self { cfn }
    }

    /// Describes a stack by name or id; `None` when it does not exist.
    pub async fn describe(&self, stack: &str) -> Result<Option<Stack>, DeployError> {
        match self.cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out) => Ok(out.stacks.unwrap_or_default().into_iter().next()),
            Err(e) => {
                let err = DeployError::new("DescribeStacks", stack, e);
                if is_missing_stack(&err) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Starts the deploy: one DescribeStacks decides between create, update, waiting and refusing.
    pub async fn start(&self, req: &DeployRequest) -> Result<Outcome, DeployError> {
        // A second round covers a concurrent delivery that started the same deploy between our
        // DescribeStacks and our Create/UpdateStack.
        for round in 0..2 {
            let stack = self.describe(&req.stack_name).await?;
            let step = match &stack {
                None => StartStep::Create,
                Some(s) => status::on_start(&stack_status(s)),
            };
            info!(stack = %req.stack_name, status = %status_text(stack.as_ref()), ?step, "deciding how to deploy");
            let attempt = match (step, &stack) {
                // This invocation lost a race, most likely to another delivery of the same job:
                // start nothing more; follow that operation if it is ours, else wait.
                (StartStep::Create | StartStep::Update, Some(s)) if round > 0 => {
                    return self.wait_or_adopt(req, s).await
                }
                (StartStep::Create, _) => self.create(req).await,
                (StartStep::Update, Some(existing)) => self.update(req, existing).await,
                // Only an existing stack is updated; without one there is nothing but to create.
                (StartStep::Update, None) => self.create(req).await,
                (StartStep::Wait, Some(busy)) => return self.wait_or_adopt(req, busy).await,
                // Only an existing stack can be busy; without one there is nothing to wait for.
                (StartStep::Wait, None) => self.create(req).await,
                (StartStep::Blocked(_), Some(failed))
                    if req.mode == Mode::ReplaceOnFailure
                        && status::replaceable(&stack_status(failed)) =>
                {
                    let id = failed.stack_id().unwrap_or(&req.stack_name);
                    return self
                        .delete_stack(
                            &req.stack_name,
                            id,
                            &req.client_request_token,
                            req.role_arn.as_deref(),
                            Operation::Replace,
                        )
                        .await;
                }
                (StartStep::Blocked(remedy), _) => {
                    return Ok(Outcome::Failed {
                        stack_id: stack.as_ref().and_then(|s| s.stack_id().map(str::to_owned)),
                        message: format!(
                            "Stack `{}` is {}: {remedy}.",
                            req.stack_name,
                            status_text(stack.as_ref())
                        ),
                    });
                }
            };
            match attempt {
                Err(e) if lost_race(&e) => continue,
                other => return other,
            }
        }
        Ok(Outcome::Failed {
            stack_id: None,
            message: format!(
                "Stack `{}` kept changing while the deploy tried to start: another deploy is racing this one; run the pipeline again",
                req.stack_name
            ),
        })
    }

    async fn create(&self, req: &DeployRequest) -> Result<Outcome, DeployError> {
        let out = self
            .cfn
            .create_stack()
            .stack_name(&req.stack_name)
            .set_template_body(req.template.body())
            .set_template_url(req.template.url())
            .client_request_token(&req.client_request_token)
            .set_parameters(Some(req.overrides()).filter(|p| !p.is_empty()))
            .set_capabilities(req.capabilities())
            .set_role_arn(req.role_arn.clone())
            .set_tags(req.tags())
            .set_stack_policy_body(req.stack_policy.clone())
            .send()
            .await
            .map_err(|e| DeployError::new("CreateStack", &req.stack_name, e))?;
        let stack_id = out.stack_id.unwrap_or_else(|| req.stack_name.clone());
        info!(stack = %req.stack_name, %stack_id, "stack create started");
        Ok(Outcome::InProgress {
            percent: None,
            flight: self.flight(req, stack_id, Operation::Create),
            summary: "CREATE_IN_PROGRESS: stack create started".into(),
        })
    }

    /// The parameters for an update: the overrides, and `UsePreviousValue` for the stack's
    /// other parameters that the new template still declares. GetTemplateSummary is asked only
    /// when there are such parameters.
    pub(crate) async fn update_parameters(
        &self,
        req: &DeployRequest,
        stack: &Stack,
    ) -> Result<Vec<Parameter>, DeployError> {
        let mut parameters = req.overrides();
        let kept: Vec<&str> = stack
            .parameters()
            .iter()
            .filter_map(|p| p.parameter_key())
            .filter(|k| !req.parameters.contains_key(*k))
            .collect();
        if kept.is_empty() {
            return Ok(parameters);
        }
        let summary = self
            .cfn
            .get_template_summary()
            .set_template_body(req.template.body())
            .set_template_url(req.template.url())
            .send()
            .await
            .map_err(|e| DeployError::new("GetTemplateSummary", &req.stack_name, e))?;
        let declared: HashSet<&str> = summary
            .parameters()
            .iter()
            .filter_map(|d| d.parameter_key())
            .collect();
        parameters.extend(kept.into_iter().filter(|k| declared.contains(k)).map(|k| {
            Parameter::builder()
                .parameter_key(k)
                .use_previous_value(true)
                .build()
        }));
        Ok(parameters)
    }

    async fn update(&self, req: &DeployRequest, stack: &Stack) -> Result<Outcome, DeployError> {
        let stack_id = stack.stack_id().unwrap_or(&req.stack_name);
        let parameters = self.update_parameters(req, stack).await?;
        let sent = self
            .cfn
            .update_stack()
            .stack_name(&req.stack_name)
            .set_template_body(req.template.body())
            .set_template_url(req.template.url())
            .client_request_token(&req.client_request_token)
            .set_parameters((!parameters.is_empty()).then_some(parameters))
            .set_capabilities(req.capabilities())
            .set_role_arn(req.role_arn.clone())
            .set_tags(req.tags())
            .set_stack_policy_body(req.stack_policy.clone())
            .send()
            .await
            .map_err(|e| DeployError::new("UpdateStack", &req.stack_name, e));
        match sent {
            Ok(out) => {
                let stack_id = out.stack_id.unwrap_or_else(|| stack_id.to_owned());
                info!(stack = %req.stack_name, %stack_id, "stack update started");
                Ok(Outcome::InProgress {
                    percent: None,
                    flight: self.flight(req, stack_id, Operation::Update),
                    summary: "UPDATE_IN_PROGRESS: stack update started".into(),
                })
            }
            Err(e) if is_no_updates(&e) => {
                info!(stack = %req.stack_name, "template and parameters unchanged: nothing to update");
                Ok(Outcome::Succeeded {
                    stack_id: stack_id.to_owned(),
                    summary: format!(
                        "Stack `{}` is up to date: no changes to deploy",
                        req.stack_name
                    ),
                    outputs: outputs(stack),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The stack is busy. If the running operation carries this deploy's token, a previous
    /// delivery of the same job started it: follow it instead of waiting for it.
    async fn wait_or_adopt(
        &self,
        req: &DeployRequest,
        stack: &Stack,
    ) -> Result<Outcome, DeployError> {
        let stack_id = stack.stack_id().unwrap_or(&req.stack_name).to_owned();
        let status = stack_status(stack);
        let newest = self.newest_event(&stack_id).await?;
        let ours = newest
            .as_ref()
            .and_then(|e| e.client_request_token())
            .is_some_and(|t| t == req.client_request_token);
        let (operation, summary) = if ours {
            let op = if status == StackStatus::CreateInProgress {
                Operation::Create
            } else {
                Operation::Update
            };
            info!(stack = %req.stack_name, %stack_id, ?op, "following the operation an earlier delivery of this deploy started");
            (
                op,
                format!(
                    "{}: following the operation already started for this job",
                    status.as_str()
                ),
            )
        } else {
            info!(stack = %req.stack_name, %stack_id, status = status.as_str(), "stack busy: waiting for its operation to end");
            (
                Operation::Wait,
                format!(
                    "{}: waiting for the stack's current operation to end before deploying",
                    status.as_str()
                ),
            )
        };
        Ok(Outcome::InProgress {
            percent: None,
            flight: self.flight(req, stack_id, operation),
            summary,
        })
    }

    fn flight(&self, req: &DeployRequest, stack_id: String, operation: Operation) -> InFlight {
        InFlight {
            resources: req.resources,
            stack_name: req.stack_name.clone(),
            stack_id,
            operation,
            client_request_token: req.client_request_token.clone(),
            started: now_epoch(),
            change_set: None,
        }
    }

    /// Deletes a stack (`DELETE_ONLY`): an absent stack is already deleted; a busy one is waited
    /// for first.
    pub async fn delete(
        &self,
        stack_name: &str,
        client_request_token: &str,
        role_arn: Option<&str>,
    ) -> Result<Outcome, DeployError> {
        let Some(stack) = self.describe(stack_name).await? else {
            info!(stack = %stack_name, "no such stack: nothing to delete");
            return Ok(Outcome::Succeeded {
                stack_id: stack_name.to_owned(),
                summary: format!("Stack `{stack_name}` does not exist: nothing to delete"),
                outputs: BTreeMap::new(),
            });
        };
        let stack_id = stack.stack_id().unwrap_or(stack_name).to_owned();
        let status = stack_status(&stack);
        let flight = |operation| InFlight {
            stack_name: stack_name.to_owned(),
            stack_id: stack_id.clone(),
            operation,
            client_request_token: client_request_token.to_owned(),
            started: now_epoch(),
            change_set: None,
            resources: None,
        };
        if status == StackStatus::DeleteInProgress {
            return Ok(Outcome::InProgress {
                percent: None,
                flight: flight(Operation::Delete),
                summary: "DELETE_IN_PROGRESS: following the delete under way".into(),
            });
        }
        if status::on_start(&status) == StartStep::Wait {
            return Ok(Outcome::InProgress {
                percent: None,
                flight: flight(Operation::Wait),
                summary: format!(
                    "{}: waiting for the stack's current operation to end before deleting it",
                    status.as_str()
                ),
            });
        }
        self.delete_stack(
            stack_name,
            &stack_id,
            client_request_token,
            role_arn,
            Operation::Delete,
        )
        .await
    }

    async fn delete_stack(
        &self,
        stack_name: &str,
        stack_id: &str,
        client_request_token: &str,
        role_arn: Option<&str>,
        operation: Operation,
    ) -> Result<Outcome, DeployError> {
        // A token of its own: a replace creates the stack afterwards with the job's token.
        let mut token = format!("{client_request_token}-delete");
        token.truncate(128);
        self.cfn
            .delete_stack()
            .stack_name(stack_id)
            .client_request_token(&token)
            .set_role_arn(role_arn.map(str::to_owned))
            .send()
            .await
            .map_err(|e| DeployError::new("DeleteStack", stack_name, e))?;
        info!(stack = %stack_name, %stack_id, ?operation, "stack delete started");
        Ok(Outcome::InProgress {
            percent: None,
            flight: InFlight {
                stack_name: stack_name.to_owned(),
                stack_id: stack_id.to_owned(),
                operation,
                client_request_token: client_request_token.to_owned(),
                started: now_epoch(),
                change_set: None,
                resources: None,
            },
            summary: match operation {
                Operation::Replace => {
                    "DELETE_IN_PROGRESS: deleting the failed stack, to create it again".into()
                }
                _ => "DELETE_IN_PROGRESS: stack delete started".into(),
            },
        })
    }

    /// Follows a delete one step: `Some` while it runs or when it failed, `None` once the stack
    /// is gone.
    pub async fn poll_delete(&self, flight: &InFlight) -> Result<Option<Outcome>, DeployError> {
        let Some(stack) = self.describe(&flight.stack_id).await? else {
            return Ok(None);
        };
        let status = stack_status(&stack);
        Ok(
            match status::on_delete_poll(&status, now_epoch() - flight.started) {
                PollStep::Succeeded => None,
                PollStep::InProgress => Some(Outcome::InProgress {
                    percent: None,
                    flight: flight.clone(),
                    summary: format!(
                        "{}: deleting stack `{}`",
                        status.as_str(),
                        flight.stack_name
                    ),
                }),
                PollStep::Failed => Some(Outcome::Failed {
                    stack_id: Some(flight.stack_id.clone()),
                    message: self.explain_failure(flight, status.as_str()).await?,
                }),
            },
        )
    }

    /// Follows someone else's operation one step: `Some` while the stack is still busy, `None`
    /// once it is free (or gone) and the deploy can start.
    pub async fn wait(&self, flight: &InFlight) -> Result<Option<Outcome>, DeployError> {
        let Some(stack) = self.describe(&flight.stack_id).await? else {
            return Ok(None);
        };
        let status = stack_status(&stack);
        Ok(match status::on_start(&status) {
            StartStep::Wait => Some(Outcome::InProgress {
                percent: None,
                flight: flight.clone(),
                summary: format!(
                    "{}: waiting for the stack's current operation to end before deploying",
                    status.as_str()
                ),
            }),
            _ => None,
        })
    }

    /// Follows a create or update this deployer started: done, still going, or failed.
    pub async fn poll(&self, flight: &InFlight) -> Result<Outcome, DeployError> {
        let Some(stack) = self.describe(&flight.stack_id).await? else {
            return Ok(Outcome::Failed {
                stack_id: Some(flight.stack_id.clone()),
                message: format!(
                    "Stack `{}` disappeared while the deploy was under way: someone deleted it; run the pipeline again",
                    flight.stack_name
                ),
            });
        };
        let status = stack_status(&stack);
        match status::on_poll(&status) {
            PollStep::Succeeded => {
                info!(stack = %flight.stack_name, status = status.as_str(), "operation complete");
                Ok(Outcome::Succeeded {
                    stack_id: flight.stack_id.clone(),
                    summary: format!("Stack `{}` is {}", flight.stack_name, status.as_str()),
                    outputs: outputs(&stack),
                })
            }
            PollStep::InProgress => {
                let latest = self.newest_event(&flight.stack_id).await?;
                let mut summary = status.as_str().to_owned();
                let progress = match flight.resources {
                    Some(expected) => Some(self.progress(&flight.stack_id, expected).await?),
                    None => None,
                };
                if let Some((done, total)) = progress {
                    summary.push_str(&format!(": {done} of {total} resources done"));
                }
                if let Some(e) = latest {
                    summary.push_str("; latest event ");
                    summary.push_str(&events::describe_event(&e));
                }
                info!(stack = %flight.stack_name, status = status.as_str(), "operation in progress");
                Ok(Outcome::InProgress {
                    percent: progress
                        .and_then(|(done, total)| u8::try_from(done * 100 / total.max(1)).ok()),
                    flight: flight.clone(),
                    summary,
                })
            }
            PollStep::Failed => {
                let message = self.explain_failure(flight, status.as_str()).await?;
                info!(stack = %flight.stack_name, status = status.as_str(), "operation failed");
                Ok(Outcome::Failed {
                    stack_id: Some(flight.stack_id.clone()),
                    message,
                })
            }
        }
    }

    /// Explains a failed operation from the stack's events and those of its failed nested
    /// stacks.
    async fn explain_failure(
        &self,
        flight: &InFlight,
        status: &str,
    ) -> Result<String, DeployError> {
        let events = self.operation_events(flight).await?;
        let nested = self.nested_causes(flight, &events, 1).await?;
        Ok(events::explain(
            &flight.stack_name,
            status,
            &events,
            &nested,
        ))
    }

    /// The cause lines of the failed nested stacks among `events`, read from their own events,
    /// down to [`MAX_NESTING`] levels.
    fn nested_causes<'a>(
        &'a self,
        flight: &'a InFlight,
        events: &'a [StackEvent],
        depth: usize,
    ) -> BoxFuture<'a, Result<NestedCauses, DeployError>> {
        /// How deep nested stacks are followed.
        const MAX_NESTING: usize = 3;
        Box::pin(async move {
            let mut found = HashMap::new();
            if depth > MAX_NESTING {
                return Ok(found);
            }
            for (_, id) in events::failed_nested_stacks(&flight.stack_name, events) {
                // The nested stack's name is the ARN's middle part: stack/NAME/uuid.
                let name = id.split('/').nth(1).unwrap_or(&id).to_owned();
                let inner = InFlight {
                    stack_name: name.clone(),
                    stack_id: id.clone(),
                    ..flight.clone()
                };
                let inner_events = self.operation_events(&inner).await?;
                let deeper = self.nested_causes(&inner, &inner_events, depth + 1).await?;
                let failures = events::failures(&name, &inner_events, &deeper);
                found.insert(id, failures.causes);
            }
            Ok(found)
        })
    }

    /// Resources settled (in a `*_COMPLETE` state) out of those the template declares or the
    /// stack lists, whichever is more.
    async fn progress(&self, stack_id: &str, expected: u32) -> Result<(u32, u32), DeployError> {
        /// Pages read at most (100 resources each).
        const MAX_PAGES: usize = 5;
        let (mut done, mut listed) = (0u32, 0u32);
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .list_stack_resources()
                .stack_name(stack_id)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| DeployError::new("ListStackResources", stack_id, e))?;
            for resource in out.stack_resource_summaries() {
                listed += 1;
                if resource
                    .resource_status()
                    .is_some_and(|s| s.as_str().ends_with("_COMPLETE"))
                {
                    done += 1;
                }
            }
            match out.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        let total = expected.max(listed);
        Ok((done.min(total), total))
    }

    async fn newest_event(&self, stack_id: &str) -> Result<Option<StackEvent>, DeployError> {
        let out = self
            .cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| DeployError::new("DescribeStackEvents", stack_id, e))?;
        Ok(out.stack_events.unwrap_or_default().into_iter().next())
    }

    /// The events of the operation being followed, newest first, up to the event that opened it.
    async fn operation_events(&self, flight: &InFlight) -> Result<Vec<StackEvent>, DeployError> {
        /// Pages read at most; an operation on a huge stack is explained from its latest events.
        const MAX_PAGES: usize = 10;
        /// Clocks differ; events this much older than the deploy's start still count.
        const SKEW_SECS: i64 = 300;
        let mut collected = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .describe_stack_events()
                .stack_name(&flight.stack_id)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| DeployError::new("DescribeStackEvents", &flight.stack_id, e))?;
            for event in out.stack_events.unwrap_or_default() {
                let too_old = event
                    .timestamp()
                    .is_some_and(|t| t.secs() < flight.started - SKEW_SECS);
                if too_old {
                    return Ok(collected);
                }
                let opens = events::opens_operation(&event, &flight.stack_name);
                collected.push(event);
                if opens {
                    return Ok(collected);
                }
            }
            match out.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        Ok(collected)
    }
}

/// A stack's outputs, by key.
fn outputs(stack: &Stack) -> BTreeMap<String, String> {
    stack
        .outputs()
        .iter()
        .filter_map(|o| {
            Some((
                o.output_key()?.to_owned(),
                o.output_value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn stack_status(stack: &Stack) -> StackStatus {
    stack
        .stack_status()
        .cloned()
        .unwrap_or_else(|| StackStatus::from("UNKNOWN"))
}

fn status_text(stack: Option<&Stack>) -> String {
    stack
        .map(|s| stack_status(s).as_str().to_owned())
        .unwrap_or_else(|| "absent".into())
}
