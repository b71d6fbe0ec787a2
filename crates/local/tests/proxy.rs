//! The local pipeline's proxy between a client and moto: the faults it injects reach the
//! client as a real server's would.

use cfn_deployer_artifact::{read_file, Location};
use cfn_deployer_local::proxy::{Fault, FaultKind, Proxy};
use cfn_deployer_testkit::moto_or_skip;
use cfn_deployer_testkit::s3::{self, noise, zip};
use zip::CompressionMethod;

const TEMPLATE: &[u8] = b"Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n";
const BUCKET: &str = "cfn-deployer-proxy-tests";
const LIMIT: u64 = 1024 * 1024;

async fn put(client: &aws_sdk_s3::Client, data: Vec<u8>) -> Location {
    let key = s3::put(client, BUCKET, data).await;
    Location {
        bucket: BUCKET.into(),
        key,
    }
}

#[tokio::test]
async fn a_server_that_ignores_ranges_is_streamed() {
    let moto = moto_or_skip!();
    let proxy = Proxy::start(
        &moto.endpoint,
        vec![Fault {
            operation: "GetObject".into(),
            stack: None,
            kind: FaultKind::NoRange,
            times: 100,
        }],
    )
    .await
    .expect("proxy");
    let direct = s3::client(&moto.endpoint);
    let app = noise(8 << 20, 3);
    let archive = zip(
        &[
            ("template.yaml", TEMPLATE, CompressionMethod::Deflated),
            ("app.bin", &app, CompressionMethod::Stored),
        ],
        false,
    );
    let size = archive.len() as u64;
    let location = put(&direct, archive).await;
    let (bytes, stats) = read_file(&s3::client(&proxy.url()), &location, "template.yaml", LIMIT)
        .await
        .expect("read");
    assert_eq!(bytes, TEMPLATE);
    assert!(
        stats.bytes >= size,
        "the whole object came back and was streamed: {stats:?}"
    );
    assert_eq!(proxy.stats().injected().len(), stats.gets);
}
