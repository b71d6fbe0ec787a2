//! The pipeline layer: turns a CodePipeline job into a deploy request, and the deploy's outcome
//! into exactly one PutJob* report.

pub mod event;
pub mod params;
pub mod report;
pub mod token;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::Value;
use tracing::{info, warn, Instrument};

use crate::artifact::{self, ArtifactError, Location};
use crate::deploy::{
    now_epoch, DeployError, DeployRequest, Deployer, InFlight, Mode, Operation, Outcome, Template,
};

use self::event::{Artifact, ArtifactCredentials, EventError, Job};
use self::params::{Action, ArtifactAttribute, ParamValue, Params, ParamsError, TemplatePath};
use self::report::{Delivery, FailureKind, Report, ReportError};
use self::token::TokenError;

/// The largest template read from an artifact.
pub const MAX_TEMPLATE_FILE: u64 = 1024 * 1024;
/// The largest template CloudFormation accepts inline (`TemplateBody`).
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// Why a job fails; each becomes one failure report.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The event is malformed.
    #[error(transparent)]
    Event(#[from] EventError),
    /// `UserParameters` is unusable.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The continuation token is unusable.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The named input artifact is not in the event.
    #[error("input artifact `{name}` (UserParameters key `artifact`) is not an input of this action; its input artifacts are: {present}")]
    NoSuchArtifact {
        /// The name asked for.
        name: String,
        /// The names present.
        present: String,
    },
    /// The input artifact has no S3 location.
    #[error("input artifact `{0}` has no S3 location in the job: CodePipeline artifacts must be stored in S3")]
    NoLocation(String),
    /// `OutputFileName` is set but the action has no output artifact.
    #[error(
        "OutputFileName `{0}` needs an output artifact: add one to the action in the pipeline"
    )]
    NoOutputArtifact(String),
    /// The event carries no artifact credentials.
    #[error("the job carries no artifactCredentials, so input artifact `{0}` cannot be read")]
    NoCredentials(String),
    /// The artifact could not be read.
    #[error("input artifact `{name}`: {source}")]
    Artifact {
        /// The artifact's name.
        name: String,
        /// What went wrong.
        #[source]
        source: ArtifactError,
    },
    /// A configuration file in an artifact is unusable.
    #[error("file `{file}` in input artifact `{artifact}` {problem}")]
    ConfigFile {
        /// The artifact.
        artifact: String,
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The template is not text.
    #[error("template `{file}` in input artifact `{artifact}` is not UTF-8 text: CloudFormation templates are JSON or YAML")]
    NotText {
        /// The artifact.
        artifact: String,
        /// The file.
        file: String,
    },
    /// An object the job writes (a large template, the outputs file) could not be written.
    #[error("writing {what} to {location} failed: {message}")]
    Upload {
        /// What was being written.
        what: String,
        /// Where it was to be written.
        location: Location,
        /// What S3 said.
        message: String,
        /// Whether S3 refused for lack of permission.
        denied: bool,
    },
    /// A CloudFormation call failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
}

impl JobError {
    /// The failure type CodePipeline shows for this error.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Event(_)
            | Self::Params(_)
            | Self::NoSuchArtifact { .. }
            | Self::NoLocation(_)
            | Self::NoCredentials(_)
            | Self::ConfigFile { .. }
            | Self::NoOutputArtifact(_) => FailureKind::Configuration,
            Self::Artifact { source, .. } if source.is_access_denied() => FailureKind::Permission,
            Self::Deploy(e) if e.is_configuration() => FailureKind::Configuration,
            Self::Upload { denied: true, .. } => FailureKind::Permission,
            Self::Deploy(e) if e.is_access_denied() => FailureKind::Permission,
            Self::Token(_)
            | Self::Artifact { .. }
            | Self::NotText { .. }
            | Self::Upload { .. }
            | Self::Deploy(_) => FailureKind::JobFailed,
        }
    }
}

impl From<JobError> for Report {
    fn from(err: JobError) -> Self {
        let external_id = match &err {
            JobError::Deploy(e) if e.stack.starts_with("arn:") => Some(e.stack.clone()),
            _ => None,
        };
        Report::Failure {
            kind: err.kind(),
            message: err.to_string(),
            external_id,
        }
    }
}

impl From<Outcome> for Result<Report, JobError> {
    fn from(outcome: Outcome) -> Self {
        Ok(match outcome {
            Outcome::Succeeded {
                stack_id,
                summary,
                outputs,
            } => Report::Success {
                output_variables: outputs,
                summary,
                external_id: Some(stack_id),
            },
            Outcome::InProgress {
                flight,
                summary,
                percent,
            } => Report::Continue {
                percent,
                token: token::encode(&flight)?,
                summary,
                external_id: flight.stack_id,
            },
            Outcome::Failed { stack_id, message } => Report::Failure {
                kind: FailureKind::JobFailed,
                message,
                external_id: stack_id,
            },
        })
    }
}

/// The invocation could not end its job.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event has no job id, so there is nothing to report to.
    #[error("the event is not a CodePipeline job (no `CodePipeline.job.id`); nothing to report")]
    NotAJob,
    /// The report did not reach CodePipeline; returning the error makes Lambda deliver the job
    /// again.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match err {
            HandlerError::NotAJob => "NotAJob",
            HandlerError::Report(_) => "ReportFailed",
        };
        Self {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

/// The idempotency token for a job: every delivery of the same job derives the same one.
pub fn request_token(job_id: &str) -> String {
    let clean: String = job_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut token = format!("cfn-deployer-{clean}");
    token.truncate(128);
    token
}

/// An S3 client reading with the job's artifact credentials, on top of the shared settings
/// (region, endpoint, retries, timeouts).
pub fn artifact_s3_client(sdk: &SdkConfig, creds: &ArtifactCredentials) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose().to_owned(),
        creds.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "codepipeline-artifact",
    );
    let config = crate::aws::s3_config(sdk)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// How the function spends an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long one invocation may keep polling a running operation before it hands back a
    /// continuation, so that a deploy that ends in seconds is reported in seconds. Zero: poll
    /// once per invocation and leave the waiting to CodePipeline.
    pub poll_within: Duration,
    /// The pause between those polls.
    pub poll_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            poll_within: Duration::ZERO,
            poll_interval: Duration::from_secs(3),
        }
    }
}

impl Settings {
    /// Reads `CFN_DEPLOYER_POLL_WITHIN_SECONDS` and `CFN_DEPLOYER_POLL_INTERVAL_SECONDS`; an
    /// absent or unreadable value keeps the default.
    pub fn from_env() -> Self {
        let secs = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .and_then(|v| Duration::try_from_secs_f64(v).ok())
        };
        let default = Self::default();
        Self {
            poll_within: secs("CFN_DEPLOYER_POLL_WITHIN_SECONDS").unwrap_or(default.poll_within),
            poll_interval: secs("CFN_DEPLOYER_POLL_INTERVAL_SECONDS")
                .filter(|d| !d.is_zero())
                .unwrap_or(default.poll_interval),
        }
    }
}

/// The time kept back from an invocation's deadline for reporting: a tenth of what is left at
/// the start, between one and five seconds.
pub fn reserve(left: Duration) -> Duration {
    (left / 10).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// How long the work of an invocation may take, or `None` when the deadline is unknown. A
/// deadline already past is taken as unknown: `cargo lambda watch` sends one in 1970.
pub fn work_budget(deadline: Option<SystemTime>, now: SystemTime) -> Option<Duration> {
    let left = deadline?.duration_since(now).ok()?;
    Some(left.saturating_sub(reserve(left)))
}

/// Handles CodePipeline jobs: the Lambda function's whole logic.
#[derive(Debug, Clone)]
pub struct Handler {
    sdk: SdkConfig,
    deployer: Deployer,
    codepipeline: aws_sdk_codepipeline::Client,
    settings: Settings,
}

impl Handler {
    /// Builds the handler from shared settings and the clients it needs.
    pub fn new(
        sdk: SdkConfig,
        cloudformation: aws_sdk_cloudformation::Client,
        codepipeline: aws_sdk_codepipeline::Client,
    ) -> Self {
        Self {
            sdk,
            deployer: Deployer::new(cloudformation),
            codepipeline,
            settings: Settings::default(),
        }
    }

    /// The same handler with other settings.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Handles one event: runs the job one step and reports it exactly once. The work stops
    /// before `deadline` (the invocation's) and hands back a continuation instead.
    pub async fn handle(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Delivery, HandlerError> {
        let Some(job_id) = event::job_id(&event).map(str::to_owned) else {
            warn!("event without a CodePipeline job id");
            return Err(HandlerError::NotAJob);
        };
        let span = tracing::info_span!("job", job_id = %job_id);
        async move {
            let budget = work_budget(deadline, SystemTime::now());
            let report = match self.run(event, budget).await {
                Ok(report) => report,
                Err(err) => Report::from(err),
            };
            match &report {
                Report::Success { summary, .. } => info!(%summary, "reporting success"),
                Report::Continue { summary, .. } => info!(%summary, "reporting progress, to continue"),
                Report::Failure { kind, message, .. } => {
                    info!(?kind, %message, "reporting failure")
                }
            }
            let delivery = report::send(&self.codepipeline, &job_id, report).await;
            match &delivery {
                Ok(Delivery::Reported) => info!("reported"),
                Ok(Delivery::AlreadyReported) => {
                    info!("job already reported by another delivery of it")
                }
                Err(e) => warn!(error = %e, "report failed; returning an error so the job is delivered again"),
            }
            Ok(delivery?)
        }
        .instrument(span)
        .await
    }

    async fn run(&self, event: Value, budget: Option<Duration>) -> Result<Report, JobError> {
        let job = event::parse(event)?;
        let params = Params::parse(job.user_parameters.as_deref())?;
        let flight = match &job.continuation_token {
            Some(text) => Some(token::decode(text, &params.stack)?),
            None => None,
        };
        // Where the next invocation picks up if this one runs out of time: the same operation,
        // or, before one is known to have started, a wait on the stack that deploys once it is
        // free (with the same request token, so nothing starts twice).
        let resume = flight.clone().unwrap_or_else(|| InFlight {
            stack_name: params.stack.clone(),
            stack_id: params.stack.clone(),
            operation: Operation::Wait,
            client_request_token: request_token(&job.id),
            started: now_epoch(),
            change_set: None,
            resources: None,
        });
        let until = budget.map(|b| tokio::time::Instant::now() + b);
        let work = self.steps(&job, &params, flight, until);
        let outcome = match budget {
            None => work.await?,
            Some(budget) => match tokio::time::timeout(budget, work).await {
                Ok(outcome) => outcome?,
                Err(_) => {
                    warn!(stack = %params.stack, "invocation deadline near: handing back a continuation");
                    Outcome::InProgress {
                        percent: None,
                        flight: resume,
                        summary: "paused before the invocation's time limit; continuing".into(),
                    }
                }
            },
        };
        outcome.into()
    }

    /// One step of the job, then more polls while the settings and the budget allow.
    async fn steps(
        &self,
        job: &Job,
        params: &Params,
        flight: Option<InFlight>,
        until: Option<tokio::time::Instant>,
    ) -> Result<Outcome, JobError> {
        let outcome = match flight {
            None => {
                info!(stack = %params.stack, "starting deploy");
                self.start(job, params, request_token(&job.id)).await?
            }
            Some(flight) => self.follow(job, params, flight).await?,
        };
        let stop_polling = tokio::time::Instant::now() + self.settings.poll_within;
        let outcome = self
            .poll_more(job, params, outcome, stop_polling, until)
            .await?;
        let deployed = matches!(
            params.action,
            Action::Deploy { .. } | Action::ChangeSetExecute { .. }
        );
        if let (Outcome::Succeeded { outputs, .. }, Some(name), true) =
            (&outcome, &params.output_file_name, deployed)
        {
            self.write_outputs(job, name, outputs).await?;
        }
        Ok(outcome)
    }

    /// Polls a running operation again while the settings and the budget allow.
    async fn poll_more(
        &self,
        job: &Job,
        params: &Params,
        mut outcome: Outcome,
        stop_polling: tokio::time::Instant,
        until: Option<tokio::time::Instant>,
    ) -> Result<Outcome, JobError> {
        while let Outcome::InProgress { flight, .. } = &outcome {
            let next = tokio::time::Instant::now() + self.settings.poll_interval;
            // A poll takes a moment too: leave it the length of one interval.
            let too_late = next > stop_polling
                || until.is_some_and(|u| next + self.settings.poll_interval > u);
            if too_late {
                break;
            }
            tokio::time::sleep_until(next).await;
            let flight = flight.clone();
            outcome = self.follow(job, params, flight).await?;
        }
        Ok(outcome)
    }

    async fn follow(
        &self,
        job: &Job,
        params: &Params,
        flight: InFlight,
    ) -> Result<Outcome, JobError> {
        match flight.operation {
            Operation::Wait => {
                if let Some(still_busy) = self.deployer.wait(&flight).await? {
                    return Ok(still_busy);
                }
                info!(stack = %params.stack, "stack free: starting what waited");
                self.start(job, params, flight.client_request_token).await
            }
            Operation::Delete => Ok(match self.deployer.poll_delete(&flight).await? {
                Some(outcome) => outcome,
                None => {
                    info!(stack = %params.stack, "stack deleted");
                    Outcome::Succeeded {
                        stack_id: flight.stack_id,
                        summary: format!("Stack `{}` is deleted", params.stack),
                        outputs: BTreeMap::new(),
                    }
                }
            }),
            Operation::Replace => match self.deployer.poll_delete(&flight).await? {
                Some(outcome) => Ok(outcome),
                None => {
                    info!(stack = %params.stack, "failed stack deleted: creating it again");
                    self.start(job, params, flight.client_request_token).await
                }
            },
            Operation::ChangeSet => Ok(self.deployer.poll_change_set(&flight).await?),
            Operation::Create | Operation::Update => Ok(self.deployer.poll(&flight).await?),
        }
    }

    async fn start(
        &self,
        job: &Job,
        params: &Params,
        client_request_token: String,
    ) -> Result<Outcome, JobError> {
        let (template, mode) = match &params.action {
            Action::Delete => {
                let outcome = self
                    .deployer
                    .delete(
                        &params.stack,
                        &client_request_token,
                        params.role_arn.as_deref(),
                    )
                    .await?;
                return Ok(outcome);
            }
            Action::ChangeSetExecute { change_set } => {
                let outcome = self
                    .deployer
                    .execute_change_set(&params.stack, change_set, &client_request_token)
                    .await?;
                return Ok(outcome);
            }
            Action::Deploy { template, mode } => (template, *mode),
            Action::ChangeSetReplace { template, .. } => (template, Mode::CreateUpdate),
        };
        let body = self.read_template(job, template).await?;
        let resources = crate::deploy::resource_count(&body);
        let template = if body.len() > MAX_TEMPLATE_BODY {
            Template::Url(self.stage_template(job, template, body).await?)
        } else {
            Template::Body(body)
        };
        let resolved = self.resolve(job, params).await?;
        let request = DeployRequest {
            stack_name: params.stack.clone(),
            template,
            client_request_token,
            parameters: resolved.parameters,
            capabilities: params.capabilities.clone(),
            role_arn: params.role_arn.clone(),
            tags: resolved.tags,
            stack_policy: resolved.stack_policy,
            resources,
            mode,
        };
        Ok(match &params.action {
            Action::ChangeSetReplace { change_set, .. } => {
                self.deployer
                    .create_change_set(&request, change_set)
                    .await?
            }
            _ => self.deployer.start(&request).await?,
        })
    }

    /// The input artifact named `name`, with its location.
    fn input<'j>(
        &self,
        job: &'j Job,
        name: &str,
    ) -> Result<(&'j Artifact, &'j Location), JobError> {
        let Some(input) = job.input_artifacts.iter().find(|a| a.name == name) else {
            let names: Vec<String> = job
                .input_artifacts
                .iter()
                .map(|a| format!("`{}`", a.name))
                .collect();
            return Err(JobError::NoSuchArtifact {
                name: name.to_owned(),
                present: if names.is_empty() {
                    "(none)".into()
                } else {
                    names.join(", ")
                },
            });
        };
        let location = input
            .location
            .as_ref()
            .ok_or_else(|| JobError::NoLocation(input.name.clone()))?;
        Ok((input, location))
    }

    /// Reads `file` from the input artifact `artifact`, at most [`MAX_TEMPLATE_FILE`] bytes.
    async fn read_input_file(
        &self,
        job: &Job,
        artifact: &str,
        file: &str,
    ) -> Result<Vec<u8>, JobError> {
        let (input, location) = self.input(job, artifact)?;
        let creds = job
            .credentials
            .as_ref()
            .ok_or_else(|| JobError::NoCredentials(input.name.clone()))?;
        let s3 = artifact_s3_client(&self.sdk, creds);
        let (bytes, stats) = artifact::read_file(&s3, location, file, MAX_TEMPLATE_FILE)
            .await
            .map_err(|source| JobError::Artifact {
                name: input.name.clone(),
                source,
            })?;
        info!(artifact = %input.name, %file, size = bytes.len(), gets = stats.gets, fetched = stats.bytes, "file read from artifact");
        Ok(bytes)
    }

    async fn read_template(&self, job: &Job, wanted: &TemplatePath) -> Result<String, JobError> {
        let bytes = self
            .read_input_file(job, &wanted.artifact, &wanted.file)
            .await?;
        let text = String::from_utf8(bytes).map_err(|_| JobError::NotText {
            artifact: wanted.artifact.clone(),
            file: wanted.file.clone(),
        })?;
        Ok(text)
    }

    /// Writes a template too large for CloudFormation's inline limit next to its artifact,
    /// encrypted as the pipeline's artifacts are, and returns the URL CloudFormation reads.
    async fn stage_template(
        &self,
        job: &Job,
        wanted: &TemplatePath,
        body: String,
    ) -> Result<String, JobError> {
        let (input, artifact) = self.input(job, &wanted.artifact)?;
        let creds = job
            .credentials
            .as_ref()
            .ok_or_else(|| JobError::NoCredentials(input.name.clone()))?;
        // Named by the artifact: every delivery of the job writes the same object.
        let location = Location {
            bucket: artifact.bucket.clone(),
            key: format!("{}-template", artifact.key),
        };
        let what = format!("template `{}` (over {MAX_TEMPLATE_BODY} bytes, so it reaches CloudFormation through S3)", wanted.file);
        self.put_object(job, creds, &location, body.into_bytes(), what)
            .await?;
        let region = self
            .sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_else(|| "us-east-1".into());
        info!(%location, "template staged in S3 for CloudFormation");
        Ok(s3_url(&region, &location))
    }

    /// Writes `data` to `location` with the job's artifact credentials, encrypted as the
    /// pipeline's artifacts are: with its KMS key when the job names one, else SSE-S3.
    async fn put_object(
        &self,
        job: &Job,
        creds: &ArtifactCredentials,
        location: &Location,
        data: Vec<u8>,
        what: String,
    ) -> Result<(), JobError> {
        let s3 = artifact_s3_client(&self.sdk, creds);
        let put = s3
            .put_object()
            .bucket(&location.bucket)
            .key(&location.key)
            .body(data.into());
        let put = match &job.encryption_key {
            Some(key) => put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key),
            None => put.server_side_encryption(ServerSideEncryption::Aes256),
        };
        put.send().await.map(drop).map_err(|e| {
            let fault = crate::aws::AwsFault::of(&e);
            JobError::Upload {
                what,
                location: location.clone(),
                denied: matches!(fault.code.as_deref(), Some("AccessDenied" | "Forbidden")),
                message: fault.to_text(),
            }
        })
    }

    /// Writes the stack's outputs as JSON into the first output artifact, a zip holding the one
    /// file `name`.
    async fn write_outputs(
        &self,
        job: &Job,
        name: &str,
        outputs: &BTreeMap<String, String>,
    ) -> Result<(), JobError> {
        let artifact = job
            .output_artifacts
            .first()
            .ok_or_else(|| JobError::NoOutputArtifact(name.to_owned()))?;
        let location = artifact
            .location
            .as_ref()
            .ok_or_else(|| JobError::NoLocation(artifact.name.clone()))?;
        let creds = job
            .credentials
            .as_ref()
            .ok_or_else(|| JobError::NoCredentials(artifact.name.clone()))?;
        let json = serde_json::to_vec_pretty(outputs).unwrap_or_default();
        let zipped = zip_one(name, &json).map_err(|e| JobError::Upload {
            what: format!("output file `{name}`"),
            location: location.clone(),
            message: format!("zipping it failed: {e}"),
            denied: false,
        })?;
        let what = format!("output file `{name}` (output artifact `{}`)", artifact.name);
        self.put_object(job, creds, location, zipped, what).await?;
        info!(artifact = %artifact.name, file = %name, outputs = outputs.len(), "stack outputs written to the output artifact");
        Ok(())
    }

    /// A JSON file from an input artifact, read once per invocation however often it is named.
    async fn json_file(
        &self,
        job: &Job,
        artifact: &str,
        file: &str,
        read: &mut HashMap<(String, String), Value>,
    ) -> Result<Value, JobError> {
        let key = (artifact.to_owned(), file.to_owned());
        if let Some(doc) = read.get(&key) {
            return Ok(doc.clone());
        }
        let bytes = self.read_input_file(job, artifact, file).await?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| JobError::ConfigFile {
            artifact: artifact.to_owned(),
            file: file.to_owned(),
            problem: format!("is not valid JSON ({e})"),
        })?;
        read.insert(key, doc.clone());
        Ok(doc)
    }

    /// The parameters, tags and stack policy of a deploy: the template configuration file's,
    /// with `ParameterOverrides` and `Tags` winning over it, and every parameter function read.
    async fn resolve(&self, job: &Job, params: &Params) -> Result<Resolved, JobError> {
        let mut read = HashMap::new();
        let mut resolved = Resolved::default();
        if let Some(config) = &params.template_configuration {
            let doc = self
                .json_file(job, &config.artifact, &config.file, &mut read)
                .await?;
            let problem = |problem: String| JobError::ConfigFile {
                artifact: config.artifact.clone(),
                file: config.file.clone(),
                problem,
            };
            let Value::Object(doc) = doc else {
                return Err(problem(
                    "must hold a JSON object with Parameters, Tags and StackPolicy".into(),
                ));
            };
            for (key, value) in doc {
                match key.as_str() {
                    "Parameters" => resolved.parameters.extend(text_map(value).map_err(|p| problem(format!("`Parameters` {p}")))?),
                    "Tags" => resolved.tags.extend(text_map(value).map_err(|p| problem(format!("`Tags` {p}")))?),
                    "StackPolicy" => resolved.stack_policy = Some(value.to_string()),
                    other => return Err(problem(format!("has unknown key `{other}`; the known keys are Parameters, Tags, StackPolicy"))),
                }
            }
        }
        for (name, value) in &params.parameter_overrides {
            let text = match value {
                ParamValue::Literal(text) => text.clone(),
                ParamValue::GetParam {
                    artifact,
                    file,
                    key,
                } => {
                    let doc = self.json_file(job, artifact, file, &mut read).await?;
                    match doc.get(key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                        _ => {
                            return Err(JobError::ConfigFile {
                                artifact: artifact.clone(),
                                file: file.clone(),
                                problem: format!("has no text value at key `{key}`, which ParameterOverrides `{name}` reads with Fn::GetParam"),
                            })
                        }
                    }
                }
                ParamValue::ArtifactAtt {
                    artifact,
                    attribute,
                } => {
                    let (_, location) = self.input(job, artifact)?;
                    match attribute {
                        ArtifactAttribute::BucketName => location.bucket.clone(),
                        ArtifactAttribute::ObjectKey => location.key.clone(),
                        ArtifactAttribute::Url => format!(
                            "https://{}.s3.amazonaws.com/{}",
                            location.bucket, location.key
                        ),
                    }
                }
            };
            resolved.parameters.insert(name.clone(), text);
        }
        resolved.tags.extend(params.tags.clone());
        Ok(resolved)
    }
}

/// A zip archive holding one file.
fn zip_one(name: &str, data: &[u8]) -> Result<Vec<u8>, zip::result::ZipError> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())?;
    w.write_all(data)?;
    Ok(w.finish()?.into_inner())
}

/// The virtual-hosted-style URL of an object, as CloudFormation's `TemplateURL` takes it.
pub fn s3_url(region: &str, location: &Location) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let key: String = location
        .key
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("https://{}.s3.{region}.{domain}/{key}", location.bucket)
}

/// The settings of a deploy once every file and function is read.
#[derive(Debug, Default)]
struct Resolved {
    parameters: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    stack_policy: Option<String>,
}

/// An object of text values (numbers and booleans taken as text), or what is wrong with it.
fn text_map(value: Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(map) = value else {
        return Err("must be an object of names to values".into());
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            v @ (Value::Number(_) | Value::Bool(_)) => Ok((k, v.to_string())),
            _ => Err(format!("`{k}` must be text")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_urls_are_virtual_hosted_and_encoded() {
        let at = |key: &str| Location {
            bucket: "pipeline-bucket".into(),
            key: key.into(),
        };
        assert_eq!(
            s3_url("eu-west-1", &at("orders/BuildOutpu/Ab1-template")),
            "https://pipeline-bucket.s3.eu-west-1.amazonaws.com/orders/BuildOutpu/Ab1-template"
        );
        assert_eq!(
            s3_url("cn-north-1", &at("a b+c")),
            "https://pipeline-bucket.s3.cn-north-1.amazonaws.com.cn/a%20b%2Bc"
        );
    }

    #[test]
    fn budgets_keep_time_to_report() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |secs: u64| Some(now + Duration::from_secs(secs));
        assert_eq!(work_budget(at(120), now), Some(Duration::from_secs(115)));
        assert_eq!(work_budget(at(30), now), Some(Duration::from_secs(27)));
        assert_eq!(work_budget(at(3), now), Some(Duration::from_secs(2)));
        // Past or absent deadlines are unknown, not "no time left".
        assert_eq!(work_budget(Some(SystemTime::UNIX_EPOCH), now), None);
        assert_eq!(work_budget(None, now), None);
    }

    #[test]
    fn request_tokens_fit_cloudformation() {
        let t = request_token("11111111-abcd-1111-abcd-111111abcdef");
        assert_eq!(t, "cfn-deployer-11111111-abcd-1111-abcd-111111abcdef");
        let long = request_token(&"x/".repeat(300));
        assert!(long.len() <= 128);
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
