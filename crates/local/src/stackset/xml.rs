//! The stack-set answers the proxy gives, in CloudFormation's query-protocol XML shaped as the
//! API Reference gives them (`StackSetOperation`, `StackSetOperationResultSummary`,
//! `StackSetOperationSummary`, the `Sender` errors), every value escaped; and the operation id
//! in moto's answers swapped for the caller's.

use super::InstanceEnd;

use crate::query::element;
pub(crate) use crate::query::{escape, response, sender_error};

/// One operation as `DescribeStackSetOperation` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation<'a> {
    pub(crate) id: &'a str,
    pub(crate) stack_set_id: Option<&'a str>,
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub(crate) action: &'a str,
    /// `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub(crate) status: &'a str,
    pub(crate) retain_stacks: Option<bool>,
    pub(crate) administration_role_arn: Option<&'a str>,
    pub(crate) execution_role_name: Option<&'a str>,
    /// ISO 8601.
    pub(crate) created: &'a str,
    /// ISO 8601, once over.
    pub(crate) ended: Option<&'a str>,
    /// The accounts the call named, for `DeploymentTargets`.
    pub(crate) accounts: &'a [String],
    pub(crate) reason: Option<&'a str>,
    /// `StatusDetails.FailedStackInstancesCount`, once over.
    pub(crate) failed: Option<usize>,
}

/// `DescribeStackSetOperation`'s result, its members in the shape's order.
pub(crate) fn operation_result(op: &Operation<'_>) -> String {
    let mut out = String::from("<StackSetOperation>");
    element(&mut out, "OperationId", op.id);
    if let Some(id) = op.stack_set_id {
        element(&mut out, "StackSetId", id);
    }
    element(&mut out, "Action", op.action);
    element(&mut out, "Status", op.status);
    if let Some(retain) = op.retain_stacks {
        element(
            &mut out,
            "RetainStacks",
            if retain { "true" } else { "false" },
        );
    }
    if let Some(arn) = op.administration_role_arn {
        element(&mut out, "AdministrationRoleARN", arn);
    }
    if let Some(name) = op.execution_role_name {
        element(&mut out, "ExecutionRoleName", name);
    }
    element(&mut out, "CreationTimestamp", op.created);
    if let Some(ended) = op.ended {
        element(&mut out, "EndTimestamp", ended);
    }
    if !op.accounts.is_empty() {
        out.push_str("<DeploymentTargets><Accounts>");
        for account in op.accounts {
            element(&mut out, "member", account);
        }
        out.push_str("</Accounts></DeploymentTargets>");
    }
    if let Some(reason) = op.reason {
        element(&mut out, "StatusReason", reason);
    }
    if let Some(n) = op.failed {
        out.push_str("<StatusDetails>");
        element(&mut out, "FailedStackInstancesCount", &n.to_string());
        out.push_str("</StatusDetails>");
    }
    out.push_str("</StackSetOperation>");
    out
}

/// `ListStackSetOperationResults`' result: these instances, and the token of the next page.
pub(crate) fn results_result(rows: &[InstanceEnd], next: Option<&str>) -> String {
    let mut out = String::from("<Summaries>");
    for row in rows {
        out.push_str("<member>");
        element(&mut out, "Account", &row.account);
        element(&mut out, "Region", &row.region);
        element(&mut out, "Status", &row.status);
        if let Some(reason) = &row.reason {
            element(&mut out, "StatusReason", reason);
        }
        out.push_str("</member>");
    }
    out.push_str("</Summaries>");
    if let Some(token) = next {
        element(&mut out, "NextToken", token);
    }
    out
}

/// `ListStackSetOperations`' result listing one operation, running since `created`.
pub(crate) fn running_result(id: &str, action: &str, created: &str) -> String {
    let mut out = String::from("<Summaries><member>");
    element(&mut out, "OperationId", id);
    element(&mut out, "Action", action);
    element(&mut out, "Status", "RUNNING");
    element(&mut out, "CreationTimestamp", created);
    out.push_str("</member></Summaries>");
    out
}

/// The `OperationId` moto's answer gives, unescaped.
pub(crate) fn operation_id(body: &str) -> Option<String> {
    let (_, rest) = body.split_once("<OperationId>")?;
    let (id, _) = rest.split_once("</OperationId>")?;
    // moto's ids are uuids, or the caller's own (`[a-zA-Z0-9-]`): nothing to unescape.
    Some(id.trim().to_owned())
}

/// `body` with its (first) `OperationId` made `id`.
pub(crate) fn with_operation_id(body: &str, id: &str) -> String {
    let Some((head, rest)) = body.split_once("<OperationId>") else {
        return body.to_owned();
    };
    let Some((_, tail)) = rest.split_once("</OperationId>") else {
        return body.to_owned();
    };
    format!("{head}<OperationId>{}</OperationId>{tail}", escape(id))
}

/// The `StackSetId` of moto's `CreateStackSet` answer.
pub(crate) fn stack_set_id(body: &str) -> Option<String> {
    let (_, rest) = body.split_once("<StackSetId>")?;
    Some(rest.split_once("</StackSetId>")?.0.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_control_characters_dropped() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\r\n\td"), "abc&#xD;\n\td");
    }

    #[test]
    fn an_operation_has_the_api_reference_shape() {
        let accounts = vec!["111111111111".to_owned(), "222222222222".to_owned()];
        let failed = Operation {
            id: "tok-add",
            stack_set_id: Some("base:1"),
            action: "CREATE",
            status: "FAILED",
            retain_stacks: None,
            administration_role_arn: Some("arn:aws:iam::1:role/Admin"),
            execution_role_name: Some("Exec"),
            created: "2024-01-01T00:00:00Z",
            ended: Some("2024-01-01T00:00:01Z"),
            accounts: &accounts,
            reason: Some("1 of 4 <instances> & failed"),
            failed: Some(1),
        };
        assert_eq!(
            response("DescribeStackSetOperation", &operation_result(&failed), "r&1"),
            "<DescribeStackSetOperationResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStackSetOperationResult><StackSetOperation><OperationId>tok-add</OperationId><StackSetId>base:1</StackSetId><Action>CREATE</Action><Status>FAILED</Status><AdministrationRoleARN>arn:aws:iam::1:role/Admin</AdministrationRoleARN><ExecutionRoleName>Exec</ExecutionRoleName><CreationTimestamp>2024-01-01T00:00:00Z</CreationTimestamp><EndTimestamp>2024-01-01T00:00:01Z</EndTimestamp><DeploymentTargets><Accounts><member>111111111111</member><member>222222222222</member></Accounts></DeploymentTargets><StatusReason>1 of 4 &lt;instances&gt; &amp; failed</StatusReason><StatusDetails><FailedStackInstancesCount>1</FailedStackInstancesCount></StatusDetails></StackSetOperation></DescribeStackSetOperationResult><ResponseMetadata><RequestId>r&amp;1</RequestId></ResponseMetadata></DescribeStackSetOperationResponse>"
        );
        let running = Operation {
            status: "RUNNING",
            action: "DELETE",
            retain_stacks: Some(false),
            stack_set_id: None,
            administration_role_arn: None,
            execution_role_name: None,
            ended: None,
            accounts: &[],
            reason: None,
            failed: None,
            ..failed
        };
        assert_eq!(
            operation_result(&running),
            "<StackSetOperation><OperationId>tok-add</OperationId><Action>DELETE</Action><Status>RUNNING</Status><RetainStacks>false</RetainStacks><CreationTimestamp>2024-01-01T00:00:00Z</CreationTimestamp></StackSetOperation>"
        );
    }

    #[test]
    fn results_and_listings_have_the_api_reference_shapes() {
        let rows = [
            InstanceEnd {
                account: "111111111111".into(),
                region: "us-east-1".into(),
                status: "SUCCEEDED".into(),
                reason: None,
            },
            InstanceEnd {
                account: "222222222222".into(),
                region: "eu-west-1".into(),
                status: "FAILED".into(),
                reason: Some("Role 'Exec' <missing>".into()),
            },
        ];
        assert_eq!(
            results_result(&rows, Some("2")),
            "<Summaries><member><Account>111111111111</Account><Region>us-east-1</Region><Status>SUCCEEDED</Status></member><member><Account>222222222222</Account><Region>eu-west-1</Region><Status>FAILED</Status><StatusReason>Role &apos;Exec&apos; &lt;missing&gt;</StatusReason></member></Summaries><NextToken>2</NextToken>"
        );
        assert_eq!(results_result(&[], None), "<Summaries></Summaries>");
        assert_eq!(
            running_result("cfn-deployer-local-other-1", "UPDATE", "T"),
            "<Summaries><member><OperationId>cfn-deployer-local-other-1</OperationId><Action>UPDATE</Action><Status>RUNNING</Status><CreationTimestamp>T</CreationTimestamp></member></Summaries>"
        );
        assert_eq!(
            sender_error("OperationInProgressException", "Another Operation on StackSet <b> is in progress", "r"),
            "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type><Code>OperationInProgressException</Code><Message>Another Operation on StackSet &lt;b&gt; is in progress</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn moto_s_operation_id_is_read_and_replaced() {
        let moto = "<DeleteStackInstancesResponse xmlns=\"x\"><DeleteStackInstancesResult><OperationId>0348f8a0-fdc3</OperationId></DeleteStackInstancesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteStackInstancesResponse>";
        assert_eq!(operation_id(moto).as_deref(), Some("0348f8a0-fdc3"));
        assert_eq!(
            with_operation_id(moto, "tok-remove"),
            moto.replace("0348f8a0-fdc3", "tok-remove")
        );
        assert_eq!(operation_id("<X/>"), None);
        assert_eq!(with_operation_id("<X/>", "a"), "<X/>");
        assert_eq!(
            stack_set_id("<CreateStackSetResult><StackSetId>base:1-2</StackSetId>").as_deref(),
            Some("base:1-2")
        );
    }
}
