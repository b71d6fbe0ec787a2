//! The Lambda function's entry point: settings, clients, the runtime. Wiring only.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use cfn_deployer::{Handler, WORDS};
use cfn_deployer_job::Runner;
use cfn_deployer_step::logging::{self, Format};
use cfn_deployer_step::{Settings, Stepper};
use cfn_deployer_stepfunctions::Tasks;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Lambda's conventions: text locally, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, the level
    // from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`; never the raw event.
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    logging::init(
        if json { Format::Json } else { Format::Text },
        std::env::var("AWS_LAMBDA_LOG_LEVEL")
            .or_else(|_| std::env::var("RUST_LOG"))
            .ok(),
    );
    // A wrong setting fails the function's start, with one line naming it.
    let settings = Settings::from_env()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "the function cannot start"))?;
    let codepipeline = aws_sdk_codepipeline::Client::new(&settings.sdk);
    // One stepper for both kinds of event: a clone shares the clients.
    let stepper = Stepper::new(settings);
    let runner = Runner::new(stepper.clone(), WORDS);
    let tasks = Tasks::new(stepper);
    let handler = Arc::new(Handler::new(runner, codepipeline).with_tasks(tasks));
    // Sequential as on classic Lambda; with AWS_LAMBDA_MAX_CONCURRENCY > 1 (Lambda Managed
    // Instances) several invocations run at once.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let deadline = event.context.deadline();
            handler.handle_event(event.payload, Some(deadline)).await
        }
    }))
    .await
}
