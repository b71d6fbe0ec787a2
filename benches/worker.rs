//! The worker benchmark, against a moto server and the local pipeline's CodePipeline: a release
//! `cfn-deployer-worker` idle for a minute (memory, CPU, polls), the time it takes to pick up
//! a queued job, and 50 jobs queued at once, each deploy slowed to a few seconds (wall time,
//! most jobs in flight). Run it with `./scripts/bench`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use cfn_deployer_local::codepipeline::ActionType;
use cfn_deployer_local::notice::Notice;
use cfn_deployer_local::options::{Front, Options, Source, WorkerOptions};
use cfn_deployer_local::outcome::{End, JobResult};
use cfn_deployer_local::proxy::Fault;
use cfn_deployer_local::run;
use cfn_deployer_local::server::Services;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn action_type() -> ActionType {
    ActionType {
        category: "Deploy".into(),
        owner: "Custom".into(),
        provider: "CfnDeployer".into(),
        version: "1".into(),
        queryable: None,
    }
}

/// Resident memory now (`VmRSS`) and CPU time used so far, from `/proc`.
fn usage(pid: u32) -> (u64, Duration) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<u64> = after
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // Clock ticks: 100 a second on Linux.
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    (rss_kib, Duration::from_millis(ticks * 10))
}

fn start_worker(binary: &Path, services: &Services, idle: &str) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .args([
            "--category",
            "Deploy",
            "--provider",
            "CfnDeployer",
            "--version",
            "1",
        ])
        .args(["--idle-poll-seconds", idle])
        .env(
            "AWS_ENDPOINT_URL_CODEPIPELINE",
            format!("http://{}", services.addr()),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("worker")
}

/// A minute of an idle worker: its memory, CPU and polls.
async fn idle(binary: &Path) -> String {
    let (services, _notices) = Services::start().await.expect("services");
    // The action type exists, as after CreateCustomActionType, but no job of it is queued.
    services.register_action_type(&action_type());
    let mut worker = start_worker(binary, &services, "5");
    let pid = worker.id().expect("pid");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, cpu_before) = usage(pid);
    let polls_before = services.calls().get("PollForJobs").copied().unwrap_or(0);
    let minute = Duration::from_secs(60);
    tokio::time::sleep(minute).await;
    let (rss, cpu_after) = usage(pid);
    let polls = services.calls().get("PollForJobs").copied().unwrap_or(0) - polls_before;
    let _ = worker.kill().await;
    let cpu = cpu_after.saturating_sub(cpu_before);
    // /proc counts CPU time in ticks of 10 ms.
    let cpu = if cpu.is_zero() {
        "under 10 ms CPU a minute (below /proc's 10 ms tick)".to_owned()
    } else {
        format!("{:.0} ms CPU a minute", cpu.as_secs_f64() * 1000.0)
    };
    format!(
        "| idle, 60 s, default 5 s idle interval | {:.1} MiB resident | {cpu} | {polls} PollForJobs a minute |",
        rss as f64 / 1024.0
    )
}

/// The time from queueing a job to a worker's PollForJobs taking it, `runs` times.
async fn pickup(binary: &Path, interval: &str, runs: usize) -> String {
    let (services, mut notices) = Services::start().await.expect("services");
    services.register_action_type(&action_type());
    let mut worker = start_worker(binary, &services, interval);
    let mut times = Vec::new();
    for i in 0..runs {
        // Queue at a different point of the idle interval each time.
        tokio::time::sleep(Duration::from_millis(1500 + 731 * i as u64)).await;
        while notices.try_recv().is_ok() {}
        let id = uuid::Uuid::new_v4().to_string();
        let queued = Instant::now();
        services.queue_job(
            &id,
            &action_type(),
            serde_json::json!({"actionConfiguration": {"configuration": {}}}),
        );
        loop {
            if let Some(Notice::Dispatched { job_id }) = notices.recv().await {
                if job_id == id {
                    break;
                }
            }
        }
        times.push(queued.elapsed());
    }
    let _ = worker.kill().await;
    times.sort();
    format!(
        "| pickup, idle interval {interval} s, {runs} jobs | min {:.0} ms | median {:.0} ms | max {:.0} ms |",
        times[0].as_secs_f64() * 1000.0,
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    )
}

/// 50 actions at once, each create slowed by `delay` seconds, on `workers` workers.
async fn fifty(
    binary: &Path,
    function: &Path,
    endpoint: &str,
    workers: usize,
    concurrency: u16,
) -> String {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let project = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        project.path().join("template.yaml"),
        "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n",
    )
    .expect("template");
    let stack = format!(
        "bench-fifty-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let opts = Options {
        bucket: "cfn-deployer-bench".into(),
        poll_interval: Duration::from_millis(100),
        invocation_timeout: Duration::from_secs(60),
        max_continuations: 50,
        function_env: vec![
            ("AWS_ACCESS_KEY_ID".into(), "bench".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "bench".into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
        endpoint: Some(endpoint.to_owned()),
        // Each create takes 3 s: a deploy of a few seconds.
        faults: vec!["CreateStack:delay=3:50".parse::<Fault>().expect("fault")],
        front: Front::Worker(WorkerOptions {
            binary: binary.to_path_buf(),
            workers,
            action_type: action_type(),
            query_value: None,
            worker_query_value: None,
            configuration: [
                ("StackName".to_owned(), stack),
                (
                    "TemplatePath".to_owned(),
                    "BuildOutput::template.yaml".to_owned(),
                ),
            ]
            .into_iter()
            .collect(),
            concurrency,
            step_seconds: 20.0,
            stop_after: None,
            pickup_timeout: Duration::from_secs(120),
            parallel: 50,
        }),
        ..Options::new(
            function.to_path_buf(),
            Source::Dir(project.path().to_path_buf()),
        )
    };
    let started = Instant::now();
    let summary = run::run(&sdk, &opts).await.expect("run");
    let wall = started.elapsed();
    assert!(
        matches!(summary.end, End::Reported(JobResult::Succeeded { .. })),
        "{:?}",
        summary.end
    );
    format!(
        "| 50 actions at once, creates slowed to 3 s, {workers} worker(s) × {concurrency} | wall {:.1} s | {} jobs, most in flight {} | peak worker memory {:.1} MiB |",
        wall.as_secs_f64(),
        summary.jobs,
        summary.most_in_flight,
        summary.peak_rss_kib.unwrap_or(0) as f64 / 1024.0
    )
}

#[tokio::main]
async fn main() {
    let endpoint = arg("--endpoint").unwrap_or_else(|| "http://127.0.0.1:5000".into());
    let binary = PathBuf::from(
        arg("--worker").unwrap_or_else(|| "target/release/cfn-deployer-worker".into()),
    );
    let function =
        PathBuf::from(arg("--function").unwrap_or_else(|| "target/release/cfn-deployer".into()));
    let mut rows = vec![idle(&binary).await];
    rows.push(pickup(&binary, "5", 7).await);
    rows.push(pickup(&binary, "1", 7).await);
    rows.push(fifty(&binary, &function, &endpoint, 1, 4).await);
    rows.push(fifty(&binary, &function, &endpoint, 2, 8).await);
    println!();
    println!("The job worker (release build; /proc for memory and CPU):");
    println!();
    println!("| case | | | |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
}
