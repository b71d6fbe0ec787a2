//! The sample events in `events/` parse, and each says what it is meant to say.

use cfn_deployer_engine::{Action, Mode};
use cfn_deployer_job::job::{self as event, Configuration, Job};
use cfn_deployer_job::token;
use cfn_deployer_params::{ParamValue, Params, ParamsError};

/// The project's `events/` folder.
fn events_dir() -> String {
    format!("{}/../../events", env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> serde_json::Value {
    let path = format!("{}/{name}", events_dir());
    serde_json::from_str(&std::fs::read_to_string(&path).expect("event file")).expect("JSON")
}

/// The job's `UserParameters`, validated.
fn params(job: &Job) -> Result<Params, ParamsError> {
    match &job.configuration {
        Configuration::UserParameters(text) => Params::from_user_parameters(text.as_deref()),
        other => panic!("a Lambda event holds UserParameters, not {other:?}"),
    }
}

#[test]
fn every_sample_event_parses_as_a_job() {
    let dir = events_dir();
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("events/") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("name");
        let job = event::parse(load(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(job.input_artifacts.len(), 1, "{name}");
        count += 1;
    }
    assert!(
        count >= 4,
        "expected the sample and its variants, found {count}"
    );
}

#[test]
fn the_sample_uses_the_seed_parameters() {
    let job = event::parse(load("codepipeline-job.json")).expect("job");
    let params = params(&job).expect("params");
    assert_eq!(
        (
            params.stack.as_str(),
            params.template_path().expect("template").artifact.as_str(),
            params.template_path().expect("template").file.as_str()
        ),
        ("orders-api", "BuildOutput", "template.yaml")
    );
}

#[test]
fn the_continuation_carries_a_token_for_its_stack() {
    let job = event::parse(load("codepipeline-job-continuation.json")).expect("job");
    let params = params(&job).expect("params");
    let flight = token::decode(
        job.continuation_token.as_deref().expect("token"),
        &params.stack,
    )
    .expect("decodes");
    assert_eq!(flight.stack_name, "orders-api");
}

#[test]
fn the_bad_parameter_variants_fail_as_configured() {
    let job = event::parse(load("codepipeline-job-bad-parameters.json")).expect("job");
    assert!(matches!(params(&job), Err(ParamsError::NotJson { .. })));
    let job = event::parse(load("codepipeline-job-unknown-key.json")).expect("job");
    assert!(matches!(params(&job), Err(ParamsError::UnknownKey { key, .. }) if key == "region"));
}

#[test]
fn the_mode_variants_say_what_they_are_named_for() {
    let action = |name: &str| {
        let job = event::parse(load(name)).expect("job");
        params(&job).expect("params").action
    };
    assert!(matches!(
        action("codepipeline-job-replace-on-failure.json"),
        Action::Deploy {
            mode: Mode::ReplaceOnFailure,
            ..
        }
    ));
    assert_eq!(action("codepipeline-job-delete-only.json"), Action::Delete);
    let job = event::parse(load("codepipeline-job-built-in-settings.json")).expect("job");
    let params = params(&job).expect("params");
    assert_eq!(
        params.capabilities,
        ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM"]
    );
    assert_eq!(
        params.parameter_overrides.get("Env"),
        Some(&ParamValue::Literal("prod".into()))
    );
}

#[test]
fn the_change_set_variants_name_their_change_set() {
    let action = |name: &str| {
        let job = event::parse(load(name)).expect("job");
        params(&job).expect("params").action
    };
    assert!(
        matches!(action("codepipeline-job-change-set-replace.json"), Action::ChangeSetReplace { change_set, .. } if change_set == "release")
    );
    assert!(
        matches!(action("codepipeline-job-change-set-execute.json"), Action::ChangeSetExecute { change_set, id: None } if change_set == "release")
    );
}

#[test]
fn the_extended_settings_variant_sets_what_the_built_in_action_cannot() {
    let job = event::parse(load("codepipeline-job-extended-settings.json")).expect("job");
    let params = params(&job).expect("params");
    let s = &params.settings;
    assert_eq!(s.termination_protection, Some(true));
    assert_eq!(s.on_failure, Some(cfn_deployer_engine::OnFailure::Delete));
    assert_eq!(s.timeout_minutes, Some(30));
    assert_eq!(s.notification_arns.len(), 1);
    assert_eq!(s.rollback.as_ref().map(|r| r.monitoring_minutes), Some(10));
    assert_eq!(params.output_file_name.as_deref(), Some("change-set.json"));
}

#[test]
fn sams_own_event_parses_and_its_plain_string_parameters_say_what_json_to_write() {
    // events/sam-codepipeline-job.json is what `sam local generate-event codepipeline job`
    // prints, unedited; CI compares the two.
    let job = event::parse(load("sam-codepipeline-job.json")).expect("job");
    assert_eq!(job.id, "c968ef10-6415-4127-80b1-42502218a8c7");
    assert_eq!(job.input_artifacts[0].name, "input-artifact");
    let error = params(&job).expect_err("a plain string is not JSON");
    assert!(matches!(error, ParamsError::NotJson { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("UserParameters is not valid JSON"),
        "{message}"
    );
    assert!(message.contains(r#"such as {"#), "{message}");
}
