//! The Lambda function's entry point: settings, clients, the runtime. Wiring only.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use cfn_deployer::Handler;
use cfn_deployer_engine::Deployer;
use cfn_deployer_job::Runner;
use cfn_deployer_stepfunctions::Tasks;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Text locally, JSON in Lambda when `AWS_LAMBDA_LOG_FORMAT=JSON`; never the raw event.
    cfn_deployer_job::logging::init(cfn_deployer_job::logging::Format::from_lambda_env());
    let sdk = cfn_deployer_job::sdk_config().await;
    let pace = cfn_deployer_job::pace_from_env();
    let staging = cfn_deployer_job::staging_bucket_from_env();
    let deployer = Deployer::new(aws_sdk_cloudformation::Client::new(&sdk))
        .with_roles(cfn_deployer_job::roles_from_env());
    // One deployer for both kinds of event: a clone shares the client.
    let runner = Runner::new(sdk.clone(), deployer.clone())
        .with_pace(pace)
        .with_staging_bucket(staging.clone());
    let tasks = Tasks::new(sdk.clone(), deployer)
        .with_pace(pace)
        .with_staging_bucket(staging);
    let handler =
        Arc::new(Handler::new(runner, aws_sdk_codepipeline::Client::new(&sdk)).with_tasks(tasks));
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
