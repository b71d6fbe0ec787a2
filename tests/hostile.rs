//! Hostile input, generated: events, `UserParameters`, continuation tokens and zip archives of
//! every shape end as a clear error or a correct result, never a panic or a hang.

use std::io::{Cursor, Write};

use cfn_deployer::artifact::sparse::Sparse;
use cfn_deployer::artifact::{ArtifactError, Extraction, Location, Need};
use cfn_deployer::deploy::{InFlight, Operation};
use cfn_deployer::pipeline::params::Params;
use cfn_deployer::pipeline::{event, token};
use proptest::prelude::*;
use serde_json::{json, Value};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const LIMIT: u64 = 64 * 1024;

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

/// Drives an extraction over a fully held archive to its end.
fn extract(data: Vec<u8>, path: &str) -> Result<Vec<u8>, ArtifactError> {
    let location = Location {
        bucket: "b".into(),
        key: "k".into(),
    };
    let view = Sparse::new(data.len() as u64);
    view.insert(0, data);
    let mut extraction = Extraction::new(view, &location, path, LIMIT)?;
    for _ in 0..16 {
        match extraction.step()? {
            Need::Done(bytes) => return Ok(bytes),
            Need::Range(r) => assert!(r.start <= r.end, "asked for a backwards range {r:?}"),
        }
    }
    panic!("an extraction over a held archive did not end");
}

/// An archive of `entries`: name, data, and flags (bit 0: deflate; bit 1: ZIP64 records).
fn archive(entries: &[(String, Vec<u8>, u8)]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, flags) in entries {
        let method = if flags & 1 == 1 {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(flags & 2 == 2);
        // The writer refuses some names (duplicates); such entries are simply left out.
        if w.start_file(name.as_str(), options).is_ok() {
            w.write_all(data).expect("write");
        }
    }
    w.finish().expect("finish").into_inner()
}

fn entries() -> impl Strategy<Value = Vec<(String, Vec<u8>, u8)>> {
    let name = prop_oneof![
        Just("template.yaml".to_owned()),
        Just("../template.yaml".to_owned()),
        Just("/template.yaml".to_owned()),
        Just("a/../../template.yaml".to_owned()),
        "[a-z./]{1,12}",
        ".{1,12}",
    ];
    prop::collection::vec(
        (name, prop::collection::vec(any::<u8>(), 0..2048), 0u8..4),
        1..6,
    )
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
            match Params::parse(Some(&input)) {
                Ok(p) => prop_assert!(!p.stack.is_empty() && p.template().is_none_or(|t| !t.file.is_empty())),
                Err(e) => prop_assert!(e.to_string().starts_with("UserParameters")),
            }
        }
    }

    #[test]
    fn any_token_decodes_or_fails_cleanly(text in ".{0,200}", value in json_value(), v in any::<u64>(), stack in "[a-zA-Z][-a-zA-Z0-9]{0,20}") {
        let _ = token::decode(&text, "orders-api");
        let _ = token::decode(&value.to_string(), "orders-api");
        let flight = InFlight {
            stack_name: stack.clone(),
            stack_id: format!("arn:aws:cloudformation:us-east-1:1:stack/{stack}/x"),
            operation: Operation::Update,
            client_request_token: "t".into(),
            started: 0,
            change_set: None,
            resources: None,
        };
        let mut doc: Value = serde_json::from_str(&token::encode(&flight).expect("encodes")).expect("JSON");
        doc["v"] = json!(v);
        let decoded = token::decode(&doc.to_string(), "orders-api");
        prop_assert_eq!(decoded.is_ok(), v == token::VERSION && stack == "orders-api");
    }

    #[test]
    fn any_archive_yields_its_entry_or_an_error(entries in entries()) {
        let data = archive(&entries);
        let want = entries.iter().find(|(n, _, _)| n == "template.yaml").map(|(_, d, _)| d.clone());
        match extract(data, "template.yaml") {
            Ok(bytes) => prop_assert_eq!(Some(bytes), want),
            Err(e) => prop_assert!(want.is_none() || e.to_string().contains("corrupt"), "{}", e),
        }
    }

    #[test]
    fn corrupted_and_truncated_archives_fail_cleanly(
        entries in entries(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut data = archive(&entries);
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] ^= byte;
        }
        if truncate {
            data.truncate(cut.index(data.len() + 1));
        }
        if let Ok(bytes) = extract(data, "template.yaml") {
            prop_assert!(bytes.len() as u64 <= LIMIT);
        }
    }

    #[test]
    fn escaping_names_are_never_served(entries in entries(), path in prop::sample::select(vec!["../template.yaml", "/template.yaml", "a/../../template.yaml", "..", ""])) {
        let data = archive(&entries);
        let err = extract(data, path).expect_err("an escaping path");
        let is_unsafe = matches!(err, ArtifactError::UnsafePath { .. });
        prop_assert!(is_unsafe, "{}", err);
    }
}

#[test]
fn deeply_nested_parameters_are_refused_without_overflowing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = Params::parse(Some(&deep)).expect_err("too deep");
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    let deep_object = format!(
        "{{\"stack\": {}1{}}}",
        "{\"a\":".repeat(5_000),
        "}".repeat(5_000)
    );
    assert!(Params::parse(Some(&deep_object)).is_err());
}

#[test]
fn a_huge_declared_size_is_refused_before_reading() {
    let mut data = archive(&[("template.yaml".into(), b"Resources: {}".to_vec(), 0)]);
    let central = data
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central header");
    data[central + 24..central + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = extract(data, "template.yaml").expect_err("huge");
    assert!(
        matches!(
            err,
            ArtifactError::TooLarge { .. }
                | ArtifactError::NotZip { .. }
                | ArtifactError::BadEntry { .. }
        ),
        "{err}"
    );
}
