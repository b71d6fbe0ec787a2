//! A change set's review as data: every change, its property-level details (before and after,
//! with `NoEcho` parameters' values redacted), nested stacks' reviews within their parent's, and
//! its wording (a summary within the pipeline console's limit, a Markdown table). Reading one
//! from CloudFormation is the change sets' business.

use std::collections::HashSet;

use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSource, ResourceChangeDetail, StackResourceDriftStatus,
};
use serde::Serialize;

use crate::drift::DriftedResource;
use crate::text::fit_lines;

/// What a redacted value reads.
pub const REDACTED: &str = "****";

/// A change set's changes, for a person to review before it is executed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Review {
    /// The change set's name.
    pub change_set_name: String,
    /// Its id (ARN).
    pub change_set_id: Option<String>,
    /// The stack it changes.
    pub stack_name: String,
    /// What it would change, resource by resource.
    pub changes: Vec<ReviewChange>,
    /// Whether CloudFormation has more changes than were read.
    pub more: bool,
    /// The stack's drifted resources, when the drift check before the change set found some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftedResource>,
}

/// One resource a change set would change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReviewChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    /// The resource's logical id.
    pub logical_resource_id: String,
    /// Its type.
    pub resource_type: String,
    /// `True`, `False` or `Conditional`, for a change that may replace the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// The attributes it changes, with their values before and after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ReviewDetail>,
    /// For a nested stack: its own change set's review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nested: Option<Box<Review>>,
    /// In a change set that reverts drift: the resource's drift (`MODIFIED`, `DELETED`),
    /// which this change puts back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
}

/// One attribute a change changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReviewDetail {
    /// `Properties`, `Tags`, `Metadata`, …
    pub attribute: String,
    /// The property's path, e.g. `/Properties/TopicName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `Never`, `Conditionally` or `Always`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_recreation: Option<String>,
    /// What causes it: `DirectModification`, `ParameterReference`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_source: Option<String>,
    /// The parameter or resource that causes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causing_entity: Option<String>,
    /// The value before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The value after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// In a change set that reverts drift: the live value, changed outside CloudFormation,
    /// that this change puts back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drifted: Option<String>,
}

fn action_word(action: Option<&ChangeAction>) -> &'static str {
    match action {
        Some(ChangeAction::Add) => "Add",
        Some(ChangeAction::Modify) => "Modify",
        Some(ChangeAction::Remove) => "Remove",
        Some(ChangeAction::Import) => "Import",
        Some(ChangeAction::Dynamic) => "Dynamic",
        _ => "Change",
    }
}

impl ReviewChange {
    /// A change as CloudFormation describes it, the values of the `secret` parameters
    /// redacted: a detail a secret causes, and every detail on the same path (CloudFormation
    /// reports the value a second time, as a direct modification).
    pub fn of(change: &Change, secret: &HashSet<String>) -> Option<Self> {
        let rc = change.resource_change()?;
        let secret_paths: HashSet<&str> = rc
            .details()
            .iter()
            .filter(|d| {
                d.change_source() == Some(&ChangeSource::ParameterReference)
                    && d.causing_entity().is_some_and(|e| secret.contains(e))
            })
            .filter_map(|d| d.target().and_then(|t| t.path()))
            .collect();
        let details = rc
            .details()
            .iter()
            .map(|d| detail(d, &secret_paths, secret))
            .collect();
        Some(Self {
            action: action_word(rc.action()).to_owned(),
            logical_resource_id: rc.logical_resource_id().unwrap_or("?").to_owned(),
            resource_type: rc.resource_type().unwrap_or("?").to_owned(),
            replacement: rc.replacement().map(|r| r.as_str().to_owned()),
            details,
            nested: None,
            drift: rc
                .resource_drift_status()
                .filter(|s| {
                    matches!(
                        s,
                        StackResourceDriftStatus::Modified | StackResourceDriftStatus::Deleted
                    )
                })
                .map(|s| s.as_str().to_owned()),
        })
    }
}

fn detail(
    d: &ResourceChangeDetail,
    secret_paths: &HashSet<&str>,
    secret: &HashSet<String>,
) -> ReviewDetail {
    let target = d.target();
    let path = target.and_then(|t| t.path());
    let redact = path.is_some_and(|p| secret_paths.contains(p))
        || d.causing_entity().is_some_and(|e| secret.contains(e));
    let value = |v: Option<&str>| {
        v.map(|v| {
            if redact {
                REDACTED.to_owned()
            } else {
                v.to_owned()
            }
        })
    };
    ReviewDetail {
        attribute: target
            .and_then(|t| t.attribute())
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        path: path.map(str::to_owned),
        requires_recreation: target
            .and_then(|t| t.requires_recreation())
            .map(|r| r.as_str().to_owned()),
        change_source: d.change_source().map(|s| s.as_str().to_owned()),
        causing_entity: d.causing_entity().map(str::to_owned),
        before: value(target.and_then(|t| t.before_value())),
        after: value(target.and_then(|t| t.after_value())),
        drifted: target
            .and_then(|t| t.drift())
            .map(|d| value(d.actual_value()).unwrap_or_default()),
    }
}

impl Review {
    /// Every change, nested stacks' included.
    pub fn count(&self) -> usize {
        self.changes
            .iter()
            .map(|c| 1 + c.nested.as_ref().map_or(0, |n| n.count()))
            .sum()
    }

    /// One line per change (`Add Queue (AWS::SQS::Queue)`, `Modify Bucket (AWS::S3::Bucket),
    /// replacement: True`), nested changes prefixed by their stack, within `max` characters;
    /// a cut list ends with "… and N more".
    pub fn summary(&self, max: usize) -> String {
        let mut lines = Vec::new();
        lines_of(self, "", &mut lines);
        let count = if self.more {
            format!("{}+", lines.len())
        } else {
            lines.len().to_string()
        };
        let text = format!("Change set `{}`: {count} change(s): ", self.change_set_name);
        let more = |rest| format!("… and {rest} more");
        fit_lines(text, &lines, max, "; ", more, false)
    }
}

fn lines_of(review: &Review, prefix: &str, out: &mut Vec<String>) {
    for c in &review.changes {
        let mut line = format!(
            "{prefix}{} {} ({})",
            c.action, c.logical_resource_id, c.resource_type
        );
        // CloudFormation names a Modify's replacement; a change set that leaves it out (moto's
        // do) gets no guess.
        if let ("Modify", Some(replacement)) = (c.action.as_str(), &c.replacement) {
            line.push_str(&format!(", replacement: {replacement}"));
        }
        out.push(line);
        if let Some(nested) = &c.nested {
            lines_of(
                nested,
                &format!("{prefix}{} › ", c.logical_resource_id),
                out,
            );
        }
    }
}

/// The review as a Markdown table, for a person approving the change set.
pub fn markdown(review: &Review) -> String {
    let mut md = format!(
        "# Change set `{}` for stack `{}`\n\n",
        review.change_set_name, review.stack_name
    );
    if let Some(id) = &review.change_set_id {
        md.push_str(&format!("Change set id: `{id}`\n\n"));
    }
    if !review.drift.is_empty() {
        md.push_str(&format!("## Drift\n\n{} resource(s) had drifted from the template when the change set was made (DriftCheck WARN); this change set does not put them back unless it reverts drift.\n\n| resource | type | drift | what differs |\n| --- | --- | --- | --- |\n", review.drift.len()));
        for r in &review.drift {
            let what: Vec<String> = r
                .differences
                .iter()
                .map(|d| {
                    format!(
                        "`{}`: expected {}, actual {}",
                        d.path,
                        cell(&d.expected),
                        cell(&d.actual)
                    )
                })
                .collect();
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&r.logical_resource_id),
                cell(&r.resource_type),
                r.status,
                what.join("<br>")
            ));
        }
        md.push_str("\n## Changes\n\n");
    }
    if review.changes.is_empty() {
        md.push_str("No changes.\n");
        return md;
    }
    md.push_str(&format!(
        "{} change(s){}.\n\n",
        review.count(),
        if review.more { " and more" } else { "" }
    ));
    md.push_str("| action | resource | type | replacement | what changes |\n| --- | --- | --- | --- | --- |\n");
    rows(review, "", &mut md);
    md
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn rows(review: &Review, prefix: &str, md: &mut String) {
    for c in &review.changes {
        let what: Vec<String> = c
            .details
            .iter()
            .map(|d| {
                let at = d.path.clone().unwrap_or_else(|| d.attribute.clone());
                let change = match (&d.before, &d.after) {
                    (Some(b), Some(a)) => format!("`{at}`: {} → {}", cell(b), cell(a)),
                    (None, Some(a)) => format!("`{at}`: → {}", cell(a)),
                    (Some(b), None) => format!("`{at}`: {} →", cell(b)),
                    (None, None) => format!("`{at}`"),
                };
                match &d.drifted {
                    Some(live) => format!("{change} (reverts drift: live value {})", cell(live)),
                    None => change,
                }
            })
            .collect();
        let action = match &c.drift {
            Some(drift) => format!("{} (reverts drift: {drift})", c.action),
            None => c.action.clone(),
        };
        md.push_str(&format!(
            "| {} | {prefix}{} | {} | {} | {} |\n",
            action,
            cell(&c.logical_resource_id),
            cell(&c.resource_type),
            c.replacement.as_deref().unwrap_or(""),
            what.join("<br>")
        ));
        if let Some(nested) = &c.nested {
            rows(nested, &format!("{prefix}{} › ", c.logical_resource_id), md);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{Change, ChangeAction, Replacement, ResourceChange};

    #[test]
    fn summaries_name_each_change() {
        let change =
            |action: ChangeAction, id: &str, kind: &str, replacement: Option<Replacement>| {
                Change::builder()
                    .resource_change(
                        ResourceChange::builder()
                            .action(action)
                            .logical_resource_id(id)
                            .resource_type(kind)
                            .set_replacement(replacement)
                            .build(),
                    )
                    .build()
            };
        let changes = [
            change(ChangeAction::Add, "Queue", "AWS::SQS::Queue", None),
            change(
                ChangeAction::Modify,
                "Bucket",
                "AWS::S3::Bucket",
                Some(Replacement::True),
            ),
            change(ChangeAction::Remove, "Topic", "AWS::SNS::Topic", None),
        ];
        let review = |changes: &[Change], more: bool| Review {
            change_set_name: "release-42".into(),
            changes: changes
                .iter()
                .filter_map(|c| ReviewChange::of(c, &Default::default()))
                .collect(),
            more,
            ..Review::default()
        };
        let text = review(&changes, false).summary(2048);
        assert_eq!(
            text,
            "Change set `release-42`: 3 change(s): Add Queue (AWS::SQS::Queue); Modify Bucket (AWS::S3::Bucket), replacement: True; Remove Topic (AWS::SNS::Topic)"
        );
        let many: Vec<Change> = changes.iter().cycle().take(300).cloned().collect();
        let cut = review(&many, true).summary(300);
        assert!(cut.chars().count() <= 300, "{cut}");
        assert!(
            cut.ends_with(" more"),
            "a cut list says how many more: {cut}"
        );
        assert!(cut.contains("… and 29"), "{cut}");
    }

    #[test]
    fn the_markdown_lists_drift_and_marks_what_reverts_it() {
        use aws_sdk_cloudformation::types::{
            LiveResourceDrift, ResourceAttribute, ResourceChangeDetail, ResourceTargetDefinition,
        };
        let change = Change::builder()
            .resource_change(
                ResourceChange::builder()
                    .action(ChangeAction::Modify)
                    .logical_resource_id("Topic")
                    .resource_type("AWS::SNS::Topic")
                    .resource_drift_status(StackResourceDriftStatus::Modified)
                    .details(
                        ResourceChangeDetail::builder()
                            .target(
                                ResourceTargetDefinition::builder()
                                    .attribute(ResourceAttribute::Properties)
                                    .path("/Properties/DisplayName")
                                    .before_value("orders-hotfix")
                                    .after_value("orders")
                                    .drift(
                                        LiveResourceDrift::builder()
                                            .previous_value("orders")
                                            .actual_value("orders-hotfix")
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        let review = Review {
            change_set_name: "release".into(),
            stack_name: "app".into(),
            changes: ReviewChange::of(&change, &HashSet::new())
                .into_iter()
                .collect(),
            drift: vec![DriftedResource {
                logical_resource_id: "Topic".into(),
                resource_type: "AWS::SNS::Topic".into(),
                status: "MODIFIED".into(),
                differences: vec![crate::drift::PropertyDifference {
                    path: "/DisplayName".into(),
                    expected: "orders".into(),
                    actual: "orders|hotfix".into(),
                    kind: "NOT_EQUAL".into(),
                }],
            }],
            ..Review::default()
        };
        let md = markdown(&review);
        assert!(md.contains("## Drift\n\n1 resource(s) had drifted"), "{md}");
        assert!(
            md.contains("| Topic | AWS::SNS::Topic | MODIFIED | `/DisplayName`: expected orders, actual orders\\|hotfix |"),
            "{md}"
        );
        assert!(
            md.contains("| Modify (reverts drift: MODIFIED) | Topic |"),
            "{md}"
        );
        assert!(
            md.contains("`/Properties/DisplayName`: orders-hotfix → orders (reverts drift: live value orders-hotfix)"),
            "{md}"
        );
        let plain = Review {
            drift: Vec::new(),
            ..review
        };
        assert!(!markdown(&plain).contains("## Drift"));
    }
}
