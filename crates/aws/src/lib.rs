//! What every cfn-deployer crate shares about calling AWS: one-line descriptions of SDK errors,
//! the one rule for "AWS refused for lack of permission", S3 client settings, and text cut to
//! the limits AWS APIs set.
//!
//! It knows nothing of stacks, artifacts or pipelines.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// S3 settings on top of the shared ones, path-style when a custom endpoint is set: moto,
/// MinIO or a VPC endpoint by IP rarely serve virtual-host buckets.
pub fn s3_config(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::config::Builder {
    let custom_endpoint =
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(custom_endpoint)
}

/// The region of `sdk`, `us-east-1` when none is set (as the SDK's own S3 URLs assume).
pub fn region(sdk: &aws_config::SdkConfig) -> &str {
    sdk.region().map_or("us-east-1", |r| r.as_ref())
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
    /// The HTTP status, when the service answered.
    pub status: Option<u16>,
}

impl AwsFault {
    /// Describes `err` in one line.
    pub fn of<E>(err: &SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let status = match err {
            SdkError::ServiceError(ctx) => Some(ctx.raw().status().as_u16()),
            SdkError::ResponseError(ctx) => Some(ctx.raw().status().as_u16()),
            _ => None,
        };
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
        Self {
            code,
            message,
            status,
        }
    }

    /// `Code: message`, or the message alone.
    pub fn to_text(&self) -> String {
        match &self.code {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// Whether AWS refused the call for lack of permission; see [`is_access_denied`].
    pub fn is_access_denied(&self) -> bool {
        is_access_denied(self.code.as_deref(), &self.message)
    }
}

/// Whether an AWS error means "not allowed". Services spell it differently: S3 `AccessDenied`
/// (or a bare 403 `Forbidden` on HEAD-like answers), KMS `KMS.AccessDeniedException` through
/// S3, JSON services `AccessDeniedException`; CloudFormation and IAM-checked Query APIs answer
/// `AccessDenied`, and some only say "not authorized to perform" in the message, which is why
/// the message is read too.
pub fn is_access_denied(code: Option<&str>, message: &str) -> bool {
    matches!(
        code,
        Some(
            "AccessDenied"
                | "AccessDeniedException"
                | "Forbidden"
                | "KMS.AccessDeniedException"
                | "AuthorizationError"
        )
    ) || message.contains("not authorized to perform")
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
    truncate(text, MAX_DETAIL)
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let keep: usize = text
        .char_indices()
        .nth(max.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    text.truncate(keep);
    text.push('…');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_characters() {
        assert_eq!(truncate("ééééé".into(), 3), "éé…");
        assert_eq!(truncate("abc".into(), 3), "abc");
    }

    #[test]
    fn access_denied_in_every_spelling() {
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "Forbidden",
            "KMS.AccessDeniedException",
        ] {
            assert!(is_access_denied(Some(code), ""), "{code}");
        }
        assert!(is_access_denied(
            Some("ValidationError"),
            "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: cloudformation:CreateStack"
        ));
        assert!(!is_access_denied(
            Some("ValidationError"),
            "Template format error"
        ));
        assert!(!is_access_denied(None, "the request timed out"));
    }
}
