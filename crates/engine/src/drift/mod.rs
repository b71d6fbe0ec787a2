//! Drift before an existing stack changes: the check a deploy asks for ([`DriftCheck`]), the
//! detection followed across steps ([`Drift`]), what it found ([`DriftVerdict`]), the next move
//! for each detection status (a table), and the drifted resources in words.

mod detect;

use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackDriftStatus};
use serde::{Deserialize, Serialize};

pub(crate) use detect::DriftPoll;
pub use detect::{DriftedResource, PropertyDifference};

/// How a deploy treats a stack that no longer matches its template (`DriftCheck`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DriftCheck {
    /// No check (the default).
    #[default]
    Off,
    /// Check, and deploy anyway, saying what drifted.
    Warn,
    /// Check, and refuse to deploy over drift.
    Fail,
}

impl DriftCheck {
    /// As the setting spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// What a deploy reports of the stack's drift (the `DriftStatus` output variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DriftStatus {
    /// The stack matched its template.
    InSync,
    /// Some resources no longer matched.
    Drifted,
    /// No check was made: `DriftCheck` is `OFF`, or the stack is new.
    NotChecked,
    /// The detection failed.
    Unknown,
}

impl DriftStatus {
    /// As the output variable spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "IN_SYNC",
            Self::Drifted => "DRIFTED",
            Self::NotChecked => "NOT_CHECKED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// The longest detection failure reason kept in a verdict: it travels in continuation tokens.
const MAX_REASON: usize = 300;

/// What a drift check found. Small, with short names: it travels in continuation tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftVerdict {
    /// The stack's drift.
    #[serde(rename = "s")]
    pub status: DriftStatus,
    /// How many resources drifted.
    #[serde(rename = "n", default, skip_serializing_if = "is_zero")]
    pub drifted: u32,
    /// Why the detection failed, as CloudFormation said.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl DriftVerdict {
    fn new(status: DriftStatus, drifted: u32, reason: Option<&str>) -> Self {
        Self {
            status,
            drifted,
            reason: reason
                .filter(|r| !r.is_empty())
                .map(|r| cfn_deployer_aws::truncate(r.to_owned(), MAX_REASON)),
        }
    }

    /// What a deploy that went on says of it, after its summary; `None` when there is nothing
    /// to say (the stack was in sync).
    pub fn note(&self) -> Option<String> {
        match self.status {
            DriftStatus::Drifted => Some(format!(
                "{} resource(s) had drifted from the template before the deploy (DriftCheck WARN)",
                self.drifted
            )),
            DriftStatus::Unknown => Some(format!(
                "drift detection failed, so drift is unknown (DriftCheck WARN){}",
                self.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            DriftStatus::InSync | DriftStatus::NotChecked => None,
        }
    }
}

/// Where a stack's drift check stands, carried with the operation that follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// The detection under way (`DetectStackDrift`'s id); none before it started.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
    /// What the check found, once it ended.
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<DriftVerdict>,
}

/// The next move once a drift detection's status is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftStep {
    /// Still detecting: poll again.
    Detecting,
    /// Deploy, with this verdict.
    Go(DriftVerdict),
    /// Refuse to deploy, for this verdict.
    Refuse(DriftVerdict),
}

/// The next move for a detection in `detection`, the stack's drift `drift` (with `drifted`
/// resources, and CloudFormation's `reason`), under `check`.
pub fn on_detection(
    detection: &StackDriftDetectionStatus,
    drift: Option<&StackDriftStatus>,
    drifted: u32,
    reason: Option<&str>,
    check: DriftCheck,
) -> DriftStep {
    let verdict = |status| DriftVerdict::new(status, drifted, reason);
    let judged = |status| match check {
        // Only FAIL refuses; WARN (and OFF, which never detects) goes on.
        DriftCheck::Fail => DriftStep::Refuse(verdict(status)),
        DriftCheck::Warn | DriftCheck::Off => DriftStep::Go(verdict(status)),
    };
    match (detection, drift) {
        // CloudFormation is still comparing the resources.
        (StackDriftDetectionStatus::DetectionInProgress, _) => DriftStep::Detecting,
        // Every resource matches its template.
        (StackDriftDetectionStatus::DetectionComplete, Some(StackDriftStatus::InSync)) => {
            DriftStep::Go(verdict(DriftStatus::InSync))
        }
        // Some resources were changed or deleted outside CloudFormation.
        (StackDriftDetectionStatus::DetectionComplete, Some(StackDriftStatus::Drifted)) => {
            judged(DriftStatus::Drifted)
        }
        // Complete, but without a verdict (NOT_CHECKED, UNKNOWN, none, or newer than this
        // build): nothing says the stack is in sync.
        (StackDriftDetectionStatus::DetectionComplete, _) => judged(DriftStatus::Unknown),
        // The detection failed (CloudFormation says why), even when some resources were
        // checked: the stack's drift is not known.
        (StackDriftDetectionStatus::DetectionFailed, _) => judged(DriftStatus::Unknown),
        // A status newer than this build: as unknown as a failed detection.
        (_, _) => judged(DriftStatus::Unknown),
    }
}

/// The most drifted resources a refusal names; the rest are counted.
pub const MAX_NAMED: usize = 5;

/// The drifted resources in words: each with its type, status and property differences, the
/// first [`MAX_NAMED`], then how many more.
pub fn describe(resources: &[DriftedResource]) -> String {
    let mut text: Vec<String> = resources.iter().take(MAX_NAMED).map(|r| r.line()).collect();
    if resources.len() > MAX_NAMED {
        text.push(format!("and {} more", resources.len() - MAX_NAMED));
    }
    text.join("; ")
}

#[cfg(test)]
mod tests;
