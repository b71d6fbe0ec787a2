//! Hostile archives, generated: zip archives of every shape, corrupted, truncated, with
//! escaping names or ZIP64 records, end as the entry or a clear error, never a panic or a hang.

use std::io::{Cursor, Write};

use cfn_deployer_artifact::sparse::Sparse;
use cfn_deployer_artifact::{ArtifactError, Extraction, Location, Need};
use proptest::prelude::*;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const LIMIT: u64 = 64 * 1024;

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
