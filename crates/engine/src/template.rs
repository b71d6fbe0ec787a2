//! What the engine reads of a template itself: how many resources it declares, for progress.
//!
//! The template is read as a stream, never built into a tree: a hostile template (an alias
//! bomb, nesting thousands of levels deep) costs what its text costs and no more. YAML
//! aliases are refused as CloudFormation refuses them; depth and node count are capped.

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use yaml_rust2::parser::{Event, Parser};

/// The deepest YAML nesting read: serde_json's own recursion limit, so that JSON and YAML
/// templates are held to the same bound. CloudFormation templates rarely pass 20 levels.
/// Nothing here recurses, so the bound protects the time and memory of the read, not a stack.
pub const MAX_DEPTH: usize = 128;

/// The most nodes (scalars, lists, maps) read: a template of 1 MiB, CloudFormation's limit,
/// holds at most about half a million.
pub const MAX_NODES: usize = 1_000_000;

/// A template the engine refuses to read, before CloudFormation ever sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// YAML aliases (`*name`) repeat an anchored node; CloudFormation refuses them.
    #[error("YAML aliases are not allowed in CloudFormation templates: write the repeated part out, or use a parameter or mapping")]
    Alias,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error(
        "it is nested more than {MAX_DEPTH} levels deep; CloudFormation templates are far flatter"
    )]
    TooDeep,
    /// More than [`MAX_NODES`] nodes.
    #[error("it holds more than {MAX_NODES} values, more than a 1 MB template can")]
    TooLarge,
}

/// How many resources a template declares (JSON or YAML, CloudFormation's short-form tags
/// included): `Ok(None)` when it cannot be parsed (CloudFormation will say why), an error when
/// it must not be read at all.
pub fn resource_count(template: &str) -> Result<Option<u32>, TemplateError> {
    if template.trim_start().starts_with('{') {
        if let Some(counted) = json_resource_count(template) {
            return Ok(Some(counted));
        }
    }
    yaml_resource_count(template)
}

/// A JSON template's resources, counted without building it: the values are skipped by
/// serde_json, which does so without recursing. `None` when it is not JSON with `Resources`.
fn json_resource_count(template: &str) -> Option<u32> {
    #[derive(Deserialize)]
    struct Top {
        #[serde(rename = "Resources")]
        resources: Option<Keys>,
    }
    serde_json::from_str::<Top>(template)
        .ok()?
        .resources
        .map(|k| k.0)
}

/// The number of keys of a JSON object, its values skipped.
struct Keys(u32);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> Visitor<'de> for Count {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of resources")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut n = 0u32;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                    n = n.saturating_add(1);
                }
                Ok(Keys(n))
            }
        }
        d.deserialize_map(Count)
    }
}

/// One open list or map in the stream.
struct Frame {
    map: bool,
    /// In a map: whether the next node is a key.
    key_next: bool,
    /// Whether this is the top-level `Resources` map.
    resources: bool,
    /// Keys seen, for the `Resources` map.
    keys: u32,
}

/// A YAML template's resources, counted from the parser's events.
fn yaml_resource_count(template: &str) -> Result<Option<u32>, TemplateError> {
    let mut parser = Parser::new_from_str(template);
    let mut stack: Vec<Frame> = Vec::new();
    let mut top_key: Option<String> = None;
    let mut counted = None;
    let mut nodes = 0usize;
    loop {
        let Ok((event, _)) = parser.next_token() else {
            return Ok(None);
        };
        let starts_node = matches!(
            event,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        );
        if starts_node {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err(TemplateError::TooLarge);
            }
        }
        // Where the node sits: whether it is a key of its map, and of which map.
        let as_key = stack.last().is_some_and(|f| f.map && f.key_next);
        match event {
            Event::Alias(_) => return Err(TemplateError::Alias),
            Event::Scalar(value, ..) => {
                match stack.len() {
                    1 if as_key => top_key = Some(value),
                    2 if as_key && stack[1].resources => stack[1].keys += 1,
                    _ => {}
                }
                node_done(&mut stack);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(TemplateError::TooDeep);
                }
                let map = matches!(event, Event::MappingStart(..));
                let resources =
                    stack.len() == 1 && !as_key && map && top_key.as_deref() == Some("Resources");
                if stack.len() == 2 && as_key && stack[1].resources {
                    stack[1].keys += 1;
                }
                stack.push(Frame {
                    map,
                    key_next: true,
                    resources,
                    keys: 0,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = stack.pop() {
                    if frame.resources {
                        counted = Some(frame.keys);
                    }
                }
                node_done(&mut stack);
            }
            // Only the first document is a template.
            Event::DocumentEnd | Event::StreamEnd => return Ok(counted),
            Event::StreamStart | Event::DocumentStart | Event::Nothing => {}
        }
    }
}

/// A node ended: in a map, a key is followed by a value and a value by a key.
fn node_done(stack: &mut [Frame]) {
    if let Some(parent) = stack.last_mut() {
        if parent.map {
            parent.key_next = !parent.key_next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_declare_their_resource_count() {
        let yaml = "Resources:\n  A:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${AWS::StackName}-a'\n  B:\n    Type: AWS::SQS::Queue\nOutputs:\n  O:\n    Value: !GetAtt [A, Arn]\n";
        assert_eq!(resource_count(yaml), Ok(Some(2)));
        assert_eq!(
            resource_count(r#"{"Resources": {"A": {}, "B": {}, "C": {}}}"#),
            Ok(Some(3))
        );
        assert_eq!(
            resource_count("Parameters: {P: {Type: String}}\nResources: {A: {Type: X}}"),
            Ok(Some(1))
        );
        assert_eq!(resource_count("Outputs: {}"), Ok(None));
        assert_eq!(resource_count("Resources: [unclosed"), Ok(None));
        // A key named Resources deeper down is not the template's.
        assert_eq!(
            resource_count("Metadata:\n  Resources: {A: 1, B: 2}\nResources:\n  C: {}\n"),
            Ok(Some(1))
        );
    }

    #[test]
    fn aliases_depth_and_size_are_refused_before_building_anything() {
        let bomb = "Metadata:\n  a: &a [x, x]\n  b: [*a, *a]\nResources: {}\n";
        assert_eq!(resource_count(bomb), Err(TemplateError::Alias));
        let block = format!("Resources:\n{}x\n", "- ".repeat(20_000));
        assert_eq!(resource_count(&block), Err(TemplateError::TooDeep));
        let json = format!(
            "{{\"Resources\": {{\"A\": {}1{}}}}}",
            "[".repeat(5_000),
            "]".repeat(5_000)
        );
        // serde_json skips the values it does not keep without recursing: deep JSON costs no
        // stack, and the resources are still counted.
        assert_eq!(resource_count(&json), Ok(Some(1)));
        let deep_enough = format!("Resources:\n  A: {}1{}\n", "[".repeat(100), "]".repeat(100));
        assert_eq!(resource_count(&deep_enough), Ok(Some(1)));
    }
}
