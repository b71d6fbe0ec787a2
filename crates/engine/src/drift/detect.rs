//! The drift calls: a detection started (`DetectStackDrift`), followed across steps
//! (`DescribeStackDriftDetectionStatus`), and the drifted resources read
//! (`DescribeStackResourceDrifts`). Throttling, which CloudFormation applies to drift detection
//! in particular, is waited out: the step hands back where it was and the next one tries again.

use aws_sdk_cloudformation::types::{
    StackDriftDetectionStatus, StackResourceDrift, StackResourceDriftStatus,
};
use serde::Serialize;
use tracing::info;

use super::{describe, on_detection, Drift, DriftCheck, DriftStatus, DriftStep, DriftVerdict};
use crate::error::{is_throttling, DeployError};
use crate::flight::{InFlight, Operation};
use crate::outcome::{Failure, Outcome, Remedy};
use crate::plan::Plan;
use crate::Deployer;

/// A drifted resource, as the refusal and the review name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DriftedResource {
    /// Its logical id.
    pub logical_resource_id: String,
    /// Its type.
    pub resource_type: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    /// What differs, property by property (none for a deleted resource).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<PropertyDifference>,
}

/// One property that differs from the template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PropertyDifference {
    /// The property's path, e.g. `/TopicName`.
    pub path: String,
    /// The value the template gives.
    pub expected: String,
    /// The value the resource has.
    pub actual: String,
    /// `NOT_EQUAL`, `ADD` or `REMOVE`.
    pub kind: String,
}

/// The longest value a difference shows: drifted values can be whole policies.
const MAX_VALUE: usize = 120;

impl DriftedResource {
    fn of(drift: &StackResourceDrift) -> Self {
        let value =
            |v: Option<&str>| cfn_deployer_aws::truncate(v.unwrap_or("").to_owned(), MAX_VALUE);
        Self {
            logical_resource_id: drift.logical_resource_id().unwrap_or("?").to_owned(),
            resource_type: drift.resource_type().unwrap_or("?").to_owned(),
            status: drift
                .stack_resource_drift_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            differences: drift
                .property_differences()
                .iter()
                .map(|d| PropertyDifference {
                    path: d.property_path().unwrap_or("?").to_owned(),
                    expected: value(d.expected_value()),
                    actual: value(d.actual_value()),
                    kind: d
                        .difference_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// `` `Topic` (AWS::SNS::Topic) MODIFIED: /TopicName expected `a`, actual `b` ``.
    pub fn line(&self) -> String {
        let mut line = format!(
            "`{}` ({}) {}",
            self.logical_resource_id, self.resource_type, self.status
        );
        let differences: Vec<String> = self
            .differences
            .iter()
            .map(|d| {
                format!(
                    "{} expected `{}`, actual `{}`",
                    d.path, d.expected, d.actual
                )
            })
            .collect();
        if !differences.is_empty() {
            line.push_str(": ");
            line.push_str(&differences.join(", "));
        }
        line
    }
}

/// Where following a drift detection got to.
pub(crate) enum DriftPoll {
    /// Still detecting, waiting out throttling, or refused: this is the step's outcome.
    Step(Box<Outcome>),
    /// Over: the deploy goes on with this verdict.
    Done(DriftVerdict),
}

fn detecting(plan: &Plan, flight: InFlight, summary: String) -> Outcome {
    info!(stack = %plan.stack_name, "drift check under way");
    Outcome::in_progress(flight, summary)
}

impl Deployer {
    /// Before an existing stack changes: the drift check the plan asks for, started, or `None`
    /// when there is none to make (`OFF`, or made in an earlier step).
    pub(crate) async fn drift_first(
        &self,
        plan: &Plan,
        stack_id: &str,
    ) -> Result<Option<Outcome>, DeployError> {
        if plan.drift_check == DriftCheck::Off || plan.drift_seen.is_some() {
            return Ok(None);
        }
        let flight = InFlight::new(plan, stack_id, Operation::Drift);
        self.detect(plan, flight).await.map(Some)
    }

    /// Starts a detection, to be followed with [`Deployer::poll_drift`].
    async fn detect(&self, plan: &Plan, mut flight: InFlight) -> Result<Outcome, DeployError> {
        let sent = self
            .cfn
            .detect_stack_drift()
            .stack_name(&flight.stack_id)
            .send()
            .await
            .map_err(|e| DeployError::new("DetectStackDrift", &plan.stack_name, e));
        let id = match sent {
            Ok(out) => out.stack_drift_detection_id,
            Err(e) if is_throttling(&e) => {
                return Ok(detecting(
                    plan,
                    flight,
                    "DetectStackDrift throttled by CloudFormation: starting the drift check again in the next step".into(),
                ))
            }
            Err(e) => return Err(e),
        };
        info!(stack = %plan.stack_name, detection = ?id, check = plan.drift_check.as_str(), "drift detection started");
        flight.drift = Some(Drift {
            detection: id,
            verdict: None,
        });
        Ok(detecting(
            plan,
            flight,
            format!(
                "DETECTION_IN_PROGRESS: checking stack `{}` for drift (DriftCheck {})",
                plan.stack_name,
                plan.drift_check.as_str()
            ),
        ))
    }

    /// Follows a drift detection one step.
    pub(crate) async fn poll_drift(
        &self,
        plan: &Plan,
        flight: &InFlight,
    ) -> Result<DriftPoll, DeployError> {
        let Some(id) = flight.drift.as_ref().and_then(|d| d.detection.clone()) else {
            return Ok(DriftPoll::Step(Box::new(
                self.detect(plan, flight.clone()).await?,
            )));
        };
        let throttled = |call: &str| {
            DriftPoll::Step(Box::new(detecting(
                plan,
                flight.clone(),
                format!(
                    "{call} throttled by CloudFormation: checking for drift again in the next step"
                ),
            )))
        };
        let out = match self
            .cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| DeployError::new("DescribeStackDriftDetectionStatus", &plan.stack_name, e))
        {
            Ok(out) => out,
            Err(e) if is_throttling(&e) => {
                return Ok(throttled("DescribeStackDriftDetectionStatus"))
            }
            Err(e) => return Err(e),
        };
        let status = out
            .detection_status()
            .cloned()
            .unwrap_or_else(|| StackDriftDetectionStatus::from("UNKNOWN"));
        let drifted = out
            .drifted_stack_resource_count()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        let step = on_detection(
            &status,
            out.stack_drift_status(),
            drifted,
            out.detection_status_reason(),
            plan.drift_check,
        );
        let verdict = match step {
            DriftStep::Detecting => {
                return Ok(DriftPoll::Step(Box::new(detecting(
                    plan,
                    flight.clone(),
                    format!(
                        "DETECTION_IN_PROGRESS: checking stack `{}` for drift (DriftCheck {})",
                        plan.stack_name,
                        plan.drift_check.as_str()
                    ),
                ))))
            }
            DriftStep::Go(verdict) => {
                info!(stack = %plan.stack_name, drift = verdict.status.as_str(), drifted = verdict.drifted, "drift check over: deploying");
                return Ok(DriftPoll::Done(verdict));
            }
            DriftStep::Refuse(verdict) => verdict,
        };
        info!(stack = %plan.stack_name, drift = verdict.status.as_str(), drifted = verdict.drifted, "drift check over: refusing to deploy");
        let message = if verdict.status == DriftStatus::Drifted {
            let resources = match self.resource_drifts(&flight.stack_id).await {
                Ok(resources) => resources,
                Err(e) if is_throttling(&e) => return Ok(throttled("DescribeStackResourceDrifts")),
                Err(e) => return Err(e),
            };
            format!(
                "Stack `{}` has drifted from its template: {} resource(s) were changed outside CloudFormation: {}. DriftCheck is FAIL, so nothing was deployed",
                plan.stack_name,
                verdict.drifted.max(u32::try_from(resources.len()).unwrap_or(u32::MAX)),
                describe(&resources)
            )
        } else {
            format!(
                "Drift detection on stack `{}` did not complete ({}){}. DriftCheck is FAIL, so nothing was deployed",
                plan.stack_name,
                status.as_str(),
                verdict
                    .reason
                    .as_deref()
                    .map(|r| format!(": CloudFormation says: {r}"))
                    .unwrap_or_default()
            )
        };
        let remedies: &[Remedy] = if verdict.status == DriftStatus::Drifted {
            &[Remedy::FixDrift, Remedy::WarnOnDrift, Remedy::RevertDrift]
        } else {
            &[Remedy::DeployAgain, Remedy::WarnOnDrift]
        };
        Ok(DriftPoll::Step(Box::new(Outcome::Failed(
            Failure::deploy(Some(flight.stack_id.clone()), message).with(remedies),
        ))))
    }

    /// The stack's modified and deleted resources, as its latest detection found them.
    pub(crate) async fn resource_drifts(
        &self,
        stack_id: &str,
    ) -> Result<Vec<DriftedResource>, DeployError> {
        /// Pages read at most (100 resources each): enough to name and count them.
        const MAX_PAGES: usize = 5;
        let mut found = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .describe_stack_resource_drifts()
                .stack_name(stack_id)
                .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
                .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| DeployError::new("DescribeStackResourceDrifts", stack_id, e))?;
            found.extend(out.stack_resource_drifts().iter().map(DriftedResource::of));
            match out.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        Ok(found)
    }
}
