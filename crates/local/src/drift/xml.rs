//! The drift calls' answers in CloudFormation's query-protocol XML, shaped as the API
//! Reference gives them (`<XResponse><XResult>…</XResult><ResponseMetadata>…`), every value
//! escaped, so that the real SDKs parse them.

use super::expected::ResourceDrift;

use crate::query::element;
pub(crate) use crate::query::{escape, response, sender_error};

/// `DetectStackDrift`'s result.
pub(crate) fn detect_result(detection_id: &str) -> String {
    let mut out = String::new();
    element(&mut out, "StackDriftDetectionId", detection_id);
    out
}

/// Where one detection stands, as `DescribeStackDriftDetectionStatus` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status<'a> {
    pub(crate) stack_id: &'a str,
    pub(crate) detection_id: &'a str,
    /// `DRIFTED`, `IN_SYNC`, `UNKNOWN` or `NOT_CHECKED`.
    pub(crate) stack_drift_status: &'a str,
    /// `DETECTION_IN_PROGRESS`, `DETECTION_FAILED` or `DETECTION_COMPLETE`.
    pub(crate) detection_status: &'a str,
    pub(crate) reason: Option<&'a str>,
    pub(crate) drifted: Option<usize>,
    /// ISO 8601.
    pub(crate) timestamp: &'a str,
}

/// `DescribeStackDriftDetectionStatus`'s result.
pub(crate) fn status_result(status: &Status<'_>) -> String {
    let mut out = String::new();
    element(&mut out, "StackId", status.stack_id);
    element(&mut out, "StackDriftDetectionId", status.detection_id);
    element(&mut out, "StackDriftStatus", status.stack_drift_status);
    element(&mut out, "DetectionStatus", status.detection_status);
    if let Some(reason) = status.reason {
        element(&mut out, "DetectionStatusReason", reason);
    }
    if let Some(n) = status.drifted {
        element(&mut out, "DriftedStackResourceCount", &n.to_string());
    }
    element(&mut out, "Timestamp", status.timestamp);
    out
}

/// `DescribeStackResourceDrifts`'s result: these drifts, and the token of the next page.
pub(crate) fn drifts_result(
    drifts: &[&ResourceDrift],
    timestamp: &str,
    next: Option<&str>,
) -> String {
    let mut out = String::from("<StackResourceDrifts>");
    for drift in drifts {
        out.push_str("<member>");
        element(&mut out, "StackId", &drift.stack_id);
        element(&mut out, "LogicalResourceId", &drift.logical_id);
        if let Some(physical) = &drift.physical_id {
            element(&mut out, "PhysicalResourceId", physical);
        }
        element(&mut out, "ResourceType", &drift.resource_type);
        element(&mut out, "ExpectedProperties", &drift.expected_properties);
        if let Some(actual) = &drift.actual_properties {
            element(&mut out, "ActualProperties", actual);
        }
        if !drift.differences.is_empty() {
            out.push_str("<PropertyDifferences>");
            for d in &drift.differences {
                out.push_str("<member>");
                element(&mut out, "PropertyPath", &d.path);
                element(&mut out, "ExpectedValue", &d.expected);
                element(&mut out, "ActualValue", &d.actual);
                element(&mut out, "DifferenceType", "NOT_EQUAL");
                out.push_str("</member>");
            }
            out.push_str("</PropertyDifferences>");
        }
        element(&mut out, "StackResourceDriftStatus", drift.status);
        element(&mut out, "Timestamp", timestamp);
        out.push_str("</member>");
    }
    out.push_str("</StackResourceDrifts>");
    if let Some(token) = next {
        element(&mut out, "NextToken", token);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::expected::Difference;

    #[test]
    fn values_are_escaped_and_control_characters_dropped() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\r\n\td"), "abc&#xD;\n\td");
        assert_eq!(escape("ünïcödé ✔"), "ünïcödé ✔");
    }

    #[test]
    fn the_answers_have_the_api_reference_shapes() {
        assert_eq!(
            response("DetectStackDrift", &detect_result("id<1>"), "r&1"),
            "<DetectStackDriftResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DetectStackDriftResult><StackDriftDetectionId>id&lt;1&gt;</StackDriftDetectionId></DetectStackDriftResult><ResponseMetadata><RequestId>r&amp;1</RequestId></ResponseMetadata></DetectStackDriftResponse>"
        );
        assert_eq!(
            sender_error("ValidationError", "Stack with id <x> does not exist", "r"),
            "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id &lt;x&gt; does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        );
        let status = Status {
            stack_id: "arn:s",
            detection_id: "d",
            stack_drift_status: "UNKNOWN",
            detection_status: "DETECTION_FAILED",
            reason: Some("denied & <gone>"),
            drifted: Some(0),
            timestamp: "2024-01-01T00:00:00Z",
        };
        assert_eq!(
            status_result(&status),
            "<StackId>arn:s</StackId><StackDriftDetectionId>d</StackDriftDetectionId><StackDriftStatus>UNKNOWN</StackDriftStatus><DetectionStatus>DETECTION_FAILED</DetectionStatus><DetectionStatusReason>denied &amp; &lt;gone&gt;</DetectionStatusReason><DriftedStackResourceCount>0</DriftedStackResourceCount><Timestamp>2024-01-01T00:00:00Z</Timestamp>"
        );
    }

    #[test]
    fn resource_drifts_list_their_differences_escaped() {
        let drift = ResourceDrift {
            stack_id: "arn:s".into(),
            logical_id: "Topic".into(),
            physical_id: Some("arn:t".into()),
            resource_type: "AWS::SNS::Topic".into(),
            status: "MODIFIED",
            expected_properties: r#"{"TopicName":"a<b"}"#.into(),
            actual_properties: Some(r#"{"TopicName":"a&b"}"#.into()),
            differences: vec![Difference {
                path: "/TopicName".into(),
                expected: "a<b".into(),
                actual: "a&b".into(),
            }],
        };
        let deleted = ResourceDrift {
            logical_id: "Queue".into(),
            physical_id: None,
            status: "DELETED",
            actual_properties: None,
            differences: Vec::new(),
            ..drift.clone()
        };
        let xml = drifts_result(&[&drift, &deleted], "T", Some("1"));
        assert_eq!(
            xml,
            "<StackResourceDrifts><member><StackId>arn:s</StackId><LogicalResourceId>Topic</LogicalResourceId><PhysicalResourceId>arn:t</PhysicalResourceId><ResourceType>AWS::SNS::Topic</ResourceType><ExpectedProperties>{&quot;TopicName&quot;:&quot;a&lt;b&quot;}</ExpectedProperties><ActualProperties>{&quot;TopicName&quot;:&quot;a&amp;b&quot;}</ActualProperties><PropertyDifferences><member><PropertyPath>/TopicName</PropertyPath><ExpectedValue>a&lt;b</ExpectedValue><ActualValue>a&amp;b</ActualValue><DifferenceType>NOT_EQUAL</DifferenceType></member></PropertyDifferences><StackResourceDriftStatus>MODIFIED</StackResourceDriftStatus><Timestamp>T</Timestamp></member><member><StackId>arn:s</StackId><LogicalResourceId>Queue</LogicalResourceId><ResourceType>AWS::SNS::Topic</ResourceType><ExpectedProperties>{&quot;TopicName&quot;:&quot;a&lt;b&quot;}</ExpectedProperties><StackResourceDriftStatus>DELETED</StackResourceDriftStatus><Timestamp>T</Timestamp></member></StackResourceDrifts><NextToken>1</NextToken>"
        );
    }
}
