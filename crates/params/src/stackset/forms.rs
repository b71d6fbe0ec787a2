//! The value forms the built-in stack-set actions take: `Parameters` as the CLI's shorthand
//! (`ParameterKey=K,ParameterValue=V[,UsePreviousValue=true] ...`), a JSON list or an object;
//! `DeploymentTargets` as a comma-separated list or a JSON list of account or OU ids.

use cfn_deployer_engine::stackset::{PermissionModel, SetParameter, Targets};
use serde_json::Value;

use crate::values::{self, bad, kind_of};
use crate::{Front, ParamsError};

/// Whether a value names a file of the input artifact (`Artifact::file.json`) rather than
/// giving the value itself.
pub(crate) fn is_file(text: &str) -> bool {
    let text = text.trim();
    text.contains("::") && !text.contains('=') && !text.starts_with(['[', '{'])
}

/// Whether `name` can be an IAM role's name.
pub(crate) fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// One shorthand entry: `ParameterKey=K,ParameterValue=V[,UsePreviousValue=true]`.
fn shorthand_entry(front: Front, key: &str, entry: &str) -> Result<SetParameter, ParamsError> {
    // A value may be a secret: a refusal names the parameter and the field, never the value.
    let named = entry
        .split(',')
        .find_map(|f| f.strip_prefix("ParameterKey="))
        .filter(|k| !k.is_empty());
    let refuse = |why: &str| {
        let which = named.map_or_else(|| "an entry".to_owned(), |k| format!("parameter `{k}`"));
        bad(
            front,
            key,
            format!("{which}: {why}; write ParameterKey=NAME,ParameterValue=VALUE (or ParameterKey=NAME,UsePreviousValue=true), entries separated by spaces, values without commas or spaces (or give a JSON list)"),
        )
    };
    let (mut name, mut value, mut previous) = (None, None, false);
    for field in entry.split(',') {
        let label = field.split_once('=').map_or(field, |(k, _)| k);
        match field.split_once('=') {
            Some(("ParameterKey", k)) if !k.is_empty() => name = Some(k.to_owned()),
            Some(("ParameterValue", v)) => value = Some(v.to_owned()),
            Some(("UsePreviousValue", v)) if v.eq_ignore_ascii_case("true") => previous = true,
            Some(("UsePreviousValue", v)) if v.eq_ignore_ascii_case("false") => previous = false,
            Some(_) => {
                return Err(refuse(&format!(
                    "`{label}` is not ParameterKey, ParameterValue or UsePreviousValue"
                )))
            }
            None => {
                return Err(refuse(
                    "a field holds no `=`, as a value with a comma or a space would make",
                ))
            }
        }
    }
    let name = name.ok_or_else(|| refuse("it names no ParameterKey"))?;
    finish(front, key, name, value, previous)
}

fn finish(
    front: Front,
    key: &str,
    name: String,
    value: Option<String>,
    use_previous: bool,
) -> Result<SetParameter, ParamsError> {
    match (&value, use_previous) {
        (Some(_), true) => Err(bad(front, key, format!("parameter `{name}` has both a ParameterValue and UsePreviousValue=true: keep one"))),
        (None, false) => Err(bad(front, key, format!("parameter `{name}` has no ParameterValue: give one, or UsePreviousValue=true to keep the stack set's"))),
        _ => Ok(SetParameter {
            key: name,
            value,
            use_previous,
        }),
    }
}

/// One entry of the JSON list form: `{"ParameterKey": …, "ParameterValue": …,
/// "UsePreviousValue": …}`.
fn json_entry(front: Front, key: &str, item: Value) -> Result<SetParameter, ParamsError> {
    let Value::Object(mut map) = item else {
        return Err(bad(
            front,
            key,
            format!(
                "must list objects with ParameterKey and ParameterValue, not {}",
                kind_of(&item)
            ),
        ));
    };
    let name = match map.remove("ParameterKey") {
        Some(Value::String(k)) if !k.is_empty() => k,
        _ => return Err(bad(front, key, "an entry has no ParameterKey string")),
    };
    let value = match map.remove("ParameterValue") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => {
            return Err(bad(
                front,
                key,
                format!(
                    "parameter `{name}`: ParameterValue must be a string, not {}",
                    kind_of(&other)
                ),
            ))
        }
    };
    let previous = values::boolean(front, key, map.remove("UsePreviousValue"))?.unwrap_or(false);
    if let Some(other) = map.keys().next() {
        return Err(bad(front, key, format!("parameter `{name}`: `{other}` is not ParameterKey, ParameterValue or UsePreviousValue")));
    }
    finish(front, key, name, value, previous)
}

/// `Parameters` or `ParameterOverrides` given inline, or read from a file: the shorthand, a
/// JSON list (also as text), or an object of names and values.
pub fn parameters(front: Front, key: &str, value: Value) -> Result<Vec<SetParameter>, ParamsError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(text) if text.trim_start().starts_with(['[', '{']) => {
            let parsed: Value = serde_json::from_str(&text)
                .map_err(|e| bad(front, key, format!("is not valid JSON ({e})")))?;
            parameters(front, key, parsed)
        }
        Value::String(text) => text
            .split_whitespace()
            .map(|entry| shorthand_entry(front, key, entry))
            .collect(),
        Value::Array(items) => items
            .into_iter()
            .map(|item| json_entry(front, key, item))
            .collect(),
        object @ Value::Object(_) => Ok(values::text_map(front, key, Some(object))?
            .into_iter()
            .map(|(name, value)| SetParameter {
                key: name,
                value: Some(value),
                use_previous: false,
            })
            .collect()),
        other => Err(bad(front, key, format!("must be the shorthand ParameterKey=NAME,ParameterValue=VALUE ..., a JSON list or an object, not {}", kind_of(&other)))),
    }
}

fn is_account(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn is_unit(id: &str) -> bool {
    let rest = id.strip_prefix("ou-").or_else(|| id.strip_prefix("r-"));
    rest.is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// `DeploymentTargets` given inline, or read from a file: account ids for `SELF_MANAGED`,
/// OU and root ids for `SERVICE_MANAGED`.
pub fn targets(
    front: Front,
    value: Option<Value>,
    model: PermissionModel,
) -> Result<Targets, ParamsError> {
    const KEY: &str = "DeploymentTargets";
    let ids = values::string_list(front, KEY, value)?;
    if ids.is_empty() {
        return Err(bad(front, KEY, "names no account or OU: list at least one"));
    }
    if let Some(id) = ids.iter().find(|id| !is_account(id) && !is_unit(id)) {
        return Err(bad(
            front,
            KEY,
            format!("`{id}` is neither a 12-digit account id nor an OU (ou-…) or root (r-…) id"),
        ));
    }
    match model {
        PermissionModel::SelfManaged => match ids.iter().find(|id| !is_account(id)) {
            Some(id) => Err(bad(front, KEY, format!("`{id}` is an OU id, but PermissionModel SELF_MANAGED deploys to accounts: list 12-digit account ids, or set PermissionModel to SERVICE_MANAGED"))),
            None => Ok(Targets::Accounts(ids)),
        },
        PermissionModel::ServiceManaged => match ids.iter().find(|id| is_account(id)) {
            Some(id) => Err(bad(front, KEY, format!("`{id}` is an account id, but PermissionModel SERVICE_MANAGED deploys to OUs: list ou-… or r-… ids, or set PermissionModel to SELF_MANAGED"))),
            None => Ok(Targets::OrganizationalUnits(ids)),
        },
    }
}
