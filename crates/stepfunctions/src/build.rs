//! The CodeBuild build before a deploy: the request the state machine's
//! `codebuild:startBuild.sync` task sends, the template URL the build exported, and the
//! words for a build that failed.

use cfn_deployer_params::Build;
use serde_json::{json, Value};

/// The variable a build exports to name the template it packaged.
pub const TEMPLATE_URL: &str = "TEMPLATE_URL";

/// The `startBuild` parameters for `build`: its project, and its variables in CodeBuild's
/// list form (the state machine cannot turn a map into a list itself).
pub(crate) fn request(build: &Build) -> Value {
    let variables: Vec<Value> = build
        .environment
        .iter()
        .map(|(name, value)| json!({"Name": name, "Value": value, "Type": "PLAINTEXT"}))
        .collect();
    json!({"ProjectName": build.project_name, "EnvironmentVariablesOverride": variables})
}

/// Reads a field that Step Functions writes in PascalCase and CodeBuild's API in camelCase.
fn field<'a>(value: &'a Value, pascal: &str) -> Option<&'a Value> {
    let camel = format!("{}{}", pascal[..1].to_lowercase(), &pascal[1..]);
    value.get(pascal).or_else(|| value.get(&camel))
}

/// The build object in a `startBuild.sync` result, `{"Build": {…}}`, or the object itself.
fn build_object(output: &Value) -> &Value {
    field(output, "Build").unwrap_or(output)
}

/// The `TEMPLATE_URL` the build exported, if it did.
pub(crate) fn exported_template_url(output: &Value) -> Option<String> {
    let build = build_object(output);
    field(build, "ExportedEnvironmentVariables")?
        .as_array()?
        .iter()
        .find(|v| field(v, "Name").and_then(Value::as_str) == Some(TEMPLATE_URL))
        .and_then(|v| field(v, "Value"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Words a failed build from what the state machine caught: `{"Error": …, "Cause": …}`,
/// the cause being the build's description as JSON text when CodeBuild gave one.
pub(crate) fn failure(caught: &Value) -> String {
    let error = field(caught, "Error")
        .and_then(Value::as_str)
        .unwrap_or("States.TaskFailed");
    let cause_text = field(caught, "Cause")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let cause: Value = serde_json::from_str(cause_text).unwrap_or(Value::Null);
    let build = build_object(&cause);
    let text = |name: &str| {
        field(build, name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (text("Id"), text("BuildStatus")) {
        (Some(id), Some(status)) => {
            let phase = field(build, "Phases")
                .and_then(Value::as_array)
                .and_then(|phases| {
                    phases.iter().find(|p| {
                        field(p, "PhaseStatus")
                            .and_then(Value::as_str)
                            .is_some_and(|s| s != "SUCCEEDED")
                    })
                })
                .and_then(|p| field(p, "PhaseType").and_then(Value::as_str).map(str::to_owned));
            let phase = phase
                .map(|p| format!(" in its {p} phase"))
                .unwrap_or_default();
            format!("CodeBuild build `{id}` ended {status}{phase} ({error}): see its logs in the CodeBuild console, fix the build and start the execution again")
        }
        _ if cause_text.is_empty() => format!(
            "The CodeBuild build failed ({error}): see the build in the CodeBuild console and start the execution again"
        ),
        _ => format!(
            "The CodeBuild build failed ({error}): {}",
            cfn_deployer_aws::truncate(cause_text.to_owned(), 2000)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_request_lists_its_variables() {
        let build = Build {
            project_name: "packager".into(),
            environment: [("STAGE".to_owned(), "prod".to_owned())]
                .into_iter()
                .collect(),
        };
        assert_eq!(
            request(&build),
            json!({"ProjectName": "packager", "EnvironmentVariablesOverride": [{"Name": "STAGE", "Value": "prod", "Type": "PLAINTEXT"}]})
        );
    }

    #[test]
    fn the_exported_template_url_is_found_in_either_case() {
        let pascal = json!({"Build": {"Id": "p:1", "ExportedEnvironmentVariables": [{"Name": "OTHER", "Value": "x"}, {"Name": "TEMPLATE_URL", "Value": "s3://b/packaged.yaml"}]}});
        assert_eq!(
            exported_template_url(&pascal).as_deref(),
            Some("s3://b/packaged.yaml")
        );
        let camel = json!({"build": {"exportedEnvironmentVariables": [{"name": "TEMPLATE_URL", "value": "s3://b/t.yaml"}]}});
        assert_eq!(
            exported_template_url(&camel).as_deref(),
            Some("s3://b/t.yaml")
        );
        assert_eq!(exported_template_url(&json!({"Build": {}})), None);
    }

    #[test]
    fn a_failed_build_names_its_id_status_and_phase() {
        let cause = json!({"Build": {"Id": "packager:42", "BuildStatus": "FAILED", "Phases": [{"PhaseType": "INSTALL", "PhaseStatus": "SUCCEEDED"}, {"PhaseType": "BUILD", "PhaseStatus": "FAILED"}]}});
        let text = failure(&json!({"Error": "States.TaskFailed", "Cause": cause.to_string()}));
        assert!(
            text.contains("`packager:42` ended FAILED in its BUILD phase"),
            "{text}"
        );
        let text = failure(&json!({"Error": "CodeBuild.AccessDenied", "Cause": "not json"}));
        assert!(
            text.contains("CodeBuild.AccessDenied") && text.contains("not json"),
            "{text}"
        );
    }
}
