//! The action's `UserParameters`: a JSON object, validated key by key, with errors that name
//! the key at fault and say what to write instead.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::deploy::Mode;

/// An example to show in errors.
const EXAMPLE: &str =
    r#"{"stack": "my-stack", "artifact": "BuildOutput", "file": "template.yaml"}"#;

/// Every key `UserParameters` accepts: the AWS sample's, and the built-in CloudFormation
/// action's names for the same and further settings.
pub const KNOWN_KEYS: &[&str] = &[
    "stack",
    "artifact",
    "file",
    "StackName",
    "TemplatePath",
    "Capabilities",
    "ParameterOverrides",
    "RoleArn",
    "Tags",
    "ActionMode",
    "TemplateConfiguration",
    "OutputFileName",
    "ChangeSetName",
];

/// The action modes supported, as the built-in action spells them.
pub const ACTION_MODES: &[&str] = &[
    "CREATE_UPDATE",
    "REPLACE_ON_FAILURE",
    "DELETE_ONLY",
    "CHANGE_SET_REPLACE",
    "CHANGE_SET_EXECUTE",
];

/// What the action does to the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create or update the stack from a template.
    Deploy {
        /// Where the template lies.
        template: TemplatePath,
        /// What to do with a stack that never worked.
        mode: Mode,
    },
    /// Delete the stack (`DELETE_ONLY`); an absent stack is success.
    Delete,
    /// Create a change set for review, replacing one of the same name (`CHANGE_SET_REPLACE`).
    ChangeSetReplace {
        /// Where the template lies.
        template: TemplatePath,
        /// The change set's name.
        change_set: String,
    },
    /// Execute a change set created earlier (`CHANGE_SET_EXECUTE`).
    ChangeSetExecute {
        /// The change set's name.
        change_set: String,
    },
}

/// The capabilities CloudFormation knows.
pub const CAPABILITIES: &[&str] = &[
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

/// CloudFormation's limit on a stack's tags.
const MAX_TAGS: usize = 50;

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
    /// What to do to it.
    pub action: Action,
    /// Capabilities acknowledged for the template (IAM resources, macros).
    pub capabilities: Vec<String>,
    /// Template parameter values; parameters not named keep their previous value on update.
    pub parameter_overrides: BTreeMap<String, ParamValue>,
    /// A JSON file in an artifact with `Parameters`, `Tags` and `StackPolicy`; the settings
    /// above win over it.
    pub template_configuration: Option<TemplatePath>,
    /// A file name: the stack's outputs, as JSON, are written to it in the first output
    /// artifact.
    pub output_file_name: Option<String>,
    /// The service role CloudFormation acts with, instead of the function's own role.
    pub role_arn: Option<String>,
    /// Tags for the stack (and so for its resources).
    pub tags: BTreeMap<String, String>,
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
    #[serde(rename = "StackName")]
    stack_name: Option<String>,
    #[serde(rename = "TemplatePath")]
    template_path: Option<String>,
    #[serde(rename = "Capabilities")]
    capabilities: Option<StringOrList>,
    #[serde(rename = "ParameterOverrides")]
    parameter_overrides: Option<Value>,
    #[serde(rename = "RoleArn")]
    role_arn: Option<String>,
    #[serde(rename = "Tags")]
    tags: Option<Value>,
    #[serde(rename = "ActionMode")]
    action_mode: Option<String>,
    #[serde(rename = "TemplateConfiguration")]
    template_configuration: Option<String>,
    #[serde(rename = "OutputFileName")]
    output_file_name: Option<String>,
    #[serde(rename = "ChangeSetName")]
    change_set_name: Option<String>,
}

/// A parameter value: given, or taken from the pipeline's artifacts as the built-in action's
/// functions take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// The value itself.
    Literal(String),
    /// `{"Fn::GetParam": [artifact, file, key]}`: a key of a JSON file in an input artifact.
    GetParam {
        /// The input artifact.
        artifact: String,
        /// The JSON file in it.
        file: String,
        /// The key in the file.
        key: String,
    },
    /// `{"Fn::GetArtifactAtt": [artifact, attribute]}`: where an input artifact lies.
    ArtifactAtt {
        /// The input artifact.
        artifact: String,
        /// `BucketName`, `ObjectKey` or `URL`.
        attribute: ArtifactAttribute,
    },
}

/// What `Fn::GetArtifactAtt` can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactAttribute {
    /// The artifact's bucket.
    BucketName,
    /// The artifact's object key.
    ObjectKey,
    /// The artifact's S3 URL.
    Url,
}

/// Reads one `ParameterOverrides` value.
fn param_value(name: &str, value: Value) -> Result<ParamValue, ParamsError> {
    let bad = |problem: String| ParamsError::BadValue {
        key: "ParameterOverrides".into(),
        problem: format!("`{name}` {problem}"),
    };
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

/// Reads `ParameterOverrides`' object.
fn object_values(value: Value) -> Result<BTreeMap<String, ParamValue>, ParamsError> {
    let Value::Object(map) = value else {
        return Err(ParamsError::BadValue {
            key: "ParameterOverrides".into(),
            problem: format!(
                "must be an object of names to values, not {}",
                kind_of(&value)
            ),
        });
    };
    map.into_iter()
        .map(|(name, v)| Ok((name.clone(), param_value(&name, v)?)))
        .collect()
}

/// Reads an `Artifact::path` setting.
fn artifact_path(key: &'static str, path: &str) -> Result<(String, String), ParamsError> {
    match path.split_once("::") {
        Some((a, f)) if !a.is_empty() && !f.is_empty() => Ok((a.to_owned(), f.to_owned())),
        _ => Err(ParamsError::BadValue {
            key: key.into(),
            problem: format!("`{path}` is not of the form `ArtifactName::path/in/artifact`"),
        }),
    }
}

/// A list, or the built-in action's comma-separated string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

/// One setting written two ways (the sample's and the built-in action's): they must agree.
fn one_of(
    a: Option<String>,
    a_key: &'static str,
    b: Option<String>,
    b_key: &'static str,
) -> Result<Option<String>, ParamsError> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(ParamsError::BadValue {
            key: a_key.into(),
            problem: format!("`{a_key}` (`{x}`) and `{b_key}` (`{y}`) name the same setting differently: keep one"),
        }),
        (x, y) => Ok(x.or(y)),
    }
}

/// Reads an object of strings, given as an object or as a JSON string holding one (the
/// built-in action's form). Numbers and booleans are taken as their text.
fn string_map(
    value: Option<Value>,
    key: &'static str,
) -> Result<BTreeMap<String, String>, ParamsError> {
    let bad = |problem: String| ParamsError::BadValue {
        key: key.into(),
        problem,
    };
    let value = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::String(text)) => serde_json::from_str(&text)
            .map_err(|e| bad(format!("is a string but not a JSON object ({e})")))?,
        Some(v) => v,
    };
    let Value::Object(map) = value else {
        return Err(bad(format!(
            "must be an object of names to values, not {}",
            kind_of(&value)
        )));
    };
    map.into_iter()
        .map(|(name, v)| match v {
            Value::String(s) => Ok((name, s)),
            Value::Number(n) => Ok((name, n.to_string())),
            Value::Bool(b) => Ok((name, b.to_string())),
            other => Err(bad(format!(
                "`{name}` must be a string, not {}",
                kind_of(&other)
            ))),
        })
        .collect()
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
    check_name(name, "stack", "stack")
}

/// Checks a stack or change set name: a letter, then letters, digits and hyphens, 128
/// characters at most.
fn check_name(name: &str, key: &str, what: &str) -> Result<(), ParamsError> {
    let bad = |why: &str| {
        ParamsError::BadValue {
        key: key.into(),
        problem: format!(
            "`{name}` is not a valid {what} name: {why} (a {what} name starts with a letter and holds only letters, digits and hyphens, {MAX_STACK_NAME} characters at most)"
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
    /// The template, for the actions that deploy one.
    pub fn template(&self) -> Option<&TemplatePath> {
        match &self.action {
            Action::Deploy { template, .. } | Action::ChangeSetReplace { template, .. } => {
                Some(template)
            }
            Action::Delete | Action::ChangeSetExecute { .. } => None,
        }
    }

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
        let stack = one_of(raw.stack, "stack", raw.stack_name, "StackName")?;
        let stack = require(
            stack,
            "stack",
            "the name of the stack to deploy (or `StackName`)",
        )?;
        check_stack_name(&stack)?;
        let (path_artifact, path_file) = match raw.template_path {
            None => (None, None),
            Some(path) => {
                let (a, f) = artifact_path("TemplatePath", &path)?;
                (Some(a), Some(f))
            }
        };
        let artifact = one_of(raw.artifact, "artifact", path_artifact, "TemplatePath")?;
        let file = one_of(raw.file, "file", path_file, "TemplatePath")?;
        let template =
            |artifact: Option<String>, file: Option<String>| -> Result<TemplatePath, ParamsError> {
                let artifact = require(
                    artifact,
                    "artifact",
                    "the name of the input artifact that holds the template (or `TemplatePath`)",
                )?;
                let file = require(
                    file,
                    "file",
                    "the template's path inside the artifact (or `TemplatePath`)",
                )?;
                Ok(TemplatePath { artifact, file })
            };
        let change_set = |name: Option<String>| -> Result<String, ParamsError> {
            let name = require(
                name,
                "ChangeSetName",
                "the change set's name, which the change-set modes need",
            )?;
            check_name(&name, "ChangeSetName", "change set")?;
            Ok(name)
        };
        let action = match raw.action_mode.as_deref().map(str::trim) {
            None | Some("CREATE_UPDATE") => Action::Deploy {
                template: template(artifact, file)?,
                mode: Mode::CreateUpdate,
            },
            Some("REPLACE_ON_FAILURE") => Action::Deploy {
                template: template(artifact, file)?,
                mode: Mode::ReplaceOnFailure,
            },
            // A delete needs no template.
            Some("DELETE_ONLY") => Action::Delete,
            Some("CHANGE_SET_REPLACE") => Action::ChangeSetReplace {
                template: template(artifact, file)?,
                change_set: change_set(raw.change_set_name)?,
            },
            // Executing needs only the change set: its template was given when it was created.
            Some("CHANGE_SET_EXECUTE") => Action::ChangeSetExecute {
                change_set: change_set(raw.change_set_name)?,
            },
            Some(other) => {
                return Err(ParamsError::BadValue {
                    key: "ActionMode".into(),
                    problem: format!(
                        "`{other}` is not an action mode; use one of {}",
                        ACTION_MODES.join(", ")
                    ),
                })
            }
        };
        let capabilities = match raw.capabilities {
            None => Vec::new(),
            Some(StringOrList::One(text)) => text
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect(),
            Some(StringOrList::Many(list)) => list,
        };
        if let Some(bad) = capabilities
            .iter()
            .find(|c| !CAPABILITIES.contains(&c.as_str()))
        {
            return Err(ParamsError::BadValue {
                key: "Capabilities".into(),
                problem: format!(
                    "`{bad}` is not a capability; use {}",
                    CAPABILITIES.join(", ")
                ),
            });
        }
        let mut capabilities = capabilities;
        capabilities.sort();
        capabilities.dedup();
        let parameter_overrides = match raw.parameter_overrides {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::String(text)) => {
                let parsed: Value =
                    serde_json::from_str(&text).map_err(|e| ParamsError::BadValue {
                        key: "ParameterOverrides".into(),
                        problem: format!("is a string but not a JSON object ({e})"),
                    })?;
                object_values(parsed)?
            }
            Some(v) => object_values(v)?,
        };
        let template_configuration =
            match raw.template_configuration.filter(|t| !t.trim().is_empty()) {
                None => None,
                Some(path) => {
                    let (artifact, file) = artifact_path("TemplateConfiguration", &path)?;
                    Some(TemplatePath { artifact, file })
                }
            };
        let tags = string_map(raw.tags, "Tags")?;
        if tags.len() > MAX_TAGS {
            return Err(ParamsError::BadValue {
                key: "Tags".into(),
                problem: format!("{} tags, over CloudFormation's {MAX_TAGS}", tags.len()),
            });
        }
        if let Some((k, _)) = tags
            .iter()
            .find(|(k, v)| k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256)
        {
            return Err(ParamsError::BadValue {
                key: "Tags".into(),
                problem: format!("tag `{k}`: keys are 1 to 128 characters, values at most 256"),
            });
        }
        let role_arn = raw.role_arn.filter(|r| !r.trim().is_empty());
        if let Some(arn) = &role_arn {
            let looks_right =
                arn.starts_with("arn:") && arn.contains(":iam::") && arn.contains(":role/");
            if !looks_right {
                return Err(ParamsError::BadValue {
                    key: "RoleArn".into(),
                    problem: format!(
                        "`{arn}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
                    ),
                });
            }
        }
        let output_file_name = raw.output_file_name.filter(|n| !n.trim().is_empty());
        if let Some(name) = &output_file_name {
            let plain = !name.contains(['/', '\\', '\0']) && name != "." && name != "..";
            if !plain {
                return Err(ParamsError::BadValue {
                    key: "OutputFileName".into(),
                    problem: format!("`{name}` must be a plain file name, such as outputs.json"),
                });
            }
        }
        Ok(Self {
            stack,
            action,
            capabilities,
            parameter_overrides,
            template_configuration,
            output_file_name,
            role_arn,
            tags,
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
        assert_eq!(p.template().expect("template").artifact, "BuildOutput");
        assert_eq!(p.template().expect("template").file, "infra/template.yaml");
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
        for key in KNOWN_KEYS {
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn the_built_in_actions_names_work_too() {
        let p = Params::parse(Some(
            r#"{"StackName": "orders-api", "TemplatePath": "BuildOutput::infra/template.yaml",
                "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
                "ParameterOverrides": "{\"Env\": \"prod\", \"Replicas\": 3}",
                "RoleArn": "arn:aws:iam::123456789012:role/cfn", "Tags": {"team": "orders"}}"#,
        ))
        .expect("valid");
        assert_eq!(p.stack, "orders-api");
        assert_eq!(
            (
                p.template().expect("template").artifact.as_str(),
                p.template().expect("template").file.as_str()
            ),
            ("BuildOutput", "infra/template.yaml")
        );
        assert_eq!(p.capabilities, ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM"]);
        assert_eq!(
            p.parameter_overrides.get("Replicas"),
            Some(&ParamValue::Literal("3".into()))
        );
        assert_eq!(
            p.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/cfn")
        );
        assert_eq!(p.tags.get("team").map(String::as_str), Some("orders"));
    }

    #[test]
    fn conflicting_and_bad_settings_name_the_key() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"stack": "a", "StackName": "b", "artifact": "A", "file": "t"}"#,
                "`stack` (`a`) and `StackName` (`b`)",
            ),
            (
                r#"{"stack": "a", "TemplatePath": "A::t", "artifact": "B"}"#,
                "`artifact` (`B`) and `TemplatePath` (`A`)",
            ),
            (
                r#"{"stack": "a", "TemplatePath": "A:t"}"#,
                "key `TemplatePath`",
            ),
            (
                r#"{"stack": "a", "TemplatePath": "A::t", "Capabilities": ["CAPABILITY_ROOT"]}"#,
                "key `Capabilities`: `CAPABILITY_ROOT`",
            ),
            (
                r#"{"stack": "a", "TemplatePath": "A::t", "ParameterOverrides": "{bad"}"#,
                "key `ParameterOverrides`",
            ),
            (
                r#"{"stack": "a", "TemplatePath": "A::t", "ParameterOverrides": {"X": {"Fn::Nope": 1}}}"#,
                "`X` uses `Fn::Nope`",
            ),
            (
                r#"{"stack": "a", "TemplatePath": "A::t", "RoleArn": "cfn-role"}"#,
                "key `RoleArn`",
            ),
            (
                r#"{"stack": "a", "TemplatePath": "A::t", "Tags": ["x"]}"#,
                "key `Tags`",
            ),
        ];
        for (input, needle) in cases {
            let err = Params::parse(Some(input)).expect_err(input).to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
        // The same value written both ways is no conflict.
        assert!(Params::parse(Some(
            r#"{"stack": "a", "StackName": "a", "TemplatePath": "A::t", "artifact": "A"}"#
        ))
        .is_ok());
    }

    #[test]
    fn parameter_functions_and_template_configuration_parse() {
        let p = Params::parse(Some(
            r#"{"stack": "a", "TemplatePath": "A::t", "TemplateConfiguration": "Config::prod.json",
                "ParameterOverrides": {"Image": {"Fn::GetParam": ["Build", "image.json", "tag"]},
                                       "Bucket": {"Fn::GetArtifactAtt": ["Build", "BucketName"]}}}"#,
        ))
        .expect("valid");
        assert_eq!(
            p.template_configuration,
            Some(TemplatePath {
                artifact: "Config".into(),
                file: "prod.json".into()
            })
        );
        assert_eq!(
            p.parameter_overrides.get("Image"),
            Some(&ParamValue::GetParam {
                artifact: "Build".into(),
                file: "image.json".into(),
                key: "tag".into()
            })
        );
        assert_eq!(
            p.parameter_overrides.get("Bucket"),
            Some(&ParamValue::ArtifactAtt {
                artifact: "Build".into(),
                attribute: ArtifactAttribute::BucketName
            })
        );
        for (bad, needle) in [
            (
                r#"{"Fn::GetParam": ["Build", "image.json"]}"#,
                "must be written",
            ),
            (
                r#"{"Fn::GetArtifactAtt": ["Build", "Arn"]}"#,
                "asks for `Arn`",
            ),
            (r#"{"Fn::Sub": "x"}"#, "uses `Fn::Sub`"),
        ] {
            let input = format!(
                r#"{{"stack": "a", "TemplatePath": "A::t", "ParameterOverrides": {{"X": {bad}}}}}"#
            );
            let err = Params::parse(Some(&input)).expect_err(bad).to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
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
