//! Where a stack's resources stand, as the live view shows them: one row per resource, the
//! count done, and the latest failure's reason, read from the stack's resources and from the
//! events of the operation under way.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use aws_sdk_cloudformation::types::{StackEvent, StackResourceSummary};
use cfn_deployer_engine::{events, status};

/// One resource's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Its logical id.
    pub logical_id: String,
    /// Its type.
    pub resource_type: String,
    /// Its status, as CloudFormation words it.
    pub status: String,
}

impl Row {
    /// Whether the resource is still being worked on.
    pub fn in_progress(&self) -> bool {
        status::resource_in_progress(&self.status)
    }

    /// Whether the resource's last step failed.
    pub fn failed(&self) -> bool {
        status::resource_failed(&self.status)
    }
}

/// The stack as the view shows it at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The stack's status, when it exists.
    pub stack_status: Option<String>,
    /// Its resources, in the order CloudFormation lists them.
    pub rows: Vec<Row>,
    /// Resources no longer in progress.
    pub done: u64,
    /// Resources in all: the template's count when known, or more when the stack has more.
    pub total: u64,
    /// The newest root cause of a failure in the operation under way: `Logical (Type)
    /// STATUS: reason`.
    pub failure: Option<String>,
}

/// The events of the operation that began in this run, newest first: cut at the event that
/// opened it, as the function cuts them, and none from before `since`.
pub fn this_operation<'a>(
    stack_name: &str,
    events_newest_first: &'a [StackEvent],
    since: SystemTime,
) -> &'a [StackEvent] {
    let recent = events_newest_first
        .iter()
        .take_while(|e| {
            e.timestamp()
                .and_then(|t| SystemTime::try_from(*t).ok())
                .is_none_or(|t| t >= since)
        })
        .count();
    let recent = &events_newest_first[..recent];
    match recent
        .iter()
        .position(|e| events::opens_operation(e, stack_name))
    {
        Some(start) => &recent[..=start],
        None => recent,
    }
}

/// Where the stack stands, from its resources and the events of this run's operation (newest
/// first). `template_total` is the resource count of the template being deployed, when known:
/// early in a create, CloudFormation lists only the resources it has started.
pub fn snapshot(
    stack_name: &str,
    stack_status: Option<String>,
    resources: &[StackResourceSummary],
    operation_events: &[StackEvent],
    template_total: Option<u32>,
) -> Snapshot {
    let mut rows: Vec<Row> = resources
        .iter()
        .map(|r| Row {
            logical_id: r.logical_resource_id().unwrap_or("?").to_owned(),
            resource_type: r.resource_type().unwrap_or("?").to_owned(),
            status: r
                .resource_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        })
        .collect();
    // A resource that failed and was rolled back away is in the events only; its last event
    // says how it ended.
    let mut seen: HashSet<String> = rows.iter().map(|r| r.logical_id.clone()).collect();
    for event in operation_events {
        let Some(logical) = event.logical_resource_id() else {
            continue;
        };
        if logical == stack_name || !seen.insert(logical.to_owned()) {
            continue;
        }
        rows.push(Row {
            logical_id: logical.to_owned(),
            resource_type: event.resource_type().unwrap_or("?").to_owned(),
            status: event
                .resource_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        });
    }
    let done = rows.iter().filter(|r| !r.in_progress()).count() as u64;
    let total = (rows.len() as u64).max(template_total.map(u64::from).unwrap_or_default());
    let failure = events::failures(stack_name, operation_events, &HashMap::new())
        .causes
        .pop();
    Snapshot {
        stack_status,
        rows,
        done,
        total,
        failure,
    }
}

/// The rows a screen of `max` lines shows: all when they fit, else those in progress or failed
/// first, then the most recent of the rest; and how many were left out.
pub fn visible(rows: &[Row], max: usize) -> (Vec<&Row>, usize) {
    if rows.len() <= max {
        return (rows.iter().collect(), 0);
    }
    let mut keep: Vec<bool> = rows.iter().map(|r| r.in_progress() || r.failed()).collect();
    let mut kept = keep.iter().filter(|k| **k).count();
    for (i, _) in rows.iter().enumerate().rev() {
        if kept >= max {
            break;
        }
        if !keep[i] {
            keep[i] = true;
            kept += 1;
        }
    }
    let shown: Vec<&Row> = rows
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(r, _)| r)
        .take(max)
        .collect();
    let hidden = rows.len() - shown.len();
    (shown, hidden)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::primitives::DateTime;
    use aws_sdk_cloudformation::types::{ResourceStatus, StackResourceSummary};
    use std::time::Duration;

    fn resource(logical: &str, kind: &str, status: &str) -> StackResourceSummary {
        StackResourceSummary::builder()
            .logical_resource_id(logical)
            .resource_type(kind)
            .resource_status(ResourceStatus::from(status))
            .last_updated_timestamp(DateTime::from_secs(0))
            .build()
    }

    fn event(logical: &str, kind: &str, status: &str, reason: &str, at: u64) -> StackEvent {
        StackEvent::builder()
            .logical_resource_id(logical)
            .resource_type(kind)
            .resource_status(ResourceStatus::from(status))
            .resource_status_reason(reason)
            .timestamp(DateTime::from_secs(at as i64))
            .build()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_create_under_way_counts_the_template_s_resources() {
        let resources = [
            resource("Bucket", "AWS::S3::Bucket", "CREATE_COMPLETE"),
            resource("Queue", "AWS::SQS::Queue", "CREATE_IN_PROGRESS"),
        ];
        let s = snapshot(
            "web",
            Some("CREATE_IN_PROGRESS".into()),
            &resources,
            &[],
            Some(5),
        );
        assert_eq!((s.done, s.total), (1, 5));
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.failure, None);
    }

    #[test]
    fn a_rolled_back_resource_keeps_its_row_and_its_reason_shows() {
        let stack = "AWS::CloudFormation::Stack";
        // Newest first.
        let events = [
            event(
                "web",
                stack,
                "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to create: [Topic].",
                30,
            ),
            event(
                "Topic",
                "AWS::SNS::Topic",
                "CREATE_FAILED",
                "Invalid parameter: DisplayName",
                20,
            ),
            event("Bucket", "AWS::S3::Bucket", "CREATE_COMPLETE", "", 15),
            event("web", stack, "CREATE_IN_PROGRESS", "User Initiated", 10),
            event(
                "Old",
                "AWS::S3::Bucket",
                "CREATE_FAILED",
                "from an earlier run",
                5,
            ),
        ];
        let operation = this_operation("web", &events, at(0));
        assert_eq!(operation.len(), 4, "cut at the event that opened it");
        let resources = [resource("Bucket", "AWS::S3::Bucket", "DELETE_IN_PROGRESS")];
        let s = snapshot(
            "web",
            Some("ROLLBACK_IN_PROGRESS".into()),
            &resources,
            operation,
            Some(2),
        );
        assert_eq!(
            s.rows
                .iter()
                .map(|r| (r.logical_id.as_str(), r.status.as_str()))
                .collect::<Vec<_>>(),
            [("Bucket", "DELETE_IN_PROGRESS"), ("Topic", "CREATE_FAILED")]
        );
        assert_eq!((s.done, s.total), (1, 2));
        assert_eq!(
            s.failure.as_deref(),
            Some("Topic (AWS::SNS::Topic) CREATE_FAILED: Invalid parameter: DisplayName")
        );
    }

    #[test]
    fn events_from_before_the_run_are_not_this_operation() {
        let events = [
            event("Topic", "AWS::SNS::Topic", "CREATE_FAILED", "old news", 5),
            event(
                "web",
                "AWS::CloudFormation::Stack",
                "CREATE_IN_PROGRESS",
                "User Initiated",
                4,
            ),
        ];
        assert!(this_operation("web", &events, at(100)).is_empty());
        let s = snapshot(
            "web",
            None,
            &[],
            this_operation("web", &events, at(100)),
            None,
        );
        assert_eq!(s.failure, None);
        assert_eq!((s.done, s.total), (0, 0));
    }

    #[test]
    fn a_long_list_shows_what_moves_first() {
        let mut rows: Vec<Row> = (0..30)
            .map(|i| Row {
                logical_id: format!("R{i}"),
                resource_type: "AWS::SNS::Topic".into(),
                status: "CREATE_COMPLETE".into(),
            })
            .collect();
        rows[3].status = "CREATE_IN_PROGRESS".into();
        rows[7].status = "CREATE_FAILED".into();
        let (shown, hidden) = visible(&rows, 5);
        assert_eq!(hidden, 25);
        let ids: Vec<&str> = shown.iter().map(|r| r.logical_id.as_str()).collect();
        assert_eq!(ids, ["R3", "R7", "R27", "R28", "R29"]);
        let (all, none) = visible(&rows[..4], 5);
        assert_eq!((all.len(), none), (4, 0));
    }
}
