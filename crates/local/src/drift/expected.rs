//! What detection finds in one stack: the table's drift set against the stack as moto holds it
//! (its resources, parameters and template), each resource's expected properties taken from
//! the template with parameter and resource references filled in, as CloudFormation shows
//! them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Changed, StackDrift};

/// A resource of the stack, as moto lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resource {
    pub(crate) logical_id: String,
    pub(crate) physical_id: Option<String>,
    pub(crate) resource_type: String,
}

/// The stack, as detection reads it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub(crate) stack_id: String,
    pub(crate) stack_name: String,
    /// Its parameters' values.
    pub(crate) parameters: BTreeMap<String, String>,
    pub(crate) resources: Vec<Resource>,
    /// Its template, short forms read as long forms (`Value::Null` when unread).
    pub(crate) template: Value,
}

/// One property that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Difference {
    /// `/TopicName`: the path within the resource's properties.
    pub(crate) path: String,
    pub(crate) expected: String,
    pub(crate) actual: String,
}

/// One resource's drift, as `DescribeStackResourceDrifts` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceDrift {
    pub(crate) stack_id: String,
    pub(crate) logical_id: String,
    pub(crate) physical_id: Option<String>,
    pub(crate) resource_type: String,
    /// `IN_SYNC`, `MODIFIED` or `DELETED`.
    pub(crate) status: &'static str,
    /// JSON text.
    pub(crate) expected_properties: String,
    /// JSON text; none for a deleted resource.
    pub(crate) actual_properties: Option<String>,
    pub(crate) differences: Vec<Difference>,
}

/// How far references are followed into each other: templates nest a few levels at most.
const MAX_RESOLVE: usize = 64;

impl Facts {
    /// The value a `Ref` to `name` has: a parameter's, a pseudo parameter's, a resource's
    /// physical id.
    fn reference(&self, name: &str) -> Option<String> {
        if let Some(value) = self.parameters.get(name) {
            return Some(value.clone());
        }
        // arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID
        let arn: Vec<&str> = self.stack_id.split(':').collect();
        let pseudo = match name {
            "AWS::StackName" => Some(self.stack_name.as_str()),
            "AWS::StackId" => Some(self.stack_id.as_str()),
            "AWS::Partition" => arn.get(1).copied(),
            "AWS::Region" => arn.get(3).copied(),
            "AWS::AccountId" => arn.get(4).copied(),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Some(value.to_owned());
        }
        self.resources
            .iter()
            .find(|r| r.logical_id == name)
            .and_then(|r| r.physical_id.clone())
    }

    /// `${Name}` in a `Fn::Sub` text filled in; `None` when one of them is not known.
    fn substitute(&self, text: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            match name.strip_prefix('!') {
                // `${!Literal}` is the text `${Literal}`.
                Some(literal) => out.push_str(&format!("${{{literal}}}")),
                None => out.push_str(&self.reference(name)?),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// `value` with the references this stack answers filled in, the others left as they are.
    fn resolve(&self, value: &Value, depth: usize) -> Value {
        if depth > MAX_RESOLVE {
            return value.clone();
        }
        match value {
            Value::Object(map) if map.len() == 1 => {
                let known = match (map.get("Ref"), map.get("Fn::Sub")) {
                    (Some(Value::String(name)), _) => self.reference(name),
                    (_, Some(Value::String(text))) => self.substitute(text),
                    _ => None,
                };
                match known {
                    Some(text) => Value::String(text),
                    None => Value::Object(self.resolve_map(map, depth)),
                }
            }
            Value::Object(map) => Value::Object(self.resolve_map(map, depth)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.resolve(v, depth + 1)).collect())
            }
            other => other.clone(),
        }
    }

    fn resolve_map(&self, map: &Map<String, Value>, depth: usize) -> Map<String, Value> {
        map.iter()
            .map(|(k, v)| (k.clone(), self.resolve(v, depth + 1)))
            .collect()
    }

    /// The resource's properties in the template, references filled in.
    fn properties(&self, logical_id: &str) -> Value {
        let declared = self
            .template
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .and_then(|r| r.get("Properties"))
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        self.resolve(&declared, 0)
    }

    /// What detection finds: one record per resource of the stack, those the table names
    /// `MODIFIED` or `DELETED`, the others `IN_SYNC`; or why detection fails (the table names
    /// a resource or a property that the stack does not have).
    pub(crate) fn drifts(&self, table: &StackDrift) -> Result<Vec<ResourceDrift>, String> {
        let mut records = Vec::new();
        for (logical_id, _) in &table.resources {
            if !self.resources.iter().any(|r| &r.logical_id == logical_id) {
                return Err(format!(
                    "the local pipeline's --drift names resource `{logical_id}`, which stack `{}` does not have",
                    self.stack_name
                ));
            }
        }
        for resource in &self.resources {
            let expected = self.properties(&resource.logical_id);
            let change = table
                .resources
                .iter()
                .find(|(id, _)| *id == resource.logical_id)
                .map(|(_, c)| c);
            let (status, actual, differences) = match change {
                None => ("IN_SYNC", Some(expected.clone()), Vec::new()),
                Some(Changed::Deleted) => ("DELETED", None, Vec::new()),
                Some(Changed::Modified(paths)) => {
                    let mut actual = expected.clone();
                    let mut differences = Vec::new();
                    for (path, value) in paths {
                        let Some(slot) = actual.pointer_mut(path) else {
                            return Err(format!(
                                "the local pipeline's --drift names property `{path}` of `{}`, which its template does not set",
                                resource.logical_id
                            ));
                        };
                        let was = std::mem::replace(slot, Value::String(value.clone()));
                        differences.push(Difference {
                            path: path.clone(),
                            expected: text(&was),
                            actual: value.clone(),
                        });
                    }
                    ("MODIFIED", Some(actual), differences)
                }
            };
            records.push(ResourceDrift {
                stack_id: self.stack_id.clone(),
                logical_id: resource.logical_id.clone(),
                physical_id: resource.physical_id.clone(),
                resource_type: resource.resource_type.clone(),
                status,
                expected_properties: expected.to_string(),
                actual_properties: actual.map(|a| a.to_string()),
                differences,
            });
        }
        Ok(records)
    }
}

/// A value as a `PropertyDifference` shows it: a scalar's text, anything else compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::DriftTable;
    use serde_json::json;

    fn facts() -> Facts {
        let template = "Parameters:\n  Greeting: {Type: String}\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub \"${AWS::StackName}-${Greeting}\"\n      DisplayName: !Ref Greeting\n      Tags:\n        - {Key: a, Value: !GetAtt Queue.Arn}\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: 20\n";
        Facts {
            stack_id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/app/abc".into(),
            stack_name: "app".into(),
            parameters: BTreeMap::from([("Greeting".into(), "hi".into())]),
            resources: vec![
                Resource {
                    logical_id: "Topic".into(),
                    physical_id: Some("arn:aws:sns:eu-west-1:123456789012:app-hi".into()),
                    resource_type: "AWS::SNS::Topic".into(),
                },
                Resource {
                    logical_id: "Queue".into(),
                    physical_id: None,
                    resource_type: "AWS::SQS::Queue".into(),
                },
            ],
            template: cfn_deployer_engine::document::read_template(template).expect("template"),
        }
    }

    fn table(specs: &[&str]) -> StackDrift {
        DriftTable::new(specs.iter().map(|s| s.parse().expect("spec")).collect()).stack("app")
    }

    #[test]
    fn expected_values_come_from_the_template_with_references_filled_in() {
        let drifts = facts()
            .drifts(&table(&[
                "app:Topic:/Properties/DisplayName=edited",
                "app:Topic:/Tags/0=x",
                "app:Queue:DELETED",
            ]))
            .expect("drifts");
        let topic = &drifts[0];
        assert_eq!(topic.status, "MODIFIED");
        assert_eq!(
            topic.differences,
            vec![
                Difference {
                    path: "/DisplayName".into(),
                    expected: "hi".into(),
                    actual: "edited".into()
                },
                Difference {
                    path: "/Tags/0".into(),
                    expected: r#"{"Key":"a","Value":{"Fn::GetAtt":["Queue","Arn"]}}"#.into(),
                    actual: "x".into()
                },
            ]
        );
        let expected: Value = serde_json::from_str(&topic.expected_properties).expect("json");
        assert_eq!(expected["TopicName"], json!("app-hi"));
        let actual: Value =
            serde_json::from_str(topic.actual_properties.as_deref().expect("actual"))
                .expect("json");
        assert_eq!(actual["DisplayName"], json!("edited"));
        assert_eq!(actual["TopicName"], json!("app-hi"));
        let queue = &drifts[1];
        assert_eq!(
            (queue.status, queue.actual_properties.as_deref()),
            ("DELETED", None)
        );
        assert!(queue.differences.is_empty());
        let in_sync = facts().drifts(&table(&[])).expect("drifts");
        assert!(in_sync.iter().all(|d| d.status == "IN_SYNC"));
        assert_eq!(
            in_sync[1].actual_properties.as_deref(),
            Some(r#"{"DelaySeconds":"20"}"#)
        );
    }

    #[test]
    fn a_table_that_names_what_the_stack_lacks_fails_the_detection() {
        let missing = facts().drifts(&table(&["app:Bucket:DELETED"]));
        assert!(missing.is_err_and(|e| e.contains("resource `Bucket`")));
        let unset = facts().drifts(&table(&["app:Queue:/VisibilityTimeout=3"]));
        assert!(unset.is_err_and(|e| e.contains("property `/VisibilityTimeout` of `Queue`")));
    }
}
