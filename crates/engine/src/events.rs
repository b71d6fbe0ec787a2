//! Reading a stack's own events: the reasons an operation failed, and the latest step of one
//! that is under way.

use std::collections::HashMap;

use aws_sdk_cloudformation::types::StackEvent;
use cfn_deployer_aws::truncate;

use crate::status::resource_failed;
use crate::text::fit_lines;

/// The longest failure explanation kept; CodePipeline caps failure messages at 5,000 characters.
pub const MAX_EXPLANATION: usize = 4_800;

/// The resource type of the stack's own events, as opposed to its resources'.
const STACK_RESOURCE_TYPE: &str = "AWS::CloudFormation::Stack";

/// Whether `event` is the stack-level event that opens an operation (create, update, import).
pub fn opens_operation(event: &StackEvent, stack_name: &str) -> bool {
    let status = event
        .resource_status()
        .map(|s| s.as_str())
        .unwrap_or_default();
    event.resource_type() == Some(STACK_RESOURCE_TYPE)
        && event.logical_resource_id() == Some(stack_name)
        && matches!(
            status,
            "CREATE_IN_PROGRESS"
                | "UPDATE_IN_PROGRESS"
                | "IMPORT_IN_PROGRESS"
                | "DELETE_IN_PROGRESS"
        )
        && event.resource_status_reason() == Some("User Initiated")
}

/// Whether a failure only reports that CloudFormation gave up on a resource because another
/// failed; such reasons are listed after the root causes.
fn is_consequence(reason: &str) -> bool {
    // CloudFormation words these as "Resource creation cancelled" / "Resource update cancelled".
    reason.contains("cancelled")
}

/// One line for an event: `Logical (Type) STATUS: reason`.
pub fn describe_event(event: &StackEvent) -> String {
    let mut line = format!(
        "{} ({}) {}",
        event.logical_resource_id().unwrap_or("?"),
        event.resource_type().unwrap_or("?"),
        event.resource_status().map(|s| s.as_str()).unwrap_or("?"),
    );
    if let Some(reason) = event.resource_status_reason().filter(|r| !r.is_empty()) {
        line.push_str(": ");
        line.push_str(reason);
    }
    line
}

/// The failures of one operation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Failures {
    /// Root causes, oldest first, nested stacks' causes before the nested stack's own line.
    pub causes: Vec<String>,
    /// Resources CloudFormation gave up on because of the causes.
    pub consequences: Vec<String>,
    /// The stack's own reason (its rollback event), when it gives one.
    pub stack_reason: Option<String>,
}

/// The failed nested stacks among `events`: `(logical id, physical id)`, oldest first.
pub fn failed_nested_stacks(stack_name: &str, events: &[StackEvent]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for event in events.iter().rev() {
        let nested = event.resource_type() == Some(STACK_RESOURCE_TYPE)
            && event.logical_resource_id() != Some(stack_name);
        let failed = event
            .resource_status()
            .is_some_and(|s| resource_failed(s.as_str()));
        if let (true, true, Some(logical), Some(physical)) = (
            nested,
            failed,
            event.logical_resource_id(),
            event
                .physical_resource_id()
                .filter(|p| p.starts_with("arn:")),
        ) {
            if !found.iter().any(|(_, p)| p == physical) {
                found.push((logical.to_owned(), physical.to_owned()));
            }
        }
    }
    found
}

/// Sorts an operation's events (newest first, cut at the operation's start) into causes and
/// consequences. `nested` holds, by nested stack id, the cause lines read from its own events;
/// they are listed, prefixed by the nested stack's logical id, before its line here.
pub fn failures(
    stack_name: &str,
    events: &[StackEvent],
    nested: &HashMap<String, Vec<String>>,
) -> Failures {
    let mut out = Failures::default();
    for event in events.iter().rev() {
        let failed = event
            .resource_status()
            .is_some_and(|s| resource_failed(s.as_str()));
        let is_stack = event.resource_type() == Some(STACK_RESOURCE_TYPE)
            && event.logical_resource_id() == Some(stack_name);
        if is_stack {
            // The stack's own rollback event names the failed resources; keep the first one.
            if out.stack_reason.is_none() {
                out.stack_reason = event
                    .resource_status_reason()
                    .filter(|r| !r.is_empty() && *r != "User Initiated")
                    .map(str::to_owned);
            }
            continue;
        }
        if !failed {
            continue;
        }
        let inner = event.physical_resource_id().and_then(|id| nested.get(id));
        if let (Some(lines), Some(logical)) = (inner, event.logical_resource_id()) {
            for line in lines {
                let line = format!("{logical} › {line}");
                if !out.causes.contains(&line) {
                    out.causes.push(line);
                }
            }
        }
        let line = describe_event(event);
        let reason = event.resource_status_reason().unwrap_or_default();
        let list = if is_consequence(reason) {
            &mut out.consequences
        } else {
            &mut out.causes
        };
        if !list.contains(&line) {
            list.push(line);
        }
    }
    out
}

/// Explains a failed operation from its events, given newest first as CloudFormation returns
/// them and already cut at the operation's start, with the causes read from failed nested
/// stacks. Root causes come first, then the resources cancelled because of them; the result
/// stays within [`MAX_EXPLANATION`] characters.
pub fn explain(
    stack_name: &str,
    status: &str,
    events: &[StackEvent],
    nested: &HashMap<String, Vec<String>>,
) -> String {
    let Failures {
        causes,
        consequences,
        stack_reason,
    } = failures(stack_name, events, nested);
    let mut text = format!("Stack `{stack_name}` ended in {status}.");
    if causes.is_empty() && consequences.is_empty() {
        match stack_reason {
            Some(reason) => text.push_str(&format!(" CloudFormation says: {reason}")),
            None => text.push_str(
                " Its events name no failed resource: see the stack's events in the CloudFormation console.",
            ),
        }
        return truncate(text, MAX_EXPLANATION);
    }
    text.push_str(" Failed resources, root cause first:");
    // Each line opens its own list item, and the tail a line of its own: nothing joins them.
    let lines: Vec<String> = causes
        .iter()
        .chain(consequences.iter())
        .map(|line| format!("\n- {line}"))
        .collect();
    let more = |rest| format!("\n… and {rest} more failed resources");
    fit_lines(text, &lines, MAX_EXPLANATION, "", more, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn event(logical: &str, kind: &str, status: &str, reason: &str) -> StackEvent {
        StackEvent::builder()
            .logical_resource_id(logical)
            .resource_type(kind)
            .resource_status(ResourceStatus::from(status))
            .resource_status_reason(reason)
            .build()
    }

    #[test]
    fn root_cause_first_and_cancellations_last() {
        // Newest first, as DescribeStackEvents returns them.
        let events = vec![
            event("app", STACK_RESOURCE_TYPE, "ROLLBACK_COMPLETE", ""),
            event("Topic", "AWS::SNS::Topic", "DELETE_COMPLETE", ""),
            event(
                "Topic",
                "AWS::SNS::Topic",
                "CREATE_FAILED",
                "Resource creation cancelled",
            ),
            event(
                "app",
                STACK_RESOURCE_TYPE,
                "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to create: [Queue, Topic].",
            ),
            event(
                "Queue",
                "AWS::SQS::Queue",
                "CREATE_FAILED",
                "Queue name is invalid",
            ),
            event("Queue", "AWS::SQS::Queue", "CREATE_IN_PROGRESS", ""),
            event(
                "app",
                STACK_RESOURCE_TYPE,
                "CREATE_IN_PROGRESS",
                "User Initiated",
            ),
        ];
        let text = explain("app", "ROLLBACK_COMPLETE", &events, &HashMap::new());
        let queue = text.find("Queue (AWS::SQS::Queue) CREATE_FAILED: Queue name is invalid");
        let topic = text.find("Topic (AWS::SNS::Topic) CREATE_FAILED: Resource creation cancelled");
        assert!(
            text.starts_with("Stack `app` ended in ROLLBACK_COMPLETE."),
            "{text}"
        );
        assert!(queue.is_some() && topic.is_some(), "{text}");
        assert!(queue < topic, "root cause must come first: {text}");
    }

    #[test]
    fn falls_back_to_the_stack_reason() {
        let events = vec![event(
            "app",
            STACK_RESOURCE_TYPE,
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "Parameters: [Env] must have values",
        )];
        let text = explain("app", "UPDATE_ROLLBACK_COMPLETE", &events, &HashMap::new());
        assert!(
            text.contains("CloudFormation says: Parameters: [Env] must have values"),
            "{text}"
        );
    }

    #[test]
    fn stays_within_the_limit() {
        let long = "x".repeat(700);
        let events: Vec<StackEvent> = (0..40)
            .map(|i| event(&format!("R{i}"), "AWS::SQS::Queue", "CREATE_FAILED", &long))
            .collect();
        let text = explain("app", "ROLLBACK_COMPLETE", &events, &HashMap::new());
        assert!(text.chars().count() <= MAX_EXPLANATION, "{}", text.len());
        assert!(text.contains("more failed resources"), "{text}");
        assert!(text.contains("R39"), "the oldest failure comes first");
    }

    #[test]
    fn nested_stack_causes_come_before_the_nested_stack() {
        let nested_id = "arn:aws:cloudformation:us-east-1:1:stack/app-Db-X/1";
        let embedded = StackEvent::builder()
            .logical_resource_id("Db")
            .resource_type(STACK_RESOURCE_TYPE)
            .physical_resource_id(nested_id)
            .resource_status(ResourceStatus::from("CREATE_FAILED"))
            .resource_status_reason("Embedded stack app-Db-X was not successfully created")
            .build();
        let events = vec![embedded];
        assert_eq!(
            failed_nested_stacks("app", &events),
            vec![("Db".to_owned(), nested_id.to_owned())]
        );
        let nested = HashMap::from([(
            nested_id.to_owned(),
            vec!["Instance (AWS::RDS::DBInstance) CREATE_FAILED: quota exceeded".to_owned()],
        )]);
        let text = explain("app", "ROLLBACK_COMPLETE", &events, &nested);
        let inner = text
            .find("Db › Instance (AWS::RDS::DBInstance) CREATE_FAILED: quota exceeded")
            .expect("nested cause");
        let outer = text
            .find("Embedded stack")
            .expect("the nested stack's line");
        assert!(inner < outer, "{text}");
    }
}
