//! The end of a run: the stack's outputs as a table, the output artifact's files, the AWS
//! calls made and bytes read, and one verdict; as lines or as one JSON summary.

use std::io::Read as _;

use aws_config::SdkConfig;
use cfn_deployer_artifact::Location;
use serde_json::{json, Map, Value};

use crate::outcome::{End, JobResult, Summary};
use crate::s3::s3_client;

/// What the stack looked like at the end.
#[derive(Debug, Clone)]
pub struct StackState {
    /// Its name.
    pub name: String,
    /// Its status, or why it could not be read.
    pub status: Result<String, String>,
    /// Its outputs, in the order CloudFormation lists them.
    pub outputs: Vec<(String, String)>,
}

/// A file of the output artifact, with its text when it is short and readable.
#[derive(Debug, Clone, Default)]
pub struct OutputFile {
    /// Its name in the zip.
    pub name: String,
    /// Its first 4 KiB, when text.
    pub text: Option<String>,
}

/// The output artifact, when the job wrote one.
#[derive(Debug, Clone)]
pub struct OutputArtifact {
    /// Where it is.
    pub location: Location,
    /// Its files; `None` when it is not a zip archive.
    pub files: Option<Vec<OutputFile>>,
}

/// Everything the end of a run shows.
#[derive(Debug, Clone)]
pub struct Report {
    /// What the run did and how it ended.
    pub summary: Summary,
    /// Who made the AWS calls counted: "function" or "workers".
    pub callers: &'static str,
    /// The stack, when one stack was deployed.
    pub stack: Option<StackState>,
    /// The output artifact, when written.
    pub output_artifact: Option<OutputArtifact>,
}

/// Reads the stack and the output artifact for the report.
pub async fn gather(
    sdk: &SdkConfig,
    stack_sdk: &SdkConfig,
    summary: Summary,
    callers: &'static str,
    stack: Option<&str>,
) -> Report {
    let stack = match stack {
        Some(name) => {
            Some(stack_state(&aws_sdk_cloudformation::Client::new(stack_sdk), name).await)
        }
        None => None,
    };
    let output_artifact = output_artifact(sdk, &summary.output_artifact).await;
    Report {
        summary,
        callers,
        stack,
        output_artifact,
    }
}

async fn stack_state(cfn: &aws_sdk_cloudformation::Client, name: &str) -> StackState {
    let (status, outputs) = match cfn_deployer_engine::Deployer::new(cfn.clone())
        .describe(name)
        .await
    {
        Ok(Some(s)) => (
            Ok(s.stack_status()
                .map(|st| st.as_str().to_owned())
                .unwrap_or_default()),
            s.outputs()
                .iter()
                .map(|o| {
                    (
                        o.output_key().unwrap_or("?").to_owned(),
                        o.output_value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        ),
        // Deleted, say.
        Ok(None) => (Err("does not exist".to_owned()), Vec::new()),
        Err(e) => (Err(e.fault.to_text()), Vec::new()),
    };
    StackState {
        name: name.to_owned(),
        status,
        outputs,
    }
}

async fn output_artifact(sdk: &SdkConfig, location: &Location) -> Option<OutputArtifact> {
    let out = s3_client(sdk)
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.ok()?.into_bytes();
    let files = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .ok()
        .map(|mut archive| {
            (0..archive.len())
                .filter_map(|i| {
                    let mut file = archive.by_index(i).ok()?;
                    let mut text = String::new();
                    let readable = std::io::Read::take(&mut file, 4096)
                        .read_to_string(&mut text)
                        .is_ok();
                    Some(OutputFile {
                        name: file.name().unwrap_or_default().into_owned(),
                        text: readable.then_some(text),
                    })
                })
                .collect()
        });
    Some(OutputArtifact {
        location: location.clone(),
        files,
    })
}

/// What a line of the report is, for the live view to style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A section's first line: the stack, its outputs, the output artifact.
    Title,
    /// A line of a section.
    Row,
    /// A figure: jobs, calls, memory.
    Figure,
    /// The verdict, last.
    Verdict,
}

/// The rows of a two-column table, the first column padded to its widest cell.
fn table<'a>(rows: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Vec<String> {
    let width = rows
        .clone()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.map(|(k, v)| format!("  {k:<width$}  {v}")).collect()
}

impl Report {
    /// Whether the action succeeded.
    pub fn succeeded(&self) -> bool {
        matches!(self.summary.end, End::Reported(JobResult::Succeeded { .. }))
    }

    /// The output variables the job reported, as text.
    fn output_variables(&self) -> Vec<(String, String)> {
        match &self.summary.end {
            End::Reported(JobResult::Succeeded {
                output_variables: Some(Value::Object(vars)),
                ..
            }) => vars
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The verdict: `✔ SUCCEEDED: …`, `✘ FAILED (Type): …` or `✘ NOT REPORTED: …`.
    pub fn verdict(&self) -> String {
        match &self.summary.end {
            End::Reported(JobResult::Succeeded { summary, .. }) => {
                format!("✔ SUCCEEDED: {}", summary.as_deref().unwrap_or_default())
            }
            End::Reported(JobResult::Failed { kind, message, .. }) => {
                format!("✘ FAILED ({kind}): {message}")
            }
            End::NotReported(why) => format!("✘ NOT REPORTED: {why}"),
        }
    }

    /// The report as lines, the verdict last.
    pub fn lines(&self) -> Vec<String> {
        self.styled_lines().into_iter().map(|(_, l)| l).collect()
    }

    /// The report as lines, each with its kind.
    pub fn styled_lines(&self) -> Vec<(Kind, String)> {
        let mut out = Vec::new();
        for line in self.text() {
            let kind = if line.starts_with(' ') {
                Kind::Row
            } else if line.starts_with("Stack ") || line.starts_with("Output") {
                Kind::Title
            } else {
                Kind::Figure
            };
            out.push((kind, line));
        }
        out.push((Kind::Verdict, self.verdict()));
        out
    }

    fn text(&self) -> Vec<String> {
        let s = &self.summary;
        let mut lines = Vec::new();
        let variables = self.output_variables();
        let mut variables_shown = false;
        if let Some(stack) = &self.stack {
            match &stack.status {
                Ok(status) => lines.push(format!("Stack {}: {status}", stack.name)),
                Err(why) => lines.push(format!("Stack {}: {why}", stack.name)),
            }
            if !stack.outputs.is_empty() {
                let sorted = |v: &[(String, String)]| {
                    let mut v = v.to_vec();
                    v.sort();
                    v
                };
                let same = sorted(&stack.outputs) == sorted(&variables);
                variables_shown = same;
                lines.push(if same {
                    "Outputs, also the action's output variables".to_owned()
                } else {
                    "Outputs".to_owned()
                });
                lines.extend(table(
                    stack.outputs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ));
            }
        }
        // Variables that are not the stack's outputs (a change set's id, or no stack read).
        if !variables_shown && !variables.is_empty() {
            lines.push("Output variables".to_owned());
            lines.extend(table(
                variables.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ));
        }
        if let Some(artifact) = &self.output_artifact {
            lines.push(format!(
                "Output artifact {} at {}",
                self.summary.output_artifact_name, artifact.location
            ));
            match &artifact.files {
                None => lines.push("  (not a zip archive)".to_owned()),
                Some(files) => {
                    for file in files {
                        lines.push(format!("  {}", file.name));
                        for text in file.text.iter().flat_map(|t| t.lines()) {
                            lines.push(format!("    {text}"));
                        }
                    }
                }
            }
        }
        let units = if self.callers == "workers" {
            "claim(s)"
        } else {
            "invocation(s)"
        };
        let transitions = s
            .state_transitions
            .map(|t| format!(", {t} state transition(s)"))
            .unwrap_or_default();
        lines.push(format!(
            "{} job(s), {} {units}{transitions}",
            s.jobs, s.invocations
        ));
        if !s.calls.is_empty() {
            let total: u64 = s.calls.values().sum();
            let each: Vec<String> = s.calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
            lines.push(format!(
                "AWS calls by the {}: {total} ({}); S3 bytes received: {}",
                self.callers,
                each.join(", "),
                s.s3_bytes
            ));
        }
        if let (true, Some(peak)) = (self.callers == "workers", s.peak_rss_kib) {
            let calls: Vec<String> = s
                .calls_to_codepipeline
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect();
            lines.push(format!(
                "workers: peak memory {:.1} MiB; CodePipeline calls: {}",
                peak as f64 / 1024.0,
                calls.join(", ")
            ));
        }
        if let (Some(start), Some(peak)) = (s.cold_start, s.peak_rss_kib) {
            lines.push(format!(
                "function: ready {} ms after start; peak memory {:.1} MiB",
                start.as_millis(),
                peak as f64 / 1024.0
            ));
        }
        if s.artifact_calls > 0 && s.artifact_misuse.is_empty() {
            lines.push(format!(
                "artifact credentials: {} S3 call(s), each a read of the input artifact or a write of the output artifact",
                s.artifact_calls
            ));
        }
        for misuse in &s.artifact_misuse {
            lines.push(format!("artifact credentials used for {misuse}: neither a read of the input artifact nor a write of the output artifact"));
        }
        for fault in &s.injected {
            lines.push(format!("fault injected: {fault}"));
        }
        lines
    }

    /// The report as one JSON object, for scripts.
    pub fn json(&self) -> Value {
        let s = &self.summary;
        let (outcome, summary, failure) = match &s.end {
            End::Reported(JobResult::Succeeded { summary, .. }) => {
                ("SUCCEEDED", summary.clone(), Value::Null)
            }
            End::Reported(JobResult::Failed { kind, message, .. }) => {
                ("FAILED", None, json!({"type": kind, "message": message}))
            }
            End::NotReported(why) => ("NOT_REPORTED", None, json!({"type": null, "message": why})),
        };
        let pairs = |v: &[(String, String)]| -> Map<String, Value> {
            v.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        };
        let stack = self.stack.as_ref().map(|st| {
            json!({
                "name": st.name,
                "status": st.status.as_ref().ok(),
                "error": st.status.as_ref().err(),
            })
        });
        let artifact = self.output_artifact.as_ref().map(|a| {
            json!({
                "name": self.summary.output_artifact_name,
                "location": a.location.to_string(),
                "files": a.files.as_ref().map(|f| f.iter().map(|f| f.name.clone()).collect::<Vec<_>>()),
            })
        });
        json!({
            "outcome": outcome,
            "summary": summary,
            "failure": failure,
            "stack": stack,
            "outputs": self.stack.as_ref().map(|st| pairs(&st.outputs)).unwrap_or_default(),
            "output_variables": pairs(&self.output_variables()),
            "output_artifact": artifact,
            "jobs": s.jobs,
            "invocations": s.invocations,
            "state_transitions": s.state_transitions,
            "aws_calls": {
                "by": self.callers,
                "total": s.calls.values().sum::<u64>(),
                "by_operation": s.calls,
                "s3_bytes_received": s.s3_bytes,
            },
            "codepipeline_calls": s.calls_to_codepipeline,
            "faults_injected": s.injected,
        })
    }
}

/// The one JSON summary of a run that could not start (no endpoint, no artifact, settings
/// the local pipeline itself refuses): the shape of [`Report::json`], so that a script reads
/// one document whatever happened, with `outcome` `NOT_STARTED` and the reason.
pub fn not_started_json(message: &str) -> Value {
    json!({
        "outcome": "NOT_STARTED",
        "summary": null,
        "failure": {"type": null, "message": message},
        "stack": null,
        "outputs": {},
        "output_variables": {},
        "output_artifact": null,
        "jobs": 0,
        "invocations": 0,
        "state_transitions": null,
        "aws_calls": {"by": null, "total": 0, "by_operation": {}, "s3_bytes_received": 0},
        "codepipeline_calls": {},
        "faults_injected": [],
    })
}
