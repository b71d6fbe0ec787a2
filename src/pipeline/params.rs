//! The action's `UserParameters`: a JSON object, validated key by key, with errors that name
//! the key at fault and say what to write instead.

use serde::Deserialize;
use serde_json::{Map, Value};

/// An example to show in errors.
const EXAMPLE: &str =
    r#"{"stack": "my-stack", "artifact": "BuildOutput", "file": "template.yaml"}"#;

/// Every key `UserParameters` accepts.
pub const KNOWN_KEYS: &[&str] = &["stack", "artifact", "file"];

/// The longest stack name CloudFormation accepts.
const MAX_STACK_NAME: usize = 128;

/// Where the template lies: a file inside one of the action's input artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplatePath {
    /// The input artifact's name.
    pub artifact: String,
    /// The file's path inside the artifact's zip.
    pub file: String,
}

/// The validated parameters of one deploy action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The stack to deploy.
    pub stack: String,
    /// Where the template lies.
    pub template: TemplatePath,
}

/// `UserParameters` cannot be used; the message names the key and says what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// None given.
    #[error("UserParameters is empty: set it to a JSON object such as {EXAMPLE}")]
    Empty,
    /// Not JSON.
    #[error("UserParameters is not valid JSON ({0}): set it to a JSON object such as {EXAMPLE}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("UserParameters must be a JSON object, not {0}: for example {EXAMPLE}")]
    NotObject(&'static str),
    /// A key nobody reads: most likely a typo.
    #[error("UserParameters has unknown key `{key}`; the known keys are: {known}")]
    UnknownKey {
        /// The key.
        key: String,
        /// The keys that are known.
        known: String,
    },
    /// A required key is absent.
    #[error("UserParameters is missing the key `{key}`: {hint}")]
    MissingKey {
        /// The key.
        key: &'static str,
        /// What it is for.
        hint: &'static str,
    },
    /// A key has a value of the wrong type or form.
    #[error("UserParameters key `{key}`: {problem}")]
    BadValue {
        /// The key.
        key: String,
        /// What is wrong and what is expected.
        problem: String,
    },
}

/// The keys as written, before validation; new keys are added here and in [`KNOWN_KEYS`].
#[derive(Debug, Deserialize)]
struct Raw {
    stack: Option<String>,
    artifact: Option<String>,
    file: Option<String>,
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn require(
    value: Option<String>,
    key: &'static str,
    hint: &'static str,
) -> Result<String, ParamsError> {
    match value {
        None => Err(ParamsError::MissingKey { key, hint }),
        Some(v) if v.trim().is_empty() => Err(ParamsError::BadValue {
            key: key.into(),
            problem: format!("must not be empty; {hint}"),
        }),
        Some(v) => Ok(v),
    }
}

/// Checks a stack name against CloudFormation's rule: a letter, then letters, digits and
/// hyphens, 128 characters at most.
pub fn check_stack_name(name: &str) -> Result<(), ParamsError> {
    let bad = |why: &str| {
        ParamsError::BadValue {
        key: "stack".into(),
        problem: format!(
            "`{name}` is not a valid stack name: {why} (a stack name starts with a letter and holds only letters, digits and hyphens, {MAX_STACK_NAME} characters at most)"
        ),
    }
    };
    if name.chars().count() > MAX_STACK_NAME {
        return Err(bad("it is too long"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(bad("it does not start with a letter"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(bad(&format!("it contains `{c}`")));
    }
    Ok(())
}

impl Params {
    /// Parses and validates `UserParameters`.
    pub fn parse(user_parameters: Option<&str>) -> Result<Self, ParamsError> {
        let text = user_parameters.map(str::trim).unwrap_or_default();
        if text.is_empty() {
            return Err(ParamsError::Empty);
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| ParamsError::NotJson(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(ParamsError::NotObject(kind_of(&value)));
        };
        check_keys(&map)?;
        let raw: Raw = serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
            ParamsError::BadValue {
                key: e.path().to_string(),
                problem: e.inner().to_string(),
            }
        })?;
        let stack = require(raw.stack, "stack", "the name of the stack to deploy")?;
        check_stack_name(&stack)?;
        let artifact = require(
            raw.artifact,
            "artifact",
            "the name of the input artifact that holds the template",
        )?;
        let file = require(raw.file, "file", "the template's path inside the artifact")?;
        Ok(Self {
            stack,
            template: TemplatePath { artifact, file },
        })
    }
}

fn check_keys(map: &Map<String, Value>) -> Result<(), ParamsError> {
    match map.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        Some(key) => Err(ParamsError::UnknownKey {
            key: key.clone(),
            known: KNOWN_KEYS.join(", "),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_keys_work_unchanged() {
        let p = Params::parse(Some(
            r#"{"stack": "orders-api", "artifact": "BuildOutput", "file": "infra/template.yaml"}"#,
        ))
        .expect("valid");
        assert_eq!(p.stack, "orders-api");
        assert_eq!(p.template.artifact, "BuildOutput");
        assert_eq!(p.template.file, "infra/template.yaml");
    }

    /// Each bad input, and a word its message must contain.
    #[test]
    fn bad_parameters_name_the_key() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, "empty"),
            (Some("  "), "empty"),
            (Some("stack=orders"), "not valid JSON"),
            (Some("[1]"), "not an array"),
            (Some("\"orders\""), "not a string"),
            (Some(r#"{"artifact": "A", "file": "t.yaml"}"#), "`stack`"),
            (Some(r#"{"stack": "s", "file": "t.yaml"}"#), "`artifact`"),
            (Some(r#"{"stack": "s", "artifact": "A"}"#), "`file`"),
            (
                Some(r#"{"stack": 5, "artifact": "A", "file": "t"}"#),
                "`stack`",
            ),
            (
                Some(r#"{"stack": "s", "artifact": ["A"], "file": "t"}"#),
                "`artifact`",
            ),
            (
                Some(r#"{"stack": "s", "artifact": "A", "file": ""}"#),
                "`file`",
            ),
            (
                Some(r#"{"stack": "s", "artifact": "A", "file": "t", "stak": 1}"#),
                "`stak`",
            ),
            (
                Some(r#"{"stack": "9lives", "artifact": "A", "file": "t"}"#),
                "start with a letter",
            ),
            (
                Some(r#"{"stack": "my_stack", "artifact": "A", "file": "t"}"#),
                "contains `_`",
            ),
        ];
        for (input, needle) in cases {
            let err = Params::parse(*input).expect_err("must fail").to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn unknown_keys_list_the_known_ones() {
        let err = Params::parse(Some(
            r#"{"stack":"s","artifact":"A","file":"t","Stack":"x"}"#,
        ))
        .expect_err("unknown key")
        .to_string();
        assert!(err.contains("stack, artifact, file"), "{err}");
    }

    #[test]
    fn stack_names_follow_cloudformation_rules() {
        assert!(check_stack_name("a").is_ok());
        assert!(check_stack_name("orders-api-2").is_ok());
        assert!(check_stack_name(&format!("a{}", "b".repeat(127))).is_ok());
        assert!(check_stack_name(&format!("a{}", "b".repeat(128))).is_err());
        assert!(check_stack_name("").is_err());
        assert!(check_stack_name("-a").is_err());
    }
}
