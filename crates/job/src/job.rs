//! A CodePipeline job, the same whichever way it arrived: from a Lambda Invoke action's event
//! (parsed with `aws_lambda_events`) or from `PollForJobs` (the SDK's `types::Job`). Either is
//! reduced at once to what a deploy needs, with the artifact credentials behind a type that
//! never prints them.

use std::collections::HashMap;

use aws_lambda_events::event::codepipeline_job::CodePipelineJobEvent;
use cfn_deployer_artifact::Location;
use serde_json::Value;

/// A secret string: its `Debug` prints a placeholder, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must hand it to an SDK.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The temporary credentials CodePipeline passes for reading and writing artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCredentials {
    /// The access key id (not secret on its own).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
}

/// One input or output artifact of the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The artifact's name in the pipeline.
    pub name: String,
    /// Where it lies in S3, when the event says.
    pub location: Option<Location>,
}

/// How the action was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Configuration {
    /// A Lambda Invoke action's `UserParameters`, as written in the pipeline.
    UserParameters(Option<String>),
    /// A custom action's configuration properties.
    Properties {
        /// The properties, by name.
        values: HashMap<String, String>,
        /// The queryable property, which routes jobs to workers and is no setting.
        query: Option<String>,
    },
}

/// A CodePipeline job, as the deployer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job id; every continuation is a new job with a new id.
    pub id: String,
    /// The action's configuration.
    pub configuration: Configuration,
    /// The action's input artifacts.
    pub input_artifacts: Vec<Artifact>,
    /// The action's output artifacts.
    pub output_artifacts: Vec<Artifact>,
    /// Credentials for the artifact bucket.
    pub credentials: Option<ArtifactCredentials>,
    /// Set when this job continues an earlier one.
    pub continuation_token: Option<String>,
    /// The KMS key the pipeline encrypts its artifacts with, when it has one.
    pub encryption_key: Option<String>,
}

/// The event could not be read as a CodePipeline job.
#[derive(Debug, thiserror::Error)]
#[error("the event is not a valid CodePipeline job: {0}")]
pub struct EventError(String);

/// The job id, read before anything else so that even a malformed job can be failed.
pub fn job_id(event: &Value) -> Option<&str> {
    event
        .get("CodePipeline.job")?
        .get("id")?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Parses a Lambda Invoke action's event into a [`Job`].
pub fn parse(event: Value) -> Result<Job, EventError> {
    // `aws_lambda_events` has no field for the artifact store's key: read it from the event.
    let encryption_key = event
        .pointer("/CodePipeline.job/data/encryptionKey")
        .filter(|k| {
            k.get("type")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "KMS")
        })
        .and_then(|k| k.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let parsed: CodePipelineJobEvent = serde_path_to_error::deserialize(event).map_err(|e| {
        let path = e.path().to_string();
        EventError(format!(
            "field `{path}`: {}",
            without_values(&e.inner().to_string())
        ))
    })?;
    let job = parsed.code_pipeline_job;
    let id = job
        .id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| EventError("field `CodePipeline.job.id` is missing".into()))?;
    let data = job.data;
    let artifact =
        |name: Option<String>,
         location: aws_lambda_events::event::codepipeline_job::CodePipelineS3Location| {
            Artifact {
                name: name.unwrap_or_default(),
                location: match (location.bucket_name, location.object_key) {
                    (Some(bucket), Some(key)) => Some(Location { bucket, key }),
                    _ => None,
                },
            }
        };
    let creds = data.artifact_credentials;
    let credentials = match (creds.access_key_id, creds.secret_access_key) {
        (Some(access_key_id), Some(secret)) => Some(ArtifactCredentials {
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token: creds.session_token.map(Secret::new),
        }),
        _ => None,
    };
    Ok(Job {
        id,
        configuration: Configuration::UserParameters(
            data.action_configuration.configuration.user_parameters,
        ),
        input_artifacts: data
            .input_artifacts
            .into_iter()
            .map(|a| artifact(a.name, a.location.s3_location))
            .collect(),
        output_artifacts: data
            .out_put_artifacts
            .into_iter()
            .map(|a| artifact(a.name, a.location.s3_location))
            .collect(),
        credentials,
        continuation_token: data.continuation_token.filter(|t| !t.is_empty()),
        encryption_key,
    })
}

/// Reads a job that `PollForJobs` handed out; `query` names the action type's queryable
/// property, if it has one.
pub fn from_sdk(
    job: aws_sdk_codepipeline::types::Job,
    query: Option<&str>,
) -> Result<Job, EventError> {
    let id = job
        .id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| EventError("the job has no id".into()))?;
    let data = job
        .data
        .ok_or_else(|| EventError(format!("job {id} has no data")))?;
    let artifacts = |list: Option<Vec<aws_sdk_codepipeline::types::Artifact>>| -> Vec<Artifact> {
        list.unwrap_or_default()
            .into_iter()
            .map(|a| Artifact {
                name: a.name.unwrap_or_default(),
                location: a.location.and_then(|l| l.s3_location).map(|s3| Location {
                    bucket: s3.bucket_name,
                    key: s3.object_key,
                }),
            })
            .collect()
    };
    let credentials = data.artifact_credentials.map(|c| ArtifactCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: Secret::new(c.secret_access_key),
        session_token: Some(Secret::new(c.session_token)).filter(|t| !t.expose().is_empty()),
    });
    let encryption_key = data
        .encryption_key
        .filter(|k| k.r#type.as_str() == "KMS" && !k.id.is_empty())
        .map(|k| k.id);
    Ok(Job {
        id,
        configuration: Configuration::Properties {
            values: data
                .action_configuration
                .and_then(|c| c.configuration)
                .unwrap_or_default(),
            query: query.map(str::to_owned),
        },
        input_artifacts: artifacts(data.input_artifacts),
        output_artifacts: artifacts(data.output_artifacts),
        credentials,
        continuation_token: data.continuation_token.filter(|t| !t.is_empty()),
        encryption_key,
    })
}

/// Drops quoted values from a serde message, so that a misplaced secret is never echoed.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        serde_json::from_str(include_str!("../../../events/codepipeline-job.json"))
            .expect("sample event")
    }

    #[test]
    fn parses_the_sample_event() {
        let job = parse(sample()).expect("parses");
        assert_eq!(job.id, "11111111-abcd-1111-abcd-111111abcdef");
        assert_eq!(job.input_artifacts[0].name, "BuildOutput");
        assert!(job.input_artifacts[0].location.is_some());
        assert!(job.credentials.is_some());
        assert_eq!(job.continuation_token, None);
    }

    #[test]
    fn reads_the_artifact_stores_kms_key() {
        let mut event = sample();
        assert_eq!(parse(event.clone()).expect("parses").encryption_key, None);
        event["CodePipeline.job"]["data"]["encryptionKey"] =
            serde_json::json!({"id": "arn:aws:kms:us-east-1:1:key/k", "type": "KMS"});
        assert_eq!(
            parse(event).expect("parses").encryption_key.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
    }

    #[test]
    fn debug_never_prints_credentials() {
        let job = parse(sample()).expect("parses");
        let creds = job.credentials.clone().expect("credentials");
        let printed = format!("{job:?} {job:#?}");
        assert!(
            !printed.contains(creds.secret_access_key.expose()),
            "{printed}"
        );
        let token = creds.session_token.expect("token");
        assert!(!printed.contains(token.expose()), "{printed}");
        assert!(printed.contains(&creds.access_key_id));
    }

    #[test]
    fn malformed_events_name_the_field_without_values() {
        let mut event = sample();
        event["CodePipeline.job"]["data"]["inputArtifacts"] = Value::String("SECRET-ISH".into());
        let err = parse(event).expect_err("must fail").to_string();
        assert!(
            err.contains("CodePipeline.job.data.inputArtifacts"),
            "{err}"
        );
        assert!(!err.contains("SECRET-ISH"), "{err}");
    }

    #[test]
    fn job_id_is_found_in_a_broken_event() {
        let event = serde_json::json!({"CodePipeline.job": {"id": "abc", "data": 5}});
        assert_eq!(job_id(&event), Some("abc"));
        assert!(parse(event).is_err());
        assert_eq!(job_id(&serde_json::json!({"Records": []})), None);
    }
}
