//! The drift the local proxy plays: CloudFormation's drift-detection API (`DetectStackDrift`,
//! `DescribeStackDriftDetectionStatus`, `DescribeStackResourceDrifts`), which moto lacks,
//! answered from a table of made-up drift that `--drift` fills. This module owns the table and
//! the records the view reads; [`emulator`] answers the calls.

pub(crate) mod emulator;
mod expected;
mod request;
mod xml;

use std::fmt;
use std::str::FromStr;

/// One entry of the drift table, as `--drift` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftSpec {
    /// `STACK:LogicalId:PropertyPath=actual`: the resource's property has another value.
    Modified {
        /// The stack's name.
        stack: String,
        /// The resource's logical id.
        logical_id: String,
        /// The property's path within the resource's properties, as CloudFormation's
        /// `PropertyPath` gives it: `/TopicName`, `/RedrivePolicy/maxReceiveCount`.
        path: String,
        /// The value the resource has now.
        actual: String,
    },
    /// `STACK:LogicalId:DELETED`: the resource was deleted outside CloudFormation.
    Deleted {
        /// The stack's name.
        stack: String,
        /// The resource's logical id.
        logical_id: String,
    },
    /// `STACK:FAILED=reason`: detection on the stack fails, CloudFormation saying `reason`.
    Failed {
        /// The stack's name.
        stack: String,
        /// The `DetectionStatusReason`.
        reason: String,
    },
}

/// A `--drift` value that is none of the forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}`: a drift is STACK:LOGICAL_ID:PROPERTY_PATH=ACTUAL (a property changed, e.g. app:Topic:/Properties/TopicName=renamed), STACK:LOGICAL_ID:DELETED (the resource deleted), or STACK:FAILED=REASON (the detection fails)")]
pub struct DriftSpecError(String);

impl DriftSpec {
    /// The stack it is about.
    pub fn stack(&self) -> &str {
        match self {
            Self::Modified { stack, .. }
            | Self::Deleted { stack, .. }
            | Self::Failed { stack, .. } => stack,
        }
    }
}

/// Whether `s` can be a logical id: CloudFormation's are alphanumeric.
fn logical_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `/Properties/TopicName`, `Properties/TopicName`, `/TopicName` and `TopicName` all name the
/// same property; CloudFormation's `PropertyPath` is the path within the resource's properties
/// (`/TopicName`), so that is the form kept.
fn property_path(path: &str) -> Option<String> {
    let path = path.trim_start_matches('/');
    let path = path.strip_prefix("Properties/").unwrap_or(path);
    (!path.is_empty() && path != "Properties" && !path.split('/').any(str::is_empty))
        .then(|| format!("/{path}"))
}

impl FromStr for DriftSpec {
    type Err = DriftSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || DriftSpecError(s.to_owned());
        // Stack names and logical ids hold no `:`; the value after `=` may.
        let (stack, rest) = s.split_once(':').ok_or_else(usage)?;
        let stack_ok = stack.starts_with(|c: char| c.is_ascii_alphabetic())
            && stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !stack_ok {
            return Err(usage());
        }
        let stack = stack.to_owned();
        if let Some(reason) = rest.strip_prefix("FAILED=") {
            if reason.is_empty() {
                return Err(usage());
            }
            let reason = reason.to_owned();
            return Ok(Self::Failed { stack, reason });
        }
        let (id, what) = rest.split_once(':').ok_or_else(usage)?;
        if !logical_id(id) {
            return Err(usage());
        }
        let logical_id = id.to_owned();
        if what == "DELETED" {
            return Ok(Self::Deleted { stack, logical_id });
        }
        let (path, actual) = what.split_once('=').ok_or_else(usage)?;
        Ok(Self::Modified {
            stack,
            logical_id,
            path: property_path(path).ok_or_else(usage)?,
            actual: actual.to_owned(),
        })
    }
}

/// What the table says of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Changed {
    /// Its properties at these paths have these values.
    Modified(Vec<(String, String)>),
    /// It is gone.
    Deleted,
}

/// What the table says of one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StackDrift {
    /// Detection fails, for this reason.
    pub(crate) failed: Option<String>,
    /// The drifted resources, in the table's order.
    pub(crate) resources: Vec<(String, Changed)>,
}

/// The drift table: what detection finds, stack by stack. Stacks it does not name are in sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftTable(Vec<DriftSpec>);

impl DriftTable {
    /// The table of these entries.
    pub fn new(specs: Vec<DriftSpec>) -> Self {
        Self(specs)
    }

    /// What it says of `stack` (a name): several entries for a resource make several property
    /// differences; a deletion outweighs them.
    pub(crate) fn stack(&self, stack: &str) -> StackDrift {
        let mut drift = StackDrift::default();
        for spec in self.0.iter().filter(|s| s.stack() == stack) {
            let (id, change) = match spec {
                DriftSpec::Failed { reason, .. } => {
                    drift.failed = Some(reason.clone());
                    continue;
                }
                DriftSpec::Deleted { logical_id, .. } => (logical_id, Changed::Deleted),
                DriftSpec::Modified {
                    logical_id,
                    path,
                    actual,
                    ..
                } => (
                    logical_id,
                    Changed::Modified(vec![(path.clone(), actual.clone())]),
                ),
            };
            match drift.resources.iter_mut().find(|(i, _)| i == id) {
                None => drift.resources.push((id.clone(), change)),
                Some((_, Changed::Deleted)) => {}
                Some((_, held)) => match (held, change) {
                    (Changed::Modified(paths), Changed::Modified(more)) => {
                        for (path, actual) in more {
                            match paths.iter_mut().find(|(p, _)| *p == path) {
                                Some(p) => p.1 = actual,
                                None => paths.push((path, actual)),
                            }
                        }
                    }
                    (held, change) => *held = change,
                },
            }
        }
        drift
    }
}

/// How one detection ended, for the live view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No resource drifted.
    InSync,
    /// These resources drifted: each logical id with `MODIFIED` or `DELETED`.
    Drifted(Vec<(String, String)>),
    /// Detection failed, for this reason.
    Failed(String),
}

impl fmt::Display for Verdict {
    /// `IN_SYNC`, `DRIFTED: 2 resources (Topic MODIFIED, Queue DELETED)`, or
    /// `DETECTION_FAILED: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InSync => f.write_str("IN_SYNC"),
            Self::Drifted(resources) => {
                let each: Vec<String> = resources
                    .iter()
                    .map(|(id, status)| format!("{id} {status}"))
                    .collect();
                let noun = if resources.len() == 1 {
                    "resource"
                } else {
                    "resources"
                };
                write!(
                    f,
                    "DRIFTED: {} {noun} ({})",
                    resources.len(),
                    each.join(", ")
                )
            }
            Self::Failed(reason) => write!(f, "DETECTION_FAILED: {reason}"),
        }
    }
}

/// A drift detection that ended: the stack's name and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftCheck {
    /// The stack's name.
    pub stack: String,
    /// What detection found.
    pub verdict: Verdict,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<DriftSpec, DriftSpecError> {
        s.parse()
    }

    #[test]
    fn the_three_forms_parse_and_both_paths_name_the_same_property() {
        let modified = DriftSpec::Modified {
            stack: "app-api".into(),
            logical_id: "Topic".into(),
            path: "/TopicName".into(),
            actual: "renamed:by=hand".into(),
        };
        for form in [
            "app-api:Topic:/Properties/TopicName=renamed:by=hand",
            "app-api:Topic:/TopicName=renamed:by=hand",
            "app-api:Topic:TopicName=renamed:by=hand",
        ] {
            assert_eq!(spec(form), Ok(modified.clone()), "{form}");
        }
        assert_eq!(
            spec("app:Queue:/Properties/RedrivePolicy/maxReceiveCount="),
            Ok(DriftSpec::Modified {
                stack: "app".into(),
                logical_id: "Queue".into(),
                path: "/RedrivePolicy/maxReceiveCount".into(),
                actual: String::new(),
            })
        );
        assert_eq!(
            spec("app:Queue:DELETED"),
            Ok(DriftSpec::Deleted {
                stack: "app".into(),
                logical_id: "Queue".into()
            })
        );
        assert_eq!(
            spec("app:FAILED=Access denied: ssm:GetParameter"),
            Ok(DriftSpec::Failed {
                stack: "app".into(),
                reason: "Access denied: ssm:GetParameter".into()
            })
        );
    }

    #[test]
    fn other_forms_are_refused_with_the_usage() {
        for bad in [
            "",
            "app",
            "app:",
            ":Topic:DELETED",
            "1app:Topic:DELETED",
            "app_x:Topic:DELETED",
            "app:Topic",
            "app:Topic:",
            "app:Topic:/TopicName",
            "app:Topic:=x",
            "app:Topic:/Properties=x",
            "app:Topic:/Properties/=x",
            "app:Topic:/A//B=x",
            "app:To-pic:DELETED",
            "app:FAILED=",
            "app:Topic:deleted",
        ] {
            let err = spec(bad).expect_err(bad);
            let text = err.to_string();
            assert!(
                text.starts_with(&format!(
                    "`{bad}`: a drift is STACK:LOGICAL_ID:PROPERTY_PATH=ACTUAL"
                )),
                "{text}"
            );
            assert!(text.contains("STACK:LOGICAL_ID:DELETED"), "{text}");
            assert!(text.contains("STACK:FAILED=REASON"), "{text}");
        }
    }

    #[test]
    fn a_stack_gathers_its_entries_and_a_deletion_outweighs_changes() {
        let table = DriftTable::new(
            [
                "app:Topic:/TopicName=a",
                "app:Topic:/DisplayName=b",
                "app:Topic:/TopicName=c",
                "other:Topic:DELETED",
                "app:Queue:/DelaySeconds=5",
                "app:Queue:DELETED",
                "app:Queue:/DelaySeconds=6",
            ]
            .iter()
            .map(|s| s.parse().expect("spec"))
            .collect(),
        );
        let app = table.stack("app");
        assert_eq!(app.failed, None);
        assert_eq!(
            app.resources,
            vec![
                (
                    "Topic".to_owned(),
                    Changed::Modified(vec![
                        ("/TopicName".into(), "c".into()),
                        ("/DisplayName".into(), "b".into())
                    ])
                ),
                ("Queue".to_owned(), Changed::Deleted),
            ]
        );
        assert_eq!(table.stack("nothing"), StackDrift::default());
        let failed = DriftTable::new(vec![spec("app:FAILED=no").expect("spec")]);
        assert_eq!(failed.stack("app").failed.as_deref(), Some("no"));
    }

    #[test]
    fn verdicts_read_as_the_view_prints_them() {
        assert_eq!(Verdict::InSync.to_string(), "IN_SYNC");
        let two = Verdict::Drifted(vec![
            ("Topic".into(), "MODIFIED".into()),
            ("Queue".into(), "DELETED".into()),
        ]);
        assert_eq!(
            two.to_string(),
            "DRIFTED: 2 resources (Topic MODIFIED, Queue DELETED)"
        );
        let one = Verdict::Drifted(vec![("Topic".into(), "MODIFIED".into())]);
        assert_eq!(one.to_string(), "DRIFTED: 1 resource (Topic MODIFIED)");
        assert_eq!(
            Verdict::Failed("denied".into()).to_string(),
            "DETECTION_FAILED: denied"
        );
    }
}
