//! Whole objects: reading one that is not an archive (a template or a settings file in S3),
//! and writing one, encrypted as the bucket's owner wants.

use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;
use cfn_deployer_aws::AwsFault;

use crate::{ArtifactError, FetchStats, Fetcher, Location};

/// Reads the object at `location`, refusing one over `limit` bytes (by one ranged GET of at
/// most `limit + 1` bytes, so that a huge object costs no more).
pub async fn read_object(
    s3: &Client,
    location: &Location,
    limit: u64,
) -> Result<(Vec<u8>, FetchStats), ArtifactError> {
    let mut fetch = Fetcher {
        s3,
        location,
        stats: FetchStats::default(),
    };
    let (_, data, total) = match fetch.get(Some(0), limit.saturating_add(1)).await {
        Ok(got) => got,
        // A whole object is read, so an empty one is just no bytes.
        Err(ArtifactError::Empty { .. }) => return Ok((Vec::new(), fetch.stats)),
        Err(e) => return Err(e),
    };
    if total > limit || data.len() as u64 > limit {
        return Err(ArtifactError::TooLarge {
            path: location.key.clone(),
            size: total.max(data.len() as u64),
            limit,
        });
    }
    Ok((data, fetch.stats))
}

/// Writes `data` to `location`: SSE-KMS with `kms_key` when given, else SSE-S3.
pub async fn put_object(
    s3: &Client,
    location: &Location,
    data: Vec<u8>,
    kms_key: Option<&str>,
) -> Result<(), ArtifactError> {
    let put = s3
        .put_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .body(data.into());
    let put = match kms_key {
        Some(key) => put
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(key),
        None => put.server_side_encryption(ServerSideEncryption::Aes256),
    };
    put.send().await.map(drop).map_err(|e| {
        let fault = AwsFault::of(&e);
        if fault.is_access_denied() {
            ArtifactError::AccessDenied {
                location: location.clone(),
                message: fault.to_text(),
            }
        } else {
            ArtifactError::S3 {
                location: location.clone(),
                message: fault.to_text(),
            }
        }
    })
}
