//! S3 in moto for tests: a client, objects put under a fresh key, and archives to put there.

use std::io::{Cursor, Write};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// An S3 client for `endpoint`, path-style, with throwaway credentials.
pub fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Puts `data` in `bucket` (created when missing) under a fresh key, and returns the key.
pub async fn put(client: &aws_sdk_s3::Client, bucket: &str, data: Vec<u8>) -> String {
    // Another test may have created it: either way it exists afterwards.
    let _ = client.create_bucket().bucket(bucket).send().await;
    let key = format!("artifacts/{}", uuid::Uuid::new_v4());
    client
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(data.into())
        .send()
        .await
        .expect("upload");
    key
}

/// Pseudo-random bytes that do not compress.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A zip archive of `entries`, with ZIP64 records when `zip64`.
pub fn zip(entries: &[(&str, &[u8], CompressionMethod)], zip64: bool) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, method) in entries {
        let options = SimpleFileOptions::default()
            .compression_method(*method)
            .large_file(zip64);
        w.start_file(*name, options).expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}
