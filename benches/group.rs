//! The stack-group benchmark, against a moto server: a group of 10 independent stacks deployed
//! by the release function binary through the local pipeline, every CreateStack slowed to 3 s
//! by the local proxy, at MaxConcurrency 1 and 4. It prints the wall time of each, its ratio to
//! the sum of the stacks' own times (10 × 3 s), the AWS calls per stack and the function's peak
//! memory. Run it with `BENCH=group ./scripts/bench`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cfn_deployer_local::options::{Options, Source};
use cfn_deployer_local::outcome::{End, JobResult};
use cfn_deployer_local::proxy::{Fault, FaultKind};
use cfn_deployer_local::run;

const STACK: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Release:
    Type: String
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/${AWS::StackName}/marker"
      Type: String
      Value: !Ref Release
Outputs:
  Release:
    Value: !Ref Release
"#;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[tokio::main]
async fn main() {
    let endpoint = arg("--endpoint").unwrap_or_else(|| "http://127.0.0.1:5000".into());
    let function =
        PathBuf::from(arg("--function").unwrap_or_else(|| "target/release/cfn-deployer".into()));
    let stacks: usize = arg("--stacks").and_then(|s| s.parse().ok()).unwrap_or(10);
    let delay = Duration::from_secs_f64(arg("--delay").and_then(|s| s.parse().ok()).unwrap_or(3.0));
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .endpoint_url(&endpoint)
        .load()
        .await;
    let sum = delay.as_secs_f64() * stacks as f64;
    println!("A group of {stacks} independent stacks, each CreateStack slowed to {:.0} s (sum of the stacks' times: {sum:.0} s):", delay.as_secs_f64());
    println!();
    println!("| MaxConcurrency | wall time | ÷ sum of stack times | continuations | CloudFormation calls per stack | S3 calls per stack | function peak memory |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    for concurrency in [1usize, 4] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("stack.yaml"), STACK).expect("template");
        let mut manifest = format!("MaxConcurrency: {concurrency}\nStacks:\n");
        for i in 0..stacks {
            manifest.push_str(&format!(
                "  s{i}:\n    StackName: bench-{}-c{concurrency}-s{i}\n    TemplatePath: stack.yaml\n    Parameters:\n      Release: r1\n",
                &run_id[..8]
            ));
        }
        std::fs::write(dir.path().join("group.yaml"), manifest).expect("manifest");
        let opts = Options {
            bucket: "cfn-deployer-bench".into(),
            user_parameters: r#"{"StackGroup": "BuildOutput::group.yaml"}"#.into(),
            poll_interval: Duration::from_millis(500),
            invocation_timeout: Duration::from_secs(60),
            max_continuations: 200,
            function_env: vec![
                ("AWS_ACCESS_KEY_ID".into(), "bench".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "bench".into()),
                ("RUST_LOG".into(), "warn".into()),
            ],
            staging_bucket: Some("cfn-deployer-bench-staging".into()),
            endpoint: Some(endpoint.clone()),
            faults: vec![Fault {
                operation: "CreateStack".into(),
                stack: None,
                kind: FaultKind::Delay(delay),
                times: 10_000,
            }],
            ..Options::new(function.clone(), Source::Dir(dir.path().to_path_buf()))
        };
        let started = Instant::now();
        let summary = run::run(&sdk, &opts).await.expect("deploy");
        let wall = started.elapsed().as_secs_f64();
        assert!(
            matches!(summary.end, End::Reported(JobResult::Succeeded { .. })),
            "{:?}",
            summary.end
        );
        let per = |service: &str| {
            let n: u64 = summary
                .calls
                .iter()
                .filter(|(k, _)| k.starts_with(service))
                .map(|(_, v)| v)
                .sum();
            n as f64 / stacks as f64
        };
        println!(
            "| {concurrency} | {wall:.1} s | {:.2} | {} | {:.1} | {:.1} | {} |",
            wall / sum,
            summary.jobs.saturating_sub(1),
            per("CloudFormation:"),
            per("S3:"),
            mib(summary.peak_rss_kib.unwrap_or(0))
        );
    }
}
