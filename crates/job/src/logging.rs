//! The function's logging: Lambda's conventions (level from `AWS_LAMBDA_LOG_LEVEL` or
//! `RUST_LOG`, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`), with the one guarantee the runtime's
//! default lacks: the raw event, which carries the artifact credentials, is never logged.

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Whether an event may be logged at all, whatever the level asked for.
///
/// `lambda_runtime` logs every incoming event's body at TRACE ("raw JSON event received from
/// Lambda"); a CodePipeline event holds the artifact secret key and session token.
pub fn allowed(target: &str, level: &Level) -> bool {
    !(target.starts_with("lambda_runtime") && *level == Level::TRACE)
}

/// Installs the subscriber; call once, at start.
pub fn init() {
    let directives = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let levels = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives.to_lowercase());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let format = if json {
        format.json().with_current_span(true).boxed()
    } else {
        format.boxed()
    };
    tracing_subscriber::registry()
        .with(
            format
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
        assert!(allowed("cfn_deployer::pipeline", &Level::TRACE));
    }
}
