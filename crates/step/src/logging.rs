//! Logging for every front's process, at the level and in the format its front reads (the
//! function Lambda's `AWS_LAMBDA_LOG_*`, the worker its flags and `RUST_LOG`), with the one
//! guarantee the runtime's default lacks: the raw event, which carries the artifact
//! credentials, is never logged.
//! Text lines are compact, `LEVEL job=<id> stack=<name> message key=value …`; JSON lines keep
//! every field and span.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
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
/// libraries (the SDK, hyper, h2, rustls) log bodies at TRACE.
pub fn allowed(target: &str, level: &Level) -> bool {
    let wire = target.starts_with("lambda_runtime")
        || WIRE_LEVEL_TARGETS.iter().any(|t| target.starts_with(t));
    !(wire && *level == Level::TRACE)
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Compact text lines, for a terminal: `LEVEL job=<id> stack=<name> message key=value …`.
    Text,
    /// One JSON object per line, every field kept: what Lambda and CloudWatch read.
    Json,
}

/// Installs the subscriber, writing `format` at the levels `directives` name (`info` when
/// `None`, as `RUST_LOG` spells them); call once, at start.
pub fn init(format: Format, directives: Option<String>) {
    let directives = directives.unwrap_or_else(|| "info".into());
    let levels = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives.to_lowercase());
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let layer = match format {
        Format::Json => layer.json().with_current_span(true).boxed(),
        Format::Text => layer
            .fmt_fields(CompactFields)
            .event_format(CompactLine)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(
            layer
                .with_filter(levels)
                .with_filter(filter_fn(|meta| allowed(meta.target(), meta.level()))),
        )
        .init();
}

/// The spans a compact line leaves out: the runtime's `Lambda runtime invoke` span, whose
/// request id and X-Ray trace id would open every line with some 120 characters.
fn span_shown(target: &str) -> bool {
    !target.starts_with("lambda_runtime")
}

/// Writes fields as `message key=value …`, the message first, `job_id` as `job`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompactFields;

impl<'w> FormatFields<'w> for CompactFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Collect::default();
        fields.record(&mut visitor);
        writer.write_str(&visitor.line())
    }
}

/// A compact line's fields, gathered so that the message comes first whatever the order of
/// the call site.
#[derive(Default)]
struct Collect {
    message: Option<String>,
    rest: Vec<String>,
}

impl Collect {
    fn line(&self) -> String {
        let mut line = self.message.clone().unwrap_or_default();
        for field in &self.rest {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(field);
        }
        line
    }
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            // The span field is `job_id` in JSON, where CloudWatch queries name it; `job` reads
            // better on a line.
            "job_id" => self.rest.push(format!("job={value:?}")),
            name => self.rest.push(format!("{name}={value:?}")),
        }
    }
}

/// The compact line: level, the fields of the spans in scope (the runtime's left out), then the
/// event's message and fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompactLine;

impl<S, N> FormatEvent<S, N> for CompactLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "{} ", event.metadata().level())?;
        // A field the event repeats from its spans (`stack`, say) is written once.
        let mut in_spans: Vec<String> = Vec::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if !span_shown(span.metadata().target()) {
                    continue;
                }
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{fields} ")?;
                        in_spans.extend(fields.split(' ').map(str::to_owned));
                    }
                }
            }
        }
        let mut fields = Collect::default();
        event.record(&mut fields);
        fields.rest.retain(|f| !in_spans.contains(f));
        writer.write_str(&fields.line())?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the tests read back.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn compact_lines_leave_out_the_runtime_span_and_name_the_job() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .fmt_fields(CompactFields)
            .event_format(CompactLine)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tracing::info_span!(
                target: "lambda_runtime::layers::trace",
                "Lambda runtime invoke",
                requestId = "5e7b7c1c-0000",
                xrayTraceId = "Root=1-6789"
            );
            let _runtime = runtime.enter();
            let job = tracing::info_span!("job", job_id = %"c968ef10");
            let _job = job.enter();
            let deploy = tracing::info_span!("deploy", stack = %"web");
            let _deploy = deploy.enter();
            tracing::info!(artifact = %"BuildOutput", size = 42, "file read from artifact");
            tracing::info!(stack = %"web", status = "CREATE_COMPLETE", "operation complete");
            tracing::warn!(reason = "slow", "stalled");
        });
        let text =
            String::from_utf8(buffer.0.lock().expect("not poisoned").clone()).expect("UTF-8");
        assert_eq!(
            text,
            "INFO job=c968ef10 stack=web file read from artifact artifact=BuildOutput size=42\n\
             INFO job=c968ef10 stack=web operation complete status=\"CREATE_COMPLETE\"\n\
             WARN job=c968ef10 stack=web stalled reason=\"slow\"\n"
        );
    }

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
