//! Small YAML or JSON documents read into a value (a stack group's manifest), under the same
//! bounds as templates: no aliases, [`MAX_DEPTH`] levels, [`MAX_NODES`] nodes. Every scalar is
//! read as text, as CloudFormation reads parameter values; `null`, `~` and empty are null.

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser};
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
    List(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

/// Reads the first document of `text` (YAML, or JSON, which YAML reads too).
pub fn read(text: &str) -> Result<Value, DocumentError> {
    let mut parser = Parser::new_from_str(text);
    let mut open: Vec<Open> = Vec::new();
    let mut nodes = 0usize;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| DocumentError::Syntax(e.to_string()))?;
        let node = match event {
            Event::Alias(_) => return Err(TemplateError::Alias.into()),
            Event::Scalar(text, style, ..) => {
                let plain = style == TScalarStyle::Plain;
                if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                    Value::Null
                } else {
                    Value::String(text)
                }
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(TemplateError::TooLarge.into());
                }
                if open.len() >= MAX_DEPTH {
                    return Err(TemplateError::TooDeep.into());
                }
                if let Some(Open::Map(_, None)) = open.last() {
                    return Err(DocumentError::ComplexKey);
                }
                open.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::List(Vec::new())
                } else {
                    Open::Map(Map::new(), None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some(Open::List(items)) => Value::Array(items),
                Some(Open::Map(map, _)) => Value::Object(map),
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
            Some(Open::List(items)) => items.push(node),
            Some(Open::Map(map, key)) => match key.take() {
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
