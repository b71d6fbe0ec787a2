//! The drift calls answered by the proxy instead of moto: a detection started on a stack moto
//! has, its status (in progress at the first look, then over as the table says), and the
//! resources' drift. The stack, its resources and its template are read from moto, as the
//! caller (its access key and Region) would see them.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_cloudformation::types::{Stack, StackStatus, TemplateStage};
use aws_sdk_cloudformation::Client;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cfn_deployer_aws::AwsFault;

use super::expected::{Facts, Resource, ResourceDrift};
use super::request::{field, fields, Caller};
use super::{xml, DriftCheck, DriftTable, Verdict};
use crate::proxy::stats::Stats;
use crate::query::{lock, now};

/// The operations answered here.
pub(crate) const OPERATIONS: [&str; 3] = [
    "DetectStackDrift",
    "DescribeStackDriftDetectionStatus",
    "DescribeStackResourceDrifts",
];

/// What one detection found.
#[derive(Debug, Clone)]
enum Found {
    /// Every resource's drift, in sync or not.
    Drifts(Vec<ResourceDrift>),
    /// Detection fails, for this reason.
    Failed(String),
}

#[derive(Debug)]
struct Detection {
    stack_id: String,
    stack_name: String,
    started: String,
    /// Status calls answered so far: the first one finds it in progress.
    looks: u32,
    found: Found,
    /// Whether its end went to the stats already.
    recorded: bool,
}

#[derive(Debug, Default)]
struct State {
    detections: HashMap<String, Detection>,
    /// Each stack's resources' drift (by stack id), as its latest finished detection found
    /// them, with that detection's time.
    latest: HashMap<String, (Vec<ResourceDrift>, String)>,
}

/// The drift API, played from the table.
#[derive(Debug)]
pub(crate) struct Emulator {
    table: DriftTable,
    upstream: String,
    clients: Mutex<HashMap<Caller, Client>>,
    state: Mutex<State>,
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn answer(action: &str, result: &str) -> Response {
    let body = xml::response(action, result, &request_id());
    (StatusCode::OK, [("content-type", "text/xml")], body).into_response()
}

fn validation_error(message: &str) -> Response {
    let body = xml::sender_error("ValidationError", message, &request_id());
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "text/xml")],
        body,
    )
        .into_response()
}

fn internal_failure(message: &str) -> Response {
    let body = format!(
        "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        xml::escape(message),
        request_id()
    );
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [("content-type", "text/xml")],
        body,
    )
        .into_response()
}

/// CloudFormation's answer to a call without the `StackName` it requires.
const NO_STACK_NAME: &str = "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null";

impl Emulator {
    /// The drift API of the stacks at `upstream` (moto), drifted as `table` says.
    pub(crate) fn new(upstream: &str, table: DriftTable) -> Self {
        Self {
            table,
            upstream: upstream.trim_end_matches('/').to_owned(),
            clients: Mutex::default(),
            state: Mutex::default(),
        }
    }

    /// The answer to `operation`, one of [`OPERATIONS`], called with `form` by whoever signed
    /// `headers`. The upstream reads wait at `stats`' gate, as the watcher's do.
    pub(crate) async fn answer(
        &self,
        operation: &str,
        form: &[u8],
        headers: &HeaderMap,
        stats: &Stats,
    ) -> Response {
        let fields = fields(form);
        match operation {
            "DetectStackDrift" => self.detect(&fields, &Caller::of(headers), stats).await,
            "DescribeStackDriftDetectionStatus" => self.status(&fields, stats),
            _ => self.drifts(&fields, &Caller::of(headers), stats).await,
        }
    }

    fn client(&self, caller: &Caller) -> Client {
        lock(&self.clients)
            .entry(caller.clone())
            .or_insert_with(|| caller.client(&self.upstream))
            .clone()
    }

    /// The stack `name` (a name or an id) names, unless it does not exist (or is deleted, as
    /// CloudFormation no longer finds it by name).
    async fn stack(client: &Client, name: &str) -> Result<Option<Stack>, String> {
        match client.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out
                .stacks
                .and_then(|s| s.into_iter().next())
                .filter(|s| s.stack_status() != Some(&StackStatus::DeleteComplete))),
            Err(e) => {
                let fault = AwsFault::of(&e);
                match fault.code.as_deref() {
                    Some("ValidationError") if fault.message.contains("does not exist") => Ok(None),
                    _ => Err(fault.to_text()),
                }
            }
        }
    }

    /// The stack's resources and template, for what detection finds.
    async fn facts(client: &Client, stack: &Stack) -> Result<Facts, String> {
        let id = stack.stack_id().unwrap_or_default();
        let resources = client
            .describe_stack_resources()
            .stack_name(id)
            .send()
            .await
            .map_err(|e| format!("DescribeStackResources: {}", AwsFault::of(&e).to_text()))?;
        let template = client
            .get_template()
            .stack_name(id)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| format!("GetTemplate: {}", AwsFault::of(&e).to_text()))?;
        let body = template.template_body().unwrap_or_default();
        Ok(Facts {
            stack_id: id.to_owned(),
            stack_name: stack.stack_name().unwrap_or_default().to_owned(),
            parameters: stack
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_owned(),
                        p.resolved_value()
                            .or(p.parameter_value())
                            .unwrap_or_default()
                            .to_owned(),
                    ))
                })
                .collect(),
            resources: resources
                .stack_resources()
                .iter()
                .map(|r| Resource {
                    logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                    physical_id: r.physical_resource_id().map(str::to_owned),
                    resource_type: r.resource_type().unwrap_or_default().to_owned(),
                })
                .collect(),
            template: cfn_deployer_engine::document::read_template(body)
                .map_err(|e| format!("the stack's template cannot be read: {e}"))?,
        })
    }

    async fn detect(
        &self,
        fields: &[(String, String)],
        caller: &Caller,
        stats: &Stats,
    ) -> Response {
        let Some(name) = field(fields, "StackName") else {
            return validation_error(NO_STACK_NAME);
        };
        let client = self.client(caller);
        let (stack, found) = {
            // moto builds a stack's resources lazily: see `Stats::stack_reads`.
            let _reading = stats.stack_reads().await;
            let stack = match Self::stack(&client, name).await {
                Ok(Some(stack)) => stack,
                Ok(None) => {
                    return validation_error(&format!("Stack with id {name} does not exist"))
                }
                Err(e) => {
                    return internal_failure(&format!(
                        "the local proxy could not read stack {name} from moto: {e}"
                    ))
                }
            };
            let table = self.table.stack(stack.stack_name().unwrap_or_default());
            let found = match table.failed {
                Some(reason) => Found::Failed(reason),
                None => match Self::facts(&client, &stack).await {
                    Ok(facts) => facts
                        .drifts(&table)
                        .map_or_else(Found::Failed, Found::Drifts),
                    Err(e) => Found::Failed(format!(
                        "the local proxy could not read the stack from moto: {e}"
                    )),
                },
            };
            (stack, found)
        };
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.state).detections.insert(
            id.clone(),
            Detection {
                stack_id: stack.stack_id().unwrap_or_default().to_owned(),
                stack_name: stack.stack_name().unwrap_or_default().to_owned(),
                started: now(),
                looks: 0,
                found,
                recorded: false,
            },
        );
        answer("DetectStackDrift", &xml::detect_result(&id))
    }

    fn status(&self, fields: &[(String, String)], stats: &Stats) -> Response {
        let id = field(fields, "StackDriftDetectionId").unwrap_or_default();
        let mut state = lock(&self.state);
        let State { detections, latest } = &mut *state;
        let Some(detection) = detections.get_mut(id) else {
            return validation_error(&format!("Drift detection with id {id} does not exist"));
        };
        detection.looks = detection.looks.saturating_add(1);
        let drifted: Vec<(String, String)> = match &detection.found {
            Found::Drifts(drifts) => drifts
                .iter()
                .filter(|d| d.status != "IN_SYNC")
                .map(|d| (d.logical_id.clone(), d.status.to_owned()))
                .collect(),
            Found::Failed(_) => Vec::new(),
        };
        let (drift, detection_status, reason, count) = match (&detection.found, detection.looks) {
            // The first look finds it under way, as CloudFormation's takes a while.
            (_, 1) => ("NOT_CHECKED", "DETECTION_IN_PROGRESS", None, None),
            (Found::Failed(reason), _) => {
                ("UNKNOWN", "DETECTION_FAILED", Some(reason.as_str()), None)
            }
            (Found::Drifts(_), _) if drifted.is_empty() => {
                ("IN_SYNC", "DETECTION_COMPLETE", None, Some(0))
            }
            (Found::Drifts(_), _) => ("DRIFTED", "DETECTION_COMPLETE", None, Some(drifted.len())),
        };
        if detection.looks > 1 && !detection.recorded {
            detection.recorded = true;
            let verdict = match &detection.found {
                Found::Failed(reason) => Verdict::Failed(reason.clone()),
                Found::Drifts(drifts) => {
                    latest.insert(
                        detection.stack_id.clone(),
                        (drifts.clone(), detection.started.clone()),
                    );
                    match drifted.is_empty() {
                        true => Verdict::InSync,
                        false => Verdict::Drifted(drifted),
                    }
                }
            };
            stats.record_drift_check(DriftCheck {
                stack: detection.stack_name.clone(),
                verdict,
            });
        }
        let result = xml::status_result(&xml::Status {
            stack_id: &detection.stack_id,
            detection_id: id,
            stack_drift_status: drift,
            detection_status,
            reason,
            drifted: count,
            timestamp: &detection.started,
        });
        answer("DescribeStackDriftDetectionStatus", &result)
    }

    async fn drifts(
        &self,
        fields: &[(String, String)],
        caller: &Caller,
        stats: &Stats,
    ) -> Response {
        let Some(name) = field(fields, "StackName") else {
            return validation_error(NO_STACK_NAME);
        };
        let stack = {
            let _reading = stats.stack_reads().await;
            match Self::stack(&self.client(caller), name).await {
                Ok(Some(stack)) => stack,
                Ok(None) => {
                    return validation_error(&format!("Stack with id {name} does not exist"))
                }
                Err(e) => {
                    return internal_failure(&format!(
                        "the local proxy could not read stack {name} from moto: {e}"
                    ))
                }
            }
        };
        let filters: Vec<&str> = fields
            .iter()
            .filter(|(k, _)| k.starts_with("StackResourceDriftStatusFilters.member."))
            .map(|(_, v)| v.as_str())
            .collect();
        let page = field(fields, "MaxResults")
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(100)
            .clamp(1, 100);
        let Ok(start) = field(fields, "NextToken").map_or(Ok(0), str::parse::<usize>) else {
            return validation_error("Invalid NextToken");
        };
        let state = lock(&self.state);
        let (all, timestamp) = state
            .latest
            .get(stack.stack_id().unwrap_or_default())
            .map(|(d, t)| (d.as_slice(), t.as_str()))
            .unwrap_or((&[], ""));
        let chosen: Vec<&ResourceDrift> = all
            .iter()
            .filter(|d| filters.is_empty() || filters.contains(&d.status))
            .collect();
        let shown: Vec<&ResourceDrift> = chosen.iter().skip(start).take(page).copied().collect();
        let next = (start + page < chosen.len()).then(|| (start + page).to_string());
        let result = xml::drifts_result(&shown, timestamp, next.as_deref());
        answer("DescribeStackResourceDrifts", &result)
    }
}
