//! The artifact benchmark, against a moto server: for artifacts of 1 MiB to 1 GiB, what reading
//! the template costs (GETs, bytes fetched, time, peak memory) with cfn-deployer's ranged reader
//! and with a full-download baseline (the AWS sample's way); then, per size, a whole deploy by
//! the release function binary through the local pipeline (its peak memory and AWS calls); and
//! the function's cold start and binary size. Run it with `./scripts/bench`.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use cfn_deployer_artifact::{read_file, Location};
use cfn_deployer_local::notice::Notice;
use cfn_deployer_local::options::{Options, Source};
use cfn_deployer_local::outcome::End;
use cfn_deployer_local::run;
use cfn_deployer_local::server::Services;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const BUCKET: &str = "cfn-deployer-bench";
const TEMPLATE: &str = include_str!("../examples/hello/template.yaml");
const LIMIT: u64 = 1 << 20;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .endpoint_url(endpoint)
        .load()
        .await
}

fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// One read in this process, printed as `gets bytes micros peak_kib`.
async fn worker(kind: &str, endpoint: &str, key: &str) {
    let client = s3(&sdk(endpoint).await);
    let location = Location {
        bucket: BUCKET.into(),
        key: key.into(),
    };
    let started = Instant::now();
    let (template, gets, bytes) = match kind {
        "ranged" => {
            let (t, stats) = read_file(&client, &location, "template.yaml", LIMIT)
                .await
                .expect("ranged read");
            (t, stats.gets, stats.bytes)
        }
        _ => {
            // The baseline: download the whole object to a temporary file, then unzip from it.
            let mut out = client
                .get_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .expect("get");
            let mut file = tempfile::tempfile().expect("temp file");
            let mut bytes = 0u64;
            while let Some(chunk) = out.body.try_next().await.expect("body") {
                bytes += chunk.len() as u64;
                file.write_all(&chunk).expect("write");
            }
            file.rewind().expect("rewind");
            let mut archive = zip::ZipArchive::new(file).expect("zip");
            let mut t = Vec::new();
            archive
                .by_name("template.yaml")
                .expect("entry")
                .read_to_end(&mut t)
                .expect("read");
            (t, 1, bytes)
        }
    };
    assert_eq!(template, TEMPLATE.as_bytes());
    println!(
        "{gets} {bytes} {} {}",
        started.elapsed().as_micros(),
        peak_rss_kib()
    );
}

/// Writes an artifact of about `size` bytes: the template first (so that reading it takes a
/// GET of its own, apart from the tail), then an incompressible bundle.
fn artifact(size: u64, path: &Path) {
    let file = std::fs::File::create(path).expect("create");
    let mut w = ZipWriter::new(std::io::BufWriter::new(file));
    w.start_file("template.yaml", SimpleFileOptions::default())
        .expect("start");
    w.write_all(TEMPLATE.as_bytes()).expect("write");
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(size >= 4 << 30);
    w.start_file("app/bundle.bin", stored).expect("start");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size.saturating_sub(64 * 1024);
    while left > 0 {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(block.len() as u64) as usize;
        w.write_all(&block[..n]).expect("write");
        left -= n as u64;
    }
    w.finish().expect("finish").flush().expect("flush");
}

fn measure(kind: &str, endpoint: &str, key: &str) -> (u64, u64, Duration, u64) {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(["--worker", kind, "--endpoint", endpoint, "--key", key])
        .output()
        .expect("worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<u64> = text
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    (f[0], f[1], Duration::from_micros(f[2]), f[3])
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// The function binary's start: from spawning it to its first Runtime API request.
async fn cold_start(function: &Path) -> Duration {
    let (services, mut notices) = Services::start().await.expect("services");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(function)
        .env("AWS_LAMBDA_RUNTIME_API", services.addr().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "cfn-deployer")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("function");
    loop {
        if let Some(Notice::Ready) = notices.recv().await {
            break;
        }
    }
    let elapsed = started.elapsed();
    let _ = child.kill().await;
    elapsed
}

/// The local pipeline's settings every deploy of the benchmark shares.
fn base_options(function: &Path, endpoint: &str) -> Options {
    Options {
        bucket: BUCKET.into(),
        poll_interval: Duration::from_millis(200),
        invocation_timeout: Duration::from_secs(60),
        max_continuations: 10,
        function_env: vec![
            ("AWS_ACCESS_KEY_ID".into(), "bench".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "bench".into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
        endpoint: Some(endpoint.to_owned()),
        ..Options::new(function.to_path_buf(), Source::Dir(PathBuf::new()))
    }
}

#[tokio::main]
async fn main() {
    let endpoint = arg("--endpoint").unwrap_or_else(|| "http://127.0.0.1:5000".into());
    if let (Some(kind), Some(key)) = (arg("--worker"), arg("--key")) {
        return worker(&kind, &endpoint, &key).await;
    }
    let function =
        PathBuf::from(arg("--function").unwrap_or_else(|| "target/release/cfn-deployer".into()));
    let sizes: Vec<u64> = arg("--sizes")
        .unwrap_or_else(|| "1,64,256,1024".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let sdk = sdk(&endpoint).await;
    let client = s3(&sdk);
    let _ = client.create_bucket().bucket(BUCKET).send().await;
    let dir = tempfile::tempdir().expect("temp dir");

    let mut rows = Vec::new();
    let mut deploys = Vec::new();
    for size_mib in sizes {
        let path = dir.path().join(format!("{size_mib}.zip"));
        artifact(size_mib << 20, &path);
        let key = format!("bench/{size_mib}MiB.zip");
        let body = ByteStream::from_path(&path).await.expect("body");
        client
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(body)
            .send()
            .await
            .expect("upload");
        std::fs::remove_file(&path).expect("remove");
        eprintln!("uploaded {size_mib} MiB artifact");
        for kind in ["ranged", "full download"] {
            let (gets, bytes, time, peak) = measure(
                if kind == "ranged" {
                    "ranged"
                } else {
                    "baseline"
                },
                &endpoint,
                &key,
            );
            rows.push(format!(
                "| {size_mib} MiB | {kind} | {gets} | {} | {:.1} ms | {} |",
                mib(bytes),
                time.as_secs_f64() * 1000.0,
                mib(peak * 1024)
            ));
        }
        let opts = Options {
            source: Source::Object(Location {
                bucket: BUCKET.into(),
                key: key.clone(),
            }),
            user_parameters: format!(
                r#"{{"stack": "bench-{size_mib}", "artifact": "BuildOutput", "file": "template.yaml"}}"#
            ),
            ..base_options(&function, &endpoint)
        };
        let summary = run::run(&sdk, &opts).await.expect("deploy");
        assert!(matches!(summary.end, End::Reported(_)), "{:?}", summary.end);
        let calls: u64 = summary.calls.values().sum();
        deploys.push(format!(
            "| {size_mib} MiB | {} | {calls} | {} |",
            mib(summary.peak_rss_kib.unwrap_or(0) * 1024),
            mib(summary.s3_bytes)
        ));
    }

    // The security review's hostile templates, two invocations at once as Lambda Managed
    // Instances run them: the function must refuse each without growing.
    let mut hostile = Vec::new();
    for (name, text) in [
        (
            "alias bomb (8 levels of 10 aliases)",
            cfn_deployer_testkit::hostile::alias_bomb(),
        ),
        (
            "20,000 levels of block nesting",
            cfn_deployer_testkit::hostile::deep_nesting(),
        ),
    ] {
        let project = tempfile::tempdir().expect("temp dir");
        std::fs::write(project.path().join("template.yaml"), text).expect("template");
        let opts = Options {
            source: Source::Dir(project.path().to_path_buf()),
            user_parameters:
                r#"{"stack": "bench-hostile", "artifact": "BuildOutput", "file": "template.yaml"}"#
                    .into(),
            duplicate: true,
            ..base_options(&function, &endpoint)
        };
        let summary = run::run(&sdk, &opts).await.expect("deploy");
        let outcome = match &summary.end {
            End::Reported(cfn_deployer_local::outcome::JobResult::Failed { kind, .. }) => {
                kind.clone()
            }
            other => format!("{other:?}"),
        };
        hostile.push(format!(
            "| {name} | {outcome} | {} |",
            mib(summary.peak_rss_kib.unwrap_or(0) * 1024)
        ));
    }

    let mut starts: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        starts.push(cold_start(&function).await);
    }
    starts.sort();
    let size = std::fs::metadata(&function).map(|m| m.len()).unwrap_or(0);

    println!();
    println!("Reading the template (each in a fresh process; peak = that process's VmHWM):");
    println!();
    println!("| artifact | reader | GETs | bytes fetched | time to template | peak memory |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
    println!();
    println!("A whole create deploy by the function binary (peak = the function process's VmHWM):");
    println!();
    println!("| artifact | function peak memory | AWS calls | S3 bytes received |");
    println!("| --- | --- | --- | --- |");
    for d in deploys {
        println!("{d}");
    }
    println!();
    println!("Hostile templates, two invocations at once (peak = the function process's VmHWM):");
    println!();
    println!("| template | outcome | function peak memory |");
    println!("| --- | --- | --- |");
    for h in hostile {
        println!("{h}");
    }
    println!();
    println!(
        "Cold start (spawn to first Runtime API request), median of 5: {:.1} ms; binary {}: {}",
        starts[2].as_secs_f64() * 1000.0,
        function.display(),
        mib(size)
    );
}
