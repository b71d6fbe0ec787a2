//! Short, readable descriptions of AWS SDK errors, shared by every module that calls AWS.

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

/// S3 settings on top of the shared ones, path-style when a custom endpoint is set: moto,
/// MinIO or a VPC endpoint by IP rarely serve virtual-host buckets.
pub fn s3_config(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::config::Builder {
    let custom_endpoint =
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(custom_endpoint)
}

/// The longest transport error text kept; the SDK's full context runs to kilobytes.
const MAX_DETAIL: usize = 300;

/// An AWS error reduced to its code (when the service answered with one) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFault {
    /// The AWS error code, e.g. `ValidationError`.
    pub code: Option<String>,
    /// The service's message, or what went wrong on the way.
    pub message: String,
}

impl AwsFault {
    /// Describes `err` in one line.
    pub fn of<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = match (err.message(), err) {
            (Some(m), _) => m.to_owned(),
            (None, SdkError::TimeoutError(_)) => "the request timed out".to_owned(),
            (None, SdkError::DispatchFailure(e)) => match e.as_connector_error() {
                Some(c) => format!("the request could not be sent ({})", chain(c)),
                None => "the request could not be sent".to_owned(),
            },
            (None, SdkError::ResponseError(_)) => "the response could not be read".to_owned(),
            (None, SdkError::ServiceError(ctx)) => {
                format!(
                    "the service answered HTTP {} with no error message",
                    ctx.raw().status().as_u16()
                )
            }
            (None, other) => chain(other),
        };
        Self { code, message }
    }

    /// `Code: message`, or the message alone.
    pub fn to_text(&self) -> String {
        match &self.code {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// An error and its sources, joined, cut to [`MAX_DETAIL`] characters.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::deploy::events::truncate(text, MAX_DETAIL)
}
