//! What an operation did to each instance (`ListStackSetOperationResults`): counted by status
//! for progress and success, and named, failed ones first, when the operation fails.

use std::collections::BTreeMap;

use tracing::warn;

use super::calls::{OperationRead, MAX_PAGES};
use super::{in_progress, SetOutcome, SetPlan, SetState};
use crate::error::DeployError;
use crate::outcome::{Failure, FailureKind, Remedy};
use crate::Deployer;

/// The most failed instances a failure names; the rest are counted.
pub const MAX_NAMED: usize = 10;

/// The longest reason kept for one instance: a failure names ten of them.
const MAX_REASON: usize = 300;

/// What an operation did in one account and Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstanceResult {
    /// The account.
    pub(crate) account: String,
    /// The Region.
    pub(crate) region: String,
    /// `SUCCEEDED`, `FAILED`, `RUNNING`, `PENDING`, `CANCELLED`.
    pub(crate) status: String,
    /// Why, when CloudFormation says.
    pub(crate) reason: Option<String>,
}

impl InstanceResult {
    fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED"
    }

    /// `111111111111 / us-east-1 FAILED: reason`.
    fn line(&self) -> String {
        let mut line = format!("{} / {} {}", self.account, self.region, self.status);
        if let Some(reason) = &self.reason {
            line.push_str(": ");
            line.push_str(reason);
        }
        line
    }
}

/// Where a status comes after `SUCCEEDED` in a count: the live ones, then the failed ones,
/// then any newer than this build, by name. A fixed order, so that a summary reads the same
/// from one step to the next.
fn rank(status: &str) -> usize {
    ["RUNNING", "PENDING", "FAILED", "CANCELLED"]
        .iter()
        .position(|s| *s == status)
        .unwrap_or(usize::MAX)
}

/// `12 of 14 instances SUCCEEDED, 2 RUNNING`; `None` without results.
pub(crate) fn counts(results: &[InstanceResult]) -> Option<String> {
    if results.is_empty() {
        return None;
    }
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        *by_status.entry(r.status.as_str()).or_default() += 1;
    }
    let succeeded = by_status.remove("SUCCEEDED").unwrap_or(0);
    let mut rest: Vec<(&str, usize)> = by_status.into_iter().collect();
    // Stable, over a map sorted by name: unknown statuses stay in name order.
    rest.sort_by_key(|(status, _)| rank(status));
    let mut text = format!(
        "{succeeded} of {} instance{} SUCCEEDED",
        results.len(),
        if results.len() == 1 { "" } else { "s" }
    );
    for (status, n) in rest {
        text.push_str(&format!(", {n} {status}"));
    }
    Some(text)
}

/// How far an operation is: the share of instances that succeeded, 0 to 100.
pub(crate) fn percent(results: &[InstanceResult]) -> Option<u8> {
    let done = results.iter().filter(|r| r.succeeded()).count();
    (!results.is_empty()).then(|| u8::try_from(done * 100 / results.len()).unwrap_or(100))
}

/// The instances that did not succeed, the first [`MAX_NAMED`], then how many more:
/// `A / R FAILED: reason; …; and 2 more`.
pub(crate) fn failed(results: &[InstanceResult]) -> String {
    let failed: Vec<&InstanceResult> = results.iter().filter(|r| !r.succeeded()).collect();
    let mut text: Vec<String> = failed.iter().take(MAX_NAMED).map(|r| r.line()).collect();
    if failed.len() > MAX_NAMED {
        text.push(format!("and {} more", failed.len() - MAX_NAMED));
    }
    text.join("; ")
}

/// Why an operation failed: `{Api} operation `{id}` on stack set `{name}` ended {STATUS}:
/// {reason}. {n} of {total} instances did not succeed: {failed}`.
pub(crate) fn failure_message(
    what: &str,
    status: &str,
    reason: Option<&str>,
    results: &[InstanceResult],
) -> String {
    let mut message = format!("{what} ended {status}");
    if let Some(reason) = reason {
        message.push_str(": ");
        message.push_str(reason.trim_end_matches('.'));
    }
    let failed_count = results.iter().filter(|r| !r.succeeded()).count();
    if failed_count == 0 {
        message.push_str(". No instance reported a failure");
    } else {
        message.push_str(&format!(
            ". {failed_count} of {} instance{} did not succeed: {}",
            results.len(),
            if results.len() == 1 { "" } else { "s" },
            failed(results)
        ));
    }
    message
}

impl Deployer {
    /// What operation `id` did, every page of it.
    pub(crate) async fn set_operation_results(
        &self,
        plan: &SetPlan,
        id: &str,
    ) -> Result<Vec<InstanceResult>, DeployError> {
        let mut results = Vec::new();
        let mut next = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .list_stack_set_operation_results()
                .stack_set_name(&plan.name)
                .operation_id(id)
                .call_as(plan.sdk_call_as())
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| DeployError::new("ListStackSetOperationResults", &plan.name, e))?;
            results.extend(out.summaries().iter().map(|s| {
                InstanceResult {
                    account: s.account().unwrap_or("?").to_owned(),
                    region: s.region().unwrap_or("?").to_owned(),
                    status: s
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    reason: s
                        .status_reason()
                        .filter(|r| !r.is_empty())
                        .map(|r| cfn_deployer_aws::truncate(r.to_owned(), MAX_REASON)),
                }
            }));
            next = out.next_token;
            if next.is_none() {
                break;
            }
        }
        Ok(results)
    }

    /// Where a running operation is.
    pub(super) async fn set_progress(
        &self,
        plan: &SetPlan,
        s: &SetState,
        id: &str,
        op: &OperationRead,
    ) -> Result<SetOutcome, DeployError> {
        let results = self.set_operation_results(plan, id).await?;
        let mut summary = format!(
            "{} operation `{id}` {} on stack set `{}`",
            s.phase.api(),
            op.status.as_str(),
            plan.name
        );
        if let Some(counted) = counts(&results) {
            summary.push_str(": ");
            summary.push_str(&counted);
        }
        Ok(in_progress(s, summary, percent(&results)))
    }

    /// The job failed with its operation: the failed instances named.
    pub(super) async fn set_failure(
        &self,
        plan: &SetPlan,
        s: &SetState,
        id: &str,
        op: &OperationRead,
        remedy: Remedy,
    ) -> Result<SetOutcome, DeployError> {
        let results = self.set_operation_results(plan, id).await?;
        let what = format!(
            "{} operation `{id}` on stack set `{}`",
            s.phase.api(),
            plan.name
        );
        warn!(stack_set = %plan.name, operation = %id, status = op.status.as_str(), "operation failed");
        Ok(SetOutcome::Failed(Failure {
            stack_id: Some(s.stack_set_id.clone()),
            kind: FailureKind::Deploy,
            message: failure_message(&what, op.status.as_str(), op.reason.as_deref(), &results),
            remedies: vec![remedy],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(account: &str, status: &str, reason: Option<&str>) -> InstanceResult {
        InstanceResult {
            account: account.into(),
            region: "us-east-1".into(),
            status: status.into(),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn counts_put_succeeded_first_then_a_fixed_order() {
        let mut results = vec![result("1", "SUCCEEDED", None); 12];
        results.push(result("2", "FAILED", Some("boom")));
        results.push(result("3", "NEWER", None));
        results.push(result("4", "RUNNING", None));
        results.push(result("5", "RUNNING", None));
        assert_eq!(
            counts(&results).as_deref(),
            Some("12 of 16 instances SUCCEEDED, 2 RUNNING, 1 FAILED, 1 NEWER")
        );
        assert_eq!(percent(&results), Some(75));
        assert_eq!(counts(&[]), None);
        assert_eq!(percent(&[]), None);
        assert_eq!(
            counts(&[result("1", "PENDING", None)]).as_deref(),
            Some("0 of 1 instance SUCCEEDED, 1 PENDING")
        );
    }

    #[test]
    fn a_failure_names_ten_failed_instances_then_counts_the_rest() {
        let mut results: Vec<InstanceResult> = (0..12)
            .map(|n| result(&format!("{n:012}"), "FAILED", Some("Role not found")))
            .collect();
        results.push(result("999999999999", "SUCCEEDED", None));
        results.push(result("888888888888", "CANCELLED", None));
        let message = failure_message(
            "CreateStackInstances operation `t-add` on stack set `base`",
            "FAILED",
            Some("The operation failed."),
            &results,
        );
        assert!(message.starts_with(
            "CreateStackInstances operation `t-add` on stack set `base` ended FAILED: The operation failed. 13 of 14 instances did not succeed: 000000000000 / us-east-1 FAILED: Role not found; "
        ), "{message}");
        assert!(
            message.ends_with("000000000009 / us-east-1 FAILED: Role not found; and 3 more"),
            "{message}"
        );
        assert!(!message.contains("000000000010"), "{message}");
        let quiet = failure_message("op", "STOPPED", None, &[]);
        assert_eq!(quiet, "op ended STOPPED. No instance reported a failure");
    }
}
