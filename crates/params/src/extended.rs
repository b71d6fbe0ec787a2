//! The settings the built-in CloudFormation action never gained, read and checked: rollback
//! triggers, termination protection, failure policy, timeout, notifications, the drift check
//! and the deployment mode.

use cfn_deployer_engine::drift::DriftCheck;
use cfn_deployer_engine::{OnFailure, Rollback};

use crate::document::Shared;
use crate::values::{self, bad};
use crate::{Front, ParamsError, Settings};

/// The most rollback triggers CloudFormation takes.
const MAX_TRIGGERS: usize = 5;

/// The most notification topics CloudFormation takes.
const MAX_TOPICS: usize = 5;

/// Whether `arn` is an ARN of `service` naming a `kind` (`alarm`), or any resource of it.
fn is_arn(arn: &str, service: &str, kind: Option<&str>) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    parts.len() >= 6
        && parts[0] == "arn"
        && parts[2] == service
        && kind.is_none_or(|k| parts.get(5) == Some(&k) && parts.len() == 7)
}

/// `DriftCheck`: `OFF`, `WARN` or `FAIL`; `None` when not set.
pub(crate) fn drift_check(
    front: Front,
    value: Option<&str>,
) -> Result<Option<DriftCheck>, ParamsError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some("OFF") => Ok(Some(DriftCheck::Off)),
        Some("WARN") => Ok(Some(DriftCheck::Warn)),
        Some("FAIL") => Ok(Some(DriftCheck::Fail)),
        Some(other) => Err(bad(
            front,
            "DriftCheck",
            format!("`{other}` is not a drift check; use OFF (the default), WARN or FAIL"),
        )),
    }
}

/// `DeploymentMode`: `REVERT_DRIFT`, or none.
fn revert_drift(front: Front, value: Option<&str>) -> Result<bool, ParamsError> {
    match value.map(str::trim) {
        None | Some("") => Ok(false),
        Some("REVERT_DRIFT") => Ok(true),
        Some(other) => Err(bad(
            front,
            "DeploymentMode",
            format!("`{other}` is not a deployment mode; the one mode is REVERT_DRIFT, which also puts drifted resources back as the template has them"),
        )),
    }
}

/// The settings the built-in action never gained.
pub(crate) fn settings(front: Front, doc: &Shared) -> Result<Settings, ParamsError> {
    let triggers = values::string_list(front, "RollbackTriggers", doc.rollback_triggers.clone())?;
    if triggers.len() > MAX_TRIGGERS {
        return Err(bad(
            front,
            "RollbackTriggers",
            format!(
                "{} alarms, over CloudFormation's {MAX_TRIGGERS}",
                triggers.len()
            ),
        ));
    }
    if let Some(wrong) = triggers
        .iter()
        .find(|a| !is_arn(a, "cloudwatch", Some("alarm")))
    {
        return Err(bad(front, "RollbackTriggers", format!("`{wrong}` is not a CloudWatch alarm ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)")));
    }
    let monitoring = values::number(
        front,
        "MonitoringTimeInMinutes",
        doc.monitoring_time_in_minutes.clone(),
        0,
        180,
    )?;
    if monitoring.is_some() && triggers.is_empty() {
        return Err(bad(
            front,
            "MonitoringTimeInMinutes",
            "watches the rollback triggers after the operation: set RollbackTriggers too",
        ));
    }
    let rollback = (!triggers.is_empty()).then(|| Rollback {
        triggers,
        monitoring_minutes: monitoring.unwrap_or(0),
    });
    let on_failure = match doc.on_failure.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("ROLLBACK") => Some(OnFailure::Rollback),
        Some("DELETE") => Some(OnFailure::Delete),
        Some("DO_NOTHING") => Some(OnFailure::DoNothing),
        Some(other) => {
            return Err(bad(
                front,
                "OnFailure",
                format!("`{other}` is not a failure policy; use ROLLBACK, DELETE or DO_NOTHING"),
            ))
        }
    };
    let notification_arns =
        values::string_list(front, "NotificationARNs", doc.notification_arns.clone())?;
    if notification_arns.len() > MAX_TOPICS {
        return Err(bad(
            front,
            "NotificationARNs",
            format!(
                "{} topics, over CloudFormation's {MAX_TOPICS}",
                notification_arns.len()
            ),
        ));
    }
    if let Some(wrong) = notification_arns.iter().find(|a| !is_arn(a, "sns", None)) {
        return Err(bad(
            front,
            "NotificationARNs",
            format!("`{wrong}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)"),
        ));
    }
    Ok(Settings {
        rollback,
        termination_protection: values::boolean(
            front,
            "TerminationProtection",
            doc.termination_protection.clone(),
        )?,
        on_failure,
        disable_rollback: values::boolean(front, "DisableRollback", doc.disable_rollback.clone())?
            .unwrap_or(false),
        timeout_minutes: values::number(
            front,
            "TimeoutInMinutes",
            doc.timeout_in_minutes.clone(),
            1,
            43_200,
        )?,
        notification_arns,
        drift_check: drift_check(front, doc.drift_check.as_deref())?,
        revert_drift: revert_drift(front, doc.deployment_mode.as_deref())?,
    })
}
