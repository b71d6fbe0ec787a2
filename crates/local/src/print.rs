//! What a run prints at its end: the output artifact's files, the stack's status and outputs.

use std::io::Read as _;

use aws_config::SdkConfig;
use cfn_deployer_artifact::Location;

use crate::run::{s3_client, OUTPUT_ARTIFACT};

/// Prints what the function wrote to the output artifact, if anything: each file in the zip,
/// with its text when it is short.
pub async fn print_output_artifact(sdk: &SdkConfig, location: &Location) {
    let Ok(out) = s3_client(sdk)
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
    else {
        return;
    };
    let Ok(bytes) = out.body.collect().await.map(|b| b.into_bytes()) else {
        return;
    };
    println!("output artifact `{OUTPUT_ARTIFACT}` at {location}");
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        println!("output artifact `{OUTPUT_ARTIFACT}` at {location} is not a zip archive");
        return;
    };
    for i in 0..archive.len() {
        let Ok(mut file) = archive.by_index(i) else {
            continue;
        };
        let mut text = String::new();
        let readable = std::io::Read::take(&mut file, 4096)
            .read_to_string(&mut text)
            .is_ok();
        println!(
            "output artifact `{OUTPUT_ARTIFACT}`: {}",
            file.name().unwrap_or_default()
        );
        if readable {
            for line in text.lines() {
                println!("  {line}");
            }
        }
    }
}

/// Prints a stack's status and outputs, as the end of a run shows them.
pub async fn print_stack(cfn: &aws_sdk_cloudformation::Client, stack: &str) {
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => {
            for s in out.stacks() {
                println!(
                    "stack {}: {}",
                    s.stack_name().unwrap_or(stack),
                    s.stack_status().map(|st| st.as_str()).unwrap_or("?")
                );
                for o in s.outputs() {
                    println!(
                        "  output {} = {}",
                        o.output_key().unwrap_or("?"),
                        o.output_value().unwrap_or_default()
                    );
                }
            }
        }
        Err(e) => println!(
            "stack {stack}: {}",
            cfn_deployer_aws::AwsFault::of(&e).to_text()
        ),
    }
}
