//! `cfn-deployer-worker`: a CodePipeline custom-action job worker that deploys CloudFormation
//! stacks with the same engine as the function. Settings, clients, signals. Wiring only.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use cfn_deployer_job::Runner;
use cfn_deployer_step::logging::{self, Format};
use cfn_deployer_step::SettingsError;
use cfn_deployer_step::Stepper;
use cfn_deployer_worker::{Settings, Worker, WorkerError, WORDS};
use clap::{Parser, ValueEnum};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

/// Poll AWS CodePipeline for jobs of a custom action and deploy CloudFormation stacks with
/// them. AWS settings come from the standard SDK environment (AWS_REGION, credentials,
/// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_CODEPIPELINE, _S3, _CLOUDFORMATION). On SIGTERM or
/// SIGINT it stops polling, lets each job in flight finish its step and report it, and exits 0
/// within --stop-seconds; a second signal exits at once (130 for SIGINT, 143 for SIGTERM).
/// A poll CodePipeline refuses for good (an unknown action type, a bad query, access denied)
/// exits 2.
#[derive(Debug, Parser)]
// `--version` names the action type's version, as the custom action's contract has it.
#[command(about, long_about = None, disable_version_flag = true)]
struct Cli {
    /// The custom action type's category, as registered with CreateCustomActionType.
    #[arg(long, default_value = "Deploy")]
    category: String,
    /// The custom action type's provider; repeat it to serve several action types.
    #[arg(long, default_value = "CfnDeployer")]
    provider: Vec<String>,
    /// The custom action type's version.
    #[arg(long, default_value = "1")]
    version: String,
    /// Serve only the jobs whose queryable property KEY has VALUE (PollForJobs' queryParam).
    /// The property is then no deploy setting: it only routes jobs to this worker.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_query)]
    query: Option<(String, String)>,
    /// How many jobs to run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Seconds between polls that found no job, at least 1: the longest a queued job waits to
    /// be picked up. Each worker makes 60/N PollForJobs calls a minute when idle; the rate
    /// limit is the account's, shared by every pipeline.
    #[arg(long, default_value_t = 5.0, value_parser = at_least_one_second)]
    idle_poll_seconds: f64,
    /// The longest one step of a job may take before it hands CodePipeline a continuation.
    #[arg(long, default_value_t = 20.0)]
    step_seconds: f64,
    /// After SIGTERM or SIGINT, the seconds the jobs in flight have to finish their step and
    /// report, at least 2 more than --step-seconds; then the worker exits 0, logging each job
    /// it leaves InProgress. Keep it below the container's stop timeout.
    #[arg(long, default_value_t = 25.0)]
    stop_seconds: f64,
    /// How log lines are written.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Text lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn parse_query(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

fn at_least_one_second(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v >= 1.0 && v.is_finite() => Ok(v),
        Ok(_) => Err("must be at least 1 second: PollForJobs' rate limit is the account's, shared by every pipeline".into()),
        Err(_) => Err(format!("`{text}` is not a number of seconds")),
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    if value.is_nan() || value <= 0.0 {
        bail!("{flag} must be more than 0 seconds");
    }
    Duration::try_from_secs_f64(value).with_context(|| format!("{flag} is out of range"))
}

/// A usage or settings error: exit code 2, as clap's own.
const USAGE: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(
        match cli.log_format {
            LogFormat::Text => Format::Text,
            LogFormat::Json => Format::Json,
        },
        std::env::var("RUST_LOG").ok(),
    );
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = format!("{e:#}"), "the worker stopped");
            let usage = e
                .downcast_ref::<WorkerError>()
                .is_some_and(|e| matches!(e, WorkerError::Refused { .. }))
                || e.downcast_ref::<SettingsError>().is_some()
                || e.downcast_ref::<Usage>().is_some();
            ExitCode::from(if usage { USAGE } else { 1 })
        }
    }
}

/// Flags that are valid alone but not together.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

async fn run(cli: Cli) -> anyhow::Result<()> {
    let step_budget = seconds(cli.step_seconds, "--step-seconds")?;
    let stop_within = seconds(cli.stop_seconds, "--stop-seconds")?;
    // A step that ends at its budget still has this long to report.
    let report_within = stop_within.saturating_sub(step_budget);
    if report_within < Duration::from_secs(2) {
        return Err(Usage(format!(
            "--stop-seconds {} leaves a step of --step-seconds {} less than 2 s to report: raise --stop-seconds or lower --step-seconds",
            cli.stop_seconds, cli.step_seconds
        ))
        .into());
    }
    let settings = Settings {
        category: cli.category,
        providers: cli.provider,
        version: cli.version,
        query: cli.query,
        concurrency: usize::from(cli.concurrency),
        idle_interval: seconds(cli.idle_poll_seconds, "--idle-poll-seconds")?,
        step_budget,
        stop_within,
    };
    let deployment = cfn_deployer_step::Settings::from_env().await?;
    // Each CodePipeline call ends within what a stopping worker's report has left.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2).min(report_within))
        .operation_attempt_timeout(Duration::from_secs(10).min(report_within))
        .operation_timeout(Duration::from_secs(20).min(report_within))
        .build();
    let codepipeline = aws_sdk_codepipeline::Client::from_conf(
        aws_sdk_codepipeline::config::Builder::from(&deployment.sdk)
            .timeout_config(timeouts)
            .build(),
    );
    let runner = Runner::new(Stepper::new(deployment), WORDS);
    let worker = Worker::new(settings, runner, codepipeline);

    let (stop, stopped) = tokio::sync::watch::channel(None);
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let in_flight = worker.in_flight();
    tokio::spawn(async move {
        let mut stopping = false;
        loop {
            let (name, code) = tokio::select! {
                _ = term.recv() => ("SIGTERM", 143),
                _ = int.recv() => ("SIGINT", 130),
            };
            if stopping {
                // A second signal: the one who sent it wants out now.
                warn!(signal = name, "second stop signal: exiting at once");
                in_flight.log_left();
                std::process::exit(code);
            }
            stopping = true;
            info!(signal = name, "stop requested");
            let _ = stop.send(Some(tokio::time::Instant::now()));
        }
    });
    Ok(worker.run(stopped).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_contract_flags_parse() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "cfn-deployer-worker",
            "--category",
            "Deploy",
            "--provider",
            "CfnDeployer",
            "--version",
            "1",
            "--query",
            "WorkerPool=blue",
            "--concurrency",
            "8",
        ])
        .expect("the contract's command line");
        assert_eq!(cli.version, "1");
        assert_eq!(cli.provider, ["CfnDeployer"]);
        assert_eq!(cli.stop_seconds, 25.0);
        assert_eq!(cli.query, Some(("WorkerPool".into(), "blue".into())));
        assert_eq!(cli.concurrency, 8);
        assert!(Cli::try_parse_from(["cfn-deployer-worker", "--query", "nokey"]).is_err());
        assert!(Cli::try_parse_from(["cfn-deployer-worker", "--concurrency", "0"]).is_err());
        let both = Cli::try_parse_from([
            "cfn-deployer-worker",
            "--provider",
            "CfnDeployer",
            "--provider",
            "CfnDeployerGroup",
        ])
        .expect("two providers");
        assert_eq!(both.provider, ["CfnDeployer", "CfnDeployerGroup"]);
        for idle in ["0.0001", "0.5", "soon"] {
            let err = Cli::try_parse_from(["cfn-deployer-worker", "--idle-poll-seconds", idle])
                .expect_err(idle);
            assert_eq!(err.exit_code(), 2, "{idle}");
        }
    }
}
