//! Hostile input, generated: events, action configurations and continuation tokens of every
//! shape end as a clear error or a correct result, never a panic or a hang.

use cfn_deployer_engine::{InFlight, Operation, Plan};
use cfn_deployer_job::{job as event, token};
use cfn_deployer_params::Params;
use proptest::prelude::*;
use serde_json::{json, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
        prop::sample::select(vec![
            "stack",
            "artifact",
            "file",
            "id",
            "data",
            "CodePipeline.job"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec![
                        "stack",
                        "artifact",
                        "file",
                        "id",
                        "data",
                        "CodePipeline.job",
                        "actionConfiguration",
                        "configuration",
                        "UserParameters",
                        "inputArtifacts",
                        "outputArtifacts",
                        "artifactCredentials",
                        "continuationToken",
                        "location",
                        "s3Location",
                        "name",
                    ])
                    .prop_map(str::to_owned),
                    ".{0,10}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_event_parses_or_fails_cleanly(job in json_value(), top in json_value()) {
        let wrapped = json!({"CodePipeline.job": job});
        if let Ok(parsed) = event::parse(wrapped) {
            prop_assert!(!parsed.id.is_empty());
        }
        let _ = event::parse(top);
    }

    #[test]
    fn any_user_parameters_parse_or_name_what_is_wrong(value in json_value(), text in ".{0,64}") {
        for input in [value.to_string(), text] {
            match Params::from_user_parameters(Some(&input)) {
                Ok(p) => prop_assert!(!p.stack.is_empty() && p.template_path().is_none_or(|t| !t.file.is_empty())),
                Err(e) => prop_assert!(e.to_string().starts_with("UserParameters")),
            }
        }
    }

    #[test]
    // The version and the stack are drawn so that each case, right and wrong, comes up often.
    fn any_token_decodes_or_fails_cleanly(
        text in ".{0,200}",
        value in json_value(),
        v in prop_oneof![Just(token::VERSION), any::<u64>()],
        stack in prop_oneof![Just("orders-api".to_owned()), "[a-zA-Z][-a-zA-Z0-9]{0,20}"],
    ) {
        let _ = token::decode(&text, "orders-api");
        let _ = token::decode(&value.to_string(), "orders-api");
        let plan = Plan { stack_name: stack.clone(), client_request_token: "t".into(), ..Plan::default() };
        let flight = InFlight::new(&plan, format!("arn:aws:cloudformation:us-east-1:1:stack/{stack}/x"), Operation::Update);
        let mut doc: Value = serde_json::from_str(&token::encode(&flight).expect("encodes")).expect("JSON");
        doc["v"] = json!(v);
        let decoded = token::decode(&doc.to_string(), "orders-api");
        prop_assert_eq!(decoded.is_ok(), v == token::VERSION && stack == "orders-api");
    }
}

#[test]
fn deeply_nested_parameters_are_refused_without_overflowing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = Params::from_user_parameters(Some(&deep)).expect_err("too deep");
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    let deep_object = format!(
        "{{\"stack\": {}1{}}}",
        "{\"a\":".repeat(5_000),
        "}".repeat(5_000)
    );
    assert!(Params::from_user_parameters(Some(&deep_object)).is_err());
}
