//! Small YAML or JSON documents read into a value (a stack group's manifest, a template read
//! for its values), under the same bounds as templates: no aliases, [`MAX_DEPTH`] levels,
//! [`MAX_NODES`] nodes. Every scalar is read as text, as CloudFormation reads parameter
//! values; `null`, `~` and empty are null.

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use crate::template::{TemplateError, MAX_DEPTH, MAX_NODES};

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Refused before it was built, as a template would be.
    #[error(transparent)]
    Refused(#[from] TemplateError),
    /// Not YAML or JSON.
    #[error("it is not valid YAML or JSON ({0})")]
    Syntax(String),
    /// A map key that is not a plain scalar.
    #[error("a map key is a list or a map; keys must be text")]
    ComplexKey,
    /// Nothing in it.
    #[error("it is empty")]
    Empty,
}

enum Open {
    List(Vec<Value>, Option<Tag>),
    Map(Map<String, Value>, Option<String>, Option<Tag>),
}

/// `value` under `tag`: a CloudFormation short form (`!Name`) becomes its long form; other
/// tags (`!!str`) leave the value as it is.
fn long_form(tag: Option<Tag>, value: Value) -> Value {
    let Some(tag) = tag.filter(|t| t.handle == "!" && !t.suffix.is_empty()) else {
        return value;
    };
    let key = match tag.suffix.as_str() {
        "Ref" | "Condition" => tag.suffix.clone(),
        other => format!("Fn::{other}"),
    };
    let value = match (tag.suffix.as_str(), value) {
        // `!GetAtt Resource.Attribute` is the list form's text.
        ("GetAtt", Value::String(s)) => match s.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![resource.into(), attribute.into()]),
            None => Value::String(s),
        },
        (_, value) => value,
    };
    Value::Object(Map::from_iter([(key, value)]))
}

/// Reads the first document of `text` (YAML, or JSON, which YAML reads too).
pub fn read(text: &str) -> Result<Value, DocumentError> {
    parse(text, false)
}

/// Reads a template as CloudFormation does: as [`read`], but with the short-form tags read as
/// the long forms they stand for (`!Ref X` is `{"Ref": "X"}`, `!GetAtt A.B` is
/// `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` is `{"Fn::Sub": "s"}`), where [`read`] drops tags,
/// so that a reference is told from a literal.
pub fn read_template(text: &str) -> Result<Value, DocumentError> {
    parse(text, true)
}

fn parse(text: &str, long_forms: bool) -> Result<Value, DocumentError> {
    let mut parser = Parser::new_from_str(text);
    let mut open: Vec<Open> = Vec::new();
    let mut nodes = 0usize;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| DocumentError::Syntax(e.to_string()))?;
        let list = matches!(event, Event::SequenceStart(..));
        let node = match event {
            Event::Alias(_) => return Err(TemplateError::Alias.into()),
            Event::Scalar(text, style, _, tag) => {
                let tag = tag.filter(|_| long_forms);
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let value = if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Value::Null
                } else {
                    Value::String(text)
                };
                long_form(tag, value)
            }
            Event::SequenceStart(_, tag) | Event::MappingStart(_, tag) => {
                let tag = tag.filter(|_| long_forms);
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(TemplateError::TooLarge.into());
                }
                if open.len() >= MAX_DEPTH {
                    return Err(TemplateError::TooDeep.into());
                }
                if let Some(Open::Map(_, None, _)) = open.last() {
                    return Err(DocumentError::ComplexKey);
                }
                open.push(if list {
                    Open::List(Vec::new(), tag)
                } else {
                    Open::Map(Map::new(), None, tag)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some(Open::List(items, tag)) => long_form(tag, Value::Array(items)),
                Some(Open::Map(map, _, tag)) => long_form(tag, Value::Object(map)),
                None => return Err(DocumentError::Syntax(format!("unbalanced at {mark:?}"))),
            },
            Event::DocumentEnd | Event::StreamEnd => return Err(DocumentError::Empty),
            Event::StreamStart | Event::DocumentStart | Event::Nothing => continue,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(TemplateError::TooLarge.into());
        }
        match open.last_mut() {
            None => return Ok(node),
            Some(Open::List(items, _)) => items.push(node),
            Some(Open::Map(map, key, _)) => match key.take() {
                Some(k) => {
                    map.insert(k, node);
                }
                None => match node {
                    Value::String(k) => *key = Some(k),
                    Value::Null => *key = Some(String::new()),
                    _ => return Err(DocumentError::ComplexKey),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_and_json_read_alike_with_scalars_as_text() {
        let yaml = "MaxConcurrency: 4\nStacks:\n  api:\n    DependsOn: [data]\n    Parameters:\n      VpcId: {Output: network.VpcId}\n      Flag: true\n      Empty: ~\n";
        let want = json!({"MaxConcurrency": "4", "Stacks": {"api": {"DependsOn": ["data"], "Parameters": {"VpcId": {"Output": "network.VpcId"}, "Flag": "true", "Empty": null}}}});
        assert_eq!(read(yaml), Ok(want.clone()));
        let json_text = r#"{"MaxConcurrency": 4, "Stacks": {"api": {"DependsOn": ["data"], "Parameters": {"VpcId": {"Output": "network.VpcId"}, "Flag": true, "Empty": null}}}}"#;
        assert_eq!(read(json_text), Ok(want));
        assert_eq!(read("'null'"), Ok(json!("null")));
    }

    #[test]
    fn short_forms_read_as_long_forms_and_json_reads_alike() {
        let yaml = "Resources:\n  P:\n    Properties:\n      Value: !Ref Greeting\n      Name: !Sub \"/${AWS::StackName}/x\"\n      Arn: !GetAtt Topic.TopicArn\n      List: !Join [\",\", [a, !Ref B]]\n      Map: !If\n        - C\n        - {a: 1}\n        - !Ref AWS::NoValue\n      Plain: 20\n      Text: !!str 20\n";
        let want = json!({"Resources": {"P": {"Properties": {
            "Value": {"Ref": "Greeting"},
            "Name": {"Fn::Sub": "/${AWS::StackName}/x"},
            "Arn": {"Fn::GetAtt": ["Topic", "TopicArn"]},
            "List": {"Fn::Join": [",", ["a", {"Ref": "B"}]]},
            "Map": {"Fn::If": ["C", {"a": "1"}, {"Ref": "AWS::NoValue"}]},
            "Plain": "20",
            "Text": "20",
        }}}});
        assert_eq!(read_template(yaml), Ok(want));
        // The plain reader drops the tags.
        assert_eq!(read("V: !Ref Greeting\n"), Ok(json!({"V": "Greeting"})));
        let text =
            r#"{"Resources": {"P": {"Properties": {"Value": {"Ref": "Greeting"}, "N": 3}}}}"#;
        assert_eq!(
            read(text),
            Ok(
                json!({"Resources": {"P": {"Properties": {"Value": {"Ref": "Greeting"}, "N": "3"}}}})
            )
        );
    }

    #[test]
    fn hostile_and_broken_documents_are_refused() {
        let bomb = "a: &a [x, x]\nb: [*a, *a]\n";
        assert_eq!(
            read(bomb),
            Err(DocumentError::Refused(TemplateError::Alias))
        );
        let deep = format!("a: {}1{}\n", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            read(&deep),
            Err(DocumentError::Refused(TemplateError::TooDeep))
        );
        assert!(matches!(
            read("a: [unclosed"),
            Err(DocumentError::Syntax(_))
        ));
        assert_eq!(read(""), Err(DocumentError::Empty));
        assert_eq!(read("? [a]\n: 1\n"), Err(DocumentError::ComplexKey));
    }
}
