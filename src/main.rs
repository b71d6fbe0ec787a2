//! The Lambda function's entry point: settings, clients, the runtime. Wiring only.

// The SDK futures nest deeply; computing their layout needs more than the default depth.
#![recursion_limit = "256"]

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use cfn_deployer::Handler;
use cfn_deployer_job::Runner;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Text locally, JSON in Lambda when `AWS_LAMBDA_LOG_FORMAT=JSON`; never the raw event.
    cfn_deployer_job::logging::init();
    // Every AWS call ends: a hung connection must not outlive the invocation.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let runner = Runner::new(sdk.clone(), aws_sdk_cloudformation::Client::new(&sdk))
        .with_pace(cfn_deployer_job::pace_from_env())
        .with_roles(cfn_deployer_job::roles_from_env());
    let handler = Arc::new(Handler::new(
        runner,
        aws_sdk_codepipeline::Client::new(&sdk),
    ));
    // Sequential as on classic Lambda; with AWS_LAMBDA_MAX_CONCURRENCY > 1 (Lambda Managed
    // Instances) several invocations run at once.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let deadline = event.context.deadline();
            handler
                .handle(event.payload, Some(deadline))
                .await
                .map(drop)
        }
    }))
    .await
}
