//! The pipeline's own S3 access, apart from the function's: its client, and its buckets made
//! when missing.

use aws_config::SdkConfig;

use crate::error::LocalError;

/// An S3 client with the pipeline's own credentials; path-style on a custom endpoint.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(cfn_deployer_aws::s3_config(sdk).build())
}

/// Creates `bucket` in the configured region, unless it is there already.
pub(crate) async fn ensure_bucket(
    s3: &aws_sdk_s3::Client,
    sdk: &SdkConfig,
    bucket: &str,
) -> Result<(), LocalError> {
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut create = s3.create_bucket().bucket(bucket);
    let region = sdk
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    if !region.is_empty() && region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    region.as_str(),
                ))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let fault = cfn_deployer_aws::AwsFault::of(&e);
            // Created by a concurrent run between the check and the create.
            if fault.code.as_deref() == Some("BucketAlreadyOwnedByYou") {
                Ok(())
            } else {
                Err(LocalError::Aws(format!(
                    "creating artifact bucket `{bucket}` failed: {}",
                    fault.to_text()
                )))
            }
        }
    }
}
