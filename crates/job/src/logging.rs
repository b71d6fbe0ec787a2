//! Logging for the function and the worker: Lambda's conventions (level from `AWS_LAMBDA_LOG_LEVEL` or
//! `RUST_LOG`, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`), with the one guarantee the runtime's
//! default lacks: the raw event, which carries the artifact credentials, is never logged.

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The libraries whose TRACE lines carry what was sent and received: the SDK's runtime logs
/// response bodies (DescribeStacks XML with parameter values and outputs), its signer the
/// canonical request, the HTTP and TLS stacks their frames. They are capped at DEBUG, whatever
/// level is asked for. (`aws_` covers the SDK's crates: `aws_smithy_*`, `aws_sigv4`,
/// `aws_runtime`, `aws_config`, `aws_sdk_*`; this project's own crates are `cfn_deployer*`.)
const WIRE_LEVEL_TARGETS: &[&str] = &["aws_", "hyper", "h2", "rustls"];

/// Whether an event may be logged at all, whatever the level asked for.
///
/// `lambda_runtime` logs every incoming event's body at TRACE ("raw JSON event received from
/// Lambda"); a CodePipeline event holds the artifact secret key and session token. The
/// libraries in [`WIRE_LEVEL_TARGETS`] log bodies at TRACE.
pub fn allowed(target: &str, level: &Level) -> bool {
    let wire = target.starts_with("lambda_runtime")
        || WIRE_LEVEL_TARGETS.iter().any(|t| target.starts_with(t));
    !(wire && *level == Level::TRACE)
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text lines, for a terminal.
    Text,
    /// One JSON object per line, every field kept: what Lambda and CloudWatch read.
    Json,
}

impl Format {
    /// Lambda's convention: JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, else text.
    pub fn from_lambda_env() -> Self {
        if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
            Self::Json
        } else {
            Self::Text
        }
    }
}

/// Installs the subscriber; call once, at start.
pub fn init(format: Format) {
    let directives = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let levels = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives.to_lowercase());
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let layer = match format {
        Format::Json => layer.json().with_current_span(true).boxed(),
        Format::Text => layer.boxed(),
    };
    tracing_subscriber::registry()
        .with(
            layer
                .with_filter(levels)
                .with_filter(filter_fn(|meta| allowed(meta.target(), meta.level()))),
        )
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_never_traces_events() {
        assert!(!allowed(
            "lambda_runtime::layers::api_response",
            &Level::TRACE
        ));
        assert!(allowed("lambda_runtime::runtime", &Level::DEBUG));
        assert!(allowed("cfn_deployer_job::run", &Level::TRACE));
        for target in [
            "aws_smithy_runtime::client::http::body",
            "aws_smithy_http_client",
            "aws_sigv4::http_request::sign",
            "hyper_util::client",
            "h2::codec",
            "rustls::conn",
        ] {
            assert!(!allowed(target, &Level::TRACE), "{target}");
            assert!(allowed(target, &Level::DEBUG), "{target}");
        }
    }
}
