//! Reading one value of a setting: a document from JSON, maps of text, lists, names and
//! paths, each with an error that names the key and the front.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{ArtifactAttribute, ArtifactPath, Front, ParamValue, ParamsError};

/// The longest stack or change set name CloudFormation accepts.
const MAX_NAME: usize = 128;

/// Deserializes a front's document: serde decides which keys exist and what type each has.
pub(crate) fn document<T: DeserializeOwned>(front: Front, value: Value) -> Result<T, ParamsError> {
    if !value.is_object() {
        return Err(ParamsError::NotObject {
            front,
            kind: kind_of(&value),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        // serde words an unknown key "unknown field `KEY`, expected one of …".
        match message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
        {
            Some((key, _)) => ParamsError::UnknownKey {
                front,
                key: key.to_owned(),
                message,
            },
            None => ParamsError::BadValue {
                front,
                key: e.path().to_string(),
                problem: message,
            },
        }
    })
}

/// A short name for a JSON value's type, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn bad(front: Front, key: &str, problem: impl Into<String>) -> ParamsError {
    ParamsError::BadValue {
        front,
        key: key.to_owned(),
        problem: problem.into(),
    }
}

/// The value, or the JSON it holds when it is a string (the built-in action's form for
/// structured settings).
fn unwrap_text(front: Front, key: &str, value: Value, form: &str) -> Result<Value, ParamsError> {
    match value {
        Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| bad(front, key, format!("is a string but not {form} ({e})"))),
        other => Ok(other),
    }
}

/// An object of text values (numbers and booleans taken as their text), given as an object or
/// as a JSON string holding one: tags, and the maps inside `Build`.
pub(crate) fn text_map(
    front: Front,
    key: &str,
    value: Option<Value>,
) -> Result<BTreeMap<String, String>, ParamsError> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(v) => text_values(unwrap_text(front, key, v, "a JSON object")?)
            .map_err(|problem| bad(front, key, problem)),
    }
}

/// The one reader of name-to-text maps: an object of strings, numbers and booleans (taken as
/// their text), or what is wrong with it.
pub fn text_values(value: Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "must be an object of names to values, not {}",
            kind_of(&value)
        ));
    };
    map.into_iter()
        .map(|(name, v)| match v {
            Value::String(s) => Ok((name, s)),
            Value::Number(n) => Ok((name, n.to_string())),
            Value::Bool(b) => Ok((name, b.to_string())),
            other => Err(format!(
                "`{name}` must be a string, not {}",
                kind_of(&other)
            )),
        })
        .collect()
}

/// A list of strings: a JSON list, or the built-in action's comma-separated string.
pub(crate) fn string_list(
    front: Front,
    key: &str,
    value: Option<Value>,
) -> Result<Vec<String>, ParamsError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if text.trim_start().starts_with('[') => string_list(
            front,
            key,
            Some(unwrap_text(front, key, Value::String(text), "a JSON list")?),
        ),
        Some(Value::String(text)) => Ok(text
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect()),
        Some(Value::Array(list)) => list
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                other => Err(bad(
                    front,
                    key,
                    format!("must list strings, not {}", kind_of(&other)),
                )),
            })
            .collect(),
        Some(other) => Err(bad(
            front,
            key,
            format!(
                "must be a list or a comma-separated string, not {}",
                kind_of(&other)
            ),
        )),
    }
}

/// A boolean: `true` / `false`, or the same as a string (a custom action's form).
pub(crate) fn boolean(
    front: Front,
    key: &str,
    value: Option<Value>,
) -> Result<Option<bool>, ParamsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(bad(
            front,
            key,
            format!("must be true or false, not {}", shown(&other)),
        )),
    }
}

/// A whole number from `min` to `max`, or the same as a string.
pub(crate) fn number(
    front: Front,
    key: &str,
    value: Option<Value>,
    min: u64,
    max: u64,
) -> Result<Option<u32>, ParamsError> {
    let n = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(u32::try_from(n).ok()),
        _ => Err(bad(
            front,
            key,
            format!("must be a whole number from {min} to {max}"),
        )),
    }
}

/// A value shown in a message: a short string in quotes, else its type.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() <= 40 => format!("`{s}`"),
        other => kind_of(other).to_owned(),
    }
}

/// `ParameterOverrides`: an object (or a JSON string holding one) of values.
pub(crate) fn overrides(
    front: Front,
    value: Option<Value>,
) -> Result<BTreeMap<String, ParamValue>, ParamsError> {
    const KEY: &str = "ParameterOverrides";
    let value = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(v) => unwrap_text(front, KEY, v, "a JSON object")?,
    };
    let Value::Object(map) = value else {
        return Err(bad(
            front,
            KEY,
            format!(
                "must be an object of names to values, not {}",
                kind_of(&value)
            ),
        ));
    };
    map.into_iter()
        .map(|(name, v)| Ok((name.clone(), param_value(front, &name, v)?)))
        .collect()
}

/// Reads one `ParameterOverrides` value.
fn param_value(front: Front, name: &str, value: Value) -> Result<ParamValue, ParamsError> {
    let bad = |problem: String| bad(front, "ParameterOverrides", format!("`{name}` {problem}"));
    let strings = |args: &Value, n: usize, form: &str| -> Result<Vec<String>, ParamsError> {
        match args.as_array() {
            Some(list)
                if list.len() == n
                    && list
                        .iter()
                        .all(|a| a.as_str().is_some_and(|s| !s.is_empty())) =>
            {
                Ok(list
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect())
            }
            _ => Err(bad(format!("must be written {form}"))),
        }
    };
    match value {
        Value::String(s) => Ok(ParamValue::Literal(s)),
        Value::Number(n) => Ok(ParamValue::Literal(n.to_string())),
        Value::Bool(b) => Ok(ParamValue::Literal(b.to_string())),
        Value::Object(map) if map.len() == 1 => {
            let (function, args) = map
                .into_iter()
                .next()
                .ok_or_else(|| bad("is empty".into()))?;
            match function.as_str() {
                "Fn::GetParam" => {
                    let a = strings(
                        &args,
                        3,
                        r#"{"Fn::GetParam": ["ArtifactName", "file.json", "key"]}"#,
                    )?;
                    check_file(front, "ParameterOverrides", &a[1])?;
                    Ok(ParamValue::GetParam {
                        artifact: a[0].clone(),
                        file: a[1].clone(),
                        key: a[2].clone(),
                    })
                }
                "Fn::GetArtifactAtt" => {
                    let a = strings(
                        &args,
                        2,
                        r#"{"Fn::GetArtifactAtt": ["ArtifactName", "BucketName|ObjectKey|URL"]}"#,
                    )?;
                    let attribute = match a[1].as_str() {
                        "BucketName" => ArtifactAttribute::BucketName,
                        "ObjectKey" => ArtifactAttribute::ObjectKey,
                        "URL" => ArtifactAttribute::Url,
                        other => return Err(bad(format!("asks for `{other}`; Fn::GetArtifactAtt reads BucketName, ObjectKey or URL"))),
                    };
                    Ok(ParamValue::ArtifactAtt {
                        artifact: a[0].clone(),
                        attribute,
                    })
                }
                other => Err(bad(format!(
                    "uses `{other}`; values are strings, Fn::GetParam or Fn::GetArtifactAtt"
                ))),
            }
        }
        other => Err(bad(format!(
            "must be a string, Fn::GetParam or Fn::GetArtifactAtt, not {}",
            kind_of(&other)
        ))),
    }
}

/// Reads an `ArtifactName::path/in/artifact` setting.
pub(crate) fn artifact_path(
    front: Front,
    key: &str,
    path: &str,
) -> Result<ArtifactPath, ParamsError> {
    match path.split_once("::") {
        Some((a, f)) if !a.is_empty() && !f.is_empty() => {
            check_file(front, key, f)?;
            Ok(ArtifactPath {
                artifact: a.to_owned(),
                file: f.to_owned(),
            })
        }
        _ => Err(bad(
            front,
            key,
            format!("`{path}` is not of the form `ArtifactName::path/in/artifact`"),
        )),
    }
}

/// Refuses a path inside an archive that could name something outside it.
pub(crate) fn check_file(front: Front, key: &str, path: &str) -> Result<(), ParamsError> {
    // The artifact reader's own rule, so that what passes here is what it will read.
    match cfn_deployer_artifact::check_path(path) {
        Ok(_) => Ok(()),
        Err(_) => Err(bad(
            front,
            key,
            format!("`{path}` is not a plain relative path inside the artifact: remove `..` and leading `/`"),
        )),
    }
}

/// One setting written two ways (the sample's and the built-in action's): they must agree.
pub(crate) fn one_of(
    front: Front,
    a: Option<String>,
    a_key: &'static str,
    b: Option<String>,
    b_key: &'static str,
) -> Result<Option<String>, ParamsError> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(bad(
            front,
            a_key,
            format!("`{a_key}` (`{x}`) and `{b_key}` (`{y}`) name the same setting differently: keep one"),
        )),
        (x, y) => Ok(x.or(y)),
    }
}

/// A required setting, present and not blank.
pub(crate) fn require(
    front: Front,
    value: Option<String>,
    key: &'static str,
    hint: &'static str,
) -> Result<String, ParamsError> {
    match value {
        None => Err(ParamsError::MissingKey { front, key, hint }),
        Some(v) if v.trim().is_empty() => {
            Err(bad(front, key, format!("must not be empty; {hint}")))
        }
        Some(v) => Ok(v),
    }
}

/// Checks a stack or change set name: a letter, then letters, digits and hyphens, 128
/// characters at most.
pub(crate) fn check_name(
    front: Front,
    name: &str,
    key: &str,
    what: &str,
) -> Result<(), ParamsError> {
    let refuse = |why: &str| {
        bad(
            front,
            key,
            format!(
                "`{name}` is not a valid {what} name: {why} (a {what} name starts with a letter and holds only letters, digits and hyphens, {MAX_NAME} characters at most)"
            ),
        )
    };
    if name.chars().count() > MAX_NAME {
        return Err(refuse("it is too long"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(refuse("it does not start with a letter"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(refuse(&format!("it contains `{c}`")));
    }
    Ok(())
}
