//! `cfn-deployer-worker`: a CodePipeline custom-action job worker that deploys CloudFormation
//! stacks with the same engine as the function. Settings, clients, signals. Wiring only.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use cfn_deployer_job::Runner;
use cfn_deployer_step::logging::{self, Format};
use cfn_deployer_step::Stepper;
use cfn_deployer_worker::{Settings, Worker, WORDS};
use clap::{Parser, ValueEnum};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info};

/// Poll AWS CodePipeline for jobs of a custom action and deploy CloudFormation stacks with
/// them. AWS settings come from the standard SDK environment (AWS_REGION, credentials,
/// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_CODEPIPELINE, _S3, _CLOUDFORMATION). On SIGTERM or
/// SIGINT it stops polling, lets each job in flight finish its step and report it, and exits 0.
#[derive(Debug, Parser)]
// `--version` names the action type's version, as the custom action's contract has it.
#[command(about, long_about = None, disable_version_flag = true)]
struct Cli {
    /// The custom action type's category, as registered with CreateCustomActionType.
    #[arg(long, default_value = "Deploy")]
    category: String,
    /// The custom action type's provider.
    #[arg(long, default_value = "CfnDeployer")]
    provider: String,
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
    /// Seconds between polls that found no job: the longest a queued job waits to be picked
    /// up. Each worker makes 60/N PollForJobs calls a minute when idle.
    #[arg(long, default_value_t = 5.0)]
    idle_poll_seconds: f64,
    /// The longest one step of a job may take before it hands CodePipeline a continuation;
    /// a stopping worker exits within about this long.
    #[arg(long, default_value_t = 20.0)]
    step_seconds: f64,
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

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    if value.is_nan() || value <= 0.0 {
        bail!("{flag} must be more than 0 seconds");
    }
    Duration::try_from_secs_f64(value).with_context(|| format!("{flag} is out of range"))
}

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
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings {
        category: cli.category,
        provider: cli.provider,
        version: cli.version,
        query: cli.query,
        concurrency: usize::from(cli.concurrency),
        idle_interval: seconds(cli.idle_poll_seconds, "--idle-poll-seconds")?,
        step_budget: seconds(cli.step_seconds, "--step-seconds")?,
    };
    let deployment = cfn_deployer_step::Settings::from_env().await?;
    let codepipeline = aws_sdk_codepipeline::Client::new(&deployment.sdk);
    let runner = Runner::new(Stepper::new(deployment), WORDS);
    let worker = Worker::new(settings, runner, codepipeline);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!(signal = name, "stop requested");
        let _ = stop.send(true);
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
        assert_eq!(cli.query, Some(("WorkerPool".into(), "blue".into())));
        assert_eq!(cli.concurrency, 8);
        assert!(Cli::try_parse_from(["cfn-deployer-worker", "--query", "nokey"]).is_err());
        assert!(Cli::try_parse_from(["cfn-deployer-worker", "--concurrency", "0"]).is_err());
    }
}
