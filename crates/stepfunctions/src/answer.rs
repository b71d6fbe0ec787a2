//! What a task hands back ([`TaskResult`]), always with every key (`null` when unused), since
//! the state machine's paths fail on a key that is absent; and its size: Step Functions takes
//! at most 256 KiB for a state's input or output, and the state holds the execution input
//! beside the answer, so a deploy's outputs and change-set details are cut at a budget, with a
//! note on what was left out, and an execution whose deploy succeeded never fails on its own
//! answer.

use cfn_deployer_engine::FailureKind;
use cfn_deployer_step::Failing;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::TaskError;
use crate::errors;

/// Why the execution fails: its `Error` and `Cause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Failed {
    /// `CfnDeployer.ConfigurationError`, `…PermissionError`, `…DeployFailed`, `…BuildFailed`.
    pub error: String,
    /// The same message a CodePipeline job would get.
    pub cause: String,
}

/// What a task hands back.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// Whether the deploy has ended (succeeded or failed).
    pub done: bool,
    /// Why it failed, when it did.
    pub failed: Option<Failed>,
    /// Where it stands, to hand to the next step.
    pub state: Option<Value>,
    /// One line on the latest progress, for the execution's history.
    pub summary: Option<String>,
    /// How far the operation is, 0 to 100, when known.
    pub percent: Option<u8>,
    /// The execution's output, once it succeeded.
    pub output: Option<Value>,
    /// The pause between polls (from `prepare`).
    pub poll_interval_seconds: Option<u32>,
    /// The pause before the next poll of an operation under way: the interval, growing with
    /// the operation's age up to a minute.
    pub wait_seconds: Option<u64>,
    /// The `startBuild` parameters, when the input asks for a build (from `prepare`).
    pub build: Option<Value>,
}

impl TaskResult {
    pub(crate) fn failed(error: &str, cause: String) -> Self {
        Self {
            done: true,
            failed: Some(Failed {
                error: error.to_owned(),
                cause,
            }),
            ..Self::default()
        }
    }

    pub(crate) fn from_error(err: &TaskError) -> Self {
        Self::failed(
            err.name().unwrap_or(error_name(err.kind())),
            err.to_string(),
        )
    }
}

/// The execution's `Error` for a kind of failure.
pub(crate) fn error_name(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Configuration => errors::CONFIGURATION,
        FailureKind::Permission => errors::PERMISSION,
        FailureKind::Deploy => errors::DEPLOY,
    }
}

/// The most bytes the execution's output (`output`) may take: room is left under 256 KiB for
/// the execution input and the state machine's own keys.
pub const BUDGET: usize = 160 * 1024;

fn size(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// `output` within `budget` bytes: first the change set's resource changes give way to their
/// count, then outputs are kept in key order while they fit; `LeftOut` says what went.
pub fn fit(mut output: Value, budget: usize) -> Value {
    if size(&output) <= budget {
        return output;
    }
    let mut left_out = Vec::new();
    if let Some(changes) = output
        .get_mut("ChangeSet")
        .and_then(|c| c.get_mut("Changes"))
        .and_then(Value::as_array_mut)
    {
        let n = changes.len();
        changes.clear();
        left_out.push(format!(
            "the change set's {n} resource changes (the change set itself holds them)"
        ));
    }
    if size(&output) > budget {
        if let Some(Value::Object(outputs)) = output.get_mut("Outputs").map(std::mem::take) {
            let total = outputs.len();
            let mut kept = Map::new();
            // What the note will need, counted up front so the kept outputs never push it over.
            let reserve = 200;
            output["Outputs"] = Value::Object(Map::new());
            let mut used = size(&output) + reserve;
            for (key, value) in outputs {
                let cost = key.len() + size(&value) + 4;
                if used + cost > budget {
                    continue;
                }
                used += cost;
                kept.insert(key, value);
            }
            let dropped = total - kept.len();
            output["Outputs"] = Value::Object(kept);
            if dropped > 0 {
                left_out.push(format!(
                    "{dropped} of the stack's {total} outputs (DescribeStacks holds them all)"
                ));
            }
        }
    }
    if !left_out.is_empty() {
        output["LeftOut"] = Value::String(format!(
            "Step Functions takes at most 256 KiB for a state: left out {}",
            left_out.join(", and ")
        ));
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outputs(n: usize, each: usize) -> Value {
        let map: Map<String, Value> = (0..n)
            .map(|i| (format!("Output{i:03}"), Value::String("x".repeat(each))))
            .collect();
        Value::Object(map)
    }

    #[test]
    fn a_small_answer_is_left_as_it_is() {
        let output = json!({"StackName": "app", "Outputs": outputs(3, 10)});
        assert_eq!(fit(output.clone(), BUDGET), output);
    }

    #[test]
    fn outputs_past_the_budget_are_left_out_with_a_note() {
        // 150 outputs of 1.9 KB: 289,043 bytes of answer before.
        let output = json!({"StackName": "app", "StackStatus": "UPDATE_COMPLETE", "Outputs": outputs(150, 1900)});
        let fitted = fit(output, BUDGET);
        let bytes = serde_json::to_vec(&fitted).expect("json").len();
        assert!(bytes <= BUDGET, "{bytes}");
        let kept = fitted["Outputs"].as_object().expect("outputs").len();
        assert!(kept > 50 && kept < 150, "{kept}");
        let note = fitted["LeftOut"].as_str().expect("a note");
        assert!(
            note.contains(&format!("{} of the stack's 150 outputs", 150 - kept)),
            "{note}"
        );
        assert_eq!(fitted["StackStatus"], "UPDATE_COMPLETE");
    }

    #[test]
    fn change_details_go_before_any_output() {
        let changes: Vec<Value> = (0..400)
            .map(|i| json!({"Action": "Modify", "LogicalResourceId": format!("R{i}"), "Details": "d".repeat(500)}))
            .collect();
        let output = json!({"Outputs": outputs(2, 10), "ChangeSet": {"ChangeSetName": "c", "Changes": changes}});
        let fitted = fit(output, BUDGET);
        assert_eq!(fitted["Outputs"].as_object().map(Map::len), Some(2));
        assert_eq!(fitted["ChangeSet"]["ChangeSetName"], "c");
        assert!(fitted["LeftOut"]
            .as_str()
            .is_some_and(|n| n.contains("400 resource changes") && !n.contains("outputs")));
    }
}
