//! Reading a template out of zipped artifacts in moto's S3: only the bytes needed, whatever the
//! artifact's size; ZIP64; zip bombs; encrypted entries; servers that ignore ranges.

use std::io::{Cursor, Write};

use cfn_deployer_artifact::{read_file, read_object, ArtifactError, Location, TAIL_BYTES};
use cfn_deployer_testkit::moto_or_skip;
use cfn_deployer_testkit::s3::{self, noise, zip};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const TEMPLATE: &[u8] = b"Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n";
const BUCKET: &str = "cfn-deployer-artifact-tests";
const LIMIT: u64 = 1024 * 1024;

async fn put(client: &aws_sdk_s3::Client, data: Vec<u8>) -> Location {
    let key = s3::put(client, BUCKET, data).await;
    Location {
        bucket: BUCKET.into(),
        key,
    }
}

/// The central directory's size, from the end-of-central-directory record.
fn central_directory_size(archive: &[u8]) -> u64 {
    let eocd = archive
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .expect("EOCD");
    u64::from(u32::from_le_bytes(
        archive[eocd + 12..eocd + 16].try_into().expect("4 bytes"),
    ))
}

#[tokio::test]
async fn a_large_artifact_costs_what_a_small_one_does() {
    let moto = moto_or_skip!();
    let client = s3::client(&moto.endpoint);
    let app = noise(24 << 20, 7);
    let archive = zip(
        &[
            ("app-a.bin", &app, CompressionMethod::Stored),
            ("infra/template.yaml", TEMPLATE, CompressionMethod::Deflated),
            ("app-b.bin", &app, CompressionMethod::Stored),
        ],
        false,
    );
    let cd = central_directory_size(&archive);
    let location = put(&client, archive).await;
    let (bytes, stats) = read_file(&client, &location, "infra/template.yaml", LIMIT)
        .await
        .expect("read");
    assert_eq!(bytes, TEMPLATE);
    assert!(stats.gets <= 3, "{stats:?}");
    // The template entry compresses below its size; count it whole to keep the bound simple.
    assert!(
        stats.bytes <= TEMPLATE.len() as u64 + cd + TAIL_BYTES,
        "{stats:?} for a {cd}-byte central directory"
    );
}

#[tokio::test]
async fn zip64_entries_and_archives_with_70000_entries_are_read() {
    let moto = moto_or_skip!();
    let client = s3::client(&moto.endpoint);
    let archive = zip(
        &[("template.yaml", TEMPLATE, CompressionMethod::Deflated)],
        true,
    );
    let location = put(&client, archive).await;
    let (bytes, _) = read_file(&client, &location, "template.yaml", LIMIT)
        .await
        .expect("zip64 entry");
    assert_eq!(bytes, TEMPLATE);

    // More than 65,535 entries need the ZIP64 end records, and a central directory of megabytes.
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for i in 0..70_000 {
        w.start_file(format!("static/{i:05}.txt"), stored)
            .expect("start");
        w.write_all(b"x").expect("write");
    }
    w.start_file("template.yaml", stored).expect("start");
    w.write_all(TEMPLATE).expect("write");
    let archive = w.finish().expect("finish").into_inner();
    assert!(
        archive.windows(4).any(|w| w == b"PK\x06\x06"),
        "a ZIP64 end record"
    );
    let location = put(&client, archive).await;
    let (bytes, stats) = read_file(&client, &location, "template.yaml", LIMIT)
        .await
        .expect("many entries");
    assert_eq!(bytes, TEMPLATE);
    assert!(
        stats.gets <= 3,
        "the central directory in one GET: {stats:?}"
    );
}

#[tokio::test]
async fn a_zip_bomb_is_refused_without_inflating_it() {
    let moto = moto_or_skip!();
    let client = s3::client(&moto.endpoint);
    let zeros = vec![0u8; 64 << 20];
    let archive = zip(
        &[("template.yaml", &zeros, CompressionMethod::Deflated)],
        false,
    );
    let compressed = archive.len();
    let location = put(&client, archive).await;
    let err = read_file(&client, &location, "template.yaml", LIMIT)
        .await
        .expect_err("bomb");
    assert!(
        matches!(err, ArtifactError::TooLarge { size, .. } if size == 64 << 20),
        "{err}"
    );
    assert!(compressed < 1 << 20, "the bomb is small: {compressed}");
}

#[tokio::test]
async fn a_bomb_that_lies_about_its_size_stops_at_the_declared_size() {
    let moto = moto_or_skip!();
    let client = s3::client(&moto.endpoint);
    let zeros = vec![0u8; 32 << 20];
    let mut archive = zip(
        &[("template.yaml", &zeros, CompressionMethod::Deflated)],
        false,
    );
    // Declare 1,000 bytes, in the local header (offset 22) and the central one (offset 24).
    let lie = 1000u32.to_le_bytes();
    archive[22..26].copy_from_slice(&lie);
    let central = archive
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central header");
    archive[central + 24..central + 28].copy_from_slice(&lie);
    let location = put(&client, archive).await;
    let err = read_file(&client, &location, "template.yaml", LIMIT)
        .await
        .expect_err("lying bomb");
    assert!(matches!(err, ArtifactError::BadEntry { .. }), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");
}

#[tokio::test]
async fn encrypted_entries_are_refused() {
    let moto = moto_or_skip!();
    let client = s3::client(&moto.endpoint);
    let mut archive = zip(
        &[("template.yaml", TEMPLATE, CompressionMethod::Stored)],
        false,
    );
    // Set the "encrypted" flag (bit 0 of the flags at offset 8 of the central header).
    let central = archive
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central header");
    archive[central + 8] |= 1;
    let location = put(&client, archive).await;
    let err = read_file(&client, &location, "template.yaml", LIMIT)
        .await
        .expect_err("encrypted");
    assert!(err.to_string().contains("encrypted"), "{err}");
}

#[tokio::test]
async fn an_empty_object_is_empty_not_a_broken_zip() {
    let moto = moto_or_skip!();
    let client = s3::client(&moto.endpoint);
    let location = put(&client, Vec::new()).await;
    let err = read_file(&client, &location, "template.yaml", LIMIT)
        .await
        .expect_err("an empty object holds no archive");
    assert!(matches!(err, ArtifactError::Empty { .. }), "{err:?}");
    assert!(err.to_string().contains(&location.key), "{err}");
    // Read whole, as a template or a settings file is, it is no bytes.
    let (bytes, _) = read_object(&client, &location, LIMIT)
        .await
        .expect("an empty object reads as no bytes");
    assert!(bytes.is_empty());
}
